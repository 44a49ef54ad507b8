"""`X is recorded`: whether the record gives a usable value, never open.

"Measured or estimated creatinine clearance < 40 mL/min" (POLARIX), "CrCl by Cockcroft-Gault or
a 24-hour urine" (PROfound): the measured value where there is one, the formula elsewhere. Two
helpers wrote the measured and the calculated value joined by `or`, which takes either, or a
recorded method standing in. `crcl_measured < 40 mL/min if crcl_measured is recorded else crcl <
40 mL/min` says it: a stale measured value is not usable, so the formula decides; one known only
within bounds ("< 30") is recorded. Each case runs the real parser, checks, normaliser and
network, and the trail's judge of every part.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.run import Decision, Screening
from tests.conftest import (ROOT, STATUS, assert_trail_agrees, boundary_cases, checked, judged,
                            network_from_text, screen_one, trail_status)

PROTOCOL = (ROOT / "tests/data/edgecases/recorded.proto-rules").read_text(encoding="utf-8")

SCREENING = "2026-06-15"


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "rc.proto-rules"))


def decided(screening: Screening, *facts: dict[str, Any]) -> Decision:
    base = [{"concept": "sex", "value": "male"},
            {"concept": "weight", "value": 72, "unit": "kg", "date": "2026-06-01"}]
    result = screen_one(screening, [*base, *facts], day=SCREENING, birth_date="1960-01-01")
    assert isinstance(result, Decision), result
    return result


def creatinine(value: Any) -> dict[str, Any]:
    return {"concept": "creatinine", "value": value, "unit": "mg/dL", "date": "2026-06-01"}


def measured(value: Any, day: str = "2026-06-02") -> dict[str, Any]:
    return {"concept": "crcl_measured", "value": value, "unit": "mL/min", "date": day}


@pytest.mark.parametrize("facts, e22, i1", [
    # crcl (Cockcroft-Gault) of a man of 66 with 72 kg: 37 mL/min at 2.0 mg/dL, 74 at 1.0
    ([creatinine(2.0), measured(55)], "NOT_MET", "NOT_MET"),  # measured, over 40: it decides
    ([creatinine(1.0), measured(35)], "MET", "NOT_MET"),
    ([creatinine(2.0)], "MET", "MET"),  # none measured: the formula
    ([creatinine(2.0), measured(55, "2026-01-02")], "MET", "MET"),  # stale: not usable
    ([measured("< 30")], "MET", "NOT_MET"),  # within bounds is recorded, and decides
    ([measured("> 30")], "UNKNOWN", "NOT_MET"),  # recorded, and does not decide
    ([], "UNKNOWN", "MET"),  # neither: the formula's inputs are missing
])
def test_the_measured_value_where_there_is_one_else_the_formula(screening, facts, e22,
                                                                i1) -> None:
    result = decided(screening, *facts)
    assert result.verdicts["E22"].verdict == e22
    assert trail_status(screening.network, result, "E22") == STATUS[e22]
    assert_trail_agrees(screening.network, result, {"I1": i1})


def test_the_trail_says_what_is_recorded_and_why_not(screening) -> None:
    network = screening.network
    result = decided(screening, creatinine(2.0), measured(55, "2026-01-02"))
    assert judged(network, result, "I1")["detail"] == (
        "crcl_measured: not recorded (stale: latest crcl_measured is from 2026-01-02, before "
        "2026-05-18 (valid for 28 days))")
    result = decided(screening, measured("< 30"))
    assert judged(network, result, "I1")["detail"] == \
        "crcl_measured < 30 mL/min (2026-06-02): recorded"


@pytest.mark.parametrize("facts, verdicts", [
    ([{"concept": "consent", "value": "2026-05"}], {"I2": "MET", "I3": "MET"}),
    ([{"concept": "consent", "value": "2026-05-02"}], {"I2": "MET", "I3": "MET"}),
    ([], {"I2": "MET", "I3": "NOT_MET"}),
])
def test_a_category_and_a_date(screening, facts, verdicts) -> None:
    """A category is recorded by its value, a date by its day, or its month."""
    assert_trail_agrees(screening.network, decided(screening, *facts), verdicts)


@pytest.mark.parametrize("condition, said", [
    ("crcl is recorded", "only a value is recorded or not (an event or medication is 'known' "
                         "or 'no known'; a derived value is worked out; a judgment is attested)"),
    ("mi is recorded", "only a value is recorded or not"),
    ("unsure is recorded", "only a value is recorded or not"),
])
def test_what_is_not_a_recorded_value(condition, said) -> None:
    concepts = ("  creatinine: lab in mg/dL\n  mi: event\n  unsure: judgment\n"
                "  crcl: derived in mL/min = 100 / (creatinine in mg/dL)\n")
    found = checked(concepts, condition)
    assert any(said in line for line in found), found


def test_boundary_cases_as_old_as_it_counts_a_day_older_and_none(capsys, tmp_path) -> None:
    base = {"patient": "B", "screening_date": SCREENING, "birth_date": "1960-01-01",
            "facts": [{"concept": "sex", "value": "male"}, creatinine(2.0), measured(55),
                      {"concept": "weight", "value": 72, "unit": "kg", "date": "2026-06-01"},
                      {"concept": "consent", "value": "2026-05-02"}]}
    cases, said = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    for name, description in [
        ("crcl_measured 55 mL/min dated 2026-05-17: a day too old, crcl_measured is recorded",
         "valid for 28 days before screening (2026-06-15): a day older does not count: false"),
        ("no crcl_measured: crcl_measured is not recorded", "nothing recorded: true"),
    ]:
        assert f'  - name: "{name}"\n    description: "{description}"\n' in cases, cases
