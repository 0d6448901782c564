"""What the differential properties share: the draws, and the comparison with a library, bit for bit.

Used by tests/test_clipping_live.py (every convention against its library) and
tests/test_clipping.py (d2l written in torch).
"""

import math

import numpy as np
from hypothesis import event, strategies as st
from hypothesis.control import currently_in_test_context

from gradproofs import strategies as gps
from gradproofs.clipping import engine as clipping

# --- draws ---------------------------------------------------------------------------------------

ORDINARY = dict(allow_none=True, allow_nonfinite=True, allow_empty=True, allow_negative_zero=True)
EXTREME = dict(ORDINARY, min_magnitude=float(np.finfo(np.float64).smallest_subnormal), max_magnitude=1e308,
               allow_subnormal=True)


def gradient_lists(**options):
    """Ordinary magnitudes (1e-30 to 1e30) or extreme ones (from the smallest subnormal up to each dtype's
    largest number), with None, ±0, ∞, NaN, empty and 0-dim arrays; ``options`` as for gps.gradient_lists."""
    return st.one_of(gps.gradient_lists(**{**ORDINARY, **options}), gps.gradient_lists(**{**EXTREME, **options}))


THRESHOLDS = gps.thresholds(allow_zero=True, allow_negative=True, allow_infinity=True, allow_negative_zero=True,
                            allow_subnormal=True)
# Past float16's and float32's largest numbers (which they round to, or not), for clipping by value.
BEYOND = st.sampled_from([65504.0, 65505.0, 65520.0, float(np.finfo(np.float32).max), 3.5e38, 1e308])


def _is(c: float, excluded: float) -> bool:
    return c == excluded and math.copysign(1, c) == math.copysign(1, excluded)


def threshold(data, grads, convention, norm_type=2.0, *, excluded=()):
    """A drawn threshold (but none of ``excluded``, ±0 told apart), or the convention's norm of ``grads``
    (one of them, for Keras's clipnorm) exactly, or the next number of the norm's dtype up or down."""
    try:
        norms = clipping.clip_grad_norm(grads, 1.0, norm_type, convention=convention)[1]
    except (TypeError, ValueError):  # mixed dtypes, no gradient, an empty array's ∞-norm
        norms = []
    finite = [n for n in norms if np.isfinite(n)]
    kind = data.draw(st.sampled_from(["drawn"] + ["the norm", "next to the norm"] * bool(finite)),
                     label="the threshold is")
    if kind == "drawn":
        return data.draw(THRESHOLDS.filter(lambda c: not any(_is(c, e) for e in excluded)), label="threshold")
    n = data.draw(st.sampled_from(finite), label="a norm")
    if kind == "the norm":
        return float(n)
    direction = data.draw(st.sampled_from([-np.inf, np.inf]), label="towards")
    return float(np.nextafter(n, n.dtype.type(direction)))


# --- comparison ----------------------------------------------------------------------------------

def same(ours, theirs) -> bool:
    """Equal dtype and shape, NaN where NaN, every other entry bit for bit (the sign of a zero included)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.dtype != theirs.dtype or ours.shape != theirs.shape:
        return False
    nan = np.isnan(ours)
    return np.array_equal(nan, np.isnan(theirs)) and \
        np.where(nan, 0, ours).tobytes() == np.where(nan, 0, theirs).tobytes()


def assert_same_list(ours, theirs, what: str) -> None:
    assert len(ours) == len(theirs), (what, ours, theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert (o is None) == (t is None), (what, i, o, t)
        assert o is None or same(o, t), f"{what}[{i}]: gradproofs {o!r}, the library {t!r}"


def outcome(fn, *args, **options):
    """fn's result, or the exception it raised."""
    try:
        return fn(*args, **options)
    except Exception as error:  # noqa: BLE001 - either side raising is compared with the other
        return error


def note(what: str) -> None:
    """Count ``what`` among a property's examples (--hypothesis-show-statistics); nothing outside one."""
    if currently_in_test_context():
        event(what)


def raised(ours, theirs) -> bool:
    """Whether both raised (True) or neither (False); one alone is a failure."""
    if isinstance(ours, Exception) or isinstance(theirs, Exception):
        assert isinstance(ours, Exception) and isinstance(theirs, Exception), (ours, theirs)
        note("both raise")
        return True
    return False


def assert_norm_and_clip(grads, c, convention, ours, theirs, norm_type=2.0, *, exact: bool) -> None:
    """The norms of the same dtype and bit for bit, and then the clipped arrays too; or, unless ``exact``
    (the model adds in the library's order), the norms within ``clipping.norm_tolerance`` and the clipped
    arrays bit for bit as the convention clips with the library's norm (``clipping.clip_grads_with_norm``).
    ``ours`` is what clip_grad_norm returns (one global norm), ``theirs`` the library's clipped arrays and norm."""
    (clipped, (norm,)), (their_clipped, their_norm) = ours, theirs
    assert np.asarray(norm).dtype == np.asarray(their_norm).dtype, (norm, their_norm)
    assert same(norm, their_norm) or not exact, f"{convention}: the norm {norm!r}, the library's {their_norm!r}"
    if same(norm, their_norm):
        note("the norms agree bit for bit")
        assert_same_list(clipped, their_clipped, f"{convention}, clipped with the same norm {norm!r}")
        return
    note("the norms differ in the order of the sum")
    tolerance = clipping.norm_tolerance(grads, norm_type, convention=convention)
    assert np.isfinite(norm) and np.isfinite(their_norm), (norm, their_norm)
    assert abs(float(norm) - float(their_norm)) <= tolerance * abs(float(their_norm)), (norm, their_norm, tolerance)
    with_theirs = clipping.clip_grads_with_norm(grads, c, np.reshape(their_norm, 1), convention=convention)
    assert_same_list(with_theirs, their_clipped, f"{convention}, clipped with the library's norm {their_norm!r}")


# --- torch ---------------------------------------------------------------------------------------

def parameters(torch, grads, device):
    """One torch parameter per entry, its .grad a copy of the gradient (None kept) on ``device``."""
    out = []
    for g in grads:
        parameter = torch.nn.Parameter(torch.zeros(1 if g is None else g.shape, device=device,
                                                   dtype=torch.float32 if g is None else getattr(torch, g.dtype.name)))
        parameter.grad = None if g is None else torch.from_numpy(g.copy()).to(device)
        out.append(parameter)
    return out


def gradients(parameters):
    return [None if p.grad is None else p.grad.cpu().numpy() for p in parameters]
