"""The network against the trail's own reading of filtered, counted and dosed histories, on
generated patients: items with dates known to the day, month or year, ends or none, attributes
given or not, doses given or not, items counted (by an attribute's values, by drugs of a set), anchors present or not, and windows on another history's (or
their own) most recent start or end, which dates known to the month, or several items that may
be the most recent, leave known only within days. The trail judges each part in plain
Python (`engine/atoms/*.judge`); the network decides with durable_rules' patterns, whose quirks
(an `$or` over item fields inside `$iany`, missing fields) this is meant to catch.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.dates import days_of
from engine.audit.evidence import Explainer, criterion_parts
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
inclusion H10 "h": infection within 30 days after the end of therapy
inclusion H11 "h": at least 2 infection with grade >= 2 within 3 months before the start of therapy
inclusion H12 "h": therapy where kind is tki more than 1 month after the start of infection
inclusion H13 "h": the latest infection more than 2 months before the end of therapy
inclusion H14 "h": no known infection less than 2 weeks after the end of therapy
inclusion H15 "h": therapy within 6 months after the end of therapy
inclusion H16 "h": infection at the start of therapy
inclusion H17 "h": at least 2 sites of infection with grade >= 2 ever
inclusion H18 "h": therapy includes at least 2 of {cisplatin, imatinib, dasatinib}
inclusion H19 "h": at least 3 infection where site is not skin within 1 year before screening
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


def _world(data: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """One way the patient's dates may be: a date known to the month or year as one of its days
    (up to screening and its end), an end as one of its days on or after the start, a course with
    no end recorded still going on or ended on a day up to screening."""
    screening = date.fromisoformat(data["screening_date"])
    facts = []
    for fact in data["facts"]:
        if "date" not in fact:
            facts.append(fact)
            continue
        low, high = days_of(fact["date"])  # type: ignore[misc]
        ends = days_of(fact["end"]) if "end" in fact else None
        high = min(high, screening, ends[1]) if ends else min(high, screening)
        start = low + timedelta(days=rnd.randint(0, (high - low).days))
        exact = {**fact, "date": start.isoformat()}
        if ends:
            first = max(ends[0], start)
            exact["end"] = (first + timedelta(days=rnd.randint(0, (ends[1] - first).days))
                            ).isoformat()
        elif fact["concept"] == "therapy" and not fact.get("ongoing"):
            if rnd.random() < 0.5:
                exact["ongoing"] = True
            else:
                exact["end"] = (start + timedelta(days=rnd.randint(0, (screening - start).days))
                                ).isoformat()
        facts.append(exact)
    return {**data, "facts": facts}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient(), st.randoms(use_true_random=False))
def test_a_decided_verdict_holds_on_every_day_the_dates_may_be(data: dict[str, Any],
                                                               rnd: random.Random) -> None:
    """Uncertain dates are decided only where every possible day agrees: an occurrence's own, and
    an anchor on another history's most recent start or end (known only to the month, or which
    item is the most recent not settled). So a verdict decided with them stays, whatever days they
    turn out to be."""
    (result,) = SCREENING.screen([(1, as_read(data))], "histories.jsonl")
    assert isinstance(result, Decision), result
    decided = {ident: v.verdict for ident, v in result.verdicts.items()
               if v.verdict in ("MET", "NOT_MET")}
    for _ in range(3):
        world = _world(data, rnd)
        (exact,) = SCREENING.screen([(1, as_read(world))], "histories.jsonl")
        if not isinstance(exact, Decision):  # two facts became one day's duplicates
            continue
        for ident, verdict in decided.items():
            assert exact.verdicts[ident].verdict == verdict, (ident, data, world)
