"""Hypothesis strategies of language-model problems (:mod:`gradproofs.lm.engine`).

:func:`lm_sequences` draws token ids, targets and parameters (:class:`LMSequence`);
:mod:`gradproofs.strategies` offers it with every family's strategies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from gradproofs.drawing import entries, size_range, sizes, token_ids

__all__ = ["LMSequence", "lm_sequences"]


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
    T, B, K, H = sizes(draw, steps, batch, vocabulary, hidden, near_powers_of_two)
    return LMSequence(token_ids(draw, "tokens", (T, B), K), token_ids(draw, "targets", (T, B), K),
                      entries(draw, "h0", (B, H), 1.0), entries(draw, "U", (H, K), 1.0),
                      entries(draw, "W", (H, H), 1.0, fan_in=H), entries(draw, "b", H, 1.0),
                      entries(draw, "V", (K, H), 1.0, fan_in=H), entries(draw, "c", K, 1.0))


def lm_sequences(*, min_steps: int = 1, max_steps: int = 6, min_batch: int = 1, max_batch: int = 3,
                 min_vocabulary: int = 2, max_vocabulary: int = 5, min_hidden: int = 1, max_hidden: int = 4,
                 near_powers_of_two: bool = False) -> st.SearchStrategy[LMSequence]:
    """Language-model problems :class:`LMSequence` of T steps, B sequences, a vocabulary of K ≥ 2
    tokens and H hidden units, each in its [min, max] range; T = ``max_steps`` in about half the
    draws; every real entry in [−1, 1] (W's and V's divided by H beyond 8)."""
    return _lm_sequences(size_range("steps", min_steps, max_steps), size_range("batch", min_batch, max_batch),
                         size_range("vocabulary", min_vocabulary, max_vocabulary, 2),
                         size_range("hidden", min_hidden, max_hidden), bool(near_powers_of_two))
