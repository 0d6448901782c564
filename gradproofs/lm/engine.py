"""The seed's recurrent language model: one-hot inputs, a tanh RNN, softmax outputs, summed cross-entropy.

The Simple RNN of the "BPTT steps" notes, over a batch of B sequences of T
tokens from a vocabulary of K (samples are rows, as in the rest of gradproofs):

    h_t = tanh(U e(x_t) + W h_(t−1) + b),   o_t = V h_t + c,   ŷ_t = softmax(o_t),
    E = Σ_t −log ŷ_t[y_t]                   (summed over time; the batch's mean, or its sum)

x_t and y_t are token ids (``tokens`` and ``targets``, (T, B)), e(v) the one-hot
vector of v (``tokens`` may also be given one-hot, (T, B, K)); U (H, K), W (H, H),
b (H,), V (K, H), c (K,), h_0 (B, H). Backpropagation through time, the notes'
steps:

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
writes ∂E/∂W one loss term at a time, as the notes explain vanishing and
exploding gradients; :func:`train` and :func:`train_torch` train the model by
SGD on a generated text, unclipped, value-clipped at 15 and norm-clipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gradproofs import _validate, compare, devices
from gradproofs.activations import engine as activations
from gradproofs.rnn import cliff, engine as rnn
from gradproofs.errors import InvalidArgument

__all__ = [
    "REDUCTIONS", "LMGradients", "one_hot", "recurrence", "backward", "backward_exact", "backward_extended",
    "backward_torch", "decomposition", "decomposition_terms", "LM_FIELDS", "Reference", "reference", "PHRASES",
    "TEXT", "VOCABULARY", "TEXT_TOKENS", "CLIPS", "VALUE_THRESHOLD", "NORM_THRESHOLD", "LR", "STEPS", "HIDDEN",
    "SEQ_LENGTH", "BATCH", "SEED", "INITIAL_SCALE", "Training", "flatten", "parameter_count", "split",
    "initial_parameters", "windows", "train", "train_torch"
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

def recurrence(x, y, h0, U, W, b, V, c, reduction, tanh, tanh_prime, softmax, log_sum_exp) -> LMGradients:
    """Forward, the output errors δᵒ_t, then :func:`gradproofs.rnn.backpropagate` with ∂L/∂h_t = δᵒ_t V.

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
    hidden = rnn.backpropagate(inputs, states, pre, U, W, b, [d @ V for d in delta_o], tanh_prime)
    dV = sum(d.T @ h for d, h in zip(delta_o, states[1:]))
    dc = sum(d.sum(axis=0) for d in delta_o)
    loss = sum((log_sum_exp(o) - o[np.arange(len(o)), y_t]).sum() for o, y_t in zip(outputs, y))
    batch = x.shape[1] if reduction == "mean" else 1
    return LMGradients(hidden.W_x / batch, hidden.W_h / batch, hidden.b / batch, dV / batch, dc / batch,
                       hidden.h0 / batch, loss / batch, np.stack(states), np.stack(probabilities))


def _softmax(o):
    shifted = np.exp(o - o.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _log_sum_exp(o):
    """log Σ_k exp(o_k) per row, shifted by the row's largest o_k so that nothing overflows."""
    largest = o.max(axis=1)
    return largest + np.log(np.exp(o - largest[:, None]).sum(axis=1))


def backward(tokens, targets, h0, U, W, b, V, c, *, reduction: str = "mean") -> LMGradients:
    """The gradients by BPTT in NumPy float64, vectorised over the batch; tanh′ = 1 − h² from the
    pre-activation (:mod:`gradproofs.activations`)."""
    x, y, h0, U, W, b, V, c, reduction = _check(tokens, targets, h0, U, W, b, V, c, reduction)
    tanh = activations.get("tanh")
    with np.errstate(over="ignore", under="ignore"):
        return recurrence(x, y, h0, U, W, b, V, c, reduction, tanh.numpy, tanh.numpy_derivative, _softmax, _log_sum_exp)


def backward_exact(tokens, targets, h0, U, W, b, V, c, *, reduction: str = "mean", dps: int = 40) -> LMGradients:
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
        return recurrence(x, y, *map(rnn.mpmath_array, (h0, U, W, b, V, c)), reduction, tanh, tanh_prime, softmax, log_sum_exp)


def backward_extended(tokens, targets, h0, U, W, b, V, c, *, reduction: str = "mean") -> LMGradients:
    """The same recurrence in long double (:mod:`gradproofs.extended`): the exact reference of long sequences."""
    from gradproofs import extended

    x, y, h0, U, W, b, V, c, reduction = _check(tokens, targets, h0, U, W, b, V, c, reduction)
    tanh = activations.get("tanh")
    with np.errstate(over="ignore", under="ignore"):
        return recurrence(x, y, *extended.cast(h0, U, W, b, V, c), reduction, tanh.numpy, tanh.numpy_derivative, _softmax,
                   _log_sum_exp)


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
    """∂E/∂W as the notes decompose it: Σ_k Σ_(t≤k) ∂E_k/∂H_k · (∏_(j=t+1..k) ∂H_j/∂H_(j−1)) · ∂⁺H_t/∂W.

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
    the other references.
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

    FIELDS = LM_FIELDS

    @cached_property
    def exact(self) -> LMGradients:
        problem = (self.tokens, self.targets, self.h0, self.U, self.W, self.b, self.V, self.c)
        if self.extended:
            return backward_extended(*problem, reduction=self.reduction)
        return backward_exact(*problem, reduction=self.reduction, dps=self.dps)

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
                             upstream_scale=upstream, upstream_units=units)

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
              engine: str = "auto") -> Reference:
    """The exact gradients with what judging a float engine needs: :func:`backward_exact` (mpmath), or for
    long sequences (``engine="auto"``) :func:`backward_extended` (:mod:`gradproofs.extended`)."""
    from gradproofs import extended

    x, y, h0, U, W, b, V, c, reduction = _check(tokens, targets, h0, U, W, b, V, c, reduction)
    return Reference(x, y, h0, U, W, b, V, c, reduction, _validate.positive_int("dps", dps),
                     _validate.choice("engine", engine, extended.ENGINES))


# --- training by SGD, with and without clipping ------------------------------------------------------

PHRASES = ("the cat sat on the mat. ", "a dog ran to the park. ", "she sees the sun. ", "we like red fish. ")
TEXT = "".join(PHRASES) * 40  # 3320 characters, generated: nothing to download or ship
VOCABULARY = "".join(sorted(set(TEXT)))  # K = 21 characters
TEXT_TOKENS = np.array([VOCABULARY.index(ch) for ch in TEXT])
CLIPS = (None, "value", "norm")
VALUE_THRESHOLD = cliff.VALUE_THRESHOLD  # 15: "when the slope exceeds 15, set it to 15"
NORM_THRESHOLD = 25.0  # τ
LR = 0.012
STEPS = 300
HIDDEN, SEQ_LENGTH, BATCH, SEED = 16, 50, 4, 2
INITIAL_SCALE = 0.5  # U and V's entries are N(0, 0.5²)
_PARAMETERS = ("U", "W", "b", "V", "c")


@dataclass(frozen=True)
class Training:
    """SGD on θ = (U, W, b, V, c), flattened in that order into P = 2HK + H² + H + K numbers.

    ``parameters[k]`` is θ before step k (the last row, θ after the last step),
    ``losses[k]`` E(θ_k) on step k's batch and ``gradient_norms[k]`` ‖∇E(θ_k)‖₂
    before clipping (torch's total norm: the 2-norm of the per-parameter 2-norms).
    """

    parameters: np.ndarray      # (steps + 1, P)
    losses: np.ndarray          # (steps,)
    gradient_norms: np.ndarray  # (steps,)

    def __post_init__(self):
        for array in (self.parameters, self.losses, self.gradient_norms):
            array.flags.writeable = False  # a record: shared safely

    @property
    def updates(self) -> np.ndarray:
        """The parameter changes θ_(k+1) − θ_k, (steps, P)."""
        return np.diff(self.parameters, axis=0)

    @property
    def update_norms(self) -> np.ndarray:
        """‖θ_(k+1) − θ_k‖₂ per step."""
        return np.linalg.norm(self.updates, axis=1)


def flatten(parameters) -> np.ndarray:
    """θ: U, W, b, V, c (a dict, or a sequence in that order) as one float64 vector."""
    values = [parameters[name] for name in _PARAMETERS] if isinstance(parameters, dict) else parameters
    return np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for v in values])


def parameter_count(hidden: int) -> int:
    """P = 2HK + H² + H + K, the numbers in θ = (U, W, b, V, c) for H = ``hidden``."""
    H, K = _validate.positive_int("hidden", hidden), len(VOCABULARY)
    return 2 * H * K + H * H + H + K


def split(theta, hidden: int) -> dict:
    """The inverse of :func:`flatten`: U (H, K), W (H, H), b (H,), V (K, H), c (K,) as views of θ."""
    K, H, size = len(VOCABULARY), hidden, parameter_count(hidden)
    theta = np.asarray(theta)
    if theta.shape != (size,):
        raise InvalidArgument(f"theta must hold the P = {size} numbers of θ = (U, W, b, V, c) for hidden {hidden}, "
                         f"got shape {theta.shape}")
    shapes = dict(U=(H, K), W=(H, H), b=(H,), V=(K, H), c=(K,))
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes.values()])
    return {name: part.reshape(shape) for (name, shape), part in zip(shapes.items(), np.split(theta, ends[:-1]))}


def initial_parameters(seed: int = SEED, hidden: int = HIDDEN) -> dict:
    """θ_0 from ``numpy.random.default_rng(seed)``: U and V with N(0, 0.5²) entries, W with
    N(0, 1/H) entries (spectral radius about 1), b = 0 and c = 0."""
    rng = np.random.default_rng(_validate.positive_int("seed", seed, minimum=0))
    H, K = _validate.positive_int("hidden", hidden), len(VOCABULARY)
    U = INITIAL_SCALE * rng.standard_normal((H, K))
    W = rng.standard_normal((H, H)) / np.sqrt(H)
    return dict(U=U, W=W, b=np.zeros(H), V=INITIAL_SCALE * rng.standard_normal((K, H)), c=np.zeros(K))


def _window_count(seq_length, batch) -> int:
    """N = ⌊(len − 1)/T⌋, the text's windows of T = ``seq_length``, after checking T and B = ``batch``."""
    seq_length = _validate.positive_int("seq_length", seq_length)
    if seq_length > len(TEXT_TOKENS) - 1:
        raise InvalidArgument(f"seq_length must be at most {len(TEXT_TOKENS) - 1} (the text's length − 1), "
                         f"got {seq_length}")
    count = (len(TEXT_TOKENS) - 1) // seq_length
    if _validate.positive_int("batch", batch) > count:
        raise InvalidArgument(f"batch must be at most {count}, the text's windows of seq_length {seq_length}, "
                         f"got {batch}")
    return count


def windows(step: int, *, seq_length: int = SEQ_LENGTH, batch: int = BATCH):
    """Step ``step``'s batch: (tokens, targets), each (T, B), from :data:`TEXT`.

    The text is cut into its N = ⌊(len − 1)/T⌋ consecutive windows of T inputs
    and the T targets one character on (min-char-rnn's ``inputs``/``targets``);
    step k takes windows kB, …, kB + B − 1, counted modulo N.
    """
    count = _window_count(seq_length, batch)
    starts = seq_length * ((_validate.positive_int("step", step, minimum=0) * batch + np.arange(batch)) % count)
    offsets = np.arange(seq_length)[:, None] + starts
    return TEXT_TOKENS[offsets], TEXT_TOKENS[offsets + 1]


@dataclass(frozen=True)
class _Arguments:
    clip: str | None
    threshold: float | None
    lr: float
    steps: int
    hidden: int
    shape: dict  # seq_length and batch, for :func:`windows`
    initial: np.ndarray
    start: int


def _training_arguments(clip, threshold, lr, steps, seed, hidden, seq_length, batch, initial, start) -> _Arguments:
    if not any(clip is option for option in CLIPS):
        raise InvalidArgument(f"unknown clip {clip!r}; expected None, 'value' or 'norm'")
    if clip is None and threshold is not None:
        raise InvalidArgument(f"threshold applies to clip='value' or 'norm' only, got threshold={threshold!r} "
                         "with clip=None")
    if clip is not None:
        default = VALUE_THRESHOLD if clip == "value" else NORM_THRESHOLD
        threshold = default if threshold is None else _validate.real_scalar("threshold", threshold)
        if threshold <= 0:
            raise InvalidArgument(f"threshold must be positive, got {threshold}")
    lr = _validate.real_scalar("lr", lr)
    if lr <= 0:
        raise InvalidArgument(f"lr must be positive, got {lr}")
    steps = _validate.positive_int("steps", steps)
    size = parameter_count(hidden)
    _window_count(seq_length, batch)
    start = _validate.positive_int("start", start, minimum=0)
    if initial is None:
        initial = flatten(initial_parameters(seed, hidden))
    else:
        _validate.positive_int("seed", seed, minimum=0)
        initial = _validate.real_vector("initial", initial)
        if initial.size != size:
            raise InvalidArgument(f"initial must hold the P = {size} numbers of θ = (U, W, b, V, c) for hidden "
                             f"{hidden}, got {initial.size}")
    return _Arguments(clip, threshold, lr, steps, int(hidden), dict(seq_length=int(seq_length), batch=int(batch)),
                      np.array(initial), start)


def train(*, clip=None, threshold=None, lr=LR, steps=STEPS, seed=SEED, hidden=HIDDEN, seq_length=SEQ_LENGTH,
          batch=BATCH, initial=None, start=0) -> Training:
    """Plain SGD θ ← θ − lr·clip(∇E(θ)) on the character model of :data:`TEXT`, in NumPy float64.

    Each step takes :func:`windows` (B windows of T characters), starts every
    window from h_0 = 0, and differentiates E summed over the batch and its
    steps (``reduction="sum"``, as min-char-rnn sums over its window) by the
    BPTT of :func:`backward`. ``clip``: None; "value", every entry clamped to
    [−c, c] with c = ``threshold`` (default 15: "when the slope exceeds 15, set
    it to 15"); or "norm", the gradient rescaled to 2-norm at most τ =
    ``threshold`` (default :data:`NORM_THRESHOLD`), both as torch does it
    (:mod:`gradproofs.clipping`). θ_0 is :func:`initial_parameters` of
    ``seed`` unless ``initial`` (a flat θ, as :attr:`Training.parameters` rows)
    is given; ``start`` is the first step's number, so a run resumes where
    another stopped. Non-finite numbers propagate as IEEE arithmetic makes them;
    the loss is :func:`backward`'s log-sum-exp form, finite where a target
    probability underflows, as torch's log-softmax is.

    The defaults (lr = 0.012, τ = 25, H = 16, T = 50, B = 4, seed 2) show the
    trouble clipping is for. Unclipped, the first step lr·‖∇E‖₂ is already
    12.7 times the norm-clipped bound lr·τ = 0.3, steps 2 and 3 over 25 times
    it, and at step 3 the loss passes its first value, the untrained model's.
    From there on an unclipped run is chaotic: a one-ulp change of every entry
    of θ_0 moves the loss by 10⁻¹² at step 3 and by over a tenth of it at step 9, so
    which later step jumps highest hangs on the last bit of every sum (another
    CPU's BLAS draws another path). What holds for seeds 0 to 9 and θ_0 moved
    by one ulp either way: the first unclipped step exceeds 7·lr·τ, the
    unclipped loss passes its first value within the 300 steps, and the
    norm-clipped run (not chaotic: moving θ_0 by one ulp moves its path by
    about as much) never reaches it again. Value clipping bounds each entry, not the step (a step can still
    be lr·15·√P ≈ 5.6, P = 965): its runs turn chaotic too, and seed 3 moved
    down by one ulp climbs above its first loss.
    """
    from gradproofs.clipping import engine as clipping

    a = _training_arguments(clip, threshold, lr, steps, seed, hidden, seq_length, batch, initial, start)
    tanh = activations.get("tanh")
    h0 = np.zeros((a.shape["batch"], a.hidden))
    theta, history, losses, norms = a.initial, [a.initial], [], []
    for step in range(a.start, a.start + a.steps):
        x, y = windows(step, **a.shape)
        with np.errstate(all="ignore"):  # IEEE overflow and NaN, as torch computes them
            result = recurrence(x, y, h0, *split(theta, a.hidden).values(), "sum", tanh.numpy, tanh.numpy_derivative,
                         _softmax, _log_sum_exp)
            grads = [result.U, result.W, result.b, result.V, result.c]
            if a.clip == "norm":
                grads, norm = clipping.clip_grad_norm(grads, a.threshold)
            else:
                norm = clipping.total_norm(grads)
                if a.clip == "value":
                    grads = clipping.clip_grad_value(grads, a.threshold)
            theta = theta - a.lr * flatten(grads)
        history.append(theta)
        losses.append(result.loss)
        norms.append(norm)
    return Training(np.array(history), np.array(losses, dtype=np.float64), np.array(norms, dtype=np.float64))


def train_torch(*, clip=None, threshold=None, lr=LR, steps=STEPS, seed=SEED, hidden=HIDDEN,
                seq_length=SEQ_LENGTH, batch=BATCH, initial=None, start=0, device="cpu") -> Training:
    """The same training as a torch user writes it, in float64 on ``device``: ``nn.RNN`` (one-hot
    inputs, ``weight_ih_l0`` = U, ``bias_ih_l0`` = b, ``bias_hh_l0`` fixed at 0), ``nn.Linear``
    (V, c), ``F.cross_entropy(reduction="sum")``, ``torch.nn.utils.clip_grad_value_`` or
    ``clip_grad_norm_`` and ``torch.optim.SGD``."""
    a = _training_arguments(clip, threshold, lr, steps, seed, hidden, seq_length, batch, initial, start)
    torch, tensor = devices.tensors(device)
    functional = torch.nn.functional
    K, H, sample = len(VOCABULARY), a.hidden, tensor(0.0)
    options = dict(device=sample.device, dtype=sample.dtype)
    module = torch.nn.RNN(K, H, nonlinearity="tanh", **options)
    output = torch.nn.Linear(H, K, **options)
    parameters = [module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, output.weight, output.bias]
    with torch.no_grad():
        for parameter, value in zip(parameters, split(a.initial, H).values()):
            parameter.copy_(tensor(value))
        module.bias_hh_l0.zero_()
    module.bias_hh_l0.requires_grad_(False)
    optimiser = torch.optim.SGD(parameters, lr=a.lr)
    h0 = torch.zeros((1, a.shape["batch"], H), **options)

    def theta():
        return torch.cat([p.detach().reshape(-1) for p in parameters]).cpu().numpy()

    history, losses, norms = [theta()], [], []
    for step in range(a.start, a.start + a.steps):
        x, y = (torch.as_tensor(v, device=sample.device) for v in windows(step, **a.shape))
        optimiser.zero_grad()
        states, _ = module(functional.one_hot(x, K).to(sample.dtype), h0)
        loss = functional.cross_entropy(output(states).reshape(-1, K), y.reshape(-1), reduction="sum")
        loss.backward()
        if a.clip == "norm":
            norm = torch.nn.utils.clip_grad_norm_(parameters, a.threshold)
        else:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in parameters]))
            if a.clip == "value":
                torch.nn.utils.clip_grad_value_(parameters, a.threshold)
        optimiser.step()
        history.append(theta())
        losses.append(float(loss.detach()))
        norms.append(float(norm))
    return Training(np.array(history), np.array(losses), np.array(norms))
