"""Windows counted from the date of a result: `growth_factor within 7 days before the date of anc`.

Haematology and oncology protocols ask for blood counts "without growth factor support (or
transfusion) in the 7 days prior to the laboratory test": the window's anchor is the day of the
result that counts (the latest, not stale), not the screening date. Each case runs the real
normaliser and network; screening is on 2026-06-10.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.run import Screening
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import boundary_cases, network_from_text, screen_one

PROTOCOL = """protocol "result dates" version "1"
concepts:
  anc: quantity in 10^9/L valid for 14 days
  consent: flag
  growth_factor: medication {filgrastim, pegfilgrastim}
  transfusion: event
inclusion I1 "ANC >= 1.0 x 10^9/L without growth factor support in the 7 days prior to the test":
    anc >= 1.0 x10^9/L and not growth_factor within 7 days before the date of anc
exclusion E1 "Transfusion on the day of the test": transfusion at the date of anc
exclusion E2 "Transfusion less than 7 days before consent":
    transfusion less than 7 days before the date of consent
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "results.proto-rules"))


def anc(day: str, value: str = "1.2") -> dict[str, Any]:
    return {"concept": "anc", "date": day, "value": float(value), "unit": "10^9/L"}


def filgrastim(start: str, end: str) -> dict[str, Any]:
    return {"concept": "growth_factor", "drug": "filgrastim", "date": start, "end": end}


def judged(screening: Screening, *facts: dict[str, Any]) -> dict[str, str]:
    """Each criterion's verdict for one patient."""
    outcome = screen_one(screening, facts, day="2026-06-10")
    return {c: v.verdict for c, v in outcome.verdicts.items()}


@pytest.mark.parametrize("name, facts, verdict", [
    ("the course ends on the window's first day: within", [filgrastim("2026-05-28", "2026-06-01")],
     "NOT_MET"),
    ("the course ends the day before it: outside", [filgrastim("2026-05-28", "2026-05-31")],
     "MET"),
    ("a course after the test is outside its window", [filgrastim("2026-06-09", "2026-06-09")],
     "MET"),
    ("on the test's day: within", [filgrastim("2026-06-08", "2026-06-08")], "NOT_MET"),
    ("recorded as none", [{"concept": "growth_factor", "present": False}], "MET"),
    ("nothing recorded: unknown", [], "UNKNOWN"),
])
def test_the_window_runs_from_the_test_day(screening, name, facts, verdict):
    """The ANC of 2026-06-08 counts: its window is 2026-06-01 to 2026-06-08, both counted."""
    assert judged(screening, anc("2026-06-08"), *facts)["I1"] == verdict, name


def test_the_latest_result_is_the_anchor(screening):
    """Of two ANCs the latest counts, and its day is the window's: a course ending 2026-05-31
    is inside the window of the ANC of 2026-06-05 (2026-05-29 to 2026-06-05)."""
    course = filgrastim("2026-05-28", "2026-05-31")
    assert judged(screening, anc("2026-06-08"), course)["I1"] == "MET"
    assert judged(screening, anc("2026-06-05"), course)["I1"] == "NOT_MET"
    assert judged(screening, anc("2026-06-08"), anc("2026-06-05"), course)["I1"] == "MET"


def test_no_usable_result_has_no_day(screening):
    """Without an ANC, or with a stale one (it does not count), the window has no anchor day:
    UNKNOWN, unless the history is recorded as none."""
    course = filgrastim("2026-05-28", "2026-06-01")
    stale = anc("2026-05-01")
    outcome = screen_one(screening, [stale, course], day="2026-06-10")
    assert outcome.verdicts["I1"].verdict == "UNKNOWN"
    assert "anc" not in outcome.patient.record and "anc__date" not in outcome.patient.record
    assert judged(screening, course)["I1"] == "UNKNOWN"
    assert judged(screening, {"concept": "transfusion", "present": False})["E1"] == "NOT_MET"
    assert judged(screening, {"concept": "transfusion", "date": "2026-06-08"})["E1"] == "UNKNOWN"


def test_a_flag_dates_its_window_too_and_an_undated_one_does_not(screening):
    """`less than 7 days before the date of consent`: 2026-06-02 to 2026-06-08 for consent
    given on 2026-06-08; an undated consent has no day."""
    consent = {"concept": "consent", "date": "2026-06-08", "value": True}
    on = {"concept": "transfusion", "date": "2026-06-02"}
    before = {"concept": "transfusion", "date": "2026-06-01"}
    assert judged(screening, consent, on)["E2"] == "MET"
    assert judged(screening, consent, before)["E2"] == "NOT_MET"
    undated = screen_one(screening, [{"concept": "consent", "value": True}, on],
                         day="2026-06-10")
    assert undated.verdicts["E2"].verdict == "UNKNOWN"
    assert undated.patient.unusable["consent__date"] == "the consent that counts has no date"


@pytest.mark.parametrize("anchor, said", [
    ("the date of transfusion", "'transfusion' is an event; write 'the start of transfusion' or "
     "'the end of transfusion'"),
    ("the date of first_dose", "'first_dose' is a date; write 'first_dose': a date concept is "
     "its own day"),
    ("the start of anc", "'anc' is a quantity; write 'the date of anc', the day of its result "
     "that counts"),
    ("anc", "'anc' is a quantity; or write 'the date of anc', the day of its result that counts"),
])
def test_each_anchor_names_what_to_write(anchor, said):
    text = ('protocol "t"\nversion "1"\nconcepts:\n  anc: quantity in 10^9/L\n'
            '  first_dose: date\n  transfusion: event\n'
            f'inclusion I1 "x": transfusion within 7 days before {anchor}\n')
    (error,) = [d for d in check(parse(text, "t.pr")) if d.code == "anchor"]
    assert error.message.endswith(said), error.message


def test_a_dose_is_not_read_on_a_result_day():
    text = ('protocol "t"\nversion "1"\nconcepts:\n  anc: quantity in 10^9/L\n'
            '  steroid: medication {prednisone} dosed in mg/d\n'
            'inclusion I1 "x": steroid dose at the date of anc <= 10 mg/d\n')
    (error,) = [d for d in check(parse(text, "t.pr")) if d.code == "anchor"]
    assert "'the date of anc' is a result's day" in error.message


def test_boundary_patients_pass_on_the_network(tmp_path, capsys):
    """`edge-cases` puts occurrences on each edge of a window from a result's day (and leaves
    the result out), and the network decides every case as worked out without it."""
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "b", "screening_date": "2026-06-10", "facts": [
            {"concept": "anc", "date": "2026-06-08", "value": 1.2, "unit": "10^9/L"},
            {"concept": "consent", "date": "2026-06-08", "value": True},
            {"concept": "growth_factor", "present": False},
            {"concept": "transfusion", "present": False}]})
    assert "the first day inside of growth_factor within 7 days before the date of anc" in text
    assert "no anc, growth_factor on 2026-06-08" in text
