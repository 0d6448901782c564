"""Check someone else's gradient code against the reference, from their own tests.

>>> from gradproofs.oracle import check_chain, check_mlp
>>> report = check_chain(my_backward)          # raises gradproofs.Mismatch on a bug
>>> print(report)
>>> check_mlp(my_dense_backward, cost="softmax_cross_entropy")

Each runner draws inputs with Hypothesis, compares the implementation with the
exact (40-digit) gradients (the chain's product form, the dense network's
backward recurrence) under a derived rounding tolerance, and on failure raises
:class:`gradproofs.Mismatch` naming the *smallest* counterexample Hypothesis
could shrink to, both values and the worst error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from gradproofs import _validate, activations, chain, costs, mlp
from gradproofs.compare import unit_roundoff
from gradproofs.errors import Mismatch
from gradproofs.mlp import _describe


@dataclass(frozen=True)
class Report:
    """What a passing check established."""

    subject: str
    examples: int
    worst_error: float

    def __str__(self) -> str:
        return (f"{self.subject}: agreed with the reference on {self.examples} examples; "
                f"worst error {self.worst_error:.3g} of the scale (within tolerance)")


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _run(test, subject: str, max_examples: int):
    """Run a Hypothesis test with the oracle's settings; re-raise its minimal Mismatch."""
    from hypothesis import HealthCheck, Phase, settings

    # No explain phase: the Mismatch says what differs, and explaining costs more than shrinking.
    configured = settings(max_examples=max_examples, deadline=None, database=None,
                          report_multiple_bugs=False, print_blob=False,
                          phases=[phase for phase in Phase if phase != Phase.explain],
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])(test)
    try:
        configured()
    except Mismatch as failure:
        raise Mismatch(f"{subject} disagrees with the reference. Smallest counterexample found:\n"
                       f"{failure}") from None


def _check_arguments(fn, activation: str, cost: str, cost_names, **counts) -> dict:
    """Validate what every runner takes; returns the counts (max_examples, …) as ints."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    activations.get(activation)
    _validate.choice("cost", cost, cost_names)
    if cost in costs.NAMES:
        costs.get(cost, activation=activation)
    return {name: _validate.positive_int(name, value) for name, value in counts.items()}


def _same(original, passed) -> bool:
    if isinstance(original, list):
        return isinstance(passed, list) and len(passed) == len(original) and all(
            _same(o, p) for o, p in zip(original, passed))
    return np.array_equal(original, passed)


def _copy(value):
    """A copy of an array or a list of arrays; numbers are immutable and passed as they are."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value.copy() if isinstance(value, np.ndarray) else value


def _judge(fn, arguments: dict, where: str, assert_matches) -> float:
    """Call ``fn`` on copies of ``arguments`` and compare its pair with ``assert_matches``.

    A crash, an argument modified in place, a result that is not a pair or one
    the comparison refuses is a Mismatch naming ``where``. An unknown
    implementation may form f′ from the output, as autograd does: the tolerance
    allows for it. Returns the worst error as a fraction of the scale.
    """
    passed = {name: _copy(value) for name, value in arguments.items()}
    try:
        result = fn(*passed.values())
    except Exception as error:  # noqa: BLE001 - any crash is a finding
        raise Mismatch(f"  {where}\n  fn raised {error!r}") from error
    modified = [name for name in arguments if not _same(arguments[name], passed[name])]
    if modified:
        raise Mismatch(f"  {where}\n  fn modified its arguments in place: {', '.join(modified)}")
    try:
        first, second = result
    except (TypeError, ValueError):
        raise Mismatch(f"  {where}\n  fn must return a pair (gradients of the weights, of the "
                       f"biases), got {_describe(result)}") from None
    try:
        return assert_matches("fn", first, second, eps=_eps(first, second), derivative_from_output=True)
    except (Mismatch, ValueError, TypeError) as failure:
        raise Mismatch(f"  {where}\n  {failure}") from None


def _eps(*results) -> float:
    """The unit roundoff of the coarsest floating dtype among the returned arrays."""
    flat = [v for r in results for v in (r if isinstance(r, (list, tuple)) else [r])]
    return max(unit_roundoff(v) for v in flat) if flat else unit_roundoff(None)


class _Tally:
    """Examples that agreed, and the worst error among them."""

    def __init__(self):
        self.examples, self.worst = 0, 0.0

    def add(self, worst: float) -> None:
        self.examples += 1
        self.worst = max(self.worst, worst)

    def report(self, subject: str) -> Report:
        return Report(subject, self.examples, self.worst)


_FLOAT32_EPS = float(np.finfo(np.float32).eps)  # draws must be judgeable at float32's rounding


def check_chain(fn, *, activation: str = "sigmoid", cost: str = "quadratic",
                max_examples: int = 100, max_depth: int = 16) -> Report:
    """Test ``fn(w, b, x, y) -> (dw, db)`` for a chain of one neuron per layer.

    ``w`` and ``b`` are float64 arrays of the depth's length, ``x`` and ``y``
    floats; ``dw`` and ``db`` may be any array-likes (float32 results are judged
    with float32's rounding). Raises :class:`gradproofs.Mismatch` on the smallest
    counterexample; returns a :class:`Report` when every example agrees.
    """
    from hypothesis import assume, given

    from gradproofs import strategies

    counts = _check_arguments(fn, activation, cost, costs.NAMES,
                              max_examples=max_examples, max_depth=max_depth)
    tally = _Tally()

    @given(strategies.chains(max_depth=counts["max_depth"], activation=activation, cost=cost))
    def test(example):
        exact = chain.backward_exact(*example, activation=activation, cost=cost)
        assume(chain.well_conditioned(exact, _FLOAT32_EPS))
        where = f"w = {example.w.tolist()}, b = {example.b.tolist()}, x = {example.x!r}, y = {example.y!r}"
        arguments = {"w": example.w, "b": example.b, "x": example.x, "y": example.y}
        tally.add(_judge(fn, arguments, where, partial(chain.assert_matches, exact=exact)))

    _run(test, f"check_chain({_name(fn)}, activation={activation!r}, cost={cost!r})", counts["max_examples"])
    return tally.report(f"check_chain({_name(fn)})")


def check_mlp(fn, *, activation: str = "sigmoid", cost: str = "quadratic", max_examples: int = 100,
              max_depth: int = 3, max_width: int = 5, max_batch: int = 4) -> Report:
    """Test ``fn(weights, biases, x, y) -> (dW, db)`` for a dense network.

    ``weights[l]`` is a float64 array of shape (n_(l+1), n_l), ``biases[l]`` of
    shape (n_(l+1),), ``x`` (B, n_0) holds one sample per row and ``y`` (B, n_L)
    its targets; ``dW`` and ``db`` hold one array per layer of the parameter's
    shape: the gradient of the cost's mean over the batch (:mod:`gradproofs.mlp`
    states the network and the costs). Networks have 1 to ``max_depth`` layers
    of 1 to ``max_width`` neurons, batches 1 to ``max_batch`` samples; targets
    are rows summing to 1 for the ``softmax_cross_entropy`` cost and lie in
    [0, 1] otherwise. float32 results are judged with float32's rounding.
    Raises :class:`gradproofs.Mismatch` on the smallest counterexample; returns
    a :class:`Report` when every example agrees.
    """
    from hypothesis import assume, given

    from gradproofs import strategies

    counts = _check_arguments(fn, activation, cost, mlp.COSTS, max_examples=max_examples,
                              max_depth=max_depth, max_width=max_width, max_batch=max_batch)
    targets = "probabilities" if cost == "softmax_cross_entropy" else "unit"
    # One batch strategy per shape: building one inspects its source, which costs more than a draw.
    batches = lru_cache(maxsize=None)(lambda n_in, n_out: strategies.batches(
        n_in, n_out, max_batch=counts["max_batch"], targets=targets))

    def with_batch(network):
        return batches(network.weights[0].shape[1], network.weights[-1].shape[0]).map(
            lambda batch: (network.weights, network.biases, *batch))

    examples = strategies.networks(max_depth=counts["max_depth"], max_width=counts["max_width"]).flatmap(
        with_batch)
    tally = _Tally()

    @given(examples)
    def test(example):
        reference = mlp.reference(*example, activation=activation, cost=cost)
        assume(reference.well_conditioned(_FLOAT32_EPS))
        weights, biases, x, y = example
        widths = [weights[0].shape[1], *(W_l.shape[0] for W_l in weights)]
        where = (f"widths {widths}: weights of shapes {', '.join(str(W_l.shape) for W_l in weights)}, "
                 f"a batch of {x.shape[0]}: x {x.shape}, y {y.shape}")
        arguments = {"weights": weights, "biases": biases, "x": x, "y": y}
        tally.add(_judge(fn, arguments, where, reference.assert_matches))

    _run(test, f"check_mlp({_name(fn)}, activation={activation!r}, cost={cost!r})", counts["max_examples"])
    return tally.report(f"check_mlp({_name(fn)})")
