"""The figures of ``gradproofs report``, and the message when matplotlib is missing."""

import sys

import numpy as np
import pytest

import gradproofs
from gradproofs import cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = {"chain-vanishing.png", "chain-window.png", "dense-speed-of-learning.png",
         "dense-delta-vs-depth.png", "rnn-jacobian-norms.png", "rnn-cliff.png",
         "clipping-tames-the-cliff.png"}


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


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_rnn_jacobian_figure_stays_under_its_bound(activation):
    pytest.importorskip("matplotlib")
    from gradproofs import report

    distances, norms, bounds, radii = report.jacobian_norms(activation)
    assert list(distances) == list(range(report.JACOBIAN_SIZES["T"] + 1))
    assert set(norms) == set(bounds) == set(radii) == set(report.JACOBIAN_NORMS)
    for sigma in report.JACOBIAN_NORMS:
        assert norms[sigma][0] == bounds[sigma][0] == 1.0  # ∂h_T/∂h_T = I
        assert np.all(norms[sigma] <= bounds[sigma] * (1 + 1e-12)), sigma
        assert norms[sigma][-1] < 1e-6, sigma  # |λ|_max < 1: every curve vanishes, whatever the bound
        assert radii[sigma] < sigma


def test_rnn_cliff_figure_has_the_spike_at_the_unstable_bias():
    pytest.importorskip("matplotlib")
    from gradproofs import cliff, report

    offsets, errors, norms, centre = report.cliff_curve()
    assert centre == cliff.unstable_bias()
    assert offsets[0] == -report.CLIFF_SPAN and offsets[-1] == report.CLIFF_SPAN
    assert set(report.CLIFF_MARKS) <= set(offsets)
    marked = {offset: norms[offsets == offset][0] for offset in report.CLIFF_MARKS}
    assert [round(marked[offset], 3) for offset in report.CLIFF_MARKS] == [779.398, 58.577, 0.193]
    peak = offsets[np.argmax(norms)]
    assert -1e-4 < peak < 0 and norms.max() > 5000  # the cliff lies just below b*
    assert norms[0] < 1 and norms[-1] < 1  # and the gradient is small on either side of it
    assert errors[0] > 0.3 and errors[-1] < 0.02  # x_50 falls to one stable fixed point or the other


def test_report_command_succeeds(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from gradproofs import report

    # Every figure is drawn by the test above; here one is enough to test the command.
    monkeypatch.setattr(report, "FIGURES", {"chain-window.png": report.FIGURES["chain-window.png"]})
    assert cli.main(["report", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"chain-window.png"}
    assert capsys.readouterr().out.count("wrote ") == 1


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
