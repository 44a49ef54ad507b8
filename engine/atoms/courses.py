"""Conditions on a medication's courses by their dose and length: one course's (`glucocorticoid
dose >= 1 mg/kg/d for at least 3 months`), a run of consecutive courses' (`metformin for at least
12 weeks`), and a run through the days up to a day (`methotrexate for at least 12 weeks before
screening`); and the two pieces filters and doses read too, a dose in the unit a medication is
dosed in and the item keys a course's length is compared in.

Apart from `engine/atoms/history.py`, whose windows over occurrences they do not read.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine import patterns as P
from engine import record as R
from engine.atoms.base import OPS, Atom, Build, Judged, Reader
from engine.dates import FIRST_DAY_NUMBER
from engine.kleene import Kleene, lacking, listed, present
from engine.record import Patient, length_text, plain_number
from protocol import model as m
from protocol.units import convert


class Course(Atom):
    """`glucocorticoid dose >= 1 mg/kg/d for at least 3 months`: one course meets both the daily
    dose (through the equivalence table and the patient's weight) and the length.

    Its "no" would test two fields of an item at once, which durable_rules gets wrong inside
    `$iall`, so it is a hidden node of its own (see `Build.hidden`). A course whose dose could not
    be worked out is undecided: it can neither prove nor refute the condition unless too short
    anyway.
    """

    handles = m.Course

    def compile(self, atom: m.Course, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        assert concept.dosed_in is not None
        if concept.weight is not None:
            build.layout.concepts.add(concept.weight.name)  # a dose per kg reads the weight
        dose = float(dose_threshold_of(concept, atom.dose))
        dosed = P.test(atom.op, R.ITEM[R.DOSE], dose)
        undosed = R.undosed_field(concept.name)
        if atom.duration is None:
            undecided, decided = P.test("$ex", undosed, 1), P.test("$nex", undosed, 1)
            return build.hidden(atom, dosed, undecided, decided)
        (shortest, longest), amount = course_length(atom.duration)
        maybe_long = P.test(">=", R.ITEM[longest], amount)
        undecided = P.raw({"$iany": {undosed: P.to_json(maybe_long)}})
        decided = P.any_of(P.test("$nex", undosed, 1), P.raw({"$iall": {undosed: P.to_json(
            P.test("<", R.ITEM[longest], amount))}}))
        return build.hidden(atom, P.all_of(dosed, P.test(">=", R.ITEM[shortest], amount)),
                            undecided, decided, possible=P.all_of(dosed, maybe_long))

    def judge(self, atom: m.Course, reader: Reader, patient: Patient) -> Judged:
        name, threshold, needs = reader.constant(atom, self.constants)
        items, text = reader.items(name, patient)
        if items is None:
            return "unknown", text
        statuses = [_course_status(atom, item, threshold) for item in items]
        held = "true" if "true" in statuses else \
            "false" if all(s == "false" for s in statuses) else "unknown"
        return held, f"{text}; {needs}"

    def listed(self, atom: m.Course) -> tuple[str, ...]:
        return (atom.ref.name,)

    @staticmethod
    def constants(atom: m.Course, reader: Reader) -> tuple[str, float, str]:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        concept = reader.concepts[atom.ref.name]
        threshold = float(dose_threshold_of(concept, atom.dose))
        needs = f"needs {atom.op} {plain_number(Decimal(repr(threshold)))} {concept.dosed_in}"
        needs += f" for at least {atom.duration}" if atom.duration else ""
        return concept.name, threshold, needs


class Continuous(Atom):
    """`metformin for at least 12 weeks`: some run of consecutive courses (the next starting on or
    before the day after the last ends, whatever the drug of the list or its dose) lasted that
    long up to screening. The normaliser measures each course's run from its dates (`_runs` in
    `engine/facts.py`, the least and the most it can be); the network compares the lengths: true
    when some run surely lasted long enough, false when none can have, UNKNOWN between."""

    handles = m.Continuous

    def compile(self, atom: m.Continuous, build: Build) -> Kleene:
        if atom.before:
            return self._through(atom, build)
        build.layout.runs.add(atom.ref.name)
        (shortest, longest), amount = course_length(atom.duration)
        shortest, longest = R.ITEM[R.RUN[shortest]], R.ITEM[R.RUN[longest]]
        return listed(atom.ref.name, P.test(">=", shortest, amount), P.test("<", longest, amount),
                      maybe=P.test(">=", longest, amount), whole=atom.ref.name in build.wholes)

    @staticmethod
    def _through(atom: m.Continuous, build: Build) -> Kleene:
        """`X for at least D before A`: with B = A - D (calendar-aware, as windows), one run of
        consecutive courses covers every day from B to A: its first day on or before B, its last
        on or after A (or going on). A hidden node over the courses, each carrying its run's
        days (`Layout.run_days`): true where a run of the days the courses surely cover does,
        false where no run of the days they may cover can, as `dose stable` reads one course."""
        build.layout.run_days.add(atom.ref.name)
        anchor, bound, undecided, decided, needs = span_before(atom, build)
        a, b = {"$m": anchor}, {"$m": bound}

        def covers(first: str, last: str) -> P.Pattern:
            return P.all_of(P.test("<=", R.ITEM[first], b), P.test(">=", R.ITEM[last], a))

        return build.hidden(atom, covers(R.RUN_FIRST, R.RUN_LAST), undecided, decided, needs,
                            covers(R.RUN_FIRST_MAY, R.RUN_LAST_MAY))

    def judge(self, atom: m.Continuous, reader: Reader, patient: Patient) -> Judged:
        items, text = reader.items(atom.ref.name, patient)
        if atom.before and items is not None:
            return self._judge_through(atom, reader, patient, items, text)
        if not items:
            return "unknown" if items is None else "false", text
        (shortest, longest), amount = course_length(atom.duration)
        least = max(item[R.RUN[shortest]] for item in items)
        most = max(item[R.RUN[longest]] for item in items)
        unit = atom.duration.unit if atom.duration.unit in ("months", "days") else \
            {"years": "months", "weeks": "days"}[atom.duration.unit]
        held = "true" if least >= amount else "false" if most < amount else "unknown"
        run = length_text(least, most, any(item[R.START] < FIRST_DAY_NUMBER for item in items))
        unit = unit[:-1] if run == "1" else unit
        return held, f"{text}; the longest run of consecutive courses: {run} completed {unit} " \
                     f"by screening; needs at least {atom.duration}"  # a run of 2020 too

    @staticmethod
    def _judge_through(atom: m.Continuous, reader: Reader, patient: Patient, items: list[dict],
                       text: str) -> Judged:
        days, judged = days_before(atom, patient, items, text)
        if days is None:
            assert judged is not None
            return judged
        a, b = days
        record = patient.record
        held = "true" if any(i[R.RUN_FIRST] <= b and i[R.RUN_LAST] >= a for i in items) else \
            "unknown" if any(i[R.RUN_FIRST_MAY] <= b and i[R.RUN_LAST_MAY] >= a for i in items) \
            else "false"
        if held == "false" and R.open_list(record, reader.wholes, atom.ref.name):
            held, text = "unknown", f"{text}; {patient.unusable[atom.ref.name]}"
        words = {"true": "a run of consecutive courses covers", "unknown": "a run of "
                 "consecutive courses may cover", "false": "no run of consecutive courses covers"}
        return held, f"{text}; {words[held]} {date.fromordinal(b)} to {date.fromordinal(a)}"

    def listed(self, atom: m.Continuous) -> tuple[str, ...]:
        return (atom.ref.name,)


def span_before(atom: m.Continuous | m.StableDose, build: Build
                ) -> tuple[str, str, P.Pattern, P.Pattern, P.Pattern]:
    """The days from B = A - D to the anchor A, as a hidden node over the courses reads them:
    the record fields of A and B, when the list is undecided and when decided, and what the node
    needs beside the list (both days, unless A is the screening date). A run through the days
    and a stable dose read them alike."""
    name = atom.ref.name
    anchor = build.layout.anchor(atom.anchor)
    bound = build.layout.bound(anchor, atom.duration, "before")
    needs = P.TRUE if anchor == R.SCREENING else present(anchor, bound)
    decided = P.TRUE if needs == P.TRUE else P.any_of(P.test("==", R.none_field(name), 1), needs)
    return anchor, bound, lacking(name, needs, P.FALSE), decided, needs


def days_before(atom: m.Continuous | m.StableDose, patient: Patient, items: list[dict],
                text: str) -> tuple[tuple[int, int] | None, Judged | None]:
    """A's and B's day numbers for the trail; or, where a course is recorded and A has no day,
    UNKNOWN saying why, and where none is (recorded as none), false."""
    record = patient.record
    anchor = R.anchor_field(atom.anchor)
    bound = R.bound_field(anchor, atom.duration, "before")
    if items and (anchor not in record or bound not in record):
        return None, ("unknown",
                      f"{text}; {atom.anchor}: {patient.unusable.get(anchor, 'no fact given')}")
    if not items:
        return None, ("false", text)
    return (record[anchor], record[bound]), None


def dose_threshold_of(concept: m.Concept, dose: m.Quantity) -> Decimal:
    """A dose as written, in the unit the medication is dosed in."""
    assert concept.dosed_in is not None
    return convert(dose.value, dose.unit or concept.dosed_in, concept.dosed_in)


def course_length(duration: m.Duration) -> tuple[tuple[str, str], int]:
    """The item keys a course's length is compared in (at least, at most) and the amount:
    completed calendar months for months and years, days for days and weeks."""
    if duration.unit in ("months", "years"):
        return (R.MONTHS, R.MONTHS_MOST), duration.amount * (12 if duration.unit == "years" else 1)
    return (R.DAYS, R.DAYS_MOST), duration.amount * (7 if duration.unit == "weeks" else 1)


def _course_status(atom: m.Course, item: dict, threshold: float) -> str:
    """Whether one course surely meets, may meet, or cannot meet dose and length."""
    dose = None if R.DOSE not in item else OPS[atom.op](item[R.DOSE], threshold)
    if dose is False:
        return "false"
    if atom.duration is not None:
        (shortest, longest), amount = course_length(atom.duration)
        if item[longest] < amount:
            return "false"
        if item[shortest] < amount:
            return "unknown"
    return "true" if dose else "unknown"
