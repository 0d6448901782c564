"""The chain API: engines agree, bad input is refused before any work."""

import warnings
from fractions import Fraction

import numpy as np
import pytest
import sympy

from ieee import assert_same_under_a_raising_error_state
from gradproofs.chain import engine as chain

W = [1.5, -2.0, 0.7, 3.0]
B = [0.1, -0.2, 0.3, 0.0]


def test_symbolic_gradients_equal_plain_differentiation_at_depth_3():
    dw, db = chain.symbolic_gradients(3)
    nested = chain.nested_cost(3)
    w, b, x, y = chain.symbols(3)
    point = {**dict(zip(w, (Fraction(3, 2), -2, Fraction(7, 10)))),
             **dict(zip(b, (Fraction(1, 10), Fraction(-1, 5), Fraction(3, 10)))),
             x: Fraction(2, 5), y: Fraction(1, 5)}
    for symbol, gradient in zip((*w, *b), (*dw, *db)):
        plain = sympy.diff(nested, symbol).evalf(40, subs=point)
        assert abs(gradient.evalf(40, subs=point) - plain) < 1e-35


def test_symbols_are_named_as_documented():
    w, b, x, y = chain.symbols(2)
    assert [str(s) for s in (*w, *b, x, y)] == ["w1", "w2", "b1", "b2", "x", "y"]
    assert all(s.is_real for s in (*w, *b, x, y))  # so that SymPy may simplify |w|² = w² and conjugates


@pytest.mark.parametrize("activation, cost", [("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"),
                                              ("tanh", "quadratic"), ("relu", "quadratic")])
def test_numpy_and_torch_match_the_exact_form(activation, cost, device):
    exact = chain.backward_exact(W, B, 0.4, 0.2, activation=activation, cost=cost)
    for result in (chain.backward(W, B, 0.4, 0.2, activation=activation, cost=cost),
                   chain.backward_torch(W, B, 0.4, 0.2, activation=activation, cost=cost, device=device)):
        for got, expected in ((result.db, exact.db), (result.dw, exact.dw), (result.z, exact.z)):
            got = np.asarray(got.cpu() if hasattr(got, "cpu") else got, dtype=np.float64)
            np.testing.assert_allclose(got, [float(v) for v in expected], rtol=1e-13, atol=1e-300)


def test_torch_returns_tensors_on_the_device(device):
    torch = pytest.importorskip("torch")
    result = chain.backward_torch(W, B, 0.4, 0.2, device=device, dtype=torch.float32)
    assert result.db.device.type == device and result.db.dtype == torch.float32
    assert result.a.shape == (4,)


def test_log_abs_db_is_finite_at_depth_10000_where_float64_underflows():
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, 10_000)
    b = rng.uniform(-1, 1, 10_000)
    assert chain.backward(w, b, 0.5, 0.0).db[0] == 0.0  # underflowed in float64
    log_db = chain.log_abs_db(w, b, 0.5, 0.0)
    assert np.all(np.isfinite(log_db))
    assert log_db[0] < -10_000 * np.log(4)  # vanishes at least like 4^(−L)
    np.testing.assert_allclose(log_db[-50:], np.log(np.abs(chain.backward(w, b, 0.5, 0.0).db[-50:])),
                               rtol=1e-12)


def test_log_abs_db_is_minus_infinity_only_for_an_exact_zero():
    log_db = chain.log_abs_db([1.0, 0.0, 2.0], [0.0, 0.0, 0.0], 1.0, 0.3)
    assert np.isneginf(log_db[0]) and np.all(np.isfinite(log_db[1:]))  # w_2 = 0 cuts δ_1 alone


def test_exploding_example_is_exact():
    w = np.full(4, 100.0)
    b = chain.centred_biases(w, 0.3)
    assert list(b) == [-30.0, -50.0, -50.0, -50.0]
    assert chain.backward(w, b, 0.3, 0.0).db[0] == 3906.25 * 0.5


def test_cross_entropy_refuses_a_non_sigmoid_output():
    for build in (lambda: chain.backward(W, B, 0.4, 0.2, activation="tanh", cost="cross_entropy"),
                  lambda: chain.symbolic_gradients(2, activation="tanh", cost="cross_entropy"),
                  lambda: chain.nested_cost(2, activation="tanh", cost="cross_entropy")):
        with pytest.raises(ValueError, match="cost 'cross_entropy' needs a sigmoid output"):
            build()


@pytest.mark.parametrize("w, x, message", [([1.0, np.nan], 0.5, "w must be finite"),
                                           ([1.0], np.inf, "x must be finite"),
                                           ([[1.0]], 0.5, "w must be one-dimensional")])
def test_centred_biases_refuse_bad_input_naming_the_argument(w, x, message):
    with pytest.raises(ValueError, match=message):
        chain.centred_biases(w, x)


def test_centred_biases_make_every_pre_activation_zero():
    w, x = np.array([3.0, -2.0, 0.5]), 0.25
    for activation, f0 in (("sigmoid", 0.5), ("tanh", 0.0)):
        b = chain.centred_biases(w, x, activation=activation)
        np.testing.assert_array_equal(b, [-0.75, 2.0 * f0, -0.5 * f0])


BAD = [
    (dict(w=[], b=[]), ValueError, "w must not be empty"),
    (dict(w=[1.0, 2.0], b=[1.0]), ValueError, r"b must have the length of w \(2\), got 1"),
    (dict(w=[1.0, np.nan]), ValueError, "w must be finite"),
    (dict(b=[0.0, np.inf, 0.0, 0.0]), ValueError, "b must be finite"),
    (dict(x=np.inf), ValueError, "x must be finite"),
    (dict(y=np.nan), ValueError, "y must be finite"),
    (dict(w=[[1.0]], b=[[1.0]]), ValueError, "w must be one-dimensional"),
    (dict(w=["a"]), TypeError, "w must hold real numbers"),
    (dict(x=[1.0, 2.0]), ValueError, "x must be a scalar"),
    (dict(w=np.array([1 + 1j])), TypeError, "w must hold real numbers"),
    (dict(activation="softsign"), ValueError, "unknown activation 'softsign'"),
    (dict(cost="hinge"), ValueError, "unknown cost 'hinge'"),
    (dict(cost="cross_entropy", y=1.5), ValueError, "y must lie in \\[0, 1\\]"),
]


@pytest.mark.parametrize("engine", [chain.backward, chain.log_abs_db, chain.backward_exact, chain.backward_torch])
@pytest.mark.parametrize("changes, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_is_refused_naming_the_argument(engine, changes, error, message):
    arguments = dict(w=np.array(W), b=np.array(B), x=0.4, y=0.2, activation="sigmoid", cost="quadratic")
    arguments.update(changes)
    before = {k: np.copy(v) for k, v in arguments.items() if isinstance(v, np.ndarray)}
    with pytest.raises(error, match=message):
        engine(**arguments)
    for key, value in before.items():
        np.testing.assert_array_equal(arguments[key], value)


def test_depth_zero_is_refused_symbolically():
    with pytest.raises(ValueError, match="depth must be at least 1"):
        chain.symbolic_gradients(0)
    with pytest.raises(TypeError, match="depth must be an integer"):
        chain.symbolic_gradients(2.0)


def test_cuda_without_cuda_is_a_clear_error():
    from gradproofs import devices

    if devices.cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not available"):
        chain.backward_torch(W, B, 0.4, 0.2, device="cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        chain.backward_torch(W, B, 0.4, 0.2, device="tpu")


def test_inputs_are_not_modified():
    w, b = np.array(W), np.array(B)
    chain.backward(w, b, 0.4, 0.2)
    chain.backward_torch(w, b, 0.4, 0.2)
    np.testing.assert_array_equal(w, W)
    np.testing.assert_array_equal(b, B)


# --- the rounding model of chain.Reference, recomputed from its docstring in mpmath -------------------

def _mp_chain(w, b, x):
    """z, a and S = 1 + max_k(|w_k a_(k−1)| + |b_k|) of a sigmoid chain, in 40-digit mpmath."""
    import mpmath

    mpmath.mp.dps = 40
    a, z, summands = [mpmath.mpf(x)], [], []
    for wk, bk in zip(w, b):
        summands.append(abs(mpmath.mpf(wk) * a[-1]) + abs(mpmath.mpf(bk)))
        z.append(mpmath.mpf(wk) * a[-1] + mpmath.mpf(bk))
        a.append(1 / (1 + mpmath.exp(-z[-1])))
    return z, a, 1 + max(summands)


def _sigmoid_prime(z):
    import mpmath

    s = 1 / (1 + mpmath.exp(-z))
    return s * (1 - s)


def _largest_run(gains) -> float:
    """max over contiguous runs of the product of ``gains``, at least 1: every run, by brute force."""
    best = 1
    for i in range(len(gains)):
        for k in range(i + 1, len(gains) + 1):
            best = max(best, np.prod(gains[i:k]))
    return float(best)


def test_the_reference_scales_and_tolerances_follow_the_rounding_model():
    # One test for both costs (not parametrised: mutation runs select tests by plain ids).
    for cost in ("quadratic", "cross_entropy"):
        _assert_rounding_model(cost)


def _assert_rounding_model(cost):
    w, b, x, y = [1.5, -9.0, 12.0, 0.75], [0.1, -0.3, 0.2, 0.05], 0.8, 0.25
    reference = chain.reference(w, b, x, y, cost=cost)
    z, a, S = _mp_chain(w, b, x)
    assert reference.exact.summand == pytest.approx(float(S), rel=1e-15)
    fprime = [_sigmoid_prime(zk) for zk in z]
    # κ: the largest run of |w_m f′(z_(m−1))|, m = 2..L.
    kappa = _largest_run([abs(w[m]) * fprime[m - 1] for m in range(1, len(w))])
    assert kappa > 1 and reference.amplification == pytest.approx(kappa, rel=1e-12)
    # Scales: |δ_j| with the residual a_L − y replaced by |a_L| + |y| + S; dw_j = (|a_(j−1)| + S)·db_j.
    residual = abs(a[-1]) + abs(y) + S
    db = [residual * (fprime[-1] if cost == "quadratic" else 1)]
    for j in range(len(w) - 2, -1, -1):
        db.insert(0, db[0] * abs(w[j + 1]) * fprime[j])
    dw = [(abs(a[j]) + S) * db[j] for j in range(len(w))]
    scales = reference.scales()
    np.testing.assert_allclose(scales["db"], [float(d) for d in db], rtol=1e-12)
    np.testing.assert_allclose(scales["dw"], [float(d) for d in dw], rtol=1e-12)
    # Tolerances: 2·eps·(L + 1)²·κ·(S + 1) per layer; from the output, 4·eps·γ/f′(z_k) more for every
    # factor k ≥ j that δ_j contains (none for cross-entropy's last layer, which has no f′).
    eps, depth = 2.0 ** -23, len(w)
    base = 2 * eps * (depth + 1) ** 2 * kappa * (float(S) + 1)
    plain = reference.rounding_tolerance(eps)
    np.testing.assert_allclose(plain["db"], np.full(depth, base), rtol=1e-12)
    np.testing.assert_allclose(plain["dw"], np.full(depth, base), rtol=1e-12)
    loss = [4 * eps * 0.25 / float(f) for f in fprime]
    if cost == "cross_entropy":
        loss[-1] = 0.0
    from_output = reference.rounding_tolerance(eps, derivative_from_output=True)
    np.testing.assert_allclose(from_output["db"], [base + sum(loss[j:]) for j in range(depth)], rtol=1e-12)


def test_forward_amplification_is_the_largest_run_of_gains():
    w, z = [1.0, 8.0, 12.0, 0.5, 16.0], [0.3, -1.2, 2.0, 0.7, 0.0]
    import mpmath

    gains = [abs(w[m]) * float(_sigmoid_prime(mpmath.mpf(z[m - 1]))) for m in range(1, len(w))]
    assert chain.forward_amplification(w, z, "sigmoid") == pytest.approx(_largest_run(gains), rel=1e-12)
    assert chain.forward_amplification([1.0, 0.5, 2.0], [0.0, 0.0, 0.0], "sigmoid") == 1.0  # every run shrinks
    assert chain.forward_amplification([1.0, 1e300, 1e300], [0.0] * 3, "sigmoid") == float(np.exp(700.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a zero weight is a gain of −∞, quietly
        assert chain.forward_amplification([1.0, 0.0, 8.0], [0.0] * 3, "sigmoid") == pytest.approx(2.0, rel=1e-15)


def test_reference_validates_its_digits():
    with pytest.raises(ValueError, match="^dps must"):
        chain.reference([1.0], [0.0], 0.5, 0.0, dps=0)


def test_well_conditioned_means_relu_inputs_clear_of_the_kink_by_their_forward_error():
    # ReLU chain w = [1, 1], b = 0, x = t: z_1 = z_2 = t, κ = 1, S = 1 + t. The forward error of z is
    # the tolerance 2·eps·(L + 1)²·κ·(S + 1) times (S + 1); an input within it of 0 may sit on either
    # side of the kink, where f′ jumps.
    eps = 2.0 ** -23
    t = 2 * eps * 3 ** 2 * (2 + 1e-5) ** 2  # the forward error at S = 1 + t, t ≈ 1e-5
    for factor, expected in ((1.01, True), (0.99, False)):
        reference = chain.reference([1.0, 1.0], [0.0, 0.0], factor * t, 0.0, activation="relu")
        assert reference.well_conditioned(eps) is expected, factor
    # Other activations are smooth at 0: their inputs may be anywhere.
    assert chain.reference([1.0, 1.0], [0.0, 0.0], 1e-12, 0.0, activation="sigmoid").well_conditioned(eps)
    # A chain that amplifies rounding errors more than MAX_AMPLIFICATION-fold is not judged.
    w = [1.0] + [40.0] * 4  # each gain 40·σ′(z) with z near 0 for x = 0 and centred biases: 10 per layer
    exploding = chain.reference(w, list(chain.centred_biases(w, 0.0)), 0.0, 0.0)
    assert exploding.amplification > chain.MAX_AMPLIFICATION and not exploding.well_conditioned(eps)


def test_the_reference_gives_ieee_results_whatever_the_callers_error_state():
    # Five weights of 10^200 (relu: z past the largest float, for which the exact engine needs no extra
    # digits), of 800 (σ: σ′ = e^−800 below the smallest float) and of 10^-200 (products below the smallest
    # subnormal): the same under an error state that raises on overflow, underflow and division.
    for name, weight, activation, x in (("overflow", 1e200, "relu", 1.0), ("saturation", 800.0, "sigmoid", 1.0),
                                        ("underflow", 1e-200, "relu", 1e-200)):
        def reference():
            return chain.reference(np.full(5, weight), np.zeros(5), x, 0.0, activation=activation)

        assert_same_under_a_raising_error_state({
            f"scales, {name}": lambda: reference().scales(),
            f"rounding_tolerance, {name}": lambda: reference().rounding_tolerance(2.0 ** -52),
            f"well_conditioned, {name}": lambda: reference().well_conditioned(2.0 ** -52)})


def test_autograds_derivative_from_a_relus_output_costs_four_units_per_live_layer_and_none_per_dead_one():
    """relu′ is 1 or 0, exactly: forming it from the output adds 4·eps·sup|f′|/f′ = 4 eps for each live
    layer from j to L, and nothing for a dead one (f′ = 0 blocks the gradient, which is then 0 exactly)."""
    eps = 2.0 ** -24
    w, b = np.array([1.5, -2.0, 1.0, 0.5]), np.array([0.25, 0.5, 1.0, 0.0])  # z = 1.75, −3, 1, 0.5
    reference = chain.reference(w, b, 1.0, 0.5, activation="relu")
    live = np.array([1, 0, 1, 1])  # z_j > 0
    plain = reference.rounding_tolerance(eps)["dw"]
    from_output = reference.rounding_tolerance(eps, derivative_from_output=True)["dw"]
    np.testing.assert_allclose(from_output - plain, 4 * eps * np.cumsum(live[::-1])[::-1], rtol=1e-12)
