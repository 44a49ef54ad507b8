"""`run ... --resume`: finish a run that was stopped, so that its trail is the one an
uninterrupted run writes, byte for byte, and every patient is decided exactly once.

A registry's run takes hours; killed (SIGKILL, a reboot, the OOM killer) it leaves a trail that
may end mid-line or mid-patient, and stopped by Ctrl-C one that ends with `cut`, `summary` and
`seal`. The trail itself says how far the run got, and it holds no clock, so the run can go on
from there:

1. `where` reads the trail line by line (constant memory) and checks it: the header must be the
   one this run would write (same protocol file and SHA-256, network digest, fact file name,
   screening date, versions), and the hash chain must hold (`engine.audit.verify.checked`, each
   record in the writer's canonical form: a tampered trail is refused, naming its line). It finds
   the end of the last whole patient: a torn last line, the records of a patient without its
   decision, and a cut run's closing records are after it, to be dropped. A trail summed up and
   sealed without a cut is finished.
2. The run truncates the trail there and takes its chain back (`Trail(..., resumed=...)`). A
   compressed trail (`.zst`) is read through its frames alike, its point counted in its lines;
   its writer is taken back there (`engine.audit.trailfile.reopened`: the whole frames before it
   stay, the rest of its frame is written again), so it too ends as the uninterrupted run's file.
   One sealed without a cut but whose seek table was not written whole (killed while writing it) is
   summed up and sealed again, to write the table.
3. `skipped` passes over the fact records already decided (the file is still read and hashed
   whole, for the summary), checking each against the trail's patient at the same place, so a
   different fact file under the same name is refused rather than mixed in; and gives the table
   rows and warnings of those patients from the trail, so that `--table` and `--warnings` are
   written whole again.
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import orjson

from engine.factfile import opened, patient_id
from engine.screened import Row, Table
from engine.summary import REJECTED
from engine.audit.recorder import Resumed
from engine.audit.trail import GENESIS, Chain, expand
from engine.audit.trailfile import ZSTD_MAGIC, compressed, lines, seek_table
from engine.audit.verify import checked
from protocol.errors import FactProblem, UsageError

#: The header's fields a resumed run must find as it would write them, and how each is named.
HEADER = (("protocol", "file", "protocol file"), ("protocol", "sha256", "protocol (sha256)"),
          ("network", "sha256", "network"), ("facts", "file", "fact file"),
          ("screening_date", None, "screening date"), ("tool", None, "tool"),
          ("engine", None, "engine"))


@dataclass(frozen=True)
class Point:
    """Where a stopped run goes on: the bytes of the trail's lines to keep (`end`: those of its
    last whole patient; decompressed, for a compressed trail), and the chain's state there (None
    when not even the header was whole: the run starts again); `finished` when the trail is
    summed up and sealed."""

    end: int
    state: Resumed | None
    finished: bool = False

    @property
    def patients(self) -> int:
        return sum(self.state.counts.values()) if self.state else 0


def where(path: str, header: list[dict[str, Any]]) -> Point:
    """How far the trail at `path` got, checked against the `header` this run writes. A missing
    or empty trail starts the run afresh.

    >>> where("no-such-trail.jsonl", [{"type": "run"}])
    Point(end=0, state=None, finished=False)
    """
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
    except FileNotFoundError:
        return Point(0, None)
    except OSError as error:
        raise UsageError(f"cannot read trail {path}: {error.strerror}") from None
    framed = start == ZSTD_MAGIC
    if start and framed != compressed(path):  # the writer goes by the name, the readers by this
        raise UsageError(f"cannot resume: {path} " + (
            "holds zstd frames, but its name does not end in .zst" if framed else
            "is not a compressed trail (it does not start with a zstd frame), though its name "
            "ends in .zst"))
    expected = io.StringIO()
    Chain(expected).write(*header)
    with lines(path) as stream:
        point = _scanned(path, stream, expected.getvalue().encode().splitlines())
    if framed and point.state is None:
        raise UsageError(f"cannot resume: {path} holds no whole header of a trail (a compressed "
                         "file cut inside its first frame, or not a trail): remove it to run "
                         "afresh")
    if framed and point.finished and seek_table(path) is None:
        return Point(point.end, point.state)  # sealed, then killed writing the seek table
    return point


def _scanned(path: str, lines: Iterable[bytes], header: list[bytes]) -> Point:
    previous, offset, point = GENESIS, 0, Point(0, None)
    counts: Counter[str] = Counter()
    closing = False  # after a cut: the records that close a stopped run, to be dropped
    for number, raw in enumerate(lines, start=1):
        line = raw.removesuffix(b"\n")
        if line == raw:  # written halfway when the run was killed: dropped
            if number <= len(header) and not header[number - 1].startswith(line):
                raise UsageError(f"cannot resume: {path} is not a decision trail (its line "
                                 f"{number} is not the header this run writes)")
            break
        problem, record = checked(line, previous, number)
        if problem:
            raise UsageError(f"cannot resume: trail {path}: line {number}: {problem} (the trail "
                             "is left as it is; `proto-rules verify` checks it)")
        if number <= len(header) and line != header[number - 1]:
            raise UsageError(f"cannot resume: trail {path} {_other(record, header[number - 1])}")
        previous, offset = hashlib.sha256(line).hexdigest(), offset + len(raw)
        kind = record.get("type")
        if number == len(header):
            point = Point(offset, Resumed(previous, number, {}, None))
        elif kind in ("decided", "rejected") and not closing:
            counts[record["decision"] if kind == "decided" else REJECTED] += 1
            point = Point(offset, Resumed(previous, number, dict(counts), record["record"]))
        elif kind in ("cut", "summary"):
            closing = closing or kind == "cut"
        elif kind == "seal" and not closing:
            return Point(point.end, point.state, finished=True)
    return point


def _other(record: dict[str, Any], expected: bytes) -> str:
    """What differs between the header found and the one this run writes, in a few words."""
    wanted = orjson.loads(expected)
    if record.get("type") == "run" == wanted.get("type"):
        for key, inner, name in HEADER:
            found = record.get(key, {}).get(inner) if inner else record.get(key)
            want = wanted[key][inner] if inner else wanted[key]
            if found != want:
                return (f"was written with another {name} ({_short(found)}; this run: "
                        f"{_short(want)})")
    return "was written with another protocol (its protocol record differs)"


def _short(value: Any) -> str:
    text = str(value)
    return f"{text[:16]}..." if len(text) == 64 else text


@dataclass(frozen=True)
class Before:
    """A patient the trail holds already: its fact-file line and id, its table rows and
    warnings as the run wrote them."""

    line: int
    patient: str | None
    rows: list[Row]
    warnings: list[str]


def before(path: str, point: Point) -> Iterator[Before]:
    """The patients in the part of the trail a resumed run keeps, in order."""
    if point.state is None:
        return
    with lines(path) as handle:
        kept = io.BufferedReader(_Limited(handle, point.end))
        protocol: dict[str, Any] = {}
        for raw in kept:
            record = orjson.loads(raw)
            kind = record["type"]
            if kind == "protocol":
                protocol = record
            elif kind == "decided":
                patient, *criteria, decision = expand(record, protocol)
                criteria = [r for r in criteria if r["type"] == "criterion"]
                yield Before(patient["record"], patient["patient"],
                             Table.recorded(criteria, decision), patient["warnings"])
            elif kind == "rejected":
                yield Before(record["record"], record["patient"], Table.recorded([], record), [])


class _Limited(io.RawIOBase):
    """The first `size` bytes of a file."""

    def __init__(self, handle: Any, size: int) -> None:
        self.handle, self.left = handle, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.handle.read(min(len(buffer), self.left))
        buffer[:len(data)] = data
        self.left -= len(data)
        return len(data)


def skipped(records: Iterable[tuple[int, object]], done: Iterable[Before], facts: str,
            trail: str, keep: Callable[[Before], None] = lambda _: None
            ) -> Iterator[tuple[int, object]]:
    """The fact records after those the trail holds, the others read now: each record passed
    over must be the trail's patient at the same place (its line, and its id), else the fact
    file is not the one the trail was written from; `keep` is given each patient passed over."""
    records = iter(records)
    for number, kept in enumerate(done, start=1):
        found = next(records, None)
        if found is None:
            raise UsageError(f"cannot resume: the fact file {facts} ends before the trail "
                             f"{trail}'s patient {number} (line {kept.line}): not the file the "
                             "trail was written from")
        line, data = found
        pid = data.patient if isinstance(data, FactProblem) else patient_id(data)
        if line != kept.line or (kept.patient is not None and pid != kept.patient):
            raise UsageError(f"cannot resume: the fact file {facts} holds "
                             f"{_held(line, data, pid)} where the trail "
                             f"{trail} has patient {kept.patient} (line {kept.line}): not the "
                             "file the trail was written from")
        keep(kept)
    return records


def _held(line: int, data: object, pid: str | None) -> str:
    """What a fact file holds where a trail has a patient: `patient P7 at line 7`, or no
    patient and why (an emptied file's problem has no line)."""
    if pid is not None:
        return f"patient {pid} at line {line}"
    why = f" ({data.message})" if isinstance(data, FactProblem) else " (no id)"
    return f"no patient at line {line}{why}" if line else f"no patient{why}"


def resume_point(trail: str | None, facts: str, header: list[dict[str, Any]]) -> Point:
    """How far the stopped run of `trail` got (`where`), checked before any output is opened: a
    refused resume leaves every file as it was. The fact file is checked against the trail's
    patients here too, unless it is stdin (read once: checked as it is read)."""
    if not trail:
        raise UsageError("run --resume needs --trail: the trail is what says how far the "
                         "stopped run got")
    point = where(trail, header)
    if point.state is not None and not point.finished and facts != "-":
        with opened(facts) as records:
            skipped(records.records(), before(trail, point), facts, trail)
    return point


def resumed(trail: str, facts: str, point: Point, records: Iterator[tuple[int, object]],
            table: Table | None, warnings_out: TextIO | None) -> Iterator[tuple[int, object]]:
    """The fact records after those the trail holds; the table and the warnings file get the
    rows and warnings of those again, from the trail, so that each is whole."""
    state = point.state
    assert state is not None
    where_ = f" (fact file line {state.line})" if state.line else ""
    print(f"proto-rules: resuming the trail {trail} after {point.patients:,} records{where_}; "
          "only the patients decided now are printed", file=sys.stderr)

    def keep(kept: Before) -> None:
        if table:
            table.add(kept.rows)
        for warning in kept.warnings if warnings_out else ():
            print(warning, file=warnings_out)

    return skipped(records, before(trail, point), facts, trail, keep)
