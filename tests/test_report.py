"""The figures of ``gradproofs report``, and the message when matplotlib is missing."""

import sys

import pytest

import gradproofs
from gradproofs import cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = {"chain-vanishing.png", "chain-window.png"}


def test_write_draws_both_figures(tmp_path):
    pytest.importorskip("matplotlib")
    from gradproofs import report

    paths = report.write(tmp_path / "figures")
    assert {p.name for p in paths} == NAMES
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE), path
        assert len(data) > 10_000, f"{path} is only {len(data)} bytes"


def test_report_command_succeeds(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli.main(["report", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == NAMES
    assert capsys.readouterr().out.count("wrote ") == 2


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
