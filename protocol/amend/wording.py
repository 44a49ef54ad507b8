"""The author's words for parts of the model, as reports quote them, and a diff as text.

A report about a protocol (a diff, an explanation) is read by the protocol's author, so it quotes
the protocol as written, sliced from the source by a node's span (`egfr >= 30 mL/min/1.73m2`, not
`Compare(op='>=', ...)`), on one line and without comments, and shows a changed sentence as one line
with the changed words marked; and a protocol diff as its author reads it. Pure text functions on
the model; no lark, no engine.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from protocol import expressions as x
from protocol import model as m
from protocol.errors import Span

if TYPE_CHECKING:
    from protocol.amend.diff import Diff


def condition_text(protocol: m.Protocol, node: m.Condition | None) -> str:
    """A condition as the author wrote it, on one line; `(always)` for no applies-when.

    >>> from grammar.parser import parse
    >>> p = parse('protocol "t"\\ninclusion I1 "Adults": age >= 18 years  # law', "t.proto-rules")
    >>> condition_text(p, p.criteria[0].condition)
    'age >= 18 years'
    """
    if node is None:
        return "(always)"
    if isinstance(node, (m.And, m.Or)) and not all(_inside(i.span, node.span) for i in node.items):
        # A part's applies-when joined to its parent's (grammar `_as_part`): no one span covers it.
        word = " and " if isinstance(node, m.And) else " or "
        return word.join(f"({condition_text(protocol, i)})" if isinstance(i, (m.And, m.Or)) else
                         condition_text(protocol, i) for i in node.items)
    return source_text(protocol, node.span)


def _inside(inner: Span, outer: Span) -> bool:
    return (outer.file == inner.file and (outer.line, outer.column) <= (inner.line, inner.column)
            and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column))


def source_text(protocol: m.Protocol, span: Span) -> str:
    """The source text a span covers (in the protocol or an imported module), on one line, comments
    dropped: a condition written over several lines is quoted as one."""
    lines = (protocol.source_of(span.file) or "").splitlines()[span.line - 1 : span.end_line]
    if not lines:
        return ""
    lines[-1] = lines[-1][: span.end_column - 1]
    lines[0] = lines[0][span.column - 1 :]
    return " ".join(_uncommented(line).strip() for line in lines).strip()


def formula_read(protocol: m.Protocol, concept: m.Concept, text: str) -> str:
    """A derived value's formula `text` (as written) with each value named as it is read: one
    read at a day (`formula_of`) reads its inputs at that day, so egfr's formula, as written,
    says `creatinine_at_visit_1` there where the text says `creatinine`. A name before `(` is a
    function's (`min(`), not a value's."""
    if concept.formula_of is None or concept.formula is None:
        return text
    for node in x.subexpressions(concept.formula):
        if isinstance(node, x.Reading):
            written = source_text(protocol, node.ref.span)
            if written != node.ref.name:
                text = re.sub(rf"\b{re.escape(written)}\b(?!\s*\()", node.ref.name, text)
    return text


def _uncommented(line: str) -> str:
    quoted = False
    for i, char in enumerate(line):
        if char == '"' and line[i - 1 : i] != "\\":
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:i]
    return line


def shown(protocol: m.Protocol, value: Any) -> str:
    """Any model value in words: nodes as their source, tuples joined, nothing as `(none)`."""
    if value is None or value == ():
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(shown(protocol, v) for v in value)
    if isinstance(value, m.Ref):
        return value.name
    if isinstance(getattr(value, "span", None), Span):
        return source_text(protocol, value.span)
    return str(value)


def quoted(text: str | None) -> str:
    return f'"{text}"' if text is not None else "(none)"


def values_text(values: tuple[m.Value, ...]) -> str:
    """A value set as declared: `{MMF = "mycophenolate mofetil", tacrolimus}`."""
    def word(name: str) -> str:
        return name if re.fullmatch(r"[\w.+-]+", name) else f'"{name}"'

    return "{" + ", ".join(" = ".join(word(n) for n in (v.name, *v.synonyms)) for v in values) + "}"


def value_changes(olds: tuple[m.Value, ...], news: tuple[m.Value, ...]) -> str:
    """What a value set gained and lost, names compared as facts are matched (case-insensitively).

    >>> v = lambda name, *synonyms: m.Value(None, name, synonyms)
    >>> value_changes((v("mild"), v("MMF")), (v("severe"), v("mmf", "mycophenolate")))
    'added severe; removed mild; synonyms of mmf: {MMF} -> {mmf = mycophenolate}'
    """
    before = {v.name.casefold(): v for v in olds}
    after = {v.name.casefold(): v for v in news}
    notes = []
    if added := [v.name for k, v in after.items() if k not in before]:
        notes.append("added " + ", ".join(added))
    if removed := [v.name for k, v in before.items() if k not in after]:
        notes.append("removed " + ", ".join(removed))
    for key in (k for k in after if k in before):
        if {s.casefold() for s in after[key].synonyms} != {
                s.casefold() for s in before[key].synonyms}:
            notes.append(f"synonyms of {after[key].name}: {values_text((before[key],))} -> "
                         f"{values_text((after[key],))}")
    return "; ".join(notes)


def word_diff(old: str, new: str, context: int = 8) -> str:
    """Two sentences as one, `[-removed-]{+added+}`; long unchanged runs are cut to a few words, so
    a change deep in a long criterion sentence shows on one line.

    >>> word_diff("Renal function: eGFR≥30ML/min/1.73m2;", "Renal function: eGFR≥45ML/min/1.73m2;")
    'Renal function: eGFR≥[-30ML-]{+45ML+}/min/1.73m2;'
    """
    a, b = _tokens(old), _tokens(new)
    ops = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    out = []
    for index, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            run, first, last = a[i1:i2], index == 0, index == len(ops) - 1
            long = len(run) > context + 6  # a few words more are shown rather than cut
            if first and not last:
                out.append("..." * long + "".join(run[-context:] if long else run))
            elif last and not first:
                out.append("".join(run[:context] if long else run) + "..." * long)
            elif len(run) > 2 * context and not first:
                out.append("".join(run[:context]) + "..." + "".join(run[-context:]))
            else:
                out.append("".join(run))
            continue
        for (opening, closing), words in ((("[-", "-]"), a[i1:i2]), (("{+", "+}"), b[j1:j2])):
            text = "".join(words)
            if text.strip():  # whitespace at either end goes outside the marks
                lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
                out.append(f"{lead}{opening}{text.strip()}{closing}{trail}")
            elif text and tag != "replace":
                out.append(f"{opening}{text}{closing}")
    return "".join(out)


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+|\s+|[^\w\s]", text)


# -- a diff, for its author ------------------------------------------------------------------------


def render(result: Diff) -> str:
    """The diff as text: per entry a heading, what changed, its warnings and what it affects.

    >>> from protocol.amend.diff import Diff
    >>> print(render(Diff("a.proto-rules", "b.proto-rules", "1", "1", ())), end="")
    --- a.proto-rules (version 1)
    +++ b.proto-rules (version 1)
    no changes
    """
    lines = [f"--- {result.old_path} (version {result.old_version or '?'})",
             f"+++ {result.new_path} (version {result.new_version or '?'})"]
    for entry in result.entries:
        span = entry.new_span or entry.old_span
        where = [entry.role] * bool(entry.role)
        where += [f"line {span.line}"] * (span is not None and entry.subject != "header")
        lines.append(entry.label + (f" ({', '.join(where)})" if where else "")
                     + f": {entry.summary()}")
        lines += [f"    {change}" for change in entry.changes]
        lines += [f"    warning: {warning}" for warning in entry.warnings]
        lines += [f"    affects: {', '.join(entry.affects)}"] * bool(entry.affects)
    return "\n".join([*lines, totals(result)]) + "\n"


def totals(result: Diff) -> str:
    if not result.entries:
        return "no changes"
    count = {s: sum(e.status == s for e in result.entries) for s in ("added", "removed", "changed")}
    return (f"{len(result.entries)} changes: {count['added']} added, {count['removed']} removed, "
            f"{count['changed']} changed; {len(result.warnings)} warnings")


def as_json(result: Diff) -> dict[str, Any]:
    """The diff as a JSON-ready dict: every entry with its changes, old and new text in full."""
    def line(span: Span | None) -> int | None:
        return span.line if span is not None else None

    return {
        "old": {"file": result.old_path, "version": result.old_version},
        "new": {"file": result.new_path, "version": result.new_version},
        "entries": [
            {"subject": e.subject, "name": e.name, "role": e.role, "status": e.status,
             "summary": e.summary(), "line": {"old": line(e.old_span), "new": line(e.new_span)},
             "changes": [{"kind": c.kind, "old": c.old, "new": c.new, "note": c.note,
                          "message": str(c)} for c in e.changes],
             "warnings": list(e.warnings), "affects": list(e.affects)}
            for e in result.entries
        ],
        "summary": totals(result),
    }
