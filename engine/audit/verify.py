"""Verify a decision trail: is every record as written, in its place, and the file complete?

Each record's `prev` must be the SHA-256 of the line before it (canonical JSON, RFC 8785: a record
re-serialised differently is an edit too; a line is compared with what the writer writes for its
record, and only when that differs with the `rfc8785` library, which is forty times slower), the first must start
from `GENESIS`, and the last must be a `seal` counting the records before it. The first record that
breaks any of this is named with its line and the reason. Given the protocol and fact files, their
SHA-256 must match what the trail records: the protocol's in the run header, the fact file's in the
summary (the run hashes the file as it streams it; an older trail has it in the header). The
escalation trail carries the same chain
(`engine/trail.Chain`) and is verified the same way; its cohort file is checked as `--facts`.

A trail whose run was cut short (Ctrl-C) is intact up to its `cut` record: it verifies, and the
verification says how far the run got.

A compressed trail (`engine/audit/trailfile.py`) is verified on its lines as they decompress; its
seek table, which is not chained, is checked against them entry by entry (`_Seek`). `located` reads
one patient through the table, checking only the frames it reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import rfc8785

from engine.audit.trail import GENESIS, canonical, cut
from engine.audit.trailfile import HOLDERS, Frame, frame_lines, lines, seek_table
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
    patient: str | None = None  # whose record the line is, when it is a patient's

    def __str__(self) -> str:
        if self.ok:
            head = f"intact: {self.records} records, sealed"
            if self.cut:
                head += f"; incomplete: {self.cut}"
            return head + "".join(f"\n{n}" for n in self.notes)
        whose = f" (patient {self.patient})" if self.patient else ""
        return f"TAMPERED: line {self.line}{whose}: {self.problem}"


def verify(path: str, protocol: str | None = None, facts: str | None = None) -> Verification:
    """Check a trail's chain and seal; with `protocol`/`facts`, check their hashes too.

    Raises `UsageError` when the file cannot be read at all (exit 2); a file that reads but does
    not hold up is a `Verification` with `ok` false (exit 1).
    """
    table = seek_table(path)
    with lines(path) as handle:  # line by line: a registry's trail is never held in memory
        return _verified(handle, protocol, facts, _Seek(table.frames() if table else iter(())))


def _verified(lines: Iterable[bytes], protocol: str | None, facts: str | None,
              seek: _Seek) -> Verification:
    previous, header, stopped, facts_recorded = GENESIS, None, None, None
    before: str | None = None  # the patient of the line before, to name it
    seal: tuple[int, dict, str] | None = None  # where the seal is, and what it follows
    number = 0
    for number, raw in enumerate(lines, start=1):
        if seal is not None:
            return Verification(False, seal[0], "records follow the seal", seal[0] + 1)
        line = raw.removesuffix(b"\n")
        problem, record = checked(line, previous, number, before)
        if problem and line == raw:  # the last line, without its end: written halfway
            problem = "the last record is cut off: the trail is truncated"
        problem = problem or seek.line(number, record, previous)
        if problem:
            return Verification(False, number - 1, problem, number, patient=_patient(record))
        if number == 1:
            header = record
        if record.get("type") == "summary" and "facts_sha256" in record:
            facts_recorded = record["facts_sha256"]  # read as a stream: hashed to its end
        if record.get("type") == "cut":
            stopped = _cut(record)
        if record.get("type") == "seal":
            seal = number, record, previous
        previous, before = hashlib.sha256(line).hexdigest(), _patient(record)
    if number == 0:
        return Verification(False, 0, "the trail is empty", 1)
    if seal is None:
        return Verification(False, number, "no seal: the trail is truncated", number)
    at, record, before = seal
    problem = seek.end()
    if problem:
        return Verification(False, at - 1, problem, at)
    if record.get("records") != at - 1 or record.get("last") != before:
        return Verification(False, at - 1, "the seal does not match the records "
                            f"({record.get('records')} claimed, {at - 1} found)", at)
    recorded = {"protocol": _recorded(header or {}, "protocol"),
                "facts": facts_recorded or _recorded(header or {}, "facts", "cohort")}
    return _files(recorded, at - 1, protocol, facts, stopped)


class _Seek:
    """A compressed trail's seek table checked against its records as they are read: each frame
    starts at the line the table says, whose `prev` is the table's, and holds the records of the
    patients it lists, in order. The table is not chained (it is written after the seal); checked
    here, it cannot send `explain --patient` to the wrong place unnoticed. Its entries are read
    one at a time, as the records come to them."""

    def __init__(self, frames: Iterator[Frame]) -> None:
        self.frames = frames
        self.frame: Frame | None = None
        self.held: list[str] = []
        self.problem: str | None = None
        self.coming = self._next()

    def _next(self) -> Frame | None:
        try:
            return next(self.frames, None)
        except ValueError as error:
            self.problem = f"the seek table cannot be read ({error})"
            return None

    def line(self, number: int, record: dict, previous: str) -> str | None:
        problem = self.problem
        if self.coming is not None and number == self.coming.first:
            problem = self._close()
            self.frame, self.coming = self.coming, self._next()
            if problem is None and self.frame.prev != previous:
                problem = (f"the seek table gives the frame that starts at line {number} another "
                           "prev than its first record's")
        patient = _patient(record)
        if record.get("type") in HOLDERS and patient:
            self.held.append(patient)
        return problem or self.problem

    def _close(self) -> str | None:
        frame, held, self.held = self.frame, self.held, []
        if frame is not None and tuple(held) != frame.patients:
            return (f"the seek table lists other patients for the frame that starts at line "
                    f"{frame.first} than its records are of")
        return None

    def end(self) -> str | None:
        """After the last record: the last frame's patients, and no frame past the records."""
        problem = self._close() or self.problem
        if problem is None and self.coming is not None:
            problem = f"the seek table has a frame at line {self.coming.first}, past the seal"
        return problem


@dataclass(frozen=True)
class Located:
    """What `located` found of a patient in a compressed trail: the numbered lines of the frames
    read (the first, with the run and protocol records; the patient's; the last, with the
    summary and the seal), and their verification."""

    lines: list[tuple[int, bytes]]
    checked: Verification


def located(path: str, patient: str) -> Located | None:
    """A patient's records read through the seek table of a compressed trail, without reading
    the rest: what `explain --patient` shows of a registry's trail in about a second. The frames
    read are checked against the chain: each starts with the `prev` the table gives and chains
    through to the next frame's, the first from `GENESIS`, the last to its seal; and the patient
    must be in the frames the table names. None when the trail has no table (a plain trail, or a
    writer stopped before its end), or when what was read does not hold up (or the table does not
    name the patient): then the trail is to be read through, and `verify` names any problem.
    """
    table = seek_table(path)
    if table is None:
        return None
    try:
        wanted = _wanted(table.frames(), patient)
    except ValueError:
        return None
    numbered: list[tuple[int, bytes]] = []
    found: set[str] = set()
    end: tuple[int, str | None] | None = None
    for frame, following in wanted:
        try:
            lines_ = frame_lines(path, frame)
        except UsageError:  # not a frame where the table says: read the trail through
            return None
        end = _chained(frame, lines_, following, found)
        if end is None:
            return None
        numbered.extend(enumerate(lines_, start=frame.first))
    if patient not in found or end is None or not wanted or wanted[-1][1] is not None:
        return None
    records, stopped = end
    return Located(numbered, Verification(True, records, cut=stopped))


def _wanted(frames: Iterator[Frame], patient: str) -> list[tuple[Frame, Frame | None]]:
    """The frames to read for a patient, each with the one after it, in order: from the first to
    the first that holds patients (the run and protocol records are before those), the patient's,
    and from the last that holds patients to the end (the summary and the seal are after those);
    in one pass over the table."""
    wanted: list[tuple[Frame, Frame | None]] = []
    tail: list[tuple[Frame, Frame | None]] = []  # from the last frame of patients so far
    heading = True
    frame = next(frames, None)
    while frame is not None:
        following = next(frames, None)
        pair = (frame, following)
        tail = [pair] if frame.patients else [*tail, pair]
        if heading or patient in frame.patients:
            wanted.append(pair)
        heading = heading and not frame.patients
        frame = following
    read = {f.first for f, _ in wanted}
    return wanted + [pair for pair in tail if pair[0].first not in read]


def _chained(frame: Frame, found: list[bytes], following: Frame | None,
             patients: set[str]) -> tuple[int, str | None] | None:
    """Whether a frame's lines chain from the `prev` the seek table gives it to the next frame's
    (or, for the last, to its seal): the records before the seal and how far a cut run got; None
    if they do not. The patients of its records are added to `patients`."""
    previous, stopped = (GENESIS if frame.first == 1 else frame.prev), None
    if frame.prev != previous or not found:
        return None
    for number, raw in enumerate(found, start=frame.first):
        line = raw.removesuffix(b"\n")
        problem, record = checked(line, previous, number)
        if problem or line == raw:
            return None
        patients.add(str(record.get("patient")))
        if record.get("type") == "cut":
            stopped = _cut(record)
        if following is None and number == frame.first + len(found) - 1:
            sealed = record.get("type") == "seal" and record.get("records") == number - 1 \
                and record.get("last") == previous
            return (number - 1, stopped) if sealed else None
        previous = hashlib.sha256(line).hexdigest()
    return (0, stopped) if following is not None and following.prev == previous else None


def _patient(record: dict) -> str | None:
    """The patient a record is about, if it says so plainly."""
    patient = record.get("patient")
    return patient if isinstance(patient, str) else None


def checked(line: bytes, previous: str, number: int,
            before: str | None = None) -> tuple[str | None, dict]:
    """One trail line (number `number`) against the hash of the line before it (the line of
    patient `before`, named in the problem): the problem, if any, and the record read. `verify`
    and `engine/resume.py` check a chain with it alike. The canonical form is checked against
    the writer's own serialisation first, and against the `rfc8785` library, an implementation
    apart from the writer's, only where the two differ (it is forty times slower)."""
    try:
        record = orjson.loads(line)  # bounded nesting, unlike the json module's recursion
    except orjson.JSONDecodeError:
        return "not a JSON record", {}
    if not isinstance(record, dict):
        return "not a JSON record", {}
    if canonical(record).encode() == line:  # as the writer writes it (the same for our content)
        same = True
    else:  # a writer that wrote RFC 8785 otherwise (the reference library decides)
        try:
            same = rfc8785.dumps(record) == line
        except rfc8785.CanonicalizationError:  # a number RFC 8785 cannot write: never ours
            same = False
    if not same:
        return "not in canonical form: the record was edited", record
    if record.get("prev") != previous:
        if number == 1:
            return "the first record is not the start of a trail (records before it deleted?)", record
        whose = f" (patient {before})" if before else ""
        return (f"does not follow line {number - 1}{whose}: line {number - 1} was edited, or "
                "records were inserted, deleted or reordered there", record)
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
            actual = _facts_sha256(path) if label == "facts" else _sha256(path)
        except OSError as error:
            raise UsageError(f"cannot read {label} file {path}: {error.strerror}") from None
        if actual != recorded[label]:
            said = str(recorded[label])[:16]
            return Verification(False, records, f"the {label} file {path} is not the one the run "
                                f"read (sha256 {actual[:16]}..., the trail says {said}...)", 1)
        notes.append(f"{label} file {path} matches the run header")
    return Verification(True, records, notes=tuple(notes), cut=stopped)


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:  # a chunk at a time: a fact file may be large
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _facts_sha256(path: str) -> str:
    """A fact file's SHA-256 as the run records it: a folder of Bundles its listing's, an OMOP
    mapping its own and the rows it reads, any other file its bytes'. The fact readers are
    imported here, for `--facts` only: they take a few tenths of a second to import, which
    `verify` without it, and `explain`, would otherwise pay."""
    from engine.factfile import opened  # noqa: PLC0415 -- see above
    from engine.tables import OMOP  # noqa: PLC0415

    if not (Path(path).is_dir() or path.lower().endswith(OMOP)):
        return _sha256(path)
    with opened(path) as source:
        return source.sha256()
