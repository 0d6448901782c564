"""gradproofs' pytest plugin: namespaced Hypothesis profiles and the ``--gradproofs-device`` option.

Installing gradproofs registers this module through the ``pytest11`` entry point
(``-p no:gradproofs`` turns it off). It changes nothing in a suite that does not
ask for it: it loads no profile and imports neither Hypothesis nor torch until
asked. A suite that calls the oracles gets:

- the profiles (``PROFILES``) ``gradproofs-dev`` (10 examples, no deadline),
  ``gradproofs-ci`` (Hypothesis's own ci profile with 20 examples) and
  ``gradproofs-thorough`` (1000 examples), chosen with
  ``--hypothesis-profile NAME``, or loaded by the suite's conftest.py after
  :func:`register_profiles`. The oracles follow whichever profile is active
  when no ``max_examples`` is given;
- ``--gradproofs-device cpu|cuda|all`` (or ``GRADPROOFS_DEVICE``; default all)
  and a ``device`` fixture: a test that takes ``device`` runs on cpu and cuda,
  skipped with the reason on a device not requested or not there; naming
  ``cuda`` where there is none is a usage error, not a skip. A suite's own
  ``device`` fixture takes precedence, as pytest's lookup rules have it.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["PROFILES", "register_profiles", "pytest_addoption", "pytest_configure", "device"]

PROFILES = ("gradproofs-dev", "gradproofs-ci", "gradproofs-thorough")


def register_profiles() -> None:
    """Register those of :data:`PROFILES` not registered yet (a suite's own definition stays)."""
    from hypothesis import HealthCheck, settings
    from hypothesis.errors import InvalidArgument

    slow = [HealthCheck.too_slow]
    definitions = {
        "gradproofs-dev": dict(max_examples=10, deadline=None, suppress_health_check=slow),
        "gradproofs-ci": dict(parent=settings.get_profile("ci"), max_examples=20, suppress_health_check=slow),
        "gradproofs-thorough": dict(max_examples=1000, deadline=None, suppress_health_check=slow),
    }
    for name, values in definitions.items():
        try:
            settings.get_profile(name)
        except InvalidArgument:
            settings.register_profile(name, **values)


def pytest_addoption(parser):
    """Add ``--gradproofs-device`` (default: ``GRADPROOFS_DEVICE``, else all)."""
    parser.addoption("--gradproofs-device", choices=("cpu", "cuda", "all"),
                     default=os.environ.get("GRADPROOFS_DEVICE", "all"),
                     help="gradproofs: torch device(s) for tests that take the device fixture (default: all "
                          "available; env GRADPROOFS_DEVICE)")


@pytest.hookimpl(tryfirst=True)  # before Hypothesis's plugin loads the profile named on the command line
def pytest_configure(config):
    """Register the ``PROFILES`` when ``--hypothesis-profile`` names one of them."""
    if config.getoption("--hypothesis-profile", None) in PROFILES:
        register_profiles()
    if config.getoption("--gradproofs-device") == "cuda":
        from gradproofs import devices

        try:
            devices.resolve("cuda")
        except ValueError as error:
            raise pytest.UsageError(f"--gradproofs-device cuda: {error}") from None


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """A torch device name, "cpu" or "cuda"; skipped where ``--gradproofs-device`` did not ask for it or
    torch has no such device."""
    choice = request.config.getoption("--gradproofs-device")
    if choice not in ("all", request.param):
        pytest.skip(f"not requested (--gradproofs-device {choice})")
    if request.param == "cuda":
        from gradproofs import devices

        if not devices.cuda_available():
            pytest.skip("CUDA is not available here (torch has no CUDA device); "
                        "run with --gradproofs-device cuda on a machine with a GPU")
    return request.param
