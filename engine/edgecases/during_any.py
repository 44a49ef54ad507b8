"""Boundary cases of an occurrence in the span of each item of another history: `progression
during any lenalidomide`, `progression during or within 60 days after any lenalidomide`. As the
README says ("Each course of another history"), an occurrence counts when it overlaps the span of
some item, from its first day to its last plus the duration, both counted; every item counts, not
only the most recent.

The cases give the other history two courses of their own, in every case: a later one, ending 30
days before screening, and an earlier one whose span ends 20 days before the later one starts.
Each case gives one occurrence (a one-day course for a medication) on: the day before the earlier
course starts, its first day, its last day, the last day of its span and the day after (outside
every span: the earlier course counts apart from the later, which `during` alone would not read),
the day before the later one starts, its first and last day, and the last day of its span and the
day after where those are not after screening; the month of the earlier span's last day, as a
date known only to the month (its days on both sides: unknown), and the month before the earlier
course (false); then the other history recorded as none (false) and not recorded (unknown), the
filter's and the grade's cases inside the earlier span, and nothing recorded.

The status is calendar arithmetic with `dateutil.relativedelta`, apart from the engine's: the
occurrence's days (every day of its month, up to screening, when it is known only to the month)
each inside some span or not; true when every one is, false when none is, unknown otherwise.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from typing import TYPE_CHECKING

from engine.edgecases.base import Variant, period, recorded_until
from engine.edgecases.during import placed
from engine.edgecases.windows import (HELD, _filtered, _graded, _nothing, _occurrence, _unique,
                                      _wrapped)
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

DAY = timedelta(days=1)


def during_any(gen: EdgeCases, atom: m.Occurred | m.NoKnown) -> list[Variant]:
    """The cases of `x during any y` (see the module's docstring)."""
    occurred, name, passing, changes, written, grade = placed(gen, atom)
    window, x = occurred.window, occurred.ref.name
    reach = (lambda day: day) if window.duration is None else \
        (lambda day: day + period(window.duration))
    later = (gen.screening - timedelta(days=75), gen.screening - timedelta(days=30))
    earlier_end = later[0] - timedelta(days=20)
    while reach(earlier_end) >= later[0] - timedelta(days=20):  # a span 20 days short of it
        earlier_end -= DAY
    earlier = (earlier_end - timedelta(days=45), earlier_end)
    spans = [(first, reach(last)) for first, last in (earlier, later)]
    courses = tuple(_course(gen, name, *course) for course in (earlier, later))
    said = "; ".join(f"{name} from {first} to {last}: its span to {end}"
                     for (first, last), (_, end) in zip((earlier, later), spans))
    until = recorded_until(gen, gen.concept(occurred))

    def on(day: date | str, what: str, ys: tuple[dict, ...] = courses) -> Variant:
        recorded = any(f.get("present") is not False for f in ys)  # else: recorded as none
        inside = [recorded and any(first <= d <= end for first, end in spans)
                  for d in _days(day, until)]
        status = "true" if all(inside) else "false" if not any(inside) else "unknown"
        wrapped = _wrapped(atom, HELD[status])
        when = f"in {day} (known to the month)" if len(str(day)) == 7 else f"on {day}"
        how = (f"{said}; {WHERE[status]}" if recorded else
               f"{name} is recorded as none: no span") + \
            (f": {wrapped}" if wrapped != status else "")
        return Variant(f"{x} {when}, {what}: {written}", how, atom, wrapped,
                       replace=(_occurrence(gen, occurred, str(day), grade, passing), *ys))

    edges = {earlier[0] - DAY: f"the day before the earlier {name}",
             earlier[0]: f"the first day of the earlier {name}",
             earlier[1]: f"the last day of the earlier {name}",
             spans[0][1]: f"the last day of the earlier {name}'s span",
             spans[0][1] + DAY: f"the day after the earlier {name}'s span",
             later[0] - DAY: f"the day before the later {name}",
             later[0]: f"the first day of the later {name}",
             later[1]: f"the last day of the later {name}",
             spans[1][1]: f"the last day of the later {name}'s span",
             spans[1][1] + DAY: f"the day after the later {name}'s span"}
    out = [on(day, what) for day, what in edges.items() if day <= until]
    out += [on(f"{spans[0][1]:%Y-%m}", f"the month of the earlier {name}'s span's last day"),
            on(f"{earlier[0] - timedelta(days=31):%Y-%m}", f"a month before the earlier {name}")]
    out += [on(earlier[1], f"{name} recorded as none", ({"concept": name, "present": False},)),
            _unrecorded(gen, atom, occurred, earlier[1], written, grade, passing, name)]
    out += [_with(v, courses) for v in (
        *_filtered(gen, atom, occurred, earlier[1], written, grade, passing, changes, False),
        *_graded(gen, atom, occurred, earlier[1], written, passing),
        *_nothing(gen, atom, occurred, written))]
    return _unique(out)


#: How a status reads in a case's description.
WHERE = {"true": "inside a span", "false": "outside every span",
         "unknown": "inside a span on some of its days"}


def _days(day: date | str, until: date) -> list[date]:
    """The days an occurrence given on `day` may be: one, or those of its month up to `until`."""
    if isinstance(day, date):
        return [day]
    first = date.fromisoformat(f"{day}-01")
    last = first.replace(day=monthrange(first.year, first.month)[1])
    return [first + timedelta(days=k) for k in range((min(last, until) - first).days + 1)]


def _course(gen: EdgeCases, name: str, first: date, last: date) -> dict:
    """One item of the other history from `first` to `last`: a course of its first drug, for
    a medication."""
    concept = gen.concepts[name]
    drug = {"drug": concept.values[0].name} if concept.kind is m.Kind.MEDICATION else {}
    return {"concept": name, **drug, "date": first.isoformat(), "end": last.isoformat()}


def _unrecorded(gen: EdgeCases, atom, occurred: m.Occurred, day: date, written: str, grade,
                passing: dict, name: str) -> Variant:
    """The other history not recorded: unknown, whatever the occurrence."""
    status = _wrapped(atom, None)
    return Variant(f"{occurred.ref.name} on {day}, {name} not recorded: {written}",
                   f"{name}: nothing recorded: {status}", atom, status,
                   replace=(_occurrence(gen, occurred, str(day), grade, passing),),
                   remove=(name,) if any(f.get("concept") == name for f in gen.base["facts"])
                   else ())


def _with(variant: Variant, courses: tuple[dict, ...]) -> Variant:
    """A case of the filter's, the grade's or nothing recorded, beside the cases' own courses."""
    return Variant(variant.name, variant.how, variant.atom, variant.status,
                   replace=(*variant.replace, *courses), remove=variant.remove,
                   moved_to=variant.moved_to, birth_date=variant.birth_date)
