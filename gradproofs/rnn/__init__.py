"""Recurrent networks: the Elman RNN and the LSTM, and Pascanu et al.'s cliff.

``engine``: backpropagation through time over float64, mpmath, a torch loop,
``torch.nn.RNN``/``torch.nn.LSTM``, JAX and TensorFlow; ``cliff``: the single-unit network
of the cliff, and SGD on it with and without clipping; ``theorems``: the rnn family of
the catalogue (derivations/rnn.md); ``strategies``: Hypothesis strategies of sequences
and recurrent matrices; ``oracle``: ``check_rnn_bptt`` and ``check_lstm_bptt``, for
other people's code.
"""

from gradproofs.rnn.engine import (
    Sequence, LSTMSequence, NN_RNN_ACTIVATIONS, RNNGradients, LSTMStates, LSTMGradients, unroll, recurrence,
    backpropagate, forward, bptt, mpmath_array, bptt_exact, bptt_extended, jacobian, bptt_torch, bptt_nn_rnn,
    bptt_jax, bptt_tf, FRAMEWORK_ENGINES, lstm_forward, lstm_backward, lstm_backward_exact,
    lstm_backward_extended, cell_jacobian, lstm_backward_nn, MAX_AMPLIFICATION, RNN_FIELDS, LSTM_FIELDS,
    Reference, reference, LSTMReference, lstm_reference
)

__all__ = [
    "Sequence", "LSTMSequence", "NN_RNN_ACTIVATIONS", "RNNGradients", "LSTMStates", "LSTMGradients", "unroll",
    "recurrence", "backpropagate", "forward", "bptt", "mpmath_array", "bptt_exact", "bptt_extended", "jacobian",
    "bptt_torch", "bptt_nn_rnn", "bptt_jax", "bptt_tf", "FRAMEWORK_ENGINES", "lstm_forward", "lstm_backward",
    "lstm_backward_exact", "lstm_backward_extended", "cell_jacobian", "lstm_backward_nn", "MAX_AMPLIFICATION",
    "RNN_FIELDS", "LSTM_FIELDS", "Reference", "reference", "LSTMReference", "lstm_reference"
]
