"""How to install each optional extra, in the README's words: from a clone, at CI's versions."""

from __future__ import annotations

from gradproofs.errors import InvalidArgument

__all__ = ["EXTRAS", "install_hint"]

EXTRAS = ("plots", "frameworks")  # the extras a command or an engine may find missing


def install_hint(extra: str) -> str:
    """The command that installs ``extra`` (one of :data:`EXTRAS`)."""
    if extra not in EXTRAS:
        raise InvalidArgument(f"unknown extra {extra!r}; expected one of {list(EXTRAS)}")
    return f'pip install -c ci/constraints.txt ".[{extra}]"'
