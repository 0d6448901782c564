"""Packaging promises: a light import, a working command line, strategies that validate."""

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis.errors import InvalidArgument

from gradproofs import cli, strategies


def test_import_is_light():
    code = ("import sys, gradproofs; "
            "heavy = [m for m in ('torch', 'sympy', 'hypothesis', 'matplotlib') if m in sys.modules]; "
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_verify_prints_a_table_and_passes(capsys):
    status = cli.main(["verify", "--device", "cpu", "--only", "chain-exploding-example",
                       "sigmoid-derivative-bound", "--max-examples", "5"])
    out = capsys.readouterr().out
    assert status == 0
    header = out.splitlines()[0].split()
    assert header[:3] == ["theorem", "kind", "device"] and "verdict" in header
    assert "chain-exploding-example" in out and "2 passed, 0 failed" in out


def test_verify_unknown_id_and_missing_cuda_are_clear_errors(capsys):
    assert cli.main(["verify", "--only", "no-such-theorem"]) == 2
    assert "unknown theorem id 'no-such-theorem'" in capsys.readouterr().err
    from gradproofs import devices

    if not devices.cuda_available():
        assert cli.main(["verify", "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


def test_max_examples_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        cli.main(["verify", "--max-examples", "0"])
    assert "--max-examples must be at least 1" in capsys.readouterr().err


def test_derive_check_reports_a_stale_folder(tmp_path, capsys):
    assert cli.main(["derive", "--out", str(tmp_path)]) == 0
    assert cli.main(["derive", "--out", str(tmp_path), "--check"]) == 0
    chain_md = tmp_path / "chain.md"
    chain_md.write_text(chain_md.read_text().replace("3906.25", "3906.5"))
    capsys.readouterr()
    assert cli.main(["derive", "--out", str(tmp_path), "--check"]) == 1
    captured = capsys.readouterr()
    assert "-" in captured.out and "3906.5" in captured.out and "out of date" in captured.err


def test_check_command_runs_the_oracle_on_a_module_function(tmp_path, monkeypatch, capsys):
    (tmp_path / "mybackprop.py").write_text(
        "from gradproofs import chain\n"
        "def good(w, b, x, y):\n"
        "    r = chain.backward(w, b, x, y)\n"
        "    return r.dw, r.db\n"
        "def bad(w, b, x, y):\n"
        "    r = chain.backward(w, b, x, y)\n"
        "    return r.dw, 2 * r.db\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["check", "mybackprop:good", "--max-examples", "10"]) == 0
    assert cli.main(["check", "mybackprop:bad", "--max-examples", "10"]) == 1
    assert "Smallest counterexample" in capsys.readouterr().out
    assert cli.main(["check", "nocolon"]) == 2


def test_the_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "gradproofs", "list"], capture_output=True,
                            text=True, check=True)
    assert "chain-product-form" in result.stdout


@pytest.mark.parametrize("kwargs", [dict(min_depth=0), dict(max_depth=0), dict(max_weight=-1.0),
                                    dict(max_bias=float("nan")), dict(activation="softsign"),
                                    dict(cost="cross_entropy", activation="relu")])
def test_strategies_validate_their_arguments(kwargs):
    with pytest.raises(InvalidArgument):
        strategies.chains(**kwargs).example()


@given(strategies.chains(min_depth=2, max_depth=5, max_weight=3.0, cost="cross_entropy"))
def test_chains_respect_their_options(example):
    assert 2 <= len(example.w) == len(example.b) <= 5
    assert abs(example.w).max() <= 3.0 and 0.0 <= example.y <= 1.0


def test_check_command_runs_check_mlp(tmp_path, monkeypatch, capsys):
    (tmp_path / "mydense.py").write_text(
        "from gradproofs import mlp\n"
        "def good(weights, biases, x, y):\n"
        "    r = mlp.backward(weights, biases, x, y)\n"
        "    return r.dW, r.db\n"
        "def summed(weights, biases, x, y):\n"
        "    r = mlp.backward(weights, biases, x, y)\n"
        "    return [g * len(x) for g in r.dW], r.db\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["check", "mydense:good", "--network", "mlp", "--max-examples", "10"]) == 0
    assert cli.main(["check", "mydense:summed", "--network", "mlp", "--max-examples", "30"]) == 1
    assert "Smallest counterexample" in capsys.readouterr().out
