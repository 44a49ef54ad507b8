"""The decision trail: deterministic canonical JSON Lines, with everything an auditor needs.

The demo run (`proto-rules run` on examples/patients.jsonl, from the repository root) is made once
per module; `proto-rules explain` of it is compared with tests/data/golden/demo-trail.txt. After a
deliberate change, regenerate the golden file with `UPDATE_GOLDEN=1 make test` and read the diff.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import rfc8785

import cli

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
PATIENTS = "examples/patients.jsonl"
BAD_FACTS = "examples/bad/facts.jsonl"
GOLDEN = ROOT / "tests" / "data" / "golden" / "demo-trail.txt"


def run_cli(tmp: Path, name: str, *argv: str) -> Path:
    """`proto-rules run ... --trail tmp/name` from the repository root; returns the trail path."""
    trail = tmp / name
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        code = cli.main(["run", *argv, "--trail", str(trail)])
    assert code in (0, 2)
    return trail


def lines_of(trail: Path) -> list[str]:
    return trail.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return run_cli(tmp_path_factory.mktemp("demo"), "trail.jsonl", SEED, PATIENTS)


@pytest.fixture(scope="module")
def records(demo) -> list[dict]:
    return [json.loads(line) for line in lines_of(demo)]


def of(records: list[dict], kind: str, patient: str | None = None, **match) -> list[dict]:
    return [r for r in records if r["type"] == kind
            and (patient is None or r.get("patient") == patient)
            and all(r.get(k) == v for k, v in match.items())]


def one(records: list[dict], kind: str, patient: str | None = None, **match) -> dict:
    (record,) = of(records, kind, patient, **match)
    return record


# -- determinism and form --------------------------------------------------------------------------

def test_byte_identical_across_runs(demo, tmp_path, capsys):
    again = run_cli(tmp_path, "again.jsonl", SEED, PATIENTS)
    assert again.read_bytes() == demo.read_bytes()


def test_every_line_is_canonical_json(demo):
    for number, line in enumerate(lines_of(demo), start=1):
        assert line.encode("utf-8") == rfc8785.dumps(json.loads(line)), f"line {number}"


def test_no_floats_in_the_trail(records):
    """Numbers a fact carried are exact decimal text; the only numbers are counts and lines."""

    def walk(value, where):
        assert not isinstance(value, float), where
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    for i, record in enumerate(records):
        walk(record, f"record {i + 1}")


def test_record_order(records):
    kinds = [r["type"] for r in records]
    assert kinds[0] == "run" and kinds[-1] == "summary"
    per_patient = ["patient", "definition"] + ["criterion"] * 23 + ["decision"]
    assert kinds[1:-1] == per_patient * 23


# -- header ----------------------------------------------------------------------------------------

def test_header(records):
    run = records[0]
    assert run["tool"] == "proto-rules 0.1.0"
    assert run["engine"] == "durable_rules 2.0.28"
    assert run["protocol"] == {
        "file": SEED, "id": "cd19-ucart-sle", "version": "1.0",
        "sha256": hashlib.sha256((ROOT / SEED).read_bytes()).hexdigest()}
    assert run["facts"] == {"file": PATIENTS,
                            "sha256": hashlib.sha256((ROOT / PATIENTS).read_bytes()).hexdigest()}
    assert run["network"]["name"].startswith("cd19-ucart-sle@1.0#")
    assert run["network"]["name"].endswith(run["network"]["sha256"][:12])
    assert run["network"]["rules"] > 23 * 3
    assert run["screening_date"] is None  # each record carries its own


def test_header_screening_date_option(tmp_path):
    trail = run_cli(tmp_path, "t.jsonl", SEED, "examples/bad/no-screening-date.jsonl",
                    "--screening-date", "2026-06-01")
    run, patient = (json.loads(line) for line in lines_of(trail)[:2])
    assert run["screening_date"] == "2026-06-01"
    assert patient["screening_date"] == "2026-06-01"


def test_header_protocol_sha256_is_of_the_file_bytes(tmp_path):
    """What `sha256sum` says, CRLF line ends included (was the hash of newline-normalised text)."""
    crlf = tmp_path / "crlf.proto-rules"
    crlf.write_bytes((ROOT / SEED).read_bytes().replace(b"\n", b"\r\n"))
    trail = run_cli(tmp_path, "t.jsonl", str(crlf), PATIENTS)
    run = json.loads(lines_of(trail)[0])
    assert run["protocol"]["sha256"] == hashlib.sha256(crlf.read_bytes()).hexdigest()


# -- per patient and criterion ---------------------------------------------------------------------

def test_patient_record(records):
    patient = one(records, "patient", "P07-male-not-applicable")
    assert patient == {
        "type": "patient", "patient": "P07-male-not-applicable", "record": 7,
        "screening_date": "2026-06-01",
        "warnings": [f"{PATIENTS}:7, patient P07-male-not-applicable, fact #46, field 'date': "
                     "warning: dated 2026-06-03, after the screening date 2026-06-01: set aside"]}


def test_criterion_record_fields(records):
    liver = one(records, "criterion", "P04-liver-at-threshold", criterion="I4.liver")
    assert liver["verdict"] == "MET" and liver["role"] == "inclusion"
    assert liver["text"].startswith("Liver function: Asparagus cochinchinensis transase (AST)")
    assert liver["rule"] == f"{SEED}:126"
    assert liver["fired"] == ["v:I4.liver:MET#0"]
    assert liver["evidence"][0] == {
        "line": 127, "condition": "ast <= 3.0 x ULN", "status": "true",
        "detail": "ast 105 U/L, 2026-05-26 = 3 x ULN; needs <= 3.0 x ULN"}
    ast = next(f for f in liver["facts"] if f["concept"] == "ast")
    assert ast == {"index": 14, "concept": "ast", "value": "105", "unit": "U/L",
                   "date": "2026-05-26", "converted": "105 U/L", "note": None}
    assert "missing" not in liver and "pending" not in liver


def test_rule_lines_point_at_the_criteria(records):
    source = (ROOT / SEED).read_text(encoding="utf-8").splitlines()
    for record in of(records, "criterion", "P01-eligible"):
        line = int(record["rule"].rsplit(":", 1)[1])
        own = record["criterion"].split(".")[-1]
        pattern = rf"\s*(inclusion|exclusion|part) {re.escape(own)} "
        assert re.match(pattern, source[line - 1]), record


def test_fired_rules_conclude_the_verdict(records):
    for record in of(records, "criterion"):
        assert record["fired"], record["criterion"]
        for rule in record["fired"]:
            assert rule.startswith(f"v:{record['criterion']}:{record['verdict']}#")


def test_converted_facts(records):
    egfr = one(records, "criterion", "P02-eligible-postmenopausal", criterion="I4.renal")
    assert egfr["facts"] == [{"index": 14, "concept": "egfr", "value": "0.75",
                              "unit": "mL/s/1.73m2", "date": "2026-05-21",
                              "converted": "45 mL/min/1.73m2", "note": None}]
    tbil = one(records, "criterion", "P05-tbil-mg-dL", criterion="I4.liver")
    (fact,) = [f for f in tbil["facts"] if f["concept"] == "tbil"]
    assert (fact["value"], fact["unit"], fact["converted"]) == ("2.6", "mg/dL", "44.46 umol/L")
    assert tbil["evidence"][2] == {
        "line": 127, "condition": "tbil <= 2.0 x ULN", "status": "false",
        "detail": "tbil 2.6 mg/dL (= 44.46 umol/L), 2026-05-22 = 2.166667 x ULN; "
                  "needs <= 2.0 x ULN"}
    age = one(records, "criterion", "P03-age-4-under-minimum", criterion="I1")
    assert age["facts"][0]["note"] == "age in completed years, from birth_date"
    assert age["evidence"][0]["status"] == "false"


def test_medication_facts(records):
    i2 = one(records, "criterion", "P01-eligible", criterion="I2")
    steroid = next(f for f in i2["facts"] if f["concept"] == "glucocorticoid")
    assert steroid == {"index": 7, "concept": "glucocorticoid", "value": "prednisone 60 mg/d",
                       "unit": "mg/d", "date": "2025-11-03 (ongoing)",
                       "converted": "1.034483 mg/kg/d", "note": "divided by weight 58 kg"}
    drugs = [f["value"] for f in i2["facts"] if f["concept"] == "immunosuppressant"]
    assert drugs == ["MMF 2000 mg/d", "tacrolimus 3 mg/d"]


def test_definition_record(records):
    definition = one(records, "definition", "P06-not-refractory-sledai-6")
    assert (definition["definition"], definition["value"], definition["line"]) == (
        "refractory_sle", "F", 99)
    assert definition["fired"]
    assert all(rule.startswith("d:refractory_sle:F#") for rule in definition["fired"])
    course = next(e for e in definition["evidence"] if e["condition"].startswith("glucocorticoid"))
    assert course["status"] == "false"
    assert "for 2 months" in course["detail"]


def test_ratio_to_uln_is_shown_as_compared(tmp_path, baseline):
    """The exact ratio the network compared (was float %g: '3 x ULN' beside a NOT_MET)."""
    patient = baseline.fact("ast", value=105.00004, reference_range={"high": 35})
    patient = patient.top(patient="X-ast")
    facts = tmp_path / "ast.jsonl"
    facts.write_text(json.dumps(patient.data) + "\n", encoding="utf-8")
    trail = run_cli(tmp_path, "t.jsonl", SEED, str(facts))
    records = [json.loads(line) for line in lines_of(trail)]
    liver = one(records, "criterion", "X-ast", criterion="I4.liver")
    assert liver["verdict"] == "NOT_MET"
    assert liver["evidence"][0]["status"] == "false"
    assert "= 3.000001 x ULN" in liver["evidence"][0]["detail"]


def test_unknown_lists_what_is_missing(records):
    stale = one(records, "criterion", "P11-stale-lvef", criterion="I4.cardiac")
    assert stale["verdict"] == "UNKNOWN"
    assert stale["missing"] == [{"concept": "lvef", "reason": "stale: latest lvef is from "
                                 "2026-04-20, before 2026-05-04 (valid for 28 days)"}]
    assert stale["pending"] == []
    hiv = one(records, "criterion", "P13-hiv-result-missing", criterion="E8")
    assert hiv["verdict"] == "UNKNOWN"
    assert {"concept": "hiv_antibody", "reason": "no fact recorded"} in hiv["missing"]
    dose = one(records, "criterion", "P23-weight-missing-dose-per-kg", criterion="I2")
    assert dose["verdict"] == "UNKNOWN"
    (steroid,) = [f for f in dose["facts"] if f["concept"] == "glucocorticoid"]
    assert steroid["converted"] is None
    assert "weight" in steroid["note"]


def test_every_unknown_names_what_is_missing(records):
    """Including a weight needed for a dose per kg (was an UNKNOWN with nothing listed)."""
    for record in of(records, "criterion", verdict="UNKNOWN"):
        assert record["missing"], f"{record['patient']} {record['criterion']}: nothing missing"
    dose = one(records, "criterion", "P23-weight-missing-dose-per-kg", criterion="I2")
    assert "weight" in [m["concept"] for m in dose["missing"]]


def test_needs_review_lists_the_pending_judgment(records):
    e13 = one(records, "criterion", "P09-judgment-pending", criterion="E13")
    assert e13["verdict"] == "NEEDS_REVIEW"
    assert e13["pending"] == ["investigator_deems_unsuitable"]
    assert e13["missing"] == []
    assert e13["evidence"][0]["detail"] == (
        "investigator_deems_unsuitable: not yet attested by an investigator")


def test_attested_judgment_shows_who_and_why(records):
    e13 = one(records, "criterion", "P22-investigator-unsuitable", criterion="E13")
    assert e13["verdict"] == "MET"
    assert e13["facts"][0]["note"] == ("attested by Dr. X. He: lives 900 km away and cannot attend "
                                       "weekly follow-up in the first 3 months")


def test_not_applicable(records):
    i6 = one(records, "criterion", "P07-male-not-applicable", criterion="I6")
    assert i6["verdict"] == "NOT_APPLICABLE"
    assert i6["evidence"][0] == {"line": 135, "condition": "sex is female", "status": "false",
                                 "detail": "sex male"}


def test_decision_with_reasons(records):
    assert one(records, "decision", "P06-not-refractory-sledai-6") == {
        "type": "decision", "patient": "P06-not-refractory-sledai-6", "decision": "INELIGIBLE",
        "reasons": [{"criterion": "I2", "verdict": "NOT_MET"},
                    {"criterion": "I3", "verdict": "NOT_MET"}]}
    assert one(records, "decision", "P10-lung-lesions-spo2-90")["reasons"] == [
        {"criterion": "I4.lung", "verdict": "NOT_MET"}]
    assert one(records, "decision", "P01-eligible")["reasons"] == []


def test_reasons_match_the_verdicts(records):
    bad = {"inclusion": "NOT_MET", "exclusion": "MET"}
    for decision in of(records, "decision"):
        verdicts = of(records, "criterion", decision["patient"])
        failing = [{"criterion": v["criterion"], "verdict": v["verdict"]} for v in verdicts
                   if v["verdict"] == bad[v["role"]]]
        open_ = [{"criterion": v["criterion"], "verdict": v["verdict"]} for v in verdicts
                 if v["verdict"] in ("UNKNOWN", "NEEDS_REVIEW")]
        expected = ("INELIGIBLE", failing) if failing else ("NEEDS_REVIEW", open_) if open_ \
            else ("ELIGIBLE", [])
        assert (decision["decision"], decision["reasons"]) == expected, decision["patient"]


def test_summary(records):
    assert records[-1] == {"type": "summary", "patients": 23,
                           "decisions": {"ELIGIBLE": 4, "INELIGIBLE": 15, "NEEDS_REVIEW": 4}}


def test_rejected_records(tmp_path):
    trail = run_cli(tmp_path, "bad.jsonl", SEED, BAD_FACTS)
    records = [json.loads(line) for line in lines_of(trail)]
    rejected = of(records, "rejected")
    assert rejected[0] == {"type": "rejected", "record": 2, "patient": None,
                           "problems": [f"{BAD_FACTS}:2: error: not valid JSON: Expecting value at "
                                        "column 75"]}
    several = next(r for r in rejected if r["patient"] == "B29-several-problems")
    assert len(several["problems"]) == 2
    summary = records[-1]
    assert summary["decisions"]["REJECTED"] == len(rejected)
    assert summary["patients"] == len(rejected) + len(of(records, "decision"))
    assert all(line.encode() == rfc8785.dumps(json.loads(line)) for line in lines_of(trail))


# -- the rendered trail ----------------------------------------------------------------------------

def test_golden_explain(demo, capsys):
    assert cli.main(["explain", str(demo)]) == 0
    text = capsys.readouterr().out
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file: run with UPDATE_GOLDEN=1"
    assert text == GOLDEN.read_text(encoding="utf-8"), (
        "explain output differs from tests/data/golden/demo-trail.txt; if the change is intended, "
        "regenerate it with UPDATE_GOLDEN=1 and review the diff")
