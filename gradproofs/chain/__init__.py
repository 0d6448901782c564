"""The chain: one neuron per layer (Nielsen, *Neural Networks and Deep Learning*, ch. 5).

``engine``: the product form of backpropagation over SymPy, mpmath, float64, torch,
JAX and TensorFlow; ``theorems``: the chain family of the catalogue (the product form,
the vanishing bound, the exploding window; derivations/chain.md); ``strategies``:
Hypothesis strategies of chains; ``oracle``: ``check_chain``, for other people's code.
"""

from gradproofs.chain.engine import (
    ChainGradients, product_form, symbols, symbolic_gradients, sympy_functions, nested_cost, mpmath_functions,
    ExactGradients, backward_exact, forward_amplification, MAX_AMPLIFICATION, Reference, reference,
    centred_biases, backward, log_abs_db, backward_torch, backward_jax, backward_tf, FRAMEWORK_ENGINES
)

__all__ = [
    "ChainGradients", "product_form", "symbols", "symbolic_gradients", "sympy_functions", "nested_cost",
    "mpmath_functions", "ExactGradients", "backward_exact", "forward_amplification", "MAX_AMPLIFICATION",
    "Reference", "reference", "centred_biases", "backward", "log_abs_db", "backward_torch", "backward_jax",
    "backward_tf", "FRAMEWORK_ENGINES"
]
