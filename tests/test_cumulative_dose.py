"""A cumulative dose: `glucocorticoid cumulative dose >= 420 mg` ("a cumulative glucocorticoid
dose >= 420 mg prednisone-equivalent prior to inclusion", TOASST I4), each course's daily dose
times the days it was taken, summed, up to screening or within a span before an anchor day.

The sum is exact (42 days of 10 mg/d for 70 kg are 6 mg/kg, not 42 x 0.142857); a course known
only to the month, going on, or without an end gives bounds, a course without a dose leaves the
sum unbounded above, and the comparison is decided where every possible sum agrees.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.amend.diff import diff
from tests.conftest import (assert_trail_agrees, boundary_cases, checked, judged,
                            network_from_text, screen_one)

#: The medications a sum of doses is tested on (the average dose's tests too): one dosed per
#: day through an equivalence table, one per kg through the weight.
DECLARED = """concepts:
    first_dose: date
    weight: quantity in kg
    glucocorticoid: medication {prednisone, methylprednisolone} dosed in mg/d as pe
    glucocorticoid_per_kg: medication {prednisone, methylprednisolone} dosed in mg/kg/d
        as pe per weight
equivalence pe "prednisone-equivalent":
    prednisone 5 mg = 5 mg
    methylprednisolone 4 mg = 5 mg
"""
PROTOCOL = 'protocol "c" version "1"\n' + DECLARED + """inclusion I1 "A cumulative glucocorticoid dose >= 420 mg prednisone-equivalent"
    " prior to inclusion": glucocorticoid cumulative dose >= 420 mg
exclusion E1 "More than 5 g within 12 months before the first dose":
    glucocorticoid cumulative dose > 5 g within 12 months before first_dose
inclusion I2 "At least 6 mg/kg": glucocorticoid_per_kg cumulative dose >= 6 mg/kg
"""
SCREENING = "2026-03-10"


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL))


def decided(screening: Screening, *courses: dict, first_dose: str | None = "2026-04-01",
            none: bool = False) -> Decision:
    """A patient of 70 kg with `courses` of both medications (and `none`: recorded as none),
    screened on SCREENING; `first_dose` None: no first dose recorded. The average dose's tests
    screen theirs so too."""
    facts: list[dict] = [{"concept": "first_dose", "value": first_dose}] if first_dose else []
    facts.append({"concept": "weight", "value": 70, "unit": "kg", "date": "2026-03-01"})
    for name in ("glucocorticoid", "glucocorticoid_per_kg"):
        facts += [{"concept": name, **course} for course in courses]
        if none:
            facts.append({"concept": name, "present": False})
    result = screen_one(screening, facts, day=SCREENING)
    assert isinstance(result, Decision)
    return result


def prednisone(start: str, end: str | None, dose: float | None = 10, **more) -> dict:
    course = {"drug": "prednisone", "date": start, **more}
    if dose is not None:
        course.update(dose=dose, unit="mg/d")
    if end is not None:
        course["end"] = end
    elif "ongoing" not in more:
        course["ongoing"] = True
    return course


@pytest.mark.parametrize("course, verdict, sum_", [
    (prednisone("2026-01-01", "2026-02-11"), "MET", "420 mg"),  # 42 days, both counted
    (prednisone("2026-01-01", "2026-02-10"), "NOT_MET", "410 mg"),
    (prednisone("2026-02-28", None), "NOT_MET", "110 mg"),  # going on: up to screening
    (prednisone("2026-01", "2026-02-20"), "UNKNOWN", "between 210 and 510 mg"),  # 21 to 51 days
    (prednisone("2026-01", "2026-02-05"), "NOT_MET", "between 60 and 360 mg"),
    (prednisone("2026-01-01", None, None), "UNKNOWN", "at least 0 mg (a course has no dose)"),
    (prednisone("2025-12-01", "2026-01-11", ongoing=False), "MET", "420 mg"),
])
def test_a_cumulative_dose_up_to_screening(screening, course, verdict, sum_) -> None:
    result = decided(screening, course)
    assert_trail_agrees(screening.network, result, {"I1": verdict})
    assert f"cumulative dose up to screening {SCREENING}: {sum_}" in \
        judged(screening.network, result, "I1")["detail"]


def test_courses_and_equivalents_add_up(screening) -> None:
    # 8 mg/d of methylprednisolone is 10 mg/d of prednisone: 21 days + 21 days x 10 mg/d
    result = decided(screening, prednisone("2026-01-01", "2026-01-21"),
                     {"drug": "methylprednisolone", "dose": 8, "unit": "mg/d",
                      "date": "2026-02-01", "end": "2026-02-21"})
    assert_trail_agrees(screening.network, result, {"I1": "MET"})
    assert judged(screening.network, result, "I1")["detail"].startswith(
        f"cumulative dose up to screening {SCREENING}: 420 mg (prednisone 21 days x 10 mg/d; "
        "methylprednisolone 21 days x 10 mg/d); glucocorticoid: ")


def test_a_dose_per_kg_is_summed_before_it_is_rounded(screening) -> None:
    # 10 mg/d / 70 kg is 0.142857... mg/kg/d: 42 days of it are exactly 6 mg/kg
    result = decided(screening, prednisone("2026-01-01", "2026-02-11"))
    assert_trail_agrees(screening.network, result, {"I2": "MET"})
    assert "cumulative dose up to screening 2026-03-10: 6 mg/kg (prednisone 42 days x " \
        "0.142857 mg/kg/d)" in judged(screening.network, result, "I2")["detail"]


def test_none_recorded_is_zero_and_nothing_recorded_unknown(screening) -> None:
    none = decided(screening, none=True)
    assert_trail_agrees(screening.network, none, {"I1": "NOT_MET", "E1": "NOT_MET"})
    assert "cumulative dose up to screening 2026-03-10: 0 mg; glucocorticoid: recorded as none" \
        in judged(screening.network, none, "I1")["detail"]
    nothing = decided(screening)
    assert_trail_agrees(screening.network, nothing, {"I1": "UNKNOWN", "E1": "UNKNOWN"})
    assert judged(screening.network, nothing, "I1")["detail"] == "glucocorticoid: no fact given"


@pytest.mark.parametrize("course, verdict, days", [
    # the window: 2025-04-01 to 2026-04-01, screening 2026-03-10 inside it; more than 5000 mg
    (prednisone("2025-03-01", "2025-05-21", 100), "MET", "51 days x 100 mg/d"),
    (prednisone("2025-03-01", "2025-05-20", 100), "NOT_MET", "50 days x 100 mg/d"),  # 5 g
    (prednisone("2025-02-01", "2025-03-31", 1000), "NOT_MET", None),  # ends before the window
])
def test_a_cumulative_dose_within_a_window(screening, course, verdict, days) -> None:
    result = decided(screening, course)
    assert_trail_agrees(screening.network, result, {"E1": verdict})
    detail = judged(screening.network, result, "E1")["detail"]
    assert detail.startswith("cumulative dose from 2025-04-01 to 2026-04-01 (12 months before "
                             "first_dose 2026-04-01; the days after screening 2026-03-10 as "
                             "recorded then, courses going on going on): ")
    assert (f"(prednisone {days})" in detail) if days else "0 mg; " in detail


def test_a_window_without_its_anchor_day_is_unknown(screening) -> None:
    facts = [{"concept": "glucocorticoid", **prednisone("2026-01-01", "2026-02-11")}]
    result = screen_one(screening, facts, day=SCREENING)
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result, {"I1": "MET", "E1": "UNKNOWN"})
    assert judged(screening.network, result, "E1")["detail"].endswith(
        "; first_dose: no fact given")


CONCEPTS = ("    first_dose: date\n    gc: medication {prednisone} dosed in mg/d\n"
            "    anthracycline: medication {doxorubicin} dosed in mg/m2\n"
            "    undosed: medication {prednisone}\n    crp: quantity in mg/L\n")


@pytest.mark.parametrize("text, said", [
    ("gc cumulative dose > 5 mg/d", "8:40 gc's cumulative dose is in mg; 5 mg/d is a dose per "
     "time"),
    ("gc cumulative dose > 5", "8:40 gc needs a unit, e.g. 5 mg"),
    ("anthracycline cumulative dose > 360 mg/m2", "8:19 anthracycline is dosed in mg/m2, not per "
     "day: a cumulative dose sums a daily dose over the days it was taken (declare it 'dosed in "
     "mg/m2/d'; an administration is a course of one day)"),
    ("gc cumulative dose > 5 g within 3 days after screening", "8:44 a cumulative dose is summed "
     "up to the screening date, or 'within D before A' (A the screening date or a date "
     "concept), not 'within 3 days after screening'"),
    ("gc cumulative dose > 5 g at least 3 days before first_dose", "8:44 a cumulative dose is "
     "summed up to the screening date, or 'within D before A' (A the screening date or a date "
     "concept), not 'at least 3 days before first_dose'"),
    ("undosed cumulative dose > 5 g", "8:19 'undosed' is a medication without a dose unit: "
     "declare it 'dosed in UNIT' to compare doses"),
    ("crp cumulative dose > 5 g", "8:19 'crp' is a quantity: only a medication's courses have "
     "doses to sum or average over days"),
])
def test_what_a_cumulative_dose_cannot_say(text, said) -> None:
    assert said in checked(CONCEPTS, text)


def test_a_changed_cumulative_dose_is_a_changed_threshold() -> None:
    old = parse(PROTOCOL, "c.proto-rules")
    new = parse(PROTOCOL.replace("cumulative dose >= 420", "cumulative dose >= 400"),
                "c.proto-rules")
    (entry,) = diff(old, new).entries
    assert [(c.kind, c.old, c.new) for c in entry.changes] == [
        ("threshold", "glucocorticoid cumulative dose >= 420 mg",
         "glucocorticoid cumulative dose >= 400 mg")]


def test_boundary_cases(capsys, tmp_path) -> None:
    base = {"patient": "b", "screening_date": SCREENING, "facts": [
        {"concept": "first_dose", "value": "2026-04-01"},
        {"concept": "weight", "value": 70, "unit": "kg", "date": "2026-03-01"},
        {"concept": "glucocorticoid", **prednisone("2026-01-01", "2026-02-11")},
        {"concept": "glucocorticoid_per_kg", **prednisone("2026-01-01", "2026-02-11")}]}
    cases, said = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    assert "27 boundary cases from b" in said
    for name in ("10 days of 42 mg/d: glucocorticoid cumulative dose >= 420 mg",
                 "9 days of 42 mg/d: glucocorticoid cumulative dose >= 420 mg",
                 "500 mg/d ending 2025-03-31: glucocorticoid cumulative dose > 5 g within 12 "
                 "months before first_dose",
                 "10 days of 0.6 mg/kg/d: glucocorticoid_per_kg cumulative dose >= 6 mg/kg",
                 "10 days of prednisone 42 mg/d through the weight: glucocorticoid_per_kg "
                 "cumulative dose >= 6 mg/kg",
                 "42 mg/d from 2026-03 (known to the month) to 2026-03-10: glucocorticoid "
                 "cumulative dose >= 420 mg"):
        assert f'  - name: "{name}"' in cases


@pytest.fixture(scope="module")
def summed() -> Screening:
    return Screening(network_from_text(
        'protocol "c" version "1"\nconcepts:\n    gc: medication {prednisone} dosed in mg/d\n'
        + "".join(f'inclusion I{i} "x": gc cumulative dose >= {t} mg\n'
                  for i, t in enumerate((100, 500, 1000, 2500), 1))))


def exact_courses(courses, day: date) -> tuple[list[dict], list[tuple[date, date, Any]]]:
    """Courses of `gc` of exact dates, each `ago` days before `day` and lasting `days` more, as
    facts and as (start, end, dose); a course given twice once (twice is an input error)."""
    facts, spans = [], []
    for ago, days, dose in dict.fromkeys(courses):
        start = day - timedelta(days=ago)
        end = start + timedelta(days=days)
        fact = {"concept": "gc", "drug": "prednisone", "date": start.isoformat(),
                "end": end.isoformat()}
        if dose is not None:
            fact.update(dose=float(dose), unit="mg/d")
        facts.append(fact)
        spans.append((start, end, dose))
    return facts, spans


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 60),
                          st.sampled_from([None, Decimal("2.5"), Decimal(5), Decimal(20)])),
                min_size=1, max_size=4))
def test_the_sum_against_plain_arithmetic(summed, courses) -> None:
    """Courses of exact dates (`ago` days before screening, lasting `days` more, cut at
    screening) against the sum worked out here: decided where the doses are all known, and
    where a course without a dose cannot lower it below the threshold."""
    day = date.fromisoformat(SCREENING)
    facts, spans = exact_courses(courses, day)
    total, unbounded = Decimal(0), False
    for start, end, dose in spans:
        taken = (min(end, day) - start).days + 1
        if dose is None:
            unbounded = True
        else:
            total += dose * taken
    result = screen_one(summed, facts, day=SCREENING)
    assert isinstance(result, Decision)
    expected = {f"I{i}": "MET" if total >= t else "UNKNOWN" if unbounded else "NOT_MET"
                for i, t in enumerate((100, 500, 1000, 2500), 1)}
    assert_trail_agrees(summed.network, result, expected)


COURSE = st.tuples(
    st.sampled_from(["2025-03-20", "2025-04", "2025-12-15", "2026-01", "2026-02-28"]),
    st.sampled_from([None, "ongoing", "2025-05-20", "2026-02", "2026-03-09", "2026-03"]),
    st.sampled_from([None, Decimal("7.5"), Decimal(10), Decimal(500)]),
    st.sampled_from(["prednisone", "methylprednisolone"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(COURSE, max_size=3, unique=True), st.booleans(), st.booleans())
def test_the_network_and_the_trail_agree_on_any_courses(screening, courses, weighed,
                                                        first_dose) -> None:
    """Courses known to the day or the month, going on or without an end, with or without a
    dose, a weight or an anchor day: every criterion's verdict is the trail's."""
    facts: list[dict] = [{"concept": "first_dose", "value": "2026-04-01"}] if first_dose else []
    if weighed:
        facts.append({"concept": "weight", "value": 70, "unit": "kg", "date": "2026-03-01"})
    for start, end, dose, drug in courses:
        course = {"drug": drug, "date": start}
        if end == "ongoing":
            course["ongoing"] = True
        elif end is not None and end >= start:
            course["end"] = end
        if dose is not None:
            course.update(dose=float(dose), unit="mg/d")
        facts += [{"concept": name, **course}
                  for name in ("glucocorticoid", "glucocorticoid_per_kg")]
    result = screen_one(screening, facts, day=SCREENING)
    if not isinstance(result, Decision):  # two courses the same but for an end before start
        return
    assert_trail_agrees(screening.network, result,
                        {c: v.verdict for c, v in result.verdicts.items()})


def test_an_equivalent_that_is_no_exact_decimal_is_summed_exactly() -> None:
    """Dexamethasone 750 ug = 5 mg of prednisone is a ratio of 20/3, no exact decimal: the sum
    keeps it a fraction, so 0.75 mg/d for 84 days is exactly 420 mg (0.75 x 20/3 = 5 mg/d)."""
    text = ('protocol "c" version "1"\nconcepts:\n'
            '    gc: medication {prednisone, dexamethasone} dosed in mg/d as pe\n'
            'equivalence pe "x":\n    prednisone 5 mg = 5 mg\n    dexamethasone 750 ug = 5 mg\n'
            'inclusion I1 "x": gc cumulative dose >= 420 mg\n')
    screening = Screening(network_from_text(text))
    course = {"concept": "gc", "drug": "dexamethasone", "dose": 0.75, "unit": "mg/d",
              "date": "2025-12-01", "end": "2026-02-22"}  # 84 days
    result = screen_one(screening, [course], day=SCREENING)
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result, {"I1": "MET"})
    assert "420 mg (dexamethasone 84 days x 5 mg/d)" in \
        judged(screening.network, result, "I1")["detail"]


def test_a_window_after_screening_reads_the_courses_as_recorded_then(screening) -> None:
    """12 months before a first dose 13 months after screening: the window's days are read as
    the record has them, as `dose at` and `dose stable` read them: a course going on at
    screening goes on (30 mg/d for 366 days, over 5 g), one that ended counts nothing (a helper
    on TULIP-2 found every patient UNKNOWN here while the stable dose was MET)."""
    result = decided(screening, prednisone("2026-01-01", None, 30), first_dose="2027-04-01")
    assert_trail_agrees(screening.network, result, {"E1": "MET", "I1": "MET"})
    assert judged(screening.network, result, "E1")["detail"].startswith(
        "cumulative dose from 2026-04-01 to 2027-04-01 (12 months before first_dose 2027-04-01; "
        "the days after screening 2026-03-10 as recorded then, courses going on going on): "
        "10980 mg (prednisone 366 days x 30 mg/d)")
    ended = decided(screening, prednisone("2026-01-01", "2026-03-10", 30),
                    first_dose="2027-04-01")
    assert_trail_agrees(screening.network, ended, {"E1": "NOT_MET"})
