"""Windows during another history: `progression during or within 12 months after line_of_therapy`.

Haematology protocols ask for "progressive disease on or within 12 months of the last line of
therapy": the span from the start of the most recent line to its end plus 12 months, both
counted, or to now while it goes on. Each case runs the real normaliser and network; screening is
on 2026-06-10.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.audit.recorder import Recorder
from engine.run import Screening
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import network_from_text, screen_one

PROTOCOL = """protocol "during" version "1"
concepts:
  line_of_therapy: medication {bortezomib, lenalidomide, daratumumab}
  progression: event
inclusion I1 "Progressive disease on or within 12 months of the last line of therapy":
    progression during or within 12 months after line_of_therapy
inclusion I2 "Progression on therapy": progression during line_of_therapy
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "during.proto-rules"))


def line(start: str, end: str | None = None, **more: Any) -> dict[str, Any]:
    return {"concept": "line_of_therapy", "drug": "bortezomib", "date": start,
            **({"end": end} if end else {}), **more}


def progression(day: str) -> dict[str, Any]:
    return {"concept": "progression", "date": day}


@pytest.mark.parametrize("name, facts, on_or_within, on", [
    ("on therapy", [line("2025-01-01", "2025-06-30"), progression("2025-03-01")], "MET", "MET"),
    ("on the line's first day", [line("2025-01-01", "2025-06-30"), progression("2025-01-01")],
     "MET", "MET"),
    ("the day before it", [line("2025-01-01", "2025-06-30"), progression("2024-12-31")],
     "NOT_MET", "NOT_MET"),
    ("on the last day of 12 months after its end",
     [line("2025-01-01", "2025-05-31"), progression("2026-05-31")], "MET", "NOT_MET"),
    ("a day later", [line("2025-01-01", "2025-05-31"), progression("2026-06-01")],
     "NOT_MET", "NOT_MET"),
    ("the line goes on: to now", [line("2025-01-01", ongoing=True), progression("2026-06-01")],
     "MET", "MET"),
    ("its end not recorded: it may have ended a year and more before",
     [line("2025-01-01"), progression("2026-06-01")], "UNKNOWN", "UNKNOWN"),
    ("its end known to the month: the bound is any day of May 2026",
     [line("2025-01-01", "2025-05"), progression("2026-05-15")], "UNKNOWN", "NOT_MET"),
    ("its end known to the month, the progression surely within",
     [line("2025-01-01", "2025-05"), progression("2026-04-30")], "MET", "NOT_MET"),
    ("no line recorded: there is no last line", [
        {"concept": "line_of_therapy", "present": False}, progression("2026-05-15")],
     "NOT_MET", "NOT_MET"),
    ("nothing recorded of the lines", [progression("2026-05-15")], "UNKNOWN", "UNKNOWN"),
    ("the last line counts, not an earlier one", [
        line("2023-01-01", "2023-05-31"), line("2025-01-01", "2025-03-31", drug="lenalidomide"),
        progression("2023-03-01")], "NOT_MET", "NOT_MET"),
])
def test_the_span_of_the_last_line(screening, name, facts, on_or_within, on):
    verdicts = screen_one(screening, facts, day="2026-06-10").verdicts
    assert (verdicts["I1"].verdict, verdicts["I2"].verdict) == (on_or_within, on), name


@pytest.mark.parametrize("condition, message", [
    ("progression during anc", "'during anc' spans the most recent course or occurrence of "
     "another event or medication; 'anc' is a quantity"),
    ("progression during progression", "'progression' is the history itself: its most recent "
     "one overlaps itself"),
])
def test_during_spans_another_history(condition, message):
    text = ('protocol "t"\nversion "1"\nconcepts:\n  anc: quantity in 10^9/L\n'
            '  progression: event\n' f'inclusion I1 "x": {condition}\n')
    (error,) = [d for d in check(parse(text, "t.pr")) if d.is_error]
    assert error.code == "during" and message in error.message


def test_the_sentence_is_read_as_the_rule_and_the_trail_says_the_days(screening):
    """'on or within 12 months' is the rule's window (no fidelity warning); the evidence gives
    the span's days."""
    assert [d for d in check(parse(PROTOCOL, "during.proto-rules")) if d.code == "fidelity"] \
        == []
    outcome = screen_one(screening, [line("2025-01-01", "2025-05-31"),
                                     progression("2026-05-31")], day="2026-06-10")
    text = "".join(part for lines in Recorder(screening.network).lines(outcome) for part in lines)
    assert "(window from the start of line_of_therapy, 2025-01-01, to 12 months after its " \
           "end, 2026-05-31)" in text
