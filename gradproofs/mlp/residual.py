"""Residual blocks: x_(l+1) = λ_l·x_l + F_l(x_l), F_l(x) = W2_l f(W1_l x + b1_l).

He, Zhang, Ren & Sun (2016), *Identity mappings in deep residual networks*,
eq. 4–7: the Jacobian of one block is λ_l·I + J_F with J_F = W2 diag(f′(·)) W1,
so ∂x_L/∂x_l = ∏ (λ_k I + J_F,k). ``jacobian`` forms that product in NumPy
float64; ``jacobian_torch`` differentiates the blocks with autograd.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradproofs import _validate, devices
from gradproofs.activations import engine as activations
from gradproofs.errors import InvalidArgument

__all__ = ["Block", "jacobian", "jacobian_torch"]


class Block(NamedTuple):
    """One residual branch F(x) = W2 f(W1 x + b1): W1 (m, n), b1 (m,), W2 (n, m)."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray


def _check(x, blocks, shortcuts):
    x = _validate.real_array("x", x, ndim=1)
    if len(blocks) == 0:
        raise InvalidArgument("blocks must not be empty")
    checked = []
    for l, block in enumerate(blocks):
        W1 = _validate.real_array(f"blocks[{l}].W1", block[0], ndim=2)
        b1 = _validate.real_array(f"blocks[{l}].b1", block[1], ndim=1)
        W2 = _validate.real_array(f"blocks[{l}].W2", block[2], ndim=2)
        if W1.shape[1] != x.size or W2.shape != (x.size, W1.shape[0]) or b1.shape != (W1.shape[0],):
            raise InvalidArgument(f"blocks[{l}] must have W1 (m, {x.size}), b1 (m,), W2 ({x.size}, m); "
                             f"got {W1.shape}, {b1.shape}, {W2.shape}")
        checked.append(Block(W1, b1, W2))
    lam = np.ones(len(blocks)) if shortcuts is None else _validate.real_vector(
        "shortcuts", shortcuts, like=("blocks", len(blocks)))
    return x, checked, lam


def jacobian(x, blocks, *, activation: str = "relu", shortcuts=None) -> np.ndarray:
    """∂x_L/∂x_0 = ∏_l (λ_l I + W2_l diag(f′(W1_l x_l + b1_l)) W1_l), in float64."""
    act = activations.get(activation)
    x, blocks, lam = _check(x, blocks, shortcuts)
    total = np.eye(x.size)
    for (W1, b1, W2), scale in zip(blocks, lam):
        pre = W1 @ x + b1
        block_jacobian = scale * np.eye(x.size) + W2 @ (act.numpy_derivative(pre)[:, None] * W1)
        total = block_jacobian @ total
        x = scale * x + W2 @ act.numpy(pre)
    return total


def jacobian_torch(x, blocks, *, activation: str = "relu", shortcuts=None, device: str = "cpu"):
    """The same Jacobian through ``torch.autograd.functional.jacobian``, float64 on ``device``."""
    act = activations.get(activation)
    x, blocks, lam = _check(x, blocks, shortcuts)
    torch = devices.torch()
    device = devices.resolve(device)

    def tensor(value):
        return torch.tensor(value, dtype=torch.float64, device=device)

    def network(state):
        for (W1, b1, W2), scale in zip(blocks, lam):
            state = float(scale) * state + tensor(W2) @ act.torch(tensor(W1) @ state + tensor(b1))
        return state

    return torch.autograd.functional.jacobian(network, tensor(x))
