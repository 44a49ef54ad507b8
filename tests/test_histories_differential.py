"""The network against the trail's own reading of filtered, counted and dosed histories, on
generated patients: items with dates known to the day, month or year, ends or none, attributes
given or not, doses given or not, anchors present or not. The trail judges each part in plain
Python (`engine/atoms/*.judge`); the network decides with durable_rules' patterns, whose quirks
(an `$or` over item fields inside `$iany`, missing fields) this is meant to catch.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evidence import Explainer, criterion_parts
from engine.run import Decision, Screening
from tests.conftest import as_read, network_from_text

PROTOCOL = """protocol "histories" version "1"
concepts:
  first_dose: date
  therapy: medication {cisplatin, imatinib, dasatinib} dosed in mg/d
      with kind {chemotherapy, tki} with route {oral, intravenous}
  infection: event graded with site {lung, skin}
inclusion H1 "h": therapy where kind is tki and route is not oral within 1 year before screening
inclusion H2 "h": therapy other than {cisplatin} within 4 weeks before first_dose
inclusion H3 "h": therapy where dose > 10 mg/d at screening
inclusion H4 "h": no known infection where site is one of {lung} with grade >= 3
inclusion H5 "h": at least 2 therapy where kind is tki ever
inclusion H6 "h": at least 2 infection with grade >= 2 within 6 months before first_dose
inclusion H7 "h": therapy dose at screening <= 10 mg/d
inclusion H8 "h": therapy dose stable for at least 30 days before first_dose
inclusion H9 "h": at least 3 infection where site is not skin ever
"""

NETWORK = network_from_text(PROTOCOL, "histories.proto-rules")
SCREENING = Screening(NETWORK)
LEAVES = {leaf.id: leaf for leaf in NETWORK.leaves}


@st.composite
def day(draw) -> str:
    """A day in 2025-2026 up to the screening date, known to the day, month or year."""
    year = draw(st.sampled_from([2025, 2026]))
    month = draw(st.integers(1, 6 if year == 2026 else 12))
    precision = draw(st.sampled_from(["day", "day", "day", "month", "year"]))
    if precision == "year":
        return str(year) if year == 2025 else f"{year}-{month:02d}"
    if precision == "month":
        return f"{year}-{month:02d}"
    return f"{year}-{month:02d}-{draw(st.integers(1, 28)):02d}"


def _maybe(draw, key: str, values: list) -> dict[str, Any]:
    value = draw(st.sampled_from([None, *values]))
    return {} if value is None else {key: value}


@st.composite
def therapy(draw) -> dict[str, Any]:
    start = draw(day())
    fact = {"concept": "therapy", "drug": draw(st.sampled_from(["cisplatin", "imatinib",
                                                               "dasatinib"])), "date": start}
    ending = draw(st.sampled_from(["end", "ongoing", "none"]))
    if ending == "ongoing":
        fact["ongoing"] = True
    elif ending == "end":
        end = draw(day())
        if end >= start:
            fact["end"] = end
    dose = draw(st.sampled_from([None, 5, 10, 15]))
    if dose is not None:
        fact |= {"dose": dose, "unit": "mg/d"}
    return fact | _maybe(draw, "kind", ["chemotherapy", "tki"]) | _maybe(
        draw, "route", ["oral", "intravenous"])


@st.composite
def infection(draw) -> dict[str, Any]:
    return {"concept": "infection", "date": draw(day()), "grade": draw(st.integers(1, 4))} | \
        _maybe(draw, "site", ["lung", "skin"])


@st.composite
def patient(draw) -> dict[str, Any]:
    facts: list[dict[str, Any]] = []
    for concept, items in (("therapy", therapy()), ("infection", infection())):
        shape = draw(st.sampled_from(["list", "list", "none", "missing"]))
        if shape == "none":
            facts.append({"concept": concept, "present": False})
        elif shape == "list":
            facts += draw(st.lists(items, min_size=1, max_size=4, unique_by=str))
    if draw(st.booleans()):
        facts.append({"concept": "first_dose", "value": draw(st.sampled_from(
            ["2026-05-15", "2026-06-15", "2026-06-30"]))})
    return {"patient": "p", "screening_date": "2026-06-30", "facts": facts}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient())
def test_network_and_trail_agree(data: dict[str, Any]) -> None:
    (result,) = SCREENING.screen([(1, as_read(data))], "histories.jsonl")
    assert isinstance(result, Decision), result
    explainer = Explainer(NETWORK.protocol, result.derived)
    for ident, leaf in LEAVES.items():
        judged = explainer.judge(criterion_parts(leaf)[0], result.patient)
        verdict = result.verdicts[ident].verdict
        assert {"true": "MET", "false": "NOT_MET", "unknown": "UNKNOWN"}[judged["status"]] == \
            verdict, (ident, judged, data)
