"""The decision trail: a deterministic JSON Lines record of a run, written by
`engine/audit/recorder.py`; `engine/audit/explain.py` renders it as text.

One line per record, keys sorted, compact separators, UTF-8: for the strings and integers the trail
holds this is RFC 8785 canonical JSON, so the same inputs give byte-identical trails (a test checks it
against the rfc8785 library). Numbers a fact carried are written as the exact decimal text, never floats.

Records, in order: `run` (versions, protocol SHA-256, fact file, network digest, screening date);
`protocol` (once: every criterion's and definition's id, verbatim sentence, rule `file:line` and the
text and line of each part of its condition, so per-patient records need not repeat them; and, when
the protocol has derived values, each one's unit, formula and place); then per patient one
`decided` record (`engine/audit/decided.py`: the facts used, once; per definition and criterion, in
the protocol record's order, the value or verdict, the rules that fired, each part's evidence
marked, the facts it read by index, what is missing or awaits judgment and the fewest open parts
whose values would let it pass; the decision and its reasons), or `rejected` for a patient whose
facts could not be used; then `summary` (the counts, and the fact file's SHA-256: the file is hashed
as it is read, so its hash is known at the end; a trail written before that has it in `run`); last
the `seal` (how many records precede it, and the last one's hash). One record per patient, not one
per criterion each repeating its type, patient and `prev`: the trail is a third smaller, and its
records compress well (issue 10).

Tamper evidence (`Chain`, for this trail and the escalation trail alike): every record carries
`prev`, the SHA-256 of the previous line (`GENESIS` for the first), so an edited, inserted, deleted,
reordered or truncated record breaks the chain, and `engine/audit/verify.py` names the first one
that does. A run stopped before its last patient (Ctrl-C) ends with a `cut` record (why, after how
many patients), then the summary and the seal: the trail is whole up to the last whole patient and
says it is incomplete. `run --resume` (`engine/resume.py`) finishes such a trail, or one whose run
was killed, into the bytes an uninterrupted run writes.

Reading (`stream`, `read`): every reader (explain, replay, report, attrition) takes the records
through one loader that checks them against `engine/audit/trail.schema.json` and their order, as a
stream: a record that does not fit stops the reader with a message naming its line, never a
traceback, and a file that is not a decision trail at all is refused at its first records, before
anything is shown (`opening`). It opens each `decided` record up into the records a trail wrote per patient before
(`patient`, `definition`, `criterion`, `decision`: `expand`), so that old trails and new read alike.

Here is what the writer and every reader share (the canonical line, the chain, a part's marks) and
the readers; the writer, which needs the compiled network, is a module of its own, so that a
reader imports neither the compiler nor the engine (nor jsonschema, but to say why a record does
not fit): `explain` and `verify` start in a fraction of the time a run takes (a test checks it).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TextIO

import fastjsonschema
import orjson

from engine.record import UsedFact
from engine.shape import shape_problem
from engine.audit.trailfile import lines
from protocol.errors import UsageError

if TYPE_CHECKING:
    import jsonschema

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


def versions() -> dict[str, str]:
    """What ran, as the run header records it: a replay compares these with its own.
    (importlib.metadata, some 20 ms to import, is imported here: a reader has no use for it.)"""
    from importlib.metadata import version

    return {"tool": f"proto-rules {version('proto-rules')}",
            "engine": f"durable_rules {version('durable_rules')}"}


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


#: A fact's fields, in the order the older trail wrote them, all present (null when empty):
#: `UsedFact`'s own (index, concept, value, unit, date, converted, note).
FACT_FIELDS: tuple[str, ...] = UsedFact._fields


#: A part's evidence as one string is its mark, then the detail (`+age 22 years ...`): holds,
#: does not hold, cannot be judged.
MARK = {"true": "+", "false": "-", "unknown": "?"}
#: A part's evidence by its mark.
STATUS = {mark: status for status, mark in MARK.items()}


SCHEMA = json.loads(Path(__file__).with_name("trail.schema.json").read_text(encoding="utf-8"))
#: The record types the readers read, each checked against its part of the schema; other types
#: (`seal`, kinds added later) pass.
CHECKED = frozenset({"run", "protocol", "decided", "patient", "definition", "criterion",
                     "decision", "rejected", "cut", "summary"})
#: Records about one patient.
PATIENTS_OWN = ("decided", "rejected", "patient", "definition", "criterion", "decision")
#: Records that belong to the patient record before them (in a trail written before `decided`).
OF_A_PATIENT = ("definition", "criterion", "decision")


#: What each pattern of the schema means, as the readers say it.
MEANT = {"^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "not a date (YYYY-MM-DD)",
         "^[-+?]": "not marked + (holds), - (does not hold) or ? (cannot be judged)"}


def read(path: str) -> list[dict[str, Any]]:
    """A screening trail's records, checked enough to render (`stream`), in a list."""
    return list(stream(path))


def stream(path: str, patient: str | None = None) -> Iterator[dict[str, Any]]:
    """A screening trail's records one by one, checked enough to render, as every reader reads
    them (a decided patient opened up by `expand`): memory does not grow with the trail. Every
    problem is a `UsageError` naming the line, so a file that is not a decision trail says so
    instead of failing halfway; a reader that must not show anything of such a file reads it
    through once first (`records`).
    """
    with lines(path) as handle:
        yield from records(enumerate(handle, start=1), path, patient)


def opening(path: str) -> dict[str, Any]:
    """The protocol record, read from the start of the trail: a file that is not a decision trail
    is refused (`UsageError`) before a reader that streams it shows anything."""
    for record in stream(path):
        if record["type"] == "protocol":
            return record
    raise AssertionError("a trail without a protocol record is refused by `records`")


def scan(path: str, patient: str | None = None) -> tuple[str | None, bool]:
    """The fact file's SHA-256 as the trail records it (`facts_sha256`), and whether the trail
    holds `patient`'s records, from a quick pass over its lines: what a streaming reader must know
    before it shows the first line. Only the run and summary records are parsed: in the trail's
    canonical form they are the lines that begin with `{"engine":` and `{"decisions":`; a patient
    is looked for as its top-level `"patient":` key and id, which a string value cannot hold
    unescaped."""
    wanted = b'"patient":' + orjson.dumps(patient) if patient is not None else None
    header, summary, held = None, None, patient is None
    with lines(path) as handle:
        for line in handle:
            if line.startswith(b'{"engine":') and header is None:
                header = _parsed(line)
            elif line.startswith(b'{"decisions":'):
                summary = _parsed(line)
            elif not held and wanted in line:
                held = True
    return facts_sha256(r for r in (header, summary) if r is not None), held


def _parsed(line: bytes) -> dict[str, Any] | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def records(numbered: Iterable[tuple[int, bytes]], path: str,
            patient: str | None = None) -> Iterator[dict[str, Any]]:
    """The trail records of the `numbered` lines of the file `path` (all of them, as `stream`
    reads them, or those of some frames of a compressed trail: `engine.audit.verify.located`); with
    `patient`, the records of other patients are left out unchecked (checking a decided record
    against the schema takes milliseconds: `explain --patient` checks only what it shows).

    A last line cut off mid-record (no newline: the disk filled, the run was killed) is left out:
    what was written before it still reads, and `verify` reports the truncation.
    """
    order = _Order(path)
    number = 0
    for number, line in numbered:
        if not line.strip():
            continue
        try:
            record = _record(path, number, line, patient)
        except UsageError:
            if number > 1 and not line.endswith(b"\n"):
                break  # the truncated tail: verify names it
            raise
        if record is None:
            order.seen += 1
            continue
        order.check(number, record)
        if record["type"] == "decided":
            yield from expand(record, order.protocol)
        else:
            yield record
    order.end(number)


def _record(path: str, number: int, line: bytes,
            patient: str | None = None) -> dict[str, Any] | None:
    """A line's record, checked against the schema; None for another patient's than `patient`."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        what = "not UTF-8 text" if "not valid UTF-8" in str(error) else f"not JSON ({error})"
        raise UsageError(f"cannot read trail {path}: line {number}: {what}") from None
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        raise UsageError(f"cannot read trail {path}: line {number}: not a trail record "
                         "(a JSON object with a type)")
    if patient is not None and record["type"] in PATIENTS_OWN and record.get("patient") != patient:
        return None
    if record["type"] not in CHECKED or _valid(record):
        return record
    error = _mismatch(record)
    if error is not None:
        raise UsageError(f"cannot read trail {path}: line {number}: the {record['type']} record "
                         f"has no valid {_field(error)} ({_why(error)})")
    return record


@functools.cache
def _compiled(kind: str) -> Callable[[Any], Any]:
    return fastjsonschema.compile({**SCHEMA, "$ref": f"#/$defs/{kind}"})


def _valid(record: dict[str, Any]) -> bool:
    """Whether a record fits the schema, by the schema compiled to Python (`fastjsonschema`:
    a decided record in a tenth of jsonschema's time, which matters on a registry's trail);
    jsonschema, the reference, says why one does not."""
    try:
        _compiled(record["type"])(record)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _mismatch(record: dict[str, Any]) -> jsonschema.ValidationError | None:
    """What jsonschema finds best to say of a record that does not fit. Imported only here: it
    takes a tenth of a second to import, which every reader of an intact trail would pay."""
    import jsonschema  # noqa: PLC0415 -- see above

    validator = jsonschema.Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{record['type']}"})
    return jsonschema.exceptions.best_match(validator.iter_errors(record))


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
        return MEANT[error.validator_value]
    return f"fails '{error.validator}'"


class _Order:
    """The records in an order the readers can follow, checked as they come: the run and protocol
    records first, and each patient's records after its `patient` record (in a trail written
    before `decided`), naming only criteria the protocol has."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.protocol: dict[str, Any] = {}
        self.known: set[str] = set()
        self.patient: str | None = None
        self.seen = 0

    def refuse(self, why: str) -> UsageError:
        return UsageError(f"cannot read trail {self.path}: {why}")

    def check(self, number: int, record: dict[str, Any]) -> None:
        kind = record["type"]
        self.seen += 1
        if kind == "escalation-run":
            raise self.refuse("it is the trail of `proto-rules escalate`, not of `proto-rules "
                              "run`; `proto-rules verify` checks it")
        if kind == "protocol":
            self.protocol = record
            self.known = {e["id"] for e in record["definitions"] + record["criteria"]}
            for entry in record["definitions"] + record["criteria"]:
                wrong = "shape" in entry and shape_problem(entry["shape"],
                                                           len(entry["conditions"]))
                if wrong:
                    raise self.refuse(f"line {number}: the shape of {entry['id']} {wrong}")
        elif not self.protocol and kind != "run":
            raise self.refuse("not the decision trail of `proto-rules run --trail` (it has no run "
                              "and protocol records before its patients)")
        elif kind == "decided":
            _check_decided(self.path, number, record, self.protocol)
        elif kind in ("patient", "rejected"):
            self.patient = record["patient"] if kind == "patient" else None
        elif kind in OF_A_PATIENT and record["patient"] != self.patient:
            raise self.refuse(f"line {number}: the {kind} record of patient {record['patient']} "
                              "does not follow that patient's record (records missing or out of "
                              "order)")
        if kind in ("definition", "criterion") and record[kind] not in self.known:
            raise self.refuse(f"line {number}: {kind} {record[kind]} is not in the trail's "
                              "protocol record")

    def end(self, lines: int) -> None:
        """At the end of the file: it held a trail's run and protocol records."""
        if not lines:
            raise self.refuse("the file is empty")
        if not self.seen:
            raise self.refuse("it holds no record")
        if not self.protocol:
            raise self.refuse("not the decision trail of `proto-rules run --trail` (it has no "
                              "run and protocol records)")


def _check_decided(path: str, number: int, record: dict[str, Any],
                   protocol: dict[str, Any]) -> None:
    """A decided record says its definitions and criteria by position in the protocol record's
    lists, and its reasons by criterion id: they must line up with that record."""
    for key in ("definitions", "criteria"):
        if len(record[key]) != len(protocol[key]):
            raise UsageError(f"cannot read trail {path}: line {number}: patient "
                             f"{record['patient']} has {len(record[key])} {key}, the trail's "
                             f"protocol record {len(protocol[key])}")
    ids = {entry["id"] for entry in protocol["criteria"]}
    for reason in record["reasons"]:
        if reason not in ids:
            raise UsageError(f"cannot read trail {path}: line {number}: patient "
                             f"{record['patient']}'s decision names criterion {reason}, which is "
                             "not in the trail's protocol record")


def expand(record: dict[str, Any], protocol: dict[str, Any]) -> list[dict[str, Any]]:
    """A `decided` record as the records a trail wrote for a patient before it (`patient`, one
    `definition` and one `criterion` each, `decision`): what every reader reads, so that old and
    new trails read alike. The ids, roles and condition parts come from the protocol record.

    >>> protocol = {"definitions": [], "criteria": [{"id": "I1", "role": "inclusion"}]}
    >>> decided = {"type": "decided", "patient": "p", "record": 1, "screening_date": "2025-01-01",
    ...            "warnings": [], "facts": [{"index": 0, "concept": "age", "value": "40"}],
    ...            "definitions": [], "decision": "INELIGIBLE", "reasons": ["I1"],
    ...            "criteria": [{"verdict": "NOT_MET", "fired": [], "facts": [0],
    ...                          "evidence": ["-age 40 years; needs >= 50 years"]}]}
    >>> [r["type"] for r in expand(decided, protocol)]
    ['patient', 'criterion', 'decision']
    >>> expand(decided, protocol)[1]["evidence"]
    [{'status': 'false', 'detail': 'age 40 years; needs >= 50 years'}]
    """
    pid = record["patient"]
    records = [{"type": "patient", "patient": pid, "record": record["record"],
                "screening_date": record["screening_date"], "warnings": record["warnings"],
                "facts": [{key: fact.get(key) for key in FACT_FIELDS} for fact in record["facts"]]}]
    for entry, definition in zip(protocol["definitions"], record["definitions"]):
        records.append({"type": "definition", "patient": pid, "definition": entry["id"],
                        "value": definition["value"], "fired": definition.get("fired", []),
                        "evidence": _unmarked(definition["evidence"])})
    criteria = {}
    for entry, criterion in zip(protocol["criteria"], record["criteria"]):
        criteria[entry["id"]] = {**criterion, "type": "criterion", "patient": pid,
                                 "criterion": entry["id"], "role": entry["role"],
                                 "evidence": _unmarked(criterion["evidence"])}
    records.extend(criteria.values())
    decision = {"type": "decision", "patient": pid, "decision": record["decision"],
                "reasons": [{"criterion": c, "role": criteria[c]["role"],
                             "verdict": criteria[c]["verdict"]} for c in record["reasons"]]}
    if record["decision"] == "NEEDS_REVIEW":
        decision["to_settle"] = [{"criterion": c["criterion"], **need}
                                 for c in criteria.values() for need in c.get("to_pass", [])]
    records.append(decision)
    return records


def _unmarked(evidence: list[str]) -> list[dict[str, str]]:
    return [{"status": STATUS[text[0]], "detail": text[1:]} for text in evidence]


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


def would_pass(role: str, record: dict[str, Any]) -> str:
    """What an open criterion's `to_pass` would make it, as explain and the report say it: MET
    (an inclusion) or NOT_MET (an exclusion), or not applying, where those parts settle its
    applies-when false (`passes_as`)."""
    if record.get("passes_as") == "NOT_APPLICABLE":
        return "would not apply (NOT_APPLICABLE)"
    return f"would be {'MET' if role == 'inclusion' else 'NOT_MET'}"


def cut(record: dict[str, Any]) -> str:
    """How far a cut run got, in words (explain, verify and the report say it alike)."""
    where = f", fact file line {record['record']}" if record.get("record") else ""
    return (f"the run was cut ({record['reason']}) after {record['patients']} patients{where}: "
            "the patients after it were not decided")
