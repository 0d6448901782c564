"""check_rnn_bptt and check_lstm_bptt: backpropagation through time, in the user's conventions."""

from __future__ import annotations

from itertools import permutations

import numpy as np

from gradproofs.compare import Agreement, Expected
from gradproofs.errors import InvalidArgument
from gradproofs.rnn import engine as rnn
from gradproofs.activations.option import ACTIVATION
from gradproofs.oracle import conventions, options
from gradproofs.oracle.harness import Case, Oracle, cached_reference, conditioning_eps, judgeable, precision_hints

__all__ = [
    "TORCH_GATES", "MOST_TRUNCATIONS", "SIZES", "TRUNCATE", "Recurrent", "RNN_GRADIENTS", "RNN_ARGUMENTS",
    "PROJECTED_GRADIENTS", "PROJECTED_ARGUMENTS", "OUTPUTS", "RNN",
    "check_rnn_bptt", "LSTM_STACKED", "LSTM_SEPARATE", "LSTM", "check_lstm_bptt"
]

TORCH_GATES = "ifgo"  # the order of the gate blocks in torch.nn.LSTM and rnn.lstm_backward
MOST_TRUNCATIONS = 16  # the truncations a hint tries
SIZES = (*options.STEPS, *options.BATCHES, *options.INPUT_UNITS, *options.HIDDEN_UNITS)
TRUNCATE = options.Option("truncate", None, "fn runs BPTT truncated to k steps: each loss term carried back k "
                                            "steps beyond its own, as Britz's `bptt_truncate` and ML-From-Scratch's "
                                            "`bptt_trunc` (None: full BPTT)",
                          check=lambda name, value: rnn.check_truncate(value), domain="an integer k ≥ 0")


class Recurrent(Oracle):
    """What the recurrent oracles (the RNN's, the LSTM's and the language model's) share: sequence
    axes, weights, returns, precision, sizes."""

    families = (("W_x", "W_h"), ("h0", "c0"))  # groups of fields that are one kind of mismatch: the weights, …
    declarations = {"h0": "h0=False", "b": "biases=False"}  # the arrays an option takes out of the model
    probe_sizes = {"min_steps": 3, "max_steps": 3, "min_batch": 2, "max_batch": 2, "min_inputs": 4, "max_inputs": 4,
                   "min_hidden": 5, "max_hidden": 5}

    def _settle_model(self, arguments: tuple, gradients: tuple, optional: tuple = (), **returns) -> None:
        """``returns`` and ``arguments`` among the gradients and arguments the model has, less those
        :attr:`absent` (a gate's bias ``b_i`` goes with ``b``); fn may leave out the ``optional`` arguments."""
        absent = self.absent
        known = tuple(name for name in gradients if name.split("_")[0] not in absent
                      and (name != "x" or self.inputs))
        self.returns = conventions.Returns(self.returns, known=known, default={name: name for name in known},
                                           function=self.function, **returns)
        self.arguments = conventions.declared_arguments(
            self, tuple(name for name in arguments if name not in absent), optional=optional,
            declarations=self.declarations)

    def _truncations(self) -> list:
        """The hints of truncated BPTT: k = 0, 1, … below the longest sequence drawn (at most
        :data:`MOST_TRUNCATIONS` of them), or full BPTT where a truncation is declared."""
        if self.truncate is not None:
            return [("fn runs full BPTT: leave out truncate", self.but(truncate=None))]
        return [(f"fn matches BPTT truncated to {k} steps: declare truncate={k}", self.but(truncate=k))
                for k in range(min(self.max_steps - 1, MOST_TRUNCATIONS))]

    def _zeroed(self, example):
        """The drawn example with the absent arrays 0, as the reference takes them."""
        return example._replace(**{name: np.zeros_like(getattr(example, name)) for name in self.absent})

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
        return conventions.vector(array, conventions.bias_layout(self.bias_layout, self._columns))

    def _judge(self, fn, reference, case: Case, expectations) -> Agreement:
        return self.gradients(fn, case, reference, lambda eps: expectations(
            reference.expectations(eps, derivative_from_output=True)))

    def _conditioned(self, reference):
        judgeable(reference.well_conditioned(conditioning_eps(self.precision)))

    def alternatives(self) -> list:
        return [[(f"fn returns its gradients in the order {order}: declare returns={order!r}",
                  self.but(returns=order)) for order in self.returns.orders()],
                [(f"fn takes {value}: declare weights={other!r}", self.but(weights=other))
                 for other, value in conventions.WEIGHTS.items() if other != self.weights],
                [(f"fn's sequences are laid out as {' '.join(order)!r}: declare axes={' '.join(order)!r}",
                  self.but(axes=" ".join(order))) for order in permutations(conventions.AXES) if order != self.axes],
                conventions.bias_hints(self, conventions.bias_layout(self.bias_layout, self._columns))
                if self.biases else [],
                precision_hints(self)]


def _sizes(x, h0) -> str:
    steps, batch, inputs = x.shape
    return f"T = {steps}, B = {batch}, I = {inputs}, H = {h0.shape[1]}"


# --- the Elman RNN ---------------------------------------------------------------------------

RNN_GRADIENTS = ("W_x", "W_h", "b", "h0", "x")
RNN_ARGUMENTS = ("x", "h0", "W_x", "W_h", "b", "dL_dh")
PROJECTED_GRADIENTS = ("W_x", "W_h", "b", "h0", "V", "c", "x")
PROJECTED_ARGUMENTS = ("x", "h0", "W_x", "W_h", "b", "V", "c", "dL_dy")
OUTPUTS = options.sizes("outputs", 4, "number of output units (with `projection=True`)")


class RNN(Recurrent):
    """Test ``fn(x, h0, W_x, W_h, b, dL_dh) -> dict`` for an Elman RNN's backpropagation through time.

    The network and the loss are those of :func:`gradproofs.rnn.bptt`:
    a_t = W_x x_t + W_h h_(t−1) + b, h_t = f(a_t) for t = 1..T, and
    ``dL_dh`` at step t is the loss's own partial gradient ∂L/∂h_t, without what
    reaches h_t from later steps. By default fn gets x (T, B, I), h0 (B, H),
    W_x (H, I), W_h (H, H), b (H,) and dL_dh (T, B, H), and returns a dict with
    "W_x", "W_h" and "b" (summed over the batch), each of its parameter's shape,
    and "h0", ∂L/∂h_0 (B, H); other keys are ignored; with ``inputs=True`` also
    "x", ∂L/∂x_t for every step. Problems from
    :func:`gradproofs.strategies.sequences` (the longest in about half the draws);
    those the rounding bound cannot judge (a forward pass that amplifies errors
    more than :data:`gradproofs.rnn.MAX_AMPLIFICATION`, for relu a pre-activation
    at the kink) are skipped. Gradients are compared with the exact ones under the
    bound of :class:`gradproofs.rnn.Reference`. With ``projection=True`` the layer
    has an output projection y_t = V h_t + c: fn gets V (O, H), c (O,) and
    ``dL_dy`` (T, B, O), ∂L/∂y_t, in place of ``dL_dh`` (after b; ``arguments`` may
    leave out c, which no gradient needs), and returns "V" and "c" as well
    (:class:`gradproofs.rnn.ProjectedReference`). Raises :class:`gradproofs.Mismatch`
    naming each kind of disagreement with its smallest counterexample; returns a
    Report when every example agrees.
    """

    name = "rnn"
    function = "check_rnn_bptt"
    signature = "fn(x, h0, W_x, W_h, b, dL_dh) -> {W_x, W_h, b, h0}"
    option_records = (ACTIVATION.but(default="tanh"), options.H0, options.BIASES, TRUNCATE,
            options.flag("projection", False, "fn's layer has an output projection y_t = V h_t + c: fn takes V, c "
                                              "and ∂L/∂y_t (`dL_dy`) for ∂L/∂h_t, and returns V's and c's "
                                              "gradients too"),
            options.AXES, options.BIAS_LAYOUT, options.WEIGHTS, options.RETURNS, options.INPUTS,
            options.PRECISION, options.ARGUMENTS, *SIZES, *OUTPUTS, options.NEAR_POWERS_OF_TWO)

    @property
    def probe_sizes(self) -> dict:
        """The recurrent probe's sizes, and with the projection O = 6."""
        return {**Recurrent.probe_sizes, **({"min_outputs": 6, "max_outputs": 6} if self.projection else {})}

    @property
    def declarations(self) -> dict:
        """The recurrent declarations, and with the projection its bias c, which ``biases=False`` takes out."""
        return {**Recurrent.declarations, **({"c": "biases=False"} if self.projection else {})}

    def settle(self) -> None:
        if self.projection:
            self._settle_model(PROJECTED_ARGUMENTS, PROJECTED_GRADIENTS, optional=("c",), inputs="x")
            return
        drawn = [name for name in self.sizes("outputs") if name in self.options]
        if drawn:
            raise InvalidArgument(f"{drawn[0]} sizes the output projection: it needs projection=True")
        self._settle_model(RNN_ARGUMENTS, RNN_GRADIENTS, inputs="x")

    def strategy(self):
        from gradproofs.rnn import strategies

        sizes = {name: value for name, value in self.sizes().items() if "outputs" not in name}
        if self.projection:
            return strategies.projected_sequences(**sizes, **self.sizes("outputs"),
                                                  near_powers_of_two=self.near_powers_of_two).map(self._zeroed)
        return strategies.sequences(**sizes, near_powers_of_two=self.near_powers_of_two).map(self._zeroed)

    def check(self, fn, example) -> Agreement:
        build = rnn.projected_reference if self.projection else rnn.reference
        reference = cached_reference(example, (self.activation, self.truncate), lambda: build(
            *example, activation=self.activation, truncate=self.truncate))
        self._conditioned(reference)
        given = {"x": self._sequence(example.x), "h0": self._state(example.h0), "W_x": self._weight(example.W_x),
                 "W_h": self._weight(example.W_h), "b": self._vector(example.b)}
        if self.projection:
            given.update(V=self._weight(example.V), c=self._vector(example.c), dL_dy=self._sequence(example.dL_dy))
            sizes = f"{_sizes(example.x, example.h0)}, O = {example.V.shape[0]}"
        else:
            given.update(dL_dh=self._sequence(example.dL_dh))
            sizes = _sizes(example.x, example.h0)
        case = Case({name: given[name] for name in self.arguments}, sizes, self.absent)
        return self._judge(fn, reference, case, self._expectations)

    def alternatives(self) -> list:
        return [*super().alternatives(), self._truncations()]

    def _expectations(self, exact: dict) -> dict:
        expected = {"W_x": exact["W_x"].map(self._weight), "W_h": exact["W_h"].map(self._weight),
                    "b": exact["b"].map(self._vector), "h0": exact["h0"].map(self._state),
                    "x": exact["x"].map(self._sequence)}
        if self.projection:
            expected.update(V=exact["V"].map(self._weight), c=exact["c"].map(self._vector))
        return expected


check_rnn_bptt = options.check_function(RNN)


# --- the LSTM ----------------------------------------------------------------------------------

LSTM_STACKED = ("W_x", "W_h", "b", "h0", "c0", "x")
LSTM_SEPARATE = tuple(f"W_{g}" for g in TORCH_GATES) + tuple(f"b_{g}" for g in TORCH_GATES) + ("h0", "c0", "x")


def _gates(name: str, value) -> str:
    """"separate" or an order of the four gate blocks, a permutation of "ifgo"."""
    if not isinstance(value, str) or (value != "separate" and sorted(value) != sorted(TORCH_GATES)):
        raise InvalidArgument(f"{name} must be 'separate' or a permutation of {TORCH_GATES!r} (torch's order; "
                              f"CS231n's is 'ifog'), got {value!r}")
    return value


class LSTM(Recurrent):
    """Test ``fn(x, h0, c0, W_x, W_h, b, dL_dh) -> dict`` for an LSTM's backpropagation through time.

    The forget-gate LSTM of :mod:`gradproofs.rnn`: p_t = W_x x_t + W_h h_(t−1) + b
    split into the gates i, f, g, o; c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t,
    h_t = o_t ⊙ tanh(c_t); ``dL_dh`` holds ∂L/∂h_t, the loss's own partial
    gradient at each step. By default fn gets x (T, B, I), h0 and c0 (B, H),
    W_x (4H, I) and W_h (4H, H) with the gate blocks in torch's order i, f, g, o,
    b (4H,) and dL_dh (T, B, H), and returns a dict with "W_x", "W_h", "b"
    (summed over the batch), "h0" and "c0" (per sequence); other keys are
    ignored. With ``gates="separate"`` fn returns "W_i", …, "W_o" and "b_i", …,
    "b_o" (unless ``returns`` maps them). Problems from
    :func:`gradproofs.strategies.lstm_sequences`, compared with the exact
    gradients (:func:`gradproofs.rnn.lstm_backward_exact`) under the bound of
    :class:`gradproofs.rnn.LSTMReference`. Raises :class:`gradproofs.Mismatch`
    naming each kind of disagreement with its smallest counterexample; returns
    a Report when every example agrees.
    """

    name = "lstm"
    function = "check_lstm_bptt"
    signature = "fn(x, h0, c0, W_x, W_h, b, dL_dh) -> {W_x, W_h, b, h0, c0}"
    declarations = {"h0": "h0=False", "c0": "c0=False", "b": "biases=False"}
    option_records = (options.H0, options.flag("c0", True, "`False`: fn starts from c_0 = 0 and takes no c0"), options.BIASES,
            options.Option("gates", TORCH_GATES, "the order of the stacked gate blocks (torch's; CS231n's is "
                                                 "`'ifog'`), or `'separate'`: a dict `W` of four (H, H + I) "
                                                 "matrices acting on [h_(t−1); x_t] and a dict `b` "
                                                 "(deeplearning.ai), keyed `'i'`, `'f'`, `'g'`, `'o'`",
                           check=_gates, domain="any order, `'separate'`"),
            options.AXES, options.BIAS_LAYOUT, options.WEIGHTS, options.RETURNS, options.INPUTS, options.PRECISION,
            options.ARGUMENTS,
            *SIZES, options.NEAR_POWERS_OF_TWO)

    def settle(self) -> None:
        separate = self.gates == "separate"
        if separate:  # the four gates' weights are one kind of mismatch, their biases another
            self.families = (tuple(f"W_{g}" for g in TORCH_GATES), tuple(f"b_{g}" for g in TORCH_GATES),
                             ("h0", "c0"))
        weights_in = ("W", "b") if separate else ("W_x", "W_h", "b")
        self._settle_model(("x", "h0", "c0", *weights_in, "dL_dh"), LSTM_SEPARATE if separate else LSTM_STACKED,
                           inputs="x")

    def strategy(self):
        from gradproofs.rnn import strategies

        return strategies.lstm_sequences(**self.sizes(), near_powers_of_two=self.near_powers_of_two).map(
            self._zeroed)

    def _blocks(self, array, hidden: int):
        """Rows in blocks of H, torch's order i, f, g, o, reordered as the declared ``gates``."""
        return np.concatenate([array[TORCH_GATES.index(g) * hidden:(TORCH_GATES.index(g) + 1) * hidden]
                               for g in self.gates], axis=0)

    def _block(self, array, gate: str, hidden: int):
        start = TORCH_GATES.index(gate) * hidden
        return array[start:start + hidden]

    def check(self, fn, example) -> Agreement:
        reference = cached_reference(example, "lstm", lambda: rnn.lstm_reference(*example))
        self._conditioned(reference)
        H = example.h0.shape[1]
        given = {"x": self._sequence(example.x), "h0": self._state(example.h0), "c0": self._state(example.c0),
                 "dL_dh": self._sequence(example.dL_dh)}
        if self.gates == "separate":
            given["W"] = {g: self._weight(np.concatenate([self._block(example.W_h, g, H),
                                                          self._block(example.W_x, g, H)], axis=1))
                          for g in TORCH_GATES}
            given["b"] = {g: self._vector(self._block(example.b, g, H)) for g in TORCH_GATES}
        else:
            given.update(W_x=self._weight(self._blocks(example.W_x, H)), W_h=self._weight(self._blocks(example.W_h, H)),
                         b=self._vector(self._blocks(example.b, H)))
        case = Case({name: given[name] for name in self.arguments}, _sizes(example.x, example.h0), self.absent)
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


check_lstm_bptt = options.check_function(LSTM)
