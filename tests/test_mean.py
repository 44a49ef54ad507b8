"""`mean(qtcf)` in a formula: the mean of a measured concept's results of its latest day.

Protocols average repeated measurements ("mean resting QTcF > 470 ms obtained from 3 ECGs", a
triplicate blood pressure). The normaliser gives the network the latest day's results, each in
the concept's unit; the derived value's rule fires on them and works the mean out in exact
rationals, so a mean at a threshold is at it. A result known only within bounds ("< 400 ms")
bounds the mean, which is decided where every value within gives one verdict; older days do not
count; a stale day is stale. Each case runs the real parser, checks, normaliser and network.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.recorder import Recorder
from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.checks import check
from protocol.errors import ProtocolError
from protocol.formula import rounded
from tests.conftest import boundary_cases, judged, network_from_text, screen_one

PROTOCOL = """protocol "QTc" version "1"
concepts:
  qtcf: quantity in ms valid for 28 days
  baseline_qtcf: quantity in ms
  qtcf_mean: derived in ms "mean QTcF of the triplicate ECG" = mean(qtcf)
  qtcf_change: derived in ms = mean(qtcf) - baseline_qtcf
  qtcf_seconds: derived in s = mean(qtcf in s) x 1000 / 1000
exclusion E1 "Mean resting QTcF > 470 ms from 3 ECGs": qtcf_mean > 470 ms
exclusion E2 "QTcF increase > 60 ms from baseline": qtcf_change > 60 ms
inclusion I1 "Mean QTcF <= 0.47 s": qtcf_seconds <= 0.47 s
"""

DAY = "2026-06-01"


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "qtc.proto-rules"))


def qtcf(value: Any, day: str = DAY, unit: str = "ms") -> dict[str, Any]:
    return {"concept": "qtcf", "value": value, "unit": unit, "date": day}


def decided(screening: Screening, *facts: dict[str, Any]) -> Decision:
    outcome = screen_one(screening, facts, day="2026-06-10")
    assert isinstance(outcome, Decision), outcome
    return outcome


@pytest.mark.parametrize("name, facts, expected", [
    ("a triplicate whose mean is over", [qtcf(480), qtcf(472), qtcf(466)], "MET"),
    ("a mean exactly at the threshold is not over it", [qtcf(469), qtcf(470), qtcf(471)],
     "NOT_MET"),
    ("exact decimals: 469.1 + 470.2 + 470.7 is 1410", [qtcf(469.1), qtcf(470.2), qtcf(470.7)],
     "NOT_MET"),
    ("one result is its own mean", [qtcf(471)], "MET"),
    ("equal results, at three times of the day (the same fact twice is a duplicate)",
     [qtcf(471, f"{DAY}T09:0{minute}") for minute in range(3)], "MET"),
    ("results in two units", [qtcf(0.48, unit="s"), qtcf(470), qtcf(471)], "MET"),
    ("an older day does not count", [qtcf(400, "2026-05-30"), qtcf(471), qtcf(472)], "MET"),
    ("the latest day alone counts", [qtcf(480, "2026-05-30"), qtcf(460), qtcf(470)], "NOT_MET"),
    ("a bound among them bounds the mean: 240 to 440", [qtcf(480), qtcf("< 400")], "NOT_MET"),
    ("... 480 and 560 or more: 520 or more", [qtcf(480), qtcf(">= 560")], "MET"),
    ("... 480 and 450 or more: 465 or more", [qtcf(480), qtcf(">= 450")], "UNKNOWN"),
    ("... 470 and 470 to 480 (two bounds of one day): 470 to 475", [qtcf(470), qtcf(">= 470"),
                                                                   qtcf("<= 480")], "UNKNOWN"),
    ("one result, a bound", [qtcf("> 480")], "MET"),
    ("stale", [qtcf(500, "2026-05-01")], "UNKNOWN"),
    ("none", [], "UNKNOWN"),
])
def test_the_mean_of_the_latest_day(screening, name, facts, expected):
    assert decided(screening, *facts).verdicts["E1"].verdict == expected


def test_a_mean_in_a_formula_with_another_input(screening):
    baseline = {"concept": "baseline_qtcf", "value": 400, "unit": "ms", "date": "2026-01-05"}
    over = decided(screening, baseline, qtcf(459), qtcf(461), qtcf(463))  # 461 - 400
    at = decided(screening, baseline, qtcf(459), qtcf(460), qtcf(461))  # 460 - 400
    assert (over.verdicts["E2"].verdict, at.verdicts["E2"].verdict) == ("MET", "NOT_MET")


def test_a_mean_read_in_another_unit(screening):
    assert decided(screening, qtcf(469), qtcf(470), qtcf(471)).verdicts["I1"].verdict == "MET"
    assert decided(screening, qtcf(470), qtcf(470.003)).verdicts["I1"].verdict == "NOT_MET"


def evidence(screening: Screening, *facts: dict[str, Any]) -> str:
    return "".join(Recorder(screening.network).lines(decided(screening, *facts))[0])


def test_the_trail_shows_the_results_averaged(screening):
    line = evidence(screening, qtcf(480), qtcf(472), qtcf(466))
    assert ("qtcf_mean = mean(480, 472, 466) = 472.666667 ms (qtcf: 3 results of 2026-06-01); "
            "needs > 470 ms") in line


def test_the_trail_shows_a_bounded_result_among_them(screening):
    line = evidence(screening, qtcf(480), qtcf("< 400"), qtcf(466))
    assert ("qtcf_mean = mean(480, < 400, 466) = 315.333333 to 448.666667 ms (qtcf: 3 results of "
            "2026-06-01); needs > 470 ms") in line
    line = evidence(screening, qtcf("> 480"))
    assert "qtcf_mean = mean(> 480) >= 480 ms (qtcf > 480 ms of 2026-06-01); needs > 470 ms" \
        in line


@pytest.mark.parametrize("facts, reason", [
    ([qtcf(500, "2026-05-01")], "qtcf: stale: latest qtcf is from 2026-05-01"),
    ([], "qtcf: no fact given"),
])
def test_an_unknown_mean_says_why(screening, facts, reason):
    assert reason in evidence(screening, *facts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=4000, max_value=5400), min_size=1, max_size=4))
def test_the_verdict_is_the_exact_mean_against_the_threshold(screening, tenths):
    """Results of one day in tenths of a ms: the verdict is their exact mean, rounded once
    (half to even, 6 places) as every derived value is, compared with 470 ms."""
    results = [Decimal(t) / 10 for t in tenths]  # given as floats, as JSON numbers are read
    mean = rounded(sum(map(Fraction, results), Fraction(0)) / len(results))
    expected = "MET" if mean > 470 else "NOT_MET"
    facts = [qtcf(float(r), f"{DAY}T09:{minute:02}") for minute, r in enumerate(results)]
    assert decided(screening, *facts).verdicts["E1"].verdict == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["=", "<", "<=", ">", ">="]),
                          st.integers(min_value=4000, max_value=5400)), min_size=1, max_size=4))
def test_a_bounded_result_decides_as_every_value_within_it(screening, results):
    """Soundness: where the mean of a day with results known only within bounds is decided, the
    day's exact results at each bound's ends (and a middle) give that verdict too."""
    def given(values):
        return [qtcf(v, f"{DAY}T09:{minute:02}") for minute, v in enumerate(values)]
    verdict = decided(screening, *given(
        [float(t) / 10 if op == "=" else f"{op} {t / 10}" for op, t in results])).verdicts["E1"]
    for pick in (0, 1, 2):
        values = []
        for op, t in results:
            low = {"=": t, "<": 0, "<=": 0, ">": t + 1, ">=": t}[op]
            high = {"=": t, "<": t - 1, "<=": t, ">": t + 2000, ">=": t + 2000}[op]
            values.append((low, (low + high) / 2, high)[pick] / 10)
        exact = decided(screening, *given(values)).verdicts["E1"].verdict
        assert verdict.verdict in ("UNKNOWN", exact)


# --- what the checks say --------------------------------------------------------------------------

HEAD = """protocol "t" version "1"
concepts:
  qtcf: quantity in ms
  age: age
  sex: category {male, female}
"""


def problems(formula: str) -> list[str]:
    text = HEAD + f"  v: derived in ms = {formula}\ninclusion I1 \"x\": v > 1 ms\n"
    return [f"{d.span.line}:{d.span.column} {d.code}: {d.message}"
            for d in check(parse(text, "t.pr")) if d.code != "unused-concept"]


def test_a_mean_checks_clean():
    assert problems("mean(qtcf)") == []
    assert problems("mean(qtcf in ms) x 1 - 0") == []


@pytest.mark.parametrize("formula, said", [
    ("mean(qtcf x 2)", "6:27 formula-mean: mean(...) averages one concept's results of a day: "
                       "write a concept's name, like 'mean(qtcf)', or 'mean(qtcf in ms)'"),
    ("mean(age in years)", "6:27 formula-mean: mean(...) averages a concept's results of one "
                           "day: 'age' is an age, which has one value"),
    ("mean(sex)", "6:27 type-mismatch: 'sex' is a category: a formula computes with the numbers "
                  "of quantities, labs, scores, ages and derived values"),
    ("mean(qtc)", "6:27 undefined-name: unknown name 'qtc'; did you mean 'qtcf'?"),
])
def test_what_a_mean_cannot_average(formula, said):
    assert said in problems(formula)


def test_a_mean_of_two_values_is_a_parse_error():
    with pytest.raises(ProtocolError) as error:
        parse(HEAD + "  v: derived in ms = mean(qtcf, qtcf)\n", "t.pr")
    assert "mean(...) takes one concept, whose results of one day it averages" in str(error.value)


def test_a_concept_named_mean_is_still_a_name():
    text = HEAD.replace("  age: age\n", "  mean: quantity in ms\n") + \
        "  v: derived in ms = mean + qtcf\ninclusion I1 \"x\": v > 1 ms\n"
    assert [d.code for d in check(parse(text, "t.pr")) if d.severity == "error"] == []


# --- boundary cases -------------------------------------------------------------------------------


def test_boundary_cases_give_a_mean_as_three_results_of_one_day(capsys, tmp_path):
    """`edge-cases` moves the input of a mean to where the comparison turns, as one result and as
    three results of one day whose mean is exactly that value; the network agrees with each.
    A base patient whose latest day holds results that differ starts from their mean (the
    other criteria reading the mean read it so); one whose result is known only within bounds
    gives no number to start from: said."""
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-06-10", "facts": [
            qtcf(450), {"concept": "baseline_qtcf", "value": 400, "unit": "ms",
                        "date": "2026-01-05"}]})
    assert '"qtcf 465.3, 470, 474.7 ms on one day: qtcf_mean 470 ms, exactly at qtcf_mean > ' \
           '470 ms"' in text
    assert "the mean of 465.3, 470, 474.7 ms is exactly 470" in text
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-06-10", "facts": [qtcf(480), qtcf(466)]})
    assert '"qtcf 465.3, 470, 474.7 ms on one day: qtcf_mean 470 ms, exactly at qtcf_mean > ' \
           '470 ms"' in text
    text, said = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-06-10", "facts": [qtcf("> 480")]},
        tested=False)
    assert "not generated (listed in its header)" in said
    assert "qtcf_mean's input qtcf, which the base patient does not give as one number" in text


# --- a mean of at least N results -----------------------------------------------------------------

COUNTED = """protocol "QTc3" version "1"
concepts:
  qtcf: quantity in ms valid for 28 days
  qtcf_mean: derived in ms "mean QTcF of the triplicate ECG" = mean(qtcf, at least 3)
exclusion E1 "Mean resting QTcF > 470 ms obtained from 3 ECGs": qtcf_mean > 470 ms
"""


@pytest.fixture(scope="module")
def counted() -> Screening:
    return Screening(network_from_text(COUNTED, "qtc3.proto-rules"))


@pytest.mark.parametrize("facts, expected, detail", [
    ([qtcf(480), qtcf(472), qtcf(466)], "MET", "qtcf_mean = mean(480, 472, 466) = 472.666667 ms"),
    ([qtcf(480), qtcf(472), qtcf(466), qtcf(450)], "NOT_MET", None),
    ([qtcf(465)], "UNKNOWN", "qtcf_mean: unknown: qtcf: 1 result of 2026-06-01, a mean of at "
                             "least 3"),
    ([qtcf(480), qtcf(490)], "UNKNOWN", "qtcf: 2 results of 2026-06-01, a mean of at least 3"),
    # three results of two days: the latest day's two are too few, the older day's do not count
    ([qtcf(480, "2026-05-31"), qtcf(480), qtcf(490)], "UNKNOWN", None),
])
def test_a_mean_of_at_least_3_results(counted, facts, expected, detail):
    """"Mean resting QTcF > 470 ms obtained from 3 ECGs" (FLAURA's helper found a single ECG of
    468 ms accepted as the mean): fewer results of the day leave it UNKNOWN, saying how many."""
    result = decided(counted, *facts)
    assert result.verdicts["E1"].verdict == expected
    if detail:
        assert detail in judged(counted.network, result, "E1")["detail"]


def test_at_least_is_a_means_alone():
    with pytest.raises(ProtocolError) as error:
        parse(HEAD + "  v: derived in ms = max(qtcf, at least 2)\n", "t.pr")
    assert "max(...) takes no 'at least': only mean(...) counts the results" in str(error.value)
    with pytest.raises(ProtocolError) as error:
        parse(HEAD + "  v: derived in ms = mean(qtcf, at least 0)\n", "t.pr")
    assert "a mean averages at least 1 result" in str(error.value)


def test_boundary_cases_give_as_many_results_as_the_mean_needs_and_one_fewer(capsys, tmp_path):
    base = {"patient": "B", "screening_date": "2026-06-10", "facts": [
        qtcf(450, f"{DAY}T09:0{minute}") for minute in range(3)]}
    text, _ = boundary_cases(capsys, tmp_path, COUNTED, base)
    assert '"qtcf 465.3, 470, 474.7 ms on one day: qtcf_mean 470 ms, exactly at qtcf_mean > ' \
           '470 ms"' in text
    assert '"qtcf 465.300001, 474.700001 ms on one day, 2 of the 3 its mean needs: qtcf_mean > ' \
           '470 ms"' in text


def test_boundary_cases_read_the_mean_in_every_rule_that_reads_it(capsys, tmp_path):
    """A rule by sex reads the mean on both sides: a case that moves the mean for one side is
    expected with the other side's reading of the same mean (ASC4FIRST's helper found a man's
    case expected UNKNOWN where his own side read the new triplicate as MET); a base with one
    result, fewer than the mean needs, starts from it and gives the triplicates."""
    text = COUNTED.replace("exclusion E1 \"Mean resting QTcF > 470 ms obtained from 3 ECGs\": "
                           "qtcf_mean > 470 ms", "  sex: category {female, male}\n"
                           "exclusion E1 \"QTcF > 450 ms (men), > 460 ms (women)\":\n"
                           "    qtcf_mean > 460 ms if sex is female else qtcf_mean > 450 ms")
    for facts in ([qtcf(430)], [qtcf(450, f"{DAY}T09:0{minute}") for minute in range(3)]):
        base = {"patient": "B", "screening_date": "2026-06-10",
                "facts": [{"concept": "sex", "value": "male"}, *facts]}
        cases, said = boundary_cases(capsys, tmp_path, text, base)
        assert "not generated" not in said
        assert '"qtcf 455.4, 460, 464.6 ms on one day: qtcf_mean 460 ms, exactly at qtcf_mean ' \
               '> 460 ms"' in cases
