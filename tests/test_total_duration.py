"""`X total duration <op> D`: the days any course covers, each counted once, whatever its dose.

"No prior TKI, except for a maximum of 2 weeks" (ASC4FIRST): a helper could only read each
course (`tki where duration > 14 days ever`), so two courses of 10 days came out eligible. Up to
screening, or within a window before an anchor; a day two courses share counts once; a course
whose dates are known only to the month, or whose end is not recorded, bounds the total, decided
wherever every total it may be agrees. Each case runs the real parser, checks, normaliser and
network, and the trail's judge.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.run import Decision, Screening
from tests.conftest import assert_trail_agrees, checked, judged, network_from_text, screen_one

PROTOCOL = """protocol "td" version "1"
concepts:
    first_dose: date
    tki: medication {imatinib, nilotinib, dasatinib} with line {first, second}
exclusion E1 "Prior TKI for more than 2 weeks": tki total duration > 2 weeks
exclusion E2 "Imatinib for more than 14 days within 6 months before the first dose":
    tki where drug is imatinib total duration > 14 days within 6 months before first_dose
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "td.proto-rules"))


def tki(start: str, end: str | None = None, drug: str = "imatinib", **fields: Any) -> dict:
    return {"concept": "tki", "drug": drug, "date": start,
            **({"end": end} if end else {}), **fields}


def decided(screening: Screening, *facts: dict) -> Decision:
    result = screen_one(screening, [{"concept": "first_dose", "value": "2026-06-20"}, *facts],
                        day="2026-06-15")
    assert isinstance(result, Decision), result
    return result


@pytest.mark.parametrize("facts, e1", [
    ([tki("2026-05-01", "2026-05-14")], "NOT_MET"),  # 14 days
    ([tki("2026-05-01", "2026-05-15")], "MET"),  # 15 days
    # two courses of 10 days: 20 days in all (each course alone is under 14)
    ([tki("2026-05-01", "2026-05-10"), tki("2026-05-20", "2026-05-29", "nilotinib")], "MET"),
    # two courses over the same days: 10 days, each counted once
    ([tki("2026-05-01", "2026-05-10"), tki("2026-05-01", "2026-05-10", "nilotinib")], "NOT_MET"),
    ([tki("2026-05-01", "2026-05-10"), tki("2026-05-05", "2026-05-16", "nilotinib")], "MET"),
    # started some day of May, ended on the 20th: 1 to 20 days
    ([tki("2026-05", "2026-05-20")], "UNKNOWN"),
    ([tki("2026-05", "2026-05-05")], "NOT_MET"),  # at most 5 days
    ([tki("2026-06-10")], "NOT_MET"),  # its end not recorded: up to screening, 6 days at most
    ([tki("2026-05-01")], "UNKNOWN"),  # 1 to 46 days
    ([tki("2026-05-01", ongoing=True)], "MET"),
    ([{"concept": "tki", "present": False}], "NOT_MET"),
    ([], "UNKNOWN"),
])
def test_the_days_any_course_covers(screening, facts, e1) -> None:
    assert_trail_agrees(screening.network, decided(screening, *facts), {"E1": e1})


def test_a_filter_and_a_window(screening) -> None:
    """Only the courses the filter keeps, only their days in the window (2025-12-20 to
    2026-06-20, the days after screening read as recorded)."""
    result = decided(screening, tki("2025-12-10", "2025-12-31"),
                     tki("2026-05-01", "2026-05-30", "nilotinib"))
    assert_trail_agrees(screening.network, result, {"E2": "NOT_MET", "E1": "MET"})
    assert judged(screening.network, result, "E2")["detail"].startswith(
        "days taken from 2025-12-20 to 2026-06-20 (6 months before first_dose 2026-06-20; the "
        "days after screening 2026-06-15 as recorded then, courses going on going on) of "
        "courses where drug is imatinib: 12 days (imatinib 12 days); ")


def test_the_trail_names_each_course(screening) -> None:
    result = decided(screening, tki("2026-05-01", "2026-05-10"),
                     tki("2026-05-20", "2026-05-29", "nilotinib"))
    assert judged(screening.network, result, "E1")["detail"].startswith(
        "days taken up to screening 2026-06-15: 20 days (imatinib 10 days; nilotinib 10 days); ")


@pytest.mark.parametrize("condition, said", [
    # said as the days and weeks the author may mean ('3 days' was offered for 3 months)
    ("tki total duration > 1 month", "a total duration counts the days any course of 'tki' "
     "covers: give it in days or weeks ('30 days' or '4 weeks' for 1 month), not '1 month'"),
    ("tki total duration > 14", "give it in days or weeks"),
])
def test_a_total_duration_is_in_days_or_weeks(condition, said) -> None:
    found = checked("  tki: medication {imatinib}\n", condition)
    assert any(said in line for line in found), found
