"""Gradient clipping as the frameworks do it: by norm, by global norm, by value.

NumPy only. ``grads`` is a list (or tuple, or generator) of float16, float32
or float64 arrays, with ``None`` for a parameter that has no gradient (skipped,
as torch skips it, and returned as ``None``), or one bare array (treated as a
one-element list and returned bare). Nothing here modifies its inputs: every
result is a new array of the input's dtype and shape.

``clip_grad_norm(grads, max_norm, norm_type, convention=...)`` reproduces one
framework's arithmetic, operation by operation and in the dtype each operation
happens in (n is the norm, c the threshold):

==================  ===============================================  ===========================
convention          what it computes                                 its norm
==================  ===============================================  ===========================
``torch``           ``g·min(c·(1/(n + 1e-6)), 1)``, always           per-array p-norms, then the
                    multiplied; ``torch.nn.utils.clip_grad_norm_``   p-norm of those; any p
``tensorflow``      ``g·(c·min(1/n, 1/c) + (n − n))``:               global L2 (``l2_loss``)
                    ``tf.clip_by_global_norm``
``keras``           each array alone: ``(g·c)/max(n_i, c)``          each array's L2
                    (``tf.clip_by_norm``); c ≤ 0 is ignored: Keras
                    3's optimizer ``clipnorm`` on the TF backend
``keras_global``    ``g·(c·min(1/n, 1/c) + (n − n))``, 1/c taken     global L2 (Σ x·x, no
                    in float64; c ≤ 0 is ignored: the optimizer's    halving)
                    ``global_clipnorm`` on the TF backend
``optax``           ``g`` if ``n < c``, else ``(g/n)·c``:            global L2
                    ``optax.clip_by_global_norm``
``pascanu``         ``g·(c/n)`` if ``n ≥ c``, else ``g``: Pascanu,   global L2 (torch's, p = 2)
                    Mikolov & Bengio (2013), Algorithm 1; c/n
                    in the norm's dtype, the product in the wider
                    of it and g's, rounded once
``d2l``             ``g·(c/n)`` if ``n > c``, else ``g``, no         √(Σ_i sum(g_i²)), each sum
                    epsilon; c/n as ``reciprocal(n)·c``: the         in g_i's dtype, added in the
                    hand-written ``grad_clipping`` of *Dive into     promoted dtype
                    Deep Learning* (§9.5), in torch, in place
``fairseq``         torch's ``g·min(c/(n + 1e-6), 1)`` if ``c > 0``,  each array's L2 norm in
                    else ``g``: fairseq's ``clip_grad_norm_``        float32 (cast first), then
                    (fairseq/utils.py, without apex); float64 is     the L2 norm of those
                    refused, as torch refuses to narrow it
==================  ===============================================  ===========================

The conventions differ in small, real ways, and each reproduces its framework's
behaviour, including where that behaviour is surprising (the observed rows of
:mod:`gradproofs.clipping_observations`, printed in derivations/clipping.md):

- at n == c torch shrinks by its epsilon (c/(c + 1e-6)); TensorFlow and Keras
  scale by ``c·(1/c)``, which is 1 or one rounding below it (Keras's global
  scale, with 1/c rounded from float64, up to two either way); optax takes its
  clip branch ``(g/n)·c``; Pascanu's test ``n ≥ c`` clips.
- c = 0 with zero gradients: torch gives zeros; TensorFlow, optax and Pascanu
  give NaN (0·∞ or 0/0); Keras ignores c ≤ 0 (clipnorm and global_clipnorm).
- c < 0: torch, optax and Pascanu **flip the sign** of every gradient (scale
  c/n < 0); TensorFlow's global clip leaves g (c·(1/c) = 1); Keras ignores it.
- c = +∞: torch and optax leave g; TensorFlow 2.21 gives **NaN** (∞·0), and so
  does Keras's global scale; Keras's ``(g·∞)/∞`` gives NaN; Pascanu leaves g
  (unless n is ∞ too).
- an infinite entry: torch returns n = ∞ and scales by 0, so that entry
  becomes NaN (∞·0) and the others 0; TensorFlow (and Keras's global scale)
  turns **every** entry NaN on purpose; optax and Pascanu behave like torch;
  Keras's clipnorm like torch within the array holding it.
- a NaN entry: NaN everywhere, except in ``pascanu``, whose test ``n ≥ c`` is
  false for a NaN n, so g passes unchanged with its NaN.
- overflow of the squares (float32 [3e20, 4e20], float16 [300]×1000 in
  TensorFlow, Keras and optax, which square in float16): the norm is ∞, so torch
  and optax zero the gradients and TensorFlow gives NaN. torch accumulates
  float16 in float32, so its float16 norm of [300]×1000 is 9488; TensorFlow
  and Keras add float16 in float16, one rounding per addition.
- mixed dtypes: torch and optax promote (float32 and float64 give a float64
  norm); TensorFlow raises, as ``tf.stack`` does, and Keras's global_clipnorm
  at its product of an array with the promoted scale (c > 0). optax then divides each
  leaf by the norm cast to the leaf's dtype, so a float16 leaf is zeroed once
  the global norm passes 65504.
- the threshold in a narrow dtype: TensorFlow, Keras and optax round c to the
  gradients' dtype (float16: c above 65504 is ∞, and TensorFlow's and Keras's
  scale then NaN; c below 6e-8 is 0), and Keras forms g·c before dividing, so
  it over- or underflows in float16 and float32 where g·c does. torch forms
  1/(n + 1e-6) in the norm's dtype: for float16 zero gradients that is ∞, so
  c = 0 gives NaN there (zeros in float32 and float64).
- empty input, or every gradient None: torch and Pascanu return a norm of 0.0
  (float32, as ``torch.tensor(0.0)``), TensorFlow too, optax 0.0 in float64
  (with x64: ``jnp.sqrt`` of the integer 0); Keras raises, and so does d2l's
  ``grad_clipping`` (``torch.sqrt`` of the integer 0).
- d2l's rule is the one many hand-written trainers use: it clips only when
  n > c (not at n == c), adds no epsilon and returns nothing; like torch it
  flips the sign for c < 0 and zeros every gradient for c = 0 (n > 0); a NaN
  norm fails the test, so g passes unchanged. Its float16 arrays are scaled in
  float32 by the factor read as a float32 (torch's reduced-float path), as in
  ``torch``.

``error_if_nonfinite=True`` raises :class:`RuntimeError` instead of applying
a non-finite norm (any convention; torch's own option), before anything is
computed from it.

The overflow-safe norm
----------------------
``safe_norm=True`` is a policy, chosen explicitly, that departs from the
frameworks only where their norm is wrong: where the convention's own sum of
squares (of p-th powers) is finite and at least ``count·tiny/eps`` of its
accumulating dtype, the norm is the convention's own number, to the last bit;
otherwise (overflow, or underflow that may have lost digits) it is recomputed
as LAPACK's ``nrm2`` does, scaled by the largest magnitude (the smallest, for
p < 0) and in float64, then rounded to the norm's dtype. So float32
[3e20, 4e20] has the norm 5e20 and clips to [0.6·c, 0.8·c]; a norm that the
norm's dtype cannot hold is ∞ all the same.

``clip_grad_value(grads, c, convention=...)`` clamps every entry to [−c, c]:
``"torch"`` (the default; ``clamp_min(−c)`` then ``clamp_max(c)``) and
``"optax"`` (``jnp.clip``) set every entry to c when c < 0; ``"tensorflow"``
(``tf.clip_by_value(g, −c, c)``, the minimum first) to −c; ``"keras"`` (the
optimizer's ``clipvalue``) is TensorFlow's for c > 0 and ignores c ≤ 0. NaN
entries stay NaN. torch raises on a finite |c| beyond a gradient's dtype.

Checked against the libraries, on the CPU
-----------------------------------------
Each convention is compared with its library bit for bit, over drawn
gradients from the subnormals to overflow (tests/test_clipping_live.py):
torch 2.13 (CPU build), tensorflow-cpu 2.21 (x86-64 wheel), Keras 3.15 on
TensorFlow, optax 0.2.8 on jax 0.10 with x64. Beyond the formulas that takes:

- **flush to zero**: TensorFlow's and XLA's CPU kernels run with the FTZ and
  DAZ modes on. A float32 or float64 subnormal operand counts as a zero of its
  sign, and so does a result below the smallest normal number: squares,
  products, reciprocals, thresholds and the entries themselves
  (``tf.clip_by_global_norm``'s g·scale and Keras's g·c flush every
  subnormal entry; optax's select keeps g as it is below its trigger). float16
  arithmetic happens in float32 and is rounded back with gradual underflow:
  nothing is flushed there. torch (and so ``pascanu`` and ``d2l``) does not
  flush (``torch.set_flush_denormal`` is off by default).
- **TensorFlow's sums** (``l2_loss``, ``reduce_sum``) add in Eigen's order on
  the CPU, every addition rounded to the dtype, float16 included (float16
  [0.1]×1000 has the norm 3.162, where a float32 accumulation gives 3.16);
  checked up to 200,000 entries per array.
- **TensorFlow's minimum and maximum** return their second operand on a tie
  (0.0 against −0.0, after the flush) in the entries Eigen computes in whole
  packets of float32 or float64 (8 or 4 entries) and their first elsewhere,
  which sets the sign of some zeros ``tf.clip_by_value`` returns; XLA's order
  −0.0 below 0.0.
- **optax**: XLA computes g/n as g·(1/n) for an array of more than one entry;
  ``jnp.sum`` adds float16 in float32; XLA adds a vector of up to 32 entries
  one after the other, and more entries, or arrays of more axes, in an order
  of its own that depends on the CPU (optax's norm may differ from this one
  there, within :func:`norm_tolerance`).
- **torch** rounds its 1e-6 to the norm's dtype before adding it (float16:
  1.0133e-06), and its ``clip_grad_value_`` raises on the CPU for a finite |c|
  beyond a gradient's dtype (float16: 65504).

What a NumPy model cannot see: TensorFlow converts a Python number to a
constant through a cache keyed by its value, and 0.0 == −0.0, so within one
process whichever zero was converted first stands for both. A threshold of
−0.0 for ``tf.clip_by_global_norm`` (and ±0 for ``tf.clip_by_value``, which
also converts −c) gives what this module says only where that zero came
first.

On CUDA nothing here has been verified yet: torch's CUDA kernels
sum and scale in their own order (norms within :func:`norm_tolerance`), its
clamp returns 0.0 where the CPU's keeps −0.0 and accepts a |c| beyond
float16's range; whether TensorFlow's and XLA's GPU kernels flush subnormals
depends on how they were compiled, and is not modelled.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

import numpy as np

from gradproofs import _validate
from gradproofs.formats import format_of
from gradproofs.errors import InvalidArgument

__all__ = [
    "Convention", "CONVENTIONS", "DTYPES", "TORCH_EPSILON", "PARALLEL_ELEMENTS", "ValueConvention",
    "VALUE_CONVENTIONS", "total_norm", "scaled_norm", "gradual_underflow", "clip_grad_norm", "clip_grads_with_norm",
    "clip_grad_value", "norm_tolerance", "subnormal_rounding"
]

DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
TORCH_EPSILON = 1e-6
_INF = math.inf


# --- arguments ---------------------------------------------------------------------

class _Gradients:
    """The validated ``grads``: the entries (None kept) and the arrays among them."""

    def __init__(self, grads):
        self.bare = isinstance(grads, np.ndarray)
        generator = isinstance(grads, types.GeneratorType)
        if self.bare:
            entries = [grads]
        elif isinstance(grads, (str, bytes)) or not hasattr(grads, "__iter__"):
            raise InvalidArgument(f"grads must be an array or a list of arrays (None for no gradient), "
                            f"got {type(grads).__name__}")
        else:
            entries = list(grads)
        self.empty_generator = generator and not entries
        for i, entry in enumerate(entries):
            name = "grads" if self.bare else f"grads[{i}]"
            if entry is None:
                continue
            if isinstance(entry, np.floating):  # a NumPy scalar: a 0-dim gradient
                entries[i] = entry = np.asarray(entry)
            if not isinstance(entry, np.ndarray):
                raise InvalidArgument(f"{name} must be a NumPy array (or scalar) of float16, float32 or "
                                f"float64, or None, got {type(entry).__name__}")
            if entry.dtype not in DTYPES:
                raise InvalidArgument(f"{name} must have dtype float16, float32 or float64, "
                                f"got {entry.dtype}")
        self.entries = entries
        self.arrays = [entry for entry in entries if entry is not None]

    def result(self, arrays):
        """The clipped arrays back in the entries' places (None kept, bare kept bare)."""
        return self.placed([_like(a, c) for a, c in zip(self.arrays, arrays)])

    def placed(self, values):
        """One value per array, back in the entries' places (None kept, bare kept bare)."""
        it = iter(values)
        out = [None if entry is None else next(it) for entry in self.entries]
        return out[0] if self.bare else out


def _number(name: str, value) -> float:
    """A real number (±∞ allowed) as a float; NaN, bools and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise InvalidArgument(f"{name} must not be NaN")
    return value


def _norm_type(value) -> float:
    """A number, or the strings 'inf' and '-inf' that torch documents; never NaN or 'fro'."""
    if isinstance(value, str):
        if value.strip().lower() in ("inf", "+inf", "-inf"):
            return float(value)
        raise InvalidArgument(f"norm_type must be a number (or 'inf'), got the string {value!r}: "
                        "torch's clip_grad_norm_ computes p-norms only, so 'fro' and "
                        "'nuc' have no meaning here")
    return _number("norm_type", value)


def _convention(value) -> "Convention":
    return CONVENTIONS[_validate.choice("convention", value, CONVENTIONS)]


def _cast(dtype, value):
    """``value`` rounded to ``dtype`` (to ±∞ past its range and to a subnormal or ±0 below it, as a cast does)."""
    with np.errstate(over="ignore", under="ignore"):
        return dtype.type(value)


def _like(array: np.ndarray, values) -> np.ndarray:
    """``values`` (of ``array``'s shape) as an array of its dtype: ufuncs return 0-dim results as scalars."""
    return np.asarray(values).astype(array.dtype, copy=False)


_POOL: list = []  # [(pid, executor)], made on first use by a large input; remade after a fork
PARALLEL_ELEMENTS = 1 << 20


def _map(fn, arrays) -> list:
    """``[fn(a) for a in arrays]``, on two worker threads when the arrays are large.

    NumPy releases the GIL in elementwise loops, and the workers' allocator
    arenas keep their pages between calls, where the main thread's large
    allocations are returned to the system and faulted in again each time.
    """
    if sum(a.size for a in arrays) < PARALLEL_ELEMENTS:
        return [fn(a) for a in arrays]
    if not _POOL or _POOL[0][0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _POOL[:] = [(os.getpid(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="gradproofs-clip"))]
    return list(_POOL[0][1].map(fn, arrays))


def _accumulator(dtype: np.dtype) -> np.dtype:
    """float16 reductions accumulate in float32, as torch and jnp.sum do."""
    return DTYPES[1] if dtype == DTYPES[0] else dtype


# --- the overflow-safe norm ----------------------------------------------------------

def _in_range(total, count: int, dtype: np.dtype) -> bool:
    """A sum of ``count`` squares (p-th powers) in ``dtype`` that neither overflowed nor underflowed."""
    info = np.finfo(dtype)
    return bool(np.isfinite(total)) and float(total) >= count * float(info.tiny) / float(info.eps)


def scaled_norm(arrays, p: float) -> float:
    """The p-norm of every entry of ``arrays`` as one vector, scaled as LAPACK's nrm2 does.

    In float64, scaled by the largest magnitude (the smallest for p < 0), so
    no power overflows and none that matters underflows: the norm ``safe_norm=True``
    falls back on, and the true norm the clipping theorems measure against.
    """
    flat = np.concatenate([np.abs(np.ravel(a)).astype(np.float64) for a in arrays]) \
        if arrays else np.zeros(0)
    if flat.size == 0:
        return 0.0
    if np.isnan(flat).any():
        return math.nan
    scale = float(flat.max() if p > 0 else flat.min())
    if scale == 0.0 or math.isinf(scale):
        return scale
    with np.errstate(over="ignore", under="ignore"):  # for p < 0 a ratio may overflow: its power is 0
        ratios = flat / scale
        total = float(np.dot(ratios, ratios)) if p == 2 else float(np.sum(ratios ** p))
        return scale * total ** (1.0 / p)


# --- torch ---------------------------------------------------------------------------

def _torch_vector_norm(array: np.ndarray, p: float, safe: bool):
    """``torch.linalg.vector_norm(array, p)`` on the CPU, as a scalar of the array's dtype.

    No entry: 0 (``_torch_total_norm`` has refused p < 0 and ±∞ there, as torch does).
    One entry: |x| (or x ≠ 0 for p = 0), exactly, as torch short-cuts it.
    Otherwise the sum runs in float32 for float16 (torch's accumulate type)
    and in the array's dtype else; general p uses powf/pow with p and 1/p
    rounded to that accumulating dtype, as torch's NormOps does.
    """
    dtype = array.dtype
    if array.size == 0:
        return dtype.type(0)
    x = array.ravel()
    if x.size == 1:
        value = x[0] != 0 if p == 0 else abs(x[0])
        return dtype.type(value)
    acc = _accumulator(dtype)
    if p == _INF:
        return dtype.type(np.max(np.abs(x)))
    if p == -_INF:
        return dtype.type(np.min(np.abs(x)))
    if p == 0:
        return _cast(dtype, np.count_nonzero(x))
    x = x.astype(acc, copy=False)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        if p == 1:
            total = np.sum(np.abs(x), dtype=acc)
            norm = total
        elif p == 2:
            total = acc.type(np.dot(x, x))
            norm = np.sqrt(total)
        else:
            power = acc.type(p)
            total = np.sum(np.abs(x) ** power, dtype=acc)
            norm = total ** (acc.type(1) / power)
    if safe and not _in_range(total, x.size, acc) and not np.isnan(total):
        return _cast(dtype, scaled_norm([array], p))
    return _cast(dtype, norm)


def _torch_groups(arrays):
    """Indices of ``arrays`` grouped by dtype as torch 2.13 groups them (last-seen dtype first)."""
    order = list(dict.fromkeys(a.dtype for a in arrays))[::-1]
    return [[i for i, a in enumerate(arrays) if a.dtype == dtype] for dtype in order]


def _torch_total_norm(arrays, p: float, safe: bool, names):
    """torch's ``get_total_norm``: per-array norms, stacked (promoted), then their p-norm."""
    if not arrays:
        return np.float32(0.0)
    for name, array in zip(names, arrays):
        if array.size == 0 and (p < 0 or math.isinf(p)):
            raise InvalidArgument(f"{name} is empty (a zero-size array), and the {p:g}-norm of an empty array "
                             "has no value: torch raises here")
    norms = [_torch_vector_norm(arrays[i], p, safe) for group in _torch_groups(arrays) for i in group]
    dtype = np.result_type(*norms)
    return _torch_vector_norm(np.array(norms, dtype=dtype), p, safe)


def _torch_coefficient(norm, max_norm: float):
    """``clamp(max_norm · reciprocal(n + 1e-6), max=1)`` in the norm's dtype (float16 via float32).

    torch rounds the Python number 1e-6 to the norm's dtype before adding it:
    in float16 that is 1.0133e-06.
    """
    dtype = norm.dtype
    wide = _accumulator(dtype).type
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        shifted = dtype.type(wide(norm) + wide(_cast(dtype, TORCH_EPSILON)))
        reciprocal = dtype.type(wide(1) / wide(shifted))
        coefficient = dtype.type(wide(reciprocal) * _cast(np.dtype(wide), max_norm))
    return np.minimum(coefficient, dtype.type(1))


def _torch_scale(array: np.ndarray, coefficient):
    """``array.mul_(coefficient)`` for a 0-dim coefficient of the same or a wider dtype.

    float16 arrays multiply in float32 by the coefficient read as a float32
    (torch's reduced-float path); float32 arrays by the coefficient rounded to
    float32; the same dtype multiplies directly.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if array.ndim == 0:  # two 0-dim tensors: the product is taken in the wider dtype
            return _like(array, array.astype(coefficient.dtype) * coefficient)
        if array.dtype == DTYPES[0] and coefficient.dtype != DTYPES[0]:
            return (array.astype(np.float32) * np.float32(coefficient)).astype(np.float16)
        return np.multiply(array, array.dtype.type(coefficient))


def _torch_norm(grads: _Gradients, p: float, safe: bool):
    if grads.empty_generator:
        warnings.warn("grads is an empty generator, no gradient clipping will occur "
                      "(torch warns here too)", stacklevel=3)  # clip_grad_norm's caller
    names = [name for name, entry in _names(grads) if entry is not None]
    return _torch_total_norm(grads.arrays, p, safe, names)


def _torch_clip(arrays, max_norm, norm):
    """``clip_grads_with_norm_``: every array times ``_torch_coefficient``."""
    coefficient = _torch_coefficient(norm, max_norm)
    return _map(lambda a: _torch_scale(a, coefficient), arrays)


# --- the CPU kernels' arithmetic: TensorFlow's (Eigen) and XLA's (optax) -------------------------

_FLUSH = contextvars.ContextVar("gradproofs_clipping_flush", default=True)


@contextlib.contextmanager
def gradual_underflow():
    """Within it, TensorFlow's, Keras's and optax's arithmetic keeps subnormals (IEEE gradual underflow),
    as a NumPy reimplementation of their rules does, instead of flushing them as their CPU kernels do."""
    token = _FLUSH.set(False)
    try:
        yield
    finally:
        _FLUSH.reset(token)


def _flushed(x):
    """``x`` with float32 and float64 subnormals read as zeros of their sign; float16 as it is.

    TensorFlow and XLA run their CPU kernels with the flush-to-zero and
    denormals-are-zero modes on, so a subnormal operand counts as ±0 and a
    result below the smallest normal number becomes ±0. float16 arithmetic
    happens in float32, where a float16 subnormal is a normal number, and is
    rounded back with gradual underflow: nothing is flushed there.
    """
    x = np.asarray(x)
    if x.dtype == DTYPES[0] or not _FLUSH.get():
        return x
    return np.where(np.abs(x) < np.finfo(x.dtype).tiny, np.copysign(x.dtype.type(0), x), x).astype(x.dtype)


def _flush_op(ufunc, *operands):
    """``ufunc`` in the operands' dtype with subnormal operands and results flushed, as the CPU kernels do."""
    with np.errstate(all="ignore"):
        return _flushed(ufunc(*[_flushed(x) for x in operands]))


def _eigen_packed(shape, dtype):
    """Which entries of an elementwise result Eigen computes in whole packets (the rest one by one)."""
    count = int(np.prod(shape, dtype=np.int64))
    packed = 0 if dtype == DTYPES[0] else count // _EIGEN_LANES[dtype] * _EIGEN_LANES[dtype]
    return (np.arange(count) < packed).reshape(shape)


def _tf_extremum(a, b, better):
    """``tf.minimum``/``tf.maximum`` of two same-dtype operands: NaN if either is NaN, else ``b`` where it is
    ``better`` than ``a``, and on a tie (0.0 against −0.0, after the flush) ``b`` in the entries Eigen
    computes in whole packets of float32 or float64 (x86's minps/maxps return their second operand
    there) and ``a`` elsewhere (the scalar path, and every float16 entry)."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    take_b = better(b, a) | np.isnan(b) | ((a == b) & _eigen_packed(a.shape, a.dtype))
    return np.where(take_b & ~np.isnan(a), b, a)


def _tf_minimum(a, b):
    return _tf_extremum(a, b, np.less)


def _tf_maximum(a, b):
    return _tf_extremum(a, b, np.greater)


def _xla_minimum(a, b):
    """XLA's minimum: NaN if either is NaN, else the smaller, with −0.0 below 0.0 (IEEE 754-2019)."""
    least = np.where(a < b, a, np.where(b < a, b, np.where(np.signbit(a), a, b)))
    return np.where(np.isnan(a), a, np.where(np.isnan(b), b, least))


def _xla_maximum(a, b):
    """XLA's maximum: NaN if either is NaN, else the larger, with 0.0 above −0.0 (IEEE 754-2019)."""
    most = np.where(a > b, a, np.where(b > a, b, np.where(np.signbit(a), b, a)))
    return np.where(np.isnan(a), a, np.where(np.isnan(b), b, most))


# Eigen's full reduction on the CPU (TensorReduction.h, InnerMostDimReducer), as TensorFlow's x86-64
# wheels build it (AVX): packets of 8 float16, 8 float32 or 4 float64 lanes, four packet accumulators,
# split in two halves (at a packet boundary) above LEAF packets.
_EIGEN_LANES = {DTYPES[0]: 8, DTYPES[1]: 8, DTYPES[2]: 4}
_EIGEN_LEAF = {DTYPES[0]: 200, DTYPES[1]: 1024, DTYPES[2]: 1024}
_EIGEN_ACCUMULATORS = 4


def _eigen_horizontal(packet, dtype):
    """Eigen's ``predux`` of one packet: halves folded onto each other down to four lanes (two for
    float64), then (x0 + x2) + (x1 + x3); float16 lanes are added in float32 and rounded once.
    (Called within ``_eigen_sum``'s error state, where a sum may overflow.)"""
    wide = _accumulator(dtype)
    lanes = packet.astype(wide)
    while lanes.size > 4 or (lanes.size > 2 and wide == DTYPES[2]):
        half = lanes.size // 2
        lanes = lanes[:half] + lanes[half:]
    total = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) if lanes.size == 4 else lanes[0] + lanes[1]
    return _cast(dtype, total)


def _eigen_sum(values):
    """``tf.reduce_sum`` of a flat array in its dtype, in the order Eigen adds on the CPU.

    Four accumulators of one packet each take whole blocks of four packets,
    are added together, the remaining whole packets follow one by one, then
    the packet's lanes are summed (``_eigen_horizontal``) and added to the
    scalar sum of the last entries; above LEAF packets the array is split in
    two, after the whole packets that hold its first ⌈count/2⌉ entries, and
    the halves summed so (Eigen splits at ⌈(offset + ⌈count/2⌉)/lanes⌉ packets
    from the whole array's start; every half starts at a whole packet, so the
    offset changes nothing). Every addition rounds to the dtype (float16
    included: TensorFlow does not accumulate float16 in float32).
    """
    dtype = values.dtype
    lanes, count = _EIGEN_LANES[dtype], values.size
    with np.errstate(over="ignore"):
        if count > lanes * _EIGEN_LEAF[dtype]:
            half = -(-count // 2)  # ⌈count/2⌉
            left = lanes * -(-half // lanes)  # the whole packets that hold them
            total = dtype.type(0) + _eigen_sum(values[:left])
            return total + _eigen_sum(values[left:])
        block = lanes * _EIGEN_ACCUMULATORS
        blocked, packed = count // block * block, count // lanes * lanes
        if blocked and dtype == DTYPES[0]:  # float16: each addition rounds, so no float32 reduction
            accumulators = np.zeros((_EIGEN_ACCUMULATORS, lanes), dtype)
            for rows in values[:blocked].reshape(-1, _EIGEN_ACCUMULATORS, lanes):
                accumulators = accumulators + rows
        elif blocked:  # along the first axis NumPy adds row after row, as the accumulators do
            accumulators = np.add.reduce(values[:blocked].reshape(-1, _EIGEN_ACCUMULATORS, lanes), axis=0)
        else:
            accumulators = np.zeros((_EIGEN_ACCUMULATORS, lanes), dtype)
        packet = accumulators[0]
        for row in accumulators[1:]:
            packet = packet + row
        for start in range(blocked, packed, lanes):
            packet = packet + values[start:start + lanes]
        scalar = dtype.type(0)
        for value in values[packed:]:
            scalar = scalar + value
        return scalar + _eigen_horizontal(packet, dtype) if packed else scalar


def _xla_sum(values, dtype):
    """``jnp.sum`` of a flat array on XLA's CPU backend, as ``dtype``: float16 in float32 (jnp.sum
    accumulates it so) and rounded back; one addition after the other, as XLA adds a vector of up to
    32 entries."""
    wide = _accumulator(dtype)
    if values.size == 0:
        return dtype.type(0)
    with np.errstate(over="ignore"):
        return _cast(dtype, np.add.accumulate(values.astype(wide, copy=False))[-1])


# --- TensorFlow, Keras, optax, Pascanu ---------------------------------------------------

def _squares_sum(array: np.ndarray):
    """``torch.sum(g ** 2)``: the squares rounded in the array's dtype; float16's sum accumulated in
    float32 and rounded back, as torch does."""
    dtype = array.dtype
    x = array.ravel()
    with np.errstate(over="ignore", under="ignore"):
        if dtype != DTYPES[0]:
            return dtype.type(np.dot(x, x))
        return _cast(dtype, np.sum(np.square(x), dtype=np.float32))


def _safe_l2(arrays, plain, total, dtype, safe):
    """``plain`` unless ``safe`` and its sum of squares ``total`` left the dtype's range."""
    count = sum(a.size for a in arrays)
    if safe and not np.isnan(total) and not _in_range(total, max(count, 1), dtype):
        return _cast(dtype, scaled_norm(arrays, 2.0))
    return plain


def _one_dtype(grads: _Gradients, convention: str):
    dtypes = {a.dtype for a in grads.arrays}
    if len(dtypes) > 1:
        described = ", ".join(f"{name}: {entry.dtype}" for name, entry in _names(grads) if entry is not None)
        raise InvalidArgument(f"grads mixes dtypes ({described}); convention {convention!r} needs one dtype "
                        "for all arrays, because TensorFlow's global norm stacks the per-array sums "
                        "and tf.stack raises on mixed dtypes")
    return dtypes.pop() if dtypes else np.dtype(np.float32)


def _tf_squares(array: np.ndarray):
    """``tf.square(g)`` (``g * g``), flattened: each square rounded to the dtype, then flushed."""
    return _flush_op(np.multiply, array.ravel(), array.ravel())


def _tensorflow_norm(grads: _Gradients, safe):
    """``tf.linalg.global_norm``: √(2·Σ_i l2_loss(g_i)), l2_loss = Σ (x·x)·0.5, all in the dtype."""
    dtype = _one_dtype(grads, "tensorflow")
    half = dtype.type(0.5)
    half_squares = np.array([_eigen_sum(_flush_op(np.multiply, _tf_squares(a), half)) for a in grads.arrays],
                            dtype=dtype)
    total = _flush_op(np.multiply, _eigen_sum(half_squares), dtype.type(2))[()]
    norm = np.sqrt(total)
    return _safe_l2(grads.arrays, norm, total, dtype, safe)


def _tensorflow_scale(arrays, max_norm, norm):
    """``tf.clip_by_global_norm``'s scale c·min(1/n, 1/c) + (n − n), then g·scale, all in n's dtype."""
    dtype = norm.dtype
    c = _cast(dtype, max_norm)
    one = dtype.type(1)
    scale = _flush_op(np.multiply, c, _tf_minimum(_flush_op(np.divide, one, norm), _flush_op(np.divide, one, c)))
    scale = _flush_op(np.add, scale, _flush_op(np.subtract, norm, norm))[()]
    return [_flush_op(np.multiply, a, scale) for a in arrays]


_KERAS_NO_GRADIENT = "Keras's optimizer raises here ('No gradients provided for any variable')"


def _keras_needs_a_gradient(grads: _Gradients) -> None:
    if not grads.arrays:
        raise InvalidArgument(f"grads holds no gradient; {_KERAS_NO_GRADIENT}")


def _keras_norms(grads: _Gradients, safe):
    """Each array's L2 norm as ``tf.clip_by_norm`` takes it: √Σ x·x where that sum is positive, else the sum."""
    _keras_needs_a_gradient(grads)
    norms = []
    for a in grads.arrays:
        l2sum = _eigen_sum(_tf_squares(a))
        norm = np.sqrt(l2sum) if _flushed(l2sum) > 0 else l2sum
        norms.append(_safe_l2([a], norm, l2sum, a.dtype, safe))
    return norms


def _keras_scale(arrays, max_norm, norms):
    """Keras 3's optimizer ``clipnorm`` on TensorFlow: ``tf.clip_by_norm`` of each array alone,
    (g·c)/max(n_i, c), when c > 0; c ≤ 0 is ignored."""
    if not max_norm > 0:
        return [a.copy() for a in arrays]
    clipped = []
    for a, norm in zip(arrays, norms):
        c = _cast(a.dtype, max_norm)
        clipped.append(_flush_op(np.divide, _flush_op(np.multiply, a, c), _tf_maximum(_flushed(norm), _flushed(c))))
    return clipped


def _keras_global_norm(grads: _Gradients, safe):
    """Keras 3's ``global_norm``: √(Σ_i Σ x·x), each sum ``ops.sum`` (``tf.reduce_sum``) in the dtype."""
    _keras_needs_a_gradient(grads)
    sums = [_eigen_sum(_tf_squares(a)) for a in grads.arrays]
    dtype = np.result_type(*sums)  # ops.stack promotes
    sums = np.array(sums, dtype=dtype)
    total = _eigen_sum(sums)
    norm = np.sqrt(total)
    return _safe_l2(grads.arrays, norm, total, dtype, safe)


def _keras_global_scale(arrays, max_norm, norm):
    """Keras 3's ``clip_by_global_norm`` (the optimizer's ``global_clipnorm``) on TensorFlow: when
    c > 0, g·(c·min(1/n, 1/c) + (n − n)) with 1/c taken in Python's float64 and rounded to the dtype,
    1/n in the dtype; c ≤ 0 is ignored."""
    if not max_norm > 0:
        return [a.copy() for a in arrays]
    if len({a.dtype for a in arrays}) > 1:
        raise InvalidArgument(f"grads mixes dtypes ({', '.join(sorted({a.dtype.name for a in arrays}))}); Keras's "
                        "global_clipnorm multiplies each array by the global scale, and TensorFlow raises on "
                        "a product of two dtypes")
    dtype = norm.dtype
    inverse_c = _cast(dtype, 1.0 / max_norm)
    least = _tf_minimum(_flush_op(np.divide, dtype.type(1), norm), _flushed(inverse_c))
    scale = _flush_op(np.multiply, _cast(dtype, max_norm), least)
    scale = _flush_op(np.add, scale, _flush_op(np.subtract, norm, norm))[()]
    return [_flush_op(np.multiply, a, scale) for a in arrays]


def _optax_norm(grads: _Gradients, safe):
    """``optax.tree.norm``: √(((0 + s_1) + s_2) + …) with s_i = jnp.sum(g_i²) in g_i's dtype, each
    addition in the wider of its two operands' dtypes (the integer 0 takes s_1's), so float16 sums
    add in float16 until a wider one comes; no leaves: 0.0 in float64 (jax with x64, as float64
    gradients need)."""
    if not grads.arrays:
        return np.float64(0.0)
    sums = [_xla_sum(_flush_op(np.square, a.ravel()), a.dtype) for a in grads.arrays]
    total = sums[0].dtype.type(0)
    for s in sums:
        dtype = np.result_type(total, s)
        total = _flush_op(np.add, dtype.type(total), dtype.type(s))[()]
    norm = np.sqrt(total)
    return _safe_l2(grads.arrays, norm, total, norm.dtype, safe)


def _optax_scale(arrays, max_norm, norm):
    """``optax.clip_by_global_norm``: g itself (a select) if n < c, else (g/n)·c in g's dtype, where XLA
    computes g/n as g·(1/n) for an array of more than one entry."""
    if _flushed(norm) < _flushed(_cast(norm.dtype, max_norm)):
        return [a.copy() for a in arrays]
    clipped = []
    for a in arrays:
        n = _cast(a.dtype, norm)
        if a.size > 1:
            quotient = _flush_op(np.multiply, a, _flush_op(np.divide, a.dtype.type(1), n))
        else:
            quotient = _flush_op(np.divide, a, n)
        clipped.append(_flush_op(np.multiply, quotient, _cast(a.dtype, max_norm)))
    return clipped


def _pascanu_norm(grads: _Gradients, safe):
    names = [name for name, entry in _names(grads) if entry is not None]
    return _torch_total_norm(grads.arrays, 2.0, safe, names)


def _pascanu_scale(arrays, max_norm, norm):
    """Algorithm 1: g·(c/n) if n ≥ c, c/n in the norm's dtype, the product in the wider of it and g's,
    rounded once; a NaN n fails the test, so g passes unchanged."""
    c = _cast(norm.dtype, max_norm)
    if not norm >= c:
        return [a.copy() for a in arrays]
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        factor = c / norm

    def scale(a):
        wide = np.result_type(a.dtype, factor.dtype)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return (a.astype(wide, copy=False) * factor.astype(wide)).astype(a.dtype, copy=False)

    return _map(scale, arrays)


def _d2l_norm(grads: _Gradients, safe):
    """``sqrt(sum(torch.sum(g ** 2) for g in grads))``: Python's ``sum`` starts from the integer 0 and
    adds 0-dim tensors, so the partial sums take the promoted dtype as they go."""
    if not grads.arrays:
        raise InvalidArgument("grads holds no gradient; d2l's grad_clipping raises here (torch.sqrt of the integer 0)")
    total = _squares_sum(grads.arrays[0])
    with np.errstate(over="ignore"):
        for s in map(_squares_sum, grads.arrays[1:]):
            dtype = np.result_type(total, s)
            total = dtype.type(dtype.type(total) + dtype.type(s))
        norm = np.sqrt(total)
    return _safe_l2(grads.arrays, norm, total, norm.dtype, safe)


def _d2l_scale(arrays, max_norm, norm):
    """``if norm > c: g[:] *= c / norm``, c/norm as torch's ``reciprocal(norm) * c``; the comparison
    rounds c to the norm's dtype."""
    if not norm > _cast(norm.dtype, max_norm):
        return [a.copy() for a in arrays]
    wide = _accumulator(norm.dtype).type
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        reciprocal = norm.dtype.type(wide(1) / wide(norm))
        factor = norm.dtype.type(wide(reciprocal) * _cast(np.dtype(wide), max_norm))
    return _map(lambda a: _torch_scale(a, factor), arrays)


def _fairseq_norm(grads: _Gradients, safe):
    """fairseq's ``clip_grad_norm_`` without apex: ``torch.norm(g, p=2, dtype=torch.float32)`` of each
    gradient (cast to float32 first, whatever its dtype), the one norm as it is, or the float32 L2
    norm of those norms stacked; no gradient: 0."""
    if not grads.arrays:
        return np.float32(0.0)
    for name, entry in _names(grads):
        if entry is not None and entry.dtype == DTYPES[2]:
            raise InvalidArgument(f"{name} is float64, which fairseq's clip_grad_norm_ cannot clip: "
                                  f"torch.norm(g, p=2, dtype=torch.float32) refuses to narrow float64 (torch raises)")
    norms = [_torch_vector_norm(a.astype(np.float32), 2.0, safe) for a in grads.arrays]
    if len(norms) == 1:
        return norms[0]
    return _torch_vector_norm(np.array(norms, dtype=np.float32), 2.0, safe)


def _fairseq_scale(arrays, max_norm, norm):
    """``if max_norm > 0: g.mul_((max_norm / (n + 1e-6)).clamp_(max=1))``, torch's coefficient in
    float32: a threshold ≤ 0 (or NaN) means "do not clip", and g is left as it is."""
    if not max_norm > 0:
        return [a.copy() for a in arrays]
    return _torch_clip(arrays, max_norm, norm)


@dataclass(frozen=True)
class Convention:
    """What a clipping convention is: its norm (of the validated gradients, p, safe), its clip (of
    the arrays, c, n), and the properties the engine, the theorems and the oracle read."""

    norm: Callable
    clip: Callable
    any_p: bool = False  # takes any p (the others clip by the L2 norm)
    per_array: bool = False  # measures and clips each array alone: one norm per array
    one_dtype: bool = False  # raises on gradients of mixed dtypes
    needs_a_gradient: bool = False  # raises on no gradient
    flushes: bool = False  # its CPU kernels flush float32 and float64 subnormals to zero
    widened_squares: bool = False  # squares float16 in float32 (else in the array's dtype)
    epsilon: float = 0.0  # added to n before c is divided by it: it clips when n + epsilon exceeds c
    two_level: bool = False  # each array's norm in the array's dtype, then the norm of those (torch's)
    min_scale: bool = False  # scales by c·min(1/n, 1/c) + (n − n): forms 1/c, and gives NaN for an infinite n
    norm_per_dtype: bool = False  # casts the global norm to each array's dtype before dividing by it
    quotient_first: bool = False  # forms g/n before multiplying by c, so g/n may underflow
    roundings_below: int = 0  # the roundings by which it moves g below its trigger (0: g to the bit)
    dtypes: tuple = tuple(dtype.name for dtype in DTYPES)  # the gradients' dtypes it takes (it raises on others)
    in_torch: str | None = None  # the torch.nn.utils function it is, which the theorems run beside it


CONVENTIONS = {
    "torch": Convention(_torch_norm, _torch_clip, any_p=True, widened_squares=True, epsilon=TORCH_EPSILON,
                        two_level=True, in_torch="clip_grad_norm_"),
    "tensorflow": Convention(lambda grads, p, safe: _tensorflow_norm(grads, safe), _tensorflow_scale,
                             one_dtype=True, flushes=True, min_scale=True, roundings_below=2),
    "keras": Convention(lambda grads, p, safe: _keras_norms(grads, safe), _keras_scale, per_array=True,
                        needs_a_gradient=True, flushes=True, roundings_below=2),
    "keras_global": Convention(lambda grads, p, safe: _keras_global_norm(grads, safe), _keras_global_scale,
                               one_dtype=True, needs_a_gradient=True, flushes=True, min_scale=True,
                               roundings_below=4),
    "optax": Convention(lambda grads, p, safe: _optax_norm(grads, safe), _optax_scale, flushes=True,
                        norm_per_dtype=True, quotient_first=True),
    "pascanu": Convention(lambda grads, p, safe: _pascanu_norm(grads, safe), _pascanu_scale, widened_squares=True,
                          two_level=True),
    "d2l": Convention(lambda grads, p, safe: _d2l_norm(grads, safe), _d2l_scale, needs_a_gradient=True),
    "fairseq": Convention(lambda grads, p, safe: _fairseq_norm(grads, safe), _fairseq_scale, widened_squares=True,
                          epsilon=TORCH_EPSILON, two_level=True, dtypes=("float16", "float32")),
}


def _names(grads: _Gradients):
    if grads.bare:
        return [("grads", grads.entries[0])]
    return [(f"grads[{i}]", entry) for i, entry in enumerate(grads.entries)]


def _refuse_nonfinite(error_if_nonfinite: bool, norm, p: float) -> None:
    if error_if_nonfinite and not np.isfinite(norm):
        raise RuntimeError(f"the total norm of order {p:g} of grads is non-finite ({norm}), so it "
                           "cannot be clipped; nothing was modified. Pass error_if_nonfinite=False "
                           "to scale by the non-finite norm anyway (as the convention does)")


# --- the public functions ----------------------------------------------------------------

def total_norm(grads, norm_type=2.0, *, safe_norm: bool = False):
    """The p-norm of a list of arrays, as ``torch.nn.utils.get_total_norm`` defines it.

    Each array's p-norm, then the p-norm of those norms (stacked in the promoted
    dtype), which for p > 0 is the p-norm of every entry as one vector. p = ∞
    is the largest magnitude, −∞ the smallest; p = 0 counts the arrays whose
    norm is non-zero (the count of non-zero entries of each array, then the
    count of non-zero counts); p < 0 is (Σ|x|^p)^(1/p), 0 as soon as one entry
    is 0. The norm of no arrays (all None) is 0.0 in float32. An empty
    (zero-size) array with p = ±∞ or p < 0 is a ValueError, as it is an error
    in torch. Returns a NumPy scalar of the promoted dtype.
    """
    gradients = _Gradients(grads)
    p = _norm_type(norm_type)
    names = [name for name, entry in _names(gradients) if entry is not None]
    return _torch_total_norm(gradients.arrays, p, bool(safe_norm), names)


def clip_grad_norm(grads, max_norm, norm_type=2.0, *, convention: str = "torch",
                   error_if_nonfinite: bool = False, safe_norm: bool = False):
    """Clip ``grads`` so that their norm is at most ``max_norm``, as ``convention`` does.

    Returns ``(clipped, norms)``: new arrays of the inputs' dtypes (None kept;
    a bare array in, a bare array out) and the norms the convention measured
    *before* clipping, as a 1-D NumPy array in the dtype it computes them in
    (torch: the promoted dtype): one entry for a global norm, and for
    ``"keras"``, which measures each array on its own, one per array (None
    skipped), each exact in its array's dtype. ``norm_type`` is any p
    for ``"torch"`` and must be 2 for the others (global L2). See the module
    documentation for each convention's formula and edge cases.

    Raises TypeError or ValueError naming the argument (a NaN ``max_norm``, a
    ``norm_type`` that is not a number, a non-float array, an unknown
    convention) before any work; RuntimeError for a non-finite norm with
    ``error_if_nonfinite``.
    """
    gradients = _Gradients(grads)
    max_norm = _number("max_norm", max_norm)
    p = _norm_type(norm_type)
    rule = _convention(convention)
    if not rule.any_p and p != 2:
        raise InvalidArgument(f"norm_type must be 2 for convention {convention!r}, which clips by the L2 "
                              f"norm; got {norm_type!r} (only 'torch' takes any p)")
    norm = rule.norm(gradients, p, bool(safe_norm))
    norms = norm if rule.per_array else [norm]
    for n in norms:
        _refuse_nonfinite(error_if_nonfinite, n, p)
    clipped = rule.clip(gradients.arrays, max_norm, norm) if gradients.arrays else []
    return gradients.result(clipped), np.array(norms, dtype=np.result_type(*norms))


def clip_grads_with_norm(grads, max_norm, total_norm, *, convention: str = "torch"):
    """Clip ``grads`` given their norm, as ``convention`` does once it has measured it.

    The second half of :func:`clip_grad_norm`: ``clip_grad_norm(g, c, convention=k)``
    is ``clip_grads_with_norm(g, c, n, convention=k)`` with its own n. This
    is torch's ``clip_grads_with_norm_`` (and TensorFlow's ``use_norm``), and
    lets a norm summed in another order be applied exactly as the convention
    applies its own. ``total_norm`` is the norms as :func:`clip_grad_norm`
    returns them: a 1-D NumPy float array whose dtype is the norm's, with one
    entry, or for ``"keras"`` one per array (None skipped), read in its
    array's dtype. Returns the clipped arrays as :func:`clip_grad_norm` does.
    """
    gradients = _Gradients(grads)
    max_norm = _number("max_norm", max_norm)
    rule = _convention(convention)
    count = len(gradients.arrays) if rule.per_array else 1
    if not isinstance(total_norm, np.ndarray) or total_norm.dtype not in DTYPES or total_norm.shape != (count,):
        what = f"{type(total_norm).__name__} {total_norm!r}" if not isinstance(total_norm, np.ndarray) \
            else f"an array of {total_norm.dtype} and shape {total_norm.shape}"
        held = f"one norm per array of grads ({count}), as convention {convention!r} measures each alone" \
            if rule.per_array else "one norm"
        raise InvalidArgument(f"total_norm must be a 1-D NumPy array of float16, float32 or float64 holding {held}, "
                              f"as clip_grad_norm returns it; got {what}")
    norm = [_cast(a.dtype, n) for a, n in zip(gradients.arrays, total_norm)] if rule.per_array else total_norm[0]
    clipped = rule.clip(gradients.arrays, max_norm, norm) if gradients.arrays else []
    return gradients.result(clipped)


def _clamp_torch(array, c):
    """``clamp_min(−c)`` then ``clamp_max(c)``; c must fit the dtype (torch raises otherwise)."""
    low, high = _cast(array.dtype, -c), _cast(array.dtype, c)
    raised = np.where(array < low, low, array)
    return np.where(raised > high, high, raised).astype(array.dtype, copy=False)


def _clamp_tensorflow(array, c):
    """``tf.clip_by_value(g, −c, c)``: ``maximum(minimum(g, c), −c)``, flushed."""
    low, high = _flushed(_cast(array.dtype, -c)), _flushed(_cast(array.dtype, c))
    return _flushed(_tf_maximum(_flushed(_tf_minimum(_flushed(array), high)), low)).astype(array.dtype, copy=False)


def _clamp_keras(array, c):
    """Keras 3's optimizer ``clipvalue``: ``tf.clip_by_value(g, −c, c)`` when c > 0; c ≤ 0 is ignored."""
    return _clamp_tensorflow(array, c) if c > 0 else array.copy()


def _clamp_optax(array, c):
    """``optax.clip(c)``: ``jnp.clip(g, −c, c)``, that is ``minimum(c, maximum(−c, g))``, flushed."""
    low, high = _flushed(_cast(array.dtype, -c)), _flushed(_cast(array.dtype, c))
    return _flushed(_xla_minimum(high, _flushed(_xla_maximum(low, _flushed(array))))).astype(array.dtype, copy=False)


@dataclass(frozen=True)
class ValueConvention:
    """What a value-clipping convention is: its clamp (of one array, c) and the arguments it refuses."""

    clamp: Callable
    no_gradient: str | None = None  # what raises on no gradient, where one does
    fits_dtype: bool = False  # raises on a finite |c| beyond a gradient's dtype


VALUE_CONVENTIONS = {
    "torch": ValueConvention(_clamp_torch, no_gradient="torch's clip_grad_value_ raises here too",
                             fits_dtype=True),
    "tensorflow": ValueConvention(_clamp_tensorflow),
    "keras": ValueConvention(_clamp_keras, no_gradient=_KERAS_NO_GRADIENT),
    "optax": ValueConvention(_clamp_optax),
}


def clip_grad_value(grads, clip_value, *, convention: str = "torch"):
    """Clamp every entry to [−clip_value, clip_value], as ``convention`` does.

    ``"torch"`` (``clip_grad_value_``): ``clamp_min(−c)`` then ``clamp_max(c)``:
    with c < 0 every entry becomes c; with c = 0 the negative entries become
    −0.0; NaN entries stay NaN; c = ∞ leaves every finite entry. A finite
    |c| beyond an array's dtype (65504 for float16) is a ValueError, as torch
    raises on the CPU; so is empty input (or every gradient None).
    ``"tensorflow"`` (``tf.clip_by_value(g, −c, c)``) takes the minimum with c
    first, so with c < 0 every entry becomes −c; ``"keras"`` (the optimizer's
    ``clipvalue``) does the same for c > 0, ignores c ≤ 0 and raises on no
    gradient; ``"optax"`` (``optax.clip``) clamps as ``jnp.clip``, c for every
    entry when c < 0. TensorFlow, Keras and optax flush float32 and float64
    subnormals to zero (see the module documentation) and round c to the
    dtype (past float16's range, to ±∞).
    """
    gradients = _Gradients(grads)
    clip_value = _number("clip_value", clip_value)
    rule = VALUE_CONVENTIONS[_validate.choice("convention", convention, VALUE_CONVENTIONS)]
    if not gradients.arrays and rule.no_gradient:
        raise InvalidArgument(f"grads holds no gradient; {rule.no_gradient}")
    if rule.fits_dtype and math.isfinite(clip_value):
        for name, entry in _names(gradients):
            if entry is not None and abs(clip_value) > float(np.finfo(entry.dtype).max):
                raise InvalidArgument(f"clip_value={clip_value!r} does not fit {name}'s {entry.dtype} (largest "
                                 f"{float(np.finfo(entry.dtype).max):g}): torch raises here ('value cannot be "
                                 f"converted to type ... without overflow')")
    return gradients.result(_map(lambda a: rule.clamp(a, clip_value), gradients.arrays))


def norm_tolerance(grads, norm_type=2.0, *, convention: str = "torch") -> float:
    """How far apart (relatively) two correct computations of the convention's norm may lie.

    Implementations may add the same terms in another order (torch's
    vectorised lanes, BLAS, NumPy's pairwise sum, a GPU's tree): each sum of
    N terms in a dtype with unit roundoff u is within (N + 1)·u of the exact
    one, a p-th root divides that by p (so p < 1 multiplies it), and each
    rounding to a result dtype adds u. For p other than 1 and 2, p and 1/p
    are rounded too (torch rounds them to float32 for float32 data), which
    moves x^p by u·p·|ln x| and S^(1/p) by u·|ln S|/p: u times |ln| of the
    entries' and the norm's magnitudes. Terms and partial sums below the
    smallest normal number are rounded to a multiple of the smallest subnormal
    σ, so a sum S of N terms carries an absolute (N + 2)·σ as well, and a
    norm n that is itself subnormal in its dtype an absolute σ/2: σ/(2n) of
    it, never more than 1 (a norm that underflows to 0). For torch
    the per-array norms and the norm of those each contribute; the other
    conventions square in the array's dtype. Twice the bound of one
    computation. p = 0 and ±∞ compute no sums: 0.
    """
    gradients = _Gradients(grads)
    p = _norm_type(norm_type)
    rule = _convention(convention)
    if not gradients.arrays or p == 0 or math.isinf(p):
        return 0.0
    shrink = min(abs(p), 1.0)

    def u(dtype) -> float:
        return format_of(dtype).unit_roundoff

    def one_sum(count, acc, result) -> float:
        return (count + 1) * u(acc) / shrink + u(acc) + u(result)

    squares_in = _accumulator if rule.widened_squares else (lambda dtype: dtype)
    per_array = max(one_sum(a.size, squares_in(a.dtype), a.dtype) for a in gradients.arrays)
    promoted = np.result_type(*gradients.arrays)
    second = one_sum(len(gradients.arrays), _accumulator(promoted), promoted)
    if p not in (1.0, 2.0):
        magnitudes = [np.abs(a[a != 0]).astype(np.float64) for a in gradients.arrays]
        logs = [abs(math.log(float(m))) for x in magnitudes if x.size for m in (x.min(), x.max())
                if 0 < m < _INF]
        total = scaled_norm(gradients.arrays, p)
        if 0 < total < _INF:
            logs.append(abs(math.log(total)))
        largest = max(logs, default=0.0)
        per_array += 2 * largest * max(u(squares_in(a.dtype)) for a in gradients.arrays) / shrink
        second += 2 * largest * u(_accumulator(promoted)) / shrink
    # Terms and partial sums below the smallest normal number round to a multiple of the
    # smallest subnormal σ: an absolute (N + k + 2)·σ in S = Σ|x|^p, that is (N + k + 2)·σ/(p·S)
    # of the norm.
    total = scaled_norm(gradients.arrays, p)
    if 0 < total < _INF:
        log_sum = p * math.log(total)
        if log_sum < 700:
            sigma = max(float(np.finfo(d).smallest_subnormal) for d in
                        [squares_in(a.dtype) for a in gradients.arrays] + [_accumulator(promoted)])
            count = sum(a.size for a in gradients.arrays) + len(gradients.arrays) + 2
            # At most 1: a sum lost to underflow entirely carries no digit of the norm.
            per_array += math.exp(min(0.0, math.log(count) + math.log(sigma) - math.log(abs(p)) - log_sum))
    per_array += max(subnormal_rounding(scaled_norm([a], p), a.dtype) for a in gradients.arrays)
    second += subnormal_rounding(total, promoted)
    return 2 * (per_array + second)


def subnormal_rounding(value: float, dtype) -> float:
    """The relative error of rounding ``value`` ≥ 0 to ``dtype`` beyond its unit roundoff: σ/(2·value)
    below the smallest normal number, where the spacing is the smallest subnormal σ; at most 1."""
    info = np.finfo(dtype)
    if not 0 < value < float(info.tiny):
        return 0.0
    return min(1.0, float(info.smallest_subnormal) / (2 * value))
