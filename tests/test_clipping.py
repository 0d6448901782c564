"""gradproofs.clipping: every observed row per convention, torch's own functions, bad input.

Expected values come from the frameworks as observed (gradproofs.clipping_observations, cited
by row: the test_row_N functions, and rows 18 to 24 below) and from
each framework's published formula written out here in NumPy; torch's are also
compared with torch itself.
"""

import math
import os
import signal
import time
import warnings
from functools import partial

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.errors import InvalidArgument

import recording
from differential import assert_norm_and_clip, gradients, parameters
from ieee import assert_same_under_a_raising_error_state
from gradproofs import strategies as gps
from gradproofs.clipping import engine as clipping

CONVENTIONS = clipping.CONVENTIONS
NAN = math.nan
f16, f32, f64 = np.float16, np.float32, np.float64


def a32(*values):
    return np.array(values, dtype=f32)


def clip(grads, c, convention, **options):
    return clipping.clip_grad_norm(grads, c, convention=convention, **options)


def same(got, expected):
    """Bit for bit as NumPy values (NaN equal to NaN), and of the expected dtype."""
    expected = np.asarray(expected)
    return got.dtype == expected.dtype and np.array_equal(got, expected, equal_nan=True)


# --- the observed edge cases (rows 1 to 17), one test per row and convention --------------------

# Row 1: g = [3, 4], c = 1. torch [0.59999990, 0.79999983] (its epsilon); the others' formulas give
# float32(3)·float32(0.2) = 0.6 exactly as the table's [0.6, 0.8]; every framework reports n = 5.
# d2l's grad_clipping: reciprocal(5)·1 = float32(0.2), the same products.
# Keras's global_clipnorm (keras/src/optimizers/base_optimizer.py, clip_by_global_norm, Keras 3.15):
# c·min(1/n, 1/c) = min(float32(1/5), 1) = float32(0.2), the same products.
# fairseq's clip_grad_norm_ (fairseq/utils.py, without apex) takes torch's coefficient: torch's values,
# as a torch implementation in its style gives them (tests/styles/fairseq_style.py, in these rows'
# comments "fairseq's style").
ROW_1 = {"torch": a32("0.5999999", "0.79999983"), "tensorflow": a32(0.6, 0.8), "keras": a32(0.6, 0.8),
         "keras_global": a32(0.6, 0.8), "optax": a32(0.6, 0.8), "pascanu": a32(0.6, 0.8), "d2l": a32(0.6, 0.8),
         "fairseq": a32("0.5999999", "0.79999983")}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_1_three_four_clipped_to_one(convention):
    (out,), norm = clip([a32(3, 4)], 1.0, convention)
    assert same(out, ROW_1[convention])
    assert (norm[0] if convention == "keras" else norm) == f32(5)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_2_at_n_equal_to_c(convention):
    (out,), _ = clip([a32(3, 4)], 5.0, convention)
    if convention in ("torch", "fairseq"):  # shrinks by its epsilon: g·5/(5 + 1e-6), within float32's rounding
        assert np.all(out < a32(3, 4))
        np.testing.assert_allclose(out, np.array([3, 4]) * 5 / (5 + 1e-6), rtol=2 ** -23)
    elif convention == "optax":  # the clip branch (g/n)·c: float32 (3/5)·5 rounds back to 3
        assert same(out, (a32(3, 4) / f32(5)) * f32(5)) and same(out, a32(3, 4))
    else:  # TensorFlow, Keras and d2l (n > c is false) unchanged; Pascanu clips by c/n = 1
        assert same(out, a32(3, 4))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_3_zero_gradients_are_unchanged(convention):
    (out,), _ = clip([a32(0, 0)], 1.0, convention)
    assert same(out, a32(0, 0))


# Row 4: zero gradients, c = 0: torch zeros; TF NaN; optax NaN (0/0); Keras ignores c ≤ 0 (clipnorm
# and global_clipnorm alike: `if self.global_clipnorm and self.global_clipnorm > 0`, _clip_gradients);
# Pascanu's n ≥ c holds, so g·c/n = 0·0/0; d2l's n > c does not, so g is unchanged; fairseq does not clip
# for c ≤ 0 (`if max_norm > 0`).
ROW_4 = {"torch": a32(0, 0), "tensorflow": a32(NAN, NAN), "keras": a32(0, 0), "keras_global": a32(0, 0),
         "optax": a32(NAN, NAN), "pascanu": a32(NAN, NAN), "d2l": a32(0, 0), "fairseq": a32(0, 0)}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_4_zero_gradients_at_c_zero(convention):
    (out,), _ = clip([a32(0, 0)], 0.0, convention)
    assert same(out, ROW_4[convention])


def test_fairseq_leaves_a_gradient_unclipped_at_c_zero_where_torch_zeros_it():
    # fairseq/utils.py clips only `if max_norm > 0`; torch's coefficient 0/(5 + 1e-6) is 0.
    assert same(clip([a32(3, 4)], 0.0, "fairseq")[0][0], a32(3, 4))
    assert same(clip([a32(3, 4)], 0.0, "torch")[0][0], a32(0, 0))


def test_row_4_torch_in_float16_gives_nan_where_float32_gives_zeros():
    # 1/(0 + 1e-6) overflows float16: ∞·0 is NaN (torch does the same; see the agreement tests).
    (out,), _ = clip([np.zeros(2, f16)], 0.0, "torch")
    assert np.all(np.isnan(out))


# Row 5: c < 0: torch and optax flip the sign ([−0.6, −0.8]); TF's global clip leaves g; Keras
# ignores it; Pascanu's n ≥ c and d2l's n > c always hold, so g·c/n flips too; fairseq does not clip.
ROW_5 = {"torch": -ROW_1["torch"], "tensorflow": a32(3, 4), "keras": a32(3, 4), "keras_global": a32(3, 4),
         "optax": a32(-0.6, -0.8), "pascanu": a32(-0.6, -0.8), "d2l": a32(-0.6, -0.8), "fairseq": a32(3, 4)}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_5_negative_threshold(convention):
    (out,), _ = clip([a32(3, 4)], -1.0, convention)
    assert same(out, ROW_5[convention])


# Row 6: c = +∞: torch and optax unchanged; TF 2.21 NaN (∞·0); Keras's (g·∞)/max(n, ∞) is NaN, and
# its global ∞·min(1/n, 1/∞) = ∞·0 too; Pascanu's n ≥ ∞ and d2l's n > ∞ fail, so g is unchanged.
ROW_6 = {"torch": a32(3, 4), "tensorflow": a32(NAN, NAN), "keras": a32(NAN, NAN), "keras_global": a32(NAN, NAN),
         "optax": a32(3, 4), "pascanu": a32(3, 4), "d2l": a32(3, 4), "fairseq": a32(3, 4)}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_6_infinite_threshold(convention):
    (out,), _ = clip([a32(3, 4)], math.inf, convention)
    assert same(out, ROW_6[convention])


# Row 7: an infinite entry: torch n = ∞ and [nan, 0] (∞·0); TF all NaN on purpose, and Keras's global
# scale too (its + (n − n)); optax and Pascanu scale by c/∞ = 0 as torch does; Keras's (g·c)/∞ and
# d2l's reciprocal(∞)·c likewise.
ROW_7 = {"torch": a32(NAN, 0), "tensorflow": a32(NAN, NAN), "keras": a32(NAN, 0), "keras_global": a32(NAN, NAN),
         "optax": a32(NAN, 0), "pascanu": a32(NAN, 0), "d2l": a32(NAN, 0), "fairseq": a32(NAN, 0)}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_7_an_infinite_entry(convention):
    grads = [a32(math.inf, 1)]
    (out,), norm = clip(grads, 1.0, convention)
    assert same(out, ROW_7[convention])
    assert (norm[0] if convention == "keras" else norm) == math.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        clip(grads, 1.0, convention, error_if_nonfinite=True)
    assert same(grads[0], a32(math.inf, 1))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_8_a_nan_entry(convention):
    (out,), norm = clip([a32(NAN, 1)], 1.0, convention)
    if convention in ("pascanu", "d2l"):  # NaN ≥ c (NaN > c) is false: g is left as it is, NaN included
        assert same(out, a32(NAN, 1))
    else:  # all NaN in every framework
        assert same(out, a32(NAN, NAN))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_9_squares_overflow_float32(convention):
    grads = [a32(3e20, 4e20)]
    (out,), norm = clip(grads, 1.0, convention)
    # torch n = ∞ and zeros; TF (and Keras's global scale) NaN; optax, Keras and Pascanu scale by 1/∞ = 0.
    assert same(out, a32(NAN, NAN) if convention in ("tensorflow", "keras_global") else a32(0, 0))
    (safe,), safe_norm = clip(grads, 2.0, convention, safe_norm=True)
    # The overflow-safe norm: 5e20 fits, so [0.6·c, 0.8·c].
    assert (safe_norm[0] if convention == "keras" else safe_norm) == f32(5e20)
    np.testing.assert_allclose(safe, [1.2, 1.6], rtol=4 * 2 ** -24)


# Row 10: float16 [300]×1000: torch's norm accumulates in float32: 9488 (float16 of √(9e7) = 9486.8),
# and clips right; TF NaN; optax zeros (300² is ∞ in float16); Keras, squaring in float16 too,
# divides by ∞: zeros; Pascanu uses torch's 2-norm.
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_10_float16_squares_overflow(convention):
    (out,), norm = clip([np.full(1000, 300, f16)], 1.0, convention)
    assert out.dtype == f16
    if convention in ("torch", "pascanu"):
        assert norm == f16(9488) and norm.dtype == f16
        assert np.all(out == out[0]) and abs(float(out[0]) - 300 / 9486.83) < 2 ** -11 * 0.0317
    elif convention in ("tensorflow", "keras_global"):
        assert np.all(np.isnan(out)) and norm == math.inf
    elif convention == "fairseq":  # the norm in float32 (fairseq's style: 9486.833), and clips right
        assert norm == f32(9486.833) and norm.dtype == f32
        assert np.all(out == out[0]) and out[0] == f16(0.03162)
    else:
        assert np.all(out == 0)


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("grads", [[], [None, None]], ids=["empty", "all None"])
def test_row_11_nothing_to_clip(convention, grads):
    if convention in ("keras", "keras_global", "d2l"):  # Keras's optimizer raises ('No gradients provided
        # for any variable'), d2l's grad_clipping too (torch.sqrt of the integer 0)
        with pytest.raises(ValueError, match="no gradient"):
            clip(grads, 1.0, convention)
        return
    out, norm = clip(grads, 1.0, convention)  # torch returns 0.0 (float32); TF ([], 0.0)
    # optax: optax.tree.norm adds the leaves' sums to the integer 0 (jax.tree.reduce's initializer,
    # optax/tree_utils/_tree_math.py, optax 0.2.8), and jnp.sqrt(0) is a float64 under x64.
    assert out == grads and norm == 0.0 and norm.dtype == (f64 if convention == "optax" else f32)


def test_row_11_torch_warns_once_on_an_empty_generator_and_value_clipping_raises():
    with pytest.warns(UserWarning, match="empty generator"):
        clipping.clip_grad_norm((g for g in []), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clipping.clip_grad_norm([], 1.0)  # a list is not a generator: no warning
    for grads in ([], [None]):
        with pytest.raises(ValueError, match="no gradient"):
            clipping.clip_grad_value(grads, 1.0)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_12_global_against_per_variable(convention):
    (first, second), _ = clip([a32(3, 4), a32(12)], 1.0, convention)
    if convention == "keras":  # clipnorm: each variable alone
        expected = [a32(0.6, 0.8), a32(1.0)]
    else:  # one global scale 1/13
        expected = [[0.2308, 0.3077], [0.9231]]
    np.testing.assert_allclose(first, expected[0], atol=5e-5)
    np.testing.assert_allclose(second, expected[1], atol=5e-5)


# Row 13: torch's norm types: p = 1 on [3, −4] → 7; ∞ → 4; p = 0.5 on [1, 1] → 4; p = −2 → 2.4;
# p = 0 on [3, 0, −4] → 1 (it counts non-zero array norms); 'fro' raises; a zero-size
# gradient with p = ±∞ raises.
ROW_13 = [(1, [3, -4], 7.0), (math.inf, [3, -4], 4.0), (0.5, [1, 1], 4.0), (-2, [3, -4], 2.4),
          (0, [3, 0, -4], 1.0)]


@pytest.mark.parametrize("p, values, expected", ROW_13)
def test_row_13_torch_norm_types(p, values, expected):
    grads = [np.array(values, dtype=f64)]
    assert clipping.total_norm(grads, p) == pytest.approx(expected, rel=1e-15)
    assert clip(grads, 1e9, "torch", norm_type=p)[1] == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_13_what_each_convention_refuses(convention):
    grads = [a32(3, -4)]
    with pytest.raises(TypeError, match="norm_type.*'fro'"):
        clip(grads, 1.0, convention, norm_type="fro")
    if convention == "torch":
        for p in (math.inf, -math.inf, "inf"):
            with pytest.raises(ValueError, match=r"grads\[0\] is empty"):
                clip([np.zeros(0, f32), a32(1)], 1.0, convention, norm_type=p)
        assert clip(grads, 1.0, convention, norm_type="inf")[1] == 4.0
    else:  # L2 only
        with pytest.raises(ValueError, match="norm_type must be 2"):
            clip(grads, 1.0, convention, norm_type=1)


# Row 14: float32 + float64: torch promotes n to float64; TF raises (tf.stack of mixed dtypes), and
# Keras's global_clipnorm at the product of a float32 array and a float64 scale.
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_14_mixed_dtypes(convention):
    grads = [a32(3, 4), np.array([12.0])]
    if convention == "fairseq":  # fairseq's style raises: torch.norm(g, p=2, dtype=torch.float32) of a float64 g
        with pytest.raises(ValueError, match="grads\\[1\\] is float64"):
            clip(grads, 1.0, convention)
        return
    if convention in ("tensorflow", "keras_global"):
        with pytest.raises(TypeError, match="mixes dtypes"):
            clip(grads, 1.0, convention)
        return
    (first, second), norm = clip(grads, 1.0, convention)
    assert first.dtype == f32 and second.dtype == f64
    if convention == "keras":
        assert same(norm, np.array([5.0, 12.0], f64))
    else:
        assert same(norm, np.array([13.0], f64))


# Row 15: value clipping with c < 0 sets every element to c (torch, optax; TF to −c); c = 0 gives
# zeros, −0.0 for the negative entries; NaN entries survive.
def test_row_15_value_clipping():
    g = np.array([-5.0, 5.0, 0.5, -0.0, NAN], dtype=f32)
    assert same(clipping.clip_grad_value([g], -1.0)[0], a32(-1, -1, -1, -1, NAN))
    zero = clipping.clip_grad_value([g], 0.0)[0]
    assert same(zero, a32(0, 0, 0, 0, NAN)) and list(np.signbit(zero[:4])) == [True, False, False, True]
    assert same(clipping.clip_grad_value(g, math.inf), g)


# Row 16: sparse gradients: torch raises NotImplementedError; TF's IndexedSlices with duplicate
# indices are under-clipped. NumPy has no sparse array: anything but an ndarray is refused.
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_16_sparse_gradients_are_refused(convention):
    torch = pytest.importorskip("torch")
    sparse = torch.sparse_coo_tensor([[0, 1]], [3.0, 4.0], (2,), check_invariants=True)
    with pytest.raises(TypeError, match=r"grads\[0\] must be a NumPy array"):
        clip([sparse], 1.0, convention)


# Row 17: a bare tensor and [tensor] give identical results; None gradients are skipped.
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_row_17_bare_array_and_none(convention):
    g = a32(3, 4)
    bare, bare_norm = clip(g, 1.0, convention)
    (listed,), listed_norm = clip([g], 1.0, convention)
    assert isinstance(bare, np.ndarray) and same(bare, listed)
    assert (bare_norm == listed_norm[0]) if convention == "keras" else bare_norm == listed_norm
    out, _ = clip([None, g, None], 1.0, convention)
    assert out[0] is None and out[2] is None and same(out[1], listed)


# --- what the live libraries return where a formula alone is wrong (rows 18 to 23) ---------------
# Observed with tensorflow-cpu 2.21, Keras 3.15, optax 0.2.8 on jax 0.10 (x64) and torch 2.13, on the CPU;
# tests/test_clipping_live.py compares the same functions over drawn inputs. The model before kept
# subnormals, divided where XLA multiplies, accumulated TensorFlow's float16 sums in float32, added torch's
# epsilon in float32 and clamped float16 beyond its range.

def test_tensorflow_keras_and_optax_flush_subnormals_to_zero_on_the_cpu():
    (out,), norm = clip([a32(1e-39, -2e-39)], 1.0, "tensorflow")
    assert same(out, a32(0, -0.0)) and list(np.signbit(out)) == [False, True] and norm == 0
    # Squares of 9e-20 are subnormal: the norm is 0, so nothing is clipped (c·(1/c) = 1).
    small = [np.full(100, 9e-20, f32)]
    for convention in ("tensorflow", "optax"):
        (out,), norm = clip(small, 1.8e-19, convention)
        assert norm == 0 and same(out, small[0])
    # clipnorm = 1e-38 is subnormal in float32: (0·c)/max(0, c) = 0/0.
    assert np.isnan(clip([a32(0.0)], 1e-38, "keras")[0][0][0])
    g = a32(3.92e-41, -3.92e-41, 0.5)
    for convention in ("tensorflow", "optax"):
        out = clipping.clip_grad_value([g], 1.0, convention=convention)[0]
        assert same(out, a32(0, -0.0, 0.5)) and list(np.signbit(out)) == [False, True, False]
    assert same(clipping.clip_grad_value([g], 1.0)[0], g)  # torch keeps them


def test_optax_divides_by_multiplying_with_the_reciprocal():
    # XLA computes t / n as t·(1/n) for a leaf of more than one entry: [1, 6]/√37 rounds differently.
    (out,), norm = clip([a32(1, 6)], 1.0, "optax")
    assert norm == f32(6.0827627) and same(out, a32("0.16439898", "0.9863939"))
    assert not same(out, (a32(1, 6) / norm) * f32(1))  # the quotient itself gives 0.98639387
    (first, second), _ = clip([a32(1), a32(6)], 1.0, "optax")  # one-entry leaves keep the division
    assert same(second, a32(6) / f32(6.0827627))


def test_tensorflow_adds_float16_in_float16():
    g = [np.full(1000, 0.1, f16)]
    for convention in ("tensorflow", "keras", "keras_global"):
        (out,), norm = clip(g, 1.0, convention)
        assert (norm[0] if convention == "keras" else norm) == f16(3.162) and np.all(out == f16(0.03162))
    assert clip(g, 1.0, "optax")[1] == f16(3.16)  # jnp.sum accumulates float16 in float32


def test_optax_small_cases():
    out, norm = clip([None], 1.0, "optax")
    assert out == [None] and norm.dtype == f64  # x64: the norm of no leaves is float64
    out = clipping.clip_grad_value([a32(5, -5, 0.5)], -0.0, convention="optax")[0]
    assert np.all(out == 0) and np.all(np.signbit(out))  # minimum(−0.0, ·) keeps −0.0
    assert clipping.clip_grad_value([None], 1.0, convention="optax") == [None]  # accepted, unlike torch


# Value clipping of one float32 array, as the libraries returned it on the CPU (tensorflow-cpu 2.21,
# Keras 3.15.1, optax 0.2.8 on jax 0.10.2, torch 2.13): values and the sign of every zero.
# TensorFlow at c = ±0 depends on its constant cache (observed row 24) and is left out.
EDGES = a32(-3.0, -1.0, -0.0, 0.0, 0.5, 1.0, 2.5, NAN, math.inf, -math.inf)
Z = -0.0
OBSERVED_VALUE_CLIPPING = [
    (1.0, ("torch", "tensorflow", "keras", "optax"), [-1, -1, Z, 0, 0.5, 1, 1, NAN, 1, -1]),
    (0.0, ("torch", "optax"), [Z, Z, Z, 0, 0, 0, 0, NAN, 0, Z]),
    (0.0, ("keras",), EDGES.tolist()),  # the optimizer ignores clipvalue ≤ 0
    (-0.0, ("torch",), [0, 0, Z, 0, Z, Z, Z, NAN, Z, 0]),  # clamp_min(0.0), then clamp_max(−0.0)
    (-0.0, ("optax",), [Z] * 7 + [NAN] + [Z] * 2),  # jnp.clip: minimum(max(g, 0.0), −0.0)
    (-1.0, ("tensorflow",), [1] * 7 + [NAN] + [1] * 2),  # minimum(g, −1) then maximum(·, 1)
    (-1.0, ("keras",), EDGES.tolist()),
    (-1.0, ("torch", "optax"), [-1] * 7 + [NAN] + [-1] * 2),
]


def test_value_clipping_as_the_libraries_returned_it():
    for c, conventions, expected in OBSERVED_VALUE_CLIPPING:
        expected = a32(*expected)
        for convention in conventions:
            out = clipping.clip_grad_value([EDGES], c, convention=convention)[0]
            assert out.dtype == f32 and np.array_equal(out, expected, equal_nan=True), (c, convention)
            finite = ~np.isnan(expected)
            assert np.array_equal(np.signbit(out[finite]), np.signbit(expected[finite])), (c, convention)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_clip_grads_with_norm_is_the_second_half_of_clip_grad_norm(convention):
    grads = [a32(3, 4), None, np.array([[12.0, -1.5]], f32)]
    for c in (1.0, 13.1, -2.0, math.inf):
        clipped, norm = clip(grads, c, convention)
        again = clipping.clip_grads_with_norm(grads, c, norm, convention=convention)
        assert all((a is None and b is None) or same(a, b) for a, b in zip(clipped, again))
    other = a32(2.0, 26.0) if convention == "keras" else a32(26.0)
    halved = clipping.clip_grads_with_norm(grads, 13.0, other, convention=convention)
    if convention not in ("keras", "keras_global", "tensorflow"):  # these scale by c·min(1/n, 1/c): ½ here
        return
    assert same(halved[0], a32(3, 4) if convention == "keras" else a32(1.5, 2))


def test_clip_grads_with_norm_refuses_a_norm_without_its_dtype():
    grads = [a32(3, 4)]
    with pytest.raises(TypeError, match="total_norm must be a 1-D NumPy array of float16, float32 or float64 "
                                        "holding one norm, as clip_grad_norm returns it; got float 5.0"):
        clipping.clip_grads_with_norm(grads, 1.0, 5.0)
    with pytest.raises(TypeError, match=r"got an array of float32 and shape \(\)"):
        clipping.clip_grads_with_norm(grads, 1.0, np.array(5.0, f32))
    with pytest.raises(TypeError, match=r"got an array of int64 and shape \(1,\)"):
        clipping.clip_grads_with_norm(grads, 1.0, np.array([5]))
    with pytest.raises(TypeError, match=r"holding one norm per array of grads \(1\), as convention 'keras' "
                                        r"measures each alone, as clip_grad_norm returns it; got an array of "
                                        r"float32 and shape \(2,\)"):
        clipping.clip_grads_with_norm([None, a32(1)], 1.0, a32(1, 1), convention="keras")


# --- the library's promises ----------------------------------------------------------------------

@pytest.mark.parametrize("convention", CONVENTIONS)
def test_inputs_are_never_written_and_dtypes_are_kept(convention):
    grads = [np.linspace(-3, 3, 7).astype(d) for d in (f16, f32, f64)]
    if convention in ("tensorflow", "keras_global"):
        grads = [g.astype(f32) for g in grads]
    grads = [g for g in grads if g.dtype.name in clipping.CONVENTIONS[convention].dtypes]
    copies = [g.copy() for g in grads]
    for g in grads:
        g.flags.writeable = False  # a write would raise
    for c in (0.5, 1e3):
        out, _ = clip(grads, c, convention)
        assert [o.dtype for o in out] == [g.dtype for g in grads]
        assert all(o is not g and not np.shares_memory(o, g) for o, g in zip(out, grads))
    assert all(same(g, c) for g, c in zip(grads, copies))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_zero_size_arrays_change_nothing(convention):
    # pytorch#140066: foreach kernels went wrong with size-0 tensors in the list.
    g = [a32(3, 4), a32(12)]
    with_empty = [g[0], np.zeros((0, 3), f32), g[1], np.zeros(0, f32)]
    out, norm = clip(g, 1.0, convention)
    out_empty, norm_empty = clip(with_empty, 1.0, convention)
    assert same(out_empty[0], out[0]) and same(out_empty[2], out[1]) and out_empty[1].shape == (0, 3)


def test_safe_norm_is_the_plain_norm_wherever_that_stays_in_range():
    rng = np.random.default_rng(0)
    for _ in range(50):
        grads = [rng.standard_normal(rng.integers(1, 20)).astype(rng.choice([f16, f32, f64]))
                 for _ in range(3)]
        for p in (2.0, 1.0, 3.0, -1.0, math.inf):
            assert clipping.total_norm(grads, p, safe_norm=True) == clipping.total_norm(grads, p)
    tiny = [np.full(4, 1e-30, f32)]  # the squares underflow float32: the plain norm is 0
    assert clipping.total_norm(tiny) == 0.0
    assert clipping.total_norm(tiny, safe_norm=True) == f32(2e-30)
    huge = [np.full(3, 1e300), np.full(2, 1e300)]
    assert clipping.total_norm(huge) == math.inf
    assert clipping.total_norm(huge, safe_norm=True) == pytest.approx(math.sqrt(5) * 1e300, rel=1e-15)


def test_safe_norm_where_the_squares_only_partly_underflow():
    # (1e-20)² is subnormal in float32, so the plain sum keeps only a few digits of each square;
    # the scaled norm is exact: √(4·x²) = 2x, and 2x is a float32.
    g = [np.full(4, 1e-20, f32)]
    assert clipping.total_norm(g) != f32(2) * f32(1e-20)
    assert same(clipping.total_norm(g, safe_norm=True), f32(2) * f32(1e-20))


def test_the_scaled_norm_worked_by_hand():
    # Not parametrized (mutation runs). No entry: 0. The p-norm of (1, 2, 2): 3 for p = 2, 17^(1/3) for
    # p = 3, 5 for p = 1, (1 + 1/4 + 1/4)^(−1/2) for p = −2. Entries 10^±300 apart: scaled by the largest
    # (by the smallest for p < 0) nothing overflows, so the 2-norm and the 1-norm are 10^300 (+ 10^−300,
    # lost) and the (−2)-norm is 10^−300.
    assert clipping.scaled_norm([], 2.0) == 0.0 and clipping.scaled_norm([np.zeros(0, f32)], -1.0) == 0.0
    g = [a32(1, -2), np.array([2.0])]
    for p, expected in ((2.0, 3.0), (3.0, 17 ** (1 / 3)), (1.0, 5.0), (-2.0, 1.5 ** -0.5)):
        assert clipping.scaled_norm(g, p) == pytest.approx(expected, rel=1e-15, abs=0), p
    wide = [np.array([1e300, -1e-300])]
    for p, expected in ((2.0, 1e300), (1.0, 1e300), (0.5, 1e300), (-2.0, 1e-300)):
        assert clipping.scaled_norm(wide, p) == pytest.approx(expected, rel=1e-15, abs=0), p


def test_safe_norm_for_other_p_out_of_range():
    # (A loop, not parametrised: mutation runs select tests by plain ids.)
    for p, values, exact in [
        (3.0, (1e30, 1e30), lambda x: x * mpmath.cbrt(2)),        # x³ overflows float32
        (-2.0, (1e-30, 1e-30), lambda x: x / mpmath.sqrt(2)),     # x⁻² overflows float32: the plain norm is 0
        (0.5, (1e-30, 1e-30), lambda x: 4 * x),                   # (2·√x)² = 4x
    ]:
        g = [a32(*values)]
        x = mpmath.mpf(float(g[0][0]))
        expected = f32(float(exact(x)))
        got = clipping.total_norm(g, p, safe_norm=True)
        assert got.dtype == f32 and np.isfinite(got)
        assert abs(float(got) - float(expected)) <= float(np.spacing(expected))  # a rounding in float64, one to float32


def test_string_norm_types_as_torch_documents_them():
    g = [a32(3, -4), a32(0.5)]
    assert clipping.total_norm(g, "inf") == clipping.total_norm(g, "+inf") == clipping.total_norm(g, math.inf) == 4
    assert clipping.total_norm(g, " -INF ") == clipping.total_norm(g, -math.inf) == 0.5


def test_large_arrays_take_the_parallel_path_with_the_same_result(monkeypatch):
    g = [np.full(clipping.PARALLEL_ELEMENTS // 2, 0.75, f32), None,
         np.linspace(-3, 3, clipping.PARALLEL_ELEMENTS // 2 + 7).astype(f32), a32(1e3)]
    for convention in ("torch", "keras", "optax"):
        parallel = clip(g, 5.0, convention)
        monkeypatch.setattr(clipping, "PARALLEL_ELEMENTS", math.inf)
        serial = clip(g, 5.0, convention)
        monkeypatch.undo()
        assert all((a is None and b is None) or same(a, b) for a, b in zip(parallel[0], serial[0]))
        assert np.array_equal(parallel[1], serial[1])


def test_safe_norm_in_every_convention_where_the_squares_overflow_or_underflow():
    # Entries of 2·10¹⁹ and more: every square overflows float32, so each convention's plain norm is ∞;
    # entries of 2·10⁻²⁵ and less: every square underflows (or is flushed), so it is 0. safe_norm=True
    # falls back on the scaled norm, the true one rounded to float32 (against mpmath, within that
    # rounding). Keras clips each array by its own norm. Not parametrized (mutation runs).
    def exact(arrays):
        return mpmath.sqrt(sum(mpmath.mpf(float(v)) ** 2 for a in arrays for v in a))

    for g, plain_norm in (([a32(3e19, -4e19), a32(2e19)], math.inf), ([a32(3e-25, -4e-25), a32(2e-25)], 0.0)):
        for convention in clipping.CONVENTIONS:
            plain = clipping.clip_grad_norm(g, 1.0, convention=convention)[1]
            safe = clipping.clip_grad_norm(g, 1.0, convention=convention, safe_norm=True)[1]
            expected = [exact([a]) for a in g] if convention == "keras" else [exact(g)]
            assert all(n == plain_norm for n in plain), (convention, plain_norm)
            for n, e in zip(safe, expected, strict=True):
                assert n.dtype == f32 and abs(float(n) - float(e)) <= float(np.spacing(f32(float(e)))), convention


def test_the_flush_keeps_the_smallest_normal_number():
    # TensorFlow's and XLA's CPU kernels flush subnormals to zero (FTZ/DAZ): the smallest normal float32,
    # 2⁻¹²⁶, is not one and stays; half of it becomes a zero of its sign.
    tiny = f32(2.0 ** -126)
    g = [np.array([tiny, -tiny, tiny / 2, -tiny / 2], f32)]
    for convention in ("tensorflow", "optax"):
        got = clipping.clip_grad_value(g, 1.0, convention=convention)[0]
        assert same(got, np.array([tiny, -tiny, 0.0, -0.0], f32)), convention
        assert np.signbit(got).tolist() == [False, True, False, True], convention


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork exists on POSIX systems only")
def test_the_parallel_path_works_in_a_forked_child():
    # A forked child inherits the parent's worker pool but not its threads: it must make its own, or
    # its first large input waits forever (multiprocessing's fork start method, pytest-forked, mutmut).
    g = [np.full(clipping.PARALLEL_ELEMENTS, 0.75, f32)]
    expected = clip(g, 5.0, "torch")[0][0]  # the parent's pool exists from here on
    pid = os.fork()
    if pid == 0:  # the child: report by exit status alone
        code = 1
        try:
            code = 0 if same(clip(g, 5.0, "torch")[0][0], expected) else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child still waits after 20 s on its parent's worker threads")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0


def test_mixed_dtypes_scale_as_torch_does_with_our_norm():
    """torch's norm of float32 and float64 arrays may differ from ours by the order of its sums; given
    our norm, torch's own second half (clip_grads_with_norm_) must clip bit for bit as we do."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for _ in range(20):
        grads = [rng.standard_normal(rng.integers(1, 40)).astype(dtype) * 10.0 ** rng.integers(-3, 4)
                 for dtype in (f32, f64, f16)]
        c = float(rng.uniform(0.01, 2.0))
        ours, (norm,) = clipping.clip_grad_norm(grads, c)
        assert norm.dtype == f64
        after = parameters(torch, grads, "cpu")
        torch.nn.utils.clip_grads_with_norm_(after, c, torch.tensor(norm))
        assert all(same(o, t) for o, t in zip(ours, gradients(after)))


def test_torch_arithmetic_follows_the_dtypes():
    # float32 and float64 promote; a float16 array is multiplied in float32 by the float32 coefficient.
    grads = [np.array([1.0, 3.0], f16), a32(2)]
    out, norm = clipping.clip_grad_norm(grads, 0.1)
    assert norm.dtype == f32
    coefficient = min(f32(1) / (norm + f32(1e-6)) * f32(0.1), f32(1))  # torch: reciprocal, then times c
    assert same(out[0], (grads[0].astype(f32) * coefficient).astype(f16))
    assert same(out[1], grads[1] * coefficient)


def test_norm_tolerance():
    g = [a32(1, 2), np.ones(10, f16)]
    assert clipping.norm_tolerance(g, math.inf) == clipping.norm_tolerance(g, 0) == 0.0
    assert 0 < clipping.norm_tolerance(g) < clipping.norm_tolerance(g, 0.5) < 0.05
    assert clipping.norm_tolerance(g, convention="optax") > clipping.norm_tolerance(g)  # float16 squares
    # The docstring's bound, term by term (u = 2^-p, σ the smallest subnormal): twice
    # [(N + 1)u + u + u] for the array's sum plus [(k + 1)u + u + u] for the sum of its k = 1 norm,
    # plus (N + k + 2)·σ/(p·S) for what underflows.
    u16, u32, sigma16 = 2.0 ** -11, 2.0 ** -24, 2.0 ** -24
    assert clipping.norm_tolerance([np.ones(3, f32)]) == pytest.approx(20 * u32, rel=1e-9, abs=0)
    # float16 in TensorFlow's convention: squares summed in float16, the norms' sum in float32.
    expected = 2 * ((10 + 1) * u16 + u16 + u16 + (2 * u32 + u32 + u16) + 13 * sigma16 / (2 * 10))
    assert clipping.norm_tolerance([np.ones(10, f16)], convention="tensorflow") == pytest.approx(expected, rel=1e-9,
                                                                                                  abs=0)


def test_norm_tolerance_covers_a_norm_that_is_subnormal_in_its_dtype():
    # 18 float16 ones at p = -1/4: the norm is 18^-4 exactly (about 9.526e-6), below float16's smallest
    # normal 2^-14, where the spacing is σ = 2^-24. torch rounds it to 160·σ, 0.11 % away: more than the
    # unit roundoffs allow, less than σ/2 of the norm (0.31 %) on top.
    import torch

    g = [np.ones((2, 3, 3), f16)]
    true = float(mpmath.mpf(18) ** -4)
    computed = float(torch.linalg.vector_norm(torch.ones(2, 3, 3, dtype=torch.float16), -0.25))
    assert computed == 160 * 2.0 ** -24
    tolerance = clipping.norm_tolerance(g, -0.25, convention="torch")
    assert abs(computed - true) <= tolerance / 2 * true
    # The term itself: σ/(2n) for the array's norm and again for the norm of the norms, twice.
    sigma_share = 2.0 ** -24 / (2 * true)
    assert tolerance > 4 * sigma_share
    assert abs(computed - true) > (tolerance - 4 * sigma_share) / 2 * true


def test_norm_tolerance_for_other_orders_and_tiny_sums():
    # The docstring's bound written out for each case (u = 2^-24 and σ = 2^-149 for float32, 2^-53
    # and 2^-1074 for float64): twice [one sum per array + one sum of the norms + σ's share].
    u32, sigma32, u64 = 2.0 ** -24, 2.0 ** -149, 2.0 ** -53
    # p = 1: no rounded exponent. S = 3 over N = 2 entries and k = 1 norm: (2 + 1 + 2)·σ/(1·3).
    assert clipping.norm_tolerance([a32(1, -2)], 1) == pytest.approx(2 * (5 * u32 + 4 * u32 + 5 * sigma32 / 3),
                                                                       rel=1e-9, abs=0)
    # p = 3 with a zero, 2^-20 and 1: the rounded p and 1/p add u·|ln x| for the largest |ln| of the
    # non-zero entries and of the norm, |ln 2^-20| here, to each sum, twice.
    lnx, s = 20 * math.log(2), 1 + 2.0 ** -60
    expected = 2 * (6 * u32 + 4 * u32 + 2 * lnx * u32 * 2 + 6 * sigma32 / (3 * s))
    assert clipping.norm_tolerance([a32(0, 2.0 ** -20, 1)], 3) == pytest.approx(expected, rel=1e-6, abs=0)
    # p = 1/2 doubles every sum's share (÷ min(p, 1)); entries 1 and 4, the norm (1 + 2)² = 9.
    expected = 2 * ((3 * u64 / 0.5 + 2 * u64) + (2 * u64 / 0.5 + 2 * u64) + 2 * 2 * math.log(9) * u64 / 0.5)
    assert clipping.norm_tolerance([np.array([1.0, 4.0])], 0.5) == pytest.approx(expected, rel=1e-9, abs=0)
    # A sum of squares all below the smallest normal: what underflows may be all of it, so σ's share
    # is capped at 1 (a norm with no correct digit), the norm's ±100 %.
    # The norm, subnormal too, adds σ/(2n) to each of the two sums.
    n = float(a32(1e-40)[0])
    assert clipping.norm_tolerance([a32(1e-40)]) == pytest.approx(
        2 * (4 * u32 + 4 * u32 + 1 + 2 * sigma32 / (2 * n)), rel=1e-9, abs=0)
    # torch squares float16 in float32: both sums in float32, each result rounded to float16 (2^-11).
    u16 = 2.0 ** -11
    expected = 2 * ((11 * u32 + u32 + u16) + (2 * u32 + u32 + u16) + 13 * sigma32 / (2 * 10))
    assert clipping.norm_tolerance([np.ones(10, f16)]) == pytest.approx(expected, rel=1e-9, abs=0)


def test_the_conventions_refusals_say_what_the_library_does_word_for_word():
    # Each refusal names the argument, what is wrong with it and what the library does there; written out
    # in full, so that no part of a message can change unnoticed.
    f16_pair, f64_pair = np.ones(2, f16), np.ones(2, f64)
    refusals = [
        (lambda: clipping.clip_grad_norm([None], 1.0, convention="d2l"), ValueError,
         "grads holds no gradient; d2l's grad_clipping raises here (torch.sqrt of the integer 0)"),
        (lambda: clipping.clip_grad_norm([a32(1, 2), f64_pair], 1.0, convention="keras_global"), TypeError,
         "grads mixes dtypes (float32, float64); Keras's global_clipnorm multiplies each array by the global "
         "scale, and TensorFlow raises on a product of two dtypes"),
        (lambda: clipping.clip_grad_norm([None], 1.0, convention="keras"), ValueError,
         "grads holds no gradient; Keras's optimizer raises here ('No gradients provided for any variable')"),
        (lambda: clipping.clip_grad_norm([a32(1, 2), None, f16_pair], 1.0, convention="tensorflow"), TypeError,
         "grads mixes dtypes (grads[0]: float32, grads[2]: float16); convention 'tensorflow' needs one dtype for "
         "all arrays, because TensorFlow's global norm stacks the per-array sums and tf.stack raises on mixed "
         "dtypes"),
        (lambda: clipping.clip_grad_norm([a32(1, 2), np.ones(0, f32)], 1.0, math.inf), ValueError,
         "grads[1] is empty (a zero-size array), and the inf-norm of an empty array has no value: torch raises here"),
        (lambda: clipping.total_norm(np.ones(0, f32), -1.0), ValueError,
         "grads is empty (a zero-size array), and the -1-norm of an empty array has no value: torch raises here"),
        (lambda: clipping.clip_grad_value([None], 1.0), ValueError,
         "grads holds no gradient; torch's clip_grad_value_ raises here too"),
        (lambda: clipping.clip_grad_value([f16_pair], 70000.0), ValueError,
         "clip_value=70000.0 does not fit grads[0]'s float16 (largest 65504): torch raises here ('value cannot "
         "be converted to type ... without overflow')"),
        (lambda: clipping.clip_grads_with_norm([a32(1, 2)], 1.0, "x"), TypeError,
         "total_norm must be a 1-D NumPy array of float16, float32 or float64 holding one norm, as clip_grad_norm "
         "returns it; got str 'x'"),
        (lambda: clipping.clip_grad_norm([a32(1, 2)], "1"), TypeError, "max_norm must be a real number, got str '1'"),
        (lambda: clipping.clip_grad_norm([a32(1, 2)], 1.0, convention="jax"), ValueError,
         "unknown convention 'jax'; expected one of ['torch', 'tensorflow', 'keras', 'keras_global', 'optax', "
         "'pascanu', 'd2l', 'fairseq']"),
        (lambda: clipping.clip_grad_norm([a32(1, 2), f64_pair], 1.0, convention="fairseq"), ValueError,
         "grads[1] is float64, which fairseq's clip_grad_norm_ cannot clip: torch.norm(g, p=2, dtype=torch.float32) "
         "refuses to narrow float64 (torch raises)"),
        (lambda: clipping.clip_grad_norm([a32(1, 2)], 1.0, "fro"), TypeError,
         "norm_type must be a number (or 'inf'), got the string 'fro': torch's clip_grad_norm_ computes p-norms "
         "only, so 'fro' and 'nuc' have no meaning here"),
        (lambda: clipping.clip_grad_norm([a32(np.inf, 1)], 1.0, error_if_nonfinite=True), RuntimeError,
         "the total norm of order 2 of grads is non-finite (inf), so it cannot be clipped; nothing was modified. "
         "Pass error_if_nonfinite=False to scale by the non-finite norm anyway (as the convention does)"),
        (lambda: clipping.clip_grads_with_norm([a32(1, 2), None], 1.0, ["x", None], convention="keras"), TypeError,
         "total_norm must be a 1-D NumPy array of float16, float32 or float64 holding one norm per array of grads "
         "(1), as convention 'keras' measures each alone, as clip_grad_norm returns it; got list ['x', None]"),
    ]
    for call, error, message in refusals:
        with pytest.raises(error) as raised:
            call()
        assert str(raised.value) == message
    # The largest number of the dtype fits: torch accepts it.
    assert same(clipping.clip_grad_value([np.array([np.inf, -1.0], f16)], 65504.0)[0], np.array([65504, -1.0], f16))
    with pytest.warns(UserWarning) as warned:
        clipping.clip_grad_norm((g for g in []), 1.0)  # this line is where the warning points
    assert [str(w.message) for w in warned] == [
        "grads is an empty generator, no gradient clipping will occur (torch warns here too)"]
    if "MUTANT_UNDER_TEST" not in os.environ:  # mutmut's trampolines add frames between the functions
        assert warned[0].filename == __file__


def test_the_model_gives_what_the_libraries_gave_on_the_recorded_cases():
    # tests/recording.py: Eigen's split into halves, sums whose last bits depend on the order, squares that
    # overflow, flushed subnormals, ∞, NaN and ±0, each convention under np.errstate(all="raise"). One test
    # for every case, not parametrized, so that mutation runs can select it by name.
    results, mismatches = recording.recording()["results"], []
    assert set(results) == {recording.key(name, kind, convention) for name, kind, convention, _, c in recording.runs()
                            if recording.is_recorded(kind, convention, c)}
    for name, kind, convention, spec, c in recording.runs():
        if not recording.is_recorded(kind, convention, c):
            continue
        expected = results[recording.key(name, kind, convention)]
        grads = recording.build(spec)
        originals = [None if g is None else g.copy() for g in grads]
        ours = recording.model(kind, convention, grads, c, expected)
        if ours != expected:
            mismatches.append(f"{recording.key(name, kind, convention)}: the model {ours}, recorded {expected}")
        assert all(recording.fingerprint(g) == recording.fingerprint(o) for g, o in zip(grads, originals)), name
    assert not mismatches, "\n".join(mismatches)


# Cases whose every step raises a floating-point exception somewhere (recording.build's specs): sums of
# finite squares that overflow within an array and across arrays, ∞ times a zero coefficient, a threshold
# over a norm of 0, coefficients that overflow and underflow.
EXTREMES = {
    "float32, one array whose squares overflow when summed": ([((5,), "float32", 41, 63, 63)], 1.0, 1e19),
    "float32, two arrays whose sums overflow when added": ([((2,), "float32", 42, 0, 0, {0: 1.35e19}),
                                                            ((2,), "float32", 43, 0, 0, {0: 1.35e19})], 1.0, 1e19),
    "float16, two arrays whose sums overflow when added": ([((2,), "float16", 44, 0, 0, {0: 190.0}),
                                                            ((2,), "float16", 45, 0, 0, {0: 190.0})], 1.0, 100.0),
    "float32, ∞ and a threshold of 0": ([((6,), "float32", 46, -2, 2, {2: math.inf})], 0.0, 0.0),
    "float64, zeros and a threshold of 1": ([((5,), "float64", 47, 0, 0, {i: 0.0 for i in range(5)})], 1.0, 1.0),
    "float32, a huge threshold over a tiny norm": ([((6,), "float32", 48, -120, -110)], 3e38, 3e38),
    "float32, a tiny threshold under a huge norm": ([((6,), "float32", 49, 100, 110)], 1e-38, 1e-38),
    "float16, a tiny threshold under a large norm": ([((6,), "float16", 50, 10, 14)], 1e-7, 1e-7),
    "float64, a huge threshold over a tiny norm": ([((6,), "float64", 51, -1000, -990)], 1e308, 1e308),
    "float32, ∞ and an infinite threshold": ([((6,), "float32", 52, -2, 2, {1: math.inf})], math.inf, math.inf),
    "float16 and float32, a large negative threshold": ([((4,), "float16", 53, 0, 2), ((4,), "float32", 54, 0, 2)],
                                                        -1e6, 1.0),
    "float32 and float64, a huge negative threshold": ([((4,), "float32", 55, 0, 2), ((4,), "float64", 56, 0, 2)],
                                                       -1e300, 1.0),
    "float64, entries from 10⁻³⁰⁰ to 10³⁰⁰": ([((8,), "float64", 57, -1000, 1000)], 1.0, 1.0),
    "float32, one packet of squares that overflow when its lanes are added":
        ([((8,), "float32", 58, 0, 0, {i: 1.8e19 for i in range(8)})], 1.0, 1.0),
    "float64, one packet of squares that overflow when its lanes are added":
        ([((4,), "float64", 59, 0, 0, {i: 1.3e154 for i in range(4)})], 1.0, 1.0),
    "float64, zeros and a threshold of −1": ([((5,), "float64", 60, 0, 0, {i: 0.0 for i in range(5)})], -1.0, 1.0),
    "float64, tiny entries and a huge negative threshold": ([((4,), "float64", 61, -500, -490)], -1e300, 1.0),
    "float32, ∞ and a threshold of −∞": ([((6,), "float32", 62, -2, 2, {3: math.inf})], -math.inf, 1.0),
    "float16, a threshold past the largest float16": ([((4,), "float16", 63, -2, 2)], 1e6, 1e6),
}


def test_every_convention_gives_the_same_under_any_numpy_error_state():
    # The recorded cases (squares that overflow, subnormals, ∞, NaN, ±0, thresholds of 0) and the extremes
    # above through every convention, by norm and by value: under an error state that raises on every
    # floating-point exception the result must be the one NumPy's quiet state gives (Pascanu's and d2l's
    # too, which no library records). Not parametrized, so that mutation runs can select it by name.
    for name, (spec, norm_c, value_c) in {**recording.CASES, **EXTREMES}.items():
        grads = recording.build(spec)  # the model leaves them as they are (tested above)
        calls = {f"{name}, by norm, {convention}": partial(recording.outcome, partial(
            clipping.clip_grad_norm, grads, norm_c, convention=convention), norm_of=lambda result: list(result[1]))
            for convention in clipping.CONVENTIONS}
        calls.update({f"{name}, by value, {convention}": partial(recording.values, partial(
            clipping.clip_grad_value, grads, value_c, convention=convention))
            for convention in clipping.VALUE_CONVENTIONS})
        calls.update({f"{name}, total_norm p={p}, safe_norm={safe_norm}": partial(
            recording.outcome, partial(clipping.total_norm, grads, p, safe_norm=safe_norm),
            clipped_of=lambda result: [], norm_of=lambda result: result)
            for p in (1.0, 2.0, 3.0, 0.5, -2.0, math.inf) for safe_norm in (False, True)})
        assert_same_under_a_raising_error_state(calls, invalid="raise")


# --- bad input: a clear error naming the argument, before any work, nothing modified ---------------

BAD = [
    (dict(max_norm=NAN), ValueError, "max_norm must not be NaN"),
    (dict(max_norm="1"), TypeError, "max_norm must be a real number"),
    (dict(norm_type="fro"), TypeError, "norm_type must be a number"),
    (dict(norm_type=NAN), ValueError, "norm_type must not be NaN"),
    (dict(norm_type=True), TypeError, "norm_type must be a real number"),
    (dict(convention="jax"), ValueError, "unknown convention 'jax'"),
    (dict(grads=[np.array([1, 2])]), TypeError, r"grads\[0\] must have dtype float16, float32 or float64"),
    (dict(grads=[a32(1), [1.0, 2.0]]), TypeError, r"grads\[1\] must be a NumPy array"),
    (dict(grads=np.array([1 + 2j])), TypeError, "grads must have dtype"),
    (dict(grads=3.0), TypeError, "grads must be an array or a list of arrays"),
]


@pytest.mark.parametrize("change, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_arguments_are_refused_before_any_work(change, error, message):
    grads = [a32(3, 4), np.array([1e30, NAN])]
    copies = [g.copy() for g in grads]
    arguments = dict(grads=grads, max_norm=1.0, norm_type=2.0, convention="torch", **{})
    arguments.update(change)
    with pytest.raises(error, match=message):
        clipping.clip_grad_norm(arguments.pop("grads"), arguments.pop("max_norm"), **arguments)
    assert all(same(g, c) for g, c in zip(grads, copies))


def test_bad_clip_value_and_bad_total_norm_arguments():
    for value, error in ((NAN, ValueError), ("1", TypeError), (None, TypeError)):
        with pytest.raises(error, match="^clip_value must"):
            clipping.clip_grad_value([a32(1)], value)
    with pytest.raises(ValueError, match=r"^unknown convention 'd2l'; expected one of \['torch', 'tensorflow', "
                                         r"'keras', 'optax'\]$"):
        clipping.clip_grad_value([a32(1)], 1.0, convention="d2l")
    with pytest.raises(TypeError, match="norm_type"):
        clipping.total_norm([a32(1)], "nuc")
    with pytest.raises(TypeError, match="^max_norm must be a real number"):
        clipping.clip_grads_with_norm([a32(3, 4)], "1", a32(5))


def test_subnormal_rounding_is_half_the_smallest_subnormal_relative_to_the_value_at_most_1():
    # float16: σ = 2^-24, the smallest normal 2^-14. 2^-20 is subnormal: σ/(2·2^-20) = 2^-5.
    assert clipping.subnormal_rounding(2.0 ** -20, f16) == 2.0 ** -5
    assert clipping.subnormal_rounding(2.0 ** -14, f16) == 0.0  # the smallest normal number: u bounds it
    assert clipping.subnormal_rounding(2.0 ** -26, f16) == 1.0  # below σ/2 it rounds to 0: all of it
    assert clipping.subnormal_rounding(float(np.finfo(f32).tiny), f32) == 0.0
    assert clipping.subnormal_rounding(0.0, f32) == 0.0  # an exact zero


def test_clip_grads_with_norm_takes_a_bare_array():
    g = a32(3, 4)
    bare = clipping.clip_grads_with_norm(g, 1.0, a32(5))
    assert isinstance(bare, np.ndarray) and same(bare, clipping.clip_grads_with_norm([g], 1.0, a32(5))[0])
    keras = clipping.clip_grads_with_norm(g, 1.0, a32(5), convention="keras")
    assert same(keras, (g * f32(1)) / f32(5))  # Keras: (g·c)/max(n, c), the bare array's one norm


# --- agreement with torch's own functions, on every device -----------------------------------------
# (the properties over drawn gradients are in tests/test_clipping_live.py)

def _agree(ours, norm, after, their_norm, grads, p, device, convention="torch", c=None):
    """Same norm dtype; on the CPU bit for bit (judged with torch's norm where it sums in another
    order); on CUDA the norms within the summation-order tolerance and the clipped gradients within it
    and three roundings."""
    if device == "cpu":
        assert_norm_and_clip(grads, c, convention, (ours, norm), (gradients(after), their_norm.numpy()[()]), p,
                             exact=False)  # torch sums in vectorised lanes
        return
    their_norm, (norm,) = their_norm.cpu().numpy()[()], norm
    assert norm.dtype == their_norm.dtype
    tolerance = clipping.norm_tolerance(grads, p, convention=convention)
    if np.isnan(norm) or np.isinf(norm) or np.isnan(their_norm) or np.isinf(their_norm):
        assert same(np.asarray(norm), np.asarray(their_norm))
    else:
        assert abs(float(norm) - float(their_norm)) <= tolerance * abs(float(norm))
    for o, t, g in zip(ours, gradients(after), grads):
        eps = float(np.finfo(g.dtype).eps)
        np.testing.assert_allclose(o.astype(f64), t.astype(f64), rtol=tolerance + 3 * eps,
                                   atol=2 * float(np.finfo(g.dtype).tiny))


# The device fixture is a name: nothing in it is reset between examples.
DEVICE_FIXTURE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _d2l_grad_clipping(torch, params, theta):
    """Dive into Deep Learning's grad_clipping (§9.5), written out in its style: the norm of every
    gradient, then an in-place rescale when it exceeds theta. Returns the norm, for the comparison."""
    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm
    return norm


@DEVICE_FIXTURE
@given(data=st.data())
def test_d2l_convention_equals_d2l_written_in_torch(data, device):
    torch = pytest.importorskip("torch")
    # d2l's function reads every parameter's .grad (no None) and slices it (no 0-dim arrays).
    grads = data.draw(gps.gradient_lists(min_dims=1, allow_nonfinite=True, allow_empty=True), label="grads")
    c = data.draw(gps.thresholds(allow_zero=True, allow_negative=True, allow_infinity=True), label="max_norm")
    ours, norm = clipping.clip_grad_norm(grads, c, convention="d2l")
    after = parameters(torch, grads, device)
    their_norm = _d2l_grad_clipping(torch, after, c)
    _agree(ours, norm, after, their_norm, grads, 2.0, device, convention="d2l", c=c)


@pytest.mark.parametrize("dtype", [f16, f32, f64])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, 0.0, -2.0, math.inf, -math.inf])
def test_every_dtype_and_norm_type_matches_torch(dtype, p, device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = [np.asarray(rng.standard_normal(shape) * scale).astype(dtype)
             for shape, scale in (((3, 4), 1.0), ((5,), 30.0), ((), 0.01), ((2, 2, 2), 3.0))]
    for c in (0.01, 1.0, 1e3):
        ours, norm = clipping.clip_grad_norm(grads, c, p)
        for foreach in (True, False):
            after = parameters(torch, grads, device)
            their_norm = torch.nn.utils.clip_grad_norm_(after, c, norm_type=p, foreach=foreach)
            _agree(ours, norm, after, their_norm, grads, p, device, c=c)


@pytest.mark.parametrize("bad", ["inf", "nan", "overflow"])
def test_error_if_nonfinite_raises_and_leaves_the_gradients(bad, device):
    torch = pytest.importorskip("torch")
    value = {"inf": [math.inf, 1.0], "nan": [NAN, 1.0], "overflow": [3e20, 4e20]}[bad]
    grads = [a32(*value), a32(0.5)]
    copies = [g.copy() for g in grads]
    for foreach in (True, False):
        after = parameters(torch, grads, device)
        with pytest.raises(RuntimeError, match="non-finite"):
            torch.nn.utils.clip_grad_norm_(after, 1.0, error_if_nonfinite=True, foreach=foreach)
        assert all(same(t, g) for t, g in zip(gradients(after), grads))
    with pytest.raises(RuntimeError, match="non-finite"):
        clipping.clip_grad_norm(grads, 1.0, error_if_nonfinite=True)
    assert all(same(g, c) for g, c in zip(grads, copies))


def test_torch_quirks_reproduced_here_too(device):
    torch = pytest.importorskip("torch")
    # float16 zero gradients at c = 0: 1/(0 + 1e-6) overflows float16, so ∞·0 = NaN.
    after = parameters(torch, [np.zeros(2, f16)], device)
    torch.nn.utils.clip_grad_norm_(after, 0.0)
    assert np.all(np.isnan(gradients(after)[0]))
    # float16's epsilon: torch rounds 1e-6 to float16 (1.0133e-06) before adding it to a float16 norm.
    g = np.array([0.00012123584747314453], f16)
    after = parameters(torch, [g], device)
    torch.nn.utils.clip_grad_norm_(after, 1e-4)
    (ours,), _ = clipping.clip_grad_norm([g], 1e-4)
    assert same(ours, gradients(after)[0]) and ours[0] == f16(9.912e-05)
    # value clipping beyond float16's range: torch on the CPU raises, having clamped the arrays before
    # it, and so does the model (before any work); CUDA's clamp accepts the value.
    grads = [a32(1e5), np.ones(1, f16)]
    with pytest.raises(ValueError, match=r"clip_value=100000.0 does not fit grads\[1\]'s float16"):
        clipping.clip_grad_value(grads, 1e5)
    if device == "cpu":
        with pytest.raises(RuntimeError, match="without overflow"):
            torch.nn.utils.clip_grad_value_(parameters(torch, grads, device), 1e5, foreach=False)


# --- the strategies -----------------------------------------------------------------------------

@given(gps.gradient_lists(min_arrays=2, max_arrays=3, dtypes=("float32",), min_magnitude=1e-3,
                          max_magnitude=1e3, max_dims=2, max_side=3))
def test_gradient_lists_keep_their_promises(grads):
    assert 2 <= len(grads) <= 3
    for g in grads:
        assert g.dtype == f32 and g.ndim <= 2 and all(1 <= n <= 3 for n in g.shape)
        nonzero = np.abs(g[g != 0])
        assert np.all((nonzero >= 1e-3 * (1 - 1e-6)) & (nonzero <= 1e3 * (1 + 1e-6)))


@given(gps.thresholds(min_value=0.5, max_value=2.0), gps.norm_types())
def test_thresholds_and_norm_types_stay_in_range(c, p):
    assert 0.5 <= c <= 2.0 and (p == math.inf or 0.25 <= p <= 8)


def test_subnormals_and_negative_zeros_are_drawn_when_asked_for():
    lists = gps.gradient_lists(dtypes=("float32",), min_magnitude=float(np.finfo(f32).smallest_subnormal),
                               allow_subnormal=True, allow_negative_zero=True)
    seen = {"subnormal": False, "-0.0": False}

    @settings(max_examples=200, database=None)
    @given(lists)
    def draw(grads):
        for g in grads:
            magnitudes = np.abs(g[g != 0])
            assert np.all(magnitudes <= 1e30)
            seen["subnormal"] |= bool(np.any(magnitudes < np.finfo(f32).tiny))
            seen["-0.0"] |= bool(np.any((g == 0) & np.signbit(g)))

    draw()
    assert all(seen.values()), seen

    @settings(max_examples=200, database=None)
    @given(gps.thresholds(allow_subnormal=True, allow_negative_zero=True, allow_negative=True))
    def thresholds(c):
        assert 1e-6 <= abs(c) <= 1e6 or c == 0 or abs(c) < np.finfo(f64).tiny or any(
            np.finfo(d).smallest_subnormal <= abs(c) < np.finfo(d).tiny for d in (f16, f32))

    thresholds()


@pytest.mark.parametrize("strategy, arguments", [
    (gps.gradient_lists, dict(min_arrays=-1)),
    (gps.gradient_lists, dict(max_arrays=0)),
    (gps.gradient_lists, dict(dtypes=("bfloat16",))),
    (gps.gradient_lists, dict(min_magnitude=2.0, max_magnitude=1.0)),
    (gps.gradient_lists, dict(max_side=0)),
    (gps.thresholds, dict(min_value=0.0)),
    (gps.thresholds, dict(min_value=3.0, max_value=2.0)),
])
def test_strategies_validate_their_arguments(strategy, arguments):
    with pytest.raises(InvalidArgument):
        strategy(**arguments)


def test_the_benchmark_has_a_clipping_section(capsys, monkeypatch):
    from gradproofs import bench
    from gradproofs.clipping import bench as section

    monkeypatch.setattr(section, "CLIP_ELEMENTS", 20_000)
    monkeypatch.setattr(section, "CLIP_REPEATS", 2)
    bench.main(["clipping"])
    printed = capsys.readouterr().out
    assert "torch.nn.utils.clip_grad_norm_" in printed and printed.count("ratio") >= 2


def test_pascanus_norm_is_torchs_so_its_float16_squares_are_held_to_float32s_rounding():
    # Pascanu's rule measures with torch's 2-norm, which squares float16 in float32 (row 10: a finite 9488
    # where squaring in float16 would overflow); its tolerance is torch's, not float16's.
    grads = [np.full(1000, 300, f16), np.linspace(-1, 1, 7).astype(f16)]
    pascanu = clipping.norm_tolerance(grads, 2.0, convention="pascanu")
    assert pascanu == clipping.norm_tolerance(grads, 2.0, convention="torch")
    assert pascanu < clipping.norm_tolerance(grads, 2.0, convention="optax")  # squares in float16
