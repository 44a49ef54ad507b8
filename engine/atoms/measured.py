"""Measured values against numbers: a threshold in the concept's unit, or the lab's reference
range."""

from __future__ import annotations

from decimal import Decimal

from engine import kleene
from engine import patterns as P
from engine import record as R
from engine.atoms import derived
from engine.atoms.base import (
    WITHIN_BOUNDS,
    Atom,
    Build,
    Judged,
    Reader,
    compared,
    exact,
    threshold_of,
)
from engine.kleene import Kleene, conjunction, scalar
from engine.record import Patient, plain_number
from protocol import model as m
from protocol.units import quantize


class Compare(Atom):
    """`egfr >= 30 mL/min/1.73m2`: the threshold converted to the concept's unit at compile time,
    by the rounding rule the facts go through, so a value at the threshold on paper is at it here.
    A derived value (`crcl >= 60 mL/min`) is compared on its node's fact (atoms/derived.py)."""

    handles = m.Compare

    def compile(self, atom: m.Compare, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        if concept.kind is m.Kind.DERIVED:
            return derived.compile_compare(atom, concept)
        threshold = float(threshold_of(concept, atom.threshold))
        return scalar(*kleene.compared(concept.name, atom.op, threshold), concept.name)

    def judge(self, atom: m.Compare, reader: Reader, patient: Patient) -> Judged:
        if reader.concepts[atom.ref.name].kind is m.Kind.DERIVED:
            return derived.judge_compare(atom, reader, patient)

        name, threshold, required = reader.constant(atom, self.constants)
        held = compared(patient.record, name, atom.op, threshold)
        if held is None:
            return reader.missing(patient, name)
        return held, _bounded(f"{reader.shown(patient, name)}; {required}", held)

    @staticmethod
    def constants(atom: m.Compare, reader: Reader) -> tuple[str, float, str]:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        concept = reader.concepts[atom.ref.name]
        threshold = threshold_of(concept, atom.threshold)
        return concept.name, float(threshold), f"needs {atom.op} {_written(concept, threshold)}"


class Confirmed(Atom):
    """`fasting_glucose > 240 mg/dL confirmed on another day` (or a range, or a multiple of the
    reference limit): the comparison's tests on the latest day's value and on the value of the
    day before it that has a result (`record.previous_field`, read by the normaliser as the
    latest is, within the concept's validity), all joined in strong Kleene logic: every one
    holds, true; one fails, false (the latest does not hold, or the earlier one does not confirm
    it); else UNKNOWN, saying which is missing."""

    handles = m.Confirmed

    def compile(self, atom: m.Confirmed, build: Build) -> Kleene:
        build.layout.confirmed.add(atom.ref.name)
        tests = _tests(atom.measured, build.concepts[atom.ref.name])
        return conjunction([scalar(*kleene.compared(field, op, value), field)
                            for day in (False, True) for field, op, value in _on(tests, day)])

    def judge(self, atom: m.Confirmed, reader: Reader, patient: Patient) -> Judged:
        measured = atom.measured
        latest, detail = _MEASURED[type(measured)].judge(measured, reader, patient)
        tests = reader.constant(atom, _confirmed_tests)
        record = patient.record
        said = [compared(record, field, op, value) for field, op, value in _on(tests, True)]
        if None in said:
            previous = R.previous_field(atom.ref.name)
            reason = patient.unusable.get(previous, f"no earlier {atom.ref.name}")
            return "false" if latest == "false" else "unknown", \
                f"{detail}: {latest} on the latest day; on an earlier day: {reason}"
        earlier = "false" if "false" in said else "true" if all(h == "true" for h in said) \
            else "unknown"
        held = "false" if "false" in (latest, earlier) else \
            "true" if latest == earlier == "true" else "unknown"
        return held, f"{detail}: {latest} on the latest day; on an earlier day: {earlier}" + \
            (f" ({WITHIN_BOUNDS})" if earlier == "unknown" else "")


def _confirmed_tests(atom: m.Confirmed, reader: Reader) -> tuple[tuple[str, str, float], ...]:
    """`_tests` of a confirmed comparison, once per atom (`Reader.constant`)."""
    return _tests(atom.measured, reader.concepts[atom.ref.name])


def _tests(measured: m.Compare | m.CompareReference | m.InRange,
           concept: m.Concept) -> tuple[tuple[str, str, float], ...]:
    """A comparison of a measured value as the record fields and thresholds it compares: one
    test for a threshold or a multiple of a reference limit, two for a range."""
    if isinstance(measured, m.CompareReference):
        field = R.reference_field(concept.name, measured.bound)
        return ((field, measured.op, float(quantize(measured.factor))),)
    if isinstance(measured, m.InRange):
        low, high = (float(threshold_of(concept, q)) for q in (measured.low, measured.high))
        return ((concept.name, ">=", low), (concept.name, "<=", high))
    return ((concept.name, measured.op, float(threshold_of(concept, measured.threshold))),)


def _on(tests: tuple[tuple[str, str, float], ...], earlier: bool
        ) -> tuple[tuple[str, str, float], ...]:
    """The tests on the latest day's fields, or on the earlier day's (`record.previous_field`)."""
    return tuple((R.previous_field(field) if earlier else field, op, value)
                 for field, op, value in tests)


class CompareReference(Atom):
    """`ast <= 3.0 x ULN`, `hbv_dna > upper reference`: the record holds the value as a multiple of
    the laboratory's own limit, so the network compares that ratio with the factor."""

    handles = m.CompareReference

    def compile(self, atom: m.CompareReference, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        if concept.kind is m.Kind.DERIVED:  # against the range the protocol declares
            return derived.compile_compare(atom.as_compare(concept), concept)
        name = R.reference_field(atom.ref.name, atom.bound)
        return scalar(*kleene.compared(name, atom.op, float(quantize(atom.factor))), name)

    def judge(self, atom: m.CompareReference, reader: Reader, patient: Patient) -> Judged:
        if reader.concepts[atom.ref.name].kind is m.Kind.DERIVED:
            limit = "upper" if atom.bound == "upper" else "lower"
            (against_limit,) = reader.constant(atom, _declared)
            held, detail = derived.judge_compare(against_limit, reader, patient)
            if "; needs " not in detail:  # no number to compare: nothing to say of the limit
                return held, detail
            return held, f"{detail} ({atom.factor} x its {limit} reference)" \
                if atom.factor != 1 else f"{detail} (its {limit} reference)"
        name, field, factor, limit, required = reader.constant(atom, self.constants)
        record = patient.record
        held = compared(record, field, atom.op, factor)
        if held is None:
            if name in record or R.bounds(name)[0] in record:
                return "unknown", f"{reader.shown(patient, name)}: no {atom.bound} reference given"
            return reader.missing(patient, name)
        ratio = f" = {exact(record[field])} x {limit}" if field in record else ""
        return held, _bounded(f"{reader.shown(patient, name)}{ratio}; {required}", held)

    @staticmethod
    def constants(atom: m.CompareReference, reader: Reader) -> tuple:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        limit = "ULN" if atom.bound == "upper" else "LLN"
        return atom.ref.name, R.reference_field(atom.ref.name, atom.bound), \
            float(atom.factor), limit, f"needs {atom.op} {atom.factor} x {limit}"


def _declared(atom: m.CompareReference, reader: Reader) -> tuple[m.Compare]:
    """A derived value's comparison with its declared limit, made once per part: the trail
    keeps what it works out of a part by the part's identity."""
    return (atom.as_compare(reader.concepts[atom.ref.name]),)


class InRange(Atom):
    """`age 12 to 17 years`, `weight 40 to 150 kg`: both bounds inclusive, each converted to the
    concept's unit as a threshold is; true inside, false below the low or above the high bound.
    A derived value's range (`bmi 18.5 to 30 kg/m2`) is two comparisons on its node's fact."""

    handles = m.InRange

    def compile(self, atom: m.InRange, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        if concept.kind is m.Kind.DERIVED:
            return derived.compile_compare(atom, concept)
        low, high = (float(threshold_of(concept, q)) for q in (atom.low, atom.high))
        (above, under), (below, over) = kleene.compared(concept.name, ">=", low), \
            kleene.compared(concept.name, "<=", high)
        return scalar(P.all_of(above, below), P.any_of(under, over), concept.name)

    def judge(self, atom: m.InRange, reader: Reader, patient: Patient) -> Judged:
        if reader.concepts[atom.ref.name].kind is m.Kind.DERIVED:
            return derived.judge_compare(atom, reader, patient)
        name, low, high, required = reader.constant(atom, self.constants)
        above, below = (compared(patient.record, name, op, bound)
                        for op, bound in ((">=", low), ("<=", high)))
        if above is None:
            return reader.missing(patient, name)
        held = "false" if "false" in (above, below) else "true" if above == below == "true" \
            else "unknown"
        return held, _bounded(f"{reader.shown(patient, name)}; {required}", held)

    @staticmethod
    def constants(atom: m.InRange, reader: Reader) -> tuple:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        concept = reader.concepts[atom.ref.name]
        low, high = (threshold_of(concept, q) for q in (atom.low, atom.high))
        return concept.name, float(low), float(high), \
            f"needs {_written(concept, low, unit=False)} to {_written(concept, high)}"


def _written(concept: m.Concept, threshold: Decimal, unit: bool = True) -> str:
    """A threshold as the trail says it: in the concept's unit (`30 mL/min`), a plain number,
    or a titre's dilution (`1:80`)."""
    if concept.kind is m.Kind.TITRE:
        return R.dilution(threshold)
    if unit and concept.unit and concept.kind not in m.UNITLESS:
        return f"{plain_number(threshold)} {concept.unit}"
    return plain_number(threshold)


#: The comparisons a confirmation wraps, each judged on the latest day as it is alone.
_MEASURED: dict[type, Atom] = {m.Compare: Compare(), m.CompareReference: CompareReference(),
                               m.InRange: InRange()}


def _bounded(detail: str, held: str) -> str:
    """A detail, saying so when a value known only within bounds leaves the part open."""
    return f"{detail} ({WITHIN_BOUNDS})" if held == "unknown" else detail
