"""The figures of ``gradproofs report``, and the message when matplotlib is missing."""

import sys

import numpy as np
import pytest

import gradproofs
from gradproofs import cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = {"chain-vanishing.png", "chain-window.png", "dense-speed-of-learning.png",
         "dense-delta-vs-depth.png"}


def test_write_draws_every_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from gradproofs import report

    paths = report.write(tmp_path / "figures")
    assert {p.name for p in paths} == NAMES
    assert len(paths) == len(NAMES)
    for path in paths:
        assert path.is_file(), path
        assert path.parent == tmp_path / "figures", path
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE), path
        assert len(data) > 10_000, f"{path} is only {len(data)} bytes"


def test_delta_figure_stays_under_its_spectral_bound():
    pytest.importorskip("matplotlib")
    from gradproofs import report

    log_norms, log_bound = report.delta_norms_and_bounds()
    assert log_norms.shape == log_bound.shape == (len(report.DELTA_WIDTHS) - 1, report.DELTA_BATCH)
    assert np.all(log_norms <= log_bound + 1e-12)
    assert np.array_equal(log_norms[-1], log_bound[-1])  # the bound starts at ‖δ^L‖ itself
    assert np.all(np.diff(log_norms, axis=0) > 0)  # the error shrinks layer by layer going back


def test_report_command_succeeds(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli.main(["report", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == NAMES
    assert capsys.readouterr().out.count("wrote ") == len(NAMES)


def test_report_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    # Forget an earlier import, both the module and the package attribute that names it.
    monkeypatch.delitem(sys.modules, "gradproofs.report", raising=False)
    monkeypatch.delattr(gradproofs, "report", raising=False)
    assert cli.main(["report", "--out", str(tmp_path)]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    assert "gradproofs[plots]" in message
    assert not any(tmp_path.iterdir())
