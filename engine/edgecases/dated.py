"""Boundary cases of a date concept's day against a window: `informed_consent before
first_study_procedure`, `randomisation within 14 days after informed_consent`.

The day is moved onto each edge of the window and a day to either side: the anchor's day for an
order (`before A`: the day before A counts, A itself is UNKNOWN, the order within one day not
being recorded, and the day after does not), the anchor and the day the duration reaches from it
for a span (calendar-aware, with dateutil's `relativedelta`: Jan 31 + 1 month is Feb 28), and
the bound for `at least` / `more than`; then no date at all (UNKNOWN). The anchor is the base
patient's: the screening date or a date concept's day, or the date of a result; a window from a
history's start or end, or `during` one, is listed as not generated.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Callable

from engine.edgecases.base import Variant, anchor_day, given, period
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases


def dated(gen: EdgeCases, atom: m.Occurred) -> list[Variant]:
    """The day at each edge of the window and either side of it, and no day."""
    window, name = atom.window, atom.ref.name
    written = f"{name} {window}"
    anchor = None if window.kind == "during" or (window.anchor and window.anchor.occurrence) \
        else anchor_day(gen, window.anchor)
    if anchor is None:
        why = "from another history's days" if window.kind == "during" or window.anchor and \
            window.anchor.occurrence else f"the base patient gives no {window.anchor} day"
        gen.not_generated.append(f"line {atom.span.line}, {name}: a window {why}")
        return []
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
                               f"{how}: {status}", atom, status,
                               replace=({"concept": name, "value": day.isoformat()},)))
    if given(gen, name):
        out.append(Variant(f"no {name}: {written}", "no day: unknown", atom, "unknown",
                           remove=(name,)))
    return list({v.name: v for v in out}.values())  # an edge's neighbour may be another edge


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
