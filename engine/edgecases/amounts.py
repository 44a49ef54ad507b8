"""A course's daily dose as a case writes it, worked out on its own in the unit its medication is
dosed in, and the doses a case puts at a threshold: shared by the dose on a day (`doses`), a
course's dose and length (`courses`) and a dose filter (`filters`).

The daily dose is the README's: the course's dose times its drug's ratio in the equivalence table
(an entry's two sides each in its unit, by pint: `dexamethasone 750 ug = 5 mg` is a ratio of
20/3), converted to the dosed unit by pint, or, for a medication dosed per kg of body weight and a
dose given per day, divided by the patient's weight (none recorded, or 0: it cannot be worked
out); rounded once, half to even, to 6 places. It is worked out here in exact fractions from the
declarations, never by the normaliser.

The doses at a threshold T: the table's reference drug (the one that is its own equivalent) at T
and one step (0.000001 of the dosed unit) under and over; T in another unit (g/d for mg/d); every
other drug of the table at its equivalent, when that is exact to six places; and, for a dose per
kg, the reference drug given per day through the weight (the base's, or 70 kg of the case's own
when the base has none): at T times the weight, the nearest doses where the rounded quotient
turns (57.99997 mg/d / 58 kg is 0.999999 mg/kg/d; 57.999971 rounds to 1), and with no weight
recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from engine.atoms.base import OPS
from engine.edgecases.base import KEEP, Skip, kept, tidy
from protocol import model as m
from protocol.units import QUANTUM, UnitProblem, factor

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

#: The weight a case gives, in kg, when the base records none for a dose per kg.
OWN_WEIGHT = Decimal(70)
#: How far a dose is moved, at most, to find the nearest one whose quotient by the weight rounds
#: past the threshold (a weight of 150 kg needs 75 steps).
MOST_STEPS = 100_000
#: A course's end a case leaves unrecorded (neither `end` nor `ongoing`).
OPEN = "open"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Dosing:
    """What a medication's daily dose is worked out from: the unit it is dosed in, each drug's
    ratio to the reference in its equivalence table, and, for a dose per kg, the weight concept,
    its unit, the unit a dose per day is given in, and the base's weight (None: not usable)."""

    concept: m.Concept
    unit: str
    ratios: dict[str, Fraction]
    reference: str | None
    aliases: tuple
    weight: str | None = None
    weight_unit: str | None = None
    per_day: str | None = None
    base_weight: Decimal | None = None


@dataclass(frozen=True)
class Given:
    """A daily dose a case gives a course: drug, dose and unit, and the weight the patient has
    (KEEP: the base's; a number: a weight fact of the case's; None: none recorded)."""

    label: str
    drug: str
    dose: Decimal
    unit: str
    weight: Decimal | str | None = KEEP


def dosing(gen: EdgeCases, concept: m.Concept) -> Dosing:
    """The dosing of a medication `dosed in` a unit (the checker makes sure it is)."""
    if concept.dosed_in is None:  # pragma: no cover - the checker refuses it
        raise Skip(f"{concept.name} is not dosed")
    ratios = _ratios(gen, concept)
    reference = next((d for d, r in ratios.items() if r == 1), None)
    dosed = Dosing(concept, concept.dosed_in, ratios, reference, gen.protocol.aliases)
    if concept.weight is None:
        return dosed
    weight = gen.concepts[concept.weight.name]
    per_day = next((unit for unit in (re.sub(rf"/{re.escape(mass)}(?=/|$)", "", dosed.unit)
                                      for mass in dict.fromkeys((weight.unit or "kg", "kg")))
                    if unit != dosed.unit and
                    _factor(f"{unit}/{weight.unit}", dosed.unit, dosed) is not None), None)
    base = gen.number(gen.base_patient(), weight.name)
    return Dosing(concept, dosed.unit, ratios, reference, dosed.aliases, weight.name,
                  weight.unit, per_day, base)


def _ratios(gen: EdgeCases, concept: m.Concept) -> dict[str, Fraction]:
    """Each drug's ratio to the reference in the equivalence table (1 for all without one)."""
    drugs = [v.name for v in concept.values]
    table = gen.protocol.equivalence(concept.equivalence) if concept.equivalence else None
    if table is None:
        return dict.fromkeys(drugs, Fraction(1))
    ratios = {}
    for entry in table.entries:
        drug = concept.canonical(entry.drug) or entry.drug
        try:
            same = factor(entry.equals.unit or "", entry.amount.unit or "",
                          aliases=gen.protocol.aliases)
        except (UnitProblem, ValueError):  # pragma: no cover - the checker wants two masses
            raise Skip(f"an equivalence of {entry.drug} in units that do not convert") from None
        ratios[drug] = Fraction(entry.equals.value) * Fraction(same) / Fraction(
            entry.amount.value)
    return {d: ratios[d] for d in drugs if d in ratios}


def _factor(source: str, target: str, dosed: Dosing) -> Fraction | None:
    try:
        return Fraction(factor(source, target, aliases=dosed.aliases))
    except (UnitProblem, ValueError):
        return None


def rounded(value: Fraction) -> Decimal:
    """Rounded once, half to even, to 6 places (Python rounds a fraction exactly).

    >>> rounded(Fraction(1000005, 1000000) / 10), rounded(Fraction(2, 3))
    (Decimal('0.100000'), Decimal('0.666667'))
    """
    return Decimal(round(value / Fraction(QUANTUM))).scaleb(-6)


def threshold(dosed: Dosing, quantity: m.Quantity) -> Decimal:
    """A dose as the protocol writes it, in the dosed unit (pint), rounded once."""
    rate = _factor(quantity.unit or dosed.unit, dosed.unit, dosed)
    if rate is None:  # pragma: no cover - the checker refuses it
        raise Skip(f"a dose in {quantity.unit}, not convertible to {dosed.unit}")
    return rounded(Fraction(quantity.value) * rate)


def daily(dosed: Dosing, drug: str, dose: Decimal | None, unit: str | None,
          weight: Decimal | None) -> tuple[Decimal | None, str]:
    """One course's daily dose in the dosed unit, and how it was restated (`(x 1.25)`, `(/ 58
    kg)`); None and why, when it cannot be worked out."""
    if dose is None:
        return None, "no dose recorded"
    ratio = dosed.ratios.get(drug)
    if ratio is None:  # `check` warns of it; the normaliser cannot read the dose either
        return None, f"{drug} has no entry in {dosed.concept.equivalence}"
    restated = [] if ratio == 1 else [f"x {_ratio_text(ratio)}"]
    rate = _factor(unit or "", dosed.unit, dosed)
    if rate is not None:
        amount = rounded(Fraction(dose) * ratio * rate)
    else:
        rate = _factor(f"{unit}/{dosed.weight_unit}", dosed.unit, dosed) if dosed.weight \
            else None
        if rate is None:  # pragma: no cover - the cases give doses that convert
            raise Skip(f"a dose in {unit}, not convertible to {dosed.unit}")
        if weight is None or weight <= 0:
            return None, f"no {dosed.weight} to divide by"
        amount = rounded(Fraction(dose) * ratio / Fraction(weight) * rate)
        restated.append(f"/ {tidy(weight)} {dosed.weight_unit}")
    return amount, f"({', '.join(restated)}) " if restated else ""


def _ratio_text(ratio: Fraction) -> str:
    """A ratio as a decimal when it is one (1.25), else as a fraction (20/3)."""
    exact = Decimal(ratio.numerator) / Decimal(ratio.denominator)
    return str(tidy(exact)) if Fraction(exact) == ratio else \
        f"{ratio.numerator}/{ratio.denominator}"


def weight_of(dosed: Dosing, given: Given) -> Decimal | None:
    """The weight a case's patient has."""
    return dosed.base_weight if given.weight == KEEP else given.weight  # type: ignore[return-value]


def weight_change(gen: EdgeCases, dosed: Dosing, given: Given
                  ) -> tuple[tuple[dict, ...], tuple[str, ...]]:
    """The weight fact a case gives (replace) or takes away (remove)."""
    if given.weight == KEEP or dosed.weight is None:
        return (), ()
    if given.weight is None:  # what the base records is taken away, if anything
        return (), tuple({f.get("concept") for f in gen.base["facts"]} & {dosed.weight})
    return ({"concept": dosed.weight, "value": given.weight, "unit": dosed.weight_unit,
             **kept(gen, dosed.weight)},), ()


def around(dosed: Dosing, at: Decimal, op: str) -> list[Given]:
    """The doses a case puts at threshold `at` (see the module's docstring)."""
    reference = dosed.reference
    if reference is None:
        raise Skip("no drug of the list is its own equivalent")
    unit, step = dosed.unit, QUANTUM
    out = [Given(f"{reference} {tidy(v)} {unit}", reference, tidy(v), unit)
           for v in (at, at - step, at + step) if v >= 0]
    other = _in_other_unit(dosed, at)
    if other is not None:
        out.append(Given(f"{reference} {other[0]} {other[1]}", reference, *other))
    for drug, ratio in dosed.ratios.items():
        dose = Fraction(at) / ratio
        if drug != reference and rounded(dose) == dose:
            out.append(Given(f"{drug} {tidy(rounded(dose))} {unit}", drug, tidy(rounded(dose)),
                             unit))
    return out + per_day(dosed, at, op, reference)


def per_day(dosed: Dosing, at: Decimal, op: str, drug: str) -> list[Given]:
    """For a dose per kg given per day, of `drug`: at the threshold times the weight (through
    the drug's ratio, when that is exact), the nearest doses where the rounded quotient turns, and
    no weight recorded."""
    unit, ratio = dosed.per_day, dosed.ratios.get(drug)
    if unit is None or ratio is None:
        return []
    weight = dosed.base_weight if dosed.base_weight else OWN_WEIGHT
    given = KEEP if dosed.base_weight else weight
    rate = _factor(f"{unit}/{dosed.weight_unit}", dosed.unit, dosed)
    assert rate is not None  # `dosing` made sure
    dose = Fraction(at) * Fraction(weight) / rate / ratio
    if rounded(dose) != dose:
        return []
    where = f" (weight {tidy(weight)} {dosed.weight_unit})" if given != KEEP else ""

    def held(value: Decimal) -> bool:
        amount, _ = daily(dosed, drug, value, unit, weight)
        return amount is not None and OPS[op](amount, at)

    start = tidy(rounded(dose))
    out = [Given(f"{drug} {start} {unit}{where}", drug, start, unit, given)]
    for sign in (-1, 1):
        if not _moves(op, held(start), sign):
            continue
        for k in range(1, MOST_STEPS):
            value = start + sign * k * QUANTUM
            if value < 0:
                break
            if held(value) != held(start):  # the last dose before the turn, and the first
                out += [Given(f"{drug} {tidy(v)} {unit}{where}", drug, tidy(v), unit, given)
                        for v in (value - sign * QUANTUM, value) if v != start]
                break
    out.append(Given(f"{drug} {start} {unit} (no {dosed.weight})", drug, start, unit,
                     None))
    return out


def _moves(op: str, held: bool, sign: int) -> bool:
    """Whether moving a dose up (`sign` 1) or down can turn the comparison: `>= T` that holds
    turns only downward."""
    if op in ("==", "!="):
        return True
    return (sign > 0) == ((op in (">=", ">")) != held)


def _in_other_unit(dosed: Dosing, dose: Decimal) -> tuple[Decimal, str] | None:
    """The dose in the unit a thousand times larger or smaller (g/d for mg/d), when exact."""
    for prefix, other in (("mg", "g"), ("ug", "mg"), ("g", "mg")):
        if dosed.unit.startswith(prefix + "/"):
            name = other + dosed.unit[len(prefix):]
            rate = _factor(name, dosed.unit, dosed)
            value = Fraction(dose) / rate if rate else None
            if value is not None and rounded(value) == value:
                return tidy(rounded(value)), name
    return None


def bounded(op: str, at: Decimal, low: Decimal, high: Decimal | None) -> str:
    """Whether every possible total from `low` to `high` (None: unbounded) passes `op at`:
    "true", "false" when none does, "unknown" otherwise.

    >>> bounded(">=", Decimal(5), Decimal(5), None), bounded("<=", Decimal(5), Decimal(6), None)
    ('true', 'false')
    """
    top = high if high is not None else max(low, at) + 1  # beyond `at` is all that matters
    if low == top:
        return str(OPS[op](low, at)).lower()
    every = {">=": low >= at, ">": low > at, "<=": high is not None and top <= at,
             "<": high is not None and top < at, "==": False, "!=": at < low or at > top}[op]
    none = {">=": top < at, ">": top <= at, "<=": low > at, "<": low >= at,
            "==": at < low or at > top, "!=": False}[op]
    return "true" if every else "false" if none else "unknown"


def course_fact(concept: m.Concept, fields: dict[str, Any], drug: str, dose: Decimal | None,
                unit: str | None, first, last) -> dict[str, Any]:
    """One course as a fact: `last` None is ongoing, `OPEN` neither an end nor ongoing."""
    fact = {"concept": concept.name, **fields, "drug": drug,
            **({"dose": dose, "unit": unit} if dose is not None else {}),
            "date": first.isoformat()}
    if last is None:
        fact["ongoing"] = True
    elif last != OPEN:
        fact["end"] = last.isoformat()
    return fact
