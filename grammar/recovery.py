"""Several syntax errors in one pass over a file, for an editor that shows them as the author types.

`parse` stops at the first error, as a compiler should. An editor wants the others too, without the
cascade a token-by-token recovery gives (one missing `:` makes every token after it unexpected).
The recovery here works by construct: after an error, the construct it is in (a section, or one
concept or part inside one) is blanked out, spaces for every character so that every other
position stays where it was, and the file parsed again, until it parses or `limit` errors are
found. An error at the first or second token of a construct blames the construct before it (a
condition that ends too early is found at the next `inclusion`), and the construct itself if the
error is still there. Each parse of a protocol file
takes milliseconds.
"""

from __future__ import annotations

import re

from lark.exceptions import UnexpectedEOF, UnexpectedInput

from grammar.parser import _lark, _parse_one, _without_bom
from grammar.syntax import syntax_diagnostic
from protocol.errors import Diagnostic, ProtocolError

#: A line that starts a construct of its own inside a section: a concept, or a criterion's part.
NESTED = re.compile(r"[ \t]+(part\b|[a-z_][a-z0-9_]*[ \t]*:)")


def syntax_errors(text: str, filename: str = "<string>", limit: int = 20) -> list[Diagnostic]:
    """Every syntax error of `text` that construct-by-construct recovery finds (see `recover`).

    >>> broken = 'concepts:\\n a: flag\\ninclusion I1: a and\\ninclusion I2: a >=\\nexclusion E1: a'
    >>> [(d.span.line, d.message.split(";")[0]) for d in syntax_errors(broken)]
    [(4, "unexpected 'I2'"), (5, "unexpected 'exclusion'")]
    """
    return recover(text, filename, limit)[0]


def recover(text: str, filename: str = "<string>", limit: int = 20) -> tuple[list[Diagnostic], str]:
    """The syntax errors of `text` in file order (at most `limit`; none when it parses), and the
    text with the constructs that hold them blanked out: it parses (unless `limit` was reached),
    and every position in it is where it was, so an editor reads the constructs that are whole.

    >>> errors, kept = recover('concepts:\\n  a: flag\\n  b: flag valid 3 days\\ninclusion I1: a')
    >>> [d.span.line for d in errors], kept.split("\\n")[2].strip()
    ([3], '')
    """
    current = _without_bom(text)
    found: list[Diagnostic] = []
    last = -1
    while len(found) < limit:
        try:
            _lark().parse(current)
        except UnexpectedInput as error:
            # The parser reads left to right: an error at or before the last one reported is that
            # one again, moved by a construct blanked in vain; its own construct goes next.
            offset = _offset(error, current)
            new = offset > last
            if new:
                found.append(syntax_diagnostic(error, current, filename, _lark()))
            blanked = _blank(current, offset, blame_previous=new)
            if blanked == current:
                break
            current, last = blanked, max(last, offset)
            continue
        if not found:  # what lark accepts, the model may still refuse (a count of 2.5 patients)
            try:
                _parse_one(current, filename)
            except ProtocolError as error:
                found.extend(d for d in error.diagnostics if d.span.file == filename)
        break
    return sorted(found, key=lambda d: (d.span.line, d.span.column)), current


def _offset(error: UnexpectedInput, text: str) -> int:
    """Where the error is, as an offset into `text` (the end for an unexpected end of file)."""
    if isinstance(error, UnexpectedEOF):
        return len(text)
    token = getattr(error, "token", None)
    if token is not None and token.type == "$END":
        return len(text)
    position = getattr(error, "pos_in_stream", None)
    return len(text) if position is None else position


def _blank(text: str, offset: int, blame_previous: bool) -> str:
    """`text` with the construct that holds the error at `offset` replaced by spaces; a section
    left empty goes too. An error at the first or second token of a construct blames the one
    before it (`... before` then `exclusion E10`: the anchor took `exclusion` for a date's name),
    unless it was blamed already and the error stayed."""
    lines = text.split("\n")
    starts = _construct_starts(lines) or [0]
    line = text.count("\n", 0, offset)
    owner = max((s for s in starts if s <= line), default=starts[0])
    line_start = text.rfind("\n", 0, offset) + 1
    indent = len(lines[line]) - len(lines[line].lstrip())
    early = len(text[line_start + indent:offset].split()) <= 1
    if blame_previous and line == owner and early and owner != starts[0]:
        owner = max(s for s in starts if s < owner)
    tops = [s for s in starts if lines[s][:1].strip()]
    _spaces(lines, owner, min((s for s in starts if s > owner), default=len(lines)))
    section = max((s for s in tops if s < owner), default=None)
    if owner not in tops and section is not None:  # a concept or part: is its section empty now?
        following = min((s for s in tops if s > section), default=len(lines))
        if not _has_code(lines[section + 1:following]):
            _spaces(lines, section, following)
    return "\n".join(lines)


def _spaces(lines: list[str], start: int, end: int) -> None:
    for index in range(start, end):
        lines[index] = " " * len(lines[index])


def _construct_starts(lines: list[str]) -> list[int]:
    """The lines that start a construct: a section (code at column 0), or a concept or part."""
    starts, in_concepts = [], False
    for index, line in enumerate(lines):
        if line[:1].strip() and not line.startswith("#"):
            starts.append(index)
            in_concepts = line.startswith("concepts")
        elif (match := NESTED.match(line)) and (in_concepts or match[1] == "part"):
            starts.append(index)
    return starts


def _has_code(lines: list[str]) -> bool:
    return any(line.strip() and not line.strip().startswith("#") for line in lines)
