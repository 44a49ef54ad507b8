"""`proto-rules edge-cases`: boundary patients of every threshold and window, as scenarios.

End to end through the CLI on the example protocols: the file written, and `proto-rules test` on
it, which decides every case with the network: the expectations were worked out without it, so
a pass is the network agreeing at every boundary.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.usefixtures("at_root")

#: Each example protocol, its base patients, and how many boundary cases its first patient gives.
EXAMPLES = {
    "cd19-ucart-sle": ("patients.jsonl", 43),
    "cd19-ucart-sle-v1.1": ("patients.jsonl", 43),
    "bliss-sc-belimumab-sle": ("bliss-sc-belimumab-sle.patients.jsonl", 15),
    "empa-reg-outcome": ("empa-reg-outcome.patients.jsonl", 22),
    "ensign-ctl019-pediatric-all": ("ensign-ctl019-pediatric-all.patients.jsonl", 25),
    "keynote-001-pembrolizumab": ("keynote-001-pembrolizumab.patients.jsonl", 4),
    "zuma-7-axicabtagene-lbcl": ("zuma-7-axicabtagene-lbcl.patients.jsonl", 36),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_network_agrees_at_every_boundary(capsys, tmp_path, name):
    patients, count = EXAMPLES[name]
    out = tmp_path / "edges.yaml"
    code, said, err = run_cli(capsys, "edge-cases", f"examples/{name}.proto-rules",
                              "--base", f"examples/{patients}", "-o", str(out))
    assert code == 0 and ": error: " not in err  # 1.1's own warning (E9 left its sentence) aside
    assert said.startswith(f"{out}: {count} boundary cases from ")
    code, said, _ = run_cli(capsys, "test", f"examples/{name}.proto-rules", str(out))
    assert code == 0, said
    assert f"=== {count} passed (1 scenario file) ===" in said


def _cases(text: str) -> dict[str, str]:
    """The file's cases by name, each as its lines."""
    blocks = text.split("\n  - name: ")[1:]
    return {json.loads(block.split("\n", 1)[0]): block for block in blocks}


def test_what_the_cases_are(capsys, tmp_path):
    out = tmp_path / "deep" / "edges.yaml"
    argv = ("edge-cases", "examples/cd19-ucart-sle.proto-rules", "--base",
            "examples/patients.jsonl", "--patient", "P02-eligible-postmenopausal", "-o", str(out))
    assert run_cli(capsys, *argv)[0] == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Boundary cases of examples/cd19-ucart-sle.proto-rules,\n")
    assert f'patients: ["{"../" * 3}' in text and text.count("examples/patients.jsonl") == 1
    cases = _cases(text)
    assert cases["egfr 29.999999 mL/min/1.73m2: one step under egfr >= 30 mL/min/1.73m2"] == \
        """"egfr 29.999999 mL/min/1.73m2: one step under egfr >= 30 mL/min/1.73m2"
    description: "29.999999 >= 30 is false (step 0.000001)"
    base: "P02-eligible-postmenopausal"
    replace:
      - {"concept": "egfr", "value": 29.999999, "unit": "mL/min/1.73m2", "date": "2026-05-21"}
    expect: {verdicts: {I4.renal: NOT_MET}}"""
    assert 'expect: {verdicts: {I4.renal: MET}}' in \
        cases["egfr 0.5 mL/s/1.73m2: at egfr >= 30 mL/min/1.73m2, in another unit"]
    assert "remove: [\"egfr\"]" in cases["no egfr: egfr >= 30 mL/min/1.73m2"]
    # a window on a month's end: 6 months before March 31 is September 30
    month_end = cases["acute_myocardial_infarction on 2025-09-30: the window's first day of "
                      "acute_myocardial_infarction within 6 months before screening, screened "
                      "on a month's end 2026-03-31"]
    assert 'screening_date: "2026-03-31"' in month_end and "facts:" in month_end
    assert '{"concept": "acute_myocardial_infarction", "date": "2025-09-30", "end": ' \
           '"2025-09-30"}' in month_end
    assert "expect: {verdicts: {E4: MET}}" in month_end
    outside = cases["acute_myocardial_infarction on 2025-09-29: the day before the window of "
                    "acute_myocardial_infarction within 6 months before screening, screened on a "
                    "month's end 2026-03-31"]
    assert "expect: {verdicts: {E4: NOT_MET}}" in outside
    # a postmenopausal woman: the applies-when of I6 and E10 is false, whatever the change
    assert not any("I6" in block for block in cases.values())
    assert run_cli(capsys, *argv)[0] == 0
    assert out.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("argv, message", [
    (("--base", "examples/patients.jsonl", "--patient", "P01-eligble"),
     "proto-rules: no patient 'P01-eligble' in examples/patients.jsonl; did you mean "
     "'P01-eligible'?"),
    (("--base", "examples/nowhere.jsonl"),
     "proto-rules: cannot read the base patient: examples/nowhere.jsonl:0: error: cannot read "
     "fact file: [Errno 2] No such file or directory: 'examples/nowhere.jsonl'"),
    (("--base", "examples/bad/facts.jsonl"),
     "proto-rules: cannot read the base patient: examples/bad/facts.jsonl:2: error: not valid "
     "JSON: Expecting value at column 75"),
    (("--base", "{tmp}/bad.jsonl"),
     "proto-rules: the base patient cannot be used: {tmp}/bad.jsonl:1, patient x, fact #1, "
     "field 'value': error: egfr is measured: expected a number or a bound like '< 20', found "
     "\"high\"\n"),
])
def test_a_base_patient_that_cannot_be_used_is_one_line(capsys, tmp_path, argv, message):
    (tmp_path / "bad.jsonl").write_text('{"patient": "x", "screening_date": "2026-06-01", '
                                        '"facts": [{"concept": "egfr", "value": "high"}]}\n')
    argv = tuple(a.format(tmp=tmp_path) for a in argv)
    code, out, err = run_cli(capsys, "edge-cases", "examples/cd19-ucart-sle.proto-rules",
                             *argv, "-o", str(tmp_path / "x.yaml"))
    assert (code, out) == (2, "")
    assert err.startswith(message.format(tmp=tmp_path)) and err.count("\n") == 1
    assert not (tmp_path / "x.yaml").exists()
