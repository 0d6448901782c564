"""Packaging promises: a light import, the former import paths, a working command line, strategies
that validate."""

import ast
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis.errors import InvalidArgument

from gradproofs import catalogue, cli, strategies
from gradproofs.family import ordered


def test_import_is_light():
    code = ("import sys, gradproofs; "
            "heavy = [m for m in ('torch', 'sympy', 'hypothesis', 'matplotlib', 'jax', 'tensorflow') "
            "if m in sys.modules]; "
            "heavy += [m for m in sys.modules if m.startswith('gradproofs.') and m != 'gradproofs.errors']; "
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_every_familys_declared_strategies_are_offered_in_one_place():
    declared = [name for declaration in catalogue.declarations().values() for name in declaration.strategies]
    assert strategies.__all__ == ["depths", "weight_matrices", "LARGE", "SMALL_FAN_IN", *declared]
    homes = {name: getattr(strategies, name).__module__ for name in declared if hasattr(getattr(strategies, name),
                                                                                        "__module__")}
    assert homes["chains"] == "gradproofs.chain.strategies"
    assert homes["sequences"] == homes["recurrent_matrices"] == "gradproofs.rnn.strategies"
    assert homes["gradient_lists"] == "gradproofs.clipping.strategies"


def test_the_oracles_are_offered_in_the_families_order_whichever_family_came_first():
    code = ("import gradproofs.clipping.oracle, gradproofs.rnn.oracle; "
            "from gradproofs.oracle import ORACLES, check_mlp; from gradproofs import catalogue; "
            "print(' '.join(ORACLES)); print(' '.join(catalogue.declarations())); "
            "print(' '.join(ORACLES[name].__module__.split('.')[1] for name in ORACLES), check_mlp.__module__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    oracles, families, homes = result.stdout.splitlines()
    assert len(oracles.split()) == len(homes.split()) - 1 and homes.split()[-1] == "gradproofs.mlp.oracle"
    order, homes = families.split(), homes.split()[:-1]
    assert homes[-1] == "oracle" and oracles.split()[-1] == "gradients"  # the generic oracle, after the families'
    assert [order.index(home) for home in homes[:-1]] == sorted(order.index(home) for home in homes[:-1])


def test_the_oracle_package_offers_exactly_the_declared_oracles():
    from gradproofs import oracle

    declared = sorted(name for declaration in catalogue.declarations().values() for name in declaration.oracles)
    assert oracle.__all__ == ["ORACLES", "Oracle", "Report", *sorted([*declared, "check_gradients", "check_module"])]
    assert all(callable(getattr(oracle, name)) for name in declared)
    with pytest.raises(AttributeError, match="no attribute 'check_perceptron'"):
        oracle.check_perceptron  # noqa: B018 - the attribute access is the test


def test_verify_prints_a_table_and_passes(capsys):
    status = cli.main(["verify", "--device", "cpu", "--only", "chain-exploding-example",
                       "sigmoid-derivative-bound", "--max-examples", "5"])
    out = capsys.readouterr().out
    assert status == 0
    header = out.splitlines()[0].split()
    assert header[:3] == ["theorem", "kind", "device"] and "verdict" in header
    assert "chain-exploding-example" in out and "2 passed, 0 failed" in out


def test_families_come_after_those_they_build_on_and_ties_go_by_name():
    assert ordered({"lm": ("rnn", "clipping"), "clipping": ("rnn",), "rnn": ("activations",), "mlp": ("activations",),
                    "chain": ("activations",), "activations": ()}) == ["activations", "chain", "mlp", "rnn",
                                                                       "clipping", "lm"]
    assert ordered({"b": (), "a": ("c",), "c": ()}) == ["b", "c", "a"]
    with pytest.raises(ValueError, match="in a loop"):
        ordered({"a": ("b",), "b": ("a",)})
    with pytest.raises(ValueError, match="does not exist"):
        ordered({"a": ("nothing",)})
    declared = catalogue.declarations()
    assert list(declared) == ordered({name: declaration.after for name, declaration in declared.items()})
    assert [family.id for family in catalogue.families()] == list(declared)


def test_each_family_has_its_derivation_document_and_verify_selects_by_family(capsys):
    derivations = Path(__file__).resolve().parent.parent / "derivations"
    assert sorted(path.name for path in derivations.glob("*.md")) == sorted(
        [f"{name}.md" for name in catalogue.declarations()] + ["gradients.md"])  # and check_gradients's
    assert cli.main(["verify", "--device", "cpu", "--family", "mlp", "--only", "saxe-orthogonal",
                     "chain-exploding-example", "--max-examples", "2", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "saxe-orthogonal" in out and "chain-exploding-example" not in out and "1 passed, 0 failed" in out
    with pytest.raises(SystemExit):
        cli.main(["verify", "--family", "dense"])
    assert "invalid choice: 'dense'" in capsys.readouterr().err


def test_bench_runs_the_declared_sections_then_its_own(capsys):
    from gradproofs import bench

    declared = [name for declaration in catalogue.declarations().values() for name in declaration.bench]
    assert list(bench.sections()) == [*declared, "reference", "generic"] and "mlp" in declared
    with pytest.raises(SystemExit):
        bench.main(["dense"])
    assert "unknown section 'dense'" in capsys.readouterr().err


def test_verify_explains_its_columns_and_names_the_devices_it_skipped(capsys, monkeypatch):
    from gradproofs import devices

    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    arguments = ["verify", "--only", "sigmoid-derivative-bound", "hochreiter-optimum", "--max-examples", "2"]
    assert cli.main(arguments) == 0
    out = capsys.readouterr().out
    assert ("\nused: the largest fraction of its allowance an example used; a check fails above 1.\n"
            "worst: that example's figure in the theorem's own unit.\n") in out
    skipped = [line for line in out.splitlines() if line.startswith("cuda skipped: ")]
    assert len(skipped) == 1 and skipped[0].endswith("; run gradproofs verify --device cuda on a machine with a GPU")
    assert cli.main([*arguments, "--device", "cpu"]) == 0  # a device asked for: none skipped
    assert "skipped" not in capsys.readouterr().out
    assert cli.main(["verify", "--only", "hochreiter-optimum", "--max-examples", "2"]) == 0  # NumPy alone: no cuda
    assert "skipped" not in capsys.readouterr().out


def test_list_has_a_header_and_each_theorems_family(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["theorem", "family", "kind", "title"] and set(lines[1]) == {"-", " "}
    rows = {line.split()[0]: line.split()[1:3] for line in lines[2:]}
    assert rows["chain-product-form"] == ["chain", "exact"] and rows["saxe-orthogonal"][0] == "mlp"
    assert rows["clip-unchanged-below-trigger"][0] == "clipping" and len(rows) == len(lines) - 2


def test_no_help_text_shows_markup(capsys):
    import argparse

    main = cli.parser()
    (commands,) = [action for action in main._actions if isinstance(action, argparse._SubParsersAction)]
    for text in [main.format_help(), *(command.format_help() for command in commands.choices.values())]:
        assert "``" not in text and ":func:" not in text and ":class:" not in text, text
    assert set(commands.choices) == {"derive", "verify", "report", "check", "list"}


def test_verify_unknown_id_and_missing_cuda_are_clear_errors(capsys):
    assert cli.main(["verify", "--only", "no-such-theorem"]) == 2
    assert "unknown theorem id 'no-such-theorem'" in capsys.readouterr().err
    from gradproofs import devices

    if not devices.cuda_available():
        assert cli.main(["verify", "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


def test_max_examples_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        cli.main(["verify", "--max-examples", "0"])
    assert "--max-examples must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_derive_check_reports_a_stale_folder(tmp_path, capsys):
    assert cli.main(["derive", "--out", str(tmp_path)]) == 0
    assert cli.main(["derive", "--out", str(tmp_path), "--check"]) == 0
    chain_md = tmp_path / "chain.md"
    chain_md.write_text(chain_md.read_text().replace("3906.25", "3906.5"))
    capsys.readouterr()
    assert cli.main(["derive", "--out", str(tmp_path), "--check"]) == 1
    captured = capsys.readouterr()
    assert "-" in captured.out and "3906.5" in captured.out and "out of date" in captured.err


def test_check_command_runs_the_oracle_on_a_module_function(tmp_path, monkeypatch, capsys):
    (tmp_path / "mybackprop.py").write_text(
        "from gradproofs import chain\n"
        "def good(w, b, x, y):\n"
        "    r = chain.backward(w, b, x, y)\n"
        "    return r.dw, r.db\n"
        "def bad(w, b, x, y):\n"
        "    r = chain.backward(w, b, x, y)\n"
        "    return r.dw, 2 * r.db\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["check", "mybackprop:good", "--max-examples", "10"]) == 0
    assert cli.main(["check", "mybackprop:bad", "--max-examples", "10"]) == 1
    assert "Smallest counterexample" in capsys.readouterr().out
    assert cli.main(["check", "nocolon"]) == 2


def test_the_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "gradproofs", "list"], capture_output=True,
                            text=True, check=True)
    assert "chain-product-form" in result.stdout


@pytest.mark.parametrize("kwargs", [dict(min_depth=0), dict(max_depth=0), dict(max_weight=-1.0),
                                    dict(max_bias=float("nan")), dict(activation="softsign"),
                                    dict(cost="cross_entropy", activation="relu")])
def test_strategies_validate_their_arguments(kwargs):
    with pytest.raises(InvalidArgument):
        strategies.chains(**kwargs).example()


@given(strategies.chains(min_depth=2, max_depth=5, max_weight=3.0, cost="cross_entropy"))
def test_chains_respect_their_options(example):
    assert 2 <= len(example.w) == len(example.b) <= 5
    assert abs(example.w).max() <= 3.0 and 0.0 <= example.y <= 1.0


def test_check_command_runs_check_mlp(tmp_path, monkeypatch, capsys):
    (tmp_path / "mydense.py").write_text(
        "from gradproofs import mlp\n"
        "def good(weights, biases, x, y):\n"
        "    r = mlp.backward(weights, biases, x, y)\n"
        "    return r.dW, r.db\n"
        "def summed(weights, biases, x, y):\n"
        "    r = mlp.backward(weights, biases, x, y)\n"
        "    return [g * len(x) for g in r.dW], r.db\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["check", "mydense:good", "--oracle", "mlp", "--max-examples", "10"]) == 0
    assert cli.main(["check", "mydense:summed", "--oracle", "mlp", "--max-examples", "30"]) == 1
    assert "Smallest counterexample" in capsys.readouterr().out


TARGETS = """
import numpy as np
from gradproofs.chain import engine as chain
from gradproofs.clipping import engine as clipping
from gradproofs.lm import engine as lm
from gradproofs.mlp import engine as mlp
from gradproofs.rnn import engine as rnn


def chain_fn(w, b, x, y):
    r = chain.backward(w, b, x, y)
    return r.dw, r.db


def mlp_fn(weights, biases, x, y):
    r = mlp.backward(weights, biases, x, y)
    return r.db, r.dW


def rnn_fn(x, h0, W_x, W_h, b, dL_dh):
    return rnn.bptt(x, h0, W_x, W_h, b, dL_dh)


def lstm_fn(x, h0, c0, W_x, W_h, b, dL_dh):
    r = rnn.lstm_backward(x, h0, c0, W_x, W_h, b, dL_dh)
    return {"W_x": r.W_ih, "W_h": r.W_hh, "b": r.b, "h0": r.h0, "c0": r.c0}


def clip_norm_fn(grads, max_norm, norm_type):
    return clipping.clip_grad_norm(grads, max_norm, norm_type, convention="optax")


def lm_fn(tokens, targets, h0, U, W, b, V, c):
    return lm.backward(tokens, targets, h0, U, W, b, V, c)


def clip_value_fn(grads, clip_value):
    return clipping.clip_grad_value(grads, clip_value)


def clip_agc_fn(parameters, grads, clip_factor, eps):
    clipped = []
    for w, g in zip(parameters, grads):
        if g is None:
            clipped.append(None)
            continue
        axes = tuple(range(1, g.ndim)) if g.ndim > 1 else None
        bound = clip_factor * np.maximum(np.sqrt(np.sum(np.square(w, dtype=np.float64), axis=axes, keepdims=True)),
                                         eps)
        norm = np.sqrt(np.sum(np.square(g, dtype=np.float64), axis=axes, keepdims=True))
        clipped.append(np.where(norm < bound, g, g * (bound / np.maximum(norm, 1e-6))).astype(g.dtype))
    return clipped


def gradients_spec(x):
    return (x * x).sum()


def gradients_fn(x):
    return (2 * x,)


def two_arguments(w, b):
    raise AssertionError("no example should run")


class Trainer:
    def backprop(self, w, b, x, y):
        return chain_fn(w, b, x, y)


trainer = Trainer()
"""

CHECKS = [
    ("chain", "chain_fn", []),
    ("mlp", "mlp_fn", ["--option", "returns=('db', 'dW')"]),
    ("rnn", "rnn_fn", ["--option", "inputs=True", "--option", "returns={'W_x': 'W_x', 'b': 'b', 'x': 'x'}"]),
    ("lstm", "lstm_fn", ["--option", "max_steps=2"]),
    ("rnn-lm", "lm_fn", ["--option", "max_steps=3"]),
    ("clip-norm", "clip_norm_fn", ["--option", "convention=optax", "--option", "dtypes=('float32',)"]),
    ("clip-value", "clip_value_fn", []),
    ("clip-agc", "clip_agc_fn", []),
    ("gradients", "gradients_fn", ["--spec", "targets:gradients_spec", "--option", "shapes={'x': ('N',)}"]),
    ("chain", "trainer.backprop", []),
]


def test_every_oracle_is_reached_from_the_command_line_below():
    from gradproofs.oracle import ORACLES

    assert sorted({oracle for oracle, _, _ in CHECKS}) == sorted(ORACLES)


@pytest.mark.parametrize("how", ["module", "file"])
@pytest.mark.parametrize("oracle, name, options", CHECKS, ids=[f"{o}:{n}" for o, n, _ in CHECKS])
def test_check_reaches_every_oracle_from_a_module_or_a_file(oracle, name, options, how, tmp_path, monkeypatch,
                                                            capsys):
    (tmp_path / "targets.py").write_text(TARGETS)
    monkeypatch.chdir(tmp_path)
    target = f"targets:{name}" if how == "module" else f"{tmp_path / 'targets.py'}:{name}"
    assert cli.main(["check", target, "--oracle", oracle, *options, "--max-examples", "5"]) == 0, \
        capsys.readouterr()
    assert "agreed with the reference on 5 examples" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["check", "targets:mlp_fn", "--oracle", "mlp", "--option", "reduction=avg"], "unknown reduction 'avg'"),
    (["check", "targets:mlp_fn", "--oracle", "mlp", "--option", "axes=batch"], "check_mlp has no option 'axes'"),
    (["check", "targets:rnn_fn", "--oracle", "rnn", "--option", "axes=batch time"], "axes must be a permutation"),
    (["check", "targets:rnn_fn", "--oracle", "rnn", "--option", "returns={'W_z': 'dWz'}"],
     "returns names 'W_z', which is not a gradient check_rnn_bptt knows"),
    (["check", "targets:rnn_fn", "--oracle", "rnn", "--cost", "quadratic"], "check_rnn_bptt has no option 'cost'"),
    (["check", "targets:rnn_fn", "--oracle", "rnn", "--option", "inputs"], "--option must be NAME=VALUE"),
    (["check", "targets:nothing", "--oracle", "mlp"], "has no attribute 'nothing'"),
    (["check", "missing.py:fn"], "names the file 'missing.py', which does not exist"),
    (["check", "targets:two_arguments"], "fn must take 4 arguments (w, b, x, y), as check_chain passes them; "
                                         "two_arguments(w, b) takes 2"),
    (["check", "targets:clip_norm_fn", "--oracle", "clip-norm", "--option", "arguments=('grads', 'max_norm')"],
     "fn must take 2 arguments (grads, max_norm), as check_clip_grad_norm passes them"),
])
def test_check_refuses_bad_options_before_any_example(arguments, message, tmp_path, monkeypatch, capsys):
    (tmp_path / "targets.py").write_text(TARGETS)
    monkeypatch.chdir(tmp_path)
    assert cli.main(arguments) == 2
    captured = capsys.readouterr()
    assert "gradproofs check: " in captured.err and message in captured.err and captured.out == ""


def test_check_replays_a_reported_failure(tmp_path, monkeypatch, capsys):
    import re

    (tmp_path / "targets.py").write_text(TARGETS)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "targets:mlp_fn", "--oracle", "mlp", "--max-examples", "20"]) == 1
    report = capsys.readouterr().out
    assert "declare returns=('db', 'dW')" in report and "reproduce=" not in report
    blob = re.search(r"Reproduce: run the same command with --reproduce '([^']+)'", report).group(1)
    assert cli.main(["check", "targets:mlp_fn", "--oracle", "mlp", "--reproduce", blob]) == 1
    captured = capsys.readouterr()
    assert "Smallest counterexample" in captured.out and f"--reproduce '{blob}'" in captured.out
    assert "Falsifying" not in captured.out + captured.err


@pytest.mark.slow
def test_verify_runs_theorems_in_parallel_processes_with_the_same_table(capsys, tmp_path):
    arguments = ["verify", "--device", "cpu", "--only", "chain-exploding-example", "sigmoid-derivative-bound",
                 "--max-examples", "5", "--seed", "11"]
    tables, records = [], []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.json"
        assert cli.main([*arguments, "--jobs", jobs, "--json", str(out)]) == 0
        lines = capsys.readouterr().out.splitlines()
        tables.append([line.split()[0] + " " + line.split()[-1] for line in lines[2:4]])
        records.append([{key: value for key, value in record.items() if key != "seconds"}
                        for record in json.loads(out.read_text(encoding="utf-8"))["results"]])
    assert tables[0] == tables[1] == ["chain-exploding-example pass", "sigmoid-derivative-bound pass"]
    assert records[0] == records[1]  # one seed, the same examples: the same evidence in one process or several
    with pytest.raises(SystemExit):
        cli.main(["verify", "--jobs", "0"])
    assert "--jobs must be at least 1" in capsys.readouterr().err


# --- every module: a docstring, __all__, and no other module's private names -----------------

ROOT = Path(__file__).resolve().parent.parent


def _modules() -> list:
    """(dotted name, syntax tree) of every module under gradproofs/."""
    modules = []
    for path in sorted((ROOT / "gradproofs").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules.append((name, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return modules


MODULES = _modules()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined(tree) -> dict:
    """The names a module's top level binds by def, class or assignment (not by import): name -> node."""
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update({n.id: node for n in ast.walk(target) if isinstance(n, ast.Name)})
    return names


def test_every_module_says_what_it_holds():
    assert len(MODULES) > 40
    missing = [name for name, tree in MODULES if len(ast.get_docstring(tree) or "") < 20]
    assert not missing, f"modules without a docstring: {missing}"


# The top-level modules the README teaches, beside the package, the oracles, the strategies and the faces.
TAUGHT = ["gradproofs.compare", "gradproofs.formats", "gradproofs.pytest_plugin"]


def _surface() -> dict:
    """Each public module's ``__all__``, by the module's name: the families' faces among them."""
    names = ["gradproofs", "gradproofs.oracle", "gradproofs.strategies", *TAUGHT,
             *(f"gradproofs.{family}" for family in catalogue.declarations())]
    return {name: list(importlib.import_module(name).__all__) for name in names}


def _undocumented(module, names: list, faces=()) -> list:
    """The names without a docstring of their own (a function, a class) or, for data, a mention in the
    module's docstring or in that of a face among ``faces`` that offers the same object."""
    def documented(name):
        value = getattr(module, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            own = (vars(value).get("__doc__") if inspect.isclass(value) else value.__doc__) or ""
            return bool(own.strip()) and not own.startswith(f"{name}(")  # not a namedtuple's generated one
        docs = [module.__doc__] + [face.__doc__ for face in faces if getattr(face, name, None) is value]
        return any(re.search(rf"\b{re.escape(name)}\b", doc or "") for doc in docs)
    return [name for name in names if not documented(name)]


def test_the_public_surface_is_small_and_each_name_documented():
    surface = _surface()
    assert 100 < sum(map(len, surface.values())) <= 150, {name: len(names) for name, names in surface.items()}
    for name, offered in surface.items():
        module = importlib.import_module(name)
        assert len(offered) == len(set(offered)), f"{name}.__all__ repeats a name"
        assert [n for n in offered if not hasattr(module, n)] == [], f"{name}.__all__ names what it lacks"
        faces = [importlib.import_module(f"gradproofs.{family}") for family in catalogue.declarations()]
        assert _undocumented(module, offered, faces) == [], f"{name} offers names without a docstring"


def test_the_documentation_rule_can_fail():
    """A name without a docstring, a generated one, or data the module does not mention, is caught."""
    module = type(sys)("example", "Offers ``LIMIT``.")
    module.LIMIT, module.OTHER, module.Pair = 1, 2, __import__("collections").namedtuple("Pair", "a b")
    module.documented, module.bare = test_the_documentation_rule_can_fail, lambda: None
    assert _undocumented(module, ["LIMIT", "OTHER", "Pair", "documented", "bare"]) == ["OTHER", "Pair", "bare"]


@pytest.mark.parametrize("family", list(catalogue.declarations()))
def test_a_face_offers_exactly_what_it_binds_and_what_it_declares(family):
    face = importlib.import_module(f"gradproofs.{family}")
    bound = {name for name, value in vars(face).items() if not name.startswith("_") and not inspect.ismodule(value)}
    assert bound == set(face.__all__)
    declaration = face.FAMILY
    assert set(declaration.oracles) | set(declaration.strategies) <= bound
    assert all(module.startswith(f"gradproofs.{family}.") for module in declaration.theorems)
    assert all(name.startswith(f"{family}-") and name.endswith(".png") for name in declaration.figures)
    for reference in [*declaration.figures.values(), *declaration.bench.values()]:
        assert reference.startswith(f"gradproofs.{family}."), reference


def _module_named(dotted: str):
    """The gradproofs module ``dotted`` names (a submodule, or a module-valued attribute), else None."""
    head, _, tail = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except ImportError:
        value = getattr(_module_named(head), tail, None) if head else None
        return value if isinstance(value, type(sys)) else None


def _borrowed_private_names(name: str, tree) -> list:
    """Where ``name``'s code takes a private name from another gradproofs module: ``from m import _x``,
    or ``m._x`` on a name bound to such a module (a private submodule, like ``_validate``, is a module of
    its own and may be imported)."""
    bound, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("gradproofs"):
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "gradproofs"
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.append(f"line {node.lineno}: a relative import (gradproofs imports by absolute paths)")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gradproofs"):
            source = node.module
            for alias in node.names:
                if _module_named(f"{source}.{alias.name}") is not None:
                    bound[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif _private(alias.name) and source != name:
                    found.append(f"line {node.lineno}: from {source} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, value = [], node.value
            while isinstance(value, ast.Attribute):
                chain.insert(0, value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                owner = ".".join([bound[value.id], *chain])
                module = _module_named(owner)
                if module is not None and module.__name__ != importlib.import_module(name).__name__ \
                        and _module_named(f"{owner}.{node.attr}") is None:
                    found.append(f"line {node.lineno}: {owner}.{node.attr}")
    return found


@pytest.mark.parametrize("name, tree", MODULES, ids=[name for name, _ in MODULES])
def test_no_module_uses_another_modules_private_names(name, tree):
    assert _borrowed_private_names(name, tree) == []


def test_the_private_name_check_catches_both_forms():
    tree = ast.parse("from gradproofs.clipping.engine import _scaled\n"
                     "from gradproofs.clipping import engine as clipping\n"
                     "from gradproofs import _validate\n"
                     "clipping._scaled(1)\n_validate.choice\nclipping.__name__\n")
    assert _borrowed_private_names("gradproofs.render", tree) == [
        "line 1: from gradproofs.clipping.engine import _scaled",
        "line 4: gradproofs.clipping.engine._scaled"]


def test_the_command_line_takes_and_refuses_the_options_each_check_function_does(tmp_path, monkeypatch, capsys):
    """Each check_* lists exactly its oracle's specified options (and the run's), and the command line
    refuses an unknown option and a bad value with the very message the check_* raises."""
    import inspect

    import gradproofs.oracle
    from gradproofs import InvalidArgument
    from gradproofs.oracle import ORACLES, options

    (tmp_path / "targets.py").write_text("def fn(*arguments):\n    raise AssertionError('never called')\n")
    monkeypatch.chdir(tmp_path)
    for name, oracle in ORACLES.items():
        check = getattr(gradproofs.oracle, oracle.function)
        specified = [option.name for option in (*oracle.option_records, *options.RUN)]
        assert list(inspect.signature(check).parameters)[1:] == specified, name
        for bad in ({"no_such_option": 1}, {specified[0]: object()}):
            with pytest.raises(InvalidArgument) as refused:
                check(lambda *arguments: None, **bad)
            option = next(iter(bad))
            value = "object()" if option == specified[0] else "1"
            assert cli.main(["check", "targets:fn", "--oracle", name, "--option", f"{option}={value}"]) == 2, name
            err = capsys.readouterr().err
            if option == "no_such_option":
                assert str(refused.value) in err, name
            else:  # the command line reads VALUE as the string "object()", a bad value all the same
                assert err.startswith("gradproofs check: ") and option in err, name


CLIP_GRAD = '''"""A torch-style clipper inside a package, importing its helper relatively (as timm's utils do)."""
from .norms import total_norm


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = total_norm(grads, norm_type)
    coefficient = (max_norm / (norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coefficient.to(g.dtype))
    return norm
'''

NORMS = '''import torch


def total_norm(grads, norm_type):
    if not grads:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads]), norm_type)
'''


def _package(root, name: str):
    """root/name/utils/clip_grad.py in a package with relative imports."""
    utils = root / name / "utils"
    utils.mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    (utils / "__init__.py").write_text("")
    (utils / "clip_grad.py").write_text(CLIP_GRAD)
    (utils / "norms.py").write_text(NORMS)
    return utils / "clip_grad.py"


def test_check_imports_a_file_inside_a_package_as_part_of_it(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    path = _package(tmp_path / "src", "packaged_clipping")
    monkeypatch.chdir(tmp_path)
    status = cli.main(["check", f"{path}:clip_grad_norm_", "--oracle", "clip-norm", "--torch-in-place",
                       "--option", "nonfinite=False", "--max-examples", "20"])
    out = capsys.readouterr().out
    assert status in (0, 1) and "torch_in_place(clip_grad_norm_) (clip_grad.py:5)" in out, out
    assert "No module named" not in out


def test_check_wraps_a_torch_adaptive_clipper_with_the_parameters_drawn(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    for name, source, status in (("agc_right", AGC, 0),
                                 # with a bound of λ·ε whatever the parameters, as with parameters of zeros
                                 ("agc_blind", AGC.replace("clamp(min=eps)", "clamp(min=eps) * 0 + eps"), 1)):
        (tmp_path / f"{name}.py").write_text(source)
        assert cli.main(["check", f"{name}:adaptive_clip_grad", "--oracle", "clip-agc", "--torch-in-place",
                         "--max-examples", "100"]) == status, capsys.readouterr()
        assert ("agreed with the reference on 100 examples" in capsys.readouterr().out) == (status == 0)


AGC = """
import torch


@torch.no_grad()
def adaptive_clip_grad(parameters, clip_factor, eps):
    for p in parameters:
        if p.grad is None:
            continue
        dims = tuple(range(1, p.ndim)) if p.ndim > 1 else None
        bound = p.norm(dim=dims, keepdim=p.ndim > 1).clamp(min=eps) * clip_factor
        norm = p.grad.norm(dim=dims, keepdim=p.ndim > 1)
        p.grad.copy_(torch.where(norm < bound, p.grad, p.grad * (bound / norm.clamp(min=1e-6))))
"""


def test_check_imports_a_module_from_a_path_given(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    _package(tmp_path / "elsewhere", "pathed_clipping")
    monkeypatch.chdir(tmp_path)
    arguments = ["check", "pathed_clipping.utils.clip_grad:clip_grad_norm_", "--oracle", "clip-norm",
                 "--torch-in-place", "--option", "nonfinite=False", "--max-examples", "5"]
    assert cli.main(arguments) == 2 and "No module named 'pathed_clipping'" in capsys.readouterr().err
    assert cli.main([*arguments, "--path", str(tmp_path / "elsewhere")]) in (0, 1)  # imported: judged
    assert "torch_in_place(clip_grad_norm_)" in capsys.readouterr().out
    assert cli.main([*arguments, "--path", str(tmp_path / "nowhere")]) == 2
    assert "--path names" in capsys.readouterr().err
