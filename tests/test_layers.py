"""Imports only run down: a family imports its own modules, the families it builds on and the shared
modules below every family, never a module that reads every family (the catalogue and what uses it)."""

import ast
from functools import cache
from pathlib import Path

import pytest

from gradproofs import catalogue

ROOT = Path(__file__).resolve().parent.parent / "gradproofs"
FAMILIES = catalogue.declarations()


def _module_of(dotted: str) -> str:
    """The module an import of ``dotted`` runs: ``dotted`` itself if it is a module or package of
    gradproofs, else the module it is a name of (``gradproofs.drawing.depths`` → ``gradproofs.drawing``)."""
    path = ROOT.parent.joinpath(*dotted.split("."))
    return dotted if path.with_suffix(".py").is_file() or path.is_dir() else dotted.rpartition(".")[0]


def _imports(tree) -> set:
    """Every gradproofs module a module imports, wherever in it: ``import``, ``from … import`` and
    ``importlib.import_module("…")`` with a literal name."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(_module_of(f"{node.module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" and node.args \
                and isinstance(node.args[0], ast.Constant):
            found.add(node.args[0].value)
    return {name for name in found if name == "gradproofs" or name.startswith("gradproofs.")}


def _path(module: str) -> Path:
    path = ROOT.parent.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _family(module: str):
    """The family a gradproofs module belongs to, or None for a shared one."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FAMILIES else None


@cache
def _reads_every_family(module: str) -> bool:
    """Whether a shared module imports, directly or through other shared modules, the catalogue or a family."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name == "gradproofs.catalogue" or _family(name):
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(ast.parse(_path(name).read_text(encoding="utf-8"))) - seen)
    return False


def _below(family: str) -> set:
    """The families ``family`` builds on, directly or through them."""
    below, todo = set(), list(FAMILIES[family].after)
    while todo:
        name = todo.pop()
        if name not in below:
            below.add(name)
            todo.extend(FAMILIES[name].after)
    return below


def upward_imports(family: str, tree) -> list:
    """The imports of a module of ``family`` that go up or sideways."""
    wrong = []
    for name in sorted(_imports(tree)):
        owner = _family(name)
        if owner is None and _reads_every_family(name):
            wrong.append(f"{name} (reads every family)")
        elif owner is not None and owner != family and owner not in _below(family):
            wrong.append(f"{name} ({owner} is not among the families {family} builds on)")
    return wrong


MODULES = [(family, path) for family in FAMILIES for path in sorted((ROOT / family).glob("*.py"))]


@pytest.mark.parametrize("family, path", MODULES, ids=[f"{f}/{p.name}" for f, p in MODULES])
def test_a_family_imports_only_what_lies_below_it(family, path):
    assert upward_imports(family, ast.parse(path.read_text(encoding="utf-8"))) == []


def test_the_check_catches_upward_and_sideways_imports():
    tree = ast.parse("from gradproofs import strategies, drawing\nfrom gradproofs.lm import engine\n"
                     "from gradproofs.oracle import conventions\nimport gradproofs.catalogue\n"
                     "def late():\n    from gradproofs.mlp.engine import backward\n")
    assert upward_imports("chain", tree) == [
        "gradproofs.catalogue (reads every family)", "gradproofs.lm.engine (lm is not among the families chain "
        "builds on)", "gradproofs.mlp.engine (mlp is not among the families chain builds on)",
        "gradproofs.strategies (reads every family)"]
    assert upward_imports("lm", ast.parse("from gradproofs.activations import engine")) == []
