"""The rounding model of a correct implementation: running error analysis over a traced graph.

A :class:`Bounded` array holds the reference's values v and, entry by entry, a bound e on how far
a correct implementation's computed values may be from them: |v̂ − v| ≤ e. The rules of
:mod:`gradproofs.oracle.rules` run on Bounded arrays unchanged (:class:`Rounded` is their
arithmetic), forward and backward, so that every operation of the graph and of its VJPs adds
its own rounding to what it propagates (running error analysis: Wilkinson; Higham, *Accuracy
and Stability of Numerical Algorithms*, 2nd ed., §3.3). With u the storage format's unit
roundoff, U the accumulation format's, η = 2^(e_min − p + 1) the storage format's underflow term,
and ρ(m) = u·m + η the rounding of a result of size m:

- a ± b:  e = eₐ + e_b + ρ(|v| + eₐ + e_b);
- a·b:    e = |a|e_b + |b|eₐ + eₐe_b + ρ(…) (the same ρ of the size reached);
- a/b:    e = (|a|e_b + |b|eₐ)/(|b|(|b| − e_b)) + ρ(…), unbounded where |b| ≤ e_b;
- f(a) for exp, log, log1p, sqrt, tanh, erf and xᵖ: e = L·eₐ + λ(|v| + L·eₐ), L the largest |f′| on
  [a − eₐ, a + eₐ] (mean value theorem) and λ(m) = 2·ulps·u·m + η the library's error, stated in ulps
  of the storage format (1 ulp ≤ 2u relative), for erf in ulps of max(|v|, 1);
- a sum of n terms, in any order: e = Σeᵢ + γₙ(U)(Σ|vᵢ| + Σeᵢ) + ρ(…), γₙ(U) = nU/(1 − nU)
  (Higham, Lemma 3.1 and eq. (4.4)); a dot product of length n the same over the products
  (Higham, eq. (3.5)), so matmul's bound is |A||B|'s with γₙ, plus n·η of the accumulation
  format for products that underflow (a subnormal product's error is absolute); where matmul
  and convolution round their inputs to a narrower format first (TF32 on NVIDIA GPUs), each
  input's bound grows by that rounding, u_m(|a| + eₐ) + η_m; a bias on a dot product's result (addmm's, a
  convolution's) is bounded both as one addition after it and as the accumulator's first term, one of
  n + 1 terms: (γₙ₊₁ − γₙ)Σ(|aᵢ| + eᵢ)(|bᵢ| + eᵢ) + γₙ₊₁(|s| + e_s) more;
- a comparison is uncertain where |a − b| ≤ eₐ + e_b, and a choice (``where``) by an uncertain
  condition is bounded by the other branch too: e = max(e_x, e_y) + |v_x − v_y|;
- moving, copying and selecting entries moves their bounds and adds nothing.

The reference's own float64 evaluation (long double for a float64 implementation) follows the same graph, so its rounding
is bounded the same way with its unit roundoff; :class:`Precision` adds it to u and U (to first
order the two bounds add). A bound is sound for any implementation whose every operation rounds
no worse than this model says, in whatever order it sums; an implementation that computes a
different formula (a fused kernel) is judged against the bound of this one, which the soundness
tests measure on torch's own kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradproofs import extended
from gradproofs.formats import FORMATS, Format
from gradproofs.oracle.rules import Arithmetic, Floats

__all__ = ["Precision", "Bounded", "Accumulation", "Condition", "Rounded", "stored", "representation_error"]

LIBRARY_ULPS = 4  # a math function's stated error, in ulps of its result (CUDA's expf, tanhf: 2; SLEEF's u10: 1)


@dataclass(frozen=True)
class Precision:
    """How a correct implementation rounds: each result to ``storage``, sums and dot products
    accumulated in ``accumulation`` (by default the storage format itself: torch's CPU kernels keep
    some partial sums of bfloat16 in bfloat16), math functions within ``ulps`` ulps; the unit roundoff
    of the reference's own arithmetic (:attr:`reference`) is added to both."""

    storage: Format
    accumulation: Format | None = None
    ulps: float = LIBRARY_ULPS
    multiplicands: Format | None = None  # the format matmul and convolution round their inputs to (TF32)

    @classmethod
    def declared(cls, precision: str, accumulation: str | None = None) -> "Precision":
        """What a declared ``precision`` name means: its format for every result, except ``'tf32'``,
        float32 whose matmul and convolution round their inputs to TF32 first."""
        tf32 = precision == "tf32"
        return cls(FORMATS["float32" if tf32 else precision], FORMATS[accumulation] if accumulation else None,
                   multiplicands=FORMATS["tf32"] if tf32 else None)

    @property
    def reference_dtype(self):
        """The reference's arithmetic: long double for a float64 implementation (where the platform has
        one wider than float64, :mod:`gradproofs.extended`), else float64."""
        return np.longdouble if self.storage.name == "float64" and extended.AVAILABLE else np.float64

    @property
    def reference(self) -> float:
        """The reference arithmetic's unit roundoff."""
        return float(np.finfo(self.reference_dtype).eps) / 2

    @property
    def u(self) -> float:
        """The rounding of each stored result, reference included."""
        return self.storage.unit_roundoff + self.reference

    @property
    def accumulation_u(self) -> float:
        """The rounding of each addition in a sum or dot product, reference included."""
        return (self.accumulation or self.storage).unit_roundoff + self.reference

    @property
    def underflow(self) -> float:
        """η = 2^(e_min − p + 1), the smallest subnormal: twice the absolute error a rounding may add below the
        smallest normal (half of it, 2^(e_min − p), is 0 in float64 for float64's own)."""
        return self.storage.smallest_subnormal

    @property
    def accumulation_underflow(self) -> float:
        """η of the accumulation format, in which a dot product forms each of its products: a product of
        subnormal size rounds by up to η/2 absolutely, whatever its relative error."""
        return (self.accumulation or self.storage).smallest_subnormal

    def rounding(self, size):
        """ρ(m) = u·m + η: the error of storing a result of size m."""
        return self.u * size + self.underflow

    def library(self, size):
        """λ(m) = 2·ulps·u·m + η: the error of a math function's result of size m."""
        return 2 * self.ulps * self.u * size + self.underflow

    def multiplicand(self, size):
        """u_m·m + η_m: the error of rounding a matmul's or a convolution's input of size m to
        :attr:`multiplicands` (0 where they are not rounded)."""
        if self.multiplicands is None:
            return 0.0
        return self.multiplicands.unit_roundoff * size + self.multiplicands.smallest_subnormal

    def gamma(self, n):
        """γₙ = nU/(1 − nU) of the accumulation (Higham, Lemma 3.1); unbounded where nU ≥ 1."""
        nu = np.asarray(n, dtype=np.float64) * self.accumulation_u
        with np.errstate(divide="ignore"):
            return np.where(nu < 1, nu / np.maximum(1 - nu, 0), np.inf)


def stored(values, storage: Format) -> np.ndarray:
    """``values`` as ``storage`` holds them: rounded to nearest (ties to even) in float64 and float32, and
    for the narrower formats through float32 first, as torch converts to float16 (never nearer than
    rounding directly, so the error bounds both ways); infinities as they are."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        single = values.astype(np.float32)
        if storage.name in ("float64", "float32"):
            return values.astype(storage.name).astype(np.float64)
        if storage.name == "float16":
            return single.astype(np.float16).astype(np.float64)
        dropped = 24 - storage.significand_bits  # bfloat16, tf32: float32's significand rounded to p bits
        bits = single.view(np.uint32).astype(np.uint64)
        half, mask = 1 << (dropped - 1), (1 << dropped) - 1
        rounded = (bits + half - 1 + ((bits >> dropped) & 1)) & ~np.uint64(mask)
        return rounded.astype(np.uint32).view(np.float32).astype(np.float64)


def representation_error(values, storage: Format) -> np.ndarray:
    """|fl(c) − c| for each entry c of ``values`` held in ``storage`` (:func:`stored`); 0 for an infinity."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        error = np.abs(stored(values, storage) - values)
    return np.where(np.isfinite(values), error, 0.0)


class Condition:
    """A comparison's result: its value, and where a correct implementation might find the opposite."""

    def __init__(self, value, uncertain):
        self.value = np.asarray(value, dtype=bool)
        self.uncertain = np.broadcast_to(np.asarray(uncertain, dtype=bool), self.value.shape)

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = np.dtype(bool)

    def astype(self, dtype):
        return self

    def __getitem__(self, key):
        return Condition(self.value[key], self.uncertain[key])

    def reshape(self, *shape):
        return Condition(self.value.reshape(*shape), self.uncertain.reshape(*shape))

    def __invert__(self):
        return Condition(~self.value, self.uncertain)

    def __and__(self, other):
        other = _condition(other)
        # certain where either side is certainly False
        sure_false = (~self.value & ~self.uncertain) | (~other.value & ~other.uncertain)
        return Condition(self.value & other.value, (self.uncertain | other.uncertain) & ~sure_false)

    def __or__(self, other):
        other = _condition(other)
        sure_true = (self.value & ~self.uncertain) | (other.value & ~other.uncertain)
        return Condition(self.value | other.value, (self.uncertain | other.uncertain) & ~sure_true)

    __rand__, __ror__ = __and__, __or__

    def __array_function__(self, function, types, args, kwargs):
        if function not in _FUNCTIONS:
            return NotImplemented
        return _FUNCTIONS[function](*args, **kwargs)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        logic = {np.logical_not: lambda a: ~a, np.invert: lambda a: ~a, np.logical_and: lambda a, b: a & b,
                 np.bitwise_and: lambda a, b: a & b, np.logical_or: lambda a, b: a | b,
                 np.bitwise_or: lambda a, b: a | b}
        if method != "__call__" or ufunc not in logic:
            return NotImplemented
        return logic[ufunc](*map(_condition, inputs))


def _condition(x) -> Condition:
    return x if isinstance(x, Condition) else Condition(x, False)


class Bounded:
    """Reference values and a bound on a correct implementation's distance from them, entry by entry."""

    def __init__(self, value, error, precision: Precision):
        self.value = np.asarray(value)
        error = np.asarray(error, dtype=np.float64)
        self.error = np.broadcast_to(np.where(np.isnan(error), np.inf, error), self.value.shape)  # NaN: unbounded
        self.precision = precision

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    size = property(lambda self: self.value.size)
    dtype = property(lambda self: self.value.dtype)
    T = property(lambda self: Bounded(self.value.T, self.error.T, self.precision))

    def __repr__(self) -> str:
        return f"Bounded(value={self.value!r}, error={self.error!r})"

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    def __getitem__(self, key):
        return Bounded(self.value[key], self.error[key], self.precision)

    def __setitem__(self, key, other) -> None:
        other = self._lift(other)
        value, error = self.value.copy(), np.array(self.error)
        value[key], error[key] = other.value, other.error
        self.value, self.error = value, error

    def reshape(self, *shape):
        return Bounded(self.value.reshape(*shape), self.error.reshape(*shape), self.precision)

    def sum(self, axis=None, keepdims=False):
        return _sum(self, axis=axis, keepdims=keepdims)

    def _lift(self, x) -> "Bounded":
        """``x`` as a Bounded array: a plain number or array is the implementation's copy of a constant,
        off by its representation error."""
        if isinstance(x, Bounded):
            return x
        values = np.asarray(x, dtype=self.value.dtype)
        return Bounded(values, representation_error(values, self.precision.storage), self.precision)

    # --- arithmetic, through NumPy's ufuncs ---------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "at":
            return _add_at(*inputs)
        if method != "__call__" or ufunc not in _UFUNCS:
            return NotImplemented
        return _UFUNCS[ufunc](*map(self._lift, inputs))

    def __array_function__(self, function, types, args, kwargs):
        if function not in _FUNCTIONS:
            return NotImplemented
        return _FUNCTIONS[function](*args, **kwargs)

    __add__ = lambda self, other: np.add(self, other)  # noqa: E731
    __radd__ = lambda self, other: np.add(other, self)  # noqa: E731
    __sub__ = lambda self, other: np.subtract(self, other)  # noqa: E731
    __rsub__ = lambda self, other: np.subtract(other, self)  # noqa: E731
    __mul__ = lambda self, other: np.multiply(self, other)  # noqa: E731
    __rmul__ = lambda self, other: np.multiply(other, self)  # noqa: E731
    __truediv__ = lambda self, other: np.true_divide(self, other)  # noqa: E731
    __rtruediv__ = lambda self, other: np.true_divide(other, self)  # noqa: E731
    __pow__ = lambda self, other: np.power(self, other)  # noqa: E731
    __neg__ = lambda self: np.negative(self)  # noqa: E731
    __gt__ = lambda self, other: np.greater(self, other)  # noqa: E731
    __lt__ = lambda self, other: np.less(self, other)  # noqa: E731
    __ge__ = lambda self, other: np.greater_equal(self, other)  # noqa: E731
    __le__ = lambda self, other: np.less_equal(self, other)  # noqa: E731
    __eq__ = lambda self, other: np.equal(self, other)  # noqa: E731
    __ne__ = lambda self, other: np.not_equal(self, other)  # noqa: E731
    __hash__ = None


def _stored(value, propagated, precision: Precision) -> Bounded:
    """A result of ``value`` whose inputs' errors reach it as ``propagated``, rounded once more to storage
    (an infinite result, which only an infinite constant such as a mask's −∞ reaches, is exact)."""
    with np.errstate(invalid="ignore", over="ignore"):
        error = propagated + precision.rounding(np.abs(value) + propagated)
        return Bounded(value, np.where(np.isinf(value), 0.0, error), precision)


def _add(a, b):
    return _stored(a.value + b.value, a.error + b.error, a.precision)


def _subtract(a, b):
    return _stored(a.value - b.value, a.error + b.error, a.precision)


def _times(x, y):
    """x·y of non-negative arrays in which 0·∞ is 0: an exact zero times an unbounded error is exact."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where((x == 0) | (y == 0), 0.0, x * y)


def _multiply(a, b):
    size_a, size_b = np.abs(a.value).astype(np.float64), np.abs(b.value).astype(np.float64)
    with np.errstate(over="ignore"):
        propagated = _times(size_a, b.error) + _times(size_b, a.error) + _times(a.error, b.error)
    return _stored(a.value * b.value, propagated, a.precision)


def _divide(a, b):
    margin = np.abs(b.value) - b.error
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = a.value / b.value
        propagated = np.where(margin > 0, (np.abs(a.value) * b.error + np.abs(b.value) * a.error)
                              / (np.abs(b.value) * np.where(margin > 0, margin, 1)), np.inf)
    return _stored(value, propagated, a.precision)


def _negative(a):
    return Bounded(-a.value, a.error, a.precision)


def _function(value, slope, a, floor: float = 0.0):
    """f(a)'s result ``value`` with L = ``slope`` (the largest |f′| on a's interval): L·eₐ, and the library's
    error, in ulps of the result (of at least ``floor``)."""
    with np.errstate(invalid="ignore", over="ignore"):
        propagated = np.where(a.error > 0, slope * a.error, 0.0)
        size = np.maximum(np.abs(value), floor) + propagated
        return Bounded(value, propagated + a.precision.library(size), a.precision)


def _nearest_zero(a):
    """The smallest |x| on [a − eₐ, a + eₐ]."""
    return np.maximum(np.abs(a.value) - a.error, 0)


def _positive_low(a):
    """The low end of a's interval where it is positive, else NaN (f′ unbounded there)."""
    low = a.value - a.error
    return np.where(low > 0, low, np.nan)


_REFERENCE = Floats()


def _exp(a):
    with np.errstate(over="ignore"):
        return _function(np.exp(a.value), np.exp(a.value + a.error), a)


def _log(a):
    return _function(np.log(a.value), 1 / _positive_low(a), a)


def _log1p(a):
    with np.errstate(invalid="ignore"):
        return _function(np.log1p(a.value), 1 / (1 + np.where(a.value - a.error > -1, a.value - a.error, np.nan)), a)


def _sqrt(a):
    return _function(np.sqrt(a.value), 1 / (2 * np.sqrt(_positive_low(a))), a)


def _tanh(a):
    return _function(np.tanh(a.value), 1 - np.tanh(_nearest_zero(a)) ** 2, a)


def _erf(a):
    """erf, whose library error is stated in ulps of 1, not of its result: kernels compute it accurately in
    absolute terms only (torch's vectorized float32 GELU backward is off by 2.9 ulps of its result 0.54 at
    x = 0.0508, the erf inside it by about 100 ulps of erf's own 0.0405). The reference's erf is float64's
    (:meth:`Floats.erf`, within 1 ulp): on a long double reference its own rounding, 2⁻⁵²|erf|, joins the
    bound."""
    result = _function(_REFERENCE.erf(a.value).astype(a.value.dtype),
                       2 / math.sqrt(math.pi) * np.exp(-_nearest_zero(a) ** 2), a, floor=1.0)
    if a.value.dtype != np.float64:
        result.error = result.error + 2 * FORMATS["float64"].unit_roundoff * np.abs(result.value).astype(np.float64)
    return result


def _power(a, b):
    """aᵖ for an exact exponent p (|p xᵖ⁻¹| at the interval's end farthest from, or for p < 1 nearest to,
    zero; a fractional p needs an interval of x ≥ 0); a computed exponent as e^(p log a)."""
    if np.any(b.error > 0):
        composite = _exp(_multiply(b, _log(a)))
        with np.errstate(invalid="ignore", over="ignore"):
            return Bounded(a.value ** b.value, composite.error, a.precision)
    p = b.value
    low, high = a.value - a.error, a.value + a.error
    whole = np.equal(np.mod(p, 1), 0)
    far = np.maximum(np.abs(low), np.abs(high))
    near = np.where((low > 0) | (high < 0), np.minimum(np.abs(low), np.abs(high)), 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        reach = np.where(p >= 1, far, near) ** (p - 1)
        slope = np.abs(p) * np.where(whole | (low >= 0), reach, np.nan)
        value = a.value ** p
    return _function(value, np.where(p == 0, 0.0, slope), a)


class _Comparison:
    """A comparison of two bounded arrays: uncertain where they lie within their bounds of each other."""

    def __init__(self, compare):
        self.compare = compare

    def __call__(self, a, b):
        with np.errstate(invalid="ignore"):  # two equal infinities: certainly equal
            gap = np.abs(a.value - b.value)
        spread = a.error + b.error
        return Condition(self.compare(a.value, b.value), (gap <= spread) & (spread > 0))


def _where(condition, x, y):
    condition = _condition(condition)
    anchor = x if isinstance(x, Bounded) else y
    precision = anchor.precision
    x, y = (anchor._lift(v) for v in (x, y))
    value = np.where(condition.value, x.value, y.value)
    chosen = np.where(condition.value, x.error, y.error)
    with np.errstate(invalid="ignore"):
        either = np.maximum(x.error, y.error) + np.abs(x.value - y.value)
    return Bounded(value, np.where(condition.uncertain, either, chosen), precision)


def _count(shape: tuple, axis) -> int:
    axes = range(len(shape)) if axis is None else [axis] if isinstance(axis, (int, np.integer)) else axis
    return int(np.prod([shape[k] for k in axes], dtype=np.int64))


def _sum(a, axis=None, keepdims=False, **options):
    if isinstance(a, Condition):  # how many are true: off by as many as are uncertain
        count = np.sum(a.value, axis=axis, keepdims=keepdims)
        return Bounded(count.astype(np.float64), np.sum(a.uncertain, axis=axis, keepdims=keepdims),
                       Precision(FORMATS["float64"], FORMATS["float64"]))
    n = _count(a.shape, axis)
    value = np.sum(a.value, axis=axis, keepdims=keepdims)
    propagated = np.sum(a.error, axis=axis, keepdims=keepdims)
    magnitude = np.sum(np.abs(a.value), axis=axis, keepdims=keepdims) + propagated
    return _stored(value, propagated + a.precision.gamma(n) * magnitude, a.precision)


def _bounds_product(product, x, y):
    """``product`` (matmul, tensordot) of two non-negative arrays in which 0·∞ is 0: an entry is unbounded
    where an infinite entry meets a non-zero one."""
    infinite_x, infinite_y = np.isinf(x), np.isinf(y)
    with np.errstate(over="ignore"):  # a bound too large for float64 is unbounded: ∞ says so
        if not (infinite_x.any() or infinite_y.any()):
            return product(x, y)
        finite = product(np.where(infinite_x, 0.0, x), np.where(infinite_y, 0.0, y))
    unbounded = product(infinite_x.astype(np.float64), (y > 0).astype(np.float64)) + product(
        (x > 0).astype(np.float64), infinite_y.astype(np.float64))
    return np.where(unbounded > 0, np.inf, finite)


def _dot(product, a, b, length: int):
    """A product of arrays (matmul, tensordot) and its bound: |a|e_b + eₐ|b| + eₐe_b, γₙ of |a||b| and n
    products' underflow, n·η of the accumulation (each input's bound first grown by its rounding to
    :attr:`Precision.multiplicands`, where declared).
    The three terms are (|a| + eₐ)(|b| + e_b) − |a||b|, formed with two products instead of four; the
    float64 subtraction's own error, at most 2(n + 1)u₆₄ of the larger product, is added back."""
    anchor = a if isinstance(a, Bounded) else b
    precision = anchor.precision
    a, b = (anchor._lift(x) for x in (a, b))
    if precision.multiplicands is not None:  # each input rounded to the multiplicands' format first
        a, b = (Bounded(x.value, x.error + precision.multiplicand(np.abs(x.value).astype(np.float64) + x.error),
                        precision) for x in (a, b))
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing product is an infinite value, unbounded
        value = product(a.value, b.value)
    size_a, size_b = np.abs(a.value).astype(np.float64), np.abs(b.value).astype(np.float64)
    magnitude = _bounds_product(product, size_a, size_b)
    reach = _bounds_product(product, size_a + a.error, size_b + b.error)
    with np.errstate(invalid="ignore"):
        propagated = np.where(np.isinf(reach), np.inf, np.maximum(reach - magnitude, 0.0)
                              + 2 * (length + 1) * FORMATS["float64"].unit_roundoff * reach)
    result = _stored(value, propagated + precision.gamma(length) * reach + length * precision.accumulation_underflow,
                     precision)
    return Accumulation(result.value, result.error, precision, reach, length)


class Accumulation(Bounded):
    """A dot product's result, with the magnitude of its terms, (|a| + eₐ)(|b| + e_b), and their number n:
    what :meth:`Rounded.biased` needs to bound a bias added into the same accumulator."""

    def __init__(self, value, error, precision: Precision, reach, length: int):
        super().__init__(value, error, precision)
        self.reach, self.length = reach, length


def _matmul(a, b):
    return _dot(np.matmul, a, b, np.shape(a)[-1])


def _tensordot(a, b, axes):
    contracted = axes[0] if isinstance(axes[0], (tuple, list)) else [axes[0]]
    return _dot(lambda x, y: np.tensordot(x, y, axes=axes), a, b, _count(np.shape(a), contracted))


def _max(a, axis=None, keepdims=False):
    """The largest computed entry is one of the computed entries: off by at most the largest bound."""
    return Bounded(np.max(a.value, axis=axis, keepdims=keepdims), np.max(a.error, axis=axis, keepdims=keepdims),
                   a.precision)


def _any(c, axis=None, keepdims=False):
    c = _condition(c)
    sure = np.any(c.value & ~c.uncertain, axis=axis, keepdims=keepdims)
    return Condition(np.any(c.value, axis=axis, keepdims=keepdims),
                     np.any(c.uncertain, axis=axis, keepdims=keepdims) & ~sure)


def _add_at(out, where, g):
    """np.add.at: each entry's additions are a sum of as many terms as arrive there, plus its own."""
    g = g if isinstance(g, Bounded) else out._lift(g)
    value, error = out.value.copy(), np.array(out.error)
    count, magnitude, arriving = np.ones(out.shape), np.abs(out.value) + out.error, np.zeros(out.shape)
    np.add.at(value, where, np.broadcast_to(g.value, np.shape(value[where])))
    np.add.at(count, where, 1)
    np.add.at(magnitude, where, np.broadcast_to(np.abs(g.value) + g.error, np.shape(value[where])))
    np.add.at(arriving, where, np.broadcast_to(g.error, np.shape(value[where])))
    out.value = value
    out.error = np.where(count > 1, error + arriving + _times(out.precision.gamma(count), magnitude)
                         + out.precision.rounding(magnitude), error)


class _Moved:
    """A function that only moves, copies or selects entries: applied to the values and the bounds alike
    (a list of pieces back, with ``pieces``, as np.split returns)."""

    def __init__(self, function, pieces: bool = False):
        self.function, self.pieces = function, pieces

    def __call__(self, a, *args, **kwargs):
        values, errors = self.function(a.value, *args, **kwargs), self.function(a.error, *args, **kwargs)
        if self.pieces:
            return [Bounded(v, e, a.precision) for v, e in zip(values, errors)]
        return Bounded(values, errors, a.precision)


class _Joined:
    """concatenate or stack: the values and the bounds of each piece joined alike (a plain array is the
    implementation's copy of a constant, off by its representation error)."""

    def __init__(self, function):
        self.function = function

    def __call__(self, pieces, *args, **kwargs):
        anchor = next(p for p in pieces if isinstance(p, Bounded))
        pieces = [anchor._lift(p) for p in pieces]
        return Bounded(self.function([p.value for p in pieces], *args, **kwargs),
                       self.function([p.error for p in pieces], *args, **kwargs), anchor.precision)


def _pad(a, pad_width, constant_values=0, **options):
    return Bounded(np.pad(a.value, pad_width, constant_values=constant_values), np.pad(a.error, pad_width),
                   a.precision)


def _broadcast_to(a, shape, **options):
    if isinstance(a, Condition):
        return Condition(np.broadcast_to(a.value, shape), np.broadcast_to(a.uncertain, shape))
    return Bounded(np.broadcast_to(a.value, shape), np.broadcast_to(a.error, shape), a.precision)


def _moveaxis(a, source, destination):
    if isinstance(a, Condition):
        return Condition(np.moveaxis(a.value, source, destination), np.moveaxis(a.uncertain, source, destination))
    return Bounded(np.moveaxis(a.value, source, destination), np.moveaxis(a.error, source, destination), a.precision)


_UFUNCS = {
    np.add: _add, np.subtract: _subtract, np.multiply: _multiply, np.true_divide: _divide, np.negative: _negative,
    np.power: _power, np.matmul: _matmul, np.exp: _exp, np.log: _log, np.log1p: _log1p, np.sqrt: _sqrt, np.tanh: _tanh,
    **{compare: _Comparison(compare) for compare in (np.greater, np.less, np.greater_equal, np.less_equal,
                                                    np.equal, np.not_equal)},
}
_FUNCTIONS = {
    np.where: _where, np.sum: _sum, np.tensordot: _tensordot, np.max: _max, np.any: _any,
    np.pad: _pad, np.broadcast_to: _broadcast_to, np.moveaxis: _moveaxis,
    np.concatenate: _Joined(np.concatenate), np.stack: _Joined(np.stack), np.split: _Moved(np.split, pieces=True),
    np.shape: lambda a: a.shape, np.ndim: lambda a: a.ndim,
    **{f: _Moved(f) for f in (np.reshape, np.transpose, np.swapaxes, np.expand_dims, np.squeeze, np.flip, np.take,
                              np.lib.stride_tricks.sliding_window_view)},
}


class Rounded(Arithmetic):
    """The arithmetic of the rules on :class:`Bounded` arrays at ``precision``."""

    def __init__(self, precision: Precision):
        self.precision = precision

    def number(self, value):
        """A Python number: itself where the storage format holds it exactly, else a Bounded constant."""
        if float(representation_error(value, self.precision.storage)) == 0:
            return value
        return self.array(value)

    def array(self, values) -> Bounded:
        """Values the implementation holds in its storage format: off by their representation error."""
        if isinstance(values, Bounded):
            return values
        values = np.asarray(values, dtype=self.precision.reference_dtype)
        return Bounded(values, representation_error(values, self.precision.storage), self.precision)

    def full(self, shape: tuple, value) -> Bounded:
        return self.array(np.full(shape, value, dtype=self.precision.reference_dtype))

    def pi(self):
        return self.number(math.pi)

    def shift(self, x, axis: int):
        """What softmax subtracts, exactly: softmax and log-softmax are the same for any shift c along
        the axis (e^(x−c)/Σe^(x−c)), so an implementation's computed shift ĉ only scales the terms by a
        common factor e^(c−ĉ) ≈ 1 that cancels; its error does not reach the result."""
        return Bounded(np.max(self.array(x).value, axis=axis, keepdims=True), 0.0, self.precision)

    def biased(self, total: Accumulation, bias):
        """total + s, total a dot product of n terms (matmul's, a convolution's) and s its bias: added once
        after it, or as the accumulator's first term, then rounded up to n more times. Either way it is one
        sum of n + 1 terms, which γₙ₊₁ of their magnitudes bounds in any order (Higham, eq. (3.5)): the
        addition's bound grows by (γₙ₊₁ − γₙ)Σ(|aᵢ| + eᵢ)(|bᵢ| + eᵢ) + γₙ₊₁(|s| + e_s)."""
        bias = self.array(bias)
        result = total + bias
        gamma = self.precision.gamma(total.length + 1)
        fused = (gamma - self.precision.gamma(total.length)) * total.reach + gamma * (np.abs(bias.value) + bias.error)
        return Bounded(result.value, result.error + fused, self.precision)

    def exp(self, x):
        return _exp(self.array(x))

    def log(self, x):
        return _log(self.array(x))

    def log1p(self, x):
        return _log1p(self.array(x))

    def sqrt(self, x):
        return _sqrt(self.array(x))

    def tanh(self, x):
        return _tanh(self.array(x))

    def erf(self, x):
        return _erf(self.array(x))
