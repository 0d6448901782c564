"""check_clip_grad_norm and check_clip_grad_value pass every framework's true behaviour
(torch's own functions, and the TensorFlow, Keras, optax and Pascanu formulas written out
here from their sources) and catch each planted bug."""

import math

import numpy as np
import pytest

import gradproofs
from gradproofs.clipping import engine as clipping
from gradproofs.oracle import check_clip_grad_norm, check_clip_grad_value, torch_in_place

torch = pytest.importorskip("torch")
utils = torch.nn.utils


# --- the frameworks' formulas, from their sources, in NumPy ----------------------------------------
# NumPy 2 treats a Python float as weakly typed, as JAX does: `g * c` stays in g's dtype.

def _accumulate(dtype):
    return np.float32 if dtype == np.float16 else dtype


def tensorflow(grads, clip_norm, norm_type, *, epsilon=0.0):
    """tf.clip_by_global_norm: global_norm from l2_loss, then c·min(1/n, 1/c) + (n − n)."""
    values = [g for g in grads if g is not None]
    dtype = values[0].dtype if values else np.dtype(np.float32)
    with np.errstate(all="ignore"):
        half_squared = [dtype.type(np.sum(np.square(v) * dtype.type(0.5), dtype=_accumulate(dtype)))
                        for v in values]
        norm = np.sqrt(dtype.type(np.sum(np.array(half_squared, dtype=dtype))) * dtype.type(2))
        c = dtype.type(clip_norm)
        scale = c * np.minimum(dtype.type(1) / (norm + dtype.type(epsilon)), dtype.type(1) / c) + (norm - norm)
        return [None if g is None else np.asarray(g * scale) for g in grads], norm


def keras(grads, clipnorm, norm_type):
    """Keras 3's optimizer clipnorm on the TF backend: tf.clip_by_norm on each variable, if clipnorm > 0."""
    if all(g is None for g in grads):
        raise ValueError("No gradients provided for any variable.")
    out = []
    for g in grads:
        if g is None or not clipnorm > 0:
            out.append(None if g is None else g.copy())
            continue
        with np.errstate(all="ignore"):
            l2sum = g.dtype.type(np.sum(np.square(g), dtype=_accumulate(g.dtype)))
            l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
            out.append(np.asarray((g * clipnorm) / np.maximum(l2norm, clipnorm)))
    return out, None  # Keras returns no norm


def optax(grads, max_norm, norm_type):
    """optax.clip_by_global_norm: keep g if n < c, else (g / n) · c, leaf by leaf."""
    leaves = [g for g in grads if g is not None]
    with np.errstate(all="ignore"):
        total = 0
        for g in leaves:
            total = total + g.dtype.type(np.sum(np.square(g), dtype=_accumulate(g.dtype)))
        norm = np.sqrt(total) if leaves else np.float32(0.0)
        if norm < max_norm:
            return [None if g is None else g.copy() for g in grads], norm
        # jax casts the Python float to the leaf's dtype (a weak type): ∞ in float16 past 65504.
        return [None if g is None else np.asarray((g / norm.astype(g.dtype)) * g.dtype.type(max_norm))
                for g in grads], norm


def _two_norm(x):
    """torch.linalg.vector_norm(x): |x| for one entry, else √Σx² accumulated in float32 for float16."""
    if x.size == 1:
        return np.abs(x.ravel()[0])
    return np.sqrt(np.sum(np.square(x.astype(_accumulate(x.dtype))))).astype(x.dtype)


def pascanu(grads, threshold, norm_type):
    """Algorithm 1: if ‖g‖ ≥ threshold then g ← threshold/‖g‖ · g (with torch's 2-norm)."""
    arrays = [g for g in grads if g is not None]
    if not arrays:
        return list(grads), np.float32(0.0)
    with np.errstate(all="ignore"):
        dtype = np.result_type(*arrays)
        norm = _two_norm(np.array([_two_norm(g) for g in arrays], dtype=dtype))
        c = dtype.type(threshold)
        if not norm >= c:
            return [None if g is None else g.copy() for g in grads], norm
        factor = c / norm  # then g·factor in the wider dtype, rounded once to g's
        return [None if g is None else np.asarray(g.astype(np.result_type(g, dtype)) * factor).astype(g.dtype)
                for g in grads], norm


def total_then_clip(parameters, max_norm, norm_type):
    """torch's two halves: get_total_norm, then clip_grads_with_norm_."""
    total = utils.get_total_norm([p.grad for p in parameters if p.grad is not None], norm_type)
    utils.clip_grads_with_norm_(parameters, max_norm, total)
    return total


FRAMEWORKS = [
    ("torch", torch_in_place(utils.clip_grad_norm_)),
    ("torch", torch_in_place(utils.clip_grad_norm_, foreach=False)),
    ("torch", torch_in_place(total_then_clip)),
    ("tensorflow", tensorflow),
    ("keras", keras),
    ("optax", optax),
    ("pascanu", pascanu),
]


@pytest.mark.parametrize("convention, fn", FRAMEWORKS, ids=[
    "clip_grad_norm_", "clip_grad_norm_ foreach=False", "get_total_norm + clip_grads_with_norm_",
    "tensorflow", "keras", "optax", "pascanu"])
def test_every_framework_passes_its_own_convention(convention, fn):
    report = check_clip_grad_norm(fn, convention=convention, max_examples=30)
    assert report.examples == 30 and "agreed with the reference" in str(report)
    assert 0.0 <= report.worst_used <= 1.0


def test_the_report_gives_the_fraction_of_the_tolerance_used():
    """A norm off by half of norm_tolerance (float64, so its own rounding is a few percent of that)
    uses half of the allowance; the convention's own numbers use none."""
    def half_off(grads, max_norm, norm_type):
        _, norm = clipping.clip_grad_norm(grads, max_norm, norm_type)
        norm = norm * (1 + clipping.norm_tolerance(grads, norm_type) / 2)
        return clipping.clip_grads_with_norm(grads, max_norm, norm), norm

    exact = check_clip_grad_norm(clipping.clip_grad_norm, dtypes=("float64",), max_examples=30)
    assert exact.worst_used == 0.0
    assert 0.45 <= check_clip_grad_norm(half_off, dtypes=("float64",), max_examples=30).worst_used <= 0.55


def test_error_if_nonfinite_passes_when_torch_raises_and_leaves_the_gradients():
    fn = torch_in_place(utils.clip_grad_norm_, error_if_nonfinite=True)
    assert check_clip_grad_norm(fn, error_if_nonfinite=True, max_examples=30).examples == 30


@pytest.mark.parametrize("foreach", [True, False])
def test_torch_value_clipping_passes(foreach):
    report = check_clip_grad_value(torch_in_place(utils.clip_grad_value_, foreach=foreach), max_examples=30)
    assert report.examples == 30


# --- planted bugs -----------------------------------------------------------------------------

def _torch_clip(parameters, max_norm, norm_type=2.0, *, bug=None):
    """torch.nn.utils.clip_grad_norm_ as get_total_norm and clip_grads_with_norm_, with one planted bug."""
    grads = [q.grad for q in parameters if q.grad is not None]
    if bug == "the ∞-norm as a 2-norm" and norm_type == math.inf:
        norm_type = 2.0
    total = utils.get_total_norm(grads, norm_type)
    if bug == "per array":
        for q in parameters:
            if q.grad is not None:
                utils.clip_grads_with_norm_([q], max_norm, utils.get_total_norm([q.grad], norm_type))
        return total
    if bug == "epsilon inside the root":
        total = torch.sqrt(total * total + 1e-6)
    if bug == "strict trigger" and not total > max_norm:
        return total
    if bug in ("no epsilon", "epsilon on the threshold"):
        numerator = max_norm + 1e-6 if bug == "epsilon on the threshold" else max_norm
        coefficient = torch.clamp(numerator / total, max=1.0)
        for g in grads:
            g.mul_(coefficient)
        return total
    utils.clip_grads_with_norm_(parameters, max_norm, total)
    if bug == "norm after clipping":
        return utils.get_total_norm(grads, norm_type)
    return total


def _planted(bug):
    return torch_in_place(_torch_clip, bug=bug)


def _in_place(grads, max_norm, norm_type):
    """The right numbers, written into the caller's arrays."""
    clipped, norm = clipping.clip_grad_norm(grads, max_norm, norm_type)
    for g, c in zip(grads, clipped):
        if g is not None:
            np.copyto(g, c)
    return grads, norm


def _tensorflow_applying_nonfinite(grads, clip_norm, norm_type):
    """TensorFlow's formula without its `+ (n − n)`: a non-finite norm is applied as a scale of 0."""
    clipped, norm = tensorflow(grads, clip_norm, norm_type)
    values = [g for g in grads if g is not None]
    if values and not np.isfinite(norm):
        dtype = values[0].dtype
        with np.errstate(all="ignore"):
            scale = dtype.type(clip_norm) * np.minimum(dtype.type(1) / norm, dtype.type(1) / dtype.type(clip_norm))
            return [None if g is None else np.asarray(g * scale) for g in grads], norm
    return clipped, norm


def _tensorflow_per_array(grads, clip_norm, norm_type):
    """tf.clip_by_global_norm applied to each array on its own."""
    out = [tensorflow([g], clip_norm, norm_type)[0][0] if g is not None else None for g in grads]
    return out, tensorflow(grads, clip_norm, norm_type)[1]


def _torch_clip_then_raise(parameters, max_norm, norm_type=2.0):
    """Clips in place, and only then notices that the norm was not finite."""
    total = utils.clip_grad_norm_(parameters, max_norm, norm_type)
    if not torch.isfinite(total):
        raise RuntimeError("non-finite norm")
    return total


BUGS = {
    "a per-array norm where a global one is meant": (_planted("per array"), {}, r"clipped\[\d\]"),
    "a per-array norm, TensorFlow": (_tensorflow_per_array, dict(convention="tensorflow"), r"clipped\[\d\]"),
    "no epsilon": (_planted("no epsilon"), {}, r"clipped\[\d\]"),
    "the epsilon inside the square root": (_planted("epsilon inside the root"), {}, "the returned norm"),
    "the epsilon added to the threshold": (_planted("epsilon on the threshold"), {}, r"clipped\[\d\]"),
    "an epsilon where TensorFlow has none": (
        lambda *a: tensorflow(*a, epsilon=1e-6), dict(convention="tensorflow"), r"clipped\[\d\]"),
    "clipping only when n > c (torch shrinks at n == c)": (_planted("strict trigger"), {}, r"clipped\[\d\]"),
    "the norm returned after clipping": (_planted("norm after clipping"), {}, "the returned norm"),
    "the gradients modified in place": (_in_place, {}, "modified its arguments in place: grads"),
    "the ∞-norm computed as a 2-norm": (_planted("the ∞-norm as a 2-norm"), {}, "norm_type = np.inf"),
    "a non-finite norm applied, where TensorFlow returns NaN": (
        _tensorflow_applying_nonfinite, dict(convention="tensorflow"), r"clipped\[\d\].*expected nan"),
    "a non-finite norm applied, where error_if_nonfinite asks for an error": (
        torch_in_place(utils.clip_grad_norm_), dict(error_if_nonfinite=True), "returned instead of raising"),
    "an error raised after the gradients were clipped in place": (
        torch_in_place(_torch_clip_then_raise), dict(error_if_nonfinite=True),
        "raised after modifying the gradients in place"),
}


@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.slow
def test_planted_norm_clipping_bugs_are_caught(bug):
    fn, options, expected = BUGS[bug]
    with pytest.raises(gradproofs.Mismatch, match=expected) as caught:
        check_clip_grad_norm(fn, max_examples=300, **options)
    message = str(caught.value)
    assert "Smallest counterexample found" in message and "grads = [" in message


def _tensorflow_value(grads, c):
    """tf.clip_by_value(g, −c, c): the minimum first, so c < 0 gives −c."""
    return [None if g is None else np.maximum(np.minimum(g, g.dtype.type(c)), g.dtype.type(-c)) for g in grads]


VALUE_BUGS = {
    "TensorFlow's order (c < 0 gives −c)": (_tensorflow_value, r"clipped\[\d\]"),
    "only the upper side clipped": (
        lambda grads, c: [None if g is None else np.minimum(g, g.dtype.type(c)) for g in grads], r"clipped\[\d\]"),
    "NaN replaced by 0": (
        lambda grads, c: [None if g is None else np.where(np.isnan(g), g.dtype.type(0), c_)
                          for g, c_ in zip(grads, clipping.clip_grad_value(grads, c))], r"expected nan"),
    "the gradients modified in place": (
        lambda grads, c: [None if g is None else np.copyto(g, v) or g
                          for g, v in zip(grads, clipping.clip_grad_value(grads, c))],
        "modified its arguments in place"),
}


@pytest.mark.parametrize("bug", VALUE_BUGS)
@pytest.mark.slow
def test_planted_value_clipping_bugs_are_caught(bug):
    fn, expected = VALUE_BUGS[bug]
    with pytest.raises(gradproofs.Mismatch, match=expected):
        check_clip_grad_value(fn, max_examples=300)


def test_tensorflow_value_clipping_passes_without_negative_thresholds():
    assert check_clip_grad_value(_tensorflow_value, max_examples=30, thresholds="non_negative").examples == 30


def test_results_of_the_wrong_form_are_mismatches():
    cases = [(lambda g, c, p: 3.0, "must return a pair"),
             (lambda g, c, p: ([x for x in g if x is not None][:1], 1.0), "must be a list of"),
             (lambda g, c, p: ([None if x is None else x.astype(np.float64) for x in g], 1.0),
              "keeps the gradient's dtype")]
    for fn, expected in cases:
        with pytest.raises(gradproofs.Mismatch, match=expected):
            check_clip_grad_norm(fn, convention="keras", max_examples=50)


def test_bad_arguments():
    with pytest.raises(TypeError, match="fn must be callable"):
        check_clip_grad_norm(3)
    with pytest.raises(ValueError, match="unknown convention 'jax'"):
        check_clip_grad_norm(optax, convention="jax")
    with pytest.raises(ValueError, match="max_examples must be at least 1"):
        check_clip_grad_value(lambda g, c: g, max_examples=0)
    with pytest.raises(ValueError, match="unknown device"):
        torch_in_place(utils.clip_grad_norm_, device="tpu")
    with pytest.raises(TypeError, match="fn must be callable"):
        torch_in_place(None)


def halving_in_place(parameters, max_norm, norm_type=2.0):
    """A torch-style clipper with a bug: every gradient halved, whatever its norm."""
    for parameter in parameters:
        if parameter.grad is not None:
            parameter.grad.mul_(0.5)


def test_a_torch_in_place_report_names_the_wrapped_function_and_hints_no_in_place():
    pytest.importorskip("torch")
    with pytest.raises(gradproofs.Mismatch) as caught:
        check_clip_grad_norm(torch_in_place(halving_in_place), returns_norm=False, max_examples=100)
    message = str(caught.value)
    line = halving_in_place.__code__.co_firstlineno
    assert message.startswith(f"check_clip_grad_norm(torch_in_place(halving_in_place) "
                              f"(test_oracle_clipping.py:{line}), returns_norm=False)"), message
    assert "in_place=True" not in message, message
