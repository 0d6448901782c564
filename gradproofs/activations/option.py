"""The ``activation`` option of the oracles of the families built on activations (chain, mlp, rnn).

Specified here, beside the activations it names, so that the shared option machinery
(:mod:`gradproofs.oracle.options`) knows no family.
"""

from __future__ import annotations

from gradproofs.activations import engine as activations
from gradproofs.oracle.options import Option

__all__ = ["ACTIVATION"]


def _activation(name: str, value) -> str:
    return activations.get(value).name


ACTIVATION = Option("activation", "sigmoid", "the hidden layers' activation", check=_activation,
                    domain="a name from `gradproofs.activations`")
