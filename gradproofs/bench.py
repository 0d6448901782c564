"""Timings of the engines, as ratios measured in one run: ``python -m gradproofs.bench [chain] [dense]``.

Each section runs alone when named; with no name, both run.

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

dense
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

from gradproofs import chain, devices, mlp  # noqa: E402
from gradproofs.initialisation import initialise  # noqa: E402

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
    chain._mpmath_callables.cache_clear()
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
        print(f"\n  widths {widths}, batch {batch} ({len(widths) - 1} layers)")
        numpy_s = times[engines[0][0]]
        print(f"    {engines[0][0]:<28}{_ms(numpy_s)}")
        for label, _ in engines[1:]:
            ratio = numpy_s / times[label]
            verdict = "met" if ratio <= DENSE_TARGET else "missed"
            print(f"    {label:<28}{_ms(times[label])}  numpy/torch {ratio:5.2f} "
                  f"(target <= {DENSE_TARGET:.1f}: {verdict})")
        difference = _largest_gradient_difference(mlp.backward(weights, biases, x, y).dW, prebuilt()[0])
        print(f"    dW agree: largest difference {difference:.1e} of the largest |dW| entry")


SECTIONS = {"chain": _chain_section, "dense": _dense_section}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gradproofs.bench",
                                     description="Print timings measured in one run and their ratios.")
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"{' or '.join(SECTIONS)} (default: all, in that order)")
    chosen = parser.parse_args(argv).sections or list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; expected one of {', '.join(SECTIONS)}")
    for i, name in enumerate(dict.fromkeys(chosen)):
        if i:
            print()
        SECTIONS[name]()


if __name__ == "__main__":
    main()
