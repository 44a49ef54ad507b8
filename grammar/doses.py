"""A medication's doses as conditions: a course's dose (`glucocorticoid dose >= 1 mg/kg/d for at
least 3 months`), the dose on a day, a cumulative, average or highest daily dose (each of the
courses a filter keeps, or of every course, and each against a bound or a range), and a stable
dose.

One method per grammar rule, as in `grammar/parser.py`, whose one Transformer (`_Build`) inherits
them, as it does the escalation rules' (`grammar/escalation.py`). It uses the parser's spans,
references and source (`_span`, `_token_span`, `_ref`, `source`).
"""

from __future__ import annotations

from dataclasses import replace

from lark import Transformer, v_args

from grammar.tokens import comparator
from grammar.tokens import number as _number
from protocol import model as m
from protocol.declarations import diag
from protocol.errors import ProtocolError, Span


@v_args(meta=True, inline=True)
class Doses(Transformer):
    """The dose conditions' methods; `grammar/parser._Build` gives the span helpers."""

    def course(self, meta, name, op, dose, duration=None):
        return m.Course(self._span(meta), self._ref(name), comparator(op), dose, duration)

    def current_dose(self, meta, name, *rest):
        """`X dose at A <op> D`, of the courses a filter keeps where one comes after X."""
        filters, (anchor, op, dose) = _filtered(rest)
        return m.CurrentDose(self._span(meta), self._ref(name), anchor, comparator(op), dose,
                             filters)

    def cumulative_dose(self, meta, name, *rest):
        """`X cumulative dose >= 420 mg`, over every course up to screening unless a window
        narrows it."""
        filters, (op, dose, *window) = _filtered(rest)
        return m.CumulativeDose(self._span(meta), self._ref(name), comparator(op), dose,
                                window[0] if window else m.Window(self._span(meta), "ever"),
                                filters=filters)

    def average_dose(self, meta, name, *rest):
        """`X average daily dose >= 7.5 mg/d within 28 days before screening`; without a window
        it is parsed, and `check` says that an average needs one."""
        return replace(self.cumulative_dose(meta, name, *rest), reading=m.AVERAGE)

    def total_duration(self, meta, name, *rest):
        """`tki total duration > 14 days`: the days any course covers, each counted once,
        whatever its dose; without a window, up to screening."""
        return replace(self.cumulative_dose(meta, name, *rest), reading=m.DAYS)

    def highest_dose(self, meta, name, *rest):
        """`X highest daily dose > 10 mg/d within 14 days before first_dose`: the most taken on
        one day of the window; without a window it is parsed, and `check` says it needs one."""
        return replace(self.cumulative_dose(meta, name, *rest), reading=m.HIGHEST)

    def current_dose_range(self, meta, name, *rest):
        """`methotrexate dose at screening 7.5 to 25 mg/wk`: see `_dose_range`."""
        filters, (anchor, bounds) = _filtered(rest)
        return self._dose_range(meta, bounds, lambda op, dose: m.CurrentDose(
            self._span(meta), self._ref(name), anchor, op, dose, filters))

    def cumulative_dose_range(self, meta, name, *rest):
        return self._summed_range(meta, name, rest, m.TOTAL)

    def average_dose_range(self, meta, name, *rest):
        return self._summed_range(meta, name, rest, m.AVERAGE)

    def highest_dose_range(self, meta, name, *rest):
        return self._summed_range(meta, name, rest, m.HIGHEST)

    def _summed_range(self, meta, name, rest, reading: str) -> m.And:
        filters, (bounds, *window) = _filtered(rest)
        return self._dose_range(meta, bounds, lambda op, dose: m.CumulativeDose(
            self._span(meta), self._ref(name), op, dose,
            window[0] if window else m.Window(self._span(meta), "ever"), reading, filters))

    def _dose_range(self, meta, bounds, compared) -> m.And:
        """A dose between two bounds, both counted, is the dose compared with each: one number
        (its bounds where courses leave it open) is within a range exactly when it is at least
        the low and at most the high bound, and strong Kleene's `and` of the two is decided
        just where the range is. So each comparison is the construct it is alone, checked,
        compiled, explained and given its boundary cases as such."""
        low, high = bounds
        if low.unit == high.unit and low.value > high.value:
            raise ProtocolError([diag("range-order", low.span, low=low, high=high)], self.source)
        return m.And(self._span(meta), (compared(">=", low), compared("<=", high)))

    def dose_range(self, meta, low, *rest):
        """`7.5 to 25 mg/wk`: the low bound without a unit takes the high bound's."""
        high = rest[-1]
        start, end = self._token_span(low), rest[0] if len(rest) == 2 else low
        span = Span(start.file, start.line, start.column, end.end_line, end.end_column)
        unit = str(rest[0]) if len(rest) == 2 else high.unit
        return m.Quantity(span, _number(low), unit), high

    def stable_dose(self, meta, name, duration, anchor):
        return m.StableDose(self._span(meta), self._ref(name), duration, anchor)



def _filtered(rest: tuple) -> tuple[tuple, tuple]:
    """A summed dose's filter, when its medication has one before `dose` (a tuple of clauses:
    `filter`), and what follows it."""
    kept = isinstance(rest[0], tuple) and rest[0] and isinstance(rest[0][0], m.Where | m.Either)
    return (rest[0], rest[1:]) if kept else ((), rest)
