"""Rescreen: which patients an amendment decides differently, and which of its changes explain it.

An amendment is reviewed before it is approved: besides what the text says (`protocol.amend.diff`),
the sponsor needs to know which patients already screened would now be decided differently. Both
protocols are compiled into networks of their own (each `Screening` has its own host, so two
networks share one process), every record is screened by both, and a patient is reported when the
decision or any verdict changed, each changed verdict linked to the diff entries that can explain
it: its own criterion's, and those of the definitions, concepts and tables it reads. Unchanged
patients are counted, not listed, and records stream through one at a time, as in `screen`.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine import pipeline
from engine.run import Decision, Rejected, Screening
from engine.summary import REJECTED
from protocol import model as m
from protocol.amend.diff import Diff, Entry, diff
from protocol.errors import FactProblem

#: The verdicts that let a patient through: a criterion added with one of these for a patient, or
#: removed, changes nothing for that patient (an absent criterion lets everyone through).
PASSING = {"inclusion": ("MET", "NOT_APPLICABLE"), "exclusion": ("NOT_MET", "NOT_APPLICABLE")}


@dataclass(frozen=True)
class VerdictChange:
    """One criterion decided differently; `None` where the criterion is absent from a protocol."""

    criterion: str
    role: str
    old: str | None
    new: str | None
    because: tuple[str, ...]  # the diff's reasons, `I4.renal threshold: ... -> ...`


@dataclass(frozen=True)
class Comparison:
    """One record under both protocols: its decisions (or REJECTED), the verdicts that changed."""

    line: int
    patient: str | None
    old: str
    new: str
    verdicts: tuple[VerdictChange, ...] = ()
    problems: tuple[FactProblem, ...] = ()  # for a record rejected under either protocol

    @property
    def changed(self) -> bool:
        return self.old != self.new or bool(self.verdicts)


@dataclass
class Summary:
    """Counts over a rescreen: patients, those that changed, decision moves, rejected records."""

    patients: int = 0
    changed: int = 0
    rejected: int = 0  # under both protocols
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, comparison: Comparison) -> None:
        self.patients += 1
        self.changed += comparison.changed
        self.rejected += comparison.old == comparison.new == REJECTED
        if comparison.old != comparison.new:
            self.moves[(comparison.old, comparison.new)] += 1

    @property
    def unchanged(self) -> int:
        return self.patients - self.changed - self.rejected


class Rescreening:
    """Two protocols compiled side by side, with the diff that explains their differences."""

    def __init__(self, old: m.Protocol, new: m.Protocol) -> None:
        self.diff: Diff = diff(old, new)
        self.old = Screening(pipeline.compile(old, "rescreen"))
        self.new = Screening(pipeline.compile(new, "rescreen"))
        self._roles = {leaf.id: leaf.role.value for leaf in (*old.leaves(), *new.leaves())}
        self._order: dict[str, int] = {}  # the new file's order, then removed criteria
        for leaf in (*new.leaves(), *old.leaves()):
            self._order.setdefault(leaf.id, len(self._order))

    def compare(self, records: Iterable[tuple[int, Any]], path: str,
                screening: date | None = None) -> Iterator[Comparison]:
        """Screen each record with both protocols and compare; one comparison per record, in order.

        Each protocol gets its own copy of the record, so neither can see what the other did to it.
        """
        for line, data in records:
            (before,) = self.old.screen([(line, data)], path, screening)
            (after,) = self.new.screen([(line, copy.deepcopy(data))], path, screening)
            yield self._compare(line, before, after)

    def _compare(self, line: int, old: Decision | Rejected, new: Decision | Rejected) -> Comparison:
        if isinstance(old, Rejected) or isinstance(new, Rejected):
            problems = [p for outcome in (new, old) if isinstance(outcome, Rejected)
                        for p in outcome.problems]
            return Comparison(line, _patient(new) or _patient(old), _decision(old),
                              _decision(new), (), tuple(dict.fromkeys(problems)))
        changes = []
        for criterion in sorted(old.verdicts.keys() | new.verdicts.keys(), key=self._order.get):
            before, after = old.verdicts.get(criterion), new.verdicts.get(criterion)
            role = self._roles[criterion]
            was = before.verdict if before else None
            now = after.verdict if after else None
            if was == now and (before and before.role) == (after and after.role):
                continue
            if None in (was, now) and (was or now) in PASSING[role]:
                continue
            because = tuple(reason for entry in self.diff.explaining(criterion)
                            for reason in _reasons(entry))
            changes.append(VerdictChange(criterion, role, was, now, because))
        return Comparison(line, new.patient.id, old.decision, new.decision, tuple(changes))


def _reasons(entry: Entry) -> list[str]:
    warned = "".join(f" (warning: {w})" for w in entry.warnings)
    return [reason + warned for reason in entry.reasons()]


def _patient(outcome: Decision | Rejected) -> str | None:
    return outcome.patient.id if isinstance(outcome, Decision) else outcome.patient


def _decision(outcome: Decision | Rejected) -> str:
    return outcome.decision if isinstance(outcome, Decision) else REJECTED


# -- reports ---------------------------------------------------------------------------------------


def render(comparison: Comparison) -> str:
    """A changed (or rejected) patient as text: decisions, then each changed verdict and why.

    >>> print(render(Comparison(3, "P3", "ELIGIBLE", "INELIGIBLE", (VerdictChange(
    ...     "I4.renal", "inclusion", "MET", "NOT_MET", ("I4.renal threshold: a -> b",)),))), end="")
    P3: ELIGIBLE -> INELIGIBLE
        I4.renal (inclusion): MET -> NOT_MET
            because I4.renal threshold: a -> b
    """
    who = comparison.patient or f"line {comparison.line}"
    if comparison.old == comparison.new == REJECTED:
        where = f" (line {comparison.line})" if comparison.patient else ""
        head = f"{who}{where}: rejected under both protocols"
    elif comparison.old == comparison.new:
        head = f"{who}: {comparison.new}, decision unchanged"
    else:
        head = f"{who}: {comparison.old} -> {comparison.new}"
    lines = [head]
    for change in comparison.verdicts:
        lines.append(f"    {change.criterion} ({change.role}): {change.old or 'absent'} -> "
                     f"{change.new or 'absent'}")
        lines += [f"        because {reason}" for reason in change.because] or [
            "        because: no change of the protocol explains it"]
    return "\n".join(lines) + "\n"


def render_summary(summary: Summary) -> str:
    """The counts on one line.

    >>> s = Summary(23, 2, 0, Counter({("ELIGIBLE", "INELIGIBLE"): 1}))
    >>> print(render_summary(s), end="")
    23 patients: 2 changed, 21 unchanged, 0 rejected under both; decisions: ELIGIBLE -> INELIGIBLE 1
    """
    moves = ", ".join(f"{old} -> {new} {n}" for (old, new), n in sorted(summary.moves.items()))
    return (f"{summary.patients} patients: {summary.changed} changed, {summary.unchanged} "
            f"unchanged, {summary.rejected} rejected under both; decisions: "
            f"{moves or 'none changed'}\n")


def as_json(comparison: Comparison) -> dict[str, Any]:
    return {
        "patient": comparison.patient, "record": comparison.line,
        "old": comparison.old, "new": comparison.new,
        "verdicts": [{"criterion": v.criterion, "role": v.role, "old": v.old, "new": v.new,
                      "because": list(v.because)} for v in comparison.verdicts],
        "problems": [str(p) for p in comparison.problems],
    }


def summary_json(summary: Summary) -> dict[str, Any]:
    return {"summary": {
        "patients": summary.patients, "changed": summary.changed, "unchanged": summary.unchanged,
        "rejected": summary.rejected,
        "moves": [{"old": old, "new": new, "patients": count}
                  for (old, new), count in sorted(summary.moves.items())],
    }}
