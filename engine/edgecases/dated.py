"""Boundary cases of a date concept's day against a window: `informed_consent before
first_study_procedure`, `randomisation within 14 days after informed_consent`.

The day is moved onto each edge of the window and a day to either side: the anchor's day for an
order (`before A`: the day before A counts, A itself is UNKNOWN, the order within one day not
being recorded, and the day after does not), the anchor and the day the duration reaches from it
for a span (calendar-aware, with dateutil's `relativedelta`: Jan 31 + 1 month is Feb 28), and
the bound for `at least` / `more than`, and the date known only to each edge's month (decided
where every day of the month agrees, UNKNOWN between); then no date at all (UNKNOWN). The anchor is the base
patient's: the screening date or a date concept's day, the date of a result, or the start or
end of another history's most recent item (the base's, where it settles which and gives it a
whole day, else a course of the cases' own, as `windows` counts from: `anchors.history_anchor`),
with that history then going on (UNKNOWN) and recorded as none (false); and `during` another
history, from the first day of its most recent item to the window's last day.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Callable

from engine.edgecases.anchors import Anchored, history_anchor
from engine.edgecases.base import Variant, anchor_day, given, period
from engine.edgecases.during import one_day, spanned_by
from engine.dates import LAST_DAY, month_days
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases


def dated(gen: EdgeCases, atom: m.Occurred) -> list[Variant]:
    """The day at each edge of the window and either side of it, and no day; for a window on
    another history's start or end, also that history's most recent item still going on (no
    anchor day: unknown) and the history recorded as none (the anchor can never exist:
    false)."""
    window, name = atom.window, atom.ref.name
    written = f"{name} {window}"
    anchored = None  # for a window on another history: the item it counts from
    if window.kind == "during":
        return _during(gen, atom, written)
    if window.anchor is not None and window.anchor.occurrence:
        anchored = history_anchor(gen, window.anchor, f"line {atom.span.line}, {name}")
        anchor: date | None = anchored.day
    else:
        anchor = anchor_day(gen, window.anchor)
    if anchor is None:
        gen.not_generate(f"line {atom.span.line}, {name}: a window from "
                                 f"{window.anchor}, for which the base patient gives no day")
        return []
    # the cases' own anchor item goes with every case, as the base does not settle it
    own = (anchored.latest.fact,) if anchored is not None and anchored.own else ()

    def on(day: date) -> dict:
        return {"concept": name, "value": day.isoformat()}
    edges, holds, days = _edges(window, anchor)
    out = []
    for edge, what in edges:
        for day in (edge - timedelta(days=1), edge, edge + timedelta(days=1)):
            said = holds(day)
            status = "unknown" if said is None else "true" if said else "false"
            how = f"{day} is {window.anchor or 'screening'}'s own day: the order within a day " \
                "is not recorded" if said is None else \
                f"{day} {'is' if said else 'is not'} {window} {days}"
            out.append(Variant(f"{name} {day}: {_where(day, edge)} {what}, {written}",
                               f"{how}: {status}", atom, status, replace=(on(day), *own)))
        month = month_days(edge)
        said = {holds(day) for day in month}
        status = "true" if said == {True} else "false" if said == {False} else "unknown"
        how = f"every day of it is {window} {days}" if said == {True} else \
            f"no day of it is {window} {days}" if said == {False} else \
            f"some of its days are {window} {days}, others not" if {True, False} <= said else \
            f"one of its days is {window.anchor or 'screening'}'s own, whose order within the day " \
            "is not recorded"
        out.append(Variant(f"{name} {edge:%Y-%m}: known only to the month, the month of {what}, "
                           f"{written}", f"{month[0]} to {month[-1]}: {how}: {status}", atom,
                           status, replace=({"concept": name, "value": f"{edge:%Y-%m}"}, *own)))
    if anchored is not None:
        out += _unanchored(gen, atom, anchored, on(anchor), written)
    if given(gen, name):
        out.append(Variant(f"no {name}: {written}", "no day: unknown", atom, "unknown",
                           remove=(name,), replace=own))
    return list({v.name: v for v in out}.values())  # an edge's neighbour may be another edge


def _during(gen: EdgeCases, atom: m.Occurred, written: str) -> list[Variant]:
    """`x during y` (or `during or within D after y`): the date on the first day of y's most
    recent item and the day before, on the last day of the window and the day after (the
    base's item, where it settles which is the most recent and gives it whole days, else a
    course of the cases' own, as `during` counts from: `during.spanned_by`); y recorded as none
    (false); no date (unknown)."""
    window, name = atom.window, atom.ref.name
    assert window.anchor is not None and window.anchor.ref is not None
    other = window.anchor.ref.name
    spanned = spanned_by(gen, window, f"line {atom.span.line}, {name}")
    inside, edges = one_day(window, spanned.latest, LAST_DAY)  # a date may follow screening
    first, last = edges[1], edges[2]
    own = spanned.facts if spanned.own else ()
    out = []
    for day in edges:
        held = inside(day)
        out.append(Variant(f"{name} {day}: {written}", f"the most recent {other} from {first}, "
                           f"the window to {last}: {day} is {'inside' if held else 'outside'}: "
                           f"{str(held).lower()}", atom, str(held).lower(),
                           replace=({"concept": name, "value": day.isoformat()}, *own)))
    out.append(Variant(f"no {other} (recorded as none), {name} {first}: {written}",
                       f"{other} is recorded as none: no span to lie in: false", atom, "false",
                       replace=({"concept": name, "value": first.isoformat()},
                                {"concept": other, "present": False})))
    if given(gen, name):
        out.append(Variant(f"no {name}: {written}", "no day: unknown", atom, "unknown",
                           remove=(name,), replace=own))
    return out


def _unanchored(gen: EdgeCases, atom: m.Occurred, anchored: Anchored, fact: dict,
                written: str) -> list[Variant]:
    """The date on the anchor's day, beside the anchor's history without an anchor day: for
    `the end of x`, x's most recent item still going on (unknown); x recorded as none (the
    anchor can never exist: false)."""
    anchor = atom.window.anchor
    assert anchor is not None and anchor.ref is not None
    name, day = anchor.ref.name, fact["value"]
    others = () if anchored.own else tuple(
        f for f in gen.base["facts"] if f.get("concept") == name and
        f is not anchored.latest.fact and f.get("present") is not False)
    out = []
    if anchor.edge == "end":
        going = {k: v for k, v in anchored.latest.fact.items() if k != "end"}
        out.append(Variant(f"{name} still going on, {atom.ref.name} {day}: {written}",
                           f"{name} has no end yet: no anchor day: unknown", atom, "unknown",
                           replace=(fact, *others, {**going, "ongoing": True})))
    out.append(Variant(f"no {name} (recorded as none), {atom.ref.name} {day}: {written}",
                       f"{name} is recorded as none: the anchor can never exist: false", atom,
                       "false", replace=(fact, {"concept": name, "present": False})))
    return out


def _edges(window: m.Window, anchor: date) -> tuple[list[tuple[date, str]],
                                                    Callable[[date], bool | None], str]:
    """The days a window turns at, each with its words; whether a day is in the window (None:
    the anchor's own day, for `before` and `after`); and the window's days in words."""
    named = f"{window.anchor or 'screening'} {anchor}"
    if window.kind in m.ORDER:
        later, strict = window.direction == "after", window.kind == "order"
        return [(anchor, named)], lambda d: None if strict and d == anchor else \
            (d > anchor if later else d < anchor) if strict else \
            (d >= anchor if later else d <= anchor), f"({anchor})"
    if window.kind == "at":
        return [(anchor, named)], lambda d: d == anchor, f"({anchor})"
    assert window.duration is not None
    bound = anchor - period(window.duration) if window.direction == "before" else \
        anchor + period(window.duration)
    reached = f"{bound} ({window.duration} {window.direction} {named})"
    if window.kind in ("within", "less_than"):
        strict = window.kind == "less_than"
        low, high = sorted((bound, anchor))
        return [(bound, reached), (anchor, named)], lambda d: low <= d <= high and \
            not (strict and d == bound), \
            f"({low} to {high}{f', {bound} not counted' if strict else ''}; dateutil's " \
            "calendar)"
    strict, before = window.kind == "more_than", window.direction == "before"
    word = ("before" if before else "after") if strict else \
        ("on or before" if before else "on or after")
    return [(bound, reached)], lambda d: (d < bound if before else d > bound) if strict else \
        (d <= bound if before else d >= bound), f"({word} {bound}; dateutil's calendar)"


def _where(day: date, edge: date) -> str:
    return "the day before" if day < edge else "on" if day == edge else "the day after"
