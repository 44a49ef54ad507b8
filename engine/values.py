"""A concept of one value, read from a patient's facts: a measured value (quantity, lab, score,
scale, age), a category, a flag or judgment, a date.

Of a concept's facts the most recent on or before screening counts (`_latest`); one older than
`valid for` leaves the concept unknown, and two that disagree on the latest day leave it unclear.
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

import json
import re
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from engine.dates import calendar_problem, day_of, days_of_text, outside_calendar
from engine.factfile import plain
from engine.record import plain_number
from protocol import model as m
from protocol.units import UnitProblem, factor, quantize

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
        problem when which one counts is unclear."""
        undated = [f for f in facts if f[1].get("date") is None]
        if undated and (r.needs_date or len(facts) > 1):
            index = undated[0][0]
            reason = "is declared 'valid for'" if r.valid_for else "has several values"
            self.problem(index, "date", f"'{r.name}' {reason}: each fact needs a date")
            return None
        # The latest; of one day, the concept's own result before one that counts as it.
        name = r.name
        chosen = max(facts, key=lambda f: (f[1].get("date") or "", f[1].get("concept") == name,
                                           f[0]))
        when = chosen[1].get("date")
        # what the chosen fact says is worked out only when another fact shares its day
        same_day = [f for f in facts if f is not chosen and f[1].get("date") == when]
        if not same_day:
            return chosen
        said = _said(r.concept, chosen[1])
        other = next((f for f in same_day if _said(r.concept, f[1]) != said), None)
        if other is not None and not r.age:
            where = f"on {when} (facts #{other[0] + 1} and #{chosen[0] + 1})"
            if other[1].get("concept") == chosen[1].get("concept"):
                self.problem(chosen[0], "date", f"two values of '{name}' {where}: "
                             f"which one counts is unclear")
            else:  # two results that both count (`counts as`): the record is not wrong
                first, second = sorted((other, chosen), key=lambda f: f[0])
                self.patient.unusable[name] = (
                    f"{first[1].get('concept')} (fact #{first[0] + 1}) and "
                    f"{second[1].get('concept')} (fact #{second[0] + 1}) disagree on {when}")
            return None
        return chosen

    def _number(self, index: int, fact: dict, key: str = "value") -> Decimal | None:
        value = fact.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            self.problem(index, key, f"expected a number, found {json.dumps(plain(value))}")
            return None
        return Decimal(value)

    def _converted(self, r: Reader, index: int, fact: dict, value: Decimal) -> Decimal | None:
        unit = fact.get("unit")
        by = r.factors.get(unit)
        if by is None:
            if unit is None:
                self.problem(index, "unit", f"'{r.name}' is measured in {r.concept.unit}: give a "
                             "unit")
                return None
            try:  # once per unit: a unit that does not convert is tried again, and reported
                by = r.factors[unit] = factor(unit, r.concept.unit, r.concept.factors,
                                              aliases=self.n.aliases)
            except UnitProblem as error:
                self.problem(index, "unit", f"{r.name}: {error}")
                return None
        return quantize(value * by)

    def _reading(self, r: Reader, index: int, fact: dict) -> Reading | None:
        """What a measured fact says: `("=", 30)`, or a bound `("<", 20)` for "< 20" (or a
        FHIR-style `comparator`), `("<", 10)` for "not detected" below a given limit, and
        `("nd", None)` for "not detected" with no limit (only "not negative" is known)."""
        value = fact.get("value")
        kind = type(value)
        if kind is int or kind is Decimal:  # nearly every fact: a number, which `_number` takes
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
                    self.problem(index, "value", f"{r.name} is measured: expected a number "
                                 f"or a bound like '< 20', found {json.dumps(value)}")
                    return None
                reading = (_OPS.get(match[1], match[1]), Decimal(match[2]))
        else:
            number = self._number(index, fact)
            reading = None if number is None else (fact.get("comparator") or "=", number)
        if reading is None:
            return None
        number = reading[1]
        if number is not None and (number < 0 or reading == ("<", 0)):
            self.problem(index, "value", f"{r.name} cannot be negative: "
                         f"{'' if reading[0] == '=' else reading[0] + ' '}{number}")
            return None
        if number is not None and r.steps is not None:
            low, high = r.steps
            if number != number.to_integral_value() or not low <= number <= high:
                self.problem(index, "value", f"{r.name} is a scale of whole steps from "
                             f"{low} to {high}: {plain_number(number)} is not one of them")
                return None
            if (reading[0] == ">" and number >= high) or (reading[0] == "<" and number <= low):
                self.problem(index, "value", f"{r.name} is a scale from {low} to {high}: "
                             f"no step of it is {reading[0]} {plain_number(number)}")
                return None
        return reading

    def _put(self, field: str, bounds: tuple[str, str, str, str], op: str,
             number: Decimal | None) -> None:
        """A reading in the record: the value itself, or its `bounds` (`record.bounds`)."""
        record = self.patient.record
        if op == "=":
            record[field] = float(number)
            return
        low, high, low_open, high_open = bounds
        if op in ("<", "<=", "nd"):
            record[low] = 0.0  # a measured value is never negative
            if number is not None:
                record[high] = float(number)
                if op == "<":
                    record[high_open] = 1
        else:
            record[low] = float(number)
            if op == ">":
                record[low_open] = 1

    def _put_steps(self, r: Reader, op: str, number: Decimal | None) -> None:
        """A bound on a scale of whole steps is the steps it allows: "< 2" on ECOG 0 to 5 is 0 or
        1 (so `ecog <= 1` holds), "> 4" is 5 itself."""
        assert r.steps is not None
        low, high = r.steps
        first = {">": number + 1, ">=": number}.get(op, low) if number is not None else low
        last = {"<": number - 1, "<=": number}.get(op, high) if number is not None else high
        first, last = max(first, low), min(last, high)
        if first == last:
            self.patient.record[r.name] = float(quantize(first))
            return
        lowest, highest, _, _ = r.bounds
        self.patient.record[lowest] = float(first)
        self.patient.record[highest] = float(last)

    def _measured(self, r: Reader, facts) -> None:
        if len(facts) == 1:
            reading = self._reading(r, *facts[0])
            if self.problems:
                return
            chosen = self._latest(r, facts)
        else:
            readings = {index: self._reading(r, index, fact) for index, fact in facts}
            if self.problems:
                return
            chosen = self._latest(r, facts)
            reading = readings[chosen[0]] if chosen is not None else None
        if chosen is None:
            return
        index, fact = chosen
        op, value = reading
        if value is None:
            converted = None
        else:
            converted = quantize(value) if r.unitless else self._converted(r, index, fact, value)
            if converted is None:
                return
            if r.age:  # an age is in completed years, however it is given
                converted = quantize(converted.to_integral_value(rounding=ROUND_FLOOR))
        if op == "=":
            self.patient.record[r.name] = float(converted)
            shown = format(converted.normalize(), "f") + r.unit_shown  # `plain_number`
        else:
            if r.steps is not None:
                self._put_steps(r, op, converted)
            else:
                self._put(r.name, r.bounds, op, converted)
            shown = "not detected" if converted is None else \
                f"{op} {plain_number(converted)}{r.bound_unit}"
        note = None
        if fact.get("from_birth_date"):
            on = "screening" if fact["from_birth_date"] == self.screening.isoformat() else \
                fact["from_birth_date"]
            note = f"completed years at {on}, born {self.data['birth_date']}"
        elif r.lab:
            reference = fact.get("reference_range") or {}
            limits = []
            if "low" in reference:
                limits.append(f"lower reference {plain_number(Decimal(reference['low']))}")
            if "high" in reference:
                limits.append(f"upper reference {plain_number(Decimal(reference['high']))}")
            note = ", ".join(limits) + f" {fact.get('unit')}" if limits else "no reference range given"
        self._use(r, index, fact, shown, note)
        if r.lab:
            self._reference(r, index, fact, op, value)

    _quantity = _score = _scale = _age = _lab = _measured

    def _reference(self, r: Reader, index: int, fact: dict, op: str,
                   value: Decimal | None) -> None:
        reference = fact.get("reference_range") or {}
        for bound, field, bounds in r.references:
            limit = reference.get(bound)
            if limit is None:
                continue
            limit = Decimal(limit)
            if limit <= 0:
                if bound == "high":
                    self.problem(index, "reference_range.high", "the upper reference must be > 0")
                continue
            ratio = None if value is None else quantize(value / limit)
            self._put(field, bounds, op, ratio)
        if "high" not in reference:
            self.patient.unusable.setdefault(r.uln, "no upper reference given")

    # -- categories, flags and dates ----------------------------------------------------------------
    def _category(self, r: Reader, facts) -> None:
        chosen = self._latest(r, facts)
        if chosen is None:
            return
        index, fact = chosen
        value = fact.get("value")
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            value = plain_number(Decimal(value))  # a category whose values are numbers or codes
        canonical = r.concept.canonical(value) if isinstance(value, str) else None
        if canonical is None:
            allowed = ", ".join(v.name for v in r.concept.values)
            self.problem(index, "value", f"{r.name} must be one of {{{allowed}}}, "
                         f"found {json.dumps(plain(value))}")
            return
        self.patient.record[r.name] = canonical
        self._use(r, index, fact, canonical)

    def _flag(self, r: Reader, facts) -> None:
        chosen = self._latest(r, facts)
        if chosen is None:
            return
        index, fact = chosen
        value = fact.get("value")
        if not isinstance(value, bool):
            self.problem(index, "value", f"{r.name} is yes/no: expected true or false, "
                         f"found {json.dumps(plain(value))}")
            return
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
        (the first dose) may lie after the screening date."""
        chosen = self._latest(r, facts)
        if chosen is None:
            return
        index, fact = chosen
        value = fact.get("value")
        day = day_of(value)
        if day is None:
            self.problem(index, "value", f"{r.name}: {calendar_problem(value)}"
                         if outside_calendar(value) else f"{r.name} is a date: expected "
                         f"YYYY-MM-DD, found {json.dumps(plain(value))}")
            return
        self.patient.record[r.name] = day.toordinal()
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
_BOUNDED = re.compile(r"^(<=|>=|≤|≥|<|>) ?([0-9]+(?:\.[0-9]+)?)$")
_OPS = {"≤": "<=", "≥": ">="}
#: How laboratories report a result below what they can detect.
NOT_DETECTED = frozenset({"not detected", "undetectable", "undetected", "below detection limit"})
