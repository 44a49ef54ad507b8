"""Boundary cases of ages: `age >= 18 years`, `age_at_enrolment 12 to 17 years`.

An age is completed years on a day (the screening date, or its date concept's day), so its edges
are birth dates: for a bound of N years, the first day of age N (born N years before) and the last
day of age N-1 (a day later), and for an upper bound the last day of age N and the first of N+1;
a birthday on 29 February counted on 28 February and 1 March of a year that has no 29 February;
the month and the year of the first day of the age where the bound turns, as a birth date known
no better (a registry's); the same bound given as an age fact in months; and no birth date. The
age each birth date gives is worked out with `dateutil.relativedelta(day, born).years`, not with
the engine's calendar.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from dateutil.relativedelta import relativedelta

from engine.atoms.base import OPS
from engine.edgecases.base import Skip, Variant, day_given, leap
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases


def ages(gen: EdgeCases, atom: m.Compare | m.InRange) -> list[Variant]:
    concept = gen.concept(atom)
    bounds = [atom.threshold] if isinstance(atom, m.Compare) else [atom.low, atom.high]
    if any(q.unit not in ("years", "year") for q in bounds):
        raise Skip("an age bound in a unit other than years (ages are completed years)")
    if isinstance(atom, m.Compare):
        n = atom.threshold.value
        written = f"{atom.ref.name} {atom.op} {atom.threshold}"

        def held(years: int) -> bool:
            return OPS[atom.op](Decimal(years), n)
    else:
        low, high = atom.low.value, atom.high.value
        written = f"{atom.ref.name} {low} to {atom.high}"

        def held(years: int) -> bool:
            return low <= years <= high
    anchor = gen.screening if concept.at is None else day_given(gen, concept.at.name)
    on = "screening" if concept.at is None else concept.at.name
    if anchor is None:
        raise Skip(f"the base patient gives no {on} to count {concept.name} at")
    out: list[Variant] = []
    for bound in bounds:
        if bound.value != int(bound.value):
            raise Skip("an age bound that is not a whole number of years")
        years = int(bound.value)
        for age in (years - 1, years, years + 1):
            if age < 0:
                continue
            first = anchor - relativedelta(years=age)
            last = anchor - relativedelta(years=age + 1) + timedelta(days=1)
            for born, which in ((first, "the first day"), (last, "the last day")):
                out.append(_born(atom, concept, anchor, on, born, f"{which} of age {age}",
                                 written, held))
        turn = next(age for age in (years, years + 1) if held(age) != held(age - 1))
        edge = anchor - relativedelta(years=turn)
        out.extend(_partly_known(atom, concept, anchor, on, edge.isoformat()[:length],
                                 f"the {known} of the first day of age {turn}", written, held)
                   for length, known in ((7, "month"), (4, "year")))
    out.extend(_leap_day(gen, atom, concept, anchor, on, int(bounds[0].value), written, held))
    months = int(bounds[0].value) * 12
    for value in (months - 1, months):
        years = value // 12
        out.append(Variant(
            f"{concept.name} {value} months (no birth date): {written}, in another unit",
            f"{value} months is {years} completed years (floor of {value}/12); "
            f"{'inside' if held(years) else 'outside'}", atom, _status(held(years)),
            replace=({"concept": concept.name, "value": value, "unit": "months"},),
            birth_date=None))
    out.append(Variant(f"no birth date: {written}", "no birth date, no age: unknown", atom,
                       "unknown", birth_date=None, remove=_ages_given(gen, concept)))
    return _unique(out)


def _born(atom, concept: m.Concept, anchor: date, on: str, born: date, which: str, written: str,
          held: Callable[[int], bool], moved_to: date | None = None) -> Variant:
    age = relativedelta(anchor, born).years
    return Variant(
        f"born {born}, {concept.name} at {on} {anchor}: {which}, {written}",
        f"relativedelta({anchor}, {born}).years = {age} (dateutil); "
        f"{'inside' if held(age) else 'outside'}", atom, _status(held(age)),
        birth_date=born.isoformat(), moved_to=moved_to)


def _partly_known(atom, concept: m.Concept, anchor: date, on: str, born: str, which: str,
                  written: str, held: Callable[[int], bool]) -> Variant:
    """Born on some day of a month or a year (a registry's birth date): decided where every
    such day up to `anchor` gives one answer, unknown where they differ."""
    year, month = int(born[:4]), int(born[5:7]) if len(born) > 4 else None
    first = date(year, month or 1, 1)
    last = min(anchor, (first + relativedelta(months=1) if month else date(year + 1, 1, 1))
               - timedelta(days=1))
    ages = sorted({relativedelta(anchor, first).years, relativedelta(anchor, last).years})
    found = {held(age) for age in ages}
    return Variant(
        f"born {born}, {concept.name} at {on} {anchor}: {which}, {written}",
        f"relativedelta({anchor}, day).years for its days {first} to {last} = "
        f"{' or '.join(map(str, ages))} (dateutil); " + (
            ("inside" if held(ages[0]) else "outside") if len(found) == 1
            else "inside for some, outside for others: unknown"), atom,
        _status(held(ages[0])) if len(found) == 1 else "unknown", birth_date=born)


def _leap_day(gen: EdgeCases, atom, concept: m.Concept, anchor: date, on: str, years: int,
              written: str, held) -> list[Variant]:
    """Born on 29 February, counted on 27 and 28 February and 1 March of the year of birthday
    `years` that has no 29 February (the patient moved so that its anchor falls there)."""
    born_year = anchor.year - years
    while not leap(born_year) or leap(born_year + years):
        born_year -= 1
    born = date(born_year, 2, 29)
    out = []
    for day in (date(born_year + years, 2, 27), date(born_year + years, 2, 28),
                date(born_year + years, 3, 1)):
        screening = gen.screening + (day - anchor)
        out.append(_born(atom, concept, day, on, born, "a birthday on 29 February", written,
                         held, moved_to=screening))
    return out


def _ages_given(gen: EdgeCases, concept: m.Concept) -> tuple[str, ...]:
    return (concept.name,) if any(f.get("concept") == concept.name
                                  for f in gen.base["facts"]) else ()


def _status(held: bool) -> str:
    return "true" if held else "false"


def _unique(variants: list[Variant]) -> list[Variant]:
    seen: dict[str, Variant] = {}
    for variant in variants:
        seen.setdefault(variant.name, variant)
    return list(seen.values())

