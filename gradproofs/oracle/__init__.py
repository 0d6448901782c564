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
>>> check_gradients(my_backward, spec=lambda x, W: torch.tanh(x @ W).sum(), shapes={"x": ("B", "D"), "W": ("D", "H")})

Each runner draws inputs with Hypothesis, hands ``fn`` copies laid out in the
conventions it declares (:mod:`gradproofs.oracle.conventions`), compares what
it returns with the exact (40-digit) gradients or with a framework's clipping
convention under a derived rounding tolerance, and on failure raises
:class:`gradproofs.Mismatch` giving each kind of disagreement its smallest
counterexample, reproducible. :data:`ORACLES` lists them by the name the
command line uses (``gradproofs check TARGET --oracle NAME``).

This package holds what the oracles share (:mod:`gradproofs.oracle.harness`,
:mod:`gradproofs.oracle.conventions`) and the oracle of any differentiable function,
``check_gradients`` and ``check_module`` (:mod:`gradproofs.oracle.generic`); each other oracle is in its family's
package, whose declaration (``FAMILY.oracles``) names what it offers here. Those packages import
the harness, so they are imported on first use of a name below, all of them, and
:data:`ORACLES` lists their oracles in the families' order, then the generic one.
"""

import importlib
import importlib.util

from gradproofs.oracle import harness
from gradproofs.oracle.harness import Oracle, Report

_SHARED = ["ORACLES", "Oracle", "Report"]
_GENERIC = ["check_gradients", "check_module"]  # gradproofs.oracle.generic's


def _load() -> None:
    """Offer every family's declared oracle names here, and list ``harness.ORACLES`` in the families'
    order (any oracle defined outside a family after them); ``__all__`` names them all."""
    catalogue = importlib.import_module("gradproofs.catalogue")
    generic = importlib.import_module("gradproofs.oracle.generic")
    offered = {**catalogue.offered("oracles"), **{name: getattr(generic, name) for name in _GENERIC}}
    rank = {f"gradproofs.{name}": index for index, name in enumerate(catalogue.declarations())}
    order = sorted(harness.ORACLES.items(), key=lambda item: rank.get(item[1].__module__.rpartition(".")[0],
                                                                       len(rank)))
    harness.ORACLES.clear()
    harness.ORACLES.update(order)
    globals().update(offered, ORACLES=harness.ORACLES, __all__=_SHARED + sorted(offered))


def __getattr__(name: str):
    """The offered names (and ``__all__``), loaded on first use; a submodule is imported, not loaded here."""
    if name == "__all__" or not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is None:
        _load()
        if name in globals():
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    _load()
    return sorted(globals())
