"""The dose taken on a day (`X dose at <anchor> <op> <dose>`) at its boundaries: at, above and
below the threshold, courses summed, a course ended the day before, an end known only to the
month (bounds), a course without a dose, none recorded, nothing recorded, a missing anchor.

Screening date 2026-06-30, first dose 2026-06-15.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.audit.evidence import Explainer, criterion_parts
from engine.run import Decision, Rejected, Screening
from tests.conftest import network_from_text, screen_one

PROTOCOL = """protocol "doses" version "1"
concepts:
  first_dose: date
  weight: quantity in kg
  glucocorticoid: medication {prednisone, methylprednisolone}
      dosed in mg/d as prednisone_equivalent
  steroid_per_kg: medication {prednisone} dosed in mg/kg/d per weight
equivalence prednisone_equivalent "prednisone 5 mg":
  prednisone 5 mg = 5 mg
  methylprednisolone 4 mg = 5 mg
inclusion D1 "at most 10 mg/d at screening": glucocorticoid dose at screening <= 10 mg/d
inclusion D2 "below 7.5 mg/d at the first dose": glucocorticoid dose at first_dose < 7.5 mg/d
inclusion D3 "at most 0.5 mg/kg/d": steroid_per_kg dose at screening <= 0.5 mg/kg/d
"""


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "doses.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def outcome(screening: Screening, *facts: dict[str, Any]) -> Decision:
    result = screen_one(screening, facts, path="doses.jsonl")
    assert isinstance(result, Decision), result
    return result


def gc(dose: Any, start: str = "2026-01-01", end: str | None = None,
       drug: str = "prednisone") -> dict[str, Any]:
    fact = {"concept": "glucocorticoid", "drug": drug, "date": start,
            **({"end": end} if end else {"ongoing": True})}
    return {**fact, **({"dose": dose, "unit": "mg/d"} if dose is not None else {})}


FIRST_DOSE = {"concept": "first_dose", "value": "2026-06-15"}

CASES = [
    ("at the threshold", "D1", [gc(10)], "MET"),
    ("above", "D1", [gc(10.5)], "NOT_MET"),
    ("two courses summed", "D1", [gc(5), gc(6, "2026-03-01")], "NOT_MET"),
    ("through the equivalence table", "D1", [gc(8, drug="methylprednisolone")], "MET"),
    ("methylprednisolone 12 mg is 15 mg prednisone", "D1", [gc(12, drug="methylprednisolone")],
     "NOT_MET"),
    ("high dose ended the day before", "D1", [gc(40, end="2026-06-29")], "MET"),
    ("high dose ending on screening day", "D1", [gc(40, end="2026-06-30")], "NOT_MET"),
    ("end known to the month", "D1", [gc(40, end="2026-06")], "UNKNOWN"),
    ("end known to the month, low dose", "D1", [gc(4, end="2026-06"), gc(5, "2026-06-01")],
     "MET"),
    ("a course without a dose", "D1", [gc(None)], "UNKNOWN"),
    ("undosed, ended before", "D1", [gc(None, end="2026-01-31"), gc(5)], "MET"),
    ("already above, beside an undosed course", "D1", [gc(None), gc(20)], "NOT_MET"),
    ("none recorded: no dose", "D1", [{"concept": "glucocorticoid", "present": False}], "MET"),
    ("nothing recorded", "D1", [], "UNKNOWN"),
    # on the first-dose day
    ("on the first dose day", "D2", [FIRST_DOSE, gc(10, end="2026-06-20")], "NOT_MET"),
    ("stopped before it", "D2", [FIRST_DOSE, gc(10, end="2026-06-14")], "MET"),
    ("no first dose", "D2", [gc(5)], "UNKNOWN"),
    # divided by the weight
    ("per kg at the threshold", "D3",
     [{"concept": "weight", "value": 60, "unit": "kg", "date": "2026-06-01"},
      {"concept": "steroid_per_kg", "drug": "prednisone", "dose": 30, "unit": "mg/d",
       "date": "2026-01-01", "ongoing": True}], "MET"),
    ("per kg, weight missing", "D3",
     [{"concept": "steroid_per_kg", "drug": "prednisone", "dose": 30, "unit": "mg/d",
       "date": "2026-01-01", "ongoing": True}], "UNKNOWN"),
]


@pytest.mark.parametrize("name, criterion, facts, expected", CASES, ids=[c[0] for c in CASES])
def test_dose_boundaries(network, screening: Screening, name: str, criterion: str,
                         facts: list[dict[str, Any]], expected: str) -> None:
    result = outcome(screening, *facts)
    assert result.verdicts[criterion].verdict == expected
    leaf = next(c for c in network.leaves if c.id == criterion)
    judged = Explainer(network.protocol, result.derived).judge(
        criterion_parts(leaf)[0], result.patient)
    assert judged["status"] == {"MET": "true", "NOT_MET": "false", "UNKNOWN": "unknown"}[expected]


def test_dose_evidence(network, screening: Screening) -> None:
    result = outcome(screening, gc(4, end="2026-06"), gc(5, "2026-06-01"))
    leaf = next(c for c in network.leaves if c.id == "D1")
    judged = Explainer(network.protocol, result.derived).judge(
        criterion_parts(leaf)[0], result.patient)
    assert judged["detail"].startswith(
        "dose on screening 2026-06-30: between 5 and 9 mg/d; glucocorticoid: ")
    assert judged["detail"].endswith("; needs <= 10 mg/d")


ACROSS_UNITS = """protocol "across" version "1"
concepts:
  glucocorticoid: medication {prednisone, dexamethasone} dosed in mg/d as prednisone_equivalent
equivalence prednisone_equivalent "prednisone 5 mg":
  prednisone 5 mg = 5 mg
  dexamethasone 750 ug = 5 mg
inclusion D1 "at least 5 mg/d": glucocorticoid dose at screening >= 5 mg/d
"""


@pytest.mark.parametrize("dose, expected", [(0.75, "MET"), (0.749999, "NOT_MET")])
def test_an_equivalence_across_units(dose: float, expected: str) -> None:
    """`dexamethasone 750 ug = 5 mg`: each side read in its own unit, so 0.75 mg/d of
    dexamethasone is 5 mg/d of prednisone (not 0.005, from the numbers alone)."""
    result = outcome(Screening(network_from_text(ACROSS_UNITS, "across.proto-rules")),
                     gc(dose, drug="dexamethasone"))
    assert result.verdicts["D1"].verdict == expected


def test_dose_diagnostics() -> None:
    from grammar.parser import parse
    from protocol.checks import check

    src = PROTOCOL.replace("  weight: quantity in kg\n", "  weight: quantity in kg\n"
                           "  hcq: medication {hydroxychloroquine}\n") + (
        'inclusion D9 "x": hcq dose at screening <= 400 mg/d\n'
        'inclusion D8 "x": glucocorticoid dose at the end of hcq <= 10 mg/d\n'
        'inclusion D7 "x": glucocorticoid dose at screening <= 10 mmol/L\n')
    found = [f"{d.span.line}:{d.span.column} {d.code}" for d in check(parse(src, "d.pr"))]
    assert found == ["15:19 type-mismatch", "16:42 anchor", "17:55 unit-dimension"]


# --- a stable dose ------------------------------------------------------------------------------

STABLE = """protocol "stable" version "1"
concepts:
  first_dose: date
  glucocorticoid: medication {prednisone, methylprednisolone}
inclusion S1 "stable 30 days": glucocorticoid dose stable for at least 30 days before screening
inclusion S2 "stable 4 weeks before the first dose":
    glucocorticoid dose stable for at least 4 weeks prior to first_dose
"""


@pytest.fixture(scope="module")
def stable_network():
    return network_from_text(STABLE, "stable.proto-rules")


def course(start: str, end: str | None = None, ongoing: bool = False) -> dict[str, Any]:
    return {"concept": "glucocorticoid", "drug": "prednisone", "date": start,
            **({"end": end} if end else {}), **({"ongoing": True} if ongoing else {})}


# S1: from 2026-05-31 to 2026-06-30; S2: from 2026-05-18 to 2026-06-15
STABLE_CASES = [
    ("started on the first day", "S1", [course("2026-05-31", ongoing=True)], "MET"),
    ("started the day after", "S1", [course("2026-06-01", ongoing=True)], "NOT_MET"),
    ("ends on the screening day", "S1", [course("2026-01-01", "2026-06-30")], "MET"),
    ("ended the day before", "S1", [course("2026-01-01", "2026-06-29")], "NOT_MET"),
    ("a change inside", "S1", [course("2026-01-01", "2026-06-09"), course("2026-06-10",
                                                                           ongoing=True)],
     "NOT_MET"),
    ("a change on the first day", "S1", [course("2026-01-01", "2026-05-30"),
                                         course("2026-05-31", ongoing=True)], "MET"),
    ("a second course added inside", "S1", [course("2026-01-01", ongoing=True),
                                            course("2026-06-10", ongoing=True)], "NOT_MET"),
    ("an earlier course, long over", "S1", [course("2025-01-01", "2025-02-01"),
                                            course("2026-01-01", ongoing=True)], "MET"),
    ("start known to the month, the month ending on the first day", "S1",
     [course("2026-05", ongoing=True)], "MET"),
    ("start known to the month across the first day", "S2",
     [FIRST_DOSE, course("2026-05", ongoing=True)], "UNKNOWN"),
    ("end not recorded", "S1", [course("2026-01-01")], "UNKNOWN"),
    ("none recorded", "S1", [{"concept": "glucocorticoid", "present": False}], "NOT_MET"),
    ("nothing recorded", "S1", [], "UNKNOWN"),
    ("before the first dose", "S2", [FIRST_DOSE, course("2026-05-18", "2026-06-15")], "MET"),
    ("changed after the first dose only", "S2",
     [FIRST_DOSE, course("2026-01-01", "2026-06-20"), course("2026-06-21", ongoing=True)], "MET"),
    ("no first dose", "S2", [course("2026-01-01", ongoing=True)], "UNKNOWN"),
]


@pytest.mark.parametrize("name, criterion, facts, expected", STABLE_CASES,
                         ids=[c[0] for c in STABLE_CASES])
def test_stable_dose_boundaries(stable_network, name: str, criterion: str,
                                facts: list[dict[str, Any]], expected: str) -> None:
    result = outcome(Screening(stable_network), *facts)
    assert result.verdicts[criterion].verdict == expected
    leaf = next(c for c in stable_network.leaves if c.id == criterion)
    judged = Explainer(stable_network.protocol, result.derived).judge(
        criterion_parts(leaf)[0], result.patient)
    assert judged["status"] == {"MET": "true", "NOT_MET": "false", "UNKNOWN": "unknown"}[expected]


RENEWED = """protocol "renewed" version "1"
concepts:
  methotrexate: medication {methotrexate} dosed in mg/wk
inclusion I4 "Methotrexate at a stable dose for at least 4 weeks":
    methotrexate dose stable for at least 4 weeks before screening
"""


def mtx(dose: Any, start: str, end: str | None = None) -> dict[str, Any]:
    return {"concept": "methotrexate", "drug": "methotrexate", "dose": dose, "unit": "mg/wk",
            "date": start, **({"end": end} if end else {"ongoing": True})}


# I4: from 2026-06-02 to 2026-06-30 (the screening day)
RENEWED_CASES = [
    ("renewed the next day at its dose", [mtx(20, "2026-01-05", "2026-05-24"),
                                          mtx(20, "2026-05-25")], "MET"),
    ("renewed inside the weeks, the next day", [mtx(20, "2026-01-05", "2026-06-14"),
                                                mtx(20, "2026-06-15")], "MET"),
    ("renewed on its last day", [mtx(20, "2026-01-05", "2026-06-14"), mtx(20, "2026-06-14")],
     "MET"),
    ("renewed twice", [mtx(20, "2026-01-05", "2026-04-30"), mtx(20, "2026-05-01", "2026-06-10"),
                       mtx(20, "2026-06-11")], "MET"),
    ("renewed at another dose", [mtx(20, "2026-01-05", "2026-06-14"), mtx(25, "2026-06-15")],
     "NOT_MET"),
    ("a day without it", [mtx(20, "2026-01-05", "2026-06-13"), mtx(20, "2026-06-15")],
     "NOT_MET"),
    ("two courses at its dose start the day it ends: the dose doubles",
     [mtx(20, "2026-01-05", "2026-06-14"), mtx(20, "2026-06-15"),
      {**mtx(20, "2026-06-15"), "source": "second prescription"}], "NOT_MET"),
    ("a second course beside it", [mtx(20, "2026-01-05"), mtx(20, "2026-06-15")], "NOT_MET"),
    ("the renewal's start known only to the month: it may start inside the weeks",
     [mtx(20, "2026-01-05", "2026-05-31"), mtx(20, "2026-06")], "UNKNOWN"),
    ("the renewed course's end known only to the month",
     [mtx(20, "2026-01-05", "2026-06"), mtx(20, "2026-06-20")], "NOT_MET"),
    ("renewed before the weeks, then going on", [mtx(20, "2025-01-05", "2025-12-31"),
                                                 mtx(20, "2026-01-01")], "MET"),
    # a course of one day, renewed on it (the review's oracle: it was not seen as renewed)
    ("a course of one day renewed that day, the first of the weeks",
     [mtx(20, "2026-06-02", "2026-06-02"), mtx(20, "2026-06-02")], "MET"),
    ("renewed by a course of one day, renewed in turn",
     [mtx(20, "2026-01-05", "2026-06-09"), mtx(20, "2026-06-10", "2026-06-10"),
      mtx(20, "2026-06-10")], "MET"),

    ("the renewal's end not recorded: it may have stopped",
     [mtx(20, "2026-01-05", "2026-06-14"), {**mtx(20, "2026-06-15"), "ongoing": None}],
     "UNKNOWN"),
]


@pytest.mark.parametrize("name, facts, expected", RENEWED_CASES,
                         ids=[c[0] for c in RENEWED_CASES])
def test_a_prescription_renewed_at_its_dose_changes_no_dose(name, facts, expected) -> None:
    """ORAL Surveillance's helper: methotrexate 20 mg/wk renewed at the same dose read as a
    change of dose. A course that starts on another's last day or the day after, at its dose,
    both days exact, continues it; anything else that starts or ends in the weeks changes it."""
    network = network_from_text(RENEWED, "renewed.proto-rules")
    facts = [{k: v for k, v in f.items() if v is not None} for f in facts]
    result = outcome(Screening(network), *facts)
    assert result.verdicts["I4"].verdict == expected
    leaf = next(c for c in network.leaves if c.id == "I4")
    judged = Explainer(network.protocol, result.derived).judge(criterion_parts(leaf)[0],
                                                               result.patient)
    assert judged["status"] == {"MET": "true", "NOT_MET": "false", "UNKNOWN": "unknown"}[expected]
    if name == "renewed the next day at its dose":
        assert judged["detail"].endswith(
            "a course (renewed at its dose) covers 2026-06-02 to 2026-06-30, no course starts or "
            "ends in between")


def test_stable_dose_diagnostics() -> None:
    from grammar.parser import parse
    from protocol.checks import check

    src = STABLE.replace("  first_dose: date\n", "  first_dose: date\n  mi: event\n") + (
        'inclusion S9 "x": mi dose stable for at least 30 days before screening\n'
        'inclusion S8 "x": glucocorticoid dose stable for at least 0 days before the end of mi\n')
    found = [f"{d.span.line}:{d.span.column} {d.code}" for d in check(parse(src, "s.pr"))]
    assert found == ["9:19 type-mismatch", "10:59 zero-duration", "10:73 anchor"]


@pytest.mark.parametrize("unit, said", [
    ("mg/wek", "glucocorticoid dose: unknown unit 'mg/wek': give it in mg/d, or in a unit of its "
              "dimension"),
    ("mg/kg", "glucocorticoid is dosed in mg/d: give the dose in that unit (the protocol names "
              "no weight to multiply a dose per kg by)"),
    ("mg", "glucocorticoid is dosed in mg/d: give the dose in that unit, or one of its dimension "
           "(mg is not)"),
])
def test_a_dose_in_a_unit_that_is_no_dose_says_why(screening: Screening, unit, said) -> None:
    result = screen_one(screening, [{**gc(10), "unit": unit}], path="doses.jsonl")
    assert isinstance(result, Rejected)
    assert said in str(result.problems[0])


NONE_NO_ANCHOR = """protocol "c" version "1"
concepts:
  first_dose: date
  steroid: medication {prednisone} dosed in mg/d
exclusion E4 "More than 10 mg/day within 14 days before the first dose":
    steroid highest daily dose > 10 mg/d within 14 days before first_dose
exclusion E5 "More than 10 mg/day on the first day": steroid dose at first_dose > 10 mg/d
exclusion E6 "More than 100 mg within 14 days": steroid cumulative dose > 100 mg within 14 days before first_dose
exclusion E7 "On average": steroid average daily dose > 5 mg/d within 14 days before first_dose
"""


def test_recorded_as_none_is_no_dose_whatever_the_anchor_day() -> None:
    """CheckMate 067's helper: steroids recorded as none and no first-dose date gave UNKNOWN,
    where the dose is 0 on any day; a course recorded without that day stays UNKNOWN."""
    network = network_from_text(NONE_NO_ANCHOR, "none.proto-rules")
    result = outcome(Screening(network), {"concept": "steroid", "present": False})
    assert {c: v.verdict for c, v in result.verdicts.items()} == {
        "E4": "NOT_MET", "E5": "NOT_MET", "E6": "NOT_MET", "E7": "NOT_MET"}
    leaf = next(c for c in network.leaves if c.id == "E5")
    judged = Explainer(network.protocol, result.derived).judge(criterion_parts(leaf)[0],
                                                               result.patient)
    assert judged == {"status": "false", "detail": "dose on first_dose, whatever its day: 0 "
                      "mg/d; steroid: recorded as none; needs > 10 mg/d"}
    result = outcome(Screening(network), {"concept": "steroid", "drug": "prednisone", "dose": 5,
                                          "unit": "mg/d", "date": "2026-01-01", "ongoing": True})
    assert {v.verdict for v in result.verdicts.values()} == {"UNKNOWN"}
