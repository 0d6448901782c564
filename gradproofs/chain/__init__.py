"""The chain: one neuron per layer (Nielsen, *Neural Networks and Deep Learning*, ch. 5).

``engine``: the product form of backpropagation over SymPy, mpmath, float64, torch,
JAX and TensorFlow; ``theorems``: the chain family of the catalogue (the product form,
the vanishing bound, the exploding window; derivations/chain.md); ``strategies``:
Hypothesis strategies of chains; ``oracle``: ``check_chain``, for other people's code.
"""

from gradproofs.chain.engine import *  # noqa: F403 - the engine's public names
from gradproofs.chain.engine import __all__
