"""Check someone else's gradient code against the reference, from their own tests.

>>> from gradproofs.oracle import check_chain
>>> report = check_chain(my_backward)          # raises gradproofs.Mismatch on a bug
>>> print(report)

Each runner draws inputs with Hypothesis, compares the implementation with the
exact (40-digit) product form under a derived rounding tolerance, and on failure
raises :class:`gradproofs.Mismatch` naming the *smallest* counterexample
Hypothesis could shrink to, both values and the worst error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradproofs import _validate, activations, chain, costs
from gradproofs.compare import unit_roundoff
from gradproofs.errors import Mismatch


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
    from hypothesis import HealthCheck, settings

    configured = settings(max_examples=max_examples, deadline=None, database=None,
                          report_multiple_bugs=False, print_blob=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])(test)
    try:
        configured()
    except Mismatch as failure:
        raise Mismatch(f"{subject} disagrees with the reference. Smallest counterexample found:\n"
                       f"{failure}") from None


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

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    activations.get(activation)
    costs.get(cost, activation=activation)
    max_examples = _validate.positive_int("max_examples", max_examples)
    max_depth = _validate.positive_int("max_depth", max_depth)
    subject = _name(fn)
    seen = {"examples": 0, "worst": 0.0}

    @given(strategies.chains(max_depth=max_depth, activation=activation, cost=cost))
    def test(example):
        exact = chain.backward_exact(*example, activation=activation, cost=cost)
        assume(chain.well_conditioned(exact, float(np.finfo(np.float32).eps)))
        w, b = example.w.copy(), example.b.copy()
        where = f"w = {example.w.tolist()}, b = {example.b.tolist()}, x = {example.x!r}, y = {example.y!r}"
        try:
            result = fn(w, b, example.x, example.y)
        except Exception as error:  # noqa: BLE001 - any crash is a finding
            raise Mismatch(f"  {where}\n  fn raised {error!r}") from error
        if not (np.array_equal(w, example.w) and np.array_equal(b, example.b)):
            raise Mismatch(f"  {where}\n  fn modified its arguments w or b in place")
        try:
            dw, db = result
        except (TypeError, ValueError):
            raise Mismatch(f"  {where}\n  fn must return (dw, db), got {result!r}") from None
        try:
            # An unknown implementation may form f′ from the output, as autograd does.
            worst = chain.assert_matches("fn", dw, db, exact, eps=max(unit_roundoff(dw), unit_roundoff(db)),
                                         derivative_from_output=True)
        except (Mismatch, ValueError, TypeError) as failure:
            raise Mismatch(f"  {where}\n  {failure}") from None
        seen["examples"] += 1
        seen["worst"] = max(seen["worst"], worst)

    _run(test, f"check_chain({subject}, activation={activation!r}, cost={cost!r})", max_examples)
    return Report(f"check_chain({subject})", seen["examples"], seen["worst"])
