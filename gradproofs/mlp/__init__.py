"""Dense networks (multilayer perceptrons): per-layer gradients and the speed of learning.

Their gradients by the backward recurrence: ``backward`` (NumPy float64, ``MLPGradients``),
``backward_exact`` (mpmath), ``backward_torch`` (``torch.nn.Linear``), ``backward_jax`` and
``backward_tf``; ``reference`` builds the ``Reference`` the judges use. ``initialise`` draws
Nielsen's, Glorot's, He's or orthogonal weights, ``synthetic_images`` a batch of inputs.
``network_widths``, ``networks`` (a ``Network``) and ``batches`` draw with Hypothesis; ``check_mlp``
checks someone else's backpropagation.

The modules beneath this face are internal: ``engine``, ``initialisation``, ``residual`` (residual
blocks), ``theorems`` and ``initialisation_theorems`` (derivations/mlp.md), ``strategies``,
``oracle``, ``figures`` and ``bench``.
``FAMILY`` declares the family to the modules that read every family (``gradproofs.family``).
"""

from gradproofs import family
from gradproofs.mlp.engine import (
    MLPGradients, Reference, backward, backward_exact, backward_jax, backward_tf, backward_torch, reference)
from gradproofs.mlp.initialisation import initialise, synthetic_images
from gradproofs.mlp.oracle import check_mlp
from gradproofs.mlp.strategies import Network, batches, network_widths, networks

__all__ = ["FAMILY", "MLPGradients", "Reference", "backward", "backward_exact", "backward_jax", "backward_tf",
           "backward_torch", "reference", "initialise", "synthetic_images", "check_mlp", "Network", "batches",
           "network_widths", "networks"]

FAMILY = family.Declaration(
    after=("activations",),
    theorems=("gradproofs.mlp.theorems", "gradproofs.mlp.initialisation_theorems"),
    oracles=("check_mlp",),
    strategies=("network_widths", "Network", "networks", "batches"),
    figures={"mlp-speed-of-learning.png": "gradproofs.mlp.figures:speed_of_learning",
             "mlp-delta-vs-depth.png": "gradproofs.mlp.figures:delta_against_depth"},
    bench={"mlp": "gradproofs.mlp.bench:section"},
)
