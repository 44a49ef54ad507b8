"""`the latest X <window>` at its boundaries: the most recent item (by its start) must have
started `more than` / `at least` a duration before the anchor, so an older item beside a too recent
one does not count (as it would for `X more than ...`); on the bound, the day after, a date known
to the month across it, a filter, none recorded, nothing recorded, a missing anchor; the trail
agrees with the network and says which item decided it.

First dose 2026-06-15: "more than 6 months before" is a start before 2025-12-15.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.run import Decision, Screening
from grammar.parser import parse
from protocol import model as m
from protocol.checks import check
from protocol.amend.diff import diff
from tests.conftest import assert_trail_agrees, judged, network_from_text, screen_one

PROTOCOL = """protocol "latest" version "1"
concepts:
  first_dose: date
  allo_sct: event with donor {sibling, unrelated}
inclusion L1 "> 6 months from the most recent SCT":
    the latest allo_sct more than 6 months before first_dose
inclusion L2 "the most recent sibling transplant at least 6 months before":
    the most recent allo_sct where donor is sibling at least 6 months before first_dose
inclusion A1 "any SCT more than 6 months before (for contrast)":
    allo_sct more than 6 months before first_dose
"""
FIRST_DOSE = {"concept": "first_dose", "value": "2026-06-15"}


def sct(day: str, donor: str = "sibling") -> dict[str, Any]:
    return {"concept": "allo_sct", "date": day, "donor": donor}


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "latest.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


CASES = [
    ("one old", [FIRST_DOSE, sct("2019-03-02")], ("MET", "MET", "MET")),
    ("an old and a too recent one", [FIRST_DOSE, sct("2019-03-02"), sct("2026-01-10")],
     ("NOT_MET", "NOT_MET", "MET")),
    ("the day before the bound", [FIRST_DOSE, sct("2025-12-14")], ("MET", "MET", "MET")),
    ("on the bound: strict and inclusive differ", [FIRST_DOSE, sct("2025-12-15")],
     ("NOT_MET", "MET", "NOT_MET")),
    ("the day after the bound", [FIRST_DOSE, sct("2025-12-16")], ("NOT_MET", "NOT_MET", "NOT_MET")),
    ("known to the month across the bound", [FIRST_DOSE, sct("2019-03-02"), sct("2025-12")],
     ("UNKNOWN", "UNKNOWN", "MET")),
    ("known to the month, all before the bound", [FIRST_DOSE, sct("2025-11")],
     ("MET", "MET", "MET")),
    ("the too recent one is not the filtered donor",
     [FIRST_DOSE, sct("2019-03-02"), sct("2026-01-10", "unrelated")], ("NOT_MET", "MET", "MET")),
    ("donor not recorded on the recent one",
     [FIRST_DOSE, sct("2019-03-02"), {"concept": "allo_sct", "date": "2026-01-10"}],
     ("NOT_MET", "UNKNOWN", "MET")),
    ("only an unrelated donor", [FIRST_DOSE, sct("2019-03-02", "unrelated")],
     ("MET", "NOT_MET", "MET")),
    ("none recorded", [FIRST_DOSE, {"concept": "allo_sct", "present": False}],
     ("NOT_MET", "NOT_MET", "NOT_MET")),
    ("nothing recorded", [FIRST_DOSE], ("UNKNOWN", "UNKNOWN", "UNKNOWN")),
    ("no first dose", [sct("2019-03-02")], ("UNKNOWN", "UNKNOWN", "UNKNOWN")),
    ("no first dose, none recorded", [{"concept": "allo_sct", "present": False}],
     ("NOT_MET", "NOT_MET", "NOT_MET")),
]


@pytest.mark.parametrize("name, facts, expected", CASES, ids=[c[0] for c in CASES])
def test_latest_boundaries(network, screening: Screening, name: str,
                           facts: list[dict[str, Any]], expected: tuple[str, ...]) -> None:
    result = screen_one(screening, facts, path="latest.jsonl")
    assert isinstance(result, Decision), result
    assert_trail_agrees(network, result, dict(zip(("L1", "L2", "A1"), expected)))


def test_evidence_names_the_bound_and_what_decided(network, screening: Screening) -> None:
    result = screen_one(screening, [FIRST_DOSE, sct("2019-03-02"), sct("2026-01-10")])
    detail = judged(network, result, "L1")["detail"]
    assert detail.endswith("started on or after 2025-12-15 (first_dose 2026-06-15): one, "
                           "the latest is too recent")


def test_both_spellings_parse_to_one_atom() -> None:
    protocol = parse(PROTOCOL, "latest.proto-rules")
    first, second = (leaf.condition for leaf in protocol.leaves()[:2])
    assert isinstance(first, m.Latest) and isinstance(second, m.Latest)
    assert second.occurred.filters[0].attribute.name == "donor"


def test_latest_needs_a_window_on_the_start_before_an_anchor() -> None:
    head = PROTOCOL.split("inclusion")[0] + "  flag_a: flag\n"
    found = []
    for condition in ("the latest allo_sct within 6 months before first_dose",
                      "the latest allo_sct ever", "the latest flag_a ever",
                      "the latest allo_sct more than 6 months after first_dose"):
        found += [f"{d.span.line}:{d.span.column} {d.code}: {d.message}" for d in check(
            parse(head + f'inclusion I1 "x": {condition}\n', "l.pr"))
            if d.code != "unused-concept"]
    assert found == [
        "6:39 latest-window: 'the latest allo_sct' asks when the most recent one started: write "
        "'more than' or 'at least' a duration before an anchor, not 'within 6 months before "
        "first_dose' (for that, leave out 'the latest')",
        "6:39 latest-window: 'the latest allo_sct' asks when the most recent one started: write "
        "'more than' or 'at least' a duration before an anchor, not 'ever' (for that, leave out "
        "'the latest')",
        "6:30 type-mismatch: 'flag_a' is a flag: only an event or medication has a latest "
        "occurrence",
        "6:39 latest-window: 'the latest allo_sct' asks when the most recent one started: write "
        "'more than' or 'at least' a duration before an anchor, not 'more than 6 months after "
        "first_dose' (for that, leave out 'the latest')",
    ]


def test_amendment_diff_names_a_window_change() -> None:
    head = PROTOCOL.split("inclusion")[0]
    found = diff(parse(head + 'inclusion I1 "x": the latest allo_sct more than 6 months before '
                       'first_dose', "a"),
                 parse(head + 'inclusion I1 "x": the latest allo_sct more than 3 months before '
                       'first_dose', "b"))
    assert [change.kind for entry in found.entries for change in entry.changes] == ["window"]
