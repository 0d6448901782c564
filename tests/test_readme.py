"""The README's commands and examples work as written."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from gradproofs import catalogue, cli
from gradproofs.extras import EXTRAS, install_hint

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_quick_start_is_two_commands_and_ci_runs_both_as_written():
    quick_start = _blocks("sh")[0].strip().splitlines()
    assert len(quick_start) == 2
    assert "gradproofs verify" in quick_start[0]
    assert all("-c ci/constraints.txt" in command for command in quick_start)  # the versions CI tests
    # ci/run.sh runs what ci/quick_start.sh reads from the README: both commands, in a fresh environment
    # without extras, and the second again in the full one.
    read = subprocess.run(["bash", str(ROOT / "ci" / "quick_start.sh")], capture_output=True, text=True, check=True)
    assert read.stdout.splitlines() == quick_start
    ci_script = (ROOT / "ci" / "run.sh").read_text(encoding="utf-8")
    assert "mapfile -t quick_start < <(bash ci/quick_start.sh)" in ci_script
    assert 'bash -c "$command"' in ci_script and 'bash -c "${quick_start[1]}"' in ci_script
    assert "bash \"$(dirname \"$0\")/../ci/run.sh\"" in (ROOT / ".ci" / "run").read_text()


def test_the_cpu_build_of_torch_is_the_release_ci_tests():
    """The README's CPU-build command, the constraints' pin and the build ci/run.sh installs agree."""
    pins = dict(line.split("==") for line in (ROOT / "ci" / "constraints.txt").read_text().splitlines()
                if "==" in line)
    release = pins["torch"]
    assert f"pip install torch=={release} --index-url https://download.pytorch.org/whl/cpu" in README
    assert f"python -m pip install --quiet torch=={release}" in (ROOT / "ci" / "run.sh").read_text()


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



def test_the_table_of_oracle_options_is_the_one_their_specification_gives():
    from gradproofs.oracle import ORACLES, options

    start = README.index("| option | values (default first) | oracles | meaning |")
    assert README[start:README.index("\n\n", start)] == options.table(ORACLES.values())


def _layout_families() -> list:
    layout = re.search(r"```\ngradproofs/\n(.*?)```", README, flags=re.S).group(1)
    return [folder for folder in re.findall(r"^  (\w+)/ ", layout, flags=re.M) if folder in catalogue.declarations()]


def test_the_readme_lists_the_families_as_they_are_declared():
    declared = list(catalogue.declarations())
    assert _layout_families() == declared
    files = re.search(r"One Markdown file per family: (.*?); and `derivations/gradients\.md`", README,
                      flags=re.S).group(1)
    assert re.findall(r"`derivations/(\w+)\.md`", files) == declared
    named = re.search(r"those of the named families: ([^)]*)\)", README).group(1)
    assert re.findall(r"`(\w+)`", named) == declared


def test_the_readme_lists_the_oracles_figures_and_sections_as_they_are_declared():
    from gradproofs import bench, report
    from gradproofs.oracle import ORACLES, __all__ as offered

    assert re.search(r"--oracle ([\w\\|-]+)\]", README).group(1).split("\\|") == list(ORACLES)
    table = {name for name in re.findall(r"^\| `(check_\w+)` \|", README, flags=re.M)}
    assert table == {name for name in offered if name.startswith("check_")}
    row = next(line for line in README.splitlines() if line.startswith("| `gradproofs report"))
    assert re.findall(r"`([\w-]+\.png)`", row) == list(report.figures())
    usage = re.search(r"`python -m gradproofs\.bench ((?:\[\w+\] ?)+)`", README).group(1)
    assert re.findall(r"\[(\w+)\]", usage) == list(bench.sections())


def test_the_layout_names_each_familys_files():
    layout = re.search(r"```\ngradproofs/\n(.*?)```", README, flags=re.S).group(1)
    blocks = re.split(r"^  (?=\w+/ |\w+\.py )", layout, flags=re.M)
    for family in catalogue.declarations():
        text = next(block for block in blocks if block.startswith(f"{family}/"))
        files = {path.name for path in (ROOT / "gradproofs" / family).glob("*.py")} - {"__init__.py"}
        assert set(re.findall(r"\b(\w+\.py)\b", text)) == files, family
