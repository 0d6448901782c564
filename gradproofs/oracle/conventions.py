"""Declared conventions: how a user's code lays out its arrays and what it returns.

What each value of a layout option means is here, once, as data (:data:`WEIGHTS`,
:data:`REDUCTIONS`, :data:`SAMPLES`): the oracles translate the reference's arrays
through these records, their hints and :mod:`gradproofs.oracle.options` describe the
values from them. The options themselves (names, defaults, checks) are specified in
:mod:`gradproofs.oracle.options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gradproofs.errors import InvalidArgument
from gradproofs.oracle.harness import describe, fail

__all__ = [
    "Weights", "WEIGHTS", "Reduction", "REDUCTIONS", "Samples", "SAMPLES", "AXES", "axes", "arguments",
    "declared_arguments", "weight", "BIAS_LAYOUTS", "bias_layout", "bias_hints", "permutation", "sequence", "state",
    "vector", "Returns"
]


@dataclass(frozen=True)
class Weights:
    """A value of ``weights``: the shape of W and how it is applied."""

    shape: str
    applied: str
    transposed: bool  # held as the transpose of the reference's (n_out, n_in)

    def __str__(self) -> str:
        return f"weights of shape {self.shape}, used as {self.applied}"


WEIGHTS = {"out_in": Weights("(n_out, n_in)", "x @ W.T", transposed=False),
           "in_out": Weights("(n_in, n_out)", "x @ W", transposed=True)}


@dataclass(frozen=True)
class Reduction:
    """A value of ``reduction``: how the per-sample costs make the batch's."""

    summed: bool  # the gradients are the batch size times the mean's
    does: str  # what fn does, in a hint: "sums the cost over the batch"


REDUCTIONS = {"mean": Reduction(summed=False, does="averages the cost over the batch"),
              "sum": Reduction(summed=True, does="sums the cost over the batch")}


@dataclass(frozen=True)
class Samples:
    """A value of ``samples``: how fn takes a batch."""

    columns: bool  # samples (and biases) as columns
    single: bool  # one sample per call
    takes: str  # what fn takes, in a hint and the option's description


SAMPLES = {"rows": Samples(columns=False, single=False, takes="one sample per row (B, n) and biases (n,)"),
           "columns": Samples(columns=True, single=False, takes="one sample per column (n, B) and biases (n, 1)"),
           "single": Samples(columns=True, single=True, takes="one sample per call as a column (n, 1) and "
                                                             "biases (n, 1)")}
AXES = ("time", "batch", "feature")


def axes(name: str, value) -> tuple:
    """An einops-style string naming the axes of a sequence: a permutation of "time batch feature"."""
    if not isinstance(value, str) or sorted(value.split()) != sorted(AXES):
        raise InvalidArgument(f"{name} must be a permutation of 'time batch feature' (each once), got {value!r}")
    return tuple(value.split())


def arguments(value, known: tuple, *, optional: tuple = (), declarations: Mapping | None = None) -> tuple:
    """The names of fn's positional arguments, in order: distinct names among ``known``, and every
    one of them but the ``optional`` ones: an array the reference uses is never left out silently.
    ``declarations`` {name: option}: the option that takes an array out of the model, which the
    error for leaving that array out names."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or not value:
        raise InvalidArgument(f"arguments must be a non-empty tuple of names among {list(known)}, got {value!r}")
    unknown = [name for name in value if name not in known]
    if unknown:
        raise InvalidArgument(f"arguments names {unknown[0]!r}, which is not an argument this check passes; "
                              f"expected names among {list(known)}")
    if len(set(value)) != len(value):
        raise InvalidArgument(f"arguments names an argument twice: {list(value)}")
    missing = [name for name in known if name not in value and name not in optional]
    if missing:
        name = missing[0]
        how = (f"declare {declarations[name]} if fn's model has no {name}" if name in (declarations or {})
               else "fn must take it, and may ignore it")
        raise InvalidArgument(f"arguments leaves out {name!r}, which the reference uses; {how}")
    return tuple(value)


def declared_arguments(oracle, known: tuple, **kwargs) -> tuple:
    """``oracle``'s ``arguments`` (:func:`arguments`), or where it is None, ``known``: every
    argument its model has, in its order."""
    return arguments(known if oracle.arguments is None else oracle.arguments, known, **kwargs)


def weight(matrix, weights: str):
    """A weight matrix (n_out, n_in) in the user's layout."""
    return np.swapaxes(matrix, -1, -2) if WEIGHTS[weights].transposed else matrix


def permutation(order: tuple, of: tuple = AXES) -> list:
    """The axes of an array laid out as ``of`` taken in the user's ``order``."""
    return [of.index(axis) for axis in order]


def sequence(array, order: tuple):
    """A (T, B, F) array in the user's axis order."""
    return np.transpose(array, permutation(order))


def state(array, order: tuple):
    """A (B, H) state in the order batch and feature take in the user's axes."""
    return array.T if order.index("feature") < order.index("batch") else array


BIAS_LAYOUTS = {"flat": "biases of shape (n,)", "row": "biases as rows (1, n)", "column": "biases as columns (n, 1)"}


def bias_layout(declared: str | None, columns: bool) -> str:
    """The declared ``bias_layout``, or where it is None the one the samples' layout implies: columns
    (n, 1) where samples (or the feature axis) come as columns, else flat (n,)."""
    return declared or ("column" if columns else "flat")


def vector(array, layout: str):
    """A bias (n,) as the user's code holds it, in a layout of :data:`BIAS_LAYOUTS`."""
    return {"flat": array, "row": array[None, :], "column": array[:, None]}[layout]


def bias_hints(oracle, layout: str) -> list:
    """The hints of the other bias layouts (``oracle`` takes ``bias_layout``, ``layout`` its own)."""
    return [(f"fn takes {text}: declare bias_layout={value!r}", oracle.but(bias_layout=value))
            for value, text in BIAS_LAYOUTS.items() if value != layout]


class Returns:
    """What ``fn`` returns, as declared by ``returns=``.

    ``None``: the oracle's default; a name (str): fn returns that gradient
    alone; a tuple of names: fn returns a sequence in that order (None for an
    item that is not a gradient, such as a loss, which is not read); a dict
    {gradproofs name: fn's key}: fn returns a mapping (or an object with those
    attributes). A field with one array per layer (``layered``) is a sequence
    of arrays, or, in a dict, a key holding "{l}", which stands for the layer
    number 1..L (``{"dW": "W{l}"}`` reads ``W1``, ``W2``, …). Only the named
    gradients are checked. ``inputs`` names the gradient of the inputs, which
    must be named whenever it is ``known`` (the oracle's ``inputs=True``).
    """

    def __init__(self, returns, *, known: tuple, default, layered=(), inputs: str | None = None,
                 function: str = "this check"):
        self.layered = frozenset(layered)
        value = default if returns is None else returns
        if isinstance(value, str):
            self.form, names = "one", {value: value}
        elif isinstance(value, Mapping):
            self.form, names = "keys", dict(value)
        elif isinstance(value, (tuple, list)):
            self.form, names = "sequence", {name: name for name in value if name is not None}
            if len(names) != len([name for name in value if name is not None]):
                raise InvalidArgument(f"returns names a gradient twice: {list(value)}")
        else:
            raise InvalidArgument(f"returns must be a name, a tuple of names or a dict {{name: fn's key}}, got "
                            f"{value!r}")
        if not names:
            raise InvalidArgument("returns must name at least one gradient to check")
        for name, key in names.items():
            if name not in known:
                extra = (" (the gradient of the inputs: pass inputs=True to check it)"
                         if name == inputs else "")
                raise InvalidArgument(f"returns names {name!r}, which is not a gradient {function} knows{extra}; "
                                 f"expected names among {list(k for k in known if k != inputs)}"
                                 + (f" and {inputs!r} with inputs=True" if inputs else ""))
            if not isinstance(key, str):
                raise InvalidArgument(f"returns maps {name!r} to {key!r}; fn's keys must be strings")
        if inputs in known and inputs not in names:
            raise InvalidArgument(f"inputs=True, but returns does not name {inputs!r}, the gradient of the inputs")
        self.declared = value
        self.names = names  # gradproofs name -> fn's key (or the name itself)
        self.fields = tuple(names)
        self.positions = tuple(value) if self.form == "sequence" else None  # None: an item not checked

    def __repr__(self) -> str:
        return repr(self.declared)

    def orders(self) -> list:
        """The other orders of a sequence of two or three names (for hints)."""
        from itertools import permutations

        if self.form != "sequence" or not 2 <= len(self.positions) <= 3:
            return []
        return [order for order in permutations(self.positions) if order != self.positions]

    def labels(self, field: str, layers: int | None) -> list:
        """The labels under which a field's arrays are judged (one per layer for a layered field)."""
        key = self.names[field]
        if field not in self.layered:
            return [key]
        if "{l}" in key:
            return [key.replace("{l}", str(l + 1)) for l in range(layers)]
        return [f"{key}[{l}]" for l in range(layers)]

    def kinds(self, layers: int | None = None, families=()) -> dict:
        """{label: the name of its field as fn knows it}: a report's kinds are per field, not per layer.

        ``families``: groups of fields that make one kind (the four gates' weights),
        named by their fn names joined with "/".
        """
        family_of = {}
        for family in families:
            members = [field for field in family if field in self.names]
            family_of.update({field: "/".join(self.names[f] for f in members) for field in members})
        return {label: family_of.get(field, self.names[field]) for field in self.fields
                for label in self.labels(field, layers)}

    def expected(self, expectations: Mapping, layers: int | None = None) -> dict:
        """{label: Expected} for the declared fields, from {field: Expected or a list per layer}."""
        out = {}
        for field in self.fields:
            value = expectations[field]
            values = value if field in self.layered else [value]
            out.update(zip(self.labels(field, layers), values))
        return out

    def read(self, result, layers: int | None = None) -> dict:
        """{label: array} from fn's result; a result of the wrong structure is a mismatch."""
        if self.form == "one":
            values = {self.fields[0]: result}
        elif self.form == "sequence":
            if isinstance(result, (str, bytes, np.ndarray, Mapping)) or not isinstance(result, (tuple, list)) \
                    or len(result) != len(self.positions):
                names = ", ".join(str(name) for name in self.positions)
                fail("result structure", f"fn must return a sequence of {len(self.positions)} items ({names}), "
                                         f"got {describe(result)}")
            values = {name: item for name, item in zip(self.positions, result) if name is not None}
        else:
            values = {}
            for field, key in self.names.items():
                if "{l}" in key and field in self.layered:
                    continue
                values[field] = self._key(result, key, field)
        got = {}
        for field in self.fields:
            labels = self.labels(field, layers)
            if field not in self.layered:
                got[labels[0]] = values[field]
            elif "{l}" in self.names[field]:
                got.update({label: self._key(result, label, field) for label in labels})
            else:
                layer_values = values[field]
                if isinstance(layer_values, (str, bytes, np.ndarray)) or not hasattr(layer_values, "__len__") \
                        or len(layer_values) != layers:
                    fail(f"{self.names[field]} structure", f"fn's {self.names[field]} must hold one array per "
                                                           f"layer ({layers}), got {describe(layer_values)}")
                got.update(zip(labels, layer_values))
        return got

    def _key(self, result, key: str, field: str):
        read = f"the key read for the gradient of {field} (returns= declares fn's own)"
        if isinstance(result, Mapping):
            if key not in result:
                fail("result structure", f"fn returned a dict without {key!r}, {read}; its keys: {list(result)}")
            return result[key]
        if not hasattr(result, key):
            fail("result structure", f"fn returned {describe(result)} without {key!r}, {read}")
        return getattr(result, key)
