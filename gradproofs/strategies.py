"""Public Hypothesis strategies for gradient checks: every family's, in one place.

In the style of ``hypothesis.extra.numpy``: plural nouns, options keyword-only,
every argument validated (``hypothesis.errors.InvalidArgument``).

>>> from hypothesis import given
>>> from gradproofs import strategies as gps
>>> @given(gps.chains(max_depth=16))
... def test_my_backprop(chain): ...

Each family's strategies are written in its package and named in its declaration
(``FAMILY.strategies``); this module offers them all, after what they share: :func:`depths`,
:func:`weight_matrices`, and the sizes ``LARGE`` (arrays of more entries come from a generator
Hypothesis seeds) and ``SMALL_FAN_IN`` (matrices summing more terms have their entries scaled
down by their fan-in).
"""

from gradproofs import catalogue
from gradproofs.drawing import LARGE, SMALL_FAN_IN, depths, weight_matrices

_OFFERED = catalogue.offered("strategies")
globals().update(_OFFERED)
__all__ = ["depths", "weight_matrices", "LARGE", "SMALL_FAN_IN", *_OFFERED]
