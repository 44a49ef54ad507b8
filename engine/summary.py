"""What a run tells the people who run it, beside the decisions: a summary at the end (counts by
decision, records rejected, speed) and the fact warnings gathered by kind. (A patient's line and its
rows of the decisions table are made from its decision where it was decided: `engine/screened.py`.)

A data team screening 20,000 patients cannot read 68,000 warning lines: the same few kinds of
warning ("dated after the screening date: set aside") recur for thousands of patients. Here they
are counted by kind, with the first few patients of each, so the summary says what to fix in the
export and where to look first; the full list goes to a file on request. None of this is written
into the trail: the trail records decisions, and its bytes must not depend on how long a run took.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from protocol.errors import FactProblem

#: Warnings printed one by one as they come, up to this many; a coordinator checking a small file
#: reads each, as before. Beyond it, they are only counted, by kind, in the summary.
SHOWN = 20

#: Patients named after each kind of warning in the summary.
EXAMPLES = 3

#: The decision of a record set aside, as the trail's counts, the table and rescreen name it.
REJECTED = "REJECTED"

#: Decisions in the order the summary names them.
DECISIONS = ("ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW")

#: The parts of a warning that belong to one fact, not to its kind: its dates (`dated
#: 2026-06-03, after the screening date 2026-06-01`); concept names stay, they are what to fix.
_DATE = re.compile(r" ?\b\d{4}(?:-\d{2}){0,2}\b,?")


def counted(number: int, noun: str) -> str:
    """A count as the summaries write it: `1 patient`, `2,000 patients`."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def kind(warning: FactProblem) -> str:
    """A warning's kind: its message without the dates of the fact at hand.

    >>> kind(FactProblem("p.jsonl", 7, "P07", 46, "date", "dated 2026-06-03, after the "
    ...                  "screening date 2026-06-01: set aside"))
    'dated after the screening date: set aside'
    """
    return _DATE.sub("", warning.message)


@dataclass
class Kind:
    """How often one kind of warning came, in how many patients, and where first: one warning
    each of the first few patients it came in (a patient may have it for several facts)."""

    count: int = 0
    patients: int = 0
    first: list[FactProblem] = field(default_factory=list)


@dataclass
class Tally:
    """A run's counts, added to patient by patient (memory flat in the number of patients)."""

    decisions: Counter = field(default_factory=Counter)
    rejected: int = 0
    #: Problems of a fact file itself, not of a record (empty, unreadable): no patient's.
    unread: int = 0
    warnings: int = 0
    kinds: dict[str, Kind] = field(default_factory=dict)
    #: The problems of records set aside, by kind: what to fix in the export, first.
    refusals: dict[str, Kind] = field(default_factory=dict)
    #: The fact file read: a problem of another file (one of a folder's) is named by its file.
    facts: str | None = None

    def add(self, decision: str, warnings: Iterable[FactProblem], line: int = 1,
            problems: Iterable[FactProblem] = ()) -> None:
        """Count one record: its decision (`REJECTED` for a record set aside, with its
        `problems`) and its warnings; at `line` 0, a problem of the fact file itself (an empty
        file is no patient)."""
        if decision == REJECTED:
            if line:
                self.rejected += 1
                _counted_by_kind(self.refusals, problems, refusal)
            else:
                self.unread += 1
            return
        self.decisions[decision] += 1
        self.warnings += _counted_by_kind(self.kinds, warnings)

    @property
    def patients(self) -> int:
        return sum(self.decisions.values()) + self.rejected

    def render(self, seconds: float) -> str:
        """The summary's lines; `seconds` is only printed (and the rate worked out from it).

        >>> tally = Tally(Counter(ELIGIBLE=2, INELIGIBLE=1), rejected=1)
        >>> for part in tally.render(2.0).split(": "):
        ...     print(part.strip())
        4 patients in 2.0 s (2 patients/s)
        2 ELIGIBLE, 1 INELIGIBLE, 0 NEEDS_REVIEW; 1 record rejected
        """
        rate = f"{self.patients / seconds:,.0f}" if seconds > 0 else "-"
        counts = ", ".join(f"{self.decisions[d]:,} {d}" for d in DECISIONS)
        rejected = f"{counted(self.rejected, 'record')} rejected"
        patients = counted(self.patients, "patient")
        unread = f"; {counted(self.unread, 'fact file')} not read as records (above)" \
            if self.unread else ""
        lines = [f"{patients} in {seconds:.1f} s ({rate} patients/s): {counts}; {rejected}"
                 f"{unread}"]
        if self.rejected > 1:  # one is said just above; more, by what to fix
            refusals = sum(seen.count for seen in self.refusals.values())
            lines.append(f"{counted(self.rejected, 'record')} rejected for "
                         f"{counted(refusals, 'problem')} in {len(self.refusals)} "
                         f"kind{'' if len(self.refusals) == 1 else 's'}:")
            lines.extend(_by_kind(self.refusals, self.facts))
        if self.warnings:
            lines.append(f"{self.warnings:,} warning{'' if self.warnings == 1 else 's'} "
                         f"in {len(self.kinds)} kind{'' if len(self.kinds) == 1 else 's'}:")
            lines.extend(_by_kind(self.kinds, self.facts))
        return "".join(line + "\n" for line in lines)


def refusal(problem: FactProblem) -> str:
    """A problem that sets a record aside, as its kind: its message as said, with its field (the
    values in it are what to fix: a unit spelled `K/uL`, a drug not on the list).

    >>> refusal(FactProblem("p.jsonl", 7, "P07", 2, "unit", "plt: unit 'K/uL' is ambiguous"))
    "plt: unit 'K/uL' is ambiguous (field 'unit')"
    """
    return problem.message + (f" (field '{problem.field}')" if problem.field else "")


def _counted_by_kind(kinds: dict[str, Kind], problems: Iterable[FactProblem],
                     kind_of=kind) -> int:
    """Add one record's problems (or warnings) to `kinds`, each by `kind_of`; how many it had."""
    seen_here: set[str] = set()  # of this record's
    number = 0
    for problem in problems:
        number += 1
        text = kind_of(problem)
        seen = kinds.setdefault(text, Kind())
        seen.count += 1
        if text not in seen_here:
            seen_here.add(text)
            seen.patients += 1
            if len(seen.first) < EXAMPLES:
                seen.first.append(problem)
    return number


def _by_kind(kinds: dict[str, Kind], facts: str | None) -> list[str]:
    """One line a kind, the most frequent first: how often, in how many records, where first
    (at a line of `facts`, or of the file of a folder it was in)."""
    lines = []
    for text, seen in sorted(kinds.items(), key=lambda item: -item[1].count):
        where = ", ".join(f"{w.patient or 'no patient id'} (line {w.record}"
                          f"{'' if facts in (None, w.file) else f' of {w.file}'})"
                          for w in seen.first)
        more = seen.patients - len(seen.first)
        among = "" if seen.patients == seen.count else \
            f", in {counted(seen.patients, 'patient')}"
        lines.append(f"  {seen.count:,} x {text}{among}: {where}"
                     + (f" and {more:,} more" if more else ""))
    return lines
