"""Fuzzing the fact reader and the run with hostile records (issue 14, section 3).

Each example draws a patient of an example fact file, mutates it (a value, a unit, a date, a
type, the nesting, or the bytes of its line) and places it between two good patients. Properties:
nothing but the project's own errors escapes (here: nothing escapes at all, since a bad record is
reported, not raised); the bad record never stops the others (both good patients are decided as
they are alone, the one after it included); every problem can be written out as UTF-8; the trail
written for the run verifies. The budget is the hypothesis profile's (tests/conftest.py); what
hypothesis finds is kept as a regular test in tests/test_hostile_facts.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import cli
from engine import pipeline
from engine.factfile import _plainly_sound, _plainly_valid, _untrusted, read_records
from engine.run import Decision, Rejected, Screening
from engine.audit.recorder import Trail
from engine.audit.verify import verify
from tests.conftest import ROOT

#: Each example fact file with its protocol.
EXAMPLES = {path: path.with_name(path.name.replace(".patients.jsonl", ".proto-rules"))
            for path in sorted((ROOT / "examples").glob("*.patients.jsonl"))}
EXAMPLES[ROOT / "examples" / "patients.jsonl"] = ROOT / "examples" / "cd19-ucart-sle.proto-rules"
FIRST, AFTER = "zz-good-before", "zz-good-after"


@cache
def screening(facts: Path) -> Screening:
    """One Screening per example protocol, kept for the whole module (the host is costly)."""
    return Screening(pipeline.compile(pipeline.load(str(EXAMPLES[facts]))[0]))


@cache
def patients(facts: Path) -> tuple[str, ...]:
    return tuple(facts.read_text(encoding="utf-8").splitlines())


@cache
def good(facts: Path) -> tuple[bytes, bytes, str]:
    """The example file's first patient as the good record before and after, and its decision
    when alone (so a hostile record between them changes nothing for them)."""
    first = json.loads(patients(facts)[0])
    before, after = (json.dumps({**first, "patient": pid}).encode() + b"\n"
                     for pid in (FIRST, AFTER))
    (alone,) = screening(facts).screen(read_records("alone", before), "alone")
    assert isinstance(alone, Decision)
    return before, after, alone.decision


# -- what a hostile record is made of -------------------------------------------------------------

#: A number written into the JSON text as it is: any length, any exponent, and what JSON lacks.
NUMBER_TEXT = st.from_regex(r"-?[0-9]{1,400}(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,22})?",
                            fullmatch=True) | st.sampled_from(["NaN", "Infinity", "-Infinity",
                                                              "9" * 5000, "1e400", "-0"])
DATES = (st.dates().map(lambda d: d.isoformat()) | st.integers(0, 9999).map(lambda y: f"{y:04d}")
         | st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(0, 9999), st.integers(0, 13))
         | st.from_regex(r"[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}", fullmatch=True))
UNITS = (st.sampled_from(["\u0000", "1/0", "(", "1/0**", "__import__('os')", "10^1000/L", "kg**kg",
                          "10**10**10", "m**1e9", "mg)", "K/uL", "G/L", "mg%", "log IU/mL", "degC",
                          "µmol/L", "x10⁹/L", "kg/m²", "mL/min/1.73m2", "", " ", "%", "1/0.0"])
         | st.from_regex(r"[A-Za-z0-9/*^.()%+\- ]{0,12}", fullmatch=True) | st.text(max_size=8))
TEXT = st.text(max_size=12) | st.sampled_from(["\ud800", "a\udc80b", "P\u2028x", "\u2029", "\r",
                                               "\x00", "\ufeff", "not detected", "< 20", ">= 1e9"])


class Raw(str):
    """JSON text placed into a record as it is (a number JSON cannot dump, deep nesting)."""


LEAVES = (st.none() | st.booleans() | st.integers() | NUMBER_TEXT.map(Raw) | TEXT | DATES | UNITS
          | st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: Raw(str(d))))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
DEEP = st.integers(2, 3000).map(lambda n: Raw("[" * n + "]" * n))
FIELDS = st.sampled_from(["value", "unit", "date", "end", "dose", "grade", "drug", "limit",
                          "comparator", "ongoing", "present", "reference_range", "recorded_by",
                          "concept", "source", "route", "type", "\ud800", "reference_range.high"])
#: Numbers and dates of the sizes clinical facts have: a record with them reaches the network.
PLAUSIBLE_NUMBERS = (st.integers(-10, 100_000) | st.decimals(-10, 100_000, places=3)).map(
    lambda n: Raw(str(n)))
PLAUSIBLE_DATES = st.dates(date(1990, 1, 1), date(2030, 12, 31)).map(lambda d: d.isoformat())
NUMBERS = PLAUSIBLE_NUMBERS | NUMBER_TEXT.map(Raw)
TOP = st.sampled_from(["patient", "screening_date", "birth_date", "facts", "extra"])
#: Values of a field's own JSON type, so that the record gets past its shape to the normaliser
#: and the network: numbers of any size, units, dates of any year, text.
TYPED = {"value": NUMBERS | TEXT | st.booleans(), "dose": NUMBERS, "limit": NUMBERS,
         "grade": NUMBERS, "unit": UNITS, "date": PLAUSIBLE_DATES | DATES,
         "end": PLAUSIBLE_DATES | DATES, "drug": TEXT, "concept": TEXT,
         "reference_range": st.fixed_dictionaries({}, optional={"low": NUMBERS, "high": NUMBERS})}
TOP_TYPED = {"patient": TEXT, "screening_date": PLAUSIBLE_DATES | DATES,
             "birth_date": PLAUSIBLE_DATES | DATES}


def dumps(value: Any) -> str:
    """JSON text of a record whose values may be `Raw` text, or hold lone surrogates."""
    raws: list[str] = []

    def placed(item: Any) -> Any:
        if isinstance(item, Raw):
            raws.append(str(item))
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(item, dict):
            return {k: placed(v) for k, v in item.items()}
        if isinstance(item, list):
            return [placed(v) for v in item]
        return item

    text = json.dumps(placed(value))
    return re.sub(r'"@@raw(\d+)@@"', lambda m: raws[int(m[1])], text)


@st.composite
def hostile_lines(draw) -> tuple[Path, bytes]:
    """An example file and one of its patients, mutated, as a line of bytes."""
    facts = draw(st.sampled_from(sorted(EXAMPLES)))
    record = json.loads(draw(st.sampled_from(patients(facts))), parse_float=Decimal)
    record["patient"] = "hostile"
    for _ in range(draw(st.integers(1, 2))):
        how = draw(st.sampled_from(["typed", "typed", "typed", "top typed", "fact", "top",
                                    "deep", "drop"]))
        value = draw(DEEP if how == "deep" else VALUES)
        if how == "top typed":
            field = draw(st.sampled_from(sorted(TOP_TYPED)))
            record[field] = draw(TOP_TYPED[field])
        elif how == "top":
            record[draw(TOP)] = value
        elif how == "drop":
            record.pop(draw(TOP), None)
        elif isinstance(record.get("facts"), list) and record["facts"]:
            index = draw(st.integers(0, len(record["facts"]) - 1))
            if isinstance(record["facts"][index], dict) and how == "typed":
                field = draw(st.sampled_from(sorted(TYPED)))
                record["facts"][index][field] = draw(TYPED[field])
            elif isinstance(record["facts"][index], dict):
                field = draw(FIELDS)
                if field == "reference_range.high":
                    record["facts"][index]["reference_range"] = {"high": value}
                else:
                    record["facts"][index][field] = value
    if record.get("patient") in (FIRST, AFTER):  # another record's id: not this test's case
        record["patient"] = "hostile"
    line = dumps(_decimals_as_raw(record)).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 3)) == 0:  # bytes: inserted, replaced, cut
        at = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 3))
        line = line[:at] + draw(st.binary(max_size=4).filter(lambda b: b"\n" not in b)) + \
            line[at + cut:]
    return facts, line + b"\n"


def _decimals_as_raw(value: Any) -> Any:
    if isinstance(value, Decimal):
        return Raw(str(value))
    if isinstance(value, dict):
        return {k: _decimals_as_raw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals_as_raw(v) for v in value]
    return value


# -- properties ------------------------------------------------------------------------------------

@given(hostile_lines())
def test_a_hostile_record_never_stops_the_others(example):
    """Reader, normaliser, network and trail on good, hostile, good: the good ones are decided as
    when alone, the hostile one decided or refused with problems of its own line, and the trail
    verifies."""
    facts, hostile = example
    before, after, decision = good(facts)
    data = before + hostile + after
    with tempfile.TemporaryDirectory() as folder:
        trail_path = Path(folder) / "trail.jsonl"
        with open(trail_path, "w", encoding="utf-8") as out:
            trail = Trail(out, screening(facts).network, str(EXAMPLES[facts]), "f.jsonl", None)
            outcomes = []
            for outcome in screening(facts).screen(read_records("f.jsonl", data), "f.jsonl"):
                trail.write(outcome)
                outcomes.append(outcome)
            trail.close("0" * 64)
        assert verify(str(trail_path)).ok
    first, *middle, last = outcomes
    assert isinstance(first, Decision) and first.patient.id == FIRST
    assert isinstance(last, Decision) and last.patient.id == AFTER
    assert first.decision == last.decision == decision
    for outcome in middle:
        if isinstance(outcome, Rejected):
            assert outcome.problems and all(p.record == 2 for p in outcome.problems)
            for problem in outcome.problems:
                str(problem).encode("utf-8")  # every problem can be printed and written


@given(hostile_lines())
def test_the_cli_run_reports_a_hostile_record_and_decides_the_rest(example):
    """`proto-rules run` in-process, output through strict UTF-8 streams as a terminal's: exit 0
    or 2, both good patients on stdout, a trail that verifies."""
    facts, hostile = example
    before, after, decision = good(facts)
    with tempfile.TemporaryDirectory() as folder:
        path, trail = Path(folder) / "f.jsonl", Path(folder) / "trail.jsonl"
        path.write_bytes(before + hostile + after)
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["run", str(EXAMPLES[facts]), str(path), "--trail", str(trail)])
            out.flush()
            err.flush()
        assert code in (0, 2)
        lines = out.buffer.getvalue().decode("utf-8").splitlines()
        assert lines[0] == f"{FIRST}: {decision}" or lines[0].startswith(f"{FIRST}: {decision} (")
        assert lines[-1] == f"{AFTER}: {decision}" or lines[-1].startswith(f"{AFTER}: {decision} (")
        assert verify(str(trail), facts=str(path)).ok


@given(hostile_lines())
def test_the_glance_passes_only_what_the_careful_checks_pass(example):
    """`_plainly_sound`, the one pass nearly every record takes, passes a record only when the
    careful checks behind it (`_untrusted`, `_plainly_valid`) pass it too: it may send a good
    record the long way, never a bad one the short way."""
    facts, line = example
    attributes = screening(facts).normaliser.attribute_keys
    for number, record in read_records("f.jsonl", line):
        if isinstance(record, dict) and _plainly_sound(record, attributes):
            assert _untrusted(record, "f.jsonl", number, None) == []
            assert _plainly_valid(record, attributes)
