"""The single-unit cliff: three engines agree with the published figures; training refuses bad input."""

import numpy as np
import pytest

from gradproofs.clipping import tamed
from gradproofs.rnn import cliff


def test_the_unstable_bias_is_a_fixed_point():
    b = cliff.unstable_bias()
    assert cliff.gradient(b).x == pytest.approx(cliff.X0, abs=1e-9)


@pytest.mark.parametrize("offset, published", [(0.0, 779), (1e-4, 58.6), (1e-2, 0.19)])
def test_gradient_norms_match_the_published_cliff(offset, published, device):
    b = cliff.unstable_bias() + offset
    digits = len(str(published).partition(".")[2])
    for result in (cliff.gradient(b), cliff.gradient_torch(b, device=device)):
        assert round(result.norm, digits) == published
    assert round(float(cliff.gradient_exact(b).norm), digits) == published


def test_norm_clipping_bounds_every_step_and_the_unclipped_run_jumps(device):
    b = cliff.unstable_bias()
    unclipped = tamed.train(b, lr=0.1)
    clipped = tamed.train(b, clip="norm", threshold=1.0, lr=0.1)
    assert unclipped.step_sizes[0] > 70
    assert np.all(clipped.step_sizes <= 0.1 * (1 + 1e-12))
    np.testing.assert_allclose(tamed.train_torch(b, clip="norm", threshold=1.0, lr=0.1, device=device).step_sizes,
                               clipped.step_sizes, rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(clip="elementwise"), "unknown clip 'elementwise'"),
    (dict(lr=0.0), "lr and threshold must be positive"),
    (dict(threshold=-1.0, clip="norm"), "lr and threshold must be positive"),
    (dict(sgd_steps=0), "sgd_steps must be at least 1"),
    (dict(w=float("nan")), "w must be finite"),
])
def test_training_refuses_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tamed.train(cliff.unstable_bias(), **kwargs)


def _tamed_runs(b, w):
    """The five SGD steps of derivations/clipping.md, each run's step sizes and losses to the three
    digits shown there."""
    thresholds = {"none": 1.0, "value": cliff.VALUE_THRESHOLD, "norm": 1.0}
    runs = {clip: tamed.train(b, w=w, clip=clip, threshold=threshold, lr=0.1, sgd_steps=5)
            for clip, threshold in thresholds.items()}
    shown = {clip: [f"{v:.3g}" for v in (*run.step_sizes, *run.losses)] for clip, run in runs.items()}
    return runs, shown


@pytest.mark.parametrize("w_nudge", [-np.inf, None, np.inf])
@pytest.mark.parametrize("b_nudge", [-np.inf, np.inf])
def test_the_tamed_cliff_does_not_hang_on_the_last_bit(b_nudge, w_nudge):
    """x_50 at the unstable fixed point amplifies a change of b by ∂x₅₀/∂b ≈ 18156, yet the five SGD steps
    from (w, b*) moved by one ulp either way show the digits derivations/clipping.md shows, with the
    unclipped first step over 100·ητ and the norm-clipped loss falling after its first step."""
    _, expected = _tamed_runs(cliff.unstable_bias(), cliff.W)
    w = cliff.W if w_nudge is None else np.nextafter(cliff.W, w_nudge)
    runs, shown = _tamed_runs(np.nextafter(cliff.unstable_bias(), b_nudge), w)
    assert shown == expected
    assert runs["none"].step_sizes[0] > 100 * 0.1 * 1.0
    assert np.all(np.diff(runs["norm"].losses[1:]) < 0)
