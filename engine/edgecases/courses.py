"""Boundary cases of a course's dose and length together: `glucocorticoid dose >= 1 mg/kg/d for
at least 3 months` (and `X dose >= D` without a length): one course meets both.

With T the threshold and F the screening date minus the length D (by `dateutil.relativedelta`),
each case replaces the medication's courses: one ongoing course from F at each of the doses
`amounts` puts at T (the reference drug at it, a step under and over, in another unit, every other
drug at its equivalent, through the weight for a dose per kg); a course at a dose that passes from
the day after F (one day short) and the day before; one that ended, exactly D long and one day
shorter; both edges at once (a step past the dose, a day short); two consecutive courses that pass
the dose and together, not each, last D (a course is one dose, so the length is a course's);
a long course at a failing dose beside a short one at a passing dose; a course without a dose
(long, and a day short); a course from F with no end recorded (it may have lasted D, or may not),
and one from the day after F (it cannot have); recorded as none; nothing recorded.

The status is the README's, worked out here: a course meets the condition when its daily dose
(`amounts.daily`) passes the comparison and it lasted D up to screening (its first day plus D is
on or before its last day, or screening when it is ongoing or ended after it); a course without a
dose may meet it, unless too short anyway; one with no end recorded lasted at least nothing and at
most up to screening. True when some course surely meets it, false when none can, UNKNOWN between.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta

from engine.atoms.base import OPS
from engine.edgecases.amounts import (DAY, OPEN, Dosing, Given, around, course_fact, daily,
                                      dosing, threshold, weight_change, weight_of)
from engine.edgecases.base import Variant, period, tidy
from engine.edgecases.doses import _absent, _kept
from protocol import model as m
from protocol.units import QUANTUM

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

#: One course of a case: drug, daily dose (None: not recorded), its unit, first day, last day
#: (None: ongoing; `OPEN`: neither an end nor ongoing recorded).
Taken = tuple[str, Decimal | None, str | None, date, "date | str | None"]


def courses(gen: EdgeCases, atom: m.Course) -> list[Variant]:
    """The cases of one `X dose <op> T [for at least D]` (see the module's docstring)."""
    concept = gen.concept(atom)
    dosed = dosing(gen, concept)
    at = threshold(dosed, atom.dose)
    givens = around(dosed, at, atom.op)
    written = f"{concept.name} dose {atom.op} {atom.dose}" + \
        (f" for at least {atom.duration}" if atom.duration else "")
    delta = period(atom.duration) if atom.duration \
        else relativedelta(days=30)  # without a length: a course of 30 days, ongoing
    first = gen.screening - delta
    reference, unit = givens[0].drug, dosed.unit
    passing = next(v for v in (at, at + QUANTUM, at - QUANTUM) if OPS[atom.op](v, at))
    failing = next((v for v in (at - QUANTUM, at + QUANTUM, at) if v >= 0
                    and not OPS[atom.op](v, at)), None)
    good = f"{reference} {tidy(passing)} {unit}"

    def one(start: date, last: date | str | None = None, dose: Decimal | None = passing
            ) -> Taken:
        return reference, tidy(dose) if dose is not None else None, unit, start, last

    cases: list[tuple[str, list[Taken], Given | None]] = [
        (f"{g.label} from {first}, ongoing", [(g.drug, g.dose, g.unit, first, None)], g)
        for g in givens]
    if atom.duration is not None:
        early = first - delta - 10 * DAY
        ended = early + delta
        cases += [
            (f"{good} from {first + DAY}, ongoing", [one(first + DAY)], None),
            (f"{good} from {first - DAY}, ongoing", [one(first - DAY)], None),
            (f"{good} {early} to {ended}", [one(early, ended)], None),
            (f"{good} {early} to {ended - DAY}", [one(early, ended - DAY)], None),
        ]
        middle = first + (gen.screening - first) // 2
        cases.append((f"{good} {first} to {middle}, again from {middle + DAY}, ongoing",
                      [one(first, middle), one(middle + DAY)], None))
        if failing is not None:
            low = f"{reference} {tidy(failing)} {unit}"
            cases += [
                (f"{low} from {first + DAY}, ongoing", [one(first + DAY, dose=failing)], None),
                (f"{low} from {early}, ongoing, {good} from {first + DAY}",
                 [one(early, dose=failing), one(first + DAY)], None),
            ]
        cases += [
            (f"{reference} without a dose from {first + DAY}, ongoing",
             [one(first + DAY, dose=None)], None),
            (f"{good} from {first}, no end recorded", [one(first, OPEN)], None),
            (f"{good} from {first + DAY}, no end recorded", [one(first + DAY, OPEN)], None),
        ]
    cases.append((f"{reference} without a dose from {first}, ongoing",
                  [one(first, dose=None)], None))
    fields = _kept(gen, concept)
    variants = [_variant(gen, dosed, atom, f"{what}: {written}", taken, at, delta, fields, given)
                for what, taken, given in cases]
    return variants + _absent(gen, atom, concept, written, False, "no course: false")


def _variant(gen: EdgeCases, dosed: Dosing, atom: m.Course, name: str, taken: list[Taken],
             at: Decimal, delta: relativedelta, fields: dict, given: Given | None) -> Variant:
    """Each course's dose and length, each true, false or unknown, joined per course (both),
    then over the courses (some course)."""
    weight = weight_of(dosed, given) if given is not None else dosed.base_weight
    statuses, said, facts = [], [], []
    for drug, dose, unit, first, last in taken:
        amount, note = daily(dosed, drug, dose, unit, weight)
        if amount is None:
            dose_status, dose_said = "unknown", note
        else:
            dose_status = str(OPS[atom.op](amount, at)).lower()
            dose_said = f"{tidy(amount)} {dosed.unit} {note}{atom.op} {tidy(at)} is {dose_status}"
        length_status, length_said = _length(first, last, delta, atom.duration,
                                              gen.screening)
        status = "false" if "false" in (dose_status, length_status) else \
            "true" if dose_status == length_status == "true" else "unknown"
        shown = f"{drug} {tidy(dose)} {unit}" if dose is not None else f"{drug} without a dose"
        statuses.append(status)
        said.append(f"{shown}: {dose_said}; {length_said}: {status}")
        facts.append(course_fact(dosed.concept, fields, drug, dose, unit, first, last))
    held = "true" if "true" in statuses else \
        "false" if all(s == "false" for s in statuses) else "unknown"
    replace, remove = weight_change(gen, dosed, given) if given is not None else ((), ())
    how = "; ".join(said) + (f"; some course meets both: {held}" if len(said) > 1 else "")
    return Variant(name, how, atom, held, replace=(*facts, *replace), remove=remove)


def _length(first: date, last: date | str | None, delta: relativedelta,
            duration: m.Duration | None, screening: date) -> tuple[str, str]:
    """Whether a course lasted `delta` up to screening, and how that was worked out."""
    if duration is None:
        return "true", "no length asked"
    reach = first + delta
    if last == OPEN:  # it lasted at least nothing, at most up to screening
        held = "unknown" if reach <= screening else "false"
        return held, (f"{first} + {duration} = {reach}; no end recorded, it may have lasted up "
                      f"to {screening}: {'may be' if held == 'unknown' else 'not'} reached")
    end = screening if last is None or last > screening else last  # type: ignore[operator]
    held = reach <= end
    return str(held).lower(), (f"{first} to {end}: {first} + {duration} = {reach}, "
                               f"{'reached' if held else 'not reached'}")

