"""The streaming fact-file reader reads every file as the whole-file reader did (issue 10): the
same records at the same line numbers, the same problems, for files made of lines that are JSON
Lines records, pieces of one JSON value spread over lines, blank and white-space lines (JSON's
and others), bytes that are not UTF-8, and a byte-order mark.
"""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.factfile import (BOM, FactStream, Unparsed, _parsed, _records, deferred_record,
                             one_record_per_patient)
from protocol.errors import FactProblem

LINES = [b"", b"  ", b"\r", b"\x0c", b"\t", b"{", b"}", b"[1,", b"2]", b'{"a":', b"1}",
         b'{"patient": "a",', b'"facts": []}', b'{"patient": "a", "facts": []}',
         b'{"patient": "b", "facts": []}', b'"x"', b"NaN", b"\xff", b'{"patient": "a"']


def whole_file(data: bytes) -> list:
    """What the reader before streaming gave: the file read whole, then one JSON object or
    JSON Lines."""
    data = data.removeprefix(BOM)
    if not data.strip():
        return [(0, "the fact file is empty")]
    return [shown(r) for r in one_record_per_patient(_records(data, "f"), "f")]


def streamed(data: bytes) -> list:
    with FactStream("f", io.BytesIO(data)) as facts:
        return [shown(r) for r in facts.records()]


def shown(record: tuple) -> tuple:
    number, value = record
    return number, value.message if isinstance(value, FactProblem) else value


@given(st.lists(st.sampled_from(LINES), max_size=8), st.booleans(), st.booleans())
def test_streaming_reads_as_the_whole_file_did(lines, bom, newline_at_end):
    data = (BOM if bom else b"") + b"\n".join(lines) + (b"\n" if newline_at_end else b"")
    assert streamed(data) == whole_file(data)


def test_one_record_among_form_feeds_is_at_its_own_line():
    """A form feed is blank to a line but not JSON's white space: the file is JSON Lines."""
    data = b"\x0c\n" + b'{"patient": "a", "facts": []}'
    assert streamed(data) == whole_file(data) == [(2, {"patient": "a", "facts": []})]


#: Lines orjson and our reader might read apart (`deferred_record`): numbers our reader refuses
#: or reads otherwise, nesting deep enough to exhaust Python's stack, a byte-order mark, a lone
#: surrogate, NaN, a FHIR resource, ids that are not text; each with a patient id, some twice.
DIVERGENT = [b'{"patient": "a", "facts": [], "v": 1e9999999999999999999}',
             b'{"patient": "a", "facts": [], "v": 1E-99999999999999999999}',
             b'{"patient": "a", "facts": [], "v": 123456789012345678901234567890}',
             b'{"patient": "a", "x": ' + b"[" * 600 + b"]" * 600 + b"}",
             b'{"patient": "a", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
             b'{"patient": "a", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
             BOM + b'{"patient": "a", "facts": []}', b'{"patient": "\\ud800", "facts": []}',
             b'{"patient": "a", "v": NaN}', b'{"patient": "a", "v": -Infinity}',
             b'{"resourceType": "Bundle", "patient": "a"}', b'{"patient": 5, "facts": []}',
             b'{"patient": "a", "patient": "b"}', b'{"patient": "a\\u0000"}', b'{"patient": "a",}',
             # a key given twice, which our reader refuses: also beside a quote written \u0022
             b'{"patient": "a", "facts": [{"concept": "x", "value": 1, "value": 2}]}',
             b'{"patient": "a", "facts": [], "k": 1, "k": "\\u0022:"}',
             b'{"patient": "a", "facts": [], "k" : 1, "k\\":": 2}']


def deferred(data: bytes) -> list:
    """What a worker reads: each `Unparsed` record read where it is decided."""
    read = []
    with FactStream("f", io.BytesIO(data), deferred=True) as facts:
        for number, record in facts.records():
            if type(record) is Unparsed:
                record = record.parsed("f", number)
                assert isinstance(record, dict)  # else the duplicate check counted its id
            read.append(shown((number, record)))
    return read


@pytest.mark.parametrize("line", DIVERGENT)
def test_a_line_read_apart_is_deferred_only_when_read_alike(line):
    """After a first record (never deferred), the line, then a record of its patient id: a
    duplicate only if the line was read as that patient."""
    data = b'{"patient": "first", "facts": []}\n' + line + b'\n{"patient": "a", "facts": []}'
    assert deferred(data) == streamed(data)


@given(st.lists(st.sampled_from(LINES + DIVERGENT), max_size=8), st.booleans())
def test_records_left_to_the_workers_read_as_one_process_reads_them(lines, bom):
    """Deferred, the records, their line numbers, problems and duplicate refusals are the same:
    a line orjson reads and ours would refuse is never deferred."""
    data = (BOM if bom else b"") + b"\n".join(lines)
    assert deferred(data) == streamed(data)


#: JSON number texts, exponents of up to 22 digits among them.
NUMBERS = st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,5})?([eE][+-]?[0-9]{1,22})?",
                        fullmatch=True)


def written(value) -> str:
    """`value` as JSON text, a number's text as it was drawn (`NUMBERS`, kept as bytes)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return "[" + ",".join(written(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{written(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text()
                    | NUMBERS.map(str.encode), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=12),
       st.sampled_from(["a", "\ud800", 7]))
def test_any_json_value_deferred_reads_as_read_at_once(value, pid):
    """NaN and Infinity (floats), lone surrogates, exponents beyond 18 digits: read the same."""
    line = written({"patient": pid, "x": value}).encode("utf-8", "surrogatepass")
    found = deferred_record(line, "f", 2)
    if type(found) is Unparsed:  # only a line our reader reads, as a patient with that id
        found = found.parsed("f", 2)
        assert isinstance(found, dict) and found["patient"] == pid
    assert found == _parsed(line, "f", 2)
