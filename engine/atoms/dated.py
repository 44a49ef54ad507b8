"""A date concept's day against a window: `informed_consent before first_study_procedure`,
`informed_consent on or before screening`, `first_dose within 28 days after randomisation`.

A date is one day, so the window's tests (`history.window_reads`, an occurrence's start and end
both this day) are comparisons of two record fields in the network: the date's day and the
anchor's (or the bound's) day, `{"$lt": {"consent__late": {"$m": "first_procedure__early"}}}`.
Either day may be known only within days (`record.spread`: a date given to the month, an anchor
on another history's start or end): the date is decided where every such day agrees, and UNKNOWN
between.

`before` and `after` order two events that each happened at some time of their recorded day:
on one day their order is not recorded, so `consent before first_procedure` is UNKNOWN when both
are dated the same day; `on or before` counts that day. A date after the screening date counts
(a planned or recorded date concept may lie after it), so a window ending on the screening date
tests it too.
"""

from __future__ import annotations

from datetime import date

from engine import patterns as P
from engine import record as R
from engine.atoms.base import OPS, Build, Judged, Reader
from engine.atoms import history  # which dispatches a date's window here: read at call time
from engine.kleene import NEGATE, Kleene, absent, present
from engine.record import Patient
from protocol import model as m


def reads(window: m.Window) -> tuple[tuple[str, str, str, str], ...]:
    """The window's tests on one day: (comparison and the record field the day surely passes it
    on, comparison and the field it may pass it on). `before A` is surely met on a day before
    A's earliest day and may be met up to its latest (the same day: the order is not recorded);
    `on or before A` is surely met up to its earliest."""
    if window.kind not in m.ORDER:
        return tuple((op, sure, op, maybe) for op, _, sure, _, maybe in
                     history.window_reads(window, dated=True))
    anchor = R.anchor_field(window.anchor)
    low, high = R.spread(anchor) if window.anchor is not None and window.anchor.ranged \
        else (anchor, anchor)
    strict = window.kind == "order"
    if window.direction == "before":
        return (("<" if strict else "<=", low, "<=", high),)
    return ((">" if strict else ">=", high, ">=", low),)


def compile(atom: m.Occurred, build: Build) -> Kleene:
    """True when the day passes every test surely, false when it surely fails one or the anchor
    can never exist (no course of the therapy whose end it is), open when the day or the
    anchor's is missing, or the anchor's days do not decide it; every open case is UNKNOWN. A
    missing day is UNKNOWN whatever the anchor, as a history with nothing recorded is."""
    name, window = atom.ref.name, atom.window
    build.layout.concepts.add(name)
    history.ask_days(window, build.layout)
    tests = reads(window)
    fields = sorted({f for _, sure, _, maybe in tests for f in (sure, maybe)} - {R.SCREENING})
    early, late = R.spread(name)

    def day(op: str, surely: bool) -> str:
        """The end of the date's days a test reads: its latest is surely before a day when it
        is (and its earliest may be), its earliest surely after (the latest may be)."""
        return late if (op in ("<", "<=")) == surely else early

    dated, anchored = P.test("$ex", early, 1), present(*fields)
    void = P.FALSE if window.anchor is None or not window.anchor.occurrence else \
        P.all_of(dated, P.test("==", R.none_field(window.anchor.ref.name), 1))
    surely = P.all_of(*(P.test(op, day(op, True), {"$m": sure}) for op, sure, _, _ in tests))
    fails = P.any_of(*(P.test(NEGATE[op], day(op, False), {"$m": maybe})
                       for _, _, op, maybe in tests))
    unsure = P.all_of(P.any_of(*(P.test(NEGATE[op], day(op, True), {"$m": sure})
                                 for op, sure, _, _ in tests)),
                      *(P.test(op, day(op, False), {"$m": maybe}) for _, _, op, maybe in tests))
    needs = P.all_of(dated, anchored)
    lacking = P.FALSE if anchored == P.TRUE else P.all_of(dated, absent(anchored)) \
        if void == P.FALSE else P.all_of(dated, absent(anchored), P.test(
            "$nex", R.none_field(window.anchor.ref.name), 1))
    t = P.all_of(needs, surely)
    f = P.any_of(void, P.all_of(needs, fails))
    d = P.any_of(P.test("$nex", early, 1), lacking, P.all_of(needs, unsure))
    nd = P.any_of(void, P.all_of(needs, P.any_of(surely, fails)))
    return Kleene(((t, frozenset()),), ((f, frozenset()),), d, nd, frozenset())


def judge(atom: m.Occurred, reader: Reader, patient: Patient) -> Judged:
    """`informed_consent 2026-03-02; needs before first_study_procedure 2026-03-02: the same
    day, whose order is not recorded`; `randomisation 2026-03-20 (window from 2026-03-02 to
    2026-03-16; informed_consent 2026-03-02)`."""
    name, window, record = atom.ref.name, atom.window, patient.record
    early, late = R.spread(name)
    if early not in record:
        return reader.missing(patient, name)
    low, high = (date.fromordinal(day) for day in history.ordinals(patient, name))
    shown = f"{name} {history.days_text(patient, name, low, high)}"
    tests = reads(window)
    try:
        days = [(OPS[op](record[late if op in ("<", "<=") else early], record[sure]),
                 OPS[maybe_op](record[early if maybe_op in ("<", "<=") else late], record[maybe]))
                for op, sure, maybe_op, maybe in tests]
    except KeyError:  # the anchor's day is missing
        anchor = window.anchor
        assert anchor is not None and anchor.ref is not None
        if anchor.occurrence and record.get(R.none_field(anchor.ref.name)) == 1:
            return "false", f"{shown}; {anchor}: none, {anchor.ref.name} is recorded as none"
        reason = patient.unusable.get(R.anchor_field(anchor)) or patient.unusable.get(
            anchor.ref.name, "no fact given")
        return "unknown", f"{shown}; {anchor}: {reason}"
    held = "true" if all(sure for sure, _ in days) else \
        "false" if not all(maybe for _, maybe in days) else "unknown"
    return held, f"{shown}{_needed(window, reader, patient, held, low == high)}"


def _needed(window: m.Window, reader: Reader, patient: Patient, held: str,
            one_day: bool) -> str:
    """What the window asks of the day, with the anchor's day(s) for this patient; where both
    are one day, the same, and `before` or `after` is open, that their order is not recorded."""
    if window.kind in m.ORDER:
        anchor = R.anchor_field(window.anchor)
        low, high = (date.fromordinal(day) for day in history.ordinals(patient, anchor))
        said = f"; needs {'on or ' if window.kind == 'order_or_on' else ''}{window.direction} " \
            f"{window.anchor or 'screening'} {history.days_text(patient, anchor, low, high)}"
        if held == "unknown" and low == high and one_day:
            return f"{said}: the same day, whose order is not recorded"
        return said
    if window.kind in ("at_least", "more_than"):
        bound, anchor = history.started_words(window, patient)
        return f" (needs {bound.removeprefix('started ')}; {anchor})"
    return history.window_days(window, reader, patient)

