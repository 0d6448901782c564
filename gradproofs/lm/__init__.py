"""A character-level RNN language model: one-hot inputs, a tanh RNN, softmax outputs.

Its gradients by BPTT: ``backward`` (NumPy float64, ``LMGradients``), ``backward_exact`` (mpmath)
and ``backward_torch``; ``reference`` builds the ``Reference`` the judges use; ``train`` runs SGD
with and without clipping (a ``Training``). ``lm_sequences`` draws an ``LMSequence`` with
Hypothesis; ``check_rnn_lm`` checks someone else's BPTT.

The modules beneath this face are internal: ``engine``, ``training`` (the generated text and
the SGD loops), ``theorems`` (derivations/lm.md), ``strategies``, ``oracle`` and ``figures``.
``FAMILY`` declares the family to the modules that read every family (``gradproofs.family``).
"""

from gradproofs import family
from gradproofs.lm.engine import LMGradients, Reference, backward, backward_exact, backward_torch, reference
from gradproofs.lm.training import Training, train
from gradproofs.lm.oracle import check_rnn_lm
from gradproofs.lm.strategies import LMSequence, lm_sequences

__all__ = ["FAMILY", "LMGradients", "Reference", "Training", "backward", "backward_exact", "backward_torch",
           "reference", "train", "check_rnn_lm", "LMSequence", "lm_sequences"]

FAMILY = family.Declaration(
    after=("rnn", "clipping"),
    theorems=("gradproofs.lm.theorems",),
    oracles=("check_rnn_lm",),
    strategies=("LMSequence", "lm_sequences"),
    figures={"lm-training.png": "gradproofs.lm.figures:training_figure",
             "lm-w999.png": "gradproofs.lm.figures:w999_figure"},
)
