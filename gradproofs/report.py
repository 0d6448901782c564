"""Figures for the chain (Nielsen, *Neural Networks and Deep Learning*, ch. 5).

chain-vanishing.png
    |∂C/∂b₁| against depth L = 1..200, log scale, for sigmoid, tanh and relu
    chains with every w_j = 1, b_j = 0, x = 1, y = 0 (quadratic cost), from
    ``chain.log_abs_db`` (a sum of logs, so nothing underflows). The dashed
    line is the sigmoid bound 4^(−L)·|∂C/∂a_L| ("The vanishing gradient
    problem"): sigmoid falls like 4^(−L), tanh only polynomially, relu not at all.
chain-window.png
    The width of the set of inputs a where |w·σ′(w a + b)| ≥ 1, against |w|,
    from ``theorems.chain.window_width``, with the maximum SymPy finds marked
    (the problem in "The exploding gradient problem").
dense-speed-of-learning.png
    Nielsen's "speed of learning" bars: ‖∂C/∂b^l‖ for layers l = 1..5 of a
    [784, 30, 30, 30, 30, 10] network on ``synthetic_images(1000)``, from
    ``mlp.backward(...).speed()``, in four panels: sigmoid with Nielsen's and
    with Glorot's initialisation (cross-entropy cost), relu hidden layers with
    He's initialisation and a softmax output (softmax cross-entropy cost), and an
    orthogonal linear network (identity activation, quadratic cost), whose bars
    are all equal (‖δW‖ = ‖δ‖ when W has orthonormal rows). Shared log scale.
dense-delta-vs-depth.png
    Per-sample ‖δ^l_x‖ against layer l (log scale) for a sigmoid network of
    widths [30]*11 (10 layers) with Nielsen's initialisation, a batch of 100
    uniform inputs and targets and the quadratic cost: the range over the batch
    shaded, one sample drawn, and that sample's spectral bound
    ‖δ^l_x‖ ≤ ‖δ^L_x‖·∏_(k>l) γ‖W^k‖₂ dashed (γ = 1/4, derived by SymPy). The
    largest ratio of ‖δ^l_x‖ to its own bound over every sample and layer is
    printed on the figure; it is at most 1.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from gradproofs import activations, chain, mlp  # noqa: E402
from gradproofs.initialisation import initialise, synthetic_images  # noqa: E402
from gradproofs.theorems.chain import window, window_width  # noqa: E402

MAX_DEPTH = 200
LN10 = np.log(10.0)
SEED = 5
SPEED_WIDTHS = [784, 30, 30, 30, 30, 10]
SPEED_BATCH = 1000
# (panel title, activation, initialisation, cost)
SPEED_NETWORKS = (
    ("sigmoid, Nielsen's initialisation\ncross-entropy cost", "sigmoid", "nielsen", "cross_entropy"),
    ("sigmoid, Glorot's initialisation\ncross-entropy cost", "sigmoid", "glorot", "cross_entropy"),
    ("relu hidden layers, softmax output, He's initialisation\nsoftmax cross-entropy cost",
     "relu", "he", "softmax_cross_entropy"),
    ("linear (identity), orthogonal initialisation\nquadratic cost", "identity", "orthogonal",
     "quadratic"),
)
DELTA_WIDTHS = [30] * 11
DELTA_BATCH = 100


def _vanishing(path: Path) -> None:
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _window_figure(path: Path) -> None:
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _speed_of_learning(path: Path) -> None:
    x, y = synthetic_images(SPEED_BATCH, np.random.default_rng(SEED))
    layers = np.arange(1, len(SPEED_WIDTHS))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharey=True)
    for i, (ax, (title, activation, scheme, cost)) in enumerate(zip(axes.flat, SPEED_NETWORKS)):
        weights, biases = initialise(SPEED_WIDTHS, scheme, np.random.default_rng(SEED + 1 + i))
        speed = mlp.backward(weights, biases, x, y, activation=activation, cost=cost).speed()
        bars = ax.bar(layers, speed, color=f"C{i}")
        ax.bar_label(bars, labels=[f"{s:.3g}" for s in speed], fontsize=8, padding=2)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(layers)
        ax.grid(axis="y", alpha=0.3)
        ax.text(0.03, 0.95, f"layer {layers[-1]} / layer 1 = {speed[-1] / speed[0]:.3g}",
                transform=ax.transAxes, va="top", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("layer $l$")
    for ax in axes[:, 0]:
        ax.set_ylabel(r"$\|\partial C/\partial b^l\|$")
    axes[0, 0].set_ylim(top=axes[0, 0].get_ylim()[1] * 10)  # room for the labels
    fig.suptitle(f"Speed of learning: {SPEED_WIDTHS}, {SPEED_BATCH} synthetic images")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def delta_norms_and_bounds():
    """(log10 ‖δ^l_x‖, log10 of its spectral bound), each of shape (L, batch), for the figure.

    Row l − 1 is layer l; column i is sample i. The bound for sample x is
    ‖δ^L_x‖·∏_(k>l) γ‖W^k‖₂, the empty product 1 at l = L.
    """
    rng = np.random.default_rng(SEED)
    weights, biases = initialise(DELTA_WIDTHS, "nielsen", rng)
    x = rng.random((DELTA_BATCH, DELTA_WIDTHS[0]))
    y = rng.random((DELTA_BATCH, DELTA_WIDTHS[-1]))
    grads = mlp.backward(weights, biases, x, y, activation="sigmoid", cost="quadratic")
    log_norms = np.log10([np.linalg.norm(d, axis=1) for d in grads.delta])  # delta[l]: layer l + 1
    gamma = float(activations.get("sigmoid").derivative_bound)
    # log10 γ‖W^k‖₂ for k = 2..L (W^k is weights[k − 1]), summed over k > l from the top down.
    gains = np.log10([gamma * np.linalg.norm(W_k, 2) for W_k in weights[1:]])
    log_gain = np.append(np.cumsum(gains[::-1])[::-1], 0.0)
    return log_norms, log_norms[-1] + log_gain[:, None]


def _delta_against_depth(path: Path) -> None:
    log_norms, log_bound = delta_norms_and_bounds()
    depth = log_norms.shape[0]
    layers = np.arange(1, depth + 1)
    worst = float(np.max(log_norms[:-1] - log_bound[:-1]))
    sample = 0
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.fill_between(layers, 10 ** log_norms.min(axis=1), 10 ** log_norms.max(axis=1), alpha=0.2,
                    color="C0", label=f"range over the batch of {DELTA_BATCH}")
    ax.plot(layers, 10 ** log_norms[:, sample], "o-", color="C0", label=r"one sample's $\|\delta^l\|$")
    ax.plot(layers, 10 ** log_bound[:, sample], "k--", linewidth=1,
            label=r"its bound $\|\delta^L\|\,\prod_{k>l} \gamma\,\|W^k\|_2$, $\gamma = 1/4$")
    ax.set_yscale("log")
    ax.set_xticks(layers)
    ax.text(0.98, 0.04, "largest $\\|\\delta^l\\|$ / its bound over the batch\n"
            f"and layers $l < L$: {10 ** worst:.3g} (at most 1)",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=9)
    ax.set_title(f"Per-sample error against depth: sigmoid {DELTA_WIDTHS[0]}-wide, "
                 f"$L = {depth}$, Nielsen's init", fontsize=11)
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"$\|\delta^l\|$ (one sample, quadratic cost)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


FIGURES = {
    "chain-vanishing.png": _vanishing,
    "chain-window.png": _window_figure,
    "dense-speed-of-learning.png": _speed_of_learning,
    "dense-delta-vs-depth.png": _delta_against_depth,
}


def write(out: Path) -> list[Path]:
    """Draw every figure into ``out`` (created if needed); return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in FIGURES.items():
        paths.append(out / name)
        draw(paths[-1])
    return paths
