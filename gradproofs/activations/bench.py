"""What the dense and recurrent networks' benchmark sections share: the floors an engine is timed against.

The mlp and rnn sections also time each NumPy engine's matrix products alone, on arrays allocated
once (the floor): the engine's time over it has a target of at most 1.25. Beside it they time the
activation and its derivative over as many values as the engine evaluates them (f(a) and f′(a) for
every pre-activation: transcendental, memory-bound passes that no product can absorb) and print the
engine's time over the floor plus that.
"""

from __future__ import annotations

import numpy as np

from gradproofs import timing
from gradproofs.activations import engine as activations

FLOOR_TARGET = 1.25  # an engine's time over the time of its matrix products alone


def activation_floor(name: str, shapes):
    """f and f′ of :mod:`gradproofs.activations` over arrays of the pre-activations' ``shapes``
    (standard normal values scaled by 1.5): the elementwise work the products leave out."""
    act = activations.get(name)
    rng = np.random.default_rng(0)
    values = [1.5 * rng.standard_normal(shape) for shape in shapes]

    def evaluations():
        for a in values:
            act.numpy(a)
            act.numpy_derivative(a)

    return evaluations


def print_floor(label: str, width: int, seconds: float, floor: float, activation: float) -> None:
    """The engine's time over its floor (target FLOOR_TARGET), and over the floor plus f and f′."""
    ratio = seconds / floor
    print(f"    {'floor   its matrix products':<{width}}{timing.ms(floor)}")
    print(f"    {'        f and f′ of every a':<{width}}{timing.ms(activation)}")
    print(f"    {label:<{width}}{timing.ms(seconds)}  numpy/floor {ratio:5.2f} (target <= {FLOOR_TARGET}: "
          f"{'met' if ratio <= FLOOR_TARGET else 'missed'}); numpy/(floor + f, f′) "
          f"{seconds / (floor + activation):5.2f}")
