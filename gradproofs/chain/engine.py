"""The chain: one neuron per layer (Nielsen, *Neural Networks and Deep Learning*, ch. 5).

    z_j = w_j·a_(j−1) + b_j,   a_j = f(z_j),   a_0 = x,   j = 1..L

Backpropagation in product form (Nielsen eq. 121–122):

    δ_L = ∂C/∂z_L,   δ_j = f′(z_j)·w_(j+1)·δ_(j+1),   ∂C/∂b_j = δ_j,   ∂C/∂w_j = a_(j−1)·δ_j

so ∂C/∂b_1 = f′(z_1)·∏_(j=2..L) w_j f′(z_j)·∂C/∂a_L. The one recurrence below is
evaluated over three number systems: SymPy expressions (``symbolic_gradients``),
mpmath at high precision (``backward_exact``, the truth numeric checks compare
with) and float64 (``backward``). ``backward_torch`` is independent: autograd
through the network as a user would write it.

Arrays follow the layers: index i holds layer i + 1 (``z[0]`` is z_1, ``a[0]``
is a_1, ``db[0]`` is ∂C/∂b_1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from gradproofs import _validate, compare, devices, frameworks
from gradproofs.compare import MAX_AMPLIFICATION
from gradproofs.activations import costs, engine as activations
from gradproofs.errors import InvalidArgument

__all__ = [
    "ChainGradients", "product_form", "symbols", "symbolic_gradients", "sympy_functions", "nested_cost",
    "mpmath_functions", "ExactGradients", "backward_exact", "forward_amplification", "MAX_AMPLIFICATION",
    "Reference", "reference", "centred_biases", "backward", "log_abs_db", "backward_torch", "backward_jax",
    "backward_tf", "FRAMEWORK_ENGINES"
]


@dataclass(frozen=True)
class ChainGradients:
    """∂C/∂w_j, ∂C/∂b_j and the forward values z_j, a_j, j = 1..L."""

    dw: Any
    db: Any
    z: Any
    a: Any


def product_form(w, b, x, y, f, fprime, output_delta):
    """Forward pass, then δ_j = f′(z_j)·w_(j+1)·δ_(j+1) from δ_L = output_delta, over any number
    system (float, mpmath, SymPy): f, f′ and δ_L are given."""
    z, a = [], []
    previous = x
    for w_j, b_j in zip(w, b):
        z.append(w_j * previous + b_j)
        previous = f(z[-1])
        a.append(previous)
    depth = len(z)
    delta = [None] * depth
    delta[-1] = output_delta(z[-1], a[-1], y)
    for j in range(depth - 2, -1, -1):
        delta[j] = fprime(z[j]) * w[j + 1] * delta[j + 1]
    inputs = [x, *a[:-1]]
    dw = [inputs[j] * delta[j] for j in range(depth)]
    return ChainGradients(dw, delta, z, a)


def _check(w, b, x, y, activation, cost):
    act = activations.get(activation)
    cst = costs.get(cost, activation=activation)
    w = _validate.real_vector("w", w)
    b = _validate.real_vector("b", b, like=("w", w.size))
    x = _validate.real_scalar("x", x)
    y = _validate.real_scalar("y", y)
    if cst.name == "cross_entropy" and not 0.0 <= y <= 1.0:
        raise InvalidArgument(f"y must lie in [0, 1] for the cross_entropy cost, got {y}")
    return w, b, x, y, act, cst


# --- symbolic ---------------------------------------------------------------

def symbols(depth: int):
    """The SymPy symbols (w1..wL, b1..bL, x, y) of a chain of ``depth`` layers."""
    import sympy

    depth = _validate.positive_int("depth", depth)
    w = sympy.symbols(f"w1:{depth + 1}", real=True)
    b = sympy.symbols(f"b1:{depth + 1}", real=True)
    x, y = sympy.symbols("x y", real=True)
    return w, b, x, y


def symbolic_gradients(depth: int, *, activation: str = "sigmoid", cost: str = "quadratic"):
    """(dw, db): lists of SymPy expressions in w1..wL, b1..bL, x, y, built from the product form."""
    act = activations.get(activation)
    cst = costs.get(cost, activation=activation)
    w, b, x, y = symbols(depth)
    result = product_form(w, b, x, y, *sympy_functions(act, cst))
    return list(result.dw), list(result.db)


def sympy_functions(act, cst):
    """(f, f′, δ_L) of :func:`product_form` as SymPy expressions of their arguments."""
    def f(z):
        return act.expr.subs(act.z, z)

    def fprime(z):
        return act.derivative.subs(act.z, z)

    def output_delta(z, a, y):
        return cst.output_delta(z, a, y, fprime)

    return f, fprime, output_delta


def nested_cost(depth: int, *, activation: str = "sigmoid", cost: str = "quadratic"):
    """C as one nested SymPy expression, for plain ``sympy.diff`` to compare against."""
    act = activations.get(activation)
    cst = costs.get(cost, activation=activation)
    w, b, x, y = symbols(depth)
    a = x
    for w_j, b_j in zip(w, b):
        a = act.expr.subs(act.z, w_j * a + b_j)
    return cst.expr(a, y)


# --- exact numeric: the structured form at high precision -------------------

@lru_cache(maxsize=None)
def mpmath_functions(activation: str, cost: str):
    """(f, f′, δ_L) of :func:`product_form` evaluated in mpmath (SymPy's expressions, lambdified)."""
    import sympy

    act = activations.get(activation)
    cst = costs.get(cost, activation=activation)
    f = sympy.lambdify(act.z, act.expr, "mpmath")
    fprime = sympy.lambdify(act.z, act.derivative, "mpmath")

    def output_delta(z, a, y):
        return cst.output_delta(z, a, y, fprime)

    return f, fprime, output_delta


@dataclass(frozen=True)
class ExactGradients(ChainGradients):
    """mpmath values of the gradients, and what measuring a float engine against them needs."""

    parameters: tuple = ()  # (w, b, x, y) as mpmath numbers
    activation: str = "sigmoid"
    cost: str = "quadratic"
    dps: int = 40
    summand: float = 1.0  # S = 1 + max_k (|w_k a_(k−1)| + |b_k|), the size z's roundings scale with


def backward_exact(w, b, x, y, *, activation="sigmoid", cost="quadratic", dps=40) -> ExactGradients:
    """The product form evaluated in mpmath with ``dps`` digits, from SymPy's f and f′."""
    import mpmath

    w, b, x, y, act, cst = _check(w, b, x, y, activation, cost)
    f, fprime, output_delta = mpmath_functions(act.name, cst.name)
    with mpmath.workdps(dps):
        largest_z, previous = 0.0, mpmath.mpf(x)
        for w_j, b_j in zip(w, b):
            z_j = w_j * previous + b_j
            largest_z, previous = max(largest_z, abs(float(z_j))), f(z_j)
    # f′ in the form σ(1−σ) cancels e^(2|z|): carry those digits too (none for relu and identity).
    dps += activations.extra_digits(act, largest_z)
    with mpmath.workdps(dps):
        parameters = ([mpmath.mpf(v) for v in w], [mpmath.mpf(v) for v in b],
                      mpmath.mpf(x), mpmath.mpf(y))
        exact = product_form(*parameters, f, fprime, output_delta)
        inputs = [parameters[2], *exact.a[:-1]]
        summand = 1 + max(abs(w_j * a_j) + abs(b_j)
                          for w_j, a_j, b_j in zip(parameters[0], inputs, parameters[1]))
    return ExactGradients(exact.dw, exact.db, exact.z, exact.a, parameters=parameters,
                          activation=act.name, cost=cst.name, dps=dps, summand=float(summand))


def forward_amplification(w, z, activation: str) -> float:
    """κ = max over i < k of ∏_(m=i+1..k) |w_m·f′(z_(m−1))|, at least 1.

    How much a rounding error made in z_i can grow by z_k (∂z_m/∂z_(m−1) =
    w_m f′(z_(m−1))); the largest product of a contiguous run (Kadane, in logs).
    """
    act = activations.get(activation)
    with np.errstate(divide="ignore"):
        gains = np.log(np.abs(np.asarray(w, dtype=np.float64)[1:])) + act.numpy_log_derivative(
            np.asarray(z, dtype=np.float64)[:-1]
        )
    best = running = 0.0
    for gain in gains:
        running = max(0.0, running + gain)
        best = max(best, running)
    return float(np.exp(min(best, 700.0)))


@dataclass(frozen=True, eq=False)
class Reference(compare.Reference):
    """A chain and one example with its exact gradients: what judging a float engine needs.

    Built by :func:`reference`; ``exact`` (:func:`backward_exact`) is computed
    on first use. The rounding model, per machine epsilon eps (:mod:`gradproofs.formats`): each z_k is
    computed with absolute error ≤ eps·S·k·κ (k layers of rounding, each
    amplified at most κ, :func:`forward_amplification`, relative to the summand
    size S); f′ changes by at most |f″/f′| ≤ 2 relative per unit error in z
    (sigmoid 1, tanh 2); summing over L factors and L roundings of the product
    gives ≤ 2·eps·(L + 1)²·κ·(S + 1) per layer, against the scale of
    :meth:`scales`.

    An engine that forms f′ from the output, s(1 − s) or 1 − t², as torch's
    autograd does, loses up to eps·γ absolute in 1 − s: a relative error of
    4·eps·γ/f′(z_k) in each factor that δ_j contains (k ≥ j).
    """

    w: np.ndarray
    b: np.ndarray
    x: float
    y: float
    activation: str = "sigmoid"
    cost: str = "quadratic"
    dps: int = 40

    FIELDS = ("dw", "db")

    @cached_property
    def exact(self) -> ExactGradients:
        return backward_exact(self.w, self.b, self.x, self.y, activation=self.activation, cost=self.cost,
                              dps=self.dps)

    @cached_property
    def _z(self) -> np.ndarray:
        return np.array([float(v) for v in self.exact.z])

    @property
    def amplification(self) -> float:
        """κ of :func:`forward_amplification` for this example."""
        return forward_amplification(self.w, self._z, self.activation)

    def scales(self) -> dict:
        """{"dw", "db"}: what each entry's rounding error is measured against.

        ``db[j]`` is |δ_j| with the output residual a_L − y replaced by
        |a_L| + |y| + S: the size of what float arithmetic cancels, so the error
        of a near-zero δ_j is judged against what could be known about it.
        ``dw[j]`` is (|a_(j−1)| + S)·``db[j]``: a_(j−1) carries the forward
        error of z_(j−1), of order S, not of order |a_(j−1)|.
        """
        import mpmath

        exact = self.exact
        f, fprime, _ = mpmath_functions(exact.activation, exact.cost)
        cost = costs.get(exact.cost)
        w, b, x, y = exact.parameters
        with mpmath.workdps(exact.dps):
            residual = abs(exact.a[-1]) + abs(y) + exact.summand

            def factor(z):
                return abs(fprime(z))

            def output_scale(z, a, target):
                return abs(cost.output_delta(z, residual, 0, factor))

            scale = product_form(w, b, x, y, f, factor, output_scale)
            inputs = [x, *exact.a[:-1]]
            db = np.array([float(abs(d)) for d in scale.db])  # |δ_j|: product_form keeps the signs of w
            dw = np.array([float((abs(a) + exact.summand) * abs(d)) for a, d in zip(inputs, scale.db)])
        return {"dw": dw, "db": db}

    def rounding_tolerance(self, eps: float, *, derivative_from_output: bool = False) -> dict:
        """{"dw", "db"}: per layer j, a bound on |computed − exact| / scale."""
        depth = self.w.size
        tolerance = np.full(depth, 2.0 * eps * (depth + 1) ** 2 * self.amplification * (self.exact.summand + 1.0))
        if derivative_from_output:
            act = activations.get(self.activation)
            fprime = act.numpy_derivative(self._z)
            with np.errstate(divide="ignore"):
                loss = np.where(fprime > 0, 4.0 * eps * float(act.derivative_bound) / fprime, 0.0)
            if costs.get(self.cost).name == "cross_entropy":
                loss[-1] = 0.0  # δ_L = σ(z_L) − y involves no f′
            tolerance += np.cumsum(loss[::-1])[::-1]
        return {"dw": tolerance, "db": tolerance.copy()}

    def well_conditioned(self, eps: float) -> bool:
        """Whether a float engine with machine epsilon ``eps`` can be held to the exact gradients.

        Not when the chain amplifies a rounding error in z_i more than
        :data:`MAX_AMPLIFICATION`-fold before z_k (an exploding chain is itself
        ill-conditioned), nor when a relu input lies within its forward error of 0,
        the kink where the derivative jumps. Both depend on the inputs alone.
        """
        if self.amplification > MAX_AMPLIFICATION:
            return False
        with np.errstate(over="ignore"):  # past the largest float: ∞
            forward_error = self.rounding_tolerance(eps)["db"][0] * (self.exact.summand + 1)
        return self.activation != "relu" or bool(np.all(np.abs(self._z) > forward_error))


def reference(w, b, x, y, *, activation: str = "sigmoid", cost: str = "quadratic", dps: int = 40) -> Reference:
    """The exact gradients (:func:`backward_exact`) with what judging a float engine needs."""
    w, b, x, y, act, cst = _check(w, b, x, y, activation, cost)
    return Reference(w, b, x, y, act.name, cst.name, _validate.positive_int("dps", dps))


def centred_biases(w, x, *, activation: str = "sigmoid") -> np.ndarray:
    """Biases making every z_j = 0: b_1 = −w_1·x, b_j = −w_j·f(0) (exact in float64)."""
    act = activations.get(activation)
    w = _validate.real_vector("w", w)
    x = _validate.real_scalar("x", x)
    inputs = np.full(w.size, float(act.numpy(0.0)))
    inputs[0] = x
    return -(w * inputs)


# --- float64 reference ------------------------------------------------------

def backward(w, b, x, y, *, activation: str = "sigmoid", cost: str = "quadratic") -> ChainGradients:
    """∂C/∂w_j and ∂C/∂b_j in NumPy float64 (the product form, hand-written f′)."""
    w, b, x, y, act, cst = _check(w, b, x, y, activation, cost)

    def output_delta(z, a, target):
        return cst.output_delta(z, a, target, act.numpy_derivative)

    with np.errstate(over="ignore", under="ignore"):
        result = product_form(w, b, x, y, act.numpy, act.numpy_derivative, output_delta)
    return ChainGradients(*(np.array(v, dtype=np.float64) for v in
                            (result.dw, result.db, result.z, result.a)))


def log_abs_db(w, b, x, y, *, activation: str = "sigmoid", cost: str = "quadratic") -> np.ndarray:
    """ln|∂C/∂b_j| for every j, as a sum of logs: finite where float64 gives 0 or inf.

    ln|δ_j| = ln|δ_L| + Σ_(k=j..L−1) [ln f′(z_k) + ln|w_(k+1)|]; −inf only where
    the gradient is exactly 0 (a relu factor, a zero weight, a_L = y).
    """
    w, b, x, y, act, cst = _check(w, b, x, y, activation, cost)
    z = np.empty_like(w)
    previous = x
    for j in range(w.size):
        z[j] = w[j] * previous + b[j]
        previous = float(act.numpy(z[j]))
        if not np.isfinite(z[j]):
            raise InvalidArgument(f"the forward pass overflows float64 at layer {j + 1} (z = {z[j]})")
    a_last = previous
    with np.errstate(divide="ignore"):
        log_residual = np.log(np.abs(a_last - y))
        log_output = log_residual if cst.name == "cross_entropy" else (
            log_residual + act.numpy_log_derivative(z[-1]))
        factors = act.numpy_log_derivative(z[:-1]) + np.log(np.abs(w[1:]))
    tail = np.concatenate([np.cumsum(factors[::-1])[::-1], [0.0]])
    return log_output + tail


# --- torch -------------------------------------------------------------------

def backward_torch(w, b, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                   device: str = "cpu", dtype=None) -> ChainGradients:
    """The same gradients through torch autograd, as tensors on ``device``.

    The network is written as a user would: ``w[j] * a + b[j]``, ``torch.sigmoid``,
    and ``binary_cross_entropy_with_logits`` for the cross-entropy cost.
    """
    w, b, x, y, act, cst = _check(w, b, x, y, activation, cost)
    torch, tensor = devices.tensors(device, dtype)

    wt, bt = tensor(w, True), tensor(b, True)
    target = tensor(y)
    a = tensor(x)
    zs, as_ = [], []
    for j in range(w.size):
        zs.append(wt[j] * a + bt[j])
        a = act.torch(zs[-1])
        as_.append(a)
    loss = cst.torch(zs[-1], a, target)
    dw, db = torch.autograd.grad(loss, (wt, bt))
    return ChainGradients(dw, db, torch.stack(zs).detach(), torch.stack(as_).detach())


# --- JAX and TensorFlow (where installed) -----------------------------------------

def backward_jax(w, b, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                 dtype="float64") -> ChainGradients:
    """The same gradients through ``jax.grad`` on the CPU, as NumPy arrays of the dtype it ran in
    (float64 or float32).

    The network is a pure function of its parameters, a list of (w_j, b_j) per
    layer as JAX users keep them, written ``w_j * a + b_j`` with
    ``jax.nn.sigmoid`` and the cross-entropy from the logits; z and a come back
    as its auxiliary output.
    """
    w, b, x, y, act, cst = _check(w, b, x, y, activation, cost)
    dtype = frameworks.float_dtype(dtype)
    with frameworks.jax_cpu() as jax:
        jnp = jax.numpy

        def cost_of(layers):
            a, zs, as_ = jnp.asarray(x, dtype), [], []
            for w_j, b_j in layers:
                zs.append(w_j * a + b_j)
                a = act.jax(zs[-1])
                as_.append(a)
            return cst.jax(zs[-1], a, jnp.asarray(y, dtype)), (zs, as_)

        layers = [(jnp.asarray(w_j, dtype), jnp.asarray(b_j, dtype)) for w_j, b_j in zip(w, b)]
        grads, (z, a) = jax.grad(cost_of, has_aux=True)(layers)
    dw, db = zip(*grads)
    return ChainGradients(*(np.array(values) for values in (dw, db, z, a)))


def backward_tf(w, b, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                dtype="float64") -> ChainGradients:
    """The same gradients through ``tf.GradientTape`` on the CPU, as NumPy arrays of the dtype it ran in
    (float64 or float32).

    The parameters are ``tf.Variable``s and the network is written as a
    TensorFlow user would: ``w[j] * a + b[j]``, ``tf.nn.sigmoid``,
    ``tf.nn.sigmoid_cross_entropy_with_logits`` for the cross-entropy cost.
    """
    w, b, x, y, act, cst = _check(w, b, x, y, activation, cost)
    dtype = frameworks.float_dtype(dtype)
    with frameworks.tensorflow_cpu() as tf:
        wt, bt = tf.Variable(w.astype(dtype)), tf.Variable(b.astype(dtype))
        with tf.GradientTape() as tape:
            a, zs, as_ = tf.constant(x, dtype), [], []
            for j in range(w.size):
                zs.append(wt[j] * a + bt[j])
                a = act.tensorflow(zs[-1])
                as_.append(a)
            loss = cst.tensorflow(zs[-1], a, tf.constant(y, dtype))
        dw, db = tape.gradient(loss, [wt, bt])
    return ChainGradients(dw.numpy(), db.numpy(), np.array(zs), np.array(as_))


FRAMEWORK_ENGINES = {"jax": backward_jax, "tensorflow": backward_tf}  # by gradproofs.frameworks.NAMES
