"""Torch devices, resolved lazily: asking for CUDA where there is none is an error."""

from __future__ import annotations

import numpy as np

from gradproofs.errors import InvalidArgument

__all__ = ["DEVICES", "torch", "cuda_available", "available", "missing", "resolve", "float_dtype", "tensors"]

DEVICES = ("cpu", "cuda")


def torch():
    """Import torch on first use, so ``import gradproofs`` stays light."""
    import torch as _torch

    return _torch


def cuda_available() -> bool:
    return torch().cuda.is_available()


def available() -> list[str]:
    """Every device this machine can run the torch engine on."""
    return ["cpu", "cuda"] if cuda_available() else ["cpu"]


def missing() -> dict[str, str]:
    """{device: why it cannot run here} for each device of :data:`DEVICES` this machine lacks."""
    if cuda_available():
        return {}
    t = torch()
    built = t.version.cuda
    return {"cuda": f"torch {t.__version__} (CUDA {built}) finds no CUDA device here" if built else
            f"torch {t.__version__} is a CPU-only build"}


def resolve(device: str) -> str:
    """Check ``device`` is 'cpu' or 'cuda' and that it exists here."""
    if device not in DEVICES:
        raise InvalidArgument(f"unknown device {device!r}; expected 'cpu' or 'cuda'")
    if device == "cuda" and not cuda_available():
        t = torch()
        built = t.version.cuda or "none (a CPU-only build)"
        raise InvalidArgument(
            f"device='cuda' was requested but CUDA is not available "
            f"(torch {t.__version__}, CUDA build: {built})"
        )
    return device


def float_dtype(dtype):
    """A torch floating dtype, named or given."""
    t = torch()
    if isinstance(dtype, str):
        dtype = getattr(t, dtype, None)
    if dtype not in (t.float16, t.bfloat16, t.float32, t.float64):
        raise InvalidArgument(f"dtype must be a torch floating dtype, got {dtype!r}")
    return dtype


def tensors(device: str, dtype=None):
    """(torch, tensor): the torch module and ``tensor(value, grad=False)``, which makes a tensor of
    ``dtype`` (float64 by default) on ``device``, requiring gradients when ``grad``."""
    t = torch()
    device = resolve(device)
    dtype = float_dtype(t.float64 if dtype is None else dtype)

    def tensor(value, grad=False):
        return t.tensor(np.asarray(value), dtype=dtype, device=device, requires_grad=grad)

    return t, tensor
