"""An occurrence in the span of each item of another history: `progression during any
lenalidomide`, `progression during or within 60 days after any lenalidomide` ("refractory:
progression on or within 60 days of the last dose", of any course, not only the most recent).

An item of X counts when it overlaps the span of some item of Y, from Y's first day to its last
(plus D), both counted, or to now while Y goes on; with the filter and grade asked of X's item.
Dates known only to the month, or an end not recorded, make a pair surely counted when every day
they may be agrees, and possibly counted otherwise. True when some pair surely counts; false when
X or Y is recorded as none, or both are recorded and no pair may count; UNKNOWN otherwise (either
not recorded, or a pair that may count), never read as absent.

The network: each item of X and of Y is a fact of its own (as a counted list's items are), and a
rule joins an X item with a Y item by comparing their fields (`{"y": field}` reads the Y item's),
one rule per alternative of the tests, so no `$or` spans item fields. The span's last day per Y
item (`R.span_field`) is the normaliser's, as every day of a window is.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from engine import patterns as P
from engine import record as R
from engine.atoms.base import Atom, Build, Judged, Reader, against
from engine.atoms.filters import clause_open, clause_test, filter_patterns
from engine.atoms.history import grade_tests
from engine.dates import FIRST_DAY_NUMBER
from engine.kleene import Kleene
from engine.record import ONGOING, Patient
from protocol import model as m

#: How the Y item fact is named in a rule that joins it to an X item.
OTHER = "y"


def last_days(window: m.Window) -> tuple[str, str]:
    """The Y item fields of its span's last day: the earliest it may be, and the latest."""
    last = R.END if window.duration is None else R.span_field(window.duration)
    return R.between(last)


class DuringAny(Atom):
    """`x during any y`, `x during or within D after any y`: see the module's docstring."""

    handles = m.Occurred  # an `m.Occurred` whose window is `during_any` (`engine.atoms.of`)

    def compile(self, atom: m.Occurred, build: Build) -> Kleene:
        window = atom.window
        assert window.anchor is not None and window.anchor.ref is not None
        other = window.anchor.ref.name
        build.layout.concepts.add(other)
        if window.duration is not None:
            build.layout.span(other, window.duration)
        early, late = last_days(window)
        sure, maybe, _ = filter_patterns(atom, build)
        passed, may_pass, _ = filter_patterns(spanned(atom), build)
        if atom.grade is not None:
            graded, may = grade_tests(atom)
            sure.append(graded)
            maybe.append(may)

        def against_other(key: str, op: str, field: str) -> P.Pattern:
            return P.test(op, R.ITEM[key], {OTHER: field})

        # surely overlapping: its earliest end on or after Y's latest start, its latest start on
        # or before the earliest last day of Y's span; possibly: the other way round
        sure += [against_other(R.END_EARLIEST, ">=", R.START_LATEST),
                 against_other(R.START_LATEST, "<=", early)]
        maybe += [against_other(R.END, ">=", R.START), against_other(R.START, "<=", late)]
        return build.paired(atom, other, P.all_of(*sure), P.all_of(*maybe),
                            (P.all_of(*passed), P.all_of(*may_pass)))

    def listed(self, atom: m.Occurred) -> tuple[str, ...]:
        assert atom.window.anchor is not None and atom.window.anchor.ref is not None
        return (atom.ref.name, atom.window.anchor.ref.name)

    def judge(self, atom: m.Occurred, reader: Reader, patient: Patient) -> Judged:
        window = atom.window
        assert window.anchor is not None and window.anchor.ref is not None
        name, other = atom.ref.name, window.anchor.ref.name
        items, text = reader.items(name, patient)
        spans, other_text = reader.items(other, patient)
        text = f"{text}; {other_text}"
        if items == [] or spans == []:
            return "false", text
        if items is None or spans is None:
            return "unknown", text
        (passes, opens), (spanning, spanning_opens) = reader.constant(atom, _pair_tests)
        early, late = last_days(window)
        counted, possible = [], []
        # what a pair's items do not record, in order: of this history's, and of the spanned
        unrecorded: dict[str, dict[str, None]] = {name: {}, other: {}}
        dated = True  # every pair that may count surely overlaps by its dates
        kept_spans = {j: [test(span) for test in spanning] for j, span in enumerate(spans)}
        for i, item in enumerate(items):
            kept = [test(item) for test in passes]
            if "false" in kept:
                continue
            for j, span in enumerate(spans):
                if "false" in kept_spans[j]:
                    continue
                overlaps = item[R.END_EARLIEST] >= span[R.START_LATEST] and \
                    item[R.START_LATEST] <= span[early]
                if overlaps and "unknown" not in kept and "unknown" not in kept_spans[j]:
                    counted.append((i, j))
                elif item[R.END] >= span[R.START] and item[R.START] <= span[late]:
                    possible.append((i, j))
                    dated = dated and overlaps
                    unrecorded[name].update(dict.fromkeys(
                        what for left in opens for what in left(item)))
                    unrecorded[other].update(dict.fromkeys(
                        what for left in spanning_opens for what in left(span)))
        after = "" if window.duration is None else f" to {window.duration} after its end"
        shown = "; ".join(f"{other} {j + 1} from {_first(span)}{_last(span, early, late)}"
                          + ("" if "false" not in kept_spans[j] else ", not kept")
                          for j, span in enumerate(spans))
        where = "" if not window.kept else \
            f" (where {' and '.join(str(clause) for clause in window.kept)})"
        text += f"; each {other}'s span{after}{where}: {shown}"
        if counted:
            return "true", text + "; " + _pairs(name, other, counted, "falls in")
        if possible:
            why = "; ".join(f"not every {whose} records its {' or '.join(what)}"
                            for whose, what in unrecorded.items() if what) + ": the items do not " \
                "decide it" if dated else "their dates do not decide it"
            return "unknown", f"{text}; {_pairs(name, other, possible, 'may fall in')} ({why})"
        return "false", f"{text}; no {name} falls in any"

    def outcomes(self, atom: m.Occurred) -> tuple[str, ...]:
        return "true", "false", "unknown"


def spanned(atom: m.Occurred) -> m.Occurred:
    """The history `during any` spans, as an atom of its own with the filter its items pass
    (`during any nha where setting is mcrpc`): what `filter_patterns` and `_item_tests` read."""
    anchor = atom.window.anchor
    assert anchor is not None and anchor.ref is not None
    return replace(atom, ref=anchor.ref, filters=atom.window.kept, grade=None)


def _item_tests(atom: m.Occurred, reader: Reader) -> tuple[tuple, tuple]:
    """The filter's clauses and the grade as tests of one item ("true", "false", "unknown"),
    and what an item leaves each open on, as the trail names what it does not record."""
    concept = reader.concepts[atom.ref.name]
    tests = [clause_test(clause, concept) for clause in atom.filters]
    opens = [clause_open(clause, concept) for clause in atom.filters]
    if atom.grade is not None:
        graded = against(atom.grade[0], float(atom.grade[1]))
        tests.append(lambda item: "unknown" if R.GRADE not in item else "true"
                     if graded(item[R.GRADE]) else "false")
        opens.append(lambda item: () if R.GRADE in item else ("grade",))
    return tuple(tests), tuple(opens)


def _pair_tests(atom: m.Occurred, reader: Reader) -> tuple[tuple, tuple]:
    """`_item_tests` of this history's items and of the spanned history's, once per atom (one
    constant: `spanned` makes its atom anew on each call, so the atom is what it is kept by)."""
    return _item_tests(atom, reader), _item_tests(spanned(atom), reader)


def day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _first(span: dict) -> str:
    """The first day of a span: its course's, the days it may be, or not recorded."""
    if span[R.START] < FIRST_DAY_NUMBER:
        return f"a day not recorded (up to {day(span[R.START_LATEST])})"
    if span[R.START] != span[R.START_LATEST]:  # the comma sets it apart from the span's end
        return f"a day from {day(span[R.START])} to {day(span[R.START_LATEST])},"
    return day(span[R.START])


def _last(span: dict, early: str, late: str) -> str:
    """The last day of a span, as its dates allow (a course with no date: any it may be)."""
    if span[early] >= ONGOING:
        return " on, as it goes on"
    if span[early] < FIRST_DAY_NUMBER:
        return " to a day not recorded" if span[late] >= ONGOING else \
            f" to a day not recorded, up to {day(span[late])}"
    if span[late] >= ONGOING:
        return f" to {day(span[early])} or later"
    if span[early] == span[late]:
        return f" to {day(span[early])}"
    return f" to a day from {day(span[early])} to {day(span[late])}"


#: How many pairs the trail names; beyond them, how many more (two long lists that overlap
#: throughout are pairs by the hundred thousand).
PAIRS_SHOWN = 10


def _pairs(name: str, other: str, pairs: list[tuple[int, int]], verb: str) -> str:
    """Which item falls in which span, by their places in the lists above."""
    shown = ", ".join(f"{name} {i + 1} {verb} the span of {other} {j + 1}"
                      for i, j in pairs[:PAIRS_SHOWN])
    more = len(pairs) - PAIRS_SHOWN
    return shown + (f", and {more} more pair{'s' if more > 1 else ''}" if more > 0 else "")
