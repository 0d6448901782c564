"""Comparing an engine's numbers with exact ones, and saying what differs.

A failure names the worst entry, both values, its absolute and scaled error,
and the tolerance with the reason it has that size: never a whole array dump.
"""

from __future__ import annotations

import numpy as np

from gradproofs.errors import Mismatch


def to_numpy(values) -> np.ndarray:
    """float64 NumPy copy of a list, array, mpmath list or torch tensor."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    return np.array([float(v) for v in np.ravel(np.asarray(values, dtype=object))],
                    dtype=np.float64).reshape(np.shape(values))


def norm(vector, axis=None) -> np.ndarray:
    """Euclidean norm without the underflow or overflow of squaring: scaled by max |v_i| first."""
    vector = np.asarray(vector, dtype=np.float64)
    scale = np.max(np.abs(vector), axis=axis, keepdims=True)
    safe = np.where(scale > 0, scale, 1.0)
    result = np.linalg.norm(vector / safe, axis=axis, keepdims=True) * safe
    return result.squeeze() if axis is None else np.squeeze(result, axis=axis)


def unit_roundoff(values) -> float:
    """eps of the floating dtype ``values`` were computed in (float64 for lists)."""
    dtype = getattr(values, "dtype", None)
    name = str(dtype).replace("torch.", "") if dtype is not None else "float64"
    return float(np.finfo(name).eps) if name in ("float16", "float32", "float64") else float(
        np.finfo(np.float64).eps)


def underflow_floor(eps: float) -> float:
    """Scales below this are at the edge of the dtype's normal range: not compared.

    The exponent range is that of the narrowest IEEE type at least as coarse as
    ``eps`` (float32's for TF32 and bfloat16-like arithmetic).
    """
    if eps <= np.finfo(np.float64).eps:
        kind = np.float64
    elif eps < np.finfo(np.float16).eps:
        kind = np.float32
    else:
        kind = np.float16
    return float(np.finfo(kind).tiny) / eps * 1e3


def assert_close(name: str, got, expected, scale, tolerance, *, reason: str,
                 eps: float | None = None) -> float:
    """max_i |got_i − expected_i| / scale_i, asserted ≤ ``tolerance`` (a number or one per entry).

    Entries whose scale is below :func:`underflow_floor` (the gradient itself
    underflows the dtype) are not compared. Returns the worst scaled error.
    """
    got_np = to_numpy(got).ravel()
    expected_np = to_numpy(expected).ravel()
    scale_np = to_numpy(scale).ravel()
    if got_np.shape != expected_np.shape:
        raise Mismatch(f"{name}: got {got_np.size} values, expected {expected_np.size}")
    eps = unit_roundoff(got) if eps is None else eps
    compared = scale_np > underflow_floor(eps)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.where(compared, np.abs(got_np - expected_np) / np.where(compared, scale_np, 1), 0.0)
    error = np.where(np.isnan(got_np) & compared, np.inf, error)
    tolerance = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), error.shape)
    worst = int(np.argmax(error / tolerance)) if error.size else 0
    if error.size and not error[worst] <= tolerance[worst]:
        absolute = np.abs(got_np - expected_np)
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = absolute / np.abs(expected_np)
        raise Mismatch(
            f"{name}[{worst}]: got {got_np[worst]!r}, expected {expected_np[worst]!r}; "
            f"error {absolute[worst]:.3g} is {error[worst]:.3g} of the scale {scale_np[worst]:.3g}, "
            f"over the tolerance {tolerance[worst]:.3g} ({reason}). "
            f"Worst absolute error {np.nanmax(absolute):.3g} at index {int(np.nanargmax(absolute))}, "
            f"worst relative error {np.nanmax(np.where(compared, relative, 0)):.3g}."
        )
    return float(error[worst]) if error.size else 0.0
