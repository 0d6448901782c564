"""Floating-point formats: the one table of each format's epsilon, unit roundoff and range.

A binary format with p significand bits (the implicit leading bit included)
rounds to nearest with a relative error of at most the **unit roundoff**
u = 2^(−p) (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
§2.1, eq. (2.4)); its **machine epsilon** ε = 2^(1−p) = 2u is the distance
from 1 to the next larger number (Higham §2.1). Every tolerance in the project
is written in one of these two words with this meaning. The **smallest normal**
2^(e_min) is where gradual underflow starts: below it the relative error bound
u no longer holds. ``FORMATS`` holds each format by name.

=========  ==  =====  ==========  ==========================================
format      p  ε      e_min       source
=========  ==  =====  ==========  ==========================================
float64    53  2⁻⁵²   −1022       IEEE 754-2008 binary64
float32    24  2⁻²³   −126        IEEE 754-2008 binary32
tf32       11  2⁻¹⁰   −126        NVIDIA A100 whitepaper (2020): 10 explicit
                                  mantissa bits, float32's 8 exponent bits
float16    11  2⁻¹⁰   −14         IEEE 754-2008 binary16
bfloat16    8  2⁻⁷    −126        Google's bfloat16: float32's exponent,
                                  7 explicit mantissa bits
=========  ==  =====  ==========  ==========================================

TF32 is how cuDNN and cuBLAS may multiply float32 matrices: its results are
stored in float32, so its range is float32's while its rounding is float16's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradproofs import _validate
from gradproofs.errors import InvalidArgument

__all__ = ["Format", "FORMATS", "format_named", "format_of", "coarsest"]


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: ``significand_bits`` p (the implicit bit included),
    its smallest normal exponent e_min and its largest finite value."""

    name: str
    significand_bits: int
    min_exponent: int
    largest: float

    @property
    def eps(self) -> float:
        """Machine epsilon ε = 2^(1−p): the gap between 1 and the next larger number."""
        return 2.0 ** (1 - self.significand_bits)

    @property
    def unit_roundoff(self) -> float:
        """u = 2^(−p) = ε/2: round-to-nearest's relative error bound, |fl(x) − x| ≤ u·|x|."""
        return 2.0 ** -self.significand_bits

    @property
    def smallest_normal(self) -> float:
        """2^(e_min): below it, results are subnormal and u no longer bounds their relative error."""
        return 2.0 ** self.min_exponent

    @property
    def smallest_subnormal(self) -> float:
        """η = 2^(e_min − p + 1): the spacing of the subnormals, twice the absolute error a rounding below
        the smallest normal may add."""
        return 2.0 ** (self.min_exponent - self.significand_bits + 1)


FORMATS = {format.name: format for format in (
    Format("float64", 53, -1022, 1.7976931348623157e308),
    Format("float32", 24, -126, 3.4028234663852886e38),
    Format("tf32", 11, -126, 3.4028234663852886e38),
    Format("float16", 11, -14, 65504.0),
    Format("bfloat16", 8, -126, 3.3895313892515355e38),
)}


def format_named(precision: "Format | str", argument: str = "precision") -> Format:
    """The :class:`Format` ``precision`` names (a name from :data:`FORMATS` or a Format itself)."""
    if isinstance(precision, Format):
        return precision
    return FORMATS[_validate.choice(argument, precision, tuple(FORMATS))]


def format_of(values, argument: str = "values") -> Format:
    """The format ``values`` are stored in: a NumPy array or scalar, a torch tensor, a NumPy or
    torch dtype. Objects without a dtype (Python floats and lists of them) are float64, which
    is what a Python float is. Any other dtype (integers, complex, long double, float8) is a
    TypeError naming it: no tolerance is guessed for a format the table does not hold."""
    dtype = np.dtype(values) if isinstance(values, type) and issubclass(values, np.generic) else \
        values if _is_dtype(values) else getattr(values, "dtype", None)
    if dtype is None:
        return FORMATS["float64"]
    name = str(dtype).removeprefix("torch.")
    if name not in FORMATS or name == "tf32":
        raise InvalidArgument(f"{argument} has dtype {dtype}, not a floating format gradproofs judges "
                        f"({', '.join(n for n in FORMATS if n != 'tf32')})")
    return FORMATS[name]


def coarsest(formats) -> Format:
    """The format among ``formats`` with the largest epsilon (and, between equal ones such as
    TF32 and float16, the narrower range): the one whose rounding bounds a mixed computation."""
    return max(formats, key=lambda format: (format.eps, format.smallest_normal))


def _is_dtype(value) -> bool:
    """Whether ``value`` is a NumPy or torch dtype."""
    return isinstance(value, np.dtype) or f"{type(value).__module__}.{type(value).__name__}" == "torch.dtype"
