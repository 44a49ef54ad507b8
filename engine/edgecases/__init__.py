"""Boundary patients: for each threshold and window of a protocol, the patients at its edges, with
the verdicts they must get, written as scenarios for the author to review and keep.

From one base patient, each generated case changes one concept:
- a measured value against a threshold (`egfr >= 30 mL/min/1.73m2`): at the threshold, one step
  below and one above (the step is the rounding rule's, 0.000001 of the concept's unit; 1 for a
  scale), the threshold as the protocol writes it when that is another unit of the same dimension,
  and no value at all;
- an occurrence against a window before screening (`live_vaccine within 4 weeks before
  screening`): on the window's first day, on the screening day, on the day before the first day,
  and, for windows in months or years, the same three with the patient screened on a month's last
  day (every date of the patient moved alike), where the calendar clamps the window's first day.

The expected verdicts are worked out here, never by the network: the part under test by exact
decimal comparison or calendar arithmetic (`dateutil.relativedelta`) on what the case writes; the
criterion's other parts as the trail judges them for that patient (`engine.evidence`, the atoms'
`judge`, which is not the network's compiled patterns); the whole by strong Kleene logic over the
criterion's and/or/not/at-least tree, through its definitions. A criterion whose verdict this
cannot settle (a derived value read, a pending judgment beside missing data) gets no expectation;
a case with none is left out and counted.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterator

from dateutil.relativedelta import relativedelta

from engine import atoms
from engine.atoms.base import OPS, threshold_of
from engine.compile import Network
from engine.evidence import Explainer
from engine.facts import Normaliser
from protocol import model as m
from protocol.errors import FactError, UsageError
from protocol.units import QUANTUM, UnitProblem, factor, quantize

#: Measured kinds whose threshold a case can sit on (age comes from a birth date; derived values
#: from their formula's inputs: neither is one fact to set).
THRESHOLDED = (m.Kind.QUANTITY, m.Kind.LAB, m.Kind.SCORE, m.Kind.SCALE)


class _Unsettled(Exception):
    """A criterion's verdict this module cannot work out on its own."""


@dataclass(frozen=True)
class Variant:
    """One change to the base patient, and what it makes of the atom under test."""

    name: str
    how: str  # how the expected status of the atom was worked out
    atom: Any
    status: str  # "true" | "false" | "unknown"
    replace: tuple[dict, ...] = ()
    remove: tuple[str, ...] = ()
    moved_to: date | None = None  # screened on this day instead, every date moved alike


class EdgeCases:
    """Generates boundary cases for one network from one base patient (a fact-file record)."""

    def __init__(self, network: Network, base: dict[str, Any], base_path: str) -> None:
        self.network = network
        self.protocol = network.protocol
        self.normaliser = Normaliser(network.protocol, network.layout)
        self.base, self.base_path = base, base_path
        self.screening = self._patient(base).screening
        self.skipped = 0

    def _patient(self, data: dict[str, Any]):
        try:
            return self.normaliser.patient(copy.deepcopy(data), self.base_path, 1, None)
        except FactError as error:
            raise UsageError(f"the base patient cannot be used: {error.problems[0]}") from None

    # -- what to vary ------------------------------------------------------------------------------
    def targets(self) -> list[tuple[Any, m.Criterion]]:
        """Every threshold and window atom, with each leaf criterion that reads it (directly or
        through definitions), in protocol order."""
        found: list[tuple[Any, m.Criterion]] = []
        for leaf in self.network.leaves:
            for condition in (leaf.applies, leaf.condition):
                for atom in self._atoms(condition):
                    if self._varied(atom) and (atom, leaf) not in found:
                        found.append((atom, leaf))
        return found

    def _atoms(self, condition: m.Condition | None) -> Iterator[Any]:
        for atom in m.atoms(condition) if condition is not None else ():
            definition = self.protocol.definition(atom.ref.name)
            if definition is not None:
                yield from self._atoms(definition.condition)
            else:
                yield atom

    def _varied(self, atom: Any) -> bool:
        concept = self.protocol.concept(atom.ref.name)
        if isinstance(atom, m.Compare):
            return concept is not None and concept.kind in THRESHOLDED
        if isinstance(atom, m.Occurred) and not atom.filters and atom.grade is None:
            window = atom.window
            return window.kind == "within" and window.direction == "before" and \
                window.anchor is None and concept is not None and concept.kind is m.Kind.EVENT
        return False

    def variants(self, atom: Any) -> list[Variant]:
        return self._thresholds(atom) if isinstance(atom, m.Compare) else self._windows(atom)

    def _thresholds(self, atom: m.Compare) -> list[Variant]:
        concept = self.protocol.concept(atom.ref.name)
        assert concept is not None
        threshold = threshold_of(concept, atom.threshold)
        step = Decimal(1) if concept.kind is m.Kind.SCALE else QUANTUM
        unit = concept.unit if concept.kind not in m.UNITLESS else None
        old = [f for f in self.base["facts"] if f.get("concept") == concept.name]
        kept = {k: v for k, v in (old[-1] if old else {}).items()
                if k in ("date", "reference_range")}
        kept.setdefault("date", (self.screening - timedelta(days=1)).isoformat())
        written = f"{atom.ref.name} {atom.op} {atom.threshold}"
        out = []
        for value, where in ((threshold - step, "one step under"), (threshold, "at"),
                             (threshold + step, "one step over")):
            value = _tidy(value)
            held = OPS[atom.op](value, threshold)
            shown = f"{value} {unit}" if unit else str(value)
            out.append(Variant(
                f"{concept.name} {shown}: {where} {written}",
                f"{value} {atom.op} {_tidy(threshold)} is {str(held).lower()} "
                f"(step {_tidy(step)})",
                atom, "true" if held else "false",
                replace=({"concept": concept.name, "value": value,
                          **({"unit": unit} if unit else {}), **kept},)))
        other = _other_unit(concept, threshold, atom.threshold.unit, self.protocol.aliases)
        if other is not None:
            value, other_unit = other
            out.append(Variant(
                f"{concept.name} {value} {other_unit}: at {written}, in another unit",
                f"{value} {other_unit} is exactly {_tidy(threshold)} {unit}: at the threshold, "
                f"{atom.op} is {str(OPS[atom.op](threshold, threshold)).lower()}", atom,
                "true" if OPS[atom.op](threshold, threshold) else "false",
                replace=({"concept": concept.name, "value": value, "unit": other_unit, **kept},)))
        if old:
            out.append(Variant(f"no {concept.name}: {written}", "no value: unknown", atom,
                               "unknown", remove=(concept.name,)))
        return out

    def _windows(self, atom: m.Occurred) -> list[Variant]:
        duration = atom.window.duration
        assert duration is not None
        days = [(self.screening, None)]
        if duration.unit in ("months", "years"):
            days.append((_month_end(self.screening, duration.unit), "screened on a month's end"))
        written = f"{atom.ref.name} within {duration} before screening"
        out = []
        for screening, note in days:
            first = screening - relativedelta(**{duration.unit: duration.amount})
            suffix = f", {note} {screening}" if note else ""
            for day, where, held in ((first, "the window's first day", True),
                                     (screening, "the screening day", True),
                                     (first - timedelta(days=1), "the day before the window",
                                      False)):
                out.append(Variant(
                    f"{atom.ref.name} on {day}: {where} of {written}{suffix}",
                    f"screening {screening} - {duration} = {first} (dateutil); {day} is "
                    f"{'inside' if held else 'outside'}", atom, "true" if held else "false",
                    replace=({"concept": atom.ref.name, "date": day.isoformat(),
                              "end": day.isoformat()},),
                    moved_to=screening if note else None))
        if any(f.get("concept") == atom.ref.name for f in self.base["facts"]):
            out.append(Variant(f"no {atom.ref.name}: {written}", "nothing recorded: unknown",
                               atom, "unknown", remove=(atom.ref.name,)))
        return out

    # -- what to expect ----------------------------------------------------------------------------
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
            for variant in self.variants(atom):
                if variant.name in cases:
                    continue
                data = self._applied(variant)
                verdicts = {}
                for leaf in readers[id(atom)]:
                    try:
                        verdicts[leaf.id] = self._verdict(leaf, variant, data)
                    except _Unsettled:
                        continue
                if not verdicts:
                    self.skipped += 1
                    continue
                cases[variant.name] = self._case(variant, data, verdicts)
        return list(cases.values())

    def _applied(self, variant: Variant) -> dict[str, Any]:
        data = copy.deepcopy(self.base)
        if variant.moved_to is not None:  # the change is dated for the day it moves to
            data = _moved(data, variant.moved_to - self.screening, self.protocol)
        changed = {f["concept"] for f in variant.replace} | set(variant.remove)
        data["facts"] = [f for f in data["facts"] if f.get("concept") not in changed]
        data["facts"] += copy.deepcopy(list(variant.replace))
        return data

    def _verdict(self, leaf: m.Criterion, variant: Variant, data: dict[str, Any]) -> str:
        patient = self._patient(data)
        explainer = Explainer(self.protocol, {})
        opens: set[str] = set()

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
            if part is variant.atom:
                status = variant.status
            else:
                concept = self.protocol.concept(part.ref.name) if hasattr(part, "ref") else None
                if concept is not None and concept.kind is m.Kind.DERIVED:
                    raise _Unsettled
                status = explainer.judge(part, patient)["status"]
            if status == "unknown":
                concept = self.protocol.concept(part.ref.name) if hasattr(part, "ref") else None
                opens.add("R" if concept is not None and concept.kind is m.Kind.JUDGMENT else "U")
            return status

        applies = value(leaf.applies) if leaf.applies is not None else "true"
        if applies == "false":
            return "NOT_APPLICABLE"
        held = value(leaf.condition) if leaf.condition is not None else "true"
        if applies == "true" and held != "unknown":
            return "MET" if held == "true" else "NOT_MET"
        if len(opens) != 1:
            raise _Unsettled
        return "UNKNOWN" if opens == {"U"} else "NEEDS_REVIEW"

    def _case(self, variant: Variant, data: dict[str, Any], verdicts: dict[str, str]) -> dict:
        case: dict[str, Any] = {"name": variant.name, "description": variant.how}
        if variant.moved_to is not None:
            case["facts"] = data["facts"]
            case["screening_date"] = variant.moved_to.isoformat()
            if "birth_date" in data:
                case["birth_date"] = data["birth_date"]
        else:
            case["base"] = self.base["patient"]
            if variant.remove:
                case["remove"] = list(variant.remove)
            if variant.replace:
                case["replace"] = list(variant.replace)
        case["expect"] = {"verdicts": verdicts}
        return case


#: Units a threshold may be restated in, tried in order after the one the protocol writes and
#: those its concept declares conversions to: the first of the concept's dimension in which the
#: threshold is an exact number of at most six places is used.
OTHER_UNITS = ("mL/s/1.73m2", "mL/min/1.73m2", "mg/dL", "umol/L", "g/L", "g/dL", "mmol/L",
               "x10^9/L", "/uL", "mL/s", "mL/min", "lb", "kg", "cm", "m")


def _other_unit(concept: m.Concept, threshold: Decimal, written: str | None,
                aliases: tuple) -> tuple[Decimal, str] | None:
    """The threshold in another unit of the concept's dimension, exactly, or None."""
    if concept.unit is None or concept.kind in m.UNITLESS:
        return None
    declared = [u for c in concept.conversions for u in (c.source.unit, c.target.unit)]
    for unit in dict.fromkeys([written, *declared, *OTHER_UNITS]):
        if unit is None or unit == concept.unit:
            continue
        try:
            rate = factor(unit, concept.unit, concept.factors, aliases=aliases)
        except (UnitProblem, ValueError):
            continue
        value = threshold / rate
        if value == quantize(value) and quantize(value * rate) == threshold:
            return _tidy(value), unit
    return None


def _tidy(number: Decimal) -> Decimal:
    """A decimal without trailing zeros or an exponent: 30.000000 is written 30, not 3E+1."""
    return Decimal(format(number.normalize(), "f"))


def _month_end(screening: date, unit: str) -> date:
    """A screening day where subtracting months or years clamps: March 31 (a month back is
    February's end), or for years February 29 of the next leap year."""
    if unit == "months":
        return date(screening.year, 3, 31)
    year = screening.year
    while not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        year += 1
    return date(year, 2, 29)


def _moved(data: dict[str, Any], delta: timedelta, protocol: m.Protocol) -> dict[str, Any]:
    """The patient screened `delta` later, every date moved alike (facts stay as old)."""
    def day(text: Any) -> Any:
        try:
            return (date.fromisoformat(text) + delta).isoformat()
        except (TypeError, ValueError):
            return text

    dated = {c.name for c in protocol.concepts if c.kind is m.Kind.DATE}
    moved = copy.deepcopy(data)
    for key in ("screening_date", "birth_date"):
        if key in moved:
            moved[key] = day(moved[key])
    for fact in moved["facts"]:
        for key in ("date", "end"):
            if key in fact:
                fact[key] = day(fact[key])
        if fact.get("concept") in dated and "value" in fact:
            fact["value"] = day(fact["value"])
    return moved


def render(cases: list[dict[str, Any]], protocol_path: str, base_file: str, skipped: int) -> str:
    """The cases as a scenario file: YAML whose values are written as JSON (a YAML subset), so
    that text stays text and numbers stay exact."""
    lines = [
        f"# Boundary cases of {protocol_path},",
        "# made by `proto-rules edge-cases`: review them, then keep them. Each case changes one",
        "# concept of the base patient; its expected verdicts are",
        "# worked out without the network: the part under test by exact decimal comparison or",
        "# calendar arithmetic (each case's description says how), the criterion's other parts as",
        "# the trail judges them, the whole by Kleene logic over the criterion and its",
        "# definitions.",
    ]
    if skipped:
        lines.append(f"# {skipped} changes are left out: no verdict they lead to could be worked "
                     "out here.")
    lines += [f"patients: [{json.dumps(base_file)}]", "cases:"]
    for case in cases:
        lines.append(f"  - name: {_json(case['name'])}")
        for key in ("description", "base", "screening_date", "birth_date", "remove"):
            if key in case:
                lines.append(f"    {key}: {_json(case[key])}")
        for key in ("replace", "facts"):
            if key in case:
                lines.append(f"    {key}:")
                lines.extend(f"      - {_json(fact)}" for fact in case[key])
        verdicts = ", ".join(f"{k}: {v}" for k, v in case["expect"]["verdicts"].items())
        lines.append(f"    expect: {{verdicts: {{{verdicts}}}}}")
    return "\n".join(lines) + "\n"


def _json(value: Any) -> str:
    """JSON text, exact decimals written digit for digit as numbers (json would go through float,
    which rounds long ones): each is marked as text, then unquoted."""
    text = json.dumps(value, ensure_ascii=False,
                      default=lambda d: f"{_MARK}{format(d, 'f')}{_MARK}")
    return re.sub(f'"{_MARK}([-0-9.]+){_MARK}"', r"\1", text)


_MARK = "\u00a7"  # a character no number has; json writes it as itself (ensure_ascii off)


__all__ = ["EdgeCases", "Variant", "render"]
