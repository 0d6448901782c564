"""A caller's NumPy error state never changes a result: the check the engines' and references' tests share."""

import numpy as np
import pytest


def _assert_same(got, expected, what: str) -> None:
    if isinstance(expected, dict):
        assert set(got) == set(expected), what
        for key in expected:
            _assert_same(got[key], expected[key], f"{what}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), what
        for index, (value, want) in enumerate(zip(got, expected)):
            _assert_same(value, want, f"{what}[{index}]")
    else:
        got, expected = np.asarray(got), np.asarray(expected)
        assert got.dtype == expected.dtype, what
        np.testing.assert_array_equal(got, expected, err_msg=what)


def assert_same_under_a_raising_error_state(calls: dict, *, invalid: str = "ignore") -> None:
    """Each call gives, under an error state that raises on overflow, underflow and division by zero (and
    on invalid operations with ``invalid="raise"``), what it gives under NumPy's quiet state (∞, 0 and NaN
    as IEEE arithmetic has them). ``calls``: {what: call}; a call may return an array, a number, a bool or
    a string, or dicts and lists of them."""
    for what, call in calls.items():
        with np.errstate(all="ignore"):
            expected = call()
        with np.errstate(over="raise", under="raise", divide="raise", invalid=invalid):
            try:
                got = call()
            except FloatingPointError as error:
                pytest.fail(f"{what}: {error}")
        _assert_same(got, expected, what)
