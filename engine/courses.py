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

from decimal import Decimal
from typing import TYPE_CHECKING

from engine import record as R
from engine.dates import length, runs
from engine.factfile import plain, quoted
from engine.record import attributes_text, period_text, plain_number, used_fact
from protocol.units import UnitProblem, convert, quantize

if TYPE_CHECKING:
    from engine.facts import Reader


class Courses:
    """The medication half of the per-patient builder: one course per fact."""

    def _medication(self, r: Reader, facts) -> None:
        items = self._occurrences(r, facts)
        if not items:
            return
        concept = r.concept
        courses = []
        used = []
        screening = self.screening_day
        for index, fact, item in items:
            drug = fact.get("drug")
            drug = concept.canonical(drug) if isinstance(drug, str) else None
            if drug is None:
                allowed = ", ".join(v.name for v in concept.values)
                self.problem(index, "drug", f"{concept.name} must name one of {{{allowed}}}, "
                             f"found {quoted(fact.get('drug'))}")
                continue
            item[R.DRUG] = drug
            # at least and at most: the same when its dates are exact, worked out once then
            surely = (item[R.START_LATEST], min(item[R.END_EARLIEST], screening))
            maybe = (item[R.START], min(item[R.END], screening))
            shortest = length(*surely)
            longest = shortest if maybe == surely else length(*maybe)
            item[R.MONTHS], item[R.DAYS] = shortest
            item[R.MONTHS_MOST], item[R.DAYS_MOST] = longest
            dose, note = self._dose(r, index, fact, drug) if concept.dosed_in else (None, None)
            if dose is not None:
                item[R.DOSE] = float(dose)
            elif concept.dosed_in:
                item[R.UNDOSED_ITEM] = 1
            courses.append(item)
            shown = f"{plain_number(dose)} {concept.dosed_in}" if dose is not None else None
            months = item[R.MONTHS] if item[R.MONTHS] == item[R.MONTHS_MOST] else \
                f"{item[R.MONTHS]} to {item[R.MONTHS_MOST]}"
            period = f"{period_text(fact, course=True)}, {months} completed months"
            dose_note = f"{period}; {note}" if note else period
            given = fact.get("dose")
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
        self._doses(r, courses)

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

    def _doses(self, r: Reader, courses: list[dict]) -> None:
        """The daily dose on each anchor day asked for, summed over the courses covering it: a
        number the network compares, exact when every course surely covers the day or surely
        not; otherwise bounds, the courses that may cover it adding to the upper one, and a course
        without a dose leaving it unbounded (see record.dose_field)."""
        record = self.patient.record
        for field_name, anchor in r.doses:
            day = record.get(anchor)
            if day is None:
                self.patient.unusable[field_name] = \
                    f"{anchor}: {self.patient.unusable.get(anchor, 'no fact given')}"
                continue
            low = high = Decimal(0)
            unbounded = False
            for course in courses:
                if not course[R.START] <= day <= course[R.END]:
                    continue  # surely not on that day
                surely = course[R.START_LATEST] <= day <= course[R.END_EARLIEST]
                if R.DOSE not in course:
                    unbounded = True
                    continue
                dose = Decimal(repr(course[R.DOSE]))
                low, high = (low + dose, high + dose) if surely else (low, high + dose)
            if not unbounded and low == high:
                record[field_name] = float(quantize(low))
                continue
            lo, hi, _, _ = R.bounds(field_name)
            record[lo] = float(quantize(low))
            if not unbounded:
                record[hi] = float(quantize(high))

    def _dose(self, r: Reader, index: int, fact: dict, drug: str):
        """A course's daily dose per kg in the concept's unit, through the equivalence table."""
        concept = r.concept
        if fact.get("dose") is None:
            return None, "no dose recorded"
        dose = self._number(index, fact, "dose")
        unit = fact.get("unit")
        if dose is not None and dose < 0:
            self.problem(index, "dose", f"a dose cannot be negative: {dose}")
            return None, None
        if dose is None or unit is None:
            if unit is None:
                self.problem(index, "unit", "a dose needs a unit, e.g. mg/d or mg/kg/d")
            return None, None
        table = r.table
        if table is not None:
            entry = self.n.equivalent(concept, table, drug)
            if entry is None:
                return None, f"{drug} has no entry in {table.name}"
            # the entry's two sides in one unit: `dexamethasone 750 ug = 5 mg` is 5000 ug for 750
            same = self.n.dose_factor(entry.equals.unit, entry.amount.unit)
            dose = dose * entry.equals.value * same / entry.amount.value
        equivalent = f"as {table.name}" if table is not None else None
        direct = self.n.dose_factor(unit, concept.dosed_in)
        if direct is not None:
            return quantize(dose * direct), equivalent
        if concept.weight is None:
            self.problem(index, "unit", f"{concept.name} is dosed in {concept.dosed_in}: give the dose "
                         f"in that unit (the protocol names no weight to divide by)")
            return None, None
        weight = self.patient.record.get(concept.weight.name)
        weight_unit = self.n.concepts[concept.weight.name].unit
        per_kg = f"{unit}/{weight_unit}"
        if weight is None:
            return None, f"dose per {weight_unit} needs the patient's {concept.weight.name}"
        if weight <= 0:  # nothing to divide by: the dose per kg stays open, as without a weight
            return None, f"dose per {weight_unit} needs a {concept.weight.name} above 0, " \
                f"not {weight:g} {weight_unit}"
        try:
            divided = f"divided by {concept.weight.name} {weight:g} {weight_unit}"
            return convert(dose / Decimal(str(weight)), per_kg, concept.dosed_in,
                           aliases=self.n.aliases), (
                f"{equivalent}, {divided}" if equivalent else divided)
        except UnitProblem as error:
            self.problem(index, "unit", f"{concept.name} dose: {error}")
            return None, None
