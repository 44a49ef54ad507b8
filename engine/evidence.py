"""Evidence for the trail: what each part of a criterion saw in the patient's record, in words.

The network decides; this module only explains. For every part of a criterion's condition (and of
its applies-when) it says whether the part held, failed or could not be judged, with the actual value
(unit, date, converted value, reference range) and what was required, so an auditor can see why a
rule fired or did not. A part is an atom (`egfr >= 30 mL/min/1.73m2`), or a whole counted list
(`immunosuppressant includes at least 2 of {...}`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Union

from engine.compile import count_field, counted, dose_threshold_of, threshold_of
from engine.facts import ONGOING, Patient, UsedFact, plain_number, window_field
from protocol import model as m

OPS = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}

Part = Union[m.Atom, m.AtLeast, m.Not]
_DERIVED_STATUS = {"T": "true", "F": "false"}
_DERIVED_WORDS = {"T": "true", "F": "false", "U": "unknown: data it reads is missing",
                  "R": "open: awaiting an investigator's judgment"}
_NEGATED = {"true": "false", "false": "true"}


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


class _Constants:
    """What judging a protocol's parts needs that depends only on the protocol: the concepts by
    name and, per part of a condition, its constants (a threshold in the concept's unit, a value
    set, the words of a requirement), worked out on first use.

    An explainer is made per patient, so these are kept per protocol object (see `_constants_of`)
    and parts are found by identity: the model's frozen dataclasses hash by walking their whole
    tree. Holds no reference to the protocol itself, so that it can go when the protocol does."""

    def __init__(self, protocol: m.Protocol) -> None:
        self.concepts = {c.name: c for c in protocol.concepts}
        self.parts: dict[int, tuple] = {}


_CONSTANTS: dict[int, _Constants] = {}


def _constants_of(protocol: m.Protocol) -> _Constants:
    """The protocol's `_Constants`; the entry is dropped when the protocol is garbage."""
    key = id(protocol)
    found = _CONSTANTS.get(key)
    if found is None:
        found = _CONSTANTS[key] = _Constants(protocol)
        weakref.finalize(protocol, _CONSTANTS.pop, key, None)
    return found


class Explainer:
    """Judges the parts of criteria against one patient's record, for the trail only.

    Made per patient (the definitions' values are that patient's). What a part needs from the
    protocol alone (a threshold in the concept's unit, a value set, the words of a requirement) is
    worked out once per protocol (`_Constants`), and how a concept's facts read once per patient,
    however many parts show them."""

    def __init__(self, protocol: m.Protocol, derived: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        self.protocol = protocol
        self._constants = _constants_of(protocol)
        self.concepts = self._constants.concepts
        self.derived = derived
        # How the patient's facts read, by concept (and windows by first day), once per patient.
        self._patient: Patient | None = None
        self._texts: dict[str, str] = {}
        self._lists: dict[str, tuple[list[dict] | None, str]] = {}
        self._windows: dict[int, str] = {}

    def judge(self, part: Part, patient: Patient) -> dict[str, Any]:
        """`{"status": true|false|unknown, "detail": "..."}` for one part."""
        if patient is not self._patient:  # what was read from another patient's facts is no use
            self._patient = patient
            self._texts, self._lists, self._windows = {}, {}, {}
        status, detail = _JUDGES[type(part)](self, part, patient)
        return {"status": status, "detail": detail}

    def _constant(self, part: Part, compute: Callable[[Part], tuple]) -> tuple:
        """`compute(part)`, once per part of the protocol."""
        found = self._constants.parts.get(id(part))
        if found is None:
            found = self._constants.parts[id(part)] = compute(part)
        return found

    # -- how facts read -----------------------------------------------------------------------------
    def _missing(self, patient: Patient, name: str) -> tuple[str, str]:
        return "unknown", f"{name}: {patient.unusable.get(name, 'no usable fact')}"

    def _shown(self, patient: Patient, name: str) -> str:
        """The concept's value as the network used it (its last fact), after the concept's name."""
        if name not in self._texts:
            used = patient.used.get(name, [])
            self._texts[name] = f"{name} {shown(used[-1])}" if used else name
        return self._texts[name]

    def _items(self, name: str, patient: Patient) -> tuple[list[dict] | None, str]:
        """The occurrences, [] when recorded as none, None when missing; and how they read."""
        if name not in self._lists:
            items = patient.record.get(name)
            if patient.record.get(f"{name}__none") == 1:
                self._lists[name] = [], f"{name}: recorded as none"
            elif items is None:
                self._lists[name] = None, f"{name}: {patient.unusable.get(name, 'no fact given')}"
            else:
                self._lists[name] = items, f"{name}: " + "; ".join(
                    shown(f) for f in patient.used.get(name, []))
        return self._lists[name]

    # -- one method per kind of part ----------------------------------------------------------------
    def _truth(self, atom: m.Truth, patient: Patient) -> tuple[str, str]:
        name = atom.ref.name
        if name in self.derived:
            value = self.derived[name][0]
            status = _DERIVED_STATUS.get(value, "unknown")
            return status, f"definition {name} is {_DERIVED_WORDS[value]}"
        value = patient.record.get(name)
        if value is None:
            if self.concepts[name].kind is m.Kind.JUDGMENT:
                return "unknown", f"{name}: not yet attested by an investigator"
            return self._missing(patient, name)
        return ("true" if value == 1 else "false"), self._shown(patient, name)

    def _compare(self, atom: m.Compare, patient: Patient) -> tuple[str, str]:
        name, holds, required = self._constant(atom, self._compare_constants)
        value = patient.record.get(name)
        if value is None:
            return self._missing(patient, name)
        return _status(holds(value)), f"{self._shown(patient, name)}; {required}"

    def _compare_constants(self, atom: m.Compare) -> tuple[str, Callable[[float], bool], str]:
        concept = self.concepts[atom.ref.name]
        threshold = threshold_of(concept, atom.threshold)
        unit = f" {concept.unit}" if concept.unit and concept.kind is not m.Kind.SCORE else ""
        return concept.name, _against(atom.op, float(threshold)), \
            f"needs {atom.op} {plain_number(threshold)}{unit}"

    def _comparereference(self, atom: m.CompareReference, patient: Patient) -> tuple[str, str]:
        name, field, holds, limit, required = self._constant(atom, self._reference_constants)
        ratio = patient.record.get(field)
        if ratio is None:
            if name in patient.record:
                return "unknown", f"{self._shown(patient, name)}: no {atom.bound} reference given"
            return self._missing(patient, name)
        return _status(holds(ratio)), (f"{self._shown(patient, name)} = {exact(ratio)} x {limit}; "
                                       f"{required}")

    @staticmethod
    def _reference_constants(atom: m.CompareReference) -> tuple[str, str, Callable[[float], bool],
                                                                str, str]:
        name = atom.ref.name
        field = name + ("__uln" if atom.bound == "upper" else "__lln")
        limit = "ULN" if atom.bound == "upper" else "LLN"
        return name, field, _against(atom.op, float(atom.factor)), limit, \
            f"needs {atom.op} {atom.factor} x {limit}"

    def _is(self, atom: m.Is, patient: Patient) -> tuple[str, str]:
        name, wanted = self._constant(atom, self._is_constants)
        value = patient.record.get(name)
        if value is None:
            return self._missing(patient, name)
        return _status((value in wanted) != atom.negated), self._shown(patient, name)

    def _is_constants(self, atom: m.Is) -> tuple[str, frozenset[str]]:
        concept = self.concepts[atom.ref.name]
        return concept.name, frozenset(concept.canonical(v.name) or v.name for v in atom.values)

    def _occurred(self, atom: m.Occurred, patient: Patient) -> tuple[str, str]:
        name, field, graded = self._constant(atom, self._occurred_constants)
        items, text = self._items(name, patient)
        if items is None:
            return "unknown", text
        first = None if field is None else patient.record[field] if field else \
            patient.screening.toordinal()
        held = any((first is None or i["e"] >= first) and (graded is None or graded(i["g"]))
                   for i in items)
        return _status(held), text + ("" if first is None else self._window(patient, first))

    def _window(self, patient: Patient, first: int) -> str:
        """How a window from day `first` (an ordinal) to the screening date reads."""
        if first not in self._windows:
            on_the_day = first == patient.screening.toordinal()
            self._windows[first] = " (on the screening date)" if on_the_day else \
                f" (window from {date.fromordinal(first)} to {patient.screening})"
        return self._windows[first]

    @staticmethod
    def _occurred_constants(atom: m.Occurred) -> tuple[str, str | None,
                                                        Callable[[float], bool] | None]:
        """The list, the record field of the window's first day ('' for the screening day itself,
        None for ever) and the grade test."""
        window = atom.window
        field = None if window.kind == "ever" else "" if window.kind == "at_screening" else \
            window_field(window.duration)
        graded = None if atom.grade is None else _against(atom.grade[0], float(atom.grade[1]))
        return atom.ref.name, field, graded

    def _includes(self, atom: m.Includes, patient: Patient) -> tuple[str, str]:
        name, drug = self._constant(atom, self._includes_constants)
        items, text = self._items(name, patient)
        if items is None:
            return "unknown", text
        return _status(any(i["drug"] == drug for i in items)), text

    def _includes_constants(self, atom: m.Includes) -> tuple[str, str]:
        concept = self.concepts[atom.ref.name]
        return concept.name, concept.canonical(atom.drug.name) or atom.drug.name

    def _not(self, node: m.Not, patient: Patient) -> tuple[str, str]:
        """`not x`: judged as written, so "+" means the negated part holds."""
        status, detail = _JUDGES[type(node.item)](self, node.item, patient)
        return _NEGATED.get(status, status), detail

    def _atleast(self, node: m.AtLeast, patient: Patient) -> tuple[str, str]:
        """A counted list: how many distinct drugs of the set the patient's list holds."""
        name, drugs, field = self._constant(node, self._atleast_constants)
        count = patient.record.get(field)
        items, text = self._items(name, patient)
        if count is None or items is None:
            return "unknown", text
        taken = sorted({i["drug"] for i in items} & drugs)
        listed = f" ({', '.join(taken)})" if taken else ""
        return _status(count >= node.count), (f"{count} of the set{listed}; needs at least "
                                              f"{node.count}; {text}")

    def _atleast_constants(self, node: m.AtLeast) -> tuple[str, frozenset[str], str]:
        first = node.items[0]
        assert isinstance(first, m.Includes)
        concept = self.concepts[first.ref.name]
        drugs = tuple(sorted({concept.canonical(i.drug.name) or i.drug.name
                              for i in node.items if isinstance(i, m.Includes)}))
        return concept.name, frozenset(drugs), count_field(concept.name, drugs)

    def _course(self, atom: m.Course, patient: Patient) -> tuple[str, str]:
        name, threshold, needs = self._constant(atom, self._course_constants)
        items, text = self._items(name, patient)
        if items is None:
            return "unknown", text
        statuses = [self._course_status(atom, item, threshold) for item in items]
        status = "true" if True in statuses else "false" if all(s is False for s in statuses) \
            else "unknown"
        return status, f"{text}; {needs}"

    def _course_constants(self, atom: m.Course) -> tuple[str, float, str]:
        concept = self.concepts[atom.ref.name]
        threshold = float(dose_threshold_of(concept, atom))
        needs = f"needs {atom.op} {plain_number(Decimal(repr(threshold)))} {concept.dosed_in}"
        needs += f" for at least {atom.duration}" if atom.duration else ""
        return concept.name, threshold, needs

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


def _against(op: str, threshold: float) -> Callable[[float], bool]:
    """The test `value <op> threshold` as a one-argument function."""
    compare = OPS[op]
    return lambda value: compare(value, threshold)


_JUDGES = {
    m.Truth: Explainer._truth, m.Compare: Explainer._compare,
    m.CompareReference: Explainer._comparereference, m.Is: Explainer._is,
    m.Occurred: Explainer._occurred, m.Includes: Explainer._includes,
    m.AtLeast: Explainer._atleast, m.Course: Explainer._course, m.Not: Explainer._not,
}


def shown(fact: UsedFact) -> str:
    """A fact as an auditor reads it: value and unit, the converted value, date, and notes."""
    value = fact.value
    text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    if fact.unit and not isinstance(value, str):
        text += f" {fact.unit}"
    if fact.converted and fact.converted != text:
        text += f" = {fact.converted}"
    if fact.date and fact.note:
        return f"{text} ({fact.date}; {fact.note})"
    if fact.date or fact.note:
        return f"{text} ({fact.date or fact.note})"
    return text


def exact(number: float) -> str:
    """A record number as the network compared it (its shortest repr is the quantized decimal)."""
    return plain_number(Decimal(repr(number)))


def _status(held: bool) -> str:
    return "true" if held else "false"


__all__ = ["Explainer", "parts", "criterion_parts", "describe", "shown", "ONGOING"]
