"""Conditions on a history: an event's occurrences, a medication's courses.

A list is true when some item says yes, false when the patient is recorded as having none or every
item says no, and UNKNOWN when nothing is recorded: missing data is never read as absent.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import replace
from datetime import date

from engine import patterns as P
from engine import record as R
from engine.atoms import dated
from engine.atoms.base import (OPS, Atom, Build, Judged, Reader, against, judge_listed,
                               status)
from engine.dates import FIRST_DAY, FIRST_DAY_NUMBER
from engine.items import too_wide
from engine.kleene import (NEGATE, Kleene, conjunction, disjunction, either, lacking, listed,
                           missing_list, present)
from engine.record import ONGOING, Patient
from protocol import model as m


class Occurred(Atom):
    """`car_t_therapy ever`, `active_tuberculosis at screening`, `gvhd with grade >= 2 within 2
    weeks before screening`, `chemotherapy within 4 weeks before first_dose`: some occurrence
    meets the window's item tests (`window_tests`) against the record's anchor and bound days.
    A date concept's day in a window (`consent before first_procedure`) is `atoms/dated.py`'s."""

    handles = m.Occurred

    @staticmethod
    def halves(atom: m.Occurred, reader: Reader | None = None) -> tuple[m.Occurred, m.Occurred]:
        """`within D or N t, whichever is longer`: the window of D, and that of N t alone, each an
        occurrence of its own (with a span of its own for its nodes). Some item falls in the
        longer window when some item falls in one of them: the engine cannot ask an item's
        fields one or the other (see the README's durable_rules limits)."""
        window = atom.window
        assert window.reach is not None
        return (replace(atom, span=window.span, window=replace(window, reach=None)),
                replace(atom, span=window.reach.span, window=replace(
                    window, duration=None, reach=replace(window.reach, longer=False))))

    def compile(self, atom: m.Occurred, build: Build) -> Kleene:
        if build.concepts[atom.ref.name].kind is m.Kind.DATE:
            return dated.compile(atom, build)
        if atom.window.reach is not None and atom.window.reach.longer:
            return disjunction([build.kleene(half) for half in self.halves(atom)])
        return self.within(atom, build)

    def within(self, atom: m.Occurred, build: Build) -> Kleene:
        """`compile` for one window (a filter's clauses too, in `Filtered`)."""
        window, name = atom.window, atom.ref.name
        needs, void, certain, possible = item_tests(atom, build)
        if len(certain) > 1 or atom.grade is not None:
            # its "no" would be an `$or` over item fields (or a grade not recorded would be a
            # no): a node of its own
            decided = P.TRUE if needs == P.TRUE else P.any_of(
                P.test("==", R.none_field(name), 1), needs, void)
            return self.whatever_the_day(atom, build, needs, build.hidden(
                atom, P.all_of(*certain), lacking(name, needs, void), decided, needs,
                P.all_of(*possible), void))
        if not certain:
            return listed(name, P.test(">=", R.ITEM[R.START], 0), P.FALSE,
                          whole=name in build.wholes)
        (op, _, _, key, field), = window_reads(window, build.concepts[name].planned)
        no = P.test(NEGATE[op], f"$i.{key}", {"$m": field})  # it surely fails what it may meet
        return listed(name, certain[0], no, needs, void, maybe=possible[0],
                      whole=name in build.wholes)

    def passes(self, atom: m.Occurred, reader: Reader, item: dict, sure: bool) -> bool:
        """Whether an item surely (or possibly) passes what the atom asks beside its window and
        grade: nothing here; a filter (`engine/atoms/filters.py`) asks more."""
        return True

    def may_pass(self, atom: m.Occurred, build: Build) -> list[P.Pattern]:
        """What an item may pass beside its window and grade, as item tests: nothing here; a
        filter (`engine/atoms/filters.py`) asks more."""
        return []

    def whatever_the_day(self, atom: m.Occurred, build: Build, needs: P.Pattern,
                         within: Kleene) -> Kleene:
        """`within` (a node over the items), false too where no item may pass the grade and
        the filter (`may_pass`), whatever the window's anchor day: a missing first dose leaves
        `infection with grade >= 3 within 14 days before first_dose` open only while an
        infection may be of grade 3. A second node, some item that may pass them, joined by
        `and`; none where the anchor day is always there (the screening date)."""
        if needs == P.TRUE or (atom.grade is None and not atom.filters):
            return within
        graded = [grade_tests(atom)[1]] if atom.grade is not None else []
        passes = P.all_of(*graded, *self.may_pass(atom, build))
        some = build.counted(m.Counted(atom.span, 1, atom), passes, P.FALSE, P.TRUE, P.TRUE,
                             passes, suffix="~") if too_wide(passes) else \
            build.hidden(atom, passes, P.FALSE, P.TRUE, suffix="~")
        return conjunction([within, some])

    def listed(self, atom: m.Occurred) -> tuple[str, ...]:
        return (atom.ref.name,)

    def judge(self, atom: m.Occurred, reader: Reader, patient: Patient,
              count: int = 1, by: m.Attribute | None = None) -> Judged:
        """Some item (or `count` items, for `at least N ...`; items of `count` different values
        of the attribute `by`, for `at least N lines of ...`) meets the atom."""
        if reader.concepts[atom.ref.name].kind is m.Kind.DATE:
            return dated.judge(atom, reader, patient)
        if atom.window.reach is not None and atom.window.reach.longer:
            return self._either(atom, reader, patient)
        name, tests, graded, first = reader.constant(atom, _occurrence)
        items, text = reader.items(name, patient)
        record, anchor = patient.record, atom.window.anchor
        if anchor is not None and anchor.occurrence and \
                record.get(R.none_field(anchor.ref.name)) == 1:  # the anchor can never exist
            return "false", f"{text}; {anchor}: none, {anchor.ref.name} is recorded as none"
        if items is None:
            return "unknown", text
        try:  # what an item surely meets, and what it may meet
            certain = [(compare, key, record[field]) for compare, key, field, _, _ in tests]
            possible = [(compare, key, record[field]) for compare, _, _, key, field in tests]
        except KeyError:  # the window's anchor day is missing
            assert anchor is not None and anchor.ref is not None
            if not items:
                return "false", text
            if count == 1 and not any(
                    (graded is None or R.GRADE not in item or graded(item[R.GRADE])) and
                    self.passes(atom, reader, item, False) for item in items):
                return "false", f"{text}; no item may pass the {_asked(atom)}, whatever " \
                    f"{anchor}'s day"  # whatever the day (`Occurred.whatever_the_day`)
            reason = patient.unusable.get(R.anchor_field(anchor)) or patient.unusable.get(
                anchor.ref.name, "no fact given")
            return "unknown", f"{text}; {anchor}: {reason}"
        def meets(item: dict, surely: bool) -> bool:
            for compare, key, day in certain if surely else possible:
                if not compare(item[key], day):
                    return False
            if graded is not None:
                if R.GRADE in item:
                    if not graded(item[R.GRADE]):
                        return False
                elif surely:  # no grade recorded: it may pass, never surely
                    return False
            return self.passes(atom, reader, item, surely)

        # each item judged once: whether it surely meets the atom, and whether it may
        surely = [meets(item, True) for item in items]
        possibly = [sure or meets(item, False) for sure, item in zip(surely, items)]
        if len(items) > 1:  # which items count, when some do and some do not
            text = _counted(reader, name, patient, surely, possibly) or text
        open_by: tuple[str, ...] = ()  # a count by an attribute some item does not record
        if count == 1:  # true if an item surely meets it, else open if one may, else false
            held = "true" if any(surely) else "unknown" if any(possibly) else "false"
            words = "" if first is None else reader.window(patient, record[first]) if first \
                else _window_words(atom.window, reader, patient, name)
        elif by is None:
            sure, maybe = sum(surely), sum(possibly)
            held = "true" if sure >= count else "false" if maybe < count else "unknown"
            words = _window_words(atom.window, reader, patient, name) + (
                f"; {sure} count" + (f", {maybe - sure} may" if maybe > sure else "")
                + f"; needs at least {count}")
        else:
            field = R.attribute_field(by.name)
            values = sorted({i[field] for i, sure in zip(items, surely) if sure}
                            - {R.UNRECORDED})
            may = [i[field] for i, maybe in zip(items, possibly) if maybe]
            maybe = len(set(may) - {R.UNRECORDED}) + may.count(R.UNRECORDED)
            open_by = (by.name,) if R.UNRECORDED in may else ()
            held = "true" if len(values) >= count else "false" if maybe < count else "unknown"
            words = _window_words(atom.window, reader, patient, name) + (
                f"; {len(values)} different {by.name}" + (f" ({', '.join(values)})" if values
                                                          else "")
                + (f", {maybe - len(values)} more may" if maybe > len(values) else "")
                + f"; needs at least {count}")
        return held, text + words + (self.undecided(atom, reader, items, open_by)
                                     if held == "unknown" else "")

    def _either(self, atom: m.Occurred, reader: Reader, patient: Patient) -> Judged:
        """Whichever is longer: held when an item falls in either window (`halves`), the
        second said after the first without the items listed again."""
        fixed, reach = reader.constant(atom, self.halves)
        held, text = _occurred(fixed).judge(fixed, reader, patient)
        other, words = _occurred(reach).judge(reach, reader, patient)
        listed = reader.items(atom.ref.name, patient)[1]
        said = words[len(listed) + 1:] if words.startswith(listed) and text.startswith(listed) \
            else f" {words}"
        held = "true" if "true" in (held, other) else "unknown" if "unknown" in (held, other) \
            else "false"
        return held, f"{text}; or{said}" if said.strip() else text  # no course: nothing to add

    def undecided(self, atom: m.Occurred, reader: Reader, items: list[dict],
                  unrecorded: tuple[str, ...] = ()) -> str:
        """Why an open history is open, when its items are recorded: the attributes an item
        leaves open (`unrecorded`: what a count is by, what a filter reads), its grade, or its
        dates."""
        if unrecorded:
            return f" (not every item records its {' or '.join(unrecorded)}: the items do not " \
                   f"decide it)"
        if atom.grade is not None and any(R.UNGRADED_ITEM in item for item in items):
            return " (not every item records its grade: the items do not decide it)"
        reach = atom.window.reach
        return " (its dates do not decide it)" if reach is None else \
            f" (its dates and {reach.attribute.name} do not decide it)"


def _counted(reader: Reader, name: str, patient: Patient, surely: list[bool],
             possibly: list[bool]) -> str | None:
    """The history's items as the trail lists them, those that count apart from those that may
    and those that do not, when they differ: an auditor sees which infection made `infection
    where site is lung within 30 days before screening` hold, not every infection of the
    record. None when every item is judged alike (the plain list says it)."""
    each = reader.each(name, patient)
    if len(each) != len(surely):  # not one shown fact per item: the plain list
        return None
    groups: dict[str, list[str]] = {"counted": [], "may count": [], "not counted": []}
    for shown, sure, maybe in zip(each, surely, possibly):
        groups["counted" if sure else "may count" if maybe else "not counted"].append(shown)
    if sum(bool(group) for group in groups.values()) < 2:
        return None
    return f"{name}: " + "; ".join(f"{said}: {'; '.join(group)}"
                                   for said, group in groups.items() if group)


def _asked(atom: m.Occurred) -> str:
    """What an item must pass beside its window, as the trail names it: `filter and grade`."""
    return " and ".join(word for word, asked in (("filter", atom.filters),
                                                 ("grade", atom.grade)) if asked)


def _occurrence(atom: m.Occurred, reader: Reader) -> tuple:
    """What judging an occurrence needs of the protocol alone: the concept, each window test as
    `window_reads` gives it (its comparison as a function), the grade test, and where its
    window's words come from: None for `ever`, the record field of the first day of a window that
    ends on the screening date, "" for any other."""
    graded = None if atom.grade is None else against(atom.grade[0], float(atom.grade[1]))
    planned = reader.concepts[atom.ref.name].planned
    tests = tuple((OPS[op], *read) for op, *read in window_reads(atom.window, planned))
    window = atom.window
    first = None if window.kind == "ever" else ""
    if R.anchor_field(window.anchor) == R.SCREENING and window.reach is None and (
            window.kind == "at" or (window.kind == "within" and window.direction == "before")):
        first = R.SCREENING if window.kind == "at" else R.bound_field(
            R.SCREENING, window.duration, window.direction)
    return atom.ref.name, tests, graded, first


def item_tests(atom: m.Occurred, build: Build) -> tuple[P.Pattern, P.Pattern, list, list]:
    """What an occurrence's window and grade ask of the record and of one item: the record
    fields the window needs beside the list (`needs`), when the anchor can never exist (`void`),
    and the item tests an item surely meets (`certain`) and may meet (`possible`)."""
    window = atom.window
    ask_days(window, build.layout)
    needs = _needs(window)
    void = P.FALSE if window.anchor is None or not window.anchor.occurrence else \
        P.test("==", R.none_field(window.anchor.ref.name), 1)
    reads = window_reads(window, build.concepts[atom.ref.name].planned)
    if window.reach is not None:
        build.layout.reach(build.concepts[atom.ref.name], window.reach)
    certain = [P.test(op, f"$i.{key}", {"$m": field}) for op, key, field, _, _ in reads]
    possible = [P.test(op, f"$i.{key}", {"$m": field}) for op, _, _, key, field in reads]
    if atom.grade is not None:
        graded, may = grade_tests(atom)
        certain, possible = certain + [graded], possible + [may]
    return needs, void, certain, possible


def grade_tests(atom: m.Occurred) -> tuple[P.Pattern, P.Pattern]:
    """What an item surely meets and may meet of the grade asked: its grade passes, or it
    records none (`R.UNGRADED_ITEM`)."""
    assert atom.grade is not None
    graded = P.test(atom.grade[0], R.ITEM[R.GRADE], float(atom.grade[1]))
    return graded, P.any_of(graded, P.test("==", R.ITEM[R.UNGRADED_ITEM], 1))


def ask_days(window: m.Window, layout: R.Layout) -> None:
    """Ask the record for the days a window reads: its anchor's, and the day its duration
    reaches (from the end of X, for `during or within D after X`)."""
    if window.kind == "during":
        layout.anchor(window.anchor)
        until = layout.anchor(window.until)
        if window.duration is not None:
            layout.bound(until, window.duration, "after")
    elif window.kind != "ever":
        anchor = layout.anchor(window.anchor)
        if window.duration is not None:
            layout.bound(anchor, window.duration, window.direction)


def window_tests(window: m.Window, dated: bool = False) -> tuple[tuple[str, str, str], ...]:
    """The tests an occurrence meets to fall in `window`: (item key, comparison, record field).

    Let A be the anchor day and B the day the duration reaches from it, calendar-aware.
    `at A` and `within`/`less than D before|after A` ask the occurrence to overlap the span from A
    to B (inclusive, or open at B); `at least`/`more than D before|after A` ask its start to lie
    on or beyond (or strictly beyond) B; `LATER` kinds (never written, see `Latest`) ask its start
    to lie after (or on or after) B. Facts after the screening date are set aside, so with the
    screening date as anchor "started on or before A" always holds and is not tested, but for a
    date concept's day or a planned event's occurrence (`dated`), which may lie after it.
    """
    if window.kind == "ever":
        return ()
    if window.kind == "during":
        return (R.END, ">=", R.anchor_field(window.anchor)), (R.START, "<=", _last_day(window))
    anchor = R.anchor_field(window.anchor)
    if window.kind == "at":
        tests = [(R.END, ">=", anchor), (R.START, "<=", anchor)]
    elif window.duration is None:  # the reach alone (one half of `whichever is longer`)
        tests = [(R.START, "<=", anchor)]
    else:
        bound = R.bound_field(anchor, window.duration, window.direction)
        strict = window.kind in ("less_than", "more_than")
        before = window.direction == "before"
        if window.kind in ("within", "less_than"):
            tests = [(R.END, ">" if strict else ">=", bound), (R.START, "<=", anchor)] if before \
                else [(R.START, "<" if strict else "<=", bound), (R.END, ">=", anchor)]
        elif window.kind in LATER.values():
            tests = [(R.START, ">" if window.kind == "after_bound" else ">=", bound)]
        else:
            tests = [(R.START, ("<" if strict else "<=") if before else (">" if strict else ">="),
                      bound)]
    reach = window.reach
    if reach is not None:  # each item's own length: the day it reaches is the anchor's
        tests.append((R.reach_field(reach.attribute.name, reach.times, reach.strict), ">=",
                      anchor))
    if anchor == R.SCREENING and not dated:
        tests = [t for t in tests if t != (R.START, "<=", R.SCREENING)]
    return tuple(tests)


def _last_day(window: m.Window) -> str:
    """The record field of the last day of a window `during` X: X's end, or the day the
    duration reaches after it."""
    until = R.anchor_field(window.until)
    return until if window.duration is None else R.bound_field(until, window.duration, "after")


def window_reads(window: m.Window, dated: bool = False
                 ) -> tuple[tuple[str, str, str, str, str], ...]:
    """Each of `window_tests` as an item is compared: (comparison, the item key and the record
    field it surely passes it on, the item key and the record field it may pass it on).

    An item surely passes `day >= bound` when its earliest possible day does against the bound's
    latest, and may pass when its latest day does against the bound's earliest (the other way
    round for <=). A window on another history's start or end, or on a date concept, compares
    with the anchor's and its bound's earliest and latest days (`R.spread`: the most recent
    occurrence's edge, or the date, may be known only to the month, or not settled), so it is
    decided wherever every possible anchor day agrees; the screening date is one day, its own
    earliest and latest.
    """
    ranged = window.anchor is not None and window.anchor.ranged
    reads = []
    for key, op, field in window_tests(window, dated):
        earliest, latest = R.between(key)
        low, high = R.spread(field) if ranged else (field, field)
        reads.append((op, earliest, high, latest, low) if op in (">=", ">") else
                     (op, latest, low, earliest, high))
    return tuple(reads)


def _fields(window: m.Window) -> list[str]:
    """The record fields a window's tests read."""
    return sorted({field for _, _, sure, _, maybe in window_reads(window)
                   for field in (sure, maybe)})


def _needs(window: m.Window) -> P.Pattern:
    """The record fields a window reads that a patient may lack: those of an anchor other than
    the screening date (which every record has, with its bounds)."""
    if R.anchor_field(window.anchor) == R.SCREENING:
        return P.TRUE
    return present(*_fields(window))


def _window_words(window: m.Window, reader: Reader, patient: Patient, name: str = "") -> str:
    """How the window reads for this patient, with its days; with the day each item of `name`
    reaches, when its length is also each item's own (`_reach_words`)."""
    if window.reach is not None:
        return window_days(window, reader, patient) + _reach_words(window, name, patient)
    return window_days(window, reader, patient)


def window_days(window: m.Window, reader: Reader, patient: Patient) -> str:
    if window.kind == "ever":
        return ""
    if window.kind == "during":
        assert window.anchor is not None and window.anchor.ref is not None
        end = "its end" if window.duration is None else f"{window.duration} after its end"
        return f" (window from the start of {window.anchor.ref.name}, " \
               f"{_on(patient, R.anchor_field(window.anchor))}, to {end}, " \
               f"{_on(patient, _last_day(window))})"
    record = patient.record
    anchor = R.anchor_field(window.anchor)
    if anchor == R.SCREENING and window.reach is None and (window.kind == "at" or (
            window.kind == "within" and window.direction == "before")):
        field = R.SCREENING if window.kind == "at" else R.bound_field(
            anchor, window.duration, window.direction)
        return reader.window(patient, record[field])
    anchor_days = _days(patient, anchor)
    named = f"{window.anchor or 'screening'} {days_text(patient, anchor, *anchor_days)}"
    if window.kind == "at":
        return f" (on {named})"
    if window.duration is None:  # a reach alone: `_reach_words` says it
        return ""
    if anchor_days[0] < FIRST_DAY:  # from an occurrence with no date: no day to show
        return f" (window from {named})"
    if window.kind in ("within", "less_than"):
        bound_days = _days(patient, R.bound_field(anchor, window.duration, window.direction))
        (first, last), (later_first, later_last) = (
            (b, a) if window.direction == "before" else (a, b)
            for a, b in zip(anchor_days, bound_days))
        if anchor_days[0] == anchor_days[1]:
            strict = f", {bound_days[0]} itself not counted" if window.kind == "less_than" else ""
            return f" (window from {first} to {last}{strict}; {named})"
        strict = ", the bound itself not counted" if window.kind == "less_than" else ""
        return f" (window from {first} to {last} on the earliest anchor day, from " \
               f"{later_first} to {later_last} on the latest{strict}; {named})"
    return " ({}; {})".format(*started_words(window, patient))


def _reach_words(window: m.Window, name: str, patient: Patient) -> str:
    """The day each item's own window reaches from its last day, in the order of the items:
    `; and within 5 half_life of its last day: to 2026-05-03, to 2026-05-01 or later`; alone
    (one half of `whichever is longer`), with its anchor day. No items (recorded as none, or
    nothing recorded): nothing to say."""
    reach = window.reach
    assert reach is not None
    key = R.reach_field(reach.attribute.name, reach.times, reach.strict)
    early = R.between(key)[0]
    days = []
    for item in patient.record.get(name, ()):
        low, high = item[early], item[key]
        if low < 0:
            days.append(f"{reach.attribute.name} not recorded")
        elif low >= ONGOING:
            days.append("as it goes on")
        else:
            first = date.fromordinal(low).isoformat()
            days.append(f"to {first}" if low == high else f"to {first} or later"
                        if high >= ONGOING else
                        f"to a day from {first} to {date.fromordinal(high).isoformat()}")
    if not days:
        return ""
    said = f"less than {reach.times} {reach.attribute.name} after its last day" if reach.strict \
        else f"within {reach.times} {reach.attribute.name} of its last day"
    if window.duration is None:
        anchor = R.anchor_field(window.anchor)
        said = f"; {said} before {window.anchor or 'screening'} " \
            f"{days_text(patient, anchor, *_days(patient, anchor))}"
    else:
        said = f"; and {said}"
    return f"{said}: {', '.join(days)}"


def started_words(window: m.Window, patient: Patient) -> tuple[str, str]:
    """A window on an occurrence's start, for this patient: what the start must be, and the
    anchor day (`started before 2025-12-15`, `first_dose 2026-06-15`; an anchor known only
    within days gives a bound within days: `started after a day from 2025-03-01 to
    2025-03-31`)."""
    anchor = R.anchor_field(window.anchor)
    low, high = _days(patient, R.bound_field(anchor, window.duration, window.direction))
    word = {("at_least", "before"): "on or before", ("more_than", "before"): "before",
            ("at_least", "after"): "on or after", ("more_than", "after"): "after",
            ("after_bound", "before"): "after", ("from_bound", "before"): "on or after"}
    bound = low if low == high else f"a day not recorded, up to {high}" if low < FIRST_DAY \
        else f"a day from {low} to {high}"
    named = days_text(patient, anchor, *_days(patient, anchor))
    return f"started {word[window.kind, window.direction]} {bound}", \
        f"{window.anchor or 'screening'} {named}"


def ordinals(patient: Patient, field: str) -> tuple[int, int]:
    """The earliest and latest day (ordinals) the day in record field `field` may be
    (`R.spread`); `ONGOING` for an end not come yet."""
    record = patient.record
    if field in record:
        return record[field], record[field]
    low, high = R.spread(field)
    return record[low], record[high]


def _days(patient: Patient, field: str) -> tuple[date, date]:
    """`ordinals` as days."""
    low, high = ordinals(patient, field)
    return date.fromordinal(low), date.fromordinal(high)


def _on(patient: Patient, field: str) -> str:
    """A day of a window `during` X as the trail shows it: one day, the days it may be (dates
    known to the month, or which X is the most recent not settled), or now while X goes on."""
    low, high = ordinals(patient, field)
    if low >= ONGOING:
        return "now, as it goes on"
    if low < FIRST_DAY_NUMBER:  # from an occurrence with no date
        return "a day not recorded" if high >= ONGOING else \
            f"a day not recorded, up to {date.fromordinal(high).isoformat()}"
    shown = date.fromordinal(low).isoformat()
    if high >= ONGOING:
        return f"{shown} or later, until now (its end is not recorded)"
    return shown if low == high else f"{shown} to {date.fromordinal(high).isoformat()}"


def days_text(patient: Patient, field: str, low: date, high: date) -> str:
    """An anchor day as the trail shows it: `2025-03-14`; known to the month or the year,
    `2025-03 (2025-03-01 to 2025-03-31)`; else its earliest and latest day, and why it is not
    one (the most recent occurrence is not settled); from an occurrence with no date, not
    recorded."""
    if low == high:
        return str(low)
    if low < FIRST_DAY:
        return f"not recorded (a day up to {high})"
    if (low.day, high.day) == (1, monthrange(high.year, high.month)[1]) and \
            (low.year, low.month) == (high.year, high.month):
        return f"{low:%Y-%m} ({low} to {high})"
    if (low.month, low.day, high.month, high.day) == (1, 1, 12, 31) and low.year == high.year:
        return f"{low.year} ({low} to {high})"
    reason = patient.unusable.get(field)
    return f"{low} to {high}" + (f": {reason}" if reason else "")


#: The window an item's start falls in when it does not fall in `at least` / `more than D before
#: A`: after B, or on or after B.
LATER = {"at_least": "after_bound", "more_than": "from_bound"}


class Latest(Atom):
    """`the latest allo_sct more than 6 months before first_dose`: the most recent item started
    beyond the bound. In Kleene terms, some item exists and no item started later than the bound
    allows: `X ever and not X <started after the bound>`, both compiled as occurrences (so filters,
    grades and dates known to the month work as they do there). True when an item exists and every
    item surely started in time; false when none is recorded or one surely started later; UNKNOWN
    when an item's date straddles the bound or the anchor is missing."""

    handles = m.Latest

    @staticmethod
    def halves(atom: m.Latest) -> tuple[m.Occurred, m.Occurred]:
        """Some item exists; some item started after the bound (a span of its own for its
        nodes)."""
        occurred, window = atom.occurred, atom.occurred.window
        later = replace(window, kind=LATER[window.kind])
        return (replace(occurred, window=m.Window(window.span, "ever")),
                replace(occurred, span=window.span, window=later))

    @staticmethod
    def constants(atom: m.Latest, reader: Reader) -> tuple[m.Occurred, m.Occurred]:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        return Latest.halves(atom)

    def compile(self, atom: m.Latest, build: Build) -> Kleene:
        some, later = self.halves(atom)
        return conjunction([build.kleene(some), build.kleene(later).negated()])

    def judge(self, atom: m.Latest, reader: Reader, patient: Patient) -> Judged:
        some, later = reader.constant(atom, self.constants)  # the trail caches by the halves' ids
        exists, text = judge_listed(_occurred(some), some, reader, patient)
        if exists != "true":
            return exists, text
        held, detail = judge_listed(_occurred(later), later, reader, patient)
        verdict = {"true": "false", "false": "true"}.get(held, held)
        if any(field not in patient.record for field in _fields(later.window)):
            return verdict, detail  # the anchor day is missing, and the detail says so
        said = {"true": "none, so the latest is earlier", "false": "one, the latest is too recent",
                "unknown": "perhaps one (its dates do not decide it)"}[verdict]
        started, anchor = started_words(later.window, patient)
        return verdict, f"{reader.items(atom.ref.name, patient)[1]}; {started} ({anchor}): {said}"


class NoKnown(Atom):
    """`no known history of X`, `no known X within 6 months before screening`: the open-world
    reading a protocol asks for in so many words. True when nothing is recorded about X, when X is
    recorded as none, or when no occurrence falls in the window; false when one does; open only
    when an occurrence is recorded but the window's anchor day is missing. `known history of X`
    is its negation."""

    handles = m.NoKnown

    def compile(self, atom: m.NoKnown, build: Build) -> Kleene:
        with build.known_only(atom.ref.name):  # what is recorded of it is all there is
            k = _occurred(atom.occurred).compile(atom.occurred, build)
        nothing_recorded = ((missing_list(atom.ref.name), frozenset()),)
        # Open only with an item of it recorded: nothing recorded decides it, so it is no data
        # the record lacks (beside a pending judgment, the criterion is NEEDS_REVIEW)
        items = P.test("$ex", atom.ref.name, 1)
        no_known = Kleene(either(k.f, nothing_recorded), k.t, P.all_of(k.d, items),
                          P.any_of(k.nd, P.test("$nex", atom.ref.name, 1)), k.uses)
        return no_known.negated() if atom.known else no_known

    def judge(self, atom: m.NoKnown, reader: Reader, patient: Patient) -> Judged:
        items, text = reader.items(atom.ref.name, patient)
        if items is None:
            return atom.status("false"), f"{atom.ref.name}: nothing recorded (no known history)"
        kind = _occurred(atom.occurred)  # the list it places is read as recorded; any other not
        held, detail = judge_listed(kind, atom.occurred, reader, patient, tuple(
            name for name in kind.listed(atom.occurred) if name != atom.ref.name))
        return atom.status(held), detail

    def outcomes(self, atom: m.NoKnown) -> tuple[str, ...]:
        """Never open unless the window counts from a day the patient's facts give (consent),
        which may be missing: nothing recorded is no known history."""
        anchor = atom.occurred.window.anchor
        return ("true", "false", "unknown") if anchor is not None and anchor.ref is not None \
            else ("true", "false")


def _occurred(atom: m.Occurred) -> Atom:
    """The atom kind of an occurrence condition: in each span of another history, filtered or
    not."""
    if atom.window.kind == "during_any":
        from engine.atoms.during import DuringAny

        return DuringAny()
    if atom.filters:
        from engine.atoms.filters import Filtered

        return Filtered()
    return Occurred()


class Includes(Atom):
    """`antimalarial includes hydroxychloroquine`: some course of this drug (by its declared
    name)."""

    handles = m.Includes

    def compile(self, atom: m.Includes, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        drug = concept.canonical(atom.drug.name) or atom.drug.name
        drug_field = R.ITEM[R.DRUG]
        yes, no = P.test("==", drug_field, drug), P.test("!=", drug_field, drug)
        return listed(concept.name, yes, no, whole=concept.name in build.wholes)

    def judge(self, atom: m.Includes, reader: Reader, patient: Patient) -> Judged:
        name, drug = reader.constant(atom, self.constants)
        items, text = reader.items(name, patient)
        if items is None:
            return "unknown", text
        return status(any(i[R.DRUG] == drug for i in items)), text

    def listed(self, atom: m.Includes) -> tuple[str, ...]:
        return (atom.ref.name,)

    @staticmethod
    def constants(atom: m.Includes, reader: Reader) -> tuple[str, str]:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        concept = reader.concepts[atom.ref.name]
        return concept.name, concept.canonical(atom.drug.name) or atom.drug.name


class CountedIncludes(Atom):
    """`immunosuppressant includes at least 2 of {...}`: at least k distinct drugs of the set on
    the patient's (complete) list, counted in the network (`Build.counted_drugs`) by the drugs
    the list holds (a hit per drug of the set), not condition by condition as `at least k of
    [...]` is counted (`_Compiler.count_of`)."""

    handles = m.AtLeast

    @staticmethod
    def drugs(node: m.AtLeast, concepts: dict[str, m.Concept]) -> tuple[m.Concept, tuple[str, ...]]:
        first = node.items[0]
        assert isinstance(first, m.Includes)
        concept = concepts[first.ref.name]
        return concept, tuple(sorted({concept.canonical(i.drug.name) or i.drug.name
                                      for i in node.items if isinstance(i, m.Includes)}))

    def compile(self, node: m.AtLeast, build: Build) -> Kleene:
        concept, drugs = self.drugs(node, build.concepts)
        build.layout.concepts.add(concept.name)
        return build.counted_drugs(node, concept.name, drugs)

    def judge(self, node: m.AtLeast, reader: Reader, patient: Patient) -> Judged:
        name, drugs = reader.constant(node, self.constants)
        items, text = reader.items(name, patient)
        if items is None:
            return "unknown", text
        taken = sorted({i[R.DRUG] for i in items} & drugs)
        listed_ = f" ({', '.join(taken)})" if taken else ""
        return status(len(taken) >= node.count), (f"{len(taken)} of the set{listed_}; needs at "
                                                  f"least {node.count}; {text}")

    def listed(self, node: m.AtLeast) -> tuple[str, ...]:
        first = node.items[0]
        assert isinstance(first, m.Includes)
        return (first.ref.name,)

    @staticmethod
    def constants(node: m.AtLeast, reader: Reader) -> tuple[str, frozenset[str]]:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        concept, drugs = CountedIncludes.drugs(node, reader.concepts)
        return concept.name, frozenset(drugs)
