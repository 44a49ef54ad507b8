"""Boundary patients: for each threshold, range, multiple of a limit, age, derived value and
window of a protocol, the patients at its edges, with the verdicts they must get, written as
scenarios for the author to review and keep.

From one base patient, each generated case changes one thing (one concept, the birth date, or the
whole patient moved in time); each construct has a module of its own that lists the changes and
works out, on its own, what each makes of the atom under test: `measured` (thresholds, ranges,
`x ULN`), `ages`, `windows` (with `filters`; another history's most recent item by `anchors`),
`during` (a window during another history), `itself` (a window on its own history's start or
end), `counts` (`at least N ...`), `includes` (`X includes at least k of {...}`), `doses` (the
dose on a day, treatment without a break, a stable dose), `courses` (a course's dose and length),
each dose through `amounts`, `formulas` (derived values), `dated` (a date concept's day against a
window: `consent before first_procedure`). This module picks the construct, and works
out the verdict of every criterion reading the atom: the atom under test as its module says, the
criterion's other parts as the trail judges them for that patient (`engine.audit.evidence`, the
atoms' `judge`, which is not the network's compiled patterns; a derived value by
`formulas.values_of`), the whole by strong Kleene logic over the criterion's and/or/not/at-least
tree, through its definitions. A case whose verdict this cannot settle (a pending judgment beside
missing data) is left out and counted; a construct without an independent expectation is listed in
the file as `not generated`, with why, and so is any kind of atom `generator` does not know: only
those without edges (`EDGELESS`) give no case and go unsaid.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Iterator

from engine import atoms
from engine import record as R
from engine.atoms.base import OPS, threshold_of
from engine.compile import Network
from engine.edgecases.ages import ages
from engine.edgecases.base import KEEP, Skip, Variant, moved
from engine.edgecases.counts import counts
from engine.edgecases.dated import dated
from engine.edgecases.courses import courses
from engine.edgecases.during import during
from engine.edgecases.during_any import during_any
from engine.edgecases.doses import (cumulative_doses, current_doses, highest_doses, stable_doses,
                                    without_break)
from engine.edgecases.formulas import Open, formulas, values_of
from engine.edgecases.includes import includes
from engine.edgecases.itself import itself, on_itself
from engine.edgecases.measured import confirmations, ranges, references, thresholds
from engine.edgecases.most_recent import most_recent
from engine.edgecases import validity
from engine.edgecases.render import render
from engine.edgecases.windows import occurred_of, windows
from engine.audit.evidence import Explainer
from engine.facts import Normaliser
from engine.record import Patient
from protocol import model as m
from protocol.formula import averaged as averaged_name, fewest
from protocol.errors import FactError, UsageError

#: Atoms without edges: nothing in them moves by a step or a day (a flag, judgment or definition,
#: a value set, a drug on the list; `x ever` without a filter or grade is one too), but the age
#: of a category's or a flag's result (`validity`).
EDGELESS = (m.Truth, m.Is, m.Includes)


class _Unsettled(Exception):
    """A criterion's verdict this module cannot work out on its own."""


def generator(atom: Any, concept: m.Concept | None) -> Callable | None:
    """The module function that varies `atom`, None for an atom without edges (`EDGELESS`);
    raises `Skip` for one with edges that has none yet, so that no kind of atom is passed over
    unsaid."""
    kind = concept.kind if concept is not None else None
    if isinstance(atom, (m.Compare, m.InRange)):
        if kind is m.Kind.AGE:
            return ages
        if kind is m.Kind.DERIVED:
            return formulas
        return thresholds if isinstance(atom, m.Compare) else ranges
    if isinstance(atom, m.Confirmed):
        return confirmations
    if isinstance(atom, m.CompareReference):
        return _against_reference if kind is m.Kind.DERIVED else references
    if isinstance(atom, m.Counted):
        return itself if on_itself(atom.occurred) else counts
    if isinstance(atom, m.AtLeast):  # `X includes at least k of {...}`, the one `targets` gives
        return includes
    if isinstance(atom, m.Course):
        return courses
    if isinstance(atom, m.CurrentDose):
        return current_doses
    if isinstance(atom, m.CumulativeDose):
        if atom.reading == m.DAYS:
            raise Skip("a total duration's boundary cases are not generated yet")
        return highest_doses if atom.reading == m.HIGHEST else cumulative_doses
    if isinstance(atom, m.Continuous):
        return without_break
    if isinstance(atom, m.StableDose):
        return stable_doses
    if isinstance(atom, m.Occurred) and kind is m.Kind.DATE:
        return dated
    if isinstance(atom, m.OfLatest):
        return most_recent
    if isinstance(atom, (m.Occurred, m.NoKnown, m.Latest)):
        occurred = occurred_of(atom)
        edgeless = occurred.window.kind == "ever" and not occurred.filters and not occurred.grade
        if edgeless:
            return None
        if occurred.window.kind == "during_any":
            if occurred.window.kept:
                raise Skip("a filter on the history 'during any' spans: not generated yet")
            return during_any
        return itself if on_itself(occurred) else during if occurred.window.kind == "during" \
            else windows
    if isinstance(atom, (m.Is, m.Truth)) and validity.expires(concept):
        return validity.recorded
    if isinstance(atom, m.Recorded):
        return validity.recorded_or_not
    if isinstance(atom, EDGELESS):
        return None
    raise Skip(f"no boundary cases for a {type(atom).__name__} yet")


def _against_reference(gen: EdgeCases, atom: m.CompareReference) -> list[Variant]:
    """A derived value against the reference range its declaration fixes: the cases of the
    comparison with factor x that limit (`formulas`), each said of the part as written."""
    compared = atom.as_compare(gen.concept(atom))
    return [replace(variant, atom=atom) for variant in formulas(gen, compared)]


def read_by(atom: Any) -> m.Ref:
    """The name an atom reads: its concept's, or the list's for a count of drugs on one list."""
    return atom.items[0].ref if isinstance(atom, m.AtLeast) else atom.ref


class EdgeCases:
    """Generates boundary cases for one network from one base patient (a fact-file record)."""

    def __init__(self, network: Network, base: dict[str, Any], base_path: str,
                 base_line: int = 1) -> None:
        self.network = network
        self.protocol = network.protocol
        self.normaliser = Normaliser(network.protocol, network.layout)
        self.base, self.base_path, self.base_line = base, base_path, base_line
        self.screening = self._patient(base).screening
        self.concepts = {c.name: c for c in self.protocol.concepts}
        self.explainer = Explainer(self.protocol, {})
        #: The changes left out, no verdict they lead to worked out (a criterion open on two
        #: counts, missing data and a pending judgment), by name.
        self.skipped: list[str] = []
        self._not_generated: dict[str, None] = {}  # each said once, in order
        #: How some cases were made, for the reviewer (a course of the cases' own to count from).
        self.notes: list[str] = []

    def _patient(self, data: dict[str, Any]) -> Patient:
        try:
            return self.normaliser.patient(copy.deepcopy(data), self.base_path, self.base_line,
                                           None)
        except FactError as error:
            raise UsageError(f"the base patient cannot be used: {error.problems[0]}") from None

    def base_patient(self) -> Patient:
        return self._patient(self.base)

    def concept(self, atom: Any) -> m.Concept:
        return self.concepts[atom.ref.name]

    def number(self, patient: Patient, name: str) -> Decimal | None:
        """A recorded number as the record holds it (in its concept's unit), None when missing,
        stale or known only within bounds; for `mean(qtcf, at least N)` (`formula.mean_of`),
        the exact mean of its latest day's results, None with fewer than N."""
        averaged = averaged_name(name)
        if averaged is not None:
            results = patient.record.get(R.day_field(averaged))
            if not results or len(results) < fewest(name):
                return None
            return sum((Decimal(repr(r)) for r in results), Decimal(0)) / len(results)
        value = patient.record.get(name)
        return Decimal(repr(value)) if isinstance(value, (int, float)) else None

    # -- what to vary ------------------------------------------------------------------------------
    def targets(self) -> list[tuple[Any, m.Criterion]]:
        """Every atom, with each leaf criterion that reads it (directly or through
        definitions), in protocol order."""
        found: list[tuple[Any, m.Criterion]] = []
        for leaf in self.network.leaves:
            for condition in (leaf.applies, leaf.condition):
                for atom in self._atoms(condition):
                    if (atom, leaf) not in found:
                        found.append((atom, leaf))
        return found

    def _atoms(self, condition: m.Condition | None) -> Iterator[Any]:
        """The atoms of a condition through its definitions; a count of drugs on one list
        (`X includes at least k of {...}`) is one, as the network decides it."""
        if condition is None:
            return
        if isinstance(condition, m.AtLeast) and condition.counts_one_list:
            yield condition
        elif isinstance(condition, (m.And, m.Or, m.AtLeast)):
            for item in condition.items:
                yield from self._atoms(item)
        elif isinstance(condition, m.Not):
            yield from self._atoms(condition.item)
        elif (definition := self.protocol.definition(condition.ref.name)) is not None:
            yield from self._atoms(definition.condition)
        else:
            yield condition

    # -- what to expect ----------------------------------------------------------------------------
    @property
    def not_generated(self) -> list[str]:
        """What no case was made for, and why, each once (two atoms of one formula at a line
        lack its input alike)."""
        return list(self._not_generated)

    def not_generate(self, why: str) -> None:
        self._not_generated[why] = None

    def cases(self) -> list[dict[str, Any]]:
        """Each variant as a scenario case, with the verdict of every criterion reading the atom
        that can be worked out; variants met twice (one threshold read by two criteria) once."""
        readers: dict[int, list[m.Criterion]] = {}
        order: list[Any] = []
        for atom, leaf in self.targets():
            if id(atom) not in readers:
                order.append(atom)
            readers.setdefault(id(atom), []).append(leaf)
        cases: dict[str, dict[str, Any]] = {}
        for atom in order:
            try:
                vary = generator(atom, self.concepts.get(read_by(atom).name))
                variants = vary(self, atom) if vary is not None else []
            except Skip as why:
                self.not_generate(f"line {atom.span.line}, {read_by(atom).name}: {why}")
                continue
            for variant in variants:
                if variant.name not in cases:
                    self._add(cases, variant, readers[id(atom)])
        return list(cases.values())

    def _add(self, cases: dict[str, dict], variant: Variant, readers: list[m.Criterion]) -> None:
        variant = self._without_narrower(variant)
        data = self._applied(variant)
        try:
            patient = self.normaliser.patient(copy.deepcopy(data), self.base_path, self.base_line,
                                           None)
        except FactError as error:  # a change the fact loader refuses: said, never guessed
            self.not_generate(f"{variant.name}: {error.problems[0]}")
            return
        verdicts = {}
        for leaf in readers:
            try:
                verdicts[leaf.id] = self._verdict(leaf, variant, patient)
            except _Unsettled:
                continue
        if not verdicts:
            self.skipped.append(variant.name)
            return
        cases[variant.name] = self._case(variant, data, verdicts)

    def _without_narrower(self, variant: Variant) -> Variant:
        """A case that gives or takes away a concept's facts takes away those of the concepts
        that count as it too, which would otherwise stand in for them (the base's fasting
        glucose confirming the glucose a case gives alone)."""
        changed = {f["concept"] for f in variant.replace} | set(variant.remove)
        given = {f.get("concept") for f in self.base["facts"]}
        narrower = tuple(c.name for c in self.protocol.concepts if c.counts_as is not None and
                         c.counts_as.name in changed and c.name in given and c.name not in changed)
        return replace(variant, remove=(*variant.remove, *narrower)) if narrower else variant

    def _applied(self, variant: Variant) -> dict[str, Any]:
        data = copy.deepcopy(self.base)
        if variant.moved_to is not None:  # the change is dated for the day it moves to
            data = moved(data, variant.moved_to - self.screening, self.protocol)
        if variant.birth_date is None:
            data.pop("birth_date", None)
        elif variant.birth_date != KEEP:
            data["birth_date"] = variant.birth_date
        changed = {f["concept"] for f in variant.replace} | set(variant.remove)
        data["facts"] = [f for f in data["facts"] if f.get("concept") not in changed]
        data["facts"] += copy.deepcopy(list(variant.replace))
        return data

    def truth_on(self, patient: Patient, variant: Variant | None = None,
                 opens: set[str] | None = None) -> Callable[[m.Condition], str]:
        """Strong Kleene over a condition for one patient: each atom as the trail judges it (a
        derived value by `formulas.values_of`), the atom under test as `variant` says; `opens`
        collects what leaves a part open: "U" data, "R" a pending judgment."""
        def value(condition: m.Condition) -> str:
            if atoms.of(condition) is not None:
                return atom(condition)
            if isinstance(condition, m.Not):
                return {"true": "false", "false": "true"}.get(value(condition.item), "unknown")
            values = [value(item) for item in condition.items]
            need = len(values) if isinstance(condition, m.And) else \
                condition.count if isinstance(condition, m.AtLeast) else 1
            if values.count("true") >= need:
                return "true"
            if values.count("true") + values.count("unknown") < need:
                return "false"
            return "unknown"

        def atom(part: Any) -> str:
            ref = getattr(part, "ref", None)
            definition = self.protocol.definition(ref.name) if ref is not None else None
            if definition is not None:
                return value(definition.condition)
            concept = self.concepts.get(ref.name) if ref is not None else None
            if variant is not None and part is variant.atom:
                status = variant.status
            elif concept is not None and concept.kind is m.Kind.DERIVED:
                status = self._derived(part, concept, patient, value)
            else:
                status = self.explainer.judge(part, patient)["status"]
            if status == "unknown" and opens is not None:
                opens.add("R" if concept is not None and concept.kind is m.Kind.JUDGMENT else "U")
            return status
        return value

    def _derived(self, part: Any, concept: m.Concept, patient: Patient, truth) -> str:
        if isinstance(part, m.CompareReference) and concept.reference is not None:
            part = part.as_compare(concept)  # against the range the protocol declares
        if not isinstance(part, m.Compare):
            raise _Unsettled
        try:  # a condition left unknown: each value it may have, decided where all agree
            numbers = values_of(concept, lambda n: self.number(patient, n), truth, self.concepts)
        except Open:
            return "unknown"
        held = {OPS[part.op](number, threshold_of(concept, part.threshold)) for number in numbers}
        return "unknown" if len(held) == 2 else "true" if held == {True} else "false"

    def _verdict(self, leaf: m.Criterion, variant: Variant, patient: Patient) -> str:
        opens: set[str] = set()
        value = self.truth_on(patient, variant, opens)
        applies = value(leaf.applies) if leaf.applies is not None else "true"
        if applies == "false":
            return "NOT_APPLICABLE"
        held = value(leaf.condition) if leaf.condition is not None else "true"
        if applies == "true" and held != "unknown":
            return "MET" if held == "true" else "NOT_MET"
        if held == ("true" if leaf.role is m.Role.INCLUSION else "false"):
            return "MET" if held == "true" else "NOT_MET"  # passes, applicable or not
        if len(opens) != 1:
            raise _Unsettled
        return "UNKNOWN" if opens == {"U"} else "NEEDS_REVIEW"

    def _case(self, variant: Variant, data: dict[str, Any], verdicts: dict[str, str]) -> dict:
        """One case as the file writes it. Its description says how the part under test reads;
        where a criterion it tests does not apply to the patient, it says so too, or an
        "unknown" there would read against the NOT_APPLICABLE expected."""
        unapplied = [c for c, v in verdicts.items() if v == "NOT_APPLICABLE"]
        how = variant.how + (f"; {', '.join(unapplied)} not applicable: its 'applies when' is "
                             "false for this patient" if unapplied else "")
        case: dict[str, Any] = {"name": variant.name, "description": how}
        if variant.moved_to is not None:
            case["facts"] = data["facts"]
            case["screening_date"] = variant.moved_to.isoformat()
            if "birth_date" in data:
                case["birth_date"] = data["birth_date"]
        else:
            case["base"] = self.base["patient"]
            if variant.birth_date != KEEP:
                case["birth_date"] = variant.birth_date
            if variant.remove:
                case["remove"] = list(variant.remove)
            if variant.replace:
                case["replace"] = list(variant.replace)
        case["expect"] = {"verdicts": verdicts}
        return case


__all__ = ["EdgeCases", "Variant", "render"]
