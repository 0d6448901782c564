"""Clipping: the norm bound, one factor for every array, the trigger, idempotence, value
clipping and the step it bounds."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, strategies as st

from gradproofs import devices
from gradproofs.derivation import Derivation
from gradproofs.theorem import Evidence, Family, Theorem, family, register
from gradproofs.errors import Mismatch
from gradproofs.clipping import engine as clipping, observations as clipping_observations, strategies
from gradproofs.formats import format_of

__all__ = ["FAMILY", "SOURCE", "torch_sgd_step"]

FAMILY = family(Family(
    "clipping",
    "Clipping: what it bounds, as each framework does it",
    "Gradient clipping rescales a gradient $g$ (a list of arrays, one per parameter) when its "
    "norm $n = \\|g\\|$ exceeds a threshold $\\tau$, or clamps every entry to $[-c, c]$. "
    "Pascanu, Mikolov & Bengio proposed the norm rule against exploding gradients: whatever "
    "$g$, the step $\\mathrm{lr}\\cdot\\mathrm{clip}(g)$ stays at most $\\mathrm{lr}\\cdot\\tau$ long. "
    "PyTorch, TensorFlow, Keras and optax each implement it a little differently (an epsilon, "
    "the trigger at $n = \\tau$, one norm for all arrays or one per array); `gradproofs.clipping` "
    "reproduces each convention operation by operation, and the statements below say what "
    "each one guarantees.",
    clipping_observations.markdown(),
))

SOURCE = "Pascanu, Mikolov & Bengio (2013), On the difficulty of training recurrent neural networks, §3.2, Algorithm 1"


# --- shared numerics ---------------------------------------------------------------------

def _u(dtype) -> float:
    """The unit roundoff u = ε/2 of ``dtype`` (gradproofs.formats)."""
    return format_of(dtype).unit_roundoff


def _ulps(array) -> np.ndarray:
    """The unit in the last place of each entry of ``array``, in its own dtype, as float64."""
    return np.spacing(np.abs(array)).astype(np.float64)


def _in_ulps(difference, allowed, ulps) -> Evidence:
    """The entry whose difference used the most of its allowance, both in units in the last place
    (``ulps``) of its value: one unit whatever the gradient's magnitude."""
    i = int(np.argmax(difference / allowed))
    return Evidence.within(difference.flat[i] / ulps.flat[i], allowed.flat[i] / ulps.flat[i], "ulps")


def _arrays(grads) -> list:
    return [g for g in grads if g is not None]


def _true_norm(arrays, p: float) -> float:
    """The p-norm of every entry as one vector, in float64 without over- or underflow."""
    if not arrays:
        return 0.0
    if math.isinf(p):
        flat = np.concatenate([np.abs(np.ravel(a)).astype(np.float64) for a in arrays])
        return float(flat.max() if p > 0 else flat.min()) if flat.size else 0.0
    return clipping.scaled_norm(arrays, p)


def _coarsest(arrays, norm=None) -> float:
    """The largest unit roundoff among the arrays' dtypes and the norm's."""
    dtypes = [a.dtype for a in arrays] + ([np.asarray(norm).dtype] if norm is not None else [])
    return max(_u(d) for d in dtypes)


def _underflow_floor(convention: str, dtype, tau: float) -> float:
    """The absolute error an entry may carry near underflow: the smallest normal number, plus, for a
    convention that forms the quotient g/n first (optax's (g/n)·τ, which XLA flushes to zero below the
    smallest normal number on the CPU), τ times that number."""
    info = np.finfo(dtype)
    return float(info.tiny) * (1 + (abs(tau) if _rule(convention).quotient_first else 0.0))


def _groups(grads, clipped, norm, convention):
    """(gradients, clipped, computed norm) per norm the convention measures (``norm``, as clip_grad_norm
    returns them): one, or one per array, in its dtype (Keras)."""
    pairs = [(g, c) for g, c in zip(grads, clipped) if g is not None]
    if not _per_array(convention):
        return [([g for g, _ in pairs], [c for _, c in pairs], norm[0])]
    return [([g], [c], g.dtype.type(n)) for (g, c), n in zip(pairs, norm)]


def _tau_range(convention: str, arrays, norm: float):
    """The thresholds for which the convention's scale is an ordinary number in these dtypes.

    The scale is about τ/‖g‖, and is cast to each array's dtype, so τ is at
    least 4·tiny·(‖g‖ + 10⁻⁶) of each; TensorFlow, Keras, optax and Pascanu round τ
    to the gradients' or the norm's dtype, so it is a normal number of each
    (float16: between 6.1e-5 and 65504), and TensorFlow's 1/τ is one as well
    (float16: τ at most 4096, where 1/τ is still 4 times its smallest normal). Keras forms g·τ before dividing, which must stay within
    the normal range as well. Outside that range the scale under- or
    overflows (zeros, ∞ or NaN), which the edge-case tests cover.
    """
    promoted = np.finfo(np.result_type(*arrays))
    tiny = max(float(np.finfo(a.dtype).tiny) for a in arrays)  # the scale is cast to every array's dtype
    low = max(4 * tiny * (norm + clipping.TORCH_EPSILON), tiny)
    high = min(float(np.finfo(a.dtype).max) for a in arrays)
    if _rule(convention).min_scale:  # min(1/n, 1/τ): 1/τ must be a normal number too
        low = max(low, 4 / float(promoted.max))
        high = min(high, 0.25 / float(promoted.tiny))
    if _per_array(convention):
        for a in arrays:
            info, magnitudes = np.finfo(a.dtype), np.abs(a[a != 0]).astype(np.float64)
            if magnitudes.size:  # a factor of 2 clear of the range, for the rounding of g·τ
                low = max(low, 2 * float(info.tiny) / float(magnitudes.min()))
                high = min(high, float(info.max) / (2 * max(1.0, float(magnitudes.max()))))
    return low, high


def _rule(convention: str) -> clipping.Convention:
    """The record of what ``convention`` does."""
    return clipping.CONVENTIONS[convention]


def _per_array(convention: str) -> bool:
    """Whether ``convention`` measures and clips each array alone."""
    return _rule(convention).per_array


def _draw_case(data, *, conventions=tuple(clipping.CONVENTIONS), any_p=True,
               dtypes=strategies.GRADIENT_DTYPES):
    """A convention, finite gradients, p (any for torch) and τ > 0, often near or at the norm.

    τ lies in :func:`_tau_range`; a gradient for which that range is empty is
    not drawn (an array spanning more than its dtype's range over Keras's τ).
    """
    convention = data.draw(st.sampled_from(conventions), label="convention")
    p = data.draw(strategies.norm_types(allow_negative=True), label="norm_type") \
        if clipping.CONVENTIONS[convention].any_p and any_p else 2.0
    # optax casts the global norm to each leaf's dtype (a float16 leaf is zeroed once it passes
    # 65504) and TensorFlow and Keras's global_clipnorm refuse mixed dtypes: one dtype per list for all.
    one_dtype = _rule(convention).one_dtype or _rule(convention).norm_per_dtype
    dtypes = tuple(dtype for dtype in dtypes if dtype in _rule(convention).dtypes)
    assume(dtypes)
    grads = data.draw(strategies.gradient_lists(mixed_dtypes=not one_dtype, allow_none=True, dtypes=dtypes),
                      label="grads")
    if not _arrays(grads):
        grads.append(data.draw(strategies.gradient_lists(min_arrays=1, max_arrays=1, dtypes=dtypes),
                               label="one more")[0])
    arrays = _arrays(grads)
    norms = [_true_norm(arrays, p)] if not _per_array(convention) else [_true_norm([g], p) for g in arrays]
    low, high = _tau_range(convention, arrays, max(_true_norm(arrays, 2.0), max(norms)))
    assume(low <= high)
    usable = [n for n in norms if low <= n <= high]
    options = [strategies.thresholds(min_value=low, max_value=high) if low > 0 else
               strategies.thresholds(max_value=min(1e6, high))]
    if usable:
        at = data.draw(st.sampled_from(usable), label="the norm τ is drawn near")
        options += [st.just(at), st.floats(1e-3, 2.0).map(lambda r: min(max(r * at, low), high))]
    tau = data.draw(st.one_of(options), label="max_norm")
    return convention, grads, p, tau


def _torch_clip(convention: str, device):
    """The torch function ``convention`` is, clipping in place on ``device``; its norm as clip_grad_norm's."""
    from gradproofs.clipping.oracle import torch_in_place

    clip = torch_in_place(getattr(devices.torch().nn.utils, _rule(convention).in_torch), device=device)

    def clipped(grads, tau, p):
        arrays, norm = clip(grads, tau, p)
        return arrays, np.reshape(norm, 1)

    return clipped


def _runs(convention, grads, tau, p, device, *, safe=True):
    """(engine, clipped, norm, accurate-norm required) for numpy (plain and safe) and, for torch, the real one."""
    runs = [("numpy", *clipping.clip_grad_norm(grads, tau, p, convention=convention), False)]
    if safe:
        runs.append(("numpy, safe_norm", *clipping.clip_grad_norm(grads, tau, p, convention=convention,
                                                                  safe_norm=True), True))
    if _rule(convention).in_torch:
        runs.append((f"torch.nn.utils.{_rule(convention).in_torch} ({device})",
                     *_torch_clip(convention, device)(grads, tau, p), False))
    return runs


def _representable(convention: str, arrays, p: float, tolerance: float) -> bool:
    """Whether the norm and, for a norm of two levels (torch's), every array's norm fit their dtypes."""
    def fits(value, dtype):
        return value <= float(np.finfo(dtype).max) * (1 - tolerance)

    promoted = np.result_type(*arrays)
    if not fits(_true_norm(arrays, p), promoted):
        return False
    return not _rule(convention).two_level or all(fits(_true_norm([a], p), a.dtype) for a in arrays)


def _sum_in_range(convention: str, arrays, p: float, true: float) -> bool:
    """Whether Σ|x|^p = ‖g‖^p lies in the normal range of every dtype the convention sums in.

    At least count·tiny/eps (below, the terms' underflow may have cost digits)
    and below the largest number. torch squares float16 in float32, the others
    in the arrays' dtypes; p = 0 and ±∞ sum no powers.
    """
    if p == 0 or math.isinf(p) or true == 0:
        return True
    if not math.isfinite(true):
        return False
    squares_in = (lambda d: np.float32 if d == np.float16 else d) if _rule(convention).widened_squares \
        else (lambda d: d)
    dtypes = {np.dtype(squares_in(a.dtype)) for a in arrays}
    count = sum(a.size for a in arrays) + len(arrays)
    log_sum = p * math.log(true)
    return all(math.log(count * float(np.finfo(d).tiny) / float(np.finfo(d).eps)) <= log_sum
               < math.log(float(np.finfo(d).max)) for d in dtypes)


def _accurate(norm, true: float, tolerance: float, representable: bool) -> bool:
    """Whether a computed norm is the true one within ``tolerance`` (or ∞, where it cannot be held)."""
    norm = float(norm)
    return abs(norm - true) <= tolerance * true or (not representable and math.isinf(norm))


def _nonfinite_outcome(engine, convention, clipped, norm) -> None:
    """A finite gradient whose norm overflowed: zeros (g·0, or (g·τ)/∞), or NaN on purpose (TensorFlow)."""
    values = np.concatenate([np.ravel(c).astype(np.float64) for c in clipped]) if clipped else np.zeros(0)
    if _rule(convention).min_scale:
        if not np.all(np.isnan(values)):
            raise Mismatch(f"{engine}: the norm is {norm}, and TensorFlow turns every entry NaN then; "
                           f"got {values[~np.isnan(values)][:4].tolist()}")
    elif np.any(values != 0):
        raise Mismatch(f"{engine} ({convention}): the norm is {norm}, so every entry is scaled to 0; got "
                       f"{values[values != 0][:4].tolist()}")


def _judged(engine, convention, grads, clipped, norm, p, safe):
    """The groups (arrays, clipped, norm, true norm, its tolerance) whose computed norm is right.

    A safe norm must always be right (or ∞ where the dtype cannot hold it). A
    plain norm whose sum under- or overflowed is left to the safe run of the
    same input, once its non-finite outcome (zeros, or TensorFlow's NaN) is
    checked.
    """
    kept = []
    for arrays, out, n in _groups(grads, clipped, norm, convention):
        true = _true_norm(arrays, p)
        tolerance = clipping.norm_tolerance(arrays, p, convention=convention) / 2
        if not safe and not _sum_in_range(convention, arrays, p, true):
            if not np.isfinite(n):
                _nonfinite_outcome(engine, convention, out, n)
            continue  # the plain sum left the normal range: the safe run of this input covers it
        if not _accurate(n, true, tolerance, _representable(convention, arrays, p, tolerance)):
            if safe:
                raise Mismatch(f"{engine} ({convention}, p = {p}): the overflow-safe norm is {n!r}, "
                               f"the true norm {true!r} (tolerance {tolerance:.3g})")
            if not np.isfinite(n):
                _nonfinite_outcome(engine, convention, out, n)
        elif not np.isfinite(n):
            _nonfinite_outcome(engine, convention, out, n)
        else:
            kept.append((arrays, out, n, true, tolerance))
    return kept


# --- the norm bound ------------------------------------------------------------------------

def _homogeneous(expression, p):
    """Pull positive factors out of every sum of p-th powers under a 1/p-th root in ``expression``."""
    import sympy

    def pull(root):
        base = sympy.factor_terms(sympy.expand_power_base(root.base, force=True))
        return sympy.powdenest(sympy.expand_power_base(base ** root.exp, force=True), force=True)

    return expression.replace(lambda e: e.is_Pow and e.exp == 1 / p, pull)


def _vector(name="g", size=3):
    """A symbolic gradient: ``size`` real entries, and its Euclidean norm."""
    import sympy

    g = sympy.Matrix(sympy.symbols(f"{name}_1:{size + 1}", real=True))
    return g, sympy.sqrt(g.dot(g))


def _evaluated(expression):
    """``doit`` (evaluate what was built unevaluated, to be shown as written), then simplify."""
    import sympy

    return sympy.simplify(sympy.factor(expression.doit(), deep=True))


def _derive_norm_bound() -> Derivation:
    import sympy

    d = Derivation()
    a, b, c, s, p = sympy.symbols("a b c s p", positive=True)
    d.say("Write $a, b, c$ for the entries' magnitudes, $s > 0$ for the scale and $p > 0$. "
          "torch's norm of a list is the $p$-norm of the arrays' $p$-norms:")
    two_level = (sympy.UnevaluatedExpr((a ** p + b ** p) ** (1 / p)) ** p + c ** p) ** (1 / p)
    d.equal("for $p > 0$ that is the $p$-norm of all entries as one vector (arrays $(a, b)$ and $(c)$);",
            two_level, (a ** p + b ** p + c ** p) ** (1 / p), simplify=_evaluated)
    d.equal("every norm (for torch every $p$, negative included) is positively homogeneous, so "
            "scaling all arrays by $s$ scales the norm by $s$:",
            ((s * a) ** p + (s * b) ** p) ** (1 / p), s * (a ** p + b ** p) ** (1 / p),
            simplify=lambda e: sympy.simplify(_homogeneous(e, p)))
    n, tau, eps = sympy.symbols("n tau varepsilon", positive=True)
    torch_norm = tau / (n + eps) * n
    d.equal("torch scales by $\\tau/(n + \\varepsilon)$ when that is below 1, so the clipped norm is "
            "$\\tau n/(n+\\varepsilon)$, below $\\tau$ by",
            tau - torch_norm, tau * eps / (n + eps))
    d.holds("which is positive: torch's clipped norm is strictly below $\\tau$, by its epsilon.",
            (tau * eps / (n + eps)).is_positive, r"\frac{\tau\varepsilon}{n + \varepsilon} > 0")
    g, norm = _vector()
    d.equal("TensorFlow's scale $\\tau\\min(1/n, 1/\\tau)$ is $\\tau/n$ when $n > \\tau$, and optax's "
            "$(g/n)\\tau$ and Pascanu's $g\\,\\tau/n$ are the same vector: its norm is exactly $\\tau$ "
            "(shown for three entries);", sympy.sqrt((tau / norm * g).dot(tau / norm * g)), tau,
            simplify=_evaluated, names={g.dot(g): sympy.Symbol(r"\|g\|^2")})
    d.say("Keras's $(g\\tau)/\\max(n_i, \\tau)$ is that vector for each array with $n_i > \\tau$, "
          "and $g$ itself otherwise: each array's norm becomes $\\min(n_i, \\tau)$.")
    d.say("In floating point the norm carries its summation's rounding and each product one more; "
          "with the squares overflowing the plain norm is $\\infty$ (torch and optax then scale by 0, "
          "TensorFlow returns NaN), and with them underflowing it can fall below the truth, so "
          "the bound is checked for the overflow-safe norm on every input and for the plain "
          "one where its sum stayed in range.")
    d.conclude("\\begin{aligned}\n"
               r"\|\mathrm{clip}(g)\| &= \min(\|g\|, \tau) && \text{(TF, optax, Pascanu; Keras per array)}, \\" "\n"
               r"\|\mathrm{clip}_{\text{torch}}(g)\| &= \|g\|\min\Big(1, \frac{\tau}{\|g\| + \varepsilon}\Big) < \tau"
               "\n\\end{aligned}")
    return d


def _expected_clipped_norm(true: float, tau: float, convention: str) -> float:
    epsilon = _rule(convention).epsilon
    return true * min(1.0, tau / (true + epsilon)) if epsilon else min(true, tau)


def _check_norm_bound(data, device: str) -> Evidence:
    convention, grads, p, tau = _draw_case(data)
    evidence = Evidence.vacuous("of τ")
    for engine, clipped, norm, safe in _runs(convention, grads, tau, p, device):
        for arrays, out, n, true, tolerance in _judged(engine, convention, grads, clipped, norm, p, safe):
            after = _true_norm(out, p)
            # The norm's own error, then at most four roundings of the scale and one of each product.
            bound = tolerance + 6 * _coarsest(arrays, n)
            if not after <= tau * (1 + bound):
                raise Mismatch(f"{engine} ({convention}, p = {p}): the clipped norm {after!r} exceeds "
                               f"τ = {tau!r} by more than the rounding {bound:.3g}")
            within_tau = Evidence.bound(after, tau, allowed=tau * (1 + bound), unit="of τ")
            expected = _expected_clipped_norm(true, tau, convention)
            if p >= 1:  # a norm: rounding each entry moves it by at most its own relative error
                floor = sum(a.size * _underflow_floor(convention, a.dtype, tau) for a in arrays)
                if not after >= expected * (1 - bound) - floor:
                    raise Mismatch(f"{engine} ({convention}, p = {p}): the clipped norm {after!r} is below "
                                   f"{expected!r} (‖g‖ = {true!r}, τ = {tau!r}) by more than the rounding")
                within_tau = within_tau.beside(Evidence.within(max(expected - after, 0.0), expected * bound + floor,
                                                       "below the expected norm"))
            evidence = evidence.worse(within_tau)
    return evidence


register(Theorem(
    id="clip-norm-bound",
    family=FAMILY.id,
    title=r"Norm clipping bounds the norm by $\tau$",
    statement=r"For $\tau > 0$, every convention's clipped gradient has norm at most $\tau$: exactly "
              r"$\min(\|g\|, \tau)$ for TensorFlow, optax and Pascanu's Algorithm 1 (Keras: each array's norm "
              r"$\min(\|g_i\|, \tau)$), and $\|g\|\min(1, \tau/(\|g\| + 10^{-6})) < \tau$ for torch with any "
              r"$p$, up to the norm's and the products' rounding. With the overflow-safe norm this holds for every "
              r"finite $g$; with the plain one wherever its sum of squares neither overflows nor underflows "
              "(overflow makes torch and optax return zeros, TensorFlow NaN).",
    latex=r"\|\mathrm{clip}(g)\| \le \tau,\qquad \|\mathrm{clip}_{\text{torch}}(g)\|_p = "
          r"\|g\|_p\min\Big(1, \frac{\tau}{\|g\|_p + 10^{-6}}\Big)",
    source=SOURCE + "; each framework's formula as read in its source (the appendix below)",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_norm_bound,
    check=_check_norm_bound,
))


# --- one factor for every array ----------------------------------------------------------------

def _derive_direction() -> Derivation:
    import sympy

    d = Derivation()
    s, t = sympy.symbols("s t", positive=True)
    d.say("Each global convention computes one scale $s$ from the global norm and multiplies "
          "every array by it (torch: $\\min(\\tau/(n+\\varepsilon), 1)$; TensorFlow: "
          "$\\tau\\min(1/n, 1/\\tau)$; optax and Pascanu: $\\tau/n$ or 1).")
    g, norm = _vector()
    d.equal("For $s > 0$ the cosine between $s\\,g$ and $g$ is 1: the direction is kept,",
            (s * g).dot(g) / (sympy.sqrt((s * g).dot(s * g)) * norm), 1, simplify=_evaluated)
    d.equal("while a negative scale $s = -t$ (a negative $\\tau$ in torch, optax and Pascanu) reverses it.",
            (-t * g).dot(g) / (sympy.sqrt((-t * g).dot(-t * g)) * norm), -1, simplify=_evaluated)
    first, second = sympy.Matrix([3, 4]), sympy.Matrix([sympy.Rational(3, 10), sympy.Rational(2, 5)])
    kept = sympy.Matrix([*(first / 5), *second])  # τ = 1: the first array (norm 5) clipped, the second (½) not
    whole = sympy.Matrix([*first, *second])
    cosine = kept.dot(whole) / (sympy.sqrt(kept.dot(kept)) * sympy.sqrt(whole.dot(whole)))
    d.holds("Keras's clipnorm scales each array by its own factor $\\tau/\\max(n_i, \\tau)$: with "
            "$\\tau = 1$, arrays $(3, 4)$ and $(0.3, 0.4)$ become $(0.6, 0.8)$ and $(0.3, 0.4)$, and the "
            "list's cosine with the original falls below 1 although each array keeps its direction.",
            cosine < 1, f"\\cos = {sympy.latex(sympy.nsimplify(cosine))} \\approx {float(cosine):.4f} < 1")
    d.conclude(r"\mathrm{clip}(g) = s\,g,\ s > 0 \implies \cos\angle(\mathrm{clip}(g), g) = 1")
    return d


def _check_direction(data, device: str) -> Evidence:
    convention, grads, p, tau = _draw_case(data)
    evidence = Evidence.vacuous("ulps")
    for engine, clipped, norm, safe in _runs(convention, grads, tau, p, device):
        for arrays, out, n, true, _ in _judged(engine, convention, grads, clipped, norm, p, safe):
            g = [np.ravel(a).astype(np.float64) for a in arrays]
            c = [np.ravel(a).astype(np.float64) for a in out]
            sizes = [a.size for a in g]
            flat_g, flat_c = np.concatenate(g), np.concatenate(c)
            owner = np.repeat(np.arange(len(g)), sizes)
            u = np.array([_u(a.dtype) for a in arrays])[owner]
            tiny = np.array([_underflow_floor(convention, a.dtype, tau) for a in arrays])[owner]
            if not np.any(np.abs(flat_c) > tiny):  # every product underflowed: no factor to read
                shifted = true + _rule(convention).epsilon
                scale = min(1.0, tau / shifted) if shifted > 0 else 1.0
                if not np.all(np.abs(flat_g) * scale <= 2 * tiny):
                    raise Mismatch(f"{engine} ({convention}): every clipped entry is below the underflow "
                                   f"level, although g scaled by {scale!r} is not")
                continue
            # Read the factor off the entry farthest above its underflow level.
            with np.errstate(divide="ignore"):
                k = int(np.argmax(np.log2(np.abs(flat_c)) - np.log2(tiny)))
            factor = flat_c[k] / flat_g[k]
            if not factor > 0:
                raise Mismatch(f"{engine} ({convention}): the factor {factor!r} is not positive for τ = {tau!r}")
            # Entry i and the reference entry k each carry ≤ 2 roundings (scale to its dtype, product).
            allowed = 3 * (u + u[k]) * np.abs(factor * flat_g) + tiny
            deviation = np.abs(flat_c - factor * flat_g)
            if not np.all(deviation <= allowed):
                i = int(np.argmax(deviation - allowed))
                raise Mismatch(f"{engine} ({convention}): entry {i} was scaled by {flat_c[i] / flat_g[i]!r}, "
                               f"the largest entry by {factor!r}: not one factor for all arrays")
            ulps = np.concatenate([_ulps(np.ravel(a)) for a in out])
            evidence = evidence.worse(_in_ulps(deviation, allowed, ulps))
    return evidence


register(Theorem(
    id="clip-direction",
    family=FAMILY.id,
    title="Norm clipping keeps the direction: one factor for every array",
    statement=r"torch, TensorFlow (and Keras's `global_clipnorm`), optax and Pascanu multiply every array "
              r"by the same factor $s > 0$ "
              r"(for $\tau > 0$), so the clipped gradient points where $g$ does (cosine 1), up to one "
              "rounding per entry; Keras's clipnorm scales each array by its own factor, so only "
              r"each array's direction is kept. A negative $\tau$ (torch, optax, Pascanu) reverses it.",
    latex=r"\mathrm{clip}(g)_i = s\,g_i\ \forall i,\ s > 0 \implies \cos\angle(\mathrm{clip}(g), g) = 1",
    source=SOURCE + "; PyTorch's test of `clip_grad_norm_` (all grads scaled by one factor)",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_direction,
    check=_check_direction,
))


# --- unchanged below the trigger ---------------------------------------------------------------

def _derive_unchanged() -> Derivation:
    import sympy

    d = Derivation()
    n, eps, delta, tau = sympy.symbols("n varepsilon delta tau", positive=True)
    d.equal("torch: with $\\tau = n + \\varepsilon + \\delta$, $\\delta \\ge 0$, the coefficient "
            "before the clamp exceeds 1 by", tau.subs(tau, n + eps + delta) / (n + eps) - 1,
            delta / (n + eps), label=r"\frac{\tau}{n + \varepsilon} - 1")
    d.holds("which is non-negative, so $\\min(\\cdot, 1) = 1$ and $g\\cdot 1 = g$ to the last bit.",
            (delta / (n + eps)).is_nonnegative)
    t = sympy.Symbol("t", positive=True)
    d.equal("TensorFlow: for $n = \\tau/(1 + t) < \\tau$ the scale $\\tau\\min(1/n, 1/\\tau)$ is "
            "$\\tau\\cdot(1/\\tau)$, 1 in exact arithmetic; in floating point one rounding of $1/\\tau$ "
            "may leave it one ulp below 1 (Keras's `global_clipnorm` rounds a float64 $1/\\tau$ and "
            "$\\tau$ to the dtype: two ulps either way).",
            tau * sympy.Min((1 + t) / tau, 1 / tau, evaluate=False), 1, simplify=_evaluated)
    d.equal("Keras: for $n_i = \\tau/(1 + t)$, $(g\\tau)/\\max(n_i, \\tau) = (g\\tau)/\\tau$: $g$ after "
            "two roundings.", n * tau / sympy.Max(tau / (1 + t), tau, evaluate=False), n, simplify=_evaluated)
    d.say("optax keeps $g$ itself when $n < \\tau$ (a select, no arithmetic), and Algorithm 1 "
          "when $n < \\tau$ (its test is $n \\ge \\tau$).")
    d.conclude("\\begin{aligned}\n"
               r"n + \varepsilon \le \tau\ (\text{torch}),\ n < \tau\ (\text{optax, Pascanu}) &\implies "
               r"\mathrm{clip}(g) = g, \\" "\n"
               r"n \le \tau\ (\text{TF, Keras}) &\implies |\mathrm{clip}(g)_i - g_i| \le \text{one ulp}"
               "\n\\end{aligned}")
    return d


def _check_unchanged(data, device: str) -> Evidence:
    convention, grads, p, _ = _draw_case(data)
    arrays = _arrays(grads)
    norms = [_true_norm(arrays, p)] if not _per_array(convention) else [_true_norm([g], p) for g in arrays]
    margin = clipping.norm_tolerance(arrays, p, convention=convention) + 8 * _coarsest(arrays)
    # τ above the trigger by more than the norm's rounding: n + ε for torch, n for the others.
    trigger = (max(norms) + _rule(convention).epsilon) * (1 + margin)
    low, high = _tau_range(convention, arrays, max(norms))
    assume(0 < max(trigger, low) <= high)
    tau = min(max(trigger * data.draw(st.floats(1.0, 100.0), label="τ / (trigger · (1 + margin))"), low), high)
    evidence = Evidence.vacuous("ulps")  # torch, optax and Pascanu: unchanged to the bit
    for engine, clipped, norm, safe in _runs(convention, grads, tau, p, device):
        for group, out, _, _, _ in _judged(engine, convention, grads, clipped, norm, p, safe):
            for g, c in zip(group, out):
                difference = np.abs(c.astype(np.float64) - g.astype(np.float64))
                roundings = _rule(convention).roundings_below
                if roundings:  # TensorFlow's τ·(1/τ) and Keras's (g·τ)/τ: one rounding each way; Keras's
                    # global τ·(1/τ) rounds τ and a float64 1/τ to the dtype: one rounding more
                    allowed = roundings * _u(g.dtype) * np.abs(g.astype(np.float64)) + float(np.finfo(g.dtype).tiny)
                    if not np.all(difference <= allowed):
                        i = int(np.argmax(np.where(difference <= allowed, -np.inf, 1.0)))
                        raise Mismatch(f"{engine} ({convention}): below the trigger (τ = {tau!r}, norms "
                                       f"{norms}) entry {i} moved from {g.ravel()[i]!r} to "
                                       f"{c.ravel()[i]!r}, more than one rounding")
                    if difference.size:
                        evidence = evidence.worse(_in_ulps(difference, allowed, _ulps(g)))
                elif c.tobytes() != g.tobytes():
                    i = int(np.argmax(np.where(c == g, -np.inf, 1.0)))
                    raise Mismatch(f"{engine} ({convention}): below the trigger (τ = {tau!r}, norms {norms}) "
                                   f"the gradient changed: entry {i} from {g.ravel()[i]!r} to {c.ravel()[i]!r}")
    return evidence


register(Theorem(
    id="clip-unchanged-below-trigger",
    family=FAMILY.id,
    title="Below the trigger, clipping leaves the gradient alone",
    statement=r"When the norm is below the convention's trigger ($n + 10^{-6} \le \tau$ for torch, $n < \tau$ "
              r"otherwise, with a margin for the norm's rounding), torch, optax and Pascanu return $g$ "
              r"bit for bit; TensorFlow (scale $\tau\cdot(1/\tau)$) and Keras ($(g\tau)/\tau$) return $g$ within one "
              r"rounding per entry, Keras's `global_clipnorm` ($\tau\cdot(1/\tau)$ with $1/\tau$ taken in float64) "
              "within two.",
    latex=r"\|g\| + \varepsilon \le \tau \implies \mathrm{clip}_{\text{torch}}(g) = g",
    source=SOURCE + "; PyTorch's test of `clip_grad_norm_` (small grads unchanged, scale exactly 1)",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_unchanged,
    check=_check_unchanged,
))


# --- idempotent ------------------------------------------------------------------------

def _derive_idempotent() -> Derivation:
    import sympy

    d = Derivation()
    n, tau, eps = sympy.symbols("n tau varepsilon", positive=True)
    g, norm = _vector()
    d.equal("TensorFlow, optax, Pascanu, Keras: a clipped gradient $(\\tau/n)\\,g$ has norm exactly "
            "$\\tau$,", sympy.sqrt((tau / norm * g).dot(tau / norm * g)), tau, simplify=_evaluated,
            names={g.dot(g): sympy.Symbol(r"\|g\|^2")})
    d.say("so clipping it again scales by $\\tau\\min(1/\\tau, 1/\\tau) = 1$ (TensorFlow), "
          "$(g/\\tau)\\tau$ (optax), $\\tau/\\tau$ (Pascanu) or $\\tau/\\max(\\tau, \\tau)$ (Keras): "
          "it is left as it is.")
    first = tau / (n + eps)
    after = first * n
    second = tau / (after + eps)
    d.say("torch: after one clip ($n + \\varepsilon > \\tau$) the norm is $\\tau n/(n + \\varepsilon)$, "
          "and a second clip multiplies by $f_2 = \\tau/(\\tau n/(n+\\varepsilon) + \\varepsilon)$.")
    d.equal("Then $1 - f_2$ is", 1 - second, eps * (n + eps - tau) / (tau * n + eps * (n + eps)), label="1 - f_2")
    d.equal("and $\\varepsilon/\\tau - (1 - f_2)$ is", eps / tau - (1 - second),
            eps * (tau ** 2 - tau * eps + eps * (n + eps)) / (tau * (tau * n + eps * (n + eps))),
            label=r"\frac{\varepsilon}{\tau} - (1 - f_2)", lines=True)
    d.equal("whose numerator is positive: $\\tau^2 - \\tau\\varepsilon + \\varepsilon^2$ is a sum of squares,",
            tau ** 2 - tau * eps + eps ** 2, (tau - eps / 2) ** 2 + 3 * eps ** 2 / 4)
    d.say("so for $n + \\varepsilon \\ge \\tau$ the second clip shrinks by a factor in "
          "$[1 - \\varepsilon/\\tau, 1]$: torch's clipping is idempotent up to its epsilon.")
    d.conclude("\\begin{aligned}\n"
               r"\mathrm{clip}(\mathrm{clip}(g)) &= \mathrm{clip}(g) && \text{(TF, optax, Pascanu, Keras)}, \\" "\n"
               r"\mathrm{clip}_{\text{torch}}^2(g) &= f_2\,\mathrm{clip}_{\text{torch}}(g),\ "
               r"1 - \frac{\varepsilon}{\tau} \le f_2 \le 1 && \text{(torch)}"
               "\n\\end{aligned}")
    return d


def _check_idempotent(data, device: str) -> Evidence:
    convention, grads, p, tau = _draw_case(data)
    evidence = Evidence.vacuous("ulps")
    torch_clip = _torch_clip(convention, device) if _rule(convention).in_torch else None
    engines = [("numpy", lambda g: clipping.clip_grad_norm(g, tau, p, convention=convention)),
               ("numpy, safe_norm", lambda g: clipping.clip_grad_norm(g, tau, p, convention=convention,
                                                                       safe_norm=True))]
    if torch_clip is not None:
        engines.append((f"torch.nn.utils.{_rule(convention).in_torch} ({device})", lambda g: torch_clip(g, tau, p)))
    for engine, clip in engines:
        once, norm = clip(grads)
        groups = _judged(engine, convention, grads, once, norm, p, engine.endswith("safe_norm"))
        if len(groups) < (len(_arrays(grads)) if _per_array(convention) else 1):
            continue  # a plain norm that under- or overflowed: its safe run covers this input
        if _per_array(convention):  # the second pass forms clip(g)·τ, which must not underflow either
            low, high = _tau_range(convention, _arrays(once), 0.0)
            if not low <= tau <= high:
                continue
        twice, again = clip(once)
        if len(_judged(engine, convention, once, twice, again, p, engine.endswith("safe_norm"))) < len(groups):
            continue  # the plain norm of the clipped gradient under- or overflowed: the safe run covers it
        arrays = _arrays(grads)
        # The second norm is τ within its rounding; torch shrinks again by at most ε/τ.
        allowed_relative = (max(clipping.norm_tolerance(arrays, p, convention=convention),
                                clipping.norm_tolerance(_arrays(once), p, convention=convention))
                            + 8 * _coarsest(arrays) + _rule(convention).epsilon / tau)
        for i, (a, b) in enumerate(zip(once, twice)):
            if a is None:
                continue
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            floor = _underflow_floor(convention, a.dtype, tau)
            difference = np.abs(b64 - a64)
            if not np.all(difference <= allowed_relative * np.abs(a64) + floor):
                k = int(np.argmax(difference - allowed_relative * np.abs(a64)))
                raise Mismatch(f"{engine} ({convention}, τ = {tau!r}, p = {p}): clipping twice moved "
                               f"grads[{i}] entry {k} from {a.ravel()[k]!r} to {b.ravel()[k]!r}, more than "
                               f"{allowed_relative:.3g} of it")
            allowed = allowed_relative * np.abs(a64) + floor
            if difference.size:
                evidence = evidence.worse(_in_ulps(difference, allowed, _ulps(a)))
    return evidence


register(Theorem(
    id="clip-idempotent",
    family=FAMILY.id,
    title="Clipping twice is clipping once (torch: up to its epsilon)",
    statement=r"$\mathrm{clip}(\mathrm{clip}(g)) = \mathrm{clip}(g)$ for TensorFlow, optax, Pascanu and Keras, up "
              r"to the rounding of the norm; torch's second clip shrinks again by a factor in "
              r"$[1 - 10^{-6}/\tau, 1]$.",
    latex=r"\mathrm{clip}(\mathrm{clip}(g)) = \mathrm{clip}(g);\quad "
          r"\mathrm{clip}^2_{\text{torch}}(g) = f_2\,\mathrm{clip}_{\text{torch}}(g),\ 1 - \varepsilon/\tau \le f_2 \le 1",
    source=SOURCE,
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_idempotent,
    check=_check_idempotent,
))


# --- value clipping ----------------------------------------------------------------------------

def _derive_value() -> Derivation:
    import sympy

    d = Derivation()
    c, t, v = sympy.symbols("c t v", positive=True)

    def clamp(x):
        return sympy.Min(sympy.Max(x, -c, evaluate=False), c, evaluate=False)

    d.say("Clamp each entry to $[-c, c]$, $c \\ge 0$: $\\mathrm{clip}(x) = \\min(\\max(x, -c), c)$. "
          "Three cases, with $t, v > 0$:")
    d.equal("below, $x = -c - t$: the entry becomes $-c$,", clamp(-c - t), -c, simplify=_evaluated)
    d.equal("and its square shrinks: $x^2 - c^2$ is", (-c - t) ** 2 - c ** 2, t * (2 * c + t))
    d.equal("above, $x = c + t$: the entry becomes $c$,", clamp(c + t), c, simplify=_evaluated)
    inside = c * (1 - v) / (1 + v)  # sweeps (−c, c) as v runs over (0, ∞)
    d.equal("inside, $x = c(1 - v)/(1 + v)$ (every point of $(-c, c)$): $x + c$ and $c - x$ are",
            sympy.Matrix([inside + c, c - inside]), sympy.Matrix([2 * c / (1 + v), 2 * c * v / (1 + v)]))
    d.say("both positive, so $\\max(x, -c) = x$, $\\min(x, c) = x$: entries with $|x| \\le c$ are unchanged.")
    d.say("So every clipped entry has $|\\mathrm{clip}(x)| \\le c$ and $\\mathrm{clip}(x)^2 \\le "
          "\\min(x^2, c^2)$; summing over the $d$ entries:",
          r"\|\mathrm{clip}(g)\|_2^2 \le \sum_i \min(g_i^2, c^2) \le \min(\|g\|_2^2,\ d\,c^2)")
    d.equal("The bound $c\\sqrt d$ is attained at $g = (c, c, c, c)$:",
            sympy.sqrt(sympy.Add(*[clamp(c) ** 2 for _ in range(4)], evaluate=False), evaluate=False),
            c * sympy.sqrt(4), simplify=_evaluated, label=r"\|\mathrm{clip}(g)\|_2",
            names={clamp(c): sympy.Symbol(r"\mathrm{clip}(c)")})
    before = sympy.Matrix([2 * c, c / 2])
    after = sympy.Matrix([clamp(2 * c), clamp(c / 2)]).doit()
    d.holds("and the direction may change: $(2c, c/2)$ clips to $(c, c/2)$, not parallel to it.",
            sympy.simplify(before[0] * after[1] - before[1] * after[0]) != 0,
            r"\det\begin{pmatrix} 2c & c \\ c/2 & c/2 \end{pmatrix} = \tfrac{c^2}{2} \ne 0")
    d.conclude(r"|\mathrm{clip}(g)_i| \le c,\quad |g_i| \le c \implies \mathrm{clip}(g)_i = g_i,\quad "
               r"\|\mathrm{clip}(g)\|_2 \le \min(\|g\|_2, c\sqrt d)")
    return d


def _check_value(data, device: str) -> Evidence:
    from gradproofs.clipping.oracle import torch_in_place

    grads = data.draw(strategies.gradient_lists(allow_none=True), label="grads")
    if not _arrays(grads):
        grads.append(data.draw(strategies.gradient_lists(min_arrays=1, max_arrays=1), label="one more")[0])
    arrays = _arrays(grads)
    largest = min([1e6] + [float(np.finfo(a.dtype).max) for a in arrays])  # torch raises beyond a dtype
    entries = [abs(float(x)) for a in arrays for x in a.ravel() if abs(float(x)) <= largest]
    options = [strategies.thresholds(max_value=largest, allow_zero=True, allow_infinity=True)]
    if entries:
        options.append(st.sampled_from(entries))
    c = data.draw(st.one_of(options), label="clip_value")
    clip_torch = torch_in_place(devices.torch().nn.utils.clip_grad_value_, device=device)
    evidence = None
    for engine, clipped in (("numpy", clipping.clip_grad_value(grads, c)),
                            (f"torch.nn.utils.clip_grad_value_ ({device})", clip_torch(grads, c))):
        squares, squares_before, ceiling = 0.0, 0.0, 0.0
        for i, (g, out) in enumerate(zip(grads, clipped)):
            if g is None:
                continue
            bound = float(g.dtype.type(c)) if math.isfinite(c) else math.inf  # c in the gradient's dtype
            values = out.astype(np.float64)
            if not np.all(np.abs(values) <= bound):
                raise Mismatch(f"{engine}: grads[{i}] holds {values[~(np.abs(values) <= bound)][0]!r} "
                               f"outside [−{bound}, {bound}]")
            evidence = Evidence.bound(np.max(np.abs(values), initial=0.0), bound).worse(evidence)
            small = np.abs(g.astype(np.float64)) <= bound
            if np.any(values[small] != g.astype(np.float64)[small]):
                raise Mismatch(f"{engine}: grads[{i}] changed an entry of magnitude ≤ c = {c!r}")
            squares += float(np.sum(values ** 2))
            squares_before += float(np.sum(g.astype(np.float64) ** 2))
            ceiling += g.size * bound * bound
        # The entrywise inequalities are exact; the float64 sums of squares are monotone, and d·c²
        # against a sum of d terms each ≤ c² needs d roundings.
        count = sum(g.size for g in arrays)
        bound = ceiling * (1 + count * 2.2e-16)
        if not (squares <= squares_before and squares <= bound):
            raise Mismatch(f"{engine}: ‖clip(g)‖₂² = {squares!r} exceeds min(‖g‖₂² = {squares_before!r}, "
                           f"d·c² = {bound!r})")
        evidence = Evidence.bound(squares, min(squares_before, ceiling),
                                  allowed=min(squares_before, bound)).worse(evidence)
    return evidence


register(Theorem(
    id="clip-value-bounds",
    family=FAMILY.id,
    title=r"Value clipping: every entry within $\pm c$, small entries untouched, "
          r"$\|\mathrm{clip}(g)\|_2 \le \min(\|g\|_2, c\sqrt d)$",
    statement=r"Clamping every entry to $[-c, c]$ ($c \ge 0$, as torch's `clip_grad_value_` and optax's `clip` "
              r"do; $c$ rounded to the gradient's dtype) keeps $|\mathrm{clip}(g)_i| \le c$, leaves every entry "
              r"with $|g_i| \le c$ exactly as it was, and so $\|\mathrm{clip}(g)\|_2 \le \min(\|g\|_2, c\sqrt d)$ "
              r"over the $d$ entries; the direction may change. It is the 'clip the slope at 15' rule.",
    latex=r"\|\mathrm{clip}_c(g)\|_\infty \le c,\quad \|\mathrm{clip}_c(g)\|_2 \le \min(\|g\|_2,\ c\sqrt d)",
    source="Pascanu, Mikolov & Bengio (2013) §3.2 (Mikolov's value clipping); `torch.nn.utils.clip_grad_value_`",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_value,
    check=_check_value,
))


# --- the clipped step --------------------------------------------------------------------------

def _derive_step() -> Derivation:
    import sympy

    d = Derivation()
    lr, tau = sympy.symbols(r"\mathrm{lr} tau", positive=True)
    d.say("One SGD step is $\\theta' = \\theta - \\mathrm{lr}\\cdot\\mathrm{clip}(g)$, so "
          "$\\theta' - \\theta = -\\mathrm{lr}\\,s\\,g$ with $s = \\tau/\\|g\\|$ when the clip fires "
          "(three entries shown):")
    g, norm = _vector()
    theta = sympy.Matrix(sympy.symbols("theta_1:4", real=True))
    step = theta - (theta - lr * (tau / norm) * g)
    d.equal("its length is $\\mathrm{lr}\\cdot\\tau$ exactly when clipped (and shorter otherwise),",
            sympy.sqrt(step.dot(step)), lr * tau, simplify=_evaluated, names={g.dot(g): sympy.Symbol(r"\|g\|^2")})
    k = 3
    d.equal(f"Keras bounds each of the $k$ arrays by $\\tau$, so $k = {k}$ arrays at the bound make a step "
            "$\\mathrm{lr}\\,\\tau\\sqrt{k}$:",
            lr * sympy.sqrt(sympy.Add(*[tau ** 2] * k, evaluate=False), evaluate=False),
            lr * tau * sympy.sqrt(k), simplify=_evaluated)
    c = sympy.Symbol("c", positive=True)
    d.equal("and value clipping at $c$ bounds each of the $d$ entries by $c$, so the step by "
            "$\\mathrm{lr}\\,c\\sqrt d$ ($d = 4$ entries at the bound shown):",
            lr * sympy.sqrt(sympy.Add(*[c ** 2] * 4, evaluate=False), evaluate=False),
            lr * c * sympy.sqrt(4), simplify=_evaluated)
    d.say("whatever $g$: a gradient from the cliff of an exploding recurrent network moves the "
          "parameters no further than any other, the reason clipping tames it.")
    d.conclude(r"\|\theta' - \theta\|_2 \le \mathrm{lr}\cdot\tau\ (\text{global}),\ "
               r"\mathrm{lr}\,\tau\sqrt{k}\ (\text{Keras}),\ \mathrm{lr}\,c\sqrt d\ (\text{value})")
    return d


def torch_sgd_step(device, grads, params, lr, clip):
    """One torch.optim.SGD step on ``device`` after ``clip(parameters)``; returns θ' as NumPy arrays."""
    torch = devices.torch()
    parameters = []
    for g, theta in zip(grads, params):
        parameter = torch.nn.Parameter(torch.from_numpy(theta.copy()).to(device))
        parameter.grad = torch.from_numpy(g.copy()).to(device)
        parameters.append(parameter)
    clip(parameters)
    torch.optim.SGD(parameters, lr=lr).step()
    return [p.detach().cpu().numpy() for p in parameters]


def _check_step(data, device: str) -> Evidence:
    torch = devices.torch()
    mode = data.draw(st.sampled_from(["norm", "value"]), label="clipping")
    convention, grads, _, tau = _draw_case(data, any_p=False, dtypes=("float32", "float64"))
    grads = _arrays(grads)
    params = [data.draw(strategies.gradient_lists(min_arrays=1, max_arrays=1, dtypes=(g.dtype.name,),
                                                  min_magnitude=1e-3, max_magnitude=1.0),
                        label=f"θ[{i}] (its shape is redrawn as grads[{i}]'s)")[0] for i, g in enumerate(grads)]
    params = [np.resize(theta, g.shape).astype(g.dtype) for theta, g in zip(params, grads)]
    lr = data.draw(st.floats(1e-4, 1.0), label="lr")
    if mode == "value":
        c = min(tau, 6e4)
        bound = lr * c * math.sqrt(sum(g.size for g in grads))
        ours = clipping.clip_grad_value(grads, c)
        steps = {"numpy": ours, f"torch SGD after clip_grad_value_ ({device})": torch_sgd_step(
            device, grads, params, lr, lambda ps: torch.nn.utils.clip_grad_value_(ps, c))}
        label = f"lr·c·√d = {bound!r}"
    else:
        engine = f"numpy ({convention})"
        ours, norm = clipping.clip_grad_norm(grads, tau, convention=convention)
        groups = _judged(engine, convention, grads, ours, norm, 2.0, False)
        if len(groups) < (len(grads) if _per_array(convention) else 1):
            # The plain sum of squares under- or overflowed (its outcome checked): step with the safe norm.
            engine = f"numpy ({convention}, safe_norm)"
            ours, norm = clipping.clip_grad_norm(grads, tau, convention=convention, safe_norm=True)
            if not np.all(np.isfinite(norm)):
                return Evidence.vacuous("of the bound")  # a norm the dtype cannot hold: zeros, or TensorFlow's NaN
        bound = lr * tau * (math.sqrt(len(grads)) if _per_array(convention) else 1.0)
        steps = {engine: ours}
        if _rule(convention).in_torch:
            in_torch = getattr(torch.nn.utils, _rule(convention).in_torch)
            steps[f"torch SGD after {_rule(convention).in_torch} ({device})"] = torch_sgd_step(
                device, grads, params, lr, lambda ps: in_torch(ps, tau))
        label = f"lr·τ{'·√k' if _per_array(convention) else ''} = {bound!r}"
    evidence = None
    for engine, result in steps.items():
        if engine.startswith("numpy"):
            after = [(theta - g.dtype.type(lr) * c).astype(g.dtype) for theta, g, c in zip(params, grads, result)]
        else:
            after = result
        step = math.sqrt(sum(float(np.sum((a.astype(np.float64) - t.astype(np.float64)) ** 2))
                             for a, t in zip(after, params)))
        # The clipped gradient's norm rounding, lr's product, and the subtraction's rounding of θ'.
        rounding = (clipping.norm_tolerance(grads) + 8 * _coarsest(grads)) * bound + 2 * _coarsest(grads) * math.sqrt(
            sum(float(np.sum(a.astype(np.float64) ** 2)) for a in after))
        if not step <= bound + rounding:
            raise Mismatch(f"{engine}: the step ‖θ′ − θ‖₂ = {step!r} exceeds {label} (rounding {rounding:.3g})")
        evidence = Evidence.bound(step, bound, allowed=bound + rounding).worse(evidence)
    return evidence


register(Theorem(
    id="clip-sgd-step",
    family=FAMILY.id,
    title=r"A clipped SGD step moves the parameters at most $\mathrm{lr}\cdot\tau$",
    statement=r"After norm clipping at $\tau$ (torch, TensorFlow, optax, Pascanu) one SGD step "
              r"$\theta' = \theta - \mathrm{lr}\cdot\mathrm{clip}(g)$ has $\|\theta' - \theta\|_2 \le "
              r"\mathrm{lr}\cdot\tau$, whatever $g$ (with the overflow-safe norm where the squares leave the "
              "dtype's range: there TensorFlow's own norm gives NaN or no clipping at all); after Keras's "
              r"per-array clipnorm, $\le \mathrm{lr}\,\tau\sqrt k$ for $k$ arrays; after value clipping at $c$, "
              r"$\le \mathrm{lr}\,c\sqrt d$ for $d$ entries; up to the rounding of $\theta'$. This is why "
              "clipping tames the cliff of an exploding recurrent network.",
    latex=r"\|\theta' - \theta\|_2 = \mathrm{lr}\,\|\mathrm{clip}(g)\|_2 \le \mathrm{lr}\cdot\tau",
    source=SOURCE,
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_step,
    check=_check_step,
))
