"""What the benchmark sections share: the threads they run on, and the best of several wall times.

Importing this module before NumPy sets the thread count of NumPy's BLAS (read from the
environment when NumPy is first imported) to torch's, unless already set.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["THREADS", "NUMPY_IMPORTED_FIRST", "best", "ms"]

THREADS = 2
NUMPY_IMPORTED_FIRST = "numpy" in sys.modules  # then the setting below may come too late
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, str(THREADS))


def best(fn, repeats: int, setup=None) -> float:
    """The least of ``repeats`` wall times of ``fn()``, ``setup()`` run untimed before each."""
    least = float("inf")
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        least = min(least, time.perf_counter() - start)
    return least


def ms(seconds: float) -> str:
    """Seconds as milliseconds, right-aligned."""
    return f"{seconds * 1e3:8.2f} ms"
