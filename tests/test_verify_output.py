"""Evidence in one unit (the fraction of its allowance a check used), and verify's JSON and JUnit XML."""

import json
import math
import xml.etree.ElementTree as ET

import pytest

from gradproofs import catalogue, cli, statistics
from gradproofs.derivation import Derivation
from gradproofs.theorem import Evidence, Theorem, recorded_theorems
from gradproofs.compare import Agreement, assert_close
from gradproofs.errors import Mismatch
from gradproofs.oracle.harness import Report

# --- Evidence ------------------------------------------------------------------------------------


def test_within_is_the_figure_over_its_allowance():
    assert Evidence.within(3, 4, "grid steps") == Evidence(0.75, 3.0, "grid steps")
    assert Evidence.within(0.0, 0.0, "absolute") == Evidence(0.0, 0.0, "absolute")  # an exact 0 uses none of 0
    assert Evidence.within(1e-300, 0.0, "absolute").used == math.inf  # anything else overdraws it
    assert Evidence.vacuous("of the bound") == Evidence(0.0, 0.0, "of the bound")


def test_a_bound_reports_the_value_over_the_bound_and_uses_what_the_check_allows():
    # value ≤ bound checked as value ≤ bound·(1 + 1/4): 1/2 of the bound 2, 1/2.5 = 0.2 of the allowance
    assert Evidence.bound(0.5, 2.0, allowed=2.5) == Evidence(0.2, 0.25, "of the bound")
    assert Evidence.bound(3.0, 4.0, unit="of τ") == Evidence(0.75, 0.75, "of τ")  # no rounding allowed
    assert Evidence.bound(0.0, 0.0) == Evidence(0.0, 0.0, "of the bound")


def test_standard_errors_use_the_band_the_check_asserts():
    assert Evidence.standard_errors(-2.5, 5.0) == Evidence(0.5, 2.5, "standard errors")
    # An estimate 2 standard errors off passes assert_in_band, which returns 2: 2/5.0263 of the band.
    off = statistics.assert_in_band(12.0, 1.0, 10.0, what="x")
    assert off == 2.0
    assert Evidence.standard_errors(off, statistics.BAND).used == pytest.approx(2 / 5.0263, rel=1e-4)
    with pytest.raises(Mismatch):  # and one just past the band (used > 1) fails it
        statistics.assert_in_band(10.0 + 1.001 * statistics.BAND, 1.0, 10.0, what="x")


def test_the_worse_of_two_is_the_one_that_used_more_of_its_allowance():
    near_miss = Evidence(0.98, 1e-16, "of the scale")
    comfortable = Evidence(1e-3, 3.0, "grid steps")
    assert near_miss.worse(comfortable) is near_miss and comfortable.worse(near_miss) is near_miss
    assert comfortable.worse(None) is comfortable
    not_a_number = Evidence(math.nan, math.nan, "of the bound")
    assert near_miss.worse(not_a_number) is not_a_number and not_a_number.worse(near_miss) is not_a_number


def test_an_agreement_is_the_largest_fraction_of_a_tolerance_and_the_largest_scaled_error():
    # errors/scale [1/8, 1/2] against tolerances [1/4, 2]: fractions [1/2, 1/4], on different entries
    agreement = assert_close("g", [1.125, 2.5], [1.0, 2.0], [1.0, 1.0], [0.25, 2.0], reason="test")
    assert agreement == Agreement(0.5, 0.5)
    assert assert_close("g", [3.0], [2.0], [4.0], 0.5, reason="test") == Agreement(0.5, 0.25)
    assert Evidence.agreement(agreement) == Evidence(0.5, 0.5, "of the scale")
    assert Agreement.worst([Agreement(0.5, 1e-3), Agreement(0.25, 1e-2)]) == Agreement(0.5, 1e-2)
    assert Agreement.worst([]) == Agreement(0.0, 0.0)


def test_an_oracle_report_gives_both_figures():
    assert str(Report("f(g)", 3, 2.5e-16, 0.125)) == ("f(g): agreed with the reference on 3 examples; "
                                                       "worst error 2.5e-16 of the scale (at most 0.125 of the "
                                                       "tolerance used)")


# --- verify's JSON and JUnit XML -----------------------------------------------------------------

def _false_on_purpose(data, device):
    from hypothesis import strategies as st

    if data.draw(st.booleans(), label="fail"):
        raise Mismatch("false on purpose")
    return Evidence.within(0.5, 1.0, "units")


CHEAP = ("rnn-zero-state-orthogonal", "hochreiter-optimum")  # NumPy-only and torch-on-the-CPU theorems
KEYS = {"id": str, "family": str, "kind": str, "device": str, "engines": list, "examples": int, "used": float,
        "raw": float, "unit": str, "verdict": str, "failure": (str, type(None)), "seed": int, "seconds": float}


@pytest.fixture
def with_a_false_theorem(monkeypatch):
    theorem = Theorem("false-on-purpose", "chain", "t", "s", "l", "src", "bound", ("numpy",), Derivation,
                      _false_on_purpose, uses_torch=False)
    catalogue.theorems()  # load the catalogue before adding to it
    monkeypatch.setitem(recorded_theorems(), theorem.id, theorem)
    return theorem


def test_json_and_junit_hold_a_record_per_theorem_and_device_and_show_a_failure(with_a_false_theorem, tmp_path,
                                                                                capsys):
    out, xml = tmp_path / "verify.json", tmp_path / "verify.xml"
    status = cli.main(["verify", "--device", "cpu", "--only", *CHEAP, "false-on-purpose", "--max-examples", "5",
                       "--seed", "7", "--json", str(out), "--junit-xml", str(xml)])
    table = capsys.readouterr().out
    assert status == 1 and "2 passed, 1 failed" in table and "--seed 7" in table

    document = json.loads(out.read_text(encoding="utf-8"))
    assert (document["command"], document["seed"], document["max_examples"]) == ("gradproofs verify", 7, 5)
    assert (document["passed"], document["failed"]) == (2, 1)
    records = document["results"]
    assert [(r["id"], r["device"]) for r in records] == [(i, "cpu") for i in (*CHEAP, "false-on-purpose")]
    for record in records:
        assert set(record) == set(KEYS)
        for key, kind in KEYS.items():
            assert isinstance(record[key], kind), (key, record[key])
        assert record["seed"] == 7 and record["examples"] >= 1
    passed, failed = records[:2], records[2]
    for record in passed:
        assert record["verdict"] == "pass" and record["failure"] is None and 0 <= record["used"] <= 1
    assert failed["verdict"] == "fail" and failed["failure"].startswith("false on purpose")
    assert (failed["family"], failed["kind"], failed["engines"]) == ("chain", "bound", ["numpy"])
    assert (failed["used"], failed["raw"], failed["unit"]) == (0.5, 0.5, "units")  # its passing examples'

    suite = ET.parse(xml).getroot()
    assert suite.tag == "testsuites"
    (suite,) = suite.findall("testsuite")
    assert suite.get("name") == "gradproofs verify"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")
    assert {p.get("name"): p.get("value") for p in suite.find("properties")} == {"seed": "7", "max_examples": "5"}
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("rnn", "rnn-zero-state-orthogonal[cpu]"), ("activations", "hochreiter-optimum[cpu]"),
        ("chain", "false-on-purpose[cpu]")]
    assert [c.find("failure") is None for c in cases] == [True, True, False]
    assert cases[2].find("failure").get("message") == "false on purpose"
    properties = {p.get("name"): p.get("value") for p in cases[2].find("properties")}
    assert properties == {"kind": "bound", "device": "cpu", "engines": "numpy", "examples": str(failed["examples"]),
                          "used": "0.5", "raw": "0.5", "unit": "units", "seed": "7"}
    assert "used 0.5" in cases[2].find("system-out").text


def test_a_seed_repeats_the_run_and_a_random_one_is_printed(tmp_path, capsys):
    """(tests/test_package.py checks that --jobs 2 gives the records of --jobs 1 for one seed.)"""
    runs = []
    for _ in range(2):
        assert cli.main(["verify", "--device", "cpu", "--only", CHEAP[0], "--max-examples", "3"]) == 0
        runs.append(int(capsys.readouterr().out.split("--seed ")[1].split()[0]))
    assert all(0 <= seed < 2 ** 32 for seed in runs) and runs[0] != runs[1]  # a clash: one chance in 2³²
    records = []
    for _ in range(2):
        out = tmp_path / "verify.json"
        assert cli.main(["verify", "--device", "cpu", "--only", CHEAP[0], "--max-examples", "3", "--seed", str(runs[0]),
                         "--json", str(out)]) == 0
        records.append(json.loads(out.read_text(encoding="utf-8"))["results"][0])
    assert records[0]["raw"] == records[1]["raw"] and records[0]["seed"] == runs[0]
    with pytest.raises(SystemExit):
        cli.main(["verify", "--seed", "-1"])
    assert "--seed must be a non-negative integer" in capsys.readouterr().err


def test_the_table_shows_a_bound_met_within_rounding_apart_from_one_met_exactly():
    assert [cli._figure(v) for v in (1.0, 1.0000000004819196, 0.9999999953603679, 1.00085, 2.2e-16)] == [
        "1", "1.0000000005", "0.999999995", "1.001", "2.2e-16"]
