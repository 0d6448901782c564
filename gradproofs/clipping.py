"""Gradient clipping as the frameworks do it: by norm, by global norm, by value.

NumPy only. ``grads`` is a list (or tuple, or generator) of float16, float32
or float64 arrays, with ``None`` for a parameter that has no gradient (skipped,
as torch skips it, and returned as ``None``), or one bare array (treated as a
one-element list and returned bare). Nothing here modifies its inputs: every
result is a new array of the input's dtype and shape.

``clip_grad_norm(grads, max_norm, norm_type, convention=...)`` reproduces one
framework's arithmetic, operation by operation and in the dtype each operation
happens in (n is the norm, c the threshold):

==============  ===============================================  ===========================
convention      what it computes                                 its norm
==============  ===============================================  ===========================
``torch``       ``g·min(c·(1/(n + 1e-6)), 1)``, always           per-array p-norms, then the
                multiplied; ``torch.nn.utils.clip_grad_norm_``   p-norm of those; any p
``tensorflow``  ``g·(c·min(1/n, 1/c) + (n − n))``:               global L2 (``l2_loss``)
                ``tf.clip_by_global_norm``
``keras``       each array alone: ``(g·c)/max(n_i, c)``          each array's L2
                (``tf.clip_by_norm``); c ≤ 0 is ignored: Keras
                3's optimizer ``clipnorm`` on the TF backend
``optax``       ``g`` if ``n < c``, else ``(g/n)·c``:            global L2
                ``optax.clip_by_global_norm``
``pascanu``     ``g·(c/n)`` if ``n ≥ c``, else ``g``: Pascanu,   global L2 (torch's, p = 2)
                Mikolov & Bengio (2013), Algorithm 1; c/n
                in the norm's dtype, the product in the wider
                of it and g's, rounded once
``d2l``         ``g·(c/n)`` if ``n > c``, else ``g``, no         √(Σ_i sum(g_i²)), each sum
                epsilon; c/n as ``reciprocal(n)·c``: the         in g_i's dtype, added in the
                hand-written ``grad_clipping`` of *Dive into     promoted dtype
                Deep Learning* (§9.5), in torch, in place
==============  ===============================================  ===========================

The conventions differ in small, real ways, and each reproduces its framework's
behaviour, including where that behaviour is surprising (CLIPPING.md's table,
row by row):

- at n == c torch shrinks by its epsilon (c/(c + 1e-6)); TensorFlow and Keras
  scale by ``c·(1/c)``, which is 1 or one rounding below it; optax takes its
  clip branch ``(g/n)·c``; Pascanu's test ``n ≥ c`` clips.
- c = 0 with zero gradients: torch gives zeros; TensorFlow, optax and Pascanu
  give NaN (0·∞ or 0/0); Keras ignores c ≤ 0.
- c < 0: torch, optax and Pascanu **flip the sign** of every gradient (scale
  c/n < 0); TensorFlow's global clip leaves g (c·(1/c) = 1); Keras ignores it.
- c = +∞: torch and optax leave g; TensorFlow 2.21 gives **NaN** (∞·0); Keras's
  ``(g·∞)/∞`` gives NaN; Pascanu leaves g (unless n is ∞ too).
- an infinite entry: torch returns n = ∞ and scales by 0, so that entry
  becomes NaN (∞·0) and the others 0; TensorFlow turns **every** entry NaN on
  purpose; optax and Pascanu behave like torch; Keras like torch within the
  array holding it.
- a NaN entry: NaN everywhere, except in ``pascanu``, whose test ``n ≥ c`` is
  false for a NaN n, so g passes unchanged with its NaN.
- overflow of the squares (float32 [3e20, 4e20], float16 [300]×1000 in
  TensorFlow, Keras and optax, which square in float16): the norm is ∞, so torch
  and optax zero the gradients and TensorFlow gives NaN. torch accumulates
  float16 in float32, so its float16 norm of [300]×1000 is 9488.
- mixed dtypes: torch and optax promote (float32 and float64 give a float64
  norm); TensorFlow raises, as ``tf.stack`` does. optax then divides each
  leaf by the norm cast to the leaf's dtype, so a float16 leaf is zeroed once
  the global norm passes 65504.
- the threshold in a narrow dtype: TensorFlow, Keras and optax round c to the
  gradients' dtype (float16: c above 65504 is ∞, and TensorFlow's and Keras's
  scale then NaN; c below 6e-8 is 0), and Keras forms g·c before dividing, so
  it over- or underflows in float16 and float32 where g·c does. torch forms
  1/(n + 1e-6) in the norm's dtype: for float16 zero gradients that is ∞, so
  c = 0 gives NaN there (zeros in float32 and float64).
- empty input, or every gradient None: torch and Pascanu return a norm of 0.0
  (float32, as ``torch.tensor(0.0)``), TensorFlow and optax too; Keras raises,
  and so does d2l's ``grad_clipping`` (``torch.sqrt`` of the integer 0).
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

``clip_grad_value(grads, c)`` clamps every entry to [−c, c] as torch and optax
do (torch's foreach path: ``clamp_min(−c)`` then ``clamp_max(c)``): with c < 0
every entry becomes c; with c = 0, −0.0 for the negative entries; NaN entries
stay NaN. TensorFlow's ``tf.clip_by_value(g, −c, c)`` takes the minimum first,
so with c < 0 it sets every entry to −c instead.
"""

from __future__ import annotations

import math
import os
import types
import warnings
from numbers import Real

import numpy as np

CONVENTIONS = ("torch", "tensorflow", "keras", "optax", "pascanu", "d2l")
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
            raise TypeError(f"grads must be an array or a list of arrays (None for no gradient), "
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
                raise TypeError(f"{name} must be a NumPy array (or scalar) of float16, float32 or "
                                f"float64, or None, got {type(entry).__name__}")
            if entry.dtype not in DTYPES:
                raise TypeError(f"{name} must have dtype float16, float32 or float64, "
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
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def _norm_type(value) -> float:
    """A number, or the strings 'inf' and '-inf' that torch documents; never NaN or 'fro'."""
    if isinstance(value, str):
        if value.strip().lower() in ("inf", "+inf", "-inf"):
            return float(value)
        raise TypeError(f"norm_type must be a number (or 'inf'), got the string {value!r}: "
                        "torch's clip_grad_norm_ computes p-norms only, so 'fro' and "
                        "'nuc' have no meaning here")
    return _number("norm_type", value)


def _convention(value) -> str:
    if value not in CONVENTIONS:
        raise ValueError(f"unknown convention {value!r}; expected one of {', '.join(CONVENTIONS)}")
    return value


def _cast(dtype, value):
    """``value`` rounded to ``dtype`` (to ±∞ past its range, as a cast does)."""
    with np.errstate(over="ignore"):
        return dtype.type(value)


def _like(array: np.ndarray, values) -> np.ndarray:
    """``values`` as an array of ``array``'s dtype and shape (ufuncs return 0-dim results as scalars)."""
    return np.asarray(values).astype(array.dtype, copy=False).reshape(array.shape)


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


def _scaled_norm(arrays, p: float) -> float:
    """The p-norm of every entry of ``arrays`` as one vector, scaled as LAPACK's nrm2 does.

    In float64, scaled by the largest magnitude (the smallest for p < 0), so
    no power overflows and none that matters underflows.
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
    ratios = flat / scale
    with np.errstate(under="ignore"):
        total = float(np.dot(ratios, ratios)) if p == 2 else float(np.sum(ratios ** p))
    return scale * total ** (1.0 / p)


# --- torch ---------------------------------------------------------------------------

def _torch_vector_norm(array: np.ndarray, p: float, safe: bool, name: str):
    """``torch.linalg.vector_norm(array, p)`` on the CPU, as a scalar of the array's dtype.

    One entry: |x| (or x ≠ 0 for p = 0), exactly, as torch short-cuts it.
    Otherwise the sum runs in float32 for float16 (torch's accumulate type)
    and in the array's dtype else; general p uses powf/pow with p and 1/p
    rounded to that accumulating dtype, as torch's NormOps does.
    """
    dtype = array.dtype
    if array.size == 0:
        if p < 0 or math.isinf(p):
            raise ValueError(f"{name} is empty (a zero-size array), and the {p:g}-norm of an empty "
                             "array has no value: torch raises here")
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
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
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
        return _cast(dtype, _scaled_norm([array], p))
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
            raise ValueError(f"{name} is empty (a zero-size array), and the {p:g}-norm of an empty array "
                             "has no value: torch raises here")
    norms = [_torch_vector_norm(arrays[i], p, safe, names[i]) for group in _torch_groups(arrays)
             for i in group]
    dtype = np.result_type(*norms)
    return _torch_vector_norm(np.array(norms, dtype=dtype), p, safe, "the per-array norms")


def _torch_coefficient(norm, max_norm: float):
    """``clamp(max_norm · reciprocal(n + 1e-6), max=1)`` in the norm's dtype (float16 via float32)."""
    dtype = norm.dtype
    wide = _accumulator(dtype).type
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        shifted = dtype.type(wide(norm) + wide(TORCH_EPSILON))
        reciprocal = dtype.type(wide(1) / wide(shifted))
        coefficient = dtype.type(wide(reciprocal) * _cast(np.dtype(wide), max_norm))
    return np.minimum(coefficient, dtype.type(1))


def _torch_scale(array: np.ndarray, coefficient):
    """``array.mul_(coefficient)`` for a 0-dim coefficient of the same or a wider dtype.

    float16 arrays multiply in float32 by the coefficient read as a float32
    (torch's reduced-float path); float32 arrays by the coefficient rounded to
    float32; the same dtype multiplies directly.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if array.ndim == 0:  # two 0-dim tensors: the product is taken in the wider dtype
            return _like(array, array.astype(coefficient.dtype) * coefficient)
        if array.dtype == DTYPES[0] and coefficient.dtype != DTYPES[0]:
            return (array.astype(np.float32) * np.float32(coefficient)).astype(np.float16)
        return np.multiply(array, array.dtype.type(coefficient))


def _torch(grads: _Gradients, max_norm, p, error_if_nonfinite, safe):
    names = [name for name, entry in _names(grads) if entry is not None]
    if grads.empty_generator:
        warnings.warn("grads is an empty generator, no gradient clipping will occur "
                      "(torch warns here too)", stacklevel=3)
    norm = _torch_total_norm(grads.arrays, p, safe, names)
    _refuse_nonfinite(error_if_nonfinite, norm, p)
    if not grads.arrays:
        return [], norm
    coefficient = _torch_coefficient(norm, max_norm)
    return _map(lambda a: _torch_scale(a, coefficient), grads.arrays), norm


# --- TensorFlow, Keras, optax, Pascanu ---------------------------------------------------

def _squares_sum(array: np.ndarray):
    """Σ x² in the array's dtype, the squares rounding (and overflowing) in that dtype.

    As TensorFlow's and XLA's elementwise squares do: float16 squares overflow
    past 255.9; their sum accumulates in float32 and rounds back, as jnp.sum does.
    """
    dtype = array.dtype
    x = array.ravel()
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if dtype != DTYPES[0]:
            return dtype.type(np.dot(x, x))
        return _cast(dtype, np.sum(np.square(x), dtype=np.float32))


def _safe_l2(arrays, plain, total, dtype, safe):
    """``plain`` unless ``safe`` and its sum of squares ``total`` left the dtype's range."""
    count = sum(a.size for a in arrays)
    if safe and not np.isnan(total) and not _in_range(total, max(count, 1), dtype):
        return _cast(dtype, _scaled_norm(arrays, 2.0))
    return plain


def _one_dtype(grads: _Gradients, convention: str):
    dtypes = {a.dtype for a in grads.arrays}
    if len(dtypes) > 1:
        described = ", ".join(f"{name}: {entry.dtype}" for name, entry in _names(grads) if entry is not None)
        raise TypeError(f"grads mixes dtypes ({described}); convention {convention!r} needs one dtype "
                        "for all arrays, because TensorFlow's global norm stacks the per-array sums "
                        "and tf.stack raises on mixed dtypes")
    return dtypes.pop() if dtypes else np.dtype(np.float32)


def _tensorflow(grads: _Gradients, max_norm, error_if_nonfinite, safe):
    dtype = _one_dtype(grads, "tensorflow")
    half_squares = np.array([_squares_sum(a) * dtype.type(0.5) for a in grads.arrays], dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        total = _cast(dtype, np.sum(half_squares, dtype=_accumulator(dtype))) * dtype.type(2)
        norm = np.sqrt(total)
    norm = _safe_l2(grads.arrays, norm, total, dtype, safe)
    _refuse_nonfinite(error_if_nonfinite, norm, 2.0)
    c = _cast(dtype, max_norm)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        scale = c * np.minimum(dtype.type(1) / norm, dtype.type(1) / c)
        scale = scale + (norm - norm)
    return _map(lambda a: _product(a, scale), grads.arrays), norm


def _keras(grads: _Gradients, max_norm, error_if_nonfinite, safe):
    if not grads.arrays:
        raise ValueError("grads holds no gradient; Keras's optimizer raises here "
                         "('No gradients provided for any variable')")
    clipped, norms = [], []
    for a in grads.arrays:
        dtype = a.dtype
        l2sum = _squares_sum(a)
        with np.errstate(invalid="ignore"):
            norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
        norm = _safe_l2([a], norm, l2sum, dtype, safe)
        norms.append(norm)
        _refuse_nonfinite(error_if_nonfinite, norm, 2.0)
        if not max_norm > 0:  # Keras's optimizer ignores clipnorm ≤ 0
            clipped.append(a.copy())
            continue
        c = _cast(dtype, max_norm)
        with np.errstate(over="ignore", invalid="ignore"):
            clipped.append((a * c) / np.maximum(norm, c))
    return clipped, grads.placed(norms)


def _global_l2(grads: _Gradients, safe):
    """optax's global norm: √(0 + Σ_i Σ x²) with each leaf's sum in its dtype, promoted as it adds."""
    if not grads.arrays:
        return np.float32(0.0)
    sums = [_squares_sum(a) for a in grads.arrays]
    dtype = np.result_type(*sums)
    total = dtype.type(0)
    with np.errstate(over="ignore", invalid="ignore"):
        for s in sums:
            total = dtype.type(total + dtype.type(s))
        norm = np.sqrt(total)
    return _safe_l2(grads.arrays, norm, total, dtype, safe)


def _optax(grads: _Gradients, max_norm, error_if_nonfinite, safe):
    norm = _global_l2(grads, safe)
    _refuse_nonfinite(error_if_nonfinite, norm, 2.0)
    if norm < _cast(norm.dtype, max_norm):
        return [a.copy() for a in grads.arrays], norm
    clipped = []
    for a in grads.arrays:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            clipped.append((a / _cast(a.dtype, norm)) * _cast(a.dtype, max_norm))
    return clipped, norm


def _pascanu(grads: _Gradients, max_norm, error_if_nonfinite, safe):
    names = [name for name, entry in _names(grads) if entry is not None]
    norm = _torch_total_norm(grads.arrays, 2.0, safe, names)
    _refuse_nonfinite(error_if_nonfinite, norm, 2.0)
    c = _cast(norm.dtype, max_norm)
    if not norm >= c:  # a NaN norm fails the test too: g passes unchanged
        return [a.copy() for a in grads.arrays], norm
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        factor = c / norm

    def scale(a):  # in the wider of the array's and the norm's dtype, rounded once to the array's
        wide = np.result_type(a.dtype, factor.dtype)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return (a.astype(wide, copy=False) * factor.astype(wide)).astype(a.dtype, copy=False)

    return _map(scale, grads.arrays), norm


def _d2l(grads: _Gradients, max_norm, error_if_nonfinite, safe):
    """``norm = sqrt(sum(torch.sum(g ** 2) for g in grads))``; ``if norm > c: g[:] *= c / norm``.

    Python's ``sum`` starts from the integer 0 and adds 0-dim tensors, so the
    partial sums take the promoted dtype as they go; ``c / norm`` is torch's
    ``reciprocal(norm) * c`` (a Python number divided by a tensor); the
    comparison rounds c to the norm's dtype.
    """
    if not grads.arrays:
        raise ValueError("grads holds no gradient; d2l's grad_clipping raises here (torch.sqrt of the integer 0)")
    total = _squares_sum(grads.arrays[0])
    with np.errstate(over="ignore", invalid="ignore"):
        for s in map(_squares_sum, grads.arrays[1:]):
            dtype = np.result_type(total, s)
            total = dtype.type(dtype.type(total) + dtype.type(s))
        norm = np.sqrt(total)
    norm = _safe_l2(grads.arrays, norm, total, norm.dtype, safe)
    _refuse_nonfinite(error_if_nonfinite, norm, 2.0)
    if not norm > _cast(norm.dtype, max_norm):
        return [a.copy() for a in grads.arrays], norm
    wide = _accumulator(norm.dtype).type
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        reciprocal = norm.dtype.type(wide(1) / wide(norm))
        factor = norm.dtype.type(wide(reciprocal) * _cast(np.dtype(wide), max_norm))
    return _map(lambda a: _torch_scale(a, factor), grads.arrays), norm


def _product(array: np.ndarray, scale) -> np.ndarray:
    """``array·scale`` in the array's dtype, overflow and NaN as IEEE gives them."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return np.multiply(array, array.dtype.type(scale))


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

    Returns ``(clipped, norm)``: new arrays of the inputs' dtypes (None kept;
    a bare array in, a bare array out) and the norm measured *before*
    clipping, a NumPy scalar in the dtype the convention computes it in
    (torch: the promoted dtype). For ``"keras"``, which measures each array on
    its own, ``norm`` is the list of per-array norms. ``norm_type`` is any p
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
    convention = _convention(convention)
    if convention != "torch" and p != 2:
        raise ValueError(f"norm_type must be 2 for convention {convention!r}, which clips by the L2 "
                         f"norm; got {norm_type!r} (only 'torch' takes any p)")
    safe = bool(safe_norm)
    if convention == "torch":
        clipped, norm = _torch(gradients, max_norm, p, error_if_nonfinite, safe)
    else:
        run = {"tensorflow": _tensorflow, "keras": _keras, "optax": _optax, "pascanu": _pascanu, "d2l": _d2l}
        clipped, norm = run[convention](gradients, max_norm, error_if_nonfinite, safe)
    return gradients.result(clipped), norm


def clip_grad_value(grads, clip_value):
    """Clamp every entry to [−clip_value, clip_value], as torch's ``clip_grad_value_`` and optax's ``clip`` do.

    ``clamp_min(−c)`` then ``clamp_max(c)``: with c < 0 every entry becomes c
    (TensorFlow's ``clip_by_value`` gives −c there); with c = 0 the negative
    entries become −0.0; NaN entries stay NaN; c = ∞ leaves every finite entry.
    Empty input (or every gradient None) is a ValueError, as torch raises too.
    """
    gradients = _Gradients(grads)
    clip_value = _number("clip_value", clip_value)
    if not gradients.arrays:
        raise ValueError("grads holds no gradient to clip (torch's clip_grad_value_ raises here too)")
    def clamp(a):
        low, high = _cast(a.dtype, -clip_value), _cast(a.dtype, clip_value)
        raised = np.where(a < low, low, a)
        return np.where(raised > high, high, raised).astype(a.dtype, copy=False)

    return gradients.result(_map(clamp, gradients.arrays))


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
    σ, so a sum S of N terms carries an absolute (N + 2)·σ as well. For torch
    the per-array norms and the norm of those each contribute; the other
    conventions square in the array's dtype. Twice the bound of one
    computation. p = 0 and ±∞ compute no sums: 0.
    """
    gradients = _Gradients(grads)
    p = _norm_type(norm_type)
    convention = _convention(convention)
    if not gradients.arrays or p == 0 or math.isinf(p):
        return 0.0
    shrink = min(abs(p), 1.0)

    def u(dtype) -> float:
        return float(np.finfo(dtype).eps) / 2

    def one_sum(count, acc, result) -> float:
        return (count + 1) * u(acc) / shrink + u(acc) + u(result)

    squares_in = _accumulator if convention == "torch" else (lambda dtype: dtype)
    per_array = max(one_sum(a.size, squares_in(a.dtype), a.dtype) for a in gradients.arrays)
    promoted = np.result_type(*gradients.arrays)
    second = one_sum(len(gradients.arrays), _accumulator(promoted), promoted)
    if p not in (1.0, 2.0):
        magnitudes = [np.abs(a[a != 0]).astype(np.float64) for a in gradients.arrays]
        logs = [abs(math.log(float(m))) for x in magnitudes if x.size for m in (x.min(), x.max())
                if 0 < m < _INF]
        total = _scaled_norm(gradients.arrays, p)
        if 0 < total < _INF:
            logs.append(abs(math.log(total)))
        largest = max(logs, default=0.0)
        per_array += 2 * largest * max(u(squares_in(a.dtype)) for a in gradients.arrays) / shrink
        second += 2 * largest * u(_accumulator(promoted)) / shrink
    # Terms and partial sums below the smallest normal number round to a multiple of the
    # smallest subnormal σ: an absolute (N + k + 2)·σ in S = Σ|x|^p, that is (N + k + 2)·σ/(p·S)
    # of the norm.
    total = _scaled_norm(gradients.arrays, p)
    if 0 < total < _INF:
        log_sum = p * math.log(total)
        if log_sum < 700:
            sigma = max(float(np.finfo(d).smallest_subnormal) for d in
                        [squares_in(a.dtype) for a in gradients.arrays] + [_accumulator(promoted)])
            count = sum(a.size for a in gradients.arrays) + len(gradients.arrays) + 2
            # At most 1: a sum lost to underflow entirely carries no digit of the norm.
            per_array += math.exp(min(0.0, math.log(count) + math.log(sigma) - math.log(abs(p)) - log_sum))
    return 2 * (per_array + second)
