"""check_rnn_lm: the character-level RNN language model (min-char-rnn's lossFun), in the user's conventions."""

from __future__ import annotations

import numpy as np

from gradproofs.compare import Agreement
from gradproofs.errors import InvalidArgument
from gradproofs.lm import engine as lm
from gradproofs.rnn.oracle import TRUNCATE, Recurrent
from gradproofs.oracle import conventions, options
from gradproofs.oracle.harness import Case, cached_reference

__all__ = ["GRADIENTS", "ARGUMENTS", "TOKENS", "RNNLM", "check_rnn_lm"]

GRADIENTS = lm.LM_FIELDS  # U, W, b, V, c, h0
ARGUMENTS = ("tokens", "targets", "h0", "U", "W", "b", "V", "c")
TOKENS = ("ids", "one_hot")


def _clip_value(name: str, value) -> float | None:
    """None, or the positive bound fn clips every gradient entry to before returning it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise InvalidArgument(f"{name} must be a positive finite number (fn clips every gradient to [−c, c]), "
                              f"got {value!r}")
    return float(value)


class RNNLM(Recurrent):
    """Test ``fn(tokens, targets, h0, U, W, b, V, c) -> dict`` for a recurrent language model's BPTT.

    The model of :mod:`gradproofs.lm`: h_t = tanh(U e(x_t) + W h_(t−1) + b),
    ŷ_t = softmax(V h_t + c), E = Σ_t −log ŷ_t[y_t] summed over time and averaged
    over the batch. By default fn gets integer ``tokens`` and ``targets`` (T, B),
    h0 (B, H), U (H, K) for a vocabulary of K, W (H, H), b (H,), V (K, H), c (K,),
    and returns a dict with "U", "W", "b", "V", "c" and "h0" (other keys are
    ignored). min-char-rnn's ``lossFun`` is ``samples="single"`` (tokens (T,),
    h0 (H, 1), b (H, 1), c (K, 1)), ``returns=(None, "U", "W", "V", "b", "c",
    None)`` and ``clip_value=5``. Problems from
    :func:`gradproofs.strategies.lm_sequences` (the longest in about half the
    draws), compared with :func:`gradproofs.lm.backward_exact` under the bound of
    :class:`gradproofs.lm.Reference`. Raises :class:`gradproofs.Mismatch` naming
    each kind of disagreement with its smallest counterexample; returns a Report
    when every example agrees.
    """

    name = "rnn-lm"
    function = "check_rnn_lm"
    signature = "fn(tokens, targets, h0, U, W, b, V, c) -> {U, W, b, V, c, h0}"
    families = (("U", "W", "V"), ("b", "c"))  # the weights are one kind of mismatch, the biases another
    declarations = {"h0": "h0=False", "b": "biases=False", "c": "biases=False"}
    probe_sizes = {"min_steps": 3, "max_steps": 3, "min_batch": 2, "max_batch": 2, "min_vocabulary": 4,
                   "max_vocabulary": 4, "min_hidden": 5, "max_hidden": 5}
    option_records = (options.Option("tokens", "ids", "integer tokens (T, B), or one-hot rows (T, B, K)", values=TOKENS),
            options.H0, TRUNCATE,
            options.BIASES.but(about="`False`: the model has no biases b and c (Britz's WildML model); fn takes none "
                                     "and returns none"),
            options.AXES, options.BIAS_LAYOUT, options.WEIGHTS, options.SAMPLES.but(values=("rows", "single")),
            options.REDUCTION,
            options.RETURNS,
            options.Option("clip_value", None, "fn clips every gradient entry to [−c, c] before returning it "
                                               "(min-char-rnn: 5); judged against the clipped exact gradient",
                           check=_clip_value, domain="c > 0"),
            options.PRECISION, options.ARGUMENTS, *options.STEPS, *options.BATCHES,
            *options.sizes("vocabulary", 5, "vocabulary", minimum=2), *options.HIDDEN_UNITS,
            options.NEAR_POWERS_OF_TWO)

    def settle(self) -> None:
        if self.reduction is not None and self._single:
            raise InvalidArgument("reduction must be left out with samples='single': fn gets one sequence per call "
                                  "and returns that sequence's gradient, so there is nothing to reduce")
        self.reduction = self.reduction or "mean"
        self._settle_model(ARGUMENTS, GRADIENTS)

    @property
    def _single(self) -> bool:
        return conventions.SAMPLES[self.samples].single

    def strategy(self):
        from gradproofs.lm import strategies

        return strategies.lm_sequences(**self.sizes(), near_powers_of_two=self.near_powers_of_two).map(self._zeroed)

    # --- the user's layout ---

    @property
    def _columns(self) -> bool:
        return conventions.SAMPLES[self.samples].columns or super()._columns

    def _ids(self, ids):
        """(T, B) token ids in the order time and batch take in the user's axes; (T,) for one sequence."""
        if self._single:
            return ids[:, 0]
        return ids.T if self.axes.index("batch") < self.axes.index("time") else ids

    def _inputs(self, ids, vocabulary: int):
        if self.tokens == "ids":
            return self._ids(ids)
        rows = lm.one_hot(ids, vocabulary)
        return rows[:, 0, :] if self._single else self._sequence(rows)

    def _state(self, array):
        return array.T if self._single else super()._state(array)

    def case(self, example, sizes: str) -> Case:
        K = example.U.shape[1]
        given = {"tokens": self._inputs(example.tokens, K), "targets": self._ids(example.targets),
                 "h0": self._state(example.h0), "U": self._weight(example.U), "W": self._weight(example.W),
                 "b": self._vector(example.b), "V": self._weight(example.V), "c": self._vector(example.c)}
        return Case({name: given[name] for name in self.arguments}, sizes, self.absent)

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
        if not self._single:
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
        reduction = "sum" if self._single else self.reduction
        reference = cached_reference(example, (reduction, sequence, self.truncate), lambda: lm.reference(
            *(one or example), reduction=reduction, truncate=self.truncate))
        self._conditioned(reference)
        return reference

    def alternatives(self) -> list:
        groups = super().alternatives()
        other = "one_hot" if self.tokens == "ids" else "ids"
        groups.append([(f"fn takes its tokens as {other}: declare tokens={other!r}", self.but(tokens=other))])
        groups.append(self._truncations())
        if not self._single:
            groups.append([(f"fn {value.does}: declare reduction={other!r}", self.but(reduction=other))
                           for other, value in conventions.REDUCTIONS.items() if other != self.reduction])
        return groups


check_rnn_lm = options.check_function(RNNLM)
