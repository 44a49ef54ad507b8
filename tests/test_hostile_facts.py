"""Hostile fact files (issue 14): each case once raised a traceback or stopped the whole run.

Every case is a fact file of three records run through the CLI in-process: a good patient, the
hostile record, and a good patient after it. The hostile record is refused with where and what
(file:line, patient, fact, field), the run exits 2, both good patients are decided and written to
the trail, and the trail verifies. The cases hypothesis found are kept in test_fuzz_facts.py.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path
from typing import Any, Callable

import pytest

import cli
from engine.audit.trail import read
from tests.conftest import PATIENTS, SEED

GOOD = json.loads(PATIENTS.read_text(encoding="utf-8").splitlines()[0])  # P01-eligible
WEIGHT = 2  # the index of P01's weight fact


def record(pid: str, change: Callable[[dict], Any] = lambda data: None) -> dict:
    """P01's record under another id, changed in place by `change`."""
    data = copy.deepcopy(GOOD)
    data["patient"] = pid
    change(data)
    return data


def line(data: dict) -> bytes:
    """One JSON Lines record as a file holds it (lone surrogates written as JSON escapes)."""
    return json.dumps(data).encode("utf-8") + b"\n"


def weight(**fields: Any) -> Callable[[dict], None]:
    return lambda data: data["facts"][WEIGHT].update(fields)


def top(**fields: Any) -> Callable[[dict], None]:
    return lambda data: data.update(fields)


def run(tmp_path: Path, capsys, middle: bytes, *options: str) -> tuple[int, str, str, list]:
    """`proto-rules run` on good, `middle`, good; exit code, stdout, stderr and the trail."""
    facts = tmp_path / "facts.jsonl"
    facts.write_bytes(line(GOOD) + middle + line(record("P-after")))
    trail = tmp_path / "trail.jsonl"
    code = cli.main(["run", str(SEED), str(facts), "--trail", str(trail), *options])
    out, err = capsys.readouterr()
    return code, out, err, read(str(trail))


def assert_refused(tmp_path: Path, capsys, middle: bytes, problem: str, *options: str) -> None:
    """The middle record is refused with `problem` (after `facts.jsonl:2`); the others decided."""
    code, out, err, trail = run(tmp_path, capsys, middle, *options)
    assert code == 2
    assert out.splitlines() == ["P01-eligible: ELIGIBLE", "P-after: ELIGIBLE"]
    assert f"{tmp_path / 'facts.jsonl'}:2{problem}\n" in err
    (rejected,) = [r for r in trail if r["type"] == "rejected"]
    assert rejected["record"] == 2 and rejected["problems"] == [
        f"{tmp_path / 'facts.jsonl'}:2{problem}"]
    assert [r["patient"] for r in trail if r["type"] == "decision"] == ["P01-eligible", "P-after"]
    assert cli.main(["verify", str(tmp_path / "trail.jsonl")]) == 0
    capsys.readouterr()


# -- values the reader once let through ----------------------------------------------------------

CALENDAR = "lies outside the calendar this tool reads (1900-01-01 to 2200-12-31)"
RANGE = ("is beyond what the engine compares exactly: at most 15 digits before the decimal point, "
         "and nothing nearer 0 than 1e-15 (0 itself is fine)")
UNREADABLE = "not a unit expression (write it as a laboratory prints it, like mg/dL or 10^9/L)"

#: id, the change to the middle record, and its problem after `file:2`
CASES = [
    ("date-object", weight(date={}),
     ", patient B, fact #3, field 'date': error: not a date (YYYY-MM-DD): found an object"),
    ("end-array", lambda d: d["facts"][9].update(end=[]),
     ", patient B, fact #10, field 'end': error: not a date (YYYY-MM-DD, YYYY-MM or YYYY): "
     "found an array"),
    ("unit-nul", weight(unit="\u0000"),
     ", patient B, fact #3, field 'unit': error: weight: cannot read unit '\\x00': '\\x00' "
     "(U+0000) is no part of a unit"),
    ("unit-division-by-zero", weight(unit="1/0"),
     f", patient B, fact #3, field 'unit': error: weight: cannot read unit '1/0': {UNREADABLE}"),
    ("unit-open-parenthesis", weight(unit="("),
     f", patient B, fact #3, field 'unit': error: weight: cannot read unit '(': {UNREADABLE}"),
    ("unit-dangling-power", weight(unit="1/0**"),
     f", patient B, fact #3, field 'unit': error: weight: cannot read unit '1/0**': {UNREADABLE}"),
    ("unit-python", weight(unit="__import__('os')"),
     ", patient B, fact #3, field 'unit': error: weight: cannot read unit '__import__('os')': "
     "\"'\" (U+0027) is no part of a unit"),
    ("unit-huge-power", weight(unit="10^1000/L"),
     ", patient B, fact #3, field 'unit': error: weight: unit '10^1000/L' has a power beyond "
     "what a unit can hold (ten ** 1000); powers of ten go up to 10^24, other powers up to 6"),
    ("screening-date-year-1", top(screening_date="0001-01-01"),
     f", patient B, field 'screening_date': error: '0001-01-01' {CALENDAR}"),
    ("screening-date-before-1900", top(screening_date="1899-12-31"),
     f", patient B, field 'screening_date': error: '1899-12-31' {CALENDAR}"),
    ("screening-date-after-2200", top(screening_date="2201-01-01"),
     f", patient B, field 'screening_date': error: '2201-01-01' {CALENDAR}"),
    ("birth-date-year-1", top(birth_date="0001-01-01"),
     f", patient B, field 'birth_date': error: '0001-01-01' {CALENDAR}"),
    ("fact-date-year-1", weight(date="0001-01-01"),
     f", patient B, fact #3, field 'date': error: '0001-01-01' {CALENDAR}"),
    ("course-start-year-only", lambda d: d["facts"][9].update(date="1850"),
     f", patient B, fact #10, field 'date': error: '1850' {CALENDAR}"),
    ("course-end-month-only", lambda d: d["facts"][9].update(end="9999-12"),
     f", patient B, fact #10, field 'end': error: '9999-12' {CALENDAR}"),
    ("lone-surrogate-in-a-concept", lambda d: d["facts"].append({"concept": "x\udc80"}),
     ", patient B, fact #51, field 'concept': error: the text holds \\udc80, half of a surrogate "
     "pair, which is not text: it cannot be written to the trail"),
    ("lone-surrogate-in-a-field-name", weight(**{"s\ud800": 1}),
     ", patient B, fact #3, field 's\\ud800': error: the field name 's\\ud800' holds \\ud800, "
     "half of a surrogate pair, which is not text: it cannot be written to the trail"),
    ("comparator-object", weight(comparator={}),  # once passed the quick check, unread
     ", patient B, fact #3, field 'comparator': error: {} is not one of ['<', '<=', '>', '>=']"),
    ("event-value-false", lambda d: d["facts"].__setitem__(26, {
        "concept": "acute_myocardial_infarction", "value": False, "date": "2026-05-01"}),
     ", patient B, fact #27, field 'value': error: acute_myocardial_infarction is an event: its "
     "fact records one occurrence, by its date, and takes no value (found false); to record "
     "that there is none, write \"present\": false"),
    ("present-true", lambda d: d["facts"][26].update(present=True),
     ", patient B, fact #27, field 'present': error: \"present\" is only ever false, to "
     "record that the patient has none of it (found true); an occurrence is recorded by its "
     "fact, with its date"),
    ("present-as-text", lambda d: d["facts"][26].update(present="false"),
     ", patient B, fact #27, field 'present': error: \"present\" is only ever false, to "
     "record that the patient has none of it (found \"false\"); an occurrence is recorded by "
     "its fact, with its date"),
    ("negative-dose-shown-only", lambda d: d["facts"][8].update(dose=-400),
     ", patient B, fact #9, field 'dose': error: a dose cannot be negative: -400"),
    ("unit-blank", weight(unit=""),
     ", patient B, fact #3, field 'unit': error: weight: the unit is blank, a plain number: "
     "give the one the value is in (like kg)"),
    # a blank unit on a percentage: read as a plain number, LVEF 63 was 6,300 %
    ("unit-blank-percent", lambda d: d["facts"][11].update(unit=""),
     ", patient B, fact #12, field 'unit': error: lvef: the unit is blank, a plain number: give "
     "the one the value is in (like %); a plain 1 is 100 %"),
    # a data team's hostile unit: pint took 30 s for 8,000 '%', time growing faster than length
    ("unit-too-long", weight(unit="%" * 8000),
     ", patient B, fact #3, field 'unit': error: a unit of 8,000 characters: a unit is at most "
     "64"),
    ("id-too-long", top(patient="P" * 5000),
     f", patient {'P' * 40}... (5,000 characters), field 'patient': error: an id of 5,000 "
     "characters: at most 1,000"),
    ("nested-too-deep-to-use", weight(source=json.loads("[" * 40 + "]" * 40)),
     ", patient B, fact #3, field 'source.0.0.0.0.0.0.0.0.0.0.0.0.0': error: nested more than "
     "16 levels deep: a patient record is at most 4 (record, facts, fact, reference range)"),
]


@pytest.mark.parametrize(("change", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_value_is_refused_and_the_others_decided(tmp_path, capsys, change, problem):
    assert_refused(tmp_path, capsys, line(record("B", change)), problem)


#: id, the weight's value as the file writes it, and how the problem shows it
NUMBERS = [
    ("exponent-400", "1e400", "1E+400"),
    ("400-digits", "9" * 400, "999999999999...999999 (400 digits)"),
    ("5000-digit-integer", "9" * 5000, "999999999999...999999 (5000 digits)"),
    ("16-digits", "1000000000000000", "1000000000000000"),
    ("below-1e-15", "1e-400", "1E-400"),
    ("400-places", "0." + "0" * 399 + "1", "1E-400"),
]


@pytest.mark.parametrize(("text", "shown"), [n[1:] for n in NUMBERS], ids=[n[0] for n in NUMBERS])
def test_number_beyond_the_engine_is_a_field_error(tmp_path, capsys, text, shown):
    middle = line(record("B")).replace(b'"value": 58,', f'"value": {text},'.encode())
    assert_refused(tmp_path, capsys, middle, f", patient B, fact #3, field 'value': error: "
                                             f"{shown} {RANGE}")


def test_numbers_within_the_limits_are_read(tmp_path, capsys):
    """15 digits before the point, float noise after it, 1e-15: all read, nothing refused."""
    middle = line(record("B")).replace(b'"value": 58,', b'"value": 58.000000000000004,')
    middle = middle.replace(b'"value": 14,', b'"value": 999999999999999,')  # the SLEDAI score
    code, out, err, trail = run(tmp_path, capsys, middle)
    assert code == 0 and "B: ELIGIBLE" in out


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(tmp_path, capsys, constant):
    middle = line(record("B")).replace(b'"value": 58,', f'"value": {constant},'.encode())
    assert_refused(tmp_path, capsys, middle, f": error: {constant} is not a number JSON allows")


@pytest.mark.parametrize("old, new, key", [
    (b'"value": 58,', b'"value": 10, "value": 58,', "value"),  # 10 would be NOT_MET, 58 MET
    (b'"patient": "B",', b'"patient": "B", "patient": "C",', "patient"),
])
def test_a_key_given_twice_refuses_the_line(tmp_path, capsys, old, new, key):
    """Readers keep either value of a key given twice (Python's and orjson the last): the
    record is refused, not decided on one of them."""
    middle = line(record("B")).replace(old, new, 1)
    assert middle != line(record("B"))
    assert_refused(tmp_path, capsys, middle,
                   f": error: '{key}' is given twice in one object: which one counts is unclear")


def test_an_exponent_decimals_cannot_hold_refuses_the_line(tmp_path, capsys):
    middle = line(record("B")).replace(b'"value": 58,', b'"value": 1e99999999999999999999,')
    assert_refused(tmp_path, capsys, middle, f": error: 1e99999999999999999999 {RANGE}")


def test_nesting_deeper_than_python_reads_refuses_the_line(tmp_path, capsys):
    """100,000 brackets: the JSON reader's RecursionError becomes the line's problem."""
    middle = line(record("B")).replace(b'"source": "rheumatology clinic"',
                                       b'"source": ' + b"[" * 100_000 + b"]" * 100_000)
    assert_refused(tmp_path, capsys, middle, ": error: nested more than 16 levels deep: a patient "
                                             "record is at most 4 (record, facts, fact, reference "
                                             "range)")


@pytest.mark.parametrize("depth", [254, 255, 256, 300, 511])
def test_nesting_deeper_than_orjson_writes_refuses_the_fact(tmp_path, capsys, depth):
    """Brackets few enough to be read by orjson and left to the deciding process, nested deeper
    than orjson writes back (its limit, 255): read at once, and the fact refused (it was an
    internal error, found by the long fuzzing profile)."""
    middle = line(record("B")).replace(b'"source": "rheumatology clinic"',
                                       b'"source": ' + b"[" * depth + b"]" * depth)
    code, _, err, _ = run(tmp_path, capsys, middle, "--workers", "2")
    assert code == 2 and "nested more than 16 levels deep" in err and "internal error" not in err


@pytest.mark.parametrize("pid, shown", [("a\x00b", "a\\u0000b"), ("x\ny", "x\\ny"),
                                        ("   ", "   "), ("\t", "\\t")])
def test_an_id_that_is_not_printable_or_blank_refuses_the_record(tmp_path, capsys, pid, shown):
    """Two ids `a\0b` and `a\0c` were one USUBJID in SDTM's transport file (it ends text at
    the NUL), and a newline split the problem's own line."""
    assert_refused(tmp_path, capsys, line(record(pid)),
                   f", patient {shown}, field 'patient': error: \"{shown}\" is not an id as the "
                   "trail, a table or SDTM can hold it: printable, not blank")


def test_lone_surrogate_in_the_patient_id_refuses_the_record_naming_it(tmp_path, capsys):
    assert_refused(tmp_path, capsys, line(record("P\ud800")),
                   ", patient P\\ud800, field 'patient': error: the text holds \\ud800, half of a "
                   "surrogate pair, which is not text: it cannot be written to the trail")


def test_screening_date_option_outside_the_calendar(tmp_path, capsys):
    assert_refused(tmp_path, capsys, line(record("B", lambda d: d.pop("screening_date"))),
                   f", patient B, field 'screening_date': error: --screening-date '0001-01-01' "
                   f"{CALENDAR}", "--screening-date", "0001-01-01")


def test_date_concept_outside_the_calendar(compile_text, tmp_path):
    """A date concept's value (a planned first dose) is a date like any other."""
    from engine.factfile import read_records
    from engine.run import Rejected, Screening

    network = compile_text('protocol "t"\nversion "1"\nconcepts:\n    first_dose: date\n'
                           '    chemo: medication {cisplatin}\n'
                           'inclusion I1 "No chemo in the 4 weeks before the first dose":\n'
                           '    not chemo within 4 weeks before first_dose\n')
    facts = tmp_path / "d.jsonl"
    facts.write_text(json.dumps({"patient": "D", "screening_date": "2026-06-01", "facts": [
        {"concept": "first_dose", "value": "2300-01-01"},
        {"concept": "chemo", "present": False}]}) + "\n", encoding="utf-8")
    (outcome,) = Screening(network).screen(read_records(str(facts)), str(facts))
    assert isinstance(outcome, Rejected)
    assert [str(p) for p in outcome.problems] == [
        f"{facts}:1, patient D, fact #1, field 'value': error: first_dose: '2300-01-01' {CALENDAR}"]


def test_zero_weight_leaves_a_dose_per_kg_open(tmp_path, capsys):
    """A dose per kg divided by a weight of 0 was a DivisionByZero: now the dose is open, as
    without a weight, and says why."""
    code, out, err, trail = run(tmp_path, capsys, line(record("B", weight(value=0))))
    assert code == 0 and "B: NEEDS_REVIEW (inclusion I2 UNKNOWN)" in out
    (used,) = [f for r in trail if r["type"] == "patient" and r["patient"] == "B"
               for f in r["facts"] if f["concept"] == "glucocorticoid"]
    assert used["note"] == ("ongoing, 6 completed months; dose per kg needs a weight above 0, "
                            "not 0 kg")


# -- the file as bytes --------------------------------------------------------------------------

def test_one_invalid_byte_refuses_its_line_only(tmp_path, capsys):
    middle = line(record("B")).replace(b"rheumatology", b"rheumat\xffology")
    assert_refused(tmp_path, capsys, middle, ": error: not UTF-8 text: byte 0xff at column 369 "
                                             "(invalid start byte)")


def test_a_byte_order_mark_is_accepted(tmp_path, capsys):
    facts = tmp_path / "bom.jsonl"
    facts.write_bytes(b"\xef\xbb\xbf" + line(GOOD) + line(record("P-after")))
    assert cli.main(["run", str(SEED), str(facts)]) == 0
    assert capsys.readouterr().out == "P01-eligible: ELIGIBLE\nP-after: ELIGIBLE\n"


def test_a_byte_order_mark_before_one_json_object(tmp_path, capsys):
    facts = tmp_path / "bom.json"
    facts.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD, indent=2).encode())
    assert cli.main(["run", str(SEED), str(facts)]) == 0
    assert capsys.readouterr().out == "P01-eligible: ELIGIBLE\n"


def test_a_second_record_of_a_patient_is_refused(tmp_path, capsys):
    assert_refused(tmp_path, capsys, line(record("P01-eligible", weight(value=70))),
                   ", patient P01-eligible, field 'patient': error: patient P01-eligible is "
                   "already the record at line 1: one record per patient")


def test_line_separator_in_a_patient_id(tmp_path, capsys):
    """U+2028 is a line break to str.splitlines, not to JSON Lines: the trail verifies, and
    report and explain read it."""
    facts = tmp_path / "facts.jsonl"
    facts.write_text(json.dumps(record("P\u2028two"), ensure_ascii=False) + "\n" +
                     json.dumps(record("P\u2029three"), ensure_ascii=False) + "\n",
                     encoding="utf-8")
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), str(facts), "--trail", str(trail)]) == 0
    assert cli.main(["verify", str(trail), "--facts", str(facts)]) == 0
    assert cli.main(["report", str(trail), "-o", str(tmp_path / "r.html")]) == 0
    assert cli.main(["explain", str(trail), "--patient", "P\u2028two"]) == 0
    out = capsys.readouterr().out
    assert "report: " in out and "2 patients; trail intact" in out
    assert "patient P\u2028two (fact file line 1" in out


# -- stdin ---------------------------------------------------------------------------------------

def test_facts_from_stdin_are_hashed_as_read(tmp_path, capsys, monkeypatch):
    """The trail records the SHA-256 of the bytes read from stdin, so `verify --facts` checks
    the file that was piped in (it once recorded "stdin", and verify reported tampering)."""
    data = line(GOOD) + line(record("P-after"))
    facts = tmp_path / "facts.jsonl"
    facts.write_bytes(data)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["run", str(SEED), "-", "--trail", str(trail)]) == 0
    records = read(str(trail))
    assert records[0]["facts"] == {"file": "-"}
    assert records[-2]["facts_sha256"] == hashlib.sha256(data).hexdigest()  # the summary
    assert cli.main(["verify", str(trail), "--facts", str(facts)]) == 0
    facts.write_bytes(data.replace(b"P-after", b"P-other"))
    assert cli.main(["verify", str(trail), "--facts", str(facts)]) == 1
    assert "the facts file" in capsys.readouterr().out


def test_invalid_byte_on_stdin_refuses_its_line(tmp_path, capsys, monkeypatch):
    data = line(GOOD) + b'{"patient": "\xff"}\n' + line(record("P-after"))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert cli.main(["run", str(SEED), "-"]) == 2
    out, err = capsys.readouterr()
    assert out == "P01-eligible: ELIGIBLE\nP-after: ELIGIBLE\n"
    assert err.startswith("-:2: error: not UTF-8 text: byte 0xff at column 14 (invalid start "
                          "byte)\n3 patients in ")


def test_a_concept_with_an_invisible_character_is_named_by_its_code_point(tmp_path, capsys):
    """A zero-width space after `ecog` printed as `ecog`: the fact is set aside (a warning, the
    record decided) and the message shows the character and its code point."""
    middle = line(record("B", lambda d: d["facts"].append({"concept": "ecog\u200b"})))
    code, out, err, _ = run(tmp_path, capsys, middle)
    assert code == 0 and "B: " in out
    assert (f"{tmp_path / 'facts.jsonl'}:2, patient B, fact #51, field 'concept': warning: "
            "unknown concept 'ecog\\u200b': not declared by the protocol (it holds U+200B, which "
            "no declared name does: a lookalike or an invisible character)") in err


#: One concept read three ways: directly, as of a named day, and its lowest in a window.
READ_THRICE = """protocol "thrice" version "1"
concepts:
  visit_1: date
  crp: quantity in mg/L valid for 60 days
  crp_at_visit_1: crp at visit_1
  crp_nadir: lowest crp on or after visit_1
inclusion I1 "a": crp >= 5 mg/L
inclusion I2 "b": crp_at_visit_1 >= 5 mg/L
inclusion I3 "c": crp_nadir < 5 mg/L
"""


@pytest.mark.parametrize("bad", [-7, "abc", "< 0", {"unit": "kg"}, {"unit": ""}])
@pytest.mark.parametrize("on", ["2026-05-04", "2026-05-20"])
@pytest.mark.parametrize("used", ["I1 I2 I3", "I2", "I3", "I2 I3"])
def test_a_bad_result_is_said_whichever_way_its_concept_is_read(bad, on, used):
    """A bad result, on the named day or later, beside a good one: the record is refused with
    the fact's problem, whichever readings the protocol uses. A result said wrong once (for
    `crp`) and met again by another reading was taken as read (an internal error, exit 70)."""
    from engine.run import Rejected, Screening
    from tests.conftest import network_from_text, screen_one

    kept = [line for line in READ_THRICE.splitlines()
            if not line.startswith("inclusion") or line.split()[1] in used.split()]
    screening = Screening(network_from_text("\n".join(kept) + "\n", "thrice.proto-rules"))
    fact = {"concept": "crp", "value": 7, "unit": "mg/L", "date": on}
    fact.update(bad if isinstance(bad, dict) else {"value": bad})
    outcome = screen_one(screening, [
        {"concept": "visit_1", "value": "2026-05-04"}, fact,
        {"concept": "crp", "value": 8, "unit": "mg/L", "date": "2026-05-25"}], day="2026-06-01")
    assert isinstance(outcome, Rejected), outcome
    assert [p.fact for p in outcome.problems] == [1]


def test_a_date_concepts_day_given_as_its_date_says_where_it_goes():
    """`{"concept": "first_dose", "date": ...}`: a date concept's day is its value. Before, a
    day after screening was set aside as late (the patient left open), one before refused as
    "found null"."""
    from engine.run import Rejected, Screening
    from tests.conftest import network_from_text, screen_one

    screening = Screening(network_from_text(
        'protocol "d" version "1"\nconcepts:\n  first_dose: date\n  mi: event\n'
        'exclusion E1 "MI within 6 months before the first dose": '
        'mi within 6 months before first_dose\n', "d.proto-rules"))
    for day in ("2026-05-30", "2026-06-10"):
        outcome = screen_one(screening, [{"concept": "first_dose", "date": day},
                                         {"concept": "mi", "present": False}], day="2026-06-01")
        assert isinstance(outcome, Rejected)
        assert [(p.field, p.message) for p in outcome.problems] == [
            ("value", f'first_dose is a date: its day is the fact\'s "value" ("value": "{day}"), '
                      'not its "date"')]


def test_an_unknown_concept_is_offered_the_declared_name_it_may_be():
    from engine.run import Screening
    from tests.conftest import network_from_text, screen_one

    screening = Screening(network_from_text(
        'protocol "n" version "1"\nconcepts:\n  hscrp: quantity in mg/L\n'
        '  creatinine: quantity in mg/dL\ninclusion I1 "x": hscrp >= 5 mg/L and '
        'creatinine <= 1.5 mg/dL\n', "n.proto-rules"))
    outcome = screen_one(screening, [
        {"concept": "hsCRP", "value": 6, "unit": "mg/L", "date": "2026-05-01"},
        {"concept": "creatinin", "value": 1, "unit": "mg/dL", "date": "2026-05-01"}])
    assert [w.message for w in outcome.patient.warnings] == [
        "unknown concept 'hsCRP': not declared by the protocol; did you mean 'hscrp'? (names "
        "are lower case)",
        "unknown concept 'creatinin': not declared by the protocol; did you mean 'creatinine'?"]


@pytest.mark.parametrize("text", [
    '[{"patient": "a", "facts": []},\n {"patient": "b", "facts": []}]\n',
    '[{"patient": "a", "facts": []}, {"patient": "b", "facts": []}]\n'])
def test_a_json_array_of_patients_is_said_to_be_one(tmp_path, capsys, text):
    """A JSON array written over lines was 'not valid JSON' once a line; on one line, 'a patient
    must be a JSON object'. Either is said once: write JSON Lines."""
    facts = tmp_path / "array.json"
    facts.write_text(text, encoding="utf-8")
    assert cli.main(["run", str(SEED), str(facts), "--screening-date", "2026-06-01"]) == 2
    err = capsys.readouterr().err
    assert f"{facts}:1: error: a JSON array of 2 values, not a patient: a fact file holds one " \
           "patient object, or one per line (JSON Lines: no brackets or commas between them)" \
        in err
    assert "not valid JSON" not in err


@pytest.mark.parametrize("unit, said", [
    ("G/DL", "hemoglobin: unit 'G/DL' is not g/dL: units are case-sensitive (M is mega, m "
             "milli): write g/dL"),
    ("IU/L", "alt: cannot convert IU/L (international_unit / length ** 3) to U/L "
             "(enzyme_activity / length ** 3); pint keeps IU apart from U: if the laboratory's "
             "IU/L is U/L, the protocol says so: 'unit \"IU/L\" means U/L'"),
])
def test_a_unit_that_does_not_convert_says_what_it_may_have_meant(unit, said):
    from engine.run import Rejected, Screening
    from tests.conftest import network_from_text, screen_one

    screening = Screening(network_from_text(
        'protocol "u" version "1"\nconcepts:\n  hemoglobin: quantity in g/dL\n'
        '  alt: quantity in U/L\ninclusion I1 "x": hemoglobin >= 9 g/dL and alt <= 100 U/L\n',
        "u.proto-rules"))
    concept = "hemoglobin" if unit == "G/DL" else "alt"
    outcome = screen_one(screening, [
        {"concept": concept, "value": 10, "unit": unit, "date": "2026-05-01"}])
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == [said]


def test_a_bound_and_a_comparator_that_disagree_are_refused():
    """`"value": "< 2", "comparator": ">"` read the value's bound and dropped the comparator."""
    from engine.run import Decision, Rejected, Screening
    from tests.conftest import network_from_text, screen_one

    screening = Screening(network_from_text(
        'protocol "c" version "1"\nconcepts:\n  egfr: quantity in mL/min\n'
        'inclusion I1 "eGFR >= 30 mL/min": egfr >= 30 mL/min\n', "c.proto-rules"))

    def given(comparator: str) -> Decision | Rejected:
        return screen_one(screening, [{"concept": "egfr", "value": "< 2", "unit": "mL/min",
                                       "comparator": comparator, "date": "2026-05-01"}])
    refused = given(">")
    assert isinstance(refused, Rejected)
    assert [(p.field, p.message) for p in refused.problems] == [
        ("comparator", 'egfr: the value "< 2" and the comparator ">" disagree: give the bound '
                       "once, in one of them")]
    assert given("<").verdicts["I1"].verdict == "NOT_MET"


def test_a_fact_read_as_of_a_day_is_said_wrong_in_its_own_concepts_name():
    """A bad `lvef` fact read only as `lvef_at_randomisation` was said of the reading, a name no
    fact gives."""
    from engine.run import Rejected, Screening
    from tests.conftest import network_from_text, screen_one

    screening = Screening(network_from_text(
        'protocol "r" version "1"\nconcepts:\n  randomisation: date\n  lvef: quantity in %\n'
        '  lvef_at_randomisation: lvef at randomisation valid for 28 days\n'
        'inclusion I1 "LVEF >= 50%": lvef_at_randomisation >= 50 %\n', "r.proto-rules"))
    outcome = screen_one(screening, [{"concept": "randomisation", "value": "2026-06-08"},
                                     {"concept": "lvef", "value": 55, "date": "2026-05-20"}])
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == ["'lvef' is measured in %: give a unit"]


@pytest.mark.parametrize("other_day", ["2026-05-20", "2026-05-21", "2026-05-19"])
def test_a_value_not_of_the_concept_is_refused_whichever_fact_gives_it(other_day):
    """A data team's registry: "bogus" beside a valid value of its day read as two values
    disagreeing (a warning, the concept unknown); dated earlier than a valid one, it was not
    read at all. A flag likewise."""
    from engine.run import Rejected, Screening
    from tests.conftest import network_from_text, screen_one

    screening = Screening(network_from_text(
        'protocol "c" version "1"\nconcepts:\n  activity: category {mild, severe}\n'
        '  smoker: flag\ninclusion I1 "x": activity is severe and not smoker\n', "c.proto-rules"))
    for concept, good, bad, said in (
            ("activity", "mild", "bogus", 'activity must be one of {mild, severe}, found "bogus"'),
            ("smoker", False, "no", 'smoker is yes/no: expected true or false, found "no"')):
        outcome = screen_one(screening, [
            {"concept": concept, "value": good, "date": "2026-05-20"},
            {"concept": concept, "value": bad, "date": other_day}])
        assert isinstance(outcome, Rejected)
        assert [(p.fact, p.message) for p in outcome.problems] == [(1, said)]


def test_a_blank_patient_id_is_said_once_and_never_a_duplicate(tmp_path, capsys):
    """A data team's registry: a blank id drew the schema's "'' should be non-empty" beside the
    id's own message, and a second blank id was "already the record at line 1"."""
    facts = tmp_path / "ids.jsonl"
    facts.write_text('{"patient": "", "screening_date": "2026-06-01", "facts": []}\n' * 2,
                     encoding="utf-8")
    assert cli.main(["run", str(SEED), str(facts)]) == 2
    err = capsys.readouterr().err
    assert [line.split(": error: ")[1] for line in err.splitlines() if ": error: " in line] == \
        ["the patient id is blank"] * 2


def test_a_line_cut_short_is_said_without_a_doubled_word(tmp_path, capsys):
    facts = tmp_path / "cut.jsonl"
    facts.write_text('{"patient": "x", "facts": [{"concept": "a\n', encoding="utf-8")
    assert cli.main(["run", str(SEED), str(facts)]) == 2
    assert f"{facts}:1: error: not valid JSON: Unterminated string starting at column 40" in \
        capsys.readouterr().err
