"""Rule coverage: which outcomes of a protocol's rules the scenario tests saw.

Two kinds of item, each with the outcomes it can have:
- every part of a criterion's condition and applies-when, and of a definition (the parts the
  trail judges one by one, `engine.audit.evidence.criterion_parts`): true, false and unknown, judged
  by the trail's own `Explainer` for each case's patient;
- every leaf criterion's verdict: MET, NOT_MET and UNKNOWN; NOT_APPLICABLE only when it has an
  applies-when; NEEDS_REVIEW only when it reads a judgment. A criterion that reads only
  judgments is never UNKNOWN (what is missing awaits the investigator: NEEDS_REVIEW).

The percentage counts outcomes seen over outcomes possible, parts and verdicts together, in whole
numbers (floored to a tenth, so 100.0% means every outcome was seen). `render` lists the uncovered
items with file:line:col; `page` draws the protocol source with each part and criterion coloured
by how much of it was seen, as one self-contained HTML page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from decimal import Decimal

from engine.compile import Network
from engine.audit.evidence import Explainer, criterion_parts, describe, parts
from engine.run import Decision
from engine import atoms
from protocol import model as m
from protocol.errors import Span

STATUSES = ("true", "false", "unknown")


@dataclass
class Item:
    """A part or a criterion's verdict, with the outcomes it can have and those seen."""

    owner: str  # the criterion or definition it belongs to
    kind: str  # "part" or "verdict"
    text: str
    span: Span
    possible: tuple[str, ...]
    seen: set[str] = field(default_factory=set)

    @property
    def missing(self) -> list[str]:
        return [outcome for outcome in self.possible if outcome not in self.seen]

    @property
    def place(self) -> str:
        return f"{self.span.file}:{self.span.line}:{self.span.column}"


class Coverage:
    """Collects, case by case, the outcomes each part and criterion of a network showed.

    >>> from engine import pipeline
    >>> protocol, _ = pipeline.load_text('protocol "t"\\nversion "1"\\n'
    ...     'concepts: egfr: quantity in mL/min\\n'
    ...     'inclusion I1 "eGFR >= 30": egfr >= 30 mL/min', "t.proto-rules")
    >>> coverage = Coverage(pipeline.compile(protocol))
    >>> for item in coverage.items:
    ...     print(item.kind, item.text, item.possible)
    part egfr >= 30 mL/min ('true', 'false', 'unknown')
    verdict I1 ('MET', 'NOT_MET', 'UNKNOWN')
    """

    def __init__(self, network: Network) -> None:
        self.protocol = protocol = network.protocol
        self.cases = 0
        self._parts: list[tuple[m.Condition, Item]] = []
        self.items: list[Item] = []
        for name in network.definitions:
            definition = protocol.definition(name)
            assert definition is not None
            self._add_parts(name, parts(definition.condition))
        for leaf in network.leaves:
            self._add_parts(leaf.id, criterion_parts(leaf))
            self.items.append(Item(leaf.id, "verdict", leaf.id, leaf.span, self._verdicts(leaf)))

    def _add_parts(self, owner: str, found: list) -> None:
        for part in found:
            item = Item(owner, "part", describe(self.protocol, part).text, part.span,
                        _outcomes(part))
            self._parts.append((part, item))
            self.items.append(item)

    def _verdicts(self, leaf: m.Criterion) -> tuple[str, ...]:
        opens = self._opens(criterion_parts(leaf))
        possible = ["MET", "NOT_MET"]
        if "U" in opens:
            possible.append("UNKNOWN")
        if leaf.applies is not None:
            possible.append("NOT_APPLICABLE")
        if "R" in opens:
            possible.append("NEEDS_REVIEW")
        return tuple(possible)

    def _opens(self, found: list) -> set[str]:
        """How a criterion's parts can leave it open, through the definitions they read: "U"
        for data missing, "R" for a judgment pending (its verdict is then NEEDS_REVIEW)."""
        opens: set[str] = set()
        for part in found:
            inner = _atom(part)
            if "unknown" not in _outcomes(inner):
                continue
            ref = getattr(inner, "ref", None)
            definition = self.protocol.definition(ref.name) if ref is not None else None
            concept = self.protocol.concept(ref.name) if ref is not None else None
            if definition is not None:
                opens |= self._opens(parts(definition.condition))
            else:
                opens.add("R" if concept is not None and concept.kind is m.Kind.JUDGMENT else "U")
        return opens

    def add(self, outcome: Decision) -> None:
        """What one decided patient showed: each part as the trail judges it, each verdict."""
        self.cases += 1
        explainer = Explainer(self.protocol, outcome.derived)
        for part, item in self._parts:
            item.seen.add(explainer.judge(part, outcome.patient)["status"])
        for item in self.items:
            if item.kind == "verdict":
                item.seen.add(outcome.verdicts[item.owner].verdict)

    def counts(self, kind: str | None = None) -> tuple[int, int]:
        """(outcomes seen, outcomes possible), of one kind of item or of all."""
        chosen = [i for i in self.items if kind in (None, i.kind)]
        return (sum(len(i.possible) - len(i.missing) for i in chosen),
                sum(len(i.possible) for i in chosen))

    def reaches(self, minimum: Decimal) -> bool:
        """Whether the coverage of parts and verdicts together is at least `minimum` percent."""
        seen, possible = self.counts()
        return seen * 100 >= minimum * possible


def _atom(part: m.Condition) -> m.Condition:
    while isinstance(part, m.Not):
        part = part.item
    return part


def _outcomes(part: m.Condition) -> tuple[str, ...]:
    """What the trail can judge a part: its atom kind says (`no known history of X` is never
    unknown); `not` swaps true and false, which leaves the set as it is."""
    inner = _atom(part)
    kind = atoms.of(inner)
    assert kind is not None, f"a part with no atom kind: {type(inner).__name__}"
    return kind.outcomes(inner)


def percent(seen: int, possible: int) -> str:
    """A share as a percentage floored to a tenth, in integers only.

    >>> percent(2, 3), percent(3, 3), percent(0, 0)
    ('66.6%', '100.0%', '100.0%')
    """
    tenths = seen * 1000 // possible if possible else 1000
    return f"{tenths // 10}.{tenths % 10}%"


def render(coverage: Coverage) -> str:
    """The coverage in numbers, then every uncovered item at its place, in protocol order."""
    lines = [f"rule coverage of {coverage.protocol.path} by {coverage.cases} cases:"]
    for kind, words in (("part", "parts of conditions (true, false, unknown)"),
                        ("verdict", "criterion verdicts (those that can occur)"), (None, "all")):
        seen, possible = coverage.counts(kind)
        lines.append(f"  {words}: {seen} of {possible} outcomes seen, {percent(seen, possible)}")
    uncovered = sorted((i for i in coverage.items if i.missing),
                       key=lambda i: (i.span.file, i.span.line, i.span.column, i.kind))
    if uncovered:
        lines.append("never seen:")
    for item in uncovered:
        what = f"part '{item.text}'" if item.kind == "part" else "verdict"
        lines.append(f"  {item.place}: {item.owner} {what} never {' nor '.join(item.missing)}")
    return "\n".join(lines) + "\n"


# -- the HTML view ---------------------------------------------------------------------------------

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #1d2733; }
h1 { font-size: 1.3em; } table { border-collapse: collapse; margin: 1em 0; }
td, th { padding: .2em .8em; border-bottom: 1px solid #d8dee4; text-align: left; }
pre { font: 13px/1.5 ui-monospace, monospace; background: #f7f8fa; padding: 1em;
      border: 1px solid #d8dee4; overflow-x: auto; }
.full { background: #c9f0d0; } .some { background: #ffe7a3; } .none { background: #ffc4c4; }
.key span { padding: 0 .5em; margin-right: 1em; }
"""


def page(coverage: Coverage) -> str:
    """The protocol source with each part and criterion coloured: green every outcome seen,
    amber some, red none; hovering one lists what was seen and what never was."""
    protocol = coverage.protocol
    source = protocol.source
    starts = _line_starts(source)
    marks = []
    for item in coverage.items:
        if item.span.file != protocol.path:
            continue  # an imported module's rules: listed by `render`, not drawn here
        start, end = _region(source, starts, item)
        state = "full" if not item.missing else "none" if not item.seen else "some"
        seen = ", ".join(o for o in item.possible if o in item.seen) or "nothing"
        never = ", ".join(item.missing) or "nothing"
        label = f"{item.owner} {item.kind}: seen {seen}; never {never}"
        marks.append((start, end, state, label))
    body, at = [], 0
    for start, end, state, label in sorted(marks):
        if start < at:
            continue  # regions never overlap; a defensive skip rather than broken markup
        body.append(html.escape(source[at:start]))
        body.append(f'<span class="{state}" title="{html.escape(label)}">'
                    f"{html.escape(source[start:end])}</span>")
        at = end
    body.append(html.escape(source[at:]))
    rows = "".join(f"<tr><td>{words}</td><td>{seen} of {possible}</td>"
                   f"<td>{percent(seen, possible)}</td></tr>"
                   for kind, words in (("part", "parts (true, false, unknown)"),
                                       ("verdict", "verdicts that can occur"), (None, "all"))
                   for seen, possible in [coverage.counts(kind)])
    title = html.escape(f"rule coverage: {protocol.path}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{_STYLE}</style></head><body>\n"
            f"<h1>{title}</h1><p>{coverage.cases} cases.</p>"
            f"<table><tr><th>outcomes</th><th>seen</th><th>coverage</th></tr>{rows}</table>"
            '<p class="key"><span class="full">every outcome seen</span><span class="some">'
            'some</span><span class="none">none</span> hover a part for what was seen</p>'
            f"<pre>{''.join(body)}</pre>\n</body></html>\n")


def _region(source: str, starts: list[int], item: Item) -> tuple[int, int]:
    """Character offsets of what an item colours: a part's text; for a verdict, the criterion's
    keyword and id (`inclusion I1`, `part cardiac`), the rest of it being its parts."""
    span = item.span
    start = starts[span.line - 1] + span.column - 1
    if item.kind == "part":
        return start, starts[span.end_line - 1] + span.end_column - 1
    line_end = source.find("\n", start)
    line = source[start: line_end if line_end >= 0 else len(source)]
    word = item.owner.rsplit(".", 1)[-1]
    found = line.find(word)
    return start, start + (found + len(word) if found >= 0 else len(line.rstrip()))


def _line_starts(source: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(source):
        if char == "\n":
            starts.append(index + 1)
    return starts


__all__ = ["Coverage", "Item", "percent", "render", "page"]
