"""What a run writes in its decision trail (`engine/audit/trail.py` says what the trail holds and
why, and reads it back): `Recorder` makes a run's header and each patient's lines from the compiled
network, `Trail` chains and writes them as the run goes.

Apart from the readers: this needs the network, the evidence and the engine's outcomes, which a
reader of a trail (`explain`, `verify`) would otherwise import before showing anything.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, TextIO

import orjson

from engine.compile import Network
from engine.audit.decided import Decided
from engine.audit.evidence import (concepts_read, criterion_parts, describe, drawn_shape,
                                   parts)
from engine.audit.trail import GENESIS, Chain, unchained, versions
from engine.audit.trailfile import Frames
from engine.run import Decision, Rejected
from engine.summary import REJECTED
from protocol import model as m
from protocol.amend.wording import formula_read


class Recorder:
    """What a run's trail says, as pure functions of the network: its header (`header`) and each
    patient's lines (`lines`), not yet chained. Apart from `Trail`, which chains and writes
    them, so that a worker process can build a patient's records where it decided the patient
    (`engine/workers.py`) and a resumed run can rebuild the header it must find."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.protocol = network.protocol
        self._reads = {leaf.id: concepts_read(self.protocol, [leaf.applies, leaf.condition])
                       for leaf in network.leaves}
        self._parts = {leaf.id: criterion_parts(leaf) for leaf in network.leaves}
        for name in network.definitions:
            definition = self.protocol.definition(name)
            assert definition is not None
            self._parts[name] = parts(definition.condition)
        self._decided = Decided(network, self._parts, self._reads)

    def header(self, protocol_path: str, facts_path: str,
               screening: date | None) -> list[dict[str, Any]]:
        """The `run` and `protocol` records that open the trail."""
        network = self.network
        run = {
            "type": "run",
            **versions(),
            "protocol": {"file": protocol_path, "id": self.protocol.id, "version": self.protocol.version,
                         "sha256": hashlib.sha256(self.protocol.source.encode()).hexdigest(),
                         **_modules(self.protocol)},
            "facts": {"file": facts_path},  # its sha256 is known at the end: see `Trail.close`
            "network": {"name": network.name, "sha256": network.digest, "rules": len(network.rules)},
            "screening_date": screening.isoformat() if screening else None,
        }
        static = {"type": "protocol", "definitions": [
            self._static(name, None, self.protocol.definition(name)) for name in network.definitions
        ], "criteria": [self._static(leaf.id, leaf, leaf) for leaf in network.leaves]}
        if network.values:  # only then, so that trails of protocols without them are unchanged
            static["values"] = [self._formula(name) for name in network.values]
        used = dict.fromkeys(ref.name for ref in self.protocol.set_uses)
        if used:  # what a condition naming a set compares with, beside the condition as written
            static["sets"] = [self._set(name) for name in used]
        return [run, static]

    def _set(self, name: str) -> dict[str, Any]:
        """A value set as the protocol names it: its values and place."""
        named = self.protocol.named_values(name)
        assert named is not None
        return {"id": name, "values": [v.name for v in named.values],
                "rule": f"{named.span.file}:{named.span.line}"}

    def _static(self, key: str, leaf: m.Criterion | None, node: Any) -> dict[str, Any]:
        conditions = [describe(self.protocol, part) for part in self._parts[key]]
        entry = {
            "id": key, "role": leaf.role.value if leaf else None, "text": node.text,
            "rule": f"{node.span.file}:{node.span.line}",
            "conditions": [{"line": c.line, "text": c.text} for c in conditions],
        }
        joined = drawn_shape(node.condition, leaf.applies if leaf else None)
        if joined is not None:  # only then, so that a trail of parts all needed is unchanged
            entry["shape"] = joined
        return entry

    def _formula(self, name: str) -> dict[str, Any]:
        """A derived value as the protocol writes it: its unit, formula and place."""
        concept = self.protocol.concept(name)
        assert concept is not None and concept.formula is not None
        return {"id": name, "unit": concept.unit, "text": concept.label,
                "formula": formula_read(self.protocol, concept,
                                        describe(self.protocol, concept.formula).text),
                "rule": f"{concept.span.file}:{concept.span.line}"}

    def lines(self, outcome: Decision | Rejected) -> list[tuple[str, str]]:
        """One patient's trail lines, not yet chained (`unchained`): a pure function of the
        outcome, so that it can run where the patient was decided. A decided patient is one
        `decided` record, written as its line directly (`engine/audit/decided.py`)."""
        if isinstance(outcome, Rejected):
            return [unchained({"type": "rejected", "record": outcome.line,
                               "patient": outcome.patient,
                               "problems": [str(p) for p in outcome.problems]})]
        return [self._decided.line(outcome)]

    def records(self, outcome: Decision | Rejected) -> list[dict[str, Any]]:
        """One patient's trail records as a reader reads them back from its lines, without their
        `prev` (a scenario's failure shows them)."""
        return [{key: value for key, value in orjson.loads(head + GENESIS + tail).items()
                 if key != "prev"} for head, tail in self.lines(outcome)]


@dataclass(frozen=True)
class Resumed:
    """Where a stopped run's trail is taken back: the last whole patient's record hash, how many
    records precede it, the patients counted by decision, and the fact-file line of the last."""

    last: str
    records: int
    counts: dict[str, int]
    line: int | None


class Trail:
    """Writes a run's trail as it goes (streaming: nothing is kept per patient).

    A new trail starts with its header; `resumed` takes one back where a stopped run left it
    (`engine/resume.py` finds that point), so that the finished file is the one an uninterrupted
    run writes."""

    def __init__(self, out: TextIO, network: Network, protocol_path: str, facts_path: str,
                 screening: date | None, resumed: Resumed | None = None) -> None:
        self.chain = Chain(out)
        self.recorder = Recorder(network)
        self.network = network
        self.counts: Counter[str] = Counter()
        self.last_line: int | None = None  # the fact-file line of the last patient written
        header = self.recorder.header(protocol_path, facts_path, screening)
        #: The protocol record: `render` needs it beside a patient's records (scenario failures).
        self.protocol_record = header[1]
        if resumed is None:
            self.chain.write(*header)
        else:
            self.chain.last, self.chain.count = resumed.last, resumed.records
            self.counts.update(resumed.counts)
            self.last_line = resumed.line

    def records(self, outcome: Decision | Rejected) -> list[dict[str, Any]]:
        """One patient's records, as read back from its lines (`Recorder.records`)."""
        return self.recorder.records(outcome)

    def write(self, outcome: Decision | Rejected) -> None:
        """One patient's records, written whole; counted once written."""
        rejected = isinstance(outcome, Rejected)
        patient = outcome.patient if rejected else outcome.patient.id
        decision = REJECTED if rejected else outcome.decision
        line = outcome.line if rejected else outcome.patient.line
        self.written(patient, decision, line, self.recorder.lines(outcome))

    def written(self, patient: str | None, decision: str, line: int,
                records: list[tuple[str, str]]) -> None:
        """Chain and write one patient's records (`unchained`, built here or in a worker
        process), and count the patient once they are on disk. A compressed trail is told whose
        lines come next, for its seek table (`engine/trailfile.Frames`)."""
        if isinstance(self.chain.out, Frames):
            self.chain.out.holds(patient)
        self.chain.extend(records)
        self.counts[decision] += 1
        self.last_line = line

    def close(self, facts_sha256: str) -> str:
        """Write the summary and the seal; return the final hash (`Chain.seal`). The summary
        records the fact file's SHA-256: the file is read as a stream and hashed as it is read,
        so its hash is known only once it has been read through (`engine.factfile.FactStream`)."""
        self.chain.write({"type": "summary", "patients": sum(self.counts.values()),
                          "decisions": dict(sorted(self.counts.items())),
                          "facts_sha256": facts_sha256})
        return self.chain.seal()

    def cut(self, reason: str, facts_sha256: str) -> str:
        """Close a run stopped before its last patient: the trail keeps the whole patients
        written, says why and how far it got (a `cut` record), then is summed up and sealed as
        usual, so that it verifies and every reader says it is incomplete."""
        self.chain.rewind()
        self.chain.write({"type": "cut", "reason": reason, "patients": sum(self.counts.values()),
                          "record": self.last_line})
        return self.close(facts_sha256)



def _modules(protocol: m.Protocol) -> dict[str, list[dict[str, str]]]:
    """The imported modules, each with its hash, when the criteria use a value set one of them
    declares: the values decided with are then in another file than the protocol's (a module of
    escalation rules alone leaves eligibility as the protocol's file says)."""
    own = {s.name for s in protocol.sets}
    if all(use.name in own for use in protocol.set_uses):
        return {}
    return {"modules": [{"file": module.path,
                         "sha256": hashlib.sha256(module.source.encode()).hexdigest()}
                        for module in protocol.modules]}
