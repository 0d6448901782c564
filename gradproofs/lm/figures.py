"""The language model's figures: its training with and without clipping, and the toy y = w⁹⁹⁹.

Each figure function draws one PNG file of ``gradproofs report`` into the path it is given, as the
family's declaration names it; matplotlib is imported when one draws (:mod:`gradproofs.plotting`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from gradproofs import plotting
from gradproofs.lm import training

W999_SPAN = (0.98, 1.02)
W999_MARKS = (0.99, 1.0, 1.01)


@cache
def lm_training_runs() -> dict:
    """The figure's three runs of :func:`gradproofs.lm.train` with its defaults, keyed by clip."""
    return {clip: training.train(clip=clip) for clip in training.CLIPS}


def training_figure(path: Path) -> None:
    """Draw lm-training.png. A character-level RNN language model (``lm``: H = 16, K = 21, windows of
    T = 50 characters, B = 4 per step, E summed) trained by 300 SGD steps with
    η = 0.012 from the same θ_0 three ways (``training.train``): unclipped,
    value-clipped at 15 and norm-clipped at τ = 25. Top, the loss E on each
    step's batch, with the first loss (the untrained model's) dashed; a
    non-finite loss would be marked × at the top edge. Bottom, ‖∇E‖₂ before
    clipping (log scale) with τ dashed. Unclipped, the first step is already
    12.7 times lr·τ = 0.3 and at step 3 the loss passes the first; after that
    the path is chaotic (another CPU's rounding draws another one) and the loss
    is thrown about. Norm-clipped, the path is not chaotic: it stays below the
    first loss and ends under 10% of it. Value-clipped, each entry of a step is
    bounded but not its length, and the path turns chaotic too.
    """
    plt = plotting.pyplot()
    runs = lm_training_runs()
    labels = {None: "unclipped", "value": f"value-clipped at {training.VALUE_THRESHOLD:g}",
              "norm": f"norm-clipped at τ = {training.NORM_THRESHOLD:g}"}
    fig, (losses, norms) = plt.subplots(2, 1, sharex=True, figsize=(8, 6.5))
    first = runs[None].losses[0]
    for colour, (clip, run) in zip(("C3", "C1", "C0"), runs.items()):
        steps = np.arange(1, len(run.losses) + 1)
        losses.plot(steps, run.losses, color=colour, linewidth=1, label=labels[clip])
        norms.plot(steps, run.gradient_norms, color=colour, linewidth=0.8)
        bad = ~np.isfinite(run.losses)
        if bad.any():  # at the top edge: a non-finite loss has no height to draw
            losses.plot(steps[bad], np.full(bad.sum(), 0.97), "x", color=colour,
                        transform=losses.get_xaxis_transform(), label=f"{labels[clip]}: non-finite loss")
    losses.axhline(first, color="k", linestyle="--", linewidth=1,
                   label=f"the first loss, the untrained model's ({first:.0f})")
    norms.axhline(training.NORM_THRESHOLD, color="C0", linestyle="--", linewidth=1)
    norms.annotate(f"τ = {training.NORM_THRESHOLD:g}", (0.01, training.NORM_THRESHOLD), xycoords=("axes fraction", "data"),
                   xytext=(0, -3), textcoords="offset points", va="top", fontsize=9, color="C0")
    norms.set_yscale("log")
    losses.set_ylabel(f"$E$ on the step's batch ({training.BATCH} × {training.SEQ_LENGTH} characters)")
    norms.set_ylabel(r"$\|\nabla E\|_2$ before clipping")
    norms.set_xlabel("SGD step")
    for ax in (losses, norms):
        ax.grid(alpha=0.3)
    losses.legend(fontsize=8, loc="upper right")
    losses.set_title(f"A character-level RNN language model (H = {training.HIDDEN}, K = {len(training.VOCABULARY)}) "
                     f"by SGD, η = {training.LR}, with and without clipping", fontsize=11)
    plotting.save(fig, path)


def w999_curve():
    """(w, y = w⁹⁹⁹, dy/dw = 999·w⁹⁹⁸) on the figure's grid over :data:`W999_SPAN`, the marks included."""
    w = np.unique(np.concatenate([np.linspace(*W999_SPAN, 801), W999_MARKS]))
    return w, w ** 999, 999 * w ** 998


def w999_figure(path: Path) -> None:
    """Draw lm-w999.png. The toy network of Hung-yi Lee's lecture "Recurrent Neural Network
    (Part II)" (NTU): one linear unit with recurrent weight w, input 1 at the
    first of 1000 steps and 0 after, so y₁₀₀₀ = w⁹⁹⁹ and dy/dw = 999·w⁹⁹⁸, for
    w from 0.98 to 1.02 (log scale). w = 0.99, 1 and 1.01 are marked:
    y = 4.361e−5, 1 and 2.075e4, dy/dw = 0.0440, 999 and 2.053e7. A 2% change
    of w moves the value y by a factor of (101/99)⁹⁹⁹ ≈ 4.76e8 (printed on the
    figure) and the slope dy/dw by (101/99)⁹⁹⁸ ≈ 4.66e8.
    """
    plt = plotting.pyplot()
    w, y, slope = w999_curve()
    fig, ax = plt.subplots(figsize=(7, 4.8))
    ax.plot(w, y, color="C0", label=r"$y = w^{999}$")
    ax.plot(w, slope, color="C3", label=r"$dy/dw = 999\,w^{998}$")
    for mark, place in zip(W999_MARKS, ((-8, 0), (8, -4), (-8, 0))):
        at = w == mark
        for values, colour in ((y, "C0"), (slope, "C3")):
            ax.plot([mark], values[at], "o", color=colour)
            ax.annotate(f"{values[at][0]:.4g}", (mark, values[at][0]), xytext=place, textcoords="offset points",
                        ha="right" if place[0] < 0 else "left", va="center", fontsize=9, color=colour)
        ax.axvline(mark, color="k", linewidth=0.6, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlim(*W999_SPAN)
    ax.set_xlabel("recurrent weight $w$")
    ratio = y[w == W999_MARKS[-1]][0] / y[w == W999_MARKS[0]][0]
    exponent = int(np.floor(np.log10(ratio)))
    ax.text(0.98, 0.04, rf"$y(1.01)\,/\,y(0.99) = {ratio / 10 ** exponent:.3g} \times 10^{{{exponent}}}$",
            transform=ax.transAxes, ha="right", fontsize=10)
    ax.set_title("One linear unit, input 1 at the first of 1000 steps, 0 after: $y_{1000} = w^{999}$",
                 fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    plotting.save(fig, path)
