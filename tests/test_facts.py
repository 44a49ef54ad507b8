"""The fact loader on bad input: every problem says where (file:record, patient, fact, field), and
what.

examples/bad/facts.jsonl holds one bad patient per line, its id naming the problem, between a good
patient on the first line and one on the last: a bad record is reported and set aside, the others
are still decided. Warnings (an unknown concept, a fact dated after screening) do not set a patient
aside.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from engine.factfile import read_records
from engine.run import Decision, Rejected, Screening
from protocol.errors import FactProblem, Severity
from tests.conftest import network_from_text, screen_one

BAD = Path(__file__).resolve().parents[1] / "examples" / "bad"
FACTS = BAD / "facts.jsonl"

#: line, patient id, fact index, field, severity, words the message must contain
CASES = [
    (2, None, None, None, "error", "not valid JSON"),
    (3, None, None, None, "error", "a JSON array of 1 value, not a patient: a fact file holds "
     "one patient object, or one per line (JSON Lines: no brackets or commas between them)"),
    (4, None, None, "patient", "error", "is required"),
    (5, "B05-no-facts", None, "facts", "error", "is required"),
    (6, "B06-unknown-field", 1, "units", "error", "unknown field ('units' was unexpected)"),
    (7, "B07-egfr-in-mg", 1, "unit", "error", "egfr: cannot convert mg (mass) to mL/min/1.73m2"),
    (8, "B08-unknown-unit", 1, "unit", "error", "unknown unit 'percent-ish'"),
    (9, "B09-unparseable-date", 1, "date", "error", "not a date (YYYY-MM-DD): '18/05/2026'"),
    (10, "B10-negative-age", 1, "value", "error", "age cannot be negative: -3"),
    (11, "B11-negative-value", 1, "value", "error", "spo2 cannot be negative: -95"),
    (12, "B12-born-after-screening", None, "birth_date", "error",
     "born 2026-07-01, after the screening date 2026-06-01"),
    (13, "B13-unknown-concept", 1, "concept", "warning",
     "unknown concept 'ferritin': not declared by the protocol"),
    (14, "B14-duplicate-fact", 2, None, "error", "duplicate of fact #2; if they are two results "
     'of one day (a triplicate ECG), give each its time: "date": "YYYY-MM-DDTHH:MM"'),
    (15, "B15-two-values-same-day", 2, "date", "warning",
     "another value of 'ecg' on the same day disagrees with this one: which one counts is "
     "unclear, so ecg is unknown"),
    (16, "B16-category-value-not-in-set", 1, "value", "error",
     'ecg must be one of {no obvious abnormality, abnormal}, found "normal"'),
    (17, "B17-flag-not-boolean", 1, "value", "error", 'expected true or false, found "yes"'),
    (18, "B18-judgment-without-recorded-by", 1, "recorded_by", "warning",
     "an investigator judgment needs who attested it: not attested, it stays open (NEEDS_REVIEW)"),
    (19, "B19-event-ends-before-start", 1, "end", "error",
     "ends 2018-05-01, before it starts 2019-05-01"),
    (20, "B20-none-and-present", 1, "present", "error",
     "live_vaccine is recorded as none and as present (fact #3)"),
    (21, "B21-unknown-drug", 1, "drug", "error",
     'immunosuppressant must name one of {cyclophosphamide'),
    (22, "B22-fact-after-screening", 1, "date", "warning",
     "dated 2026-06-02, after the screening date 2026-06-01: set aside"),
    (23, "B23-top-level-unknown-field", None, "sreening_date", "error",
     "unknown field ('sreening_date' was unexpected)"),
    (24, "B24-negative-dose", 2, "dose", "error", "a dose cannot be negative: -60"),
    (25, "B25-unparseable-screening-date", None, "screening_date", "error",
     "not a date (YYYY-MM-DD): '2026-06-31'"),
    (26, "B26-occurrence-month-13", 1, "date", "error",
     "not a date (YYYY-MM-DD, YYYY-MM or YYYY): '2025-13'"),
    (27, "B27-number-as-text", 1, "value", "error",
     'expected a number or a bound like \'< 20\', found "97" (a number is written without '
     'quotes: 97)'),
    (28, "B28-undated-lab", 1, "date", "error",
     "'ast' is declared 'valid for': each fact needs a date"),
]
WARNED = {13, 15, 18, 22}


@pytest.fixture(scope="module")
def outcomes(screening) -> dict[int, Decision | Rejected]:
    """Every record of examples/bad/facts.jsonl, by line number."""
    found: dict[int, Decision | Rejected] = {}
    for outcome in screening.screen(read_records(str(FACTS)), str(FACTS)):
        line = outcome.line if isinstance(outcome, Rejected) else outcome.patient.line
        found[line] = outcome
    return found


def problems_of(outcome: Decision | Rejected) -> list[FactProblem]:
    return outcome.problems if isinstance(outcome, Rejected) else outcome.patient.warnings


@pytest.mark.parametrize("line, patient, fact, field, severity, words", CASES)
def test_problem_says_where_and_what(outcomes, line, patient, fact, field, severity, words):
    outcome = outcomes[line]
    assert isinstance(outcome, Decision if severity == "warning" else Rejected)
    (problem,) = problems_of(outcome)
    assert (problem.file, problem.record, problem.patient, problem.fact, problem.field) == \
           (str(FACTS), line, patient, fact, field)
    assert problem.severity is Severity(severity)
    assert words in problem.message
    # as printed: file:line, patient, fact #, field, severity, message
    where = [f"{FACTS}:{line}"] + ([f"patient {patient}"] if patient else []) \
        + ([f"fact #{fact + 1}"] if fact is not None else []) + ([f"field '{field}'"] if field else [])
    assert str(problem) == f"{', '.join(where)}: {severity}: {problem.message}"


def test_every_problem_of_a_record_is_reported(outcomes):
    outcome = outcomes[29]
    assert isinstance(outcome, Rejected) and outcome.patient == "B29-several-problems"
    found = sorted((p.fact, p.field, p.message) for p in outcome.problems)
    assert found == [
        (1, "value", 'ecg must be one of {no obvious abnormality, abnormal}, found "normal"'),
        (2, "date", "not a date (YYYY-MM-DD): '2026-13-01'"),
    ]


def test_bad_records_are_set_aside_and_the_others_decided(outcomes):
    lines = FACTS.read_text(encoding="utf-8").splitlines()
    assert sorted(outcomes) == list(range(1, len(lines) + 1)), "one outcome per record, in order"
    decided = {line for line, o in outcomes.items() if isinstance(o, Decision)}
    assert decided == {1, len(lines)} | WARNED
    for line in (1, len(lines)):  # the good patients around the bad ones: eGFR 78 read as usual
        decision = outcomes[line]
        assert decision.patient.warnings == []
        assert decision.verdicts["I4.renal"].verdict == "MET"


def test_unattested_judgment_is_open_not_rejected(outcomes):
    decision = outcomes[18]
    assert decision.verdicts["E13"].verdict == "NEEDS_REVIEW"
    assert "investigator_deems_unsuitable" not in decision.patient.record


def test_unknown_concept_is_a_warning_and_the_patient_is_decided(outcomes):
    decision = outcomes[13]
    assert decision.patient.id == "B13-unknown-concept"
    assert decision.verdicts["I4.renal"].verdict == "MET"
    assert "ferritin" not in decision.patient.record


def test_fact_after_screening_is_set_aside(outcomes):
    """eGFR 20 dated the day after screening is not used: the eGFR 78 before it counts."""
    decision = outcomes[22]
    assert [u.value for u in decision.patient.used["egfr"]] == [78]
    assert decision.verdicts["I4.renal"].verdict == "MET"


def test_a_concept_given_only_after_screening_says_so(decide, baseline):
    """Its facts all set aside, the concept is missing, and the trail says why rather than
    "no fact given"."""
    late = {k: v for k, v in baseline.facts("egfr")[0].items() if k != "concept"}
    outcome = decide(baseline.only("egfr", {**late, "date": "2026-06-02"}))
    assert outcome.verdicts["I4.renal"].verdict == "UNKNOWN"
    assert outcome.patient.unusable["egfr"] == \
        "given only dated after the screening date (2026-06-02): set aside"


def test_missing_screening_date_without_option(screening):
    path = BAD / "no-screening-date.jsonl"
    (outcome,) = screening.screen(read_records(str(path)), str(path))
    assert isinstance(outcome, Rejected)
    (problem,) = outcome.problems
    assert str(problem) == (
        f"{path}:1, patient N01-no-screening-date, field 'screening_date': error: "
        "no screening date: give it in the record or with --screening-date")


def test_missing_screening_date_with_option(screening):
    path = BAD / "no-screening-date.jsonl"
    (outcome,) = screening.screen(read_records(str(path)), str(path), date(2026, 6, 1))
    assert isinstance(outcome, Decision)
    assert outcome.patient.screening == date(2026, 6, 1)
    assert outcome.verdicts["I4.renal"].verdict == "MET"


def test_the_record_screening_date_wins_over_the_option(screening, tmp_path, baseline):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(baseline.data) + "\n", encoding="utf-8")
    (outcome,) = screening.screen(read_records(str(path)), str(path), date(2030, 1, 1))
    assert outcome.patient.screening == date(2026, 6, 1)
    assert outcome.decision == "ELIGIBLE"


def test_empty_file(screening):
    path = BAD / "empty.jsonl"
    (outcome,) = screening.screen(read_records(str(path)), str(path))
    assert isinstance(outcome, Rejected)
    assert [str(p) for p in outcome.problems] == [f"{path}:0: error: the fact file is empty"]


def test_blank_only_file_is_empty(screening, tmp_path):
    path = tmp_path / "blank.jsonl"
    path.write_text("\n  \n\n", encoding="utf-8")
    (outcome,) = screening.screen(read_records(str(path)), str(path))
    assert "the fact file is empty" in outcome.problems[0].message


def test_unreadable_file(screening, tmp_path):
    missing = tmp_path / "nope.jsonl"
    (outcome,) = screening.screen(read_records(str(missing)), str(missing))
    assert isinstance(outcome, Rejected)
    assert outcome.problems[0].message.startswith("cannot read fact file")
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"patient": "Müller", "facts": []}\n'.encode("latin-1"))
    (outcome,) = screening.screen(read_records(str(latin1)), str(latin1))
    assert [str(p) for p in outcome.problems] == [  # the line, not the file: test_hostile_facts
        f"{latin1}:1: error: not UTF-8 text: byte 0xfc at column 15 (invalid start byte)"]


def test_one_json_object_over_several_lines_is_one_patient(screening, tmp_path, baseline):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(baseline.data, indent=2), encoding="utf-8")
    outcomes = list(screening.screen(read_records(str(path)), str(path)))
    assert [(o.patient.id, o.decision) for o in outcomes] == [("P01-eligible", "ELIGIBLE")]


def test_blank_lines_keep_line_numbers(screening, tmp_path, baseline):
    path = tmp_path / "gaps.jsonl"
    path.write_text("\n" + json.dumps(baseline.data) + "\n\n{oops\n", encoding="utf-8")
    first, second = screening.screen(read_records(str(path)), str(path))
    assert first.patient.line == 2
    assert isinstance(second, Rejected) and second.line == 4


def test_null_where_the_schema_wants_a_value_is_a_problem_not_a_crash(screening):
    """`"reference_range": null` once raised AttributeError; every field's JSON type is checked."""
    data = {"patient": "N2-nulls", "screening_date": "2026-06-01", "facts": [
        {"concept": "ast", "value": 30, "unit": "U/L", "date": "2026-05-20", "reference_range": None},
        {"concept": "sex", "value": "male", "unit": None}]}
    (outcome,) = screening.screen([(1, data)], "nulls.jsonl")
    assert isinstance(outcome, Rejected)
    assert [str(p) for p in outcome.problems] == [
        "nulls.jsonl:1, patient N2-nulls, fact #1, field 'reference_range': error: "
        "None is not of type 'object'",
        "nulls.jsonl:1, patient N2-nulls, fact #2, field 'unit': error: None is not of type 'string'"]


def test_a_message_quoting_a_huge_field_is_cut_saying_so():
    """A unit of 5,000 characters is named in its problem, not repeated whole (the console, the
    trail); the message says how long it was."""
    problem = FactProblem("f.jsonl", 1, "p", 0, "unit", f"egfr: unknown unit '{'u' * 5000}'")
    assert len(problem.message) < 700
    assert problem.message.endswith("... (5,021 characters)")
    assert FactProblem("f.jsonl", 1, "p", 0, "unit", "short").message == "short"


CONTRADICTIONS = """protocol "c" version "1"
concepts:
  alt: lab in U/L valid for 28 days
  inducer: medication {rifampicin}
inclusion I1 "ALT <= 2.5 x ULN": alt <= 2.5 x ULN
exclusion E1 "A CYP3A4 inducer within 3 weeks": inducer within 3 weeks before screening
"""
ALT = {"concept": "alt", "value": 30, "unit": "U/L", "date": "2026-05-30",
       "reference_range": {"low": 7, "high": 40}}
NONE = {"concept": "inducer", "present": False}


@pytest.fixture(scope="module")
def contradictions() -> Screening:
    return Screening(network_from_text(CONTRADICTIONS, "c.proto-rules"))


def test_a_reference_range_upside_down_is_refused(contradictions) -> None:
    """A lower reference above the upper one is a broken record, not a range to read."""
    outcome = screen_one(contradictions, [{**ALT, "reference_range": {"low": 70, "high": 40}},
                                          NONE], day="2026-06-01")
    assert isinstance(outcome, Rejected)
    (problem,) = outcome.problems
    assert (problem.fact, problem.field, problem.message) == (
        0, "reference_range.low", "the lower reference 70 is above the upper reference 40")


@pytest.mark.parametrize("end, verdict", [("2026-04-10", None), ("2026-05", None),
                                          ("2026-06-01", "MET"), ("2026-06", "MET"),
                                          ("2026-07-10", "MET")])
def test_ongoing_at_screening_and_ended_before_it_is_refused(contradictions, end,
                                                             verdict) -> None:
    """`ongoing` says the course had not ended at screening: with an end before it the record
    contradicts itself and is refused; an end on or after screening (a planned stop) is
    where it ends, and the course covers screening."""
    course = {"concept": "inducer", "drug": "rifampicin", "date": "2026-04-01", "end": end,
              "ongoing": True}
    outcome = screen_one(contradictions, [ALT, course], day="2026-06-01")
    if verdict is None:
        assert isinstance(outcome, Rejected)
        (problem,) = outcome.problems
        assert (problem.fact, problem.field, problem.message) == (
            1, "ongoing", f"recorded as ongoing at screening 2026-06-01 and as ended {end}: "
            "give one of them")
    else:
        assert isinstance(outcome, Decision) and outcome.verdicts["E1"].verdict == verdict


def test_a_molar_unit_for_a_mass_says_where_its_factor_is_declared() -> None:
    """Haemoglobin in mmol/L against g/dL: no factor pint knows; the protocol's `convert` is
    the fix, and the error says so (helpers encoding TULIP-2 and ELEVATE-TN looked for it)."""
    screening = Screening(network_from_text(
        'protocol "t" version "1"\nconcepts:\n  hb: quantity in g/dL\n'
        'inclusion I1 "Hb >= 9 g/dL": hb >= 9 g/dL\n', "hb.proto-rules"))
    outcome = screen_one(screening, [{"concept": "hb", "value": 5.6, "unit": "mmol/L",
                                      "date": "2026-05-30"}], day="2026-06-01")
    assert isinstance(outcome, Rejected)
    assert outcome.problems[0].message == (
        "hb: cannot convert mmol/L (substance / length ** 3) to g/dL (mass / length ** 3); "
        "between mass (or activity) and substance it takes the substance's own factor, which "
        "the protocol declares on the concept: 'convert 1 g/dL = N mmol/L'")


def test_every_concept_of_a_record_reports_its_own_problem() -> None:
    """ECOG 9 and Hb in mg: two problems in two concepts, both said in one run (the second was
    left unsaid once the first was found: a helper needed three runs)."""
    screening = Screening(network_from_text(
        'protocol "t" version "1"\nconcepts:\n  hb: quantity in g/dL\n  ecog: scale 0 to 5\n'
        'inclusion I1 "Hb >= 9 g/dL": hb >= 9 g/dL\ninclusion I2 "ECOG 0-2": ecog <= 2\n',
        "two.proto-rules"))
    outcome = screen_one(screening, [
        {"concept": "ecog", "value": 9, "date": "2026-05-25"},
        {"concept": "hb", "value": 9.5, "unit": "mg", "date": "2026-05-25"}], day="2026-06-01")
    assert isinstance(outcome, Rejected)
    assert [(p.fact, p.field) for p in outcome.problems] == [(0, "value"), (1, "unit")]
