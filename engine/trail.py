"""The decision trail: a deterministic JSON Lines record of a run, and its rendering as text.

One line per record, keys sorted, compact separators, UTF-8: for the strings and integers the trail
holds this is RFC 8785 canonical JSON, so the same inputs give byte-identical trails (a test checks it
against the rfc8785 library). Numbers a fact carried are written as the exact decimal text, never floats.

Records, in order: `run` (versions, protocol SHA-256, fact file, network digest, screening date);
`protocol` (once: every criterion's and definition's id, verbatim sentence, rule `file:line` and the
text and line of each part of its condition, so per-patient records need not repeat them; and, when
the protocol has derived values, each one's unit, formula and place); then per
patient `patient` (the facts used, once, with value, unit, date, converted value), one `definition`
per derived concept, one `criterion` per leaf criterion (verdict, the rules that fired, the evidence
for each part in the order of the protocol record, the facts it read by index, what is missing or
awaits judgment and the fewest open parts whose values would let it pass) and `decision` (with every reason); `rejected` for a patient whose facts could not
be used; then `summary` (the counts, and the fact file's SHA-256: the file is hashed as it is read,
so its hash is known at the end; a trail written before that has it in `run`); last the `seal` (how many records precede it, and the last one's hash).

Tamper evidence (`Chain`, for this trail and the escalation trail alike): every record carries
`prev`, the SHA-256 of the previous line (`GENESIS` for the first), so an edited, inserted, deleted,
reordered or truncated record breaks the chain, and `engine/verify.py` names the first one that
does. A run stopped before its last patient (Ctrl-C) ends with a `cut` record (why, after how many
patients), then the summary and the seal: the trail is whole up to the last whole patient and says
it is incomplete. `run --resume` (`engine/resume.py`) finishes such a trail, or one whose run was
killed, into the bytes an uninterrupted run writes.

Reading (`read`): every reader (explain, replay, report) takes the records through one loader that
checks them against `engine/trail.schema.json` and their order, so a file that is not a decision
trail is refused naming its line, instead of failing halfway through rendering it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any, Iterable, TextIO

import jsonschema
import orjson

from engine.compile import Network
from engine.evidence import Explainer, criterion_parts, describe, parts
from engine.record import UsedFact
from engine.run import Decision, Rejected
from engine.summary import REJECTED
from engine.whynot import needs
from protocol import model as m
from protocol.errors import UsageError

#: The `prev` of the first record: no predecessor.
GENESIS = "0" * 64


def canonical(record: dict[str, Any]) -> str:
    """One trail line: orjson with sorted keys is RFC 8785 for our ASCII keys, strings and integers,
    and several times faster than the standard library's encoder."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()


def unchained(record: dict[str, Any]) -> tuple[str, str]:
    """A record's trail line without its `prev`: the text before the hash and after it, so that
    the line can be built where the patient was decided (a worker process) and chained where the
    trail is written; `head + prev + tail` is `canonical` of the record with its `prev`.

    >>> head, tail = unchained({"type": "seal", "records": 2})
    >>> head + GENESIS + tail == canonical({"type": "seal", "records": 2, "prev": GENESIS})
    True
    """
    before = {key: value for key, value in record.items() if key < "prev"}
    after = {key: value for key, value in record.items() if key > "prev"}
    head = canonical(before)[:-1] + ("," if before else "")
    tail = "," + canonical(after)[1:] if after else "}"
    return head + '"prev":"', '"' + tail


def sha256_file(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


class Chain:
    """Writes trail records, each chained to the line before it, and seals them: the one home of
    the tamper evidence that the screening and the escalation trail carry and `verify` checks.

    A batch of records (one patient's) is written and flushed whole, and the chain moves on only
    once it is written: a run stopped between batches leaves whole records, and `rewind` drops
    what a run stopped inside a batch left of it, so a cut trail still ends on a whole patient.

    >>> import io
    >>> out = io.StringIO()
    >>> chain = Chain(out)
    >>> chain.write({"type": "run"})
    >>> final = chain.seal()
    >>> out.getvalue().splitlines()[1].startswith('{"last":"')
    True
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.name = getattr(out, "name", "trail")
        self.last, self.count = GENESIS, 0
        self._end = out.tell() if out.seekable() else None

    def write(self, *records: dict[str, Any]) -> None:
        """Chain each record to its predecessor: `prev` is the SHA-256 of the previous line."""
        self.extend([unchained(record) for record in records])

    def extend(self, records: Iterable[tuple[str, str]]) -> None:
        """Chain and write records already serialised around their `prev` (`unchained`)."""
        last, lines = self.last, []
        for head, tail in records:
            line = f"{head}{last}{tail}"
            last = hashlib.sha256(line.encode()).hexdigest()
            lines.append(line + "\n")
        try:
            self.out.write("".join(lines))
            self.out.flush()
        except OSError as error:  # a full disk, a device gone: what was written before stays
            raise UsageError(f"cannot write trail {self.name}: {error.strerror or error}") from None
        self.last, self.count = last, self.count + len(lines)
        if self._end is not None:
            self._end = self.out.tell()

    def seal(self) -> str:
        """The last record: how many precede it and the last one's hash. Returns the seal's own
        hash, to be kept apart from the file (a chain shows any change that was not followed by
        recomputing every later hash; the final hash, kept elsewhere, shows that too)."""
        self.write({"type": "seal", "records": self.count, "last": self.last})
        return self.last

    def rewind(self) -> None:
        """Drop whatever a write stopped midway left of its batch: the file ends after the last
        whole batch again (a stream that cannot seek keeps it; `verify` then names the line)."""
        if self._end is not None:
            self.out.seek(self._end)
            self.out.truncate()


class Recorder:
    """What a run's trail says, as pure functions of the network: its header (`header`) and each
    patient's records (`records`), not yet chained. Apart from `Trail`, which chains and writes
    them, so that a worker process can build a patient's records where it decided the patient
    (`engine/workers.py`) and a resumed run can rebuild the header it must find."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.protocol = network.protocol
        self._reads = {leaf.id: self._concepts_read(leaf) for leaf in network.leaves}
        self._parts = {leaf.id: criterion_parts(leaf) for leaf in network.leaves}
        for name in network.definitions:
            definition = self.protocol.definition(name)
            assert definition is not None
            self._parts[name] = parts(definition.condition)
        self._kinds = {c.name: c.kind for c in self.protocol.concepts}

    def header(self, protocol_path: str, facts_path: str,
               screening: date | None) -> list[dict[str, Any]]:
        """The `run` and `protocol` records that open the trail."""
        network = self.network
        run = {
            "type": "run",
            **Trail.versions(),
            "protocol": {"file": protocol_path, "id": self.protocol.id, "version": self.protocol.version,
                         "sha256": hashlib.sha256(self.protocol.source.encode()).hexdigest()},
            "facts": {"file": facts_path},  # its sha256 is known at the end: see `Trail.close`
            "network": {"name": network.name, "sha256": network.digest, "rules": len(network.rules)},
            "screening_date": screening.isoformat() if screening else None,
        }
        static = {"type": "protocol", "definitions": [
            self._static(name, None, self.protocol.definition(name)) for name in network.definitions
        ], "criteria": [self._static(leaf.id, leaf, leaf) for leaf in network.leaves]}
        if network.values:  # only then, so that trails of protocols without them are unchanged
            static["values"] = [self._formula(name) for name in network.values]
        return [run, static]

    def _static(self, key: str, leaf: m.Criterion | None, node: Any) -> dict[str, Any]:
        conditions = [describe(self.protocol, part) for part in self._parts[key]]
        return {
            "id": key, "role": leaf.role.value if leaf else None, "text": node.text,
            "rule": f"{node.span.file}:{node.span.line}",
            "conditions": [{"line": c.line, "text": c.text} for c in conditions],
        }

    def _formula(self, name: str) -> dict[str, Any]:
        """A derived value as the protocol writes it: its unit, formula and place."""
        concept = self.protocol.concept(name)
        assert concept is not None and concept.formula is not None
        return {"id": name, "unit": concept.unit, "text": concept.label,
                "formula": describe(self.protocol, concept.formula).text,
                "rule": f"{concept.span.file}:{concept.span.line}"}

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
                names = [*(ref.name for ref in m.refs(atom)), weight]
                if concept is not None and concept.formula is not None:
                    names = _formula_reads(self.protocol, concept, pending)
                for name in names:
                    if name is not None and name not in seen:
                        seen.append(name)
        return seen

    def records(self, outcome: Decision | Rejected) -> list[dict[str, Any]]:
        """One patient's trail records, not yet chained: a pure function of the outcome, so that
        it can run where the patient was decided."""
        if isinstance(outcome, Rejected):
            return [{"type": "rejected", "record": outcome.line, "patient": outcome.patient,
                     "problems": [str(p) for p in outcome.problems]}]
        patient = outcome.patient
        pid = patient.id
        used = [f for facts in patient.used.values() for f in facts]
        records = [{"type": "patient", "patient": pid, "record": patient.line,
                    "screening_date": patient.screening.isoformat(),
                    "warnings": [str(w) for w in patient.warnings],
                    "facts": [_fact(f) for f in sorted(used, key=lambda f: (f.index, f.concept))]}]
        explainer = Explainer(self.protocol, outcome.derived)
        for name in self.network.definitions:
            value, rules = outcome.derived[name]
            records.append({"type": "definition", "patient": pid, "definition": name, "value": value,
                            "fired": list(rules),
                            "evidence": [explainer.judge(p, patient) for p in self._parts[name]]})
        criteria = [self._criterion(leaf, outcome, explainer) for leaf in self.network.leaves]
        records.extend(criteria)
        decision = {"type": "decision", "patient": pid, "decision": outcome.decision,
                    "reasons": [{"criterion": v.criterion, "role": v.role, "verdict": v.verdict}
                                for v in outcome.reasons]}
        if outcome.decision == "NEEDS_REVIEW":
            decision["to_settle"] = [{"criterion": c["criterion"], **need}
                                     for c in criteria for need in c.get("to_pass", [])]
        records.append(decision)
        return records

    def _criterion(self, leaf: m.Criterion, outcome: Decision, explainer: Explainer) -> dict:
        patient = outcome.patient
        verdict = outcome.verdicts[leaf.id]
        reads = self._reads[leaf.id]
        record: dict[str, Any] = {
            "type": "criterion", "patient": patient.id, "criterion": leaf.id, "role": verdict.role,
            "verdict": verdict.verdict, "fired": list(verdict.rules),
            "evidence": [explainer.judge(p, patient) for p in self._parts[leaf.id]],
            "facts": [f.index for name in reads for f in patient.used.get(name, [])],
        }
        if verdict.verdict in ("UNKNOWN", "NEEDS_REVIEW"):
            absent = [n for n in reads if n not in patient.used]
            judged = [n for n in absent if self._kinds[n] is m.Kind.JUDGMENT]
            record["missing"] = [{"concept": n, "reason": patient.unusable.get(n, "no usable fact")}
                                 for n in absent if n not in judged]
            record["pending"] = judged
            record["to_pass"] = [{"line": n.line, "condition": n.condition, "needs": n.needs}
                                 for n in needs(self.protocol, leaf, patient, explainer)]
        return record



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
        if resumed is None:
            self.chain.write(*self.recorder.header(protocol_path, facts_path, screening))
        else:
            self.chain.last, self.chain.count = resumed.last, resumed.records
            self.counts.update(resumed.counts)
            self.last_line = resumed.line

    @staticmethod
    def versions() -> dict[str, str]:
        """What ran: a replay compares these with its own."""
        return {"tool": f"proto-rules {version('proto-rules')}",
                "engine": f"durable_rules {version('durable_rules')}"}

    def records(self, outcome: Decision | Rejected) -> list[dict[str, Any]]:
        """One patient's records, not yet chained (`Recorder.records`)."""
        return self.recorder.records(outcome)

    def write(self, outcome: Decision | Rejected) -> None:
        """One patient's records, written whole; counted once written."""
        decision = REJECTED if isinstance(outcome, Rejected) else outcome.decision
        line = outcome.line if isinstance(outcome, Rejected) else outcome.patient.line
        self.written(decision, line, [unchained(r) for r in self.records(outcome)])

    def written(self, decision: str, line: int, records: list[tuple[str, str]]) -> None:
        """Chain and write one patient's records (`unchained`, built here or in a worker
        process), and count the patient once they are on disk."""
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


def _formula_reads(protocol: m.Protocol, concept: m.Concept,
                   pending: list[m.Condition]) -> list[str]:
    """The concepts a derived value reads, through the derived values it reads; the conditions
    of its conditional terms go to `pending`, to be read as conditions."""
    names: list[str] = []
    assert concept.formula is not None
    for node in m.subexpressions(concept.formula):
        if isinstance(node, m.Choice):
            pending.append(node.condition)
        elif isinstance(node, m.Reading):
            inner = protocol.concept(node.ref.name)
            if inner is not None and inner.formula is not None:
                names.extend(_formula_reads(protocol, inner, pending))
            else:
                names.append(node.ref.name)
    return names


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
LEGEND = "legend: + holds   - does not hold   ? cannot be judged (data missing, stale or unusable)"
DERIVED_WORDS = {"T": "true", "F": "false", "U": "unknown (data it reads is missing)",
                 "R": "open (awaiting an investigator's judgment)"}


#: What the readers say of the fact file's hash in a trail that stops before its summary.
NO_FACTS_SHA256 = "sha256 not recorded: the trail stops before its summary"


SCHEMA = json.loads(Path(__file__).with_name("trail.schema.json").read_text(encoding="utf-8"))
#: One validator per record type the readers read; other types (`seal`, kinds added later) pass.
VALIDATORS = {kind: jsonschema.Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{kind}"})
              for kind in ("run", "protocol", "patient", "definition", "criterion", "decision",
                           "rejected", "cut", "summary")}
#: Records that belong to the patient record before them.
OF_A_PATIENT = ("definition", "criterion", "decision")


def read(path: str) -> list[dict[str, Any]]:
    """A screening trail's records, checked enough to render: every problem is a `UsageError`
    naming the line, so a file that is not a decision trail says so instead of failing halfway.

    A last line cut off mid-record (no newline: the disk filled, the run was killed) is left out:
    what was written before it still reads, and `verify` reports the truncation.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read trail {path}: {error.strerror}") from None
    lines = data.split(b"\n")
    unfinished = lines.pop() if len(lines) > 1 else b""  # a line alone is read, however it ends
    try:
        data[:len(data) - len(unfinished)].decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"cannot read trail {path}: not UTF-8 text ({error.reason})") from None
    numbered = [(number, _record(path, number, line))
                for number, line in enumerate(lines, start=1) if line.strip()]
    if unfinished.strip():
        try:
            numbered.append((len(lines) + 1, _record(path, len(lines) + 1, unfinished)))
        except UsageError:
            pass  # the truncated tail: verify names it
    _check_order(path, numbered, data)
    return [record for _, record in numbered]


def _record(path: str, number: int, line: bytes) -> dict[str, Any]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise UsageError(f"cannot read trail {path}: line {number}: not JSON ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        raise UsageError(f"cannot read trail {path}: line {number}: not a trail record "
                         "(a JSON object with a type)")
    validator = VALIDATORS.get(record["type"])
    error = jsonschema.exceptions.best_match(validator.iter_errors(record)) if validator else None
    if error is not None:
        raise UsageError(f"cannot read trail {path}: line {number}: the {record['type']} record "
                         f"has no valid {_field(error)} ({_why(error)})")
    return record


def _field(error: jsonschema.ValidationError) -> str:
    """Where in a record the schema failed: `'evidence[2].status'`."""
    where = "".join(f"[{p + 1}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    if error.validator == "required":
        missing = next((k for k in error.validator_value if k not in error.instance), "?")
        where += f".{missing}"
    return f"'{where.lstrip('.')}'"


def _why(error: jsonschema.ValidationError) -> str:
    """Why, in a few words (jsonschema's own message quotes the whole value, however large)."""
    if error.validator == "required":
        return "missing"
    if error.validator == "enum":
        return "not one of " + ", ".join(map(str, error.validator_value))
    if error.validator == "type":
        kinds = error.validator_value
        return "not " + (" or ".join(kinds) if isinstance(kinds, list) else kinds)
    if error.validator == "pattern":
        return "not a date (YYYY-MM-DD)"
    return f"fails '{error.validator}'"


def _check_order(path: str, numbered: list[tuple[int, dict[str, Any]]], data: bytes) -> None:
    """The records in an order the readers can follow: the run and protocol records first, and
    each patient's records after its `patient` record, naming only criteria the protocol has."""
    kinds = {record["type"] for _, record in numbered}
    if "escalation-run" in kinds:
        raise UsageError(f"cannot read trail {path}: it is the trail of `proto-rules escalate`, "
                         "not of `proto-rules run`; `proto-rules verify` checks it")
    if not numbered:
        empty = "the file is empty" if not data else "it holds no record"
        raise UsageError(f"cannot read trail {path}: {empty}")
    if not {"run", "protocol"} <= kinds:
        raise UsageError(f"cannot read trail {path}: not the decision trail of `proto-rules run "
                         "--trail` (it has no run and protocol records)")
    known: set[str] = set()
    patient: str | None = None
    for number, record in numbered:
        kind = record["type"]
        if kind == "protocol":
            known = {e["id"] for e in record["definitions"] + record["criteria"]}
        elif kind in ("patient", "rejected"):
            patient = record["patient"] if kind == "patient" else None
        elif kind in OF_A_PATIENT and record["patient"] != patient:
            raise UsageError(f"cannot read trail {path}: line {number}: the {kind} "
                             f"record of patient {record['patient']} does not follow that "
                             "patient's record (records missing or out of order)")
        if kind in ("definition", "criterion") and record[kind] not in known:
            raise UsageError(f"cannot read trail {path}: line {number}: {kind} "
                             f"{record[kind]} is not in the trail's protocol record")


def patients(records: Iterable[dict[str, Any]]) -> list[str]:
    """The patients a trail decided or rejected, in order (a rejected record may have no id)."""
    return [r["patient"] for r in records if r["type"] in ("patient", "rejected") and r["patient"]]


def facts_sha256(records: Iterable[dict[str, Any]]) -> str | None:
    """The SHA-256 of the fact file the run read: in the summary, or, in a trail written before
    the fact file was streamed, in the run header; None when a trail stops before its summary."""
    recorded = None
    for record in records:
        if record.get("type") == "run" and isinstance(record.get("facts"), dict):
            recorded = record["facts"].get("sha256")
        elif record.get("type") == "summary":
            return record.get("facts_sha256", recorded)
    return recorded


def render(records: Iterable[dict[str, Any]], patient: str | None = None,
           criterion: str | None = None) -> str:
    """The trail as text an auditor reads: per patient the decision with its reasons first, then
    every definition and criterion with its verdict, the protocol sentence, the rule's place, and for
    each part of its condition whether it held, with the facts it saw and what it needed."""
    records = list(records)  # the fact file's hash, shown first, is in the summary, at the end
    lines: list[str] = []
    static: dict[str, dict[str, Any]] = {}
    block: list[str] = []
    head = ""
    for record in records:
        kind = record["type"]
        if kind == "run":
            lines.extend(_run(record, facts_sha256(records)))
        elif kind == "protocol":
            static = {e["id"]: e for e in record["definitions"] + record["criteria"]}
            lines.extend(f"derived {v['id']} in {v['unit']} = {v['formula']}  ({v['rule']})"
                         for v in record.get("values", []))
        elif kind not in ("summary",) and patient not in (None, record.get("patient")):
            continue
        elif kind == "patient":
            head = (f"\npatient {record['patient']} (fact file line {record['record']}, "
                    f"screening date {record['screening_date']})")
            block = [f"  {w}" for w in record["warnings"]]
        elif kind == "definition" and criterion is None:
            entry = static[record["definition"]]
            block.append(f"  definition {record['definition']} = {DERIVED_WORDS[record['value']]}"
                         f"  ({entry['rule']})")
            block.extend(_evidence(entry, record["evidence"]))
        elif kind == "criterion" and criterion in (None, record["criterion"]):
            block.extend(_criterion(static[record["criterion"]], record))
        elif kind == "decision":
            reasons = "; ".join(f"{r['role']} {r['criterion']} {r['verdict']}" for r in record["reasons"])
            lines.extend([head, f"  decision: {record['decision']}" + (f": {reasons}" if reasons else "")])
            lines.extend(f"    to be eligible, {n['criterion']} needs {n['needs']} (line {n['line']})"
                         for n in record.get("to_settle", []))
            lines.extend(block)
        elif kind == "rejected":
            lines.append(f"\nfact file line {record['record']} rejected "
                         f"({record['patient'] or 'no patient id'}):")
            lines.extend(f"  {p}" for p in record["problems"])
        elif kind == "cut":
            lines.append(f"\n{cut(record)}")
        elif kind == "summary" and patient is None:
            counts = dict(record["decisions"])
            rejected = counts.pop("REJECTED", 0)
            decided = ", ".join(f"{k} {v}" for k, v in counts.items())
            lines.append(f"\nsummary: {sum(counts.values())} patients decided ({decided}); "
                         f"{rejected} records rejected")
    return "\n".join(lines) + "\n"


def cut(record: dict[str, Any]) -> str:
    """How far a cut run got, in words (explain, verify and the report say it alike)."""
    where = f", fact file line {record['record']}" if record.get("record") else ""
    return (f"the run was cut ({record['reason']}) after {record['patients']} patients{where}: "
            "the patients after it were not decided")


def _run(record: dict[str, Any], facts_digest: str | None) -> list[str]:
    p, facts = record["protocol"], record["facts"]
    date_ = record["screening_date"] or "from each record"
    digest = f"sha256 {facts_digest}" if facts_digest else NO_FACTS_SHA256
    return [f"protocol {p['id']} version {p['version']} ({p['file']}, sha256 {p['sha256']})",
            f"facts {facts['file']} ({digest}); screening date {date_}",
            f"{record['tool']}, {record['engine']}, network {record['network']['sha256'][:16]}",
            LEGEND]


def _criterion(entry: dict[str, Any], record: dict[str, Any]) -> list[str]:
    lines = [f"  {record['criterion']} {record['verdict']}  ({entry['role']}, {entry['rule']})",
             f"      \"{entry['text']}\"" if entry["text"] else "      (no protocol text)"]
    lines.extend(_evidence(entry, record["evidence"]))
    for item in record.get("missing", []):
        lines.append(f"      missing: {item['concept']} ({item['reason']})")
    for name in record.get("pending", []):
        lines.append(f"      awaiting investigator judgment: {name}")
    if record.get("to_pass"):
        wanted = "MET" if entry["role"] == "inclusion" else "NOT_MET"
        settle = "; and ".join(f"{n['needs']} (line {n['line']})" for n in record["to_pass"])
        lines.append(f"      would be {wanted} with: {settle}")
    return lines


def _evidence(entry: dict[str, Any], evidence: list[dict[str, Any]]) -> list[str]:
    return [f"      {MARK[e['status']]} {c['text']} (line {c['line']}): {e['detail']}"
            for c, e in zip(entry["conditions"], evidence)]
