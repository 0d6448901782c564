"""The toy networks of Hung-yi Lee's RNN lecture and the language model: the published figures, and checks
that fail when the statement is wrong."""

import numpy as np
import pytest
from hypothesis import Phase, given, settings, strategies as st

from gradproofs.rnn import engine as rnn
from gradproofs.derivation import Derivation
from gradproofs.compare import Agreement, assert_close
from gradproofs.errors import Mismatch
from gradproofs.lm import theorems

ENGINES = {"numpy": theorems.linear_unit, "torch": theorems.linear_unit_torch}


# --- w999-toy ---------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("w, published_y, published_slope", [
    (1.01, "20751.639", "2.05256e7"),
    (0.99, "4.36073e-5", "0.0440"),
])
def test_the_engines_give_the_published_figures(engine, w, published_y, published_slope):
    """The figures as published, each to its last decimal (an independent source for both engines)."""
    y, slope = ENGINES[engine](w)
    Derivation().agrees_with("the lecture's toy example", ("y", y, published_y), ("dy/dw", slope, published_slope))


@pytest.mark.parametrize("engine", ENGINES)
def test_at_w_one_the_figures_are_exact_and_at_w_one_hundredth_y_underflows(engine):
    assert ENGINES[engine](1.0) == (1.0, 999.0)  # 1·1 and a sum of 999 ones: no rounding
    assert ENGINES[engine](0.01)[0] == 0.0  # 10^−1998 is below float64's 2^−1074


@pytest.mark.parametrize("w, steps", [(1.01, 1000), (0.99, 1000), (1.0, 1000), (-1.5, 3), (0.5, 2)])
def test_the_toy_check_rejects_a_wrong_exponent(w, steps):
    """The check passes the true exponent T − 1 and rejects T and T − 2 (an engine one step off)."""
    assert theorems._linear_unit_agrees(w, steps, "cpu").raw <= 2 * (steps - 1) * theorems.EPS64  # of the scale
    for offset in (1, -1):
        with pytest.raises(Mismatch, match="dy/dw"):
            theorems._linear_unit_agrees(w, steps, "cpu", exponent_offset=offset)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("arguments, error, message", [
    (("1.01", 10), TypeError, "w must"),
    ((float("nan"), 10), ValueError, "w must be finite"),
    ((1.01, 0), ValueError, "steps must be at least 1"),
    ((1.01, 2.5), TypeError, "steps must be an integer"),
])
def test_bad_input_is_refused_naming_the_argument(engine, arguments, error, message):
    with pytest.raises(error, match=message):
        ENGINES[engine](*arguments)


# --- not-the-sigmoid --------------------------------------------------------------------------

def _scalar_unit(w, u):
    """The problem (u, h_0, W_x, W_h, b) of a single unit with recurrent weight w and inputs u."""
    return np.reshape(u, (-1, 1, 1)).astype(float), np.zeros((1, 1)), np.eye(1), np.array([[w]]), np.zeros(1)


def test_between_one_and_four_relu_explodes_and_the_sigmoid_vanishes():
    """w = 2 and positive inputs: every ReLU factor is exactly 2 (no rounding: powers of 2), while
    the sigmoid's product stays below (2/4)^29."""
    problem = _scalar_unit(2.0, np.full(30, 0.1))
    assert rnn.jacobian(*problem, 30, 1, activation="relu")[0, 0, 0] == 2.0 ** 29
    assert 0 < rnn.jacobian(*problem, 30, 1, activation="sigmoid")[0, 0, 0] <= 0.5 ** 29
    evidence = theorems._products_agree(problem, 1, "cpu")  # ReLU exact: the sigmoid's bound is the worst
    assert evidence.unit == "of the bound" and 0 < evidence.raw < 1


def test_relu_is_w_to_the_n_only_while_every_pre_activation_is_positive():
    inputs = np.full(8, 0.5)
    inputs[4] = -100.0  # h_4 = 7.5, so a_5 = 2·h_4 − 100 < 0: the unit switches off and the product is 0
    with pytest.raises(Mismatch, match="ReLU"):
        theorems._products_agree(_scalar_unit(2.0, inputs), 0, "cpu")


def test_a_sigmoid_factor_peaking_at_one_half_breaks_the_bound():
    """Twice σ′ (the derivative of 2σ − 1, peak 1/2) exceeds (σ_max/4)^(T−k) for some drawn network."""

    @settings(max_examples=50, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate])
    @given(data=st.data())
    def doubled(data):
        problem, k = theorems._draw_positive_network(data)
        theorems._products_agree(problem, k, "cpu", sigmoid_gain=2.0)

    with pytest.raises(Mismatch, match=r"the sigmoid's ‖∂h_T/∂h_k‖₂ = .* exceeds"):
        doubled()


def test_a_tolerance_of_zero_admits_no_error():
    """An exact product (T − k = 1, W_h·I) is judged with tolerance 0: one ulp off must fail."""
    assert assert_close("exact", [0.0, 1.0], [0.0, 1.0], [1.0, 1.0], 0.0, reason="exact") == Agreement(0.0, 0.0)
    with pytest.raises(Mismatch, match=r"exact\[1\]"):
        assert_close("exact", [0.0, np.nextafter(1.0, 2.0)], [0.0, 1.0], [1.0, 1.0], 0.0, reason="exact")


def _decomposition_problem(seed, T=4, B=2, K=3, H=2):
    """tokens, targets, h0, U, W, b, V, c of a small language model, entries in [−1, 1]."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B)), rng.uniform(-1, 1, (B, H)),
            rng.uniform(-1, 1, (H, K)), rng.uniform(-1, 1, (H, H)), rng.uniform(-1, 1, H),
            rng.uniform(-1, 1, (K, H)), rng.uniform(-1, 1, K))


def test_the_decomposition_is_bptt_and_a_truncated_one_is_not():
    import mpmath

    from gradproofs.lm import engine as lm

    T, K = 4, 3
    problem = _decomposition_problem(5)
    bptt = lm.backward_exact(*problem, reduction="sum")
    with mpmath.workdps(60):
        difference = lm.decomposition(*problem, exact=True) - bptt.W
        assert max(abs(v) for v in difference.ravel()) < mpmath.mpf("1e-35")
    # Each loss term through its own step only (no product of Jacobians): not BPTT.
    floats = lm.backward(*problem, reduction="sum")
    tanh_prime = 1 - floats.states[1:] ** 2
    delta_o = floats.probabilities - lm.one_hot(problem[1], K)
    own_step_only = sum(((delta_o[k] @ problem[6]) * tanh_prime[k]).T @ floats.states[k] for k in range(T))
    assert np.abs(own_step_only - floats.W).max() > 1e-3


def test_the_float_decomposition_is_bptt_in_float64():
    from gradproofs.lm import engine as lm

    problem = _decomposition_problem(6)
    floats = lm.decomposition(*problem)  # the default: float64
    assert floats.dtype == np.float64
    exact = np.array(lm.backward_exact(*problem, reduction="sum").W, dtype=float)
    np.testing.assert_allclose(floats, exact, rtol=1e-12, atol=1e-15)


def test_the_output_layers_rounding_worked_by_hand():
    # T = 1, two equal rows, K = 2, H = 1: lm.Reference's docstring written out. a = 0.5 + 0.25·0.4 + 0.1,
    # S = 1 + 0.7 and F = T·κ·(K + H + 5)·S for the hidden part (inputs e(x_t), I = K); o = V h + c,
    # S_o = (|h| + 1)|V|ᵀ + |c| (largest entry), e_o = (H + 5 + F)·S_o, u = 2e_o + K + 5.
    import math

    from gradproofs.lm import engine as lm

    eps = 2.0 ** -52
    V, c = np.array([[2.0], [-1.0]]), np.array([0.3, -0.2])
    reference = lm.reference(np.array([[0, 0]]), np.array([[1, 1]]), np.full((2, 1), 0.4), np.array([[0.5, -1.0]]),
                             np.array([[0.25]]), np.array([0.1]), V, c)
    h = math.tanh(0.7)
    F = 1 * 1 * (2 + 1 + 5) * 1.7
    assert reference.forward_error == pytest.approx(F, rel=1e-15, abs=0)
    u = 2 * (1 + 5 + F) * ((h + 1) * 2 + 0.3) + 2 + 5
    tolerance = reference.rounding_tolerance(eps)
    # ∂E/∂V: u, h's F + 4, B·T = 2 for the sum, 1 for the product, 1 for the mean; ∂E/∂c: u + 2 + 1.
    np.testing.assert_allclose(tolerance["V"], np.full((2, 1), 2 * eps * (u + F + 4 + 2 + 1 + 1)), rtol=1e-13, atol=0)
    np.testing.assert_allclose(tolerance["c"], np.full(2, 2 * eps * (u + 2 + 1)), rtol=1e-13, atol=0)
    # The hidden part, fed u + K + 1 units: δ_1 carries those, tanh′'s 2F + 6 and 1; ∂E/∂b adds B·T and
    # the mean's 1, ∂E/∂W also h's F + 4 and 1 for the product.
    delta = u + 3 + 2 * F + 6 + 1
    np.testing.assert_allclose(tolerance["b"], [2 * eps * (delta + 2 + 1)], rtol=1e-13, atol=0)
    np.testing.assert_allclose(tolerance["W"], [[2 * eps * (delta + 2 + 1 + F + 4 + 1)]], rtol=1e-13, atol=0)
    # Scales: D = ŷ + e(y) against (|h| + 1), the mean of two equal rows.
    o = np.array([2 * h + 0.3, -h - 0.2])
    p = np.exp(o - o.max()) / np.exp(o - o.max()).sum()
    D = p + np.array([0.0, 1.0])
    scales = reference.scales()
    np.testing.assert_allclose(scales["V"], (D * (h + 1))[:, None], rtol=1e-13, atol=0)
    np.testing.assert_allclose(scales["c"], D, rtol=1e-13, atol=0)
