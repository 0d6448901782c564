"""What every oracle shares: calling ``fn``, judging its result, running Hypothesis, reporting.

An oracle is a subclass of :class:`Oracle` that declares its strategy (what
Hypothesis draws), how one drawn example becomes calls of ``fn`` (the
arguments in the user's declared conventions, and what each call's result is
judged against), and the alternative conventions a hint may suggest. The
harness does the rest:

- ``fn`` gets copies; a crash, an argument modified in place (unless declared
  in place) or a result of the wrong structure is a mismatch of its own kind;
- each kind of mismatch (the weights' values, the biases' shape, a crash, …)
  is shrunk separately by Hypothesis, and the report gives each its own
  smallest counterexample, with the arrays in full where they are small, the
  Hypothesis reproduction blob, and a hint where the mismatch has a
  recognisable shape (the result of another declared convention);
- without ``max_examples`` the active Hypothesis settings profile decides the
  number of examples, so ``--hypothesis-profile``, ``--hypothesis-seed``,
  derandomisation and the example database work as in any Hypothesis test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gradproofs.compare import Agreement, judge
from gradproofs.errors import InvalidArgument, Mismatch
from gradproofs.formats import FORMATS, Format, coarsest, format_of

__all__ = [
    "MAX_SHOWN", "CONDITIONING_EPS", "Report", "qualified_name", "literal", "describe", "Failure", "fail",
    "judged", "Case", "copy", "same", "call", "cached_reference",
    "Unjudgeable", "judgeable", "conditioning_eps", "judging_precision", "callable_option", "ORACLES", "Oracle",
    "Choices", "precision_hints"
]

try:
    BaseExceptionGroup
except NameError:  # Python 3.10: Hypothesis's own dependency provides it
    from exceptiongroup import BaseExceptionGroup

MAX_SHOWN = 64  # arrays of up to this many entries are printed in full in a counterexample
CONDITIONING_EPS = FORMATS["float32"].eps  # drawn problems must be judgeable at float32's rounding


@dataclass(frozen=True)
class Report:
    """What a passing check established: over every example, the largest error as a fraction of
    its entry's scale, and the largest fraction of its tolerance an entry used (≤ 1)."""

    subject: str
    examples: int
    worst_error: float
    worst_used: float

    def __str__(self) -> str:
        return (f"{self.subject}: agreed with the reference on {self.examples} examples; worst error "
                f"{self.worst_error:.3g} of the scale (at most {self.worst_used:.3g} of the tolerance used)")


# --- describing values and callables ------------------------------------------------------

def qualified_name(fn) -> str:
    """``fn``'s qualified name (without ``<locals>``) and where it is defined: ``my_backprop (nets.py:12)``."""
    import functools

    if isinstance(fn, functools.partial):
        return f"partial({qualified_name(fn.func)})"
    name = _name(fn)
    unwrapped = inspect.unwrap(fn)  # a wrapper's place is its wrapped fn's
    target = getattr(unwrapped, "__func__", unwrapped)
    code = getattr(target, "__code__", None)
    if code is None:
        return name
    try:
        path = inspect.getsourcefile(target) or code.co_filename
    except TypeError:
        path = code.co_filename
    return f"{name} ({path.rsplit('/', 1)[-1]}:{code.co_firstlineno})"


def _name(fn) -> str:
    """``fn``'s qualified name, without ``<locals>``."""
    return (getattr(fn, "__qualname__", None) or type(fn).__qualname__).replace("<locals>.", "")


def literal(value) -> str:
    """``value`` as Python source that rebuilds it: ``np.array([[0.5, -1.0]])``, plain numbers.

    Arrays of more than :data:`MAX_SHOWN` entries are summarised (shape, dtype
    and range): the reproduction blob rebuilds those.
    """
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if hasattr(value, "detach") and str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
        shown = literal(value.detach().cpu().double().numpy())
        if shown.startswith("np.array("):
            return f"torch.tensor({shown.removeprefix('np.array(').removesuffix(')')}, dtype=torch.bfloat16)"
        return shown.replace("<an array", "<a tensor").replace("entries", "torch.bfloat16, entries")
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key!r}: {literal(v)}" for key, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)) and not isinstance(value, np.ndarray):
        if isinstance(value, np.floating) and value.dtype != np.float64:
            return f"np.{value.dtype.name}({_source(float(value))})"
        return _source(float(value))
    array = np.asarray(value)
    dtype = "" if array.dtype in (np.float64, np.int64) else f", dtype=np.{array.dtype.name}"
    if array.size > MAX_SHOWN:
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array.ravel()
        span = f"entries from {finite.min()!r} to {finite.max()!r}" if finite.size else "no finite entry"
        return f"<an array of shape {array.shape}{dtype.replace(', dtype=', ', ')}, {span}>"
    return f"np.array({_source(array.tolist())}{dtype})"


def _source(value) -> str:
    """A nested list of numbers as Python source, ∞ and NaN as np.inf and np.nan."""
    if isinstance(value, list):
        return "[" + ", ".join(_source(v) for v in value) + "]"
    if isinstance(value, float) and not np.isfinite(value):
        return "np.nan" if np.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    return repr(value)


def describe(value) -> str:
    """A short description of a result, never its contents."""
    if isinstance(value, np.ndarray) or hasattr(value, "detach"):
        return f"an array of shape {tuple(value.shape)}"
    if hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


# --- mismatches of a kind ----------------------------------------------------------------

class Failure(Mismatch):
    """One kind of mismatch on one example: ``kind`` names it ("dW values", "crash", …),
    ``case`` is the :class:`Case` (the call's arguments), ``detail`` what differed."""

    kind = "mismatch"
    case = None
    detail = ""


@lru_cache(maxsize=None)
def _kind(kind: str) -> type:
    """One class per kind, so that Hypothesis shrinks each kind on its own (it tells
    failures apart by their exception type)."""
    return type(f"Mismatch[{kind}]", (Failure,), {"kind": kind, "__module__": __name__})


def fail(kind: str, detail: str):
    """Raise a mismatch of ``kind`` (the case is attached by :func:`about`)."""
    raise _kind(kind)(detail)


def judged(case: "Case", judgement, kinds: Mapping | None = None):
    """``judgement()``, with ``case`` attached to a mismatch it raises.

    A judge's Mismatch carries the ``label`` of its array and its ``kind``
    ("shape", "values"); it becomes a mismatch of the kind "field kind", the
    field from ``kinds`` ({label: field}) or the label without its indices.
    """
    try:
        return judgement()
    except Failure as failure:
        if failure.case is None:
            failure.case = case
        raise
    except Mismatch as mismatch:
        label = getattr(mismatch, "label", "result")
        field = (kinds or {}).get(label) or re.sub(r"\[\d+\]", "", label)
        failure = _kind(f"{field} {getattr(mismatch, 'kind', 'values')}")(str(mismatch))
        failure.case = case
    raise failure  # outside the except clause, without a context: its kind alone tells Hypothesis which it is


@dataclass
class Case:
    """One call of fn: its arguments as passed (in the user's conventions), its sizes in words, and
    the arrays the model was declared without ({name: the declaration}), which the reference takes as 0."""

    arguments: dict
    sizes: str
    absent: dict = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"  {self.sizes}:"] if self.sizes else []
        lines += [f"    {name} = {literal(value)}" for name, value in self.arguments.items()]
        if self.absent:
            lines.append("    # and, declared absent, 0 in the reference: "
                         + ", ".join(f"{name} ({declaration})" for name, declaration in self.absent.items()))
        return "\n".join(lines)


# --- calling fn ----------------------------------------------------------------------------

def copy(value):
    """A deep copy of arrays, tensors, lists, tuples and dicts of them; numbers as they are."""
    if isinstance(value, list):
        return [copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(copy(v) for v in value)
    if isinstance(value, dict):
        return {key: copy(v) for key, v in value.items()}
    if hasattr(value, "detach") and hasattr(value, "clone"):
        return value.detach().clone()
    return value.copy() if isinstance(value, np.ndarray) else value


def same(original, passed) -> bool:
    """Whether ``passed`` still holds ``original``, to the bit (NaN and −0.0 included)."""
    if isinstance(original, (list, tuple)):
        return (type(passed) is type(original) and len(passed) == len(original)
                and all(same(o, p) for o, p in zip(original, passed)))
    if isinstance(original, dict):
        return isinstance(passed, dict) and passed.keys() == original.keys() and all(
            same(original[k], passed[k]) for k in original)
    if original is None:
        return passed is None
    if hasattr(original, "detach"):  # a tensor, of any dtype (bfloat16 has no NumPy form): its bytes
        import torch

        def raw(tensor):
            return tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
        return (hasattr(passed, "detach") and passed.dtype == original.dtype and passed.shape == original.shape
                and bool(raw(passed).equal(raw(original))))
    if isinstance(original, np.ndarray):
        return (isinstance(passed, np.ndarray) and passed.dtype == original.dtype
                and passed.shape == original.shape and passed.tobytes() == original.tobytes())
    return np.array_equal(original, passed)


def call(fn, case: Case, *, in_place=(), raises: bool = False):
    """``fn(*copies of the case's arguments)`` → (result, the copies after the call).

    A crash (unless ``raises``) and an argument modified in place (other than
    those named in ``in_place``) are mismatches; ``raises=True``: fn must
    raise (any exception but a Mismatch) and still leave its arguments as they
    were. A Mismatch raised inside fn (by a wrapper) is passed on as one.
    """
    passed = {name: copy(value) for name, value in case.arguments.items()}
    raised = None
    try:
        result = fn(*passed.values())
    except Mismatch as failure:  # found inside fn, by a wrapper
        fail("mismatch inside fn", str(failure))
    except Exception as error:  # noqa: BLE001 - any crash is a finding
        if not raises:
            fail(f"crash ({type(error).__name__})", f"fn raised {error!r}{_where(error, fn)}")
        raised = result = error
    modified = [name for name in case.arguments if name not in in_place
                and not same(case.arguments[name], passed[name])]
    if modified:
        after = f" (and then raised {raised!r})" if raised is not None else ""
        fail("in-place", f"fn modified its arguments in place: {', '.join(modified)}{after}")
    if raises and raised is None:
        fail("no error", "fn returned instead of raising")
    return result, passed


def _where(error: BaseException, fn) -> str:
    """`` at file.py:12``: the innermost line of fn's own file that the error passed through (fn's
    or a helper's beside it), else the innermost line outside gradproofs; "" where there is none."""
    import functools
    import os

    import gradproofs

    frames = inspect.getinnerframes(error.__traceback__, context=0) if error.__traceback__ else []
    target = inspect.unwrap(fn)
    while isinstance(target, functools.partial):
        target = inspect.unwrap(target.func)
    code = getattr(getattr(target, "__func__", target), "__code__", None)
    own = os.path.dirname(gradproofs.__file__) + os.sep
    outside = [frame for frame in frames if not frame.filename.startswith(own)]
    mine = [frame for frame in outside if code is not None and frame.filename == code.co_filename]
    frame = (mine or outside or [None])[-1]
    return "" if frame is None else f" at {os.path.basename(frame.filename)}:{frame.lineno}"


# --- references ------------------------------------------------------------------------------

_REFERENCES: dict = {}  # (id(example), key) -> (example, reference); the example is kept so its id stays its own


def cached_reference(example, key, build):
    """``build()``, once per example and key: the hints judge one example under many conventions,
    and the exact gradients do not depend on the layout."""
    entry = _REFERENCES.get((id(example), key))
    if entry is not None and entry[0] is example:
        return entry[1]
    reference = build()
    if len(_REFERENCES) >= 16:
        _REFERENCES.pop(next(iter(_REFERENCES)))
    _REFERENCES[(id(example), key)] = (example, reference)
    return reference


class Unjudgeable(Exception):
    """A problem the rounding bound cannot judge, met outside Hypothesis (while looking for hints)."""


def judgeable(condition: bool) -> None:
    """``hypothesis.assume(condition)`` inside a test; outside one (hints), :class:`Unjudgeable`."""
    import hypothesis

    if hypothesis.currently_in_test_context():
        hypothesis.assume(condition)
    elif not condition:
        raise Unjudgeable


def conditioning_eps(declared: str | None) -> float:
    """The machine epsilon a drawn problem must be judgeable at: float32's, or a coarser declared precision's."""
    return max(CONDITIONING_EPS, FORMATS[declared].eps if declared else 0.0)


def judging_precision(declared: str | None, got: Mapping, reference) -> Format:
    """The format ``fn``'s results ``got`` ({label: array}) are judged in: the declared
    ``precision``, else the coarsest format its arrays are stored in. An array of
    integers (or another dtype that is no floating format) is a mismatch of its own
    kind; a problem too ill-conditioned for the format's rounding is not judged."""
    if declared:
        precision = FORMATS[declared]
    else:
        formats = []
        for label, value in got.items():
            try:
                formats.append(format_of(value, f"fn's {label}"))
            except TypeError as error:
                fail(re.sub(r"\[\d+\]", "", label) + " dtype", str(error))
        precision = coarsest(formats)
    judgeable(precision.eps <= CONDITIONING_EPS or reference.well_conditioned(precision.eps))
    return precision


def callable_option(fn) -> None:
    if not callable(fn):
        raise InvalidArgument(f"fn must be callable, got {type(fn).__name__}")


def _takes(fn, arguments: tuple, function: str) -> None:
    """A TypeError unless fn can be called with ``arguments`` (their names, passed by position), as
    ``function`` will call it; fn without a signature to inspect (some builtins) is not checked."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*arguments)
    except TypeError as error:
        parameters = signature.parameters.values()
        positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        spread = any(p.kind == p.VAR_POSITIONAL for p in parameters)
        why = f"takes {len(positional)}" if len(positional) < len(arguments) and not spread else f"cannot: {error}"
        raise InvalidArgument(f"fn must take {len(arguments)} arguments ({', '.join(arguments)}), as {function} passes "
                        f"them; {_name(fn)}{signature} {why}") from None


# --- the oracle ------------------------------------------------------------------------------

ORACLES: dict = {}  # name -> Oracle subclass: every oracle, as the command line finds them


class Oracle:
    """One network kind's check. Subclasses set ``name`` (the command line's ``--oracle``),
    ``function`` (``check_mlp``, …), ``signature`` (what fn takes and returns), their
    docstring (the check's), ``option_records`` (their :class:`gradproofs.oracle.options.Option`
    records, in the order the check takes them: each is validated by its record and kept
    as an attribute of its name), :meth:`settle` (what depends on several options, and
    ``arguments``), :meth:`strategy`, :meth:`check` and :meth:`alternatives`. A subclass
    with a ``name`` is entered in :data:`ORACLES` when it is defined."""

    name = ""
    function = ""
    signature = ""
    option_records: tuple = ()
    arguments: tuple  # the names of the arguments fn is passed, in order: set by settle
    families: tuple = ()  # groups of fields whose mismatches are one kind (the weights, …)
    # Sizes that all differ ({option: value}), of the probe a hint must pass as well (:meth:`probe`).
    probe_sizes: dict = {}
    # The arrays a flag option takes out of the model: {argument: "flag=False"} (:attr:`absent`).
    declarations: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            ORACLES[cls.name] = cls

    def __init__(self, **options):
        from gradproofs.oracle.options import RUN, ordered_sizes

        names = [option.name for option in self.option_records]
        unknown = [name for name in options if name not in names]
        if unknown:
            raise InvalidArgument(f"{self.function} has no option {unknown[0]!r}; its options: "
                                  f"{', '.join(names + [option.name for option in RUN])}")
        self.given = {option.name: options.get(option.name, option.default) for option in self.option_records}
        validated = {option.name: option.validated(self.given[option.name]) for option in self.option_records}
        ordered_sizes(validated)
        for name, value in validated.items():
            setattr(self, name, value)
        self.settle()

    def settle(self) -> None:
        """Check what depends on several options (an error names them) and set ``arguments``."""
        raise NotImplementedError

    @property
    def options(self) -> dict:
        """The options that differ from their defaults."""
        return {option.name: self.given[option.name] for option in self.option_records
                if not _equal(self.given[option.name], option.default)}

    @property
    def absent(self) -> dict:
        """The arrays the options take out of the model, {argument: its declaration}: fn takes none of
        them, and the reference takes them as 0."""
        return {name: declaration for name, declaration in self.declarations.items()
                if not getattr(self, declaration.split("=")[0])}

    def sizes(self, *nouns: str) -> dict:
        """The ``min_*`` and ``max_*`` options (of ``nouns`` only, where named), as strategies take them."""
        return {option.name: getattr(self, option.name) for option in self.option_records
                if option.name.startswith(("min_", "max_")) and (not nouns or option.name[4:] in nouns)}

    def but(self, **changes) -> "Oracle":
        """The same oracle with some options changed."""
        return type(self)(**{**self.given, **changes})

    def strategy(self):
        """The Hypothesis strategy of examples."""
        raise NotImplementedError

    def check(self, fn, example) -> Agreement:
        """Judge fn on one example: its :class:`gradproofs.compare.Agreement`; raise a mismatch
        (:func:`fail`) on disagreement, ``assume`` away what cannot be judged."""
        raise NotImplementedError

    def verdict(self, fn, case: Case, judgement, *, in_place=(), kinds: Mapping | None = None) -> Agreement:
        """Call fn on the case's arguments and judge what it returns: ``judgement(result, the
        arguments after the call)``, with the case attached to a mismatch (:func:`judged`)."""
        return judged(case, lambda: judgement(*call(fn, case, in_place=in_place)), kinds)

    def gradients(self, fn, case: Case, reference, expectations, layers: int | None = None) -> Agreement:
        """Judge the gradients fn returns (``self.returns``) against ``expectations(eps)``, the
        reference's {field: Expected} in the user's layout, in the format fn is judged in."""

        def judgement(result, _):
            got = self.returns.read(result, layers)
            precision = judging_precision(self.precision, got, reference)
            expected = self.returns.expected(expectations(precision.eps), layers)
            return judge("fn", got, expected, precision=precision, reason=reference.reason(True))

        return self.verdict(fn, case, judgement, kinds=self.returns.kinds(layers, self.families))

    def alternatives(self) -> list:
        """[[(hint, oracle), …] or :class:`Choices`, …]: groups of other conventions. Where fn
        passes one on a failing example, the report gives its hint (the first that passes in
        each group; every one that passes for Choices)."""
        return []

    def alternatives_for(self, fn) -> list:
        """:meth:`alternatives` that can describe ``fn`` (all of them, unless an oracle knows better)."""
        return self.alternatives()

    def subject(self, fn) -> str:
        options = "".join(f", {key}={value!r}" for key, value in self.options.items())
        return f"{self.function}({qualified_name(fn)}{options})"

    # --- running ---

    def run(self, fn, *, max_examples: int | None = None, reproduce: bytes | None = None,
            replay: str = "add reproduce={blob!r} to the {function} call") -> Report:
        """Check fn on Hypothesis's examples; return a Report, or raise one Mismatch naming
        every kind of disagreement found, each with its smallest counterexample and how to
        replay it (``replay``, with the blob and the check's function name filled in). A fn
        that cannot take the arguments is a TypeError before any example."""
        import hypothesis
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis.errors import FlakyFailure

        callable_option(fn)
        _takes(fn, self.arguments, self.function)
        tally = _Tally()
        subject = self.subject(fn)

        def test(example):
            try:
                tally.add(self.check(fn, example))
            except Failure as failure:
                failure.example = example
                raise

        profile = settings.default
        # Quiet: Hypothesis prints nothing of its own (a replayed example's repr); the report says it all.
        overrides = dict(deadline=None, print_blob=True, report_multiple_bugs=True, verbosity=Verbosity.quiet,
                         phases=[phase for phase in profile.phases if phase != Phase.explain],
                         suppress_health_check=[*profile.suppress_health_check, HealthCheck.too_slow,
                                                HealthCheck.filter_too_much, HealthCheck.data_too_large])
        if max_examples is not None:
            overrides["max_examples"] = max_examples
        wrapped = settings(profile, **overrides)(given(self.strategy())(test))
        key = f"gradproofs.oracle {subject}".encode()
        wrapped._hypothesis_internal_database_key = hashlib.sha384(key).digest()  # one entry per fn and options
        if reproduce is not None:
            wrapped = hypothesis.reproduce_failure(hypothesis.__version__, reproduce)(wrapped)
        try:
            wrapped()
        except Failure as failure:
            raise Mismatch(self._report(fn, subject, [failure], reproduce, replay)) from None
        except BaseExceptionGroup as group:
            failures = [_unflaky(e) for e in (group.exceptions if not isinstance(group, FlakyFailure) else [group])]
            if not all(isinstance(failure, Failure) for failure in failures):
                raise
            raise Mismatch(self._report(fn, subject, failures, reproduce, replay)) from None
        return Report(subject, tally.examples, tally.error, tally.used)

    def _report(self, fn, subject: str, failures: list, reproduce: bytes | None, replay: str) -> str:
        """The report of ``failures``; a replayed one (``reproduce``) keeps the blob it was replayed from."""
        import hypothesis

        parts = [f"{subject} disagrees with the reference"
                 + (f": {len(failures)} kinds of mismatch." if len(failures) > 1 else ".")]
        probes = self.probe() if any(getattr(failure, "example", None) is not None for failure in failures) else []
        for number, failure in enumerate(failures, 1):
            heading = f"Mismatch {number} of {len(failures)}: {failure.kind}." if len(failures) > 1 else \
                f"Mismatch: {failure.kind}."
            lines = [f"\n{heading} Smallest counterexample found:"]
            case = getattr(failure, "case", None)
            if case is not None:
                lines.append(str(case))
            lines.append("  " + str(failure).replace("\n", "\n  "))
            example = getattr(failure, "example", None)
            hints = self._hints(fn, example, probes) if example is not None else []
            lines += [f"  Hint: {hint}" for hint in hints]
            blob = _blob(failure) or (reproduce or b"").decode()
            if blob:
                lines.append(f"  Reproduce: {replay.format(blob=blob, function=self.function)} "
                             f"(Hypothesis {hypothesis.__version__}).")
            parts.append("\n".join(lines))
        return "\n".join(parts)

    def _hints(self, fn, example, probes: list) -> list:
        """The alternatives under which fn passes this example, and every one of ``probes`` it can be
        judged on."""
        def passes(alternative) -> bool:
            return _passes(alternative, fn, example) and all(_passes(alternative, fn, probe, unjudgeable=True)
                                                             for probe in probes)

        hints = []
        for group in self.alternatives_for(fn):
            if isinstance(group, Choices):
                passing = [label for label, alternative in group.items if passes(alternative)]
                if passing:
                    hints.append(group.hint.format(" or ".join(passing)))
                continue
            hints.extend([hint for hint, alternative in group if passes(alternative)][:1])
        return hints

    def probe(self) -> list:
        """[an example of :attr:`probe_sizes`, none of its arrays all zero but those declared absent],
        or [] without such sizes or where none is found.

        A counterexample shrinks to sizes of 1, where a row, a column and a flat
        vector, or two orders of axes, hold the same numbers: a hint that passes
        there must pass on this probe as well, whose sizes tell them apart. Drawn
        by Hypothesis from the oracle's own strategy, the same one every time.
        """
        from hypothesis import Phase, find, settings
        from hypothesis.errors import NoSuchExample

        if not self.probe_sizes:
            return []
        drawn = {option.name: option.default for option in self.option_records if option.name in self.probe_sizes
                 or option.name.startswith(("min_", "max_"))}
        oracle = type(self)(**{**self.given, **drawn, **self.probe_sizes})
        absent = len(self.absent)
        try:
            return [find(oracle.strategy(), lambda example: _zero_items(example) <= absent, settings=settings(
                database=None, derandomize=True, max_examples=1000, phases=[Phase.generate]))]
        except NoSuchExample:  # the hints are then judged on the counterexample alone
            return []


@dataclass(frozen=True)
class Choices:
    """A group of alternatives of which every one that passes is named: ``hint`` with "{}"
    for their labels ("convention='keras' or convention='d2l'")."""

    hint: str
    items: list


def _passes(oracle: Oracle, fn, example, *, unjudgeable: bool = False) -> bool:
    """Whether fn passes ``oracle`` on ``example``; where the example cannot be judged, ``unjudgeable``."""
    try:
        oracle.check(fn, example)
    except Unjudgeable:
        return unjudgeable
    except Mismatch:
        return False
    except Exception:  # noqa: BLE001 - an alternative that cannot even run gives no hint
        return False
    return True


def _zero_items(example: tuple) -> int:
    """How many items of ``example`` (a tuple of arrays or lists of arrays) are floating and all zero."""
    def floats(item) -> list:
        if isinstance(item, (tuple, list)):
            return [array for part in item for array in floats(part)]
        return [item] if isinstance(item, np.ndarray) and item.dtype.kind == "f" else []

    return sum(1 for item in example if floats(item) and not any(array.any() for array in floats(item)))


def _equal(a, b) -> bool:
    try:
        return bool(a == b) if type(a) is type(b) else False
    except Exception:  # noqa: BLE001 - arrays and the like: shown
        return False


def precision_hints(oracle) -> list:
    """float32 where float64 is judged: code that computes in float32 and returns float64.

    Coarser precisions are not suggested: their tolerances are wide enough to
    pass many a wrong gradient on the small problems counterexamples shrink to.
    """
    if oracle.precision not in (None, "float64"):
        return []
    return [("fn's results agree with the reference within float32's rounding: if fn computes in float32, "
             "declare precision='float32'", oracle.but(precision="float32"))]


def _unflaky(error: BaseException) -> BaseException:
    """A failure Hypothesis could not reproduce by calling fn again on the same example, as a
    mismatch of its own kind: fn's results are not a function of its arguments."""
    from hypothesis.errors import FlakyFailure

    if not isinstance(error, FlakyFailure):
        return error
    first = next((e for e in error.exceptions if isinstance(e, Failure)), None)
    if first is None:
        return error
    failure = _kind("nondeterministic")(
        "fn disagreed with the reference on this example once, then agreed when called again with the same "
        "arguments: its results are not a function of its arguments (it may iterate over a set of objects, "
        f"keep state between calls, or race). The first call's mismatch: {first}")
    failure.case, failure.example = first.case, getattr(first, "example", None)
    return failure


def _blob(failure: BaseException) -> str:
    """The reproduction blob Hypothesis attached to the failure's notes, if any."""
    for note in getattr(failure, "__notes__", []):
        found = re.search(r"@reproduce_failure\('[^']*', b'([^']*)'\)", note)
        if found:
            return found.group(1)
    return ""


class _Tally:
    """Examples that agreed, the largest error among them and the largest fraction of a tolerance used."""

    def __init__(self):
        self.examples, self.error, self.used = 0, 0.0, 0.0

    def add(self, agreement: Agreement) -> None:
        """Count one example's :class:`Agreement`."""
        self.examples += 1
        self.error = max(self.error, agreement.error)
        self.used = max(self.used, agreement.used)
