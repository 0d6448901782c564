"""Dense networks (multilayer perceptrons): per-layer gradients and the speed of learning.

``engine``: the backward recurrence over float64, mpmath, ``torch.nn.Linear``, JAX and
TensorFlow; ``initialisation``: Nielsen's, Glorot's, He's and orthogonal initialisations
and synthetic images; ``residual``: residual blocks and their Jacobians; ``theorems``
and ``initialisation_theorems``: the mlp family of the catalogue (derivations/mlp.md);
``strategies``: Hypothesis strategies of networks and batches; ``oracle``:
``check_mlp``, for other people's code.
"""

from gradproofs.mlp.engine import (
    COSTS, MLPGradients, output_activation_of, recurrence, backward, backward_exact, backward_extended,
    backward_torch, backward_jax, backward_tf, FRAMEWORK_ENGINES, MAX_AMPLIFICATION, Reference, reference
)

__all__ = [
    "COSTS", "MLPGradients", "output_activation_of", "recurrence", "backward", "backward_exact",
    "backward_extended", "backward_torch", "backward_jax", "backward_tf", "FRAMEWORK_ENGINES",
    "MAX_AMPLIFICATION", "Reference", "reference"
]
