"""The suite's own default profile, its skips grouped by reason, and a quick end to each worker.

The profiles and the ``device`` fixture come from gradproofs' pytest plugin (gradproofs/pytest_plugin.py,
registered by the package's pytest11 entry point): ``--hypothesis-profile gradproofs-dev|gradproofs-ci|
gradproofs-thorough``, ``--gradproofs-device cpu|cuda|all`` or ``GRADPROOFS_DEVICE``.

Here gradproofs-ci when CI is set, else gradproofs-dev, derandomized and without an example database, so
that each run of the suite draws the same examples as the last; ``--hypothesis-profile`` overrides it.
"""

import gc
import os
from collections import Counter

from hypothesis import settings

from gradproofs.pytest_plugin import register_profiles

register_profiles()
settings.register_profile("gradproofs-dev", parent=settings.get_profile("gradproofs-dev"), database=None,
                          derandomize=True)
# The differential properties against the live libraries (tests marked differential), as CI runs them.
settings.register_profile("gradproofs-differential", parent=settings.get_profile("gradproofs-thorough"),
                          max_examples=3000)
settings.load_profile("gradproofs-ci" if os.environ.get("CI") else "gradproofs-dev")


def pytest_terminal_summary(terminalreporter):
    """One line per distinct skip reason, with how many tests it skipped (addopts has no -rs)."""
    reasons = Counter(report.longrepr[2].removeprefix("Skipped: ")
                      for report in terminalreporter.stats.get("skipped", [])
                      if isinstance(report.longrepr, tuple))
    if reasons:
        terminalreporter.section("skipped, by reason", sep="-")
        for reason, count in reasons.most_common():
            terminalreporter.line(f"{count:4d} {reason}")


def pytest_sessionfinish():
    """Collect garbage once, then freeze what survives.

    A worker's heap (torch, SymPy, TensorFlow, JAX and the suite's caches: some 800,000 objects) lives
    until the process exits, but pytest still collects garbage five times once the session is over. Over
    that heap this took up to 9 s, past the 5 s execnet gives a pytest-xdist worker to finish before it
    sends it SIGINT, which surfaced as a KeyboardInterrupt in Hypothesis's gc callback. Frozen objects
    are not scanned, so those five collections are instant; garbage made until now is still collected
    here, while pytest still reports what its finalizers raise.
    """
    gc.collect()
    gc.freeze()
