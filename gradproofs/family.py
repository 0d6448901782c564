"""What a family package declares in its ``__init__``, for the modules that read every family.

A family is a package ``gradproofs.<name>`` whose ``__init__`` binds ``FAMILY`` to a
:class:`Declaration`. The catalogue, ``gradproofs.oracle``, ``gradproofs.strategies``, the
command line, the figures and the benchmarks find the families by it, in the order
:func:`ordered` gives, and keep no list of their own. Figures and benchmark sections are named
``"module:function"`` (:func:`load`), so that nothing is imported before it is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

__all__ = ["Declaration", "ordered", "load"]


@dataclass(frozen=True)
class Declaration:
    """A family's declaration: the families it builds on (``after``), the modules that record its
    theorems, in order (``theorems``), the names of its face that ``gradproofs.oracle`` and
    ``gradproofs.strategies`` offer (``oracles``, ``strategies``), and its figures (PNG file name →
    ``"module:function"`` drawing it into a path) and benchmark sections (name → ``"module:function"``
    printing it)."""

    after: tuple[str, ...] = ()
    theorems: tuple[str, ...] = ()
    oracles: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    figures: dict[str, str] = field(default_factory=dict)
    bench: dict[str, str] = field(default_factory=dict)


def ordered(after: dict[str, tuple[str, ...]]) -> list[str]:
    """The names of ``after`` (name → the names it builds on), each after those it builds on; of the
    names whose turn it is, the first by name first."""
    order, left = [], dict(after)
    while left:
        ready = sorted(name for name, below in left.items() if set(below) <= set(order))
        if not ready:
            raise ValueError(f"the families {sorted(left)} build on one another in a loop, or on a family "
                             f"that does not exist: {dict(sorted(left.items()))}")
        order.append(ready[0])
        del left[ready[0]]
    return order


def load(reference: str):
    """The object that ``"module:name"`` names, its module imported."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)
