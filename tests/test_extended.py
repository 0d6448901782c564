"""The long-double reference: within its own rounding bound of mpmath's 40 digits, a few hundredths of a
per cent of what a float64 engine is allowed, and chosen for large problems only."""

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

from gradproofs import extended, strategies
from gradproofs.lm import engine as lm
from gradproofs.mlp import engine as mlp
from gradproofs.rnn import engine as rnn
from gradproofs.compare import to_numpy

pytestmark = pytest.mark.skipif(not extended.AVAILABLE, reason="this NumPy's long double is no wider than float64")
EPS64 = float(np.finfo(np.float64).eps)


def agree(reference_of, problem, **options):
    """The extended and the mpmath reference of one problem agree within the extended one's own bound,
    which is 2⁻¹¹ of a float64 engine's tolerance."""
    fast = reference_of(*problem, engine="extended", **options)
    slow = reference_of(*problem, engine="mpmath", **options)
    assert fast.extended and not slow.extended
    scales, own = slow.scales(), slow.rounding_tolerance(extended.EPS)
    float64 = slow.rounding_tolerance(EPS64)
    for field in slow.FIELDS:
        pairs = zip(getattr(fast.exact, field), getattr(slow.exact, field), scales[field], own[field], float64[field]) \
            if field in slow.LAYERED else [(getattr(fast.exact, field), getattr(slow.exact, field), scales[field],
                                            own[field], float64[field])]
        for e, m, scale, tolerance, allowed in pairs:
            exact = np.array([np.longdouble(mpmath.nstr(v, 30)) for v in np.ravel(m)]).reshape(np.shape(m))
            error = np.abs(np.asarray(e, dtype=np.longdouble) - exact)
            assert np.all(error <= np.broadcast_to(tolerance * scale, np.shape(m)) + 1e-300), field
            assert np.all(tolerance <= 2.0 ** -10 * np.asarray(allowed)), field


@given(strategies.networks(max_depth=3, max_width=4), st.data())
def test_dense_networks(network, data):
    x, y = data.draw(strategies.batches(network.weights[0].shape[1], network.weights[-1].shape[0], max_batch=3),
                     label="batch")
    agree(mlp.reference, (*network, x, y), activation=data.draw(st.sampled_from(["sigmoid", "tanh"]), label="f"))


@given(strategies.sequences(max_steps=5, max_batch=2, max_inputs=3, max_hidden=3))
def test_rnns(problem):
    agree(rnn.reference, problem)


@given(strategies.lstm_sequences(max_steps=4, max_batch=2, max_inputs=2, max_hidden=2))
def test_lstms(problem):
    agree(rnn.lstm_reference, problem)


@given(strategies.lm_sequences(max_steps=4, max_batch=2, max_vocabulary=4, max_hidden=3))
def test_language_models(problem):
    agree(lm.reference, problem)


def test_large_problems_get_the_extended_reference_and_its_bound_in_the_tolerance():
    rng = np.random.default_rng(0)
    small = rnn.reference(*(rng.uniform(-1, 1, shape) for shape in ((2, 1, 1), (1, 2), (2, 1), (2, 2), (2,), (2, 1, 2))))
    assert not small.extended and small.exact_eps == 0.0
    T, B, I, H = 64, 4, 8, 32
    large = rnn.reference(rng.uniform(-1, 1, (T, B, I)), rng.uniform(-1, 1, (B, H)), rng.uniform(-1, 1, (H, I)) / 4,
                          rng.uniform(-1, 1, (H, H)) / 8, rng.uniform(-1, 1, H), rng.uniform(-1, 1, (T, B, H)))
    assert large.operations > extended.FROM_OPERATIONS and large.extended and large.exact_eps == extended.EPS
    judged = large.expectations(EPS64)["W_h"].tolerance
    np.testing.assert_allclose(judged, large.rounding_tolerance(EPS64)["W_h"] + large.rounding_tolerance(extended.EPS)["W_h"])
    large.assert_matches("numpy", rnn.bptt(*(getattr(large, f) for f in ("x", "h0", "W_x", "W_h", "b", "dL_dh"))),
                         precision="float64", derivative_from_output=False)
    with pytest.raises(ValueError, match="unknown engine 'quad'"):
        rnn.reference(*(to_numpy(getattr(small, f)) for f in ("x", "h0", "W_x", "W_h", "b", "dL_dh")), engine="quad")
