"""Boundary cases of windows on a history: `live_vaccine within 4 weeks before screening`,
`progression within 12 months after first_line_start`, `stroke more than 2 months before
informed_consent`, `no known x ...`, `the latest x more than 6 months before first_dose`, a
grade (`with grade >= 2`) and a filter (`where route is intravenous`, `other than {...}`: the
item passes it, and `filters` adds the item that fails it or does not record it).

Each window gets one occurrence (or a one-day course) on every day where being inside changes:
the first and last day inside and the first day outside, on each side the window has; the same
with the patient moved so that the anchor falls on 31 January, 29 February, 31 March and 31
December (windows in months or years, where the calendar clamps); the month of each edge day as a
date known only to the month (UNKNOWN when it straddles the edge, decided when it lies wholly on
one side) and a month wholly inside; for a grade, the grade at its threshold and a step past it;
nothing recorded; and, for a window on a date concept, no anchor day. A window on the start or end
of another history counts from the base's one course of it (or, when the base has none, a course
of the cases' own, 90 to 60 days before screening, given in every case): also an occurrence on
that course's other edge day, the course still going on (no end: unknown), and the history
recorded as none (the anchor can never exist: false).

The status is calendar arithmetic with `dateutil.relativedelta` on the window as the README
defines it (overlap for `within` / `less than`, the start for `at least` / `more than`), day by
day for a month: inside on every day is true, on none false, otherwise unknown.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Callable

from dateutil.relativedelta import relativedelta

from engine.atoms.base import OPS
from engine.edgecases.base import Skip, Variant, day_given, leap
from engine.edgecases.filters import item_values, unrecorded, written_filters
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases

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
    passing, failing = item_values(gen, occurred)
    written = f"{occurred.ref.name}{written_filters(occurred)}{_grade_text(occurred)} {window}"
    grade = _passing_grade(occurred)
    if window.kind == "ever":  # no edge in time: the filter's and grade's, the day before screening
        day = gen.screening - timedelta(days=1)
        return _unique([*_filtered(gen, atom, occurred, day, written, grade, passing, failing,
                                   True), *_graded(gen, atom, occurred, day, written, passing),
                        *_nothing(gen, atom, occurred, written)])
    course = None  # an anchor course the cases give, when the base has none to count from
    if window.anchor is not None and window.anchor.edge is not None:
        anchor, course = _history_anchor(gen, window.anchor)
    else:
        anchor = gen.screening if window.anchor is None else day_given(gen, window.anchor.ref.name)
    on = str(window.anchor) if window.anchor else "screening"
    if anchor is None:
        raise Skip(f"the base patient gives no {on} day")
    inside = _inside(window)
    out: list[Variant] = []
    places = [(anchor, gen.screening, None)]
    if window.duration is not None and window.duration.unit in ("months", "years") and \
            course is None:  # moved, the base's anchor course moves too
        places += [(end, gen.screening + (end - anchor), end) for end in _month_ends(anchor)]
    for at, screening, moved in places:
        where = f", {on} on {at}" if moved else ""
        for day in _edges(lambda d: inside(d, at), at, window, screening):
            held = inside(day, at)
            out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} on {day}: "
                                f"{_which(day, held, inside, at)} of {written}{where}",
                                f"{on} {at}: {_bounds(window, at)} (dateutil); {day} is "
                                f"{'inside' if held else 'outside'}", held, day.isoformat(),
                                grade, moved_to=screening if moved else None, fields=passing))
    out += _months(gen, atom, occurred, inside, anchor, written, on, grade, passing)
    out += _grades(gen, atom, occurred, inside, anchor, written, passing)
    days = [d for d in _edges(lambda d: inside(d, anchor), anchor, window, gen.screening)
            if inside(d, anchor)]
    if days:
        out += _filtered(gen, atom, occurred, days[0], written, grade, passing, failing, False)
    out += _nothing(gen, atom, occurred, written)
    if window.anchor is not None and window.anchor.ref is not None:
        day, none = min(anchor, gen.screening), window.anchor.ref.name
        out.append(_variant(gen, atom, occurred, f"no {none}, {occurred.ref.name} on {day}: "
                            f"{written}", f"{on}: no day, the window has no edge", None,
                            day.isoformat(), grade, remove=(window.anchor.ref.name,),
                            fields=passing))
    if window.anchor is not None and window.anchor.edge is not None:
        out += _anchor_cases(gen, atom, occurred, inside, anchor, course, written, grade, passing)
    if course is not None:
        out = [_given(v, course) for v in out]
    return _unique(out)


def _given(variant: Variant, course: dict) -> Variant:
    """A case with the anchor course the base lacks, unless it replaces it or goes without."""
    name = course["concept"]
    if name in variant.remove:  # the base has none to remove
        return replace(variant, remove=tuple(r for r in variant.remove if r != name))
    if any(f["concept"] == name for f in variant.replace):
        return variant
    return replace(variant, replace=(*variant.replace, course))


def _history_anchor(gen: EdgeCases, anchor: m.Anchor) -> tuple[date | None, dict | None]:
    """The anchor day of `the start (end) of x`: the base's most recent x with whole dates, or,
    when it has none, a course of the cases' own (from 90 to 60 days before screening, or to
    screening when the anchor lies in the future of the window)."""
    assert anchor.ref is not None
    given = [f for f in gen.base["facts"] if f.get("concept") == anchor.ref.name and
             f.get("present") is not False]
    try:
        latest = max(given, key=lambda f: f["date"])
        start, end = date.fromisoformat(latest["date"]), date.fromisoformat(latest["end"])
    except (KeyError, TypeError, ValueError):  # none, or not whole dates: the cases give one
        start, end = gen.screening - timedelta(days=90), gen.screening - timedelta(days=60)
        course = {"concept": anchor.ref.name, "date": start.isoformat(), "end": end.isoformat()}
        values = gen.concepts[anchor.ref.name].values
        if gen.concepts[anchor.ref.name].kind is m.Kind.MEDICATION and values:
            course["drug"] = values[0].name
        return (start if anchor.edge == "start" else end), course
    if len(given) > 1:  # which one is the most recent is the README's to say, not guessed here
        raise Skip(f"the base patient gives more than one {anchor.ref.name}")
    return (start if anchor.edge == "start" else end), None


def _anchor_cases(gen: EdgeCases, atom, occurred: m.Occurred, inside, anchor: date,
                  course: dict | None, written: str, grade, passing: dict) -> list[Variant]:
    """For a window on the start or end of x: an occurrence on the anchor course's other edge
    day; the anchor course still going on (no end: unknown); x recorded as none (false)."""
    window = occurred.window
    assert window.anchor is not None and window.anchor.ref is not None
    name = window.anchor.ref.name
    anchor_course = course or next(f for f in gen.base["facts"] if f.get("concept") == name and
                                   f.get("present") is not False)
    other = "date" if window.anchor.edge == "end" else "end"
    day = date.fromisoformat(anchor_course[other])
    out = []
    if day <= gen.screening:
        held = inside(day, anchor)
        out.append(_variant(gen, atom, occurred, f"{occurred.ref.name} on {day}, the "
                            f"{'first' if other == 'date' else 'last'} day of {name}: "
                            f"{written}", f"{window.anchor} {anchor}: {_bounds(window, anchor)} "
                            f"(dateutil); {day} is {'inside' if held else 'outside'}", held,
                            day.isoformat(), grade, fields=passing))
    days = [d for d in _edges(lambda d: inside(d, anchor), anchor, window, gen.screening)
            if inside(d, anchor)]
    if days and window.anchor.edge == "end":
        going = {k: v for k, v in anchor_course.items() if k != "end"}
        out.append(_variant(gen, atom, occurred, f"{name} still going on, {occurred.ref.name} "
                            f"on {days[0]}: {written}", f"{name} has no end yet: no anchor day",
                            None, days[0].isoformat(), grade, fields=passing,
                            also=({**going, "ongoing": True},)))
    if days and isinstance(atom, m.Occurred):
        out.append(_variant(gen, atom, occurred, f"no {name} (recorded as none), "
                            f"{occurred.ref.name} on {days[0]}: {written}",
                            f"{name} is recorded as none: the anchor can never exist", False,
                            days[0].isoformat(), grade, fields=passing,
                            also=({"concept": name, "present": False},)))
    return out


def _nothing(gen: EdgeCases, atom, occurred: m.Occurred, written: str) -> list[Variant]:
    """Nothing recorded: unknown (the closed world), true for `no known`."""
    if not any(f.get("concept") == occurred.ref.name for f in gen.base["facts"]):
        return []
    nothing = "true" if isinstance(atom, m.NoKnown) else "unknown"
    return [Variant(f"no {occurred.ref.name}: {written}", f"nothing recorded: {nothing}", atom,
                    nothing, remove=(occurred.ref.name,))]


def _filtered(gen: EdgeCases, atom, occurred: m.Occurred, day: date, written: str, grade,
              passing: dict, failing: list[tuple[str, str]], alone: bool) -> list[Variant]:
    """On a day inside: the item that passes (when the window's cases do not give it), each
    attribute at a value that fails, and each not recorded."""
    if not passing:
        return []
    tried: list[tuple[str, dict, bool | None, str]] = []
    if alone:
        tried.append(("passes", passing, True, "passes every clause"))
    for name, value in failing:
        tried.append((f"{name} {value}", {**passing, name: value}, False,
                      f"{name} {value} fails the filter"))
    for name, gone in unrecorded(gen.concept(occurred), passing):
        tried.append((f"{name} not recorded", {**passing, **gone}, None,
                      f"no {name} recorded: it may or may not pass"))
    return [_variant(gen, atom, occurred, f"{occurred.ref.name} on {day}, {what}: {written}",
                     f"{day} is inside; {how}", held, day.isoformat(), grade, fields=fields)
            for what, fields, held, how in tried]


def _inside(window: m.Window) -> Callable[[date, date], bool]:
    """Whether a one-day occurrence on `day` counts, for anchor day `at` (README, Histories)."""
    kind, after = window.kind, window.direction == "after"

    def edge(at: date) -> date:
        assert window.duration is not None
        delta = relativedelta(**{window.duration.unit: window.duration.amount})
        return at + delta if after else at - delta

    def inside(day: date, at: date) -> bool:
        if kind == "at":
            return day == at
        bound = edge(at)
        if kind == "within":
            return at <= day <= bound if after else bound <= day <= at
        if kind == "less_than":
            return at <= day < bound if after else bound < day <= at
        if kind == "at_least":
            return day >= bound if after else day <= bound
        if kind == "more_than":
            return day > bound if after else day < bound
        raise Skip(f"a window `{window}`")
    return inside


def _edges(inside: Callable[[date], bool], at: date, window: m.Window,
           screening: date) -> list[date]:
    """The days where being inside changes, and their neighbours, up to screening (nothing
    recorded can lie after it)."""
    if window.kind == "ever":
        raise Skip("`ever` has no edge")
    marks = [at]
    if window.duration is not None:
        delta = relativedelta(**{window.duration.unit: window.duration.amount})
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
    delta = relativedelta(**{window.duration.unit: window.duration.amount})
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
    edges = _edges(lambda d: inside(d, anchor), anchor, occurred.window, gen.screening)
    firsts = list(dict.fromkeys(date(d.year, d.month, 1) for d in edges))
    beside = [f + relativedelta(months=k) for f in firsts for k in (-1, 1)]
    out, wholly = [], False
    for first in [*firsts, *beside]:
        days = [first + timedelta(days=k) for k in range(monthrange(first.year, first.month)[1])]
        days = [d for d in days if d <= gen.screening]
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


def _grades(gen: EdgeCases, atom, occurred: m.Occurred, inside, anchor: date,
            written: str, passing: dict) -> list[Variant]:
    """For `with grade >= g`: on the first day inside, the grade at g and a whole step on either
    side."""
    days = [d for d in _edges(lambda d: inside(d, anchor), anchor, occurred.window,
                              gen.screening) if inside(d, anchor)]
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
    if isinstance(atom, m.NoKnown):
        return "true" if held is False else "false" if held else "unknown"
    return "unknown" if held is None else "true" if held else "false"


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
    if concept.kind is m.Kind.MEDICATION or len(day) == 10:
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
