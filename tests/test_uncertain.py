"""Results known only within bounds ("< 20", "> 1000", "not detected"): decided where every
possible value gives the same verdict, UNKNOWN only near the edge, and the trail says why.

One inclusion criterion per condition, so MET reads "true", NOT_MET "false", UNKNOWN "open".
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.audit.evidence import Explainer, criterion_parts
from engine.run import Decision, Rejected, Screening
from tests.conftest import as_read, network_from_text

PROTOCOL = """protocol "bounds" version "1"
concepts:
  crp: quantity in mg/L
  hbv_dna: lab in IU/mL
  anc: lab in 10^9/L
inclusion U1 "crp below 10": crp < 10 mg/L
inclusion U2 "crp 10 or more": crp >= 10 mg/L
inclusion U3 "HBV DNA above the upper reference": hbv_dna > upper reference
inclusion U4 "crp 5 to 10": crp 5 to 10 mg/L
inclusion U5 "ANC 1.5 or more": anc >= 1.5 x10^9/L
inclusion U6 "crp at most 10": crp <= 10 mg/L
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "bounds.proto-rules"))


def outcome(screening: Screening, *facts: dict[str, Any]) -> Decision | Rejected:
    data = {"patient": "p", "screening_date": "2026-06-01",
            "facts": [{"date": "2026-05-20", **f} for f in facts]}
    (result,) = screening.screen([(1, as_read(data))], "bounds.jsonl")
    return result


def crp(value: Any, **more: Any) -> dict[str, Any]:
    return {"concept": "crp", "value": value, "unit": "mg/L", **more}


CASES = [
    # (fact, criterion, verdict)
    (crp("< 10"), "U1", "MET"),
    (crp("< 10"), "U2", "NOT_MET"),
    (crp("< 10"), "U6", "MET"),
    (crp("<= 10"), "U1", "UNKNOWN"),  # 10 itself is possible
    (crp("<= 10"), "U2", "UNKNOWN"),
    (crp("<= 10"), "U6", "MET"),
    (crp("< 20"), "U1", "UNKNOWN"),
    (crp("< 5"), "U1", "MET"),
    (crp("> 10"), "U1", "NOT_MET"),
    (crp("> 10"), "U2", "MET"),
    (crp("> 10"), "U6", "NOT_MET"),
    (crp(">= 10"), "U1", "NOT_MET"),
    (crp(">= 10"), "U2", "MET"),
    (crp(">= 10"), "U6", "UNKNOWN"),  # 10 itself is possible
    (crp("≤ 9.5"), "U1", "MET"),
    (crp(10, comparator="<"), "U1", "MET"),  # as FHIR's Quantity.comparator says it
    (crp(10, comparator=">="), "U2", "MET"),
    (crp("not detected"), "U1", "UNKNOWN"),  # no detection limit: only "not negative" is known
    (crp("not detected", limit=5), "U1", "MET"),
    (crp("Not Detected", limit=12), "U1", "UNKNOWN"),
    (crp("< 0.005", unit="g/L"), "U1", "MET"),  # the bound converts: < 5 mg/L
    (crp("< 1", unit="g/L"), "U1", "UNKNOWN"),  # < 1000 mg/L
    # a range is decided when the bounds lie wholly inside or wholly outside it
    (crp("< 5"), "U4", "NOT_MET"),
    (crp("> 10"), "U4", "NOT_MET"),
    (crp("< 10"), "U4", "UNKNOWN"),
    (crp(">= 5"), "U4", "UNKNOWN"),
    # the reference range: the ratio's bound
    ({"concept": "hbv_dna", "value": "< 20", "unit": "IU/mL", "reference_range": {"high": 20}},
     "U3", "NOT_MET"),
    ({"concept": "hbv_dna", "value": "< 40", "unit": "IU/mL", "reference_range": {"high": 20}},
     "U3", "UNKNOWN"),
    ({"concept": "hbv_dna", "value": "> 20", "unit": "IU/mL", "reference_range": {"high": 20}},
     "U3", "MET"),
    ({"concept": "hbv_dna", "value": "not detected", "limit": 10, "unit": "IU/mL",
      "reference_range": {"high": 20}}, "U3", "NOT_MET"),
    # another unit of the same dimension
    ({"concept": "anc", "value": "> 2000", "unit": "/uL"}, "U5", "MET"),
    ({"concept": "anc", "value": "< 1500", "unit": "cells/uL"}, "U5", "NOT_MET"),
    ({"concept": "anc", "value": "<= 1500", "unit": "/mm3"}, "U5", "UNKNOWN"),
]


@pytest.mark.parametrize("fact, criterion, expected", CASES,
                         ids=[f"{c[1]} {c[0].get('comparator', '')}{c[0]['value']} {c[0]['unit']}"
                              for c in CASES])
def test_bounded_result(screening: Screening, fact: dict, criterion: str, expected: str):
    result = outcome(screening, fact)
    assert isinstance(result, Decision), result
    assert result.verdicts[criterion].verdict == expected


def test_exact_values_are_unchanged(screening: Screening):
    result = outcome(screening, crp(10))
    assert isinstance(result, Decision)
    assert [result.verdicts[c].verdict for c in ("U1", "U2", "U6", "U4")] == [
        "NOT_MET", "MET", "MET", "MET"]


def test_evidence_says_what_is_known(screening: Screening):
    network = screening.network
    leaves = {leaf.id: leaf for leaf in network.leaves}

    def evidence(criterion: str, fact: dict) -> dict:
        result = outcome(screening, fact)
        assert isinstance(result, Decision)
        explainer = Explainer(network.protocol, result.derived)
        return explainer.judge(criterion_parts(leaves[criterion])[0], result.patient)

    assert evidence("U1", crp("< 10")) == {
        "status": "true", "detail": "crp < 10 mg/L (2026-05-20); needs < 10 mg/L"}
    assert evidence("U1", crp("< 20")) == {
        "status": "unknown",
        "detail": "crp < 20 mg/L (2026-05-20); needs < 10 mg/L "
                  "(its bounds do not decide it)"}
    # in another unit, the bound as written and as converted
    assert evidence("U1", crp("< 0.8", unit="mg/dL"))["detail"] == (
        "crp < 0.8 mg/dL = < 8 mg/L (2026-05-20); needs < 10 mg/L")
    assert evidence("U1", crp("not detected"))["detail"] == (
        "crp not detected (2026-05-20); needs < 10 mg/L "
        "(its bounds do not decide it)")


@pytest.mark.parametrize("fact, message", [
    (crp("about 10"),
     "crp is measured: expected a number or a bound like '< 20', found \"about 10\""),
    (crp("< -5"), "expected a number or a bound like '< 20'"),
    (crp(-5, comparator="<"), "crp cannot be negative: < -5"),
    (crp("< 0"), "crp cannot be negative: < 0"),
    (crp("not detected", limit="five"), "'five' is not of type 'number'"),
    (crp(10, comparator="~"), "'~' is not one of"),
])
def test_unreadable_bounds_are_input_errors(screening: Screening, fact: dict, message: str):
    result = outcome(screening, fact)
    assert isinstance(result, Rejected)
    assert any(message in str(problem) for problem in result.problems), result.problems


# -- dates known to the month or year, no date at all, a course whose end is not recorded ----------

HISTORY = """protocol "dates" version "1"
concepts:
  mi: event
  first_dose: date
  steroid: medication {prednisone} dosed in mg/d
  infection: event graded
  adjuvant: medication {capecitabine}
  relapse: event
inclusion D1 "MI within 6 months": mi within 6 months before screening
inclusion D2 "MI ever": mi ever
inclusion D3 "steroid": steroid dose >= 10 mg/d for at least 3 months
inclusion D4 "MI a year ago": mi at least 1 year before screening
inclusion D5 "infection": infection with grade >= 3 within 30 days before first_dose
inclusion D6 "relapse after adjuvant": relapse within 6 months after the end of adjuvant
"""


@pytest.fixture(scope="module")
def history() -> Screening:
    return Screening(network_from_text(HISTORY, "dates.proto-rules"))


def dated(screening: Screening, criterion: str, *facts: dict[str, Any]) -> str:
    data = {"patient": "p", "screening_date": "2026-06-30", "facts": list(facts)}
    (result,) = screening.screen([(1, as_read(data))], "dates.jsonl")
    assert isinstance(result, Decision), result
    return result.verdicts[criterion].verdict


def mi(**fields: Any) -> dict[str, Any]:
    return {"concept": "mi", **fields}


def steroid(**fields: Any) -> dict[str, Any]:
    return {"concept": "steroid", "drug": "prednisone", "dose": 20, "unit": "mg/d", **fields}


FIRST = {"concept": "first_dose", "value": "2026-06-15"}

DATED = [
    # within 6 months before 2026-06-30: from 2025-12-30
    ("D1", [mi(date="2026-01")], "MET"),  # every day of January is inside
    ("D1", [mi(date="2025-12")], "UNKNOWN"),  # the 30th and 31st are, the rest are not
    ("D1", [mi(date="2025-11")], "NOT_MET"),
    ("D1", [mi(date="2025")], "UNKNOWN"),
    ("D1", [mi(date="2024")], "NOT_MET"),
    ("D1", [mi(date="2025-12-29", end="2026-01")], "MET"),  # it lasted into the window
    ("D1", [mi()], "UNKNOWN"),  # happened, no date: when is not known
    ("D2", [mi()], "MET"),  # ... but it did happen
    ("D2", [mi(date="2019")], "MET"),
    # at least 1 year before screening: started on or before 2025-06-30
    ("D4", [mi(date="2025-06")], "MET"),
    ("D4", [mi(date="2025-07")], "NOT_MET"),
    ("D4", [mi(date="2025")], "UNKNOWN"),
    ("D4", [mi()], "UNKNOWN"),
    # a course with neither end nor ongoing may still be going on
    ("D3", [steroid(date="2026-01-01")], "UNKNOWN"),
    ("D3", [steroid(date="2026-01-01", end="2026-04-01")], "MET"),
    ("D3", [steroid(date="2026-01-01", ongoing=True)], "MET"),
    ("D3", [steroid(date="2026-05-01")], "NOT_MET"),  # at most 1 month to screening
    ("D3", [steroid(date="2026-01-01", dose=5)], "NOT_MET"),  # too low however long
    ("D3", [steroid(date="2026-01", end="2026-04-15")], "UNKNOWN"),  # 3 months only from Jan 15
    ("D3", [steroid(date="2026-01", end="2026-05")], "MET"),
    # a graded window from another anchor: a node of its own, with a possibility node
    ("D5", [FIRST, {"concept": "infection", "date": "2026-05", "grade": 3}], "UNKNOWN"),
    ("D5", [FIRST, {"concept": "infection", "date": "2026-06", "grade": 3}], "UNKNOWN"),
    ("D5", [FIRST, {"concept": "infection", "date": "2026-06-01", "grade": 3}], "MET"),
    ("D5", [FIRST, {"concept": "infection", "date": "2026-04", "grade": 3}], "NOT_MET"),
    ("D5", [FIRST, {"concept": "infection", "date": "2026-05", "grade": 2}], "NOT_MET"),
    # an anchor known only to the month (2025-06: the window from a day of June to the same day
    # of December) is decided where every day of it agrees, open near the window's edges
    ("D6", [{"concept": "adjuvant", "drug": "capecitabine", "date": "2025-01", "end": "2025-06"},
            {"concept": "relapse", "date": "2025-09-01"}], "MET"),
    ("D6", [{"concept": "adjuvant", "drug": "capecitabine", "date": "2025-01", "end": "2025-06"},
            {"concept": "relapse", "date": "2025-06-15"}], "UNKNOWN"),
    ("D6", [{"concept": "adjuvant", "drug": "capecitabine", "date": "2025-01", "end": "2025-06"},
            {"concept": "relapse", "date": "2025-12-15"}], "UNKNOWN"),
    ("D6", [{"concept": "adjuvant", "drug": "capecitabine", "date": "2025-01", "end": "2025-06"},
            {"concept": "relapse", "date": "2025-05-31"}], "NOT_MET"),
    ("D6", [{"concept": "adjuvant", "drug": "capecitabine", "date": "2025-01", "end": "2025-06"},
            {"concept": "relapse", "date": "2025-12-31"}], "NOT_MET"),
    ("D6", [{"concept": "adjuvant", "drug": "capecitabine", "date": "2025-01", "end": "2025-06"},
            {"concept": "relapse", "date": "2025-12"}], "UNKNOWN"),  # both uncertain
    ("D6", [{"concept": "adjuvant", "drug": "capecitabine", "date": "2025-01", "end": "2025"},
            {"concept": "relapse", "date": "2024-12-31"}], "NOT_MET"),  # to the year
    ("D6", [{"concept": "adjuvant", "drug": "capecitabine", "date": "2025-01",
             "end": "2025-06-30"}, {"concept": "relapse", "date": "2025-09-01"}], "MET"),
]


@pytest.mark.parametrize("criterion, facts, expected", DATED,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(DATED)])
def test_dates_known_within_bounds(history: Screening, criterion: str, facts: list,
                                   expected: str):
    assert dated(history, criterion, *facts) == expected


def test_evidence_says_the_dates_do_not_decide(history: Screening):
    network = history.network
    leaf = next(c for c in network.leaves if c.id == "D1")
    data = {"patient": "p", "screening_date": "2026-06-30", "facts": [mi(date="2025-12")]}
    (result,) = history.screen([(1, as_read(data))], "dates.jsonl")
    explainer = Explainer(network.protocol, result.derived)
    judged = explainer.judge(criterion_parts(leaf)[0], result.patient)
    assert judged == {"status": "unknown", "detail": "mi: occurred (2025-12; a single day of it) (window "
                      "from 2025-12-30 to 2026-06-30) (its dates do not decide it)"}


def test_partial_dates_only_for_histories(history: Screening):
    data = {"patient": "p", "screening_date": "2026-06-30",
            "facts": [{"concept": "first_dose", "value": "2026-06-15", "date": "2026-06"}]}
    (result,) = history.screen([(1, as_read(data))], "dates.jsonl")
    assert isinstance(result, Rejected)
    assert "not a day (YYYY-MM-DD): '2026-06'; a fact of first_dose is dated to its day (only " \
        "an event's or a course's dates may be known to the month or the year)" \
        in str(result.problems[0])
