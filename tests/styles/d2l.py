"""Gradient clipping in the style of Dive into Deep Learning's grad_clipping (§9.5): the global L2
norm of every gradient, and an in-place rescale by theta / norm when the norm exceeds theta; no
epsilon, nothing returned. Also a value clamp written to work in place. Written for this project; the
switches plant the bugs the oracle must catch."""

import numpy as np


def grad_clipping(grads, theta, *, rebind=False):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    if norm > theta:
        for g in grads:
            if rebind:
                g = g * (theta / norm)  # a new array: the caller's gradient is left as it was
            else:
                g[:] *= theta / norm


def grad_clipping_torch(params, theta):
    """The same in torch, on parameters whose .grad it rescales."""
    import torch

    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm


def clamp_(grads, clip_value, *, out=True):
    for g in grads:
        if g is not None:
            if out:
                np.clip(g, -clip_value, clip_value, out=g)
            else:
                np.clip(g, -clip_value, clip_value)  # the result is dropped: nothing is clipped
