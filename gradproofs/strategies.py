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
