"""The one table of floating-point formats, against NumPy's and torch's own figures and IEEE 754's."""

import re

import numpy as np

import pytest
import torch

import gradproofs
from gradproofs import compare
from gradproofs.formats import FORMATS, coarsest, format_named, format_of

# name: (NumPy or torch type whose finfo is the independent figure)
LIBRARY = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": torch.bfloat16}


@pytest.mark.parametrize("name", LIBRARY)
def test_the_table_agrees_with_the_libraries(name):
    fmt, kind = FORMATS[name], LIBRARY[name]
    info = torch.finfo(kind) if isinstance(kind, torch.dtype) else np.finfo(kind)
    assert fmt.eps == float(info.eps)
    assert fmt.unit_roundoff == float(info.eps) / 2
    assert fmt.smallest_normal == float(info.tiny)
    # the least positive number: NumPy's finfo says it; torch's does not, so step up from 0
    least = (float(torch.nextafter(torch.zeros((), dtype=kind), torch.ones((), dtype=kind)))
             if isinstance(kind, torch.dtype) else float(info.smallest_subnormal))
    assert fmt.smallest_subnormal == least
    assert fmt.largest == float(info.max)


def test_tf32_rounds_like_float16_in_float32s_range():
    # NVIDIA A100 Tensor Core GPU Architecture whitepaper (2020): TF32 keeps float32's
    # 8 exponent bits and 10 explicit mantissa bits.
    tf32 = FORMATS["tf32"]
    assert tf32.eps == 2.0 ** -10 == float(np.finfo(np.float16).eps)
    assert (tf32.smallest_normal, tf32.largest) == (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))


@pytest.mark.parametrize("name, kind", [("float64", np.float64), ("float32", np.float32), ("float16", np.float16)])
def test_the_unit_roundoff_is_round_to_nearests_worst_relative_error(name, kind):
    u = FORMATS[name].unit_roundoff
    one = kind(1)
    assert kind(1 + u) == one  # the tie rounds to even: 1
    assert kind(1 + u * (1 + 2.0 ** -8)) == kind(1 + 2 * u)  # past the tie: the next number, 1 + ε
    assert float(np.nextafter(one, kind(2))) - 1 == FORMATS[name].eps


def test_format_of_reads_numpy_and_torch_dtypes():
    assert format_of(np.zeros(2, np.float32)).name == "float32"
    assert format_of(torch.zeros(2, dtype=torch.bfloat16)).name == "bfloat16"
    assert format_of(torch.float16).name == "float16"
    assert format_of(np.float64).name == "float64"
    assert format_of(np.float32(1.0)).name == "float32"
    assert format_of([0.5, 1.5]).name == "float64"  # a Python float is binary64


@pytest.mark.parametrize("values, dtype", [(np.zeros(2, np.int64), "int64"), (torch.zeros(2, dtype=torch.int32),
                                           "torch.int32"), (np.zeros(2, complex), "complex128"),
                                           (np.zeros(2, np.longdouble), np.dtype(np.longdouble).name), (np.int64, "int64")])
def test_any_other_dtype_is_a_type_error_naming_it(values, dtype):
    with pytest.raises(TypeError, match=rf"grads has dtype {dtype}, not a floating format"):
        format_of(values, "grads")


@pytest.mark.parametrize("name", ["float8", "half", 2.0 ** -52, None])
def test_an_unknown_precision_is_refused_as_the_oracles_refuse_it(name):
    from gradproofs import InvalidArgument
    from gradproofs.oracle.options import PRECISION

    with pytest.raises(InvalidArgument) as named:
        format_named(name)
    assert str(named.value) == (f"unknown precision {name!r}; expected one of ['float64', 'float32', 'tf32', "
                                f"'float16', 'bfloat16']")
    if name is not None:
        with pytest.raises(InvalidArgument, match=f"^{re.escape(str(named.value))}$"):
            PRECISION.validated(name)


def test_coarsest_prefers_the_larger_epsilon_then_the_narrower_range():
    assert coarsest([FORMATS["float64"], FORMATS["float32"]]).name == "float32"
    assert coarsest([FORMATS["tf32"], FORMATS["float16"]]).name == "float16"
    assert coarsest([FORMATS["bfloat16"], FORMATS["float16"]]).name == "bfloat16"


def test_tf32s_underflow_floor_lies_in_float32s_range():
    # TF32 shares float16's epsilon; its floor must still be float32's range, not float16's.
    assert compare.underflow_floor(FORMATS["tf32"]) < 1e-30
    assert compare.underflow_floor(FORMATS["float16"]) == 16 * 2.0 ** -14


def test_a_bfloat16_tensor_is_compared_down_to_float32s_range():
    # 1e-30 is far inside bfloat16's range (float32's exponent): a 10 % error there is a mismatch.
    got = torch.tensor([1.1e-30], dtype=torch.bfloat16)
    with pytest.raises(compare.Mismatch, match=r"g\[0\]: got 1.09"):
        compare.assert_close("g", got, [1e-30], [1e-30], FORMATS["bfloat16"].eps, reason="one ε")
    with pytest.raises(TypeError, match="g has dtype int64"):
        compare.assert_close("g", np.array([1, 3]), [1.0, 3.0], [4.0, 4.0], 1e-3, reason="one ε")


def test_a_negative_scale_is_refused_rather_than_left_unjudged():
    # An entry is compared only where its scale is above the underflow floor: a negative scale (a
    # signed δ where |δ| was meant) would skip it silently.
    with pytest.raises(ValueError, match="g: scales are magnitudes, got -2"):
        compare.assert_close("g", np.array([1.0, 5.0]), [1.0, 3.0], [1.0, -2.0], 1e-3, reason="one ε")


def test_a_nan_result_is_infinitely_far_and_an_exact_zero_no_error_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "All-NaN slice" would be one
        with pytest.raises(gradproofs.Mismatch, match=r"error nan is inf of the scale 1, .*Worst absolute error inf "
                                                       r"at index 0, worst relative error inf\.$"):
            compare.assert_close("g", np.array([np.nan, 0.0]), [0.5, 0.0], [1.0, 1.0], 1e-3, reason="one ε",
                                 precision="float32")
        # 0 where 0 is expected has no relative error (0/0): the worst is the one entry off, by 1/2 of 2
        with pytest.raises(gradproofs.Mismatch, match=r"worst relative error 0\.5\.$"):
            compare.assert_close("g", np.array([0.0, 3.0]), [0.0, 2.0], [1.0, 2.0], 1e-3, reason="one ε",
                                 precision="float32")
