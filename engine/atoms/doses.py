"""The dose a patient takes on a day: `glucocorticoid dose at screening <= 10 mg/d`,
`glucocorticoid dose at first_dose < 7.5 mg/d`; and whether it stayed the same over a span:
`glucocorticoid dose stable for at least 30 days before screening` (see `StableDose`).

The normaliser sums, in the unit the medication is dosed in (through its equivalence table and the
patient's weight, as for `dose >= ...`), the daily doses of the courses that cover the anchor day:
a number the network compares, like any measured value. Courses that may or may not cover the day
(an end known only to the month) make it a value known within bounds, and a course without a dose
leaves it unbounded above, so the network decides it only where every possible total agrees.
No course on that day is a dose of 0; nothing recorded, or no anchor day, is UNKNOWN.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine import kleene
from engine import patterns as P
from engine import record as R
from engine.atoms.base import WITHIN_BOUNDS, Atom, Build, Judged, Reader, compared, exact
from engine.atoms.courses import days_before, dose_threshold_of, span_before
from engine.atoms.filters import clause_open, kept_by
from engine.kleene import Kleene, conjunction, scalar
from engine.courses import summed_span, taken
from engine.record import Layout, Patient, plain_number
from protocol import model as m
from protocol.units import convert, days_in, per_days, summed_over_days


class _Summed(Atom):
    """What the dose on a day and the cumulative dose share: a sum over the courses that the
    normaliser writes into one record field (a value, or its bounds: a course that may or may not
    count, or has no dose), compared by the network as a measured value is. A subclass says which
    field (`field`), the threshold in its unit and the words (`constants`), what the sum is of
    for this patient (`what`) and, for the trail, its parts (`parts`)."""

    def compile(self, atom: m.CurrentDose | m.CumulativeDose, build: Build) -> Kleene:
        concept = build.concepts[atom.ref.name]
        if concept.weight is not None:
            build.layout.concepts.add(concept.weight.name)  # a dose per kg reads the weight
        field = self.field(atom, build.layout)
        _, _, threshold, _, _ = self.constants(atom, build)
        return scalar(*kleene.compared(field, atom.op, threshold), field)

    def judge(self, atom: m.CurrentDose | m.CumulativeDose, reader: Reader,
              patient: Patient) -> Judged:
        name, field, threshold, unit, needs = reader.constant(atom, self.constants)
        items, text = reader.items(name, patient)
        record = patient.record
        held = compared(record, field, atom.op, threshold)
        if held is None:
            reason = patient.unusable.get(field)
            return "unknown", f"{text}; {reason}" if reason and items is not None else text
        low, high, _, _ = R.bounds(field)
        if field in record:
            value = f"{exact(record[field])} {unit}"
        elif high in record:
            value = f"between {exact(record[low])} and {exact(record[high])} {unit}"
        else:
            why = patient.unusable[name] if R.open_list(record, reader.wholes, name) else \
                "a course has no dose"
            value = f"at least {exact(record[low])} {unit} ({why})"
        detail = f"{self.what(atom, patient, unit)}{_kept_words(atom)}: {value}" \
            f"{self.parts(atom, reader, patient, items or [])}; {text}; {needs}"
        return held, detail + (f" ({WITHIN_BOUNDS})" if held == "unknown" else "")

    def field(self, atom, layout: Layout) -> str:
        raise NotImplementedError

    @staticmethod
    def constants(atom, reader: Reader | Build) -> tuple:
        raise NotImplementedError

    def what(self, atom, patient: Patient, unit: str) -> str:
        raise NotImplementedError

    def parts(self, atom, reader: Reader, patient: Patient, items: list[dict]) -> str:
        return ""


class CurrentDose(_Summed):
    """`X dose at <anchor> <op> <dose>`; see the module's docstring."""

    handles = m.CurrentDose

    def field(self, atom: m.CurrentDose, layout: Layout) -> str:
        return layout.dose(atom.ref.name, atom.anchor, atom.filters)

    def what(self, atom: m.CurrentDose, patient: Patient, unit: str) -> str:
        day = patient.record.get(R.anchor_field(atom.anchor))
        if day is None:  # recorded as none: none on any day
            return f"dose on {atom.anchor}, whatever its day"
        return f"dose on {atom.anchor or 'screening'} {date.fromordinal(day)}"  # per day or week

    @staticmethod
    def constants(atom: m.CurrentDose, reader: Reader | Build) -> tuple:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        concept = reader.concepts[atom.ref.name]
        threshold = dose_threshold_of(concept, atom.dose)
        field = R.dose_field(concept.name, R.anchor_field(atom.anchor), atom.filters)
        return concept.name, field, float(threshold), concept.dosed_in, \
            f"needs {atom.op} {plain_number(threshold)} {concept.dosed_in}"


class CumulativeDose(_Summed):
    """`X cumulative dose <op> <dose>`: each course's daily dose times its days (in the window,
    up to screening), summed by the normaliser (`Courses._cumulative`) into a number known
    exactly or within bounds, which the network compares; the threshold is converted into the
    daily dose's unit times a day (`units.summed_over_days`). `X average daily dose <op> <dose>
    within D before A`: the same sum divided by the window's days, exactly (a fraction, rounded
    once), compared with the threshold in the daily dose's unit; `X highest daily dose <op>
    <dose> within D before A`: the most of one day of the window, its courses' daily doses
    summed (`courses._highest`), compared so too."""

    handles = m.CumulativeDose

    def field(self, atom: m.CumulativeDose, layout: Layout) -> str:
        return layout.cumulative(atom.ref.name, atom.window, atom.reading, atom.filters)

    def what(self, atom: m.CumulativeDose, patient: Patient, unit: str) -> str:
        daily = "daily " if per_days(unit) == 1 else ""  # "highest dose" of mg/wk
        span = _span(atom.window, patient)
        if atom.reading == m.AVERAGE and span is not None:
            return f"average {daily}dose over {span[1] - span[0] + 1} days " \
                f"{_over(atom.window, patient)}"
        if atom.reading == m.AVERAGE:
            return f"average {daily}dose {_over(atom.window, patient)}"
        if atom.reading == m.HIGHEST:
            return f"highest {daily}dose {_over(atom.window, patient)}"
        if atom.reading == m.DAYS:
            return f"days taken {_over(atom.window, patient)}"
        return f"cumulative dose {_over(atom.window, patient)}"

    def parts(self, atom: m.CumulativeDose, reader: Reader, patient: Patient,
              items: list[dict]) -> str:
        return _taken(atom, items, patient, reader.concepts[atom.ref.name])

    @staticmethod
    def constants(atom: m.CumulativeDose, reader: Reader | Build) -> tuple:
        """What judging it needs of the protocol alone, once per part (`Reader.constant`)."""
        concept = reader.concepts[atom.ref.name]
        if atom.reading == m.DAYS:  # whole days (checked: days or weeks)
            assert atom.dose.unit is not None
            unit, threshold = "days", atom.dose.value * int(days_in(atom.dose.unit))
        elif atom.daily:
            assert concept.dosed_in is not None
            unit, threshold = concept.dosed_in, dose_threshold_of(concept, atom.dose)
        else:
            unit, threshold = summed_over_days(concept.dosed_in), _summed_threshold(concept,
                                                                                    atom.dose)
        window = atom.window
        anchor = None if window.kind == "ever" else R.anchor_field(window.anchor)
        field = R.cumulative_field(concept.name, anchor, window.duration, atom.reading,
                                   atom.filters)
        return concept.name, field, float(threshold), unit, \
            f"needs {atom.op} {plain_number(threshold)} {unit}"


def _summed_threshold(concept: m.Concept, dose: m.Quantity) -> Decimal:
    """A cumulative dose as written, in the daily dose's unit times a day (checked)."""
    assert concept.dosed_in is not None and dose.unit is not None
    unit = summed_over_days(concept.dosed_in)
    assert unit is not None
    return convert(dose.value, dose.unit, unit)


def _span(window: m.Window, patient: Patient) -> tuple[int, int] | None:
    """The days a sum reads; None without its anchor day (the sum is there: recorded as none,
    0 whatever the day)."""
    anchor = None if window.kind == "ever" else R.anchor_field(window.anchor)
    return summed_span(patient.record, anchor, window.duration)


def _over(window: m.Window, patient: Patient) -> str:
    """The days a cumulative dose is summed over, for this patient, and how the days after
    screening are read (`courses.summed_span`)."""
    screening = patient.screening
    if window.kind == "ever":
        return f"up to screening {screening}"
    span = _span(window, patient)
    if span is None:
        return f"over any {window.duration} before {window.anchor} (its day not recorded)"
    first, last = (date.fromordinal(day) for day in span)
    after = "" if last <= screening else \
        f"; the days after screening {screening} as recorded then, courses going on going on"
    return f"from {first} to {last} ({window.duration} before {window.anchor or 'screening'} " \
        f"{last}{after})"


def _taken(atom: m.CumulativeDose, items: list[dict], patient: Patient,
           concept: m.Concept) -> str:
    """Each course that counts: its drug, the days it was taken in the span, its daily dose:
    ` (prednisone 42 days x 10 mg/d; prednisone 21 to 51 days x 5 mg/d)`; of a filter's, only
    the courses it keeps, and those it may keep saying why (`may count: route not recorded`)."""
    span = _span(atom.window, patient)
    if span is None:  # recorded as none, its anchor day not recorded: no course to list
        return ""
    kept = kept_by(atom.filters, concept)
    said = []
    for item in items:
        status = "true" if kept is None else kept(item)
        surely, maybe = taken(item, *span)
        if not maybe or status == "false":
            continue
        days = f"{maybe} day{'s' * (maybe != 1)}" if surely == maybe else \
            f"{surely} to {maybe} days"
        dose = "" if atom.reading == m.DAYS else \
            f" x {exact(item[R.DOSE])} {concept.dosed_in}" if R.DOSE in item else " x no dose"
        said.append(f"{item[R.DRUG]} {days}{dose}" + (
            "" if status == "true" else f", may count: {_open_on(atom, concept, item)}"))
    return f" ({'; '.join(said)})" if said else ""


def _open_on(atom: m.CurrentDose | m.CumulativeDose, concept: m.Concept, item: dict) -> str:
    """Why a filter may or may not keep a course: what it reads that the course does not
    record (`route not recorded`)."""
    reads = dict.fromkeys(r for clause in atom.filters for r in clause_open(clause, concept)(item))
    return ", ".join(f"{r} not recorded" for r in reads) or "its dates do not decide it"


def _kept_words(atom: m.CurrentDose | m.CumulativeDose) -> str:
    """The courses a summed dose counts, as the trail says them: ` of courses where route is
    oral`; nothing without a filter."""
    if not atom.filters:
        return ""
    return " of courses where " + " and ".join(str(clause) for clause in atom.filters)


class StableDose(Atom):
    """`X dose stable for at least D before <anchor>`. With A the anchor day and B = A - D
    (calendar-aware): some course, or chain of courses renewing one another at one dose, covers
    every day from B to A (it started on or before B and ends on or after A, or is ongoing), and
    no course starts after B up to A, or ends from B to the day before A, but where a course at
    the same dose renews it (`courses._renewals`). A course is one daily dose, so a dose changes
    only where a course starts or ends; a prescription renewed at its dose changes none.

    Two hidden nodes, "covered" and "changed", each true when some item surely meets it and
    false when none may (dates known only to the month may), joined in Kleene logic: stable is
    covered and not changed. No anchor day is UNKNOWN; recorded as none is false."""

    handles = m.StableDose

    def compile(self, atom: m.StableDose, build: Build) -> Kleene:
        build.layout.steady.add(atom.ref.name)
        anchor, bound, undecided, decided, needs = span_before(atom, build)
        (covered_sure, covered_maybe), (changed_sure, changed_maybe) = _spans(anchor, bound)
        covered = build.hidden(atom, covered_sure, undecided, decided, needs, covered_maybe,
                               suffix="=")
        changed = build.hidden(atom, changed_sure, undecided, decided, needs, changed_maybe,
                               suffix="~")
        return conjunction([covered, changed.negated()])

    def judge(self, atom: m.StableDose, reader: Reader, patient: Patient) -> Judged:
        name = atom.ref.name
        items, text = reader.items(name, patient)
        if items is None:
            return "unknown", text
        days, judged = days_before(atom, patient, items, text)
        if days is None:
            assert judged is not None
            return judged
        a, b = days
        record = patient.record
        covered = _status(items, lambda i: i[R.STEADY_FIRST] <= b and i[R.STEADY_LAST] >= a,
                          lambda i: i[R.STEADY_FIRST_MAY] <= b and i[R.STEADY_LAST_MAY] >= a)
        changed = _status(items, lambda i: (
            i[R.START] > b and i[R.START_LATEST] <= a and not i[R.CARRIES_ON]) or (
            i[R.END_EARLIEST] >= b and i[R.END] < a and not i[R.GOES_ON]), lambda i: (
            i[R.START_LATEST] > b and i[R.START] <= a and not i[R.CARRIES_ON]) or (
            i[R.END] >= b and i[R.END_EARLIEST] < a and not i[R.GOES_ON]))
        if R.open_list(record, reader.wholes, name):  # a course not recorded may do either
            covered = "unknown" if covered == "false" else covered
            changed = "unknown" if changed == "false" else changed
            text = f"{text}; {patient.unusable[name]}"
        held = "false" if covered == "false" or changed == "true" else \
            "true" if covered == "true" and changed == "false" else "unknown"
        renewed = " (renewed at its dose)" if any(i[R.CARRIES_ON] for i in items) else ""
        words = {"true": f"a course{renewed} covers", "false": "no course covers",
                 "unknown": f"a course{renewed} may cover"}[covered]
        change = {"true": "a course starts or ends in between", "false": "no course starts or "
                  "ends in between", "unknown": "a course may start or end in between"}[changed]
        span = f"{date.fromordinal(b)} to {date.fromordinal(a)}"
        return held, f"{text}; {words} {span}, {change}"


def _status(items: list[dict], sure, maybe) -> str:
    return "true" if any(sure(i) for i in items) else \
        "false" if not any(maybe(i) for i in items) else "unknown"


def _spans(anchor: str, bound: str) -> tuple[tuple[P.Pattern, P.Pattern], ...]:
    """Item tests (surely, possibly) for a course, with its renewals, covering the days from the
    bound to the anchor, and for a course starting after the bound up to the anchor or ending
    from the bound to the day before the anchor, where no renewal at its dose joins it. An
    item's first day lies between `s` and `sl`, its last between `el` and `e`; its chain of
    renewals' between `steady_first_may` and `steady_first`, `steady_last` and
    `steady_last_may`."""
    I, a, b = R.ITEM, {"$m": anchor}, {"$m": bound}  # noqa: E741
    starts, ends = P.test("==", I[R.CARRIES_ON], 0), P.test("==", I[R.GOES_ON], 0)
    covered = (P.all_of(P.test("<=", I[R.STEADY_FIRST], b), P.test(">=", I[R.STEADY_LAST], a)),
               P.all_of(P.test("<=", I[R.STEADY_FIRST_MAY], b),
                        P.test(">=", I[R.STEADY_LAST_MAY], a)))
    changed = (P.any_of(P.all_of(P.test(">", I[R.START], b), P.test("<=", I[R.START_LATEST], a),
                                 starts),
                        P.all_of(P.test(">=", I[R.END_EARLIEST], b), P.test("<", I[R.END], a),
                                 ends)),
               P.any_of(P.all_of(P.test(">", I[R.START_LATEST], b), P.test("<=", I[R.START], a),
                                 starts),
                        P.all_of(P.test(">=", I[R.END], b), P.test("<", I[R.END_EARLIEST], a),
                                 ends)))
    return covered, changed


__all__ = ["CurrentDose", "StableDose", "Decimal"]
