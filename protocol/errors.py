"""One error hierarchy and one renderer for every problem proto-rules reports.

Every stage reports problems against a `Span` of our own, so the CLI prints all of them the same way:
`file:line:col: severity: message`, then the source line and a caret, as compilers do. Input-data
problems (fact files) have no source line; they point at a patient, a fact index and a field instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file; lines and columns are 1-based, as editors show them."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        """`file:line:col`; the file alone for what is said of the whole file (line 0: it
        cannot be read), where a line and column would point at nothing."""
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Fix:
    """What a diagnostic's fix changes, for an editor to offer: the text at `span`, which must
    still read `was` (else the file changed since and the fix is not offered), becomes `text`."""

    span: Span
    was: str
    text: str


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a protocol file, with where it is and, when we can tell, a fix."""

    span: Span
    severity: Severity
    code: str
    message: str
    fix: Fix | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def templated(templates: dict[str, str], warnings: frozenset[str], kind: str, span: Span,
              /, **info: object) -> Diagnostic:
    """A diagnostic from a table of message templates; `kind` is a code or `code/case`."""
    code = kind.split("/")[0]
    severity = Severity.WARNING if code in warnings else Severity.ERROR
    hinted = info.get("hint")
    fix = Fix(span, hinted.word, hinted.meant) if isinstance(hinted, Hint) and hinted.meant \
        else None
    return Diagnostic(span, severity, code, templates[kind].format(**info), fix)


class Hint(str):
    """`hint`'s words, which also say the name it suggests (`meant`) for the one written
    (`word`): a diagnostic made with it offers the replacement as its fix."""

    word: str
    meant: str | None


def hint(word: str, choices: Iterable[str]) -> Hint:
    """`; did you mean 'egfr'?` for the nearest of `choices`, or nothing.

    >>> found = hint("egrf", ["egfr", "lvef"])
    >>> found, found.meant
    ("; did you mean 'egfr'?", 'egfr')
    """
    close = difflib.get_close_matches(word, list(choices), n=1)
    found = Hint(f"; did you mean '{close[0]}'?" if close else "")
    found.word, found.meant = word, close[0] if close else None
    return found


def render(diagnostic: Diagnostic, source: str | None) -> str:
    """Render a diagnostic as `file:line:col: severity: message`, the source line and a caret.

    >>> d = Diagnostic(Span("t.proto-rules", 1, 5, 1, 9), Severity.ERROR, "E", "unknown concept 'egrf'")
    >>> print(render(d, "age egrf >= 30"))
    t.proto-rules:1:5: error: unknown concept 'egrf'
        age egrf >= 30
            ^^^^
    """
    span = diagnostic.span
    head = f"{span}: {diagnostic.severity.value}: {diagnostic.message}"
    if source is None:
        return head
    lines = source.splitlines()
    if not 1 <= span.line <= len(lines):
        return head
    text = lines[span.line - 1].replace("\ufeff", " ").expandtabs(4)  # a BOM shows as nothing
    width = span.end_column - span.column if span.end_line == span.line else len(text) - span.column + 1
    caret = " " * (span.column - 1) + "^" * max(1, width)
    return f"{head}\n    {text}\n    {caret}"


class ProtoRulesError(Exception):
    """Base of every error the CLI turns into exit code 2 with a readable message."""


@dataclass
class ProtocolError(ProtoRulesError):
    """A protocol file that cannot be parsed or does not pass its checks."""

    diagnostics: list[Diagnostic]
    source: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # imported files' text, by path

    def __str__(self) -> str:
        return "\n".join(render(d, self.sources.get(d.span.file, self.source))
                         for d in self.diagnostics)


#: The longest message a `FactProblem` keeps whole.
MESSAGE_MOST = 600


@dataclass(frozen=True)
class FactProblem:
    """One problem in a fact file: which record, which fact, which field, and what is wrong.

    `fact` is the fact's position in the record's `facts` array, from 0 as the trail stores it;
    a message counts from 1 (`fact #1` is the first), as people do."""

    file: str
    record: int
    patient: str | None
    fact: int | None
    field: str | None
    message: str
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        """A message quoting a hostile file's megabyte in one field (a unit, a concept's name,
        a date) is cut, saying so: it is read on a console and kept in the trail."""
        if len(self.message) > MESSAGE_MOST:
            cut = f"{self.message[:MESSAGE_MOST]}... ({len(self.message):,} characters)"
            object.__setattr__(self, "message", cut)

    def __str__(self) -> str:
        where = [f"{self.file}:{self.record}"]
        if self.patient is not None:
            where.append(f"patient {self.patient}")
        if self.fact is not None:
            where.append(f"fact #{self.fact + 1}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.severity.value}: {self.message}"


@dataclass
class FactError(ProtoRulesError):
    """A fact file (or one patient in it) that cannot be used; carries every problem found."""

    problems: list[FactProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class UsageError(ProtoRulesError):
    """A command line that asks for something impossible (missing file, bad date option)."""


class ScenarioError(ProtoRulesError):
    """A scenario file that cannot be read as one: every problem, one line each, naming the file,
    line and column (YAML) or the case and field (JSON)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class WorkerLost(Exception):
    """A worker process died before it sent its patients back: killed by hand or by the system
    when memory ran out (or a Dask scheduler was lost). Neither the user's input nor, likely, a bug
    of ours: not a `ProtoRulesError`."""


class EngineError(ProtoRulesError):
    """The rule engine misbehaved (an action raised, a verdict went missing): never a silent result."""
