"""Histories normalised: each occurrence of an event or course of a medication as the earliest
and latest its first and last day can be, its grade and attributes, the most recent one's start
and end for windows anchored on them, and a history given only through narrower ones (an open
list): numbers the network compares (`engine/atoms/history.py`), worked out here from the dates
a fact file gives.

`Occurrences` is the part of the per-patient builder (`engine/facts._Builder`) that reads
histories; it uses the builder's record, problems and facts used (`problem`, `_use`, `patient`,
`screening`, `screening_day`, `_number` of `engine/values.Values`, and the normaliser `n`), and
the concept's reader (`engine/facts.Reader`). `engine/courses.Courses` builds a medication's
courses on it.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from engine import record as R
from engine.dates import FIRST_DAY_NUMBER, UNDATED, day_numbers_of_text, length, shift
from engine.factfile import quoted
from engine.record import ONGOING, attributes_text, length_text, period_text, plain_number
from protocol import model as m
from protocol.units import UnitProblem, applied, days_in, quantize, scale

if TYPE_CHECKING:
    from engine.facts import Reader


class Occurrences:
    """The history half of the per-patient builder: one occurrence per fact."""

    def _edges(self, r: Reader, items: list[dict]) -> None:
        """The start and end of the most recent occurrence, for windows anchored on them."""
        if not items or not r.edges:
            return
        # Its edge lies between the earliest and the latest of the edges of the items that may
        # be the most recent (`R.most_recent`): windows compare with both (`R.spread`), unless
        # one may still be going on.
        name = r.name
        record, unusable = self.patient.record, self.patient.unusable
        if self._open(r):  # another, not recorded, may have started last
            for field_name, _ in r.edges:
                unusable[field_name] = f"which {name} is the most recent is not settled: " \
                    f"{unusable[name]}"
            return
        surest, indexes = R.most_recent(items)
        candidates = [items[i] for i in indexes]
        for field_name, edge in r.edges:
            if edge == "latest":  # the items' own tests find the candidates in the network
                record.update(zip(R.latest_fields(name), surest))
                continue
            edges = [_edge(item, edge) for item in candidates]
            early, late = min(e[0] for e in edges), max(e[1] for e in edges)
            if edge == "until":  # a window `during` it runs to now (ONGOING) while it goes on
                record.update(zip(R.spread(field_name), (early, late)))
                continue
            if any(e != edges[0] for e in edges):
                unusable[field_name] = \
                    f"which {name} is the most recent is not settled (dates known only " \
                    f"to the month or year, or an end not recorded), and their {edge}s differ" + (
                        ": one may still be going on" if late == ONGOING else "")
            elif early == ONGOING:
                unusable[field_name] = f"the most recent {name} has not ended"
            elif late == ONGOING and early != late:
                unusable[field_name] = \
                    f"the end of the most recent {name} is not recorded"
            elif early != late:
                unusable[field_name] = \
                    f"the {edge} of the most recent {name} is known only to the month or year"
            else:
                record[field_name] = early
            if late != ONGOING:
                record.update(zip(R.spread(field_name), (early, late)))

    def _occurrences(self, r: Reader, facts) -> list[dict] | None:
        """The occurrence list, or None when the patient has explicitly none (or nothing is known)."""
        whole = r.whole_field
        if whole is not None:
            facts, whole = self._narrowed(r, facts)
            if not facts:
                return None
        if len(facts) == 1:  # nearly always: none, or one occurrence
            nones, present = (facts, ()) if facts[0][1].get("present") is False else ((), facts)
        else:
            nones, present = [], []
            for entry in facts:
                (nones if entry[1].get("present") is False else present).append(entry)
        if nones and present:
            given = present[0][1]["concept"]
            how = "" if given == r.name else f" by {given}, which counts as {r.name}"
            self.problem(nones[0][0], "present", f"{r.name} is recorded as none and as "
                         f"present (fact #{present[0][0] + 1}{how})")
            return None
        if nones:
            self.patient.record[r.none_field] = 1
            if whole:
                self.patient.record[whole] = 1
            if r.tallied:
                self._tallied(r, [], [])
            self._use(r, nones[0][0], nones[0][1], None, value="recorded as none")
            return None
        items = []
        for index, fact in present:
            if "value" in fact:  # a yes/no of its own would be read as the occurrence it records
                self.problem(index, "value", f"{r.name} is {r.concept.kind.said}: its fact records one "
                             f"occurrence, by its date, and takes no value (found "
                             f"{quoted(fact['value'])}); to record that there is none, write "
                             "\"present\": false")
                continue
            item = self._occurrence(r, index, fact)
            if item is None:
                continue
            if r.attributes and not self._attributes(r, index, fact, item):
                continue
            if r.graded:
                grade = fact.get("grade")
                if grade is None:  # not recorded: it may or may not pass a grade test
                    item[R.UNGRADED_ITEM] = 1
                elif isinstance(grade, bool) or not isinstance(grade, (int, Decimal)):
                    self.problem(index, "grade", f"{r.name} is graded: give a numeric grade "
                                 "(or none, when it is not recorded)")
                    continue
                elif grade < 0 or grade != int(grade):
                    self.problem(index, "grade", f"a grade is a whole number from 0, found "
                                 f"{grade}")
                    continue
                else:
                    item[R.GRADE] = float(grade)
            for key, early, duration in r.spans:
                item[early], item[key] = (ONGOING if day >= ONGOING else min(shift(
                    date.fromordinal(day), duration, 1).toordinal(), ONGOING)
                    for day in (item[R.END_EARLIEST], item[R.END]))
            items.append((index, fact, item))
        if items and whole:
            self.patient.record[whole] = 1
        return items

    def _open(self, r: Reader) -> bool:
        """Whether the list's items came only through narrower lists (`_narrowed`): its most
        recent item, or the dose on a day, may be another's that the record does not give."""
        return r.whole_field is not None and r.whole_field not in self.patient.record

    def _narrowed(self, r: Reader, facts) -> tuple[list, str | None]:
        """Of a history that others count as (`methotrexate ... counts as csdmard`), the facts
        that make up its record, and its whole field when they make it whole: a narrower
        history's items are its items too, but only its own facts say whether there are others
        (methotrexate recorded says nothing of leflunomide), and a narrower one recorded as none
        is not this one's none. Given only through narrower ones, the list is open: its items
        can make a condition true, never false, and the trail says why (UNKNOWN)."""
        own = [entry for entry in facts if entry[1]["concept"] == r.name]
        if own:
            return (own if len(own) == len(facts) else [
                entry for entry in facts
                if entry[1]["concept"] == r.name or entry[1].get("present") is not False],
                r.whole_field)
        given = sorted({entry[1]["concept"] for entry in facts})
        self.patient.unusable[r.name] = (
            f"only {' and '.join(given)} recorded, which counts as {r.name}: whether there "
            f"is any other {r.name} is not")
        return [entry for entry in facts if entry[1].get("present") is not False], None

    def _occurrence(self, r: Reader, index: int, fact: dict) -> dict[str, Any] | None:
        """An occurrence's first and last day, each as the earliest and latest it can be.

        A date known to the month or year spans its days; with no date at all the occurrence
        happened on some day up to screening. A course of a medication, or an occurrence of a
        lasting event, with neither an end nor `ongoing` may still be going on: its end is
        unknown (another event with one date is a single day). Nothing can have started after
        screening, so latest days stop there; but
        a planned event's occurrence may lie on any day, and without a date it is planned for
        some day from screening on."""
        screening = self.screening_day
        when = fact.get("date")
        if when is None and r.planned:
            return {R.START: screening, R.START_LATEST: ONGOING, R.END: ONGOING,
                    R.END_EARLIEST: screening}
        # both dates are text, and dates, as grouping found
        starts = day_numbers_of_text(when) if when is not None else (UNDATED, screening)
        assert starts is not None
        first, latest_first = starts[0], starts[1] if r.planned else min(starts[1], screening)
        if fact.get("ongoing") and not fact.get("end"):
            earliest_last = last = ONGOING
        elif fact.get("end"):
            ends = day_numbers_of_text(fact["end"])
            assert ends is not None
            earliest_last, last = ends
            if last < first:
                self.problem(index, "end", f"ends {fact['end']}, before it starts {fact['date']}")
                return None
            earliest_last = max(earliest_last, first)
            if fact.get("ongoing"):  # not ended at screening, and ends on `end`
                if last < screening:
                    self.problem(index, "ongoing", f"recorded as ongoing at screening "
                                 f"{date.fromordinal(screening)} and as ended {fact['end']}: "
                                 "give one of them")
                    return None
                earliest_last = max(earliest_last, screening)
        elif r.runs_on:  # a course, or a lasting event's occurrence, may still be going on
            earliest_last, last = first, ONGOING
        elif when is None:
            earliest_last, last = first, screening
        else:
            earliest_last, last = first, latest_first
        latest_first = min(latest_first, last)  # it started no later than it ended
        return {R.START: first, R.START_LATEST: latest_first, R.END: last,
                R.END_EARLIEST: earliest_last}

    def _attributes(self, r: Reader, index: int, fact: dict, item: dict) -> bool:
        """Each declared attribute into the item, as its declared value, or `UNRECORDED` when
        the fact does not give it (a filter on it then may or may not pass); a value not
        declared is an input error."""
        good = True
        for attribute, field in r.attributes:
            given = fact.get(attribute.name)
            if attribute.numeric:
                good = self._recorded_number(r, index, attribute, given, item) and good
                continue
            if given is None:
                item[field] = R.UNRECORDED
                continue
            word = None if isinstance(given, bool) else given if isinstance(given, str) else \
                plain_number(Decimal(given)) if isinstance(given, (int, Decimal)) else None
            value = attribute.canonical(word) if word is not None else None
            if value is None:
                allowed = ", ".join(v.name for v in attribute.values)
                self.problem(index, attribute.name, f"{r.name}'s {attribute.name} must be "
                             f"one of {{{allowed}}}, found {quoted(given)}")
                good = False
            else:
                item[field] = value
        return good

    def _recorded_number(self, r: Reader, index: int, attribute: m.Attribute, given: Any,
                         item: dict) -> bool:
        """A number an item records into the item: a plain one rounded to six places, as every
        value is before it is compared (3.9999999 is 4); a quantity given as
        `{"value": 12, "unit": "mm"}` or `"12 mm"`, converted exactly into its declared unit (a
        bare number would be a guess at its unit). Not given, it is not recorded
        (`record.unrecorded_field`): a filter on it may or may not pass."""
        if given is None:
            item[R.unrecorded_field(attribute.name)] = 1
            if attribute.name in r.reaches:
                self._reaches(r, attribute, None, item)
            return True
        said = f"{r.name}'s {attribute.name}"
        if attribute.unit is None:
            if type(given) not in (int, Decimal):
                self.problem(index, attribute.name, f"{said} is a number: expected one, found "
                             f"{quoted(given)}")
                return False
            item[R.attribute_field(attribute.name)] = float(quantize(Decimal(given)))
            return True
        value, unit = (given.get("value"), given.get("unit")) if type(given) is dict else \
            _quantity_text(given) if type(given) is str else (None, None)
        if type(value) not in (int, Decimal) or type(unit) is not str:
            self.problem(index, attribute.name, f"{said} is measured in {attribute.unit}: give "
                         f'{{"value": ..., "unit": ...}} or "12 {attribute.unit}", found '
                         f"{quoted(given)}")
            return False
        try:
            by = scale(unit, attribute.unit, aliases=self.n.aliases)
        except UnitProblem as error:
            self.problem(index, attribute.name, f"{said}: {error}")
            return False
        if attribute.name in r.reaches:  # in days, from the value as given: exact
            days = days_in(unit, self.n.aliases)
            if value < 0 or days is None:
                why = "it cannot be negative" if value < 0 else \
                    "give it in s, min, h, d or weeks (a whole number of days each, or a " \
                    "whole fraction of one)"
                self.problem(index, attribute.name, f"{said} is a time: {why}, found "
                             f"{quoted(given)}")
                return False
            self._reaches(r, attribute, days * Fraction(value), item)
        item[R.attribute_field(attribute.name)] = float(applied(by, value))
        return True

    @staticmethod
    def _reaches(r: Reader, attribute: m.Attribute, value: Fraction | None, item: dict) -> None:
        """The last day each window on a multiple of the item's time (`m.Reach`, the time
        `value` in days) reaches from the item's last day, in whole days, from its earliest and
        its latest last day (an end not come yet reaches no further); strictly (`less than`),
        the last whole day before it ends (5 x 24 h: 4 days). Not recorded, the window may or may
        not reach the anchor: from no day surely, to any day possibly."""
        for key, early, times, strict in r.reaches[attribute.name]:
            if value is None:
                item[early], item[key] = -1, ONGOING
                continue
            days = math.ceil(times * value) - 1 if strict else math.floor(times * value)
            item[early] = min(item[R.END_EARLIEST] + days, ONGOING)
            item[key] = min(item[R.END] + days, ONGOING)

    def _event(self, r: Reader, facts) -> None:
        items = self._occurrences(r, facts)
        if not items:
            return
        listed = self.patient.record[r.name] = [item for _, _, item in items]
        self._edges(r, listed)
        for index, fact, item in items:
            what = f"grade {plain_number(Decimal(repr(item[R.GRADE])))}" if R.GRADE in item \
                else "grade not recorded" if R.UNGRADED_ITEM in item \
                else "planned" if r.planned else "occurred"
            if r.attributes:
                what += attributes_text(r.concept, item)
            period = period_text(fact, course=r.runs_on)
            if r.lengths:  # a filter compares its duration
                period += self._length(r, fact, item)
            self._use(r, index, fact, None, period, value=what)

    def _length(self, r: Reader, fact: dict, item: dict) -> str:
        """An occurrence's or a course's length up to screening, as `X for at least D` measures
        a course: completed calendar months and days, at least and at most what its dates allow
        (into `item`); and as the trail says it (its days where a filter compares days)."""
        screening = self.screening_day
        if not (r.runs_on or fact.get("end") or fact.get("ongoing")):
            surely = maybe = (item[R.START], item[R.START])  # of its one day, whichever it was
        else:
            surely = (item[R.START_LATEST], min(item[R.END_EARLIEST], screening))
            maybe = (item[R.START], min(item[R.END], screening))
        shortest = length(*surely)
        longest = shortest if maybe == surely else length(*maybe)
        item[R.MONTHS], item[R.DAYS] = shortest
        item[R.MONTHS_MOST], item[R.DAYS_MOST] = longest
        undated = item[R.START] < FIRST_DAY_NUMBER
        months = length_text(item[R.MONTHS], item[R.MONTHS_MOST], undated)
        said = f", {months} completed month{'' if months == '1' else 's'}"
        if r.days:
            days = length_text(item[R.DAYS], item[R.DAYS_MOST], undated)
            said += f", {days} day{'' if days == '1' else 's'}"
        if fact.get("end") and item[R.END] > screening:  # measured up to screening
            said += " by screening"
        return said


def _edge(item: dict, edge: str) -> tuple[int, int]:
    """An occurrence's start or end as its earliest and latest possible days."""
    return (item[R.START], item[R.START_LATEST]) if edge == "start" else \
        (item[R.END_EARLIEST], item[R.END])


def _quantity_text(text: str) -> tuple[Decimal | None, str | None]:
    """A number and its unit written as text, `"12 mm"`; (None, None) when it is not one.

    >>> _quantity_text("12.5 mm"), _quantity_text("12mm"), _quantity_text("large")
    ((Decimal('12.5'), 'mm'), (None, None), (None, None))
    """
    number, _, unit = text.strip().partition(" ")
    try:
        value = Decimal(number)
    except ArithmeticError:
        return None, None
    return (value, unit.strip()) if value.is_finite() and unit.strip() else (None, None)
