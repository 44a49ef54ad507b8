"""What the language server answers, as plain functions of a document's text and a position.

`analyse` reads a document once per version: its diagnostics (several syntax errors by recovery,
or every diagnostic `check` gives), its tokens (up to the first error when it does not parse) and
its model. Hover, definition, references, completion, symbols, formatting, the quick fixes of
diagnostics and rename read that analysis; `lsp/server.py` only carries them over JSON-RPC. Lines
and columns here count from 0 in code points; the server converts them into the client's units
(UTF-16 for most editors).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lsprotocol import types as t

from engine.pipeline import network_problems
from grammar.layout import Lexeme, expected, format_text, is_name, lexemes, words
from grammar.parser import parse
from grammar.recovery import recover
from protocol import model as m
from protocol.checks import check
from protocol.errors import Diagnostic, ProtocolError, Severity, Span
from protocol.units import UnitProblem, convert

#: Concept kinds said in words, for hover.
KIND_WORDS = {m.Kind.QUANTITY: "quantity", m.Kind.LAB: "lab value", m.Kind.SCORE: "score",
              m.Kind.SCALE: "scale", m.Kind.TITRE: "titre (a dilution, read as its reciprocal)",
              m.Kind.AGE: "age", m.Kind.FLAG: "flag (yes or no)",
              m.Kind.JUDGMENT: "judgment (the investigator's)", m.Kind.CATEGORY: "category",
              m.Kind.EVENT: "event (a history of occurrences)",
              m.Kind.MEDICATION: "medication (a history of courses)", m.Kind.DATE: "date",
              m.Kind.DERIVED: "derived value (worked out from other facts)"}


@dataclass(frozen=True)
class Analysis:
    """One version of a document, read once: what every request about it needs."""

    text: str
    path: str
    diagnostics: list[Diagnostic]
    lexemes: list[Lexeme]
    protocol: m.Protocol | None  # None while the text does not parse


def analyse(text: str, path: str, previous: m.Protocol | None = None) -> Analysis:
    """Diagnostics, tokens and model of `text`. While the text does not parse, the model and the
    tokens after the first error are those of its whole constructs (recovery blanks the broken
    ones, every position kept), or failing that the model is `previous`, the last that parsed:
    names still complete, hover and jump."""
    protocol = None
    tokens = lexemes(text, path, partial=True)
    try:
        protocol = parse(text, path)
    except ProtocolError as error:  # syntax errors, or an import that cannot be read or parsed
        found, kept = recover(text, path)
        diagnostics = [_here(d, path) for d in found or error.diagnostics]
        if found:
            read = tokens[-1].end if tokens else 0
            tokens += [x for x in lexemes(kept, path, partial=True) if x.start >= read]
            try:
                protocol = parse(kept, path)
            except ProtocolError:
                protocol = None
    else:
        diagnostics = [_here(d, path) for d in check(protocol)]
        if not any(d.is_error for d in diagnostics):
            diagnostics += [_here(d, path) for d in network_problems(protocol)]
    return Analysis(text, path, diagnostics, tokens, protocol or previous)


def _here(diagnostic: Diagnostic, path: str) -> Diagnostic:
    """A diagnostic in an imported module, shown at the top of the importing file with its place."""
    if diagnostic.span.file == path:
        return diagnostic
    return Diagnostic(Span(path, 1, 1, 1, 1), diagnostic.severity, diagnostic.code,
                      f"{diagnostic.span}: {diagnostic.message}")


def lsp_diagnostics(analysis: Analysis) -> list[t.Diagnostic]:
    return [t.Diagnostic(range=_range(d.span), message=d.message, code=d.code,
                         source="proto-rules",
                         severity=t.DiagnosticSeverity.Error if d.severity is Severity.ERROR
                         else t.DiagnosticSeverity.Warning)
            for d in analysis.diagnostics]


# --- hover ----------------------------------------------------------------------------------------


def hover(analysis: Analysis, line: int, column: int) -> t.Hover | None:
    """A concept's kind, unit, validity and label; a definition's or criterion's sentence; a
    set's values; a threshold's value in its concept's unit."""
    lexeme = _lexeme_at(analysis.lexemes, line, column)
    protocol = analysis.protocol
    if lexeme is None or protocol is None:
        return None
    text = None
    if lexeme.kind in ("NUMBER", "UNIT"):
        text = _threshold(protocol, lexeme)
    if text is None and lexeme.kind == "NAME":
        text = _name(protocol, lexeme.text) or _part(protocol, analysis.lexemes, lexeme)
    if text is None and lexeme.kind == "CRITERION_ID":
        criterion = next((c for c in protocol.criteria if c.id == lexeme.text), None)
        text = _criterion(criterion) if criterion else None
    if text is None:
        return None
    return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text),
                   range=lexeme_range(lexeme))


def _name(protocol: m.Protocol, name: str) -> str | None:
    concept = protocol.concept(name)
    if concept is not None:
        return _concept(concept)
    definition = protocol.definition(name)
    if definition is not None:
        said = f"\n\n> {definition.text}" if definition.text else ""
        return f"**{name}**: definition (true, false or unknown per patient){said}"
    named = protocol.named_values(name)
    if named is not None:
        said = f"\n\n> {named.text}" if named.text else ""
        return f"**{name}**: set {{{', '.join(v.name for v in named.values)}}}{said}"
    return None


def _concept(concept: m.Concept) -> str:
    kind = KIND_WORDS.get(concept.kind, concept.kind.value)
    lines = [f"**{concept.name}**: {'planned ' * concept.planned}{kind}"]
    if concept.unit:
        lines.append(f"unit: {concept.unit}")
    if concept.dosed_in:
        lines.append(f"dosed in: {concept.dosed_in}")
    if concept.steps:
        lines.append(f"from {concept.steps[0]} to {concept.steps[1]}")
    for conversion in concept.conversions:
        lines.append(f"convert: {conversion}")
    if concept.formula_of and concept.formula:
        lines.append(f"{concept.formula_of.name}'s formula, reading "
                     + ", ".join(m.formula_names(concept.formula)))
    if concept.extreme:
        lines.append(f"reads: {concept.read_as}, up to the screening date")
    elif concept.reads:
        lines.append(f"reads: {concept.reads.name}, as of {concept.at.name}")
        lines.append(f"valid for {concept.valid_for} before {concept.at.name}"
                     if concept.valid_for else f"a result of {concept.at.name}'s day")
    elif concept.valid_for:
        lines.append(f"valid for {concept.valid_for} before the screening date")
    if concept.values:
        lines.append("values: " + ", ".join(v.name for v in concept.values))
    for attribute in concept.attributes:
        held = (f"a number in {attribute.unit}" if attribute.unit else "a number") \
            if attribute.numeric else ", ".join(v.name for v in attribute.values)
        lines.append(f"with {attribute.name}: {held}")
    if concept.counts_as:
        lines.append(f"counts as: {concept.counts_as.name}")
    if concept.sides:
        lines.append(f"per {concept.per}: " + ", ".join(f"{concept.name}_{side}"
                                                     for side in concept.sides))
    if concept.side:
        lines.append(f"{concept.side[0]} at the {concept.side[1]} {concept.per}")
    if concept.label:
        lines.append(f"\n> {concept.label}")
    return "  \n".join(lines)


def _criterion(criterion: m.Criterion) -> str:
    parts = ", ".join(p.id for p in criterion.parts)
    head = f"**{criterion.role.value} {criterion.id}**" + (f" (parts: {parts})" if parts else "")
    return head + (f"\n\n> {criterion.text}" if criterion.text else "")


def _part(protocol: m.Protocol, found: list[Lexeme], lexeme: Lexeme) -> str | None:
    """A part's name (`part renal ...`) hovers with its sentence."""
    index = found.index(lexeme)
    if index == 0 or found[index - 1].text != "part":
        return None
    for part in (p for c in protocol.criteria for p in c.parts):
        if part.id.rsplit(".", 1)[-1] == lexeme.text and part.span.line == found[index - 1].line:
            return _criterion(part)
    return None


def _threshold(protocol: m.Protocol, lexeme: Lexeme) -> str | None:
    """`30 mL/min/1.73m2` in a comparison, said in the unit its concept is measured in."""
    for compared, quantity in _thresholds(protocol):
        span = quantity.span
        if not (span.line, span.column) <= (lexeme.line, lexeme.column) < \
                (span.end_line, span.end_column):
            continue
        concept = protocol.concept(compared.ref.name)
        if concept is None or not concept.unit or not quantity.unit:
            return f"**{quantity}**"
        if quantity.unit == concept.unit:
            return f"**{quantity}**, in {concept.name}'s unit"
        try:
            value = convert(quantity.value, quantity.unit, concept.unit, concept.factors,
                            aliases=protocol.aliases)
        except UnitProblem as problem:
            return f"**{quantity}**: {problem}"
        return f"**{quantity}** = {_plain(value)} {concept.unit} ({concept.name}'s unit)"
    return None


def _thresholds(protocol: m.Protocol):
    conditions = [d.condition for d in protocol.definitions]
    for criterion in protocol.criteria:
        for leaf in (criterion, *criterion.parts):
            conditions += [c for c in (leaf.condition, leaf.applies) if c is not None]
    for condition in conditions:
        for atom in m.atoms(condition):
            if isinstance(atom, m.Compare):
                yield atom, atom.threshold
            elif isinstance(atom, m.InRange):
                yield atom, atom.low
                yield atom, atom.high


def _plain(value: Decimal) -> str:
    """132.600000 as 132.6: the converted value without the padding of its rounding."""
    return format(value.normalize(), "f")


# --- definition and references --------------------------------------------------------------------


def definition(analysis: Analysis, line: int, column: int) -> tuple[str, t.Range] | None:
    """Where the concept, definition or set named at the position is declared: the file (this
    one, or the imported module that declares the set) and the range of its name there."""
    lexeme = _lexeme_at(analysis.lexemes, line, column)
    if lexeme is None or lexeme.kind != "NAME" or analysis.protocol is None:
        return None
    declared = _declaration(analysis, lexeme.text)
    if declared is not None:
        return analysis.path, lexeme_range(declared)
    return _imported(analysis.protocol, lexeme.text)


def _imported(protocol: m.Protocol, name: str) -> tuple[str, t.Range] | None:
    """The name of a set an imported module declares, among that module's tokens."""
    found = next((s for s in protocol.imported_sets if s.name == name), None)
    source = protocol.source_of(found.span.file) if found is not None else None
    if found is None or source is None:
        return None
    declared = _named(lexemes(source, found.span.file, partial=True), found.span, name)
    return (found.span.file, lexeme_range(declared)) if declared else None


def references(analysis: Analysis, line: int, column: int, declaration: bool) -> list[t.Range]:
    """Every place the concept, definition or set at the position is named (its declaration too if
    asked): each name token that spells it."""
    lexeme = _lexeme_at(analysis.lexemes, line, column)
    if lexeme is None or lexeme.kind != "NAME" or analysis.protocol is None:
        return []
    declared = _declaration(analysis, lexeme.text)
    if declared is None:
        return []
    return [lexeme_range(x) for x in analysis.lexemes
            if x.kind == "NAME" and x.text == lexeme.text and (declaration or x != declared)]


def _declaration(analysis: Analysis, name: str) -> Lexeme | None:
    protocol = analysis.protocol
    node = protocol.concept(name) or protocol.definition(name) \
        or protocol.named_values(name)  # type: ignore[union-attr]
    if node is None or node.span.file != analysis.path:
        return None
    return _named(analysis.lexemes, node.span, name)


def _named(tokens: list[Lexeme], span: Span, name: str) -> Lexeme | None:
    """The first name token spelling `name` from the start of a declaration's `span` on."""
    return next((x for x in tokens if x.kind == "NAME" and x.text == name
                 and (x.line, x.column) >= (span.line, span.column)), None)


# --- quick fixes and rename -----------------------------------------------------------------------


def fixes(analysis: Analysis, start: tuple[int, int],
          end: tuple[int, int]) -> list[tuple[t.Diagnostic, t.TextEdit]]:
    """The fixes of the diagnostics touching the lines and columns from `start` to `end`: a
    name `check` suggests for a misspelt one, a sign the parser offers for one the language does
    not have (`=>`). Each with the diagnostic it settles; offered only while the text at the fix
    still reads what it did (`Fix.was`)."""
    found, lines = [], analysis.text.split("\n")
    for diagnostic, shown in zip(analysis.diagnostics, lsp_diagnostics(analysis)):
        fix = diagnostic.fix
        if fix is None or fix.span.file != analysis.path or fix.span.line != fix.span.end_line:
            continue
        where = _range(fix.span)
        if (where.end.line, where.end.character) < start or \
                (where.start.line, where.start.character) > end:
            continue
        if lines[where.start.line][where.start.character:where.end.character] == fix.was:
            found.append((shown, t.TextEdit(range=where, new_text=fix.text)))
    return found


class Refused(Exception):
    """A rename the server will not make, and why: said to the author by the editor."""


def renamed(analysis: Analysis, line: int, column: int) -> Lexeme:
    """The name at the position, if it may be renamed: a definition's or a derived value's. A
    concept whose facts are given is named so by the fact files (and FHIR and OMOP maps): renamed
    here alone, every fact of it would go unread, so it is not renamed."""
    lexeme = _lexeme_at(analysis.lexemes, line, column)
    protocol = analysis.protocol
    if lexeme is None or lexeme.kind != "NAME" or protocol is None:
        raise Refused("only a definition's or a derived value's name can be renamed")
    concept = protocol.concept(lexeme.text)
    if concept is not None and concept.formula is None:
        raise Refused(f"'{lexeme.text}' is a concept: fact files (and FHIR and OMOP maps) name "
                      "its facts so, and renamed here alone each would go unread")
    if _declaration(analysis, lexeme.text) is None:
        raise Refused(f"'{lexeme.text}' is not a definition or derived value of this file")
    return lexeme


def rename(analysis: Analysis, line: int, column: int, name: str) -> list[t.TextEdit]:
    """Every place the definition or derived value at the position is named, renamed `name`;
    refused when `name` is no name or a word of the language, or when the file renamed so
    reads worse (a clash with another name: a new error of `check`)."""
    old = renamed(analysis, line, column).text
    if not is_name(name):
        raise Refused(f"'{name}' is not a name: lower-case letters, digits and _, not first a "
                      "digit")
    if name in words():
        raise Refused(f"'{name}' is a word of the language: choose another name")
    edits = [t.TextEdit(range=where, new_text=name)
             for where in references(analysis, line, column, declaration=True)]
    text = _edited(analysis.text, edits)
    before = {(d.code, d.message) for d in analysis.diagnostics}
    try:
        after = [d for d in check(parse(text, analysis.path))
                 if d.is_error and (d.code, d.message) not in before]
    except ProtocolError as error:
        after = error.diagnostics
    if after:
        raise Refused(f"'{old}' cannot be renamed '{name}': {after[0].message}")
    return edits


def _edited(text: str, edits: list[t.TextEdit]) -> str:
    """`text` with `edits` (on one line each, none overlapping) made."""
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character),
                       reverse=True):
        start, end = edit.range.start, edit.range.end
        line = lines[start.line]
        lines[start.line] = line[:start.character] + edit.new_text + line[end.character:]
    return "\n".join(lines)


# --- completion -----------------------------------------------------------------------------------


def completion(analysis: Analysis, line: int, column: int) -> list[t.CompletionItem]:
    """What may be written at the position: the keywords the grammar takes there, the concepts
    and definitions where a name goes, and the values of the concept before the cursor where a
    value goes. Where the text before the cursor does not parse, every name and keyword."""
    offset = _offset(analysis.text, line, column)
    start = offset
    while start > 0 and (analysis.text[start - 1].isalnum() or analysis.text[start - 1] in "_-"):
        start -= 1
    words, kinds = expected(analysis.text[:start])
    items: list[t.CompletionItem] = []
    protocol = analysis.protocol
    before = lexemes(analysis.text[:start], partial=True) if protocol is not None else []
    read = _item_read(protocol, before) if protocol is not None else None
    if read is not None and "NAME" in kinds and read[1] is None:  # an attribute goes here
        concept = read[0]
        items += [t.CompletionItem(label=a.name, kind=t.CompletionItemKind.Field,
                                   detail=f"an attribute of {concept.name}",
                                   documentation=(f"a number in {a.unit}" if a.unit else
                                                  "a number") if a.numeric else
                                   ", ".join(v.name for v in a.values))
                  for a in concept.attributes]
        if concept.kind is m.Kind.MEDICATION:
            items.append(t.CompletionItem(label=m.DRUG, kind=t.CompletionItemKind.Field,
                                          detail=f"the drug of a {concept.name} course"))
            items.append(t.CompletionItem(
                label=m.DURATION, kind=t.CompletionItemKind.Field,
                detail=f"how long a {concept.name} course lasted, from its dates",
                documentation="compared in days, weeks, months or years: 'duration >= 3 months'"))
    if protocol is not None and "NAME" in kinds and (read is None or before[-1].text in (
            "and", "or") and _open_parentheses(before) == 0):
        items += [t.CompletionItem(label=c.name, kind=t.CompletionItemKind.Variable,
                                   detail=KIND_WORDS.get(c.kind, c.kind.value)
                                   + (f" in {c.unit}" if c.unit else ""),
                                   documentation=c.label) for c in protocol.concepts]
        items += [t.CompletionItem(label=d.name, kind=t.CompletionItemKind.Function,
                                   detail="definition", documentation=d.text)
                  for d in protocol.definitions]
        items += [t.CompletionItem(label=s.name, kind=t.CompletionItemKind.Enum,
                                   detail="set", documentation=s.text)
                  for s in (*protocol.sets, *protocol.imported_sets)]
    if read is not None and read[1] is not None and kinds & {"WORD", "STRING", "NUMBER"}:
        concept, attribute = read
        items += [t.CompletionItem(label=_value_text(v.name),
                                   detail=f"a {attribute.name} of {concept.name}",
                                   kind=t.CompletionItemKind.EnumMember)
                  for v in attribute.values]
    elif protocol is not None and kinds & {"WORD", "STRING"}:
        concept = _concept_before(protocol, before)
        if concept is not None:
            items += [t.CompletionItem(label=_value_text(v.name),
                                       detail=f"a value of {concept.name}",
                                       kind=t.CompletionItemKind.EnumMember)
                      for v in concept.values]
    items += [t.CompletionItem(label=word, kind=t.CompletionItemKind.Keyword) for word in words]
    return items


#: What may stand between a filter's `where` and the cursor: its clauses, in parentheses too.
_IN_FILTER = frozenset({"NAME", "IS", "NOT", "ONE", "OF", "LBRACE", "RBRACE", "COMMA", "LPAR",
                        "OR", "AND", "COMPARATOR", "NUMBER", "UNIT", "DOSE", "WORD", "STRING"})


def _item_read(protocol: m.Protocol, found: list[Lexeme]
               ) -> tuple[m.Concept, m.Attribute | None] | None:
    """Where the cursor is inside a clause on a history's items, the tokens before it `found`:
    a filter (`chemo where route is |`, `where (line is 1 or |`) or what the most recent item
    records (`response of the latest mm_therapy is |`). The history, and the attribute whose
    value goes next, or None where an attribute goes; None outside such a clause."""
    texts = [x.text for x in found]
    is_at = next((i for i in range(len(found) - 1, -1, -1) if texts[i] == "is"), None)
    if is_at is not None and any(x not in ("not", "one", "of", "{", ",") and found[i].kind not in (
            "WORD", "STRING", "NAME", "NUMBER") for i, x in enumerate(texts[is_at + 1:],
                                                                     is_at + 1)):
        is_at = None  # a value does not go next
    for latest in (["of", "the", "latest"], ["of", "the", "most", "recent"]):
        head = (is_at or 0) - 1 - len(latest)
        if is_at is not None and head >= 1 and texts[head:is_at - 1] == latest:
            concept = protocol.concept(texts[is_at - 1])
            attribute = concept.attribute_written(texts[head - 1]) if concept else None
            return (concept, attribute) if attribute is not None and attribute.values else None
    where = next((i for i in range(len(found) - 1, -1, -1) if texts[i] == "where"), None)
    if where is None or any(x.kind not in _IN_FILTER for x in found[where + 1:]):
        return None
    head = where - 1
    if head >= 0 and texts[head] == "}":  # `x other than {a, b} where`
        head = next((i for i in range(head, -1, -1) if texts[i] == "{"), 0) - 3
    concept = protocol.concept(texts[head]) if head >= 0 else None
    if concept is None or concept.kind not in m.LISTED:
        return None
    if texts[-1] in ("where", "(", "or", "and"):
        return concept, None
    attribute = concept.attribute_written(texts[is_at - 1]) if is_at is not None and \
        is_at > where else None
    return (concept, attribute) if attribute is not None and attribute.values else None


def _open_parentheses(found: list[Lexeme]) -> int:
    """How many parentheses the tokens open and do not close."""
    return sum(1 if x.text == "(" else -1 if x.text == ")" else 0 for x in found)


def _concept_before(protocol: m.Protocol, found: list[Lexeme]) -> m.Concept | None:
    """The nearest concept with a value set named in `found`, the tokens before the cursor
    (`sex is |`)."""
    for lexeme in reversed(found):
        concept = protocol.concept(lexeme.text) if lexeme.kind == "NAME" else None
        if concept is not None and concept.values:
            return concept
    return None


def _value_text(name: str) -> str:
    simple = name.replace("_", "").replace("-", "").isalnum() and name[:1].isalpha()
    return name if simple else '"' + name.replace('"', '\\"') + '"'


# --- symbols and formatting -----------------------------------------------------------------------


def symbols(analysis: Analysis) -> list[t.DocumentSymbol]:
    """The outline: concepts, definitions, sets, then the criteria with their parts, in file
    order."""
    protocol = analysis.protocol
    if protocol is None:
        return []
    found: list[t.DocumentSymbol] = []
    if protocol.concepts:
        children = [_symbol(c.name, KIND_WORDS.get(c.kind, c.kind.value), c.span,
                            t.SymbolKind.Variable) for c in protocol.concepts
                    if c.span.file == analysis.path]
        span = Span(analysis.path, children[0].range.start.line + 1, 1,
                    children[-1].range.end.line + 1, children[-1].range.end.character + 1) \
            if children else protocol.span
        found.append(_symbol("concepts", f"{len(children)} concepts", span,
                             t.SymbolKind.Namespace, children))
    found += [_symbol(d.name, d.text or "definition", d.span, t.SymbolKind.Function)
              for d in protocol.definitions]
    found += [_symbol(s.name, s.text or "set", s.span, t.SymbolKind.Enum)
              for s in protocol.sets]
    for criterion in protocol.criteria:
        parts = [_symbol(p.id, p.text or "", p.span, t.SymbolKind.Field) for p in criterion.parts]
        found.append(_symbol(f"{criterion.role.value} {criterion.id}", criterion.text or "",
                             criterion.span, t.SymbolKind.Class, parts))
    return sorted(found, key=lambda s: (s.range.start.line, s.range.start.character))


def _symbol(name: str, detail: str, span: Span, kind: t.SymbolKind,
            children: list[t.DocumentSymbol] | None = None) -> t.DocumentSymbol:
    where = _range(span)
    head = t.Range(where.start, t.Position(where.start.line, where.start.character + len(name)))
    return t.DocumentSymbol(name=name, detail=detail, kind=kind, range=where,
                            selection_range=head if head.end.line == where.end.line
                            and head.end.character <= where.end.character else where,
                            children=children or None)


def formatting(analysis: Analysis) -> list[t.TextEdit]:
    """The whole document in fmt's layout, as one edit; nothing if it is already, or does not
    parse."""
    try:
        formatted = format_text(analysis.text, analysis.path)
    except ProtocolError:
        return []
    if formatted == analysis.text:
        return []
    lines = analysis.text.split("\n")
    end = t.Position(len(lines) - 1, len(lines[-1]))
    return [t.TextEdit(range=t.Range(t.Position(0, 0), end), new_text=formatted)]


# --- positions ------------------------------------------------------------------------------------


def _lexeme_at(found: list[Lexeme], line: int, column: int) -> Lexeme | None:
    """The token under the position (0-based), or the one that ends right at it."""
    at = (line + 1, column + 1)
    ending = None
    for lexeme in found:
        if (lexeme.line, lexeme.column) <= at < (lexeme.end_line, lexeme.end_column):
            return lexeme
        if (lexeme.end_line, lexeme.end_column) == at:
            ending = lexeme
    return ending


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    line = min(line, len(lines) - 1)
    return sum(len(x) + 1 for x in lines[:line]) + min(column, len(lines[line]))


def _range(span: Span) -> t.Range:
    return t.Range(t.Position(span.line - 1, span.column - 1),
                   t.Position(span.end_line - 1, max(span.end_column - 1, 0)))


def lexeme_range(lexeme: Lexeme) -> t.Range:
    return t.Range(t.Position(lexeme.line - 1, lexeme.column - 1),
                   t.Position(lexeme.end_line - 1, lexeme.end_column - 1))
