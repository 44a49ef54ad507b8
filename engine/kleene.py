"""Strong Kleene logic as durable_rules patterns: when a condition is true, when false, when open.

Every sub-condition is compiled to a "true" and a "false" disjunction of terms (a pattern on the
patient record plus the derived facts it joins); the open case is what is left, and `d` says whether
it is open because data is missing (UNKNOWN) rather than a pending judgment (NEEDS_REVIEW). Atoms
(`engine/atoms/`) build their `Kleene` with `scalar` or `listed`; `conjunction` and `disjunction`
combine them (`at least k of [...]` is counted: `engine/compile.py`), so a missing value is never
read as absent and no Python decides beside the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from engine import patterns as P
from engine import record as R

NEGATE = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}

#: A disjunction of terms; a term is a pattern on the record plus the derived facts it joins. A
#: join is (node, key): the node's fact has value `key` (T, F, or N for a known number), or, for a
#: key that is a test's JSON (`is_test`), a derived number `q` that passes the test.
Terms = tuple[tuple[P.Pattern, frozenset[tuple[str, str]]], ...]
NEVER: Terms = ()
ALWAYS: Terms = ((P.TRUE, frozenset()),)
#: The field of a derived number in its node's fact, and the value that says it is known.
NUMBER, KNOWN = "q", "N"


def is_test(key: str) -> bool:
    return key.startswith("{")


def contradicts(joins: frozenset[tuple[str, str]]) -> bool:
    """Two different values asked of one node's fact (T and F), or tests on its number that no
    number passes (`< 60` and `> 100`), can never hold together. Tests that can are kept together
    (one fact binds one pattern of a rule, so they are matched at once).

    >>> contradicts(frozenset({("d", "T"), ("d", "F")}))
    True
    >>> low, high = P.test(">=", NUMBER, 60.0).json, P.test("<", NUMBER, 60.0).json
    >>> contradicts(frozenset({("n", low), ("n", high)})), contradicts(frozenset({("n", low)}))
    (True, False)
    """
    values: dict[str, str] = {}
    bounds: dict[str, list[tuple[float, bool, float, bool]]] = {}
    for name, key in joins:
        if is_test(key):
            bounds.setdefault(name, []).append(_interval(key))
        elif values.setdefault(name, key) != key:
            return True
    for intervals in bounds.values():
        low, low_excluded = max((i[0], not i[1]) for i in intervals)  # the strictest bounds
        high, high_included = min((i[2], i[3]) for i in intervals)
        if low > high or (low == high and (low_excluded or not high_included)):
            return True
    return False


def _interval(key: str) -> tuple[float, bool, float, bool]:
    """The numbers a test on a derived number passes: (low, low included, high, high included).
    A test on its bounds (`q__lo >= 60`: every value it may have is) reads as one on the number,
    a disjunction of tests (`measured`) as the least interval holding each one's, a conjunction
    as the greatest within each, and a test of another field (an open bound's flag) as any."""
    return _passed(json.loads(key))


def _passed(test: dict) -> tuple[float, bool, float, bool]:
    ((code, body),) = test.items()
    inf = float("inf")
    if code in ("$or", "$and"):
        parts = [_passed(item) for item in body]
        pick_low, pick_high = (min, max) if code == "$or" else (max, min)
        low = pick_low((p[0], not p[1]) for p in parts)
        high = pick_high((p[2], p[3]) for p in parts)
        return low[0], not low[1], high[0], high[1]
    if code == NUMBER:
        return body, True, body, True
    if not isinstance(body, dict):  # `{"q__lx": 1}`: a flag, not the number
        return -inf, True, inf, True
    ((_, number),) = body.items()
    return {"$gte": (number, True, inf, True), "$gt": (number, False, inf, True),
            "$lte": (-inf, True, number, True), "$lt": (-inf, True, number, False),
            }.get(code, (-inf, True, inf, True))


def _merge(terms) -> Terms:
    """Terms with the same joins become one term (their patterns or-ed); contradictions drop out."""
    grouped: dict[frozenset, list[P.Pattern]] = {}
    for pattern, joins in terms:
        if pattern == P.FALSE or contradicts(joins):
            continue
        grouped.setdefault(joins, []).append(pattern)
    merged = [(P.any_of(*patterns), joins) for joins, patterns in grouped.items()]
    return tuple(sorted(((p, j) for p, j in merged if p != P.FALSE), key=lambda t: sorted(t[1])))


def both(*items: Terms) -> Terms:
    """Terms that hold when every one of `items` holds."""
    result = ALWAYS
    for terms in items:
        result = _merge((P.all_of(pa, pb), ja | jb) for pa, ja in result for pb, jb in terms)
    return result


def either(*items: Terms) -> Terms:
    """Terms that hold when one of `items` holds."""
    return _merge(term for terms in items for term in terms)


@dataclass(frozen=True)
class Kleene:
    """A condition compiled: when it is true, when false; the open case is what is left.

    `d` holds on the record when data the condition reads is missing (then open means UNKNOWN, else
    NEEDS_REVIEW); `nd` is its complement; `uses` are the nodes (definitions, hidden atoms) whose
    facts it joins.
    """

    t: Terms
    f: Terms
    d: P.Pattern
    nd: P.Pattern
    uses: frozenset[str]

    def negated(self) -> Kleene:
        return Kleene(self.f, self.t, self.d, self.nd, self.uses)


KNOWN_TRUE = Kleene(ALWAYS, NEVER, P.FALSE, P.TRUE, frozenset())


def joined(node: str) -> Kleene:
    """A condition decided by a node of its own (a definition, a hidden atom): its fact's value."""
    t = ((P.TRUE, frozenset({(node, "T")})),)
    f = ((P.TRUE, frozenset({(node, "F")})),)
    return Kleene(t, f, P.FALSE, P.TRUE, frozenset({node}))


def compared(name: str, op: str, value: float) -> tuple[P.Pattern, P.Pattern]:
    """When `name op value` is true and when false, for an exact value (the field `name`) or for
    one known only within bounds (`record.bounds`): true when every possible value passes, false
    when none does, so "< 20" is decided against 30 and open against 10."""
    lo, hi, lx, hx = R.bounds(name)
    above = P.test(">=", lo, value)  # every possible value >= value
    over = P.any_of(P.test(">", lo, value), P.all_of(above, P.test("==", lx, 1)))  # every > value
    below = P.test("<=", hi, value)  # every possible value <= value
    under = P.any_of(P.test("<", hi, value), P.all_of(below, P.test("==", hx, 1)))  # every < value
    uncertain = {">=": (above, under), ">": (over, below), "<=": (below, over),
                 "<": (under, above), "==": (P.FALSE, P.any_of(under, over)),
                 "!=": (P.any_of(under, over), P.FALSE)}[op]
    exact = (P.test(op, name, value), P.test(NEGATE[op], name, value))
    return P.any_of(exact[0], uncertain[0]), P.any_of(exact[1], uncertain[1])


def measured(node: str, op: str, threshold: float) -> Kleene:
    """A comparison decided on a derived number, a node of its own: its fact's `q` against the
    threshold, or where the number is known only within bounds (`q__lo`, `q__hi`: an input was;
    both reached, no open flag), true when every value within them passes, false when none
    does, as `compared` decides a recorded value; open when the node is (its fact is then U or
    R, with no number) and when its bounds do not decide."""
    t_key, f_key = (json.dumps(P.to_json(p), sort_keys=True)
                    for p in compared(NUMBER, op, threshold))
    return Kleene(((P.TRUE, frozenset({(node, t_key)})),), ((P.TRUE, frozenset({(node, f_key)})),),
                  P.FALSE, P.TRUE, frozenset({node}))


def known(node: str) -> Terms:
    """A derived number some formula reads: its node has concluded a number."""
    return ((P.TRUE, frozenset({(node, KNOWN)})),)


def scalar(t: P.Pattern, f: P.Pattern, name: str, judgment: bool = False) -> Kleene:
    """A single-valued concept: open exactly when its field is absent from the record (for a
    judgment, open means awaiting attestation, not missing data)."""
    if judgment:
        return Kleene(((t, frozenset()),), ((f, frozenset()),), P.FALSE, P.TRUE, frozenset())
    missing, present = P.test("$nex", name, 1), P.test("$ex", name, 1)
    return Kleene(((t, frozenset()),), ((f, frozenset()),), missing, present, frozenset())


def listed(name: str, yes: P.Pattern, no: P.Pattern, needs: P.Pattern = P.TRUE,
           void: P.Pattern = P.FALSE, maybe: P.Pattern | None = None,
           whole: bool = False) -> Kleene:
    """A list concept (events, drugs taken) tested on one item field: true if some item says yes;
    false if the patient has none or every item says no; open if nothing is recorded. `needs` is
    what the item test reads beside the list (a window's anchor day): without it, open, unless
    `void` holds (the anchor can never exist: no course of the therapy it is the end of).

    When items' days are known only within bounds, `yes` is what an item surely meets and `no`
    what it surely fails; `maybe` (what it may meet) then says when the list is open because of
    such dates, which is UNKNOWN, never a pending judgment.

    A list others count as (`whole`) is false only when its record is whole (`R.whole_field`):
    items given only through narrower lists may make it true, never false; such an open list
    with no item that says yes is data the record lacks (UNKNOWN, never a pending judgment)."""
    none_recorded = P.test("==", R.none_field(name), 1)
    recorded = P.test("$ex", R.whole_field(name) if whole else name, 1)
    t = P.all_of(needs, _items("$iany", name, yes))
    f = P.any_of(none_recorded, void, P.all_of(needs, recorded if whole else P.TRUE,
                                               _items("$iall", name, no)))
    unsure = P.FALSE if maybe is None else P.all_of(
        P.test("$ex", name, 1), needs, _items("$iany", name, maybe),
        _items("$iall", name, _negation(yes)))
    opened = P.all_of(P.test("$nex", R.whole_field(name), 1), P.test("$ex", name, 1),
                      needs) if whole else P.FALSE
    d = P.any_of(missing_list(name), lacking(name, needs, void), unsure,
                 P.all_of(opened, _items("$iall", name, _negation(yes))))
    settled = P.TRUE if maybe is None else P.any_of(_items("$iall", name, no),
                                                    _items("$iany", name, yes))
    nd = P.any_of(none_recorded, void, P.all_of(recorded, needs, settled), P.all_of(opened, t))
    return Kleene(((t, frozenset()),), ((f, frozenset()),), d, nd, frozenset())


def _items(quantifier: str, name: str, pattern: P.Pattern) -> P.Pattern:
    """`$iany` / `$iall` of a pattern over the items of the list `name` (TRUE: any item)."""
    if pattern == P.FALSE:
        return P.FALSE
    inner = P.to_json(pattern) if pattern != P.TRUE else {"$gte": {R.ITEM[R.START]: 0}}
    return P.raw({quantifier: {name: inner}})


def _negation(test: P.Pattern) -> P.Pattern:
    """The negation of one comparison test (an equality, `{field: value}`, too)."""
    ((op, body),) = json.loads(test.json).items()
    if not isinstance(body, dict):  # an equality: op is its field, body its value
        return P.raw({"$neq": {op: body}})
    ((field, value),) = body.items()
    if op == "$neq":
        return P.raw({field: value})
    names = {"$gte": "$lt", "$gt": "$lte", "$lte": "$gt", "$lt": "$gte"}
    return P.raw({names[op]: {field: value}})


def lacking(name: str, needs: P.Pattern, void: P.Pattern) -> P.Pattern:
    """The list `name` is recorded but what its test needs beside it is not (and not void)."""
    if needs == P.TRUE:
        return P.FALSE
    return P.all_of(P.test("$ex", name, 1), absent(needs), not_void(void))


def not_void(pattern: P.Pattern) -> P.Pattern:
    """The negation of FALSE or of one `{"field": 1}` equality test (a recorded "none")."""
    if pattern == P.FALSE:
        return P.TRUE
    ((field, _),) = json.loads(pattern.json).items()
    return P.test("$nex", field, 1)


def present(*fields: str) -> P.Pattern:
    """Every one of `fields` is on the record."""
    return P.all_of(*(P.test("$ex", name, 1) for name in fields))


def absent(needs: P.Pattern) -> P.Pattern:
    """Some field that `needs` (made by `present`) requires is not on the record."""
    tests = needs.items if isinstance(needs, P.All) else (needs,)
    return P.any_of(*(P.raw({"$nex": json.loads(t.json)["$ex"]}) for t in tests))


def recorded_list(name: str, whole: bool = False) -> P.Pattern:
    """A list concept recorded: its items, or a recorded "none"; of a list others count as
    (`whole`), by its own facts (`R.whole_field`)."""
    if whole:
        return P.test("$ex", R.whole_field(name), 1)
    return P.any_of(P.test("==", R.none_field(name), 1), P.test("$ex", name, 1))


def missing_list(name: str, whole: bool = False) -> P.Pattern:
    """Nothing recorded about a list concept: neither occurrences nor a recorded "none"; of a
    list others count as (`whole`), not by its own facts: its items, if any, may not be all."""
    if whole:
        return P.test("$nex", R.whole_field(name), 1)
    return P.all_of(P.test("$nex", name, 1), P.test("$nex", R.none_field(name), 1))


def conjunction(items: list[Kleene]) -> Kleene:
    return Kleene(
        t=both(*(k.t for k in items)),
        f=either(*(k.f for k in items)),
        d=P.any_of(*(k.d for k in items)),
        nd=P.all_of(*(k.nd for k in items)),
        uses=frozenset().union(*(k.uses for k in items)),
    )


def disjunction(items: list[Kleene]) -> Kleene:
    return conjunction([k.negated() for k in items]).negated()
