"""Hypothesis strategies of what clipping is given (:mod:`gradproofs.clipping.engine`).

:func:`gradient_lists` (arrays of assorted shapes, dtypes and magnitudes, their entries
:func:`mantissas` times a scale, optionally with None, non-finite, subnormal and negative-zero
entries), :func:`thresholds` and :func:`norm_types`;
:mod:`gradproofs.strategies` offers them with every family's strategies.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradproofs.drawing import positive_int, positive_number, require

__all__ = ["GRADIENT_DTYPES", "mantissas", "gradient_lists", "thresholds", "norm_types"]


GRADIENT_DTYPES = ("float16", "float32", "float64")


def _magnitude(name: str, value) -> float:
    return positive_number(name, value)


@st.composite
def _gradient_arrays(draw, dtype, exponents, mantissas, min_dims, max_dims, min_side, max_side, allow_empty,
                     allow_nonfinite):
    # With allow_empty, one step below min_side stands for 0, so that a side shrinks to 0.
    side = st.integers(min_side - allow_empty, max_side).map(lambda n: n if n >= min_side else 0)
    shape = tuple(draw(st.lists(side, min_size=min_dims, max_size=max_dims), label="shape"))
    exponent = draw(exponents, label="log10 of the magnitude")
    drawn = draw(hnp.arrays(np.float64, shape, elements=mantissas), label="mantissas")
    with np.errstate(over="ignore", under="ignore"):
        array = np.asarray(drawn * 10.0 ** exponent).astype(dtype)
    if allow_nonfinite and array.size and draw(st.integers(0, 7), label="plant a non-finite entry unless") == 0:
        index = draw(st.integers(0, array.size - 1), label="its index")
        array.flat[index] = draw(st.sampled_from([np.inf, -np.inf, np.nan]), label="its value")
    return array


def mantissas(allow_negative_zero: bool = False):
    """0 (or −0) or a magnitude in [0.1, 1], either sign: an array's entries span one decade below its scale."""
    zeros = st.sampled_from([0.0, -0.0]) if allow_negative_zero else st.just(0.0)
    return st.one_of(zeros, st.floats(0.1, 1.0), st.floats(-1.0, -0.1))


def _log_range(dtype: str, min_magnitude: float, max_magnitude: float, allow_subnormal: bool = False):
    """log10 of the scales drawn for ``dtype``: entries (a tenth of the scale up to it) stay within
    the requested magnitudes and the dtype's normal numbers (or, with ``allow_subnormal``, reach down
    into its subnormal ones, where the smallest round to 0)."""
    info = np.finfo(dtype)
    smallest = float(info.smallest_subnormal) if allow_subnormal else 10 * float(info.tiny)
    low = max(math.log10(min_magnitude) + 1, math.log10(smallest))
    high = min(math.log10(max_magnitude), math.log10(float(info.max)) - 0.01)
    return st.floats(min(low, high), high)


def gradient_lists(*, min_arrays: int = 1, max_arrays: int = 8, dtypes=GRADIENT_DTYPES,
                   mixed_dtypes: bool = True, min_magnitude: float = 1e-30, max_magnitude: float = 1e30,
                   min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4,
                   allow_empty: bool = False,
                   allow_none: bool = False, allow_nonfinite: bool = False, allow_subnormal: bool = False,
                   allow_negative_zero: bool = False) -> st.SearchStrategy[list]:
    """Lists of ``min_arrays`` to ``max_arrays`` gradient arrays of assorted shapes and magnitudes.

    Each array has ``min_dims`` to ``max_dims`` dimensions of ``min_side`` to ``max_side``
    entries (or 0, with ``allow_empty``), one of ``dtypes`` (one dtype for
    the whole list unless ``mixed_dtypes``), and entries 0 or ±m·10^e, m in
    [0.1, 1], with magnitudes between ``min_magnitude`` and ``max_magnitude``
    and within the dtype's normal range (float16 holds 6.1e-5 to 65504): each
    array has its own scale 10^e, so a list mixes arrays whose sizes differ by
    many orders of magnitude.
    ``allow_none`` puts None (a parameter without gradient) among them,
    ``allow_nonfinite`` plants an ∞, −∞ or NaN in about one array in eight,
    ``allow_subnormal`` lets the scales reach down into each dtype's subnormal
    numbers (still no smaller than ``min_magnitude``: pass a small one), and
    ``allow_negative_zero`` draws the zero entries as −0.0 as often as 0.0.
    """
    positive_int("min_arrays", min_arrays, 0)
    positive_int("max_arrays", max_arrays, max(min_arrays, 1))
    require(isinstance(dtypes, (tuple, list)) and dtypes and all(d in GRADIENT_DTYPES for d in dtypes),
            f"dtypes must be a non-empty sequence of {GRADIENT_DTYPES}, got {dtypes!r}")
    min_magnitude = _magnitude("min_magnitude", min_magnitude)
    max_magnitude = _magnitude("max_magnitude", max_magnitude)
    require(min_magnitude <= max_magnitude,
            f"min_magnitude={min_magnitude!r} must not exceed max_magnitude={max_magnitude!r}")
    positive_int("min_dims", min_dims, 0)
    positive_int("max_dims", max_dims, min_dims)
    positive_int("min_side", min_side)
    positive_int("max_side", max_side, min_side)
    entries = mantissas(bool(allow_negative_zero))
    arrays = {d: _gradient_arrays(np.dtype(d), _log_range(d, min_magnitude, max_magnitude, bool(allow_subnormal)),
                                  entries, min_dims, max_dims, min_side, max_side, bool(allow_empty),
                                  bool(allow_nonfinite))
              for d in dtypes}

    @st.composite
    def build(draw):
        count = draw(st.integers(min_arrays, max_arrays), label="number of arrays")
        single = draw(st.sampled_from(list(dtypes)), label="dtype")
        out = []
        for i in range(count):
            if allow_none and draw(st.integers(0, 4), label=f"grads[{i}] is None") == 0:
                out.append(None)
                continue
            dtype = draw(st.sampled_from(list(dtypes)), label=f"dtype of grads[{i}]") if mixed_dtypes else single
            out.append(draw(arrays[dtype], label=f"grads[{i}]"))
        return out

    return build()


@st.composite
def _thresholds(draw, min_value, max_value, allow_zero, allow_negative, allow_infinity, allow_negative_zero,
                allow_subnormal):
    kinds = (["positive"] + ["zero"] * allow_zero + ["negative"] * allow_negative + ["infinity"] * allow_infinity
             + ["negative zero"] * allow_negative_zero + ["subnormal"] * allow_subnormal)
    kind = draw(st.sampled_from(kinds), label="kind of threshold") if len(kinds) > 1 else "positive"
    if kind in ("zero", "negative zero"):
        return -0.0 if kind == "negative zero" else 0.0
    if kind == "infinity":
        return math.inf
    if kind == "subnormal":  # a number of that dtype: its nearest Python float would round to a normal one
        dtype = np.dtype(draw(st.sampled_from(GRADIENT_DTYPES), label="subnormal in"))
        info = np.finfo(dtype)
        least, most = float(info.smallest_subnormal), float(np.nextafter(info.tiny, dtype.type(0)))
        value = draw(st.one_of(st.sampled_from([least, most]), st.floats(least, most, width=8 * dtype.itemsize)),
                     label="the subnormal threshold")
        negative = allow_negative and draw(st.booleans(), label="negative")
        return -value if negative else value
    exponent = draw(st.floats(math.log10(min_value), math.log10(max_value)), label="log10 |threshold|")
    with np.errstate(over="ignore"):
        value = min(max(float(np.float64(10.0) ** exponent), min_value), max_value)
    return -value if kind == "negative" else value


def thresholds(*, min_value: float = 1e-6, max_value: float = 1e6, allow_zero: bool = False,
               allow_negative: bool = False, allow_infinity: bool = False, allow_negative_zero: bool = False,
               allow_subnormal: bool = False) -> st.SearchStrategy[float]:
    """Clipping thresholds: log-uniform in [min_value, max_value], optionally 0, negative or +∞.

    ``allow_negative_zero`` adds −0.0; ``allow_subnormal`` adds numbers below
    ``min_value`` that are subnormal in float16, float32 or float64 (either
    sign with ``allow_negative``), the smallest and the largest of each among them.
    """
    min_value = positive_number("min_value", min_value)
    max_value = positive_number("max_value", max_value)
    require(min_value <= max_value, f"min_value={min_value!r} must not exceed max_value={max_value!r}")
    return _thresholds(min_value, max_value, bool(allow_zero), bool(allow_negative), bool(allow_infinity),
                       bool(allow_negative_zero), bool(allow_subnormal))


def norm_types(*, allow_zero: bool = False, allow_negative: bool = False,
               allow_infinity: bool = True) -> st.SearchStrategy[float]:
    """p for a p-norm: 1, 2, 3, 0.5 and any p in [0.25, 8]; optionally 0, negative p and ±∞ (torch's norms)."""
    options = [st.sampled_from([2.0, 1.0, 3.0, 0.5]), st.floats(0.25, 8.0)]
    if allow_infinity:
        options.append(st.just(math.inf))
    if allow_zero:
        options.append(st.just(0.0))
    if allow_negative:
        options.append(st.one_of(st.sampled_from([-1.0, -2.0]), st.floats(-8.0, -0.25)))
        if allow_infinity:
            options.append(st.just(-math.inf))
    return st.one_of(options)
