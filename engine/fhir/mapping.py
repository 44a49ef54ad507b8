"""A protocol's FHIR map: which codes (LOINC, SNOMED CT, RxNorm, ICD-10, ATC, a site's own) are
which of its concepts, drugs, category values and grades.

A FHIR resource says what it is by codes, a protocol by concept names; nothing in between may be
guessed, so the map is a file the protocol names (`map "cd19-ucart-sle.fhir-map.yaml"`) and a
code it does not list is reported, never read. The map is checked against the protocol when it is
loaded (every concept declared, every drug and value one the concept declares, no code given two
meanings): a mistake is a one-line error at the map's file:line:col, before a patient is read.

>>> from engine import pipeline
>>> protocol, _ = pipeline.load_text('protocol "t"\\nversion "1"\\n'
...     'concepts: ast: lab in U/L\\ninclusion I1 "AST": ast <= 3 x ULN', "t.proto-rules")
>>> mapping = parse_map(protocol, "systems: {loinc: http://loinc.org}\\n"
...     "concepts: {ast: loinc 1920-8}\\n", "t.yaml")
>>> mapping.codes[("http://loinc.org", "1920-8")]
Meaning(concept='ast', drug=None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from protocol import model as m
from protocol.errors import Diagnostic, ProtocolError, Severity, Span

#: The sections a map file may have, each said in the README ("Patients as FHIR Bundles").
SECTIONS = ("systems", "gender", "units", "values", "concepts")
#: What a concept's entry may hold beside its codes.
CONCEPT_KEYS = ("codes", "drugs", "values", "grades", "sides")


@dataclass(frozen=True)
class Meaning:
    """What a code stands for: a concept, and for a medication's code, which of its drugs."""

    concept: str
    drug: str | None = None


@dataclass
class Mapping:
    """A loaded map: codes as (system URL, code)."""

    path: str
    codes: dict[tuple[str, str], Meaning] = field(default_factory=dict)
    #: Per concept, codes that give its value (a category value, or true/false for a flag); the
    #: key "" holds the codes every concept reads (SNOMED's Negative, Positive).
    values: dict[str, dict[tuple[str, str], str | bool]] = field(default_factory=dict)
    #: Per graded event, codes (a Condition's severity or stage) that give its grade.
    grades: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    #: Per concept measured per side (`abi: score per ankle {left, right}`), the codes of an
    #: Observation's bodySite that give its side (SNOMED CT's left ankle region, ...).
    sides: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    #: UCUM codes as the protocol writes their units (`mL/min/{1.73_m2}` is mL/min/1.73m2).
    units: dict[str, str] = field(default_factory=dict)
    #: The category concept Patient.gender gives, if the protocol reads it.
    gender: str | None = None

    def value(self, concept: str, code: tuple[str, str]) -> str | bool | None:
        """The value a code gives a concept: the concept's own table first, then the shared one."""
        own = self.values.get(concept, {})
        return own[code] if code in own else self.values.get("", {}).get(code)


def map_path(protocol: m.Protocol) -> str | None:
    """Where the map the protocol names is: from the protocol file's folder."""
    return str(Path(protocol.path).parent / protocol.maps[0].path) if protocol.maps else None


def load_map(protocol: m.Protocol, missing_ok: bool = False) -> Mapping | None:
    """The map the protocol names, read and checked; None when it names none (or, `missing_ok`,
    when its file is not there: a protocol copied without its map still reads fact files, and a
    Bundle then says the map is missing). A map that cannot be read or does not fit the protocol
    raises `ProtocolError` (each problem at file:line:col)."""
    path = map_path(protocol)
    if path is None or missing_ok and not Path(path).exists():
        return None
    named = protocol.maps[0]
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ProtocolError([Diagnostic(named.span, Severity.ERROR, "fhir-map",
                                        f"cannot read the FHIR map {path}: {reason}")],
                            protocol.source_of(named.span.file)) from None
    return parse_map(protocol, text, path)


def parse_map(protocol: m.Protocol, text: str, path: str) -> Mapping:
    """A map file's text read against the protocol (see `load_map`)."""
    reader = _Reader(protocol, path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        lines = text.splitlines() or [""]
        if line > len(lines):  # at the end of the file: shown after its last line's text
            line, column = len(lines), len(lines[-1]) + 1
        span = Span(path, line, column, line, column + 1)
        raise ProtocolError([Diagnostic(span, Severity.ERROR, "fhir-map",
                                        f"not YAML: {error.problem}")], text) from None
    if root is not None:
        reader.read(root)
    if reader.problems:
        raise ProtocolError(sorted(reader.problems, key=lambda d: d.span), text)
    return reader.mapping


class _Reader:
    """Walks the composed YAML (its nodes keep their positions), collecting every problem."""

    def __init__(self, protocol: m.Protocol, path: str) -> None:
        self.protocol = protocol
        self.path = path
        self.mapping = Mapping(path)
        self.systems: dict[str, str] = {}
        self.problems: list[Diagnostic] = []
        self.seen: dict[tuple[str, str], Span] = {}

    def problem(self, node: yaml.Node, message: str) -> None:
        start, end = node.start_mark, node.end_mark
        end_column = end.column + 1 if end.line == start.line else start.column + 2
        self.problems.append(Diagnostic(
            Span(self.path, start.line + 1, start.column + 1, start.line + 1, end_column),
            Severity.ERROR, "fhir-map", message))

    def pairs(self, node: yaml.Node, what: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        """A mapping node's entries (scalar keys only), or a problem."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} is a mapping of 'key: value' entries")
            return []
        entries = []
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                entries.append((key, value))
            else:
                self.problem(key, f"a key in {what} is a single word or code")
        return entries

    def scalars(self, node: yaml.Node, what: str) -> list[yaml.ScalarNode]:
        """One scalar or a list of scalars."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for item in items:
            if not isinstance(item, yaml.ScalarNode):
                self.problem(item, f"{what} is a code ('loinc 1920-8') or a list of codes")
        return [item for item in items if isinstance(item, yaml.ScalarNode)]

    def read(self, root: yaml.Node) -> None:
        sections = dict((key.value, (key, value)) for key, value in self.pairs(root, "a map file"))
        for name, (key, _) in sections.items():
            if name not in SECTIONS:
                self.problem(key, f"unknown section '{name}': a map has {', '.join(SECTIONS)}")
        if "systems" in sections:
            for key, value in self.pairs(sections["systems"][1], "systems"):
                if not isinstance(value, yaml.ScalarNode) or not value.value:
                    self.problem(value, f"system '{key.value}' is a URL, like http://loinc.org")
                else:
                    self.systems[key.value] = value.value
        if "units" in sections:
            for key, value in self.pairs(sections["units"][1], "units"):
                if isinstance(value, yaml.ScalarNode):
                    self.mapping.units[key.value] = value.value
                else:
                    self.problem(value, "a unit is written as the protocol writes it")
        if "gender" in sections:
            self._gender(sections["gender"][1])
        if "values" in sections:
            self.mapping.values[""] = self._values(sections["values"][1], None)
        if "concepts" in sections:
            for key, value in self.pairs(sections["concepts"][1], "concepts"):
                self._concept(key, value)

    def code(self, node: yaml.ScalarNode) -> tuple[str, str] | None:
        """`loinc 1920-8` as (http://loinc.org, 1920-8), the system named in `systems`."""
        parts = node.value.split(None, 1) if isinstance(node.value, str) else []
        if len(parts) != 2:
            self.problem(node, f"'{node.value}' is not a code: write the system's short name "
                         "and the code, like 'loinc 1920-8'")
            return None
        if parts[0] not in self.systems:
            known = ", ".join(self.systems) or "none"
            self.problem(node, f"unknown system '{parts[0]}' (systems declared: {known})")
            return None
        return self.systems[parts[0]], parts[1].strip()

    def _gender(self, node: yaml.Node) -> None:
        concept = self.protocol.concept(node.value) if isinstance(node, yaml.ScalarNode) else None
        if concept is None or concept.kind is not m.Kind.CATEGORY:
            self.problem(node, "gender names the protocol's category concept Patient.gender "
                         "gives, like 'sex'")
        else:
            self.mapping.gender = concept.name

    def _concept(self, key: yaml.ScalarNode, node: yaml.Node) -> None:
        concept = self.protocol.concept(key.value)
        if concept is None or concept.kind is m.Kind.DERIVED or concept.reads is not None:
            why = "not declared" if concept is None else "derived" if concept.reads is None \
                else f"{concept.read_as} (map {concept.reads.name})"
            self.problem(key, f"'{key.value}' is {why}: a map names concepts facts are given for")
            return
        if not isinstance(node, yaml.MappingNode):
            node = yaml.MappingNode("tag:yaml.org,2002:map", [(key, node)],
                                    node.start_mark, node.end_mark)
            entries = {"codes": node.value[0][1]}
            keys = {"codes": key}
        else:
            pairs = self.pairs(node, f"'{key.value}'")
            entries = {k.value: v for k, v in pairs}
            keys = {k.value: k for k, _ in pairs}
        for name, where in keys.items():
            if name not in CONCEPT_KEYS:
                self.problem(where, f"unknown entry '{name}' for {concept.name}: it may have "
                             f"{', '.join(CONCEPT_KEYS)}")
        if "codes" in entries:
            for item in self.scalars(entries["codes"], "codes"):
                self._claim(item, Meaning(concept.name))
        if "drugs" in entries:
            self._drugs(concept, keys["drugs"], entries["drugs"])
        if "values" in entries:
            self.mapping.values[concept.name] = self._values(entries["values"], concept)
        if "grades" in entries:
            self._grades(concept, keys["grades"], entries["grades"])
        if "sides" in entries:
            self._sides(concept, keys["sides"], entries["sides"])

    def _claim(self, node: yaml.ScalarNode, meaning: Meaning) -> None:
        code = self.code(node)
        if code is None:
            return
        if code in self.seen:
            self.problem(node, f"'{node.value}' is already mapped at line {self.seen[code].line}")
            return
        self.seen[code] = Span(self.path, node.start_mark.line + 1, 1, 1, 1)
        self.mapping.codes[code] = meaning

    def _drugs(self, concept: m.Concept, key: yaml.Node, node: yaml.Node) -> None:
        if concept.kind is not m.Kind.MEDICATION:
            self.problem(key, f"'{concept.name}' is not a medication: it has no drugs")
            return
        for name, codes in self.pairs(node, "drugs"):
            drug = concept.canonical(str(name.value))
            if drug is None:
                self.problem(name, f"'{name.value}' is not a drug of {concept.name}")
                continue
            for item in self.scalars(codes, "a drug's codes"):
                self._claim(item, Meaning(concept.name, drug))

    def _values(self, node: yaml.Node, concept: m.Concept | None
                ) -> dict[tuple[str, str], str | bool]:
        """Codes to values: a category's declared value, or true/false for a flag."""
        table: dict[tuple[str, str], str | bool] = {}
        for key, value in self.pairs(node, "values"):
            code = self.code(key)
            if not isinstance(value, yaml.ScalarNode):
                self.problem(value, "a value is one word: the concept's value, or true or false")
                continue
            meant: str | bool | None = value.value
            if value.tag == "tag:yaml.org,2002:bool" or value.value in ("true", "false"):
                meant = value.value.lower() in ("true", "yes", "on")
            elif concept is not None:
                if concept.kind is not m.Kind.CATEGORY:
                    self.problem(value, f"'{concept.name}' is {concept.kind.value}: its values "
                                 "are true or false")
                    continue
                meant = concept.canonical(value.value)
                if meant is None:
                    allowed = ", ".join(v.name for v in concept.values)
                    self.problem(value, f"'{value.value}' is not a value of {concept.name} "
                                 f"({allowed})")
                    continue
            if code is not None:
                table[code] = meant
        return table

    def _sides(self, concept: m.Concept, key: yaml.Node, node: yaml.Node) -> None:
        """Each side's bodySite codes, for the family's own codes (one code for every side, as
        LOINC's ankle-brachial index is, the side in bodySite)."""
        if not concept.sides:
            self.problem(key, f"'{concept.name}' is not measured per side: it has no sides")
            return
        table: dict[tuple[str, str], str] = {}
        for side, codes in self.pairs(node, "sides"):
            if side.value not in concept.sides:
                self.problem(side, f"'{side.value}' is not a side of {concept.name} "
                             f"({', '.join(concept.sides)})")
                continue
            for item in self.scalars(codes, "a side's bodySite codes"):
                code = self.code(item)
                if code is not None and code in table:
                    self.problem(item, f"'{item.value}' is already the side {table[code]}")
                elif code is not None:
                    table[code] = side.value
        self.mapping.sides[concept.name] = table

    def _grades(self, concept: m.Concept, key: yaml.Node, node: yaml.Node) -> None:
        if concept.kind is not m.Kind.EVENT or not concept.graded:
            self.problem(key, f"'{concept.name}' is not a graded event")
            return
        table: dict[tuple[str, str], int] = {}
        for code_node, value in self.pairs(node, "grades"):
            code = self.code(code_node)
            grade = value.value if isinstance(value, yaml.ScalarNode) else None
            if not (isinstance(grade, str) and grade.isdigit()):
                self.problem(value, "a grade is a whole number")
            elif code is not None:
                table[code] = int(grade)
        self.mapping.grades[concept.name] = table
