"""The import paths modules had before each family had its package, kept working.

:data:`ALIASES` maps each former path to the module that now holds its code:
``gradproofs.rnn`` is ``gradproofs.families.rnn.engine``, ``gradproofs.oracle.recurrent``
is ``gradproofs.families.rnn.oracle``, and so on. ``import gradproofs.rnn``,
``from gradproofs import rnn`` and ``from gradproofs.rnn import bptt`` all give
the very module object the family holds (so monkeypatching one patches the
other), imported on first use: importing ``gradproofs`` imports none of them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["ALIASES", "install"]

ALIASES = {
    "gradproofs.activations": "gradproofs.families.activations.engine",
    "gradproofs.costs": "gradproofs.families.activations.costs",
    "gradproofs.chain": "gradproofs.families.chain.engine",
    "gradproofs.mlp": "gradproofs.families.mlp.engine",
    "gradproofs.initialisation": "gradproofs.families.mlp.initialisation",
    "gradproofs.residual": "gradproofs.families.mlp.residual",
    "gradproofs.rnn": "gradproofs.families.rnn.engine",
    "gradproofs.cliff": "gradproofs.families.rnn.cliff",
    "gradproofs.lm": "gradproofs.families.lm.engine",
    "gradproofs.clipping": "gradproofs.families.clipping.engine",
    "gradproofs.clipping_observations": "gradproofs.families.clipping.observations",
    "gradproofs.oracle.chain": "gradproofs.families.chain.oracle",
    "gradproofs.oracle.mlp": "gradproofs.families.mlp.oracle",
    "gradproofs.oracle.recurrent": "gradproofs.families.rnn.oracle",
    "gradproofs.oracle.lm": "gradproofs.families.lm.oracle",
    "gradproofs.oracle.clipping": "gradproofs.families.clipping.oracle",
    "gradproofs.theorems.activations": "gradproofs.families.activations.theorems",
    "gradproofs.theorems.chain": "gradproofs.families.chain.theorems",
    "gradproofs.theorems.dense": "gradproofs.families.mlp.theorems",
    "gradproofs.theorems.initialisation": "gradproofs.families.mlp.initialisation_theorems",
    "gradproofs.theorems.rnn": "gradproofs.families.rnn.theorems",
    "gradproofs.theorems.clipping": "gradproofs.families.clipping.theorems",
    "gradproofs.theorems.tamed": "gradproofs.families.clipping.tamed",
    "gradproofs.theorems.lm": "gradproofs.families.lm.theorems",
}


class _Loader(importlib.abc.Loader):
    """Loads a former path as the module it names: imported (or found imported), not executed again."""

    def __init__(self, target: str):
        self.target = target
        self.spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self.spec  # the import system gave it the former path's spec: its own back


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the former paths of :data:`ALIASES`, and nothing else."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in ALIASES:
            return None
        return importlib.util.spec_from_loader(fullname, _Loader(ALIASES[fullname]))


def install() -> None:
    """Put the finder of the former paths first in ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
