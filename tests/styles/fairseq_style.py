"""Gradient clipping in the style of fairseq's ``clip_grad_norm_`` (fairseq/utils.py, the path
without NVIDIA's apex): the gradients of the parameters that have one; the norm of each taken in
float32 whatever its dtype (``torch.norm(g, p=2, dtype=torch.float32)``), the one norm as it is or
the norm of those norms stacked; then, only for a positive ``max_norm``, every gradient multiplied
in place by ``(max_norm / (total_norm + 1e-6)).clamp_(max=1)``. Returns the total norm. Written for
this project; the switch plants a bug the oracle must catch."""

import torch


def clip_grad_norm_(params, max_norm, aggregate_norm_fn=None, *, float32_norms=True):
    """``float32_norms=False`` plants the bug: each norm taken in its gradient's own dtype."""
    if isinstance(params, torch.Tensor):
        params = [params]
    params = list(params)
    grads = [p.grad.detach() for p in params if p.grad is not None]
    if not grads:
        return params[0].new_tensor(0.0) if params else torch.tensor(0.0)
    dtype = torch.float32 if float32_norms else None
    if len(grads) == 1:
        total_norm = torch.norm(grads[0], p=2, dtype=dtype)
    else:
        total_norm = torch.norm(torch.stack([torch.norm(g, p=2, dtype=dtype).float() for g in grads]))
    if aggregate_norm_fn is not None:
        total_norm = aggregate_norm_fn(total_norm)
    if max_norm > 0:
        clip_coef = (float(max_norm) / (total_norm + 1e-6)).clamp_(max=1)
        for g in grads:
            g.mul_(clip_coef)
    return total_norm
