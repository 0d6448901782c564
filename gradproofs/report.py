"""The figures ``gradproofs report`` draws, one PNG file each, from the families' engines.

``chain.``, ``mlp.``, ``rnn.``, ``cliff.`` and ``lm.`` below are the engines of
:mod:`gradproofs.families` (``chain`` is ``gradproofs.chain.engine``,
``cliff`` is ``gradproofs.rnn.cliff``, …). The chain's figures follow
Nielsen, *Neural Networks and Deep Learning*, ch. 5; the dense networks' keep
the family's former name, ``dense``, in their file names.

chain-vanishing.png
    |∂C/∂b₁| against depth L = 1..200, log scale, for sigmoid, tanh and relu
    chains with every w_j = 1, b_j = 0, x = 1, y = 0 (quadratic cost), from
    ``chain.log_abs_db`` (a sum of logs, so nothing underflows). The dashed
    line is the sigmoid bound 4^(−L)·|∂C/∂a_L| ("The vanishing gradient
    problem"): sigmoid falls like 4^(−L), tanh only polynomially, relu not at all.
chain-window.png
    The width of the set of inputs a where |w·σ′(w a + b)| ≥ 1, against |w|,
    from ``gradproofs.chain.theorems.window_width``, with the maximum
    SymPy finds marked (the problem in "The exploding gradient problem").
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
rnn-jacobian-norms.png
    ‖∂h_T/∂h_k‖₂ (the largest singular value, from ``rnn.jacobian``) against
    T − k, log scale, for an Elman RNN with H = 16, I = 4, T = 60, one sequence
    of small random inputs, and one fixed Gaussian W_h rescaled to spectral
    norms σ_max ∈ {0.5, 0.9, 1.0, 1.1, 1.5}; tanh and sigmoid panels. Dashed in
    the same colour, the bound (γ·σ_max)^(T−k) (γ = 1 for tanh, ¼ for sigmoid;
    Pascanu et al. 2013, §3.1). Each legend entry also gives W_h's spectral
    radius |λ|_max, which sets the rate the product of the factors actually
    decays at: well below the bound, so the curves vanish even where the bound
    grows.
rnn-cliff.png
    Pascanu et al.'s single-unit cliff (``cliff``: w = 5, x_0 = 0.5,
    T = 50, target 0.7): E_50 and ‖∇_(w,b) E_50‖ (log scale) against b − b*
    on a fine grid over b* ± 0.02, where b* = ``cliff.unstable_bias()`` makes
    x_0 the unstable fixed point. b*, b* + 10⁻⁴ and b* + 0.01 are marked with
    their gradient norms (≈ 779, 58.6 and 0.19, from ``cliff.gradient``); an
    inset zooms on the spike just below b*.
clipping-tames-the-cliff.png
    Five SGD steps (η = 0.1) on θ = (w, b) of the same unit from b*, three ways
    (``cliff.train``): unclipped, value-clipped at 15 and norm-clipped at τ = 1.
    Step sizes ‖Δθ‖₂ (log scale) with the bounds ητ and η·15·√2 dashed, and
    E_50 before each step: the unclipped step of ≈ 78 throws θ onto a flat
    plateau where learning stops; the norm-clipped run keeps descending.
lm-training.png
    A character-level RNN language model (``lm``: H = 16, K = 21, windows of
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
lm-w999.png
    The toy network of Hung-yi Lee's lecture "Recurrent Neural Network
    (Part II)" (NTU): one linear unit with recurrent weight w, input 1 at the
    first of 1000 steps and 0 after, so y₁₀₀₀ = w⁹⁹⁹ and dy/dw = 999·w⁹⁹⁸, for
    w from 0.98 to 1.02 (log scale). w = 0.99, 1 and 1.01 are marked:
    y = 4.361e−5, 1 and 2.075e4, dy/dw = 0.0440, 999 and 2.053e7. A 2% change
    of w moves the value y by a factor of (101/99)⁹⁹⁹ ≈ 4.76e8 (printed on the
    figure) and the slope dy/dw by (101/99)⁹⁹⁸ ≈ 4.66e8.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from gradproofs.activations import engine as activations  # noqa: E402
from gradproofs.chain import engine as chain  # noqa: E402
from gradproofs.chain.theorems import window, window_width  # noqa: E402
from gradproofs.lm import training  # noqa: E402
from gradproofs.mlp import engine as mlp  # noqa: E402
from gradproofs.mlp.initialisation import initialise, synthetic_images  # noqa: E402
from gradproofs.rnn import cliff, engine as rnn  # noqa: E402

__all__ = [
    "MAX_DEPTH", "LN10", "SEED", "SPEED_WIDTHS", "SPEED_BATCH", "SPEED_NETWORKS", "DELTA_WIDTHS", "DELTA_BATCH",
    "JACOBIAN_SIZES", "JACOBIAN_NORMS", "CLIFF_SPAN", "CLIFF_MARKS", "W999_SPAN", "W999_MARKS",
    "delta_norms_and_bounds", "jacobian_norms", "cliff_curve", "lm_training_runs", "w999_curve", "FIGURES",
    "write"
]

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
JACOBIAN_SIZES = dict(H=16, I=4, T=60)
JACOBIAN_NORMS = (0.5, 0.9, 1.0, 1.1, 1.5)  # σ_max(W_h)
CLIFF_SPAN = 0.02  # the grid covers b* ± CLIFF_SPAN
CLIFF_MARKS = (0.0, 1e-4, 0.01)  # b − b* of the marked points
W999_SPAN = (0.98, 1.02)
W999_MARKS = (0.99, 1.0, 1.01)


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


def jacobian_norms(activation: str):
    """(T − k for k = T..0, ‖∂h_T/∂h_k‖₂, (γ·σ_max)^(T−k), W_h's |λ|_max): the figure's data.

    The last three are dicts keyed by σ_max(W_h). One sequence (B = 1) of small
    random inputs, h_0 = 0, b = 0, and one fixed Gaussian W_h rescaled to each
    spectral norm in :data:`JACOBIAN_NORMS`.
    """
    H, I, T = (JACOBIAN_SIZES[key] for key in "HIT")
    rng = np.random.default_rng(SEED)
    W_h = rng.standard_normal((H, H))
    W_h /= np.linalg.norm(W_h, 2)
    W_x = rng.standard_normal((H, I)) / np.sqrt(I)
    x = 0.1 * rng.standard_normal((T, 1, I))
    h0, b = np.zeros((1, H)), np.zeros(H)
    gamma = float(activations.get(activation).derivative_bound)
    distances = np.arange(T + 1)
    norms, bounds, radii = {}, {}, {}
    for sigma in JACOBIAN_NORMS:
        norms[sigma] = np.array([np.linalg.norm(rnn.jacobian(x, h0, W_x, sigma * W_h, b, T, T - d,
                                                             activation=activation)[0], 2)
                                 for d in distances])
        bounds[sigma] = (gamma * sigma) ** distances.astype(float)
        radii[sigma] = float(np.max(np.abs(np.linalg.eigvals(sigma * W_h))))
    return distances, norms, bounds, radii


def _jacobian_figure(path: Path) -> None:
    H, I, T = (JACOBIAN_SIZES[key] for key in "HIT")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for ax, activation in zip(axes, ("tanh", "sigmoid")):
        distances, norms, bounds, radii = jacobian_norms(activation)
        for i, sigma in enumerate(JACOBIAN_NORMS):
            ax.plot(distances, norms[sigma], color=f"C{i}",
                    label=rf"$\sigma_{{\max}} = {sigma}$ ($|\lambda|_{{\max}} = {radii[sigma]:.2f}$)")
            ax.plot(distances, bounds[sigma], "--", color=f"C{i}", linewidth=1)
        gamma = "1" if activation == "tanh" else "1/4"
        ax.set_yscale("log")
        ax.set_title(rf"{activation}: dashed, the bound $(\gamma\,\sigma_{{\max}})^{{T-k}}$, "
                     rf"$\gamma = {gamma}$", fontsize=10)
        ax.set_xlabel("$T - k$")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel(r"$\|\partial h_T / \partial h_k\|_2$ (largest singular value)")
    fig.suptitle(f"RNN Jacobians: $H = {H}$, $I = {I}$, $T = {T}$, one random $W_h$ rescaled "
                 r"to each $\sigma_{\max}(W_h)$")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cliff_curve():
    """(b − b*, E_50, ‖∇_(w,b) E_50‖) on the figure's grid, and b* = ``cliff.unstable_bias()``.

    A uniform grid over b* ± :data:`CLIFF_SPAN`, refined where the spike is
    (b* − 3·10⁻⁴ to b* + 2·10⁻⁴), with the marked points included exactly.
    """
    centre = cliff.unstable_bias()
    offsets = np.unique(np.concatenate([np.linspace(-CLIFF_SPAN, CLIFF_SPAN, 4001),
                                        np.linspace(-3e-4, 2e-4, 2501), CLIFF_MARKS]))
    gradients = [cliff.gradient(centre + offset) for offset in offsets]
    return (offsets, np.array([g.error for g in gradients]), np.array([g.norm for g in gradients]),
            centre)


def _cliff_figure(path: Path) -> None:
    offsets, errors, norms, centre = cliff_curve()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6.5))
    top.plot(offsets, errors, color="C0")
    top.set_ylabel(rf"$E_{{{cliff.T}}} = (\sigma(x_{{{cliff.T}}}) - {cliff.TARGET})^2$")
    bottom.plot(offsets, norms, color="C3")
    bottom.set_yscale("log")
    bottom.set_ylabel(rf"$\|\nabla_{{(w,b)}} E_{{{cliff.T}}}\|$")
    bottom.set_xlabel(f"$b - b^*$, $b^* = {centre:.6f}$ (the unstable fixed point $x^* = x_0 = {cliff.X0}$)")
    inset = bottom.inset_axes([0.05, 0.42, 0.36, 0.52])  # over the flat left part
    zoom = np.abs(offsets + 5e-5) <= 2.5e-4
    inset.plot(offsets[zoom] * 1e4, norms[zoom], color="C3")
    inset.set_yscale("log")
    inset.set_xlabel(r"$(b - b^*) \times 10^4$", fontsize=8)
    inset.tick_params(labelsize=7)
    for offset, colour, place in zip(CLIFF_MARKS, ("k", "C2", "C1"), ((10, 2), (10, -10), (0, 10))):
        norm = cliff.gradient(centre + offset).norm
        label = "$b^*$" if offset == 0 else f"$b^* + {offset:g}$"
        for ax in (top, bottom):
            ax.axvline(offset, color=colour, linewidth=0.8, linestyle=":")
        bottom.plot([offset], [norm], "o", color=colour)
        bottom.annotate(f"{label}: {norm:.3g}", (offset, norm), xytext=place, textcoords="offset points",
                        ha="left" if place[0] else "center",
                        fontsize=9, color=colour)
        if abs(offset) * 1e4 <= 3:
            inset.plot([offset * 1e4], [norm], "o", color=colour, markersize=4)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.set_title(rf"Pascanu et al.'s cliff: $x_t = {cliff.W:g}\,\sigma(x_{{t-1}}) + b$, "
                  rf"$x_0 = {cliff.X0}$, $T = {cliff.T}$")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _tamed_figure(path: Path) -> None:
    from gradproofs.clipping.tamed import NORM_THRESHOLD, SCENARIO, step_bound

    runs = {"unclipped": cliff.train(cliff.unstable_bias(), **SCENARIO),
            f"value-clipped at {cliff.VALUE_THRESHOLD:g}": cliff.train(
                cliff.unstable_bias(), clip="value", threshold=cliff.VALUE_THRESHOLD, **SCENARIO),
            f"norm-clipped at τ = {NORM_THRESHOLD:g}": cliff.train(
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@cache
def lm_training_runs() -> dict:
    """The figure's three runs of :func:`gradproofs.training.train` with its defaults, keyed by clip."""
    return {clip: training.train(clip=clip) for clip in training.CLIPS}


def _lm_training_figure(path: Path) -> None:
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
    losses.set_title(f"A character-level RNN language model (H = {training.HIDDEN}, K = {len(training.VOCABULARY)}) by SGD, "
                     f"η = {training.LR}, with and without clipping", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def w999_curve():
    """(w, y = w⁹⁹⁹, dy/dw = 999·w⁹⁹⁸) on the figure's grid over :data:`W999_SPAN`, the marks included."""
    w = np.unique(np.concatenate([np.linspace(*W999_SPAN, 801), W999_MARKS]))
    return w, w ** 999, 999 * w ** 998


def _w999_figure(path: Path) -> None:
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


FIGURES = {
    "chain-vanishing.png": _vanishing,
    "chain-window.png": _window_figure,
    "dense-speed-of-learning.png": _speed_of_learning,
    "dense-delta-vs-depth.png": _delta_against_depth,
    "rnn-jacobian-norms.png": _jacobian_figure,
    "rnn-cliff.png": _cliff_figure,
    "clipping-tames-the-cliff.png": _tamed_figure,
    "lm-training.png": _lm_training_figure,
    "lm-w999.png": _w999_figure,
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
