"""The single-unit cliff: three engines agree with the published figures; training refuses bad input."""

import numpy as np
import pytest

from gradproofs import cliff


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
    unclipped = cliff.train(b, lr=0.1)
    clipped = cliff.train(b, clip="norm", threshold=1.0, lr=0.1)
    assert unclipped.step_sizes[0] > 70
    assert np.all(clipped.step_sizes <= 0.1 * (1 + 1e-12))
    np.testing.assert_allclose(cliff.train_torch(b, clip="norm", threshold=1.0, lr=0.1, device=device).step_sizes,
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
        cliff.train(cliff.unstable_bias(), **kwargs)
