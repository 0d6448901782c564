"""The chain (one neuron per layer): the product form, the 4^(−L) bound, explosion."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache, partial

import numpy as np
from hypothesis import assume, strategies as st

from gradproofs import devices, frameworks, symbolic
from gradproofs.derivation import Derivation
from gradproofs.theorem import Evidence, Family, Theorem, family, register
from gradproofs.compare import Agreement, assert_close, to_numpy, underflow_floor
from gradproofs.errors import Mismatch
from gradproofs.activations import costs, engine as activations
from gradproofs.chain import engine as chain, strategies
from gradproofs.formats import FORMATS

__all__ = ["FAMILY", "NIELSEN_CH5", "EPS", "SOURCE", "WINDOW_PUBLISHED", "window", "window_width"]

NIELSEN_CH5 = "[Nielsen, Neural Networks and Deep Learning, ch. 5](http://neuralnetworksanddeeplearning.com/chap5.html)"

FAMILY = family(Family(
    "chain",
    "The chain: one neuron per layer",
    "The textbook network of " + NIELSEN_CH5 + ": $L$ neurons in a row, "
    "$z_j = w_j a_{j-1} + b_j$, $a_j = f(z_j)$, $a_0 = x$, cost $C(a_L, y)$. "
    "Backpropagation turns into a product of one factor $w_{j+1} f'(z_j)$ per layer, "
    "and every statement about vanishing and exploding gradients is a statement "
    "about that product.",
))

EPS = {name: FORMATS[name].eps for name in ("float64", "float32")}
SOURCE = NIELSEN_CH5 + ", eq. 121–122"


# --- the product form ------------------------------------------------------------

def _derive_product_form() -> Derivation:
    import sympy

    d = Derivation()
    f, fprime = symbolic.undefined("f")
    cost, cprime = symbolic.undefined("C")
    d.say("Let $f$ be any differentiable activation and $C(a_L)$ any differentiable cost: "
          "SymPy treats both as undefined functions, so nothing below depends on the choice. "
          "Define $\\delta_j = \\partial C / \\partial z_j$.")
    z_last = sympy.Symbol("z_L", real=True)
    d.equal("Base case, the output layer: $\\delta_L = f'(z_L)\\,C'(a_L)$.",
            sympy.Derivative(cost(f(z_last)), z_last), fprime(z_last) * cprime(f(z_last)),
            simplify=symbolic.canonical, label=r"\delta_L")
    z_j, w_next, b_next = sympy.symbols("z_j w_{j+1} b_{j+1}", real=True)
    rest, rest_prime = symbolic.undefined("G")  # C as a function of z_(j+1): the layers above j
    z_next = w_next * f(z_j) + b_next
    d.say("Induction step: whatever the layers above $j$ compute, $C = G(z_{j+1})$ with "
          "$z_{j+1} = w_{j+1} f(z_j) + b_{j+1}$ and $\\delta_{j+1} = G'(z_{j+1})$.")
    d.equal("Differentiating through that one layer gives the recurrence "
            "$\\delta_j = f'(z_j)\\,w_{j+1}\\,\\delta_{j+1}$.",
            sympy.Derivative(rest(z_next), z_j),
            fprime(z_j) * w_next * rest_prime(z_next),
            simplify=symbolic.canonical, label=r"\delta_j")
    w_j, b_j, a_prev = sympy.symbols("w_j b_j a_{j-1}", real=True)
    d.holds("Since $\\partial z_j/\\partial b_j = 1$ and $\\partial z_j/\\partial w_j = a_{j-1}$, "
            "$\\partial C/\\partial b_j = \\delta_j$ and $\\partial C/\\partial w_j = a_{j-1}\\delta_j$. "
            "By induction from $j = L$ down to $j = 1$ the product form holds at every depth.",
            sympy.diff(w_j * a_prev + b_j, b_j) == 1
            and sympy.diff(w_j * a_prev + b_j, w_j) == a_prev,
            r"\frac{\partial C}{\partial b_1} = f'(z_1) \prod_{j=2}^{L} w_j f'(z_j)\; C'(a_L)")
    w, b, x, y = chain.symbols(4)
    z, a = [], x
    for w_k, b_k in zip(w, b):
        z.append(w_k * a + b_k)
        a = f(z[-1])
    written_out = fprime(z[0]) * w[1] * fprime(z[1]) * w[2] * fprime(z[2]) * w[3] * fprime(z[3]) * cprime(a)
    d.holds("Written out for Nielsen's four neurons (ch. 5, eq. 121, there with $f = \\sigma$), checked against plain `sympy.diff` of "
            "$C(f(w_4 f(w_3 f(w_2 f(w_1 a_0 + b_1) + b_2) + b_3) + b_4))$:",
            symbolic.agree(sympy.diff(cost(a), b[0]), written_out),
            r"\frac{\partial C}{\partial b_1} = f'(z_1)\,w_2\,f'(z_2)\,w_3\,f'(z_3)\,w_4\,f'(z_4)\,"
            r"\frac{\partial C}{\partial a_4}")
    for depth in range(1, 7):
        w, b, x, y = chain.symbols(depth)
        product = chain.product_form(w, b, x, y, f, fprime, lambda z, a, _: fprime(z) * cprime(a))
        a = x
        for w_k, b_k in zip(w, b):
            a = f(w_k * a + b_k)
        nested = cost(a)
        closes = all(symbolic.agree(sympy.diff(nested, p), g)
                     for params, grads in ((b, product.db), (w, product.dw)) for p, g in zip(params, grads))
        d.holds(f"Depth {depth}: plain `sympy.diff` of the nested network equals the product "
                f"form for all {2 * depth} parameters.", closes)
    for activation, cost_name in (("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"),
                                  ("tanh", "quadratic")):
        dw, db = chain.symbolic_gradients(2, activation=activation, cost=cost_name)
        nested = chain.nested_cost(2, activation=activation, cost=cost_name)
        w, b, x, y = chain.symbols(2)
        closes = all(
            sympy.simplify((sympy.diff(nested, p) - g).rewrite(sympy.exp)) == 0
            for p, g in zip((*w, *b), (*dw, *db))
        )
        d.holds(f"With the concrete {activation} and {cost_name.replace('_', '-')} cost (depth 2), "
                "`chain.symbolic_gradients` equals plain differentiation.", closes)
    d.conclude(r"\delta_L = f'(z_L)\,\frac{\partial C}{\partial a_L},\quad "
               r"\delta_j = f'(z_j)\,w_{j+1}\,\delta_{j+1},\quad "
               r"\frac{\partial C}{\partial b_j} = \delta_j,\quad "
               r"\frac{\partial C}{\partial w_j} = a_{j-1}\,\delta_j")
    return d


_PAIRS = [(a, c) for a in ("sigmoid", "tanh", "relu", "identity") for c in costs.NAMES
          if costs.get(c).requires in (None, a)]


def _draw_chain(data, *, max_depth=64, activation=None, cost=None, **options):
    if activation is None:
        activation, cost = data.draw(st.sampled_from(_PAIRS), label="activation, cost")
    example = data.draw(strategies.chains(max_depth=max_depth, activation=activation,
                                          cost=cost or "quadratic", **options), label="chain")
    return example, activation, cost or "quadratic"


def _check_product_form(data, device: str) -> Evidence:
    example, activation, cost = _draw_chain(data)
    reference = chain.reference(*example, activation=activation, cost=cost)
    assume(reference.well_conditioned(EPS["float64"]))
    agreements = [reference.assert_matches("numpy", chain.backward(*example, activation=activation, cost=cost),
                                           precision="float64", derivative_from_output=False)]
    precisions = ["float64"]
    exact = reference.exact
    magnitudes = [abs(float(v)) for v in (*exact.z, *exact.db, *exact.dw)]
    if max(magnitudes) < 1e30 and reference.well_conditioned(EPS["float32"]):
        precisions.append("float32")
    engines = [("torch", partial(chain.backward_torch, device=device)),
               *frameworks.engines(chain.FRAMEWORK_ENGINES, device)]
    for name, engine in engines:
        for dtype in precisions:
            result = engine(*example, activation=activation, cost=cost, dtype=dtype)
            agreements.append(reference.assert_matches(f"{name} {dtype} ({device})", result, precision=dtype,
                                                       derivative_from_output=True))
    return Evidence.agreement(Agreement.worst(agreements))


register(Theorem(
    id="chain-product-form",
    family=FAMILY.id,
    title="Backpropagation through the chain is a product",
    statement=r"For every depth $L$, $\delta_L = f'(z_L)\,\partial C/\partial a_L$ and "
              r"$\delta_j = f'(z_j)\,w_{j+1}\,\delta_{j+1}$; $\partial C/\partial b_j = \delta_j$ and "
              r"$\partial C/\partial w_j = a_{j-1}\,\delta_j$. So, for the sigmoid, "
              r"$\partial C/\partial b_1 = \sigma'(z_1)\prod_{j=2}^{L} w_j\,\sigma'(z_j)\cdot\partial C/\partial a_L$.",
    latex=r"\frac{\partial C}{\partial b_1} = \sigma'(z_1)\prod_{j=2}^{L} w_j\,\sigma'(z_j)\;"
          r"\frac{\partial C}{\partial a_L},\qquad \frac{\partial C}{\partial w_1} = a_0\,"
          r"\frac{\partial C}{\partial b_1}",
    source=SOURCE,
    kind="exact",
    engines=("sympy", "mpmath", "numpy", "torch"),
    derive=_derive_product_form,
    check=_check_product_form,
    optional_engines=frameworks.NAMES,
))


# --- cross-entropy cancels σ′ ----------------------------------------------------

def _derive_output_delta() -> Derivation:
    import sympy

    d = Derivation()
    sigmoid = activations.get("sigmoid")
    z = sigmoid.z
    a, y = sympy.Symbol("a_L"), sympy.Symbol("y", real=True)
    for cost_name, expected in (("cross_entropy", sigmoid.expr - y),
                                ("quadratic", sigmoid.derivative * (sigmoid.expr - y))):
        cost = costs.get(cost_name)
        d.show(f"The {cost_name.replace('_', '-')} cost.", cost.expr(a, y), lhs="C")
        d.equal("Differentiate through $a_L = \\sigma(z_L)$ ($z$ for $z_L$):",
                sympy.Derivative(cost.expr(sigmoid.expr, y), z), expected,
                simplify=lambda e: sympy.simplify(e.doit().rewrite(sympy.exp)), label=r"\frac{\partial C}{\partial z}",
                names={sigmoid.expr: sympy.Symbol(r"\sigma(z)")})
    d.conclude(r"\delta_L^{\text{CE}} = \sigma(z_L) - y,\qquad "
               r"\delta_L^{\text{quadratic}} = \sigma'(z_L)\,(\sigma(z_L) - y)")
    return d


def _check_output_delta(data, device: str) -> Evidence:
    import mpmath

    torch = devices.torch()
    z = data.draw(st.floats(-40, 40, allow_subnormal=False), label="z_L")
    y = data.draw(st.floats(0, 1), label="y")
    with mpmath.workdps(40):
        exact = float(1 / (1 + mpmath.exp(-mpmath.mpf(z))) - mpmath.mpf(y))
    sigmoid = activations.get("sigmoid")
    ours = costs.get("cross_entropy").output_delta(z, sigmoid.numpy(z), y, sigmoid.numpy_derivative)
    zt = torch.tensor(z, dtype=torch.float64, device=device, requires_grad=True)
    costs.get("cross_entropy").torch(zt, torch.sigmoid(zt), torch.tensor(y, dtype=torch.float64,
                                                                       device=device)).backward()
    # σ(z) − y: σ rounds once, the subtraction once; absolute in units of |σ| + |y|.
    scale = abs(float(sigmoid.numpy(z))) + y
    return Evidence.agreement(Agreement.worst([
        assert_close("numpy δ_L", [ours], [exact], [scale], 4 * EPS["float64"],
                     reason="two roundings of σ(z) − y"),
        assert_close(f"torch BCE-with-logits δ_L ({device})", zt.grad.reshape(1), [exact], [scale],
                     4 * EPS["float64"], reason="two roundings of σ(z) − y"),
    ]))


register(Theorem(
    id="cross-entropy-output-delta",
    family=FAMILY.id,
    title="Cross-entropy cancels $\\sigma'$ at the output",
    statement=r"With a sigmoid output, the cross-entropy cost gives $\delta_L = \sigma(z_L) - y$: the factor "
              r"$\sigma'(z_L)$ of the quadratic cost's $\delta_L = \sigma'(z_L)(\sigma(z_L) - y)$ cancels, so a "
              r"saturated output neuron still learns.",
    latex=r"\frac{\partial}{\partial z}\Big[-y\ln\sigma(z) - (1-y)\ln(1-\sigma(z))\Big] = \sigma(z) - y",
    source="[Nielsen, Neural Networks and Deep Learning, ch. 3](http://neuralnetworksanddeeplearning.com/chap3.html), "
           "eq. 61",
    kind="exact",
    engines=("sympy", "mpmath", "numpy", "torch"),
    derive=_derive_output_delta,
    check=_check_output_delta,
))


# --- the 4^(−L) bound -----------------------------------------------------------

def _derive_vanishing_bound() -> Derivation:
    import sympy

    d = Derivation()
    sigmoid = activations.get("sigmoid")
    z = sigmoid.z
    d.say("By the product form, dividing $|\\partial C/\\partial b_1|$ by "
          "$\\prod_{j\\ge2}|w_j|\\cdot|\\partial C/\\partial a_L|$ leaves "
          "$\\prod_{j=1}^{L} \\sigma'(z_j)$ (the pairing is $w_{j+1}$ with $\\sigma'(z_j)$).",
          r"\frac{|\partial C/\partial b_1|}{4^{-L}\prod_{j\ge 2}|w_j|\,|\partial C/\partial a_L|}"
          r" = \prod_{j=1}^{L} 4\sigma'(z_j)")
    d.show("Each factor is at most 1, since $\\gamma = \\sup\\sigma' = 1/4$ "
           "(see *The derivative of sigmoid and its bound*).",
           4 * sigmoid.derivative_bound, lhs=r"4\gamma")
    equality = sympy.solveset(sympy.simplify(4 * sigmoid.derivative - 1), z, sympy.S.Reals)
    d.show("A factor equals 1 exactly where $4\\sigma'(z) = 1$:", equality, lhs="z")
    d.holds("So the product is 1 if and only if every $z_j = 0$: with every $w_j \\ne 0$ ($j \\ge 2$) and "
            "$\\partial C/\\partial a_L \\ne 0$, equality holds exactly there.", equality == sympy.FiniteSet(0))
    w2, w3, slope = sympy.symbols("w_2 w_3 C'", real=True)
    factors = [sigmoid.derivative.subs(z, sympy.Symbol(f"z_{j}", real=True)) for j in (1, 2, 3)]
    gradient = factors[0] * w2 * factors[1] * w3 * factors[2] * slope
    ceiling = sympy.Rational(1, 64) * sympy.Abs(w2) * sympy.Abs(w3) * sympy.Abs(slope)
    d.holds("Otherwise both sides are 0, whatever the $z_j$: with some $w_j = 0$ ($j \\ge 2$) or "
            "$\\partial C/\\partial a_L = 0$ the bound holds with equality too (depth 3 checked, $C' = "
            "\\partial C/\\partial a_3$).", all(gradient.subs(v, 0) == 0 and ceiling.subs(v, 0) == 0
                                              for v in (w2, w3, slope)),
            r"w_j = 0 \ \text{or}\ \frac{\partial C}{\partial a_L} = 0 \implies "
            r"\frac{\partial C}{\partial b_1} = 0 = 4^{-L}\prod_{j=2}^{L}|w_j|\,\Big|\frac{\partial C}{\partial a_L}\Big|")
    d.say("Corollary: when every $|w_j| < 1$, each layer multiplies the gradient by "
          "$|w_{j+1}\\sigma'(z_j)| \\le |w_{j+1}|/4 < 1/4$.")
    d.conclude(r"\left|\frac{\partial C}{\partial b_1}\right| \le 4^{-L}\prod_{j=2}^{L}|w_j|\,"
               r"\left|\frac{\partial C}{\partial a_L}\right|,\ \text{equality iff every } z_j = 0 \text{ or both "
               r"sides are } 0")
    return d


def _bound(w, a_last, y) -> float:
    return float(4.0 ** -len(w) * np.prod(np.abs(w[1:])) * abs(a_last - y))


def _check_vanishing_bound(data, device: str) -> Evidence:
    import mpmath

    example, _, _ = _draw_chain(data, activation="sigmoid", cost="quadratic", max_weight=6.0)
    depth = len(example.w)
    result = chain.backward(*example)
    bound = _bound(example.w, result.a[-1], example.y)
    # Both sides are products of L + 1 rounded factors: 4·(L+1)·eps relative.
    rounding = 4 * (depth + 1) * EPS["float64"]
    if abs(result.db[0]) > bound * (1 + rounding):
        raise Mismatch(f"|∂C/∂b₁| = {abs(result.db[0])!r} exceeds the bound {bound!r} "
                       f"at depth {depth}")
    evidence = Evidence.bound(abs(result.db[0]), bound, allowed=bound * (1 + rounding))
    centred = chain.centred_biases(example.w, example.x, activation="sigmoid")
    equality = chain.backward(example.w, centred, example.x, example.y)
    engines = {"numpy": equality.db[0],
               f"torch ({device})": chain.backward_torch(example.w, centred, example.x, example.y,
                                                         device=device).db[0]}
    if not np.all(equality.z == 0):
        raise Mismatch(f"centred biases left z = {equality.z!r}")
    with mpmath.workdps(40):
        exact = mpmath.mpf(4) ** -depth * mpmath.fprod(abs(mpmath.mpf(v)) for v in example.w[1:]) \
            * abs(mpmath.mpf(0.5) - mpmath.mpf(example.y))
    equality_case = Agreement.worst(
        assert_close(f"{name} |∂C/∂b₁| at z = 0", [abs(float(value))], [exact], [exact],
                     rounding, reason="equality case: L + 1 exact factors, each rounded once")
        for name, value in engines.items())
    return evidence.beside(Evidence.agreement(equality_case))


register(Theorem(
    id="chain-vanishing-bound",
    family=FAMILY.id,
    title=r"The sigmoid chain's gradient is at most $4^{-L}\prod_{j\ge2}|w_j|$",
    statement=r"In a sigmoid chain of depth $L$, $|\partial C/\partial b_1| \le "
              r"4^{-L}\prod_{j\ge2}|w_j|\cdot|\partial C/\partial a_L|$, with equality exactly when every "
              r"$z_j = 0$, or when some $w_j$ ($j \ge 2$) or $\partial C/\partial a_L$ is 0 (both sides 0). Each factor $|w\,\sigma'(z)| \le |w|/4 < 1/4$ when $|w| < 1$.",
    latex=r"\left|\frac{\partial C}{\partial b_1}\right| \le 4^{-L}\prod_{j=2}^{L}|w_j|\,"
          r"\left|\frac{\partial C}{\partial a_L}\right|",
    source=SOURCE,
    kind="bound",
    engines=("sympy", "mpmath", "numpy", "torch"),
    derive=_derive_vanishing_bound,
    check=_check_vanishing_bound,
))


def _derive_log_magnitude() -> Derivation:
    d = Derivation()
    d.say("Take logarithms of the product form: the gradient is a sum of one term per layer, "
          "which float64 can hold at any depth even when the product itself underflows to 0 "
          "or overflows to $\\infty$.",
          r"\ln\left|\frac{\partial C}{\partial b_1}\right| = \ln\left|\frac{\partial C}{\partial a_L}\right|"
          r" + \sum_{j=1}^{L}\ln\sigma'(z_j) + \sum_{j=2}^{L}\ln|w_j|")
    d.say("Each $\\ln\\sigma'(z) = -|z| - 2\\ln(1 + e^{-|z|})$ is computed without forming "
          "$\\sigma'$, and is at most $-\\ln 4$ (the bound above), so the magnitude falls at "
          "least like $4^{-L}$ times the weights:",
          r"\ln\left|\frac{\partial C}{\partial b_1}\right| \le -L\ln 4 + \sum_{j=2}^{L}\ln|w_j|"
          r" + \ln\left|\frac{\partial C}{\partial a_L}\right|")
    d.conclude(r"\ln\left|\frac{\partial C}{\partial b_1}\right| \le -L\ln 4 + \sum_{j\ge2}\ln|w_j|"
               r" + \ln\left|\frac{\partial C}{\partial a_L}\right|\quad\text{at every depth}")
    return d


def _check_log_magnitude(data, device: str) -> Evidence:
    import mpmath

    depth = data.draw(st.one_of(st.integers(1, 64), st.integers(65, 10_000)), label="depth")
    example, _, _ = _draw_chain(data, activation="sigmoid", cost="quadratic", max_weight=3.9,
                                min_depth=depth, max_depth=depth)
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.abs(example.w[1:]))

    def predicted(a_last):
        with np.errstate(divide="ignore"):
            return -depth * np.log(4.0) + log_weights.sum() + np.log(abs(a_last - example.y))

    def agreement(got, expected) -> Evidence:
        """|got − expected| against the tolerance (both −∞ agree)."""
        off = 0.0 if np.isneginf(got) and np.isneginf(expected) else abs(got - expected)
        return Evidence.within(off, tolerance, "off in the logarithm")

    # Two sums of about 2L logs, one sequential (cumsum), one pairwise, each log of size at
    # most |z| + ln 4 ≤ 80 here and rounded once: |error| ≤ 2·eps·(L + 2)·Σ|terms|.
    terms = np.abs(log_weights[np.isfinite(log_weights)]).sum() + depth * (np.log(4.0) + 80.0)
    tolerance = 2 * EPS["float64"] * (depth + 2) * terms
    log_db = chain.log_abs_db(*example)[0]
    bound = predicted(chain.backward(*example).a[-1])
    if log_db > bound + tolerance:
        raise Mismatch(f"ln|∂C/∂b₁| = {log_db!r} exceeds the 4^(−L) prediction {bound!r} "
                       f"at depth {depth}")
    # |∂C/∂b₁| over the bound is e^(ln|∂C/∂b₁| − bound), allowed up to e^tolerance.
    evidence = Evidence.within(np.exp(log_db - bound) if np.isfinite(log_db) else 0.0, np.exp(tolerance),
                               "of the bound")
    centred = chain.centred_biases(example.w, example.x, activation="sigmoid")
    log_centred = chain.log_abs_db(example.w, centred, example.x, example.y)[0]
    equality_case = agreement(log_centred, predicted(0.5))
    if not equality_case.used <= 1:
        raise Mismatch(f"at z = 0 ln|∂C/∂b₁| = {log_centred!r}, predicted {predicted(0.5)!r} "
                       f"(depth {depth}, tolerance {tolerance:.3g})")
    evidence = evidence.beside(equality_case)
    if depth <= 200:  # the exact engine's cost grows with depth; 200 is past float64's range
        exact = chain.backward_exact(*example, dps=30).db[0]
        exact_log = float(mpmath.log(abs(exact))) if exact != 0 else -np.inf
        exact_case = agreement(log_db, exact_log)
        if not exact_case.used <= 1:
            raise Mismatch(f"ln|∂C/∂b₁| = {log_db!r}, exact {exact_log!r} (depth {depth}, "
                           f"tolerance {tolerance:.3g})")
        evidence = evidence.beside(exact_case)
    return evidence


register(Theorem(
    id="chain-log-magnitude",
    family=FAMILY.id,
    title="The magnitude vanishes as predicted, at depths float64 cannot hold",
    statement=r"$\ln|\partial C/\partial b_1|$ computed as a sum of logs equals the exact value and the "
              r"$4^{-L}$ prediction (with equality when every $z_j = 0$) at depths up to 10 000, where "
              r"$|\partial C/\partial b_1|$ itself is far below float64's smallest number.",
    latex=r"\ln\left|\frac{\partial C}{\partial b_1}\right| \le -L\ln 4 + \sum_{j\ge2}\ln|w_j| + "
          r"\ln\left|\frac{\partial C}{\partial a_L}\right|",
    source=SOURCE,
    kind="bound",
    engines=("mpmath", "numpy"),
    derive=_derive_log_magnitude,
    check=_check_log_magnitude,
    uses_torch=False,
))


# --- the exploding example -----------------------------------------------------------

def _derive_exploding_example() -> Derivation:
    import sympy

    d = Derivation()
    depth = 4
    w, b, x, y = chain.symbols(depth)
    _, db = chain.symbolic_gradients(depth)
    values = {**{w_j: 100 for w_j in w}, b[0]: -100 * x, **{b_j: -50 for b_j in b[1:]}}
    d.say("Take every $w_j = 100$ and choose the biases so that every $z_j = 0$: "
          "$b_1 = -100\\,a_0$ and $b_j = -50$ for $j \\ge 2$ (since $a_{j-1} = \\sigma(0) = 1/2$). "
          "Then every factor is $w_j\\sigma'(0) = 100/4 = 25$.")
    db1 = sympy.nsimplify(sympy.simplify(db[0].subs(values)))
    d.show("Substitute into the structured gradient of the depth-4 chain (quadratic cost), exactly:",
           db1, lhs=r"\frac{\partial C}{\partial b_1}")
    d.equal("With $\\partial C/\\partial a_4 = a_4 - y = 1/2 - y$ it is $15625/4 = 3906.25 = \\tfrac14 \\cdot 25^3$ "
            "times that:", db1, sympy.Mul(sympy.Rational(390625, 100), sympy.Rational(1, 2) - y, evaluate=False),
            label=r"\frac{\partial C}{\partial b_1}")
    d.conclude(r"\frac{\partial C}{\partial b_1} = \tfrac14\cdot 25^{3}\,\frac{\partial C}{\partial a_4}"
               r" = 3906.25\,\frac{\partial C}{\partial a_4}")
    return d


def _check_exploding_example(data, device: str) -> Evidence:
    depth = data.draw(st.integers(1, 10), label="depth")
    x = data.draw(st.floats(-4, 4, allow_subnormal=False), label="a_0")
    y = data.draw(st.floats(0, 1), label="y")
    w = np.full(depth, 100.0)
    b = chain.centred_biases(w, x, activation="sigmoid")
    exact = Fraction(1, 4) * 25 ** (depth - 1) * (Fraction(1, 2) - Fraction(y))
    results = {"numpy": chain.backward(w, b, x, y).db[0],
               f"torch ({device})": chain.backward_torch(w, b, x, y, device=device).db[0]}
    # Every factor (1/4, 25) is exact in binary; 1/2 − y and the L products round once each.
    tolerance = (depth + 1) * EPS["float64"]
    return Evidence.agreement(Agreement.worst(
        assert_close(f"{name} ∂C/∂b₁", [to_numpy(value)], [float(exact)], [abs(float(exact))],
                     tolerance, reason="L + 1 roundings of exact binary factors")
        for name, value in results.items()
    ))


register(Theorem(
    id="chain-exploding-example",
    family=FAMILY.id,
    title="The exploding gradient example: 3906.25",
    statement=r"With every $w_j = 100$ and biases making every $z_j = 0$ ($b_1 = -100\,a_0$, $b_j = -50$), "
              r"each factor $w\,\sigma'$ is 25, and at depth 4 $\partial C/\partial b_1 = 3906.25\,"
              r"\partial C/\partial a_4$ exactly; at depth $L$ the factor is $\tfrac14\cdot 25^{L-1}$.",
    latex=r"\frac{\partial C}{\partial b_1} = \tfrac14\cdot 25^{L-1}\frac{\partial C}{\partial a_L},"
          r"\quad L = 4:\ 3906.25",
    source=NIELSEN_CH5 + " (the exploding gradient problem)",
    kind="exact",
    engines=("sympy", "fractions", "numpy", "torch"),
    derive=_derive_exploding_example,
    check=_check_exploding_example,
))


# --- Nielsen's window ---------------------------------------------------------------

WINDOW_PUBLISHED = (6.894151, 0.4477432)  # independently recomputed (SymPy and brute force)


@lru_cache(maxsize=None)
def window():
    """The window width's closed form in |w| (a SymPy expression) and its derivation."""
    import sympy

    d = Derivation()
    w = sympy.Symbol("|w|", positive=True)
    u = sympy.Symbol("u", positive=True)  # σ(z)
    d.say("Let $u = \\sigma(w a + b)$. Since $\\sigma' = u(1-u)$, the factor reaches 1 where "
          "$|w|\\,u(1-u) \\ge 1$, a quadratic inequality in $u$.",
          r"|w\,\sigma'(wa + b)| \ge 1 \iff u^2 - u + \frac{1}{|w|} \le 0")
    roots = sympy.solve(u**2 - u + 1 / w, u)
    d.show("Its roots:", sympy.FiniteSet(*roots), lhs="u")
    discriminant = sympy.discriminant(u**2 - u + 1 / w, u)
    threshold = sympy.solve(sympy.Eq(discriminant, 0), w)
    d.holds("They are real iff the discriminant $1 - 4/|w|$ is non-negative: the factor can "
            "reach 1 only when $|w| \\ge 4$.", threshold == [4],
            rf"1 - \frac{{4}}{{|w|}} \ge 0 \iff |w| \ge {sympy.latex(threshold[0])}")
    r = sympy.sqrt(1 - 4 / w)
    low, high = (1 - r) / 2, (1 + r) / 2
    d.equal("So $u \\in [u_-, u_+]$ with $u_\\pm = (1 \\pm r)/2$, $r = \\sqrt{1 - 4/|w|}$:",
            sympy.Matrix([roots]), sympy.Matrix([[low, high]]), label=r"\begin{bmatrix}u_- & u_+\end{bmatrix}",
            names={r: sympy.Symbol("r")})
    width_z = sympy.log(high / (1 - high)) - sympy.log(low / (1 - low))
    d.equal("Through $z = \\ln(u/(1-u))$ that is an interval of $z$ of width "
            "$2\\ln\\frac{1+r}{1-r}$:", width_z, 2 * sympy.log((1 + r) / (1 - r)),
            simplify=lambda e: sympy.simplify(sympy.expand_log(e, force=True)),
            label="z(u_+) - z(u_-)", names={r: sympy.Symbol("r")})
    d.equal("The identity that gives Nielsen's form:", (1 + r) / (1 - r), w * (1 + r) / 2 - 1,
            names={r: sympy.Symbol("r")})
    width = 2 / w * sympy.log(w * (1 + r) / 2 - 1)
    d.show("Since $z = wa + b$, the set of inputs $a$ is an interval of width $1/|w|$ times that:",
           width, lhs=r"\text{width}(|w|)", names={r: sympy.Symbol("r")})
    d.holds("It closes at both ends: the width tends to 0 as $|w| \\to 4^+$ and as $|w| \\to \\infty$.",
            sympy.limit(width, w, 4, "+") == 0 and sympy.limit(width, w, sympy.oo) == 0)
    peak_w = sympy.nsolve(sympy.diff(width, w), w, 7, prec=30)
    peak = width.subs(w, peak_w).evalf(30)
    d.show("Its derivative vanishes once (solved numerically, 30 digits):", peak_w, lhs="|w|^*")
    d.show("where the width is largest:", peak, lhs=r"\text{width}(|w|^*)")
    d.agrees_with("figures recomputed independently for Nielsen's ch. 5 problem",
                  *zip(("|w|^*", r"\text{width}(|w|^*)"), (peak_w, peak), WINDOW_PUBLISHED))
    d.conclude("\\begin{aligned}\n"
               r"\text{width}(|w|) &= \frac{2}{|w|}\ln\!\Big(\frac{|w|(1+r)}{2} - 1\Big),\quad "
               r"r = \sqrt{1 - 4/|w|}, \\" "\n"
               r"\max_{|w|}\,\text{width}(|w|) &\approx 0.4477432 \text{ at } |w| \approx 6.894151" "\n"
               r"\end{aligned}")
    return w, width, float(peak_w), float(peak), d


def window_width(w: float) -> float:
    """Width of the set of inputs a with |w·σ′(w a + b)| ≥ 1 (0 when |w| < 4)."""
    w = abs(w)
    if w < 4:
        return 0.0
    r = np.sqrt(1 - 4 / w)
    return float(2 / w * np.log(w * (1 + r) / 2 - 1))


def _check_window(data, device: str) -> Evidence:
    magnitude = data.draw(st.floats(0.5, 100), label="|w|")
    w = data.draw(st.sampled_from([-1.0, 1.0]), label="sign of w") * magnitude
    b = data.draw(st.floats(-10, 10), label="b")
    step = 5e-6
    # The window is centred on z = 0, i.e. a = −b/w, and is never wider than 0.45.
    a = -b / w + np.arange(-200_000, 200_001) * step
    inside = np.abs(w * activations.get("sigmoid").numpy_derivative(w * a + b)) >= 1
    if magnitude < 4 and inside.any():
        raise Mismatch(f"|w σ′(w a + b)| ≥ 1 at a = {a[inside][0]!r} although |w| = {magnitude} < 4")
    measured = inside.sum() * step
    closed = window_width(w)
    # Each end of the interval is found to within one grid step (two, allowing rounding).
    if abs(measured - closed) > 4 * step:
        raise Mismatch(f"brute-force width {measured!r} ≠ closed form {closed!r} at w = {w!r}, "
                       f"b = {b!r} (grid step {step})")
    return Evidence.within(abs(measured - closed) / step, 4, "grid steps")


register(Theorem(
    id="nielsen-window",
    family=FAMILY.id,
    title="The window of inputs where a sigmoid factor explodes",
    statement=r"$|w\,\sigma'(w a + b)| \ge 1$ requires $|w| \ge 4$. Then, with $r = \sqrt{1 - 4/|w|}$, the "
              r"inputs $a$ where it holds form a closed interval of width $(2/|w|)\ln(|w|(1 + r)/2 - 1)$, using "
              r"$(1 + r)/(1 - r) = |w|(1 + r)/2 - 1$. The width is largest, $\approx 0.4477432$, at "
              r"$|w| \approx 6.894151$, and tends to 0 at $|w| = 4$ and as $|w| \to \infty$.",
    latex=r"\text{width}(|w|) = \frac{2}{|w|}\ln\!\Big(\frac{|w|(1+r)}{2} - 1\Big),\quad "
          r"r = \sqrt{1 - \frac{4}{|w|}}",
    source=NIELSEN_CH5 + ", problem in 'The exploding gradient problem'",
    kind="exact",
    engines=("sympy", "numpy (brute force)"),
    derive=lambda: window()[4],
    check=_check_window,
    uses_torch=False,
))


# --- the ratio between layers ---------------------------------------------------------

def _derive_layer_ratio() -> Derivation:
    import sympy

    d = Derivation()
    sigmoid = activations.get("sigmoid")
    for depth in (3, 4, 5):
        w, b, x, y = chain.symbols(depth)
        structure = chain.product_form(w, b, x, y, *chain.sympy_functions(sigmoid, costs.get("quadratic")))
        factor = sigmoid.derivative.subs(sigmoid.z, structure.z[0]) * w[1] \
            * sigmoid.derivative.subs(sigmoid.z, structure.z[1]) * w[2]
        d.holds(f"Depth {depth}: the structured gradients satisfy "
                "$\\partial C/\\partial b_1 = \\sigma'(z_1) w_2 \\sigma'(z_2) w_3\\,\\partial C/\\partial b_3$.",
                sympy.simplify(structure.db[0] - factor * structure.db[2]) == 0)
    d.say("The ratio involves layers 1 to 3 alone, at every depth $L \\ge 3$ (the product form).")
    d.show("Each $\\sigma'$ is at most $\\gamma = 1/4$, so the ratio is at most",
           sigmoid.derivative_bound ** 2, lhs=r"\gamma^2")
    d.conclude(r"\frac{\partial C/\partial b_1}{\partial C/\partial b_3} = \sigma'(z_1)\,w_2\,\sigma'(z_2)\,w_3,"
               r"\qquad \left|\frac{\partial C/\partial b_1}{\partial C/\partial b_3}\right| \le \frac{|w_2 w_3|}{16}")
    return d


def _check_layer_ratio(data, device: str) -> Evidence:
    example, _, cost = _draw_chain(data, activation="sigmoid", cost=None, min_depth=3)
    sigmoid_prime = activations.get("sigmoid").numpy_derivative
    evidence = None
    for name, result in (("numpy", chain.backward(*example, cost=cost)),
                         (f"torch ({device})", chain.backward_torch(*example, cost=cost, device=device))):
        db, z = to_numpy(result.db), to_numpy(result.z)
        factor = sigmoid_prime(z[0]) * example.w[1] * sigmoid_prime(z[1]) * example.w[2]
        # Two more layers of the same product: 8 roundings relative to |∂C/∂b₃|·|w₂w₃|/16.
        scale = abs(db[2]) * abs(example.w[1] * example.w[2]) / 16
        agreement = Evidence.agreement(assert_close(f"{name} ∂C/∂b₁", db[:1], [factor * db[2]], [scale],
                                                    8 * EPS["float64"], reason="eight roundings"))
        # Below the underflow floor, subnormal roundings are not relative ones: not judged (as assert_close).
        bound = Evidence.vacuous("of the bound")
        if scale > underflow_floor(FORMATS["float64"]):
            allowed = scale * (1 + 8 * EPS["float64"])
            if abs(db[0]) > allowed:
                raise Mismatch(f"{name}: |∂C/∂b₁| = {abs(db[0])!r} exceeds |∂C/∂b₃|·|w₂w₃|/16 = {scale!r}")
            bound = Evidence.bound(abs(db[0]), scale, allowed=allowed)
        evidence = bound.beside(agreement).worse(evidence)
    return evidence


register(Theorem(
    id="chain-layer-ratio",
    family=FAMILY.id,
    title="Two layers apart, the gradient is multiplied by at most $|w_2 w_3|/16$",
    statement=r"$(\partial C/\partial b_1)/(\partial C/\partial b_3) = \sigma'(z_1)\,w_2\,\sigma'(z_2)\,w_3$ "
              r"at every depth $L \ge 3$, so $|\partial C/\partial b_1| \le |\partial C/\partial b_3|\cdot|w_2 w_3|/16$.",
    latex=r"\frac{\partial C/\partial b_1}{\partial C/\partial b_3} = \sigma'(z_1)\,w_2\,\sigma'(z_2)\,w_3,"
          r"\quad \left|\cdot\right| \le \frac{|w_2 w_3|}{16}",
    source=SOURCE,
    kind="exact",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_layer_ratio,
    check=_check_layer_ratio,
))
