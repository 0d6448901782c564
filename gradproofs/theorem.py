"""Theorems and their families as the families' theorem modules state them, and the record of both.

A theorem is one checkable statement with its source, its kind (exact, bound,
statistical), a SymPy derivation that establishes it, and a property checked
numerically on data that Hypothesis draws, on one torch device. Each family's
theorem modules record theirs here with :func:`family` and :func:`register`;
:mod:`gradproofs.catalogue` orders them by the families' declarations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from gradproofs import frameworks
from gradproofs.derivation import Derivation

__all__ = ["KINDS", "Family", "Evidence", "Theorem", "family", "register", "recorded_families",
           "recorded_theorems"]

KINDS = ("exact", "bound", "statistical")


@dataclass(frozen=True)
class Family:
    """A chapter of the theory: one derivation document, ending with its ``appendix`` (Markdown) if any."""

    id: str
    title: str
    introduction: str
    appendix: str = ""


@dataclass(frozen=True)
class Evidence:
    """One example's outcome: the fraction of its allowance the check used, and what it measured.

    ``used`` is the measured figure divided by what the check allows for it:
    at most 1 passes, above 1 the check raises :class:`gradproofs.Mismatch`,
    so a near miss (0.98) reads apart from a comfortable pass (10⁻³) in every
    theorem alike. ``raw`` is the figure itself, in ``unit`` ("of the scale",
    "grid steps", "standard errors", "of the bound", …): one unit per theorem.
    A check that asserts several things reports the one that used the most of
    its allowance (:meth:`worse`), or, where they differ in unit, its own
    figure with the most used (:meth:`beside`).
    """

    used: float
    raw: float
    unit: str

    @staticmethod
    def within(raw: float, allowance: float, unit: str) -> "Evidence":
        """A figure the check allows up to ``allowance``: used = raw/allowance (an exact 0 uses
        none of an allowance of 0)."""
        return Evidence(_fraction(raw, allowance), float(raw), unit)

    @staticmethod
    def bound(value: float, bound: float, *, allowed: float | None = None, unit: str = "of the bound") -> "Evidence":
        """A statement value ≤ bound, checked as value ≤ ``allowed`` (the bound with the check's
        rounding allowance, such as bound·(1 + 4(L + 1)ε); by default the bound itself):
        raw = value/bound, used = value/allowed."""
        return Evidence(_fraction(value, bound if allowed is None else allowed), _fraction(value, bound), unit)

    @staticmethod
    def standard_errors(off: float, band: float) -> "Evidence":
        """An estimate ``off`` standard errors from its prediction, accepted within ±``band``
        (:func:`gradproofs.statistics.assert_in_band`): used = |off|/band."""
        return Evidence.within(abs(off), band, "standard errors")

    @staticmethod
    def agreement(agreement) -> "Evidence":
        """An engine judged against exact values (a :class:`gradproofs.compare.Agreement`): used is
        the largest fraction of its tolerance an entry used, raw the largest error as a fraction
        of its entry's scale."""
        return Evidence(agreement.used, agreement.error, "of the scale")

    @staticmethod
    def vacuous(unit: str) -> "Evidence":
        """An example on which the check had nothing to measure (a network of one layer, every
        entry underflowed): none of the allowance used."""
        return Evidence(0.0, 0.0, unit)

    def worse(self, other: "Evidence | None") -> "Evidence":
        """Whichever used more of its allowance (NaN counts as the most): two figures in one unit."""
        if other is None:
            return self
        return self if _gt(self.used, other.used) else other

    def beside(self, other: "Evidence") -> "Evidence":
        """This figure in its unit, with the larger fraction used of the two: what a check also
        asserts in another unit (the engines' agreement beside a bound) leaves the theorem its unit."""
        return Evidence(other.used if _gt(other.used, self.used) else self.used, self.raw, self.unit)


def _fraction(part: float, whole: float) -> float:
    """part/whole, with 0/0 = 0 and part/0 = ∞ for part > 0."""
    part, whole = float(part), float(whole)
    if part == 0:
        return 0.0
    return part / whole if whole != 0 else math.copysign(math.inf, part)


def _gt(a: float, b: float) -> bool:
    return a > b or (math.isnan(a) and not math.isnan(b))


@dataclass(frozen=True)
class Theorem:
    """One statement; ``derive`` proves it symbolically, ``check`` numerically.

    ``check(data, device)`` draws its inputs with ``data.draw(..., label=...)``,
    asserts the statement (raising :class:`gradproofs.Mismatch`) and returns
    the :class:`Evidence` of that example: the fraction of the check's
    allowance it used, more than 1 exactly where the check raises. ``uses_torch`` theorems are checked
    on every device; the others on the CPU alone. ``optional_engines`` names
    the frameworks of :mod:`gradproofs.frameworks` (JAX, TensorFlow) whose
    engines ``check`` also runs where they are installed, on the CPU:
    :meth:`engines_on` says which a device's check compares.
    """

    id: str
    family: str
    title: str
    statement: str
    latex: str
    source: str
    kind: str
    engines: tuple[str, ...]
    derive: Callable[[], Derivation]
    check: Callable[..., Evidence]
    uses_torch: bool = True
    optional_engines: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        unknown = set(self.optional_engines) - set(frameworks.NAMES)
        if unknown:
            raise ValueError(f"optional_engines must be among {list(frameworks.NAMES)}, got {sorted(unknown)}")

    def engines_on(self, device: str) -> tuple[str, ...]:
        """The engines compared on ``device``: :attr:`engines`, then the optional ones installed here
        that run there (importing them, once)."""
        return self.engines + tuple(name for name in frameworks.available(device) if name in self.optional_engines)


_THEOREMS: dict[str, Theorem] = {}
_FAMILIES: dict[str, Family] = {}


def family(chapter: Family) -> Family:
    """Record a family's chapter (its derivation document's title and text)."""
    _FAMILIES[chapter.id] = chapter
    return chapter


def register(theorem: Theorem) -> Theorem:
    """Record a theorem of a recorded family; an id may be recorded once."""
    if theorem.id in _THEOREMS:
        raise ValueError(f"theorem id {theorem.id!r} is registered twice")
    if theorem.family not in _FAMILIES:
        raise ValueError(f"theorem {theorem.id!r} names unknown family {theorem.family!r}")
    _THEOREMS[theorem.id] = theorem
    return theorem


def recorded_families() -> dict[str, Family]:
    """Every family recorded so far, by id (the record itself, not a copy)."""
    return _FAMILIES


def recorded_theorems() -> dict[str, Theorem]:
    """Every theorem recorded so far, by id, in the order recorded (the record itself, not a copy)."""
    return _THEOREMS
