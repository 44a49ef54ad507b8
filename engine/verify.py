"""Verify a decision trail: is every record as written, in its place, and the file complete?

Each record's `prev` must be the SHA-256 of the line before it (canonical JSON, RFC 8785, checked
with the `rfc8785` library: a record re-serialised differently is an edit too), the first must start
from `GENESIS`, and the last must be a `seal` counting the records before it. The first record that
breaks any of this is named with its line and the reason. Given the protocol and fact files, their
SHA-256 must match what the trail records: the protocol's in the run header, the fact file's in the
summary (the run hashes the file as it streams it; an older trail has it in the header). The
escalation trail carries the same chain
(`engine/trail.Chain`) and is verified the same way; its cohort file is checked as `--facts`.

A trail whose run was cut short (Ctrl-C) is intact up to its `cut` record: it verifies, and the
verification says how far the run got.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import rfc8785

from engine.trail import GENESIS, cut
from protocol.errors import UsageError


@dataclass(frozen=True)
class Verification:
    """The verdict on a trail file: ok, or the first problem and the line where it is."""

    ok: bool
    records: int
    problem: str | None = None
    line: int | None = None
    notes: tuple[str, ...] = field(default=())
    cut: str | None = None  # how far a run cut short got (its trail is intact, but incomplete)

    def __str__(self) -> str:
        if self.ok:
            head = f"intact: {self.records} records, sealed"
            if self.cut:
                head += f"; incomplete: {self.cut}"
            return head + "".join(f"\n{n}" for n in self.notes)
        return f"TAMPERED: line {self.line}: {self.problem}"


def verify(path: str, protocol: str | None = None, facts: str | None = None) -> Verification:
    """Check a trail's chain and seal; with `protocol`/`facts`, check their hashes too.

    Raises `UsageError` when the file cannot be read at all (exit 2); a file that reads but does
    not hold up is a `Verification` with `ok` false (exit 1).
    """
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise UsageError(f"cannot read trail {path}: {error.strerror}") from None
    with handle:  # line by line: a registry's trail is never held in memory
        return _verified(handle, protocol, facts)


def _verified(lines: Iterable[bytes], protocol: str | None, facts: str | None) -> Verification:
    previous, header, stopped, facts_recorded = GENESIS, None, None, None
    seal: tuple[int, dict, str] | None = None  # where the seal is, and what it follows
    number = 0
    for number, raw in enumerate(lines, start=1):
        if seal is not None:
            return Verification(False, seal[0], "records follow the seal", seal[0] + 1)
        line = raw.removesuffix(b"\n")
        problem, record = checked(line, previous, number)
        if problem and line == raw:  # the last line, without its end: written halfway
            problem = "the last record is cut off: the trail is truncated"
        if problem:
            return Verification(False, number - 1, problem, number)
        if number == 1:
            header = record
        if record.get("type") == "summary" and "facts_sha256" in record:
            facts_recorded = record["facts_sha256"]  # read as a stream: hashed to its end
        if record.get("type") == "cut":
            stopped = _cut(record)
        if record.get("type") == "seal":
            seal = number, record, previous
        previous = hashlib.sha256(line).hexdigest()
    if number == 0:
        return Verification(False, 0, "the trail is empty", 1)
    if seal is None:
        return Verification(False, number, "no seal: the trail is truncated", number)
    at, record, before = seal
    if record.get("records") != at - 1 or record.get("last") != before:
        return Verification(False, at - 1, "the seal does not match the records "
                            f"({record.get('records')} claimed, {at - 1} found)", at)
    recorded = {"protocol": _recorded(header or {}, "protocol"),
                "facts": facts_recorded or _recorded(header or {}, "facts", "cohort")}
    return _files(recorded, at - 1, protocol, facts, stopped)


def checked(line: bytes, previous: str, number: int,
            written: Callable[[Any], bytes] = rfc8785.dumps) -> tuple[str | None, dict]:
    """One trail line (number `number`) against the hash of the line before it: the problem, if
    any, and the record read. `verify` and `engine/resume.py` check a chain with it alike.

    `written` is how the record reads in canonical form: by default the `rfc8785` library's, an
    implementation apart from the writer's, as `verify` wants; a resumed run, which must read the
    whole trail before it goes on, passes the writer's own (several times faster)."""
    try:
        record = orjson.loads(line)  # bounded nesting, unlike the json module's recursion
    except orjson.JSONDecodeError:
        return "not a JSON record", {}
    if not isinstance(record, dict):
        return "not a JSON record", {}
    try:
        canonical = written(record) == line
    except rfc8785.CanonicalizationError:  # a number RFC 8785 cannot write: never ours
        canonical = False
    if not canonical:
        return "not in canonical form: the record was edited", record
    if record.get("prev") != previous:
        if number == 1:
            return "the first record is not the start of a trail (records before it deleted?)", record
        return (f"does not follow line {number - 1}: line {number - 1} was edited, or records were "
                "inserted, deleted or reordered there", record)
    return None, record


def _cut(record: dict[str, Any]) -> str:
    """How far a cut run got, or what is wrong with a `cut` record that cannot say it."""
    try:
        return cut(record)
    except (KeyError, TypeError):
        return "the run was cut short (its cut record does not say how far it got)"


def _recorded(header: dict, *keys: str) -> str | None:
    """The SHA-256 the run header records for the first of `keys` it has (the escalation trail
    records its cohort file where the screening trail records its fact file)."""
    for key in keys:
        entry = header.get(key)
        if isinstance(entry, dict):
            return str(entry.get("sha256"))
    return None


def _files(recorded: dict[str, str | None], records: int, protocol: str | None,
           facts: str | None, stopped: str | None) -> Verification:
    """Check the files given against the hashes the trail records (`recorded`, per label)."""
    notes = []
    for label, path in (("protocol", protocol), ("facts", facts)):
        if path is None:
            continue
        try:
            with open(path, "rb") as handle:  # a chunk at a time: a fact file may be large
                actual = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as error:
            raise UsageError(f"cannot read {label} file {path}: {error.strerror}") from None
        if actual != recorded[label]:
            said = str(recorded[label])[:16]
            return Verification(False, records, f"the {label} file {path} is not the one the run "
                                f"read (sha256 {actual[:16]}..., the trail says {said}...)", 1)
        notes.append(f"{label} file {path} matches the run header")
    return Verification(True, records, notes=tuple(notes), cut=stopped)
