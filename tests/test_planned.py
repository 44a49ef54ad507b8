"""A planned event: `planned_cardiac_procedure: planned event` and `planned_cardiac_procedure
within 3 months after screening` (EMPA-REG E3's "planned cardiac surgery or angioplasty within 3
months").

A history's facts dated after the screening date are set aside (nothing recorded at screening
can have happened later); a planned event's occurrences are plans, read whatever their date,
and every window means what it means for any history. A plan without a date is planned for some
day from screening on. It has no most recent occurrence to count from or span: `check` refuses
`the latest`, an anchor on its start or end, `during` it, and counting it as an event.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Decision, Screening
from grammar.parser import parse
from protocol import model as m
from protocol.amend.diff import diff
from protocol.errors import ProtocolError
from tests.conftest import (assert_trail_agrees, boundary_cases, checked, judged,
                            network_from_text, screen_one)

PROTOCOL = """protocol "p" version "1"
concepts:
    planned_cardiac_procedure: planned event with type {surgery, angioplasty}
        "cardiac surgery or angioplasty planned"
    cardiac_procedure: event with type {surgery, angioplasty}
    first_dose: date
exclusion E3 "Planned cardiac surgery or angioplasty within 3 months":
    planned_cardiac_procedure within 3 months after screening
exclusion E4 "Surgery planned in the 28 days before the first dose":
    planned_cardiac_procedure where type is surgery within 28 days before first_dose
exclusion E5 "Two planned procedures within a year":
    at least 2 planned_cardiac_procedure within 12 months after screening
exclusion E6 "A cardiac procedure within 3 months after screening":
    cardiac_procedure within 3 months after screening
"""
SCREENING = "2026-03-10"  # 3 months after: 2026-06-10


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL))


def decided(screening: Screening, *plans: dict, none: bool = False,
            first_dose: str | None = "2026-03-20") -> Decision:
    facts: list[dict] = [{"concept": "first_dose", "value": first_dose}] if first_dose else []
    facts += [{"concept": "planned_cardiac_procedure", **plan} for plan in plans]
    if none:
        facts.append({"concept": "planned_cardiac_procedure", "present": False})
    facts.append({"concept": "cardiac_procedure", "present": False})
    result = screen_one(screening, facts, day=SCREENING)
    assert isinstance(result, Decision)
    return result


def test_planned_is_a_kind_of_event() -> None:
    concept = parse(PROTOCOL, "p.proto-rules").concept("planned_cardiac_procedure")
    assert concept is not None and concept.kind is m.Kind.EVENT and concept.planned
    graded = parse('protocol "p" version "1"\nconcepts:\n    x: planned event graded\n'
                   'exclusion E1 "x": x with grade >= 2 ever\n', "p.proto-rules").concept("x")
    assert graded is not None and graded.planned and graded.graded


@pytest.mark.parametrize("plan, e3, e4, shown", [
    ({"date": "2026-05-01", "type": "surgery"}, "MET", "NOT_MET", "planned, type surgery "
     "(2026-05-01; single day) (window from 2026-03-10 to 2026-06-10; screening 2026-03-10)"),
    ({"date": "2026-06-10"}, "MET", "NOT_MET", "(2026-06-10; single day)"),  # the last day
    ({"date": "2026-06-11"}, "NOT_MET", "NOT_MET", "(2026-06-11; single day)"),
    ({"date": "2026-06"}, "UNKNOWN", "NOT_MET", "(2026-06; a single day of it)"),  # straddles the edge
    ({"date": "2026-04"}, "MET", "NOT_MET", "(2026-04; a single day of it)"),
    ({"date": "2026-03-15", "type": "surgery"}, "MET", "MET", "(2026-03-15; single day)"),
    # a plan dated before screening is still read: inside the 28 days before the first dose
    ({"date": "2026-03-01", "type": "surgery"}, "NOT_MET", "MET", "(2026-03-01; single day)"),
    # no date: planned for some day from screening on
    ({"type": "surgery"}, "UNKNOWN", "UNKNOWN", "planned, type surgery (date unknown)"),
])
def test_a_plan_is_read_whatever_its_date(screening, plan, e3, e4, shown) -> None:
    result = decided(screening, plan)
    assert_trail_agrees(screening.network, result, {"E3": e3, "E4": e4})
    assert shown in judged(screening.network, result, "E3")["detail"]


def test_an_event_after_screening_is_set_aside_but_a_plan_is_not(screening) -> None:
    facts = [{"concept": "first_dose", "value": "2026-03-20"},
             {"concept": "planned_cardiac_procedure", "date": "2026-05-01"},
             {"concept": "cardiac_procedure", "date": "2026-05-01"}]
    result = screen_one(screening, facts, day=SCREENING)
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result, {"E3": "MET", "E6": "UNKNOWN"})
    assert [str(w) for w in result.patient.warnings] == [
        "patient.jsonl:1, patient p, fact #3, field 'date': warning: dated 2026-05-01, after the "
        "screening date 2026-03-10: set aside"]


def test_none_planned_and_nothing_recorded(screening) -> None:
    assert_trail_agrees(screening.network, decided(screening, none=True),
                        {"E3": "NOT_MET", "E4": "NOT_MET", "E5": "NOT_MET"})
    assert_trail_agrees(screening.network, decided(screening),
                        {"E3": "UNKNOWN", "E4": "UNKNOWN", "E5": "UNKNOWN"})


def test_plans_are_counted(screening) -> None:
    two = decided(screening, {"date": "2026-05-01"}, {"date": "2027-03-10"})
    assert_trail_agrees(screening.network, two, {"E5": "MET"})
    late = decided(screening, {"date": "2026-05-01"}, {"date": "2027-03-11"})
    assert_trail_agrees(screening.network, late, {"E5": "NOT_MET"})
    undated = decided(screening, {"date": "2026-05-01"}, {"type": "angioplasty"})
    assert_trail_agrees(screening.network, undated, {"E5": "UNKNOWN"})


CONCEPTS = ("    plan: planned event\n    surgery: event\n    steroid: medication {prednisone}\n")


@pytest.mark.parametrize("text, said", [
    ("the latest plan within 3 months after screening", "6:30 'plan' is a planned event, whose "
     "occurrences may lie after screening: plans have no most recent one (say when it is "
     "planned: 'plan within 3 months after screening')"),
    ("steroid within 7 days before the start of plan", "6:61 a window counts from the start of "
     "the most recent occurrence of a history; 'plan' is a planned event, whose occurrences may "
     "lie after screening"),
    ("steroid during plan", "6:34 'during plan' spans the most recent course or occurrence of "
     "another event or medication; 'plan' is a planned event, whose occurrences may lie after "
     "screening"),
])
def test_what_a_plan_cannot_be(text, said) -> None:
    assert said in checked(CONCEPTS, text)


def test_a_plan_does_not_count_as_an_occurrence() -> None:
    said = checked("    surgery: event\n    planned_surgery: planned event counts as surgery\n",
                   "surgery ever and planned_surgery ever")
    assert said == ["4:46 'planned_surgery' counts as 'surgery', but 'planned_surgery' is "
                    "planned and 'surgery' is not: a plan is not an occurrence"]


def test_an_event_made_planned_is_a_changed_kind() -> None:
    old = parse(PROTOCOL.replace("planned_cardiac_procedure: planned event",
                                 "planned_cardiac_procedure: event"), "p.proto-rules")
    new = parse(PROTOCOL, "p.proto-rules")
    (entry,) = [e for e in diff(old, new).entries if e.subject == "concept"]
    assert [(c.kind, c.old, c.new) for c in entry.changes] == [("kind", "event",
                                                                "planned event")]


def test_boundary_cases(capsys, tmp_path) -> None:
    base = {"patient": "b", "screening_date": SCREENING, "facts": [
        {"concept": "first_dose", "value": "2026-03-20"},
        {"concept": "planned_cardiac_procedure", "date": "2026-05-01", "type": "surgery"},
        {"concept": "cardiac_procedure", "present": False}]}
    cases, said = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    assert "55 boundary cases from b" in said
    for name in ("planned_cardiac_procedure on 2026-06-10: the last day inside of "
                 "planned_cardiac_procedure within 3 months after screening",
                 "planned_cardiac_procedure on 2026-06-11: the day after the window of "
                 "planned_cardiac_procedure within 3 months after screening",
                 "planned_cardiac_procedure in 2026-06 (known to the month): "
                 "planned_cardiac_procedure within 3 months after screening",
                 "planned_cardiac_procedure without a date: planned_cardiac_procedure within 3 "
                 "months after screening"):
        assert f'  - name: "{name}"' in cases


PLAN = st.fixed_dictionaries({}, optional={
    "date": st.sampled_from(["2026-01-15", "2026-03", "2026-03-09", "2026-03-10", "2026-03-21",
                             "2026-06", "2026-06-10", "2026-06-11", "2027", "2027-03-10"]),
    "type": st.sampled_from(["surgery", "angioplasty"])})


@settings(max_examples=60, deadline=None)
@given(st.lists(PLAN, max_size=3), st.booleans(),
       st.sampled_from([None, "2026-03-01", "2026-03-20", "2026-07-01"]))
def test_the_network_and_the_trail_agree_on_any_plans(screening, plans, none,
                                                       first_dose) -> None:
    """Plans dated to the day, the month or the year, before or after screening, or not at
    all, with or without a type, recorded as none, with or without a first dose: every
    criterion's verdict is the trail's."""
    facts: list[dict] = [{"concept": "first_dose", "value": first_dose}] if first_dose else []
    facts += [{"concept": "planned_cardiac_procedure", **plan} for plan in plans]
    if none and not plans:
        facts.append({"concept": "planned_cardiac_procedure", "present": False})
    result = screen_one(screening, facts, day=SCREENING)
    if not isinstance(result, Decision):  # the same plan twice: a duplicate
        return
    assert_trail_agrees(screening.network, result,
                        {c: v.verdict for c, v in result.verdicts.items()})


def test_the_editor_offers_planned_and_says_a_plan_is_planned() -> None:
    from lsp import features  # noqa: PLC0415 -- only this test drives the editor

    analysis = features.analyse(PROTOCOL, "p.proto-rules")
    line = PROTOCOL.splitlines().index("    planned_cardiac_procedure within 3 months after "
                                       "screening")
    found = features.hover(analysis, line, 6)
    assert found is not None
    assert found.contents.value.startswith("**planned_cardiac_procedure**: planned event")
    typing = 'protocol "p" version "1"\nconcepts:\n    plan: '
    offered = features.completion(features.analyse(typing, "p.proto-rules"), 2, 10)
    assert {"planned", "event"} <= {item.label for item in offered}


def test_only_an_event_is_planned() -> None:
    with pytest.raises(ProtocolError) as raised:
        parse('protocol "p" version "1"\nconcepts:\n    plan: planned medication {x}\n',
              "p.proto-rules")
    assert str(raised.value).startswith("p.proto-rules:3:19: error: unexpected 'medication'; "
                                        "expected 'event'")


def test_boundary_cases_during_another_history(capsys, tmp_path) -> None:
    """A plan during another history's most recent item (or within a month after it), and
    counted there: its days may follow screening, and the cases' expectations read them so."""
    text = ('protocol "p" version "1"\nconcepts:\n    planned_surgery: planned event\n'
            '    anticoagulant: medication {warfarin}\n'
            'exclusion E1 "x": planned_surgery during or within 1 month after anticoagulant\n'
            'exclusion E2 "y": at least 2 planned_surgery during anticoagulant\n')
    base = {"patient": "b", "screening_date": SCREENING, "facts": [
        {"concept": "anticoagulant", "drug": "warfarin", "date": "2025-12-01",
         "end": "2026-01-20"},
        {"concept": "planned_surgery", "date": "2026-04-01"}]}
    cases, said = boundary_cases(capsys, tmp_path, text, base)
    assert "46 boundary cases from b\n" in said
    for name in ("planned_surgery on 2026-02-20, 1 month after the end of anticoagulant: "
                 "planned_surgery during or within 1 month after anticoagulant",
                 "planned_surgery on 2026-02-21, anticoagulant still going on: planned_surgery "
                 "during or within 1 month after anticoagulant",
                 "2 items that count, anticoagulant still going on: at least 2 planned_surgery "
                 "during anticoagulant"):
        assert f'  - name: "{name}"' in cases, name
