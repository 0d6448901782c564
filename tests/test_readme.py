"""The README's commands and examples work as written."""

import re
import shlex
from pathlib import Path

import pytest

from gradproofs import cli
from gradproofs.extras import EXTRAS, install_hint

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_quick_start_is_two_commands_and_ci_runs_the_test_command():
    quick_start = _blocks("sh")[0].strip().splitlines()
    assert len(quick_start) == 2
    assert "gradproofs verify" in quick_start[0]
    ci_script = (ROOT / "ci" / "run.sh").read_text(encoding="utf-8")
    assert quick_start[1] in ci_script.splitlines()
    assert "bash \"$(dirname \"$0\")/../ci/run.sh\"" in (ROOT / ".ci" / "run").read_text()


def test_every_gradproofs_command_in_the_readme_parses():
    commands = [line for block in _blocks("sh") for line in block.splitlines()
                if line.startswith("gradproofs ")]
    assert len(commands) >= 4
    for command in commands:
        cli.parser().parse_args(shlex.split(command)[1:])


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(index):
    namespace = {}
    exec(compile(_blocks("python")[index], f"README.md python block {index}", "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()


@pytest.mark.parametrize("extra", EXTRAS)
def test_each_extra_is_installed_as_the_readme_says(extra):
    assert install_hint(extra) in README

