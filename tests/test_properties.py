"""Property tests: whatever a fact file says about a value, a date or a bound, the patient is
decided or rejected with a message, never a traceback, and bounds decide like their values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.run import Decision, Rejected, Screening
from tests.conftest import as_read, network_from_text

PROTOCOL = """protocol "p" version "1"
concepts:
  crp: quantity in mg/L
  mi: event
  steroid: medication {prednisone} dosed in mg/d
  first_dose: date
inclusion I1 "crp": crp < 10 mg/L
inclusion I2 "mi": mi within 6 months before first_dose
inclusion I3 "steroid": steroid dose >= 10 mg/d for at least 3 months
inclusion I4 "no mi": no known mi at least 1 year before screening
"""

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "p.proto-rules"))


def outcome(screening: Screening, facts: list[dict]) -> Decision | Rejected:
    data = {"patient": "p", "screening_date": "2026-06-30", "facts": facts}
    (result,) = screening.screen([(1, as_read(data))], "p.jsonl")
    return result


texts = st.one_of(st.text(max_size=12), st.from_regex(r"[<>≤≥]=? ?-?[0-9]{1,4}(\.[0-9]{1,3})?",
                                                      fullmatch=True),
                  st.sampled_from(["not detected", "Not Detected", "<", "", " 5", "5 mg"]))
dates = st.one_of(st.text(max_size=10), st.from_regex(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?",
                                                      fullmatch=True))


@SETTINGS
@given(value=texts)
def test_any_text_value_is_decided_or_rejected(screening, value):
    result = outcome(screening, [{"concept": "crp", "value": value, "unit": "mg/L",
                                  "date": "2026-06-01"}])
    assert isinstance(result, (Decision, Rejected))
    if isinstance(result, Rejected):
        assert all(p.message for p in result.problems)


@SETTINGS
@given(start=dates, end=st.one_of(st.none(), dates), ongoing=st.booleans())
def test_any_dates_are_decided_or_rejected(screening, start, end, ongoing):
    course = {"concept": "steroid", "drug": "prednisone", "dose": 20, "unit": "mg/d",
              "date": start, **({"end": end} if end else {}),
              **({"ongoing": True} if ongoing else {})}
    event = {"concept": "mi", "date": start, **({"end": end} if end else {})}
    result = outcome(screening, [course, event, {"concept": "first_dose", "value": "2026-06-15"}])
    assert isinstance(result, (Decision, Rejected))


@SETTINGS
@given(number=st.decimals(min_value=0, max_value=100, places=2),
       op=st.sampled_from(["<", "<=", ">", ">="]))
def test_a_bound_decides_as_every_value_it_allows(screening, number, op):
    """`crp < 10` is MET for a bound when every value the bound allows is below 10, NOT_MET when
    none is, UNKNOWN otherwise: checked against values just inside the bound."""
    result = outcome(screening, [{"concept": "crp", "value": f"{op} {number}", "unit": "mg/L",
                                  "date": "2026-06-01"}])
    if op == "<" and number == 0:  # no value is below 0
        assert isinstance(result, Rejected)
        return
    assert isinstance(result, Decision)
    step = Decimal("0.001")
    extremes = {"<": (Decimal(0), number - step), "<=": (Decimal(0), number),
                ">": (number + step, None), ">=": (number, None)}[op]
    low, high = extremes
    below = [v < 10 for v in (low, high) if v is not None and v >= 0]
    if high is None:
        expected = "NOT_MET" if low >= 10 else "UNKNOWN"
    else:
        expected = "MET" if all(below) else "NOT_MET" if not any(below) else "UNKNOWN"
    assert result.verdicts["I1"].verdict == expected
