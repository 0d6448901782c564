"""Initialisation: how the variance of the weights sets the size of back-propagated gradients.

The statistical theorems of the mlp family (dense networks) (Glorot & Bengio 2010, He et al. 2015).
Each check draws the sizes and an RNG seed with Hypothesis, so a failure
reproduces from its printed example, and compares a Monte Carlo estimate with
the prediction by :func:`gradproofs.statistics.assert_in_band`: ±5.03 standard
errors, with a sample count chosen so that the normal approximation behind the
band holds (see :mod:`gradproofs.statistics`). Every band assertion fails a
correct implementation with probability at most about 10⁻⁶. Each derivation ends
with its check's prediction, estimator, sample count and band.

Gradients through random layers are heavy-tailed (products of χ² variables), so
the sample counts, not the precision wanted, set the cost. One example draws at
most about ``BUDGET`` weight entries (30 to 60 ms on one core), and each check
limits the sizes it draws to those whose sample count fits; its derivation's
last step says how.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

from gradproofs import statistics
from gradproofs.mlp import strategies
from gradproofs.derivation import Derivation
from gradproofs.theorem import Evidence, Theorem, register
from gradproofs.errors import Mismatch
from gradproofs.mlp.initialisation import initialise
from gradproofs.mlp.theorems import FAMILY
from gradproofs.formats import FORMATS

__all__ = [
    "BUDGET", "EPS64", "MINIMUM_SAMPLES", "GLOROT", "HE", "ACCEPTANCE", "VARIANCE_PRODUCT", "variance_product",
    "LOG_CHI_SQUARE", "log_chi_square_cumulants", "NORMALISED_INIT", "glorot_variance", "HE_PREDICTIONS", "PAIRS",
    "he_variance"
]

BUDGET = 1_500_000
EPS64 = FORMATS["float64"].eps
MINIMUM_SAMPLES = 1000
GLOROT = "Glorot & Bengio (2010), Understanding the difficulty of training deep feedforward neural networks"
HE = "He, Zhang, Ren & Sun (2015), Delving deep into rectifiers"
ACCEPTANCE = f"±{statistics.BAND:.2f} standard errors"


def _seed(data) -> int:
    return data.draw(st.integers(0, 2 ** 32 - 1), label="seed")


def _rng(seed: int, sizes) -> np.random.Generator:
    """The generator for one example: the seed and the drawn sizes together, so that the
    small seeds Hypothesis favours give independent streams for different sizes."""
    return np.random.default_rng([seed, *(int(n) for n in sizes)])


def _statistical(*, engines=("sympy", "numpy"), **fields) -> Theorem:
    """Register one of this module's theorems: statistical, checked by NumPy on the CPU."""
    return register(Theorem(family=FAMILY.id, kind="statistical", engines=engines,
                            uses_torch=False, **fields))


# --- symbolic expectations ---------------------------------------------------------

def _expectation(expr, moments):
    """E[expr] for a polynomial in independent random symbols; ``moments[s](k)`` = E[s^k]."""
    import sympy

    symbols = list(moments)
    total = sympy.Integer(0)
    for powers, coefficient in sympy.Poly(sympy.expand(expr), *symbols).terms():
        term = coefficient
        for symbol, power in zip(symbols, powers):
            term *= moments[symbol](power)
        total += term
    return total


def _gaussian(variance):
    """k ↦ E[w^k] for w ~ N(0, variance): 0 for odd k, variance^(k/2)·(k − 1)!! for even k."""
    import sympy

    return lambda k: 0 if k % 2 else variance ** (k // 2) * sympy.factorial2(k - 1)


def _layer(rows: int, columns: int):
    """A symbolic weight matrix W (rows × columns) and an upstream gradient g (rows)."""
    import sympy

    W = sympy.Matrix(rows, columns, lambda i, j: sympy.Symbol(f"w_{{{i + 1}{j + 1}}}", real=True))
    g = sympy.Matrix(rows, 1, lambda i, _: sympy.Symbol(f"g_{i + 1}", real=True))
    return W, g


def _squared_norm(vector):
    return sum(entry ** 2 for entry in vector)


def _evaluates(expr):
    """Evaluate the unevaluated integrals and derivatives in ``expr``, then simplify."""
    import sympy

    return sympy.simplify(expr.doit())


@lru_cache(maxsize=None)
def _chi_square_mellin():
    """(m, s, E[X^s], ∫ density) for X ~ χ²_m: the Mellin transform by integrating against
    the density, and the density's integral left unevaluated."""
    import sympy

    x, m = sympy.symbols("x m", positive=True)
    s = sympy.Symbol("s", real=True)
    density = x ** (m / 2 - 1) * sympy.exp(-x / 2) / (2 ** (m / 2) * sympy.gamma(m / 2))
    mellin = sympy.simplify(sympy.integrate(x ** s * density, (x, 0, sympy.oo), conds="none"))
    return m, s, mellin, sympy.Integral(density, (x, 0, sympy.oo))


# --- the Monte Carlo ------------------------------------------------------------------

def _linear_backward(rng, widths, variances, c, samples: int) -> np.ndarray:
    """‖g₀‖² for ``samples`` independent draws of every weight: g_L = c, g_(l−1) = W^lᵀ g_l.

    W^l has shape (n_l, n_(l−1)) and N(0, v_l) entries; the samples run along
    the leading axis, so each layer is one batched product.
    """
    g = np.broadcast_to(np.asarray(c, dtype=np.float64), (samples, len(c)))
    for l in range(len(widths) - 1, 0, -1):
        W = rng.standard_normal((samples, widths[l], widths[l - 1])) * math.sqrt(variances[l - 1])
        g = (g[:, None, :] @ W)[:, 0, :]
    return np.einsum("si,si->s", g, g)


def _entries(widths) -> int:
    return sum(n_in * n_out for n_in, n_out in zip(widths[:-1], widths[1:]))


def _pooled_entries(widths, scheme: str, rng, entries: int, std) -> np.ndarray:
    """The weights of enough ``initialise(widths, scheme, rng)`` networks to hold ``entries``
    numbers, each divided by its layer's predicted standard deviation ``std(n_in, n_out)``."""
    pooled = []
    for _ in range(math.ceil(entries / _entries(widths))):
        weights, biases = initialise(widths, scheme, rng)
        if any(np.any(b != 0) for b in biases):
            raise Mismatch(f"initialise({widths}, {scheme!r}) drew non-zero biases")
        pooled += [(W / std(W.shape[1], W.shape[0])).ravel() for W in weights]
    return np.concatenate(pooled)


def _assert_unit_variance(z: np.ndarray, what: str) -> float:
    """E[z²] = 1 within the band, z the pooled standardised entries (mean 0 by symmetry)."""
    estimate, error = statistics.mean_and_standard_error(z * z)
    return statistics.assert_in_band(estimate, error, 1.0, what=what)


def _check_statement(prediction: str, estimator: str, samples: str) -> str:
    return (f"**Check.** Prediction: {prediction}. Estimator: {estimator}. Samples: {samples}. "
            f"Acceptance: {ACCEPTANCE} (`gradproofs.statistics`: a correct implementation fails "
            "a band with probability at most about $10^{-6}$). The seed is drawn by Hypothesis.")


# --- E‖g₀‖² = ‖c‖² ∏ n_(l−1) v_l ---------------------------------------------------------

VARIANCE_PRODUCT = r"\mathbb{E}\,\|g_0\|^2 = \|c\|^2 \prod_{l=1}^{L} n_{l-1}\, v_l"


def variance_product(c, widths, variances) -> float:
    """Glorot's prediction E‖g₀‖² = ‖c‖²·∏_(l=1..L) n_(l−1)·v_l for linear layers."""
    return float(np.dot(c, c)) * math.prod(n * v for n, v in zip(widths[:-1], variances))


def _ratio_moments(fan_ins, order: int) -> float:
    """E[R^order] for R = ∏ χ²_(n)/n over the fan-ins: ∏_l ∏_(j<order) (1 + 2j/n_(l−1))."""
    return math.prod(1 + 2 * j / n for n in fan_ins for j in range(order))


def _variance_product_samples(fan_ins) -> int:
    moments = [_ratio_moments(fan_ins, order) for order in range(1, 5)]
    return max(MINIMUM_SAMPLES, statistics.samples_needed(*statistics.shape_from_moments(*moments)))


def _derive_variance_product() -> Derivation:
    import sympy

    d = Derivation()
    v = sympy.Symbol("v", positive=True)
    d.say("One linear layer: $W^l$ has shape $(n_l, n_{l-1})$ and independent $N(0, v_l)$ "
          "entries, and back-propagation gives $g_{l-1} = (W^l)^\\top g_l$. The upstream "
          "$g_l$ depends only on the layers above, which are independent of $W^l$, so take it "
          "fixed and average over $W^l$ alone: expand over symbolic entries and replace each "
          "monomial by its Gaussian moment ($E[w^2] = v$, $E[w^4] = 3v^2$, odd powers 0).")
    for rows, columns in ((1, 1), (2, 3), (3, 2)):
        W, g = _layer(rows, columns)
        d.equal(f"$n_l = {rows}$, $n_{{l-1}} = {columns}$: the fan-in multiplies, "
                "$E\\|W^\\top g\\|^2 = n_{l-1}\\, v\\, \\|g\\|^2$.",
                _expectation(_squared_norm(W.T * g), {w: _gaussian(v) for w in W}),
                columns * v * _squared_norm(g), label=r"E\|W^\top g\|^2")
    W, g = _layer(2, 3)
    column = (W.T * g)[0]
    d.equal("Per entry the fan-out multiplies instead, $\\mathrm{Var}[g_{l-1,j}] = n_l v\\, "
            "\\overline{g_l^2}$ (Glorot's form): both say the same, since "
            "$\\|g_{l-1}\\|^2$ sums $n_{l-1}$ entries and $\\|g_l\\|^2 = n_l \\overline{g_l^2}$.",
            _expectation(column ** 2, {w: _gaussian(v) for w in W}), v * _squared_norm(g),
            label=r"E[(W^\top g)_1^2]")
    d.say("Induction on the depth: by the tower property $E\\|g_{l-1}\\|^2 = n_{l-1} v_l\\, "
          "E\\|g_l\\|^2$ for every $l$, starting from $\\|g_L\\|^2 = \\|c\\|^2$.")
    c2 = sympy.Symbol(r"\|c\|^2", positive=True)
    n = sympy.symbols("n_0:6", positive=True)
    variances = sympy.symbols("v_1:7", positive=True)
    for depth in range(1, 6):
        recurrence = c2
        for l in range(depth, 0, -1):
            recurrence = n[l - 1] * variances[l - 1] * recurrence
        d.holds(f"Depth {depth}: unrolling the recurrence gives "
                f"$\\|c\\|^2\\prod_{{l=1}}^{{{depth}}} n_{{l-1}} v_l$.",
                sympy.expand(recurrence - c2 * sympy.prod(n[l] * variances[l] for l in range(depth))) == 0)
    m, s, mellin, _ = _chi_square_mellin()
    d.show("For the check's standard error: given $g_l$, $(W^l)^\\top g_l \\sim N(0, v_l\\|g_l\\|^2 I)$, "
           "so each factor $X_l = \\|g_{l-1}\\|^2 / (n_{l-1} v_l \\|g_l\\|^2)$ is an independent "
           "$\\chi^2_{n_{l-1}}/n_{l-1}$, whose Mellin transform (integrating the density) is",
           mellin, lhs=r"E[(\chi^2_m)^s]")
    d.equal("At $s = 2$: $E[X^2] = 1 + 2/m$ for $X = \\chi^2_m/m$, so "
            "$R = \\|g_0\\|^2/(\\|c\\|^2\\prod n_{l-1}v_l)$ has $E[R^2] = \\prod_l (1 + 2/n_{l-1})$ "
            "(and $E[R^k] = \\prod_l\\prod_{j<k}(1 + 2j/n_{l-1})$ at $s = k$).",
            sympy.gammasimp(mellin.subs(s, 2)) / m ** 2, 1 + 2 / m, label=r"\frac{E[(\chi^2_m)^2]}{m^2}")
    d.say(_check_statement(
        "$E\\|g_0\\|^2 = \\|c\\|^2\\prod_l n_{l-1} v_l$ for depth $L \\le 4$, widths 2 to 16, "
        "$v_l \\in [0.01, 10]$ and $c$ all drawn by Hypothesis",
        "the mean of $\\|g_0\\|^2$ over $N$ independent draws of every weight matrix (one batched "
        "product per layer), with the exact standard error "
        "$\\text{prediction}\\cdot\\sqrt{(\\prod_l(1 + 2/n_{l-1}) - 1)/N}$",
        "$N$ = the larger of 1000 and the count at which the Edgeworth term of $R$'s exact "
        "skewness and kurtosis (moments above) is $5\\cdot10^{-7}$; draws needing more than "
        f"{BUDGET:,} weight entries are skipped"))
    d.conclude(VARIANCE_PRODUCT)
    return d


def _variance_product(widths, variances, c, seed: int, *, prediction_factor: float = 1.0) -> Evidence:
    """The Monte Carlo of ``glorot-variance-product``; ``prediction_factor`` perturbs the prediction."""
    samples = _variance_product_samples(widths[:-1])
    norms = _linear_backward(_rng(seed, widths), widths, variances, c, samples)
    prediction = prediction_factor * variance_product(c, widths, variances)
    relative = math.sqrt((_ratio_moments(widths[:-1], 2) - 1) / samples)
    return Evidence.standard_errors(statistics.assert_in_band(
        norms.mean(), prediction * relative, prediction,
        what=f"E‖g₀‖² through linear layers of widths {widths} with Var[W^l] = {variances} "
             f"(mean of {samples} samples, seed {seed})"), statistics.BAND)


def _check_variance_product(data, device: str) -> Evidence:
    widths = data.draw(strategies.network_widths(max_depth=4, min_width=2, max_width=16),
                       label="widths")
    variances = data.draw(st.lists(st.floats(0.01, 10), min_size=len(widths) - 1,
                                   max_size=len(widths) - 1), label="variances")
    c = data.draw(hnp.arrays(np.float64, widths[-1], elements=st.floats(-10, 10)), label="c")
    assume(np.dot(c, c) > 1e-100)  # c = 0 has no direction; smaller norms underflow when squared
    # Narrow, deep draws have heavy-tailed R: more samples than one example may draw.
    assume(_variance_product_samples(widths[:-1]) * _entries(widths) <= BUDGET)
    return _variance_product(widths, variances, c, _seed(data))


_statistical(
    id="glorot-variance-product",
    title=r"Each linear layer multiplies $E\|g\|^2$ by its fan-in times its weight variance",
    statement=r"For linear layers whose weights $W^l$ (shape $n_l \times n_{l-1}$) are independent "
              r"zero-mean Gaussians of variance $v_l$, back-propagating a fixed gradient $c$ from the "
              r"output gives $E\|g_0\|^2 = \|c\|^2\prod_{l=1}^{L} n_{l-1} v_l$. Per entry, "
              r"$\mathrm{Var}[g_{l-1}] = n_l v_l \mathrm{Var}[g_l]$: the fan-out multiplies the entries' "
              r"variance, the fan-in the squared norm.",
    latex=VARIANCE_PRODUCT + r",\qquad g_{l-1} = (W^l)^\top g_l,\ g_L = c",
    source=f"{GLOROT}, §4.2.1 (eq. 6–16)",
    derive=_derive_variance_product,
    check=_check_variance_product,
)


# --- ln(‖g₀‖²/‖c‖²) is a sum of L independent ln(χ²_n/n) -----------------------------------

LOG_CHI_SQUARE = (r"\ln\frac{\|g_0\|^2}{\|c\|^2} = \sum_{l=1}^{L}\ln\frac{\chi^2_{n,l}}{n},\quad "
                  r"E = L\Big(\psi\big(\tfrac n2\big) + \ln\tfrac 2n\Big),\quad "
                  r"\mathrm{Var} = L\,\psi'\big(\tfrac n2\big)")


@lru_cache(maxsize=None)
def log_chi_square_cumulants(width: int, depth: int) -> tuple[float, ...]:
    """κ₁, …, κ₈ of ln(‖g₀‖²/‖c‖²) through ``depth`` square Gaussian layers with v = 1/width:
    κ₁ = L(ψ(n/2) + ln(2/n)) and κ_r = L·ψ^(r−1)(n/2) for r ≥ 2."""
    import mpmath

    half = mpmath.mpf(width) / 2
    mean = depth * (mpmath.digamma(half) + mpmath.log(2 / mpmath.mpf(width)))
    return (float(mean), *(float(depth * mpmath.polygamma(r - 1, half)) for r in range(2, 9)))


@lru_cache(maxsize=None)
def _log_chi_square_samples(width: int, depth: int) -> int:
    cumulants = log_chi_square_cumulants(width, depth)
    k2, k3, k4 = cumulants[1:4]
    return max(MINIMUM_SAMPLES,
               statistics.samples_needed(k3 / k2 ** 1.5, k4 / k2 ** 2),
               statistics.samples_needed(*statistics.squared_deviation_shape(cumulants[1:])))


@lru_cache(maxsize=None)
def _deepest(width: int) -> int:
    """The largest depth up to 10 whose check fits in ``BUDGET`` weight entries."""
    fits = [L for L in range(1, 11) if _log_chi_square_samples(width, L) * L * width ** 2 <= BUDGET]
    return max(fits)


def _derive_log_chi_square() -> Derivation:
    import mpmath
    import sympy

    d = Derivation()
    d.say("Square layers of width $n$ with $N(0, 1/n)$ entries: given $g_l$, "
          "$g_{l-1} = (W^l)^\\top g_l \\sim N(0, \\|g_l\\|^2 I/n)$, so "
          "$X_l = n\\|g_{l-1}\\|^2/\\|g_l\\|^2 \\sim \\chi^2_n$ whatever $g_l$ is: the factors are "
          "independent and $\\ln(\\|g_0\\|^2/\\|c\\|^2) = \\sum_{l=1}^L \\ln(X_l/n)$.")
    m, s, mellin, total = _chi_square_mellin()
    d.equal("The $\\chi^2_m$ density integrates to 1:", total, sympy.Integer(1), simplify=_evaluates)
    d.show("Its Mellin transform, by integration:", mellin, lhs=r"E[X^s]")
    d.say("So $K(s) = \\ln E[X^s] = \\ln E[e^{s \\ln X}]$ is the cumulant generating function "
          "of $\\ln X$: its $r$-th derivative at $s = 0$ is the $r$-th cumulant.")
    cgf = sympy.expand_log(sympy.log(mellin), force=True)

    def cumulant(r):
        return sympy.Subs(sympy.Derivative(cgf, (s, r)), s, 0)

    psi = {sympy.polygamma(0, m / 2): sympy.Symbol(r"\psi(m/2)"), sympy.polygamma(1, m / 2): sympy.Symbol(r"\psi'(m/2)")}
    d.equal("First cumulant:", cumulant(1), sympy.polygamma(0, m / 2) + sympy.log(2),
            simplify=_evaluates, label=r"\kappa_1 = K'(0)", lines=True, names=psi)
    d.equal("Second cumulant:", cumulant(2), sympy.polygamma(1, m / 2), simplify=_evaluates,
            label=r"\kappa_2 = K''(0)", lines=True, names=psi)
    d.holds("Every higher one, $r = 3, \\dots, 8$ (used for the sample counts), is likewise "
            "$\\psi^{(r-1)}(m/2)$: $\\ln\\Gamma$'s $r$-th derivative.",
            all(_evaluates(cumulant(r) - sympy.polygamma(r - 1, m / 2)) == 0 for r in range(3, 9)),
            r"\kappa_r(\ln\chi^2_m) = \psi^{(r-1)}(m/2),\quad r \ge 2")
    with mpmath.workdps(30):
        def density(x):
            return x ** 7 * mpmath.exp(-x / 2) / (2 ** 8 * mpmath.gamma(8))  # χ²₁₆

        closed, spread = mpmath.digamma(8) + mpmath.log(2), mpmath.polygamma(1, 8)
        mean_by_quadrature = mpmath.quad(lambda x: mpmath.log(x) * density(x), [0, 16, mpmath.inf])
        spread_by_quadrature = mpmath.quad(lambda x: (mpmath.log(x) - closed) ** 2 * density(x),
                                           [0, 16, mpmath.inf])
        d.holds("Independently, at $m = 16$ numerical quadrature (30 digits) of $\\ln x$ and "
                "$(\\ln x - E\\ln x)^2$ against the density agrees with $\\psi(8) + \\ln 2$ and "
                "$\\psi'(8)$ to 25 digits.",
                abs(mean_by_quadrature - closed) < mpmath.mpf(10) ** -25
                and abs(spread_by_quadrature - spread) < mpmath.mpf(10) ** -25,
                rf"E\ln\chi^2_{{16}} = {mpmath.nstr(closed, 15)}\ldots,\quad "
                rf"\mathrm{{Var}}\ln\chi^2_{{16}} = {mpmath.nstr(spread, 15)}\ldots")
    L, n = sympy.symbols("L n", positive=True, integer=True)
    mean = L * (sympy.polygamma(0, n / 2) + sympy.log(2) - sympy.log(n))
    d.show("Dividing by $n$ shifts the mean by $-\\ln n$; summing $L$ independent layers "
           "multiplies every cumulant by $L$:", mean, lhs=r"E\ln\frac{\|g_0\|^2}{\|c\|^2}",
           names={sympy.polygamma(0, n / 2): sympy.Symbol(r"\psi(n/2)")})
    d.holds("The mean is negative, since $\\psi(x) < \\ln x - 1/(2x)$ for $x > 0$ (Alzer 1997, "
            "On some inequalities for the gamma and psi functions); checked here at "
            "$x = n/2$ for $n = 1, \\dots, 64$.",
            all(mpmath.digamma(mpmath.mpf(k) / 2) < mpmath.log(mpmath.mpf(k) / 2) - mpmath.mpf(1) / k
                for k in range(1, 65)),
            r"\psi(n/2) + \ln(2/n) < -1/n < 0")
    kappa = log_chi_square_cumulants(16, 10)
    d.holds(f"At $n = 16$, $L = 10$ the mean is ${kappa[0]:.6f}$ and the variance ${kappa[1]:.6f}$: "
            "$E\\|g_0\\|^2 = \\|c\\|^2$, yet the geometric mean of $\\|g_0\\|^2$ is "
            f"$e^{{{kappa[0]:.3f}}} \\approx {math.exp(kappa[0]):.3f}\\,\\|c\\|^2$.",
            abs(float(mean.subs({L: 10, n: 16})) - kappa[0]) < 1e-12)
    d.say(_check_statement(
        "the mean $L(\\psi(n/2) + \\ln(2/n))$ and the variance $L\\psi'(n/2)$ of "
        "$Y = \\ln(\\|g_0\\|^2/\\|c\\|^2)$, for widths $n$ from 2 to 16 and depths up to 10 "
        "drawn by Hypothesis",
        "the sample mean of $Y$, with the exact standard error $\\sqrt{L\\psi'(n/2)/N}$, and the "
        "unbiased sample variance of $Y$, with its exact standard error "
        "$\\sqrt{\\kappa_4/N + 2\\kappa_2^2/(N-1)}$, $\\kappa_r = L\\psi^{(r-1)}(n/2)$",
        "$N$ = the larger of 1000 and the Edgeworth counts for $Y$ and for $(Y - EY)^2$ "
        "(their skewness and kurtosis from $\\kappa_2, \\dots, \\kappa_8$); the depth is drawn "
        f"up to the largest whose $N L n^2$ fits in {BUDGET:,} weight entries"))
    d.conclude(LOG_CHI_SQUARE)
    return d


def _log_chi_square(width: int, depth: int, seed: int, *, variance_factor: float = 1.0) -> Evidence:
    """The Monte Carlo of ``glorot-log-chi-square``; ``variance_factor`` perturbs the
    predicted variance (κ_r scales by its r/2-th power, as if Y were rescaled)."""
    samples = _log_chi_square_samples(width, depth)
    rng = _rng(seed, (width, depth))
    c = rng.standard_normal(width)
    y = np.log(_linear_backward(rng, [width] * (depth + 1), [1 / width] * depth, c, samples)
               / np.dot(c, c))
    mean, k2, k4 = (log_chi_square_cumulants(width, depth)[i] for i in (0, 1, 3))
    k2, k4 = variance_factor * k2, variance_factor ** 2 * k4
    setting = f"{depth} square Gaussian layers of width {width} ({samples} samples, seed {seed})"
    return Evidence.standard_errors(max(
        statistics.assert_in_band(y.mean(), math.sqrt(k2 / samples), mean,
                                  what=f"the mean of ln(‖g₀‖²/‖c‖²) through {setting}"),
        statistics.assert_in_band(y.var(ddof=1), statistics.sample_variance_standard_error(k2, k4, samples),
                                  k2, what=f"the variance of ln(‖g₀‖²/‖c‖²) through {setting}"),
    ), statistics.BAND)


def _check_log_chi_square(data, device: str) -> Evidence:
    width = data.draw(st.integers(2, 16), label="width")
    depth = data.draw(st.integers(1, _deepest(width)), label="depth")
    return _log_chi_square(width, depth, _seed(data))


_statistical(
    id="glorot-log-chi-square",
    title=r"With $v = 1/n$, $\ln\|g_0\|^2$ is a sum of independent $\ln(\chi^2_n/n)$",
    statement=r"Through $L$ square linear layers of width $n$ with $N(0, 1/n)$ weights, "
              r"$\ln(\|g_0\|^2/\|c\|^2)$ is a sum of $L$ independent $\ln(\chi^2_n/n)$: its mean is "
              r"$L(\psi(n/2) + \ln(2/n)) < 0$ and its variance $L\,\psi'(n/2)$. So although "
              r"$E\|g_0\|^2 = \|c\|^2$, the typical $\|g_0\|^2$ shrinks geometrically with depth, and its "
              r"spread grows.",
    latex=LOG_CHI_SQUARE,
    source=f"{GLOROT}, §4.2.1, in the Gaussian case; " r"$E\ln\chi^2_n = \psi(n/2) + \ln 2$ from the "
           r"$\chi^2$ Mellin transform",
    engines=("sympy", "mpmath", "numpy"),
    derive=_derive_log_chi_square,
    check=_check_log_chi_square,
)


# --- the normalised initialisation ------------------------------------------------------

NORMALISED_INIT = (r"\mathrm{Var}[W] = \frac{2}{n_{\mathrm{in}} + n_{\mathrm{out}}},\qquad W \sim U\Big[-\frac{\sqrt6}"
                   r"{\sqrt{n_{\mathrm{in}} + n_{\mathrm{out}}}},\ \frac{\sqrt6}{\sqrt{n_{\mathrm{in}} + n_{\mathrm{out}}}}\Big]")


def glorot_variance(n_in: int, n_out: int) -> float:
    """Glorot's normalised variance 2/(n_in + n_out)."""
    return 2 / (n_in + n_out)


def _uniform_square_shape() -> tuple[float, float]:
    """Skewness and excess kurtosis of w² for w uniform on (−a, a): those of U², U ~ U(0, 1)."""
    return statistics.shape_from_moments(1 / 3, 1 / 5, 1 / 7, 1 / 9)


def _derive_normalised_init() -> Derivation:
    import sympy

    d = Derivation()
    n_in, n_out, v = sympy.symbols("n_{\\mathrm{in}} n_{\\mathrm{out}} v", positive=True)
    a, w = sympy.Symbol("a", positive=True), sympy.Symbol("w", real=True)
    d.say("Forward, a layer keeps the activations' variance when $n_{\\mathrm{in}} v = 1$ (Glorot eq. 10); "
          "backward, it keeps the gradients' when $n_{\\mathrm{out}} v = 1$ (eq. 11). Both hold only when "
          "$n_{\\mathrm{in}} = n_{\\mathrm{out}}$; the compromise asks it of their average.")
    compromise = sympy.solve(sympy.Eq((n_in + n_out) / 2 * v, 1), v)
    d.holds("Solving $\\frac{n_{\\mathrm{in}} + n_{\\mathrm{out}}}{2} v = 1$:", len(compromise) == 1,
            f"v = {sympy.latex(compromise[0])}")
    d.holds("That is the harmonic mean of the two conditions' $1/n_{\\mathrm{in}}$ and $1/n_{\\mathrm{out}}$:",
            sympy.simplify(compromise[0] - 2 / (1 / (1 / n_in) + 1 / (1 / n_out))) == 0,
            r"\frac{2}{\frac{1}{1/n_{\mathrm{in}}} + \frac{1}{1/n_{\mathrm{out}}}} = \frac{2}{n_{\mathrm{in}} + n_{\mathrm{out}}}")
    variance = sympy.integrate(w ** 2 / (2 * a), (w, -a, a))
    d.equal("The variance of $U(-a, a)$ (zero mean), by integration:",
            sympy.Integral(w ** 2 / (2 * a), (w, -a, a)), a ** 2 / 3, simplify=_evaluates)
    bound = sympy.solve(sympy.Eq(variance, compromise[0]), a)
    d.holds("Solving $a^2/3 = 2/(n_{\\mathrm{in}} + n_{\\mathrm{out}})$ for $a > 0$ gives Glorot's eq. 16:",
            len(bound) == 1 and sympy.simplify(bound[0] - sympy.sqrt(6) / sympy.sqrt(n_in + n_out)) == 0,
            f"a = {sympy.latex(bound[0])}")
    fourth = sympy.integrate(w ** 4 / (2 * a), (w, -a, a))
    d.equal("For the standard error: $E[w^4] = a^4/5$, so $w^2/\\sigma^2$ has variance "
            "$9/5 - 1 = 4/5$ and is bounded, and a sample mean of it is close to normal:",
            fourth / variance ** 2 - 1, sympy.Rational(4, 5), label=r"\mathrm{Var}[w^2/\sigma^2]")
    needed = statistics.samples_needed(*_uniform_square_shape(), studentised=True)
    d.holds(f"The Edgeworth count for the studentised mean of $w^2/\\sigma^2$ is {needed}, "
            f"below the {MINIMUM_SAMPLES} entries the check pools.", needed <= MINIMUM_SAMPLES)
    d.say(_check_statement(
        "every entry of `initialise(widths, \"glorot\", rng)` satisfies $|w| \\le "
        "\\sqrt6/\\sqrt{n_{\\mathrm{in}} + n_{\\mathrm{out}}}$ (up to two roundings of the bound), the biases are 0, "
        "and $E[w^2] = 2/(n_{\\mathrm{in}} + n_{\\mathrm{out}})$, for depths up to 4 and widths 1 to 64 drawn by "
        "Hypothesis",
        "the mean of $w^2(n_{\\mathrm{in}} + n_{\\mathrm{out}})/2$ over the pooled entries of as many networks as "
        "hold 1000 of them, with the standard error from the same entries",
        "at least 1000 entries"))
    d.conclude(NORMALISED_INIT)
    return d


def _normalised_init(widths, seed: int, *, variance_factor: float = 1.0) -> Evidence:
    """The check of ``glorot-normalised-init``; ``variance_factor`` perturbs the predicted variance."""
    z = _pooled_entries(widths, "glorot", _rng(seed, widths), MINIMUM_SAMPLES,
                        lambda n_in, n_out: math.sqrt(variance_factor * glorot_variance(n_in, n_out)))
    # In standard deviations the bound √6/√(n_in + n_out) is √3 (at factor 1); the bound and
    # the implementation's √(6/(n_in + n_out)) may differ by two roundings.
    bound = math.sqrt(3 / variance_factor)
    limit = bound * (1 + 2 * EPS64)
    if np.max(np.abs(z)) > limit:
        raise Mismatch(f"initialise({widths}, 'glorot') drew an entry {np.max(np.abs(z)) / math.sqrt(3):.17g} "
                       f"times the bound √6/√(n_in + n_out) (seed {seed})")
    return Evidence.standard_errors(_assert_unit_variance(
        z, f"E[w²]·(n_in + n_out)/2 over {z.size} entries of initialise({widths}, 'glorot') (seed {seed})"),
        statistics.BAND).worse(Evidence.bound(np.max(np.abs(z)), bound, allowed=limit))


def _check_normalised_init(data, device: str) -> Evidence:
    widths = data.draw(strategies.network_widths(max_depth=4, max_width=64), label="widths")
    return _normalised_init(widths, _seed(data))


_statistical(
    id="glorot-normalised-init",
    title=r"The normalised initialisation: $\mathrm{Var} = 2/(n_{\mathrm{in}} + n_{\mathrm{out}})$, "
          r"bound $\sqrt6/\sqrt{n_{\mathrm{in}} + n_{\mathrm{out}}}$",
    statement=r"Asking a layer to keep the forward variance ($n_{\mathrm{in}} v = 1$) and the backward one "
              r"($n_{\mathrm{out}} v = 1$) on average gives $v = 2/(n_{\mathrm{in}} + n_{\mathrm{out}})$; a "
              r"uniform $U(-a, a)$ has variance $a^2/3$, so $a = \sqrt6/\sqrt{n_{\mathrm{in}} + n_{\mathrm{out}}}$. "
              r"`initialise(widths, \"glorot\")` draws entries within that bound whose variance is "
              r"$2/(n_{\mathrm{in}} + n_{\mathrm{out}})$, and zero biases.",
    latex=NORMALISED_INIT,
    source=f"{GLOROT}, §4.2.1, eq. 12 and 16",
    derive=_derive_normalised_init,
    check=_check_normalised_init,
)


# --- He: ½·n·Var[w] = 1 keeps E‖g‖² through ReLU layers ---------------------------------------

HE_PREDICTIONS = {"output activations": 1.0, "last pre-activation": 2.0}
PAIRS = 8  # (input, upstream gradient) pairs pushed through each network


def he_variance(n_in: int, n_out: int) -> float:
    """He's variance 2/n_in, which ``initialise(widths, "he")`` draws."""
    return 2 / n_in


def _relu_ratios(rng, widths, gain: float, networks: int) -> dict:
    """Per network, the mean over ``PAIRS`` (input, upstream gradient u) pairs of ‖g₀‖²/‖u‖²,
    with u the gradient at the output activations a^L or at the last pre-activations z^L.

    Every layer is z^l = W^l a^(l−1), a^l = relu(z^l), W^l ~ N(0, gain/n_(l−1)), no biases;
    backward g_(l−1) = W^lᵀ (relu′(z^l) ⊙ g_l), relu′(0) = 0 as in torch. Networks run
    along the leading axis; the pairs, and then both kinds of u, side by side in the last.
    """
    a = rng.standard_normal((networks, widths[0], PAIRS))
    weights, active = [], []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        weights.append(rng.standard_normal((networks, n_out, n_in)) * math.sqrt(gain / n_in))
        z = weights[-1] @ a
        active.append(np.concatenate([z > 0] * 2, axis=2))
        a = np.maximum(z, 0.0)
    u = rng.standard_normal((networks, widths[-1], PAIRS))
    g = np.concatenate([u * active[-1][..., :PAIRS], u], axis=2)
    for l in range(len(weights) - 1, -1, -1):
        g = np.swapaxes(weights[l], 1, 2) @ g
        if l:
            g *= active[l - 1]
    ratios = np.einsum("nip,nip->np", g, g) / np.tile(np.einsum("nip,nip->np", u, u), 2)
    return {name: ratios[:, k * PAIRS:(k + 1) * PAIRS].mean(axis=1)
            for k, name in enumerate(HE_PREDICTIONS)}


def _derive_he() -> Derivation:
    import sympy

    d = Derivation()
    v, t = sympy.Symbol("v", positive=True), sympy.Symbol("t", real=True)
    sigma = sympy.Symbol("sigma", positive=True)
    gauss = sympy.exp(-t ** 2 / (2 * sigma ** 2)) / (sigma * sympy.sqrt(2 * sympy.pi))
    d.equal("A pre-activation $z = w^\\top a$ with $w \\sim N(0, vI)$ is $N(0, \\sigma^2)$, "
            "$\\sigma^2 = v\\|a\\|^2$, symmetric, so ReLU passes half of it: $P(z > 0) = 1/2$ ...",
            sympy.Integral(gauss, (t, 0, sympy.oo)), sympy.Rational(1, 2), simplify=_evaluates)
    d.equal("... and half of its second moment, $E[\\mathrm{relu}(z)^2] = \\sigma^2/2$:",
            sympy.Integral(t ** 2 * gauss, (t, 0, sympy.oo)), sigma ** 2 / 2, simplify=_evaluates)
    W, g = _layer(2, 3)
    masks = sympy.symbols("d_1 d_2")
    moments = {w: _gaussian(v) for w in W}
    moments.update({mask: (lambda k: 1 if k == 0 else sympy.Rational(1, 2)) for mask in masks})
    backward = W.T * sympy.Matrix([mask * entry for mask, entry in zip(masks, g)])
    d.equal("Backward, $g_{l-1} = (W^l)^\\top (\\mathrm{relu}'(z^l) \\odot g_l)$. With He's "
            "assumption that the 0/1 derivatives $d_i$ (each 1 with probability 1/2) are "
            "independent of $W^l$ and $g_l$, the symbolic layer ($n_l = 2$, $n_{l-1} = 3$) gives "
            "$E\\|g_{l-1}\\|^2 = \\tfrac12 n_{l-1} v\\, \\|g_l\\|^2$:",
            _expectation(_squared_norm(backward), moments), sympy.Rational(3, 2) * v * _squared_norm(g),
            label=r"E\|W^\top (d \odot g)\|^2")
    n = sympy.Symbol("n", positive=True)
    condition = sympy.solve(sympy.Eq(n * v / 2, 1), v)
    d.holds("Each layer keeps $E\\|g\\|^2$ when $\\tfrac12 n\\,\\mathrm{Var}[w] = 1$ "
            "($n$ = the fan-in $n_{l-1}$; for equal widths also He's fan-out $\\hat n_l$):",
            condition == [2 / n], rf"\mathrm{{Var}}[w] = {sympy.latex(condition[0])},\quad "
            rf"\mathrm{{std}} = {sympy.latex(sympy.sqrt(condition[0]))}")
    d.say("By the tower property, as for linear layers, $L$ such layers give "
          "$E\\|g_0\\|^2 = \\prod_l (\\tfrac12 n_{l-1} v_l)\\,\\|g_L\\|^2 = \\|g_L\\|^2$. In a real "
          "network the derivatives are not independent of the weights ($z^l$ is made from "
          "$W^l$, and $g_l$ depends on $W^l$ through the layers above), yet for symmetric weights "
          "the expectation stays exact: Hanin (2018), Which neural net architectures give rise to "
          "exploding and vanishing gradients?, shows that with $\\mathrm{Var} = 2/n_{l-1}$ every entry of "
          "$\\partial a^L/\\partial a^0$ has mean square exactly $1/n_0$, so "
          "$E\\|(\\partial a^L/\\partial a^0)^\\top u\\|^2 = \\|u\\|^2$ for an isotropic $u$. "
          "The check runs the real network, dependence included.")
    d.equal("If the upstream gradient $u$ is given at the last pre-activation $z^L$ instead, "
            "the top layer has no ReLU derivative, and contributes $n_{L-1} v_L = 2$ rather than "
            "1: a Monte Carlo figure near 2 for He's initialisation (e.g. 8 layers of width 32) "
            "measures this ratio, $L$ weight matrices and $L - 1$ ReLUs:",
            _expectation(_squared_norm(W.T * g), {w: _gaussian(condition[0].subs(n, 3)) for w in W}),
            2 * _squared_norm(g), label=r"E\|W^\top g\|^2\big|_{v = 2/3}")
    d.say(_check_statement(
        "with $W^l \\sim N(0, 2/n_{l-1})$ and no biases, $E[\\|g_0\\|^2/\\|u\\|^2] = 1$ for $u$ "
        "at the output activations $a^L$ and $= 2$ for $u$ at $z^L$, for depths 1 to 3 and "
        "widths 8 to 16 drawn by Hypothesis (equal or not: the fan-in form keeps the norm for "
        "any widths); and `initialise(widths, \"he\", rng)` has $E[w^2] = 2/n_{\\mathrm{in}}$",
        f"per network, the mean of $\\|g_0\\|^2/\\|u\\|^2$ over {PAIRS} independent Gaussian "
        "(input, $u$) pairs; then the mean over $N$ independent networks (all layers batched), "
        "with the standard error from the same $N$ values; and the mean of "
        "$w^2 n_{\\mathrm{in}}/2$ over pooled entries of `initialise`",
        "$N$ grows from 1000 networks until it reaches the Edgeworth count for the "
        "studentised mean, computed from the sample's own skewness and kurtosis (heavy: "
        "Hanin shows the spread of squared Jacobian entries grows exponentially in "
        "$\\sum_l 1/n_l$), or the budget of "
        f"{BUDGET:,} weight entries (at depth 3 the budget can stop it at about half the count, "
        "which doubles the Edgeworth term's $5\\cdot10^{-7}$); the `initialise` entries number "
        "the Edgeworth count for $\\chi^2_1$ (about 7500)"))
    d.conclude(r"\tfrac12\, n_{l-1} \mathrm{Var}[W^l] = 1 \;\Rightarrow\; "
               r"\mathbb{E}\,\|g_0\|^2 = \mathbb{E}\,\|g_L\|^2")
    return d


def _he_condition(widths, seed: int, *, gain: float = 2.0) -> Evidence:
    """The Monte Carlo of ``he-relu-condition`` with Var[W^l] = gain/n_(l−1): the He
    condition is gain 2, and any other gain must fail the predictions 1 and 2."""
    rng = _rng(seed, widths)
    ceiling = max(MINIMUM_SAMPLES, BUDGET // _entries(widths))
    batch, parts = MINIMUM_SAMPLES, []
    while True:
        parts.append(_relu_ratios(rng, widths, gain, batch))
        ratios = {name: np.concatenate([part[name] for part in parts]) for name in HE_PREDICTIONS}
        networks = len(ratios["output activations"])
        needed = max(statistics.samples_needed(*statistics.shape(r), studentised=True)
                     for r in ratios.values())
        if networks >= min(needed, ceiling):
            break
        batch = min(needed, ceiling) - networks
    offs = []
    for name, prediction in HE_PREDICTIONS.items():
        estimate, error = statistics.mean_and_standard_error(ratios[name])
        offs.append(statistics.assert_in_band(
            estimate, error, prediction,
            what=f"E[‖g₀‖²/‖u‖²], u at the {name}, through ReLU layers of widths {widths} with "
                 f"Var[W] = {gain:g}/n_in ({networks} networks × {PAIRS} pairs, Edgeworth "
                 f"count {needed}, seed {seed})"))
    entries = statistics.samples_needed(math.sqrt(8), 12, studentised=True)  # w²/σ² ~ χ²₁
    z = _pooled_entries(widths, "he", rng, entries, lambda n_in, n_out: math.sqrt(he_variance(n_in, n_out)))
    offs.append(_assert_unit_variance(
        z, f"E[w²]·n_in/2 over {z.size} entries of initialise({widths}, 'he') (seed {seed})"))
    return Evidence.standard_errors(max(offs), statistics.BAND)


def _check_he(data, device: str) -> Evidence:
    widths = data.draw(strategies.network_widths(max_depth=3, min_width=8, max_width=16),
                       label="widths")
    return _he_condition(widths, _seed(data))


_statistical(
    id="he-relu-condition",
    title=r"ReLU layers keep $E\|g\|^2$ when $\tfrac12 n\,\mathrm{Var}[w] = 1$",
    statement=r"Through $L$ ReLU layers $z^l = W^l a^{l-1}$, $a^l = \operatorname{relu}(z^l)$, with independent "
              r"$N(0, 2/n_{l-1})$ weights (standard deviation $\sqrt{2/n}$), a random upstream gradient $u$ at "
              r"the output keeps its expected squared norm: $E[\|g_0\|^2/\|u\|^2] = 1$, because each layer "
              r"multiplies it by $\tfrac12 n\,\mathrm{Var}[w] = 1$ (ReLU passes half). Given at the last "
              r"pre-activation instead, $u$ meets one ReLU fewer, and the ratio is $n\,\mathrm{Var}[w] = 2$.",
    latex=r"\tfrac12\, n_{l-1} \mathrm{Var}[W^l] = 1 \;\Rightarrow\; "
          r"\mathbb{E}\,\frac{\|g_0\|^2}{\|g_L\|^2} = 1",
    source=f"{HE}, §2.2; exact in expectation for the real network: Hanin (2018), Which neural "
           "net architectures give rise to exploding and vanishing gradients?",
    derive=_derive_he,
    check=_check_he,
)
