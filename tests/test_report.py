"""The figures of ``gradproofs report``, and the message when matplotlib is missing."""

import sys
from fractions import Fraction

import numpy as np
import pytest

import gradproofs
from gradproofs import cli
from gradproofs.extras import install_hint

PLOTS = f"the plots extra is not installed: {install_hint('plots')}"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_write_draws_every_figure(tmp_path):
    pytest.importorskip("matplotlib", reason=PLOTS)
    from gradproofs import report

    paths = report.write(tmp_path / "figures")
    assert [p.name for p in paths] == list(report.figures())
    for path in paths:
        assert path.is_file(), path
        assert path.parent == tmp_path / "figures", path
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE), path
        assert len(data) > 10_000, f"{path} is only {len(data)} bytes"


def test_delta_figure_stays_under_its_spectral_bound():
    pytest.importorskip("matplotlib", reason=PLOTS)
    from gradproofs.mlp import figures

    log_norms, log_bound = figures.delta_norms_and_bounds()
    assert log_norms.shape == log_bound.shape == (len(figures.DELTA_WIDTHS) - 1, figures.DELTA_BATCH)
    assert np.all(log_norms <= log_bound + 1e-12)
    assert np.array_equal(log_norms[-1], log_bound[-1])  # the bound starts at ‖δ^L‖ itself
    assert np.all(np.diff(log_norms, axis=0) > 0)  # the error shrinks layer by layer going back


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_rnn_jacobian_figure_stays_under_its_bound(activation):
    pytest.importorskip("matplotlib", reason=PLOTS)
    from gradproofs.rnn import figures

    distances, norms, bounds, radii = figures.jacobian_norms(activation)
    assert list(distances) == list(range(figures.JACOBIAN_SIZES["T"] + 1))
    assert set(norms) == set(bounds) == set(radii) == set(figures.JACOBIAN_NORMS)
    for sigma in figures.JACOBIAN_NORMS:
        assert norms[sigma][0] == bounds[sigma][0] == 1.0  # ∂h_T/∂h_T = I
        assert np.all(norms[sigma] <= bounds[sigma] * (1 + 1e-12)), sigma
        assert norms[sigma][-1] < 1e-6, sigma  # |λ|_max < 1: every curve vanishes, whatever the bound
        assert radii[sigma] < sigma


def test_rnn_cliff_figure_has_the_spike_at_the_unstable_bias():
    pytest.importorskip("matplotlib", reason=PLOTS)
    from gradproofs.rnn import figures
    from gradproofs.rnn import cliff

    offsets, errors, norms, centre = figures.cliff_curve()
    assert centre == cliff.unstable_bias()
    assert offsets[0] == -figures.CLIFF_SPAN and offsets[-1] == figures.CLIFF_SPAN
    assert set(figures.CLIFF_MARKS) <= set(offsets)
    marked = {offset: norms[offsets == offset][0] for offset in figures.CLIFF_MARKS}
    assert [round(marked[offset], 3) for offset in figures.CLIFF_MARKS] == [779.398, 58.577, 0.193]
    peak = offsets[np.argmax(norms)]
    assert -1e-4 < peak < 0 and norms.max() > 5000  # the cliff lies just below b*
    assert norms[0] < 1 and norms[-1] < 1  # and the gradient is small on either side of it
    assert errors[0] > 0.3 and errors[-1] < 0.02  # x_50 falls to one stable fixed point or the other


def test_lm_training_figure_shows_the_trouble_and_its_remedy():
    pytest.importorskip("matplotlib", reason=PLOTS)
    from gradproofs.lm import figures
    from gradproofs.lm import training

    runs = figures.lm_training_runs()
    assert set(runs) == set(training.CLIPS)
    first = runs[None].losses[0]
    for clip, run in runs.items():
        assert len(run.losses) == training.STEPS and np.all(np.isfinite(run.losses)), clip
        assert run.losses[0] == first, clip  # the same θ_0 and batches
    # Only what does not hang on the last bit of a sum (tests/test_lm_training.py checks the same claims
    # with θ_0 moved by one ulp): the unclipped run before it turns chaotic, and the norm-clipped run.
    unclipped = runs[None]
    assert unclipped.update_norms[0] > 10 * training.LR * training.NORM_THRESHOLD
    assert np.any(unclipped.losses[1:6] > first)
    assert runs["norm"].losses[1:].max() < first
    assert runs["norm"].losses[-20:].mean() < 0.1 * first  # where the norm-clipped run has got to


def test_lm_training_figure_draws_non_finite_losses(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason=PLOTS)
    from gradproofs.lm import figures
    from gradproofs.lm import training

    small = dict(hidden=4, seq_length=6, batch=2, steps=3)
    runs = {None: training.train(lr=1e308, **small), "value": training.train(clip="value", **small),
            "norm": training.train(clip="norm", **small)}
    assert not np.all(np.isfinite(runs[None].losses))
    monkeypatch.setattr(figures, "lm_training_runs", lambda: runs)
    figures.training_figure(tmp_path / "lm-training.png")
    assert (tmp_path / "lm-training.png").read_bytes().startswith(PNG_SIGNATURE)


def test_w999_figure_matches_the_exact_powers():
    """y = w⁹⁹⁹ and 999·w⁹⁹⁸ at the marks against exact rationals, and the lecture's figures, checked. The
    float w = 1.01 (or 0.99) is 101/100·(1 + δ), |δ| ≤ eps/2, so w⁹⁹⁹ carries 999·eps/2 relative, and
    the power itself a few roundings more: 1000·eps."""
    pytest.importorskip("matplotlib", reason=PLOTS)
    from gradproofs.lm import figures

    w, y, slope = figures.w999_curve()
    assert w[0] == figures.W999_SPAN[0] and w[-1] == figures.W999_SPAN[1]
    assert np.all(np.diff(w) > 0) and set(figures.W999_MARKS) <= set(w)
    eps = float(np.finfo(np.float64).eps)
    for mark, exact in ((0.99, Fraction(99, 100)), (1.0, Fraction(1)), (1.01, Fraction(101, 100))):
        at = w == mark
        assert y[at][0] == pytest.approx(float(exact ** 999), rel=1000 * eps)
        assert slope[at][0] == pytest.approx(float(999 * exact ** 998), rel=1000 * eps)
    marked = {mark: (y[w == mark][0], slope[w == mark][0]) for mark in figures.W999_MARKS}
    assert round(marked[1.01][0], 3) == 20751.639 and f"{marked[0.99][0]:.5e}" == "4.36073e-05"
    assert marked[1.0] == (1.0, 999.0)
    assert f"{marked[1.01][1]:.5e}" == "2.05256e+07" and f"{marked[0.99][1]:.3g}" == "0.044"
    assert np.all(np.diff(y) > 0) and np.all(np.diff(slope) > 0)


def test_report_command_succeeds(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib", reason=PLOTS)
    from gradproofs import report

    # Every figure is drawn by the test above; here one is enough to test the command.
    chosen = {"chain-window.png": report.figures()["chain-window.png"]}
    monkeypatch.setattr(report, "figures", lambda: chosen)
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
    assert 'pip install -c ci/constraints.txt ".[plots]"' in message
    assert not any(tmp_path.iterdir())
