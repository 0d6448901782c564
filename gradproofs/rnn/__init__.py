"""Recurrent networks: the Elman RNN and the LSTM.

The RNN's gradients by backpropagation through time: ``forward``, ``bptt`` (NumPy float64,
``RNNGradients``), ``bptt_exact`` (mpmath), ``bptt_torch`` (a torch loop), ``bptt_nn_rnn``
(``torch.nn.RNN``), ``bptt_jax``, ``bptt_tf``, and ``jacobian`` (∂h_t/∂h_k); the LSTM's:
``lstm_forward``, ``lstm_backward`` (``LSTMGradients``), ``lstm_backward_exact`` and
``lstm_backward_nn`` (``torch.nn.LSTM``). ``reference`` and ``lstm_reference`` build the
``Reference`` and ``LSTMReference`` the judges use, and ``projected_reference`` that of a layer
with an output projection y_t = V h_t + c, given ∂L/∂y_t. ``sequences`` (a ``Sequence``),
``lstm_sequences`` (an ``LSTMSequence``) and ``recurrent_matrices`` draw with Hypothesis;
``check_rnn_bptt`` and ``check_lstm_bptt`` check someone else's BPTT.

The modules beneath this face are internal: ``engine``, ``cliff`` (Pascanu et al.'s single-unit
cliff), ``theorems`` (derivations/rnn.md), ``strategies``, ``oracle``, ``figures`` and ``bench``.
``FAMILY`` declares the family to the modules that read every family (``gradproofs.family``).
"""

from gradproofs import family
from gradproofs.rnn.engine import (
    LSTMGradients, LSTMReference, RNNGradients, Reference, bptt, bptt_exact, bptt_jax, bptt_nn_rnn, bptt_tf,
    bptt_torch, forward, jacobian, lstm_backward, lstm_backward_exact, lstm_backward_nn, lstm_forward,
    lstm_reference, projected_reference, reference)
from gradproofs.rnn.oracle import check_lstm_bptt, check_rnn_bptt
from gradproofs.rnn.strategies import LSTMSequence, Sequence, lstm_sequences, recurrent_matrices, sequences

__all__ = ["FAMILY", "LSTMGradients", "LSTMReference", "RNNGradients", "Reference", "bptt", "bptt_exact",
           "bptt_jax", "bptt_nn_rnn", "bptt_tf", "bptt_torch", "forward", "jacobian", "lstm_backward",
           "lstm_backward_exact", "lstm_backward_nn", "lstm_forward", "lstm_reference", "projected_reference",
           "reference", "check_lstm_bptt", "check_rnn_bptt", "LSTMSequence", "Sequence", "lstm_sequences",
           "recurrent_matrices", "sequences"]

FAMILY = family.Declaration(
    after=("activations",),
    theorems=("gradproofs.rnn.theorems",),
    oracles=("check_rnn_bptt", "check_lstm_bptt"),
    strategies=("Sequence", "sequences", "LSTMSequence", "lstm_sequences", "recurrent_matrices"),
    figures={"rnn-jacobian-norms.png": "gradproofs.rnn.figures:jacobian_norms_figure",
             "rnn-cliff.png": "gradproofs.rnn.figures:cliff_figure"},
    bench={"rnn": "gradproofs.rnn.bench:section"},
)
