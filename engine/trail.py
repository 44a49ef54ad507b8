"""The decision trail: a deterministic JSON Lines record of a run, and its rendering as text.

One line per record, keys sorted, compact separators, UTF-8: for the strings and integers the trail
holds this is RFC 8785 canonical JSON, so the same inputs give byte-identical trails (a test checks it
against the rfc8785 library). Numbers a fact carried are written as the exact decimal text, never floats.

Records, in order: `run` (versions, protocol and fact-file SHA-256, network digest, screening date);
then per patient `patient`, one `definition` per derived concept, one `criterion` per leaf criterion
(verdict, protocol sentence, file:line, rules fired, evidence per condition part, facts used, what is
missing or awaits judgment) and `decision` (with every reason); `rejected` for a patient whose facts
could not be used; finally `summary`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from importlib.metadata import version
from typing import Any, Iterable, TextIO

from engine.compile import Network
from engine.evidence import Explainer
from engine.facts import UsedFact
from engine.run import Decision, Rejected
from protocol import model as m


def canonical(record: dict[str, Any]) -> str:
    """One trail line."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha256_file(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


class Trail:
    """Writes a run's trail as it goes (streaming: nothing is kept per patient)."""

    def __init__(self, out: TextIO, network: Network, protocol_path: str, facts_path: str,
                 facts_sha256: str, screening: date | None) -> None:
        self.out = out
        self.network = network
        self.protocol = network.protocol
        self.counts: Counter[str] = Counter()
        self._reads = {leaf.id: self._concepts_read(leaf) for leaf in network.leaves}
        self._write({
            "type": "run",
            "tool": f"proto-rules {version('proto-rules')}",
            "engine": f"durable_rules {version('durable_rules')}",
            "protocol": {"file": protocol_path, "id": self.protocol.id, "version": self.protocol.version,
                         "sha256": hashlib.sha256(self.protocol.source.encode()).hexdigest()},
            "facts": {"file": facts_path, "sha256": facts_sha256},
            "network": {"name": network.name, "sha256": network.digest, "rules": len(network.rules)},
            "screening_date": screening.isoformat() if screening else None,
        })

    def _write(self, record: dict[str, Any]) -> None:
        self.out.write(canonical(record) + "\n")

    def _concepts_read(self, leaf: m.Criterion) -> list[str]:
        """Concepts a criterion reads, directly or through definitions, in first-use order."""
        seen: list[str] = []
        pending = [c for c in (leaf.applies, leaf.condition) if c is not None]
        while pending:
            for atom in m.atoms(pending.pop(0)):
                definition = self.protocol.definition(atom.ref.name)
                if definition is not None:
                    pending.append(definition.condition)
                    continue
                concept = self.protocol.concept(atom.ref.name)
                weight = concept.weight.name if concept and isinstance(atom, m.Course) and \
                    concept.weight else None
                for name in (atom.ref.name, weight):
                    if name is not None and name not in seen:
                        seen.append(name)
        return seen

    def write(self, outcome: Decision | Rejected) -> None:
        if isinstance(outcome, Rejected):
            self.counts["REJECTED"] += 1
            self._write({"type": "rejected", "record": outcome.line, "patient": outcome.patient,
                         "problems": [str(p) for p in outcome.problems]})
            return
        patient = outcome.patient
        self.counts[outcome.decision] += 1
        pid = patient.id
        self._write({"type": "patient", "patient": pid, "record": patient.line,
                     "screening_date": patient.screening.isoformat(),
                     "warnings": [str(w) for w in patient.warnings]})
        explainer = Explainer(self.protocol, outcome.derived)
        for name in self.network.definitions:
            definition = self.protocol.definition(name)
            assert definition is not None
            value, rules = outcome.derived[name]
            self._write({"type": "definition", "patient": pid, "definition": name, "value": value,
                         "text": definition.text, "line": definition.span.line, "fired": list(rules),
                         "evidence": [e.as_dict() for e in explainer.atoms(
                             m.Criterion(definition.span, m.Role.INCLUSION, name, None, None,
                                         definition.condition), patient)]})
        for leaf in self.network.leaves:
            self._write(self._criterion(leaf, outcome, explainer))
        self._write({"type": "decision", "patient": pid, "decision": outcome.decision,
                     "reasons": [{"criterion": v.criterion, "verdict": v.verdict}
                                 for v in outcome.reasons]})

    def _criterion(self, leaf: m.Criterion, outcome: Decision, explainer: Explainer) -> dict:
        patient = outcome.patient
        verdict = outcome.verdicts[leaf.id]
        reads = self._reads[leaf.id]
        facts = [_fact(f) for name in reads for f in patient.used.get(name, [])]
        record: dict[str, Any] = {
            "type": "criterion", "patient": patient.id, "criterion": leaf.id, "role": verdict.role,
            "verdict": verdict.verdict, "text": leaf.text,
            "rule": f"{leaf.span.file}:{leaf.span.line}", "fired": list(verdict.rules),
            "evidence": [e.as_dict() for e in explainer.atoms(leaf, patient)], "facts": facts,
        }
        if verdict.verdict in ("UNKNOWN", "NEEDS_REVIEW"):
            concepts = {c.name: c for c in self.protocol.concepts}
            absent = [n for n in reads if n not in patient.used]
            record["missing"] = [{"concept": n, "reason": patient.unusable.get(n, "no usable fact")}
                                 for n in absent if concepts[n].kind is not m.Kind.JUDGMENT]
            record["pending"] = [n for n in absent if concepts[n].kind is m.Kind.JUDGMENT]
        return record

    def close(self) -> None:
        self._write({"type": "summary", "patients": sum(self.counts.values()),
                     "decisions": dict(sorted(self.counts.items()))})


def _fact(fact: UsedFact) -> dict[str, Any]:
    return {"index": fact.index, "concept": fact.concept, "value": _text(fact.value), "unit": fact.unit,
            "date": fact.date, "converted": fact.converted, "note": fact.note}


def _text(value: Any) -> Any:
    """Exact text for numbers, so no float formatting enters the trail."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


# -- rendering ------------------------------------------------------------------------------------

MARK = {"true": "+", "false": "-", "unknown": "?"}


def read(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def render(records: Iterable[dict[str, Any]], patient: str | None = None,
           criterion: str | None = None) -> str:
    """The trail as text an auditor reads: per patient the decision and its reasons, then each
    criterion with its verdict, the protocol sentence, the rule's line, and what each part saw."""
    lines: list[str] = []
    for record in records:
        kind = record["type"]
        if patient is not None and record.get("patient") != patient and kind not in ("run",):
            continue
        if kind == "run":
            p = record["protocol"]
            lines.append(f"run: {p['id']} v{p['version']} ({p['file']}, sha256 {p['sha256'][:12]}); "
                         f"facts {record['facts']['file']} (sha256 {record['facts']['sha256'][:12]}); "
                         f"{record['engine']}")
        elif kind == "patient":
            lines.append(f"\npatient {record['patient']} (record {record['record']}, screening "
                         f"{record['screening_date']})")
            lines.extend(f"  warning: {w}" for w in record["warnings"])
        elif kind == "definition" and criterion is None:
            lines.append(f"  define {record['definition']} = {record['value']} (line {record['line']})")
            lines.extend(_evidence(record["evidence"]))
        elif kind == "criterion" and criterion in (None, record["criterion"]):
            lines.append(f"  {record['criterion']} {record['verdict']}: {_sentence(record['text'])} "
                         f"({record['rule']})")
            lines.extend(_evidence(record["evidence"]))
            for item in record.get("missing", []):
                lines.append(f"      missing: {item['concept']} ({item['reason']})")
            for name in record.get("pending", []):
                lines.append(f"      awaiting investigator judgment: {name}")
        elif kind == "decision":
            reasons = ", ".join(f"{r['criterion']} {r['verdict']}" for r in record["reasons"])
            lines.append(f"  => {record['decision']}" + (f" because {reasons}" if reasons else ""))
        elif kind == "rejected":
            lines.append(f"\nrecord {record['record']} rejected ({record['patient'] or 'no patient id'}):")
            lines.extend(f"  {p}" for p in record["problems"])
        elif kind == "summary" and patient is None:
            counts = ", ".join(f"{k} {v}" for k, v in record["decisions"].items())
            lines.append(f"\nsummary: {record['patients']} records: {counts}")
    return "\n".join(lines) + "\n"


def _sentence(text: str | None) -> str:
    if not text:
        return "(no protocol text)"
    return f'"{text}"' if len(text) <= 90 else f'"{text[:87]}..."'


def _evidence(evidence: list[dict[str, Any]]) -> list[str]:
    return [f"      {MARK[e['status']]} {e['condition']}  [{e['detail']}] (line {e['line']})"
            for e in evidence]
