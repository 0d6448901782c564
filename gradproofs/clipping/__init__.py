"""Gradient clipping by value, norm and global norm, as each framework does it.

``clip_grad_norm`` (each convention of ``CONVENTIONS``), ``clip_grads_with_norm``,
``clip_grad_value`` (each of ``VALUE_CONVENTIONS``), ``total_norm`` and ``norm_tolerance``, in NumPy,
operation by operation and in each operation's dtype. ``gradient_lists`` (of the dtypes
``GRADIENT_DTYPES``), ``thresholds`` and ``norm_types`` draw with Hypothesis;
``check_clip_grad_norm``, ``check_clip_grad_value`` and ``check_clip_agc`` (adaptive gradient
clipping, :mod:`gradproofs.clipping.adaptive`) check someone else's clipping, and
``torch_in_place`` wraps a torch-style in-place clipper for them.

The modules beneath this face are internal: ``engine``, ``adaptive``, ``observations`` (what each framework was
observed to do, the appendix of derivations/clipping.md), ``theorems`` and ``tamed`` (the cliff
tamed by clipping; derivations/clipping.md), ``strategies``, ``oracle``, ``figures`` and ``bench``.
``FAMILY`` declares the family to the modules that read every family (``gradproofs.family``).
"""

from gradproofs import family
from gradproofs.clipping.engine import (
    CONVENTIONS, VALUE_CONVENTIONS, Convention, ValueConvention, clip_grad_norm, clip_grad_value,
    clip_grads_with_norm, norm_tolerance, total_norm)
from gradproofs.clipping.oracle import check_clip_agc, check_clip_grad_norm, check_clip_grad_value, torch_in_place
from gradproofs.clipping.strategies import GRADIENT_DTYPES, gradient_lists, norm_types, thresholds

__all__ = ["FAMILY", "CONVENTIONS", "VALUE_CONVENTIONS", "Convention", "ValueConvention", "clip_grad_norm",
           "clip_grad_value", "clip_grads_with_norm", "norm_tolerance", "total_norm", "check_clip_grad_norm",
           "check_clip_grad_value", "check_clip_agc", "torch_in_place", "GRADIENT_DTYPES", "gradient_lists",
           "norm_types", "thresholds"]

FAMILY = family.Declaration(
    after=("rnn",),
    theorems=("gradproofs.clipping.theorems", "gradproofs.clipping.tamed"),
    oracles=("check_clip_grad_norm", "check_clip_grad_value", "check_clip_agc", "torch_in_place"),
    strategies=("GRADIENT_DTYPES", "gradient_lists", "thresholds", "norm_types"),
    figures={"clipping-tames-the-cliff.png": "gradproofs.clipping.figures:tamed_figure"},
    bench={"clipping": "gradproofs.clipping.bench:section"},
)
