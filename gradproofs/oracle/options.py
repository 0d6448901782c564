"""Every option of the oracles, specified once: its name, default, values, meaning and check.

An oracle lists its :class:`Option` records in ``option_records`` (the options several
oracles take are the records below, their defaults changed where an oracle's
differ); from them come its validation (:class:`gradproofs.oracle.harness.Oracle`),
its ``check_*`` function's signature and docstring (:func:`check_function`), the
command line's ``--option`` and the README's table of options (:func:`table`).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

from gradproofs import _validate
from gradproofs.errors import InvalidArgument
from gradproofs.formats import FORMATS, format_named
from gradproofs.oracle import conventions

__all__ = [
    "Option", "flag", "REDUCTION", "WEIGHTS", "SAMPLES", "AXES", "RETURNS", "INPUTS", "PRECISION", "ARGUMENTS",
    "BIAS_LAYOUT", "BIASES", "H0", "NEAR_POWERS_OF_TWO", "sizes", "ordered_sizes", "DEPTHS", "BATCHES", "STEPS",
    "INPUT_UNITS", "HIDDEN_UNITS", "RUN", "prepared", "check_function", "table"
]


@dataclass(frozen=True)
class Option:
    """One keyword option of a ``check_*``: ``values`` where they are few (the option is one of
    them), else ``check(name, value)`` (the value as the oracle keeps it; None: any value, which
    the oracle checks with its other options) and ``domain``, the values in words."""

    name: str
    default: object
    about: str
    values: tuple | None = None
    check: Callable | None = None
    domain: str = ""

    def validated(self, value):
        """``value`` as the oracle keeps it; a bad one is an :class:`gradproofs.InvalidArgument` naming the option."""
        if self.values is not None:
            return _validate.choice(self.name, value, self.values)
        return value if self.check is None else self.check(self.name, value)

    def but(self, **changes) -> "Option":
        """The same option with another default, values or meaning (an oracle's own)."""
        return dataclasses.replace(self, **changes)

    def shown(self) -> str:
        """Its values in words, the default first."""
        if self.values is None:
            return f"`{self.default!r}`" + (f", {self.domain}" if self.domain else "")
        ordered = [self.default, *(value for value in self.values if value != self.default)]
        return ", ".join(f"`{value!r}`" for value in ordered)


def flag(name: str, default: bool, about: str) -> Option:
    """An option that is True or False."""
    return Option(name, default, about, check=_validate.flag, domain=f"`{not default!r}`")


def sizes(noun: str, largest: int, what: str, minimum: int = 1) -> tuple:
    """``min_<noun>`` and ``max_<noun>``: the range of a size an oracle draws (both equal: a fixed
    size), from ``minimum`` (the least it may be) to ``largest`` by default."""

    def check(name, value):
        return _validate.positive_int(name, value, minimum=minimum)

    domain = f"an integer ≥ {minimum}"
    return (Option(f"min_{noun}", minimum, f"the smallest {what} drawn",
                   check=check, domain=domain),
            Option(f"max_{noun}", largest, f"the largest {what} drawn (`min_{noun}` equal to it: a fixed size)",
                   check=check, domain=domain))


def ordered_sizes(values: dict) -> None:
    """An :class:`gradproofs.InvalidArgument` where a ``min_<noun>`` exceeds its ``max_<noun>``."""
    for name, low in values.items():
        high = values.get("max_" + name[4:]) if name.startswith("min_") else None
        if high is not None and low > high:
            raise InvalidArgument(f"{name}={low!r} must not exceed max_{name[4:]}={high!r}")


def _precision(name: str, value) -> str | None:
    return None if value is None else format_named(value, name).name


REDUCTION = Option("reduction", None, "the cost over the batch: None is `'mean'` (and nothing to reduce with "
                                      "`samples='single'`); " + "; ".join(
                                          f"`{name!r}`: fn {value.does}" for name, value in
                                          conventions.REDUCTIONS.items()),
                   values=(None, *conventions.REDUCTIONS))
WEIGHTS = Option("weights", "out_in", "; ".join(f"`{name!r}`: {value}" for name, value in
                                                conventions.WEIGHTS.items()), values=tuple(conventions.WEIGHTS))
SAMPLES = Option("samples", "rows", "; ".join(f"`{name!r}`: {value.takes}" for name, value in
                                              conventions.SAMPLES.items()) + " (each sample's gradient judged)",
                 values=tuple(conventions.SAMPLES))
AXES = Option("axes", "time batch feature", "the axes of a sequence; h0 takes the batch and feature axes in that "
                                            "order, and with the feature axis first a bias is a column (H, 1)",
              check=conventions.axes, domain="any order of the three")
RETURNS = Option("returns", None, "what fn returns: names in order (None for an item that is not a gradient, such "
                                  "as a loss), or a dict {gradproofs name: fn's key} (`'W{l}'` reads `W1`, `W2`, … "
                                  "for the layers); gradients fn does not return are not checked",
                 domain="names in order or a dict (None: the oracle's own)")
INPUTS = flag("inputs", False, "fn also returns the gradient with respect to the inputs, in x's layout")
PRECISION = Option("precision", None, "the rounding fn is judged with (None: its returned dtype's), whatever "
                                      "dtype it returns", check=_precision,
                   domain=", ".join(f"`{name!r}`" for name in FORMATS))
ARGUMENTS = Option("arguments", None, "the names of the arguments fn takes, in order (None: every array the "
                                      "model has, in the order of the oracle's signature); leaving out one the "
                                      "model has is an error naming the option that takes it out",
                   domain="names among the oracle's")
BIAS_LAYOUT = Option("bias_layout", None, "the shape fn holds biases in: None follows the samples' layout ((n, 1) "
                                          "where samples, or the feature axis, come as columns, else (n,)); "
                     + "; ".join(f"`{name!r}`: {text}" for name, text in conventions.BIAS_LAYOUTS.items()),
                     values=(None, *conventions.BIAS_LAYOUTS))
BIASES = flag("biases", True, "`False`: the model has no biases; fn takes none and returns none")
H0 = flag("h0", True, "`False`: fn starts from h_0 = 0 and takes no h0")
NEAR_POWERS_OF_TWO = flag("near_powers_of_two", False, "sizes of 2^k − 1, 2^k and 2^k + 1, where tiled kernels "
                                                       "have their boundaries")
DEPTHS = sizes("depth", 3, "number of layers")
BATCHES = sizes("batch", 3, "batch")
STEPS = sizes("steps", 6, "number of steps")
INPUT_UNITS = sizes("inputs", 4, "number of inputs")
HIDDEN_UNITS = sizes("hidden", 4, "number of hidden units")

# What every check_* takes besides its oracle's options: how it runs.
RUN = (Option("max_examples", None, "how many examples (None: the active Hypothesis profile's)",
              check=lambda name, value: None if value is None else _validate.positive_int(name, value),
              domain="an integer ≥ 1"),
       Option("reproduce", None, "replay the failure of a report's blob", check=lambda name, value: _blob(value),
              domain="a blob from a report"))


def _blob(value) -> bytes | None:
    """A Hypothesis reproduction blob, as printed in a report (str or bytes)."""
    if value is None:
        return None
    blob = value.encode() if isinstance(value, str) else value
    if not isinstance(blob, bytes) or not blob:
        raise InvalidArgument(f"reproduce must be the blob a report printed (a str), got {value!r}")
    return blob


def prepared(oracle: type, given: dict):
    """``oracle`` with the options ``given`` and the keyword arguments of its ``run``, each validated by its spec."""
    given = dict(given)
    run = {option.name: option.validated(given.pop(option.name, option.default)) for option in RUN}
    return oracle(**given), run


def check_function(oracle: type) -> Callable:
    """The ``check_*`` function of ``oracle``: ``check(fn, **options)`` runs it on fn, its signature and
    docstring listing the options of its spec."""

    def check(fn, **options):
        checker, run = prepared(oracle, options)
        return checker.run(fn, **run)

    specs = (*oracle.option_records, *RUN)
    check.__name__ = check.__qualname__ = oracle.function
    check.__module__ = oracle.__module__
    check.__signature__ = inspect.Signature(
        [inspect.Parameter("fn", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=option.default) for option in specs])
    options = "\n".join(f"- `{option.name}={option.default!r}`: {option.about} ({option.shown()})" for option in specs)
    options = re.sub(r"`([^`]*)`", r"``\1``", options)  # the README's Markdown as reStructuredText
    check.__doc__ = f"{inspect.cleandoc(oracle.__doc__)}\n\nOptions (keyword-only):\n\n{options}\n"
    return check


def table(oracles) -> str:
    """The README's table of options: one row per option name, with the oracles (by their command-line
    names) that take it, in the order they take it."""
    rows: dict = {}
    for oracle in oracles:
        for option in (*oracle.option_records, *RUN):
            rows.setdefault(option.name, []).append((oracle.name, option))
    lines = ["| option | values (default first) | oracles | meaning |", "|---|---|---|---|"]
    for name, takers in rows.items():
        lines.append(f"| `{name}` | {_per_oracle(takers, Option.shown)} | {', '.join(o for o, _ in takers)} | "
                     f"{_per_oracle(takers, lambda option: option.about)} |")
    return "\n".join(lines)


def _per_oracle(takers: list, text: Callable) -> str:
    """``text(option)``, once where every oracle's is the same, else each oracle's after its names."""
    texts: dict = {}
    for oracle, option in takers:
        texts.setdefault(text(option), []).append(oracle)
    if len(texts) == 1:
        return next(iter(texts))
    return "; ".join(f"{', '.join(names)}: {words}" for words, names in texts.items())
