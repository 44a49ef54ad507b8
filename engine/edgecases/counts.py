"""Boundary cases of counted histories: `at least 2 lines of tki where outcome is failure ever`,
`at least 3 infection with grade >= 3 within 1 year before screening`.

Each case replaces the concept's whole list with a few items on distinct days inside the window
(the last day inside, then the days before it): N-1, N and N+1 items that each meet the condition;
N-1 beside one that does not (a day outside the window, an attribute that fails the filter, a
grade a step short); N-1 beside one that may (a date known only to the month that straddles the
window's edge, a filtered attribute or the counted-by attribute not recorded); for a count by an
attribute (`lines of`), N items of which two share a value; N items without the anchor's day (a
date concept or history not recorded, a history recorded as none, its most recent item still
going on: `windows` says which item a window on another history counts from); N items during
another history's most recent item (`during` says which) still going on (the window runs to now:
true); and nothing recorded.

The status is a count, as the README defines it: each item counts (true), may (unknown) or does
not (false) by the conjunction of its window (calendar arithmetic with `dateutil`, as `windows`),
its filter (as `filters`) and its grade; then true when N distinct items (distinct values of the
attribute, for `by`) surely count, false when even every item that may could not make N, unknown
otherwise.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Callable

from engine.atoms.base import OPS
from engine.edgecases.base import Skip, Variant, anchor_day, recorded_until
from engine.edgecases.filters import (Changed, PerDay, counted_values, item_values,
                                      through_weight, written_filters)
from engine.edgecases.anchors import Anchored, history_anchor
from engine.edgecases.during import one_day, spanned_by
from engine.edgecases.windows import (_edges, _given, _grade_text, _inside, _occurrence,
                                      _passing_grade)
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

#: One item of a case: the fact's day (`YYYY-MM-DD`, or `YYYY-MM` known to the month), the fields
#: it changes from an item that meets the condition (None: not recorded), whether it counts
#: ("true" / "unknown" / "false"), and what it is, in words.
Item = tuple[str, dict[str, Any], str, str]


def counts(gen: EdgeCases, atom: m.Counted) -> list[Variant]:
    """The cases of one counted history (see the module's docstring); raises `Skip`."""
    occurred, n = atom.occurred, atom.count
    window = occurred.window
    if window.reach is not None:  # each item's own window (`windows._reached`), counted
        raise Skip(f"'{window}': a count of items each within its own "
                   f"{window.reach.attribute.name} window has no boundary cases yet")
    concept = gen.concept(occurred)
    passing, changes = item_values(gen, occurred)
    by = atom.attribute(concept)
    of = f"{atom.by.name} of " if atom.by is not None else ""
    written = f"at least {n} {of}{occurred.ref.name}{written_filters(occurred)}" \
              f"{_grade_text(occurred)} {window}"
    anchor, anchored = _anchor(gen, atom)
    until = recorded_until(gen, concept)
    days, edge_days, outside, month = _days(gen, n + 1, _window(gen, window, anchor, anchored,
                                                                until), until)
    keys = counted_values(occurred, by) if by is not None else []
    if by is not None and len(keys) < n + 1:
        raise Skip(f"fewer than {n + 1} declared {by.name} values that pass the filter to count")

    def good(k: int) -> Item:
        fields = {by.name: keys[k]} if by is not None else {}
        return days[k], fields, "true", f"{days[k]}{_said(fields)} counts"

    def cases() -> list[tuple[str, list[Item]] | tuple[str, list[Item], PerDay]]:
        out: list = [(f"{_items(k)} that count{'s' if k == 1 else ''}",
                      [good(i) for i in range(k)]) for k in (n - 1, n, n + 1) if k > 0]
        beside = [good(i) for i in range(n - 1)]
        last = days[n - 1]
        extra = {by.name: keys[n - 1]} if by is not None else {}
        for day in edge_days:
            out.append((f"one on {day}, the window's edge", [*beside, (day, extra, "true",
                        f"{day} is inside, on the edge")]))
        if outside is not None:
            out.append(("one outside the window", [*beside, (outside, extra, "false",
                                                             f"{outside} is outside")]))
        if month is not None:
            out.append((f"one known to the month {month}", [*beside, (month, extra, "unknown",
                        f"{month} straddles the window's edge")]))
        for change in (c for c in changes if c.recorded):
            out.append((f"one with {change.what}", [*beside, (last, {**extra, **change.fields},
                        change.held, change.why)]))
        for dose in through_weight(gen, occurred, passing):
            out.append((f"one of {dose.label}", [*beside, (last, {**extra, **dose.fields},
                        dose.passes, dose.how)], dose))
        for change in [*(c for c in changes if not c.recorded), *([Changed(
                by.name, {by.name: None}, "unknown", f"no {by.name} recorded: it may count",
                recorded=False)] if by is not None else [])]:
            out.append((f"one without {change.what}", [*beside, (last, {**extra, **change.fields},
                        change.held, change.why)]))
        if occurred.grade is not None:
            op, threshold = occurred.grade
            short = next((g for g in (threshold - 1, threshold + 1)
                          if g >= 0 and not OPS[op](g, threshold)), None)
            if short is not None:
                out.append((f"one of grade {short}", [*beside, (last, {**extra, "grade": short},
                            "false", f"grade {short} {op} {threshold} is false")]))
        if by is not None:
            same = {by.name: keys[0]}
            out.append((f"{_items(n)}, two with {by.name} {keys[0]}",
                        [*beside, (last, same, "true", f"{last}{_said(same)} counts, "
                                   f"{by.name} {keys[0]} again")]))
        return out

    grade = _passing_grade(occurred)
    variants = []
    for what, items, *weighed in cases():
        status, how = _status(items, n, by.name if by is not None else None)
        facts = tuple(_occurrence(gen, occurred, day, fields.get("grade", grade),
                                  {**passing, **fields}) for day, fields, _, _ in items)
        weight = weighed[0] if weighed else PerDay("", {}, "", "", (), ())
        variants.append(Variant(f"{what}: {written}", how, atom, status,
                                replace=(*facts, *weight.replace), remove=weight.remove))
    if window.anchor is not None and window.anchor.ref is not None:
        n_items = variants[1].replace  # N items that count (N >= 2: the first case is N-1)
        variants.append(Variant(f"{_items(n)} that count, no {window.anchor.ref.name}: {written}",
                                f"{window.anchor}: no day, the window has no edge: unknown", atom,
                                "unknown", replace=n_items, remove=(window.anchor.ref.name,)))
        if anchored is not None:
            variants += _anchor_cases(window, anchored, atom, n_items, written)
    if any(f.get("concept") == occurred.ref.name for f in gen.base["facts"]):
        variants.append(Variant(f"no {occurred.ref.name}: {written}",
                                "nothing recorded: unknown", atom, "unknown",
                                remove=(occurred.ref.name,)))
    if anchored is not None and anchored.own:
        return [_given(gen, v, anchored.latest.fact) for v in variants]
    return variants


def _anchor(gen: EdgeCases, atom: m.Counted) -> tuple[date | None, Anchored | None]:
    """The window's anchor day (None for `ever`), and for one on the start or end of another
    history the item of it the anchor is read from (`anchors`)."""
    window = atom.occurred.window
    if window.kind == "ever":
        return None, None
    if window.kind == "during":  # from the start of the most recent item, to its end plus D
        spanned = spanned_by(gen, window, f"line {atom.span.line}, {atom.occurred.ref.name}")
        start = spanned.latest.day("start")
        assert start is not None
        return start, Anchored(start, spanned.latest, spanned.own, spanned.movable)
    if window.anchor is not None and window.anchor.occurrence:
        anchored = history_anchor(gen, window.anchor, f"line {atom.span.line}, "
                                  f"{atom.occurred.ref.name}")
        return anchored.day, anchored
    anchor = anchor_day(gen, window.anchor)
    if anchor is None:
        raise Skip(f"the base patient gives no day for {window.anchor}")
    return anchor, None


def _anchor_cases(window: m.Window, anchored: Anchored, atom: m.Counted,
                  n_items: tuple[dict, ...], written: str) -> list[Variant]:
    """N items that count, beside the anchor's history recorded as none (it can never exist:
    false) and, for its end, its most recent item still going on (no anchor day: unknown; for a
    window during it, the window runs to now, and every item still counts: true)."""
    anchor = window.anchor
    assert anchor is not None and anchor.ref is not None
    name = anchor.ref.name
    out = [Variant(f"{_items(atom.count)} that count, no {name} (recorded as none): {written}",
                   f"{name} is recorded as none: the anchor can never exist: false", atom,
                   "false", replace=(*n_items, {"concept": name, "present": False}))]
    going = {k: v for k, v in anchored.latest.fact.items() if k != "end"}
    if anchor.edge == "end":
        out.append(Variant(f"{_items(atom.count)} that count, {name} still going on: {written}",
                           f"{name} has no end yet: no anchor day: unknown", atom, "unknown",
                           replace=(*n_items, {**going, "ongoing": True})))
    if window.kind == "during":
        out.append(Variant(f"{_items(atom.count)} that count, {name} still going on: {written}",
                           f"{name} goes on: the window runs to now, and each item still counts: "
                           "true", atom, "true", replace=(*n_items, {**going, "ongoing": True})))
    return out


def _status(items: list[Item], n: int, by: str | None) -> tuple[str, str]:
    """The count's status and how it was worked out: the items that surely count (distinct by
    their value, for `by`) against N, and those that may."""
    sure = {_key(i, fields, by) for i, (_, fields, counts_, _) in enumerate(items)
            if counts_ == "true"}
    sure.discard(None)
    may = [_key(i, fields, by) for i, (_, fields, counts_, _) in enumerate(items)
           if counts_ == "unknown" or (counts_ == "true" and _key(i, fields, by) is None)]
    more = len({k for k in may if k is not None and k not in sure}) + may.count(None)
    status = "true" if len(sure) >= n else "false" if len(sure) + more < n else "unknown"
    said = "; ".join(how for _, _, _, how in items) or "no item"
    return status, f"{said}: {len(sure)} count, {more} more may; needs {n}: {status}"


def _key(index: int, fields: dict[str, Any], by: str | None) -> Any:
    """What makes an item distinct: itself, or its value of the counted-by attribute (None:
    not recorded, it may be a new one)."""
    return index if by is None else fields.get(by)


def _window(gen: EdgeCases, window: m.Window, anchor: date | None, anchored: Anchored | None,
            until: date) -> tuple[Callable[[date], bool], list[date]] | None:
    """Whether a one-day item counts by the window, and the days up to `until` (screening, or
    any day for a planned event) where that changes (`windows`; `during` for a window during
    another history); None for `ever`."""
    if anchor is None:
        return None
    if window.kind == "during":
        assert anchored is not None
        return one_day(window, anchored.latest, until)
    counted = _inside(window)

    def inside(day: date) -> bool:
        return counted(day, anchor)
    return inside, _edges(inside, anchor, window, until)


def _days(gen: EdgeCases, count: int, window: tuple[Callable[[date], bool], list[date]] | None,
          until: date) -> tuple[list[str], list[str], str | None, str | None]:
    """`count` distinct days inside the window (from the last day inside up to screening,
    backwards), the other days inside where being inside changes, the first day outside up to
    screening, and a month that straddles the window's edge (None when there is none)."""
    if window is None:  # `ever`
        last = gen.screening - timedelta(days=1)
        return [(last - timedelta(days=k)).isoformat() for k in range(count)], [], None, None
    inside, edges = window
    within = [d for d in [*edges, gen.screening - timedelta(days=1)] if inside(d)]
    if not within:
        raise Skip("no day inside the window up to screening")
    days = [max(within) - timedelta(days=k) for k in range(count)]
    if not all(inside(d) for d in days):
        raise Skip(f"fewer than {count} days inside the window")
    outside = next((d.isoformat() for d in edges if not inside(d)), None)
    edge_days = [d.isoformat() for d in edges if inside(d) and d not in days]
    return [d.isoformat() for d in days], edge_days, outside, _straddling(inside, edges, until)


def _straddling(inside: Callable[[date], bool], edges: list[date], until: date) -> str | None:
    """The first edge day's month, up to `until`, with days both inside and outside."""
    for day in edges:
        first = date(day.year, day.month, 1)
        days = [first + timedelta(days=k) for k in range(monthrange(day.year, day.month)[1])]
        seen = {inside(d) for d in days if d <= until}
        if seen == {True, False}:
            return first.strftime("%Y-%m")
    return None


def _items(k: int) -> str:
    return f"{k} item" if k == 1 else f"{k} items"


def _said(fields: dict[str, Any]) -> str:
    return "".join(f", {k} {v}" for k, v in fields.items())
