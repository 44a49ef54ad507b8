"""Evidence for the trail: what each part of a criterion saw in the patient's record, in words.

The network decides; this module only explains. For every part of a criterion's condition (and of
its applies-when) it says whether the part held, failed or could not be judged, with the actual value
(unit, date, converted value, reference range) and what was required, so an auditor can see why a
rule fired or did not. A part is an atom (`egfr >= 30 mL/min/1.73m2`), or a whole counted list
(`immunosuppressant includes at least 2 of {...}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Union

from engine.compile import count_field, counted, dose_threshold_of, threshold_of
from engine.facts import ONGOING, Patient, UsedFact, plain_number, window_field
from protocol import model as m

OPS = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}

Part = Union[m.Atom, m.AtLeast, m.Not]


@dataclass(frozen=True)
class Condition:
    """One part of a criterion as written: where, and the protocol text."""

    line: int
    text: str


def parts(condition: m.Condition | None) -> list[Part]:
    """The parts of a condition, left to right: atoms, and counted lists as one part."""
    if condition is None:
        return []
    if isinstance(condition, m.AtLeast) and counted(condition):
        return [condition]
    if isinstance(condition, (m.And, m.Or, m.AtLeast)):
        return [p for item in condition.items for p in parts(item)]
    if isinstance(condition, m.Not):
        inner = parts(condition.item)
        return [condition] if len(inner) == 1 and inner[0] is condition.item else inner
    return [condition]


def criterion_parts(criterion: m.Criterion) -> list[Part]:
    return parts(criterion.applies) + parts(criterion.condition)


def describe(protocol: m.Protocol, part: Part) -> Condition:
    return Condition(part.span.line, _source_text(protocol.source, part.span))


@lru_cache(maxsize=8192)
def _source_text(source: str, span) -> str:
    """The protocol text a span covers, on one line."""
    lines = source.splitlines()[span.line - 1 : span.end_line]
    if not lines:
        return ""
    if len(lines) == 1:
        return lines[0][span.column - 1 : span.end_column - 1].strip()
    lines[0] = lines[0][span.column - 1 :]
    lines[-1] = lines[-1][: span.end_column - 1]
    return " ".join(part.strip() for part in lines)


class Explainer:
    """Judges the parts of criteria against one patient's record, for the trail only."""

    def __init__(self, protocol: m.Protocol, derived: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        self.protocol = protocol
        self.concepts = {c.name: c for c in protocol.concepts}
        self.derived = derived

    def judge(self, part: Part, patient: Patient) -> dict[str, Any]:
        """`{"status": true|false|unknown, "detail": "..."}` for one part."""
        status, detail = _JUDGES[type(part)](self, part, patient)
        return {"status": status, "detail": detail}

    # -- how facts read -----------------------------------------------------------------------------
    def _missing(self, patient: Patient, name: str) -> tuple[str, str]:
        return "unknown", f"{name}: {patient.unusable.get(name, 'no usable fact')}"

    def _shown(self, patient: Patient, name: str) -> str:
        used = patient.used.get(name, [])
        return f"{name} {shown(used[-1])}" if used else name

    # -- one method per kind of part ----------------------------------------------------------------
    def _truth(self, atom: m.Truth, patient: Patient) -> tuple[str, str]:
        name = atom.ref.name
        if name in self.derived:
            value = self.derived[name][0]
            status = {"T": "true", "F": "false"}.get(value, "unknown")
            words = {"T": "true", "F": "false", "U": "unknown: data it reads is missing",
                     "R": "open: awaiting an investigator's judgment"}[value]
            return status, f"definition {name} is {words}"
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
        required = f"needs {atom.op} {plain_number(threshold)}{unit}"
        return _status(held), f"{self._shown(patient, concept.name)}; {required}"

    def _comparereference(self, atom: m.CompareReference, patient: Patient) -> tuple[str, str]:
        name = atom.ref.name
        ratio = patient.record.get(name + ("__uln" if atom.bound == "upper" else "__lln"))
        if ratio is None:
            if name in patient.record:
                return "unknown", f"{self._shown(patient, name)}: no {atom.bound} reference given"
            return self._missing(patient, name)
        held = OPS[atom.op](ratio, float(atom.factor))
        limit = "ULN" if atom.bound == "upper" else "LLN"
        return _status(held), (f"{self._shown(patient, name)} = {exact(ratio)} x {limit}; "
                               f"needs {atom.op} {atom.factor} x {limit}")

    def _is(self, atom: m.Is, patient: Patient) -> tuple[str, str]:
        concept = self.concepts[atom.ref.name]
        value = patient.record.get(concept.name)
        if value is None:
            return self._missing(patient, concept.name)
        wanted = {concept.canonical(v.name) or v.name for v in atom.values}
        return _status((value in wanted) != atom.negated), self._shown(patient, concept.name)

    def _items(self, name: str, patient: Patient) -> tuple[list[dict] | None, str]:
        """The occurrences, [] when recorded as none, None when missing; and how they read."""
        if patient.record.get(f"{name}__none") == 1:
            return [], f"{name}: recorded as none"
        items = patient.record.get(name)
        if items is None:
            return None, f"{name}: {patient.unusable.get(name, 'no fact given')}"
        return items, f"{name}: " + "; ".join(shown(f) for f in patient.used.get(name, []))

    def _occurred(self, atom: m.Occurred, patient: Patient) -> tuple[str, str]:
        items, text = self._items(atom.ref.name, patient)
        if items is None:
            return "unknown", text
        first = self._first_day(atom.window, patient)
        hits = [i for i in items if (first is None or i["e"] >= first.toordinal())
                and (atom.grade is None or OPS[atom.grade[0]](i["g"], float(atom.grade[1])))]
        window = "" if first is None else " (on the screening date)" if first == patient.screening \
            else f" (window from {first} to {patient.screening})"
        return _status(bool(hits)), f"{text}{window}"

    def _first_day(self, window: m.Window, patient: Patient) -> date | None:
        if window.kind == "ever":
            return None
        if window.kind == "at_screening":
            return patient.screening
        assert window.duration is not None
        return date.fromordinal(patient.record[window_field(window.duration)])

    def _includes(self, atom: m.Includes, patient: Patient) -> tuple[str, str]:
        concept = self.concepts[atom.ref.name]
        items, text = self._items(concept.name, patient)
        if items is None:
            return "unknown", text
        drug = concept.canonical(atom.drug.name) or atom.drug.name
        return _status(any(i["drug"] == drug for i in items)), text

    def _not(self, node: m.Not, patient: Patient) -> tuple[str, str]:
        """`not x`: judged as written, so "+" means the negated part holds."""
        status, detail = _JUDGES[type(node.item)](self, node.item, patient)
        return {"true": "false", "false": "true"}.get(status, status), detail

    def _atleast(self, node: m.AtLeast, patient: Patient) -> tuple[str, str]:
        """A counted list: how many distinct drugs of the set the patient's list holds."""
        first = node.items[0]
        assert isinstance(first, m.Includes)
        concept = self.concepts[first.ref.name]
        drugs = tuple(sorted({concept.canonical(i.drug.name) or i.drug.name
                              for i in node.items if isinstance(i, m.Includes)}))
        count = patient.record.get(count_field(concept.name, drugs))
        items, text = self._items(concept.name, patient)
        if count is None or items is None:
            return "unknown", text
        taken = sorted({i["drug"] for i in items} & set(drugs))
        listed = f" ({', '.join(taken)})" if taken else ""
        return _status(count >= node.count), (f"{count} of the set{listed}; needs at least "
                                              f"{node.count}; {text}")

    def _course(self, atom: m.Course, patient: Patient) -> tuple[str, str]:
        concept = self.concepts[atom.ref.name]
        items, text = self._items(concept.name, patient)
        if items is None:
            return "unknown", text
        threshold = float(dose_threshold_of(concept, atom))
        statuses = [self._course_status(atom, item, threshold) for item in items]
        status = "true" if True in statuses else "false" if all(s is False for s in statuses) \
            else "unknown"
        needs = f"needs {atom.op} {plain_number(Decimal(repr(threshold)))} {concept.dosed_in}"
        needs += f" for at least {atom.duration}" if atom.duration else ""
        return status, f"{text}; {needs}"

    @staticmethod
    def _course_status(atom: m.Course, item: dict, threshold: float) -> bool | None:
        long_enough = True
        if atom.duration is not None:
            amount, unit = atom.duration.amount, atom.duration.unit
            long_enough = item["months"] >= amount * (12 if unit == "years" else 1) \
                if unit in ("months", "years") else item["days"] >= amount * (7 if unit == "weeks" else 1)
        if not long_enough:
            return False
        return None if "dose" not in item else OPS[atom.op](item["dose"], threshold)


_JUDGES = {
    m.Truth: Explainer._truth, m.Compare: Explainer._compare,
    m.CompareReference: Explainer._comparereference, m.Is: Explainer._is,
    m.Occurred: Explainer._occurred, m.Includes: Explainer._includes,
    m.AtLeast: Explainer._atleast, m.Course: Explainer._course, m.Not: Explainer._not,
}


def shown(fact: UsedFact) -> str:
    """A fact as an auditor reads it: value and unit, the converted value, date, and notes."""
    value = fact.value
    text = {True: "yes", False: "no"}.get(value, str(value)) if isinstance(value, bool) else str(value)
    if fact.unit and not isinstance(value, str):
        text += f" {fact.unit}"
    if fact.converted and fact.converted != text:
        text += f" = {fact.converted}"
    details = [d for d in (fact.date, fact.note) if d]
    return text + (f" ({'; '.join(details)})" if details else "")


def exact(number: float) -> str:
    """A record number as the network compared it (its shortest repr is the quantized decimal)."""
    return plain_number(Decimal(repr(number)))


def _status(held: bool) -> str:
    return "true" if held else "false"


__all__ = ["Explainer", "parts", "criterion_parts", "describe", "shown", "ONGOING"]
