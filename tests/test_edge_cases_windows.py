"""`proto-rules edge-cases` on windows counted from another history that the base patient gives
more than once (some of its items known only to the month, or without an end) or that the cases
give (its month-end cases moved with the patient), counts in such windows, windows on the start
or end of their own history, a count of drugs on one list and a score read by a formula
(`tests/data/edgecases/windows.proto-rules`); which item of a history is the most recent; and
every kind of atom of the language either varied, without edges, or listed as not generated.

The scenario file is written once through the CLI and decided by `proto-rules test`: its
expectations were worked out without the network, so a pass is the network agreeing; a case whose
expectation is turned on purpose fails.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import pytest

import cli
from engine import pipeline
from engine.edgecases import EDGELESS, EdgeCases, generator, read_by
from engine.edgecases.anchors import anchor_days, most_recent, span_of
from engine.edgecases.base import Skip
from engine.edgecases.windows import occurred_of
from protocol import model as m
from tests.conftest import ROOT

PROTOCOL = str(ROOT / "tests/data/edgecases/windows.proto-rules")
PATIENTS = str(ROOT / "tests/data/edgecases/windows.patients.jsonl")
#: How many boundary cases the fixture's patient W01 gives.
COUNT = 265
#: The lines of the file's header that say how cases were made: the base's two transplants do
#: not settle which started last, for the count and the window in months on its start.
UNSETTLED = tuple(f"# note: line {line}, {x}: counted from a course of the cases' own, "
                  "since the base's transplant does not settle the start of transplant (which "
                  "started last is not settled: 2026-03 or 2026-03-10 to 2026-03-12)\n"
                  for line, x in ((38, "infection"), (41, "neuropathy")))


def _cli(*argv: str) -> tuple[int, str]:
    """`proto-rules ARGV` in-process: its exit code and what it printed."""
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        code = cli.main(list(argv))
    return code, said.getvalue()


def _cases(text: str) -> dict[str, str]:
    """The file's cases by name, each as its lines."""
    blocks = text.split("\n  - name: ")[1:]
    return {json.loads(block.split("\n", 1)[0]): block for block in blocks}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The scenario file, which `proto-rules test` passes whole."""
    out = tmp_path_factory.mktemp("windows") / "edges.yaml"
    code, said = _cli("edge-cases", PROTOCOL, "--base", PATIENTS, "-o", str(out))
    assert code == 0 and said == f"{out}: {COUNT} boundary cases from W01\n", said
    text = out.read_text(encoding="utf-8")
    assert text.count("# note:") == 2 and "left out" not in text and "not generated" not in text
    assert all(line in text for line in UNSETTLED)
    code, said = _cli("test", PROTOCOL, str(out))
    assert code == 0 and f"=== {COUNT} passed (1 scenario file) ===" in said, said
    return out, _cases(text)


def test_a_window_counts_from_the_most_recent_of_several(written):
    """The base gives adjuvant therapy twice, the most recent listed first: the window counts
    from the end of the one that started last; a relapse on the earlier one's end is outside,
    and so it stays beside a course that started a day earlier and ends a day later."""
    _, cases = written
    relapse = "relapse within 6 months after the end of adjuvant"
    assert "E1: MET" in cases[f"relapse on 2026-01-15: the first day inside of {relapse}"]
    assert "E1: NOT_MET" in cases[f"relapse on 2026-01-14: the day before the window of "
                                  f"{relapse}"]
    earlier = cases[f"relapse on 2024-06-30, the end of the adjuvant before the most recent "
                    f"(2024-01-10 to 2024-06-30): {relapse}"]
    assert "E1: NOT_MET" in earlier and "replace:\n      - {\"concept\": \"relapse\"" in earlier
    beside = cases[f"relapse on 2026-01-15, beside another adjuvant from 2025-08-31 to "
                   f"2026-01-16: {relapse}"]
    assert "started last, so it is the most recent" in beside and "E1: MET" in beside
    assert beside.count('{"concept": "adjuvant"') == 3
    going = cases[f"adjuvant still going on, relapse on 2026-01-15: {relapse}"]
    assert '"date": "2024-01-10", "end": "2024-06-30"}' in going and "E1: UNKNOWN" in going
    # the window of `no known`, on the start of the most recent radiotherapy (2026-03-02)
    neuropathy = "neuropathy less than 4 weeks before the start of radiotherapy"
    assert "I1: MET" in cases[f"neuropathy on 2025-06-02, the start of the radiotherapy before "
                              f"the most recent (2025-06-02 to 2025-06-27): {neuropathy}"]
    assert "I1: NOT_MET" in cases[f"neuropathy on 2026-03-02: the last day inside of {neuropathy}"]


def test_a_count_in_a_window_on_another_history(written):
    """N-1, N and N+1 items counted from the end of the most recent adjuvant therapy; the anchor
    history recorded as none (false), still going on or not recorded (unknown); a count before
    the start of a transplant that the cases give, since the base has none."""
    _, cases = written
    relapses = "at least 2 relapse within 6 months after the end of adjuvant"
    for k, verdict in ((1, "NOT_MET"), (2, "MET"), (3, "MET")):
        assert f"E2: {verdict}" in cases[f"{k} item{'s' if k > 1 else ''} that count"
                                         f"{'' if k > 1 else 's'}: {relapses}"]
    assert "E2: MET" in cases[f"one on 2026-01-15, the window's edge: {relapses}"]
    assert "E2: NOT_MET" in cases[f"one outside the window: {relapses}"]
    assert "E2: NOT_MET" in cases[f"2 items that count, no adjuvant (recorded as none): "
                                  f"{relapses}"]
    assert "E2: UNKNOWN" in cases[f"2 items that count, adjuvant still going on: {relapses}"]
    assert "E2: UNKNOWN" in cases[f"2 items that count, no adjuvant: {relapses}"]
    infections = ("at least 2 infection with grade >= 3 less than 3 months before the start of "
                  "transplant")
    own = '{"concept": "transplant", "date": "2026-03-03", "end": "2026-04-02"}'
    two = cases[f"2 items that count: {infections}"]
    assert own in two and "E3: MET" in two
    assert "E3: NOT_MET" in cases[f"one outside the window: {infections}"]
    assert "E3: UNKNOWN" in cases[f"one known to the month 2025-12: {infections}"]
    assert own not in cases[f"2 items that count, no transplant: {infections}"]
    assert "E3: NOT_MET" in cases[f"2 items that count, no transplant (recorded as none): "
                                  f"{infections}"]


def test_a_most_recent_item_known_to_the_month_or_without_an_end(written):
    """The base's immunosuppressants: the most recent (MMF from 2024-09-01) is still going on, an
    older one is known only to the month and has no end recorded; which started last is settled,
    so a window on the start counts from 2024-09-01. Two transplants, one known only to the
    month of the other's start, do not settle it: the cases give a transplant of their own, and
    take the base's away where there is to be none."""
    _, cases = written
    after = "neuropathy within 12 weeks after the start of immunosuppressant"
    assert "E4: MET" in cases[f"neuropathy on 2024-11-24: the last day inside of {after}"]
    assert "E4: NOT_MET" in cases[f"neuropathy on 2024-11-25: the day after the window of {after}"]
    earlier = cases[f"neuropathy on 2024-02-01, the start of the immunosuppressant before the most "
                    f"recent (2024-02-01 to 2024-08-01): {after}"]
    assert "E4: NOT_MET" in earlier
    assert "E4: UNKNOWN" in cases[f"no immunosuppressant, neuropathy on 2024-09-01: {after}"]
    # radiotherapy known only to the month in 2024-11 is older than both dated courses
    assert "I1: MET" in cases["neuropathy on 2025-06-02, the start of the radiotherapy before the "
                              "most recent (2025-06-02 to 2025-06-27): neuropathy less than 4 "
                              "weeks before the start of radiotherapy"]
    infections = ("at least 2 infection with grade >= 3 less than 3 months before the start of "
                  "transplant")
    none = cases[f"2 items that count, no transplant: {infections}"]
    assert 'remove: ["transplant"]' in none and "E3: UNKNOWN" in none


def test_the_cases_own_course_moves_with_the_patient(written):
    """A window in months on the start of a transplant the cases give (90 to 60 days before
    screening, since the base's two do not settle which started last): in the cases with the
    patient moved so that the start falls on a month's end, the course is moved too, so it starts
    on the day the description counts from. Left where it was (2026-03-03), it put a neuropathy
    on 2025-09-29 inside the window that the case says is outside, and tested no clamping."""
    _, cases = written
    window = "neuropathy within 6 months before the start of transplant"
    for start, end, screening, outside, inside in (
            ("2026-03-31", "2026-04-30", "2026-06-29", "2025-09-29", "2025-09-30"),
            ("2026-12-31", "2027-01-30", "2027-03-31", "2026-06-29", "2026-06-30"),
            ("2028-02-29", "2028-03-30", "2028-05-29", "2027-08-28", "2027-08-29")):
        course = f'{{"concept": "transplant", "date": "{start}", "end": "{end}"}}'
        for day, which, verdict in ((outside, "the day before the window", "NOT_MET"),
                                    (inside, "the first day inside", "MET")):
            case = cases[f"neuropathy on {day}: {which} of {window}, the start of transplant "
                         f"on {start}"]
            assert f"{start} - 6 months = {inside} (dateutil)" in case, case
            assert case.count('"concept": "transplant"') == 1 and course in case, case
            assert f'screening_date: "{screening}"' in case and f"E8: {verdict}" in case, case
    # not moved, the course is the one of every other case
    given = cases[f"neuropathy on 2025-09-03: the first day inside of {window}"]
    assert '{"concept": "transplant", "date": "2026-03-03", "end": "2026-04-02"}' in given


@pytest.mark.parametrize("facts, edge, expected", [
    ([{"date": "2024-05-10", "end": "2024-06-01"}, {"date": "2024-05-10", "end": "2024-07-01"}],
     "end", 1),  # one day: the one that ended last
    ([{"date": "2024-05-10", "end": "2024-06-01"}, {"date": "2024-05-10", "ongoing": True}],
     "end", 1),  # going on ends last
    ([{"date": "2024-04"}, {"date": "2024-05-10", "end": "2024-05-20"}], "end", 1),
    ([{"date": "2024-05-10"}, {"date": "2024-05-10", "end": "2024-07"}], "start", 0),  # same day
    ([{"date": "2024-05"}, {"date": "2024-05-10", "end": "2024-05-20"}], "end",
     "which started last is not settled: 2024-05, no end recorded or 2024-05-10 to 2024-05-20"),
    ([{"date": "2024-05-10"}, {"date": "2024-05-10", "end": "2024-07"}], "end",
     "two started on 2024-05-10, and which ended last is not settled: 2024-05-10 to 2024-07 or "
     "2024-05-10, no end recorded"),
])
def test_which_item_is_the_most_recent(facts, edge, expected):
    """The one that started last; of two on one day, the one that ended last; a date known to the
    month, or a course without an end, settles it only when the other dates leave no doubt."""
    concept = m.Concept(None, "x", m.Kind.MEDICATION)  # type: ignore[arg-type]
    spans = [span_of({"concept": "x", **fact}, concept, date(2026, 6, 1)) for fact in facts]
    found = most_recent(spans, edge)  # type: ignore[arg-type]
    assert (found if isinstance(found, str) else spans.index(found)) == expected


@pytest.mark.parametrize("facts, edge, expected", [
    ([{"date": "2024-05-10", "end": "2024-06"}], "end", ("2024-06-01", "2024-06-30")),
    ([{"date": "2024-05-10", "end": "2024-05"}], "end", ("2024-05-10", "2024-05-31")),
    ([{"date": "2024-05", "end": "2024-06-20"}, {"date": "2024-05-10", "end": "2024-06-01"}],
     "end", ("2024-06-01", "2024-06-20")),  # either may have started last
    ([{"date": "2024-05", "end": "2024-06-20"}, {"date": "2024-05-10", "end": "2024-06-01"}],
     "start", ("2024-05-01", "2024-05-31")),
    ([{"date": "2024-04", "end": "2024-06-20"}, {"date": "2024-05-10", "end": "2024-06-01"}],
     "end", ("2024-06-01", "2024-06-01")),  # surely the later one
    ([{"date": "2024-05-10", "end": "2024-06"}, {"date": "2024-05-10", "end": "2024-07-01"}],
     "end", ("2024-07-01", "2024-07-01")),  # one day: the other surely ended last
    ([{"date": "2024-05-10", "ongoing": True}], "end",
     "the most recent has not ended: 2024-05-10, ongoing"),
    ([{"date": "2024-05-10"}], "end", "the end of the most recent is not recorded: 2024-05-10, "
     "no end recorded"),
    ([{"date": "2024-05", "ongoing": True}, {"date": "2024-05-10", "end": "2024-06-01"}], "end",
     "which started last is not settled, and one may still be going on: 2024-05, ongoing or "
     "2024-05-10 to 2024-06-01"),
])
def test_the_days_an_anchor_may_be(facts, edge, expected):
    """The anchor lies on the edge of whichever item may be the most recent (none other surely
    follows it): from the earliest to the latest of their edge days; none while one may still be
    going on."""
    concept = m.Concept(None, "x", m.Kind.MEDICATION)  # type: ignore[arg-type]
    spans = [span_of({"concept": "x", **fact}, concept, date(2026, 6, 1)) for fact in facts]
    found = anchor_days(spans, edge)  # type: ignore[arg-type]
    assert (found if isinstance(found, str) else tuple(map(str, found))) == expected


def test_a_window_on_its_own_history(written):
    """`relapse more than 1 year before the start of relapse`: the most recent relapse anchors,
    so the cases give the whole list: it and another a year and a day earlier (true) or a year
    earlier (false), with the most recent on 29 February and on month ends; another after it
    becomes the most recent. A grade, a count, a filter and `the latest` the same way."""
    _, cases = written
    own = "relapse more than 1 year before the start of relapse"
    assert "E5: MET" in cases[f"relapse on 2026-03-03 and on 2025-03-02: {own}"]
    assert "E5: NOT_MET" in cases[f"relapse on 2026-03-03 and on 2025-03-03: {own}"]
    leap = cases[f"relapse on 2024-02-29 and on 2023-02-27: {own}"]
    assert "2024-02-29 - 1 year = 2023-02-28 (dateutil)" in leap and "E5: MET" in leap
    assert "E5: NOT_MET" in cases[f"relapse on 2024-02-29 and on 2023-02-28: {own}"]
    later = cases[f"relapse from 2026-03-03 to 2026-04-02 and on 2026-03-04 (it started last: the "
                  f"most recent): {own}"]
    assert "the most recent relapse is the one on 2026-03-04" in later and "E5: NOT_MET" in later
    # its start known only to the month: no day of 2026-03 puts it a year before itself; another
    # relapse is decided a year before every day of it, open a year before some
    assert "E5: NOT_MET" in cases[f"relapse from 2026-03 to 2026-04-02 (known to the month): {own}"]
    for day, verdict in (("2025-02-28", "MET"), ("2025-03-01", "UNKNOWN"),
                         ("2025-03-30", "UNKNOWN"), ("2025-03-31", "NOT_MET")):
        assert f"E5: {verdict}" in cases[f"relapse from 2026-03 to 2026-04-02 and on {day}: {own}"]
    assert "E5: NOT_MET" in cases[f"no relapse (recorded as none): {own}"]
    graded = "infection with grade >= 3 within 30 days after the end of infection"
    assert "E6: NOT_MET" in cases[f"infection on 2026-04-02 (grade 2) and on 2026-04-01: {graded}"]
    assert "E6: MET" in cases[f"infection on 2026-04-02 (grade 2) and from 2026-04-01 to "
                              f"2026-04-02: {graded}"]
    tied = cases[f"infection from 2026-03-03 to 2026-04-02 (grade 2) and from 2026-03-03 to "
                 f"2026-04-03 (grade 2) and from 2026-03-02 to 2026-04-02: {graded}"]
    assert "the most recent infection is the one from 2026-03-03 to 2026-04-03" in tied
    assert "E6: NOT_MET" in tied
    assert "E6: UNKNOWN" in cases[f"infection from 2026-03-03, ongoing: {graded}"]
    # its end known to the month: its own end and the anchor are read apart, so it may end
    # before the anchor day (open), though it is the item the anchor is read from
    month = cases[f"infection from 2026-03-03 to 2026-04 (known to the month): {graded}"]
    assert "any day from 2026-04-01 to 2026-04-30" in month and "E6: UNKNOWN" in month
    counted = "at least 2 radiotherapy within 6 months before the start of radiotherapy"
    assert "E7: NOT_MET" in cases[f"radiotherapy on 2026-03-03 and on 2025-09-02: {counted}"]
    assert "E7: MET" in cases[f"radiotherapy on 2026-03-03 and on 2025-09-03: {counted}"]
    filtered = "adjuvant where drug is oxaliplatin at least 4 weeks before the end of adjuvant"
    assert "I5: MET" in cases[f"adjuvant on 2026-04-02 (drug capecitabine) and on 2026-03-05: "
                              f"{filtered}"]
    assert "I5: NOT_MET" in cases[f"adjuvant from 2026-03-06 to 2026-04-02: {filtered}"]
    latest = "the latest relapse more than 6 months before the end of relapse"
    assert "I6: MET" in cases[f"relapse from 2025-10-01 to 2026-04-02: {latest}"]
    assert "I6: NOT_MET" in cases[f"relapse from 2025-10-02 to 2026-04-02: {latest}"]


def test_an_anchor_known_only_within_days(written):
    """The most recent adjuvant's end known only to the month (2026-01): a relapse is decided
    where every day of that month agrees, before it or inside every window it may anchor, and
    open near the edges; the same for the start of immunosuppression known to 2024-09. Beside
    another adjuvant known only to the year that ends on 2026-01-25, either may be the most recent:
    the window counts from 2026-01-15 or 2026-01-25, decided on days both agree on. A course with
    no end recorded, or still going on, gives no anchor day: open."""
    _, cases = written
    relapse = "relapse within 6 months after the end of adjuvant"
    month = "the end of adjuvant known only to the month 2026-01"
    for day, verdict in (("2025-12-31", "NOT_MET"), ("2026-01-01", "UNKNOWN"),
                         ("2026-01-30", "UNKNOWN"), ("2026-01-31", "MET")):
        case = cases[f"relapse on {day}, {month}: {relapse}"]
        assert f"E1: {verdict}" in case and '"end": "2026-01"' in case, day
    assert "any day from 2026-01-01 to 2026-01-31" in cases[f"relapse on 2026-01-31, {month}: "
                                                           f"{relapse}"]
    beside = "beside another adjuvant from 2025 to 2026-01-25"
    for day, verdict in (("2026-01-14", "NOT_MET"), ("2026-01-15", "UNKNOWN"),
                         ("2026-01-24", "UNKNOWN"), ("2026-01-25", "MET")):
        case = cases[f"relapse on {day}, {beside}: {relapse}"]
        assert f"E1: {verdict}" in case and case.count('{"concept": "adjuvant"') == 3, day
    unended = cases[f"adjuvant with no end recorded, relapse on 2026-01-15: {relapse}"]
    assert "E1: UNKNOWN" in unended and '"date": "2025-09-01"}' in unended
    after = "neuropathy within 12 weeks after the start of immunosuppressant"
    started = "the start of immunosuppressant known only to the month 2024-09"
    for day, verdict in (("2024-08-31", "NOT_MET"), ("2024-09-01", "UNKNOWN"),
                         ("2024-11-24", "MET"), ("2024-12-23", "UNKNOWN"),
                         ("2024-12-24", "NOT_MET")):
        assert f"E4: {verdict}" in cases[f"neuropathy on {day}, {started}: {after}"], day


def test_drugs_of_a_set_on_one_list(written):
    """`includes at least 2 of {...}`: one, two and three drugs of the set, one beside a drug
    outside it or beside a second course of itself, one named by its synonym, none, nothing."""
    _, cases = written
    drugs = ("immunosuppressant includes at least 2 of {cyclophosphamide, MMF, azathioprine, "
             "tacrolimus}")
    expected = {"1 of the set": "NOT_MET", "2 of the set": "MET", "3 of the set": "MET",
                "1 of the set and rituximab": "NOT_MET",
                "1 of the set, cyclophosphamide twice": "NOT_MET",
                "2 of the set, MMF written mycophenolate mofetil": "MET",
                "no immunosuppressant (recorded as none)": "NOT_MET",
                "no immunosuppressant": "UNKNOWN"}
    for what, verdict in expected.items():
        assert f"I2: {verdict}" in cases[f"{what}: {drugs}"], what
    twice = cases[f"1 of the set, cyclophosphamide twice: {drugs}"]
    assert "1 distinct drug of the set (cyclophosphamide); needs at least 2: false" in twice
    assert '"drug": "mycophenolate mofetil"' in cases[f"2 of the set, MMF written mycophenolate "
                                                      f"mofetil: {drugs}"]


def test_a_score_in_a_formula_and_a_derived_value_between_two_thresholds(written):
    """A score is a plain number in a formula (`activity = sledai_2k x 2`); a derived value
    between two bounds is written as two thresholds (`check` refuses a range on one), each
    varied."""
    _, cases = written
    assert "I4: MET" in cases["sledai_2k 8: activity 16 %, exactly at activity >= 16 %"]
    assert "I4: NOT_MET" in cases["sledai_2k 7.999999: activity 15.999998 %, just under "
                                  "activity >= 16 %"]
    assert "I3: NOT_MET" in cases["weight 53.464998 kg: bmi 18.499999 kg/m2, just under bmi >= "
                                  "18.5 kg/m2"]
    assert "I3: MET" in cases["weight 86.7 kg: bmi 30 kg/m2, exactly at bmi <= 30 kg/m2"]


@pytest.mark.parametrize("case, name, turned", [
    ("twice", "1 of the set, cyclophosphamide twice: immunosuppressant includes at least 2 of "
     "{cyclophosphamide, MMF, azathioprine, tacrolimus}", ("I2: NOT_MET", "I2: MET")),
    ("earlier", "relapse on 2024-06-30, the end of the adjuvant before the most recent "
     "(2024-01-10 to 2024-06-30): relapse within 6 months after the end of adjuvant",
     ("E1: NOT_MET", "E1: MET")),
    ("none", "2 items that count, no adjuvant (recorded as none): at least 2 relapse within 6 "
     "months after the end of adjuvant", ("E2: NOT_MET", "E2: UNKNOWN")),
    ("going", "neuropathy on 2024-11-24: the last day inside of neuropathy within 12 weeks after "
     "the start of immunosuppressant", ("E4: MET", "E4: NOT_MET")),
    ("own", "relapse on 2024-02-29 and on 2023-02-28: relapse more than 1 year before the start "
     "of relapse", ("E5: NOT_MET", "E5: MET")),
    ("month", "relapse on 2026-01-31, the end of adjuvant known only to the month 2026-01: relapse "
     "within 6 months after the end of adjuvant", ("E1: MET", "E1: UNKNOWN")),
    ("moved", "neuropathy on 2025-09-29: the day before the window of neuropathy within 6 months "
     "before the start of transplant, the start of transplant on 2026-03-31",
     ("E8: NOT_MET", "E8: MET")),
    ("tied", "infection from 2026-03-03 to 2026-04-02 (grade 2) and from 2026-03-03 to 2026-04-03 "
     "(grade 2) and from 2026-03-02 to 2026-04-02: infection with grade >= 3 within 30 days after "
     "the end of infection", ("E6: NOT_MET", "E6: MET")),
])
def test_a_turned_expectation_fails(written, case, name, turned):
    """The pass means something: one expectation turned, that case (and only it) fails."""
    out, cases = written
    text = out.read_text(encoding="utf-8")
    block = cases[name]
    assert text.count(block) == 1 and turned[0] in block
    broken = out.with_name(f"turned-{case}.yaml")  # beside it: the same path to the patients
    broken.write_text(text.replace(block, block.replace(*turned)), encoding="utf-8")
    code, said = _cli("test", PROTOCOL, str(broken))
    assert code == 1 and f"=== 1 failed, {COUNT - 1} passed (1 scenario file) ===" in said, said
    assert f"::{name} FAILED" in said


def test_every_kind_of_atom_is_varied_or_said_not_to_be():
    """Every kind of atom the model has, as the examples and the fixtures write them: varied by a
    module, without edges (a flag, a value set, a drug on the list, `ever` alone), or listed as
    not generated, with why; none passed over unsaid."""
    found: dict[type, set[str]] = {}
    paths = sorted((ROOT / "examples").glob("*.proto-rules")) + \
        sorted((ROOT / "tests/data/edgecases").glob("*.proto-rules"))
    for path in paths:
        protocol, _ = pipeline.load(str(path))
        if not protocol.criteria:  # an escalation section only
            continue
        gen = EdgeCases(pipeline.compile(protocol), {"patient": "x", "screening_date":
                                                     "2026-06-01", "facts": []}, "x.jsonl")
        for atom, _ in gen.targets():
            try:
                vary = generator(atom, gen.concepts.get(read_by(atom).name))
            except Skip:
                found.setdefault(type(atom), set()).add("listed")
                continue
            if vary is None:
                occurred = occurred_of(atom) if isinstance(atom, (m.Occurred, m.NoKnown,
                                                                  m.Latest)) else None
                assert isinstance(atom, EDGELESS) or (
                    occurred is not None and occurred.window.kind == "ever" and
                    not occurred.filters and not occurred.grade), atom
            found.setdefault(type(atom), set()).add("edgeless" if vary is None else "varied")
    assert set(found) == {*m.ATOMS, m.AtLeast}
    assert found[m.AtLeast] == {"varied"}
