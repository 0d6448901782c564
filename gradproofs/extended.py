"""Extended precision for the exact references of large problems: NumPy's long double.

mpmath's 40 digits are the ground truth, but on object arrays every operation
is a Python call, about a microsecond; a dense network of widths 64 and a batch
of 32 takes a second per example. NumPy's ``longdouble`` is x86-64's 80-bit
format (64 significant bits, eps = 2⁻⁶³; IEEE quad on some other machines): the
same recurrences on long-double arrays run in compiled loops, a thousand times
faster, and long-double ``tanh``, ``exp`` and ``log`` are correct to an ulp or
two.

Its error is bounded the way every float engine's is: the families' rounding
models (``rounding_tolerance(eps)``, linear in eps) with eps = 2⁻⁶³. Against a
float64 engine's tolerance that is eps_ld/eps64 = 2⁻¹¹ ≈ 0.05 % of it (against
float32's, 2⁻⁴⁰), below the 1 % the references allow themselves; and a
reference computed so adds its own bound to the tolerance it judges with
(:meth:`gradproofs.compare.Reference.expectations`), so a verdict stays a
statement about the exact gradients. Where long double is no wider than float64
(Windows, macOS on ARM) :data:`AVAILABLE` is false and the references use
mpmath at every size.
"""

from __future__ import annotations

import numpy as np

from gradproofs.errors import InvalidArgument

__all__ = ["DTYPE", "EPS", "AVAILABLE", "FROM_OPERATIONS", "ENGINES", "cast", "chosen"]

DTYPE = np.longdouble
EPS = float(np.finfo(DTYPE).eps)
AVAILABLE = EPS <= 2.0 ** -63
# Problems of more multiply-adds than this get the extended reference ("auto"); below, mpmath is
# fast enough (a few milliseconds) and keeps its 40 digits.
FROM_OPERATIONS = 10_000
ENGINES = ("auto", "mpmath", "extended")


def cast(*arrays) -> list:
    """Each array (or list of arrays) in long double, as a new array."""
    return [[np.array(a, dtype=DTYPE) for a in value] if isinstance(value, list) else np.array(value, dtype=DTYPE)
            for value in arrays]


def chosen(engine: str, operations: int) -> bool:
    """Whether a reference of ``operations`` multiply-adds is computed in long double."""
    from gradproofs import _validate

    engine = _validate.choice("engine", engine, ENGINES)
    if engine == "extended" and not AVAILABLE:
        raise InvalidArgument("engine='extended' needs a long double wider than float64, which this machine's "
                         "NumPy does not have; use 'mpmath'")
    return engine == "extended" or (engine == "auto" and AVAILABLE and operations > FROM_OPERATIONS)
