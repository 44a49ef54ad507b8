"""`proto-rules edge-cases`: boundary patients of every threshold, range, multiple of a limit, age,
derived value and window, as scenarios.

End to end through the CLI on the example protocols: the file written, and `proto-rules test` on
it, which decides every case with the network: the expectations were worked out without it, so
a pass is the network agreeing at every boundary.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import SEED, run_cli

pytestmark = pytest.mark.usefixtures("at_root")

#: Each example protocol, its base patients, and how many boundary cases its first patient gives.
EXAMPLES = {
    "cd19-ucart-sle": ("patients.jsonl", 227),
    "cd19-ucart-sle-v1.1": ("patients.jsonl", 227),
    "bliss-sc-belimumab-sle": ("bliss-sc-belimumab-sle.patients.jsonl", 87),
    "empa-reg-outcome": ("empa-reg-outcome.patients.jsonl", 391),
    "ensign-ctl019-pediatric-all": ("ensign-ctl019-pediatric-all.patients.jsonl", 94),
    "keynote-001-pembrolizumab": ("keynote-001-pembrolizumab.patients.jsonl", 36),
    "zuma-7-axicabtagene-lbcl": ("zuma-7-axicabtagene-lbcl.patients.jsonl", 124),
    "toasst-glucocorticoid-withdrawal": ("toasst-glucocorticoid-withdrawal.patients.jsonl", 63),
    "dapa-ckd-dapagliflozin": ("dapa-ckd-dapagliflozin.patients.jsonl", 120),
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


def test_a_base_patient_without_facts_gives_cases_test_reads(capsys, tmp_path):
    """A case that changes only the birth date of a patient with no facts wrote `facts:`, which
    YAML reads as null, and `test` refused its own file."""
    base, out = tmp_path / "empty.jsonl", tmp_path / "edges.yaml"
    base.write_text('{"patient": "e", "screening_date": "2026-01-10", "facts": []}\n')
    assert run_cli(capsys, "edge-cases", str(SEED), "--base", str(base), "-o", str(out))[0] == 0
    assert "    facts: []\n" in out.read_text(encoding="utf-8")
    code, said, _ = run_cli(capsys, "test", str(SEED), str(out))
    assert code == 0 and " passed (1 scenario file) ===" in said


def test_a_case_of_a_criterion_that_does_not_apply_says_so(capsys, tmp_path):
    """From a patient past childbearing potential, the pregnancy test's cases expect
    NOT_APPLICABLE: the description says why, beside how the test itself reads (a review found
    "unknown" there beside an expected NOT_APPLICABLE)."""
    base, out = tmp_path / "p02.jsonl", tmp_path / "edges.yaml"
    base.write_text((SEED.parent / "patients.jsonl").read_text(encoding="utf-8").splitlines()[1])
    assert run_cli(capsys, "edge-cases", str(SEED), "--base", str(base), "-o", str(out))[0] == 0
    unapplied = [block for block in _cases(out.read_text(encoding="utf-8")).values()
                 if ": NOT_APPLICABLE" in block]
    assert unapplied and all("not applicable: its 'applies when' is false for this patient"
                             in block for block in unapplied), unapplied[:1]


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
    month_end = cases["acute_myocardial_infarction on 2026-09-30: the first day inside of "
                      "acute_myocardial_infarction within 6 months before screening, screening "
                      "on 2027-03-31"]
    assert 'screening_date: "2027-03-31"' in month_end and "facts:" in month_end
    assert '{"concept": "acute_myocardial_infarction", "date": "2026-09-30", "end": ' \
           '"2026-09-30"}' in month_end
    assert "expect: {verdicts: {E4: MET}}" in month_end
    outside = cases["acute_myocardial_infarction on 2026-09-29: the day before the window of "
                    "acute_myocardial_infarction within 6 months before screening, screening on "
                    "2027-03-31"]
    assert "expect: {verdicts: {E4: NOT_MET}}" in outside
    # a date known to the month that straddles the window's first day (2026-04-02) is open
    month = cases["cns_lupus_intervention in 2026-04 (known to the month): "
                  "cns_lupus_intervention within 60 days before screening"]
    assert "straddles the edge: unknown" in month and '"date": "2026-04"}' in month
    assert "UNKNOWN" in month
    # a multiple of the laboratory's limit: the nearest value whose ratio rounds past 3
    over = cases["ast 105.000018 U/L, ULN 35: the nearest over ast <= 3.0 x ULN"]
    assert "105.000018 / 35 = 3.000001" in over and "I4.liver: NOT_MET" in over
    assert "I4.liver: MET" in cases["ast 104.999982 U/L, ULN 35: the nearest under ast <= 3.0 "
                                    "x ULN"]
    assert "I4.liver: UNKNOWN" in cases["ast 105 U/L without a reference range: ast <= 3.0 x ULN"]
    # an age is a birth date: the last day of age 4 and the first of age 5, and a leap birthday
    assert "I1: NOT_MET" in cases["born 2021-06-02, age at screening 2026-06-01: the last day "
                                  "of age 4, age >= 5 years"]
    assert "I1: MET" in cases["born 2021-06-01, age at screening 2026-06-01: the first day of "
                              "age 5, age >= 5 years"]
    leap = cases["born 2020-02-29, age at screening 2025-02-27: a birthday on 29 February, "
                  "age >= 5 years"]
    assert "relativedelta(2025-02-27, 2020-02-29).years = 4" in leap and "I1: NOT_MET" in leap
    assert "birth_date: null" in cases["no birth date: age >= 5 years"]
    assert "I1: MET" in cases["age 60 months (no birth date): age >= 5 years, in another unit"]
    # a lab the base gives without a reference range: the case gives one of its own
    own = cases["hbv_dna 40.000021 IU/mL, ULN 40: the nearest over hbv_dna > upper reference"]
    assert "1.000001 > 1 is true" in own and '"reference_range": {"low": 10, "high": 40}' in own
    # a course's dose and length together (line 102) has its cases: nothing is left ungenerated
    assert "# not generated" not in text
    # a postmenopausal woman: the applies-when of I6 is false, whatever the change (the only
    # changes it reads are of her pregnancy test's age: a flag and a value set have no edges)
    read = [block for block in cases.values() if "I6" in block]
    assert read and all(block.endswith("expect: {verdicts: {I6: NOT_APPLICABLE}}")
                        and "pregnancy_test negative dated " in block for block in read)
    assert run_cli(capsys, *argv)[0] == 0
    assert out.read_text(encoding="utf-8") == text


def test_derived_values_at_their_thresholds(capsys, tmp_path):
    """The inputs of a formula moved to where the comparison turns: BMI lands exactly on 45
    (133.128 kg / 1.72^2 = 45, an exact decimal); CKD-EPI's fractional powers never do, so the
    nearest values on both sides are given. Every expectation was worked out in Python decimal
    at 80 digits; `proto-rules test` then has the network agree."""
    out = tmp_path / "edges.yaml"
    argv = ("edge-cases", "examples/empa-reg-outcome.proto-rules", "--base",
            "examples/empa-reg-outcome.patients.jsonl", "-o", str(out))
    assert run_cli(capsys, *argv)[0] == 0
    cases = _cases(out.read_text(encoding="utf-8"))
    exact = cases["weight 133.128 kg: bmi 45 kg/m2, exactly at bmi <= 45 kg/m2"]
    assert "= exactly 45; <= 45 is true" in exact
    assert "= 45.000000676041..., rounded 45.000001; <= 45 is false" in \
        cases["weight 133.128002 kg: bmi 45.000001 kg/m2, just over bmi <= 45 kg/m2"]
    assert "remove: [\"height\"]" in cases["no height: bmi <= 45 kg/m2"]
    out = tmp_path / "dapa.yaml"
    argv = ("edge-cases", "examples/dapa-ckd-dapagliflozin.proto-rules", "--base",
            "examples/dapa-ckd-dapagliflozin.patients.jsonl", "-o", str(out))
    assert run_cli(capsys, *argv)[0] == 0
    text = out.read_text(encoding="utf-8")
    cases = _cases(text)
    # the creatinine read at visit 1 is given as a creatinine of visit 1's day
    under = cases["creatinine_at_visit_1 2.625422 mg/dL: egfr 24.999998 mL/min/1.73m2, just "
                  "under the low end of egfr 25 to 75 mL/min/1.73m2"]
    assert "24.999998" in under
    assert '{"concept": "creatinine", "value": 2.625422, "unit": "mg/dL", "date": "2026-05-18"' \
        in under
    assert 'remove: ["creatinine"]' in cases["no creatinine_at_visit_1: egfr 25 to 75 "
                                             "mL/min/1.73m2"]
    assert "# not generated: egfr's input age_at_visit_1: no age from 0 to 126 turns the low " \
           "end of egfr 25 to 75 mL/min/1.73m2, at line 109\n" in text
    # a stable dose: B is visit_1 2026-05-18 - 4 weeks = 2026-04-20; a course ending on B is a
    # change, one ending the day before it is not (I5 waits for a contraindication's review)
    stable = "ras_inhibitor dose stable for at least 4 weeks before visit_1"
    assert "covers 2026-04-20 to 2026-05-18: no; changes in between: starts 2026-04-21: false" \
        in cases[f"one course from 2026-04-21, ongoing: {stable}"]
    assert "changes in between: ends 2026-04-20: false" in cases[
        f"a course 2026-03-21 to 2026-04-20, the next from 2026-04-20, ongoing: {stable}"]
    assert "changes in between: none: true" in cases[
        f"a course 2026-03-21 to 2026-04-19, the next from 2026-04-20, ongoing: {stable}"]


def test_an_age_in_a_formula_and_a_filter(capsys, tmp_path):
    """Cockcroft-Gault turns between ages 86 and 87 for ZUMA-7's first patient (72 kg,
    creatinine as recorded): at 86 it is exactly 60 mL/min. A filtered history gets an item that
    fails the filter (false) and one that does not record it (unknown)."""
    out = tmp_path / "zuma.yaml"
    argv = ("edge-cases", "examples/zuma-7-axicabtagene-lbcl.proto-rules", "--base",
            "examples/zuma-7-axicabtagene-lbcl.patients.jsonl", "-o", str(out))
    assert run_cli(capsys, *argv)[0] == 0
    cases = _cases(out.read_text(encoding="utf-8"))
    at = cases["born 1939-06-02, age 86 at screening 2026-06-01: crcl 60 mL/min, crcl >= 60 "
               "mL/min"]
    assert "relativedelta(2026-06-01, 1939-06-02).years = 86" in at and "= exactly 60;" in at
    assert 'birth_date: "1939-06-02"' in at
    assert "= 58.888888888888...; >= 60 is false" in cases[
        "born 1939-06-01, age 87 at screening 2026-06-01: crcl 58.888889 mL/min, crcl >= 60 mL/min"]
    out = tmp_path / "bliss.yaml"
    argv = ("edge-cases", "examples/bliss-sc-belimumab-sle.proto-rules", "--base",
            "examples/bliss-sc-belimumab-sle.patients.jsonl", "-o", str(out))
    assert run_cli(capsys, *argv)[0] == 0
    cases = _cases(out.read_text(encoding="utf-8"))
    written = "cyclophosphamide where route is intravenous within 90 days before day_0"
    oral = cases[f"cyclophosphamide on 2026-03-12, route oral: {written}"]
    assert "route oral fails the filter" in oral and '"route": "oral"' in oral
    unrecorded = cases[f"cyclophosphamide on 2026-03-12, route not recorded: {written}"]
    assert "may or may not pass: unknown" in unrecorded and '"route"' not in unrecorded


def test_counted_histories_and_windows_on_another_history(capsys, tmp_path):
    """A count at N-1, N and N+1 items, and N-1 beside one that does not count or may; a count by
    an attribute with two items sharing a value; a grade that holds for ever; windows after the
    end of a course the base gives and before the start of one the cases give. Every expectation
    is a count or calendar arithmetic worked out here; `proto-rules test` has the network agree."""
    protocol = "tests/data/edgecases/histories.proto-rules"
    out = tmp_path / "edges.yaml"
    argv = ("edge-cases", protocol, "--base", "tests/data/edgecases/histories.patients.jsonl",
            "-o", str(out))
    code, said, _ = run_cli(capsys, *argv)
    assert code == 0 and said.startswith(f"{out}: 118 boundary cases from C01")
    text = out.read_text(encoding="utf-8")
    assert "# not generated" not in text
    code, said, _ = run_cli(capsys, "test", protocol, str(out))
    assert code == 0 and "=== 118 passed (1 scenario file) ===" in said, said
    cases = _cases(text)
    infections = "at least 3 infection with grade >= 3 within 1 year before screening"
    for k, verdict in ((2, "NOT_MET"), (3, "MET"), (4, "MET")):
        assert f"E1: {verdict}" in cases[f"{k} items that count: {infections}"]
    assert "2 count, 0 more may; needs 3: false" in cases[f"one of grade 2: {infections}"]
    flares = "at least 2 flare within 6 months before day_0"
    month = cases[f"one known to the month 2025-12: {flares}"]
    assert "1 count, 1 more may; needs 2: unknown" in month and "E2: UNKNOWN" in month
    assert "E2: NOT_MET" in cases[f"one outside the window: {flares}"]
    assert "E2: MET" in cases[f"one on 2025-12-10, the window's edge: {flares}"]
    assert "E2: UNKNOWN" in cases[f"2 items that count, no day_0: {flares}"]
    lines = "at least 2 lines of chemo where route is intravenous ever"
    assert "I1: NOT_MET" in cases[f"2 items, two with line 1: {lines}"]
    assert "I1: UNKNOWN" in cases[f"one without line: {lines}"]
    assert "I1: NOT_MET" in cases[f"one with route oral: {lines}"]
    latest = "route of the latest chemo is intravenous"
    assert "I2: NOT_MET" in cases[f"an earlier chemo passing, a later one with route oral: {latest}"]
    assert "I2: UNKNOWN" in cases[f"a chemo from 2026-02-10 passing, one known to 2026-02 with "
                                  f"route oral: {latest}"]
    assert "I2: MET" in cases[f"a chemo from 2026-02-10 passing, one known to 2026-01 with "
                              f"route oral: {latest}"]
    either = "chemo where (route is oral or line is 4) within 1 year before screening"
    assert "E6: MET" in cases[f"chemo on 2025-06-01, route intravenous and line 4: {either}"]
    assert "E6: NOT_MET" in cases[f"chemo on 2025-06-01, route intravenous and line 1: {either}"]
    assert "E6: MET" in cases[f"chemo on 2025-06-01, line not recorded: {either}"]
    graded = "anaphylaxis with grade >= 3 ever"
    assert "E3: MET" in cases[f"anaphylaxis grade 3 on 2026-05-31: {graded}"]
    assert "E3: NOT_MET" in cases[f"anaphylaxis grade 2 on 2026-05-31: {graded}"]
    relapse = "relapse within 6 months after the end of adjuvant"
    assert "E4: MET" in cases[f"relapse on 2026-02-15: the first day inside of {relapse}"]
    assert "E4: NOT_MET" in cases[f"relapse on 2026-02-14: the day before the window of {relapse}"]
    assert "E4: UNKNOWN" in cases[f"adjuvant still going on, relapse on 2026-02-15: {relapse}"]
    assert "E4: NOT_MET" in cases[f"no adjuvant (recorded as none), relapse on 2026-02-15: "
                                  f"{relapse}"]
    radiotherapy = "neuropathy less than 4 weeks before the start of radiotherapy"
    given = cases[f"neuropathy on 2026-02-03: the day before the window of {radiotherapy}"]
    assert '{"concept": "radiotherapy", "date": "2026-03-03", "end": "2026-04-02"}' in given
    # the start known only to March: the 4 weeks before some day of it, none inside before every
    # day of it; outside before 2026-02-02 and after 2026-03-31
    month = "the start of radiotherapy known only to the month 2026-03"
    for day, verdict in (("2026-02-01", "NOT_MET"), ("2026-02-02", "UNKNOWN"),
                         ("2026-03-31", "UNKNOWN"), ("2026-04-01", "NOT_MET")):
        assert f"E5: {verdict}" in cases[f"neuropathy on {day}, {month}: {radiotherapy}"], day
    assert "E4: UNKNOWN" in cases[f"adjuvant with no end recorded, relapse on 2026-02-15: "
                                  f"{relapse}"]


def test_windows_during_another_history(capsys, tmp_path):
    """Both forms of `during` on the most recent of two lines the base gives: the day before the
    line starts and the day it starts, its last day and the day after, 12 months after its end
    and the day after (also with the end moved to 31 January, 29 February and 31 December), the
    line still going on, with no end recorded, with its end known only to the month; a filter
    and a grade on a course of the cases' own (the base's radiotherapy is known only to the
    month, which the file says); `no known`; a count during each. Every expectation is calendar
    arithmetic worked out here, over each day the line's start and end may be; `proto-rules
    test` has the network agree."""
    protocol = "tests/data/edgecases/during.proto-rules"
    out = tmp_path / "edges.yaml"
    argv = ("edge-cases", protocol, "--base", "tests/data/edgecases/during.patients.jsonl",
            "-o", str(out))
    code, said, _ = run_cli(capsys, *argv)
    assert code == 0 and said.startswith(f"{out}: 137 boundary cases from D01"), said
    code, said, _ = run_cli(capsys, "test", protocol, str(out))
    assert code == 0 and "=== 137 passed (1 scenario file) ===" in said, said
    text = out.read_text(encoding="utf-8")
    assert "# note: line 24, infection: counted from a course of the cases' own, since " \
           "the base's radiotherapy does not settle during or within 30 days after radiotherapy " \
           "(the start of the most recent is known only to the month or year: 2026-02)\n" in text
    assert "no cases are generated" not in text
    cases = _cases(text)
    within = "progression during or within 12 months after line_of_therapy"
    on = "progression during line_of_therapy"
    for day, what, i1, i2 in (
            ("2025-01-14", "the day before line_of_therapy starts", "NOT_MET", "NOT_MET"),
            ("2025-01-15", "the day line_of_therapy starts", "MET", "MET"),
            ("2025-03-31", "the last day of line_of_therapy", "MET", "MET"),
            ("2025-04-01", "the day after line_of_therapy ends", "MET", "NOT_MET")):
        assert f"I1: {i1}" in cases[f"progression on {day}, {what}: {within}"], day
        assert f"I2: {i2}" in cases[f"progression on {day}, {what}: {on}"], day
    last = cases[f"progression on 2026-03-31, 12 months after the end of line_of_therapy: "
                 f"{within}"]
    assert "2025-03-31 + 12 months = 2026-03-31 (dateutil)" in last and "I1: MET" in last
    assert "I1: NOT_MET" in cases[f"progression on 2026-04-01, the day after 2026-03-31: {within}"]
    leap = cases[f"progression on 2029-03-01, the day after 2029-02-28, screening on 2029-05-10: "
                 f"{within}"]
    assert "ends 2028-02-29" in leap and "I1: NOT_MET" in leap
    assert "I1: MET" in cases[f"progression on 2026-04-01, line_of_therapy still going on: "
                              f"{within}"]
    assert "I1: UNKNOWN" in cases[f"progression on 2026-04-01, line_of_therapy with no end "
                                  f"recorded: {within}"]
    month = "the end of line_of_therapy known only to the month 2025-03"
    for day, verdict in (("2026-02-28", "MET"), ("2026-03-01", "MET"), ("2026-03-31", "UNKNOWN"),
                         ("2026-04-01", "NOT_MET")):
        assert f"I1: {verdict}" in cases[f"progression on {day}, {month}: {within}"], day
    assert "I1: UNKNOWN" in cases[f"progression in 2025-01 (known to the month): {within}"]
    assert "I1: NOT_MET" in cases[f"progression on 2024-12-16, the last day of an earlier "
                                  f"line_of_therapy from 2024-11-16 to 2024-12-16: {within}"]
    assert "I2: MET" in cases[f"progression from 2025-01-05 to 2025-01-15, overlapping the first "
                              f"day of line_of_therapy: {on}"]
    assert "I2: NOT_MET" in cases[f"no line_of_therapy (recorded as none), progression on "
                                  f"2025-01-15: {on}"]
    assert "I2: UNKNOWN" in cases[f"no line_of_therapy recorded, progression on 2025-01-15: {on}"]
    infection = "infection where site is lung with grade >= 3 during or within 30 days after " \
                "radiotherapy"
    own = cases[f"infection on 2026-05-12, the day after 2026-05-11: {infection}"]
    assert '{"concept": "radiotherapy", "date": "2026-02-25", "end": "2026-04-11"}' in own
    assert "E1: NOT_MET" in own
    assert "E1: UNKNOWN" in cases[f"infection on 2026-02-25, site not recorded: {infection}"]
    assert "I3: NOT_MET" in cases["steroid on 2025-03-31, the last day of line_of_therapy: "
                                  "steroid during line_of_therapy"]
    counted = f"at least 2 {within}"
    assert "E2: NOT_MET" in cases[f"1 item that counts: {counted}"]
    two = cases[f"2 items that count: {counted}"]
    assert "2026-03-31 counts; 2026-03-30 counts: 2 count" in two and "E2: MET" in two
    assert "E2: NOT_MET" in cases[f"one outside the window: {counted}"]
    assert "E2: UNKNOWN" in cases[f"one known to the month 2025-01: {counted}"]
    assert "E2: MET" in cases[f"2 items that count, line_of_therapy still going on: {counted}"]


def test_the_dose_on_a_day_and_treatment_without_a_break(capsys, tmp_path):
    """TOASST's I3 (`glucocorticoid dose at screening >= 7.5 mg/d`): prednisone at the threshold
    and a step under, other drugs at their equivalent through the table (methylprednisolone 4 mg =
    prednisone 5 mg), a course ending the day before screening (not on it); its I4 (`for at least
    28 days`): a course of exactly 28 days and one a day shorter, two courses that join. Each
    expectation is exact decimal and calendar arithmetic worked out here."""
    out = tmp_path / "toasst.yaml"
    argv = ("edge-cases", "examples/toasst-glucocorticoid-withdrawal.proto-rules", "--base",
            "examples/toasst-glucocorticoid-withdrawal.patients.jsonl", "-o", str(out))
    assert run_cli(capsys, *argv)[0] == 0
    text = out.read_text(encoding="utf-8")
    assert "# not generated: line 81" not in text and "# not generated: line 74" not in text
    cases = _cases(text)
    dose = "glucocorticoid dose at screening >= 7.5 mg/d"
    assert "I3: MET" in cases[f"prednisone 7.5 mg/d: {dose}"]
    assert "I3: NOT_MET" in cases[f"prednisone 7.499999 mg/d: {dose}"]
    assert "I3: MET" in cases[f"prednisone 0.0075 g/d: {dose}"]
    methyl = cases[f"methylprednisolone 6 mg/d: {dose}"]
    assert "7.5 mg/d (x 1.25) on 2026-06-01" in methyl and "I3: MET" in methyl
    assert "I3: NOT_MET" in cases[f"prednisone 7.5 mg/d ending 2026-05-31: {dose}"]
    assert "I3: MET" in cases[f"prednisone 7.5 mg/d ending 2026-06-01: {dose}"]
    assert "I3: NOT_MET" in cases[f"no glucocorticoid (recorded as none): {dose}"]
    run = "glucocorticoid for at least 28 days"
    assert "I4: MET" in cases[f"one course 2026-05-04 to 2026-06-01: {run}"]
    assert "I4: NOT_MET" in cases[f"one course 2026-05-05 to 2026-06-01: {run}"]
    assert "I4: MET" in cases[f"prednisone 2026-05-04 to 2026-05-18, prednisolone 2026-05-19 "
                             f"to 2026-06-01: {run}"]
    assert "I4: NOT_MET" in cases[f"prednisone 2026-05-04 to 2026-05-18, prednisolone "
                                 f"2026-05-20 to 2026-06-01: {run}"]


@pytest.mark.parametrize("argv, message", [
    (("--base", "examples/patients.jsonl", "--patient", "P01-eligble"),
     "proto-rules: no patient 'P01-eligble' in examples/patients.jsonl; did you mean "
     "'P01-eligible'?"),
    (("--base", "examples/nowhere.jsonl"),
     "proto-rules: cannot read the base patient: examples/nowhere.jsonl:0: error: cannot read "
     "fact file: [Errno 2] No such file or directory: 'examples/nowhere.jsonl'"),
    # another record's problem is not the base's: said only where the one named is not found
    (("--base", "examples/bad/facts.jsonl", "--patient", "nobody"),
     "proto-rules: no patient 'nobody' in examples/bad/facts.jsonl (2 record(s) could not be "
     "read, the first: examples/bad/facts.jsonl:2: error: not valid JSON: Expecting value at "
     "column 75)"),
    (("--base", "examples/P04-liver-at-threshold.fhir.json"),
     "proto-rules: examples/P04-liver-at-threshold.fhir.json:1: edge-cases takes its base "
     "patient in the fact format (JSON or JSON Lines), not as a FHIR resource"),
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


def test_what_is_not_generated_is_said_once(capsys, tmp_path):
    """Two comparisons of one formula on a line lack its input alike: CASTOR's helper found each
    reason listed twice in the header."""
    protocol = tmp_path / "r.proto-rules"
    protocol.write_text(
        'protocol "r" version "1"\nconcepts:\n  kappa: quantity in mg/L\n'
        '  lambda_flc: quantity in mg/L\n'
        '  ratio: derived in dimensionless = (kappa in mg/L) / (lambda_flc in mg/L)\n'
        'inclusion I1 "Abnormal ratio": ratio < 0.26 dimensionless or ratio > 1.65 '
        'dimensionless\n', encoding="utf-8")
    base = tmp_path / "b.jsonl"
    base.write_text('{"patient": "b", "screening_date": "2026-06-01", "facts": []}\n',
                    encoding="utf-8")
    out = tmp_path / "e.yaml"
    run_cli(capsys, "edge-cases", str(protocol), "--base", str(base), "-o", str(out))
    said = [line for line in out.read_text(encoding="utf-8").splitlines()
            if line.startswith("# not generated")]
    assert said and len(said) == len(set(said))
