"""check_rnn_lm passes min-char-rnn's lossFun (written here in its style) and torch, with declared
conventions only, and catches each planted bug with a counterexample that can be pasted into a test."""

import re

import numpy as np
import pytest
from styles import min_char_rnn

import gradproofs
from gradproofs.lm import engine as lm
from gradproofs.oracle import check_rnn_lm

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# Sizes that narrow the search to where the bugs live, so that shrinking is quick.
SMALL = dict(max_steps=3, max_batch=2, max_vocabulary=3, max_hidden=2)
MIN_CHAR_RNN = dict(samples="single", returns=(None, "U", "W", "V", "b", "c", None), clip_value=5,
                    arguments=("tokens", "targets", "h0", "U", "W", "V", "b", "c"))


def torch_lm(tokens, targets, h0, U, W, b, V, c):
    return lm.backward_torch(tokens, targets, h0, U, W, b, V, c, embedding=True)


def test_min_char_rnn_passes_with_single_sequences_its_tuple_and_its_clip():
    assert check_rnn_lm(min_char_rnn.lossFun, **MIN_CHAR_RNN, max_examples=30).examples >= 20


def test_torch_passes_in_the_default_layout():
    assert check_rnn_lm(torch_lm, max_examples=10).examples == 10


@pytest.mark.slow
def test_one_hot_batch_first_in_out_code_passes_with_its_declared_layout():
    def batch_first(tokens, targets, h0, U, W, b, V, c):
        """One-hot rows (B, T, K), weights used as x @ W, the loss summed over the batch."""
        r = lm.backward(tokens.transpose(1, 0, 2), targets.T, h0, U.T, W.T, b, V.T, c, reduction="sum")
        return {"U": r.U.T, "W": r.W.T, "b": r.b, "V": r.V.T, "c": r.c, "h0": r.h0}

    layout = dict(tokens="one_hot", axes="batch time feature", weights="in_out", **SMALL)
    assert check_rnn_lm(batch_first, **layout, reduction="sum", max_examples=20).examples == 20
    with pytest.raises(gradproofs.Mismatch) as failure:
        check_rnn_lm(batch_first, **layout, max_examples=50)
    assert "declare reduction='sum'" in str(failure.value)


def pasted(message: str) -> list:
    block = message.split("Smallest counterexample found:\n", 1)[1]
    arguments = []
    for line in block.splitlines()[1:]:
        found = re.match(r"    (\w+) = (.*)$", line)
        if not found:
            break
        arguments.append(eval(found.group(2), {"np": np}))  # noqa: S307 - our own report
    return arguments


# bug: (switches of lossFun, the sizes that narrow the search to where it lives: shrinking is quick)
BUGS = {
    "the output error without the −1 at the target": (dict(target_minus_one=False), dict(max_steps=2)),
    "the hidden state aliased, every step seeing the last one": (dict(alias_state=True), dict(max_steps=3)),
    "tanh′ taken at the previous step": (dict(tanh_prime_of_previous=True), dict(max_steps=3)),
    "the future gradient not carried back": (dict(carry=False), dict(max_steps=3)),
    "∂E/∂V built from h_(t−1)": (dict(dWhy_from_previous=True), dict(max_steps=2)),
    # |∂E/∂c| > 5 needs T·(1 − 1/K) > 5: seven steps, four tokens.
    "a clip applied to only some arrays": (dict(clip=("dWxh", "dWhh", "dWhy")), dict(max_steps=7, max_vocabulary=5)),
}
NARROW = dict(max_batch=1, max_vocabulary=3, max_hidden=2)


def _buggy(bug):
    def buggy(*args):
        return min_char_rnn.lossFun(*args, **BUGS[bug][0])

    return buggy


@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.slow
def test_planted_bugs_are_caught_with_a_pasteable_counterexample(bug):
    buggy = _buggy(bug)
    with pytest.raises(gradproofs.Mismatch) as failure:
        check_rnn_lm(buggy, **MIN_CHAR_RNN, max_examples=100, **{**NARROW, **BUGS[bug][1]})
    message = str(failure.value)
    assert re.search(r"T = \d, B = 1, K = [2-5], H = [12]", message), message
    arguments = pasted(message)
    wrong, right = buggy(*arguments)[1:6], min_char_rnn.lossFun(*arguments)[1:6]
    assert any(not np.allclose(w, r) for w, r in zip(wrong, right)), message


@pytest.mark.thorough
def test_planted_bugs_are_caught_at_the_default_sizes():
    for bug in BUGS:
        with pytest.raises(gradproofs.Mismatch):
            check_rnn_lm(_buggy(bug), **MIN_CHAR_RNN, max_examples=100, max_steps=7)


@pytest.mark.parametrize("options, error, message", [
    (dict(tokens="indices"), ValueError, "unknown tokens 'indices'"),
    (dict(samples="columns"), ValueError, "unknown samples 'columns'"),
    (dict(samples="single", reduction="sum"), ValueError, "reduction must be left out"),
    (dict(clip_value=-5), ValueError, "clip_value must be a positive finite number"),
    (dict(returns=(None, "U", "dU")), ValueError, "returns names 'dU'"),
    (dict(max_vocabulary=1), ValueError, "max_vocabulary must be at least 2"),
])
def test_bad_options_are_refused_before_any_example(options, error, message):
    with pytest.raises(error, match=message):
        check_rnn_lm(min_char_rnn.lossFun, **options)
