"""check_rnn_lm: the seed's recurrent language model (min-char-rnn's lossFun), in the user's conventions."""

from __future__ import annotations

import numpy as np

from gradproofs.compare import Agreement
from gradproofs.lm import engine as lm
from gradproofs.rnn.oracle import Recurrent
from gradproofs.oracle import conventions
from gradproofs.oracle.harness import Case, cached_reference, examples_option, reproduce_option

__all__ = ["GRADIENTS", "ARGUMENTS", "TOKENS", "RNNLM", "check_rnn_lm"]

GRADIENTS = lm.LM_FIELDS  # U, W, b, V, c, h0
ARGUMENTS = ("tokens", "targets", "h0", "U", "W", "b", "V", "c")
TOKENS = ("ids", "one_hot")


class RNNLM(Recurrent):
    """The language model of :mod:`gradproofs.lm`, its arrays in the declared conventions."""

    name = "rnn-lm"
    function = "check_rnn_lm"
    signature = "fn(tokens, targets, h0, U, W, b, V, c) -> {U, W, b, V, c, h0}"
    families = (("U", "W", "V"), ("b", "c"))  # the weights are one kind of mismatch, the biases another

    def __init__(self, *, tokens="ids", axes="time batch feature", weights="out_in", samples="rows", reduction=None,
                 returns=None, clip_value=None, precision=None, arguments=ARGUMENTS, max_steps=6, max_batch=3,
                 max_vocabulary=5, max_hidden=4, near_powers_of_two=False):
        self.remember(locals())
        self.tokens = conventions.choice("tokens", tokens, TOKENS)
        self._layout(axes, weights, precision, near_powers_of_two, max_steps=max_steps, max_batch=max_batch,
                     max_hidden=max_hidden)
        self.max_vocabulary = _vocabulary(max_vocabulary)
        self.samples = conventions.choice("samples", samples, ("rows", "single"))
        if reduction is not None and self.samples == "single":
            raise ValueError("reduction must be left out with samples='single': fn gets one sequence per call "
                             "and returns that sequence's gradient, so there is nothing to reduce")
        self.reduction = conventions.choice("reduction", reduction or "mean", conventions.REDUCTIONS)
        self.returns = conventions.Returns(returns, known=GRADIENTS, default={name: name for name in GRADIENTS},
                                           function=self.function)
        self.clip_value = _clip_value(clip_value)
        self.arguments = conventions.arguments(arguments, ARGUMENTS)

    def strategy(self):
        from gradproofs.lm import strategies

        return strategies.lm_sequences(max_steps=self.max_steps, max_batch=self.max_batch,
                                       max_vocabulary=self.max_vocabulary, max_hidden=self.max_hidden,
                                       near_powers_of_two=self.near_powers_of_two)

    # --- the user's layout ---

    @property
    def _columns(self) -> bool:
        return self.samples == "single" or super()._columns

    def _ids(self, ids):
        """(T, B) token ids in the order time and batch take in the user's axes; (T,) for one sequence."""
        if self.samples == "single":
            return ids[:, 0]
        return ids.T if self.axes.index("batch") < self.axes.index("time") else ids

    def _inputs(self, ids, vocabulary: int):
        if self.tokens == "ids":
            return self._ids(ids)
        rows = lm.one_hot(ids, vocabulary)
        return rows[:, 0, :] if self.samples == "single" else self._sequence(rows)

    def _state(self, array):
        return array.T if self.samples == "single" else super()._state(array)

    def case(self, example, sizes: str) -> Case:
        K = example.U.shape[1]
        given = {"tokens": self._inputs(example.tokens, K), "targets": self._ids(example.targets),
                 "h0": self._state(example.h0), "U": self._weight(example.U), "W": self._weight(example.W),
                 "b": self._vector(example.b), "V": self._weight(example.V), "c": self._vector(example.c)}
        return Case({name: given[name] for name in self.arguments}, sizes)

    def _expectations(self, exact: dict) -> dict:
        layouts = {"U": self._weight, "W": self._weight, "V": self._weight, "b": self._vector, "c": self._vector,
                   "h0": self._state}
        out = {name: exact[name].map(layout) for name, layout in layouts.items()}
        if self.clip_value is not None:
            out = {name: expected.clipped(self.clip_value) for name, expected in out.items()}
        return out

    # --- judging ---

    def check(self, fn, example) -> Agreement:
        T, B = example.tokens.shape
        K, H = example.V.shape
        sizes = f"T = {T}, B = {B}, K = {K}, H = {H}"
        if self.samples != "single":
            reference = self._reference(example, None)
            return self._judge(fn, reference, self.case(example, sizes), self._expectations)
        agreements = []
        for i in range(B):
            one = example._replace(tokens=example.tokens[:, i:i + 1], targets=example.targets[:, i:i + 1],
                                   h0=example.h0[i:i + 1])
            reference = self._reference(example, i, one)
            agreements.append(self._judge(fn, reference, self.case(one, f"{sizes}, sequence {i + 1} of {B}, one "
                                                                        f"call per sequence"), self._expectations))
        return Agreement.worst(agreements)

    def _reference(self, example, sequence, one=None):
        reduction = "sum" if self.samples == "single" else self.reduction
        reference = cached_reference(example, (reduction, sequence), lambda: lm.reference(
            *(one or example), reduction=reduction))
        self._conditioned(reference)
        return reference

    def alternatives(self) -> list:
        groups = super().alternatives()
        other = "one_hot" if self.tokens == "ids" else "ids"
        groups.append([(f"fn takes its tokens as {other}: declare tokens={other!r}", self.but(tokens=other))])
        if self.samples != "single":
            other = "sum" if self.reduction == "mean" else "mean"
            word = {"sum": "sums the loss over the batch", "mean": "averages the loss over the batch"}[other]
            groups.append([(f"fn {word}: declare reduction={other!r}", self.but(reduction=other))])
        return groups


def _vocabulary(value) -> int:
    from gradproofs import _validate

    return _validate.positive_int("max_vocabulary", value, minimum=2)


def _clip_value(value) -> float | None:
    """None, or the positive bound fn clips every gradient entry to before returning it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"clip_value must be a positive finite number (fn clips every gradient to [−c, c]), "
                         f"got {value!r}")
    return float(value)


def check_rnn_lm(fn, *, tokens: str = "ids", axes: str = "time batch feature", weights: str = "out_in",
                 samples: str = "rows", reduction: str | None = None, returns=None, clip_value: float | None = None,
                 precision: str | None = None, arguments=ARGUMENTS, max_examples: int | None = None,
                 max_steps: int = 6, max_batch: int = 3, max_vocabulary: int = 5, max_hidden: int = 4,
                 near_powers_of_two: bool = False, reproduce=None):
    """Test ``fn(tokens, targets, h0, U, W, b, V, c) -> dict`` for a recurrent language model's BPTT.

    The model of :mod:`gradproofs.lm`: h_t = tanh(U e(x_t) + W h_(t−1) + b),
    ŷ_t = softmax(V h_t + c), E = Σ_t −log ŷ_t[y_t] summed over time and averaged
    over the batch (``reduction="sum"``: summed). By default fn gets integer
    ``tokens`` and ``targets`` (T, B), h0 (B, H), U (H, K) for a vocabulary of K,
    W (H, H), b (H,), V (K, H), c (K,), and returns a dict with "U", "W", "b",
    "V", "c" and "h0" (other keys are ignored).

    Declared conventions (:mod:`gradproofs.oracle.conventions`): ``tokens``
    "ids" or "one_hot" (rows (T, B, K)); ``axes`` as for
    :func:`gradproofs.oracle.check_rnn_bptt`; ``weights`` "out_in" or "in_out"
    (U (K, H), V (H, K) and W transposed, used as ``x @ W``); ``samples="single"``:
    one sequence per call with column vectors, as min-char-rnn's ``lossFun``
    (tokens (T,), h0 (H, 1), b (H, 1), c (K, 1)), each sequence's gradient
    judged; ``returns`` a tuple of names in order (None for what is not a
    gradient: min-char-rnn returns ``loss, dWxh, dWhh, dWhy, dbh, dby, hprev``,
    so ``(None, "U", "W", "V", "b", "c", None)``) or a dict {name: fn's key};
    ``clip_value=c``: fn clips every gradient entry to [−c, c] before returning
    it (min-char-rnn clips to ±5): it is judged against the clipped exact
    gradient; ``arguments``, ``precision`` as for the other oracles.

    Problems from :func:`gradproofs.strategies.lm_sequences` (1 to ``max_steps``
    steps, the longest in about half the draws, 1 to ``max_batch`` sequences, 2 to
    ``max_vocabulary`` tokens, 1 to ``max_hidden`` hidden units), compared with
    :func:`gradproofs.lm.backward_exact` under the bound of
    :class:`gradproofs.lm.Reference`. Without ``max_examples`` the active
    Hypothesis profile sets the number of examples. Raises
    :class:`gradproofs.Mismatch` naming each kind of disagreement with its
    smallest counterexample; returns a Report when every example agrees.
    """
    oracle = RNNLM(tokens=tokens, axes=axes, weights=weights, samples=samples, reduction=reduction, returns=returns,
                   clip_value=clip_value, precision=precision, arguments=arguments, max_steps=max_steps,
                   max_batch=max_batch, max_vocabulary=max_vocabulary, max_hidden=max_hidden,
                   near_powers_of_two=near_powers_of_two)
    return oracle.run(fn, max_examples=examples_option(max_examples), reproduce=reproduce_option(reproduce))
