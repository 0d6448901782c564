"""Timings of the chain's engines, as ratios measured in one run: ``python -m gradproofs.bench``.

1. Depth 8, sigmoid, quadratic cost, 30 digits, at w_j = 0.5, b_j = 0.1, x = 0.3,
   y = 0.2: plain ``sympy.diff`` of the nested cost for every w_j and b_j, then
   ``evalf``, against the product form ``chain.backward_exact`` (f and f′ derived
   by SymPy, evaluated in mpmath). The structured form is timed on its first call
   in the process (SymPy derives σ′ and its bound then), cold (the lambdified
   f, f′ rebuilt) and warm; the two must agree to 20 digits.
2. ``chain.backward_exact`` at depth 64, warm, against a 50 ms target.
3. ``chain.log_abs_db`` at depths 1000 to 10 000: time per layer, which is
   constant when the cost is linear in depth.

Each time is the best of several repeats of ``time.perf_counter``. Nothing here
is asserted: timings depend on the machine.
"""

from __future__ import annotations

import time

import mpmath
import sympy
from sympy.core.cache import clear_cache

from gradproofs import chain

DEPTH = 8
POINT = {"w": 0.5, "b": 0.1, "x": 0.3, "y": 0.2}
DPS = 30
AGREE_DIGITS = 20
SPEEDUP_TARGET = 100
DEEP = 64
DEEP_TARGET_S = 0.050
LOG_DEPTHS = (1000, 2000, 5000, 10_000)


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


def main() -> None:
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


if __name__ == "__main__":
    main()
