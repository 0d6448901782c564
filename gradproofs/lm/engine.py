"""A character-level RNN language model: one-hot inputs, a tanh RNN, softmax outputs, summed cross-entropy.

The model of Britz's WildML RNN tutorial (part 3, BPTT) and Karpathy's
min-char-rnn (2015), over a batch of B sequences of T tokens from a
vocabulary of K (samples are rows, as in the rest of gradproofs):

    h_t = tanh(U e(x_t) + W h_(t−1) + b),   o_t = V h_t + c,   ŷ_t = softmax(o_t),
    E = Σ_t −log ŷ_t[y_t]                   (summed over time; the batch's mean, or its sum)

x_t and y_t are token ids (``tokens`` and ``targets``, (T, B)), e(v) the one-hot
vector of v (``tokens`` may also be given one-hot, (T, B, K)); U (H, K), W (H, H),
b (H,), V (K, H), c (K,), h_0 (B, H). Backpropagation through time, step by
step:

    δᵒ_t = ŷ_t − e(y_t)                                        (the output error)
    ∂E/∂V = Σ_t δᵒ_t h_tᵀ,   ∂E/∂c = Σ_t δᵒ_t
    g_t = Vᵀ δᵒ_t + Wᵀ δ_(t+1),   δ_t = g_t ⊙ (1 − h_t²)
    ∂E/∂U = Σ_t δ_t e(x_t)ᵀ,   ∂E/∂W = Σ_t δ_t h_(t−1)ᵀ,   ∂E/∂b = Σ_t δ_t,   ∂E/∂h_0 = Wᵀ δ_1

so column v of ∂E/∂U is the sum of δ_t over the steps whose input is v, and 0
for a token that never occurs. The hidden part is :mod:`gradproofs.rnn`'s Elman
RNN with W_x = U, inputs e(x_t) and ∂L/∂h_t = Vᵀ δᵒ_t; the recurrence is written
once and runs over float64 (``backward``) and mpmath (``backward_exact``, the
truth numeric checks compare with); ``backward_torch`` is independent: one-hot
inputs or ``nn.Embedding``, ``nn.RNN``, ``nn.Linear`` and
``F.cross_entropy(reduction="sum")`` through autograd. :func:`decomposition`
writes ∂E/∂W one loss term at a time, the form in which Pascanu et al.
(2013) explain vanishing and exploding gradients. Training the model by SGD
is :mod:`gradproofs.lm.training`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gradproofs import _validate, compare, devices
from gradproofs.activations import engine as activations
from gradproofs.errors import InvalidArgument
from gradproofs.rnn import engine as rnn

__all__ = [
    "REDUCTIONS", "LMGradients", "one_hot", "recurrence", "backward", "backward_exact", "backward_extended",
    "backward_torch", "softmax", "log_sum_exp", "decomposition", "decomposition_terms", "LM_FIELDS", "Reference",
    "reference"
]

REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class LMGradients:
    """∂E/∂U, ∂E/∂W, ∂E/∂b, ∂E/∂V, ∂E/∂c, ∂E/∂h_0 (B, H); the loss E; the states h_0..h_T
    (T+1, B, H) and the output probabilities ŷ_1..ŷ_T (T, B, K)."""

    U: Any
    W: Any
    b: Any
    V: Any
    c: Any
    h0: Any
    loss: Any
    states: Any
    probabilities: Any


# --- argument checks -------------------------------------------------------------------------------

def one_hot(tokens, size: int) -> np.ndarray:
    """e(x): the one-hot rows of integer ``tokens`` (any shape) in a vocabulary of ``size``."""
    return np.eye(size)[np.asarray(tokens)]


def _tokens(name: str, value, vocabulary: int) -> np.ndarray:
    """Integer token ids (T, B), T ≥ 1, each in [0, vocabulary); or one-hot rows (T, B, K) → ids."""
    array = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    if array.ndim == 3:
        if array.shape[2] != vocabulary:
            raise InvalidArgument(f"{name} given one-hot must have shape (T, B, {vocabulary}) (the vocabulary of U), "
                             f"got {array.shape}")
        if array.dtype.kind not in "biuf" or not np.all((array == 0) | (array == 1)) \
                or not np.all(array.sum(axis=2) == 1):
            bad = np.argwhere(~(((array == 0) | (array == 1)).all(axis=2) & (array.sum(axis=2) == 1)))[0]
            raise InvalidArgument(f"{name} given one-hot must hold exactly one 1 and otherwise 0 in each row; row "
                             f"{tuple(int(i) for i in bad)} is {array[tuple(bad)].tolist()}")
        array = array.argmax(axis=2)
    elif array.dtype.kind not in "iu" or array.dtype == bool:
        raise InvalidArgument(f"{name} must be integer token ids (T, B) or one-hot rows (T, B, K), got dtype "
                        f"{array.dtype} and shape {array.shape}")
    if array.ndim != 2:
        raise InvalidArgument(f"{name} must have shape (T, B) (or (T, B, K) one-hot), got {array.shape}")
    if array.shape[0] == 0:
        raise InvalidArgument(f"{name} must hold at least one step (T = 0 has no loss to differentiate)")
    if array.shape[1] == 0:
        raise InvalidArgument(f"{name} must hold at least one sequence (B ≥ 1)")
    if array.size and (array.min() < 0 or array.max() >= vocabulary):
        bad = np.argwhere((array < 0) | (array >= vocabulary))[0]
        raise InvalidArgument(f"{name} must lie in [0, {vocabulary}) (the vocabulary of U), got {array[tuple(bad)]} "
                         f"at {tuple(int(i) for i in bad)}")
    return np.array(array, dtype=np.int64)


def _check(tokens, targets, h0, U, W, b, V, c, reduction):
    U = _validate.real_array("U", U, ndim=2)
    hidden, vocabulary = U.shape
    if hidden == 0:
        raise InvalidArgument(f"U must have shape (H, K) with H ≥ 1, got {U.shape}")
    if vocabulary < 2:
        raise InvalidArgument(f"U must have at least 2 columns (a vocabulary of K ≥ 2 tokens), got shape {U.shape}")
    W = _validate.real_array("W", W, ndim=2)
    if W.shape != (hidden, hidden):
        raise InvalidArgument(f"W must have shape ({hidden}, {hidden}) to match U of shape {U.shape}, got {W.shape}")
    b = _validate.real_array("b", b, ndim=1)
    if b.shape != (hidden,):
        raise InvalidArgument(f"b must have shape ({hidden},) to match U, got {b.shape}")
    V = _validate.real_array("V", V, ndim=2)
    if V.shape != (vocabulary, hidden):
        raise InvalidArgument(f"V must have shape ({vocabulary}, {hidden}) (K, H) to match U of shape {U.shape}, "
                         f"got {V.shape}")
    c = _validate.real_array("c", c, ndim=1)
    if c.shape != (vocabulary,):
        raise InvalidArgument(f"c must have shape ({vocabulary},) to match V, got {c.shape}")
    x = _tokens("tokens", tokens, vocabulary)
    y = _tokens("targets", targets, vocabulary)
    if y.shape != x.shape:
        raise InvalidArgument(f"targets must have the shape of tokens, (T, B) = {x.shape}, got {y.shape}")
    h0 = _validate.real_array("h0", h0, ndim=2)
    if h0.shape != (x.shape[1], hidden):
        raise InvalidArgument(f"h0 must have shape (B, H) = ({x.shape[1]}, {hidden}), got {h0.shape}")
    return x, y, h0, U, W, b, V, c, _validate.choice("reduction", reduction, REDUCTIONS)


# --- one recurrence over float64 or mpmath ------------------------------------------------------------

def recurrence(x, y, h0, U, W, b, V, c, reduction, tanh, tanh_prime, softmax, log_sum_exp,
               truncate: int | None = None) -> LMGradients:
    """Forward, the output errors δᵒ_t, then :func:`gradproofs.rnn.backpropagate` with ∂L/∂h_t = δᵒ_t V
    (``truncate=k``: truncated to k steps, :func:`gradproofs.rnn.truncated`; V's and c's gradients
    are those of full BPTT, which never carries them back).

    The loss is Σ_t log Σ_k exp(o_tk) − o_t[y_t], the cross-entropy written so that a target
    probability that underflows does not make it infinite.
    """
    vocabulary = U.shape[1]
    inputs = one_hot(x, vocabulary)
    states, pre = rnn.unroll(inputs, h0, U, W, b, tanh)
    outputs = [h @ V.T + c for h in states[1:]]
    probabilities = [softmax(o) for o in outputs]
    targets = one_hot(y, vocabulary)
    delta_o = [p - e for p, e in zip(probabilities, targets)]
    hidden = rnn.backpropagate(inputs, states, pre, U, W, b, [d @ V for d in delta_o], tanh_prime, truncate)
    dV = sum(d.T @ h for d, h in zip(delta_o, states[1:]))
    dc = sum(d.sum(axis=0) for d in delta_o)
    loss = sum((log_sum_exp(o) - o[np.arange(len(o)), y_t]).sum() for o, y_t in zip(outputs, y))
    batch = x.shape[1] if reduction == "mean" else 1
    return LMGradients(hidden.W_x / batch, hidden.W_h / batch, hidden.b / batch, dV / batch, dc / batch,
                       hidden.h0 / batch, loss / batch, np.stack(states), np.stack(probabilities))


def softmax(o):
    """exp(o_k) / Σ_j exp(o_j) per row, shifted by the row's largest o_k so that nothing overflows."""
    shifted = np.exp(o - o.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def log_sum_exp(o):
    """log Σ_k exp(o_k) per row, shifted by the row's largest o_k so that nothing overflows."""
    largest = o.max(axis=1)
    return largest + np.log(np.exp(o - largest[:, None]).sum(axis=1))


def backward(tokens, targets, h0, U, W, b, V, c, *, reduction: str = "mean",
             truncate: int | None = None) -> LMGradients:
    """The gradients by BPTT in NumPy float64, vectorised over the batch; tanh′ = 1 − h² from the
    pre-activation (:mod:`gradproofs.activations`)."""
    x, y, h0, U, W, b, V, c, reduction = _check(tokens, targets, h0, U, W, b, V, c, reduction)
    tanh = activations.get("tanh")
    with np.errstate(over="ignore", under="ignore"):
        return recurrence(x, y, h0, U, W, b, V, c, reduction, tanh.numpy, tanh.numpy_derivative, softmax, log_sum_exp,
                          rnn.check_truncate(truncate))


def backward_exact(tokens, targets, h0, U, W, b, V, c, *, reduction: str = "mean", dps: int = 40,
                   truncate: int | None = None) -> LMGradients:
    """The same recurrence on object arrays of mpmath numbers with ``dps`` digits (SymPy's tanh and
    tanh′); the inputs are taken as the float64 numbers they round to. Slow: for small T, B, K, H."""
    import mpmath

    x, y, h0, U, W, b, V, c, reduction = _check(tokens, targets, h0, U, W, b, V, c, reduction)
    dps = _validate.positive_int("dps", dps)
    tanh, tanh_prime = activations.mpmath_elementwise("tanh")
    exp, log = np.frompyfunc(mpmath.exp, 1, 1), np.frompyfunc(mpmath.log, 1, 1)

    def softmax(o):
        shifted = exp(o - o.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def log_sum_exp(o):  # exact arithmetic: no shift needed
        return log(exp(o).sum(axis=1))

    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        pre = rnn.unroll(one_hot(x, U.shape[1]), h0, U, W, b, np.tanh)[1]
    with mpmath.workdps(dps + activations.extra_digits(activations.get("tanh"), *pre)):
        return recurrence(x, y, *map(rnn.mpmath_array, (h0, U, W, b, V, c)), reduction, tanh, tanh_prime, softmax,
                          log_sum_exp, rnn.check_truncate(truncate))


def backward_extended(tokens, targets, h0, U, W, b, V, c, *, reduction: str = "mean",
                      truncate: int | None = None) -> LMGradients:
    """The same recurrence in long double (:mod:`gradproofs.extended`): the exact reference of long sequences."""
    from gradproofs import extended

    x, y, h0, U, W, b, V, c, reduction = _check(tokens, targets, h0, U, W, b, V, c, reduction)
    tanh = activations.get("tanh")
    with np.errstate(over="ignore", under="ignore"):
        return recurrence(x, y, *extended.cast(h0, U, W, b, V, c), reduction, tanh.numpy, tanh.numpy_derivative,
                          softmax, log_sum_exp, rnn.check_truncate(truncate))


def backward_torch(tokens, targets, h0, U, W, b, V, c, *, reduction: str = "mean", embedding: bool = False,
                   device: str = "cpu", dtype=None) -> LMGradients:
    """The same model as a torch user writes it, through autograd: one-hot inputs into ``nn.RNN``
    (``weight_ih_l0`` = U), or with ``embedding=True`` an ``nn.Embedding`` whose weight is Uᵀ
    feeding ``nn.RNN`` through a fixed identity ``weight_ih_l0``; ``nn.Linear`` (V, c) and
    ``F.cross_entropy(reduction="sum")`` over every step, divided by B for the mean. The RNN's
    two biases are b and 0. Tensors on ``device``."""
    x, y, h0, U, W, b, V, c, reduction = _check(tokens, targets, h0, U, W, b, V, c, reduction)
    torch, tensor = devices.tensors(device, dtype)
    steps, batch = x.shape
    (hidden, vocabulary), sample = U.shape, tensor(0.0)
    options = dict(device=sample.device, dtype=sample.dtype)
    module = torch.nn.RNN(hidden if embedding else vocabulary, hidden, nonlinearity="tanh", **options)
    output = torch.nn.Linear(hidden, vocabulary, **options)
    tokens_t = torch.as_tensor(x, device=sample.device)
    with torch.no_grad():
        module.weight_hh_l0.copy_(tensor(W))
        module.bias_ih_l0.copy_(tensor(b))
        module.bias_hh_l0.zero_()
        output.weight.copy_(tensor(V))
        output.bias.copy_(tensor(c))
        if embedding:
            lookup = torch.nn.Embedding(vocabulary, hidden, **options)
            lookup.weight.copy_(tensor(U.T))
            module.weight_ih_l0.copy_(torch.eye(hidden, **options))
        else:
            module.weight_ih_l0.copy_(tensor(U))
    module.weight_ih_l0.requires_grad_(not embedding)
    inputs = lookup(tokens_t) if embedding else torch.nn.functional.one_hot(tokens_t, vocabulary).to(sample.dtype)
    initial = tensor(h0[None], True)
    states, _ = module(inputs, initial)
    logits = output(states)
    loss = torch.nn.functional.cross_entropy(logits.reshape(steps * batch, vocabulary),
                                             torch.as_tensor(y, device=sample.device).reshape(-1), reduction="sum")
    if reduction == "mean":
        loss = loss / batch
    dU = lookup.weight if embedding else module.weight_ih_l0
    grads = torch.autograd.grad(loss, (dU, module.weight_hh_l0, module.bias_ih_l0, output.weight, output.bias,
                                       initial))
    return LMGradients(grads[0].T if embedding else grads[0], *grads[1:5], grads[5][0], loss.detach(),
                       torch.cat([initial.detach(), states.detach()]), torch.softmax(logits, dim=2).detach())


# --- why the gradients vanish or explode: one loss term at a time ------------------------------------

def decomposition(tokens, targets, h0, U, W, b, V, c, *, exact: bool = False, dps: int = 40):
    """∂E/∂W one loss term at a time, as Pascanu et al. (2013, eq. 3–5) write it:
    Σ_k Σ_(t≤k) ∂E_k/∂H_k · (∏_(j=t+1..k) ∂H_j/∂H_(j−1)) · ∂⁺H_t/∂W.

    E_k = −log ŷ_k[y_k] is step k's loss and H_k = h_k; ∂H_j/∂H_(j−1) =
    diag(tanh′(a_j))·W; ∂⁺H_t/∂W is the immediate partial (H_(t−1) held fixed),
    whose product with a row vector g is (g ⊙ tanh′(a_t))ᵀ h_(t−1). O(T²) products
    of Jacobians, summed over the batch: the same number as BPTT's ∂E/∂W (with the
    batch's sum, ``reduction="sum"``), term by term. ``exact=True``: in mpmath
    with ``dps`` digits (and ten more for the sums).
    """
    import mpmath

    x, y, h0, U, W, b, V, c, _ = _check(tokens, targets, h0, U, W, b, V, c, "sum")
    if exact:
        gradients = backward_exact(x, y, h0, U, W, b, V, c, reduction="sum", dps=dps)
        tanh_prime = activations.mpmath_elementwise("tanh")[1]
        U, W, b, V = map(rnn.mpmath_array, (U, W, b, V))
    else:
        gradients = backward(x, y, h0, U, W, b, V, c, reduction="sum")
        tanh_prime = activations.get("tanh").numpy_derivative
    states, inputs = gradients.states, one_hot(x, U.shape[1])
    with mpmath.workdps(dps + 10), np.errstate(over="ignore", under="ignore"):
        delta_o = gradients.probabilities - one_hot(y, U.shape[1])
        pre = [inputs[t] @ U.T + states[t] @ W.T + b for t in range(x.shape[0])]
        return decomposition_terms(states, pre, delta_o, W, V, tanh_prime)


def decomposition_terms(states, pre, delta_o, W, V, fprime):
    """The double sum of :func:`decomposition` over any number system (float, mpmath, SymPy)."""
    total = np.zeros(W.shape, dtype=W.dtype)
    for k in range(len(pre)):
        g = delta_o[k] @ V  # ∂E_k/∂H_k, one row per sequence
        for t in range(k, -1, -1):
            local = g * fprime(pre[t])  # g · diag(f′(a_t))
            total = total + local.T @ states[t]  # · ∂⁺H_t/∂W
            g = local @ W  # · ∂H_t/∂H_(t−1)
    return total


# --- judging a float engine against the exact gradients ----------------------------------------------

LM_FIELDS = ("U", "W", "b", "V", "c", "h0")


@dataclass(frozen=True, eq=False)
class Reference(compare.Reference):
    """A language-model problem with its exact gradients: what judging a float engine needs.

    Built by :func:`reference`. The hidden part is :class:`gradproofs.rnn.Reference`'s
    rounding model (inputs e(x_t), W_x = U, tanh), fed ∂L/∂h_t = Vᵀ δᵒ_t, which is
    itself computed; per machine epsilon eps, counting in units of eps:

    *Output layer.* o_t = V h_t + c sums H + 1 terms; with h_t off by (F + 4)(|h_t| + 1)
    (F the hidden forward error), o_t is off by at most e_o = (H + 5 + F)·S_o,
    S_o = (|h_t| + 1)|V|ᵀ + |c|, its largest entry per row. The softmax's log
    moves by at most twice the largest error of o (the log-sum-exp is 1-Lipschitz
    in the max norm), and exp, the sum of K terms and the division add K + 4:
    ŷ_t is off by 2e_o + K + 4 relative. δᵒ_t = ŷ_t − e(y_t) adds 1, against the
    scale D_t = ŷ_t + e(y_t): u_t = 2e_o + K + 5 per row.

    *Into the hidden part.* Vᵀ δᵒ_t adds K + 1 to u_t, against D_t|V|: that is
    the upstream scale and error given to :class:`gradproofs.rnn.Reference`,
    which bounds ∂E/∂U, ∂E/∂W, ∂E/∂b and ∂E/∂h_0.

    *Output gradients.* ∂E/∂V = Σ δᵒ_t h_tᵀ: u_t, h_t's F + 4 against |h_t| + 1,
    B·T for the sum (in any order) and 1 for the product; ∂E/∂c = Σ δᵒ_t: u_t + B·T. The
    mean over the batch adds 1 everywhere. Twice this first-order bound, as in
    the other references. Truncated BPTT (``truncate``) is the hidden part's
    (:class:`gradproofs.rnn.Reference`); the output layer's gradients are the same.
    """

    tokens: np.ndarray
    targets: np.ndarray
    h0: np.ndarray
    U: np.ndarray
    W: np.ndarray
    b: np.ndarray
    V: np.ndarray
    c: np.ndarray
    reduction: str = "mean"
    dps: int = 40
    engine: str = "auto"  # the exact values' engine: mpmath, or long double for long sequences
    truncate: int | None = None  # BPTT truncated to this many steps; None: full BPTT

    FIELDS = LM_FIELDS

    @cached_property
    def exact(self) -> LMGradients:
        problem = (self.tokens, self.targets, self.h0, self.U, self.W, self.b, self.V, self.c)
        if self.extended:
            return backward_extended(*problem, reduction=self.reduction, truncate=self.truncate)
        return backward_exact(*problem, reduction=self.reduction, dps=self.dps, truncate=self.truncate)

    @property
    def operations(self) -> int:
        """T·B·(H·(K + H) + K·H) multiply-adds for each product of a pass."""
        T, B = self.tokens.shape
        H, K = self.U.shape
        return T * B * H * (2 * K + H)

    @cached_property
    def _floats(self) -> LMGradients:
        return backward(self.tokens, self.targets, self.h0, self.U, self.W, self.b, self.V, self.c,
                        reduction=self.reduction)

    @property
    def _batch(self) -> float:
        return float(self.tokens.shape[1]) if self.reduction == "mean" else 1.0

    @cached_property
    def _output(self):
        """(D, u): the scale ŷ_t + e(y_t) of δᵒ_t (T, B, K) and its relative error in units (T, B, 1)."""
        H, K = self.U.shape
        states, probabilities = self._floats.states[1:], self._floats.probabilities
        F = self.hidden_part(None).forward_error
        S_o = (np.abs(states) + 1) @ np.abs(self.V).T + np.abs(self.c)
        e_o = ((H + 5 + F) * S_o).max(axis=2, keepdims=True)
        return probabilities + one_hot(self.targets, K), 2 * e_o + K + 5

    def hidden_part(self, units) -> rnn.Reference:
        """The hidden RNN's reference, fed the computed ∂L/∂h_t = Vᵀ δᵒ_t (its scale, and with
        ``units`` its error; None while the output layer's own error is being worked out)."""
        K = self.U.shape[1]
        floats = self._floats
        delta_o = floats.probabilities - one_hot(self.targets, K)
        upstream = None if units is None else self._output[0] @ np.abs(self.V)
        return rnn.Reference(one_hot(self.tokens, K), self.h0, self.U, self.W, self.b, delta_o @ self.V, "tanh",
                             upstream_scale=upstream, upstream_units=units, truncate=self.truncate)

    @cached_property
    def _hidden(self) -> rnn.Reference:
        _, u = self._output
        return self.hidden_part(u + self.U.shape[1] + 1)

    @property
    def forward_error(self) -> float:
        return self._hidden.forward_error

    def well_conditioned(self, eps: float) -> bool:
        """The hidden RNN's condition (:meth:`gradproofs.rnn.Reference.well_conditioned`)."""
        return self._hidden.well_conditioned(eps)

    def scales(self) -> dict:
        hidden = self._hidden.scales()
        D, _ = self._output
        states = np.abs(self._floats.states[1:]) + 1
        batch = self._batch
        return {"U": hidden["W_x"] / batch, "W": hidden["W_h"] / batch, "b": hidden["b"] / batch,
                "h0": hidden["h0"] / batch, "V": np.einsum("tbk,tbh->kh", D, states) / batch,
                "c": D.sum(axis=(0, 1)) / batch}

    def rounding_tolerance(self, eps: float, *, derivative_from_output: bool = False) -> dict:
        hidden = self._hidden.rounding_tolerance(eps, derivative_from_output=derivative_from_output)
        _, u = self._output
        T, B = self.tokens.shape
        worst = float(u.max())
        h_units = self._hidden.forward_error + 4
        mean = 1.0 if self.reduction == "mean" else 0.0
        return {"U": hidden["W_x"] + 2 * eps * mean, "W": hidden["W_h"] + 2 * eps * mean,
                "b": hidden["b"] + 2 * eps * mean, "h0": hidden["h0"] + 2 * eps * mean,
                "V": np.full(self.V.shape, 2 * eps * (worst + h_units + B * T + 1 + mean)),
                "c": np.full(self.c.shape, 2 * eps * (worst + B * T + mean))}


def reference(tokens, targets, h0, U, W, b, V, c, *, reduction: str = "mean", dps: int = 40,
              engine: str = "auto", truncate: int | None = None) -> Reference:
    """The exact gradients with what judging a float engine needs: :func:`backward_exact` (mpmath), or for
    long sequences (``engine="auto"``) :func:`backward_extended` (:mod:`gradproofs.extended`); ``truncate=k``:
    of BPTT truncated to k steps (:func:`gradproofs.rnn.truncated`)."""
    from gradproofs import extended

    x, y, h0, U, W, b, V, c, reduction = _check(tokens, targets, h0, U, W, b, V, c, reduction)
    return Reference(x, y, h0, U, W, b, V, c, reduction, _validate.positive_int("dps", dps),
                     _validate.choice("engine", engine, extended.ENGINES), rnn.check_truncate(truncate))
