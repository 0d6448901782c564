"""The building blocks of every family's Hypothesis strategies.

Argument checks that raise ``hypothesis.errors.InvalidArgument`` (:func:`require`,
:func:`positive_number`, :func:`positive_int`); bounded arrays, drawn entry by entry or,
beyond :data:`LARGE` entries, from a generator whose seed Hypothesis draws (:func:`entries`,
:func:`token_ids`); sizes (:func:`size`, :func:`size_range`, :func:`sequence_lengths`,
:func:`sizes`) and matrices (:func:`matrices`); and the two public strategies more than one
family draws with, :func:`depths` and :func:`weight_matrices`, which :mod:`gradproofs.strategies`
offers with the others.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

__all__ = ["require", "positive_number", "positive_int", "reals", "LARGE", "SMALL_FAN_IN", "entries", "token_ids",
           "size", "size_range", "sequence_lengths", "sizes", "matrices", "depths", "weight_matrices"]


def require(condition: bool, message: str) -> None:
    """Raise :class:`hypothesis.errors.InvalidArgument` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise InvalidArgument(message)


def positive_number(name: str, value) -> float:
    """``value`` as a float, or InvalidArgument naming ``name`` unless it is a positive finite number."""
    require(isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0,
            f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def positive_int(name: str, value, minimum: int = 1) -> int:
    """``value``, or InvalidArgument naming ``name`` unless it is an integer ≥ ``minimum``."""
    require(isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
            f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return value


def reals(bound: float) -> st.SearchStrategy[float]:
    """Floats in [−bound, bound], subnormals left out."""
    return st.floats(-bound, bound, allow_subnormal=False)


LARGE = 256  # arrays of more entries come from a generator Hypothesis seeds: its buffer holds a few thousand choices
SMALL_FAN_IN = 8  # matrices summing more terms than this have their entries scaled down by their fan-in


def entries(draw, name, shape, bound, fan_in: int = 1, dense: bool = False):
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
        return draw(hnp.arrays(np.float64, shape, elements=reals(bound), fill=fill), label=name)
    seed = draw(st.integers(0, 2 ** 32 - 1), label=f"{name} (seed of a large array)")
    return np.random.default_rng(seed).uniform(-bound, bound, shape)


def token_ids(draw, name, shape, vocabulary: int):
    """Integer ids in [0, vocabulary), seeded for large arrays as :func:`entries` is."""
    if int(np.prod(shape)) <= LARGE:
        return draw(hnp.arrays(np.int64, shape, elements=st.integers(0, vocabulary - 1)), label=name)
    seed = draw(st.integers(0, 2 ** 32 - 1), label=f"{name} (seed of a large array)")
    return np.random.default_rng(seed).integers(0, vocabulary, shape)


def size(low: int, high: int, near_powers_of_two: bool):
    """A size in [low, high]; with ``near_powers_of_two`` one of 2^k − 1, 2^k, 2^k + 1 (or low, high),
    where tiled kernels have their boundaries."""
    if not near_powers_of_two:
        return st.integers(low, high)
    near = {n for k in range(1, 40) for n in (2 ** k - 1, 2 ** k, 2 ** k + 1) if low <= n <= high} | {low, high}
    return st.sampled_from(sorted(near))


def size_range(name: str, low, high, minimum: int = 1) -> tuple:
    """(low, high) for the sizes named ``min_<name>`` and ``max_<name>``, validated."""
    positive_int(f"min_{name}", low, minimum)
    positive_int(f"max_{name}", high, low)
    return low, high


def sequence_lengths(low: int, high: int):
    """T in [low, high], the longest as often as all the others together: a bug that shows only
    over the longest drawn sequence (BPTT truncated by one step) is met in half the draws. One
    integer u, T = min(low + u, high), so that shrinking u shrinks T."""
    return st.integers(0, 2 * (high - low) + 1).map(lambda u: min(low + u, high))


def sizes(draw, steps, batch, inputs, hidden, near_powers_of_two):
    """T, B, I and H drawn for a recurrent problem from their (low, high) ranges (``inputs`` is the
    vocabulary K for a language model): T by :func:`sequence_lengths`, the others by :func:`size`."""
    return (draw(sequence_lengths(*steps), label="T (steps)"),
            draw(size(*batch, near_powers_of_two), label="B (batch)"),
            draw(size(*inputs, near_powers_of_two), label="I (inputs)"),
            draw(size(*hidden, near_powers_of_two), label="H (hidden units)"))


@st.composite
def matrices(draw, shape, spectral_norm, orthogonal, max_entry):
    """A (rows, columns) matrix, entries in [−max_entry, max_entry], made orthogonal and/or rescaled to
    ``spectral_norm``, as :func:`weight_matrices` describes (its arguments already validated)."""
    entries = draw(hnp.arrays(np.float64, shape, elements=reals(max_entry)), label="entries")
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


def depths(*, min_depth: int = 1, max_depth: int = 64) -> st.SearchStrategy[int]:
    """Network depths L with min_depth ≤ L ≤ max_depth (depth 0 has no gradient)."""
    require(isinstance(min_depth, int) and min_depth >= 1, f"min_depth must be an integer ≥ 1, got {min_depth!r}")
    require(isinstance(max_depth, int) and max_depth >= min_depth,
            f"max_depth must be an integer ≥ min_depth={min_depth}, got {max_depth!r}")
    return st.integers(min_depth, max_depth)


def weight_matrices(shape, *, spectral_norm: float | None = None, orthogonal: bool = False,
                    max_entry: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """Matrices of ``shape`` (rows, columns): entries in [−max_entry, max_entry], or

    ``orthogonal``: orthonormal rows or columns (QR of the drawn entries), and/or
    ``spectral_norm``: rescaled so that ‖W‖₂ equals it (up to rounding).
    """
    require(isinstance(shape, tuple) and len(shape) == 2, f"shape must be (rows, columns), got {shape!r}")
    positive_int("shape[0]", shape[0])
    positive_int("shape[1]", shape[1])
    if spectral_norm is not None:
        spectral_norm = positive_number("spectral_norm", spectral_norm)
    max_entry = positive_number("max_entry", max_entry)
    return matrices(shape, spectral_norm, bool(orthogonal), max_entry)
