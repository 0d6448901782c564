"""The RNN strategies: problems rnn.bptt accepts, and W_h with a prescribed norm, radius or scale."""

import math

import numpy as np
import pytest
from hypothesis import find, given, strategies as st
from hypothesis.errors import InvalidArgument

from gradproofs import strategies as gps
from gradproofs.rnn import engine as rnn
from gradproofs.rnn import strategies as rnn_strategies

EPS = float(np.finfo(np.float64).eps)
SIZES = st.integers(1, 6)
SCALES = st.floats(0.1, 3.0)


@given(gps.sequences())
def test_sequences_are_problems_bptt_accepts(problem):
    T, B, inputs = problem.x.shape
    H = problem.h0.shape[1]
    assert 1 <= T <= 8 and 1 <= B <= 4 and 1 <= inputs <= 4 and 1 <= H <= 4
    shapes = {"x": (T, B, inputs), "h0": (B, H), "W_x": (H, inputs), "W_h": (H, H), "b": (H,),
              "dL_dh": (T, B, H)}
    for name, value in problem._asdict().items():
        assert value.shape == shapes[name] and value.dtype == np.float64, name
        assert np.all(np.abs(value) <= (2.0 if name == "x" else 1.0)), name
    gradients = rnn.bptt(*problem)
    assert gradients.h0.shape == (B, H) and gradients.states.shape == (T + 1, B, H)


@given(gps.sequences(min_steps=0, max_steps=3, min_batch=2, max_batch=2, min_inputs=3, max_inputs=3,
                     min_hidden=1, max_hidden=1, max_input=0.5))
def test_sizes_and_the_input_bound_are_as_asked(problem):
    T = problem.x.shape[0]
    assert 0 <= T <= 3 and problem.x.shape[1:] == (2, 3) and problem.W_h.shape == (1, 1)
    assert np.all(np.abs(problem.x) <= 0.5)
    if T == 0:  # the empty sequence: every gradient is exactly 0
        gradients = rnn.bptt(*problem)
        assert not any(np.any(getattr(gradients, name)) for name in ("W_x", "W_h", "b", "h0"))


def test_sequences_shrink_to_one_step_of_one_unit():
    smallest = find(gps.sequences(), lambda problem: problem.x.shape[0] >= 3)
    assert smallest.x.shape == (3, 1, 1) and smallest.W_h.shape == (1, 1)
    assert not any(np.any(value) for value in smallest)


@given(SIZES.flatmap(lambda n: gps.recurrent_matrices(n)))
def test_with_no_option_entries_lie_in_the_unit_interval(W):
    assert W.shape[0] == W.shape[1] and np.all(np.abs(W) <= 1.0)


@given(st.tuples(SIZES, SCALES).flatmap(
    lambda case: st.tuples(st.just(case[1]), gps.recurrent_matrices(case[0], spectral_norm=case[1]))))
def test_the_spectral_norm_holds_to_rounding(case):
    norm, W = case
    # One rescaling and two SVDs, each good to a few units of eps per dimension.
    assert abs(np.linalg.norm(W, 2) - norm) <= 10 * W.shape[0] * EPS * norm


@given(st.tuples(SIZES, SCALES).flatmap(
    lambda case: st.tuples(st.just(case[1]), gps.recurrent_matrices(case[0], spectral_radius=case[1]))))
def test_the_spectral_radius_holds_to_rounding(case):
    radius, W = case
    # An eigenvalue of condition κ ≤ 1e4 moves by at most about n·eps·κ·‖W‖, and ‖W‖ ≤ 10·radius
    # (the strategy's conditions); two eigendecompositions, one rescaling.
    assert abs(np.abs(np.linalg.eigvals(W)).max() - radius) <= 2 * W.shape[0] * EPS * 1e4 * 10 * radius


@given(st.tuples(SIZES, SCALES).flatmap(
    lambda case: st.tuples(st.just(case[1]), gps.recurrent_matrices(case[0], orthogonal_scale=case[1]))))
def test_a_scaled_orthogonal_matrix_has_every_singular_value_and_eigenvalue_modulus_at_the_scale(case):
    scale, W = case
    n = W.shape[0]
    tolerance = 10 * n * EPS
    np.testing.assert_allclose(W.T @ W / scale ** 2, np.eye(n), rtol=0, atol=tolerance)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), scale, rtol=tolerance)
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(W)), scale, rtol=tolerance)


def test_draws_whose_radius_is_not_accurate_to_rounding_are_not_rescaled():
    jordan = np.array([[0.5, 1.0], [0.0, 0.5]])  # defective: a perturbation ε moves λ by √ε
    nilpotent = np.triu(np.ones((3, 3)), 1)  # radius 0
    assert rnn_strategies._radius(jordan) is None and rnn_strategies._radius(nilpotent) is None
    assert rnn_strategies._radius(np.diag([0.3, -0.7])) == 0.7


@pytest.mark.parametrize("options", [
    dict(min_steps=-1), dict(min_steps=3, max_steps=2), dict(max_steps=1.5), dict(min_batch=0),
    dict(max_batch=True), dict(min_inputs=0), dict(min_hidden=2, max_hidden=1), dict(max_input=0.0),
    dict(max_input=math.inf), dict(max_input="2"),
])
def test_invalid_sequence_options_are_refused(options):
    with pytest.raises(InvalidArgument):
        gps.sequences(**options)


@pytest.mark.parametrize("size, options", [
    (0, {}), (2.0, {}), (True, {}), ((2, 2), {}), (2, dict(spectral_norm=0.0)), (2, dict(spectral_radius=-1.0)),
    (2, dict(orthogonal_scale=math.nan)), (2, dict(spectral_norm=math.inf)),
    (2, dict(spectral_norm=1.0, spectral_radius=1.0)), (2, dict(spectral_radius=1.0, orthogonal_scale=1.0)),
])
def test_invalid_matrix_options_are_refused(size, options):
    with pytest.raises(InvalidArgument):
        gps.recurrent_matrices(size, **options)
