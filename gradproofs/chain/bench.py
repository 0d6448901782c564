"""The chain's benchmark section.

- Depth 8, sigmoid, quadratic cost, 30 digits, at w_j = 0.5, b_j = 0.1, x = 0.3,
  y = 0.2: plain ``sympy.diff`` of the nested cost for every w_j and b_j, then
  ``evalf``, against the product form ``chain.backward_exact`` (f and f′ derived
  by SymPy, evaluated in mpmath). The structured form is timed on its first call
  in the process (SymPy derives σ′ and its bound then), cold (the lambdified
  f, f′ rebuilt) and warm; the two must agree to 20 digits.
- ``chain.backward_exact`` at depth 64, warm, against a 50 ms target.
- ``chain.log_abs_db`` at depths 1000 to 10 000: time per layer, which is
  constant when the cost is linear in depth.

Run by ``python -m gradproofs.bench`` (the family's declaration names this section); each time is the
best of several repeats, nothing is asserted.
"""

from __future__ import annotations

import mpmath
import sympy
from sympy.core.cache import clear_cache

from gradproofs import timing
from gradproofs.chain import engine as chain

DEPTH = 8
POINT = {"w": 0.5, "b": 0.1, "x": 0.3, "y": 0.2}
DPS = 30
AGREE_DIGITS = 20
SPEEDUP_TARGET = 100
DEEP = 64
DEEP_TARGET_S = 0.050
LOG_DEPTHS = (1000, 2000, 5000, 10_000)


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


def section() -> None:
    first = timing.best(lambda: _structured(DEPTH), 1)
    plain_s = timing.best(lambda: _plain(DEPTH), 3, setup=clear_cache)
    cold = timing.best(lambda: _structured(DEPTH), 5, setup=_cold)
    warm = timing.best(lambda: _structured(DEPTH), 20)
    print(f"Depth {DEPTH}, sigmoid, quadratic cost, {DPS} digits, {2 * DEPTH} partial derivatives")
    print(f"  plain sympy.diff + evalf          {timing.ms(plain_s)}")
    for label, seconds in (("structured, first call", first), ("structured, cold", cold),
                           ("structured, warm", warm)):
        ratio = plain_s / seconds
        verdict = "met" if ratio >= SPEEDUP_TARGET else "missed"
        print(f"  {label:<32}  {timing.ms(seconds)}  speed-up {ratio:7.0f}x "
              f"(target >= {SPEEDUP_TARGET}x: {verdict})")
    plain_db, plain_dw = _plain(DEPTH)
    exact = _structured(DEPTH)
    for name, plain, structured in (("db", plain_db, exact.db), ("dw", plain_dw, exact.dw)):
        difference = _largest_relative_difference(plain, structured)
        agree = "yes" if difference < 10.0 ** -AGREE_DIGITS else "NO"
        print(f"  {name} agree to {AGREE_DIGITS} digits: {agree} "
              f"(largest relative difference {difference:.1e})")

    deep = timing.best(lambda: _structured(DEEP), 10)
    verdict = "met" if deep <= DEEP_TARGET_S else "missed"
    print(f"\nDepth {DEEP} structured, warm: {timing.ms(deep)} "
          f"(target {DEEP_TARGET_S * 1e3:.0f} ms: {verdict})")

    print("\nchain.log_abs_db (sigmoid, quadratic cost)")
    times = {}
    for depth in LOG_DEPTHS:
        times[depth] = timing.best(lambda: chain.log_abs_db(*_chain(depth)), 5)
        print(f"  depth {depth:>6}: {timing.ms(times[depth])}  {times[depth] / depth * 1e6:6.2f} µs/layer")
    ratio = times[LOG_DEPTHS[-1]] / times[LOG_DEPTHS[0]]
    print(f"  time({LOG_DEPTHS[-1]})/time({LOG_DEPTHS[0]}) = {ratio:.1f} "
          f"({LOG_DEPTHS[-1] // LOG_DEPTHS[0]} when linear)")
