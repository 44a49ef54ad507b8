"""Evidence for the trail: what each part of a criterion saw in the patient's record, in words.

The network decides; this module only explains. For every part of a criterion's condition (and of
its applies-when) it says whether the part held, failed or could not be judged, with the actual value
(unit, date, converted value, reference range) and what was required, so an auditor can see why a
rule fired or did not. A part is an atom (`egfr >= 30 mL/min/1.73m2`), or a whole counted list
(`immunosuppressant includes at least 2 of {...}`).
"""

from __future__ import annotations

import functools
import re
import weakref
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Callable, Collection, Iterable

from engine import atoms
from engine import record as R
from engine.atoms import Part, parts, shape
from engine.atoms.base import exact, judge_listed
from engine.record import Patient, UsedFact
from engine.shape import Shape, shape_problem
from protocol import model as m

_NEGATED = {"true": "false", "false": "true"}


@dataclass(frozen=True)
class Condition:
    """One part of a criterion as written: where, and the protocol text."""

    line: int
    text: str


def criterion_parts(criterion: m.Criterion) -> list[Part]:
    return parts(criterion.applies) + parts(criterion.condition)


def drawn_shape(condition: m.Condition | None, applies: m.Condition | None = None
                ) -> Shape | None:
    """How a criterion's (or definition's) parts join, as the trail records it for `explain` to
    draw (`engine.atoms.shape`; with `applies when`, `["when", its shape, the condition's]`), or
    None where the parts listed one under another say it: one part, or parts all needed."""
    first = len(parts(applies))
    found = shape(condition, first)
    if applies is not None:
        found = ["when", shape(applies), found]
    flat = isinstance(found, int) or found is None or (
        found[0] == "all" and all(isinstance(item, int) for item in found[1:]))
    return None if flat or shape_problem(found, first + len(parts(condition))) else found


def concepts_read(protocol: m.Protocol, conditions: Iterable[m.Condition | None]) -> list[str]:
    """The concepts conditions read, directly or through definitions and derived values, in
    first-use order: what a criterion (or one of its parts) lacks when none of them is given.

    >>> from grammar.parser import parse
    >>> p = parse('concepts:\\n a: flag\\n b: flag\\ndefine d: a or b\\ninclusion I1 "x": d and a')
    >>> concepts_read(p, [p.leaves()[0].condition])
    ['a', 'b']
    """
    seen: list[str] = []
    pending = [c for c in conditions if c is not None]
    while pending:
        for atom in m.atoms(pending.pop(0)):
            definition = protocol.definition(atom.ref.name)
            if definition is not None:
                pending.append(definition.condition)
                continue
            concept = protocol.concept(atom.ref.name)
            weight = concept.weight.name if concept and isinstance(atom, m.Course) and \
                concept.weight else None
            names = [*(ref.name for ref in m.refs(atom)), weight]
            if concept is not None and concept.formula is not None:
                names = _formula_reads(protocol, concept, pending)
            for name in names:
                if name is not None and name not in seen:
                    seen.append(name)
    return seen


def _formula_reads(protocol: m.Protocol, concept: m.Concept,
                   pending: list[m.Condition]) -> list[str]:
    """The concepts a derived value reads, through the derived values it reads; the conditions
    of its conditional terms go to `pending`, to be read as conditions."""
    names: list[str] = []
    assert concept.formula is not None
    for node in m.subexpressions(concept.formula):
        if isinstance(node, m.Choice):
            pending.append(node.condition)
        elif isinstance(node, m.Reading):
            inner = protocol.concept(node.ref.name)
            if inner is not None and inner.formula is not None:
                names.extend(_formula_reads(protocol, inner, pending))
            else:
                names.append(node.ref.name)
    return names


def describe(protocol: m.Protocol, part: Part) -> Condition:
    """The part as written; the exception of `X unless Y` is `not Y`, which no text spells out,
    so its `not` is said here; a side's part as the side's (`_sided`)."""
    text = _sided(part, _source_text(protocol.source, part.span))
    if isinstance(part, m.Not) and part.span == part.item.span:
        compound = isinstance(part.item, (m.And, m.Or, m.AtLeast))
        text = f"not ({text})" if compound else f"not {text}"
    return Condition(part.span.line, text)


_NAME = re.compile(r"[A-Za-z_]\w*")


def _sided(part: Part, text: str) -> str:
    """A part that `in any ankle`, `in each eye` or `in the study_eye` wrote out per side
    (`grammar/sides.py`) reads as that side's: its text names the family (`abi < 0.9`) where
    the part reads a side's concept (`abi_left < 0.9`), or names only the category that chooses
    the side (`study_eye is left`)."""
    measured = part.measured if isinstance(part, m.Confirmed) else part
    ref = getattr(measured, "ref", None)
    if ref is None:
        return text
    if isinstance(part, m.Is) and text == ref.name:
        return f"{ref.name} is {', '.join(v.name for v in part.values)}"
    written = _NAME.match(text)
    if written and ref.name != written[0] and ref.name.startswith(f"{written[0]}_"):
        return ref.name + text[written.end():]
    return text


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
        #: The record's field that says a concept's history is recorded as none, by concept.
        self.nones = {c.name: R.none_field(c.name) for c in protocol.concepts}
        #: The record's field that says a list others count as is whole, by list.
        self.wholes = {name: R.whole_field(name) for name in protocol.narrowed}
        self.parts: dict[int, tuple[Part, tuple]] = {}  # each part with its constants
        self.judges: dict[int, tuple[Part, Judge]] = {}  # how each part is judged (`judging`)


#: How one part is judged against a patient: `judge(explainer, patient) -> (status, detail)`.
Judge = Callable[["Explainer", Patient], tuple[str, str]]


def judging(part: Part, wholes: Collection[str] = ()) -> Judge:
    """How `part` is judged: its atom kind's `judge` bound to it, once per protocol, so that
    judging a part is one call. `not x` is judged as written, so "+" means the negated part
    holds. A part on a list others count as (among `wholes`) reads a false that rests on the
    list open as UNKNOWN (`judge_listed`)."""
    if isinstance(part, m.Not):
        inner = judging(part.item, wholes)
        count = part.item.count if isinstance(part.item, m.AtLeast | m.Counted) else None
        # `at most N` is `not at least N + 1`: its need said as written
        said = None if count is None else (f"needs at least {count}", f"needs at most {count - 1}")

        def negated(explainer: Explainer, patient: Patient) -> tuple[str, str]:
            status, detail = inner(explainer, patient)
            return _NEGATED.get(status, status), detail if said is None else \
                detail.replace(*said)
        return negated
    kind = atoms.of(part)
    assert kind is not None
    if any(name in wholes for name in kind.listed(part)):
        return functools.partial(judge_listed, kind, part)
    return functools.partial(kind.judge, part)


class Judges:
    """A list of parts compiled for the trail, as the network is compiled once per protocol: each
    distinct part once (by identity), with its judge (`Explainer.every`)."""

    def __init__(self, parts: Iterable[Part], wholes: Collection[str] = ()) -> None:
        distinct = {id(part): part for part in parts}
        self.ids = list(distinct)
        self.judges = [judging(part, wholes) for part in distinct.values()]
        #: Each part's place in the list, by identity.
        self.place = {key: place for place, key in enumerate(self.ids)}


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
        self._constant = self._constants.parts
        self.concepts = self._constants.concepts
        self.wholes = self._constants.wholes
        self.derived = derived
        # How the patient's facts read, by concept (and windows by first day), once per patient.
        self._patient: Patient | None = None
        self._texts: dict[str, str] = {}
        self._lists: dict[str, tuple[list[dict] | None, str]] = {}
        self._each: dict[str, list[str]] = {}  # each occurrence as it reads, by concept
        self._windows: dict[int, str] = {}
        # Each part judged, by identity: the why-not search asks again for the parts the
        # criterion's evidence judged, and for those of the definitions it opens up.
        self._parts: dict[int, tuple[str, str]] = {}

    def judge(self, part: Part, patient: Patient) -> dict[str, Any]:
        """`{"status": true|false|unknown, "detail": "..."}` for one part."""
        status, detail = self.judged(part, patient)
        return {"status": status, "detail": detail}

    def judged(self, part: Part, patient: Patient) -> tuple[str, str]:
        """`judge` as (status, detail), once per part and patient."""
        if patient is not self._patient:
            self._start(patient)
        found = self._parts.get(id(part))
        if found is None:
            found = self._parts[id(part)] = self._judged(part, patient)
        return found

    def statuses(self, parts: Iterable[Part], patient: Patient) -> tuple[str, ...]:
        """How each part was judged (true, false, unknown), in one call: the why-not search
        reads several parts for every open criterion, most of them judged already."""
        if patient is not self._patient:
            self._start(patient)
        found = self._parts
        return tuple([(found.get(id(part)) or self.judged(part, patient))[0] for part in parts])

    def _judged(self, part: Part, patient: Patient) -> tuple[str, str]:
        judges = self._constants.judges
        found = judges.get(id(part))
        if found is None or found[0] is not part:  # kept with its part, as `constant` keeps
            found = judges[id(part)] = (part, judging(part, self._constants.wholes))
        return found[1](self, patient)

    def every(self, judges: Judges, patient: Patient) -> list[tuple[str, str]]:
        """`judged` of each part `judges` holds, in its order: the trail's evidence for a whole
        patient in one pass, each part's judge found once per protocol, not once per call."""
        self._start(patient)
        found = [judge(self, patient) for judge in judges.judges]
        self._parts.update(zip(judges.ids, found))
        return found

    def _start(self, patient: Patient) -> None:
        """What was read from another patient's facts is no use."""
        if patient is not self._patient:
            self._patient = patient
            self._texts, self._lists, self._each = {}, {}, {}
            self._windows, self._parts = {}, {}

    def constant(self, part: Part, compute: Callable[[Any, Explainer], tuple]) -> tuple:
        """`compute(part, self)`, once per part of the protocol: one function per part, an
        atom's module-level or static function, not a closure made on every call. The part is
        kept with its value: a part made for the call (a `replace` of an atom) would otherwise
        go, and the next one made at its address would read its value."""
        found = self._constant.get(id(part))
        if found is None or found[0] is not part:
            found = self._constant[id(part)] = (part, compute(part, self))
        return found[1]

    # -- how facts read -----------------------------------------------------------------------------
    def missing(self, patient: Patient, name: str) -> tuple[str, str]:
        return "unknown", f"{name}: {patient.unusable.get(name, 'no usable fact')}"

    def shown(self, patient: Patient, name: str) -> str:
        """The concept's value as the network used it, after the concept's name: its fact, or
        the results of one day that bound it (`engine.values.Values._between`)."""
        text = self._texts.get(name)
        if text is None:
            used = patient.used.get(name)
            text = self._texts[name] = f"{name} {'; '.join([shown(f) for f in used])}" \
                if used else name
        return text

    def items(self, name: str, patient: Patient) -> tuple[list[dict] | None, str]:
        """The occurrences, [] when recorded as none, None when missing; and how they read."""
        found = self._lists.get(name)
        if found is None:
            record = patient.record
            items = record.get(name)
            if record.get(self._constants.nones[name]) == 1:
                found = [], f"{name}: recorded as none"
            elif items is None:
                found = None, f"{name}: {patient.unusable.get(name, 'no fact given')}"
            else:
                found = items, f"{name}: " + "; ".join(self.each(name, patient))
            self._lists[name] = found
        return found

    def each(self, name: str, patient: Patient) -> list[str]:
        """How each occurrence of a history reads, in the order of its items (`items`), once
        per patient: every part on the history lists them."""
        found = self._each.get(name)
        if found is None:
            found = self._each[name] = [shown(f) for f in patient.used.get(name, ())]
        return found

    def window(self, patient: Patient, first: int) -> str:
        """How a window from day `first` (an ordinal) to the screening date reads."""
        text = self._windows.get(first)
        if text is None:
            on_the_day = first == patient.screening.toordinal()
            text = self._windows[first] = " (on the screening date)" if on_the_day else \
                f" (window from {day(first)} to {day(patient.screening.toordinal())})"
        return text


@lru_cache(maxsize=8192)
def day(ordinal: int) -> str:
    """A day as the trail writes it (`2025-12-15`), from its ordinal: patients share their days,
    and writing one out is slow."""
    return date.fromordinal(ordinal).isoformat()


def shown(fact: UsedFact) -> str:
    """A fact as an auditor reads it: value and unit, the converted value, date, and notes."""
    _, _, value, unit, day, converted, note = fact
    if isinstance(value, str):  # a category, or a number with a bound ("< 60"): with its unit,
        # unless it says it already (a course's dose, before a number it records: `cycles 6`)
        text = f"{value} {unit}" if unit and value[-1:].isdigit() and f" {unit}" not in value \
            else value
    else:
        text = ("yes" if value else "no") if type(value) is bool else str(value)
        if unit:
            text = f"{text} {unit}"
    if converted and converted != text:
        text = f"{text} = {converted}"
    if day:
        return f"{text} ({day}; {note})" if note else f"{text} ({day})"
    return f"{text} ({note})" if note else text


__all__ = ["Explainer", "Part", "parts", "criterion_parts", "describe", "shown", "exact"]
