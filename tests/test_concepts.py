"""Declarations that change how facts are read: a narrower concept that `counts as` a broader one
(one recorded result used by several criteria), and unit spellings a protocol declares."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Decision, Rejected, Screening
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import (as_read, assert_trail_agrees, load_errors, network_from_text,
                            screen_one)

PROTOCOL = """protocol "c" version "1"
unit "K/uL" means 10^3/uL
concepts:
  pregnancy_test: category {negative, positive} valid for 28 days
  blood_pregnancy_test: category {negative, positive} valid for 28 days counts as pregnancy_test
  anc: lab in 10^9/L
inclusion I1 "Negative pregnancy test": pregnancy_test is negative
exclusion E1 "Positive blood pregnancy test": blood_pregnancy_test is positive
inclusion I2 "ANC >= 1.5": anc >= 1.5 x10^9/L
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "c.proto-rules"))


def decide(screening: Screening, *facts: dict[str, Any]) -> Decision | Rejected:
    return screen_one(screening, facts, day="2026-06-01", path="c.jsonl")


def test_a_blood_test_is_also_a_pregnancy_test(screening):
    outcome = decide(screening, {"concept": "blood_pregnancy_test", "value": "negative",
                                 "date": "2026-05-20"})
    assert isinstance(outcome, Decision)
    assert (outcome.verdicts["I1"].verdict, outcome.verdicts["E1"].verdict) == ("MET", "NOT_MET")
    (used,) = outcome.patient.used["pregnancy_test"]
    assert used.note == "recorded as blood_pregnancy_test"


def test_the_latest_of_either_counts(screening):
    outcome = decide(screening,
                     {"concept": "pregnancy_test", "value": "negative", "date": "2026-05-20"},
                     {"concept": "blood_pregnancy_test", "value": "positive", "date": "2026-05-25"})
    assert isinstance(outcome, Decision)
    assert (outcome.verdicts["I1"].verdict, outcome.verdicts["E1"].verdict) == (
        "NOT_MET", "MET")



def test_two_tests_of_one_day_that_agree_count_as_one_result(screening):
    outcome = decide(screening,
                     {"concept": "pregnancy_test", "value": "negative", "date": "2026-05-25"},
                     {"concept": "blood_pregnancy_test", "value": "Negative", "date": "2026-05-25"})
    assert isinstance(outcome, Decision)
    assert (outcome.verdicts["I1"].verdict, outcome.verdicts["E1"].verdict) == ("MET", "NOT_MET")


def test_two_tests_of_one_day_that_disagree_leave_the_broader_concept_unknown(screening):
    """A urine test negative and a blood test positive on the same day: both are recorded
    results (the record is not wrong), but which one "a pregnancy test" means is not known."""
    outcome = decide(screening,
                     {"concept": "pregnancy_test", "value": "negative", "date": "2026-05-25"},
                     {"concept": "blood_pregnancy_test", "value": "positive", "date": "2026-05-25"})
    assert isinstance(outcome, Decision)
    assert (outcome.verdicts["I1"].verdict, outcome.verdicts["E1"].verdict) == ("UNKNOWN", "MET")
    assert outcome.patient.unusable["pregnancy_test"] == (
        "pregnancy_test (fact #1) and blood_pregnancy_test (fact #2) disagree on 2026-05-25")


def test_a_urine_test_is_not_a_blood_test(screening):
    outcome = decide(screening, {"concept": "pregnancy_test", "value": "positive",
                                 "date": "2026-05-20"})
    assert isinstance(outcome, Decision)
    assert (outcome.verdicts["I1"].verdict, outcome.verdicts["E1"].verdict) == (
        "NOT_MET", "UNKNOWN")


@pytest.mark.parametrize("value, unit, verdict", [
    (1.5, "K/uL", "MET"), (1.4, "K/uL", "NOT_MET"), (1.5, "K/µL", "MET"), (1500, "/uL", "MET")])
def test_a_declared_spelling(screening, value, unit, verdict):
    outcome = decide(screening, {"concept": "anc", "value": value, "unit": unit,
                                 "date": "2026-05-20"})
    assert isinstance(outcome, Decision)
    assert outcome.verdicts["I2"].verdict == verdict


def test_an_undeclared_misreading_is_refused():
    network = network_from_text(PROTOCOL.replace('unit "K/uL" means 10^3/uL\n', ""))
    (outcome,) = Screening(network).screen([(1, as_read({
        "patient": "p", "screening_date": "2026-06-01",
        "facts": [{"concept": "anc", "value": 1.5, "unit": "K/uL", "date": "2026-05-20"}]}))], "x")
    assert isinstance(outcome, Rejected)
    assert "pint reads K as kelvin; write 10^3/uL" in str(outcome.problems[0])


@pytest.mark.parametrize("declaration, message", [
    ("  b: flag counts as a\n", "'b' counts as 'a', but it is a flag and 'a' a category"),
    ("  b: category {negative, weak} counts as a\n", "but 'a' has no value weak"),
    ("  b: category {negative} counts as c\n  c: category {negative} counts as a\n",
     "which counts as 'a' in turn"),
    ("  b: category {negative} counts as z\n", "unknown name 'z'"),
])
def test_counts_as_checks(declaration, message):
    text = ('protocol "t" version "1"\nconcepts:\n  a: category {negative, positive}\n'
            + declaration + 'inclusion I1 "t": a is negative\n')
    errors = [d for d in check(parse(text, "t")) if d.is_error]
    assert len(errors) == 1 and message in errors[0].message, errors


def test_alias_meaning_must_be_a_unit():
    text = 'protocol "t" version "1"\nunit "K/uL" means 10^3/uLL\nconcepts:\n  a: flag\n' \
           'inclusion I1 "t": a\n'
    errors = [d for d in check(parse(text, "t")) if d.is_error]
    assert [(d.code, d.span.line) for d in errors] == [("unit-unknown", 2)]


AGE_AT = """protocol "a" version "1"
concepts:
  enrolment: date
  age_at_enrolment: age at enrolment
inclusion I1 "Aged 12 to 17 years at enrolment": age_at_enrolment 12 to 17 years
"""


@pytest.mark.parametrize("facts, verdict", [
    ([{"concept": "enrolment", "value": "2026-06-09"}], "MET"),  # the day before the 18th birthday
    ([{"concept": "enrolment", "value": "2026-06-10"}], "NOT_MET"),  # 18 on the day
    ([], "UNKNOWN"),  # no enrolment date to count the age at
])
def test_age_at_another_date(facts, verdict):
    screening = Screening(network_from_text(AGE_AT))
    data = {"patient": "p", "screening_date": "2026-06-01", "birth_date": "2008-06-10",
            "facts": facts}
    (outcome,) = screening.screen([(1, as_read(data))], "a.jsonl")
    assert outcome.verdicts["I1"].verdict == verdict


def test_age_at_needs_a_date_concept():
    text = AGE_AT.replace("enrolment: date", "enrolment: flag")
    errors = [d for d in check(parse(text, "t")) if d.is_error]
    assert [d.code for d in errors] == ["day"]
    assert "is counted at the day of 'enrolment', which must be a date concept (declare it " \
        "'enrolment: date'); 'enrolment' is a flag" in errors[0].message


# -- histories: a narrower history's items are the broader one's, beside its own record --------

HISTORIES = """protocol "h" version "1"
concepts:
  first_dose: date
  methotrexate: medication {methotrexate} counts as csdmard
  csdmard: medication {methotrexate, leflunomide, hydroxychloroquine}
inclusion I1 "Except for MTX, all csDMARDs discontinued at least 4 weeks prior to the first dose":
  not csdmard other than {methotrexate} within 4 weeks before first_dose
inclusion I2 "Prior csDMARD": csdmard ever
exclusion E1 "Methotrexate ever": methotrexate ever
"""
MTX = {"concept": "methotrexate", "drug": "methotrexate", "date": "2025-06-01", "ongoing": True}
LEFLUNOMIDE = {"concept": "csdmard", "drug": "leflunomide", "date": "2020-06-01",
               "end": "2020-07-01"}
HCQ = {"concept": "csdmard", "drug": "hydroxychloroquine", "date": "2025-06-01", "ongoing": True}


@pytest.fixture(scope="module")
def histories():
    network = network_from_text(HISTORIES, "h.proto-rules")
    return network, Screening(network)


@pytest.mark.parametrize("facts, verdicts", [
    # methotrexate alone says nothing of the other csDMARDs: not "none other", not "none";
    # but it is a csDMARD (an open list: its items make a condition true, never false)
    ([MTX], {"I1": "UNKNOWN", "I2": "MET", "E1": "MET"}),
    # beside csDMARDs of its own, methotrexate's course is one of them
    ([MTX, LEFLUNOMIDE], {"I1": "MET", "I2": "MET", "E1": "MET"}),
    # no methotrexate is not no csDMARD: the csDMARD record decides
    ([{"concept": "methotrexate", "present": False}, HCQ],
     {"I1": "NOT_MET", "I2": "MET", "E1": "NOT_MET"}),
    ([{"concept": "methotrexate", "present": False}],
     {"I1": "UNKNOWN", "I2": "UNKNOWN", "E1": "NOT_MET"}),
    ([{"concept": "methotrexate", "present": False}, {"concept": "csdmard", "present": False}],
     {"I1": "MET", "I2": "NOT_MET", "E1": "NOT_MET"}),
])
def test_a_narrower_history_counts_beside_the_broader_ones_own_record(histories, facts, verdicts):
    network, screening = histories
    outcome = screen_one(screening, [{"concept": "first_dose", "value": "2026-06-01"}, *facts],
                         day="2026-06-01")
    assert isinstance(outcome, Decision)
    assert_trail_agrees(network, outcome, verdicts)


def test_a_history_given_only_through_a_narrower_one_says_so(histories):
    _, screening = histories
    outcome = screen_one(screening, [{"concept": "first_dose", "value": "2026-06-01"}, MTX],
                         day="2026-06-01")
    assert outcome.patient.unusable["csdmard"] == (
        "only methotrexate recorded, which counts as csdmard: whether there is any other "
        "csdmard is not")


def test_a_narrower_course_beside_the_broader_ones_none_is_a_contradiction(histories):
    _, screening = histories
    outcome = screen_one(screening, [{"concept": "csdmard", "present": False}, MTX],
                         day="2026-06-01")
    assert isinstance(outcome, Rejected)
    problem = outcome.problems[0]
    assert "csdmard is recorded as none and as present (fact #2 by methotrexate, which counts " \
        "as csdmard)" in str(problem)
    assert "fact #1, field 'present'" in str(problem)  # the fact that says none


def test_a_narrower_facts_bad_unit_is_said_once_in_its_own_concepts_words():
    """Read in its own home and in the one it counts as, a fact's wrong unit is one problem,
    with the unit its own concept is dosed in."""
    network = network_from_text(HISTORIES.replace(
        "counts as csdmard", "dosed in mg/week counts as csdmard").replace(
        "hydroxychloroquine}", "hydroxychloroquine} dosed in mg/d"), "h.proto-rules")
    for unit, said in (("mg/xx", "methotrexate dose: unknown unit 'mg/xx': give it in mg/week"),
                       ("kg", "methotrexate is dosed in mg/week: give the dose in that unit")):
        outcome = screen_one(Screening(network), [{**MTX, "dose": 15, "unit": unit}],
                             day="2026-06-01")
        assert isinstance(outcome, Rejected)
        assert [str(p).split("error: ")[1][:len(said)] for p in outcome.problems] == [said]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([
    MTX, LEFLUNOMIDE, HCQ, {"concept": "methotrexate", "present": False},
    {"concept": "csdmard", "present": False},
    {"concept": "methotrexate", "drug": "methotrexate", "date": "2026-05"}]),
    max_size=4, unique_by=lambda f: str(f)))
def test_any_mix_of_narrower_and_broader_facts_is_decided_or_refused_saying_why(histories, facts):
    """Whatever the narrower and broader facts given: a decision the trail agrees with, or the
    record refused for a none beside a course; never read as none where only methotrexate's
    record is (`csdmard ever` is then never NOT_MET)."""
    network, screening = histories
    outcome = screen_one(screening, [{"concept": "first_dose", "value": "2026-06-01"}, *facts],
                         day="2026-06-01")
    if isinstance(outcome, Rejected):
        assert "is recorded as none" in str(outcome.problems[0])
        return
    verdicts = {c: outcome.verdicts[c].verdict for c in ("I1", "I2", "E1")}
    assert_trail_agrees(network, outcome, verdicts)
    if not any(f["concept"] == "csdmard" for f in facts):
        assert verdicts["I2"] != "NOT_MET" and verdicts["I1"] != "MET"


# -- a narrower history's attributes: read as the broader one's --------------------------------


@pytest.mark.parametrize("narrower, said", [
    ("with best_response {cr}", "'a' counts as 'therapy', but 'therapy' best_response has no value "
     "cr"),
    ("with best_response number", "'a' counts as 'therapy', but a's best_response is a number "
     "and therapy's one of a set of values"),
    ("with best_response {pd} with size in mg", "'a' counts as 'therapy', but its size in mg "
     "does not convert to mm"),
])
def test_a_narrower_historys_attribute_reads_as_the_broader_ones(narrower: str, said: str):
    text = ('protocol "t" version "1"\nconcepts:\n  therapy: medication {lenalidomide} with '
            f'best_response {{pr, pd}} with size in mm\n  a: medication {{lenalidomide}} {narrower} '
            'counts as therapy\ninclusion I1 "x": therapy where best_response is pd ever and a ever\n')
    errors = load_errors(text)
    assert [e.split(" ", 1)[1] for e in errors] == [said], errors


def test_a_narrower_history_without_what_the_broader_ones_filter_reads_is_warned_of():
    """Its facts cannot give the attribute (an unknown field), so its items leave the filter
    open: said once, at its `counts as`; an attribute no filter reads is not asked for."""
    text = ('protocol "t" version "1"\nconcepts:\n  therapy: medication {lenalidomide} with '
            'regimen {1, 2} with best_response {pr, pd} with site {a, b}\n  last_regimen: '
            'medication {lenalidomide} counts as therapy\ninclusion I1 "x": therapy where '
            'best_response is pd ever and at least 2 regimens of therapy ever and last_regimen '
            'ever\n')
    found = [(d.code, d.span.line, d.message) for d in check(parse(text, "t.proto-rules"))]
    assert found == [("counts-as-attributes", 4, "'last_regimen' counts as 'therapy' but records "
                      "no regimen or best_response, which a filter on 'therapy' reads: its items "
                      "leave that filter open (a fact of 'last_regimen' giving one is refused); "
                      "declare them on 'last_regimen' too")], found
