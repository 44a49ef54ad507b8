"""The checks of one atom against the concept it names: units and dimensions of thresholds and
doses, declared values and attributes in filters, counts and windows that read what an item
records.

Why apart from `protocol/checks.py`: these checks read one atom and its concept, nothing else of
the protocol, so each has the same signature and one table, `ATOM_CHECKS`, says which applies;
`checks._atom` first settles that the name is declared and of a kind the atom takes (`ACCEPTS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from protocol import limits
from protocol import model as m
from protocol import units
from protocol.declarations import Target, diag, in_months, parses, unit_problem
from protocol.errors import Diagnostic, hint as _hint
from protocol.model import Kind

#: Which concept kinds each atom applies to (a definition only stands alone, as a `Truth`), and
#: what to say when it is used on another kind of name.
ACCEPTS: dict[type, tuple[tuple[Kind, ...], str]] = {
    m.Truth: ((Kind.FLAG, Kind.JUDGMENT), "only a flag, judgment or definition stands alone"),
    m.Compare: ((*m.MEASURED, Kind.DERIVED), "only a quantity, lab, score, scale, titre, age or "
                "derived value compares with a number"),
    m.Confirmed: (m.RESULTS,
                  "only a quantity, lab, score, scale or titre has results to confirm on another "
                  "day"),
    m.CompareReference: ((Kind.LAB, Kind.DERIVED), "only a lab, or a derived value declared "
                         "with one, has a reference range (x ULN, upper/lower)"),
    m.Is: ((Kind.CATEGORY,), "only a category takes 'is' and a value"),
    m.Occurred: ((*m.LISTED, Kind.DATE), "only an event or medication happens 'ever', 'at "
                 "screening' or 'within ...'"),
    m.NoKnown: (m.LISTED, "only an event or medication has a history to be unknown"),
    m.Counted: (m.LISTED, "only an event's occurrences or a medication's courses are counted"),
    m.Latest: (m.LISTED, "only an event or medication has a latest occurrence"),
    m.OfLatest: (m.LISTED, "only an event or medication has a latest occurrence"),
    m.InRange: ((*m.MEASURED, Kind.DERIVED), "only a quantity, lab, score, scale, titre, age or "
                "derived value lies in a range"),
    m.Includes: ((Kind.MEDICATION,), "only a medication 'includes' a drug"),
    m.Course: ((Kind.MEDICATION,), "only a medication declared 'dosed in' a unit has a dose"),
    m.Continuous: ((Kind.MEDICATION,), "only a medication's courses last 'for at least' a time"),
    m.CurrentDose: ((Kind.MEDICATION,), "only a medication declared 'dosed in' a unit has a dose"),
    m.CumulativeDose: ((Kind.MEDICATION,), "only a medication's courses have doses to sum or "
                       "average over days"),
    m.StableDose: ((Kind.MEDICATION,), "only a medication's courses have a dose to keep stable"),
    m.Recorded: ((*m.MEASURED, Kind.CATEGORY, Kind.FLAG, Kind.DATE), "only a value is recorded "
                 "or not (an event or medication is 'known' or 'no known'; a derived value is "
                 "worked out; a judgment is attested)"),
}

#: How a unit's dimension reads in a message; others are spelled out from pint's dimensionality.
DIMENSIONS = {
    "[mass]": "a mass",
    "[time]": "a time",
    "[length] ** 3": "a volume",
    "dimensionless": "a plain number or percentage",
    "[mass] / [length] ** 3": "a mass concentration",
    "[substance] / [length] ** 3": "a molar concentration",
    "[length] / [time]": "a flow per body surface area",
    "[mass] / [time]": "a dose per time",
    "1 / [time]": "a dose per kg per time",
    "[enzyme_activity] / [length] ** 3": "an enzyme activity",
    "[international_unit] / [length] ** 3": "international units per volume",
    "[length]": "a length",
    "[length] ** 2": "an area",
    "[length] ** 3 / [time]": "a volume per time",
    "[mass] / [length] ** 2": "a mass per area",
    "[temperature]": "a temperature",
}

def kind_words(target: Target) -> str:
    """How a message names what a name is: 'a definition', 'a lab', 'a medication'."""
    if isinstance(target, m.Definition):
        return "a definition"
    return target.kind.said


def _compare(atom: m.Compare, concept: m.Concept) -> Iterator[Diagnostic]:
    """A threshold is converted into the concept's unit, so it needs a unit of that dimension."""
    threshold = atom.threshold
    if (concept.kind is Kind.TITRE) != (threshold.unit == m.DILUTION):
        yield diag("titre" if concept.kind is Kind.TITRE else "titre/not", threshold.span,
                   name=concept.name, value=threshold, kind=concept.kind.said,
                   reciprocal=max(threshold.value.to_integral_value(), Decimal(1)))
    elif concept.kind is Kind.TITRE:
        if threshold.value < 1:
            yield diag("titre/zero", threshold.span, name=concept.name, value=threshold)
    elif concept.kind in m.UNITLESS:
        if threshold.unit not in (None, "points"):
            info = {"name": concept.name, "unit": threshold.unit}
            yield diag("unit-dimension/score", threshold.span, **info)
        elif concept.steps is not None:
            yield from _step(threshold, concept)
    elif threshold.unit is None:
        example = f"{threshold.value} {concept.unit}"
        yield diag("unit-dimension/missing", threshold.span, name=concept.name, example=example)
    elif concept.unit is not None:
        yield from _convertible("unit-dimension", threshold, concept, concept.unit)
        yield from _average_month(threshold, concept)


def _average_month(threshold: m.Quantity, concept: m.Concept) -> Iterator[Diagnostic]:
    """A threshold in months or years on a time declared in weeks or days converts by pint's
    average month: "life expectancy >= 12 months" is 52.18 weeks, over a record's 52 weeks and
    365 days. Where the protocol counts its months otherwise, the author writes the threshold
    in the facts' unit (the sentence lint takes 52 weeks for 12 months)."""
    days = units.days_in(concept.unit) if concept.unit is not None else None
    if concept.kind is not Kind.QUANTITY or days is None or threshold.unit is None or \
            not in_months(threshold.unit):
        return
    converted = units.convert(threshold.value, threshold.unit, concept.unit)
    whole = converted.to_integral_value(rounding="ROUND_FLOOR")
    yield diag("threshold-months", threshold.span, name=concept.name, threshold=threshold,
               unit=concept.unit, converted=units.quantize(converted).normalize(), under=whole)


def window_reach(atom: m.Atom, window: m.Window, concept: m.Concept) -> Iterator[Diagnostic]:
    """`within D or N half_life, whichever is ...`: N times a time each item records, back from
    the anchor; an item within either length (longer) is not counted item by item."""
    reach = window.reach
    assert reach is not None
    attribute = reach.of(concept)
    if attribute is None:
        yield _undefined_attribute(reach.attribute, concept)
    elif not attribute.numeric or attribute.unit is None or units.days_in(attribute.unit) is None:
        found = f"in {attribute.unit}" if attribute.unit else \
            "a number" if attribute.numeric else "one of a set of values"
        yield diag("reach-unit", reach.attribute.span, name=concept.name,
                   attribute=attribute.name, times=reach.times, found=found)
    if not reach.times > 0:
        yield diag("reach-times", reach.span, times=reach.times, attribute=reach.attribute.name)
    if window.direction != "before":
        yield diag("reach-direction", window.span, which=reach.which)
    if reach.longer and isinstance(atom, m.Counted):
        yield diag("reach-count", reach.span, count=atom.count, name=concept.name)


def _step(threshold: m.Quantity, concept: m.Concept) -> Iterator[Diagnostic]:
    """A scale has whole steps between its bounds: another threshold is surely a typo."""
    assert concept.steps is not None
    low, high = concept.steps
    value = threshold.value
    info = {"name": concept.name, "low": low, "high": high, "value": threshold}
    if value != value.to_integral_value():
        below = value.to_integral_value(rounding="ROUND_FLOOR")
        yield diag("scale-step", threshold.span, hint=f"; write {below} or {below + 1}", **info)
    elif not low <= value <= high:
        yield diag("scale-step/outside", threshold.span, **info)


def _confirmed(atom: m.Confirmed, concept: m.Concept) -> Iterator[Diagnostic]:
    """The comparison's own checks (a multiple of a reference limit is a lab's); a value read at
    a day has one day's results only."""
    if concept.reads is not None and concept.at is not None:
        yield diag("confirmed-reading", atom.span, name=concept.name, day=concept.at.name,
                   read=concept.reads.name)
    measured = atom.measured
    kinds, advice = ACCEPTS[type(measured)]
    if concept.kind not in kinds:
        yield diag("type-mismatch", measured.ref.span, name=concept.name,
                   kind=kind_words(concept), advice=advice)
    elif type(measured) in ATOM_CHECKS:
        yield from ATOM_CHECKS[type(measured)](measured, concept)


def _in_range(atom: m.InRange, concept: m.Concept) -> Iterator[Diagnostic]:
    """Both bounds are thresholds (`_compare`), and the low one is not above the high one."""
    for bound in (atom.low, atom.high):
        yield from _compare(m.Compare(atom.span, atom.ref, ">=", bound), concept)
    same = atom.low.unit == atom.high.unit or None in (atom.low.unit, atom.high.unit)
    if same and atom.low.value > atom.high.value:
        yield diag("range-order", atom.low.span, low=atom.low, high=atom.high)


def _course(atom: m.Course, concept: m.Concept) -> Iterator[Diagnostic]:
    """A course's dose is compared in the medication's `dosed in` unit."""
    if atom.dose.unit is None:
        example = f"{atom.dose.value} {concept.dosed_in}"
        yield diag("unit-dimension/missing", atom.dose.span, name=concept.name, example=example)
    elif concept.dosed_in is not None:
        yield from _convertible("unit-dimension/dose", atom.dose, concept, concept.dosed_in)


#: What a daily dose read over a span is, where the medication is not dosed per day.
_DAILY = {m.AVERAGE: "an average daily dose is a daily dose summed over days, divided by their "
          "number", m.HIGHEST: "the highest daily dose is the daily doses of a day summed, the "
          "most of any day"}


def _cumulative(atom: m.CumulativeDose, concept: m.Concept) -> Iterator[Diagnostic]:
    """A cumulative dose sums a dose per day over days, up to screening or within a span before
    an anchor day; its threshold is in the daily dose's unit times a day. An average daily dose
    divides that sum by the span's days, and the highest daily dose is that of the span's day
    with the most: both need a span, and their threshold is a dose in the medication's rate
    (per day, or per week for a weekly dose: "methotrexate > 25 mg/week within 8 weeks")."""
    window = atom.window
    within = window.kind == "within" and window.direction == "before" and window.reach is None
    if atom.reading == m.DAYS:  # days, whatever the dose: a number of days or weeks
        if window.kind != "ever" and not within:
            yield diag("cumulative-window", window.span, window=window)
        if atom.dose.unit is None or units.days_in(atom.dose.unit) is None or \
                units.days_in(atom.dose.unit) < 1:
            yield diag("total-duration-unit", atom.dose.span, name=concept.name,
                       value=atom.dose.value, unit=atom.dose.unit or "",
                       instead=_in_days(atom.dose.value, atom.dose.unit))
        yield from _filters(atom, concept)
        return
    assert concept.dosed_in is not None
    summed = units.summed_over_days(concept.dosed_in) if parses(concept.dosed_in) else None
    if atom.daily and not within:
        yield diag("daily-window", window.span,
                   reading="an average" if atom.reading == m.AVERAGE else "the highest",
                   instead="" if window.kind == "ever" else f", not '{window}'")
    elif window.kind != "ever" and not within:
        yield diag("cumulative-window", window.span, window=window)
    if atom.daily and parses(concept.dosed_in) and units.per_days(concept.dosed_in):
        yield from _course(atom, concept)  # in its own rate: mg/d, or mg/wk for a weekly dose
    elif summed is None:
        head, _, per = concept.dosed_in.rpartition("/")
        per_time = bool(head) and parses(concept.dosed_in) and units.per_days(concept.dosed_in)
        yield diag("cumulative-unit/rate" if per_time else "cumulative-unit", atom.span,
                   name=concept.name, unit=concept.dosed_in, daily=f"{head}/d",
                   what=_DAILY.get(atom.reading, "a cumulative dose sums a daily dose over the "
                                   "days it was taken"))
    elif atom.dose.unit is None:
        yield diag("unit-dimension/missing", atom.dose.span, name=concept.name,
                   example=f"{atom.dose.value} {summed}")
    else:
        yield from _convertible("unit-dimension/cumulative", atom.dose, concept, summed)
    yield from _filters(atom, concept)


def _convertible(
    kind: str, quantity: m.Quantity, concept: m.Concept, unit: str, name: str | None = None
) -> Iterator[Diagnostic]:
    """`quantity` converts into `unit` (of `concept`, or of what `name` says: an attribute)."""
    assert quantity.unit is not None
    if not parses(quantity.unit):
        yield diag("unit-unknown", quantity.span, problem=unit_problem(quantity.unit))
    elif parses(unit) and not units.same_dimension(quantity.unit, unit, _conversions(concept)):
        what = _dimension_words(quantity.unit)
        yield diag(kind, quantity.span, name=name or concept.name, unit=unit, quantity=quantity,
                   what=what)
    elif parses(unit):
        yield from limits.converted(quantity, unit, _conversions(concept), diag)


def _values(atom: m.Is | m.Includes, concept: m.Concept) -> Iterator[Diagnostic]:
    """Facts use the declared words (or synonyms); any other word could never match a fact."""
    wanted = atom.values if isinstance(atom, m.Is) else (atom.drug,)
    known = [name for value in concept.values for name in (value.name, *value.synonyms)]
    for value in wanted:
        if concept.canonical(value.name) is None:
            names = [v.name for v in concept.values]
            listed = "; its values are " + ", ".join(names[:8]) + (", ..." if names[8:] else "")
            hint = _hint(value.name, known) or listed
            yield diag("unknown-value", value.span, value=value.name, name=concept.name, hint=hint)


def _dose_on_a_day(atom: m.CurrentDose, concept: m.Concept) -> Iterator[Diagnostic]:
    """The dose is a course's; a filter keeps the courses it sums (`where route is oral`)."""
    yield from _course(atom, concept)
    yield from _filters(atom, concept)


def _filters(atom: m.Occurred | m.CurrentDose | m.CumulativeDose, concept: m.Concept
             ) -> Iterator[Diagnostic]:
    """A filter reads an attribute the concept declares (a medication's drug and dose too), and
    only its declared values: any other word could never match a fact."""
    yield from filters_of(atom.filters, atom.ref, concept)


def filters_of(filters: tuple, ref: m.Ref, concept: m.Concept) -> Iterator[Diagnostic]:
    """`_filters` of the clauses `filters` on the history `ref` names (an atom's own, or the
    history `during any` spans)."""
    for clause in m.clauses(filters):
        if clause.dose is not None:
            if concept.dosed_in is None:
                yield diag("undefined-attribute/dose", clause.span, name=concept.name)
            else:
                yield from _course(m.Course(clause.span, ref, clause.op or ">=",
                                            clause.dose, None), concept)
            continue
        attribute = concept.attribute(clause.attribute.name if clause.attribute else None)
        if attribute is None and clause.attribute is None:
            yield diag("undefined-attribute/other-than", clause.span, name=concept.name)
            continue
        if attribute is None:
            assert clause.attribute is not None
            yield _undefined_attribute(clause.attribute, concept, m.Kind.MEDICATION)
            continue
        if attribute.name == m.DURATION and concept.dated_duration:
            yield from _duration_clause(clause, concept)
            continue
        if clause.amount is not None or attribute.numeric:
            yield from _numeric_clause(clause, attribute, concept)
            continue
        known = [n for value in attribute.values for n in (value.name, *value.synonyms)]
        for value in clause.values:
            if attribute.canonical(value.name) is None:
                names = [v.name for v in attribute.values]
                listed = "; its values are " + ", ".join(names[:8]) + (", ..." if names[8:] else "")
                yield diag("unknown-value", value.span, value=value.name,
                           name=f"{concept.name} {attribute.name}",
                           hint=_hint(value.name, known) or listed)
        named = {attribute.canonical(value.name) for value in clause.values}
        if (clause.negated or clause.attribute is None) and \
                named >= {value.name for value in attribute.values}:
            yield diag("filter-never", clause.span, clause=str(clause), name=concept.name,
                       attribute=attribute.name)


def _numeric_clause(clause: m.Where, attribute: m.Attribute, concept: m.Concept
                    ) -> Iterator[Diagnostic]:
    """A number an item records is compared with a threshold in its unit (`diameter >= 10 mm`);
    one of a set of values is named (`site is lung`), never compared."""
    name = f"{concept.name} {attribute.name}"
    unit = f" {attribute.unit}" if attribute.unit else ""
    amount = clause.amount
    if amount is None:
        yield diag("attribute-number", clause.span, name=name, attribute=attribute.name,
                   example=f"{attribute.name} >= 10{unit}")
    elif not attribute.numeric:
        yield diag("attribute-values", clause.span, name=name, attribute=attribute.name,
                   example=f"{attribute.name} is {attribute.values[0].name}")
    elif attribute.unit is None and amount.unit is not None:
        yield diag("unit-dimension/number", amount.span, name=name, unit=amount.unit)
    elif attribute.unit is not None and amount.unit is None:
        yield diag("unit-dimension/missing", amount.span, name=name,
                   example=f"{amount.value} {attribute.unit}")
    elif attribute.unit is not None and parses(attribute.unit):
        yield from _convertible("unit-dimension", amount, concept, attribute.unit, name)


def _duration_clause(clause: m.Where, concept: m.Concept) -> Iterator[Diagnostic]:
    """A course's duration is measured as `X for at least D` measures it: completed days (a
    week is 7) or completed calendar months (a year is 12). In months, only `>=` and `<` are
    decided by a count of completed months: `> 3 months` is not, for 3 months and some days."""
    amount, example = clause.amount, "duration >= 3 months"
    if amount is None:
        yield diag("attribute-number", clause.span, name=f"{concept.name} duration",
                   attribute=m.DURATION, example=example)
    elif amount.unit not in m.DURATION_UNITS or amount.value != amount.value.to_integral_value():
        found = f"'{amount}'" if amount.unit else f"a plain number ({amount})"
        yield diag("duration-unit", amount.span, found=found, example=example)
    elif clause.op in ("==", "!="):
        yield diag("duration-equal", clause.span, clause=str(clause))
    elif amount.value <= 0:
        yield diag("duration-zero", amount.span, clause=str(clause))
    elif amount.unit.startswith(("month", "year")) and clause.op in (">", "<="):
        unit = amount.unit.removesuffix("s")
        yield diag("duration-months", clause.span, clause=str(clause), unit=f"{unit}s",
                   length=f"{amount.value} {unit}{'' if amount.value == 1 else 's'}")


def _counted(atom: m.Counted, concept: m.Concept) -> Iterator[Diagnostic]:
    """`at least 0 ...` always holds, `at least 1 ...` is the condition without the count."""
    if atom.count < 2 and atom.by is not None:  # `at least 1 lines of X`: X itself
        yield diag("count/by", atom.span, count=atom.count, by=atom.by.name, name=concept.name)
    elif atom.count < 2:
        yield diag("count", atom.span, count=atom.count, name=concept.name)
    attribute = atom.attribute(concept)
    if atom.by is not None and attribute is None:
        yield _undefined_attribute(atom.by, concept)
    elif attribute is not None and attribute.numeric:
        yield diag("count-number", atom.span, count=atom.count, by=atom.by.name,
                   name=concept.name, attribute=attribute.name)
    elif attribute is not None and atom.count > len(attribute.values):
        yield diag("count-values", atom.span, count=atom.count, by=atom.by.name,
                   name=concept.name, attribute=attribute.name,
                   values=", ".join(v.name for v in attribute.values))
    yield from _filters(atom.occurred, concept)


def _undefined_attribute(name: m.Ref, concept: m.Concept,
                         drug_and_dose: m.Kind | None = None) -> Diagnostic:
    """`name` is no attribute of `concept`: the nearest one, the declared ones, or how to declare
    it. A filter may also read a medication's drug, dose and duration (`drug_and_dose`); a count
    by an attribute may not."""
    declared = [a.name for a in concept.attributes] + (
        [m.DRUG, m.DOSE, m.DURATION] if concept.kind is drug_and_dose else [])
    hint = _hint(name.name, declared) or (
        "; only a course of a medication or an occurrence of an event has a duration worked out "
        "from its dates, not a planned event's, which may lie after screening (for a length its "
        "facts record, declare 'with duration in days')"
        if name.name == m.DURATION and drug_and_dose is not None else
        f"; its attributes are {', '.join(declared)}" if declared else
        f"; declare it: '{concept.name}: {concept.kind.value} ... with "
        f"{name.name.removesuffix('s') if drug_and_dose is None else name.name} {{...}}'")
    return diag("undefined-attribute", name.span, name=concept.name, attribute=name.name,
                hint=hint)


def _latest(atom: m.Latest, concept: m.Concept) -> Iterator[Diagnostic]:
    """`the latest X` reads when the most recent item started: only a window on the start, before
    its anchor, asks something that `X <window>` does not."""
    window = atom.occurred.window
    if window.kind not in ("at_least", "more_than") or window.direction != "before":
        yield diag("latest-window", window.span, name=concept.name, window=str(window))
    yield from _filters(atom.occurred, concept)


ATOM_CHECKS: dict[type, Callable[[Any, m.Concept], Iterator[Diagnostic]]] = {
    m.Occurred: _filters,
    m.NoKnown: lambda atom, concept: _filters(atom.occurred, concept),
    m.Counted: lambda atom, concept: _counted(atom, concept),
    m.Latest: _latest,
    m.OfLatest: lambda atom, concept: _filters(atom.occurred, concept),
    m.Compare: _compare,
    m.InRange: _in_range,
    m.Confirmed: lambda atom, concept: _confirmed(atom, concept),
    m.Course: _course,
    m.CurrentDose: _dose_on_a_day,
    m.CumulativeDose: _cumulative,
    m.Is: _values,
    m.Includes: _values,
}


def dimensionality_words(dimensionality: str | None) -> str:
    if dimensionality is None:
        return "a plain number"
    words = dimensionality.replace("[", "").replace("]", "")
    return DIMENSIONS.get(dimensionality, f"a quantity of {words}")


def _conversions(concept: m.Concept) -> tuple[tuple[Decimal, str, Decimal, str], ...]:
    """The concept's own factors as `units.convert` takes them; bad ones are reported apart."""
    return tuple(f for f in concept.factors if f[1] and f[3] and parses(f[1]) and parses(f[3]))


def _dimension_words(unit: str) -> str:
    dimensionality = str(units.registry().Quantity(1, units.parse_unit(unit)).dimensionality)
    return DIMENSIONS.get(dimensionality, dimensionality_words(dimensionality))


def _in_days(value: Decimal, unit: str | None) -> str:
    """What a total duration in months or years is in days and weeks, as a protocol author may
    mean it ("3 months": '91 days' or '13 weeks'), by pint's average month and year.

    >>> _in_days(Decimal(3), "months"), _in_days(Decimal(3), None)
    ("'91 days' or '13 weeks' for 3 months", "'3 days'")
    """
    if unit is None or not units.same_dimension(unit, "d"):
        return f"'{value} days'"
    days = round(value * units.factor(unit, "d"))
    return f"'{days} days' or '{round(Decimal(days) / 7)} weeks' for {value} {unit}"
