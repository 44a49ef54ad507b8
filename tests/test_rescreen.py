"""Rescreen (`engine/rescreen.py`) and `proto-rules rescreen`: which patients an amendment decides
differently and why, on the real seed, its example amendment and the example patients.

Two real networks run side by side in this process; facts are real files (written to a temporary
directory when a test needs a patient the examples do not have). Nothing is mocked.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from engine.factfile import read_records
from engine.rescreen import REJECTED, Comparison, Rescreening, Summary, render
from grammar.parser import parse, parse_file
from protocol.amend.diff import RULE_ONLY
from tests.conftest import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
AMENDED = "examples/cd19-ucart-sle-v1.1.proto-rules"
PATIENTS = "examples/patients.jsonl"
RENAL = "I4.renal threshold: egfr >= 30 mL/min/1.73m2 -> egfr >= 45 mL/min/1.73m2"


pytestmark = pytest.mark.usefixtures("at_root")


@pytest.fixture(scope="module")
def amendment() -> Rescreening:
    """The seed and its example amendment, compiled once for the module."""
    return Rescreening(parse_file(ROOT / SEED), parse_file(ROOT / AMENDED))


def compare(rescreening: Rescreening, path: str | Path) -> list[Comparison]:
    return list(rescreening.compare(read_records(str(path)), str(path)))


def changes(comparison: Comparison) -> list[tuple[str, str | None, str | None]]:
    return [(v.criterion, v.old, v.new) for v in comparison.verdicts]


def write_patients(path: Path, *patients: dict) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in patients), encoding="utf-8")
    return path


def seed_with(tmp_path: Path, old: str, new: str) -> Path:
    """The seed with one edit (its 3+3 design is shipped, so it imports from anywhere)."""
    text = (ROOT / SEED).read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "amended.proto-rules"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


# -- the example amendment on the example patients -------------------------------------------------

def test_example_patients_who_change_and_why(amendment):
    found = compare(amendment, PATIENTS)
    changed = {c.patient: c for c in found if c.changed}
    assert {p: (c.old, c.new, changes(c)) for p, c in changed.items()} == {
        "P03-age-4-under-minimum": ("INELIGIBLE", "INELIGIBLE", [("E14", None, "MET")]),
        "P07-male-not-applicable": ("ELIGIBLE", "INELIGIBLE", [("E14", None, "MET")]),
        "P17-neurolupus-45d-live-vaccine": ("INELIGIBLE", "INELIGIBLE", [("E9", "MET", "NOT_MET")]),
    }
    (e14,) = changed["P07-male-not-applicable"].verdicts
    assert e14.because == ("E14 added: immunosuppressant includes rituximab",)
    (e9,) = changed["P17-neurolupus-45d-live-vaccine"].verdicts
    assert e9.because == ("E9 window: live_vaccine within 4 weeks before screening -> "
                          f"live_vaccine within 2 weeks before screening (warning: {RULE_ONLY})",)
    summary = Summary()
    for comparison in found:
        summary.add(comparison)
    counts = (summary.patients, summary.changed, summary.unchanged, summary.rejected)
    assert counts == (23, 3, 20, 0)
    assert dict(summary.moves) == {("ELIGIBLE", "INELIGIBLE"): 1}


def test_egfr_at_the_new_threshold_stays_met(amendment):
    """P02's eGFR is 0.75 mL/s/1.73m2 = exactly 45 mL/min/1.73m2: still MET under `>= 45`."""
    p02 = next(c for c in compare(amendment, PATIENTS) if c.patient.startswith("P02"))
    assert not p02.changed and p02.new == "ELIGIBLE"


def test_egfr_40_patient_becomes_ineligible(amendment, baseline, tmp_path):
    facts = write_patients(tmp_path / "egfr40.jsonl",
                           baseline.fact("egfr", value=40).top(patient="P-egfr-40").data)
    (comparison,) = compare(amendment, facts)
    assert (comparison.patient, comparison.old, comparison.new) == ("P-egfr-40", "ELIGIBLE",
                                                                   "INELIGIBLE")
    assert changes(comparison) == [("I4.renal", "MET", "NOT_MET")]
    assert comparison.verdicts[0].because == (RENAL,)
    assert render(comparison) == (
        "P-egfr-40: ELIGIBLE -> INELIGIBLE\n"
        "    I4.renal (inclusion): MET -> NOT_MET\n"
        f"        because {RENAL}\n")


def test_a_concept_change_explains_verdicts_of_criteria_not_edited(baseline, loaded):
    """egfr valid for 7 days instead of 28: a value 12 days old is stale, I4.renal UNKNOWN."""
    text = (ROOT / SEED).read_text(encoding="utf-8")
    stricter = text.replace("egfr: quantity in mL/min/1.73m2 valid for 28 days",
                            "egfr: quantity in mL/min/1.73m2 valid for 7 days")
    rescreening = Rescreening(parse_file(ROOT / SEED),
                              parse(stricter, str(ROOT / "examples" / "stricter.proto-rules")))
    (comparison,) = rescreening.compare([(1, loaded(baseline.data))], "inline.jsonl")
    assert (comparison.old, comparison.new) == ("ELIGIBLE", "NEEDS_REVIEW")
    (renal,) = comparison.verdicts
    assert (renal.criterion, renal.old, renal.new) == ("I4.renal", "MET", "UNKNOWN")
    assert renal.because == ("concept egfr validity: valid for 28 days -> valid for 7 days",)


def test_identical_protocols_change_nobody():
    same = Rescreening(parse_file(ROOT / SEED), parse_file(ROOT / SEED))
    assert same.diff.entries == ()
    assert [c for c in compare(same, PATIENTS) if c.changed] == []


# -- rejected records ------------------------------------------------------------------------------

def test_rejected_under_both_is_reported_once(amendment, baseline, tmp_path):
    bad = baseline.fact("egfr", unit="mg").top(patient="P-egfr-in-mg").data
    facts = write_patients(tmp_path / "bad.jsonl", bad)
    (comparison,) = compare(amendment, facts)
    assert (comparison.old, comparison.new, comparison.verdicts) == (REJECTED, REJECTED, ())
    assert not comparison.changed
    (problem,) = comparison.problems
    assert "cannot convert mg" in problem.message
    assert render(comparison) == "P-egfr-in-mg (line 1): rejected under both protocols\n"


def test_rejected_under_one_protocol_only_is_a_change(baseline, loaded):
    """The amendment measures SpO2 in mmHg: a record giving it in % cannot be read any more."""
    text = (ROOT / SEED).read_text(encoding="utf-8")
    mmhg = text.replace("spo2: quantity in %", "spo2: quantity in mmHg").replace(
        "spo2 >= 92 %", "spo2 >= 92 mmHg")
    rescreening = Rescreening(parse_file(ROOT / SEED),
                              parse(mmhg, str(ROOT / "examples" / "mmhg.proto-rules")))
    (comparison,) = rescreening.compare([(1, loaded(baseline.data))], "inline.jsonl")
    assert (comparison.old, comparison.new) == ("ELIGIBLE", REJECTED) and comparison.changed
    assert [p.field for p in comparison.problems] == ["unit"]


# -- the command -----------------------------------------------------------------------------------



#: The amended file's own warning (its E9 rule left its sentence), printed when it is loaded.
E9_FIDELITY = (
    f"{AMENDED}:185:25: warning: E9: the rule's 2 weeks is not in its sentence (line 184: "
    "\"Received live vaccine within 4 weeks before screening;\"), which has 4: write the rule as "
    "the sentence does\n        live_vaccine within 2 weeks before screening\n"
    "                            ^^^^^^^\n")


def test_cli_rescreen_text(capsys):
    code, out, err = run(capsys, "rescreen", SEED, AMENDED, PATIENTS)
    assert (code, err) == (0, E9_FIDELITY)
    lines = out.splitlines()
    assert lines[:2] == [f"--- {SEED} (version 1.0)", f"+++ {AMENDED} (version 1.1)"]
    at = lines.index("P07-male-not-applicable: ELIGIBLE -> INELIGIBLE")
    assert lines[at + 1 : at + 3] == [
        "    E14 (exclusion): absent -> MET",
        "        because E14 added: immunosuppressant includes rituximab"]
    assert "P17-neurolupus-45d-live-vaccine: INELIGIBLE, decision unchanged" in lines
    assert lines[-1] == ("23 patients: 3 changed, 20 unchanged, 0 rejected under both; "
                         "decisions: ELIGIBLE -> INELIGIBLE 1")
    assert not any(line.startswith("P01-eligible") for line in lines)


def test_cli_rescreen_json(capsys):
    code, out, _ = run(capsys, "rescreen", SEED, AMENDED, PATIENTS, "--format", "json")
    assert code == 0
    *patients, summary = [json.loads(line) for line in out.splitlines()]
    assert [p["patient"] for p in patients] == [
        "P03-age-4-under-minimum", "P07-male-not-applicable", "P17-neurolupus-45d-live-vaccine"]
    assert patients[1]["verdicts"] == [{
        "criterion": "E14", "role": "exclusion", "old": None, "new": "MET",
        "because": ["E14 added: immunosuppressant includes rituximab"]}]
    assert summary == {"summary": {"patients": 23, "changed": 3, "unchanged": 20, "rejected": 0,
                                   "moves": [{"old": "ELIGIBLE", "new": "INELIGIBLE",
                                              "patients": 1}]}}


def test_cli_rescreen_egfr_amendment_from_files(capsys, baseline, tmp_path):
    amended = seed_with(tmp_path, "egfr >= 30 mL/min/1.73m2", "egfr >= 45 mL/min/1.73m2")
    facts = write_patients(tmp_path / "p.jsonl", baseline.data,
                           baseline.fact("egfr", value=40).top(patient="P-egfr-40").data)
    code, out, _ = run(capsys, "rescreen", SEED, str(amended), str(facts))
    assert code == 0
    assert ("P-egfr-40: ELIGIBLE -> INELIGIBLE\n"
            "    I4.renal (inclusion): MET -> NOT_MET\n"
            "        because I4.renal threshold: egfr >= 30 mL/min/1.73m2 -> "
            f"egfr >= 45 mL/min/1.73m2 (warning: {RULE_ONLY})\n") in out
    assert out.endswith("2 patients: 1 changed, 1 unchanged, 0 rejected under both; "
                        "decisions: ELIGIBLE -> INELIGIBLE 1\n")


def test_cli_rescreen_stdin_and_screening_date(capsys, monkeypatch):
    record = (ROOT / "examples/bad/no-screening-date.jsonl").read_text(encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(record))
    code, out, err = run(capsys, "rescreen", SEED, AMENDED, "-", "--screening-date", "2026-06-01")
    assert code == 0 and "1 patients: " in out
    monkeypatch.setattr("sys.stdin", io.StringIO(record))
    code, out, err = run(capsys, "rescreen", SEED, AMENDED, "-")
    assert code == 2
    assert "rejected under both protocols" in out
    assert err.count("no screening date") == 1


def test_cli_rescreen_bad_records_exit_2_each_problem_once(capsys):
    code, out, err = run(capsys, "rescreen", SEED, AMENDED, "examples/bad/facts.jsonl")
    assert code == 2
    assert "B07-egfr-in-mg (line 7): rejected under both protocols" in out
    assert err.count("patient B07-egfr-in-mg, fact #2, field 'unit': error: egfr: cannot "
                     "convert mg") == 1


def test_cli_rescreen_missing_fact_file_exits_2(capsys):
    code, out, err = run(capsys, "rescreen", SEED, AMENDED, "examples/no-such.jsonl")
    assert (code, out) == (2, "")
    assert err == E9_FIDELITY + ("proto-rules: cannot read fact file examples/no-such.jsonl: "
                                 "No such file or directory\n")


def test_cli_rescreen_missing_or_broken_protocol_exits_2(capsys):
    code, out, err = run(capsys, "rescreen", "examples/no-such.proto-rules", AMENDED, PATIENTS)
    assert (code, out) == (2, "")
    assert err.startswith("examples/no-such.proto-rules: error: cannot read the protocol file: ")
    broken = "examples/bad/syntax-error.proto-rules"
    code, out, err = run(capsys, "rescreen", SEED, broken, PATIENTS)
    assert (code, out) == (2, "")
    assert err.startswith("examples/bad/syntax-error.proto-rules:8:33: error: the file ends ")
