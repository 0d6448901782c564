"""Check someone else's gradient code against the reference, from their own tests.

>>> from gradproofs.oracle import check_chain, check_mlp
>>> report = check_chain(my_backward)          # raises gradproofs.Mismatch on a bug
>>> print(report)
>>> check_mlp(nielsen_backprop, samples="single", returns=("db", "dW"))
>>> check_rnn_bptt(cs231n_rnn_backward, axes="batch time feature", weights="in_out", inputs=True,
...                returns=("x", "h0", "W_x", "W_h", "b"))
>>> check_lstm_bptt(my_lstm, gates="ifog", c0=False)
>>> check_rnn_lm(lossFun, samples="single", returns=(None, "U", "W", "V", "b", "c", None), clip_value=5)
>>> check_clip_grad_norm(my_clip, convention="optax")
>>> check_clip_grad_norm(torch_in_place(torch.nn.utils.clip_grad_norm_))

Each runner draws inputs with Hypothesis, hands ``fn`` copies laid out in the
conventions it declares (:mod:`gradproofs.oracle.conventions`), compares what
it returns with the exact (40-digit) gradients or with a framework's clipping
convention under a derived rounding tolerance, and on failure raises
:class:`gradproofs.Mismatch` giving each kind of disagreement its smallest
counterexample, reproducible. :data:`ORACLES` lists them by the name the
command line uses (``gradproofs check TARGET --oracle NAME``).
"""

from gradproofs.oracle.harness import ORACLES, Oracle, Report
from gradproofs.oracle.chain import check_chain  # noqa: I001 - in this order in ORACLES
from gradproofs.oracle.mlp import check_mlp
from gradproofs.oracle.recurrent import check_lstm_bptt, check_rnn_bptt
from gradproofs.oracle.lm import check_rnn_lm
from gradproofs.oracle.clipping import check_clip_grad_norm, check_clip_grad_value, torch_in_place

__all__ = ["ORACLES", "Oracle", "Report", "check_chain", "check_clip_grad_norm", "check_clip_grad_value",
           "check_lstm_bptt", "check_mlp", "check_rnn_bptt", "check_rnn_lm", "torch_in_place"]
