"""Boundary cases of windows on a history: `live_vaccine within 4 weeks before screening`,
`progression within 12 months after first_line_start`, `stroke more than 2 months before
informed_consent`, `no known x ...`, `the latest x more than 6 months before first_dose`, a
grade (`with grade >= 2`) and a filter (`where route is intravenous`, `other than {...}`: the
item passes it, and `filters` adds the item that fails it or does not record it).

Each window gets one occurrence (or a one-day course) on every day where being inside changes: the
first and last day inside and the first day outside, on each side the window has; the same with the
patient moved so that the anchor falls on 31 January, 29 February, 31 March and 31 December (windows
in months or years, where the calendar clamps); the month of each edge day as a date known only to
the month (UNKNOWN when it straddles the edge, decided when it lies wholly on one side) and a month
wholly inside; for a grade, the grade at its threshold and a step past it; nothing recorded; and,
for a window on a date concept, no anchor day. A window on the start or end of another history
counts from its most recent item, as the README says: the one that started last (of two that started
on one day, the one that ended last), among the base's items when they settle which it is and give
it a whole day there, else a course of the cases' own, 90 to 60 days before screening, given in
every case and moved with the patient to the month ends (`anchors`; the file says why). Also an
occurrence on that item's other edge day; on the same edge of the item before it; on a day that
tells it from an item beside it that started a day earlier and ends a day later (the latest to end,
which is not the anchor); the item still going on, or a course with no end recorded (no anchor day:
unknown); and the history recorded as none (the anchor can never exist: false). Then the anchor
known only within days: the item's edge known only to the month, and beside another item that may be
the most recent or not, with an occurrence on each day where it turns for the first or the last day
the anchor may be (decided where every one agrees, unknown between). A window on the start or end of
its own history is `itself`'s. A washout in half-lives (`within 28 days or 5 half_life, whichever
is shorter, ...`) has cases of its own (`_reached`).

The status is calendar arithmetic with `dateutil.relativedelta` on the window as the README
defines it (overlap for `within` / `less than`, the start for `at least` / `more than`), day by
day for a month: inside on every day is true, on none false, otherwise unknown.
"""

from __future__ import annotations

import math
from calendar import monthrange
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

from dateutil.relativedelta import relativedelta

from engine.atoms.base import OPS
from engine.dates import LAST_DAY
from engine.edgecases.anchors import (Anchored, Span, anchor_days, history_anchor, most_recent,
                                      spans)
from engine.edgecases.base import (Skip, Variant, anchor_day, kleene_and, kleene_or, leap,
                                   period, recorded_until, shifted, tidy)
from engine.edgecases.filters import Changed, item_values, through_weight, written_filters
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

#: Whether an item counts, from whether it passes: None when it may or may not.
HELD = {"true": True, "false": False, "unknown": None}
#: Where an anchor is moved to, for windows in months or years: month ends where adding or
#: subtracting months clamps (a leap day for years).
MONTH_ENDS = ((1, 31), (2, 29), (3, 31), (12, 31))


def occurred_of(atom: Any) -> m.Occurred:
    """The occurrence condition an atom asks about (`no known x ...` and `the latest x ...`
    wrap one)."""
    return atom.occurred if isinstance(atom, (m.NoKnown, m.Latest)) else atom


def windows(gen: EdgeCases, atom: m.Occurred | m.NoKnown | m.Latest) -> list[Variant]:
    """The cases of one history condition (see the module's docstring); raises `Skip`."""
    occurred = occurred_of(atom)
    window = occurred.window
    passing, changes = item_values(gen, occurred)
    if window.reach is not None:
        return _reached(gen, atom, occurred, passing, changes)
    written = f"{occurred.ref.name}{written_filters(occurred)}{_grade_text(occurred)} {window}"
    grade = _passing_grade(occurred)
    if window.kind == "ever":  # no edge in time: the filter's and grade's, the day before screening
        day = gen.screening - timedelta(days=1)
        return _unique([*_filtered(gen, atom, occurred, day, written, grade, passing, changes,
                                   True), *_graded(gen, atom, occurred, day, written, passing),
                        *_nothing(gen, atom, occurred, written)])
    anchored = None  # for a window on another history: the item it counts from
    if window.anchor is not None and window.anchor.occurrence:
        anchored = history_anchor(gen, window.anchor, f"line {atom.span.line}, "
                                  f"{occurred.ref.name}")
        anchor = anchored.day
    else:
        anchor = anchor_day(gen, window.anchor)
    on = str(window.anchor) if window.anchor else "screening"
    if anchor is None:
        raise Skip(f"the base patient gives no {on} day")
    inside = _inside(window)
    out: list[Variant] = []
    concept = gen.concept(occurred)
    places = [(anchor, gen.screening, None)]
    course = anchored.latest.fact if anchored is not None and anchored.own else None
    if window.duration is not None and window.duration.unit in ("months", "years") and \
            (anchored is None or anchored.movable):  # moved, the base's anchor course too
        places += [(end, gen.screening + (end - anchor), end) for end in _month_ends(anchor)]
    for at, screening, moved in places:
        where = f", {on} on {at}" if moved else ""
        # the cases' own course moves with the patient, or the anchor would not be on `at`
        own = (shifted(course, at - anchor),) if course is not None and moved else ()
        for day in _edges(lambda d: inside(d, at), at, window,
                          recorded_until(gen, concept, screening)):
            held = inside(day, at)
            out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} on {day}: "
                                f"{_which(day, held, inside, at)} of {written}{where}",
                                f"{on} {at}: {_bounds(window, at)} (dateutil); {day} is "
                                f"{'inside' if held else 'outside'}", held, day.isoformat(),
                                grade, moved_to=screening if moved else None, fields=passing,
                                also=own))
    out += _months(gen, atom, occurred, inside, anchor, written, on, grade, passing)
    if concept.planned:
        out += _undated(gen, atom, occurred, inside, anchor, written, on, grade, passing)
    out += _grades(gen, atom, occurred, inside, anchor, written, passing)
    days = [d for d in _edges(lambda d: inside(d, anchor), anchor, window,
                              recorded_until(gen, concept)) if inside(d, anchor)]
    if days:
        out += _filtered(gen, atom, occurred, days[0], written, grade, passing, changes, False)
    out += _nothing(gen, atom, occurred, written)
    out += _no_anchor(gen, atom, occurred, anchor, written, grade, passing)
    if anchored is not None:
        out += _anchor_cases(gen, atom, occurred, inside, anchored, written, grade, passing)
        out += _anchor_within_days(gen, atom, occurred, anchored, written, grade, passing)
    if course is not None:
        out = [_given(gen, v, course) for v in out]
    return _unique(out)


def _reached(gen: EdgeCases, atom, occurred: m.Occurred, passing: dict,
             changes: list[Changed]) -> list[Variant]:
    """A washout in half-lives (`within D or N half_life, whichever is shorter, before A`): a
    one-day course on each edge of the duration's window and of the half-lives' (a half-life
    whose N reach inside the duration's window, and one whose N reach beyond it, each given in
    hours with half a day over: 5 x 69.6 h is 14 days; for `less than D or N half_life`, also
    one whose N reach exactly a whole number of days, where the strict window ends a day
    sooner), on each side of both; the month of each edge day; the half-life not recorded,
    inside the duration's window and outside it; a failing filter; nothing recorded; no anchor.
    The half-lives' window is Fraction arithmetic on the hours given (24 to a day: the anchor at
    most, or less than, N x the half-life after the course's last day), the duration's
    dateutil's, the whole Kleene logic."""
    window = occurred.window
    reach = window.reach
    assert reach is not None and window.duration is not None
    if window.anchor is not None and window.anchor.occurrence:
        raise Skip(f"'{window}': a washout counted from another history's {window.anchor.edge} "
                   "has no boundary cases yet")
    on = str(window.anchor) if window.anchor else "screening"
    anchor = anchor_day(gen, window.anchor)
    if anchor is None:
        raise Skip(f"the base patient gives no {on} day")
    attribute = reach.of(gen.concept(occurred))
    assert attribute is not None  # checked
    alone = replace(window, reach=None)
    fixed = _inside(alone)
    back = (anchor - (anchor - period(window.duration))
            ).days
    written = f"{occurred.ref.name}{written_filters(occurred)}{_grade_text(occurred)} {window}"
    grade, times = _passing_grade(occurred), Fraction(reach.times)

    def hours(days: int, over: Fraction = Fraction(1, 2)) -> str:
        """A half-life in hours whose N reach `days` and `over` a day."""
        exact = (Fraction(days) + over) * 24 / times
        return f"{Decimal(exact.numerator) / Decimal(exact.denominator):.6f}".rstrip("0") \
            .rstrip(".") + " h"

    def length(given: str) -> Fraction:
        """N x the half-life given, in days."""
        return times * Fraction(Decimal(given.split()[0])) / 24

    def reaches(given: str | None) -> int | None:
        """The last whole day after the course's last day that the half-lives reach."""
        if given is None:
            return None
        whole = length(given)
        return math.ceil(whole) - 1 if reach.strict else math.floor(whole)

    def held(day: date, given: str | None) -> bool | None:
        apart = (anchor - day).days
        by_reach = "unknown" if given is None else str(day <= anchor and (
            apart < length(given) if reach.strict else apart <= length(given))).lower()
        combine = kleene_or if reach.longer else kleene_and
        return HELD[combine(str(fixed(day, anchor)).lower(), by_reach)]

    def said(given: str | None, day: date | None = None) -> str:
        """How the case's status is worked out: on `day`, or on each day of a month."""
        days = reaches(given)
        if given is None:
            part = f"{reach.attribute.name} not recorded"
        else:
            assert days is not None
            part = f"{reach.times} x {given} = " + (
                f"{tidy(Decimal(length(given).numerator) / length(given).denominator)} days, "
                f"less than it {days} whole days" if reach.strict else f"{days} whole days") \
                + (f", to {day + timedelta(days=days)}" if day else " from each day")
        where = f", {day} {'inside' if fixed(day, anchor) else 'outside'}" if day else ""
        return f"{on} {anchor}: {_bounds(alone, anchor)} (dateutil){where}; {part}; " \
               f"whichever is {reach.which}"

    out = []
    half_lives = [hours(back // 2), hours(back + 10)]
    if reach.strict:
        half_lives.insert(1, hours(back // 2, Fraction(0)))
    until = recorded_until(gen, gen.concept(occurred))
    edges = _edges(lambda d: fixed(d, anchor), anchor, alone, until)
    for given in half_lives:
        reached = reaches(given)
        assert reached is not None
        marks = sorted({anchor - timedelta(days=reached + k) for k in (0, 1)} | set(edges))
        for day in (d for d in marks if d <= until):
            out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} on {day}, "
                                f"{attribute.name} {given}: {written}", said(given, day),
                                held(day, given), day.isoformat(), grade,
                                fields={**passing, attribute.name: given}))
        for first in dict.fromkeys(date(d.year, d.month, 1) for d in marks):
            days = [first + timedelta(days=k)
                    for k in range(monthrange(first.year, first.month)[1])]
            seen = {held(d, given) for d in days if d <= until}
            status = seen.pop() if len(seen) == 1 else None
            out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} in {first:%Y-%m} "
                                f"(known to the month), {attribute.name} {given}: {written}",
                                f"{said(given)}; the days of {first:%Y-%m}"
                                f"{' up to screening' if until == gen.screening else ''} "
                                f"{'alike' if status is not None else 'not alike'}",
                                status, first.strftime("%Y-%m"), grade,
                                fields={**passing, attribute.name: given}))
    ins, outs = [d for d in edges if fixed(d, anchor)], [d for d in edges if not fixed(d, anchor)]
    for day in dict.fromkeys([*ins[:1], *outs[:1]]):
        out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} on {day}, "
                            f"{attribute.name} not recorded: {written}", said(None, day),
                            held(day, None), day.isoformat(), grade,
                            fields={**passing, attribute.name: None}))
    covered = {**passing, attribute.name: half_lives[-1]}  # in both windows on `ins[0]`
    if ins:
        out += _filtered(gen, atom, occurred, ins[0], written, grade, covered, changes, False)
    out += _nothing(gen, atom, occurred, written)
    out += _no_anchor(gen, atom, occurred, anchor, written, grade, covered)
    return _unique(out)


def _no_anchor(gen: EdgeCases, atom, occurred: m.Occurred, anchor: date, written: str, grade,
               fields: dict) -> list[Variant]:
    """For a window on a date concept (or a result's date), an occurrence on the anchor's day
    (or screening's, if earlier) with no anchor day recorded: unknown."""
    window = occurred.window
    if window.anchor is None or window.anchor.ref is None:
        return []
    day, none = min(anchor, gen.screening), window.anchor.ref.name
    return [_variant(gen, atom, occurred, f"no {none}, {occurred.ref.name} on {day}: {written}",
                     f"{window.anchor}: no day, the window has no edge", None, day.isoformat(),
                     grade, remove=(none,), fields=fields)]


def _given(gen: EdgeCases, variant: Variant, course: dict) -> Variant:
    """A case with the anchor course the base does not settle, unless it replaces it or goes
    without (what the base gives is removed, if anything)."""
    name = course["concept"]
    if name in variant.remove and not any(f.get("concept") == name for f in gen.base["facts"]):
        return replace(variant, remove=tuple(r for r in variant.remove if r != name))
    if name in variant.remove or any(f["concept"] == name for f in variant.replace):
        return variant
    return replace(variant, replace=(*variant.replace, course))


def _anchor_cases(gen: EdgeCases, atom, occurred: m.Occurred, inside, anchored: Anchored,
                  written: str, grade, passing: dict) -> list[Variant]:
    """For a window on the start or end of x, an occurrence on: the other edge day of x's most
    recent item; the same edge of the item before it (when the base gives more than one); a day
    that tells the most recent item from one beside it that started a day earlier and ends a day
    later. Then x's most recent item still going on (no end: unknown), and x recorded as none
    (the anchor can never exist: false). Each needs the days it reads to be whole."""
    window = occurred.window
    assert window.anchor is not None and window.anchor.ref is not None
    name, edge = window.anchor.ref.name, window.anchor.edge
    anchor, latest = anchored.day, anchored.latest
    before = [] if anchored.own else [s for s in spans(gen, name) or []
                                      if s.fact is not latest.fact]
    others = [span.fact for span in before]
    first, last = latest.day("start"), latest.day("end")
    said = f"{window.anchor} {anchor}: {_bounds(window, anchor)} (dateutil)"

    def on(day: date, what: str, how: str = said, also: tuple[dict, ...] = ()) -> Variant:
        held = inside(day, anchor)
        return _variant(gen, atom, occurred, f"{occurred.ref.name} on {day}, {what}: {written}",
                        f"{how}; {day} is {'inside' if held else 'outside'}", held,
                        day.isoformat(), grade, fields=passing, also=also)

    out = []
    other = first if edge == "end" else last
    if other is not None and other <= gen.screening:
        out.append(on(other, f"the {'first' if edge == 'end' else 'last'} day of {name}"))
    previous = most_recent(before, edge) if before else None
    day = previous.day(edge) if isinstance(previous, Span) else None
    if day is not None and day != anchor:
        out.append(on(day, f"the {edge} of the {name} before the most recent ({previous})"))
    if first is not None and last is not None:
        start, end = first - timedelta(days=1), last + timedelta(days=1)
        wrong = start if edge == "start" else end  # the anchor if the latest to end were read
        days = sorted({*_edges(lambda d: inside(d, anchor), anchor, window, gen.screening),
                       *_edges(lambda d: inside(d, wrong), wrong, window, gen.screening)})
        told = next((d for d in days if inside(d, anchor) != inside(d, wrong)), None)
        if end <= gen.screening and told is not None:
            beside = {**latest.fact, "date": start.isoformat(), "end": end.isoformat()}
            out.append(on(told, f"beside another {name} from {start} to {end}", f"the {name} "
                          f"from {first} started last, so it is the most recent (not the one "
                          f"from {start} that ends later); {said}",
                          also=(*others, latest.fact, beside)))
    days = [d for d in _edges(lambda d: inside(d, anchor), anchor, window, gen.screening)
            if inside(d, anchor)]
    if days and edge == "end":
        going = {k: v for k, v in latest.fact.items() if k != "end"}
        out.append(_variant(gen, atom, occurred, f"{name} still going on, {occurred.ref.name} "
                            f"on {days[0]}: {written}", f"{name} has no end yet: no anchor day",
                            None, days[0].isoformat(), grade, fields=passing,
                            also=(*others, {**going, "ongoing": True})))
    if days and edge == "end" and gen.concepts[name].runs_on:
        unended = {k: v for k, v in latest.fact.items() if k != "end"}
        out.append(_variant(gen, atom, occurred, f"{name} with no end recorded, "
                            f"{occurred.ref.name} on {days[0]}: {written}", f"{name} may still "
                            "be going on: no anchor day", None, days[0].isoformat(), grade,
                            fields=passing, also=(*others, unended)))
    if days and isinstance(atom, m.Occurred):
        out.append(_variant(gen, atom, occurred, f"no {name} (recorded as none), "
                            f"{occurred.ref.name} on {days[0]}: {written}",
                            f"{name} is recorded as none: the anchor can never exist", False,
                            days[0].isoformat(), grade, fields=passing,
                            also=({"concept": name, "present": False},)))
    return out


def _anchor_within_days(gen: EdgeCases, atom, occurred: m.Occurred, anchored: Anchored,
                        written: str, grade, passing: dict) -> list[Variant]:
    """For a window on the start or end of x, an anchor known only within days: x's most recent
    item with that edge known only to the month; beside another item known only to the month
    of its start (to the year, when it starts on the 1st) and ending 10 days after it, which may
    have started after it, or not (either may be the most recent, and their edges differ). Each
    with an occurrence on every day where being inside turns for the first or the last day the
    anchor may be (`anchors.anchor_days`): decided where every anchor day agrees (`placed`),
    unknown between."""
    window = occurred.window
    assert window.anchor is not None and window.anchor.ref is not None
    name, edge, latest = window.anchor.ref.name, window.anchor.edge, anchored.latest
    assert edge is not None
    others = [] if anchored.own else [s.fact for s in spans(gen, name) or []
                                      if s.fact is not latest.fact]
    first, last = latest.day("start"), latest.day("end")
    month = f"{anchored.day:%Y-%m}"
    readings = [(f"the {edge} of {name} known only to the month {month}",
                 ({**latest.fact, "date" if edge == "start" else "end": month},))]
    if first is not None and last is not None and last + timedelta(days=10) <= gen.screening and \
            (first.month, first.day) != (1, 1):
        since, end = f"{first:%Y-%m}" if first.day > 1 else f"{first:%Y}", last + timedelta(days=10)
        readings.append((f"beside another {name} from {since} to {end}", (
            latest.fact, {**latest.fact, "date": since, "end": end.isoformat()})))
    counts, inside = _spanned(window), _inside(window)
    where = {"true": "inside", "false": "outside", "unknown": "inside for some anchor days"}
    out = []
    for what, changed in readings:
        days = anchor_days(spans(gen, name, [*others, *changed]) or [], edge)
        if isinstance(days, str) or days[0] == days[1]:
            continue
        said = f"{window.anchor} any day from {days[0]} to {days[1]}: " \
               f"{_bounds(window, days[0])} to {_bounds(window, days[1])} (dateutil)"
        turns = sorted({d for at in days for d in _edges(lambda d, at=at: inside(d, at), at,
                                                            window, gen.screening)})
        for day in turns:
            status = placed(counts, (day, day), (day, day), days)
            out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} on {day}, {what}: "
                                f"{written}", f"{said}; {day} is {where[status]}", HELD[status],
                                day.isoformat(), grade, fields=passing,
                                also=(*others, *changed)))
    return out


def _nothing(gen: EdgeCases, atom, occurred: m.Occurred, written: str) -> list[Variant]:
    """Nothing recorded: unknown (the closed world), true for `no known`, false for `known`."""
    if not any(f.get("concept") == occurred.ref.name for f in gen.base["facts"]):
        return []
    nothing = atom.status("false") if isinstance(atom, m.NoKnown) else "unknown"
    return [Variant(f"no {occurred.ref.name}: {written}", f"nothing recorded: {nothing}", atom,
                    nothing, remove=(occurred.ref.name,))]


def _filtered(gen: EdgeCases, atom, occurred: m.Occurred, day: date, written: str, grade,
              passing: dict, changes: list[Changed], alone: bool) -> list[Variant]:
    """On a day inside: the item that passes (when the window's cases do not give it), each
    attribute at a value that fails, each not recorded, and a dose per kg given per day through
    the weight."""
    if not passing:
        return []
    tried: list[tuple[str, dict, bool | None, str, tuple[dict, ...], tuple[str, ...]]] = []
    if alone:
        tried.append(("passes", passing, True, "passes every clause", (), ()))
    for change in changes:
        what = change.what if change.recorded else f"{change.what} not recorded"
        tried.append((what, {**passing, **change.fields}, HELD[change.held], change.why, (), ()))
    for dose in through_weight(gen, occurred, passing):
        tried.append((dose.label, {**passing, **dose.fields}, HELD[dose.passes], dose.how,
                      dose.replace, dose.remove))
    return [_variant(gen, atom, occurred, f"{occurred.ref.name} on {day}, {what}: {written}",
                     f"{day} is inside; {how}", held, day.isoformat(), grade, fields=fields,
                     also=also, remove=remove)
            for what, fields, held, how, also, remove in tried]


def _spanned(window: m.Window) -> Callable[[date, date, date], bool]:
    """Whether an occurrence from `first` to `last` (`anchors.OPEN`: going on) counts, for anchor
    day `at` (README, Histories): it overlaps the window, or starts beyond its bound."""
    kind, after = window.kind, window.direction == "after"

    def edge(at: date) -> date:
        assert window.duration is not None
        delta = period(window.duration)
        return at + delta if after else at - delta

    def counts(first: date, last: date, at: date) -> bool:
        if kind == "at":
            return first <= at <= last
        bound = edge(at)
        if kind == "within":
            return first <= bound and last >= at if after else last >= bound and first <= at
        if kind == "less_than":
            return first < bound and last >= at if after else last > bound and first <= at
        if kind == "at_least":
            return first >= bound if after else first <= bound
        if kind == "more_than":
            return first > bound if after else first < bound
        raise Skip(f"a window `{window}`")
    return counts


def placed(counts: Callable[[date, date, date], bool], first: tuple[date, date],
           last: tuple[date, date], days: tuple[date, date]) -> str:
    """Whether an item that started on a day of `first` (earliest, latest) and ended on one of
    `last` counts (`_spanned`) for every anchor day from `days[0]` to `days[1]`, "true", for
    none, "false", or for some, "unknown": its days and the anchor's read each apart, as the
    README says (an item's own days are not tied to the anchor's, even where it is the item the
    anchor is read from)."""
    corners = [(start, end) for start in dict.fromkeys(first) for end in dict.fromkeys(last)]
    seen: set[bool] = set()
    at = days[0]
    while at <= days[1]:
        seen.update(counts(start, end, at) for start, end in corners)
        if len(seen) > 1:
            return "unknown"
        at += timedelta(days=1)
    return str(seen.pop()).lower()


def _inside(window: m.Window) -> Callable[[date, date], bool]:
    """Whether a one-day occurrence on `day` counts, for anchor day `at`."""
    counts = _spanned(window)
    return lambda day, at: counts(day, day, at)


def _edges(inside: Callable[[date], bool], at: date, window: m.Window,
           screening: date) -> list[date]:
    """The days where being inside changes, and their neighbours, up to screening (nothing
    recorded can lie after it, but a planned event's occurrence: `recorded_until`)."""
    if window.kind == "ever":
        raise Skip("`ever` has no edge")
    marks = [at]
    if window.duration is not None:
        delta = period(window.duration)
        marks.append(at + delta if window.direction == "after" else at - delta)
    days = sorted({m_ + timedelta(days=k) for m_ in marks for k in (-1, 0, 1)})
    return [d for d in days if d <= screening and
            (inside(d) != inside(d - timedelta(days=1)) or inside(d) != inside(d + timedelta(1)))]


def _which(day: date, held: bool, inside, at: date) -> str:
    before, after = inside(day - timedelta(days=1), at), inside(day + timedelta(days=1), at)
    if held:
        return "the only day inside" if not (before or after) else \
            "the first day inside" if not before else "the last day inside"
    return "the day before the window" if after else "the day after the window"


def _bounds(window: m.Window, at: date) -> str:
    if window.duration is None:
        return f"the window is {at}"
    delta = period(window.duration)
    sign = "+" if window.direction == "after" else "-"
    return f"{at} {sign} {window.duration} = {at + delta if sign == '+' else at - delta}"


def _month_ends(anchor: date) -> list[date]:
    out = []
    for month, day in MONTH_ENDS:
        year = anchor.year + (1 if (month, day) < (anchor.month, anchor.day) else 0)
        while month == 2 and not leap(year):
            year += 1
        out.append(date(year, month, day))
    return out


def _months(gen: EdgeCases, atom, occurred: m.Occurred, inside, anchor: date, written: str,
            on: str, grade, passing: dict) -> list[Variant]:
    """A date known to the month: the month of each edge day, and the first month beside one
    that lies wholly inside."""
    until = recorded_until(gen, gen.concept(occurred))
    edges = _edges(lambda d: inside(d, anchor), anchor, occurred.window, until)
    firsts = list(dict.fromkeys(date(d.year, d.month, 1) for d in edges))
    beside = [f + relativedelta(months=k) for f in firsts for k in (-1, 1)]
    out, wholly = [], False
    for first in [*firsts, *beside]:
        days = [first + timedelta(days=k) for k in range(monthrange(first.year, first.month)[1])]
        days = [d for d in days if d <= until]
        if not days:
            continue
        seen = {inside(d, anchor) for d in days}
        held = seen.pop() if len(seen) == 1 else None
        if first not in firsts and (held is not True or wholly):
            continue
        wholly = wholly or held is True
        said = "straddles the edge" if held is None else \
            "lies wholly inside" if held else "lies wholly outside"
        out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} in {first:%Y-%m} (known "
                            f"to the month): {written}",
                            f"{on} {anchor}: {_bounds(occurred.window, anchor)} (dateutil); "
                            f"{first:%Y-%m} up to {days[-1]} {said}", held,
                            first.strftime("%Y-%m"), grade, fields=passing))
    return out


def _undated(gen: EdgeCases, atom, occurred: m.Occurred, inside, anchor: date, written: str,
             on: str, grade, passing: dict) -> list[Variant]:
    """A planned event's occurrence without a date: planned for some day from screening on, so
    it counts where every such day agrees (inside changes only at the edge days, so those, the
    screening date and the last day the calendar reads are every case there is)."""
    edges = _edges(lambda d: inside(d, anchor), anchor, occurred.window, LAST_DAY)
    seen = {inside(d, anchor) for d in [gen.screening, *edges, LAST_DAY] if d >= gen.screening}
    held = seen.pop() if len(seen) == 1 else None
    said = "every one inside" if held else "none inside" if held is False else \
        "some inside, some not"
    variant = _variant(gen, atom, occurred, f"{occurred.ref.name} without a date: {written}",
                       f"{on} {anchor}: {_bounds(occurred.window, anchor)} (dateutil); planned "
                       f"for some day from screening {gen.screening} on: {said}", held,
                       gen.screening.isoformat(), grade, fields=passing)
    undated = {k: v for k, v in variant.replace[0].items() if k not in ("date", "end")}
    return [replace(variant, replace=(undated,))]


def _grades(gen: EdgeCases, atom, occurred: m.Occurred, inside, anchor: date,
            written: str, passing: dict) -> list[Variant]:
    """For `with grade >= g`: on the first day inside, the grade at g and a whole step on either
    side."""
    days = [d for d in _edges(lambda d: inside(d, anchor), anchor, occurred.window,
                              recorded_until(gen, gen.concept(occurred))) if inside(d, anchor)]
    return _graded(gen, atom, occurred, days[0], written, passing) if days else []


def _graded(gen: EdgeCases, atom, occurred: m.Occurred, day: date, written: str,
            passing: dict) -> list[Variant]:
    """On `day`, inside the window, the grade at g and a whole step on either side."""
    if occurred.grade is None:
        return []
    op, threshold = occurred.grade
    out = []
    for grade in (threshold - 1, threshold, threshold + 1):
        if grade < 0:
            continue
        held = OPS[op](grade, threshold)
        out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} grade {grade} on "
                            f"{day}: {written}", f"{day} is inside; grade {grade} {op} "
                            f"{threshold} is {str(held).lower()}", held, day.isoformat(),
                            grade, fields=passing))
    return out


def _variant(gen: EdgeCases, atom, occurred: m.Occurred, name: str, how: str,
             held: bool | None, day: str, grade, moved_to: date | None = None,
             remove: tuple[str, ...] = (), fields: dict | None = None,
             also: tuple[dict, ...] = ()) -> Variant:
    """One occurrence on `day` (and the facts `also` gives: another concept's, replacing its)."""
    status = _wrapped(atom, held)
    return Variant(name, f"{how}: {status}" if status != str(held).lower() else how, atom, status,
                   replace=(_occurrence(gen, occurred, day, grade, fields or {}), *also),
                   remove=remove, moved_to=moved_to)


def _wrapped(atom, held: bool | None) -> str:
    """The atom's status from whether its one occurrence counts (None: it may or may not):
    `no known` is the negation."""
    counts = "unknown" if held is None else "true" if held else "false"
    return atom.status(counts) if isinstance(atom, m.NoKnown) else counts


def _occurrence(gen: EdgeCases, occurred: m.Occurred, day: str, grade,
                fields_: dict) -> dict[str, Any]:
    """One occurrence on `day` (a one-day course for a medication), with the fields the base's
    latest one gives beside its dates (its drug, dose, grade), and the filter's (None: not
    recorded)."""
    concept = gen.concept(occurred)
    old = [f for f in gen.base["facts"] if f.get("concept") == concept.name and
           f.get("present") is not False]
    fields = {k: v for k, v in (old[-1] if old else {}).items()
              if k not in ("concept", "date", "end", "ongoing", "present")}
    if concept.kind is m.Kind.MEDICATION and "drug" not in fields and concept.values:
        fields["drug"] = concept.values[0].name
    if concept.graded:
        fields["grade"] = grade if grade is not None else fields.get("grade", 1)
    fact = {"concept": concept.name, "date": day}
    if concept.runs_on or len(day) == 10:
        fact["end"] = day
    merged = {**fact, **fields, **fields_}
    return {k: v for k, v in merged.items() if v is not None}


def _grade_text(occurred: m.Occurred) -> str:
    return f" with grade {occurred.grade[0]} {occurred.grade[1]}" if occurred.grade else ""


def _passing_grade(occurred: m.Occurred):
    """A grade that passes `with grade op g` (g, or a step past it), so the window decides."""
    if occurred.grade is None:
        return None
    op, threshold = occurred.grade
    return next(g for g in (threshold, threshold + 1, threshold - 1) if OPS[op](g, threshold))


def _unique(variants: list[Variant]) -> list[Variant]:
    seen: dict[str, Variant] = {}
    for variant in variants:
        seen.setdefault(variant.name, variant)
    return list(seen.values())
