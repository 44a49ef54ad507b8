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
from typing import Any

from engine.compile import Network
from engine.factfile import opened
from engine.run import Decision, Rejected, Screening
from engine.trail import Trail, facts_sha256
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


def replay(records: list[dict[str, Any]], network: Network, facts_path: str) -> Replay:
    """Re-decide `facts_path` with `network` and compare with the trail `records`."""
    header = records[0] if records and records[0].get("type") == "run" else None
    if header is None:
        raise UsageError("not a decision trail: its first record is not a run header")
    result = Replay()
    given = header.get("screening_date")
    try:
        screening = date.fromisoformat(given) if given else None
    except ValueError:
        raise UsageError(f"the run header's screening date is not a date: {given!r}") from None
    recorded = _outcomes(records)
    replayed: dict[int, dict[str, Any]] = {}
    with opened(facts_path, network.protocol) as facts:
        for outcome in Screening(network).screen(facts.records(), facts_path, screening):
            replayed[_line(outcome)] = _summary(outcome)
        read = facts.sha256()
    result.notes.extend(_header_notes(header, network, facts_sha256(records) == read))
    for line in sorted(set(recorded) | set(replayed)):
        result.patients += 1
        old, new = recorded.get(line), replayed.get(line)
        result.verdicts += len((new or {}).get("verdicts", {}))
        result.differences.extend(_compare(line, old, new))
    return result


def _header_notes(header: dict[str, Any], network: Network, same_facts: bool) -> list[str]:
    notes = []
    protocol_sha = hashlib.sha256(network.protocol.source.encode()).hexdigest()
    if header["protocol"]["sha256"] != protocol_sha:
        notes.append("note: the protocol is not the file the run read (sha256 differs)")
    if not same_facts:
        notes.append("note: the fact file is not the file the run read (sha256 differs)")
    now = Trail.versions()
    for key in ("tool", "engine"):
        if header.get(key) != now[key]:
            notes.append(f"note: recorded with {header.get(key)}, replayed with {now[key]}")
    return notes


def _outcomes(records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per fact-file line: the recorded decision (or rejection) and verdicts."""
    found: dict[int, dict[str, Any]] = {}
    line_of: dict[str, int] = {}
    for record in records:
        kind = record.get("type")
        if kind == "patient":
            line_of[record["patient"]] = record["record"]
            found[record["record"]] = {"patient": record["patient"], "verdicts": {}}
        elif kind == "criterion":
            found[line_of[record["patient"]]]["verdicts"][record["criterion"]] = record["verdict"]
        elif kind == "decision":
            found[line_of[record["patient"]]]["decision"] = record["decision"]
        elif kind == "rejected":
            found[record["record"]] = {"patient": record["patient"], "rejected": True}
    return found


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
