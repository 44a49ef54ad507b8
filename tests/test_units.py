"""Units as laboratories write them: each spelling converts exactly, each misreading is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.units import (
    PLACES,
    UnitProblem,
    convert,
    factor,
    parse_unit,
    quantize,
    registry,
    same_dimension,
)

#: Spellings of a count per volume, all interconvertible (with their factor to /uL).
COUNTS_PER_VOLUME = (
    "10^9/L",
    "10*9/L",
    "x10^9/L",
    "×10^9/L",
    "×10⁹/L",
    "10^3/uL",
    "10^3/µL",
    "10*3/uL",
    "/uL",
    "/µL",
    "cells/uL",
    "/mm3",
    "/mm^3",
    "10^6/uL",
    "10^12/L",
)


def dimension(unit: str) -> str:
    return str(registry().Quantity(1, parse_unit(unit)).dimensionality)


# --- lab spellings convert exactly ----------------------------------------------------------------


# (value, spelling, target, expected): Decimal equality after `convert`.
@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        ("1.5", "10^9/L", "/uL", "1500"),
        ("1.5", "10*9/L", "/uL", "1500"),
        ("1.5", "x10^9/L", "/uL", "1500"),
        ("1.5", "×10^9/L", "/uL", "1500"),
        ("1.5", "×10⁹/L", "/uL", "1500"),
        ("1.5", "x 10^9 / L", "/uL", "1500"),
        ("1.5", "10^3/uL", "/uL", "1500"),
        ("1.5", "10^3/µL", "/uL", "1500"),
        ("1.5", "10*3/uL", "/uL", "1500"),
        ("1500", "{cells}/uL", "/uL", "1500"),  # UCUM's codes, as FHIR and OMOP give them
        ("60", "mL/min/{1.73_m2}", "mL/min/1.73m2", "60"),
        ("1", "mL/s/{1.73_m2}", "mL/min/1.73m2", "60"),
        ("2000", "{copies}/mL", "copies/mL", "2000"),
        ("20", "[iU]/L", "IU/L", "20"),
        ("15", "mg/wk", "mg/week", "15"),  # UCUM's week: a weekly dose of methotrexate
        ("14", "mg/wk", "mg/d", "2"),
        ("1500", "/µL", "/uL", "1500"),
        ("1500", "cells/uL", "/uL", "1500"),
        ("1500", "/mm3", "/uL", "1500"),
        ("1500", "/mm^3", "/uL", "1500"),
        ("1500", "/mm³", "/uL", "1500"),
        ("1500", "1/uL", "/uL", "1500"),
        ("1500", "cells/mm3", "/uL", "1500"),
        ("4.5", "10^6/uL", "10^12/L", "4.5"),
        ("0.0015", "10^6/uL", "/uL", "1500"),
        ("0.0015", "10^12/L", "/uL", "1500"),
        ("150", "10^3/uL", "10^9/L", "150"),
        ("150", "10^9/L", "cells/mm3", "150000"),
        ("2", "10^6/kg", "cells/kg", "2000000"),
        ("2", "10^6 cells/kg", "cells/kg", "2000000"),
        ("1", "10^8", "10^6 cells", "100"),
        ("1.2", "g/24h", "mg/24h", "1200"),
        ("500", "mg/24h", "g/d", "0.5"),
        ("3.5", "g/24 h", "g/day", "3.5"),
        ("300", "mg/g", "g/g", "0.3"),
        ("300", "mg/g", "mg/mg", "0.3"),
        ("30", "mg/mmol", "g/mol", "30"),
        ("17.1", "µmol/L", "umol/L", "17.1"),
        ("17.1", "umol/L", "mmol/L", "0.0171"),
        ("5.5", "mmol/L", "umol/L", "5500"),
        ("150", "mg/dL", "g/L", "1.5"),
        ("12.5", "g/dL", "g/L", "125"),
        ("2.5", "IU/mL", "IU/L", "2500"),
        ("40", "U/L", "kU/L", "0.04"),
        ("1", "kU", "U", "1000"),
        ("60", "mL/min", "L/h", "3.6"),
        ("0.5", "mL/s/1.73m2", "mL/min/1.73m2", "30"),
        ("30", "mL/min/1.73 m²", "mL/min/1.73m2", "30"),
        ("30", "mL/min/1.73m^2", "mL/min/1.73m2", "30"),
        ("25", "kg/m2", "kg/m^2", "25"),
        ("1.73", "m2", "cm2", "17300"),
        ("1.2", "ng/mL", "pg/mL", "1200"),
        ("1", "ng/mL", "ug/L", "1"),
        ("1000", "copies/mL", "copies/L", "1000000"),
        ("45", "%", "percent", "45"),
        ("3", "mg/kg/d", "mg/kg/day", "3"),
        ("3", "mcg/kg", "mg/kg", "0.003"),
        ("18", "years", "days", "6574.5"),
        ("180", "cm", "m", "1.8"),
        ("7", "points", "points", "7"),
    ],
)
def test_lab_spelling_converts_exactly(value: str, source: str, target: str, expected: str) -> None:
    assert convert(Decimal(value), source, target) == Decimal(expected)


@pytest.mark.parametrize("spelling", COUNTS_PER_VOLUME)
def test_every_count_spelling_is_cells_per_volume(spelling: str) -> None:
    assert dimension(spelling) == "[cells] / [length] ** 3"
    assert same_dimension(spelling, "cells/uL")


# (spelling, dimension): what works today still reads the same.
@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("mg/kg/d", "1 / [time]"),
        ("mg/kg", "dimensionless"),
        ("cells/kg", "[cells] / [mass]"),
        ("U/L", "[enzyme_activity] / [length] ** 3"),
        ("U", "[enzyme_activity]"),
        ("IU/mL", "[international_unit] / [length] ** 3"),
        ("mL/min/1.73m2", "[length] / [time]"),
        ("years", "[time]"),
        ("days", "[time]"),
        ("kg", "[mass]"),
        ("cm", "[length]"),
        ("m", "[length]"),
        ("points", "dimensionless"),
        ("%", "dimensionless"),
        ("copies/mL", "[copies] / [length] ** 3"),
        ("/min", "1 / [time]"),
    ],
)
def test_existing_spelling_keeps_its_dimension(spelling: str, expected: str) -> None:
    assert dimension(spelling) == expected


# (a, b): different things stay apart.
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10^9/L", "g/L"),
        ("/uL", "IU/mL"),
        ("/mL", "copies/mL"),
        ("cells/uL", "U/L"),
        ("/min", "cells/min"),
        ("U/L", "IU/L"),
        ("mg/g", "mg/mmol"),
    ],
)
def test_different_dimensions_do_not_convert(a: str, b: str) -> None:
    assert not same_dimension(a, b)
    with pytest.raises(UnitProblem, match="cannot convert"):
        convert(Decimal(1), a, b)


# --- refused misreadings ------------------------------------------------------------------------


# (spelling, phrase the message must contain)
@pytest.mark.parametrize(
    ("spelling", "phrase"),
    [
        ("G/L", "unit 'G/L' is ambiguous: pint reads G as gauss; write 10^9/L"),
        ("K/uL", "pint reads K as kelvin; write 10^3/uL"),
        ("K/µL", "pint reads K as kelvin; write 10^3/µL"),
        ("K/mm3", "write 10^3/mm3"),
        ("k/uL", "write 10^3/uL"),
        ("M/uL", "pint reads M as molar; write 10^6/uL"),
        ("T/L", "pint reads T as tesla; write 10^12/L"),
        ("Gpt/L", "pint reads Gpt as gigapint; write 10^9/L"),
        ("u/L", "write U/L"),
        ("mg%", "write mg/dL"),
        ("g %", "write g/dL"),
        ("log10 IU/mL", "logarithmic"),
        ("log copies/mL", "logarithmic"),
        ("degC/L", "involves a temperature"),  # a body temperature is one alone (°C, °F)
        ("kelvin/uL", "involves a temperature"),
        ("A/L", "involves an electric current"),
        ("tesla", "involves an electric current"),
        ("gauss/L", "fractional dimensions"),
        ("mg/dLL", "unknown unit 'mg/dLL'"),
        ("/hpf", "unknown unit '/hpf'"),
        ("{RBCs}/uL", "'{' (U+007B) is no part of a unit"),  # an annotation not read is no unit
        ("mL/min/{1.73_m2", "'{' (U+007B) is no part of a unit"),
    ],
)
def test_misreading_is_refused(spelling: str, phrase: str) -> None:
    with pytest.raises(UnitProblem) as refused:
        parse_unit(spelling)
    assert phrase in str(refused.value)
    assert not same_dimension(spelling, "/uL")


# --- thresholds ---------------------------------------------------------------------------------


# (patient value, patient unit, threshold, threshold unit, comparison with the threshold)
@pytest.mark.parametrize(
    ("value", "unit", "threshold", "threshold_unit", "sign"),
    [
        ("1500", "/uL", "1.5", "x10^9/L", 0),
        ("1499", "/uL", "1.5", "x10^9/L", -1),
        ("1.5", "10^3/µL", "1500", "/mm3", 0),
        ("100000", "/mm3", "100", "10^3/uL", 0),
        ("99.999999", "10^9/L", "100", "10*3/uL", -1),
        ("0.5", "mL/s/1.73m2", "30", "mL/min/1.73m2", 0),
        ("0.3", "g/g", "300", "mg/g", 0),
        ("1", "g/24h", "1000", "mg/24h", 0),
    ],
)
def test_value_at_threshold_stays_at_it(
    value: str, unit: str, threshold: str, threshold_unit: str, sign: int
) -> None:
    converted = convert(Decimal(value), unit, threshold_unit)
    limit = quantize(Decimal(threshold))
    assert (converted > limit) - (converted < limit) == sign


# --- aliases ------------------------------------------------------------------------------------

K_PER_UL = (("K/uL", "10^3/uL"),)


def test_alias_makes_a_refused_spelling_acceptable() -> None:
    assert parse_unit("K/uL", aliases=K_PER_UL) == parse_unit("10^3/uL")
    assert convert(Decimal("1.5"), "K/uL", "/uL", aliases=K_PER_UL) == Decimal(1500)
    assert same_dimension("K/uL", "x10^9/L", aliases=K_PER_UL)
    assert factor("K/uL", "10^9/L", aliases=K_PER_UL) == 1


def test_alias_is_scoped_to_the_call() -> None:
    parse_unit("K/uL", aliases=K_PER_UL)
    with pytest.raises(UnitProblem, match="kelvin"):
        parse_unit("K/uL")
    with pytest.raises(UnitProblem, match="kelvin"):
        convert(Decimal(1), "K/uL", "/uL")
    with pytest.raises(UnitProblem, match="kelvin"):
        parse_unit("K/mm3", aliases=K_PER_UL)


@pytest.mark.parametrize(
    ("aliases", "spelling", "expected"),
    [
        (K_PER_UL, "K/µL", "10^3/uL"),
        (K_PER_UL, " K/uL ", "10^3/uL"),
        ((("G/L", "10^9/L"), ("K/uL", "10^3/uL")), "G/L", "10^9/L"),
        ((("mg%", "mg/dL"),), "mg%", "mg/dL"),
        ((("mg/dl", "mg/dL"),), "mg/dl", "mg/dL"),
    ],
)
def test_alias_reads_as_its_meaning(
    aliases: tuple[tuple[str, str], ...], spelling: str, expected: str
) -> None:
    assert parse_unit(spelling, aliases) == parse_unit(expected)


def test_alias_to_an_unreadable_meaning_is_refused() -> None:
    with pytest.raises(UnitProblem, match="alias 'K/uL' = 'M/uL'.*molar"):
        parse_unit("K/uL", aliases=(("K/uL", "M/uL"),))


def test_aliases_are_cached_per_call() -> None:
    assert parse_unit("K/uL", K_PER_UL) is parse_unit("K/uL", K_PER_UL)


# --- properties ---------------------------------------------------------------------------------


def power_of_ten(value: Decimal) -> int | None:
    """The exponent k with value == 10**k, or None."""
    digits = value.normalize().as_tuple()
    return int(digits.exponent) if digits.digits == (1,) and not digits.sign else None


@pytest.mark.parametrize("source", COUNTS_PER_VOLUME)
@pytest.mark.parametrize("target", COUNTS_PER_VOLUME[::4])
def test_count_spellings_differ_by_a_power_of_ten(source: str, target: str) -> None:
    assert power_of_ten(factor(source, target)) is not None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(COUNTS_PER_VOLUME),
    st.sampled_from(COUNTS_PER_VOLUME),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.data(),
)
def test_round_trip_between_count_spellings_is_exact(
    a: str, b: str, digits: int, data: st.DataObject
) -> None:
    """With k = log10 of the factor, a value of at most PLACES + min(k, 0) places loses nothing on
    the way there (PLACES is all `quantize` keeps), so it comes back exactly."""
    k = power_of_ten(factor(a, b))
    assert k is not None
    places = data.draw(st.integers(min_value=0, max_value=PLACES + min(k, 0)))
    value = Decimal(digits).scaleb(-places)
    assert convert(convert(value, a, b), b, a) == quantize(value)


def test_a_quantity_in_months_is_warned_of_its_average_month():
    """"Life expectancy of at least 3 months" declared in months: 13 weeks converts to 2.99
    months (pint's average month), under 3; `check` says so (a helper on FLAURA)."""
    from tests.conftest import checked  # noqa: PLC0415 -- as the other checks' tests

    said = checked("  life_expectancy: quantity in month\n", "life_expectancy >= 3 month")
    assert said == ["3:3 'life_expectancy' is in month: a fact in weeks or days converts by an "
                    "average month (30.4375 days), so 13 weeks is 2.99 months, under 3; "
                    "declare it in weeks or days if its facts come so, with its thresholds "
                    "(windows and 'for at least' count calendar months)"]
    assert checked("  life_expectancy: quantity in wk\n", "life_expectancy >= 12 wk") == []


def test_a_threshold_in_months_on_a_time_in_weeks_is_warned_of_its_average_month():
    """"Life expectancy >= 12 months" on a concept in weeks: 52 weeks and 365 days are under
    pint's 12 months (two helpers, on PROfound and POLARIX); `check` says so, and the sentence
    lint takes the threshold written in weeks (52 weeks, 26 weeks) for the sentence's months."""
    from tests.conftest import checked  # noqa: PLC0415 -- as the other checks' tests

    assert checked("  life_expectancy: quantity in weeks\n", "life_expectancy >= 12 months") == [
        "4:38 '12 months' on 'life_expectancy' (in weeks) converts by an average month "
        "(30.4375 days): it is 52.178571 weeks, so 52 weeks is under it; if the protocol "
        "counts its months otherwise, write the threshold in weeks"]
    assert checked("  survival: quantity in days\n", "survival >= 1 year")[0].startswith(
        "4:31 '1 year' on 'survival' (in days) converts by an average month (30.4375 days): "
        "it is 365.25 days, so 365 days is under it")
    assert checked("  life_expectancy: quantity in weeks\n", "life_expectancy >= 52 weeks",
                   sentence="Life expectancy of at least 12 months") == []
    assert checked("  life_expectancy: quantity in weeks\n", "life_expectancy >= 26 weeks",
                   sentence="Life expectancy of at least 6 months") == []
    assert checked("  life_expectancy: quantity in weeks\n", "life_expectancy >= 12 weeks",
                   sentence="Life expectancy of at least 3 months") == [
        "4:73 I1: the rule's 12 weeks is not in its sentence (line 4: \"Life expectancy of at "
        "least 3 months\"), which has 3: write the rule as the sentence does"]


def test_an_ambiguous_unit_in_the_protocol_says_what_it_reads_as() -> None:
    """A threshold in `K/uL` was "unknown unit" in the protocol, where a fact in it says pint's K
    is kelvin and what to write (a helper on CheckMate 067)."""
    from tests.conftest import checked  # noqa: PLC0415 -- as the other checks' tests

    assert checked("  platelets: lab in 10^9/L\n", "platelets >= 100 K/uL") == [
        "4:32 unit 'K/uL' is ambiguous: pint reads K as kelvin; write 10^3/uL (or the protocol "
        "says what it means: 'unit \"K/uL\" means 10^3/uL')"]
