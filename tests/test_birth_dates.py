"""A birth date known only to the month or the year (a registry's, an OMOP person's year of birth)
is any day of it: the age is the youngest and oldest those days allow, and a criterion on it is
decided wherever every such day gives one verdict, UNKNOWN between, in the network and in the
trail alike. So is an age counted at a date concept known only to the month."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dates import days_of
from engine.run import Decision, Rejected, Screening
from tests.conftest import assert_trail_agrees, judged, network_from_text, screen_one

PROTOCOL = """protocol "birth" version "1"
concepts:
  age: age
  diagnosis: date
  age_at_diagnosis: age at diagnosis
  creatinine: lab in mg/dL
  weight: quantity in kg
  crcl: derived in mL/min = (140 - age in years) x (weight in kg) / (72 x (creatinine in mg/dL))
inclusion I1 "Aged 18 years or older": age >= 18 years
inclusion I2 "Aged 75 years or younger": age <= 75 years
inclusion I3 "Diagnosed before the age of 40": age_at_diagnosis < 40 years
inclusion I4 "Creatinine clearance of at least 60 mL/min": crcl >= 60 mL/min
"""

SCREENING = "2026-06-15"


def facts(diagnosis: str = "2020-03-01") -> list[dict]:
    return [{"concept": "diagnosis", "value": diagnosis},
            {"concept": "creatinine", "value": 1, "unit": "mg/dL", "date": "2026-06-01"},
            {"concept": "weight", "value": 70, "unit": "kg", "date": "2026-06-01"}]


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "birth.proto-rules")


@pytest.fixture(scope="module")
def screening(network):
    return Screening(network)


def decide(screening, born: str, diagnosis: str = "2020-03-01", day: str = SCREENING):
    return screen_one(screening, facts(diagnosis), day=day, birth_date=born)


@pytest.mark.parametrize("born, diagnosis, verdicts", [
    # the month of the 18th birthday: 17 or 18 at screening
    ("2008-06", "2020-03", {"I1": "UNKNOWN", "I2": "MET", "I3": "MET", "I4": "MET"}),
    # the month before it: 18 whatever the day
    ("2008-05", "2020-03-01", {"I1": "MET", "I2": "MET", "I3": "MET"}),
    # the month after it: 17 whatever the day
    ("2008-07", "2020-03-01", {"I1": "NOT_MET"}),
    # a year alone: 65 or 66, and 38 or 39 at a diagnosis known to the year
    ("1960", "1999", {"I1": "MET", "I2": "MET", "I3": "MET", "I4": "MET"}),
    # 75 or 76 at screening, 39 or 40 at a diagnosis in 1990; CrCl 62.2 to 63.2 mL/min
    ("1950", "1990", {"I1": "MET", "I2": "UNKNOWN", "I3": "UNKNOWN", "I4": "MET"}),
    # a birth month that is the screening's own: age 0, born on or before screening
    ("2026-06", "2026-06-01", {"I1": "NOT_MET", "I3": "MET"}),
])
def test_an_age_is_decided_where_every_day_of_the_birth_date_agrees(network, screening, born,
                                                                    diagnosis, verdicts):
    outcome = decide(screening, born, diagnosis)
    assert isinstance(outcome, Decision), outcome
    assert_trail_agrees(network, outcome, verdicts)


def test_the_trail_says_both_ages_and_the_birth_date(network, screening):
    outcome = decide(screening, "1950", "1990")
    assert judged(network, outcome, "I2")["detail"] == (
        "age 75 or 76 years (completed years at screening, born 1950); needs <= 75 years (its "
        "bounds do not decide it)")
    assert judged(network, outcome, "I3")["detail"].startswith(
        "age_at_diagnosis 39 or 40 years (completed years at 1990, born 1950)")
    assert "(140 - (75 to 76))" in judged(network, outcome, "I4")["detail"]


def test_an_exact_birth_date_reads_as_before(network, screening):
    outcome = decide(screening, "2008-06-15")
    assert outcome.verdicts["I1"].verdict == "MET"
    assert judged(network, outcome, "I1")["detail"] == (
        "age 18 years (completed years at screening, born 2008-06-15); needs >= 18 years")


@pytest.mark.parametrize("born, problem", [
    ("2026-07", "born 2026-07, after the screening date 2026-06-15"),
    ("1960-13", "not a date (YYYY-MM-DD, YYYY-MM or YYYY): '1960-13'"),
    ("1850", "'1850' lies outside the calendar this tool reads"),
])
def test_a_birth_date_that_cannot_be_is_refused(screening, born, problem):
    outcome = decide(screening, born)
    assert isinstance(outcome, Rejected)
    (found,) = [p for p in outcome.problems if p.field == "birth_date"]
    assert found.message.startswith(problem)


@settings(max_examples=25, deadline=None)
@given(born=st.sampled_from(["2008-05", "2008-06", "2008-07", "1950", "1951", "2008-02"]),
       screened=st.dates(date(2026, 1, 1), date(2026, 12, 31)))
def test_a_partial_birth_date_decides_what_every_one_of_its_days_decides(screening, born,
                                                                       screened):
    """Whatever the network decides for the month or year, every day of it decides the same,
    or the days disagree and it is UNKNOWN."""
    first, last = days_of(born)
    days = [first + timedelta(n) for n in range(0, (last - first).days + 1, 1 if len(born) > 4
                                                else 7)] + [last]
    day = screened.isoformat()
    each = {criterion: set() for criterion in ("I1", "I2")}
    for one in days:
        for criterion, verdict in decide(screening, one.isoformat(), day=day).verdicts.items():
            if criterion in each:
                each[criterion].add(verdict.verdict)
    partial = decide(screening, born, day=day).verdicts
    for criterion, verdicts in each.items():
        expected = verdicts.pop() if len(verdicts) == 1 else "UNKNOWN"
        assert partial[criterion].verdict == expected, (criterion, born, day)


AGES = """protocol "ages" version "1"
concepts:
  age: age
inclusion I1 "Aged 75 years or older": age >= 75 years
inclusion I2 "Aged 80 years or younger": age <= 80 years
inclusion I3 "Aged 18 years or older": age >= 18 years
"""


@pytest.fixture(scope="module")
def ages_network():
    return network_from_text(AGES, "ages.proto-rules")


@pytest.mark.parametrize("fact, verdicts", [
    # told 17 months before screening: 74 then is 75 or 76 now
    ({"value": 74, "unit": "years", "date": "2025-01-01"}, {"I1": "MET", "I2": "MET"}),
    # 80 six years before is 86 or 87 now
    ({"value": 80, "unit": "years", "date": "2020-05-01"}, {"I2": "NOT_MET"}),
    # 74 told eleven months before: 74 or 75 now
    ({"value": 74, "unit": "years", "date": "2025-07-01"}, {"I1": "UNKNOWN"}),
    # told on the screening date, or undated: the age at screening, as before
    ({"value": 74, "unit": "years", "date": "2026-06-01"}, {"I1": "NOT_MET"}),
    ({"value": 74, "unit": "years"}, {"I1": "NOT_MET"}),
    # 6574 days is born on 2008-06-01 exactly, 18 on 2026-06-01 (an average year says 17)
    ({"value": 6574, "unit": "days"}, {"I3": "MET"}),
    ({"value": 6573, "unit": "days"}, {"I3": "NOT_MET"}),
    # 216 completed months is 18 years; 939 completed weeks is 6,573 to 6,579 days: 17 or 18
    ({"value": 216, "unit": "months"}, {"I3": "MET"}),
    ({"value": 939, "unit": "weeks"}, {"I3": "UNKNOWN"}),
    # a bound told earlier: older than 89 then is older than 89 now, and unbounded above
    ({"value": "> 89", "unit": "years", "date": "2020-01-01"}, {"I1": "MET", "I2": "NOT_MET"}),
])
def test_an_age_fact_is_the_birth_dates_it_allows_counted_at_screening(ages_network, fact,
                                                                        verdicts):
    outcome = screen_one(Screening(ages_network), [{"concept": "age", **fact}], day="2026-06-01")
    assert isinstance(outcome, Decision), outcome
    assert_trail_agrees(ages_network, outcome, verdicts)


def test_the_trail_says_the_age_told_and_the_ages_at_screening(ages_network):
    outcome = screen_one(Screening(ages_network), [
        {"concept": "age", "value": 74, "unit": "years", "date": "2025-01-01"}], day="2026-06-01")
    assert judged(ages_network, outcome, "I1")["detail"] == (
        "age 74 years = 75 or 76 years (2025-01-01; completed years at screening); needs >= 75 "
        "years")


@settings(max_examples=40, deadline=None)
@given(born=st.dates(date(1930, 1, 1), date(2010, 12, 31)),
       told=st.dates(date(2015, 1, 1), date(2026, 6, 1)),
       unit=st.sampled_from(["years", "months", "weeks", "days"]),
       bound=st.integers(15, 80))
def test_an_age_told_earlier_never_contradicts_the_birth_date(born, told, unit, bound):
    """Whatever birth date is behind an age told on an earlier day (in completed years, months,
    weeks or days), the ages it allows at screening hold the true one: a verdict they decide is
    the birth date's own."""
    from dateutil.relativedelta import relativedelta

    if told < born:
        return
    gap = relativedelta(told, born)
    value = {"years": gap.years, "months": gap.years * 12 + gap.months,
             "weeks": (told - born).days // 7, "days": (told - born).days}[unit]
    text = AGES.replace("age >= 18 years", f"age >= {bound} years")
    network = network_from_text(text, "ages.proto-rules")
    screening = Screening(network)
    told_as = screen_one(screening, [{"concept": "age", "value": value, "unit": unit,
                                      "date": told.isoformat()}], day="2026-06-01")
    truth = screen_one(screening, [], day="2026-06-01", birth_date=born.isoformat())
    for criterion in ("I1", "I2", "I3"):
        said = told_as.verdicts[criterion].verdict
        assert said in ("UNKNOWN", truth.verdicts[criterion].verdict), (criterion, value, unit)
