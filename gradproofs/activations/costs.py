"""Costs of one output a against a target y, and the output error δ_L they start.

quadratic:      C = ½(a − y)²,                  δ_L = f′(z_L)·(a_L − y)
cross_entropy:  C = −[y ln a + (1 − y) ln(1 − a)], δ_L = a_L − y  (sigmoid output:
                σ′ cancels, Nielsen ch. 3 eq. 61; proved in the catalogue)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gradproofs import devices, frameworks
from gradproofs._validate import choice
from gradproofs.errors import InvalidArgument

__all__ = ["Cost", "NAMES", "get"]


@dataclass(frozen=True)
class Cost:
    name: str
    latex: str
    _expr: Callable  # (a, y) -> SymPy expression
    requires: str | None  # the output activation this cost is defined for

    def expr(self, a, y):
        """C(a, y) as a SymPy expression."""
        return self._expr(a, y)

    def output_delta(self, z, a, y, fprime):
        """δ_L = ∂C/∂z_L in any number system (fprime: f′ in that system)."""
        if self.name == "cross_entropy":
            return a - y
        return fprime(z) * (a - y)

    def dC_da(self, a, y):
        """∂C/∂a_L, in any number system."""
        if self.name == "cross_entropy":
            return (a - y) / (a * (1 - a))
        return a - y

    def torch(self, z, a, y):
        """The cost as users write it in torch (cross-entropy from logits)."""
        if self.name == "cross_entropy":
            functional = devices.torch().nn.functional
            return functional.binary_cross_entropy_with_logits(z, y)
        return 0.5 * (a - y) ** 2

    def jax(self, z, a, y):
        """The cost of each output as JAX users write it: cross-entropy from the logits,
        −y·log σ(z) − (1 − y)·log σ(−z) (optax's ``sigmoid_binary_cross_entropy``)."""
        if self.name == "cross_entropy":
            log_sigmoid = frameworks.module("jax").nn.log_sigmoid
            return -y * log_sigmoid(z) - (1 - y) * log_sigmoid(-z)
        return 0.5 * (a - y) ** 2

    def tensorflow(self, z, a, y):
        """The cost of each output as TensorFlow users write it (``tf.nn.sigmoid_cross_entropy_with_logits``)."""
        if self.name == "cross_entropy":
            return frameworks.module("tensorflow").nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z)
        return 0.5 * (a - y) ** 2


def _quadratic(a, y):
    return (a - y) ** 2 / 2


def _cross_entropy(a, y):
    import sympy

    return -(y * sympy.log(a) + (1 - y) * sympy.log(1 - a))


_COSTS = {
    c.name: c
    for c in (
        Cost("quadratic", r"\tfrac12 (a_L - y)^2", _quadratic, None),
        Cost("cross_entropy", r"-[y \ln a_L + (1 - y)\ln(1 - a_L)]", _cross_entropy, "sigmoid"),
    )
}

NAMES = tuple(_COSTS)


def get(name: str, *, activation: str | None = None) -> Cost:
    """The cost called ``name``; checks it is defined for the output ``activation``."""
    cost = _COSTS[choice("cost", name, _COSTS)]
    if activation is not None and cost.requires not in (None, activation):
        raise InvalidArgument(
            f"cost {name!r} needs a {cost.requires} output (a in (0, 1)); "
            f"activation is {activation!r}"
        )
    return cost
