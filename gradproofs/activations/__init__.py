"""The activation functions and the costs: what every other family differentiates through.

``engine``: each activation f as SymPy, NumPy, torch, JAX and TensorFlow callables, with
f′ derived by SymPy and rewritten in terms of f, and its bound γ = sup |f′|;
``costs``: the quadratic and cross-entropy costs and the output error δ_L they start;
``theorems``: the activation family of the catalogue (derivations/activations.md).
"""

from gradproofs.activations.engine import (
    Activation, NAMES, digits_lost, mpmath_elementwise, extra_digits, get
)

__all__ = [
    "Activation", "NAMES", "digits_lost", "mpmath_elementwise", "extra_digits", "get"
]
