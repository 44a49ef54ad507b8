"""A small algebra of durable_rules conditions on one fact, with constants and simplification.

durable_rules matches one fact against a nested `$and`/`$or` of field tests. Strong Kleene logic needs
each sub-condition three times (true, false, unknown); building those as values here, with TRUE and
FALSE folded away, keeps every compiled rule small and lets the compiler drop rules that can never fire.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations
from math import prod
from typing import Any, Union


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class Test:
    """One durable_rules field test, kept as canonical JSON text so equal tests compare equal."""

    json: str


@dataclass(frozen=True)
class All:
    items: tuple[Pattern, ...]


@dataclass(frozen=True)
class Any_:
    items: tuple[Pattern, ...]


Pattern = Union[Const, Test, All, Any_]
TRUE, FALSE = Const(True), Const(False)


def test(op: str | None, field: str, value: Any) -> Test:
    """`test(">=", "egfr", 30.0)` is `{"$gte": {"egfr": 30.0}}`; op None is equality."""
    names = {"==": None, "!=": "$neq", ">=": "$gte", ">": "$gt", "<=": "$lte", "<": "$lt",
             "$ex": "$ex", "$nex": "$nex"}
    code = names[op] if op in names else op
    body = {field: value} if code is None else {code: {field: value}}
    return Test(json.dumps(body, sort_keys=True))


def raw(body: dict) -> Test:
    return Test(json.dumps(body, sort_keys=True))


def all_of(*items: Pattern) -> Pattern:
    """The conjunction, flattened, each item once (in first-seen order: a dict of them, since
    comparing each with every other was quadratic in a long conjunction)."""
    flat: dict[Pattern, None] = {}
    for item in items:
        if item == FALSE:
            return FALSE
        if item == TRUE:
            continue
        flat.update(dict.fromkeys(item.items if isinstance(item, All) else (item,)))
    if not flat:
        return TRUE
    return next(iter(flat)) if len(flat) == 1 else All(tuple(flat))


def any_of(*items: Pattern) -> Pattern:
    """The disjunction, flattened, each item once (see `all_of`)."""
    flat: dict[Pattern, None] = {}
    for item in items:
        if item == TRUE:
            return TRUE
        if item == FALSE:
            continue
        flat.update(dict.fromkeys(item.items if isinstance(item, Any_) else (item,)))
    if not flat:
        return FALSE
    return next(iter(flat)) if len(flat) == 1 else Any_(tuple(flat))


def at_least(k: int, items: list[Pattern]) -> Pattern:
    """At least k of the items hold: a disjunction over k-subsets (the checker bounds its size)."""
    if k <= 0:
        return TRUE
    if k > len(items):
        return FALSE
    return any_of(*(all_of(*subset) for subset in combinations(items, k)))


def alternatives(pattern: Pattern) -> list[Pattern]:
    """The pattern as a disjunction of conjunctions (each item of the list an `All` or a test):
    what an item test inside `$iany` must be, since durable_rules gets an `$or` over item fields
    wrong there. A pattern without a disjunction is its own one alternative.

    >>> [to_json(p) for p in alternatives(all_of(test("==", "a", 1), any_of(test("==", "b", 1),
    ...     test("==", "b", 2))))]
    [{'$and': [{'a': 1}, {'b': 1}]}, {'$and': [{'a': 1}, {'b': 2}]}]
    """
    if _counted(pattern) > MAX_PARTS:  # counted before they are made: 2^n for n clauses
        raise TooLarge(f"a condition on one item needs more than {MAX_PARTS} rules")
    return _alternatives(pattern)


def _alternatives(pattern: Pattern) -> list[Pattern]:
    if isinstance(pattern, Any_):
        return [alt for item in pattern.items for alt in _alternatives(item)]
    if isinstance(pattern, All):
        found = [TRUE]
        for item in pattern.items:
            found = [all_of(done, alt) for done in found for alt in _alternatives(item)]
        return [alt for alt in found if alt != FALSE]
    return [] if pattern == FALSE else [pattern]


def _counted(pattern: Pattern) -> int:
    """How many alternatives `alternatives` would make at most (before those found false go)."""
    if isinstance(pattern, Any_):
        return sum(_counted(item) for item in pattern.items)
    if isinstance(pattern, All):
        return prod(_counted(item) for item in pattern.items)
    return 1


def to_json(pattern: Pattern) -> Any:
    """The durable_rules JSON of a pattern (a Const must have been folded away by then)."""
    if isinstance(pattern, Test):
        return json.loads(pattern.json)
    if isinstance(pattern, All):
        return {"$and": [to_json(p) for p in pattern.items]}
    if isinstance(pattern, Any_):
        return {"$or": [to_json(p) for p in pattern.items]}
    raise ValueError(f"constant pattern {pattern} cannot be matched")


#: durable_rules keeps at most 32 expressions per pattern (MAX_SEQUENCE_EXPRESSIONS in rete.h): each
#: `$and`/`$or` group costs two (open and end) and each test against another field (`$m`) one;
#: tests against constants live in the alpha network and cost nothing. Two are kept for the rule's
#: own `t == "p"` conjunction and one to stay below the limit.
BUDGET = 29


def cost(pattern: Pattern) -> int:
    """What a pattern spends of the engine's per-pattern expression budget."""
    if isinstance(pattern, (All, Any_)):
        return 2 + sum(cost(p) for p in pattern.items)
    if isinstance(pattern, Test):
        return 2 * (pattern.json.count('"$and"') + pattern.json.count('"$or"')) + pattern.json.count('"$m"')
    return 0


#: The most rules `split` makes of one pattern. A conjunction of n comparisons, each with a
#: disjunction of its own (a value known exactly or within bounds), distributes into about
#: 2^(n - 13) parts: 2,048 for 24 lab thresholds, half a million for 32, which took minutes to
#: build. A network holds about 280 rules in all (durable_rules' error 108), so more parts than
#: this could never run.
MAX_PARTS = 256


class TooLarge(ValueError):
    """A condition on one record fact that no rules within the engine's limits can hold."""


def split(pattern: Pattern, most: int = MAX_PARTS) -> list[Pattern]:
    """Disjuncts that together mean `pattern`, each within the engine's budget.

    A disjunction splits into its alternatives (one rule each); a conjunction that is too large
    distributes over its largest disjunction. The host keeps the first of equal conclusions.
    More than `most` parts (`MAX_PARTS`, or fewer where a caller only asks whether they fit)
    raise `TooLarge`, as soon as they are found.
    """
    parts: list[Pattern] = []
    _split(pattern, parts, most)
    return parts


def _split(pattern: Pattern, parts: list[Pattern], most: int) -> None:
    if cost(pattern) <= BUDGET or isinstance(pattern, (Test, Const)):
        if len(parts) == most:
            raise TooLarge(f"a condition on one record needs more than {most} rules")
        parts.append(pattern)
        return
    if isinstance(pattern, Any_):
        for item in pattern.items:
            _split(item, parts, most)
        return
    assert isinstance(pattern, All)
    widest = max((p for p in pattern.items if isinstance(p, Any_)), key=cost, default=None)
    if widest is None:
        raise TooLarge("a condition on one record is larger than one rule holds")
    rest = [p for p in pattern.items if p is not widest]
    _split(any_of(*(all_of(*rest, alternative) for alternative in widest.items)), parts, most)


def pack(pattern: Pattern) -> list[Pattern]:
    """As `split`, with as many alternatives to each part as the budget holds (split gives each
    its own): TITE-BOIN's rules are disjunctions over pending counts, 30 of them at 60 patients,
    and each part is a rule of the one ruleset that must hold them all.

    >>> alternatives = [all_of(test("==", "c", c), test(">=", "f", c)) for c in range(20)]
    >>> len(split(any_of(*alternatives))), len(pack(any_of(*alternatives)))
    (20, 2)
    """
    if cost(pattern) <= BUDGET or isinstance(pattern, (Test, Const)):
        return [pattern]
    if isinstance(pattern, Any_):
        return _chunks([part for item in pattern.items for part in pack(item)], ())
    assert isinstance(pattern, All)
    widest = max((p for p in pattern.items if isinstance(p, Any_)), key=cost, default=None)
    if widest is None:
        raise TooLarge("a condition on one record is larger than one rule holds")
    rest = tuple(p for p in pattern.items if p is not widest)
    if cost(all_of(*rest, widest.items[0])) > BUDGET:  # another disjunction is too wide as well
        return [part for item in widest.items for part in pack(all_of(*rest, item))]
    return _chunks(list(widest.items), rest)


def _chunks(alternatives: list[Pattern], rest: tuple[Pattern, ...]) -> list[Pattern]:
    """`rest` and any of `alternatives`, as few parts within the budget as greedily found."""
    fixed = cost(All((*rest, Any_(()))))  # the conjunction, `rest`, and the disjunction's group
    parts: list[Pattern] = []
    chunk: list[Pattern] = []
    spent = fixed
    for item in alternatives:
        if chunk and spent + cost(item) > BUDGET:
            parts.append(all_of(*rest, any_of(*chunk)))
            chunk, spent = [], fixed
        chunk.append(item)
        spent += cost(item)
    parts.append(all_of(*rest, any_of(*chunk)))
    if any(cost(part) > BUDGET for part in parts):  # the sums assume no item merges or folds
        raise TooLarge("a condition on one record is larger than one rule holds")
    return parts

