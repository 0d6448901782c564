"""The frameworks' own clipping functions as functions of NumPy gradients: thin wrappers, no arithmetic.

Each wrapper takes the gradients as gradproofs does (NumPy arrays, None for a
parameter without gradient), hands them to the library as its own tensors
(TensorFlow eager tensors; jax arrays, with x64 on so that float64 stays
float64), calls the library's function as a user does, with the threshold as
a Python float, and returns NumPy arrays (None kept) and, where the library
gives one, the norm as a NumPy scalar. Import this module only once the
library is known to be installed (``pytest.importorskip``).
"""

import types
import warnings

import numpy as np


def _numpy(tensors):
    return [None if t is None else np.asarray(t) for t in tensors]


# --- TensorFlow ----------------------------------------------------------------------------------

def _tf():
    import tensorflow as tf

    return tf


def _tensors(grads):
    tf = _tf()
    return [None if g is None else tf.constant(g) for g in grads]


def tensorflow_clip_by_global_norm(grads, clip_norm):
    """``tf.clip_by_global_norm(t_list, clip_norm)``: (clipped, global norm)."""
    clipped, norm = _tf().clip_by_global_norm(_tensors(grads), clip_norm)
    return _numpy(clipped), np.asarray(norm)[()]


def tensorflow_global_norm(grads):
    """``tf.linalg.global_norm(t_list)``."""
    return np.asarray(_tf().linalg.global_norm(_tensors(grads)))[()]


def tensorflow_clip_by_norm(grads, clip_norm):
    """``tf.clip_by_norm(t, clip_norm)`` on each gradient."""
    tf = _tf()
    return [None if g is None else np.asarray(tf.clip_by_norm(tf.constant(g), clip_norm)) for g in grads]


def tensorflow_clip_by_value(grads, clip_value):
    """``tf.clip_by_value(t, -clip_value, clip_value)`` on each gradient."""
    tf = _tf()
    return [None if g is None else np.asarray(tf.clip_by_value(tf.constant(g), -clip_value, clip_value))
            for g in grads]


# --- Keras 3 (on TensorFlow) ----------------------------------------------------------------------

def keras_clip(grads, **option):
    """What Keras 3's optimizer does to the gradients before its update, with ``option`` one of
    ``clipnorm``, ``global_clipnorm`` or ``clipvalue``: ``_filter_empty_gradients`` (None dropped, with a
    warning; nothing left raises ValueError) and ``_clip_gradients``; None put back in its place."""
    import keras

    optimizer = keras.optimizers.SGD(learning_rate=0.1, **option)
    names = [types.SimpleNamespace(name=f"grads[{i}]") for i in range(len(grads))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'Gradients do not exist for variables ...'
        present, _ = optimizer._filter_empty_gradients(_tensors(grads), names)
    clipped = iter(_numpy(optimizer._clip_gradients(present)))
    return [None if g is None else next(clipped) for g in grads]


# --- optax (on jax, x64) --------------------------------------------------------------------------

def _leaves(grads):
    import jax

    jax.config.update("jax_enable_x64", True)
    return [None if g is None else jax.numpy.asarray(g) for g in grads]


def optax_clip_by_global_norm(grads, max_norm):
    """``optax.clip_by_global_norm(max_norm).update(grads, state)``, and ``optax.tree.norm(grads)``,
    the norm it compares: (clipped, norm)."""
    import optax

    leaves = _leaves(grads)
    transform = optax.clip_by_global_norm(max_norm)
    clipped, _ = transform.update(leaves, transform.init(leaves))
    return _numpy(clipped), np.asarray(optax.tree.norm(leaves))[()]


def optax_clip(grads, max_delta):
    """``optax.clip(max_delta).update(grads, state)``."""
    import optax

    leaves = _leaves(grads)
    transform = optax.clip(max_delta)
    clipped, _ = transform.update(leaves, transform.init(leaves))
    return _numpy(clipped)
