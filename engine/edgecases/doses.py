"""Boundary cases of medication courses: the dose on a day (`glucocorticoid dose at screening >=
7.5 mg/d`), treatment without a break (`glucocorticoid for at least 28 days`, see
`without_break`), a stable dose (`stable_doses`), a cumulative or average dose
(`cumulative_doses`) and the highest daily dose of a window (`highest_doses`).

Each case replaces the medication's courses: one ongoing course at each of the doses `amounts`
puts at the threshold (the table's reference drug at it, one step under and over, in another
unit, every other drug at its exact equivalent, and for a dose per kg the dose per day through the
weight); two courses of half the threshold each; a course at the threshold ending the day before
the anchor (it does not count), ending on it (it does); a dose change on the anchor day (up to
the threshold, and down from it); the medication recorded as none (a dose of 0); and nothing
recorded.

The status is the README's sum, worked out here: each course that covers the anchor day (started
on or before it, ended on or after it or ongoing) adds its daily dose (`amounts.daily`: through the
equivalence table, pint and the weight); a course whose dose cannot be worked out (no weight)
leaves the total unbounded above; the total compared with the threshold, decided where every
possible total agrees.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta

from engine.edgecases.amounts import (DAY, Dosing, Given, around, bounded, course_fact, daily,
                                      dosing, per_day, threshold, weight_change, weight_of)
from engine.edgecases.base import KEEP, Skip, Variant, anchor_day, day_given, period, tidy
from protocol import model as m
from protocol.formula import rounded
from protocol.units import QUANTUM, convert, per_days, quantize, summed_over_days

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

#: One course of a case: drug, daily dose, its unit, first day, last day (None: ongoing).
Course = tuple[str, Decimal, str, date, date | None]
#: One course of a summed dose's case, whose dose may be missing (None: no dose recorded).
Summed = tuple[str, Decimal | None, str, date, date | None]


def current_doses(gen: EdgeCases, atom: m.CurrentDose) -> list[Variant]:
    """The cases of one `X dose at A <op> D` (see the module's docstring); raises `Skip`."""
    _unfiltered(atom)
    concept = gen.concept(atom)
    if atom.anchor is not None and atom.anchor.edge is not None:  # pragma: no cover
        raise Skip("a dose on another history's start or end")  # the checker refuses it
    anchor = gen.screening if atom.anchor is None else day_given(gen, atom.anchor.ref.name)
    on = str(atom.anchor) if atom.anchor is not None else "screening"
    if anchor is None:
        raise Skip(f"the base patient gives no {on} day")
    dosed = dosing(gen, concept)
    at = threshold(dosed, atom.dose)
    givens = around(dosed, at, atom.op)
    reference, unit = givens[0].drug, dosed.unit
    written = f"{concept.name} dose at {on} {atom.op} {atom.dose}"
    before = anchor - DAY
    start = min(anchor, gen.screening) - timedelta(days=30)

    def one(dose: Decimal, first: date = start, last: date | None = None) -> list[Course]:
        return [(reference, dose, unit, first, last)]

    cases: list[tuple[str, list[Course], Given | None]] = [
        (g.label, [(g.drug, g.dose, g.unit, start, None)], g) for g in givens]
    half = at / 2
    if half == quantize(half):
        cases.append((f"two courses of {reference} {tidy(half)} {unit}",
                      [*one(tidy(half)), *one(tidy(half), first=start + DAY)], None))
    cases += [
        (f"{reference} {tidy(at)} {unit} ending {before}", one(tidy(at), last=before), None),
        (f"{reference} {tidy(at)} {unit} ending {anchor}", one(tidy(at), last=anchor), None),
    ]
    if anchor <= gen.screening:
        for old, new in ((at - QUANTUM, at), (at, at - QUANTUM)):
            cases.append((f"{reference} {tidy(old)} {unit} to {before}, {tidy(new)} from "
                          f"{anchor}", [*one(tidy(old), last=before),
                                        *one(tidy(new), first=anchor)], None))
    fields = _kept(gen, concept)
    variants = [_variant(gen, dosed, atom, f"{what}: {written}", courses, anchor, on, at,
                         fields, given) for what, courses, given in cases]
    zero = bounded(atom.op, at, Decimal(0), Decimal(0))
    return variants + _absent(gen, atom, concept, written, zero == "true",
                              f"a dose of 0; 0 {atom.op} {tidy(at)} is {zero}")


@dataclass(frozen=True)
class _Summing:
    """What the cases of one cumulative or average dose share: the span's first day (None: every
    day up to screening) and last, N (the days of each case's course: the window's, for an
    average), the dose a day that N days of make the threshold, the threshold `at` in the sum's
    unit, and how the condition and the span read."""

    first: date | None
    last: date
    days: int
    per: Decimal
    at: Decimal
    unit: str
    written: str
    span: str


def _unfiltered(atom: m.CurrentDose | m.CumulativeDose) -> None:
    """A dose of the courses a filter keeps (`where route is oral`) has no cases yet."""
    if atom.filters:
        raise Skip(f"a dose of the courses a filter keeps ('{atom.filters[0]}'): its courses are "
                   "not generated")


def _summing(gen: EdgeCases, atom: m.CumulativeDose, dosed: Dosing) -> _Summing:
    _unfiltered(atom)
    window = atom.window
    first: date | None = None
    last = gen.screening
    if window.kind != "ever":
        anchor = anchor_day(gen, window.anchor)
        if anchor is None:
            raise Skip(f"the base patient gives no day for {window.anchor}")
        assert window.duration is not None
        first, last = anchor - period(window.duration), anchor
        if first > gen.screening:  # its cases' courses would start after screening: set aside
            raise Skip(f"the window starts {first}, after screening {gen.screening}")
    if atom.daily:
        assert first is not None  # checked: an average or the highest is over a window
        summed, at, days = dosed.unit, threshold(dosed, atom.dose), (last - first).days + 1
        per = at
    else:
        unit = summed_over_days(dosed.unit)
        assert unit is not None and atom.dose.unit is not None  # checked
        summed, at = unit, convert(atom.dose.value, atom.dose.unit, unit)
        days, per = 10, at / 10
        if per != quantize(per):
            days, per = 1, at
    daily = "daily " if per_days(dosed.unit) == 1 else ""  # a weekly dose's: "highest dose"
    summary = {m.AVERAGE: f"average {daily}dose", m.HIGHEST: f"highest {daily}dose"}.get(
        atom.reading, "cumulative dose")
    written = f"{atom.ref.name} {summary} {atom.op} {atom.dose}" + (
        "" if window.kind == "ever" else f" {window}")
    span = "up to screening" if first is None else f"from {first} to {last}"
    return _Summing(first, last, days, per, at, summed, written, span)


def cumulative_doses(gen: EdgeCases, atom: m.CumulativeDose) -> list[Variant]:
    """The cases of `X cumulative dose <op> T` (within D before A, or up to screening): one
    course of the reference drug ending on the span's last day, N days at T / N a day (N = 10,
    or 1 where T / 10 is no exact dose), so N x the dose is T; a day shorter and a day longer
    (the extra day outside a window counts nothing); the course ending the day before the span's
    first day (nothing counts) and on it (one day counts); an ongoing course of N days up to
    screening; the course without a dose (unbounded above); the N days' course started on some
    day of its first day's month; its dose per day through the base's weight (a dose per kg,
    where that is exact); recorded as none (0); nothing recorded. The status is worked out
    here (`_summed_case`).

    Of `X average daily dose <op> T within D before A` the same cases, with N the window's days
    and T a day, so the course over all of them averages T; and one a step over T."""
    concept = gen.concept(atom)
    dosed = dosing(gen, concept)
    sums = _summing(gen, atom, dosed)
    first, last, days, per = sums.first, sums.last, sums.days, sums.per
    reference = _reference(dosed)
    # N days ending on the span's last day; of a sum whose span reaches past screening, on
    # screening (its courses are dated by then); an average's N are the span's days
    last = last if atom.daily else min(last, gen.screening)
    start = last - timedelta(days=days - 1)
    ongoing = gen.screening - timedelta(days=days - 1)

    def course(begin: date, end: date | None, dose: Decimal | None = per) -> Summed:
        return reference, None if dose is None else tidy(dose), dosed.unit, begin, end

    cases = [(f"{days} days of {tidy(per)} {dosed.unit}", course(start, last)),
             (f"{days - 1} days of {tidy(per)} {dosed.unit}", course(start + DAY, last)),
             (f"{days + 1} days of {tidy(per)} {dosed.unit}", course(start - DAY, last)),
             (f"{tidy(per)} {dosed.unit} from {ongoing}, ongoing", course(ongoing, None)),
             (f"{days} days of {reference} without a dose", course(start, last, None))]
    if atom.reading == m.AVERAGE:
        over = per + QUANTUM
        cases.append((f"{days} days of {tidy(over)} {dosed.unit}", course(start, last, over)))
    if first is not None:
        cases += [(f"{tidy(per)} {dosed.unit} ending {first - DAY}",
                   course(first - timedelta(days=days), first - DAY)),
                  (f"{tidy(per)} {dosed.unit} ending {first}",
                   course(first - timedelta(days=days - 1), first))]
    # the N days' dose given per day through the base's weight, where that is an exact dose
    cases += [(f"{days} days of {g.label} through the weight", (g.drug, g.dose, g.unit, start,
                                                                last))
              for g in per_day(dosed, per, atom.op, reference)[:1] if g.weight == KEEP]
    fields = _kept(gen, concept)
    variants = [_summed_case(gen, atom, dosed, sums, what, one, fields, False)
                for what, one in cases if one[3] <= gen.screening]  # else set aside
    # the N days' course started on some day of its first day's month
    month = date(start.year, start.month, 1)
    if month <= gen.screening:
        variants.append(_summed_case(gen, atom, dosed, sums, f"{tidy(per)} {dosed.unit} from "
                                     f"{month:%Y-%m} (known to the month) to {last}",
                                     course(month, last), fields, True))
    zero = bounded(atom.op, sums.at, Decimal(0), Decimal(0))
    return variants + _absent(gen, atom, concept, sums.written, zero == "true",
                              f"{'an average' if atom.daily else 'a cumulative dose'} of 0; "
                              f"0 {atom.op} {tidy(sums.at)} is {zero}")


def highest_doses(gen: EdgeCases, atom: m.CumulativeDose) -> list[Variant]:
    """The cases of `X highest daily dose <op> T within D before A`: the daily doses of the
    courses taken on a day summed, the most of any day of the span (A - D to A; a course going on
    at screening goes on) compared with T. One course of the reference drug at T over the whole
    span, a step over and under it; two courses of T / 2 on the same days of the span (a day of
    T) and one after the other (T / 2 a day); a course at T ending the day before the span's
    first day (nothing counts), of one day on its first day and on its last (T); one going on
    from before it; one without a dose
    (unbounded above); one at T from a day known only to its month; recorded as none (0);
    nothing recorded. The status is worked out here, day by day (`_highest_case`)."""
    concept = gen.concept(atom)
    dosed = dosing(gen, concept)
    sums = _summing(gen, atom, dosed)
    first, last, at, unit, written = sums.first, sums.last, sums.at, sums.unit, sums.written
    assert first is not None  # checked: the highest is over a window
    reference = _reference(dosed)

    def course(begin: date, end: date | None, dose: Decimal | None = at) -> Summed:
        return reference, None if dose is None else tidy(dose), unit, begin, end

    before = first - timedelta(days=10)
    cases = [(f"{tidy(at)} {unit} from {first} to {last}", [course(first, last)]),
             (f"{tidy(at + QUANTUM)} {unit} from {first} to {last}",
              [course(first, last, at + QUANTUM)]),
             (f"{tidy(at)} {unit} ending {first - DAY}", [course(before, first - DAY)]),
             (f"{tidy(at)} {unit} on {first} alone", [course(first, first)]),
             (f"{tidy(at)} {unit} on {last} alone", [course(last, last)]),
             (f"{tidy(at)} {unit} from {before}, ongoing", [course(before, None)]),
             (f"{reference} without a dose from {first} to {last}",
              [course(first, last, None)])]
    if at > QUANTUM:
        cases.insert(1, (f"{tidy(at - QUANTUM)} {unit} from {first} to {last}",
                         [course(first, last, at - QUANTUM)]))
    half = at / 2
    if half == quantize(half) and half > 0:
        cases.append((f"two courses of {tidy(half)} {unit}, from {first} and from "
                      f"{first - DAY}, to {last}",
                      [course(first, last, half), course(first - DAY, last, half)]))
        if first < last:
            cases.append((f"{tidy(half)} {unit} from {first} to {first}, then from "
                          f"{first + DAY} to {last}",
                          [course(first, first, half), course(first + DAY, last, half)]))
    fields = _kept(gen, concept)
    variants = [_highest_case(gen, atom, dosed, written, what, courses, fields, at, first, last)
                for what, courses in cases  # a course dated after screening is set aside
                if all(begin <= gen.screening for _, _, _, begin, _ in courses)]
    month = date(first.year, first.month, 1)
    variants.append(_highest_case(gen, atom, dosed, written, f"{tidy(at)} {unit} from "
                                  f"{month:%Y-%m} (known to the month) to {last}",
                                  [course(month, last)], fields, at, first, last, by_month=True))
    zero = bounded(atom.op, at, Decimal(0), Decimal(0))
    return variants + _absent(gen, atom, concept, written, zero == "true",
                              f"a highest daily dose of 0; 0 {atom.op} {tidy(at)} is {zero}")


def _highest_case(gen: EdgeCases, atom: m.CumulativeDose, dosed: Dosing, written: str, what: str,
                  courses: list[Summed], fields: dict[str, Any], at: Decimal, first: date,
                  last: date, by_month: bool = False) -> Variant:
    """The courses of one case, their status worked out here: for each day from `first` to
    `last`, the daily doses (`amounts.daily`) of the courses taken that day summed, the most of
    a day compared with T; a course without a dose taken some day leaves it unbounded above; a
    start known to the month (`by_month`, one course), the least and the most over each day of
    that month it may be."""
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    amounts = [daily(dosed, drug, dose, unit, dosed.base_weight)[0]
               for drug, dose, unit, _, _ in courses]

    def most(starts: list[date]) -> tuple[Decimal, bool]:
        taken = [[start <= day <= (end or last) for day in days]  # going on through the span
                 for start, (_, _, _, _, end) in zip(starts, courses)]
        undosed = any(amount is None and any(on) for amount, on in zip(amounts, taken))
        return max((sum((amount for amount, on in zip(amounts, taken)
                         if amount is not None and on[k]), Decimal(0))
                    for k in range(len(days))), default=Decimal(0)), undosed

    if by_month:
        begin = courses[0][3]
        found = [most([begin + timedelta(days=k)]) for k in range(
            (min(_month_end(begin), courses[0][4] or gen.screening, gen.screening) - begin).days
            + 1)]
        low, high = min(f[0] for f in found), max(f[0] for f in found)
        unbounded = any(f[1] for f in found)
    else:
        low, unbounded = most([c[3] for c in courses])
        high = low
    held = bounded(atom.op, at, low, None if unbounded else high)
    value = tidy(low) if low == high else f"{tidy(low)} to {tidy(high)}"
    taken = f"{value} {dosed.unit}" + (" or more" if unbounded else "")
    said = [f"{drug} from {f'{begin:%Y-%m}' if by_month else begin} "
            f"{'ongoing' if end is None else f'to {end}'}" for drug, _, _, begin, end in courses]
    facts = tuple({**course_fact(gen.concept(atom), fields, drug, dose, unit, begin, end),
                   **({"date": f"{begin:%Y-%m}"} if by_month else {})}
                  for drug, dose, unit, begin, end in courses)
    return Variant(f"{what}: {written}", f"{'; '.join(said)}, the most of a day from {first} "
                   f"to {last}: {taken}; {atom.op} {tidy(at)} is {held}", atom, held,
                   replace=facts)


def _reference(dosed: Dosing) -> str:
    """The drug whose dose a case gives as the threshold is: its own equivalent (a dose of
    dexamethasone is not one of prednisone where the table has no prednisone)."""
    if dosed.reference is None:
        raise Skip("no drug of the list is its own equivalent")
    return dosed.reference


def _summed_case(gen: EdgeCases, atom: m.CumulativeDose, dosed: Dosing, sums: _Summing,
                 what: str, course: Summed, fields: dict[str, Any], by_month: bool) -> Variant:
    """One course as a case, its status worked out here: its daily dose (`amounts.daily`) times
    its days from the span's first day to its last (both counted, dateutil's calendar; a start
    known to the month, `by_month`, the fewest and the most over each day it may be), compared
    with T; for an average, divided by N and rounded once as the normaliser rounds it."""
    drug, dose, unit, begin, end = course
    first, days = sums.first, sums.days
    amount, _ = daily(dosed, drug, dose, unit, dosed.base_weight)
    until = min(end or sums.last, sums.last)  # one going on goes on through the span
    starts = [begin + timedelta(days=k) for k in range(
        (min(_month_end(begin), end or gen.screening, gen.screening) - begin).days + 1)] \
        if by_month else [begin]
    surely, counted = (func(max(0, (until - max(s, first or s)).days + 1) for s in starts)
                       for func in (min, max))
    total = (amount or Decimal(0)) * counted
    low = (amount or Decimal(0)) * surely
    value, least = (rounded(Fraction(total) / days), rounded(Fraction(low) / days)) \
        if atom.daily else (total, low)
    held = bounded(atom.op, sums.at, least, None if amount is None and counted else value)
    many = f"{counted} day{'s' * (counted != 1)}" if surely == counted else \
        f"{surely} to {counted} days"
    amounts = tidy(total) if surely == counted else f"{tidy(low)} to {tidy(total)}"
    summed = summed_over_days(dosed.unit)
    if atom.daily:  # a daily or weekly dose averaged over the days: no sum of its own unit
        taken = f"{many} x {tidy(amount)} {dosed.unit}" if amount is not None else \
            f"{many} without a dose"
        averaged = tidy(value) if least == value else f"{tidy(least)} to {tidy(value)}"
        taken += f", over {days} days: {averaged} {sums.unit}" + \
            (" or more" if amount is None and counted else "")
    else:
        taken = f"{many} x {tidy(amount)} {dosed.unit} = {amounts} {summed}" \
            if amount is not None else f"{many} without a dose: at least 0 {summed}"
    said = f"{begin:%Y-%m}" if by_month else begin
    return Variant(
        f"{what}: {sums.written}", f"{drug} from {said} {'ongoing' if end is None else f'to {end}'}"
        f", {sums.span}: {taken}; {atom.op} {tidy(sums.at)} is {held}", atom, held,
        replace=({**course_fact(gen.concept(atom), fields, drug, dose, unit, begin, end),
                  "date": str(said)},))


def _month_end(day: date) -> date:
    return date(day.year, day.month, monthrange(day.year, day.month)[1])


def _variant(gen: EdgeCases, dosed: Dosing, atom: m.CurrentDose, name: str,
             courses: list[Course], anchor: date, on: str, at: Decimal, fields: dict[str, Any],
             given: Given | None) -> Variant:
    """The courses summed on the anchor day; a course whose dose cannot be worked out leaves the
    total unbounded above."""
    weight = weight_of(dosed, given) if given is not None else dosed.base_weight
    total, unbounded, said, facts = Decimal(0), False, [], []
    for drug, dose, dose_unit, first, last in courses:
        covers = first <= anchor and (last is None or last >= anchor)
        amount, note = daily(dosed, drug, dose, dose_unit, weight)
        if covers:
            total += amount if amount is not None else 0
            unbounded = unbounded or amount is None
        taken = "not on" if not covers else f"{tidy(amount)} {dosed.unit} {note}on" \
            if amount is not None else f"{note}, on"
        said.append(f"{drug} {tidy(dose)} {dose_unit} from {first} "
                    f"{'ongoing' if last is None else f'to {last}'}: {taken} {anchor}")
        facts.append(course_fact(dosed.concept, fields, drug, dose, dose_unit, first, last))
    held = bounded(atom.op, at, total, None if unbounded else total)
    sum_ = f"at least {tidy(total)}" if unbounded else f"{tidy(total)}"
    how = f"{'; '.join(said)} ({on}); total {sum_} {dosed.unit} {atom.op} {tidy(at)} is {held}"
    replace, remove = weight_change(gen, dosed, given) if given is not None else ((), ())
    return Variant(name, how, atom, held, replace=(*facts, *replace), remove=remove)


def _kept(gen: EdgeCases, concept: m.Concept) -> dict[str, Any]:
    """What the base's latest course records beside drug, dose and dates (its route)."""
    old = [f for f in gen.base["facts"] if f.get("concept") == concept.name and
           f.get("present") is not False]
    return {k: v for k, v in (old[-1] if old else {}).items()
            if k not in ("concept", "drug", "dose", "unit", "date", "end", "ongoing", "present")}


def without_break(gen: EdgeCases, atom: m.Continuous) -> list[Variant]:
    """The cases of `X for at least D`: one course of exactly D up to screening, a day shorter
    and a day longer (ended, and ongoing); two courses that join (the next starting the day after,
    at another dose or drug) and two with a day between; an earlier run of D beside a later short
    one; recorded as none; nothing recorded.

    The status is worked out here: courses join into runs when the next starts on or before the
    day after the run's last day (an ongoing course lasts up to screening); a run lasts D when its
    first day plus D (`dateutil.relativedelta`, weeks as 7 days) is on or before its last day."""
    if atom.before:
        return _through(gen, atom)
    concept = gen.concept(atom)
    delta = period(atom.duration)
    written = f"{concept.name} for at least {atom.duration}"
    end = gen.screening
    first = end - delta
    drugs = [v.name for v in concept.values]
    fields = _kept(gen, concept)
    dose = _dose_of(gen, concept)
    one_day = timedelta(days=1)
    cases: list[tuple[str, list[tuple[str, date, date | None]]]] = [
        (f"one course {first} to {end}", [(drugs[0], first, end)]),
        (f"one course {first + one_day} to {end}", [(drugs[0], first + one_day, end)]),
        (f"one course {first - one_day} to {end}", [(drugs[0], first - one_day, end)]),
        (f"one course from {first}, ongoing", [(drugs[0], first, None)]),
        (f"one course from {first + one_day}, ongoing", [(drugs[0], first + one_day, None)]),
    ]
    middle = first + (end - first) // 2
    second = drugs[1] if len(drugs) > 1 else drugs[0]
    cases += [
        (f"{drugs[0]} {first} to {middle}, {second} {middle + one_day} to {end}",
         [(drugs[0], first, middle), (second, middle + one_day, end)]),
        (f"{drugs[0]} {first} to {middle}, {second} {middle + 2 * one_day} to {end}",
         [(drugs[0], first, middle), (second, middle + 2 * one_day, end)]),
    ]
    early = first - delta - 10 * one_day  # a run of exactly D that ended before a short one
    cases.append((f"one course {early} to {early + delta}, a later one {middle} to {end}",
                   [(drugs[0], early, early + delta), (drugs[0], middle, end)]))
    variants = []
    for what, courses in cases:
        held, how = _runs(courses, delta, atom.duration, gen.screening)
        facts = tuple({"concept": concept.name, **fields, "drug": drug, **dose,
                       "date": start.isoformat(),
                       **({"end": last.isoformat()} if last is not None else {"ongoing": True})}
                      for drug, start, last in courses)
        variants.append(Variant(f"{what}: {written}", how, atom, str(held).lower(),
                                replace=facts))
    return variants + _absent(gen, atom, concept, written, False, "false")


def _runs(courses: list[tuple[str, date, date | None]], delta: relativedelta,
          duration: m.Duration, screening: date) -> tuple[bool, str]:
    """Whether some run of consecutive courses lasts `delta`, and how that was worked out."""
    spans = sorted((start, last or screening) for _, start, last in courses)
    found: list[tuple[date, date]] = []
    for start, last in spans:
        if found and start <= found[-1][1] + timedelta(days=1):
            found[-1] = (found[-1][0], max(found[-1][1], last))
        else:
            found.append((start, last))
    said = [f"{a} to {b}: {a} + {duration} = {a + delta}, "
            f"{'reached' if a + delta <= b else 'not reached'}" for a, b in found]
    held = any(a + delta <= b for a, b in found)
    return held, f"runs {'; '.join(said)}: {str(held).lower()}"


def _through(gen: EdgeCases, atom: m.Continuous) -> list[Variant]:
    """The cases of `X for at least D before A`, with B = A - D: one course from B, the day
    before and the day after, ended on A and ongoing; one ending the day before A; two courses
    that join on the way (the next starting the day after) and two with a day between; a run of
    D that ended before a later short one; recorded as none; nothing recorded; no anchor day.
    Only courses whose days lie up to screening are given (a fact after it is set aside).

    The status is the README's, worked out here: courses join into runs when the next starts on
    or before the day after the run's last day; some run starts on or before B and ends on or
    after A, or goes on; B by `dateutil.relativedelta`."""
    concept = gen.concept(atom)
    anchor = gen.screening if atom.anchor is None else day_given(gen, atom.anchor.ref.name)
    on = str(atom.anchor) if atom.anchor is not None else "screening"
    if anchor is None:
        raise Skip(f"the base patient gives no {on} day")
    delta, day = period(atom.duration), timedelta(days=1)
    bound = anchor - delta
    written = f"{concept.name} for at least {atom.duration} before {on}"
    drugs = [v.name for v in concept.values]
    second = drugs[1] if len(drugs) > 1 else drugs[0]
    fields, dose = _kept(gen, concept), _dose_of(gen, concept)
    middle = bound + (anchor - bound) // 2
    early = bound - delta - 10 * day
    cases: list[tuple[str, list[tuple[str, date, date | None]]]] = [
        (f"one course from {start}, ongoing", [(drugs[0], start, None)])
        for start in (bound - day, bound, bound + day)]
    cases += [(f"one course {bound} to {last}", [(drugs[0], bound, last)])
              for last in (anchor, anchor - day)]
    cases += [(f"{drugs[0]} {bound} to {middle}, {second} from {start}, ongoing",
               [(drugs[0], bound, middle), (second, start, None)])
              for start in (middle + day, middle + 2 * day)]
    cases.append((f"one course {early} to {early + delta}, a later one from {middle}, ongoing",
                  [(drugs[0], early, early + delta), (drugs[0], middle, None)]))
    variants = []
    for what, courses in cases:
        if any(start > gen.screening or (last is not None and last > gen.screening)
               for _, start, last in courses):
            continue
        held, how = _covered(courses, bound, anchor, on, atom.duration)
        facts = tuple({"concept": concept.name, **fields, "drug": drug, **dose,
                       "date": start.isoformat(),
                       **({"end": last.isoformat()} if last is not None else {"ongoing": True})}
                      for drug, start, last in courses)
        variants.append(Variant(f"{what}: {written}", how, atom, str(held).lower(),
                                replace=facts))
    return variants + _absent(gen, atom, concept, written, False, "false") + _no_anchor(
        atom, written, {"concept": concept.name, **fields, "drug": drugs[0], **dose,
                        "date": early.isoformat(), "ongoing": True})


def _no_anchor(atom: m.Continuous | m.StableDose, written: str, course: dict[str, Any]
               ) -> list[Variant]:
    """One `course` going on and no anchor day, where the anchor is a date concept: unknown."""
    if atom.anchor is None:
        return []
    on = str(atom.anchor)
    return [Variant(f"one course from {course['date']}, ongoing, no {on}: {written}",
                    f"{on}: no day: unknown", atom, "unknown", replace=(course,),
                    remove=(atom.anchor.ref.name,))]


def _covered(courses: list[tuple[str, date, date | None]], bound: date, anchor: date, on: str,
             duration: m.Duration) -> tuple[bool, str]:
    """Whether some run of consecutive courses covers `bound` to `anchor`, and how that was
    worked out (a course going on runs on: `date.max`)."""
    found: list[tuple[date, date]] = []
    for start, last in sorted((start, last or date.max) for _, start, last in courses):
        if found and start <= found[-1][1] + timedelta(days=1):
            found[-1] = (found[-1][0], max(found[-1][1], last))
        else:
            found.append((start, last))
    held = any(first <= bound and last >= anchor for first, last in found)
    said = "; ".join(f"{a} to {'going on' if b == date.max else b}" for a, b in found)
    return held, (f"{on} {anchor} - {duration} = {bound} (dateutil); runs {said}; one covers "
                  f"{bound} to {anchor}: {str(held).lower()}")


def _dose_of(gen: EdgeCases, concept: m.Concept) -> dict[str, Any]:
    """The base's latest course's dose and unit, kept on every course of a case."""
    old = [f for f in gen.base["facts"] if f.get("concept") == concept.name and
           f.get("present") is not False]
    return {k: v for k, v in (old[-1] if old else {}).items() if k in ("dose", "unit")}


def stable_doses(gen: EdgeCases, atom: m.StableDose) -> list[Variant]:
    """The cases of `X dose stable for at least D before A`, with B = A - D: one course from B,
    the day before and the day after, ongoing; one from before B ending on A, and the day before
    A; a course ending on B - 1 or on B beside the next starting on B; a dose change between B
    and A, and (with the base's dose) a renewal at the same dose there; recorded as none;
    nothing recorded; no anchor day. Only courses whose days lie up to screening are given (a
    fact after it is set aside).

    The status is the README's, worked out here: some course, with the courses renewing it at
    its dose, covers every day from B to A (it started on or before B, ends on or after A or is
    ongoing), and no course starts after B up to A, nor ends from B to the day before A, but
    where it renews or is renewed (`_renewed`); B by `dateutil.relativedelta`."""
    concept = gen.concept(atom)
    if atom.anchor is not None and atom.anchor.edge is not None:  # pragma: no cover
        raise Skip("a stable dose up to another history's start or end")  # the checker refuses it
    anchor = gen.screening if atom.anchor is None else day_given(gen, atom.anchor.ref.name)
    on = str(atom.anchor) if atom.anchor is not None else "screening"
    if anchor is None:
        raise Skip(f"the base patient gives no {on} day")
    delta = period(atom.duration)
    bound, day = anchor - delta, timedelta(days=1)
    written = f"{concept.name} dose stable for at least {atom.duration} before {on}"
    drug = concept.values[0].name
    fields = {**_kept(gen, concept), **_dose_of(gen, concept)}
    early = bound - 30 * day
    dosed = "dose" in fields  # a course without a dose renews none: its dose is not known
    other = {**fields, "dose": fields["dose"] * 2} if dosed else fields
    cases: list[tuple[str, list[tuple[date, date | None, dict]]]] = [
        (f"one course from {start}, ongoing", [(start, None, fields)])
        for start in (bound - day, bound, bound + day)]
    cases += [(f"one course {early} to {last}", [(early, last, fields)])
              for last in (anchor, anchor - day)]
    cases += [(f"a course {early} to {last}, the next from {bound}, ongoing",
               [(early, last, fields), (bound, None, fields)]) for last in (bound - day, bound)]
    middle = bound + (anchor - bound) // 2
    cases.append((f"a dose change on {middle}", [(early, middle - day, fields),
                                                 (middle, None, other)]))
    if dosed:
        cases.append((f"renewed at its dose on {middle}", [(early, middle - day, fields),
                                                           (middle, None, fields)]))
    variants = []
    for what, courses in cases:
        if any(start > gen.screening or (last is not None and last > gen.screening)
               for start, last, _ in courses):
            continue
        held, how = _stable(courses, bound, anchor, on, atom.duration)
        facts = tuple({"concept": concept.name, **dose, "drug": drug, "date": start.isoformat(),
                       **({"end": last.isoformat()} if last is not None else {"ongoing": True})}
                      for start, last, dose in courses)
        variants.append(Variant(f"{what}: {written}", how, atom, str(held).lower(),
                                replace=facts))
    return variants + _absent(gen, atom, concept, written, False, "not on a dose: false") + \
        _no_anchor(atom, written, {"concept": concept.name, **fields, "drug": drug,
                                   "date": early.isoformat(), "ongoing": True})


def _stable(courses: list[tuple[date, date | None, dict]], bound: date, anchor: date, on: str,
            duration: m.Duration) -> tuple[bool, str]:
    """Whether the dose is stable from `bound` to `anchor`, and how that was worked out."""
    renewed = _renewed(courses)
    renews = set(renewed.values())
    spans = []
    for index, (start, last, _) in enumerate(courses):
        while last is not None and index in renewed:  # the renewals' last day
            index = renewed[index]
            last = courses[index][1]
        spans.append((start, last))
    covers = any(start <= bound and (last is None or last >= anchor) for start, last in spans)
    changes = [f"starts {start}" for i, (start, _, _) in enumerate(courses)
               if bound < start <= anchor and i not in renews] + \
        [f"ends {last}" for i, (_, last, _) in enumerate(courses)
         if last is not None and bound <= last < anchor and i not in renewed]
    held = covers and not changes
    said = f" (renewed at its dose on {', '.join(str(courses[i][0]) for i in sorted(renews))})" \
        if renews else ""
    return held, (f"{on} {anchor} - {duration} = {bound} (dateutil); a course{said} covers "
                  f"{bound} to {anchor}: {'yes' if covers else 'no'}; changes in between: "
                  f"{', '.join(changes) or 'none'}: {str(held).lower()}")


def _renewed(courses: list[tuple[date, date | None, dict]]) -> dict[int, int]:
    """Which course renews which (the one renewed -> the one renewing): the next starts on its
    last day or the day after, with the same dose given (README "A stable dose")."""
    found: dict[int, int] = {}
    for later, (start, _, dose) in enumerate(courses):
        for earlier, (first, last, given) in enumerate(courses):
            if "dose" in dose and dose == given and earlier not in found and first < start \
                    and last is not None and start - last in (timedelta(0), timedelta(days=1)):
                found[earlier] = later
                break
    return found


def _absent(gen: EdgeCases, atom: Any, concept: m.Concept, written: str, held: bool,
            why: str) -> list[Variant]:
    """The two cases without a course: the medication recorded as none (`held` is what that
    makes of the atom, `why` how it was worked out), and, where the base records it, nothing
    recorded (unknown: missing data is never read as none)."""
    return [Variant(f"no {concept.name} (recorded as none): {written}", f"recorded as none: {why}",
                    atom, str(held).lower(),
                    replace=({"concept": concept.name, "present": False},)),
            *([Variant(f"no {concept.name}: {written}", "nothing recorded: unknown", atom,
                       "unknown", remove=(concept.name,))]
              if any(f.get("concept") == concept.name for f in gen.base["facts"]) else [])]
