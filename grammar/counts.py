"""Counts as conditions: `at least 2 chemo ever`, `at least 2 lines of tki ever` (distinct
values of an attribute), `at most 3 lines of cll_therapy ever` and `1 to 3 lines of ...`.

One method per grammar rule, as in `grammar/parser.py`, whose one Transformer (`_Build`) inherits
them, as it does the dose conditions' (`grammar/doses.py`). It uses the parser's spans, references
and source, and its occurrence condition (`occurred`).
"""

from __future__ import annotations

from dataclasses import replace

from lark import Token, Transformer, v_args

from protocol import model as m
from protocol.declarations import diag
from protocol.errors import ProtocolError


@v_args(meta=True, inline=True)
class Counts(Transformer):
    """The count conditions' methods; `grammar/parser._Build` gives the span helpers."""

    def counted(self, meta, number, name, *rest):
        """`at least 2 chemo where route is intravenous ever`: an occurrence condition counted."""
        occurred = self.occurred(meta, name, *rest)
        return m.Counted(self._span(meta), self._integer(number), occurred)

    def counted_by(self, meta, number, by, name, *rest):
        """`at least 2 lines of tki where outcome is failure ever`: distinct values of an
        attribute (`line`, or written in the plural) among the items that count."""
        occurred = self.occurred(meta, name, *rest)
        return m.Counted(self._span(meta), self._integer(number), occurred, self._ref(by))

    def counted_most(self, meta, number, name, *rest):
        """`at most 3 chemo ever`: not at least 4."""
        return self._at_most(meta, name, self.counted(meta, number, name, *rest))

    def counted_by_most(self, meta, number, by, name, *rest):
        """`at most 3 lines of cll_therapy ever`."""
        return self._at_most(meta, by, self.counted_by(meta, number, by, name, *rest))

    def counted_range(self, meta, low, high, name, *rest):
        """`1 to 3 chemo ever`: at least 1 and at most 3."""
        return self._count_range(meta, low, high, name, name,
                                 self.counted(meta, low, name, *rest))

    def counted_by_range(self, meta, low, high, by, name, *rest):
        """`1 to 3 lines of cll_therapy ever` ("one to three prior therapies")."""
        return self._count_range(meta, low, high, by, name,
                                 self.counted_by(meta, low, by, name, *rest))

    def includes_most(self, meta, name, number, values):
        """`bdmard includes at most 1 of {adalimumab, etanercept, ...}` ("exposure to at most one
        bDMARD"): not at least N + 1 of them, the drugs told apart, not the courses."""
        return self._at_most(meta, number, self.includes_count(meta, name,
                                                               self._integer(number), values))

    def _at_most(self, meta, first: Token, counted: m.Counted | m.AtLeast) -> m.Not:
        """At most N is not at least N + 1, the count `at least` compiles, its span the words
        from what it counts on (so the `not` reads as the rule's own words: `m.Not.written`)."""
        span = self._span(meta)
        words = replace(self._token_span(first), end_line=span.end_line, end_column=span.end_column)
        return m.Not(span, replace(counted, span=words, count=counted.count + 1))

    def _count_range(self, meta, low, high, first: Token, name: Token,
                     counted: m.Counted) -> m.And:
        """N to M is at least N (for 1: there is one, `name ...`) and at most M."""
        if self._integer(low) > self._integer(high):
            raise ProtocolError([diag("range-order", self._token_span(low), low=low,
                                      high=high)], self.source)
        span = self._span(meta)
        words = replace(self._token_span(name), end_line=span.end_line, end_column=span.end_column)
        most = self._at_most(meta, first, replace(counted, count=self._integer(high)))
        if counted.count == 0:  # "0 to 2": at most 2
            return most
        least = replace(counted.occurred, span=words) if counted.count == 1 else counted
        return m.And(self._span(meta), (least, most))
