"""The generic oracle's rounding model: each operation's bound holds for implementations that round as
it says, torch's own autograd stays within the bound of whole graphs, and a wrong gradient does not.

The exact values here come from float64 (for float32 and narrower computations, whose errors are
2²⁹ times larger than float64's) or from Python's fractions; the implementations judged are NumPy
in float32 and float16, and torch's autograd in float32, bfloat16 and float16.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from gradproofs.formats import FORMATS
from gradproofs.oracle import graph, rounding

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _precision(name: str, accumulation: str | None = None) -> rounding.Precision:
    return rounding.Precision(FORMATS[name], FORMATS[accumulation] if accumulation else None)


@pytest.mark.parametrize("storage", ["bfloat16", "float16", "float32", "tf32"])
def test_representation_error_is_the_distance_to_the_nearest_number_of_the_format(storage):
    """Against torch's rounding (bfloat16, float16, float32) and, for tf32, against Fraction arithmetic:
    the nearest number with p significant bits, ties to even."""
    values = np.concatenate([np.random.default_rng(1).standard_normal(2000) * 10.0 ** np.arange(-3, 3).repeat(
        2000 // 6 + 1)[:2000], [1 + 2.0 ** -9, 1 + 3 * 2.0 ** -9, 1 + 2.0 ** -8, np.inf, -np.inf]])
    error = rounding.representation_error(values, FORMATS[storage])
    finite = np.isfinite(values)
    assert np.all(error[~finite] == 0)
    if storage == "tf32":
        p = FORMATS["tf32"].significand_bits
        for value, e in zip(values[finite][:300], error[finite][:300]):
            single = Fraction(float(np.float32(value)))
            exponent = math.floor(math.log2(abs(single)))
            step = Fraction(2) ** (exponent - p + 1)
            nearest = round(single / step) * step  # round() on a Fraction ties to even
            assert Fraction(e) == abs(nearest - Fraction(float(value)))
        return
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[storage]
    expected = np.abs(torch.tensor(values[finite]).to(dtype).double().numpy() - values[finite])
    if storage == "bfloat16":  # torch rounds float64 to bfloat16 directly, the model through float32 first
        assert np.all(error[finite] >= expected) and np.all(error[finite] <= expected + 2.0 ** -24 * np.abs(
            values[finite]))
        assert np.mean(error[finite] == expected) > 0.99
    else:
        assert np.array_equal(error[finite], expected)


def _bounded(values, errors, precision):
    return rounding.Bounded(np.asarray(values, dtype=np.float64), np.asarray(errors, dtype=np.float64), precision)


ELEMENTWISE = [
    ("add", np.add, 2), ("subtract", np.subtract, 2), ("multiply", np.multiply, 2), ("divide", np.true_divide, 2),
    ("exp", np.exp, 1), ("log", np.log, 1), ("log1p", np.log1p, 1), ("sqrt", np.sqrt, 1), ("tanh", np.tanh, 1),
    ("square", lambda x: np.power(x, 2.0), 1), ("cube root", lambda x: np.power(x, 1 / 3), 1),
]
POSITIVE = ("log", "sqrt", "cube root", "log1p")


@pytest.mark.parametrize("name, function, arity", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_each_elementwise_bound_holds_for_numpy_at_that_precision(name, function, arity, dtype):
    """An implementation holds inputs x̂ in ``dtype`` that are off the exact ones x by up to their bound
    (here up to 2⁻⁸ of their size); NumPy's f(x̂) in ``dtype`` is within the bound of the exact f(x)."""
    precision = _precision(np.dtype(dtype).name)
    rng = np.random.default_rng(7)
    used = 0.0
    for trial in range(4):
        held = [(rng.uniform(0.25, 3.0, 4000) * (1 if name in POSITIVE or k else rng.choice([-1, 1], 4000)))
                .astype(dtype) for k in range(arity)]
        errors = [np.abs(h.astype(np.float64)) * 2.0 ** -8 * rng.uniform(0, 1, h.shape) for h in held]
        exact_inputs = [h + e * rng.uniform(-1, 1, h.shape) for h, e in zip(held, errors)]
        result = function(*[_bounded(x, e, precision) for x, e in zip(exact_inputs, errors)])
        with np.errstate(over="ignore"):
            got = function(*held).astype(np.float64)
        exact = function(*exact_inputs)
        assert np.array_equal(result.value, exact)
        used = max(used, np.max(np.abs(got - exact) / result.error))
    assert used <= 1, used
    assert used > 0.05, f"the bound is loose: {used}"


@pytest.mark.parametrize("dtype, accumulation", [(np.float32, None), (np.float16, None), (np.float16, "float32")])
def test_sums_and_products_hold_in_any_order(dtype, accumulation):
    """A sum of 4096 terms and a matmul, accumulated left to right, in reverse and pairwise in ``dtype``
    (or in float32 and rounded once, when that is declared), within γₙ's bound."""
    precision = _precision(np.dtype(dtype).name, accumulation)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4096).astype(dtype).astype(np.float64)
    a, b = (rng.standard_normal(shape).astype(dtype).astype(np.float64) for shape in ((8, 512), (512, 4)))
    bound = np.sum(_bounded(x, 0, precision)).error
    product = np.matmul(_bounded(a, 0, precision), _bounded(b, 0, precision))
    working = np.float32 if accumulation else dtype

    def sequential(terms):
        total = working(0)
        for t in terms:
            total = working(total + working(t))
        return float(dtype(total))

    def pairwise(terms):
        terms = [working(t) for t in terms]
        while len(terms) > 1:
            terms = [working(terms[k] + terms[k + 1]) for k in range(0, len(terms), 2)]
        return float(dtype(terms[0]))

    exact = math.fsum(x)
    for order in (sequential(x), sequential(x[::-1]), pairwise(x)):
        assert abs(order - exact) <= bound
    got = np.array([[sequential(a[i] * b[:, j]) for j in range(4)] for i in range(8)])
    assert np.all(np.abs(got - a @ b) <= product.error)


def test_a_sum_accumulated_in_bfloat16_breaks_a_float32_accumulation_contract():
    """What the contract says matters: 256 terms summed in bfloat16 are far outside the bound for
    float32 accumulation, and inside the bound for bfloat16 accumulation."""
    x = torch.linspace(0.5, 1.5, 256, dtype=torch.bfloat16)
    total = torch.zeros((), dtype=torch.bfloat16)
    for t in x:
        total = total + t
    exact = math.fsum(x.double().tolist())
    values = x.double().numpy()
    promised = np.sum(_bounded(values, 0, _precision("bfloat16", "float32"))).error
    worst = np.sum(_bounded(values, 0, _precision("bfloat16"))).error
    assert abs(float(total) - exact) > 10 * promised
    assert abs(float(total) - exact) <= worst


def test_an_uncertain_choice_is_bounded_by_both_branches():
    precision = _precision("float32")
    x = _bounded([1.0, 1.0, -2.0], [0.5, 0.0, 0.0], precision)
    condition = x > 1.2
    assert condition.value.tolist() == [False, False, False] and condition.uncertain.tolist() == [True, False, False]
    chosen = np.where(condition, x, _bounded([3.0, 3.0, 3.0], 0.0, precision))
    assert chosen.value.tolist() == [3.0, 3.0, 3.0]
    assert chosen.error.tolist() == [0.5 + 2.0, 0.0, 0.0]


# --- whole graphs: torch's autograd within the bound --------------------------------------

def _scaled_arrays(seed: int, shapes: dict, positive=()) -> dict:
    """Inputs as a user would draw them: entries of size about 1, weights (two or more axes) scaled by
    1/√(fan-in), positive ones in [0.2, 2]."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in shapes.items():
        if name in positive:
            arrays[name] = rng.uniform(0.2, 2.0, shape)
        else:
            arrays[name] = rng.standard_normal(shape) / (math.sqrt(shape[0]) if name.startswith("W") else 1)
    return arrays


def _block(x, W1, W2, g, b):
    h = F.layer_norm(x, (x.shape[-1],), g, b)
    h = x + F.gelu(h @ W1) @ W2
    q = h.unflatten(-1, (2, -1)).transpose(1, 2)
    return F.scaled_dot_product_attention(q, q, q, is_causal=True).transpose(1, 2).flatten(-2)


GRAPHS = [
    ("pointwise", lambda x, y: torch.exp(torch.tanh(x)) * torch.sigmoid(y) / (1 + x * x) + torch.log1p(y * y)
     + F.gelu(x) * F.silu(y), dict(x=(6, 5), y=(6, 5)), ()),
    ("softmax and norms", lambda x, g, b: torch.softmax(F.layer_norm(x, (8,), g, b), -1)
     + F.rms_norm(x, (8,), g) + torch.log_softmax(x, 0), dict(x=(6, 8), g=(8,), b=(8,)), ()),
    ("linear layer and loss", lambda x, W, b, y: F.mse_loss(torch.tanh(x @ W + b), y)
     + F.cross_entropy(x @ W, torch.tensor([0, 2, 1, 3, 3, 0])), dict(x=(6, 16), W=(16, 4), b=(4,), y=(6, 4)), ()),
    ("convolution and batch norm", lambda x, W, g, b: F.batch_norm(F.conv1d(x, W, padding=1), None, None, g, b,
                                                                    training=True), dict(x=(3, 4, 9), W=(5, 4, 3),
                                                                                         g=(5,), b=(5,)), ()),
    ("transformer block", _block, dict(x=(2, 6, 8), W1=(8, 16), W2=(16, 8), g=(8,), b=(8,)), ()),
]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _judged(spec, arrays: dict, storage: str, seed: int, vjp=None):
    """Torch's gradient at ``storage`` (or ``vjp``'s, given torch tensors and the cotangent) against the graph's
    reference and bound: each entry's used fraction |got − reference|/bound."""
    dtype = DTYPES[storage]
    arrays = {name: torch.tensor(a).to(dtype).double().numpy() for name, a in arrays.items()}
    traced = graph.trace(spec, {name: a.shape for name, a in arrays.items()}, arrays)
    A = rounding.Rounded(_precision(storage))
    values = graph.evaluate(traced, A, arrays)
    out = graph.output(traced, values)
    cotangent = torch.tensor(np.random.default_rng(seed).standard_normal(out.shape)).to(dtype)
    reference = graph.gradients(traced, A, values, cotangent.double().numpy())
    tensors = {name: torch.tensor(a, dtype=dtype, requires_grad=True) for name, a in arrays.items()}
    if vjp is None:
        spec(*tensors.values()).backward(cotangent)
        got = {name: t.grad for name, t in tensors.items()}
    else:
        got = vjp(tensors, cotangent)
    return {name: np.abs(got[name].double().numpy() - g.value) / g.error for name, g in reference.items()}


JUDGED = [(graph_, storage) for graph_ in GRAPHS for storage in DTYPES
          if graph_[0] != "transformer block" or storage == "float32"]


@pytest.mark.parametrize("name, spec, shapes, positive, storage", [(*g, s) for g, s in JUDGED],
                         ids=[f"{g[0]}-{s}" for g, s in JUDGED])
def test_torchs_autograd_stays_within_the_bound(name, spec, shapes, positive, storage):
    """Sound on torch's own kernels (which compute other formulas than the rules, fused, in other orders),
    and not vacuous: every entry's bound is finite and some entry uses a fair part of it."""
    worst = 0.0
    for seed in range(3):
        used = _judged(spec, _scaled_arrays(seed, shapes, positive), storage, seed)
        for entries in used.values():
            assert np.all(np.isfinite(entries) | np.isnan(entries)) and np.nanmin(entries) >= 0
            worst = max(worst, np.nanmax(entries))
    assert worst <= 1
    assert worst >= 1e-4 if name == "transformer block" else worst >= 1e-3, worst


@pytest.mark.parametrize("storage", ["bfloat16", "float16"])
def test_the_running_bound_gives_up_on_a_transformer_block_in_16_bits(storage):
    """What the running bound cannot do: in bfloat16 and float16 its worst case grows past the values
    themselves through layer norm, two matmuls and attention, and the softmax's bound is then unbounded
    (no false alarm: nothing is judged)."""
    used = _judged(_block, _scaled_arrays(0, dict(x=(2, 6, 8), W1=(8, 16), W2=(16, 8), g=(8,), b=(8,))),
                   storage, 0)
    assert max(np.nanmax(entries) for entries in used.values()) < 1e-3


def test_a_product_with_tf32_multiplicands_is_bounded_by_their_rounding_too():
    """a = 1 + 2^-12 is a float32 number; TF32 keeps 10 bits after the point, so a GPU's TF32 matmul
    multiplies 1 instead (2^-12 is below half a step, 2^-11): a·1 comes out 2^-12 short, far beyond
    float32's bound of one product, within the bound that rounds the multiplicands to TF32 first."""
    a, b = np.array([[1 + 2.0 ** -12]]), np.array([[1.0]])
    shortfall = float(Fraction(1 + 2.0 ** -12) - 1)  # |tf32(a)·b − a·b|, by hand
    plain = np.matmul(_bounded(a, 0.0, _precision("float32")), b)
    tf32 = np.matmul(_bounded(a, 0.0, rounding.Precision(FORMATS["float32"], multiplicands=FORMATS["tf32"])), b)
    assert float(plain.error[0, 0]) < shortfall <= float(tf32.error[0, 0])
    # To first order the bound is u_m(|a| + |b|) = 2·2^-11 (either multiplicand may round), with second-order
    # and float32 terms below 10^-3 of it.
    assert float(tf32.error[0, 0]) == pytest.approx(2 * 2.0 ** -11, rel=1e-3, abs=0)
    assert float(tf32.value[0, 0]) == float(plain.value[0, 0]) == 1 + 2.0 ** -12


def test_rounding_a_multiplicand_to_tf32_errs_by_its_unit_roundoff_and_its_underflow():
    """u_m·m + η_m with TF32's u_m = 2^-11 and η_m = 2^(-126 - 11 + 1) = 2^-136, by hand; nothing where
    matmul's inputs are not rounded."""
    tf32 = rounding.Precision.declared("tf32")
    assert tf32.multiplicand(3.0) == 3 * 2.0 ** -11 + 2.0 ** -136
    assert tf32.multiplicand(0.0) == 2.0 ** -136
    assert rounding.Precision.declared("float32").multiplicand(3.0) == 0.0


def test_a_dot_product_of_subnormal_products_is_bounded_by_their_underflow():
    """x = 2^-75(1 + 2^-23) and y = 2^-75 are float32 numbers whose product, 2^-150(1 + 2^-23), lies below
    the smallest subnormal η = 2^-149: float32 rounds it up to η, 2^-150 too much, an absolute error no
    relative bound sees. Eight such products summed (subnormal additions are exact) come out 8·2^-150 =
    4η too large, by hand; the bound counts η for each of the n = 8 products."""
    x = np.full((1, 8), 2.0 ** -75 * (1 + 2.0 ** -23))
    y = np.full((8, 1), 2.0 ** -75)
    computed = (x.astype(np.float32) * y.T.astype(np.float32)).sum(dtype=np.float32)  # each product rounded
    exact = 8 * Fraction(2.0 ** -75 * (1 + 2.0 ** -23)) * Fraction(2.0 ** -75)
    eta = 2.0 ** -149
    assert float(computed) == 8 * eta and float(Fraction(float(computed)) - exact) == pytest.approx(4 * eta, rel=1e-6, abs=0)
    product = np.matmul(_bounded(x, 0.0, _precision("float32")), y)
    assert 4 * eta < float(product.error[0, 0]) < 10 * eta


def test_a_convolutions_input_gradient_is_bounded_in_any_summation_order():
    """x̄[q] of conv1d is one sum of O·K = 18 terms ḡ[o, q − k]·w[o, k]: here 1, then 17 equal terms
    t = 2^-24(1 + 2^-10), just over half an ulp of 1 in float32. Added one by one after the 1, each addition
    rounds up by 2^-24 − 2^-34 (by hand), 17 times: an error of 17 half-ulps, more than a bound that sums
    over the channels first and over the taps after (about (O + K)u of the terms) allows, within γ₁₈'s."""
    O, K = 6, 3
    w = np.full((O, 1, K), 1 + 2.0 ** -10)
    w[0, 0, 0] = 1.0
    g = np.full((1, O, 3), 2.0 ** -24)
    g[0, 0, 2] = 1.0
    arrays = {"x": np.zeros((1, 1, 5)), "w": w}
    traced = graph.trace(lambda x, w: torch.nn.functional.conv1d(x, w), {k: a.shape for k, a in arrays.items()},
                         arrays, "float32")
    A = rounding.Rounded(_precision("float32"))
    bound = float(graph.gradients(traced, A, graph.evaluate(traced, A, arrays), g)["x"].error[0, 0, 2])
    terms = [g[0, o, 2 - k] * w[o, 0, k] for o in range(O) for k in range(K)]  # the 1 first
    flat = np.float32(0)
    for term in terms:
        flat = np.float32(flat + np.float32(term))
    error = Fraction(float(flat)) - sum(Fraction(term) for term in terms)
    assert error == 17 * (Fraction(2) ** -24 - Fraction(2) ** -34)
    assert float(error) <= bound < 1.2 * float(error)


@pytest.mark.parametrize("layer", ["linear", "conv1d"])
def test_a_bias_added_first_into_the_accumulator_is_within_the_bound(layer):
    """y = b + Σ xᵢwᵢ with b = 1 and 17 products xᵢ·1 = t = 2^-24(1 + 2^-10), just over half an ulp of 1 in
    float32 (F.linear, which is addmm, and conv1d with a bias). A kernel that starts its float32
    accumulator at the bias rounds up at each of the 17 additions by 2^-24 − 2^-34 (by hand); a bound that
    adds the bias once after the dot product (about u(1 + 17t)) is 16 times too small for it."""
    n = 17
    x = np.full(n, 2.0 ** -24 * (1 + 2.0 ** -10))
    spec, arrays = {
        "linear": (F.linear, {"x": x.reshape(1, n), "w": np.ones((1, n)), "b": np.ones(1)}),
        "conv1d": (F.conv1d, {"x": x.reshape(1, 1, n), "w": np.ones((1, 1, n)), "b": np.ones(1)}),
    }[layer]
    traced = graph.trace(spec, {k: a.shape for k, a in arrays.items()}, arrays, "float32")
    A = rounding.Rounded(_precision("float32"))
    y = graph.evaluate(traced, A, arrays)[traced.result.node]
    bound = float(np.ravel(y.error)[0])
    accumulator = np.float32(1)  # the bias first
    for term in x:
        accumulator = np.float32(accumulator + np.float32(term))
    error = Fraction(float(accumulator)) - (1 + n * Fraction(x[0]))
    assert error == n * (Fraction(2) ** -24 - Fraction(2) ** -34)
    assert Fraction(float(np.ravel(y.value)[0])) == 1 + n * Fraction(x[0])
    assert float(error) <= bound < 1.2 * float(error)


@pytest.mark.filterwarnings("error")  # NumPy's "overflow encountered in matmul" would be one
def test_a_bound_beyond_float64_is_unbounded_without_a_warning():
    precision = _precision("float32")
    product = np.matmul(_bounded([[1.0, 2.0]], [[1e200, 0.0]], precision), _bounded([[3.0], [4.0]], 1e200, precision))
    assert product.value.tolist() == [[11.0]] and product.error.tolist() == [[np.inf]]


def test_a_wrong_gradient_exceeds_the_bound():
    """Softmax's backward without the subtraction, ȳ ⊙ y instead of y ⊙ (ȳ − Σ ȳ ⊙ y), in float32."""
    spec = lambda x: torch.softmax(x, -1)  # noqa: E731

    def wrong(tensors, cotangent):
        y = torch.softmax(tensors["x"].detach(), -1)
        return {"x": y * cotangent}
    used = _judged(spec, _scaled_arrays(0, {"x": (4, 6)}), "float32", 0, vjp=wrong)
    assert np.max(used["x"]) > 1e3


def test_an_unbounded_factor_stays_unbounded_unless_the_other_is_an_exact_zero():
    """A product with an unbounded factor (a variance whose bound reaches 0, then its rsqrt) is unbounded,
    but exactly 0 where the other factor is an exact 0: 0·∞ must not turn a bound into NaN and then into 0."""
    precision = _precision("bfloat16")
    product = _bounded([1.0, 0.0, 2.0], [0.0, 0.0, 0.5], precision) * _bounded([3.0, 3.0, 3.0], [np.inf, np.inf, 0.0],
                                                                            precision)
    assert product.error[0] == np.inf and product.error[1] <= precision.underflow and 1.5 <= product.error[2] < np.inf
    assert np.sum(product).error == np.inf


# --- each rule of the model, against its statement ----------------------------------------

def _float32_error(c: float) -> float:
    """|fl(c) − c| in float32, in exact Fractions: what holding the constant c costs."""
    return float(abs(Fraction(float(np.float32(c))) - Fraction(c)))


SLOPES = {  # f and |f′|, by hand
    "exp": (np.exp, np.exp), "log": (np.log, lambda x: 1 / x), "log1p": (np.log1p, lambda x: 1 / (1 + x)),
    "sqrt": (np.sqrt, lambda x: 1 / (2 * np.sqrt(x))), "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "erf": (None, lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x)),
    "square": (lambda x: np.power(x, 2.0), lambda x: np.abs(2 * x)),
    "cube": (lambda x: np.power(x, 3.0), lambda x: 3 * x * x), "first power": (lambda x: np.power(x, 1.0), np.ones_like),
    "reciprocal": (lambda x: np.power(x, -1.0), lambda x: 1 / (x * x)),
    "inverse square": (lambda x: np.power(x, -2.0), lambda x: np.abs(2 / x ** 3)),
    "square root as a power": (lambda x: np.power(x, 0.5), lambda x: 0.5 / np.sqrt(x)),
    "inverse square root": (lambda x: np.power(x, -0.5), lambda x: 0.5 * x ** -1.5),
    "three halves": (lambda x: np.power(x, 1.5), lambda x: 1.5 * np.sqrt(x)),
}
# intervals [a − e, a + e]: inside the domain (either sign where it allows), and reaching its edge
INTERVALS = [(0.7, 0.2), (2.5, 0.5), (-0.7, 0.2), (-2.5, 0.5), (0.1, 0.3), (-0.1, 0.3), (0.25, 0.25),
             (-0.9, 0.2), (-0.75, 0.25)]
DOMAIN = {"log": 0.0, "sqrt": 0.0, "square root as a power": 0.0, "inverse square root": 0.0, "three halves": 0.0,
          "log1p": -1.0}
CLOSED = {"three halves"}  # defined, with a finite slope, at its domain's edge
POLE = {"reciprocal": 0.0, "inverse square": 0.0}


@pytest.mark.parametrize("name", SLOPES)
def test_a_math_functions_bound_carries_the_largest_slope_on_the_inputs_interval(name):
    """With a library that errs by nothing (ulps = 0), f(a)'s bound is L·eₐ + η, L the largest |f′| on
    [a − eₐ, a + eₐ] (the mean value theorem): here against |f′| written by hand and maximised over 20,001
    points of the interval, its ends and 0 included; where the interval leaves f's domain or holds a pole,
    the bound is infinite."""
    precision = rounding.Precision(FORMATS["float32"], ulps=0)
    function, slope = SLOPES[name]
    A = rounding.Rounded(precision)
    for a, e in INTERVALS:
        low, high = a - e, a + e
        edge = DOMAIN.get(name)
        if edge is not None and a <= edge:
            continue  # the reference itself is outside the domain
        x = _bounded([a], [e], precision)
        result = A.erf(x) if name == "erf" else function(x)
        outside = low < edge if name in CLOSED else low <= edge if edge is not None else False
        if outside or (name in POLE and low <= POLE[name] <= high):
            assert result.error[0] == np.inf, (a, e)
            continue
        points = np.concatenate([np.linspace(low, high, 20001), [low, high] + ([0.0] if low < 0 < high else [])])
        largest = np.max(slope(points))
        assert result.error[0] == pytest.approx(largest * e + precision.underflow, rel=1e-9, abs=0), (a, e)


def test_a_power_of_zero_is_one_and_errs_only_by_the_library():
    precision = rounding.Precision(FORMATS["float32"])
    result = np.power(_bounded([0.5, -3.0, 0.0], [0.25, 1.0, 0.5], precision), 0.0)
    assert result.value.tolist() == [1.0, 1.0, 1.0]
    assert result.error.tolist() == [precision.library(1.0)] * 3


def test_a_power_with_an_inexact_exponent_is_bounded_through_exp_and_log():
    """xʸ with both inputs off by their bounds: the bound of e^(y log x), which a float32 powf at the
    corners of the inputs' box stays within."""
    precision = _precision("float32")
    x, y, ex, ey = 1.7, 2.3, 2.0 ** -10, 2.0 ** -12
    result = np.power(_bounded([x], [ex], precision), _bounded([y], [ey], precision))
    assert result.value[0] == x ** y
    corners = [np.float32(np.float32(x + sx * ex) ** np.float32(y + sy * ey)) for sx in (-1, 1) for sy in (-1, 1)]
    worst = max(abs(float(c) - x ** y) for c in corners)
    assert worst <= result.error[0] < 3 * worst


def test_a_fractional_power_of_a_negative_interval_is_unbounded():
    result = np.power(_bounded([-2.0, 2.0], [0.1, 0.1], _precision("float32")), 0.5)
    assert result.error[0] == np.inf and np.isfinite(result.error[1])


@pytest.mark.parametrize("storage", ["float32", "float64"])
def test_erfs_library_error_is_in_ulps_of_one_and_a_long_double_reference_adds_float64s_rounding(storage):
    """erf at an exact input: 2·ulps·u·max(|erf x|, 1) + η; on a long double reference (a float64
    implementation) the reference's float64 erf adds 2⁻⁵²|erf x| (its 1 ulp)."""
    precision = rounding.Precision(FORMATS[storage])
    dtype = precision.reference_dtype
    A = rounding.Rounded(precision)
    result = A.erf(rounding.Bounded(np.array([0.01, 2.0], dtype=dtype), 0.0, precision))
    values = np.array([math.erf(0.01), math.erf(2.0)])
    expected = precision.library(np.maximum(values, 1.0))
    if dtype != np.float64:
        expected = expected + 2.0 ** -52 * values
    assert result.error == pytest.approx(expected, rel=1e-12, abs=0)


def test_a_quotient_is_unbounded_where_the_divisor_may_be_zero():
    """|b| ≤ e_b: the divisor's interval holds 0 (at |b| = e_b, its end); otherwise
    (|a|e_b + |b|eₐ)/(|b|(|b| − e_b)) before rounding, here 0.5·0.25/(2·1.75) by hand."""
    precision = _precision("float32")
    quotient = np.divide(_bounded([1.0, 1.0, 0.5], [0.0, 0.0, 0.0], precision),
                         _bounded([0.5, 0.25, 2.0], [0.5, 0.5, 0.25], precision))
    assert quotient.error[0] == np.inf and quotient.error[1] == np.inf
    propagated = 0.5 * 0.25 / (2 * 1.75)
    assert quotient.error[2] == pytest.approx(propagated + precision.rounding(0.25 + propagated), rel=1e-12, abs=0)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("compare", [np.greater, np.less, np.greater_equal, np.less_equal, np.equal, np.not_equal])
def test_a_comparison_is_uncertain_exactly_where_the_intervals_meet(compare):
    """a = 1 ± eₐ against b = 1.5 ± e_b: uncertain where |a − b| ≤ eₐ + e_b (the ends touching included),
    certain where the bounds are apart or both are 0, and two equal infinities are certainly equal."""
    precision = _precision("float32")
    a = _bounded([1.0, 1.0, 1.0, 1.0, 1.5, np.inf], [0.3, 0.3, 0.1, 0.2, 0.0, 0.0], precision)
    b = _bounded([1.5, 1.5, 1.5, 1.5, 1.5, np.inf], [0.2, 0.25, 0.1, 0.0, 0.0, 0.0], precision)
    condition = compare(a, b)
    assert condition.value.tolist() == compare(a.value, b.value).tolist()
    assert condition.uncertain.tolist() == [True, True, False, False, False, False]


def test_conditions_combine_certainty_as_logic_does():
    """A certain False decides an `and`, a certain True an `or`; negation keeps the uncertainty."""
    c = rounding.Condition([True, True, False, False], [True, False, True, False])
    d = rounding.Condition([False, True, True, False], [False, True, True, True])
    both, either, negated = c & d, c | d, ~c
    assert both.value.tolist() == [False, True, False, False] and both.uncertain.tolist() == [False, True, True, False]
    assert either.value.tolist() == [True, True, True, False] and either.uncertain.tolist() == [True, False, True, True]
    assert negated.value.tolist() == [False, False, True, True] and negated.uncertain.tolist() == c.uncertain.tolist()
    for ufunc, expected in [(np.logical_and, both), (np.bitwise_and, both), (np.logical_or, either),
                            (np.bitwise_or, either)]:
        got = ufunc(c, d)
        assert got.value.tolist() == expected.value.tolist() and got.uncertain.tolist() == expected.uncertain.tolist()
    for ufunc in (np.logical_not, np.invert):
        got = ufunc(c)
        assert got.value.tolist() == negated.value.tolist() and got.uncertain.tolist() == negated.uncertain.tolist()
    assert (c & True).uncertain.tolist() == c.uncertain.tolist() and (True & c).value.tolist() == c.value.tolist()
    assert c.astype(np.float64) is c and c.dtype == np.dtype(bool) and c.ndim == 1 and c.shape == (4,)


MOVES = [
    ("reshape", lambda v: np.reshape(v, (3, 4))), ("transpose", np.transpose), ("swapaxes", lambda v: np.swapaxes(v, 0, 1)),
    ("expand_dims", lambda v: np.expand_dims(v, 1)), ("squeeze", lambda v: np.squeeze(v[:1], 0)),
    ("flip", lambda v: np.flip(v, 1)), ("take", lambda v: np.take(v, [2, 0, 2], axis=1)),
    ("windows", lambda v: np.lib.stride_tricks.sliding_window_view(v, 2, axis=1)),
    ("moveaxis", lambda v: np.moveaxis(v, 0, 1)), ("broadcast_to", lambda v: np.broadcast_to(v[:1], (3, 4))),
    ("getitem", lambda v: v[1:, ::2]), ("reshape method", lambda v: v.reshape(2, 6)),
]


@pytest.mark.parametrize("name, move", MOVES, ids=[m[0] for m in MOVES])
def test_moving_entries_moves_their_bounds_and_adds_nothing(name, move):
    """On bounded values and on conditions alike: the result's values and bounds (or uncertainty) are the
    inputs', moved the same way."""
    precision = _precision("float32")
    values, errors = np.arange(12.0).reshape(3, 4), np.arange(12.0).reshape(3, 4) / 100
    moved = move(_bounded(values, errors, precision))
    assert np.array_equal(moved.value, move(values)) and np.array_equal(moved.error, move(errors))
    if name not in ("moveaxis", "broadcast_to", "getitem", "reshape method"):
        return  # what the rules do not do to conditions
    truth, uncertain = values % 3 == 0, values % 2 == 0
    condition = move(rounding.Condition(truth, uncertain))
    assert np.array_equal(condition.value, move(truth)) and np.array_equal(condition.uncertain, move(uncertain))


def test_joining_and_splitting_move_bounds_and_a_plain_piece_is_off_by_its_representation():
    """concatenate and stack join values and bounds alike; a plain array among the pieces is the
    implementation's copy of a constant, so 1/3 joins with its float32 representation error, by hand
    |fl(1/3) − 1/3| = 1/3·2⁻²⁵·… (exact Fractions); split gives the pieces back; pad adds exact zeros."""
    precision = _precision("float32")
    x = _bounded([[1.0, 2.0]], [[0.5, 0.25]], precision)
    third = _float32_error(1 / 3)
    for join, axis in ((np.concatenate, 1), (np.stack, 2)):
        for joined in (join([x, np.array([[1 / 3, 0.0]])], axis), join([x, np.array([[1 / 3, 0.0]])], axis=axis)):
            assert np.array_equal(joined.value, join([x.value, [[1 / 3, 0.0]]], axis=axis))
            assert np.array_equal(joined.error, join([x.error, [[third, 0.0]]], axis=axis))
    first, second = np.split(_bounded([1.0, 2.0, 3.0, 4.0], [0.1, 0.2, 0.3, 0.4], precision), 2)
    assert first.value.tolist() == [1.0, 2.0] and second.error.tolist() == [0.3, 0.4]
    padded = np.pad(x, [(0, 0), (1, 2)])
    assert padded.value.tolist() == [[0.0, 1.0, 2.0, 0.0, 0.0]] and padded.error.tolist() == [[0.0, 0.5, 0.25, 0.0, 0.0]]
    masked = np.pad(x, [(0, 0), (1, 0)], constant_values=-np.inf)
    assert masked.value.tolist() == [[-np.inf, 1.0, 2.0]] and masked.error.tolist() == [[0.0, 0.5, 0.25]]
    assert x.sum(axis=1).shape == (1,) and x.sum(axis=1, keepdims=True).shape == (1, 1)


@pytest.mark.filterwarnings("error")
def test_an_unbounded_entry_meets_only_the_products_it_enters():
    """In a product of bounds 0·∞ is 0: an unbounded entry of a makes a product's bound infinite only where
    it meets a non-zero entry of b, through matmul and tensordot alike, with no warning."""
    precision = _precision("float32")
    a = _bounded([[1.0, 2.0]], [[np.inf, 0.0]], precision)
    b = np.array([[0.0, 1.0], [3.0, 3.0]])
    for product in (np.matmul(a, b), np.tensordot(a, b, axes=([1], [0]))):
        assert np.isfinite(product.error[0, 0]) and product.error[0, 1] == np.inf
        assert product.error[0, 0] == pytest.approx(precision.gamma(2) * 6 + 2 * precision.accumulation_underflow
                                                    + precision.rounding(6 + precision.gamma(2) * 6), rel=1e-3, abs=0)


def test_a_math_functions_library_error_is_in_ulps_of_its_result_grown_by_the_propagated_error():
    """exp at 0 ± 0.1 with 4 ulps: L = e^0.1 carries L·0.1, and the library's 2·4·u of the largest value
    reached, 1 + L·0.1, plus η (the model's statement); float32's u with the float64 reference's, 2⁻²⁴ + 2⁻⁵³."""
    precision = _precision("float32")
    result = np.exp(_bounded([0.0], [0.1], precision))
    propagated = math.exp(0.1) * 0.1
    u = 2.0 ** -24 + 2.0 ** -53
    assert result.error[0] == pytest.approx(propagated + 8 * u * (1 + propagated) + 2.0 ** -149, rel=1e-12, abs=0)
    assert precision.library(3.0) == 8 * u * 3.0 + 2.0 ** -149


@pytest.mark.filterwarnings("error")
def test_a_math_function_of_an_exact_input_errs_only_by_the_library_even_where_its_slope_is_unbounded():
    """√0 and e^710 (beyond float64) at exact inputs: no error carried in (∞·0 is not NaN here), no warning."""
    precision = _precision("float32")
    root = np.sqrt(_bounded([0.0], [0.0], precision))
    huge = np.exp(_bounded([710.0, 700.0], [0.0, 9.0], precision))
    assert root.value[0] == 0.0 and root.error[0] == precision.underflow
    assert huge.value[0] == np.inf and huge.error.tolist() == [np.inf, np.inf]  # e^709·9 is beyond float64 too


@pytest.mark.filterwarnings("error")
def test_an_inexact_exponent_of_a_base_that_may_be_negative_is_unbounded_without_a_warning():
    precision = _precision("float32")
    result = np.power(_bounded([0.05, 2.0], [0.1, 0.1], precision), _bounded([2.5, 2.5], [0.01, 0.01], precision))
    assert result.error[0] == np.inf and np.isfinite(result.error[1])
    assert np.isfinite((result + 1.0).error[1])


@pytest.mark.filterwarnings("error")
def test_a_quotient_by_an_exact_zero_or_beyond_float64_warns_nothing():
    """1/0 is ∞ exactly (an implementation gets it too), 0/0 is unbounded, 10³⁰⁰/10⁻¹⁰ is past float64."""
    precision = _precision("float32")
    quotient = np.divide(_bounded([1.0, 0.0, 1e300], [0.0, 0.0, 0.0], precision),
                         _bounded([0.0, 0.0, 1e-10], [0.0, 0.0, 1e-12], precision))
    assert quotient.value[0] == np.inf and quotient.error[0] == 0.0
    assert quotient.error[1] == np.inf and quotient.value[2] == np.inf


def test_a_product_carries_each_error_times_the_other_factor():
    """(2 ± 0)·(3 ± 1): |2|·1 carried, then rounded: ρ(6 + 2); and 0·∞ is 0 where a factor is an exact zero."""
    precision = _precision("float32")
    product = _bounded([2.0, 0.0], [0.0, 0.0], precision) * _bounded([3.0, 5.0], [1.0, np.inf], precision)
    assert product.error.tolist() == [2.0 + precision.rounding(8.0), precision.rounding(0.0)]


def test_an_infinite_result_of_an_infinite_constant_is_exact():
    """A causal mask's −∞ plus a score: −∞, exactly, whatever the score's error."""
    precision = _precision("float32")
    masked = _bounded([-np.inf, 1.0], [0.0, 0.0], precision) + _bounded([1.0, 1.0], [0.5, 0.5], precision)
    assert masked.value[0] == -np.inf and masked.error[0] == 0.0 and masked.error[1] > 0.5


@pytest.mark.filterwarnings("error")
def test_a_scattered_sum_bounds_each_entry_by_the_terms_that_arrive_there():
    """np.add.at (embedding's and index_select's backward): an entry that receives k terms beside its own value
    is a sum of k + 1 terms: Σeᵢ + γ_{k+1}(Σ|vᵢ| + Σeᵢ) + ρ(…); an entry nothing reaches keeps its bound."""
    precision = _precision("float32")
    out = _bounded([0.5, 1.0, 0.0], [0.05, 0.1, 0.0], precision)
    np.add.at(out, np.array([0, 0, 2]), _bounded([1.0, -2.0, 4.0], [0.1, 0.2, 0.4], precision))
    assert out.value.tolist() == [-0.5, 1.0, 4.0]
    magnitude0, magnitude2 = 0.55 + 1.1 + 2.2, 4.4
    expected = [0.05 + 0.3 + precision.gamma(3) * magnitude0 + precision.rounding(magnitude0), 0.1,
                0.4 + precision.gamma(2) * magnitude2 + precision.rounding(magnitude2)]
    assert out.error == pytest.approx(expected, rel=1e-12, abs=0)
    zeros = _bounded([0.0, 0.0], [0.0, 0.0], _precision("bfloat16"))  # γ₃₀₁ of bfloat16 is ∞, and ∞·0 is 0 here
    np.add.at(zeros, np.array([0] * 300 + [1] * 300), _bounded([0.0] * 300 + [1.0] * 300, 0.0, zeros.precision))
    assert zeros.error.tolist() == [zeros.precision.rounding(0.0), np.inf]
    plain = _bounded([0.0, 0.0], [0.0, 0.0], precision)
    np.add.at(plain, np.array([1, 1]), 1 / 3)  # a plain constant: off by its float32 representation
    third = _float32_error(1 / 3)
    assert plain.error[1] >= 2 * third and plain.error[0] == 0.0


def test_a_bias_is_bounded_as_one_of_the_accumulators_terms():
    """[1 1]·[1 1]ᵀ = 2, n = 2, plus s = 3 ± 0.5: the bound of one addition after the dot product, grown by
    (γ₃ − γ₂)·Σ|aᵢbᵢ| + γ₃(|s| + e_s) (the model's statement)."""
    precision = _precision("float32")
    A = rounding.Rounded(precision)
    total = np.matmul(_bounded([[1.0, 1.0]], 0.0, precision), _bounded([[1.0], [1.0]], 0.0, precision))
    bias = _bounded([3.0], [0.5], precision)
    added = total + bias
    biased = A.biased(total, bias)
    assert biased.value.tolist() == [[5.0]] and biased.precision is precision
    grown = (precision.gamma(3) - precision.gamma(2)) * 2.0 + precision.gamma(3) * 3.5
    assert biased.error[0, 0] == pytest.approx(added.error[0, 0] + grown, rel=1e-12, abs=0)


def test_a_float64_dot_product_adds_back_the_rounding_of_its_own_bound():
    """At float64, (|a| + eₐ)(|b| + e_b) − |a||b| is itself computed in float64: with exact inputs it is 0,
    and the bound keeps 2(n + 1)u₆₄ of (|a| + eₐ)(|b| + e_b), here 2·4·2⁻⁵³·3, beside γ₃ of it."""
    precision = _precision("float64")
    a, b = _bounded([[1.0, 1.0, 1.0]], 0.0, precision), _bounded([[1.0], [1.0], [1.0]], 0.0, precision)
    product = np.matmul(a, b)
    propagated = 2 * 4 * 2.0 ** -53 * 3
    kept = propagated + precision.gamma(3) * 3 + 3 * precision.accumulation_underflow
    assert product.error[0, 0] == pytest.approx(kept + precision.rounding(3 + kept), rel=1e-12, abs=0)


@pytest.mark.filterwarnings("error")
def test_a_dot_product_beyond_float64_is_infinite_and_a_plain_first_factor_is_lifted():
    precision = _precision("float32")
    huge = np.matmul(_bounded([[1e200]], 0.0, precision), _bounded([[1e200]], 0.0, precision))
    lifted = np.tensordot(np.full((1, 3), 1 / 3), _bounded(np.ones((3, 1)), 0.0, precision), axes=(1, 0))
    assert huge.value[0, 0] == np.inf
    third = _float32_error(1 / 3)
    assert lifted.value[0, 0] == 1.0 and lifted.error[0, 0] >= 3 * third + precision.gamma(3)  # a sum of 3
    product = np.tensordot(_bounded(np.ones((2, 3, 4)), 0.0, precision), np.ones((3, 4, 5)), axes=([1, 2], [0, 1]))
    assert product.shape == (2, 5) and product.error[0, 0] == pytest.approx(
        precision.gamma(12) * 12 + 12 * precision.accumulation_underflow
        + precision.rounding(12 + precision.gamma(12) * 12), rel=1e-6, abs=0)  # float64's own rounding: 10⁻⁸ of it


def test_an_unbounded_entry_of_the_second_factor_meets_only_its_non_zero_partners():
    precision = _precision("float32")
    a = np.array([[0.0, 1.0], [2.0, 0.0]])
    b = _bounded([[1.0], [1.0]], [[np.inf], [0.0]], precision)
    product = np.matmul(a, b)
    assert np.isfinite(product.error[0, 0]) and product.error[1, 0] == np.inf


@pytest.mark.filterwarnings("error")
def test_a_choice_takes_the_chosen_branchs_bound_where_it_is_certain_and_lifts_plain_branches():
    precision = _precision("float32")
    x = _bounded([1.0, 1.0, -np.inf], [0.25, 0.25, 0.0], precision)
    condition = rounding.Condition([True, False, True], [False, False, True])
    chosen = np.where(condition, x, -np.inf)
    other = np.where(condition, 1 / 3, x)
    assert chosen.value.tolist() == [1.0, -np.inf, -np.inf] and chosen.error.tolist()[:2] == [0.25, 0.0]
    third = _float32_error(1 / 3)
    assert other.error.tolist()[:2] == [third, 0.25]


def test_a_count_of_conditions_is_off_by_as_many_as_are_uncertain():
    condition = rounding.Condition([[True, True, False], [False, True, True]], [[True, False, False], [True, True, False]])
    count = np.sum(condition, axis=1)
    assert count.value.tolist() == [2.0, 2.0] and count.error.tolist() == [1.0, 2.0]
    assert np.sum(condition, axis=0, keepdims=True).error.tolist() == [[2.0, 1.0, 0.0]]


def test_gamma_is_unbounded_from_nu_equal_to_one():
    """γₙ = nU/(1 − nU) for nU < 1, here for bfloat16's U = 2⁻⁸ + 2⁻⁵³ (the reference's included): n = 255
    is 255U/(1 − 255U) (exact Fractions), n = 256 passes 1 and is unbounded; arrays of n alike."""
    precision = _precision("bfloat16")
    U = Fraction(2) ** -8 + Fraction(2) ** -53
    assert precision.gamma(255) == pytest.approx(float(255 * U / (1 - 255 * U)), rel=1e-12, abs=0)
    assert precision.gamma(256) == np.inf
    assert precision.gamma(np.array([1, 256])).tolist() == [float(U / (1 - U)), np.inf]


def test_a_declared_precision_names_its_storage_accumulation_and_multiplicands():
    bf16 = rounding.Precision.declared("bfloat16", "float32")
    assert (bf16.storage.name, bf16.accumulation.name, bf16.multiplicands) == ("bfloat16", "float32", None)
    half = rounding.Precision.declared("float16")
    assert (half.storage.name, half.accumulation, half.multiplicands) == ("float16", None, None)
    tf32 = rounding.Precision.declared("tf32")
    assert (tf32.storage.name, tf32.accumulation, tf32.multiplicands.name) == ("float32", None, "tf32")


def test_the_arithmetics_constants_and_shift():
    """A constant the storage format holds is a plain number, else a bounded one off by its representation;
    arrays and fills are in the reference's dtype; softmax's shift is the largest entry along its axis, exact."""
    precision = _precision("float32")
    A = rounding.Rounded(precision)
    assert A.number(0.5) == 0.5
    third = A.number(1 / 3)
    assert third.error == _float32_error(1 / 3)
    assert A.full((2,), 0.1).error.tolist() == [_float32_error(0.1)] * 2
    wide = rounding.Rounded(_precision("float64"))
    assert wide.full((1,), 1.0).value.dtype == wide.array([1.0]).value.dtype == _precision("float64").reference_dtype
    shift = A.shift(np.array([[1.0, 3.0, 2.0], [0.0, -1.0, 5.0]]), axis=1)
    assert shift.value.tolist() == [[3.0], [5.0]] and shift.error.tolist() == [[0.0], [0.0]]
    assert shift.precision is precision


@pytest.mark.parametrize("storage, step", [("bfloat16", 2.0 ** -7), ("tf32", 2.0 ** -10)])
def test_the_narrow_formats_round_to_nearest_with_ties_to_even(storage, step):
    """Near 1 a bfloat16 step is 2⁻⁷ and a TF32 step 2⁻¹⁰: half a step from 1 is a tie, kept at the even 1;
    half a step from 1 + step goes up to the even 1 + 2·step; one float32 ulp (2⁻²³) either side of a tie
    decides it; the sign is kept (by hand)."""
    half, ulp = step / 2, 2.0 ** -23
    values = [1 + half, 1 + 3 * half, 1 + half + ulp, 1 + half - ulp, -(1 + 3 * half), 1 + step]
    expected = [1.0, 1 + 2 * step, 1 + step, 1.0, -(1 + 2 * step), 1 + step]
    assert rounding.stored(values, FORMATS[storage]).tolist() == expected


def test_tf32_rounds_each_multiplicand_as_far_as_its_bound_reaches():
    """a = 1 ± 1 (reaching 2) times b = 1: TF32 rounds a value of up to 2 by up to 2u_m and b by u_m, so the
    bound grows by about (2u_m)·1 + 2·u_m = 4u_m over float32's (by hand, to first order)."""
    a, b = np.array([[1.0]]), np.array([[1.0]])
    plain = np.matmul(_bounded(a, 1.0, _precision("float32")), b)
    tf32 = np.matmul(_bounded(a, 1.0, rounding.Precision.declared("tf32")), b)
    assert float(tf32.error[0, 0] - plain.error[0, 0]) == pytest.approx(4 * 2.0 ** -11, rel=1e-3, abs=0)


@pytest.mark.filterwarnings("error")
def test_a_dot_product_of_an_infinite_value_and_zero_warns_nothing():
    product = np.matmul(_bounded([[-np.inf, 1.0]], 0.0, _precision("float32")), np.array([[0.0], [1.0]]))
    assert np.isnan(product.value[0, 0]) and product.error[0, 0] == np.inf


def test_a_batched_matmul_sums_over_the_last_axis_of_its_first_factor():
    """(2, 3, 4) @ (2, 4, 5) of ones: each entry a sum of 4 products, γ₄ of 4 (not γ₃: the middle axis)."""
    precision = _precision("float32")
    product = np.matmul(_bounded(np.ones((2, 3, 4)), 0.0, precision), _bounded(np.ones((2, 4, 5)), 0.0, precision))
    kept = precision.gamma(4) * 4 + 4 * precision.accumulation_underflow
    assert product.error[1, 2, 3] == pytest.approx(kept + precision.rounding(4 + kept), rel=1e-6, abs=0)


def test_what_the_model_does_not_define_is_refused():
    """A ufunc the model has no rule for, and a ufunc's other methods (outer, reduce), are NumPy's TypeError."""
    precision = _precision("float32")
    x = _bounded([1.0, 2.0], 0.0, precision)
    c = rounding.Condition([True, False], [False, False])
    for call in (lambda: np.sin(x), lambda: np.add.outer(x, x), lambda: np.add.reduce(x),
                 lambda: np.logical_and.outer(c, c), lambda: np.logical_xor(c, c)):
        with pytest.raises(TypeError):
            call()


@pytest.mark.filterwarnings("error")
def test_bounds_and_sizes_near_the_largest_float64_are_unbounded_without_a_warning():
    """A result of 1.5·10³⁰⁸ with a carried error of 10³⁰⁸: their sum, the size the rounding is taken of, is past
    float64: unbounded. So is a product's carried error |a|e_b = 10³⁰⁸·10¹⁰."""
    precision = _precision("float32")
    total = _bounded([1.5e308], [0.0], precision) + _bounded([0.0], [1e308], precision)
    product = _bounded([1e308], [0.0], precision) * _bounded([1.0], [1e10], precision)
    assert total.error[0] == np.inf and product.error[0] == np.inf


def test_a_maximum_is_one_of_the_computed_entries_and_any_is_certain_where_a_certain_entry_is_true():
    """max along an axis: the largest value, off by at most the largest bound; `any` is uncertain only where
    no entry is certainly true and some entry is uncertain."""
    precision = _precision("float32")
    x = _bounded([[1.0, 3.0, 2.0], [0.0, -1.0, 5.0]], [[0.5, 0.1, 0.2], [0.0, 0.3, 0.0]], precision)
    largest = np.max(x, axis=1, keepdims=True)
    assert largest.value.tolist() == [[3.0], [5.0]] and largest.error.tolist() == [[0.5], [0.3]]
    assert largest.precision is precision
    assert np.max(x).value == 5.0 and np.max(x, axis=0).error.tolist() == [0.5, 0.3, 0.2]
    c = rounding.Condition([[True, False], [False, True], [False, False], [False, False]],
                           [[False, True], [True, True], [True, False], [False, False]])
    found = np.any(c, axis=1)
    assert found.value.tolist() == [True, True, False, False] and found.uncertain.tolist() == [False, True, True, False]
    assert np.any(c, axis=1, keepdims=True).uncertain.tolist() == [[False], [True], [True], [False]]
    assert np.any(c, axis=0, keepdims=True).uncertain.tolist() == [[False, True]]
    assert np.any(c).value and not np.any(c).uncertain
    rows = list(x)
    assert len(rows) == 2 and rows[1].value.tolist() == [0.0, -1.0, 5.0] and rows[1].error.tolist() == [0.0, 0.3, 0.0]


@pytest.mark.filterwarnings("error")
def test_values_past_a_format_or_float64_are_infinite_without_a_warning():
    """10³⁰⁰ stored in float32, float16 or bfloat16 is ∞, as the implementation holds it; 10²⁰⁰ cubed, and 10 to
    a power of 400 that is itself off by its bound, are past float64: unbounded."""
    precision = _precision("float32")
    held = [rounding.stored([1e300, -1e300], FORMATS[name]).tolist() for name in ("float32", "float16", "bfloat16")]
    cube = np.power(_bounded([1e200], [1e190], precision), 3.0)
    power = np.power(_bounded([10.0], [0.0], precision), _bounded([400.0], [1e-3], precision))
    assert held == [[np.inf, -np.inf]] * 3
    assert cube.value[0] == np.inf and power.value[0] == np.inf and power.error[0] == np.inf
