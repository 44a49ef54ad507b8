"""The items of a list as the engine reads them: an item's tests as they read on an item fact
of its own (`record.item_fact`, for the nodes that count or pair items), the hit an item makes
for a counting node, and "some item" as one `$iany` term per alternative of its tests.

Why apart from `engine/compile.py`: these say how one item is matched, whatever node reads it;
the compiler says which nodes there are and when they conclude.
"""

from __future__ import annotations

from typing import Any

from engine import patterns as P
from engine import record as R
from engine.kleene import Terms


def item_tests(pattern: P.Pattern, needs: P.Pattern, by: str | None = None) -> list[dict]:
    """The tests on one item fact (item fields by their plain names) for meeting `pattern` and
    `needs`, and recording `by` when given: one test, or one per alternative when the pattern is
    too large for one (the engine's budget). An item may meet several: its hit is one fact."""
    tested = P.all_of(needs, pattern, *([] if by is None else [P.test("!=", by, R.UNRECORDED)]))
    if tested == P.FALSE:
        return []
    alternatives = [tested] if P.cost(tested) <= P.BUDGET - 3 else P.alternatives(tested)
    return [{} if alternative == P.TRUE else plain_items(P.to_json(alternative))
            for alternative in alternatives]


#: A counted item's fact (`hit_of`).
HIT = "h"

#: The most alternatives an item test may have (each value of `is one of`, each clause in a
#: filter's parentheses, an item's multiplying) on the record's fact (`Build.hidden`); more are
#: tested on each item's own fact (`Build.counted`), which the engine holds in groups.
WIDEST = 24


def too_wide(*patterns: P.Pattern) -> bool:
    """Whether one of `patterns` has more alternatives than the record's fact is tested with."""
    return any(len(P.alternatives(pattern)) > WIDEST for pattern in patterns)


def hit_of(node: str, by: str | None, matched: dict) -> dict:
    """The hit an item makes for a counting node: `c` names what it counts once, the item
    (its index) or, counted by an attribute, the value it records (when it records one).

    >>> hit_of("chemo#2@3:5", None, {"i": {"k": 4, "a_line": "2"}})
    {'t': 'h', 'n': 'chemo#2@3:5', 'c': 'chemo#2@3:5#4', 'v': 'T'}
    >>> hit_of("chemo#2@3:5", "a_line", {"i": {"k": 4, "a_line": "2"}})
    {'t': 'h', 'n': 'chemo#2@3:5', 'c': 'chemo#2@3:5=2', 'v': 'T'}
    """
    item = matched["i"]
    value = None if by is None else item[by]
    key = f"#{item[R.INDEX]}" if value in (None, R.UNRECORDED) else f"={value}"
    return {"t": HIT, "n": node, "c": node + key, "v": "T"}


def plain_items(condition: Any) -> Any:
    """An item test as it reads on an item fact: `$i.s` is the field `s`."""
    if isinstance(condition, list):
        return [plain_items(c) for c in condition]
    if isinstance(condition, dict):
        return {(k[3:] if k.startswith("$i.") else k): plain_items(v)
                for k, v in condition.items()}
    return condition


def some_item(name: str, pattern: P.Pattern, needs: P.Pattern) -> Terms:
    """Some item of the list `name` meets `pattern` (and the record meets `needs`): one term per
    alternative of the pattern, each a rule of its own, so no `$or` ever spans item fields."""
    return tuple((P.all_of(needs, P.raw({"$iany": {name: P.to_json(alt)}})), frozenset())
                 for alt in P.alternatives(pattern))
