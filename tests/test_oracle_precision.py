"""No false alarms: correct implementations in every precision, torch's own modules and torch's own
clipping pass the oracles; in half precision, planted bugs are still caught.

The number of examples follows the Hypothesis profile: CI runs this file with the gradproofs-thorough
profile (1000 examples per check:
`python -m pytest tests/test_oracle_precision.py --hypothesis-profile gradproofs-thorough`).
"""

import numpy as np
import pytest

import gradproofs
from gradproofs.lm import engine as lm
from gradproofs.mlp import engine as mlp
from gradproofs.rnn import engine as rnn
from gradproofs.oracle import (check_clip_grad_norm, check_clip_grad_value, check_lstm_bptt, check_mlp,
                               check_rnn_bptt, check_rnn_lm, torch_in_place)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def numpy_float16_mlp(weights, biases, x, y, *, output_prime=True):
    """A sigmoid network's backprop with every operation in float16, returning float16."""
    h = np.float16
    W, b = [w.astype(h) for w in weights], [v.astype(h) for v in biases]
    a = [x.astype(h)]
    for W_l, b_l in zip(W, b):
        a.append(h(1) / (h(1) + np.exp(-(a[-1] @ W_l.T + b_l))))
    delta = (a[-1] - y.astype(h)) * (a[-1] * (h(1) - a[-1]) if output_prime else h(1))
    dW, db = [], []
    for l in range(len(W) - 1, -1, -1):
        dW.insert(0, delta.T @ a[l] / h(len(x)))
        db.insert(0, delta.sum(axis=0) / h(len(x)))
        delta = (delta @ W[l]) * a[l] * (h(1) - a[l])
    return dW, db


def torch_mlp(dtype, returned):
    """nn.Linear layers in ``dtype``, their gradients returned as ``returned``."""
    def fn(weights, biases, x, y):
        r = mlp.backward_torch(weights, biases, x, y, dtype=dtype)
        return [g.to(returned) for g in r.dW], [g.to(returned) for g in r.db]

    return fn


def torch_rnn_loop(dtype):
    def fn(x, h0, W_x, W_h, b, dL_dh):
        r = rnn.bptt_torch(x, h0, W_x, W_h, b, dL_dh, dtype=dtype)
        return {"W_x": r.W_x, "W_h": r.W_h, "b": r.b, "h0": r.h0}

    return fn


def _module(kind, W_x, W_h, b, hidden):
    """A one-layer torch.nn.RNN or nn.LSTM holding W_x, W_h, b (its second bias 0)."""
    module = kind(W_x.shape[1], hidden, dtype=torch.float64)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(W_x))
        module.weight_hh_l0.copy_(torch.from_numpy(W_h))
        module.bias_ih_l0.copy_(torch.from_numpy(b))
        module.bias_hh_l0.zero_()
    return module


def nn_rnn(x, h0, W_x, W_h, b, dL_dh):
    """torch.nn.RNN as a user wraps it: the module's weights set, L = Σ⟨dL_dh, h⟩, backward()."""
    module = _module(torch.nn.RNN, W_x, W_h, b, h0.shape[1])
    initial = torch.tensor(h0[None], requires_grad=True)
    inputs = torch.tensor(x, requires_grad=True)
    outputs, _ = module(inputs, initial)
    (outputs * torch.from_numpy(dL_dh)).sum().backward()
    return {"W_x": module.weight_ih_l0.grad, "W_h": module.weight_hh_l0.grad, "b": module.bias_ih_l0.grad,
            "h0": initial.grad[0], "x": inputs.grad}


def nn_lstm(x, h0, c0, W_x, W_h, b, dL_dh):
    """torch.nn.LSTM as a user wraps it (torch's gate order i, f, g, o)."""
    module = _module(torch.nn.LSTM, W_x, W_h, b, h0.shape[1])
    states = [torch.tensor(s[None], requires_grad=True) for s in (h0, c0)]
    inputs = torch.tensor(x, requires_grad=True)
    outputs, _ = module(inputs, tuple(states))
    (outputs * torch.from_numpy(dL_dh)).sum().backward()
    return {"W_x": module.weight_ih_l0.grad, "W_h": module.weight_hh_l0.grad, "b": module.bias_ih_l0.grad,
            "h0": states[0].grad[0], "c0": states[1].grad[0], "x": inputs.grad}


def cs231n_rnn_in_float32(x, h0, Wx, Wh, b, dh):
    from styles import cs231n

    _, cache = cs231n.rnn_forward(x, h0, Wx, Wh, b, np.float32)
    return cs231n.rnn_backward(dh, cache)


def min_char_rnn_loss(*args):
    from styles import min_char_rnn

    return min_char_rnn.lossFun(*args)


def torch_lm(tokens, targets, h0, U, W, b, V, c):
    return lm.backward_torch(tokens, targets, h0, U, W, b, V, c, embedding=True)


NO_FALSE_ALARM = [
    ("a NumPy MLP in float16", check_mlp, numpy_float16_mlp, {}),
    ("nn.Linear in float16", check_mlp, torch_mlp(torch.float16, torch.float16), {}),
    ("nn.Linear in bfloat16, returning float32", check_mlp, torch_mlp(torch.bfloat16, torch.float32),
     dict(precision="bfloat16")),
    ("nn.Linear in float32, returning float64", check_mlp, torch_mlp(torch.float32, torch.float64),
     dict(precision="float32")),
    ("CS231n's RNN in float32, returning float64", check_rnn_bptt, cs231n_rnn_in_float32,
     dict(axes="batch time feature", weights="in_out", inputs=True, returns=("x", "h0", "W_x", "W_h", "b"),
          precision="float32")),
    ("a torch RNN loop in float16", check_rnn_bptt, torch_rnn_loop(torch.float16), {}),
    ("a torch RNN loop in bfloat16", check_rnn_bptt, torch_rnn_loop(torch.bfloat16), {}),
    ("torch.nn.RNN", check_rnn_bptt, nn_rnn, dict(inputs=True)),
    ("torch.nn.LSTM", check_lstm_bptt, nn_lstm, dict(inputs=True)),
    ("min-char-rnn's lossFun", check_rnn_lm, min_char_rnn_loss,
     dict(samples="single", returns=(None, "U", "W", "V", "b", "c", None), clip_value=5,
          arguments=("tokens", "targets", "h0", "U", "W", "V", "b", "c"))),
    ("a torch language model (nn.Embedding, nn.RNN, nn.Linear, cross_entropy)", check_rnn_lm, torch_lm, {}),
    ("torch.nn.utils.clip_grad_norm_", check_clip_grad_norm, torch_in_place(torch.nn.utils.clip_grad_norm_), {}),
    ("torch.nn.utils.clip_grad_norm_ without foreach", check_clip_grad_norm,
     torch_in_place(torch.nn.utils.clip_grad_norm_, foreach=False), {}),
    ("torch.nn.utils.clip_grad_value_", check_clip_grad_value, torch_in_place(torch.nn.utils.clip_grad_value_), {}),
]


@pytest.mark.parametrize("check, fn, options", [case[1:] for case in NO_FALSE_ALARM],
                         ids=[case[0] for case in NO_FALSE_ALARM])
def test_correct_implementations_pass(check, fn, options):
    from hypothesis import settings

    report = check(fn, **options)
    assert report.examples >= settings.default.max_examples // 2, report


def test_half_precision_is_judged_and_not_waved_through():
    # float16 results are compared (not all under the dtype's underflow floor) ...
    assert check_mlp(numpy_float16_mlp, max_examples=50).worst_error > 0
    # ... and a planted bug is caught at float16's rounding.
    with pytest.raises(gradproofs.Mismatch, match="Smallest counterexample"):
        check_mlp(lambda *args: numpy_float16_mlp(*args, output_prime=False), max_examples=100)


def test_bfloat16_results_are_judged_with_bfloat16_rounding():
    report = check_mlp(torch_mlp(torch.bfloat16, torch.bfloat16), max_examples=30)
    assert report.worst_error > 2.0 ** -10  # errors a float16 (or finer) judge would refuse
    # Returned as float32 but computed in bfloat16: judged at float32's rounding unless declared.
    with pytest.raises(gradproofs.Mismatch, match=r"(dW|db) values"):
        check_mlp(torch_mlp(torch.bfloat16, torch.float32), max_examples=30)
