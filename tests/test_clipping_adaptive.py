"""Adaptive gradient clipping: the exact rule worked by hand in binary fractions, its tolerance term
by term, and check_clip_agc on implementations written here (timm's style in torch, a NumPy one in
place), each passing, and each planted bug caught."""

import inspect
import re
from fractions import Fraction

import numpy as np
import pytest

import gradproofs
from gradproofs.clipping import adaptive
from gradproofs.clipping import engine as clipping
from gradproofs.oracle import check_clip_agc, torch_in_place

f16, f32, f64 = np.float16, np.float32, np.float64


# --- the exact rule ----------------------------------------------------------------------------------

def test_rows_are_scaled_to_their_bound_worked_by_hand():
    # Row 0: ‖W_0‖ = 5, bound λ·5 = 1/20 (λ = 1/100), ‖G_0‖ = 5/8 ≥ 1/20: scaled by (1/20)/(5/8) = 2/25.
    # Row 1: ‖W_1‖ = 0 < ε, bound λ·ε; ‖G_1‖ = 2^-30 < it: kept.
    W = np.array([[3.0, 4.0], [0.0, 0.0]], f32)
    G = np.array([[0.375, 0.5], [2.0 ** -30, 0.0]], f32)
    result = adaptive.agc_exact(W, G, 0.01, 1e-3)
    assert result.exact.tolist() == [[0.375 * 2 / 25, 0.5 * 2 / 25], [2.0 ** -30, 0.0]]
    assert result.other.tolist() == result.exact.tolist() and result.near.tolist() == [False, False]


def test_a_bias_and_a_scalar_are_one_unit_each():
    # A bias (n,): one unit, ‖b‖ = 5 and ‖g‖ = 10 ≥ λ·5 = 1/2 (λ = 1/10): scaled by (1/2)/10 = 1/20.
    result = adaptive.agc_exact(np.array([3.0, 4.0]), np.array([6.0, 8.0]), 0.1, 1e-3)
    assert result.exact.tolist() == pytest.approx([6 / 20, 8 / 20], rel=1e-16) and result.near.tolist() == [False]
    # A 0-dim parameter 2 with gradient 3: bound λ·2 = 2/100, |g| = 3 ≥ it: 3·(2/100)/3 = 2/100.
    assert float(adaptive.agc_exact(f32(2.0), f32(3.0)).exact) == pytest.approx(0.02, rel=1e-16)
    # Units of an array of three dimensions: the rows of axis 0, each of 2·2 entries.
    W, G = np.ones((2, 2, 2)), np.full((2, 2, 2), 0.5)  # ‖W_i‖ = 2, bound λ·2 = 1 (λ = 1/2), ‖G_i‖ = 1: scaled by 1
    assert adaptive.agc_exact(W, G, 0.5).exact.tolist() == G.tolist()


def test_the_floor_of_the_gradient_norm_and_the_two_branches_near_the_bound():
    # W = 0, so the bound is λ·ε = 1e-3·1e-4 ≈ 1e-7; ‖G‖ = 2^-20 ≈ 9.5e-7 ≥ it, below timm's floor 1e-6:
    # scaled by bound/1e-6, not by bound/‖G‖.
    g = 2.0 ** -20
    result = adaptive.agc_exact(np.zeros(1), np.array([g]), 1e-3, 1e-4)
    assert float(result.exact[0]) == pytest.approx(g * (1e-3 * 1e-4) / 1e-6, rel=1e-15)
    # ‖G‖ within the margin of the bound: a float computation may keep it or clip it, and below the floor
    # the two differ (g against g·bound/1e-6); ``other`` holds the branch not taken.
    near = adaptive.agc_exact(np.zeros(1), np.array([1e-7]), 1e-3, 1e-4, margin=1e-6)
    assert near.near.tolist() == [True]
    assert sorted([float(near.exact[0]), float(near.other[0])]) == pytest.approx([1e-7 * 1e-7 / 1e-6, 1e-7],
                                                                                rel=1e-9)
    far = adaptive.agc_exact(np.zeros(1), np.array([2e-7]), 1e-3, 1e-4, margin=1e-6)
    assert far.near.tolist() == [False] and far.other.tolist() == far.exact.tolist()


def test_a_gradient_norm_equal_to_its_bound_is_clipped_as_timm_does():
    # timm keeps G_i only where ‖G_i‖ < bound. W = 0, ε = 2^-30, λ = 1: the bound is 2^-30 exactly, and so is
    # ‖G‖; below the floor, clipping is not the identity: 2^-30 · 2^-30 / 10^-6, rounded once.
    g = 2.0 ** -30
    tie = adaptive.agc_exact(np.zeros(1), np.array([g]), 1.0, g)
    assert tie.exact.tolist() == [float(Fraction(g) * Fraction(g) / Fraction(1e-6))]
    assert tie.near.tolist() == [True] and tie.other.tolist() == [g]  # within a margin of 0: both branches


def test_with_eps_zero_a_unit_of_zero_weights_has_its_gradient_clipped_to_zero():
    result = adaptive.agc_exact(np.zeros((2, 2)), np.array([[1.0, 2.0], [0.0, 0.0]]), 0.5, 0.0)
    assert result.exact.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_a_parameter_without_rows_has_no_units():
    result = adaptive.agc_exact(np.zeros((0, 3), f32), np.zeros((0, 3), f32))
    assert result.exact.shape == (0, 3) and result.near.shape == (0,) and result.near.dtype == bool


@pytest.mark.parametrize("arguments, message", [
    ((np.ones(2), np.ones(3)), "grad has shape (3,), its parameter (2,)"),
    ((np.ones(2), np.array([1.0, np.nan])), "grad must be a finite floating array, got float64 with non-finite"),
    ((np.ones(2), np.ones(2), "0.01"), "clip_factor must be a real number"),
    ((np.ones(2), np.ones(2), 0.01, np.nan), "eps must be finite"),
    ((np.ones(2, int), np.ones(2)), "parameter must be a finite floating array, got int64 entries"),
    ((np.ones(2), np.ones(2), 0.0), "clip_factor must be positive"),
    ((np.ones(2), np.ones(2), 0.01, -1.0), "clip_factor must be positive and eps non-negative"),
    ((np.ones(2), np.ones(2), np.inf), "clip_factor must be finite"),
])
def test_bad_input_is_refused_naming_the_argument(arguments, message):
    with pytest.raises(gradproofs.InvalidArgument, match="^" + re.escape(message)):
        adaptive.agc_exact(*arguments)


def test_the_tolerance_term_by_term():
    # float32 rows of 3: half of norm_tolerance for each unit norm, and 6 roundings, twice.
    W, G = np.ones((2, 3), f32), np.full((2, 3), 2.0, f32)
    u = 2.0 ** -24
    expected = 2 * ((clipping.norm_tolerance([W[0]]) + clipping.norm_tolerance([G[0]])) / 2 + 6 * u)
    assert adaptive.agc_tolerance(W, G) == pytest.approx(expected, rel=1e-12)
    # float16 with timm's λ·ε = 1e-5 (W = 0) and ‖G‖ = 100: the bound and the quotient 1e-7 are subnormal
    # in float16 (σ = 2^-24): σ/(2·1e-5) and σ/(2·1e-7) more.
    W, G = np.zeros(1, f16), np.full(1, 100.0, f16)
    sigma = 2.0 ** -24
    base = 2 * ((clipping.norm_tolerance([W]) + clipping.norm_tolerance([G])) / 2 + 6 * 2.0 ** -11)
    assert adaptive.agc_tolerance(W, G) == pytest.approx(base + 2 * (sigma / 2e-5 + sigma / 2e-7), rel=1e-6)
    # The bound's norm is the 2-norm: W = (3, 4)·2^-20 in float16 with λ = 1 and ε = 0 makes the bound
    # 5·2^-20 and, with ‖G‖ = ‖(3, 4)‖ = 5, the quotient 2^-20, both subnormal: σ/(2·5·2^-20) = 1/160
    # and σ/(2·2^-20) = 1/32 more.
    W, G = np.array([3, 4], f16) * f16(2.0 ** -20), np.array([3, 4], f16)
    base = 2 * ((clipping.norm_tolerance([W]) + clipping.norm_tolerance([G])) / 2 + 6 * 2.0 ** -11)
    assert adaptive.agc_tolerance(W, G, 1.0, 0.0) == pytest.approx(base + 2 * (1 / 160 + 1 / 32), rel=1e-12)


# --- the oracle --------------------------------------------------------------------------------------

def numpy_agc(parameters, grads, clip_factor, eps):
    """AGC in NumPy, clipping the gradient arrays in place: each unit's norm over every axis but the first."""
    for w, g in zip(parameters, grads):
        if g is None:
            continue
        axes = tuple(range(1, g.ndim)) if g.ndim > 1 else None
        w_norm = np.sqrt(np.sum(np.square(w, dtype=f64), axis=axes, keepdims=g.ndim > 1))
        g_norm = np.sqrt(np.sum(np.square(g, dtype=f64), axis=axes, keepdims=g.ndim > 1))
        bound = clip_factor * np.maximum(w_norm, eps)
        g[...] = np.where(g_norm < bound, g, g * (bound / np.maximum(g_norm, 1e-6))).astype(g.dtype)


def test_a_numpy_implementation_passes_in_place_with_timms_constants_and_with_drawn_ones():
    assert check_clip_agc(numpy_agc, in_place=True, max_examples=60).examples == 60

    def fixed(parameters, grads):
        numpy_agc(parameters, grads, 0.01, 1e-3)

    assert check_clip_agc(fixed, in_place=True, arguments=("parameters", "grads"), max_examples=30).examples == 30


def test_the_norm_of_the_whole_array_instead_of_each_row_is_caught():
    def whole(parameters, grads, clip_factor, eps):
        for w, g in zip(parameters, grads):
            if g is not None:
                bound = clip_factor * max(float(np.linalg.norm(w.astype(f64))), eps)
                norm = float(np.linalg.norm(g.astype(f64)))
                if norm >= bound:
                    g[...] = (g * (bound / max(norm, 1e-6))).astype(g.dtype)

    with pytest.raises(gradproofs.Mismatch, match=r"clipped\[\d\]\[\d\]: got") as failure:
        check_clip_agc(whole, in_place=True, max_examples=100)
    assert "parameters = [np.array([[" in str(failure.value), str(failure.value)


def test_a_copy_of_the_gradients_is_not_a_clip_in_place():
    def copied(parameters, grads, clip_factor, eps):
        numpy_agc(parameters, [None if g is None else g.copy() for g in grads], clip_factor, eps)

    with pytest.raises(gradproofs.Mismatch, match="clipped"):
        check_clip_agc(copied, in_place=True, max_examples=100)


def test_leaving_out_the_parameters_or_the_gradients_is_an_error():
    for arguments in (("grads", "clip_factor", "eps"), ("parameters", "clip_factor")):
        with pytest.raises(gradproofs.InvalidArgument, match="arguments leaves out"):
            check_clip_agc(numpy_agc, arguments=arguments)
    with pytest.raises(gradproofs.InvalidArgument, match="check_clip_agc has no option 'thresholds'"):
        check_clip_agc(numpy_agc, thresholds="positive")


def test_torch_in_place_with_parameters_gives_fn_the_drawn_values():
    pytest.importorskip("torch")
    seen = []

    def record(parameters, clip_factor, eps):
        seen.append([p.detach().numpy().copy() for p in parameters])

    wrapped = torch_in_place(record, with_parameters=True)
    W = np.array([[1.0, -2.0]], f32)
    result = wrapped([W, np.ones(3)], [np.full((1, 2), 0.5, f32), None], 0.01, 1e-3)
    assert result[0].tolist() == [[0.5, 0.5]] and result[0].dtype == f32 and result[1] is None
    assert seen[0][0].tolist() == W.tolist() and seen[0][1].tolist() == [1.0, 1.0, 1.0]
    # Without it, the parameters hold zeros of the gradients' shapes.
    torch_in_place(record)([np.ones((1, 2), f32)], 0.01, 1e-3)
    assert seen[1][0].tolist() == [[0.0, 0.0]]
    # Its signature is fn's, with the parameters given as values and gradients: what the oracle passes.
    assert str(inspect.signature(wrapped)) == "(parameters, grads, /, clip_factor, eps)"
    assert str(inspect.signature(torch_in_place(record))) == "(grads, /, clip_factor, eps)"
    with pytest.raises(gradproofs.InvalidArgument, match="with_parameters"):
        torch_in_place(record, with_parameters="yes")
