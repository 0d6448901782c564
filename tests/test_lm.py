"""The character-level RNN language model: the engines agree with the exact recurrence and with finite
differences, and bad input is refused naming the argument, inputs untouched."""

import numpy as np
import pytest

import gradproofs

from gradproofs.lm import engine as lm

RNG = np.random.default_rng(3)
T, B, K, H = 4, 2, 5, 3
TOKENS = RNG.integers(0, K, (T, B))
TARGETS = RNG.integers(0, K, (T, B))
PARAMETERS = dict(h0=RNG.uniform(-1, 1, (B, H)), U=RNG.uniform(-1, 1, (H, K)), W=RNG.uniform(-1, 1, (H, H)),
                  b=RNG.uniform(-1, 1, H), V=RNG.uniform(-1, 1, (K, H)), c=RNG.uniform(-1, 1, K))
EPS = float(np.finfo(np.float64).eps)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_engines_agree_with_the_exact_recurrence(reduction, device):
    reference = lm.reference(TOKENS, TARGETS, **PARAMETERS, reduction=reduction)
    assert reference.well_conditioned(EPS)
    reference.assert_matches("numpy", lm.backward(TOKENS, TARGETS, **PARAMETERS, reduction=reduction),
                             precision="float64", derivative_from_output=False)
    for embedding in (False, True):
        result = lm.backward_torch(TOKENS, TARGETS, **PARAMETERS, reduction=reduction, embedding=embedding,
                                   device=device)
        reference.assert_matches(f"torch (embedding={embedding})", result, precision="float64",
                                 derivative_from_output=True)
    one_hot = lm.backward(lm.one_hot(TOKENS, K).astype(np.int8), TARGETS, **PARAMETERS, reduction=reduction)
    np.testing.assert_array_equal(one_hot.U, lm.backward(TOKENS, TARGETS, **PARAMETERS, reduction=reduction).U)


def test_logits_near_1000_neither_overflow_nor_lose_the_softmax():
    """exp(1000) overflows float64: the engine must shift the logits; the exact engine needs no shift."""
    near_1000 = {**PARAMETERS, "c": 1000 + PARAMETERS["c"]}
    result = lm.backward(TOKENS, TARGETS, **near_1000)
    assert np.isfinite(result.loss) and all(np.all(np.isfinite(getattr(result, f))) for f in ("U", "W", "V", "c"))
    lm.reference(TOKENS, TARGETS, **near_1000).assert_matches("numpy", result, precision="float64",
                                                               derivative_from_output=False)
    # Two rows whose largest logits lie 2000 apart (h_1 = tanh(±5), o = V h_1 = (±999.9, 0)): each row
    # needs its own shift; one shift for the batch leaves the lower row exp(−2000) = 0 everywhere, 0/0.
    x, y = np.array([[0, 1]]), np.array([[1, 0]])
    apart = dict(h0=np.zeros((2, 1)), U=np.array([[5.0, -5.0]]), W=np.zeros((1, 1)), b=np.zeros(1),
                 V=np.array([[1000.0], [0.0]]), c=np.zeros(2))
    lm.reference(x, y, **apart).assert_matches("numpy", lm.backward(x, y, **apart), precision="float64",
                                               derivative_from_output=False)


def test_gradients_are_the_slopes_of_the_loss():
    """Central differences of E (computed independently, by the forward pass only) at step 1e-6."""
    exact = lm.backward(TOKENS, TARGETS, **PARAMETERS)
    for name in ("U", "W", "b", "V", "c", "h0"):
        index = tuple(int(i) for i in np.unravel_index(1, PARAMETERS[name].shape))
        shifted = []
        for step in (1e-6, -1e-6):
            parameters = {k: v.copy() for k, v in PARAMETERS.items()}
            parameters[name][index] += step
            shifted.append(lm.backward(TOKENS, TARGETS, **parameters).loss)
        assert (shifted[0] - shifted[1]) / 2e-6 == pytest.approx(getattr(exact, name)[index], rel=1e-6, abs=1e-9)


def test_the_batch_mean_is_the_sum_over_b():
    mean, total = (lm.backward(TOKENS, TARGETS, **PARAMETERS, reduction=r) for r in ("mean", "sum"))
    for name in ("U", "W", "b", "V", "c", "h0", "loss"):
        np.testing.assert_allclose(getattr(total, name), B * getattr(mean, name), rtol=1e-14)


def _changed(**changes):
    arguments = dict(tokens=TOKENS.copy(), targets=TARGETS.copy(), **{k: v.copy() for k, v in PARAMETERS.items()})
    arguments.update(changes)
    return arguments


BAD = [
    (dict(tokens=np.full((T, B), K)), ValueError, rf"tokens must lie in \[0, {K}\)"),
    (dict(targets=np.full((T, B), -1)), ValueError, r"targets must lie in \[0, 5\)"),
    (dict(tokens=np.zeros((0, B), dtype=int), targets=np.zeros((0, B), dtype=int)), ValueError,
     "tokens must hold at least one step"),
    (dict(tokens=np.full((T, B, K), 0.5)), ValueError, "exactly one 1 and otherwise 0"),
    (dict(tokens=np.ones((T, B, K))), ValueError, "exactly one 1"),
    (dict(tokens=np.zeros((T, B, K + 1))), ValueError, r"tokens given one-hot must have shape \(T, B, 5\)"),
    (dict(tokens=TOKENS.astype(float)), TypeError, "tokens must be integer token ids"),
    (dict(targets=TARGETS[:2]), ValueError, r"targets must have the shape of tokens"),
    (dict(U=np.ones((H, 1)), V=np.ones((1, H)), c=np.ones(1), tokens=np.zeros((T, B), dtype=int),
          targets=np.zeros((T, B), dtype=int)), ValueError, "a vocabulary of K ≥ 2"),
    (dict(W=np.ones((H, H + 1))), ValueError, r"W must have shape \(3, 3\)"),
    (dict(V=np.ones((H, K))), ValueError, r"V must have shape \(5, 3\)"),
    (dict(c=np.ones(H)), ValueError, r"c must have shape \(5,\)"),
    (dict(h0=np.ones((B + 1, H))), ValueError, r"h0 must have shape \(B, H\) = \(2, 3\)"),
    (dict(U=np.full((H, K), np.nan)), ValueError, "U must be finite"),
    (dict(reduction="avg"), ValueError, "unknown reduction 'avg'"),
]


@pytest.mark.parametrize("engine", [lm.backward, lm.backward_exact, lm.backward_torch, lm.reference])
@pytest.mark.parametrize("changes, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_is_refused_naming_the_argument(engine, changes, error, message):
    arguments = _changed(**changes)
    before = {k: np.copy(v) for k, v in arguments.items() if not isinstance(v, str)}
    with pytest.raises(error, match=message):
        engine(**arguments)
    for key, value in before.items():
        np.testing.assert_array_equal(arguments[key], value)


@pytest.mark.parametrize("truncate", [0, 1])
def test_truncated_bptt_is_the_exact_truncated_gradient_and_its_scales_shrink(truncate):
    # The float engine, truncated, against the exact truncated reference; and truncation matters: the full
    # gradient lies outside the truncated one's tolerance, whose scales (fewer terms) are smaller.
    reference = lm.reference(TOKENS, TARGETS, **PARAMETERS, truncate=truncate)
    truncated = lm.backward(TOKENS, TARGETS, **PARAMETERS, truncate=truncate)
    reference.assert_matches("numpy", truncated, precision="float64", derivative_from_output=False)
    full = lm.backward(TOKENS, TARGETS, **PARAMETERS)
    with pytest.raises(gradproofs.Mismatch):
        reference.assert_matches("numpy, full BPTT", full, precision="float64", derivative_from_output=False,
                                 fields=("W",))
    whole = lm.reference(TOKENS, TARGETS, **PARAMETERS)
    assert np.all(reference.scales()["W"] <= whole.scales()["W"])
    assert np.any(reference.scales()["W"] < whole.scales()["W"])
    assert reference.hidden_part(None).truncate == truncate
