"""Patients of the project's own fact format written as FHIR R4B Bundles, one per patient, coded
through the protocol's FHIR map read backwards (each concept, drug, value and grade by its first
code).

Why: the FHIR reader (`engine/fhir`) must decide a patient exactly as the facts it came from, and
the test of that needs Bundles of many patients whose JSON twins are known: the examples' and
`bench/generate.py`'s. Each Bundle is validated with `fhir.resources` before it is written.

Events become Conditions (onset, abatement, clinical status, stage for a grade), a procedure the
protocol lists in PROCEDURES a Procedure, a vaccine an Immunization, a plan (`planned event`) a
ServiceRequest; "none" (`"present": false`)
an Observation of the concept with valueBoolean false; medications MedicationStatements with a
daily dosage; the sex Patient.gender (an Observation when it is dated); the screening date a
ResearchSubject's period.

usage: python bench/fhir_bundles.py PROTOCOL PATIENTS.jsonl > bundles.ndjson
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import pipeline  # noqa: E402
from engine.factfile import read_records  # noqa: E402
from engine.fhir.bundle import UCUM  # noqa: E402
from engine.fhir.mapping import Mapping, load_map  # noqa: E402
from protocol import model as m  # noqa: E402

#: Events written as Procedures: things done to the patient.
PROCEDURES = frozenset({"car_t_therapy", "organ_transplant", "hsct", "cns_lupus_intervention"})
#: Events written as Immunizations, when they have one date.
VACCINES = frozenset({"live_vaccine"})


class Writer:
    """Writes Bundles for one protocol and its map."""

    def __init__(self, protocol: m.Protocol, mapping: Mapping) -> None:
        self.protocol = protocol
        self.mapping = mapping
        self.concepts = {c.name: c for c in protocol.concepts}
        self.codes: dict[tuple[str, str | None], tuple[str, str]] = {}
        for code, meaning in mapping.codes.items():
            self.codes.setdefault((meaning.concept, meaning.drug), code)
        self.units = {unit: code for code, unit in mapping.units.items()}
        self.subject = "Patient"

    def coded(self, concept: str, drug: str | None = None) -> dict:
        system, code = self.codes[(concept, drug)]
        return {"coding": [{"system": system, "code": code}]}

    def value_code(self, concept: str, value: Any) -> dict:
        for table in (self.mapping.values.get(concept, {}), self.mapping.values.get("", {})):
            for (system, code), meant in table.items():
                if meant == value:
                    return {"coding": [{"system": system, "code": code}]}
        raise KeyError(f"{concept}: no code for the value {value!r}")

    def bundle(self, record: dict) -> dict:
        pid = record["patient"]
        self.subject = f"Patient/{pid}"
        patient: dict[str, Any] = {"resourceType": "Patient", "id": pid}
        if "birth_date" in record:
            patient["birthDate"] = record["birth_date"]
        resources: list[dict] = [patient]
        if "screening_date" in record:
            resources.append({"resourceType": "ResearchSubject", "id": f"{pid}-subject",
                              "status": "candidate",
                              "study": {"reference": f"ResearchStudy/{self.protocol.id}"},
                              "individual": {"reference": f"Patient/{pid}"},
                              "period": {"start": record["screening_date"]}})
        for index, fact in enumerate(record["facts"]):
            resource = self.resource(fact, f"{pid}-{index + 1}", patient)
            if resource is not None:
                resources.append(resource)
        return {"resourceType": "Bundle", "id": pid, "type": "collection",
                "entry": [{"resource": r} for r in resources]}

    def resource(self, fact: dict, ident: str, patient: dict) -> dict | None:
        concept = self.concepts.get(fact["concept"])
        if concept is None or (concept.name, None) not in self.codes and \
                concept.kind is not m.Kind.MEDICATION:
            return None  # a concept the protocol does not declare has no code
        kind = concept.kind
        if concept.name == self.mapping.gender and "date" not in fact:
            patient["gender"] = str(fact["value"]).lower()
            return None
        if fact.get("present") is False:
            return self.observation(concept, fact, ident, {"valueBoolean": False})
        if kind is m.Kind.MEDICATION:
            return self.course(concept, fact, ident)
        if kind is m.Kind.EVENT:
            return self.event(concept, fact, ident)
        return self.observation(concept, fact, ident, self.value(concept, fact))

    def observation(self, concept: m.Concept, fact: dict, ident: str, value: dict) -> dict:
        obs = {"resourceType": "Observation", "id": ident, "status": "final",
               "code": self.coded(concept.name), **value}
        if "date" in fact:
            obs["effectiveDateTime"] = fact["date"]
        if concept.sides and concept.per in fact:  # a family's fact: its side as the bodySite
            system, code = next(code for code, side in self.mapping.sides[concept.name].items()
                                if side == fact[concept.per])
            obs["bodySite"] = {"coding": [{"system": system, "code": code}]}
        if concept.kind is m.Kind.JUDGMENT:
            if "recorded_by" in fact:
                obs["performer"] = [{"display": fact["recorded_by"]}]
            if "reason" in fact:
                obs["note"] = [{"text": fact["reason"]}]
        return obs

    def value(self, concept: m.Concept, fact: dict) -> dict:
        value = fact.get("value")
        if concept.kind in (m.Kind.FLAG, m.Kind.JUDGMENT):
            return {"valueBoolean": value}
        if concept.kind is m.Kind.DATE:
            return {"valueDateTime": value}
        if concept.kind is m.Kind.CATEGORY:
            canonical = concept.canonical(str(value))
            return {"valueCodeableConcept": self.value_code(concept.name, canonical)} \
                if canonical is not None else {"valueString": str(value)}
        dilution = re.fullmatch(r"1:([0-9]+)", value) if isinstance(value, str) and \
            concept.kind is m.Kind.TITRE else None
        if dilution is not None:  # a titre's dilution, as numerator and denominator
            written = {"valueRatio": {"numerator": {"value": 1},
                                      "denominator": {"value": int(dilution[1])}}}
        elif isinstance(value, str):
            written = {"valueString": value}
        elif "unit" in fact:
            written = {"valueQuantity": {"value": value, "unit": fact["unit"], "system": UCUM,
                                         "code": self.units.get(fact["unit"], fact["unit"]),
                                         **({"comparator": fact["comparator"]}
                                            if "comparator" in fact else {})}}
        else:
            written = {"valueInteger": value} if isinstance(value, int) else \
                {"valueQuantity": {"value": value}}
        if "reference_range" in fact:
            written["referenceRange"] = [{side: {"value": limit} for side, limit in
                                          fact["reference_range"].items()}]
        return written

    def event(self, concept: m.Concept, fact: dict, ident: str) -> dict:
        start, end, ongoing = fact.get("date"), fact.get("end"), fact.get("ongoing")
        if concept.planned:  # a plan is a ServiceRequest, for the day it is planned
            request = {"resourceType": "ServiceRequest", "id": ident, "status": "active",
                       "intent": "plan", "code": self.coded(concept.name),
                       "subject": {"reference": self.subject}}
            if end is not None:
                request["occurrencePeriod"] = {"start": start, "end": end}
            elif start is not None:
                request["occurrenceDateTime"] = start
            return request
        if concept.name in VACCINES and end is None and not ongoing:
            return {"resourceType": "Immunization", "id": ident, "status": "completed",
                    "vaccineCode": self.coded(concept.name), "patient": {"reference": self.subject},
                    "occurrenceDateTime": start}
        if concept.name in PROCEDURES:
            procedure = {"resourceType": "Procedure", "id": ident,
                         "status": "in-progress" if ongoing else "completed",
                         "code": self.coded(concept.name), "subject": {"reference": self.subject}}
            if end is not None:
                procedure["performedPeriod"] = {"start": start, "end": end}
            elif start is not None:
                procedure["performedDateTime"] = start
            return procedure
        status = "active" if ongoing else "resolved" if end is not None else "inactive"
        condition = {"resourceType": "Condition", "id": ident, "code": self.coded(concept.name),
                     "subject": {"reference": self.subject},
                     "clinicalStatus": {"coding": [{
                         "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                         "code": status}]}}
        if start is not None:
            condition["onsetDateTime"] = start
        if end is not None:
            condition["abatementDateTime"] = end
        if "grade" in fact:
            grades = {grade: code for code, grade in self.mapping.grades[concept.name].items()}
            system, code = grades[int(fact["grade"])]
            condition["stage"] = [{"summary": {"coding": [{"system": system, "code": code}]}}]
        return condition

    def course(self, concept: m.Concept, fact: dict, ident: str) -> dict:
        drug = concept.canonical(fact["drug"]) if "drug" in fact else None
        code = self.coded(concept.name, drug) if (concept.name, drug) in self.codes else \
            {"text": fact.get("drug", concept.name)}
        statement: dict[str, Any] = {
            "resourceType": "MedicationStatement", "id": ident,
            "status": "active" if fact.get("ongoing") else "completed",
            "medicationCodeableConcept": code, "subject": {"reference": self.subject}}
        period = {key: fact[name] for key, name in (("start", "date"), ("end", "end"))
                  if name in fact}
        if period:
            statement["effectivePeriod"] = period
        if "dose" in fact:
            unit = fact.get("unit", "")
            per_day = next((unit[:-len(s)] for s in ("/d", "/day") if unit.endswith(s)), None)
            timing = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}} \
                if per_day else {"code": {"text": "as written"}}
            statement["dosage"] = [{"timing": timing, "doseAndRate": [{"doseQuantity": {
                "value": fact["dose"], "unit": per_day or unit, "system": UCUM,
                "code": per_day or unit}}]}]
        return statement


def bundles(protocol_path: str, patients_path: str) -> Iterator[dict]:
    """Each patient of a fact file as a Bundle, validated by the FHIR library."""
    from fhir.resources.R4B.bundle import Bundle

    protocol, _ = pipeline.load(protocol_path)
    mapping = load_map(protocol)
    if mapping is None:
        raise SystemExit(f"{protocol_path} names no FHIR map")
    writer = Writer(protocol, mapping)
    for _, record in read_records(patients_path):
        bundle = writer.bundle(record)
        Bundle.model_validate(bundle)
        yield bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocol")
    parser.add_argument("patients")
    args = parser.parse_args(argv)
    from bench.generate import to_json
    for bundle in bundles(args.protocol, args.patients):
        print(to_json(bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())

