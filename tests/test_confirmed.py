"""A comparison confirmed on another day: `fasting_glucose > 240 mg/dL confirmed on another day`
("glucose >240 mg/dl ... confirmed by a second measurement (not on the same day)", EMPA-REG E1).

It holds when the latest day's value and the value of the day before it that has a result both
hold; it fails when either does not; it is UNKNOWN when the earlier day is missing or too old,
saying so. Results of one day are one value (they bound it), never a confirmation.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.amend.diff import diff
from protocol.checks import check
from tests.conftest import (assert_trail_agrees, boundary_cases, judged, network_from_text,
                            screen_one)

PROTOCOL = """protocol "g" version "1"
concepts:
    fasting_glucose: quantity in mg/dL convert 1 mmol/L = 18 mg/dL valid for 28 days
    ecog: scale 0 to 5
    platelets: lab in x10^9/L valid for 28 days
    alt: lab in U/L valid for 28 days
exclusion E1 "Glucose >240 mg/dl confirmed by a second measurement (not on the same day)":
    fasting_glucose > 240 mg/dL confirmed on another day
inclusion I1 "ECOG 0 or 1 on two visits": ecog <= 1 confirmed on another day
inclusion I2 "Platelets 100 to 400 x10^9/L on two occasions":
    platelets 100 to 400 x10^9/L confirmed on another day
exclusion E2 "ALT > 3 x ULN, confirmed on repeat testing": alt > 3 x ULN confirmed on another day
"""
SCREENING = "2026-03-10"


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL))


def glucose(screening: Screening, *results: tuple[object, str, str]) -> Decision:
    facts = [{"concept": "fasting_glucose", "value": value, "unit": unit, "date": day}
             for value, unit, day in results]
    result = screen_one(screening, facts, day=SCREENING)
    assert isinstance(result, Decision)
    return result


LATEST = "on the latest day; on an earlier day:"
NO_EARLIER = "no fasting_glucose of a day before 2026-03-08"


@pytest.mark.parametrize("results, verdict, said", [
    ([(250, "mg/dL", "2026-03-08"), (245, "mg/dL", "2026-03-01")], "MET", f"true {LATEST} true"),
    ([(250, "mg/dL", "2026-03-08"), (230, "mg/dL", "2026-03-01")], "NOT_MET",
     f"true {LATEST} false"),
    ([(230, "mg/dL", "2026-03-08"), (250, "mg/dL", "2026-03-01")], "NOT_MET",
     f"false {LATEST} true"),
    ([(250, "mg/dL", "2026-03-08"), (240, "mg/dL", "2026-03-01")], "NOT_MET",
     f"true {LATEST} false"),  # at the threshold: not above it
    ([(250, "mg/dL", "2026-03-08")], "UNKNOWN", f"true {LATEST} {NO_EARLIER}"),
    ([(230, "mg/dL", "2026-03-08")], "NOT_MET", f"false {LATEST} {NO_EARLIER}"),
    ([(250, "mg/dL", "2026-03-08"), (260, "mg/dL", "2026-03-08")], "UNKNOWN",
     f"true {LATEST} {NO_EARLIER}"),  # one day's two results are one value
    ([(250, "mg/dL", "2026-03-08"), (260, "mg/dL", "2026-02-01")], "UNKNOWN",
     f"true {LATEST} the fasting_glucose before 2026-03-08 is from 2026-02-01, before "
     "2026-02-10 (valid for 28 days)"),
    ([(250, "mg/dL", "2026-03-08"), (260, "mg/dL", "2026-03-01"), (235, "mg/dL", "2026-03-01")],
     "UNKNOWN", f"true {LATEST} unknown (its bounds do not decide it)"),
    ([(14, "mmol/L", "2026-03-08"), (13.4, "mmol/L", "2026-03-01")], "MET",
     f"true {LATEST} true"),  # 252 and 241.2 mg/dL
    ([(250, "mg/dL", "2026-03-08"), (250, "mg/dL", "2026-02-20"), (200, "mg/dL", "2026-03-01")],
     "NOT_MET", f"true {LATEST} false"),  # the latest day before the latest's counts
])
def test_confirmed_on_another_day(screening, results, verdict, said) -> None:
    result = glucose(screening, *results)
    assert_trail_agrees(screening.network, result, {"E1": verdict})
    assert judged(screening.network, result, "E1")["detail"].endswith(said)


def test_the_trail_lists_the_earlier_days_result(screening) -> None:
    result = glucose(screening, (250, "mg/dL", "2026-03-08"), (245, "mg/dL", "2026-03-01"))
    assert judged(screening.network, result, "E1")["detail"] == (
        "fasting_glucose 245 mg/dL (2026-03-01; the earlier day's); 250 mg/dL (2026-03-08); "
        "needs > 240 mg/dL: true on the latest day; on an earlier day: true")


@pytest.mark.parametrize("results, verdict", [
    ([(150, "2026-03-08"), (100, "2026-03-01")], "MET"),
    ([(150, "2026-03-08"), (99, "2026-03-01")], "NOT_MET"),
    ([(401, "2026-03-08"), (150, "2026-03-01")], "NOT_MET"),
    ([(400, "2026-03-08")], "UNKNOWN"),
    ([(99, "2026-03-08")], "NOT_MET"),
])
def test_a_range_confirmed_on_another_day(screening, results, verdict) -> None:
    facts = [{"concept": "platelets", "value": v, "unit": "x10^9/L", "date": d}
             for v, d in results]
    result = screen_one(screening, facts, day=SCREENING)
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result, {"I2": verdict})


@pytest.mark.parametrize("results, verdict, said", [
    ([(130, 40, "2026-03-08"), (125, 40, "2026-03-01")], "MET", "on an earlier day: true"),
    ([(130, 40, "2026-03-08"), (120, 40, "2026-03-01")], "NOT_MET", "on an earlier day: false"),
    ([(130, 40, "2026-03-08"), (130, 50, "2026-03-01")], "NOT_MET", "on an earlier day: false"),
    ([(130, 40, "2026-03-08"), (130, None, "2026-03-01")], "UNKNOWN", "on an earlier day: no "
     "earlier alt"),  # the earlier result without its reference range has no ratio
    ([(130, 40, "2026-03-08")], "UNKNOWN", "on an earlier day: no alt of a day before "
     "2026-03-08"),
])
def test_a_multiple_of_the_limit_confirmed_on_another_day(screening, results, verdict,
                                                          said) -> None:
    facts = [{"concept": "alt", "value": v, "unit": "U/L", "date": d,
              **({"reference_range": {"low": 7, "high": uln}} if uln else {})}
             for v, uln, d in results]
    result = screen_one(screening, facts, day=SCREENING)
    assert isinstance(result, Decision)
    assert_trail_agrees(screening.network, result, {"E2": verdict})
    assert judged(screening.network, result, "E2")["detail"].endswith(said)


def test_no_result_at_all_is_unknown(screening) -> None:
    result = glucose(screening)
    assert_trail_agrees(screening.network, result, {"E1": "UNKNOWN", "I1": "UNKNOWN"})


@pytest.mark.parametrize("text, said", [
    ("sex confirmed", None),
    ("sex > 2 confirmed on another day", "'sex' is a category: only a quantity, lab, score, "
     "scale or titre has results to confirm on another day"),
    ("uacr_v1 > 30 mg/g confirmed on another day", "'uacr_v1' is uacr read at visit_1, one "
     "day's results: confirm 'uacr' itself on another day"),
    ("uacr > 30 mL confirmed on another day", "uacr is measured in mg/g; 30 mL is a volume"),
])
def test_what_cannot_be_confirmed(text, said) -> None:
    source = ('protocol "g" version "1"\nconcepts:\n    sex: category {female, male}\n'
              '    visit_1: date\n    uacr: lab in mg/g\n    uacr_v1: uacr at visit_1\n'
              f'inclusion I1 "x": {text}\n')
    if said is None:
        with pytest.raises(Exception, match="unexpected 'confirmed'"):
            parse(source, "g.proto-rules")
        return
    assert said in [d.message for d in check(parse(source, "g.proto-rules"))]


def test_a_changed_threshold_is_reported() -> None:
    old = parse(PROTOCOL, "g.proto-rules")
    new = parse(PROTOCOL.replace("> 240 mg/dL confirmed", "> 250 mg/dL confirmed"),
                "g.proto-rules")
    (entry,) = diff(old, new).entries
    assert [(c.kind, c.old, c.new) for c in entry.changes] == [
        ("threshold", "fasting_glucose > 240 mg/dL confirmed on another day",
         "fasting_glucose > 250 mg/dL confirmed on another day")]


def test_boundary_cases(capsys, tmp_path) -> None:
    base = {"patient": "b", "screening_date": SCREENING, "facts": [
        {"concept": "fasting_glucose", "value": 250, "unit": "mg/dL", "date": "2026-03-08"},
        {"concept": "fasting_glucose", "value": 245, "unit": "mg/dL", "date": "2026-03-01"},
        {"concept": "ecog", "value": 1, "date": "2026-03-08"},
        {"concept": "ecog", "value": 0, "date": "2026-02-01"}]}
    cases, said = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    assert "29 boundary cases from b\n" in said
    for name in (
            "240.000001 mg/dL on 2026-03-09, 240 mg/dL on 2026-03-08: fasting_glucose > 240 "
            "mg/dL confirmed on another day",
            "240.000001 mg/dL on 2026-03-09, 240.000001 mg/dL on 2026-02-09: fasting_glucose > "
            "240 mg/dL confirmed on another day",
            "1 on 2026-03-09, 2 on 2026-03-08: ecog <= 1 confirmed on another day",
            "100 x10^9/L on 2026-03-09, 99.999999 x10^9/L on 2026-03-08: platelets 100 to 400 "
            "x10^9/L confirmed on another day",
            # 120.00002 / 40 is 3.0000005, which rounds half to even to 3: not over it
            "120.000021 U/L on 2026-03-09, 120 U/L on 2026-03-08: alt > 3 x ULN confirmed on "
            "another day",
            "120.000021 U/L on 2026-03-09, 120.000021 U/L on 2026-03-08 under a limit twice as "
            "high: alt > 3 x ULN confirmed on another day"):
        assert f'  - name: "{name}"' in cases
    assert "# not generated" not in cases


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(230, 250)), min_size=0, max_size=4,
                unique_by=lambda r: r[0]))
def test_against_the_two_latest_days(screening, results) -> None:
    """Results on distinct days (0 to 40 days before screening) against the reading: the latest
    and the one before it, each within 28 days."""
    day = date.fromisoformat(SCREENING)
    facts = [(value, "mg/dL", (day - timedelta(days=ago)).isoformat()) for ago, value in results]
    result = glucose(screening, *facts)
    dated = sorted(((day - timedelta(days=ago), value) for ago, value in results), reverse=True)
    oldest = day - timedelta(days=28)
    latest = [v for d, v in dated[:1] if d >= oldest]
    earlier = [v for d, v in dated[1:2] if d >= oldest]
    if not latest:
        expected = "UNKNOWN"
    elif latest[0] <= 240 or (earlier and earlier[0] <= 240):
        expected = "NOT_MET"
    else:
        expected = "MET" if earlier else "UNKNOWN"
    assert_trail_agrees(screening.network, result, {"E1": expected})


RESULT = st.tuples(st.sampled_from(["fasting_glucose", "platelets", "alt", "ecog"]),
                   st.integers(0, 40), st.sampled_from([0, 1, 99, 100, 120, 235, 240, 241, 400,
                                                        401, "< 250", "> 230"]),
                   st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(RESULT, max_size=8, unique_by=lambda r: (r[0], r[1])))
def test_the_network_and_the_trail_agree_on_any_results(screening, results) -> None:
    """Results of any of the confirmed concepts, on any days up to 40 before screening (some
    stale), exact or bounds, labs with or without their reference range: every criterion's
    verdict is the trail's."""
    day = date.fromisoformat(SCREENING)
    units = {"fasting_glucose": "mg/dL", "platelets": "x10^9/L", "alt": "U/L", "ecog": None}
    facts = []
    for name, ago, value, ranged in results:
        if name == "ecog" and not (isinstance(value, int) and value <= 5):
            continue
        fact = {"concept": name, "value": value, "date": (day - timedelta(days=ago)).isoformat()}
        if units[name]:
            fact["unit"] = units[name]
        if name == "alt" and ranged:
            fact["reference_range"] = {"low": 7, "high": 40}
        facts.append(fact)
    result = screen_one(screening, facts, day=SCREENING)
    assert isinstance(result, Decision), result
    assert_trail_agrees(screening.network, result,
                        {c: v.verdict for c, v in result.verdicts.items()})


def test_boundary_cases_take_away_what_counts_as_the_concept(capsys, tmp_path):
    """A case that gives a concept's results alone takes away the base's results of a concept
    that counts as it, which would otherwise confirm them (a fasting glucose standing in for
    the earlier day): the network agrees with every case."""
    text = """protocol "cg" version "1"
concepts:
  glucose: quantity in mg/dL valid for 60 days
  fasting_glucose: quantity in mg/dL counts as glucose
inclusion I1 "glucose < 200 confirmed": glucose < 200 mg/dL confirmed on another day
"""
    written, said = boundary_cases(capsys, tmp_path, text, {
        "patient": "B", "screening_date": "2026-06-01", "facts": [
            {"concept": "glucose", "value": 110, "unit": "mg/dL", "date": "2026-05-20"},
            {"concept": "fasting_glucose", "value": 105, "unit": "mg/dL", "date": "2026-05-10"}]})
    assert "8 boundary cases" in said and 'remove: ["fasting_glucose"]' in written
