"""A character-level RNN language model: one-hot inputs, a tanh RNN, softmax outputs.

``engine``: its BPTT over float64, mpmath and torch, the loss decomposed term by term,
and SGD training with and without clipping; ``theorems``: the lm family of the catalogue
(derivations/lm.md); ``strategies``: Hypothesis strategies of language-model problems;
``oracle``: ``check_rnn_lm``, for other people's code.
"""

from gradproofs.lm.engine import *  # noqa: F403 - the engine's public names
from gradproofs.lm.engine import __all__
