"""Recurrent networks: backpropagation through time for the Elman RNN and the LSTM.

The vanilla (Elman) RNN over a batch of B sequences of length T, samples as rows:

    a_t = x_t W_xᵀ + h_(t−1) W_hᵀ + b,   h_t = f(a_t),   t = 1..T

x (T, B, I), h_0 (B, H), W_x (H, I), W_h (H, H), b (H,); f is tanh, sigmoid,
relu or identity. The loss L is any function of h_1..h_T whose partial
gradient ∂L/∂h_t is given as ``dL_dh[t − 1]`` ((T, B, H)); the torch engines
use L = Σ_t ⟨dL_dh[t − 1], h_t⟩, which has exactly that gradient.
Backpropagation through time (Pascanu, Mikolov & Bengio 2013, *On the
difficulty of training recurrent neural networks*, arXiv 1211.5063, eq. 3–5,
who write the same recurrence as x_t = W_rec σ(x_(t−1)) + W_in u_t + b):

    g_T = ∂L/∂h_T,   δ_t = g_t ⊙ f′(a_t),   g_(t−1) = ∂L/∂h_(t−1) + δ_t W_h
    ∂L/∂W_x = Σ_t δ_tᵀ x_t,   ∂L/∂W_h = Σ_t δ_tᵀ h_(t−1),   ∂L/∂b = Σ_t Σ_batch δ_t,
    ∂L/∂h_0 = g_0 = δ_1 W_h,   ∂L/∂x_t = δ_t W_x

g_t is the whole gradient with respect to h_t: its own term and all that comes
back from later steps. Unrolled, per batch row (eq. 5),

    ∂h_t/∂h_k = ∏_(s = t, t−1, …, k+1) diag(f′(a_s)) W_h,   ∂L/∂h_0 = Σ_t (∂L/∂h_t) ∂h_t/∂h_0

whose norm is at most (γ‖W_h‖)^(t−k), γ = sup |f′|: the gradient vanishes or
explodes geometrically in t − k.

The forget-gate LSTM, one layer (Hochreiter & Schmidhuber 1997, *Long
short-term memory*, Neural Computation 9(8); the forget gate of Gers,
Schmidhuber & Cummins 2000, *Learning to forget*, Neural Computation 12(10)),
with torch's gate order i, f, g, o and W_ih (4H, I), W_hh (4H, H), b (4H,):

    p_t = x_t W_ihᵀ + h_(t−1) W_hhᵀ + b = [p^i, p^f, p^g, p^o]      (B, 4H)
    i_t = σ(p^i),  f_t = σ(p^f),  g_t = tanh(p^g),  o_t = σ(p^o)
    c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t,   h_t = o_t ⊙ tanh(c_t)

Backward, with ĥ_t and ĉ_t the whole gradients with respect to h_t and c_t:

    ĥ_t = ∂L/∂h_t + (∂L/∂p_(t+1)) W_hh,   ĉ_t = f_(t+1) ⊙ ĉ_(t+1) + ĥ_t ⊙ o_t ⊙ tanh′(c_t)
    ∂L/∂p^i = ĉ_t ⊙ g_t ⊙ σ′(p^i),   ∂L/∂p^f = ĉ_t ⊙ c_(t−1) ⊙ σ′(p^f),
    ∂L/∂p^g = ĉ_t ⊙ i_t ⊙ tanh′(p^g),   ∂L/∂p^o = ĥ_t ⊙ tanh(c_t) ⊙ σ′(p^o)
    ∂L/∂W_ih = Σ_t (∂L/∂p_t)ᵀ x_t,  ∂L/∂W_hh = Σ_t (∂L/∂p_t)ᵀ h_(t−1),  ∂L/∂b = Σ_t Σ_batch ∂L/∂p_t
    ∂L/∂h_0 = ĥ_0 = (∂L/∂p_1) W_hh,   ∂L/∂c_0 = ĉ_0 = f_1 ⊙ ĉ_1,   ∂L/∂x_t = (∂L/∂p_t) W_ih

With h_(t−1) held fixed, ∂c_t/∂c_(t−1) = diag(f_t) exactly (:func:`cell_jacobian`):
along the cell the error is multiplied by the forget gate and by nothing else.
``forget_gate=False`` gives the 1997 cell, which has no forget gate: f_t ≡ 1
exactly, ∂c_t/∂c_(t−1) = I, the constant error carousel. With W_hh = 0 (so that
no gate sees h_(t−1)) and ∂L/∂h_t = 0 for t < T, the error reaching c_T then
arrives at c_0 unchanged, ∂L/∂c_0 = ĉ_T, bit for bit in float64: every step
multiplies it by exactly 1 and adds exactly 0. A forget gate cannot be made
exactly 1 by finite weights (σ < 1), hence the option rather than a large bias.

Empty sequences: T = 0 is allowed. There is then no loss term, so every
gradient is exactly 0 (including ∂L/∂h_0 and ∂L/∂c_0), the states are h_0
alone ((1, B, H)), and ∂h_0/∂h_0 = I; ``torch.nn.RNN`` and ``torch.nn.LSTM``
refuse an empty sequence, so the module engines return those zeros without
calling them. An empty batch (B = 0) or width (H = 0 or I = 0) is refused.

Each recurrence is written once and runs over float64 arrays (``bptt``,
``lstm_backward``, vectorised over the batch: O(T·B·H·(H + I)) time, O(T·B·H)
memory) and over object arrays of mpmath numbers with SymPy's f and f′
(``bptt_exact``, ``lstm_backward_exact``: the truth numeric checks compare
with). The torch engines are independent: a hand-written loop through
autograd, and the ``torch.nn.RNN`` / ``torch.nn.LSTM`` modules; so are the
Elman loops through ``jax.vjp`` and ``tf.GradientTape`` (``bptt_jax``,
``bptt_tf``) where JAX and TensorFlow are installed (:mod:`gradproofs.frameworks`).

:func:`reference` and :func:`lstm_reference` hold a problem with its exact
gradients and the first-order rounding bound a float engine is judged by
(:class:`Reference`, :class:`LSTMReference`), as :func:`gradproofs.mlp.reference`
does for dense networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from gradproofs import _validate, compare, devices, frameworks
from gradproofs.compare import MAX_AMPLIFICATION
from gradproofs.activations import engine as activations
from gradproofs.errors import InvalidArgument

__all__ = [
    "Sequence", "LSTMSequence", "NN_RNN_ACTIVATIONS", "RNNGradients", "LSTMStates", "LSTMGradients", "unroll",
    "recurrence", "backpropagate", "forward", "bptt", "mpmath_array", "bptt_exact", "bptt_extended", "jacobian", "bptt_torch", "bptt_nn_rnn",
    "bptt_jax", "bptt_tf", "FRAMEWORK_ENGINES", "lstm_forward", "lstm_backward", "lstm_backward_exact",
    "lstm_backward_extended", "cell_jacobian", "lstm_backward_nn", "MAX_AMPLIFICATION", "RNN_FIELDS",
    "LSTM_FIELDS", "Reference", "reference", "ProjectedSequence", "ProjectedGradients", "projected",
    "projected_exact", "projected_extended", "ProjectedReference", "projected_reference", "LSTMReference",
    "lstm_reference"
]

class Sequence(NamedTuple):
    """An Elman RNN problem (this module's engines): inputs x (T, B, I), initial state h0 (B, H),
    W_x (H, I), W_h (H, H), b (H,), and dL_dh (T, B, H), the loss's gradient with respect to h_1..h_T."""

    x: np.ndarray
    h0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    dL_dh: np.ndarray


class ProjectedSequence(NamedTuple):
    """An Elman RNN problem with an output projection y_t = V h_t + c: x, h0, W_x, W_h and b as in
    :class:`Sequence`, V (O, H), c (O,) and dL_dy (T, B, O), the loss's gradient with respect to y_1..y_T."""

    x: np.ndarray
    h0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    V: np.ndarray
    c: np.ndarray
    dL_dy: np.ndarray


class LSTMSequence(NamedTuple):
    """An LSTM problem (this module's engines): inputs x (T, B, I), initial states h0 and c0 (B, H),
    W_x (4H, I) and W_h (4H, H) with the gate blocks in torch's order i, f, g, o (``weight_ih_l0``
    and ``weight_hh_l0``), b (4H,), and dL_dh (T, B, H), the loss's gradient with respect to h_1..h_T."""

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    dL_dh: np.ndarray


NN_RNN_ACTIVATIONS = ("tanh", "relu")  # the nonlinearities torch.nn.RNN offers


@dataclass(frozen=True)
class RNNGradients:
    """∂L/∂W_x, ∂L/∂W_h, ∂L/∂b (summed over the batch), ∂L/∂h_0 per batch row (B, H),
    ∂L/∂x_t for every step (T, B, I), and the states h_0..h_T (T+1, B, H)."""

    W_x: Any
    W_h: Any
    b: Any
    h0: Any
    x: Any
    states: Any


@dataclass(frozen=True)
class ProjectedGradients(RNNGradients):
    """:class:`RNNGradients` of a network with an output projection y_t = V h_t + c, and ∂L/∂V (O, H)
    and ∂L/∂c (O,), summed over the steps and the batch."""

    V: Any = None
    c: Any = None


@dataclass(frozen=True)
class LSTMStates:
    """The LSTM forward pass: h_t and c_t for t = 0..T (T+1, B, H); the gates
    [i, f, g, o] and their pre-activations p_t for t = 1..T (T, B, 4H)."""

    h: Any
    c: Any
    gates: Any
    preactivations: Any


@dataclass(frozen=True)
class LSTMGradients:
    """∂L/∂W_ih, ∂L/∂W_hh, ∂L/∂b (summed over the batch), ∂L/∂h_0 and ∂L/∂c_0 per
    batch row (B, H), ∂L/∂x_t for every step (T, B, I), and the states h_0..h_T (T+1, B, H)."""

    W_ih: Any
    W_hh: Any
    b: Any
    h0: Any
    c0: Any
    x: Any
    states: Any


# --- argument checks ---------------------------------------------------------

def _check_weights(W_in, W_rec, b, *, names, gates):
    """(W_in, W_rec, b, H) with W_in (gates·H, I), W_rec (gates·H, H), b (gates·H,)."""
    rows_name = "H" if gates == 1 else f"{gates}H"
    W_in = _validate.real_array(names[0], W_in, ndim=2)
    rows = W_in.shape[0]
    if rows == 0 or rows % gates:
        raise InvalidArgument(f"{names[0]} must have {rows_name} rows with H ≥ 1 (the hidden size), "
                         f"got shape {W_in.shape}")
    hidden = rows // gates
    W_rec = _validate.real_array(names[1], W_rec, ndim=2)
    if W_rec.shape != (rows, hidden):
        raise InvalidArgument(f"{names[1]} must have shape ({rows}, {hidden}) to match {names[0]} "
                         f"of shape {W_in.shape}, got {W_rec.shape}")
    b = _validate.real_array("b", b, ndim=1)
    if b.shape != (rows,):
        raise InvalidArgument(f"b must have shape ({rows},) to match {names[0]} of shape {W_in.shape}, "
                         f"got {b.shape}")
    return W_in, W_rec, b, hidden


def _check_state(name, value, batch, hidden):
    state = _validate.real_array(name, value, ndim=2)
    if state.shape != (batch, hidden):
        raise InvalidArgument(f"{name} must have shape (B, H) = ({batch}, {hidden}) (the batch of x, "
                         f"the hidden size), got {state.shape}")
    return state


def _check_sequence(x, h0, W_in_name, inputs, hidden):
    """(x, h0): x (T, B, I) and h0 (B, H); B ≥ 1, as real_array refuses x an empty batch."""
    x = _validate.real_array("x", x, ndim=3)
    if x.shape[2] != inputs:
        raise InvalidArgument(f"x must have shape (T, B, {inputs}) to match the {inputs} columns of "
                         f"{W_in_name}, got {x.shape}")
    return x, _check_state("h0", h0, x.shape[1], hidden)


def _check_gradient(dL_dh, x, hidden):
    dL_dh = _validate.real_array("dL_dh", dL_dh, ndim=3)
    expected = (x.shape[0], x.shape[1], hidden)
    if dL_dh.shape != expected:
        raise InvalidArgument(f"dL_dh must have shape (T, B, H) = {expected}, one gradient per state "
                         f"h_1..h_T, got {dL_dh.shape}")
    return dL_dh


def _check(x, h0, W_x, W_h, b, activation):
    act = activations.get(activation)
    W_x, W_h, b, hidden = _check_weights(W_x, W_h, b, names=("W_x", "W_h"), gates=1)
    x, h0 = _check_sequence(x, h0, "W_x", W_x.shape[1], hidden)
    return x, h0, W_x, W_h, b, act


def _check_lstm(x, h0, c0, W_ih, W_hh, b):
    W_ih, W_hh, b, hidden = _check_weights(W_ih, W_hh, b, names=("W_ih", "W_hh"), gates=4)
    x, h0 = _check_sequence(x, h0, "W_ih", W_ih.shape[1], hidden)
    c0 = _check_state("c0", c0, x.shape[1], hidden)
    return x, h0, c0, W_ih, W_hh, b


def _check_step(name, value, *, minimum, maximum, maximum_is):
    step = _validate.positive_int(name, value, minimum=minimum)
    if step > maximum:
        raise InvalidArgument(f"{name} must be at most {maximum_is} = {maximum}, got {step}")
    return step


# --- the vanilla RNN: one recurrence over float64 or mpmath -------------------

def unroll(x, h0, W_x, W_h, b, f):
    """States h_0..h_T (T+1, B, H) and pre-activations a_1..a_T (T, B, H), over any number system.

    The input terms x_t W_xᵀ + b of every step are one product; only h_(t−1) W_hᵀ
    waits for the step before, and is added into them in place.
    """
    steps, batch, inputs = x.shape
    pre = (x.reshape(-1, inputs) @ W_x.T + b).reshape(steps, batch, W_x.shape[0])  # one 2-D product: BLAS's
    states = np.empty((steps + 1, *h0.shape), dtype=np.result_type(pre, h0))
    states[0] = h0
    for t in range(len(pre)):
        pre[t] += states[t] @ W_h.T
        states[t + 1] = f(pre[t])
    return states, pre


def recurrence(x, h0, W_x, W_h, b, dL_dh, f, fprime, truncate: int | None = None) -> RNNGradients:
    """BPTT over any number system (float, mpmath, SymPy): :func:`unroll`, then :func:`backpropagate`."""
    states, pre = unroll(x, h0, W_x, W_h, b, f)
    return backpropagate(x, states, pre, W_x, W_h, b, dL_dh, fprime, truncate)


def backpropagate(x, states, pre, W_x, W_h, b, dL_dh, fprime, truncate: int | None = None) -> RNNGradients:
    """δ_t = (∂L/∂h_t + δ_(t+1) W_h) ⊙ f′(a_t) from t = T down to 1, given the forward pass.

    Only δ_(t+1) W_h waits for the step after; the parameter gradients and ∂L/∂x
    are then one product each over all T·B rows. ``truncate=k``: BPTT truncated
    to k steps (:func:`truncated`).
    """
    h0 = states[0]
    carried = np.zeros_like(h0)  # δ_(t+1) W_h: what reaches h_t from later steps
    delta = np.empty_like(pre)
    if truncate is None:
        for t in range(len(pre) - 1, -1, -1):
            np.add(dL_dh[t], carried, out=delta[t])
            delta[t] *= fprime(pre[t])
            carried = delta[t] @ W_h
    elif len(pre):
        truncated(delta, pre, dL_dh, W_h, fprime, truncate)
        carried = delta[0] @ W_h
    if not len(pre):  # T = 0: no loss term
        return RNNGradients(np.zeros_like(W_x), np.zeros_like(W_h), np.zeros_like(b), carried, np.zeros(x.shape),
                            states)
    rows = delta.reshape(-1, h0.shape[1])  # (T·B, H)
    return RNNGradients(rows.T @ x.reshape(-1, x.shape[2]), rows.T @ states[:-1].reshape(rows.shape),
                        rows.sum(axis=0), carried, (rows @ W_x).reshape(x.shape), states)


def truncated(delta, pre, dL_dh, W_h, fprime, truncate: int) -> None:
    """δ_t of BPTT truncated to k = ``truncate`` steps, into ``delta``: each loss term ∂L/∂h_t is
    carried back through the steps t, t − 1, …, t − k only (and on to h_0 where t − k ≤ 1).

    This is the loop of Britz's ``bptt_truncate`` (WildML's RNN tutorial, part 3) and
    ML-From-Scratch's ``bptt_trunc``: k counts the steps back beyond a term's own, so k = 0
    keeps each term at its own step and k ≥ T − 1 is full BPTT. δ_t is the sum of the parts
    of ages 0..k that reach step t, each part (what left its loss term j steps ago) ⊙ f′(a_t);
    only the parts younger than k are carried on to step t − 1.
    """
    parts = []  # δ W_h of the parts that left their loss terms 1, 2, … steps ago
    for t in range(len(pre) - 1, -1, -1):
        fprime_t = fprime(pre[t])
        ages = [dL_dh[t] * fprime_t, *(part * fprime_t for part in parts)]
        delta[t] = sum(ages[1:], ages[0])
        parts = [age @ W_h for age in ages[:truncate]]


def forward(x, h0, W_x, W_h, b, *, activation: str = "tanh") -> np.ndarray:
    """The states h_0..h_T, (T+1, B, H), in NumPy float64."""
    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    with np.errstate(over="ignore", under="ignore"):
        return unroll(x, h0, W_x, W_h, b, act.numpy)[0]


def check_truncate(truncate) -> int | None:
    """None (full BPTT) or the number of steps k ≥ 0 a loss term is carried back (:func:`truncated`)."""
    return None if truncate is None else _validate.positive_int("truncate", truncate, minimum=0)


def bptt(x, h0, W_x, W_h, b, dL_dh, *, activation: str = "tanh", truncate: int | None = None) -> RNNGradients:
    """Backpropagation through time in NumPy float64, vectorised over the batch (``truncate=k``:
    truncated to k steps, :func:`truncated`).

    f′ is the hand-written derivative of :mod:`gradproofs.activations`, formed
    from a_t (not from h_t, which would cancel). O(T·B·H·(H + I)) time,
    O(T·B·H) memory.
    """
    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    dL_dh = _check_gradient(dL_dh, x, W_h.shape[0])
    truncate = check_truncate(truncate)
    with np.errstate(over="ignore", under="ignore"):
        return recurrence(x, h0, W_x, W_h, b, dL_dh, act.numpy, act.numpy_derivative, truncate)


def mpmath_array(values):
    """An object array of mpmath numbers equal to the float64 ``values`` (each taken exactly)."""
    import mpmath

    return np.frompyfunc(mpmath.mpf, 1, 1)(values)


def bptt_exact(x, h0, W_x, W_h, b, dL_dh, *, activation: str = "tanh", dps: int = 40,
               truncate: int | None = None) -> RNNGradients:
    """The same recurrence on object arrays of mpmath numbers with ``dps`` digits.

    f and f′ are SymPy's, evaluated in mpmath (f′ through the value, σ(1−σ) or
    1 − tanh², with the digits that form cancels at the largest |a_t| added); the
    inputs are taken as the float64 numbers they round to. Slow: for small T, B, H.
    """
    import mpmath

    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    dL_dh = _check_gradient(dL_dh, x, W_h.shape[0])
    truncate = check_truncate(truncate)
    f, fprime, digits = _mpmath_system(x, h0, W_x, W_h, b, act, dps)
    with mpmath.workdps(digits):
        return recurrence(*map(mpmath_array, (x, h0, W_x, W_h, b, dL_dh)), f, fprime, truncate)


def _mpmath_system(x, h0, W_x, W_h, b, act, dps):
    """(f, f′, digits): SymPy's f and f′ in mpmath, and ``dps`` digits plus those that f′'s form
    1 − tanh² or σ(1 − σ) cancels at the largest |a_t|."""
    f, fprime = activations.mpmath_elementwise(act.name)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        pre = unroll(x, h0, W_x, W_h, b, act.numpy)[1]
    return f, fprime, _validate.positive_int("dps", dps) + activations.extra_digits(act, *pre)


def bptt_extended(x, h0, W_x, W_h, b, dL_dh, *, activation: str = "tanh",
                  truncate: int | None = None) -> RNNGradients:
    """The same recurrence in long double (:mod:`gradproofs.extended`): the exact reference of long sequences."""
    from gradproofs import extended

    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    dL_dh = _check_gradient(dL_dh, x, W_h.shape[0])
    truncate = check_truncate(truncate)
    with np.errstate(over="ignore", under="ignore"):
        return recurrence(*extended.cast(x, h0, W_x, W_h, b, dL_dh), act.numpy, act.numpy_derivative, truncate)


def projected(x, h0, W_x, W_h, b, V, dL_dy, f, fprime, truncate: int | None = None) -> ProjectedGradients:
    """BPTT under an output projection y_t = V h_t + c, over any number system: ∂L/∂h_t = Vᵀ∂L/∂y_t
    into :func:`recurrence`, then ∂L/∂V = Σ_t ∂L/∂y_t h_tᵀ and ∂L/∂c = Σ_t ∂L/∂y_t (over the batch too)."""
    hidden = recurrence(x, h0, W_x, W_h, b, dL_dy @ V, f, fprime, truncate)
    rows = dL_dy.reshape(-1, dL_dy.shape[2])  # (T·B, O)
    states = hidden.states[1:].reshape(rows.shape[0], h0.shape[1])
    return ProjectedGradients(hidden.W_x, hidden.W_h, hidden.b, hidden.h0, hidden.x, hidden.states,
                              rows.T @ states, rows.sum(axis=0))


def _check_projection(V, c, dL_dy, x, hidden):
    """V (O, H), c (O,) and dL_dy (T, B, O), finite."""
    V = _validate.real_array("V", V, ndim=2)
    if V.shape[1] != hidden:
        raise InvalidArgument(f"V must have shape (O, H) with H = {hidden} (W_h's), got {V.shape}")
    c = _validate.real_vector("c", c, like=("V", V.shape[0]))
    dL_dy = _validate.real_array("dL_dy", dL_dy, ndim=3)
    expected = (x.shape[0], x.shape[1], V.shape[0])
    if dL_dy.shape != expected:
        raise InvalidArgument(f"dL_dy must have shape (T, B, O) = {expected}, one gradient per output "
                              f"y_1..y_T, got {dL_dy.shape}")
    return V, c, dL_dy


def projected_exact(x, h0, W_x, W_h, b, V, c, dL_dy, *, activation: str = "tanh", dps: int = 40,
                    truncate: int | None = None) -> ProjectedGradients:
    """:func:`projected` on object arrays of mpmath numbers, as :func:`bptt_exact` (c enters no gradient)."""
    import mpmath

    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    V, c, dL_dy = _check_projection(V, c, dL_dy, x, W_h.shape[0])
    truncate = check_truncate(truncate)
    f, fprime, digits = _mpmath_system(x, h0, W_x, W_h, b, act, dps)
    with mpmath.workdps(digits):
        return projected(*map(mpmath_array, (x, h0, W_x, W_h, b, V, dL_dy)), f, fprime, truncate)


def projected_extended(x, h0, W_x, W_h, b, V, c, dL_dy, *, activation: str = "tanh",
                       truncate: int | None = None) -> ProjectedGradients:
    """:func:`projected` in long double (:mod:`gradproofs.extended`): the exact reference of long sequences."""
    from gradproofs import extended

    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    V, c, dL_dy = _check_projection(V, c, dL_dy, x, W_h.shape[0])
    truncate = check_truncate(truncate)
    with np.errstate(over="ignore", under="ignore"):
        return projected(*extended.cast(x, h0, W_x, W_h, b, V, dL_dy), act.numpy, act.numpy_derivative, truncate)


def jacobian(x, h0, W_x, W_h, b, t, k, *, activation: str = "tanh") -> np.ndarray:
    """∂h_t/∂h_k for every batch row, (B, H, H), in NumPy float64.

    The product diag(f′(a_t)) W_h ⋯ diag(f′(a_(k+1))) W_h, the identity when
    t = k; 0 ≤ k ≤ t ≤ T. O((t − k)·B·H³).
    """
    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    t = _check_step("t", t, minimum=0, maximum=x.shape[0], maximum_is="T (the length of x)")
    k = _check_step("k", k, minimum=0, maximum=t, maximum_is="t (∂h_t/∂h_k needs k ≤ t)")
    hidden = W_h.shape[0]
    with np.errstate(over="ignore", under="ignore"):
        pre = unroll(x[:t], h0, W_x, W_h, b, act.numpy)[1]
        product = np.broadcast_to(np.eye(hidden), (h0.shape[0], hidden, hidden))
        for a_s in pre[k:]:
            product = (act.numpy_derivative(a_s)[:, :, None] * W_h) @ product
    return np.array(product)


# --- the vanilla RNN in torch -------------------------------------------------

def bptt_torch(x, h0, W_x, W_h, b, dL_dh, *, activation: str = "tanh", device: str = "cpu",
               dtype=None) -> RNNGradients:
    """The same gradients through torch autograd, as tensors on ``device`` (float64 by default).

    The loop is written as a user would, ``f(x_t @ W_xᵀ + h @ W_hᵀ + b)``, and
    differentiated through L = Σ_t ⟨dL_dh[t − 1], h_t⟩.
    """
    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    dL_dh = _check_gradient(dL_dh, x, W_h.shape[0])
    torch, tensor = devices.tensors(device, dtype)
    parameters = [tensor(v, True) for v in (W_x, W_h, b, h0, x)]
    Wx, Wh, bias, h, inputs = parameters
    states = [h]
    for x_t in inputs:
        states.append(act.torch(x_t @ Wx.T + states[-1] @ Wh.T + bias))
    stacked = torch.stack(states)
    loss = (stacked[1:] * tensor(dL_dh)).sum()
    grads = torch.autograd.grad(loss, parameters, allow_unused=True, materialize_grads=True)
    return RNNGradients(*grads, stacked.detach())


def _empty_sequence(torch, tensor, shapes, h0, field_type):
    """T = 0: no loss term, so zero gradients and the states h_0 alone."""
    initial = tensor(h0)[None]
    zeros = [torch.zeros(shape, dtype=initial.dtype, device=initial.device) for shape in shapes]
    return field_type(*zeros, initial)


def bptt_nn_rnn(x, h0, W_x, W_h, b, dL_dh, *, activation: str = "tanh", device: str = "cpu",
                dtype=None) -> RNNGradients:
    """The same problem run through ``torch.nn.RNN`` (one layer, batch_first=False) and autograd.

    ``weight_ih_l0`` = W_x, ``weight_hh_l0`` = W_h; the module adds two biases,
    so ``bias_ih_l0`` = b and ``bias_hh_l0`` = 0. Both biases enter a_t as a
    plain sum, so their gradients are equal, and ``.b`` is that of ``bias_ih_l0``.
    h_0 is passed as (1, B, H). Only tanh and relu exist in the module. With
    T = 0 the module (which refuses empty sequences) is not called: the
    gradients are 0.
    """
    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    if act.name not in NN_RNN_ACTIVATIONS:
        raise InvalidArgument(f"activation must be one of {list(NN_RNN_ACTIVATIONS)} for torch.nn.RNN, "
                         f"got {activation!r}")
    dL_dh = _check_gradient(dL_dh, x, W_h.shape[0])
    torch, tensor = devices.tensors(device, dtype)
    if x.shape[0] == 0:
        return _empty_sequence(torch, tensor, (W_x.shape, W_h.shape, b.shape, h0.shape, x.shape), h0,
                               RNNGradients)
    sample = tensor(0.0)
    module = torch.nn.RNN(W_x.shape[1], W_h.shape[0], num_layers=1, nonlinearity=act.name,
                          batch_first=False, device=sample.device, dtype=sample.dtype)
    with torch.no_grad():
        module.weight_ih_l0.copy_(tensor(W_x))
        module.weight_hh_l0.copy_(tensor(W_h))
        module.bias_ih_l0.copy_(tensor(b))
        module.bias_hh_l0.zero_()
    initial, inputs = tensor(h0[None], True), tensor(x, True)
    outputs, _ = module(inputs, initial)
    loss = (outputs * tensor(dL_dh)).sum()
    dW_x, dW_h, db, dh0, dx = torch.autograd.grad(
        loss, (module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, initial, inputs))
    return RNNGradients(dW_x, dW_h, db, dh0[0], dx, torch.cat([initial.detach(), outputs.detach()]))


# --- the vanilla RNN in JAX and TensorFlow (where installed) ------------------

def bptt_jax(x, h0, W_x, W_h, b, dL_dh, *, activation: str = "tanh", dtype="float64") -> RNNGradients:
    """The same gradients through ``jax.vjp`` on the CPU, as NumPy arrays of the dtype it ran in
    (float64 or float32).

    The loop as a JAX user writes it, ``f(x_t @ W_x.T + h @ W_h.T + b)``, a pure
    function of (W_x, W_h, b, h0, the steps x_t) returning h_1..h_T; its
    pullback applied to dL_dh is the gradient of any loss with those ∂L/∂h_t.
    The steps and states are lists: slicing and stacking JAX arrays outside
    ``jit`` compiles anew for every shape.
    """
    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    dL_dh = _check_gradient(dL_dh, x, W_h.shape[0])
    dtype = frameworks.float_dtype(dtype)
    with frameworks.jax_cpu() as jax:
        jnp = jax.numpy

        def states_of(W_x, W_h, b, h0, steps):
            states = [h0]
            for x_t in steps:
                states.append(act.jax(x_t @ W_x.T + states[-1] @ W_h.T + b))
            return states[1:], states

        arrays = [jnp.asarray(v, dtype) for v in (W_x, W_h, b, h0)]
        _, pullback, states = jax.vjp(states_of, *arrays, [jnp.asarray(x_t, dtype) for x_t in x], has_aux=True)
        dW_x, dW_h, db, dh0, dx = pullback([jnp.asarray(g_t, dtype) for g_t in dL_dh])
    return RNNGradients(np.asarray(dW_x), np.asarray(dW_h), np.asarray(db), np.asarray(dh0),
                        np.stack(dx) if dx else np.zeros(x.shape, dtype), np.stack(states))


def bptt_tf(x, h0, W_x, W_h, b, dL_dh, *, activation: str = "tanh", dtype="float64") -> RNNGradients:
    """The same gradients through ``tf.GradientTape`` on the CPU, as NumPy arrays of the dtype it ran in
    (float64 or float32).

    ``tf.Variable`` weights and bias, the loop as a TensorFlow user writes it,
    ``f(tf.matmul(x_t, W_x, transpose_b=True) + tf.matmul(h, W_h, transpose_b=True) + b)``,
    and the tape's gradient of h_1..h_T with ``output_gradients=dL_dh``: the
    gradient of any loss with those ∂L/∂h_t (zeros where nothing is connected, T = 0).
    """
    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    dL_dh = _check_gradient(dL_dh, x, W_h.shape[0])
    dtype = frameworks.float_dtype(dtype)
    with frameworks.tensorflow_cpu() as tf:
        Wx, Wh, bias = (tf.Variable(v.astype(dtype)) for v in (W_x, W_h, b))
        initial, inputs = tf.constant(h0, dtype), tf.constant(x, dtype)
        with tf.GradientTape() as tape:
            tape.watch([initial, inputs])
            states = [initial]
            for x_t in inputs:
                states.append(act.tensorflow(tf.matmul(x_t, Wx, transpose_b=True)
                                             + tf.matmul(states[-1], Wh, transpose_b=True) + bias))
            stacked = tf.stack(states)
            outputs = stacked[1:]
        grads = tape.gradient(outputs, [Wx, Wh, bias, initial, inputs], output_gradients=tf.constant(dL_dh, dtype),
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return RNNGradients(*(g.numpy() for g in grads), stacked.numpy())


FRAMEWORK_ENGINES = {"jax": bptt_jax, "tensorflow": bptt_tf}  # by gradproofs.frameworks.NAMES


# --- the LSTM -----------------------------------------------------------------

def _lstm_forward(x, h0, c0, W_ih, W_hh, b, sigmoid, tanh, forget_gate):
    """LSTMStates with lists: h, c ([0..T]), gates and pre-activations ([1..T])."""
    hidden = h0.shape[1]
    h, c, gates, pre = [h0], [c0], [], []
    for x_t in x:
        p = x_t @ W_ih.T + h[-1] @ W_hh.T + b
        i, f, g, o = (p[:, n * hidden:(n + 1) * hidden] for n in range(4))
        f = sigmoid(f) if forget_gate else np.ones_like(f)  # the 1997 cell: f_t ≡ 1 exactly
        i, g, o = sigmoid(i), tanh(g), sigmoid(o)
        c.append(f * c[-1] + i * g)
        h.append(o * tanh(c[-1]))
        gates.append(np.concatenate([i, f, g, o], axis=1))
        pre.append(p)
    return LSTMStates(h, c, gates, pre)


def _lstm_backward(x, h0, c0, W_ih, W_hh, b, dL_dh, sigmoid, sigmoid_prime, tanh, tanh_prime,
                   forget_gate) -> LSTMGradients:
    """The forward pass, then ĥ_t, ĉ_t and ∂L/∂p_t from t = T down to 1."""
    states = _lstm_forward(x, h0, c0, W_ih, W_hh, b, sigmoid, tanh, forget_gate)
    hidden = h0.shape[1]

    def split(values):
        return [values[:, n * hidden:(n + 1) * hidden] for n in range(4)]

    h_carried, c_carried = np.zeros_like(h0), np.zeros_like(c0)  # from step t + 1
    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b)
    dx = [None] * len(states.preactivations)
    for t in range(len(states.preactivations) - 1, -1, -1):
        i, f, g, o = split(states.gates[t])
        p_i, p_f, p_g, p_o = split(states.preactivations[t])
        c_t, c_previous = states.c[t + 1], states.c[t]
        dh = dL_dh[t] + h_carried
        dc = c_carried + dh * o * tanh_prime(c_t)
        dp_f = dc * c_previous * sigmoid_prime(p_f) if forget_gate else np.zeros_like(p_f)
        dp = np.concatenate([dc * g * sigmoid_prime(p_i), dp_f, dc * i * tanh_prime(p_g),
                             dh * tanh(c_t) * sigmoid_prime(p_o)], axis=1)
        dW_ih = dW_ih + dp.T @ x[t]
        dW_hh = dW_hh + dp.T @ states.h[t]
        db = db + dp.sum(axis=0)
        dx[t] = dp @ W_ih
        h_carried, c_carried = dp @ W_hh, dc * f
    return LSTMGradients(dW_ih, dW_hh, db, h_carried, c_carried, np.stack(dx) if dx else np.zeros(x.shape),
                         np.stack(states.h))


def _float_lstm_callables():
    sigmoid, tanh = activations.get("sigmoid"), activations.get("tanh")
    return sigmoid.numpy, sigmoid.numpy_derivative, tanh.numpy, tanh.numpy_derivative


def lstm_forward(x, h0, c0, W_ih, W_hh, b, *, forget_gate: bool = True) -> LSTMStates:
    """h_t, c_t (T+1, B, H), the gates [i, f, g, o] and p_t (T, B, 4H), in NumPy float64.

    ``forget_gate=False``: f_t ≡ 1 (the forget-gate rows of W_ih, W_hh and b are unused).
    """
    x, h0, c0, W_ih, W_hh, b = _check_lstm(x, h0, c0, W_ih, W_hh, b)
    sigmoid, _, tanh, _ = _float_lstm_callables()
    with np.errstate(over="ignore", under="ignore"):
        states = _lstm_forward(x, h0, c0, W_ih, W_hh, b, sigmoid, tanh, bool(forget_gate))
    empty = np.zeros((0, h0.shape[0], 4 * h0.shape[1]))  # T = 0: no gates
    return LSTMStates(np.stack(states.h), np.stack(states.c),
                      np.stack(states.gates) if states.gates else empty,
                      np.stack(states.preactivations) if states.preactivations else empty.copy())


def lstm_backward(x, h0, c0, W_ih, W_hh, b, dL_dh, *, forget_gate: bool = True) -> LSTMGradients:
    """∂L/∂W_ih, ∂L/∂W_hh, ∂L/∂b, ∂L/∂h_0, ∂L/∂c_0 in NumPy float64.

    σ′ and tanh′ are the hand-written derivatives of :mod:`gradproofs.activations`,
    formed from the pre-activations and from c_t. ``forget_gate=False``: f_t ≡ 1,
    and the forget-gate rows get zero gradient.
    """
    x, h0, c0, W_ih, W_hh, b = _check_lstm(x, h0, c0, W_ih, W_hh, b)
    dL_dh = _check_gradient(dL_dh, x, h0.shape[1])
    with np.errstate(over="ignore", under="ignore"):
        return _lstm_backward(x, h0, c0, W_ih, W_hh, b, dL_dh, *_float_lstm_callables(),
                              bool(forget_gate))


def lstm_backward_exact(x, h0, c0, W_ih, W_hh, b, dL_dh, *, forget_gate: bool = True,
                        dps: int = 40) -> LSTMGradients:
    """The same recurrence on object arrays of mpmath numbers, SymPy's σ, tanh and derivatives."""
    import mpmath

    x, h0, c0, W_ih, W_hh, b = _check_lstm(x, h0, c0, W_ih, W_hh, b)
    dL_dh = _check_gradient(dL_dh, x, h0.shape[1])
    dps = _validate.positive_int("dps", dps)
    sigmoid, sigmoid_prime = activations.mpmath_elementwise("sigmoid")
    tanh, tanh_prime = activations.mpmath_elementwise("tanh")
    float_sigmoid, _, float_tanh, _ = _float_lstm_callables()
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        floats = _lstm_forward(x, h0, c0, W_ih, W_hh, b, float_sigmoid, float_tanh, bool(forget_gate))
    extra = activations.extra_digits(activations.get("tanh"), *floats.preactivations, *floats.c)
    with mpmath.workdps(dps + extra):
        return _lstm_backward(*map(mpmath_array, (x, h0, c0, W_ih, W_hh, b, dL_dh)), sigmoid,
                              sigmoid_prime, tanh, tanh_prime, bool(forget_gate))


def lstm_backward_extended(x, h0, c0, W_ih, W_hh, b, dL_dh, *, forget_gate: bool = True) -> LSTMGradients:
    """The same recurrence in long double (:mod:`gradproofs.extended`): the exact reference of long sequences."""
    from gradproofs import extended

    x, h0, c0, W_ih, W_hh, b = _check_lstm(x, h0, c0, W_ih, W_hh, b)
    dL_dh = _check_gradient(dL_dh, x, h0.shape[1])
    with np.errstate(over="ignore", under="ignore"):
        return _lstm_backward(*extended.cast(x, h0, c0, W_ih, W_hh, b, dL_dh), *_float_lstm_callables(),
                              bool(forget_gate))


def cell_jacobian(x, h0, c0, W_ih, W_hh, b, t, *, forget_gate: bool = True) -> np.ndarray:
    """∂c_t/∂c_(t−1) with h_(t−1) held fixed, for every batch row: diag(f_t), (B, H, H).

    c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t, and with h_(t−1) (and x_t) fixed no gate
    depends on c_(t−1): the Jacobian is exactly diag(f_t), 1 ≤ t ≤ T; the
    identity with ``forget_gate=False``.
    """
    x, h0, c0, W_ih, W_hh, b = _check_lstm(x, h0, c0, W_ih, W_hh, b)
    t = _check_step("t", t, minimum=1, maximum=x.shape[0], maximum_is="T (the length of x)")
    hidden = h0.shape[1]
    states = lstm_forward(x[:t], h0, c0, W_ih, W_hh, b, forget_gate=forget_gate)
    forget = states.gates[t - 1][:, hidden:2 * hidden]
    return forget[:, :, None] * np.eye(hidden)


def lstm_backward_nn(x, h0, c0, W_ih, W_hh, b, dL_dh, *, device: str = "cpu",
                     dtype=None) -> LSTMGradients:
    """The same gradients through ``torch.nn.LSTM`` (one layer, batch_first=False) and autograd.

    ``weight_ih_l0`` = W_ih, ``weight_hh_l0`` = W_hh; the module adds two biases,
    so ``bias_ih_l0`` = b and ``bias_hh_l0`` = 0 (their gradients are equal;
    ``.b`` is that of ``bias_ih_l0``). The whole sequence goes through the
    module in one call, (h_0, c_0) as (1, B, H) each, differentiated through
    L = Σ_t ⟨dL_dh[t − 1], h_t⟩. With T = 0 the module (which refuses empty
    sequences) is not called: the gradients are 0. Tensors on ``device``.
    """
    x, h0, c0, W_ih, W_hh, b = _check_lstm(x, h0, c0, W_ih, W_hh, b)
    dL_dh = _check_gradient(dL_dh, x, h0.shape[1])
    torch, tensor = devices.tensors(device, dtype)
    if x.shape[0] == 0:
        return _empty_sequence(torch, tensor, (W_ih.shape, W_hh.shape, b.shape, h0.shape, c0.shape, x.shape),
                               h0, LSTMGradients)
    sample = tensor(0.0)
    module = torch.nn.LSTM(W_ih.shape[1], h0.shape[1], num_layers=1, batch_first=False,
                           device=sample.device, dtype=sample.dtype)
    with torch.no_grad():
        module.weight_ih_l0.copy_(tensor(W_ih))
        module.weight_hh_l0.copy_(tensor(W_hh))
        module.bias_ih_l0.copy_(tensor(b))
        module.bias_hh_l0.zero_()
    initial_h, initial_c, inputs = tensor(h0[None], True), tensor(c0[None], True), tensor(x, True)
    outputs, _ = module(inputs, (initial_h, initial_c))
    loss = (outputs * tensor(dL_dh)).sum()
    dW_ih, dW_hh, db, dh0, dc0, dx = torch.autograd.grad(
        loss, (module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, initial_h, initial_c, inputs))
    return LSTMGradients(dW_ih, dW_hh, db, dh0[0], dc0[0], dx,
                         torch.cat([initial_h.detach(), outputs.detach()]))


# --- judging a float engine against the exact gradients -----------------------

RNN_FIELDS = ("W_x", "W_h", "b", "h0", "x", "states")  # what Reference.assert_matches compares
LSTM_FIELDS = ("W_ih", "W_hh", "b", "h0", "c0", "x", "states")  # and LSTMReference.assert_matches


def _growth(rate: float, steps: int) -> float:
    """max(1, rate^steps), capped at e^700 rather than overflowing."""
    if steps <= 0 or rate <= 1.0:
        return 1.0
    return float(np.exp(min(steps * np.log(rate), 700.0)))


@dataclass(frozen=True, eq=False)
class Reference(compare.Reference):
    """An RNN problem with its exact gradients: what judging a float engine needs.

    Built by :func:`reference`; ``exact`` (:func:`bptt_exact`) is computed on
    first use, the rest from a float64 forward pass. A first-order bound on
    |computed − exact|, per machine epsilon eps (:mod:`gradproofs.formats`); all counts are in units of eps,
    numbers are absolute values of the problem.

    *Forward.* a_t = x_t W_xᵀ + h_(t−1) W_hᵀ + b is a sum of I + H + 1 terms,
    so a fresh rounding of at most (I + H + 1)·S, S = 1 + the largest sum of
    the absolute values of those terms (:attr:`summand`); evaluating f is off
    by at most 4|h|, which W_h carries into a_(t+1) as at most 4S more. An
    error e in a_(t−1) reaches a_t as at most ρe, ρ = γ‖W_h‖∞ (γ = sup |f′|).
    Summed over t ≤ T steps, every a_t is off by at most F = T·κ·(I + H + 5)·S
    (:attr:`forward_error`), κ = max(1, ρ^(T−1)) (:attr:`amplification`), and
    h_t by γF + 4|h_t| ≤ (γF + 4)(|h_t| + 1).

    *Backward.* :meth:`scales` runs the recurrence on absolute values
    (|∂L/∂h|, |f′|, |W_h|, |x|, |h| + 1): it gives E_t ≥ |δ_t|, the sum of the
    absolute values of every term float arithmetic adds to form δ_t, and the
    same for each gradient (its scale). A sum of products whose factors each
    carry a relative error u_k has error at most (Σ u_k)·scale (first order),
    so it suffices to count, per entry, the relative errors along the longest
    product: f′(a_t) is off by |f″/f′|·F (tanh 2, sigmoid 1, relu and identity
    0: relu′ is exact while no a_t lies within its error of the kink, which
    :meth:`well_conditioned` requires) plus 6 for evaluating it, and 1 more for
    the product with g_t; g_(t−1) adds H roundings in the product with W_h and
    1 in the sum, and inherits the worst relative error of δ_t in its batch
    row. The parameter gradients sum B·T terms (B·T roundings in the worst order a
    sum can take, a single product over all rows as here and in torch's kernels
    included; 1 more for the product); ∂L/∂W_h also carries h_(t−1)'s error (γF + 4 against |h| + 1).

    *Autograd* forms f′ from the output, 1 − h² or h(1 − h): the subtraction
    loses γ·eps absolute, 4γ/f′(a_t) more units of relative error (as in
    :class:`gradproofs.mlp.Reference`).

    *Inputs.* ∂L/∂x_t = δ_t W_x adds H roundings and 1 to the worst relative
    error of δ_t in its batch row.

    *Truncated* to k steps (``truncate``, :func:`truncated`): the recurrence on
    absolute values is truncated as well, so each scale sums the terms of the
    truncated gradient alone. Each term's chain of products is no longer than
    full BPTT's, so the count of its roundings above bounds it; δ_t sums up to
    k' + 1 parts (k' = min(k, T − 1)), in any order: k' more per step; and code
    that carries each loss term back on its own adds up to k' + 1 products per
    step into each parameter gradient: B·T·(k' + 1) terms in its sums.

    The tolerance is twice the first-order bound, for the second-order terms.
    """

    x: np.ndarray
    h0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    dL_dh: np.ndarray
    activation: str
    dps: int = 40
    # When ∂L/∂h_t is itself computed (a language model's output layer): the scale of dL_dh (the sum
    # of the absolute values of its terms) and its relative error in units of eps, (T, B, 1).
    # By default dL_dh is exact: |dL_dh| and 0.
    upstream_scale: np.ndarray | None = None
    upstream_units: np.ndarray | None = None
    engine: str = "auto"  # the exact values' engine: mpmath, or long double for long sequences
    truncate: int | None = None  # BPTT truncated to this many steps (truncated); None: full BPTT

    FIELDS = RNN_FIELDS

    @cached_property
    def exact(self) -> RNNGradients:
        problem = (self.x, self.h0, self.W_x, self.W_h, self.b, self.dL_dh)
        if self.extended:
            return bptt_extended(*problem, activation=self.activation, truncate=self.truncate)
        return bptt_exact(*problem, activation=self.activation, dps=self.dps, truncate=self.truncate)

    @property
    def operations(self) -> int:
        """T·B·H·(I + H) multiply-adds for each product of a pass."""
        T, B, inputs = self.x.shape
        return T * B * self.W_h.shape[0] * (inputs + self.W_h.shape[0])

    @cached_property
    def _forward(self):
        """h_0..h_T (T+1, B, H) and a_1..a_T (T, B, H) as the float64 engine forms them, and |f′(a_t)|."""
        act = activations.get(self.activation)
        with np.errstate(over="ignore", under="ignore"):
            states, pre = unroll(self.x, self.h0, self.W_x, self.W_h, self.b, act.numpy)
            pre = np.reshape(pre, (len(pre), *self.h0.shape))
            return np.stack(states), pre, np.abs(act.numpy_derivative(pre))

    @property
    def _gamma(self) -> float:
        return float(activations.get(self.activation).derivative_bound)

    @cached_property
    def summand(self) -> float:
        """S = 1 + the largest Σ_i |x_t,i W_x,ji| + Σ_k |h_(t−1),k W_h,jk| + |b_j| over t, rows and j."""
        states = self._forward[0]
        with np.errstate(over="ignore", under="ignore"):  # past the largest float: ∞
            sums = np.abs(self.x) @ np.abs(self.W_x).T + np.abs(states[:-1]) @ np.abs(self.W_h).T + np.abs(self.b)
        return 1.0 + float(sums.max(initial=0.0))

    @cached_property
    def amplification(self) -> float:
        """κ = max(1, ρ^(T−1)), ρ = γ‖W_h‖∞: how much an error in a_1 can grow by a_T."""
        return _growth(self._gamma * float(np.abs(self.W_h).sum(axis=1).max()), self.x.shape[0] - 1)

    @cached_property
    def forward_error(self) -> float:
        """F: every computed a_t is off by at most eps·F (first order)."""
        T, _, inputs = self.x.shape
        return T * self.amplification * (inputs + self.W_h.shape[0] + 5) * self.summand

    def well_conditioned(self, eps: float) -> bool:
        """Whether an engine with machine epsilon ``eps`` can be held to the exact gradients.

        Not when κ exceeds :data:`MAX_AMPLIFICATION`, nor, for relu, when a
        pre-activation lies within twice its forward error of 0, the kink where
        the derivative jumps. Both depend on the inputs alone, never on the result.
        """
        if self.amplification > MAX_AMPLIFICATION:
            return False
        margin = 2 * eps * self.forward_error
        return self.activation != "relu" or bool(np.all(np.abs(self._forward[1]) > margin))

    def _fprime_units(self, derivative_from_output: bool) -> np.ndarray:
        """The relative error of f′(a_t) in units of eps, (T, B, H)."""
        fprime = self._forward[2]
        curvature = {"tanh": 2.0, "sigmoid": 1.0}.get(self.activation)  # sup |f″/f′|
        if curvature is None:  # relu, identity: f′ is exact
            return np.zeros(fprime.shape)
        units = np.full(fprime.shape, curvature * self.forward_error + 6.0)
        if derivative_from_output:
            units = units + np.where(fprime > 0, 4.0 * self._gamma / np.where(fprime > 0, fprime, 1.0), 0.0)
        return units

    def scales(self) -> dict:
        """{field: scale}: the recurrence on absolute values (:func:`backpropagate` given |x|, |h| + 1,
        |f′(a_t)|, |W_x| and |W_h|), per entry of each gradient and the states."""
        states, _, fprime = self._forward
        upstream = np.abs(self.dL_dh) if self.upstream_scale is None else self.upstream_scale
        with np.errstate(over="ignore", under="ignore"):  # a scale past the largest float is ∞
            E = backpropagate(np.abs(self.x), np.abs(states) + 1.0, fprime, np.abs(self.W_x), np.abs(self.W_h),
                              self.b, upstream, lambda magnitude: magnitude, self.truncate)
        return {"W_x": E.W_x, "W_h": E.W_h, "b": E.b, "h0": E.h0, "x": E.x, "states": np.abs(states) + 1.0}

    def rounding_tolerance(self, eps: float, *, derivative_from_output: bool = False) -> dict:
        """{field: tolerance}: per entry, a bound on |computed − exact| / scale."""
        T, B, _ = self.x.shape
        H = self.W_h.shape[0]
        units = self._fprime_units(derivative_from_output)
        U = np.zeros(units.shape)  # the relative error of δ_t against E_t, in units of eps
        upstream = np.zeros((T, B, 1)) if self.upstream_units is None else self.upstream_units
        parts = 0 if self.truncate is None else min(self.truncate, max(T - 1, 0))  # k': more parts in δ_t
        carried = np.zeros((B, 1))
        for t in reversed(range(T)):
            U[t] = np.maximum(carried, upstream[t]) + units[t] + 1.0 + parts
            carried = U[t].max(axis=1, keepdims=True) + H + 1.0
        worst = U.max(axis=(0, 1), initial=0.0)[:, None]  # per row of W_x, W_h, entry of b
        sums = B * T * (parts + 1)  # a sum of B·T·(k' + 1) terms in any order
        h_units = self._gamma * self.forward_error + 4.0
        return {"W_x": 2 * eps * np.broadcast_to(worst + sums + 1.0, self.W_x.shape),
                "W_h": 2 * eps * np.broadcast_to(worst + sums + 1.0 + h_units, self.W_h.shape),
                "b": 2 * eps * (worst[:, 0] + sums),
                # at least one unit, so that T = 0 (no steps, ∂L/∂h_0 = 0) compares 0 with 0
                "h0": 2 * eps * np.broadcast_to(np.maximum(carried, 1.0), (B, H)),
                # ∂L/∂x_t = δ_t W_x: H roundings and 1 more on the worst of δ_t's row
                "x": 2 * eps * np.broadcast_to(U.max(axis=2, keepdims=True) + H + 1.0, self.x.shape),
                "states": np.full((T + 1, B, H), 2 * eps * h_units)}

    def _steps(self, t: int, k: int) -> tuple[int, int]:
        t = _check_step("t", t, minimum=0, maximum=self.x.shape[0], maximum_is="T (the length of x)")
        return t, _check_step("k", k, minimum=0, maximum=t, maximum_is="t (∂h_t/∂h_k needs k ≤ t)")

    def jacobian_scale(self, t: int, k: int) -> np.ndarray:
        """The scale of ∂h_t/∂h_k (:func:`jacobian`), (B, H, H): ∏ diag|f′(a_s)| |W_h|."""
        t, k = self._steps(t, k)
        fprime = self._forward[2]
        B, H = self.h0.shape
        scale = np.broadcast_to(np.eye(H), (B, H, H))
        with np.errstate(over="ignore", under="ignore"):  # past the largest float: ∞
            for s in range(k, t):
                scale = (fprime[s][:, :, None] * np.abs(self.W_h)) @ scale
        return np.array(scale)

    def jacobian_tolerance(self, t: int, k: int, eps: float, *,
                           derivative_from_output: bool = False) -> float:
        """A bound on |computed − exact| / scale for every entry of ∂h_t/∂h_k.

        Each of the t − k factors adds H roundings in the product, 1 in the
        scaling by f′ and f′'s own error; twice that, for the second-order
        terms. At t = k the identity is exact: one unit, so that 0 compares with 0.
        """
        t, k = self._steps(t, k)
        units = self._fprime_units(derivative_from_output)[k:t]
        steps = (t - k) * (self.W_h.shape[0] + 1.0 + float(units.max(initial=0.0)))
        return 2 * eps * max(steps, 1.0)


def reference(x, h0, W_x, W_h, b, dL_dh, *, activation: str = "tanh", dps: int = 40,
              engine: str = "auto", truncate: int | None = None) -> Reference:
    """The exact gradients with what judging a float engine needs: :func:`bptt_exact` (mpmath), or for
    long sequences (``engine="auto"``) :func:`bptt_extended` (:mod:`gradproofs.extended`); ``truncate=k``:
    of BPTT truncated to k steps (:func:`truncated`)."""
    from gradproofs import extended

    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    dL_dh = _check_gradient(dL_dh, x, W_h.shape[0])
    return Reference(x, h0, W_x, W_h, b, dL_dh, act.name, _validate.positive_int("dps", dps),
                     engine=_validate.choice("engine", engine, extended.ENGINES), truncate=check_truncate(truncate))


@dataclass(frozen=True, eq=False)
class ProjectedReference(compare.Reference):
    """An RNN problem with an output projection y_t = V h_t + c, given ∂L/∂y_t, with its exact gradients.

    Built by :func:`projected_reference`; ``exact`` is :func:`projected_exact` (or
    :func:`projected_extended` for long sequences). The hidden part is
    :class:`Reference`'s rounding model, fed ∂L/∂h_t = Vᵀ∂L/∂y_t, which a float
    engine computes: a sum of O products, off by at most O·eps against the scale
    |∂L/∂y_t||V| (the upstream scale and units given to :class:`Reference`).
    *Output gradients.* ∂L/∂V = Σ ∂L/∂y_t h_tᵀ sums B·T products (B·T roundings in
    any order, 1 for the product) of the exact ∂L/∂y_t and h_t, which carries
    γF + 4 against |h_t| + 1 (:meth:`Reference.rounding_tolerance`'s "states"):
    scale Σ |∂L/∂y_t|(|h_t| + 1)ᵀ; ∂L/∂c = Σ ∂L/∂y_t, B·T roundings against
    Σ |∂L/∂y_t|. Twice this first-order bound, as in the other references.
    Truncated BPTT (``truncate``) is the hidden part's; the output gradients are the same.
    """

    x: np.ndarray
    h0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    V: np.ndarray
    c: np.ndarray
    dL_dy: np.ndarray
    activation: str
    dps: int = 40
    engine: str = "auto"  # the exact values' engine: mpmath, or long double for long sequences
    truncate: int | None = None  # BPTT truncated to this many steps (truncated); None: full BPTT

    FIELDS = (*RNN_FIELDS, "V", "c")

    @cached_property
    def exact(self) -> ProjectedGradients:
        problem = (self.x, self.h0, self.W_x, self.W_h, self.b, self.V, self.c, self.dL_dy)
        if self.extended:
            return projected_extended(*problem, activation=self.activation, truncate=self.truncate)
        return projected_exact(*problem, activation=self.activation, dps=self.dps, truncate=self.truncate)

    @cached_property
    def hidden(self) -> Reference:
        """The hidden RNN's reference, fed ∂L/∂h_t = Vᵀ∂L/∂y_t with its scale and O units of error."""
        T, B, _ = self.x.shape
        return Reference(self.x, self.h0, self.W_x, self.W_h, self.b, self.dL_dy @ self.V, self.activation,
                         self.dps, upstream_scale=np.abs(self.dL_dy) @ np.abs(self.V),
                         upstream_units=np.full((T, B, 1), float(self.V.shape[0])), engine=self.engine,
                         truncate=self.truncate)

    @property
    def operations(self) -> int:
        """The hidden part's, and T·B·O·H for each product of the projection."""
        T, B, _ = self.x.shape
        return self.hidden.operations + T * B * self.V.size

    @property
    def forward_error(self) -> float:
        return self.hidden.forward_error

    def well_conditioned(self, eps: float) -> bool:
        """The hidden RNN's condition (:meth:`Reference.well_conditioned`)."""
        return self.hidden.well_conditioned(eps)

    def scales(self) -> dict:
        hidden = self.hidden.scales()
        rows = np.abs(self.dL_dy).reshape(-1, self.V.shape[0])
        states = hidden["states"][1:].reshape(rows.shape[0], self.V.shape[1])
        return {**hidden, "V": rows.T @ states, "c": rows.sum(axis=0)}

    def rounding_tolerance(self, eps: float, *, derivative_from_output: bool = False) -> dict:
        hidden = self.hidden.rounding_tolerance(eps, derivative_from_output=derivative_from_output)
        T, B, _ = self.x.shape
        h_units = self.hidden._gamma * self.hidden.forward_error + 4.0
        return {**hidden, "V": np.full(self.V.shape, 2 * eps * (h_units + B * T + 1.0)),
                "c": np.full(self.c.shape, 2 * eps * B * T)}


def projected_reference(x, h0, W_x, W_h, b, V, c, dL_dy, *, activation: str = "tanh", dps: int = 40,
                        engine: str = "auto", truncate: int | None = None) -> ProjectedReference:
    """:class:`ProjectedReference`: the exact gradients of an RNN with an output projection y_t = V h_t + c,
    given ∂L/∂y_t, with what judging a float engine needs; ``truncate=k``: of BPTT truncated to k steps."""
    from gradproofs import extended

    x, h0, W_x, W_h, b, act = _check(x, h0, W_x, W_h, b, activation)
    V, c, dL_dy = _check_projection(V, c, dL_dy, x, W_h.shape[0])
    return ProjectedReference(x, h0, W_x, W_h, b, V, c, dL_dy, act.name, _validate.positive_int("dps", dps),
                              engine=_validate.choice("engine", engine, extended.ENGINES),
                              truncate=check_truncate(truncate))


@dataclass(frozen=True, eq=False)
class LSTMReference(compare.Reference):
    """An LSTM problem with its exact gradients: what judging a float engine needs.

    Built by :func:`lstm_reference`; ``exact`` (:func:`lstm_backward_exact`) is
    computed on first use. A coarser first-order bound than :class:`Reference`'s,
    one tolerance per field.

    *Forward*, absolute errors in units of eps. p_t is a sum of I + H + 1
    terms: fresh error (I + H + 1)·S (:attr:`summand`). A gate is off by ¼ of
    p's error (σ′ ≤ ¼; tanh′ ≤ 1 for g) plus 4 for evaluating it; c_t = f c + i g
    by e_c + (C + 5)/4·e_p + 7C + 8 (C = 1 + max |c|), h_t by that plus
    e_p/4 + 10. An error e in h_(t−1), c_(t−1) reaches p_t as ‖W_hh‖∞·e, so each
    step maps e to at most ρe + fresh with ρ = 1 + ‖W_hh‖∞(C + 6)/4,
    fresh = (I + H + 1)S(C + 6)/4 + 7C + 18: every h_t, c_t is off by at most
    F = T·ρ^(T−1)·fresh (:attr:`forward_error`, ρ^(T−1) the
    :attr:`amplification`), every p_t by F_p = ‖W_hh‖∞F + (I + H + 1)S.

    *Backward*, as in :class:`Reference`: the recurrence on magnitudes gives
    each entry's scale; σ′, tanh′ and the gates have bounded log-derivatives
    (≤ 2), so they carry at most 2·max(F, F_p) + 5 relative units (φ) against
    their absolute value; g, tanh(c_t), c_(t−1) and h_(t−1) only an absolute
    error, so they enter the scale as |v| + 1. One step's longest product
    passes through four such factors and 4H + 6 roundings (ĥ's product with
    W_hh and sum, ĉ's two products and sum, ∂L/∂p's two products); autograd's
    derivatives from the output add 4γ/f′ on two of them (the smallest f′ of
    tanh(c_t), and of the gates the cell has). The sums over B·T terms add
    B·T + 1 (in any order); ∂L/∂h_0 and ∂L/∂x_t, products of ∂L/∂p_t with W_hh and W_ih,
    4H + 1.

    The tolerance is twice the first-order bound, for the second-order terms.
    """

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    b: np.ndarray
    dL_dh: np.ndarray
    forget_gate: bool = True
    dps: int = 40
    engine: str = "auto"  # the exact values' engine: mpmath, or long double for long sequences

    FIELDS = LSTM_FIELDS

    @cached_property
    def exact(self) -> LSTMGradients:
        problem = (self.x, self.h0, self.c0, self.W_ih, self.W_hh, self.b, self.dL_dh)
        if self.extended:
            return lstm_backward_extended(*problem, forget_gate=self.forget_gate)
        return lstm_backward_exact(*problem, forget_gate=self.forget_gate, dps=self.dps)

    @property
    def operations(self) -> int:
        """T·B·4H·(I + H) multiply-adds for each product of a pass."""
        T, B, inputs = self.x.shape
        return T * B * self.W_hh.shape[0] * (inputs + self.W_hh.shape[1])

    @cached_property
    def _forward(self) -> LSTMStates:
        return lstm_forward(self.x, self.h0, self.c0, self.W_ih, self.W_hh, self.b,
                            forget_gate=self.forget_gate)

    @property
    def _norm(self) -> float:
        with np.errstate(over="ignore"):  # past the largest float: ∞
            return float(np.abs(self.W_hh).sum(axis=1).max())  # ‖W_hh‖∞

    @cached_property
    def summand(self) -> float:
        """S = 1 + the largest sum of the absolute values of the terms of p_t."""
        with np.errstate(over="ignore", under="ignore"):  # past the largest float: ∞
            sums = (np.abs(self.x) @ np.abs(self.W_ih).T + np.abs(self._forward.h[:-1]) @ np.abs(self.W_hh).T
                    + np.abs(self.b))
        return 1.0 + float(sums.max(initial=0.0))

    @cached_property
    def amplification(self) -> float:
        """ρ^(T−1), ρ = 1 + ‖W_hh‖∞(C + 6)/4, C = 1 + max |c_t|."""
        cell = 1.0 + float(np.abs(self._forward.c).max())
        return _growth(1.0 + self._norm * (cell + 6) / 4, self.x.shape[0] - 1)

    @cached_property
    def forward_error(self) -> float:
        """F: every computed h_t and c_t is off by at most eps·F (first order)."""
        T, _, inputs = self.x.shape
        cell = 1.0 + float(np.abs(self._forward.c).max())
        width = inputs + self.h0.shape[1] + 1
        return T * self.amplification * (width * self.summand * (cell + 6) / 4 + 7 * cell + 18)

    def well_conditioned(self, eps: float) -> bool:
        """Whether the bound is tight enough to judge by: ρ^(T−1) ≤ :data:`MAX_AMPLIFICATION`.

        Depends on the inputs alone. σ and tanh have no kink, so unlike
        :meth:`Reference.well_conditioned` nothing depends on ``eps``.
        """
        return self.amplification <= MAX_AMPLIFICATION

    def _derivatives(self):
        """σ′(p_t) (T, B, 4H; every block, as if each gate were σ), tanh′(c_t) and tanh′(p^g_t)."""
        states, H = self._forward, self.h0.shape[1]
        sigmoid, tanh = activations.get("sigmoid"), activations.get("tanh")
        p = states.preactivations
        return (sigmoid.numpy_derivative(p), tanh.numpy_derivative(states.c[1:]),
                tanh.numpy_derivative(p[..., 2 * H:3 * H]))

    def scales(self) -> dict:
        """{field: scale}: the backward recurrence on magnitudes, per entry."""
        states, (B, H) = self._forward, self.h0.shape
        dsig, dtanh_c, dtanh_g = self._derivatives()
        i, f, g, o = (states.gates[..., n * H:(n + 1) * H] for n in range(4))
        scale = {field: np.zeros(getattr(self, field).shape) for field in ("W_ih", "W_hh", "b", "x")}
        dh_carried, dc_carried = np.zeros((B, H)), np.zeros((B, H))
        with np.errstate(over="ignore", under="ignore"):  # a scale past the largest float is ∞
            for t in reversed(range(self.x.shape[0])):
                dh = np.abs(self.dL_dh[t]) + dh_carried
                dc = dc_carried + dh * o[t] * dtanh_c[t]
                gate_terms = [dc * (np.abs(g[t]) + 1), dc * (np.abs(states.c[t]) + 1) * self.forget_gate,
                              dc * i[t], dh * (np.abs(np.tanh(states.c[t + 1])) + 1)]
                derivatives = [dsig[t, :, :H], dsig[t, :, H:2 * H], dtanh_g[t], dsig[t, :, 3 * H:]]
                dp = np.concatenate([v * d for v, d in zip(gate_terms, derivatives)], axis=1)
                scale["W_ih"] += dp.T @ np.abs(self.x[t])
                scale["W_hh"] += dp.T @ (np.abs(states.h[t]) + 1)
                scale["b"] += dp.sum(axis=0)
                scale["x"][t] = dp @ np.abs(self.W_ih)
                dh_carried, dc_carried = dp @ np.abs(self.W_hh), dc * f[t]
        return {**scale, "h0": dh_carried, "c0": dc_carried, "states": np.abs(states.h) + 1}

    def rounding_tolerance(self, eps: float, *, derivative_from_output: bool = False) -> dict:
        """{field: tolerance}: a bound on |computed − exact| / scale, one number per field."""
        T, B, inputs = self.x.shape
        H = self.h0.shape[1]
        F = self.forward_error
        F_p = self._norm * F + (inputs + H + 1) * self.summand
        phi = 2 * max(F, F_p) + 5
        from_output = 0.0
        if derivative_from_output and T:
            dsig, dtanh_c, dtanh_g = self._derivatives()
            if not self.forget_gate:  # the 1997 cell has no forget gate, so no σ′ of one
                dsig = np.delete(dsig, np.s_[H:2 * H], axis=2)
            with np.errstate(over="ignore", divide="ignore"):  # a saturated gate: ∞
                from_output = 4 / dtanh_c.min() + max(1 / dsig.min(), 4 / dtanh_g.min())
        U = T * (4 * H + 6 + 4 * phi + from_output)
        sums = B * T + 1  # a sum of B·T terms in any order, and the product
        tolerance = {"W_ih": U + sums, "W_hh": U + sums + F, "b": U + sums, "h0": U + 4 * H + 1,
                     "c0": U + phi + 1, "x": U + 4 * H + 1, "states": max(F, 1.0)}  # F = 0 when T = 0
        shapes = {"W_ih": self.W_ih.shape, "W_hh": self.W_hh.shape, "b": self.b.shape, "h0": self.h0.shape,
                  "c0": self.c0.shape, "x": self.x.shape, "states": (T + 1, B, H)}
        return {field: np.full(shapes[field], 2 * eps * units) for field, units in tolerance.items()}


def lstm_reference(x, h0, c0, W_ih, W_hh, b, dL_dh, *, forget_gate: bool = True, dps: int = 40,
                   engine: str = "auto") -> LSTMReference:
    """The exact gradients with what judging a float engine needs: :func:`lstm_backward_exact` (mpmath),
    or for long sequences (``engine="auto"``) :func:`lstm_backward_extended`."""
    from gradproofs import extended

    x, h0, c0, W_ih, W_hh, b = _check_lstm(x, h0, c0, W_ih, W_hh, b)
    dL_dh = _check_gradient(dL_dh, x, h0.shape[1])
    return LSTMReference(x, h0, c0, W_ih, W_hh, b, dL_dh, bool(forget_gate), _validate.positive_int("dps", dps),
                         _validate.choice("engine", engine, extended.ENGINES))
