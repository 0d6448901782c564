"""check_rnn_bptt passes correct backpropagation through time and catches each planted bug."""

import re

import numpy as np
import pytest

import gradproofs
from gradproofs.rnn import engine as rnn
from gradproofs.oracle import check_rnn_bptt


def _bptt(x, h0, W_x, W_h, b, dL_dh, *, dtype=np.float64, truncate=None, fprime_of_previous=False,
          state_of_step=False, carry=True, h0_through_W_h=True):
    """A textbook tanh BPTT over a batch (sequences are rows), with switches that plant bugs.

    truncate: each loss term is carried back at most this many steps; fprime_of_previous:
    tanh′ formed from h_(t−1) instead of h_t; state_of_step: ∂L/∂W_h sums δ_tᵀ h_t instead of
    δ_tᵀ h_(t−1); carry=False: δ_t without what comes back from later steps; h0_through_W_h=False:
    ∂L/∂h_0 = δ_1, the last product with W_h left out.
    """
    x, h0, W_x, W_h, b, dL_dh = (np.asarray(v, dtype=dtype) for v in (x, h0, W_x, W_h, b, dL_dh))
    h = [h0]
    for x_t in x:
        h.append(np.tanh(x_t @ W_x.T + h[-1] @ W_h.T + b))
    steps = len(x)
    fprime = [1 - h[t - 1 if fprime_of_previous else t] ** 2 for t in range(1, steps + 1)]
    grads = {"W_x": np.zeros_like(W_x), "W_h": np.zeros_like(W_h), "b": np.zeros_like(b),
             "h0": np.zeros_like(h0)}
    # One backward pass per loss term: the sum over them is BPTT, and a pass stopped early truncates it.
    for last in range(steps, 0, -1) if truncate else [None]:
        carried = np.zeros_like(h0)
        first = 1 if truncate is None else max(1, last - truncate + 1)
        for t in range(last or steps, first - 1, -1):
            own = dL_dh[t - 1] if truncate is None or t == last else 0.0
            delta = (own + (carried if carry else 0.0)) * fprime[t - 1]
            grads["W_x"] += delta.T @ x[t - 1]
            grads["W_h"] += delta.T @ h[t if state_of_step else t - 1]
            grads["b"] += delta.sum(axis=0)
            carried = delta @ W_h
        if first == 1:
            grads["h0"] += carried if h0_through_W_h else delta
    return grads


def _autograd(x, h0, W_x, W_h, b, dL_dh):
    """The network as a torch user writes it: a loop over the steps, a loss, backward()."""
    import torch

    parameters = {name: torch.tensor(value, requires_grad=True)
                  for name, value in (("W_x", W_x), ("W_h", W_h), ("b", b), ("h0", h0))}
    h, loss = parameters["h0"], 0.0
    for x_t, g_t in zip(torch.from_numpy(x), torch.from_numpy(dL_dh)):
        h = torch.tanh(x_t @ parameters["W_x"].T + h @ parameters["W_h"].T + parameters["b"])
        loss = loss + (g_t * h).sum()
    loss.backward()
    return {name: p.grad for name, p in parameters.items()}


def _sizes(message):
    """The sizes of the smallest counterexample in a report (one per kind of mismatch)."""
    sizes = re.findall(r"T = (\d+), B = (\d+), I = (\d+), H = (\d+):", message)
    assert sizes, message
    return dict(zip("TBIH", min(tuple(map(int, found)) for found in sizes)))


def test_correct_implementations_pass():
    for fn in (_bptt, _autograd):
        report = check_rnn_bptt(fn, max_examples=20)
        assert report.examples >= 15
        assert "agreed with the reference" in str(report) and report.worst_error < 1e-8


def test_float32_results_are_judged_with_float32_rounding():
    report = check_rnn_bptt(lambda *args: _bptt(*args, dtype=np.float32), max_examples=15)
    assert report.examples >= 10 and report.worst_error > 1e-12


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_other_activations_pass_through_torch(activation):
    def autograd(*args):
        gradients = rnn.bptt_torch(*args, activation=activation)
        return {"W_x": gradients.W_x, "W_h": gradients.W_h, "b": gradients.b, "h0": gradients.h0}

    assert check_rnn_bptt(autograd, activation=activation, max_examples=10).examples >= 5


# bug: (switches of _bptt, the fewest steps that show it)
BUGS = {
    "BPTT truncated to 3 steps": (dict(truncate=3), 4),
    "tanh′ at the previous step, 1 − h_(t−1)²": (dict(fprime_of_previous=True), 1),
    "∂L/∂W_h from δ_tᵀ h_t instead of δ_tᵀ h_(t−1)": (dict(state_of_step=True), 1),
    "the future gradient not carried back": (dict(carry=False), 2),
    "∂L/∂h_0 = δ_1, without the last product with W_h": (dict(h0_through_W_h=False), 1),
}


@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.slow
def test_planted_bugs_are_caught_with_a_small_counterexample(bug):
    planted, steps = BUGS[bug]
    with pytest.raises(gradproofs.Mismatch) as caught:
        check_rnn_bptt(lambda *args: _bptt(*args, **planted), max_examples=100)
    message = str(caught.value)
    assert "Smallest counterexample found" in message, message
    assert re.search(r"fn (W_x|W_h|b|h0)\[.*got .*, expected ", message), message
    sizes = _sizes(message)
    assert sizes["T"] == steps and sizes["B"] == sizes["I"] == sizes["H"] == 1, message


def test_truncated_bptt_passes_against_its_own_exact_gradient():
    assert check_rnn_bptt(_truncated(2), truncate=2, max_steps=5, max_examples=30).examples == 30


@pytest.mark.slow
def test_truncated_bptt_gets_the_hint_of_its_truncation_and_full_bptt_that_of_none():
    truncated = _truncated(2)  # carried back 2 steps beyond each term's own
    with pytest.raises(gradproofs.Mismatch) as caught:
        check_rnn_bptt(truncated, max_steps=5, max_examples=100)
    message = str(caught.value)
    assert "Hint: fn matches BPTT truncated to 2 steps: declare truncate=2" in message, message
    assert _sizes(message)["T"] == 4, message  # the fewest steps that tell k = 2 from full BPTT
    with pytest.raises(gradproofs.Mismatch, match="Hint: fn runs full BPTT: leave out truncate"):
        check_rnn_bptt(_bptt, truncate=2, max_steps=5, max_examples=100)


@pytest.mark.slow
def test_the_truncation_hint_stays_silent_for_a_bug_that_is_no_truncation():
    with pytest.raises(gradproofs.Mismatch) as caught:
        check_rnn_bptt(lambda *args: _bptt(*args, fprime_of_previous=True), max_steps=5, max_examples=100)
    assert "truncate" not in str(caught.value), caught.value


def _truncated(k):
    """_bptt's truncation counts a term's own step: k steps back beyond it is k + 1 there."""
    return lambda *args: _bptt(*args, truncate=k + 1)


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_the_truncated_float_engine_agrees_with_a_loop_over_the_loss_terms(k):
    problem = (np.linspace(-1, 1, 24).reshape(6, 2, 2), np.array([[0.1, -0.2], [0.3, 0.0]]),
               np.array([[0.5, -0.4], [0.3, 0.2]]), np.array([[0.9, -0.3], [0.2, 0.7]]),
               np.array([0.1, -0.1]), np.linspace(-1, 1, 24).reshape(6, 2, 2)[::-1])
    ours, theirs = _truncated(k)(*problem), rnn.bptt(*problem, truncate=k)
    for name in ours:
        np.testing.assert_allclose(ours[name], getattr(theirs, name), rtol=1e-13, atol=1e-15)
    if k == 5:  # k ≥ T − 1: full BPTT
        full = rnn.bptt(*problem)
        assert all(np.allclose(getattr(full, name), getattr(theirs, name), rtol=1e-13) for name in ours)
    else:
        assert not np.allclose(rnn.bptt(*problem).W_h, theirs.W_h)


def test_a_correct_implementation_with_the_bug_switches_off_is_rnn_bptt():
    problem = (np.linspace(-1, 1, 12).reshape(3, 2, 2), np.array([[0.1, -0.2], [0.3, 0.0]]),
               np.array([[0.5, -0.4], [0.3, 0.2]]), np.array([[0.9, -0.3], [0.2, 0.7]]),
               np.array([0.1, -0.1]), np.linspace(-1, 1, 12).reshape(3, 2, 2))
    ours, theirs = _bptt(*problem), rnn.bptt(*problem)
    for name in ours:
        np.testing.assert_allclose(ours[name], getattr(theirs, name), rtol=1e-13, atol=1e-15)


def _modifies_W_h(x, h0, W_x, W_h, b, dL_dh):
    grads = _bptt(x, h0, W_x, W_h, b, dL_dh)
    W_h *= 1.0 + 1e-3
    return grads


def _crashes(*args):
    raise RuntimeError("boom")


def _without(key):
    return lambda *args: {name: value for name, value in _bptt(*args).items() if name != key}


def _replacing(key, change):
    def fn(*args):
        grads = _bptt(*args)
        return {**grads, key: change(grads[key], *args)}

    return fn


MISBEHAVIOURS = {
    "modifies W_h in place": (_modifies_W_h, "modified its arguments in place: W_h"),
    "crashes": (_crashes, "fn raised RuntimeError"),
    "returns a tuple": (lambda *args: tuple(_bptt(*args).values()),
                        r"fn returned a tuple of 4 items without 'W_x', the key read for the gradient of W_x"),
    "returns no h0 gradient": (_without("h0"), "fn returned a dict without 'h0'"),
    "b not summed over the batch": (
        _replacing("b", lambda b, x, *rest: np.broadcast_to(b / x.shape[1], (x.shape[1], b.size))),
        r"fn b has shape \(1, 1\), expected \(1,\)"),
    "h0 summed over the batch": (_replacing("h0", lambda h0, *args: h0.sum(axis=0)),
                                 r"fn h0 has shape \(1,\), expected \(1, 1\)"),
}


@pytest.mark.parametrize("behaviour", MISBEHAVIOURS)
def test_misbehaviour_is_reported_as_a_mismatch(behaviour):
    fn, message = MISBEHAVIOURS[behaviour]
    with pytest.raises(gradproofs.Mismatch, match=message):
        check_rnn_bptt(fn, max_examples=10)


def test_extra_keys_are_ignored():
    def with_states(*args):
        return {**_bptt(*args), "states": None}

    assert check_rnn_bptt(with_states, max_examples=5).examples == 5


@pytest.mark.parametrize("fn, options, error, message", [
    (42, {}, TypeError, "fn must be callable, got int"),
    (_bptt, dict(activation="softsign"), ValueError, "unknown activation 'softsign'"),
    (_bptt, dict(max_examples=0), ValueError, "max_examples must be at least 1"),
    (_bptt, dict(max_examples=2.5), TypeError, "max_examples must be an integer"),
])
def test_bad_arguments_are_refused_before_any_example(fn, options, error, message):
    with pytest.raises(error, match=message):
        check_rnn_bptt(fn, **options)


@pytest.mark.thorough
def test_a_bug_only_the_longest_sequences_show_is_caught_in_99_of_100_runs():
    """BPTT truncated to T − 1 steps shows only at T = max_steps: 100 independent runs of 100
    examples each (no shrinking, no example database) must catch it at least 99 times."""
    from hypothesis import Phase, settings

    previous = settings.get_current_profile_name()
    settings.register_profile("catch-rate", database=None, max_examples=100, phases=[Phase.generate],
                              derandomize=False)
    settings.load_profile("catch-rate")
    try:
        caught = 0
        for _ in range(100):
            try:
                check_rnn_bptt(lambda *args: _bptt(*args, truncate=5))  # max_steps is 6
            except gradproofs.Mismatch:
                caught += 1
    finally:
        settings.load_profile(previous)
    assert caught >= 99, caught


def _batch_first_column_bias(x, h0, W_x, W_h, b, dL_dh):
    """An RNN layer whose sequences are batch-first (B, T, ·) and whose bias is a column (H, 1)."""
    grads = _bptt(x.transpose(1, 0, 2), h0, W_x, W_h, b[:, 0], dL_dh.transpose(1, 0, 2))
    return {**grads, "b": grads["b"][:, None]}


def test_a_column_bias_with_batch_first_sequences_is_declared_apart_from_the_axes():
    layout = dict(axes="batch time feature", max_steps=3)
    assert check_rnn_bptt(_batch_first_column_bias, **layout, bias_layout="column", max_examples=20).examples == 20
    with pytest.raises(gradproofs.Mismatch, match="Hint: fn takes biases as columns \\(n, 1\\): declare "
                                                  "bias_layout='column'"):
        check_rnn_bptt(_batch_first_column_bias, **layout, max_examples=20)


# --- an output projection y_t = V h_t + c ---------------------------------------------------------

def _projected_autograd(x, h0, W_x, W_h, b, V, c, dL_dy, *, dtype="float32"):
    """The layer and its projection in torch, differentiated by autograd: L = Σ_t ∂L/∂y_t · y_t."""
    torch = pytest.importorskip("torch")
    names = ("W_x", "W_h", "b", "h0", "V", "c")
    leaves = {name: torch.tensor(value, dtype=getattr(torch, dtype), requires_grad=True)
              for name, value in zip(names, (W_x, W_h, b, h0, V, c))}
    h, loss = leaves["h0"], 0
    inputs, upstream = (torch.tensor(array, dtype=getattr(torch, dtype)) for array in (x, dL_dy))
    for x_t, g_t in zip(inputs, upstream):
        h = torch.tanh(x_t @ leaves["W_x"].T + h @ leaves["W_h"].T + leaves["b"])
        loss = loss + ((h @ leaves["V"].T + leaves["c"]) * g_t).sum()
    if torch.is_tensor(loss):
        loss.backward()
    return {name: leaf.grad if leaf.grad is not None else torch.zeros_like(leaf) for name, leaf in leaves.items()}


def test_autograd_through_a_projection_passes_in_float32():
    assert check_rnn_bptt(_projected_autograd, projection=True, max_examples=60).examples == 60


def test_a_projection_missing_from_dL_dh_is_caught():
    def unprojected(x, h0, W_x, W_h, b, V, c, dL_dy):
        result = _projected_autograd(x, h0, W_x, W_h, b, V, c, dL_dy, dtype="float64")
        result["V"] = result["V"] * 0  # V's gradient forgotten
        return result

    with pytest.raises(gradproofs.Mismatch, match=r"fn V\[0\]\[0\]: got 0.0") as failure:
        check_rnn_bptt(unprojected, projection=True, max_examples=100)
    assert "O = 1" in str(failure.value) and "dL_dy = np.array(" in str(failure.value), str(failure.value)


def test_the_projections_options_are_checked_together():
    with pytest.raises(gradproofs.InvalidArgument, match="max_outputs sizes the output projection: it needs "
                                                         "projection=True"):
        check_rnn_bptt(_projected_autograd, max_outputs=2)
    with pytest.raises(gradproofs.InvalidArgument, match="arguments leaves out 'V'"):
        check_rnn_bptt(_projected_autograd, projection=True, arguments=("x", "h0", "W_x", "W_h", "b", "dL_dy"))
    with pytest.raises(gradproofs.InvalidArgument, match="'dL_dh', which is not an argument"):
        check_rnn_bptt(_projected_autograd, projection=True,
                       arguments=("x", "h0", "W_x", "W_h", "b", "V", "dL_dh"))
    # c enters no gradient: fn may leave it out; with biases=False the model has none, and fn returns none.
    def without_c(x, h0, W_x, W_h, b, V, dL_dy):
        return _projected_autograd(x, h0, W_x, W_h, b, V, np.zeros(V.shape[0]), dL_dy, dtype="float64")

    arguments = ("x", "h0", "W_x", "W_h", "b", "V", "dL_dy")
    assert check_rnn_bptt(without_c, projection=True, arguments=arguments, max_examples=20).examples == 20
