"""Several results of one concept on one day: two potassium draws, a triplicate ECG.

Which one counts is not recorded, but the value is one of them: a measured concept's results of
its latest day bound its value, as "< 20" does, and the network decides wherever every one of
them gives the same verdict (UNKNOWN only near the edge). Two values of a category or flag of one
day leave it UNKNOWN, with a warning; the patient's other criteria are still decided. Each case
runs the real normaliser and network; screening is on 2026-06-10.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.recorder import Recorder
from engine.run import Decision, Screening
from tests.conftest import network_from_text, screen_one

PROTOCOL = """protocol "same day" version "1"
concepts:
  lvef: quantity in %
  creatinine: lab in umol/L convert 1 mg/dL = 88.4 umol/L
  ecog: scale 0 to 5
  ecg: category {normal, abnormal}
  consent: flag
inclusion I1 "LVEF >= 55%": lvef >= 55 %
inclusion I2 "Creatinine <= 1.5 x ULN": creatinine <= 1.5 x ULN
inclusion I3 "Creatinine < 133 umol/L": creatinine < 133 umol/L
inclusion I4 "ECOG 0 or 1": ecog <= 1
inclusion I5 "Normal ECG": ecg is normal
inclusion I6 "Consent": consent
"""

DAY = "2026-06-01"


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "same-day.proto-rules"))


def lvef(value: Any, day: str = DAY) -> dict[str, Any]:
    return {"concept": "lvef", "value": value, "unit": "%", "date": day}


def creatinine(value: Any, high: Any = 100, unit: str = "umol/L") -> dict[str, Any]:
    fact = {"concept": "creatinine", "value": value, "unit": unit, "date": DAY}
    if high is not None:
        fact["reference_range"] = {"high": high}
    return fact


def decided(screening: Screening, *facts: dict[str, Any]) -> Decision:
    outcome = screen_one(screening, facts, day="2026-06-10")
    assert isinstance(outcome, Decision), outcome
    return outcome


def verdict(screening: Screening, criterion: str, *facts: dict[str, Any]) -> str:
    return decided(screening, *facts).verdicts[criterion].verdict


@pytest.mark.parametrize("name, facts, expected", [
    ("both pass", [lvef(60), lvef(58)], "MET"),
    ("both fail", [lvef(50), lvef(52)], "NOT_MET"),
    ("one each side: the data do not decide", [lvef(60), lvef(52)], "UNKNOWN"),
    ("one at the threshold, one above", [lvef(55), lvef(70)], "MET"),
    ("one at the threshold, one below", [lvef(55), lvef(54.9)], "UNKNOWN"),
    ("three, all passing", [lvef(56), lvef(61), lvef(58)], "MET"),
    ("an older one does not count", [lvef(40, "2026-05-01"), lvef(60), lvef(58)], "MET"),
    ("a newer day settles it", [lvef(60, "2026-05-01"), lvef(52, "2026-05-01"), lvef(57)],
     "MET"),
    ("a bound and a value, both passing", [lvef("> 60"), lvef(58)], "MET"),
    ("a bound that does not decide", [lvef("< 70"), lvef(58)], "UNKNOWN"),
])
def test_measured_results_of_one_day_bound_the_value(screening, name, facts, expected):
    assert verdict(screening, "I1", *facts) == expected, name


def test_equal_results_in_other_units_are_one_value(screening):
    """1.2 mg/dL is 106.08 umol/L: the two results are one value, compared exactly."""
    outcome = decided(screening, creatinine(106.08), creatinine(1.2, high=1.13, unit="mg/dL"))
    assert outcome.patient.record["creatinine"] == 106.08
    assert outcome.verdicts["I3"].verdict == "MET"


@pytest.mark.parametrize("facts, expected", [
    # 120/100 = 1.2 and 140/100 = 1.4 x ULN: both within 1.5
    ([creatinine(120), creatinine(140)], "MET"),
    # each by its own range: 120/100 = 1.2, 140/90 = 1.56: the data do not decide
    ([creatinine(120), creatinine(140, high=90)], "UNKNOWN"),
    # 160/100 and 170/110 = 1.545...: both above
    ([creatinine(160), creatinine(170, high=110)], "NOT_MET"),
    # a result without its range: the ratio is not known for that day
    ([creatinine(120), creatinine(121, high=None)], "UNKNOWN"),
])
def test_a_labs_ratios_are_bounded_each_by_its_own_range(screening, facts, expected):
    assert verdict(screening, "I2", *facts) == expected


def test_a_scale_is_bounded_by_its_steps(screening):
    ecog = [{"concept": "ecog", "value": v, "date": DAY} for v in (0, 1)]
    assert verdict(screening, "I4", *ecog) == "MET"
    assert verdict(screening, "I4", ecog[0], {"concept": "ecog", "value": 2, "date": DAY}) \
        == "UNKNOWN"
    assert verdict(screening, "I4", {"concept": "ecog", "value": 2, "date": DAY},
                   {"concept": "ecog", "value": "> 2", "date": DAY}) == "NOT_MET"


def test_the_trail_shows_every_result_of_the_day(screening):
    outcome = decided(screening, lvef(60), lvef(52), {"concept": "consent", "value": True})
    assert [f.index for f in outcome.patient.used["lvef"]] == [0, 1]
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "lvef 60 % (2026-06-01); 52 % (2026-06-01); needs >= 55 % (its bounds do not " \
           "decide it)" in line
    assert outcome.verdicts["I6"].verdict == "MET"  # the rest of the record is decided


def test_two_categories_of_one_day_leave_it_unknown_with_a_warning(screening):
    facts = [{"concept": "ecg", "value": v, "date": DAY} for v in ("normal", "abnormal")]
    outcome = decided(screening, *facts, {"concept": "consent", "value": True})
    assert outcome.verdicts["I5"].verdict == "UNKNOWN"
    assert outcome.patient.unusable["ecg"] == \
        "two values on 2026-06-01 (facts #1 and #2): which one counts is unclear"
    (warning,) = outcome.patient.warnings
    assert (warning.fact, warning.field) == (1, "date")
    assert "another value of 'ecg' on the same day disagrees" in warning.message
    assert outcome.verdicts["I6"].verdict == "MET"


def test_two_flags_of_one_day_leave_it_unknown(screening):
    facts = [{"concept": "consent", "value": v, "date": DAY} for v in (True, False)]
    assert verdict(screening, "I6", *facts) == "UNKNOWN"


_VALUES = st.decimals(min_value=Decimal("40"), max_value=Decimal("70"), places=1)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_VALUES, min_size=1, max_size=4, unique=True))
def test_decided_exactly_where_every_result_agrees(screening, values):
    """The verdict is what every result of the day gives when they agree, UNKNOWN otherwise."""
    each = {"MET" if v >= 55 else "NOT_MET" for v in values}
    expected = each.pop() if len(each) == 1 else "UNKNOWN"
    assert verdict(screening, "I1", *(lvef(float(v)) for v in values)) == expected
