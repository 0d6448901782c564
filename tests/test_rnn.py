"""Recurrent networks: BPTT against its exact evaluation, autograd and torch's modules.

Every float engine is held to the exact (40-digit mpmath) recurrence within a
first-order rounding bound derived from the problem (rnn.Reference and
rnn.LSTMReference); the torch modules are held to the same bound, widened for
the derivative that autograd forms from the output.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradproofs
from ieee import assert_same_under_a_raising_error_state
from gradproofs.activations import engine as activations
from gradproofs.rnn import engine as rnn
from gradproofs.compare import Agreement, assert_close, to_numpy
from gradproofs.errors import Mismatch

EPS = float(np.finfo(np.float64).eps)
RNN_FIELDS = rnn.RNN_FIELDS[:-1]  # the gradients, without the states
LSTM_FIELDS = rnn.LSTM_FIELDS[:-1]


def _problem(seed, T, B, I, H, *, weight=1.0):
    rng = np.random.default_rng(seed)
    return rnn.Sequence(rng.uniform(-1, 1, (T, B, I)), rng.uniform(-1, 1, (B, H)),
                   rng.uniform(-weight, weight, (H, I)), rng.uniform(-weight, weight, (H, H)),
                   rng.uniform(-1, 1, H), rng.uniform(-1, 1, (T, B, H)))


@st.composite
def problems(draw):
    """Small RNN problems: T ≤ 6 (0 included), B ≤ 3, I ≤ 3, H ≤ 4, bounded entries."""
    T, B, I, H = (draw(st.integers(low, high), label=name) for name, low, high in
                  (("T", 0, 6), ("B", 1, 3), ("I", 1, 3), ("H", 1, 4)))

    def reals(shape, bound, label):
        elements = st.floats(-bound, bound, allow_subnormal=False)
        return draw(hnp.arrays(np.float64, shape, elements=elements), label=label)

    return rnn.Sequence(reals((T, B, I), 2.0, "x"), reals((B, H), 1.0, "h0"), reals((H, I), 1.5, "W_x"),
                   reals((H, H), 1.5, "W_h"), reals((H,), 1.0, "b"), reals((T, B, H), 1.0, "dL_dh"))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(problem=problems(), activation=st.sampled_from(activations.NAMES))
def test_every_engine_matches_the_exact_recurrence(problem, activation, device):
    reference = rnn.reference(*problem, activation=activation)
    assume(reference.well_conditioned(EPS))  # the inputs' conditioning only, never the result
    reference.assert_matches("bptt", rnn.bptt(*problem, activation=activation), precision="float64",
                             derivative_from_output=False)
    reference.assert_matches("bptt_torch", rnn.bptt_torch(*problem, activation=activation, device=device),
                             precision="float64", derivative_from_output=True)
    if activation in rnn.NN_RNN_ACTIVATIONS:
        reference.assert_matches("bptt_nn_rnn",
                                 rnn.bptt_nn_rnn(*problem, activation=activation, device=device),
                                 precision="float64", derivative_from_output=True)


def test_the_bound_has_teeth_on_a_plain_problem():
    reference = rnn.reference(*_problem(0, 6, 3, 3, 4), activation="tanh")
    assert reference.well_conditioned(EPS)
    worst = max(float(np.max(tolerance)) for tolerance in reference.rounding_tolerance(EPS).values())
    assert worst < 1e-8  # a wrong formula errs by O(1) of the scale


def _perturbed(result, field, index, by):
    value = to_numpy(getattr(result, field)).copy()
    value[index] += by
    return result.__class__(**{**vars(result), field: value})


def test_a_mismatch_names_the_worst_entry_and_its_tolerance():
    problem = _problem(20, 4, 2, 2, 3)
    reference = rnn.reference(*problem, activation="sigmoid")
    result = rnn.bptt(*problem, activation="sigmoid")
    agreement = reference.assert_matches("bptt", result, precision="float64", derivative_from_output=False)
    assert 0 <= agreement.used <= 1 and 0 <= agreement.error < 1e-8  # a wrong formula errs by O(1) of the scale
    wrong = _perturbed(_perturbed(result, "W_h", (2, 1), 1e-6), "states", (3, 1, 0), 1e-12)
    with pytest.raises(Mismatch) as raised:
        reference.assert_matches("bptt", wrong, precision="float64", derivative_from_output=False)
    message = str(raised.value)
    assert message.startswith("bptt W_h[2][1]: got ")  # the larger excess of the two
    assert "error 1e-06" in message and "over the tolerance" in message
    assert "the forward-and-backward rounding bound of rnn.Reference" in message
    assert "\n" not in message and len(message) < 600  # one entry, never an array
    with pytest.raises(Mismatch, match="bptt states\\[3\\]\\[1\\]\\[0\\]: got "):
        reference.assert_matches("bptt", _perturbed(result, "states", (3, 1, 0), 1e-12), precision="float64",
                                 derivative_from_output=False)


def test_a_wrong_shape_or_a_missing_field_is_a_mismatch():
    problem = _problem(21, 3, 2, 2, 3)
    reference = rnn.reference(*problem)
    result = rnn.bptt(*problem)
    with pytest.raises(Mismatch, match="bptt b has shape \\(2,\\), expected \\(3,\\)"):
        reference.assert_matches("bptt", result.__class__(**{**vars(result), "b": result.b[:2]}), precision="float64",
                                 derivative_from_output=False)
    with pytest.raises(Mismatch, match="bptt returned a tuple of 6 items without 'W_x'"):
        reference.assert_matches("bptt", tuple(vars(result).values()), precision="float64",
                                 derivative_from_output=False)


def test_a_gradient_that_is_zero_by_structure_must_be_zero():
    """T = 0: nothing reaches h_0, so any non-zero ∂L/∂h_0, however small, is wrong."""
    problem = _problem(22, 0, 2, 2, 3)
    reference = rnn.reference(*problem)
    assert reference.assert_matches("bptt", rnn.bptt(*problem), precision="float64",
                                    derivative_from_output=False) == Agreement(0.0, 0.0)
    with pytest.raises(Mismatch, match="bptt h0\\[1\\]\\[2\\]: got 1e-300, expected 0.0: the entry is 0 by "
                                       "structure"):
        reference.assert_matches("bptt", _perturbed(rnn.bptt(*problem), "h0", (1, 2), 1e-300), precision="float64",
                                 derivative_from_output=False)


def test_an_exploding_network_is_not_well_conditioned():
    problem = _problem(23, 6, 2, 2, 3)._replace(W_h=np.full((3, 3), 5.0))
    reference = rnn.reference(*problem, activation="identity")
    assert reference.amplification > rnn.MAX_AMPLIFICATION and not reference.well_conditioned(EPS)
    long = _problem(23, 400, 1, 1, 2)._replace(W_h=np.full((2, 2), 5.0))
    assert rnn.reference(*long, activation="identity").amplification == np.exp(700.0)  # capped, no overflow


def test_jacobian_bounds_refuse_steps_outside_the_sequence():
    reference = rnn.reference(*_problem(24, 3, 1, 1, 2))
    with pytest.raises(ValueError, match="t must be at most T \\(the length of x\\) = 3, got 4"):
        reference.jacobian_scale(4, 0)
    with pytest.raises(ValueError, match="k must be at most t"):
        reference.jacobian_tolerance(1, 2, EPS)


def test_jacobian_scale_and_tolerance_worked_by_hand():
    # relu with every pre-activation positive (x·10 outweighs W_h h): f′ = 1 exactly, so the scale of
    # ∂h_t/∂h_k is |W_h|^(t−k) and its tolerance 2·eps·(t − k)(H + 1): H roundings in each product, one
    # in the scaling by f′. At t = k the identity: one unit.
    W_h = np.array([[0.5, -0.25], [0.125, 0.75]])
    T = 4
    x, W_x, h0, b, dL_dh = np.ones((T, 1, 1)), np.full((2, 1), 10.0), np.zeros((1, 2)), np.zeros(2), np.ones((T, 1, 2))
    relu = rnn.reference(x, h0, W_x, W_h, b, dL_dh, activation="relu")
    for t, k in ((3, 1), (4, 0), (2, 2)):
        np.testing.assert_allclose(relu.jacobian_scale(t, k)[0], np.linalg.matrix_power(np.abs(W_h), t - k),
                                   rtol=1e-15)
        assert relu.jacobian_tolerance(t, k, EPS) == 2 * EPS * max((t - k) * (2 + 1.0), 1.0)
    # tanh (the default): f′ = 1 − h² carries 2F + 6 units of its own (sup|f″/f′| = 2), and 4γ/f′ more
    # (γ = 1) when autograd forms it from the output; the worst step of k … t − 1 counts.
    tanh = rnn.reference(x, h0, W_x / 20, W_h, b, dL_dh)
    h, fprime = h0, []
    for x_t in x:
        h = np.tanh(x_t @ (W_x / 20).T + h @ W_h.T + b)
        fprime.append(1 - h[0] ** 2)
    F = tanh.forward_error
    for t, k in ((3, 1), (4, 0)):
        assert tanh.jacobian_tolerance(t, k, EPS) == pytest.approx(2 * EPS * (t - k) * (2 + 1 + 2 * F + 6),
                                                                   rel=1e-12, abs=0)
        worst = max(float(np.max(4 / f)) for f in fprime[k:t])
        assert tanh.jacobian_tolerance(t, k, EPS, derivative_from_output=True) == pytest.approx(
            2 * EPS * (t - k) * (2 + 1 + 2 * F + 6 + worst), rel=1e-12, abs=0)


def test_scales_and_tolerances_of_a_scalar_rnn_worked_by_hand():
    # T = 2, one unit, relu with positive pre-activations (f′ = 1, exact): Reference's docstring written
    # out. a_1 = 1 + 0.5·0.5 + 0.25 = 1.5, a_2 = 2 + 0.5·1.5 + 0.25 = 3.
    problem = rnn.Sequence(np.array([[[1.0]], [[2.0]]]), np.array([[0.5]]), np.array([[1.0]]), np.array([[0.5]]),
                      np.array([0.25]), np.array([[[1.0]], [[-2.0]]]))
    relu = rnn.reference(*problem, activation="relu")
    S = 1 + (2 + 0.75 + 0.25)  # the largest |x W_x| + |h W_h| + |b|, at t = 2
    F = 2 * 1 * (1 + 1 + 5) * S  # T·κ·(I + H + 5)·S, κ = max(1, (γ‖W_h‖∞)^(T−1)) = 1
    assert relu.summand == S and relu.amplification == 1 and relu.forward_error == F
    # E_2 = |−2|·1 = 2, E_1 = (1 + E_2·0.5)·1 = 2, ∂L/∂h_0's scale E_1·0.5 = 1.
    expected = {"W_x": [[2 * 1 + 2 * 2]], "W_h": [[2 * (0.5 + 1) + 2 * (1.5 + 1)]], "b": [4.0], "h0": [[1.0]],
                "x": [[[2.0]], [[2.0]]], "states": [[[1.5]], [[2.5]], [[4.0]]]}
    for field, want in expected.items():
        np.testing.assert_array_equal(relu.scales()[field], np.array(want), err_msg=field)
    # Units of eps: U_2 = 0 + 0 + 1, carried U_2 + H + 1 = 3, U_1 = 3 + 0 + 1 = 4, ∂L/∂h_0 carries 4 + 2;
    # sums of B·T = 2 terms; h carries γF + 4 = 60. Twice each.
    h_units = F + 4
    expected = {"W_x": [[4 + 2 + 1]], "W_h": [[4 + 2 + 1 + h_units]], "b": [4 + 2], "h0": [[6]],
                "x": [[[4 + 2]], [[1 + 2]]], "states": [[[h_units]], [[h_units]], [[h_units]]]}
    for field, units in expected.items():
        np.testing.assert_array_equal(relu.rounding_tolerance(EPS)[field], 2 * EPS * np.array(units, float),
                                      err_msg=field)
    # An upstream that carries 3 and 5 units (a language model's output layer): U_2 = 5 + 1, then
    # max(6 + 2, 3) + 1 = 9.
    upstream = dataclasses.replace(relu, upstream_units=np.array([[[3.0]], [[5.0]]]),
                                   upstream_scale=np.array([[[10.0]], [[20.0]]]))
    assert upstream.rounding_tolerance(EPS)["b"].tolist() == [2 * EPS * (9 + 2)]
    assert upstream.scales()["b"].tolist() == [20 + (10 + 20 * 0.5)]  # E_2 = 20, E_1 = 10 + E_2·0.5
    # tanh: f′ carries 2F + 6 units of its own (sup|f″/f′| = 2), and 4γ/f′ more from the output.
    tanh = rnn.reference(*problem)
    h1 = math.tanh(1.5)
    h2 = math.tanh(2 + 0.5 * h1 + 0.25)
    S = 1 + max(1 + 0.25 + 0.25, 2 + 0.5 * h1 + 0.25)
    F = 2 * 1 * 7 * S
    assert tanh.forward_error == pytest.approx(F, rel=1e-15)
    u = 2 * F + 6
    for from_output, (extra1, extra2) in ((False, (0, 0)), (True, (4 / (1 - h1 ** 2), 4 / (1 - h2 ** 2)))):
        U2 = u + extra2 + 1
        U1 = U2 + 2 + u + extra1 + 1
        tolerance = tanh.rounding_tolerance(EPS, derivative_from_output=from_output)
        assert tolerance["W_x"][0, 0] == pytest.approx(2 * EPS * (U1 + 2 + 1), rel=1e-9, abs=0)
        assert tolerance["h0"][0, 0] == pytest.approx(2 * EPS * (U1 + 2), rel=1e-9, abs=0)
    # By default f′ is evaluated from the pre-activation, not formed from the output.
    default, from_pre_activation = (tanh.rounding_tolerance(EPS),
                                    tanh.rounding_tolerance(EPS, derivative_from_output=False))
    assert all(np.array_equal(default[field], from_pre_activation[field]) for field in from_pre_activation)
    # sigmoid: f′ carries F + 6 units of its own (sup|σ″/σ′| = sup|1 − 2σ| = 1), and 4γ/f′ = 1/f′ more
    # (γ = 1/4) from the output; κ = max(1, (γ·0.5)^(T−1)) = 1.
    sigmoid = rnn.reference(*problem, activation="sigmoid")
    h1 = 1 / (1 + math.exp(-1.5))
    h2 = 1 / (1 + math.exp(-(2 + 0.5 * h1 + 0.25)))
    F = 2 * 1 * 7 * (1 + max(1 + 0.25 + 0.25, 2 + 0.5 * h1 + 0.25))
    assert sigmoid.forward_error == pytest.approx(F, rel=1e-15)
    u = F + 6
    for from_output, (extra1, extra2) in ((False, (0, 0)), (True, (1 / (h1 * (1 - h1)), 1 / (h2 * (1 - h2))))):
        U1 = (u + extra2 + 1) + 2 + u + extra1 + 1
        tolerance = sigmoid.rounding_tolerance(EPS, derivative_from_output=from_output)
        assert tolerance["W_x"][0, 0] == pytest.approx(2 * EPS * (U1 + 2 + 1), rel=1e-9, abs=0)
        assert tolerance["h0"][0, 0] == pytest.approx(2 * EPS * (U1 + 2), rel=1e-9, abs=0)


def test_truncated_scales_and_empty_sequences_worked_by_hand():
    # The relu problem of the test above, truncated to k = 0 steps: each loss term stays at its own step,
    # so E_2 = |−2|·1 = 2 and E_1 = |1|·1 = 1 (nothing carried from step 2); ∂L/∂h_0's scale E_1·0.5.
    problem = rnn.Sequence(np.array([[[1.0]], [[2.0]]]), np.array([[0.5]]), np.array([[1.0]]), np.array([[0.5]]),
                           np.array([0.25]), np.array([[[1.0]], [[-2.0]]]))
    truncated = rnn.reference(*problem, activation="relu", truncate=0).scales()
    expected = {"W_x": [[1 * 1 + 2 * 2]], "W_h": [[1 * (0.5 + 1) + 2 * (1.5 + 1)]], "b": [3.0], "h0": [[0.5]],
                "x": [[[1.0]], [[2.0]]]}
    for field, want in expected.items():
        np.testing.assert_array_equal(truncated[field], np.array(want), err_msg=field)
    # T = 0: no step, so every scale is 0, in its array's shape.
    empty = rnn.reference(np.zeros((0, 1, 2)), np.zeros((1, 3)), np.ones((3, 2)), np.ones((3, 3)), np.ones(3),
                          np.zeros((0, 1, 3))).scales()
    for field, shape in (("W_x", (3, 2)), ("W_h", (3, 3)), ("b", (3,)), ("h0", (1, 3))):
        np.testing.assert_array_equal(empty[field], np.zeros(shape), err_msg=field)


def test_the_projected_reference_worked_by_hand():
    # The relu problem above behind an output projection y_t = 2·h_t + 1/2, given ∂L/∂y = 1 and −2: the hidden
    # part is fed ∂L/∂h_t = 2 and −4 with the scales 2 and 4 and O = 1 unit of error. h_1 = 1.5, h_2 = 3.
    problem = rnn.ProjectedSequence(np.array([[[1.0]], [[2.0]]]), np.array([[0.5]]), np.array([[1.0]]),
                                    np.array([[0.5]]), np.array([0.25]), np.array([[2.0]]), np.array([0.5]),
                                    np.array([[[1.0]], [[-2.0]]]))
    projected = rnn.projected_reference(*problem, activation="relu")
    assert projected.hidden.dL_dh.tolist() == [[[2.0]], [[-4.0]]]
    assert projected.hidden.upstream_scale.tolist() == [[[2.0]], [[4.0]]]
    assert projected.hidden.upstream_units.tolist() == [[[1.0]], [[1.0]]]
    # ∂L/∂V = 1·1.5 − 2·3 = −4.5 and ∂L/∂c = 1 − 2 = −1; their scales 1·(1.5 + 1) + 2·(3 + 1) and 1 + 2.
    assert float(projected.exact.V[0, 0]) == -4.5 and float(projected.exact.c[0]) == -1.0
    scales = projected.scales()
    assert scales["V"].tolist() == [[10.5]] and scales["c"].tolist() == [3.0]
    # h carries γF + 4 = 60 units (F = 56, as above); ∂L/∂V sums B·T = 2 products: 60 + 2 + 1, twice.
    tolerance = projected.rounding_tolerance(EPS)
    assert tolerance["V"].tolist() == [[2 * EPS * 63]] and tolerance["c"].tolist() == [2 * EPS * 2]
    # The hidden gradients are the hidden reference's, which the tests above work out.
    assert tolerance["W_h"].tolist() == projected.hidden.rounding_tolerance(EPS)["W_h"].tolist()
    assert projected.well_conditioned(EPS) and projected.forward_error == 56


@pytest.mark.parametrize("change, message", [
    ({"V": np.ones((2, 3))}, "V must have shape (O, H) with H = 1"),
    ({"c": np.ones(2)}, "c must have the length of V (1)"),
    ({"dL_dy": np.ones((2, 1, 2))}, "dL_dy must have shape (T, B, O) = (2, 1, 1)"),
    ({"dL_dy": np.full((2, 1, 1), np.nan)}, "dL_dy"),
])
def test_the_projection_refuses_bad_input_naming_it(change, message):
    problem = rnn.ProjectedSequence(np.ones((2, 1, 1)), np.zeros((1, 1)), np.ones((1, 1)), np.ones((1, 1)),
                                    np.zeros(1), np.ones((1, 1)), np.zeros(1), np.ones((2, 1, 1)))
    for build in (rnn.projected_reference, rnn.projected_exact, rnn.projected_extended):
        with pytest.raises(gradproofs.InvalidArgument, match=re.escape(message)):
            build(*problem._replace(**change))


def test_the_projected_engines_agree_and_an_empty_sequence_has_zero_gradients():
    problem = rnn.ProjectedSequence(*_problem(5, 3, 2, 2, 3)[:5], np.linspace(-1, 1, 12).reshape(4, 3),
                                    np.ones(4), np.linspace(-1, 1, 24).reshape(3, 2, 4))
    exact, extended = rnn.projected_exact(*problem), rnn.projected_extended(*problem)
    for field in ("W_x", "W_h", "b", "h0", "V", "c"):
        np.testing.assert_allclose(np.asarray(getattr(extended, field), float),
                                   np.asarray(getattr(exact, field), float), rtol=1e-15, atol=1e-17, err_msg=field)
    empty = problem._replace(x=np.zeros((0, 2, 2)), dL_dy=np.zeros((0, 2, 4)))
    for engine in (rnn.projected_exact, rnn.projected_extended):
        result = engine(*empty)
        assert np.asarray(result.V, float).tolist() == np.zeros((4, 3)).tolist()
        assert np.asarray(result.c, float).tolist() == [0.0] * 4


def test_a_projection_is_bptt_fed_its_output_gradient_in_full_and_truncated():
    # V and ∂L/∂y_t of a few binary digits, so that ∂L/∂h_t = ∂L/∂y_t V is exact in float64: the projected
    # engines' hidden gradients are then BPTT's given it, truncated as declared, and the truncation matters.
    problem = _problem(7, 4, 2, 2, 3)
    V = np.array([[0.5, -1.0, 0.25], [1.0, 0.75, -0.5]])
    dL_dy = np.array([[[1.0, -0.5], [0.25, 1.0]]] * 4) * np.array([1.0, -2.0, 0.5, 1.5])[:, None, None]
    projected = rnn.ProjectedSequence(*problem[:5], V, np.zeros(2), dL_dy)
    for truncate in (None, 1):
        given = problem._replace(dL_dh=dL_dy @ V)
        pairs = ((rnn.projected_exact(*projected, truncate=truncate), rnn.bptt_exact(*given, truncate=truncate)),
                 (rnn.projected_extended(*projected, truncate=truncate),
                  rnn.bptt_extended(*given, truncate=truncate)),
                 (rnn.projected_reference(*projected, truncate=truncate).exact,
                  rnn.reference(*given, truncate=truncate).exact))
        for ours, theirs in pairs:
            for field in ("W_x", "W_h", "b", "h0", "x"):
                np.testing.assert_array_equal(np.asarray(getattr(ours, field), float),
                                              np.asarray(getattr(theirs, field), float), err_msg=field)
        assert rnn.projected_reference(*projected, truncate=truncate).hidden.truncate == truncate
    full, truncated = (np.asarray(rnn.projected_exact(*projected, truncate=k).W_h, float) for k in (None, 1))
    assert not np.allclose(full, truncated)


def test_the_projected_bound_passes_on_the_derivative_formed_from_the_output_and_sums_each_product():
    problem = rnn.ProjectedSequence(*_problem(8, 3, 2, 2, 3)[:5], np.ones((2, 3)), np.ones(2), np.ones((3, 2, 2)))
    projected = rnn.projected_reference(*problem)
    for from_output in (False, True):
        ours = projected.rounding_tolerance(EPS, derivative_from_output=from_output)
        theirs = projected.hidden.rounding_tolerance(EPS, derivative_from_output=from_output)
        assert all(np.array_equal(ours[field], theirs[field]) for field in ("W_x", "W_h", "b", "h0", "x"))
    assert not np.array_equal(projected.rounding_tolerance(EPS)["W_x"],
                              projected.rounding_tolerance(EPS, derivative_from_output=True)["W_x"])
    # ∂L/∂c sums B·T = 2·3 terms.
    assert projected.rounding_tolerance(EPS)["c"].tolist() == [2 * EPS * 6] * 2


@pytest.mark.parametrize("option, message", [({"dps": 0}, "dps must be at least 1"),
                                             ({"engine": "double"}, "unknown engine 'double'"),
                                             ({"V": np.ones(3)}, "V must have 2 dimensions"),
                                             ({"dL_dy": np.ones((2, 1))}, "dL_dy must have 3 dimensions")])
def test_the_projected_reference_names_what_it_refuses(option, message):
    problem = rnn.ProjectedSequence(np.ones((2, 1, 1)), np.zeros((1, 3)), np.ones((3, 1)), np.ones((3, 3)),
                                    np.zeros(3), np.ones((1, 3)), np.zeros(1), np.ones((2, 1, 1)))
    arrays = {name: value for name, value in option.items() if name in ("V", "dL_dy")}
    options = {name: value for name, value in option.items() if name not in arrays}
    with pytest.raises(gradproofs.InvalidArgument, match=re.escape(message)):
        rnn.projected_reference(*problem._replace(**arrays), **options)


def test_saturated_steps_add_no_units_from_the_output():
    # tanh at a = 400: cosh² overflows, so f′(a) is 0 in float64, and autograd's 1 − h² is 0 too. The term
    # 4γ/f′ of a derivative formed from the output applies where f′ > 0 only: a saturated step carries
    # f′'s own 2F + 6 units and the product's 1. One step, one unit: S = 1 + 400, F = 1·1·7·S.
    saturated = rnn.reference(np.array([[[400.0]]]), np.zeros((1, 1)), np.ones((1, 1)), np.ones((1, 1)),
                              np.zeros(1), np.ones((1, 1, 1)))
    F = 7 * 401
    U1 = 2 * F + 6 + 1
    for from_output in (False, True):
        tolerance = saturated.rounding_tolerance(EPS, derivative_from_output=from_output)
        assert tolerance["W_x"][0, 0] == pytest.approx(2 * EPS * (U1 + 1 + 1), rel=1e-12, abs=0)
        assert tolerance["h0"][0, 0] == pytest.approx(2 * EPS * (U1 + 1 + 1), rel=1e-12, abs=0)


def test_unroll_keeps_the_number_system_of_the_problem():
    # mpmath weights with a float64 zero initial state (h0=False's): the states stay exact mpmath numbers,
    # not float64 roundings of them.
    import mpmath

    with mpmath.workdps(50):
        third = mpmath.mpf(1) / 3
        states, _ = rnn.unroll(np.array([[[third]]], dtype=object), np.zeros((1, 1)),
                               np.array([[third]], dtype=object), np.array([[third]], dtype=object),
                               np.array([third], dtype=object), np.vectorize(mpmath.tanh, otypes=[object]))
        h1 = mpmath.tanh(third * third + third)
        assert states.dtype == object and states[1, 0, 0] == h1
        assert states[1, 0, 0] != float(h1)


def test_well_conditioned_worked_by_hand():
    # One step, one unit, x = h0 = 0, so a_1 = b, and F = T·κ·(I + H + 5)·S = 7(1 + |b|). relu's
    # derivative jumps at 0: a pre-activation within 2·eps·F of it is refused; tanh and sigmoid have no kink.
    def one_step(b, activation):
        return rnn.reference(np.zeros((1, 1, 1)), np.zeros((1, 1)), np.ones((1, 1)), np.ones((1, 1)), np.array([b]),
                             np.ones((1, 1, 1)), activation=activation)

    assert one_step(0.0, "relu").forward_error == 7.0
    for b, expected in ((0.0, False), (1.5 * 7 * EPS, False), (-1.5 * 7 * EPS, False),
                        (2.5 * 7 * EPS, True), (-2.5 * 7 * EPS, True), (1.0, True)):
        assert one_step(b, "relu").well_conditioned(EPS) is expected, b
    for activation in ("tanh", "sigmoid", "identity"):
        assert one_step(0.0, activation).well_conditioned(EPS) is True, activation


def test_amplification_worked_by_hand():
    # κ = max(1, (γ‖W_h‖∞)^(T−1)): tanh (γ = 1) with W_h = 1.5 and sigmoid (γ = 1/4) with W_h = 6 over
    # T = 3 steps both give 1.5² = 2.25; a rate of 1, or a single step, gives 1.
    def amplification(W_h, activation, T=3):
        return rnn.reference(np.ones((T, 1, 1)), np.zeros((1, 1)), np.ones((1, 1)), np.array([[W_h]]), np.zeros(1),
                             np.ones((T, 1, 1)), activation=activation).amplification

    assert amplification(1.5, "tanh") == pytest.approx(2.25, rel=1e-15, abs=0)
    assert amplification(6.0, "sigmoid") == pytest.approx(2.25, rel=1e-15, abs=0)
    assert amplification(1.0, "tanh") == amplification(0.5, "tanh") == amplification(1.5, "tanh", T=1) == 1.0


def test_lstm_states_of_an_empty_sequence_and_an_unknown_engine():
    # T = 0: h and c hold h_0 and c_0 alone, the gates and pre-activations are (0, B, 4H) (B = 2, H = 3).
    states = rnn.lstm_forward(np.zeros((0, 2, 1)), np.zeros((2, 3)), np.zeros((2, 3)), np.ones((12, 1)),
                              np.ones((12, 3)), np.zeros(12))
    assert states.h.shape == states.c.shape == (1, 2, 3)
    assert states.gates.shape == states.preactivations.shape == (0, 2, 12)
    with pytest.raises(ValueError) as raised:
        rnn.lstm_reference(np.zeros((1, 1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), np.ones((4, 1)), np.ones((4, 1)),
                           np.zeros(4), np.ones((1, 1, 1)), engine="gpu")
    assert str(raised.value) == "unknown engine 'gpu'; expected one of ['auto', 'mpmath', 'extended']"


def test_lstm_tolerances_of_a_scalar_cell_worked_by_hand():
    # T = 2, one unit, gates [i, f, g, o]: LSTMReference's docstring written out, on a forward pass
    # written here. S = 1 + the largest Σ|terms| of p_t; C = 1 + max |c_t|; ρ = 1 + ‖W_hh‖∞(C + 6)/4;
    # fresh = (I + H + 1)S(C + 6)/4 + 7C + 18; F = T·ρ^(T−1)·fresh; F_p = ‖W_hh‖∞F + (I + H + 1)S;
    # φ = 2·max(F, F_p) + 5; per step 4H + 6 + 4φ units; sums of B·T terms and a product, B·T + 1.
    x = np.array([[[1.0]], [[-0.5]]])
    h0, c0 = np.array([[0.25]]), np.array([[-0.5]])
    W_ih, W_hh, b = np.array([[0.5], [-1.0], [0.75], [0.25]]), np.array([[0.5], [0.25], [-0.5], [1.0]]), \
        np.array([0.1, 0.2, -0.3, 0.4])
    reference = rnn.lstm_reference(x, h0, c0, W_ih, W_hh, b, np.ones((2, 1, 1)))
    sigmoid = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    h, c, cells, hidden, sums, gates = 0.25, -0.5, [-0.5], [0.25], [], []
    for t in range(2):
        p = [W_ih[r, 0] * x[t, 0, 0] + W_hh[r, 0] * h + b[r] for r in range(4)]
        sums.append(max(abs(W_ih[r, 0] * x[t, 0, 0]) + abs(W_hh[r, 0] * h) + abs(b[r]) for r in range(4)))
        i, f, g, o = sigmoid(p[0]), sigmoid(p[1]), math.tanh(p[2]), sigmoid(p[3])
        c = f * c + i * g
        h = o * math.tanh(c)
        cells.append(c)
        hidden.append(h)
        gates.append((p, c))
    S, C, norm, width = 1 + max(sums), 1 + max(abs(v) for v in cells), 1.0, 3
    rho = 1 + norm * (C + 6) / 4
    F = 2 * rho * (width * S * (C + 6) / 4 + 7 * C + 18)
    assert reference.summand == pytest.approx(S, rel=1e-15, abs=0)
    assert reference.amplification == pytest.approx(rho, rel=1e-15, abs=0)
    assert reference.forward_error == pytest.approx(F, rel=1e-14, abs=0)
    phi = 2 * max(F, norm * F + width * S) + 5
    U = 2 * (4 + 6 + 4 * phi)
    expected = {"W_ih": U + 3, "W_hh": U + 3 + F, "b": U + 3, "h0": U + 5, "c0": U + phi + 1, "x": U + 5,
                "states": F}
    tolerance = reference.rounding_tolerance(EPS)
    for field, units in expected.items():
        np.testing.assert_allclose(tolerance[field], 2 * EPS * units, rtol=1e-13, atol=0, err_msg=field)
        assert tolerance[field].shape == getattr(reference.exact, field).shape, field
    # From the output: 4/min tanh′(c_t) + max(1/min σ′(gates), 4/min tanh′(p^g)).
    dsig = [sigmoid(v) * (1 - sigmoid(v)) for p, _ in gates for v in (p[0], p[1], p[3])]
    dtanh_c = [1 - math.tanh(c) ** 2 for _, c in gates]
    dtanh_g = [1 - math.tanh(p[2]) ** 2 for p, _ in gates]
    extra = 4 / min(dtanh_c) + max(1 / min(dsig), 4 / min(dtanh_g))
    np.testing.assert_allclose(reference.rounding_tolerance(EPS, derivative_from_output=True)["b"],
                               2 * EPS * (2 * (4 + 6 + 4 * phi + extra) + 3), rtol=1e-13, atol=0)
    # The scales: the backward recurrence on magnitudes, step by step (|∂L/∂h_t| = 1). dh = 1 + carried,
    # dc = carried + dh·o·tanh′(c_t); the gates' terms dc(|g| + 1), dc(|c_(t−1)| + 1), dc·i, dh(|tanh c_t| + 1),
    # each times its gate's derivative; carried back through |W_hh| and f.
    dh_carried, dc_carried, scale = 0.0, 0.0, {"W_ih": [0.0] * 4, "W_hh": [0.0] * 4, "b": [0.0] * 4, "x": [0.0, 0.0]}
    for t in (1, 0):
        (p, c_t), c_prev = gates[t], cells[t]
        i, f, g, o = sigmoid(p[0]), sigmoid(p[1]), math.tanh(p[2]), sigmoid(p[3])
        dh = 1 + dh_carried
        dc = dc_carried + dh * o * (1 - math.tanh(c_t) ** 2)
        terms = [dc * (abs(g) + 1), dc * (abs(c_prev) + 1), dc * i, dh * (abs(math.tanh(c_t)) + 1)]
        derivatives = [i * (1 - i), f * (1 - f), 1 - g ** 2, o * (1 - o)]
        dp = [term * derivative for term, derivative in zip(terms, derivatives)]
        for r in range(4):
            scale["W_ih"][r] += dp[r] * abs(x[t, 0, 0])
            scale["W_hh"][r] += dp[r] * (abs(hidden[t]) + 1)
            scale["b"][r] += dp[r]
        scale["x"][t] = sum(dp[r] * abs(W_ih[r, 0]) for r in range(4))
        dh_carried, dc_carried = sum(dp[r] * abs(W_hh[r, 0]) for r in range(4)), dc * f
    expected = {"W_ih": np.array(scale["W_ih"])[:, None], "W_hh": np.array(scale["W_hh"])[:, None],
                "b": np.array(scale["b"]), "x": np.array(scale["x"])[:, None, None], "h0": [[dh_carried]],
                "c0": [[dc_carried]], "states": np.abs(hidden)[:, None, None] + 1}
    scales = reference.scales()
    for field, want in expected.items():
        np.testing.assert_allclose(scales[field], want, rtol=1e-14, atol=0, err_msg=field)


def test_the_engines_give_ieee_results_whatever_the_callers_error_state():
    # Overflow (relu, W_h = 10^200: h grows past any float; LSTM weights −10^308 on inputs and states of
    # 1, whose sums overflow: the gates saturate) and underflow (W_h = 10^-200 on states of 10^-200, and
    # an error fed in at the last step only: products past the smallest subnormal) give ∞ and 0 under
    # NumPy's default state; they must give the same under a state that raises on overflow, underflow and
    # division by zero. Every entry of one sign, so that ∞ never meets −∞ (NaN, another matter). The
    # references' scales and tolerances too: past the largest float they are ∞.
    T = 30
    last = np.zeros((T, 1, 2))
    last[-1] = 1.0
    cases = {"overflow": (rnn.Sequence(np.ones((T, 1, 1)), np.ones((1, 2)), np.ones((2, 1)), np.full((2, 2), 1e200),
                                  np.ones(2), np.ones((T, 1, 2))), -1e308),
             "underflow": (rnn.Sequence(np.full((T, 1, 1), 1e-200), np.full((1, 2), 1e-200), np.ones((2, 1)),
                                   np.full((2, 2), 1e-200), np.zeros(2), last), 1e-200)}
    for name, (problem, gate) in cases.items():
        lstm = (problem.x, problem.h0, problem.h0, np.full((8, 1), gate), np.full((8, 2), gate), np.zeros(8),
                problem.dL_dh)
        calls = {"forward": lambda: rnn.forward(*problem[:5], activation="relu"),
                 "jacobian": lambda: rnn.jacobian(*problem[:5], T, 0, activation="relu"),
                 "bptt": lambda: rnn.bptt(*problem, activation="relu").W_h,
                 "Reference.scales": lambda: rnn.reference(*problem, activation="relu").scales()["W_h"],
                 "Reference.rounding_tolerance":
                     lambda: rnn.reference(*problem, activation="relu").rounding_tolerance(EPS)["W_h"],
                 "Reference.jacobian_scale": lambda: rnn.reference(*problem, activation="relu").jacobian_scale(T, 0),
                 "bptt_extended": lambda: rnn.bptt_extended(*problem, activation="relu").W_h,
                 "bptt_exact": lambda: rnn.bptt_exact(*problem, activation="relu").W_h,  # its float unroll
                 "projected_extended": lambda: rnn.projected_extended(
                     *problem[:5], np.ones((1, 2)), np.zeros(1), problem.dL_dh[:, :, :1], activation="relu").W_h,
                 "LSTMReference.scales": lambda: rnn.lstm_reference(*lstm).scales()["W_hh"],
                 "LSTMReference.rounding_tolerance": lambda: rnn.lstm_reference(*lstm).rounding_tolerance(
                     EPS, derivative_from_output=True)["W_hh"],
                 "lstm_forward": lambda: rnn.lstm_forward(*lstm[:6]).c,
                 "lstm_backward": lambda: rnn.lstm_backward(*lstm).W_hh,
                 "lstm_backward_extended": lambda: rnn.lstm_backward_extended(*lstm).W_hh,
                 # the exact LSTM's float forward pass (which sizes its extra digits); gates that overflow
                 # saturate, and saturated gates ask for as many digits as the pre-activation is large
                 **({"lstm_backward_exact": lambda: rnn.lstm_backward_exact(*lstm).W_hh}
                    if name == "underflow" else {})}
        if name == "overflow":  # an upstream gradient of 10^308 on gates that do not saturate
            upstream = (*lstm[:3], np.full((8, 1), 0.5), np.full((8, 2), 0.5), np.zeros(8), np.full((T, 1, 2), 1e308))
            calls["LSTMReference.scales, upstream 10^308"] = lambda: rnn.lstm_reference(*upstream).scales()["W_hh"]
        # (float64 BPTT of the overflowing network meets ∞·0 in its products: NaN, as IEEE has it)
        assert_same_under_a_raising_error_state({f"{engine}, {name}": call for engine, call in calls.items()})


def test_the_extended_engines_defaults_are_tanh_and_the_forget_gate():
    problem = _problem(32, 4, 2, 2, 3)
    assert_same = np.testing.assert_array_equal
    assert_same(rnn.bptt_extended(*problem).W_h, rnn.bptt_extended(*problem, activation="tanh").W_h)
    assert not np.array_equal(rnn.bptt_extended(*problem).W_h, rnn.bptt_extended(*problem, activation="relu").W_h)
    rng = np.random.default_rng(33)
    lstm = (problem.x, problem.h0, rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (12, 2)),
            rng.uniform(-1, 1, (12, 3)), rng.uniform(-1, 1, 12), problem.dL_dh)
    assert_same(rnn.lstm_backward_extended(*lstm).W_hh, rnn.lstm_backward_extended(*lstm, forget_gate=True).W_hh)
    assert not np.array_equal(rnn.lstm_backward_extended(*lstm).W_hh,
                              rnn.lstm_backward_extended(*lstm, forget_gate=False).W_hh)


def test_exact_truth_agrees_with_more_digits():
    problem = _problem(1, 4, 2, 2, 3)
    for activation in activations.NAMES:
        low = rnn.bptt_exact(*problem, activation=activation)
        high = rnn.bptt_exact(*problem, activation=activation, dps=60)
        for field in RNN_FIELDS:
            difference = np.abs(to_numpy(getattr(low, field)) - to_numpy(getattr(high, field)))
            assert np.all(difference <= 1e-35 * (1 + np.abs(to_numpy(getattr(high, field)))))


def test_exact_truth_keeps_the_digits_a_saturated_derivative_cancels():
    # a = 40: 1 − tanh²(40) cancels 35 of 20 digits; sech²(40) (mpmath, no cancellation) is the truth.
    import mpmath

    x, h0, weight, b = np.zeros((1, 1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), np.array([40.0])
    result = rnn.bptt_exact(x, h0, weight, weight, b, np.ones((1, 1, 1)), activation="tanh", dps=20)
    with mpmath.workdps(60):
        truth = mpmath.sech(40) ** 2
        assert abs(result.b[0] - truth) <= mpmath.mpf(10) ** -19 * truth


def _torch_unroll(torch, problem, activation, k, t, device):
    """h_k ↦ h_t for the whole batch, written by hand in torch float64."""
    act = activations.get(activation)

    def tensor(value):
        return torch.tensor(np.asarray(value), dtype=torch.float64, device=device)

    W_x, W_h, b = tensor(problem.W_x), tensor(problem.W_h), tensor(problem.b)

    def unroll(h):
        for s in range(k, t):
            h = act.torch(tensor(problem.x[s]) @ W_x.T + h @ W_h.T + b)
        return h

    return unroll, tensor


@pytest.mark.parametrize("activation", activations.NAMES)
@pytest.mark.parametrize("t, k", [(5, 0), (5, 3), (2, 1), (4, 4), (0, 0)])
def test_jacobian_matches_torch_autograd(activation, t, k, device):
    torch = pytest.importorskip("torch")
    problem = _problem(2, 5, 3, 2, 3, weight=0.8)
    reference = rnn.reference(*problem, activation=activation)
    assert reference.well_conditioned(EPS)
    unroll, tensor = _torch_unroll(torch, problem, activation, k, t, device)
    h_k = rnn.forward(*problem[:5], activation=activation)[k]
    full = torch.autograd.functional.jacobian(unroll, tensor(h_k)).cpu().numpy()
    B = problem.h0.shape[0]
    blocks = np.stack([full[row, :, row, :] for row in range(B)])
    for row in range(B):  # one batch row's state never reaches another's
        others = np.delete(full[row], row, axis=1)
        assert not np.any(others)
    ours = rnn.jacobian(*problem[:5], t, k, activation=activation)
    assert ours.shape == (B, 3, 3)
    # two engines, each within the bound of the exact product, differ by at most twice it
    tolerance = 2 * reference.jacobian_tolerance(t, k, EPS, derivative_from_output=True)
    assert_close(f"jacobian t={t} k={k}", ours, blocks, reference.jacobian_scale(t, k), tolerance,
                 reason="twice rnn.Reference.jacobian_tolerance, for two engines", precision="float64")
    if t == k:
        np.testing.assert_array_equal(ours, np.broadcast_to(np.eye(3), ours.shape))


def test_jacobians_rebuild_the_gradient_of_h0():
    """∂L/∂h_0 = Σ_t (∂L/∂h_t) ∂h_t/∂h_0 (Pascanu et al. eq. 4 with h_0 for θ)."""
    problem = _problem(3, 5, 2, 2, 4, weight=0.9)
    reference = rnn.reference(*problem, activation="tanh")
    T, H = problem.x.shape[0], problem.W_h.shape[0]
    total, allowed = 0.0, 0.0
    for t in range(1, T + 1):
        J = rnn.jacobian(*problem[:5], t, 0)
        scale, tolerance = reference.jacobian_scale(t, 0), reference.jacobian_tolerance(t, 0, EPS)
        total = total + np.einsum("bi,bij->bj", problem.dL_dh[t - 1], J)
        # J's own error, and T·H roundings summing the products
        allowed = allowed + np.einsum("bi,bij->bj", np.abs(problem.dL_dh[t - 1]), scale) * (
            tolerance + 2 * EPS * T * H)
    allowed = allowed + reference.scales()["h0"] * reference.rounding_tolerance(EPS)["h0"]
    assert np.all(np.abs(total - rnn.bptt(*problem).h0) <= allowed)


# --- empty sequences and bad input ---------------------------------------------

def test_an_empty_sequence_has_zero_gradients(device):
    problem = _problem(4, 0, 2, 3, 2)
    for result in (rnn.bptt(*problem), rnn.bptt_exact(*problem), rnn.bptt_torch(*problem, device=device),
                   rnn.bptt_nn_rnn(*problem, device=device)):
        for field, shape in zip(RNN_FIELDS, ((2, 3), (2, 2), (2,), (2, 2))):
            value = to_numpy(getattr(result, field))
            assert value.shape == shape and not np.any(value), field
        np.testing.assert_array_equal(to_numpy(result.states), problem.h0[None])
    np.testing.assert_array_equal(rnn.forward(*problem[:5]), problem.h0[None])
    np.testing.assert_array_equal(rnn.jacobian(*problem[:5], 0, 0), np.broadcast_to(np.eye(2), (2, 2, 2)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_empty_sequence_keeps_the_requested_dtype(device, dtype):
    torch = pytest.importorskip("torch")
    problem = _problem(4, 0, 2, 3, 2)
    for engine in (rnn.bptt_torch, rnn.bptt_nn_rnn):
        result = engine(*problem, device=device, dtype=dtype)
        for field in (*RNN_FIELDS, "states"):
            assert getattr(result, field).dtype == getattr(torch, dtype), (engine.__name__, field)
    np.testing.assert_array_equal(rnn.jacobian(*problem[:5], 0, 0), np.broadcast_to(np.eye(2), (2, 2, 2)))


def _call(engine, arguments):
    """Call ``engine`` with the arguments it accepts."""
    accepted = inspect.signature(engine).parameters
    return engine(**{key: value for key, value in arguments.items() if key in accepted})


T_, B_, I_, H_ = 5, 2, 2, 3

BAD = [
    (dict(W_x=np.ones((0, I_))), ValueError, "W_x must have H rows with H ≥ 1"),
    (dict(W_x=np.ones((H_, 0))), ValueError, "W_x must not have an empty dimension"),
    (dict(W_x=np.ones(H_)), ValueError, "W_x must have 2 dimensions"),
    (dict(W_h=np.ones((H_, 2))), ValueError, "W_h must have shape \\(3, 3\\) to match W_x"),
    (dict(b=np.ones(H_ + 1)), ValueError, "b must have shape \\(3,\\) to match W_x"),
    (dict(x=np.ones((T_, B_, I_ + 1))), ValueError, "x must have shape \\(T, B, 2\\)"),
    (dict(x=np.ones((T_, B_))), ValueError, "x must have 3 dimensions"),
    (dict(x=np.ones((T_, 0, I_)), h0=np.ones((0, H_))), ValueError, "x must not have an empty dimension"),
    (dict(h0=np.ones((B_ + 1, H_))), ValueError, "h0 must have shape \\(B, H\\) = \\(2, 3\\)"),
    (dict(h0=np.ones((B_, H_ + 1))), ValueError, "h0 must have shape \\(B, H\\) = \\(2, 3\\)"),
    (dict(dL_dh=np.ones((T_ - 1, B_, H_))), ValueError, "dL_dh must have shape \\(T, B, H\\) = \\(5, 2, 3\\)"),
    (dict(dL_dh=np.ones((T_, B_, H_ + 1))), ValueError, "dL_dh must have shape \\(T, B, H\\)"),
    (dict(x=np.full((T_, B_, I_), np.nan)), ValueError, "x must be finite"),
    (dict(h0=np.full((B_, H_), np.inf)), ValueError, "h0 must be finite"),
    (dict(W_x=np.full((H_, I_), -np.inf)), ValueError, "W_x must be finite"),
    (dict(W_h=np.full((H_, H_), np.nan)), ValueError, "W_h must be finite"),
    (dict(b=np.full(H_, np.nan)), ValueError, "b must be finite"),
    (dict(dL_dh=np.full((T_, B_, H_), np.inf)), ValueError, "dL_dh must be finite"),
    (dict(W_h=np.array([["a"] * H_] * H_)), TypeError, "W_h must hold real numbers"),
    (dict(x=np.ones((T_, B_, I_)) * 1j), TypeError, "x must hold real numbers"),
    (dict(activation="softsign"), ValueError, "unknown activation 'softsign'"),
    (dict(t=T_ + 1), ValueError, "t must be at most T \\(the length of x\\) = 5, got 6"),
    (dict(t=-1), ValueError, "t must be at least 0"),
    (dict(t=2, k=3), ValueError, "k must be at most t"),
    (dict(t=2.0), TypeError, "t must be an integer"),
    (dict(k=True), TypeError, "k must be an integer"),
    (dict(dps=0), ValueError, "dps must be at least 1"),
]
RNN_ENGINES = (rnn.forward, rnn.bptt, rnn.bptt_exact, rnn.bptt_torch, rnn.bptt_nn_rnn, rnn.jacobian,
               rnn.reference)


def _cases(table, engines):
    """Each bad input with every engine that takes all the arguments it changes."""
    return [pytest.param(engine, changes, error, message, id=f"{engine.__name__}-{message}")
            for changes, error, message in table for engine in engines
            if set(changes) <= set(inspect.signature(engine).parameters)]


def _assert_refused(engine, arguments, changes, error, message):
    arguments = {**arguments, **changes}
    before = {key: np.copy(value) for key, value in arguments.items() if isinstance(value, np.ndarray)}
    with pytest.raises(error, match=message):
        _call(engine, arguments)
    for key, value in before.items():
        np.testing.assert_array_equal(arguments[key], value)


@pytest.mark.parametrize("engine, changes, error, message", _cases(BAD, RNN_ENGINES))
def test_bad_input_is_refused_naming_the_argument(engine, changes, error, message):
    arguments = dict(_problem(5, T_, B_, I_, H_)._asdict(), t=3, k=1, activation="tanh")
    _assert_refused(engine, arguments, changes, error, message)


def test_torch_nn_rnn_offers_tanh_and_relu_only():
    for activation in ("sigmoid", "identity"):
        with pytest.raises(ValueError, match=f"activation must be one of \\['tanh', 'relu'\\] for "
                                             f"torch.nn.RNN, got '{activation}'"):
            rnn.bptt_nn_rnn(*_problem(6, 2, 1, 1, 1), activation=activation)


def test_inputs_are_not_modified():
    problem = _problem(7, 4, 2, 2, 3)
    copies = [np.copy(v) for v in problem]
    for engine in RNN_ENGINES:
        _call(engine, dict(problem._asdict(), t=3, k=1))
    for value, copy in zip(problem, copies):
        np.testing.assert_array_equal(value, copy)


def test_torch_engines_return_tensors_on_the_device(device):
    torch = pytest.importorskip("torch")
    problem = _problem(8, 3, 2, 2, 3)
    lstm = _lstm_problem(8, 3, 2, 2, 3)
    for result in (rnn.bptt_torch(*problem, device=device, dtype=torch.float32),
                   rnn.bptt_nn_rnn(*problem, device=device, dtype=torch.float32),
                   rnn.lstm_backward_nn(*lstm, device=device, dtype=torch.float32)):
        for value in vars(result).values():
            assert value.device.type == device and value.dtype == torch.float32
        assert result.states.shape == (4, 2, 3)


# --- the LSTM ------------------------------------------------------------------



# The LSTM engines' arguments, by the names they take (torch's W_ih, W_hh).
LSTMProblem = NamedTuple("LSTMProblem", [(field, np.ndarray) for field in "x h0 c0 W_ih W_hh b dL_dh".split()])


def _lstm_problem(seed, T, B, I, H, *, weight=0.5):
    rng = np.random.default_rng(seed)
    return LSTMProblem(rng.uniform(-1, 1, (T, B, I)), rng.uniform(-1, 1, (B, H)), rng.uniform(-1, 1, (B, H)),
                       rng.uniform(-weight, weight, (4 * H, I)), rng.uniform(-weight, weight, (4 * H, H)),
                       rng.uniform(-1, 1, 4 * H), rng.uniform(-1, 1, (T, B, H)))


@pytest.mark.parametrize("seed, T, B, I, H", [(10, 1, 1, 1, 1), (11, 4, 2, 3, 2), (12, 6, 3, 2, 3)])
def test_lstm_backward_matches_the_exact_recurrence_and_torch_nn_lstm(seed, T, B, I, H, device):
    problem = _lstm_problem(seed, T, B, I, H)
    reference = rnn.lstm_reference(*problem)
    assert reference.well_conditioned(EPS)
    reference.assert_matches("lstm_backward", rnn.lstm_backward(*problem), precision="float64",
                             derivative_from_output=False)
    reference.assert_matches("lstm_backward_nn", rnn.lstm_backward_nn(*problem, device=device), precision="float64",
                             derivative_from_output=True)
    tolerances = reference.rounding_tolerance(EPS, derivative_from_output=True).values()
    assert max(float(np.max(tolerance)) for tolerance in tolerances) < 1e-8  # the bound has teeth


def test_lstm_forward_shapes_and_gate_ranges():
    problem = _lstm_problem(13, 3, 2, 2, 4)
    states = rnn.lstm_forward(*problem[:6])
    assert states.h.shape == states.c.shape == (4, 2, 4)
    assert states.gates.shape == states.preactivations.shape == (3, 2, 16)
    sigmoid_gates = np.delete(states.gates, np.s_[8:12], axis=2)
    assert np.all((sigmoid_gates > 0) & (sigmoid_gates < 1)) and np.all(np.abs(states.gates[..., 8:12]) < 1)
    np.testing.assert_array_equal(states.h[1:], states.gates[..., 12:] * np.tanh(states.c[1:]))


@pytest.mark.parametrize("t", [1, 3])
def test_cell_jacobian_is_the_forget_gate(t, device):
    """∂c_t/∂c_(t−1) with h_(t−1) fixed, by autograd through one step of torch.nn.LSTM, is diag(f_t)."""
    torch = pytest.importorskip("torch")
    problem = _lstm_problem(14, 3, 2, 2, 3)
    B, H = problem.h0.shape
    states = rnn.lstm_forward(*problem[:6])
    module = torch.nn.LSTM(2, H, dtype=torch.float64, device=device)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", problem.W_ih), ("weight_hh_l0", problem.W_hh),
                            ("bias_ih_l0", problem.b), ("bias_hh_l0", np.zeros(4 * H))):
            getattr(module, name).copy_(torch.tensor(value))

    def tensor(value):
        return torch.tensor(value, dtype=torch.float64, device=device)

    def step(c):
        _, (_, c_t) = module(tensor(problem.x[t - 1:t]), (tensor(states.h[t - 1][None]), c[None]))
        return c_t[0]

    full = torch.autograd.functional.jacobian(step, tensor(states.c[t - 1])).cpu().numpy()
    ours = rnn.cell_jacobian(*problem[:6], t)
    assert ours.shape == (B, H, H)
    forget = states.gates[t - 1][:, H:2 * H]
    np.testing.assert_array_equal(ours, forget[:, :, None] * np.eye(H))
    for row in range(B):
        off_diagonal = full[row].copy()  # (H, B, H): ∂c_t[row, i]/∂c_(t−1)[b, j]
        off_diagonal[:, row, :] -= np.diag(np.diag(full[row, :, row, :]))
        assert not np.any(off_diagonal)  # exactly: no entry of c_(t−1) reaches another
    diagonal = np.stack([np.diag(full[row, :, row, :]) for row in range(B)])
    # p^f_t is one dot product of I + H + 1 terms in each engine (error ≤ (I + H + 1)·S
    # each), σ moves by at most ¼ of that, plus 4 for evaluating it.
    S = 1.0 + float(np.max(np.abs(problem.x[t - 1]) @ np.abs(problem.W_ih).T
                           + np.abs(states.h[t - 1]) @ np.abs(problem.W_hh).T + np.abs(problem.b)))
    assert np.all(np.abs(diagonal - forget) <= 2 * EPS * (2 * (2 + H + 1) * S / 4 + 8))
    np.testing.assert_array_equal(rnn.cell_jacobian(*problem[:6], t, forget_gate=False),
                                  np.broadcast_to(np.eye(H), (B, H, H)))


def _carousel_problem(seed, T):
    """W_hh = 0 (no gate sees h_(t−1)) and a loss on h_T alone: only the cell links c_0 to L."""
    problem = _lstm_problem(seed, T, 2, 2, 3)
    dL_dh = np.zeros_like(problem.dL_dh)
    dL_dh[-1] = problem.dL_dh[-1]
    return problem._replace(W_hh=np.zeros_like(problem.W_hh), dL_dh=dL_dh)


@pytest.mark.parametrize("forget_gate", [False, True])
def test_the_cell_carries_the_error_multiplied_by_the_forget_gates_alone(forget_gate):
    """∂L/∂c_0 = ĉ_T ⊙ f_T ⊙ ⋯ ⊙ f_1, bit for bit; with f ≡ 1 (the carousel) ∂L/∂c_0 = ĉ_T."""
    problem = _carousel_problem(15, 6)
    H = problem.h0.shape[1]
    states = rnn.lstm_forward(*problem[:6], forget_gate=forget_gate)
    forget, output = states.gates[..., H:2 * H], states.gates[..., 3 * H:]
    arriving = problem.dL_dh[-1] * output[-1] * activations.get("tanh").numpy_derivative(states.c[-1])
    expected = arriving
    for f_t in forget[::-1]:
        expected = expected * f_t
    result = rnn.lstm_backward(*problem, forget_gate=forget_gate)
    np.testing.assert_array_equal(result.c0, expected)
    if not forget_gate:
        np.testing.assert_array_equal(result.c0, arriving)
        assert not np.any(result.W_ih[H:2 * H]) and not np.any(result.b[H:2 * H])
    else:
        assert np.all(np.abs(result.c0) <= np.abs(arriving) * 0.99)  # every f_t < 1 shrinks it


def test_torch_nn_lstm_with_a_saturated_forget_gate_runs_the_carousel(device):
    """σ(40) rounds to 1.0 in float64 (1 − σ(40) ≈ 4·10⁻¹⁸ < eps/2), so with the forget rows of
    W_ih at 0 and W_hh = 0, torch.nn.LSTM's forget gate is exactly 1: the same cell as
    ``forget_gate=False``, and autograd's σ(1 − σ) is exactly 0 on the forget rows."""
    problem = _carousel_problem(16, 5)
    H = problem.h0.shape[1]
    W_ih, b = problem.W_ih.copy(), problem.b.copy()
    W_ih[H:2 * H], b[H:2 * H] = 0.0, 40.0
    saturated = problem._replace(W_ih=W_ih, b=b)
    assert np.all(rnn.lstm_forward(*saturated[:6]).gates[..., H:2 * H] == 1.0)
    carousel = rnn.lstm_reference(*saturated, forget_gate=False)
    carousel.assert_matches("lstm_backward_nn", rnn.lstm_backward_nn(*saturated, device=device), precision="float64",
                            derivative_from_output=True)


def test_lstm_reference_holds_the_1997_cell_to_zero_on_the_forget_rows():
    problem = _lstm_problem(25, 3, 2, 2, 3)
    H = problem.h0.shape[1]
    reference = rnn.lstm_reference(*problem, forget_gate=False)
    result = rnn.lstm_backward(*problem, forget_gate=False)
    agreement = reference.assert_matches("lstm_backward", result, precision="float64", derivative_from_output=False)
    assert agreement.used <= 1
    assert not np.any(reference.scales()["W_ih"][H:2 * H])  # no term reaches the forget rows
    with pytest.raises(Mismatch, match=f"lstm_backward W_ih\\[{H}\\]\\[0\\]: got 1e-300, expected 0.0"):
        reference.assert_matches("lstm_backward", _perturbed(result, "W_ih", (H, 0), 1e-300), precision="float64",
                                 derivative_from_output=False)
    with pytest.raises(Mismatch, match="lstm_backward c0\\[1\\]\\[2\\]: .* over the tolerance .* "
                                       "\\(the forward-and-backward rounding bound of rnn.LSTMReference\\)"):
        reference.assert_matches("lstm_backward", _perturbed(result, "c0", (1, 2), 1e-6), precision="float64",
                                 derivative_from_output=False)


def test_an_empty_lstm_sequence_has_zero_gradients(device):
    problem = _lstm_problem(17, 0, 2, 3, 2)
    for result in (rnn.lstm_backward(*problem), rnn.lstm_backward_exact(*problem),
                   rnn.lstm_backward_nn(*problem, device=device)):
        for field, shape in zip(LSTM_FIELDS, ((8, 3), (8, 2), (8,), (2, 2), (2, 2))):
            value = to_numpy(getattr(result, field))
            assert value.shape == shape and not np.any(value), field
        np.testing.assert_array_equal(to_numpy(result.states), problem.h0[None])
    states = rnn.lstm_forward(*problem[:6])
    assert states.gates.shape == states.preactivations.shape == (0, 2, 8)
    np.testing.assert_array_equal(states.c, problem.c0[None])


LSTM_BAD = [
    (dict(W_ih=np.ones((4 * H_ + 2, I_))), ValueError, "W_ih must have 4H rows with H ≥ 1"),
    (dict(W_ih=np.ones((0, I_))), ValueError, "W_ih must have 4H rows"),
    (dict(W_hh=np.ones((4 * H_, H_ + 1))), ValueError, "W_hh must have shape \\(12, 3\\) to match W_ih"),
    (dict(b=np.ones(H_)), ValueError, "b must have shape \\(12,\\) to match W_ih"),
    (dict(x=np.ones((T_, B_, I_ + 1))), ValueError, "x must have shape \\(T, B, 2\\) to match the 2 "
                                                    "columns of W_ih"),
    (dict(h0=np.ones((B_, H_ + 1))), ValueError, "h0 must have shape \\(B, H\\) = \\(2, 3\\)"),
    (dict(c0=np.ones((B_ + 1, H_))), ValueError, "c0 must have shape \\(B, H\\) = \\(2, 3\\)"),
    (dict(c0=np.full((B_, H_), np.nan)), ValueError, "c0 must be finite"),
    (dict(W_hh=np.full((4 * H_, H_), np.inf)), ValueError, "W_hh must be finite"),
    (dict(dL_dh=np.ones((T_, B_, 4 * H_))), ValueError, "dL_dh must have shape \\(T, B, H\\) = \\(5, 2, 3\\)"),
    (dict(b=["x"] * 4 * H_), TypeError, "b must hold real numbers"),
    (dict(t=0), ValueError, "t must be at least 1"),
    (dict(t=T_ + 1), ValueError, "t must be at most T \\(the length of x\\) = 5"),
    (dict(t=1.5), TypeError, "t must be an integer"),
    (dict(dps=-3), ValueError, "dps must be at least 1"),
]
LSTM_ENGINES = (rnn.lstm_forward, rnn.lstm_backward, rnn.lstm_backward_exact, rnn.lstm_backward_nn,
                rnn.cell_jacobian, rnn.lstm_reference)


@pytest.mark.parametrize("engine, changes, error, message", _cases(LSTM_BAD, LSTM_ENGINES))
def test_bad_lstm_input_is_refused_naming_the_argument(engine, changes, error, message):
    arguments = dict(_lstm_problem(18, T_, B_, I_, H_)._asdict(), t=2)
    _assert_refused(engine, arguments, changes, error, message)


def test_lstm_inputs_are_not_modified():
    problem = _lstm_problem(19, 3, 2, 2, 3)
    copies = [np.copy(v) for v in problem]
    for engine in LSTM_ENGINES:
        _call(engine, dict(problem._asdict(), t=2))
    for value, copy in zip(problem, copies):
        np.testing.assert_array_equal(value, copy)


TRUNCATION_PROBLEM = (np.linspace(-1, 1, 8).reshape(4, 1, 2), np.array([[0.3, -0.2]]),
                      np.array([[0.5, -0.4], [0.3, 0.2]]), np.array([[0.9, -0.3], [0.2, 0.7]]),
                      np.array([0.1, -0.1]), np.linspace(1, -1, 8).reshape(4, 1, 2))


@pytest.mark.parametrize("engine", [rnn.bptt, rnn.bptt_exact, rnn.bptt_extended])
@pytest.mark.parametrize("truncate", [-1, 1.5, True])
def test_every_engine_refuses_a_truncation_that_is_no_count_of_steps(engine, truncate):
    with pytest.raises(ValueError, match=r"^truncate must be (an integer|at least 0)"):
        engine(*TRUNCATION_PROBLEM, truncate=truncate)


def test_the_long_double_engine_truncates_as_the_float64_one_does():
    full, truncated = rnn.bptt_extended(*TRUNCATION_PROBLEM), rnn.bptt_extended(*TRUNCATION_PROBLEM, truncate=1)
    np.testing.assert_allclose(np.asarray(truncated.W_h, dtype=float),
                               rnn.bptt(*TRUNCATION_PROBLEM, truncate=1).W_h, rtol=1e-14)
    assert not np.allclose(np.asarray(full.W_h, dtype=float), np.asarray(truncated.W_h, dtype=float))


def test_a_truncated_bound_counts_one_more_rounding_per_part_a_delta_sums():
    """δ_t sums k' + 1 parts, k' = min(k, T − 1): T − 1 and more all give k' = T − 1, one step less one
    part fewer, k = 0 and a single step none (their bound is full BPTT's), and every extra part widens it."""
    eps = 2.0 ** -24

    def tolerance(problem, truncate):
        return rnn.reference(*problem, truncate=truncate).rounding_tolerance(eps)["b"]

    T = len(TRUNCATION_PROBLEM[0])
    assert np.array_equal(tolerance(TRUNCATION_PROBLEM, T - 1), tolerance(TRUNCATION_PROBLEM, T + 5))
    assert np.all(tolerance(TRUNCATION_PROBLEM, T - 1) > tolerance(TRUNCATION_PROBLEM, T - 2))
    full = rnn.reference(*TRUNCATION_PROBLEM).rounding_tolerance(eps)["b"]
    assert np.array_equal(tolerance(TRUNCATION_PROBLEM, 0), full)  # k = 0: each term's own part, B·T sums
    assert np.all(tolerance(TRUNCATION_PROBLEM, 1) > full)
    one_step = tuple(a[:1] if a.ndim == 3 else a for a in TRUNCATION_PROBLEM)
    assert np.array_equal(tolerance(one_step, 3), rnn.reference(*one_step).rounding_tolerance(eps)["b"])
