"""Timings of the engines, as ratios measured in one run: ``python -m gradproofs.bench [SECTION ...]``.

The sections are the families' (each declares its own: ``FAMILY.bench``, in the families' order),
then ``reference`` and ``generic``; each runs alone when named, and with no name all run.

reference
    The exact reference of one example as the oracle builds it (exact values,
    scales, tolerances): mpmath against long double (:mod:`gradproofs.extended`)
    for a dense network of widths [64]*7 and a batch of 32 (target: at least
    20 times faster), and long double alone for widths [784, 128, 128, 10] with a
    batch of 64 and an RNN of T 64, B 16, I 32, H 128 (target: under 0.5 s each).

generic
    check_gradients on a battery of planted bugs in the style of real kernels, beside
    ``torch.autograd.gradcheck`` (float64 and the kernel's dtype) and the twice-PyTorch rule, each
    also on the correct function; the tightness of the bound on torch's autograd; and one transformer
    block example (B 2, T 128, D 256, 4 heads) judged against torch's float64 autograd (target: 2 s).

Each time is the best of several repeats of ``time.perf_counter``. Nothing here
is asserted: timings depend on the machine.
"""

from __future__ import annotations

from gradproofs import timing  # first: it sets NumPy's threads before NumPy is imported

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from gradproofs import catalogue  # noqa: E402
from gradproofs.family import load  # noqa: E402

__all__ = ["REFERENCE_REPEATS", "REFERENCE_SEED", "REFERENCE_TARGETS", "sections", "main"]

REFERENCE_REPEATS = 3
REFERENCE_SEED = 0
REFERENCE_TARGETS = {"speed-up": 20.0, "seconds": 0.5}


def _reference_time(reference) -> float:
    """Seconds to build a reference and its expectations (exact values, scales, tolerances): what the
    oracle spends judging one example."""
    eps = float(np.finfo(np.float64).eps)
    return timing.best(lambda: reference().expectations(eps, derivative_from_output=True), REFERENCE_REPEATS)


def _reference_section() -> None:
    from gradproofs import extended
    from gradproofs.mlp import engine as mlp
    from gradproofs.mlp.initialisation import initialise
    from gradproofs.rnn import bench as rnn_bench, engine as rnn

    print(f"The exact reference of one example: mpmath's 40 digits against long double ({extended.EPS:.2e}"
          f" machine epsilon, {'available' if extended.AVAILABLE else 'NOT available: no wider than float64'}); "
          f"best of {REFERENCE_REPEATS}")
    rng = np.random.default_rng(REFERENCE_SEED)
    widths, batch = [64] * 7, 32
    weights, biases = initialise(widths, "nielsen", rng)
    x, y = rng.random((batch, 64)), rng.random((batch, 64))
    slow = _reference_time(lambda: mlp.reference(weights, biases, x, y, engine="mpmath"))
    fast = _reference_time(lambda: mlp.reference(weights, biases, x, y, engine="extended"))
    print(f"  dense, widths {widths}, batch {batch}: mpmath {timing.ms(slow)}, long double {timing.ms(fast)}: "
          f"{slow / fast:6.1f}x (target >= {REFERENCE_TARGETS['speed-up']:.0f}: "
          f"{'met' if slow / fast >= REFERENCE_TARGETS['speed-up'] else 'missed'})")
    widths, batch = [784, 128, 128, 10], 64
    weights, biases = initialise(widths, "nielsen", rng)
    x, y = rng.random((batch, 784)), rng.random((batch, 10))
    _report_seconds(f"dense, widths {widths}, batch {batch}",
                    _reference_time(lambda: mlp.reference(weights, biases, x, y, engine="extended")))
    sizes = (64, 16, 32, 128)
    problem = rnn_bench.random_problem(sizes)
    _report_seconds(f"RNN, T {sizes[0]}, B {sizes[1]}, I {sizes[2]}, H {sizes[3]}",
                    _reference_time(lambda: rnn.reference(*problem, engine="extended")))


def _report_seconds(label: str, seconds: float) -> None:
    target = REFERENCE_TARGETS["seconds"]
    verdict = "met" if seconds < target else "missed"
    print(f"  {label}: long double {timing.ms(seconds)} (target < {target} s: {verdict})")


def _generic_section() -> None:
    from gradproofs.oracle import battery

    battery.bench()


def sections() -> dict:
    """Section name → the function that prints it: every family's, then ``reference`` and ``generic``."""
    declared = catalogue.declared("bench")
    return {**{name: load(reference) for name, reference in declared.items()}, "reference": _reference_section,
            "generic": _generic_section}


def main(argv=None) -> None:
    """Run the named sections (all, with none named), in the order :func:`sections` lists them."""
    known = sections()
    parser = argparse.ArgumentParser(prog="python -m gradproofs.bench",
                                     description="Print timings measured in one run and their ratios.")
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"{' or '.join(known)} (default: all, in that order)")
    chosen = parser.parse_args(argv).sections or list(known)
    unknown = [name for name in chosen if name not in known]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; expected one of {', '.join(known)}")
    for i, name in enumerate(dict.fromkeys(chosen)):
        if i:
            print()
        known[name]()


if __name__ == "__main__":
    main()
