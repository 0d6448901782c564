"""The catalogue of theorems, read by the derivations, the test suite and the CLI.

A theorem is one checkable statement with its source, its kind (exact, bound,
statistical), a SymPy derivation that establishes it, and a property checked
numerically on data that Hypothesis draws, on one torch device.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Callable

from gradproofs import frameworks
from gradproofs.errors import DerivationError

__all__ = [
    "KINDS", "THEOREM_MODULES", "FAMILY_ALIASES", "Family", "Step", "Derivation", "Evidence", "Theorem", "family",
    "register", "derivation", "theorems", "family_id", "families", "get", "Run", "property_test", "verify"
]

KINDS = ("exact", "bound", "statistical")
# The modules that register the theorems, in catalogue order (each family's package holds its own).
THEOREM_MODULES = ("gradproofs.activations.theorems", "gradproofs.chain.theorems",
                   "gradproofs.mlp.theorems", "gradproofs.mlp.initialisation_theorems",
                   "gradproofs.rnn.theorems", "gradproofs.clipping.theorems",
                   "gradproofs.clipping.tamed", "gradproofs.lm.theorems")
# Former family ids, still accepted wherever a family is named (the dense networks' family is mlp).
FAMILY_ALIASES = {"dense": "mlp"}


@dataclass(frozen=True)
class Family:
    """A chapter of the theory: one derivation document, ending with its ``appendix`` (Markdown) if any."""

    id: str
    title: str
    introduction: str
    appendix: str = ""


@dataclass
class Step:
    text: str
    latex: str = ""


def _latex(expr, names=None) -> str:
    """LaTeX for a SymPy expression as it reads on paper (f′(A), not a substitution), each of the
    subexpressions in ``names`` shown as its symbol; a str is LaTeX already."""
    import sympy

    from gradproofs import symbolic

    if isinstance(expr, str):
        return expr
    return sympy.latex(symbolic.primed(sympy.sympify(expr).xreplace(names or {})), ln_notation=True)


def _equation(text: str, sides: list[str], *, lines: bool = False, labelled: bool = False) -> str:
    """``a = b = c`` from the sides' LaTeX, a side that prints as the one before it left out.

    With ``lines``, one side per line (a label shares the first line with the side it names): the
    layout for a display too wide for the page.
    """
    shown = [side for i, side in enumerate(sides) if i == 0 or side != sides[i - 1]]
    if len(shown) < 2:
        raise DerivationError(f"{text}: the display would read {shown[0]} = {shown[0]}, which says "
                              "nothing: name what the expression is with label=")
    if not lines:
        return " = ".join(shown)
    first, rest = (f"{shown[0]} &= {shown[1]}", shown[2:]) if labelled and len(shown) > 2 else (f"&{shown[0]}", shown[1:])
    return "\\begin{aligned}\n" + " \\\\\n".join([first] + [f"&= {side}" for side in rest]) + "\n\\end{aligned}"


@dataclass
class Derivation:
    """The SymPy steps that establish a theorem, recorded as they are checked."""

    steps: list[Step] = field(default_factory=list)
    result: str = ""

    def say(self, text: str, latex: str = "") -> None:
        self.steps.append(Step(text, latex))

    def show(self, text: str, expr=None, *, lhs=None, names=None) -> None:
        """Record ``lhs = expr`` (or just ``expr``) as display math; ``names`` as in :meth:`equal`."""
        body = _latex(expr, names) if expr is not None else ""
        if lhs is not None:
            body = _equation(text, [_latex(lhs, names), body])
        self.steps.append(Step(text, body))

    def equal(self, text: str, lhs, rhs, *, simplify=None, label=None, lines: bool = False, names=None) -> None:
        """Prove ``lhs == rhs``: their difference must simplify to exactly 0.

        Shown as ``label = lhs = rhs`` (``label``: LaTeX naming what ``lhs`` is), a side that prints as
        the one before it left out; with ``lines``, one side per line. ``names`` maps subexpressions
        to the symbols they are shown as (``{sqrt(1 - 4/w): r}``): the proof is of the expressions.
        """
        import sympy

        difference = (simplify or sympy.simplify)(sympy.sympify(lhs - rhs))
        if not (difference.is_zero_matrix if getattr(difference, "is_Matrix", False) else difference == 0):
            raise DerivationError(f"{text}: the difference simplifies to {difference}, not 0")
        sides = ([label] if label is not None else []) + [_latex(lhs, names), _latex(rhs, names)]
        self.steps.append(Step(text, _equation(text, sides, lines=lines, labelled=label is not None)))

    def holds(self, text: str, condition: bool, latex: str = "") -> None:
        """A checked fact (a sign, a limit, a count); raise if it is false."""
        if not bool(condition):
            raise DerivationError(f"{text}: does not hold")
        self.steps.append(Step(text, latex))

    def agrees_with(self, source: str, *figures) -> None:
        """Each (name, computed, published) figure agrees to the published figure's last decimal.

        ``name`` is the LaTeX of what the figure is. Give a figure such as "779" as a string: as a
        float it would claim a decimal it lacks. A figure in scientific notation ("4.36073e-5") is
        judged at its mantissa's last decimal (here 10⁻¹⁰) and shown as a power of ten. The figures
        are shown one to a line.
        """
        shown = []
        for name, computed, published in figures:  # a figure given as a string keeps its own decimals
            mantissa, _, exponent = (published if isinstance(published, str)
                                     else repr(float(published))).lower().partition("e")
            exponent = int(exponent or 0)
            decimals = len(mantissa.partition(".")[2])
            if abs(float(computed) - float(published)) > 0.5 * 10.0 ** (exponent - decimals):
                raise DerivationError(f"{name} = {computed} does not round to the published {published} ({source})")
            if exponent:
                power = rf"\times 10^{{{exponent}}}"
                value = (rf"{float(computed) / 10.0 ** exponent:.{decimals + 3}f}\ldots {power} "
                         rf"\approx {mantissa} {power}")
            else:
                value = rf"{float(computed):.{decimals + 3}f}\ldots \approx {published}"
            shown.append((name, value))
        if len(shown) == 1:
            latex = "{} = {}".format(*shown[0])
        else:
            latex = "\\begin{aligned}\n" + " \\\\\n".join(f"{name} &= {value}" for name, value in shown) \
                + "\n\\end{aligned}"
        self.steps.append(Step(f"Each agrees with the published figure ({source}).", latex))

    def conclude(self, latex: str) -> None:
        self.result = latex


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


def family(family: Family) -> Family:
    _FAMILIES[family.id] = family
    return family


def register(theorem: Theorem) -> Theorem:
    if theorem.id in _THEOREMS:
        raise ValueError(f"theorem id {theorem.id!r} is registered twice")
    if theorem.family not in _FAMILIES:
        raise ValueError(f"theorem {theorem.id!r} names unknown family {theorem.family!r}")
    _THEOREMS[theorem.id] = theorem
    return theorem


def _load() -> None:
    for name in THEOREM_MODULES:
        importlib.import_module(name)


_DERIVED: dict[str, Derivation] = {}


def derivation(theorem: Theorem) -> Derivation:
    """``theorem.derive()``, computed once per process (rendering reads it for every file)."""
    if theorem.id not in _DERIVED:
        _DERIVED[theorem.id] = theorem.derive()
    return _DERIVED[theorem.id]


def theorems(family: str | None = None) -> list[Theorem]:
    """Every registered theorem, in catalogue order (optionally one family's: its id or a former one)."""
    _load()
    family = FAMILY_ALIASES.get(family, family)
    return [t for t in _THEOREMS.values() if family is None or t.family == family]


def family_id(name: str) -> str:
    """The id of the family ``name`` names, which may be a former id (:data:`FAMILY_ALIASES`)."""
    _load()
    name = FAMILY_ALIASES.get(name, name)
    if name not in _FAMILIES:
        former = ", ".join(f"{old} for {new}" for old, new in FAMILY_ALIASES.items())
        raise ValueError(f"unknown family {name!r}; known: {', '.join(_FAMILIES)} (or {former})")
    return name


def families() -> list[Family]:
    _load()
    return list(_FAMILIES.values())


def get(theorem_id: str) -> Theorem:
    _load()
    try:
        return _THEOREMS[theorem_id]
    except KeyError:
        raise ValueError(
            f"unknown theorem id {theorem_id!r}; known: {', '.join(_THEOREMS)}"
        ) from None


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
