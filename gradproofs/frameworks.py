"""JAX and TensorFlow, where installed: the optional autodiff engines.

Neither is a dependency of gradproofs: the ``frameworks`` extra installs both
(:func:`gradproofs.extras.install_hint` says how). Each is imported on first use and once per process (importing
TensorFlow takes seconds), so ``import gradproofs`` stays light and a process that
never runs their engines pays nothing. Where one is not installed, the exact
theorems leave its engines out, ``gradproofs verify`` does not list it, and its
tests skip with the reason.

The engines run on the CPU alone (the builds the extra installs, ``jax[cpu]`` and
``tensorflow-cpu``; a GPU build is pinned to its CPU too), JAX with 64-bit types
enabled for the call only (:func:`jax_cpu`).
"""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from gradproofs.extras import install_hint
from gradproofs.errors import InvalidArgument

__all__ = [
    "NAMES", "DTYPES", "installed", "available", "engines", "module", "jax_cpu", "tensorflow_cpu", "float_dtype"
]

NAMES = ("jax", "tensorflow")
DTYPES = ("float64", "float32")  # the precisions the engines run in


@lru_cache(maxsize=None)
def _module(name: str):
    """The module ``name``, imported once, or None where it is not installed."""
    if name == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # its C++ start-up notices, on stderr
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def installed(name: str) -> bool:
    """Whether the framework ``name`` (one of :data:`NAMES`) can be imported here; imports it."""
    if name not in NAMES:
        raise InvalidArgument(f"unknown framework {name!r}; expected one of {list(NAMES)}")
    return _module(name) is not None


def available(device: str) -> tuple[str, ...]:
    """The frameworks installed here whose engines run on ``device``: on "cpu", those installed; else none."""
    return tuple(name for name in NAMES if installed(name)) if device == "cpu" else ()


def engines(table: dict, device: str) -> list:
    """[(name, engine)] for the frameworks :func:`available` on ``device``; ``table`` maps each name to a
    family's engine (``chain.FRAMEWORK_ENGINES``)."""
    return [(name, table[name]) for name in available(device)]


def module(name: str):
    """The module of the framework ``name``; ImportError, saying how to install it, where it is not."""
    if not installed(name):
        raise ImportError(f"{name} is not installed: {install_hint('frameworks')}")
    return _module(name)


@contextmanager
def jax_cpu():
    """The ``jax`` module, with 64-bit types enabled and the CPU as default device, for the block."""
    jax = module("jax")
    with jax.enable_x64(True), jax.default_device(jax.devices("cpu")[0]):
        yield jax


@contextmanager
def tensorflow_cpu():
    """The ``tensorflow`` module, with its operations placed on the CPU, for the block."""
    tf = module("tensorflow")
    with tf.device("/CPU:0"):
        yield tf


def float_dtype(dtype) -> str:
    """The name of the precision an engine runs in, "float64" or "float32", given by name or as a NumPy,
    JAX or TensorFlow dtype."""
    try:
        name = np.dtype(getattr(dtype, "as_numpy_dtype", dtype)).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise InvalidArgument(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    return name
