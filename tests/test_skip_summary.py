"""The suite's own run (tests/conftest.py and pyproject.toml's addopts) prints its skips grouped: one line
per reason with how many tests it skipped, under pytest-xdist too, and failures still get their short
summary line."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
import pytest


@pytest.mark.parametrize("n", range(3))
def test_skipped_in_the_body(n):
    pytest.skip("the same reason")


@pytest.mark.skipif(True, reason="a marked reason")
def test_skipped_by_a_mark():
    pass


def test_failing():
    assert False
"""


@pytest.mark.slow
def test_skips_are_counted_by_reason_and_failures_still_summarized(tmp_path):
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_some.py").write_text(SUITE)
    run = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
                          str(tmp_path), "-p", "no:cacheprovider", "-n", "2", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    grouped = run.stdout.split(" skipped, by reason ", 1)[-1].splitlines()[1:3]
    assert grouped == ["   3 the same reason", "   1 a marked reason"], run.stdout
    assert "SKIPPED" not in run.stdout
    assert "FAILED test_some.py::test_failing - assert False" in run.stdout
    assert "1 failed, 4 skipped" in run.stdout
