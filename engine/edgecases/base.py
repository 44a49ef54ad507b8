"""What every kind of boundary case shares: the change a case makes to the base patient, the
step a value can move by, a number restated in another unit, and a patient moved in time.

Each construct's module (`measured`, `ages`, `windows`, `counts`, `formulas`) turns one atom
into `Variant`s, each with the status of that atom worked out on its own (exact decimals, calendar
arithmetic): never by the network, which the scenarios then test.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta

from engine.dates import LAST_DAY
from engine.shape import holds
from protocol import model as m
from protocol.units import QUANTUM, Affine, UnitProblem, quantize, scale

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

#: A birth date the case leaves as the base has it.
KEEP = "keep"


@dataclass(frozen=True)
class Variant:
    """One change to the base patient, and what it makes of the atom under test."""

    name: str
    how: str  # how the expected status of the atom was worked out
    atom: Any
    status: str  # "true" | "false" | "unknown"
    replace: tuple[dict, ...] = ()
    remove: tuple[str, ...] = ()
    moved_to: date | None = None  # screened on this day instead, every date moved alike
    birth_date: str | None = KEEP  # a new birth date, None for none


def kleene_and(*values: str) -> str:
    """Strong Kleene conjunction of "true" / "false" / "unknown"."""
    return holds("all", list(values))


def kleene_or(*values: str) -> str:
    """Strong Kleene disjunction of "true" / "false" / "unknown"."""
    return holds("any", list(values))


class Skip(Exception):
    """An atom (or one of its changes) this module cannot give an independent expectation: said
    in the scenario file's header as `not generated: ...`, never guessed."""


def step_of(concept: m.Concept) -> Decimal:
    """The smallest step a value can move by: a scale's whole step, a titre's next dilution
    (1:79 and 1:81 beside 1:80), else the rounding rule's."""
    return Decimal(1) if concept.kind in (m.Kind.SCALE, m.Kind.TITRE) else QUANTUM


def allowed(concept: m.Concept, value: Decimal) -> bool:
    """Whether a fact file may give `value` (a scale's value lies within its declared steps, a
    titre's is a dilution, from 1:1)."""
    if concept.kind is m.Kind.TITRE:
        return value >= 1
    return concept.steps is None or concept.steps[0] <= value <= concept.steps[1]


def kept(gen: EdgeCases, concept: str) -> dict[str, Any]:
    """The base's latest fact of `concept` (`given`), its date and reference range kept for
    the new value (dated the day before screening when the base has none). A concept read as of
    a named day (`uacr_at_visit_1: uacr at visit_1`) is given as a result of the concept it
    reads (`concept` then among the fields), on that day."""
    fields = {k: v for k, v in given(gen, concept).items() if k in ("date", "reference_range")}
    declared = gen.concepts.get(concept)  # `given` has refused the lowest or highest in a window
    if declared is not None and declared.reads is not None:
        return {"concept": declared.reads.name, **fields, "date": _recorded_by(gen, declared)}
    fields.setdefault("date", (gen.screening - timedelta(days=1)).isoformat())
    return fields


def given(gen: EdgeCases, concept: str) -> dict[str, Any]:
    """The base's latest fact giving `concept`, {} for none: of a concept read as of a named
    day, the latest of the concept it reads on or before that day."""
    declared = gen.concepts.get(concept)
    read, by = concept, None
    if declared is not None and declared.side is not None and any(
            f.get("concept") == declared.side[0] for f in gen.base["facts"]):
        family, side = declared.side
        raise Skip(f"the base patient gives {family} as {family}'s facts with their "
                   f"{declared.per}: a case changes {concept}'s facts, so give the base's "
                   f"{side} {declared.per} as {concept}")
    if declared is not None and declared.extreme is not None:
        raise Skip(f"{concept} is {declared.read_as}: a case at its boundary is a series of "
                   f"{declared.reads.name} results, which a scenario writes")
    if declared is not None and declared.reads is not None:
        read, by = declared.reads.name, read_on(gen, declared)
    old = [f for f in gen.base["facts"] if f.get("concept") == read
           and (by is None or str(f.get("date")) <= by)]
    return old[-1] if old else {}


def read_on(gen: EdgeCases, declared: m.Concept) -> str:
    """The named day a concept read as of it is read at (`randomisation` of `lvef_r`), from the
    base patient."""
    day = day_given(gen, declared.at.name)
    if day is None:
        raise Skip(f"the base patient gives no {declared.at.name} day to read {declared.name} at")
    return day.isoformat()


def _recorded_by(gen: EdgeCases, declared: m.Concept) -> str:
    """The day a case's result of a concept read as of a named day is dated: that day, or the
    screening date when the day lies after it (a later result is set aside: `lvef_r: lvef at
    randomisation valid for 28 days` reads one up to screening, within the 28 days before)."""
    day = read_on(gen, declared)
    if day <= gen.screening.isoformat():
        return day
    if declared.valid_for is None:
        raise Skip(f"{declared.name} reads {declared.reads.name} of {declared.at.name}'s day "
                   f"({day}), after screening ({gen.screening}): no result of it is recorded")
    return gen.screening.isoformat()


def given_as(gen: EdgeCases, concept: str) -> str:
    """The concept whose facts give `concept`: itself, or the concept it reads as of a named
    day (`uacr` for `uacr_at_visit_1`), whose facts a case removes to leave it without one."""
    declared = gen.concepts.get(concept)
    return declared.reads.name if declared is not None and declared.reads else concept


def day_given(gen: EdgeCases, concept: str) -> date | None:
    """The day a date concept's latest base fact gives, or None."""
    given = [f for f in gen.base["facts"] if f.get("concept") == concept]
    try:
        return date.fromisoformat(given[-1]["value"]) if given else None
    except (KeyError, TypeError, ValueError):
        return None


def anchor_day(gen: EdgeCases, anchor: m.Anchor | None) -> date | None:
    """The day a window counts from in the base patient, for any anchor but an occurrence's
    edge: the screening date, a date concept's day, or the date of the latest result (`the date
    of anc`); None when the base gives none."""
    if anchor is None or anchor.ref is None:
        return gen.screening
    if not anchor.result:
        return day_given(gen, anchor.ref.name)
    days = [f["date"] for f in gen.base["facts"] if f.get("concept") == anchor.ref.name
            and isinstance(f.get("date"), str)]
    try:
        return date.fromisoformat(max(days)) if days else None
    except ValueError:
        return None


#: Units a number may be restated in, tried in order after the one the protocol writes and
#: those its concept declares conversions to: the first of the concept's dimension in which the
#: number is exact to six places is used.
OTHER_UNITS = ("mL/s/1.73m2", "mL/min/1.73m2", "mg/dL", "umol/L", "g/L", "g/dL", "mmol/L",
               "x10^9/L", "/uL", "mL/s", "mL/min", "lb", "kg", "cm", "m", "°C", "°F")


def other_unit(concept: m.Concept, number: Decimal, unit: str | None, written: str | None,
               aliases: tuple) -> tuple[Decimal, str] | None:
    """`number` of `unit` restated exactly in another unit of its dimension, or None."""
    if unit is None or concept.kind in m.UNITLESS:
        return None
    declared = [u for c in concept.conversions for u in (c.source.unit, c.target.unit)]
    for other in dict.fromkeys([written, *declared, *OTHER_UNITS]):
        if other is None or other == unit:
            continue
        try:
            rate = scale(other, unit, concept.factors, aliases=aliases)
        except (UnitProblem, ValueError):
            continue
        if isinstance(rate, Affine):  # a temperature: `number` back through the offset
            exact = (Fraction(number) - rate.offset) / rate.factor
            value = Decimal(exact.numerator) / Decimal(exact.denominator)
            if Fraction(value) == exact and value == quantize(value) and rate(value) == number:
                return tidy(value), other
            continue
        value = number / rate
        if value == quantize(value) and quantize(value * rate) == number:
            return tidy(value), other
    return None


def tidy(number: Decimal) -> Decimal:
    """A decimal without trailing zeros or an exponent: 30.000000 is written 30, not 3E+1.

    >>> tidy(Decimal("30.000000")), tidy(Decimal("0.500"))
    (Decimal('30'), Decimal('0.5'))
    """
    return Decimal(format(number.normalize(), "f"))


def leap(year: int) -> bool:
    """Whether the year has a 29 February.

    >>> leap(2028), leap(2100), leap(2000)
    (True, False, True)
    """
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _later(text: Any, delta: timedelta) -> Any:
    """A whole date `delta` later; anything else (a month, a year) as it is."""
    try:
        return (date.fromisoformat(text) + delta).isoformat()
    except (TypeError, ValueError):
        return text


def moved(data: dict[str, Any], delta: timedelta, protocol: m.Protocol) -> dict[str, Any]:
    """The patient screened `delta` later, every date moved alike (facts stay as old)."""
    dated = {c.name for c in protocol.concepts if c.kind is m.Kind.DATE}
    out = copy.deepcopy(data)
    for key in ("screening_date", "birth_date"):
        if key in out:
            out[key] = _later(out[key], delta)
    for fact in out["facts"]:
        for key in ("date", "end"):
            if key in fact:
                fact[key] = _later(fact[key], delta)
        if fact.get("concept") in dated and "value" in fact:
            fact["value"] = _later(fact["value"], delta)
    return out


def recorded_until(gen: EdgeCases, concept: m.Concept, screening: date | None = None) -> date:
    """The last day an occurrence of `concept` is read on: the screening date (`screening`, or
    the base's), after which a history's facts are set aside; for a planned event, whose
    occurrences may lie on any later day, the last day the calendar reads."""
    return LAST_DAY if concept.planned else screening or gen.screening


def period(duration: m.Duration) -> relativedelta:
    """A protocol's span of time as dateutil counts it on the calendar (weeks as 7 days; months
    and years clamped to the month's end: Jan 31 + 1 month is Feb 28), the independent reckoning
    every case's expectation is worked out with."""
    return relativedelta(**{duration.unit: duration.amount})


def shifted(fact: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    """A fact the cases give themselves moved in time by `delta`, as `moved` moves the base's,
    so that it stays where it was beside the rest of a moved patient (whole days only).

    >>> shifted({"concept": "x", "date": "2026-03-03", "end": "2026-04-02"}, timedelta(days=28))
    {'concept': 'x', 'date': '2026-03-31', 'end': '2026-04-30'}
    """
    return {k: _later(v, delta) if k in ("date", "end") else v for k, v in fact.items()}
