"""Histories filtered by what their items record: `malignancy where type is not
basal_cell_carcinoma within 5 years before screening`, `chemo where route is intravenous ever`,
`immunotherapy where drug is one of {pembrolizumab, nivolumab} ...`, `glucocorticoid where dose >
10 mg/d at screening`, `malignancy other than {basal_cell_carcinoma} ever`, `mm_therapy where (line
is 1 or response is refractory) ever`, `tnfi where (duration >= 3 months and stop_reason is
inadequate_response) ever` (a course's length, from its dates: `lasting`).

An item counts when it falls in the window (with the grade asked) and passes every clause. An item
whose fact does not record a filtered attribute (or whose dose could not be worked out) may or may
not pass: it cannot make the condition true, and it keeps it open unless another item decides it.
A clause in parentheses, `(a or b)`, passes an item that surely passes one of its clauses, fails
one that surely fails each, and may pass it otherwise.
So the atom is true when some item surely counts, false when the list is recorded as none or no
item can count, and UNKNOWN otherwise, never read as absent.

The network: a filter tests item fields beside the window's, so the atom is a hidden node of its
own (`Build.hidden`) with a possibility node for items that may count; a clause over several
values, and each clause of `(a or b)`, is one rule per alternative (no `$or` spans item fields
inside `$iany`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from engine import patterns as P
from engine import record as R
from engine.atoms.base import OPS, Build, Reader
from engine.atoms.courses import course_length, dose_threshold_of
from engine.atoms.history import Occurred, item_tests
from engine.items import too_wide
from engine.kleene import NEGATE, Kleene, lacking
from engine.shape import holds
from protocol import model as m
from protocol.units import convert, quantize


def filtered_tests(atom: m.Occurred, build: Build
                   ) -> tuple[P.Pattern, P.Pattern, P.Pattern, P.Pattern, P.Pattern, P.Pattern]:
    """What an item surely meets (window, grade and every clause), when the list is undecided and
    decided, what it needs beside the list (the anchor day), what an item may meet, and when
    the anchor can never exist: the arguments of `Build.hidden` and `Build.counted` alike."""
    name = atom.ref.name
    needs, void, certain, possible = item_tests(atom, build)
    sure, maybe, _ = filter_patterns(atom, build)
    decided = P.TRUE if needs == P.TRUE else P.any_of(
        P.test("==", R.none_field(name), 1), needs, void)
    return (P.all_of(*certain, *sure), lacking(name, needs, void), decided, needs,
            P.all_of(*possible, *maybe), void)


def filter_patterns(atom: m.Occurred, build: Build
                    ) -> tuple[list[P.Pattern], list[P.Pattern], list[P.Pattern]]:
    """The filter's clauses as item tests (`clause_patterns`, clause by clause): what an item
    surely passes, what it may pass, and what it may fail; a dose per kg asks the record for the
    weight."""
    concept = build.concepts[atom.ref.name]
    if concept.weight is not None and any(c.dose is not None for c in m.clauses(atom.filters)):
        build.layout.concepts.add(concept.weight.name)  # a dose per kg reads the weight
    durations = [lasting(clause, concept) for clause in m.clauses(atom.filters)]
    if any(duration is not None and duration[1] in (R.DAYS, R.DAYS_MOST)
           for duration in durations):
        build.layout.days.add(concept.name)  # the trail shows each course's days
    if concept.kind is m.Kind.EVENT and any(d is not None for d in durations):
        build.layout.lengths.add(concept.name)  # an occurrence's length (a course's always is)
    patterns = [clause_patterns(clause, concept) for clause in atom.filters]
    return [p[0] for p in patterns], [p[1] for p in patterns], [p[2] for p in patterns]


def clause_open(clause: m.Clause, concept: m.Concept) -> Callable[[dict], tuple[str, ...]]:
    """What an item leaves a clause open on, as the trail names it: the dose or attribute the
    clause reads, where the item does not record it; of `(a or b)`, each of its clauses', where
    none passes."""
    test = clause_test(clause, concept)
    if isinstance(clause, m.Either):
        parts = [clause_open(c, concept) for c in clause.clauses]
        return lambda item: () if test(item) != "unknown" else tuple(dict.fromkeys(
            read for part in parts for read in part(item)))
    if lasting(clause, concept) is not None:  # open on its dates, which the trail says so
        return lambda item: ()
    reads = (m.DOSE if clause.dose is not None else attribute_of(clause, concept).name,)
    return lambda item: reads if test(item) == "unknown" else ()


class Filtered(Occurred):
    """An occurrence condition with a filter (`m.Occurred.filters`); see the module's docstring."""

    handles = m.Occurred

    def within(self, atom: m.Occurred, build: Build) -> Kleene:
        yes, undecided, decided, needs, possible, void = filtered_tests(atom, build)
        if too_wide(yes, possible):
            # more rules than the record's fact is tested with: each item a fact of its own,
            # counted to one (`Build.counted`), as `at least N ...` is
            return self.whatever_the_day(atom, build, needs, build.counted(
                m.Counted(atom.span, 1, atom), yes, undecided, decided, needs, possible, void))
        return self.whatever_the_day(atom, build, needs, build.hidden(
            atom, yes, undecided, decided, needs, possible, void))

    def may_pass(self, atom: m.Occurred, build: Build) -> list[P.Pattern]:
        return filter_patterns(atom, build)[1]

    def passes(self, atom: m.Occurred, reader: Reader, item: dict, sure: bool) -> bool:
        allowed = ("true",) if sure else ("true", "unknown")
        return all(test(item) in allowed for test in self._tests(atom, reader))

    def undecided(self, atom: m.Occurred, reader: Reader, items: list[dict],
                  unrecorded: tuple[str, ...] = ()) -> str:
        concept = reader.concepts[atom.ref.name]
        opens = [clause_open(clause, concept) for clause in atom.filters]
        tests = self._tests(atom, reader)
        # an item that surely fails a clause leaves nothing open, whatever else it lacks
        kept = [item for item in items if all(test(item) != "false" for test in tests)]
        return super().undecided(atom, reader, items, tuple(dict.fromkeys((*unrecorded, *(
            read for left in opens for item in kept for read in left(item))))))

    @staticmethod
    def _tests(atom: m.Occurred, reader: Reader) -> tuple:
        """The clauses as item tests, once per atom (keyed by its filter tuple)."""
        def constants(filters: tuple[m.Clause, ...], reader: Reader) -> tuple:
            concept = reader.concepts[atom.ref.name]
            return tuple(clause_test(clause, concept) for clause in filters)

        return reader.constant(atom.filters, constants)


def attribute_of(clause: m.Where, concept: m.Concept) -> m.Attribute:
    """The attribute a clause reads (the checker has made sure there is one)."""
    attribute = concept.attribute(clause.attribute.name if clause.attribute else None)
    assert attribute is not None, clause
    return attribute


def amount_of(clause: m.Where, attribute: m.Attribute) -> Decimal:
    """A number's threshold in the attribute's declared unit, rounded as the items' numbers are
    (`diameter >= 1 cm` compares with 10 for an attribute in mm)."""
    assert clause.amount is not None
    amount = clause.amount
    if attribute.unit is None or amount.unit is None:
        return quantize(amount.value)
    return convert(amount.value, amount.unit, attribute.unit)


def lasting(clause: m.Where, concept: m.Concept) -> tuple[str, str, str, int] | None:
    """Of a course's duration clause (`duration >= 3 months`), its comparison, `>=` or `<`;
    the item key of the course's length that surely passes it (at least n: its least length;
    less than n: its most) and the one that may; and the amount (`> 90 days` is `>= 91 days`);
    None for any other clause. A course is measured as `X for at least D` measures one:
    completed days up to screening (a week is 7), or completed calendar months (a year is 12),
    the least and the most its dates allow."""
    if clause.attribute is None or clause.attribute.name != m.DURATION or \
            not concept.dated_duration or clause.amount is None:
        return None
    assert clause.op is not None and clause.amount.unit is not None
    unit = clause.amount.unit if clause.amount.unit.endswith("s") else f"{clause.amount.unit}s"
    (least, most), amount = course_length(m.Duration(clause.span, int(clause.amount.value), unit))
    op = clause.op
    if op in (">", "<="):  # whole days: the checker allows these in days and weeks only
        op, amount = {">": ">=", "<=": "<"}[op], amount + 1
    return (op, least, most, amount) if op == ">=" else (op, most, least, amount)


def _values(clause: m.Where, attribute: m.Attribute) -> list[str]:
    return sorted({attribute.canonical(v.name) or v.name for v in clause.values})


def clause_patterns(clause: m.Clause, concept: m.Concept
                    ) -> tuple[P.Pattern, P.Pattern, P.Pattern]:
    """What an item surely passes, what it may pass, and what it may fail (all but what it
    surely passes: an item that does not record what the clause reads may), as item tests."""
    if isinstance(clause, m.Either):  # surely passes one; may pass one; may fail each
        sure, maybe, fails = zip(*(clause_patterns(c, concept) for c in clause.clauses))
        return P.any_of(*sure), P.any_of(*maybe), P.all_of(*fails)
    if clause.dose is not None:
        assert clause.op is not None
        at = float(dose_threshold_of(concept, clause.dose))
        dosed, undosed = P.test(clause.op, R.ITEM[R.DOSE], at), P.test(
            "==", R.ITEM[R.UNDOSED_ITEM], 1)
        return dosed, P.any_of(dosed, undosed), P.any_of(
            P.test(NEGATE[clause.op], R.ITEM[R.DOSE], at), undosed)
    duration = lasting(clause, concept)
    if duration is not None:
        op, surely, maybe, amount = duration
        return P.test(op, R.ITEM[surely], amount), P.test(op, R.ITEM[maybe], amount), P.test(
            NEGATE[op], R.ITEM[surely], amount)
    attribute = attribute_of(clause, concept)
    field = f"$i.{R.attribute_field(attribute.name)}"
    if clause.amount is not None:  # a number: compared, or not recorded (may pass)
        assert clause.op is not None
        at = float(amount_of(clause, attribute))
        compared, unrecorded = P.test(clause.op, field, at), P.test(
            "==", f"$i.{R.unrecorded_field(attribute.name)}", 1)
        return compared, P.any_of(compared, unrecorded), P.any_of(
            P.test(NEGATE[clause.op], field, at), unrecorded)
    values = _values(clause, attribute)
    recorded = attribute.name != m.DRUG  # a course always names its drug
    if clause.negated:
        differs = [P.test("!=", field, v) for v in values]
        equal = [P.test("==", field, v) for v in values]
        unrecorded = [P.test("!=", field, R.UNRECORDED)] if recorded else []
        return P.all_of(*differs, *unrecorded), P.all_of(*differs), P.any_of(
            *equal, *([P.test("==", field, R.UNRECORDED)] if recorded else []))
    equal = [P.test("==", field, v) for v in values]
    unrecorded = [P.test("==", field, R.UNRECORDED)] if recorded else []
    return P.any_of(*equal), P.any_of(*equal, *unrecorded), P.all_of(
        *(P.test("!=", field, v) for v in values))


#: Whether a course counts in a summed dose (`glucocorticoid where route is oral dose at
#: screening`): "true", "false", or "unknown" (it does not record the route); None: every course.
Kept = Callable[[dict], str] | None


def kept_by(filters: tuple[m.Clause, ...], concept: m.Concept) -> Kept:
    """Which courses a summed dose counts: those its filter keeps, every clause passed (each as
    the trail reads it, `clause_test`, on the course's recorded attributes); None without a
    filter."""
    if not filters:
        return None
    tests = [clause_test(clause, concept) for clause in filters]
    return lambda item: holds("all", [test(item) for test in tests])


def clause_test(clause: m.Clause, concept: m.Concept):
    """The clause on one item, for the trail: "true", "false" or "unknown"."""
    if isinstance(clause, m.Either):
        tests = [clause_test(c, concept) for c in clause.clauses]
        return lambda item: holds("any", [test(item) for test in tests])
    if clause.dose is not None:
        assert clause.op is not None
        return _compared(R.DOSE, clause.op, float(dose_threshold_of(concept, clause.dose)))
    duration = lasting(clause, concept)
    if duration is not None:
        op, surely, maybe, amount = duration
        compare = OPS[op]
        return lambda item: "true" if compare(item[surely], amount) else \
            "unknown" if compare(item[maybe], amount) else "false"
    attribute = attribute_of(clause, concept)
    if clause.amount is not None:
        assert clause.op is not None
        return _compared(R.attribute_field(attribute.name), clause.op,
                         float(amount_of(clause, attribute)))
    field, values = R.attribute_field(attribute.name), frozenset(_values(clause, attribute))

    def test(item: dict) -> str:
        value = item.get(field, R.UNRECORDED)
        if value == R.UNRECORDED:
            return "unknown"
        return "true" if (value in values) != clause.negated else "false"

    return test


def _compared(field: str, op: str, threshold: float):
    """An item's number (a dose, a recorded number) against a threshold, for the trail: "unknown"
    where the item does not record it."""
    compare = OPS[op]
    return lambda item: "unknown" if field not in item else \
        "true" if compare(item[field], threshold) else "false"
