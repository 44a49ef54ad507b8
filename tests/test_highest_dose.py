"""The highest daily dose of a window: `glucocorticoid highest daily dose > 10 mg/d within 14
days before first_dose` ("systemic steroids of more than 10 mg a day of prednisone or equivalent
within 14 days before the first dose"): on each day of the window, the daily doses of the courses
taken that day summed (through the equivalence table), the most of any day compared.

The window is the one every `within D before A` means (from A - D to A, both days counted), cut
at screening; a course known only to the month, going on, or without a dose gives bounds,
decided where every possible day's total agrees.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.amend.diff import diff
from tests.conftest import (assert_trail_agrees, boundary_cases, checked, judged,
                            network_from_text, screen_one)
from tests.test_average_dose import CONCEPTS, assert_courses_agree
from tests.test_cumulative_dose import DECLARED, exact_courses
from tests.test_cumulative_dose import decided as summed_up
from tests.test_cumulative_dose import prednisone

PROTOCOL = 'protocol "h" version "1"\n' + DECLARED + """exclusion E1 "Systemic steroids > 10 mg/day prednisone or equivalent within 14 days before"
    " the first dose": glucocorticoid highest daily dose > 10 mg/d within 14 days before first_dose
inclusion I1 "At least 0.2 mg/kg on some day of the 4 weeks before screening":
    glucocorticoid_per_kg maximum dose >= 0.2 mg/kg/d within 4 weeks before screening
"""
SCREENING = "2026-03-10"  # first dose 2026-03-08: the window 2026-02-22 to 2026-03-08


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL))


def decided(screening: Screening, *courses: dict, **given) -> Decision:
    return summed_up(screening, *courses, first_dose="2026-03-08", **given)


WINDOW = "from 2026-02-22 to 2026-03-08 (14 days before first_dose 2026-03-08)"
METHYLPREDNISOLONE = {"drug": "methylprednisolone", "dose": 8, "unit": "mg/d",
                      "date": "2026-03-01", "end": "2026-03-03"}  # 10 mg/d of prednisone


@pytest.mark.parametrize("courses, verdict, highest", [
    ([prednisone("2026-02-22", "2026-03-08", 10)], "NOT_MET", "10 mg/d"),  # at 10: not above
    ([prednisone("2026-02-22", "2026-03-08", 10.5)], "MET", "10.5 mg/d"),
    ([prednisone("2026-02-01", "2026-02-21", 40)], "NOT_MET", "0 mg/d"),  # ended the day before
    ([prednisone("2026-03-08", "2026-03-08", 20)], "MET", "20 mg/d"),  # on the anchor day
    # 5 a day going on, 10 a day of methylprednisolone's equivalent for three days: 15 those days
    ([prednisone("2026-02-01", None, 5), METHYLPREDNISOLONE], "MET", "15 mg/d"),
    # one after the other: never more than 10 on a day
    ([prednisone("2026-02-01", "2026-02-28", 5), METHYLPREDNISOLONE], "NOT_MET", "10 mg/d"),
    # started some day of February, ended on the 24th: in the window whichever day it was
    ([prednisone("2026-02", "2026-02-24", 20)], "MET", "20 mg/d"),
    # ended some day of February: before the window, or in it
    ([prednisone("2026-02-01", "2026-02", 20)], "UNKNOWN", "between 0 and 20 mg/d"),
    ([prednisone("2026-02-22", None, None)], "UNKNOWN", "at least 0 mg/d (a course has no dose)"),
])
def test_the_most_of_a_day(screening, courses, verdict, highest) -> None:
    result = decided(screening, *courses)
    assert_trail_agrees(screening.network, result, {"E1": verdict})
    detail = judged(screening.network, result, "E1")["detail"]
    assert detail.startswith(f"highest daily dose {WINDOW}: {highest}"), detail


def test_a_dose_per_kg_through_the_weight(screening) -> None:
    # 14 mg/d for 70 kg is 0.2 mg/kg/d exactly
    result = decided(screening, prednisone("2026-03-01", "2026-03-01", 14))
    assert_trail_agrees(screening.network, result, {"I1": "MET"})
    result = decided(screening, prednisone("2026-03-01", "2026-03-01", 13.9))
    assert_trail_agrees(screening.network, result, {"I1": "NOT_MET"})


def test_none_recorded_is_zero_and_nothing_recorded_or_no_anchor_unknown(screening) -> None:
    assert_trail_agrees(screening.network, decided(screening, none=True), {"E1": "NOT_MET"})
    assert_trail_agrees(screening.network, decided(screening), {"E1": "UNKNOWN"})
    result = summed_up(screening, prednisone("2026-03-01", None, 20), first_dose=None)
    assert_trail_agrees(screening.network, result, {"E1": "UNKNOWN", "I1": "MET"})


@pytest.mark.parametrize("text, said", [
    ("gc highest daily dose > 10 mg/d", "the highest daily dose is over the days of a span: "
     "write 'within D before A' after it (A the screening date or a date concept)"),
    ("gc highest daily dose > 10 mg within 14 days before screening", "gc is dosed in mg/d; "
     "10 mg is a mass"),
    ("anthracycline highest daily dose > 60 mg/m2 within 4 weeks before screening",
     "anthracycline is dosed in mg/m2, not per day: the highest daily dose is the daily doses of "
     "a day summed, the most of any day"),
    ("crp highest dose > 5 mg/d within 4 weeks before screening", "'crp' is a quantity: only a "
     "medication's courses have doses to sum or average over days"),
])
def test_what_a_highest_dose_cannot_say(text, said) -> None:
    assert any(line.endswith(said) or said in line for line in checked(CONCEPTS, text))


def test_a_changed_highest_dose_is_a_threshold_and_an_average_made_the_highest_is_rewritten():
    old = parse(PROTOCOL, "h.proto-rules")
    changed = parse(PROTOCOL.replace("highest daily dose > 10", "highest daily dose > 20"),
                    "h.proto-rules")
    assert [c.kind for c in diff(old, changed).entries[0].changes] == ["threshold"]
    averaged = parse(PROTOCOL.replace("highest daily dose > 10", "average daily dose > 10"),
                     "h.proto-rules")
    assert [c.kind for c in diff(old, averaged).entries[0].changes] == ["rewritten"]


def test_boundary_cases(capsys, tmp_path) -> None:
    base = {"patient": "b", "screening_date": SCREENING, "facts": [
        {"concept": "first_dose", "value": "2026-03-08"},
        {"concept": "weight", "value": 70, "unit": "kg", "date": "2026-03-01"},
        {"concept": "glucocorticoid", **prednisone("2026-01-01", None)},
        {"concept": "glucocorticoid_per_kg", **prednisone("2026-01-01", None)}]}
    cases, said = boundary_cases(capsys, tmp_path, PROTOCOL.replace(
        "highest daily dose > 10", "highest daily dose >= 10"), base)
    assert "26 boundary cases from b" in said, said
    for name in ("10 mg/d from 2026-02-22 to 2026-03-08: glucocorticoid highest daily dose >= 10 "
                 "mg/d within 14 days before first_dose",
                 "two courses of 5 mg/d, from 2026-02-22 and from 2026-02-21, to 2026-03-08: "
                 "glucocorticoid highest daily dose >= 10 mg/d within 14 days before first_dose",
                 "10 mg/d ending 2026-02-21: glucocorticoid highest daily dose >= 10 mg/d within "
                 "14 days before first_dose"):
        assert f'  - name: "{name}"' in cases


@pytest.fixture(scope="module")
def thresholds() -> Screening:
    return Screening(network_from_text(
        'protocol "a" version "1"\nconcepts:\n    gc: medication {prednisone} dosed in mg/d\n'
        + "".join(f'inclusion I{i} "x": gc highest daily dose >= {t} mg/d within 20 days before '
                  "screening\n" for i, t in enumerate((2.5, 5, 10, 25), 1))))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 30),
                          st.sampled_from([None, Fraction(5, 2), Fraction(5), Fraction(20)])),
                min_size=1, max_size=4))
def test_the_highest_against_plain_arithmetic(thresholds, courses) -> None:
    """Courses of exact dates (`ago` days before screening, lasting `days` more, cut at
    screening) against the most of a day of the 21, worked out here day by day: decided where
    the doses are all known, and where a course without a dose cannot keep it below."""
    day = date.fromisoformat(SCREENING)
    window = [day - timedelta(days=k) for k in range(21)]
    facts, spans = exact_courses(courses, day)
    most = max(sum((dose for start, end, dose in spans if dose is not None and start <= d <= end),
                   Fraction(0)) for d in window)
    unbounded = any(dose is None and start <= d <= end for start, end, dose in spans
                    for d in window)
    result = screen_one(thresholds, facts, day=SCREENING)
    assert isinstance(result, Decision)
    expected = {f"I{i}": "MET" if most >= Fraction(str(t)) else
                "UNKNOWN" if unbounded else "NOT_MET"
                for i, t in enumerate((2.5, 5, 10, 25), 1)}
    assert_trail_agrees(thresholds.network, result, expected)


COURSE = st.tuples(
    st.sampled_from(["2026-01-20", "2026-02", "2026-02-22", "2026-03-01", "2026-03-10"]),
    st.sampled_from([None, "2026-02-21", "2026-02", "2026-03-03", "2026-03"]),
    st.sampled_from([None, 5.0, 10.5, 40.0]),
    st.sampled_from(["prednisone", "methylprednisolone"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(COURSE, max_size=3, unique=True), st.booleans(),
       st.sampled_from([None, "2026-03-01", "2026-03-08", "2026-05-01"]))
def test_the_network_and_the_trail_agree_on_any_courses(screening, courses, weighed,
                                                        first_dose) -> None:
    """Courses known to the day or the month, going on, with or without a dose, a weight, an
    anchor day before, after or long after screening: every verdict is the trail's."""
    assert_courses_agree(screening, courses, weighed, first_dose)


SURELY_SOME_DAY = 'protocol "s" version "1"\n' + DECLARED + """exclusion E1 "x":
    glucocorticoid highest daily dose > 10 mg/d within 14 days before screening
exclusion E2 "y": glucocorticoid cumulative dose >= 20 mg within 14 days before screening
"""


@pytest.mark.parametrize("courses, verdicts", [
    # methylprednisolone began some day of March, up to screening: a day of the window, and
    # prednisone is taken on every such day: 20 mg/d that day
    ([prednisone("2026-01-01", None, 10),
      {"drug": "methylprednisolone", "date": "2026-03", "dose": 8, "unit": "mg/d"}],
     {"E1": "MET", "E2": "MET"}),
    # started some day of 2026, ended some day of March: taken on some day from March 1 to
    # screening, whichever those days were
    ([prednisone("2026", "2026-03", 20)], {"E1": "MET", "E2": "MET"}),
])
def test_a_course_surely_taken_on_some_day_counts_on_that_day(courses, verdicts) -> None:
    """Found by an independent oracle (every possible start and end day, day by day): a course
    whose days are not known, but that surely falls in the window, adds to the others surely
    taken on whichever day it may be."""
    screening = Screening(network_from_text(SURELY_SOME_DAY))
    result = summed_up(screening, *courses, first_dose=None)
    assert_trail_agrees(screening.network, result, verdicts)


def test_no_case_without_the_table_s_own_drug_nor_for_a_window_after_screening(capsys,
                                                                              tmp_path):
    """A case at "10 mg/d" of dexamethasone would be 66.67 mg/d of prednisone: with no drug of
    the list its own equivalent, the cases at the threshold are not made, saying why; nor are a
    sum's over a window that starts after screening (no day of it is recorded)."""
    text = """protocol "d" version "1"
concepts:
    first_dose: date
    dex: medication {dexamethasone, hydrocortisone} dosed in mg/d as pe
    gc: medication {prednisone} dosed in mg/d
equivalence pe:
    dexamethasone 0.75 mg = 5 mg
    hydrocortisone 20 mg = 5 mg
exclusion E1 "x": dex highest daily dose > 10 mg/d within 14 days before screening
exclusion E2 "y": gc cumulative dose > 100 mg within 7 days before first_dose
"""
    base = {"patient": "b", "screening_date": SCREENING, "facts": [
        {"concept": "first_dose", "value": "2026-03-31"},
        {"concept": "dex", "drug": "dexamethasone", "date": "2026-03-01", "ongoing": True,
         "dose": 1, "unit": "mg/d"},
        {"concept": "gc", **prednisone("2026-03-01", None)}]}
    cases, said = boundary_cases(capsys, tmp_path, text, base, tested=False)
    assert "no drug of the list is its own equivalent" in cases
    assert "the window starts 2026-03-24, after screening 2026-03-10" in cases


def _days_of(text: str) -> tuple[date, date]:
    """The first and last day a date written to the day or the month may be."""
    if len(text) == 10:
        return date.fromisoformat(text), date.fromisoformat(text)
    first = date.fromisoformat(f"{text}-01")
    return first, (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)


def _taken_on(course: dict, screening: date) -> set[tuple[date, date | None]]:
    """Every (first day, last day) a course may have had (None: going on past screening)."""
    begin, latest = _days_of(course["date"])
    out = set()
    for k in range((min(latest, screening) - begin).days + 1):
        start = begin + timedelta(days=k)
        if course.get("ongoing"):
            ends: list[date | None] = [None]
        elif "end" in course:
            low, high = _days_of(course["end"])
            ends = [low + timedelta(days=j) for j in range((high - low).days + 1)]
        else:  # no end recorded: it may still be going on
            ends = [start + timedelta(days=j) for j in range((screening - start).days + 1)]
            ends.append(None)
        out |= {(start, end) for end in ends if end is None or end >= start}
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["2026-02-20", "2026-02-26", "2026-03-04", "2026-02", "2026-03"]),
    st.sampled_from(["ongoing", "none", "2026-02-25", "2026-03-06", "2026-03"]),
    st.sampled_from([5, 10, 15])), min_size=1, max_size=3, unique=True))
def test_the_highest_against_every_day_each_course_may_have(thresholds_14, courses) -> None:
    """Courses known to the day or the month, going on or with no end recorded, against every
    first and last day each may have had, day by day: MET where the least possible highest
    passes, NOT_MET where even the most (each course on every day it may cover) fails, UNKNOWN
    only between: sound, and as precise as that."""
    screening = date.fromisoformat(SCREENING)
    first = screening - timedelta(days=14)
    window = [first + timedelta(days=k) for k in range(15)]
    facts = []
    for start, end, dose in courses:
        fact = {"concept": "gc", "drug": "prednisone", "date": start, "dose": dose, "unit": "mg/d"}
        if end == "ongoing":
            fact["ongoing"] = True
        elif end != "none":
            if _days_of(end)[1] < _days_of(start)[0]:
                continue
            fact["end"] = end
        facts.append(fact)
    spans = [{(max(s, first), min(e or screening, screening)) for s, e in _taken_on(f, screening)}
             for f in facts]

    def highest(chosen) -> int:
        return max(sum(f["dose"] for f, (a, b) in zip(facts, chosen) if a <= day <= b)
                   for day in window)
    least = min(highest(chosen) for chosen in product(*spans)) if facts else 0
    most = max(sum(f["dose"] for f, taken in zip(facts, spans)
                   if any(a <= day <= b for a, b in taken)) for day in window) if facts else 0
    result = screen_one(thresholds_14, facts or [{"concept": "gc", "present": False}],
                        day=SCREENING)
    if not isinstance(result, Decision):  # two courses alike: a duplicate
        return
    expected = {f"I{i}": "MET" if least >= t else "NOT_MET" if most < t else "UNKNOWN"
                for i, t in enumerate((5, 10, 15, 20, 30), 1)}
    assert_trail_agrees(thresholds_14.network, result, expected)


@pytest.fixture(scope="module")
def thresholds_14() -> Screening:
    return Screening(network_from_text(
        'protocol "a" version "1"\nconcepts:\n    gc: medication {prednisone} dosed in mg/d\n'
        + "".join(f'inclusion I{i} "x": gc highest daily dose >= {t} mg/d within 14 days before '
                  "screening\n" for i, t in enumerate((5, 10, 15, 20, 30), 1))))


WEEKLY = """protocol "w" version "1"
concepts:
  methotrexate: medication {methotrexate} dosed in mg/wk
  randomisation: date
exclusion E1 "Methotrexate > 25 mg/week within 8 weeks prior to randomization":
  methotrexate highest dose > 25 mg/wk within 8 weeks before randomisation
inclusion I1 "An average of 7.5 to 25 mg/week over the 12 weeks before screening":
  methotrexate average dose 7.5 to 25 mg/wk within 12 weeks before screening
"""


def weekly(dose: int, start: str, end: str | None) -> dict:
    fact = {"concept": "methotrexate", "drug": "methotrexate", "dose": dose, "unit": "mg/wk",
            "date": start}
    return {**fact, **({"end": end} if end else {"ongoing": True})}


@pytest.mark.parametrize("courses, e1, i1, words", [
    ([weekly(20, "2026-01-01", "2026-04-30"), weekly(30, "2026-05-01", None)], "MET", "MET",
     "highest dose from 2026-04-04 to 2026-05-30 (8 weeks before randomisation 2026-05-30): "
     "30 mg/wk"),
    ([weekly(15, "2026-01-01", None), weekly(10, "2026-04-01", "2026-04-20")], "NOT_MET", "MET",
     "highest dose from 2026-04-04 to 2026-05-30 (8 weeks before randomisation 2026-05-30): "
     "25 mg/wk"),
    ([weekly(30, "2026-01-01", "2026-03-31")], "NOT_MET", "MET", None),
    ([weekly(30, "2026-01-01", "2026-03-20")], "NOT_MET", "NOT_MET", None),
])
def test_a_weekly_dose_read_in_its_own_rate(courses, e1, i1, words) -> None:
    """"Methotrexate > 25 mg/week within 8 weeks" (TULIP-2): the highest of the weekly rates
    taken on a day of the window, two courses of one day summed (15 and 10 mg/wk: 25, not over);
    an average over the window's days in mg/wk too (30 mg/wk to 2026-03-31: 23 days of 85,
    8.117647 mg/wk, in the range; to 2026-03-20, 12 days: 4.235294 mg/wk, under it)."""
    network = network_from_text(WEEKLY, "w.proto-rules")
    screening = Screening(network)
    result = screen_one(screening, [{"concept": "randomisation", "value": "2026-05-30"},
                                    *courses], day="2026-06-01")
    assert isinstance(result, Decision)
    assert_trail_agrees(network, result, {"E1": e1})
    assert result.verdicts["I1"].verdict == i1
    if words:
        assert words in judged(network, result, "E1")["detail"]


def test_a_cumulative_dose_of_a_weekly_medication_says_what_to_declare() -> None:
    said = checked("  mtx: medication {methotrexate} dosed in mg/wk\n",
                   "mtx cumulative dose >= 1000 mg")
    assert said == ["4:19 mtx is dosed in mg/wk, not per day: a cumulative dose sums a daily dose "
                    "over the days it was taken (declare it 'dosed in mg/d', and give its doses "
                    "in any rate: 15 mg/wk is read as 2.142857 mg/d)"]
