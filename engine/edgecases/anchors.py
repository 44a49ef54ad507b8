"""Which item of a history a window on its start or end counts from (`relapse within 6 months
after the end of adjuvant`): the most recent, as the README says: the one that started last; of
two that started on one day, the one that ended last (a course still going on ends last).

Each item is read as far as its dates go: a date known to the month or year spans its days, a
course with neither an end nor `ongoing` may still be going on, an event with one date is one
day, and nothing starts after screening. The most recent is settled when one item surely started
after every other one (its earliest first day after their latest), or started on the same whole
day as another and surely ended after it (for a window on the start, the day is the same
whichever it is); otherwise which item it is is not settled, nor is the anchor day. The anchor day
is that item's start or end when that is a whole day; a base whose history does not settle it
(or gives no whole day there) is said so in the file, and its cases count from a course of their
own.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

#: The last day of an item that is, or may still be, going on.
OPEN = date.max


@dataclass(frozen=True)
class Span:
    """One item of a history: its fact, and its first and last day, each as the earliest and the
    latest it can be (a last day of `OPEN`: going on, when both are; may be, when only the
    latest is)."""

    fact: dict[str, Any]
    first: tuple[date, date]
    last: tuple[date, date]

    def day(self, edge: str) -> date | None:
        """Its start or end, when that is one whole day."""
        early, late = self.first if edge == "start" else self.last
        return early if early == late != OPEN else None

    def __str__(self) -> str:
        fact, first = self.fact, self.fact.get("date") or "no date"
        if fact.get("end"):
            return f"{first} to {fact['end']}"
        if self.last[0] == OPEN:
            return f"{first}, ongoing"
        return f"{first}, no end recorded" if self.last[1] == OPEN else first


def days_of(text: Any) -> tuple[date, date] | None:
    """The first and last day a date written `YYYY-MM-DD`, `YYYY-MM` or `YYYY` may be.

    >>> days_of("2024-02"), days_of("x")
    ((datetime.date(2024, 2, 1), datetime.date(2024, 2, 29)), None)
    """
    try:
        if isinstance(text, str) and len(text) == 10:
            day = date.fromisoformat(text)
            return day, day
        if isinstance(text, str) and len(text) == 7 and text[4] == "-":
            year, month = int(text[:4]), int(text[5:])
            return date(year, month, 1), date(year, month, monthrange(year, month)[1])
        if isinstance(text, str) and len(text) == 4:
            return date(int(text), 1, 1), date(int(text), 12, 31)
    except ValueError:
        return None
    return None


def span_of(fact: dict[str, Any], concept: m.Concept, screening: date) -> Span | None:
    """An item's days (see the module's docstring), None when its date is not one; a planned
    event's may lie after screening, and one without a date on any day from screening on."""
    undated = (screening, OPEN) if concept.planned else (date.min, screening)
    first = days_of(fact["date"]) if fact.get("date") is not None else undated
    if first is None:
        return None
    if not concept.planned:
        first = (first[0], min(first[1], screening))
    if fact.get("ongoing"):
        last = (OPEN, OPEN)
    elif fact.get("end"):
        ends = days_of(fact["end"])
        if ends is None:
            return None
        last = (max(ends[0], first[0]), ends[1])
    elif concept.runs_on:
        last = (first[0], OPEN)
    else:
        last = first
    return Span(fact, (first[0], min(first[1], last[1])), last)


def spans(gen: EdgeCases, name: str, facts: list[dict] | None = None) -> list[Span] | None:
    """The items of `name` (the base's, unless `facts` are given), None when a date is not one."""
    out = []
    for fact in gen.base["facts"] if facts is None else facts:
        if fact.get("concept") != name or fact.get("present") is False:
            continue
        span = span_of(fact, gen.concepts[name], gen.screening)
        if span is None:
            return None
        out.append(span)
    return out


def most_recent(items: list[Span], edge: str) -> Span | str:
    """The most recent item, for a window on its `edge`, or why it is not settled.

    >>> a = Span({"date": "2024-05"}, (date(2024, 5, 1), date(2024, 5, 31)), (OPEN, OPEN))
    >>> b = Span({"date": "2024-05-10"}, (date(2024, 5, 10),) * 2, (date(2024, 6, 1),) * 2)
    >>> most_recent([a, b], "end")
    'which started last is not settled: 2024-05, ongoing or 2024-05-10'
    """
    for item in items:
        if all(other is item or _not_later(other, item, edge) for other in items):
            return item
    latest = max(items, key=lambda item: item.first[0])
    rival = next(o for o in items if o is not latest and not _not_later(o, latest, edge))
    if rival.first == latest.first and rival.first[0] == rival.first[1]:
        return (f"two started on {rival.first[0]}, and which ended last is not settled: "
                f"{rival} or {latest}")
    return f"which started last is not settled: {rival} or {latest}"


def anchor_days(items: list[Span], edge: str) -> tuple[date, date] | str:
    """The first and the last day `the <edge> of x` may be, or why it has none: the anchor lies
    on the edge of whichever item is the most recent, so between the earliest and the latest
    edge day of the items that may be (none other surely follows it: `_surely_after`); none while
    the most recent may still be going on.

    >>> a = Span({"date": "2025-09", "end": "2025-12-20"}, (date(2025, 9, 1), date(2025, 9, 30)),
    ...          (date(2025, 12, 20),) * 2)
    >>> b = Span({"date": "2025-09-10"}, (date(2025, 9, 10),) * 2, (date(2025, 10, 1),) * 2)
    >>> anchor_days([a, b], "end")
    (datetime.date(2025, 10, 1), datetime.date(2025, 12, 20))
    """
    may = candidates(items)
    days = [item.first if edge == "start" else item.last for item in may]
    early, late = min(d[0] for d in days), max(d[1] for d in days)
    if late != OPEN:
        return early, late
    if len(may) > 1:
        return f"which started last is not settled, and one may still be going on: " \
               f"{' or '.join(str(item) for item in may)}"
    return unanchored(may[0], edge)


def candidates(items: list[Span]) -> list[Span]:
    """The items that may be the most recent: those no other surely follows (`_surely_after`).
    A window `during` x reads the start and the end of each of them."""
    return [item for item in items if not any(_surely_after(other, item) for other in items
                                              if other is not item)]


def _surely_after(other: Span, item: Span) -> bool:
    """Whether `other` surely is more recent than `item`: it surely started after it, or it
    started no earlier than `item` may have and surely ended after it."""
    return (other.first[0], other.last[0]) > (item.first[1], item.last[1])


def _not_later(other: Span, item: Span, edge: str) -> bool:
    """Whether `other` surely is not the most recent rather than `item` (or, being so, gives the
    same anchor day)."""
    if other.first[1] < item.first[0]:
        return True
    if not other.first[0] == other.first[1] == item.first[0] == item.first[1]:
        return False
    return edge == "start" or other.last[1] < item.last[0] or \
        other.last[0] == other.last[1] == item.last[0] == item.last[1]


def _whole_days(fact: dict[str, Any]) -> bool:
    """Whether each date a fact gives is a whole day (moving the patient moves only those)."""
    return all(len(fact[key]) == 10 for key in ("date", "end") if isinstance(fact.get(key), str))


def unanchored(span: Span, edge: str) -> str:
    """Why the most recent item gives no anchor day on its `edge`."""
    early, late = span.first if edge == "start" else span.last
    if edge == "end" and early == OPEN:
        return f"the most recent has not ended: {span}"
    if edge == "end" and late == OPEN:
        return f"the end of the most recent is not recorded: {span}"
    return f"the {edge} of the most recent is known only to the month or year: {span}"


@dataclass(frozen=True)
class Anchored:
    """The anchor day of `the start (end) of x` for the cases, the item of x it is read from, and
    whether the cases give that item (a course of their own); whether the patient may be moved in
    time with the base's items (every date of x a whole day: a date known to the month is not
    moved)."""

    day: date
    latest: Span
    own: bool
    movable: bool = True


def history_anchor(gen: EdgeCases, anchor: m.Anchor, where: str) -> Anchored:
    """The anchor day of a window on another history's start or end (see the module's
    docstring); a course of the cases' own, from 90 to 60 days before screening, when the base
    does not settle it, which the file then says at `where` (`line 24, infection`)."""
    assert anchor.ref is not None and anchor.occurrence
    name, edge = anchor.ref.name, anchor.edge
    found, why = spans(gen, name), None
    if found is None:
        why = "a date is not a day, month or year"
    elif found:
        latest = most_recent(found, edge)
        if isinstance(latest, str):
            why = latest
        elif latest.day(edge) is None:
            why = unanchored(latest, edge)
        else:
            return Anchored(latest.day(edge), latest, False,  # type: ignore[arg-type]
                            movable=all(_whole_days(s.fact) for s in found))
    if why is not None:
        gen.notes.append(f"{where}: counted from a course of the cases' own, since the "
                                 f"base's {name} does not settle {anchor} ({why})")
    start, end = gen.screening - timedelta(days=90), gen.screening - timedelta(days=60)
    course = {"concept": name, "date": start.isoformat(), "end": end.isoformat()}
    values = gen.concepts[name].values
    if gen.concepts[name].kind is m.Kind.MEDICATION and values:
        course["drug"] = values[0].name
    return Anchored(start if edge == "start" else end, Span(course, (start,) * 2, (end,) * 2),
                    True)
