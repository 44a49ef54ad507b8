"""Fact files as the tool reads them: JSON (one patient) or JSON Lines (one patient per line),
numbers as exact decimals, each record's shape checked against `engine/facts.schema.json`.

Reading and shape are one job, apart from normalisation (`engine/facts.py`): every problem of a
record's shape is reported with its path, and a record that cannot be read at all becomes a
`FactProblem` in the stream, so the records after it are still read.

A fact file is read as bytes and split on b"\n" only, each line decoded on its own: a byte that is
not UTF-8 (or a character JSON allows inside a string that some readers take for a line break,
U+2028) costs that record, never the file. Before its shape, a record is checked for what no
later stage could survive or write: nesting deeper than a record has, text that is not text (a
lone surrogate, which JSON's `\\ud800` escape can make), and numbers beyond what the engine
compares exactly (`MAX_DIGITS`). A patient id seen before is refused, naming its first record.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Iterator, NamedTuple

import jsonschema
import orjson

from engine import fhir
from protocol import model as m
from protocol.errors import FactProblem, UsageError
from protocol.messages import FACT_MESSAGES

if TYPE_CHECKING:
    from engine.tables import CsvFacts, ParquetFacts

SCHEMA = json.loads(Path(__file__).with_name("facts.schema.json").read_text(encoding="utf-8"))
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
_JSON_TYPES = {"string": (str,), "number": (int, Decimal), "boolean": (bool,), "object": (dict,),
               "array": (list,)}


def _types(schema: dict) -> dict[str, tuple[type, ...]]:
    """Python types per property of a schema object: the fast path's reading of the schema. A
    property with a list of values (`enum`: a comparator) passes no type: jsonschema reads it."""
    table = {}
    for name, spec in schema["properties"].items():
        if "enum" in spec:
            table[name] = ()
            continue
        kinds = spec.get("type", "boolean" if "const" in spec else "object")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        table[name] = tuple(t for kind in kinds for t in _JSON_TYPES[kind])
    return table


_PATIENT_TYPES = _types(SCHEMA)
_FACT_TYPES = _types(SCHEMA["properties"]["facts"]["items"])
_FACT_KEYS = frozenset(_FACT_TYPES)
#: Fields whose type the normaliser checks itself, with a message of its own, when it reads them.
_READ_LATER = frozenset({"value", "date", "end", "dose", "grade"})
_CHECKED_HERE = {k: t for k, t in _FACT_TYPES.items() if k not in _READ_LATER}
_RANGE_KEYS = frozenset({"low", "high"})
#: Patient fields whose insides only jsonschema checks (rare: what a FHIR Bundle could not give).
_NESTED = frozenset({"unknown", "set_aside"})

#: Digits a number may have before its decimal point, and places after it before its first
#: significant digit: the network compares numbers as doubles (exact to 15 digits) after they are
#: rounded to 6 places in decimals (28 digits), and a unit factor or a ratio to the reference range
#: may add several digits more.
MAX_DIGITS = 15
#: How deep a record may nest; its own shape needs 4 levels. Deeper input would exhaust Python's
#: recursion in the JSON reader or the schema validator, which read it recursively.
MAX_DEPTH = 16
#: The byte-order mark some editors write at the start of a UTF-8 file.
BOM = b"\xef\xbb\xbf"


def _plainly_valid(data: dict, attributes: dict[str, frozenset[str]] | None = None) -> bool:
    """True when a record obviously fits the schema (fields known, required, of their JSON types).

    Runs for every patient, so it reads only what jsonschema would, and only the fields a fact has;
    anything doubtful returns False and jsonschema, slower, reports every problem with its path. A
    boolean is not a number here. `attributes` are the fields each concept declares beside the
    schema's (their values the normaliser reads and checks).
    """
    if "patient" not in data or "facts" not in data or not data.keys().isdisjoint(_NESTED):
        return False
    if not isinstance(data["patient"], str) or not _as_written(data["patient"]):
        return False
    for key, value in data.items():
        types = _PATIENT_TYPES.get(key)
        if types is None or not isinstance(value, types) or (key != "facts" and value == ""):
            return False
    for fact in data["facts"]:
        if not isinstance(fact, dict):
            return False
        if not fact.keys() <= _FACT_KEYS and not (
                attributes and isinstance(fact.get("concept"), str)
                and fact.keys() - _FACT_KEYS <= attributes.get(fact["concept"], frozenset())):
            return False
        for key, value in fact.items():
            types = _CHECKED_HERE.get(key)
            if types is not None and (not isinstance(value, types) or (
                    bool not in types and isinstance(value, bool))):
                return False
        if not fact.get("concept") or fact.get("present", False) is not False:
            return False
        if isinstance(fact.get("unit"), str) and len(fact["unit"]) > UNIT_MOST:
            return False
        if "reference_range" in fact:
            reference = fact["reference_range"]
            if not all(isinstance(v, (int, Decimal)) and not isinstance(v, bool)
                       for v in reference.values()) or not reference.keys() <= _RANGE_KEYS:
                return False
    return True


#: A fact's fields as nearly every record gives them, by field: the exact types `_plainly_sound`
#: passes at a glance (a bool is not a number; a text must be ASCII, a number within
#: `MAX_DIGITS`). A field read later takes any such value: the normaliser judges it. Anything else
#: (a comparator among them, one of a list of values) takes the careful path.
_SCALARS = frozenset({str, bool, int, Decimal, type(None)})
_SOUND = {**{key: frozenset(types) for key, types in _CHECKED_HERE.items()},
          **dict.fromkeys(_READ_LATER, _SCALARS)}
_SOUND_PATIENT = frozenset({"patient", "screening_date", "birth_date"})
_NOT_TEXT = frozenset(key for key, types in _SOUND.items() if str not in types)


#: The longest unit a fact may give (the schema's `maxLength`): units are short, and pint's
#: parser takes time that grows faster than a unit's length (8,000 '%' took 30 s).
UNIT_MOST = 64

#: The longest patient id a record may give (the schema's `maxLength`): ids are short; a
#: scenario's case is named by its sentence (a few hundred characters), a megabyte is no id.
ID_MOST = 1000


def _as_written(text: str) -> bool:
    """Whether a patient's id (or date) can be written as it is: printable (no NUL, which ends a
    text in SDTM's transport file, nor a newline, which splits a problem's line), not blank, and
    no longer than an id may be. The schema's `patient` pattern and `maxLength` say the same for
    the careful path."""
    return len(text) <= ID_MOST and text.isprintable() and not text.isspace()


def _plainly_sound(data: dict, attributes: dict[str, frozenset[str]] | None) -> bool:
    """True when a record passes both `_untrusted` and `_plainly_valid` at a glance, in one pass
    over its fields: the common record (known fields of their usual types, ASCII text, numbers of
    a few digits). False is no verdict: the careful checks then run, as they always did."""
    if "patient" not in data or "facts" not in data:
        return False
    for key, value in data.items():
        if key == "facts":
            if type(value) is not list:
                return False
        elif key not in _SOUND_PATIENT or type(value) is not str or not value \
                or not value.isascii() or not _as_written(value):
            return False
    for fact in data["facts"]:
        if type(fact) is not dict or not fact.get("concept") \
                or fact.get("present", False) is not False:
            return False
        if not fact.keys() <= _FACT_KEYS:
            extra = fact.keys() - _FACT_KEYS
            concept = fact["concept"]
            if not attributes or type(concept) is not str \
                    or not extra <= attributes.get(concept, frozenset()) \
                    or not all(name.isascii() for name in extra):
                return False
        for key, value in fact.items():
            kind = type(value)
            if kind is str:  # most fields: checked first, in the fewest steps
                if not value.isascii() or key in _NOT_TEXT or \
                        len(value) > UNIT_MOST and key == "unit":
                    return False
            elif kind not in _SOUND.get(key, _SCALARS):
                return False
            elif kind is int:
                if not -_BOUND < value < _BOUND:
                    return False
            elif kind is Decimal:
                if not _within_digits(value):
                    return False
            elif kind is dict and not (value.keys() <= _RANGE_KEYS and all(
                    type(v) is int and -_BOUND < v < _BOUND
                    or type(v) is Decimal and _within_digits(v) for v in value.values())):
                return False
    return True


def schema_problems(data: dict, path: str, line: int, pid: str | None,
                    attributes: dict[str, frozenset[str]] | None = None) -> list[FactProblem]:
    """Every way a patient record departs from the schema, with its path; none for the plainly
    valid (checked first, fast). `attributes` are the fields each concept declares beside the
    schema's (`"route": "intravenous"`): the schema cannot know them; the normaliser reads them."""
    if _plainly_sound(data, attributes):
        return []
    untrusted = _untrusted(data, path, line, pid)
    if untrusted:  # validating such a record (or showing its values) is what would fail
        return untrusted
    if _plainly_valid(data, attributes):
        return []
    stripped = plain(_without(data, attributes or {}))
    errors = sorted(_VALIDATOR.iter_errors(stripped), key=lambda e: [str(p) for p in e.path])
    return [problem for error in errors
            if (problem := _schema_problem(error, path, line, pid)) is not None]


def _without(data: dict, attributes: dict[str, frozenset[str]]) -> dict:
    """The record without the attributes its facts' concepts declare."""
    facts = data.get("facts")
    if not attributes or not isinstance(facts, list):
        return data
    stripped = []
    for fact in facts:
        declared = attributes.get(fact.get("concept"), frozenset()) if isinstance(fact, dict) \
            and isinstance(fact.get("concept"), str) else frozenset()
        if declared and not fact.keys() <= _FACT_KEYS:
            fact = {k: v for k, v in fact.items() if k in _FACT_KEYS or k not in declared}
        stripped.append(fact)
    return {**data, "facts": stripped}


def read_records(path: str, data: bytes | None = None, protocol: m.Protocol | None = None
                 ) -> Iterator[tuple[int, Any | FactProblem]]:
    """Yield (line number, parsed JSON or problem) for a JSON file or a JSON Lines file; `-` is stdin.

    A JSON file holding one object (possibly spread over lines) is one patient; otherwise every
    non-blank line is one patient. Numbers are read as exact decimals. `data` is the file's bytes
    when the caller has them in memory (tests); otherwise the file is read as a stream
    (`FactStream`). A file that cannot be opened is one problem, at line 0. With the
    `protocol`, FHIR Bundles are read as its patients' records (`engine/fhir`).
    """
    if data is None and _tables().is_table(path):
        with _tables().opened(path) as table:
            yield from table.records()
        return
    try:
        facts = FolderStream(path, protocol) if data is None and _is_folder(path) else \
            FactStream(path, io.BytesIO(data) if data is not None else None, protocol)
    except OSError as error:
        yield 0, FactProblem(path, 0, None, None, None, f"cannot read fact file: {error}")
        return
    with facts:
        yield from facts.records()


def opened(path: str, protocol: m.Protocol | None = None, deferred: bool = False
           ) -> FactStream | CsvFacts | ParquetFacts:
    """A fact file opened to be streamed; one that cannot be opened is a one-line error (exit 2),
    before anything is written. A `.csv` or `.parquet` file is a long fact table
    (`engine.tables`), read into the same stream of records. With the `protocol`, a FHIR Bundle in
    the file (one per line, or the file's one JSON value) is read as a patient through the
    protocol's map, read here, before anything is written. `deferred`: a JSON Lines file's
    records may come as `Unparsed`, read by the worker that decides them."""
    if _tables().is_table(path):
        return _tables().opened(path)
    try:
        return FolderStream(path, protocol) if _is_folder(path) else \
            FactStream(path, protocol=protocol, deferred=deferred)
    except OSError as error:
        raise UsageError(f"cannot read fact file {path}: {error.strerror}") from None


def _tables():
    """`engine.tables`, which builds on this module (its schema, the duplicate check): imported
    when a path is looked at, not when this module is."""
    from engine import tables

    return tables


class FactStream:
    """A fact file read once, line by line, and hashed as it is read: a run over millions of
    records holds one record at a time (and the set of patient ids seen, for the duplicate
    check), and knows the file's SHA-256 when the last record has been read (`sha256`).

    Only a file whose first record does not end on its first line (a pretty-printed patient, or
    a first line cut short) is read whole before its first record, to tell one JSON value spread
    over lines from JSON Lines: the reading `read_records` always had. `-` is stdin.

    Given the protocol, a record that is a FHIR Bundle is read through its map (`engine/fhir`),
    so every command that reads facts reads FHIR too; its map is read first (a bad one raises
    `ProtocolError` before the file is opened). `deferred`: the lines after the first are left
    to the process that decides them where that is safe (`deferred_record`).
    """

    def __init__(self, path: str, stream: BinaryIO | None = None,
                 protocol: m.Protocol | None = None, deferred: bool = False) -> None:
        self.path = path
        self.protocol = protocol
        self._read = deferred_record if deferred else _parsed  # see `Unparsed`
        self._mapping = fhir.load_map(protocol, missing_ok=True) if protocol else None
        self._digest = hashlib.sha256()
        self._stream = stream if stream is not None else _opened(path)

    def __enter__(self) -> FactStream:
        return self

    def __exit__(self, *_: object) -> None:
        if self._stream is not _stdin():
            self._stream.close()

    def _lines(self) -> Iterator[bytes]:
        """The file's lines (split on b"\n" only, the byte-order mark dropped), each hashed as
        it is read."""
        first = True
        for line in self._stream:
            self._digest.update(line)
            if first:
                line, first = line.removeprefix(BOM), False
            yield line.removesuffix(b"\n")

    def sha256(self) -> str:
        """The SHA-256 of the file's bytes: the rest of the file (when a run was cut short) is
        read for it, a chunk at a time, and not decided."""
        for chunk in iter(lambda: self._stream.read(1 << 20), b""):
            self._digest.update(chunk)
        return self._digest.hexdigest()

    def records(self) -> Iterator[tuple[int, Any | FactProblem]]:
        """Yield (line number, parsed JSON or problem), as `read_records` says."""
        records = self._records()
        if self.protocol is not None:
            records = fhir.records(records, self.protocol, self._mapping, self.path)
        yield from one_record_per_patient(records, self.path)

    def _records(self) -> Iterator[tuple[int, Any | FactProblem]]:
        lines = enumerate(self._lines(), start=1)
        blank: list[bytes] = []  # the lines before the first record
        for number, line in lines:
            if line.strip():
                break
            blank.append(line)
        else:
            yield 0, FactProblem(self.path, 0, None, None, None, "the fact file is empty")
            return
        first = _parsed(line, self.path, number)
        if isinstance(first, FactProblem) and _stops_early(line):
            # perhaps one JSON value spread over lines: read whole, as a whole file is
            yield from _records(b"\n".join([*blank, line, *(rest for _, rest in lines)]), self.path)
            return
        # One value on the first line: the file is that one patient when only JSON's white
        # space surrounds it (reported at line 1, as a whole file is), else one patient per line.
        whole = isinstance(first, dict) and not any(b.strip(_JSON_SPACE) for b in blank)
        read = self._read
        for following, line in lines:
            if line.strip(_JSON_SPACE):
                yield number, first
                if line.strip():
                    yield following, read(line, self.path, following)
                break
        else:
            yield (1 if whole else number), first
            return
        for number, line in lines:
            if line.strip():
                yield number, read(line, self.path, number)


class FolderStream(FactStream):
    """A folder of patient files, as a FHIR export gives them (one Bundle per file, or NDJSON of
    Bundles), read in file-name order: its `.json`, `.ndjson` and `.jsonl` files, each read as a
    fact file is (one JSON value, or one per line), patients numbered in order across files; a
    problem names the file and its line. Its SHA-256 is that of the list of each file's name and
    SHA-256, one `name  sha256` line each (`sha256sum`'s order reversed), so a file renamed,
    added or changed changes it."""

    SUFFIXES = (".json", ".ndjson", ".jsonl")

    def __init__(self, path: str, protocol: m.Protocol | None = None) -> None:
        self.path = path
        self.protocol = protocol
        self._mapping = fhir.load_map(protocol, missing_ok=True) if protocol else None
        self._files = sorted((f for f in Path(path).iterdir()
                              if f.is_file() and f.suffix in self.SUFFIXES), key=lambda f: f.name)

    def __exit__(self, *_: object) -> None:
        pass

    def sha256(self) -> str:
        listing = hashlib.sha256()
        for file in self._files:
            listing.update(f"{file.name}  {hashlib.sha256(file.read_bytes()).hexdigest()}\n"
                           .encode("utf-8"))
        return listing.hexdigest()

    def records(self) -> Iterator[tuple[int, Any | FactProblem]]:
        yield from one_record_per_patient(self._numbered(), self.path)

    def _numbered(self) -> Iterator[tuple[int, Any | FactProblem]]:
        if not self._files:
            yield 0, FactProblem(self.path, 0, None, None, None,
                                 f"no {', '.join(self.SUFFIXES)} file in the folder")
            return
        number = 0
        for file in self._files:
            try:
                data = file.read_bytes().removeprefix(BOM)
            except OSError as error:
                number += 1
                yield number, FactProblem(str(file), 0, None, None, None,
                                          f"cannot read: {error.strerror}")
                continue
            records = _records(data, str(file))
            if self.protocol is not None:
                records = fhir.records(records, self.protocol, self._mapping, str(file))
            for line, record in records:
                number += 1
                yield number, record if isinstance(record, FactProblem) else \
                    Located(record, str(file), line)


def _is_folder(path: str) -> bool:
    return path != "-" and Path(path).is_dir()


#: What JSON takes for white space (bytes.strip takes a form feed and a vertical tab too).
_JSON_SPACE = b" \t\r\n"


def _stops_early(line: bytes) -> bool:
    """Whether a first line that is not JSON may be the start of one JSON value spread over
    lines: it is not JSON only because it ends too early (a JSON reader reads left to right, so
    an error before the line's end is an error of the whole file too)."""
    try:
        text = line.decode("utf-8")
        _loads(text)
    except json.JSONDecodeError as error:
        return error.pos >= len(text.rstrip(" \t\r"))
    except (UnicodeDecodeError, RecursionError, _Refused):
        return False
    return False


def _opened(path: str) -> BinaryIO:
    """The fact file's bytes as a stream, or stdin's for `-` (a text stream without bytes, as
    tests give, is encoded back: a lone surrogate in it stays, to be refused with its line).
    Raises OSError when the file cannot be opened."""
    if path != "-":
        return open(path, "rb")
    stream = getattr(_stdin(), "buffer", None)
    return stream if stream is not None else \
        io.BytesIO(_stdin().read().encode("utf-8", "surrogatepass"))


def _stdin() -> Any:
    return sys.stdin


def array_problem(count: int) -> str:
    """What is said of a fact file that is one JSON array, or of a line that is one."""
    return (f"a JSON array of {count:,} value{'' if count == 1 else 's'}, not a patient: a fact "
            "file holds one patient object, or one per line (JSON Lines: no brackets or commas "
            "between them)")


def _records(data: bytes, path: str) -> Iterator[tuple[int, Any | FactProblem]]:
    """A fact file held whole: one JSON object, or one record per non-blank line."""
    whole = _whole(data)
    if isinstance(whole, dict):
        yield 1, whole
        return
    if isinstance(whole, list):  # not a record per line, each "not valid JSON"
        yield 1, FactProblem(path, 1, None, None, None, array_problem(len(whole)))
        return
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            yield number, _parsed(line, path, number)


def count_records(lines: Iterable[bytes]) -> int:
    """How many records `read_records` will yield, counted line by line (a registry's file is not
    held in memory for it): what a progress line needs for its ETA. A first line that stops
    partway through a JSON value starts one patient written over several lines; else each
    non-blank line is one."""
    count = 0
    for line in lines:
        if not line.strip():
            continue
        if count == 0 and _stops_early(line.removeprefix(BOM)):
            return 1
        count += 1
    return max(count, 1)


def _whole(data: bytes) -> Any:
    """The file as one JSON value, or None when it is not one (JSON Lines, or unreadable)."""
    try:
        return _loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, _Refused):
        return None


def _parsed(line: bytes, path: str, number: int) -> Any | FactProblem:
    """One line's JSON, or the problem that stops it being read (with its column)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        message = FACT_MESSAGES["not-utf8"].format(
            byte=f"0x{line[error.start]:02x}", column=error.start + 1, reason=error.reason)
        return FactProblem(path, number, None, None, None, message)
    try:
        return _loads(text)
    except json.JSONDecodeError as error:
        message = FACT_MESSAGES["not-json"].format(reason=error.msg.removesuffix(" at"),
                                                   column=error.colno)  # "starting at"
    except RecursionError:
        message = FACT_MESSAGES["too-deep"].format(limit=MAX_DEPTH)
    except _Refused as refused:
        message = str(refused)
    return FactProblem(path, number, None, None, None, message)


class Located(NamedTuple):
    """A record of one of a folder's files (`FolderStream`) with where it is written: the run
    numbers a folder's records in order across its files (the trail's record number, which a
    resume and a replay join on), and says a problem of one at its own file's line."""

    data: Any
    file: str
    line: int


class Unparsed(NamedTuple):
    """A record's line whose reading is left to the process that decides it (`run --workers`,
    a Dask worker): reading a line into exact decimals costs the run's one process about 0.1 ms
    a patient, more than everything else it does for a patient, and that process is shared by
    every worker. `patient` is its patient id: the duplicate check and a resume need no more.
    `parsed` reads it as the one process would have (`deferred_record` says why it can)."""

    text: bytes
    patient: str

    def parsed(self, path: str, number: int) -> Any | FactProblem:
        return _parsed(self.text, path, number)


def deferred_record(line: bytes, path: str, number: int) -> Unparsed | Any | FactProblem:
    """`line` as an `Unparsed` record when reading it later cannot turn out differently from
    reading it now (`_parsed`), else read now. orjson, about ten times quicker, reads only what
    JSON allows, which Python's reader reads too; it is told apart from ours where ours refuses
    what orjson takes: an exponent beyond 18 digits (any run of 19 digits keeps a line here) and
    nesting at which Python's reader runs out of stack, which depends on the process (a line of
    more than `_SHALLOW` brackets stays here). A FHIR Bundle is read here too, through its map.

    >>> deferred_record(b'{"patient": "P1", "facts": []}', "f.jsonl", 2)
    Unparsed(text=b'{"patient": "P1", "facts": []}', patient='P1')
    >>> deferred_record(b'{"patient": "P1", "v": 1e9999999999999999999}', "f.jsonl", 2).message
    '1e9999999999999999999 is beyond what the engine compares exactly: ...'
    """
    seen = line.translate(_SEEN)
    if seen.count(b"{") > _SHALLOW or _LONG_DIGITS in seen:
        return _parsed(line, path, number)
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _parsed(line, path, number)
    pid = data.get("patient") if type(data) is dict else None
    if type(pid) is not str or "resourceType" in data or _twice(line, data):
        return _parsed(line, path, number)
    return Unparsed(line, pid)


def _twice(line: bytes, data: Any) -> bool:
    """Whether a key may be given twice in `line` (which our reader refuses, `once`, and orjson
    reads as its last value): a key is a string closed right before its colon, as is `\\":`
    within a string, and orjson writes each of its keys and strings back so; a line with fewer
    such places written back lost a key, or wrote its space before a colon or a `\\u` escape
    (read now, to be sure); so does a value nested deeper than orjson writes back (255 levels,
    fewer than the brackets `_SHALLOW` lets through)."""
    if b"\\u" in line:
        return True
    try:
        return line.count(b'":') != orjson.dumps(data).count(b'":')
    except orjson.JSONEncodeError:
        return True


#: Brackets a deferred line may have: any record of a few hundred facts, and far from the depth
#: (about 1,000, less the caller's own stack) at which Python's JSON reader raises RecursionError.
_SHALLOW = 512
#: A line as `deferred_record` looks at it: every digit a 0, every bracket a brace.
_SEEN = bytes.maketrans(b"123456789[", b"000000000{")
_LONG_DIGITS = b"0" * 19


class _Refused(ValueError):
    """A number the JSON reader cannot make into a decimal at all: its line is refused."""


def _loads(text: str) -> Any:
    """`json.loads` with exact numbers, through one decoder made once (`json.loads` makes one per
    call when given parsers); a text that starts with a byte-order mark is refused as it refuses
    it."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent of more than 18 digits
        raise _Refused(FACT_MESSAGES["number-range"].format(number=_shown_text(text),
                                                            digits=MAX_DIGITS)) from None


def _integer(text: str) -> int | Decimal:
    """An int, or a decimal when it is too long for Python to read as an int (4300 digits):
    `_untrusted` then reports it with its field."""
    return int(text) if len(text) <= 20 else Decimal(text)


def _constant(text: str) -> Any:
    """NaN and Infinity, which Python's JSON reader accepts and JSON does not."""
    raise _Refused(FACT_MESSAGES["number-not-finite"].format(number=text))


def once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose every key is given once: JSON readers keep either value of a key given
    twice (Python's and orjson the last), so `{"value": 10, "value": 90}` would decide as 90
    where another reader sees 10. About 0.03 ms a patient of the generated registry's records.

    >>> once([("value", 10), ("value", 90)])
    Traceback (most recent call last):
    ...
    engine.factfile._Refused: 'value' is given twice in one object: which one counts is unclear
    """
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    seen: set[str] = set()
    twice = next(key for key, _ in pairs if key in seen or seen.add(key))
    raise _Refused(FACT_MESSAGES["key-twice"].format(key=_shown_text(repr(twice))))


_DECODER = json.JSONDecoder(parse_float=_decimal, parse_int=_integer, parse_constant=_constant,
                            object_pairs_hook=once)


def one_record_per_patient(records: Iterable[tuple[int, Any | FactProblem]], path: str
                            ) -> Iterator[tuple[int, Any | FactProblem]]:
    """The records, a patient id seen before refused (naming the line of its first record): a
    second record would be decided again and its trail would read as the same patient's."""
    first: dict[str, str] = {}  # the line of each patient's record (of a folder's, its file's)
    for number, data in records:
        pid = _given_id(data)
        file, line = (data.file, data.line) if type(data) is Located else (path, number)
        if isinstance(pid, str) and pid.strip() and pid in first:  # a blank id is its own
            message = FACT_MESSAGES["duplicate-patient"].format(patient=patient_id(data),
                                                                line=first[pid])
            yield number, FactProblem(file, line, patient_id(data), None, "patient", message)
            continue
        if isinstance(pid, str):
            first[pid] = f"{line}" if file == path else f"{line} of {file}"
        yield number, data


def patient_id(data: Any) -> str | None:
    """The record's patient id as it can be shown and written: a control character or a lone
    surrogate escaped as JSON escapes it (the record is refused for it, and the refusal names
    the patient on one line)."""
    pid = _given_id(data)
    if not isinstance(pid, str):
        return None
    if len(pid) > ID_MOST:  # refused for it: named by its start, as a message quotes a value
        return f"{patient_id({'patient': pid[:40]})}... ({len(pid):,} characters)"
    if pid.isprintable() and _text_problem(pid) is None:
        return pid
    return _escaped(json.dumps(pid, ensure_ascii=False)[1:-1])


def _given_id(data: Any) -> Any:
    """The `patient` field as the record gives it (any JSON value, or None), read or not."""
    if type(data) is Unparsed:
        return data.patient
    if type(data) is Located:
        return _given_id(data.data)
    return data.get("patient") if isinstance(data, dict) else None


def _untrusted(data: Any, path: str, line: int, pid: str | None) -> list[FactProblem]:
    """What in a record no later stage could read or write: nesting deeper than `MAX_DEPTH`,
    text with a lone surrogate (a field name or a value), numbers beyond `MAX_DIGITS`; the first
    such thing in each field. Runs for every patient: plain ASCII text, small integers, booleans
    and nulls (nearly every value) are passed over without a call."""
    if not isinstance(data, dict):
        return []
    problems = []
    for key, value in data.items():
        facts = value if key == "facts" and isinstance(value, list) else ()
        found = None if facts else _suspect((key,), value, 1)
        if found:
            problems.append(FactProblem(path, line, pid, None, _field(found[0]), found[1]))
        for index, fact in enumerate(facts):
            if not isinstance(fact, dict):
                found = _suspect((), fact, 3)
                if found:
                    problems.append(FactProblem(path, line, pid, index, _field(found[0]) or None,
                                                found[1]))
                continue
            for name, item in fact.items():
                kind = type(item)
                if name.isascii() and (kind is str and item.isascii() or kind is bool or
                                       item is None or kind is int and -_BOUND < item < _BOUND
                                       or kind is Decimal and _within_digits(item)):
                    continue
                found = _suspect((name,), item, 3)
                if found:
                    problems.append(FactProblem(path, line, pid, index, _field(found[0]),
                                                found[1]))
    return problems


#: Integers below this, in magnitude, are within `MAX_DIGITS`.
_BOUND = 10 ** MAX_DIGITS


def _within_digits(number: Decimal) -> bool:
    """A finite decimal the engine compares exactly: 0, or at most `MAX_DIGITS` digits on either
    side of the point (`_number_problem`'s test, without its call for nearly every value)."""
    return number.is_finite() and (not number or -MAX_DIGITS <= number.adjusted() < MAX_DIGITS)


def _suspect(where: tuple, value: Any, depth: int) -> tuple[tuple, str] | None:
    """The first thing at or under `where` no later stage could survive: its path and what is
    wrong; recursion stops at `MAX_DEPTH`."""
    key = where[-1] if where else None
    if isinstance(key, str) and _text_problem(key):
        return where, _text_problem(key, f"the field name '{_escaped(key)}'")
    if isinstance(value, str):
        message = _text_problem(value)
        return (where, message) if message else None
    if not isinstance(value, (dict, list)):
        message = _number_problem(value)
        return (where, message) if message else None
    if depth >= MAX_DEPTH:
        return where, FACT_MESSAGES["too-deep"].format(limit=MAX_DEPTH)
    for inner, item in value.items() if isinstance(value, dict) else enumerate(value):
        found = _suspect((*where, inner), item, depth + 1)
        if found:
            return found
    return None


def _field(where: tuple) -> str:
    """A path within a record as a field name: `reference_range.high`, `source.0`."""
    return ".".join(_escaped(str(step)) for step in where)


def _text_problem(text: str, what: str = "the text") -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        char = f"\\u{ord(text[error.start]):04x}"
        return FACT_MESSAGES["not-text"].format(what=what, char=char)
    return None


def _escaped(text: str) -> str:
    """Text with each lone surrogate written as its escape, `\\ud800`."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _number_problem(value: Any) -> str | None:
    """Whether a number is beyond what the engine compares exactly (`MAX_DIGITS`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    if isinstance(value, float) and not math.isfinite(value) or \
            isinstance(value, Decimal) and not value.is_finite():
        return FACT_MESSAGES["number-not-finite"].format(number=value)
    number = Decimal(value)
    if _within_digits(number):
        return None
    return FACT_MESSAGES["number-range"].format(number=_shown_text(str(number)),
                                                digits=MAX_DIGITS)


def _shown_text(text: str) -> str:
    """A number's text for a message: a long run of digits is cut, with its length."""
    digits = sum(c.isdigit() for c in text)
    return text if len(text) <= 24 else f"{text[:12]}...{text[-6:]} ({digits} digits)"


def quoted(value: Any, most: int = 80) -> str:
    """A value as a message quotes it, in JSON, cut after `most` characters: a file's megabyte
    of text in one field is not repeated on the console and in the trail."""
    text = json.dumps(plain(value))
    return text if len(text) <= most else f"{text[:most]}... ({len(text):,} characters)"


def plain(value: Any) -> Any:
    """JSON-ready copy: exact decimals become ints or floats only for validation and display."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _schema_problem(error: jsonschema.ValidationError, path: str, line: int,
                    pid) -> FactProblem | None:
    where = list(error.absolute_path)
    index = where[1] if len(where) > 1 and where[0] == "facts" and isinstance(where[1], int) else None
    fieldname = ".".join(str(p) for p in (where[2:] if index is not None else where)) or None
    if error.validator == "required":
        missing = error.message.split("'")[1]
        fieldname = f"{fieldname}.{missing}" if fieldname else missing
        message = "is required"
    elif error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        fieldname = ".".join([*([fieldname] if fieldname else []), extra[0]]) if extra else fieldname
        message = error.message.replace("Additional properties are not allowed", "unknown field")
    elif error.validator == "const" and fieldname == "present":
        message = (f"\"present\" is only ever false, to record that the patient has none of it "
                   f"(found {json.dumps(plain(error.instance))}); an occurrence is recorded by its "
                   "fact, with its date")
    elif error.validator == "maxLength" and where == ["patient"]:
        message = f"an id of {len(error.instance):,} characters: at most {ID_MOST:,}"
    elif error.validator == "maxLength" and fieldname == "unit":
        message = f"a unit of {len(error.instance):,} characters: a unit is at most {UNIT_MOST}"
    elif error.validator == "minLength" and where == ["patient"]:
        message = "the patient id is blank"
    elif error.validator == "pattern" and where == ["patient"] and error.instance == "":
        return None  # said as blank (`minLength`)
    elif error.validator == "pattern" and where == ["patient"]:
        message = (f"{_escaped(json.dumps(error.instance, ensure_ascii=False))} is not an id "
                   "as the trail, a table or SDTM can hold it: printable, not blank")
    else:
        message = error.message
    return FactProblem(path, line, pid, index, fieldname, message)
