"""gradproofs: proofs and checks of how gradients flow through neural networks.

Each family of networks has its package in ``gradproofs.families`` (its
engines, theorems, Hypothesis strategies and oracle); the catalogue of
theorems (``gradproofs.catalogue``) is read by the derivation documents, the
test suite and the command line. Engines: SymPy (exact), NumPy float64 (the
reference), torch (autograd, any device), and where installed JAX and
TensorFlow (autodiff, on the CPU). Importing this package imports none of
SymPy, torch, JAX and TensorFlow.

The modules' former paths (``gradproofs.rnn``, ``gradproofs.oracle.recurrent``,
``gradproofs.theorems.dense``, …) still import, as the very modules that now
hold their code (:mod:`gradproofs._aliases`).
"""

from gradproofs import _aliases
from gradproofs.errors import DerivationError, Mismatch

__all__ = ["Mismatch", "DerivationError", "__version__"]
__version__ = "0.1.0"

_aliases.install()
