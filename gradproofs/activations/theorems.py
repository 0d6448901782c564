"""Activations: each derivative and its bound γ = sup|f′|, and Hochreiter's optimum."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradproofs import devices
from gradproofs.derivation import Derivation
from gradproofs.theorem import Evidence, Family, Theorem, family, register
from gradproofs.compare import Agreement, assert_close
from gradproofs.errors import Mismatch
from gradproofs.activations import engine as activations
from gradproofs.formats import FORMATS

__all__ = ["FAMILY", "EPS64", "HOCHREITER_PUBLISHED"]

FAMILY = family(Family(
    "activations",
    "Activations and the bounds of their derivatives",
    "How much one layer can scale a gradient is set by the activation's derivative. "
    "Each derivative below is computed by SymPy, rewritten through the activation's "
    "own value, and its supremum $\\gamma = \\sup_z |f'(z)|$ is derived (critical points solved for, "
    "the second derivative's sign checked, the limits at $\\pm\\infty$ taken). $\\gamma$ is the number "
    "every later bound is built from: $1/4$ for the sigmoid, 1 for tanh and relu.",
))

EPS64 = FORMATS["float64"].eps

_STATEMENTS = {
    "sigmoid": (
        r"$\sigma' = \sigma(1 - \sigma)$; its only critical point is $z = 0$, where $\sigma' = 1/4$ is its "
        r"maximum; $\sigma' \to 0$ as $z \to \pm\infty$.",
        r"\sigma'(z) = \sigma(z)\,(1 - \sigma(z)) \le \tfrac14,\ \text{equality iff } z = 0",
        "Nielsen, Neural Networks and Deep Learning, ch. 5 (the vanishing gradient problem)",
    ),
    "tanh": (
        r"$\tanh' = 1 - \tanh^2$; its maximum is 1, attained only at $z = 0$.",
        r"\tanh'(z) = 1 - \tanh^2 z \le 1,\ \text{equality iff } z = 0",
        "Goodfellow, Bengio & Courville, Deep Learning (2016), §6.3.2",
    ),
    "relu": (
        r"$\operatorname{relu}' \in \lbrace 0, 1\rbrace$: 1 for $z > 0$ and 0 for $z \le 0$ "
        r"($\operatorname{relu}'(0) = 0$, as torch's autograd); its supremum 1 is attained on $(0, \infty)$.",
        r"\operatorname{relu}'(z) = [z > 0] \le 1",
        "Glorot, Bordes & Bengio (2011), Deep sparse rectifier networks; `torch.nn.functional.relu`",
    ),
}


@lru_cache(maxsize=None)
def _mpmath_derivative(name: str):
    import sympy

    act = activations.get(name)
    return sympy.lambdify(act.z, act.derivative, "mpmath")


def _derivative_check(name: str):
    def check(data, device: str) -> Evidence:
        import mpmath

        torch = devices.torch()
        act = activations.get(name)
        gamma = float(act.derivative_bound)
        z = data.draw(hnp.arrays(np.float64, st.integers(1, 32),
                                 elements=st.floats(-60, 60, allow_subnormal=False)), label="z")
        z = np.append(z, 0.0)  # the argmax of σ′ and tanh′, the kink of relu
        with mpmath.workdps(30 + activations.digits_lost(z)):
            exact = np.array([float(_mpmath_derivative(name)(mpmath.mpf(v))) for v in z])
        ours = act.numpy_derivative(z)
        # Our f′ is a stable closed form: a few roundings, relative.
        agreements = [assert_close(f"numpy {name}'", ours, exact, np.abs(exact), 4 * EPS64,
                                   reason="a closed form evaluated in a few roundings")]
        zt = torch.tensor(z, dtype=torch.float64, device=device, requires_grad=True)
        act.torch(zt).sum().backward()
        # torch's backward forms s·(1 − s) (or 1 − t²): 1 − s loses up to eps absolute.
        agreements.append(assert_close(
            f"torch autograd {name}'", zt.grad, exact, np.abs(exact) + gamma, 4 * EPS64,
            reason="1 − σ(z) computed in float64 carries up to eps·γ absolute error"))
        agreements.append(assert_close(
            f"torch {name}'", act.torch_derivative(zt.detach()), exact, np.abs(exact) + gamma,
            4 * EPS64, reason="a few roundings, absolute in units of γ"))
        if not np.all(ours <= gamma):
            worst = int(np.argmax(ours))
            raise Mismatch(f"{name}'({z[worst]!r}) = {ours[worst]!r} exceeds γ = {gamma}")
        on_argmax = np.array([bool(act.argmax.contains(v)) for v in z])
        if not np.all(ours[on_argmax] == gamma):
            raise Mismatch(f"{name}' is not γ = {gamma} on its argmax {act.argmax}: "
                           f"{ours[on_argmax]!r} at z = {z[on_argmax]!r}")
        # f′ ≤ γ admits no rounding: where f′ attains γ (z = 0 for σ and tanh) the bound is used in full.
        return Evidence.bound(ours.max(), gamma).beside(Evidence.agreement(Agreement.worst(agreements)))

    return check


for _name, (_words, _latex, _source) in _STATEMENTS.items():
    register(Theorem(
        id=f"{_name}-derivative-bound",
        family=FAMILY.id,
        title=f"The derivative of {_name} and its bound",
        statement=_words,
        latex=_latex,
        source=_source,
        kind="exact",
        engines=("sympy", "mpmath", "numpy", "torch"),
        derive=activations.get(_name).derivation,
        check=_derivative_check(_name),
    ))


# --- Hochreiter's optimum ------------------------------------------------------

HOCHREITER_PUBLISHED = (1.543405, 0.2238716)  # Hochreiter & Schmidhuber 1997, §3.1


@lru_cache(maxsize=None)
def _hochreiter():
    """net* solving net·tanh(net/2) = 1 and the maximum net*·σ′(net*), with their derivation.

    net is Hochreiter's name for the net input w·y, written upright: a name, not n·e·t.
    """
    import sympy

    d = Derivation()
    sigmoid = activations.get("sigmoid")
    net = sympy.Symbol(r"\mathrm{net}", positive=True)
    fprime = sigmoid.derivative.subs(sigmoid.z, net)
    d.say(r"A logistic unit with fixed input $y$ and weight $w$ has net input $\mathrm{net} = w y$; "
          r"the error it passes back scales by $|\sigma'(w y)\,w| = |\mathrm{net}\,\sigma'(\mathrm{net})|/|y|$, "
          r"so maximise $g(\mathrm{net}) = \mathrm{net}\,\sigma'(\mathrm{net})$ over $\mathrm{net} > 0$ "
          r"($g$ is odd).")
    g = net * fprime
    gprime = sympy.diff(g, net)
    d.equal(r"Differentiate $g$; with $1 - 2\sigma(\mathrm{net}) = -\tanh(\mathrm{net}/2)$ it factors as",
            gprime, fprime * (1 - net * sympy.tanh(net / 2)),
            simplify=lambda e: sympy.simplify(e.rewrite(sympy.exp)), label=r"g'(\mathrm{net})", lines=True)
    d.say(r"$\sigma'(\mathrm{net}) > 0$, so the only critical points solve",
          r"\mathrm{net} \cdot \tanh(\mathrm{net}/2) = 1")
    root = sympy.nsolve(net * sympy.tanh(net / 2) - 1, net, 1.5, prec=30)
    peak = g.subs(net, root).evalf(30)
    d.show("Solve it numerically (30 digits).", root, lhs=r"\mathrm{net}^*")
    d.holds(r"$g'$ changes sign from $+$ to $-$ there (a maximum), and $g \to 0$ as "
            r"$\mathrm{net} \to 0$ and $\mathrm{net} \to \infty$.",
            gprime.subs(net, root - sympy.Rational(1, 100)) > 0
            and gprime.subs(net, root + sympy.Rational(1, 100)) < 0
            and sympy.limit(g, net, sympy.oo) == 0 and sympy.limit(g, net, 0) == 0)
    d.show("The largest factor, for $|y| = 1$.", peak, lhs=r"\max |w\,\sigma'(w y)|\cdot|y|")
    d.agrees_with("Hochreiter & Schmidhuber 1997, §3.1", *zip((r"\mathrm{net}^*", r"\max|w\,\sigma'(w y)|\cdot|y|"),
                                                           (root, peak), HOCHREITER_PUBLISHED))
    d.conclude(rf"\max_w |\sigma'(w y)\,w| = \frac{{{sympy.latex(peak.round(7))}\ldots}}{{|y|}}"
               rf"\text{{ at }} w y = \pm {sympy.latex(root.round(6))}\ldots")
    return float(root), float(peak), d


def _hochreiter_check(data, device: str) -> Evidence:
    root, peak, _ = _hochreiter()
    magnitude = data.draw(st.floats(1e-3, 1e3), label="|y|")
    y = data.draw(st.sampled_from([-1.0, 1.0]), label="sign of y") * magnitude
    w = data.draw(st.floats(-1e4, 1e4, allow_subnormal=False), label="w")
    sigmoid_prime = activations.get("sigmoid").numpy_derivative
    value = float(abs(sigmoid_prime(w * y) * w))
    # w·y and σ′ each round once or twice: 8 eps relative covers them.
    if value * abs(y) > peak * (1 + 8 * EPS64):
        raise Mismatch(f"|σ′(w y) w|·|y| = {value * abs(y)!r} exceeds the optimum {peak!r} "
                       f"at w = {w!r}, y = {y!r}")
    attained = float(abs(sigmoid_prime(root) * (root / y))) * abs(y)
    if abs(attained - peak) > 8 * EPS64 * peak:
        raise Mismatch(f"at w = net*/y the factor is {attained!r}, not the optimum {peak!r}")
    return Evidence.bound(value * abs(y), peak, allowed=peak * (1 + 8 * EPS64), unit="of the optimum").worse(
        Evidence.within(abs(attained - peak) / peak, 8 * EPS64, "of the optimum"))


register(Theorem(
    id="hochreiter-optimum",
    family=FAMILY.id,
    title="Hochreiter's optimal weight for a logistic unit",
    statement=r"For a logistic unit with fixed input $y$ and net input $\mathrm{net} = w y$, the back-propagated "
              r"factor $|\sigma'(w y)\,w|$ is largest where $\mathrm{net}\tanh(\mathrm{net}/2) = 1$, "
              r"$\mathrm{net}^* \approx 1.543405$, and its maximum is $\approx 0.2238716/|y|$: a single "
              r"logistic unit can never scale an error up when $|y| \ge 0.224$.",
    latex=r"\max_w |\sigma'(w y)\, w| = \frac{0.2238716\ldots}{|y|},\quad "
          r"\mathrm{net}^*\tanh(\mathrm{net}^*/2) = 1",
    source="Hochreiter (1991), restated in Hochreiter & Schmidhuber (1997), LSTM, §3.1",
    kind="exact",
    engines=("sympy", "numpy"),
    derive=lambda: _hochreiter()[2],
    check=_hochreiter_check,
    uses_torch=False,
))
