"""Fact files as the tool reads them: JSON (one patient) or JSON Lines (one patient per line),
numbers as exact decimals, each record's shape checked against `engine/facts.schema.json`.

Reading and shape are one job, apart from normalisation (`engine/facts.py`): every problem of a
record's shape is reported with its path, and a record that cannot be read at all becomes a
`FactProblem` in the stream, so the records after it are still read.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import jsonschema

from protocol.errors import FactProblem

SCHEMA = json.loads(Path(__file__).with_name("facts.schema.json").read_text(encoding="utf-8"))
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
_JSON_TYPES = {"string": (str,), "number": (int, Decimal), "boolean": (bool,), "object": (dict,),
               "array": (list,)}


def _types(schema: dict) -> dict[str, tuple[type, ...]]:
    """Python types per property of a schema object: the fast path's reading of the schema."""
    table = {}
    for name, spec in schema["properties"].items():
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


def _plainly_valid(data: dict, attributes: dict[str, frozenset[str]] | None = None) -> bool:
    """True when a record obviously fits the schema (fields known, required, of their JSON types).

    Runs for every patient, so it reads only what jsonschema would, and only the fields a fact has;
    anything doubtful returns False and jsonschema, slower, reports every problem with its path. A
    boolean is not a number here. `attributes` are the fields each concept declares beside the
    schema's (their values the normaliser reads and checks).
    """
    if "patient" not in data or "facts" not in data:
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
        if "reference_range" in fact:
            reference = fact["reference_range"]
            if not all(isinstance(v, (int, Decimal)) and not isinstance(v, bool)
                       for v in reference.values()) or not reference.keys() <= _RANGE_KEYS:
                return False
    return True


def schema_problems(data: dict, path: str, line: int, pid: str | None,
                    attributes: dict[str, frozenset[str]] | None = None) -> list[FactProblem]:
    """Every way a patient record departs from the schema, with its path; none for the plainly
    valid (checked first, fast). `attributes` are the fields each concept declares beside the
    schema's (`"route": "intravenous"`): the schema cannot know them; the normaliser reads them."""
    if _plainly_valid(data, attributes):
        return []
    stripped = plain(_without(data, attributes or {}))
    errors = sorted(_VALIDATOR.iter_errors(stripped), key=lambda e: [str(p) for p in e.path])
    return [_schema_problem(error, path, line, pid) for error in errors]


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


def read_records(path: str) -> Iterator[tuple[int, Any | FactProblem]]:
    """Yield (line number, parsed JSON or problem) for a JSON file or a JSON Lines file; `-` is stdin.

    A JSON file holding one object (possibly spread over lines) is one patient; otherwise every
    non-blank line is one patient. Numbers are read as exact decimals.
    """
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        yield 0, FactProblem(path, 0, None, None, None, f"cannot read fact file: {error}")
        return
    stripped = text.strip()
    if not stripped:
        yield 0, FactProblem(path, 0, None, None, None, "the fact file is empty")
        return
    try:
        whole = json.loads(stripped, parse_float=Decimal)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        yield 1, whole
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as error:
            message = f"not valid JSON: {error.msg} at column {error.colno}"
            yield number, FactProblem(path, number, None, None, None, message)


def plain(value: Any) -> Any:
    """JSON-ready copy: exact decimals become ints or floats only for validation and display."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _schema_problem(error: jsonschema.ValidationError, path: str, line: int, pid) -> FactProblem:
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
    else:
        message = error.message
    return FactProblem(path, line, pid, index, fieldname, message)
