"""Clipping: the norm bound, one factor for every array, the trigger, idempotence, value
clipping and the step it bounds."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradproofs import clipping, devices, strategies
from gradproofs.catalogue import Derivation, Evidence, Family, Theorem, family, register
from gradproofs.errors import Mismatch

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
))

SOURCE = "Pascanu, Mikolov & Bengio (2013), On the difficulty of training recurrent neural networks, §3.2, Algorithm 1"
GLOBAL = ("torch", "tensorflow", "optax", "pascanu")
EPSILON = clipping.TORCH_EPSILON


# --- shared numerics ---------------------------------------------------------------------

def _u(dtype) -> float:
    """The unit roundoff of ``dtype``."""
    return float(np.finfo(dtype).eps) / 2


def _arrays(grads) -> list:
    return [g for g in grads if g is not None]


def _true_norm(arrays, p: float) -> float:
    """The p-norm of every entry as one vector, in float64 without over- or underflow."""
    if not arrays:
        return 0.0
    if math.isinf(p):
        flat = np.concatenate([np.abs(np.ravel(a)).astype(np.float64) for a in arrays])
        return float(flat.max() if p > 0 else flat.min()) if flat.size else 0.0
    return clipping._scaled_norm(arrays, p)


def _coarsest(arrays, norm=None) -> float:
    """The largest unit roundoff among the arrays' dtypes and the norm's."""
    dtypes = [a.dtype for a in arrays] + ([np.asarray(norm).dtype] if norm is not None else [])
    return max(_u(d) for d in dtypes)


def _groups(grads, clipped, norm, convention):
    """(gradients, clipped, computed norm) per norm the convention measures: one, or one per array (Keras)."""
    pairs = [(g, c) for g, c in zip(grads, clipped) if g is not None]
    if convention != "keras":
        return [([g for g, _ in pairs], [c for _, c in pairs], norm)]
    norms = [n for n in norm if n is not None]
    return [([g], [c], n) for (g, c), n in zip(pairs, norms)]


def _tau_limit(convention: str, arrays) -> float:
    """The largest τ the convention's arithmetic holds in these dtypes.

    TensorFlow casts τ to the gradients' dtype (float16: ∞ past 65504, and then
    NaN); Keras does too, and forms g·τ before dividing, which must not
    overflow either. The others: no limit.
    """
    if convention == "tensorflow":
        return min(float(np.finfo(a.dtype).max) for a in arrays)
    if convention == "keras":
        return min(float(np.finfo(a.dtype).max) / max(1.0, float(np.max(np.abs(a), initial=0)))
                   for a in arrays)
    return math.inf


def _draw_case(data, *, conventions=clipping.CONVENTIONS, any_p=True, dtypes=strategies.GRADIENT_DTYPES):
    """A convention, finite gradients, p (any for torch) and τ > 0, often near or at the norm.

    τ stays within :func:`_tau_limit`; beyond it TensorFlow and Keras overflow
    in float16, which the edge-case tests cover.
    """
    convention = data.draw(st.sampled_from(conventions), label="convention")
    p = data.draw(strategies.norm_types(allow_negative=True), label="norm_type") \
        if convention == "torch" and any_p else 2.0
    grads = data.draw(strategies.gradient_lists(mixed_dtypes=convention != "tensorflow", allow_none=True,
                                                dtypes=dtypes), label="grads")
    if not _arrays(grads):
        grads.append(data.draw(strategies.gradient_lists(min_arrays=1, max_arrays=1, dtypes=dtypes),
                               label="one more")[0])
    norms = [_true_norm(_arrays(grads), p)] if convention != "keras" else \
        [_true_norm([g], p) for g in _arrays(grads)]
    limit = _tau_limit(convention, _arrays(grads))
    usable = [n for n in norms if 0 < n < limit]
    options = [strategies.thresholds(max_value=min(1e6, limit))]
    if usable:
        at = data.draw(st.sampled_from(usable), label="the norm τ is drawn near")
        options += [st.just(at), st.floats(1e-3, 2.0).map(lambda r: min(r * at, limit))]
    tau = data.draw(st.one_of(options), label="max_norm")
    return convention, grads, p, tau


def _torch_clip(device):
    from gradproofs.oracle import torch_in_place

    return torch_in_place(devices.torch().nn.utils.clip_grad_norm_, device=device)


def _runs(convention, grads, tau, p, device, *, safe=True):
    """(engine, clipped, norm, accurate-norm required) for numpy (plain and safe) and, for torch, the real one."""
    runs = [("numpy", *clipping.clip_grad_norm(grads, tau, p, convention=convention), False)]
    if safe:
        runs.append(("numpy, safe_norm", *clipping.clip_grad_norm(grads, tau, p, convention=convention,
                                                                  safe_norm=True), True))
    if convention == "torch":
        runs.append((f"torch.nn.utils.clip_grad_norm_ ({device})", *_torch_clip(device)(grads, tau, p), False))
    return runs


def _representable(convention: str, arrays, p: float, tolerance: float) -> bool:
    """Whether the norm and, for torch's two levels, every array's norm fit their dtypes."""
    def fits(value, dtype):
        return value <= float(np.finfo(dtype).max) * (1 - tolerance)

    promoted = np.result_type(*arrays)
    if not fits(_true_norm(arrays, p), promoted):
        return False
    return convention not in ("torch", "pascanu") or all(fits(_true_norm([a], p), a.dtype) for a in arrays)


def _accurate(norm, true: float, tolerance: float, representable: bool) -> bool:
    """Whether a computed norm is the true one within ``tolerance`` (or ∞, where it cannot be held)."""
    norm = float(norm)
    return abs(norm - true) <= tolerance * true or (not representable and math.isinf(norm))


def _nonfinite_outcome(engine, convention, clipped, norm) -> None:
    """A finite gradient whose norm overflowed: zeros (g·0, or (g·τ)/∞), or NaN on purpose (TensorFlow)."""
    values = np.concatenate([np.ravel(c).astype(np.float64) for c in clipped]) if clipped else np.zeros(0)
    if convention == "tensorflow":
        if not np.all(np.isnan(values)):
            raise Mismatch(f"{engine}: the norm is {norm}, and TensorFlow turns every entry NaN then; "
                           f"got {values[~np.isnan(values)][:4].tolist()}")
    elif np.any(values != 0):
        raise Mismatch(f"{engine} ({convention}): the norm is {norm}, so every entry is scaled to 0; got "
                       f"{values[values != 0][:4].tolist()}")


# --- the norm bound ------------------------------------------------------------------------

def _homogeneous(expression):
    """Pull a positive factor out of a sum of p-th powers under a 1/p-th root."""
    import sympy

    base, exponent = expression.as_base_exp()
    base = sympy.factor_terms(sympy.expand_power_base(base, force=True))
    return sympy.powdenest(sympy.expand_power_base(base ** exponent, force=True), force=True)


def _derive_norm_bound() -> Derivation:
    import sympy

    d = Derivation()
    a, b, c, s, p = sympy.symbols("a b c s p", positive=True)
    d.say("Write $a, b, c$ for the entries' magnitudes, $s > 0$ for the scale and $p > 0$. "
          "torch's norm of a list is the $p$-norm of the arrays' $p$-norms:")
    two_level = (((a ** p + b ** p) ** (1 / p)) ** p + c ** p) ** (1 / p)
    d.equal("for $p > 0$ that is the $p$-norm of all entries as one vector (arrays $\\{a, b\\}$ and $\\{c\\}$);",
            two_level, (a ** p + b ** p + c ** p) ** (1 / p))
    d.equal("every norm (for torch every $p$, negative included) is positively homogeneous, so "
            "scaling all arrays by $s$ scales the norm by $s$:",
            _homogeneous(((s * a) ** p + (s * b) ** p) ** (1 / p)), s * (a ** p + b ** p) ** (1 / p))
    n, tau, eps = sympy.symbols("n tau epsilon", positive=True)
    torch_norm = tau / (n + eps) * n
    d.equal("torch scales by $\\tau/(n + \\varepsilon)$ when that is below 1, so the clipped norm is "
            "$\\tau n/(n+\\varepsilon)$, below $\\tau$ by",
            tau - torch_norm, tau * eps / (n + eps))
    d.holds("which is positive: torch's clipped norm is strictly below $\\tau$, by its epsilon.",
            (tau * eps / (n + eps)).is_positive, r"\frac{\tau\varepsilon}{n + \varepsilon} > 0")
    d.equal("TensorFlow's scale $\\tau\\min(1/n, 1/\\tau)$ is $\\tau/n$ when $n > \\tau$; optax's "
            "$(g/n)\\tau$ and Pascanu's $g\\,\\tau/n$ the same: the clipped norm is exactly $\\tau$.",
            tau / n * n, tau)
    d.equal("Keras divides each array by $\\max(n_i, \\tau)/\\tau$: each array's norm becomes "
            "$\\min(n_i, \\tau)$ ($n_i > \\tau$ shown).", n * tau / n, tau)
    d.say("In floating point the norm carries its summation's rounding and each product one more; "
          "with the squares overflowing the plain norm is ∞ (torch and optax then scale by 0, "
          "TensorFlow returns NaN), and with them underflowing it can fall below the truth, so "
          "the bound is checked for the overflow-safe norm on every input and for the plain "
          "one where its sum stayed in range.")
    d.conclude(r"\|\mathrm{clip}(g)\| = \min(\|g\|, \tau)\ \text{(TF, optax, Pascanu; Keras per array)},\quad "
               r"\|\mathrm{clip}_{\text{torch}}(g)\| = \|g\|\min\Big(1, \frac{\tau}{\|g\| + \varepsilon}\Big) < \tau")
    return d


def _expected_clipped_norm(true: float, tau: float, convention: str) -> float:
    if convention == "torch":
        return true * min(1.0, tau / (true + EPSILON))
    return min(true, tau)


def _check_norm_bound(data, device: str) -> Evidence:
    convention, grads, p, tau = _draw_case(data)
    slack = 1.0
    for engine, clipped, norm, safe in _runs(convention, grads, tau, p, device):
        for arrays, out, n in _groups(grads, clipped, norm, convention):
            true = _true_norm(arrays, p)
            tolerance = clipping.norm_tolerance(arrays, p, convention=convention) / 2
            if not _accurate(n, true, tolerance, _representable(convention, arrays, p, tolerance)):
                if safe:
                    raise Mismatch(f"{engine} ({convention}, p = {p}): the overflow-safe norm is {n!r}, "
                                   f"the true norm {true!r} (tolerance {tolerance:.3g})")
                if not np.isfinite(n):
                    _nonfinite_outcome(engine, convention, out, n)
                continue  # the plain sum under- or overflowed: the safe run covers this input
            if not np.isfinite(n):
                _nonfinite_outcome(engine, convention, out, n)
                continue
            after = _true_norm(out, p)
            # The norm's own error, then at most four roundings of the scale and one of each product.
            bound = tolerance + 6 * _coarsest(arrays, n)
            if not after <= tau * (1 + bound):
                raise Mismatch(f"{engine} ({convention}, p = {p}): the clipped norm {after!r} exceeds "
                               f"τ = {tau!r} by more than the rounding {bound:.3g}")
            expected = _expected_clipped_norm(true, tau, convention)
            if p >= 1:  # a norm: rounding each entry moves it by at most its own relative error
                floor = sum(a.size for a in arrays) * max(float(np.finfo(a.dtype).smallest_subnormal)
                                                          for a in arrays)
                if not after >= expected * (1 - bound) - floor:
                    raise Mismatch(f"{engine} ({convention}, p = {p}): the clipped norm {after!r} is below "
                                   f"{expected!r} (‖g‖ = {true!r}, τ = {tau!r}) by more than the rounding")
            slack = min(slack, 1 - after / tau)
    return Evidence.slack(slack)


register(Theorem(
    id="clip-norm-bound",
    family=FAMILY.id,
    title="Norm clipping bounds the norm by τ",
    statement="For τ > 0, every convention's clipped gradient has norm at most τ: exactly min(‖g‖, τ) "
              "for TensorFlow, optax and Pascanu's Algorithm 1 (Keras: each array's norm "
              "min(‖g_i‖, τ)), and ‖g‖·min(1, τ/(‖g‖ + 10⁻⁶)) < τ for torch with any p, up to the "
              "norm's and the products' rounding. With the overflow-safe norm this holds for every "
              "finite g; with the plain one wherever its sum of squares neither overflows nor "
              "underflows (overflow makes torch and optax return zeros, TensorFlow NaN).",
    latex=r"\|\mathrm{clip}(g)\| \le \tau,\qquad \|\mathrm{clip}_{\text{torch}}(g)\|_p = "
          r"\|g\|_p\min\Big(1, \frac{\tau}{\|g\|_p + 10^{-6}}\Big)",
    source=SOURCE + "; CLIPPING.md (each framework's formula)",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_norm_bound,
    check=_check_norm_bound,
))


# --- one factor for every array ----------------------------------------------------------------

def _derive_direction() -> Derivation:
    import sympy

    d = Derivation()
    q, s = sympy.symbols("Q s", positive=True)
    d.say("Each global convention computes one scale $s$ from the global norm and multiplies "
          "every array by it (torch: $\\min(\\tau/(n+\\varepsilon), 1)$; TensorFlow: "
          "$\\tau\\min(1/n, 1/\\tau)$; optax and Pascanu: $\\tau/n$ or 1). With "
          "$Q = \\langle g, g\\rangle > 0$:")
    d.equal("for $s > 0$ the cosine between $s\\,g$ and $g$ is 1: the direction is kept,",
            s * q / (sympy.sqrt(s ** 2 * q) * sympy.sqrt(q)), 1)
    t = sympy.Symbol("t", positive=True)
    d.equal("while a negative scale $s = -t$ (a negative τ in torch, optax and Pascanu) reverses it.",
            -t * q / (sympy.sqrt(t ** 2 * q) * sympy.sqrt(q)), -1)
    a, b = sympy.symbols("a b", positive=True)
    tau = sympy.Symbol("tau", positive=True)
    keras = [a * tau / a, tau * b / b]  # arrays of norms a > τ and b < τ
    d.holds("Keras's clipnorm scales each array by its own factor $\\tau/\\max(n_i, \\tau)$: for "
            "arrays of norms $a > \\tau$ and $b < \\tau$ the factors $\\tau/a$ and 1 differ, so the "
            "list's direction changes although each array keeps its own.",
            sympy.simplify(keras[0] - tau) == 0 and sympy.simplify(keras[1] - tau) == 0,
            r"\frac{\tau}{a} \ne 1 = \frac{\tau}{\max(b, \tau)}")
    d.conclude(r"\mathrm{clip}(g) = s\,g,\ s > 0 \implies \cos\angle(\mathrm{clip}(g), g) = 1")
    return d


def _check_direction(data, device: str) -> Evidence:
    convention, grads, p, tau = _draw_case(data)
    worst = 0.0
    for engine, clipped, norm, _ in _runs(convention, grads, tau, p, device):
        for arrays, out, n in _groups(grads, clipped, norm, convention):
            if not np.isfinite(n):
                continue  # the factor is 0 or NaN: the norm bound's outcome, not a direction
            g = [np.ravel(a).astype(np.float64) for a in arrays]
            c = [np.ravel(a).astype(np.float64) for a in out]
            sizes = [a.size for a in g]
            if not any(sizes):
                continue
            flat_g, flat_c = np.concatenate(g), np.concatenate(c)
            k = int(np.argmax(np.abs(flat_g)))
            if flat_g[k] == 0:
                if np.any(flat_c != 0):
                    raise Mismatch(f"{engine} ({convention}): a zero gradient clipped to non-zero entries")
                continue
            factor = flat_c[k] / flat_g[k]
            if not factor > 0:
                raise Mismatch(f"{engine} ({convention}): the factor {factor!r} is not positive for τ = {tau!r}")
            owner = np.repeat(np.arange(len(g)), sizes)
            u = np.array([_u(a.dtype) for a in arrays])[owner]
            tiny = np.array([float(np.finfo(a.dtype).tiny) for a in arrays])[owner]
            # Entry i and the reference entry k each carry ≤ 2 roundings (scale to its dtype, product).
            allowed = 3 * (u + u[k]) * np.abs(factor * flat_g) + tiny
            deviation = np.abs(flat_c - factor * flat_g)
            if not np.all(deviation <= allowed):
                i = int(np.argmax(deviation - allowed))
                raise Mismatch(f"{engine} ({convention}): entry {i} was scaled by {flat_c[i] / flat_g[i]!r}, "
                               f"the largest entry by {factor!r}: not one factor for all arrays")
            worst = max(worst, float(np.max(deviation / (np.abs(factor * flat_g) + tiny))))
    return Evidence.error(worst)


register(Theorem(
    id="clip-direction",
    family=FAMILY.id,
    title="Norm clipping keeps the direction: one factor for every array",
    statement="torch, TensorFlow, optax and Pascanu multiply every array by the same factor s > 0 "
              "(for τ > 0), so the clipped gradient points where g does (cosine 1), up to one "
              "rounding per entry; Keras's clipnorm scales each array by its own factor, so only "
              "each array's direction is kept. A negative τ (torch, optax, Pascanu) reverses it.",
    latex=r"\mathrm{clip}(g)_i = s\,g_i\ \forall i,\ s > 0 \implies \cos\angle(\mathrm{clip}(g), g) = 1",
    source=SOURCE + "; PyTorch's test of clip_grad_norm_ (all grads scaled by one factor)",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_direction,
    check=_check_direction,
))


# --- unchanged below the trigger ---------------------------------------------------------------

def _derive_unchanged() -> Derivation:
    import sympy

    d = Derivation()
    n, eps, delta, tau = sympy.symbols("n epsilon delta tau", positive=True)
    d.equal("torch: with $\\tau = n + \\varepsilon + \\delta$, $\\delta \\ge 0$, the coefficient "
            "before the clamp exceeds 1 by", tau.subs(tau, n + eps + delta) / (n + eps) - 1,
            delta / (n + eps))
    d.holds("which is non-negative, so $\\min(\\cdot, 1) = 1$ and $g\\cdot 1 = g$ to the last bit.",
            (delta / (n + eps)).is_nonnegative)
    d.equal("TensorFlow: for $n \\le \\tau$, $\\min(1/n, 1/\\tau) = 1/\\tau$ and the scale is "
            "$\\tau\\cdot(1/\\tau)$, 1 in exact arithmetic; in floating point one rounding of "
            "$1/\\tau$ may leave it one ulp below 1.", tau * (1 / tau), 1)
    d.equal("Keras: for $n_i \\le \\tau$, $(g\\tau)/\\max(n_i, \\tau) = (g\\tau)/\\tau$: $g$ after "
            "two roundings.", (n * tau) / tau, n)
    d.say("optax keeps $g$ itself when $n < \\tau$ (a select, no arithmetic), and Algorithm 1 "
          "when $n < \\tau$ (its test is $n \\ge \\tau$).")
    d.conclude(r"n + \varepsilon \le \tau\ (\text{torch}),\ n < \tau\ (\text{optax, Pascanu}):\ "
               r"\mathrm{clip}(g) = g;\quad n \le \tau\ (\text{TF, Keras}):\ |\mathrm{clip}(g)_i - g_i| "
               r"\le \text{one ulp}")
    return d


def _check_unchanged(data, device: str) -> Evidence:
    convention, grads, p, _ = _draw_case(data)
    arrays = _arrays(grads)
    norms = [_true_norm(arrays, p)] if convention != "keras" else [_true_norm([g], p) for g in arrays]
    largest = max(norms)
    if not math.isfinite(largest):
        largest = 0.0
    margin = clipping.norm_tolerance(arrays, p, convention=convention) + 8 * _coarsest(arrays)
    # τ above the trigger by more than the norm's rounding: n + ε for torch, n for the others.
    shift = EPSILON if convention == "torch" else 0.0
    ratio = data.draw(st.floats(1.0, 100.0), label="τ / (trigger · (1 + margin))")
    tau = (largest + shift) * (1 + margin) * ratio
    if tau == 0.0:
        tau = data.draw(strategies.thresholds(), label="max_norm")
    worst = 0.0
    for engine, clipped, norm, _ in _runs(convention, grads, tau, p, device):
        for g, c in zip(grads, clipped):
            if g is None:
                continue
            difference = np.abs(c.astype(np.float64) - g.astype(np.float64))
            if convention in ("tensorflow", "keras"):
                allowed = 2 * _u(g.dtype) * np.abs(g.astype(np.float64)) + float(np.finfo(g.dtype).smallest_subnormal)
                if not np.all(difference <= allowed):
                    i = int(np.argmax(np.where(difference <= allowed, -np.inf, 1.0)))
                    raise Mismatch(f"{engine} ({convention}): below the trigger (τ = {tau!r}, norms "
                                   f"{norms}) entry {i} moved from {g.ravel()[i]!r} to {c.ravel()[i]!r}, "
                                   "more than one rounding")
                worst = max(worst, float(np.max(difference / np.maximum(allowed, 1e-300), initial=0)))
            elif c.tobytes() != g.tobytes():
                i = int(np.argmax(difference))
                raise Mismatch(f"{engine} ({convention}): below the trigger (τ = {tau!r}, norms {norms}) "
                               f"the gradient changed: entry {i} from {g.ravel()[i]!r} to {c.ravel()[i]!r}")
    return Evidence.error(worst)


register(Theorem(
    id="clip-unchanged-below-trigger",
    family=FAMILY.id,
    title="Below the trigger, clipping leaves the gradient alone",
    statement="When the norm is below the convention's trigger (n + 10⁻⁶ ≤ τ for torch, n < τ "
              "otherwise, with a margin for the norm's rounding), torch, optax and Pascanu return g "
              "bit for bit; TensorFlow (scale τ·(1/τ)) and Keras ((g·τ)/τ) return g within one "
              "rounding per entry.",
    latex=r"\|g\| + \varepsilon \le \tau \implies \mathrm{clip}_{\text{torch}}(g) = g",
    source=SOURCE + "; PyTorch's test of clip_grad_norm_ (small grads unchanged, scale exactly 1)",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_unchanged,
    check=_check_unchanged,
))


# --- idempotent ------------------------------------------------------------------------

def _derive_idempotent() -> Derivation:
    import sympy

    d = Derivation()
    n, tau, eps = sympy.symbols("n tau epsilon", positive=True)
    d.equal("TensorFlow, optax, Pascanu, Keras: a clipped gradient has norm exactly $\\tau$, and "
            "clipping it again scales by $\\tau\\min(1/\\tau, 1/\\tau) = 1$ (TensorFlow), "
            "$(g/\\tau)\\tau$ (optax), $\\tau/\\tau$ (Pascanu), $\\tau/\\max(\\tau, \\tau)$ (Keras):",
            tau * sympy.Min(1 / tau, 1 / tau), 1)
    first = tau / (n + eps)
    after = first * n
    second = tau / (after + eps)
    d.say("torch: after one clip ($n + \\varepsilon > \\tau$) the norm is $\\tau n/(n + \\varepsilon)$, "
          "and a second clip multiplies by $f_2 = \\tau/(\\tau n/(n+\\varepsilon) + \\varepsilon)$.")
    d.equal("Then $1 - f_2$ is", 1 - second, eps * (n + eps - tau) / (tau * n + eps * (n + eps)))
    d.equal("and $\\varepsilon/\\tau - (1 - f_2)$ is", eps / tau - (1 - second),
            eps * (tau ** 2 - tau * eps + eps * (n + eps)) / (tau * (tau * n + eps * (n + eps))))
    d.equal("whose numerator is positive: $\\tau^2 - \\tau\\varepsilon + \\varepsilon^2$ is a sum of squares,",
            tau ** 2 - tau * eps + eps ** 2, (tau - eps / 2) ** 2 + 3 * eps ** 2 / 4)
    d.say("so for $n + \\varepsilon \\ge \\tau$ the second clip shrinks by a factor in "
          "$[1 - \\varepsilon/\\tau, 1]$: torch's clipping is idempotent up to its epsilon.")
    d.conclude(r"\mathrm{clip}(\mathrm{clip}(g)) = \mathrm{clip}(g)\ \text{(TF, optax, Pascanu, Keras)},\quad "
               r"\mathrm{clip}_{\text{torch}}^2(g) = f_2\,\mathrm{clip}_{\text{torch}}(g),\ "
               r"1 - \frac{\varepsilon}{\tau} \le f_2 \le 1")
    return d


def _check_idempotent(data, device: str) -> Evidence:
    convention, grads, p, tau = _draw_case(data)
    worst = 0.0
    torch_clip = _torch_clip(device) if convention == "torch" else None
    engines = [("numpy", lambda g: clipping.clip_grad_norm(g, tau, p, convention=convention)),
               ("numpy, safe_norm", lambda g: clipping.clip_grad_norm(g, tau, p, convention=convention,
                                                                       safe_norm=True))]
    if torch_clip is not None:
        engines.append((f"torch.nn.utils.clip_grad_norm_ ({device})", lambda g: torch_clip(g, tau, p)))
    for engine, clip in engines:
        once, norm = clip(grads)
        norms = norm if isinstance(norm, list) else [norm]
        if not all(np.isfinite(n) for n in norms if n is not None):
            continue  # an overflowed plain norm: zeros or NaN, the norm bound's outcome
        twice, _ = clip(once)
        arrays = _arrays(grads)
        # The second norm is τ within the first's rounding; torch shrinks again by at most ε/τ.
        allowed_relative = (clipping.norm_tolerance(arrays, p, convention=convention)
                            + 8 * _coarsest(arrays) + (EPSILON / tau if convention == "torch" else 0.0))
        for i, (a, b) in enumerate(zip(once, twice)):
            if a is None:
                continue
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            floor = float(np.finfo(a.dtype).tiny)
            difference = np.abs(b64 - a64)
            if not np.all(difference <= allowed_relative * np.abs(a64) + floor):
                k = int(np.argmax(difference - allowed_relative * np.abs(a64)))
                raise Mismatch(f"{engine} ({convention}, τ = {tau!r}, p = {p}): clipping twice moved "
                               f"grads[{i}] entry {k} from {a.ravel()[k]!r} to {b.ravel()[k]!r}, more than "
                               f"{allowed_relative:.3g} of it")
            worst = max(worst, float(np.max(difference / (np.abs(a64) + floor), initial=0)))
    return Evidence.error(worst)


register(Theorem(
    id="clip-idempotent",
    family=FAMILY.id,
    title="Clipping twice is clipping once (torch: up to its epsilon)",
    statement="clip(clip(g)) = clip(g) for TensorFlow, optax, Pascanu and Keras, up to the rounding "
              "of the norm; torch's second clip shrinks again by a factor in [1 − 10⁻⁶/τ, 1].",
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
        return sympy.Min(sympy.Max(x, -c), c)

    d.say("Clamp each entry to $[-c, c]$, $c \\ge 0$: $\\mathrm{clip}(x) = \\min(\\max(x, -c), c)$. "
          "Three cases, with $t, v > 0$:")
    d.equal("below, $x = -c - t$: the entry becomes $-c$,", clamp(-c - t), -c)
    d.equal("and its square shrinks: $x^2 - c^2$ is", (-c - t) ** 2 - c ** 2, t * (2 * c + t))
    d.equal("above, $x = c + t$: the entry becomes $c$,", clamp(c + t), c)
    inside = c * (1 - v) / (1 + v)  # sweeps (−c, c) as v runs over (0, ∞)
    d.equal("inside, $x = c(1 - v)/(1 + v)$ (every point of $(-c, c)$): $x + c$ and $c - x$ are",
            sympy.Matrix([inside + c, c - inside]), sympy.Matrix([2 * c / (1 + v), 2 * c * v / (1 + v)]))
    d.say("both positive, so $\\max(x, -c) = x$, $\\min(x, c) = x$: entries with $|x| \\le c$ are unchanged.")
    d.say("So every clipped entry has $|\\mathrm{clip}(x)| \\le c$ and $\\mathrm{clip}(x)^2 \\le "
          "\\min(x^2, c^2)$; summing over the $d$ entries:",
          r"\|\mathrm{clip}(g)\|_2^2 \le \sum_i \min(g_i^2, c^2) \le \min(\|g\|_2^2,\ d\,c^2)")
    d.equal("The bound $c\\sqrt d$ is attained at $g = (c, c, c, c)$:",
            sympy.sqrt(sum(clamp(c) ** 2 for _ in range(4))), c * sympy.sqrt(4))
    before, after = sympy.Matrix([2 * c, c / 2]), sympy.Matrix([clamp(2 * c), clamp(c / 2)])
    d.holds("and the direction may change: $(2c, c/2)$ clips to $(c, c/2)$, not parallel to it.",
            sympy.simplify(before[0] * after[1] - before[1] * after[0]) != 0,
            r"\det\begin{pmatrix} 2c & c \\ c/2 & c/2 \end{pmatrix} = \tfrac{c^2}{2} \ne 0")
    d.conclude(r"|\mathrm{clip}(g)_i| \le c,\quad |g_i| \le c \implies \mathrm{clip}(g)_i = g_i,\quad "
               r"\|\mathrm{clip}(g)\|_2 \le \min(\|g\|_2, c\sqrt d)")
    return d


def _check_value(data, device: str) -> Evidence:
    from gradproofs.oracle import torch_in_place

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
    slack = 1.0
    for engine, clipped in (("numpy", clipping.clip_grad_value(grads, c)),
                            (f"torch.nn.utils.clip_grad_value_ ({device})", clip_torch(grads, c))):
        squares, squares_before, count = 0.0, 0.0, 0
        for i, (g, out) in enumerate(zip(grads, clipped)):
            if g is None:
                continue
            bound = float(g.dtype.type(c)) if math.isfinite(c) else math.inf  # c in the gradient's dtype
            values = out.astype(np.float64)
            if not np.all(np.abs(values) <= bound):
                raise Mismatch(f"{engine}: grads[{i}] holds {values[~(np.abs(values) <= bound)][0]!r} "
                               f"outside [−{bound}, {bound}]")
            small = np.abs(g.astype(np.float64)) <= bound
            if np.any(values[small] != g.astype(np.float64)[small]):
                raise Mismatch(f"{engine}: grads[{i}] changed an entry of magnitude ≤ c = {c!r}")
            squares += float(np.sum(values ** 2))
            squares_before += float(np.sum(g.astype(np.float64) ** 2))
            count += g.size
        # The entrywise inequalities are exact; the float64 sums of squares are monotone, and d·c²
        # against a sum of d terms each ≤ c² needs d roundings.
        bound = c * c * count * (1 + count * 2.2e-16) if math.isfinite(c) else math.inf
        if not (squares <= squares_before and squares <= bound):
            raise Mismatch(f"{engine}: ‖clip(g)‖₂² = {squares!r} exceeds min(‖g‖₂² = {squares_before!r}, "
                           f"d·c² = {bound!r})")
        limit = min(squares_before, bound)
        if limit > 0:
            slack = min(slack, 1 - math.sqrt(squares / limit))
    return Evidence.slack(slack)


register(Theorem(
    id="clip-value-bounds",
    family=FAMILY.id,
    title="Value clipping: every entry within ±c, small entries untouched, ‖·‖₂ ≤ min(‖g‖₂, c√d)",
    statement="Clamping every entry to [−c, c] (c ≥ 0, as torch's clip_grad_value_ and optax's clip "
              "do; c rounded to the gradient's dtype) keeps |clip(g)_i| ≤ c, leaves every entry with "
              "|g_i| ≤ c exactly as it was, and so ‖clip(g)‖₂ ≤ min(‖g‖₂, c√d) over the d entries; "
              "the direction may change. It is the 'clip the slope at 15' rule.",
    latex=r"\|\mathrm{clip}_c(g)\|_\infty \le c,\quad \|\mathrm{clip}_c(g)\|_2 \le \min(\|g\|_2,\ c\sqrt d)",
    source="Pascanu, Mikolov & Bengio (2013) §3.2 (Mikolov's value clipping); torch.nn.utils.clip_grad_value_",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_value,
    check=_check_value,
))


# --- the clipped step --------------------------------------------------------------------------

def _derive_step() -> Derivation:
    import sympy

    d = Derivation()
    lr, tau, s, q = sympy.symbols("lr tau s Q", positive=True)
    d.say("One SGD step is $\\theta' = \\theta - \\mathrm{lr}\\cdot\\mathrm{clip}(g)$, so "
          "$\\theta' - \\theta = -\\mathrm{lr}\\,s\\,g$ with $s = \\tau/\\|g\\|$ when the clip fires; "
          "with $Q = \\|g\\|^2$:")
    d.equal("its length is $\\mathrm{lr}\\cdot\\tau$ exactly when clipped (and shorter otherwise),",
            lr * sympy.sqrt((tau / sympy.sqrt(q)) ** 2 * q), lr * tau)
    k = 3
    d.equal(f"Keras bounds each of the $k$ arrays by τ, so $k = {k}$ arrays at the bound make a step "
            "$\\mathrm{lr}\\,\\tau\\sqrt{k}$:", lr * sympy.sqrt(k * tau ** 2), lr * tau * sympy.sqrt(k))
    c, dim = sympy.symbols("c d", positive=True)
    d.equal("and value clipping at $c$ over $d$ entries bounds the step by $\\mathrm{lr}\\,c\\sqrt d$:",
            lr * sympy.sqrt(dim * c ** 2), lr * c * sympy.sqrt(dim))
    d.say("whatever $g$: a gradient from the cliff of an exploding recurrent network moves the "
          "parameters no further than any other, the reason clipping tames it.")
    d.conclude(r"\|\theta' - \theta\|_2 \le \mathrm{lr}\cdot\tau\ (\text{global}),\ "
               r"\mathrm{lr}\,\tau\sqrt{k}\ (\text{Keras}),\ \mathrm{lr}\,c\sqrt d\ (\text{value})")
    return d


def _torch_step(device, grads, params, lr, clip):
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
        steps = {"numpy": ours, f"torch SGD after clip_grad_value_ ({device})": _torch_step(
            device, grads, params, lr, lambda ps: torch.nn.utils.clip_grad_value_(ps, c))}
        label = f"lr·c·√d = {bound!r}"
    else:
        ours, norm = clipping.clip_grad_norm(grads, tau, convention=convention)
        if convention == "tensorflow" and not np.isfinite(norm):
            return Evidence.slack(1.0)  # TensorFlow's NaN on purpose: the norm bound's outcome
        bound = lr * tau * (math.sqrt(len(grads)) if convention == "keras" else 1.0)
        steps = {f"numpy ({convention})": ours}
        if convention == "torch":
            steps[f"torch SGD after clip_grad_norm_ ({device})"] = _torch_step(
                device, grads, params, lr, lambda ps: torch.nn.utils.clip_grad_norm_(ps, tau))
        label = f"lr·τ{'·√k' if convention == 'keras' else ''} = {bound!r}"
    slack = 1.0
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
        if bound > 0:
            slack = min(slack, 1 - step / bound)
    return Evidence.slack(slack)


register(Theorem(
    id="clip-sgd-step",
    family=FAMILY.id,
    title="A clipped SGD step moves the parameters at most lr·τ",
    statement="After norm clipping at τ (torch, TensorFlow, optax, Pascanu) one SGD step "
              "θ′ = θ − lr·clip(g) has ‖θ′ − θ‖₂ ≤ lr·τ, whatever g (TensorFlow excepted where the "
              "norm overflows: it returns NaN); after Keras's per-array clipnorm, ≤ lr·τ·√k for k "
              "arrays; after value clipping at c, ≤ lr·c·√d for d entries; up to the rounding of θ′. "
              "This is why clipping tames the cliff of an exploding recurrent network.",
    latex=r"\|\theta' - \theta\|_2 = \mathrm{lr}\,\|\mathrm{clip}(g)\|_2 \le \mathrm{lr}\cdot\tau",
    source=SOURCE,
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive_step,
    check=_check_step,
))
