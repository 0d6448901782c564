"""The frameworks' own published tests of their clipping functions, ported as assertions on gradproofs.clipping.

Each test names the file it ports (at the version the conventions were checked
against) and asserts the values that test asserts, with the tolerance its
assertion uses (written beside it); the inputs are the test's own. The cases a
symmetric clip cannot express (TensorFlow's clip_by_value with separate
bounds, clip_by_norm along axes, IndexedSlices) are left out.
"""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from gradproofs.clipping import engine as clipping

f32, f64 = np.float32, np.float64


def close(got, expected, *, rtol, atol):
    """``|got − expected| ≤ atol + rtol·|expected|`` entrywise, NaN where NaN, as assertAllClose judges."""
    np.testing.assert_allclose(np.asarray(got, dtype=f64), np.asarray(expected, dtype=f64), rtol=rtol, atol=atol,
                               equal_nan=True)


# --- torch: test/test_nn.py (TestNNDeviceType), torch 2.13 ------------------------------------------
# torch.testing's default tolerance for float32, which assertEqual uses: rtol 1.3e-6, atol 1e-5.
TORCH_F32 = dict(rtol=1.3e-6, atol=1e-5)
TORCH_NORM_TYPES = [0.5, 1.5, 2.0, 4.0, math.inf]
MAX_NORM = 2.0


def _exact_p_norm(arrays, p):
    """(Σ|x|^p)^(1/p) (max |x| for p = ∞) of float32 entries, summed exactly and rooted in float64."""
    values = [Fraction(float(v)) for a in arrays for v in np.abs(a).ravel()]
    if math.isinf(p):
        return float(max(values))
    return float(sum(float(v) ** p for v in values) ** (1 / p)) if p != 2 else math.sqrt(sum(v * v for v in values))


def _linear_grads(weight, bias):
    """The gradients of the test's nn.Linear(10, 10): weight (10, 10) and bias (10,), float32."""
    return [np.asarray(weight, f32).reshape(10, 10), np.asarray(bias, f32)]


@pytest.mark.parametrize("p", TORCH_NORM_TYPES)
def test_torch_clip_grad_norm_large_gradients_are_clipped_to_max_norm(p):
    grads = _linear_grads(np.arange(1.0, 101.0), np.ones(10) / 1000)
    norm_before = _exact_p_norm(grads, p)
    clipped, norm = clipping.clip_grad_norm(grads, MAX_NORM, norm_type=p)
    close(norm, norm_before, **TORCH_F32)  # the returned norm is the norm before clipping
    norm_after = _exact_p_norm(clipped, p)
    close(norm_after, MAX_NORM, **TORCH_F32)  # and the norm after is max_norm
    assert norm_after <= norm_before
    scale = np.concatenate([(c / g).ravel() for c, g in zip(clipped, grads)])  # in float32, as torch divides
    close(np.std(scale), 0, **TORCH_F32)  # one factor for every entry


@pytest.mark.parametrize("p", TORCH_NORM_TYPES)
def test_torch_clip_grad_norm_small_gradients_are_left_as_they_are(p):
    rng = np.random.default_rng(0)  # torch.rand(10, 10) / 10000 and ones / 500
    grads = _linear_grads(rng.random((10, 10)) / 10000, np.ones(10) / 500)
    clipped, norm = clipping.clip_grad_norm(grads, MAX_NORM, norm_type=p)
    close(norm, _exact_p_norm(grads, p), **TORCH_F32)
    assert _exact_p_norm(clipped, p) <= MAX_NORM
    scale = np.concatenate([(c / g).ravel() for c, g in zip(clipped, grads)])
    assert np.all(scale == 1)  # the scale is 1 (exactly: the coefficient is clamped to 1)


@pytest.mark.parametrize("p", TORCH_NORM_TYPES)
def test_torch_clip_grad_norm_takes_a_single_tensor(p):
    g = np.arange(1.0, 101.0, dtype=f32).reshape(10, 10)
    bare, _ = clipping.clip_grad_norm(g, MAX_NORM, norm_type=p)
    (listed,), _ = clipping.clip_grad_norm([g], MAX_NORM, norm_type=p)
    assert np.array_equal(bare, listed)


def test_torch_clip_grad_norm_warns_once_on_an_exhausted_generator():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clipping.clip_grad_norm((g for g in []), MAX_NORM)
    assert len(caught) == 1


def test_torch_clip_grad_value():
    clip_value = 2.5
    weight = (np.arange(-50.0, 50.0, dtype=f32) / 5).reshape(10, 10)
    bias = np.ones(10, f32) * 2
    for grads in ([weight, bias], [weight, None]):
        for clipped in clipping.clip_grad_value(grads, clip_value):
            assert clipped is None or (clipped.max() <= clip_value and clipped.min() >= -clip_value)
    assert np.array_equal(clipping.clip_grad_value(weight, clip_value), clipping.clip_grad_value([weight], clip_value)[0])


# test_clip_grad_norm_error_if_nonfinite: (only one element holds the scalar, a parameter with gradient 1
# comes first, the scalars, the norm types whose total norm is non-finite, those whose is finite).
NORMS_POS = [0.1, 1, 2, 3.5, math.inf]
NORMS_NEG = [-0.1, -1, -2, -3.5]
NORMS_EXCEPT_0 = NORMS_POS + NORMS_NEG
NONFINITE_CASES = [
    (False, False, [math.inf, -math.inf], NORMS_EXCEPT_0, [0]),
    (False, True, [math.inf, -math.inf], NORMS_POS, NORMS_NEG + [0]),
    (True, False, [math.inf, -math.inf], NORMS_POS, NORMS_NEG + [0]),
    (True, True, [math.inf, -math.inf], NORMS_POS, NORMS_NEG + [0]),
    (False, False, [math.nan], NORMS_EXCEPT_0, [0]),
    (False, True, [math.nan], NORMS_EXCEPT_0, [0]),
    (True, False, [math.nan], NORMS_EXCEPT_0, [0]),
    (True, True, [math.nan], NORMS_EXCEPT_0, [0]),
    (False, False, [2e22, -2e22], [], NORMS_EXCEPT_0 + [0]),
    (False, True, [2e22, -2e22], [], NORMS_EXCEPT_0 + [0]),
    (True, False, [2e22, -2e22], [], NORMS_EXCEPT_0 + [0]),
    (True, True, [2e22, -2e22], [], NORMS_EXCEPT_0 + [0]),
    (False, False, [2e200, -2e200], [3.5, 2, -2, -3.5], [math.inf, 1, 0.1, 0, -1, -0.1]),
    (False, True, [2e200, -2e200], [3.5, 2], NORMS_NEG + [math.inf, 1, 0.1, 0]),
    (True, False, [2e200, -2e200], [3.5, 2], NORMS_NEG + [math.inf, 1, 0.1, 0]),
    (True, True, [2e200, -2e200], [3.5, 2], NORMS_NEG + [math.inf, 1, 0.1, 0]),
]


@pytest.mark.parametrize("one_element, prefix, scalars, nonfinite, finite", NONFINITE_CASES)
def test_torch_clip_grad_norm_error_if_nonfinite(one_element, prefix, scalars, nonfinite, finite):
    for scalar in scalars:
        # The gradient of param.mul(scalar).sum() for param = ones(10) in float64, or of param[1] alone.
        grad = np.zeros(10) if one_element else np.full(10, scalar)
        grad[1] = scalar
        grads = ([np.ones(1)] if prefix else []) + [grad]
        for p in nonfinite:
            before = [g.copy() for g in grads]
            with pytest.raises(RuntimeError, match=f"total norm of order {float(p):g}"):
                clipping.clip_grad_norm(grads, 1, norm_type=p, error_if_nonfinite=True)
            assert all(np.array_equal(g, b, equal_nan=True) for g, b in zip(grads, before))
            clipping.clip_grad_norm(grads, 1, norm_type=p, error_if_nonfinite=False)
        for p in finite:
            for error_if_nonfinite in (False, True):
                clipping.clip_grad_norm(grads, 1, norm_type=p, error_if_nonfinite=error_if_nonfinite)


# --- optax: optax/transforms/_clipping_test.py, optax 0.2.8 ----------------------------------------
# chex.assert_trees_all_close's default: rtol 1e-6, atol 0; assertAlmostEqual(places=6): |Δ| < 5e-7.
OPTAX_UPDATES = [np.array([500.0, 5.0], f32), np.array([300.0, 3.0], f32)]  # jnp.array: float32


def test_optax_clip():
    close(clipping.clip_grad_value(OPTAX_UPDATES, 1e6, convention="optax"), OPTAX_UPDATES, rtol=1e-6, atol=0)
    for clipped in clipping.clip_grad_value(OPTAX_UPDATES, 1.0, convention="optax"):
        close(clipped, np.ones_like(clipped), rtol=1e-6, atol=0)  # every update exactly 1


def test_optax_clip_by_global_norm():
    updates = OPTAX_UPDATES
    for i in range(1, 51):
        updates, _ = clipping.clip_grad_norm(updates, 1.0 / i, convention="optax")
        assert abs(float(clipping.clip_grad_norm(updates, math.inf, convention="optax")[1][0]) - 1.0 / i) < 5e-7
        fresh, _ = clipping.clip_grad_norm(OPTAX_UPDATES, 1.0 / i, convention="optax")
        for u, f in zip(updates, fresh):  # clipping again and again adds no numerical error
            close(u, f, rtol=1e-6, atol=0)


# --- TensorFlow: tensorflow/python/kernel_tests/math_ops/clip_ops_test.py, TensorFlow 2.21 ----------
# assertAllClose's default for float32: rtol 1e-6, atol 1e-6.
TF = dict(rtol=1e-6, atol=1e-6)
X0 = np.array([[-2.0, 0.0, 0.0], [4.0, 0.0, 0.0]], f32)
X1 = np.array([1.0, -2.0], f32)


@pytest.mark.parametrize("grads", [[X0, X1], [X0, None, X1, None]], ids=["testClipByGlobalNormClipped",
                                                                         "testClipByGlobalNormSupportsNone"])
def test_tensorflow_clip_by_global_norm_clipped(grads):
    clipped, norm = clipping.clip_grad_norm(grads, 4.0, convention="tensorflow")
    close(norm, 5.0, **TF)  # √(4 + 16 + 1 + 4)
    arrays = [c for c in clipped if c is not None]
    assert [c is None for c in clipped] == [g is None for g in grads]
    close(arrays[0], [[-1.6, 0.0, 0.0], [3.2, 0.0, 0.0]], **TF)
    close(arrays[1], [0.8, -1.6], **TF)


def test_tensorflow_clip_by_global_norm_not_clipped_zero_and_inf():
    (c0, c1), norm = clipping.clip_grad_norm([X0, X1], 6.0, convention="tensorflow")  # testClipByGlobalNormNotClipped
    close(norm, 5.0, **TF)
    close(c0, X0, **TF)
    close(c1, X1, **TF)
    zeros = [np.zeros((2, 3), f32), np.zeros(2, f32)]  # testClipByGlobalNormZero
    (c0, c1), norm = clipping.clip_grad_norm(zeros, 6.0, convention="tensorflow")
    close(norm, 0.0, **TF)
    close(c0, zeros[0], **TF)
    close(c1, zeros[1], **TF)
    infinite = np.array([[-2.0, 0.0, np.inf], [4.0, 0.0, 0.0]], f32)  # testClipByGlobalNormInf: all NaN
    (c0, c1), norm = clipping.clip_grad_norm([infinite, X1], 6.0, convention="tensorflow")
    assert norm == math.inf and np.all(np.isnan(c0)) and np.all(np.isnan(c1))


def test_tensorflow_clip_by_value():
    x = np.array([[-5.0, 2.0, 3.0], [4.0, 5.0, 6.0]], f32)  # testClipByValue
    close(clipping.clip_grad_value(x, 4.4, convention="tensorflow"), [[-4.4, 2.0, 3.0], [4.0, 4.4, 4.4]], **TF)
    nonfinite = np.array([np.nan, np.inf, -np.inf], f32)  # testClipByValueNonFinite
    close(clipping.clip_grad_value(nonfinite, 4.0, convention="tensorflow"), [np.nan, 4.0, -4.0], **TF)


def test_tensorflow_clip_by_norm_as_keras_calls_it():
    # tf.clip_by_norm is Keras's clipnorm (the "keras" convention) for a positive threshold.
    x = np.array([[-3.0, 0.0, 0.0], [4.0, 0.0, 0.0]], f32)
    clipped, norm = clipping.clip_grad_norm(x, 4.0, convention="keras")  # testClipByNormClipped
    close(clipped, [[-2.4, 0.0, 0.0], [3.2, 0.0, 0.0]], **TF)
    close(clipping.clip_grad_norm(x, 6.0, convention="keras")[0], x, **TF)  # testClipByNormNotClipped
    zeros = np.zeros((2, 3), f32)  # testClipByNormZero
    close(clipping.clip_grad_norm(zeros, 6.0, convention="keras")[0], zeros, **TF)


# --- Keras 3: keras/src/optimizers/optimizer_test.py, Keras 3.15 ------------------------------------
# Keras's assertAllClose default: rtol 1e-6, atol 1e-6.
KERAS = dict(rtol=1e-6, atol=1e-6)


def test_keras_clip_norm_value_and_global_norm():
    grad = np.array([100.0, 100.0], f32)
    close(clipping.clip_grad_norm([grad], 1.0, convention="keras")[0][0], [2 ** 0.5 / 2] * 2, **KERAS)  # test_clip_norm
    close(clipping.clip_grad_value([grad], 1.0, convention="keras")[0], [1.0, 1.0], **KERAS)  # test_clip_value
    grad = np.array([50.0, 100.0], f32)  # test_global_clip_norm
    close(clipping.clip_grad_norm([grad], 1.0, convention="keras_global")[0][0], grad / np.linalg.norm(grad), **KERAS)


def test_keras_empty_gradients():
    for clip in (lambda g: clipping.clip_grad_norm(g, 1.0, convention="keras"),
                 lambda g: clipping.clip_grad_norm(g, 1.0, convention="keras_global"),
                 lambda g: clipping.clip_grad_value(g, 1.0, convention="keras")):
        with pytest.raises(ValueError, match="No gradients provided for any variable"):
            clip([None])
