"""ci/mutation.py --again keeps the last run's verdicts only where they still hold: the engine may have
changed outside its functions by new names alone (and in its documentation and ``__all__``)."""

import ast
import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("mutation", Path(__file__).resolve().parents[1] / "ci" / "mutation.py")
mutation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutation)

BEFORE = '''"""An engine."""
import numpy as np
from math import pi

LIMIT = 1
__all__ = ["f"]


class Reference:
    """Its reference."""
    field: int = 1

    def method(self):
        return LIMIT


def f():
    return LIMIT
'''


def kept(after: str) -> bool:
    """Whether the verdicts of a run on BEFORE stand for ``after``, as --again decides."""
    tree = ast.parse(BEFORE).body
    known = mutation._bound(mutation._functions(BEFORE)[1]) | {"np", "pi", "f"}
    assert {node.name for node in tree if isinstance(node, ast.FunctionDef)} == {"f"}
    return mutation._only_added(mutation._functions(BEFORE)[1], mutation._functions(after)[1], known)


@pytest.mark.parametrize("after", [
    BEFORE,
    BEFORE + "\nOTHER = 2\n\n\nclass Projected(Reference):\n    extra: int = 0\n",
    BEFORE.replace('["f"]', '["f", "OTHER"]'),
    BEFORE.replace("    field: int = 1\n", "    field: int = 1\n    dropped: int | None = None\n"),
    BEFORE.replace('"""An engine."""', '"""An engine, documented again."""').replace("Its reference", "Its own"),
    BEFORE.replace("        return LIMIT\n\n\ndef f", "        return LIMIT + 1\n\n\ndef f"),  # a method: rerun
])
def test_new_names_documentation_and_functions_keep_the_verdicts(after):
    assert kept(after)


@pytest.mark.parametrize("after", [
    BEFORE.replace("LIMIT = 1", "LIMIT = 2"),  # a constant every function reads
    BEFORE.replace("    field: int = 1\n", "    field: int = 2\n"),
    BEFORE.replace("class Reference:", "class Reference(dict):"),
    BEFORE.replace("LIMIT = 1\n", ""),
    BEFORE + "\nnp = None\n",  # rebinds an imported name
    BEFORE + "\nf = None\n",  # rebinds a function
    BEFORE + "\nprint(LIMIT)\n",  # binds nothing: runs something on import
])
def test_any_other_change_outside_the_functions_needs_a_full_run(after):
    assert not kept(after)
