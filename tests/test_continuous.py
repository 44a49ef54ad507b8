"""`X for at least D`: treated without a break across consecutive courses, at its boundaries.
A course that starts on the day after another ends continues it (a dose change, a switch between
the list's drugs); a day without a course breaks it; a run is measured up to screening, in
completed days (weeks) or calendar months; an end known only to the month, or not recorded, leaves
it open unless every possible reading agrees.

Screening 2026-06-01: 12 weeks is 84 days back, 2026-03-09.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import assert_trail_agrees, judged, network_from_text, screen_one

PROTOCOL = """protocol "continuous" version "1"
concepts:
  metformin: medication {metformin, glucophage} dosed in mg/d
  infection: event
inclusion W12 "On metformin for at least 12 weeks": metformin for at least 12 weeks
inclusion M3 "On metformin for at least 3 months": metformin for at least 3 months
"""


def course(start: str, end: str | None = None, drug: str = "metformin", **more: Any) -> dict:
    fact = {"concept": "metformin", "drug": drug, "date": start, "dose": 1000, "unit": "mg/d"}
    if end == "ongoing":
        fact["ongoing"] = True
    elif end is not None:
        fact["end"] = end
    return {**fact, **more}


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "continuous.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


CASES = [
    ("one course of exactly 84 days", [course("2026-03-09", "ongoing")], ("MET", "NOT_MET")),
    ("one course of 83 days", [course("2026-03-10", "ongoing")], ("NOT_MET", "NOT_MET")),
    ("exactly 3 calendar months", [course("2026-03-01", "ongoing")], ("MET", "MET")),
    ("a dose change and a switch of drug: one run",
     [course("2026-01-01", "2026-03-31"), course("2026-04-01", "ongoing", "glucophage", dose=2000)],
     ("MET", "MET")),
    ("overlapping courses join", [course("2026-02-01", "2026-04-15"),
                                  course("2026-04-01", "ongoing")], ("MET", "MET")),
    ("a day without a course breaks the run",
     [course("2026-02-01", "2026-03-30"), course("2026-04-01", "ongoing")], ("NOT_MET", "NOT_MET")),
    ("an earlier long run that ended counts", [course("2024-01-01", "2024-12-31"),
                                               course("2026-05-01", "ongoing")], ("MET", "MET")),
    ("a course after screening does not count", [course("2026-05-01", "2026-05-31"),
                                                 course("2026-06-02", "ongoing")],
     ("NOT_MET", "NOT_MET")),
    ("an end known to the month at the join", [course("2026-01-01", "2026-03"),
                                               course("2026-04-01", "ongoing")],
     ("UNKNOWN", "UNKNOWN")),
    ("an end known to the month, long either way", [course("2025-01-01", "2025-06")],
     ("MET", "MET")),
    ("an end not recorded", [course("2026-01-01")], ("UNKNOWN", "UNKNOWN")),
    ("an end not recorded, too short anyway", [course("2026-05-01")], ("NOT_MET", "NOT_MET")),
    ("none recorded", [{"concept": "metformin", "present": False}], ("NOT_MET", "NOT_MET")),
    ("nothing recorded", [], ("UNKNOWN", "UNKNOWN")),
]


@pytest.mark.parametrize("name, facts, expected", CASES, ids=[c[0] for c in CASES])
def test_continuous_boundaries(network, screening: Screening, name: str, facts: list[dict],
                               expected: tuple[str, str]) -> None:
    result = screen_one(screening, facts, day="2026-06-01", path="continuous.jsonl")
    assert isinstance(result, Decision), result
    assert_trail_agrees(network, result, dict(zip(("W12", "M3"), expected)))


def test_evidence_gives_the_longest_run(network, screening: Screening) -> None:
    result = screen_one(screening, [course("2026-01-01", "2026-03"), course("2026-04-01",
                                                                           "ongoing")],
                        day="2026-06-01")
    detail = judged(network, result, "M3")["detail"]
    assert detail.endswith("the longest run of consecutive courses: 2 to 5 completed months by "
                           "screening; needs at least 3 months")


def test_only_a_medication_lasts() -> None:
    found = [f"{d.span.line}:{d.span.column} {d.code}: {d.message}" for d in check(parse(
        PROTOCOL + 'inclusion E1 "x": infection for at least 2 weeks\n', "c.pr"))]
    assert found == ["7:19 type-mismatch: 'infection' is an event: only a medication's courses "
                     "last 'for at least' a time"]
