"""Replay a recorded run: decide the same facts again and compare with what the trail says.

An auditor months later (or after an engine upgrade) re-runs the protocol on the fact file the trail
names and learns whether every verdict and every decision is the same. The trail's header says what
was read (file hashes, screening date, engine versions); differences in those are reported too,
since they explain differences in the outcome.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Iterator

from engine.compile import Network
from engine.factfile import opened
from engine.run import Decision, Rejected, Screening
from engine.audit.trail import facts_sha256, versions
from protocol.errors import UsageError


@dataclass
class Replay:
    """What a replay found: counts compared, and every difference in words."""

    patients: int = 0
    verdicts: int = 0
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        lines = list(self.notes)
        if self.identical:
            lines.append(f"identical: {self.patients} records, {self.verdicts} verdicts and every "
                         "decision as recorded")
        else:
            lines.append(f"{len(self.differences)} differences (recorded -> replayed):")
            lines.extend(f"  {d}" for d in self.differences)
        return "\n".join(lines)


def replay(records: Iterable[dict[str, Any]], network: Network, facts_path: str) -> Replay:
    """Re-decide `facts_path` with `network` and compare with the trail `records`. Both are read
    as streams, in fact-file order, and joined on the fact-file line, so memory does not grow
    with the patients."""
    records = iter(records)
    header = next(records, None)
    if header is None or header.get("type") != "run":
        raise UsageError("not a decision trail: its first record is not a run header")
    result = Replay()
    given = header.get("screening_date")
    try:
        screening = date.fromisoformat(given) if given else None
    except ValueError:
        raise UsageError(f"the run header's screening date is not a date: {given!r}") from None
    recorded = _Recorded(header)
    with opened(facts_path, network.protocol) as facts:
        replayed = ((_line(outcome), _summary(outcome)) for outcome in
                    Screening(network).screen(facts.records(), facts_path, screening))
        for line, old, new in _joined(recorded.outcomes(records), replayed):
            result.patients += 1
            result.verdicts += len((new or {}).get("verdicts", {}))
            result.differences.extend(_compare(line, old, new))
        read = facts.sha256()
    result.notes.extend(_header_notes(header, network, recorded.facts_sha256 == read))
    return result


def _joined(old: Iterator[tuple[int, dict]], new: Iterator[tuple[int, dict]]
            ) -> Iterator[tuple[int, dict | None, dict | None]]:
    """Two streams of (line, outcome) in line order, joined on the line: a line missing from
    one of them comes with None there.

    >>> list(_joined(iter([(1, "a"), (3, "c")]), iter([(1, "A"), (2, "B")])))
    [(1, 'a', 'A'), (2, None, 'B'), (3, 'c', None)]
    """
    a, b = next(old, None), next(new, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            yield a[0], a[1], None
            a = next(old, None)
        elif a is None or b[0] < a[0]:
            yield b[0], None, b[1]
            b = next(new, None)
        else:
            yield a[0], a[1], b[1]
            a, b = next(old, None), next(new, None)


def _header_notes(header: dict[str, Any], network: Network, same_facts: bool) -> list[str]:
    notes = []
    protocol_sha = hashlib.sha256(network.protocol.source.encode()).hexdigest()
    if header["protocol"]["sha256"] != protocol_sha:
        notes.append("note: the protocol is not the file the run read (sha256 differs)")
    if not same_facts:
        notes.append("note: the fact file is not the file the run read (sha256 differs)")
    now = versions()
    for key in ("tool", "engine"):
        if header.get(key) != now[key]:
            notes.append(f"note: recorded with {header.get(key)}, replayed with {now[key]}")
    return notes


class _Recorded:
    """What the trail recorded, read as it streams by: each patient's outcome in turn, and the
    fact file's SHA-256 (in the summary, at the end; in the run header of an older trail)."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.facts_sha256 = facts_sha256([header])

    def outcomes(self, records: Iterator[dict[str, Any]]) -> Iterator[tuple[int, dict]]:
        """Per fact-file line, in order: the recorded decision (or rejection) and verdicts; a
        patient is done at the next one's record, or at the end of the trail."""
        current: tuple[int, dict[str, Any]] | None = None
        for record in records:
            kind = record.get("type")
            if kind in ("patient", "rejected") and current is not None:
                yield current
                current = None
            if kind == "patient":
                current = record["record"], {"patient": record["patient"], "verdicts": {}}
            elif kind == "criterion" and current is not None:
                current[1]["verdicts"][record["criterion"]] = record["verdict"]
            elif kind == "decision" and current is not None:
                current[1]["decision"] = record["decision"]
            elif kind == "rejected":
                current = record["record"], {"patient": record["patient"], "rejected": True}
            elif kind == "summary":
                self.facts_sha256 = facts_sha256([record]) or self.facts_sha256
        if current is not None:
            yield current


def _line(outcome: Decision | Rejected) -> int:
    return outcome.line if isinstance(outcome, Rejected) else outcome.patient.line


def _summary(outcome: Decision | Rejected) -> dict[str, Any]:
    if isinstance(outcome, Rejected):
        return {"patient": outcome.patient, "rejected": True}
    return {"patient": outcome.patient.id, "decision": outcome.decision,
            "verdicts": {c: v.verdict for c, v in outcome.verdicts.items()}}


def _compare(line: int, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    where = f"line {line} ({(new or old or {}).get('patient') or 'no patient id'})"
    if old is None or new is None:
        return [f"{where}: {'not in the trail' if old is None else 'not in the fact file'}"]
    if old.get("rejected") or new.get("rejected"):
        if old.get("rejected") != new.get("rejected"):
            before = "rejected" if old.get("rejected") else old.get("decision")
            after = "rejected" if new.get("rejected") else new.get("decision")
            return [f"{where}: {before} -> {after}"]
        return []
    recorded = old.get("decision", "absent (the trail stops inside this patient)")
    found = [f"{where}: decision {recorded} -> {new['decision']}"] \
        if recorded != new.get("decision") else []
    for criterion in sorted(set(old["verdicts"]) | set(new["verdicts"])):
        before, after = old["verdicts"].get(criterion, "absent"), new["verdicts"].get(criterion, "absent")
        if before != after:
            found.append(f"{where}: {criterion} {before} -> {after}")
    return found
