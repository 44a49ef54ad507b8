"""Evidence for the trail: what each part of a criterion saw in the patient's record, in words.

The network decides; this module only explains. For every atom of a criterion (and of its
applies-when) it reports whether the atom held, failed or could not be judged, the actual value (with
unit, date and converted value) and what was required, so an auditor can see why a rule did not fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date
from decimal import Decimal
from typing import Any

from engine.compile import dose_threshold_of, threshold_of
from engine.facts import ONGOING, Patient, plain_number, window_field
from protocol import model as m

OPS = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class Evidence:
    """One atom, judged: status is true, false or unknown."""

    line: int
    condition: str
    status: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "condition": self.condition, "status": self.status,
                "detail": self.detail}


def source_text(protocol: m.Protocol, span) -> str:
    """The protocol text a span covers, on one line."""
    return _source_text(protocol.source, span)


@lru_cache(maxsize=8192)
def _source_text(source: str, span) -> str:
    lines = source.splitlines()[span.line - 1 : span.end_line]
    if not lines:
        return ""
    if len(lines) == 1:
        return lines[0][span.column - 1 : span.end_column - 1].strip()
    lines[0] = lines[0][span.column - 1 :]
    lines[-1] = lines[-1][: span.end_column - 1]
    return " ".join(part.strip() for part in lines)


class Explainer:
    """Judges atoms against one patient's record, for the trail only."""

    def __init__(self, protocol: m.Protocol, derived: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        self.protocol = protocol
        self.concepts = {c.name: c for c in protocol.concepts}
        self.derived = derived

    def atoms(self, criterion: m.Criterion, patient: Patient) -> list[Evidence]:
        found = []
        for condition in (criterion.applies, criterion.condition):
            if condition is not None:
                found.extend(self.judge(atom, patient) for atom in m.atoms(condition))
        return found

    def judge(self, atom: m.Atom, patient: Patient) -> Evidence:
        status, detail = getattr(self, f"_{type(atom).__name__.lower()}")(atom, patient)
        return Evidence(atom.span.line, source_text(self.protocol, atom.span), status, detail)

    # -- one method per atom kind -------------------------------------------------------------------
    def _missing(self, patient: Patient, name: str) -> tuple[str, str]:
        return "unknown", f"{name}: {patient.unusable.get(name, 'no usable fact')}"

    def _shown(self, patient: Patient, name: str) -> str:
        used = patient.used.get(name, [])
        if not used:
            return name
        fact = used[-1]
        value = f"{fact.value} {fact.unit}" if fact.unit and fact.value is not None else f"{fact.value}"
        if fact.converted and fact.unit and fact.converted != f"{fact.value} {fact.unit}".strip():
            value += f" (= {fact.converted})"
        when = f", {fact.date}" if fact.date else ""
        note = f", {fact.note}" if fact.note else ""
        return f"{name} {value}{when}{note}"

    def _truth(self, atom: m.Truth, patient: Patient) -> tuple[str, str]:
        name = atom.ref.name
        if name in self.derived:
            value = self.derived[name][0]
            status = {"T": "true", "F": "false"}.get(value, "unknown")
            label = {"T": "true", "F": "false", "U": "unknown (data missing)",
                     "R": "open (awaiting investigator judgment)"}[value]
            return status, f"definition {name} is {label}"
        value = patient.record.get(name)
        if value is None:
            if self.concepts[name].kind is m.Kind.JUDGMENT:
                return "unknown", f"{name}: not yet attested by an investigator"
            return self._missing(patient, name)
        return ("true" if value == 1 else "false"), self._shown(patient, name)

    def _compare(self, atom: m.Compare, patient: Patient) -> tuple[str, str]:
        concept = self.concepts[atom.ref.name]
        value = patient.record.get(concept.name)
        if value is None:
            return self._missing(patient, concept.name)
        threshold = threshold_of(concept, atom.threshold)
        held = OPS[atom.op](value, float(threshold))
        unit = f" {concept.unit}" if concept.unit and concept.kind is not m.Kind.SCORE else ""
        return _status(held), f"{self._shown(patient, concept.name)}; needs {atom.op} {plain_number(threshold)}{unit}"

    def _comparereference(self, atom: m.CompareReference, patient: Patient) -> tuple[str, str]:
        name = atom.ref.name
        field = name + ("__uln" if atom.bound == "upper" else "__lln")
        ratio = patient.record.get(field)
        if ratio is None:
            if name in patient.record:
                return "unknown", f"{self._shown(patient, name)}: no {atom.bound} reference given"
            return self._missing(patient, name)
        held = OPS[atom.op](ratio, float(atom.factor))
        limit = "ULN" if atom.bound == "upper" else "LLN"
        return _status(held), (f"{self._shown(patient, name)} = {_exact(ratio)} x {limit}; "
                               f"needs {atom.op} {atom.factor} x {limit}")

    def _is(self, atom: m.Is, patient: Patient) -> tuple[str, str]:
        concept = self.concepts[atom.ref.name]
        value = patient.record.get(concept.name)
        if value is None:
            return self._missing(patient, concept.name)
        wanted = {concept.canonical(v.name) or v.name for v in atom.values}
        held = (value in wanted) != atom.negated
        return _status(held), self._shown(patient, concept.name)

    def _items(self, name: str, patient: Patient) -> tuple[list[dict] | None, str | None]:
        if patient.record.get(f"{name}__none") == 1:
            return [], None
        items = patient.record.get(name)
        if items is None:
            return None, f"{name}: {patient.unusable.get(name, 'nothing recorded')}"
        return items, None

    def _occurred(self, atom: m.Occurred, patient: Patient) -> tuple[str, str]:
        name = atom.ref.name
        items, missing = self._items(name, patient)
        if items is None:
            return "unknown", missing or name
        if not items:
            return "false", f"{name}: none recorded"
        first = self._first_day(atom.window, patient)
        hits = [i for i in items if (first is None or i["e"] >= first.toordinal())
                and (atom.grade is None or OPS[atom.grade[0]](i["g"], float(atom.grade[1])))]
        shown = "; ".join(_occurrence(i) for i in items)
        window = f" (window from {first})" if first is not None else ""
        return _status(bool(hits)), f"{name}: {shown}{window}"

    def _first_day(self, window: m.Window, patient: Patient) -> date | None:
        if window.kind == "ever":
            return None
        if window.kind == "at_screening":
            return patient.screening
        assert window.duration is not None
        return date.fromordinal(patient.record[window_field(window.duration)])

    def _includes(self, atom: m.Includes, patient: Patient) -> tuple[str, str]:
        concept = self.concepts[atom.ref.name]
        items, missing = self._items(concept.name, patient)
        if items is None:
            return "unknown", missing or concept.name
        drug = concept.canonical(atom.drug.name) or atom.drug.name
        drugs = sorted({i["drug"] for i in items})
        listed = ", ".join(drugs) if drugs else "none recorded"
        return _status(drug in drugs), f"{concept.name}: {listed}"

    def _course(self, atom: m.Course, patient: Patient) -> tuple[str, str]:
        concept = self.concepts[atom.ref.name]
        items, missing = self._items(concept.name, patient)
        if items is None:
            return "unknown", missing or concept.name
        threshold = float(dose_threshold_of(concept, atom))
        need_months = atom.duration.amount * (12 if atom.duration.unit == "years" else 1) \
            if atom.duration and atom.duration.unit in ("months", "years") else None
        statuses = []
        for item in items:
            dose_ok = None if "dose" not in item else OPS[atom.op](item["dose"], threshold)
            long_ok = True if atom.duration is None else (
                item["months"] >= need_months if need_months is not None else
                item["days"] >= atom.duration.amount * (7 if atom.duration.unit == "weeks" else 1))
            statuses.append(False if not long_ok or dose_ok is False else dose_ok)
        status = "true" if True in statuses else "false" if all(s is False for s in statuses) \
            else "unknown"
        shown = "; ".join(
            f"{i['drug']} {i.get('dose', '?')} {concept.dosed_in} for {i['months']} months" for i in items
        ) or "none recorded"
        return status, f"{concept.name}: {shown}; needs {atom.op} {threshold:g} {concept.dosed_in}" + (
            f" for at least {atom.duration}" if atom.duration else "")


def _exact(number: float) -> str:
    """A record number as the network compared it (its shortest repr is the quantized decimal)."""
    return plain_number(Decimal(repr(number)))


def _status(held: bool) -> str:
    return "true" if held else "false"


def _occurrence(item: dict) -> str:
    start = date.fromordinal(item["s"])
    text = f"from {start}" if item["e"] != item["s"] else f"on {start}"
    if item["e"] == ONGOING:
        text += ", ongoing"
    elif item["e"] != item["s"]:
        text += f" to {date.fromordinal(item['e'])}"
    if "g" in item:
        text += f", grade {item['g']:g}"
    return text
