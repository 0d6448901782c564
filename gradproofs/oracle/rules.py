"""gradproofs' own rule for each ATen operation a spec may reach: its forward and its VJP.

A rule is written once, over an arithmetic (:class:`Floats` for NumPy's float64 or long
double, :class:`Exact` for SymPy's exact numbers and symbols), so that the same code is the
reference's numbers and, on symbols, what SymPy differentiates to prove it. Its forward takes
the operation's arguments by the names of the ATen schema (tensors as arrays of the
arithmetic, integer tensors as NumPy integers, the rest as Python values) and returns the
result, or a tuple of results; its VJP takes the cotangent ``g`` of the result (a tuple for a
tuple), the result ``y`` and the same arguments, and returns the cotangent of each tensor
argument it is differentiable in, by name (a list for a list of tensors). A cotangent may
keep the broadcast shape: the graph sums it back to its argument's shape. The VJP of a result
y = f(x₁, …) is x̄ᵢ = Σ ḡ ∂y/∂xᵢ (Griewank & Walther, *Evaluating Derivatives*, 2nd ed.,
ch. 3); where f is not differentiable (a tie of a maximum, a kink of relu or clamp) the rule
takes torch's documented one-sided choice, said beside it.

:data:`RULES` holds them by the operation's name (``"aten.mm.default"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Arithmetic", "Floats", "Exact", "Multiprecision", "Rule", "RULES", "tensor", "reduce_to"]


class Arithmetic:
    """What the rules compute with: numbers, arrays and math functions of one kind of number, and the
    operations whose rounding depends on how an implementation groups them."""

    def biased(self, total, bias):
        """A dot product's ``total`` (matmul's, a convolution's) plus a ``bias`` on its result."""
        return total + bias


class Floats(Arithmetic):
    """NumPy arithmetic in ``dtype`` (float64, or long double for a float64 kernel's reference)."""

    def __init__(self, dtype=np.float64):
        self.dtype = np.dtype(dtype)
        self.exp, self.log, self.log1p, self.sqrt, self.tanh = np.exp, np.log, np.log1p, np.sqrt, np.tanh

    def number(self, value):
        """A Python number as a number of this arithmetic."""
        return self.dtype.type(value)

    def array(self, values) -> np.ndarray:
        """Values (an array, a float tensor's entries) as an array of this arithmetic."""
        return np.asarray(values, dtype=self.dtype)

    def full(self, shape: tuple, value) -> np.ndarray:
        """An array of ``shape`` holding one number."""
        return np.full(shape, value, dtype=self.dtype)

    def erf(self, x):
        """The error function, entry by entry, in float64 (torch's, SLEEF's ``erf`` or the C library's: within
        1 ulp), whatever the arithmetic's dtype."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
        return torch.special.erf(x).numpy().astype(self.dtype)

    def shift(self, x, axis: int):
        """What softmax subtracts before e^x, which leaves its value alone: the largest entry along
        ``axis``, so that no e^x overflows."""
        return np.max(x, axis=axis, keepdims=True)

    def pi(self):
        """π in this arithmetic."""
        return self.number(math.pi)


class Exact(Arithmetic):
    """SymPy's numbers: exact rationals, symbols and expressions, in NumPy object arrays."""

    def __init__(self):
        import sympy

        self.sympy = sympy
        self.exp, self.log, self.sqrt, self.tanh, self.erf = (
            np.vectorize(f, otypes=[object]) for f in (sympy.exp, sympy.log, sympy.sqrt, sympy.tanh, sympy.erf))
        self.log1p = np.vectorize(lambda x: sympy.log(1 + x), otypes=[object])

    def number(self, value):
        """A Python number as an exact one (a float's exact binary value)."""
        return self.sympy.Integer(value) if isinstance(value, (int, np.integer)) else self.sympy.Rational(value)

    def array(self, values) -> np.ndarray:
        """Values as an object array of exact numbers (SymPy expressions are kept as they are)."""
        values = np.asarray(values, dtype=object)
        return np.vectorize(lambda v: v if isinstance(v, self.sympy.Basic) else self.number(v),
                            otypes=[object])(values) if values.size else values

    def full(self, shape: tuple, value) -> np.ndarray:
        """An object array of ``shape`` holding one exact number."""
        return np.full(shape, self.number(value), dtype=object)

    def pi(self):
        """π, exactly."""
        return self.sympy.pi

    def shift(self, x, axis: int):
        """Nothing: exact numbers do not overflow (and symbols have no largest)."""
        return 0


class Multiprecision(Arithmetic):
    """mpmath's binary floating point with a ``digits``-digit significand, in NumPy object arrays: the
    reference of small problems, whose own rounding (10^(1 − digits) relative, each operation) is far
    below any format's."""

    def __init__(self, digits: int = 40):
        import mpmath

        self.context = mpmath.mp.clone()
        self.context.dps = digits
        self.exp, self.log, self.log1p, self.sqrt, self.tanh, self.erf = (
            np.vectorize(f, otypes=[object]) for f in (self.context.exp, self.context.log, self.context.log1p,
                                                       self.context.sqrt, self.context.tanh, self.context.erf))

    def number(self, value):
        """A number as an mpmath one (a float's binary value, exactly: a long double's as two float64s)."""
        if isinstance(value, (float, np.floating)):
            high = float(value)
            return self.context.mpf(high) + (self.context.mpf(float(value - high)) if math.isfinite(high) else 0)
        return self.context.mpf(value)

    def array(self, values) -> np.ndarray:
        """Values as an object array of mpmath numbers."""
        values = np.asarray(values)
        if values.dtype == object and all(isinstance(v, self.context.mpf) for v in values.flat):
            return values
        return np.vectorize(self.number, otypes=[object])(values) if values.size else values.astype(object)

    def full(self, shape: tuple, value) -> np.ndarray:
        """An object array of ``shape`` holding one number."""
        return np.full(shape, self.number(value), dtype=object)

    def pi(self):
        """π to the context's digits."""
        return +self.context.pi

    def shift(self, x, axis: int):
        """Nothing: mpmath's exponents do not overflow."""
        return 0


@dataclass(frozen=True)
class Rule:
    """An operation's forward and VJP (see the module's docstring for their signatures)."""

    name: str
    forward: Callable
    vjp: Callable | None  # None: no float argument is differentiable (a comparison, an index)


RULES: dict[str, Rule] = {}


def rule(*names: str):
    """Register ``forward`` under ``names``; ``@forward.vjp`` then registers its VJP beside it (an
    operation without one is not differentiable: a comparison, ``detach``)."""
    def register(forward):
        def vjp(function):
            for name in names:
                RULES[name] = Rule(name, forward, function)
            return function

        for name in names:
            RULES[name] = Rule(name, forward, None)
        forward.vjp = vjp
        return forward
    return register


def tensor(x):
    """``x`` as an array: itself if it is one (of any arithmetic), else a 0-d NumPy array (a sum's scalar)."""
    return x if hasattr(x, "shape") else np.asarray(x)


def reduce_to(g, shape: tuple) -> np.ndarray:
    """``g`` summed over the axes that broadcasting added to ``shape``: the cotangent of a broadcast argument."""
    g = tensor(g)
    if g.shape == tuple(shape):
        return g
    g = tensor(g.sum(axis=tuple(range(g.ndim - len(shape)))))  # an object array's total is its one object
    kept = tuple(axis for axis, size in enumerate(shape) if size == 1 and g.shape[axis] != 1)
    return g.sum(axis=kept, keepdims=True).reshape(shape) if kept else g.reshape(shape)


def _axes(dim, ndim: int) -> tuple:
    """ATen's ``dim`` (an int, a list, or None or [] for every axis) as non-negative axes."""
    if dim is None or (not isinstance(dim, int) and len(dim) == 0):
        return tuple(range(ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    return tuple(sorted(d % max(ndim, 1) for d in dims))


def _restore(g, shape: tuple, axes: tuple, keepdim: bool):
    """A reduction's cotangent broadcast back over the reduced ``axes`` of ``shape``."""
    g = tensor(g)
    if not keepdim:
        g = np.expand_dims(g, axes) if axes else g
    return np.broadcast_to(g, shape)


# --- arithmetic --------------------------------------------------------------------------

@rule("aten.add.Tensor", "aten.add.Scalar")
def _add(A, self, other, alpha=1):
    return self + (other if alpha == 1 else A.number(alpha) * other)


@_add.vjp
def _(A, g, y, self, other, alpha=1):
    """y = a + αb: ā = ḡ, b̄ = α ḡ."""
    return {"self": g, "other": g if alpha == 1 else A.number(alpha) * g}


@rule("aten.sub.Tensor", "aten.sub.Scalar")
def _sub(A, self, other, alpha=1):
    return self - (other if alpha == 1 else A.number(alpha) * other)


@_sub.vjp
def _(A, g, y, self, other, alpha=1):
    """y = a − αb: ā = ḡ, b̄ = −α ḡ."""
    return {"self": g, "other": -g if alpha == 1 else -A.number(alpha) * g}


@rule("aten.rsub.Scalar", "aten.rsub.Tensor")
def _rsub(A, self, other, alpha=1):
    return other - (self if alpha == 1 else A.number(alpha) * self)


@_rsub.vjp
def _(A, g, y, self, other, alpha=1):
    """y = b − αa: ā = −α ḡ, b̄ = ḡ."""
    return {"self": -g if alpha == 1 else -A.number(alpha) * g, "other": g}


@rule("aten.mul.Tensor", "aten.mul.Scalar")
def _mul(A, self, other):
    return self * other


@_mul.vjp
def _(A, g, y, self, other):
    """y = ab: ā = ḡ b, b̄ = ḡ a."""
    return {"self": g * other, "other": g * self}


@rule("aten.div.Tensor", "aten.div.Scalar")
def _div(A, self, other):
    return self / other


@_div.vjp
def _(A, g, y, self, other):
    """∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b²."""
    return {"self": g / other, "other": -g * self / (other * other)}


@rule("aten.neg.default")
def _neg(A, self):
    return -self


@_neg.vjp
def _(A, g, y, self):
    """y = −x: x̄ = −ḡ."""
    return {"self": -g}


@rule("aten.pow.Tensor_Scalar")
def _pow(A, self, exponent):
    return self ** A.number(exponent)


@_pow.vjp
def _(A, g, y, self, exponent):
    """∂xᵖ/∂x = p xᵖ⁻¹."""
    p = A.number(exponent)
    return {"self": g * p * self ** (p - 1)}


@rule("aten.pow.Tensor_Tensor")
def _power(A, self, exponent):
    return self ** exponent


@_power.vjp
def _(A, g, y, self, exponent):
    """∂xᵖ/∂x = p xᵖ⁻¹, ∂xᵖ/∂p = xᵖ log x."""
    return {"self": g * exponent * self ** (exponent - 1), "exponent": g * y * A.log(self)}


@rule("aten.sqrt.default")
def _sqrt(A, self):
    return A.sqrt(self)


@_sqrt.vjp
def _(A, g, y, self):
    """∂√x/∂x = 1/(2√x)."""
    return {"self": g / (2 * y)}


@rule("aten.rsqrt.default")
def _rsqrt(A, self):
    return 1 / A.sqrt(self)


@_rsqrt.vjp
def _(A, g, y, self):
    """∂x^(−1/2)/∂x = −x^(−3/2)/2 = −y³/2."""
    return {"self": -g * y * y * y / 2}


@rule("aten.exp.default")
def _exp(A, self):
    return A.exp(self)


@_exp.vjp
def _(A, g, y, self):
    """(eˣ)′ = eˣ = y."""
    return {"self": g * y}


@rule("aten.log.default")
def _log(A, self):
    return A.log(self)


@_log.vjp
def _(A, g, y, self):
    """(log x)′ = 1/x."""
    return {"self": g / self}


@rule("aten.log1p.default")
def _log1p(A, self):
    return A.log1p(self)


@_log1p.vjp
def _(A, g, y, self):
    """(log(1 + x))′ = 1/(1 + x)."""
    return {"self": g / (1 + self)}


@rule("aten.abs.default")
def _abs(A, self):
    return np.where(self < 0, -self, self)


@_abs.vjp
def _(A, g, y, self):
    """sign(x); 0 at x = 0, as torch's abs."""
    return {"self": np.where(self > 0, g, np.where(self < 0, -g, 0 * g))}


# --- activations -------------------------------------------------------------------------

@rule("aten.tanh.default")
def _tanh(A, self):
    return A.tanh(self)


@_tanh.vjp
def _(A, g, y, self):
    """tanh′ = 1 − tanh²."""
    return {"self": g * (1 - y * y)}


def _logistic(A, x):
    """σ(x) = 1/(1 + e^(−x))."""
    return 1 / (1 + A.exp(-x))


@rule("aten.sigmoid.default")
def _sigmoid(A, self):
    return _logistic(A, self)


@_sigmoid.vjp
def _(A, g, y, self):
    """σ′ = σ(1 − σ)."""
    return {"self": g * y * (1 - y)}


@rule("aten.relu.default")
def _relu(A, self):
    return np.where(self > 0, self, 0 * self)


@_relu.vjp
def _(A, g, y, self):
    """1 for x > 0, else 0 (torch's choice at x = 0)."""
    return {"self": np.where(self > 0, g, 0 * g)}


GELU_CUBIC = 0.044715  # the tanh approximation's cubic coefficient (Hendrycks & Gimpel 2016, eq. 2)


def _gelu_parts(A, x, approximate: str):
    """GELU's (Φ-like factor, its derivative): exactly Φ(x) = (1 + erf(x/√2))/2 and φ(x), or the tanh
    approximation's (1 + tanh(√(2/π)(x + c x³)))/2 and its derivative."""
    two = A.number(2)
    if approximate == "tanh":
        k, c = A.sqrt(two / A.pi()), A.number(GELU_CUBIC)
        t = A.tanh(k * (x + c * x * x * x))
        return (1 + t) / 2, (1 - t * t) * k * (1 + 3 * c * x * x) / 2
    return (1 + A.erf(x / A.sqrt(two))) / 2, A.exp(-x * x / 2) / A.sqrt(2 * A.pi())


@rule("aten.gelu.default")
def _gelu(A, self, approximate="none"):
    return self * _gelu_parts(A, self, approximate)[0]


@_gelu.vjp
def _(A, g, y, self, approximate="none"):
    """∂(x Φ(x))/∂x = Φ(x) + x Φ′(x)."""
    phi, slope = _gelu_parts(A, self, approximate)
    return {"self": g * (phi + self * slope)}


@rule("aten.silu.default")
def _silu(A, self):
    return self * _logistic(A, self)


@_silu.vjp
def _(A, g, y, self):
    """∂(x σ(x))/∂x = σ(x)(1 + x(1 − σ(x)))."""
    s = _logistic(A, self)
    return {"self": g * s * (1 + self * (1 - s))}


@rule("aten.softplus.default")
def _softplus(A, self, beta=1, threshold=20):
    b = A.number(beta)
    return np.where(self * b > threshold, self, A.log1p(A.exp(self * b)) / b)


@_softplus.vjp
def _(A, g, y, self, beta=1, threshold=20):
    """σ(βx), and 1 where βx > threshold (where torch returns x itself)."""
    b = A.number(beta)
    return {"self": np.where(self * b > threshold, g, g * _logistic(A, self * b))}


# --- reductions --------------------------------------------------------------------------

@rule("aten.sum.default", "aten.sum.dim_IntList")
def _sum(A, self, dim=None, keepdim=False, dtype=None):
    return np.sum(self, axis=_axes(dim, self.ndim), keepdims=keepdim)


@_sum.vjp
def _(A, g, y, self, dim=None, keepdim=False, dtype=None):
    """Each summed entry gets the cotangent of its sum."""
    return {"self": _restore(g, self.shape, _axes(dim, self.ndim), keepdim)}


def _count(shape: tuple, axes: tuple) -> int:
    return int(np.prod([shape[axis] for axis in axes], dtype=np.int64))


@rule("aten.mean.default", "aten.mean.dim")
def _mean(A, self, dim=None, keepdim=False, dtype=None):
    axes = _axes(dim, self.ndim)
    return np.sum(self, axis=axes, keepdims=keepdim) / A.number(_count(self.shape, axes))


@_mean.vjp
def _(A, g, y, self, dim=None, keepdim=False, dtype=None):
    """Each entry gets the cotangent of its mean over the n entries averaged, divided by n."""
    axes = _axes(dim, self.ndim)
    return {"self": _restore(g / A.number(_count(self.shape, axes)), self.shape, axes, keepdim)}


def _extremum(pick):
    """amax or amin: the forward, and a VJP that shares the cotangent evenly among tied extremes
    (torch's choice where the extreme is not unique)."""
    def forward(A, self, dim=(), keepdim=False):
        return _pick(pick, self, _axes(dim, self.ndim), keepdim)

    def vjp(A, g, y, self, dim=(), keepdim=False):
        """The extreme's cotangent to the entry that attains it, shared evenly among tied ones."""
        axes = _axes(dim, self.ndim)
        hit = _extremes(pick, self, axes)
        ties = np.sum(hit, axis=axes, keepdims=True)
        share = _restore(g, self.shape, axes, keepdim)
        return {"self": np.where(hit, share / np.broadcast_to(ties, self.shape), 0 * share)}
    return forward, vjp


def _extremes(pick, x, axes: tuple):
    """Which entries are extremes over ``axes``: those that no other entry beats, compared pairwise (so
    that an entry is never compared with itself, nor with a copy of the extreme)."""
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
    n = flat.shape[-1]
    beaten = pick(flat[..., None, :], flat[..., :, None]) & ~np.eye(n, dtype=bool)  # [i, j]: x_j beats x_i
    hit = ~np.any(beaten, axis=-1)
    return np.moveaxis(hit.reshape(moved.shape), tuple(range(-len(axes), 0)), axes)


def _pick(pick, x, axes: tuple, keepdims: bool):
    """The largest (or smallest) entry over ``axes``, by comparisons only (so object arrays work)."""
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0))) if axes else x[..., None]
    flat = moved.reshape(moved.shape[:moved.ndim - max(len(axes), 1)] + (-1,))
    best = flat[..., 0]
    for k in range(1, flat.shape[-1]):
        best = np.where(pick(flat[..., k], best), flat[..., k], best)
    return np.expand_dims(best, axes) if keepdims and axes else best


for _name, _pick_better in (("amax", np.greater), ("amin", np.less)):
    _forward, _vjp = _extremum(_pick_better)
    rule(f"aten.{_name}.default")(_forward).vjp(_vjp)


# --- softmax -----------------------------------------------------------------------------

@rule("aten._softmax.default")
def _softmax(A, self, dim, half_to_float=False):
    e = A.exp(self - A.shift(self, dim))
    return e / np.sum(e, axis=dim, keepdims=True)


@_softmax.vjp
def _(A, g, y, self, dim, half_to_float=False):
    """∂yᵢ/∂xⱼ = yᵢ(δᵢⱼ − yⱼ): x̄ = y ⊙ (ḡ − Σ ḡ ⊙ y)."""
    return {"self": y * (g - np.sum(g * y, axis=dim, keepdims=True))}


@rule("aten._log_softmax.default")
def _log_softmax(A, self, dim, half_to_float=False):
    shifted = self - A.shift(self, dim)
    return shifted - A.log(np.sum(A.exp(shifted), axis=dim, keepdims=True))


@_log_softmax.vjp
def _(A, g, y, self, dim, half_to_float=False):
    """∂yᵢ/∂xⱼ = δᵢⱼ − softmax(x)ⱼ: x̄ = ḡ − e^y Σ ḡ."""
    return {"self": g - A.exp(y) * np.sum(g, axis=dim, keepdims=True)}


@rule("aten.full_like.default")
def _full_like(A, self, fill_value, dtype=None, **options):
    """An array of ``self``'s shape filled with one value (floats in ``A``'s numbers, else of that dtype)."""
    import torch

    floating = dtype.is_floating_point if dtype is not None else self.dtype.kind not in "biu"
    if floating:
        return A.full(self.shape, fill_value)
    return np.full(self.shape, fill_value, dtype=self.dtype if dtype is None else
                   torch.empty((), dtype=dtype).numpy().dtype)


# ones_like fills 1; zeros_like and empty_like 0 (an empty array's entries are never read)
rule("aten.ones_like.default")(lambda A, self, dtype=None, **options: _full_like(A, self, 1, dtype))
rule("aten.zeros_like.default", "aten.empty_like.default")(
    lambda A, self, dtype=None, **options: _full_like(A, self, 0, dtype))


# --- selection and comparison ------------------------------------------------------------

for _name, _compare in (("gt", np.greater), ("lt", np.less), ("ge", np.greater_equal), ("le", np.less_equal),
                        ("eq", np.equal), ("ne", np.not_equal)):
    rule(f"aten.{_name}.Tensor", f"aten.{_name}.Scalar")(
        lambda A, self, other, _compare=_compare: _compare(self, other).astype(bool))


for _name, _logic in (("logical_not", np.logical_not), ("bitwise_not", np.invert)):
    rule(f"aten.{_name}.default")(lambda A, self, _logic=_logic: _logic(self))
for _name, _logic in (("logical_and", np.logical_and), ("logical_or", np.logical_or),
                      ("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or)):
    rule(f"aten.{_name}.default", f"aten.{_name}.Tensor")(lambda A, self, other, _logic=_logic: _logic(self, other))


@rule("aten.where.self")
def _where(A, condition, self, other):
    return np.where(condition, self, other)


@_where.vjp
def _(A, g, y, condition, self, other):
    """Each entry's cotangent goes to the branch the condition chose; the other gets 0."""
    zero = 0 * g
    return {"self": np.where(condition, g, zero), "other": np.where(condition, zero, g)}


@rule("aten.clamp.default", "aten.clamp.Tensor")
def _clamp(A, self, min=None, max=None):
    y = self
    if min is not None:
        y = np.where(y < min, min + 0 * y, y)
    if max is not None:
        y = np.where(y > max, max + 0 * y, y)
    return y


@_clamp.vjp
def _(A, g, y, self, min=None, max=None):
    """1 where min ≤ x ≤ max, ends included (torch's choice), else 0; a Tensor bound gets the rest."""
    below = self < min if min is not None else np.zeros(self.shape, bool)
    above = (self > max) & ~below if max is not None else np.zeros(self.shape, bool)
    zero = 0 * g
    return {"self": np.where(below | above, zero, g), "min": np.where(below, g, zero),
            "max": np.where(above, g, zero)}


@rule("aten.clamp_min.default", "aten.clamp_min.Tensor")
def _clamp_min(A, self, min):
    return _clamp(A, self, min=min)


@_clamp_min.vjp
def _(A, g, y, self, min):
    """clamp's, with no upper bound."""
    return RULES["aten.clamp.default"].vjp(A, g, y, self, min=min)


@rule("aten.clamp_max.default", "aten.clamp_max.Tensor")
def _clamp_max(A, self, max):
    return _clamp(A, self, max=max)


@_clamp_max.vjp
def _(A, g, y, self, max):
    """clamp's, with no lower bound."""
    return RULES["aten.clamp.default"].vjp(A, g, y, self, max=max)


def _pairwise(pick):
    """maximum or minimum: the forward, and a VJP that halves the cotangent at a tie (torch's choice)."""
    def forward(A, self, other):
        return np.where(pick(other, self), other, self)

    def vjp(A, g, y, self, other):
        """The cotangent to the argument that attains the extreme; half to each at a tie."""
        tie = self == other
        half = g / 2
        return {"self": np.where(tie, half, np.where(pick(self, other), g, 0 * g)),
                "other": np.where(tie, half, np.where(pick(other, self), g, 0 * g))}
    return forward, vjp


for _name, _pick_better in (("maximum", np.greater), ("minimum", np.less)):
    _forward, _vjp = _pairwise(_pick_better)
    rule(f"aten.{_name}.default")(_forward).vjp(_vjp)


# --- shapes and indexing -----------------------------------------------------------------

@rule("aten.view.default", "aten._unsafe_view.default")
def _view(A, self, size):
    return np.reshape(self, tuple(size))


@rule("aten.reshape.default")
def _reshape(A, self, shape):
    return np.reshape(self, tuple(shape))


@rule("aten.detach.default")
def _detach(A, self):
    return self


@rule("aten.clone.default", "aten.alias.default", "aten.lift_fresh.default", "aten._to_copy.default",
      "aten.to.dtype", "aten.contiguous.default")
def _identity(A, self, *arguments, **options):
    return self


@_identity.vjp
def _(A, g, y, self, *arguments, **options):
    """A copy or a cast: the reference keeps the exact value (the precision is judged, not modelled here)."""
    return {"self": g}


@rule("aten.permute.default")
def _permute(A, self, dims):
    return np.transpose(self, [d % self.ndim for d in dims])


@_permute.vjp
def _(A, g, y, self, dims):
    """The cotangent permuted back by the inverse permutation."""
    return {"self": np.transpose(g, np.argsort([d % self.ndim for d in dims]))}


@rule("aten.transpose.int")
def _transpose(A, self, dim0, dim1):
    return np.swapaxes(self, dim0, dim1)


@_transpose.vjp
def _(A, g, y, self, dim0, dim1):
    """The cotangent with the two axes swapped back."""
    return {"self": np.swapaxes(g, dim0, dim1)}


@rule("aten.flip.default")
def _flip(A, self, dims):
    return np.flip(self, tuple(dims))


@_flip.vjp
def _(A, g, y, self, dims):
    """The cotangent flipped back along the same axes."""
    return {"self": np.flip(g, tuple(dims))}


@rule("aten.t.default")
def _t(A, self):
    return self.T


@_t.vjp
def _(A, g, y, self):
    """The cotangent transposed back."""
    return {"self": tensor(g).T}


@rule("aten.expand.default")
def _expand(A, self, size, implicit=False):
    lead = len(size) - self.ndim
    shape = [s if s != -1 else self.shape[axis - lead] for axis, s in enumerate(size)]
    return np.broadcast_to(self, shape)


@_expand.vjp
def _(A, g, y, self, size, implicit=False):
    """Each entry gets the sum of the cotangents of its copies (over the broadcast axes)."""
    return {"self": reduce_to(g, self.shape)}


@rule("aten.unsqueeze.default")
def _unsqueeze(A, self, dim):
    return np.expand_dims(self, dim % (self.ndim + 1))


@rule("aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze.default")
def _squeeze(A, self, dim=None):
    axes = _axes(dim, self.ndim) if self.ndim else ()
    return np.squeeze(self, tuple(axis for axis in axes if self.shape[axis] == 1))




def _reshaped_back(A, g, y, self, **size):
    """The cotangent reshaped back to x's shape: the entries keep their order."""
    return {"self": np.reshape(g, self.shape)}


for _forward in (_view, _reshape, _unsqueeze, _squeeze):
    _forward.vjp(_reshaped_back)


@rule("aten.cat.default")
def _cat(A, tensors, dim=0):
    return np.concatenate([t for t in tensors if t.shape != (0,)], axis=dim)


@_cat.vjp
def _(A, g, y, tensors, dim=0):
    """The cotangent cut back into the pieces, along the same axis."""
    ends = np.cumsum([0 if t.shape == (0,) else t.shape[dim] for t in tensors])
    pieces = np.split(g, ends[:-1], axis=dim)
    return {"tensors": [np.reshape(p, t.shape) for p, t in zip(pieces, tensors)]}


def _split_forward(self, sizes: list, dim: int) -> tuple:
    return tuple(np.split(self, np.cumsum(sizes)[:-1], axis=dim))


def _split_vjp(A, g, y, self, dim: int = 0, **sizes) -> dict:
    """The pieces' cotangents put back side by side."""
    return {"self": np.concatenate([np.broadcast_to(tensor(piece), np.shape(part)) for piece, part in zip(g, y)],
                                   axis=dim)}


@rule("aten.split.Tensor", "aten.unsafe_split.Tensor")
def _split(A, self, split_size, dim=0):
    size = self.shape[dim]
    return _split_forward(self, [min(split_size, size - start) for start in range(0, size, split_size)], dim)


@rule("aten.split_with_sizes.default", "aten.unsafe_split_with_sizes.default")
def _split_with_sizes(A, self, split_sizes, dim=0):
    return _split_forward(self, list(split_sizes), dim)


@rule("aten.unbind.int")
def _unbind(A, self, dim=0):
    return tuple(np.moveaxis(self, dim, 0))


for _forward in (_split, _split_with_sizes):
    _forward.vjp(_split_vjp)


@_unbind.vjp
def _(A, g, y, self, dim=0):
    """The slices' cotangents stacked back along the axis."""
    return {"self": np.stack([tensor(piece) for piece in g], axis=dim)}


@rule("aten.stack.default")
def _stack(A, tensors, dim=0):
    return np.stack(list(tensors), axis=dim)


@_stack.vjp
def _(A, g, y, tensors, dim=0):
    """The cotangent's slices along the new axis, one per stacked tensor."""
    return {"tensors": list(np.moveaxis(g, dim, 0))}


def _slice(ndim: int, dim: int, index) -> tuple:
    return (slice(None),) * (dim % ndim) + (index,)


def _scatter_back(A, g, shape: tuple, where: tuple):
    """The cotangent of ``x[where]``: ``g`` at those entries of an array of zeros of ``shape``."""
    out = A.full(shape, 0)
    np.add.at(out, where, g)
    return out


@rule("aten.slice.Tensor")
def _slice_tensor(A, self, dim=0, start=None, end=None, step=1):
    return self[_slice(self.ndim, dim, slice(start, end, step))]


@_slice_tensor.vjp
def _(A, g, y, self, dim=0, start=None, end=None, step=1):
    """The cotangent at the sliced entries of zeros of x's shape."""
    return {"self": _scatter_back(A, g, self.shape, _slice(self.ndim, dim, slice(start, end, step)))}


@rule("aten.select.int")
def _select(A, self, dim, index):
    return self[_slice(self.ndim, dim, index)]


@_select.vjp
def _(A, g, y, self, dim, index):
    """The cotangent at the selected entries of zeros of x's shape."""
    return {"self": _scatter_back(A, g, self.shape, _slice(self.ndim, dim, index))}


@rule("aten.index_select.default")
def _index_select(A, self, dim, index):
    return np.take(self, np.asarray(index), axis=dim)


@_index_select.vjp
def _(A, g, y, self, dim, index):
    """The cotangent added at the selected rows of zeros of x's shape (a row picked twice gets both)."""
    return {"self": _scatter_back(A, g, self.shape, _slice(self.ndim, dim, np.asarray(index)))}


def _gathered(shape: tuple, dim: int, index: np.ndarray) -> tuple:
    """The fancy index of ``gather(x, dim, index)``: ``index`` along ``dim``, its own position elsewhere."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim % len(shape)] = index
    return tuple(grid)


@rule("aten.gather.default")
def _gather(A, self, dim, index, sparse_grad=False):
    return self[_gathered(self.shape, dim, np.asarray(index))]


@_gather.vjp
def _(A, g, y, self, dim, index, sparse_grad=False):
    """The cotangent added at the gathered entries of zeros of x's shape (an entry gathered twice gets both)."""
    return {"self": _scatter_back(A, g, self.shape, _gathered(self.shape, dim, np.asarray(index)))}


@rule("aten.embedding.default")
def _embedding(A, weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    return weight[np.asarray(indices)]


@_embedding.vjp
def _(A, g, y, weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """Each row's cotangents summed; the row ``padding_idx`` gets none (torch's convention for it)."""
    indices = np.asarray(indices)
    if scale_grad_by_freq:
        counts = np.bincount(indices.ravel(), minlength=weight.shape[0])
        g = g / A.array(counts[indices])[..., None]
    out = _scatter_back(A, g, weight.shape, (indices,))
    if padding_idx >= 0:
        out[padding_idx] = 0 * out[padding_idx]
    return {"weight": out}


# --- linear algebra ----------------------------------------------------------------------

@rule("aten.mm.default", "aten.bmm.default")
def _mm(A, self, mat2):
    return np.matmul(self, mat2)


@_mm.vjp
def _(A, g, y, self, mat2):
    """∂(AB): Ā = Ḡ Bᵀ, B̄ = Aᵀ Ḡ (batched over a leading axis for bmm)."""
    return {"self": np.matmul(g, np.swapaxes(mat2, -1, -2)), "mat2": np.matmul(np.swapaxes(self, -1, -2), g)}


@rule("aten.addmm.default")
def _addmm(A, self, mat1, mat2, beta=1, alpha=1):
    product = np.matmul(mat1, mat2)
    if alpha == 1 and beta == 1:
        return A.biased(product, self)
    return (self if beta == 1 else A.number(beta) * self) + (product if alpha == 1 else A.number(alpha) * product)


@_addmm.vjp
def _(A, g, y, self, mat1, mat2, beta=1, alpha=1):
    """y = β s + α M₁M₂: s̄ = β ḡ, M̄₁ = α ḡ M₂ᵀ, M̄₂ = α M₁ᵀ ḡ."""
    scaled = g if alpha == 1 else A.number(alpha) * g
    return {"self": g if beta == 1 else A.number(beta) * g, "mat1": np.matmul(scaled, mat2.T),
            "mat2": np.matmul(mat1.T, scaled)}


# --- convolution -------------------------------------------------------------------------

def _patches(A, x, kernel: tuple, stride, padding, dilation):
    """x (N, C, *S) zero-padded, as the patches each output entry sees: (N, C, *S_out, *K)."""
    spatial = len(kernel)
    pad = [(0, 0), (0, 0)] + [(p, p) for p in padding]
    padded = np.pad(x, pad, constant_values=0) if any(padding) else x
    span = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    windows = np.lib.stride_tricks.sliding_window_view(padded, span, axis=tuple(range(2, 2 + spatial)))
    picks = (slice(None),) * 2 + tuple(slice(None, None, s) for s in stride) + tuple(
        slice(None, None, d) for d in dilation)
    return padded.shape, windows[picks]


def _groups(array, axis: int, groups: int) -> list:
    return np.split(array, groups, axis=axis)


@rule("aten.convolution.default")
def _convolution(A, input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """y[n, o, p] = b[o] + Σ_{c, k} w[o, c, k] x_pad[n, c, p s + k d] (cross-correlation, as torch's),
    channels in ``groups`` independent groups."""
    if transposed:
        raise NotImplementedError("transposed convolution")
    kernel = weight.shape[2:]
    _, patches = _patches(A, input, kernel, stride, padding, dilation)
    contracted = (1,) + tuple(range(2 + len(kernel), 2 + 2 * len(kernel)))
    biases = _groups(bias, 0, groups) if bias is not None else [None] * groups
    outputs = []
    for p, w, b in zip(_groups(patches, 1, groups), _groups(weight, 0, groups), biases):
        y = np.tensordot(p, w, axes=(contracted, tuple(range(1, 2 + len(kernel)))))  # (N, *S_out, O_g)
        outputs.append(np.moveaxis(A.biased(y, b) if b is not None else y, -1, 1))
    return np.concatenate(outputs, axis=1)


@_convolution.vjp
def _(A, g, y, input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """w̄[o, c, k] = Σ_{n, p} ḡ[n, o, p] x_pad[n, c, p s + k d];
    x̄_pad[n, c, q] = Σ_{o, k} ḡ[n, o, (q − k d)/s] w[o, c, k] over the (o, k) whose position
    p = (q − k d)/s is a whole output position (then the padding cut off): one contraction over (o, k)
    of the cotangent spread to where each term lands, so that it is one sum of its terms, in whatever
    order an implementation adds them; b̄ = Σ ḡ over the batch and positions."""
    kernel = weight.shape[2:]
    spatial = len(kernel)
    padded_shape, patches = _patches(A, input, kernel, stride, padding, dilation)
    positions = (0,) + tuple(range(2, 2 + spatial))
    # spread[n, o, *q, *k] = ḡ[n, o, p] where q = p s + k d, else 0
    spread = A.full(g.shape[:2] + padded_shape[2:] + kernel, 0)
    for offset in np.ndindex(*kernel):
        where = (slice(None), slice(None)) + tuple(slice(k * d, k * d + s * (n - 1) + 1, s)
                                                   for k, d, s, n in zip(offset, dilation, stride, g.shape[2:]))
        spread[where + offset] = g
    taps = tuple(range(2 + spatial, 2 + 2 * spatial))
    g_weight, g_padded = [], []
    for gg, sg, p, w in zip(_groups(g, 1, groups), _groups(spread, 1, groups), _groups(patches, 1, groups),
                            _groups(weight, 0, groups)):
        g_weight.append(np.tensordot(gg, p, axes=((0,) + tuple(range(2, 2 + spatial)), positions)))
        g_padded.append(np.moveaxis(np.tensordot(sg, w, axes=((1,) + taps, (0,) + tuple(range(2, 2 + spatial)))),
                                    -1, 1))
    crop = (slice(None),) * 2 + tuple(slice(p, size - p) for p, size in zip(padding, padded_shape[2:]))
    return {"input": np.concatenate(g_padded, axis=1)[crop], "weight": np.concatenate(g_weight, axis=0),
            "bias": np.sum(g, axis=positions) if bias is not None else None}


# --- normalization and losses ------------------------------------------------------------

def _normalized(A, x, axes: tuple, eps):
    """Over ``axes``: the mean μ, r = (σ² + ε)^(−1/2) (σ² the biased variance) and x̂ = (x − μ) r."""
    n = A.number(_count(x.shape, axes))
    mean = np.sum(x, axis=axes, keepdims=True) / n
    centred = x - mean
    rstd = 1 / A.sqrt(np.sum(centred * centred, axis=axes, keepdims=True) / n + A.number(eps))
    return mean, rstd, centred * rstd


def _normalized_vjp(A, g_normal, normal, rstd, axes: tuple):
    """The cotangent of x from that of x̂ = (x − μ) r over ``axes`` (N entries):
    x̄ = r (x̂̄ − mean x̂̄ − x̂ mean(x̂̄ x̂))."""
    n = A.number(_count(normal.shape, axes))
    return rstd * (g_normal - np.sum(g_normal, axis=axes, keepdims=True) / n
                   - normal * np.sum(g_normal * normal, axis=axes, keepdims=True) / n)


def _statistics_vjp(A, g_mean, g_rstd, x, mean, rstd, axes: tuple):
    """What cotangents of the saved μ and r (rarely used) add to x̄: μ̄/N and −r³(x − μ) r̄/N."""
    n = A.number(_count(x.shape, axes))
    return tensor(g_mean) / n - rstd * rstd * rstd * (x - mean) * tensor(g_rstd) / n


@rule("aten.native_layer_norm.default")
def _layer_norm(A, input, normalized_shape, weight, bias, eps):
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean, rstd, y = _normalized(A, input, axes, eps)
    y = y * weight if weight is not None else y
    return (y + bias if bias is not None else y), mean, rstd


@_layer_norm.vjp
def _(A, g, y, input, normalized_shape, weight, bias, eps):
    """out = w x̂ + b over the last axes: x̂̄ = w ḡ, w̄ = Σ ḡ x̂ and b̄ = Σ ḡ over the leading axes."""
    g_out, g_mean, g_rstd = g
    _, mean, rstd = y
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    normal = (input - mean) * rstd
    x_bar = _normalized_vjp(A, g_out * weight if weight is not None else g_out, normal, rstd, axes)
    lead = tuple(range(input.ndim - len(normalized_shape)))
    return {"input": x_bar + _statistics_vjp(A, g_mean, g_rstd, input, mean, rstd, axes),
            "weight": np.sum(g_out * normal, axis=lead) if weight is not None else None,
            "bias": np.sum(g_out, axis=lead) if bias is not None else None}


def _channels(v, ndim: int):
    """A per-channel vector (C,) shaped to broadcast over (N, C, …)."""
    return None if v is None else np.reshape(v, (1, -1) + (1,) * (ndim - 2))


@rule("aten.native_batch_norm.default")
def _batch_norm(A, input, weight, bias, running_mean, running_var, training, momentum, eps):
    """Training: x̂ over the batch and spatial axes, per channel (the batch's statistics; the running ones,
    which torch updates in place, are not a result); inference: (x − running mean)(running var + ε)^(−1/2)."""
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        mean, rstd, normal = _normalized(A, input, axes, eps)
    else:
        mean = _channels(running_mean, input.ndim)
        rstd = 1 / A.sqrt(_channels(running_var, input.ndim) + A.number(eps))
        normal = (input - mean) * rstd
    y = normal * _channels(weight, input.ndim) if weight is not None else normal
    y = y + _channels(bias, input.ndim) if bias is not None else y
    return y, np.reshape(mean, -1), np.reshape(rstd, -1)


@_batch_norm.vjp
def _(A, g, y, input, weight, bias, running_mean, running_var, training, momentum, eps):
    """As layer norm's over the batch and spatial axes per channel in training; in inference
    x̄ = r x̂̄, and the running statistics m and v (if they are inputs, and the results μ = m and
    r = (v + ε)^(−1/2)) get m̄ = μ̄ − Σ r x̂̄ and v̄ = −(Σ x̂̄ (x − m) + r̄) r³/2."""
    g_out, g_mean, g_rstd = g
    axes = (0,) + tuple(range(2, input.ndim))
    mean, rstd = _channels(y[1], input.ndim), _channels(y[2], input.ndim)
    normal = (input - mean) * rstd
    g_normal = g_out * _channels(weight, input.ndim) if weight is not None else g_out
    found = {"weight": np.sum(g_out * normal, axis=axes) if weight is not None else None,
             "bias": np.sum(g_out, axis=axes) if bias is not None else None}
    if training:
        found["input"] = _normalized_vjp(A, g_normal, normal, rstd, axes) + _statistics_vjp(
            A, _channels(g_mean, input.ndim), _channels(g_rstd, input.ndim), input, mean, rstd, axes)
        return found
    found["input"] = g_normal * rstd
    found["running_mean"] = tensor(g_mean) - np.sum(g_normal * rstd, axis=axes)
    cubed = np.reshape(rstd * rstd * rstd, -1)
    found["running_var"] = -(np.sum(g_normal * (input - mean), axis=axes) + tensor(g_rstd)) * cubed / 2
    return found


REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}  # ATen's reduction codes


def _reduce(A, losses, reduction: int, weight=None):
    if REDUCTIONS[reduction] == "none":
        return losses
    total = np.sum(losses)
    if REDUCTIONS[reduction] == "sum":
        return total
    return total / (np.sum(weight) if weight is not None else A.number(losses.size))


@rule("aten.mse_loss.default")
def _mse_loss(A, self, target, reduction=1):
    difference = self - target
    return _reduce(A, difference * difference, reduction)


@_mse_loss.vjp
def _(A, g, y, self, target, reduction=1):
    """∂(x − t)²/∂x = 2(x − t), divided by the count for the mean."""
    scale = A.number(2) / (A.number(self.size) if REDUCTIONS[reduction] == "mean" else 1)
    g_self = g * scale * (self - target)
    return {"self": g_self, "target": -g_self}


def _nll_weights(A, input, target, weight, ignore_index: int):
    """Where the picked entries x[i, tᵢ] are (x[t] for one sample), and each one's weight w_{tᵢ}
    (1 without ``weight``; 0 where tᵢ = ignore_index)."""
    target = np.asarray(target)
    kept = target != ignore_index
    safe = np.where(kept, target, 0)
    where = (np.arange(input.shape[0]), safe) if input.ndim == 2 else (safe,)
    w = weight[safe] if weight is not None else A.full(kept.shape, 1)
    return where, np.where(kept, w, 0 * w)


@rule("aten.nll_loss_forward.default")
def _nll_loss(A, self, target, weight, reduction, ignore_index):
    where, w = _nll_weights(A, self, target, weight, ignore_index)
    return _reduce(A, -self[where] * w, reduction, w), np.sum(w)


@_nll_loss.vjp
def _(A, g, y, self, target, weight, reduction, ignore_index):
    """With pᵢ = x[i, tᵢ] and L = −Σ wᵢ pᵢ (divided by W = Σ wᵢ for the mean): p̄ᵢ = −wᵢ ḡ (/W), and a class
    weight gets w̄_c = Σ_{tᵢ = c} (−pᵢ ḡ (− L ḡ, /W for the mean) + W̄), W̄ the cotangent of W."""
    g_loss, g_total = tensor(g[0]), tensor(g[1])
    where, w = _nll_weights(A, self, target, weight, ignore_index)
    picked = self[where]
    mean = REDUCTIONS[reduction] == "mean"
    total = np.sum(w)
    x_bar = _scatter_back(A, g_loss * (-w / total if mean else -w), self.shape, where)
    if weight is None:
        return {"self": x_bar}
    per_sample = (-picked - y[0]) * g_loss / total if mean else -picked * g_loss
    kept = np.asarray(target) != ignore_index
    per_sample = np.where(kept, per_sample + g_total, 0 * per_sample)
    return {"self": x_bar, "weight": _scatter_back(A, per_sample, weight.shape, (where[-1],))}
