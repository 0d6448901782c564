"""Hypothesis strategies of dense networks (:mod:`gradproofs.mlp.engine`).

:func:`network_widths`, :func:`networks` (:class:`Network`: weights and biases) and
:func:`batches` (inputs and targets); :mod:`gradproofs.strategies` offers them with every
family's strategies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from gradproofs.drawing import depths, entries, positive_int, positive_number, require, size, token_ids

__all__ = ["network_widths", "Network", "networks", "batches"]


def network_widths(*, min_depth: int = 1, max_depth: int = 4, min_width: int = 1,
                   max_width: int = 8, near_powers_of_two: bool = False) -> st.SearchStrategy[list]:
    """Widths [n_0, …, n_L] with min_depth ≤ L ≤ max_depth and every n_l in [min_width, max_width]
    (``near_powers_of_two``: each one of 2^k − 1, 2^k, 2^k + 1, where tiled kernels break)."""
    positive_int("min_width", min_width)
    positive_int("max_width", max_width, min_width)
    width = size(min_width, max_width, bool(near_powers_of_two))
    return depths(min_depth=min_depth, max_depth=max_depth).flatmap(
        lambda depth: st.lists(width, min_size=depth + 1, max_size=depth + 1))


class Network(NamedTuple):
    """A dense network's parameters: ``weights[l]`` (n_(l+1), n_l), ``biases[l]`` (n_(l+1),)."""

    weights: list
    biases: list


@st.composite
def _networks(draw, widths_strategy, max_entry, max_bias, dense):
    widths = draw(widths_strategy, label="widths")
    weights = [entries(draw, f"weights[{l}]", (n_out, n_in), max_entry, fan_in=n_in, dense=dense)
               for l, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:]))]
    biases = [entries(draw, f"biases[{l}]", n_out, max_bias, dense=dense) for l, n_out in enumerate(widths[1:])]
    return Network(weights, biases)


def networks(*, widths=None, min_depth: int = 1, max_depth: int = 4, min_width: int = 1, max_width: int = 8,
             max_entry: float = 2.0, max_bias: float = 2.0,
             near_powers_of_two: bool = False) -> st.SearchStrategy[Network]:
    """Dense networks with widths from :func:`network_widths`, or exactly ``widths`` [n_0, …, n_L]
    where given, and bounded entries (a layer of fan-in n > 8 has them divided by n, as
    :func:`sequences` does; near powers of two, every entry is drawn on its own, so that no block of
    a tiled kernel sees only zeros)."""
    if widths is None:
        drawn = network_widths(min_depth=min_depth, max_depth=max_depth, min_width=min_width,
                               max_width=max_width, near_powers_of_two=near_powers_of_two)
    else:
        require(isinstance(widths, (tuple, list)) and len(widths) >= 2,
                f"widths must be a sequence of at least two widths [n_0, …, n_L], got {widths!r}")
        drawn = st.just([positive_int(f"widths[{l}]", n) for l, n in enumerate(widths)])
    return _networks(drawn, positive_number("max_entry", max_entry), positive_number("max_bias", max_bias),
                     bool(near_powers_of_two))


def batches(n_in: int, n_out: int, *, min_batch: int = 1, max_batch: int = 8, max_input: float = 2.0,
            targets: str = "unit", dense: bool = False) -> st.SearchStrategy[tuple]:
    """(x, y) with x (B, n_in) in [−max_input, max_input] and y (B, n_out).

    ``targets``: "unit" (entries in [0, 1]), "one_hot" or "probabilities" (rows
    summing to 1, for the softmax cross-entropy). ``dense``: every entry drawn
    on its own (no common fill value).
    """
    positive_int("n_in", n_in)
    positive_int("n_out", n_out)
    positive_int("min_batch", min_batch)
    positive_int("max_batch", max_batch, min_batch)
    require(targets in ("unit", "one_hot", "probabilities"),
            f"targets must be 'unit', 'one_hot' or 'probabilities', got {targets!r}")
    max_input = positive_number("max_input", max_input)

    @st.composite
    def build(draw):
        batch = draw(st.integers(min_batch, max_batch), label="batch size")
        x = entries(draw, "x", (batch, n_in), max_input, dense=dense)
        if targets == "one_hot":
            y = np.eye(n_out)[token_ids(draw, "labels", batch, n_out)]
        else:
            y = np.abs(entries(draw, "y", (batch, n_out), 1.0, dense=dense))
            if targets == "probabilities":
                y = (y + 1e-3) / (y + 1e-3).sum(axis=1, keepdims=True)
        return x, y

    return build()
