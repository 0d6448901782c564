"""The chain: one neuron per layer (Nielsen, *Neural Networks and Deep Learning*, ch. 5).

Its gradients by the product form of backpropagation: ``backward`` (NumPy float64,
``ChainGradients``), ``backward_exact`` (mpmath, ``ExactGradients``), ``backward_torch``,
``backward_jax`` and ``backward_tf`` (autodiff), ``log_abs_db`` (ln|∂C/∂b_j|, finite at any depth)
and ``symbolic_gradients`` (SymPy); ``reference`` builds the ``Reference`` the judges use. ``chains``
draws a ``Chain`` with Hypothesis; ``check_chain`` checks someone else's backpropagation.

The modules beneath this face are internal: ``engine``, ``theorems`` (derivations/chain.md),
``strategies``, ``oracle``, ``figures`` and ``bench``.
``FAMILY`` declares the family to the modules that read every family (``gradproofs.family``).
"""

from gradproofs import family
from gradproofs.chain.engine import (
    ChainGradients, ExactGradients, Reference, backward, backward_exact, backward_jax, backward_tf,
    backward_torch, log_abs_db, reference, symbolic_gradients)
from gradproofs.chain.oracle import check_chain
from gradproofs.chain.strategies import Chain, chains

__all__ = ["FAMILY", "ChainGradients", "ExactGradients", "Reference", "backward", "backward_exact", "backward_jax",
           "backward_tf", "backward_torch", "log_abs_db", "reference", "symbolic_gradients", "check_chain", "Chain",
           "chains"]

FAMILY = family.Declaration(
    after=("activations",),
    theorems=("gradproofs.chain.theorems",),
    oracles=("check_chain",),
    strategies=("Chain", "chains"),
    figures={"chain-vanishing.png": "gradproofs.chain.figures:vanishing",
             "chain-window.png": "gradproofs.chain.figures:exploding_window"},
    bench={"chain": "gradproofs.chain.bench:section"},
)
