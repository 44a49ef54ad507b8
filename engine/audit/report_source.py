"""The protocol's own lines, as a report shows them beside a verdict: read from the protocol file
named in a rule's `file:line`, relative to the current directory, but only when its SHA-256 is the
one the run header recorded (`Sources`), and cut to the lines that state one criterion
(`excerpt`). Kept apart from the HTML (`engine/audit/report.py`), which draws them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

#: Source lines shown for one criterion at most (a rule is a few lines; this only bounds the page).
EXCERPT_LINES = 40


class Sources:
    """Protocol files read relative to the current directory, used only when their SHA-256 is one
    the run header recorded (the protocol, and any module it lists with a hash)."""

    def __init__(self, run: dict[str, Any]) -> None:
        known = [run.get("protocol", {})] + [m for m in run.get("modules", []) or []
                                             if isinstance(m, dict)]
        self.expected = {str(m.get("file")): m.get("sha256") for m in known if m.get("file")}
        self.lines: dict[str, list[str] | None] = {}
        self.notes: dict[str, str] = {}

    def get(self, file: str) -> list[str] | None:
        if file not in self.lines:
            self.lines[file] = self._read(file)
        return self.lines[file]

    def _read(self, file: str) -> list[str] | None:
        try:
            data = Path(file).read_bytes()
        except (OSError, ValueError):  # ValueError: a name no file can have (a NUL in it)
            self.notes[file] = "not found from the current directory"
            return None
        expected = self.expected.get(file)
        if expected is None:
            self.notes[file] = "its SHA-256 is not in the run header"
            return None
        if hashlib.sha256(data).hexdigest() != expected:
            self.notes[file] = "its SHA-256 differs from the run header's: changed since the run"
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.notes[file] = "not UTF-8 text"
            return None
        self.notes[file] = "SHA-256 matches the run header"
        return text.splitlines()


def excerpt(lines: list[str], line: int, conditions: Iterable[int]) -> list[int]:
    """The numbers of the source lines that show one criterion: the comments just above it, its
    header (a part's also its parent's header) and its condition with any continuation lines."""
    if not 1 <= line <= len(lines):
        return []

    def indent(number: int) -> int:
        text = lines[number - 1]
        return len(text) - len(text.lstrip())

    def blank(number: int) -> bool:
        return not lines[number - 1].strip()

    own = indent(line)
    last = max([line, *(n for n in conditions if line <= n <= len(lines))])
    while last < len(lines) and not blank(last + 1) and indent(last + 1) > own:
        last += 1
    first = line
    while first > 1 and not blank(first - 1) and lines[first - 2].lstrip().startswith("#") \
            and indent(first - 1) == own:
        first -= 1
    shown = list(range(first, last + 1))
    if own > 0:
        parent = line - 1
        while parent >= 1 and (blank(parent) or indent(parent) >= own
                               or lines[parent - 1].lstrip().startswith("#")):
            parent -= 1
        if parent >= 1:
            end = parent
            while end + 1 < line and not lines[end].lstrip().startswith("part "):
                end += 1
            shown = list(range(parent, end + 1)) + [n for n in shown if n > end]
    return shown[:EXCERPT_LINES]
