"""The Hypothesis runner: a theorem's property as a test, and one run of it collecting the evidence."""

from __future__ import annotations

from dataclasses import dataclass

from gradproofs.theorem import Evidence, Theorem

__all__ = ["Run", "property_test", "verify"]


@dataclass
class Run:
    """What checking one theorem's property on one device found."""

    theorem: Theorem
    device: str
    examples: int = 0
    worst: Evidence | None = None
    failure: BaseException | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None and self.examples > 0


def property_test(theorem: Theorem, device: str, run: Run | None = None):
    """A Hypothesis test of ``theorem.check`` on ``device`` (settings from the profile).

    With ``run``, each example's evidence is folded into it.
    """
    from hypothesis import given, strategies as st

    @given(data=st.data())
    def test(data):
        evidence = theorem.check(data, device)
        if run is not None:
            run.examples += 1
            run.worst = evidence.worse(run.worst)

    test.__name__ = f"check_{theorem.id.replace('-', '_')}"
    return test


def verify(theorem: Theorem, device: str, *, max_examples: int, seed: int | None = None) -> Run:
    """Run a theorem's property with ``max_examples``, collecting the evidence; with ``seed``,
    Hypothesis draws the same examples on every run (``hypothesis.seed``)."""
    from hypothesis import HealthCheck, settings
    from hypothesis import seed as seeded

    run = Run(theorem, device)
    test = property_test(theorem, device, run)
    if seed is not None:
        test = seeded(seed)(test)
    configured = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow],
    )(test)
    try:
        configured()
    except Exception as failure:  # noqa: BLE001 - reported in the table
        run.failure = failure
    return run
