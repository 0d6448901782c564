"""check_rnn_bptt and check_lstm_bptt: backpropagation through time, in the user's conventions."""

from __future__ import annotations

from itertools import permutations

import numpy as np

from gradproofs import _validate
from gradproofs.compare import Agreement, Expected, judge
from gradproofs.activations import engine as activations
from gradproofs.rnn import engine as rnn
from gradproofs.oracle import conventions
from gradproofs.oracle.harness import Case, Oracle, cached_reference, call, conditioning_eps, examples_option, \
    judgeable, judged, judging_precision, precision_hints, reproduce_option

__all__ = [
    "TORCH_GATES", "Recurrent", "RNN_GRADIENTS", "RNN_ARGUMENTS", "RNN", "check_rnn_bptt", "LSTM_STACKED",
    "LSTM_SEPARATE", "LSTM", "check_lstm_bptt"
]

TORCH_GATES = "ifgo"  # the order of the gate blocks in torch.nn.LSTM and rnn.lstm_backward


class Recurrent(Oracle):
    """What the recurrent oracles (the RNN's, the LSTM's and the language model's) share: sequence
    axes, weights, returns, precision, sizes."""

    def _layout(self, axes, weights, precision, near_powers_of_two=False, **sizes):
        """The declared axes, weights and precision, and the sizes (``max_steps=…``, near powers of two)."""
        self.near_powers_of_two = conventions.flag("near_powers_of_two", near_powers_of_two)
        self.axes = conventions.axes(axes)
        self.weights = conventions.choice("weights", weights, conventions.WEIGHTS)
        self.precision = conventions.precision(precision)
        for name, value in sizes.items():
            setattr(self, name, _validate.positive_int(name, value))

    @property
    def _columns(self) -> bool:
        """Whether states are (H, B) and biases columns (H, 1): the feature axis comes before the batch."""
        return self.axes.index("feature") < self.axes.index("batch")

    def _sequence(self, array):
        return conventions.sequence(array, self.axes)

    def _state(self, array):
        return conventions.state(array, self.axes)

    def _weight(self, array):
        return conventions.weight(array, self.weights)

    def _vector(self, array):
        return conventions.vector(array, self._columns)

    families = (("W_x", "W_h"), ("h0", "c0"))  # groups of fields that are one kind of mismatch: the weights, …

    def _judge(self, fn, reference, case: Case, expectations) -> Agreement:
        def judgement():
            result, _ = call(fn, case)
            got = self.returns.read(result)
            precision = judging_precision(self.precision, got, reference)
            expected = self.returns.expected(
                expectations(reference.expectations(precision.eps, derivative_from_output=True)))
            return judge("fn", got, expected, precision=precision, reason=reference.reason(True))

        return judged(case, judgement, self.returns.kinds(families=self.families))

    def _conditioned(self, reference):
        judgeable(reference.well_conditioned(conditioning_eps(self.precision)))

    def alternatives(self) -> list:
        other = "in_out" if self.weights == "out_in" else "out_in"
        shapes = {"in_out": "(in, out), used as x @ W", "out_in": "(out, in), used as x @ W.T"}
        return [[(f"fn returns its gradients in the order {order}: declare returns={order!r}",
                  self.but(returns=order)) for order in self.returns.orders()],
                [(f"fn takes weights of shape {shapes[other]}: declare weights={other!r}", self.but(weights=other))],
                [(f"fn's sequences are laid out as {' '.join(order)!r}: declare axes={' '.join(order)!r}",
                  self.but(axes=" ".join(order))) for order in permutations(conventions.AXES) if order != self.axes],
                precision_hints(self)]


def _sizes(x, h0) -> str:
    steps, batch, inputs = x.shape
    return f"T = {steps}, B = {batch}, I = {inputs}, H = {h0.shape[1]}"


# --- the Elman RNN ---------------------------------------------------------------------------

RNN_GRADIENTS = ("W_x", "W_h", "b", "h0", "x")
RNN_ARGUMENTS = ("x", "h0", "W_x", "W_h", "b", "dL_dh")


class RNN(Recurrent):
    """The Elman RNN of :mod:`gradproofs.rnn`, its arrays in the declared conventions."""

    name = "rnn"
    function = "check_rnn_bptt"
    signature = "fn(x, h0, W_x, W_h, b, dL_dh) -> {W_x, W_h, b, h0}"

    def __init__(self, *, activation="tanh", axes="time batch feature", weights="out_in", returns=None,
                 inputs=False, precision=None, arguments=RNN_ARGUMENTS, max_steps=6, max_batch=3, max_inputs=4,
                 max_hidden=4, near_powers_of_two=False):
        self.remember(locals())
        self.activation = activations.get(activation).name
        self._layout(axes, weights, precision, near_powers_of_two, max_steps=max_steps, max_batch=max_batch,
                     max_inputs=max_inputs, max_hidden=max_hidden)
        self.inputs = conventions.flag("inputs", inputs)
        known = RNN_GRADIENTS if self.inputs else RNN_GRADIENTS[:4]
        self.returns = conventions.Returns(returns, known=known, default={name: name for name in known},
                                           inputs="x", function=self.function)
        if self.inputs and "x" not in self.returns.fields:
            raise ValueError("inputs=True, but returns does not name 'x', the gradient of the inputs")
        self.arguments = conventions.arguments(arguments, RNN_ARGUMENTS)

    def strategy(self):
        from gradproofs.rnn import strategies

        return strategies.sequences(max_steps=self.max_steps, max_batch=self.max_batch, max_inputs=self.max_inputs,
                                    max_hidden=self.max_hidden, near_powers_of_two=self.near_powers_of_two)

    def check(self, fn, example) -> Agreement:
        reference = cached_reference(example, self.activation, lambda: rnn.reference(*example,
                                                                                   activation=self.activation))
        self._conditioned(reference)
        given = {"x": self._sequence(example.x), "h0": self._state(example.h0), "W_x": self._weight(example.W_x),
                 "W_h": self._weight(example.W_h), "b": self._vector(example.b),
                 "dL_dh": self._sequence(example.dL_dh)}
        case = Case({name: given[name] for name in self.arguments}, _sizes(example.x, example.h0))
        return self._judge(fn, reference, case, self._expectations)

    def _expectations(self, exact: dict) -> dict:
        return {"W_x": exact["W_x"].map(self._weight), "W_h": exact["W_h"].map(self._weight),
                "b": exact["b"].map(self._vector), "h0": exact["h0"].map(self._state),
                "x": exact["x"].map(self._sequence)}


def check_rnn_bptt(fn, *, activation: str = "tanh", axes: str = "time batch feature", weights: str = "out_in",
                   returns=None, inputs: bool = False, precision: str | None = None, arguments=RNN_ARGUMENTS,
                   max_examples: int | None = None, max_steps: int = 6, max_batch: int = 3, max_inputs: int = 4,
                   max_hidden: int = 4, near_powers_of_two: bool = False, reproduce=None):
    """Test ``fn(x, h0, W_x, W_h, b, dL_dh) -> dict`` for an Elman RNN's backpropagation through time.

    The network and the loss are those of :func:`gradproofs.rnn.bptt`:
    a_t = W_x x_t + W_h h_(t−1) + b, h_t = f(a_t) for t = 1..T, and
    ``dL_dh`` at step t is the loss's own partial gradient ∂L/∂h_t, without what
    reaches h_t from later steps. By default fn gets x (T, B, I), h0 (B, H),
    W_x (H, I), W_h (H, H), b (H,) and dL_dh (T, B, H), and returns a dict with
    "W_x", "W_h" and "b" (summed over the batch), each of its parameter's shape,
    and "h0", ∂L/∂h_0 (B, H); other keys are ignored.

    Declared conventions (:mod:`gradproofs.oracle.conventions`): ``axes`` the
    order of a sequence's axes ("batch time feature" as CS231n, "feature batch
    time" as deeplearning.ai; h0 then takes the batch and feature axes in that
    order, and with the feature axis first the bias is a column (H, 1));
    ``weights`` "out_in" or "in_out" (W_x (I, H) and W_h used as ``x @ W``);
    ``returns`` a tuple of names in order or a dict {name: fn's key};
    ``inputs=True``: fn also returns "x", ∂L/∂x_t for every step, in x's
    layout; ``arguments``: the names fn takes, in order; ``precision``: the
    rounding fn is judged with (default: its result's dtype).

    Problems have 1 to ``max_steps`` steps (the longest in about half the
    draws), 1 to ``max_batch`` sequences, 1 to ``max_inputs`` inputs and
    ``max_hidden`` hidden units (:func:`gradproofs.strategies.sequences`); those
    the rounding bound cannot judge (a forward pass that amplifies errors more
    than :data:`gradproofs.rnn.MAX_AMPLIFICATION`, for relu a pre-activation at
    the kink) are skipped. Gradients are compared with the exact ones under the
    bound of :class:`gradproofs.rnn.Reference`. Without ``max_examples`` the
    active Hypothesis profile sets the number of examples. Raises
    :class:`gradproofs.Mismatch` naming each kind of disagreement with its
    smallest counterexample; returns a Report when every example agrees.
    """
    oracle = RNN(activation=activation, axes=axes, weights=weights, returns=returns, inputs=inputs,
                 precision=precision, arguments=arguments, max_steps=max_steps, max_batch=max_batch,
                 max_inputs=max_inputs, max_hidden=max_hidden, near_powers_of_two=near_powers_of_two)
    return oracle.run(fn, max_examples=examples_option(max_examples), reproduce=reproduce_option(reproduce))


# --- the LSTM ----------------------------------------------------------------------------------

LSTM_STACKED = ("W_x", "W_h", "b", "h0", "c0", "x")
LSTM_SEPARATE = tuple(f"W_{g}" for g in TORCH_GATES) + tuple(f"b_{g}" for g in TORCH_GATES) + ("h0", "c0", "x")


def _gates(value) -> str:
    """"separate" or an order of the four gate blocks, a permutation of "ifgo"."""
    if not isinstance(value, str):
        raise TypeError(f"gates must be 'separate' or an order of the letters i, f, g, o, got {value!r}")
    if value != "separate" and sorted(value) != sorted(TORCH_GATES):
        raise ValueError(f"gates must be 'separate' or a permutation of {TORCH_GATES!r} (torch's order; "
                         f"CS231n's is 'ifog'), got {value!r}")
    return value


class LSTM(Recurrent):
    """The forget-gate LSTM of :mod:`gradproofs.rnn`, its arrays in the declared conventions."""

    name = "lstm"
    function = "check_lstm_bptt"
    signature = "fn(x, h0, c0, W_x, W_h, b, dL_dh) -> {W_x, W_h, b, h0, c0}"

    def __init__(self, *, c0=True, gates=TORCH_GATES, axes="time batch feature", weights="out_in", returns=None,
                 inputs=False, precision=None, arguments=None, max_steps=6, max_batch=3, max_inputs=4, max_hidden=4,
                 near_powers_of_two=False):
        self.remember(locals())
        self.c0 = conventions.flag("c0", c0)
        self.gates = _gates(gates)
        if self.gates == "separate":  # the four gates' weights are one kind of mismatch, their biases another
            self.families = (tuple(f"W_{g}" for g in TORCH_GATES), tuple(f"b_{g}" for g in TORCH_GATES),
                             ("h0", "c0"))
        self._layout(axes, weights, precision, near_powers_of_two, max_steps=max_steps, max_batch=max_batch,
                     max_inputs=max_inputs, max_hidden=max_hidden)
        self.inputs = conventions.flag("inputs", inputs)
        separate = self.gates == "separate"
        known = [name for name in (LSTM_SEPARATE if separate else LSTM_STACKED)
                 if (name != "c0" or self.c0) and (name != "x" or self.inputs)]
        self.returns = conventions.Returns(returns, known=tuple(known), default={name: name for name in known},
                                           inputs="x", function=self.function)
        if self.inputs and "x" not in self.returns.fields:
            raise ValueError("inputs=True, but returns does not name 'x', the gradient of the inputs")
        weights_in = ("W", "b") if separate else ("W_x", "W_h", "b")
        known_arguments = ("x", "h0", *(("c0",) if self.c0 else ()), *weights_in, "dL_dh")
        self.arguments = conventions.arguments(known_arguments if arguments is None else arguments,
                                               known_arguments)

    def strategy(self):
        from gradproofs.rnn import strategies

        return strategies.lstm_sequences(max_steps=self.max_steps, max_batch=self.max_batch,
                                         max_inputs=self.max_inputs, max_hidden=self.max_hidden,
                                         near_powers_of_two=self.near_powers_of_two)

    def _blocks(self, array, hidden: int):
        """Rows in blocks of H, torch's order i, f, g, o, reordered as the declared ``gates``."""
        return np.concatenate([array[TORCH_GATES.index(g) * hidden:(TORCH_GATES.index(g) + 1) * hidden]
                               for g in self.gates], axis=0)

    def _block(self, array, gate: str, hidden: int):
        start = TORCH_GATES.index(gate) * hidden
        return array[start:start + hidden]

    def check(self, fn, example) -> Agreement:
        c0 = example.c0 if self.c0 else np.zeros_like(example.c0)
        reference = cached_reference(example, self.c0, lambda: rnn.lstm_reference(
            example.x, example.h0, c0, example.W_x, example.W_h, example.b, example.dL_dh))
        self._conditioned(reference)
        H = example.h0.shape[1]
        given = {"x": self._sequence(example.x), "h0": self._state(example.h0), "c0": self._state(c0),
                 "dL_dh": self._sequence(example.dL_dh)}
        if self.gates == "separate":
            given["W"] = {g: self._weight(np.concatenate([self._block(example.W_h, g, H),
                                                          self._block(example.W_x, g, H)], axis=1))
                          for g in TORCH_GATES}
            given["b"] = {g: self._vector(self._block(example.b, g, H)) for g in TORCH_GATES}
        else:
            given.update(W_x=self._weight(self._blocks(example.W_x, H)), W_h=self._weight(self._blocks(example.W_h, H)),
                         b=self._vector(self._blocks(example.b, H)))
        case = Case({name: given[name] for name in self.arguments}, _sizes(example.x, example.h0))
        return self._judge(fn, reference, case, lambda exact: self._expectations(exact, H))

    def _expectations(self, exact: dict, hidden: int) -> dict:
        out = {"h0": exact["h0"].map(self._state), "c0": exact["c0"].map(self._state),
               "x": exact["x"].map(self._sequence)}
        if self.gates != "separate":
            out.update(W_x=exact["W_ih"].map(lambda a: self._weight(self._blocks(a, hidden))),
                       W_h=exact["W_hh"].map(lambda a: self._weight(self._blocks(a, hidden))),
                       b=exact["b"].map(lambda a: self._vector(self._blocks(a, hidden))))
            return out
        for g in TORCH_GATES:
            block = [exact[name].map(lambda a, g=g: self._block(a, g, hidden)) for name in ("W_hh", "W_ih")]
            out[f"W_{g}"] = Expected.concatenate(block, axis=1).map(self._weight)
            out[f"b_{g}"] = exact["b"].map(lambda a, g=g: self._vector(self._block(a, g, hidden)))
        return out

    def alternatives(self) -> list:
        groups = super().alternatives()
        if self.gates != "separate":
            groups.append([(f"fn stacks the gate blocks in the order {''.join(order)!r}: declare "
                            f"gates={''.join(order)!r}", self.but(gates="".join(order)))
                           for order in permutations(TORCH_GATES) if "".join(order) != self.gates])
        return groups


def check_lstm_bptt(fn, *, c0: bool = True, gates: str = TORCH_GATES, axes: str = "time batch feature",
                    weights: str = "out_in", returns=None, inputs: bool = False, precision: str | None = None,
                    arguments=None, max_examples: int | None = None, max_steps: int = 6, max_batch: int = 3,
                    max_inputs: int = 4, max_hidden: int = 4, near_powers_of_two: bool = False, reproduce=None):
    """Test ``fn(x, h0, c0, W_x, W_h, b, dL_dh) -> dict`` for an LSTM's backpropagation through time.

    The forget-gate LSTM of :mod:`gradproofs.rnn`: p_t = W_x x_t + W_h h_(t−1) + b
    split into the gates i, f, g, o; c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t,
    h_t = o_t ⊙ tanh(c_t); ``dL_dh`` holds ∂L/∂h_t, the loss's own partial
    gradient at each step. By default fn gets x (T, B, I), h0 and c0 (B, H),
    W_x (4H, I) and W_h (4H, H) with the gate blocks in torch's order i, f, g, o,
    b (4H,) and dL_dh (T, B, H), and returns a dict with "W_x", "W_h", "b"
    (summed over the batch), "h0" and "c0" (per sequence); other keys are ignored.

    ``c0=False``: fn starts from c_0 = 0 and takes no c0 (CS231n and
    deeplearning.ai do). ``gates``: the order of the stacked blocks ("ifog" as
    CS231n), or "separate": fn then takes a dict ``W`` of four (H, H + I)
    matrices keyed "i", "f", "g", "o", each acting on the concatenation
    [h_(t−1); x_t], and a dict ``b`` of four biases (deeplearning.ai's Wf, Wi,
    Wc, Wo), and returns "W_i", …, "W_o" and "b_i", …, "b_o" (unless
    ``returns`` maps them). ``axes``, ``weights``, ``returns``, ``inputs``
    ("x": ∂L/∂x_t), ``precision`` and ``arguments`` as for
    :func:`check_rnn_bptt`. Problems from
    :func:`gradproofs.strategies.lstm_sequences`, compared with the exact
    gradients (:func:`gradproofs.rnn.lstm_backward_exact`) under the bound of
    :class:`gradproofs.rnn.LSTMReference`. Raises :class:`gradproofs.Mismatch`
    naming each kind of disagreement with its smallest counterexample; returns
    a Report when every example agrees.
    """
    oracle = LSTM(c0=c0, gates=gates, axes=axes, weights=weights, returns=returns, inputs=inputs,
                  precision=precision, arguments=arguments, max_steps=max_steps, max_batch=max_batch,
                  max_inputs=max_inputs, max_hidden=max_hidden, near_powers_of_two=near_powers_of_two)
    return oracle.run(fn, max_examples=examples_option(max_examples), reproduce=reproduce_option(reproduce))
