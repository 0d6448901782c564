"""The chain API: engines agree, bad input is refused before any work."""

from fractions import Fraction

import numpy as np
import pytest
import sympy

from gradproofs import chain

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
    (dict(w=[1.0, 2.0], b=[1.0]), ValueError, "b must have length 2"),
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
