"""Boundary cases in time of a result: the oldest day it still counts on, and the day before.

A concept declared `valid for N` counts a result dated the screening date minus N (calendar-aware,
as every window: `engine.dates.shift`), and not one a day older: stale, UNKNOWN. A concept read at
a named day (`uacr_at_visit_1: uacr at visit_1`) counts a result of that day, and with `valid for
N` one back to that day minus N; a day older is not read: UNKNOWN. Each case gives the concept
one result, dated on that day or the day before, with a value whose verdict is known: the value a
threshold's own case gives at the bound, or for a category or a flag a value the condition names.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from engine.dates import shift
from engine.edgecases.base import Variant, kept, read_on
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases


def aged(gen: EdgeCases, atom: Any, concept: m.Concept, fact: dict[str, Any], status: str,
         written: str, stale: str = "unknown") -> list[Variant]:
    """`fact` dated the oldest day it counts on (the atom then `status`; unless `fact` is dated
    so already, as a reading's result of its day is) and the day before (`stale`: unknown, but
    for `is recorded`); none for a concept whose results count at any age."""
    edge = oldest_counted(gen, concept)
    if edge is None:
        return []
    oldest, why = edge
    before = oldest - timedelta(days=1)
    others = _narrower(gen, fact["concept"])
    shown = f"{fact['value']} {fact['unit']}" if fact.get("unit") else str(fact["value"]).lower()
    counts = Variant(f"{concept.name} {shown} dated {oldest}: the oldest day it counts, {written}",
                     f"{why}: it counts, and {written} is {status}", atom, status,
                     replace=({**fact, "date": oldest.isoformat()},), remove=others)
    return [counts] * (fact.get("date") != oldest.isoformat()) + [
        Variant(f"{concept.name} {shown} dated {before}: a day too old, {written}",
                f"{why}: a day older does not count: {stale}", atom, stale,
                replace=({**fact, "date": before.isoformat()},), remove=others)]


def recorded_or_not(gen: EdgeCases, atom: m.Recorded) -> list[Variant]:
    """`crcl_measured is recorded`: the base's latest fact of it as old as it counts and a day
    older (no longer recorded), and none at all; nothing where the base gives none."""
    concept = gen.concept(atom)
    given = [f for f in gen.base["facts"] if f.get("concept") == concept.name]
    if not given:
        return []
    held, lacking = ("false", "true") if atom.negated else ("true", "false")
    written = f"{concept.name} is {'not ' if atom.negated else ''}recorded"
    fact = {k: v for k, v in given[-1].items() if k != "date"}
    aging = aged(gen, atom, concept, fact, held, written, lacking) if expires(concept) else []
    return [*aging, Variant(f"no {concept.name}: {written}", f"nothing recorded: {lacking}",
                            atom, lacking, remove=(concept.name, *_narrower(gen, concept.name)))]


def recorded(gen: EdgeCases, atom: m.Is | m.Truth) -> list[Variant]:
    """A category or a flag whose results age (`pregnancy_test is negative`, a flag `valid for
    28 days`): a value the condition names, as old as it counts and a day older."""
    concept = gen.concept(atom)
    if concept.kind not in (m.Kind.CATEGORY, m.Kind.FLAG):
        return []
    if isinstance(atom, m.Truth):
        value, status, written = True, "true", atom.ref.name
    else:
        value = atom.values[0].name
        status = "false" if atom.negated else "true"
        written = f"{atom.ref.name} is {'not ' if atom.negated else ''}{value}"
    fact = {"concept": concept.name, "value": value, **kept(gen, concept.name)}
    return aged(gen, atom, concept, fact, status, written)


def expires(concept: m.Concept | None) -> bool:
    """Whether a result of `concept` may be too old to count (`aged` gives it cases): declared
    `valid for`, or read at a day."""
    return concept is not None and (concept.valid_for is not None or concept.at is not None
                                    and concept.reads is not None)


def _narrower(gen: EdgeCases, name: str) -> tuple[str, ...]:
    """The concepts the base patient gives facts of that count as `name`'s too (`counts as`;
    `check` refuses a chain), which the case removes: its result is then the only one (a fresh
    blood test would still answer `pregnancy_test`)."""
    given = {f.get("concept") for f in gen.base["facts"]}
    return tuple(c.name for c in gen.protocol.concepts
                 if c.counts_as is not None and c.counts_as.name == name and c.name in given)


def oldest_counted(gen: EdgeCases, concept: m.Concept) -> tuple[date, str] | None:
    """The oldest day a result of `concept` counts on in the base patient, and why."""
    if concept.reads is not None:
        day = date.fromisoformat(read_on(gen, concept))
        if concept.valid_for is None:
            return day, (f"{concept.name} reads {concept.reads.name} of {concept.at.name}'s "
                         f"day ({day})")
        return shift(day, concept.valid_for), (
            f"{concept.name} reads {concept.reads.name} of {concept.at.name} ({day}) or of the "
            f"{concept.valid_for} before it")
    if concept.valid_for is None:
        return None
    oldest = shift(gen.screening, concept.valid_for)
    return oldest, f"valid for {concept.valid_for} before screening ({gen.screening})"
