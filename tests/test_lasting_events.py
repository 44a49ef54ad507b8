"""An event that lasts: `hepatitis_b: event lasting`. An occurrence recorded with its first day
only may still be going on, as a course of a medication without an end may ("active hepatitis B"
from a diagnosis date is not read as over the same day); another event with one date is of that
day (a myocardial infarction). A property test reads the same dates as a medication's courses,
whose reading the README already gives, and compares every verdict.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Screening
from grammar.parser import parse
from tests.conftest import (STATUS, boundary_cases, decided, judged, network_from_text,
                            occurrence)

CONDITIONS = ["{x} at screening", "{x} within 30 days before screening", "{x} ever",
              "{x} during chemo", "no known {x} within 30 days before screening",
              "{x} at least 1 year before screening", "the latest {x} more than 1 year before "
              "screening", "at least 2 {x} within 2 years before screening"]
PROTOCOL = """protocol "lasting" version "1"
concepts:
  hepatitis_b: event lasting "chronic hepatitis B"
  mi: event
  lasting_as_course: medication {any}
  chemo: medication {cisplatin}
""" + "".join(f'exclusion H{i} "x": {c.format(x="hepatitis_b")}\n'
              f'exclusion M{i} "x": {c.format(x="mi")}\n'
              f'exclusion C{i} "x": {c.format(x="lasting_as_course")}\n'
              for i, c in enumerate(CONDITIONS)) + \
    'exclusion A1 "x": mi within 30 days after the end of hepatitis_b\n'
SCREENING = "2026-06-01"
CHEMO = {"concept": "chemo", "drug": "cisplatin", "date": "2026-01-01", "ongoing": True}


def event(name: str, start: str, end: str | None = None) -> dict[str, Any]:
    return occurrence(name, start, end, **({"drug": "any"} if name == "lasting_as_course" else {}))


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "lasting.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def test_a_diagnosis_date_alone_leaves_a_lasting_event_open(network, screening) -> None:
    """Hepatitis B diagnosed in March: at screening it may still be active (UNKNOWN), where an
    MI of that day is over (NOT_MET); either is within 30 days only if it may reach them."""
    result = decided(screening, [CHEMO, event("hepatitis_b", "2026-03-01"),
                                 event("mi", "2026-03-01")], day=SCREENING)
    verdicts = {c: result.verdicts[c].verdict for c in ("H0", "M0", "H1", "M1", "H2", "M2")}
    assert verdicts == {"H0": "UNKNOWN", "M0": "NOT_MET", "H1": "UNKNOWN", "M1": "NOT_MET",
                        "H2": "MET", "M2": "MET"}
    detail = judged(network, result, "H0")["detail"]
    assert detail.startswith("hepatitis_b: occurred (2026-03-01; end not recorded)"), detail
    assert judged(network, result, "M0")["detail"].startswith(
        "mi: occurred (2026-03-01; single day)")


@pytest.mark.parametrize("end, verdict", [("ongoing", "MET"), ("2026-04-01", "NOT_MET"),
                                          ("2026-05", "NOT_MET"), ("2026-06", "MET"),
                                          ("2026", "UNKNOWN"), ("2026-06-01", "MET")])
def test_its_end_or_ongoing_decides_it(screening, end: str, verdict: str) -> None:
    result = decided(screening, [CHEMO, event("hepatitis_b", "2026-03-01", end)], day=SCREENING)
    assert result.verdicts["H0"].verdict == verdict


STARTS = ["2024-01-01", "2025-05-20", "2025-06", "2026-03-01", "2026-05-20", "2026-05"]
ENDS = [None, "ongoing", "2025-12-31", "2026-05-01", "2026-05-15", "2026-05", "2026-06-01"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STARTS), st.sampled_from(ENDS)), min_size=1,
                max_size=2, unique=True))
def test_read_as_a_courses_dates_are(network, screening, occurrences) -> None:
    """Every condition on the lasting event decides as it does on a medication's courses of the
    same dates, in the network and in the trail."""
    from engine.dates import days_of_text
    if any(end not in (None, "ongoing") and days_of_text(end)[1] < days_of_text(start)[0]
           for start, end in occurrences):
        return  # ends before it starts: refused alike
    facts = [CHEMO] + [event(name, start, end) for start, end in occurrences
                       for name in ("hepatitis_b", "lasting_as_course")]
    result = decided(screening, facts, day=SCREENING)
    for i in range(len(CONDITIONS)):
        lasting, course = result.verdicts[f"H{i}"].verdict, result.verdicts[f"C{i}"].verdict
        assert lasting == course, (CONDITIONS[i], occurrences)
        assert judged(network, result, f"H{i}")["status"] == STATUS[lasting], \
            (CONDITIONS[i], occurrences)


def test_declared_with_grades_attributes_and_plans() -> None:
    protocol = parse('protocol "t" version "1"\nconcepts:\n  a: event graded lasting with '
                     'site {lung}\n  b: planned event lasting\n  c: event\ninclusion I1 "x": a '
                     'ever and b within 1 month after screening and c ever\n', "t.proto-rules")
    a, b, c = protocol.concepts
    assert (a.graded, a.lasting, a.runs_on, [x.name for x in a.attributes]) == \
        (True, True, True, ["site"])
    assert (b.planned, b.lasting, c.lasting, c.runs_on) == (True, True, False, False)


def test_boundary_cases_pass(capsys, tmp_path) -> None:
    base = {"patient": "base", "screening_date": SCREENING,
            "facts": [CHEMO, event("hepatitis_b", "2026-03-01"), event("mi", "2026-03-01"),
                      event("lasting_as_course", "2026-03-01")]}
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    assert "hepatitis_b with no end recorded" in text
