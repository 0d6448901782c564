"""Adaptive gradient clipping in the style of timm's utils/agc.py (after Brock et al. 2021, eq. 3):
a unit-wise norm (rows of a weight, the whole of a bias) and adaptive_clip_grad(parameters,
clip_factor, eps, norm_type), which replaces each parameter's .grad in place. Written for this
project; the switches plant bugs the oracle must catch."""

import torch


def unitwise_norm(x, norm_type=2.0, *, whole=False):
    if x.ndim <= 1 or whole:
        return x.norm(norm_type)
    return x.norm(norm_type, dim=tuple(range(1, x.ndim)), keepdim=True)


@torch.no_grad()
def adaptive_clip_grad(parameters, clip_factor=0.01, eps=1e-3, norm_type=2.0, *, whole=False, clamp=True):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is None:
            continue
        weights, grads = p.detach(), p.grad.detach()
        weight_norm = unitwise_norm(weights, norm_type, whole=whole)
        max_norm = (weight_norm.clamp(min=eps) if clamp else weight_norm) * clip_factor
        grad_norm = unitwise_norm(grads, norm_type, whole=whole)
        clipped = grads * (max_norm / grad_norm.clamp(min=1e-6))
        p.grad.detach().copy_(torch.where(grad_norm < max_norm, grads, clipped))
