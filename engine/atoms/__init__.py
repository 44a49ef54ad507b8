"""The kinds of condition, one class each: the one home of a construct's run-time meaning.

`of(part)` finds the atom kind for a part of a condition; `parts(condition)` lists the parts the
trail judges one by one. Adding a construct means: grammar, model, its checks, one atom here, docs
and tests.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TypeVar

from engine.atoms.base import Atom, Build, Judged, Reader
from engine.atoms.counts import Counted
from engine.atoms.doses import CumulativeDose, CurrentDose, StableDose
from engine.atoms.during import DuringAny
from engine.atoms.filters import Filtered
from engine.atoms.history import (Continuous, CountedIncludes, Course, Includes, Latest, NoKnown,
                                 Occurred)
from engine.atoms.measured import Compare, CompareReference, Confirmed, InRange
from engine.atoms.values import Is, Truth
from protocol import model as m

KINDS: dict[type, Atom] = {kind.handles: kind() for kind in (
    Truth, Compare, Confirmed, CompareReference, InRange, Is, Occurred, NoKnown, Counted, Latest, Includes,
    Course, Continuous, CurrentDose, CumulativeDose, StableDose,
)}
COUNTED = CountedIncludes()
FILTERED = Filtered()
DURING_ANY = DuringAny()


def of(part: m.Condition) -> Atom | None:
    """The atom kind that decides `part`, or None for a connective (and, or, not, at least)."""
    if isinstance(part, m.AtLeast):
        return COUNTED if part.counts_one_list else None
    if isinstance(part, m.Occurred) and part.window.kind == "during_any":
        return DURING_ANY
    if isinstance(part, m.Occurred) and part.filters:
        return FILTERED
    return KINDS.get(type(part))


#: A part of a condition as the trail shows it: an atom, a counted list, or `not` of one.
Part = m.Atom | m.AtLeast | m.Not


def parts(condition: m.Condition | None) -> list[Part]:
    """The parts of a condition, left to right: atoms, and counted lists as one part."""
    if condition is None:
        return []
    if of(condition) is not None:
        return [condition]
    if isinstance(condition, (m.And, m.Or, m.AtLeast)):
        return [p for item in condition.items for p in parts(item)]
    if isinstance(condition, m.Not):
        inner = parts(condition.item)
        return [condition] if len(inner) == 1 and inner[0] is condition.item else inner
    raise TypeError(f"no atom kind for {type(condition).__name__}")


T = TypeVar("T")

#: How a condition joins its parts (`parts`), as the trail records it for a reader to draw: a
#: part's index, or a list of a connective ("all", "any", "not", "at least 2") and what it joins.
Shape = int | list
#: The deepest shape the trail records and its readers draw (parentheses within parentheses):
#: deeper, the parts are listed one under another.
SHAPE_DEPTH = 48


def shape(condition: m.Condition | None, first: int = 0) -> Shape | None:
    """The and/or structure over `parts(condition)`, numbered from `first`, in their order.

    >>> from grammar.parser import parse
    >>> p = parse('concepts:\\n a: flag\\n b: flag\\n c: flag\\ninclusion I1 "x": (a and b) or c')
    >>> shape(p.leaves()[0].condition)
    ['any', ['all', 0, 1], 2]
    """
    if condition is None:
        return None
    count = itertools.count(first)

    def joined(node: m.Condition) -> Shape:
        if of(node) is not None:
            return next(count)
        if isinstance(node, m.Not):
            inner = parts(node.item)
            return next(count) if len(inner) == 1 and inner[0] is node.item else \
                ["not", joined(node.item)]
        if isinstance(node, m.And):
            word = "all"
        elif isinstance(node, m.Or):
            word = "any"
        else:  # at least N of [...]: `any of` is at least 1, `all of` at least all
            word = {1: "any", len(node.items): "all"}.get(node.count, f"at least {node.count}")
        return [word, *map(joined, node.items)]

    return joined(condition)


def shape_problem(found: object, count: int) -> str | None:
    """Why `found` (read from a trail) is not a shape over `count` parts, or None: each part
    once, known connectives, at most `SHAPE_DEPTH` deep. Read without recursion: the trail
    may be anyone's."""
    seen: list[int] = []
    stack: list[tuple[object, int]] = [(found, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > SHAPE_DEPTH:
            return f"nested deeper than {SHAPE_DEPTH}"
        if isinstance(node, int) and not isinstance(node, bool):
            if not 0 <= node < count:
                return f"names part {node + 1} of {count}"
            seen.append(node)
            continue
        if not isinstance(node, list) or len(node) < 2 or not isinstance(node[0], str) \
                or not _CONNECTIVE.fullmatch(node[0]) or (node[0] == "when" and len(node) != 3):
            return f"has {str(node)[:40]} where a part or a connective is"
        stack.extend((item, depth + 1) for item in node[1:])
    return None if sorted(seen) == list(range(count)) else "does not name each part once"


_CONNECTIVE = re.compile(r"all|any|not|when|at least [1-9][0-9]*")


def holds(word: str, statuses: list[str]) -> str:
    """Strong Kleene logic over parts' statuses ("true", "false", "unknown"), joined by a
    shape's connective: "all", "any", "not" (of one), "at least N"."""
    if word == "not":
        return {"true": "false", "false": "true"}.get(statuses[0], "unknown")
    needed = {"all": len(statuses), "any": 1}.get(word) or int(word.split()[-1])
    held = statuses.count("true")
    if held >= needed:
        return "true"
    return "false" if held + statuses.count("unknown") < needed else "unknown"


def folded(found: Shape, part: Callable[[int], T], group: Callable[[str, list[T]], T]) -> T:
    """A shape read bottom-up: each part by `part` (its index), each connective by `group` over
    what its items gave; a checked shape is at most `SHAPE_DEPTH` deep."""
    if isinstance(found, int):
        return part(found)
    return group(found[0], [folded(item, part, group) for item in found[1:]])


__all__ = ["Atom", "Build", "Judged", "Reader", "Part", "Shape", "SHAPE_DEPTH", "folded", "holds",
           "of", "parts", "shape", "shape_problem"]
