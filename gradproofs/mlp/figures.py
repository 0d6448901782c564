"""The dense networks' figures: the speed of learning per layer, and one sample's error against depth.

Each figure function draws one PNG file of ``gradproofs report`` into the path it is given, as the
family's declaration names it; matplotlib is imported when one draws (:mod:`gradproofs.plotting`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradproofs import plotting
from gradproofs.activations import engine as activations
from gradproofs.mlp import engine as mlp
from gradproofs.mlp.initialisation import initialise, synthetic_images

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


def speed_of_learning(path: Path) -> None:
    """Draw mlp-speed-of-learning.png. Nielsen's "speed of learning" bars: ‖∂C/∂b^l‖ for layers l = 1..5 of a
    [784, 30, 30, 30, 30, 10] network on ``synthetic_images(1000)``, from
    ``mlp.backward(...).speed()``, in four panels: sigmoid with Nielsen's and
    with Glorot's initialisation (cross-entropy cost), relu hidden layers with
    He's initialisation and a softmax output (softmax cross-entropy cost), and an
    orthogonal linear network (identity activation, quadratic cost), whose bars
    are all equal (‖δW‖ = ‖δ‖ when W has orthonormal rows). Shared log scale.
    """
    plt = plotting.pyplot()
    x, y = synthetic_images(SPEED_BATCH, np.random.default_rng(plotting.SEED))
    layers = np.arange(1, len(SPEED_WIDTHS))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharey=True)
    for i, (ax, (title, activation, scheme, cost)) in enumerate(zip(axes.flat, SPEED_NETWORKS)):
        weights, biases = initialise(SPEED_WIDTHS, scheme, np.random.default_rng(plotting.SEED + 1 + i))
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
    plotting.save(fig, path)


def delta_norms_and_bounds():
    """(log10 ‖δ^l_x‖, log10 of its spectral bound), each of shape (L, batch), for the figure.

    Row l − 1 is layer l; column i is sample i. The bound for sample x is
    ‖δ^L_x‖·∏_(k>l) γ‖W^k‖₂, the empty product 1 at l = L.
    """
    rng = np.random.default_rng(plotting.SEED)
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


def delta_against_depth(path: Path) -> None:
    """Draw mlp-delta-vs-depth.png. Per-sample ‖δ^l_x‖ against layer l (log scale) for a sigmoid network of
    widths [30]*11 (10 layers) with Nielsen's initialisation, a batch of 100
    uniform inputs and targets and the quadratic cost: the range over the batch
    shaded, one sample drawn, and that sample's spectral bound
    ‖δ^l_x‖ ≤ ‖δ^L_x‖·∏_(k>l) γ‖W^k‖₂ dashed (γ = 1/4, derived by SymPy). The
    largest ratio of ‖δ^l_x‖ to its own bound over every sample and layer is
    printed on the figure; it is at most 1.
    """
    plt = plotting.pyplot()
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
    plotting.save(fig, path)
