"""The catalogue, read by the derivations, the test suite and the command line.

Built from the families' declarations (:mod:`gradproofs.family`): every package
``gradproofs.<name>`` that declares a family, in the order they build on one another,
and the families and theorems their theorem modules record (:mod:`gradproofs.theorem`).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import gradproofs
from gradproofs.derivation import Derivation
from gradproofs.family import Declaration, ordered
from gradproofs.theorem import Family, Theorem, recorded_families, recorded_theorems

__all__ = ["declarations", "offered", "declared", "families", "theorems", "get", "derivation"]


@cache
def declarations() -> dict[str, Declaration]:
    """Each family package's ``FAMILY``, by the package's name, a family after those it builds on."""
    declared = {}
    for module in pkgutil.iter_modules(gradproofs.__path__):
        package = importlib.import_module(f"gradproofs.{module.name}") if module.ispkg else gradproofs
        if isinstance(vars(package).get("FAMILY"), Declaration):
            declared[module.name] = package.FAMILY
    return {name: declared[name] for name in ordered({name: d.after for name, d in declared.items()})}


def offered(kind: str) -> dict:
    """The objects every family's face offers under ``kind`` (``"oracles"`` or ``"strategies"``), by
    name, in the families' order."""
    names = {}
    for name, declaration in declarations().items():
        face = importlib.import_module(f"gradproofs.{name}")
        names.update({attribute: getattr(face, attribute) for attribute in getattr(declaration, kind)})
    return names


def declared(kind: str) -> dict:
    """Every family's ``kind`` mapping (``"figures"`` or ``"bench"``: name → ``"module:function"``), merged
    in the families' order."""
    return {name: reference for declaration in declarations().values()
            for name, reference in getattr(declaration, kind).items()}


@cache
def _load() -> None:
    """Import every declared theorem module, once; each family must record its chapter under its name."""
    for declaration in declarations().values():
        for module in declaration.theorems:
            importlib.import_module(module)
    unrecorded = [name for name in declarations() if name not in recorded_families()]
    if unrecorded:
        raise ValueError(f"the families {unrecorded} declare theorem modules that record no Family of their name")


def families() -> list[Family]:
    """Every family's chapter, in catalogue order."""
    _load()
    return [recorded_families()[name] for name in declarations()]


def theorems(family: str | None = None) -> list[Theorem]:
    """Every theorem (or ``family``'s), in catalogue order: by family, then as recorded."""
    _load()
    rank = {name: index for index, name in enumerate(declarations())}
    listed = sorted(recorded_theorems().values(), key=lambda theorem: rank[theorem.family])
    return [theorem for theorem in listed if family is None or theorem.family == family]


def get(theorem_id: str) -> Theorem:
    """The theorem of that id; else a ValueError naming those there are."""
    _load()
    try:
        return recorded_theorems()[theorem_id]
    except KeyError:
        raise ValueError(f"unknown theorem id {theorem_id!r}; known: {', '.join(recorded_theorems())}") from None


_DERIVED: dict[str, Derivation] = {}


def derivation(theorem: Theorem) -> Derivation:
    """``theorem.derive()``, computed once per process (rendering reads it for every file)."""
    if theorem.id not in _DERIVED:
        _DERIVED[theorem.id] = theorem.derive()
    return _DERIVED[theorem.id]
