"""The dense-network API: engines agree, bad input is refused before any work."""

import math
import re

import numpy as np
import pytest

import gradproofs
from ieee import assert_same_under_a_raising_error_state
from gradproofs.mlp import initialisation
from gradproofs.mlp import engine as mlp
from gradproofs.mlp import residual

RNG = np.random.default_rng(7)
WEIGHTS = [RNG.normal(size=(3, 4)) / 2, RNG.normal(size=(2, 3)) / 2]
BIASES = [RNG.normal(size=3), RNG.normal(size=2)]
X = RNG.uniform(size=(5, 4))
Y = RNG.uniform(size=(5, 2))


@pytest.mark.parametrize("activation, cost, output", [
    ("sigmoid", "quadratic", None), ("sigmoid", "cross_entropy", None), ("tanh", "softmax_cross_entropy", None),
    ("relu", "quadratic", None), ("tanh", "quadratic", "identity"), ("relu", "cross_entropy", "sigmoid")])
def test_engines_agree_with_the_exact_recurrence(activation, cost, output, device):
    y = Y / Y.sum(axis=1, keepdims=True) if cost == "softmax_cross_entropy" else Y
    options = dict(activation=activation, cost=cost, output_activation=output)
    exact = mlp.backward_exact(WEIGHTS, BIASES, X, y, **options)
    for result in (mlp.backward(WEIGHTS, BIASES, X, y, **options),
                   mlp.backward_torch(WEIGHTS, BIASES, X, y, **options, device=device)):
        for got, expected in ((result.dW, exact.dW), (result.db, exact.db), (result.delta, exact.delta),
                              ([result.dx], [exact.dx])):
            for g, e in zip(got, expected):
                g = g.detach().cpu().numpy() if hasattr(g, "detach") else g
                np.testing.assert_allclose(g, e.astype(float), rtol=1e-12, atol=1e-15)


def test_the_rounding_model_is_first_order_in_eps():
    """A first-order bound is linear in ε: doubling ε doubles every tolerance (exactly: ×2 is exact);
    forming f′ from the output only widens it. (A loop, not parametrised: mutation runs select tests
    by plain ids.)"""
    reference = mlp.reference(WEIGHTS, BIASES, X, Y)
    eps = 2.0 ** -52
    for derivative_from_output in (False, True):
        one = reference.rounding_tolerance(eps, derivative_from_output=derivative_from_output)
        two = reference.rounding_tolerance(2 * eps, derivative_from_output=derivative_from_output)
        for field in ("dW", "db"):
            for l in range(len(WEIGHTS)):
                np.testing.assert_array_equal(two[field][l], 2 * one[field][l])
        np.testing.assert_array_equal(two["dx"], 2 * one["dx"])
        assert all(np.all(t > 0) for t in (*one["dW"], *one["db"], one["dx"]))
    plain = reference.rounding_tolerance(eps)
    from_output = reference.rounding_tolerance(eps, derivative_from_output=True)
    for field in ("dW", "db"):
        for l in range(len(WEIGHTS)):
            assert np.all(from_output[field][l] > plain[field][l])


def test_scales_are_means_over_the_batch():
    """The batch repeated twice has the same mean gradients, so the same scales; its sums over the
    batch are twice as long, so its tolerances are at least as wide."""
    once = mlp.reference(WEIGHTS, BIASES, X, Y)
    twice = mlp.reference(WEIGHTS, BIASES, np.concatenate([X, X]), np.concatenate([Y, Y]))
    eps = 2.0 ** -52
    for field in ("dW", "db"):
        for l in range(len(WEIGHTS)):
            np.testing.assert_allclose(twice.scales()[field][l], once.scales()[field][l], rtol=1e-14)
            assert np.all(twice.rounding_tolerance(eps)[field][l] >= once.rounding_tolerance(eps)[field][l])
    np.testing.assert_allclose(twice.scales()["dx"], np.concatenate([once.scales()["dx"]] * 2) / 2, rtol=1e-14)


def test_an_error_in_one_weight_gradient_alone_is_caught():
    """A bug that leaves the biases' gradients right: one entry of ∂C/∂W¹ off by 10⁻⁹ of its scale."""
    from gradproofs.errors import Mismatch

    reference = mlp.reference(WEIGHTS, BIASES, X, Y)
    result = mlp.backward(WEIGHTS, BIASES, X, Y)
    reference.assert_matches("numpy", result, precision="float64", derivative_from_output=False)
    wrong = [g.copy() for g in result.dW]
    wrong[1][1, 2] += 1e-9 * reference.scales()["dW"][1][1, 2]
    with pytest.raises(Mismatch, match=r"numpy dW\[1\]\[1\]"):
        reference.assert_matches("numpy", {"dW": wrong, "db": result.db, "dx": result.dx}, precision="float64",
                                 derivative_from_output=False)


def test_scales_and_tolerances_of_a_scalar_network_worked_by_hand():
    # x → identity(2x + 1/2) → σ(−a/2 + 1/4), quadratic cost, two equal samples: Reference's docstrings
    # written out with math's floats. z¹ = 2.5, z² = −1, σ′(−1) = σ(−1)(1 − σ(−1)).
    sigma = 1 / (1 + math.e)
    sigma_prime = sigma * (1 - sigma)
    reference = mlp.reference([np.array([[2.0]]), np.array([[-0.5]])], [np.array([0.5]), np.array([0.25])],
                              np.ones((2, 1)), np.ones((2, 1)), activation="identity", output_activation="sigmoid")
    S = 1 + 2.5  # 1 + the largest |a||W| + |b|: 1·2 + 0.5 in the first layer, 2.5·0.5 + 0.25 in the second
    kappa = 1  # γ‖W²‖₂ = 1·0.5 < 1: no run of layers amplifies
    F = 2 * kappa * 1 * (1 + 4) * S  # depth · κ · √N · (N + 4) · S, N = 1
    assert reference.summand == S and reference.forward_error == F
    D2 = (sigma + 1 + S) * sigma_prime  # (|a²| + |y| + S)·|σ′(z²)|
    D1 = D2 * 0.5 * 1  # D²|W²|·|identity′|
    scales = reference.scales()
    expected = {"dW": [[[D1 * (1 + S)]], [[D2 * (2.5 + S)]]], "db": [[D1], [D2]], "dx": [[D1 * 2 / 2], [D1 * 2 / 2]]}  # D¹|W¹| / B
    for field in ("dW", "db"):
        for got, want in zip(scales[field], expected[field]):
            np.testing.assert_allclose(got, want, rtol=1e-13)
            assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(scales["dx"], expected["dx"], rtol=1e-13)
    # Units of eps: the output layer 3F + N + 4 (+ 4γ/|f′| when the derivative comes from the output,
    # γ = 1/4 for σ), the hidden one that + n₂ + 4 + 2F (+ 4·1/1 for the identity); then twice eps times
    # the unit + B + 4 + F for ∂C/∂W, + B + 2 for ∂C/∂b, + n₁ + 2 for ∂C/∂x, B = 2.
    eps = 2.0 ** -52
    for from_output, (extra_out, extra_hidden) in ((False, (0, 0)), (True, (4 * 0.25 / sigma_prime, 4.0))):
        out = 3 * F + 1 + 4 + extra_out
        hidden = out + 1 + 4 + 2 * F + extra_hidden
        tolerance = reference.rounding_tolerance(eps, derivative_from_output=from_output)
        for field, want in (("dW", [2 * eps * (hidden + 2 + 4 + F), 2 * eps * (out + 2 + 4 + F)]),
                            ("db", [2 * eps * (hidden + 2 + 2), 2 * eps * (out + 2 + 2)])):
            for got, w in zip(tolerance[field], want):
                np.testing.assert_allclose(got, np.full(np.shape(got), w), rtol=1e-13)
        np.testing.assert_allclose(tolerance["dx"], np.full((2, 1), 2 * eps * (hidden + 1 + 2)), rtol=1e-13)


def test_well_conditioned_keeps_hidden_relu_pre_activations_twice_the_forward_error_from_the_kink():
    # x = 0, so z¹ = b¹; one relu neuron, then a sigmoid output whose z² = relu(z¹) − 25·eps = 0 exactly
    # in the first case: the output's kink-free activation does not count, the hidden relu does.
    eps = 2.0 ** -52

    def reference(z1, **options):
        return mlp.reference([np.array([[1.0]]), np.array([[1.0]])], [np.array([z1]), np.array([-25 * eps])],
                             np.zeros((1, 1)), np.zeros((1, 1)), **{"activation": "relu",
                                                                     "output_activation": "sigmoid", **options})

    # S = 1 + 50·eps (|a¹W²| + |b²| in the second layer); F = depth·κ·√N·(N + 4)·S = 2·1·1·5·S; the
    # margin 2·eps·F is 20·eps and a bit.
    assert reference(25 * eps).forward_error == 10 * (1 + 50 * eps)
    assert reference(25 * eps).well_conditioned(eps)  # |z¹| = 25·eps > 20·eps; z² = 0 is the sigmoid's
    assert not reference(15 * eps).well_conditioned(eps) and not reference(-15 * eps).well_conditioned(eps)
    assert reference(15 * eps, activation="tanh").well_conditioned(eps)  # no kink
    # A network that amplifies a rounding error more than MAX_AMPLIFICATION-fold: κ = γ‖W²‖₂ = 2·10⁴.
    steep = mlp.reference([np.array([[1.0]]), np.array([[2e4]])], [np.array([1.0]), np.array([0.0])],
                          np.zeros((1, 1)), np.zeros((1, 1)), activation="relu", output_activation="sigmoid")
    assert steep.amplification == pytest.approx(2e4, rel=1e-14) and not steep.well_conditioned(eps)


def test_the_reference_takes_the_output_activation():
    options = dict(activation="tanh", output_activation="identity")
    reference = mlp.reference(WEIGHTS, BIASES, X, Y, **options)
    exact = mlp.backward_exact(WEIGHTS, BIASES, X, Y, **options)
    for got, want in zip([*reference.exact.dW, reference.exact.dx], [*exact.dW, exact.dx]):
        np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(want, dtype=float))
    assert reference.output == "identity"


def test_softmax_takes_logits_near_a_thousand_row_by_row():
    # z = [1000, 1001] for one sample, [0, 1] for the other: softmax = [1, e]/(1 + e) for both, and
    # δ^L = softmax − y; without the shift by each row's largest logit, e^1000 overflows.
    p = np.array([1.0, math.e]) / (1 + math.e)
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    result = mlp.backward([np.array([[1.0], [1.0]])], [np.array([0.0, 1.0])], np.array([[1000.0], [0.0]]), y,
                          cost="softmax_cross_entropy")
    np.testing.assert_allclose(result.delta[-1], p - y, rtol=1e-15)


def test_the_extended_engine_takes_the_same_defaults_and_options():
    y = Y / Y.sum(axis=1, keepdims=True)
    for options in ({}, dict(activation="tanh", output_activation="identity"),
                    dict(activation="relu", cost="softmax_cross_entropy")):
        extended = mlp.backward_extended(WEIGHTS, BIASES, X, y, **options)
        exact = mlp.backward_exact(WEIGHTS, BIASES, X, y, **options)
        for got, want in zip([*extended.dW, *extended.db, extended.dx], [*exact.dW, *exact.db, exact.dx]):
            np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-15)


def test_speed_is_measured_in_float64_whatever_the_engine_returned():
    torch = pytest.importorskip("torch")
    result = mlp.backward(WEIGHTS, BIASES, X, Y)
    db32 = [g.astype(np.float32) for g in result.db]
    float64 = [float(np.sqrt(np.sum(g.astype(np.float64) ** 2))) for g in db32]
    for db in (db32, [torch.tensor(g, requires_grad=True) for g in db32]):  # NumPy float32, torch with a graph
        np.testing.assert_allclose(mlp.MLPGradients(**{**vars(result), "db": db}).speed(), float64, rtol=1e-15)


def test_speed_is_the_norm_of_the_bias_gradients():
    result = mlp.backward(WEIGHTS, BIASES, X, Y)
    np.testing.assert_allclose(result.speed(), [np.linalg.norm(g) for g in result.db])
    np.testing.assert_allclose(result.db[0], result.delta[0].mean(axis=0))


def test_a_linear_output_layer_is_the_identity_at_the_last_layer_only():
    linear = mlp.backward(WEIGHTS, BIASES, X, Y, activation="tanh", output_activation="identity")
    np.testing.assert_array_equal(linear.a[-1], linear.z[-1])
    np.testing.assert_array_equal(linear.a[1], np.tanh(linear.z[0]))
    # δ^L = a^L − y: identity′ = 1, and ∂C/∂x = δ^1 W^1 / B
    np.testing.assert_allclose(linear.delta[-1], linear.a[-1] - Y, rtol=0, atol=0)
    np.testing.assert_allclose(linear.dx, linear.delta[0] @ WEIGHTS[0] / len(X), rtol=1e-15)


def test_the_cost_is_a_mean_over_the_batch():
    once = mlp.backward(WEIGHTS, BIASES, X, Y)
    twice = mlp.backward(WEIGHTS, BIASES, np.vstack([X, X]), np.vstack([Y, Y]))
    for a, b in zip(once.dW + once.db, twice.dW + twice.db):
        np.testing.assert_allclose(a, b, rtol=1e-14)


BAD = [
    (dict(weights=[]), ValueError, "weights must not be empty"),
    (dict(weights=np.ones((3, 4))), TypeError, "weights must be a list"),
    (dict(biases=[np.zeros(3)]), ValueError, "biases must have one entry per layer"),
    (dict(weights=[np.ones((3, 4)), np.ones((2, 2))]), ValueError, r"weights\[1\] must have 3 columns"),
    (dict(biases=[np.zeros(4), np.zeros(2)]), ValueError, r"biases\[0\] must have shape \(3,\)"),
    (dict(x=np.ones((5, 3))), ValueError, r"x must have shape \(B, 4\)"),
    (dict(y=np.ones((4, 2))), ValueError, r"y must have shape \(5, 2\)"),
    (dict(x=np.ones((0, 4)), y=np.ones((0, 2))), ValueError, "x must hold at least one sample"),
    (dict(x=np.full((5, 4), np.nan)), ValueError, "x must be finite"),
    (dict(weights=[np.full((3, 4), np.inf), WEIGHTS[1]]), ValueError, r"weights\[0\] must be finite"),
    (dict(weights=[np.ones((3, 4), dtype=complex), WEIGHTS[1]]), TypeError, r"weights\[0\] must hold real numbers"),
    (dict(activation="gelu"), ValueError, "unknown activation 'gelu'"),
    (dict(cost="hinge"), ValueError, "unknown cost 'hinge'"),
    (dict(cost="cross_entropy", activation="tanh"), ValueError, "needs a sigmoid output"),
    (dict(cost="cross_entropy", output_activation="identity"), ValueError, "needs a sigmoid output"),
    (dict(output_activation="softmax"), ValueError, "unknown activation 'softmax'"),
    (dict(cost="softmax_cross_entropy", output_activation="tanh"), ValueError,
     "output_activation must be 'identity' for the softmax_cross_entropy cost"),
    (dict(cost="cross_entropy", y=np.full((5, 2), 2.0)), ValueError, r"y must lie in \[0, 1\]"),
    (dict(cost="softmax_cross_entropy", y=np.full((5, 2), 0.2)), ValueError, "rows must sum to 1"),
]


@pytest.mark.parametrize("engine", [mlp.backward, mlp.backward_exact, mlp.backward_torch])
@pytest.mark.parametrize("changes, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_is_refused_naming_the_argument(engine, changes, error, message):
    arguments = dict(weights=[w.copy() for w in WEIGHTS], biases=[b.copy() for b in BIASES],
                     x=X.copy(), y=Y.copy(), activation="sigmoid", cost="quadratic")
    arguments.update(changes)
    before = {k: [np.copy(v) for v in arguments[k]] if isinstance(arguments[k], list) else np.copy(arguments[k])
              for k in ("weights", "biases", "x", "y")}
    with pytest.raises(error, match=message):
        engine(**arguments)
    for key, value in before.items():
        for a, b in zip(arguments[key] if isinstance(value, list) else [arguments[key]],
                        value if isinstance(value, list) else [value]):
            np.testing.assert_array_equal(a, b)


def test_results_never_alias_writable_inputs():
    result = mlp.backward(WEIGHTS, BIASES, X, Y)
    with pytest.raises(ValueError):
        result.a[0][0, 0] = 1.0  # a^0 is a read-only view of x
    assert X[0, 0] != 1.0


def test_initialisations_have_their_stated_shapes_and_scales():
    rng = np.random.default_rng(0)
    weights, biases = initialisation.initialise([64, 32, 16], "orthogonal", rng)
    np.testing.assert_allclose(weights[0] @ weights[0].T, np.eye(32), atol=1e-12)
    weights, _ = initialisation.initialise([200, 100], "glorot", rng)
    assert np.abs(weights[0]).max() <= np.sqrt(6 / 300)
    with pytest.raises(ValueError, match="unknown scheme 'xavier'"):
        initialisation.initialise([2, 2], "xavier", rng)
    with pytest.raises(ValueError, match="widths must name at least"):
        initialisation.initialise([2], "he", rng)


def test_residual_jacobian_is_the_identity_without_a_branch(device):
    blocks = [residual.Block(np.ones((2, 3)), np.zeros(2), np.zeros((3, 2)))] * 3
    np.testing.assert_array_equal(residual.jacobian(np.ones(3), blocks), np.eye(3))
    np.testing.assert_array_equal(residual.jacobian(np.ones(3), blocks, shortcuts=[2.0, 0.5, 3.0]), 3 * np.eye(3))
    torch_jacobian = residual.jacobian_torch(np.ones(3), blocks, device=device).cpu().numpy()
    np.testing.assert_array_equal(torch_jacobian, np.eye(3))
    with pytest.raises(ValueError, match=r"blocks\[0\] must have W1"):
        residual.jacobian(np.ones(4), blocks)


def test_the_reference_gives_ieee_results_whatever_the_callers_error_state():
    # Weights of 10^200 (sums past the largest float; σ′ of them below the smallest) and of 10^-200
    # (products below the smallest subnormal): scales, tolerances and the conditioning are ∞ and 0 as IEEE
    # arithmetic has them, the same under an error state that raises on overflow, underflow and division.
    def network(weight, activation, x):
        return mlp.reference([np.full((3, 2), weight), np.full((1, 3), weight)], [np.zeros(3), np.zeros(1)],
                             np.full((4, 2), x), np.ones((4, 1)), activation=activation)

    for name, weight, activation, x in (("overflow", 1e200, "relu", 1.0), ("saturation", 1e200, "sigmoid", 1.0),
                                        ("underflow", 1e-200, "relu", 1e-200)):
        assert_same_under_a_raising_error_state({
            f"scales, {name}": lambda: network(weight, activation, x).scales(),
            f"rounding_tolerance, {name}": lambda: network(weight, activation, x).rounding_tolerance(2.0 ** -52),
            f"well_conditioned, {name}": lambda: network(weight, activation, x).well_conditioned(2.0 ** -52)})


def test_a_dropped_derivative_worked_by_hand():
    # widths [1, 1, 1], sigmoid, quadratic cost, no biases, one sample: z1 = w1·x, z2 = w2·σ(z1);
    # δ2 = (σ(z2) − y)·σ′(z2) and δ1 = w2·δ2·σ′(z1). dropped=2 leaves σ′(z2) out of δ2, dropped=1 σ′(z1) out of δ1.
    def s(z):
        return 1 / (1 + math.exp(-z))

    w1, w2, x, y = 0.75, -1.5, 2.0, 0.25
    z1 = w1 * x
    z2 = w2 * s(z1)
    residual_ = s(z2) - y
    expected = {None: (w2 * residual_ * s(z2) * (1 - s(z2)) * s(z1) * (1 - s(z1)), residual_ * s(z2) * (1 - s(z2))),
                1: (w2 * residual_ * s(z2) * (1 - s(z2)), residual_ * s(z2) * (1 - s(z2))),
                2: (w2 * residual_ * s(z1) * (1 - s(z1)), residual_)}
    problem = ([np.array([[w1]]), np.array([[w2]])], [np.zeros(1), np.zeros(1)], np.array([[x]]), np.array([[y]]))
    for dropped, (db1, db2) in expected.items():
        for engine in (mlp.backward, mlp.backward_exact, mlp.backward_extended):
            db = engine(*problem, dropped=dropped).db
            assert float(db[0][0]) == pytest.approx(db1, rel=1e-14) and float(db[1][0]) == pytest.approx(db2, rel=1e-14)
        reference = mlp.reference(*problem, dropped=dropped)
        assert [float(v) for v in reference.expectations(2.0 ** -53)["db"][0].exact] == pytest.approx([db1], rel=1e-15)
        # The scales take |f′| = 1 in the dropped layer: δ2's scale (|σ(z2)| + |y| + S)·|σ′(z2)| loses its σ′.
        S = reference.summand
        output_scale = (abs(s(z2)) + y + S) * (1.0 if dropped == 2 else s(z2) * (1 - s(z2)))
        assert reference.scales()["db"][1][0] == pytest.approx(output_scale, rel=1e-15)


@pytest.mark.parametrize("dropped, cost, message", [
    (0, "quadratic", "dropped must be at least 1"),
    (3, "quadratic", "dropped must name a layer with a factor f′ in δ, 1 to 2 here"),
    (2, "cross_entropy", "1 to 1 here"),
    ("1", "quadratic", "dropped must be an integer"),
])
def test_a_dropped_derivative_must_name_a_layer_that_has_one(dropped, cost, message):
    problem = ([np.ones((1, 1)), np.ones((1, 1))], [np.zeros(1), np.zeros(1)], np.ones((1, 1)), np.full((1, 1), 0.5))
    for build in (mlp.backward, mlp.backward_exact, mlp.backward_extended, mlp.reference):
        with pytest.raises(gradproofs.InvalidArgument, match=re.escape(message)):
            build(*problem, cost=cost, dropped=dropped)


@pytest.mark.parametrize("option, message", [({"dps": 0}, "dps must be at least 1"),
                                             ({"engine": "double"}, "unknown engine 'double'")])
def test_the_reference_refuses_bad_options_naming_them(option, message):
    problem = ([np.ones((1, 1))], [np.zeros(1)], np.ones((1, 1)), np.full((1, 1), 0.5))
    with pytest.raises(gradproofs.InvalidArgument, match=re.escape(message)):
        mlp.reference(*problem, **option)
