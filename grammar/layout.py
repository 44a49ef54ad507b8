"""`proto-rules fmt`: one canonical layout for `.proto-rules` files; the file's tokens for editors.

The layout is the one the examples are written in by hand, so that formatting leaves a carefully
written file alone. Like gofmt it keeps the author's line breaks (a condition runs over as many
lines as the protocol sentence needs, and a value set may be aligned under its brace) and fixes
everything else:

- a section (`concepts:`, `define`, `set`, `inclusion`, `escalation`, a header line) starts at
  column 0;
  a concept, an equivalence entry, a part, an escalation setting or rule, and the condition of a
  definition or criterion at 4 (a part's condition and a rule's at 8);
- a continuation line keeps its indentation relative to the line it continues, and is indented by
  4 at least past a head (`inclusion I6 "..."` / `    applies when ...`), by 0 at least past a
  condition's first line (`    a` / `    or b`) or when it starts with a closing `}`, `)` or `]`;
- one space between tokens, none before `:` `,` `)` `]` `}` or `^`, none after `(` `[` `{` `^`, a
  function's name or a minus sign that makes a number negative;
- a comment on its own line takes the indentation of the code after it (column 0 at the end of the
  file); a comment after code stays on its line, two spaces after it; at most one blank line in a
  row, none at the start or the end, no trailing spaces, one newline at the end.

A formatted file has the same tokens in the same order as the original (verified on every call: a
layout that would change them falls back to the author's spacing within lines), so its parsed model
is the same; tests compare the models too.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TextIO

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from grammar.parser import _lark, _without_bom, read_text
from grammar.syntax import syntax_diagnostic
from protocol.errors import ProtocolError

INDENT = 4
#: Grammar rules that start a section, at column 0.
SECTIONS = frozenset({"protocol_id", "title", "version", "origin", "concepts", "equivalence",
                      "definition", "criterion", "import_", "escalation", "rule_set",
                      "unit_alias", "fhir_map", "decision_table", "named_values"})
#: Grammar rules that are items of a section, one indentation step in.
ITEMS = frozenset({"concept", "derived_concept", "reading_concept", "extreme_concept",
                   "equivalence_entry", "part", "escalation_rule", "dose_level", "start_level",
                   "cohort_size", "max_patients", "dlt_definition", "stagger", "safety_review", "partial_received",
                   "partial_not_evaluable", "design_ref", "design_boin", "table_row"})
#: Rules whose last child is a condition written on its own lines, one step in from the rule.
WITH_BODY = frozenset({"definition", "criterion", "part", "escalation_rule"})
#: Tokens that take no space before them, and after them.
TIGHT_BEFORE = frozenset({"COLON", "COMMA", "RPAR", "RSQB", "RBRACE"})
TIGHT_AFTER = frozenset({"LPAR", "LSQB", "LBRACE", "CIRCUMFLEX", "FUNCTION"})
CLOSING = frozenset({"RPAR", "RSQB", "RBRACE"})
#: After these a minus sign subtracts; after anything else it makes a number negative.
OPERANDS = frozenset({"NUMBER", "NAME", "UNIT", "RPAR", "EXPONENT"})
NEWLINES = re.compile(r"\r\n?|\n")


@dataclass(frozen=True)
class Lexeme:
    """One token of a protocol file as the parser read it: its terminal, its text and where it is
    (lines and columns from 1, the end exclusive; offsets into the text without its BOM)."""

    kind: str
    text: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


def is_name(text: str) -> bool:
    """Whether `text` is a name, as the grammar's NAME reads it.

    >>> is_name("refractory_sle"), is_name("two words"), is_name("Weight")
    (True, False, False)
    """
    return re.fullmatch(_lark().get_terminal("NAME").pattern.to_regexp(), text) is not None


@cache
def words() -> frozenset[str]:
    """The words the language spells (`and`, `define`, `within`, `age`): the lexer reads most as
    names where the grammar takes a name, but a name chosen anew (a rename) is not one of them.

    >>> {"and", "within", "define"} <= words() and "refractory_sle" not in words()
    True
    """
    return frozenset(terminal.pattern.value for terminal in _lark().terminals
                     if terminal.pattern.type == "str" and is_name(terminal.pattern.value))


def lexemes(text: str, filename: str = "<string>", partial: bool = False) -> list[Lexeme]:
    """The tokens of `text` in order, as the parser's contextual lexer reads them (a keyword is a
    keyword only where the grammar takes one). A syntax error raises `ProtocolError`, or with
    `partial` ends the list where it is (an editor completes a file that does not parse yet).

    >>> [t.text for t in lexemes('inclusion I1 "Adults": age >= 18 years')]
    ['inclusion', 'I1', '"Adults"', ':', 'age', '>=', '18', 'years']
    """
    return [_lexeme(t) for t in _tokens(_without_bom(text), filename, partial)[0]]


#: The words a terminal written as a pattern stands for, for completion.
PATTERN_WORDS = {"ROLE": ("inclusion", "exclusion"), "NOT": ("not",), "BOUND": ("upper", "lower"),
                 "EDGE": ("start", "end", "date"), "GRADED": ("graded",),
                 "PLANNED": ("planned",), "LASTING": ("lasting",),
                 "EXTREME": ("lowest", "highest"),
                 "FUNCTION": ("min", "max", "sqrt", "mean"), "LENGTH": ("shorter", "longer", "less", "greater"),
                 "TIMES": ("x",),
                 "TIME_UNIT": ("days", "weeks", "months", "years"), "ULN": ("x ULN",)}


def expected(text: str) -> tuple[list[str], frozenset[str]]:
    """What the grammar takes after `text`: its keywords (sorted) and the kinds of token it takes
    (`NAME` where a concept goes, `WORD` or `STRING` where a value goes). Text that does not parse
    up to its end takes every keyword and any name.

    >>> words, kinds = expected('concepts:\\n sex: category {female, male}\\ninclusion I1: sex is ')
    >>> words, sorted(kinds)
    (['not', 'one', 'recorded'], ['NOT', 'NUMBER', 'ONE', 'RECORDED', 'STRING', 'WORD'])
    """
    parser = _lark().parse_interactive(_without_bom(text))
    try:
        for _ in parser.iter_parse():
            pass
        kinds = frozenset(parser.accepts())
    except UnexpectedInput:
        kinds = frozenset(t.name for t in _lark().terminals) | {"NAME"}
    words = set()
    for kind in kinds:
        words.update(PATTERN_WORDS.get(kind, ()))
        names = {t.name: t for t in _lark().terminals}
        pattern = names[kind].pattern if kind in names else None
        if pattern is not None and pattern.type == "str" and pattern.value[:1].isalpha():
            words.add(pattern.value)
    return sorted(words), kinds


def format_files(paths: list[str], check: bool = False, stdin: TextIO | None = None,
                 stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """`proto-rules fmt`: rewrite each file in the canonical layout (`-`: stdin to stdout), or with
    `check` change nothing and name the files that would change. Returns the exit code: 2 if a
    file cannot be read or parsed (each such file reported, the others still done), else 1 under
    `check` if a file would change, else 0."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    failed = changed = False
    for path in paths:
        try:
            text = stdin.read() if path == "-" else read_text(path)
            formatted = format_text(text, "<stdin>" if path == "-" else path)
        except ProtocolError as error:
            print(error, file=stderr)
            failed = True
            continue
        if formatted == text:
            if path == "-" and not check:
                stdout.write(formatted)
            continue
        changed = True
        if check:
            print(f"{path}: would be reformatted", file=stderr)
        elif path == "-":
            stdout.write(formatted)
        else:
            Path(path).write_bytes(formatted.encode("utf-8"))
            print(f"{path}: reformatted", file=stderr)
    return 2 if failed else 1 if check and changed else 0


def format_text(text: str, filename: str = "<string>") -> str:
    """`text` in the canonical layout; raises `ProtocolError` if it does not parse.

    >>> print(format_text('concepts:\\n age: age\\ninclusion I1 "Adults" :age>=18 years'), end="")
    concepts:
        age: age
    inclusion I1 "Adults": age >= 18 years
    """
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    tokens, tree = _tokens(body, filename, partial=False)
    if not tokens:
        return bom + _comments_only(body)
    starts = _starts(tree)
    for spacing in (_spacing, _kept_spacing):
        formatted = _layout(body, tokens, starts, spacing)
        if _same_tokens(formatted, tokens, filename):
            return bom + formatted
    return text


def _tokens(text: str, filename: str, partial: bool) -> tuple[list[Token], Tree | None]:
    parser = _lark().parse_interactive(text)
    tokens: list[Token] = []
    try:
        for token in parser.iter_parse():
            tokens.append(token)
        tree = parser.feed_eof(tokens[-1] if tokens else None)
    except UnexpectedInput as error:
        if partial:
            return tokens, None
        raise ProtocolError([syntax_diagnostic(error, text, filename, _lark())], text) from None
    return tokens, tree


def _lexeme(token: Token) -> Lexeme:
    return Lexeme(token.type, str(token), token.line, token.column, token.end_line,
                  token.end_column, token.start_pos, token.end_pos)


def _starts(tree: Tree) -> dict[int, tuple[int, bool]]:
    """Where each construct that starts a line in the canonical layout begins: its offset in the
    text, with its indentation and whether it is a head (its continuation lines go one step in)
    rather than a condition (its continuation lines align with it)."""
    starts: dict[int, tuple[int, bool]] = {}

    def visit(node: Tree, depth: int) -> None:
        if node.data in SECTIONS:
            depth = 0
        elif node.data in ITEMS:
            depth += 1
        if node.data in SECTIONS or node.data in ITEMS:
            starts[node.meta.start_pos] = (depth * INDENT, True)
        if node.data in WITH_BODY and isinstance(node.children[-1], Tree) \
                and node.children[-1].data != "part":
            body = node.children[-1]
            starts.setdefault(body.meta.start_pos, ((depth + 1) * INDENT, False))
        for child in node.children:
            if isinstance(child, Tree):
                visit(child, depth)

    visit(tree, 0)
    return starts


def _layout(text: str, tokens: list[Token], starts: dict[int, tuple[int, bool]],
            spacing) -> str:
    """The text rebuilt token by token: each gap between two tokens becomes canonical (its
    comments and line breaks kept), each line's indentation follows the rules above."""
    out: list[str] = []
    owner = (0, 0, True)  # the line a continuation line continues: old indent, new indent, head
    previous: Token | None = None
    for index, token in enumerate(tokens):
        gap = text[previous.end_pos if previous else 0:token.start_pos]
        if previous is not None and "\n" not in gap:
            before = tokens[index - 2] if index >= 2 else None
            out.append(spacing(before, previous, token, gap))
        else:
            old = _indent_of(text, token.start_pos)
            if token.start_pos in starts:
                new, head = starts[token.start_pos]
                owner = (old, new, head)
            else:
                closing = token.type in CLOSING  # `}` of a value set may close under its head
                least = owner[1] + (INDENT if owner[2] and not closing else 0)
                new = max(least, owner[1] + old - owner[0])
            out.append(_gap(gap, new, "first" if previous is None else "middle"))
        out.append(str(token))
        previous = token
    out.append(_gap(text[previous.end_pos:], 0, "last"))  # type: ignore[union-attr]
    return "".join(out)


def _gap(gap: str, indent: int, where: str) -> str:
    """A gap that holds line breaks (`where` it is: "first" before the first token, "middle",
    "last" after the last): a comment on the line of the code before it stays there, two spaces
    after the code; each comment line is indented as the code after it (column 0 at the end); at
    most one blank line in a row, none at the start or end of the file."""
    lines = NEWLINES.split(gap)
    trailing = lines[0].strip() if where != "first" else ""
    full = lines[:-1] if where == "first" else lines[1:-1] if where == "middle" else lines[1:]
    rows: list[str] = []
    for line in full:
        comment = line.strip()
        if comment:
            rows.append(" " * (indent if where != "last" else 0) + comment)
        elif (rows and rows[-1]) or (not rows and where == "middle"):
            rows.append("")
    while where == "last" and rows and not rows[-1]:
        rows.pop()
    head = "" if where == "first" else ("  " + trailing if trailing else "") + "\n"
    return head + "".join(row + "\n" for row in rows) + (" " * indent if where != "last" else "")


def _comments_only(text: str) -> str:
    """A file of comments alone (or nothing): each comment at column 0, blank lines kept once."""
    lines = [line.strip() for line in NEWLINES.split(text)]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "".join(line + "\n" for line in kept)


def _spacing(before: Token | None, previous: Token, token: Token, gap: str) -> str:
    """The space between two tokens on one line (see the module's docstring); `before` is the
    token before them, which tells a subtracting minus from a negating one."""
    if gap.strip():  # a comment inside a line cannot be: '#' runs to the end of the line
        return gap
    if token.type in TIGHT_BEFORE or previous.type in TIGHT_AFTER:
        return ""
    if token.type == "CIRCUMFLEX" and previous.type != "UNIT":  # `mg/dL^2` would be one unit
        return ""
    if previous.type == "MINUS" and (before is None or before.type not in OPERANDS):
        return ""  # a negative number: the first token of a formula or of a term
    return " "


def _kept_spacing(before: Token | None, previous: Token, token: Token, gap: str) -> str:
    """The author's spacing within a line, for the rare line whose canonical spacing would make
    the lexer read other tokens."""
    return gap


def _indent_of(text: str, offset: int) -> int:
    line_start = text.rfind("\n", 0, offset) + 1
    return len(text[line_start:offset].expandtabs(4))


def _same_tokens(formatted: str, tokens: list[Token], filename: str) -> bool:
    try:
        again, _ = _tokens(formatted, filename, partial=False)
    except ProtocolError:
        return False
    return [(t.type, str(t)) for t in again] == [(t.type, str(t)) for t in tokens]

