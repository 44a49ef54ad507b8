"""Concepts read at a named day (`uacr_at_visit_1: uacr at visit_1`), resolved once a file's
concepts are all read: the concept read may be declared after its reading.

Apart from the parser, which calls `resolved` with its list of declarations and its way of
failing at a span, because resolving a reading is a question of the file's other declarations,
not of the text one rule matched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from protocol import model as m
from protocol.errors import ProtocolError, Span, hint


class ReadAt(NamedTuple):
    """`uacr_at_visit_1: uacr at visit_1` as written."""

    span: Span
    name: str
    base: m.Ref
    at: m.Ref
    validity: m.Duration | None
    label: str | None


def resolved(declared: list[m.Concept | ReadAt], fail: Callable[[Span, str], ProtocolError]
             ) -> tuple[m.Concept, ...]:
    """Each concept read as of a named day as the concept it reads, under its own name, label
    and validity (none: a result of that day only; the read concept's is counted from the
    screening date), with that concept and the day's concept named, so that every later step
    sees a concept of a kind. A reading of what cannot be read at a day raises `fail`'s error
    at the name read."""
    concepts = {c.name: c for c in declared if isinstance(c, m.Concept)}
    readings = {c.name: c for c in declared if isinstance(c, ReadAt)}
    return tuple(_reading(c, concepts, readings, fail) if isinstance(c, ReadAt) else c
                 for c in declared)


def _reading(read: ReadAt, concepts: dict[str, m.Concept], readings: dict[str, ReadAt],
             fail: Callable[[Span, str], ProtocolError]) -> m.Concept:
    base = concepts.get(read.base.name)
    if read.base.name in readings:
        first = readings[read.base.name]
        raise fail(read.base.span, f"'{read.name}' reads '{first.name}', which is "
                   f"'{first.base.name}' read at {first.at.name} already: read "
                   f"'{first.base.name}' at {read.at.name}")
    if base is None:
        raise fail(read.base.span, f"'{read.name}' reads '{read.base.name}', which is not "
                   f"declared{hint(read.base.name, [*concepts, *readings])}")
    if base.kind not in m.DATED_RESULTS:
        how = {m.Kind.AGE: f"declare '{read.name}: age at {read.at.name}'",
               m.Kind.DERIVED: f"read its inputs at {read.at.name} and derive from them",
               m.Kind.EVENT: f"compare it in a window: 'within ... before {read.at.name}'",
               m.Kind.MEDICATION: f"compare its dose on the day: '{base.name} dose at "
                                  f"{read.at.name} ...' or a window"}.get(
            base.kind, "name a measured, category or flag concept")
        raise fail(read.base.span, f"'{read.name}' reads '{base.name}' at {read.at.name}, but "
                   f"'{base.name}' is {base.kind.said}: {how}")
    return replace(base, span=read.span, name=read.name, label=read.label,
                   valid_for=read.validity, counts_as=None, at=read.at, reads=read.base)
