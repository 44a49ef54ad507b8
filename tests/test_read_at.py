"""A value read as of a named day: `uacr_at_visit_1: uacr at visit_1` ("UACR ... at visit 1",
DAPA-CKD I4). It is a concept of the kind, unit and values of the one it reads, whose facts it
takes: a result of that day, or with `valid for N` the most recent within N before it; later
results, which the concept itself reads, do not count for it."""

from __future__ import annotations

import json

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Decision, Rejected, Screening
from grammar.layout import format_text
from grammar.parser import parse
from grammar.readings import READ_DEPTH
from lsp.features import analyse, hover
from protocol.amend.diff import diff
from protocol.checks import check
from protocol.errors import ProtocolError
from protocol.model import Kind
from protocol.model import formula_names as m_formula_names_of
from tests.conftest import as_read, boundary_cases, network_from_text, run_cli, screen_one

PROTOCOL = """protocol "r" version "1"
concepts:
    visit_1: date "date of visit 1"
    uacr: lab in mg/g convert 1 mg/mmol = 8.84 mg/g valid for 28 days
    serum_uacr: lab in mg/g counts as uacr
    uacr_at_visit_1: uacr at visit_1 "UACR at visit 1"
    creatinine: lab in mg/dL
    creatinine_at_visit_1: creatinine at visit_1 valid for 7 days
    doubled: derived in mg/dL = 2 x creatinine_at_visit_1 in mg/dL
inclusion I1 "UACR 200 to 5000 mg/g at visit 1": uacr_at_visit_1 200 to 5000 mg/g
inclusion I2 "Creatinine < 2 mg/dL at visit 1": creatinine_at_visit_1 < 2 mg/dL
inclusion I3 "UACR >= 30 mg/g": uacr >= 30 mg/g
inclusion I4 "Twice the creatinine at visit 1 < 3 mg/dL": doubled < 3 mg/dL
"""

VISIT = {"concept": "visit_1", "value": "2026-05-18"}


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "r.proto-rules"))


def decide(screening: Screening, *facts: dict[str, Any], unknown: dict | None = None
           ) -> Decision:
    if unknown is None:
        outcome = screen_one(screening, facts, day="2026-06-01", path="r.jsonl")
    else:
        data = {"patient": "p", "screening_date": "2026-06-01", "facts": list(facts),
                "unknown": unknown}
        (outcome,) = screening.screen([(1, as_read(data))], "r.jsonl")
    assert isinstance(outcome, Decision), outcome
    return outcome


def uacr(value: Any, day: str, unit: str = "mg/g", concept: str = "uacr") -> dict[str, Any]:
    return {"concept": concept, "value": value, "unit": unit, "date": day}


def verdict(outcome: Decision, criterion: str) -> str:
    return outcome.verdicts[criterion].verdict


def test_a_reading_is_the_concept_it_reads_under_its_own_name():
    protocol = parse(PROTOCOL, "r.proto-rules")
    concepts = {c.name: c for c in protocol.concepts}
    read, base = concepts["uacr_at_visit_1"], concepts["uacr"]
    assert (read.kind, read.unit, read.conversions) == (Kind.LAB, "mg/g", base.conversions)
    assert (read.reads.name, read.at.name, read.label) == ("uacr", "visit_1", "UACR at visit 1")
    # its validity is its own: none is a result of that day (uacr's 28 days count from screening)
    assert read.valid_for is None and read.counts_as is None
    assert str(concepts["creatinine_at_visit_1"].valid_for) == "7 days"
    assert not [d for d in check(protocol) if d.code.startswith("unused")]


def test_the_result_of_that_day_counts_not_a_later_one(screening):
    outcome = decide(screening, VISIT, uacr(950, "2026-05-18"), uacr(10, "2026-05-25"))
    assert verdict(outcome, "I1") == "MET"  # 950, of visit 1's day
    assert verdict(outcome, "I3") == "NOT_MET"  # uacr itself: the latest, 10
    (used,) = outcome.patient.used["uacr_at_visit_1"]
    assert (used.value, used.date) == (950, "2026-05-18")
    assert used.note.endswith("recorded as uacr")


@pytest.mark.parametrize("facts, reason", [
    ([VISIT, uacr(950, "2026-05-17")],
     "no uacr of visit_1's day (2026-05-18): the latest by then is from 2026-05-17"),
    ([VISIT, uacr(950, "2026-05-20")], "no uacr on or before visit_1 (2026-05-18)"),
    ([VISIT], "no uacr given"),
    ([uacr(950, "2026-05-18")], "no usable visit_1 to read it at (no fact given)"),
])
def test_without_a_result_of_that_day_it_is_unknown_saying_why(screening, facts, reason):
    outcome = decide(screening, *facts)
    assert verdict(outcome, "I1") == "UNKNOWN"
    assert outcome.patient.unusable["uacr_at_visit_1"] == reason


@pytest.mark.parametrize("day, expected", [("2026-05-18", "MET"), ("2026-05-11", "MET"),
                                           ("2026-05-10", "UNKNOWN")])
def test_valid_for_counts_back_from_that_day(screening, day, expected):
    outcome = decide(screening, VISIT, {"concept": "creatinine", "value": 1.2, "unit": "mg/dL",
                                        "date": day})
    assert verdict(outcome, "I2") == expected
    assert verdict(outcome, "I4") == expected  # a formula reads the reading as any value
    if expected == "UNKNOWN":
        assert outcome.patient.unusable["creatinine_at_visit_1"] == (
            "stale: latest creatinine by visit_1 (2026-05-18) is from 2026-05-10, before "
            "2026-05-11 (valid for 7 days before visit_1)")


@pytest.mark.parametrize("fact, expected", [
    (uacr(22.63, "2026-05-18", "mg/mmol"), "MET"),  # 200.0492 mg/g, through uacr's convert
    (uacr(22.62, "2026-05-18", "mg/mmol"), "NOT_MET"),  # 199.9608 mg/g
    (uacr("< 150", "2026-05-18"), "NOT_MET"),  # every value it may be is under 200
    (uacr("< 300", "2026-05-18"), "UNKNOWN"),  # it may be under 200 or not
    (uacr(500, "2026-05-18", concept="serum_uacr"), "MET"),  # counts as uacr, so read too
])
def test_it_reads_the_facts_as_the_concept_does(screening, fact, expected):
    assert verdict(decide(screening, VISIT, fact), "I1") == expected


def test_a_source_that_withholds_the_concept_withholds_its_reading(screening):
    outcome = decide(screening, VISIT, uacr(950, "2026-05-18"),
                     unknown={"uacr": "the laboratory withdrew the result"})
    assert verdict(outcome, "I1") == "UNKNOWN"
    assert outcome.patient.unusable["uacr_at_visit_1"] == "the laboratory withdrew the result"


def test_a_fact_naming_the_reading_is_set_aside(screening):
    outcome = decide(screening, VISIT, uacr(950, "2026-05-18", concept="uacr_at_visit_1"))
    assert verdict(outcome, "I1") == "UNKNOWN"
    (warning,) = outcome.patient.warnings
    assert warning.message == ("'uacr_at_visit_1' is uacr read at visit_1: give uacr's results; "
                               "this fact is set aside")


def test_an_age_read_only_by_a_formula_has_its_day():
    """The day an age is counted at was asked for only when a condition read the age itself."""
    screening = Screening(network_from_text(
        'protocol "a" version "1"\nconcepts:\n    visit_1: date\n    age_v1: age at visit_1\n'
        '    years_v1: derived in years = age_v1 in years\n'
        'inclusion I1 "Aged 18 years or over at visit 1": years_v1 >= 18 years\n'))
    outcome = screen_one(screening, [VISIT], day="2026-06-01", birth_date="2008-05-19")
    assert isinstance(outcome, Decision) and verdict(outcome, "I1") == "NOT_MET"  # 17 on 05-18


@pytest.mark.parametrize("declaration, message, column", [
    ("uacr_v1: uacre at visit_1", "'uacr_v1' reads 'uacre', which is not declared; did you "
     "mean 'uacr'?", 14),
    ("bleed_v1: bleed at visit_1", "'bleed_v1' reads 'bleed' at visit_1, but 'bleed' is an "
     "event: compare it in a window: 'within ... before visit_1'", 15),
    ("scaled_v1: scaled at visit_1", "'scaled_v1' reads 'scaled' at visit_1, but a condition "
     "of its formula (line 8) reads 'uacr', a lab: read 'uacr' at visit_1 there, and derive "
     "from it", 16),
    ("again_v1: again at visit_1", "'again_v1' reads 'again' at visit_1, whose formula reads "
     "'uacr_v0', read at visit_1 already: derive 'again_v1' from inputs not read at a day", 15),
    ("old_v1: old at visit_1", "but 'old' is an age: declare 'old_v1: age at visit_1'", 13),
    ("again: uacr_v0 at visit_1", "'again' reads 'uacr_v0', which is 'uacr' read at visit_1 "
     "already: read 'uacr' at visit_1", 12),
])
def test_what_cannot_be_read_at_a_day_is_refused_where_it_is_written(declaration, message,
                                                                       column):
    text = ('protocol "r" version "1"\nconcepts:\n    visit_1: date\n    uacr: lab in mg/g\n'
            '    bleed: event\n    old: age\n'
            '    again: derived in mg/g = 2 x uacr_v0\n'
            '    scaled: derived in mg/g = (2 if uacr > 3 mg/g else 1) x uacr\n'
            '    uacr_v0: uacr at visit_1\n'
            f'    {declaration}\ninclusion I1 "x": uacr_v0 > 1 mg/g\n')
    with pytest.raises(ProtocolError) as raised:
        parse(text, "r.proto-rules")
    (diagnostic,) = raised.value.diagnostics
    assert message in diagnostic.message
    assert (diagnostic.span.line, diagnostic.span.column) == (10, column)


@pytest.mark.parametrize("change, code, words", [
    ("    visit_1: flag\n", "day", "'uacr_v1' is read at the day of 'visit_1', which must be a "
     "date concept (declare it 'visit_1: date'); 'visit_1' is a flag"),
    ("    visit_1: date\n    serum: lab in mg/g counts as uacr_v1\n", "counts-as",
     "which is 'uacr' read at visit_1: count it as 'uacr'"),
])
def test_check_names_a_day_that_is_not_a_date_and_counting_as_a_reading(change, code, words):
    text = ('protocol "r" version "1"\nconcepts:\n' + change + '    uacr: lab in mg/g\n'
            '    uacr_v1: uacr at visit_1\ninclusion I1 "x": uacr_v1 > 1 mg/g\n')
    errors = [d for d in check(parse(text, "r.proto-rules")) if d.is_error]
    assert [d.code for d in errors] == [code]
    assert words in errors[0].message


def test_fmt_hover_and_diff_know_a_reading():
    messy = PROTOCOL.replace("    uacr_at_visit_1: uacr at visit_1",
                             "        uacr_at_visit_1 :  uacr   at visit_1")
    assert format_text(messy) == PROTOCOL
    analysis = analyse(PROTOCOL, "r.proto-rules")
    line = PROTOCOL.splitlines().index('    uacr_at_visit_1: uacr at visit_1 "UACR at visit 1"')
    value = hover(analysis, line, 6).contents.value
    assert "reads: uacr, as of visit_1  \na result of visit_1's day" in value
    changed = PROTOCOL.replace('    visit_1: date "date of visit 1"\n',
                               '    visit_1: date "date of visit 1"\n    visit_2: date\n')
    changed = changed.replace("uacr_at_visit_1: uacr at visit_1", "uacr_at_visit_1: uacr at "
                              "visit_2")
    found = diff(parse(PROTOCOL, "r.proto-rules"), parse(changed, "r2.proto-rules"))
    (entry,) = [e for e in found.entries if e.name == "uacr_at_visit_1"]
    assert [(c.kind, c.old, c.new) for c in entry.changes] == [
        ("day", "uacr at visit_1", "uacr at visit_2")]
    assert entry.affects == ("I1",)


def test_boundary_cases_give_the_result_on_that_day(tmp_path, capsys):
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-06-01", "facts": [
            VISIT, uacr(950, "2026-05-18"), uacr(40, "2026-05-30"),
            {"concept": "creatinine", "value": 1.2, "unit": "mg/dL", "date": "2026-05-15"}]})
    assert '{"concept": "uacr", "value": 199.999999, "unit": "mg/g", "date": "2026-05-18"}' in text
    assert 'remove: ["creatinine"]' in text
    cases = {block.split("\n", 1)[0]: block for block in text.split("\n  - name: ")[1:]}
    # the result's age: of visit 1's day only; back 7 days; uacr itself 28 days before screening
    for name, verdict in (
            ("uacr_at_visit_1 200 mg/g dated 2026-05-17: a day too old, uacr_at_visit_1 200 to "
             "5000 mg/g", "I1: UNKNOWN"),
            ("creatinine_at_visit_1 2 mg/dL dated 2026-05-11: the oldest day it counts, "
             "creatinine_at_visit_1 < 2 mg/dL", "I2: NOT_MET"),
            ("creatinine_at_visit_1 2 mg/dL dated 2026-05-10: a day too old, "
             "creatinine_at_visit_1 < 2 mg/dL", "I2: UNKNOWN"),
            ("uacr 30 mg/g dated 2026-05-04: the oldest day it counts, uacr >= 30 mg/g",
             "I3: MET"),
            ("uacr 30 mg/g dated 2026-05-03: a day too old, uacr >= 30 mg/g", "I3: UNKNOWN")):
        assert f"expect: {{verdicts: {{{verdict}" in cases[json.dumps(name)], name
    # a reading's result of its day is what the threshold's own cases give: not written twice
    assert not any("uacr_at_visit_1 200 mg/g dated 2026-05-18" in name for name in cases)


def test_boundary_cases_of_a_day_after_screening_are_dated_by_screening(tmp_path, capsys):
    """`lvef_r: lvef at randomisation valid for 28 days`, randomised after screening: a result
    dated on that day would be set aside (its cases failed their own test); one on the
    screening date is read, within the 28 days counted back from randomisation."""
    protocol = ('protocol "r" version "1"\nconcepts:\n  randomisation: date\n'
                '  lvef: quantity in %\n  lvef_r: lvef at randomisation valid for 28 days\n'
                'inclusion I1 "LVEF >= 50% within 28 days before randomization": lvef_r >= 50 %\n')
    text, said = boundary_cases(capsys, tmp_path, protocol, {
        "patient": "B", "screening_date": "2026-06-01", "facts": [
            {"concept": "randomisation", "value": "2026-06-10"},
            {"concept": "lvef", "value": 58, "unit": "%", "date": "2026-05-20"}]})
    assert '{"concept": "lvef", "value": 50, "unit": "%", "date": "2026-06-01"}' in text
    assert "dated 2026-05-13: the oldest day it counts" in text
    assert "6 boundary cases" in said


DAY = date(2026, 5, 18)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-10, 4), st.integers(150, 250)), max_size=3,
                unique_by=lambda fact: fact[0]))
def test_the_reading_is_the_latest_result_within_its_days(screening, results):
    """Results on random days around visit 1: creatinine_at_visit_1 (valid for 7 days) reads the
    most recent on or before visit 1 and no older than 7 days; I2 is `< 2 mg/dL`, the values
    1.50 to 2.50."""
    facts = [VISIT] + [{"concept": "creatinine", "value": value / 100, "unit": "mg/dL",
                        "date": (DAY + timedelta(days=offset)).isoformat()}
                       for offset, value in results]
    by_then = [(offset, value) for offset, value in results if offset <= 0]
    latest = max(by_then, default=None)
    expected = "UNKNOWN" if latest is None or latest[0] < -7 else \
        "MET" if latest[1] < 200 else "NOT_MET"
    assert verdict(decide(screening, *facts), "I2") == expected


def test_a_fhir_map_names_the_concept_read(tmp_path, capsys):
    protocol = tmp_path / "r.proto-rules"
    protocol.write_text(PROTOCOL.replace('version "1"\n', 'version "1"\nmap "r.fhir-map.yaml"\n'),
                        encoding="utf-8")
    (tmp_path / "r.fhir-map.yaml").write_text(
        "systems: {loinc: http://loinc.org}\nconcepts:\n  uacr_at_visit_1: loinc 9318-7\n",
        encoding="utf-8")
    code, _, err = run_cli(capsys, "check", str(protocol))
    assert code == 2
    assert "r.fhir-map.yaml:3:3: error: 'uacr_at_visit_1' is uacr read at visit_1 (map uacr): " \
        "a map names concepts facts are given for" in err


@pytest.mark.parametrize("fact, message", [
    ({"concept": "black", "value": True}, "'black_v1' is read at visit_1: each fact needs a date"),
    ({"concept": "crp", "value": 5, "unit": "mg/L"}, "'crp' is a lab: each fact needs a date"),
])
def test_a_fact_without_a_date_is_refused_saying_why(fact, message):
    screening = Screening(network_from_text(
        'protocol "u" version "1"\nconcepts:\n    visit_1: date\n    crp: lab in mg/L\n'
        '    black: flag\n    black_v1: black at visit_1\n'
        'inclusion I1 "CRP < 10 mg/L": crp < 10 mg/L\ninclusion I2 "Black at visit 1": black_v1\n'))
    outcome = screen_one(screening, [VISIT, fact], day="2026-06-01")
    assert isinstance(outcome, Rejected)
    assert [(p.field, p.message) for p in outcome.problems] == [("date", message)]


# -- a derived value read at a day -------------------------------------------------------------

DERIVED = """protocol "d" version "1"
concepts:
    visit_1: date "date of visit 1"
    creatinine: lab in mg/dL
    sex: category {female, male}
    age: age
    doubled: derived in mg/dL = 2 x (creatinine in mg/dL) x (1 if sex is female else 1)
    aged: derived in mg/dL = (doubled in mg/dL) + (age in years) / 100
    doubled_v1: doubled at visit_1 "twice the creatinine at visit 1"
    aged_v1: aged at visit_1
inclusion I1 "Twice the creatinine < 3 mg/dL at visit 1": doubled_v1 < 3 mg/dL
inclusion I2 "Aged < 3.5 mg/dL at visit 1": aged_v1 < 3.5 mg/dL
inclusion I3 "Twice the creatinine < 3 mg/dL": doubled < 3 mg/dL
"""


def m_formula_names(concept) -> list[str]:
    return m_formula_names_of(concept.formula)


def creatinine(value: Any, day: str) -> dict[str, Any]:
    return {"concept": "creatinine", "value": value, "unit": "mg/dL", "date": day}


def test_a_derived_value_read_at_a_day_reads_its_inputs_at_that_day():
    """Its formula over each input read at the day: the measured ones as readings of their own
    (`creatinine_at_visit_1`), an age as the age that day, a derived input read at the day in
    turn, a category as it is; the value itself, as of screening, reads the latest."""
    protocol = parse(DERIVED, "d.proto-rules")
    concepts = {c.name: c for c in protocol.concepts}
    assert m_formula_names(concepts["aged_v1"]) == ["doubled_at_visit_1", "age_at_visit_1"]
    assert m_formula_names(concepts["doubled_at_visit_1"]) == ["creatinine_at_visit_1", "sex"]
    assert concepts["creatinine_at_visit_1"].reads.name == "creatinine"
    assert concepts["age_at_visit_1"].at.name == "visit_1"
    assert concepts["doubled_v1"].formula_of.name == "doubled"
    assert concepts["doubled_v1"].label == "twice the creatinine at visit 1"
    assert [d.code for d in check(protocol)] == []  # no base left unused, no input unknown
    screening = Screening(network_from_text(DERIVED, "d.proto-rules"))
    born = {"birth_date": "1976-01-01"}  # 50 years old on visit 1: + 0.5
    outcome = screen_one(screening, [{"concept": "visit_1", "value": "2026-05-18"},
                                     {"concept": "sex", "value": "female"},
                                     creatinine(1.4, "2026-05-18"), creatinine(1.6, "2026-05-30")],
                         day="2026-06-01", path="d.jsonl", **born)
    assert [verdict(outcome, c) for c in ("I1", "I2", "I3")] == ["MET", "MET", "NOT_MET"]
    assert outcome.verdicts["I2"].verdict == "MET"  # 2.8 + 0.5 = 3.3 < 3.5
    late = screen_one(screening, [{"concept": "visit_1", "value": "2026-05-18"},
                                  {"concept": "sex", "value": "female"},
                                  creatinine(1.4, "2026-05-17")],
                      day="2026-06-01", path="d.jsonl", **born)
    assert [verdict(late, c) for c in ("I1", "I2", "I3")] == ["UNKNOWN", "UNKNOWN", "MET"]


def test_its_trail_says_the_formula_with_the_inputs_it_reads(tmp_path, capsys):
    protocol, facts, trail = (tmp_path / "d.proto-rules", tmp_path / "d.jsonl",
                              tmp_path / "t.jsonl")
    protocol.write_text(DERIVED, encoding="utf-8")
    facts.write_text(json.dumps({"patient": "p", "screening_date": "2026-06-01", "facts": [
        {"concept": "visit_1", "value": "2026-05-18"}, {"concept": "sex", "value": "male"},
        creatinine(1.7, "2026-05-10")]}) + "\n", encoding="utf-8")
    assert run_cli(capsys, "run", str(protocol), str(facts), "--trail", str(trail))[0] == 0
    code, said, _ = run_cli(capsys, "explain", str(trail))
    assert code == 0
    assert "derived doubled_v1 in mg/dL = 2 x (creatinine_at_visit_1 in mg/dL) x (1 if sex is " \
           "female else 1)" in said
    assert "derived doubled in mg/dL = 2 x (creatinine in mg/dL)" in said
    assert "creatinine_at_visit_1: no creatinine of visit_1's day (2026-05-18): the latest by " \
           "then is from 2026-05-10" in said


@pytest.mark.parametrize("more, message", [
    ("    creatinine_at_visit_1: creatinine at visit_1 valid for 3 days\n",
     "'doubled_v1' reads 'creatinine' at visit_1 as 'creatinine_at_visit_1', but "
     "'creatinine_at_visit_1' is declared as valid for 3 days (line 11): declare it as "
     "'creatinine_at_visit_1: creatinine at visit_1'"),
    ("    creatinine_at_visit_1: flag\n",
     "'creatinine_at_visit_1' is declared as something else (line 11)"),
    ("    creatinine_at_visit_1: creatinine at visit_1\n    late: doubled at visit_1 valid for 7 "
     "days\n", "'late' reads 'creatinine' at visit_1 valid for 7 days as 'creatinine_at_visit_1', "
     "which another derived value read at visit_1 reads of that day only: read them with one "
     "validity"),
    ("    late: aged at visit_1 valid for 7 days\n",
     "'late' reads 'doubled' at visit_1 valid for 7 days as 'doubled_at_visit_1', which another "
     "derived value read at visit_1 reads of that day only: read them with one validity"),
])
def test_a_name_its_inputs_would_take_is_refused_when_it_means_otherwise(more, message):
    text = DERIVED.replace("inclusion I1", more + "inclusion I1", 1)
    with pytest.raises(ProtocolError) as raised:
        parse(text, "d.proto-rules")
    assert message in raised.value.diagnostics[0].message


def test_the_file_s_own_reading_of_another_validity_is_refused_saying_which():
    text = DERIVED.replace("doubled_v1: doubled at visit_1", "doubled_v1: doubled at visit_1 "
                           "valid for 7 days").replace("    aged_v1: aged at visit_1\n", "")
    text = text.replace("inclusion I1", "    creatinine_at_visit_1: creatinine at visit_1\n"
                        "inclusion I1", 1).replace("inclusion I2", "# I2", 1)
    with pytest.raises(ProtocolError) as raised:
        parse(text, "d.proto-rules")
    assert raised.value.diagnostics[0].message == (
        "'doubled_v1' reads 'creatinine' at visit_1 valid for 7 days as 'creatinine_at_visit_1', "
        "but 'creatinine_at_visit_1' is declared as of that day only (line 10): declare it as "
        "'creatinine_at_visit_1: creatinine at visit_1 valid for 7 days'")


def test_the_file_s_own_reading_of_an_input_is_the_one_read():
    """DAPA-CKD declares `creatinine_at_visit_1` and `age_at_visit_1`: a derived value read at
    visit 1 reads those, and makes none of its own."""
    text = DERIVED.replace("inclusion I1", "    creatinine_at_visit_1: creatinine at visit_1 "
                           '"serum creatinine at visit 1"\n    age_at_visit_1: age at visit_1\n'
                           "inclusion I1", 1)
    concepts = [c.name for c in parse(text, "d.proto-rules").concepts]
    assert concepts.count("creatinine_at_visit_1") == concepts.count("age_at_visit_1") == 1
    assert concepts[-1] == "doubled_at_visit_1"  # the one made: aged_v1's derived input


def test_hover_and_fmt_know_a_derived_value_read_at_a_day():
    line = DERIVED.splitlines().index('    doubled_v1: doubled at visit_1 "twice the creatinine '
                                      'at visit 1"')
    value = hover(analyse(DERIVED, "d.proto-rules"), line, 6).contents.value
    assert "doubled's formula, reading creatinine_at_visit_1, sex" in value
    assert format_text(DERIVED) == DERIVED


@pytest.fixture(scope="module")
def derived_screening() -> Screening:
    return Screening(network_from_text(DERIVED, "d.proto-rules"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-10, 4), st.integers(120, 180)), max_size=3,
                unique_by=lambda fact: fact[0]))
def test_a_derived_value_at_a_day_is_its_formula_over_that_day_s_results(derived_screening,
                                                                         results):
    """Creatinine results on random days around visit 1: doubled_v1 (2 x creatinine at visit 1,
    `< 3 mg/dL`) is decided from the result of visit 1's day only, whatever comes before or
    after it; I3 (doubled, as of screening) from the latest."""
    facts = [{"concept": "visit_1", "value": DAY.isoformat()}, {"concept": "sex", "value": "male"}]
    facts += [creatinine(value / 100, (DAY + timedelta(days=offset)).isoformat())
              for offset, value in results]
    outcome = screen_one(derived_screening, facts, day="2026-06-01", path="d.jsonl")
    that_day = dict(results).get(0)
    assert verdict(outcome, "I1") == ("UNKNOWN" if that_day is None else
                                      "MET" if 2 * that_day < 300 else "NOT_MET")
    latest = max(results, default=None)
    assert verdict(outcome, "I3") == ("UNKNOWN" if latest is None else
                                      "MET" if 2 * latest[1] < 300 else "NOT_MET")


def test_diff_says_the_inputs_read_at_the_new_day():
    changed = DERIVED.replace('    visit_1: date "date of visit 1"\n',
                              '    visit_1: date "date of visit 1"\n    visit_2: date\n')
    changed = changed.replace("doubled_v1: doubled at visit_1", "doubled_v1: doubled at visit_2")
    found = diff(parse(DERIVED, "d.proto-rules"), parse(changed, "d2.proto-rules"))
    (entry,) = [e for e in found.entries if e.name == "doubled_v1"]
    assert [(c.kind, c.old, c.new) for c in entry.changes] == [(
        "formula", "2 x (creatinine_at_visit_1 in mg/dL) x (1 if sex is female else 1)",
        "2 x (creatinine_at_visit_2 in mg/dL) x (1 if sex is female else 1)")]
    assert entry.affects == ("I1",)


def chained(depth: int) -> str:
    """A derived value `depth` derived values deep over creatinine, read at visit 1."""
    lines = ['protocol "deep" version "1"', "concepts:", "    visit_1: date",
             "    creatinine: lab in mg/dL", "    d1: derived in mg/dL = creatinine x 1"]
    lines += [f"    d{i}: derived in mg/dL = d{i - 1} x 1" for i in range(2, depth + 1)]
    lines += [f"    last_v1: d{depth} at visit_1", 'inclusion I1 "x": last_v1 < 3 mg/dL']
    return "\n".join(lines) + "\n"


def test_derived_inputs_read_at_a_day_nest_at_most_16_deep():
    screening = Screening(network_from_text(chained(READ_DEPTH), "deep.proto-rules"))
    outcome = screen_one(screening, [{"concept": "visit_1", "value": "2026-05-18"},
                                     creatinine(2.9, "2026-05-18"), creatinine(3.1, "2026-05-30")],
                         day="2026-06-01", path="deep.jsonl")
    assert verdict(outcome, "I1") == "MET"
    with pytest.raises(ProtocolError) as raised:  # was a RecursionError, an internal error
        parse(chained(READ_DEPTH + 1), "deep.proto-rules")
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message == (
        "'last_v1' reads 'd17' at visit_1, whose derived inputs nest deeper than 16 (d17 -> d16 "
        "-> d15 -> ...): read its measured inputs at visit_1 and derive from them")
    assert diagnostic.span.line == READ_DEPTH + 1 + 5


def test_a_cycle_read_at_a_day_is_refused_saying_it():
    text = ('protocol "c" version "1"\nconcepts:\n    visit_1: date\n'
            "    a: derived in mg/dL = 2 x b\n    b: derived in mg/dL = 2 x a\n"
            '    a_v1: a at visit_1\ninclusion I1 "x": a_v1 < 3 mg/dL\n')
    with pytest.raises(ProtocolError) as raised:
        parse(text, "c.proto-rules")
    assert raised.value.diagnostics[0].message == "'a' is derived from itself: a -> b -> a"
