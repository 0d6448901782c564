"""Hypothesis strategies of recurrent problems (:mod:`gradproofs.rnn.engine`).

:func:`sequences` (Elman RNN problems, :class:`Sequence`), :func:`lstm_sequences`
(:class:`LSTMSequence`) and :func:`recurrent_matrices` (a given spectral norm, spectral
radius or orthogonal scale); :mod:`gradproofs.strategies` offers them with every family's
strategies.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from gradproofs.drawing import entries, matrices, positive_int, positive_number, require, size, size_range, sizes
from gradproofs.rnn.engine import LSTMSequence, ProjectedSequence, Sequence

__all__ = ["Sequence", "sequences", "ProjectedSequence", "projected_sequences", "LSTMSequence", "lstm_sequences",
           "recurrent_matrices"]


@st.composite
def _sequences(draw, steps, batch, inputs, hidden, max_input, near_powers_of_two):
    T, B, n_in, H = sizes(draw, steps, batch, inputs, hidden, near_powers_of_two)
    dense = near_powers_of_two
    return Sequence(entries(draw, "x", (T, B, n_in), max_input, dense=dense),
                    entries(draw, "h0", (B, H), 1.0, dense=dense),
                    entries(draw, "W_x", (H, n_in), 1.0, fan_in=n_in, dense=dense),
                    entries(draw, "W_h", (H, H), 1.0, fan_in=H, dense=dense), entries(draw, "b", H, 1.0, dense=dense),
                    entries(draw, "dL_dh", (T, B, H), 1.0, dense=dense))


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
    return _sequences(size_range("steps", min_steps, max_steps, 0), size_range("batch", min_batch, max_batch),
                      size_range("inputs", min_inputs, max_inputs), size_range("hidden", min_hidden, max_hidden),
                      positive_number("max_input", max_input), bool(near_powers_of_two))


@st.composite
def _projected(draw, sequence: Sequence, outputs, near_powers_of_two) -> ProjectedSequence:
    (T, B, _), H = sequence.x.shape, sequence.W_h.shape[0]
    O = draw(size(*outputs, near_powers_of_two), label="O (outputs)")
    dense = near_powers_of_two
    return ProjectedSequence(*sequence[:5], entries(draw, "V", (O, H), 1.0, fan_in=H, dense=dense),
                             entries(draw, "c", O, 1.0, dense=dense), entries(draw, "dL_dy", (T, B, O), 1.0, dense=dense))


def projected_sequences(*, min_outputs: int = 1, max_outputs: int = 4, near_powers_of_two: bool = False,
                        **sizes) -> st.SearchStrategy[ProjectedSequence]:
    """RNN problems with an output projection y_t = V h_t + c, :class:`ProjectedSequence` (x, h0, W_x,
    W_h, b, V, c, dL_dy): :func:`sequences` (``sizes``, its size ranges), with O outputs in
    [min_outputs, max_outputs], entries of V, c and dL_dy in [−1, 1] (V's divided by H beyond 8)."""
    outputs = size_range("outputs", min_outputs, max_outputs)
    return sequences(**sizes, near_powers_of_two=near_powers_of_two).flatmap(
        lambda sequence: _projected(sequence, outputs, bool(near_powers_of_two)))


@st.composite
def _lstm_sequences(draw, steps, batch, inputs, hidden, max_input, max_recurrent, near_powers_of_two):
    T, B, n_in, H = sizes(draw, steps, batch, inputs, hidden, near_powers_of_two)
    return LSTMSequence(entries(draw, "x", (T, B, n_in), max_input), entries(draw, "h0", (B, H), 1.0),
                        entries(draw, "c0", (B, H), 1.0), entries(draw, "W_x", (4 * H, n_in), 1.0, fan_in=n_in),
                        entries(draw, "W_h", (4 * H, H), max_recurrent, fan_in=H), entries(draw, "b", 4 * H, 1.0),
                        entries(draw, "dL_dh", (T, B, H), 1.0))


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
    return _lstm_sequences(size_range("steps", min_steps, max_steps, 0),
                           size_range("batch", min_batch, max_batch), size_range("inputs", min_inputs, max_inputs),
                           size_range("hidden", min_hidden, max_hidden), positive_number("max_input", max_input),
                           positive_number("max_recurrent", max_recurrent), bool(near_powers_of_two))


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
        return orthogonal_scale * draw(matrices((size, size), None, True, 1.0), label="Q")
    entries = draw(matrices((size, size), spectral_norm, False, 1.0), label="W")
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
    size = positive_int("size", size)
    given = {name: value for name, value in (("spectral_norm", spectral_norm), ("spectral_radius", spectral_radius),
                                             ("orthogonal_scale", orthogonal_scale)) if value is not None}
    require(len(given) <= 1, f"give at most one of spectral_norm, spectral_radius and orthogonal_scale, "
                             f"got {', '.join(given)}")
    given = {name: positive_number(name, value) for name, value in given.items()}
    return _recurrent_matrices(size, given.get("spectral_norm"), given.get("spectral_radius"),
                               given.get("orthogonal_scale"))
