"""An occurrence in the span of each course of another history: `progression during or within
60 days after any lenalidomide` ("refractory: progression on or within 60 days of the last
dose", of any course, not only the most recent).

An item counts when it overlaps some course's span, from its first day to its last plus D, both
counted, or to now while it goes on; decided where every day the dates allow agrees; false when
either history is recorded as none; UNKNOWN when either is not recorded. Each case runs the real
parser, checks, normaliser and network, and the trail's own reading of the same facts.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.recorder import Recorder
from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import STATUS, boundary_cases, network_from_text, screen_one, trail_status

PROTOCOL = """protocol "refractory" version "1"
concepts:
  progression: event
  lenalidomide: medication {lenalidomide}
  infection: event graded with site {lung, other}
exclusion E1 "Refractory to lenalidomide: progression on or within 60 days of the last dose":
    progression during or within 60 days after any lenalidomide
exclusion E2 "Progression while on lenalidomide":
    progression during any lenalidomide
exclusion E3 "Grade 3 lung infection on or within 1 month of lenalidomide":
    infection where site is lung with grade >= 3 during or within 1 month after any lenalidomide
inclusion I1 "No known progression on lenalidomide":
    no known progression during any lenalidomide
exclusion E4 "Known progression on lenalidomide":
    known progression during any lenalidomide
"""
SCREENING = "2026-03-01"


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "refractory.proto-rules"))


def course(start: str, end: str | None = None, **more: Any) -> dict:
    return {"concept": "lenalidomide", "drug": "lenalidomide", "date": start,
            **({"end": end} if end else {}), **more}


def event(concept: str, start: str, end: str | None = None, **more: Any) -> dict:
    return {"concept": concept, "date": start, **({"end": end} if end else {}), **more}


def none(concept: str) -> dict:
    return {"concept": concept, "present": False}


def decided(screening: Screening, *facts: dict) -> Decision:
    outcome = screen_one(screening, list(facts), day=SCREENING)
    assert isinstance(outcome, Decision), outcome
    return outcome


def verdicts(screening: Screening, *facts: dict) -> dict[str, str]:
    return {c: v.verdict for c, v in decided(screening, *facts).verdicts.items()}


EARLY, LATE = course("2024-01-01", "2024-06-30"), course("2025-06-01", "2025-12-31")


@pytest.mark.parametrize("facts, expected", [
    # the earlier course's span ends 2024-08-29 (60 days after 2024-06-30)
    ([EARLY, LATE, event("progression", "2024-08-29")], {"E1": "MET", "E2": "NOT_MET",
                                                        "I1": "MET", "E4": "NOT_MET"}),
    ([EARLY, LATE, event("progression", "2024-08-30")], {"E1": "NOT_MET", "E2": "NOT_MET"}),
    ([EARLY, LATE, event("progression", "2024-06-30")], {"E1": "MET", "E2": "MET",
                                                        "I1": "NOT_MET", "E4": "MET"}),
    ([EARLY, LATE, event("progression", "2023-12-31")], {"E1": "NOT_MET", "E2": "NOT_MET"}),
    # the later course: not only the most recent counts, but the most recent does too
    ([EARLY, LATE, event("progression", "2026-02-28")], {"E1": "MET", "E2": "NOT_MET"}),
    # a progression known to the month straddles the span's last day; one lasting over it
    ([EARLY, event("progression", "2024-08")], {"E1": "UNKNOWN", "E2": "NOT_MET",
                                               "I1": "MET", "E4": "NOT_MET"}),
    ([EARLY, event("progression", "2024-09")], {"E1": "NOT_MET"}),
    ([EARLY, event("progression", "2023-11-01", "2024-01-01")], {"E1": "MET", "E2": "MET"}),
    # a course known to the month, or whose end is not recorded (it may still be going on)
    ([course("2024-01-01", "2024-06"), event("progression", "2024-08-15")], {"E1": "UNKNOWN"}),
    ([course("2024-01-01", "2024-06"), event("progression", "2024-07-30")], {"E1": "MET"}),
    ([course("2024-01-01"), event("progression", "2025-06-01")], {"E1": "UNKNOWN",
                                                                  "E2": "UNKNOWN"}),
    ([course("2024-01-01", ongoing=True), event("progression", "2026-02-01")],
     {"E1": "MET", "E2": "MET"}),
    # nothing recorded of either: unknown, but no known history is the open world
    ([EARLY], {"E1": "UNKNOWN", "I1": "MET", "E4": "NOT_MET"}),
    ([event("progression", "2024-08-01")], {"E1": "UNKNOWN", "I1": "UNKNOWN", "E4": "UNKNOWN"}),
    # either recorded as none: no pair, whatever the other
    ([none("lenalidomide")], {"E1": "NOT_MET", "E2": "NOT_MET", "E3": "NOT_MET", "I1": "MET"}),
    ([EARLY, none("progression")], {"E1": "NOT_MET", "I1": "MET", "E4": "NOT_MET"}),
    # the filter and grade on the item placed in a span
    ([EARLY, event("infection", "2024-07-30", grade=3, site="lung")], {"E3": "MET"}),
    ([EARLY, event("infection", "2024-07-31", grade=3, site="lung")], {"E3": "NOT_MET"}),
    ([EARLY, event("infection", "2024-07-10", grade=2, site="lung")], {"E3": "NOT_MET"}),
    ([EARLY, event("infection", "2024-07-10", grade=3, site="other")], {"E3": "NOT_MET"}),
    ([EARLY, event("infection", "2024-07-10", grade=3)], {"E3": "UNKNOWN"}),
    ([EARLY, event("infection", "2024-07-10", grade=3),
      event("infection", "2024-05-01", grade=4, site="lung")], {"E3": "MET"}),
])
def test_each_course_has_its_own_span(screening, facts, expected):
    found = verdicts(screening, *facts)
    assert {c: found[c] for c in expected} == expected


def test_the_trail_names_each_span_and_the_pair_that_counts(screening):
    outcome = decided(screening, EARLY, LATE, event("progression", "2024-08-20"))
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "each lenalidomide's span to 60 days after its end: lenalidomide 1 from 2024-01-01 " \
           "to 2024-08-29; lenalidomide 2 from 2025-06-01 to 2026-03-01; progression 1 falls in " \
           "the span of lenalidomide 1" in line
    outcome = decided(screening, course("2024-01-01", "2024-06"), event("progression", "2024-08-15"),
                      course("2025-01-01", ongoing=True))
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "lenalidomide 1 from 2024-01-01 to a day from 2024-07-31 to 2024-08-29; lenalidomide 2 " \
           "from 2025-01-01 on, as it goes on; progression 1 may fall in the span of lenalidomide " \
           "1 (their dates do not decide it)" in line


DAYS = st.integers(min_value=0, max_value=400)
BASE = date(2024, 1, 1)


@st.composite
def histories(draw) -> tuple[list[tuple[int, int]], list[tuple[int, int | None]], bool]:
    """A few progressions (first day, length) and courses (first day, length or still going)
    on days from 2024-01-01, and whether the courses' ends are given to the month only."""
    progressions = draw(st.lists(st.tuples(DAYS, st.integers(0, 20)), min_size=1, max_size=3,
                                 unique=True))
    courses = draw(st.lists(st.tuples(DAYS, st.one_of(st.none(), st.integers(0, 90))),
                            min_size=1, max_size=3, unique_by=lambda c: c[0]))
    return progressions, courses, draw(st.booleans())


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories())
def test_the_verdict_is_every_day_the_dates_allow(screening, drawn):
    """The network's verdict, and the trail's, against every pair worked out here with
    dateutil: a course's end given to the month spans that month's days (up to the day it
    started), and a progression counts surely when it overlaps a span on every such day."""
    progressions, courses, to_the_month = drawn
    facts, spans = [], []
    for first, length in courses:
        start = BASE + timedelta(days=first)
        if length is None:
            facts.append(course(start.isoformat(), ongoing=True))
            spans.append((start, date.max, date.max))
            continue
        end = start + timedelta(days=length)
        if to_the_month:
            month_end = (end.replace(day=1) + relativedelta(months=1)) - timedelta(days=1)
            earliest, latest = max(end.replace(day=1), start), month_end
            facts.append(course(start.isoformat(), end.strftime("%Y-%m")))
        else:
            earliest = latest = end
            facts.append(course(start.isoformat(), end.isoformat()))
        spans.append((start, earliest + relativedelta(days=60), latest + relativedelta(days=60)))
    screening_day = date.fromisoformat(SCREENING)
    for first, length in progressions:
        start = BASE + timedelta(days=first)
        facts.append(event("progression", start.isoformat(),
                           (start + timedelta(days=length)).isoformat()))
    sure = maybe = False
    for first, length in progressions:
        start = BASE + timedelta(days=first)
        end = start + timedelta(days=length)
        for begins, early, late in spans:
            sure |= end >= begins and start <= min(early, screening_day)
            maybe |= end >= begins and start <= late
    expected = "MET" if sure else "UNKNOWN" if maybe else "NOT_MET"
    outcome = decided(screening, *facts)
    assert outcome.verdicts["E1"].verdict == expected
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert ("falls in the span" in line) == sure


def _problems(condition: str) -> list[str]:
    head = 'protocol "t" version "1"\nconcepts:\n  p: event\n  l: medication {x}\n  d: date\n'
    return [f"{d.span.column} {d.message}" for d in check(parse(
        head + f'exclusion E1 "x": {condition}\n', "t.pr")) if d.code != "unused-concept"]


@pytest.mark.parametrize("condition, said", [
    ("p during any l", []),
    ("p during or within 3 months after any l", []),
    ("at least 2 p during any l",
     ["19 'during any l' places each item in a span of its own: 'at least N ...' with it is not "
      "supported; write 'during l' (its most recent) there"]),
    ("the latest p during any l",
     ["32 'the latest p' asks when the most recent one started: write 'more than' or 'at least' "
      "a duration before an anchor, not 'during any l' (for that, leave out 'the latest')"]),
    ("d during any l", ["19 'd' is a date, one day: it has no items to place in each span (a "
                        "history's items do)"]),
    ("p during any p", ["32 'during p' spans the most recent course or occurrence of another "
                        "event or medication; 'p' is the history itself: its most recent one "
                        "overlaps itself"]),
    ("p during any d", ["32 'during d' spans the most recent course or occurrence of another "
                        "event or medication; 'd' is a date"]),
])
def test_what_the_checks_say(condition, said):
    assert _problems(condition) == said


def test_many_courses_and_progressions(screening):
    """Two long lists, every pair overlapping: the engine takes the pairs in batches (its
    `cap`), and the verdict is the same as for one pair."""
    facts = [course("2020-01-01", (date(2021, 1, 1) + timedelta(days=i)).isoformat())
             for i in range(150)]
    facts += [event("progression", (date(2020, 6, 1) + timedelta(days=i)).isoformat())
              for i in range(150)]
    found = verdicts(screening, *facts)
    assert (found["E1"], found["E2"], found["I1"]) == ("MET", "MET", "NOT_MET")


def test_boundary_cases_on_each_course(capsys, tmp_path):
    """`edge-cases` gives two courses of its own, an earlier one whose span ends before the
    later one starts, and an occurrence on each edge of both spans, the month of the earlier
    span's last day, the courses recorded as none and not recorded, the filter and the grade;
    the network agrees with every case, for every criterion of the protocol (`no known` and
    `known` too)."""
    written, said = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": SCREENING, "facts": [
            EARLY, event("progression", "2024-08-20"),
            event("infection", "2024-07-10", grade=3, site="lung")]})
    assert "not generated" not in said, said
    cases = {block.split('"')[1]: block for block in written.split("  - name: ")[1:]}
    within = "progression during or within 60 days after any lenalidomide"
    spans = "lenalidomide from 2025-08-12 to 2025-09-26: its span to 2025-11-25; lenalidomide " \
        "from 2025-12-16 to 2026-01-30: its span to 2026-03-31"
    for day, what, verdict in (
            ("2025-11-25", "the last day of the earlier lenalidomide's span", "MET"),
            ("2025-11-26", "the day after the earlier lenalidomide's span", "NOT_MET"),
            ("2025-12-15", "the day before the later lenalidomide", "NOT_MET")):
        case = cases[f"progression on {day}, {what}: {within}"]
        assert spans in case and f"E1: {verdict}" in case, case
    assert "E1: UNKNOWN" in cases[f"progression in 2025-11 (known to the month), the month of "
                                  f"the earlier lenalidomide's span's last day: {within}"]


def test_the_trail_names_what_leaves_a_pair_open(screening):
    """A pair whose dates surely overlap, open for want of the item's site and grade: the trail
    names them, not the dates; a span whose start is known only to the month reads so."""
    outcome = decided(screening, EARLY, event("infection", "2024-06-01"))
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "infection 1 may fall in the span of lenalidomide 1 (not every infection records its " \
           "site or grade: the items do not decide it)" in line
    outcome = decided(screening, course("2024-01", "2024-06-30"), event("progression", "2024-01"))
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "lenalidomide 1 from a day from 2024-01-01 to 2024-01-31, to 2024-08-29" in line


def test_many_pairs_are_named_ten_at_most(screening):
    facts = [course("2020-01-01", (date(2021, 1, 1) + timedelta(days=i)).isoformat())
             for i in range(4)]
    facts += [event("progression", (date(2020, 6, 1) + timedelta(days=i)).isoformat())
              for i in range(3)]
    line = "".join(Recorder(screening.network).lines(decided(screening, *facts))[0])
    assert "progression 3 falls in the span of lenalidomide 2, and 2 more pairs" in line


def test_the_other_history_is_read_when_nothing_else_reads_it():
    """`during any y` alone reads y's facts: no other criterion names lenalidomide."""
    text = PROTOCOL.split("exclusion E1")[0] + "exclusion E2 \"x\":\n    progression during " \
        "any lenalidomide\n"
    alone = Screening(network_from_text(text, "alone.proto-rules"))
    assert verdicts(alone, EARLY, event("progression", "2024-03-01")) == {"E2": "MET"}
    assert verdicts(alone, none("lenalidomide")) == {"E2": "NOT_MET"}


def test_a_dose_per_kg_filter_reads_the_weight():
    """A filter on a dose per kg reads the patient's weight, as it does in any other window:
    60 mg/d for 60 kg is 1 mg/kg/d (the weight was not asked for, and the course was open)."""
    text = """protocol "wk" version "1"
concepts:
  weight: quantity in kg
  steroid: medication {prednisone} dosed in mg/kg/d per weight
  progression: event
exclusion E1 "x": steroid where dose >= 1 mg/kg/d during any progression
"""
    screening = Screening(network_from_text(text, "wk.proto-rules"))
    facts = [{"concept": "weight", "value": 60, "unit": "kg", "date": "2026-01-01"},
             {"concept": "steroid", "drug": "prednisone", "dose": 60, "unit": "mg/d",
              "date": "2026-01-01", "end": "2026-02-20"}, event("progression", "2026-02-01")]
    assert verdicts(screening, *facts) == {"E1": "MET"}
    assert verdicts(screening, *facts[1:]) == {"E1": "UNKNOWN"}


FILTERED = """protocol "nha" version "1"
concepts:
  nha: medication {enzalutamide, abiraterone} with setting {mhspc, mcrpc}
  progression: event with kind {psa, radiographic}
inclusion I6 "Progression on a prior NHA given for mCRPC":
    progression during any nha where setting is mcrpc
inclusion I7 "Radiographic progression on a prior NHA given for mCRPC":
    progression where kind is radiographic during any nha where setting is one of {mcrpc}
"""


@pytest.fixture(scope="module")
def filtered() -> Screening:
    return Screening(network_from_text(FILTERED, "nha.proto-rules"))


def nha(start: str, end: str | None, setting: str | None, drug: str = "enzalutamide") -> dict:
    return {"concept": "nha", "drug": drug, "date": start, **({"end": end} if end else
                                                               {"ongoing": True}),
            **({"setting": setting} if setting else {})}


SETTINGS = st.sampled_from([None, "mhspc", "mcrpc"])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(courses=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 60), SETTINGS),
                        min_size=1, max_size=3, unique_by=lambda c: c[0]),
       progressions=st.lists(st.tuples(st.integers(0, 400), st.sampled_from([None, "psa",
                                                                             "radiographic"])),
                             min_size=1, max_size=2, unique_by=lambda p: p[0]))
def test_a_filter_on_the_history_spanned(filtered, courses, progressions):
    """PROfound's "progression on a prior NHA for mCRPC": a course whose setting is not mCRPC
    spans nothing, one whose setting is not recorded may span, and the item's own filter reads
    as before; the network and the trail against every pair worked out here."""
    facts = [nha((BASE + timedelta(days=s)).isoformat(),
                 (BASE + timedelta(days=s + n)).isoformat(), setting)
             for s, n, setting in courses]
    facts += [{"concept": "progression", "date": (BASE + timedelta(days=p)).isoformat(),
               **({"kind": kind} if kind else {})} for p, kind in progressions]

    def expected(kinds: set[str] | None) -> str:
        sure = maybe = False
        for start, length, setting in courses:
            kept = {"mcrpc": True, None: None}.get(setting, False)
            for day, kind in progressions:
                kind_kept = True if kinds is None else {None: None}.get(kind, kind in kinds)
                if not (start <= day <= start + length) or False in (kept, kind_kept):
                    continue
                sure |= kept is True and kind_kept is True
                maybe = True
        return "MET" if sure else "UNKNOWN" if maybe else "NOT_MET"

    outcome = screen_one(filtered, facts, day="2026-06-30")
    assert isinstance(outcome, Decision)
    assert {c: outcome.verdicts[c].verdict for c in ("I6", "I7")} == \
        {"I6": expected(None), "I7": expected({"radiographic"})}
    for criterion in ("I6", "I7"):
        assert trail_status(filtered.network, outcome, criterion) == \
            STATUS[outcome.verdicts[criterion].verdict]


def test_a_filter_on_the_history_spanned_reads_its_attributes():
    head = ('protocol "t" version "1"\nconcepts:\n  p: event\n'
            '  l: medication {x} with setting {a, b}\n')
    found = [d.message for d in check(parse(
        head + 'exclusion E1 "x": p during any l where line is 2\n', "t.pr"))
        if d.code != "unused-concept"]
    assert len(found) == 1 and "'line'" in found[0] and "'l'" in found[0], found
