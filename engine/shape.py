"""How a condition joins its parts, as the trail records it for a reader to draw: written by
`engine.atoms.shape` from the model, checked on reading by `shape_problem`, read bottom-up by
`folded`, its connectives decided by `holds`.

A module of its own, apart from `engine/atoms/`: the trail's readers (`explain`, `verify`,
`report`) read shapes without the atoms, the model and the engine they import, so that a reader
of a trail starts in a fraction of the time a run takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How a condition joins its parts (`engine.atoms.parts`), as the trail records it for a reader to
#: draw: a part's index, or a list of a connective ("all", "any", "not", "at least 2") and what it
#: joins.
Shape = int | list
#: The deepest shape the trail records and its readers draw (parentheses within parentheses):
#: deeper, the parts are listed one under another.
SHAPE_DEPTH = 48


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
