"""The acceptance bands, and the statistical checks' power: a wrong prediction must fail them."""

import math

import numpy as np
import pytest

from gradproofs import statistics
from gradproofs.errors import Mismatch
from gradproofs.mlp import initialisation_theorems as theorems

SEEDS = (0, 1, 2)


# --- the band helper ---------------------------------------------------------------------

def test_band_is_the_normal_quantile_of_its_tail():
    assert math.erfc(statistics.BAND / math.sqrt(2)) == pytest.approx(statistics.NORMAL_TAIL, rel=1e-9)
    assert statistics.BAND == pytest.approx(5.0263, abs=1e-4)
    assert statistics.band(1e-6) == pytest.approx(4.8916, abs=1e-4)
    assert statistics.NORMAL_TAIL + statistics.APPROXIMATION == statistics.FALSE_FAILURE
    with pytest.raises(ValueError, match="probability must lie in"):
        statistics.band(0)


def test_mean_and_standard_error():
    mean, error = statistics.mean_and_standard_error([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert error == pytest.approx(math.sqrt(5 / 3) / 2)
    with pytest.raises(ValueError, match="at least 2"):
        statistics.mean_and_standard_error([1.0])
    with pytest.raises(ValueError, match="finite"):
        statistics.mean_and_standard_error([1.0, math.nan])


@pytest.mark.parametrize("seed", SEEDS)
def test_a_normal_sample_lands_in_the_band(seed):
    samples = np.random.default_rng(seed).normal(3.0, 2.0, 10_000)
    off = statistics.assert_in_band(*statistics.mean_and_standard_error(samples), 3.0, what="the mean")
    assert 0 <= off < statistics.BAND


def test_an_estimate_ten_standard_errors_off_fails_with_a_sentence():
    with pytest.raises(Mismatch) as failure:
        statistics.assert_in_band(11.0, 1.0, 1.0, what="E[x] over 100 samples (seed 7)")
    message = str(failure.value)
    assert message.startswith("E[x] over 100 samples (seed 7): predicted 1, estimated 11 with "
                              "standard error 1, which is 10 standard errors off")
    assert "acceptance band is ±5.03 standard errors" in message


def test_band_edge_cases():
    assert statistics.assert_in_band(2.0, 0.0, 2.0, what="x") == 0.0
    with pytest.raises(Mismatch, match="inf standard errors off"):
        statistics.assert_in_band(2.0, 0.0, 3.0, what="x")
    with pytest.raises(Mismatch, match="estimated nan"):
        statistics.assert_in_band(math.nan, 1.0, 3.0, what="x")
    with pytest.raises(ValueError, match="standard_error must be"):
        statistics.assert_in_band(1.0, -1.0, 1.0, what="x")


def test_shapes_of_known_distributions():
    # Exp(1): raw moments r!, skewness 2, excess kurtosis 6.
    assert statistics.shape_from_moments(1, 2, 6, 24) == pytest.approx((2, 6))
    # (Y − EY)² for a normal Y is σ²χ²₁: skewness √8, excess kurtosis 12.
    assert statistics.squared_deviation_shape((1, 0, 0, 0, 0, 0, 0)) == pytest.approx((math.sqrt(8), 12))
    skewness, kurtosis = statistics.shape(np.random.default_rng(0).exponential(size=200_000))
    assert skewness == pytest.approx(2, abs=0.1) and kurtosis == pytest.approx(6, abs=1)


def test_sample_variance_standard_error_of_a_normal_sample():
    assert statistics.sample_variance_standard_error(2.0, 0.0, 101) == pytest.approx(2 * math.sqrt(2 / 100))


@pytest.mark.parametrize("studentised", [False, True])
def test_edgeworth_term_explains_the_tails_of_skewed_means(studentised):
    """Means of 50 Exp(1) samples: the two-sided tail beyond 3 SE is far from normal's, and the
    N⁻¹ Edgeworth term accounts for most of the difference."""
    samples, k = 50, 3.0
    x = np.random.default_rng(0).exponential(size=(200_000, samples))
    error = x.std(axis=1, ddof=1) if studentised else 1.0
    observed = np.mean(np.abs((x.mean(axis=1) - 1) * math.sqrt(samples) / error) > k)
    normal = math.erfc(k / math.sqrt(2))
    predicted = normal + statistics.approximation_error(2, 6, samples, studentised=studentised, k=k)
    assert abs(observed - predicted) < abs(observed - normal) / 4


def test_samples_needed():
    assert statistics.samples_needed(0, 0) == 2  # a normal mean needs no correction
    assert statistics.samples_needed(2, 6) < statistics.samples_needed(4, 6)
    needed = statistics.samples_needed(2, 6, studentised=True)
    assert statistics.approximation_error(2, 6, needed, studentised=True) <= statistics.APPROXIMATION
    assert statistics.approximation_error(2, 6, needed - 1, studentised=True) > statistics.APPROXIMATION


# --- a wrong prediction must fail the same check ------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_variance_product_rejects_a_prediction_off_by_two(seed):
    widths, variances, c = [4, 8, 6], [0.5, 2.0], np.array([1.0, -2.0, 0.5, 3.0, 0.0, 1.0])
    assert theorems._variance_product(widths, variances, c, seed).used <= 1
    for factor in (2.0, 0.5):
        with pytest.raises(Mismatch, match="E‖g₀‖² through linear layers"):
            theorems._variance_product(widths, variances, c, seed, prediction_factor=factor)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("width, depth", [(4, 3), (16, 10)])
def test_log_chi_square_rejects_a_variance_off_by_two(seed, width, depth):
    """(16, 10) is the case first reported for this theorem, deeper than the property draws."""
    assert theorems._log_chi_square(width, depth, seed).used <= 1
    for factor in (2.0, 0.5):
        with pytest.raises(Mismatch, match="the variance of ln"):
            theorems._log_chi_square(width, depth, seed, variance_factor=factor)


@pytest.mark.parametrize("seed", SEEDS)
def test_normalised_init_rejects_a_variance_off_by_two(seed):
    widths = [3, 7, 5]
    assert theorems._normalised_init(widths, seed).used <= 1
    for factor in (2.0, 0.5):
        with pytest.raises(Mismatch, match="initialise"):
            theorems._normalised_init(widths, seed, variance_factor=factor)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("widths", [[16, 16], [12, 12, 12]])
def test_he_check_rejects_std_sqrt_one_over_n(seed, widths):
    assert theorems._he_condition(widths, seed).used <= 1
    with pytest.raises(Mismatch, match="u at the output activations"):
        theorems._he_condition(widths, seed, gain=1.0)


def test_he_two_is_the_ratio_from_the_last_pre_activation():
    """A Monte Carlo figure of about 2 for 8 He layers of width 32 is the ratio for a gradient
    given at z^L (one ReLU fewer); the gradient given at a^L keeps its norm, ratio 1."""
    assert theorems._he_condition([32] * 9, 0).used <= 1
