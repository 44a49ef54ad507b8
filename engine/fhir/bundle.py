"""One patient's FHIR Bundle read as a fact record, through the protocol's map.

Each resource is parsed with `fhir.resources` (FHIR R4B: R4's clinical resources, as EHRs and bulk
exports give them); a resource the library refuses costs its patient, named with its field. What
a resource says becomes a fact of the project's own format (README "Fact files"), with the
resource as its `source`, so the normaliser reads it as it reads any fact and the trail names
where each fact came from. A resource the record cannot use is never guessed at:

- entered-in-error, refuted, cancelled, not done: set aside, one warning each (`set_aside`);
- a code the map does not list: set aside, one warning naming the code;
- a status that leaves the value open (`unknown`, a preliminary result, an unconfirmed
  diagnosis): the concept cannot be used, and the reason is named (`unknown`: UNKNOWN verdicts).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from engine.fhir.mapping import Mapping, Meaning
from engine.record import plain_number
from protocol import model as m
from protocol.errors import FactProblem

UCUM = "http://unitsofmeasure.org"
#: Days in each period unit a daily dose is counted over (`Timing.repeat.periodUnit`); months and
#: years have no fixed number of days, so a dose given per month is not read.
PERIOD_DAYS = {"h": Decimal(1) / 24, "d": Decimal(1), "wk": Decimal(7)}
#: Statuses whose resource is set aside, by resource type; those that leave the value open make
#: its concept unusable. Any other status is read.
SET_ASIDE = {
    "Observation": {"entered-in-error", "cancelled"},
    "Procedure": {"entered-in-error", "not-done", "preparation"},
    "Immunization": {"entered-in-error", "not-done"},
    "MedicationStatement": {"entered-in-error", "not-taken", "intended"},
    "MedicationRequest": {"entered-in-error", "cancelled", "draft"},
    # a plan no longer, or not yet: done, withdrawn, drafted
    "ServiceRequest": {"entered-in-error", "revoked", "completed", "draft"},
    # kept or missed already, or called off: a plan is proposed, pending, booked or waitlisted
    "Appointment": {"entered-in-error", "cancelled", "noshow", "fulfilled", "arrived",
                    "checked-in"},
}
OPEN = {
    "Observation": {"unknown", "registered", "preliminary"},
    "Procedure": {"unknown"},
    "MedicationStatement": {"unknown"},
    "MedicationRequest": {"unknown"},
    "ServiceRequest": {"unknown"},
}
ONGOING_CONDITION = {"active", "recurrence", "relapse"}
ONGOING_COURSE = {"active", "on-hold", "in-progress"}
#: Resource types read; a Bundle's other resources are set aside, one warning each.
READ = ("Patient", "ResearchSubject", "Observation", "Condition", "Procedure", "Immunization",
        "MedicationStatement", "MedicationRequest", "Medication", "ServiceRequest",
        "Appointment")
#: The resources a plan (`planned event`) comes from, and nothing else does.
PLANS = ("ServiceRequest", "Appointment")


class BundleReader:
    """Reads Bundles for one protocol and its map; built once per run."""

    def __init__(self, protocol: m.Protocol, mapping: Mapping) -> None:
        from fhir.resources.R4B import get_fhir_model_class  # imported only when FHIR comes in

        self.protocol = protocol
        self.mapping = mapping
        self.model = get_fhir_model_class
        self.concepts = {c.name: c for c in protocol.concepts}

    def record(self, data: dict, path: str, line: int) -> dict | FactProblem:
        """The patient record of one Bundle, or the one problem that stops it being read."""
        if data.get("resourceType") != "Bundle":
            kind = data.get("resourceType")
            return FactProblem(path, line, None, None, "resourceType",
                               f"a FHIR {kind} resource, not a Bundle: give one Bundle per "
                               "patient (a JSON file, a folder of them, or NDJSON)")
        entries = data.get("entry", [])
        pid = _patient_id(entries)
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            return FactProblem(path, line, pid, None, "entry", "a Bundle's entry is a list of "
                               "objects")
        shell = {**data, "entry": [{k: v for k, v in e.items() if k != "resource"}
                                   for e in entries]}
        refused = self._refused("Bundle", shell, "Bundle", path, line, pid)
        if isinstance(refused, FactProblem):
            return refused
        resources = []
        for index, entry in enumerate(entries):
            raw = entry.get("resource")
            if raw is None:
                continue
            kind = raw.get("resourceType") if isinstance(raw, dict) else None
            name = _name(raw, index)
            if not isinstance(kind, str):
                return FactProblem(path, line, pid, None, f"entry[{index}].resource",
                                   "a resource names its resourceType")
            parsed = self._refused(kind, raw, name, path, line, pid)
            if isinstance(parsed, FactProblem):
                return parsed
            resources.append((name, parsed))
        return _Patient(self, resources, path, line).record()

    def _refused(self, kind: str, raw: Any, name: str, path: str, line: int,
                 pid: str | None) -> Any:
        """The resource as the library reads it, or a problem naming its first refused field.
        The library's own failures on hostile input (an unknown resource type is a KeyError
        deep inside it) are refusals too, never a traceback."""
        try:
            return self.model(kind).model_validate(raw)
        except ValidationError as error:
            errors = error.errors()
            first = errors[0]
            where = ".".join(str(step) for step in first["loc"])
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            return FactProblem(path, line, pid, None, f"{name}.{where}" if where else name,
                               f"the FHIR library refuses it: {first['msg']}{more}")
        except Exception as error:  # noqa: BLE001 - the library's own failure on this input
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            return FactProblem(path, line, pid, None, name,
                               f"the FHIR library refuses it: {text}")


def _patient_id(entries: Any) -> str | None:
    """The Patient's id as the raw Bundle has it, to name the patient in a refusal."""
    if not isinstance(entries, list):
        return None
    for entry in entries:
        raw = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(raw, dict) and raw.get("resourceType") == "Patient" and \
                isinstance(raw.get("id"), str):
            return raw["id"]
    return None


def _name(raw: Any, index: int) -> str:
    """`Observation/obs-3`, or the entry's place when the resource has no id."""
    kind = raw.get("resourceType") if isinstance(raw, dict) else None
    ident = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(kind, str) and isinstance(ident, str):
        return f"{kind}/{ident}"
    return f"entry[{index}]" + (f" ({kind})" if isinstance(kind, str) else "")


def _day(value: Any) -> str | None:
    """A FHIR date or dateTime as the fact format writes it: the day as written (a time and its
    zone are dropped, not converted), or the year or month of a partial date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if value is not None else None


def _codes(*concepts: Any) -> list[tuple[str, str]]:
    """Every (system, code) of some CodeableConcepts, in order."""
    found = []
    for concept in concepts:
        for coding in (getattr(concept, "coding", None) or ()):
            if coding.system and coding.code:
                found.append((coding.system, coding.code))
    return found


def _code_of(concept: Any) -> str | None:
    """The code of a status CodeableConcept (Condition.clinicalStatus): its first coding's."""
    codes = [c.code for c in (getattr(concept, "coding", None) or ()) if c.code]
    return codes[0] if codes else None


class _Patient:
    """One Bundle's resources turned into one record; one method per resource type read."""

    def __init__(self, reader: BundleReader, resources: list, path: str, line: int) -> None:
        self.reader, self.mapping = reader, reader.mapping
        self.resources, self.path, self.line = resources, path, line
        self.facts: list[dict] = []
        self.unknown: dict[str, str] = {}
        self.set_aside: list[dict] = []
        self.medications = {name.split("/", 1)[1]: resource for name, resource in resources
                            if resource.get_resource_type() == "Medication" and "/" in name}

    def record(self) -> dict | FactProblem:
        patients = [(n, r) for n, r in self.resources if r.get_resource_type() == "Patient"]
        if len(patients) != 1:
            return FactProblem(self.path, self.line, None, None, "entry",
                               f"a Bundle is one patient: it has {len(patients)} Patient "
                               "resources")
        name, patient = patients[0]
        pid = patient.id or next((i.value for i in patient.identifier or () if i.value), None)
        if pid is None:
            return FactProblem(self.path, self.line, None, None, name, "the Patient has no id")
        record: dict[str, Any] = {"patient": pid}
        for name, resource in self.resources:
            kind = resource.get_resource_type()
            if kind not in READ:
                self.aside(name, f"{_a(kind)} is not read")
                continue
            getattr(self, "_" + kind.lower())(name, resource, record)
        record["facts"] = self.facts
        if self.unknown:
            record["unknown"] = self.unknown
        if self.set_aside:
            record["set_aside"] = self.set_aside
        return record

    # -- what cannot be read ---------------------------------------------------------------------
    def aside(self, name: str, reason: str) -> None:
        self.set_aside.append({"resource": name, "reason": reason})

    def withhold(self, concept: m.Concept, reason: str) -> None:
        """The concept cannot be used (nor the broader one its facts count as): UNKNOWN."""
        for target in (concept.name, concept.counts_as.name if concept.counts_as else None):
            if target is not None:
                self.unknown.setdefault(target, reason)

    def meaning(self, name: str, *concepts: Any) -> Meaning | None:
        """What a resource's code means, or None, set aside with the codes it carries."""
        codes = _codes(*concepts)
        found = next((self.mapping.codes[c] for c in codes if c in self.mapping.codes), None)
        if found is None:
            shown = ", ".join(f"{s}|{c}" for s, c in codes) or "no coded code"
            self.aside(name, f"{shown} not in the FHIR map: not read")
        return found

    def status(self, name: str, kind: str, status: str | None, concept: m.Concept) -> bool:
        """Whether a resource's status lets it be read (else it is set aside or withheld)."""
        if status in SET_ASIDE.get(kind, ()):
            self.aside(name, f"status {status}: set aside")
            return False
        if status in OPEN.get(kind, ()):
            self.withhold(concept, f"{name} has status '{status}'")
            return False
        return True

    def fact(self, concept: m.Concept, name: str, **given: Any) -> None:
        self.facts.append({"concept": concept.name,
                           **{k: v for k, v in given.items() if v is not None}, "source": name})

    # -- resources -------------------------------------------------------------------------------
    def _patient(self, name: str, patient: Any, record: dict) -> None:
        if patient.birthDate is not None:
            record["birth_date"] = _day(patient.birthDate)
        concept = self.reader.concepts.get(self.mapping.gender or "")
        if concept is None or patient.gender is None:
            return
        if concept.canonical(patient.gender) is None:
            self.withhold(concept, f"{name} has gender '{patient.gender}'")
        else:
            self.fact(concept, name, value=patient.gender)

    def _researchsubject(self, name: str, subject: Any, record: dict) -> None:
        """The screening date: the start of the subject's participation in the study."""
        start = subject.period.start if subject.period else None
        if start is not None:
            record["screening_date"] = _day(start)

    def _medication(self, name: str, medication: Any, record: dict) -> None:
        """Read through the statements and requests that refer to it."""

    def _observation(self, name: str, obs: Any, record: dict) -> None:
        meaning = self.meaning(name, obs.code)
        if meaning is None:
            return
        concept = self.reader.concepts[meaning.concept]
        if not self.status(name, "Observation", obs.status, concept):
            return
        when = _day(obs.effectiveDateTime or obs.effectiveInstant or
                    (obs.effectivePeriod.start if obs.effectivePeriod else None))
        if concept.kind in m.LISTED:
            if obs.valueBoolean is None:
                self.aside(name, f"an Observation of {concept.kind.value} {concept.name} is read "
                           "as valueBoolean (false: the patient has none): not read")
            elif obs.valueBoolean:
                self.fact(concept, name, date=when)
            else:
                self.fact(concept, name, present=False)
            return
        side = self._side(name, obs, concept) if concept.sides else {}
        if side is None:
            return
        value = self._value(name, obs, concept)
        if value is None:
            return
        self.fact(concept, name, date=when, **value, **side)

    def _side(self, name: str, obs: Any, concept: m.Concept) -> dict[str, str] | None:
        """Of a concept measured per side, the side its bodySite gives, as a fact's field
        (`"ankle": "left"`); None, set aside, for a bodySite the map gives no side for."""
        codes = _codes(obs.bodySite)
        sides = self.mapping.sides.get(concept.name, {})
        side = next((sides[code] for code in codes if code in sides), None)
        if side is None:
            shown = ", ".join(f"{s}|{c}" for s, c in codes) or "no coded bodySite"
            self.aside(name, f"{concept.name} is measured per {concept.per}: {shown} gives no "
                       f"{concept.per} in the FHIR map: not read")
            return None
        return {str(concept.per): side}

    def _value(self, name: str, obs: Any, concept: m.Concept) -> dict | None:
        """An Observation's value as a fact's fields, by the concept's kind; None when it has
        none the concept can read (the concept is then withheld, the reason named)."""
        kind = concept.kind
        if kind in m.MEASURED:
            return self._measured(name, obs, concept)
        if kind is m.Kind.DATE and obs.valueDateTime is not None:
            return {"value": _day(obs.valueDateTime)}
        if kind in (m.Kind.FLAG, m.Kind.JUDGMENT) and obs.valueBoolean is not None:
            value: Any = obs.valueBoolean
        elif obs.valueString is not None and kind is m.Kind.CATEGORY:
            value = obs.valueString
        else:
            coded = _codes(obs.valueCodeableConcept) or \
                [c for i in obs.interpretation or () for c in _codes(i)]
            value = next((self.mapping.value(concept.name, c) for c in coded
                          if self.mapping.value(concept.name, c) is not None), None)
            if value is None:
                shown = ", ".join(f"{s}|{c}" for s, c in coded)
                why = f"value {shown} is not in the FHIR map" if coded else _absent(obs)
                self.withhold(concept, f"{name}: {why}")
                return None
        fields: dict[str, Any] = {"value": value}
        if kind is m.Kind.JUDGMENT:
            performer = next((p.display or p.reference for p in obs.performer or ()), None)
            fields["recorded_by"] = performer
            fields["reason"] = next((n.text for n in obs.note or () if n.text), None)
        return fields

    def _measured(self, name: str, obs: Any, concept: m.Concept) -> dict | None:
        quantity, ratio = obs.valueQuantity, obs.valueRatio
        if concept.kind is m.Kind.TITRE and ratio is not None:  # 1:160 as numerator:denominator
            numerator, denominator = (getattr(getattr(ratio, side), "value", None)
                                      for side in ("numerator", "denominator"))
            if numerator is None or denominator is None:
                self.withhold(concept, f"{name}: a valueRatio without its numerator or "
                                       "denominator")
                return None
            fields = {"value": f"{plain_number(Decimal(numerator))}:"
                               f"{plain_number(Decimal(denominator))}"}
        elif concept.kind is m.Kind.TITRE and quantity is not None and \
                quantity.value is not None:  # its reciprocal, in `{titer}` or no unit
            fields = {"value": quantity.value, "comparator": quantity.comparator}
        elif quantity is not None and quantity.value is not None:
            fields: dict[str, Any] = {"value": quantity.value, "comparator": quantity.comparator,
                                      "unit": self._unit(quantity)}
        elif obs.valueInteger is not None:
            fields = {"value": obs.valueInteger}
        elif obs.valueString is not None:
            fields = {"value": obs.valueString}  # "< 20", "not detected": read as written
        else:
            self.withhold(concept, f"{name}: {_absent(obs)}")
            return None
        reference = (obs.referenceRange or [None])[0]
        if reference is not None and concept.kind is m.Kind.LAB:
            bounds = {side: getattr(reference, side).value for side in ("low", "high")
                      if getattr(reference, side) is not None
                      and getattr(reference, side).value is not None}
            if bounds:
                fields["reference_range"] = bounds
        return fields

    def _unit(self, quantity: Any) -> str | None:
        """A quantity's unit as the protocol writes it: its UCUM code through the map's `units`,
        else the UCUM code itself, else the unit as displayed."""
        if quantity.system == UCUM and quantity.code:
            return self.mapping.units.get(quantity.code, quantity.code)
        return quantity.unit or quantity.code

    def _condition(self, name: str, condition: Any, record: dict) -> None:
        meaning = self.meaning(name, condition.code)
        if meaning is None:
            return
        concept = self.reader.concepts[meaning.concept]
        verification = _code_of(condition.verificationStatus)
        if verification in ("entered-in-error", "refuted"):
            self.aside(name, f"verification {verification}: set aside")
            return
        if verification in ("unconfirmed", "provisional", "differential"):
            self.withhold(concept, f"{name} is {verification}, not confirmed")
            return
        onset = condition.onsetDateTime or (condition.onsetPeriod.start
                                            if condition.onsetPeriod else None)
        if concept.kind in (m.Kind.FLAG, m.Kind.JUDGMENT):
            self.fact(concept, name, value=True, date=_day(onset or condition.recordedDate))
            return
        if concept.kind is not m.Kind.EVENT or concept.planned:
            what = f"{concept.kind.value} {concept.name}" if not concept.planned else \
                f"{concept.name}: a plan is a ServiceRequest or an Appointment"
            self.aside(name, f"a Condition cannot give {what}")
            return
        end = condition.abatementDateTime or (condition.abatementPeriod.end
                                              if condition.abatementPeriod else None)
        ongoing = _code_of(condition.clinicalStatus) in ONGOING_CONDITION and end is None
        grades = self.mapping.grades.get(concept.name, {})
        graded = [grades[c] for c in _codes(condition.severity, *(
            s.summary for s in condition.stage or ())) if c in grades]
        self.fact(concept, name, date=_day(onset), end=_day(end), ongoing=ongoing or None,
                  grade=graded[0] if graded else None)

    def _procedure(self, name: str, procedure: Any, record: dict) -> None:
        self._occurrence(name, procedure, "Procedure", procedure.code, procedure.performedDateTime,
                         procedure.performedPeriod)

    def _immunization(self, name: str, immunization: Any, record: dict) -> None:
        self._occurrence(name, immunization, "Immunization", immunization.vaccineCode,
                         immunization.occurrenceDateTime, None)

    def _servicerequest(self, name: str, request: Any, record: dict) -> None:
        """A plan (`planned event`): the day it is planned for, `occurrence[x]`, or none."""
        _, concept = self._mapped(name, request, "ServiceRequest", request.code, m.Kind.EVENT)
        if concept is None:
            return
        period = request.occurrencePeriod
        start = request.occurrenceDateTime or (period.start if period else None)
        self.fact(concept, name, date=_day(start), end=_day(period.end if period else None))

    def _appointment(self, name: str, appointment: Any, record: dict) -> None:
        """A plan, as an appointment booked (or proposed, pending, waitlisted) for it: what it
        is for, its `serviceType` or `appointmentType`; the day it `start`s, or none (a day
        still to be found: some day from screening on)."""
        _, concept = self._mapped(name, appointment, "Appointment",
                                  (*(appointment.serviceType or ()), appointment.appointmentType),
                                  m.Kind.EVENT)
        if concept is not None:
            self.fact(concept, name, date=_day(appointment.start))

    def _occurrence(self, name: str, resource: Any, kind: str, code: Any, when: Any,
                    period: Any) -> None:
        _, concept = self._mapped(name, resource, kind, code, m.Kind.EVENT)
        if concept is None:
            return
        start = when or (period.start if period else None)
        end = period.end if period else None
        ongoing = resource.status == "in-progress" and end is None
        self.fact(concept, name, date=_day(start), end=_day(end), ongoing=ongoing or None)

    def _medicationstatement(self, name: str, statement: Any, record: dict) -> None:
        period = statement.effectivePeriod
        self._course(name, statement, "MedicationStatement", statement.dosage,
                     statement.effectiveDateTime or (period.start if period else None),
                     period.end if period else None)

    def _medicationrequest(self, name: str, request: Any, record: dict) -> None:
        timing = next((d.timing for d in request.dosageInstruction or () if d.timing), None)
        bounds = timing.repeat.boundsPeriod if timing and timing.repeat else None
        self._course(name, request, "MedicationRequest", request.dosageInstruction,
                     (bounds.start if bounds else None) or request.authoredOn,
                     bounds.end if bounds else None)

    def _course(self, name: str, resource: Any, kind: str, dosages: Any, start: Any,
                end: Any) -> None:
        code = resource.medicationCodeableConcept
        if code is None and resource.medicationReference is not None:
            code = self._medication_code(resource, resource.medicationReference.reference or "")
        meaning, concept = self._mapped(name, resource, kind, code, m.Kind.MEDICATION)
        if concept is None:
            return
        dose, unit = _daily(dosages)
        ongoing = resource.status in ONGOING_COURSE and end is None
        self.fact(concept, name, drug=meaning.drug, dose=dose, unit=unit, date=_day(start),
                  end=_day(end), ongoing=ongoing or None)

    def _mapped(self, name: str, resource: Any, kind: str, code: Any,
                expected: m.Kind) -> tuple[Any, m.Concept | None]:
        """The map's meaning of a resource's code and the concept it gives, None where the code
        is not mapped, the status leaves nothing to read, or the concept is not of the kind this
        resource can give (each said by `meaning`, `status` or here): a plan (`planned event`)
        comes from a ServiceRequest or an Appointment, and they give nothing else."""
        meaning = self.meaning(name, *(code if isinstance(code, tuple) else (code,)))
        if meaning is None:
            return None, None
        concept = self.reader.concepts[meaning.concept]
        if not self.status(name, kind, resource.status, concept):
            return meaning, None
        if concept.kind is not expected:
            self.aside(name, f"{_a(kind)} cannot give {concept.kind.value} {concept.name}")
            return meaning, None
        if concept.planned != (kind in PLANS):
            self.aside(name, f"{_a(kind)} cannot give {concept.name}: a plan is a ServiceRequest "
                       f"or an Appointment, and {concept.name} is "
                       f"{'a plan' if concept.planned else 'not planned'}")
            return meaning, None
        return meaning, concept

    def _medication_code(self, resource: Any, reference: str) -> Any:
        """The code of the Medication a course refers to: contained in it (`#med`), or in the
        Bundle (`Medication/med`); None when it is in neither."""
        if reference.startswith("#"):
            medication = next((c for c in resource.contained or ()
                               if c.id == reference[1:]), None)
        else:
            medication = self.medications.get(reference.split("/")[-1])
        return getattr(medication, "code", None)


def _a(kind: str) -> str:
    """A resource type with its article: `a Procedure`, `an Appointment`."""
    return f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}"


def _absent(obs: Any) -> str:
    reason = obs.dataAbsentReason
    text = (_code_of(reason) or reason.text) if reason is not None else None
    return f"no value (dataAbsentReason {text})" if text else "no value"


def _daily(dosages: Any) -> tuple[Decimal | None, str | None]:
    """The daily dose of a course's first dosage: the dose times its frequency over its period
    (60 mg once a day is 60 mg/d); none when the timing says no number of days."""
    for dosage in dosages or ():
        quantity = next((r.doseQuantity for r in dosage.doseAndRate or () if r.doseQuantity),
                        None)
        repeat = dosage.timing.repeat if dosage.timing else None
        if quantity is None or quantity.value is None or repeat is None:
            continue
        days = PERIOD_DAYS.get(repeat.periodUnit or "")
        if days is None or not repeat.period:
            continue
        frequency = Decimal(repeat.frequency or 1)
        unit = quantity.code if quantity.system == UCUM and quantity.code else quantity.unit
        if not unit:
            continue
        return Decimal(quantity.value) * frequency / (Decimal(repeat.period) * days), f"{unit}/d"
    return None, None
