"""Activation functions: the SymPy expression, its derived derivative and bound.

For each activation f, SymPy differentiates f, the derivative is rewritten in
terms of the value u = f(z) (σ′ = σ(1−σ), tanh′ = 1 − tanh²), and the bound
γ = sup |f′| is derived: critical points of f′ solved for over the reals, the
second derivative's sign checked there, the limits at ±∞ taken; a piecewise
f′ is maximised piece by piece. Nothing about γ is typed in.

NumPy and torch callables are written by hand (not generated from SymPy), so
the engines stay independent; the catalogue checks them against SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable

import numpy as np

from gradproofs import devices, frameworks
from gradproofs._validate import choice
from gradproofs.derivation import Derivation
from gradproofs.errors import DerivationError

__all__ = ["Activation", "NAMES", "digits_lost", "mpmath_elementwise", "extra_digits", "get"]


def _real(z) -> np.ndarray:
    """``z`` in float64, or in long double where it is given so (the extended-precision reference)."""
    z = np.asarray(z)
    return z if z.dtype == np.longdouble else np.asarray(z, dtype=np.float64)


def _sigmoid(z):
    """σ(z) = 1/(1 + e^(−z)) for z ≥ 0, e^z/(1 + e^z) below: exp never overflows."""
    z = _real(z)
    with np.errstate(under="ignore"):  # e^(−|z|) below the smallest float is 0, as it should be
        e = np.exp(-np.abs(z))
        r = 1.0 / (1.0 + e)
        return np.where(z >= 0, r, e * r)


def _bump(z, rate: float, height: float):
    """height·e/(1 + e)² with e = e^(−rate·|z|): σ′ (rate 1, height 1) and tanh′ (rate 2, height 4)
    without the cancellation of 1 − σ or 1 − tanh². Two arrays, each operation in place (one pass
    over memory each); multiplying by rate and height is exact (powers of two)."""
    z = _real(z)
    e = np.abs(z, out=np.empty_like(z))
    with np.errstate(over="ignore", under="ignore"):  # −rate·|z| past −max is −∞; e^(−rate·|z|) then 0
        np.multiply(e, -rate, out=e)
        np.exp(e, out=e)
        square = np.add(e, 1.0, out=np.empty_like(e))
        np.multiply(square, square, out=square)
        np.multiply(e, height, out=e)
        np.divide(e, square, out=e)
    # Rounding can lift the quotient just above its peak height/4 near z = 0; the true value never is.
    return np.minimum(e, height / 4, out=e)[()]


def _sigmoid_derivative(z):
    """σ′(z) = e^(−|z|)/(1 + e^(−|z|))²: σ(1−σ) without the cancellation of 1 − σ."""
    return _bump(z, 1.0, 1.0)


def _log_sigmoid_derivative(z):
    """log σ′(z) = −|z| − 2·log(1 + e^(−|z|)), exact in the tails."""
    a = np.abs(_real(z))
    with np.errstate(under="ignore"):  # e^(−|z|) below the smallest float is 0
        return -a - 2.0 * np.log1p(np.exp(-a))


def _tanh_derivative(z):
    """tanh′(z) = 4e^(−2|z|)/(1 + e^(−2|z|))²: 1 − tanh² without its cancellation."""
    return _bump(z, 2.0, 4.0)


def _log_tanh_derivative(z):
    """log(1 − tanh² z) = log 4 − 2|z| − 2·log(1 + e^(−2|z|))."""
    a = np.abs(_real(z))
    with np.errstate(over="ignore", under="ignore"):  # −2|z| past −max is −∞; e^(−2|z|) then 0
        return np.log(4.0) - 2.0 * a - 2.0 * np.log1p(np.exp(-2.0 * a))


def _relu(z):
    return np.maximum(_real(z), 0.0)


def _relu_derivative(z):
    """relu′(z) = 1 for z > 0, else 0 (relu′(0) = 0, as torch's autograd)."""
    z = _real(z)
    return (z > 0).astype(z.dtype)


def _log_relu_derivative(z):
    with np.errstate(divide="ignore"):
        return np.log(_relu_derivative(z))


def _identity(z):
    return np.array(_real(z))


def _identity_derivative(z):
    return np.ones_like(_real(z))


def _log_identity_derivative(z):
    return np.zeros_like(_real(z))


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation f with its symbolic and numeric forms.

    ``expr`` is f in the SymPy symbol ``z``; ``derivative`` is f′ as derived;
    ``derivative_bound`` is γ = sup_z |f′(z)|, an exact SymPy number; ``argmax``
    is the SymPy set of z where |f′(z)| = γ.
    """

    name: str
    latex_name: str
    _expr: Callable  # z -> SymPy expression
    _inverse: Callable | None  # u -> z with f(z) = u, to write f′ in terms of u
    _derivative_in_value: Callable | None  # u -> the claimed form of f′
    numpy: Callable
    numpy_derivative: Callable
    numpy_log_derivative: Callable
    _library_name: str  # f in torch, jax.nn and tf.nn: torch.sigmoid, jax.nn.sigmoid, tf.nn.sigmoid; '' for none

    @cached_property
    def z(self):
        import sympy

        return sympy.Symbol("z", real=True)

    @cached_property
    def expr(self):
        return self._expr(self.z)

    @cached_property
    def _differentiated(self):
        return _differentiate(self)

    @cached_property
    def _analysis(self):
        return _analyse(self)

    @property
    def derivative(self):
        """f′(z), written through f where a value form exists (σ(1−σ), 1 − tanh²)."""
        return self._differentiated[1]

    @property
    def derivative_in_value(self):
        """f′ as a function of the value u = f(z) (σ(1−σ), 1−tanh²), or None."""
        if self._derivative_in_value is None:
            return None
        import sympy

        return self._derivative_in_value(sympy.Symbol(self.latex_name, positive=True))

    @property
    def derivative_bound(self):
        return self._analysis[0]

    @property
    def argmax(self):
        return self._analysis[1]

    def derivation(self) -> Derivation:
        return self._analysis[2]

    def torch(self, z):
        """f(z) on a torch tensor."""
        torch = devices.torch()
        return getattr(torch, self._library_name)(z) if self._library_name else z

    def jax(self, z):
        """f(z) on a JAX array (``jax.nn.sigmoid``, ``jax.nn.tanh``, ``jax.nn.relu``)."""
        return getattr(frameworks.module("jax").nn, self._library_name)(z) if self._library_name else z

    def tensorflow(self, z):
        """f(z) on a TensorFlow tensor (``tf.nn.sigmoid``, ``tf.nn.tanh``, ``tf.nn.relu``)."""
        return getattr(frameworks.module("tensorflow").nn, self._library_name)(z) if self._library_name else z

    def torch_derivative(self, z):
        """f′(z) on a torch tensor, written by hand (not through autograd)."""
        torch = devices.torch()
        if self.name == "sigmoid":
            return torch.sigmoid(z) * torch.sigmoid(-z)
        if self.name == "tanh":
            t = torch.tanh(z)
            return 1 - t * t
        if self.name == "relu":
            return (z > 0).to(z.dtype)
        return torch.ones_like(z)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _differentiate(act: Activation):
    """f′ by SymPy, proved equal to its form through the value (σ(1−σ), 1−tanh²)."""
    import sympy

    z = act.z
    d = Derivation()
    raw = sympy.diff(act.expr, z)
    d.show(f"Differentiate ${act.latex_name}(z)$ with SymPy.", raw, lhs=f"{act.latex_name}'(z)")
    if act._derivative_in_value is None:
        return raw, sympy.simplify(raw), d
    u = sympy.Symbol("u", positive=True)
    form = act._derivative_in_value(u)
    d.equal(
        f"Substitute $z = {act.latex_name}^{{-1}}(u)$ and write the derivative through the "
        f"value $u = {act.latex_name}(z)$.",
        raw.subs(z, act._inverse(u)),
        form,
        label=f"{act.latex_name}'({act.latex_name}^{{-1}}(u))",
    )
    return raw, form.subs(u, act.expr), d


def _analyse(act: Activation):
    """The supremum γ of |f′| and where it is attained, continuing f′'s derivation."""
    import sympy

    z = act.z
    raw, _, d = act._differentiated
    if isinstance(raw, sympy.Piecewise):
        bound, argmax = _piecewise_supremum(raw, z, act.latex_name, d)
    elif not raw.has(z):
        bound, argmax = raw, sympy.S.Reals
        d.holds("The derivative is constant.", True, f"{act.latex_name}'(z) = {sympy.latex(raw)}")
    else:
        bound, argmax = _smooth_supremum(raw, z, act.latex_name, d)
    d.conclude(
        f"\\gamma = \\sup_z |{act.latex_name}'(z)| = {sympy.latex(bound)},\\ "
        f"\\text{{attained on }} {sympy.latex(argmax)}"
    )
    return bound, argmax, d


def _smooth_supremum(fprime, z, name, d: Derivation):
    import sympy

    critical = sympy.solveset(sympy.diff(fprime, z), z, sympy.S.Reals)
    if not isinstance(critical, sympy.FiniteSet):
        raise DerivationError(f"critical points of {name}' are not a finite set: {critical}")
    d.show(f"Solve ${name}''(z) = 0$ over the reals: the critical points of ${name}'$.",
           critical, lhs="z")
    second = sympy.diff(fprime, z, 2)
    values = {}
    for point in critical:
        curvature = sympy.simplify(second.subs(z, point))
        d.holds(
            f"The second derivative of ${name}'$ is negative at $z = {sympy.latex(point)}$: a maximum.",
            curvature.is_negative,
            f"{name}'''({sympy.latex(point)}) = {sympy.latex(curvature)} < 0",
        )
        values[point] = sympy.simplify(fprime.subs(z, point))
    limits = [sympy.limit(fprime, z, sympy.oo), sympy.limit(fprime, z, -sympy.oo)]
    d.holds(
        f"The limits at $\\pm\\infty$ lie below the critical value, so ${name}'$ is "
        "maximal at a critical point and its infimum is a limit (it is never negative).",
        all(limit < max(values.values()) for limit in limits) and min(limits) >= 0,
        f"\\lim_{{z\\to+\\infty}} {name}'(z) = {sympy.latex(limits[0])},\\quad "
        f"\\lim_{{z\\to-\\infty}} {name}'(z) = {sympy.latex(limits[1])}",
    )
    bound = max(values.values())
    d.show(f"The maximum value of ${name}'$.", bound, lhs=f"\\max_z {name}'(z)")
    return bound, sympy.FiniteSet(*[p for p, v in values.items() if v == bound])


def _piecewise_supremum(fprime, z, name, d: Derivation):
    """sup |f′| of a piecewise-constant-or-not f′, piece by piece (earlier pieces win)."""
    import sympy

    covered = sympy.S.EmptySet
    pieces = []
    for value, condition in fprime.args:
        region = sympy.Complement(condition.as_set().intersect(sympy.S.Reals), covered)
        covered = sympy.Union(covered, region)
        if value.has(z):
            raise DerivationError(f"piece {value} is not constant; split it further")
        pieces.append((sympy.Abs(value), region))
        d.show(f"On ${sympy.latex(region)}$ the derivative is constant.", value, lhs=f"{name}'(z)")
    bound = max(v for v, region in pieces if region != sympy.S.EmptySet)
    argmax = sympy.Union(*[region for v, region in pieces if v == bound])
    return bound, argmax


def _relu_expr(z):
    import sympy

    # relu(0) = 0, and the z <= 0 piece first: diff gives relu'(0) = 0, torch's choice.
    return sympy.Piecewise((0, z <= 0), (z, True))


def _exp_sigmoid(z):
    import sympy

    return 1 / (1 + sympy.exp(-z))


def _logit(u):
    import sympy

    return sympy.log(u / (1 - u))


def _sympy(name):
    def build(arg):
        import sympy

        return getattr(sympy, name)(arg)

    return build


def _times_one_minus(u):
    import sympy

    return sympy.Mul(u, 1 - u, evaluate=False)


def _one_minus_square(u):
    return 1 - u**2


_ACTIVATIONS = {
    a.name: a
    for a in (
        Activation("sigmoid", r"\sigma", _exp_sigmoid, _logit, _times_one_minus,
                   _sigmoid, _sigmoid_derivative, _log_sigmoid_derivative, "sigmoid"),
        Activation("tanh", r"\tanh", _sympy("tanh"), _sympy("atanh"), _one_minus_square,
                   np.tanh, _tanh_derivative, _log_tanh_derivative, "tanh"),
        Activation("relu", r"\operatorname{relu}", _relu_expr, None, None,
                   _relu, _relu_derivative, _log_relu_derivative, "relu"),
        Activation("identity", r"\operatorname{id}", lambda z: z, None, None,
                   _identity, _identity_derivative, _log_identity_derivative, ""),
    )
}

NAMES = tuple(_ACTIVATIONS)


def digits_lost(z) -> int:
    """Decimal digits the SymPy forms σ(1−σ), 1−tanh² cancel at |z|: 2|z|/ln 10.

    High-precision evaluation adds these to its working precision.
    """
    return int(np.ceil(0.8686 * float(np.max(np.abs(np.asarray(z, dtype=np.float64))))))


@lru_cache(maxsize=None)
def mpmath_elementwise(name: str):
    """(f, f′) of the activation ``name``: SymPy's expressions evaluated in mpmath, elementwise on object arrays."""
    import sympy

    act = get(name)
    f = np.frompyfunc(sympy.lambdify(act.z, act.expr, "mpmath"), 1, 1)
    fprime = np.frompyfunc(sympy.lambdify(act.z, act.derivative, "mpmath"), 1, 1)
    return f, fprime


def extra_digits(act: Activation, *arguments) -> int:
    """Digits SymPy's f′ = σ(1−σ) or 1 − tanh² cancels at the largest argument (capped at 10⁴)."""
    if act.derivative_in_value is None:  # relu, identity: f′ cancels nothing
        return 0
    largest = max((float(np.max(np.abs(a))) for a in arguments if np.size(a)), default=0.0)
    return digits_lost(min(largest, 1e4))


def get(name: str) -> Activation:
    """The activation called ``name`` (one of :data:`NAMES`)."""
    return _ACTIVATIONS[choice("activation", name, _ACTIVATIONS)]
