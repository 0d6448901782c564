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

This package holds what the oracles share (:mod:`gradproofs.oracle.harness`,
:mod:`gradproofs.oracle.conventions`); each oracle is in its family's package
(``gradproofs.<family>.oracle``), and is offered here. Those modules
import the harness, so they are imported on first use of a name below, all
of them, in the order :data:`ORACLES` lists them.
"""

import importlib

from gradproofs.oracle import harness
from gradproofs.oracle.harness import Oracle, Report

__all__ = ["ORACLES", "Oracle", "Report", "check_chain", "check_clip_grad_norm", "check_clip_grad_value",
           "check_lstm_bptt", "check_mlp", "check_rnn_bptt", "check_rnn_lm", "torch_in_place"]

# Each family's oracle module, in the order ORACLES lists their oracles, and the names it offers here.
_FAMILY_ORACLES = {
    "gradproofs.chain.oracle": ("check_chain",),
    "gradproofs.mlp.oracle": ("check_mlp",),
    "gradproofs.rnn.oracle": ("check_rnn_bptt", "check_lstm_bptt"),
    "gradproofs.lm.oracle": ("check_rnn_lm",),
    "gradproofs.clipping.oracle": ("check_clip_grad_norm", "check_clip_grad_value", "torch_in_place"),
}


def _load() -> None:
    """Import every family's oracle module and offer its names here; list ``harness.ORACLES`` in
    their order (whichever module was imported first), any oracle defined elsewhere after them."""
    modules = list(_FAMILY_ORACLES)
    for name, offered in _FAMILY_ORACLES.items():
        module = importlib.import_module(name)
        globals().update({attribute: getattr(module, attribute) for attribute in offered})
    order = sorted(harness.ORACLES.items(), key=lambda item: modules.index(item[1].__module__)
                   if item[1].__module__ in modules else len(modules))
    harness.ORACLES.clear()
    harness.ORACLES.update(order)
    globals()["ORACLES"] = harness.ORACLES


def __getattr__(name: str):
    if name in __all__:
        _load()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
