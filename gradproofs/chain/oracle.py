"""check_chain: backpropagation through a chain of one neuron per layer."""

from __future__ import annotations

from gradproofs.compare import Agreement
from gradproofs.activations import costs
from gradproofs.chain import engine as chain
from gradproofs.activations.option import ACTIVATION
from gradproofs.oracle import conventions, options
from gradproofs.oracle.harness import Case, Oracle, cached_reference, conditioning_eps, judgeable, precision_hints

__all__ = ["GRADIENTS", "ARGUMENTS", "Chain", "check_chain"]

GRADIENTS = ("dw", "db")
ARGUMENTS = ("w", "b", "x", "y")


class Chain(Oracle):
    """Test ``fn(w, b, x, y) -> (dw, db)`` for a chain of one neuron per layer.

    ``w`` and ``b`` are float64 arrays of the depth's length (``min_depth`` to
    ``max_depth``), ``x`` and ``y`` floats; ``dw`` and ``db`` may be any
    array-likes, compared with the exact gradients under the bound of
    :class:`gradproofs.chain.Reference`. Raises :class:`gradproofs.Mismatch`
    on the smallest counterexample of each kind of disagreement; returns a
    Report when every example agrees.
    """

    name = "chain"
    function = "check_chain"
    signature = "fn(w, b, x, y) -> (dw, db)"
    option_records = (ACTIVATION,
            options.Option("cost", "quadratic", "the cost of the output", values=costs.NAMES),
            options.RETURNS, options.PRECISION, options.ARGUMENTS,
            *options.sizes("depth", 16, "number of layers"))

    def settle(self) -> None:
        costs.get(self.cost, activation=self.activation)
        self.returns = conventions.Returns(self.returns, known=GRADIENTS, default=GRADIENTS, function=self.function)
        self.arguments = conventions.declared_arguments(self, ARGUMENTS)

    def strategy(self):
        from gradproofs.chain import strategies

        return strategies.chains(**self.sizes(), activation=self.activation, cost=self.cost)

    def check(self, fn, example) -> Agreement:
        reference = cached_reference(example, (self.activation, self.cost),
                                     lambda: chain.reference(*example, activation=self.activation, cost=self.cost))
        judgeable(reference.well_conditioned(conditioning_eps(self.precision)))
        given = dict(zip(ARGUMENTS, example))
        case = Case({name: given[name] for name in self.arguments}, f"depth {example.w.size}")
        return self.gradients(fn, case, reference,
                              lambda eps: reference.expectations(eps, derivative_from_output=True))

    def alternatives(self) -> list:
        return [[(f"fn returns its gradients in the order {order}: declare returns={order!r}",
                  self.but(returns=order)) for order in self.returns.orders()],
                precision_hints(self)]


check_chain = options.check_function(Chain)
