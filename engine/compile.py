"""Compile a checked protocol into a durable_rules ruleset: the rule network that decides.

The network, per patient:

1. one *record* (laid out by engine/record.py, filled by engine/facts.py) holds every referenced
   concept, already in its declared unit, cut into facts per group of nodes;
2. each used definition has four rules on the record (and on the facts of definitions it uses) that
   assert exactly one derived fact `{t: d, n: name, v: T|F|U|R}` (R: open only for a pending judgment);
   each used derived value has one rule per way of deciding its formula, whose action computes the
   number `{t: d, n: name, v: N, q: 66.454545}`, and U/R rules like a definition's
   (engine/atoms/derived.py); definitions and derived values are compiled in dependency order;
3. each leaf criterion has five rules, one per verdict (MET, NOT_MET, UNKNOWN, NOT_APPLICABLE,
   NEEDS_REVIEW), whose patterns are mutually exclusive, so exactly one fires and asserts the verdict
   fact `{t: v, c: id, role, verdict}`; a criterion using definitions gets one such rule set per
   combination of their values, joined with the derived facts (forward chaining);
4. after the agenda is empty the host asserts an end marker, and three decision rules turn the
   verdict facts into ELIGIBLE, INELIGIBLE (one firing per disqualifying verdict) or NEEDS_REVIEW (one
   firing per open verdict).

Strong Kleene logic is compiled into the patterns (engine/kleene.py): every sub-condition gets a
"true", a "false" and an "unknown" pattern, so a missing value is never read as absent and no Python
decides beside the network. Each kind of condition compiles in its own atom class (engine/atoms/);
this module assembles what they give into rules, and engine/fitting.py fits those rules within what
the engine holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from engine import atoms, fitting
from engine import patterns as P
from engine import record as R
from engine.atoms import derived
from engine.items import HIT, hit_of, item_tests, plain_items, some_item
from engine.kleene import (
    KNOWN,
    KNOWN_TRUE,
    NEVER,
    Kleene,
    Terms,
    both,
    conjunction,
    disjunction,
    joined,
    missing_list,
    not_void,
    recorded_list,
)
from engine.record import Layout
from engine.rules import NO_END, conclusions, end_marker, open_rules, record_slice, rule_body
from protocol import model as m

VERDICTS = ("MET", "NOT_MET", "UNKNOWN", "NOT_APPLICABLE", "NEEDS_REVIEW")


@dataclass(frozen=True)
class Action:
    """What a rule concludes when it fires; the host reads `fact`, the trail reads the rest."""

    rule: str
    kind: str  # "derived" | "hit" | "verdict" | "decision"
    target: str  # definition name, criterion id, or "patient"
    value: str
    line: int
    role: str | None = None
    #: For a derived value or a hit: computes the fact from the facts the firing matched (see
    #: host.py).
    compute: Callable[[dict], dict] | None = field(default=None, compare=False, repr=False)
    #: For a hit that names what it counts once without computing it (an item of `at least k of
    #: [...]`, `_Compiler.count_of`): that name, its fact's `c`.
    key: str | None = None

    @property
    def fact(self) -> dict | None:
        if self.kind == "derived":
            return {"t": "d", "n": self.target, "v": self.value}
        if self.kind == "hit":  # without `key`, `compute`'s (`hit_of`) less the item it names
            if self.key is None:
                return {"t": HIT, "n": self.target, "v": self.value}
            return {"t": HIT, "n": self.target, "c": self.key, "v": self.value}
        if self.kind == "verdict":
            return {"t": "v", "c": self.target, "role": self.role, "verdict": self.value}
        return None


@dataclass
class Network:
    """A compiled protocol: the durable_rules ruleset definition plus what the run and trail need."""

    protocol: m.Protocol
    name: str
    rules: dict[str, dict]
    actions: dict[str, Action]
    layout: Layout
    definitions: list[str]
    leaves: list[m.Criterion]
    #: Each stratum's end markers (`s`), asserted together after the facts concluded before them.
    ends: tuple[tuple[int | str, ...], ...]
    fields: dict[str, tuple[str, ...]]
    digest: str = field(default="")
    values: list[str] = field(default_factory=list)  # derived values, in dependency order
    #: Lists whose items are counted (`at least 2 chemo ...`): each item becomes a fact of its own
    #: per group of counting nodes (named `<list>#<n>`), with the record fields beside its own that
    #: the group's tests compare with (the window's days): group -> (list, fields).
    items: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def facts(self, sid: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        """A patient's record cut into one fact per group of nodes (definitions, criteria), each
        holding only the fields its rules read: one wide record read by every rule overflows the
        engine's alpha stack (`fitting.RULES_PER_FACT`); narrow facts also make less JSON to
        match."""
        facts = []  # built field by field: one dict per group, for every patient
        for group, fields in self.fields.items():
            fact = {"t": "p", "g": group, "sid": sid}
            for name in fields:
                if name in record:
                    fact[name] = record[name]
            facts.append(fact)
        for group, (name, fields) in self.items.items():
            for index, item in enumerate(record.get(name) or ()):
                facts.append(R.item_fact(sid, group, index, item, record, fields))
        return facts

    def ruleset(self) -> dict[str, dict]:
        """The engine's own definition `{name: {rule: {'all': [...], 'run': action}}}`."""
        return {self.name: {rule: {**body, "run": self.actions[rule]} for rule, body in self.rules.items()}}


def compile_protocol(protocol: m.Protocol) -> Network:
    """Compile a checked protocol into a `Network` (built once per process, no patient state).

    >>> from grammar.parser import parse
    >>> net = compile_protocol(parse('protocol "t"\\nconcepts: egfr: quantity in mL/min\\n'
    ...     'inclusion I1 "Kidneys": egfr >= 30 mL/min', "t.proto-rules"))
    >>> sorted({a.value for a in net.actions.values() if a.kind == "verdict"})
    ['MET', 'NEEDS_REVIEW', 'NOT_MET', 'UNKNOWN']
    """
    compiler = _Compiler(protocol)
    rules: dict[str, dict] = {}
    actions: dict[str, Action] = {}

    too_wide: list[fitting.TooWide] = []  # every node too large, so that each is reported

    def add(generated) -> None:
        for rule, body, action in generated:
            rules[rule], actions[rule] = body, action

    def add_node(node: str, line: int, generated) -> None:
        try:
            add(fitting.held(node, line, generated))
        except fitting.TooWide as wide:
            too_wide.append(wide)

    for name in compiler.used_nodes:
        definition = protocol.definition(name)
        if definition is not None:
            add_node(name, definition.span.line, compiler.definition_rules(definition))
        else:
            concept = compiler.concepts[name]
            add_node(name, concept.span.line, compiler.value_rules(concept))
    for leaf in protocol.leaves():
        add_node(leaf.id, leaf.span.line, compiler.criterion_rules(leaf))
    add(compiler.hidden_rules)
    final = max(compiler.stratum.values(), default=0) + 1
    try:
        fields, unmatched = fitting.group_record_patterns(rules, actions, compiler.slices)
    except fitting.TooWide as wide:
        too_wide.extend(wide.every)
    if too_wide:
        raise fitting.TooWide.of(too_wide)
    add(_handled(unmatched))
    add(_decision_rules(final))
    ends = fitting.spread_ends(rules)
    fitting.within_engine(rules, actions)
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()
    name = f"{protocol.id or 'protocol'}@{protocol.version or '0'}#{digest[:12]}"
    return Network(
        protocol=protocol,
        name=name,
        rules=rules,
        actions=actions,
        layout=compiler.layout,
        definitions=compiler.used_definitions,
        leaves=protocol.leaves(),
        ends=tuple(tuple(ends.get(level, (level,))) for level in range(final + 1)),
        fields={node: tuple(sorted(names)) for node, names in fields.items()},
        digest=digest,
        values=[name for name in compiler.used_nodes if name not in compiler.used_definitions],
        items={group: (group.split("#")[0], tuple(sorted(names)))
               for group, names in compiler.items.items()},
    )


class _Compiler:
    def __init__(self, protocol: m.Protocol) -> None:
        self.protocol = protocol
        self.concepts = {c.name: c for c in protocol.concepts}
        self.layout = Layout()
        self.stratum: dict[str, int] = {}
        self.hidden_rules: list[tuple[str, dict, Action]] = []
        self.used_nodes = self._used_nodes()
        self.used_definitions = [n for n in self.used_nodes if protocol.definition(n) is not None]
        self.items: dict[str, set[str]] = {}  # item-fact group -> record fields it reads
        self._item_budget: dict[str, int] = {}  # item-fact group -> patterns reading it
        #: The record slices whose rules may all miss a record: those of `at least k of`'s
        #: conditions, and of possibility nodes.
        self.slices: set[str] = set()
        self.valued = frozenset(c.name for c in protocol.concepts if c.kind is m.Kind.DERIVED)
        #: The lists read as whole only with their own facts (`kleene.listed`'s `whole`): those
        #: others count as, unless what is compiled reads only what is known (`known_only`).
        self.wholes = protocol.narrowed

    def _used_nodes(self) -> list[str]:
        """Definitions and derived values some criterion needs, directly or through others, in
        dependency order."""
        import networkx as nx  # noqa: PLC0415 -- when a network is compiled: a trail's readers
        # import this module, and need no graph

        graph = nx.DiGraph()
        for definition in self.protocol.definitions:
            graph.add_node(definition.name)
            for name in self._node_refs(definition.condition):
                graph.add_edge(name, definition.name)
        for concept in self.protocol.concepts:
            if concept.formula is not None:
                graph.add_node(concept.name)
                for name in self._formula_refs(concept.formula):
                    graph.add_edge(name, concept.name)
        needed: set[str] = set()
        for leaf in self.protocol.leaves():
            for condition in (leaf.applies, leaf.condition):
                for name in self._node_refs(condition):
                    needed |= {name} | nx.ancestors(graph, name)
        order = list(nx.lexicographical_topological_sort(graph))
        return [name for name in order if name in needed]

    def _node_refs(self, condition: m.Condition | None) -> list[str]:
        """The nodes a condition joins: definitions it names, derived values it compares."""
        if condition is None:
            return []
        names = [a.ref.name for a in m.atoms(condition)
                 if isinstance(a, m.Truth) or self._is_derived(a.ref.name)]
        return sorted({n for n in names
                       if self.protocol.definition(n) is not None or self._is_derived(n)})

    def _formula_refs(self, formula: m.Expr) -> list[str]:
        """The nodes a formula joins: derived values it reads, and those its conditions join."""
        found = {n for n in m.formula_names(formula) if self._is_derived(n)}
        for node in m.subexpressions(formula):
            if isinstance(node, m.Choice):
                found |= set(self._node_refs(node.condition))
        return sorted(found)

    def _is_derived(self, name: str) -> bool:
        concept = self.concepts.get(name)
        return concept is not None and concept.kind is m.Kind.DERIVED

    def _stratum_of(self, uses: frozenset[str]) -> int:
        """A node is settled one end marker after every definition it uses is settled."""
        return 1 + max((self.stratum[name] for name in uses), default=-1)

    # -- rules --------------------------------------------------------------------------------------
    def definition_rules(self, definition: m.Definition):
        yield from self._decided(definition.name, definition.span.line,
                                 self.kleene(definition.condition))

    def _decided(self, node: str, line: int, k: Kleene):
        """The rules of a node decided by `k`, a definition or a cut part of a large condition:
        T or F by its patterns, U or R at its end marker when neither was concluded."""
        self.stratum[node] = level = self._stratum_of(k.uses)
        make = lambda value, rule: Action(rule, "derived", node, value, line)  # noqa: E731
        own = {"$and": [{"t": "d"}, {"n": node}]}
        yield from conclusions(node, f"d:{node}", {"T": k.t, "F": k.f}, make)
        yield from open_rules(node, f"d:{node}", level, own, k, {"U": "U", "R": "R"}, make,
                               self.valued)

    def value_rules(self, concept: m.Concept):
        """A derived value's node: one rule per way of deciding its formula, whose action computes
        the number; U or R at its end marker when none fired (engine/atoms/derived.py)."""
        node = derived.compile_node(concept, self)
        name, line = concept.name, concept.span.line
        for case, condition in node.cases:  # each before the value, which reads their facts
            self.hidden_rules.extend(self._decided(case, line, condition))
        self.stratum[name] = level = self._stratum_of(node.open.uses)
        make = lambda value, rule: Action(rule, "derived", name, value, line)  # noqa: E731
        index = 0
        for way in node.ways:
            for pattern, joins in way.terms:
                for part in P.split(pattern):
                    rule = f"q:{name}:{KNOWN}{way.bits}#{index}"
                    index += 1
                    yield rule, rule_body(name, joins, part), Action(
                        rule, "derived", name, KNOWN, line, compute=way.compute)
        own = {"$and": [{"t": "d"}, {"n": name}]}
        yield from open_rules(name, f"q:{name}", level, own, node.open, {"U": "U", "R": "R"}, make,
                               self.valued)

    def criterion_rules(self, leaf: m.Criterion):
        """MET, NOT_MET, NOT_APPLICABLE as the applies-when and the condition decide them; then,
        at the criterion's end marker, with nothing concluded, UNKNOWN or NEEDS_REVIEW.

        An applies-when left open (its data missing, a judgment pending) beside a condition
        that passes (an inclusion's true, an exclusion's false) passes either way, as strong
        Kleene logic reads "applies -> condition" (inclusion) and "applies and condition"
        (exclusion): a woman whose childbearing potential is not recorded, with a negative
        pregnancy test, meets "negative pregnancy test, for women of childbearing potential".
        That passing verdict is concluded at the end marker, when the applies-when is settled
        (false would have been NOT_APPLICABLE), and the open ones one marker later."""
        a = self.kleene(leaf.applies) if leaf.applies is not None else KNOWN_TRUE
        c = self.kleene(leaf.condition)
        uses = a.uses | c.uses
        self.stratum[leaf.id] = level = self._stratum_of(uses)
        either_open = Kleene(NEVER, NEVER, P.any_of(a.d, c.d), P.all_of(a.nd, c.nd), uses)
        role = leaf.role.value
        make = lambda value, rule: Action(rule, "verdict", leaf.id, value, leaf.span.line, role)  # noqa: E731
        outcomes = {"MET": both(a.t, c.t), "NOT_MET": both(a.t, c.f), "NOT_APPLICABLE": a.f}
        own = {"$and": [{"t": "v"}, {"c": leaf.id}]}
        yield from conclusions(leaf.id, f"v:{leaf.id}", outcomes, make)
        if leaf.applies is not None:
            passed = "MET" if leaf.role is m.Role.INCLUSION else "NOT_MET"
            end = end_marker(level)
            index = 0
            for pattern, joins in (c.t if passed == "MET" else c.f):
                for part in P.split(pattern):
                    rule = f"v:{leaf.id}:{passed}:either#{index}"
                    index += 1
                    yield rule, {"all": [end, {"o$not": own}, *rule_body(leaf.id, joins, part)[
                        "all"]]}, make(passed, rule)
            self.stratum[leaf.id] = level = level + 1
        yield from open_rules(leaf.id, f"v:{leaf.id}", level, own, either_open,
                               {"U": "UNKNOWN", "R": "NEEDS_REVIEW"}, make, self.valued)

    # -- conditions ---------------------------------------------------------------------------------
    def kleene(self, condition: m.Condition) -> Kleene:
        """When a condition is true and when false, in strong Kleene logic."""
        kind = atoms.of(condition)
        if kind is not None:
            name = getattr(condition, "ref", None) and condition.ref.name
            if name and self.protocol.definition(name) is None and not self._is_derived(name):
                self.layout.read(self.concepts[name])
            return kind.compile(condition, self)
        if isinstance(condition, m.Not):
            return self.kleene(condition.item).negated()
        items = [self.kleene(i) for i in condition.items]
        if isinstance(condition, m.AtLeast):
            # `any of [...]` is a disjunction, `all of [...]` a conjunction: cut as they are
            combine = {1: disjunction, len(items): conjunction}.get(condition.count)
            if combine is None:
                return self.count_of(condition, items)
        else:
            combine = conjunction if isinstance(condition, m.And) else disjunction
        whole = combine(items)
        if fitting.fits(whole, fitting.RULES_PER_NODE, fitting.NEX_PER_FACT):
            return whole
        return self._cut(condition, combine, items)

    @contextmanager
    def known_only(self, name: str) -> Iterator[None]:
        """Compile what reads only what is recorded of the list `name` (`no known x`, `known x`:
        the open world), as whole with whatever items it has, however they were given; another
        list it reads (`no known progression during any imid`) is read as any list is."""
        wholes, self.wholes = self.wholes, self.wholes - {name}
        try:
            yield
        finally:
            self.wholes = wholes

    def _cut(self, condition: m.And | m.Or | m.AtLeast, combine,
             items: list[Kleene]) -> Kleene:
        """A conjunction or disjunction too large for one node of the engine (its rules on the
        record beyond `fitting.RULES_PER_NODE`, e.g. 17 lab thresholds, each a value that may be
        known only within bounds, or its tests of fields not recorded beyond
        `fitting.NEX_PER_FACT`, e.g. 130 flags), cut into runs of its items, each small enough
        to share a record fact and a node of its own, decided as a definition is: what an author
        was told to write by hand. Unlike a definition's, a run's missing data is the whole's
        (`_missing`): a run true by one side of an `or` whose other side is not recorded leaves
        the whole UNKNOWN, not NEEDS_REVIEW, when a judgment is pending too. A protocol that fits
        is compiled as before."""
        whole = f"{type(condition).__name__.lower()}@{condition.span.line}:{condition.span.column}"
        decided: list[tuple[str, Kleene]] = []
        cut = self._runs(f"{whole}#", condition.span.line, combine, items, decided)
        k, level = combine(cut), 1
        while not fitting.joins_fit(k):  # more runs than a rule joins: runs of the runs
            runs = self._runs(f"{whole}#{level}.", condition.span.line, combine, cut, decided)
            if len(runs) == len(cut):  # none joined: no node was made, and none can be
                break
            cut, level = runs, level + 1
            k = combine(cut)
        return replace(k, uses=k.uses | self._missing(whole, condition.span.line, decided))

    def _runs(self, named: str, line: int, combine, items: list[Kleene],
              decided: list[tuple[str, Kleene]]) -> list[Kleene]:
        """`items` cut into runs that each fit a node (`_cut`), each run of two or more decided
        by a node of its own, named `named` and its place (added to `decided`)."""
        runs: list[list[Kleene]] = [[]]
        for item in items:
            if runs[-1] and not fitting.fits(combine([*runs[-1], item]),
                                             fitting.RULES_PER_FACT, fitting.NEX_PER_FACT // 4):
                runs.append([])
            runs[-1].append(item)
        cut = []
        for index, run in enumerate(runs):
            if len(run) == 1:
                cut.append(run[0])
                continue
            node = f"{named}{index}"
            self.hidden_rules.extend(self._decided(node, line, combine(run)))
            cut.append(joined(node))
            decided.append((f"{node}!", combine(run)))
        return cut

    def count_of(self, condition: m.AtLeast, items: list[Kleene]) -> Kleene:
        """`at least k of [c1, ..., cn]` (1 < k < n) counted by the engine, as `at least N x`
        counts items: not its C(n, k) conjunctions, whose rules grew past what one node holds
        at 3 of 8 lab thresholds.

        Each condition is a slice of the record of its own (`<node>#i`, packed into record facts
        as any node's), whose rules assert a hit `{t: h, n: node, c: <node>#i, v: T}` when it is
        true and one with `v: F` when it is false; a rule with the engine's `count` k concludes
        the node true, one with count n - k + 1 false. Neither fires when it stays open, and the
        node concludes nothing then: what reads it is open too. Whether open for missing data
        (UNKNOWN) or for a judgment (NEEDS_REVIEW) is as the expansion said, whatever the count:
        UNKNOWN when some condition reads data not recorded (its `d`, even one decided without
        it) or joins a node that is unknown. That is a node of its own, `<node>!`, concluded
        unknown by those rules (`_missing`), which what reads the count uses as it uses a
        definition. Both are settled once the nodes the conditions join are, before any end
        marker of their own.
        """
        count, line = condition.count, condition.span.line
        node = f"{count}of{len(items)}@{line}:{condition.span.column}"
        parts = [(f"{node}#{index}", item) for index, item in enumerate(items)]
        for part, item in parts:
            self.slices.add(part)

            def hit(value: str, rule: str, part: str = part) -> Action:
                return Action(rule, "hit", node, value, line, key=part)
            self.hidden_rules.extend(conclusions(part, f"d:{part}", {"T": item.t, "F": item.f},
                                                  hit))
        missing = self._missing(node, line, parts)
        self.stratum[node] = self.stratum[f"{node}!"]
        for value, needed in (("T", count), ("F", len(items) - count + 1)):
            rule = f"d:{node}:{value}#count"
            hits = {"h": {"$and": [{"t": HIT}, {"n": node}, {"v": value}]}}
            self.hidden_rules.append((rule, {"count": needed, "all": [hits]},
                                      Action(rule, "derived", node, value, line)))
        # what reads the node may never read one of its values (`x and not x` drops it), and
        # the engine refuses a fact no rule matches: one that matches both and never fires
        rule = f"d:{node}:read"
        self.hidden_rules.append((rule, {"all": [NO_END,
                                                 {"d": {"$and": [{"t": "d"}, {"n": node}]}}]},
                                  Action(rule, "derived", node, "T", line)))
        t = ((P.TRUE, frozenset({(node, "T")})),)
        f = ((P.TRUE, frozenset({(node, "F")})),)
        return Kleene(t, f, P.FALSE, P.TRUE, missing)

    def _missing(self, node: str, line: int, parts: list[tuple[str, Kleene]]) -> frozenset[str]:
        """`<node>!`, concluded unknown when a condition of `parts` (each read on its record
        slice) reads data not recorded (its `d`) or joins a node that is unknown: what a node
        that decides although data is missing (a count, a cut part true by one side of an `or`)
        leaves to what reads it, so that a criterion open for a judgment as well is UNKNOWN, as
        the condition would be in one node, whatever its size. The uses to add to what reads
        the node: none when nothing it reads may be missing."""
        missing = f"{node}!"
        uses = frozenset().union(*(k.uses for _, k in parts))
        self.stratum[missing] = max((self.stratum[name] for name in uses), default=-1)
        unknown = partial(Action, kind="derived", target=missing, value="U", line=line)
        opens = bool(uses)
        for part, k in parts:
            for piece, pattern in enumerate(P.split(k.d) if k.d != P.FALSE else []):
                rule = f"d:{part}:U#{piece}"
                self.hidden_rules.append((rule, {"all": [record_slice(part, pattern)]},
                                          unknown(rule)))
                self.slices.add(part)
                opens = True
        for name in sorted(uses):
            rule = f"d:{missing}:U@{name}"
            self.hidden_rules.append((rule, {"all": [
                {"x": {"$and": [{"t": "d"}, {"n": name}, {"v": "U"}]}}]}, unknown(rule)))
        return frozenset({missing}) if opens else frozenset()

    def hidden(self, atom: m.Occurred | m.Course, yes: P.Pattern, undecided: P.Pattern,
               decided: P.Pattern, needs: P.Pattern = P.TRUE,
               possible: P.Pattern | None = None, void: P.Pattern = P.FALSE,
               suffix: str = "") -> Kleene:
        """A list atom whose "no" would test two fields of an item at once: durable_rules gets
        `$or` across item fields wrong (only the last field's test counts), so the atom becomes a
        node of its own. True when some item says yes; at its end marker, false when the list is
        recorded and no item is undecided, unknown otherwise. Undecided items (a course whose dose
        could not be computed) are kept in `<name>__undosed`; `undecided`/`decided` test that list.
        `needs` is what the item test reads beside the list (a window's anchor day).

        `suffix` tells apart two nodes of one atom. `void` holds when the anchor can never exist
        (no course of the therapy it is the end of): false then, whatever the list.

        `possible`, when an item's days or length are known only within bounds, is what an item
        that may say yes meets: a second node (`<node>?`, true when some item may, concluded
        with the record's own rules), and the atom is unknown rather than false while it is true.
        """
        name = atom.ref.name
        node = f"{name}@{atom.span.line}:{atom.span.column}{suffix}"
        level = 0
        opened = P.FALSE
        if possible is not None and possible != yes:
            maybe = f"{node}?"
            self._node(maybe, atom.span.line, 0, some_item(name, possible, needs),
                       {})
            opened = maybe
        self._node(node, atom.span.line, level, some_item(name, yes, needs),
                   self._settled(name, decided, undecided, void), opened)
        return joined(node)

    def agreed(self, atom: m.OfLatest, fails: P.Pattern, passes: P.Pattern,
               undecided: P.Pattern, decided: P.Pattern, needs: P.Pattern) -> Kleene:
        """Every item that counts passes, where which items count is uncertain (the items that may
        be the most recent): true when no item may fail (`fails`) and some may pass (`passes`);
        false when none may pass; unknown when they disagree or one is undecided, which is data
        the record lacks, never a pending judgment.

        Two hidden nodes, some item that may fail (`<node>-`) and some item that may pass
        (`<node>+`), and a node of its own a stratum above them: true when the first is false and
        the second true; at its end marker, false as `hidden` settles, unknown while the second is
        true (read as a possibility node)."""
        failing = self.hidden(atom, fails, undecided, decided, needs, suffix="-")
        passing = self.hidden(atom, passes, undecided, decided, needs, suffix="+")
        (opened,) = passing.uses
        node = opened.removesuffix("+")
        self._node(node, atom.span.line, 1, both(failing.f, passing.t),
                   self._settled(atom.ref.name, decided, undecided, P.FALSE), opened)
        return joined(node)

    def counted(self, atom: m.Counted, yes: P.Pattern, undecided: P.Pattern,
                decided: P.Pattern, needs: P.Pattern, possible: P.Pattern,
                void: P.Pattern = P.FALSE, suffix: str = "") -> Kleene:
        """`at least N ...`: N distinct items meet `yes`, counted by the engine itself.

        Each item of a counted list is a fact of its own (`t: i`, its list, its index `k`, and the
        record fields its tests read). An item that meets the test asserts a hit
        (`items.hit_of`), and a
        rule with the engine's own `count` N concludes the node true once N hits are there. Not a
        rule joining N items: its partial matches grow as C(items, N), for minutes, and a frame of
        the engine holds at most 16 facts (error 304). `suffix` tells apart two nodes of one atom.
        Like `hidden`: a possibility node (N hits
        of items that may meet `possible`) settles first; the atom is false when the list is
        recorded (and its window decided) and that node is not true, unknown otherwise.

        Counted by an attribute (`at least 2 lines of ...`), a hit is keyed by the item's value,
        so items of one line make one hit: the engine's facts are a set. An item that does not
        record it surely adds no value, but may add one: a hit of its own, keyed by its index."""
        name = atom.ref.name
        node = f"{name}#{atom.count}@{atom.span.line}:{atom.span.column}{suffix}"
        maybe = f"{node}?"
        attribute = atom.attribute(self.concepts[name])
        by = None if attribute is None else R.attribute_field(attribute.name)
        hits = {maybe: item_tests(possible, needs), node: item_tests(yes, needs, by)}
        return self._count_node(name, node, atom.span.line, atom.count, by, hits,
                                (yes, possible, needs), decided, undecided, maybe, void)

    def paired(self, atom: m.Occurred, other: str, yes: P.Pattern, possible: P.Pattern,
               kept: tuple[P.Pattern, P.Pattern] = (P.TRUE, P.TRUE)) -> Kleene:
        """Some item of `atom`'s list meets `yes` beside some item of the list `other` (its
        fields read as `{"y": field}`) that surely passes its filter (`kept`: what an item of
        `other` surely passes, and may pass), and may where it meets `possible` beside one that
        may pass it (`x during any y`, `x during any y where ...`).

        Each pair is a rule joining two item facts, the other list's first, one per alternative
        of the tests: durable_rules gets an `$or` wrong in a pattern that reads another fact
        (it matches whatever the tests after it say). Like `counted`: a possibility node
        settles first; at the end marker the node is false when either list is recorded as
        none, or both are recorded and no pair may meet it; unknown when either is not recorded
        (and neither is none)."""
        name, line = atom.ref.name, atom.span.line
        node = f"{name}~{other}@{line}:{atom.span.column}"
        maybe = f"{node}?"
        tests = {target: [(passes, plain_items(P.to_json(alternative)))
                          for passes in ([None] if passed == P.TRUE else [
                              plain_items(P.to_json(a)) for a in P.alternatives(passed)])
                          for alternative in P.alternatives(pattern)]
                 for target, pattern, passed in ((maybe, possible, kept[1]), (node, yes, kept[0]))}
        size = sum(len(alternatives) for alternatives in tests.values())
        mine, theirs = self._item_group(name, size, node), self._item_group(other, size, node)
        for target, alternatives in tests.items():
            for index, (passes, test) in enumerate(alternatives):
                rule = f"d:{target}:pair#{index}"
                self.hidden_rules.append((rule, {"cap": PAIRS, "all": [
                    {"y": {"$and": [{"t": R.ITEM_FACT}, {R.LIST: theirs},
                                    *([passes] if passes is not None else [])]}},
                    {"x": {"$and": [{"t": R.ITEM_FACT}, {R.LIST: mine}, test]}}]},
                    Action(rule, "derived", target, "T", line)))
        self._node(maybe, line, 0, (), {})
        nones = [P.test("==", R.none_field(n), 1) for n in (name, other)]
        self._node(node, line, 0, (), {
            "F": [P.any_of(*nones, P.all_of(*(recorded_list(n, n in self.wholes)
                                               for n in (name, other))))],
            "U": [P.all_of(*(P.test("$nex", R.none_field(n), 1) for n in (name, other)),
                           P.any_of(*(missing_list(n, n in self.wholes)
                                      for n in (name, other))))]}, maybe)
        return joined(node)

    def counted_drugs(self, node: m.AtLeast, name: str, drugs: tuple[str, ...]) -> Kleene:
        """`X includes at least k of {...}`: k distinct drugs of the set among the list's
        courses, counted by the engine as `counted` counts items by an attribute (a hit per drug
        of the set taken). A course always names its drug: true or, once the list is recorded,
        false; unknown only when nothing is recorded."""
        counting = f"{name}#{node.count}of@{node.span.line}:{node.span.column}"
        taken = P.any_of(*(P.test("==", R.ITEM[R.DRUG], drug) for drug in drugs))
        return self._count_node(name, counting, node.span.line, node.count, R.DRUG,
                                {counting: item_tests(taken, P.TRUE)}, (taken,))

    def _count_node(self, name: str, node: str, line: int, count: int, by: str | None,
                    hits: dict[str, list[dict]], reads: tuple[P.Pattern, ...],
                    decided: P.Pattern = P.TRUE, undecided: P.Pattern = P.FALSE,
                    maybe: str | None = None, void: P.Pattern = P.FALSE) -> Kleene:
        """A node true once `count` hits are there: one counting rule set per node of `hits`
        (the possibility node `maybe` among them), on a group of the list's item facts that
        carries the record fields the `reads` patterns read (a window's days). At its end marker
        the node is false when the list is recorded and `decided` holds, unknown otherwise."""
        group = self._item_group(name, sum(len(tests) for tests in hits.values()), node)
        for pattern in reads:
            if pattern not in (P.TRUE, P.FALSE):
                self.items[group] |= fitting.fields_of(P.to_json(pattern))
        for target, tests in hits.items():
            self.hidden_rules.extend(_counting(target, line, group, tests, count, by))
        if maybe is not None:
            self._node(maybe, line, 0, (), {})
        self._node(node, line, 0, (), self._settled(name, decided, undecided, void),
                   P.FALSE if maybe is None else maybe)
        return joined(node)

    def _settled(self, name: str, decided: P.Pattern, undecided: P.Pattern, void: P.Pattern
                 ) -> dict[str, list[P.Pattern]]:
        """A list node's end-marker values: false when the list is recorded (whole, for a list
        others count as) and `decided` holds, or when `void` does; unknown when it is not
        recorded (and not void), or `undecided` holds."""
        whole = name in self.wholes
        return {"F": [P.any_of(P.all_of(recorded_list(name, whole), decided), void)],
                "U": [P.any_of(P.all_of(missing_list(name, whole), not_void(void)), undecided)]}

    def _item_group(self, name: str, patterns: int, node: str) -> str:
        """The item facts a counting node reads: a group of the list's item facts read by at most
        `fitting.RULES_PER_FACT` patterns (the engine's alpha stack, as for record facts); a new
        group asserts the items once more, with a rule that matches them all but never fires (a
        fact no rule matches is refused)."""
        groups = [g for g in self.items if g.split("#")[0] == name]
        if groups and self._item_budget[groups[-1]] + patterns <= fitting.RULES_PER_FACT:
            self._item_budget[groups[-1]] += patterns
            return groups[-1]
        group = f"{name}#{len(groups)}"
        self.items[group], self._item_budget[group] = set(), patterns + 1
        self.hidden_rules.append((f"d:{group}:items", {"all": [
            NO_END,  # every item fact is matched
            {"i": {"$and": [{"t": R.ITEM_FACT}, {R.LIST: group}]}}]},
            Action(f"d:{group}:items", "derived", node, "T", 0)))
        return group

    def _node(self, node: str, line: int, level: int, true: Terms,
              settled: dict[str, list[P.Pattern]], opened: str | P.Pattern = P.FALSE) -> None:
        """A hidden node's rules: T when one of the `true` terms holds on the record; at end
        marker `level`, if nothing was concluded, each value of `settled` whose record pattern
        holds. With a possibility node `opened` (only ever true, concluded before any end marker),
        F also needs it not true and U follows from it being true: a rule at an end marker may
        only read facts concluded before that marker (the marker is spent by the rules it fires),
        so the possibility node is read by its absence, not by a "false" of its own. A node
        with nothing to settle (a possibility node) may match no record at all: its slice is
        one `_handled` matches when no other node's rules do."""
        self.stratum[node] = level
        if not settled:
            self.slices.add(node)
        own = {"$and": [{"t": "d"}, {"n": node}]}
        make = lambda value, rule: Action(rule, "derived", node, value, line)  # noqa: E731
        self.hidden_rules.extend(conclusions(node, f"d:{node}", {"T": true}, make))
        end = end_marker(level)
        unsettled = {"o$not": own}
        for value, patterns in settled.items():
            index = 0
            may = {"$and": [{"t": "d"}, {"n": opened}, {"v": "T"}]}
            joins = [] if opened == P.FALSE else [{"q$not": may} if value == "F" else {"q": may}]
            for pattern in patterns:
                for part in P.split(pattern) if pattern != P.FALSE else []:
                    rule = f"d:{node}:{value}#{index}"
                    index += 1
                    body = [end, unsettled, record_slice(node, part)] if part != P.TRUE else \
                        [end, unsettled]
                    self.hidden_rules.append((rule, {"all": [*body, *(
                        joins if value == "F" else [])]}, make(value, rule)))
            if value == "U" and joins:
                rule = f"d:{node}:{value}#{index}"
                self.hidden_rules.append((rule, {"all": [end, unsettled, *joins]},
                                          make(value, rule)))


def _counting(node: str, line: int, group: str, tests: list[dict], count: int, by: str | None):
    """The rules counting for `node`: one per item test, asserting the item's hit, and one that
    concludes the node true once `count` hits are there (the engine's `count`)."""
    for index, test in enumerate(tests):
        rule = f"d:{node}:hit#{index}"
        item = {"$and": [{"t": R.ITEM_FACT}, {R.LIST: group}, *([test] if test else [])]}
        yield rule, {"all": [{"i": item}]}, Action(rule, "hit", node, "T", line,
                                                    compute=partial(hit_of, node, by))
    if tests:
        rule = f"d:{node}:T#count"
        yield rule, {"count": count, "all": [{"h": {"$and": [{"t": HIT}, {"n": node}]}}]}, \
            Action(rule, "derived", node, "T", line)


#: How many pairs one firing of `paired`'s rules takes (the engine's `cap`): one firing a pair
#: is a firing for each of tens of thousands of pairs where two long lists overlap throughout.
PAIRS = 10_000


def _handled(groups: list[str]):
    """A rule for each record fact that no rule may match otherwise, which matches it and never
    fires: the engine refuses a batch with a fact no rule matches, and after that failed the
    session or crashed the process. A fact read only by the conditions of `at least k of [...]`
    needs one (a condition open for a judgment matches none of its rules), and so does one read
    only by possibility nodes (a record without an item that may count matches none)."""
    for group in groups:
        rule = f"d:{group}:record"
        yield rule, {"all": [NO_END, {"p": {"$and": [{"t": "p"}, {"g": group}]}}]}, \
            Action(rule, "derived", group, "T", 0)


def _decision_rules(level: int):
    """The patient's decision, from verdict facts only, once every criterion is settled."""
    end = end_marker(level)
    bad = {"$and": [{"t": "v"}, {"$or": [
        {"$and": [{"role": "inclusion"}, {"verdict": "NOT_MET"}]},
        {"$and": [{"role": "exclusion"}, {"verdict": "MET"}]},
    ]}]}
    open_ = {"$and": [{"t": "v"}, {"$or": [{"verdict": "UNKNOWN"}, {"verdict": "NEEDS_REVIEW"}]}]}
    bodies = {
        "INELIGIBLE": [end, {"v": bad}],
        "NEEDS_REVIEW": [end, {"b$not": bad}, {"v": open_}],
        "ELIGIBLE": [end, {"b$not": bad}, {"o$not": open_}],
    }
    for decision, body in bodies.items():
        rule = f"x:{decision}"
        yield rule, {"all": body}, Action(rule, "decision", "patient", decision, 0)


__all__ = ["compile_protocol", "Network", "Action", "VERDICTS"]
