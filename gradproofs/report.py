"""The figures ``gradproofs report`` draws, one PNG file each: every family's, as its declaration names them.

Each family declares its figures (``FAMILY.figures``: the file name and the function in its
``figures`` module that draws it), in the families' order; each figure function's docstring
says what it shows. Drawing needs matplotlib (the plots extra), imported by the first figure.
"""

from __future__ import annotations

from pathlib import Path

from gradproofs import catalogue
from gradproofs.family import load

__all__ = ["figures", "write"]


def figures() -> dict[str, str]:
    """File name → ``"module:function"`` drawing it, for every family's figures."""
    return catalogue.declared("figures")


def write(out: Path) -> list[Path]:
    """Draw every figure into ``out`` (created if needed); return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, reference in figures().items():
        paths.append(out / name)
        load(reference)(paths[-1])
    return paths
