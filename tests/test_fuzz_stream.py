"""The streaming fact-file reader reads every file as the whole-file reader did (issue 10): the
same records at the same line numbers, the same problems, for files made of lines that are JSON
Lines records, pieces of one JSON value spread over lines, blank and white-space lines (JSON's
and others), bytes that are not UTF-8, and a byte-order mark.
"""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from engine.factfile import BOM, FactStream, one_record_per_patient, _records
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
