"""Recurrent networks: the Elman RNN and the LSTM, and Pascanu et al.'s cliff.

``engine``: backpropagation through time over float64, mpmath, a torch loop,
``torch.nn.RNN``/``torch.nn.LSTM``, JAX and TensorFlow; ``cliff``: the single-unit network
of the cliff, and SGD on it with and without clipping; ``theorems``: the rnn family of
the catalogue (derivations/rnn.md); ``strategies``: Hypothesis strategies of sequences
and recurrent matrices; ``oracle``: ``check_rnn_bptt`` and ``check_lstm_bptt``, for
other people's code.
"""

from gradproofs.rnn.engine import *  # noqa: F403 - the engine's public names
from gradproofs.rnn.engine import __all__
