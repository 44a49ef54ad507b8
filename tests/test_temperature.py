"""Body temperature: `temperature >= 38.0 °C`, with facts in °C or °F.

A temperature is the one unit with an offset (0 °C is 32 °F), so no factor converts it: between
°C and °F the conversion is exact in rationals (`units.Affine`), rounded once as every value is,
and 100.4 °F is exactly 38 °C. It is a quantity's unit only: a lab's ratio to its reference range,
a dose or a formula has no meaning on an offset scale, and `check` says so. A temperature inside
another unit (K/uL, °C/min) stays refused as a misread letter. Each case runs the real parser,
checks, normaliser and network.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.run import Decision, Rejected, Screening
from grammar.parser import parse
from protocol import units
from protocol.checks import check
from tests.conftest import boundary_cases, network_from_text, screen_one

PROTOCOL = """protocol "fever" version "1"
concepts:
  temperature: quantity in °C valid for 3 days "body temperature"
exclusion E1 "Fever >= 38.0 °C within 72 hours": temperature >= 38.0 °C
exclusion E2 "Temperature > 100.4 °F": temperature > 100.4 °F
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "fever.proto-rules"))


def temperature(value: Any, unit: str) -> dict[str, Any]:
    return {"concept": "temperature", "value": value, "unit": unit, "date": "2026-06-09"}


def verdicts(screening: Screening, *facts: dict[str, Any]) -> tuple[str, str]:
    outcome = screen_one(screening, facts, day="2026-06-10")
    assert isinstance(outcome, Decision), outcome
    return outcome.verdicts["E1"].verdict, outcome.verdicts["E2"].verdict


@pytest.mark.parametrize("value, unit, expected", [
    (100.4, "°F", ("MET", "NOT_MET")),  # exactly 38 °C: at the threshold, not over it
    (100.5, "[degF]", ("MET", "MET")),
    (100.3, "degF", ("NOT_MET", "NOT_MET")),
    (38, "Cel", ("MET", "NOT_MET")),
    (38.1, "℃", ("MET", "MET")),
    (37.9, "degC", ("NOT_MET", "NOT_MET")),
    ("< 100", "°F", ("NOT_MET", "NOT_MET")),  # below 37.78 °C
    ("> 100", "°F", ("UNKNOWN", "UNKNOWN")),
])
def test_a_temperature_in_either_scale(screening, value, unit, expected):
    assert verdicts(screening, temperature(value, unit)) == expected


def test_the_trail_shows_the_conversion(screening):
    outcome = screen_one(screening, [temperature(100.4, "°F")], day="2026-06-10")
    assert isinstance(outcome, Decision)
    (used,) = outcome.patient.used["temperature"]
    assert (used.value, used.unit, used.converted) == (100.4, "°F", "38 °C")


def test_a_temperature_and_a_unit_of_another_dimension_do_not_convert(screening):
    outcome = screen_one(screening, [temperature(37, "mg/dL")], day="2026-06-10")
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == [
        "temperature: cannot convert mg/dL to °C: only °C is a temperature"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=950, max_value=1060))
def test_the_verdict_is_the_exact_conversion_against_the_threshold(screening, tenths):
    """A temperature in tenths of a °F: (F - 32) x 5/9 worked out exactly, rounded once (half to
    even, 6 places), compared with 38 °C."""
    fahrenheit = Fraction(tenths, 10)
    celsius = units.Affine(Fraction(5, 9), Fraction(-160, 9))(Decimal(tenths) / 10)
    assert celsius == round((fahrenheit - 32) * 5 / 9 * 10**6) / Decimal(10**6)
    expected = ("MET" if celsius >= 38 else "NOT_MET", "MET" if celsius > 38 else "NOT_MET")
    assert verdicts(screening, temperature(float(fahrenheit), "°F")) == expected


# --- units ----------------------------------------------------------------------------------------


def test_conversions_are_exact_both_ways():
    assert units.convert(Decimal("100.4"), "°F", "°C") == Decimal("38")
    assert units.convert(Decimal("38"), "°C", "°F") == Decimal("100.4")
    assert units.convert(Decimal("101"), "°F", "°C") == Decimal("38.333333")
    assert units.convert(Decimal("-40"), "degC", "degF") == Decimal("-40")
    assert units.scale("°C", "Cel") == units.Affine(Fraction(1), Fraction(0))


@pytest.mark.parametrize("text, said", [
    ("K/uL", "unit 'K/uL' is ambiguous: pint reads K as kelvin; write 10^3/uL"),
    ("degC/min", "unit 'degC/min' involves a temperature"),
])
def test_a_temperature_inside_another_unit_is_still_refused(text, said):
    with pytest.raises(units.UnitProblem) as problem:
        units.parse_unit(text)
    assert str(problem.value).startswith(said)


# --- what the checks say --------------------------------------------------------------------------


def problems(*lines: str, uses: str) -> list[str]:
    text = 'protocol "t" version "1"\nconcepts:\n' + "".join(f"  {line}\n" for line in lines) + \
        f'inclusion I1 "x": {uses}\n'
    return [f"{d.span.line}:{d.span.column} {d.message}" for d in check(parse(text, "t.pr"))
            if d.code != "unused-concept"]


def test_a_temperature_is_a_quantity_only():
    assert problems("crp: lab in °F", uses="crp <= 2 x ULN") == [
        "3:3 crp: a temperature (°F) is a quantity: a lab in °F has no meaning here (a "
        "temperature's scale has an offset: no ratio or dose is taken of it)"]


def test_a_formula_does_not_compute_with_a_temperature():
    assert problems("temperature: quantity in °C", "t2: derived in kg = mean(temperature in °C)",
                    uses="t2 > 1 kg") == [
        "4:28 'temperature' is a temperature, whose scale has an offset (0 °C is 32 °F): a "
        "formula does not compute with it; compare it in a condition"]


def test_a_threshold_of_another_dimension():
    assert problems("weight: quantity in kg", uses="weight > 3 °F") == [
        "4:28 weight is measured in kg; 3 °F is a temperature"]


def test_boundary_cases_restate_the_threshold_in_the_other_scale(capsys, tmp_path):
    text, said = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-06-10", "facts": [temperature(37, "°C")]})
    assert "100.4 °F is exactly 38 °C (exact offset and factor): at the bound, inside" in text
    assert "14 boundary cases" in said  # 4 of them the result's age: `valid for 3 days`
