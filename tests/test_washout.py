"""Washouts whose length is also each item's own: `anticancer within 28 days or 5 half_life,
whichever is shorter, before first_dose` ("within 28 days or 5 half-lives, whichever is shorter,
prior to the first dose"), the half-life a time each course records (`with half_life in h`).

An item falls within N half-lives when the anchor day is no more than N x its half-life after
the item's last day, in whole days (a part of a day is not a day). Whichever is shorter, an item
must fall in both windows; longer, in either. A half-life not recorded may or may not reach the
anchor: the other window decides where it can, else UNKNOWN. Each case runs the real parser,
checks, normaliser and network.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.recorder import Recorder
from engine.run import Decision, Rejected, Screening
from grammar.layout import expected
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import boundary_cases, network_from_text, screen_one

PROTOCOL = """protocol "washout" version "1"
concepts:
  first_dose: date
  anticancer: medication {pembrolizumab, docetaxel} with half_life in h
exclusion E1 "Anticancer therapy within 28 days or 5 half-lives, whichever is shorter":
    anticancer within 28 days or 5 half_life, whichever is shorter, before first_dose
exclusion E2 "Anticancer therapy within 14 days or 5 half-lives (whichever is longer)":
    anticancer within 14 days or 5 half_lives (whichever is longer) prior to first_dose
exclusion E3 "Docetaxel within 14 days or 5 half-lives, whichever is longer":
    anticancer where drug is docetaxel within 14 days or 5 half_life, whichever is longer,
    before first_dose
inclusion I1 "No known anticancer therapy within 14 days or 2.5 half-lives, whichever is longer":
    no known anticancer within 14 days or 2.5 half_life, whichever is longer, before screening
exclusion E4 "Two courses within 28 days or 5 half-lives, whichever is shorter":
    at least 2 anticancer within 28 days or 5 half_life, whichever is shorter, before first_dose
"""
FIRST_DOSE = date(2026, 3, 10)


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "washout.proto-rules"))


def course(end: str, half_life: Any = None, drug: str = "docetaxel",
           start: str = "2026-01-05") -> dict:
    fact: dict[str, Any] = {"concept": "anticancer", "drug": drug, "date": start, "end": end}
    if half_life is not None:
        fact["half_life"] = half_life
    return fact


def outcome(screening: Screening, *courses: dict) -> Decision | Rejected:
    return screen_one(screening, [{"concept": "first_dose", "value": FIRST_DOSE.isoformat()},
                                  *courses], day="2026-03-01")


def verdicts(screening: Screening, *courses: dict) -> dict[str, str]:
    decided = outcome(screening, *courses)
    assert isinstance(decided, Decision), decided
    return {c: v.verdict for c, v in decided.verdicts.items()}


@pytest.mark.parametrize("courses, expected", [
    # ended 2026-02-20, 18 days before the first dose: within 28 days, not within 14
    ([course("2026-02-20", "20 h")], {"E1": "NOT_MET", "E2": "NOT_MET"}),  # 5 x 20 h: 4 days
    ([course("2026-02-20", {"value": 26, "unit": "d"})], {"E1": "MET", "E2": "MET"}),  # 130 days
    ([course("2026-02-20", "86.4 h")], {"E1": "MET", "E2": "MET"}),  # 18 days exactly: at the edge
    ([course("2026-02-20", "86.3 h")], {"E1": "NOT_MET", "E2": "NOT_MET"}),  # 17.98: 17 days
    ([course("2026-02-20")], {"E1": "UNKNOWN", "E2": "UNKNOWN"}),  # half-life not recorded
    # ended 2026-03-05, within 14 days: the longer window holds whatever the half-life
    ([course("2026-03-05")], {"E2": "MET", "E1": "UNKNOWN"}),
    ([course("2026-03-05", "20 h")], {"E2": "MET", "E1": "NOT_MET"}),  # 4 days: to 03-09
    ([course("2026-03-05", "24 h")], {"E2": "MET", "E1": "MET"}),  # 5 days: to 03-10
    # ended 2026-01-20, 49 days before: outside 28 days, so the shorter one is decided
    ([course("2026-01-20")], {"E1": "NOT_MET", "E2": "UNKNOWN"}),
    ([course("2026-01-20", "1 week")], {"E1": "NOT_MET", "E2": "NOT_MET"}),  # 35 days
    ([course("2026-01-20", "2 week")], {"E1": "NOT_MET", "E2": "MET"}),  # 70 days
    # ended some day of February, half-life 48 h (10 days): to 02-11 ... 03-10
    ([course("2026-02", "48 h", start="2026-02-01")], {"E1": "UNKNOWN", "E2": "UNKNOWN"}),
    # still going: every window reaches the first dose
    ([{**course("2026-02-20", "1 h"), "end": None, "ongoing": True}], {"E1": "MET", "E2": "MET"}),
    # one course decides it, whatever the other
    ([course("2026-02-20"), course("2026-03-05", "24 h")], {"E1": "MET", "E2": "MET"}),
])
def test_each_item_has_its_own_washout(screening, courses, expected):
    courses = [{k: v for k, v in c.items() if v is not None} for c in courses]
    found = verdicts(screening, *courses)
    assert {c: found[c] for c in expected} == expected


def test_a_filter_and_no_known(screening):
    found = verdicts(screening, course("2026-02-25", "20 h", drug="pembrolizumab"))
    assert (found["E3"], found["E2"]) == ("NOT_MET", "MET")  # not docetaxel
    assert found["I1"] == "NOT_MET"  # 4 days before screening: within 14 days
    found = verdicts(screening, course("2026-01-25", drug="pembrolizumab"))
    assert found["I1"] == "UNKNOWN"  # 35 days before: 2.5 half-lives not recorded may reach it
    found = verdicts(screening, course("2026-01-25", "12 d", drug="pembrolizumab"))
    assert found["I1"] == "MET"  # 30 days: to 2026-02-24, before screening
    assert verdicts(screening)["I1"] == "MET"  # nothing recorded: no known history


def test_at_least_two_courses_each_in_both_windows(screening):
    both = [course("2026-02-20", "5 d"), course("2026-03-01", "2 d", drug="pembrolizumab")]
    assert verdicts(screening, *both)["E4"] == "MET"  # to 03-17 and 03-11
    short = [course("2026-02-20", "5 d"), course("2026-02-27", "1 d", drug="pembrolizumab")]
    assert verdicts(screening, *short)["E4"] == "NOT_MET"  # the second reaches 03-04 only
    unsure = [course("2026-02-20", "5 d"), course("2026-02-27", drug="pembrolizumab")]
    assert verdicts(screening, *unsure)["E4"] == "UNKNOWN"


def test_the_trail_shows_the_day_each_item_reaches(screening):
    decided = outcome(screening, course("2026-02-20", "20 h"), course("2026-01-02", start="2025-12-01"))
    line = "".join(Recorder(screening.network).lines(decided)[0])
    assert "(window from 2026-02-10 to 2026-03-10; first_dose 2026-03-10); and within 5 " \
           "half_life of its last day: to 2026-02-24, half_life not recorded" in line
    assert "(window from 2026-02-24 to 2026-03-10; first_dose 2026-03-10); or anticancer: " \
           "may count: docetaxel, half_life not recorded (2025-12-01; to 2026-01-02, 1 " \
           "completed month); not counted: docetaxel, half_life 20 h (2026-01-05; to " \
           "2026-02-20, 1 completed month); within 5 half_lives of its last day before " \
           "first_dose 2026-03-10: to 2026-02-24, half_lives not recorded (its dates and " \
           "half_lives do not decide it)" in line
    decided = outcome(screening, course("2026-02-20", "20 h"))
    line = "".join(Recorder(screening.network).lines(decided)[0])
    assert "(window from 2026-02-24 to 2026-03-10; first_dose 2026-03-10); or within 5 " \
           "half_lives of its last day before first_dose 2026-03-10: to 2026-02-24" in line


@pytest.mark.parametrize("half_life, message", [
    ("20", 'anticancer\'s half_life is measured in h: give {"value": ..., "unit": ...} or '
           '"12 h", found "20"'),
    (20, 'anticancer\'s half_life is measured in h: give {"value": ..., "unit": ...} or '
         '"12 h", found 20'),
    ("20 mg", "anticancer's half_life: cannot convert mg (mass) to h (time)"),
    ("-2 h", 'anticancer\'s half_life is a time: it cannot be negative, found "-2 h"'),
    ("1 month", "anticancer's half_life is a time: give it in s, min, h, d or weeks (a whole "
                'number of days each, or a whole fraction of one), found "1 month"'),
])
def test_a_half_life_that_cannot_be_read_is_an_input_error(screening, half_life, message):
    rejected = outcome(screening, course("2026-02-20", half_life))
    assert isinstance(rejected, Rejected)
    assert [p.message for p in rejected.problems] == [message]


def test_the_washout_is_counted_from_the_half_life_as_given():
    """Declared in weeks, a half-life of 1 d is 0.142857 weeks as the item's number (rounded
    to 6 places), but exactly one day for the washout: 5 x 1 d reaches 5 days, not 4."""
    text = PROTOCOL.replace("with half_life in h", "with half_life in week")
    screening = Screening(network_from_text(text, "weeks.proto-rules"))
    anchor_less = [{"concept": "first_dose", "value": "2026-03-10"}]
    for end, verdict in (("2026-03-05", "MET"), ("2026-03-04", "NOT_MET")):
        fact = course(end, "1 d", start="2026-02-01")
        decided = screen_one(screening, [*anchor_less, fact], day="2026-03-01")
        assert decided.verdicts["E1"].verdict == verdict, end


UNITS = {"h": Fraction(1, 24), "d": Fraction(1), "min": Fraction(1, 1440), "week": Fraction(7)}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=60), st.one_of(st.none(), st.integers(1, 4000)),
       st.sampled_from(sorted(UNITS)))
def test_the_verdict_is_the_exact_washout(screening, days_before, tenths, unit):
    """A course ended `days_before` the first dose, its half-life `tenths`/10 of `unit` (or
    not recorded): each window worked out here in exact fractions of a day."""
    end = FIRST_DOSE - timedelta(days=days_before)
    half_life = None if tenths is None else f"{Decimal(tenths) / 10} {unit}"
    found = verdicts(screening, course(end.isoformat(), half_life, start=min(
        end, date(2026, 1, 5)).isoformat()))

    def reach(times: int) -> bool | None:
        if tenths is None:
            return None
        return days_before <= math.floor(times * Fraction(tenths, 10) * UNITS[unit])

    def kleene(value: bool | None) -> str:
        return "UNKNOWN" if value is None else "MET" if value else "NOT_MET"

    within_28, within_14, by_reach = days_before <= 28, days_before <= 14, reach(5)
    shorter = False if not within_28 or by_reach is False else by_reach
    longer = True if within_14 or by_reach else None if by_reach is None else False
    assert (found["E1"], found["E2"]) == (kleene(shorter), kleene(longer))


# --- what the checks say --------------------------------------------------------------------------

HEAD = 'protocol "t" version "1"\nconcepts:\n  first_dose: date\n' \
       '  chemo: medication {cisplatin} with half_life in h with cycles number with line {a, b}\n' \
       '  wait: medication {x} with span in month\n'


def problems(condition: str) -> list[str]:
    text = HEAD + f'inclusion I1 "x": {condition}\n'
    return [f"{d.span.column} {d.message}" for d in check(parse(text, "t.pr"))
            if d.code not in ("unused-concept", "unit-months")]  # `span in month` on purpose


@pytest.mark.parametrize("condition, said", [
    ("chemo within 28 days or 5 half_life, whichever is shorter, before first_dose", []),
    ("chemo within 28 days or 5 half_lives (whichever is longer) prior to first_dose", []),
    ("chemo within 28 days or 5 halflife, whichever is shorter, before first_dose",
     ["45 'chemo' records no attribute 'halflife'; did you mean 'half_life'?"]),
    ("chemo within 28 days or 5 cycles, whichever is shorter, before first_dose",
     ["45 '5 cycles' counts in a time each chemo records: declare 'cycles in h' (or min, d, "
      "week), not a number"]),
    ("chemo within 28 days or 5 line, whichever is shorter, before first_dose",
     ["45 '5 line' counts in a time each chemo records: declare 'line in h' (or min, d, week), "
      "not one of a set of values"]),
    ("wait within 28 days or 5 span, whichever is shorter, before first_dose",
     ["44 '5 span' counts in a time each wait records: declare 'span in h' (or min, d, week), "
      "not in month"]),
    ("chemo within 28 days or 0 half_life, whichever is shorter, before first_dose",
     ["40 '0 half_life' is no length: give a number above 0"]),
    ("chemo within 28 days or 5 half_life, whichever is longer, after first_dose",
     ["25 'whichever is longer' is a washout before its anchor: write 'before' or 'prior to'"]),
    ("at least 2 chemo within 28 days or 5 half_life, whichever is longer, before first_dose",
     ["51 'at least 2 chemo' with 'whichever is longer' would count an item within either "
      "length: not supported; write 'whichever is shorter', or count in one window"]),
])
def test_what_a_washout_may_say(condition, said):
    assert problems(condition) == said


def test_boundary_cases_move_the_course_and_its_half_life(capsys, tmp_path):
    """`edge-cases` puts a one-day course on each edge of both windows, with a half-life whose
    washout ends inside the duration's window and one beyond it, the month of each edge day,
    the half-life not recorded, a failing filter; the network agrees with every one. A count
    of such courses is listed as not generated."""
    written, said = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-03-01", "facts": [
            {"concept": "first_dose", "value": "2026-03-10"}]})
    assert "1 not generated" in said
    assert "# not generated: line 15, anticancer: 'within 28 days or 5 half_life, whichever is " \
           "shorter, before first_dose': a count of items each within its own half_life window " \
           "has no boundary cases yet" in written
    for name in ('anticancer on 2026-02-24, half_life 69.6 h: anticancer within 28 days or 5 '
                 'half_life, whichever is shorter, before first_dose"\n    description: '
                 '"first_dose 2026-03-10: 2026-03-10 - 28 days = 2026-02-10 (dateutil), '
                 '2026-02-24 inside; 5 x 69.6 h = 14 whole days, to 2026-03-10; whichever is '
                 'shorter"',
                 'anticancer on 2026-02-23, half_life not recorded: anticancer within 14 days or '
                 '5 half_lives, whichever is longer, before first_dose'):
        assert name in written


def test_many_washouts_in_one_criterion_build_and_decide():
    """Twenty `whichever is longer` windows (forty halves) in one criterion, against the
    engine's limits on a pattern and on the network."""
    names = [f"d{i}" for i in range(20)]
    parts = ",\n        ".join(f"anticancer where drug is {n} within {i + 1} days or {i + 2} "
                               f"half_life, whichever is longer, before screening"
                               for i, n in enumerate(names))
    text = (f'protocol "many" version "1"\nconcepts:\n  anticancer: medication '
            f'{{{", ".join(names)}}} with half_life in d\n'
            f'exclusion E1 "Any of twenty washouts":\n    any of [\n        {parts}]\n')
    screening = Screening(network_from_text(text, "many.proto-rules"))
    fact = {"concept": "anticancer", "drug": "d19", "date": "2026-05-01", "end": "2026-06-01",
            "half_life": "1 d"}
    # d19: within 20 days or 21 x 1 day: ended 29 days before screening
    assert _verdict(screening, fact) == "NOT_MET"
    assert _verdict(screening, {**fact, "half_life": "1.4 d"}) == "MET"  # 29.4: 29 days
    assert _verdict(screening, {**fact, "half_life": None}) == "UNKNOWN"


def _verdict(screening: Screening, fact: dict) -> str:
    fact = {k: v for k, v in fact.items() if v is not None}
    decided = screen_one(screening, [fact], day="2026-06-30")
    assert isinstance(decided, Decision), decided
    return decided.verdicts["E1"].verdict


HALF_LIVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.builds(lambda v, u: f"{v} {u}", st.decimals(-1000, 1000, places=3),
              st.sampled_from(["h", "d", "min", "s", "week", "month", "year", "mg", "hr", "?"])),
    st.fixed_dictionaries({"value": st.one_of(st.integers(-5, 500), st.text(max_size=3)),
                           "unit": st.sampled_from(["h", "d", "wk", "month", "", "kg"])}))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(HALF_LIVES)
def test_any_half_life_given_is_a_decision_or_an_input_error(screening, half_life):
    """Whatever a fact file gives for a half-life, the patient is decided or set aside with the
    field named: never a traceback, never a guess."""
    fact = {**course("2026-02-20"), **({} if half_life is None else {"half_life": half_life})}
    decided = outcome(screening, fact)
    if isinstance(decided, Rejected):
        assert decided.problems and all(p.field == "half_life" for p in decided.problems), \
            decided.problems
    else:
        assert isinstance(decided, Decision)


def test_the_editor_completes_shorter_or_longer():
    typed = HEAD + 'inclusion I1 "x": chemo within 28 days or 5 half_life, whichever is '
    assert expected(typed)[0] == ["greater", "less", "longer", "shorter"]


# --- strictly: `less than D or N half_life` -------------------------------------------------------

STRICT = """protocol "strict washout" version "1"
concepts:
  first_dose: date
  anticancer: medication {pembrolizumab, docetaxel} with half_life in h
exclusion E1 "Anticancer therapy less than 28 days or 5 half-lives, whichever is less,"
    "before the first dose":
    anticancer less than 28 days or 5 half_life, whichever is less, before first_dose
exclusion E2 "Anticancer therapy less than 14 days or 5 half-lives (whichever is greater)"
    "prior to the first dose":
    anticancer less than 14 days or 5 half_life (whichever is greater) prior to first_dose
"""


@pytest.fixture(scope="module")
def strictly() -> Screening:
    return Screening(network_from_text(STRICT, "strict.proto-rules"))


@pytest.mark.parametrize("courses, expected", [
    # ended 2026-03-05, 5 days before: 5 x 24 h is 5 days, not less than 5
    ([course("2026-03-05", "24 h")], {"E1": "NOT_MET", "E2": "MET"}),
    ([course("2026-03-05", "24.1 h")], {"E1": "MET", "E2": "MET"}),  # 5.02 days
    # ended 2026-02-20, 18 days before: 86.4 h is 18 days exactly, 86.5 h a little more
    ([course("2026-02-20", "86.4 h")], {"E1": "NOT_MET", "E2": "NOT_MET"}),
    ([course("2026-02-20", "86.5 h")], {"E1": "MET", "E2": "MET"}),
    # ended 2026-02-10, 28 days before: not less than 28 days, whatever the half-life
    ([course("2026-02-10", "2 week")], {"E1": "NOT_MET", "E2": "MET"}),
    ([course("2026-02-10")], {"E1": "NOT_MET", "E2": "UNKNOWN"}),
    ([course("2026-02-11")], {"E1": "UNKNOWN", "E2": "UNKNOWN"}),  # 27 days: the half-life decides
])
def test_less_than_the_half_lives_is_strict(strictly, courses, expected):
    found = verdicts(strictly, *[{k: v for k, v in c.items() if v is not None} for c in courses])
    assert {c: found[c] for c in expected} == expected


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=60), st.one_of(st.none(), st.integers(1, 4000)),
       st.sampled_from(sorted(UNITS)))
def test_the_verdict_is_the_exact_strict_washout(strictly, days_before, tenths, unit):
    """As `test_the_verdict_is_the_exact_washout`, each bound not counted: the first dose less
    than 28 (14) days, and less than 5 half-lives, after the course's last day."""
    end = FIRST_DOSE - timedelta(days=days_before)
    half_life = None if tenths is None else f"{Decimal(tenths) / 10} {unit}"
    found = verdicts(strictly, course(end.isoformat(), half_life, start=min(
        end, date(2026, 1, 5)).isoformat()))
    by_reach = None if tenths is None else \
        days_before < 5 * Fraction(tenths, 10) * UNITS[unit]
    within_28, within_14 = days_before < 28, days_before < 14
    shorter = False if not within_28 or by_reach is False else by_reach
    longer = True if within_14 or by_reach else None if by_reach is None else False
    kleene = {None: "UNKNOWN", True: "MET", False: "NOT_MET"}
    assert (found["E1"], found["E2"]) == (kleene[shorter], kleene[longer])


def test_the_trail_says_less_than_the_half_lives(strictly):
    decided = outcome(strictly, course("2026-03-05", "24 h"))
    line = "".join(Recorder(strictly.network).lines(decided)[0])
    assert "(window from 2026-02-10 to 2026-03-10, 2026-02-10 itself not counted; first_dose " \
           "2026-03-10); and less than 5 half_life after its last day: to 2026-03-09" in line
    assert "or less than 5 half_life after its last day before first_dose 2026-03-10: to " \
           "2026-03-09" in line


def test_boundary_cases_of_a_strict_washout(capsys, tmp_path):
    """`edge-cases` adds a half-life whose 5 reach a whole number of days exactly, where the
    strict window ends a day sooner; the network agrees with every case."""
    written, _ = boundary_cases(capsys, tmp_path, STRICT, {
        "patient": "B", "screening_date": "2026-03-01", "facts": [
            {"concept": "first_dose", "value": "2026-03-10"}]})
    assert 'anticancer on 2026-02-25, half_life 67.2 h: anticancer less than 28 days or 5 ' \
           'half_life, whichever is less, before first_dose"\n    description: "first_dose ' \
           '2026-03-10: ' in written
    assert '5 x 67.2 h = 14 days, less than it 13 whole days, to 2026-03-10; whichever is ' \
           'less' in written


def test_the_trail_of_a_course_going_on_and_of_none(screening):
    """A course still going on reaches no last day ("as it goes on"); a history recorded as
    none has no course to list. Each verdict as the network decides it."""
    decided = outcome(screening, {**course("2026-02-20", "24 h"), "end": None, "ongoing": True})
    assert isinstance(decided, Decision) and decided.verdicts["E1"].verdict == "MET"
    line = "".join(Recorder(screening.network).lines(decided)[0])
    assert "and within 5 half_life of its last day: as it goes on" in line
    decided = outcome(screening, {"concept": "anticancer", "present": False})
    assert isinstance(decided, Decision) and decided.verdicts["E1"].verdict == "NOT_MET"
    line = "".join(Recorder(screening.network).lines(decided)[0])
    assert "anticancer: recorded as none" in line and "of its last day: " not in line
    assert "; or\"" not in line and "; or," not in line  # whichever is longer: nothing to add
