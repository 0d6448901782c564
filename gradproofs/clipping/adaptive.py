"""Adaptive gradient clipping (AGC): each unit's gradient held to a fraction of its weights' norm.

Brock, De, Smith and Simonyan, "High-Performance Large-Scale Image Recognition
Without Normalization" (ICML 2021), eq. (3): for each unit i of a parameter W
(row i of a weight, all of a bias or other array of at most one dimension), with
its gradient G_i,

    G_i ← λ · max(‖W_i‖, ε) / ‖G_i‖ · G_i   if ‖G_i‖ / max(‖W_i‖, ε) > λ,   else G_i,

‖·‖ the Frobenius norm over every axis but the first. timm's
``adaptive_clip_grad(parameters, clip_factor=0.01, eps=1e-3)`` keeps G_i where
‖G_i‖ < λ·max(‖W_i‖, ε) and otherwise multiplies by that bound over
max(‖G_i‖, 10⁻⁶): the same map wherever ‖G_i‖ ≥ 10⁻⁶, continuous across the
threshold. :func:`agc_exact` is that rule on exact unit norms (mpmath);
:func:`agc_tolerance` bounds how far a correct float computation may lie from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradproofs import _validate
from gradproofs.clipping.engine import norm_tolerance, scaled_norm, subnormal_rounding
from gradproofs.errors import InvalidArgument
from gradproofs.formats import format_of

__all__ = ["NORM_FLOOR", "CLIP_FACTOR", "EPS", "unit_norms", "AGC", "agc_exact", "agc_tolerance"]

NORM_FLOOR = 1e-6  # timm's grad_norm.clamp(min=1e-6)
CLIP_FACTOR, EPS = 0.01, 1e-3  # timm's defaults for λ and ε
DIGITS = 40  # mpmath's working precision: far beyond float64's 16 digits, and a square root is not exact


def _floats(name: str, value) -> np.ndarray:
    """A finite floating array."""
    array = np.asarray(value)
    if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
        raise InvalidArgument(f"{name} must be a finite floating array, got {array.dtype.name} "
                              f"{'with non-finite entries' if array.dtype.kind == 'f' else 'entries'}")
    return array


def _units(array: np.ndarray) -> list:
    """The units of an array: its rows (axis 0) for two dimensions or more, else the whole array."""
    return [array] if array.ndim <= 1 else list(array)


def unit_norms(array) -> list:
    """The Frobenius norm of each unit (:func:`_units`), as mpmath numbers of ``DIGITS`` digits."""
    import mpmath

    with mpmath.workdps(DIGITS):
        return [mpmath.sqrt(mpmath.fsum(mpmath.mpf(float(v)) ** 2 for v in np.ravel(unit)))
                for unit in _units(np.asarray(array))]


@dataclass(frozen=True)
class AGC:
    """One parameter's clipped gradient: ``exact`` (float64, the exact result rounded once), and
    ``other``, the same with every unit whose ‖G_i‖ lies within ``margin`` (relative) of its bound
    taken the other way: where ‖G_i‖ < 10⁻⁶ the two branches differ, and a correct float computation
    may take either."""

    exact: np.ndarray
    other: np.ndarray
    near: np.ndarray  # per unit: whether it lies that close to its bound


def agc_exact(parameter, grad, clip_factor: float = CLIP_FACTOR, eps: float = EPS, *, margin: float = 0.0) -> AGC:
    """The exact AGC of ``grad`` for ``parameter`` (Brock et al. 2021, eq. 3, with timm's floor 10⁻⁶)."""
    import mpmath

    parameter, grad = _floats("parameter", parameter), _floats("grad", grad)
    if parameter.shape != grad.shape:
        raise InvalidArgument(f"grad has shape {grad.shape}, its parameter {parameter.shape}: they must match")
    clip_factor = _validate.real_scalar("clip_factor", clip_factor)
    eps = _validate.real_scalar("eps", eps)
    if clip_factor <= 0 or eps < 0:
        raise InvalidArgument(f"clip_factor must be positive and eps non-negative, got {clip_factor!r} and {eps!r}")
    exact, other, near = [], [], []
    with mpmath.workdps(DIGITS):
        for w, g, unit in zip(unit_norms(parameter), unit_norms(grad), _units(grad)):
            bound = mpmath.mpf(clip_factor) * max(w, mpmath.mpf(eps))
            clipped = bound / max(g, mpmath.mpf(NORM_FLOOR))
            keep = g < bound
            close = abs(g - bound) <= margin * max(g, bound)
            kept = np.ravel(unit).tolist()
            scaled = [float(mpmath.mpf(v) * clipped) for v in kept]
            primary, alternative = (kept, scaled) if keep else (scaled, kept)
            exact.append(primary)
            other.append(alternative if close else primary)
            near.append(bool(close))
    return AGC(np.array(exact).reshape(grad.shape), np.array(other).reshape(grad.shape), np.array(near, dtype=bool))


def agc_tolerance(parameter, grad, clip_factor: float = CLIP_FACTOR, eps: float = EPS) -> float:
    """How far (relative to each entry) a correct float computation of AGC may lie from the exact one.

    Each unit norm carries half of :func:`gradproofs.clipping.norm_tolerance` (one
    computation, in torch's convention: float16 squared in float32); G_i times the
    quotient of the bound λ·max(‖W_i‖, ε) by max(‖G_i‖, 10⁻⁶), as timm forms it, rounds
    ε, λ, 10⁻⁶, the bound, the quotient and the entry: 6 unit roundoffs u of the dtype,
    and where the bound or the quotient is subnormal in it, σ/(2x) more for each
    (:func:`gradproofs.clipping.engine.subnormal_rounding`: float16 holds timm's
    λ·ε = 10⁻⁵ only as a subnormal). Twice this first-order sum, the largest over the units.
    """
    parameter, grad = np.asarray(parameter), np.asarray(grad)
    u = format_of(grad.dtype).unit_roundoff
    worst = 0.0
    for w, g in zip(_units(parameter), _units(grad)):
        bound = clip_factor * max(scaled_norm([w], 2.0), eps)
        quotient = bound / max(scaled_norm([g], 2.0), NORM_FLOOR)
        worst = max(worst, (norm_tolerance([w]) + norm_tolerance([g])) / 2
                    + subnormal_rounding(bound, grad.dtype) + subnormal_rounding(quotient, grad.dtype))
    return 2 * (worst + 6 * u)
