"""The dose a patient takes on a day: `glucocorticoid dose at screening <= 10 mg/d`,
`glucocorticoid dose at first_dose < 7.5 mg/d`.

The normaliser sums, in the unit the medication is dosed in (through its equivalence table and the
patient's weight, as for `dose >= ...`), the daily doses of the courses that cover the anchor day:
a number the network compares, like any measured value. Courses that may or may not cover the day
(an end known only to the month) make it a value known within bounds, and a course without a dose
leaves it unbounded above, so the network decides it only where every possible total agrees.
No course on that day is a dose of 0; nothing recorded, or no anchor day, is UNKNOWN.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine import kleene
from engine import record as R
from engine.atoms.base import WITHIN_BOUNDS, Atom, Build, Judged, Reader, compared, exact
from engine.atoms.history import dose_threshold_of_quantity
from engine.facts import Patient, plain_number
from engine.kleene import Kleene, scalar
from protocol import model as m


class CurrentDose(Atom):
    """`X dose at <anchor> <op> <dose>`; see the module's docstring."""

    handles = m.CurrentDose

    def compile(self, atom: m.CurrentDose, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        if concept.weight is not None:
            build.layout.concepts.add(concept.weight.name)  # a dose per kg reads the weight
        field = build.layout.dose(concept.name, atom.anchor)
        threshold = float(dose_threshold_of_quantity(concept, atom.dose))
        return scalar(*kleene.compared(field, atom.op, threshold), field)

    def judge(self, atom: m.CurrentDose, reader: Reader, patient: Patient) -> Judged:
        def constants(atom: m.CurrentDose) -> tuple:
            concept = reader.concepts[atom.ref.name]
            threshold = dose_threshold_of_quantity(concept, atom.dose)
            field = R.dose_field(concept.name, R.anchor_field(atom.anchor))
            return concept.name, field, float(threshold), concept.dosed_in, \
                f"needs {atom.op} {plain_number(threshold)} {concept.dosed_in}"

        name, field, threshold, unit, needs = reader.constant(atom, constants)
        items, text = reader.items(name, patient)
        record = patient.record
        held = compared(record, field, atom.op, threshold)
        if held is None:
            reason = patient.unusable.get(field)
            return "unknown", f"{text}; {reason}" if reason and items is not None else text
        anchor = R.anchor_field(atom.anchor)
        day = date.fromordinal(record[anchor])
        low, high, _, _ = R.bounds(field)
        if field in record:
            value = f"{exact(record[field])} {unit}"
        elif high in record:
            value = f"between {exact(record[low])} and {exact(record[high])} {unit}"
        else:
            value = f"at least {exact(record[low])} {unit} (a course has no dose)"
        detail = f"daily dose on {atom.anchor or 'screening'} {day}: {value}; {text}; {needs}"
        return held, detail + (f" ({WITHIN_BOUNDS})" if held == "unknown" else "")


__all__ = ["CurrentDose", "Decimal"]
