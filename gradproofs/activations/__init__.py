"""The activation functions: what every other family differentiates through.

``Activation``: one activation f with f′ derived by SymPy and its bound γ = sup |f′|, as SymPy,
NumPy, torch, JAX and TensorFlow callables; ``get(name)`` gives it for each name of ``NAMES``.

The modules beneath this face are internal: ``engine`` (the activations), ``costs`` (the quadratic
and cross-entropy costs and the output error δ_L they start) and ``theorems`` (the family's
theorems, derivations/activations.md).
``FAMILY`` declares the family to the modules that read every family (``gradproofs.family``).
"""

from gradproofs import family
from gradproofs.activations.engine import Activation, NAMES, get

__all__ = ["FAMILY", "Activation", "NAMES", "get"]

FAMILY = family.Declaration(theorems=("gradproofs.activations.theorems",))
