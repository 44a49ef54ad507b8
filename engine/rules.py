"""The patterns of a node's rules, as durable_rules reads them: its definite conclusions, one
rule per term and budget-sized disjunct (`conclusions`); its open outcomes at its stratum's end
marker, for want of data or for a pending judgment (`open_rules`); the facts a rule joins and the
node's own slice of the patient record (`rule_body`, `record_slice`).

Why apart from `engine/compile.py`: these say how one node's rules read, whatever the node; the
compiler says which nodes there are and what each concludes.
"""

from __future__ import annotations

import json

from engine import patterns as P
from engine import record as R
from engine.kleene import KNOWN, NUMBER, Kleene, Terms, is_test


def end_marker(level: int) -> dict:
    """The pattern of stratum `level`'s end marker, which a rule waits for to conclude what
    nothing concluded before it."""
    return {"e": {"$and": [{"t": "end"}, {"s": level}]}}


#: A pattern of an end marker no stratum asserts: a rule that waits for it matches the other facts
#: of its patterns and never fires, for facts the engine must see matched (it refuses a batch
#: with a fact no rule matches).
NO_END = end_marker(-1)


def conclusions(node: str, prefix: str, outcomes: dict[str, Terms], make):
    """One rule per (term, budget-sized disjunct) for each definite outcome."""
    for value, terms in outcomes.items():
        index = 0
        for pattern, joins in terms:
            for part in P.split(pattern):
                rule = f"{prefix}:{value}#{index}"
                index += 1
                yield rule, rule_body(node, joins, part), make(value, rule)


def open_rules(node: str, prefix: str, level: int, own: dict, k: Kleene, values: dict[str, str],
                make, valued: frozenset[str]):
    """The open outcomes, judged at end marker `level` when no definite conclusion was drawn.

    Open because data is missing (the record says so, or a node used is unknown: a definition, or
    a derived value, among `valued`, with no number or one known only within bounds) is the first
    value; open only for a pending judgment is the second.
    """
    end = end_marker(level)
    unsettled = {"o$not": own}
    missing, review = values["U"], values["R"]
    index = 0
    for part in P.split(k.d) if k.d != P.FALSE else []:
        rule = f"{prefix}:{missing}#{index}"
        index += 1
        yield rule, {"all": [end, unsettled, record_slice(node, part)]}, make(missing, rule)
    unknown = {name: _unknown(name, name in valued) for name in sorted(k.uses)}
    for name, fact in unknown.items():
        rule = f"{prefix}:{missing}#{index}"
        index += 1
        yield rule, {"all": [end, unsettled, {"x": fact}]}, make(missing, rule)
    no_unknown_uses = [{f"u{i}$not": fact} for i, fact in enumerate(unknown.values())]
    for index, part in enumerate(P.split(k.nd) if k.nd != P.FALSE else []):
        rule = f"{prefix}:{review}#{index}"
        yield rule, {"all": [end, unsettled, record_slice(node, part), *no_unknown_uses]}, \
            make(review, rule)


def _unknown(name: str, valued: bool) -> dict:
    """The fact of node `name` when it leaves what reads it open for want of data: U, or for a
    derived value a number known only within bounds."""
    if not valued:
        return {"$and": [{"t": "d"}, {"n": name}, {"v": "U"}]}
    low, high = R.bounds(NUMBER)[:2]
    return {"$and": [{"t": "d"}, {"n": name}, {"$or": [{"v": "U"}, {"$ex": {low: 1}},
                                                        {"$ex": {high: 1}}]}]}


def record_slice(node: str, pattern: P.Pattern) -> dict:
    """The pattern on the node's own slice of the patient record (see `Network.fields`)."""
    return {"p": P.to_json(P.all_of(P.test("==", "t", "p"), P.test("==", "g", node), pattern))}


def rule_body(node: str, joins: frozenset[tuple[str, str]], pattern: P.Pattern) -> dict:
    """A rule's patterns: one per node whose fact it joins (its value, or tests on its number:
    one fact binds one pattern of a rule), then the node's slice of the record."""
    facts: dict[str, list[dict]] = {}
    for name, key in sorted(joins):
        tests = facts.setdefault(name, [{"t": "d"}, {"n": name}])
        value = {"v": KNOWN} if is_test(key) else {"v": key}
        if value not in tests:
            tests.append(value)
        if is_test(key):
            tests.append(json.loads(key))
    derived = [{f"d{i}": {"$and": tests}} for i, tests in enumerate(facts.values())]
    return {"all": [*derived, record_slice(node, pattern)]}
