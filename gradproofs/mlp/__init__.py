"""Dense networks (multilayer perceptrons): per-layer gradients and the speed of learning.

``engine``: the backward recurrence over float64, mpmath, ``torch.nn.Linear``, JAX and
TensorFlow; ``initialisation``: Nielsen's, Glorot's, He's and orthogonal initialisations
and synthetic images; ``residual``: residual blocks and their Jacobians; ``theorems``
and ``initialisation_theorems``: the mlp family of the catalogue (derivations/mlp.md);
``strategies``: Hypothesis strategies of networks and batches; ``oracle``:
``check_mlp``, for other people's code.
"""

from gradproofs.mlp.engine import *  # noqa: F403 - the engine's public names
from gradproofs.mlp.engine import __all__
