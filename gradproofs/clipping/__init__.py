"""Gradient clipping by value, norm and global norm, as each framework does it.

``engine``: each framework's convention reproduced operation by operation in NumPy,
and the overflow-safe norm; ``observations``: what each framework was observed to do,
the evidence behind each convention (printed at the end of derivations/clipping.md);
``theorems``: the clipping family of the catalogue (derivations/clipping.md);
``tamed``: the cliff tamed by clipping, in the same family; ``strategies``: Hypothesis
strategies of gradient lists, thresholds and norm types; ``oracle``:
``check_clip_grad_norm``, ``check_clip_grad_value`` and ``torch_in_place``, for other
people's code.
"""

from gradproofs.clipping.engine import (
    Convention, CONVENTIONS, DTYPES, TORCH_EPSILON, PARALLEL_ELEMENTS, VALUE_CONVENTIONS, total_norm, scaled_norm,
    gradual_underflow, clip_grad_norm, clip_grads_with_norm, clip_grad_value, norm_tolerance
)

__all__ = [
    "Convention", "CONVENTIONS", "DTYPES", "TORCH_EPSILON", "PARALLEL_ELEMENTS", "VALUE_CONVENTIONS",
    "total_norm", "scaled_norm", "gradual_underflow", "clip_grad_norm", "clip_grads_with_norm", "clip_grad_value",
    "norm_tolerance"
]
