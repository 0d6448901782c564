"""check_mlp: a dense network's backpropagation, in the user's conventions."""

from __future__ import annotations

from functools import lru_cache


from gradproofs import _validate
from gradproofs.compare import Agreement, judge
from gradproofs.activations import engine as activations
from gradproofs.mlp import engine as mlp
from gradproofs.oracle import conventions
from gradproofs.oracle.harness import Case, Oracle, cached_reference, call, conditioning_eps, examples_option, \
    judgeable, judged, judging_precision, precision_hints, reproduce_option

__all__ = ["GRADIENTS", "ARGUMENTS", "MLP", "check_mlp"]

GRADIENTS = ("dW", "db", "dx")  # the names of what fn may return
ARGUMENTS = ("weights", "biases", "x", "y")


class MLP(Oracle):
    """The dense network of :mod:`gradproofs.mlp`, its arrays in the declared conventions."""

    name = "mlp"
    function = "check_mlp"
    signature = "fn(weights, biases, x, y) -> (dW, db)"

    def __init__(self, *, activation="sigmoid", cost="quadratic", output_activation=None, reduction=None,
                 targets=None, weights="out_in", samples="rows", returns=None, inputs=False, precision=None,
                 arguments=ARGUMENTS, max_depth=3, max_width=5, max_batch=4, near_powers_of_two=False):
        self.remember(locals())
        self.activation = activations.get(activation).name
        self.cost = _validate.choice("cost", cost, mlp.COSTS)
        self.output = mlp.output_activation_of(self.activation, cost, output_activation)
        self.samples = conventions.choice("samples", samples, conventions.SAMPLES)
        if reduction is not None and self.samples == "single":
            raise ValueError("reduction must be left out with samples='single': fn gets one sample per call "
                             "and returns that sample's gradient, so there is nothing to reduce")
        self.reduction = conventions.choice("reduction", reduction or "mean", conventions.REDUCTIONS)
        self.targets = conventions.choice("targets", targets or "probabilities", conventions.TARGETS)
        if self.targets == "labels" and self.cost != "softmax_cross_entropy":
            raise ValueError(f"targets='labels' (integer classes) needs cost='softmax_cross_entropy', got "
                             f"cost={cost!r}")
        self.weights = conventions.choice("weights", weights, conventions.WEIGHTS)
        self.inputs = conventions.flag("inputs", inputs)
        known = GRADIENTS if self.inputs else GRADIENTS[:2]
        self.returns = conventions.Returns(returns, known=known, default=known, layered=("dW", "db"),
                                           inputs="dx", function=self.function)
        if self.inputs and "dx" not in self.returns.fields:
            raise ValueError("inputs=True, but returns does not name 'dx', the gradient of the inputs")
        self.precision = conventions.precision(precision)
        self.arguments = conventions.arguments(arguments, ARGUMENTS)
        self.max_depth = _validate.positive_int("max_depth", max_depth)
        self.max_width = _validate.positive_int("max_width", max_width)
        self.max_batch = _validate.positive_int("max_batch", max_batch)
        self.near_powers_of_two = conventions.flag("near_powers_of_two", near_powers_of_two)

    # --- examples ---

    def strategy(self):
        from gradproofs.mlp import strategies

        kind = {"labels": "one_hot", "probabilities": "probabilities"}[self.targets] \
            if self.cost == "softmax_cross_entropy" else "unit"
        return strategies.networks(max_depth=self.max_depth, max_width=self.max_width,
                                   near_powers_of_two=self.near_powers_of_two).flatmap(
            lambda network: _batches(network.weights[0].shape[1], network.weights[-1].shape[0], self.max_batch,
                                     kind, self.near_powers_of_two).map(
                lambda batch: (network.weights, network.biases, *batch)))

    def _reference(self, example, sample: int | None = None):
        weights, biases, x, y = example
        if sample is not None:
            x, y = x[sample:sample + 1], y[sample:sample + 1]
        reference = cached_reference(example, (self.activation, self.cost, self.output, sample), lambda: mlp.reference(
            weights, biases, x, y, activation=self.activation, cost=self.cost, output_activation=self.output))
        judgeable(reference.well_conditioned(conditioning_eps(self.precision)))
        return reference

    # --- the user's layout ---

    @property
    def _columns(self) -> bool:
        return self.samples != "rows"

    def _samples(self, array):
        """(B, n) as fn takes samples: rows, or columns (n, B)."""
        return array.T if self._columns else array

    def _targets(self, y):
        if self.targets == "labels":
            labels = y.argmax(axis=1)
            return int(labels[0]) if self.samples == "single" else labels
        return self._samples(y)

    def case(self, weights, biases, x, y, sizes: str) -> Case:
        given = {"weights": [conventions.weight(W_l, self.weights) for W_l in weights],
                 "biases": [conventions.vector(b_l, self._columns) for b_l in biases],
                 "x": self._samples(x), "y": self._targets(y)}
        return Case({name: given[name] for name in self.arguments}, sizes)

    def expectations(self, reference, eps: float) -> dict:
        """{field: Expected}: the reference's gradients in the user's layout and reduction."""
        exact = reference.expectations(eps, derivative_from_output=True)
        factor = float(reference.x.shape[0]) if self.reduction == "sum" else 1.0
        return {"dW": [e.map(lambda a: conventions.weight(a, self.weights), factor=factor) for e in exact["dW"]],
                "db": [e.map(lambda a: conventions.vector(a, self._columns), factor=factor) for e in exact["db"]],
                "dx": exact["dx"].map(self._samples, factor=factor)}

    # --- judging ---

    def check(self, fn, example) -> Agreement:
        weights, biases, x, y = example
        widths = [weights[0].shape[1], *(W_l.shape[0] for W_l in weights)]
        if self.samples != "single":
            reference = self._reference(example)
            return self._judge(fn, reference, self.case(weights, biases, x, y, f"widths {widths}, a batch of "
                                                                               f"{x.shape[0]}"))
        references = [self._reference(example, i) for i in range(x.shape[0])]
        return Agreement.worst(self._judge(fn, reference, self.case(
            weights, biases, x[i:i + 1], y[i:i + 1], f"widths {widths}, sample {i + 1} of {x.shape[0]}, one call "
                                                     f"per sample")) for i, reference in enumerate(references))

    def _judge(self, fn, reference, case: Case) -> Agreement:
        depth = len(reference.weights)

        def judgement():
            result, _ = call(fn, case)
            got = self.returns.read(result, depth)
            precision = judging_precision(self.precision, got, reference)
            expected = self.returns.expected(self.expectations(reference, precision.eps), depth)
            return judge("fn", got, expected, precision=precision, reason=reference.reason(True))

        return judged(case, judgement, self.returns.kinds(depth))

    def alternatives(self) -> list:
        groups = [[(f"fn returns its gradients in the order {order}: declare returns={order!r}",
                    self.but(returns=order)) for order in self.returns.orders()]]
        if self.samples != "single":
            other = "sum" if self.reduction == "mean" else "mean"
            word = {"sum": "sums the cost over the batch", "mean": "averages the cost over the batch"}[other]
            groups.append([(f"fn {word}: declare reduction={other!r} if that is what it means to do "
                            f"(every gradient differs from the declared one by the batch size)",
                            self.but(reduction=other))])
        if self.output != "identity" and self.cost == "quadratic":
            groups.append([("fn's output layer is linear: declare output_activation='identity'",
                            self.but(output_activation="identity"))])
        other = "in_out" if self.weights == "out_in" else "out_in"
        shapes = {"in_out": "(n_in, n_out), used as x @ W", "out_in": "(n_out, n_in), used as x @ W.T"}
        groups.append([(f"fn takes weights of shape {shapes[other]}: declare weights={other!r}",
                        self.but(weights=other))])
        groups.append([(f"fn takes {what}: declare samples={samples!r}", self.but(samples=samples))
                       for samples, what in (("rows", "one sample per row (B, n) and biases (n,)"),
                                             ("columns", "one sample per column (n, B) and biases (n, 1)"))
                       if samples != self.samples and self.samples != "single"])
        if self.cost == "softmax_cross_entropy":
            other = "labels" if self.targets == "probabilities" else "probabilities"
            groups.append([(f"fn takes targets as {other}: declare targets={other!r}", self.but(targets=other))])
        groups.append(precision_hints(self))
        return groups


@lru_cache(maxsize=None)
def _batches(n_in: int, n_out: int, max_batch: int, targets: str, dense: bool):
    """One batch strategy per shape: building one inspects its source, which costs more than a draw."""
    from gradproofs.mlp import strategies

    return strategies.batches(n_in, n_out, max_batch=max_batch, targets=targets, dense=dense)


def check_mlp(fn, *, activation: str = "sigmoid", cost: str = "quadratic", output_activation: str | None = None,
              reduction: str | None = None, targets: str | None = None, weights: str = "out_in",
              samples: str = "rows", returns=None, inputs: bool = False, precision: str | None = None,
              arguments=ARGUMENTS, max_examples: int | None = None, max_depth: int = 3, max_width: int = 5,
              max_batch: int = 4, near_powers_of_two: bool = False, reproduce=None):
    """Test ``fn(weights, biases, x, y) -> (dW, db)`` for a dense network, in fn's own conventions.

    The network is :mod:`gradproofs.mlp`'s: z^l = W^l a^(l−1) + b^l, a^l = f(z^l)
    with f = ``activation`` in the hidden layers and ``output_activation`` at the
    last (by default f; ``"identity"`` for a linear output; the softmax's logits
    for ``cost="softmax_cross_entropy"``), the ``cost`` per sample (quadratic
    ½‖a^L − y‖², cross_entropy with a sigmoid output, softmax_cross_entropy)
    and its mean over the batch (``reduction="sum"``: its sum).

    Layout, declared (:mod:`gradproofs.oracle.conventions`): ``weights`` "out_in"
    (W^l of shape (n_(l+1), n_l)) or "in_out" (its transpose, ``x @ W``);
    ``samples`` "rows" (x (B, n_0), biases (n,)), "columns" (x (n_0, B), biases
    (n, 1)) or "single" (fn is called once per sample with x (n_0, 1) and y
    (n_L, 1), biases (n, 1), and returns that sample's gradient); ``targets``
    "probabilities" or "labels" (integer classes, softmax cross-entropy only);
    ``returns`` the order (default ``("dW", "db")``, each one array per layer)
    or a dict of names (``{"dW": "W{l}", "db": "b{l}"}`` reads ``W1``, ``b1``, …);
    ``inputs=True``: fn also returns ``"dx"``, ∂C/∂x in x's layout;
    ``arguments``: the names fn takes, in order; ``precision``: the rounding fn
    is judged with (default: its result's dtype).

    Networks have 1 to ``max_depth`` layers of 1 to ``max_width`` neurons
    (``near_powers_of_two=True``: widths of 2^k − 1, 2^k and 2^k + 1, where tiled
    kernels have their boundaries), batches 1 to ``max_batch`` samples. Gradients
    are compared with the exact ones (:func:`gradproofs.mlp.backward_exact`, or
    for large networks :func:`gradproofs.mlp.backward_extended`) under the
    rounding bound of :class:`gradproofs.mlp.Reference`. Without ``max_examples`` the active
    Hypothesis profile sets the number of examples. Raises
    :class:`gradproofs.Mismatch` naming each kind of disagreement with its
    smallest counterexample; returns a Report when every example agrees.
    """
    oracle = MLP(activation=activation, cost=cost, output_activation=output_activation, reduction=reduction,
                 targets=targets, weights=weights, samples=samples, returns=returns, inputs=inputs,
                 precision=precision, arguments=arguments, max_depth=max_depth, max_width=max_width,
                 max_batch=max_batch, near_powers_of_two=near_powers_of_two)
    return oracle.run(fn, max_examples=examples_option(max_examples), reproduce=reproduce_option(reproduce))
