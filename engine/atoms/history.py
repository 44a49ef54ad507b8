"""Conditions on a history: an event's occurrences, a medication's courses.

A list is true when some item says yes, false when the patient is recorded as having none or every
item says no, and UNKNOWN when nothing is recorded: missing data is never read as absent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

from engine import patterns as P
from engine import record as R
from engine.atoms.base import OPS, Atom, Build, Judged, Reader, against, status
from engine.facts import Patient, plain_number
from engine.kleene import NEGATE, Kleene, listed, scalar
from protocol import model as m
from protocol.units import convert


class Occurred(Atom):
    """`car_t_therapy ever`, `active_tuberculosis at screening`, `gvhd with grade >= 2 within 2 weeks
    before screening`: an occurrence overlapping the window (its last day on or after the window's
    first day; facts after screening are set aside by the normaliser)."""

    handles = m.Occurred

    def compile(self, atom: m.Occurred, build: Build) -> Kleene:
        window = atom.window
        if window.kind == "ever":
            yes, no = P.test(">=", R.ITEM[R.START], 0), P.FALSE
        else:
            bound = R.SCREENING
            if window.kind == "within":
                assert window.duration is not None
                bound = build.layout.window(window.duration)
            end = R.ITEM[R.END]
            yes, no = P.test(">=", end, {"$m": bound}), P.test("<", end, {"$m": bound})
        if atom.grade is not None:
            op, grade = atom.grade
            grade_yes = P.test(op, R.ITEM[R.GRADE], float(grade))
            if window.kind != "ever":
                return build.hidden(atom, P.all_of(yes, grade_yes), P.FALSE, P.TRUE)
            yes, no = P.all_of(yes, grade_yes), P.test(NEGATE[op], R.ITEM[R.GRADE], float(grade))
        return listed(atom.ref.name, yes, no)

    def judge(self, atom: m.Occurred, reader: Reader, patient: Patient) -> Judged:
        def constants(atom: m.Occurred) -> tuple[str, str | None, Callable | None]:
            """The list, the record field of the window's first day ('' for the screening day
            itself, None for ever) and the grade test."""
            window = atom.window
            field = None if window.kind == "ever" else "" if window.kind == "at_screening" else \
                R.window_field(window.duration)
            graded = None if atom.grade is None else against(atom.grade[0], float(atom.grade[1]))
            return atom.ref.name, field, graded

        name, field, graded = reader.constant(atom, constants)
        items, text = reader.items(name, patient)
        if items is None:
            return "unknown", text
        first = None if field is None else patient.record[field] if field else \
            patient.screening.toordinal()
        held = any((first is None or i[R.END] >= first) and (graded is None or graded(i[R.GRADE]))
                   for i in items)
        return status(held), text + ("" if first is None else reader.window(patient, first))


class Includes(Atom):
    """`antimalarial includes hydroxychloroquine`: some course of this drug (by its declared name)."""

    handles = m.Includes

    def compile(self, atom: m.Includes, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        drug = concept.canonical(atom.drug.name) or atom.drug.name
        drug_field = R.ITEM[R.DRUG]
        yes, no = P.test("==", drug_field, drug), P.test("!=", drug_field, drug)
        return listed(concept.name, yes, no)

    def judge(self, atom: m.Includes, reader: Reader, patient: Patient) -> Judged:
        def constants(atom: m.Includes) -> tuple[str, str]:
            concept = reader.concepts[atom.ref.name]
            return concept.name, concept.canonical(atom.drug.name) or atom.drug.name

        name, drug = reader.constant(atom, constants)
        items, text = reader.items(name, patient)
        if items is None:
            return "unknown", text
        return status(any(i[R.DRUG] == drug for i in items)), text


class CountedIncludes(Atom):
    """`immunosuppressant includes at least 2 of {...}`: compared with the number of distinct drugs
    of the set on the patient's (complete) list, which the record carries; one test instead of the
    C(n, k) conjunctions `at least k of` would expand into."""

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
        name = build.layout.count(concept.name, drugs)
        return scalar(P.test(">=", name, node.count), P.test("<", name, node.count), name)

    def judge(self, node: m.AtLeast, reader: Reader, patient: Patient) -> Judged:
        def constants(node: m.AtLeast) -> tuple[str, frozenset[str], str]:
            concept, drugs = self.drugs(node, reader.concepts)
            return concept.name, frozenset(drugs), R.count_field(concept.name, drugs)

        name, drugs, field = reader.constant(node, constants)
        count = patient.record.get(field)
        items, text = reader.items(name, patient)
        if count is None or items is None:
            return "unknown", text
        taken = sorted({i[R.DRUG] for i in items} & drugs)
        listed_ = f" ({', '.join(taken)})" if taken else ""
        return status(count >= node.count), (f"{count} of the set{listed_}; needs at least "
                                             f"{node.count}; {text}")


class Course(Atom):
    """`glucocorticoid dose >= 1 mg/kg/d for at least 3 months`: one course meets both the daily
    dose (through the equivalence table and the patient's weight) and the length.

    Its "no" would test two fields of an item at once, which durable_rules gets wrong inside
    `$iall`, so it is a hidden node of its own (see `Build.hidden`). A course whose dose could not be
    worked out is undecided: it can neither prove nor refute the condition unless too short anyway.
    """

    handles = m.Course

    def compile(self, atom: m.Course, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        assert concept.dosed_in is not None
        if concept.weight is not None:
            build.layout.concepts.add(concept.weight.name)  # a dose per kg reads the weight
        dose = float(dose_threshold_of(concept, atom))
        long_enough, too_short = P.TRUE, P.FALSE
        if atom.duration is not None:
            key, amount = _length(atom.duration)
            long_enough = P.test(">=", R.ITEM[key], amount)
            too_short = P.test("<", R.ITEM[key], amount)
        yes = P.all_of(P.test(atom.op, R.ITEM[R.DOSE], dose), long_enough)
        undosed = R.undosed_field(concept.name)
        if long_enough == P.TRUE:
            undecided, decided = P.test("$ex", undosed, 1), P.test("$nex", undosed, 1)
        else:
            undecided = P.raw({"$iany": {undosed: P.to_json(long_enough)}})
            decided = P.any_of(P.test("$nex", undosed, 1),
                               P.raw({"$iall": {undosed: P.to_json(too_short)}}))
        return build.hidden(atom, yes, undecided, decided)

    def judge(self, atom: m.Course, reader: Reader, patient: Patient) -> Judged:
        def constants(atom: m.Course) -> tuple[str, float, str]:
            concept = reader.concepts[atom.ref.name]
            threshold = float(dose_threshold_of(concept, atom))
            needs = f"needs {atom.op} {plain_number(Decimal(repr(threshold)))} {concept.dosed_in}"
            needs += f" for at least {atom.duration}" if atom.duration else ""
            return concept.name, threshold, needs

        name, threshold, needs = reader.constant(atom, constants)
        items, text = reader.items(name, patient)
        if items is None:
            return "unknown", text
        statuses = [_course_status(atom, item, threshold) for item in items]
        held = "true" if True in statuses else "false" if all(s is False for s in statuses) \
            else "unknown"
        return held, f"{text}; {needs}"


def dose_threshold_of(concept: m.Concept, atom: m.Course) -> Decimal:
    """A course's dose threshold in the unit the medication is dosed in."""
    assert concept.dosed_in is not None
    return convert(atom.dose.value, atom.dose.unit or concept.dosed_in, concept.dosed_in)


def _length(duration: m.Duration) -> tuple[str, int]:
    """The item key and amount a course's length is compared in: completed calendar months for
    months and years, days for days and weeks."""
    if duration.unit in ("months", "years"):
        return R.MONTHS, duration.amount * (12 if duration.unit == "years" else 1)
    return R.DAYS, duration.amount * (7 if duration.unit == "weeks" else 1)


def _course_status(atom: m.Course, item: dict, threshold: float) -> bool | None:
    if atom.duration is not None:
        key, amount = _length(atom.duration)
        if item[key] < amount:
            return False
    return None if R.DOSE not in item else OPS[atom.op](item[R.DOSE], threshold)
