"""Units of measure: pint with exact decimals, plus the clinical units pint does not ship.

Every conversion is done in `Decimal` (pint's `non_int_type`) and the result is rounded once, half to
even, to `PLACES` decimal places in the target unit. Thresholds go through the same function, so a value
exactly at a threshold after conversion stays exactly at it: no binary-float drift.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import cache

import pint

#: Decimal places kept after a conversion, a ratio to the reference range or a dose equivalence.
PLACES = 6
QUANTUM = Decimal(1).scaleb(-PLACES)

#: Clinical units pint lacks. Enzyme activity (U), international units (IU) and copies are counted
#: in dimensions of their own so that they convert among their prefixes but never into mass or moles.
_DEFINITIONS = (
    "enzyme_unit = [enzyme_activity] = U",
    "international_unit = [international_unit] = IU",
    "copies = [copies] = copy",
    "cells = [cells] = cell",
    "points = [] = point",
    "bsa173 = 1.73 * meter ** 2",
)

#: How units are written on lab reports, rewritten to what pint reads.
_ALIASES = (
    (re.compile(r"/?\s*1\.73\s*m(2|²|\^2|\*\*2)"), "/bsa173"),
    (re.compile(r"µ|μ"), "u"),
    (re.compile(r"%"), "percent"),
    (re.compile(r"\bmcg\b"), "ug"),
    (re.compile(r"\bd\b"), "day"),
    (re.compile(r"(?<=[A-Za-z])([23])\b"), r"**\1"),  # m2, cm2, mm3: a power of the unit
    (re.compile(r"²"), "**2"),
)


class UnitProblem(ValueError):
    """A unit that cannot be read, or a conversion between different dimensions."""


@cache
def registry() -> pint.UnitRegistry:
    ureg = pint.UnitRegistry(non_int_type=Decimal)
    for definition in _DEFINITIONS:
        ureg.define(definition)
    return ureg


@cache
def exact_registry() -> pint.UnitRegistry:
    """The same units with `Fraction` magnitudes: formulas of derived values compute in exact
    rationals, so their unit factors (mL/min to L/h is 3/50) must be exact too."""
    ureg = pint.UnitRegistry(non_int_type=Fraction)
    for definition in _DEFINITIONS:
        ureg.define(definition)
    return ureg


@cache
def exact_unit(text: str) -> pint.Unit:
    """`parse_unit` in the exact registry.

    >>> exact_unit("kg/m2") == exact_unit("kg/m**2") == exact_unit("kg/m²")
    True
    """
    try:
        return exact_registry().parse_units(_pint_text(text))
    except (pint.errors.PintError, AttributeError, TypeError, ValueError, SyntaxError) as error:
        raise UnitProblem(f"unknown unit '{text}'") from error


def exact_factor(source: pint.Unit, target: pint.Unit,
                 conversions: tuple[tuple[Decimal, str, Decimal, str], ...] = ()
                 ) -> Fraction | None:
    """The exact factor from `source` to `target` (units of the exact registry), bridged by a
    concept's own conversions if need be; None when they do not convert.

    >>> exact_factor(exact_unit("kg/cm^2"), exact_unit("kg/m2"))
    Fraction(10000, 1)
    >>> exact_factor(exact_unit("kg"), exact_unit("m")) is None
    True
    """
    ureg = exact_registry()

    def direct(a: pint.Unit, b: pint.Unit) -> Fraction | None:
        try:
            return Fraction(ureg.Quantity(Fraction(1), a).to(b).magnitude)
        except pint.errors.DimensionalityError:
            return None

    found = direct(source, target)
    for amount, unit_a, equals, unit_b in conversions if found is None else ():
        for (x, ux), (y, uy) in (((amount, unit_a), (equals, unit_b)),
                                 ((equals, unit_b), (amount, unit_a))):
            into_x = direct(source, exact_unit(ux))
            onward = direct(exact_unit(uy), target) if into_x is not None else None
            if onward is not None:
                return into_x * Fraction(y) / Fraction(x) * onward
    return found


def dimension_of(unit: pint.Unit) -> str:
    """pint's dimensionality of a unit of the exact registry as text, as the decimal registry
    writes it (`[mass] / [length] ** 2`, or `dimensionless`): Python 3.11 cannot format the
    exact registry's Fraction exponents.

    >>> dimension_of(exact_unit("kg/m2")), dimension_of(exact_unit("%"))
    ('[mass] / [length] ** 2', 'dimensionless')
    """
    ureg = registry()
    same = ureg.Unit("")
    for name, power in unit._units.items():  # pint offers no public accessor
        same = same * ureg.Unit(name) ** int(power)
    dimensionality = ureg.Quantity(1, same).dimensionality
    return str(dimensionality) if dimensionality else "dimensionless"


def _pint_text(text: str) -> str:
    text = text.strip()
    for pattern, replacement in _ALIASES:
        text = pattern.sub(replacement, text)
    return text.replace("//", "/")


@cache
def parse_unit(text: str) -> pint.Unit:
    """The pint unit a clinical unit string stands for.

    >>> str(parse_unit("mL/min/1.73m2"))
    'milliliter / bsa173 / minute'
    """
    try:
        unit = registry().parse_units(_pint_text(text))
    except (pint.errors.PintError, AttributeError, TypeError, ValueError, SyntaxError) as error:
        raise UnitProblem(f"unknown unit '{text}'") from error
    return unit


def quantize(value: Decimal) -> Decimal:
    """Round once, half to even, to `PLACES` places; -0 becomes 0 so output is byte-stable."""
    rounded = value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
    return rounded + 0 if rounded else Decimal(0).quantize(QUANTUM)


def same_dimension(a: str, b: str, conversions: tuple[tuple[Decimal, str, Decimal, str], ...] = ()) -> bool:
    """Whether a value in unit `a` can be converted to unit `b` (directly or by a declared factor)."""
    try:
        convert(Decimal(1), a, b, conversions)
    except UnitProblem:
        return False
    return True


def convert(
    value: Decimal,
    source: str,
    target: str,
    conversions: tuple[tuple[Decimal, str, Decimal, str], ...] = (),
) -> Decimal:
    """Convert `value` from unit `source` to `target`, exactly, then round once.

    `conversions` are substance-specific factors a protocol declares (`1 mg/dL = 17.1 umol/L` for
    bilirubin), given as (amount, unit, amount, unit); they bridge dimensions pint cannot.

    >>> convert(Decimal("1.17"), "mg/dL", "umol/L", ((Decimal(1), "mg/dL", Decimal("17.1"), "umol/L"),))
    Decimal('20.007000')
    >>> convert(Decimal("0.5"), "mL/s/1.73m2", "mL/min/1.73m2")
    Decimal('30.000000')
    """
    return quantize(value * factor(source, target, conversions))


@cache
def factor(source: str, target: str, conversions: tuple = ()) -> Decimal:
    """The exact factor from `source` to `target` (every unit here is a pure multiple of another);
    computed by pint once per pair of units, then reused for every patient."""
    source_unit, target_unit = parse_unit(source), parse_unit(target)
    exact = _direct(Decimal(1), source_unit, target_unit)
    if exact is None:
        exact = _bridged(Decimal(1), source_unit, target_unit, conversions)
    if exact is None:
        raise UnitProblem(
            f"cannot convert {source} ({_dimension(source_unit)}) to {target} ({_dimension(target_unit)})"
        )
    return exact


def _direct(value: Decimal, source: pint.Unit, target: pint.Unit) -> Decimal | None:
    ureg = registry()
    try:
        return Decimal(ureg.Quantity(value, source).to(target).magnitude)
    except pint.errors.DimensionalityError:
        return None


def _bridged(value, source, target, conversions) -> Decimal | None:
    for amount, unit_a, equals, unit_b in conversions:
        for (x, ux), (y, uy) in (((amount, unit_a), (equals, unit_b)), ((equals, unit_b), (amount, unit_a))):
            into_x = _direct(value, source, parse_unit(ux))
            if into_x is None:
                continue
            bridged = _direct(into_x * y / x, parse_unit(uy), target)
            if bridged is not None:
                return bridged
    return None


def _dimension(unit: pint.Unit) -> str:
    dimensionality = registry().Quantity(1, unit).dimensionality
    return "dimensionless" if not dimensionality else str(dimensionality).replace("[", "").replace("]", "")
