"""Hypothesis strategies of chains, one neuron per layer (:mod:`gradproofs.chain.engine`).

:func:`chains` draws the weights, biases, input and target of a :class:`Chain`;
:mod:`gradproofs.strategies` offers it with every family's strategies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from gradproofs.activations import costs, engine as activations
from gradproofs.drawing import depths, positive_number, reals

__all__ = ["Chain", "chains"]


class Chain(NamedTuple):
    """A chain network's parameters and one example: weights, biases, input, target."""

    w: np.ndarray
    b: np.ndarray
    x: float
    y: float


@st.composite
def _chains(draw, depth_strategy, max_weight, max_bias, max_input, target):
    depth = draw(depth_strategy, label="depth")
    w = draw(hnp.arrays(np.float64, depth, elements=reals(max_weight)), label="w")
    b = draw(hnp.arrays(np.float64, depth, elements=reals(max_bias)), label="b")
    x = draw(reals(max_input), label="x")
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
    max_weight = positive_number("max_weight", max_weight)
    max_bias = positive_number("max_bias", max_bias)
    max_input = positive_number("max_input", max_input)
    low = {"tanh": -1.0, "identity": -max_input}.get(activation, 0.0)
    high = {"relu": max_input, "identity": max_input}.get(activation, 1.0)
    return _chains(depths(min_depth=min_depth, max_depth=max_depth), max_weight,
                   max_bias, max_input, st.floats(low, high))
