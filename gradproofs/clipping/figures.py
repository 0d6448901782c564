"""Clipping's figure: SGD on Pascanu et al.'s cliff, unclipped and clipped.

Each figure function draws one PNG file of ``gradproofs report`` into the path it is given, as the
family's declaration names it; matplotlib is imported when one draws (:mod:`gradproofs.plotting`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradproofs import plotting
from gradproofs.clipping.tamed import NORM_THRESHOLD, SCENARIO, step_bound, train
from gradproofs.rnn import cliff


def tamed_figure(path: Path) -> None:
    """Draw clipping-tames-the-cliff.png. Five SGD steps (η = 0.1) on θ = (w, b) of the same unit from b*, three ways
    (``tamed.train``): unclipped, value-clipped at 15 and norm-clipped at τ = 1.
    Step sizes ‖Δθ‖₂ (log scale) with the bounds ητ and η·15·√2 dashed, and
    E_50 before each step: the unclipped step of ≈ 78 throws θ onto a flat
    plateau where learning stops; the norm-clipped run keeps descending.
    """
    plt = plotting.pyplot()
    runs = {"unclipped": train(cliff.unstable_bias(), **SCENARIO),
            f"value-clipped at {cliff.VALUE_THRESHOLD:g}": train(
                cliff.unstable_bias(), clip="value", threshold=cliff.VALUE_THRESHOLD, **SCENARIO),
            f"norm-clipped at τ = {NORM_THRESHOLD:g}": train(
                cliff.unstable_bias(), clip="norm", threshold=NORM_THRESHOLD, **SCENARIO)}
    fig, (sizes, losses) = plt.subplots(1, 2, figsize=(10, 4.2))
    steps = np.arange(1, SCENARIO["sgd_steps"] + 1)
    for colour, (label, run) in zip(("C3", "C1", "C0"), runs.items()):
        sizes.plot(steps, np.maximum(run.step_sizes, 1e-8), "o-", color=colour, label=label)
        losses.plot(steps, run.losses, "o-", color=colour, label=label)
    sizes.axhline(step_bound("norm", NORM_THRESHOLD, SCENARIO["lr"]), color="C0", linestyle="--", linewidth=1)
    sizes.axhline(step_bound("value", cliff.VALUE_THRESHOLD, SCENARIO["lr"]), color="C1", linestyle="--", linewidth=1)
    sizes.set_yscale("log")
    sizes.set_ylabel(r"step size $\|\Delta\theta\|_2$ (zero drawn at $10^{-8}$)")
    losses.set_ylabel(rf"$E_{{{cliff.T}}}$ before the step")
    for ax in (sizes, losses):
        ax.set_xlabel("SGD step")
        ax.grid(alpha=0.3)
    sizes.legend(fontsize=8)
    fig.suptitle(rf"The cliff tamed: SGD with $\eta = {SCENARIO['lr']}$ from $b^*$, with and without clipping")
    plotting.save(fig, path)
