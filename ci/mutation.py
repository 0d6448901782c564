"""Mutation testing of one engine: mutmut on its modules, with its own test files.

    python ci/mutation.py ENGINE [--jobs N]

ENGINE is a table of ``[tool.gradproofs.mutation]`` in pyproject.toml (``mutate``: the
modules, ``tests``: the test files that judge them). The run happens in a scratch copy
(``.mutation/ENGINE``), whose pyproject.toml gets a ``[tool.mutmut]`` for that engine
alone and runs pytest without xdist (mutmut forks its own workers). The score is
killed / (mutants − equivalent ones − mutants no selected test reaches), the equivalent
ones listed with a reason in ci/equivalent-mutants.toml; every other survivor is printed,
and the unreached ones are counted apart.

mutmut runs the tests once, then forks a worker per mutant; a process that has imported
JAX or TensorFlow cannot fork safely (the workers die), so the run hides the frameworks
extra: their engines' tests skip, and the mutants only those tests would reach are the
unreached ones, with the mutants of the JAX and TensorFlow engines themselves
(tests/test_frameworks_engines.py judges those engines in the suite).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "ci" / "equivalent-mutants.toml"
HIDDEN = ("jax", "tensorflow", "keras", "optax")  # the frameworks extra


def _toml_list(values) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def prepare(engine: str, selection: dict, common: dict) -> Path:
    """A fresh copy of the project whose mutmut mutates ``selection["mutate"]`` and runs ``selection["tests"]``."""
    work = ROOT / ".mutation" / engine
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in ("gradproofs", "tests"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # No xdist; and a RuntimeWarning raised from gradproofs is an error, so a mutant that drops an
    # np.errstate argument (and lets an overflow or a division by zero warn) is caught.
    text = re.sub(r"^addopts = .*$", "addopts = \"-ra -m 'not thorough'\"\n"
                  "filterwarnings = [\"error::RuntimeWarning:gradproofs\"]", text, flags=re.M)
    text = re.sub(r"^\[tool\.mutmut\]\n(?:(?!\[).*\n?)*", "", text, flags=re.M)
    text += (f"\n[tool.mutmut]\nsource_paths = {_toml_list(common['source_paths'])}\n"
             f"only_mutate = {_toml_list(selection['mutate'])}\n"
             f"pytest_add_cli_args = {_toml_list(common['pytest_add_cli_args'])}\n"
             f"pytest_add_cli_args_test_selection = {_toml_list(selection['tests'])}\n")
    (work / "pyproject.toml").write_text(text, encoding="utf-8")
    for name in HIDDEN:
        package = work / "hidden" / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f"raise ImportError('{name} is hidden from mutation runs: "
                                             "a process that imported it cannot fork its workers')\n")
    return work


def results(work: Path) -> dict:
    """{mutant: status} from ``mutmut results --all true``."""
    listing = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=work,
                             capture_output=True, text=True, check=True).stdout
    return dict(line.strip().rsplit(": ", 1) for line in listing.splitlines() if ": " in line)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    engines = config["tool"]["gradproofs"]["mutation"]
    parser.add_argument("engine", choices=sorted(engines))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutmut's workers")
    parser.add_argument("--report", action="store_true",
                        help="score the last run again (after editing ci/equivalent-mutants.toml), without running")
    args = parser.parse_args(argv)
    work = ROOT / ".mutation" / args.engine
    if not args.report:
        work = prepare(args.engine, engines[args.engine], config["tool"]["mutmut"])
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(work / "hidden"), os.environ.get("PYTHONPATH")])))
        subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)], cwd=work,
                       check=True, env=environment)
    elif not (work / "mutants").is_dir():
        parser.error(f"--report: no run of {args.engine} in {work.relative_to(ROOT)}")
    status = results(work)
    equivalent = tomllib.loads(EQUIVALENT.read_text(encoding="utf-8")).get(args.engine, {})
    # The JAX and TensorFlow engines (FRAMEWORK_ENGINES) run only with the hidden extra.
    frameworks = {m for m in status if re.search(r"\.x_\w+_(jax|tf)__mutmut_\d+$", m)}
    status = {m: "no tests" if m in frameworks else state for m, state in status.items()}
    counts = Counter(status.values())
    unreached, unrun = counts["no tests"], counts["not checked"]  # the latter: a run stopped early
    judged = len(status) - sum(1 for m in equivalent if m in status) - unreached - unrun
    print(f"\n{args.engine}: {len(status)} mutants; " + ", ".join(f"{n} {s}" for s, n in counts.most_common())
          + f"; {len(equivalent)} equivalent")
    print(f"killed {counts['killed']} of {judged} non-equivalent mutants the tests reach: "
          f"{counts['killed'] / judged:.1%}; with the {counts['timeout']} that timed out (a hang the tests notice) "
          f"{(counts['killed'] + counts['timeout']) / judged:.1%} ({unreached} unreached, {unrun} not run)")
    for mutant, state in sorted(status.items()):
        if state not in ("killed", "no tests", "not checked", "timeout") and mutant not in equivalent:
            print(f"  {state}: {mutant}   (mutmut show {mutant}, in {work.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
