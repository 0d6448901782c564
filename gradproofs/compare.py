"""Comparing an engine's numbers with exact ones, and saying what differs.

A failure names the worst entry, both values, its absolute and scaled error,
and the tolerance with the reason it has that size: never a whole array dump.

:class:`Reference` is the one judging interface of every family (the chain,
dense networks, the RNN and the LSTM): a problem with its exact gradients, a
scale per entry (the size of what float arithmetic adds up to form it) and a
rounding tolerance per entry relative to that scale. :func:`judge` compares
any engine's arrays with those expectations; the oracle calls it on arrays
translated to a user's conventions. A float engine is judged only on problems whose
forward pass amplifies a rounding error at most ``MAX_AMPLIFICATION``-fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gradproofs.errors import InvalidArgument, Mismatch
from gradproofs.formats import FORMATS, Format, format_named, format_of

__all__ = ["MAX_AMPLIFICATION", "to_numpy", "norm", "underflow_floor", "Agreement", "assert_close", "Expected",
           "judge", "Reference"]

MAX_AMPLIFICATION = 1e4  # the forward conditioning under which float engines are compared


def to_numpy(values) -> np.ndarray:
    """float64 NumPy copy of a list, array, mpmath list or torch tensor."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        return np.array(array, dtype=np.float64)
    return np.array([float(v) for v in np.ravel(np.asarray(values, dtype=object))],
                    dtype=np.float64).reshape(np.shape(values))


def norm(vector, axis=None) -> np.ndarray:
    """Euclidean norm without the underflow or overflow of squaring: scaled by max |v_i| first."""
    vector = np.asarray(vector, dtype=np.float64)
    scale = np.max(np.abs(vector), axis=axis, keepdims=True)
    safe = np.where(scale > 0, scale, 1.0)
    result = np.linalg.norm(vector / safe, axis=axis, keepdims=True) * safe
    return result.squeeze() if axis is None else np.squeeze(result, axis=axis)


def underflow_floor(precision: Format) -> float:
    """Scales below this are at the edge of ``precision``'s normal range: not compared.

    For float64, float32, TF32 and bfloat16 the floor is smallest normal/ε·10³,
    the scale under which a thousand roundings in the subnormal range (each off
    by up to smallest normal·ε) could reach one unit of ε: far below any
    gradient the strategies draw. float16's range is so short that this would
    be 62.5, above every gradient drawn; its floor is 16·smallest normal ≈
    9.8e-4 instead, with which float16 engines (NumPy and torch, dense and
    recurrent) pass thousands of drawn examples and planted bugs are still
    caught (tests/test_oracle_precision.py).
    """
    if precision == FORMATS["float16"]:
        return 16.0 * precision.smallest_normal
    return precision.smallest_normal / precision.eps * 1e3


@dataclass(frozen=True)
class Agreement:
    """How far an engine's values lie from the exact ones, at worst over the entries compared.

    ``used`` = max_i e_i / tolerance_i, the largest fraction of its tolerance an
    entry used (at most 1 when the judge passed; an error of 0 uses none of a
    tolerance of 0), and ``error`` = max_i e_i, the largest scaled error, where
    e_i = |got_i − exact_i| / scale_i. The two maxima may fall on different entries.
    """

    used: float = 0.0
    error: float = 0.0

    @staticmethod
    def worst(agreements: Iterable["Agreement"]) -> "Agreement":
        """The agreement of several comparisons together: the maximum of each figure (none: 0 and 0)."""
        agreements = list(agreements)
        return Agreement(max((a.used for a in agreements), default=0.0),
                         max((a.error for a in agreements), default=0.0))


def assert_close(name: str, got, expected, scale, tolerance, *, reason: str,
                 precision: Format | str | None = None) -> Agreement:
    """e_i = |got_i − expected_i| / scale_i, asserted ≤ ``tolerance`` (a number or one per entry).

    Entries whose scale is below :func:`underflow_floor` of ``precision`` (by
    default the format ``got`` is stored in; the gradient itself underflows it)
    are not compared. Returns the :class:`Agreement`: the largest e_i/tolerance_i
    and the largest e_i.
    """
    got_np = to_numpy(got).ravel()
    expected_np = to_numpy(expected).ravel()
    scale_np = to_numpy(scale).ravel()
    if got_np.shape != expected_np.shape:
        raise Mismatch(f"{name}: got {got_np.size} values, expected {expected_np.size}")
    if np.any(scale_np < 0):  # a negative scale would leave its entry unjudged
        raise InvalidArgument(f"{name}: scales are magnitudes, got {float(scale_np.min()):.3g}")
    precision = format_of(got, name) if precision is None else format_named(precision)
    compared = scale_np > underflow_floor(precision)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        error = np.where(compared, np.abs(got_np - expected_np) / np.where(compared, scale_np, 1), 0.0)
    error = np.where(np.isnan(error) & compared, np.inf, error)
    tolerance = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), error.shape)
    with np.errstate(invalid="ignore", divide="ignore"):  # a tolerance of 0 admits an error of 0 alone
        excess = np.where(error == 0, 0.0, error / tolerance)
    worst = int(np.argmax(excess)) if error.size else 0
    if error.size and not error[worst] <= tolerance[worst]:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            absolute = np.abs(got_np - expected_np)
            relative = absolute / np.abs(expected_np)
        finite = np.where(np.isnan(absolute), np.inf, absolute)  # a NaN result is infinitely far
        relative = np.where(np.isnan(absolute), np.inf, np.where(np.isnan(relative), 0.0, relative))  # 0/0: exact
        raise Mismatch(
            f"{name}[{worst}]: got {float(got_np[worst])!r}, expected {float(expected_np[worst])!r}; "
            f"error {absolute[worst]:.3g} is {error[worst]:.3g} of the scale {scale_np[worst]:.3g}, "
            f"over the tolerance {tolerance[worst]:.3g} ({reason}). "
            f"Worst absolute error {np.max(finite):.3g} at index {int(np.argmax(finite))}, "
            f"worst relative error {np.max(np.where(compared, relative, 0)):.3g}."
        )
    return Agreement(float(excess[worst]), float(np.max(error))) if error.size else Agreement()


# --- one judging interface ---------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """One gradient array as an engine is judged on it: the exact values (float64),
    the scale of each entry and the tolerance relative to that scale.

    ``shape_of`` names what the array's shape comes from, for messages
    ("the shape of weights[0]").
    """

    exact: np.ndarray
    scale: np.ndarray
    tolerance: np.ndarray
    shape_of: str = ""

    @staticmethod
    def concatenate(parts, axis: int, shape_of: str = "") -> "Expected":
        """One expectation of the arrays ``parts`` joined along ``axis`` (as a layout joins them)."""
        def joined(what):
            return np.concatenate([np.broadcast_to(getattr(p, what), p.exact.shape) for p in parts], axis=axis)

        return Expected(joined("exact"), joined("scale"), joined("tolerance"), shape_of)

    def clipped(self, clip_value: float) -> "Expected":
        """The expectation of a gradient clipped to [−c, c] entry by entry: clipping is 1-Lipschitz,
        so an entry's error bound (its scale times its tolerance) holds for the clipped entry too."""
        return Expected(np.clip(self.exact, -clip_value, clip_value), self.scale, self.tolerance, self.shape_of)

    def map(self, layout, *, factor: float = 1.0, shape_of: str | None = None) -> "Expected":
        """The same expectation in another layout: ``layout`` (a transpose, a reshape, a
        permutation of axes) applied to every entry's exact value, scale and tolerance;
        ``factor`` > 0 multiplies the exact values and scales (a sum where the reference
        has a mean), which leaves the relative tolerance as it is."""
        shape = self.exact.shape
        return Expected(np.asarray(layout(self.exact * factor)),
                        np.asarray(layout(np.broadcast_to(self.scale, shape) * factor)),
                        np.asarray(layout(np.broadcast_to(self.tolerance, shape))),
                        self.shape_of if shape_of is None else shape_of)


def _describe(value) -> str:
    """A short description of what an engine returned, never its contents."""
    if hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def judge(name: str, got: Mapping[str, Any], expected: Mapping[str, Expected], *, precision: Format | str,
          reason: str) -> Agreement:
    """Compare ``got[label]`` with ``expected[label]`` for every label; raise Mismatch on the worst entry.

    Shapes first (a Mismatch names the array, its shape and the expected one).
    Where the scale and the exact value are 0 the entry is 0 by structure (no
    term reaches it: a relu that is off, zero weights on every path, an empty
    sequence, a gate the cell does not have): only 0 is accepted there. Then
    the arrays are cut into rows along their last axis, each named
    ``label[i][j]…``, and compared worst row first, so the message names the
    entry furthest over its tolerance. Returns the :class:`Agreement` of all
    the entries (the largest fraction of its tolerance one used, the largest
    error as a fraction of its scale). A Mismatch carries ``label`` (the array it is about)
    and ``kind`` ("shape" or "values"), and a values Mismatch names every other array with
    an entry beyond its tolerance.
    """
    rows = []  # (label, got, exact, scale, tolerance), one per row along the last axis
    fields = []  # the label of the array each row belongs to
    for label, want in expected.items():
        value = got[label]
        shape = tuple(np.shape(value))
        if shape != want.exact.shape:
            of = f", {want.shape_of}" if want.shape_of else ""
            raise _tagged(Mismatch(f"{name} {label} has shape {shape}, expected {want.exact.shape}{of}"),
                          label, "shape")
        try:
            value = to_numpy(value)
        except (TypeError, ValueError) as error:
            raise _tagged(Mismatch(f"{name} {label} is not an array of numbers: {error}"), label, "shape") from None
        tolerance = np.broadcast_to(np.asarray(want.tolerance, dtype=np.float64), shape)
        scale = np.broadcast_to(np.asarray(want.scale, dtype=np.float64), shape)
        if not shape:
            rows.append((f"{name} {label}", value.reshape(1), want.exact.reshape(1), scale.reshape(1),
                         tolerance.reshape(1)))
            fields.append(label)
            continue
        rows.extend((f"{name} {label}" + "".join(f"[{i}]" for i in index), value[index], want.exact[index],
                     scale[index], tolerance[index]) for index in np.ndindex(shape[:-1]))
        fields.extend([label] * (len(rows) - len(fields)))
    for (label, value, exact, scale, _), field in zip(rows, fields):
        structural = np.flatnonzero((scale == 0) & (exact == 0) & (value != 0))
        if structural.size:
            raise _tagged(Mismatch(
                f"{label}[{structural[0]}]: got {float(value[structural[0]])!r}, expected 0.0: the entry is 0 "
                f"by structure (no term reaches it: a relu that is off, zero weights on every path, an empty "
                f"sequence, or a gate the cell does not have)"), field, "values")
    precision = format_named(precision)
    floor = underflow_floor(precision)

    def excess(row):
        _, value, exact, scale, tolerance = row
        with np.errstate(all="ignore"):
            ratio = np.nan_to_num(np.abs(value - exact) / (scale * tolerance), nan=np.inf)
        return float(np.max(np.where(scale > floor, ratio, 0.0), initial=0.0))

    agreements = []
    ranked = sorted(((excess(row), row, field) for row, field in zip(rows, fields)), key=lambda entry: entry[0],
                    reverse=True)
    for _, (label, value, exact, scale, tolerance), field in ranked:
        try:
            agreements.append(assert_close(label, value, exact, scale, tolerance, reason=reason, precision=precision))
        except Mismatch as failure:
            others = list(dict.fromkeys(other for over, _, other in ranked if other != field and over > 1))
            if others:
                failure.args = (f"{failure} Also beyond their tolerance on this example: {', '.join(others)}.",)
            raise _tagged(failure, field, "values") from None
    return Agreement.worst(agreements)


def _tagged(failure: Mismatch, label: str, kind: str) -> Mismatch:
    """``failure`` with the array it is about (``label``) and its kind ("shape" or "values")."""
    failure.label, failure.kind = label, kind
    return failure


def _field(result, field: str, name: str, fields) -> Any:
    """``result[field]`` of a mapping, or ``result.field`` of any other object."""
    if isinstance(result, Mapping):
        if field not in result:
            raise Mismatch(f"{name} returned a dict without {field!r}; expected the keys {list(fields)}")
        return result[field]
    if not hasattr(result, field):
        raise Mismatch(f"{name} returned {_describe(result)} without {field!r}; expected the fields "
                       f"{list(fields)}")
    return getattr(result, field)


class Reference:
    """A problem with its exact gradients and the rounding model a float engine is judged by.

    A family's reference names its gradients in ``FIELDS`` and provides:
    ``exact`` (an object with one attribute per field: an array, or for the
    fields named in ``LAYERED`` a list of arrays, one per layer), ``scales()`` and ``rounding_tolerance(eps, *,
    derivative_from_output)`` (dicts with the same structure per field), and
    ``well_conditioned(eps)``: whether the inputs let an engine with machine
    epsilon ``eps`` (:attr:`gradproofs.formats.Format.eps`) be held to the exact values at all.
    """

    FIELDS: tuple = ()
    LAYERED: tuple = ()  # the fields with one array per layer
    SHAPES_OF: dict = {}  # field -> what its shape comes from, "{l}" the layer
    engine = "mpmath"  # or "auto" / "extended" where a family offers long double (gradproofs.extended)

    @property
    def operations(self) -> int:
        """The multiply-adds of one backward pass: what decides the engine of the exact values."""
        return 0

    @cached_property
    def extended(self) -> bool:
        """Whether ``exact`` is computed in long double (:mod:`gradproofs.extended`) rather than mpmath."""
        from gradproofs import extended

        return extended.chosen(self.engine, self.operations)

    @property
    def exact_eps(self) -> float:
        """The machine epsilon the exact values were computed with: long double's, or 0 for mpmath's 40 digits."""
        from gradproofs import extended

        return extended.EPS if self.extended else 0.0

    def scales(self) -> dict:
        raise NotImplementedError

    def rounding_tolerance(self, eps: float, *, derivative_from_output: bool = False) -> dict:
        raise NotImplementedError

    def well_conditioned(self, eps: float) -> bool:
        raise NotImplementedError

    def reason(self, derivative_from_output: bool) -> str:
        """Why the tolerance has its size, for messages."""
        module = type(self).__module__.removesuffix(".engine").rsplit(".", 1)[-1]  # a family's engine: its name
        return f"the forward-and-backward rounding bound of {module}.{type(self).__name__}" + (
            ", with f′ formed from the output as autograd does" if derivative_from_output else "")

    def expectations(self, eps: float, *, derivative_from_output: bool = False, fields=None) -> dict:
        """{field: Expected}, a list of them for a field with one array per layer.

        Exact values computed in long double carry their own rounding bound (the
        same model at long double's eps), added to the tolerance.
        """
        scales = self.scales()
        tolerances = self.rounding_tolerance(eps, derivative_from_output=derivative_from_output)
        if self.exact_eps:
            own = self.rounding_tolerance(self.exact_eps)
            tolerances = {field: [t + o for t, o in zip(tolerances[field], own[field])] if field in self.LAYERED
                          else tolerances[field] + own[field] for field in tolerances}
        out = {}
        for field in fields or self.FIELDS:
            exact = getattr(self.exact, field)
            shape_of = self.SHAPES_OF.get(field, "")
            if field in self.LAYERED:
                out[field] = [Expected(to_numpy(e), s, t, shape_of.format(l=l))
                              for l, (e, s, t) in enumerate(zip(exact, scales[field], tolerances[field]))]
            else:
                out[field] = Expected(to_numpy(exact), scales[field], tolerances[field], shape_of)
        return out

    def expected(self, eps: float, *, derivative_from_output: bool = False, fields=None) -> dict:
        """{field: Expected}, or {"field[l]": Expected} for a field with one array per layer."""
        out = {}
        for field, value in self.expectations(eps, derivative_from_output=derivative_from_output,
                                              fields=fields).items():
            if isinstance(value, list):
                out.update({f"{field}[{l}]": e for l, e in enumerate(value)})
            else:
                out[field] = value
        return out

    def assert_matches(self, name: str, result: Any, *, precision: Format | str, derivative_from_output: bool,
                       fields=None) -> Agreement:
        """Compare an engine's gradients with the exact ones; raise Mismatch on the worst entry, else
        return their :class:`Agreement`.

        ``result`` is a mapping or an object with the ``fields`` (default
        :attr:`FIELDS`); a field with one array per layer must be a sequence
        of that many arrays. See :func:`judge`.
        """
        fields = tuple(fields or self.FIELDS)
        precision = format_named(precision)
        expected = self.expected(precision.eps, derivative_from_output=derivative_from_output, fields=fields)
        got = {}
        for field in fields:
            value = _field(result, field, name, fields)
            layers = getattr(self.exact, field)
            if field in self.LAYERED:
                if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") \
                        or len(value) != len(layers):
                    raise Mismatch(f"{name} {field} must hold one array per layer ({len(layers)}), "
                                   f"got {_describe(value)}")
                got.update({f"{field}[{l}]": v for l, v in enumerate(value)})
            else:
                got[field] = value
        return judge(name, got, expected, precision=precision, reason=self.reason(derivative_from_output))
