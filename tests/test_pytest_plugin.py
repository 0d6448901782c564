"""gradproofs' pytest plugin is a good guest: installing gradproofs changes nothing in a suite that does
not ask for it, and a suite that does gets the namespaced profiles and the device option.

Each throwaway suite runs in a fresh pytest process, in a temporary directory (no conftest.py, no ini
file), with the environment of this run (so that it imports the same gradproofs)."""

import os
import subprocess
import sys

import pytest
from hypothesis import settings

from gradproofs import devices
from gradproofs.pytest_plugin import PROFILES, register_profiles

COUNTING_SUITE = """
from pathlib import Path

from hypothesis import given, settings, strategies as st

CALLS = []


@given(st.integers())
def test_count(x):
    CALLS.append(x)


def teardown_module():
    Path(__file__).with_name("calls.txt").write_text(f"{settings.get_current_profile_name()} {len(CALLS)}")
"""

DEVICE_SUITE = """
def test_plugins_device(device):
    print("ran on", device)
"""

OWN_DEVICE_SUITE = """
import pytest


@pytest.fixture
def device():
    return "the suite's own"


def test_own_device(device):
    assert device == "the suite's own"
"""

ORACLE_SUITE = """
from hypothesis import settings
from gradproofs.chain import engine as chain
from gradproofs.oracle import check_chain


def backprop(w, b, x, y):
    r = chain.backward(w, b, x, y)
    return r.dw, r.db


def test_the_oracle_follows_the_active_profile():
    report = check_chain(backprop, max_depth=3)
    print("examples", report.examples, "worst", report.worst_error)
    assert report.examples == settings.default.max_examples
"""


def run_pytest(directory, *arguments, **environment):
    """pytest in a fresh process on ``directory``, with this run's environment updated by ``environment``
    (a value None removes the variable)."""
    env = {**os.environ, **environment}
    env = {name: value for name, value in env.items() if value is not None}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-s",
                           "-rs", *arguments, str(directory)], capture_output=True, text=True, cwd=directory,
                          env=env)


def test_installing_gradproofs_leaves_a_users_hypothesis_settings_alone(tmp_path):
    (tmp_path / "test_counting.py").write_text(COUNTING_SUITE)
    counts = []
    for plugin in ([], ["-p", "no:gradproofs"]):  # as installed, and as if gradproofs were not
        run = run_pytest(tmp_path, *plugin, CI="true")
        assert run.returncode == 0, run.stdout + run.stderr
        counts.append((tmp_path / "calls.txt").read_text())
    # With CI set Hypothesis loads its own ci profile, whose max_examples is Hypothesis's default, 100
    # (https://hypothesis.readthedocs.io/en/latest/reference/api.html#hypothesis.settings.max_examples).
    assert counts == ["ci 100", "ci 100"]


def test_importing_the_plugin_imports_neither_hypothesis_nor_torch():
    code = ("import sys, gradproofs.pytest_plugin; "
            "print(','.join(m for m in ('hypothesis', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_namespaced_profiles_are_registered_not_loaded():
    register_profiles()
    profiles = {name: settings.get_profile(name) for name in PROFILES}
    assert [profiles[name].max_examples for name in PROFILES] == [10, 20, 1000]
    assert profiles["gradproofs-dev"].deadline is None and profiles["gradproofs-thorough"].deadline is None
    assert profiles["gradproofs-ci"].derandomize == settings.get_profile("ci").derandomize is True
    # This suite's conftest loaded its own gradproofs-dev (derandomized) or gradproofs-ci; registering again
    # keeps the suite's definition.
    assert settings.get_profile("gradproofs-dev").derandomize is True
    assert settings.get_current_profile_name() in ("gradproofs-dev", "gradproofs-ci")


@pytest.mark.parametrize("profile, examples", [("gradproofs-dev", 10), ("gradproofs-ci", 20)])
@pytest.mark.slow
def test_a_suite_asks_for_a_profile_on_the_command_line_and_the_oracles_follow_it(profile, examples, tmp_path):
    (tmp_path / "test_user.py").write_text(ORACLE_SUITE)
    runs = [run_pytest(tmp_path, "--hypothesis-profile", profile, CI=None)
            for _ in range(2 if profile == "gradproofs-ci" else 1)]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"examples {examples} " in run.stdout and "1 passed" in run.stdout
    if profile == "gradproofs-ci":  # derandomized: the same examples, so the same worst error, run after run
        assert runs[0].stdout.split("worst")[1].split()[0] == runs[1].stdout.split("worst")[1].split()[0]


def test_the_device_fixture_runs_cpu_and_cuda_where_there_is_one(tmp_path):
    (tmp_path / "test_plugins_device.py").write_text(DEVICE_SUITE)
    (tmp_path / "test_own_device.py").write_text(OWN_DEVICE_SUITE)
    run = run_pytest(tmp_path, GRADPROOFS_DEVICE=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ran on cpu" in run.stdout
    if devices.cuda_available():
        assert "ran on cuda" in run.stdout and "3 passed" in run.stdout
    else:
        assert "ran on cuda" not in run.stdout and "2 passed, 1 skipped" in run.stdout
        assert ("CUDA is not available here (torch has no CUDA device); run with --gradproofs-device cuda "
                "on a machine with a GPU") in run.stdout


def test_the_device_fixture_skips_a_device_not_requested(tmp_path):
    (tmp_path / "test_plugins_device.py").write_text(DEVICE_SUITE)
    run = run_pytest(tmp_path, "--gradproofs-device", "cpu", GRADPROOFS_DEVICE=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ran on cpu" in run.stdout and "ran on cuda" not in run.stdout and "1 passed, 1 skipped" in run.stdout
    assert "not requested (--gradproofs-device cpu)" in run.stdout


@pytest.mark.skipif(devices.cuda_available(), reason="CUDA is available here, so asking for it is no error")
def test_asking_for_cuda_where_there_is_none_is_a_usage_error(tmp_path):
    (tmp_path / "test_plugins_device.py").write_text(DEVICE_SUITE)
    run = run_pytest(tmp_path, "--gradproofs-device", "cuda")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR == 4
    assert "--gradproofs-device cuda: device='cuda' was requested but CUDA is not available" in run.stderr
