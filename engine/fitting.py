"""What durable_rules' C engine holds, and a compiled network fitted within it.

The engine has fixed limits, found by sizing protocols until it failed (README, "durable_rules
2.0.28, as we found it"): a fact's alpha network is walked with a stack of 64 (error 303), one
alpha node links at most 128 tests of a field not recorded (error 107) and 256 joins (error 108),
leads to at most 512 tests (more hang the build), and a network holds at most 4,096 actions
(error 106); a pattern's 32 expressions are `engine/patterns.py`'s budget. The compiler
(`engine/compile.py`) writes the rules a protocol means; this module sizes them for the engine:
it packs the nodes' record patterns into facts of a few nodes each, spreads the rules waiting for
one end marker over markers of their own, and refuses what cannot fit (`TooWide`), at the node or
the line that goes past, so that a protocol beyond the engine is a diagnostic at compile time,
never an engine error in the middle of a run. Kept apart from the compiler because these numbers
follow the engine, not the protocol language.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine import patterns as P
from engine.kleene import Kleene

if TYPE_CHECKING:
    from engine.compile import Action

#: Rules per record fact. The engine walks a fact's alpha network with a stack of 64 entries
#: (events.c), filled by the matching tests below one node: a fact read by too many rules overflows
#: it (error 303). Several small criteria share one fact; every fact costs parsing and storage.
RULES_PER_FACT = 24
#: ... and tests of a field not recorded (`$nex`, how "unknown" reads a record) per record fact. The
#: engine links at most 128 of them below one node of its alpha network (NEXT_LIST_LENGTH in
#: rules.h) and refuses a longer list when it builds the network (error 107): six criteria of 30
#: flags each, packed into one fact, met it.
NEX_PER_FACT = 128
#: ... and one node's own rules on its record fact, which cannot be shared out among facts: a
#: criterion of 19 lab thresholds, 123 rules, overflowed the engine's alpha stack (error 303) on a
#: patient with every value; 88 ran. Tested up to here.
RULES_PER_NODE = 64
#: Rules waiting for one end marker. The engine links at most 256 joins to one node of its alpha
#: network (BETA_LIST_LENGTH in rules.h) and refuses a network with more (error 108), and every
#: rule that waits for a stratum's end marker (a node's open outcomes, a criterion's verdict) joins
#: that marker's node: 150 criteria of one window each met it. More are spread over markers of
#: their own (`spread_ends`).
RULES_PER_END = 240
#: Tests one node of the engine's alpha network leads to. It keeps them in a table of 512
#: (NEXT_BUCKET_LENGTH in rules.h), and looking for one more in a full table never ends: 300
#: criteria of one window each, 600 nodes of their own (a `{n: ...}` test each below `{t: d}`),
#: hung building the network; 200 (400 such tests) build in under a second.
TESTS_PER_NODE = 500
#: Node facts one rule joins. The engine keeps a rule's facts, as it joins them, in a frame of
#: 16 (MAX_MESSAGE_FRAMES in state.h) and refuses a patient whose facts would fill a 17th (error
#: 304, while deciding, not when it builds the network): `any of [...]` 16 filtered histories,
#: each a node of its own, joined 16 node facts and the record's. A rule also joins its record
#: fact and may join an end marker: 14 are left for nodes.
JOINS_PER_RULE = 14
#: Rules in a network: the engine holds at most 4,096 actions (MAX_ACTIONS in rete.c) and refuses
#: more when it builds the network (error 106); two counts of 700 lab thresholds met it.
RULES_PER_NETWORK = 4096


def spread_ends(rules: dict[str, dict]) -> dict[int, list[int | str]]:
    """Each stratum's end markers: the rules waiting for one, in file order, `RULES_PER_END` to a
    marker, those past the first marker's share rewritten to wait for one of their own (stratum 2's
    second is `{s: "2/1"}`). The host asserts a stratum's markers together, so its rules fire as
    they would at one marker; a network within the limit keeps its one marker (and its digest)."""
    waiting: dict[int, int] = {}
    ends: dict[int, list[int | str]] = {}
    for rule, body in rules.items():
        for place, pattern in enumerate(body["all"]):
            end = pattern.get("e")
            if end is None or end["$and"][0] != {"t": "end"}:
                continue
            level = end["$and"][1]["s"]
            share = waiting[level] = waiting.get(level, -1) + 1
            if share < RULES_PER_END:
                continue
            marker = f"{level}/{share // RULES_PER_END}"
            markers = ends.setdefault(level, [level])
            if markers[-1] != marker:
                markers.append(marker)
            patterns = list(body["all"])  # the pattern may be shared with other rules
            patterns[place] = {"e": {"$and": [{"t": "end"}, {"s": marker}]}}
            rules[rule] = {**body, "all": patterns}
    return ends


def within_engine(rules: dict[str, dict], actions: dict[str, Action]) -> None:
    """Raise `TooWide` at the first rule past what the engine builds: more than
    `RULES_PER_NETWORK` rules, or tests that would take one node of the alpha network past
    `TESTS_PER_NODE` tests below it (a pattern's tests in `$and` are a path of alpha nodes, each
    test one node below the path before it)."""
    if len(rules) > RULES_PER_NETWORK:
        past = actions[list(rules)[RULES_PER_NETWORK]]
        raise TooWide("", past.line or 1, "network-limit/total", rules=len(rules),
                      limit=RULES_PER_NETWORK)
    below: dict[tuple[str, ...], set[str]] = {}
    for rule, body in rules.items():
        for pattern in body["all"]:
            for tests in pattern.values():
                path: tuple[str, ...] = ()
                for test in tests.get("$and", ()) if isinstance(tests, dict) else ():
                    written = json.dumps(test, sort_keys=True)
                    seen = below.setdefault(path, set())
                    seen.add(written)
                    if len(seen) > TESTS_PER_NODE:
                        raise TooWide("", actions[rule].line, "network-limit/fan-out",
                                      limit=TESTS_PER_NODE)
                    path += (written,)


def fits(k: Kleene, rules: int, unrecorded: int) -> bool:
    """Whether a node decided by `k` takes at most `rules` rules on the record (as
    `engine/rules.py`'s `conclusions` and `open_rules` make them) and tests at most
    `unrecorded` fields for not being recorded (`$nex`)."""
    if not joins_fit(k):
        return False
    patterns = [pattern for pattern, _ in (*k.t, *k.f)] + [k.d, k.nd]
    if sum(_unrecorded(P.to_json(p)) for p in patterns if not isinstance(p, P.Const)) > unrecorded:
        return False
    left = rules  # each pattern split only as far as the rules left allow: past them it fails
    try:
        for pattern in patterns:
            if pattern != P.FALSE:
                left -= len(P.split(pattern, min(left, P.MAX_PARTS)))
    except P.TooLarge:
        return False
    return True


def joins_fit(k: Kleene) -> bool:
    """Whether each rule deciding by `k` joins at most `JOINS_PER_RULE` node facts."""
    return all(len(joins) <= JOINS_PER_RULE for _, joins in (*k.t, *k.f))


class TooWide(Exception):
    """One node (a criterion, definition or derived value) is larger than the engine holds: more
    rules on its record fact than `RULES_PER_NODE`, or a condition of it needing more rules than
    a network holds (`patterns.MAX_PARTS`); or, with no node named, the network goes past what the
    engine builds at `line` (`within_engine`). `engine/pipeline.py` reports it at the node, or
    the line, as the diagnostic `kind` with `info`."""

    def __init__(self, node: str, line: int, kind: str, **info: int) -> None:
        super().__init__(node, line, kind)
        self.node, self.line, self.kind, self.info = node, line, kind, info
        #: Every node found too large, this one among them, so that `check` reports each.
        self.every = [self]

    @staticmethod
    def of(found: list[TooWide]) -> TooWide:
        """One exception for every node in `found`, in the file's order."""
        ordered = sorted(found, key=lambda wide: wide.line)
        ordered[0].every = ordered
        return ordered[0]


def held(node: str, line: int, generated) -> list:
    """A node's rules, all generated now, so that a condition of it too large for the engine is
    reported as the node's."""
    try:
        return list(generated)
    except P.TooLarge:
        raise TooWide(node, line, "network-limit/split", limit=P.MAX_PARTS) from None


def group_record_patterns(rules: dict[str, dict], actions: dict[str, Action],
                          slices: set[str]) -> tuple[dict[str, set[str]], list[str]]:
    """Pack the nodes' record patterns into facts of at most `RULES_PER_FACT` rules (and
    `NEX_PER_FACT` tests of a field not recorded), in file order,
    rewrite each pattern's `g` test to its fact's group, and return the fields each group reads
    (those its patterns test, and those an action's computation reads beside them: a derived
    value's input known only within bounds), and the groups read by `slices` only (nodes whose
    rules may all miss a record, for `engine/compile.py`'s `_handled`)."""
    per_node: dict[str, list[dict]] = {}
    lines: dict[str, int] = {}
    read: dict[str, set[str]] = {}  # per node, the fields its actions read
    for rule, body in rules.items():
        for pattern in body["all"]:
            if "p" in pattern:
                node = pattern["p"]["$and"][1]["g"]  # the node's own slice (compile's `_record`)
                per_node.setdefault(node, []).append(pattern["p"])
                lines.setdefault(node, actions[rule].line)
                read.setdefault(node, set()).update(getattr(actions[rule].compute, "fields", ()))
    groups: dict[str, set[str]] = {}
    matched: set[str] = set()  # groups some node's rules always match (its open rules)
    group, size, unrecorded = "", RULES_PER_FACT, 0
    too_wide = [TooWide(node, lines[node], "network-limit/rules", rules=len(patterns),
                        limit=RULES_PER_NODE)
                for node, patterns in per_node.items() if len(patterns) > RULES_PER_NODE]
    if too_wide:
        raise TooWide.of(too_wide)
    for node, patterns in per_node.items():
        tests = sum(_unrecorded(pattern) for pattern in patterns)
        if size + len(patterns) > RULES_PER_FACT or unrecorded + tests > NEX_PER_FACT:
            group, size, unrecorded = f"g{len(groups)}", 0, 0
            groups[group] = set()
        size += len(patterns)
        unrecorded += tests
        if node not in slices:
            matched.add(group)
        groups[group] |= read[node]
        for pattern in patterns:
            conjuncts = pattern["$and"]
            conjuncts[conjuncts.index({"g": node})] = {"g": group}
            groups[group] |= fields_of(pattern) - {"t", "g"}
    return groups, [group for group in groups if group not in matched]


def _unrecorded(condition: Any) -> int:
    """How many tests of a field not recorded (`$nex`) a durable_rules condition makes."""
    return json.dumps(condition).count('"$nex"')


def fields_of(condition: Any) -> set[str]:
    """The record fields a durable_rules condition reads, including `$m` references."""
    found: set[str] = set()
    if isinstance(condition, list):
        for item in condition:
            found |= fields_of(item)
    elif isinstance(condition, dict):
        for key, value in condition.items():
            if key in ("$and", "$or"):
                found |= fields_of(value)
            elif key in ("$iany", "$iall"):
                ((name, inner),) = value.items()
                found |= {name} | {f for f in fields_of(inner) if not f.startswith("$i.")}
            elif key in ("$gte", "$gt", "$lte", "$lt", "$neq", "$ex", "$nex"):
                ((name, operand),) = value.items()
                found.add(name)
                if isinstance(operand, dict) and "$m" in operand:
                    found.add(operand["$m"])
            else:
                found.add(key)
    return {f for f in found if not f.startswith("$i.")}
