"""A graded event's occurrence recorded without a grade ("hemorrhage on 2026-05-20", its CTCAE
grade not charted): it may or may not pass a grade test, so a condition it alone could decide
is UNKNOWN, never read as grade 0 and never a reason to set the patient aside; a grade that is
not a number still is. Each case runs the real parser, checks, normaliser and network, and the
trail's reading of the same facts.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.recorder import Recorder
from engine.run import Decision, Rejected, Screening
from tests.conftest import network_from_text, screen_one

PROTOCOL = """protocol "grades" version "1"
concepts:
  hemorrhage: event graded
  first_dose: date
exclusion E1 "Grade >= 2 hemorrhage within 30 days before the first dose":
    hemorrhage with grade >= 2 within 30 days before first_dose
exclusion E2 "Any grade >= 3 hemorrhage":
    hemorrhage with grade >= 3 ever
exclusion E3 "Two grade >= 2 hemorrhages":
    at least 2 hemorrhage with grade >= 2 ever
inclusion I1 "No known grade >= 3 hemorrhage":
    no known hemorrhage with grade >= 3 ever
exclusion E4 "Any hemorrhage within 30 days before the first dose":
    hemorrhage within 30 days before first_dose
"""
FIRST_DOSE = {"concept": "first_dose", "value": "2026-06-10"}


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "grades.proto-rules"))


def bleed(day: str, grade: object = None) -> dict:
    return {"concept": "hemorrhage", "date": day, **({} if grade is None else {"grade": grade})}


@pytest.mark.parametrize("facts, expected", [
    ([bleed("2026-05-20")], {"E1": "UNKNOWN", "E2": "UNKNOWN", "E3": "NOT_MET",
                             "I1": "UNKNOWN", "E4": "MET"}),
    ([bleed("2025-01-01")], {"E1": "NOT_MET", "E2": "UNKNOWN", "E4": "NOT_MET"}),
    ([bleed("2026-05-20", 1), bleed("2024-05-20")], {"E1": "NOT_MET", "E2": "UNKNOWN",
                                                     "E3": "NOT_MET"}),
    ([bleed("2026-05-20", 3), bleed("2024-05-20")], {"E1": "MET", "E2": "MET", "E3": "UNKNOWN",
                                                     "I1": "NOT_MET"}),
    ([bleed("2026-05-20", 2), bleed("2024-05-20"), bleed("2023-01-01", 4)],
     {"E3": "MET", "E2": "MET"}),
    ([bleed("2026-05-20", 1)], {"E1": "NOT_MET", "E2": "NOT_MET", "I1": "MET"}),
])
def test_a_grade_not_recorded_may_or_may_not_pass(screening, facts, expected):
    """(With the first dose recorded; without it, see the next test.)"""
    outcome = screen_one(screening, [FIRST_DOSE, *facts], day="2026-06-01")
    assert isinstance(outcome, Decision), outcome
    found = {c: v.verdict for c, v in outcome.verdicts.items()}
    assert {c: found[c] for c in expected} == expected


@pytest.mark.parametrize("grades, e1", [([1], "NOT_MET"), ([1, None], "UNKNOWN"), ([2], "UNKNOWN"),
                                        ([], "UNKNOWN")])
def test_no_first_dose_and_no_bleed_of_the_grade(screening, grades, e1):
    """No first dose recorded: the window has no day, but a hemorrhage below the grade counts on
    none of its days, so grades that all fail decide it (NOT_MET); one that may pass, or none
    recorded, leaves it open."""
    outcome = screen_one(screening, [bleed("2026-05-20", g) for g in grades], day="2026-06-01")
    assert isinstance(outcome, Decision), outcome
    assert outcome.verdicts["E1"].verdict == e1
    assert outcome.verdicts["E4"].verdict == "UNKNOWN"  # any hemorrhage: the day decides


def test_the_trail_says_the_grade_is_not_recorded(screening):
    outcome = screen_one(screening, [FIRST_DOSE, bleed("2026-05-20")], day="2026-06-01")
    assert isinstance(outcome, Decision)
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "hemorrhage: grade not recorded (2026-05-20; single day)" in line
    assert "(not every item records its grade: the items do not decide it)" in line


@pytest.mark.parametrize("grade", ["severe", True, [2]])
def test_a_grade_that_is_not_a_number_sets_the_record_aside(screening, grade):
    outcome = screen_one(screening, [FIRST_DOSE, bleed("2026-05-20", grade)], day="2026-06-01")
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == [
        "hemorrhage is graded: give a numeric grade (or none, when it is not recorded)"]


@pytest.mark.parametrize("grade", [-2, 2.5])
def test_a_grade_that_is_no_grade_sets_the_record_aside(screening, grade):
    outcome = screen_one(screening, [FIRST_DOSE, bleed("2026-05-20", grade)], day="2026-06-01")
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == [
        f"a grade is a whole number from 0, found {grade}"]


GRADES = st.one_of(st.none(), st.booleans(), st.integers(-3, 8), st.floats(allow_nan=False),
                   st.text(max_size=6),
                   st.lists(st.integers(0, 5), max_size=2))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(GRADES)
def test_any_grade_given_is_a_decision_or_an_input_error(screening, grade):
    """Whatever a fact file gives for a grade, the patient is decided (a whole grade from 0, or
    none: not recorded) or set aside with the grade named: never a traceback, never a guess."""
    fact = {"concept": "hemorrhage", "date": "2026-05-20", "grade": grade}
    outcome = screen_one(screening, [FIRST_DOSE, fact], day="2026-06-01")
    if isinstance(outcome, Rejected):
        assert outcome.problems and all(p.field == "grade" for p in outcome.problems), \
            outcome.problems
    else:
        assert isinstance(outcome, Decision)
        whole = grade is None or (not isinstance(grade, (bool, str, list)) and grade >= 0
                                  and grade == int(grade))
        assert whole, grade
