"""Taken through the days before a day: `methotrexate for at least 12 weeks before screening`
("regular use of MTX for at least the 12 weeks prior to study entry"), `mtx for at least 12 weeks
prior to baseline`.

With A the anchor day and B = A - D (calendar-aware), one run of consecutive courses covers every
day from B to A: it starts on or before B and ends on or after A, or goes on. Courses join as in
`X for at least D` (the next starting on or before the day after the run's last day, whatever its
dose or drug). A run of D that ended before a later short one does not count, as it does for the
unanchored form. A property test tries every day the dates may be and compares the network and
the trail with what every such day gives.
"""

from __future__ import annotations

import itertools
from calendar import monthrange
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Screening
from tests.conftest import (STATUS, boundary_cases, decided, judged, load_errors,
                            network_from_text, occurrence)

PROTOCOL = """protocol "taken through" version "1"
concepts:
  mtx: medication {methotrexate, leflunomide} dosed in mg/week
  baseline: date
inclusion T1 "Regular use of MTX for at least the 12 weeks prior to study entry":
    mtx for at least 12 weeks before screening
inclusion T2 "MTX for at least 3 months prior to baseline": mtx for at least 3 months prior to
    baseline
inclusion T3 "MTX for at least 12 weeks at some time": mtx for at least 12 weeks
"""
SCREENING = "2026-06-01"
BASELINE = {"concept": "baseline", "value": "2026-05-20"}


def mtx(start: str, end: str | None = "ongoing", dose: int = 15) -> dict[str, Any]:
    return occurrence("mtx", start, end, drug="methotrexate", dose=dose, unit="mg/week")


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "through.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


CASES = [
    # B = 2026-06-01 - 12 weeks = 2026-03-09; for T2, 2026-05-20 - 3 months = 2026-02-20
    ("from B, going on", [mtx("2026-03-09")], {"T1": "MET", "T3": "MET"}),
    ("from the day after B", [mtx("2026-03-10")], {"T1": "NOT_MET", "T3": "NOT_MET"}),
    ("from B to screening", [mtx("2026-03-09", "2026-06-01")], {"T1": "MET"}),
    ("stopped the day before screening", [mtx("2026-03-09", "2026-05-31")],
     {"T1": "NOT_MET", "T2": "NOT_MET"}),
    ("a dose change on the way", [mtx("2026-01-01", "2026-04-01", 10), mtx("2026-04-02")],
     {"T1": "MET", "T2": "MET"}),
    ("a switch of drug on the way", [mtx("2026-01-01", "2026-04-01"),
                                     {**mtx("2026-04-02"), "drug": "leflunomide"}],
     {"T1": "MET"}),
    ("a day off on the way", [mtx("2026-01-01", "2026-04-01", 10), mtx("2026-04-03")],
     {"T1": "NOT_MET", "T3": "MET"}),
    # a year in 2020, restarted 9 weeks before screening: once for 12 weeks, not through them
    ("a year long ago, restarted lately", [mtx("2020-01-01", "2020-12-31"), mtx("2026-03-30")],
     {"T1": "NOT_MET", "T2": "NOT_MET", "T3": "MET"}),
    ("its start known only to the month of B", [mtx("2026-03")], {"T1": "UNKNOWN"}),
    ("its start known to a month before B", [mtx("2026-02")], {"T1": "MET", "T2": "UNKNOWN"}),
    ("its end not recorded", [mtx("2026-01-01", None)], {"T1": "UNKNOWN", "T2": "UNKNOWN"}),
    ("recorded as none", [{"concept": "mtx", "present": False}],
     {"T1": "NOT_MET", "T2": "NOT_MET", "T3": "NOT_MET"}),
    ("nothing recorded", [], {"T1": "UNKNOWN", "T2": "UNKNOWN"}),
]


@pytest.mark.parametrize("name, facts, verdicts", CASES, ids=[c[0] for c in CASES])
def test_one_run_covers_every_day_up_to_the_anchor(network, screening: Screening, name: str,
                                                   facts: list[dict], verdicts) -> None:
    result = decided(screening, [BASELINE, *facts], day=SCREENING)
    assert {c: result.verdicts[c].verdict for c in verdicts} == verdicts, name
    for criterion, verdict in verdicts.items():
        assert judged(network, result, criterion)["status"] == STATUS[verdict], (name, criterion)


def test_no_anchor_day_is_unknown_and_the_trail_says_which_days(network, screening) -> None:
    result = decided(screening, [mtx("2026-01-01")], day=SCREENING)
    assert result.verdicts["T2"].verdict == "UNKNOWN"
    assert judged(network, result, "T2")["detail"].endswith("; baseline: no fact given")
    result = decided(screening, [BASELINE, mtx("2026-01-01", "2026-04-01"), mtx("2026-04-03")],
                     day=SCREENING)
    assert judged(network, result, "T1")["detail"].endswith(
        "; no run of consecutive courses covers 2026-03-09 to 2026-06-01")
    result = decided(screening, [BASELINE, mtx("2026-03")], day=SCREENING)
    assert judged(network, result, "T1")["detail"].endswith(
        "; a run of consecutive courses may cover 2026-03-09 to 2026-06-01")


# --- against every day the dates may be -----------------------------------------------------------

#: (start, end) of a course: exact days, a month, going on, or its end not recorded.
COURSES = [("2026-01-01", "2026-03-08"), ("2026-03-09", "ongoing"), ("2026-03", "ongoing"),
           ("2026-02", "2026-03"), ("2026-03-10", None), ("2025-12-01", "2026-03-09"),
           ("2026-03-10", "2026-06-01"), ("2026-03-01", "2026-05-31"), ("2026-05", "ongoing")]


#: A day after every day a case reads: a course going on runs on.
ON = date(2100, 1, 1)


def _days(text: str) -> list[date]:
    if len(text) == 10:
        return [date.fromisoformat(text)]
    year, month = map(int, text.split("-"))
    return [date(year, month, d) for d in range(1, monthrange(year, month)[1] + 1)]


def _lasts(first: date, end: str | None) -> list[date]:
    """The last days a course may have: going on runs on (`ON`); an end not recorded is any
    day from its first, or going on."""
    if end == "ongoing":
        return [ON]
    if end is None:
        return [first + timedelta(days=k) for k in range(200)] + [ON]
    return [day for day in _days(end) if day >= first]


def _oracle(courses: list[tuple[str, str | None]], bound: date, anchor: date) -> str:
    seen = set()
    choices = [[(first, last) for first in _days(start) for last in _lasts(first, end)]
               for start, end in courses]
    for spans in itertools.product(*choices):
        runs: list[list[date]] = []
        for first, last in sorted(spans):
            if runs and first <= runs[-1][1] + timedelta(days=1):
                runs[-1][1] = max(runs[-1][1], last)
            else:
                runs.append([first, last])
        seen.add(any(first <= bound and last >= anchor for first, last in runs))
        if len(seen) > 1:
            return "unknown"
    return str(seen.pop()).lower()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(COURSES), min_size=1, max_size=2, unique=True))
def test_against_every_day_the_dates_may_be(network, screening, courses) -> None:
    result = decided(screening, [BASELINE, *(mtx(start, end) for start, end in courses)],
                     day=SCREENING)
    for criterion, bound, anchor in (("T1", date(2026, 3, 9), date(2026, 6, 1)),
                                     ("T2", date(2026, 2, 20), date(2026, 5, 20))):
        expected = _oracle(courses, bound, anchor)
        verdict = {"true": "MET", "false": "NOT_MET", "unknown": "UNKNOWN"}[expected]
        assert result.verdicts[criterion].verdict == verdict, (courses, criterion)
        assert judged(network, result, criterion)["status"] == expected, (courses, criterion)


def test_boundary_cases_pass(capsys, tmp_path) -> None:
    """`edge-cases` gives a course from B, the day before and after, ended on A and the day
    before, two joined and two a day apart, an earlier run beside a later short one, none,
    nothing and no anchor day; each case's expected verdict worked out apart, and met."""
    base = {"patient": "base", "screening_date": SCREENING,
            "facts": [BASELINE, mtx("2025-01-01")]}
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    through = [line for line in text.splitlines()
               if line.startswith("  - name:") and "before screening" in line]
    assert len(through) == 10, through


def test_the_anchor_is_checked_as_a_stable_doses_is() -> None:
    head = 'protocol "t" version "1"\nconcepts:\n  mtx: medication {methotrexate}\n' \
        '  mi: event\n'
    errors = load_errors(head + 'inclusion I1 "x": mtx for at least 12 weeks before the end of '
                         'mi\n')
    assert len(errors) == 1 and "the screening date or a date concept" in errors[0], errors
    errors = load_errors(head + 'inclusion I1 "x": mtx for at least 12 weeks before basline\n')
    assert len(errors) == 1 and "unknown name 'basline'" in errors[0], errors
