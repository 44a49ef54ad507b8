"""Boundary cases of a window during another history: `progression during line_of_therapy`,
`progression during or within 12 months after line_of_therapy`. As the README says (Histories),
the window spans the most recent item of the other history from its start to its end (plus the
duration), both counted, or to now while it goes on, and is decided wherever every day its start
and its end may be agree.

The most recent item is read as `anchors` reads it (the one that started last; of two that
started on one day, the one that ended last): the base's, when its items settle which it is, give
its start and its end as whole days, and the day after its window comes before screening (else the
cases past its end could not be recorded); otherwise a course of the cases' own, 45 days long, its
window ending 30 days before screening, given in every case (the file says why, as for a window on
another history's start or end).

Each case gives one occurrence (a one-day course for a medication) on: the day before that item
starts, the day it starts, its last day, the day after it ends, and for `during or within` the
last day of the duration after its end and the day after that; for a duration in months or years
the same two with the patient moved so that the end falls on 31 January, 29 February, 31 March
and 31 December, where the calendar clamps. Then an occurrence from before the start up to its
first day (it overlaps: true) and one ending the day before; the month of each edge day as a date
known only to the month; the last day of an earlier item (not the most recent: false); the day
that tells it from an item beside it that started a day earlier and ends a day later; the item
still going on (the window runs to now), with no end recorded (a course may have ended any day
from its start), with its end and with its start known only to the month, each on the days where
the verdict turns; the other history recorded as none (the window can never exist: false) or not
recorded (unknown); on its first day, the filter's and the grade's cases; nothing recorded.

The status is calendar arithmetic with `dateutil.relativedelta` over every day the start may be
(from each item that may be the most recent, `anchors.candidates`) and every day the end may be,
read apart (an end after screening reaches past every recorded day, so the days stop there): the
occurrence counts when its last day is on or after the window's first and its first day on or
before the window's last; true when it does for every reading, false for none, unknown otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from dateutil.relativedelta import relativedelta

from engine.edgecases.anchors import (OPEN, Span, _whole_days, candidates, most_recent, span_of,
                                      spans, unanchored)
from engine.edgecases.base import Variant, period, recorded_until, shifted
from engine.edgecases.filters import Changed, item_values, written_filters
from engine.edgecases.windows import (HELD, _filtered, _given, _grade_text, _graded,
                                      _month_ends, _nothing, _occurrence, _passing_grade,
                                      _unique, _wrapped, occurred_of)
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

DAY = timedelta(days=1)
#: How a status reads in a case's description.
WHERE = {"true": "inside", "false": "outside", "unknown": "inside for some of those days"}


@dataclass(frozen=True)
class Spanned:
    """The other history's items the cases read (`facts`), the most recent of them, whether they
    are the cases' own course (given in every case), and whether the patient may be moved in
    time with them (every date a whole day)."""

    facts: tuple[dict, ...]
    latest: Span
    own: bool
    movable: bool


class Placed(NamedTuple):
    """An occurrence condition placed against another history's items (`during`, `during
    any`): the condition, the other history's name, an item's passing fields and those
    changed, the condition as written, and a grade that passes."""

    occurred: m.Occurred
    name: str
    passing: dict
    changes: list[Changed]
    written: str
    grade: Any


def placed(gen: EdgeCases, atom: m.Occurred | m.NoKnown) -> Placed:
    occurred = occurred_of(atom)
    window = occurred.window
    assert window.anchor is not None and window.anchor.ref is not None
    x = occurred.ref.name
    return Placed(occurred, window.anchor.ref.name, *item_values(gen, occurred),
                  f"{x}{written_filters(occurred)}{_grade_text(occurred)} {window}",
                  _passing_grade(occurred))


def during(gen: EdgeCases, atom: m.Occurred | m.NoKnown) -> list[Variant]:
    """The cases of a window `during` another history (see the module's docstring)."""
    occurred, name, passing, changes, written, grade = placed(gen, atom)
    window, x = occurred.window, occurred.ref.name
    spanned = spanned_by(gen, window, f"line {atom.span.line}, {x}")
    latest = spanned.latest
    start, end = latest.day("start"), latest.day("end")
    assert start is not None and end is not None

    def on(day: date | str, what: str, ys: tuple[dict, ...] | None = None,
           moved_to: date | None = None, last: date | None = None) -> Variant:
        """One occurrence on `day` (to `last`), beside the other history's items `ys` (the
        base's, or the cases' own course, when None), the patient screened on `moved_to`."""
        item = _occurrence(gen, occurred, str(day), grade, passing)
        if last is not None:
            item["end"] = last.isoformat()
        read = spanned.facts if ys is None else ys
        given = read if ys is not None or spanned.own else ()
        screening = moved_to or gen.screening
        history = [span_of(f, gen.concepts[name], screening) for f in read
                   if f.get("present") is not False]
        status, how = _status(window, span_of(item, gen.concept(occurred), screening),
                              [s for s in history if s is not None], screening)
        wrapped = _wrapped(atom, HELD[status])
        when = f"from {day} to {last}" if last is not None else \
            f"in {day} (known to the month)" if len(str(day)) == 7 else f"on {day}"
        return Variant(f"{x} {when}{f', {what}' if what else ''}: {written}",
                       how if wrapped == status else f"{how}: {wrapped}", atom, wrapped,
                       replace=(item, *given), moved_to=moved_to)

    edges = _edge_days(window, name, start, end)
    until = recorded_until(gen, gen.concept(occurred))  # a plan's day may follow screening
    out = [on(day, what) for day, what in edges.items() if day <= until]
    out += _month_ends_of(gen, window, spanned, on)
    early = start - timedelta(days=10)
    out += [on(early, f"overlapping the first day of {name}", last=start),
            on(early, f"ending the day before {name} starts", last=start - DAY)]
    out += _months(edges, on, until)
    out += _other_items(gen, window, spanned, on)
    out += _unsettled(gen, window, spanned, on)
    out += [_nowhere(gen, atom, occurred, start, written, grade, passing, none)
            for none in ((False, True) if isinstance(atom, m.Occurred) else (False,))]
    known = [*_filtered(gen, atom, occurred, start, written, grade, passing, changes, False),
             *_graded(gen, atom, occurred, start, written, passing),
             *_nothing(gen, atom, occurred, written)]
    out += [_given(gen, v, latest.fact) for v in known] if spanned.own else known
    return _unique(out)


def spanned_by(gen: EdgeCases, window: m.Window, where: str) -> Spanned:
    """The other history's items and its most recent (see the module's docstring); a course of
    the cases' own when the base's do not do, which the file then says at `where`."""
    assert window.anchor is not None and window.anchor.ref is not None
    name = window.anchor.ref.name
    found, why = spans(gen, name), None
    if found is None:
        why = "a date is not a day, month or year"
    elif found:
        latest = most_recent(found, "end")  # settled for its end, it is for its start too
        if isinstance(latest, str):
            why = latest
        elif latest.day("start") is None or latest.day("end") is None:
            why = unanchored(latest, "start" if latest.day("start") is None else "end")
        elif (after := _reach(window, latest.day("end")) + DAY) > gen.screening:  # type: ignore
            why = f"the day after its window, {after}, is after screening"
        else:
            return Spanned(tuple(s.fact for s in found), latest, False,
                           all(_whole_days(s.fact) for s in found))
    if why is not None:
        gen.notes.append(f"{where}: counted from a course of the cases' own, since the "
                                 f"base's {name} does not settle {window} ({why})")
    last = gen.screening - timedelta(days=30)
    if window.duration is not None:
        last -= period(window.duration)
    first = last - timedelta(days=45)
    course = {"concept": name, "date": first.isoformat(), "end": last.isoformat()}
    values = gen.concepts[name].values
    if gen.concepts[name].kind is m.Kind.MEDICATION and values:
        course["drug"] = values[0].name
    return Spanned((course,), Span(course, (first,) * 2, (last,) * 2), True, True)


def one_day(window: m.Window, latest: Span,
            screening: date) -> tuple[Callable[[date], bool], list[date]]:
    """Whether a one-day occurrence on a day counts, for the most recent item `latest` (its start
    and end whole days), and the days up to screening where that changes: for `counts`, whose
    items are one day each."""
    start, end = latest.day("start"), latest.day("end")
    assert start is not None and end is not None
    reach = _reach(window, end)
    return (lambda day: start <= day <= reach), \
        [day for day in (start - DAY, start, reach, reach + DAY) if day <= screening]


def _reach(window: m.Window, end: date) -> date:
    """The window's last day for the other history's end day: that day, or the duration after
    it (dateutil: 12 months after 2025-03-31 is 2026-03-31, 1 month after 2025-01-31 is
    2025-02-28)."""
    if window.duration is None:
        return end
    return end + period(window.duration)


def _status(window: m.Window, item: Span | None, history: list[Span],
            screening: date) -> tuple[str, str]:
    """Whether the occurrence `item` counts (see the module's docstring), and how that was
    worked out."""
    assert item is not None
    may = candidates(history)
    starts = min(s.first[0] for s in may), max(s.first[1] for s in may)
    ends = min(s.last[0] for s in may), max(s.last[1] for s in may)
    corners = [(first, last) for first in dict.fromkeys(item.first)
               for last in dict.fromkeys(item.last)]
    seen: set[bool] = set()
    for at in _days(starts, screening):
        for until in _days(ends, screening):
            reach = _reach(window, until)
            seen.update(last >= at and first <= reach for first, last in corners)
    status = "unknown" if len(seen) > 1 else str(seen.pop()).lower()
    shown = item.fact["date"] if item.fact.get("end", item.fact["date"]) == item.fact["date"] \
        else f"{item.fact['date']} to {item.fact['end']}"
    return status, f"{_window_text(window, starts, ends)}; {shown} is {WHERE[status]}"


def _days(span: tuple[date, date], screening: date) -> list[date]:
    """Every day from the first to the last of `span`, the last no later than screening."""
    first, last = min(span[0], screening), min(span[1], screening)
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def _window_text(window: m.Window, starts: tuple[date, date], ends: tuple[date, date]) -> str:
    """The window's days as a case's description says them."""
    assert window.anchor is not None and window.anchor.ref is not None
    name, plus = window.anchor.ref.name, f" + {window.duration}" if window.duration else ""
    begins = f"starts {starts[0]}" if starts[0] == starts[1] else \
        f"starts a day from {starts[0]} to {starts[1]}"
    if ends[0] == OPEN:
        return f"the most recent {name} {begins} and goes on: the window runs to now"
    if ends[1] == OPEN:
        reach = f"{ends[0]}{plus} = {_reach(window, ends[0])} (dateutil)" if plus else ends[0]
        return f"the most recent {name} {begins}, its end not recorded (from {ends[0]}): the " \
               f"window runs to {reach} or later"
    if ends[0] == ends[1] and not plus:
        return f"the most recent {name} {begins}, ends {ends[0]}: the window runs to its end"
    if ends[0] == ends[1]:
        return f"the most recent {name} {begins}, ends {ends[0]}: the window runs to " \
               f"{ends[0]}{plus} = {_reach(window, ends[0])} (dateutil)"
    return f"the most recent {name} {begins}, ends a day from {ends[0]} to {ends[1]}: the " \
           f"window runs to a day from {_reach(window, ends[0])} to {_reach(window, ends[1])} " \
           "(dateutil)"


def _edge_days(window: m.Window, name: str, start: date, end: date) -> dict[date, str]:
    """The days where being inside changes, or which the README names, each with what it is."""
    named = [(start - DAY, f"the day before {name} starts"), (start, f"the day {name} starts"),
             (end, f"the last day of {name}"), (end + DAY, f"the day after {name} ends")]
    if window.duration is not None:
        reach = _reach(window, end)
        named += [(reach, f"{window.duration} after the end of {name}"),
                  (reach + DAY, f"the day after {reach}")]
    days: dict[date, str] = {}
    for day, what in named:  # a one-day item starts and ends on one day: said once
        days.setdefault(day, what)
    return days


def _month_ends_of(gen: EdgeCases, window: m.Window, spanned: Spanned, on) -> list[Variant]:
    """For a duration in months or years, the last day of the window and the day after it, with
    the patient moved so that the other history's end falls on a month's end."""
    duration = window.duration
    if duration is None or duration.unit not in ("months", "years") or not spanned.movable:
        return []
    end = spanned.latest.day("end")
    assert end is not None and window.anchor is not None and window.anchor.ref is not None
    out = []
    for moved in (day for day in _month_ends(end) if day != end):  # not the base's own
        delta = moved - end
        ys = tuple(shifted(f, delta) for f in spanned.facts)
        reach, screening = _reach(window, moved), gen.screening + delta
        for day, what in ((reach, f"{duration} after the end of {window.anchor.ref.name} on "
                                  f"{moved}"), (reach + DAY, f"the day after {reach}")):
            if day <= screening:
                out.append(on(day, f"{what}, screening on {screening}", ys, screening))
    return out


def _months(edges: dict[date, str], on, until: date) -> list[Variant]:
    """The month of each edge day, as a date known only to the month."""
    months = dict.fromkeys(f"{day:%Y-%m}" for day in sorted(edges)
                           if date(day.year, day.month, 1) <= until)
    return [on(month, "") for month in months]


def _other_items(gen: EdgeCases, window: m.Window, spanned: Spanned, on) -> list[Variant]:
    """An occurrence on the last day of an earlier item, and on the day before the most recent
    starts beside an item that started that day and ends the day after it: neither item is the
    most recent, so neither spans the window."""
    assert window.anchor is not None and window.anchor.ref is not None
    name, latest = window.anchor.ref.name, spanned.latest
    start, end = latest.day("start"), latest.day("end")
    assert start is not None and end is not None
    first, last = start - timedelta(days=60), start - timedelta(days=30)
    earlier = {**latest.fact, "date": first.isoformat(), "end": last.isoformat()}
    out = [on(last, f"the last day of an earlier {name} from {first} to {last}",
              (*spanned.facts, earlier))]
    if end + DAY <= gen.screening:
        beside = {**latest.fact, "date": (start - DAY).isoformat(),
                  "end": (end + DAY).isoformat()}
        out.append(on(start - DAY, f"beside another {name} from {start - DAY} to {end + DAY}",
                      (*spanned.facts, beside)))
    return out


def _unsettled(gen: EdgeCases, window: m.Window, spanned: Spanned, on) -> list[Variant]:
    """The most recent item still going on, with no end recorded (a medication's course), and
    with its end, then its start, known only to the month: an occurrence on each day where the
    verdict may turn."""
    assert window.anchor is not None and window.anchor.ref is not None
    name, latest = window.anchor.ref.name, spanned.latest
    start, end = latest.day("start"), latest.day("end")
    assert start is not None and end is not None
    others = tuple(f for f in spanned.facts if f is not latest.fact)
    after = _reach(window, end) + DAY
    unended = {k: v for k, v in latest.fact.items() if k != "end"}
    out = [on(after, f"{name} still going on", (*others, {**unended, "ongoing": True}))]
    if gen.concepts[name].runs_on:
        out += [on(day, f"{name} with no end recorded", (*others, unended))
                for day in (start, after)]
    month = (date(end.year, end.month, 1), end + relativedelta(day=31))
    by_end = {**latest.fact, "end": f"{end:%Y-%m}"}
    reaches = [_reach(window, max(month[0], start)), _reach(window, month[1])]
    for day in sorted({reaches[0] - DAY, reaches[0], reaches[1], reaches[1] + DAY}):
        if start <= day <= gen.screening:
            out.append(on(day, f"the end of {name} known only to the month {end:%Y-%m}",
                          (*others, by_end)))
    month = (date(start.year, start.month, 1), start + relativedelta(day=31))
    by_start = {**latest.fact, "date": f"{start:%Y-%m}"}
    for day in sorted({month[0] - DAY, month[0], min(month[1], end), min(month[1], end) + DAY}):
        if day <= gen.screening:
            out.append(on(day, f"the start of {name} known only to the month {start:%Y-%m}",
                          (*others, by_start)))
    return out


def _nowhere(gen: EdgeCases, atom, occurred: m.Occurred, start: date, written: str, grade,
             passing: dict, none: bool) -> Variant:
    """An occurrence on the first day, the other history recorded as none (`none`: the window
    can never exist, false) or not recorded at all (the window has no days: unknown)."""
    window = occurred.window
    assert window.anchor is not None and window.anchor.ref is not None
    name = window.anchor.ref.name
    item = _occurrence(gen, occurred, start.isoformat(), grade, passing)
    if none:
        return Variant(f"no {name} (recorded as none), {occurred.ref.name} on {start}: "
                       f"{written}", f"{name} is recorded as none: the window can never exist: "
                       "false", atom, "false", replace=(item, {"concept": name, "present": False}))
    status = _wrapped(atom, None)
    based = any(f.get("concept") == name for f in gen.base["facts"])
    return Variant(f"no {name} recorded, {occurred.ref.name} on {start}: {written}",
                   f"nothing recorded of {name}: the window has no days: {status}", atom, status,
                   replace=(item,), remove=(name,) if based else ())
