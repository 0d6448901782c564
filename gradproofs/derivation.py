"""Derivations: the SymPy steps that establish a theorem, each checked as it is recorded, and their LaTeX."""

from __future__ import annotations

from dataclasses import dataclass, field

from gradproofs.errors import DerivationError

__all__ = ["Step", "Derivation"]


@dataclass
class Step:
    """One recorded step: its sentence and, if any, its display math."""

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
