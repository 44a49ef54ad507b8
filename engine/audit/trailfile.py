"""How a trail lies on disk: plain JSON Lines, or zstd frames with a seek table; read back alike.

A trail named `*.zst` is written as independent zstd frames, each holding the whole lines of a
block of patients (about `BLOCK` bytes of JSON), so that a reader can decompress any frame without
the ones before it; the `zstd` command reads the file as one stream (`zstd -dc T.jsonl.zst` gives
the plain trail, byte for byte). The hash chain is over the lines, as in a plain trail: compressing
changes nothing that `verify` checks.

After the last frame comes the seek table, in a zstd skippable frame (which decompressors pass
over): one JSON line per frame, `[offset, first line, prev, [patients]]` (its byte offset, the
number of its first line, the `prev` that line carries, and the patients whose records it holds),
then a footer (`FOOTER_MARK` and the table's length) that ends the file. The table is read a line
at a time, so no reader holds a registry's patient ids. `explain --patient` reads only the table
and the frames it needs; the table is checked against the chain: the frames read must start at
those lines with those `prev`s and chain through (`engine.audit.verify.located`), and `verify`
checks every entry.

A run stopped midway is taken back (`reopened`, for `run --resume`): killed, its file ends after
a whole frame or inside one (a frame is written in one go), and has no seek table; stopped by
Ctrl-C, its last frame holds the closing records. The whole frames before the last whole patient
stay as they are and are entered in a new table (read from their lines: the table is written only
at the end); the lines of the frame that holds that point go back to the writer as pending, so
that it closes its frames where an uninterrupted writer does and the finished file is that
writer's, byte for byte.

Why zstd (the `zstandard` package, bindings to the reference C library): on the seed protocol's
trail it compresses to about the size gzip -6 gives (1.47 against 1.42 KiB a patient, in frames
of 256 patients) five times faster, which keeps the trail a small part of a run's time, and it
decompresses twice as fast; its frames
are independent and its skippable frames carry the seek table, both defined by the format
(RFC 8878), so the file stays readable by the `zstd` command.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, BinaryIO

import orjson
import zstandard

from protocol.errors import UsageError

#: The first bytes of a zstd frame: how a reader tells a compressed trail from a plain one.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: A frame is closed once it holds this many bytes of lines (whole patients): large enough to
#: compress well (1 MiB frames: 1.5 KiB a patient of the seed protocol), small enough that a
#: reader looking for one patient decompresses little.
BLOCK = 1 << 20
#: zstd's level 3 (its default): see the module's docstring for the measurements.
LEVEL = 3
#: The records that say whose lines a frame holds (`Frames.holds`, the seek table's patients).
HOLDERS = ("decided", "rejected")
#: How much of a compressed file is read at a time when its frames are walked without a table.
CHUNK = 1 << 16
#: The skippable frame that holds the seek table, and the footer that ends the file and says
#: where the table starts: its own marker, then the table's length.
SKIPPABLE = 0x184D2A5E
FOOTER = struct.Struct("<8sI")
FOOTER_MARK = b"PRSEEK01"


def compressed(path: str) -> bool:
    """Whether the trail at `path` is to be written as zstd frames (its name ends in `.zst`)."""
    return path.endswith(".zst")


class Frames(io.TextIOBase):
    """A text sink that writes what it is given as zstd frames of whole patients, and the seek
    table at the end (`close`). `Chain` writes one patient's lines and flushes: a frame is closed
    at a flush once it holds `BLOCK` bytes, so a frame never splits a patient; `holds` says which
    patient the next lines are of, for the table.

    >>> folder = tempfile.mkdtemp()
    >>> frames = created(os.path.join(folder, "t.jsonl.zst"))
    >>> frames.holds("p1"); frames.write('{"prev":"0"}\\n'); frames.close()
    13
    >>> with open(os.path.join(folder, "t.jsonl.zst"), "rb") as raw:
    ...     zstandard.ZstdDecompressor().stream_reader(raw).read()
    b'{"prev":"0"}\\n'
    >>> shutil.rmtree(folder)
    """

    def __init__(self, raw: BinaryIO, name: str = "trail") -> None:
        self.raw = raw
        self.name = name
        self.compressor = zstandard.ZstdCompressor(level=LEVEL)
        self.pending: list[str] = []
        self.size = 0
        self.lines = 0  # lines written before the pending ones
        # one line per frame, [offset, first line, prev, patients], kept on disk until the end:
        # a registry's patient ids would otherwise grow the writer's memory
        self.table = tempfile.TemporaryFile()
        self.patients: list[str] = []

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def holds(self, patient: str | None) -> None:
        """The lines written next are (also) this patient's."""
        if patient:
            self.patients.append(patient)

    def write(self, text: str) -> int:
        self.pending.append(text)
        self.size += len(text)
        return len(text)

    def flush(self) -> None:
        if self.size >= BLOCK:
            self._frame()

    def _frame(self) -> None:
        """Compress the pending lines into one frame and enter it in the table."""
        if not self.pending:
            return
        text = "".join(self.pending).encode()
        self._entered(self.raw.tell(), text, self.patients)
        self.raw.truncate()  # what a stopped run left after here (`taken_back`) goes now
        self.raw.write(self.compressor.compress(text))
        self.raw.flush()
        self.pending, self.size, self.patients = [], 0, []

    def _entered(self, offset: int, text: bytes, patients: list[str]) -> None:
        """Enter the frame of `text` at `offset` in the table: its first line's number and
        `prev` (where the chain stands), and whose records it holds."""
        prev = orjson.loads(text[:text.index(b"\n")])["prev"]
        self.table.write(orjson.dumps([offset, self.lines + 1, prev, patients]) + b"\n")
        self.lines += text.count(b"\n")

    def taken_back(self, keep: int) -> None:
        """Go on writing a stopped writer's file after its first `keep` bytes of lines (its last
        whole patient). The frames before that point that its writer closed full stay, and are
        entered in the table again; from the first that holds the point, was cut off, or was
        closed short (the last a stopped run wrote), the lines up to the point are pending
        again. The file is cut after the frames kept at the first write (`_frame`), not now:
        until then it reads as it was (`engine/resume.py` reads its patients as the run goes
        on)."""
        kept = done = 0
        rest: list[bytes] = []
        for offset, end, text in _written(self.raw):
            if rest or end is None or done + len(text) > keep or len(text.decode()) < BLOCK:
                rest.append(text[:max(keep - done, 0)])
            else:
                self._entered(offset, text, _patients(text))
                kept = end
            done += len(text)
            if done >= keep:
                break
        self.raw.seek(kept)
        if rest:
            self.write(b"".join(rest).decode())
            self.patients = _patients(b"".join(rest))

    def close(self) -> None:
        """Write what is pending as the last frame, then the seek table, and close the file
        (once: a writer dropped is closed when it is collected)."""
        if self.closed:
            return
        self._frame()
        self.raw.truncate()
        length = self.table.tell()
        self.raw.write(struct.pack("<II", SKIPPABLE, length + FOOTER.size))
        self.table.seek(0)
        shutil.copyfileobj(self.table, self.raw)
        self.table.close()
        self.raw.write(FOOTER.pack(FOOTER_MARK, length))
        self.raw.close()
        super().close()

    def abandon(self) -> None:
        """Closed without writing anything more: a file that could not be taken back stays as it
        was found (`close`, which a writer dropped calls too, would write the seek table)."""
        self.pending, self.size = [], 0
        self.raw.close()
        self.table.close()
        super().close()


def created(path: str) -> IO[str]:
    """The file a trail is written to: plain text, or `Frames` for a `.zst` name. Raises
    `OSError` as `open` does."""
    if compressed(path):
        return Frames(open(path, "wb"), path)
    return open(path, "w", encoding="utf-8")


def reopened(path: str, keep: int) -> IO[str]:
    """A stopped run's trail, to be written on after its first `keep` bytes of lines (its last
    whole patient, found by `engine/resume.py`): a plain one is cut there; a compressed one is
    taken back by `Frames.taken_back`. Raises `OSError` as `open` does."""
    if not compressed(path):
        os.truncate(path, keep)
        return open(path, "a", encoding="utf-8")
    frames = Frames(open(path, "r+b"), path)
    try:
        frames.taken_back(keep)
    except zstandard.ZstdError as error:  # changed since `engine/resume.py` read it through
        frames.abandon()
        raise UsageError(f"cannot resume: trail {path}: a frame does not decompress ({error})") \
            from None
    return frames


def _written(raw: BinaryIO) -> Iterator[tuple[int, int | None, bytes]]:
    """The zstd frames at the start of `raw`, found without the seek table (a writer stopped
    midway wrote none): each one's offset, end (None for the last, cut off) and lines, up to
    the table's skippable frame or the end of the file."""
    raw.seek(0)
    offset, data = 0, raw.read(CHUNK)
    while data[:4] == ZSTD_MAGIC:
        frame, parts, used = zstandard.ZstdDecompressor().decompressobj(), [], 0
        while data and not frame.eof:
            parts.append(frame.decompress(data))
            used += len(data) - len(frame.unused_data)
            data = frame.unused_data if frame.eof else raw.read(CHUNK)
        yield offset, offset + used if frame.eof else None, b"".join(parts)
        if not frame.eof:
            return
        offset += used
        data += raw.read(CHUNK)


def _patients(text: bytes) -> list[str]:
    """Whose records the lines `text` hold, in order: what the writer was told (`holds`)."""
    found = []
    for line in text.splitlines():
        record = orjson.loads(line)
        if record.get("type") in HOLDERS and record.get("patient"):
            found.append(record["patient"])
    return found


@contextmanager
def lines(path: str) -> Iterator[IO[bytes]]:
    """The lines of a trail file, plain or zstd (told by its first bytes, not its name), as a
    binary stream read a buffer at a time. A file that cannot be opened is a `UsageError`."""
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise UsageError(f"cannot read trail {path}: {error.strerror}") from None
    with handle:
        if handle.peek(4)[:4] != ZSTD_MAGIC:
            yield handle
            return
        reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
        try:
            yield io.BufferedReader(reader, 1 << 16)
        except zstandard.ZstdError as error:
            raise UsageError(f"cannot read trail {path}: not a whole zstd stream ({error})") \
                from None


@dataclass(frozen=True)
class Frame:
    """One entry of the seek table: where a frame is (`offset`, `end` exclusive), the number of its
    first line, the `prev` that line carries, and whose records it holds."""

    offset: int
    end: int
    first: int
    prev: str
    patients: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """Where a compressed trail's seek table lies: its lines, one per frame, are read as they are
    needed (`frames`), never all at once: a registry's table names every patient."""

    path: str
    start: int
    length: int

    def frames(self) -> Iterator[Frame]:
        """The frames in order. Raises `ValueError` at an entry this tool did not write."""
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            left, entry = self.length, None
            while left > 0:
                line = handle.readline(left)
                left -= len(line)
                try:
                    offset, first, prev, patients = orjson.loads(line)
                    offset, first = int(offset), int(first)
                except TypeError as error:  # a number or a list where the entry is not
                    raise ValueError(str(error)) from None
                if entry is not None:
                    yield Frame(entry[0], offset, entry[1], entry[2], entry[3])
                entry = (offset, first, str(prev), tuple(map(str, patients)))
            if entry is not None:
                yield Frame(entry[0], self.start - 8, entry[1], entry[2], entry[3])


def seek_table(path: str) -> Table | None:
    """The seek table at the end of a compressed trail; None for a plain trail, or one whose
    writer was stopped before its end (the frames are there, the table is not: read it through).
    """
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != ZSTD_MAGIC:
                return None
            size = handle.seek(0, io.SEEK_END)
            if size < 4 + 8 + FOOTER.size:
                return None
            handle.seek(size - FOOTER.size)
            mark, length = FOOTER.unpack(handle.read(FOOTER.size))
    except OSError as error:
        raise UsageError(f"cannot read trail {path}: {error.strerror}") from None
    start = size - FOOTER.size - length
    return Table(path, start, length) if mark == FOOTER_MARK and start >= 4 + 8 else None


def frame_lines(path: str, frame: Frame) -> list[bytes]:
    """The lines of one frame, each with its end of line. A frame that does not decompress is a
    `UsageError`."""
    try:
        with open(path, "rb") as handle:
            handle.seek(frame.offset)
            data = zstandard.ZstdDecompressor().decompress(handle.read(frame.end - frame.offset))
    except OSError as error:
        raise UsageError(f"cannot read trail {path}: {error.strerror}") from None
    except zstandard.ZstdError as error:
        raise UsageError(f"cannot read trail {path}: the frame at byte {frame.offset} does not "
                         f"decompress ({error})") from None
    return data.splitlines(keepends=True)
