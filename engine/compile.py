"""Compile a checked protocol into a durable_rules ruleset: the rule network that decides.

The network, per patient:

1. one *record* fact (engine/facts.py) holds every referenced concept, already in its declared unit;
2. each used definition has four rules on the record (and on the facts of definitions it uses) that
   assert exactly one derived fact `{t: d, n: name, v: T|F|U|R}` (R: open only for a pending judgment);
3. each leaf criterion has five rules, one per verdict (MET, NOT_MET, UNKNOWN, NOT_APPLICABLE,
   NEEDS_REVIEW), whose patterns are mutually exclusive, so exactly one fires and asserts the verdict
   fact `{t: v, c: id, role, verdict}`; a criterion using definitions gets one such rule set per
   combination of their values, joined with the derived facts (forward chaining);
4. after the agenda is empty the host asserts an end marker, and three decision rules turn the
   verdict facts into ELIGIBLE, INELIGIBLE (one firing per disqualifying verdict) or NEEDS_REVIEW (one
   firing per open verdict).

Strong Kleene logic is compiled into the patterns: every sub-condition gets a "true", a "false" and an
"unknown" pattern, so a missing value is never read as absent and no Python decides beside the network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from decimal import Decimal
from itertools import combinations

import networkx as nx

from engine import patterns as P
from engine.facts import window_field
from protocol import model as m
from protocol.units import convert, quantize

VERDICTS = ("MET", "NOT_MET", "UNKNOWN", "NOT_APPLICABLE", "NEEDS_REVIEW")
NEGATE = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}

#: A disjunction of terms; a term is a pattern on the record plus the derived facts it joins.
Terms = tuple[tuple[P.Pattern, frozenset[tuple[str, str]]], ...]
NEVER: Terms = ()
ALWAYS: Terms = ((P.TRUE, frozenset()),)


def _merge(terms) -> Terms:
    """Terms with the same joins become one term (their patterns or-ed); contradictions drop out."""
    grouped: dict[frozenset, list[P.Pattern]] = {}
    for pattern, joins in terms:
        names = [name for name, _ in joins]
        if pattern == P.FALSE or len(names) != len(set(names)):
            continue
        grouped.setdefault(joins, []).append(pattern)
    merged = [(P.any_of(*patterns), joins) for joins, patterns in grouped.items()]
    return tuple(sorted(((p, j) for p, j in merged if p != P.FALSE), key=lambda t: sorted(t[1])))


def _and(*items: Terms) -> Terms:
    result = ALWAYS
    for terms in items:
        result = _merge((P.all_of(pa, pb), ja | jb) for pa, ja in result for pb, jb in terms)
    return result


def _or(*items: Terms) -> Terms:
    return _merge(term for terms in items for term in terms)


@dataclass(frozen=True)
class Kleene:
    """A condition compiled: when it is true, when false; the open case is what is left.

    `d` holds on the record when data the condition reads is missing (then open means UNKNOWN, else
    NEEDS_REVIEW); `nd` is its complement; `uses` are the definitions whose facts it joins.
    """

    t: Terms
    f: Terms
    d: P.Pattern
    nd: P.Pattern
    uses: frozenset[str]

    def negated(self) -> Kleene:
        return Kleene(self.f, self.t, self.d, self.nd, self.uses)


KNOWN_TRUE = Kleene(ALWAYS, NEVER, P.FALSE, P.TRUE, frozenset())


@dataclass(frozen=True)
class Action:
    """What a rule concludes when it fires; the host reads `fact`, the trail reads the rest."""

    rule: str
    kind: str  # "derived" | "verdict" | "decision"
    target: str  # definition name, criterion id, or "patient"
    value: str
    line: int
    role: str | None = None

    @property
    def fact(self) -> dict | None:
        if self.kind == "derived":
            return {"t": "d", "n": self.target, "v": self.value}
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
    referenced: set[str]
    windows: list[m.Duration]
    definitions: list[str]
    leaves: list[m.Criterion]
    strata: int
    fields: dict[str, tuple[str, ...]]
    counts: dict[str, tuple[str, tuple[str, ...]]]
    digest: str = field(default="")

    def facts(self, sid: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        """A patient's record cut into one fact per group of nodes (definitions, criteria), each
        holding only the fields its rules read: one wide record read by every rule overflows the
        engine's alpha stack (see `RULES_PER_FACT`); narrow facts also make less JSON to match."""
        facts = []  # built field by field: one dict per group, for every patient
        for group, fields in self.fields.items():
            fact = {"t": "p", "g": group, "sid": sid}
            for name in fields:
                if name in record:
                    fact[name] = record[name]
            facts.append(fact)
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

    def add(generated) -> None:
        for rule, body, action in generated:
            rules[rule], actions[rule] = body, action

    for name in compiler.used_definitions:
        definition = protocol.definition(name)
        assert definition is not None
        add(compiler.definition_rules(definition))
    for leaf in protocol.leaves():
        add(compiler.criterion_rules(leaf))
    add(compiler.hidden_rules)
    final = max(compiler.stratum.values(), default=0) + 1
    fields = _group_record_patterns(rules, actions)
    add(_decision_rules(final))
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()
    name = f"{protocol.id or 'protocol'}@{protocol.version or '0'}#{digest[:12]}"
    return Network(
        protocol=protocol,
        name=name,
        rules=rules,
        actions=actions,
        referenced=compiler.referenced,
        windows=sorted(compiler.windows.values(), key=lambda d: (d.unit, d.amount)),
        definitions=compiler.used_definitions,
        leaves=protocol.leaves(),
        strata=final + 1,
        fields={node: tuple(sorted(names)) for node, names in fields.items()},
        counts=compiler.counts,
        digest=digest,
    )


class _Compiler:
    def __init__(self, protocol: m.Protocol) -> None:
        self.protocol = protocol
        self.concepts = {c.name: c for c in protocol.concepts}
        self.windows: dict[str, m.Duration] = {}
        self.referenced: set[str] = set()
        self.stratum: dict[str, int] = {}
        self.counts: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.hidden_rules: list[tuple[str, dict, Action]] = []
        self.used_definitions = self._used_definitions()

    def _used_definitions(self) -> list[str]:
        """Definitions some criterion needs, directly or through others, in dependency order."""
        graph = nx.DiGraph()
        for definition in self.protocol.definitions:
            graph.add_node(definition.name)
            for name in self._definition_refs(definition.condition):
                graph.add_edge(name, definition.name)
        needed: set[str] = set()
        for leaf in self.protocol.leaves():
            for condition in (leaf.applies, leaf.condition):
                for name in self._definition_refs(condition):
                    needed |= {name} | nx.ancestors(graph, name)
        order = list(nx.lexicographical_topological_sort(graph))
        return [name for name in order if name in needed]

    def _definition_refs(self, condition: m.Condition | None) -> list[str]:
        if condition is None:
            return []
        names = [a.ref.name for a in m.atoms(condition) if isinstance(a, m.Truth)]
        return sorted({n for n in names if self.protocol.definition(n) is not None})

    def _stratum_of(self, uses: frozenset[str]) -> int:
        """A node is settled one end marker after every definition it uses is settled."""
        return 1 + max((self.stratum[name] for name in uses), default=-1)

    # -- rules --------------------------------------------------------------------------------------
    def definition_rules(self, definition: m.Definition):
        k = self.kleene(definition.condition)
        level = self._stratum_of(k.uses)
        self.stratum[definition.name] = level
        line = definition.span.line
        make = lambda value, rule: Action(rule, "derived", definition.name, value, line)  # noqa: E731
        own = {"$and": [{"t": "d"}, {"n": definition.name}]}
        node = definition.name
        yield from _conclusions(node, f"d:{node}", {"T": k.t, "F": k.f}, make)
        yield from _open_rules(node, f"d:{node}", level, own, k, {"U": "U", "R": "R"}, make)

    def criterion_rules(self, leaf: m.Criterion):
        a = self.kleene(leaf.applies) if leaf.applies is not None else KNOWN_TRUE
        c = self.kleene(leaf.condition)
        uses = a.uses | c.uses
        self.stratum[leaf.id] = level = self._stratum_of(uses)
        both = Kleene(NEVER, NEVER, P.any_of(a.d, c.d), P.all_of(a.nd, c.nd), uses)
        role = leaf.role.value
        make = lambda value, rule: Action(rule, "verdict", leaf.id, value, leaf.span.line, role)  # noqa: E731
        outcomes = {"MET": _and(a.t, c.t), "NOT_MET": _and(a.t, c.f), "NOT_APPLICABLE": a.f}
        own = {"$and": [{"t": "v"}, {"c": leaf.id}]}
        yield from _conclusions(leaf.id, f"v:{leaf.id}", outcomes, make)
        yield from _open_rules(leaf.id, f"v:{leaf.id}", level, own, both,
                               {"U": "UNKNOWN", "R": "NEEDS_REVIEW"}, make)

    # -- conditions ---------------------------------------------------------------------------------
    def kleene(self, condition: m.Condition) -> Kleene:
        """When a condition is true and when false, in strong Kleene logic."""
        if isinstance(condition, m.And):
            return _conjunction([self.kleene(i) for i in condition.items])
        if isinstance(condition, m.Or):
            return _conjunction([self.kleene(i).negated() for i in condition.items]).negated()
        if isinstance(condition, m.Not):
            return self.kleene(condition.item).negated()
        if isinstance(condition, m.AtLeast):
            if counted(condition):
                return self._count(condition)
            return _at_least(condition.count, [self.kleene(i) for i in condition.items])
        name = condition.ref.name
        if isinstance(condition, m.Truth) and self.protocol.definition(name) is not None:
            t = ((P.TRUE, frozenset({(name, "T")})),)
            f = ((P.TRUE, frozenset({(name, "F")})),)
            return Kleene(t, f, P.FALSE, P.TRUE, frozenset({name}))
        self.referenced.add(name)
        return getattr(self, f"_{type(condition).__name__.lower()}")(condition)

    def _truth(self, atom: m.Truth) -> Kleene:
        name = atom.ref.name
        judgment = self.concepts[name].kind is m.Kind.JUDGMENT
        return _scalar(P.test("==", name, 1), P.test("==", name, 0), name, judgment)

    def _compare(self, atom: m.Compare) -> Kleene:
        concept = self.concepts[atom.ref.name]
        threshold = float(threshold_of(concept, atom.threshold))
        name = concept.name
        return _scalar(P.test(atom.op, name, threshold), P.test(NEGATE[atom.op], name, threshold), name)

    def _comparereference(self, atom: m.CompareReference) -> Kleene:
        name = atom.ref.name + ("__uln" if atom.bound == "upper" else "__lln")
        factor = float(quantize(atom.factor))
        return _scalar(P.test(atom.op, name, factor), P.test(NEGATE[atom.op], name, factor), name)

    def _is(self, atom: m.Is) -> Kleene:
        concept = self.concepts[atom.ref.name]
        values = [concept.canonical(v.name) or v.name for v in atom.values]
        t = P.any_of(*(P.test("==", concept.name, v) for v in values))
        f = P.all_of(*(P.test("!=", concept.name, v) for v in values))
        k = _scalar(t, f, concept.name)
        return k.negated() if atom.negated else k

    def _occurred(self, atom: m.Occurred) -> Kleene:
        window = atom.window
        if window.kind == "ever":
            yes, no = P.test(">=", "$i.s", 0), P.FALSE
        else:
            bound = "sd"
            if window.kind == "within":
                assert window.duration is not None
                bound = window_field(window.duration)
                self.windows[bound] = window.duration
            yes, no = P.test(">=", "$i.e", {"$m": bound}), P.test("<", "$i.e", {"$m": bound})
        if atom.grade is not None:
            op, grade = atom.grade
            grade_yes = P.test(op, "$i.g", float(grade))
            if window.kind != "ever":
                return self._hidden(atom, P.all_of(yes, grade_yes), P.FALSE, P.TRUE)
            yes, no = P.all_of(yes, grade_yes), P.test(NEGATE[op], "$i.g", float(grade))
        return _listed(atom.ref.name, yes, no)

    def _hidden(self, atom: m.Occurred | m.Course, yes: P.Pattern, undecided: P.Pattern,
                decided: P.Pattern) -> Kleene:
        """A list atom whose "no" would test two fields of an item at once: durable_rules gets
        `$or` across item fields wrong (only the last field's test counts), so the atom becomes a
        node of its own. True when some item says yes; at its end marker, false when the list is
        recorded and no item is undecided, unknown otherwise. Undecided items (a course whose dose
        could not be computed) are kept in `<name>__undosed`; `undecided`/`decided` test that list.
        """
        name = atom.ref.name
        node = f"{name}@{atom.span.line}:{atom.span.column}"
        self.stratum[node] = 0
        own = {"$and": [{"t": "d"}, {"n": node}]}
        make = lambda value, rule: Action(rule, "derived", node, value, atom.span.line)  # noqa: E731
        listed = P.raw({"$iany": {name: P.to_json(yes)}})
        self.hidden_rules.extend(_conclusions(node, f"d:{node}", {"T": ((listed, frozenset()),)}, make))
        end = {"e": {"$and": [{"t": "end"}, {"s": 0}]}}
        unsettled = {"o$not": own}
        missing = P.all_of(P.test("$nex", name, 1), P.test("$nex", f"{name}__none", 1))
        recorded = P.any_of(P.test("==", f"{name}__none", 1), P.test("$ex", name, 1))
        cases = {"F": P.all_of(recorded, decided), "U": P.any_of(missing, undecided)}
        for value, pattern in cases.items():
            for index, part in enumerate(P.split(pattern) if pattern != P.FALSE else []):
                rule = f"d:{node}:{value}#{index}"
                self.hidden_rules.append(
                    (rule, {"all": [end, unsettled, _record(node, part)]}, make(value, rule)))
        t = ((P.TRUE, frozenset({(node, "T")})),)
        f = ((P.TRUE, frozenset({(node, "F")})),)
        return Kleene(t, f, P.FALSE, P.TRUE, frozenset({node}))

    def _includes(self, atom: m.Includes) -> Kleene:
        concept = self.concepts[atom.ref.name]
        drug = concept.canonical(atom.drug.name) or atom.drug.name
        yes, no = P.test("==", "$i.drug", drug), P.test("!=", "$i.drug", drug)
        return _listed(concept.name, yes, no)

    def _count(self, condition: m.AtLeast) -> Kleene:
        """`X includes at least k of {...}`: compared against the number of distinct drugs of the set
        on the patient's (complete) list, which the record carries; one test instead of C(n, k)."""
        first = condition.items[0]
        assert isinstance(first, m.Includes)
        concept = self.concepts[first.ref.name]
        drugs = tuple(sorted({concept.canonical(i.drug.name) or i.drug.name
                              for i in condition.items if isinstance(i, m.Includes)}))
        name = count_field(concept.name, drugs)
        self.counts[name] = (concept.name, drugs)
        self.referenced.add(concept.name)
        k = condition.count
        return _scalar(P.test(">=", name, k), P.test("<", name, k), name)

    def _course(self, atom: m.Course) -> Kleene:
        concept = self.concepts[atom.ref.name]
        assert concept.dosed_in is not None
        if concept.weight is not None:
            self.referenced.add(concept.weight.name)  # a dose per kg reads the patient's weight
        dose = float(dose_threshold_of(concept, atom))
        long_enough, too_short = P.TRUE, P.FALSE
        if atom.duration is not None:
            field_, amount = _duration_field(atom.duration)
            long_enough, too_short = P.test(">=", field_, amount), P.test("<", field_, amount)
        yes = P.all_of(P.test(atom.op, "$i.dose", dose), long_enough)
        undosed = f"{concept.name}__undosed"
        if long_enough == P.TRUE:
            undecided, decided = P.test("$ex", undosed, 1), P.test("$nex", undosed, 1)
        else:
            undecided = P.raw({"$iany": {undosed: P.to_json(long_enough)}})
            decided = P.any_of(P.test("$nex", undosed, 1),
                               P.raw({"$iall": {undosed: P.to_json(too_short)}}))
        return self._hidden(atom, yes, undecided, decided)


def _conclusions(node: str, prefix: str, outcomes: dict[str, Terms], make):
    """One rule per (term, budget-sized disjunct) for each definite outcome."""
    for value, terms in outcomes.items():
        index = 0
        for pattern, joins in terms:
            for part in P.split(pattern):
                rule = f"{prefix}:{value}#{index}"
                index += 1
                yield rule, _body(node, joins, part), make(value, rule)


def _open_rules(node: str, prefix: str, level: int, own: dict, k: Kleene, values: dict[str, str],
                make):
    """The open outcomes, judged at end marker `level` when no definite conclusion was drawn.

    Open because data is missing (the record says so, or a definition used is unknown) is the first
    value; open only for a pending judgment is the second.
    """
    end = {"e": {"$and": [{"t": "end"}, {"s": level}]}}
    unsettled = {"o$not": own}
    missing, review = values["U"], values["R"]
    index = 0
    for part in P.split(k.d) if k.d != P.FALSE else []:
        rule = f"{prefix}:{missing}#{index}"
        index += 1
        yield rule, {"all": [end, unsettled, _record(node, part)]}, make(missing, rule)
    for name in sorted(k.uses):
        rule = f"{prefix}:{missing}#{index}"
        index += 1
        unknown = {"x": {"$and": [{"t": "d"}, {"n": name}, {"v": "U"}]}}
        yield rule, {"all": [end, unsettled, unknown]}, make(missing, rule)
    no_unknown_uses = [
        {f"u{i}$not": {"$and": [{"t": "d"}, {"n": name}, {"v": "U"}]}} for i, name in enumerate(sorted(k.uses))
    ]
    for index, part in enumerate(P.split(k.nd) if k.nd != P.FALSE else []):
        rule = f"{prefix}:{review}#{index}"
        yield rule, {"all": [end, unsettled, _record(node, part), *no_unknown_uses]}, make(review, rule)


def _record(node: str, pattern: P.Pattern) -> dict:
    """The pattern on the node's own slice of the patient record (see `Network.fields`)."""
    return {"p": P.to_json(P.all_of(P.test("==", "t", "p"), P.test("==", "g", node), pattern))}


def _body(node: str, joins: frozenset[tuple[str, str]], pattern: P.Pattern) -> dict:
    derived = [
        {f"d{i}": {"$and": [{"t": "d"}, {"n": name}, {"v": value}]}}
        for i, (name, value) in enumerate(sorted(joins))
    ]
    return {"all": [*derived, _record(node, pattern)]}


#: Rules per record fact. The engine walks a fact's alpha network with a stack of 64 entries
#: (events.c), filled by the matching tests below one node: a fact read by too many rules overflows
#: it (error 303). Several small criteria share one fact; every fact costs parsing and storage.
RULES_PER_FACT = 24


def _group_record_patterns(rules: dict[str, dict], actions: dict[str, Action]) -> dict[str, set[str]]:
    """Pack the nodes' record patterns into facts of at most `RULES_PER_FACT` rules, in file order,
    rewrite each pattern's `g` test to its fact's group, and return the fields each group reads."""
    per_node: dict[str, list[dict]] = {}
    for rule, body in rules.items():
        for pattern in body["all"]:
            if "p" in pattern:
                per_node.setdefault(actions[rule].target, []).append(pattern["p"])
    groups: dict[str, set[str]] = {}
    group, size = "", RULES_PER_FACT
    for node, patterns in per_node.items():
        if size + len(patterns) > RULES_PER_FACT:
            group, size = f"g{len(groups)}", 0
            groups[group] = set()
        size += len(patterns)
        for pattern in patterns:
            tests = pattern["$and"]
            tests[tests.index({"g": node})] = {"g": group}
            groups[group] |= fields_of(pattern) - {"t", "g"}
    return groups


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


def counted(condition: m.AtLeast) -> bool:
    """`X includes at least k of {...}`: compiled to one count on the record, not an expansion."""
    names = {i.ref.name for i in condition.items if isinstance(i, m.Includes)}
    return len(names) == 1 and all(isinstance(i, m.Includes) for i in condition.items)


def count_field(concept: str, drugs: tuple[str, ...]) -> str:
    """The record field counting a list's distinct drugs of one set (named by the set's digest)."""
    return f"{concept}__of_{hashlib.sha256('|'.join(drugs).encode()).hexdigest()[:8]}"


def threshold_of(concept: m.Concept, quantity: m.Quantity) -> Decimal:
    """A threshold in the concept's unit, rounded by the same rule as the facts."""
    if concept.kind is m.Kind.SCORE or quantity.unit is None or quantity.unit == "points":
        return quantize(quantity.value)
    conversions = tuple((c.source.value, c.source.unit, c.target.value, c.target.unit)
                        for c in concept.conversions)
    return convert(quantity.value, quantity.unit, concept.unit or quantity.unit, conversions)


def dose_threshold_of(concept: m.Concept, atom: m.Course) -> Decimal:
    """A course's dose threshold in the unit the medication is dosed in."""
    assert concept.dosed_in is not None
    return convert(atom.dose.value, atom.dose.unit or concept.dosed_in, concept.dosed_in)


def _duration_field(duration: m.Duration) -> tuple[str, int]:
    if duration.unit in ("months", "years"):
        return "$i.months", duration.amount * (12 if duration.unit == "years" else 1)
    return "$i.days", duration.amount * (7 if duration.unit == "weeks" else 1)


def _scalar(t: P.Pattern, f: P.Pattern, name: str, judgment: bool = False) -> Kleene:
    """A single-valued concept: open exactly when its field is absent from the record."""
    if judgment:
        return Kleene(((t, frozenset()),), ((f, frozenset()),), P.FALSE, P.TRUE, frozenset())
    missing, present = P.test("$nex", name, 1), P.test("$ex", name, 1)
    return Kleene(((t, frozenset()),), ((f, frozenset()),), missing, present, frozenset())


def _listed(name: str, yes: P.Pattern, no: P.Pattern) -> Kleene:
    """A list concept (events, drugs taken) tested on one item field: true if some item says yes;
    false if the patient has none or every item says no; open if nothing is recorded."""

    def items(quantifier: str, pattern: P.Pattern) -> P.Pattern:
        if pattern == P.FALSE:
            return P.FALSE
        inner = P.to_json(pattern) if pattern != P.TRUE else {"$gte": {"$i.s": 0}}
        return P.raw({quantifier: {name: inner}})

    none_recorded = P.test("==", f"{name}__none", 1)
    missing = P.all_of(P.test("$nex", name, 1), P.test("$nex", f"{name}__none", 1))
    t = items("$iany", yes)
    f = P.any_of(none_recorded, items("$iall", no))
    nd = P.any_of(none_recorded, P.test("$ex", name, 1))
    return Kleene(((t, frozenset()),), ((f, frozenset()),), missing, nd, frozenset())


def _conjunction(items: list[Kleene]) -> Kleene:
    return Kleene(
        t=_and(*(k.t for k in items)),
        f=_or(*(k.f for k in items)),
        d=P.any_of(*(k.d for k in items)),
        nd=P.all_of(*(k.nd for k in items)),
        uses=frozenset().union(*(k.uses for k in items)),
    )


def _at_least(count: int, items: list[Kleene]) -> Kleene:
    """At least `count` true; false when more than n - count are false."""
    n = len(items)
    true_sets = combinations(items, count)
    false_sets = combinations(items, n - count + 1)
    return Kleene(
        t=_or(*(_and(*(k.t for k in subset)) for subset in true_sets)),
        f=_or(*(_and(*(k.f for k in subset)) for subset in false_sets)),
        d=P.any_of(*(k.d for k in items)),
        nd=P.all_of(*(k.nd for k in items)),
        uses=frozenset().union(*(k.uses for k in items)),
    )


def _decision_rules(level: int):
    """The patient's decision, from verdict facts only, once every criterion is settled."""
    end = {"e": {"$and": [{"t": "end"}, {"s": level}]}}
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
