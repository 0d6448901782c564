"""gradproofs: proofs and checks of how gradients flow through neural networks.

Each family of networks is a package of its own (``gradproofs.rnn``, …): its
engines, theorems, Hypothesis strategies and oracle, offered by its ``__init__``,
its public face (the modules beneath it are internal). The catalogue of theorems
(``gradproofs.catalogue``) is read by the derivation documents, the test suite
and the command line. Engines: SymPy (exact), NumPy float64 (the reference),
torch (autograd, any device), and where installed JAX and TensorFlow
(autodiff, on the CPU). Importing this package imports none of SymPy, torch,
JAX and TensorFlow, and none of the families. ``__version__``: this release.
"""

from gradproofs.errors import DerivationError, InvalidArgument, Mismatch

__all__ = ["Mismatch", "DerivationError", "InvalidArgument", "__version__"]
__version__ = "0.1.0"

