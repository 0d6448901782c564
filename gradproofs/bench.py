"""Timings of the engines, as ratios measured in one run: ``python -m gradproofs.bench [chain] [mlp] [clipping] [rnn] [reference]``.

Each section runs alone when named (``dense``, the mlp section's former name, still names it); with
no name, all run.

chain
1. Depth 8, sigmoid, quadratic cost, 30 digits, at w_j = 0.5, b_j = 0.1, x = 0.3,
   y = 0.2: plain ``sympy.diff`` of the nested cost for every w_j and b_j, then
   ``evalf``, against the product form ``chain.backward_exact`` (f and f′ derived
   by SymPy, evaluated in mpmath). The structured form is timed on its first call
   in the process (SymPy derives σ′ and its bound then), cold (the lambdified
   f, f′ rebuilt) and warm; the two must agree to 20 digits.
2. ``chain.backward_exact`` at depth 64, warm, against a 50 ms target.
3. ``chain.log_abs_db`` at depths 1000 to 10 000: time per layer, which is
   constant when the cost is linear in depth.

mlp
4. ``mlp.backward`` (NumPy float64) against torch autograd on the CPU in
   float64, sigmoid, quadratic cost, for widths [784, 30, 30, 30, 30, 10] with a
   batch of 1000 and widths [512]*8 = [512, 512, 512, 512, 512, 512, 512, 512]
   (7 layers of 512 → 512) with a batch of 256; inputs and targets U(0, 1),
   Nielsen's initialisation. Torch is timed twice: ``mlp.backward_torch`` as
   called (it validates, builds the ``nn.Linear`` layers and copies the weights
   in every call), and a bare forward and backward on layers and tensors built
   once (the pre-activations' gradients kept, so it yields the δ^l that
   ``backward`` returns too). The ratio numpy/torch has a target of at most 1.
   Torch runs on 2 threads; so does NumPy's BLAS, whose thread count is read
   from the environment when NumPy is first imported, which this module sets
   (unless already set) before importing it.

clipping
5. ``clipping.clip_grad_norm`` (torch's convention, NumPy) against
   ``torch.nn.utils.clip_grad_norm_`` with ``foreach=True`` on the CPU, for 10
   float32 arrays of assorted sizes totalling 10⁷ elements (standard normal
   entries, max_norm 1): the ratio numpy/torch has a target of at most 1.5.
   torch clips in place; ``clip_grad_norm`` returns new arrays, so its time
   includes writing 40 MB. Then ``safe_norm=True`` against the plain norm on
   the same arrays (target at most 1.5), and on arrays whose squares overflow
   float32, where the safe norm recomputes with scaling.

rnn
6. ``rnn.bptt`` (NumPy float64) against the hand-written torch loop
   ``rnn.bptt_torch`` (target numpy/torch at most 1) and ``torch.nn.RNN``
   through autograd, ``rnn.bptt_nn_rnn`` (target at most 1.5), on the CPU in
   float64, tanh, T = 256, B = 32, I = 64, H = 256, each timed as called (the
   torch engines copy the arrays into tensors, and ``bptt_nn_rnn`` builds its
   module, in every call). Then the peak memory of one call, its result
   included: NumPy's allocations by ``tracemalloc``, which does not see torch's
   allocator; and, for every engine, the growth of the resident set in a fresh
   process (Linux: the high-water mark VmHWM, reset through
   ``/proc/self/clear_refs`` after a call on a tiny problem, less VmRSS before
   the call), which counts the allocator's own overhead too.

mlp and rnn also time each NumPy engine's matrix products alone, on arrays
allocated once (the floor): the engine's time over it has a target of at most 1.25.
Beside it they time the activation and its derivative over as many values as the
engine evaluates them (f(a) and f′(a) for every pre-activation: transcendental,
memory-bound passes that no product can absorb) and print the engine's time over
the floor plus that.

reference
7. The exact reference of one example as the oracle builds it (exact values,
   scales, tolerances): mpmath against long double (:mod:`gradproofs.extended`)
   for a dense network of widths [64]*7 and a batch of 32 (target: at least
   20 times faster), and long double alone for widths [784, 128, 128, 10] with a
   batch of 64 and an RNN of T 64, B 16, I 32, H 128 (target: under 0.5 s each).

Each time is the best of several repeats of ``time.perf_counter``. Nothing here
is asserted: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

THREADS = 2
# NumPy's BLAS reads these once, when NumPy is first imported: before that, match torch's threads.
_NUMPY_IMPORTED_FIRST = "numpy" in sys.modules
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, str(THREADS))

import mpmath  # noqa: E402  (after the thread settings)
import numpy as np  # noqa: E402
import sympy  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

from gradproofs import devices  # noqa: E402
from gradproofs.activations import engine as activations  # noqa: E402
from gradproofs.chain import engine as chain  # noqa: E402
from gradproofs.clipping import engine as clipping  # noqa: E402
from gradproofs.mlp import engine as mlp  # noqa: E402
from gradproofs.mlp.initialisation import initialise  # noqa: E402

__all__ = [
    "THREADS", "DEPTH", "POINT", "DPS", "AGREE_DIGITS", "SPEEDUP_TARGET", "DEEP", "DEEP_TARGET_S", "LOG_DEPTHS",
    "DENSE_CASES", "DENSE_SEED", "DENSE_REPEATS", "DENSE_WARM_UP", "DENSE_TARGET", "CLIP_ELEMENTS", "CLIP_SHARES",
    "CLIP_REPEATS", "CLIP_TARGET", "SAFE_TARGET", "FLOOR_TARGET", "RNN_SIZES", "RNN_SEED", "RNN_REPEATS",
    "RNN_WARM_UP", "RNN_TARGETS", "REFERENCE_REPEATS", "REFERENCE_TARGETS", "SECTIONS", "SECTION_ALIASES",
    "main"
]

DEPTH = 8
POINT = {"w": 0.5, "b": 0.1, "x": 0.3, "y": 0.2}
DPS = 30
AGREE_DIGITS = 20
SPEEDUP_TARGET = 100
DEEP = 64
DEEP_TARGET_S = 0.050
LOG_DEPTHS = (1000, 2000, 5000, 10_000)
DENSE_CASES = (([784, 30, 30, 30, 30, 10], 1000), ([512] * 8, 256))
DENSE_SEED = 0
DENSE_REPEATS = 20
DENSE_WARM_UP = 3
DENSE_TARGET = 1.0  # numpy time / torch time
CLIP_ELEMENTS = 10_000_000
CLIP_SHARES = (0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005)  # of the elements, per array
CLIP_REPEATS = 15
CLIP_TARGET = 1.5  # clip_grad_norm / torch.nn.utils.clip_grad_norm_
SAFE_TARGET = 1.5  # safe_norm=True / the plain norm


def _best(fn, repeats: int, setup=None) -> float:
    """The least of ``repeats`` wall times of ``fn()``, ``setup()`` run untimed before each."""
    best = float("inf")
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _chain(depth: int):
    return ([POINT["w"]] * depth, [POINT["b"]] * depth, POINT["x"], POINT["y"])


def _plain(depth: int):
    """(db, dw) by ``sympy.diff`` of the nested cost, evaluated with ``evalf``."""
    cost = chain.nested_cost(depth)
    w, b, x, y = chain.symbols(depth)
    values = {**{p: POINT["w"] for p in w}, **{p: POINT["b"] for p in b},
              x: POINT["x"], y: POINT["y"]}
    return ([sympy.diff(cost, p).evalf(DPS, subs=values) for p in b],
            [sympy.diff(cost, p).evalf(DPS, subs=values) for p in w])


def _structured(depth: int):
    return chain.backward_exact(*_chain(depth), dps=DPS)


def _cold():
    chain.mpmath_functions.cache_clear()
    clear_cache()


def _largest_relative_difference(plain, structured) -> float:
    with mpmath.workdps(2 * DPS):
        return float(max(abs(mpmath.mpf(p) - s) / abs(s) for p, s in zip(plain, structured)))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms"


def _chain_section() -> None:
    first = _best(lambda: _structured(DEPTH), 1)
    plain_s = _best(lambda: _plain(DEPTH), 3, setup=clear_cache)
    cold = _best(lambda: _structured(DEPTH), 5, setup=_cold)
    warm = _best(lambda: _structured(DEPTH), 20)
    print(f"Depth {DEPTH}, sigmoid, quadratic cost, {DPS} digits, {2 * DEPTH} partial derivatives")
    print(f"  plain sympy.diff + evalf          {_ms(plain_s)}")
    for label, seconds in (("structured, first call", first), ("structured, cold", cold),
                           ("structured, warm", warm)):
        ratio = plain_s / seconds
        verdict = "met" if ratio >= SPEEDUP_TARGET else "missed"
        print(f"  {label:<32}  {_ms(seconds)}  speed-up {ratio:7.0f}x "
              f"(target >= {SPEEDUP_TARGET}x: {verdict})")
    plain_db, plain_dw = _plain(DEPTH)
    exact = _structured(DEPTH)
    for name, plain, structured in (("db", plain_db, exact.db), ("dw", plain_dw, exact.dw)):
        difference = _largest_relative_difference(plain, structured)
        agree = "yes" if difference < 10.0 ** -AGREE_DIGITS else "NO"
        print(f"  {name} agree to {AGREE_DIGITS} digits: {agree} "
              f"(largest relative difference {difference:.1e})")

    deep = _best(lambda: _structured(DEEP), 10)
    verdict = "met" if deep <= DEEP_TARGET_S else "missed"
    print(f"\nDepth {DEEP} structured, warm: {_ms(deep)} "
          f"(target {DEEP_TARGET_S * 1e3:.0f} ms: {verdict})")

    print("\nchain.log_abs_db (sigmoid, quadratic cost)")
    times = {}
    for depth in LOG_DEPTHS:
        times[depth] = _best(lambda: chain.log_abs_db(*_chain(depth)), 5)
        print(f"  depth {depth:>6}: {_ms(times[depth])}  {times[depth] / depth * 1e6:6.2f} µs/layer")
    ratio = times[LOG_DEPTHS[-1]] / times[LOG_DEPTHS[0]]
    print(f"  time({LOG_DEPTHS[-1]})/time({LOG_DEPTHS[0]}) = {ratio:.1f} "
          f"({LOG_DEPTHS[-1] // LOG_DEPTHS[0]} when linear)")


def _prebuilt_torch(weights, biases, x, y):
    """A forward and backward pass on ``nn.Linear`` layers and tensors built once, as a callable.

    Sigmoid, quadratic cost, float64 on the CPU; each call clears the gradients
    and returns (dW, db, δ/B) as tensors.
    """
    torch = devices.torch()
    layers = []
    for W_l, b_l in zip(weights, biases):
        layer = torch.nn.Linear(W_l.shape[1], W_l.shape[0], dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(W_l))
            layer.bias.copy_(torch.as_tensor(b_l))
        layers.append(layer)
    inputs, target = torch.as_tensor(x), torch.as_tensor(y)

    def step():
        for layer in layers:
            layer.weight.grad = layer.bias.grad = None
        a, z = inputs, []
        for layer in layers:
            z.append(layer(a))
            z[-1].retain_grad()
            a = torch.sigmoid(z[-1])
        (0.5 * ((a - target) ** 2).sum(dim=1).mean()).backward()
        return ([layer.weight.grad for layer in layers], [layer.bias.grad for layer in layers],
                [z_l.grad for z_l in z])

    return step


FLOOR_TARGET = 1.25  # an engine's time over the time of its matrix products alone


def _dense_floor(weights, x):
    """The matrix products of one ``mlp.backward`` call alone, on arrays allocated once: per layer
    a^(l−1) W^lᵀ, δ^l W^l (∂C/∂x's too) and δ^lᵀ a^(l−1)."""
    batch = x.shape[0]
    inputs = [x] + [np.ones((batch, W.shape[0])) for W in weights[:-1]]
    deltas = [np.ones((batch, W.shape[0])) for W in weights]
    outputs = [np.empty((batch, W.shape[0])) for W in weights]
    backs = [np.empty((batch, W.shape[1])) for W in weights]
    grads = [np.empty(W.shape) for W in weights]

    def products():
        for a, W, z in zip(inputs, weights, outputs):
            np.matmul(a, W.T, out=z)
        for a, W, d, back, g in zip(inputs, weights, deltas, backs, grads):
            np.matmul(d, W, out=back)
            np.matmul(d.T, a, out=g)

    return products


def _activation_floor(name: str, shapes):
    """f and f′ of :mod:`gradproofs.activations` over arrays of the pre-activations' ``shapes``
    (standard normal values scaled by 1.5): the elementwise work the products leave out."""
    act = activations.get(name)
    rng = np.random.default_rng(0)
    values = [1.5 * rng.standard_normal(shape) for shape in shapes]

    def evaluations():
        for a in values:
            act.numpy(a)
            act.numpy_derivative(a)

    return evaluations


def _print_floor(label: str, width: int, seconds: float, floor: float, activation: float) -> None:
    """The engine's time over its floor (target FLOOR_TARGET), and over the floor plus f and f′."""
    ratio = seconds / floor
    print(f"    {'floor   its matrix products':<{width}}{_ms(floor)}")
    print(f"    {'        f and f′ of every a':<{width}}{_ms(activation)}")
    print(f"    {label:<{width}}{_ms(seconds)}  numpy/floor {ratio:5.2f} (target <= {FLOOR_TARGET}: "
          f"{'met' if ratio <= FLOOR_TARGET else 'missed'}); numpy/(floor + f, f′) "
          f"{seconds / (floor + activation):5.2f}")


def _largest_gradient_difference(ours, theirs) -> float:
    """The largest |ours − theirs| over every ∂C/∂W^l entry, relative to the largest |ours|."""
    scale = max(float(np.abs(g).max()) for g in ours)
    return max(float(np.abs(g - t.numpy()).max()) for g, t in zip(ours, theirs)) / scale


def _dense_section() -> None:
    torch = devices.torch()
    torch.set_num_threads(THREADS)
    blas = os.environ["OPENBLAS_NUM_THREADS"] + (
        " (NumPy was imported before this module: the setting may not apply)"
        if _NUMPY_IMPORTED_FIRST else "")
    print(f"Dense networks, CPU, float64, sigmoid, quadratic cost: mlp.backward (NumPy) "
          f"against torch {torch.__version__} autograd")
    print(f"  {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, OPENBLAS_NUM_THREADS {blas}; "
          f"best of {DENSE_REPEATS} after {DENSE_WARM_UP} warm-up calls")
    for widths, batch in DENSE_CASES:
        rng = np.random.default_rng(DENSE_SEED)
        weights, biases = initialise(widths, "nielsen", rng)
        x, y = rng.random((batch, widths[0])), rng.random((batch, widths[-1]))
        prebuilt = _prebuilt_torch(weights, biases, x, y)
        engines = (
            ("numpy   mlp.backward", lambda: mlp.backward(weights, biases, x, y)),
            ("torch   mlp.backward_torch", lambda: mlp.backward_torch(weights, biases, x, y)),
            ("torch   prebuilt layers", prebuilt),
        )
        times = {}
        for label, fn in engines:
            _best(fn, DENSE_WARM_UP)
            times[label] = _best(fn, DENSE_REPEATS)
        floor = _best(_dense_floor(weights, x), DENSE_REPEATS)
        activation = _best(_activation_floor("sigmoid", [(batch, n) for n in widths[1:]]), DENSE_REPEATS)
        print(f"\n  widths {widths}, batch {batch} ({len(widths) - 1} layers)")
        numpy_s = times[engines[0][0]]
        _print_floor(engines[0][0], 28, numpy_s, floor, activation)
        for label, _ in engines[1:]:
            ratio = numpy_s / times[label]
            verdict = "met" if ratio <= DENSE_TARGET else "missed"
            print(f"    {label:<28}{_ms(times[label])}  numpy/torch {ratio:5.2f} "
                  f"(target <= {DENSE_TARGET:.1f}: {verdict})")
        difference = _largest_gradient_difference(mlp.backward(weights, biases, x, y).dW, prebuilt()[0])
        print(f"    dW agree: largest difference {difference:.1e} of the largest |dW| entry")


def _clipping_section() -> None:
    torch = devices.torch()
    torch.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    sizes = [round(share * CLIP_ELEMENTS) for share in CLIP_SHARES]
    grads = [rng.standard_normal(size, dtype=np.float32) for size in sizes]
    parameters = []
    for g in grads:
        parameter = torch.nn.Parameter(torch.zeros(g.shape))
        parameter.grad = torch.from_numpy(g.copy())
        parameters.append(parameter)
    print(f"Clipping by the global 2-norm, CPU, float32: {len(grads)} arrays, {sum(sizes):,} elements; "
          f"torch {torch.__version__} on {torch.get_num_threads()} threads; best of {CLIP_REPEATS}")
    times = {}
    engines = (("torch.nn.utils.clip_grad_norm_ (foreach, in place)",
                lambda: torch.nn.utils.clip_grad_norm_(parameters, 1.0, foreach=True)),
               ("clipping.clip_grad_norm", lambda: clipping.clip_grad_norm(grads, 1.0)),
               ("clipping.clip_grad_norm, safe_norm", lambda: clipping.clip_grad_norm(grads, 1.0, safe_norm=True)))
    for label, fn in engines:
        fn()
        times[label] = _best(fn, CLIP_REPEATS)
    torch_s, plain_s, safe_s = (times[label] for label, _ in engines)
    for label, _ in engines:
        print(f"  {label:<52}{_ms(times[label])}")
    ratio = plain_s / torch_s
    print(f"  ratio numpy/torch {ratio:5.2f} (target <= {CLIP_TARGET}: {'met' if ratio <= CLIP_TARGET else 'missed'})")
    ratio = safe_s / plain_s
    print(f"  ratio safe/plain  {ratio:5.2f} (target <= {SAFE_TARGET}: {'met' if ratio <= SAFE_TARGET else 'missed'})")
    overflowing = [g * np.float32(1e20) for g in grads]
    clipping.clip_grad_norm(overflowing, 1.0, safe_norm=True)
    scaled = _best(lambda: clipping.clip_grad_norm(overflowing, 1.0, safe_norm=True), CLIP_REPEATS)
    plain = _best(lambda: clipping.clip_grad_norm(overflowing, 1.0), CLIP_REPEATS)
    print(f"  entries near 1e20 (the squares overflow): safe {_ms(scaled)}, plain {_ms(plain)}, "
          f"ratio safe/plain {scaled / plain:5.2f} (the scaled recomputation; no target)")
    parameters = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for parameter, g in zip(parameters, grads):
        parameter.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_norm_(parameters, 1.0, foreach=True)
    ours, _ = clipping.clip_grad_norm(grads, 1.0)
    difference = max(float(np.max(np.abs(o - p.grad.numpy()))) for o, p in zip(ours, parameters))
    scale = max(float(np.max(np.abs(o))) for o in ours)
    print(f"  clipped gradients agree: largest difference {difference / scale:.1e} of the largest entry")


RNN_SIZES = (256, 32, 64, 256)  # T, B, I, H
RNN_SEED = 0
RNN_REPEATS = 7
RNN_WARM_UP = 2
RNN_TARGETS = (1.0, 1.5)  # numpy time / the torch loop's, / torch.nn.RNN's


def _rnn_problem(sizes=RNN_SIZES):
    """(x, h0, W_x, W_h, b, dL_dh): N(0, 1) inputs and loss gradients, W_x with N(0, 1/I) entries,
    W_h with N(0, 0.81/H) (‖W_h‖₂ ≈ 1.8; mean |h_t| 0.6, 2% of them above 0.99), small h0 and b."""
    steps, batch, inputs, hidden = sizes
    rng = np.random.default_rng(RNN_SEED)
    return (rng.standard_normal((steps, batch, inputs)), 0.1 * rng.standard_normal((batch, hidden)),
            rng.standard_normal((hidden, inputs)) / np.sqrt(inputs),
            0.9 * rng.standard_normal((hidden, hidden)) / np.sqrt(hidden), 0.1 * rng.standard_normal(hidden),
            rng.standard_normal((steps, batch, hidden)))


def _rnn_floor(x, h0, W_x, W_h, b, dL_dh):
    """The matrix products of one ``rnn.bptt`` call alone, on arrays allocated once: the input terms
    of every step (one product), h_(t−1) W_hᵀ and δ_t W_h at each step, then ∂L/∂W_x, ∂L/∂W_h and
    ∂L/∂x (one product each over all T·B rows)."""
    T, B, inputs = x.shape
    hidden = W_h.shape[0]
    rows, states, deltas = x.reshape(-1, inputs), np.ones((T * B, hidden)), np.ones((T * B, hidden))
    driven, step, grad_x, grad_h, back = (np.empty((T * B, hidden)), np.empty((B, hidden)),
                                          np.empty(W_x.shape), np.empty(W_h.shape), np.empty((T * B, inputs)))

    def products():
        np.matmul(rows, W_x.T, out=driven)
        for t in range(T):
            np.matmul(states[t * B:(t + 1) * B], W_h.T, out=step)
        for t in range(T):
            np.matmul(deltas[t * B:(t + 1) * B], W_h, out=step)
        np.matmul(deltas.T, rows, out=grad_x)
        np.matmul(deltas.T, states, out=grad_h)
        np.matmul(deltas, W_x, out=back)

    return products


def _rnn_engines() -> dict:
    from gradproofs.rnn import engine as rnn

    return {"numpy   rnn.bptt": rnn.bptt, "torch   rnn.bptt_torch (loop)": rnn.bptt_torch,
            "torch   rnn.bptt_nn_rnn (nn.RNN)": rnn.bptt_nn_rnn}


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def _rnn_resident_growth(engine: str) -> float:
    """MB by which one call of ``engine`` raises the resident set, its result included (Linux only).

    Meant for a fresh process: a call on a tiny problem first loads the code
    paths, then the kernel's high-water mark is reset (``/proc/self/clear_refs``)
    and read after the call (VmHWM), less the resident set before it (VmRSS).
    """
    import gc

    devices.torch().set_num_threads(THREADS)
    fn = _rnn_engines()[engine]
    problem = _rnn_problem()
    fn(*_rnn_problem((2, 2, 2, 2)))
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")
    before = _proc_status_kib("VmRSS")
    result = fn(*problem)
    peak = _proc_status_kib("VmHWM")
    del result
    return (peak - before) / 1024


def _fresh_process_growth(engine: str) -> str:
    import subprocess

    code = f"from gradproofs.bench import _rnn_resident_growth; print(_rnn_resident_growth({engine!r}))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        stderr = getattr(error, "stderr", None)
        reason = stderr.strip().splitlines()[-1] if isinstance(stderr, str) and stderr.strip() else str(error)
        return f"not measured ({reason})"
    return f"{float(done.stdout):7.1f} MB"


def _tracemalloc_peak(fn) -> float:
    """The most memory traced at once during ``fn()``, its result included, in MB."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result  # held until the peak is read
        return peak / 1e6
    finally:
        tracemalloc.stop()


def _rnn_difference(ours, theirs) -> float:
    """The largest |ours − theirs| over the four gradients, relative to the largest |ours| entry."""
    fields = ("W_x", "W_h", "b", "h0")
    scale = max(float(np.abs(getattr(ours, f)).max()) for f in fields)
    return max(float(np.abs(getattr(ours, f) - getattr(theirs, f).numpy()).max()) for f in fields) / scale


def _rnn_section() -> None:
    torch = devices.torch()
    torch.set_num_threads(THREADS)
    problem, engines = _rnn_problem(), _rnn_engines()
    steps, batch, inputs, hidden = RNN_SIZES
    print(f"RNN backpropagation through time, CPU, float64, tanh: T {steps}, B {batch}, I {inputs}, "
          f"H {hidden}; torch {torch.__version__}")
    print(f"  {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, OPENBLAS_NUM_THREADS "
          f"{os.environ['OPENBLAS_NUM_THREADS']}; best of {RNN_REPEATS} after {RNN_WARM_UP} warm-up calls")
    times = {}
    for label, fn in engines.items():
        _best(lambda: fn(*problem), RNN_WARM_UP)
        times[label] = _best(lambda: fn(*problem), RNN_REPEATS)
    floor = _best(_rnn_floor(*problem), RNN_REPEATS)
    activation = _best(_activation_floor("tanh", [(steps, batch, hidden)]), RNN_REPEATS)
    (numpy_label, numpy_s), *others = times.items()
    _print_floor(numpy_label, 34, numpy_s, floor, activation)
    ours = engines[numpy_label](*problem)
    for (label, seconds), target in zip(others, RNN_TARGETS):
        ratio = numpy_s / seconds
        difference = _rnn_difference(ours, engines[label](*problem))
        print(f"    {label:<34}{_ms(seconds)}  numpy/torch {ratio:5.2f} (target <= {target}: "
              f"{'met' if ratio <= target else 'missed'}); gradients agree to {difference:.1e} of the largest")

    numpy_mb = _tracemalloc_peak(lambda: engines[numpy_label](*problem))
    tensor_mb = _tracemalloc_peak(lambda: torch.empty(2**20, dtype=torch.float64))
    print(f"\n  Peak memory of one call, its result included; one (T, B, H) float64 history is "
          f"{8 * steps * batch * hidden / 1e6:.1f} MB")
    print(f"    tracemalloc (NumPy's allocations)  {numpy_mb:7.1f} MB for rnn.bptt; it does not see torch's "
          f"allocator (an 8.4 MB tensor traces as {tensor_mb * 1e6:.0f} bytes)")
    print("    resident-set growth, each engine in a fresh process after a call on a tiny problem: peak VmHWM "
          "(reset through /proc/self/clear_refs) during the call less VmRSS before it")
    for label in engines:
        print(f"      {label:<32}{_fresh_process_growth(label)}")


REFERENCE_REPEATS = 3
REFERENCE_TARGETS = {"speed-up": 20.0, "seconds": 0.5}


def _reference_time(reference) -> float:
    """Seconds to build a reference and its expectations (exact values, scales, tolerances): what the
    oracle spends judging one example."""
    return _best(lambda: reference().expectations(float(np.finfo(np.float64).eps), derivative_from_output=True),
                 REFERENCE_REPEATS)


def _reference_section() -> None:
    from gradproofs import extended
    from gradproofs.rnn import engine as rnn

    print(f"The exact reference of one example: mpmath's 40 digits against long double ({extended.EPS:.2e}"
          f" machine epsilon, {'available' if extended.AVAILABLE else 'NOT available: no wider than float64'}); "
          f"best of {REFERENCE_REPEATS}")
    rng = np.random.default_rng(DENSE_SEED)
    widths, batch = [64] * 7, 32
    weights, biases = initialise(widths, "nielsen", rng)
    x, y = rng.random((batch, 64)), rng.random((batch, 64))
    slow = _reference_time(lambda: mlp.reference(weights, biases, x, y, engine="mpmath"))
    fast = _reference_time(lambda: mlp.reference(weights, biases, x, y, engine="extended"))
    print(f"  dense, widths {widths}, batch {batch}: mpmath {_ms(slow)}, long double {_ms(fast)}: "
          f"{slow / fast:6.1f}x (target >= {REFERENCE_TARGETS['speed-up']:.0f}: "
          f"{'met' if slow / fast >= REFERENCE_TARGETS['speed-up'] else 'missed'})")
    widths, batch = [784, 128, 128, 10], 64
    weights, biases = initialise(widths, "nielsen", rng)
    x, y = rng.random((batch, 784)), rng.random((batch, 10))
    _report_seconds(f"dense, widths {widths}, batch {batch}",
                    _reference_time(lambda: mlp.reference(weights, biases, x, y, engine="extended")))
    sizes = (64, 16, 32, 128)
    problem = _rnn_problem(sizes)
    _report_seconds(f"RNN, T {sizes[0]}, B {sizes[1]}, I {sizes[2]}, H {sizes[3]}",
                    _reference_time(lambda: rnn.reference(*problem, engine="extended")))


def _report_seconds(label: str, seconds: float) -> None:
    target = REFERENCE_TARGETS["seconds"]
    print(f"  {label}: long double {_ms(seconds)} (target < {target} s: {'met' if seconds < target else 'missed'})")


SECTIONS = {"chain": _chain_section, "mlp": _dense_section, "clipping": _clipping_section, "rnn": _rnn_section,
            "reference": _reference_section}
SECTION_ALIASES = {"dense": "mlp"}  # the section's former name


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gradproofs.bench",
                                     description="Print timings measured in one run and their ratios.")
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"{' or '.join(SECTIONS)} (default: all, in that order)")
    chosen = [SECTION_ALIASES.get(name, name) for name in parser.parse_args(argv).sections] or list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; expected one of {', '.join(SECTIONS)}")
    for i, name in enumerate(dict.fromkeys(chosen)):
        if i:
            print()
        SECTIONS[name]()


if __name__ == "__main__":
    main()
