"""An average daily dose: `glucocorticoid average daily dose >= 7.5 mg/d within 28 days before
screening` ("an average daily prednisone dose of at least 7.5 mg over the 4 weeks before
screening"): the cumulative dose over the window's days, divided by their number.

The window is the one every `within D before A` means (from A - D to A, both days counted: 29
days for 28 days before screening), cut at screening; the quotient is exact, rounded once (a
dose per kg through the weight too), and a course known only to the month, going on, or without
a dose gives bounds, decided where every possible average agrees.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.amend.diff import diff
from tests.conftest import (assert_trail_agrees, boundary_cases, checked, judged,
                            network_from_text, screen_one)
from tests.test_cumulative_dose import DECLARED, exact_courses
from tests.test_cumulative_dose import decided as summed_up
from tests.test_cumulative_dose import prednisone as course_of

PROTOCOL = 'protocol "a" version "1"\n' + DECLARED + """inclusion I1 "An average daily dose of at least 7.5 mg prednisone-equivalent over the 4 weeks"
    " before screening": glucocorticoid average daily dose >= 7.5 mg/d within 4 weeks before screening
exclusion E1 "An average above 20 mg a day in the 30 days before the first dose":
    glucocorticoid average dose > 20 mg/d within 30 days before first_dose
inclusion I2 "At least 0.15 mg/kg a day": glucocorticoid_per_kg average daily dose >= 0.15 mg/kg/d
    within 4 weeks before screening
"""
SCREENING = "2026-03-10"  # 4 weeks before: 2026-02-10, 29 days counted


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL))


def decided(screening: Screening, *courses: dict, first_dose: str | None = "2026-03-20",
            none: bool = False) -> Decision:
    return summed_up(screening, *courses, first_dose=first_dose, none=none)


def prednisone(start: str, end: str | None, dose: float | None = 7.5) -> dict:
    return course_of(start, end, dose)


WINDOW = "over 29 days from 2026-02-10 to 2026-03-10 (4 weeks before screening 2026-03-10)"


@pytest.mark.parametrize("course, verdict, average", [
    (prednisone("2026-02-10", None), "MET", "7.5 mg/d (prednisone 29 days x 7.5 mg/d)"),
    (prednisone("2026-01-01", None), "MET", "7.5 mg/d (prednisone 29 days x 7.5 mg/d)"),
    # 28 of the 29 days: 210 / 29
    (prednisone("2026-02-11", None), "NOT_MET", "7.241379 mg/d (prednisone 28 days x 7.5 mg/d)"),
    # 15 mg/d for 15 days is 225 mg, over 29 days 7.758621
    (prednisone("2026-02-10", "2026-02-24", 15), "MET", "7.758621 mg/d"),
    # started some day of February, ended on the 24th: 1 to 15 days of 15 mg/d
    (prednisone("2026-02", "2026-02-24", 15), "UNKNOWN", "between 0.517241 and 7.758621 mg/d"),
    # ended some day of February, from the 1st: none to 19 days of the window, under 7.5 anyway
    (prednisone("2026-02-01", "2026-02", 7.5), "NOT_MET", "between 0 and 4.913793 mg/d"),
    (prednisone("2026-02-10", None, None), "UNKNOWN", "at least 0 mg/d (a course has no dose)"),
])
def test_an_average_over_the_window(screening, course, verdict, average) -> None:
    result = decided(screening, course)
    assert_trail_agrees(screening.network, result, {"I1": verdict})
    detail = judged(screening.network, result, "I1")["detail"]
    assert detail.startswith(f"average daily dose {WINDOW}: {average}"), detail


def test_courses_and_equivalents_are_averaged_together(screening) -> None:
    # 6 mg/d of methylprednisolone is 7.5 of prednisone: 14 + 15 days of 7.5 mg/d
    result = decided(screening, prednisone("2026-02-10", "2026-02-23"),
                     {"drug": "methylprednisolone", "dose": 6, "unit": "mg/d",
                      "date": "2026-02-24", "ongoing": True})
    assert_trail_agrees(screening.network, result, {"I1": "MET"})
    assert judged(screening.network, result, "I1")["detail"].startswith(
        f"average daily dose {WINDOW}: 7.5 mg/d (prednisone 14 days x 7.5 mg/d; "
        "methylprednisolone 15 days x 7.5 mg/d); glucocorticoid: ")


def test_a_dose_per_kg_is_averaged_exactly(screening) -> None:
    # 10.5 mg/d for 70 kg is 0.15 mg/kg/d; 10 mg/d is 1/7, rounded once to 0.142857
    met = decided(screening, prednisone("2026-02-10", None, 10.5))
    assert_trail_agrees(screening.network, met, {"I2": "MET"})
    assert "0.15 mg/kg/d (prednisone 29 days x 0.15 mg/kg/d)" in \
        judged(screening.network, met, "I2")["detail"]
    under = decided(screening, prednisone("2026-02-10", None, 10))
    assert_trail_agrees(screening.network, under, {"I2": "NOT_MET"})


def test_none_recorded_is_zero_and_nothing_recorded_unknown(screening) -> None:
    none = decided(screening, none=True)
    assert_trail_agrees(screening.network, none, {"I1": "NOT_MET", "E1": "NOT_MET"})
    assert f"average daily dose {WINDOW}: 0 mg/d; glucocorticoid: recorded as none" in \
        judged(screening.network, none, "I1")["detail"]
    nothing = decided(screening)
    assert_trail_agrees(screening.network, nothing, {"I1": "UNKNOWN", "E1": "UNKNOWN"})


def test_a_window_reaching_past_screening_reads_its_days_as_recorded(screening) -> None:
    """30 days before a first dose on 2026-03-20 (2026-02-18 to 2026-03-20, 31 days): a course
    that ended at screening counts nothing after it (21 days of 21 mg/d: 14.225806 mg/d); one
    going on goes on, as `dose at first_dose` reads it (21 mg/d)."""
    result = decided(screening, prednisone("2026-02-18", "2026-03-10", 21))
    assert_trail_agrees(screening.network, result, {"E1": "NOT_MET"})
    assert judged(screening.network, result, "E1")["detail"].startswith(
        "average daily dose over 31 days from 2026-02-18 to 2026-03-20 (30 days before "
        "first_dose 2026-03-20; the days after screening 2026-03-10 as recorded then, courses "
        "going on going on): 14.225806 mg/d (prednisone 21 days x 21 mg/d)")
    going_on = decided(screening, prednisone("2026-02-18", None, 21))
    assert_trail_agrees(screening.network, going_on, {"E1": "MET"})


def test_a_window_wholly_after_screening_or_without_its_anchor(screening) -> None:
    later = decided(screening, prednisone("2026-01-01", None, 30), first_dose="2026-04-15")
    assert_trail_agrees(screening.network, later, {"E1": "MET", "I1": "MET"})
    missing = decided(screening, prednisone("2026-01-01", None, 30), first_dose=None)
    assert_trail_agrees(screening.network, missing, {"E1": "UNKNOWN"})
    assert judged(screening.network, missing, "E1")["detail"].endswith(
        "; first_dose: no fact given")


CONCEPTS = ("    gc: medication {prednisone} dosed in mg/d\n"
            "    anthracycline: medication {doxorubicin} dosed in mg/m2\n"
            "    crp: quantity in mg/L\n")


@pytest.mark.parametrize("text, said", [
    ("gc average daily dose >= 7.5 mg/d", "6:19 an average daily dose is over the days of a "
     "span: write 'within D before A' after it (A the screening date or a date concept)"),
    ("gc average dose >= 7.5 mg/d within 3 days after screening", "6:47 an average daily dose "
     "is over the days of a span: write 'within D before A' after it (A the screening date or a "
     "date concept), not 'within 3 days after screening'"),
    ("gc average dose >= 210 mg within 4 weeks before screening", "6:38 gc is dosed in mg/d; "
     "210 mg is a mass"),
    ("gc average dose >= 7.5 within 4 weeks before screening", "6:38 gc needs a unit, e.g. 7.5 "
     "mg/d"),
    ("anthracycline average daily dose > 60 mg/m2 within 4 weeks before screening", "6:19 "
     "anthracycline is dosed in mg/m2, not per day: an average daily dose is a daily dose "
     "summed over days, divided by their number (declare it 'dosed in mg/m2/d'; an "
     "administration is a course of one day)"),
    ("crp average dose > 5 mg/d within 4 weeks before screening", "6:19 'crp' is a quantity: "
     "only a medication's courses have doses to sum or average over days"),
])
def test_what_an_average_dose_cannot_say(text, said) -> None:
    assert said in checked(CONCEPTS, text)


def test_a_changed_average_is_a_threshold_and_a_sum_made_an_average_is_rewritten() -> None:
    old = parse(PROTOCOL, "a.proto-rules")
    changed = parse(PROTOCOL.replace("average daily dose >= 7.5", "average daily dose >= 10"),
                    "a.proto-rules")
    (entry,) = diff(old, changed).entries
    assert [c.kind for c in entry.changes] == ["threshold"]
    summed = parse(PROTOCOL.replace("average dose > 20 mg/d", "cumulative dose > 600 mg"),
                   "a.proto-rules")
    (entry,) = diff(old, summed).entries
    assert [(c.kind, c.new) for c in entry.changes] == [
        ("rewritten", "glucocorticoid cumulative dose > 600 mg within 30 days before first_dose")]


def test_boundary_cases(capsys, tmp_path) -> None:
    base = {"patient": "b", "screening_date": SCREENING, "facts": [
        {"concept": "first_dose", "value": "2026-03-20"},
        {"concept": "weight", "value": 70, "unit": "kg", "date": "2026-03-01"},
        {"concept": "glucocorticoid", **prednisone("2026-01-01", None)},
        {"concept": "glucocorticoid_per_kg", **prednisone("2026-01-01", None)}]}
    cases, said = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    assert "34 boundary cases from b" in said
    for name in ("29 days of 7.5 mg/d: glucocorticoid average daily dose >= 7.5 mg/d within 4 "
                 "weeks before screening",
                 "28 days of 7.5 mg/d: glucocorticoid average daily dose >= 7.5 mg/d within 4 "
                 "weeks before screening",
                 "31 days of 20.000001 mg/d: glucocorticoid average daily dose > 20 mg/d within "
                 "30 days before first_dose",
                 "29 days of 0.15 mg/kg/d: glucocorticoid_per_kg average daily dose >= 0.15 "
                 "mg/kg/d within 4 weeks before screening"):
        assert f'  - name: "{name}"' in cases


@pytest.fixture(scope="module")
def averaged() -> Screening:
    return Screening(network_from_text(
        'protocol "a" version "1"\nconcepts:\n    gc: medication {prednisone} dosed in mg/d\n'
        + "".join(f'inclusion I{i} "x": gc average dose >= {t} mg/d within 20 days before '
                  "screening\n" for i, t in enumerate((1, 2.5, 5, 10), 1))))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 30),
                          st.sampled_from([None, Fraction(5, 2), Fraction(5), Fraction(20)])),
                min_size=1, max_size=4))
def test_the_average_against_plain_arithmetic(averaged, courses) -> None:
    """Courses of exact dates (`ago` days before screening, lasting `days` more, cut at
    screening) against the average over the 21 days worked out here in fractions: decided
    where the doses are all known, and where a course without a dose cannot lower it below the
    threshold."""
    day = date.fromisoformat(SCREENING)
    first = day - timedelta(days=20)
    facts, spans = exact_courses(courses, day)
    total, unbounded = Fraction(0), False
    for start, end, dose in spans:
        taken = max(0, (min(end, day) - max(start, first)).days + 1)
        if dose is None and taken:
            unbounded = True
        elif dose is not None:
            total += dose * taken
    result = screen_one(averaged, facts, day=SCREENING)
    assert isinstance(result, Decision)
    average = total / 21
    expected = {f"I{i}": "MET" if average >= Fraction(str(t)) else
                "UNKNOWN" if unbounded else "NOT_MET"
                for i, t in enumerate((1, 2.5, 5, 10), 1)}
    assert_trail_agrees(averaged.network, result, expected)


COURSE = st.tuples(
    st.sampled_from(["2026-01-20", "2026-02", "2026-02-10", "2026-02-28", "2026-03-10"]),
    st.sampled_from([None, "2026-02-09", "2026-02", "2026-03-01", "2026-03"]),
    st.sampled_from([None, 7.5, 10.5, 40.0]),
    st.sampled_from(["prednisone", "methylprednisolone"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(COURSE, max_size=3, unique=True), st.booleans(),
       st.sampled_from([None, "2026-03-01", "2026-03-20", "2026-05-01"]))
def test_the_network_and_the_trail_agree_on_any_courses(screening, courses, weighed,
                                                        first_dose) -> None:
    """Courses known to the day or the month, going on, with or without a dose, a weight, an
    anchor day before, after or long after screening: every criterion's verdict is the
    trail's."""
    assert_courses_agree(screening, courses, weighed, first_dose)


def assert_courses_agree(screening: Screening, courses, weighed: bool, first_dose: str | None,
                         ) -> None:
    """`courses` (start, end or None for going on, dose, drug) of both glucocorticoids, with a
    weight or not and a first dose or not, screened on SCREENING: every verdict is the trail's."""
    facts: list[dict] = [{"concept": "first_dose", "value": first_dose}] if first_dose else []
    if weighed:
        facts.append({"concept": "weight", "value": 70, "unit": "kg", "date": "2026-03-01"})
    for start, end, dose, drug in courses:
        course: dict = {"drug": drug, "date": start}
        if end is None:
            course["ongoing"] = True
        elif end >= start:
            course["end"] = end
        if dose is not None:
            course.update(dose=dose, unit="mg/d")
        facts += [{"concept": name, **course}
                  for name in ("glucocorticoid", "glucocorticoid_per_kg")]
    result = screen_one(screening, facts, day=SCREENING)
    if not isinstance(result, Decision):  # two courses the same but for an end before start
        return
    assert_trail_agrees(screening.network, result,
                        {c: v.verdict for c, v in result.verdicts.items()})


@pytest.fixture(scope="module")
def paired() -> Screening:
    """Each average beside the cumulative dose it is: T a day over the 21 days is 21 x T."""
    return Screening(network_from_text(
        'protocol "a" version "1"\nconcepts:\n    gc: medication {prednisone} dosed in mg/d\n'
        + "".join(f'inclusion A{i} "x": gc average dose >= {t} mg/d within 20 days before '
                  f'screening\ninclusion C{i} "x": gc cumulative dose >= {21 * t} mg within 20 '
                  "days before screening\n" for i, t in enumerate((1, 5, 10), 1))))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["2026-02-10", "2026-02", "2026-02-25", "2026-03-01"]),
                          st.sampled_from([None, "2026-02-19", "2026-02", "2026-03-05"]),
                          st.sampled_from([None, 2.5, 5.0, 20.0])), max_size=3, unique=True))
def test_an_average_is_its_cumulative_dose_read_per_day(paired, courses) -> None:
    """For any courses (known to the day or the month, going on, with or without a dose), the
    average over the window's 21 days passes T exactly where the cumulative dose over them
    passes 21 x T: the same sum, its bounds divided by the same days."""
    facts = []
    for start, end, dose in courses:
        course: dict = {"concept": "gc", "drug": "prednisone", "date": start}
        course.update({"end": end} if end is not None and end >= start else {"ongoing": True})
        if dose is not None:
            course.update(dose=dose, unit="mg/d")
        facts.append(course)
    result = screen_one(paired, facts or [{"concept": "gc", "present": False}], day=SCREENING)
    if not isinstance(result, Decision):  # the same course twice: a duplicate
        return
    verdicts = {c: v.verdict for c, v in result.verdicts.items()}
    assert all(verdicts[f"A{i}"] == verdicts[f"C{i}"] for i in (1, 2, 3)), verdicts
    assert_trail_agrees(paired.network, result, verdicts)
