"""check_chain: backpropagation through a chain of one neuron per layer."""

from __future__ import annotations

from gradproofs import _validate
from gradproofs.compare import Agreement, judge
from gradproofs.activations import costs, engine as activations
from gradproofs.chain import engine as chain
from gradproofs.oracle import conventions
from gradproofs.oracle.harness import Case, Oracle, cached_reference, call, conditioning_eps, examples_option, \
    judgeable, judged, judging_precision, precision_hints, reproduce_option

__all__ = ["GRADIENTS", "ARGUMENTS", "Chain", "check_chain"]

GRADIENTS = ("dw", "db")
ARGUMENTS = ("w", "b", "x", "y")


class Chain(Oracle):
    """The chain of :mod:`gradproofs.chain`: w and b of the depth's length, x and y numbers."""

    name = "chain"
    function = "check_chain"
    signature = "fn(w, b, x, y) -> (dw, db)"

    def __init__(self, *, activation="sigmoid", cost="quadratic", returns=None, precision=None,
                 arguments=ARGUMENTS, max_depth=16):
        self.remember(locals())
        self.activation = activations.get(activation).name
        self.cost = _validate.choice("cost", cost, costs.NAMES)
        costs.get(cost, activation=activation)
        self.returns = conventions.Returns(returns, known=GRADIENTS, default=GRADIENTS, function=self.function)
        self.precision = conventions.precision(precision)
        self.arguments = conventions.arguments(arguments, ARGUMENTS)
        self.max_depth = _validate.positive_int("max_depth", max_depth)

    def strategy(self):
        from gradproofs.chain import strategies

        return strategies.chains(max_depth=self.max_depth, activation=self.activation, cost=self.cost)

    def check(self, fn, example) -> Agreement:
        reference = cached_reference(example, (self.activation, self.cost),
                                     lambda: chain.reference(*example, activation=self.activation, cost=self.cost))
        judgeable(reference.well_conditioned(conditioning_eps(self.precision)))
        given = dict(zip(ARGUMENTS, example))
        case = Case({name: given[name] for name in self.arguments}, f"depth {example.w.size}")

        def judgement():
            result, _ = call(fn, case)
            got = self.returns.read(result)
            precision = judging_precision(self.precision, got, reference)
            expected = self.returns.expected(reference.expectations(precision.eps, derivative_from_output=True))
            return judge("fn", got, expected, precision=precision, reason=reference.reason(True))

        return judged(case, judgement, self.returns.kinds())

    def alternatives(self) -> list:
        return [[(f"fn returns its gradients in the order {order}: declare returns={order!r}",
                  self.but(returns=order)) for order in self.returns.orders()],
                precision_hints(self)]


def check_chain(fn, *, activation: str = "sigmoid", cost: str = "quadratic", returns=None,
                precision: str | None = None, arguments=ARGUMENTS, max_examples: int | None = None,
                max_depth: int = 16, reproduce=None):
    """Test ``fn(w, b, x, y) -> (dw, db)`` for a chain of one neuron per layer.

    ``w`` and ``b`` are float64 arrays of the depth's length (1 to
    ``max_depth``), ``x`` and ``y`` floats; ``dw`` and ``db`` may be any
    array-likes. ``returns``: their order (``("db", "dw")``) or a dict of
    names; ``arguments``: the names fn takes, in order; ``precision``: the
    rounding fn is judged with (default: its result's dtype, so float32
    results are judged with float32's rounding). Compared with the exact
    gradients under the bound of :class:`gradproofs.chain.Reference`. Without
    ``max_examples`` the active Hypothesis profile sets the number of examples.
    Raises :class:`gradproofs.Mismatch` on the smallest counterexample of each
    kind of disagreement; returns a Report when every example agrees.
    """
    oracle = Chain(activation=activation, cost=cost, returns=returns, precision=precision, arguments=arguments,
                   max_depth=max_depth)
    return oracle.run(fn, max_examples=examples_option(max_examples), reproduce=reproduce_option(reproduce))
