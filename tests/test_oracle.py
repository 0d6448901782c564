"""check_chain passes correct implementations and catches each planted bug."""

import re

import numpy as np
import pytest

import gradproofs
from gradproofs.oracle import check_chain


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _backprop(w, b, x, y, *, pairing=1, output_prime=True, input_of_layer=True, dtype=np.float64):
    """A textbook backprop for the sigmoid chain, with switches that plant bugs."""
    w, b = np.asarray(w, dtype=dtype), np.asarray(b, dtype=dtype)
    a, z = [dtype(x)], []
    for w_j, b_j in zip(w, b):
        z.append(w_j * a[-1] + b_j)
        a.append(_sigmoid(z[-1]))
    prime = [s * (1 - s) for s in a[1:]]
    delta = [None] * len(w)
    delta[-1] = (prime[-1] if output_prime else 1.0) * (a[-1] - dtype(y))
    for j in range(len(w) - 2, -1, -1):
        delta[j] = prime[j] * w[j + pairing] * delta[j + 1]
    inputs = a[:-1] if input_of_layer else a[1:]
    return np.array([i * d for i, d in zip(inputs, delta)]), np.array(delta)


def correct(w, b, x, y):
    return _backprop(w, b, x, y)


def with_torch_autograd(w, b, x, y):
    import torch

    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    a = torch.tensor(x, dtype=torch.float64)
    for j in range(len(w)):
        a = torch.sigmoid(wt[j] * a + bt[j])
    (0.5 * (a - y) ** 2).backward()
    return wt.grad.numpy(), bt.grad.numpy()


def in_float32(w, b, x, y):
    return _backprop(w, b, x, y, dtype=np.float32)


def test_correct_implementations_pass():
    for fn in (correct, with_torch_autograd, in_float32):
        report = check_chain(fn, max_examples=60)
        assert report.examples >= 30
        assert "agreed with the reference" in str(report)


@pytest.mark.parametrize("bug, fn", [
    ("σ′ paired with w_j instead of w_(j+1)", lambda w, b, x, y: _backprop(w, b, x, y, pairing=0)),
    ("no σ′ at the output layer", lambda w, b, x, y: _backprop(w, b, x, y, output_prime=False)),
    ("∂C/∂w_j = a_j·δ_j instead of a_(j−1)·δ_j", lambda w, b, x, y: _backprop(w, b, x, y, input_of_layer=False)),
    ("dw and db swapped", lambda w, b, x, y: _backprop(w, b, x, y)[::-1]),
])
def test_planted_bugs_are_caught_with_a_small_counterexample(bug, fn):
    with pytest.raises(gradproofs.Mismatch) as caught:
        check_chain(fn, max_examples=100)
    message = str(caught.value)
    assert "Smallest counterexample" in message and "got" in message and "expected" in message
    depths = [int(d) for d in re.findall(r"  depth (\d+):", message)]
    assert depths and max(depths) <= 3, message


def test_modifying_the_inputs_is_caught():
    def in_place(w, b, x, y):
        w *= 1.0 + 1e-3
        return correct(w, b, x, y)

    with pytest.raises(gradproofs.Mismatch, match="modified its arguments"):
        check_chain(in_place, max_examples=20)


def test_a_crash_is_reported_as_a_mismatch():
    def crashes(w, b, x, y):
        raise RuntimeError("boom")

    with pytest.raises(gradproofs.Mismatch, match="fn raised RuntimeError"):
        check_chain(crashes, max_examples=5)


def test_mismatch_is_an_assertion_error():
    assert issubclass(gradproofs.Mismatch, AssertionError)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(activation="softsign"), ValueError, "unknown activation"),
    (dict(cost="cross_entropy", activation="tanh"), ValueError, "needs a sigmoid output"),
    (dict(max_examples=0), ValueError, "max_examples must be at least 1"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        check_chain(correct, **kwargs)
    with pytest.raises(TypeError, match="fn must be callable"):
        check_chain(42)
