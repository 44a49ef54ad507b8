"""Static checks on a parsed protocol: every problem at once, each pointing at its `file:line:col`.

A protocol that parses can still be wrong in ways the engine would only show as a silent NOT_MET: a
misspelt concept, a threshold in the wrong unit, a drug missing from its equivalence table. Like
pyflakes, checking runs in two phases: `Scope` records every declaration first (so the order of
sections in the file does not matter; `protocol/declarations.py`), then each check in `CHECKS`
reads the uses against it. Checks collect and never raise, so an author sees every problem in one
run; the CLI decides what an error costs. Each kind of diagnostic has one message template in
`protocol.messages.TEMPLATES`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields, is_dataclass
from decimal import Decimal
from typing import Any

from protocol import escalation_checks, fidelity, meaning
from protocol.atom_checks import (ACCEPTS, ATOM_CHECKS, dimensionality_words, filters_of,
                                  kind_words, window_reach)
from protocol import formula as f
from protocol import limits
from protocol import escalation_model as em
from protocol import model as m
from protocol import units
from protocol.errors import Diagnostic, Span, hint
from protocol.model import Kind
from protocol.amend.wording import source_text
from protocol.declarations import (Scope, Target, attributes, contents, declared_units, diag,
                                   duplicates, equivalences, header, parses, unit_problem, weights)

#: durable_rules fails (error 307 or 304) on a rule of more than 16 patterns: the record's and at
#: most 15 facts of derived values and definitions.
JOINS_LIMIT = 15

#: How a planned event is named where it cannot be used: its occurrences may lie after
#: screening, so it has no most recent occurrence to count from or span.
PLANNED = "a planned event, whose occurrences may lie after screening"
WHEN = ("say when: 'ever', 'at screening', 'within N days before screening' or "
        "'at least N months before first_dose'")


def check(protocol: m.Protocol) -> list[Diagnostic]:
    """Every problem in `protocol`, sorted by position; with no errors it may be compiled.

    >>> from grammar.parser import parse
    >>> text = 'protocol "t"\\nversion "1"\\nconcepts:\\n  egfr: quantity in mL/min\\n'
    >>> text += 'inclusion I1 "Kidney function": egrf >= 30 mL/min'
    >>> for d in check(parse(text, "t.proto-rules")):
    ...     print(d.span, d.severity.value, d.code, d.message)
    t.proto-rules:4:3 warning unused-concept concept 'egfr' is never used
    t.proto-rules:5:33 error undefined-name unknown name 'egrf'; did you mean 'egfr'?
    """
    scope = Scope.of(protocol)
    found = [diagnostic for rule in CHECKS for diagnostic in rule(protocol, scope)]
    unique = dict.fromkeys(found)  # atoms sharing a Ref (includes at least k of {...}) say it once
    return sorted(unique, key=lambda d: (d.span.file, d.span.line, d.span.column))


_hint = hint


# --- phase two: uses (phase one, the declarations: protocol/declarations.py) --------------------


def _conditions(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """Every condition in definitions, applies-when clauses and criteria, node by node."""
    nodes = list(_every((m.AtLeast, *m.ATOMS), _uses(protocol)))
    wrapped = {id(node.occurred) for node in nodes if isinstance(node, m.WRAPPERS)}
    for node in nodes:
        if id(node) not in wrapped:  # `no known X ...` is checked as a whole, once
            yield from _at_least(node) if isinstance(node, m.AtLeast) else _atom(node, scope)


def _uses(protocol: m.Protocol) -> tuple[m.Condition, ...]:
    """Leaves carry their parent's applies-when too, so the parent's is checked through them.
    The conditions of formulas' conditional terms are conditions too."""
    found = [definition.condition for definition in protocol.definitions]
    found += [node.condition for concept in protocol.concepts if concept.formula is not None
              for node in m.subexpressions(concept.formula) if isinstance(node, m.Choice)]
    for leaf in protocol.leaves():
        found += [c for c in (leaf.applies, leaf.condition) if c is not None]
    return tuple(found)


def _attribute_of(atom: m.Atom, scope: Scope) -> str:
    """An unknown name that a history declares as an attribute: most likely a filter's clause
    after `no known x where a`, whose `and` or `or` joins conditions."""
    owner = next((c for c in scope.concepts.values() if c.attribute(atom.ref.name)), None)
    return "" if owner is None else (
        f"; {atom.ref.name} is an attribute of {owner.name}: after 'no known {owner.name} "
        "where', clauses joined by 'and' or 'or' go in parentheses ('where (a and b)', 'where "
        "((a or b) and c)'): outside them, 'and' and 'or' join conditions")


def _refs(condition: m.Condition | None) -> list[str]:
    return [] if condition is None else [ref.name for ref in m.refs(condition)]


def _atom(atom: m.Atom, scope: Scope) -> Iterator[Diagnostic]:
    occurred = atom.occurred if isinstance(atom, m.WRAPPERS) else atom
    if isinstance(occurred, m.Occurred) and occurred.window.kind in ("during", "during_any"):
        yield from _during(occurred, scope)
        if occurred.window.kind == "during_any" and isinstance(atom, m.Counted):
            assert occurred.window.anchor is not None and occurred.window.anchor.ref is not None
            yield diag("during-any", atom.span, name=occurred.window.anchor.ref.name)
    elif isinstance(occurred, m.Occurred) and occurred.window.anchor is not None:
        yield from _anchor(occurred.window.anchor, scope)
    if isinstance(atom, (m.CurrentDose, m.StableDose, m.Continuous)) and atom.anchor is not None:
        yield from _anchor(atom.anchor, scope, edges=False)
    if isinstance(atom, m.CumulativeDose) and atom.window.anchor is not None:
        yield from _anchor(atom.window.anchor, scope, edges=False)
    target = scope.lookup(atom.ref.name)
    if target is None:
        hint = _hint(atom.ref.name, scope.names()) or _attribute_of(atom, scope)
        yield diag("undefined-name", atom.ref.span, name=atom.ref.name, hint=hint)
        return
    mismatch = _mismatch(atom, target)
    if mismatch is not None:
        yield mismatch
    elif isinstance(target, m.Concept) and target.sides:
        sides = " or ".join(f"{target.name}_{side}" for side in target.sides)
        yield diag("per-side", atom.ref.span, name=target.name, per=target.per, sides=sides)
    elif isinstance(target, m.Concept) and target.kind is Kind.DATE and \
            isinstance(atom, m.Occurred):
        yield from _dated(atom, target)
    elif isinstance(occurred, m.Occurred) and occurred.window.kind in m.ORDER:
        window = occurred.window
        anchor: object = window.anchor or "screening"
        named = scope.concepts.get(window.anchor.ref.name) if window.anchor is not None and \
            window.anchor.ref is not None and window.anchor.edge is None else None
        if named is not None and named.kind in m.LISTED:  # a window counts from its edge
            edge = "end" if window.direction == "after" else "start"
            anchor = f"the {edge} of {named.name}"
        yield diag("order-window", window.span, name=atom.ref.name, window=window,
                   kind=kind_words(target), direction=window.direction, anchor=anchor,
                   which="an earlier" if window.direction == "before" else "a later")
    elif isinstance(target, m.Concept) and type(atom) in ATOM_CHECKS:
        yield from ATOM_CHECKS[type(atom)](atom, target)
        if isinstance(occurred, m.Occurred) and occurred.window.reach is not None:
            yield from window_reach(atom, occurred.window, target)


def _dated(atom: m.Occurred, concept: m.Concept) -> Iterator[Diagnostic]:
    """A date concept is one day: it falls before, after or within a span of another day, and
    has no items to grade, filter or measure a half-life on."""
    window = atom.window
    if window.kind == "ever":
        yield diag("date-window", window.span, name=concept.name)
    what = "grade" if atom.grade else "items to filter" if atom.filters else \
        f"{window.reach.attribute.name} of its own" if window.reach else \
        "items to place in each span" if window.kind == "during_any" else None
    if what is not None:
        yield diag("date-window/items", atom.span, name=concept.name, what=what)


def _mismatch(atom: m.Atom, target: Target) -> Diagnostic | None:
    """The one sentence that says why this kind of name cannot be used this way."""
    kinds, advice = ACCEPTS[type(atom)]
    kind = kind_words(target)
    if isinstance(target, m.Definition):
        if isinstance(atom, m.Truth):
            return None
    elif target.kind not in kinds:
        if isinstance(atom, m.Truth) and target.kind is Kind.EVENT:
            advice = WHEN
    elif isinstance(atom, (m.Occurred, *m.WRAPPERS)) and _grade(atom) is not None \
            and not target.graded and target.kind is not Kind.DATE:
        kind, advice = ("a medication", "only an event has grades") \
            if target.kind is Kind.MEDICATION else \
            ("an event without grades", "declare it 'event graded' to use 'with grade'")
    elif isinstance(atom, m.Latest | m.OfLatest) and target.planned:
        kind, advice = PLANNED, "plans have no most recent one (say when it is planned: " \
            f"'{atom.ref.name} within 3 months after screening')"
    elif isinstance(atom, m.CompareReference) and target.kind is Kind.DERIVED \
            and target.reference is None:
        kind = "a derived value declared without a reference range"
        advice = f"declare one: '{target.name}: derived in {target.unit} reference LOW to HIGH " \
            "= ...'"
    elif isinstance(atom, (m.CompareReference, m.Confirmed)) and target.extreme is not None:
        kind = f"{target.read_as}, of several days' results"
        advice = "compare it with a number" if isinstance(atom, m.CompareReference) else \
            f"confirm '{target.reads.name}' itself on another day"
    elif isinstance(atom, (m.Course, m.CurrentDose, m.CumulativeDose)) and \
            target.dosed_in is None and getattr(atom, "reading", None) != m.DAYS:
        kind = "a medication without a dose unit"
        advice = "declare it 'dosed in UNIT' to compare doses"
    else:
        return None
    return diag("type-mismatch", atom.ref.span, name=atom.ref.name, kind=kind, advice=advice)


def _grade(atom: m.Occurred | m.NoKnown | m.Counted | m.Latest) -> tuple[str, Decimal] | None:
    return (atom.occurred if isinstance(atom, m.WRAPPERS) else atom).grade


def _anchor(anchor: m.Anchor, scope: Scope, edges: bool = True) -> Iterator[Diagnostic]:
    """A window counts from a day: a date concept's, the start or end of an occurrence, or the
    date of a result (a dose is read on the screening date or a date concept's day only, `edges`
    False)."""
    if anchor.ref is None:
        return
    if anchor.edge is not None and not edges:
        yield diag("anchor", anchor.span, what="the screening date or a date concept",
                   name=str(anchor), kind="an occurrence's day" if anchor.occurrence else
                   "a result's day", hint="")
        return
    name = anchor.ref.name
    target = scope.lookup(name)
    if target is None:
        hint = _hint(name, scope.names())
        yield diag("undefined-name", anchor.ref.span, name=name, hint=hint)
        return
    kind = target.kind if isinstance(target, m.Concept) else None
    if anchor.edge is None and kind is not Kind.DATE:
        what = "the screening date or a date concept (declare it 'NAME: date')"
        yield diag("anchor", anchor.ref.span, what=what, name=name,
                   kind=kind_words(target), hint=_anchor_hint(kind, name, " or"))
    elif anchor.occurrence and kind not in m.LISTED:
        what = f"the {anchor.edge} of an event or medication"
        yield diag("anchor", anchor.ref.span, what=what, name=name, kind=kind_words(target),
                   hint=_anchor_hint(kind, name))
    elif anchor.occurrence and isinstance(target, m.Concept) and target.planned:
        what = f"the {anchor.edge} of the most recent occurrence of a history"
        yield diag("anchor", anchor.ref.span, what=what, name=name, kind=PLANNED, hint="")
    elif anchor.result and kind not in m.DATED_RESULTS:
        what = "the date of a recorded result (a quantity, lab, score, scale, category or flag)"
        yield diag("anchor", anchor.ref.span, what=what, name=name, kind=kind_words(target),
                   hint=_anchor_hint(kind, name))


def _during(occurred: m.Occurred, scope: Scope) -> Iterator[Diagnostic]:
    """`during X` spans the most recent course or occurrence of another history (`during any
    X`, each of them)."""
    anchor = occurred.window.anchor
    assert anchor is not None and anchor.ref is not None
    name = anchor.ref.name
    target = scope.lookup(name)
    if target is None:
        yield diag("undefined-name", anchor.ref.span, name=name, hint=_hint(name, scope.names()))
    elif not (isinstance(target, m.Concept) and target.kind in m.LISTED):
        yield diag("during", anchor.ref.span, name=name, kind=kind_words(target), why="")
    elif target.planned:
        yield diag("during", anchor.ref.span, name=name, kind=PLANNED, why="")
    elif name == occurred.ref.name:
        yield diag("during", anchor.ref.span, name=name, kind="the history itself",
                   why=": its most recent one overlaps itself")
    elif occurred.window.kept:  # its filter reads that history's attributes
        yield from filters_of(occurred.window.kept, anchor.ref, target)


def _anchor_hint(kind: Kind | None, name: str, joined: str = "") -> str:
    """The anchor a concept of this kind gives: its own day, an occurrence's edge, a result's
    date."""
    if kind is Kind.DATE:
        return f";{joined} write '{name}': a date concept is its own day"
    if kind in m.LISTED:
        return f";{joined} write 'the start of {name}' or 'the end of {name}'"
    if kind in m.DATED_RESULTS:
        return f";{joined} write 'the date of {name}', the day of its result that counts"
    return ""


def _at_least(node: m.AtLeast) -> Iterator[Diagnostic]:
    n, k = len(node.items), node.count
    if not 1 <= k <= n:
        yield diag("at-least", node.span, count=k, n=n)
        return
    if not node.counts_one_list:
        yield from limits.listed(node, diag)


def _formulas(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """A derived value's formula: names it reads, units and dimensions (protocol/formula.py)."""
    for concept in protocol.concepts:
        if concept.formula is None or scope.concepts.get(concept.name) is not concept:
            continue
        if concept.unit is not None and not parses(concept.unit):
            continue  # reported with the declarations
        plan, problems = f.analyse(concept, scope.concepts, scope.definitions)
        for problem in problems:
            yield _formula_diagnostic(problem, scope)
        if plan is not None and f.ways(plan) > limits.FORMULA_WAYS:
            yield diag("formula-too-large", concept.span, name=concept.name, ways=f.ways(plan),
                       limit=limits.FORMULA_WAYS)
        joined = [n for n in m.formula_names(concept.formula)
                  if n in scope.definitions or getattr(scope.concepts.get(n), "formula", None)]
        if len(joined) > JOINS_LIMIT:
            yield diag("formula-too-large/joins", concept.span, name=concept.name,
                       count=len(joined), limit=JOINS_LIMIT)


def _formula_diagnostic(problem: f.Problem, scope: Scope) -> Diagnostic:
    info = dict(problem.info)
    if problem.kind == "undefined-name":
        info["hint"] = _hint(info["name"], info.pop("names"))
    for key in f.DIMENSION_KEYS:
        said = key == "what" and problem.kind == "formula-dimension/mix"  # names the operation
        if key in info and not said:
            info[key] = dimensionality_words(info[key])
    if problem.kind == "formula-dimension":
        info["hint"] = "; for an empirical formula, read every input as 'name in UNIT'"
    return diag(problem.kind, problem.span, **info)


def _escalation(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """Dose levels, cohorts, the design and its rules (protocol/escalation_checks.py)."""
    return escalation_checks.check(protocol)


def _broader(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """`blood_pregnancy_test: ... counts as pregnancy_test`: each fact of the narrower concept is a
    fact of the broader one too, so it must read as one (same kind, its values among the broader
    one's, its unit of the same dimension, its attributes too); and records what the broader
    one's filters read, or its items leave them open (a warning)."""
    read: dict[str, set[str]] = {}  # by history, the attributes its filters and counts read
    for node in _every((m.Occurred, m.Counted), _uses(protocol)):
        names = [c.attribute.name for c in m.clauses(node.filters) if c.attribute is not None] \
            if isinstance(node, m.Occurred) else [node.by.name] if node.by else []
        read.setdefault(node.ref.name, set()).update(
            names + [n[:-1] for n in names if n.endswith("s")])  # `lines of`: line
    for concept in scope.concepts.values():
        ref = concept.counts_as
        if ref is None:
            continue
        broader = scope.concepts.get(ref.name)
        if broader is None:
            hint = _hint(ref.name, list(scope.concepts))
            yield diag("undefined-name", ref.span, name=ref.name, hint=hint)
            continue
        why = None
        if broader.kind is not concept.kind:
            why = f"but it is {kind_words(concept)} and '{broader.name}' {kind_words(broader)}"
        elif broader.counts_as is not None:
            why = f"which counts as '{broader.counts_as.name}' in turn: name the broadest directly"
        elif broader.planned != concept.planned:
            planned, other = (concept, broader) if concept.planned else (broader, concept)
            why = f"but '{planned.name}' is planned and '{other.name}' is not: a plan is not an " \
                "occurrence"
        elif broader.reads is not None:
            how = broader.read_as if broader.extreme else \
                f"'{broader.reads.name}' read at {broader.at.name}"
            why = f"which is {how}: count it as '{broader.reads.name}'"
        elif any(broader.canonical(v.name) is None for v in concept.values):
            missing = [v.name for v in concept.values if broader.canonical(v.name) is None]
            why = f"but '{broader.name}' has no value {', '.join(missing)}"
        elif concept.unit and broader.unit and parses(concept.unit) and parses(broader.unit) \
                and not units.same_dimension(concept.unit, broader.unit):
            why = f"but {concept.unit} does not convert to {broader.unit}"
        else:
            why = _attribute_clash(concept, broader)
        if why:
            yield diag("counts-as", ref.span, name=concept.name, broader=broader.name, why=why)
        elif broader.name in read:  # what the broader one's filters read, it records too
            missing = [a.name for a in broader.attributes
                       if a.name in read[broader.name] and concept.attribute(a.name) is None]
            if missing:
                yield diag("counts-as-attributes", ref.span, name=concept.name,
                           broader=broader.name, attributes=" or ".join(missing),
                           them="them" if missing[1:] else "it")


def _attribute_clash(concept: m.Concept, broader: m.Concept) -> str | None:
    """An attribute both declare, which a fact of the narrower one gives to the broader one as
    well: the same kind of thing (values, or a number), its values among the broader one's, its
    unit of the same dimension."""
    for attribute in concept.attributes:
        other = next((a for a in broader.attributes if a.name == attribute.name), None)
        if other is None:
            continue
        if attribute.numeric != other.numeric:
            number, values = (concept, broader) if attribute.numeric else (broader, concept)
            return f"but {number.name}'s {attribute.name} is a number and {values.name}'s one " \
                "of a set of values"
        missing = [v.name for v in attribute.values if other.canonical(v.name) is None]
        if missing:
            return f"but '{broader.name}' {attribute.name} has no value {', '.join(missing)}"
        if attribute.unit and other.unit and parses(attribute.unit) and parses(other.unit) \
                and not units.same_dimension(attribute.unit, other.unit):
            return f"but its {attribute.name} in {attribute.unit} does not convert to " \
                f"{other.unit}"
    return None


def _days(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """`age at enrolment`, `uacr_at_visit_1: uacr at visit_1`: the day an age is counted at, or
    a value read at, is a date concept's."""
    for concept in scope.concepts.values():
        if concept.at is None:
            continue
        target = scope.lookup(concept.at.name)
        if target is None:
            hint = _hint(concept.at.name, scope.names())
            yield diag("undefined-name", concept.at.span, name=concept.at.name, hint=hint)
        elif not (isinstance(target, m.Concept) and target.kind is Kind.DATE):
            yield diag("day", concept.at.span, name=concept.name, at=concept.at.name,
                       how="read" if concept.reads else "counted", kind=kind_words(target))


def _aliases(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """A declared unit spelling must mean a unit the library reads."""
    for alias in protocol.unit_aliases:
        if not parses(alias.meaning):
            yield diag("unit-unknown", alias.span, problem=unit_problem(alias.meaning))


def _durations(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """`within 0 days` can never hold and `valid for 0 days` drops every fact: surely a typo."""
    for duration in _every(m.Duration, protocol):
        if duration.amount == 0:
            yield diag("zero-duration", duration.span, duration=duration)


def _limits(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """Numbers, spans of time and counts the engine and the calendar can represent
    (protocol/limits.py); a threshold converted into its concept's unit is checked with it."""
    for quantity in _every((m.Quantity, m.Number), protocol):
        yield from limits.number(quantity.value, quantity.span, diag)
    for node in _every((m.CompareReference, m.Occurred, em.DoseLevel, m.Power, m.Counted),
                       protocol):
        if isinstance(node, m.CompareReference):
            yield from limits.number(node.factor, node.span, diag)
        elif isinstance(node, m.Occurred) and node.grade is not None:
            yield from limits.number(node.grade[1], node.span, diag)
        elif isinstance(node, em.DoseLevel):
            yield from limits.number(node.amount, node.span, diag)
        elif isinstance(node, m.Power):
            yield from limits.power(node, diag)
        elif isinstance(node, m.Counted):
            yield from limits.count(node, diag)
    for concept in protocol.concepts:
        for bound in (*(concept.steps or ()), *(concept.reference or ())):
            yield from limits.number(bound, concept.span, diag)
        if concept.reference is not None and concept.reference[0] > concept.reference[1]:
            low, high = concept.reference
            yield diag("range-order", concept.span, low=low, high=high)
    for duration in _every(m.Duration, protocol):
        yield from limits.duration(duration, diag)
    for escalation in protocol.escalations:
        yield from limits.boin_patients(escalation, diag)


def _every(wanted: type | tuple[type, ...], node: object) -> Iterator[Any]:
    """Every node of type `wanted` in `node` and under it, depth first, in file order."""
    if isinstance(node, wanted):
        yield node
    if isinstance(node, tuple):
        for item in node:
            yield from _every(wanted, item)
    elif is_dataclass(node):
        for field in fields(node):
            yield from _every(wanted, getattr(node, field.name))


def _split_on(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """`(C and A) or (not C and B)` is UNKNOWN wherever C is, even where A and B agree ("ALT > 5
    x ULN with liver metastases, else > 2.5 x ULN" at 6 x ULN, the metastases not recorded):
    strong Kleene does not reason by cases. `A if C else B` does, and `check` says so, unless
    the rule already holds the case both agree on (`... or (A and B)`, as `if` writes it)."""
    key = meaning.meaning
    for node in _every(m.Or, _uses(protocol)):
        # the terms an `if` wrote reason by cases already; another term beside them is no branch
        written = {id(i) for sub in _every(m.Or, node) if meaning.chosen(sub) for i in sub.items}
        terms = meaning.flat(node)
        items = [meaning.flat(i) if isinstance(i, m.And) else [i] for i in terms]
        keys = [{key(c) for c in each} for each in items]
        for i, j in itertools.combinations(range(len(items)), 2):
            if id(terms[i]) in written or id(terms[j]) in written:
                continue
            found = next(((c, n) for c in items[i] for n in items[j]
                          if key(n) == key(m.Not(c.span, c)) or key(c) == key(m.Not(n.span, n))),
                         None)
            if found is None:
                continue
            c, n = found
            both = (keys[i] - {key(c)}) | (keys[j] - {key(n)})
            if any(each == both for each in keys):
                continue
            holds, fails, choice = (i, j, c) if not isinstance(c, m.Not) else (j, i, n)
            then, otherwise = ([x for x in items[k] if x is not choice and key(x) != key(
                m.Not(choice.span, choice))] for k in (holds, fails))
            if not then or not otherwise:  # `x or not x`: no rule on either side to choose
                continue
            yield diag("split-on", node.span, choice=source_text(protocol, choice.span),
                       then=_conjoined(protocol, then), otherwise=_conjoined(protocol, otherwise))
            break


def _conjoined(protocol: m.Protocol, nodes: list[m.Condition]) -> str:
    """Conditions as written, joined by `and` (in parentheses when more than one)."""
    text = " and ".join(source_text(protocol, n.span) for n in nodes)
    return f"({text})" if len(nodes) > 1 else text


# --- whole-protocol checks ------------------------------------------------------------------------


def _cycles(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """A definition or derived value that depends on itself has no value; the engine would never
    settle it."""
    derived = {c.name: c for c in scope.concepts.values() if c.formula is not None}
    nodes: dict[str, Any] = {**scope.definitions, **derived}
    nodes = dict(sorted(nodes.items(), key=lambda item: (item[1].span.line, item[1].span.column)))
    order = {name: index for index, name in enumerate(nodes)}
    import networkx as nx  # noqa: PLC0415 -- when a protocol is checked, not at every start

    graph = nx.DiGraph()
    graph.add_nodes_from(order)
    for name, node in nodes.items():
        used = _refs(node.condition) if isinstance(node, m.Definition) else \
            m.formula_names(node.formula)
        for other in used:
            if other in nodes and (other in derived or other not in scope.concepts):
                graph.add_edge(name, other)
    for cycle in nx.simple_cycles(graph):
        start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
        path = cycle[start:] + cycle[:start] + [cycle[start]]
        kind = "cycle/derived" if any(n in derived for n in path) else "cycle"
        yield diag(kind, nodes[path[0]].span, path=" -> ".join(path))


def _unused(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """An unused declaration is usually a criterion that forgot to say something."""
    used = {name for condition in _uses(protocol) for name in _refs(condition)}
    used |= {c.weight.name for c in protocol.concepts if c.weight is not None}
    used |= {name for c in protocol.concepts if c.formula is not None
             for name in m.formula_names(c.formula)}
    used |= {c.name for c in protocol.concepts if c.counts_as and c.counts_as.name in used}
    used |= {c.at.name for c in protocol.concepts if c.at and c.name in used}
    used |= {c.reads.name for c in protocol.concepts if c.reads and c.name in used}
    used |= {m.window_day(c).name for c in protocol.concepts if m.window_day(c) and c.name in used}
    used |= {c.formula_of.name for c in protocol.concepts if c.formula_of and c.name in used}
    # a value per side: the family is used where a side is, and a side where its family is
    used |= {c.side[0] for c in protocol.concepts if c.side and c.name in used}
    used |= {c.name for c in protocol.concepts if c.side and c.side[0] in used}
    for definition in protocol.definitions:
        if definition.name not in used:
            yield diag("unused-definition", definition.span, name=definition.name)
    for concept in protocol.concepts:
        if concept.name not in used:
            yield diag("unused-concept", concept.span, name=concept.name)
    named = {ref.name for ref in protocol.set_uses}
    module = not (protocol.criteria or protocol.concepts)  # its sets are for the files importing it
    for unused in (s for s in protocol.sets if s.name not in named and not module):
        yield diag("unused-set", unused.span, name=unused.name)


def _texts(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """The verbatim sentence is what a reviewer checks the encoding against."""
    for criterion in protocol.criteria:
        for each in (criterion, *criterion.parts):
            if not each.text:
                yield diag("missing-text", each.span, name=each.id)
            hidden = [c for c in dict.fromkeys(each.text or "") if c in _DIRECTIONS]
            if hidden:  # the sentence would show in another order than the file holds it
                yield diag("text-direction", each.span, name=each.id,
                           chars=", ".join(f"U+{ord(c):04X}" for c in hidden))


#: Characters that turn the order text is shown in (bidirectional embeddings, overrides and
#: isolates, the marks): a sentence holding one may read otherwise than the one stored.
_DIRECTIONS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _unless_after_or(protocol: m.Protocol, _: Scope) -> Iterator[Diagnostic]:
    """`A or B unless C` reads `(A or B) unless C`: the exception then waives A too, which a
    reader of "leptomeningeal or brain metastases, unless treated and stable" may not mean (a
    helper's patient with active leptomeningeal disease and treated brain metastases passed).
    Said where the `or` is written without parentheses; `(A or B) unless C` says it is meant."""
    for node in _every(m.And, _uses(protocol)):
        if len(node.items) != 2 or not isinstance(node.items[0], m.Or):
            continue
        rule, exception = node.items
        if not isinstance(exception, m.Not) or exception.written or \
                source_text(protocol, node.span).startswith("("):  # `(A or B) unless C`
            continue
        last = source_text(protocol, rule.items[-1].span)
        yield diag("unless-after-or", exception.span, rule=source_text(protocol, rule.span),
                   exception=source_text(protocol, exception.span), last=last)


def _or_after_unless(protocol: m.Protocol, _: Scope) -> Iterator[Diagnostic]:
    """`A unless B or C` reads `A unless (B or C)`: C then waives A as B does, where a reader of
    "brain metastases unless treated and stable, or carcinomatous meningitis" means C as a
    condition of its own (a helper's patient with meningitis alone passed). Said where the `or`
    after `unless` is written without parentheses; `A unless (B or C)` says it is meant."""
    for node in _every(m.And, _uses(protocol)):
        if len(node.items) != 2:
            continue
        rule, exception = node.items
        if not isinstance(exception, m.Not) or exception.written or \
                not isinstance(exception.item, m.Or) or _opened(protocol, exception.span):
            continue
        waivers = exception.item.items
        yield diag("or-after-unless", exception.span, rule=source_text(protocol, rule.span),
                   exception=source_text(protocol, exception.span),
                   first=source_text(protocol, waivers[0].span),
                   last=source_text(protocol, waivers[-1].span))


#: A comparison's values as a range: least, whether included, greatest, whether included (None:
#: no bound on that side).
_Range = tuple[Decimal | None, bool, Decimal | None, bool]
_RANGES = {">=": lambda v: (v, True, None, False), ">": lambda v: (v, False, None, False),
           "<=": lambda v: (None, False, v, True), "<": lambda v: (None, False, v, False),
           "==": lambda v: (v, True, v, True)}


def _compared_apart(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """One value compared in two sides of an `or` whose ranges join ("age >= 75 years or (age
    18 to 74 years and comorbidity)"): strong Kleene logic decides each comparison alone, so a
    value known only within bounds across the join (an age of 74 or 75, from a birth year) leaves
    the rule open though each of its values passes (VIALE-A's helper). Said so, with how to
    compare it once."""
    for node in _every(m.Or, _uses(protocol)):
        if meaning.chosen(node):
            continue  # `A if C else B`: its sides are decided by cases of C, not each alone
        seen: dict[str, list[tuple[int, str, _Range, Any]]] = {}
        for place, item in enumerate(node.items):
            for atom in _every((m.Compare, m.InRange), item):
                found = _range_of(atom, scope)
                if found is None:
                    continue
                unit, values, whole = found
                others = seen.setdefault(atom.ref.name, [])
                clash = next((other for at, other_unit, other_values, other in others
                              if at != place and other_unit == unit and _join(values,
                                                                              other_values, whole)
                              and not _within(values, other_values)
                              and not _within(other_values, values)), None)
                if clash is not None:
                    yield diag("compared-apart", atom.span, name=atom.ref.name,
                               first=source_text(protocol, clash.span),
                               second=source_text(protocol, atom.span))
                others.append((place, unit, values, atom))


def _range_of(atom: m.Compare | m.InRange, scope: Scope) -> tuple[str, _Range, bool] | None:
    """A comparison's unit, its range, and whether its value is in whole steps; None where it
    is no range of one unit (a concept not declared, `!=`, bounds in two units)."""
    concept = scope.concepts.get(atom.ref.name)
    if concept is None:
        return None
    whole = concept.kind in (m.Kind.AGE, m.Kind.SCALE)
    if isinstance(atom, m.Compare):
        return (atom.threshold.unit, _RANGES[atom.op](atom.threshold.value), whole) \
            if atom.op in _RANGES else None
    return (atom.low.unit, (atom.low.value, True, atom.high.value, True), whole) \
        if atom.low.unit == atom.high.unit else None


def _within(a: _Range, b: _Range) -> bool:
    """Whether every value of range `a` is in `b` ("age >= 20" in "age >= 18"): a value known
    within bounds across `a`'s edge is then inside `b`, which decides it."""
    low = b[0] is None or a[0] is not None and (a[0] > b[0] or a[0] == b[0] and (b[1] or not a[1]))
    high = b[2] is None or a[2] is not None and (a[2] < b[2] or a[2] == b[2] and (b[3] or not a[3]))
    return low and high


def _join(a: _Range, b: _Range, whole: bool) -> bool:
    """Whether two ranges of one value touch or overlap: no value between them (for a value in
    whole steps, an age or a scale, none between 74 and 75)."""
    below, above = (a, b) if a[0] is None or (b[0] is not None and a[0] <= b[0]) else (b, a)
    if below[2] is None or above[0] is None:
        return True
    gap = above[0] - below[2]
    return gap < 0 or gap == 0 and (below[3] or above[1]) or \
        whole and gap == 1 and below[3] and above[1]


def _opened(protocol: m.Protocol, span: Span) -> bool:
    """Whether the text at `span` is in parentheses that open just before it (a span of a
    parenthesised condition starts inside them)."""
    line = (protocol.source_of(span.file) or "").splitlines()[span.line - 1]
    return line[: span.column - 1].rstrip().endswith("(") or \
        line[span.column - 1:].startswith("(")


def _waivers(protocol: m.Protocol, scope: Scope) -> Iterator[Diagnostic]:
    """`X unless Y` in an inclusion criterion fails every patient with Y. Protocols mostly mean
    a waiver there ("bilirubin <= 1.5 x ULN unless Gilbert's syndrome": then it does not apply),
    which is `X or Y`: said as a warning, since narrowing is sometimes what is meant."""
    for leaf in protocol.leaves():
        if leaf.role is not m.Role.INCLUSION or leaf.condition is None:
            continue
        chosen = {id(choice) for node in _every(m.Or, leaf.condition)
                  for choice in (meaning.chosen(node) or ())[:1]}
        for node in _every(m.Not, leaf.condition):
            if not node.written and id(node.item) not in chosen:  # the exception of `unless`
                yield diag("unless-in-inclusion", node.span, id=leaf.id,
                           exception=source_text(protocol, node.span))


def _fidelity(protocol: m.Protocol, _: Scope) -> Iterator[Diagnostic]:
    """Warnings where a rule's number, comparator or window is not its sentence's."""
    for slip in fidelity.slips(protocol):
        yield diag(slip.kind, slip.span, **slip.info)


#: The checks, in the order they run; each reads the protocol and the recorded declarations.
CHECKS: tuple[Callable[[m.Protocol, Scope], Iterable[Diagnostic]], ...] = (
    contents, header, duplicates, declared_units, attributes, equivalences, weights, _broader,
    _days, _aliases, _conditions, _split_on, _formulas, _escalation, _durations, _limits,
    _cycles, _unused, _texts, _waivers, _unless_after_or, _or_after_unless, _compared_apart, _fidelity,
)
