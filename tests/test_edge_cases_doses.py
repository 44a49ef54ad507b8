"""`proto-rules edge-cases` on doses: a course's dose and length together, a dose per kg of body
weight through the weight fact, a dose filter through the equivalence table (on a medication dosed
per kg, its items also given per day through the weight), an equivalence written in two units
(`tests/data/edgecases/doses.proto-rules`).

End to end through the CLI: the file written, then `proto-rules test` on it, which decides every
case with the network. The expectations were worked out without it (exact fractions, calendar
arithmetic), so a pass is the network agreeing at every boundary; an expectation changed on
purpose fails.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.usefixtures("at_root")

PROTOCOL = "tests/data/edgecases/doses.proto-rules"
PATIENTS = "tests/data/edgecases/doses.patients.jsonl"
#: Cases from each base patient: D01 records a weight, D02 none (the cases give 70 kg).
COUNTS = {"D01": 115, "D02": 114}

COURSE = "glucocorticoid dose >= 20 mg/d for at least 4 weeks"
PER_KG = "steroid dose >= 0.5 mg/kg/d for at least 3 months"
ON_A_DAY = "steroid dose at screening > 1 mg/kg/d"
FILTER = "glucocorticoid where drug is dexamethasone and dose > 10 mg/d within 4 weeks before " \
         "screening"
COUNTED = "at least 2 glucocorticoid where dose >= 40 mg/d within 1 year before screening"
PER_KG_FILTER = "steroid where dose >= 2 mg/kg/d ever"
PER_KG_COUNTED = "at least 2 steroid where drug is hydrocortisone and dose >= 1 mg/kg/d within 6 " \
                 "months before screening"


def _generate(capsys, tmp_path, patient: str) -> tuple[str, dict[str, str]]:
    out = tmp_path / f"{patient}.yaml"
    code, said, err = run_cli(capsys, "edge-cases", PROTOCOL, "--base", PATIENTS, "--patient",
                              patient, "-o", str(out))
    assert code == 0, err
    assert said.startswith(f"{out}: {COUNTS[patient]} boundary cases from {patient}")
    text = out.read_text(encoding="utf-8")
    blocks = text.split("\n  - name: ")[1:]
    return text, {json.loads(block.split("\n", 1)[0]): block for block in blocks}


@pytest.mark.parametrize("patient", sorted(COUNTS))
def test_the_network_agrees_at_every_dose_boundary(capsys, tmp_path, patient):
    text, _ = _generate(capsys, tmp_path, patient)
    assert "# not generated" not in text and "left out" not in text
    code, said, _ = run_cli(capsys, "test", PROTOCOL, str(tmp_path / f"{patient}.yaml"))
    assert code == 0, said
    assert f"=== {COUNTS[patient]} passed (1 scenario file) ===" in said


def test_a_course_at_its_dose_and_length(capsys, tmp_path):
    """4 weeks before 2026-06-01 is 2026-05-04: a course from it lasts exactly 4 weeks; a course
    is one dose, so two that last 4 weeks only together do not; a course whose end is not
    recorded may have lasted long enough."""
    _, cases = _generate(capsys, tmp_path, "D01")
    assert "I1: MET" in cases[f"prednisone 20 mg/d from 2026-05-04, ongoing: {COURSE}"]
    assert "I1: NOT_MET" in cases[f"prednisone 19.999999 mg/d from 2026-05-04, ongoing: {COURSE}"]
    assert "I1: NOT_MET" in cases[f"prednisone 20 mg/d from 2026-05-05, ongoing: {COURSE}"]
    ended = cases[f"prednisone 20 mg/d 2026-03-27 to 2026-04-24: {COURSE}"]
    assert "2026-03-27 + 4 weeks = 2026-04-24, reached" in ended and "I1: MET" in ended
    assert "I1: NOT_MET" in cases[f"prednisone 20 mg/d 2026-03-27 to 2026-04-23: {COURSE}"]
    together = cases[f"prednisone 20 mg/d 2026-05-04 to 2026-05-18, again from 2026-05-19, "
                     f"ongoing: {COURSE}"]
    assert "some course meets both: false" in together and "I1: NOT_MET" in together
    assert "I1: NOT_MET" in cases[f"prednisone 19.999999 mg/d from 2026-03-27, ongoing, "
                                  f"prednisone 20 mg/d from 2026-05-05: {COURSE}"]
    assert "I1: UNKNOWN" in cases[f"prednisone without a dose from 2026-05-04, ongoing: {COURSE}"]
    assert "I1: NOT_MET" in cases[f"prednisone without a dose from 2026-05-05, ongoing: {COURSE}"]
    open_end = cases[f"prednisone 20 mg/d from 2026-05-04, no end recorded: {COURSE}"]
    assert '"date": "2026-05-04"}' in open_end and "I1: UNKNOWN" in open_end
    assert "I1: NOT_MET" in cases[f"prednisone 20 mg/d from 2026-05-05, no end recorded: {COURSE}"]
    # an equivalence written in two units: dexamethasone 750 ug = 5 mg is a ratio of 20/3
    dexamethasone = cases[f"dexamethasone 3 mg/d from 2026-05-04, ongoing: {COURSE}"]
    assert "20 mg/d (x 20/3) >= 20 is true" in dexamethasone and "I1: MET" in dexamethasone
    assert "I2: MET" in cases[f"hydrocortisone 2 mg/kg/d from 2026-03-01, ongoing: {PER_KG}"]


def test_a_dose_per_kg_through_the_weight(capsys, tmp_path):
    """D01 weighs 64 kg: 32 mg/d is 0.5 mg/kg/d; 31.999968 / 64 = 0.4999995 rounds (half to
    even) to 0.5, 31.999967 to 0.499999. D02 records no weight: the case gives one."""
    _, cases = _generate(capsys, tmp_path, "D01")
    assert "I2: MET" in cases[f"prednisolone 32 mg/d from 2026-03-01, ongoing: {PER_KG}"]
    assert "I2: MET" in cases[f"prednisolone 31.999968 mg/d from 2026-03-01, ongoing: {PER_KG}"]
    turned = cases[f"prednisolone 31.999967 mg/d from 2026-03-01, ongoing: {PER_KG}"]
    assert "0.499999 mg/kg/d (/ 64 kg) >= 0.5 is false" in turned and "I2: NOT_MET" in turned
    unweighed = cases[f"prednisolone 32 mg/d (no weight) from 2026-03-01, ongoing: {PER_KG}"]
    assert 'remove: ["weight"]' in unweighed and "I2: UNKNOWN" in unweighed
    assert "E2: NOT_MET" in cases[f"prednisolone 64.000032 mg/d: {ON_A_DAY}"]
    assert "E2: MET" in cases[f"prednisolone 64.000033 mg/d: {ON_A_DAY}"]
    _, cases = _generate(capsys, tmp_path, "D02")
    given = cases[f"prednisolone 70.000036 mg/d (weight 70 kg): {ON_A_DAY}"]
    assert '{"concept": "weight", "value": 70, "unit": "kg", "date": "2026-05-31"}' in given
    assert "1.000001 mg/kg/d (/ 70 kg)" in given and "E2: MET" in given
    unweighed = cases[f"prednisolone 70 mg/d (no weight): {ON_A_DAY}"]
    assert "remove:" not in unweighed and "E2: UNKNOWN" in unweighed


def test_a_dose_filter(capsys, tmp_path):
    """Dexamethasone 1.5 mg/d is 10 mg/d of prednisone (not above 10); 1.500001 mg/d is
    10.000007: the window's items pass with it."""
    _, cases = _generate(capsys, tmp_path, "D01")
    inside = cases[f"glucocorticoid on 2026-05-04: the first day inside of {FILTER}"]
    assert '"drug": "dexamethasone", "dose": 1.500001, "unit": "mg/d"' in inside
    assert "E3: MET" in inside
    assert "E3: NOT_MET" in cases[f"glucocorticoid on 2026-05-04, dose 1.5: {FILTER}"]
    assert "E3: NOT_MET" in cases[f"glucocorticoid on 2026-05-04, drug prednisone: {FILTER}"]
    unrecorded = cases[f"glucocorticoid on 2026-05-04, dose not recorded: {FILTER}"]
    assert '"dose"' not in unrecorded and '"unit"' not in unrecorded
    assert "E3: UNKNOWN" in unrecorded
    assert "E4: NOT_MET" in cases[f"one with dose 39.999999: {COUNTED}"]
    assert "E4: UNKNOWN" in cases[f"one without dose: {COUNTED}"]


def test_a_dose_filter_per_kg_given_per_day(capsys, tmp_path):
    """A dose filter on a medication dosed per kg: its item given in mg/d through the weight. D01
    weighs 64 kg: 128 mg/d of prednisolone is 2 mg/kg/d, 127.999968 / 64 = 1.9999995 rounds
    (half to even) to 2, 127.999967 to 1.999999; hydrocortisone counts a quarter (20 mg = 5 mg of
    prednisolone): 256 mg/d is 1 mg/kg/d. No weight recorded: it may or may not pass. D02
    records no weight: the case gives 70 kg."""
    _, cases = _generate(capsys, tmp_path, "D01")
    assert "E5: MET" in cases[f"steroid on 2026-05-31, prednisolone 128 mg/d: {PER_KG_FILTER}"]
    assert "E5: MET" in cases[f"steroid on 2026-05-31, prednisolone 127.999968 mg/d: "
                              f"{PER_KG_FILTER}"]
    turned = cases[f"steroid on 2026-05-31, prednisolone 127.999967 mg/d: {PER_KG_FILTER}"]
    assert "1.999999 mg/kg/d (/ 64 kg) >= 2: false" in turned and "E5: NOT_MET" in turned
    unweighed = cases[f"steroid on 2026-05-31, prednisolone 128 mg/d (no weight): "
                      f"{PER_KG_FILTER}"]
    assert 'remove: ["weight"]' in unweighed and "E5: UNKNOWN" in unweighed
    quarter = cases[f"one of hydrocortisone 256 mg/d: {PER_KG_COUNTED}"]
    assert "1 mg/kg/d (x 0.25, / 64 kg) >= 1: true" in quarter and "E6: MET" in quarter
    assert "E6: NOT_MET" in cases[f"one of hydrocortisone 255.999871 mg/d: {PER_KG_COUNTED}"]
    assert "E6: UNKNOWN" in cases[f"one of hydrocortisone 256 mg/d (no weight): {PER_KG_COUNTED}"]
    _, cases = _generate(capsys, tmp_path, "D02")
    given = cases[f"one of hydrocortisone 280 mg/d (weight 70 kg): {PER_KG_COUNTED}"]
    assert '{"concept": "weight", "value": 70, "unit": "kg", "date": "2026-05-31"}' in given
    assert '"drug": "hydrocortisone", "dose": 280, "unit": "mg/d"' in given and "E6: MET" in given


@pytest.mark.parametrize("name, turned", [
    (f"prednisone 20 mg/d from 2026-05-05, ongoing: {COURSE}", ("I1: NOT_MET", "I1: MET")),
    (f"one of hydrocortisone 255.999871 mg/d: {PER_KG_COUNTED}", ("E6: NOT_MET", "E6: MET")),
])
def test_an_expectation_changed_on_purpose_fails(capsys, tmp_path, name, turned):
    """A course one day short, or a dose per day a step under the threshold through the weight,
    expected MET: `proto-rules test` names the case and fails."""
    text, _ = _generate(capsys, tmp_path, "D01")
    head, block = text.split(f"  - name: {json.dumps(name)}\n")
    assert f"expect: {{verdicts: {{{turned[0]}}}}}" in block.split("\n  - name: ")[0]
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"{head}  - name: {json.dumps(name)}\n" + block.replace(
        f"expect: {{verdicts: {{{turned[0]}}}}}", f"expect: {{verdicts: {{{turned[1]}}}}}", 1),
        encoding="utf-8")
    code, said, _ = run_cli(capsys, "test", PROTOCOL, str(broken))
    assert code == 1
    assert f"=== 1 failed, {COUNTS['D01'] - 1} passed (1 scenario file) ===" in said
    assert name in said
