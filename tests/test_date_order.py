"""A date concept's day against a window: the order of two recorded days ("signed informed
consent prior to any study specific procedures", DAPA-CKD I1) and a day within a span of
another ("randomised within 14 days after consent").

`before` and `after` are strict and a day is the finest a date is recorded to, so two events of
one day are in no known order (UNKNOWN); `on or before` counts that day. Every window a history
takes applies to a date's one day, in the network, as a comparison of two record fields.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Decision, Screening
from tests.conftest import (assert_trail_agrees, boundary_cases, checked, judged,
                            network_from_text, screen_one)

PROTOCOL = """protocol "d" version "1"
concepts:
    informed_consent: date "signed informed consent"
    first_study_procedure: date
    randomisation: date
    adjuvant: medication {capecitabine, oxaliplatin}
inclusion I1 "Signed informed consent prior to any study specific procedures":
    informed_consent before first_study_procedure
inclusion I2 "Consent on or before the first procedure":
    informed_consent on or before first_study_procedure
inclusion I3 "Randomised within 14 days after consent":
    randomisation within 14 days after informed_consent
inclusion I4 "Consent within 28 days before screening":
    informed_consent within 28 days before screening
inclusion I5 "Randomised at least 30 days after the end of adjuvant therapy":
    randomisation at least 30 days after the end of adjuvant
inclusion I6 "Randomised after screening": randomisation after screening
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL))


def decided(screening: Screening, screened: str = "2026-03-10", **days: str) -> Decision:
    facts = [{"concept": name, "value": day} for name, day in days.items() if name != "adjuvant"]
    if "adjuvant" in days:
        start, end = days["adjuvant"].split("/")
        facts.append({"concept": "adjuvant", "drug": "capecitabine", "date": start, "end": end})
    result = screen_one(screening, facts, day=screened)
    assert isinstance(result, Decision)
    return result


@pytest.mark.parametrize("consent, procedure, strictly, or_on", [
    ("2026-03-01", "2026-03-02", "MET", "MET"),
    ("2026-03-02", "2026-03-02", "UNKNOWN", "MET"),  # one day: the order within it not recorded
    ("2026-03-03", "2026-03-02", "NOT_MET", "NOT_MET"),
    ("2026-03-03", None, "UNKNOWN", "UNKNOWN"),
    (None, "2026-03-02", "UNKNOWN", "UNKNOWN"),
])
def test_the_order_of_two_dates(screening, consent, procedure, strictly, or_on) -> None:
    days = {k: v for k, v in (("informed_consent", consent),
                              ("first_study_procedure", procedure)) if v}
    result = decided(screening, **days)
    assert_trail_agrees(screening.network, result, {"I1": strictly, "I2": or_on})


def test_the_trail_says_each_day_and_why_one_day_is_open(screening) -> None:
    network = screening.network
    same = decided(screening, informed_consent="2026-03-02", first_study_procedure="2026-03-02")
    assert judged(network, same, "I1")["detail"] == (
        "informed_consent 2026-03-02; needs before first_study_procedure 2026-03-02: the same "
        "day, whose order is not recorded")
    assert judged(network, same, "I2")["detail"] == (
        "informed_consent 2026-03-02; needs on or before first_study_procedure 2026-03-02")
    missing = decided(screening, informed_consent="2026-03-02")
    assert judged(network, missing, "I1")["detail"] == \
        "informed_consent 2026-03-02; first_study_procedure: no fact given"
    assert judged(network, decided(screening), "I1")["detail"] == \
        "informed_consent: no fact given"
    later = decided(screening, informed_consent="2026-03-01", randomisation="2026-03-16")
    assert judged(network, later, "I3")["detail"] == (
        "randomisation 2026-03-16 (window from 2026-03-01 to 2026-03-15; informed_consent "
        "2026-03-01)")


@pytest.mark.parametrize("randomised, verdict", [
    ("2026-03-01", "MET"), ("2026-03-15", "MET"), ("2026-03-16", "NOT_MET"),
    ("2026-02-28", "NOT_MET")])
def test_a_date_within_days_after_another(screening, randomised, verdict) -> None:
    result = decided(screening, informed_consent="2026-03-01", randomisation=randomised)
    assert_trail_agrees(screening.network, result, {"I3": verdict})


@pytest.mark.parametrize("consent, verdict", [
    ("2026-02-10", "MET"), ("2026-02-09", "NOT_MET"), ("2026-03-10", "MET"),
    ("2026-03-11", "NOT_MET")])  # a date concept after the screening date is not set aside
def test_a_date_in_a_window_ending_on_the_screening_date(screening, consent, verdict) -> None:
    result = decided(screening, informed_consent=consent)
    assert_trail_agrees(screening.network, result, {"I4": verdict})


@pytest.mark.parametrize("randomised, verdict", [
    ("2026-03-10", "UNKNOWN"), ("2026-03-11", "MET"), ("2026-03-09", "NOT_MET")])
def test_after_the_screening_date(screening, randomised, verdict) -> None:
    result = decided(screening, randomisation=randomised)
    assert_trail_agrees(screening.network, result, {"I6": verdict})


@pytest.mark.parametrize("adjuvant, randomised, verdict", [
    ("2025-10-01/2026-01-20", "2026-02-19", "MET"),  # 2026-01-20 + 30 days
    ("2025-10-01/2026-01-20", "2026-02-18", "NOT_MET"),
    # an end known to the month: a day from Feb 1 to Feb 28, the bound from Mar 3 to Mar 30
    ("2025-10-01/2026-02", "2026-03-30", "MET"),
    ("2025-10-01/2026-02", "2026-03-17", "UNKNOWN"),
    ("2025-10-01/2026-02", "2026-03-02", "NOT_MET"),
])
def test_a_date_counted_from_the_end_of_a_history(screening, adjuvant, randomised,
                                                  verdict) -> None:
    result = decided(screening, "2026-04-10", randomisation=randomised, adjuvant=adjuvant)
    assert_trail_agrees(screening.network, result, {"I5": verdict})


def test_a_date_counted_from_a_therapy_recorded_as_none(screening) -> None:
    """No course ends: the date can never be counted from its end, so false; but a date not
    recorded is UNKNOWN whatever its anchor, as a history with nothing recorded is."""
    facts = [{"concept": "randomisation", "value": "2026-03-01"},
             {"concept": "adjuvant", "present": False}]
    result = screen_one(screening, facts, day="2026-03-10")
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result, {"I5": "NOT_MET"})
    assert judged(screening.network, result, "I5")["detail"] == (
        "randomisation 2026-03-01; the end of adjuvant: none, adjuvant is recorded as none")
    undated = screen_one(screening, facts[1:], day="2026-03-10")
    assert isinstance(undated, Decision)
    assert_trail_agrees(screening.network, undated, {"I5": "UNKNOWN"})
    assert judged(screening.network, undated, "I5")["detail"] == "randomisation: no fact given"


CONCEPTS = ("    consent: date\n    first_dose: date\n"
            "    chemo: medication {a, b} with half_life in h\n    gvhd: event graded\n")


@pytest.mark.parametrize("text, said", [
    ("consent ever", "7:27 'consent' is a date, one day: say where it falls, like 'consent "
     "before first_dose', 'consent on or after enrolment' or 'consent within 28 days before "
     "screening'"),
    ("consent with grade >= 2 within 3 days before first_dose",
     "7:19 'consent' is a date, one day: it has no grade (a history's items do)"),
    ("consent within 28 days or 5 half_life, whichever is shorter, before first_dose",
     "7:19 'consent' is a date, one day: it has no half_life of its own (a history's items do)"),
    ("chemo before first_dose",
     "7:25 'chemo before first_dose' orders two days, as a date concept's day is ordered with "
     "another; 'chemo' is a medication, whose items span days: write 'at least 1 day before "
     "first_dose' (one started on an earlier day) or 'within N days before first_dose'"),
    ("no known gvhd on or after screening",
     "7:33 'gvhd on or after screening' orders two days, as a date concept's day is ordered "
     "with another; 'gvhd' is an event, whose items span days: write 'at least 1 day after "
     "screening' (one started on a later day) or 'within N days after screening'"),
    # from a history, the edge it counts from (DESTINY-Breast03's helper was offered a window
    # from the history itself, which check then refused)
    ("gvhd after chemo",
     "7:24 'gvhd after chemo' orders two days, as a date concept's day is ordered with another; "
     "'gvhd' is an event, whose items span days: write 'at least 1 day after the end of chemo' "
     "(one started on a later day) or 'within N days after the end of chemo'"),
    ("at least 2 consent before first_dose",
     "7:30 'consent' is a date: only an event's occurrences or a medication's courses are "
     "counted"),
    ("consent before dose_day", "7:34 unknown name 'dose_day'"),
])
def test_what_a_date_cannot_say(text, said) -> None:
    assert said in checked(CONCEPTS, text)


def test_a_date_before_another_checks_clean() -> None:
    assert checked(CONCEPTS, "consent before first_dose and consent on or after screening "
                   "and first_dose within 2 weeks after consent") == []


#: Windows a date may be in, written as the protocol writes them, and how each reads on days
#: (the date's, the anchor's): independent of the network, with dateutil's calendar.
WINDOWS = {
    "before first_dose": lambda d, a: d < a or ("same" if d == a else False),
    "on or before first_dose": lambda d, a: d <= a,
    "after first_dose": lambda d, a: d > a or ("same" if d == a else False),
    "on or after first_dose": lambda d, a: d >= a,
    "at first_dose": lambda d, a: d == a,
    "within 1 month before first_dose": lambda d, a: a - relativedelta(months=1) <= d <= a,
    "less than 2 weeks after first_dose": lambda d, a: a <= d < a + timedelta(days=14),
    "at least 3 months before first_dose": lambda d, a: d <= a - relativedelta(months=3),
    "more than 10 days after first_dose": lambda d, a: d > a + timedelta(days=10),
}


@pytest.fixture(scope="module")
def every_window() -> Screening:
    criteria = "".join(f'inclusion I{i} "x": consent {window}\n'
                       for i, window in enumerate(WINDOWS, 1))
    return Screening(network_from_text('protocol "d" version "1"\nconcepts:\n'
                                       '    consent: date\n    first_dose: date\n' + criteria))


@settings(max_examples=60, deadline=None)
@given(anchor=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
       offset=st.integers(-120, 120))
def test_every_window_against_the_calendar(every_window, anchor, offset) -> None:
    day = anchor + timedelta(days=offset)
    facts = [{"concept": "consent", "value": day.isoformat()},
             {"concept": "first_dose", "value": anchor.isoformat()}]
    result = screen_one(every_window, facts, day="2026-06-30")
    assert isinstance(result, Decision)
    expected = {}
    for i, holds in enumerate(WINDOWS.values(), 1):
        said = holds(day, anchor)
        expected[f"I{i}"] = "UNKNOWN" if said == "same" else "MET" if said else "NOT_MET"
    assert_trail_agrees(every_window.network, result, expected)


def _days(written: str) -> list[date]:
    """Every day a date as written may be: one, or its month's."""
    if len(written) == 10:
        return [date.fromisoformat(written)]
    first = date.fromisoformat(written + "-01")
    return [first + timedelta(days=n) for n in range((first + relativedelta(months=1) - first).days)]


#: A date as a record may give it: a day, or its month (the day's own or a neighbour's).
DAY_OR_MONTH = st.tuples(st.dates(date(2025, 1, 1), date(2027, 12, 31)),
                         st.sampled_from(["day", "month"])).map(
    lambda d: d[0].isoformat() if d[1] == "day" else f"{d[0]:%Y-%m}")


@settings(max_examples=80, deadline=None)
@given(anchor=DAY_OR_MONTH, offset=st.integers(-120, 120), month=st.booleans())
def test_every_window_with_dates_known_to_the_month(every_window, anchor, offset,
                                                    month) -> None:
    """A date given to the month (a diagnosis "2024-02"), the date's or the anchor's or both,
    is decided wherever every day it may be gives one answer, and UNKNOWN between: the same
    calendar as above, over every pair of days."""
    day = _days(anchor)[0] + timedelta(days=offset)
    written = f"{day:%Y-%m}" if month else day.isoformat()
    facts = [{"concept": "consent", "value": written},
             {"concept": "first_dose", "value": anchor}]
    result = screen_one(every_window, facts, day="2026-06-30")
    assert isinstance(result, Decision)
    expected = {}
    for i, holds in enumerate(WINDOWS.values(), 1):
        said = {holds(d, a) for d in _days(written) for a in _days(anchor)}
        expected[f"I{i}"] = "MET" if said == {True} else "NOT_MET" if said == {False} \
            else "UNKNOWN"
    assert_trail_agrees(every_window.network, result, expected)


def test_a_date_known_to_the_month_in_the_trail(every_window) -> None:
    facts = [{"concept": "consent", "value": "2026-02"},
             {"concept": "first_dose", "value": "2026-03-01"}]
    result = screen_one(every_window, facts, day="2026-06-30")
    assert isinstance(result, Decision)
    assert judged(every_window.network, result, "I1")["detail"] == (
        "consent 2026-02 (2026-02-01 to 2026-02-28); needs before first_dose 2026-03-01")
    facts[1]["value"] = "2026"
    result = screen_one(every_window, facts, day="2026-06-30")
    assert isinstance(result, Decision)
    assert judged(every_window.network, result, "I1")["detail"] == (
        "consent 2026-02 (2026-02-01 to 2026-02-28); needs before first_dose 2026 (2026-01-01 "
        "to 2026-12-31)")


MONTH_ANCHORED = """protocol "m" version "1"
concepts:
    age: age at enrolment
    enrolment: date
    sle_diagnosis: date "SLE diagnosis"
    anticancer: event
    prednisone: medication {prednisone} dosed in mg/d
    creatinine: lab in mg/dL
    creatinine_at_enrolment: creatinine at enrolment
inclusion I1 "No anticancer therapy within 3 months before the diagnosis":
    not anticancer within 3 months before sle_diagnosis
inclusion I2 "Prednisone <= 10 mg/day at enrolment": prednisone dose at enrolment <= 10 mg/d
inclusion I3 "Aged 18 or over at enrolment": age >= 18 years
inclusion I4 "Creatinine < 1.5 mg/dL at enrolment": creatinine_at_enrolment < 1.5 mg/dL
"""


@pytest.mark.parametrize("anticancer, verdict", [
    ("2025-06-20", "MET"),  # before March 1, the earliest the window may open (Dec 1 - 3 months)
    ("2025-09-15", "UNKNOWN"),  # within 3 months before some days of December, not others
    ("2025-10-01", "NOT_MET"),  # within 3 months before every day of December
])
def test_a_history_within_a_window_before_a_date_known_to_the_month(anticancer,
                                                                   verdict) -> None:
    screening = Screening(network_from_text(MONTH_ANCHORED))
    facts = [{"concept": "sle_diagnosis", "value": "2025-12"},
             {"concept": "anticancer", "date": anticancer, "end": anticancer}]
    result = screen_one(screening, facts, day="2026-06-30")
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result, {"I1": verdict})


def test_what_needs_the_day_itself_says_it_is_known_only_to_the_month() -> None:
    """A dose on the day and a value as of it need the day: UNKNOWN, saying the date is known
    only to the month (never a day of it picked). An age at it is the youngest and oldest its
    days allow: born 2000-05-15, 25 or 26 in May 2026, so 18 or over; born 2008-05-15, 17 or
    18, so UNKNOWN."""
    screening = Screening(network_from_text(MONTH_ANCHORED))
    facts = [{"concept": "enrolment", "value": "2026-05"},
             {"concept": "prednisone", "drug": "prednisone", "dose": 5, "unit": "mg/d",
              "date": "2026-01-01", "ongoing": True},
             {"concept": "creatinine", "value": 1.0, "unit": "mg/dL", "date": "2026-04-02"}]
    result = screen_one(screening, facts, day="2026-06-30", birth_date="2000-05-15")
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result,
                        {"I2": "UNKNOWN", "I3": "MET", "I4": "UNKNOWN"})
    details = {c: judged(screening.network, result, c)["detail"] for c in ("I2", "I3", "I4")}
    assert details == {
        "I2": "prednisone: prednisone 5 mg/d = 5 mg/d (2026-01-01; ongoing, 5 completed "
              "months); enrolment: known only to the month (2026-05)",
        "I3": "age 25 or 26 years (completed years at 2026-05, born 2000-05-15); needs >= 18 "
              "years",
        "I4": "creatinine_at_enrolment: no usable enrolment to read it at (known only to the "
              "month (2026-05))",
    }
    result = screen_one(screening, facts, day="2026-06-30", birth_date="2008-05-15")
    assert_trail_agrees(screening.network, result, {"I3": "UNKNOWN"})


@pytest.mark.parametrize("value", ["2026-13", "2026-1", "26-01", "May 2026", 2026])
def test_a_date_that_is_not_one_is_refused(value) -> None:
    screening = Screening(network_from_text(MONTH_ANCHORED))
    result = screen_one(screening, [{"concept": "sle_diagnosis", "value": value}])
    assert not isinstance(result, Decision)
    (problem,) = result.problems
    assert problem.field == "value"
    assert str(problem).endswith(
        f"sle_diagnosis is a date: expected YYYY-MM-DD (or YYYY-MM, YYYY), found "
        f"{value!r}".replace("'", '"') if not isinstance(value, int) else
        f"sle_diagnosis is a date: expected YYYY-MM-DD (or YYYY-MM, YYYY), found {value}")


def test_boundary_cases_at_every_edge(capsys, tmp_path) -> None:
    """`edge-cases` moves the date onto each edge and a day to either side; the network passes
    every case (`boundary_cases` runs them), also from a history's end (with the history going
    on, and recorded as none) and during one, and a month counted back from March 31 is
    February 28."""
    text = PROTOCOL + ('inclusion I7 "Consent a month or more before the first procedure":\n'
                       '    informed_consent at least 1 month before first_study_procedure\n'
                       'inclusion I8 "Randomised during or within 1 month after adjuvant":\n'
                       '    randomisation during or within 1 month after adjuvant\n')
    base = {"patient": "b", "screening_date": "2026-04-10", "facts": [
        {"concept": "informed_consent", "value": "2026-02-01"},
        {"concept": "first_study_procedure", "value": "2026-03-31"},
        {"concept": "randomisation", "value": "2026-02-05"},
        {"concept": "adjuvant", "drug": "capecitabine", "date": "2025-10-01", "end": "2025-12-20"}]}
    cases, said = boundary_cases(capsys, tmp_path, text, base)
    assert "51 boundary cases from b\n" in said
    for name, description in [
        ("informed_consent 2026-03-31: on first_study_procedure 2026-03-31, informed_consent "
         "before first_study_procedure", "2026-03-31 is first_study_procedure's own day: the "
         "order within a day is not recorded: unknown"),
        ("informed_consent 2026-03-01: the day after 2026-02-28 (1 month before "
         "first_study_procedure 2026-03-31), informed_consent at least 1 month before "
         "first_study_procedure", "2026-03-01 is not at least 1 month before "
         "first_study_procedure (on or before 2026-02-28; dateutil's calendar): false"),
        ("informed_consent 2026-04-11: the day after screening 2026-04-10, informed_consent "
         "within 28 days before screening", "2026-04-11 is not within 28 days before "
         "screening (2026-03-13 to 2026-04-10; dateutil's calendar): false"),
        ("randomisation 2026-01-19: on 2026-01-19 (30 days after the end of adjuvant "
         "2025-12-20), randomisation at least 30 days after the end of adjuvant", "2026-01-19 "
         "is at least 30 days after the end of adjuvant (on or after 2026-01-19; dateutil's "
         "calendar): true"),
        ("informed_consent 2026-02: known only to the month, the month of 2026-02-28 (1 month "
         "before first_study_procedure 2026-03-31), informed_consent at least 1 month before "
         "first_study_procedure", "2026-02-01 to 2026-02-28: every day of it is at least 1 month "
         "before first_study_procedure (on or before 2026-02-28; dateutil's calendar): true"),
        ("randomisation 2026-04: known only to the month, the month of screening 2026-04-10, "
         "randomisation after screening", "2026-04-01 to 2026-04-30: some of its days are "
         "after screening (2026-04-10), others not: unknown"),
        ("adjuvant still going on, randomisation 2025-12-20: randomisation at least 30 days "
         "after the end of adjuvant", "adjuvant has no end yet: no anchor day: unknown"),
        ("no adjuvant (recorded as none), randomisation 2025-12-20: randomisation at least 30 "
         "days after the end of adjuvant", "adjuvant is recorded as none: the anchor can never "
         "exist: false"),
        ("randomisation 2026-01-21: randomisation during or within 1 month after adjuvant",
         "the most recent adjuvant from 2025-10-01, the window to 2026-01-20: 2026-01-21 is "
         "outside: false"),
    ]:
        assert f'  - name: "{name}"\n    description: "{description}"\n' in cases


DAYS = st.one_of(st.none(), st.dates(date(2025, 12, 1), date(2026, 4, 30)))


@settings(max_examples=60, deadline=None)
@given(consent=DAYS, procedure=DAYS, randomised=DAYS,
       adjuvant=st.sampled_from([None, "none", "2026-01-20", "2026-01", "ongoing"]))
def test_the_network_and_the_trail_agree_on_any_record(screening, consent, procedure,
                                                       randomised, adjuvant) -> None:
    """Any of the dates missing, the anchor's history missing, recorded as none, ended on a
    day, known only to the month or going on: every criterion's verdict is the trail's."""
    facts = [{"concept": name, "value": day.isoformat()} for name, day in (
        ("informed_consent", consent), ("first_study_procedure", procedure),
        ("randomisation", randomised)) if day is not None]
    if adjuvant == "none":
        facts.append({"concept": "adjuvant", "present": False})
    elif adjuvant == "ongoing":
        facts.append({"concept": "adjuvant", "drug": "capecitabine", "date": "2025-10-01",
                      "ongoing": True})
    elif adjuvant is not None:
        facts.append({"concept": "adjuvant", "drug": "capecitabine", "date": "2025-10-01",
                      "end": adjuvant})
    result = screen_one(screening, facts, day=SCREENING_DAY)
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result,
                        {c: v.verdict for c, v in result.verdicts.items()})


SCREENING_DAY = "2026-03-10"
