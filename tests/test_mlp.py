"""The dense-network API: engines agree, bad input is refused before any work."""

import numpy as np
import pytest

from gradproofs import initialisation, mlp, residual

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
