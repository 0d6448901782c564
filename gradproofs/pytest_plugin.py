"""gradproofs' pytest plugin: its Hypothesis profiles and the ``--device`` option, in any suite.

Installing gradproofs registers this module through the ``pytest11`` entry point
(``-p no:gradproofs`` turns it off), so a suite that calls the oracles gets:

- the profiles ``dev`` (10 examples, no deadline), ``ci`` (Hypothesis's own ci
  profile, derandomized, no deadline, printing the reproduction blob, with 20
  examples) and ``thorough`` (1000 examples), chosen as any Hypothesis profile
  is, with ``--hypothesis-profile NAME``, or with ``GRADPROOFS_PROFILE=NAME``.
  A profile of the same name registered by the suite itself (in its
  conftest.py, which pytest reads after this plugin) takes precedence. The
  oracles follow whichever profile is active when no ``max_examples`` is given;
- ``--device cpu|cuda|all`` (or ``GRADPROOFS_DEVICE``; default all) and a
  ``device`` fixture: a test that takes ``device`` runs once per requested
  device, and is skipped with the reason on cuda where there is none; naming
  ``cuda`` where there is none is a usage error, not a skip.
"""

from __future__ import annotations

import os

import pytest

__all__ = [
    "PROFILES", "register_profiles", "pytest_addoption", "pytest_configure", "requested_devices",
    "pytest_generate_tests", "device"
]

PROFILES = ("dev", "ci", "thorough")


def register_profiles() -> None:
    """The dev, ci and thorough profiles (ci built on Hypothesis's own)."""
    from hypothesis import HealthCheck, settings

    slow = [HealthCheck.too_slow]
    settings.register_profile("dev", max_examples=10, deadline=None, suppress_health_check=slow)
    settings.register_profile("ci", parent=settings.get_profile("ci"), max_examples=20, suppress_health_check=slow)
    settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=slow)


register_profiles()


def pytest_addoption(parser):
    parser.addoption("--device", choices=("cpu", "cuda", "all"),
                     default=os.environ.get("GRADPROOFS_DEVICE", "all"),
                     help="gradproofs: torch device(s) for tests that take the device fixture (default: all "
                          "available; env GRADPROOFS_DEVICE)")


def pytest_configure(config):
    profile = os.environ.get("GRADPROOFS_PROFILE")
    if profile and not config.getoption("hypothesis_profile", None):
        from hypothesis import settings

        settings.load_profile(profile)
    if config.getoption("--device") == "cuda":
        from gradproofs import devices

        try:
            devices.resolve("cuda")
        except ValueError as error:
            raise pytest.UsageError(f"--device cuda: {error}") from None


def requested_devices(config) -> list:
    choice = config.getoption("--device")
    return ["cpu", "cuda"] if choice == "all" else [choice]


def pytest_generate_tests(metafunc):
    definitions = getattr(metafunc, "_arg2fixturedefs", {}).get("device")
    # Only this plugin's fixture: a suite's own `device` fixture is left as it is.
    if definitions and getattr(definitions[-1].func, "__module__", None) == __name__:
        metafunc.parametrize("device", requested_devices(metafunc.config), indirect=True)


@pytest.fixture
def device(request):
    """A torch device name, "cpu" or "cuda", one per device ``--device`` asks for."""
    from gradproofs import devices

    if request.param == "cuda" and not devices.cuda_available():
        pytest.skip("CUDA is not available here (torch has no CUDA device); "
                    "run with --device cuda on a machine with a GPU")
    return request.param
