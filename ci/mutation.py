"""Mutation testing of one engine: mutmut on its modules, with its own test files.

    python ci/mutation.py ENGINE [--jobs N] [--again] [--report]

ENGINE is a table of ``[tool.gradproofs.mutation]`` in pyproject.toml (``mutate``: the
modules, ``tests``: the test files that judge them). The run happens in a scratch copy
(``.mutation/ENGINE``), whose pyproject.toml gets a ``[tool.mutmut]`` for that engine
alone and runs pytest without xdist (mutmut forks its own workers). The score is
killed / (mutants − equivalent ones − mutants no selected test reaches), the equivalent
ones listed with a reason in ci/equivalent-mutants.toml; every other survivor is printed,
and the unreached ones are counted apart. ``--again`` runs only the mutants the last run did
not kill, and every mutant of a function whose code changed since, with the tests and the rest
of the package as they are now (which tests reach which function is recorded again): tests
added or strengthened since can only kill more, so the other verdicts stand (a change outside
the functions needs a full run, to a constant say, unless it only adds names, fields and classes
that no unchanged function can read, or changes documentation or ``__all__``; so does a change to
the engine's list of test files, after which mutmut forgets every verdict).

mutmut runs the tests once, then forks a worker per mutant; a process that has imported
JAX or TensorFlow cannot fork safely (the workers die), so the run hides the frameworks
extra: their engines' tests skip, and the mutants only those tests would reach are the
unreached ones, with the mutants of the JAX and TensorFlow engines themselves
(tests/test_frameworks_engines.py judges those engines in the suite).
"""

from __future__ import annotations

import argparse
import ast
import json
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


def _configure(work: Path, selection: dict, common: dict) -> None:
    """The scratch copy's tests and pyproject.toml: mutmut mutates ``selection["mutate"]`` and runs
    ``selection["tests"]``."""
    for place in (work, work / "mutants"):
        if place.is_dir():
            shutil.rmtree(place / "tests", ignore_errors=True)
            shutil.copytree(ROOT / "tests", place / "tests", ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # No xdist; and a RuntimeWarning raised from gradproofs is an error, so a mutant that drops an
    # np.errstate argument (and lets an overflow or a division by zero warn) is caught.
    text = re.sub(r"^addopts = .*$", "addopts = \"-ra -m 'not thorough'\"\n"
                  "filterwarnings = [\"error::RuntimeWarning:gradproofs\"]", text, flags=re.M)
    text = re.sub(r"^\[tool\.mutmut\]\n(?:(?!\[).*\n?)*", "", text, flags=re.M)
    text += (f"\n[tool.mutmut]\nsource_paths = {_toml_list(common['source_paths'])}\n"
             f"only_mutate = {_toml_list(selection['mutate'])}\n"
             f"pytest_add_cli_args = {_toml_list(common['pytest_add_cli_args'])}\n"
             f"pytest_add_cli_args_test_selection = {_toml_list(selection['tests'])}\n"
             # A mutant that loops forever is stopped at 4× its tests' time (mutmut's default, 15×, lets one
             # hold a worker for minutes).
             "timeout_multiplier = 4.0\n")
    for place in (work, work / "mutants"):
        if place.is_dir():
            (place / "pyproject.toml").write_text(text, encoding="utf-8")


def prepare(engine: str, selection: dict, common: dict) -> Path:
    """A fresh copy of the project for mutmut, with the frameworks extra hidden."""
    work = ROOT / ".mutation" / engine
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "gradproofs", work / "gradproofs", ignore=shutil.ignore_patterns("__pycache__"))
    _configure(work, selection, common)
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


def verdicts(work: Path) -> dict:
    """{mutant: status} of the last run, the JAX and TensorFlow engines' mutants as unreached (they run
    only with the hidden extra)."""
    return {m: "no tests" if re.search(r"\.x_\w+_(jax|tf)__mutmut_\d+$", m) else state
            for m, state in results(work).items()}


def _functions(text: str) -> tuple[dict, list]:
    """{mutmut's name for each function and method: its code}, and the module's other statements
    (without its imports: a function that uses a new one has changed too), each class with its
    methods taken out."""
    tree, code = ast.parse(text), {}
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions):
            code[f"x_{node.name}"] = ast.dump(node)
        elif isinstance(node, ast.ClassDef):
            code.update((f"x\u01c1{node.name}\u01c1{item.name}", ast.dump(item)) for item in node.body
                        if isinstance(item, functions))
            node.body = [item for item in node.body if not isinstance(item, functions)]
    return code, [node for node in tree.body if not isinstance(node, (*functions, ast.Import, ast.ImportFrom))]


def _bound(statements) -> set:
    """The names that statements bind: classes, assignments' targets."""
    names = set()
    for node in statements:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        for target in getattr(node, "targets", [getattr(node, "target", None)]):
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name)) if target is not None else None
    return names


def _only_added(old: list, new: list, known: set) -> bool:
    """Whether ``new`` is ``old`` with statements added that bind names ``known`` does not hold (a new
    class, constant or field: only the functions that name them can behave differently, and those have
    changed), a class's fields added the same way, ``__all__`` (which no function reads) and the
    documentation changed."""
    def key(node):
        return "__all__" if "__all__" in _bound([node]) else ast.dump(node)

    def code(statements):  # without documentation, which no function runs
        return [node for node in statements if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                                                    and isinstance(node.value.value, str))]

    old, new = code(old), code(new)
    remaining = iter(new)
    for node in old:
        for candidate in remaining:
            if key(candidate) == key(node) or (
                    isinstance(node, ast.ClassDef) and isinstance(candidate, ast.ClassDef)
                    and candidate.name == node.name
                    and [ast.dump(e) for e in candidate.bases + candidate.decorator_list]
                    == [ast.dump(e) for e in node.bases + node.decorator_list]
                    and _only_added(node.body, candidate.body, _bound(node.body))):
                break
            if _bound([candidate]) & known or not _bound([candidate]):
                return False  # a statement changed, or one that binds a name already bound
        else:
            return False  # an old statement is gone
    return all(_bound([node]) and not _bound([node]) & known for node in remaining)


def _again(work: Path, selection: dict, equivalent: dict, parser) -> None:
    """Forget the last run's verdict on every non-equivalent mutant it did not kill, and bring in the
    engine's source as it is now (mutmut runs every mutant of a function whose code changed again)."""
    if not (work / "mutants").is_dir():
        parser.error(f"--again: no run in {work.relative_to(ROOT)}")
    for path in selection["mutate"]:
        before, after = ((_functions(text)[1], ast.parse(text).body) for text in
                         ((work / path).read_text(encoding="utf-8"), (ROOT / path).read_text(encoding="utf-8")))
        known = _bound(before[1]) | {alias.asname or alias.name.split(".")[0] for node in before[1]
                                     if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names} \
            | {node.name for node in before[1] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if not _only_added(before[0], after[0], known):
            parser.error(f"--again: {path} changed outside its functions since the last run (other than by new "
                         f"names); run it in full")
        shutil.copy(ROOT / path, work / path)
    # The rest of the package as it is now, in the copy and beside the mutants: the tests run against it.
    for source in (ROOT / "gradproofs").rglob("*"):
        relative = source.relative_to(ROOT)
        if source.is_file() and "__pycache__" not in source.parts and relative.as_posix() not in selection["mutate"]:
            for place in (work, work / "mutants"):
                (place / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, place / relative)
    alive = {m for m, state in verdicts(work).items() if state not in ("killed", "no tests") and m not in equivalent}
    for meta in (work / "mutants").rglob("*.meta"):
        data = json.loads(meta.read_text(encoding="utf-8"))
        data["exit_code_by_key"] = {m: None if m in alive else code for m, code in data["exit_code_by_key"].items()}
        meta.write_text(json.dumps(data), encoding="utf-8")
    # mutmut records which tests reach which function once, and afterwards only for tests with new
    # names: a test that was changed to reach more functions would go unused for them. Recorded again.
    (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    engines = config["tool"]["gradproofs"]["mutation"]
    parser.add_argument("engine", choices=sorted(engines))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutmut's workers")
    parser.add_argument("--again", action="store_true",
                        help="run only the mutants the last run left alive (survived, timed out or not run)")
    parser.add_argument("--report", action="store_true",
                        help="score the last run again (after editing ci/equivalent-mutants.toml), without running")
    args = parser.parse_args(argv)
    work = ROOT / ".mutation" / args.engine
    equivalent = tomllib.loads(EQUIVALENT.read_text(encoding="utf-8")).get(args.engine, {})
    if args.report and not (work / "mutants").is_dir():
        parser.error(f"--report: no run of {args.engine} in {work.relative_to(ROOT)}")
    if not args.report:
        if args.again:
            _again(work, engines[args.engine], equivalent, parser)
            _configure(work, engines[args.engine], config["tool"]["mutmut"])
        else:
            work = prepare(args.engine, engines[args.engine], config["tool"]["mutmut"])
        # One thread per worker: a forked child waits forever on an OpenMP pool its parent had started.
        environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
            filter(None, [str(work / "hidden"), os.environ.get("PYTHONPATH")])))
        subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)], cwd=work,
                       check=True, env=environment)
    status = verdicts(work)
    counts = Counter(status.values())
    unreached, unrun = counts["no tests"], counts["not checked"]  # the latter: a run stopped early
    # An entry for a mutant that was killed, or that no longer exists, is stale: mutmut numbers the mutants
    # of a changed function afresh, so the entry now names another mutant (or none).
    stale = sorted(m for m in equivalent if status.get(m) in (None, "killed"))
    listed = [m for m in equivalent if m in status and m not in stale]
    judged = len(status) - len(listed) - unreached - unrun
    print(f"\n{args.engine}: {len(status)} mutants; " + ", ".join(f"{n} {s}" for s, n in counts.most_common())
          + f"; {len(listed)} equivalent")
    for mutant in stale:
        print(f"  stale entry in {EQUIVALENT.relative_to(ROOT)}: {mutant} is {status.get(mutant, 'not a mutant')}")
    print(f"killed {counts['killed']} of {judged} non-equivalent mutants the tests reach: "
          f"{counts['killed'] / judged:.1%}; with the {counts['timeout']} that timed out (a hang the tests notice) "
          f"{(counts['killed'] + counts['timeout']) / judged:.1%} ({unreached} unreached, {unrun} not run)")
    for mutant, state in sorted(status.items()):
        if state not in ("killed", "no tests", "not checked", "timeout") and mutant not in equivalent:
            print(f"  {state}: {mutant}   (mutmut show {mutant}, in {work.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
