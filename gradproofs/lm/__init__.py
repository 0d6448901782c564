"""A character-level RNN language model: one-hot inputs, a tanh RNN, softmax outputs.

``engine``: its BPTT over float64, mpmath and torch, the loss decomposed term by term;
``training``: SGD on a generated text, with and without clipping; ``theorems``: the lm family of the catalogue
(derivations/lm.md); ``strategies``: Hypothesis strategies of language-model problems;
``oracle``: ``check_rnn_lm``, for other people's code.
"""

from gradproofs.lm.engine import (
    REDUCTIONS, LMGradients, one_hot, recurrence, backward, backward_exact, backward_extended, backward_torch,
    softmax, log_sum_exp, decomposition, decomposition_terms, LM_FIELDS, Reference, reference
)
from gradproofs.lm.training import (
    PHRASES, TEXT, VOCABULARY, TEXT_TOKENS, CLIPS, VALUE_THRESHOLD, NORM_THRESHOLD, LR, STEPS, HIDDEN, SEQ_LENGTH,
    BATCH, SEED, INITIAL_SCALE, Training, flatten, parameter_count, split, initial_parameters, windows, train,
    train_torch
)

__all__ = [
    "REDUCTIONS", "LMGradients", "one_hot", "recurrence", "backward", "backward_exact", "backward_extended",
    "backward_torch", "softmax", "log_sum_exp", "decomposition", "decomposition_terms", "LM_FIELDS", "Reference",
    "reference", "PHRASES", "TEXT", "VOCABULARY", "TEXT_TOKENS", "CLIPS", "VALUE_THRESHOLD", "NORM_THRESHOLD",
    "LR", "STEPS", "HIDDEN", "SEQ_LENGTH", "BATCH", "SEED", "INITIAL_SCALE", "Training", "flatten",
    "parameter_count", "split", "initial_parameters", "windows", "train", "train_torch"
]
