"""Public Hypothesis strategies for gradient checks: every family's, in one place.

In the style of ``hypothesis.extra.numpy``: plural nouns, options keyword-only,
every argument validated (``hypothesis.errors.InvalidArgument``).

>>> from hypothesis import given
>>> from gradproofs import strategies as gps
>>> @given(gps.chains(max_depth=16))
... def test_my_backprop(chain): ...

Each family's strategies are written in its package (``gradproofs.<family>.strategies``),
on building blocks they share (:mod:`gradproofs.drawing`); this module offers them all:
chains (:func:`chains`), dense networks (:func:`network_widths`, :func:`networks`,
:func:`batches`), recurrent problems (:func:`sequences`, :func:`lstm_sequences`,
:func:`recurrent_matrices`), language-model problems (:func:`lm_sequences`), what clipping is
given (:func:`gradient_lists`, :func:`thresholds`, :func:`norm_types`), and :func:`depths` and
:func:`weight_matrices`.
"""

from gradproofs.chain.strategies import Chain, chains
from gradproofs.clipping.strategies import GRADIENT_DTYPES, gradient_lists, norm_types, thresholds
from gradproofs.drawing import LARGE, SMALL_FAN_IN, depths, weight_matrices
from gradproofs.lm.strategies import LMSequence, lm_sequences
from gradproofs.mlp.strategies import Network, batches, network_widths, networks
from gradproofs.rnn.strategies import LSTMSequence, Sequence, lstm_sequences, recurrent_matrices, sequences

__all__ = ["Chain", "depths", "LARGE", "SMALL_FAN_IN", "chains", "network_widths", "weight_matrices", "Network",
           "networks", "batches", "GRADIENT_DTYPES", "gradient_lists", "thresholds", "norm_types", "Sequence",
           "sequences", "LSTMSequence", "lstm_sequences", "LMSequence", "lm_sequences", "recurrent_matrices"]
