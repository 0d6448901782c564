"""The suite parametrized over the catalogue: every derivation, every property on every device."""

import dataclasses

import pytest

from gradproofs import catalogue, render, runner
from gradproofs.derivation import Derivation
from gradproofs.theorem import KINDS, Evidence, Theorem

THEOREMS = catalogue.theorems()


@pytest.mark.parametrize("theorem", THEOREMS, ids=[t.id for t in THEOREMS])
def test_derivation_closes(theorem):
    derivation = catalogue.derivation(theorem)  # derived once, shared with the rendering tests
    assert derivation.steps and derivation.result


def _pairs():
    for theorem in THEOREMS:
        yield pytest.param(theorem, True, id=theorem.id) if theorem.uses_torch else \
            pytest.param(theorem, False, id=theorem.id)


@pytest.mark.parametrize("theorem, uses_torch", list(_pairs()))
def test_property(theorem, uses_torch, device):
    if not uses_torch and device != "cpu":
        pytest.skip(f"{theorem.id} has no torch engine; it runs on the cpu alone")
    evidence = []

    def check(data, device):
        evidence.append(theorem.check(data, device))
        return evidence[-1]

    runner.property_test(dataclasses.replace(theorem, check=check), device)()
    assert evidence
    for outcome in evidence:  # an example that passed used at most its whole allowance
        assert isinstance(outcome, Evidence) and outcome.unit, outcome
        assert 0 <= outcome.used <= 1, f"{theorem.id}: {outcome}"
    assert len({outcome.unit for outcome in evidence}) == 1, f"{theorem.id}: {evidence}"  # one unit per theorem


def test_derivations_folder_is_in_sync(pytestconfig):
    diff = render.stale(pytestconfig.rootpath / "derivations")
    assert not diff, "derivations/ is stale: run `gradproofs derive`\n" + diff


def test_ids_are_unique_and_kinds_known():
    ids = [t.id for t in THEOREMS]
    assert len(ids) == len(set(ids))
    assert {t.kind for t in THEOREMS} <= set(KINDS)
    assert {t.family for t in THEOREMS} == {f.id for f in catalogue.families()}


def test_unknown_theorem_id_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown theorem id 'no-such-theorem'"):
        catalogue.get("no-such-theorem")


def test_a_failing_derivation_step_raises():
    derivation = Derivation()
    import sympy

    z = sympy.Symbol("z")
    with pytest.raises(AssertionError, match="simplifies to"):
        derivation.equal("wrong on purpose", sympy.diff(sympy.sin(z), z), sympy.sin(z))
    with pytest.raises(AssertionError, match="does not hold"):
        derivation.holds("false on purpose", 1 > 2)


def test_a_published_figure_is_judged_at_its_last_decimal_in_scientific_notation_too():
    derivation = Derivation()
    derivation.agrees_with("src", ("a", 4.3607320e-5, "4.36073e-5"), ("b", 20525631.29, "2.05256e7"),
                           ("c", 0.044004, "0.0440"))
    assert derivation.steps[-1].latex == ("\\begin{aligned}\n"
                                          r"a &= 4.36073200\ldots \times 10^{-5} \approx 4.36073 \times 10^{-5} \\" "\n"
                                          r"b &= 2.05256313\ldots \times 10^{7} \approx 2.05256 \times 10^{7} \\" "\n"
                                          r"c &= 0.0440040\ldots \approx 0.0440" "\n"
                                          "\\end{aligned}")
    derivation.agrees_with("src", ("a", 4.3607320e-5, "4.36073e-5"))
    assert derivation.steps[-1].latex == r"a = 4.36073200\ldots \times 10^{-5} \approx 4.36073 \times 10^{-5}"
    for computed, published in ((4.3607420e-5, "4.36073e-5"), (20525700.0, "2.05256e7"), (0.04406, "0.0440")):
        with pytest.raises(AssertionError, match="x = .* does not round to the published"):
            derivation.agrees_with("src", ("x", computed, published))


def test_verify_reports_a_false_statement_as_failed():
    from gradproofs.errors import Mismatch

    def check(data, device):
        from hypothesis import strategies as st

        value = data.draw(st.integers(0, 10), label="value")
        if value > 5:
            raise Mismatch(f"{value} > 5")
        return Evidence.within(value, 5, "units")

    theorem = Theorem("false-on-purpose", "chain", "t", "s", "l", "src", "bound", ("numpy",),
                      Derivation, check, uses_torch=False)
    run = runner.verify(theorem, "cpu", max_examples=50)
    assert not run.passed and "6 > 5" in str(run.failure)


def test_evidence_keeps_the_worst():
    assert Evidence.within(1e-3, 1, "u").worse(Evidence.within(1e-9, 1, "u")).raw == 1e-3
    assert Evidence.bound(0.5, 1).worse(Evidence.bound(0.9, 1)).raw == 0.9


def test_evidence_in_another_unit_beside_a_figure_keeps_the_figure_and_the_most_used():
    bound = Evidence.bound(0.5, 1.0)  # half the bound, half the allowance
    assert bound.beside(Evidence(0.75, 1e-16, "of the scale")) == Evidence(0.75, 0.5, "of the bound")
    assert bound.beside(Evidence(0.25, 1e-16, "of the scale")) == bound


@pytest.mark.parametrize("theorem_id, unit, largest", [
    # Below the trigger an entry moves by one rounding per operation, four at most (Keras's global_clipnorm).
    ("clip-unchanged-below-trigger", "ulps", 4), ("clip-idempotent", "ulps", None),
    ("linear-rnn-sandwich", "of the bound", None)])
def test_a_theorem_reports_one_unit_whatever_the_seed(theorem_id, unit, largest):
    runs = [runner.verify(catalogue.get(theorem_id), "cpu", max_examples=15, seed=seed) for seed in range(4)]
    assert all(run.passed for run in runs), [run.failure for run in runs]
    assert {run.worst.unit for run in runs} == {unit}
    assert largest is None or all(0 <= run.worst.raw <= largest for run in runs), [run.worst for run in runs]


def test_sources_have_no_invalid_escapes_and_documents_no_control_characters(pytestconfig):
    import warnings

    root = pytestconfig.rootpath
    for path in sorted((root / "gradproofs").rglob("*.py")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
    for name, text in render.render_all().items():
        bad = {c for c in text if ord(c) < 32 and c != "\n"}
        assert not bad, f"{name} holds control characters {bad!r} (a LaTeX escape like \\f or \\t?)"


def test_a_display_that_would_say_nothing_is_refused_and_a_label_names_it():
    import sympy

    f = sympy.Symbol("f_t")
    with pytest.raises(AssertionError, match="would read f_{t} = f_{t}"):
        Derivation().equal("one unit's derivative", sympy.diff(f * sympy.Symbol("c"), sympy.Symbol("c")), f)
    derivation = Derivation()
    derivation.equal("t", sympy.diff(f * sympy.Symbol("c"), sympy.Symbol("c")), f, label=r"\partial c_t")
    assert derivation.steps[-1].latex == r"\partial c_t = f_{t}"


def test_a_long_equality_takes_one_side_per_line_and_subexpressions_their_names():
    import sympy

    x, w = sympy.symbols("x w", positive=True)
    derivation = Derivation()
    derivation.equal("t", (x + 1) ** 2, x ** 2 + 2 * x + 1, label="y", lines=True)
    assert derivation.steps[-1].latex == ("\\begin{aligned}\ny &= \\left(x + 1\\right)^{2} \\\\\n"
                                          "&= x^{2} + 2 x + 1\n\\end{aligned}")
    derivation.equal("t", (x + 1) ** 2, x ** 2 + 2 * x + 1, lines=True)
    assert derivation.steps[-1].latex == "\\begin{aligned}\n&\\left(x + 1\\right)^{2} \\\\\n&= x^{2} + 2 x + 1\n\\end{aligned}"
    r = sympy.sqrt(1 - 4 / w)
    derivation.equal("t", (1 + r) / (1 - r), w * (1 + r) / 2 - 1, names={r: sympy.Symbol("r")})
    assert derivation.steps[-1].latex == r"\frac{r + 1}{1 - r} = \frac{w \left(r + 1\right)}{2} - 1"


def test_a_derivative_of_an_undefined_function_prints_as_f_prime_and_logs_as_ln():
    import sympy

    from gradproofs import symbolic

    z = sympy.Symbol("z")
    f, _ = symbolic.undefined("f")
    derivation = Derivation()
    derivation.show("t", sympy.diff(f(2 * z), z) + sympy.log(z))
    assert derivation.steps[-1].latex == r"2 f^{\prime}{\left(2 z \right)} + \ln{\left(z \right)}"
