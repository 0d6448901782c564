"""Dense deep networks: per-layer gradients and the speed of learning (Nielsen ch. 2 and 5).

Widths [n_0, …, n_L]; ``weights[l]`` has shape (n_(l+1), n_l), ``biases[l]``
(n_(l+1),); a batch x (B, n_0) with targets y (B, n_L); samples are rows.

    z^l = a^(l−1) W^lᵀ + b^l,   a^l = f(z^l),   a^0 = x
    δ^L = ∂C_x/∂z^L,   δ^l = (δ^(l+1) W^(l+1)) ⊙ f′(z^l)         (Nielsen BP1–BP2)
    ∂C/∂W^l = δ^lᵀ a^(l−1) / B,   ∂C/∂b^l = mean over the batch of δ^l   (BP3–BP4)

C is the mean over the batch of the per-sample cost C_x; ``delta`` holds the
per-sample δ^l = ∂C_x/∂z^l. The output layer uses f as well, except for the
``softmax_cross_entropy`` cost, whose output layer is a softmax:

    quadratic               C_x = ½‖a^L − y‖²                     δ^L = (a^L − y) ⊙ f′(z^L)
    cross_entropy           C_x = −Σ y ln a + (1−y) ln(1−a)       δ^L = a^L − y   (sigmoid output)
    softmax_cross_entropy   C_x = −Σ y ln softmax(z^L)            δ^L = softmax(z^L) − y

The one recurrence runs over float64 arrays (``backward``) and over object
arrays of mpmath numbers (``backward_exact``, the truth numeric checks compare
with); ``backward_torch`` is independent: ``torch.nn.Linear`` layers through autograd.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from gradproofs import _validate, activations, costs, devices

COSTS = ("quadratic", "cross_entropy", "softmax_cross_entropy")


@dataclass(frozen=True)
class MLPGradients:
    """∂C/∂W^l, ∂C/∂b^l, the per-sample δ^l and the forward values, l = 1..L.

    ``z[l]`` and ``delta[l]`` belong to layer l + 1; ``a`` starts with a^0 = x.
    """

    dW: list
    db: list
    delta: list
    z: list
    a: list

    def speed(self) -> np.ndarray:
        """‖∂C/∂b^l‖ for every layer: Nielsen's speed of learning (ch. 5)."""
        return np.array([float(np.linalg.norm(_float(g))) for g in self.db])


def _float(values) -> np.ndarray:
    if hasattr(values, "detach"):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def _check(weights, biases, x, y, activation, cost):
    act = activations.get(activation)
    _validate.choice("cost", cost, COSTS)
    if cost == "cross_entropy":
        costs.get(cost, activation=activation)
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise TypeError("weights must be a list of 2-D arrays, one per layer")
    if not isinstance(biases, (list, tuple)):
        raise TypeError("biases must be a list of 1-D arrays, one per layer")
    if len(weights) == 0:
        raise ValueError("weights must not be empty (a network needs at least one layer)")
    if len(biases) != len(weights):
        raise ValueError(f"biases must have one entry per layer: {len(weights)} weights, "
                         f"{len(biases)} biases")
    W = [_validate.real_array(f"weights[{l}]", w, ndim=2) for l, w in enumerate(weights)]
    b = [_validate.real_array(f"biases[{l}]", v, ndim=1) for l, v in enumerate(biases)]
    for l in range(len(W)):
        if b[l].shape[0] != W[l].shape[0]:
            raise ValueError(f"biases[{l}] must have shape ({W[l].shape[0]},) to match "
                             f"weights[{l}] of shape {W[l].shape}, got {b[l].shape}")
        if l and W[l].shape[1] != W[l - 1].shape[0]:
            raise ValueError(f"weights[{l}] must have {W[l - 1].shape[0]} columns to follow "
                             f"weights[{l - 1}] of shape {W[l - 1].shape}, got shape {W[l].shape}")
    x = _validate.real_array("x", x, ndim=2)
    y = _validate.real_array("y", y, ndim=2)
    if x.shape[1] != W[0].shape[1]:
        raise ValueError(f"x must have shape (B, {W[0].shape[1]}) to match weights[0], got {x.shape}")
    if y.shape != (x.shape[0], W[-1].shape[0]):
        raise ValueError(f"y must have shape ({x.shape[0]}, {W[-1].shape[0]}) (the batch of x, "
                         f"the width of the last layer), got {y.shape}")
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one sample (the cost is a mean over the batch)")
    if cost != "quadratic" and not np.all((y >= 0) & (y <= 1)):
        raise ValueError(f"y must lie in [0, 1] for the {cost} cost")
    return W, b, x, y, act


def _recurrence(W, b, x, y, f, fprime, cost, softmax):
    """Forward pass, then BP1–BP4, over float arrays or object arrays of mpmath numbers."""
    z, a = [], [x]
    for l, (W_l, b_l) in enumerate(zip(W, b)):
        z.append(a[-1] @ W_l.T + b_l)
        a.append(softmax(z[-1]) if cost == "softmax_cross_entropy" and l == len(W) - 1 else f(z[-1]))
    if cost == "quadratic":
        delta_last = (a[-1] - y) * fprime(z[-1])
    else:  # the sigmoid's σ′ (or the softmax's Jacobian) cancels against ∂C/∂a
        delta_last = a[-1] - y
    delta = [delta_last]
    for l in range(len(W) - 1, 0, -1):
        delta.insert(0, (delta[0] @ W[l]) * fprime(z[l - 1]))
    batch = x.shape[0]
    dW = [d.T @ a_prev / batch for d, a_prev in zip(delta, a[:-1])]
    db = [d.sum(axis=0) / batch for d in delta]
    return MLPGradients(dW, db, delta, z, a)


def _softmax(z):
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def backward(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic") -> MLPGradients:
    """∂C/∂W^l and ∂C/∂b^l in NumPy float64, by the backward recurrence."""
    W, b, x, y, act = _check(weights, biases, x, y, activation, cost)
    with np.errstate(over="ignore", under="ignore"):
        return _recurrence(W, b, x, y, act.numpy, act.numpy_derivative, cost, _softmax)


@lru_cache(maxsize=None)
def _mpmath_elementwise(activation: str):
    import sympy

    act = activations.get(activation)
    f = np.frompyfunc(sympy.lambdify(act.z, act.expr, "mpmath"), 1, 1)
    fprime = np.frompyfunc(sympy.lambdify(act.z, act.derivative, "mpmath"), 1, 1)
    return f, fprime


def backward_exact(weights, biases, x, y, *, activation: str = "sigmoid",
                   cost: str = "quadratic", dps: int = 40) -> MLPGradients:
    """The same recurrence on object arrays of mpmath numbers with ``dps`` digits.

    SymPy's f and f′ evaluated elementwise; for small networks (it is slow).
    """
    import mpmath

    W, b, x, y, act = _check(weights, biases, x, y, activation, cost)
    f, fprime = _mpmath_elementwise(act.name)
    exp = np.frompyfunc(mpmath.exp, 1, 1)

    def softmax(z):
        shifted = exp(z - z.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def exact(values):
        return np.frompyfunc(mpmath.mpf, 1, 1)(values)

    largest = max(float(np.abs(W_l).sum(axis=1).max() + np.abs(b_l).max()) for W_l, b_l in zip(W, b))
    bound_z = largest * max(1.0, float(np.abs(x).max()))
    with mpmath.workdps(dps + activations.digits_lost(min(bound_z, 1e4))):
        return _recurrence([exact(w) for w in W], [exact(v) for v in b], exact(x), exact(y),
                           f, fprime, cost, softmax)


def backward_torch(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                   device: str = "cpu", dtype=None) -> MLPGradients:
    """The same network built from ``torch.nn.Linear`` layers, through autograd.

    ``delta`` comes from the gradients of the pre-activations (times the batch
    size, since the cost is a mean); the results are tensors on ``device``.
    """
    W, b, x, y, act = _check(weights, biases, x, y, activation, cost)
    torch = devices.torch()
    device = devices.resolve(device)
    dtype = devices.float_dtype(torch.float64 if dtype is None else dtype)
    functional = torch.nn.functional
    layers = []
    for W_l, b_l in zip(W, b):
        layer = torch.nn.Linear(W_l.shape[1], W_l.shape[0], device=device, dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(W_l))
            layer.bias.copy_(torch.as_tensor(b_l))
        layers.append(layer)
    inputs = torch.as_tensor(x, dtype=dtype, device=device)
    target = torch.as_tensor(y, dtype=dtype, device=device)
    z, a = [], [inputs]
    for layer in layers:
        z.append(layer(a[-1]))
        z[-1].retain_grad()
        a.append(act.torch(z[-1]))
    if cost == "quadratic":
        loss = 0.5 * ((a[-1] - target) ** 2).sum(dim=1).mean()
    elif cost == "cross_entropy":
        loss = functional.binary_cross_entropy_with_logits(z[-1], target, reduction="none").sum(dim=1).mean()
    else:
        loss = functional.cross_entropy(z[-1], target)
        a[-1] = torch.softmax(z[-1], dim=1)
    loss.backward()
    batch = x.shape[0]
    return MLPGradients(
        dW=[layer.weight.grad for layer in layers],
        db=[layer.bias.grad for layer in layers],
        delta=[zl.grad * batch for zl in z],
        z=[zl.detach() for zl in z],
        a=[al.detach() for al in a],
    )
