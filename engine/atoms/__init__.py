"""The kinds of condition, one class each: the one home of a construct's run-time meaning.

`of(part)` finds the atom kind for a part of a condition; `parts(condition)` lists the parts the
trail judges one by one. Adding a construct means: grammar, model, its checks, one atom here, docs
and tests.
"""

from __future__ import annotations

import itertools

from engine.atoms.base import Atom, Build, Judged, Reader
from engine.atoms.counts import Counted
from engine.atoms.doses import CumulativeDose, CurrentDose, StableDose
from engine.atoms.during import DuringAny
from engine.atoms.filters import Filtered
from engine.atoms.courses import Continuous, Course
from engine.atoms.history import CountedIncludes, Includes, Latest, NoKnown, Occurred
from engine.atoms.measured import Compare, CompareReference, Confirmed, InRange
from engine.atoms.most_recent import OfLatest
from engine.atoms.values import Is, Recorded, Truth
from engine.shape import Shape
from protocol import model as m

KINDS: dict[type, Atom] = {kind.handles: kind() for kind in (
    Truth, Compare, Confirmed, CompareReference, InRange, Is, Occurred, NoKnown, Counted, Latest,
    OfLatest, Includes, Course, Continuous, CurrentDose, CumulativeDose, StableDose, Recorded,
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


def shape(condition: m.Condition | None, first: int = 0) -> Shape | None:
    """The and/or structure over `parts(condition)`, numbered from `first`, in their order
    (`engine/shape.py`: how the trail records it and its readers read it).

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


__all__ = ["Atom", "Build", "Judged", "Reader", "Part", "of", "parts", "shape"]
