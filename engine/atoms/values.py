"""Conditions on one recorded value: a flag, judgment or definition on its own, a category's
value, whether a value is recorded at all."""

from __future__ import annotations

from engine import patterns as P
from engine import record as R
from engine.atoms.base import Atom, Build, Judged, Reader, status
from engine.kleene import Kleene, joined, scalar
from engine.record import Patient
from protocol import model as m

_DERIVED_STATUS = {"T": "true", "F": "false"}
#: How a definition's value reads in a part's evidence.
_DERIVED_WORDS = {"T": "true", "F": "false",
                  "U": "unknown: data it reads is missing or does not decide it",
                  "R": "open: awaiting an investigator's judgment"}


class Truth(Atom):
    """`childbearing_potential`, `investigator_deems_unsuitable`, `refractory_sle`: a flag (1/0), a
    judgment (open until attested: NEEDS_REVIEW, never UNKNOWN) or a definition, whose value the
    network derives as a fact of its own and joins (forward chaining)."""

    handles = m.Truth

    def compile(self, atom: m.Truth, build: Build) -> Kleene:
        name = atom.ref.name
        if build.protocol.definition(name) is not None:
            return joined(name)
        judgment = build.concepts[name].kind is m.Kind.JUDGMENT
        return scalar(P.test("==", name, 1), P.test("==", name, 0), name, judgment)

    def judge(self, atom: m.Truth, reader: Reader, patient: Patient) -> Judged:
        name = atom.ref.name
        if name in reader.derived:
            value = reader.derived[name][0]
            return _DERIVED_STATUS.get(value, "unknown"), \
                f"definition {name} is {_DERIVED_WORDS[value]}"
        value = patient.record.get(name)
        if value is None:
            if reader.concepts[name].kind is m.Kind.JUDGMENT:
                return "unknown", f"{name}: not yet attested by an investigator"
            return reader.missing(patient, name)
        return ("true" if value == 1 else "false"), reader.shown(patient, name)


class Is(Atom):
    """`ecg is "no obvious abnormality"`, `disease_activity is one of {moderate, severe}`: the
    values compared by their declared names, so a fact's synonym matches its value."""

    handles = m.Is

    def compile(self, atom: m.Is, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        values = [concept.canonical(v.name) or v.name for v in atom.values]
        t = P.any_of(*(P.test("==", concept.name, v) for v in values))
        f = P.all_of(*(P.test("!=", concept.name, v) for v in values))
        k = scalar(t, f, concept.name)
        return k.negated() if atom.negated else k

    def judge(self, atom: m.Is, reader: Reader, patient: Patient) -> Judged:
        name, wanted = reader.constant(atom, self.constants)
        value = patient.record.get(name)
        if value is None:
            return reader.missing(patient, name)
        return status((value in wanted) != atom.negated), reader.shown(patient, name)

    @staticmethod
    def constants(atom: m.Is, reader: Reader) -> tuple[str, frozenset[str]]:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        concept = reader.concepts[atom.ref.name]
        return concept.name, frozenset(concept.canonical(v.name) or v.name for v in atom.values)


class Recorded(Atom):
    """`crcl_measured is recorded`: true where the record holds a usable value of the concept
    (its number or the bounds of one, a category, a flag, a day), false where it holds none
    (missing, stale, unreadable): never open, so `A if crcl_measured is recorded else B` takes
    the measured value where there is one and the formula elsewhere ("creatinine clearance
    measured, or calculated by Cockcroft-Gault")."""

    handles = m.Recorded

    def compile(self, atom: m.Recorded, build: Build) -> Kleene:
        fields = fields_of(build.concepts[atom.ref.name])
        given = P.any_of(*(P.test("$ex", field, 1) for field in fields))
        lacking = P.all_of(*(P.test("$nex", field, 1) for field in fields))
        k = Kleene(((given, frozenset()),), ((lacking, frozenset()),), P.FALSE, P.TRUE,
                   frozenset())
        return k.negated() if atom.negated else k

    def judge(self, atom: m.Recorded, reader: Reader, patient: Patient) -> Judged:
        name = atom.ref.name
        fields = fields_of(reader.concepts[name])
        if any(field in patient.record for field in fields):
            return status(not atom.negated), f"{reader.shown(patient, name)}: recorded"
        reason = patient.unusable.get(name, "no fact given")
        return status(atom.negated), f"{name}: not recorded ({reason})"

    def outcomes(self, atom: m.Recorded) -> tuple[str, ...]:
        return "true", "false"


def fields_of(concept: m.Concept) -> tuple[str, ...]:
    """The record fields that hold a value of `concept`: its own, or the lower bound of a value
    known only within bounds; a date's earliest day (`R.spread`)."""
    if concept.kind is m.Kind.DATE:
        return (R.spread(concept.name)[0],)
    if concept.kind in m.MEASURED:
        return (concept.name, R.bounds(concept.name)[0])
    return (concept.name,)
