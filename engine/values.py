"""A concept of one value, read from a patient's facts: a measured value (quantity, lab, score,
scale, age), a category, a flag or judgment, a date.

Of a concept's facts the most recent on or before screening counts (`_latest`); one older than
`valid for` leaves the concept unknown. Two measured results of the latest day that differ bound
the value (`_between`); two other values of that day that disagree leave it unknown.
A measured value is converted to the concept's declared unit in exact decimals, or kept as its
bounds when the laboratory gives only one ("< 20", "not detected"); a lab value also as its
ratios to the reference range. These kinds share that choice of the fact that counts and nothing
of the lists of occurrences the rest of the builder reads, hence a module of their own.

`Values` is the part of the per-patient builder (`engine/facts._Builder`) that reads them, as
`engine/courses.Courses` reads medications; it uses the builder's record, problems and first days
(`patient`, `problem`, `problems`, `_use`, `_first_day`, `_first_days`, `screening`, `data`, and
the normaliser `n`), and the concept's reader (`engine/facts.Reader`), which holds what depends on
the concept alone.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Callable

from engine import record as R
from engine.ages import ages_told, calendar_steps
from engine.dates import (
    calendar_problem,
    day_written,
    days_of,
    days_of_text,
    known_only,
    outside_calendar,
    shift,
)
from engine.factfile import quoted
from engine.record import dilution, plain_number
from protocol import model as m
from protocol.units import UnitProblem, applied, quantize, scale

if TYPE_CHECKING:
    from engine.facts import Reader


class Values:
    """The single-valued half of the per-patient builder: the latest fact that counts."""

    # -- measured concepts --------------------------------------------------------------------------
    def _latest(self, r: Reader, facts: list[tuple[int, dict]]) -> tuple[int, dict] | None:
        """The fact that counts: the most recent on or before screening (undated only if alone)."""
        chosen = facts[0]
        when = chosen[1].get("date")
        if len(facts) > 1 or when is None:  # the common case, one dated fact, needs no choice
            if len(facts) == 1 and not r.needs_date:
                return chosen
            chosen = self._chosen(r, facts)
            if chosen is None:
                return None
            when = chosen[1].get("date")
        if r.valid_for is not None and when is not None:
            first_day = self._first_days.get(r.first_day_key) or \
                self._first_day(r.valid_for, r.first_day_key)
            if days_of_text(when)[0] < first_day:  # a day, as grouping found
                self.patient.unusable[r.name] = (
                    f"stale: latest {r.name} is from {when}, before {first_day} "
                    f"(valid for {r.valid_for})"
                )
                return None
        return chosen

    def _chosen(self, r: Reader, facts: list[tuple[int, dict]]) -> tuple[int, dict] | None:
        """The latest of several facts (or of one undated that needs a date), or None with the
        reason when which one counts is unclear: two of its day that disagree, other than
        measured results, which bound the value instead (`_between`)."""
        undated = [f for f in facts if f[1].get("date") is None]
        if undated and (r.needs_date or len(facts) > 1):
            index = undated[0][0]
            reason = f"is read at {r.as_of[0]}" if r.as_of else "is declared 'valid for'" \
                if r.valid_for else "has several values" if len(facts) > 1 else \
                f"is {r.concept.kind.said}"
            self.problem(index, "date", f"'{r.name}' {reason}: each fact needs a date")
            return None
        # The latest; of one day, the concept's own result before one that counts as it.
        name = r.name
        chosen = max(facts, key=lambda f: (f[1].get("date") or "", f[1].get("concept") == name,
                                           f[0]))
        when = chosen[1].get("date")
        if r.measured or r.age:  # several results of its day bound the value: `_measured`
            return chosen
        # what the chosen fact says is worked out only when another fact shares its day
        same_day = [f for f in facts if f is not chosen and f[1].get("date") == when]
        if not same_day:
            return chosen
        said = _said(r.concept, chosen[1])
        other = next((f for f in same_day if _said(r.concept, f[1]) != said), None)
        if other is None:
            return chosen
        first, second = sorted((other, chosen), key=lambda f: f[0])
        if other[1].get("concept") == chosen[1].get("concept"):
            self.problem(chosen[0], "date", f"another value of '{name}' on the same day "
                         f"disagrees with this one: which one counts is unclear, so {name} is "
                         "unknown", warning=True)
            self.patient.unusable[name] = (f"two values on {when} (facts #{first[0] + 1} and "
                                           f"#{second[0] + 1}): which one counts is unclear")
        else:  # two results that both count (`counts as`)
            self.patient.unusable[name] = (
                f"{first[1].get('concept')} (fact #{first[0] + 1}) and "
                f"{second[1].get('concept')} (fact #{second[0] + 1}) disagree on {when}")
        return None

    def _number(self, index: int, fact: dict, key: str = "value") -> Decimal | None:
        value = fact.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            self.problem(index, key, f"expected a number, found {quoted(value)}")
            return None
        return Decimal(value)

    def _converted(self, r: Reader, index: int, fact: dict, value: Decimal) -> Decimal | None:
        unit = fact.get("unit")
        by = r.factors.get(unit)
        if by is None:
            if unit is None:
                self.problem(index, "unit", f"'{r.said}' is measured in {r.concept.unit}: give a "
                             "unit")
                return None
            try:  # once per unit: a unit that does not convert is tried again, and reported
                by = r.factors[unit] = scale(unit, r.concept.unit, r.concept.factors,
                                             aliases=self.n.aliases)
            except UnitProblem as error:
                self.problem(index, "unit", f"{r.said}: {_unit_said(unit, r.concept.unit, error)}")
                return None
        return applied(by, value)

    def _reading(self, r: Reader, index: int, fact: dict) -> Reading | None:
        """What a measured fact says: `("=", 30)`, or a bound `("<", 20)` for "< 20" (or a
        FHIR-style `comparator`), `("<", 10)` for "not detected" below a given limit, and
        `("nd", None)` for "not detected" with no limit (only "not negative" is known)."""
        value = fact.get("value")
        kind = type(value)
        if r.titre:
            reading = self._dilution(r, index, fact)
        elif kind is int or kind is Decimal:  # nearly every fact: a number, which `_number` takes
            reading: Reading | None = (fact.get("comparator") or "=", Decimal(value))
        elif isinstance(value, str):
            text = " ".join(value.split())
            if text.casefold() in NOT_DETECTED:
                if fact.get("limit") is None:
                    return "nd", None
                limit = self._number(index, fact, "limit")
                reading = None if limit is None else ("<", limit)
            else:
                match = _BOUNDED.match(text)
                if match is None:
                    plain_text = re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text) is not None
                    self.problem(index, "value", f"{r.said} is measured: expected a number "
                                 f"or a bound like '< 20', found {quoted(value)}" + (
                                     f" (a number is written without quotes: {text})"
                                     if plain_text else ""))
                    return None
                reading = (_OPS.get(match[1], match[1]), Decimal(match[2]))
                if self._disagrees(r, index, fact, reading[0]):
                    return None
        else:
            number = self._number(index, fact)
            reading = None if number is None else (fact.get("comparator") or "=", number)
        if reading is None:
            return None
        number = reading[1]
        if number is not None and (number < 0 or reading == ("<", 0)):
            self.problem(index, "value", f"{r.said} cannot be negative: "
                         f"{'' if reading[0] == '=' else reading[0] + ' '}{number}")
            return None
        if number is not None and r.steps is not None:
            low, high = r.steps
            if number != number.to_integral_value() or not low <= number <= high:
                self.problem(index, "value", f"{r.said} is a scale of whole steps from "
                             f"{low} to {high}: {plain_number(number)} is not one of them")
                return None
            if (reading[0] == ">" and number >= high) or (reading[0] == "<" and number <= low):
                self.problem(index, "value", f"{r.said} is a scale from {low} to {high}: "
                             f"no step of it is {reading[0]} {plain_number(number)}")
                return None
        return reading

    def _disagrees(self, r: Reader, index: int, fact: dict, written: str) -> bool:
        """Whether a bound written in the value ("< 2") and the fact's comparator disagree,
        said (one of the two would be dropped)."""
        comparator = fact.get("comparator")
        if comparator is None or comparator == written:
            return False
        self.problem(index, "comparator", f"{r.said}: the value {quoted(fact.get('value'))} and "
                     f"the comparator {quoted(comparator)} disagree: give the bound once, in one "
                     "of them")
        return True

    def _dilution(self, r: Reader, index: int, fact: dict) -> Reading | None:
        """A titre's result: the dilution as laboratories write it (`1:160`, `1/160`, `< 1:40`,
        or `1:40` with a `comparator`), or its reciprocal (160, `< 40`), read as the reciprocal,
        a whole number from 1 (the undiluted sample) up. "Not detected" takes its `limit`, as
        for any measured value; "negative" is no titre (say below which dilution)."""
        value = fact.get("value")
        if isinstance(value, str):
            text = " ".join(value.split())
            if text.casefold() in NOT_DETECTED:
                limit = None if fact.get("limit") is None else self._number(index, fact, "limit")
                reading: Reading | None = None if limit is None else ("<", limit)
            else:
                match = _DILUTION.match(text) or _BOUNDED.match(text)
                reading = None if match is None else \
                    (_OPS.get(match[1], match[1] or fact.get("comparator") or "="),
                     Decimal(match[2]))
                if match is not None and match[1] and self._disagrees(r, index, fact,
                                                                      reading[0]):
                    return None
        elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            reading = (fact.get("comparator") or "=", Decimal(value))
        else:
            reading = None
        number = None if reading is None else reading[1]
        if number is None or number != number.to_integral_value() or number < 1:
            self.problem(index, "value", f"{r.said} is a titre: expected a dilution like "
                         f"'1:160' (or its reciprocal, 160), or a bound like '< 1:40', found "
                         f"{quoted(value)}")
            return None
        if reading[0] == "<" and number <= 1:
            self.problem(index, "value", f"{r.said} is a titre: no dilution is below 1:1, the "
                         "undiluted sample")
            return None
        return reading

    def _put(self, field: str, bounds: tuple[str, str, str, str], op: str,
             number: Decimal | None) -> None:
        """A reading in the record: the value itself, or its `bounds` (`record.bounds`)."""
        if op == "=":
            self.patient.record[field] = float(number)
        else:
            self._write(field, bounds, _span(op, number))

    def _write(self, field: str, bounds: tuple[str, str, str, str], span: Span) -> None:
        """The values a reading allows in the record: one value as itself, else its bounds."""
        record = self.patient.record
        low, low_open, high, high_open = span
        if low == high and not (low_open or high_open):
            record[field] = float(low)
            return
        lowest, highest, lowest_open, highest_open = bounds
        record[lowest] = float(low)
        if low_open:
            record[lowest_open] = 1
        if high is not None:
            record[highest] = float(high)
            if high_open:
                record[highest_open] = 1

    def _sound(self, r: Reader, facts) -> bool:
        """Whether every one of a measured concept's results reads, in a unit that converts;
        each that does not is said (once, whichever reader meets it first)."""
        sound = True
        for index, fact in facts:
            reading = self._reading(r, index, fact)
            sound = reading is not None and (reading[1] is None or self._in_unit(
                r, index, fact, reading[1]) is not None) and sound  # each said, not the first
        return sound

    def _measured(self, r: Reader, facts) -> None:
        results = 1  # of the chosen fact's day, all saying what it says
        before = len(self.problems)  # this concept's own problems stop it; another's do not
        if len(facts) == 1:
            reading = self._reading(r, *facts[0])
            if reading is None or len(self.problems) > before:  # None: said (maybe once, of
                return  # another concept reading the fact)
            chosen = self._latest(r, facts)
        else:
            readings = {index: self._reading(r, index, fact) for index, fact in facts}
            if None in readings.values() or len(self.problems) > before:
                return
            chosen = self._latest(r, facts)
            if chosen is None:
                return
            day = [f for f in facts if f[1].get("date") == chosen[1].get("date")] \
                if r.measured else ()
            if len(day) > 1:  # what each says is worked out only when others share its day
                said = _said(r.concept, chosen[1])
                if any(_said(r.concept, f[1]) != said for f in day):
                    self._between(r, day, readings)
                    if r.previous:
                        self._previous(r, facts, chosen, readings)
                    return
                results = len(day)
            reading = readings[chosen[0]]
        if chosen is None:
            return
        if r.previous:
            self._previous(r, facts, chosen, {chosen[0]: reading} if len(facts) == 1 else readings)
        index, fact = chosen
        op, value = reading
        converted = None if value is None else self._in_unit(r, index, fact, value)
        if value is not None and converted is None:
            return
        if r.age and converted is not None:  # an age is in completed years, however it is given
            if self._ages(r, index, fact, op, value):
                return
            converted = quantize(converted.to_integral_value(rounding=ROUND_FLOOR))
        if op == "=":
            self.patient.record[r.name] = float(converted)
        elif r.whole is not None:
            self._write(r.name, r.bounds, _steps(r.whole, op, converted))
        else:
            self._put(r.name, r.bounds, op, converted)
        if r.day:
            self._results(r, [_span(op, converted)] * results)
        self._use(r, index, fact, _shown(r, op, converted), self._noted(r, fact))
        if r.lab:
            for field, bounds, span in self._reference(r, index, fact, op, value):
                self._write(field, bounds, span)

    _quantity = _score = _scale = _titre = _age = _lab = _measured

    def _ages(self, r: Reader, index: int, fact: dict, op: str, value: Decimal) -> bool:
        """An age as the ages it allows on its own day (screening, or its date concept's), in the
        record; False where the age in years converted and floored is that (an age in years, of
        its own day). A birth date known only to the month or the year gives its youngest and
        oldest (`oldest`, `Normaliser._birth_date`). An age fact is the birth dates it allows on
        the day it was told (its `date`, else the age's own day), counted in the calendar steps
        of its unit (6574 days is born 6574 days before; 74 years on 2025-01-01 is born from
        1950-01-02 to 1951-01-01), and those counted on the age's own day (75 or 76 at screening
        2026-06-01), never an average year's days. An age whose own day is not usable is
        unknown, saying why (`_age_day`)."""
        on = None  # the age's own day as written, where it was worked out here
        if "oldest" in fact:
            youngest, oldest = value, fact["oldest"]
        else:
            steps = calendar_steps(fact.get("unit"), self.n.aliases)
            if steps is None or index < 0:  # a birth date's age is of the age's own days
                return False
            at = self._age_day(r.concept, self._by_concept)
            if at is None:
                return True
            days, on = at
            when = fact.get("date")
            told = days if when is None else (days_of_text(when)[0],) * 2
            if steps == (12, 0) and told == days and days[0] == days[1]:
                return False
            low, _, high, high_open = _span(op, value)
            try:
                young, old = ages_told(told, days, steps, low, high, high_open)
            except OverflowError:
                self.problem(index, "value", f"{r.name} {plain_number(value)} "
                             f"{fact.get('unit')} reaches back beyond the calendar")
                return True
            youngest, oldest = Decimal(young), None if old is None else Decimal(old)
        self._write(r.name, r.bounds, (youngest, False, oldest, False))
        shown = _shown(r, "=", youngest) if oldest == youngest else \
            f"{plain_number(youngest)} or {_shown(r, '=', oldest)}" if oldest is not None \
            else f">= {plain_number(youngest)}{r.bound_unit}"
        note = self._noted(r, fact) or "completed years at " + (
            "screening" if r.concept.at is None else on)
        self._use(r, index, fact, shown, note, value=shown if "oldest" in fact else None)
        return True

    def _extreme(self, r: Reader, facts) -> None:
        """The lowest or highest of a measured concept's results dated in a window
        (`psa_nadir: lowest psa on or after adt_start`), every result there a fact used. A
        result known only within bounds bounds it: the lowest of "< 0.1" and 0.4 is below 0.1,
        of "< 1" and 0.4 at most 0.4 (`_extremes`); so does a result that may lie in the window
        or not (counted from a start known only to the month): the lowest is at least the least
        of those that may count and at most the least of those that surely do. None surely in
        the window, or the window's day not recorded: unknown, saying which."""
        concept = r.concept
        assert concept.extreme is not None and concept.reads is not None
        window = concept.extreme.window
        days = self._anchor_days(r.name, window.anchor)
        if days is None:
            return
        # the days surely in the window, and those that may be, as its anchor day may be any
        # from the earliest to the latest (a history's start known only to the month)
        (first, last), (first_late, last_late) = (window_days(window, day) for day in days)
        surely = first_late, min(last, self.screening_day)
        maybe = first, min(last_late, self.screening_day)
        before = len(self.problems)  # this concept's own problems stop it; another's do not
        readings = {index: self._reading(r, index, fact) for index, fact in facts}
        if None in readings.values() or len(self.problems) > before:
            return
        inside = []  # (index, fact, whether it surely lies in the window)
        for index, fact in facts:
            when = fact.get("date")
            if not isinstance(when, str):
                if concept.reads.name not in self.n.referenced:  # else its own reader says so
                    self.problem(index, "date", f"'{r.name}' is {concept.read_as}: each "
                                 f"{concept.reads.name} fact needs a date")
                continue
            on = days_of_text(when)[0].toordinal()
            if maybe[0] <= on <= maybe[1]:
                inside.append((index, fact, surely[0] <= on <= surely[1]))
        if len(self.problems) > before:
            return
        if not any(sure for *_, sure in inside):
            shown = "; ".join(date.fromordinal(day).isoformat() for day in sorted(set(days)))
            self.patient.unusable[r.name] = f"no {concept.reads.name} {window}" + (
                f" ({shown})" if window.anchor is not None else "") + (
                ": those of days it may hold may not count" if inside else "")
            return
        spans: list[tuple[Span, bool]] = []
        for index, fact, sure in inside:
            op, value = readings[index]
            converted = None if value is None else self._in_unit(r, index, fact, value)
            if value is not None and converted is None:
                return
            spans.append((_span(op, converted) if r.whole is None else
                          _steps(r.whole, op, converted), sure))
            self._use(r, index, fact, _shown(r, op, converted),  # no reference: not compared
                      None if sure else f"may lie outside {window}")
        lowest = concept.extreme.which == "lowest"
        every, sure_only = ([span for span, sure in spans if sure or not only]
                            for only in (False, True))
        # the lowest: from the least that may count to the least that surely does; the highest
        # from the greatest that surely counts to the greatest that may
        low, high = (_extremes(every, lowest), _extremes(sure_only, lowest))[::1 if lowest else -1]
        self._write(r.name, r.bounds, (*low[:2], *high[2:]))

    def _anchor_days(self, name: str, anchor: m.Anchor | None) -> tuple[int, int] | None:
        """The earliest and latest day a window of results counts from: the screening date, a
        date concept's day, or a history's start or end (which may be known only within days);
        None, saying why, when there is none."""
        if anchor is None or anchor.ref is None:
            return self.screening_day, self.screening_day
        field = R.anchor_field(anchor)
        record, unusable = self.patient.record, self.patient.unusable
        if field in record:
            return record[field], record[field]
        early, late = R.spread(field)
        if early in record:
            return record[early], record[late]
        reason = unusable.get(field) or unusable.get(anchor.ref.name) or "no fact given"
        day = f"{anchor.edge} of {anchor.ref.name}" if anchor.edge else anchor.ref.name
        unusable[name] = f"no usable {day} to count its window from ({reason})"
        return None

    def _previous(self, r: Reader, facts: list[tuple[int, dict]], chosen: tuple[int, dict],
                  readings: dict[int, Reading]) -> None:
        """The value of the day before the latest's that has a result (its results bound it, as
        the latest day's do: `_day`), for a comparison confirmed on another day; none, saying
        why, when no earlier day has one or it is older than the concept's validity. Its facts
        are facts used, noted as the earlier day's."""
        when = chosen[1].get("date")
        first = days_of_text(when)[0] if when is not None else None
        earlier = [f for f in facts if f[1].get("date") is not None and first is not None
                   and days_of_text(f[1]["date"])[1] < first]
        if not earlier:
            self.patient.unusable[r.previous] = f"no {r.name} of a day before {when}"
            return
        day = max(f[1]["date"] for f in earlier)
        if r.valid_for is not None:
            first_day = self._first_day(r.valid_for, r.first_day_key)
            if days_of_text(day)[0] < first_day:
                self.patient.unusable[r.previous] = (
                    f"the {r.name} before {when} is from {day}, before {first_day} (valid for "
                    f"{r.valid_for})")
                return
        self._day(r, [f for f in earlier if f[1]["date"] == day], readings, R.previous_field,
                  "the earlier day's")

    def _between(self, r: Reader, day: list[tuple[int, dict]],
                 readings: dict[int, Reading]) -> None:
        """Several results of one day that differ (two potassium draws, a triplicate ECG): which
        one counts is not recorded, but the value is one of them. So the record holds the least
        and the greatest as the value's bounds, as it does for "< 20", and the network decides
        wherever every one of them gives the same verdict: `lvef >= 55 %` holds for 60 % and 58 %,
        is open for 60 % and 52 %. Each result is a fact used; a lab's ratios to its reference
        range are bounded alike, each by its own range."""
        spans = self._day(r, day, readings, lambda field: field)
        if r.day and spans:
            self._results(r, spans)

    def _results(self, r: Reader, spans: list[Span]) -> None:
        """The latest day's results, for a mean (`mean(qtcf)`): each a number, in the concept's
        field of them (`record.day_field`), or where one is known only within bounds ("< 400
        ms"), the least and greatest of each, in its `bounds` (the greatest only where each has
        one: else the mean is unbounded above), with 1 for each end that is open (for the trail:
        a mean is rounded onto an end it only approaches)."""
        record = self.patient.record
        record[R.day_count_field(r.name)] = len(spans)
        if all(span[0] == span[2] and not (span[1] or span[3]) for span in spans):
            record[r.day] = [float(span[0]) for span in spans]
            return
        low, high, low_open, high_open = R.bounds(r.day)
        record[low] = [float(span[0]) for span in spans]
        record[low_open] = [int(span[1]) for span in spans]
        if all(span[2] is not None for span in spans):
            record[high] = [float(span[2]) for span in spans]
            record[high_open] = [int(span[3]) for span in spans]

    def _day(self, r: Reader, day: list[tuple[int, dict]], readings: dict[int, Reading],
             field_of: Callable[[str], str], also: str | None = None) -> list[Span] | None:
        """One day's results into the record as one value known within their least and greatest
        (`_hull`), a lab's ratios likewise (only where every result has its limit), each in the
        field `field_of` gives for the concept's own (the latest day's, or the earlier day's);
        each result a fact used (noted `also`). The values each result allows, for a mean, or
        None where one cannot be read."""
        spans: list[Span] = []
        ratios: dict[str, list[Span]] = {}
        for index, fact in day:
            op, value = readings[index]
            converted = None if value is None else self._in_unit(r, index, fact, value)
            if value is not None and converted is None:
                return None
            spans.append(_span(op, converted) if r.whole is None else
                         _steps(r.whole, op, converted))
            note = self._noted(r, fact)
            self._use(r, index, fact, _shown(r, op, converted),
                      f"{note}; {also}" if note and also else note or also)
            if r.lab:
                for field, _, span in self._reference(r, index, fact, op, value):
                    ratios.setdefault(field, []).append(span)
        self._write(field_of(r.name), R.bounds(field_of(r.name)), _hull(spans))
        for field, each in ratios.items():
            if len(each) == len(day):
                self._write(field_of(field), R.bounds(field_of(field)), _hull(each))
        return spans

    def _in_unit(self, r: Reader, index: int, fact: dict, value: Decimal) -> Decimal | None:
        """A reading's number in the concept's unit; None, with the problem, when it cannot be."""
        return quantize(value) if r.unitless else self._converted(r, index, fact, value)

    def _noted(self, r: Reader, fact: dict) -> str | None:
        """What the trail says beside a measured value: the birth date an age is counted from, a
        lab value's reference range."""
        if fact.get("from_birth_date"):
            on = "screening" if fact["from_birth_date"] == self.screening.isoformat() else \
                fact["from_birth_date"]
            return f"completed years at {on}, born {self.data['birth_date']}"
        if not r.lab:
            return None
        reference = fact.get("reference_range") or {}
        limits = []
        if "low" in reference:
            limits.append(f"lower reference {plain_number(Decimal(reference['low']))}")
        if "high" in reference:
            limits.append(f"upper reference {plain_number(Decimal(reference['high']))}")
        return ", ".join(limits) + f" {fact.get('unit')}" if limits else "no reference range given"

    def _reference(self, r: Reader, index: int, fact: dict, op: str,
                   value: Decimal | None) -> list[tuple[str, tuple[str, str, str, str], Span]]:
        """A lab value as multiples of its fact's reference limits: each ratio's field, the fields
        of its bounds, and the values it allows."""
        reference = fact.get("reference_range") or {}
        found = []
        if "low" in reference and "high" in reference and \
                Decimal(reference["low"]) > Decimal(reference["high"]):
            self.problem(index, "reference_range.low", f"the lower reference "
                         f"{plain_number(Decimal(reference['low']))} is above the upper "
                         f"reference {plain_number(Decimal(reference['high']))}")
            return found
        for bound, field, bounds in r.references:
            limit = reference.get(bound)
            if limit is None:
                continue
            limit = Decimal(limit)
            if limit <= 0:
                if bound == "high":
                    self.problem(index, "reference_range.high", "the upper reference must be > 0")
                continue
            found.append((field, bounds, _span(op, None if value is None else
                                               quantize(value / limit))))
        if "high" not in reference:
            self.patient.unusable.setdefault(r.uln, "no upper reference given")
        return found

    # -- categories, flags and dates ----------------------------------------------------------------
    def _category(self, r: Reader, facts) -> None:
        """The latest value, each fact's value read first: a value not of the concept is said
        whichever fact gives it (beside a valid one of its day it read as the two disagreeing)."""
        canonicals = [self._canonical(r, index, fact) for index, fact in facts]
        if None in canonicals:
            return
        chosen = self._latest(r, facts)
        if chosen is None:
            return
        index, fact = chosen
        canonical = canonicals[facts.index(chosen)]
        self.patient.record[r.name] = canonical
        self._use(r, index, fact, canonical)

    def _canonical(self, r: Reader, index: int, fact: dict) -> str | None:
        """A category fact's value as the concept names it; None, said, where it is none."""
        value = fact.get("value")
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            value = plain_number(Decimal(value))  # a category whose values are numbers or codes
        canonical = r.concept.canonical(value) if isinstance(value, str) else None
        if canonical is None:
            allowed = ", ".join(v.name for v in r.concept.values)
            self.problem(index, "value", f"{r.name} must be one of {{{allowed}}}, "
                         f"found {quoted(value)}")
        return canonical

    def _flag(self, r: Reader, facts) -> None:
        wrong = [(index, fact.get("value")) for index, fact in facts
                 if not isinstance(fact.get("value"), bool)]
        for index, value in wrong:  # each said, whichever fact gives it (as for a category)
            self.problem(index, "value", f"{r.name} is yes/no: expected true or false, "
                         f"found {quoted(value)}")
        if wrong:
            return
        chosen = self._latest(r, facts)
        if chosen is None:
            return
        index, fact = chosen
        value = fact.get("value")
        note = None
        if r.judgment:
            if not fact.get("recorded_by"):
                self.problem(index, "recorded_by", "an investigator judgment needs who attested "
                             "it: not attested, it stays open (NEEDS_REVIEW)", warning=True)
                self.patient.unusable[r.name] = "not attested: no recorded_by"
                return
            note = f"attested by {fact['recorded_by']}" + (
                f": {fact['reason']}" if fact.get("reason") else "")
        self.patient.record[r.name] = int(value)
        self._use(r, index, fact, None, note)

    _judgment = _flag

    def _date(self, r: Reader, facts) -> None:
        """A day a window may count from, given as the fact's value (YYYY-MM-DD); a planned date
        (the first dose) may lie after the screening date. A date known only to the month or
        the year (a diagnosis "2024-02") is its earliest and latest day (`R.spread`), which
        windows compare with, deciding wherever every day of it agrees; a reading that needs
        the day itself (a dose on it, a value as of it, an age at it) finds it unknown and why.
        The spread is written for an exact day too: windows read a date concept through it."""
        chosen = self._latest(r, facts)
        if chosen is None:
            return
        index, fact = chosen
        value = fact.get("value")
        if type(value) is str and len(value) > 10:  # a date-time: its day (`day_written`)
            value = fact["value"] = day_written(value)
        days = days_of(value)
        if days is None:
            self.problem(index, "value", f"{r.name}: {calendar_problem(value)}"
                         if outside_calendar(value) else f"{r.name} is a date: expected "
                         f"YYYY-MM-DD (or YYYY-MM, YYYY), found {quoted(value)}")
            return
        first, last = days[0].toordinal(), days[1].toordinal()
        record = self.patient.record
        record.update(zip(R.spread(r.name), (first, last)))
        if first == last:
            record[r.name] = first
        else:
            self.patient.unusable[r.name] = known_only(value)
        self._use(r, index, fact, None)


def _said(concept: m.Concept, fact: dict) -> tuple:
    """What a fact says of its concept's value, to tell two results of one day that agree (the
    same value, as the concept reads its wording, in the same unit) from two that do not."""
    value = fact.get("value")
    if isinstance(value, str) and concept.kind is m.Kind.CATEGORY:
        value = concept.canonical(value) or value
    return (repr(value), *(repr(fact.get(key)) for key in ("unit", "uln", "comparator", "limit")))


#: What a measured fact may say: ("=", 30), a bound ("<", 20), or ("nd", None).
Reading = tuple[str, Decimal | None]
#: The values a reading allows: the least, whether it is excluded, the greatest (None: no
#: bound), whether it is excluded.
Span = tuple[Decimal, bool, Decimal | None, bool]


def _unit_said(unit: str, wanted: str | None, error: UnitProblem) -> str:
    """Why a fact's unit does not convert, with what it may have meant: the concept's own unit
    in other letters (`G/DL` for g/dL: units are case-sensitive, and pint reads G as gauss), or
    an international unit where the concept counts enzyme units, which pint keeps apart (the
    protocol says when a laboratory means them alike).

    >>> _unit_said("G/DL", "g/dL", UnitProblem("..."))
    "unit 'G/DL' is not g/dL: units are case-sensitive (M is mega, m milli): write g/dL"
    >>> _unit_said("IU/L", "U/L", UnitProblem("cannot convert"))[:48]
    'cannot convert; pint keeps IU apart from U: if t'
    """
    if wanted is not None and unit.replace(" ", "") != wanted.replace(" ", "") and \
            unit.replace(" ", "").casefold() == wanted.replace(" ", "").casefold():
        return (f"unit '{unit}' is not {wanted}: units are case-sensitive (M is mega, m milli): "
                f"write {wanted}")
    if wanted is not None and re.sub(r"\bIU\b", "U", unit) == wanted:
        return (f"{error}; pint keeps IU apart from U: if the laboratory's {unit} is {wanted}, "
                f"the protocol says so: 'unit \"{unit}\" means {wanted}'")
    return str(error)


def _span(op: str, number: Decimal | None) -> Span:
    """The values `op number` allows, a measured value being never negative.

    >>> _span("<", Decimal(20)), _span(">=", Decimal(5)), _span("nd", None)
    ((Decimal('0'), False, Decimal('20'), True), (Decimal('5'), False, None, False), \
(Decimal('0'), False, None, False))
    """
    if op == "=":
        return number, False, number, False
    if op in ("<", "<=", "nd"):
        return _ZERO, False, number, op == "<"
    return number, op == ">", None, False


def _steps(steps: tuple[Decimal, Decimal | None], op: str, number: Decimal | None) -> Span:
    """A reading on a scale of whole steps as the steps it allows: "< 2" on ECOG 0 to 5 is 0 or
    1 (so `ecog <= 1` holds), "> 4" is 5 itself; a titre's dilutions are whole from 1 up, so
    "<= 1:1" is 1:1 and "< 1:40" at most 1:39.

    >>> scale = Decimal(0), Decimal(5)
    >>> _steps(scale, "<", Decimal(2))[::2], _steps(scale, "=", Decimal(3))[::2]
    ((Decimal('0'), Decimal('1')), (Decimal('3'), Decimal('3')))
    >>> _steps((Decimal(1), None), "<=", Decimal(1))[::2], _steps((Decimal(1), None), ">", 40)
    ((Decimal('1'), Decimal('1')), (41, False, None, False))
    """
    low, high = steps
    first = {">": number + 1, ">=": number, "=": number}.get(op, low) if number is not None \
        else low
    last = {"<": number - 1, "<=": number, "=": number}.get(op, high) if number is not None \
        else high
    first = max(first, low)
    last = last if high is None or last is None else min(last, high)
    return first, False, last, False


def _hull(spans: list[Span]) -> Span:
    """The least span holding every one of `spans`: the values several results of one day allow.

    >>> _hull([_span("=", Decimal(60)), _span("<", Decimal(52))])
    (Decimal('0'), False, Decimal('60'), False)
    """
    low = min(span[0] for span in spans)
    low_open = all(span[1] for span in spans if span[0] == low)
    if any(span[2] is None for span in spans):
        return low, low_open, None, False
    high = max(span[2] for span in spans)
    return low, low_open, high, all(span[3] for span in spans if span[2] == high)


def _extremes(spans: list[Span], lowest: bool) -> Span:
    """The values the lowest (or highest) of several results may have, each result within its
    span: from the least (greatest) low end to the least (greatest) high end, an end open when
    every result at it is open there.

    >>> _extremes([_span("<", Decimal("0.1")), _span("=", Decimal("0.4"))], True)
    (Decimal('0'), False, Decimal('0.1'), True)
    >>> _extremes([_span("<", Decimal(1)), _span("=", Decimal("0.4"))], True)
    (Decimal('0'), False, Decimal('0.4'), False)
    >>> _extremes([_span(">", Decimal(5)), _span("=", Decimal(3))], False)
    (Decimal('5'), True, None, False)
    """
    pick = min if lowest else max
    low = pick(span[0] for span in spans)
    low_open = all(span[1] for span in spans if span[0] == low)
    highs = [span[2] for span in spans if span[2] is not None]
    if not highs or (not lowest and len(highs) < len(spans)):
        return low, low_open, None, False
    high = pick(highs)
    return low, low_open, high, all(span[3] for span in spans if span[2] == high)


def window_days(window: m.Window, day: int) -> tuple[int, int]:
    """The days (ordinals, both counted) a window of results covers, counted from the anchor's
    `day`, as the README's table of windows reads them: `within 6 months before A` from A less
    6 months to A, `less than` strictly inside, `at least 2 weeks before A` up to A less 2
    weeks, `more than` beyond it, `before A` the days before, `on or after A` from A on, `at A`
    A alone, `ever` every day.

    >>> from datetime import date
    >>> from grammar.parser import parse
    >>> within = parse('concepts:\\n w: quantity in kg\\n'
    ...     ' m: highest w within 6 months before screening').concept("m").extreme.window
    >>> [date.fromordinal(d) for d in window_days(within, date(2026, 8, 31).toordinal())]
    [datetime.date(2026, 2, 28), datetime.date(2026, 8, 31)]
    """
    kind, sign = window.kind, 1 if window.direction == "after" else -1
    if kind == "ever":
        return date.min.toordinal(), date.max.toordinal()
    if kind == "at":
        return day, day
    if kind in ("order", "order_or_on"):
        strict = kind == "order"
        return (day + strict, date.max.toordinal()) if sign > 0 else \
            (date.min.toordinal(), day - strict)
    assert window.duration is not None
    edge = shift(date.fromordinal(day), window.duration, sign).toordinal()
    near = {"within": 0, "less_than": 1}.get(kind)
    if near is not None:  # between the anchor and the edge
        return (day, edge - sign * near) if sign > 0 else (edge - sign * near, day)
    beyond = kind == "more_than"  # at least, more than: from the edge on, away from the anchor
    return (edge + beyond, date.max.toordinal()) if sign > 0 else \
        (date.min.toordinal(), edge - beyond)


def _shown(r: Reader, op: str, converted: Decimal | None) -> str:
    """A measured value as the trail shows it: `30 U/L`, `< 20 IU/mL`, `not detected`, a
    titre's `1:160`."""
    if r.titre and converted is not None:
        return dilution(converted) if op == "=" else f"{op} {dilution(converted)}"
    if op == "=":
        return format(converted.normalize(), "f") + r.unit_shown  # `plain_number`
    if converted is None:
        return "not detected"
    return f"{op} {plain_number(converted)}{r.bound_unit}"
_BOUNDED = re.compile(r"^(<=|>=|≤|≥|<|>) ?([0-9]+(?:\.[0-9]+)?)$")
_OPS = {"≤": "<=", "≥": ">="}
#: A titre's dilution as laboratories write it, with a bound or not: `1:160`, `< 1:40`, `1/80`.
_DILUTION = re.compile(r"^(<=|>=|≤|≥|<|>)? ?1 ?[:/] ?([0-9]+)$")
_ZERO = Decimal(0)
#: How laboratories report a result below what they can detect.
NOT_DETECTED = frozenset({"not detected", "undetectable", "undetected", "below detection limit"})
