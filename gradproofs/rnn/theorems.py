"""Recurrent networks: BPTT, Pascanu's vanishing and exploding conditions, the cliff, the LSTM."""

from __future__ import annotations

from functools import lru_cache, partial

import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

from gradproofs import devices, drawing, frameworks, symbolic
from gradproofs.derivation import Derivation
from gradproofs.theorem import Evidence, Family, Theorem, family, register
from gradproofs.compare import Agreement, to_numpy
from gradproofs.errors import Mismatch
from gradproofs.activations import engine as activations
from gradproofs.rnn import cliff, engine as rnn
from gradproofs.formats import FORMATS

__all__ = ["FAMILY", "EPS64", "EPS32", "PASCANU", "SMOOTH", "CLIFF_PUBLISHED", "CLIFF_OFFSETS"]

FAMILY = family(Family(
    "rnn",
    "Recurrent networks",
    "The Elman network $h_t = f(W_x x_t + W_h h_{t-1} + b)$ applies the same $W_h$ at every "
    "step, so backpropagation through time multiplies the error by $\\operatorname{diag}(f'(a_s))\\,W_h$ "
    "once per step back: the product vanishes or explodes geometrically in the distance $t - k$. "
    "Pascanu, Mikolov and Bengio (2013) turned that into a sufficient condition for vanishing and a "
    "necessary one for exploding; the LSTM's cell path replaces the product by the forget gates.",
))

EPS64 = FORMATS["float64"].eps
EPS32 = FORMATS["float32"].eps
PASCANU = "Pascanu, Mikolov & Bengio (2013), On the difficulty of training recurrent neural networks"
SMOOTH = ("tanh", "sigmoid")


def _draw_problem(data, *, activation=None, max_steps=6, max_batch=3, max_width=4, spectral_norm=None):
    """An activation and an RNN problem (:class:`gradproofs.rnn.engine.Sequence`)."""
    if activation is None:
        activation = data.draw(st.sampled_from(activations.NAMES), label="activation")
    steps = data.draw(st.integers(1, max_steps), label="T")
    batch = data.draw(st.integers(1, max_batch), label="B")
    inputs = data.draw(st.integers(1, max_width), label="I")
    hidden = data.draw(st.integers(1, max_width), label="H")
    real = st.floats(-2, 2, allow_subnormal=False)
    x = data.draw(hnp.arrays(np.float64, (steps, batch, inputs), elements=real), label="x")
    h0 = data.draw(hnp.arrays(np.float64, (batch, hidden), elements=real), label="h0")
    W_x = data.draw(hnp.arrays(np.float64, (hidden, inputs), elements=st.floats(-1, 1)), label="W_x")
    if spectral_norm is None:
        W_h = data.draw(hnp.arrays(np.float64, (hidden, hidden), elements=st.floats(-1, 1)), label="W_h")
    else:
        W_h = data.draw(drawing.weight_matrices((hidden, hidden), spectral_norm=spectral_norm), label="W_h")
    b = data.draw(hnp.arrays(np.float64, hidden, elements=real), label="b")
    dL_dh = data.draw(hnp.arrays(np.float64, (steps, batch, hidden), elements=real), label="dL_dh")
    return activation, rnn.Sequence(x, h0, W_x, W_h, b, dL_dh)


# --- BPTT and the Jacobian product -------------------------------------------------

def _symbolic_rnn(steps, hidden, inputs):
    import sympy

    def symbols(name, *shape):
        values = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            values[index] = sympy.Symbol(f"{name}_{{{''.join(str(i + 1) for i in index)}}}", real=True)
        return values

    return (symbols("x", steps, 1, inputs), symbols("h0", 1, hidden), symbols("Wx", hidden, inputs),
            symbols("Wh", hidden, hidden), symbols("b", hidden), symbols("g", steps, 1, hidden))


def _derive_bptt() -> Derivation:
    import sympy

    d = Derivation()
    f, fprime = symbolic.undefined("f")
    elementwise_f, elementwise_fprime = np.frompyfunc(f, 1, 1), np.frompyfunc(fprime, 1, 1)
    d.say("Let $f$ be any differentiable activation (an undefined SymPy function) and "
          "$L = \\sum_t \\langle g_t, h_t\\rangle$ for symbolic $g_t$, so that "
          "$\\partial L / \\partial h_t = g_t$ directly. `rnn.bptt`'s recurrence, run on arrays of "
          "SymPy symbols, must equal plain `sympy.diff` of the unrolled network, for every parameter, "
          "$h_0$ and every input $x_t$.")
    for steps, hidden, inputs in ((1, 1, 1), (2, 2, 1), (3, 2, 1), (4, 1, 2), (3, 2, 2)):
        x, h0, W_x, W_h, b, g = _symbolic_rnn(steps, hidden, inputs)
        result = rnn.recurrence(x, h0, W_x, W_h, b, g, elementwise_f, elementwise_fprime)
        loss = sum((g * result.states[1:]).ravel())
        pairs = [(p, q) for params, grads in ((W_x, result.W_x), (W_h, result.W_h), (b, result.b),
                                             (h0, result.h0), (x, result.x))
                 for p, q in zip(params.ravel(), grads.ravel())]
        d.holds(f"T = {steps}, H = {hidden}, I = {inputs}: all {len(pairs)} partial derivatives agree.",
                all(symbolic.agree(sympy.diff(loss, p), q) for p, q in pairs))
    d.say("The Jacobian across steps is the product of one factor per step "
          "(eq. 5): $\\partial h_t / \\partial h_{t-1} = \\operatorname{diag}(f'(a_t))\\,W_h$.",
          r"\frac{\partial h_t}{\partial h_k} = \prod_{s=k+1}^{t} \operatorname{diag}(f'(a_s))\,W_h")
    u, hp = sympy.symbols("u_1:3", real=True), sympy.symbols("h_1:3", real=True)
    Wh = sympy.Matrix(2, 2, lambda i, j: sympy.Symbol(f"W_{{{i + 1}{j + 1}}}", real=True))
    pre_activations = [sum(Wh[i, j] * hp[j] for j in range(2)) + u[i] for i in range(2)]
    step = sympy.Matrix([f(pre) for pre in pre_activations])
    factor = sympy.MatMul(sympy.ImmutableMatrix(sympy.diag(*[fprime(pre) for pre in pre_activations])),
                          sympy.ImmutableMatrix(Wh), evaluate=False)
    d.equal("One step, $h_t = f(W_h h_{t-1} + u)$ with $u = W_x x_t + b$, differentiated by SymPy "
            "(two units, pre-activations $a_i = \\sum_j W_{ij} h_j + u_i$), is that factor:",
            step.jacobian(hp), factor, simplify=symbolic.canonical,
            label=r"\frac{\partial h_t}{\partial h_{t-1}}",
            names={pre: sympy.Symbol(f"a_{i + 1}") for i, pre in enumerate(pre_activations)})
    d.conclude(r"\frac{\partial h_t}{\partial h_k} = \prod_{s=k+1}^{t}\operatorname{diag}(f'(a_s))\,W_h,"
               r"\qquad \frac{\partial L}{\partial W_h} = \sum_t \delta_t\, h_{t-1}^\top,\ "
               r"\delta_t = \Big(\frac{\partial L}{\partial h_t} + W_h^\top \delta_{t+1}\Big)\odot f'(a_t)")
    return d


def _check_bptt(data, device: str) -> Evidence:
    torch = devices.torch()
    activation, problem = _draw_problem(data)
    reference = rnn.reference(*problem, activation=activation)
    assume(reference.well_conditioned(EPS64))  # the inputs' conditioning: amplification, relu kinks
    agreements = [reference.assert_matches("numpy", rnn.bptt(*problem, activation=activation),
                                           precision="float64", derivative_from_output=False)]
    engines = [("torch loop", partial(rnn.bptt_torch, device=device))]
    if activation in rnn.NN_RNN_ACTIVATIONS:
        engines.append(("torch.nn.RNN", partial(rnn.bptt_nn_rnn, device=device)))
    engines += frameworks.engines(rnn.FRAMEWORK_ENGINES, device)
    dtypes = ["float64"] + (["float32"] if reference.well_conditioned(EPS32) else [])
    for name, engine in engines:
        for dtype in dtypes:
            # cuDNN multiplies float32 matrices in TF32 by default: float16's rounding in float32's range
            tf32 = name == "torch.nn.RNN" and device == "cuda" and dtype == "float32" \
                and torch.backends.cudnn.allow_tf32
            result = engine(*problem, activation=activation, dtype=dtype)
            agreements.append(reference.assert_matches(f"{name} {dtype} ({device})", result,
                                                       precision="tf32" if tf32 else dtype,
                                                       derivative_from_output=True))
    return Evidence.agreement(Agreement.worst(agreements))


register(Theorem(
    id="rnn-bptt",
    family=FAMILY.id,
    title="Backpropagation through time, and the Jacobian as a product",
    statement=r"BPTT's $\delta_t = (\partial L/\partial h_t + W_h^\top \delta_{t+1}) \odot f'(a_t)$ gives the "
              r"gradients of the unrolled network exactly; $\partial h_t/\partial h_{t-1} = "
              r"\operatorname{diag}(f'(a_t))\,W_h$, so $\partial h_t/\partial h_k$ is the product of $t - k$ "
              "such factors. NumPy, a hand-written torch loop and `torch.nn.RNN` (and, where installed, the "
              "same loop through `jax.vjp` and `tf.GradientTape`) agree with the 40-digit evaluation.",
    latex=r"\frac{\partial h_t}{\partial h_k} = \prod_{s=k+1}^{t}\operatorname{diag}(f'(a_s))\,W_h",
    source=PASCANU + ", §2, eq. 3–5",
    kind="exact",
    engines=("sympy", "mpmath", "numpy", "torch", "torch.nn.RNN"),
    derive=_derive_bptt,
    check=_check_bptt,
    optional_engines=frameworks.NAMES,
))


# --- Pascanu's bound and conditions --------------------------------------------------

def _derive_jacobian_bound() -> Derivation:
    import sympy

    d = Derivation()
    d.say("Each factor of the product has norm at most $\\gamma\\,\\sigma_{\\max}(W_h)$: "
          "$\\|\\operatorname{diag}(f'(a_s))\\|_2 = \\max_i |f'(a_{s,i})| \\le \\gamma$ "
          "(singular values of a diagonal matrix, see the mlp family) and the spectral norm is "
          "submultiplicative.",
          r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \prod_{s=k+1}^{t}\gamma\,\sigma_{\max}(W_h)"
          r" = (\gamma\,\sigma_{\max}(W_h))^{t-k}")
    for name in SMOOTH:
        d.show(f"$\\gamma$ for {name} (derived in the activations family):",
               activations.get(name).derivative_bound, lhs=r"\gamma_{\text{" + name + "}}")
    n = sympy.Symbol("n", positive=True, integer=True)
    d.holds(r"Sufficient for vanishing: if $\sigma_{\max}(W_h) < 1/\gamma$ then $\eta = \gamma\,\sigma_{\max} < 1$ "
            r"and $\eta^n \to 0$ geometrically (SymPy's limit for $\eta = 9/10$).", sympy.limit(sympy.Rational(9, 10) ** n, n, sympy.oo) == 0,
            r"\sigma_{\max}(W_h) < 1/\gamma \implies \Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 "
            r"\le \eta^{t-k} \to 0")
    d.say("Necessary for exploding (the contrapositive): a Jacobian of norm above 1 needs "
          r"$\sigma_{\max}(W_h) > 1/\gamma$. The converse is false — a large $W_h$ need not explode:")
    problem = (np.zeros((5, 1, 1)), np.zeros((1, 2)), np.zeros((2, 1)), 3 * np.eye(2), np.full(2, 10.0))
    saturated = float(np.linalg.norm(rnn.jacobian(*problem, 5, 0, activation="tanh")[0], 2))
    mantissa, exponent = f"{saturated:.2e}".split("e")
    d.holds(r"$W_h = 3I$ ($\sigma_{\max} = 3 > 1/\gamma = 1$) with a bias of 10 saturates tanh: over 5 steps "
            rf"$\|\partial h_5/\partial h_0\|_2 = {mantissa} \times 10^{{{int(exponent)}}}$, far below 1.",
            saturated < 1e-20)
    d.conclude(r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le (\gamma\,\sigma_{\max}(W_h))^{t-k};"
               r"\quad \sigma_{\max} < \tfrac1\gamma \Rightarrow \text{vanishing};\quad "
               r"\text{exploding} \Rightarrow \sigma_{\max} > \tfrac1\gamma")
    return d


def _check_jacobian_bound(data, device: str) -> Evidence:
    activation = data.draw(st.sampled_from(SMOOTH), label="activation")
    gamma = float(activations.get(activation).derivative_bound)
    sigma = data.draw(st.floats(0.05, 3.0 / gamma), label="sigma_max(W_h)")
    _, problem = _draw_problem(data, activation=activation, max_steps=40, spectral_norm=sigma)
    steps, hidden = problem.x.shape[0], problem.W_h.shape[0]
    t = data.draw(st.integers(0, steps), label="t")
    k = data.draw(st.integers(0, t), label="k")
    norms = np.array([np.linalg.norm(J, 2) for J in rnn.jacobian(*problem[:-1], t, k, activation=activation)])
    bound = (gamma * sigma) ** (t - k)
    # t − k products of H × H matrices, each rounding relative to the product of norms,
    # and the SVD's few ulps: 4·(t − k + 1)·(H + 2)·eps relative.
    rounding = 4 * EPS64 * (t - k + 1) * (hidden + 2)
    if np.any(norms > bound * (1 + rounding)):
        raise Mismatch(f"‖∂h_{t}/∂h_{k}‖₂ = {norms.max()!r} exceeds (γσ_max)^(t−k) = {bound!r} "
                       f"({activation}, σ_max = {sigma})")
    if norms.max() > 1 + rounding and not gamma * sigma > 1:
        raise Mismatch(f"the Jacobian exploded (‖·‖₂ = {norms.max()!r}) with γσ_max = {gamma * sigma} ≤ 1")
    # When γσ_max ≤ 1 the bound is at most 1: the first check binds before the second.
    return Evidence.bound(norms.max(), bound, allowed=bound * (1 + rounding))


register(Theorem(
    id="pascanu-jacobian-bound",
    family=FAMILY.id,
    title="Pascanu's bound: vanishing is sufficient, exploding only necessary",
    statement=r"$\|\partial h_t/\partial h_k\|_2 \le (\gamma\,\sigma_{\max}(W_h))^{t-k}$ for every input (tanh, "
              r"sigmoid). Hence $\sigma_{\max}(W_h) < 1/\gamma$ is sufficient for the gradient to vanish "
              r"geometrically, and $\sigma_{\max}(W_h) > 1/\gamma$ is necessary for it to explode — not "
              r"sufficient: a large $W_h$ need not explode.",
    latex=r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le (\gamma\,\sigma_{\max}(W_h))^{t-k}",
    source=PASCANU + ", §2.1, eq. 6–7",
    kind="bound",
    engines=("sympy", "numpy"),
    derive=_derive_jacobian_bound,
    check=_check_jacobian_bound,
    uses_torch=False,
))


# --- the zero state and orthogonal W_h ----------------------------------------------

def _derive_zero_state() -> Derivation:
    import sympy

    d = Derivation()
    tanh = activations.get("tanh")
    d.holds("At the zero state ($x = 0$, $b = 0$, $h_0 = 0$) every pre-activation is 0, and $\\tanh(0) = 0$ "
            "keeps it there; $\\tanh'(0) = 1$.",
            tanh.expr.subs(tanh.z, 0) == 0 and tanh.derivative.subs(tanh.z, 0) == 1)
    d.say(r"So every factor $\operatorname{diag}(f'(a_s))\,W_h$ is $W_h$ itself:",
          r"\frac{\partial h_t}{\partial h_k} = W_h^{\,t-k}")
    lam, theta = sympy.symbols("lambda theta", real=True)
    Q = sympy.Matrix([[sympy.cos(theta), -sympy.sin(theta)], [sympy.sin(theta), sympy.cos(theta)]])
    power = (lam * Q) ** 3
    d.equal(r"With $W_h = \lambda Q$, $Q$ orthogonal, $(\lambda Q)^n = \lambda^n Q^n$ and "
            r"$(Q^n)^\top Q^n = I$ (shown for $n = 3$, $Q$ a rotation by $\theta$):",
            (power.T * power).applyfunc(sympy.simplify), lam ** 6 * sympy.eye(2),
            label=r"\big((\lambda Q)^3\big)^\top (\lambda Q)^3")
    d.say(r"so every singular value of $W_h^n$ is $|\lambda|^n$: the gradient explodes exactly when $|\lambda| > 1$ "
          r"and vanishes exactly when $|\lambda| < 1$.")
    d.conclude(r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 = |\lambda|^{t-k}\ \text{ at the zero state with } W_h = \lambda Q")
    return d


def _check_zero_state(data, device: str) -> Evidence:
    hidden = data.draw(st.integers(1, 8), label="H")
    steps = data.draw(st.integers(1, 40), label="T")
    lam = data.draw(st.floats(0.5, 1.5), label="lambda") * data.draw(st.sampled_from([-1.0, 1.0]), label="sign")
    Q = data.draw(drawing.weight_matrices((hidden, hidden), orthogonal=True), label="Q")
    problem = (np.zeros((steps, 1, 1)), np.zeros((1, hidden)), np.zeros((hidden, 1)), lam * Q, np.zeros(hidden))
    k = data.draw(st.integers(0, steps), label="k")
    J = rnn.jacobian(*problem, steps, k, activation="tanh")[0]
    power = np.linalg.matrix_power(lam * Q, steps - k)
    # Two ways of forming the same power, each n products of H × H matrices: 4·(n + 1)·(H + 2)·eps
    # relative to |λ|ⁿ (Q orthogonal to within its QR's rounding).
    rounding = 4 * EPS64 * (steps - k + 1) * (hidden + 2)
    scale = abs(lam) ** (steps - k)
    error = float(np.abs(J - power).max()) / scale
    singular = np.linalg.svd(J, compute_uv=False)
    if error > rounding or np.abs(singular / scale - 1).max() > rounding:
        raise Mismatch(f"at the zero state ∂h_T/∂h_k differs from W_h^(T−k) by {error:.3g} of |λ|^(T−k), or its "
                       f"singular values {singular!r} are not |λ|^(T−k) = {scale!r}")
    return Evidence.within(error, rounding, "of |λ|^(T−k)").worse(
        Evidence.within(np.abs(singular / scale - 1).max(), rounding, "of |λ|^(T−k)"))


register(Theorem(
    id="rnn-zero-state-orthogonal",
    family=FAMILY.id,
    title=r"At the zero state, an orthogonal $W_h = \lambda Q$ explodes exactly when $|\lambda| > 1$",
    statement=r"At the zero state ($x = 0$, $b = 0$, $h_0 = 0$, $f(0) = 0$, $f'(0) = 1$ as for tanh) the Jacobian "
              r"$\partial h_t/\partial h_k$ is exactly $W_h^{t-k}$; with $W_h = \lambda Q$, $Q$ orthogonal, its norm "
              r"is exactly $|\lambda|^{t-k}$: it explodes if and only if $|\lambda| > 1$.",
    latex=r"\frac{\partial h_t}{\partial h_k} = (\lambda Q)^{t-k},\quad "
          r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 = |\lambda|^{t-k}",
    source=PASCANU + ", §2.1",
    kind="exact",
    engines=("sympy", "numpy"),
    derive=_derive_zero_state,
    check=_check_zero_state,
    uses_torch=False,
))


# --- the linear sandwich -----------------------------------------------------------

def _derive_sandwich() -> Derivation:
    import sympy

    d = Derivation()
    d.say(r"For a linear RNN the Jacobian over $l$ steps is $W^l$. If $Wv = \mu v$ with $|\mu| = \rho(W)$, then "
          r"$W^l v = \mu^l v$, so $\|W^l\|_2 \ge |\mu|^l$; submultiplicativity gives the upper side.",
          r"\rho(W)^l \le \|W^l\|_2 \le \|W\|_2^l")
    W = sympy.Matrix([[0, 2], [sympy.Rational(1, 8), 0]])
    rho = max(abs(e) for e in W.eigenvals())
    d.show(r"The two can be far apart: for this non-normal $W$, $\rho(W)$ is", rho,
           lhs=rf"W = {sympy.latex(W)},\quad \rho(W)")
    d.holds(r"while $\|W\|_2 = 2$ and $\|W^2\|_2 = 1/4 = \rho(W)^2$: both inequalities hold, the upper one "
            "loosely.",
            max(sympy.sqrt(e) for e in (W.T * W).eigenvals()) == 2
            and max(sympy.sqrt(e) for e in ((W ** 2).T * W ** 2).eigenvals()) == rho ** 2)
    d.conclude(r"\rho(W)^l \le \|W^l\|_2 \le \|W\|_2^l")
    return d


def _check_sandwich(data, device: str) -> Evidence:
    hidden = data.draw(st.integers(1, 6), label="H")
    W = data.draw(hnp.arrays(np.float64, (hidden, hidden), elements=st.floats(-2, 2)), label="W")
    power = data.draw(st.integers(1, 20), label="l")
    middle = np.linalg.norm(np.linalg.matrix_power(W, power), 2)
    top = np.linalg.norm(W, 2) ** power
    eigenvalues, vectors = np.linalg.eig(W)
    rho = float(np.abs(eigenvalues).max())
    # Bauer–Fike: a computed eigenvalue is within cond(V)·‖ΔW‖ ≤ cond(V)·4H·eps·‖W‖₂ of a true one
    # (cond(V) = ∞ for a defective W makes the lower check vacuous, as it must be).
    with np.errstate(over="ignore", invalid="ignore"):
        shift = np.linalg.cond(vectors) * 4 * hidden * EPS64 * np.linalg.norm(W, 2)
    lower = max(rho - shift, 0.0) ** power if np.isfinite(shift) else 0.0
    rounding = 4 * EPS64 * (power + 1) * (hidden + 2)  # l products of H × H matrices, and an SVD
    if lower > middle * (1 + rounding) or middle > top * (1 + rounding) + 1e-300:
        raise Mismatch(f"ρ(W)^l = {rho ** power!r}, ‖W^l‖₂ = {middle!r}, ‖W‖₂^l = {top!r} (l = {power})")
    return Evidence.bound(lower, middle, allowed=middle * (1 + rounding)).worse(
        Evidence.bound(middle, top, allowed=top * (1 + rounding) + 1e-300))


register(Theorem(
    id="linear-rnn-sandwich",
    family=FAMILY.id,
    title=r"A linear RNN's Jacobian lies between $\rho(W)^l$ and $\|W\|_2^l$",
    statement=r"For a linear RNN $h_t = W h_{t-1} + \dots$, the Jacobian over $l$ steps is $W^l$ and "
              r"$\rho(W)^l \le \|W^l\|_2 \le \|W\|_2^l$: the spectral radius decides long-run explosion, the "
              "spectral norm bounds it.",
    latex=r"\rho(W)^l \le \|W^l\|_2 \le \|W\|_2^l",
    source=PASCANU + ", §2.1",
    kind="bound",
    engines=("sympy", "numpy"),
    derive=_derive_sandwich,
    check=_check_sandwich,
    uses_torch=False,
))


# --- the cliff ------------------------------------------------------------------------

CLIFF_PUBLISHED = {"interval": (-2.65561, -2.34439), "lambda": 1.175019, "lambda^50": 3178.60,
                   "dx/db": 18155.8, "norms": ("779", "58.6", "0.19")}
CLIFF_OFFSETS = (0.0, 1e-4, 1e-2)


@lru_cache(maxsize=None)
def _cliff_derivation() -> Derivation:
    import sympy

    d = Derivation()
    sigmoid = activations.get("sigmoid")
    x, b, r = sympy.symbols("x b r", real=True)
    w = 5
    sigma = sigmoid.expr.subs(sigmoid.z, x)
    d.say("The single unit $x_t = w\\sigma(x_{t-1}) + b$, $w = 5$. Its fixed points solve "
          "$x = w\\sigma(x) + b$; two of them are born or die where the map is tangent to the "
          "diagonal, $w\\sigma'(x) = 1$, i.e. $u(1-u) = 1/w$ for $u = \\sigma(x)$ — real only when "
          "$w \\ge 4$, so bistability needs $w > 4$ (as in Nielsen's window).")
    root = sympy.sqrt(1 - sympy.Rational(4, w))
    ends = sorted(float((sympy.log(u / (1 - u)) - w * u).evalf(30)) for u in ((1 - root) / 2, (1 + root) / 2))
    d.say("The bistable interval of $b$: $b = x - w\\sigma(x)$ at the two tangent points.",
          rf"b \in {sympy.latex(sympy.Interval.open(*[sympy.Float(e, 10) for e in ends]))}")
    x0 = sympy.Rational(1, 2)
    b_star = x0 - w * sigma.subs(x, x0)
    lam = (w * sigmoid.derivative.subs(sigmoid.z, x0)).evalf(30)
    d.show("At $b^* = 0.5 - 5\\sigma(0.5)$, $x_0 = 0.5$ is a fixed point, unstable with slope", lam,
           lhs=r"\lambda = w\sigma'(0.5)")
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    n = sympy.Symbol("n", integer=True, positive=True)
    L = sympy.Symbol("lambda", positive=True)
    series = sympy.summation(L ** k, (k, 0, n - 1))  # Piecewise: n where λ = 1, else geometric
    d.equal("Along the fixed point every step multiplies by $\\lambda$, so $\\partial x_n/\\partial x_0 = \\lambda^n$ "
            "and $\\partial x_n/\\partial b = \\sum_{k<n}\\lambda^k$, for $\\lambda \\ne 1$:",
            series.args[1][0], (L ** n - 1) / (L - 1), label=r"\sum_{k=0}^{n-1}\lambda^k")
    norms = [float(cliff.gradient_exact(float(b_star.evalf(30)) + offset).norm) for offset in CLIFF_OFFSETS]
    d.say("$E_{50} = (\\sigma(x_{50}) - 0.7)^2$; its gradient in $(w, b)$, carried forward in 40-digit "
          "arithmetic at $b^*$, $b^* + 10^{-4}$ and $b^* + 10^{-2}$: the cliff.",
          r"\|\nabla E_{50}\| = " + ",\\ ".join(f"{v:.6g}" for v in norms))
    d.agrees_with("Pascanu et al. 2013, §2.3, as recomputed independently",
                  *zip(("b_-", "b_+"), ends, CLIFF_PUBLISHED["interval"]), (r"\lambda", lam, CLIFF_PUBLISHED["lambda"]),
                  (r"\lambda^{50}", lam ** 50, CLIFF_PUBLISHED["lambda^50"]),
                  (r"\frac{\lambda^{50} - 1}{\lambda - 1}", (lam ** 50 - 1) / (lam - 1), CLIFF_PUBLISHED["dx/db"]),
                  *zip((r"\|\nabla E_{50}(b^*)\|", r"\|\nabla E_{50}(b^* + 10^{-4})\|",
                        r"\|\nabla E_{50}(b^* + 10^{-2})\|"), norms, CLIFF_PUBLISHED["norms"]))
    d.conclude(r"\|\nabla E_{50}\| \approx 779 \text{ at } b^*,\ 58.6 \text{ at } b^* + 10^{-4},\ "
               r"0.19 \text{ at } b^* + 10^{-2}")
    return d


def _check_cliff(data, device: str) -> Evidence:
    offset = data.draw(st.floats(-0.05, 0.05), label="b − b*")
    w = data.draw(st.floats(4.5, 6.0), label="w")
    x0 = data.draw(st.floats(0.0, 1.0), label="x_0")
    b = cliff.unstable_bias(w=w, x0=x0) + offset
    exact = cliff.gradient_exact(b, w=w, x0=x0)
    # Each of the 50 steps rounds a few times; an error grows by at most |w σ′| ≤ w/4 per step,
    # so relative to the size of the gradient: 16·eps·T²·(w/4)^T.
    tolerance = 16 * EPS64 * cliff.T ** 2 * (w / 4) ** cliff.T
    evidence = None
    for engine, result in (("numpy", cliff.gradient(b, w=w, x0=x0)),
                           (f"torch ({device})", cliff.gradient_torch(b, w=w, x0=x0, device=device))):
        for field in ("dE_dw", "dE_db", "dx_dx0", "dx_db"):
            got, expected = getattr(result, field), float(getattr(exact, field))
            scale = max(abs(float(exact.dx_db)), 1.0)
            if abs(got - expected) > tolerance * scale:
                raise Mismatch(f"{engine} {field} = {got!r}, exact {expected!r} (w = {w}, b = {b}, x₀ = {x0}; "
                               f"tolerance {tolerance:.3g} of {scale:.3g})")
            evidence = Evidence.within(abs(got - expected) / scale, tolerance, "of the scale").worse(evidence)
    return evidence


register(Theorem(
    id="rnn-cliff",
    family=FAMILY.id,
    title="The cliff: a single recurrent unit with $w = 5$",
    statement=r"For $x_t = w\,\sigma(x_{t-1}) + b$ with $w = 5$, the map is bistable for "
              r"$b \in (-2.65561, -2.34439)$. At $b^* = 0.5 - 5\sigma(0.5)$, $x_0 = 0.5$ is the unstable fixed "
              r"point with $\lambda = 5\sigma'(0.5) \approx 1.175019$: $\partial x_{50}/\partial x_0 = \lambda^{50} "
              r"\approx 3178.60$ and $\partial x_{50}/\partial b = (\lambda^{50} - 1)/(\lambda - 1) \approx 18155.8$. "
              r"With $E_{50} = (\sigma(x_{50}) - 0.7)^2$ the gradient norm is $\approx 779$ at $b^*$, $\approx 58.6$ "
              r"at $b^* + 10^{-4}$ and $\approx 0.19$ at $b^* + 10^{-2}$: a cliff in the error surface.",
    latex=r"\frac{\partial x_{50}}{\partial b} = \frac{\lambda^{50} - 1}{\lambda - 1} \approx 18155.8,"
          r"\quad \|\nabla E_{50}\|: 779 \to 58.6 \to 0.19",
    source=PASCANU + ", §2.2 (after Doya 1993) and §2.3, eq. 8",
    kind="exact",
    engines=("sympy", "mpmath", "numpy", "torch"),
    derive=_cliff_derivation,
    check=_check_cliff,
))


# --- the LSTM cell path -------------------------------------------------------------------

def _derive_lstm() -> Derivation:
    import sympy

    d = Derivation()
    c, f, i, g = sympy.symbols("c_{t-1} f_t i_t g_t", real=True)
    d.equal("With $h_{t-1}$ and $x_t$ held fixed no gate depends on $c_{t-1}$, so one unit of "
            "$c_t = f_t c_{t-1} + i_t g_t$ gives", sympy.Derivative(f * c + i * g, c), f,
            simplify=lambda e: sympy.simplify(e.doit()), label=r"\frac{\partial c_t}{\partial c_{t-1}}")
    d.say("and the cell Jacobian is diagonal:", r"\frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t)")
    d.say("Without a forget gate ($f \\equiv 1$, the 1997 cell) and with no gate recurrence "
          "($W_{hh} = 0$), every step multiplies the error on the cell by exactly 1 and adds 0: "
          "the error reaching $c_T$ arrives at $c_0$ unchanged — the constant error carousel.")
    d.conclude(r"\frac{\partial c_t}{\partial c_{t-1}}\Big|_{h_{t-1}} = \operatorname{diag}(f_t);\quad "
               r"f \equiv 1:\ \frac{\partial L}{\partial c_0} = \frac{\partial L}{\partial c_T}")
    return d


def _draw_lstm(data, *, max_steps=5):
    steps = data.draw(st.integers(1, max_steps), label="T")
    batch = data.draw(st.integers(1, 3), label="B")
    inputs = data.draw(st.integers(1, 3), label="I")
    hidden = data.draw(st.integers(1, 3), label="H")
    real = st.floats(-1, 1)
    return (data.draw(hnp.arrays(np.float64, (steps, batch, inputs), elements=real), label="x"),
            data.draw(hnp.arrays(np.float64, (batch, hidden), elements=real), label="h0"),
            data.draw(hnp.arrays(np.float64, (batch, hidden), elements=real), label="c0"),
            data.draw(hnp.arrays(np.float64, (4 * hidden, inputs), elements=real), label="W_ih"),
            data.draw(hnp.arrays(np.float64, (4 * hidden, hidden), elements=real), label="W_hh"),
            data.draw(hnp.arrays(np.float64, 4 * hidden, elements=real), label="b"))


def _check_lstm(data, device: str) -> Evidence:
    torch = devices.torch()
    x, h0, c0, W_ih, W_hh, b = _draw_lstm(data)
    steps, hidden = x.shape[0], h0.shape[1]
    t = data.draw(st.integers(1, steps), label="t")
    ours = rnn.cell_jacobian(x, h0, c0, W_ih, W_hh, b, t)
    states = rnn.lstm_forward(x, h0, c0, W_ih, W_hh, b)
    cell = torch.nn.LSTMCell(x.shape[2], hidden, dtype=torch.float64, device=device)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(W_ih))
        cell.weight_hh.copy_(torch.tensor(W_hh))
        cell.bias_ih.copy_(torch.tensor(b))
        cell.bias_hh.zero_()
    evidence = None
    for row in range(x.shape[1]):
        inputs = torch.tensor(x[t - 1, row:row + 1], device=device)
        h_prev = torch.tensor(states.h[t - 1][row:row + 1], device=device)
        c_prev = torch.tensor(states.c[t - 1][row:row + 1], device=device)
        jacobian = torch.autograd.functional.jacobian(lambda c: cell(inputs, (h_prev, c))[1], c_prev)
        theirs = to_numpy(jacobian.reshape(hidden, hidden))
        # diag(f_t): f_t is one sigmoid of a sum of I + H + 1 terms, a few ulps apart between engines.
        error = float(np.abs(theirs - ours[row]).max())
        allowance = 16 * EPS64 * (x.shape[2] + hidden + 2)
        if error > allowance:
            raise Mismatch(f"∂c_{t}/∂c_{t - 1}, row {row}: torch.nn.LSTMCell gives {theirs!r}, "
                           f"diag(f_t) is {ours[row]!r}")
        evidence = Evidence.within(error, allowance, "absolute").worse(evidence)
    carousel = rnn.lstm_backward(x, h0, c0, W_ih, np.zeros_like(W_hh), b,
                                 _last_step_only(x.shape[0], h0), forget_gate=False)
    final = rnn.lstm_forward(x, h0, c0, W_ih, np.zeros_like(W_hh), b, forget_gate=False)
    o, c_T = final.gates[-1][:, 3 * hidden:], final.c[-1]
    arriving = o * activations.get("tanh").numpy_derivative(c_T)  # ∂L/∂c_T, with ∂L/∂h_T = 1
    if not np.array_equal(carousel.c0, arriving):
        raise Mismatch(f"the carousel changed the error on the cell: ∂L/∂c_0 = {carousel.c0!r}, "
                       f"∂L/∂c_T = {arriving!r}")
    return evidence


def _last_step_only(steps, h0):
    """∂L/∂h_t = 0 for t < T and 1 at T."""
    gradient = np.zeros((steps, *h0.shape))
    gradient[-1] = 1.0
    return gradient


register(Theorem(
    id="lstm-cell-path",
    family=FAMILY.id,
    title="The LSTM cell path: the forget gate and the constant error carousel",
    statement=r"In a forget-gate LSTM, with $h_{t-1}$ held fixed, $\partial c_t/\partial c_{t-1} = "
              r"\operatorname{diag}(f_t)$ exactly; with $f \equiv 1$ and no gate recurrence, the error reaching "
              r"$c_T$ flows back to $c_0$ unchanged (the constant error carousel).",
    latex=r"\frac{\partial c_t}{\partial c_{t-1}}\Big|_{h_{t-1}} = \operatorname{diag}(f_t)",
    source="Hochreiter & Schmidhuber (1997), Long short-term memory, §4; Gers, Schmidhuber & "
           "Cummins (2000), Learning to forget",
    kind="exact",
    engines=("sympy", "numpy", "torch.nn.LSTMCell"),
    derive=_derive_lstm,
    check=_check_lstm,
))
