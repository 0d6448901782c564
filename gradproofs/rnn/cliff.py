"""The single-unit recurrent network of Pascanu et al.'s cliff (2013, §2.2–2.3, eq. 8).

    x_t = w·σ(x_(t−1)) + b,   t = 1..T,     E_T = (σ(x_T) − target)²

For w > 4 the map has two stable fixed points for b in an interval (Doya 1993);
at the unstable fixed point between them a tiny change of b sends x_T to one or
the other, and the gradient of E_T with respect to (w, b) spikes: the cliff.

``gradient`` carries ∂x_t/∂w and ∂x_t/∂b forward in float64 (forward-mode),
``gradient_exact`` does the same in mpmath, ``gradient_torch`` runs autograd.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradproofs import _validate, devices

__all__ = [
    "W", "X0", "T", "TARGET", "CliffGradient", "gradient", "gradient_exact", "gradient_torch", "unstable_bias",
    "VALUE_THRESHOLD"
]

W, X0, T, TARGET = 5.0, 0.5, 50, 0.7  # Pascanu et al.'s example


class CliffGradient(NamedTuple):
    """x_T, E_T and ∂E_T/∂w, ∂E_T/∂b, plus ∂x_T/∂x_0 and ∂x_T/∂b."""

    x: float
    error: float
    dE_dw: float
    dE_db: float
    dx_dx0: float
    dx_db: float

    @property
    def norm(self) -> float:
        """‖∇_(w,b) E_T‖₂ (in the number system of the fields)."""
        return (self.dE_dw ** 2 + self.dE_db ** 2) ** 0.5


def _check(w, b, x0, steps, target):
    return (_validate.real_scalar("w", w), _validate.real_scalar("b", b), _validate.real_scalar("x0", x0),
            _validate.positive_int("steps", steps), _validate.real_scalar("target", target))


def _forward_mode(w, b, x0, steps, target, sigmoid, one):
    """x_t and its derivatives in w, b and x_0, one step at a time, in any number system."""
    x, dw, db, dx0 = x0, 0 * one, 0 * one, one
    for _ in range(steps):
        s = sigmoid(x)
        gain = w * s * (1 - s)
        x, dw, db, dx0 = w * s + b, s + gain * dw, 1 + gain * db, gain * dx0
    s = sigmoid(x)
    outer = 2 * (s - target) * s * (1 - s)
    return CliffGradient(x, (s - target) ** 2, outer * dw, outer * db, dx0, db)


def gradient(b, *, w=W, x0=X0, steps=T, target=TARGET) -> CliffGradient:
    """E_T and its gradient in float64."""
    w, b, x0, steps, target = _check(w, b, x0, steps, target)

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    return CliffGradient(*(float(v) for v in _forward_mode(w, b, x0, steps, target, sigmoid, 1.0)))


def gradient_exact(b, *, w=W, x0=X0, steps=T, target=TARGET, dps=40) -> CliffGradient:
    """The same in mpmath with ``dps`` digits; its fields are mpmath numbers."""
    import mpmath

    w, b, x0, steps, target = _check(w, b, x0, steps, target)
    with mpmath.workdps(dps):
        def sigmoid(v):
            return 1 / (1 + mpmath.exp(-v))

        return _forward_mode(mpmath.mpf(w), mpmath.mpf(b), mpmath.mpf(x0), steps, mpmath.mpf(target),
                             sigmoid, mpmath.mpf(1))


def gradient_torch(b, *, w=W, x0=X0, steps=T, target=TARGET, device="cpu") -> CliffGradient:
    """The same through torch autograd (float64 on ``device``)."""
    w, b, x0, steps, target = _check(w, b, x0, steps, target)
    torch = devices.torch()
    device = devices.resolve(device)
    parameters = torch.tensor([w, b, x0], dtype=torch.float64, device=device, requires_grad=True)
    x = parameters[2]
    for _ in range(steps):
        x = parameters[0] * torch.sigmoid(x) + parameters[1]
    error = (torch.sigmoid(x) - target) ** 2
    dE = torch.autograd.grad(error, parameters, retain_graph=True)[0]
    dx = torch.autograd.grad(x, parameters)[0]
    return CliffGradient(float(x.detach()), float(error.detach()), float(dE[0]), float(dE[1]),
                         float(dx[2]), float(dx[1]))


def unstable_bias(*, w=W, x0=X0) -> float:
    """b* = x_0 − w·σ(x_0): the bias that makes x_0 a fixed point."""
    return float(x0 - w / (1.0 + np.exp(-x0)))


VALUE_THRESHOLD = 15.0  # "clip the slope at 15" (Mikolov's rule, as Pascanu et al. quote it)
