"""Public Hypothesis strategies for gradient checks.

In the style of ``hypothesis.extra.numpy``: plural nouns, options keyword-only,
every argument validated (``hypothesis.errors.InvalidArgument``).

>>> from hypothesis import given
>>> from gradproofs import strategies as gps
>>> @given(gps.chains(max_depth=16))
... def test_my_backprop(chain): ...
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from gradproofs.families.activations import costs, engine as activations


class Chain(NamedTuple):
    """A chain network's parameters and one example: weights, biases, input, target."""

    w: np.ndarray
    b: np.ndarray
    x: float
    y: float


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidArgument(message)


def _positive_number(name: str, value) -> float:
    _require(isinstance(value, (int, float)) and not isinstance(value, bool)
             and math.isfinite(value) and value > 0,
             f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def depths(*, min_depth: int = 1, max_depth: int = 64) -> st.SearchStrategy[int]:
    """Network depths L with min_depth ≤ L ≤ max_depth (depth 0 has no gradient)."""
    _require(isinstance(min_depth, int) and min_depth >= 1, f"min_depth must be an integer ≥ 1, got {min_depth!r}")
    _require(isinstance(max_depth, int) and max_depth >= min_depth,
             f"max_depth must be an integer ≥ min_depth={min_depth}, got {max_depth!r}")
    return st.integers(min_depth, max_depth)


def _reals(bound: float) -> st.SearchStrategy[float]:
    return st.floats(-bound, bound, allow_subnormal=False)


LARGE = 256  # arrays of more entries come from a generator Hypothesis seeds: its buffer holds a few thousand choices
SMALL_FAN_IN = 8  # matrices summing more terms than this have their entries scaled down by their fan-in


def _entries(draw, name, shape, bound, fan_in: int = 1, dense: bool = False):
    """An array of ``shape`` with entries in [−bound, bound], or for a matrix whose products sum
    ``fan_in`` > 8 terms in [−bound/fan_in, bound/fan_in], so that a product of it stays of size
    ``bound`` and large networks and long sequences stay as well-conditioned as small ones (their
    rounding bounds judgeable). Arrays of more than :data:`LARGE` entries are drawn from a NumPy
    generator whose seed Hypothesis draws: the counterexample is then reproduced by its blob.
    ``dense``: every entry drawn on its own, without the common fill value (often 0) Hypothesis
    otherwise gives most of an array, so that no block of columns is all zero."""
    if fan_in > SMALL_FAN_IN:
        bound = bound / fan_in
    if int(np.prod(shape)) <= LARGE:
        fill = st.nothing() if dense else None
        return draw(hnp.arrays(np.float64, shape, elements=_reals(bound), fill=fill), label=name)
    seed = draw(st.integers(0, 2 ** 32 - 1), label=f"{name} (seed of a large array)")
    return np.random.default_rng(seed).uniform(-bound, bound, shape)


def _token_ids(draw, name, shape, vocabulary: int):
    """Integer ids in [0, vocabulary), seeded for large arrays as :func:`_entries` is."""
    if int(np.prod(shape)) <= LARGE:
        return draw(hnp.arrays(np.int64, shape, elements=st.integers(0, vocabulary - 1)), label=name)
    seed = draw(st.integers(0, 2 ** 32 - 1), label=f"{name} (seed of a large array)")
    return np.random.default_rng(seed).integers(0, vocabulary, shape)


def _size(low: int, high: int, near_powers_of_two: bool):
    """A size in [low, high]; with ``near_powers_of_two`` one of 2^k − 1, 2^k, 2^k + 1 (or low, high),
    where tiled kernels have their boundaries."""
    if not near_powers_of_two:
        return st.integers(low, high)
    near = {n for k in range(1, 40) for n in (2 ** k - 1, 2 ** k, 2 ** k + 1) if low <= n <= high} | {low, high}
    return st.sampled_from(sorted(near))


@st.composite
def _chains(draw, depth_strategy, max_weight, max_bias, max_input, target):
    depth = draw(depth_strategy, label="depth")
    w = draw(hnp.arrays(np.float64, depth, elements=_reals(max_weight)), label="w")
    b = draw(hnp.arrays(np.float64, depth, elements=_reals(max_bias)), label="b")
    x = draw(_reals(max_input), label="x")
    y = draw(target, label="y")
    return Chain(w, b, x, y)


def chains(*, min_depth: int = 1, max_depth: int = 64, max_weight: float = 8.0,
           max_bias: float = 8.0, max_input: float = 4.0, cost: str = "quadratic",
           activation: str = "sigmoid") -> st.SearchStrategy[Chain]:
    """Chains (w, b, x, y) with |w_j| ≤ max_weight, |b_j| ≤ max_bias, |x| ≤ max_input.

    The target y lies in [0, 1] for the cross-entropy cost and in the range of
    the output activation otherwise ([−1, 1] for tanh, [0, max_input] for relu).
    """
    try:
        activations.get(activation)
        costs.get(cost, activation=activation)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None
    max_weight = _positive_number("max_weight", max_weight)
    max_bias = _positive_number("max_bias", max_bias)
    max_input = _positive_number("max_input", max_input)
    low = {"tanh": -1.0, "identity": -max_input}.get(activation, 0.0)
    high = {"relu": max_input, "identity": max_input}.get(activation, 1.0)
    return _chains(depths(min_depth=min_depth, max_depth=max_depth), max_weight,
                   max_bias, max_input, st.floats(low, high))


def _positive_int(name: str, value, minimum: int = 1) -> int:
    _require(isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
             f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return value


def network_widths(*, min_depth: int = 1, max_depth: int = 4, min_width: int = 1,
                   max_width: int = 8, near_powers_of_two: bool = False) -> st.SearchStrategy[list]:
    """Widths [n_0, …, n_L] with min_depth ≤ L ≤ max_depth and every n_l in [min_width, max_width]
    (``near_powers_of_two``: each one of 2^k − 1, 2^k, 2^k + 1, where tiled kernels break)."""
    _positive_int("min_width", min_width)
    _positive_int("max_width", max_width, min_width)
    width = _size(min_width, max_width, bool(near_powers_of_two))
    return depths(min_depth=min_depth, max_depth=max_depth).flatmap(
        lambda depth: st.lists(width, min_size=depth + 1, max_size=depth + 1))


@st.composite
def _matrices(draw, shape, spectral_norm, orthogonal, max_entry):
    entries = draw(hnp.arrays(np.float64, shape, elements=_reals(max_entry)), label="entries")
    if np.linalg.norm(entries, 2) < 1e-3 * max_entry:
        entries = np.zeros(shape)
        entries[0, 0] = max_entry  # the shrunk form of a degenerate draw
    if orthogonal:
        tall = entries if shape[0] >= shape[1] else entries.T
        q, r = np.linalg.qr(tall)
        signs = np.where(np.diag(r) < 0, -1.0, 1.0)
        q = q * signs
        entries = q if shape[0] >= shape[1] else q.T
    if spectral_norm is not None:
        entries = entries * (spectral_norm / np.linalg.norm(entries, 2))
    return entries


def weight_matrices(shape, *, spectral_norm: float | None = None, orthogonal: bool = False,
                    max_entry: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """Matrices of ``shape`` (rows, columns): entries in [−max_entry, max_entry], or

    ``orthogonal``: orthonormal rows or columns (QR of the drawn entries), and/or
    ``spectral_norm``: rescaled so that ‖W‖₂ equals it (up to rounding).
    """
    _require(isinstance(shape, tuple) and len(shape) == 2, f"shape must be (rows, columns), got {shape!r}")
    _positive_int("shape[0]", shape[0])
    _positive_int("shape[1]", shape[1])
    if spectral_norm is not None:
        spectral_norm = _positive_number("spectral_norm", spectral_norm)
    max_entry = _positive_number("max_entry", max_entry)
    return _matrices(shape, spectral_norm, bool(orthogonal), max_entry)


class Network(NamedTuple):
    """A dense network's parameters: ``weights[l]`` (n_(l+1), n_l), ``biases[l]`` (n_(l+1),)."""

    weights: list
    biases: list


@st.composite
def _networks(draw, widths_strategy, max_entry, max_bias, dense):
    widths = draw(widths_strategy, label="widths")
    weights = [_entries(draw, f"weights[{l}]", (n_out, n_in), max_entry, fan_in=n_in, dense=dense)
               for l, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:]))]
    biases = [_entries(draw, f"biases[{l}]", n_out, max_bias, dense=dense) for l, n_out in enumerate(widths[1:])]
    return Network(weights, biases)


def networks(*, min_depth: int = 1, max_depth: int = 4, min_width: int = 1, max_width: int = 8,
             max_entry: float = 2.0, max_bias: float = 2.0,
             near_powers_of_two: bool = False) -> st.SearchStrategy[Network]:
    """Dense networks with widths from :func:`network_widths` and bounded entries (a layer of fan-in
    n > 8 has them divided by n, as :func:`sequences` does; near powers of two, every entry is drawn on
    its own, so that no block of a tiled kernel sees only zeros)."""
    return _networks(network_widths(min_depth=min_depth, max_depth=max_depth, min_width=min_width,
                                    max_width=max_width, near_powers_of_two=near_powers_of_two),
                     _positive_number("max_entry", max_entry), _positive_number("max_bias", max_bias),
                     bool(near_powers_of_two))


def batches(n_in: int, n_out: int, *, min_batch: int = 1, max_batch: int = 8, max_input: float = 2.0,
            targets: str = "unit", dense: bool = False) -> st.SearchStrategy[tuple]:
    """(x, y) with x (B, n_in) in [−max_input, max_input] and y (B, n_out).

    ``targets``: "unit" (entries in [0, 1]), "one_hot" or "probabilities" (rows
    summing to 1, for the softmax cross-entropy). ``dense``: every entry drawn
    on its own (no common fill value).
    """
    _positive_int("n_in", n_in)
    _positive_int("n_out", n_out)
    _positive_int("min_batch", min_batch)
    _positive_int("max_batch", max_batch, min_batch)
    _require(targets in ("unit", "one_hot", "probabilities"),
             f"targets must be 'unit', 'one_hot' or 'probabilities', got {targets!r}")
    max_input = _positive_number("max_input", max_input)

    @st.composite
    def build(draw):
        batch = draw(st.integers(min_batch, max_batch), label="batch size")
        x = _entries(draw, "x", (batch, n_in), max_input, dense=dense)
        if targets == "one_hot":
            y = np.eye(n_out)[_token_ids(draw, "labels", batch, n_out)]
        else:
            y = np.abs(_entries(draw, "y", (batch, n_out), 1.0, dense=dense))
            if targets == "probabilities":
                y = (y + 1e-3) / (y + 1e-3).sum(axis=1, keepdims=True)
        return x, y

    return build()


# --- gradient lists, thresholds and norm types (clipping) ------------------------------------

GRADIENT_DTYPES = ("float16", "float32", "float64")


def _magnitude(name: str, value) -> float:
    return _positive_number(name, value)


@st.composite
def _gradient_arrays(draw, dtype, exponents, mantissas, min_dims, max_dims, max_side, min_side, allow_nonfinite):
    shape = tuple(draw(st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims),
                       label="shape"))
    exponent = draw(exponents, label="log10 of the magnitude")
    drawn = draw(hnp.arrays(np.float64, shape, elements=mantissas), label="mantissas")
    with np.errstate(over="ignore", under="ignore"):
        array = np.asarray(drawn * 10.0 ** exponent).astype(dtype)
    if allow_nonfinite and array.size and draw(st.integers(0, 7), label="plant a non-finite entry unless") == 0:
        index = draw(st.integers(0, array.size - 1), label="its index")
        array.flat[index] = draw(st.sampled_from([np.inf, -np.inf, np.nan]), label="its value")
    return array


def _mantissas(allow_negative_zero: bool):
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
                   min_dims: int = 0, max_dims: int = 3, max_side: int = 4, allow_empty: bool = False,
                   allow_none: bool = False, allow_nonfinite: bool = False, allow_subnormal: bool = False,
                   allow_negative_zero: bool = False) -> st.SearchStrategy[list]:
    """Lists of ``min_arrays`` to ``max_arrays`` gradient arrays of assorted shapes and magnitudes.

    Each array has ``min_dims`` to ``max_dims`` dimensions of 1 to ``max_side`` entries
    (0 to ``max_side`` with ``allow_empty``), one of ``dtypes`` (one dtype for
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
    _positive_int("min_arrays", min_arrays, 0)
    _positive_int("max_arrays", max_arrays, max(min_arrays, 1))
    _require(isinstance(dtypes, (tuple, list)) and dtypes and all(d in GRADIENT_DTYPES for d in dtypes),
             f"dtypes must be a non-empty sequence of {GRADIENT_DTYPES}, got {dtypes!r}")
    min_magnitude = _magnitude("min_magnitude", min_magnitude)
    max_magnitude = _magnitude("max_magnitude", max_magnitude)
    _require(min_magnitude <= max_magnitude,
             f"min_magnitude={min_magnitude!r} must not exceed max_magnitude={max_magnitude!r}")
    _positive_int("min_dims", min_dims, 0)
    _positive_int("max_dims", max_dims, min_dims)
    _positive_int("max_side", max_side)
    mantissas = _mantissas(bool(allow_negative_zero))
    arrays = {d: _gradient_arrays(np.dtype(d), _log_range(d, min_magnitude, max_magnitude, bool(allow_subnormal)),
                                  mantissas, min_dims, max_dims, max_side, 0 if allow_empty else 1,
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
    min_value = _positive_number("min_value", min_value)
    max_value = _positive_number("max_value", max_value)
    _require(min_value <= max_value, f"min_value={min_value!r} must not exceed max_value={max_value!r}")
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


# --- recurrent networks ----------------------------------------------------------------------

class Sequence(NamedTuple):
    """An Elman RNN problem (:mod:`gradproofs.rnn`): inputs x (T, B, I), initial state h0 (B, H),
    W_x (H, I), W_h (H, H), b (H,), and dL_dh (T, B, H), the loss's gradient with respect to h_1..h_T."""

    x: np.ndarray
    h0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    dL_dh: np.ndarray


def _size_range(name: str, low, high, minimum: int = 1) -> tuple:
    """(low, high) for the sizes named ``min_<name>`` and ``max_<name>``, validated."""
    _positive_int(f"min_{name}", low, minimum)
    _positive_int(f"max_{name}", high, low)
    return low, high


def _steps(low: int, high: int):
    """T in [low, high], the longest as often as all the others together: a bug that shows only
    over the longest drawn sequence (BPTT truncated by one step) is met in half the draws. One
    integer u, T = min(low + u, high), so that shrinking u shrinks T."""
    return st.integers(0, 2 * (high - low) + 1).map(lambda u: min(low + u, high))


def _sizes(draw, steps, batch, inputs, hidden, near_powers_of_two):
    return (draw(_steps(*steps), label="T (steps)"), draw(_size(*batch, near_powers_of_two), label="B (batch)"),
            draw(_size(*inputs, near_powers_of_two), label="I (inputs)"),
            draw(_size(*hidden, near_powers_of_two), label="H (hidden units)"))


@st.composite
def _sequences(draw, steps, batch, inputs, hidden, max_input, near_powers_of_two):
    T, B, n_in, H = _sizes(draw, steps, batch, inputs, hidden, near_powers_of_two)
    dense = near_powers_of_two
    return Sequence(_entries(draw, "x", (T, B, n_in), max_input, dense=dense),
                    _entries(draw, "h0", (B, H), 1.0, dense=dense),
                    _entries(draw, "W_x", (H, n_in), 1.0, fan_in=n_in, dense=dense),
                    _entries(draw, "W_h", (H, H), 1.0, fan_in=H, dense=dense), _entries(draw, "b", H, 1.0, dense=dense),
                    _entries(draw, "dL_dh", (T, B, H), 1.0, dense=dense))


def sequences(*, min_steps: int = 1, max_steps: int = 8, min_batch: int = 1, max_batch: int = 4,
              min_inputs: int = 1, max_inputs: int = 4, min_hidden: int = 1, max_hidden: int = 4,
              max_input: float = 2.0, near_powers_of_two: bool = False) -> st.SearchStrategy[Sequence]:
    """RNN problems :class:`Sequence` (x, h0, W_x, W_h, b, dL_dh) of T steps, B sequences,
    I inputs and H hidden units, each in its [min, max] range (``near_powers_of_two``: B, I and H
    each one of 2^k − 1, 2^k, 2^k + 1, where tiled kernels break).

    Entries of x lie in [−max_input, max_input], all others in [−1, 1] (W_x's and W_h's divided by
    their fan-in I or H beyond 8, so that long sequences stay judgeable); T = ``max_steps`` in about
    half the draws. Shrinking goes to fewer steps, sequences and units first. ``min_steps=0``
    allows the empty sequence (T = 0), which :func:`gradproofs.rnn.bptt` accepts.
    """
    return _sequences(_size_range("steps", min_steps, max_steps, 0), _size_range("batch", min_batch, max_batch),
                      _size_range("inputs", min_inputs, max_inputs), _size_range("hidden", min_hidden, max_hidden),
                      _positive_number("max_input", max_input), bool(near_powers_of_two))


class LSTMSequence(NamedTuple):
    """An LSTM problem (:mod:`gradproofs.rnn`): inputs x (T, B, I), initial states h0 and c0 (B, H),
    W_x (4H, I) and W_h (4H, H) with the gate blocks in torch's order i, f, g, o (``weight_ih_l0``
    and ``weight_hh_l0``), b (4H,), and dL_dh (T, B, H), the loss's gradient with respect to h_1..h_T."""

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    dL_dh: np.ndarray


@st.composite
def _lstm_sequences(draw, steps, batch, inputs, hidden, max_input, max_recurrent, near_powers_of_two):
    T, B, n_in, H = _sizes(draw, steps, batch, inputs, hidden, near_powers_of_two)
    return LSTMSequence(_entries(draw, "x", (T, B, n_in), max_input), _entries(draw, "h0", (B, H), 1.0),
                        _entries(draw, "c0", (B, H), 1.0), _entries(draw, "W_x", (4 * H, n_in), 1.0, fan_in=n_in),
                        _entries(draw, "W_h", (4 * H, H), max_recurrent, fan_in=H), _entries(draw, "b", 4 * H, 1.0),
                        _entries(draw, "dL_dh", (T, B, H), 1.0))


def lstm_sequences(*, min_steps: int = 1, max_steps: int = 6, min_batch: int = 1, max_batch: int = 3,
                   min_inputs: int = 1, max_inputs: int = 4, min_hidden: int = 1, max_hidden: int = 4,
                   max_input: float = 2.0, max_recurrent: float = 0.5,
                   near_powers_of_two: bool = False) -> st.SearchStrategy[LSTMSequence]:
    """LSTM problems :class:`LSTMSequence` (x, h0, c0, W_x, W_h, b, dL_dh), sizes as for :func:`sequences`.

    Entries of x lie in [−max_input, max_input], of W_h in [−max_recurrent,
    max_recurrent] (a step then amplifies a rounding error little, so that long
    sequences stay judgeable: :class:`gradproofs.rnn.LSTMReference`), all
    others in [−1, 1].
    """
    return _lstm_sequences(_size_range("steps", min_steps, max_steps, 0),
                           _size_range("batch", min_batch, max_batch), _size_range("inputs", min_inputs, max_inputs),
                           _size_range("hidden", min_hidden, max_hidden), _positive_number("max_input", max_input),
                           _positive_number("max_recurrent", max_recurrent), bool(near_powers_of_two))


class LMSequence(NamedTuple):
    """A language-model problem (:mod:`gradproofs.lm`): token ids and targets (T, B) in a vocabulary
    of K, h0 (B, H), U (H, K), W (H, H), b (H,), V (K, H), c (K,)."""

    tokens: np.ndarray
    targets: np.ndarray
    h0: np.ndarray
    U: np.ndarray
    W: np.ndarray
    b: np.ndarray
    V: np.ndarray
    c: np.ndarray


@st.composite
def _lm_sequences(draw, steps, batch, vocabulary, hidden, near_powers_of_two):
    T, B, K, H = _sizes(draw, steps, batch, vocabulary, hidden, near_powers_of_two)
    return LMSequence(_token_ids(draw, "tokens", (T, B), K), _token_ids(draw, "targets", (T, B), K),
                      _entries(draw, "h0", (B, H), 1.0), _entries(draw, "U", (H, K), 1.0),
                      _entries(draw, "W", (H, H), 1.0, fan_in=H), _entries(draw, "b", H, 1.0),
                      _entries(draw, "V", (K, H), 1.0, fan_in=H), _entries(draw, "c", K, 1.0))


def lm_sequences(*, min_steps: int = 1, max_steps: int = 6, min_batch: int = 1, max_batch: int = 3,
                 min_vocabulary: int = 2, max_vocabulary: int = 5, min_hidden: int = 1, max_hidden: int = 4,
                 near_powers_of_two: bool = False) -> st.SearchStrategy[LMSequence]:
    """Language-model problems :class:`LMSequence` of T steps, B sequences, a vocabulary of K ≥ 2
    tokens and H hidden units, each in its [min, max] range; T = ``max_steps`` in about half the
    draws; every real entry in [−1, 1] (W's and V's divided by H beyond 8)."""
    return _lm_sequences(_size_range("steps", min_steps, max_steps), _size_range("batch", min_batch, max_batch),
                         _size_range("vocabulary", min_vocabulary, max_vocabulary, 2),
                         _size_range("hidden", min_hidden, max_hidden), bool(near_powers_of_two))


# A rescaled draw keeps its radius to rounding only where its largest eigenvalues are well-conditioned.
_MIN_RADIUS_SHARE = 0.1  # of the draw's spectral norm
_MAX_EIGENVALUE_CONDITION = 1e4


def _radius(entries: np.ndarray) -> float | None:
    """max |λ_i|, or None where it is under a tenth of the norm or an eigenvalue of that
    modulus has a condition number ‖x_i‖‖y_i‖/|y_iᴴx_i| over 10⁴ (nearly defective)."""
    eigenvalues, vectors = np.linalg.eig(entries)
    moduli = np.abs(eigenvalues)
    radius = float(moduli.max())
    if radius < _MIN_RADIUS_SHARE * np.linalg.norm(entries, 2):
        return None
    try:
        left = np.linalg.inv(vectors)  # its rows y_iᴴ, scaled so that y_iᴴx_i = 1
    except np.linalg.LinAlgError:
        return None
    largest = moduli >= radius * (1 - 1e-9)
    with np.errstate(over="ignore", invalid="ignore"):  # nearly singular eigenvectors: ∞ or NaN, refused
        condition = np.linalg.norm(vectors[:, largest], axis=0) * np.linalg.norm(left[largest], axis=1)
    return radius if np.all(condition <= _MAX_EIGENVALUE_CONDITION) else None


@st.composite
def _recurrent_matrices(draw, size, spectral_norm, spectral_radius, orthogonal_scale):
    if orthogonal_scale is not None:
        return orthogonal_scale * draw(_matrices((size, size), None, True, 1.0), label="Q")
    entries = draw(_matrices((size, size), spectral_norm, False, 1.0), label="W")
    if spectral_radius is None:
        return entries
    radius = _radius(entries)
    if radius is None:  # the symmetric part, whose eigenvalues are perfectly conditioned
        entries = (entries + entries.T) / 2
        radius = float(np.abs(np.linalg.eigvalsh(entries)).max())
        if radius < 1e-3:  # the draw was nearly antisymmetric: the shrunk form
            entries, radius = np.zeros((size, size)), 1.0
            entries[0, 0] = 1.0
    return entries * (spectral_radius / radius)


def recurrent_matrices(size: int, *, spectral_norm: float | None = None, spectral_radius: float | None = None,
                       orthogonal_scale: float | None = None) -> st.SearchStrategy[np.ndarray]:
    """Square matrices (size, size), such as an RNN's W_h, with at most one of

    ``spectral_norm``: ‖W‖₂ equals it (entries in [−1, 1], rescaled);
    ``spectral_radius``: max |λ_i(W)| equals it (entries in [−1, 1], rescaled by
    the radius over the draw's; where the draw's radius is under a tenth of its
    norm, or an eigenvalue of that modulus has a condition number over 10⁴, so
    that a computed radius is not accurate to rounding, its symmetric part
    (W + Wᵀ)/2 is rescaled instead, or diag(1, 0, …, 0) when that is nearly 0);
    ``orthogonal_scale``: λQ with Q orthogonal (QR of the drawn entries), so that
    every singular value and every eigenvalue's modulus is λ.

    Each holds up to rounding. With none of them, entries in [−1, 1].
    """
    size = _positive_int("size", size)
    given = {name: value for name, value in (("spectral_norm", spectral_norm), ("spectral_radius", spectral_radius),
                                             ("orthogonal_scale", orthogonal_scale)) if value is not None}
    _require(len(given) <= 1, f"give at most one of spectral_norm, spectral_radius and orthogonal_scale, "
                              f"got {', '.join(given)}")
    given = {name: _positive_number(name, value) for name, value in given.items()}
    return _recurrent_matrices(size, given.get("spectral_norm"), given.get("spectral_radius"),
                               given.get("orthogonal_scale"))
