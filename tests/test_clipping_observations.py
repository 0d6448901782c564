"""The observed rows the clipping conventions cite: each names tests that exist, each row test is
listed, the releases are the ones CI installs, and the repository cites nothing it does not hold."""

import ast
import re
from pathlib import Path

import pytest

from gradproofs import catalogue
from gradproofs.clipping import observations as observed
from gradproofs.clipping.observations import OBSERVATIONS

ROOT = Path(__file__).resolve().parent.parent


def _test_functions(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_rows_are_numbered_one_to_n_and_say_what_and_how():
    assert [row.number for row in OBSERVATIONS] == list(range(1, len(OBSERVATIONS) + 1))
    for row in OBSERVATIONS:
        assert row.observed and row.tests
        assert set(row.frameworks) <= set(observed.RELEASES), row.number
        assert row.how and set(row.how) <= set(observed.HOW), row.number


def test_every_cited_test_exists():
    for row in OBSERVATIONS:
        for test in row.tests:
            path, name = test.split("::")
            assert name in _test_functions(path), f"row {row.number} cites {test}, which does not exist"


def test_every_row_test_is_listed_under_its_row():
    row_tests = [name for name in _test_functions("tests/test_clipping.py") if re.match(r"test_row_\d+_", name)]
    assert len(row_tests) >= 17
    for name in row_tests:
        number = int(name.split("_")[2])
        assert f"tests/test_clipping.py::{name}" in observed.observation(number).tests, name


def test_the_releases_are_the_ones_ci_installs():
    pins = dict(line.split("==") for line in (ROOT / "ci/constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    torch_pin = re.search(r"torch==([\d.]+)", (ROOT / "ci/run.sh").read_text()).group(1)
    assert observed.RELEASES["torch"].startswith(f"torch {torch_pin} ")
    assert observed.RELEASES["tensorflow"] == f"tensorflow-cpu {pins['tensorflow-cpu']}"
    assert observed.RELEASES["keras"].startswith(f"Keras {pins['keras']} ")
    assert observed.RELEASES["optax"] == f"optax {pins['optax']} on jax {pins['jax']} with x64"


def test_the_evidence_is_printed_in_the_clipping_derivation():
    text = (ROOT / "derivations/clipping.md").read_text(encoding="utf-8")
    assert text.rstrip("\n").endswith(observed.markdown())
    assert catalogue.theorems("clipping")  # the family that carries it is registered
    for row in OBSERVATIONS:
        assert f"\n| {row.number} | " in text


def test_the_repository_cites_only_files_it_holds():
    files = [ROOT / "README.md", *ROOT.glob("gradproofs/**/*.py"), *ROOT.glob("tests/**/*.py"),
             *ROOT.glob("derivations/*.md")]
    citing = [str(f.relative_to(ROOT)) for f in files if "CLIPPING" + ".md" in f.read_text(encoding="utf-8")]
    assert not citing


def test_an_unknown_row_is_a_clear_error():
    with pytest.raises(KeyError, match="no observed row 99; rows are 1 to"):
        observed.observation(99)
