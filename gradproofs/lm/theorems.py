"""A character-level RNN language model, its BPTT, and the toy networks of Hung-yi Lee's lecture that show
why its gradients misbehave."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

from gradproofs import _validate, devices, symbolic
from gradproofs.derivation import Derivation
from gradproofs.theorem import Evidence, Family, Theorem, family, register
from gradproofs.compare import Agreement, assert_close, to_numpy, underflow_floor
from gradproofs.errors import Mismatch
from gradproofs.activations import engine as activations
from gradproofs.clipping import engine as clipping, tamed, theorems as clipping_theorems
from gradproofs.lm import engine as lm, strategies
from gradproofs.rnn import engine as rnn, strategies as rnn_strategies
from gradproofs.formats import FORMATS, format_of

__all__ = [
    "FAMILY", "EPS64", "EPS32", "BRITZ", "MIN_CHAR_RNN", "LECTURE", "PASCANU", "SOURCE_NOTES", "TOY_STEPS",
    "TOY_PUBLISHED", "linear_unit", "linear_unit_torch", "linear_unit_exact", "MIN_ENTRY", "BPTT_SHAPES",
    "VALUE_THRESHOLD"
]

BRITZ = ("[Britz, \"Recurrent Neural Networks Tutorial, Part 3: Backpropagation Through Time and Vanishing "
         "Gradients\" (WildML, 2015)](https://dennybritz.com/posts/wildml/recurrent-neural-networks-tutorial-part-3/)")
MIN_CHAR_RNN = "[Karpathy's min-char-rnn (2015)](https://gist.github.com/karpathy/d4dee566867f8291f086)"
LECTURE = ("Hung-yi Lee, Machine Learning (National Taiwan University, 2016), lecture [\"Recurrent Neural Network "
           "(Part II)\"](https://speech.ee.ntu.edu.tw/~tlkagk/courses/ML_2016/Lecture/RNN%20%28v2%29.pdf)")
PASCANU = ("[Pascanu, Mikolov & Bengio, \"On the difficulty of training recurrent neural networks\" (2013)]"
           "(https://arxiv.org/abs/1211.5063)")

FAMILY = family(Family(
    "lm",
    "A character-level RNN language model",
    "The toy networks of " + LECTURE + ", which show why a recurrent network is hard to train: the same "
    "recurrent weight is applied at every step, so the output is a high power of it, and the error surface is flat "
    "on one side and a cliff on the other. The sigmoid is not to blame: a ReLU unit, whose factor is the weight "
    "itself, explodes where a sigmoid unit vanishes. Then the character-level RNN language model of " + BRITZ
    + " and " + MIN_CHAR_RNN + ": one-hot inputs $x_t$, $h_t = \\tanh(U x_t + W h_{t-1} + b)$, "
    "$\\hat y_t = \\operatorname{softmax}(V h_t + c)$, $E = \\sum_t -\\log \\hat y_t[y_t]$ (`gradproofs.lm`): its "
    "BPTT steps derived by hand, why its gradients vanish or explode, and how clipping bounds its updates.",
))

EPS64 = FORMATS["float64"].eps
EPS32 = FORMATS["float32"].eps
SOURCE_NOTES = "The BPTT steps of the character-level RNN language model, as in " + BRITZ + " and " + MIN_CHAR_RNN


# --- the toy network: y = w^999 ------------------------------------------------------------

TOY_STEPS = 1000
TOY_PUBLISHED = {"y(1.01)": "20751.639", "y(0.99)": "4.36073e-5",
                 "dy/dw(1.01)": "2.05256e7", "dy/dw(0.99)": "0.0440"}


def _toy_arguments(w, steps):
    return _validate.real_scalar("w", w), _validate.positive_int("steps", steps)


def linear_unit(w, steps: int = TOY_STEPS) -> tuple[float, float]:
    """y = h_T and dy/dw for h_t = w·h_(t−1) + x_t, h_0 = 0, x = (1, 0, …, 0), in NumPy float64.

    The forward loop, then backpropagation through time: δ_T = ∂y/∂h_T = 1,
    δ_(t−1) = w·δ_t, and dy/dw = Σ_t δ_t·h_(t−1).
    """
    w, steps = _toy_arguments(w, steps)
    w = np.float64(w)
    x = np.zeros(steps)
    x[0] = 1.0
    states = np.zeros(steps + 1)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            states[t] = w * states[t - 1] + x[t - 1]
        delta, dy_dw = np.float64(1.0), np.float64(0.0)
        for t in range(steps, 0, -1):
            dy_dw += delta * states[t - 1]
            delta *= w
    return float(states[-1]), float(dy_dw)


def linear_unit_torch(w, steps: int = TOY_STEPS, *, device: str = "cpu") -> tuple[float, float]:
    """The same network through torch autograd in float64 on ``device``: y and dy/dw."""
    w, steps = _toy_arguments(w, steps)
    torch = devices.torch()
    options = dict(dtype=torch.float64, device=devices.resolve(device))
    weight = torch.tensor(w, requires_grad=True, **options)
    x = torch.zeros(steps, **options)
    x[0] = 1.0
    h = torch.zeros((), **options)
    for x_t in x:
        h = weight * h + x_t
    (dy_dw,) = torch.autograd.grad(h, weight)
    return float(h.detach()), float(dy_dw)


def linear_unit_exact(w, steps: int = TOY_STEPS, *, dps: int = 40):
    """y = w^(T−1) and dy/dw = (T−1)·w^(T−2) in mpmath with ``dps`` digits (w taken exactly)."""
    import mpmath

    w, steps = _toy_arguments(w, steps)
    with mpmath.workdps(_validate.positive_int("dps", dps)):
        w = mpmath.mpf(w)
        return w ** (steps - 1), (steps - 1) * w ** (steps - 2) if steps > 1 else mpmath.mpf(0)


def _derive_toy() -> Derivation:
    import sympy

    d = Derivation()
    w = sympy.Symbol("w", real=True)
    t = sympy.Symbol("t", integer=True, positive=True)
    T = sympy.Symbol("T", integer=True, positive=True)
    d.say("One linear unit with recurrent weight $w$, $h_t = w h_{t-1} + x_t$, $h_0 = 0$, fed $x_1 = 1$ "
          "and $x_t = 0$ after; the output is the last state, $y = h_T$. Claim: $h_t = w^{t-1}$.")
    d.holds("Base case.", w * 0 + 1 == w ** 0, r"h_1 = w \cdot 0 + 1 = 1 = w^0")
    d.equal("Induction step: if $h_{t-1} = w^{t-2}$, then for $t \\ge 2$, $h_t = w h_{t-1} + 0$ is",
            w * w ** (t - 2) + 0, w ** (t - 1), label="h_t")
    unrolled = sympy.Integer(0)
    for step in range(1, TOY_STEPS + 1):
        unrolled = w * unrolled + (1 if step == 1 else 0)
    d.holds(f"Unrolled by SymPy over all $T = {TOY_STEPS}$ steps, the recurrence gives the same.",
            unrolled == w ** (TOY_STEPS - 1), f"y = h_{{{TOY_STEPS}}} = {sympy.latex(unrolled)}")
    y = w ** (T - 1)
    d.equal("Differentiate $y = w^{T-1}$:", sympy.Derivative(y, w), (T - 1) * w ** (T - 2), label=r"\frac{dy}{dw}",
            simplify=lambda e: sympy.simplify(e.doit()))
    y, slope = y.subs(T, TOY_STEPS), sympy.diff(y, w).subs(T, TOY_STEPS)
    up, down, small = sympy.Rational(101, 100), sympy.Rational(99, 100), sympy.Rational(1, 100)
    d.holds("At $w = 1$, exactly:", y.subs(w, 1) == 1 and slope.subs(w, 1) == 999,
            r"y = 1^{999} = 1,\quad \frac{dy}{dw} = 999 \cdot 1^{998} = 999")
    d.show("At $w = 1.01$ and $w = 0.99$, evaluated from the exact rationals to 15 digits:", "\\begin{aligned}\n"
           + " \\\\\n".join(rf"y({name}) &= {_digits(y.subs(w, value))},\quad & \frac{{dy}}{{dw}}({name}) &= "
                            rf"{_digits(slope.subs(w, value))}" for value, name in ((up, "1.01"), (down, "0.99")))
           + "\n\\end{aligned}")
    tiny = y.subs(w, small)
    d.holds("At $w = 0.01$, exactly, far below float64's smallest positive number $2^{-1074}$: float64 "
            "holds it as 0.", tiny == sympy.Rational(1, 10 ** 1998) and tiny < sympy.Rational(1, 2 ** 1074)
            and float(tiny) == 0.0, r"y = 0.01^{999} = 10^{-1998} < 2^{-1074}")
    d.agrees_with("the lecture's toy example, figures recomputed independently",
                  ("y(1.01)", y.subs(w, up), TOY_PUBLISHED["y(1.01)"]),
                  ("y(0.99)", y.subs(w, down), TOY_PUBLISHED["y(0.99)"]),
                  (r"\frac{dy}{dw}(1.01)", slope.subs(w, up), TOY_PUBLISHED["dy/dw(1.01)"]),
                  (r"\frac{dy}{dw}(0.99)", slope.subs(w, down), TOY_PUBLISHED["dy/dw(0.99)"]))
    ratio = slope.subs(w, up) / slope.subs(w, down)
    d.holds("The slopes $dy/dw$ one percent either side of $w = 1$ differ, exactly as rationals, by",
            ratio == (up / down) ** 998,
            r"\frac{dy/dw|_{w = 1.01}}{dy/dw|_{w = 0.99}} = \frac{999 \cdot 1.01^{998}}{999 \cdot 0.99^{998}} = "
            rf"\Big(\frac{{101}}{{99}}\Big)^{{998}} = {sympy.latex(ratio.evalf(10))}\ldots")
    values = y.subs(w, up) / y.subs(w, down)
    d.holds("and the values $y$ themselves by one factor $101/99$ more (the ratio the figure `lm-w999.png` prints):",
            values == (up / down) ** 999,
            rf"\frac{{y(1.01)}}{{y(0.99)}} = \Big(\frac{{101}}{{99}}\Big)^{{999}} = {sympy.latex(values.evalf(10))}\ldots")
    d.say("So the error surface is flat on one side of $w = 1$ and a cliff on the other: a learning rate "
          f"that moves $w$ usefully where $dy/dw \\approx {float(slope.subs(w, down)):.3g}$ throws it "
          f"${_power_of_ten(ratio)}$ times as far where $dy/dw \\approx {_power_of_ten(slope.subs(w, up))}$. "
          "No single learning rate fits.")
    d.conclude(r"y = h_{1000} = w^{999},\quad \frac{dy}{dw} = 999\,w^{998},\quad "
               rf"\frac{{dy/dw|_{{1.01}}}}{{dy/dw|_{{0.99}}}} = \Big(\frac{{1.01}}{{0.99}}\Big)^{{998}} \approx {_power_of_ten(ratio)}")
    return d


def _digits(value) -> str:
    """``value`` to 15 significant digits as LaTeX, in scientific notation (m \\times 10^e) outside [0.01, 10⁵)."""
    if 1e-2 <= abs(value) < 1e5:
        return f"{float(value):.15g}"
    mantissa, exponent = f"{float(value):.14e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _power_of_ten(value) -> str:
    """``value`` to three figures as LaTeX, m \\times 10^e."""
    mantissa, exponent = f"{float(value):.2e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _toy_in_range(w: float, steps: int) -> bool:
    """Every nonzero number the loops form — the powers w^j (j < T), the terms w^(T−2) and their sums
    up to (T − 1)·|w|^(T−2) — stays within float64's normal range, with a factor 2 to spare (the
    lower end is :func:`gradproofs.compare.underflow_floor`, under which values are not compared)."""
    import mpmath

    magnitude = mpmath.mpf(abs(w))
    smallest = min(mpmath.mpf(1), magnitude ** (steps - 1))
    largest = max(mpmath.mpf(1), magnitude ** (steps - 1), (steps - 1) * magnitude ** (steps - 2))
    return 2 * underflow_floor(FORMATS["float64"]) <= smallest and largest <= float(np.finfo(np.float64).max) / 2


def _linear_unit_agrees(w: float, steps: int, device: str, *, exponent_offset: int = 0) -> Evidence:
    """NumPy and torch autograd give y = w^(T−1) and dy/dw = (T−1)·w^(T−2), computed in mpmath;
    ``exponent_offset`` shifts the claimed exponent (to show that the check rejects w^T)."""
    exact = linear_unit_exact(w, steps + exponent_offset)
    # y = h_T = w^(T−1) is formed by T − 2 rounded products (h_1 = 1 and h_2 = w are exact), so it is
    # off by at most γ_(T−2) ≤ (T − 2)·eps relative (γ_n = n·u/(1 − n·u) ≤ n·eps, u = eps/2). dy/dw =
    # Σ δ_t·h_(t−1): each term carries at most T − 3 rounded multiplications, and the T − 1 terms, all of one
    # sign, are summed (in any order, as autograd accumulates them) with γ_(T−2): γ_(2T−5) ≤ (2T − 5)·eps.
    # Both lie below (T − 1)·eps and 2(T − 1)·eps.
    tolerance = [(steps - 1) * EPS64, 2 * (steps - 1) * EPS64]
    return Evidence.agreement(Agreement.worst(
        assert_close(f"{name} (y, dy/dw) at w = {w!r}, T = {steps}", result, [float(v) for v in exact],
                     [abs(float(v)) for v in exact], tolerance, reason="T − 2 roundings for y, 2T − 5 for dy/dw")
        for name, result in (("numpy", linear_unit(w, steps)),
                             (f"torch autograd ({device})", linear_unit_torch(w, steps, device=device)))))


def _check_toy(data, device: str) -> Evidence:
    magnitude = data.draw(st.one_of(st.sampled_from([1.0, 1.01, 0.99]), st.floats(0.98, 1.02), st.floats(0.5, 2.0)),
                          label="|w|")
    w = data.draw(st.sampled_from([1.0, -1.0]), label="sign of w") * magnitude
    steps = data.draw(st.one_of(st.just(TOY_STEPS), st.integers(2, TOY_STEPS)), label="T")
    assume(_toy_in_range(w, steps))  # no power of w over- or underflows float64
    return _linear_unit_agrees(w, steps, device)


register(Theorem(
    id="w999-toy",
    family=FAMILY.id,
    title="The RNN amplifies how much a weight change matters",
    statement=r"Feed one linear unit with recurrent weight $w$, $h_t = w\,h_{t-1} + x_t$, $h_0 = 0$, the input 1 "
              r"at the first of 1000 steps and 0 after: $y = h_{1000} = w^{999}$ and $dy/dw = 999\,w^{998}$. At "
              r"$w = 1$, $y = 1$ and $dy/dw = 999$; at $w = 1.01$, $y \approx 20751.639$ and $dy/dw \approx "
              r"2.05256 \times 10^{7}$; at $w = 0.99$, $y \approx 4.36073 \times 10^{-5}$ and $dy/dw \approx 0.0440$; "
              r"at $w = 0.01$, $y = 10^{-1998}$, 0 in float64. The slopes $dy/dw$ at $w = 1.01$ and $w = 0.99$ "
              r"differ by $(101/99)^{998} \approx 4.66 \times 10^{8}$, the values $y$ by $(101/99)^{999} \approx "
              r"4.76 \times 10^{8}$: the error surface is flat on one side and a cliff on the other, and no single "
              "learning rate fits.",
    latex=r"y = h_{1000} = w^{999},\quad \frac{dy}{dw} = 999\,w^{998}",
    source=LECTURE + ", the toy example of why RNN training is hard",
    kind="exact",
    engines=("sympy", "mpmath", "numpy", "torch"),
    derive=_derive_toy,
    check=_check_toy,
))


# --- not the sigmoid -------------------------------------------------------------------------

MIN_ENTRY = 1e-3  # W_h's entries are 0 or at least this: no product of them underflows


def _derive_not_the_sigmoid() -> Derivation:
    import sympy

    from gradproofs import symbolic

    d = Derivation()
    w, h, u = sympy.symbols("w h u", real=True)
    f, fprime = symbolic.undefined("f")
    d.holds("A scalar unit $h_t = f(w h_{t-1} + u_t)$: SymPy's derivative of one step is $w$ times $f'$ at "
            "the pre-activation $a_t = w h_{t-1} + u_t$ (the factor of *Backpropagation through time, and the "
            "Jacobian as a product* with one unit),", symbolic.agree(sympy.diff(f(w * h + u), h), w * fprime(w * h + u)),
            r"\frac{\partial h_t}{\partial h_{t-1}} = w\,f'(a_t),\qquad "
            r"\frac{\partial h_T}{\partial h_1} = \prod_{t=2}^{T} w\,f'(a_t)")
    sigmoid, relu = activations.get("sigmoid"), activations.get("relu")
    gamma = sigmoid.derivative_bound
    d.show("Sigmoid: $\\sigma' \\le \\gamma$, derived in *The derivative of sigmoid and its bound*:", gamma,
           lhs=r"\gamma = \sup_z \sigma'(z)")
    magnitude = sympy.Symbol("|w|", positive=True)
    t, T = sympy.Symbol("t", integer=True), sympy.Symbol("T", integer=True, positive=True)
    ceiling = sympy.Product(magnitude * gamma, (t, 2, T))
    d.equal("so each factor $|w\\sigma'(a_t)| \\le |w|/4$ and, for every input, the product is at most",
            ceiling, (magnitude / 4) ** (T - 1), simplify=lambda e: sympy.simplify(e.doit()))
    positive_half_line = sympy.Interval.open(0, sympy.oo)
    d.holds("It can exceed 1, and so grow with $T$, only if $|w| > 4$:",
            sympy.solveset(magnitude * gamma > 1, magnitude, positive_half_line) == sympy.Interval.open(4, sympy.oo),
            r"\Big(\frac{|w|}{4}\Big)^{T-1} > 1 \iff |w| > 4")
    d.show("ReLU: its derivative, from *The derivative of relu and its bound*,", relu.derivative,
           lhs=r"\operatorname{relu}'(z)")
    a = sympy.Symbol("a_t", positive=True)
    factor = w * relu.derivative.subs(relu.z, a)
    d.equal("is 1 at a positive pre-activation, so each factor is exactly $w$ and, with every pre-activation "
            "positive, the product is exactly", sympy.Product(factor, (t, 2, T)), w ** (T - 1),
            simplify=lambda e: sympy.simplify(e.doit()))
    d.equal("ReLU's product is $4^{T-1}$ times the sigmoid's ceiling, whatever $w > 0$:",
            magnitude ** (T - 1) / ceiling.doit(), 4 ** (T - 1))
    d.holds("For $1 < w < 4$ the ReLU unit explodes ($w > 1$) while the sigmoid unit vanishes ($w/4 < 1$), "
            "and that interval is exactly where both hold:",
            sympy.solveset(magnitude > 1, magnitude, positive_half_line).intersect(
                sympy.solveset(magnitude * gamma < 1, magnitude, positive_half_line)) == sympy.Interval.open(1, 4),
            r"w^{T-1} \to \infty,\quad \Big(\frac{w}{4}\Big)^{T-1} \to 0 \qquad (1 < w < 4)")
    W = sympy.Matrix(2, 2, lambda i, j: sympy.Symbol(f"W_{{{i + 1}{j + 1}}}", real=True))
    pre = [[sympy.Symbol(f"a_{{{s}{i}}}", positive=True) for i in (1, 2)] for s in (1, 2, 3)]
    factors = [sympy.diag(*[relu.derivative.subs(relu.z, a_si) for a_si in a_s]) * W for a_s in pre]
    d.holds("Matrix form: the factor is $\\operatorname{diag}(f'(a_s))\\,W_h$; for ReLU with every "
            "pre-activation positive it is $W_h$ itself, so (three steps of a 2-unit network, with symbolic "
            "$W_h$ and positive $a_s$, multiplied out by SymPy)",
            sympy.simplify(factors[2] * factors[1] * factors[0] - W ** 3).is_zero_matrix,
            r"\prod_{s=1}^{3}\operatorname{diag}(\operatorname{relu}'(a_s))\,W_h = W_h^3,\qquad "
            r"\frac{\partial h_T}{\partial h_k} = W_h^{T-k}")
    d.say("Its norm lies between $\\rho(W_h)^{T-k}$ and $\\sigma_{\\max}(W_h)^{T-k}$ (*A linear RNN's Jacobian "
          "lies between $\\rho(W)^l$ and $\\|W\\|_2^l$*), while the sigmoid's factors have norm at most "
          "$\\sigma_{\\max}(W_h)/4$ (*Pascanu's bound: vanishing is sufficient, exploding only necessary*, "
          "$\\gamma = 1/4$):",
          r"\Big\|\frac{\partial h_T}{\partial h_k}\Big\|_2 \le \Big(\frac{\sigma_{\max}(W_h)}{4}\Big)^{T-k}")
    n = sympy.Symbol("n", integer=True, positive=True)
    ones = sympy.ones(2, 2)
    d.holds("For example $W_h$ of ones, $W_h \\ge 0$, symmetric with eigenvalues 2 and 0, so "
            "$\\rho = \\sigma_{\\max} = 2$: ReLU's product doubles at every step while the sigmoid's is at "
            "most $2^{-n}$.", ones.eigenvals() == {2: 1, 0: 1} and ones.is_symmetric()
            and sympy.simplify(ones ** n - 2 ** (n - 1) * ones).is_zero_matrix,
            r"W_h = \begin{pmatrix}1 & 1\\ 1 & 1\end{pmatrix}:\quad W_h^n = 2^{n-1}\,W_h,\quad "
            r"\|W_h^n\|_2 = 2^n,\quad \Big(\frac{\sigma_{\max}(W_h)}{4}\Big)^n = 2^{-n}")
    d.conclude(r"\text{sigmoid: } \Big|\frac{\partial h_T}{\partial h_1}\Big| \le \Big(\frac{|w|}{4}\Big)^{T-1};\quad "
               r"\text{ReLU, } a_t > 0\text{: } \frac{\partial h_T}{\partial h_1} = w^{T-1},\ "
               r"\frac{\partial h_T}{\partial h_k} = W_h^{T-k}")
    return d


def _draw_positive_network(data):
    """(u, h_0, W_x, W_h, b) with W_h ≥ 0, inputs u_t > 0, h_0 = 0, W_x = I and b = 0, so that every ReLU
    pre-activation a_t = W_h h_(t−1) + u_t ≥ u_t is positive; and k, with 0 ≤ k < T.

    W_h is a drawn W of spectral radius ρ with its signs dropped (ρ(|W|) ≥ ρ(W) = ρ), and its entries
    below :data:`MIN_ENTRY` set to 0; H = 1 is the scalar unit, w = W_h.
    """
    hidden = data.draw(st.one_of(st.just(1), st.integers(2, 4)), label="H")
    rho = data.draw(st.one_of(st.floats(1.0, 4.0, exclude_min=True, exclude_max=True), st.floats(0.1, 6.0)),
                    label="rho")
    W_h = np.abs(data.draw(rnn_strategies.recurrent_matrices(hidden, spectral_radius=rho), label="W"))
    W_h = np.where(W_h < MIN_ENTRY, 0.0, W_h)
    steps = data.draw(st.integers(1, 30), label="T")
    u = data.draw(hnp.arrays(np.float64, (steps, 1, hidden), elements=st.floats(0.01, 2.0)), label="u")
    k = data.draw(st.integers(0, steps - 1), label="k")
    return (u, np.zeros((1, hidden)), np.eye(hidden), W_h, np.zeros(hidden)), k


def _jacobian_torch(problem, k: int, activation: str, device: str) -> np.ndarray:
    """∂h_T/∂h_k by torch.autograd.functional.jacobian of the steps k + 1..T (W_x = I, b = 0)."""
    torch = devices.torch()
    u, _, _, W_h, _ = problem
    start = rnn.forward(*problem, activation=activation)[k, 0]
    options = dict(dtype=torch.float64, device=devices.resolve(device))
    W, inputs, f = torch.tensor(W_h, **options), torch.tensor(u[k:, 0], **options), activations.get(activation).torch

    def steps(h):
        for u_t in inputs:
            h = f(W @ h + u_t)
        return h

    return to_numpy(torch.autograd.functional.jacobian(steps, torch.tensor(start, **options)))


def _products_agree(problem, k: int, device: str, *, sigmoid_gain: float = 1.0) -> Evidence:
    """ReLU's ∂h_T/∂h_k equals W_h^(T−k) and the sigmoid's has ‖·‖₂ ≤ (σ_max(W_h)/4)^(T−k), in NumPy
    and torch; ``sigmoid_gain`` multiplies every sigmoid factor (2: a unit whose derivative peaks at 1/2)."""
    import mpmath

    u, _, _, W_h, _ = problem
    steps, hidden = u.shape[0], W_h.shape[0]
    n = steps - k
    unit = f"w = {W_h[0, 0]!r}" if hidden == 1 else f"W_h = {W_h.tolist()!r}"
    with mpmath.workdps(40):
        power = np.array((mpmath.matrix(W_h.tolist()) ** n).tolist(), dtype=np.float64)
    # Every factor and partial product is ≥ 0, so each H-term inner product rounds by at most γ_H of its
    # value, entry by entry: n − 1 such products (the first, W_h·I, is exact) give ≤ γ_((n−1)H) ≤ (n − 1)·H·eps
    # relative to each entry of W_h^n. A structural 0 must come out 0: judged against the largest entry.
    scale = np.where(power > 0, power, power.max())
    sigma_max = float(np.linalg.norm(W_h, 2))
    bound = (sigma_max / 4) ** n
    # ‖∏‖₂ ≤ ∏‖factor‖₂, each factor's rounding (σ′, the product by W_h, H-term sums, all ≥ 0 here) and the
    # two SVDs' few ulps: 4·(n + 1)·(H + 2)·eps relative, the allowance of *Pascanu's bound*.
    rounding = 4 * EPS64 * (n + 1) * (hidden + 2)
    evidence = None
    for engine, jacobian in (("numpy", lambda activation: rnn.jacobian(*problem, steps, k, activation=activation)[0]),
                             (f"torch autograd ({device})", lambda activation: _jacobian_torch(problem, k, activation,
                                                                                               device))):
        relu = assert_close(f"{engine} ReLU ∂h_T/∂h_k against W_h^(T−k) (T − k = {n}, {unit})",
                            jacobian("relu"), power, scale, (n - 1) * hidden * EPS64,
                            reason="n − 1 products of nonnegative H × H matrices")
        norm = float(np.linalg.norm(sigmoid_gain ** n * jacobian("sigmoid"), 2))
        if norm > bound * (1 + rounding):
            raise Mismatch(f"{engine}: the sigmoid's ‖∂h_T/∂h_k‖₂ = {norm!r} exceeds (σ_max/4)^(T−k) = {bound!r} "
                           f"(T − k = {n}, σ_max = {sigma_max!r}, {unit})")
        evidence = Evidence.bound(norm, bound, allowed=bound * (1 + rounding)).beside(
            Evidence.agreement(relu)).worse(evidence)
    return evidence


def _check_not_the_sigmoid(data, device: str) -> Evidence:
    problem, k = _draw_positive_network(data)
    return _products_agree(problem, k, device)


register(Theorem(
    id="not-the-sigmoid",
    family=FAMILY.id,
    title="The explosion does not come from the sigmoid; with ReLU it is worse",
    statement=r"For a unit $h_t = f(w\,h_{t-1} + u_t)$, $\partial h_T/\partial h_1$ is the product of the $T - 1$ "
              r"factors $w\,f'(a_t)$. With the sigmoid each $|w\,\sigma'(a)| \le |w|/4$, so the product is at most "
              r"$(|w|/4)^{T-1}$ for every input and can grow only if $|w| > 4$. With ReLU and every pre-activation "
              r"positive each factor is exactly $w$ and the product exactly $w^{T-1}$: for $1 < w < 4$ ReLU explodes "
              r"while the sigmoid vanishes. In matrix form, for $W_h \ge 0$ elementwise and every pre-activation "
              r"positive, ReLU's $\partial h_T/\partial h_k$ is exactly $W_h^{T-k}$ (its norm grows like "
              r"$\rho(W_h)^{T-k}$), while the sigmoid's is at most $(\sigma_{\max}(W_h)/4)^{T-k}$ in norm.",
    latex=r"\Big\|\frac{\partial h_T}{\partial h_k}\Big\|_2 \le \Big(\frac{\sigma_{\max}(W_h)}{4}\Big)^{T-k}"
          r"\ \text{(sigmoid)},\qquad \frac{\partial h_T}{\partial h_k} = W_h^{T-k}\ \text{(ReLU, } a_t > 0)",
    source=LECTURE + ", on replacing the sigmoid by ReLU; the bound as in " + PASCANU + ", §2.1",
    kind="bound",
    engines=("sympy", "mpmath", "numpy", "torch"),
    derive=_derive_not_the_sigmoid,
    check=_check_not_the_sigmoid,
))


# --- the language model's backpropagation through time --------------------------------------------

# (T, K, H, tokens, targets): small networks on which SymPy differentiates E plainly
BPTT_SHAPES = ((1, 2, 1, [0], [1]), (2, 3, 2, [2, 0], [1, 2]), (3, 2, 1, [1, 1, 0], [0, 1, 1]))


def _symbols(name, *shape):
    import sympy

    values = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        values[index] = sympy.Symbol(f"{name}_{{{''.join(str(i + 1) for i in index)}}}", real=True)
    return values


def _symbolic_lm(steps, vocabulary, hidden):
    """h0 (1, H), U (H, K), W (H, H), b (H,), V (K, H), c (K,) as arrays of SymPy symbols (B = 1)."""
    return (_symbols("h0", 1, hidden), _symbols("U", hidden, vocabulary), _symbols("W", hidden, hidden),
            _symbols("b", hidden), _symbols("V", vocabulary, hidden), _symbols("c", vocabulary))


def _sympy_softmax(o):
    import sympy

    e = np.frompyfunc(sympy.exp, 1, 1)(o)
    return e / e.sum(axis=1, keepdims=True)


def _sympy_log_sum_exp(o):
    import sympy

    return np.frompyfunc(sympy.log, 1, 1)(np.frompyfunc(sympy.exp, 1, 1)(o).sum(axis=1))


# (T, K, H, tokens, targets): the tanh network on which δ_t is derived by hand, step by step
_BY_HAND = (3, 2, 2, [0, 1, 1], [1, 0, 1])


def _unrolled_tanh_lm():
    """The tanh language model of ``_BY_HAND``'s sizes and tokens unrolled on SymPy symbols: its states
    h_0..h_T and outputs o_1..o_T, and plain ``sympy.diff`` of its loss E with respect to every parameter
    and to every o_t, h_t and a_t (each taken by adding a symbol ε to that quantity in the forward pass and
    differentiating at ε = 0)."""
    import sympy

    steps, vocabulary, hidden, tokens, targets = _BY_HAND

    def matrix(name, rows, columns):
        return sympy.Matrix(rows, columns, lambda i, j: sympy.Symbol(
            f"{name}_{{{i + 1}{j + 1 if columns > 1 else ''}}}", real=True))

    U, W, V = matrix("U", hidden, vocabulary), matrix("W", hidden, hidden), matrix("V", vocabulary, hidden)
    b, c, h0 = matrix("b", hidden, 1), matrix("c", vocabulary, 1), matrix("h0", hidden, 1)
    nudges = {kind: [matrix(rf"\varepsilon^{kind}_{t}", size, 1) for t in range(1, steps + 1)]
              for kind, size in (("o", vocabulary), ("h", hidden), ("a", hidden))}
    h, o, loss = [h0], [], sympy.Integer(0)
    for t in range(steps):
        a = U * _basis(tokens[t], vocabulary) + W * h[t] + b + nudges["a"][t]
        h.append(a.applyfunc(sympy.tanh) + nudges["h"][t])
        o.append(V * h[t + 1] + c + nudges["o"][t])
        loss += sympy.log(sum(sympy.exp(v) for v in o[t])) - o[t][targets[t]]
    at_zero = {symbol: 0 for kind in nudges.values() for nudge in kind for symbol in nudge}

    def diff(variable):
        return sympy.ImmutableMatrix(*variable.shape, lambda i, j: sympy.diff(loss, variable[i, j]).xreplace(at_zero))

    return dict(U=U, W=W, V=V, b=b, c=c, h0=h0, h=[m.xreplace(at_zero) for m in h], o=[m.xreplace(at_zero) for m in o],
                tokens=tokens, targets=targets, steps=steps, vocabulary=vocabulary, hidden=hidden,
                wrt={kind: [diff(nudge) for nudge in kind_nudges] for kind, kind_nudges in nudges.items()},
                grad={name: diff(value) for name, value in dict(U=U, W=W, V=V, b=b, c=c, h0=h0).items()})


def _basis(v: int, size: int):
    """e(v), the one-hot column of ``v`` among ``size``, as a SymPy matrix."""
    import sympy

    return sympy.ImmutableMatrix(size, 1, lambda i, _: int(i == v))


def _vanishes_under(*substitutions):
    """A ``simplify`` for :meth:`Derivation.equal` on matrix expressions: the difference with the named matrices
    replaced by their entries, under each of ``substitutions`` in turn, expanded (every f′ of an undefined f
    written one way, :func:`gradproofs.symbolic.canonical`) and stacked: the zero matrix exactly when it
    vanishes under every one."""
    import sympy

    return lambda difference: sympy.Matrix.vstack(*[
        sympy.Matrix(difference.xreplace(s).doit()).applyfunc(lambda entry: sympy.expand(symbolic.canonical(entry)))
        for s in substitutions])


def _derive_by_hand(d: Derivation) -> None:
    """δ_t of the tanh language model by hand, each step checked at every t of the sizes and tokens of ``_BY_HAND``."""
    import sympy
    from sympy import MatrixSymbol

    net = _unrolled_tanh_lm()
    steps, K, H = net["steps"], net["vocabulary"], net["hidden"]
    ts = range(1, steps + 1)
    one_hot = [_basis(v, K) for v in net["targets"]]
    inputs = [_basis(v, K) for v in net["tokens"]]
    zero = sympy.ImmutableMatrix.zeros(H, 1)
    true = {kind: dict(zip(ts, values)) for kind, values in net["wrt"].items()}

    def softmax(o):
        return sympy.ImmutableMatrix([sympy.exp(v) for v in o]) / sum(sympy.exp(v) for v in o)

    def tanh_prime(t):
        return sympy.ImmutableMatrix(sympy.diag(*[1 - v ** 2 for v in net["h"][t]]))

    V, W = MatrixSymbol(r"V^{\top}", H, K), MatrixSymbol(r"W^{\top}", H, H)  # shown as they enter: transposed
    dE_do, dE_dh = MatrixSymbol(r"\frac{\partial E}{\partial o_t}", K, 1), MatrixSymbol(r"\frac{\partial E}{\partial h_t}", H, 1)
    dE_da = MatrixSymbol(r"\frac{\partial E}{\partial a_t}", H, 1)
    y_hat, target = MatrixSymbol(r"\hat y_t", K, 1), MatrixSymbol("e(y_{t})", K, 1)
    delta_o, delta_next = MatrixSymbol(r"\delta^o_t", K, 1), MatrixSymbol(r"\delta_{t+1}", H, 1)
    slope = MatrixSymbol(r"\operatorname{diag}(1 - h_t^{2})", H, H)
    weights = {V: sympy.ImmutableMatrix(net["V"].T), W: sympy.ImmutableMatrix(net["W"].T)}

    d.say(r"Now by hand, for the model itself: $a_t = U x_t + W h_{t-1} + b$, $h_t = \tanh(a_t)$, "
          r"$o_t = V h_t + c$, $\hat y_t = \operatorname{softmax}(o_t)$, $E = \sum_t -\log \hat y_t[y_t]$. "
          f"SymPy checks each step at every $t$ of a network with $T = {steps}$, $K = {K}$, $H = {H}$ (tokens "
          f"{net['tokens']}, targets {net['targets']}, every parameter a symbol): a derivative of $E$ is plain "
          "`sympy.diff` of the unrolled loss; one with respect to $o_t$, $h_t$ or $a_t$ is taken by adding a "
          "symbol to that quantity in the forward pass and differentiating at 0.")
    d.equal(r"Only step $t$'s loss depends on $o_t$, so the output error is the one above:",
            dE_do, y_hat - target, label=r"\delta^o_t",
            simplify=_vanishes_under(*[{dE_do: true["o"][t], y_hat: softmax(net["o"][t - 1]), target: one_hot[t - 1]}
                                       for t in ts]))
    d.equal(r"$h_t$ feeds two places, $o_t = V h_t + c$ and $a_{t+1} = U x_{t+1} + W h_t + b$, and the chain rule "
            r"adds the two paths, with $\delta_{t+1} = \partial E/\partial a_{t+1}$ ($\delta_{T+1} = 0$: the last "
            "state feeds no later step):", dE_dh, V * delta_o + W * delta_next,
            simplify=_vanishes_under(*[{**weights, dE_dh: true["h"][t], delta_o: true["o"][t],
                                        delta_next: true["a"].get(t + 1, zero)} for t in ts]))
    a = sympy.Symbol("a", real=True)
    d.equal(r"$h_t = \tanh(a_t)$ entry by entry, and $\tanh' = 1 - \tanh^2$, which is $1 - h^2$ at $h = \tanh a$:",
            sympy.Derivative(sympy.tanh(a), a), 1 - sympy.tanh(a) ** 2, simplify=lambda e: sympy.simplify(e.doit()))
    d.equal(r"So $\partial h_t/\partial a_t = \operatorname{diag}(1 - h_t^2)$, and $\delta_t$ is "
            r"$(1 - h_t^2) \odot \partial E/\partial h_t$:", dE_da, slope * dE_dh, label=r"\delta_t",
            simplify=_vanishes_under(*[{dE_da: true["a"][t], slope: tanh_prime(t), dE_dh: true["h"][t]} for t in ts]))
    backward = {steps + 1: zero}
    for t in reversed(ts):
        backward[t] = tanh_prime(t) * (net["V"].T * (softmax(net["o"][t - 1]) - one_hot[t - 1])
                                       + net["W"].T * backward[t + 1])
    d.equal(r"Together, the backward pass: from $\delta_{T+1} = 0$, for $t = T, \dots, 1$. Here every "
            r"$\delta^o_t$ and $\delta_{t+1}$ on the right is the one these formulas gave, not SymPy's:",
            dE_da, slope * (V * delta_o + W * delta_next), label=r"\delta_t",
            simplify=_vanishes_under(*[{**weights, dE_da: true["a"][t], slope: tanh_prime(t),
                                        delta_o: softmax(net["o"][t - 1]) - one_hot[t - 1],
                                        delta_next: backward[t + 1]} for t in ts]))
    deltas = [MatrixSymbol(rf"\delta_{{{t}}}", H, 1) for t in ts]
    deltas_o = [MatrixSymbol(rf"\delta^o_{{{t}}}", K, 1) for t in ts]
    states = [MatrixSymbol(rf"h_{{{t}}}^{{\top}}", 1, H) for t in range(steps + 1)]  # rows: h_t transposed
    tokens = [MatrixSymbol(rf"e(x_{{{t}}})^{{\top}}", 1, K) for t in ts]
    given = {**weights, **{m: backward[t] for m, t in zip(deltas, ts)},
             **{m: softmax(net["o"][t - 1]) - one_hot[t - 1] for m, t in zip(deltas_o, ts)},
             **{m: sympy.ImmutableMatrix(net["h"][t].T) for t, m in enumerate(states)},
             **{m: x.T for m, x in zip(tokens, inputs)}}
    for name, text, shape, formula in (
            ("W", r"The parameters, with the $\delta_t$ of the backward pass. $W$ enters every step through "
                  r"$W h_{t-1}$, and $\partial a_{t,i}/\partial W_{ij} = h_{t-1,j}$: one outer product per step,",
             (H, H), sum((d_t * h for d_t, h in zip(deltas, states)), sympy.ZeroMatrix(H, H))),
            ("U", r"$U$ through $U x_t$, the one-hot input $e(x_t)$,", (H, K),
             sum((d_t * x for d_t, x in zip(deltas, tokens)), sympy.ZeroMatrix(H, K))),
            ("b", r"$b$ through every $a_t$ with $\partial a_t/\partial b = I$,", (H, 1),
             sum(deltas, sympy.ZeroMatrix(H, 1))),
            ("V", r"$V$ through every $o_t = V h_t + c$, with $\delta^o_t$ in place of $\delta_t$,", (K, H),
             sum((d_t * h for d_t, h in zip(deltas_o, states[1:])), sympy.ZeroMatrix(K, H))),
            ("c", "$c$ likewise,", (K, 1), sum(deltas_o, sympy.ZeroMatrix(K, 1))),
            ("h0", r"and the initial state $h_0$ through $a_1$ alone:", (H, 1), W * deltas[0])):
        gradient = MatrixSymbol(rf"\frac{{\partial E}}{{\partial {name.replace('h0', 'h_0')}}}", *shape)
        d.equal(text, gradient, formula, simplify=_vanishes_under({**given, gradient: net["grad"][name]}))


def _derive_lm_bptt() -> Derivation:
    import sympy

    d = Derivation()
    o = sympy.symbols("o_1:4", real=True)
    p = [sympy.exp(v) / sum(sympy.exp(u) for u in o) for v in o]
    d.holds("The output error: for the cross-entropy of a softmax and a one-hot target $y$, "
            r"$\partial(-\log \hat y_y)/\partial o_k = \hat y_k - [k = y]$ for every $k$ and $y$ (three classes), so "
            r"$\delta^o_t = \hat y_t - e(y_t)$.",
            all(sympy.simplify(sympy.diff(-sympy.log(p[y]), o[k]) - (p[k] - (1 if k == y else 0))) == 0
                for y in range(3) for k in range(3)),
            r"\frac{\partial E_t}{\partial o_t} = \hat y_t - e(y_t)")
    _derive_by_hand(d)
    f, fprime = symbolic.undefined("f")
    elementwise = [np.frompyfunc(g, 1, 1) for g in (f, fprime)]
    d.say("The same steps hold with $f'(a_t)$ in place of $1 - h_t^2$ for any activation $f$. Let $f$ be any "
          "differentiable activation (an undefined SymPy function) and "
          r"$E = \sum_t -\log \operatorname{softmax}(V h_t + c)[y_t]$, $h_t = f(U e(x_t) + W h_{t-1} + b)$. "
          "`lm`'s recurrence (the BPTT steps above), run on arrays of SymPy symbols, must equal plain "
          "`sympy.diff` of the unrolled network for every parameter and $h_0$:")
    for steps, vocabulary, hidden, tokens, targets in BPTT_SHAPES:
        h0, U, W, b, V, c = _symbolic_lm(steps, vocabulary, hidden)
        x, y = np.array(tokens)[:, None], np.array(targets)[:, None]
        result = lm.recurrence(x, y, h0, U, W, b, V, c, "sum", *elementwise, _sympy_softmax, _sympy_log_sum_exp)
        # E written out independently: Σ_t log Σ_k exp(o_tk) − o_t[y_t] over the unrolled network
        states = rnn.unroll(lm.one_hot(x, vocabulary), h0, U, W, b, elementwise[0])[0]
        outputs = [h @ V.T + c for h in states[1:]]
        loss = sum(sympy.log(sum(sympy.exp(v) for v in o[0])) - o[0][y_t[0]] for o, y_t in zip(outputs, y))
        pairs = [pair for params, grads in ((U, result.U), (W, result.W), (b, result.b), (V, result.V),
                                            (c, result.c), (h0, result.h0))
                 for pair in zip(params.ravel(), grads.ravel())]
        d.holds(f"$T = {steps}$, $K = {vocabulary}$, $H = {hidden}$, tokens {tokens}, targets {targets}: all "
                f"{len(pairs)} partial derivatives agree.",
                all(symbolic.agree(sympy.diff(loss, parameter), gradient) for parameter, gradient in pairs))
    d.conclude("\\begin{aligned}\n"
               r"\delta^o_t &= \hat y_t - e(y_t),\qquad \frac{\partial E}{\partial V} = \sum_t \delta^o_t h_t^\top, \\" "\n"
               r"\delta_t &= \big(V^\top \delta^o_t + W^\top \delta_{t+1}\big) \odot f'(a_t),\qquad "
               r"\frac{\partial E}{\partial U} = \sum_t \delta_t\, e(x_t)^\top,\qquad "
               r"\frac{\partial E}{\partial W} = \sum_t \delta_t h_{t-1}^\top" "\n"
               r"\end{aligned}")
    return d


def _draw_lm(data, *, max_steps=5, max_batch=3, max_vocabulary=5, max_hidden=4, max_entry=1.0):
    """A language-model problem (tokens, targets, h0, U, W, b, V, c) from strategies.lm_sequences, its
    real entries scaled by ``max_entry``."""
    problem = data.draw(strategies.lm_sequences(max_steps=max_steps, max_batch=max_batch,
                                                max_vocabulary=max_vocabulary, max_hidden=max_hidden), label="problem")
    if max_entry == 1.0:
        return problem
    return problem._replace(**{name: getattr(problem, name) * max_entry for name in ("U", "W", "b", "V", "c")})


def _check_lm_bptt(data, device: str) -> Evidence:
    torch = devices.torch()
    problem = _draw_lm(data)
    reduction = data.draw(st.sampled_from(lm.REDUCTIONS), label="reduction")
    reference = lm.reference(*problem, reduction=reduction)
    assume(reference.well_conditioned(EPS64))  # the inputs' conditioning only
    agreements = [reference.assert_matches("numpy", lm.backward(*problem, reduction=reduction),
                                           precision="float64", derivative_from_output=False)]
    dtypes = [torch.float64] + ([torch.float32] if reference.well_conditioned(EPS32) else [])
    for dtype in dtypes:
        for embedding in (False, True):
            result = lm.backward_torch(*problem, reduction=reduction, embedding=embedding, device=device, dtype=dtype)
            agreements.append(reference.assert_matches(
                f"torch {'nn.Embedding' if embedding else 'one-hot'} {dtype} ({device})", result,
                precision=format_of(dtype), derivative_from_output=True))
    return Evidence.agreement(Agreement.worst(agreements))


register(Theorem(
    id="lm-bptt",
    family=FAMILY.id,
    title="The language model's BPTT steps",
    statement=r"For the character-level RNN language model (one-hot $x_t$, $h_t = \tanh(U x_t + W h_{t-1} + b)$, "
              r"$\hat y_t = \operatorname{softmax}(V h_t + c)$, $E = \sum_t -\log \hat y_t[y_t]$): "
              r"$\delta^o_t = \hat y_t - e(y_t)$, $\partial E/\partial V = \sum_t \delta^o_t h_t^\top$, "
              r"$\partial E/\partial c = \sum_t \delta^o_t$, $\delta_t = (V^\top\delta^o_t + W^\top\delta_{t+1}) "
              r"\odot (1 - h_t^2)$, $\partial E/\partial U = \sum_t \delta_t x_t^\top$, $\partial E/\partial W = "
              r"\sum_t \delta_t h_{t-1}^\top$, $\partial E/\partial b = \sum_t \delta_t$, $\partial E/\partial h_0 = "
              r"W^\top\delta_1$.",
    latex=r"\delta_t = \big(V^\top(\hat y_t - e(y_t)) + W^\top \delta_{t+1}\big) \odot (1 - h_t^2)",
    source=SOURCE_NOTES,
    kind="exact",
    engines=("sympy", "mpmath", "numpy", "torch", "torch.nn.RNN"),
    derive=_derive_lm_bptt,
    check=_check_lm_bptt,
))


# --- one-hot inputs: ∂E/∂U is a sum of columns ------------------------------------------------------

def _derive_one_hot_columns() -> Derivation:
    d = Derivation()
    f, fprime = symbolic.undefined("f")
    elementwise = [np.frompyfunc(g, 1, 1) for g in (f, fprime)]
    tokens, targets, vocabulary, hidden = [0, 2, 0], [1, 1, 2], 3, 2
    h0, U, W, b, V, c = _symbolic_lm(len(tokens), vocabulary, hidden)
    x, y = np.array(tokens)[:, None], np.array(targets)[:, None]
    result = lm.recurrence(x, y, h0, U, W, b, V, c, "sum", *elementwise, _sympy_softmax, _sympy_log_sum_exp)
    d.say(r"With one-hot inputs, $U e(x_t)$ is column $x_t$ of $U$: step $t$ touches no other column, and "
          r"$\partial E/\partial U = \sum_t \delta_t\, e(x_t)^\top$ adds $\delta_t$ into column $x_t$ alone. "
          f"On the tokens {tokens} ($K = {vocabulary}$, $H = {hidden}$), with the recurrence on SymPy symbols:")
    d.holds("Column 1, of the token that never occurs, is exactly 0.", all(v == 0 for v in result.U[:, 1]),
            r"\frac{\partial E}{\partial U_{:,1}} = 0")
    d.holds(r"The columns add up to $\partial E/\partial b = \sum_t \delta_t$: each step's $\delta_t$ lands in "
            "exactly one column.", all(symbolic.agree(u, v) for u, v in zip(result.U.sum(axis=1), result.b)),
            r"\sum_v \frac{\partial E}{\partial U_{:,v}} = \frac{\partial E}{\partial b}")
    d.conclude(r"\frac{\partial E}{\partial U_{:,v}} = \sum_{t:\,x_t = v} \delta_t")
    return d


def _check_one_hot_columns(data, device: str) -> Evidence:
    problem = _draw_lm(data)
    K = problem.U.shape[1]
    absent = [v for v in range(K) if v not in problem.tokens]
    agreements = []
    for name, result in (("numpy", lm.backward(*problem)),
                         ("torch nn.Embedding", lm.backward_torch(*problem, embedding=True, device=device)),
                         ("torch one-hot", lm.backward_torch(*problem, device=device))):
        dU, db = to_numpy(result.U), to_numpy(result.b)
        if np.any(dU[:, absent] != 0):
            raise Mismatch(f"{name}: the columns of ∂E/∂U for the absent tokens {absent} are not exactly 0: "
                           f"{dU[:, absent].tolist()}")
        # Summing K columns of δ's adds at most K roundings to the sum's scale, the Σ|δ_t| of the b gradient.
        scale = lm.reference(*problem).scales()["b"]
        agreements.append(assert_close(f"{name} Σ_v ∂E/∂U[:, v]", dU.sum(axis=1), db, scale,
                                       2 * (K + 1) * EPS64, reason="K roundings of the columns' sum"))
    return Evidence.agreement(Agreement.worst(agreements))


register(Theorem(
    id="lm-one-hot-columns",
    family=FAMILY.id,
    title=r"With one-hot inputs, $\partial E/\partial U$ is a sum of columns",
    statement=r"Column $v$ of $\partial E/\partial U$ is the sum of $\delta_t$ over the steps whose input is $v$, and "
              r"exactly 0 for a token that never occurs; the columns add up to $\partial E/\partial b$.",
    latex=r"\frac{\partial E}{\partial U_{:,v}} = \sum_{t:\,x_t = v} \delta_t",
    source=SOURCE_NOTES,
    kind="exact",
    engines=("sympy", "numpy", "torch", "torch.nn.Embedding"),
    derive=_derive_one_hot_columns,
    check=_check_one_hot_columns,
))


# --- why RNN gradients vanish or explode: the decomposition ---------------------------------------

def _derive_decomposition() -> Derivation:
    import sympy
    from sympy import MatrixSymbol

    d = Derivation()
    f, fprime = symbolic.undefined("f")
    elementwise = [np.frompyfunc(g, 1, 1) for g in (f, fprime)]
    w, previous, u = sympy.symbols("W H_{t-1} u_t", real=True)
    d.equal(r"$W$ reaches $H_t = f(a_t)$, $a_t = U x_t + W H_{t-1} + b$, in two ways: directly, and through "
            r"$H_{t-1}$, which depends on $W$ too. The immediate partial derivative $\partial^+ H_t/\partial W$ is the "
            r"first alone: the derivative of $H_t$ with respect to $W$ with $H_{t-1}$ held fixed (one unit shown, "
            r"$u_t = U x_t + b$):", sympy.Derivative(f(w * previous + u), w), fprime(w * previous + u) * previous,
            simplify=symbolic.canonical, label=r"\frac{\partial^+ H_t}{\partial W}")
    d.say(r"With $H_k$ the state of step $k$ and $E_k = -\log \hat y_k[y_k]$ its loss, the chain rule through "
          r"every path from $W$ to $E_k$ gives, term by term,",
          r"\frac{\partial E_k}{\partial W} = \sum_{t \le k} \frac{\partial E_k}{\partial H_k}"
          r"\Big(\prod_{j=t+1}^{k} \frac{\partial H_j}{\partial H_{j-1}}\Big) \frac{\partial^+ H_t}{\partial W},\quad "
          r"\frac{\partial H_j}{\partial H_{j-1}} = \operatorname{diag}(f'(a_j))\,W")
    for tokens, targets, vocabulary, hidden in (([0, 1], [1, 0], 2, 2), ([1, 0, 1], [0, 0, 1], 2, 2)):
        h0, U, W, b, V, c = _symbolic_lm(len(tokens), vocabulary, hidden)
        x, y = np.array(tokens)[:, None], np.array(targets)[:, None]
        result = lm.recurrence(x, y, h0, U, W, b, V, c, "sum", *elementwise, _sympy_softmax, _sympy_log_sum_exp)
        states, pre = rnn.unroll(lm.one_hot(x, vocabulary), h0, U, W, b, elementwise[0])
        delta_o = result.probabilities - lm.one_hot(y, vocabulary)
        terms = lm.decomposition_terms(states, pre, delta_o, W, V, elementwise[1])
        d.holds(f"$T = {len(tokens)}$, $H = {hidden}$: the double sum over $k$ and $t$ (`lm.decomposition`) equals BPTT's "
                r"$\partial E/\partial W$ in every entry, on SymPy symbols.",
                all(symbolic.agree(u, v) for u, v in zip(terms.ravel(), result.W.ravel())))
    W = sympy.Matrix(2, 2, lambda i, j: sympy.Symbol(f"W_{{{i + 1}{j + 1}}}", real=True))
    state = sympy.Matrix(sympy.symbols("H_{t1} H_{t2}", real=True))
    inputs = [sympy.Matrix(sympy.symbols(f"u_{{{s}1}} u_{{{s}2}}", real=True)) for s in ("t+1", "t+2")]
    pre, states = [], [state]
    for u_j in inputs:
        pre.append(W * states[-1] + u_j)
        states.append(pre[-1].applyfunc(f))
    slopes = [sympy.ImmutableMatrix(sympy.diag(*[fprime(v) for v in a_j])) for a_j in pre]
    shown = [MatrixSymbol(rf"\operatorname{{diag}}(f'(a_{{{s}}}))", 2, 2) for s in ("t+1", "t+2")]
    jacobian, weight = MatrixSymbol(r"\frac{\partial H_{t+2}}{\partial H_t}", 2, 2), MatrixSymbol("W", 2, 2)
    d.equal(r"Why the terms from far back vanish or explode: the chain from $H_t$ to $H_k$ multiplies one factor "
            r"$\partial H_j/\partial H_{j-1} = \operatorname{diag}(f'(a_j))\,W$ per step, the later ones on the "
            r"left, $\partial H_k/\partial H_t = \operatorname{diag}(f'(a_k))\,W \cdots "
            r"\operatorname{diag}(f'(a_{t+1}))\,W$. Two steps of a 2-unit network, the Jacobian by SymPy:",
            jacobian, shown[1] * weight * shown[0] * weight,
            simplify=_vanishes_under({jacobian: sympy.ImmutableMatrix(states[-1].jacobian(state)),
                                      weight: sympy.ImmutableMatrix(W), shown[0]: slopes[0], shown[1]: slopes[1]}))
    d.say(r"The 2-norm of a product is at most the product of the norms, and $\|\operatorname{diag}(f'(a_j))\|_2 = "
          r"\max_i |f'(a_{j,i})| \le \gamma = \sup|f'|$, so",
          r"\Big\|\frac{\partial H_k}{\partial H_t}\Big\|_2 \le \prod_{j=t+1}^{k} "
          r"\|\operatorname{diag}(f'(a_j))\|_2\,\|W\|_2 \le \big(\gamma\,\|W\|_2\big)^{k-t}")
    d.holds(r"For tanh, $\gamma = 1$ (*The derivative of tanh and its bound*). So when $\gamma\|W\|_2 < 1$, here "
            r"$\|W\|_2 < 1$, the terms from steps $t$ far before $k$ shrink geometrically in $k - t$: the gradient "
            r"vanishes. They can grow only when $\|W\|_2 > 1/\gamma$: necessary for exploding, not sufficient "
            r"(*Pascanu's bound: vanishing is sufficient, exploding only necessary*, checked numerically there).",
            activations.get("tanh").derivative_bound == 1, r"\gamma = \sup_z \tanh'(z) = 1")
    d.conclude("\\begin{aligned}\n"
               r"\frac{\partial E}{\partial W} &= \sum_k \sum_{t \le k} \frac{\partial E_k}{\partial H_k}"
               r"\Big(\prod_{j=t+1}^{k} \operatorname{diag}(f'(a_j))\,W\Big) \frac{\partial^+ H_t}{\partial W}, \\" "\n"
               r"\Big\|\frac{\partial H_k}{\partial H_t}\Big\|_2 &\le \big(\gamma\,\|W\|_2\big)^{k-t}" "\n"
               r"\end{aligned}")
    return d


def _check_decomposition(data, device: str) -> Evidence:
    import mpmath

    problem = _draw_lm(data, max_steps=4, max_batch=2, max_vocabulary=3, max_hidden=3)
    terms = lm.decomposition(*problem, exact=True)
    bptt = lm.backward_exact(*problem, reduction="sum").W
    with mpmath.workdps(60):
        scale = max(abs(v) for v in bptt.ravel()) + mpmath.mpf(1)
        error = float(max(abs(u - v) for u, v in zip(terms.ravel(), bptt.ravel())) / scale)
    if not error <= 1e-30:
        raise Mismatch(f"the decomposition differs from BPTT by {error:.3g} of the largest entry (over 1e-30)")
    return Evidence.within(error, 1e-30, "of 1 + the largest entry")


register(Theorem(
    id="lm-decomposition",
    family=FAMILY.id,
    title=r"Why RNN gradients vanish or explode: $\partial E_k/\partial W$ as a sum over earlier steps",
    statement=r"$\partial E_k/\partial W = \sum_{t \le k} \frac{\partial E_k}{\partial H_k}\big(\prod_{j=t+1}^{k} "
              r"\frac{\partial H_j}{\partial H_{j-1}}\big) \frac{\partial^+ H_t}{\partial W}$, where $\partial^+$ is the "
              r"immediate partial derivative ($H_{t-1}$ held fixed) and $\partial H_j/\partial H_{j-1} = "
              r"\operatorname{diag}(\tanh'(a_j))\,W$; summed over $k$ it is BPTT's $\partial E/\partial W$, term by term. "
              r"The product, later factors on the left, has norm at most $(\gamma\|W\|_2)^{k-t}$ ($\gamma = \sup|f'|$, 1 "
              r"for tanh): when $\gamma\|W\|_2 < 1$ the terms from far-back steps vanish geometrically; they can grow "
              r"only when $\|W\|_2 > 1/\gamma$ (necessary, not sufficient).",
    latex=r"\frac{\partial E_k}{\partial W} = \sum_{t \le k} \frac{\partial E_k}{\partial H_k}"
          r"\Big(\prod_{j=t+1}^{k} \frac{\partial H_j}{\partial H_{j-1}}\Big) \frac{\partial^+ H_t}{\partial W}",
    source=SOURCE_NOTES + "; the bound as in " + PASCANU + ", §2.1, eq. 6–7",
    kind="exact",
    engines=("sympy", "mpmath"),
    derive=_derive_decomposition,
    check=_check_decomposition,
    uses_torch=False,
))


# --- clipping the language model's updates -------------------------------------------------------------

VALUE_THRESHOLD = 15.0  # "when the slope exceeds 15, set it to 15"


def _derive_clipped_updates() -> Derivation:
    import sympy

    d = Derivation()
    lr, c, k = sympy.symbols("eta c k", positive=True)
    d.equal(r"Value clipping at $c$, $\mathrm{clip}_c(g) = \max(-c, \min(c, g))$, maps every entry above $c$ "
            r"(here $c + k$, $k > 0$) to $c$", sympy.Max(-c, sympy.Min(c, c + k)), c, label=r"\mathrm{clip}_c(c + k)")
    d.equal(r"and every entry below $-c$ to $-c$, leaving the others in $[-c, c]$: so one SGD step "
            r"$\theta' = \theta - \eta\,\mathrm{clip}_c(g)$ moves every parameter by at most $\eta c$,",
            sympy.Max(-c, sympy.Min(c, -c - k)), -c, label=r"\mathrm{clip}_c(-c - k)")
    d.equal(r"and with every one of the $P$ entries at the bound ($P = 4$ shown) the step's length is "
            r"$\eta c \sqrt P$, its largest:", lr * sympy.sqrt(sympy.Add(*[c ** 2] * 4, evaluate=False),
                                                            evaluate=False), 2 * lr * c)
    d.say(r"Norm clipping at $\tau$ rescales $g$ to length at most $\tau$, so the step is at most $\eta\tau$ long. "
          r"With $c = 15$, the lecture's rule: every entry of every update is at most $15\eta$, the update at most "
          r"$15\eta\sqrt P$ — whatever the cliff the gradient came from.")
    d.conclude(r"|\Delta\theta_i| \le 15\,\eta,\quad \|\Delta\theta\|_2 \le 15\,\eta\sqrt P\ "
               r"(\text{value, } c = 15),\qquad \|\Delta\theta\|_2 \le \eta\,\tau\ (\text{norm})")
    return d


def _check_clipped_updates(data, device: str) -> Evidence:
    torch = devices.torch()
    problem = _draw_lm(data, max_entry=4.0)  # weights up to 4: gradients beyond 15 are common
    gradients = lm.backward(*problem, reduction="sum")
    names = ("U", "W", "b", "V", "c")
    grads = [getattr(gradients, name) for name in names]
    params = [getattr(problem, name) for name in names]
    count = sum(g.size for g in grads)
    lr = data.draw(st.floats(1e-3, 1.0), label="lr")
    if data.draw(st.booleans(), label="value clipping (else norm)"):
        threshold, clip = VALUE_THRESHOLD, "value"
        ours = clipping.clip_grad_value(grads, threshold)
        theirs = clipping_theorems.torch_sgd_step(device, grads, params, lr,
                                                  lambda ps: torch.nn.utils.clip_grad_value_(ps, threshold))
    else:
        threshold, clip = data.draw(st.floats(0.1, 30.0), label="τ"), "norm"
        ours = clipping.clip_grad_norm(grads, threshold)[0]
        theirs = clipping_theorems.torch_sgd_step(device, grads, params, lr,
                                                  lambda ps: torch.nn.utils.clip_grad_norm_(ps, threshold))
    bound = tamed.step_bound(clip, threshold, lr, count)
    entry_bound = lr * threshold  # value clipping; norm clipping's entries are bounded by its length
    evidence = None
    for engine, after in (("numpy", [theta - lr * c for theta, c in zip(params, ours)]),
                          (f"torch SGD ({device})", theirs)):
        steps = np.concatenate([np.ravel(a - theta) for a, theta in zip(after, params)])
        largest = float(np.max(np.abs(np.concatenate([np.ravel(a) for a in after]))))
        # θ′ = θ − η·g rounds once (|θ′|·eps), η·g once (its own eps), the norm's sum P more.
        rounding = 2 * EPS64 * (largest + bound) * (count + 2)
        length = float(np.linalg.norm(steps))
        if clip == "value":
            entry = float(np.max(np.abs(steps)))
            if not entry <= entry_bound + rounding:
                raise Mismatch(f"{engine}: an update entry {entry!r} exceeds lr·15 = {entry_bound!r}")
            evidence = Evidence.bound(entry, entry_bound, allowed=entry_bound + rounding).worse(evidence)
        if not length <= bound + rounding:
            raise Mismatch(f"{engine}: the update's length {length!r} exceeds its bound {bound!r} ({clip} "
                           f"clipping at {threshold!r}, P = {count})")
        evidence = Evidence.bound(length, bound, allowed=bound + rounding).worse(evidence)
    return evidence


register(Theorem(
    id="lm-clipped-updates",
    family=FAMILY.id,
    title="Clipping at 15 bounds every update of the language model",
    statement=r"On the language model's gradients, value clipping at 15 bounds every entry of every SGD update "
              r"by $15\,\eta$ and its 2-norm by $15\,\eta\sqrt P$ ($P$ parameters, learning rate $\eta$); norm "
              r"clipping at $\tau$ bounds the update's 2-norm by $\eta\,\tau$, however steep the loss surface the "
              "gradient came from.",
    latex=r"|\Delta\theta_i| \le 15\,\eta,\quad \|\Delta\theta\|_2 \le 15\,\eta\sqrt P,\quad "
          r"\|\Delta\theta\|_2 \le \eta\,\tau",
    source=LECTURE + ", on clipping (a gradient above 15 is set to 15); " + PASCANU + ", §3.2",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_clipped_updates,
    check=_check_clipped_updates,
))
