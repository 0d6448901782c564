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

from gradproofs import activations, costs


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
                   max_width: int = 8) -> st.SearchStrategy[list]:
    """Widths [n_0, …, n_L] with min_depth ≤ L ≤ max_depth and every n_l in [min_width, max_width]."""
    _positive_int("min_width", min_width)
    _positive_int("max_width", max_width, min_width)
    return depths(min_depth=min_depth, max_depth=max_depth).flatmap(
        lambda depth: st.lists(st.integers(min_width, max_width), min_size=depth + 1, max_size=depth + 1))


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
def _networks(draw, widths_strategy, max_entry, max_bias):
    widths = draw(widths_strategy, label="widths")
    weights = [draw(hnp.arrays(np.float64, (n_out, n_in), elements=_reals(max_entry)), label=f"weights[{l}]")
               for l, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:]))]
    biases = [draw(hnp.arrays(np.float64, n_out, elements=_reals(max_bias)), label=f"biases[{l}]")
              for l, n_out in enumerate(widths[1:])]
    return Network(weights, biases)


def networks(*, min_depth: int = 1, max_depth: int = 4, min_width: int = 1, max_width: int = 8,
             max_entry: float = 2.0, max_bias: float = 2.0) -> st.SearchStrategy[Network]:
    """Dense networks with widths from :func:`network_widths` and bounded entries."""
    return _networks(network_widths(min_depth=min_depth, max_depth=max_depth, min_width=min_width,
                                    max_width=max_width),
                     _positive_number("max_entry", max_entry), _positive_number("max_bias", max_bias))


def batches(n_in: int, n_out: int, *, min_batch: int = 1, max_batch: int = 8, max_input: float = 2.0,
            targets: str = "unit") -> st.SearchStrategy[tuple]:
    """(x, y) with x (B, n_in) in [−max_input, max_input] and y (B, n_out).

    ``targets``: "unit" (entries in [0, 1]), "one_hot" or "probabilities" (rows
    summing to 1, for the softmax cross-entropy).
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
        x = draw(hnp.arrays(np.float64, (batch, n_in), elements=_reals(max_input)), label="x")
        if targets == "one_hot":
            y = np.eye(n_out)[draw(hnp.arrays(np.int64, batch, elements=st.integers(0, n_out - 1)),
                                   label="labels")]
        else:
            y = draw(hnp.arrays(np.float64, (batch, n_out), elements=st.floats(0, 1)), label="y")
            if targets == "probabilities":
                y = (y + 1e-3) / (y + 1e-3).sum(axis=1, keepdims=True)
        return x, y

    return build()
