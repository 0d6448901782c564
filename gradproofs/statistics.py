"""Acceptance bands for statistical theorems: how many standard errors, and how many samples.

A statistical theorem predicts an expectation μ. Its check draws N independent
samples, forms an estimate μ̂ with standard error SE and accepts when

    |μ̂ − μ| ≤ k · SE.

If μ̂ were exactly normal, a correct implementation would land outside the band
with probability P(|Z| > k) = erfc(k/√2). The budget for such a false failure is
``FALSE_FAILURE`` = 10⁻⁶ per assertion, split in two halves:

* ``NORMAL_TAIL`` = 5·10⁻⁷ for the normal tail itself, which fixes the band:
  erfc(k/√2) = 5·10⁻⁷ gives k = ``BAND`` = 5.0263 (solved by bisection below;
  P(|Z| > k) = 10⁻⁶ alone would give k = 4.8916);
* ``APPROXIMATION`` = 5·10⁻⁷ for what the normal approximation gets wrong: a mean
  of N skewed or heavy-tailed samples is not normal, and that far out the first
  neglected term matters. The first-order Edgeworth expansion of the two-sided
  tail (Hall, *The Bootstrap and Edgeworth Expansion*, 1992, ch. 2) gives it from
  the skewness γ₁ and excess kurtosis γ₂ of one sample (φ the normal density),

      known SE (standardised mean):  2kφ(k)/N · [γ₂(k² − 3)/24 + γ₁²(k⁴ − 10k² + 15)/72]
      SE from the samples (Student): 2kφ(k)/N · [γ₁²(k⁴ + 2k² − 3)/18 + (k² + 3)/4 − γ₂(k² − 3)/12]

  (the N^(−1/2) term cancels between the two tails; both agree with simulated
  tails of means of exponential samples), and :func:`samples_needed` is the N at
  which it falls to ``APPROXIMATION``. Products of random matrices are
  heavy-tailed, so this, not the precision wanted, is what sets most sample counts.

A check that makes several band assertions fails with at most the sum of their
probabilities. Typical use::

    mean, error = mean_and_standard_error(samples)
    assert_in_band(mean, error, prediction, what=f"E‖g₀‖² over {len(samples)} draws (seed 7)")
"""

from __future__ import annotations

import math

import numpy as np

from gradproofs.errors import InvalidArgument, Mismatch

__all__ = [
    "FALSE_FAILURE", "NORMAL_TAIL", "APPROXIMATION", "band", "BAND", "mean_and_standard_error", "shape",
    "shape_from_moments", "squared_deviation_shape", "approximation_error", "samples_needed",
    "sample_variance_standard_error", "assert_in_band"
]

FALSE_FAILURE = 1e-6
NORMAL_TAIL = FALSE_FAILURE / 2
APPROXIMATION = FALSE_FAILURE - NORMAL_TAIL


def band(probability: float) -> float:
    """The k with P(|Z| > k) = erfc(k/√2) = ``probability`` for a standard normal Z."""
    if not 0 < probability < 1:
        raise InvalidArgument(f"probability must lie in (0, 1), got {probability!r}")
    low, high = 0.0, 40.0  # erfc(40/√2) underflows: every representable probability is inside
    for _ in range(200):
        middle = (low + high) / 2
        if math.erfc(middle / math.sqrt(2)) > probability:
            low = middle
        else:
            high = middle
    return high


BAND = band(NORMAL_TAIL)


def mean_and_standard_error(samples) -> tuple[float, float]:
    """(x̄, s/√N) with s² = Σ(x_i − x̄)²/(N − 1), the unbiased sample variance."""
    values = _samples(samples)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def shape(samples) -> tuple[float, float]:
    """The sample skewness m₃/m₂^(3/2) and excess kurtosis m₄/m₂² − 3 (central moments m_r)."""
    values = _samples(samples)
    deviations = values - values.mean()
    m2 = float(np.mean(deviations ** 2))
    if m2 == 0:
        return 0.0, 0.0
    return float(np.mean(deviations ** 3)) / m2 ** 1.5, float(np.mean(deviations ** 4)) / m2 ** 2 - 3


def shape_from_moments(m1: float, m2: float, m3: float, m4: float) -> tuple[float, float]:
    """Skewness and excess kurtosis of X from its raw moments E[X^r], r = 1..4."""
    variance = m2 - m1 ** 2
    third = m3 - 3 * m1 * m2 + 2 * m1 ** 3
    fourth = m4 - 4 * m1 * m3 + 6 * m1 ** 2 * m2 - 3 * m1 ** 4
    return third / variance ** 1.5, fourth / variance ** 2 - 3


def squared_deviation_shape(cumulants) -> tuple[float, float]:
    """Skewness and excess kurtosis of (Y − EY)², the summand of the sample variance of Y.

    ``cumulants`` = (κ₂, …, κ₈) of Y; its central moments follow from them
    (Kendall & Stuart, *The Advanced Theory of Statistics*, vol. 1, moments and cumulants):
    μ₄ = κ₄ + 3κ₂², μ₆ = κ₆ + 15κ₄κ₂ + 10κ₃² + 15κ₂³,
    μ₈ = κ₈ + 28κ₆κ₂ + 56κ₅κ₃ + 35κ₄² + 210κ₄κ₂² + 280κ₃²κ₂ + 105κ₂⁴.
    """
    k2, k3, k4, k5, k6, _, k8 = cumulants
    m4 = k4 + 3 * k2 ** 2
    m6 = k6 + 15 * k4 * k2 + 10 * k3 ** 2 + 15 * k2 ** 3
    m8 = k8 + 28 * k6 * k2 + 56 * k5 * k3 + 35 * k4 ** 2 + 210 * k4 * k2 ** 2 \
        + 280 * k3 ** 2 * k2 + 105 * k2 ** 4
    return shape_from_moments(k2, m4, m6, m8)


def approximation_error(skewness: float, excess_kurtosis: float, samples: int, *,
                        studentised: bool = False, k: float = BAND) -> float:
    """The N⁻¹ Edgeworth term of P(|T| > k) that the normal band leaves out (may be < 0).

    ``studentised``: T divides by the standard error estimated from the same
    samples (Student's t) rather than by the exact one.
    """
    phi = math.exp(-k * k / 2) / math.sqrt(2 * math.pi)
    if studentised:
        bracket = (skewness ** 2 * (k ** 4 + 2 * k ** 2 - 3) / 18 + (k ** 2 + 3) / 4
                   - excess_kurtosis * (k ** 2 - 3) / 12)
    else:
        bracket = (excess_kurtosis * (k ** 2 - 3) / 24
                   + skewness ** 2 * (k ** 4 - 10 * k ** 2 + 15) / 72)
    return 2 * k * phi * bracket / samples


def samples_needed(skewness: float, excess_kurtosis: float, *, studentised: bool = False,
                   k: float = BAND, allowance: float = APPROXIMATION) -> int:
    """The least N whose :func:`approximation_error` is at most ``allowance`` (at least 2)."""
    per_sample = approximation_error(skewness, excess_kurtosis, 1, studentised=studentised, k=k)
    return max(2, math.ceil(per_sample / allowance))


def sample_variance_standard_error(k2: float, k4: float, samples: int) -> float:
    """√Var[s²] = √(κ₄/N + 2κ₂²/(N − 1)): the exact spread of the unbiased sample variance.

    The sampling variance of Fisher's k-statistic k₂ = s² (Kendall & Stuart, vol. 1);
    κ₂ and κ₄ are the second and fourth cumulants of one sample.
    """
    return math.sqrt(k4 / samples + 2 * k2 ** 2 / (samples - 1))


def assert_in_band(estimate: float, standard_error: float, prediction: float, *, what: str,
                   k: float = BAND) -> float:
    """Raise :class:`Mismatch` unless |estimate − prediction| ≤ k·SE; return the SEs off.

    ``what`` names the quantity and how it was estimated; the message gives
    the prediction, the estimate with its standard error, how many standard
    errors apart they are, and the band.
    """
    estimate, standard_error, prediction = float(estimate), float(standard_error), float(prediction)
    if not standard_error >= 0:
        raise InvalidArgument(f"standard_error must be a non-negative number, got {standard_error!r}")
    difference = abs(estimate - prediction)
    if standard_error > 0:
        off = difference / standard_error
    else:
        off = 0.0 if difference == 0 else math.inf
    if not off <= k:  # also catches a NaN estimate
        raise Mismatch(
            f"{what}: predicted {prediction:.6g}, estimated {estimate:.6g} with standard error "
            f"{standard_error:.3g}, which is {off:.3g} standard errors off; the acceptance band is "
            f"±{k:.3g} standard errors (a correct implementation falls outside it with "
            f"probability about {FALSE_FAILURE:g})")
    return off


def _samples(samples) -> np.ndarray:
    values = np.asarray(samples, dtype=np.float64).ravel()
    if values.size < 2:
        raise InvalidArgument(f"samples must hold at least 2 values, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise InvalidArgument("samples must be finite")
    return values
