"""gradproofs.clipping against the live libraries it names: torch, TensorFlow, Keras and optax, bit for bit.

Hypothesis draws gradient lists (every dtype, magnitudes from the subnormals
to the overflow of the squares, ±0, ∞ and NaN, empty and 0-dim arrays, None)
and thresholds (0, ±0.0, negative, ∞, subnormal, past a dtype's range,
exactly the norm and the next number either side of it), and each
convention's result must be the library's (tests/differential.py):

- the norm: bit for bit, or, where the library adds in another order (torch's
  vectorised sums; XLA's for arrays of more than one axis or 32 entries),
  within ``clipping.norm_tolerance``;
  the clipped arrays bit for bit when the norms are, and otherwise bit for
  bit as the convention clips with the library's norm
  (``clipping.clip_grads_with_norm``);
- NaN, ∞, the sign of every zero and the dtypes exactly; an error where the
  library raises.

torch is always installed; TensorFlow, Keras, jax and optax come with the
``frameworks`` extra (``pip install -c ci/constraints.txt ".[frameworks]"``),
and their tests skip without it. CI runs every test here with 3,000 examples
(``-m differential --hypothesis-profile gradproofs-differential``).

What a NumPy model cannot see, and is left out here: TensorFlow converts a
Python number to a constant through a cache keyed by the number's value, and
0.0 == −0.0, so within one process whichever zero was converted first stands
for both. A threshold of −0.0 for ``tf.clip_by_global_norm`` (and ±0 for
``tf.clip_by_value``, which passes −c as its lower bound) therefore gives a
result that depends on what ran before: those are not drawn (no −0.0 reaches
TensorFlow here, so its cache holds 0.0 alone), and
``test_tensorflow_zero_thresholds_in_fresh_processes`` checks what the model
says for them in a fresh process. On CUDA, torch's results are compared within
rounding only: its kernels sum and scale in another order.
"""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import recording
from differential import (BEYOND, THRESHOLDS, assert_norm_and_clip, assert_same_list, gradient_lists, gradients,
                          outcome, parameters, raised, same, threshold)
from gradproofs import strategies as gps
from gradproofs.clipping import engine as clipping
from gradproofs.extras import install_hint

pytestmark = pytest.mark.differential

EXTRA = f"the frameworks extra is not installed: {install_hint('frameworks')}"

# The device fixture is a name and the wrappers a module: nothing in either changes between examples.
LIVE = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], deadline=None)


@pytest.fixture(scope="module")
def live():
    """The wrappers of tests/frameworks.py, once TensorFlow, Keras, jax and optax are all importable."""
    for name in ("tensorflow", "keras", "jax", "optax"):
        pytest.importorskip(name, reason=EXTRA)
    import frameworks

    return frameworks


# --- torch ---------------------------------------------------------------------------------------

def _assert_torch_agrees(grads, c, p, ours, parameters_after, their_norm, device):
    """Bit for bit on the CPU (judged with torch's norm where it sums in another order); on CUDA the norm
    within norm_tolerance and the clipped arrays within it and three roundings."""
    their_norm = their_norm.cpu().numpy()[()]
    theirs = gradients(parameters_after)
    if device == "cpu":
        assert_norm_and_clip(grads, c, "torch", ours, (theirs, their_norm), p, exact=False)  # torch's lanes
        return
    clipped, (norm,) = ours
    tolerance = clipping.norm_tolerance(grads, p)
    assert norm.dtype == their_norm.dtype
    if not (np.isfinite(norm) and np.isfinite(their_norm)):
        assert same(norm, their_norm)
    else:
        assert abs(float(norm) - float(their_norm)) <= tolerance * abs(float(norm))
    for o, t, g in zip(clipped, theirs, grads):
        assert (o is None) == (t is None)
        if g is not None:
            eps = float(np.finfo(g.dtype).eps)
            np.testing.assert_allclose(o.astype(np.float64), t.astype(np.float64), rtol=tolerance + 3 * eps,
                                       atol=2 * float(np.finfo(g.dtype).tiny))


@LIVE
@given(data=st.data())
def test_torch_clip_grad_norm_(data, device):
    torch = pytest.importorskip("torch")
    p = data.draw(gps.norm_types(allow_zero=True, allow_negative=True), label="norm_type")
    grads = data.draw(gradient_lists(allow_empty=0 <= p < math.inf), label="grads")
    c = threshold(data, grads, "torch", p)
    ours = clipping.clip_grad_norm(grads, c, p)
    for foreach in (True, False):
        after = parameters(torch, grads, device)
        their_norm = torch.nn.utils.clip_grad_norm_(after, c, norm_type=p, foreach=foreach)
        _assert_torch_agrees(grads, c, p, ours, after, their_norm, device)
    # The same, as get_total_norm (clipping.total_norm) followed by clip_grads_with_norm_.
    after = parameters(torch, grads, device)
    total = torch.nn.utils.get_total_norm([q.grad for q in after if q.grad is not None], p)
    torch.nn.utils.clip_grads_with_norm_(after, c, total)
    assert same(np.reshape(clipping.total_norm(grads, p), 1), ours[1])
    _assert_torch_agrees(grads, c, p, ours, after, total, device)


@LIVE
@given(data=st.data())
def test_torch_clip_grad_value_(data, device):
    torch = pytest.importorskip("torch")
    grads = data.draw(gradient_lists(), label="grads")
    c = data.draw(st.one_of(THRESHOLDS, BEYOND), label="clip_value")
    ours = outcome(clipping.clip_grad_value, grads, c)
    if device == "cuda" and isinstance(ours, ValueError) and "does not fit" in str(ours):
        return  # beyond the dtype's range torch raises on the CPU only; CUDA's clamp takes the value
    for foreach in (True, False):
        after = parameters(torch, grads, device)
        theirs = outcome(torch.nn.utils.clip_grad_value_, after, c, foreach=foreach)
        if raised(ours, theirs):
            continue
        for o, t in zip(ours, gradients(after)):
            # CUDA's clamp gives +0.0 where the CPU's keeps a zero's sign: there the values alone.
            assert (o is None and t is None) or same(o, t) or (device == "cuda" and same(np.abs(o), np.abs(t)))


# --- TensorFlow ----------------------------------------------------------------------------------

@LIVE
@given(data=st.data())
def test_tensorflow_clip_by_global_norm(live, data):
    grads = data.draw(gradient_lists(mixed_dtypes=False), label="grads")
    c = threshold(data, grads, "tensorflow", excluded=(-0.0,))
    ours = outcome(clipping.clip_grad_norm, grads, c, 2.0, convention="tensorflow")
    theirs = outcome(live.tensorflow_clip_by_global_norm, grads, c)
    if not raised(ours, theirs):
        assert_norm_and_clip(grads, c, "tensorflow", ours, theirs, exact=True)  # Eigen's order
        assert same(ours[1], np.reshape(live.tensorflow_global_norm(grads), 1))


@LIVE
@given(data=st.data())
def test_tensorflow_clip_by_norm_is_the_keras_convention(live, data):
    # tf.clip_by_norm is what Keras's clipnorm calls, and Keras passes it c > 0 only (it reads c ≤ 0
    # as 0, which Keras never lets through).
    # A list: Keras's optimizer raises on one without gradients; tf.clip_by_norm takes one tensor.
    grads = data.draw(gradient_lists().filter(lambda g: any(a is not None for a in g)), label="grads")
    c = threshold(data, grads, "keras")
    if not c > 0:
        c = data.draw(THRESHOLDS.filter(lambda c: c > 0), label="a positive threshold")
    ours = outcome(clipping.clip_grad_norm, grads, c, convention="keras")
    theirs = outcome(live.tensorflow_clip_by_norm, grads, c)
    if not raised(ours, theirs):
        assert_same_list(ours[0], theirs, "tf.clip_by_norm")


FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    results = {}
    # float32: 0.0 is converted first, then -0.0; float64: -0.0 first, then 0.0.
    for dtype, order in (("float32", (0.0, -0.0)), ("float64", (-0.0, 0.0))):
        for c in order:
            clipped, _ = tf.clip_by_global_norm([tf.constant(np.array([3.0, 4.0], dtype))], c)
            results[f"{dtype} {c}"] = [repr(float(v)) for v in clipped[0].numpy()]
    json.dump(results, sys.stdout)
""")


@pytest.mark.slow
def test_tensorflow_zero_thresholds_in_fresh_processes(live):
    # The exclusion above, shown: in a fresh process the first zero converted gives the model's result,
    # and the other zero then gives the same, whatever its sign.
    import json

    run = subprocess.run([sys.executable, "-c", FRESH_PROCESS], capture_output=True, text=True, check=True)
    results = {key: [float(v) for v in values] for key, values in json.loads(run.stdout).items()}

    def model(dtype, c):
        return clipping.clip_grad_norm([np.array([3.0, 4.0], dtype)], c, convention="tensorflow")[0][0]

    for dtype, first in (("float32", 0.0), ("float64", -0.0)):
        expected = model(dtype, first)
        assert same(np.array(results[f"{dtype} {first}"], dtype), expected)
        assert same(np.array(results[f"{dtype} {-first}"], dtype), expected)  # the cache's zero, not −first
    assert np.all(model("float32", 0.0) == 0) and np.all(np.isnan(model("float64", -0.0)))


# --- Keras 3's optimizer ---------------------------------------------------------------------------

@LIVE
@pytest.mark.parametrize("option, convention", [("clipnorm", "keras"), ("global_clipnorm", "keras_global")])
@given(data=st.data())
def test_keras_norm_clipping(live, option, convention, data):
    grads = data.draw(gradient_lists(), label="grads")
    c = threshold(data, grads, convention)
    ours = outcome(clipping.clip_grad_norm, grads, c, convention=convention)
    theirs = outcome(live.keras_clip, grads, **{option: c})
    if not raised(ours, theirs):
        assert_same_list(ours[0], theirs, f"Keras's {option}")


# --- optax ---------------------------------------------------------------------------------------

@LIVE
@given(data=st.data())
def test_optax_clip_by_global_norm(live, data):
    grads = data.draw(gradient_lists(), label="grads")
    c = threshold(data, grads, "optax")
    ours = outcome(clipping.clip_grad_norm, grads, c, convention="optax")
    theirs = outcome(live.optax_clip_by_global_norm, grads, c)
    if not raised(ours, theirs):
        # XLA adds a vector of up to 32 entries one after the other; more entries, or more axes, in an
        # order of its own.
        assert_norm_and_clip(grads, c, "optax", ours, theirs, exact=recording.exact_for("optax", grads))


# --- clipping by value: TensorFlow, Keras's optimizer, optax ---------------------------------------

VALUE_CLIPPING = {
    "tensorflow": ("tf.clip_by_value", lambda live, grads, c: live.tensorflow_clip_by_value(grads, c)),
    "keras": ("Keras's clipvalue", lambda live, grads, c: live.keras_clip(grads, clipvalue=c)),
    "optax": ("optax.clip", lambda live, grads, c: live.optax_clip(grads, c)),
}


@LIVE
@pytest.mark.parametrize("convention", VALUE_CLIPPING)
@given(data=st.data())
def test_value_clipping(live, convention, data):
    name, library = VALUE_CLIPPING[convention]
    grads = data.draw(gradient_lists(), label="grads")
    # TensorFlow's ±0 thresholds depend on its constant cache (above); Keras ignores c ≤ 0.
    thresholds = THRESHOLDS.filter(lambda c: c != 0) if convention == "tensorflow" else THRESHOLDS
    c = data.draw(thresholds, label="clip_value")
    ours = outcome(clipping.clip_grad_value, grads, c, convention=convention)
    theirs = outcome(library, live, grads, c)
    if not raised(ours, theirs):
        assert_same_list(ours, theirs, name)


# --- the recorded cases (tests/recording.py) ------------------------------------------------------

@pytest.mark.thorough
def test_the_libraries_still_give_the_recorded_results(live):
    import importlib.metadata

    recorded, mismatches = recording.recording(), []
    for name, kind, convention, spec, c in recording.runs():
        if recording.is_recorded(kind, convention, c):
            expected = recorded["results"][recording.key(name, kind, convention)]
            theirs = recording.library(kind, convention, recording.build(spec), c)
            if theirs != expected:
                mismatches.append(f"{recording.key(name, kind, convention)}: the library {theirs}, recorded {expected}")
    releases = {library: importlib.metadata.version(library) for library in recorded["releases"]}
    assert not mismatches, f"with {releases} (recorded with {recorded['releases']}):\n" + "\n".join(mismatches)


# --- the oracle, pointed at the libraries themselves ---------------------------------------------

ORACLE_WRAPPERS = {
    "tensorflow": (lambda live: lambda grads, max_norm: live.tensorflow_clip_by_global_norm(grads, max_norm), True),
    "keras": (lambda live: lambda grads, max_norm: live.keras_clip(grads, clipnorm=max_norm), False),
    "keras_global": (lambda live: lambda grads, max_norm: live.keras_clip(grads, global_clipnorm=max_norm), False),
    "optax": (lambda live: lambda grads, max_norm: live.optax_clip_by_global_norm(grads, max_norm), True),
}


@pytest.mark.thorough
@pytest.mark.parametrize("convention", list(ORACLE_WRAPPERS))
def test_check_clip_grad_norm_passes_the_library_itself(live, convention):
    # CI runs this with the thorough profile: 1,000 examples per library.
    from gradproofs.oracle import check_clip_grad_norm

    wrapper, returns_norm = ORACLE_WRAPPERS[convention]
    report = check_clip_grad_norm(wrapper(live), convention=convention, returns_norm=returns_norm,
                                  arguments=("grads", "max_norm"))
    assert report.examples == settings.default.max_examples and "agreed with the reference" in str(report)
