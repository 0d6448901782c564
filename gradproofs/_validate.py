"""Argument checks shared by every engine, oracle and the command line.

Each check names the offending argument, runs before any work and raises
:class:`gradproofs.InvalidArgument` in one wording ("NAME must …", "unknown
NAME …"); the array checks return a read-only float64 view, so the caller's
data can never be modified.
"""

from __future__ import annotations

from collections.abc import Hashable
from numbers import Real

import numpy as np

from gradproofs.errors import InvalidArgument


def real_vector(name: str, value, *, like: tuple[str, int] | None = None) -> np.ndarray:
    """A finite, non-empty 1-D float64 view of ``value``; ``like`` (its name, its length): another
    vector's, whose length it must have."""
    array = _real_array(name, value)
    if array.ndim != 1:
        raise InvalidArgument(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise InvalidArgument(f"{name} must not be empty")
    if like is not None and array.size != like[1]:
        raise InvalidArgument(f"{name} must have the length of {like[0]} ({like[1]}), got {array.size}")
    _require_finite(name, array)
    return array


def real_array(name: str, value, *, ndim: int) -> np.ndarray:
    """A finite float64 view of ``value`` with ``ndim`` dimensions, none of them empty."""
    array = _real_array(name, value)
    if array.ndim != ndim:
        raise InvalidArgument(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if 0 in array.shape[1:] or (ndim == 1 and array.size == 0):
        raise InvalidArgument(f"{name} must not have an empty dimension, got shape {array.shape}")
    _require_finite(name, array)
    return array


def real_scalar(name: str, value) -> float:
    """A finite real number as a Python float."""
    array = _real_array(name, value, "be a real number")
    if array.ndim != 0:
        raise InvalidArgument(f"{name} must be a scalar, got shape {array.shape}")
    _require_finite(name, array)
    return float(array)


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise InvalidArgument(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def choice(name: str, value, options):
    """``value`` if it is one of ``options`` (listed in the refusal in their order)."""
    if not isinstance(value, Hashable) or value not in options:
        raise InvalidArgument(f"unknown {name} {value!r}; expected one of {list(options)}")
    return value


def flag(name: str, value) -> bool:
    """``value`` as a bool, if it is one (NumPy's included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgument(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _real_array(name: str, value, requirement: str = "hold real numbers") -> np.ndarray:
    """A read-only float64 view of ``value`` (a copy only where a conversion needs one).

    Read-only, so no engine can write into the caller's array by mistake.
    ``requirement`` completes "{name} must …" in the refusals.
    """
    if _is_torch_tensor(value):
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)):
        raise InvalidArgument(f"{name} must {requirement}, got {type(value).__name__}")
    array = np.asarray(value)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        if not (array.dtype == object and all(isinstance(v, Real) for v in array.flat)):
            raise InvalidArgument(f"{name} must {requirement}, got dtype {array.dtype}")
    array = np.asarray(array, dtype=np.float64).view()
    array.flags.writeable = False
    return array


def _require_finite(name: str, array: np.ndarray) -> None:
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        where = f" at index {tuple(int(i) for i in bad)}" if array.ndim else ""
        value = array[tuple(bad)] if array.ndim else array
        raise InvalidArgument(f"{name} must be finite, got {value}{where}")


def _is_torch_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")
