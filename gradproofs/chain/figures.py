"""The chain's figures (Nielsen, *Neural Networks and Deep Learning*, ch. 5): the vanishing gradient and
the exploding window.

Each figure function draws one PNG file of ``gradproofs report`` into the path it is given, as the
family's declaration names it; matplotlib is imported when one draws (:mod:`gradproofs.plotting`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradproofs import plotting
from gradproofs.chain import engine as chain
from gradproofs.chain.theorems import window, window_width

MAX_DEPTH = 200
LN10 = np.log(10.0)


def vanishing(path: Path) -> None:
    """Draw chain-vanishing.png: |∂C/∂b₁| against depth L = 1..200, log scale, for sigmoid, tanh and relu
    chains with every w_j = 1, b_j = 0, x = 1, y = 0 (quadratic cost), from
    ``chain.log_abs_db`` (a sum of logs, so nothing underflows). The dashed
    line is the sigmoid bound 4^(−L)·|∂C/∂a_L| ("The vanishing gradient
    problem"): sigmoid falls like 4^(−L), tanh only polynomially, relu not at all.
    """
    plt = plotting.pyplot()
    depths = np.arange(1, MAX_DEPTH + 1)
    x, y = 1.0, 0.0
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for activation in ("sigmoid", "tanh", "relu"):
        log10_db = [chain.log_abs_db(np.ones(L), np.zeros(L), x, y, activation=activation,
                                     cost="quadratic")[0] / LN10 for L in depths]
        ax.plot(depths, log10_db, label=activation)
    # The depth-L chain is the first L layers of the deepest one: a_L = a[L − 1] there.
    a = chain.backward(np.ones(MAX_DEPTH), np.zeros(MAX_DEPTH), x, y).a
    bound = -depths * np.log10(4.0) + np.log10(np.abs(a - y))
    ax.plot(depths, bound, "k--", linewidth=1, label=r"sigmoid bound $4^{-L}\,|\partial C/\partial a_L|$")
    ax.set_title(r"Vanishing gradient: $w_j = 1,\ b_j = 0,\ x = 1,\ y = 0$, quadratic cost")
    ax.set_xlabel("depth $L$")
    ax.set_ylabel(r"$\log_{10}\,|\partial C/\partial b_1|$")
    ax.grid(alpha=0.3)
    ax.legend()
    plotting.save(fig, path)


def exploding_window(path: Path) -> None:
    """Draw chain-window.png. The width of the set of inputs a where |w·σ′(w a + b)| ≥ 1, against |w|,
    from ``gradproofs.chain.theorems.window_width``, with the maximum
    SymPy finds marked (the problem in "The exploding gradient problem").
    """
    plt = plotting.pyplot()
    _, _, peak_w, peak_width, _ = window()
    magnitudes = np.linspace(4.0, 40.0, 721)
    widths = [window_width(m) for m in magnitudes]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(magnitudes, widths)
    ax.plot([peak_w], [peak_width], "o", color="C3")
    ax.annotate(f"max ≈ {peak_width:.4f} at |w| ≈ {peak_w:.3f}", (peak_w, peak_width),
                xytext=(12, -4), textcoords="offset points", va="top")
    ax.set_title(r"Exploding window: inputs $a$ with $|w\,\sigma'(wa + b)| \geq 1$")
    ax.set_xlabel("$|w|$")
    ax.set_ylabel("width of the window in $a$")
    ax.set_xlim(4, 40)
    ax.set_ylim(0, 0.5)
    ax.grid(alpha=0.3)
    plotting.save(fig, path)
