"""check_clip_grad_norm and check_clip_grad_value: a framework's clipping, in the user's conventions."""

from __future__ import annotations

import numpy as np

from gradproofs import _validate
from gradproofs.compare import Agreement
from gradproofs.oracle import conventions, options
from gradproofs.oracle.harness import Case, Choices, Failure, Oracle, call, describe, fail, judged, qualified_name
from gradproofs.errors import InvalidArgument, Mismatch
from gradproofs.clipping import adaptive, engine as clipping
from gradproofs.clipping.strategies import GRADIENT_DTYPES

__all__ = [
    "NORM_ARGUMENTS", "VALUE_ARGUMENTS", "THRESHOLDS", "DOMAIN", "SIZES", "ClipNorm", "check_clip_grad_norm",
    "ClipValue", "check_clip_grad_value", "AGC_ARGUMENTS", "ClipAGC", "check_clip_agc", "torch_in_place"
]

NORM_ARGUMENTS = ("grads", "max_norm", "norm_type")
VALUE_ARGUMENTS = ("grads", "clip_value")


def _dtypes(name: str, value) -> tuple:
    """A non-empty tuple of gradient dtypes' names."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or not value:
        raise InvalidArgument(f"{name} must be a non-empty tuple of {list(GRADIENT_DTYPES)}, got {value!r}")
    return tuple(_validate.choice(name, dtype, GRADIENT_DTYPES) for dtype in value)


# The thresholds drawn: {value: (0 drawn, negatives drawn)}; +∞ is drawn in each.
THRESHOLDS = {"any": (True, True), "non_negative": (True, False), "positive": (False, False)}

# The declared domain and the sizes, which the clipping oracles take.
_IN_PLACE = options.flag("in_place", False, "fn clips the arrays of `grads` in place")
_DTYPES = options.Option("dtypes", GRADIENT_DTYPES, "the gradients' dtypes drawn", check=_dtypes,
                         domain="a non-empty tuple of them")
_EMPTY = options.flag("empty", True, "empty arrays are drawn")
_NONES = options.flag("nones", True, "None (a parameter without a gradient) is drawn")
DOMAIN = (_IN_PLACE,
          options.Option("thresholds", "any", "the thresholds drawn: `'any'` (0, negative, +∞ and positive), "
                                              "`'non_negative'` (no negative one: TensorFlow's `clip_by_value`), "
                                              "`'positive'` (neither 0 nor a negative one)", values=tuple(THRESHOLDS)),
          _DTYPES, options.flag("nonfinite", True, "∞ and NaN are drawn"), _EMPTY, _NONES)
SIZES = (*options.sizes("arrays", 8, "number of gradients"),
         *options.sizes("dims", 3, "number of dimensions (0: a 0-dim array)", minimum=0),
         *options.sizes("side", 4, "side of a gradient (0 as well with `empty=True`)"))


class _Clipping(Oracle):
    """What both clipping oracles share: the declared domain, in-place functions, the sizes."""

    returns_norm = False  # whether fn returns the norm with the clipped arrays (an option of ClipNorm)

    def _lists(self, *, mixed: bool, empty: bool, dtypes: tuple):
        from gradproofs.clipping import strategies

        return strategies.gradient_lists(**self.sizes(), dtypes=dtypes, mixed_dtypes=mixed,
                                         allow_empty=empty and self.empty,
                                         allow_none=self.nones, allow_nonfinite=self.nonfinite)

    def _one_more(self, dtypes: tuple):
        """One array, for lists where every entry came out None."""
        from gradproofs.clipping import strategies

        return strategies.gradient_lists(**{**self.sizes("dims", "side"), "min_arrays": 1, "max_arrays": 1},
                                         dtypes=dtypes)

    def alternatives_for(self, fn) -> list:
        """:meth:`alternatives` and in_place=True, unless declared, or fn is a :func:`torch_in_place`
        wrapper: that returns what its function clipped in place, and never modifies its arguments."""
        in_place = not self.in_place and not getattr(fn, "_torch_in_place", False)
        return [*self.alternatives(),
                [("fn clips its arguments in place: declare in_place=True", self.but(in_place=True))] if in_place
                else []]

    def _verdict(self, fn, case: Case, judgement) -> Agreement:
        """fn's result judged: ``judgement(its clipped arrays, its norm or None)``."""
        return self.verdict(fn, case, lambda result, passed: judgement(*self._clipped(result, passed, case)),
                            in_place=("grads",) if self.in_place else ())

    def _clipped(self, result, passed, case: Case):
        """(fn's clipped arrays, its norm or None): from its result, or from its arguments if in place."""
        returns_norm = self.returns_norm
        grads = case.arguments["grads"]
        if self.in_place:
            return _arrays(passed["grads"], grads, "the gradients fn clipped in place"), (
                result if returns_norm else None)
        if not returns_norm:
            return _arrays(result, grads, "the clipped gradients"), None
        if isinstance(result, (str, bytes, np.ndarray)) or not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("result structure", f"fn must return a pair (clipped gradients, total norm), got {describe(result)}")
        return _arrays(result[0], grads, "the clipped gradients"), result[1]


def _arrays(clipped, grads, what: str) -> list:
    """fn's clipped gradients as NumPy arrays, checked for structure, shape and dtype."""
    if isinstance(clipped, np.ndarray) or not isinstance(clipped, (list, tuple)) or len(clipped) != len(grads):
        fail("result structure", f"{what} must be a list of {len(grads)} entries (one per gradient, None where "
                                 f"it is None), got {describe(clipped)}")
    out = []
    for i, (c, g) in enumerate(zip(clipped, grads)):
        if g is None or c is None:
            if (g is None) != (c is None):
                fail("result structure", f"clipped[{i}] is {'None' if c is None else 'an array'}, but grads[{i}] "
                                         f"is {'None' if g is None else 'an array'}")
            out.append(None)
            continue
        c = _as_array(c, f"clipped[{i}]")
        if c.shape != g.shape or c.dtype != g.dtype:
            fail("dtype or shape", f"clipped[{i}] is {c.dtype.name}{list(c.shape)}; the clipped gradient keeps "
                                   f"the gradient's dtype and shape, {g.dtype.name}{list(g.shape)}")
        out.append(c)
    return out


def _as_array(value, name: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception:  # noqa: BLE001 - an unreadable result is a finding
        fail("result structure", f"{name} is not an array: {describe(value)}")


def _compare(name: str, got, expected, tolerance: float, floor: float, reason: str) -> Agreement:
    """Equal NaN and infinity patterns, and |got − expected| ≤ tolerance·|expected| + floor elsewhere.

    A NaN or ∞ where the convention has none, or none where it has one, is a
    mismatch of the kind "non-finite placement"; a finite value off by more than
    the tolerance one of the kind "values". Returns the :class:`Agreement`: the
    largest fraction of its allowance (tolerance·|expected| + floor) an entry
    used, and the worst error relative to |expected|.
    """
    got = np.asarray(got, dtype=np.float64).ravel()
    expected = np.asarray(expected, dtype=np.float64).ravel()

    def first(entries, kind: str, detail) -> None:
        i = int(entries[0])
        index = "" if expected.size == 1 else f"[{i}]"
        fail(f"{name.split('[')[0]} {kind}", f"{name}{index}: got {float(got[i])!r}, expected "
                                             f"{float(expected[i])!r}{detail(i)}")

    special = ~np.isfinite(expected) | ~np.isfinite(got)
    misplaced = np.flatnonzero(special & ~((np.isnan(got) & np.isnan(expected)) | (got == expected)))
    if misplaced.size:
        first(misplaced, "non-finite placement", lambda i: f". {misplaced.size} of {expected.size} entries are "
                                                           f"non-finite where the convention's are not, or the "
                                                           f"other way round.")
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.where(special, 0.0, np.abs(got - expected))
        over = np.flatnonzero(error > tolerance * np.abs(expected) + floor)
        relative = np.where(special | (expected == 0), 0.0, error / np.where(expected == 0, 1, np.abs(expected)))
        allowance = tolerance * np.abs(np.where(special, 0.0, expected)) + floor
        used = np.where(error == 0, 0.0, error / np.where(allowance == 0, 1, allowance))
    if over.size:
        first(over, "values", lambda i: f"; error {error[i]:.3g} is {relative[i]:.3g} of |expected|, over the "
                                        f"tolerance {tolerance:.3g} ({reason}). {over.size} of {expected.size} "
                                        f"entries differ.")
    return Agreement(float(used.max()), float(relative.max())) if relative.size else Agreement()


def _sizes(grads) -> str:
    arrays = [g for g in grads if g is not None]
    return f"{len(grads)} gradients ({len(grads) - len(arrays)} None), {sum(g.size for g in arrays)} entries"


# --- by norm ------------------------------------------------------------------------------------

class ClipNorm(_Clipping):
    """Test ``fn(grads, max_norm, norm_type) -> (clipped, total_norm)`` against a clipping convention.

    ``grads`` is a list of 1 to ``max_arrays`` NumPy arrays (of ``dtypes``,
    mixed unless the convention needs one dtype; magnitudes from 1e-30 to 1e30
    within each dtype's range; some None, some holding ∞ or NaN, some of size
    0); ``max_norm`` is often exactly the norm, and may be 0, negative or +∞;
    ``norm_type`` is any p (0, negative and ±∞ included) for ``"torch"`` and
    2.0 for the others (and for fn whose ``arguments`` leave it out). ``fn``
    must return the clipped arrays (a list, None kept, each of its gradient's
    dtype and shape) and the norm measured before clipping, both as
    :func:`gradproofs.clipping.clip_grad_norm` computes them for ``convention``,
    including its NaN, sign flips, overflow and flush of subnormals to zero on
    the CPU. The norm is not judged for a convention that measures each array
    alone (Keras's optimizer returns none). The only freedom is the order of the
    sums: values agree within :func:`gradproofs.clipping.norm_tolerance`; NaN
    and ∞ must sit where the convention puts them. For the conventions whose
    CPU kernels flush subnormals to zero, fn may flush them as those kernels do
    or keep them as NumPy does: it must agree with one of the two on the whole
    example. With ``error_if_nonfinite`` fn must raise (any exception) exactly
    where the norm is not finite, leaving its arguments as they were. Raises
    :class:`gradproofs.Mismatch` naming each kind of disagreement (the NaN
    placement, finite values, the norm, …) with its smallest counterexample;
    returns a Report.
    """

    name = "clip-norm"
    function = "check_clip_grad_norm"
    signature = "fn(grads, max_norm, norm_type) -> (clipped, total_norm)"
    option_records = (options.Option("convention", "torch", "whose clipping fn reproduces",
                           values=tuple(clipping.CONVENTIONS)),
            options.flag("error_if_nonfinite", False, "fn raises where the norm is not finite"),
            options.flag("returns_norm", True, "fn returns the norm with the clipped gradients"),
            *DOMAIN, options.ARGUMENTS, *SIZES)

    def settle(self) -> None:
        self.arguments = conventions.declared_arguments(self, NORM_ARGUMENTS, optional=("norm_type",))
        taken = clipping.CONVENTIONS[self.convention].dtypes
        if not set(self.dtypes) & set(taken):
            raise InvalidArgument(f"dtypes={self.dtypes!r} holds none of the dtypes convention {self.convention!r} "
                                  f"takes: {', '.join(taken)}")

    def strategy(self):
        from hypothesis import strategies as st

        from gradproofs.clipping import strategies

        convention, rule = self.convention, clipping.CONVENTIONS[self.convention]
        # Built once: building a strategy inspects its source, which costs more than drawing from it.
        dtypes = tuple(dtype for dtype in self.dtypes if dtype in rule.dtypes)
        lists = {empty: self._lists(mixed=not rule.one_dtype, empty=empty, dtypes=dtypes) for empty in (False, True)}
        one_more = self._one_more(dtypes)
        norm_types = strategies.norm_types(allow_zero=True, allow_negative=True)
        zero, negative = THRESHOLDS[self.thresholds]
        thresholds = strategies.thresholds(allow_zero=zero, allow_negative=negative, allow_infinity=True)
        where = st.sampled_from(["a threshold", "the norm", "near the norm"])
        ratios = st.floats(1e-3, 2.0)

        any_p = rule.any_p and "norm_type" in self.arguments  # else fn cannot be told p: 2

        @st.composite
        def cases(draw):
            p = draw(norm_types, label="norm_type") if any_p else 2.0
            grads = draw(lists[bool(0 <= p < np.inf)], label="grads")
            if rule.needs_a_gradient and all(g is None for g in grads):
                grads.append(draw(one_more, label="one more")[0])
            kind = draw(where, label="max_norm is")
            if kind == "a threshold":
                return grads, draw(thresholds, label="max_norm"), p
            norms = clipping.clip_grad_norm(grads, 1.0, p, convention=convention)[1]
            finite = [float(n) for n in norms if np.isfinite(n) and (zero or n > 0)] or [1.0]
            at = draw(st.sampled_from(finite), label="a norm") if len(finite) > 1 else finite[0]
            return grads, at if kind == "the norm" else at * draw(ratios, label="max_norm / the norm"), p

        return cases()

    def check(self, fn, example) -> Agreement:
        grads, max_norm, p = example
        given = {"grads": grads, "max_norm": max_norm, "norm_type": p}
        case = Case({name: given[name] for name in self.arguments}, _sizes(grads))
        try:
            expected, expected_norm = clipping.clip_grad_norm(grads, max_norm, p, convention=self.convention,
                                                              error_if_nonfinite=self.error_if_nonfinite)
        except RuntimeError:  # a non-finite norm, to be refused
            case.sizes += " (the norm is not finite: fn should raise)"
            judged(case, lambda: call(fn, case, raises=True))
            return Agreement()  # the refusal is the whole expectation

        def judgement(clipped, norm):
            try:
                return self._judge(clipped, norm, grads, p, expected, expected_norm, max_norm)
            except Failure as failure:
                if not clipping.CONVENTIONS[self.convention].flushes:
                    raise
                flushed_failure = failure
            # The same rule in IEEE arithmetic, as NumPy (or a GPU) computes it, keeps the subnormals that
            # the framework's CPU kernels flush to zero: either is the convention.
            with clipping.gradual_underflow():
                kept, kept_norm = clipping.clip_grad_norm(grads, max_norm, p, convention=self.convention)
                try:
                    return self._judge(clipped, norm, grads, p, kept, kept_norm, max_norm)
                except Failure:
                    raise flushed_failure from None

        return self._verdict(fn, case, judgement)

    def _judge(self, clipped, norm, grads, p, expected, expected_norm, max_norm) -> Agreement:
        tolerance = clipping.norm_tolerance(grads, p, convention=self.convention)
        reason = "two orders of summing the norm"
        worst = Agreement()
        if self.returns_norm and not clipping.CONVENTIONS[self.convention].per_array:
            norm = _as_array(norm, "the returned norm")
            if norm.size != 1:
                fail("norm structure", f"the returned norm must be one number, got shape {norm.shape}")
            worst = _compare("the returned norm (measured before clipping)", norm, expected_norm, tolerance, 0.0,
                             reason)
            theirs = np.asarray(norm, dtype=expected_norm.dtype).reshape(1)
            if np.isfinite(theirs[0]) and theirs[0] != expected_norm[0]:
                # A norm summed in another order: the convention's clip with fn's norm (the trigger, too).
                expected = clipping.clip_grads_with_norm(grads, max_norm, theirs, convention=self.convention)
        for i, (c, e, g) in enumerate(zip(clipped, expected, grads)):
            if g is None:
                continue
            info = np.finfo(g.dtype)
            worst = Agreement.worst([worst, _compare(f"clipped[{i}]", c, e, tolerance + 3 * float(info.eps),
                                                     2 * float(info.tiny * info.eps),
                                                     reason + " and rounding the product")])
        return worst

    def alternatives(self) -> list:
        return [Choices("fn's result on this example is that of {}: declare the convention fn follows",
                        [(f"convention={other!r}", self.but(convention=other))
                         for other in clipping.CONVENTIONS if other != self.convention]),
                [("fn returns only the clipped gradients: declare returns_norm=False",
                  self.but(returns_norm=False))] if self.returns_norm and not self.in_place else []]


check_clip_grad_norm = options.check_function(ClipNorm)


# --- by value -------------------------------------------------------------------------------------

class ClipValue(_Clipping):
    """Test ``fn(grads, clip_value) -> clipped`` against torch's and optax's clamp to [−c, c].

    ``grads`` as for :func:`check_clip_grad_norm` (at least one array);
    ``clip_value`` is often exactly an entry's magnitude, and may be 0, +∞ and
    (unless ``thresholds`` says otherwise: ``"non_negative"`` for TensorFlow's
    ``clip_by_value``, which differs there) negative, where every entry becomes c. The clipped
    arrays must equal :func:`gradproofs.clipping.clip_grad_value`'s exactly
    (NaN where NaN; the sign of a zero is not judged), in the gradients' dtypes
    and shapes, without modifying ``grads`` (unless ``in_place=True``: then fn
    clamps the arrays of ``grads`` in place, and what it returns is ignored).
    A finite |c| beyond a gradient's dtype (65504 for float16) is never drawn:
    torch raises there, optax clamps to ±∞. Raises :class:`gradproofs.Mismatch`
    naming each kind of disagreement with its smallest counterexample; returns
    a Report.
    """

    name = "clip-value"
    function = "check_clip_grad_value"
    signature = "fn(grads, clip_value) -> clipped"
    option_records = (*DOMAIN, options.ARGUMENTS, *SIZES)

    def settle(self) -> None:
        self.arguments = conventions.declared_arguments(self, VALUE_ARGUMENTS)

    def strategy(self):
        from hypothesis import strategies as st

        from gradproofs.clipping import strategies

        lists = self._lists(mixed=True, empty=True, dtypes=self.dtypes)
        one_more = self._one_more(self.dtypes)
        # |c| fits every gradient's dtype: beyond it torch raises (after clamping the arrays before).
        zero, negative = THRESHOLDS[self.thresholds]
        thresholds = {largest: strategies.thresholds(max_value=largest, allow_zero=zero, allow_negative=negative,
                                                     allow_infinity=True)
                      for largest in (float(np.finfo(np.float16).max), 1e6)}

        @st.composite
        def cases(draw):
            grads = draw(lists, label="grads")
            if all(g is None for g in grads):  # torch raises on nothing to clip
                grads.append(draw(one_more, label="one more")[0])
            largest = min([1e6] + [float(np.finfo(g.dtype).max) for g in grads if g is not None])
            entries = [abs(float(v)) for g in grads if g is not None for v in g.ravel()
                       if np.isfinite(v) and abs(float(v)) <= largest and (zero or v != 0)]
            if entries and draw(st.booleans(), label="clip_value is an entry's magnitude"):
                return grads, draw(st.sampled_from(entries), label="clip_value")
            return grads, draw(thresholds[largest], label="clip_value")

        return cases()

    def check(self, fn, example) -> Agreement:
        grads, clip_value = example
        given = {"grads": grads, "clip_value": clip_value}
        case = Case({name: given[name] for name in self.arguments}, _sizes(grads))
        expected = clipping.clip_grad_value(grads, clip_value)

        def judgement(clipped, _):
            return Agreement.worst(_compare(f"clipped[{i}]", c, e, 0.0, 0.0, "a clamp is exact")
                                   for i, (c, e) in enumerate(zip(clipped, expected)) if e is not None)

        return self._verdict(fn, case, judgement)

    def alternatives(self) -> list:
        return []


check_clip_grad_value = options.check_function(ClipValue)


# --- adaptive ----------------------------------------------------------------------------------------

AGC_ARGUMENTS = ("parameters", "grads", "clip_factor", "eps")


class ClipAGC(_Clipping):
    """Test ``fn(parameters, grads, clip_factor, eps) -> clipped`` against adaptive gradient clipping.

    The rule of Brock et al. (2021), eq. (3), as timm's ``adaptive_clip_grad``
    applies it (:mod:`gradproofs.clipping.adaptive`): each unit i of a parameter
    W (row i of an array of two dimensions or more, all of an array of at most
    one) keeps its gradient G_i where ‖G_i‖ < λ·max(‖W_i‖, ε), and is scaled by
    λ·max(‖W_i‖, ε) / max(‖G_i‖, 10⁻⁶) otherwise. ``parameters`` is a list of 1
    to ``max_arrays`` finite arrays (of ``dtypes``, mixed), ``grads`` a list of
    finite arrays of the same shapes and dtypes (None where a parameter has no
    gradient, with ``nones``), their magnitudes from 10⁻⁵ to 10³; λ
    (``clip_factor``) is drawn from 10⁻³ to 1 and ε (``eps``) from 10⁻⁴ to 10⁻¹,
    timm's 0.01 and 10⁻³ among them, or are those where ``arguments`` leaves them
    out. fn returns the clipped gradients (a list, None kept, each of its
    gradient's dtype and shape), or with ``in_place=True`` clips the arrays of
    ``grads`` in place. Each entry must lie within
    :func:`gradproofs.clipping.adaptive.agc_tolerance` of the exact result (the
    unit norms summed in any order), or an absolute 2·tiny·eps of its dtype;
    a unit whose ‖G_i‖ lies that close to its bound may be kept or clipped.
    Raises :class:`gradproofs.Mismatch` naming each kind of disagreement with its
    smallest counterexample; returns a Report.
    """

    name = "clip-agc"
    function = "check_clip_agc"
    signature = "fn(parameters, grads, clip_factor, eps) -> clipped"
    option_records = (_IN_PLACE, _DTYPES, _EMPTY, _NONES, options.ARGUMENTS, *SIZES)

    def settle(self) -> None:
        self.arguments = conventions.declared_arguments(self, AGC_ARGUMENTS, optional=("clip_factor", "eps"))

    def strategy(self):
        from hypothesis import strategies as st

        from gradproofs.clipping import strategies

        # One array at a time, each followed by its gradient, so that shrinking drops a pair as a whole.
        parameter = strategies.gradient_lists(**{**self.sizes("dims", "side"), "min_arrays": 1, "max_arrays": 1},
                                              dtypes=self.dtypes, allow_empty=self.empty, min_magnitude=1e-5,
                                              max_magnitude=1e3)
        counts = st.integers(self.min_arrays, self.max_arrays)
        factors = st.one_of(st.just(adaptive.CLIP_FACTOR), st.floats(1e-3, 1.0)) \
            if "clip_factor" in self.arguments else st.just(adaptive.CLIP_FACTOR)
        epsilons = st.one_of(st.just(adaptive.EPS), st.floats(1e-4, 1e-1)) \
            if "eps" in self.arguments else st.just(adaptive.EPS)
        mantissas = strategies.mantissas()  # the entries of a gradient list, as the parameters have

        @st.composite
        def cases(draw):
            from hypothesis.extra import numpy as hnp

            params, grads = [], []
            for i in range(draw(counts, label="number of parameters")):
                w = draw(parameter, label=f"parameters[{i}]")[0]
                params.append(w)
                if self.nones and draw(st.integers(0, 4), label=f"grads[{i}] is None if 4") == 4:
                    grads.append(None)
                    continue
                exponent = draw(st.floats(-4.0, 3.0), label=f"log10 of the magnitude of grads[{i}]")
                drawn = draw(hnp.arrays(np.float64, w.shape, elements=mantissas), label=f"grads[{i}]")
                grads.append(np.asarray(drawn * 10.0 ** exponent).astype(w.dtype))
            return params, grads, draw(factors, label="clip_factor"), draw(epsilons, label="eps")

        return cases()

    def check(self, fn, example) -> Agreement:
        params, grads, clip_factor, eps = example
        given = {"parameters": params, "grads": grads, "clip_factor": clip_factor, "eps": eps}
        case = Case({name: given[name] for name in self.arguments}, _sizes(grads))

        def judgement(clipped, _):
            worst = Agreement()
            for i, (c, w, g) in enumerate(zip(clipped, params, grads)):
                if g is not None:
                    worst = Agreement.worst([worst, _agc_judged(f"clipped[{i}]", c, w, g, clip_factor, eps)])
            return worst

        return self._verdict(fn, case, judgement)

    def alternatives(self) -> list:
        return []


def _agc_judged(name: str, clipped, parameter, grad, clip_factor: float, eps: float) -> Agreement:
    """One parameter's clipped gradient against the exact AGC: each unit as the rule takes it, or, for a
    unit within the tolerance of its bound, the other way."""
    tolerance = adaptive.agc_tolerance(parameter, grad, clip_factor, eps)
    info = np.finfo(grad.dtype)
    floor = 2 * float(info.tiny * info.eps)
    exact = adaptive.agc_exact(parameter, grad, clip_factor, eps, margin=tolerance)
    got = np.asarray(clipped, dtype=np.float64)
    if not got.size:
        return Agreement()
    units = got.reshape(len(exact.near), -1) if got.ndim > 1 else got.reshape(1, -1)

    def fits(expected) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            within = np.abs(units - expected) <= tolerance * np.abs(expected) + floor
        return within.all(axis=1)

    primary, other = (e.reshape(units.shape) for e in (exact.exact, exact.other))
    taken = np.where((exact.near & ~fits(primary) & fits(other))[:, None], other, primary)
    return _compare(name, got, taken.reshape(got.shape), tolerance, floor,
                    "the unit norms' rounding in any order of summing, and the rule's six roundings")


check_clip_agc = options.check_function(ClipAGC)


# --- torch's in-place functions -------------------------------------------------------------------

def torch_in_place(fn, *, device: str = "cpu", with_parameters: bool = False, **options):
    """Wrap a torch-style in-place function on parameters as a function of NumPy gradients.

    ``fn(parameters, *args, **options)`` changes each parameter's ``.grad`` in
    place, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_`` do.
    The wrapper takes ``(grads, *args)``: NumPy arrays, None for a parameter
    without a gradient; with ``with_parameters=True`` it takes
    ``(parameters, grads, *args)``, the parameters' values first, as
    :func:`check_clip_agc` passes them (otherwise each parameter holds zeros). It
    builds one parameter per entry on ``device``, gives
    it a copy of its gradient, calls ``fn`` and returns the gradients afterwards
    as NumPy arrays (None kept): alone when ``fn`` returns None, else paired
    with what it returned (a tensor becomes a NumPy scalar or array). When
    ``fn`` raises, the wrapper first checks that every gradient is still as it
    was (a :class:`Mismatch` if not), then re-raises.

    >>> check_clip_grad_norm(torch_in_place(torch.nn.utils.clip_grad_norm_, foreach=False))
    >>> check_clip_agc(torch_in_place(timm.utils.adaptive_clip_grad, with_parameters=True))
    """
    from gradproofs import devices
    from gradproofs.oracle.harness import callable_option, same

    callable_option(fn)
    device = devices.resolve(device)
    with_parameters = _validate.flag("with_parameters", with_parameters)

    def in_place(*arguments):
        torch = devices.torch()
        values, grads, args = (arguments[0], arguments[1], arguments[2:]) if with_parameters else \
            ([None] * len(arguments[0]), arguments[0], arguments[1:])
        parameters = []
        for value, g in zip(values, grads):
            if value is not None:
                value = np.asarray(value)
                parameter = torch.nn.Parameter(torch.from_numpy(value.copy()).to(device))
            elif g is None:
                parameter = torch.nn.Parameter(torch.zeros(1, device=device))
            else:
                g = np.asarray(g)
                parameter = torch.nn.Parameter(torch.zeros(g.shape, dtype=getattr(torch, g.dtype.name),
                                                           device=device))
            if g is not None:
                parameter.grad = torch.from_numpy(np.asarray(g).copy()).to(device)
            parameters.append(parameter)

        def gradients():
            return [None if p.grad is None else p.grad.detach().cpu().numpy() for p in parameters]

        try:
            returned = fn(parameters, *args, **options)
        except Exception:
            if not same(list(grads), gradients()):
                raise Mismatch(f"{qualified_name(fn)} raised after modifying the gradients in place") from None
            raise
        if returned is None:
            return gradients()
        if hasattr(returned, "detach"):
            returned = returned.detach().cpu().numpy()[()]
        return gradients(), returned

    in_place.__qualname__ = f"torch_in_place({getattr(fn, '__qualname__', repr(fn))})"
    in_place.__wrapped__ = fn  # reports name fn and where it is defined
    in_place.__signature__ = _in_place_signature(fn, with_parameters)
    in_place._torch_in_place = True  # the oracles know it is in place by construction
    return in_place


def _in_place_signature(fn, with_parameters: bool):
    """fn's signature with its first argument, the parameters, as the wrapper takes them: ``grads``, or
    ``parameters, grads`` (None where fn has no signature to inspect)."""
    import inspect

    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    names = ("parameters", "grads") if with_parameters else ("grads",)
    taken = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY) for name in names]
    return inspect.Signature(taken + parameters[1:])
