"""Long fact tables, one row per fact, as data teams export them: CSV, and Parquet through DuckDB.
Each is read into the stream a JSON Lines fact file gives (`FactStream.records()`): (position,
patient record or `FactProblem`), so every later stage (schema, normaliser, network, trail) is the
same.

Columns: `patient`, the patient's `screening_date` and `birth_date` (on any of its rows; rows that
disagree refuse the patient), and the fields of a fact as the fact format names them (`concept`,
`value`, `unit`, `date`, `end`, `ongoing`, `drug`, `dose`, ...), with `reference_low` and
`reference_high` for `reference_range`, and a column per attribute a concept declares (`route`).
An empty cell is a field not given; a row without a concept carries patient fields only. A cell's
type comes from the fact format's schema (numbers exact, as decimals, `true`/`false` for flags);
`value` and attribute columns are a number when they read as one, a flag when `true` or `false`,
else text.

A patient is its rows, wherever they are. A CSV is first scanned for its patient column: where
each patient's rows are together (the file sorted or grouped by patient, as most exports are), it
is then read row by row, the patients yielded as they end and only one patient's rows held; where
they are scattered (a file sorted by date, tables appended one after another), its rows are
sorted on disk first (SQLite, in a temporary folder: memory stays flat), each patient at its
first row, in file order. A Parquet file is sorted by patient in DuckDB (which sorts on disk
beyond memory). A record's position is the line (CSV) or row number (Parquet, from 1) of its
first row; `fact #N` is its N-th row with a concept, in file order.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import tempfile
from itertools import islice
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Iterator

from engine.factfile import SCHEMA, one_record_per_patient
from protocol.errors import FactProblem, UsageError

if TYPE_CHECKING:
    from engine.omop import OmopFacts

#: The fact file suffixes read as tables; an OMOP database is read through its mapping file.
#: An OMOP database's mapping file, read where a fact file goes.
OMOP = (".omop.yaml", ".omop.yml")
SUFFIXES = (".csv", ".parquet", *OMOP)
PATIENT_FIELDS = ("screening_date", "birth_date")
#: `reference_range` in two columns.
RANGE = {"reference_low": "low", "reference_high": "high"}
_FACT = SCHEMA["properties"]["facts"]["items"]["properties"]
#: Columns by the type the schema gives their field; any other column is read as `value` is.
TEXT = frozenset(n for n, spec in _FACT.items() if spec.get("type") == "string")
NUMBER = frozenset(n for n, spec in _FACT.items() if spec.get("type") == "number") | set(RANGE)
FLAG = frozenset(n for n, spec in _FACT.items()
                 if spec.get("type") == "boolean" or "const" in spec)
_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")


def is_table(path: str) -> bool:
    return path.lower().endswith(SUFFIXES)


def opened(path: str) -> CsvFacts | ParquetFacts | OmopFacts:
    """A fact table opened to be streamed; one that cannot be opened, or whose header lacks a
    `patient` or `concept` column, is a one-line error (exit 2)."""
    name = path.lower()
    try:
        if name.endswith(".parquet"):
            return ParquetFacts(path)
        if name.endswith(OMOP):
            from engine.omop import OmopFacts  # it builds on this module

            return OmopFacts(path)
        return CsvFacts(path)
    except OSError as error:
        raise UsageError(f"cannot read fact file {path}: {error.strerror or error}") from None


class _Hashed(io.RawIOBase):
    """A binary file that hashes what is read from it."""

    def __init__(self, raw: BinaryIO, digest: Any) -> None:
        self.raw, self.digest = raw, digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer)
        self.digest.update(memoryview(buffer)[:count])
        return count


#: The longest cell a CSV may hold (the csv module's default is 128 KiB): a free-text value
#: longer than that is still a cell, refused by its record's checks; beyond it, the file.
csv.field_size_limit(1 << 24)


class CsvFacts:
    """A CSV fact table read row by row and hashed as it is read (as `FactStream`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._digest = hashlib.sha256()
        self._raw: BinaryIO = open(path, "rb")

    def __enter__(self) -> CsvFacts:
        return self

    def __exit__(self, *_: object) -> None:
        self._raw.close()

    def sha256(self) -> str:
        for chunk in iter(lambda: self._raw.read(1 << 20), b""):
            self._digest.update(chunk)
        return self._digest.hexdigest()

    def records(self) -> Iterator[tuple[int, Any | FactProblem]]:
        # A byte that is not UTF-8 is kept as a lone surrogate, which the record's checks refuse
        # naming its field (`engine.factfile`): it costs that patient, not the file.
        text = io.TextIOWrapper(io.BufferedReader(_Hashed(self._raw, self._digest)),
                                encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            yield 0, FactProblem(self.path, 0, None, None, None, "the fact file is empty")
            return
        columns = header_columns(header, self.path)
        rows: Iterable[tuple[int, list[str]]] = ((reader.line_num, cells) for cells in reader
                                                 if cells)
        firsts = self._scattered(columns.index("patient"))
        if firsts is not None:
            rows = _gathered(rows, columns.index("patient"), firsts)
        yield from one_record_per_patient(patients_of(rows, columns, self.path), self.path)

    def _scattered(self, at: int) -> dict[str | None, int] | None:
        """The line of each patient's first row, when some patient's rows are not all together
        (None when each patient's are): a pass over the file before any patient is read, which
        also refuses, in one line, a file the CSV reader cannot read to its end."""
        with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as text:
            reader = csv.reader(text)
            firsts: dict[str | None, int] = {}
            current, scattered = object(), False
            try:
                next(reader, None)
                for cells in reader:
                    if not cells:
                        continue
                    pid = _patient(cells, at)
                    if pid != current:
                        scattered = scattered or pid in firsts
                        firsts.setdefault(pid, reader.line_num)
                        current = pid
            except csv.Error as error:
                raise UsageError(f"cannot read fact file {self.path}: line "
                                 f"{reader.line_num}: {error}") from None
        return firsts if scattered else None


class DuckFacts:
    """A fact source read through a DuckDB connection (Parquet, OMOP): closed with the
    connection, its SHA-256 taken when it is opened, its rows fetched `BATCH` at a time."""

    BATCH = 2048
    _connection: Any
    _sha256: str

    def __enter__(self) -> DuckFacts:
        return self

    def __exit__(self, *_: object) -> None:
        self._connection.close()

    def sha256(self) -> str:
        return self._sha256


class ParquetFacts(DuckFacts):
    """A Parquet fact table, sorted by patient in DuckDB and read in batches."""

    def __init__(self, path: str) -> None:
        import duckdb  # only for Parquet: the other inputs do not load it

        self.path = path
        with open(path, "rb") as handle:
            self._sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        self._connection = duckdb.connect()
        try:
            self._cursor = self._connection.execute(
                "SELECT * FROM read_parquet($path, file_row_number = true) "
                "ORDER BY patient, file_row_number", {"path": path})
        except duckdb.Error as error:
            self._connection.close()
            message = str(error).splitlines()[0]
            if "patient" in message and "not found" in message:
                message = "the table has no 'patient' column"
            raise UsageError(f"cannot read fact file {path}: {message}") from None
        names = [d[0] for d in self._cursor.description]
        self._columns = header_columns([n for n in names if n != "file_row_number"], path)

    def records(self) -> Iterator[tuple[int, Any | FactProblem]]:
        yield from one_record_per_patient(patients_of(self._rows(), self._columns, self.path),
                                          self.path)

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        while batch := self._cursor.fetchmany(self.BATCH):
            for row in batch:
                *cells, number = row
                yield number + 1, [cell_text(cell) for cell in cells]


def cell_text(cell: Any) -> str:
    """A typed Parquet cell as the text a CSV would hold: what `_record` reads. A double is
    written as its shortest round-trip text (0.1, not 0.1000000000000000055...)."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    return repr(cell) if isinstance(cell, float) else str(cell)


def header_columns(header: list[str], path: str) -> list[str]:
    names = [name.strip() for name in header]
    for needed in ("patient", "concept"):
        if needed not in names:
            raise UsageError(f"cannot read fact file {path}: the header has no '{needed}' column "
                             f"(it has {', '.join(repr(n) for n in names)})")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice or "" in names:
        what = f"'{twice[0]}' twice" if twice else "a column without a name"
        raise UsageError(f"cannot read fact file {path}: the header has {what}")
    return names


def _gathered(rows: Iterable[tuple[int, list[str]]], at: int, firsts: dict[str | None, int]
              ) -> Iterator[tuple[int, list[str]]]:
    """The rows each patient's together, patients in the order of their first rows and each
    patient's in file order: sorted on disk (SQLite, in a temporary folder removed after), so
    that a registry's scattered rows need no more memory than its grouped rows."""
    with tempfile.TemporaryDirectory(prefix="proto-rules-rows-") as folder:
        database = sqlite3.connect(os.path.join(folder, "rows.sqlite"))
        try:
            database.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                                   "CREATE TABLE row (first INTEGER, line INTEGER, cells TEXT)")
            batch = iter(lambda: list(islice(rows, 10_000)), [])
            for chunk in batch:
                database.executemany("INSERT INTO row VALUES (?, ?, ?)", (
                    (firsts.get(_patient(cells, at), line), line, json.dumps(cells))
                    for line, cells in chunk))
            for line, cells in database.execute("SELECT line, cells FROM row "
                                                "ORDER BY first, line"):
                yield line, json.loads(cells)
        finally:
            database.close()


def _patient(cells: list[str], at: int) -> str | None:
    return cells[at].strip() if at < len(cells) else None


def patients_of(rows: Iterable[tuple[int, list[str]]], columns: list[str], path: str
              ) -> Iterator[tuple[int, dict[str, Any] | FactProblem]]:
    """Adjacent rows of one patient as one record, at the position of its first row."""
    patient: str | None = None
    block: list[tuple[int, list[str]]] = []
    at = columns.index("patient")
    for number, cells in rows:
        pid = _patient(cells, at)
        if block and pid != patient:
            yield block[0][0], _record(block, columns, path)
            block = []
        patient = pid
        block.append((number, cells))
    if block:
        yield block[0][0], _record(block, columns, path)


def _record(block: list[tuple[int, list[str]]], columns: list[str], path: str
            ) -> dict[str, Any] | FactProblem:
    first = block[0][0]
    record: dict[str, Any] = {}
    facts: list[dict[str, Any]] = []
    for number, cells in block:
        if len(cells) != len(columns):
            return FactProblem(path, number, record.get("patient"), None, None,
                               f"the row has {len(cells)} cells where the header has "
                               f"{len(columns)}")
        row = {name: cell for name, cell in zip(columns, cells) if cell.strip()}
        if "patient" not in row:
            return FactProblem(path, number, None, None, "patient", "no patient id")
        record["patient"] = row.pop("patient").strip()
        for name in PATIENT_FIELDS:
            if name in row:
                value = row.pop(name).strip()
                if record.setdefault(name, value) != value:
                    return FactProblem(path, number, record["patient"], None, name,
                                       f"{value} here, {record[name]} on an earlier row of the "
                                       f"patient (line {first} on)")
        if "concept" in row:
            facts.append(_fact(row))
        elif row:
            return FactProblem(path, number, record["patient"], None, sorted(row)[0],
                               "a row without a concept has no fact to give this to")
    record["facts"] = facts
    return record


def _fact(row: dict[str, str]) -> dict[str, Any]:
    fact: dict[str, Any] = {}
    for name, cell in row.items():
        if name in RANGE:
            fact.setdefault("reference_range", {})[RANGE[name]] = _typed(cell.strip())
        elif name in TEXT:
            fact[name] = cell
        elif name in FLAG or name in NUMBER:
            fact[name] = _typed(cell.strip())
        else:
            fact[name] = _typed(cell.strip(), text=cell)
    return fact


def _typed(cell: str, text: str | None = None) -> Any:
    """A cell as the fact format types it: an exact number, a flag, or text (a cell that should
    be a number and is not stays text, and the schema says so with its field)."""
    if _JSON_NUMBER.match(cell):
        number = Decimal(cell)
        return int(cell) if re.fullmatch(r"-?[0-9]+", cell) and len(cell) <= 20 else number
    if cell.lower() in ("true", "false"):
        return cell.lower() == "true"
    return cell if text is None else text
