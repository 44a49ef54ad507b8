"""A semantic diff of two protocols: what an amendment changes, criterion by criterion, in the
protocol author's words.

A line diff of two `.proto-rules` files mixes layout, comments and meaning; whoever reviews an
amendment needs to see which rules now decide differently and which sentences changed. This
compares two parsed `Protocol`s (pure: no lark, no engine): criteria by the protocol's ids (leaf
ids like `I4.renal`, each with a verdict of its own), definitions, concepts, dose-equivalence tables
and escalation rules by name. Conditions are compared as structures with spans stripped, so moving
or reflowing a rule changes nothing, and `and`/`or` as sets of clauses, since their order changes
no verdict. What changed is quoted from the source (`egfr >= 30 mL/min/1.73m2 -> egfr >= 45
mL/min/1.73m2`). A sentence changed while its rule did not, or the reverse, is a warning: the text
and its encoding have drifted apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from protocol import escalation_model as em
from protocol import model as m
from protocol.meaning import flat, meaning
from protocol.errors import Diagnostic, Severity, Span
from protocol.amend.wording import condition_text as text_of
from protocol.amend.wording import (formula_read, quoted, shown, source_text, value_changes,
                                    values_text, word_diff)

#: How a report names each kind of change; the kinds in TEXT_KINDS change no verdict.
LABELS = {
    "applies": "applies when", "values": "value set", "added": "condition added",
    "removed": "condition removed", "rewritten": "condition rewritten", "id": "protocol id",
    "origin": "source", "dlt_text": "DLT definition",
}
TEXT_KINDS = frozenset({"text", "label", "id", "title", "version", "origin", "dlt_text"})
TEXT_ONLY = "text changed but rule did not"
RULE_ONLY = "rule changed but text did not"


@dataclass(frozen=True)
class Change:
    """One thing that changed: its kind (`threshold`, `window+grade`, ...), the old and the new in
    the author's words, and a note (what a value set gained and lost, a sentence's changes)."""

    kind: str
    old: str | None
    new: str | None
    note: str | None = None

    @property
    def semantic(self) -> bool:
        """Whether this change can change a verdict (a sentence or a label cannot)."""
        return self.kind not in TEXT_KINDS

    def __str__(self) -> str:
        label = " and ".join(LABELS.get(k, k.replace("_", " ")) for k in self.kind.split("+"))
        if self.kind in ("values", "text", "dlt_text") and self.note:
            return f"{label}: {self.note}"
        said = " -> ".join(s for s in (self.old, self.new) if s is not None)
        return f"{label}: {said}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Entry:
    """Everything that changed about one criterion, definition, concept, table or rule."""

    subject: str  # criterion | definition | concept | equivalence | header | escalation | design
    #               | rule (an escalation rule)
    name: str
    status: str  # added | removed | changed
    changes: tuple[Change, ...]
    role: str | None = None
    old_span: Span | None = None
    new_span: Span | None = None
    warnings: tuple[str, ...] = ()
    affects: tuple[str, ...] = ()  # the criteria whose verdicts a concept or definition decides

    @property
    def label(self) -> str:
        """How reports name it: a criterion by its id, anything else by subject and name."""
        if self.subject in ("criterion", "header"):
            return self.name
        return f"{self.subject} {self.name}"

    @property
    def semantic(self) -> bool:
        return self.status != "changed" or any(c.semantic for c in self.changes)

    def summary(self) -> str:
        """`added`, `rule changed`, `text changed`, `rule and text changed` (or meaning)."""
        if self.status != "changed" or self.subject == "header":
            return self.status
        what = "rule" if self.subject in ("criterion", "definition", "rule") else "meaning"
        said = [what] * any(c.semantic for c in self.changes)
        said += ["text"] * any(not c.semantic for c in self.changes)
        return " and ".join(said) + " changed"

    def reasons(self) -> list[str]:
        """What in this entry can change a verdict, one line each (rescreen's "because")."""
        if self.status != "changed":
            said = [f": {c.new or c.old}" for c in self.changes[:1]]
            return [f"{self.label} {self.status}" + "".join(said)]
        return [f"{self.label} {c}" for c in self.changes if c.semantic]


@dataclass(frozen=True)
class Diff:
    """The entries of a diff, in the new file's order then removed ones, and what explains what."""

    old_path: str
    new_path: str
    old_version: str | None
    new_version: str | None
    entries: tuple[Entry, ...]
    uses: dict[str, frozenset[str]] = field(default_factory=dict)  # criterion id -> labels it reads

    @property
    def warnings(self) -> list[tuple[Entry, str]]:
        return [(entry, warning) for entry in self.entries for warning in entry.warnings]

    def entry(self, label: str) -> Entry | None:
        return next((e for e in self.entries if e.label == label), None)

    def explaining(self, criterion: str) -> list[Entry]:
        """The entries that can explain a change of this criterion's verdict: its own, and those of
        the definitions, concepts and tables it reads (directly or through definitions)."""
        used = self.uses.get(criterion, frozenset())
        return [e for e in self.entries if e.semantic and (e.label == criterion or e.label in used)]

    def diagnostics(self) -> list[Diagnostic]:
        """The drift warnings as diagnostics at the criterion in the new file, for the author."""
        return [Diagnostic(span, Severity.WARNING, "drift", f"{entry.label}: {warning}")
                for entry, warning in self.warnings
                if (span := entry.new_span or entry.old_span) is not None]


def diff(old: m.Protocol, new: m.Protocol) -> Diff:
    """Compare two protocols entry by entry; the same meaning and text give no entries.

    >>> from grammar.parser import parse
    >>> head = 'protocol "t"\\nconcepts: egfr: quantity in mL/min\\n'
    >>> a = parse(head + 'inclusion I1 "Kidneys": egfr >= 30 mL/min', "a.proto-rules")
    >>> b = parse(head + 'inclusion I1 "Kidneys": egfr >= 45 mL/min', "b.proto-rules")
    >>> [(e.label, str(c)) for e in diff(a, b).entries for c in e.changes]
    [('I1', 'threshold: egfr >= 30 mL/min -> egfr >= 45 mL/min')]
    >>> diff(a, b).entries[0].warnings
    ('rule changed but text did not',)
    """
    found = _header(old, new)
    found += _named("concept", old.concepts, new.concepts, old, new, _concept)
    found += _named("equivalence", old.equivalences, new.equivalences, old, new, _equivalence)
    found += _named("definition", old.definitions, new.definitions, old, new, _definition)
    found += _named("criterion", old.leaves(), new.leaves(), old, new, _criterion)
    found += _parents(old, new, found)
    found += _escalation(old, new)
    found += _named("design", old.designs, new.designs, old, new, _design)
    found += _named("rule", _rules(old), _rules(new), old, new, _rule)
    before, after = _uses(old), _uses(new)
    uses = {leaf: before.get(leaf, frozenset()) | after.get(leaf, frozenset())
            for leaf in dict.fromkeys([*after, *before])}
    found = [_with_affects(entry, uses) for entry in found]
    mains = {old.path, new.path}
    kept = sorted((e for e in found if e.status != "removed"), key=lambda e: _at(e, mains))
    gone = sorted((e for e in found if e.status == "removed"), key=lambda e: _at(e, mains))
    return Diff(old.path, new.path, old.version, new.version, (*kept, *gone), uses)


# -- entries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Named:
    """An escalation rule under the name reports use for it (`three_plus_three R4`)."""

    name: str
    node: em.EscalationRule
    span: Span


def _rules(protocol: m.Protocol) -> list[_Named]:
    return [_Named(f"{design.name} {rule.id}", rule, rule.span) for design in protocol.designs
            for rule in design.rules]


def _named(subject: str, olds: Iterable[Any], news: Iterable[Any], old: m.Protocol,
           new: m.Protocol, compare: Callable[..., Entry | None]) -> list[Entry]:
    """Pair nodes by name (the first of a repeated name counts); unpaired ones are added/removed."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for side, nodes in ((before, olds), (after, news)):
        for node in nodes:
            side.setdefault(getattr(node, "name", None) or node.id, node)
    entries = [_one_sided(subject, name, node, new, "added") if name not in before
               else compare(before[name], node, old, new) for name, node in after.items()]
    entries += [_one_sided(subject, name, node, old, "removed")
                for name, node in before.items() if name not in after]
    return [entry for entry in entries if entry is not None]


def _one_sided(subject: str, name: str, node: Any, protocol: m.Protocol, status: str) -> Entry:
    """An added or removed node, shown as it reads: its rule (or declaration) and its sentence."""
    inner = node.node if isinstance(node, _Named) else node
    said: list[tuple[str, str]] = []
    if getattr(inner, "applies", None) is not None:
        said.append(("applies", text_of(protocol, inner.applies)))
    if hasattr(inner, "condition"):
        said.append(("rule", text_of(protocol, inner.condition)))
    elif isinstance(inner, em.Design):  # its rules are entries of their own
        said.append(("declaration", f"escalation rules {inner.name} ({len(inner.rules)} rules)"))
    else:
        said.append(("declaration", source_text(protocol, inner.span)))
    if isinstance(inner, em.EscalationRule):
        said.append(("move", str(inner.move)))
    if getattr(inner, "text", None):
        said.append(("text", quoted(inner.text)))
    gone = status == "removed"
    changes = tuple(Change(kind, text, None) if gone else Change(kind, None, text)
                    for kind, text in said)
    role = inner.role.value if isinstance(inner, m.Criterion) else None
    return Entry(subject, name, status, changes, role, *((inner.span, None) if gone else
                                                         (None, inner.span)))


def _criterion(a: m.Criterion, b: m.Criterion, old: m.Protocol, new: m.Protocol) -> Entry | None:
    rule: list[Change] = []
    if a.role != b.role:
        rule.append(Change("role", a.role.value, b.role.value))
    if meaning(a.applies) != meaning(b.applies):
        rule.append(Change("applies", text_of(old, a.applies), text_of(new, b.applies)))
    rule += _changes(a.condition, b.condition, old, new)
    return _entry("criterion", b.id, rule, (a.text, b.text), (a.span, b.span), b.role.value)


def _definition(a: m.Definition, b: m.Definition, old: m.Protocol, new: m.Protocol) -> Entry | None:
    rule = _changes(a.condition, b.condition, old, new)
    return _entry("definition", b.name, rule, (a.text, b.text), (a.span, b.span))


def _design(a: em.Design, b: em.Design, old: m.Protocol, new: m.Protocol) -> Entry | None:
    rule = [Change("exclusive", shown(old, a.exclusive), shown(new, b.exclusive))] * (
        a.exclusive != b.exclusive)
    rule += _table(a.table, b.table)
    entry = _entry("design", b.name, rule, (a.text, b.text), (a.span, b.span))
    return entry and replace(entry, warnings=())  # its rules are compared, and warned, one by one


def _table(a: em.DecisionTable | None, b: em.DecisionTable | None) -> list[Change]:
    """A decision table's target, interval and rows, each changed one quoted from both sides."""
    if a is None or b is None:
        return [] if a is b else [Change("decision table", "none" if a is None else "a table",
                                         "none" if b is None else "a table")]
    changes = [Change(what, str(x), str(y)) for what, x, y in (
        ("target", a.target, b.target),
        ("interval", " ".join(map(str, a.interval)), " ".join(map(str, b.interval)))) if x != y]
    rows_a = {row.n: " ".join(row.cells) for row in a.rows}
    rows_b = {row.n: " ".join(row.cells) for row in b.rows}
    for n in sorted(rows_a.keys() | rows_b.keys()):
        if rows_a.get(n) != rows_b.get(n):
            changes.append(Change(f"row n {n}", rows_a.get(n, "none"), rows_b.get(n, "none")))
    return changes


def _rule(a: _Named, b: _Named, old: m.Protocol, new: m.Protocol) -> Entry | None:
    rule = _changes(a.node.condition, b.node.condition, old, new)
    if str(a.node.move) != str(b.node.move):
        rule.append(Change("move", str(a.node.move), str(b.node.move)))
    return _entry("rule", b.name, rule, (a.node.text, b.node.text), (a.span, b.span))


def _entry(subject: str, name: str, rule: list[Change], texts: tuple[str | None, str | None],
           spans: tuple[Span, Span], role: str | None = None) -> Entry | None:
    """An entry for a node with a sentence and a rule; the drift between the two is a warning."""
    changes = [*rule, *[_text_change(*texts)] * (texts[0] != texts[1])]
    if not changes:
        return None
    warnings = (TEXT_ONLY,) if not rule else (RULE_ONLY,) if texts[0] == texts[1] else ()
    return Entry(subject, name, "changed", tuple(changes), role, *spans, warnings)


def _parents(old: m.Protocol, new: m.Protocol, found: list[Entry]) -> list[Entry]:
    """Criteria with parts (I4) have a sentence but no rule of their own: their text is compared,
    and it drifted if none of their parts' rules changed."""
    before = {c.id: c for c in old.criteria if c.parts}
    entries = []
    for b in new.criteria:
        a = before.get(b.id)
        if not b.parts or a is None or a.text == b.text:
            continue
        ids = {leaf.id for leaf in (*a.leaves(), *b.leaves())}
        ruled = any(e.subject == "criterion" and e.name in ids and e.semantic for e in found)
        entries.append(Entry("criterion", b.id, "changed", (_text_change(a.text, b.text),),
                             b.role.value, a.span, b.span, () if ruled else (TEXT_ONLY,)))
    return entries


def _header(old: m.Protocol, new: m.Protocol) -> list[Entry]:
    changes = tuple(Change(key, quoted(getattr(old, key)), quoted(getattr(new, key)))
                    for key in ("id", "title", "version", "origin")
                    if getattr(old, key) != getattr(new, key))
    return [Entry("header", "header", "changed", changes, None, old.span, new.span)] * bool(changes)


def _concept(a: m.Concept, b: m.Concept, old: m.Protocol, new: m.Protocol) -> Entry | None:
    """A concept's kind, unit, validity, values and dosing decide how facts are read: a change there
    changes verdicts even when no criterion was edited."""
    changes = [Change(kind, _concept_said(old, a, kind), _concept_said(new, b, kind))
               for kind in ("kind", "unit", "validity", "dosing", "grade", "conversion",
                            "formula", "attributes", "day")
               if meaning(_concept_field(a, kind)) != meaning(_concept_field(b, kind))]
    if meaning(a.values) != meaning(b.values):
        changes.append(Change("values", values_text(a.values), values_text(b.values),
                              f"{b.name}: {value_changes(a.values, b.values)}"))
    if a.label != b.label:
        changes.append(Change("label", quoted(a.label), quoted(b.label)))
    if not changes:
        return None
    return Entry("concept", b.name, "changed", tuple(changes), None, a.span, b.span)


def _concept_field(concept: m.Concept, kind: str) -> Any:
    weight = concept.weight.name if concept.weight else None
    return {"kind": (concept.kind, concept.planned), "unit": concept.unit, "validity": concept.valid_for,
            "dosing": (concept.dosed_in, concept.equivalence, weight),
            "grade": concept.graded, "conversion": concept.conversions,
            "formula": concept.formula, "attributes": concept.attributes,
            "day": (concept.reads and concept.reads.name, concept.at and concept.at.name,
                    concept.extreme)}[kind]


def _concept_said(protocol: m.Protocol, concept: m.Concept, kind: str) -> str:
    if kind == "validity":
        return f"valid for {concept.valid_for}" if concept.valid_for else \
            f"(a result of {concept.at.name}'s day)" if concept.reads and concept.at else \
            "(every result in its window)" if concept.extreme else "(no limit)"
    if kind == "dosing" and concept.dosed_in:
        return " ".join([f"dosed in {concept.dosed_in}"]
                        + [f"as {concept.equivalence}"] * bool(concept.equivalence)
                        + [f"per {concept.weight.name}"] * bool(concept.weight))
    if kind == "grade":
        return "graded" if concept.graded else "not graded"
    if kind == "kind":
        return f"planned {concept.kind.value}" if concept.planned else concept.kind.value
    if kind == "attributes":
        return " ".join(f"with {a.name} {_attribute_text(a)}" for a in concept.attributes) \
            or "(no attributes)"
    if kind == "day" and concept.extreme:  # the lowest or highest result in a window
        return str(concept.read_as)
    if kind == "day":  # the day an age is counted at, or a value read at (`uacr at visit_1`)
        read = f"{concept.reads.name} " if concept.reads else ""
        return f"{read}at {concept.at.name}" if concept.at else "at the screening date"
    if kind == "formula" and concept.formula is not None:
        return formula_read(protocol, concept, shown(protocol, concept.formula))
    return shown(protocol, _concept_field(concept, kind) if kind != "dosing" else None)


def _attribute_text(attribute: m.Attribute) -> str:
    """What an attribute holds, as declared: `{a, b}`, `in mm`, `number`."""
    if not attribute.numeric:
        return values_text(attribute.values)
    return f"in {attribute.unit}" if attribute.unit else "number"


def _equivalence(a: m.Equivalence, b: m.Equivalence, old: m.Protocol,
                 new: m.Protocol) -> Entry | None:
    before = {e.drug.casefold(): e for e in a.entries}
    after = {e.drug.casefold(): e for e in b.entries}
    changes = [Change("equivalence", shown(old, before.get(drug)), shown(new, after.get(drug)))
               for drug in dict.fromkeys([*after, *before])
               if meaning(before.get(drug)) != meaning(after.get(drug))]
    if a.source != b.source:
        changes.append(Change("label", quoted(a.source), quoted(b.source)))
    return Entry("equivalence", b.name, "changed", tuple(changes), None, a.span,
                 b.span) if changes else None


def _escalation(old: m.Protocol, new: m.Protocol) -> list[Entry]:
    """The escalation section setting by setting (its rules are compared as rules)."""
    a, b = old.escalation, new.escalation
    if a is None or b is None:
        one = a or b
        if one is None:
            return []
        said = f"escalation, {len(one.levels)} dose levels"
        if a is None:
            return [Entry("escalation", "section", "added", (Change("declaration", None, said),),
                          None, None, one.span)]
        return [Entry("escalation", "section", "removed", (Change("declaration", said, None),),
                      None, one.span, None)]
    changes = tuple(replace(_text_change(getattr(a, name), getattr(b, name)), kind=name)
                    if name in TEXT_KINDS else
                    Change(name, shown(old, getattr(a, name)), shown(new, getattr(b, name)))
                    for name in (f.name for f in fields(a) if f.name not in ("span", "repeated"))
                    if meaning(getattr(a, name)) != meaning(getattr(b, name)))
    entry = Entry("escalation", "section", "changed", changes, None, a.span, b.span)
    return [entry] * bool(changes)


def _with_affects(entry: Entry, uses: dict[str, frozenset[str]]) -> Entry:
    if entry.subject not in ("concept", "definition", "equivalence"):
        return entry
    return replace(entry, affects=tuple(leaf for leaf, used in uses.items() if entry.label in used))


def _at(entry: Entry, mains: set[str]) -> tuple[int, int, int]:
    """File order: the header first, then the protocol file, then imported modules."""
    span = entry.new_span or entry.old_span
    if entry.subject == "header" or span is None:
        return (0, 0, 0)
    return (1 if span.file in mains else 2, span.line, span.column)


def _uses(protocol: m.Protocol) -> dict[str, frozenset[str]]:
    """For each criterion: the labels of every definition, concept and table its verdict reads."""
    concepts = {c.name: c for c in reversed(protocol.concepts)}
    definitions = {d.name: d for d in reversed(protocol.definitions)}

    def reads(condition: m.Condition | None, seen: set[str]) -> set[str]:
        names: set[str] = set()
        for atom in m.atoms(condition) if condition is not None else ():
            names |= name_reads(atom.ref.name, seen)
        return names

    def name_reads(name: str, seen: set[str]) -> set[str]:
        if name in seen:
            return set()
        seen.add(name)
        if name in definitions:
            return {f"definition {name}"} | reads(definitions[name].condition, seen)
        concept = concepts.get(name)
        if concept is None:
            return set()
        found = {f"concept {name}"}
        if concept.equivalence:
            found.add(f"equivalence {concept.equivalence}")
        if concept.formula is not None:  # a derived value reads its formula's names
            for read in m.formula_names(concept.formula):
                found |= name_reads(read, seen)
        for read in (concept.weight, concept.reads, concept.at, m.window_day(concept)):
            if read is not None:  # a dose per kg, a day's reading and the day's concept, the
                found |= name_reads(read.name, seen)  # day a window of results counts from
        return found

    return {leaf.id: frozenset(reads(leaf.applies, set()) | reads(leaf.condition, set()))
            for leaf in protocol.leaves()}


# -- conditions ------------------------------------------------------------------------------------


def _changes(a: m.Condition | None, b: m.Condition | None, old: m.Protocol,
             new: m.Protocol) -> list[Change]:
    """What differs between two conditions, as precisely as their shapes allow; when they differ in
    shape, the whole condition was rewritten."""
    if meaning(a) == meaning(b):
        return []
    found: list[Change] = []
    compound = (m.And, m.Or)
    if a is None or b is None:
        pass
    elif isinstance(a, compound) and (type(a) is type(b) or not isinstance(b, compound)):
        found = _clauses(flat(a), flat(b) if type(a) is type(b) else [b], old, new, a)
    elif isinstance(b, compound) and not isinstance(a, compound):  # `x` became `x and y`
        found = _clauses([a], flat(b), old, new, b)
    elif type(a) is not type(b):
        pass
    elif isinstance(a, m.Not):
        found = _changes(a.item, b.item, old, new)
    elif isinstance(a, m.AtLeast):
        if a.count != b.count:
            found.append(Change("threshold", f"at least {a.count} of", f"at least {b.count} of"))
        if a.counts_one_list and b.counts_one_list and _head(a.items[0]) == _head(b.items[0]):
            drugs = tuple(i.drug for i in a.items), tuple(i.drug for i in b.items)
            if meaning(drugs[0]) != meaning(drugs[1]):
                found.append(Change("values", text_of(old, a), text_of(new, b),
                                    f"{b.items[0].ref.name}: {value_changes(*drugs)}"))
        else:
            found += _clauses(list(a.items), list(b.items), old, new, b)
    elif _head(a) == _head(b) and (kinds := _atom_kinds(a, b)):
        note = None
        if isinstance(a, (m.Is, m.Includes)) and "values" in kinds:
            drugs = (a.values, b.values) if isinstance(a, m.Is) else ((a.drug,), (b.drug,))
            note = f"{a.ref.name}: {value_changes(*drugs)}"
        found.append(Change("+".join(kinds), text_of(old, a), text_of(new, b), note))
    return found or [Change("rewritten", text_of(old, a), text_of(new, b))]


def _clauses(olds: list, news: list, old: m.Protocol, new: m.Protocol,
             node: m.Condition) -> list[Change]:
    """Clauses of `and`/`or` (`node`): equal ones match whatever their order; the rest pair by
    concept, then in order; what is left was added (`and x`) or removed."""
    joint = {m.And: "and ", m.Or: "or "}.get(type(node), "")
    news = list(news)
    unmatched = []
    for item in olds:
        twin = next((i for i, other in enumerate(news) if meaning(other) == meaning(item)), None)
        if twin is None:
            unmatched.append(item)
        else:
            del news[twin]
    pairs = []
    for item in list(unmatched):
        twin = next((i for i, other in enumerate(news) if _head(other) == _head(item)), None)
        if twin is not None:
            pairs.append((item, news.pop(twin)))
            unmatched.remove(item)
    while unmatched and news:
        pairs.append((unmatched.pop(0), news.pop(0)))
    found = [change for a, b in pairs for change in _changes(a, b, old, new)]
    found += [Change("removed", joint + text_of(old, item), None) for item in unmatched]
    return found + [Change("added", None, joint + text_of(new, item)) for item in news]


def _atom_kinds(a: m.Atom, b: m.Atom) -> list[str]:
    """Which aspects of two atoms about one concept differ, in the order a reader meets them."""
    def differs(*names: str) -> bool:
        return any(meaning(getattr(a, n)) != meaning(getattr(b, n)) for n in names)

    if isinstance(a, m.CumulativeDose) and a.reading != b.reading:
        return []  # a sum rewritten as an average, or back: another condition, not a threshold
    if isinstance(a, (m.Compare, m.CompareReference, m.Course, m.CurrentDose,
                      m.CumulativeDose)):
        limits = {m.Compare: ("threshold",), m.Course: ("dose",), m.CurrentDose: ("dose",),
                  m.CumulativeDose: ("dose",)}.get(type(a), ("factor", "bound"))
        kinds = ["comparator"] * differs("op") + ["threshold"] * differs(*limits)
        return kinds + ["window"] * (isinstance(a, m.Course) and differs("duration") or
                                     isinstance(a, m.CurrentDose) and differs("anchor") or
                                     isinstance(a, m.CumulativeDose) and differs("window"))
    if isinstance(a, m.Confirmed):
        return _atom_kinds(a.measured, b.measured)
    if isinstance(a, m.Counted):
        return ["count"] * differs("count", "by") + _atom_kinds(a.occurred, b.occurred)
    if isinstance(a, m.NoKnown) and a.known != b.known:
        return []  # `no known X` made `known X`, or back: another condition
    if isinstance(a, (m.Latest, m.NoKnown, m.OfLatest)):
        return _atom_kinds(a.occurred, b.occurred)
    if isinstance(a, (m.StableDose, m.Continuous)):
        return ["window"] * differs("duration", "anchor", *(
            () if isinstance(a, m.StableDose) else ("before",)))
    if isinstance(a, m.Occurred):
        return ["filter"] * differs("filters") + ["window"] * differs("window") + \
            ["grade"] * differs("grade")
    if isinstance(a, m.Is):
        return ["comparator"] * differs("negated") + ["values"] * differs("values")
    if isinstance(a, m.Recorded):
        return ["comparator"] * differs("negated")
    return ["values"] * (isinstance(a, m.Includes) and differs("drug"))


def _head(node: Any) -> tuple[str, ...]:
    ref = getattr(node, "ref", None)
    return (type(node).__name__, ref.name) if ref is not None else (type(node).__name__,)


def _text_change(old: str | None, new: str | None) -> Change:
    note = word_diff(old, new) if old is not None and new is not None else None
    return Change("text", quoted(old), quoted(new), note and f'"{note}"')
