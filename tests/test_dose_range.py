"""A dose between two bounds: `methotrexate dose at screening 7.5 to 25 mg/wk` ("methotrexate
7.5 to 25 mg/week"), and a cumulative, average or highest daily dose in a range. Both bounds are
counted. It is the dose compared with each bound, joined by `and`: a property test checks that
this is decided exactly where the range is, for a total known exactly or only within bounds
(a course whose end is known to the month, a course without a dose).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.evidence import Explainer, criterion_parts
from engine.compile import Network
from engine.run import Decision, Screening
from grammar.parser import parse
from protocol import model as m
from tests.conftest import (STATUS, boundary_cases, decided, load_errors, network_from_text,
                            occurrence)

PROTOCOL = """protocol "ranges" version "1"
concepts:
  methotrexate: medication {methotrexate} dosed in mg/wk
  glucocorticoid: medication {prednisone, methylprednisolone} dosed in mg/d as prednisone_equivalent
equivalence prednisone_equivalent:
  prednisone 5 mg = 5 mg
  methylprednisolone 4 mg = 5 mg
inclusion I1 "Methotrexate 7.5 to 25 mg/week at screening":
  methotrexate dose at screening 7.5 to 25 mg/wk
inclusion I2 "An average of 5 to 10 mg/day of prednisone over the 4 weeks before screening":
  glucocorticoid average daily dose 5 mg/d to 10 mg/d within 4 weeks before screening
inclusion I3 "A cumulative prednisone dose of 100 to 500 mg":
  glucocorticoid cumulative dose 100 to 500 mg
inclusion I4 "At most 10 mg/d and at least 2.5 mg/d of prednisone on any day of the 14 before":
  glucocorticoid highest daily dose 2.5 to 10 mg/d within 14 days before screening
"""
SCREENING = "2026-06-01"


def mtx(dose: Decimal | int, start: str = "2026-01-01", end: str | None = "ongoing") -> dict:
    """A methotrexate course; its dose as a fact file writes it (a number, read exactly)."""
    return occurrence("methotrexate", start, end, drug="methotrexate", dose=float(dose),
                      unit="mg/wk")


def pred(dose: object, start: str = "2026-05-04", end: str | None = "ongoing",
         drug: str = "prednisone", unit: str = "mg/d") -> dict:
    return occurrence("glucocorticoid", start, end, drug=drug, dose=dose, unit=unit)


def assert_trail_agrees(network: Network, result: Decision, verdicts: dict[str, str]) -> None:
    """The network's verdict of each criterion is `verdicts`', and the trail's reading of its two
    bounds, joined by strong Kleene's `and`, reads it alike."""
    assert {c: result.verdicts[c].verdict for c in verdicts} == verdicts
    explainer = Explainer(network.protocol, result.derived)
    for criterion, verdict in verdicts.items():
        leaf = next(c for c in network.leaves if c.id == criterion)
        low, high = (explainer.judge(part, result.patient)["status"]
                     for part in criterion_parts(leaf))
        both = "false" if "false" in (low, high) else "true" if low == high == "true" \
            else "unknown"
        assert both == STATUS[verdict], (criterion, low, high)


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "ranges.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def test_it_is_the_dose_compared_with_each_bound() -> None:
    (i1, i2, *_) = parse(PROTOCOL, "ranges.proto-rules").criteria
    assert isinstance(i1.condition, m.And)
    low, high = i1.condition.items
    assert (low.op, low.dose.value, low.dose.unit) == (">=", Decimal("7.5"), "mg/wk")
    assert (high.op, high.dose.value, high.dose.unit) == ("<=", Decimal("25"), "mg/wk")
    low, high = i2.condition.items
    assert (low.reading, low.dose.unit, high.dose.unit) == (m.AVERAGE, "mg/d", "mg/d")


@pytest.mark.parametrize("dose, verdict", [("7.5", "MET"), ("25", "MET"), ("15", "MET"),
                                           ("7.49", "NOT_MET"), ("25.01", "NOT_MET")])
def test_both_bounds_are_counted(network, screening, dose: str, verdict: str) -> None:
    result = decided(screening, [mtx(Decimal(dose)), pred(5, start="2026-01-01")],
                     day=SCREENING)
    assert_trail_agrees(network, result, {"I1": verdict})


def test_an_equivalent_dose_at_a_bound_is_at_it(network, screening) -> None:
    """8 mg/d of methylprednisolone is 10 mg/d of prednisone exactly: at the high bound."""
    result = decided(screening, [mtx(15), pred(8, start="2026-05-18", drug="methylprednisolone")],
                     day=SCREENING)
    assert_trail_agrees(network, result, {"I4": "MET"})


def test_a_course_that_may_have_ended_leaves_the_low_bound_open(network, screening) -> None:
    """10 mg/wk to some day of 2026: the dose on 2026-06-01 is 0 or 10 mg/wk, at most 25 but
    maybe under 7.5: UNKNOWN; 30 mg/wk so is over 25 or under 7.5: UNKNOWN too."""
    result = decided(screening, [mtx(10, end="2026"), pred(5)], day=SCREENING)
    assert_trail_agrees(network, result, {"I1": "UNKNOWN"})
    result = decided(screening, [mtx(30, end="2026"), pred(5)], day=SCREENING)
    assert_trail_agrees(network, result, {"I1": "UNKNOWN"})


def test_none_recorded_is_a_dose_of_0_and_nothing_recorded_unknown(network, screening) -> None:
    none = {"concept": "methotrexate", "present": False}
    assert_trail_agrees(network, decided(screening, [none, pred(5)], day=SCREENING),
                        {"I1": "NOT_MET"})
    assert_trail_agrees(network, decided(screening, [pred(5)], day=SCREENING),
                        {"I1": "UNKNOWN"})


def test_a_course_without_a_dose_is_open_above(network, screening) -> None:
    """No dose recorded: at least what the others give, no upper bound; a 30 mg/wk course
    beside it is over the range whatever it was."""
    undosed = occurrence("methotrexate", "2026-01-01", "ongoing", drug="methotrexate")
    assert_trail_agrees(network, decided(screening, [undosed, pred(5)], day=SCREENING),
                        {"I1": "UNKNOWN"})
    assert_trail_agrees(network, decided(screening, [undosed, mtx(30), pred(5)], day=SCREENING),
                        {"I1": "NOT_MET"})


def test_summed_doses_in_a_range(network, screening) -> None:
    """29 days from 2026-05-04 at 5 mg/d: an average of 5 mg/d (at the low bound), a cumulative
    145 mg (inside), the highest day 5 mg/d; 12 mg/d is over both daily ranges."""
    result = decided(screening, [mtx(15), pred(5)], day=SCREENING)
    assert_trail_agrees(network, result, {"I2": "MET", "I3": "MET", "I4": "MET"})
    result = decided(screening, [mtx(15), pred(12)], day=SCREENING)
    assert_trail_agrees(network, result, {"I2": "NOT_MET", "I3": "MET", "I4": "NOT_MET"})


BOUNDS = [Decimal(v) for v in ("0", "5", "7.5", "10", "15", "25", "25.5")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(BOUNDS + [None]),
                          st.sampled_from(["2026-01-01", "2026-05", "2025", "2026-06"]),
                          st.sampled_from(["ongoing", None, "2026-05-31", "2026-06-01", "2026-06",
                                           "2026-07"])), min_size=1, max_size=3, unique=True))
def test_decided_exactly_where_every_possible_total_agrees(screening, courses) -> None:
    """The oracle: each course covers 2026-06-01 surely, maybe or not (its first day and its
    last known to the day, the month or the year; a course without an end may be going on; one
    recorded at screening as started some day of June started by it, on its day), and adds its
    dose, or one unbounded above
    where it records none. The range is MET where the least and the most total are both in it,
    NOT_MET where both are under it or the least is over it, else UNKNOWN."""
    facts: list[dict] = []
    least: Decimal = Decimal(0)
    most: Decimal | None = Decimal(0)
    for dose, start, end in courses:
        if start == "2026-06" and end not in ("ongoing", None, "2026-07"):
            end = "2026-07"  # its first day may be after the last: refused as written
        fact = mtx(dose, start, end) if dose is not None else occurrence(
            "methotrexate", start, end, drug="methotrexate")
        if fact in facts:  # the same course twice: refused as a duplicate
            continue
        facts.append(fact)
        if end == "2026-05-31":
            continue
        surely = start == "2026-06" or end in ("ongoing", "2026-06-01", "2026-06", "2026-07")
        least += (dose or 0) if surely else 0
        most = None if most is None or dose is None else most + dose
    result = decided(screening, [*facts, pred(5)], day=SCREENING)
    inside = least >= Decimal("7.5") and most is not None and most <= 25
    outside = least > 25 or (most is not None and most < Decimal("7.5"))
    expected = "MET" if inside else "NOT_MET" if outside else "UNKNOWN"
    assert result.verdicts["I1"].verdict == expected, (courses, least, most)


def test_check_reads_each_bound_as_a_dose() -> None:
    concepts = "  methotrexate: medication {methotrexate} dosed in mg/wk\n"
    base = 'protocol "t" version "1"\nconcepts:\n' + concepts + 'inclusion I1 "x": '
    assert load_errors(base + "methotrexate dose at screening 25 to 7.5 mg/wk\n") == [
        "4:50 '25 mg/wk to 7.5 mg/wk' is empty: the low bound is above the high bound"]
    said = load_errors(base + "methotrexate dose at screening 7.5 mL to 25 mg/wk\n")
    assert len(said) == 1 and said[0].startswith("4:50 ") and "mL" in said[0], said
    assert load_errors(base + "methotrexate dose at screening 7.5 to 25 mg/wk\n") == []


def test_boundary_cases_of_a_range(capsys, tmp_path) -> None:
    base = {"patient": "B", "screening_date": SCREENING,
            "facts": [mtx(15), pred(5)]}
    text, said = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    for case in ("methotrexate dose at screening >= 7.5 mg/wk",
                 "methotrexate dose at screening <= 25 mg/wk"):
        assert case in text, case
