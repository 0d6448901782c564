"""What TensorFlow, Keras, optax and torch returned on a fixed set of clipping cases, recorded.

tests/test_clipping_live.py compares the model with the libraries when they
are installed; tests/recorded/clipping.json keeps what they returned on the
cases below (with the releases that gave it), so that tests/test_clipping.py
holds the model to them everywhere, and the cases are chosen to
reach what random draws at the default profile's size rarely do: arrays long
enough for Eigen's split into halves (more than 8,192 float32 entries,
4,096 float64, 1,600 float16) at offsets that are not whole packets, sums
whose last bits depend on the order of the additions, squares that
overflow, subnormals that TensorFlow and XLA flush to zero, ∞ and NaN among
the entries, ±0 and thresholds of 0.

Each result is kept as the norm's bits (``float.hex`` and the dtype) and a
fingerprint of each clipped array (SHA-256 of its dtype, shape, NaN mask and
bits), and every model call runs under ``np.errstate(all="raise")``: the
model must give the libraries' ∞ and NaN whatever NumPy error state its
caller has set.

    python tests/recording.py    # record again, from the installed libraries
"""

import hashlib
import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np

from gradproofs.clipping import engine as clipping

RECORDING = Path(__file__).parent / "recorded" / "clipping.json"
LIBRARIES = ("tensorflow-cpu", "keras", "jax", "optax")


# --- the cases -----------------------------------------------------------------------------------

def entries(shape, dtype, seed, low, high):
    """Entries of ``dtype``: signs, mantissas and exponents in [low, high) from a SplitMix64 stream
    (Steele, Lea & Flood 2014) of ``seed``, the same on every platform and NumPy release."""
    count = int(np.prod(shape, dtype=np.int64))
    z = (np.arange(1, count + 1, dtype=np.uint64) + np.uint64(seed)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    mantissa = 1 + (z >> np.uint64(11)).astype(np.float64) / 2.0 ** 53
    exponent = low + (z % np.uint64(1 << 16)).astype(np.float64) / (1 << 16) * (high - low)
    sign = np.where(z & np.uint64(1 << 20), -1.0, 1.0)
    return (sign * mantissa * np.exp2(np.floor(exponent))).astype(dtype).reshape(shape)


def build(spec):
    """The gradient list a case's spec names: None, or (shape, dtype, seed, low, high[, {index: value}])."""
    grads = []
    for item in spec:
        if item is None:
            grads.append(None)
            continue
        shape, dtype, seed, low, high, *special = item
        array = entries(tuple(shape), dtype, seed, low, high)
        for index, value in (special[0] if special else {}).items():
            array.flat[int(index)] = value
        grads.append(array)
    return grads


INF, NAN = float("inf"), float("nan")
# name: (gradients, the threshold for clipping by norm, the one for clipping by value)
CASES = {
    # Eigen splits above LEAF packets: 20,003 float32 entries split at packet boundaries three levels deep.
    "float32, 20,003 entries": ([((20003,), "float32", 1, -12, 12)], 10.0, 0.5),
    "float32, 2-D, 8,193 entries and a short one": ([((3, 2731), "float32", 2, -30, 30), ((7,), "float32", 3, -3, 3)],
                                                     1e3, 1e-3),
    "float64, 9,001 entries": ([((9001,), "float64", 4, -40, 40)], 1.0, 1e-6),
    "float64, three arrays and a None": ([((4097,), "float64", 5, -5, 5), None, ((33, 5), "float64", 6, -2, 2),
                                          ((1,), "float64", 7, 0, 1)], 2.5, 0.25),
    "float16, 3,203 entries": ([((3203,), "float16", 8, -6, 6)], 4.0, 0.125),
    "float16, two arrays": ([((1601,), "float16", 9, -4, 3), ((40,), "float16", 10, -8, -2)], 1.0, 0.01),
    "float32, a vector of 31": ([((31,), "float32", 11, -20, 20)], 1.0, 1.0),
    "float64, a vector of 32 and one of 5": ([((32,), "float64", 12, -3, 3), ((5,), "float64", 13, 0, 2)],
                                              0.5, 2.0),
    "float16, a vector of 17": ([((17,), "float16", 14, -2, 2)], 2.0, 0.5),
    # Squares that overflow, the threshold below and above the finite part.
    "float32 squares that overflow": ([((64,), "float32", 15, 60, 70), ((9,), "float32", 16, -1, 1)], 1.0, 1e19),
    "float16 squares that overflow": ([((24,), "float16", 17, 7, 10)], 100.0, 300.0),
    "float64 squares that overflow": ([((12,), "float64", 18, 510, 520)], 1e300, 1e155),
    # Squares that underflow, and subnormal entries (flushed to zero by TensorFlow and XLA).
    "float32 subnormals": ([((40,), "float32", 19, -149, -126), ((3,), "float32", 20, -70, -64)], 1e-30, 1e-40),
    "float16 subnormals": ([((40,), "float16", 21, -24, -14)], 1e-4, 1e-6),
    "float64 tiny squares": ([((50,), "float64", 22, -1074, -1000)], 1e-310, 1e-320),
    # ∞, NaN and ±0 among the entries.
    "float32 with ∞": ([((10,), "float32", 23, -2, 2, {3: INF, 7: -INF})], 1.0, 0.5),
    "float32 with NaN": ([((10,), "float32", 24, -2, 2, {0: NAN}), ((3,), "float32", 25, 0, 1)], 1.0, 0.5),
    "float64 ∞ and NaN": ([((6,), "float64", 26, -1, 1, {1: INF, 2: NAN})], 1.0, 0.5),
    "float32 zeros of both signs": ([((9,), "float32", 27, -1, 1, {i: (-1) ** i * 0.0 for i in range(9)})],
                                    0.0, 0.0),
    "float64 zeros, threshold −0": ([((4,), "float64", 28, -1, 1, {0: 0.0, 1: -0.0, 2: 0.0, 3: -0.0})], -0.0, -0.0),
    "float32 threshold 0": ([((8,), "float32", 29, -3, 3, {2: 0.0, 5: -0.0})], 0.0, 0.0),
    "float16 a negative threshold": ([((8,), "float16", 30, -3, 3, {4: -0.0})], -1.0, -1.0),
    "float32 an infinite threshold": ([((16,), "float32", 31, -3, 3)], INF, INF),
    "float64 a subnormal threshold": ([((5,), "float64", 32, -3, 3)], 5e-324, 5e-324),
    "float32 2-D, a 0-dim and an empty array": ([((4, 9), "float32", 33, -5, 5), ((), "float32", 34, 0, 1),
                                                  ((0,), "float32", 35, 0, 1)], 0.75, 0.75),
    # Mixed dtypes: TensorFlow and Keras's global norm raise; optax promotes; Keras per array.
    "float16, float32 and float64": ([((20,), "float16", 36, -3, 3), ((20,), "float32", 37, -3, 3),
                                      ((20,), "float64", 38, -3, 3)], 1.5, 0.3),
    "float32 and float16, squares that overflow float16": ([((20,), "float32", 39, -3, 3),
                                                            ((8,), "float16", 40, 8, 9)], 2.0, 70000.0),
}

# The conventions a library gives by norm (Pascanu's and d2l's have none to record); by value, all of them.
NORM_CONVENTIONS = ("tensorflow", "keras", "keras_global", "optax")


def exact_for(convention: str, grads) -> bool:
    """Whether the model adds in the library's order: XLA's for vectors of up to 32 entries only."""
    return convention != "optax" or all(g.ndim <= 1 and g.size <= 32 for g in grads if g is not None)


# --- results, kept as bits -----------------------------------------------------------------------

def fingerprint(array) -> str | None:
    """SHA-256 of the dtype, shape, NaN mask and every other entry's bits (the sign of a zero included)."""
    if array is None:
        return None
    array = np.asarray(array)
    nan = np.isnan(array)
    digest = hashlib.sha256(f"{array.dtype.str} {array.shape}".encode())
    digest.update(nan.tobytes())
    digest.update(np.where(nan, 0, array).astype(array.dtype).tobytes())
    return digest.hexdigest()[:32]


def bits(number) -> list | None:
    """A norm as [dtype, float.hex] (None for an array without gradient)."""
    if number is None:
        return None
    number = np.asarray(number)
    return [number.dtype.name, float(number).hex()]


def outcome(call, clipped_of=lambda result: result[0], norm_of=lambda result: result[1]) -> dict:
    """{"clipped": fingerprints, "norm": bits} of what ``call`` returns, or {"raises": True}."""
    try:
        result = call()
    except Exception:  # noqa: BLE001 - that it raises is the result (torch's error types are not ours)
        return {"raises": True}
    kept = {"clipped": [fingerprint(a) for a in clipped_of(result)]}
    norm = norm_of(result)
    if norm is not None:
        kept["norm"] = [bits(n) for n in norm] if isinstance(norm, list) else bits(norm)
    return kept


def values(call) -> dict:
    return outcome(call, clipped_of=lambda result: result, norm_of=lambda result: None)


def model(kind: str, convention: str, grads, c, recorded: dict) -> dict:
    """What gradproofs.clipping gives, in the recording's terms, under an error state that raises on every
    floating-point exception. Keras's optimizer returns no norm; where XLA adds in an order of its own
    (optax, more than 32 entries or axes), the norm must be within ``clipping.norm_tolerance`` of optax's
    and the arrays are clipped with optax's norm, as in tests/test_clipping_live.py."""
    with np.errstate(all="raise"):
        if kind == "value":
            return values(lambda: clipping.clip_grad_value(grads, c, convention=convention))
        ours = outcome(lambda: clipping.clip_grad_norm(grads, c, convention=convention),
                       norm_of=lambda result: list(result[1]) if clipping.CONVENTIONS[convention].per_array
                       else result[1][0])
        if "raises" in ours or "raises" in recorded:
            return ours
        if "norm" not in recorded:
            return {"clipped": ours["clipped"]}
        if exact_for(convention, grads):
            return ours
        dtype, hexadecimal = recorded["norm"]
        theirs = np.dtype(dtype).type(float.fromhex(hexadecimal))
        norm = float.fromhex(ours["norm"][1])
        tolerance = clipping.norm_tolerance(grads, convention=convention)
        near = abs(norm - float(theirs)) <= tolerance * abs(float(theirs))
        with_theirs = values(lambda: clipping.clip_grads_with_norm(grads, c, np.reshape(theirs, 1),
                                                                   convention=convention))
        return {**with_theirs, "norm": recorded["norm"] if near else ours["norm"]}


def library(kind: str, convention: str, grads, c) -> dict:
    """What the library gives (tests/frameworks.py; torch's clip_grad_value_ on CPU tensors)."""
    import frameworks

    if kind == "value" and convention == "torch":
        import torch
        from differential import gradients, parameters

        after = parameters(torch, grads, "cpu")
        return values(lambda: (torch.nn.utils.clip_grad_value_(after, c, foreach=False), gradients(after))[1])
    calls = {("norm", "tensorflow"): lambda: outcome(lambda: frameworks.tensorflow_clip_by_global_norm(grads, c)),
             ("norm", "keras"): lambda: values(lambda: frameworks.keras_clip(grads, clipnorm=c)),
             ("norm", "keras_global"): lambda: values(lambda: frameworks.keras_clip(grads, global_clipnorm=c)),
             ("norm", "optax"): lambda: outcome(lambda: frameworks.optax_clip_by_global_norm(grads, c)),
             ("value", "tensorflow"): lambda: values(lambda: frameworks.tensorflow_clip_by_value(grads, c)),
             ("value", "keras"): lambda: values(lambda: frameworks.keras_clip(grads, clipvalue=c)),
             ("value", "optax"): lambda: values(lambda: frameworks.optax_clip(grads, c))}
    return calls[kind, convention]()


def runs():
    """Every (case, kind, convention) the recording holds, and the threshold."""
    for name, (spec, norm_c, value_c) in CASES.items():
        for convention in NORM_CONVENTIONS:
            yield name, "norm", convention, spec, norm_c
        for convention in clipping.VALUE_CONVENTIONS:
            yield name, "value", convention, spec, value_c


def key(name, kind, convention) -> str:
    return f"{name} | clip by {kind} | {convention}"


def is_recorded(kind, convention, c) -> bool:
    """Whether the recording holds this run: not a zero threshold for TensorFlow and Keras."""
    # TensorFlow converts Python numbers through a cache keyed by value, where 0.0 == −0.0: a zero
    # threshold's sign is whichever zero was converted first (tests/test_clipping_live.py).
    return not (convention in ("tensorflow", "keras", "keras_global") and c == 0)


def recording() -> dict:
    """The recording: {"releases": {library: version}, "results": {key: result}}."""
    return json.loads(RECORDING.read_text(encoding="utf-8"))


def record() -> None:
    """Write tests/recorded/clipping.json from the installed libraries."""
    sys.path.insert(0, str(Path(__file__).parent))
    results = {key(name, kind, convention): library(kind, convention, build(spec), c)
               for name, kind, convention, spec, c in runs()
               if is_recorded(kind, convention, c)}
    releases = {name: importlib.metadata.version(name) for name in (*LIBRARIES, "torch")}
    RECORDING.parent.mkdir(exist_ok=True)
    RECORDING.write_text(json.dumps({"releases": releases, "results": results}, indent=1, ensure_ascii=False) + "\n",
                         encoding="utf-8")


if __name__ == "__main__":
    record()
