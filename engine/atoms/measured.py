"""Measured values against numbers: a threshold in the concept's unit, or the lab's reference range."""

from __future__ import annotations

from typing import Callable

from engine import patterns as P
from engine import record as R
from engine.atoms import derived
from engine.atoms.base import Atom, Build, Judged, Reader, against, exact, status, threshold_of
from engine.facts import Patient, plain_number
from engine.kleene import NEGATE, Kleene, scalar
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
        name = concept.name
        return scalar(P.test(atom.op, name, threshold), P.test(NEGATE[atom.op], name, threshold),
                      name)

    def judge(self, atom: m.Compare, reader: Reader, patient: Patient) -> Judged:
        if reader.concepts[atom.ref.name].kind is m.Kind.DERIVED:
            return derived.judge_compare(atom, reader, patient)

        def constants(atom: m.Compare) -> tuple[str, Callable[[float], bool], str]:
            concept = reader.concepts[atom.ref.name]
            threshold = threshold_of(concept, atom.threshold)
            unit = f" {concept.unit}" if concept.unit and concept.kind is not m.Kind.SCORE else ""
            return concept.name, against(atom.op, float(threshold)), \
                f"needs {atom.op} {plain_number(threshold)}{unit}"

        name, holds, required = reader.constant(atom, constants)
        value = patient.record.get(name)
        if value is None:
            return reader.missing(patient, name)
        return status(holds(value)), f"{reader.shown(patient, name)}; {required}"


class CompareReference(Atom):
    """`ast <= 3.0 x ULN`, `hbv_dna > upper reference`: the record holds the value as a multiple of
    the laboratory's own limit, so the network compares that ratio with the factor."""

    handles = m.CompareReference

    def compile(self, atom: m.CompareReference, build: Build) -> Kleene:
        name = R.reference_field(atom.ref.name, atom.bound)
        factor = float(quantize(atom.factor))
        return scalar(P.test(atom.op, name, factor), P.test(NEGATE[atom.op], name, factor), name)

    def judge(self, atom: m.CompareReference, reader: Reader, patient: Patient) -> Judged:
        def constants(atom: m.CompareReference) -> tuple:
            limit = "ULN" if atom.bound == "upper" else "LLN"
            return atom.ref.name, R.reference_field(atom.ref.name, atom.bound), \
                against(atom.op, float(atom.factor)), limit, f"needs {atom.op} {atom.factor} x {limit}"

        name, field, holds, limit, required = reader.constant(atom, constants)
        ratio = patient.record.get(field)
        if ratio is None:
            if name in patient.record:
                return "unknown", f"{reader.shown(patient, name)}: no {atom.bound} reference given"
            return reader.missing(patient, name)
        return status(holds(ratio)), (f"{reader.shown(patient, name)} = {exact(ratio)} x {limit}; "
                                      f"{required}")

