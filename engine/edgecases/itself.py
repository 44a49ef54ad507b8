"""Boundary cases of a window on the start or end of its own history: `relapse more than 1 year
before the start of relapse` (one a year before the most recent), `infection with grade >= 3
within 30 days after the end of infection`, `at least 2 neuropathy within 6 months before the
start of neuropathy`.

The anchor is the history's most recent item (`anchors`: the one that started last; of two that
started on one day, the one that ended last), whatever the filter and grade, and every item is
counted against the window from it, that item included. A case cannot move one item without
perhaps moving the anchor, so each gives the whole list, and its status is worked out from the
list as a whole: the most recent item, the anchor day on its edge, then each item's place in the
window (`windows`' calendar arithmetic over its days), its filter and its grade.

The cases, with A the most recent item, 90 to 60 days before screening: A alone (for a window in
months or years also with its anchored edge on 31 January, 29 February, 31 March and 31
December, where the calendar clamps), and with its other edge on each day where the status turns;
A beside another item O that started before it and ends on each day where the status turns (a
one-day item before A's first day, else from the day before it), A failing the filter or grade
when there is one, so that O decides (for `at least N`, beside N-1 copies of O where it counts);
O the day after A started (after A ended, for a window on the end), so that O is the most recent;
A beside one that started a day earlier and ends a day later (A started last: it is the most
recent), and beside one that started on its day and ends a day later (that one ended last), O on
a day that tells the two readings apart; A still going on (no anchor day: unknown); A's anchored
edge known only to the month, alone and beside another item on each day where the status turns
(the anchor any day of that month: decided where every one agrees, each item's days read apart
from the anchor's, A's own too, as the network reads them); the item that decides with each
filtered attribute failing and not recorded, and at its grade's threshold and a step on either
side; the history recorded as none; nothing recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from engine.atoms.base import OPS
from engine.edgecases.anchors import Span, anchor_days, most_recent, spans
from engine.edgecases.base import Skip, Variant, kleene_and, kleene_or, leap, period
from engine.edgecases.counts import _status as counted
from engine.edgecases.filters import item_values, written_filters
from engine.edgecases.windows import (MONTH_ENDS, _bounds, _grade_text, _occurrence,
                                      _passing_grade, _spanned, occurred_of, placed)
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

DAY = timedelta(days=1)


def on_itself(occurred: m.Occurred) -> bool:
    """Whether a window counts from the start or end of its own history."""
    anchor = occurred.window.anchor
    return anchor is not None and anchor.occurrence and anchor.ref is not None and \
        anchor.ref.name == occurred.ref.name


@dataclass(frozen=True)
class Item:
    """One item of a case: its first day, its last (None: still going on; `YYYY-MM`: known to
    the month), its fields beside the passing ones (None: not recorded), and whether it passes
    the filter and grade ("true", "false", "unknown"), with a note saying why."""

    first: date | str
    last: date | str | None
    fields: dict[str, Any] = field(default_factory=dict)
    passes: str = "true"
    note: str = ""

    def __str__(self) -> str:
        said = ", ".join(f"{k} {v}" if v is not None else f"no {k}"
                         for k, v in self.fields.items() if k != "unit")
        said = f" ({said})" if said else ""
        if self.last is None:
            return f"from {self.first}, ongoing{said}"
        return f"on {self.first}{said}" if self.first == self.last else \
            f"from {self.first} to {self.last}{said}"


class _Own:
    """The cases of one atom whose window counts from its own history."""

    def __init__(self, gen: EdgeCases, atom: Any) -> None:
        self.gen, self.atom = gen, atom
        occurred = atom.occurred if isinstance(atom, m.Counted) else occurred_of(atom)
        self.occurred, self.window = occurred, occurred.window
        assert self.window.anchor is not None and self.window.anchor.occurrence
        self.edge, self.name = self.window.anchor.edge, occurred.ref.name
        self.counts = _spanned(self.window)
        self.passing, self.changes = item_values(gen, occurred)
        self.grade = _passing_grade(occurred)
        self.by = atom.attribute(gen.concept(occurred)) if isinstance(atom, m.Counted) else None
        count = f"at least {atom.count} {atom.by.name + ' of ' if atom.by else ''}" \
            if isinstance(atom, m.Counted) else ""
        self.written = f"{count}{self.name}{written_filters(occurred)}" \
                       f"{_grade_text(occurred)} {self.window}"
        if isinstance(atom, m.Latest):
            self.written = f"the latest {self.written}"
        elif isinstance(atom, m.NoKnown):
            self.written = f"{'' if atom.known else 'no '}known {self.written}"

    # -- what each case makes of the atom ---------------------------------------------------------
    def fact(self, item: Item, key: Any = None) -> dict[str, Any]:
        """An item as a fact, with the base's fields beside its dates and the passing ones."""
        fields = {**self.passing, **({self.by.name: key} if self.by is not None else {}),
                  **item.fields}
        grade = fields.pop("grade", self.grade)
        fact = _occurrence(self.gen, self.occurred, str(item.first), grade, fields)
        fact.pop("end", None)
        fact.update({"ongoing": True} if item.last is None else {"end": str(item.last)})
        return fact

    def facts(self, items: list[Item]) -> tuple[dict, ...]:
        """The items as facts; for `at least N lines of x`, each of another declared value."""
        keys = [v.name for v in self.by.values] if self.by is not None else []
        if self.by is not None and len(keys) < len(items):
            raise Skip(f"fewer than {len(items)} declared {self.by.name} values to count")
        return tuple(self.fact(item, keys[k] if keys else None) for k, item in enumerate(items))

    def read(self, items: list[Item], at: date | None = None
             ) -> tuple[str, tuple[date, date] | str, list[str], list[str]]:
        """Which item is the most recent (in words), the first and last day the anchor on its
        edge may be (`anchors.anchor_days`; `at`: another day, to tell two readings apart) or
        why it has none, and each item's place in the window and whether it counts (its place
        and its filter and grade), "true", "false" or "unknown" (`windows.placed`)."""
        found = spans(self.gen, self.name, list(self.facts(items)))
        assert found is not None
        latest = most_recent(found, self.edge)
        assert isinstance(latest, Span), latest  # the cases settle it
        days = anchor_days(found, self.edge) if at is None else (at, at)
        said = f"the most recent {self.name} is the one {items[found.index(latest)]}"
        if isinstance(days, str):
            return said, days, [], []
        places = [placed(self.counts, span.first, span.last, days) for span in found]
        return said, days, places, [kleene_and(item.passes, place) for item, place in zip(items, places)]

    def judge(self, items: list[Item], at: date | None = None) -> tuple[str, str]:
        """The atom's status for a list of items, and how it was worked out."""
        said, days, places, states = self.read(items, at)
        if isinstance(days, str):
            return "unknown", f"{said}; no anchor day ({days}): unknown"
        early, late = days
        said += f"; {self.window.anchor} {early}: {_bounds(self.window, early)} (dateutil)" \
            if early == late else f"; {self.window.anchor} any day from {early} to {late}: " \
            f"{_bounds(self.window, early)} to {_bounds(self.window, late)} (dateutil)"
        where = {"true": "inside", "false": "outside", "unknown": "perhaps inside"}
        words = [f"{item} is {where[place]}{item.note}" for item, place in zip(items, places)]
        if isinstance(self.atom, m.Counted):
            status, how = counted([(str(item.first), fact, state, word) for item, fact, state,
                                   word in zip(items, self.facts(items), states, words)],
                                  self.atom.count, self.by.name if self.by else None)
            return status, f"{said}; {how}"
        if isinstance(self.atom, m.Latest):  # some item, and none that started too late
            later = [kleene_and(item.passes, _not(place)) for item, place in zip(items, places)]
            status = kleene_and(kleene_or(*[i.passes for i in items]), _not(kleene_or(*later)))
            when = {"true": "in time", "false": "too late", "unknown": "perhaps in time"}
            words = [f"{item} started {when[place]}{item.note}"
                     for item, place in zip(items, places)]
            return status, f"{said}; {'; '.join(words)}: {status}"
        status = kleene_or(*states)
        if isinstance(self.atom, m.NoKnown):
            status = self.atom.status(status)
        return status, f"{said}; {'; '.join(words)}: {status}"

    def variant(self, what: str, items: list[Item]) -> Variant:
        status, how = self.judge(items)
        return Variant(f"{self.name} {what}: {self.written}", how, self.atom, status,
                       replace=self.facts(items))

    # -- the cases --------------------------------------------------------------------------------
    def cases(self) -> list[Variant]:
        screening = self.gen.screening
        first, last = screening - 90 * DAY, screening - 60 * DAY
        good = Item(first, last)
        bad = self._bad(good)
        out: list[Variant] = []
        others: list[tuple[list[Item], Variant]] = []
        for a in [good, *self._month_ends()]:
            out.append(self.variant(str(a), [a]))
            out += self._free_edge(a)
            day = a.first if self.edge == "start" else a.last
            others += self._others(self._bad(Item(day, day)))
        out += [variant for _, variant in others]
        out += self._readings(bad)
        later = last + DAY if self.edge == "end" else first + DAY
        out.append(self.variant(f"{good} and {Item(later, later)} (it started last: the most "
                                "recent)", [good, Item(later, later)]))
        out.append(self.variant(str(Item(first, None)), [Item(first, None)]))
        month = self._in_month(good)
        if month is not None:
            out.append(self.variant(f"{month} (known to the month)", [month]))
            out += [variant for _, variant in self._others(self._bad(month))]
        out += self._filtered(good, others)
        out += self._none()
        return _unique(out)

    def _bad(self, good: Item) -> Item:
        """A, failing the filter or the grade when there is one, so that another item decides."""
        failing = next((c for c in self.changes if c.held == "false"), None)
        if failing is not None:
            return Item(good.first, good.last, failing.fields, "false", f" ({failing.why})")
        short = self._short_grade()
        if short is not None:
            return Item(good.first, good.last, {"grade": short}, "false",
                        f" (grade {short} fails)")
        return good

    def _short_grade(self) -> int | None:
        if self.occurred.grade is None:
            return None
        op, threshold = self.occurred.grade
        return next((g for g in (threshold - 1, threshold + 1)
                     if g >= 0 and not OPS[op](g, threshold)), None)

    def _span(self, a: Item) -> Span:
        """A's days, as the anchor reads them."""
        (span,) = spans(self.gen, self.name, [self.fact(a)]) or [None]
        assert span is not None
        return span

    def _marks(self, a: Item) -> list[date]:
        """The days around which a status can turn: A's first and last day (each earliest and
        latest), its anchor day (the first and the last it may be) and the bound the window's
        duration reaches from it."""
        span = self._span(a)
        days = anchor_days([span], self.edge)
        assert not isinstance(days, str), days
        marks = [*span.first, *span.last]
        for at in days:
            marks.append(at)
            if self.window.duration is not None:
                delta = period(self.window.duration)
                marks.append(at + delta if self.window.direction == "after" else at - delta)
        return marks

    def _turns(self, make, marks: list[date], low: date = date.min) -> list[date]:
        """The days from `low` up to screening, near the marks, on which the status of the
        items `make(day)` turns (it differs from the day before's or the day after's)."""
        days = sorted({mark + k * DAY for mark in marks if mark < self.gen.screening + 2 * DAY
                       for k in (-1, 0, 1)})
        days = [d for d in days if low <= d <= self.gen.screening]
        status = {d: self.judge(make(d))[0] for d in {*days, *(d + k * DAY for d in days
                                                               for k in (-1, 1))}
                  if low <= d <= self.gen.screening}
        return [d for d in days if any(status.get(d + k * DAY, status[d]) != status[d]
                                       for k in (-1, 1))]

    def _free_edge(self, a: Item) -> list[Variant]:
        """A alone, its other edge (its first day, for a window on its end) on each day where
        the status turns."""
        assert isinstance(a.first, date) and isinstance(a.last, date)
        if self.edge == "end":
            def make(day: date) -> list[Item]:
                return [Item(min(day, a.last), a.last)]
            days = [d for d in self._turns(make, self._marks(a)) if d <= a.last]
        else:
            def make(day: date) -> list[Item]:
                return [Item(a.first, max(day, a.first))]
            days = self._turns(make, self._marks(a), low=a.first)
        return [self.variant(str(make(d)[0]), make(d)) for d in days]

    def _other(self, day: date, before: date) -> Item:
        """Another item ending on `day` that started before `before`: a one-day item, or one from
        the day before `before`."""
        return Item(day, day) if day < before else Item(before - DAY, day)

    def _fillers(self, a: Item) -> list[Item]:
        """For `at least N`: items that count beside A, so that with A (when it counts) one
        more makes N: copies of another item where it counts (none when it never does)."""
        if not isinstance(self.atom, m.Counted):
            return []
        first = self._span(a).first[0]
        for day in sorted({d + k * DAY for d in self._marks(a) for k in (-1, 0, 1)}):
            if day > self.gen.screening:
                break
            item = self._other(day, first)
            states = self.read([a, item])[3]
            if day <= self.gen.screening and states[1] == "true":
                return [item] * (self.atom.count - 1 - (states[0] == "true"))
        return []

    def _others(self, a: Item) -> list[tuple[list[Item], Variant]]:
        """A (failing the filter or grade) beside another item that started before it, ending on
        each day where the status turns; each case with its items."""
        first = self._span(a).first[0]
        fillers = self._fillers(a)

        def make(day: date) -> list[Item]:
            return [a, *fillers, self._other(day, first)]
        return [(make(d), self.variant(_listed(make(d)), make(d)))
                for d in self._turns(make, self._marks(a))
                if self._other(d, first) not in fillers]  # a fact twice is refused

    def _readings(self, a: Item) -> list[Variant]:
        """A beside one that started a day earlier and ends a day later (A is the most recent),
        and, for a window on the end, beside one that started on its day and ends a day later
        (that one is): another item on a day where the other reading would differ."""
        assert isinstance(a.first, date) and isinstance(a.last, date)
        earlier = Item(a.first - DAY, a.last + DAY, a.fields, a.passes, a.note)
        pairs = [(earlier, a, earlier)]
        if self.edge == "end":
            later = Item(a.first, a.last + DAY, a.fields, a.passes, a.note)
            pairs.append((later, later, a))
        fillers = self._fillers(a)
        out = []
        for beside, right, wrong in pairs:
            if not isinstance(beside.last, date) or beside.last > self.gen.screening:
                continue
            start = min(a.first, beside.first)  # type: ignore[type-var]
            wrong_day = wrong.first if self.edge == "start" else wrong.last

            def make(day: date) -> list[Item]:
                return [a, beside, *fillers, self._other(day, start)]
            marks = [*self._marks(right), *self._marks(wrong)]
            told = next((d for d in sorted({m_ + k * DAY for m_ in marks for k in (-1, 0, 1)})
                         if d <= self.gen.screening and self.judge(make(d))[0] !=
                         self.judge(make(d), at=wrong_day)[0]), None)  # type: ignore[arg-type]
            if told is not None:
                items = make(told)
                out.append(self.variant(_listed(items), items))
        return out

    def _month_ends(self) -> list[Item]:
        """For a window in months or years: A with its anchored edge on each month end where the
        calendar clamps, the latest that leaves A 30 days before screening."""
        if self.window.duration is None or self.window.duration.unit not in ("months", "years"):
            return []
        out = []
        for month, day in MONTH_ENDS:
            year = self.gen.screening.year
            while True:
                if month != 2 or leap(year):
                    edge = date(year, month, day)
                    a = Item(edge, edge + 30 * DAY) if self.edge == "start" else \
                        Item(edge - 30 * DAY, edge)
                    if a.last < self.gen.screening:  # type: ignore[operator]
                        out.append(a)
                        break
                year -= 1
        return out

    def _in_month(self, a: Item) -> Item | None:
        """A with its anchored edge known only to the month."""
        assert isinstance(a.first, date) and isinstance(a.last, date)
        if self.edge == "start":
            return Item(f"{a.first:%Y-%m}", a.last)
        if date(a.last.year, a.last.month, 1) < a.first:
            return None
        return Item(a.first, f"{a.last:%Y-%m}")

    def _filtered(self, good: Item, others: list[tuple[list[Item], Variant]]) -> list[Variant]:
        """The item that decides (A alone when it counts, else the other item of the first case
        beside A where the status is true) with each filtered attribute failing and not recorded,
        and at its grade's threshold and a step on either side."""
        items = [good] if self.judge([good])[0] == self._held() else next(
            (items for items, v in others if v.status == self._held()), None)
        if items is None:
            return []
        last = items[-1]
        tried = [(change.fields, change.held, f" ({change.why})") for change in self.changes]
        if self.occurred.grade is not None:
            op, threshold = self.occurred.grade
            tried += [({"grade": g}, str(OPS[op](g, threshold)).lower(),
                       f" (grade {g} {op} {threshold} is {str(OPS[op](g, threshold)).lower()})")
                      for g in (threshold - 1, threshold, threshold + 1) if g >= 0]
        out = []
        for fields, passes, why in tried:
            changed = Item(last.first, last.last, {**last.fields, **fields}, passes, why)
            case = [*items[:-1], changed]
            out.append(self.variant(_listed(case), case))
        return out

    def _held(self) -> str:
        """The status when an item counts: false for `no known`."""
        return self.atom.status("true") if isinstance(self.atom, m.NoKnown) else "true"

    def _none(self) -> list[Variant]:
        """The history recorded as none (the anchor can never exist), and nothing recorded."""
        none = self.atom.status("false") if isinstance(self.atom, m.NoKnown) else "false"
        out = [Variant(f"no {self.name} (recorded as none): {self.written}",
                       f"{self.name} is recorded as none: {none}", self.atom, none,
                       replace=({"concept": self.name, "present": False},))]
        if any(f.get("concept") == self.name for f in self.gen.base["facts"]):
            nothing = self.atom.status("false") if isinstance(self.atom, m.NoKnown) \
                else "unknown"
            out.append(Variant(f"no {self.name}: {self.written}", f"nothing recorded: {nothing}",
                               self.atom, nothing, remove=(self.name,)))
        return out


def itself(gen: EdgeCases, atom: Any) -> list[Variant]:
    """The cases of one atom whose window counts from its own history (see the module's
    docstring); raises `Skip`."""
    return _Own(gen, atom).cases()


def _listed(items: list[Item]) -> str:
    return " and ".join(str(item) for item in items)


def _not(value: str) -> str:
    return {"true": "false", "false": "true"}.get(value, value)


def _unique(variants: list[Variant]) -> list[Variant]:
    seen: dict[str, Variant] = {}
    for variant in variants:
        seen.setdefault(variant.name, variant)
    return list(seen.values())
