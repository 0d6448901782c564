"""Check someone else's gradient code against the reference, from their own tests.

>>> from gradproofs.oracle import check_chain, check_mlp
>>> report = check_chain(my_backward)          # raises gradproofs.Mismatch on a bug
>>> print(report)
>>> check_mlp(my_dense_backward, cost="softmax_cross_entropy")
>>> check_rnn_bptt(my_bptt, activation="tanh")
>>> check_clip_grad_norm(my_clip, convention="optax")
>>> check_clip_grad_norm(torch_in_place(torch.nn.utils.clip_grad_norm_))

Each runner draws inputs with Hypothesis, compares the implementation with the
exact (40-digit) gradients (the chain's product form, the dense network's
backward recurrence, the RNN's backpropagation through time) or with a framework's clipping convention
(:mod:`gradproofs.clipping`) under a derived rounding tolerance, and on failure
raises :class:`gradproofs.Mismatch` naming the *smallest* counterexample
Hypothesis could shrink to, both values and the worst error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gradproofs import _validate, activations, chain, costs, mlp
from gradproofs.compare import unit_roundoff
from gradproofs.errors import Mismatch
from gradproofs.compare import _describe


@dataclass(frozen=True)
class Report:
    """What a passing check established."""

    subject: str
    examples: int
    worst_error: float

    def __str__(self) -> str:
        return (f"{self.subject}: agreed with the reference on {self.examples} examples; "
                f"worst error {self.worst_error:.3g} of the scale (within tolerance)")


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _run(test, subject: str, max_examples: int):
    """Run a Hypothesis test with the oracle's settings; re-raise its minimal Mismatch."""
    from hypothesis import HealthCheck, Phase, settings

    # No explain phase: the Mismatch says what differs, and explaining costs more than shrinking.
    configured = settings(max_examples=max_examples, deadline=None, database=None,
                          report_multiple_bugs=False, print_blob=False,
                          phases=[phase for phase in Phase if phase != Phase.explain],
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])(test)
    try:
        configured()
    except Mismatch as failure:
        raise Mismatch(f"{subject} disagrees with the reference. Smallest counterexample found:\n"
                       f"{failure}") from None


def _check_arguments(fn, activation: str, cost: str, cost_names, **counts) -> dict:
    """Validate what every runner takes; returns the counts (max_examples, …) as ints."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    activations.get(activation)
    _validate.choice("cost", cost, cost_names)
    if cost in costs.NAMES:
        costs.get(cost, activation=activation)
    return {name: _validate.positive_int(name, value) for name, value in counts.items()}


def _same(original, passed) -> bool:
    """Whether ``passed`` still holds ``original``, to the bit (NaN and −0.0 included)."""
    if isinstance(original, list):
        return isinstance(passed, list) and len(passed) == len(original) and all(
            _same(o, p) for o, p in zip(original, passed))
    if original is None:
        return passed is None
    if isinstance(original, np.ndarray):
        return (isinstance(passed, np.ndarray) and passed.dtype == original.dtype
                and passed.shape == original.shape and passed.tobytes() == original.tobytes())
    return np.array_equal(original, passed)


def _copy(value):
    """A copy of an array or a list of arrays; numbers are immutable and passed as they are."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value.copy() if isinstance(value, np.ndarray) else value


def _judge(fn, arguments: dict, where: str, assert_matches, fields) -> float:
    """Call ``fn`` on copies of ``arguments`` and compare its pair with ``assert_matches``.

    A crash, an argument modified in place, a result that is not a pair or one
    the comparison refuses is a Mismatch naming ``where``. An unknown
    implementation may form f′ from the output, as autograd does: the tolerance
    allows for it. Returns the worst error as a fraction of the scale.
    """
    first, second = _pair(_call(fn, arguments, where), where, "gradients of the weights, of the biases")
    try:
        return assert_matches("fn", dict(zip(fields, (first, second))), eps=_eps(first, second),
                              derivative_from_output=True, fields=fields)
    except (Mismatch, ValueError, TypeError) as failure:
        raise Mismatch(f"  {where}\n  {failure}") from None


def _pair(result, where: str, what: str) -> tuple:
    """fn's result as the pair it must be, else a Mismatch saying what the pair holds."""
    try:
        first, second = result
    except (TypeError, ValueError):
        raise Mismatch(f"  {where}\n  fn must return a pair ({what}), got {_describe(result)}") from None
    return first, second


def _call(fn, arguments: dict, where: str, *, raises: bool = False):
    """``fn(*copies of arguments)``; a crash or an argument modified in place is a Mismatch.

    ``raises=True``: fn must raise (any exception but a Mismatch), and still
    leave its arguments as they were.
    """
    passed = {name: _copy(value) for name, value in arguments.items()}
    raised = None
    try:
        result = fn(*passed.values())
    except Mismatch as failure:  # found inside fn, by an adapter
        raise Mismatch(f"  {where}\n  {failure}") from None
    except Exception as error:  # noqa: BLE001 - any crash is a finding
        if not raises:
            raise Mismatch(f"  {where}\n  fn raised {error!r}") from error
        raised = result = error
    modified = [name for name in arguments if not _same(arguments[name], passed[name])]
    if modified:
        after = f" (and then raised {raised!r})" if raised is not None else ""
        raise Mismatch(f"  {where}\n  fn modified its arguments in place: {', '.join(modified)}{after}")
    if raises and raised is None:
        raise Mismatch(f"  {where}\n  fn returned instead of raising")
    return result


def _eps(*results) -> float:
    """The unit roundoff of the coarsest floating dtype among the returned arrays."""
    flat = [v for r in results for v in (r if isinstance(r, (list, tuple)) else [r])]
    return max(unit_roundoff(v) for v in flat) if flat else unit_roundoff(None)


class _Tally:
    """Examples that agreed, and the worst error among them."""

    def __init__(self):
        self.examples, self.worst = 0, 0.0

    def add(self, worst: float) -> None:
        self.examples += 1
        self.worst = max(self.worst, worst)

    def report(self, subject: str) -> Report:
        return Report(subject, self.examples, self.worst)


_FLOAT32_EPS = float(np.finfo(np.float32).eps)  # draws must be judgeable at float32's rounding


def check_chain(fn, *, activation: str = "sigmoid", cost: str = "quadratic",
                max_examples: int = 100, max_depth: int = 16) -> Report:
    """Test ``fn(w, b, x, y) -> (dw, db)`` for a chain of one neuron per layer.

    ``w`` and ``b`` are float64 arrays of the depth's length, ``x`` and ``y``
    floats; ``dw`` and ``db`` may be any array-likes (float32 results are judged
    with float32's rounding). Raises :class:`gradproofs.Mismatch` on the smallest
    counterexample; returns a :class:`Report` when every example agrees.
    """
    from hypothesis import assume, given

    from gradproofs import strategies

    counts = _check_arguments(fn, activation, cost, costs.NAMES,
                              max_examples=max_examples, max_depth=max_depth)
    tally = _Tally()

    @given(strategies.chains(max_depth=counts["max_depth"], activation=activation, cost=cost))
    def test(example):
        reference = chain.reference(*example, activation=activation, cost=cost)
        assume(reference.well_conditioned(_FLOAT32_EPS))
        where = f"w = {example.w.tolist()}, b = {example.b.tolist()}, x = {example.x!r}, y = {example.y!r}"
        arguments = {"w": example.w, "b": example.b, "x": example.x, "y": example.y}
        tally.add(_judge(fn, arguments, where, reference.assert_matches, ("dw", "db")))

    _run(test, f"check_chain({_name(fn)}, activation={activation!r}, cost={cost!r})", counts["max_examples"])
    return tally.report(f"check_chain({_name(fn)})")


def check_mlp(fn, *, activation: str = "sigmoid", cost: str = "quadratic", max_examples: int = 100,
              max_depth: int = 3, max_width: int = 5, max_batch: int = 4) -> Report:
    """Test ``fn(weights, biases, x, y) -> (dW, db)`` for a dense network.

    ``weights[l]`` is a float64 array of shape (n_(l+1), n_l), ``biases[l]`` of
    shape (n_(l+1),), ``x`` (B, n_0) holds one sample per row and ``y`` (B, n_L)
    its targets; ``dW`` and ``db`` hold one array per layer of the parameter's
    shape: the gradient of the cost's mean over the batch (:mod:`gradproofs.mlp`
    states the network and the costs). Networks have 1 to ``max_depth`` layers
    of 1 to ``max_width`` neurons, batches 1 to ``max_batch`` samples; targets
    are rows summing to 1 for the ``softmax_cross_entropy`` cost and lie in
    [0, 1] otherwise. float32 results are judged with float32's rounding.
    Raises :class:`gradproofs.Mismatch` on the smallest counterexample; returns
    a :class:`Report` when every example agrees.
    """
    from hypothesis import assume, given

    from gradproofs import strategies

    counts = _check_arguments(fn, activation, cost, mlp.COSTS, max_examples=max_examples,
                              max_depth=max_depth, max_width=max_width, max_batch=max_batch)
    targets = "probabilities" if cost == "softmax_cross_entropy" else "unit"
    # One batch strategy per shape: building one inspects its source, which costs more than a draw.
    batches = lru_cache(maxsize=None)(lambda n_in, n_out: strategies.batches(
        n_in, n_out, max_batch=counts["max_batch"], targets=targets))

    def with_batch(network):
        return batches(network.weights[0].shape[1], network.weights[-1].shape[0]).map(
            lambda batch: (network.weights, network.biases, *batch))

    examples = strategies.networks(max_depth=counts["max_depth"], max_width=counts["max_width"]).flatmap(
        with_batch)
    tally = _Tally()

    @given(examples)
    def test(example):
        reference = mlp.reference(*example, activation=activation, cost=cost)
        assume(reference.well_conditioned(_FLOAT32_EPS))
        weights, biases, x, y = example
        widths = [weights[0].shape[1], *(W_l.shape[0] for W_l in weights)]
        where = (f"widths {widths}: weights of shapes {', '.join(str(W_l.shape) for W_l in weights)}, "
                 f"a batch of {x.shape[0]}: x {x.shape}, y {y.shape}")
        arguments = {"weights": weights, "biases": biases, "x": x, "y": y}
        tally.add(_judge(fn, arguments, where, reference.assert_matches, ("dW", "db")))

    _run(test, f"check_mlp({_name(fn)}, activation={activation!r}, cost={cost!r})", counts["max_examples"])
    return tally.report(f"check_mlp({_name(fn)})")


# --- clipping ------------------------------------------------------------------------

def torch_in_place(fn, *, device: str = "cpu", **options):
    """Wrap a torch-style in-place function on parameters as a function of NumPy gradients.

    ``fn(parameters, *args, **options)`` changes each parameter's ``.grad`` in
    place, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_`` do.
    The wrapper takes ``(grads, *args)``: NumPy arrays, None for a parameter
    without a gradient. It builds one parameter per entry on ``device``, gives
    it a copy of its gradient, calls ``fn`` and returns the gradients afterwards
    as NumPy arrays (None kept): alone when ``fn`` returns None, else paired
    with what it returned (a tensor becomes a NumPy scalar or array). When
    ``fn`` raises, the wrapper first checks that every gradient is still as it
    was (a :class:`Mismatch` if not), then re-raises.

    >>> check_clip_grad_norm(torch_in_place(torch.nn.utils.clip_grad_norm_, foreach=False))
    """
    from gradproofs import devices

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    device = devices.resolve(device)

    def in_place(grads, *args):
        torch = devices.torch()
        parameters = []
        for g in grads:
            if g is None:
                parameters.append(torch.nn.Parameter(torch.zeros(1, device=device)))
                continue
            g = np.asarray(g)
            parameter = torch.nn.Parameter(torch.zeros(g.shape, dtype=getattr(torch, g.dtype.name),
                                                       device=device))
            parameter.grad = torch.from_numpy(g.copy()).to(device)
            parameters.append(parameter)

        def gradients():
            return [None if p.grad is None else p.grad.detach().cpu().numpy() for p in parameters]

        try:
            returned = fn(parameters, *args, **options)
        except Exception:
            if not _same(list(grads), gradients()):
                raise Mismatch(f"{_name(fn)} raised after modifying the gradients in place") from None
            raise
        if returned is None:
            return gradients()
        if hasattr(returned, "detach"):
            returned = returned.detach().cpu().numpy()[()]
        return gradients(), returned

    in_place.__qualname__ = f"torch_in_place({_name(fn)})"
    return in_place


def _describe_gradients(grads) -> str:
    """The arrays of a (small) counterexample, each with its dtype and shape, values in full."""
    parts = []
    for g in grads:
        if g is None:
            parts.append("None")
        elif g.size <= 8:
            parts.append(f"{g.dtype.name}{list(g.shape)} {g.ravel().tolist()}")
        else:
            magnitudes = np.abs(g[np.isfinite(g)]).astype(np.float64)
            spread = f"|g| from {magnitudes.min():.3g} to {magnitudes.max():.3g}" if magnitudes.size else \
                "no finite entry"
            parts.append(f"{g.dtype.name}{list(g.shape)} ({spread})")
    return f"grads = [{', '.join(parts)}]"


def _as_array(value, name: str, where: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception:  # noqa: BLE001 - an unreadable result is a finding
        raise Mismatch(f"  {where}\n  {name} is not an array: {_describe(value)}") from None


def _clipped_arrays(clipped, grads, where: str) -> list:
    """fn's clipped gradients as NumPy arrays, checked for structure, shape and dtype."""
    if isinstance(clipped, np.ndarray) or not isinstance(clipped, (list, tuple)) or len(clipped) != len(grads):
        raise Mismatch(f"  {where}\n  the clipped gradients must be a list of {len(grads)} entries "
                       f"(one per gradient, None where it is None), got {_describe(clipped)}")
    out = []
    for i, (c, g) in enumerate(zip(clipped, grads)):
        if g is None or c is None:
            if (g is None) != (c is None):
                raise Mismatch(f"  {where}\n  clipped[{i}] is {'None' if c is None else 'an array'}, "
                               f"but grads[{i}] is {'None' if g is None else 'an array'}")
            out.append(None)
            continue
        c = _as_array(c, f"clipped[{i}]", where)
        if c.shape != g.shape or c.dtype != g.dtype:
            raise Mismatch(f"  {where}\n  clipped[{i}] is {c.dtype.name}{list(c.shape)}; the clipped "
                           f"gradient keeps the gradient's dtype and shape, {g.dtype.name}{list(g.shape)}")
        out.append(c)
    return out


def _compare_values(name: str, got, expected, tolerance: float, floor: float, reason: str,
                    where: str) -> float:
    """Equal NaN and infinity patterns, and |got − expected| ≤ tolerance·|expected| + floor elsewhere.

    Returns the worst error relative to |expected|.
    """
    got = np.asarray(got, dtype=np.float64).ravel()
    expected = np.asarray(expected, dtype=np.float64).ravel()
    special = ~np.isfinite(expected) | ~np.isfinite(got)
    differs = special & ~((np.isnan(got) & np.isnan(expected)) | (got == expected))
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.where(special, 0.0, np.abs(got - expected))
        bound = tolerance * np.abs(expected) + floor
        over = np.flatnonzero(differs | (error > bound))
        relative = np.where(special | (expected == 0), 0.0, error / np.where(expected == 0, 1, np.abs(expected)))
    if over.size:
        i = int(over[0])
        index = f"[{i}]" if expected.size > 1 else ""
        detail = "" if special[i] else (f"; error {error[i]:.3g} is {relative[i]:.3g} of |expected|, over the "
                                         f"tolerance {tolerance:.3g} ({reason})")
        raise Mismatch(f"  {where}\n  {name}{index}: got {float(got[i])!r}, expected {float(expected[i])!r}{detail}. "
                       f"{over.size} of {expected.size} entries differ.")
    return float(relative.max()) if relative.size else 0.0


def _clip_norm_cases(convention: str):
    """(grads, max_norm, norm_type) as the convention accepts them, thresholds often at the norm."""
    from hypothesis import strategies as st

    from gradproofs import clipping, strategies

    # Built once: building a strategy inspects its source, which costs more than drawing from it.
    lists = {empty: strategies.gradient_lists(mixed_dtypes=convention != "tensorflow", allow_none=True,
                                              allow_nonfinite=True, allow_empty=empty) for empty in (False, True)}
    one_more = strategies.gradient_lists(min_arrays=1, max_arrays=1)
    norm_types = strategies.norm_types(allow_zero=True, allow_negative=True)
    thresholds = strategies.thresholds(allow_zero=True, allow_negative=True, allow_infinity=True)
    where = st.sampled_from(["a threshold", "the norm", "near the norm"])
    ratios = st.floats(1e-3, 2.0)

    @st.composite
    def cases(draw):
        p = draw(norm_types, label="norm_type") if convention == "torch" else 2.0
        grads = draw(lists[bool(0 <= p < np.inf)], label="grads")
        if convention == "keras" and all(g is None for g in grads):  # Keras raises on no gradient
            grads.append(draw(one_more, label="one more")[0])
        kind = draw(where, label="max_norm is")
        if kind == "a threshold":
            return grads, draw(thresholds, label="max_norm"), p
        norm = clipping.clip_grad_norm(grads, 1.0, p, convention=convention)[1]
        norms = [float(n) for n in (norm if isinstance(norm, list) else [norm]) if n is not None]
        finite = [n for n in norms if np.isfinite(n)] or [1.0]
        at = draw(st.sampled_from(finite), label="a norm") if len(finite) > 1 else finite[0]
        return grads, at if kind == "the norm" else at * draw(ratios, label="max_norm / the norm"), p

    return cases()


def check_clip_grad_norm(fn, *, convention: str = "torch", max_examples: int = 200,
                         error_if_nonfinite: bool = False) -> Report:
    """Test ``fn(grads, max_norm, norm_type) -> (clipped, total_norm)`` against a clipping convention.

    ``grads`` is a list of 1 to 8 NumPy arrays (float16, float32 or float64,
    mixed unless ``convention="tensorflow"``; 0 to 3 dimensions; magnitudes
    from 1e-30 to 1e30 within each dtype's range; some None, some holding ∞ or
    NaN, some of size 0); ``max_norm`` is often exactly the norm, and may be 0,
    negative or +∞; ``norm_type`` is any p (0, negative and ±∞ included) for
    ``"torch"`` and 2.0 for the others. ``fn`` must return the clipped arrays
    (a list, None kept, each of its gradient's dtype and shape) and the norm
    measured before clipping, both as :func:`gradproofs.clipping.clip_grad_norm`
    computes them for ``convention`` ("torch", "tensorflow", "keras", "optax",
    "pascanu"), including its NaN, sign flips and overflow. The norm is not
    judged for ``"keras"``, whose optimizer returns none. The only freedom is
    the order of the sums: values agree within
    :func:`gradproofs.clipping.norm_tolerance`; NaN and ∞ must sit where the
    convention puts them. With ``error_if_nonfinite`` fn must raise (any
    exception) exactly where the norm is not finite, leaving its arguments as
    they were. Modifying ``grads`` in place is a mismatch: wrap in-place torch
    functions with :func:`torch_in_place`. Raises :class:`gradproofs.Mismatch`
    on the smallest counterexample; returns a :class:`Report`.
    """
    from hypothesis import given

    from gradproofs import clipping

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    _validate.choice("convention", convention, clipping.CONVENTIONS)
    examples = _validate.positive_int("max_examples", max_examples)
    tally = _Tally()

    @given(_clip_norm_cases(convention))
    def test(case):
        grads, max_norm, p = case
        where = f"{_describe_gradients(grads)}, max_norm = {max_norm!r}, norm_type = {p!r}"
        arguments = {"grads": grads, "max_norm": max_norm, "norm_type": p}
        try:
            expected, expected_norm = clipping.clip_grad_norm(
                grads, max_norm, p, convention=convention, error_if_nonfinite=bool(error_if_nonfinite))
        except RuntimeError:  # a non-finite norm, to be refused
            _call(fn, arguments, where + "\n  (the norm is not finite: fn should raise)", raises=True)
            tally.add(0.0)
            return
        clipped, norm = _pair(_call(fn, arguments, where), where, "clipped gradients, total norm")
        clipped = _clipped_arrays(clipped, grads, where)
        tolerance = clipping.norm_tolerance(grads, p, convention=convention)
        reason = "two orders of summing the norm"
        worst = 0.0
        if convention != "keras":
            norm = _as_array(norm, "the returned norm", where)
            if norm.size != 1:
                raise Mismatch(f"  {where}\n  the returned norm must be one number, got shape {norm.shape}")
            worst = _compare_values("the returned norm (measured before clipping)", norm, expected_norm,
                                    tolerance, 0.0, reason, where)
        for i, (c, e, g) in enumerate(zip(clipped, expected, grads)):
            if g is None:
                continue
            info = np.finfo(g.dtype)
            entry_tolerance = tolerance + 3 * float(info.eps)
            worst = max(worst, _compare_values(f"clipped[{i}]", c, e, entry_tolerance,
                                               2 * float(info.tiny * info.eps), reason + " and rounding "
                                               "the product", where))
        tally.add(worst)

    _run(test, f"check_clip_grad_norm({_name(fn)}, convention={convention!r})", examples)
    return tally.report(f"check_clip_grad_norm({_name(fn)}, convention={convention!r})")


def check_clip_grad_value(fn, *, max_examples: int = 200, negative_thresholds: bool = True) -> Report:
    """Test ``fn(grads, clip_value) -> clipped`` against torch's and optax's clamp to [−c, c].

    ``grads`` as for :func:`check_clip_grad_norm` (at least one array);
    ``clip_value`` is often exactly an entry's magnitude, and may be 0, +∞ and
    (unless ``negative_thresholds=False``, for TensorFlow's ``clip_by_value``,
    which differs there) negative, where every entry becomes c. The clipped
    arrays must equal :func:`gradproofs.clipping.clip_grad_value`'s exactly
    (NaN where NaN; the sign of a zero is not judged), in the gradients' dtypes
    and shapes, without modifying ``grads``. A finite |c| beyond a gradient's
    dtype (65504 for float16) is never drawn: torch raises there, optax clamps
    to ±∞. Raises :class:`gradproofs.Mismatch`
    on the smallest counterexample; returns a :class:`Report`.
    """
    from hypothesis import given, strategies as st

    from gradproofs import clipping, strategies

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    examples = _validate.positive_int("max_examples", max_examples)
    negative = bool(negative_thresholds)

    lists = strategies.gradient_lists(allow_none=True, allow_nonfinite=True, allow_empty=True)
    one_more = strategies.gradient_lists(min_arrays=1, max_arrays=1)
    # |c| fits every gradient's dtype: beyond it torch raises (after clamping the arrays before).
    thresholds = {largest: strategies.thresholds(max_value=largest, allow_zero=True, allow_negative=negative,
                                                 allow_infinity=True)
                  for largest in (float(np.finfo(np.float16).max), 1e6)}

    @st.composite
    def cases(draw):
        grads = draw(lists, label="grads")
        if all(g is None for g in grads):  # torch raises on nothing to clip
            grads.append(draw(one_more, label="one more")[0])
        largest = min([1e6] + [float(np.finfo(g.dtype).max) for g in grads if g is not None])
        entries = [abs(float(v)) for g in grads if g is not None for v in g.ravel()
                   if np.isfinite(v) and abs(float(v)) <= largest]
        if entries and draw(st.booleans(), label="clip_value is an entry's magnitude"):
            return grads, draw(st.sampled_from(entries), label="clip_value")
        return grads, draw(thresholds[largest], label="clip_value")

    tally = _Tally()

    @given(cases())
    def test(case):
        grads, clip_value = case
        where = f"{_describe_gradients(grads)}, clip_value = {clip_value!r}"
        expected = clipping.clip_grad_value(grads, clip_value)
        result = _call(fn, {"grads": grads, "clip_value": clip_value}, where)
        clipped = _clipped_arrays(result, grads, where)
        for i, (c, e) in enumerate(zip(clipped, expected)):
            if e is not None:
                _compare_values(f"clipped[{i}]", c, e, 0.0, 0.0, "a clamp is exact", where)
        tally.add(0.0)

    _run(test, f"check_clip_grad_value({_name(fn)})", examples)
    return tally.report(f"check_clip_grad_value({_name(fn)})")


# --- recurrent networks -----------------------------------------------------------------------

RNN_GRADIENTS = ("W_x", "W_h", "b", "h0")  # the keys of what check_rnn_bptt's fn returns


def _describe_sequence(problem) -> str:
    """An RNN problem on one line: its sizes, then every array in full (counterexamples are small)."""
    steps, batch, inputs = problem.x.shape
    arrays = ", ".join(f"{name} = {value.tolist()}" for name, value in problem._asdict().items())
    return f"T = {steps}, B = {batch}, I = {inputs}, H = {problem.h0.shape[1]}: {arrays}"


def _rnn_gradients(result, where: str) -> dict:
    """The four gradients from fn's dict; anything else is a Mismatch."""
    from collections.abc import Mapping

    if not isinstance(result, Mapping):
        raise Mismatch(f"  {where}\n  fn must return a dict with the keys {list(RNN_GRADIENTS)}, "
                       f"got {_describe(result)}")
    missing = [key for key in RNN_GRADIENTS if key not in result]
    if missing:
        raise Mismatch(f"  {where}\n  fn returned a dict without {', '.join(map(repr, missing))}; expected the "
                       f"keys {list(RNN_GRADIENTS)}")
    return {key: result[key] for key in RNN_GRADIENTS}


def check_rnn_bptt(fn, *, activation: str = "tanh", max_examples: int = 100) -> Report:
    """Test ``fn(x, h0, W_x, W_h, b, dL_dh) -> dict`` for an Elman RNN's backpropagation through time.

    The network and the loss are those of :func:`gradproofs.rnn.bptt`:
    a_t = x_t W_xᵀ + h_(t−1) W_hᵀ + b, h_t = f(a_t) for t = 1..T, and
    ``dL_dh[t − 1]`` is the loss's own partial gradient ∂L/∂h_t, without what
    reaches h_t from later steps. ``fn`` gets float64 arrays x (T, B, I),
    h0 (B, H), W_x (H, I), W_h (H, H), b (H,) and dL_dh (T, B, H), and returns a
    dict with "W_x", "W_h" and "b" (summed over the batch), each of its
    parameter's shape, and "h0", ∂L/∂h_0 per batch row (B, H); other keys are
    ignored. Problems have 1 to 6 steps, 1 to 3 sequences, 1 to 4 inputs and
    hidden units (:func:`gradproofs.strategies.sequences`); those the rounding
    bound cannot judge (a forward pass that amplifies errors more than
    :data:`gradproofs.rnn.MAX_AMPLIFICATION`, for relu a pre-activation at the
    kink) are skipped. The gradients are compared with the exact ones
    (:func:`gradproofs.rnn.bptt_exact`) under the bound of
    :class:`gradproofs.rnn.Reference`, which allows f′ formed from the output,
    as autograd does; float32 results are judged with float32's rounding. A
    crash, a missing key, a gradient of the wrong shape or an argument changed
    in place is a mismatch too. Raises :class:`gradproofs.Mismatch` on the
    smallest counterexample; returns a :class:`Report` when every example agrees.
    """
    from hypothesis import assume, given

    from gradproofs import rnn, strategies

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    activation = activations.get(activation).name
    examples = _validate.positive_int("max_examples", max_examples)
    tally = _Tally()

    @given(strategies.sequences(max_steps=6, max_batch=3, max_inputs=4, max_hidden=4))
    def test(problem):
        reference = rnn.reference(*problem, activation=activation)
        assume(reference.well_conditioned(_FLOAT32_EPS))
        where = _describe_sequence(problem)
        gradients = _rnn_gradients(_call(fn, problem._asdict(), where), where)
        try:
            tally.add(reference.assert_matches("fn", gradients, eps=_eps(*gradients.values()),
                                               derivative_from_output=True, fields=RNN_GRADIENTS))
        except (Mismatch, ValueError, TypeError) as failure:
            raise Mismatch(f"  {where}\n  {failure}") from None

    _run(test, f"check_rnn_bptt({_name(fn)}, activation={activation!r})", examples)
    return tally.report(f"check_rnn_bptt({_name(fn)})")
