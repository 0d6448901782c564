"""Hypothesis profiles and the device option.

Profiles (``--hypothesis-profile NAME`` or ``GRADPROOFS_PROFILE=NAME``):
  dev       the default: few examples, fast feedback
  ci        Hypothesis's own ci profile (derandomized, no deadline, prints the
            reproduction blob), with more examples; loaded when CI is set
  thorough  1000 examples per property, opt-in

Devices (``--device cpu|cuda|all`` or ``GRADPROOFS_DEVICE``): ``all``, the
default, runs cpu and cuda where CUDA exists and skips cuda with the reason
where it does not; naming ``cuda`` where there is none is an error.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=10, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("ci"), max_examples=20,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("GRADPROOFS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser):
    parser.addoption("--device", choices=("cpu", "cuda", "all"),
                     default=os.environ.get("GRADPROOFS_DEVICE", "all"),
                     help="torch device(s) to test on (default: all available; env GRADPROOFS_DEVICE)")


def pytest_configure(config):
    if config.getoption("--device") == "cuda":
        from gradproofs import devices

        try:
            devices.resolve("cuda")
        except ValueError as error:
            raise pytest.UsageError(f"--device cuda: {error}") from None


def requested_devices(config) -> list[str]:
    choice = config.getoption("--device")
    return ["cpu", "cuda"] if choice == "all" else [choice]


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", requested_devices(metafunc.config), indirect=True)


@pytest.fixture
def device(request):
    from gradproofs import devices

    if request.param == "cuda" and not devices.cuda_available():
        pytest.skip("CUDA is not available here (torch has no CUDA device); "
                    "run with --device cuda on a machine with a GPU")
    return request.param
