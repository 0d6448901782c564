"""check_mlp passes correct dense-network backprops and catches each planted bug."""

import re

import numpy as np
import pytest

import gradproofs
from gradproofs.mlp import engine as mlp
from gradproofs.compare import Agreement
from gradproofs.oracle import check_mlp

COSTS = ("quadratic", "cross_entropy", "softmax_cross_entropy")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _backprop(weights, biases, x, y, *, cost="quadratic", dtype=np.float64, transpose=False,
              transpose_square_only=False, skip_prime=None, batch_sum=False, bias="mean"):
    """A textbook sigmoid backprop over a batch (samples are rows), with switches that plant bugs.

    skip_prime: "first hidden" or "last" layer whose σ′ is left out; bias: "mean" (right),
    "first sample" or "unsummed" (the (B, n) array of per-sample terms).
    """
    weights = [np.asarray(W, dtype=dtype) for W in weights]
    biases = [np.asarray(b, dtype=dtype) for b in biases]
    x, y = np.asarray(x, dtype=dtype), np.asarray(y, dtype=dtype)
    depth = len(weights)
    a = [x]
    for l, (W, b) in enumerate(zip(weights, biases)):
        z = a[-1] @ W.T + b
        a.append(_softmax(z) if cost == "softmax_cross_entropy" and l == depth - 1 else _sigmoid(z))
    skipped = {"first hidden": 0 if depth > 1 else None, "last": depth - 1, None: None}[skip_prime]

    def prime(l):
        return 1.0 if l == skipped else a[l + 1] * (1 - a[l + 1])

    delta = (a[-1] - y) * prime(depth - 1) if cost == "quadratic" else a[-1] - y
    scale = 1 if batch_sum else x.shape[0]
    dW, db = [None] * depth, [None] * depth
    for l in range(depth - 1, -1, -1):
        dW[l] = delta.T @ a[l] / scale
        db[l] = {"mean": delta.sum(axis=0) / scale, "first sample": delta[0],
                 "unsummed": delta / scale}[bias]
        if l:
            W = weights[l]
            if transpose or (transpose_square_only and W.shape[0] == W.shape[1]):
                W = W.T  # δ^l = δ^(l+1) W^(l+1)ᵀ: the column-vector habit carried into rows
            delta = (delta @ W) * prime(l - 1)
    return dW, db


def _with_nn_linear(weights, biases, x, y, *, cost="quadratic", dtype=None):
    """The network as a torch user writes it: nn.Linear layers, a loss, backward()."""
    import torch

    dtype = dtype or torch.float64
    layers = []
    for W, b in zip(weights, biases):
        layer = torch.nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(W))
            layer.bias.copy_(torch.from_numpy(b))
        layers.append(layer)
    a = torch.as_tensor(x, dtype=dtype)
    target = torch.as_tensor(y, dtype=dtype)
    for layer in layers[:-1]:
        a = torch.sigmoid(layer(a))
    z = layers[-1](a)
    functional = torch.nn.functional
    if cost == "quadratic":
        loss = 0.5 * ((torch.sigmoid(z) - target) ** 2).sum(dim=1).mean()
    elif cost == "cross_entropy":
        loss = functional.binary_cross_entropy_with_logits(z, target, reduction="sum") / len(x)
    else:
        loss = functional.cross_entropy(z, target)
    loss.backward()
    return ([layer.weight.grad.numpy() for layer in layers],
            [layer.bias.grad.numpy() for layer in layers])


def _widths(message):
    """The widths of the smallest counterexample in a report (one per kind of mismatch)."""
    widths = re.findall(r"widths \[([^\]]*)\]", message)
    assert widths, message
    return min(([int(n) for n in found.split(",")] for found in widths), key=max)


@pytest.mark.parametrize("cost", COSTS)
def test_correct_implementations_pass(cost):
    for fn in (lambda *args: _backprop(*args, cost=cost),
               lambda *args: _with_nn_linear(*args, cost=cost)):
        report = check_mlp(fn, cost=cost, max_examples=20)
        assert report.examples >= 15
        assert "agreed with the reference" in str(report) and report.worst_error < 1e-8


def test_float32_results_are_judged_with_float32_rounding():
    import torch

    for fn in (lambda *args: _backprop(*args, dtype=np.float32),
               lambda *args: _with_nn_linear(*args, dtype=torch.float32)):
        report = check_mlp(fn, max_examples=20)
        assert report.examples >= 15 and report.worst_error > 1e-12


FIRST_LAYER_WRONG = r"widths \[\d, \d, \d(.|\n)*fn d[Wb]\[0\]\[.*expected"
# bug: (switches of _backprop, options of check_mlp, what the message must match)
BUGS = {
    "sum instead of mean over the batch": (dict(batch_sum=True), {}, r"a batch of 2:(.|\n)*expected"),
    # Options narrow the search to where the bug lives, which shrinks faster.
    "∂C/∂b from the first sample only": (
        dict(bias="first sample"), dict(max_depth=1), r"a batch of 2:(.|\n)*expected"),
    "∂C/∂b not summed over the batch": (
        dict(bias="unsummed"), {}, r"db\[\d\] has shape \(\d, 1\), expected \(1,\), the shape of biases"),
    # Only layer 0's gradients are wrong, in a network with a hidden layer.
    "no σ′ in the first hidden layer": (dict(skip_prime="first hidden"), {}, FIRST_LAYER_WRONG),
    "no σ′ in the first hidden layer, softmax output": (
        dict(skip_prime="first hidden", cost="softmax_cross_entropy"),
        dict(cost="softmax_cross_entropy", max_depth=2), FIRST_LAYER_WRONG),
    "no σ′ at the output layer": (dict(skip_prime="last"), {}, "expected"),
    # Transposed: a non-square layer crashes, a square one gives other numbers; either is a Mismatch.
    "δ^(l+1) W^(l+1)ᵀ": (dict(transpose=True), {}, r"fn raised ValueError|expected"),
    "δ^(l+1) W^(l+1)ᵀ on square layers": (
        dict(transpose_square_only=True), dict(max_width=2, max_batch=2),
        r"widths \[[^\]]*2, 2(.|\n)*got .*, expected "),
}


@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.slow
def test_planted_bugs_are_caught_with_a_small_counterexample(bug):
    planted, options, expected = BUGS[bug]
    with pytest.raises(gradproofs.Mismatch) as caught:
        check_mlp(lambda *args: _backprop(*args, **planted), max_examples=100, **options)
    message = str(caught.value)
    assert "Smallest counterexample found" in message, message
    assert re.search(expected, message), message
    assert max(_widths(message)) <= 2, message


def test_a_gradient_where_a_relu_is_off_must_be_zero():
    # x = 0.5 puts the hidden relu at z = −0.5: no gradient reaches weights[0] or biases[0].
    weights, biases = [np.array([[1.0]]), np.array([[1.0]])], [np.array([-1.0]), np.array([1.0])]
    x, y = np.array([[0.5]]), np.array([[0.0]])
    reference = mlp.reference(weights, biases, x, y, activation="relu")
    assert reference.well_conditioned(np.finfo(np.float32).eps)
    right = mlp.backward(weights, biases, x, y, activation="relu")
    exact = reference.assert_matches("fn", right, precision="float64", derivative_from_output=True)
    assert exact == Agreement(0.0, 0.0)
    wrong = {"dW": right.dW, "db": [np.array([1.0]), right.db[1]], "dx": right.dx}
    with pytest.raises(gradproofs.Mismatch, match=r"fn db\[0\]\[0\]: got 1.0, expected 0.0: .* by structure"):
        reference.assert_matches("fn", wrong, precision="float64", derivative_from_output=True)


@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
def test_other_activations_pass_through_autograd(activation):
    def autograd(weights, biases, x, y):
        gradients = mlp.backward_torch(weights, biases, x, y, activation=activation)
        return gradients.dW, gradients.db

    assert check_mlp(autograd, activation=activation, max_examples=10).examples >= 5


def _modifies_x(weights, biases, x, y):
    gradients = _backprop(weights, biases, x, y)
    x -= 1e-3
    return gradients


def _pops_a_layer(weights, biases, x, y):
    gradients = _backprop(weights, biases, x, y)
    weights.pop()
    return gradients


def _crashes(weights, biases, x, y):
    raise RuntimeError("boom")


MISBEHAVIOURS = {
    "modifies x in place": (_modifies_x, "modified its arguments in place: x"),
    "removes a layer from the weights list": (_pops_a_layer, "modified its arguments in place: weights"),
    "crashes": (_crashes, "fn raised RuntimeError"),
    "returns None": (lambda *args: None, r"fn must return a sequence of 2 items \(dW, db\), got a NoneType"),
    "returns no bias gradients": (lambda *args: (_backprop(*args)[0], []),
                                  r"fn's db must hold one array per layer \(\d\), got a list of 0 items"),
    "returns integer weight gradients": (
        lambda *args: ([np.rint(g).astype(np.int64) for g in _backprop(*args)[0]], _backprop(*args)[1]),
        r"dW dtype(.|\n)*fn's dW\[0\] has dtype int64, not a floating format"),
}


@pytest.mark.parametrize("behaviour", MISBEHAVIOURS)
def test_misbehaviour_is_reported_as_a_mismatch(behaviour):
    fn, message = MISBEHAVIOURS[behaviour]
    with pytest.raises(gradproofs.Mismatch, match=message):
        check_mlp(fn, max_examples=10)


@pytest.mark.parametrize("fn, options, error, message", [
    (42, {}, TypeError, "fn must be callable, got int"),
    (_backprop, dict(activation="softsign"), ValueError, "unknown activation 'softsign'"),
    (_backprop, dict(cost="hinge"), ValueError, "unknown cost 'hinge'"),
    (_backprop, dict(cost="cross_entropy", activation="tanh"), ValueError, "needs a sigmoid output"),
    (_backprop, dict(max_examples=0), ValueError, "max_examples must be at least 1"),
    (_backprop, dict(max_width=0), ValueError, "max_width must be at least 1"),
    (_backprop, dict(max_batch=2.5), TypeError, "max_batch must be an integer"),
])
def test_bad_arguments_are_refused_before_any_example(fn, options, error, message):
    with pytest.raises(error, match=message):
        check_mlp(fn, **options)


def test_a_mismatch_names_every_other_gradient_beyond_its_tolerance_and_none_within_it():
    from gradproofs.compare import Expected, judge

    def expected(values):
        return Expected(np.array(values, dtype=float), np.ones(len(values)), np.full(len(values), 1e-12))

    want = {"dW[0]": expected([1.0, 2.0]), "dW[1]": expected([3.0]), "db[0]": expected([4.0]), "db[1]": expected([5.0])}
    got = {"dW[0]": np.array([1.0, 2.5]), "dW[1]": np.array([3.0]), "db[0]": np.array([4.0 + 1e-3]),
           "db[1]": np.array([5.0 + 1e-15])}
    with pytest.raises(gradproofs.Mismatch) as caught:
        judge("fn", got, want, precision="float64", reason="test")
    message = str(caught.value)
    assert message.startswith("fn dW[0][1]"), message
    assert message.endswith("Also beyond their tolerance on this example: db[0]."), message
