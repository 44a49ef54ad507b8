"""Phase one of checking a protocol: its declarations, read before any use (`protocol/checks.py`).

`Scope` records every declared name, first declaration first, so that the order of sections in
the file does not matter; the checks here read the declarations alone (a header, names declared
twice, units, equivalence tables, weights), and `diag` is how every check says what it found,
from its message template (`protocol/messages.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from protocol import model as m
from protocol import units
from protocol.errors import Diagnostic, Span, hint as _hint, templated
from protocol.messages import TEMPLATES, WARNINGS
from protocol.model import Kind

Target = m.Concept | m.Definition


@dataclass(frozen=True)
class Scope:
    """Every declared name, first declaration first: what uses are checked against."""

    concepts: dict[str, m.Concept]
    definitions: dict[str, m.Definition]
    equivalences: dict[str, m.Equivalence]

    @classmethod
    def of(cls, protocol: m.Protocol) -> Scope:
        return cls(
            concepts=first_by_name(protocol.concepts),
            definitions=first_by_name(protocol.definitions),
            equivalences=first_by_name(protocol.equivalences),
        )

    def lookup(self, name: str) -> Target | None:
        return self.concepts.get(name) or self.definitions.get(name)

    def names(self) -> list[str]:
        return [*self.concepts, *self.definitions]


def first_by_name(items: Iterable[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        found.setdefault(item.name, item)
    return found


def diag(kind: str, span: Span, /, **info: object) -> Diagnostic:
    return templated(TEMPLATES, WARNINGS, kind, span, **info)


# --- header, duplicates and declarations ----------------------------------------------------------


def contents(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """An empty file, or a header alone, compiled to a network with no rules, which crashed the
    engine; a protocol of escalation only (or a module of escalation rules or value sets) is not
    run."""
    here = Span(protocol.path, 1, 1, 1, 1)
    if _is_empty(protocol):
        yield diag("empty", here)
    elif not (protocol.criteria or protocol.escalations or protocol.designs or protocol.sets):
        yield diag("no-criteria", here, name=protocol.id or protocol.path)


def _is_empty(protocol: m.Protocol) -> bool:
    """Nothing but layout and comments: no header line and no section."""
    header = (protocol.id, protocol.title, protocol.version, protocol.origin)
    return all(v is None for v in header) and not any(
        getattr(protocol, f.name) for f in fields(protocol) if f.type.startswith("tuple"))


def header(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """A trail that cannot say which protocol and version decided is useless to an auditor."""
    if _is_empty(protocol):
        return  # said once, by `contents`
    for field, value in (("protocol", protocol.id), ("version", protocol.version)):
        if value is None:
            yield diag("missing-header", Span(protocol.path, 1, 1, 1, 1), field=field)


#: Words a condition is written with, which a concept or definition of that name would be read
#: as instead (`before screening` is the screening date, whatever concept is named so).
CONDITION_WORDS = frozenset({
    "screening", "and", "or", "not", "unless", "if", "else", "any", "ever", "the", "no", "known",
    "within", "before", "after", "during", "where"})


def duplicates(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """A second declaration would silently lose to the first; a shared id merges two verdicts."""
    yield from _repeats("duplicate-concept", ((c.name, c.span) for c in protocol.concepts))
    yield from _repeats("duplicate-definition", ((d.name, d.span) for d in protocol.definitions))
    yield from _repeats("duplicate-equivalence", ((e.name, e.span) for e in protocol.equivalences))
    yield from _repeats("duplicate-criterion", _criterion_ids(protocol))
    yield from _repeats("duplicate-map", (("map", fhir_map.span) for fhir_map in protocol.maps))
    for named in (*protocol.concepts, *protocol.definitions):
        if named.name in CONDITION_WORDS:
            yield diag("name-keyword", named.span, name=named.name)
    for definition in protocol.definitions:
        if definition.name in scope.concepts:
            line = scope.concepts[definition.name].span.line
            yield diag("name-clash", definition.span, name=definition.name, line=line)
    for named in protocol.sets:
        clash = scope.lookup(named.name)
        if clash is not None:
            yield diag("name-clash/set", named.span, name=named.name, line=clash.span.line)
    for each in (*protocol.concepts, *protocol.sets):
        names = ((n, v.span) for v in each.values for n in (v.name, *v.synonyms))
        yield from _repeats("duplicate-value", names, fold=True)
    for table in protocol.equivalences:
        yield from _repeats("duplicate-value", ((e.drug, e.span) for e in table.entries), fold=True)
    for concept in protocol.concepts:
        yield from _repeats("duplicate-value", ((a.name, a.span) for a in concept.attributes))
        for attribute in concept.attributes:
            names = ((n, v.span) for v in attribute.values for n in (v.name, *v.synonyms))
            yield from _repeats("duplicate-value", names, fold=True)


def _repeats(
    kind: str, items: Iterable[tuple[str, Span]], fold: bool = False
) -> Iterator[Diagnostic]:
    seen: dict[str, tuple[str, Span]] = {}
    for name, span in items:
        key = name.casefold() if fold else name
        if key not in seen:
            seen[key] = name, span
        elif seen[key][0] != name:  # a value and its synonym in other case: one to a fact
            yield diag(f"{kind}/case", span, name=name, first=seen[key][0],
                       line=seen[key][1].line)
        else:
            yield diag(kind, span, name=name, line=seen[key][1].line)


def _criterion_ids(protocol: m.Protocol) -> Iterator[tuple[str, Span]]:
    """Top-level ids, then part ids; the parts of a repeated criterion are not reported again."""
    top: set[str] = set()
    for criterion in protocol.criteria:
        yield criterion.id, criterion.span
        if criterion.id not in top:
            yield from ((part.id, part.span) for part in criterion.parts)
        top.add(criterion.id)


def declared_units(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """Units and validity windows of concepts, read once here so uses need not repeat them."""
    for concept in protocol.concepts:
        for unit, what in ((concept.unit, concept.kind.value), (concept.dosed_in, "dose")):
            if unit is not None and not parses(unit):
                yield diag("unit-unknown", concept.span, problem=unit_problem(unit))
            elif unit is not None and units.temperature(unit) and what != "quantity":
                yield diag("unit-temperature", concept.span, name=concept.name, unit=unit,
                           kind=what)
            elif unit is not None and concept.kind is Kind.QUANTITY and in_months(unit):
                yield diag("unit-months", concept.span, name=concept.name, unit=unit)
        for attribute in concept.attributes:
            if attribute.unit is not None and not parses(attribute.unit):
                yield diag("unit-unknown", attribute.span, problem=unit_problem(attribute.unit))
            elif attribute.unit is not None and in_months(attribute.unit):  # "730 d": 23.98
                yield diag("unit-months", attribute.span, name=f"{concept.name}'s "
                           f"{attribute.name}", unit=attribute.unit)
        for conversion in concept.conversions:
            for quantity in (conversion.source, conversion.target):
                if quantity.unit is None:
                    yield diag("unit-unknown/missing", quantity.span, quantity=quantity)
                elif not parses(quantity.unit):
                    yield diag("unit-unknown", quantity.span, problem=unit_problem(quantity.unit))
            if conversion.offset is not None:
                yield from _offset(concept, conversion)
            elif not (conversion.source.value and conversion.target.value):
                yield diag("conversion/zero", conversion.span, conversion=str(conversion))


def in_months(unit: str) -> bool:
    """Whether a measured concept's unit is a length of time in months or years, which pint
    converts from weeks and days by an average month (a twelfth of 365.25 days).

    >>> in_months("month"), in_months("years"), in_months("wk"), in_months("mg/month")
    (True, True, False, False)
    """
    return units.same_dimension(unit, "d") and units.days_in(unit) is None


def _offset(concept: m.Concept, conversion: m.Conversion) -> Iterator[Diagnostic]:
    """A conversion with an offset (`% = 0.09148 x mmol/mol + 2.152`) converts results into the
    concept's unit and back: not a lab's, whose ratio to its reference range it would not keep;
    by a factor that is not 0; from or into the concept's unit."""
    said = {"name": concept.name, "conversion": str(conversion), "unit": concept.unit}
    ends = [q.unit for q in (conversion.source, conversion.target)]
    if concept.kind is Kind.LAB:
        yield diag("conversion-offset/lab", conversion.span, **said)
    elif not conversion.target.value:
        yield diag("conversion-offset/zero", conversion.span, **said)
    elif concept.unit and parses(concept.unit) and all(unit and parses(unit) for unit in ends) \
            and not any(units.same_dimension(unit, concept.unit) for unit in ends):
        yield diag("conversion-offset/unrelated", conversion.span, **said)


def attributes(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """An attribute is read from a fact's field of its name: not one every fact already has."""
    for concept in protocol.concepts:
        for attribute in concept.attributes:
            if attribute.name in m.RESERVED_ATTRIBUTES:
                yield diag("reserved-attribute", attribute.span, attribute=attribute.name,
                           kind=concept.kind.value)
            elif attribute.name == m.DURATION and concept.kind is m.Kind.MEDICATION:
                yield diag("reserved-attribute/duration", attribute.span)


def equivalences(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """A dosed medication converts each drug's dose through its table; a gap leaves it unread."""
    for table in protocol.equivalences:
        for entry in table.entries:
            yield from _equivalence_entry(table, entry)
    for concept in protocol.concepts:
        if concept.equivalence is None:
            continue
        table = scope.equivalences.get(concept.equivalence)
        if table is None:
            hint = _hint(concept.equivalence, scope.equivalences)
            name = concept.equivalence
            yield diag("undefined-name/equivalence", concept.span, name=name, hint=hint)
            continue
        drugs = {entry.drug.casefold() for entry in table.entries}
        for value in concept.values:
            if not any(n.casefold() in drugs for n in (value.name, *value.synonyms)):
                info = {"drug": value.name, "name": concept.name, "table": table.name}
                yield diag("missing-equivalence", value.span, **info)


def weights(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """`dosed in mg/kg/d ... per weight`: the dose is divided by that concept, a body mass."""
    for concept in protocol.concepts:
        ref = concept.weight
        if ref is None:
            continue
        target = scope.concepts.get(ref.name)
        if target is None:
            yield diag("undefined-name", ref.span, name=ref.name,
                       hint=_hint(ref.name, scope.concepts))
        elif target.kind is not Kind.QUANTITY or not units.same_dimension(target.unit or "", "kg"):
            yield diag("type-mismatch", ref.span, name=ref.name, kind=f"a {target.kind.value}",
                       advice="a dose per kg is divided by a quantity measured in kg")


def _equivalence_entry(table: m.Equivalence, entry: m.EquivalenceEntry) -> Iterator[Diagnostic]:
    sides = (entry.amount, entry.equals)
    unknown = [q for q in sides if q.unit is not None and not parses(q.unit)]
    for quantity in unknown:
        yield diag("unit-unknown", quantity.span, problem=unit_problem(quantity.unit))
    if not unknown and not all(_is_mass(q) for q in sides):
        info = {"table": table.name, "drug": entry.drug, "amount": entry.amount}
        yield diag("equivalence", entry.span, equals=entry.equals, **info)


def _is_mass(quantity: m.Quantity) -> bool:
    unit = quantity.unit
    return unit is not None and quantity.value > 0 and units.same_dimension(unit, "mg")


def parses(unit: str) -> bool:
    return unit_problem(unit) is None


def unit_problem(unit: str) -> str | None:
    """Why a unit the protocol writes cannot be read, as the fact reader says it of a fact's
    (`K/uL`: pint's K is kelvin; write 10^3/uL, or declare what it means); None when it reads."""
    try:
        units.parse_unit(unit)
    except units.UnitProblem as problem:
        return str(problem)
    return None
