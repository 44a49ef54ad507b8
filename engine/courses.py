"""A medication's courses, normalised: their drug, how long each lasted up to screening, the runs
of consecutive courses and the daily dose on an anchor day summed over the courses that cover it:
numbers the network compares (`engine/atoms/doses.py`, `engine/atoms/history.py`), worked out
here from the dates and doses a fact file gives.

`Courses` is the part of the per-patient builder (`engine/facts._Builder`) that reads medication
facts; it uses the builder's record, problems and occurrence reading (`_occurrences`, `_edges`,
`_number` of `engine/values.Values`, `problem`, `patient`, `screening`, `screening_day`, and the
normaliser `n`), and the concept's reader (`engine/facts.Reader`), which holds what depends on
the concept alone.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from engine import record as R
from engine.dates import length, runs, shift
from engine.factfile import plain, quoted
from engine.record import ONGOING, attributes_text, period_text, plain_number, used_fact
from protocol import model as m
from protocol.formula import rounded
from protocol.units import UnitProblem, convert, factor, parse_unit, quantize

if TYPE_CHECKING:
    from engine.atoms.filters import Kept
    from engine.facts import Reader


class Courses:
    """The medication half of the per-patient builder: one course per fact."""

    def _medication(self, r: Reader, facts) -> None:
        items = self._occurrences(r, facts)
        if not items:
            return
        concept = r.concept
        courses = []
        exacts: list[Fraction | None] = []  # each course's daily dose before its rounding
        used = []
        for index, fact, item in items:
            drug = fact.get("drug")
            drug = concept.canonical(drug) if isinstance(drug, str) else None
            if drug is None:
                allowed = ", ".join(v.name for v in concept.values)
                self.problem(index, "drug", f"{concept.name} must name one of {{{allowed}}}, "
                             f"found {quoted(fact.get('drug'))}")
                continue
            item[R.DRUG] = drug
            period = period_text(fact, course=True) + self._length(r, fact, item)
            given = fact.get("dose")
            if not concept.dosed_in and given is not None and given < 0:  # shown, not compared
                self.problem(index, "dose", f"a dose cannot be negative: {plain(given)}")
                continue
            dose, exact, note = self._dose(r, index, fact, drug) if concept.dosed_in else \
                (None, None, None)
            if dose is not None:
                item[R.DOSE] = float(dose)
            elif concept.dosed_in:
                item[R.UNDOSED_ITEM] = 1
            courses.append(item)
            exacts.append(exact)
            shown = f"{plain_number(dose)} {concept.dosed_in}" if dose is not None else None
            dose_note = f"{period}; {note}" if note else period
            what = drug if given is None else f"{drug} {plain(given)} {fact.get('unit')}"
            if r.attributes:
                what += attributes_text(concept, item)
            used.append(used_fact((index, concept.name, what, fact.get("unit"), fact.get("date"),
                                   shown, dose_note)))
        if used:
            self.patient.used.setdefault(concept.name, []).extend(used)
        self.patient.record[concept.name] = courses
        self._edges(r, courses)
        if concept.dosed_in:
            lengths = (R.MONTHS, R.DAYS, R.MONTHS_MOST, R.DAYS_MOST)
            undosed = [{key: c[key] for key in lengths} for c in courses if R.DOSE not in c]
            if undosed:
                self.patient.record[R.undosed_field(concept.name)] = undosed
        if r.runs:
            self._runs(courses)
        if r.run_days:
            self._run_days(courses)
        if r.steady:
            _renewals(courses)
        self._tallied(r, courses, exacts)

    def _runs(self, courses: list[dict]) -> None:
        """Each course's run of consecutive courses, its length up to screening: at least (the
        days each course surely covers, joined where they surely meet) and at most (the days each
        may cover, joined where they may meet)."""
        screening = self.screening_day
        for sure, first, last in ((True, R.START_LATEST, R.END_EARLIEST),
                                  (False, R.START, R.END)):
            spans = runs([(c[first], min(c[last], screening)) for c in courses])
            keys = (R.MONTHS, R.DAYS) if sure else (R.MONTHS_MOST, R.DAYS_MOST)
            for course, span in zip(courses, spans):
                course[R.RUN[keys[0]]], course[R.RUN[keys[1]]] = length(*span)

    @staticmethod
    def _run_days(courses: list[dict]) -> None:
        """Each course's run of consecutive courses, its first and last day: of the days each
        course surely covers (joined where they surely meet), and of those it may (joined where
        they may). Not cut at screening: a course going on may run on, as `dose stable` reads
        one."""
        for first, last, keys in ((R.START_LATEST, R.END_EARLIEST, (R.RUN_FIRST, R.RUN_LAST)),
                                  (R.START, R.END, (R.RUN_FIRST_MAY, R.RUN_LAST_MAY))):
            for course, span in zip(courses, runs([(c[first], c[last]) for c in courses])):
                course[keys[0]], course[keys[1]] = span

    def _tallied(self, r: Reader, courses: list[dict], exacts: list[Fraction | None]) -> None:
        """The doses summed over the courses (none: 0): on a day, and over days (from each
        course's daily dose before its rounding, `exacts`: 42 days of 10 mg/d for 70 kg are
        exactly 6 mg/kg, not 42 x 0.142857)."""
        self._doses(r, courses)
        if r.cumulatives:
            self._cumulative(r, courses, exacts)

    def _doses(self, r: Reader, courses: list[dict]) -> None:
        """The daily dose on each anchor day asked for, summed over the courses covering it: a
        number the network compares, exact when every course surely covers the day or surely
        not; otherwise bounds, the courses that may cover it adding to the upper one, and a course
        without a dose leaving it unbounded (see record.dose_field)."""
        record = self.patient.record
        for field_name, anchor, kept in r.doses:
            day = record.get(anchor)
            unbounded = self._open(r)  # a course not recorded may cover the day
            if day is None and (courses or unbounded):
                self.patient.unusable[field_name] = \
                    f"{anchor}: {self.patient.unusable.get(anchor, 'no fact given')}"
                continue
            low = high = Decimal(0)  # recorded as none: 0 on any day
            for _, course in counted(courses, kept):
                if not course[R.START] <= day <= course[R.END]:
                    continue  # surely not on that day
                surely = course[R.START_LATEST] <= day <= course[R.END_EARLIEST]
                if R.DOSE not in course:
                    unbounded = True
                    continue
                dose = Decimal(repr(course[R.DOSE]))
                low, high = (low + dose, high + dose) if surely else (low, high + dose)
            _summed(record, field_name, low, None if unbounded else high)

    def _cumulative(self, r: Reader, courses: list[dict], exacts: list[Fraction | None]
                    ) -> None:
        """Each cumulative dose asked for: each course's daily dose times its days inside the
        window (every day up to screening, or from A - D to A, calendar-aware: `summed_span`),
        summed. Exact when every course's days there and dose are known; otherwise bounds: the
        days a course surely took there (from its latest start to its earliest end: at least one
        when it surely started by the window's end and ended on or after its start) to the days
        it may have (a course going on, or
        whose end is not recorded, up to the window's end), and a course without a dose that may
        fall inside leaves it unbounded above. An average daily dose is that sum divided by the
        window's days; the highest daily dose the most of one of them (`_highest`)."""
        record = self.patient.record
        for field_name, anchor, duration, reading, kept in r.cumulatives:
            span = summed_span(record, anchor, duration)
            unbounded = self._open(r)  # a course not recorded may fall in the window
            if span is None and not courses and not unbounded:  # none: 0 over any days
                _summed(record, field_name, Decimal(0), Decimal(0))
                continue
            if span is None:
                self.patient.unusable[field_name] = \
                    f"{anchor}: {self.patient.unusable.get(anchor, 'no fact given')}"
                continue
            days = span[1] - span[0] + 1
            if reading == m.DAYS:
                kept_courses = [course for _, course in counted(courses, kept)]
                surely = _covered([(c[R.START_LATEST], c[R.END_EARLIEST]) for c in kept_courses],
                                  *span)
                maybe = _covered([(c[R.START], c[R.END]) for c in kept_courses], *span)
                _summed(record, field_name, Decimal(surely), None if unbounded else Decimal(maybe))
                continue
            summed = [(course, exacts[index]) for index, course in counted(courses, kept)]
            if reading == m.HIGHEST:
                low, most = _highest([c for c, _ in summed], [d for _, d in summed], *span)
                _summed(record, field_name, rounded(low),
                        None if unbounded or most is None else rounded(most))
                continue
            low = high = Fraction(0)
            for course, dose in summed:
                surely, maybe = taken(course, *span)
                if not maybe:
                    continue
                if dose is None:
                    unbounded = True
                    continue
                low, high = low + dose * surely, high + dose * maybe
            if reading == m.AVERAGE:
                low, high = low / days, high / days
            _summed(record, field_name, rounded(low), None if unbounded else rounded(high))

    def _dose(self, r: Reader, index: int, fact: dict, drug: str):
        """A course's daily dose (per kg) in the concept's unit, through the equivalence table:
        rounded, as the network compares it; exact, as a cumulative dose sums it (None where
        none does); and a note."""
        concept = r.concept
        if fact.get("dose") is None:
            return None, None, "no dose recorded"
        dose = self._number(index, fact, "dose")
        unit = fact.get("unit")
        if dose is not None and dose < 0:
            self.problem(index, "dose", f"a dose cannot be negative: {dose}")
            return None, None, None
        if dose is None or unit is None:
            if unit is None:
                self.problem(index, "unit", "a dose needs a unit, e.g. mg/d or mg/kg/d")
            return None, None, None
        table = r.table
        given = Fraction(dose)  # what a cumulative dose sums, exactly (`summed` below)
        if table is not None:
            entry = self.n.equivalent(concept, table, drug)
            if entry is None:
                return None, None, f"{drug} has no entry in {table.name}"
            # the entry's two sides in one unit: `dexamethasone 750 ug = 5 mg` is 5000 ug for 750
            same = self.n.dose_factor(entry.equals.unit, entry.amount.unit)
            dose = dose * entry.equals.value * same / entry.amount.value
            given = given * Fraction(entry.equals.value) * Fraction(same) / \
                Fraction(entry.amount.value)
        equivalent = f"as {table.name}" if table is not None else None
        direct = self.n.dose_factor(unit, concept.dosed_in)
        summed = bool(r.cumulatives)  # the exact dose only where a cumulative dose sums it
        if direct is not None:
            return quantize(dose * direct), given * Fraction(direct) if summed else None, \
                equivalent
        if concept.weight is None:
            self.problem(index, "unit", _undosed(concept, unit, self.n.aliases))
            return None, None, None
        weight = self.patient.record.get(concept.weight.name)
        weight_unit = self.n.concepts[concept.weight.name].unit
        per_kg = f"{unit}/{weight_unit}"
        if weight is None:
            return None, None, f"dose per {weight_unit} needs the patient's {concept.weight.name}"
        if weight <= 0:  # nothing to divide by: the dose per kg stays open, as without a weight
            return None, None, f"dose per {weight_unit} needs a {concept.weight.name} above " \
                f"0, not {weight:g} {weight_unit}"
        try:
            divided = f"divided by {concept.weight.name} {weight:g} {weight_unit}"
            per_weight = dose / Decimal(str(weight))
            exact = given / Fraction(Decimal(str(weight))) * Fraction(
                factor(per_kg, concept.dosed_in, aliases=self.n.aliases)) if summed else None
            return convert(per_weight, per_kg, concept.dosed_in, aliases=self.n.aliases), \
                exact, f"{equivalent}, {divided}" if equivalent else divided
        except UnitProblem as error:
            self.problem(index, "unit", f"{concept.name} dose: {error}")
            return None, None, None


def _undosed(concept: m.Concept, unit: str, aliases) -> str:
    """Why a dose in `unit` is no dose of `concept`, which names no weight to divide by: a unit
    that cannot be read (`mg/wk`), or one of another dimension."""
    try:
        parse_unit(unit, aliases)
    except UnitProblem as error:
        return f"{concept.name} dose: {error}: give it in {concept.dosed_in}, or in a unit of " \
            "its dimension"
    if "kg" in unit:  # per kg of body weight, as a dose without a weight to multiply it by
        return f"{concept.name} is dosed in {concept.dosed_in}: give the dose in that unit (the " \
            "protocol names no weight to multiply a dose per kg by)"
    return f"{concept.name} is dosed in {concept.dosed_in}: give the dose in that unit, or one " \
        f"of its dimension ({unit} is not)"


def summed_span(record: dict, anchor: str | None, duration: m.Duration | None
                ) -> tuple[int, int] | None:
    """The days a cumulative dose sums over (ordinals, both counted): every day up to
    screening, or from the anchor day minus `duration` (calendar-aware) to the anchor day; None
    when the anchor day is missing. Days after screening (a first dose planned later) are read
    as the record has them, as `dose at` and `dose stable` read them: a course going on at
    screening goes on, and none starts after it (nothing after screening is recorded)."""
    screening = record[R.SCREENING]
    if anchor is None or duration is None:
        return 1, screening
    day = record.get(anchor)
    if day is None:
        return None
    return shift(date.fromordinal(day), duration).toordinal(), day


def _highest(courses: list[dict], doses: list[Fraction | None], first: int, last: int
             ) -> tuple[Fraction, Fraction | None]:
    """The most taken on one day from `first` to `last` (ordinals), the daily doses of the
    courses of that day summed. At least what courses surely taken on one same day sum to (from
    their latest start to their earliest end); and a course surely taken on some day there, on
    its first day in the span (from its earliest to its latest start there) or its last (from
    its earliest to its latest end there), with the least the others surely taken on such a day
    add. At most what courses that may have been taken on one
    day sum to (None: unbounded, a course without a dose may have been). A sum of courses
    changes only where one starts or the day after one ends, so those days (and the span's
    first) are the days to read."""
    unbounded = False
    sure: list[tuple[int, int, Fraction]] = []
    maybe: list[tuple[int, int, Fraction]] = []
    somewhere: list[tuple[int, int, int, Fraction]] = []  # a course surely on a day of a range
    for course, dose in zip(courses, doses):
        surely, may = taken(course, first, last)
        if not may:
            continue
        if dose is None:
            unbounded = True
            continue
        if surely:  # it takes the first day of its own in the span, and the last
            for start, end in ((max(course[R.START], first),
                                min(max(course[R.START_LATEST], first), last)),
                               (max(min(course[R.END_EARLIEST], last), first),
                                min(course[R.END], last))):
                if start <= end:
                    somewhere.append((len(sure), start, end, dose))
        # its days surely (none, where its latest start follows its earliest end) and maybe
        sure.append((max(course[R.START_LATEST], first), min(course[R.END_EARLIEST], last), dose))
        maybe.append((max(course[R.START], first), min(course[R.END], last), dose))

    def on(spans: list[tuple[int, int, Fraction]], day: int, but: int = -1) -> Fraction:
        return sum((dose for k, (start, end, dose) in enumerate(spans)
                    if k != but and start <= day <= end), Fraction(0))

    def days(spans: list[tuple[int, int, Fraction]], start: int, end: int) -> set[int]:
        return {start} | {day for s, e, _ in spans for day in (s, e + 1) if start < day <= end}

    low = max((on(sure, day) for day in days(sure, first, last)), default=Fraction(0))
    for index, start, end, dose in somewhere:
        low = max(low, dose + min(on(sure, day, index) for day in days(sure, start, end)))
    return low, None if unbounded else max(
        (on(maybe, day) for day in days(maybe, first, last)), default=Fraction(0))


def counted(courses: list[dict], kept: Kept) -> list[tuple[int, dict]]:
    """The courses a summed dose counts, each with its place among `courses` (its dose's): every
    one without a filter; with one, those it keeps, and those it may keep (an attribute not
    recorded) as courses that may have been taken on their days but surely on none (their latest
    start past any day), so they add to the upper bound alone; each asked of the filter once.

    >>> kept = lambda course: "true" if "route" in course else "unknown"
    >>> counted([{R.START_LATEST: 5, "route": "oral"}, {R.START_LATEST: 5}], kept)[1]
    (1, {'sl': 10000000})
    """
    if kept is None:
        return list(enumerate(courses))
    found = []
    for index, course in enumerate(courses):
        status = kept(course)
        if status != "false":
            found.append((index, course if status == "true" else
                          {**course, R.START_LATEST: ONGOING}))
    return found


def taken(course: dict, first: int, last: int) -> tuple[int, int]:
    """The days from `first` to `last` a course surely and may have been taken on: from its
    latest start to its earliest end (at least one, when it surely started by `last` and ended
    on or after `first`), and from its earliest start to its latest end (a course going on, or
    whose end is not recorded, to `last`)."""
    maybe = _days(course[R.START], course[R.END], first, last)
    surely = _days(course[R.START_LATEST], course[R.END_EARLIEST], first, last) or \
        int(course[R.START_LATEST] <= last and course[R.END_EARLIEST] >= first)
    return min(surely, maybe), maybe


def _covered(spans: list[tuple[int, int]], first: int, last: int) -> int:
    """How many days from `first` to `last` some span covers (ordinals, both ends counted), a
    day two spans share counted once: a total duration on a medication.

    >>> _covered([(1, 10), (5, 12), (20, 19), (30, 40)], 3, 35)
    16
    """
    covered, reached = 0, first - 1
    for start, end in sorted((max(s, first), min(e, last)) for s, e in spans):
        if start <= end and end > reached:  # a span surely taken on no one day counts none
            covered += end - max(start, reached + 1) + 1
            reached = end
    return covered


def _days(start: int, end: int, first: int, last: int) -> int:
    """How many days from `start` to `end` (ordinals, both counted) lie from `first` to `last`."""
    return max(0, min(end, last) - max(start, first) + 1)


def _summed(record: dict, field: str, low: Decimal, high: Decimal | None) -> None:
    """A sum of doses into the record: exact, or its bounds (`record.bounds`; no high one when
    a course without a dose may count)."""
    if low == high:
        record[field] = float(quantize(low))
        return
    lo, hi, _, _ = R.bounds(field)
    record[lo] = float(quantize(low))
    if high is not None:
        record[hi] = float(quantize(high))


def _renewals(courses: list[dict]) -> None:
    """Which course renews which at the same daily dose, for a stable dose: a prescription
    renewed is no change of dose. A course renews one that ends on its first day or the day
    before, at its own dose, both days exact (a date known only to the month renews nothing: it
    may leave a gap); each course renews one at most and is renewed once at most (two starting
    the day one ends double the dose). Each course then carries whether its start and its end
    are renewals, and the first and last day of its chain of renewals, surely and possibly.

    >>> a = {"s": 10, "sl": 10, "el": 20, "e": 20, "dose": 5.0}
    >>> b = {"s": 21, "sl": 21, "el": 40, "e": 40, "dose": 5.0}
    >>> c = {"s": 21, "sl": 21, "el": 30, "e": 30, "dose": 5.0}
    >>> _renewals([a, b, c]); (a["goes_on"], b["carries_on"], c["carries_on"], b["steady_first"])
    (1, 1, 0, 10)
    """
    ends: dict[tuple[int, float], list[int]] = {}
    for index, course in enumerate(courses):
        if R.DOSE in course and course[R.END] == course[R.END_EARLIEST] < ONGOING:
            ends.setdefault((course[R.END], course[R.DOSE]), []).append(index)
    renewed: dict[int, int] = {}  # the course renewed -> the course that renews it
    for index in sorted(range(len(courses)), key=lambda i: courses[i][R.START]):
        course = courses[index]
        if R.DOSE not in course or course[R.START] != course[R.START_LATEST]:
            continue
        for day in (course[R.START] - 1, course[R.START]):
            # one that comes before it, by first day then place (a course of one day renewed
            # that day, never itself, and no two renewing each other)
            waiting = [i for i in ends.get((day, course[R.DOSE]), ())
                       if (courses[i][R.START], i) < (course[R.START], index)]
            if waiting:
                renewed[waiting[0]] = index
                ends[(day, course[R.DOSE])].remove(waiting[0])
                break
    renews = {later: earlier for earlier, later in renewed.items()}
    for index, course in enumerate(courses):
        course[R.CARRIES_ON], course[R.GOES_ON] = int(index in renews), int(index in renewed)
    for index, course in enumerate(courses):
        first = last = index
        while first in renews:
            first = renews[first]
        while last in renewed:
            last = renewed[last]
        course[R.STEADY_FIRST], course[R.STEADY_FIRST_MAY] = \
            courses[first][R.START_LATEST], courses[first][R.START]
        course[R.STEADY_LAST], course[R.STEADY_LAST_MAY] = \
            courses[last][R.END_EARLIEST], courses[last][R.END]
