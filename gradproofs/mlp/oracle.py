"""check_mlp: a dense network's backpropagation, in the user's conventions."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gradproofs import _validate
from gradproofs.compare import Agreement
from gradproofs.errors import InvalidArgument
from gradproofs.mlp import engine as mlp
from gradproofs.activations.option import ACTIVATION
from gradproofs.oracle import conventions, options
from gradproofs.oracle.harness import Case, Oracle, cached_reference, conditioning_eps, judgeable, precision_hints

__all__ = ["GRADIENTS", "ARGUMENTS", "MLP", "check_mlp"]

GRADIENTS = ("dW", "db", "dx")  # the names of what fn may return
ARGUMENTS = ("weights", "biases", "x", "y")


def _widths(name: str, value) -> tuple | None:
    """None, or the fixed widths [n_0, …, n_L]: at least two integers ≥ 1."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)) or len(value) < 2:
        raise InvalidArgument(f"{name} must be a sequence of at least two widths [n_0, …, n_L] (one layer), "
                              f"got {value!r}")
    return tuple(_validate.positive_int(f"{name}[{l}]", n) for l, n in enumerate(value))


class MLP(Oracle):
    """Test ``fn(weights, biases, x, y) -> (dW, db)`` for a dense network, in fn's own conventions.

    The network is :mod:`gradproofs.mlp`'s: z^l = W^l a^(l−1) + b^l, a^l = f(z^l)
    with f = ``activation`` in the hidden layers and ``output_activation`` at the
    last, the ``cost`` per sample (quadratic ½‖a^L − y‖², cross_entropy with a
    sigmoid output, softmax_cross_entropy) and its mean over the batch. By
    default fn returns ``("dW", "db")``, each one array per layer; with
    ``biases=False`` the network has none (b^l = 0), fn takes
    ``(weights, x, y)`` and returns dW alone. Gradients are
    compared with the exact ones (:func:`gradproofs.mlp.backward_exact`, or for
    large networks :func:`gradproofs.mlp.backward_extended`) under the rounding
    bound of :class:`gradproofs.mlp.Reference`. Raises :class:`gradproofs.Mismatch`
    naming each kind of disagreement with its smallest counterexample; returns a
    Report when every example agrees.
    """

    name = "mlp"
    function = "check_mlp"
    probe_sizes = {"widths": (3, 4, 2), "min_batch": 5, "max_batch": 5}
    declarations = {"biases": "biases=False"}
    dropped = None  # not an option: the layer (or "output") whose f′ a hint's model of fn leaves out of δ
    signature = "fn(weights, biases, x, y) -> (dW, db)"
    option_records = (ACTIVATION,
            options.Option("cost", "quadratic", "the cost per sample", values=mlp.COSTS),
            options.Option("output_activation", None, "the last layer's activation (None: the hidden one, or the "
                                                      "softmax's logits for softmax_cross_entropy; `'identity'`: a "
                                                      "linear output, as micrograd's MLP)",
                           domain="an activation's name"),
            options.REDUCTION,
            options.Option("targets", None, "None is `'probabilities'`, target rows summing to 1; `'labels'`: integer "
                                            "classes (as `F.cross_entropy` and CS231n's `softmax_loss` take them), "
                                            "with softmax_cross_entropy", values=(None, "probabilities", "labels")),
            options.BIASES, options.WEIGHTS, options.SAMPLES, options.BIAS_LAYOUT, options.RETURNS, options.INPUTS,
            options.PRECISION, options.ARGUMENTS,
            options.Option("widths", None, "the network's widths [n_0, …, n_L], fixed (None: drawn from the depth "
                                           "and width ranges)", check=_widths,
                           domain="at least two integers ≥ 1, as `(784, 30, 10)`"),
            *options.DEPTHS, *options.sizes("width", 5, "width"), *options.sizes("batch", 4, "batch"),
            options.NEAR_POWERS_OF_TWO)

    def settle(self) -> None:
        self.output = mlp.output_activation_of(self.activation, self.cost, self.output_activation)
        if self.reduction is not None and conventions.SAMPLES[self.samples].single:
            raise InvalidArgument("reduction must be left out with samples='single': fn gets one sample per call "
                                  "and returns that sample's gradient, so there is nothing to reduce")
        self.reduction = self.reduction or "mean"
        self.targets = self.targets or "probabilities"
        if self.targets == "labels" and self.cost != "softmax_cross_entropy":
            raise InvalidArgument(f"targets='labels' (integer classes) needs cost='softmax_cross_entropy', got "
                                  f"cost={self.cost!r}")
        known = tuple(name for name in GRADIENTS if (name != "db" or self.biases) and (name != "dx" or self.inputs))
        self.returns = conventions.Returns(self.returns, known=known, default=known if len(known) > 1 else known[0],
                                           layered=("dW", "db"), inputs="dx", function=self.function)
        self.arguments = conventions.declared_arguments(
            self, tuple(name for name in ARGUMENTS if name not in self.absent), declarations=self.declarations)
        drawn = [name for name in self.sizes("depth", "width") if name in self.options]
        if self.widths is not None and drawn:
            raise InvalidArgument(f"widths fixes the network; {drawn[0]} must be left out with it")

    # --- examples ---

    def strategy(self):
        from gradproofs.mlp import strategies

        kind = {"labels": "one_hot", "probabilities": "probabilities"}[self.targets] \
            if self.cost == "softmax_cross_entropy" else "unit"
        shapes = {"widths": self.widths} if self.widths is not None else self.sizes("depth", "width")
        networks = strategies.networks(**shapes, near_powers_of_two=self.near_powers_of_two)
        if not self.biases:
            networks = networks.map(lambda network: network._replace(biases=[np.zeros_like(b) for b in network.biases]))
        return networks.flatmap(
            lambda network: _batches(network.weights[0].shape[1], network.weights[-1].shape[0], self.min_batch,
                                     self.max_batch, kind, self.near_powers_of_two).map(
                lambda batch: (network.weights, network.biases, *batch)))

    def _reference(self, example, sample: int | None = None):
        weights, biases, x, y = example
        if sample is not None:
            x, y = x[sample:sample + 1], y[sample:sample + 1]
        depth = len(weights)
        if self.dropped is not None:  # layer l's model judges only examples that have that layer
            judgeable(self.dropped == "output" or self.dropped <= depth)
        dropped = depth if self.dropped == "output" else self.dropped
        key = (self.activation, self.cost, self.output, sample, dropped)
        reference = cached_reference(example, key, lambda: mlp.reference(
            weights, biases, x, y, activation=self.activation, cost=self.cost, output_activation=self.output,
            dropped=dropped))
        judgeable(reference.well_conditioned(conditioning_eps(self.precision)))
        return reference

    # --- the user's layout ---

    @property
    def _columns(self) -> bool:
        return conventions.SAMPLES[self.samples].columns

    @property
    def _single(self) -> bool:
        return conventions.SAMPLES[self.samples].single

    @property
    def _bias_layout(self) -> str:
        return conventions.bias_layout(self.bias_layout, self._columns)

    def _samples(self, array):
        """(B, n) as fn takes samples: rows, or columns (n, B)."""
        return array.T if self._columns else array

    def _targets(self, y):
        if self.targets == "labels":
            labels = y.argmax(axis=1)
            return int(labels[0]) if self._single else labels
        return self._samples(y)

    def case(self, weights, biases, x, y, sizes: str) -> Case:
        given = {"weights": [conventions.weight(W_l, self.weights) for W_l in weights],
                 "biases": [conventions.vector(b_l, self._bias_layout) for b_l in biases],
                 "x": self._samples(x), "y": self._targets(y)}
        return Case({name: given[name] for name in self.arguments}, sizes, self.absent)

    def expectations(self, reference, eps: float) -> dict:
        """{field: Expected}: the reference's gradients in the user's layout and reduction."""
        exact = reference.expectations(eps, derivative_from_output=True)
        factor = float(reference.x.shape[0]) if conventions.REDUCTIONS[self.reduction].summed else 1.0
        return {"dW": [e.map(lambda a: conventions.weight(a, self.weights), factor=factor) for e in exact["dW"]],
                "db": [e.map(lambda a: conventions.vector(a, self._bias_layout), factor=factor) for e in exact["db"]],
                "dx": exact["dx"].map(self._samples, factor=factor)}

    # --- judging ---

    def check(self, fn, example) -> Agreement:
        weights, biases, x, y = example
        widths = [weights[0].shape[1], *(W_l.shape[0] for W_l in weights)]
        if not self._single:
            reference = self._reference(example)
            return self._judge(fn, reference, self.case(weights, biases, x, y, f"widths {widths}, a batch of "
                                                                               f"{x.shape[0]}"))
        references = [self._reference(example, i) for i in range(x.shape[0])]
        return Agreement.worst(self._judge(fn, reference, self.case(
            weights, biases, x[i:i + 1], y[i:i + 1], f"widths {widths}, sample {i + 1} of {x.shape[0]}, one call "
                                                     f"per sample")) for i, reference in enumerate(references))

    def _judge(self, fn, reference, case: Case) -> Agreement:
        return self.gradients(fn, case, reference, lambda eps: self.expectations(reference, eps),
                              len(reference.weights))

    def alternatives(self) -> list:
        groups = [[(f"fn returns its gradients in the order {order}: declare returns={order!r}",
                    self.but(returns=order)) for order in self.returns.orders()]]
        if not self._single:
            groups.append([(f"fn {value.does}: declare reduction={other!r} if that is what it means to do "
                            f"(every gradient differs from the declared one by the batch size)",
                            self.but(reduction=other))
                           for other, value in conventions.REDUCTIONS.items() if other != self.reduction])
        if self.output != "identity" and self.cost == "quadratic":
            groups.append([("fn's output layer is linear: declare output_activation='identity'",
                            self.but(output_activation="identity"))])
        groups.append([(f"fn takes {value}: declare weights={other!r}", self.but(weights=other))
                       for other, value in conventions.WEIGHTS.items() if other != self.weights])
        groups.append(self._missing_derivatives())
        if self.biases:
            groups.append(conventions.bias_hints(self, self._bias_layout))
        groups.append([(f"fn takes {value.takes}: declare samples={other!r}", self.but(samples=other))
                       for other, value in conventions.SAMPLES.items()
                       if other != self.samples and not value.single and not self._single])
        if self.cost == "softmax_cross_entropy":
            other = "labels" if self.targets == "probabilities" else "probabilities"
            groups.append([(f"fn takes targets as {other}: declare targets={other!r}", self.but(targets=other))])
        groups.append(precision_hints(self))
        return groups

    def _missing_derivatives(self) -> list:
        """fn leaves a layer's f′(z^l) out of δ^l: the output layer's (under the quadratic cost), or layer
        l's counted from the first, which may be the output layer of a shallower example. One hint at most."""
        depth = len(self.widths) - 1 if self.widths is not None else self.max_depth
        layers = [("output", "f′(z^L) in the output layer's δ^L = ∇_a C ⊙ f′(z^L)")] \
            if self.cost == "quadratic" and self.output != "identity" else []
        layers += [(l, f"f′(z^{l}) in layer {l}'s δ^{l}") for l in range(1, depth + 1)]
        variants = []
        for dropped, what in layers:
            variant = self.but()
            variant.dropped = dropped
            variants.append((f"fn's gradients are backpropagation's without the factor {what}: multiply by the "
                             f"activation's derivative there", variant))
        return variants


@lru_cache(maxsize=None)
def _batches(n_in: int, n_out: int, min_batch: int, max_batch: int, targets: str, dense: bool):
    """One batch strategy per shape: building one inspects its source, which costs more than a draw."""
    from gradproofs.mlp import strategies

    return strategies.batches(n_in, n_out, min_batch=min_batch, max_batch=max_batch, targets=targets, dense=dense)


check_mlp = options.check_function(MLP)
