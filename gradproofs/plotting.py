"""What the families' figures share: matplotlib, imported on first use, and how a figure is saved.

matplotlib comes with the plots extra; a figure module imports it through :func:`pyplot` only when
it draws, so that the modules that list the figures import without it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SEED", "pyplot", "save"]

SEED = 5  # the seed of every figure's random inputs and weights


def pyplot():
    """``matplotlib.pyplot``, on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> None:
    """Lay ``fig`` out, write it to ``path`` as a PNG file and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
