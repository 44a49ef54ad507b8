"""`proto-rules test`: scenario files run on the real network, and rule coverage.

End to end through the CLI on real files: the shipped scenario files of every example protocol
(all pass, at the coverage the README states), a failing case (expected against actual, with the
trail lines that explain it), every kind of bad scenario file (one line each, exit 2), the
coverage listing of a small protocol, and the HTML view.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.usefixtures("at_root")

SEED = "examples/cd19-ucart-sle.proto-rules"

#: Every example protocol with criteria, and the rule coverage its scenario file reaches.
EXAMPLES = {
    "cd19-ucart-sle": "233 of 233 outcomes seen, 100.0%",
    "cd19-ucart-sle-v1.1": "239 of 239 outcomes seen, 100.0%",
    "bliss-sc-belimumab-sle": "103 of 103 outcomes seen, 100.0%",
    "empa-reg-outcome": "228 of 228 outcomes seen, 100.0%",
    "ensign-ctl019-pediatric-all": "88 of 88 outcomes seen, 100.0%",
    "keynote-001-pembrolizumab": "91 of 92 outcomes seen, 98.9%",  # see its scenario file
    "zuma-7-axicabtagene-lbcl": "",
    "toasst-glucocorticoid-withdrawal": "114 of 114 outcomes seen, 100.0%",
    "dapa-ckd-dapagliflozin": "94 of 94 outcomes seen, 100.0%",
}


def test_every_example_protocol_with_criteria_has_a_scenario_file():
    protocols = {p.name.removesuffix(".proto-rules")
                 for p in (ROOT / "examples").glob("*.proto-rules")}
    # escalation only: no criteria
    assert protocols - set(EXAMPLES) == {"boin", "boin-options", "tite-boin", "titration"}
    assert {p.name.removesuffix(".scenarios.yaml")
            for p in (ROOT / "examples").glob("*.scenarios.yaml")} == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_example_scenarios_pass_at_their_coverage(capsys, name):
    code, out, err = run_cli(capsys, "test", f"examples/{name}.proto-rules",
                             f"examples/{name}.scenarios.yaml", "--min-coverage", "98.9")
    assert code == 0 and ": error: " not in err, out  # 1.1 warns of its own E9 (fidelity)
    assert "FAILED" not in out and " passed (1 scenario file) ===" in out
    total = next(line for line in out.splitlines() if line.startswith("  all: "))
    assert total == f"  all: {EXAMPLES[name] or total.split(': ', 1)[1]}"
    if name != "keynote-001-pembrolizumab":
        assert total.endswith(", 100.0%") and "never seen" not in out


def test_coverage_under_the_minimum_exits_1(capsys):
    code, out, _ = run_cli(capsys, "test", "examples/keynote-001-pembrolizumab.proto-rules",
                           "examples/keynote-001-pembrolizumab.scenarios.yaml",
                           "--min-coverage", "100")
    assert code == 1
    assert "keynote-001-pembrolizumab.proto-rules:63:13: I1 part 'histology is one of " \
           "{melanoma, carcinoma, nsclc}' never false" in out
    assert out.endswith("coverage under --min-coverage 100%\n")


@pytest.mark.parametrize("value", ["101", "-1", "lots", "nan"])
def test_min_coverage_is_a_percentage(capsys, value):
    with pytest.raises(SystemExit) as stop:
        run_cli(capsys, "test", SEED, "x.yaml", "--min-coverage", value)
    assert stop.value.code == 2
    assert "a percentage from 0 to 100" in capsys.readouterr().err


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


BASE = f"""
screening_date: 2026-06-01
patients: [{ROOT}/examples/patients.jsonl]
cases:
"""


def test_a_failure_shows_expected_actual_and_the_trail_lines(capsys, tmp_path):
    scenarios = _write(tmp_path, BASE + """
  - name: eligible as recorded
    base: P01-eligible
    expect: {decision: ELIGIBLE}
  - name: eGFR 25.5
    base: P01-eligible
    replace: [{concept: egfr, value: 25.5, unit: mL/min/1.73m2, date: 2026-05-20}]
    expect: {decision: ELIGIBLE, verdicts: {I4.renal: MET, I1: MET}}
""")
    code, out, err = run_cli(capsys, "test", SEED, scenarios)
    assert (code, err) == (1, "")
    assert out.startswith(f"{scenarios}::eligible as recorded PASSED\n"
                          f"{scenarios}::eGFR 25.5 FAILED\n")
    failure = out.split("=== failures ===\n", 1)[1].split("\n=== ", 1)[0]
    assert failure == f"""
___ eGFR 25.5 ({scenarios}:9) ___
  decision: expected ELIGIBLE, got INELIGIBLE
  I4.renal: expected MET, got NOT_MET
  the trail says:
    decision: INELIGIBLE: inclusion I4.renal NOT_MET
    I1 MET  (inclusion, examples/cd19-ucart-sle.proto-rules:111)
        "Age:≥5 years old;"
        + age >= 5 years (line 112): age 32 years (completed years at screening, born 1994-03-15); needs >= 5 years
    I4.renal NOT_MET  (inclusion, examples/cd19-ucart-sle.proto-rules:124)
        "Renal function: eGFR≥30ML/min/1.73m2;"
        - egfr >= 30 mL/min/1.73m2 (line 125): egfr 25.5 mL/min/1.73m2 (2026-05-20); needs >= 30 mL/min/1.73m2
"""
    assert "=== 1 failed, 1 passed (1 scenario file) ===" in out


def test_cases_build_on_earlier_cases_and_json_files_work(capsys, tmp_path):
    record = json.loads((ROOT / "examples/patients.jsonl").read_text().splitlines()[0])
    scenarios = {"screening_date": "2026-06-01", "cases": [
        {"name": "written out", "facts": record["facts"], "birth_date": record["birth_date"],
         "expect": {"decision": "ELIGIBLE"}},
        {"name": "no birth date", "base": "written out", "birth_date": None,
         "expect": {"verdicts": {"I1": "UNKNOWN"}}},
        {"name": "no ecg either", "base": "no birth date", "remove": ["ecg"],
         "expect": {"decision": "NEEDS_REVIEW", "verdicts": {"I1": "UNKNOWN",
                                                             "I4.cardiac": "UNKNOWN"}}},
    ]}
    path = _write(tmp_path, json.dumps(scenarios, indent=1), "s.json")
    code, out, _ = run_cli(capsys, "test", SEED, path)
    assert code == 0, out
    assert "=== 3 passed (1 scenario file) ===" in out


def test_two_files_and_the_same_output_each_time(capsys, tmp_path):
    argv = ("test", SEED, "examples/cd19-ucart-sle.scenarios.yaml",
            "examples/cd19-ucart-sle.scenarios.yaml")
    first = run_cli(capsys, *argv)
    assert first[0] == 0 and "=== 176 passed (2 scenario files) ===" in first[1]
    assert run_cli(capsys, *argv) == first


def test_the_coverage_of_parts_and_verdicts(capsys, tmp_path):
    """Every part true, false and unknown; verdicts: NOT_APPLICABLE only with an applies-when,
    NEEDS_REVIEW only for a judgment, never UNKNOWN for judgments only; `no known history` is
    never unknown."""
    protocol = _write(tmp_path, """protocol "t"
version "1"
concepts:
    egfr: quantity in mL/min
    sex: category {female, male}
    unsuitable: judgment
    hepatitis: event
inclusion I1 "eGFR >= 30"
    applies when sex is female:
    egfr >= 30 mL/min
exclusion E1 "unsuitable": unsuitable
inclusion I2 "no hepatitis": no known history of hepatitis
""", "t.proto-rules")
    scenarios = _write(tmp_path, """
screening_date: 2026-06-01
cases:
  - name: woman with eGFR 45
    facts: [{concept: sex, value: female},
            {concept: egfr, value: 45, unit: mL/min, date: 2026-05-30}]
    expect: {verdicts: {I1: MET, E1: NEEDS_REVIEW, I2: MET}}
""")
    code, out, _ = run_cli(capsys, "test", protocol, scenarios)
    assert code == 0
    assert out.split("\n\n")[-1] == f"""rule coverage of {protocol} by 1 cases:
  parts of conditions (true, false, unknown): 4 of 11 outcomes seen, 36.3%
  criterion verdicts (those that can occur): 3 of 9 outcomes seen, 33.3%
  all: 7 of 20 outcomes seen, 35.0%
never seen:
  {protocol}:8:1: I1 verdict never NOT_MET nor UNKNOWN nor NOT_APPLICABLE
  {protocol}:9:18: I1 part 'sex is female' never false nor unknown
  {protocol}:10:5: I1 part 'egfr >= 30 mL/min' never false nor unknown
  {protocol}:11:1: E1 verdict never MET nor NOT_MET
  {protocol}:11:28: E1 part 'unsuitable' never true nor false
  {protocol}:12:1: I2 verdict never NOT_MET
  {protocol}:12:30: I2 part 'no known history of hepatitis' never false
"""


def test_the_coverage_page(capsys, tmp_path):
    page = tmp_path / "out" / "coverage.html"
    argv = ("test", "examples/keynote-001-pembrolizumab.proto-rules",
            "examples/keynote-001-pembrolizumab.scenarios.yaml", "--coverage-html", str(page))
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and out.endswith(f"coverage page: {page}\n")
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "<link" not in html
    assert '<span class="some" title="I1 part: seen true, unknown; never false">' \
           "histology is one of {melanoma, carcinoma, nsclc}</span>" in html
    assert html.count('class="none"') == 1  # the key only
    assert '<span class="full" title="I1 verdict: seen MET, NOT_MET, UNKNOWN; never nothing">' \
           "inclusion I1</span>" in html
    first = html
    run_cli(capsys, *argv)
    assert page.read_text(encoding="utf-8") == first


# -- bad scenario files: one line each, exit 2 -----------------------------------------------------

BAD = [
    ("cases: [\n  - name: x\n", "s.yaml:2:3: not YAML: expected the node content, but found '-'"),
    ("", "s.yaml: the file is empty: a scenario file holds 'cases'"),
    ("cases:\n  - name: x\n    name: y\n", "s.yaml:3:5: 'name' is given twice"),
    ("cases:\n  - name: x\n    base: P01-eligible\n    expext: {decision: ELIGIBLE}\n",
     "s.yaml:2:5: case 'x': 'expect' is missing\n"
     "{dir}/s.yaml:2:5: case 'x': unknown field 'expext'; did you mean 'expect'?"),
    (BASE + "  - name: x\n    base: P01-eligible\n    expect: {decision: ELIGIBLE}\n"
            "    remve: [egfr]\n",
     "s.yaml:5:5: case 'x': unknown field 'remve'; did you mean 'remove'?"),
    (BASE + "  - name: x\n    base: P01-eligible\n    facts: []\n"
            "    expect: {decision: ELIGIBLE}\n",
     "s.yaml:5:5: case 'x': a case gives either 'facts' (the patient written out) or 'base' (a "
     "patient to start from), not both nor neither"),
    (BASE + "  - name: x\n    base: P01-eligible\n    expect: {decision: eligible}\n",
     "s.yaml:7:24: case 'x', field 'expect.decision': 'eligible' is not one of ELIGIBLE, "
     "INELIGIBLE, NEEDS_REVIEW"),
    (BASE + "  - name: x\n    base: P01-eligible\n    expect: {verdicts: {I9: MET}}\n",
     "s.yaml:7:29: case 'x', field 'expect.verdicts.I9': the protocol has no criterion I9"),
    (BASE + "  - name: x\n    base: P01-eligible\n    expect: {verdicts: {I4: MET}}\n",
     "s.yaml:7:29: case 'x', field 'expect.verdicts.I4': I4 has parts, each with its own "
     "verdict: name I4.cardiac, I4.renal, I4.liver, I4.lung"),
    (BASE + "  - name: x\n    base: P01-eligble\n    expect: {decision: ELIGIBLE}\n",
     "s.yaml:6:11: case 'x', field 'base': no patient or earlier case 'P01-eligble'; did you "
     "mean 'P01-eligible'?"),
    (BASE + "  - name: x\n    base: P01-eligible\n    remove: [egrf]\n"
            "    expect: {decision: ELIGIBLE}\n",
     "s.yaml:7:14: case 'x', field 'remove[1]': the base patient has no fact of 'egrf' to "
     "remove; did you mean 'egfr'?"),
    # a concept the protocol declares but the base does not give: the hint is among the base's
    # concepts, never itself (it said "did you mean 'hcv_rna'?" of 'hcv_rna')
    (BASE + "  - name: x\n    base: P01-eligible\n    remove: [hcv_rna]\n"
            "    expect: {decision: ELIGIBLE}\n",
     "s.yaml:7:14: case 'x', field 'remove[1]': the base patient has no fact of "
     "'hcv_rna' to remove; did you mean 'cmv_dna'?"),
    (BASE + "  - name: x\n    base: P01-eligible\n    add: [{concept: egrf, value: 1}]\n"
            "    expect: {decision: ELIGIBLE}\n",
     "s.yaml:7:21: case 'x', field 'add[1].concept': the protocol has no concept 'egrf'; did you "
     "mean 'egfr'?"),
    (BASE + "  - name: x\n    base: P01-eligible\n    expect: {decision: ELIGIBLE}\n"
            "  - name: x\n    base: P01-eligible\n    expect: {decision: ELIGIBLE}\n",
     "s.yaml:8:11: case 'x', field 'name': an earlier case is named 'x' too"),
    (BASE + "  - name: x\n    base: P01-eligible\n    screening_date: 1 June\n"
            "    expect: {decision: ELIGIBLE}\n",
     "s.yaml:7:21: case 'x', field 'screening_date': '1 June' is not a date (YYYY-MM-DD)"),
    (BASE + "  - name: x\n    base: P01-eligible\n    replace: [{concept: egfr, value: .inf}]\n"
            "    expect: {decision: ELIGIBLE}\n",
     "s.yaml:7:38: .inf is not a finite number"),
    *[(BASE + "  - name: x\n    base: P01-eligible\n    replace: [{concept: egfr, value: "
               f"{number}}}]\n    expect: {{decision: ELIGIBLE}}\n",
       f"s.yaml:7:38: {number} reads as a different number in each YAML version: write the "
       "number in plain decimals (quote it for text)")
      for number in ("035", "0x1F", "0b11111", "1_000", "1:30", "035.5")],
    ("cases: &a [*a]\n", "s.yaml: nests too deep (does an alias refer to itself?)"),
    # aliases within aliases: 10^8 values ("billion laughs"), refused at two million
    ("a: &a [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefg", "bcdefgh"))
     + "cases: *h\n", "s.yaml: holds more than 2,000,000 values (aliases within aliases?)"),
    ("cases:\n  - name: x\n    facts: []\n    expect: {decision: ELIGIBLE}\n",
     "s.yaml:2:5: case 'x': no screening date: give one to the case, its base patient or the "
     "whole file"),
    ("patients: [nowhere.jsonl]\nscreening_date: 2026-06-01\ncases:\n  - name: x\n"
     "    facts: []\n    expect: {decision: ELIGIBLE}\n",
     "s.yaml:1:12: field 'patients[1]': no fact file {dir}/nowhere.jsonl"),
    (BASE + "  - name: x\n    base: P01-eligible\n    replace: [{concept: egfr, value: high}]\n"
            "    expect: {decision: ELIGIBLE}\n",
     "s.yaml:5, patient x, fact #14, field 'value': error: egfr is measured: expected a number "
     "or a bound like '< 20', found \"high\" (case 'x')"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_a_bad_scenario_file_is_one_line(capsys, tmp_path, text, message):
    path = _write(tmp_path, text)
    code, out, err = run_cli(capsys, "test", SEED, path)
    assert (code, out) == (2, "")
    assert err == f"{tmp_path}/" + message.format(dir=tmp_path) + "\n"


@pytest.mark.parametrize("name", ["s.json", "s.yaml"])
def test_a_byte_order_mark_is_read_as_fact_files_read_it(capsys, tmp_path, name):
    path = tmp_path / name
    path.write_text("\ufeff" + json.dumps({
        "patients": [str(ROOT / "examples" / "patients.jsonl")], "screening_date": "2026-06-01",
        "cases": [{"name": "x", "base": "P01-eligible", "expect": {"decision": "ELIGIBLE"}}]}),
        encoding="utf-8")
    code, out, err = run_cli(capsys, "test", SEED, str(path))
    assert code == 0 and "=== 1 passed (1 scenario file) ===" in out, err


def test_a_bad_json_file_is_placed_too(capsys, tmp_path):
    path = _write(tmp_path, '{"cases": [\n  {"name": "x", "expect": {}}\n]}\n', "s.json")
    code, _, err = run_cli(capsys, "test", SEED, path)
    assert code == 2
    assert err.splitlines() == [
        f"{path}:2:3: case 'x': a case gives either 'facts' (the patient written out) or 'base' "
        "(a patient to start from), not both nor neither",
        f"{path}:2:27: case 'x', field 'expect': is empty"]
    path = _write(tmp_path, '{"cases": [}', "t.json")
    assert run_cli(capsys, "test", SEED, path)[2] == \
        f"{path}:1:12: not JSON: Expecting value\n"


def test_a_missing_scenario_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "test", SEED, str(tmp_path / "none.yaml"))
    assert (code, err) == (2, f"{tmp_path}/none.yaml: cannot read scenario file: No such file "
                              "or directory\n")
