"""What a condition means, apart from where it is written: `meaning(node)` is a key under which
two nodes of the model are equal exactly when they mean the same. The semantic diff compares an
amendment's conditions by it (moving a clause or re-spacing a line is no change), and the why-not
search takes the parts of a criterion that mean the same as one (`not e` in an applies-when and
again in the condition is one fact, true or false in both).

>>> from grammar.parser import parse
>>> p = parse('concepts:\\n a: flag\\n b: flag\\n'
...           'inclusion I1 "x": a and b\\ninclusion I2 "y": b and a')
>>> first, second = (leaf.condition for leaf in p.leaves())
>>> meaning(first) == meaning(second), first == second
(True, False)
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from protocol import model as m


def flat(node: m.And | m.Or) -> list[m.Condition]:
    """`a and (b and c)` is `a and b and c`."""
    return [x for item in node.items for x in (flat(item) if type(item) is type(node) else [item])]


def chosen(node: m.Or) -> tuple[m.Condition, m.Condition, m.Condition] | None:
    """`A if C else B`, which the parser writes `(C and A) or (not C and B) or (A and B)`
    sharing the nodes C, A and B (`grammar.parser`): (C, A, B); None for an `or` as written,
    whose items share none. A and B are told by equality, spans included: a later pass may
    build a compound one again (`A and A2`), as an equal node."""
    if len(node.items) != 3 or not all(isinstance(i, m.And) and len(i.items) == 2
                                       for i in node.items):
        return None
    (choice, then), (negated, otherwise), both = (i.items for i in node.items)  # type: ignore
    return (choice, then, otherwise) if isinstance(negated, m.Not) and negated.item is choice \
        and both[0] == then and both[1] == otherwise else None


def meaning(node: Any) -> Any:
    """A node as nested tuples without spans, equal exactly when the meaning is: and/or clauses and
    value sets unordered, names of values case-insensitive (as facts are matched), weeks as 7 days
    and years as 12 months (as windows are computed), `30.0` as `30`."""
    if isinstance(node, (m.And, m.Or)):
        return (type(node).__name__, tuple(sorted({meaning(i) for i in flat(node)}, key=repr)))
    if isinstance(node, m.AtLeast):
        return ("AtLeast", node.count, tuple(sorted((meaning(i) for i in node.items), key=repr)))
    if isinstance(node, m.Value):
        return ("Value", node.name.casefold(), tuple(sorted({s.casefold() for s in node.synonyms})))
    if isinstance(node, m.Duration):
        scale = {"weeks": (7, "days"), "years": (12, "months")}.get(node.unit, (1, node.unit))
        return ("Duration", node.amount * scale[0], scale[1])
    if isinstance(node, Decimal):
        return node.normalize()
    if isinstance(node, m.Number):  # 75,000 is 75000
        return ("Number", node.value.normalize())
    if isinstance(node, Enum):
        return node.value
    if isinstance(node, tuple) and node and all(isinstance(v, m.Value) for v in node):
        return tuple(sorted({meaning(v) for v in node}, key=repr))
    if isinstance(node, (tuple, list)):
        return tuple(meaning(v) for v in node)
    if is_dataclass(node):  # without where it is, nor a word written for another (`written`)
        return (type(node).__name__, *(meaning(getattr(node, f.name)) for f in fields(node)
                                       if f.name not in ("span", "written")))
    return node
