"""Numbers a history's items record: `lesion: event with diameter in mm`, `chemo: medication
{...} with cycles number`, filtered by comparison (`lesion where diameter >= 10 mm ...`).

A quantity is given as `{"value": 12, "unit": "mm"}` or `"12 mm"` and converted exactly into the
declared unit (a bare number is refused: its unit would be a guess); a plain number as itself.
An item that does not record the number may or may not pass: it never makes the condition true
and keeps it UNKNOWN unless another item decides it, as for an attribute of values. Each case
runs the real parser, checks, normaliser and network.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.recorder import Recorder
from engine.run import Decision, Rejected, Screening
from grammar.parser import parse
from protocol.checks import check
from protocol.errors import ProtocolError
from tests.conftest import boundary_cases, network_from_text, screen_one

PROTOCOL = """protocol "numbers" version "1"
concepts:
  lesion: event with diameter in mm with site {lymph_node, other}
  chemo: medication {cisplatin, carboplatin} with cycles number
inclusion I1 "A lesion of at least 10 mm within 28 days":
    lesion where diameter >= 10 mm within 28 days before screening
exclusion E1 "More than 6 cycles of platinum": chemo where cycles > 6 ever
exclusion E2 "Two lymph nodes of 1.5 cm or more":
    at least 2 lesion where site is lymph_node and diameter >= 1.5 cm ever
exclusion E3 "A lesion other than a lymph node": lesion other than {lymph_node} ever
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "numbers.proto-rules"))


def lesion(diameter: Any = None, site: str | None = None, day: str = "2026-06-01") -> dict:
    fact: dict[str, Any] = {"concept": "lesion", "date": day}
    if diameter is not None:
        fact["diameter"] = diameter
    if site is not None:
        fact["site"] = site
    return fact


def chemo(cycles: Any = None) -> dict:
    fact: dict[str, Any] = {"concept": "chemo", "drug": "cisplatin", "date": "2025-01-06",
                            "end": "2025-04-30"}
    if cycles is not None:
        fact["cycles"] = cycles
    return fact


def verdicts(screening: Screening, *facts: dict) -> dict[str, str]:
    outcome = screen_one(screening, facts, day="2026-06-10")
    assert isinstance(outcome, Decision), outcome
    return {c: v.verdict for c, v in outcome.verdicts.items()}


@pytest.mark.parametrize("facts, expected", [
    ([lesion({"value": 12, "unit": "mm"})], "MET"),
    ([lesion("12 mm")], "MET"),
    ([lesion({"value": 1, "unit": "cm"})], "MET"),  # exactly 10 mm: at the threshold
    ([lesion({"value": 0.99, "unit": "cm"})], "NOT_MET"),
    ([lesion()], "UNKNOWN"),  # not recorded: it may or may not be 10 mm
    ([lesion(), lesion("5 mm", day="2026-06-02")], "UNKNOWN"),
    ([lesion(), lesion("11 mm", day="2026-06-02")], "MET"),
    ([lesion("12 mm", day="2026-04-01")], "NOT_MET"),  # outside the window
])
def test_a_number_filters_the_items(screening, facts, expected):
    assert verdicts(screening, *facts)["I1"] == expected


@pytest.mark.parametrize("cycles, expected", [(7, "MET"), (6, "NOT_MET"), (None, "UNKNOWN")])
def test_a_plain_number(screening, cycles, expected):
    assert verdicts(screening, chemo(cycles))["E1"] == expected


@pytest.mark.parametrize("written, expected", [
    ("6.0000004", "NOT_MET"), ("6.0000005", "NOT_MET"), ("6.00000000000000001", "NOT_MET"),
    ("6.0000006", "MET"), ("6.000001", "MET"), ("6.00000099999999999", "MET")])
def test_a_plain_number_is_rounded_to_six_places(screening, written, expected):
    """As every value is before it is compared, however many digits the file gives: 6.0000004
    is 6, 6.0000005 is 6 (half to even), 6.0000006 is 6.000001; never a float's reading of
    17 digits."""
    record = json.loads('{"patient": "p", "screening_date": "2026-06-10", "facts": [{"concept": '
                        '"chemo", "drug": "cisplatin", "date": "2025-01-06", "end": '
                        f'"2025-04-30", "cycles": {written}}}]}}', parse_float=Decimal)
    (outcome,) = screening.screen([(1, record)], "numbers.jsonl")
    assert outcome.verdicts["E1"].verdict == expected


def test_counted_items_and_other_than(screening):
    nodes = [lesion("15 mm", "lymph_node", "2026-05-01"), lesion("2 cm", "lymph_node")]
    assert verdicts(screening, *nodes)["E2"] == "MET"
    assert verdicts(screening, nodes[0], lesion("14.9 mm", "lymph_node"))["E2"] == "NOT_MET"
    assert verdicts(screening, nodes[0], lesion(None, "lymph_node"))["E2"] == "UNKNOWN"
    # `other than` reads the first attribute of values (site), not the number
    assert verdicts(screening, lesion("6 cm", "other"))["E3"] == "MET"
    assert verdicts(screening, lesion(None, "lymph_node"))["E3"] == "NOT_MET"


@pytest.mark.parametrize("fact, message", [
    (lesion(12), "lesion's diameter is measured in mm: give {\"value\": ..., \"unit\": ...} or "
                 "\"12 mm\", found 12"),
    (lesion("12mm"), "lesion's diameter is measured in mm: give {\"value\": ..., \"unit\": ...} "
                     "or \"12 mm\", found \"12mm\""),
    (lesion({"value": 12, "unit": "kg"}), "lesion's diameter: cannot convert kg (mass) to mm "
                                           "(length)"),
    (chemo("six"), "chemo's cycles is a number: expected one, found \"six\""),
    (chemo(True), "chemo's cycles is a number: expected one, found true"),
])
def test_a_number_that_cannot_be_read_is_an_input_error(screening, fact, message):
    outcome = screen_one(screening, [fact], day="2026-06-10")
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == [message]


def test_the_trail_shows_each_items_number(screening):
    outcome = screen_one(screening, [lesion("1.2 cm", "other"), chemo()], day="2026-06-10")
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "lesion: occurred, diameter 12 mm, site other (2026-06-01; single day)" in line
    assert "chemo: cisplatin, cycles not recorded" in line


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=400), st.sampled_from(["mm", "cm"]))
def test_the_verdict_is_the_exact_comparison(screening, tenths, unit):
    """A diameter in tenths of its unit: converted exactly into mm, compared with 10 mm."""
    value = Decimal(tenths) / 10
    millimetres = value * (10 if unit == "cm" else 1)
    expected = "MET" if millimetres >= 10 else "NOT_MET"
    assert verdicts(screening, lesion(f"{value} {unit}"))["I1"] == expected


# --- what the checks say --------------------------------------------------------------------------

HEAD = 'protocol "t" version "1"\nconcepts:\n  lesion: event with diameter in mm with site ' \
       '{lymph_node, other}\n  chemo: medication {cisplatin} with cycles number\n'


def problems(condition: str, head: str = HEAD) -> list[str]:
    text = head + f'inclusion I1 "x": {condition}\n'
    return [f"{d.span.column} {d.message}" for d in check(parse(text, "t.pr"))
            if d.code != "unused-concept"]


@pytest.mark.parametrize("condition, said", [
    ("lesion where diameter is 10 ever",
     "32 lesion diameter is a number: compare it with a threshold, like 'diameter >= 10 mm'"),
    ("lesion where site >= 10 ever",
     "32 lesion site is one of a set of values: name them, like 'site is lymph_node'"),
    ("lesion where diameter >= 10 ever", "44 lesion diameter needs a unit, e.g. 10 mm"),
    ("lesion where diameter >= 10 kg ever", "44 lesion diameter is measured in mm; 10 kg is a "
                                            "mass"),
    ("chemo where cycles > 6 mm ever",
     "40 chemo cycles is a plain number: write the threshold without a unit, not mm"),
    ("at least 2 diameters of lesion ever", "19 '2 diameters of lesion' counts the different "
     "values of its diameter, a number (each item may record another): count items, or compare "
     "it in a filter"),
])
def test_what_a_filter_on_a_number_may_say(condition, said):
    assert said in problems(condition)


def test_a_clean_protocol_and_an_unknown_unit():
    assert problems("lesion where diameter >= 1 cm ever") == []
    head = HEAD.replace("in mm", "in mmm")
    assert "17 unknown unit 'mmm'" in problems("chemo where cycles > 6 ever", head)


def test_boundary_cases_move_the_number_to_its_threshold(capsys, tmp_path):
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-06-10", "facts": [lesion("12 mm", "other"),
                                                                  chemo(4)]})
    for name in ("diameter 9.999999 mm", "diameter not recorded", "cycles 6",
                 "one with diameter 14.999999 mm"):
        assert name in text, name


@pytest.mark.parametrize("declared, clause", [
    ("with diameter in mm", lambda i: f"diameter >= {i} mm"),
    (" ".join(f"with a{i} {{x, y}}" for i in range(1, 41)), lambda i: f"a{i} is x"),
])
def test_a_filter_too_large_for_the_engine_is_refused_before_it_is_built(declared, clause):
    """Each clause an item may or may not pass doubles the rules on the item (2^40 for 40
    clauses): they are counted before any is made, and the criterion is refused at once."""
    text = f'protocol "t" version "1"\nconcepts:\n  lesion: event {declared}\n' \
           f'inclusion I1 "x": lesion where {" and ".join(clause(i) for i in range(1, 41))} ever\n'
    with pytest.raises(ProtocolError) as refused:
        network_from_text(text)
    assert "I1 has a condition larger than the engine's rules hold (it would take more than " \
           "256 rules); split it into definitions" in str(refused.value)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12) |
                    st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=3) |
                    st.dictionaries(st.sampled_from(["value", "unit", "x"]), inner, max_size=3),
                    max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(JSON, JSON)
def test_any_value_given_for_a_number_is_a_decision_or_an_input_error(screening, diameter, cycles):
    """Whatever a fact file gives for a recorded number, the patient is decided or set aside
    with the field named: never a traceback, never a guess."""
    facts = [lesion(diameter if diameter is not None else "1 cm"),
             chemo(cycles if cycles is not None else 1)]
    outcome = screen_one(screening, facts, day="2026-06-10")  # read as a fact file is
    if isinstance(outcome, Rejected):
        assert outcome.problems and all((p.field or "").split(".")[0] in ("diameter", "cycles")
                                        for p in outcome.problems), outcome.problems
    else:
        assert isinstance(outcome, Decision)
