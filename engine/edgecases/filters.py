"""Boundary cases of a history's filter: `cancer other than {basal_cell_carcinoma} within 5 years
before screening`, `cyclophosphamide where route is intravenous within 90 days before day_0`,
`first_line_therapy where drug is one of {rituximab, obinutuzumab} ever`, `glucocorticoid where
dose > 10 mg/d at screening`.

The window's cases (`windows`) use an item that passes every clause; here, on a day inside the
window, each filtered attribute is given a value that fails its clauses (false: the one item
surely fails), and is left unrecorded (unknown: it may or may not pass). The values are read from
the concept's declaration and the clause as the README says: `is` passes the values named, `is
not` and `other than` every other declared value. A dose clause is worked out by
`amounts.daily` (through the equivalence table): the item passes with the dose nearest the first
clause's threshold that passes every dose clause, in the unit the medication is dosed in, of the
drug a drug clause passes (else the table's reference drug), and fails with the nearest dose that
fails one; a course without a dose may or may not pass. For a medication dosed per kg of body
weight, the item also gives its dose per day through the weight (`through_weight`, as
`amounts.per_day` puts it at the first clause's threshold: at it times the weight, the nearest
doses where the rounded quotient turns, and no weight recorded, which leaves it unknown).

Clauses in parentheses, `(line is 1 or response is refractory)`, are one clause: the passing item
passes it by its first attribute alone (each other attribute at a value that fails its clauses);
then every attribute failing (false), each other attribute passing instead, and each left
unrecorded, whether each passes worked out clause by clause in Kleene's `or` (`_either`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import ceil
from typing import TYPE_CHECKING, Any, Callable

from engine.atoms.base import OPS
from engine.atoms.filters import amount_of
from engine.edgecases.amounts import (daily, dosing, per_day, rounded, threshold, weight_change,
                                      weight_of)
from engine.edgecases.base import Skip, tidy
from engine.shape import holds
from protocol import model as m
from protocol.units import QUANTUM

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases


def _attribute(clause: m.Where, concept: m.Concept) -> m.Attribute:
    attribute = concept.attribute(clause.attribute.name if clause.attribute else None)
    if attribute is None:  # pragma: no cover - the checker refuses it
        raise Skip(f"a filter on an attribute {concept.name} does not declare")
    if attribute.name == m.DURATION and concept.dated_duration:
        raise Skip(f"a filter on a duration worked out from dates ('{clause}'): its items are "
                   "not generated")
    return attribute


def _passes(clause: m.Where, attribute: m.Attribute, value: str) -> bool:
    named = {attribute.canonical(v.name) or v.name for v in clause.values}
    negated = clause.negated or clause.attribute is None  # `other than {...}` is `is not`
    return (value in named) != negated


@dataclass(frozen=True)
class Changed:
    """The passing item with some fields changed: what it gives (`what`: "route oral", or the
    field it leaves out when not `recorded`), its fields (None: not recorded), whether it then
    passes the filter ("true", "false", "unknown") and why."""

    what: str
    fields: dict[str, Any]
    held: str
    why: str
    recorded: bool = True


def item_values(gen: EdgeCases, occurred: m.Occurred) -> tuple[dict, list[Changed]]:
    """The fields of an item that passes every clause, and that item changed: each filtered
    attribute at a declared value that fails one of its clauses (when there is one), a dose that
    fails, each left unrecorded; then the changes of each `(a or b)` (`_either`)."""
    concept = gen.concept(occurred)
    plain = [c for c in occurred.filters if isinstance(c, m.Where)]
    clauses: dict[str, list[m.Where]] = {}
    attributes: dict[str, m.Attribute] = {}
    for clause in (c for c in plain if c.dose is None and c.amount is None):
        attribute = _attribute(clause, concept)
        attributes[attribute.name] = attribute
        clauses.setdefault(attribute.name, []).append(clause)
    passing, failing = {}, []
    for name, attribute in attributes.items():
        values = [v.name for v in attribute.values]
        good = [v for v in values if all(_passes(c, attribute, v) for c in clauses[name])]
        bad = [v for v in values if not all(_passes(c, attribute, v) for c in clauses[name])]
        if not good:
            raise Skip(f"no declared {name} passes the filter")
        passing[name] = good[0]
        if bad:
            failing.append((name, bad[0]))
    for name, (good, bad) in _numbers(plain, concept).items():
        passing[name] = good
        if bad is not None:
            failing.append((name, bad))
    doses = [clause for clause in plain if clause.dose is not None]
    if doses:
        fields, fails = _dose_values(gen, concept, doses, passing.get(m.DRUG))
        passing.update(fields)
        if fails is not None:
            failing.append((m.DOSE, fails))
    changes = [Changed(f"{name} {value}", {name: value}, "false",
                       f"{name} {value} fails the filter") for name, value in failing]
    changes += [Changed(name, gone, "unknown", f"no {name} recorded: it may or may not pass",
                        recorded=False) for name, gone in unrecorded(concept, passing)]
    read = {m.DOSE if c.dose is not None else _attribute(c, concept).name for c in plain}
    for group in (c for c in occurred.filters if isinstance(c, m.Either)):
        given, more = _either(gen, group, concept, read, passing.get(m.DRUG))
        passing.update(given)
        changes += more
    return passing, changes


@dataclass(frozen=True)
class _Value:
    """A value an item may give for what a clause reads: as a case names it (`line 2`, `dose
    20 mg/d`), the fields it gives, and what the clause tests (a name, or a number)."""

    shown: str
    fields: dict[str, Any]
    tested: Any


def counted_values(occurred: m.Occurred, attribute: m.Attribute) -> list[str]:
    """The declared values of the attribute a count is by that pass the filter's clauses on it
    (`at least 2 routes of x where route is not oral`: the routes other than oral)."""
    if any(isinstance(c, m.Either) and any(w.attribute is not None and w.attribute.name ==
                                           attribute.name for w in c.clauses)
           for c in occurred.filters):
        raise Skip(f"a count by {attribute.name}, which a filter's parentheses read: its items "
                   "are not generated")
    clauses = [c for c in occurred.filters if isinstance(c, m.Where) and c.attribute is not None
               and c.attribute.name == attribute.name]
    return [v.name for v in attribute.values if all(_passes(c, attribute, v.name)
                                                    for c in clauses)]


def _either(gen: EdgeCases, group: m.Either, concept: m.Concept, read: set[str],
            drug: str | None) -> tuple[dict[str, Any], list[Changed]]:
    """`(a or b)`: the fields of an item that passes it by what its first clause reads alone
    (each other attribute, or the dose, at a value that fails its clauses), and that item
    changed: every one failing (false), each other passing instead, each left unrecorded;
    whether each passes worked out clause by clause in Kleene's `or`."""
    tests: dict[str, list[tuple[Callable[[Any], bool], list[_Value]]]] = {}
    for clause in group.clauses:
        name = m.DOSE if clause.dose is not None else _attribute(clause, concept).name
        if name in read:
            raise Skip(f"{name} is read inside '{group}' and by another clause of the filter: "
                       "its items are not generated")
        tests.setdefault(name, []).append(_candidates(gen, clause, concept, drug))
    if m.DOSE in tests and m.DRUG in tests:
        raise Skip(f"a dose and a drug inside '{group}': its items are not generated")
    read.update(tests)
    good, bad = {}, {}
    for name, found in tests.items():
        candidates = [v for _, values in found for v in values]
        good[name] = next((v for v in candidates if any(p(v.tested) for p, _ in found)), None)
        bad[name] = next((v for v in candidates if not any(p(v.tested) for p, _ in found)),
                         None)
    lead = next((name for name in tests if good[name] is not None), None)
    if lead is None:
        raise Skip(f"no value passes '{group}'")
    given = {name: good[name] if name == lead or bad[name] is None else bad[name]
             for name in tests}

    def held(values: dict[str, _Value | None]) -> str:
        return holds("any", ["unknown" if values[name] is None else
                             str(p(values[name].tested)).lower()
                             for name, found in tests.items() for p, _ in found])

    def fact(values: dict[str, _Value | None]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name, value in values.items():
            fields.update(value.fields if value is not None else
                          {name: None, **({"unit": None} if name == m.DOSE else {})})
        return fields

    out = []
    if all(bad[name] is not None for name in tests):
        what = " and ".join(bad[name].shown for name in tests)
        out.append(Changed(what, fact(dict(bad)), held(dict(bad)), f"{what} fails {group}"))
    for name in tests:
        if name != lead and good[name] is not None and bad[lead] is not None:
            values = {**given, lead: bad[lead], name: good[name]}
            what = f"{bad[lead].shown} and {good[name].shown}"
            out.append(Changed(what, fact(values), held(values),
                               f"{good[name].shown} passes {group}"))
    for name in (n for n in tests if n != m.DRUG or concept.kind is not m.Kind.MEDICATION):
        values = {**given, name: None}  # never a course's drug, which every course names
        status = held(values)
        why = "it may or may not pass" if status == "unknown" else f"{group} is {status}"
        out.append(Changed(name, fact(values), status, f"no {name} recorded: {why}",
                           recorded=False))
    return fact(given), out


def _candidates(gen: EdgeCases, clause: m.Where, concept: m.Concept, drug: str | None
                ) -> tuple[Callable[[Any], bool], list[_Value]]:
    """A clause as a test of what it reads, and the values to try on it: each declared value;
    the numbers nearest its threshold; the doses of the drug (`drug`, else the equivalence
    table's reference) nearest its threshold, each worked out by `amounts.daily`."""
    if clause.dose is not None:
        dosed, drug, passes, doses = _doses_near(gen, concept, [clause], drug)
        return passes, [_Value(f"dose {tidy(x)} {dosed.unit}", {
            m.DRUG: drug, m.DOSE: tidy(x), "unit": dosed.unit}, x) for x in doses]
    attribute = _attribute(clause, concept)
    if clause.amount is None:
        return (lambda value: _passes(clause, attribute, value)), [
            _Value(f"{attribute.name} {v.name}", {attribute.name: v.name}, v.name)
            for v in attribute.values]
    assert clause.op is not None
    at, compare = amount_of(clause, attribute), OPS[clause.op]
    unit = f" {attribute.unit}" if attribute.unit else ""
    return (lambda value: compare(value, at)), [
        _Value(f"{attribute.name} {tidy(x)}{unit}",
               {attribute.name: f"{tidy(x)}{unit}" if unit else tidy(x)}, x)
        for x in (at, at + QUANTUM, at - QUANTUM)]


def _numbers(plain: list[m.Where], concept: m.Concept) -> dict[str, tuple[Any, Any]]:
    """For each number a filter compares (`diameter >= 10 mm`), as a fact gives it: the value
    nearest the first clause's threshold that passes every clause on it (the threshold itself
    where it does), and the nearest that fails one (None: none within a step)."""
    limits: dict[str, list[tuple[str, Decimal]]] = {}
    attributes: dict[str, m.Attribute] = {}
    for clause in (c for c in plain if c.amount is not None):
        assert clause.op is not None
        attribute = attributes.setdefault(clause.attribute.name if clause.attribute else "",
                                          _attribute(clause, concept))
        limits.setdefault(attribute.name, []).append((clause.op, amount_of(clause, attribute)))
    out = {}
    for name, bounds in limits.items():
        nearest = [at + k * QUANTUM for _, at in bounds for k in (0, 1, -1)]

        def passes(x: Decimal, bounds: list = bounds) -> bool:
            return all(OPS[op](x, at) for op, at in bounds)

        good = next((x for x in nearest if passes(x)), None)
        if good is None:
            raise Skip(f"no {name} near the filter's thresholds passes it")
        bad = next((x for x in nearest if not passes(x)), None)
        unit = attributes[name].unit
        out[name] = tuple(None if x is None else f"{tidy(x)} {unit}" if unit else tidy(x)
                          for x in (good, bad))
    return out


def _dose_values(gen: EdgeCases, concept: m.Concept, clauses: list[m.Where], drug: str | None
                 ) -> tuple[dict[str, Any], Decimal | None]:
    """An item's drug, dose and unit that pass every dose clause, and the nearest dose that
    fails one (None: none within reach), each worked out by `amounts.daily`."""
    dosed, drug, passes, doses = _doses_near(gen, concept, clauses, drug)
    found: dict[bool, Decimal] = {}
    for value in doses:  # the first that passes, and the first that fails
        found.setdefault(passes(value), tidy(value))
    if True not in found:
        raise Skip("no dose near the filter's thresholds passes it")
    return {m.DRUG: drug, m.DOSE: found[True], "unit": dosed.unit}, found.get(False)


def _doses_near(gen: EdgeCases, concept: m.Concept, clauses: list[m.Where], drug: str | None
                ) -> tuple[Any, str, Callable[[Decimal], bool], list[Decimal]]:
    """How the medication is dosed, the drug a case gives a dose of (`drug`, else the
    equivalence table's reference, else its first), whether a daily dose of it passes every
    dose clause (worked out by `amounts.daily`), and the doses to try: around each threshold in
    turn, the nearest first, as far as steps of the drug's dose move its equivalent past it."""
    dosed = dosing(gen, concept)
    drug = drug or dosed.reference or next(iter(dosed.ratios), concept.values[0].name)
    if drug not in dosed.ratios:
        raise Skip(f"{drug} has no entry in {concept.equivalence}: its dose cannot be read")
    limits = [(c.op, threshold(dosed, c.dose)) for c in clauses if c.dose is not None]
    ratio = dosed.ratios[drug]
    reach = ceil(1 / ratio) + 2  # a step of the drug's dose moves its equivalent by `ratio`

    def passes(dose: Decimal) -> bool:
        amount, _ = daily(dosed, drug, dose, dosed.unit, None)
        return amount is not None and all(OPS[op](amount, at) for op, at in limits)

    starts = [rounded(Fraction(at) / ratio) for _, at in limits]
    return dosed, drug, passes, [value for start in starts for k in range(reach)
                                 for value in (start + k * QUANTUM, start - k * QUANTUM)
                                 if value >= 0]


@dataclass(frozen=True)
class PerDay:
    """An item's dose given per day, through the weight: its label, the fields it gives, whether
    it passes every dose clause ("true", "false", "unknown"), how that was worked out, and the
    weight fact the case gives (`replace`) or takes away (`remove`)."""

    label: str
    fields: dict[str, Any]
    passes: str
    how: str
    replace: tuple[dict, ...]
    remove: tuple[str, ...]


def through_weight(gen: EdgeCases, occurred: m.Occurred, passing: dict[str, Any]
                   ) -> list[PerDay]:
    """For a dose filter on a medication dosed per kg: the passing item's drug given per day,
    each dose worked out by `amounts.daily` through the weight (see the module's docstring)."""
    clauses = [c for c in occurred.filters if isinstance(c, m.Where) and c.dose is not None]
    if not clauses:
        return []
    dosed = dosing(gen, gen.concept(occurred))
    limits = [(c.op, threshold(dosed, c.dose)) for c in clauses if c.dose is not None]
    out = []
    for given in per_day(dosed, limits[0][1], limits[0][0], passing[m.DRUG]):
        amount, note = daily(dosed, given.drug, given.dose, given.unit, weight_of(dosed, given))
        if amount is None:
            passes, how = "unknown", f"{note}: it may or may not pass"
        else:
            passes = str(all(OPS[op](amount, at) for op, at in limits)).lower()
            how = f"{given.dose} {given.unit} is {tidy(amount)} {dosed.unit} {note}" + \
                " and ".join(f"{op} {tidy(at)}" for op, at in limits) + f": {passes}"
        out.append(PerDay(given.label, {m.DRUG: given.drug, m.DOSE: given.dose,
                                         "unit": given.unit}, passes, how,
                          *weight_change(gen, dosed, given)))
    return out


def unrecorded(concept: m.Concept, passing: dict[str, Any]) -> list[tuple[str, dict]]:
    """Each filtered field an item may leave unrecorded, with the fields that go with it (a
    dose's unit); never a course's drug, which every course names."""
    out = []
    for name in passing:
        if name == "unit" or (name == m.DRUG and concept.kind is m.Kind.MEDICATION):
            continue
        out.append((name, {name: None, **({"unit": None} if name == m.DOSE else {})}))
    return out


def written_filters(occurred: m.Occurred) -> str:
    """The filter as the protocol writes it: ` other than {a}`, ` where x is y and z is w`."""
    named = [str(c) for c in occurred.filters if isinstance(c, m.Either) or c.attribute]
    other = "".join(f" {c}" for c in occurred.filters if isinstance(c, m.Where) and
                    c.attribute is None)
    return other + (f" where {' and '.join(named)}" if named else "")
