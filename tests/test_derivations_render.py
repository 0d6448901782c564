"""derivations/*.md as a reader sees them on GitHub: every formula typesets in MathJax 3, every display
fits the page, formulas are typeset rather than written as plain text, and no display says nothing.

The MathJax checks send every expression through tests/render_math.mjs, one Node process for all of
them. They need `node` and the mathjax-full package in a node_modules folder: $GRADPROOFS_NODE_MODULES,
or else ci/node_modules, installed by `npm install --no-save --prefix ci mathjax-full@3.2.2`; without
them they skip.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from gradproofs import catalogue, render

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "render_math.mjs"
NODE = shutil.which("node")
NODE_MODULES = Path(os.environ.get("GRADPROOFS_NODE_MODULES", ROOT / "ci" / "node_modules"))
INSTALL = "npm install --no-save --prefix ci mathjax-full@3.2.2"

# GitHub's body text is 16 px. The SVG's width is in ex of the surrounding font, and MathJax's
# liteAdaptor, like a browser rendering GitHub's sans-serif text, takes 1 ex = 0.5 em: 8 px.
PX_PER_EX = 0.5 * 16
MAX_DISPLAY_PX = 750  # wider overflows GitHub's Markdown column at common window widths, inside a list item

_MISSING = ("node is not installed: the math is rendered by MathJax 3 in Node" if NODE is None else
            f"mathjax-full is not installed in {NODE_MODULES}: run `{INSTALL}` (or point "
            "GRADPROOFS_NODE_MODULES at a node_modules folder holding it)"
            if not (NODE_MODULES / "mathjax-full" / "package.json").is_file() else "")
needs_mathjax = pytest.mark.skipif(bool(_MISSING), reason=_MISSING)


@dataclass(frozen=True)
class Math:
    """One formula of a Markdown document: where it starts, its TeX, display or inline."""

    where: str  # "file:line"
    tex: str
    display: bool
    problem: str = ""  # what is wrong with the Markdown around it, if anything


_CODE_SPAN = re.compile(r"`[^`]*`")
# GitHub's inline math: a $ not followed by a space, up to a $ not preceded by one (\$ is a dollar).
_INLINE = re.compile(r"\$(?=\S)((?:\\.|[^$\\])+?)(?<=\S)\$")


def extract(text: str, name: str) -> list[Math]:
    """The display ($$ on their own lines) and inline ($...$) formulas of Markdown ``text``.

    A $ left unpaired on a line, or a display never closed, comes back with its ``problem``.
    """
    found, display, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == "$$":
            if display is None:
                display, start = [], number
            else:
                found.append(Math(f"{name}:{start}", "\n".join(display), True))
                display = None
        elif display is not None:
            display.append(line)
        else:
            prose = _CODE_SPAN.sub("", line)
            found += [Math(f"{name}:{number}", m.group(1), False) for m in _INLINE.finditer(prose)]
            if "$" in _INLINE.sub("", prose).replace(r"\$", ""):
                found.append(Math(f"{name}:{number}", prose, False, "an unpaired $"))
    if display is not None:
        found.append(Math(f"{name}:{start}", "\n".join(display), True, "a display that is never closed"))
    return found


# A Markdown link's target, ](https://...): an address, not prose (its _ and ~ are no formula).
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, text) of every line outside display math, with its code spans, link targets and inline
    math removed."""
    lines, inside = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == "$$":
            inside = not inside
        elif not inside:
            lines.append((number, _INLINE.sub("", _LINK_TARGET.sub("]", _CODE_SPAN.sub("", line)))))
    return lines


def render_with_mathjax(formulas: list[Math]) -> list[dict]:
    """MathJax's verdict on each formula: {"error": message or None, "width_ex": float}."""
    completed = subprocess.run(
        [NODE, str(SCRIPT), str(NODE_MODULES)], capture_output=True, text=True, timeout=120,
        input=json.dumps([{"tex": m.tex, "display": m.display} for m in formulas]))
    assert completed.returncode == 0, f"{SCRIPT.name} failed:\n{completed.stderr}"
    results = json.loads(completed.stdout)
    assert len(results) == len(formulas)
    return results


def errors(formulas, results) -> list[str]:
    return [f"{m.where}: {m.problem or r['error']}\n    {m.tex}"
            for m, r in zip(formulas, results) if m.problem or r["error"]]


def too_wide(formulas, results) -> list[str]:
    return [f"{m.where}: {r['width_ex'] * PX_PER_EX:.0f} px\n    {m.tex}"
            for m, r in zip(formulas, results) if m.display and r["width_ex"] * PX_PER_EX > MAX_DISPLAY_PX]


DOCUMENTS = {f"derivations/{path.name}": path.read_text(encoding="utf-8")
             for path in sorted((ROOT / "derivations").glob("*.md"))}
FORMULAS = [m for name, text in DOCUMENTS.items() for m in extract(text, name)]


@pytest.fixture(scope="module")
def rendered():
    return render_with_mathjax(FORMULAS)


@needs_mathjax
def test_every_formula_typesets(rendered):
    assert sum(m.display for m in FORMULAS) > 100 and sum(not m.display for m in FORMULAS) > 100
    failed = errors(FORMULAS, rendered)
    assert not failed, f"{len(failed)} formulas do not typeset in MathJax 3:\n" + "\n".join(failed)


@needs_mathjax
def test_every_display_fits_the_page(rendered):
    wide = too_wide(FORMULAS, rendered)
    assert not wide, f"{len(wide)} displays are wider than {MAX_DISPLAY_PX} px:\n" + "\n".join(wide)


PLANTED = """\
A good line with $x^2$ and `$not math$` in code, then $\\undefinedmacro{x}$.

1. A step.

   $$
   \\frac{a}{b
   $$

A display too wide for the page:

$$
{0}
$$

and an unpaired $ dollar.

$$
\\text{a display never closed}
""".replace("{0}", " + ".join(f"x_{{{k}}}" for k in range(60)))


@needs_mathjax
def test_the_checks_catch_planted_errors():
    formulas = extract(PLANTED, "planted.md")
    assert [(m.where, m.display) for m in formulas] == [
        ("planted.md:1", False), ("planted.md:1", False), ("planted.md:5", True), ("planted.md:11", True),
        ("planted.md:15", False), ("planted.md:17", True)]
    results = render_with_mathjax(formulas)
    failed = errors(formulas, results)
    assert [line.partition("\n")[0] for line in failed] == [
        r"planted.md:1: Undefined control sequence \undefinedmacro",
        "planted.md:5: Missing close brace",
        "planted.md:15: an unpaired $", "planted.md:17: a display that is never closed"], failed
    wide = too_wide(formulas, results)
    assert len(wide) == 1 and wide[0].startswith("planted.md:11: "), wide


# --- without a TeX engine ------------------------------------------------------------------

# Formulas written as plain text (h_(t−1), ‖W‖₂^l, σ′) rather than as $...$ beside typeset ones.
PLAIN_FORMULA = re.compile("[_^‖∂′ᵀ⊙∏Σ∑√≤≥≈→⁰¹²³⁴⁵⁶⁷⁸⁹⁻ⁿˡ₀₁₂₃₄₅₆₇₈₉α-ωΓΔΘΛΠΦΨΩ]")


def test_prose_writes_formulas_in_math():
    plain = [f"{name}:{number}: {line}" for name, text in DOCUMENTS.items() for number, line in prose(text)
             if PLAIN_FORMULA.search(line)]
    assert not plain, "formulas written as plain text, outside $...$:\n" + "\n".join(plain)


def test_the_prose_check_catches_a_plain_formula():
    text = ("The Jacobian is W_h^(t−k).\nNot `code_span` nor $W_h^{t-k}$.\n$$\nx_1\n$$\nThen σ′.\n"
            "A [link](https://example.org/ML_2016/a~b.pdf) is no formula, [x_1](https://example.org) is.\n")
    assert [(number, bool(PLAIN_FORMULA.search(line))) for number, line in prose(text)] == [
        (1, True), (2, False), (6, True), (7, True)]
    assert prose("[a](https://example.org/ML_2016)")[0][1] == "[a]"


_TEX = re.compile(r"\\begin\b|\\end\b|\\\\|\\[A-Za-z]+|\\.|[{}=]|[^\\{}=]+")


def _split(tex: str, separator: str) -> list[str]:
    """``tex`` split at ``separator`` ("=" or "\\\\") where it stands outside braces and environments."""
    parts, depth, current = [], 0, ""
    for token in _TEX.findall(tex):
        depth += {"\\begin": 1, "\\end": -1, "{": 1, "}": -1}.get(token, 0)
        if token == separator and depth == 0:
            parts, current = parts + [current], ""
        else:
            current += token
    return parts + [current]


def _equations(tex: str) -> list[list[str]]:
    """The sides of each line of a formula (an aligned block's lines, else the one line)."""
    body = re.fullmatch(r"\s*\\begin\{aligned\}(.*)\\end\{aligned\}\s*", tex, re.DOTALL)
    lines = _split(body.group(1), "\\\\") if body else [tex]
    return [[side.replace("&", "").strip() for side in _split(line, "=")] for line in lines]


def test_no_display_reads_x_equals_x():
    empty = [f"{m.where}: {m.tex}" for m in FORMULAS
             if any(a == b for sides in _equations(m.tex) for a, b in zip(sides, sides[1:]))]
    assert not empty, "displays that say nothing:\n" + "\n".join(empty)
    assert _equations(r"f_{t} = f_{t}") == [["f_{t}", "f_{t}"]]
    assert _equations(r"a_{x=1} = \begin{matrix}1 \\ 2\end{matrix}") == [["a_{x=1}", r"\begin{matrix}1 \\ 2\end{matrix}"]]
    assert _equations("\\begin{aligned}\na &= b \\\\\n&= b\n\\end{aligned}") == [["a", "b"], ["", "b"]]


def test_no_multi_letter_name_is_set_as_a_product_of_italic_letters():
    """`net` typesets as n·e·t; a name of three letters or more belongs in \\mathrm or \\operatorname."""
    def italic_runs(tex):
        tex = re.sub(r"\\(text|mathrm|operatorname|mathbb|begin|end)\{[^{}]*\}", " ", tex)
        return re.findall(r"[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+", " ", tex))

    found = [f"{m.where}: {run} in {m.tex}" for m in FORMULAS for run in italic_runs(m.tex)]
    assert not found, "\n".join(found)
    assert italic_runs(r"net\,e^{-net} + \mathrm{net} + \operatorname{relu}(z)") == ["net", "net"]


def test_displays_under_a_list_item_stay_in_it():
    """A display belongs to item ``N. `` (or ``- ``) only if it is indented to the item's content, len("N. ")
    (or 2) columns."""
    misplaced = []
    for name, text in DOCUMENTS.items():
        indent = 0
        for number, line in enumerate(text.splitlines(), 1):
            item = re.match(r"(\d+\. |- )", line)
            if item:
                indent = len(item.group(1))
            elif line.startswith("#") or line.startswith("**"):
                indent = 0
            elif line.strip() == "$$" and len(line) - len(line.lstrip()) != indent:
                misplaced.append(f"{name}:{number}: indented {len(line) - len(line.lstrip())}, not {indent}")
    assert not misplaced, "\n".join(misplaced)
    assert any("\n10. " in text for text in DOCUMENTS.values())  # two-digit items are there to check


def test_each_theorem_names_the_file_it_comes_from():
    for family in catalogue.families():
        text = DOCUMENTS[f"derivations/{family.id}.md"]
        header = next(line for line in text.splitlines() if line.startswith("*Generated by"))
        for theorem in catalogue.theorems(family.id):
            source = Path(inspect.getsourcefile(theorem.check)).resolve().relative_to(ROOT).as_posix()
            meta = next(line for line in text.splitlines() if line.startswith(f"`{theorem.id}`"))
            assert f"`{source}`" in header and (f"`{source}`" in meta or header.count(".py`") == 1), theorem.id
    assert "gradproofs/mlp/initialisation_theorems.py" in DOCUMENTS["derivations/mlp.md"]
    assert "gradproofs/clipping/tamed.py" in DOCUMENTS["derivations/clipping.md"]


def test_titles_read_as_plain_text_in_the_terminal():
    assert render.plain(r"A linear RNN's Jacobian lies between $\rho(W)^l$ and $\|W\|_2^l$") == \
        "A linear RNN's Jacobian lies between ρ(W)ˡ and ‖W‖₂ˡ"
    assert render.plain(r"at most $4^{-L}\prod_{j\ge2}|w_j|$, $\tfrac12 n\,\mathrm{Var}[w] = 1$") == \
        "at most 4⁻ᴸ∏_(j≥2)|wⱼ|, ½ n Var[w] = 1"
    assert render.plain(r"$\sqrt6/\sqrt{n + m}$ and $x \le \min(a, c\sqrt d)$ and $\sigma'$") == \
        "√6/√(n + m) and x ≤ min(a, c√d) and σ′"
    for theorem in catalogue.theorems():
        assert not set(render.plain(theorem.title)) & set("\\${}"), (theorem.id, render.plain(theorem.title))


def test_gradproofs_list_prints_titles_without_tex(capsys):
    from gradproofs import cli

    assert cli.main(["list"]) == 0
    printed = capsys.readouterr().out
    assert len(printed.splitlines()) == len(catalogue.theorems()) + 2  # a header and its rule above the rows
    assert "linear-rnn-sandwich" in printed and "ρ(W)ˡ and ‖W‖₂ˡ" in printed
    assert not set(printed) & set("\\${}"), printed
