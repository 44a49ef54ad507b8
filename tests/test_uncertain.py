"""Results known only within bounds ("< 20", "> 1000", "not detected"): decided where every
possible value gives the same verdict, UNKNOWN only near the edge, and the trail says why.

One inclusion criterion per condition, so MET reads "true", NOT_MET "false", UNKNOWN "open".
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.evidence import Explainer, criterion_parts
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
        "status": "true", "detail": "crp < 10 = < 10 mg/L (2026-05-20); needs < 10 mg/L"}
    assert evidence("U1", crp("< 20")) == {
        "status": "unknown",
        "detail": "crp < 20 = < 20 mg/L (2026-05-20); needs < 10 mg/L "
                  "(its bounds do not decide it)"}
    assert evidence("U1", crp("not detected"))["detail"] == (
        "crp not detected (2026-05-20); needs < 10 mg/L "
        "(its bounds do not decide it)")


@pytest.mark.parametrize("fact, message", [
    (crp("about 10"), "crp is measured: expected a number or a bound like '< 20', found \"about 10\""),
    (crp("< -5"), "expected a number or a bound like '< 20'"),
    (crp(-5, comparator="<"), "crp cannot be negative: -5"),
    (crp("not detected", limit="five"), "'five' is not of type 'number'"),
    (crp(10, comparator="~"), "'~' is not one of"),
])
def test_unreadable_bounds_are_input_errors(screening: Screening, fact: dict, message: str):
    result = outcome(screening, fact)
    assert isinstance(result, Rejected)
    assert any(message in str(problem) for problem in result.problems), result.problems
