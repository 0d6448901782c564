"""The recurrent networks' figures: the RNN's Jacobian norms against their bound, and Pascanu et al.'s cliff.

Each figure function draws one PNG file of ``gradproofs report`` into the path it is given, as the
family's declaration names it; matplotlib is imported when one draws (:mod:`gradproofs.plotting`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradproofs import plotting
from gradproofs.activations import engine as activations
from gradproofs.rnn import cliff, engine as rnn

JACOBIAN_SIZES = dict(H=16, I=4, T=60)
JACOBIAN_NORMS = (0.5, 0.9, 1.0, 1.1, 1.5)  # σ_max(W_h)
CLIFF_SPAN = 0.02  # the grid covers b* ± CLIFF_SPAN
CLIFF_MARKS = (0.0, 1e-4, 0.01)  # b − b* of the marked points


def jacobian_norms(activation: str):
    """(T − k for k = T..0, ‖∂h_T/∂h_k‖₂, (γ·σ_max)^(T−k), W_h's |λ|_max): the figure's data.

    The last three are dicts keyed by σ_max(W_h). One sequence (B = 1) of small
    random inputs, h_0 = 0, b = 0, and one fixed Gaussian W_h rescaled to each
    spectral norm in :data:`JACOBIAN_NORMS`.
    """
    H, I, T = (JACOBIAN_SIZES[key] for key in "HIT")
    rng = np.random.default_rng(plotting.SEED)
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


def jacobian_norms_figure(path: Path) -> None:
    """Draw rnn-jacobian-norms.png. ‖∂h_T/∂h_k‖₂ (the largest singular value, from ``rnn.jacobian``) against
    T − k, log scale, for an Elman RNN with H = 16, I = 4, T = 60, one sequence
    of small random inputs, and one fixed Gaussian W_h rescaled to spectral
    norms σ_max ∈ {0.5, 0.9, 1.0, 1.1, 1.5}; tanh and sigmoid panels. Dashed in
    the same colour, the bound (γ·σ_max)^(T−k) (γ = 1 for tanh, ¼ for sigmoid;
    Pascanu et al. 2013, §3.1). Each legend entry also gives W_h's spectral
    radius |λ|_max, which sets the rate the product of the factors actually
    decays at: well below the bound, so the curves vanish even where the bound
    grows.
    """
    plt = plotting.pyplot()
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
    plotting.save(fig, path)


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


def cliff_figure(path: Path) -> None:
    """Draw rnn-cliff.png. Pascanu et al.'s single-unit cliff (``cliff``: w = 5, x_0 = 0.5,
    T = 50, target 0.7): E_50 and ‖∇_(w,b) E_50‖ (log scale) against b − b*
    on a fine grid over b* ± 0.02, where b* = ``cliff.unstable_bias()`` makes
    x_0 the unstable fixed point. b*, b* + 10⁻⁴ and b* + 0.01 are marked with
    their gradient norms (≈ 779, 58.6 and 0.19, from ``cliff.gradient``); an
    inset zooms on the spike just below b*.
    """
    plt = plotting.pyplot()
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
    plotting.save(fig, path)
