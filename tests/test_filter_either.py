"""A filter's clauses joined by `or`, in parentheses: `therapy where (line is 1 or response is
refractory) ever`. An item passes `(a or b)` when it surely passes one of them, fails it when it
surely fails each, and may pass it otherwise (a clause on an attribute it does not record):
Kleene's `or` per item, then the history's own quantifier (some item, at least N, none known,
the most recent, during another history).

One inclusion criterion per condition, so MET reads "true", NOT_MET "false", UNKNOWN "open". The
screening date is 2026-06-30 and the first dose 2026-06-15.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.run import Screening
from engine.shape import holds
from tests.conftest import (STATUS, boundary_cases, decided, judged, load_errors,
                            network_from_text)

PROTOCOL = """protocol "either" version "1"
concepts:
  first_dose: date
  therapy: medication {lenalidomide, bortezomib, daratumumab} dosed in mg/d
      with line {1, 2, 3} with response {refractory, relapsed, responsive} with cycles number
  infection: event graded with site {lung, skin, blood}
inclusion O1 "Refractory to, or a first line of": therapy where (line is 1 or response is
    refractory) ever
inclusion O2 "At least 2 of 4 cycles or more, or refractory, not daratumumab": at least 2 therapy
    where (cycles >= 4 or response is refractory) and drug is not daratumumab ever
inclusion O3 "No known therapy over 20 mg/d or of a third line": no known therapy where
    (dose > 20 mg/d or line is 3)
inclusion O4 "The latest first line or refractory therapy more than 6 months ago": the latest
    therapy where (line is 1 or response is refractory) more than 6 months before screening
inclusion O5 "Grade 3 or higher lung or blood infection within 30 days": infection where
    (site is lung or site is blood) with grade >= 3 within 30 days before first_dose
inclusion O6 "A lung or blood infection during therapy": infection where (site is lung or site
    is blood) during therapy
inclusion O7 "At least 2 lines of 4 cycles or more, or refractory": at least 2 lines of therapy
    where (response is refractory or cycles >= 4) ever
inclusion O8 "Known refractory or daratumumab therapy within 2 years": known therapy where
    (response is refractory or drug is daratumumab) within 2 years before screening
inclusion O9 "A lung or blood infection during any therapy": infection where (site is lung or
    site is blood) during any therapy
inclusion O10 "No known refractory third line": no known therapy where (line is 3 and response is
    refractory)
"""


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "either.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def therapy(day: str = "2025-01-01", drug: str = "bortezomib", **more: Any) -> dict[str, Any]:
    return {"concept": "therapy", "drug": drug, "date": day, "end": day, **more}


def infection(day: str, grade: int = 3, **more: Any) -> dict[str, Any]:
    return {"concept": "infection", "date": day, "grade": grade, **more}


FIRST_DOSE = {"concept": "first_dose", "value": "2026-06-15"}
NONE = {"concept": "therapy", "present": False}
COURSE = therapy("2026-01-01", end="2026-03-01")

CASES = [
    # therapy where (line is 1 or response is refractory) ever
    ("O1", "a first line", [therapy(line=1, response="relapsed")], "MET"),
    ("O1", "refractory", [therapy(line=2, response="refractory")], "MET"),
    ("O1", "neither", [therapy(line=2, response="relapsed")], "NOT_MET"),
    ("O1", "a second line, no response", [therapy(line=2)], "UNKNOWN"),
    ("O1", "no line, refractory", [therapy(response="refractory")], "MET"),
    ("O1", "nothing recorded of either", [therapy()], "UNKNOWN"),
    ("O1", "one fails, one open", [therapy(line=2, response="relapsed"),
                                   therapy("2025-06-01", line=3)], "UNKNOWN"),
    ("O1", "one fails, one passes", [therapy(line=2, response="relapsed"),
                                     therapy("2025-06-01", line=1)], "MET"),
    ("O1", "recorded as none", [NONE], "NOT_MET"),
    ("O1", "no therapy recorded", [], "UNKNOWN"),
    # at least 2 therapy where (cycles >= 4 or response is refractory) and drug is not dara...
    ("O2", "two of 4 cycles or more", [therapy(cycles=6), therapy("2025-06-01", cycles=4)],
     "MET"),
    ("O2", "one of 6 cycles, one refractory", [
        therapy(cycles=6), therapy("2025-06-01", cycles=2, response="refractory")], "MET"),
    ("O2", "the second is daratumumab", [
        therapy(cycles=6), therapy("2025-06-01", "daratumumab", cycles=6)], "NOT_MET"),
    ("O2", "the second of 2 cycles, no response", [
        therapy(cycles=6), therapy("2025-06-01", cycles=2)], "UNKNOWN"),
    ("O2", "the second of 2 cycles, relapsed", [
        therapy(cycles=6), therapy("2025-06-01", cycles=2, response="relapsed")], "NOT_MET"),
    ("O2", "the second of 3.999 cycles, relapsed", [
        therapy(cycles=6), therapy("2025-06-01", cycles=3.999, response="relapsed")], "NOT_MET"),
    # no known therapy where (dose > 20 mg/d or line is 3)
    ("O3", "nothing recorded (open world)", [], "MET"),
    ("O3", "25 mg/d of a first line", [therapy(line=1, dose=25, unit="mg/d")], "NOT_MET"),
    ("O3", "20 mg/d of a first line", [therapy(line=1, dose=20, unit="mg/d")], "MET"),
    ("O3", "no dose, a first line", [therapy(line=1)], "UNKNOWN"),
    ("O3", "no dose, a third line", [therapy(line=3)], "NOT_MET"),
    ("O3", "20 mg/d, no line", [therapy(dose=20, unit="mg/d")], "UNKNOWN"),
    # the latest therapy where (line is 1 or response is refractory) more than 6 months before
    ("O4", "one first line long ago", [therapy(line=1)], "MET"),
    ("O4", "a refractory one since", [therapy(line=1), therapy(
        "2026-03-01", line=2, response="refractory")], "NOT_MET"),
    ("O4", "one that may pass since", [therapy(line=1), therapy("2026-03-01", line=2)],
     "UNKNOWN"),
    ("O4", "one that fails since", [therapy(line=1), therapy(
        "2026-03-01", line=2, response="relapsed")], "MET"),
    # infection where (site is lung or site is blood) with grade >= 3 within 30 days before
    ("O5", "blood, grade 3", [FIRST_DOSE, infection("2026-06-01", site="blood")], "MET"),
    ("O5", "skin, grade 3", [FIRST_DOSE, infection("2026-06-01", site="skin")], "NOT_MET"),
    ("O5", "no site, grade 3", [FIRST_DOSE, infection("2026-06-01")], "UNKNOWN"),
    ("O5", "lung, grade 2", [FIRST_DOSE, infection("2026-06-01", 2, site="lung")], "NOT_MET"),
    ("O5", "lung, a day outside", [FIRST_DOSE, infection("2026-05-15", site="lung")],
     "NOT_MET"),
    # infection where (site is lung or site is blood) during therapy
    ("O6", "lung, during", [COURSE, infection("2026-02-01", site="lung")], "MET"),
    ("O6", "skin, during", [COURSE, infection("2026-02-01", site="skin")], "NOT_MET"),
    ("O6", "no site, during", [COURSE, infection("2026-02-01")], "UNKNOWN"),
    ("O6", "blood, after", [COURSE, infection("2026-04-01", site="blood")], "NOT_MET"),
    ("O9", "blood, during an earlier course", [
        therapy("2025-01-01", end="2025-03-01"), COURSE, infection("2025-02-01", site="blood")],
     "MET"),
    ("O9", "skin, during an earlier course", [
        therapy("2025-01-01", end="2025-03-01"), COURSE, infection("2025-02-01", site="skin")],
     "NOT_MET"),
    ("O9", "no site, during an earlier course", [
        therapy("2025-01-01", end="2025-03-01"), COURSE, infection("2025-02-01")], "UNKNOWN"),
    # at least 2 lines of therapy where (response is refractory or cycles >= 4) ever
    ("O7", "two lines", [therapy(line=1, cycles=6), therapy(
        "2025-06-01", line=2, response="refractory")], "MET"),
    ("O7", "one line twice", [therapy(line=1, cycles=6), therapy(
        "2025-06-01", line=1, response="refractory")], "NOT_MET"),
    ("O7", "the second line fails", [therapy(line=1, cycles=6), therapy(
        "2025-06-01", line=2, cycles=2, response="relapsed")], "NOT_MET"),
    ("O7", "the second line may pass", [therapy(line=1, cycles=6), therapy(
        "2025-06-01", line=2, cycles=2)], "UNKNOWN"),
    # no known therapy where (line is 3 and response is refractory): both, in parentheses
    ("O10", "nothing recorded (open world)", [], "MET"),
    ("O10", "a refractory third line", [therapy(line=3, response="refractory")], "NOT_MET"),
    ("O10", "a relapsed third line", [therapy(line=3, response="relapsed")], "MET"),
    ("O10", "a third line, no response", [therapy(line=3)], "UNKNOWN"),
    ("O10", "a second line, no response", [therapy(line=2)], "MET"),
    # known therapy where (response is refractory or drug is daratumumab) within 2 years
    ("O8", "nothing recorded (open world)", [], "NOT_MET"),
    ("O8", "daratumumab", [therapy("2026-01-01", "daratumumab")], "MET"),
    ("O8", "bortezomib, no response", [therapy("2026-01-01")], "UNKNOWN"),
    ("O8", "bortezomib, relapsed", [therapy("2026-01-01", response="relapsed")], "NOT_MET"),
    ("O8", "refractory, before the window", [therapy("2024-06-29", response="refractory")],
     "NOT_MET"),
]




def _decided(screening: Screening, facts: list[dict[str, Any]]):
    return decided(screening, facts, path="either.jsonl")


@pytest.mark.parametrize("criterion, name, facts, expected", CASES,
                         ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_either_clause(network, screening: Screening, criterion: str, name: str,
                       facts: list[dict[str, Any]], expected: str) -> None:
    """The network's verdict, and the trail's judgment of the same part agreeing with it."""
    result = _decided(screening, facts)
    assert result.verdicts[criterion].verdict == expected
    assert judged(network, result, criterion)["status"] == STATUS[expected]


def test_the_trail_names_only_what_an_item_leaves_open(network, screening: Screening) -> None:
    """A second line without a response: the response leaves it open, not the line."""
    evidence = judged(network, _decided(screening, [therapy(line=2)]), "O1")
    assert evidence["status"] == "unknown"
    assert evidence["detail"].endswith(
        "(not every item records its response: the items do not decide it)"), evidence
    evidence = judged(network, _decided(screening, [COURSE, infection("2026-02-01")]), "O6")
    assert "(not every item records its site: the items do not decide it)" in \
        evidence["detail"]
    evidence = judged(network, _decided(screening, [COURSE, infection("2026-02-01")]), "O9")
    assert "(not every infection records its site: the items do not decide it)" in \
        evidence["detail"], evidence


# --- against Kleene's `or` per item, worked out here --------------------------------------------

ITEM = st.fixed_dictionaries({}, optional={
    "line": st.sampled_from([1, 2, 3]),
    "response": st.sampled_from(["refractory", "relapsed", "responsive"]),
    "cycles": st.sampled_from([2, 4, 6]),
    "dose": st.sampled_from([10, 20, 25]),
})


def _is(item: dict, field: str, passes) -> str:
    return "unknown" if field not in item else str(passes(item[field])).lower()


def _first_or_refractory(item: dict) -> str:
    return holds("any", [_is(item, "line", lambda v: v == 1),
                         _is(item, "response", lambda v: v == "refractory")])


def _high_or_third(item: dict) -> str:
    return holds("any", [_is(item, "dose", lambda v: v > 20),
                         _is(item, "line", lambda v: v == 3)])


def _some(statuses: list[str], recorded: bool) -> str:
    """Some item passes: none recorded as none is false, nothing recorded unknown."""
    if not statuses:
        return "false" if recorded else "unknown"
    return holds("any", statuses)


@settings(max_examples=80, deadline=None)
@given(st.lists(ITEM, max_size=3), st.booleans())
def test_some_item_and_none_known_are_kleene_or_per_item(network, screening: Screening,
                                                         items: list[dict], none: bool) -> None:
    """O1 (some item passes) and O3 (no known item passes, open world) on random items."""
    facts = [therapy(f"2025-0{i + 1}-01", **item, **({"unit": "mg/d"} if "dose" in item else {}))
             for i, item in enumerate(items)] or ([NONE] if none else [])
    result = _decided(screening, facts)
    some = _some([_first_or_refractory(i) for i in items], none)
    known = [_high_or_third(i) for i in items]
    none_known = {"true": "false", "false": "true"}.get(holds("any", known), "unknown") \
        if items else "true"
    verdict = {"true": "MET", "false": "NOT_MET", "unknown": "UNKNOWN"}
    for criterion, expected in (("O1", some), ("O3", none_known)):
        assert result.verdicts[criterion].verdict == verdict[expected], (criterion, facts)
        assert judged(network, result, criterion)["status"] == expected, (criterion, facts)


# --- checks and syntax ----------------------------------------------------------------------------

HEAD = """protocol "t" version "1"
concepts:
  therapy: medication {lenalidomide, bortezomib} dosed in mg/d with line {1, 2, 3}
      with response {refractory, relapsed}
"""



@pytest.mark.parametrize("src, expected", [
    ('inclusion I1 "x": therapy where line is 1 or response is refractory ever',
     "5:43 unexpected 'or'; clauses of a filter joined by 'or' go in parentheses: 'where (line "
     "is 1 or response is refractory)'"),
    ('inclusion I1 "x": no known therapy where line is 1 or response is refractory',
     "5:55 unknown name 'response'; response is an attribute of therapy: after 'no known "
     "therapy where', clauses joined by 'and' or 'or' go in parentheses ('where (a and b)', "
     "'where ((a or b) and c)'): outside them, 'and' and 'or' join conditions"),
    ('inclusion I1 "x": therapy where (line is 1 or line is 2) and line is 2 or response is '
     'relapsed ever',
     "5:72 unexpected 'or'; clauses of a filter joined by 'or' go in parentheses: 'where (line "
     "is 1 or response is refractory)'"),
    ('inclusion I1 "x": therapy where (line is 1 and response is refractory or line is 2) ever',
     "5:71 unexpected 'or'; inside a filter's parentheses the clauses are joined by 'or' or by "
     "'and', not both: '(a or b) and c'"),
    ('inclusion I1 "x": therapy where (line is 1 or response is refractory and line is 2) ever',
     "5:70 unexpected 'and'; inside a filter's parentheses the clauses are joined by 'or' or by "
     "'and', not both: '(a or b) and c'"),
    ('inclusion I1 "x": therapy where (line is 1) ever',
     "5:43 unexpected ')'; a filter's parentheses hold two clauses or more, joined by 'or' (or "
     "by 'and')"),
    ('inclusion I1 "x": therapy where (line is 4 or respons is refractory) ever',
     "5:42 '4' is not a value of 'therapy line'; its values are 1, 2, 3\n"
     "5:47 'therapy' records no attribute 'respons'; did you mean 'response'?"),
])
def test_either_diagnostics(src: str, expected: str) -> None:
    assert "\n".join(load_errors(HEAD + src)) == expected


def test_either_parses_as_one_clause_and_prints_as_written() -> None:
    from grammar.parser import parse
    from protocol import model as m

    protocol = parse(HEAD + 'inclusion I1 "x": therapy where drug is lenalidomide and '
                     '(line is 1 or response is refractory or dose > 10 mg/d) ever\n', "t.pr")
    (plain, either) = protocol.criteria[0].condition.filters
    assert isinstance(plain, m.Where) and isinstance(either, m.Either)
    assert str(either) == "(line is 1 or response is refractory or dose > 10 mg/d)"
    assert [str(c) for c in m.clauses((plain, either))] == [
        "drug is lenalidomide", "line is 1", "response is refractory", "dose > 10 mg/d"]


def test_edge_cases_of_either(tmp_path, capsys) -> None:
    """Boundary items of `(a or b)`: both failing, each passing alone, each unrecorded, a dose
    at its threshold's neighbours; all decided by the network as worked out, none left out."""
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-06-30", "facts": [
            FIRST_DOSE, therapy(line=2, response="relapsed", cycles=2, dose=10, unit="mg/d"),
            infection("2026-01-01", 1, site="skin")]})
    assert "not generated" not in text
    for said in ("dose 20 mg/d and line 1 fails (dose > 20 mg/d or line is 3)",
                 "dose 20 mg/d and line 3: therapy where (dose > 20 mg/d or line is 3) ever",
                 "no dose recorded: it may or may not pass",
                 "line 2 and response relapsed fails (line is 1 or response is refractory)",
                 "response refractory passes (line is 1 or response is refractory)",
                 "no line recorded: it may or may not pass",
                 "no response recorded: (line is 1 or response is refractory) is true"):
        assert said in text, said


# --- many alternatives ----------------------------------------------------------------------------

WIDE = """protocol "wide" version "1"
concepts:
  first_dose: date
  therapy: medication {lenalidomide, bortezomib} with line {1, 2, 3}
      with response {refractory, relapsed, responsive} with route {oral, iv, sc}
  infection: event graded with site {lung, skin, blood} with kind {bacterial, viral}
inclusion W1 "Two groups and a grade": infection where (site is lung or kind is viral) and
    (site is blood or kind is bacterial) with grade >= 3 within 1 year before screening
inclusion W2 "Three sets of values": therapy where line is one of {1, 2, 3} and response is one
    of {refractory, relapsed, responsive} and route is one of {oral, iv} ever
inclusion W3 "Three groups of three": therapy where (line is 1 or response is refractory or
    route is oral) and (line is 2 or response is relapsed or route is iv) and (line is 3 or
    response is responsive or route is sc) ever
inclusion W4 "Nested, after no known": no known therapy where ((line is 1 or line is 2) and
    response is relapsed)
inclusion W5 "Three groups of three, from the first dose": therapy where (line is 1 or response
    is refractory or route is oral) and (line is 2 or response is relapsed or route is iv) and
    (line is 3 or response is responsive or route is sc) within 4 weeks before first_dose
"""


def _course(**fields: Any) -> dict[str, Any]:
    return {"concept": "therapy", "drug": "bortezomib", "date": "2025-01-01",
            "end": "2025-02-01", **fields}


@pytest.mark.parametrize("facts, expected", [
    # nothing recorded: a record no item may count in (its possibility nodes' fact matched by a
    # rule of its own; the engine refused the batch, or crashed, before)
    ([], {"W1": "UNKNOWN", "W2": "UNKNOWN", "W3": "UNKNOWN", "W4": "MET"}),
    ([{"concept": "therapy", "present": False}, {"concept": "infection", "present": False}],
     {"W1": "NOT_MET", "W2": "NOT_MET", "W3": "NOT_MET", "W4": "MET"}),
    ([{"concept": "infection", "date": "2026-06-01", "grade": 3, "site": "lung",
       "kind": "viral"}], {"W1": "NOT_MET"}),
    ([{"concept": "infection", "date": "2026-06-01", "grade": 3, "site": "lung",
       "kind": "bacterial"}], {"W1": "MET"}),
    # no first dose recorded: W5 is false where no course may pass the filter, whatever the day
    ([_course(line=1, response="relapsed", route="sc")],
     {"W2": "NOT_MET", "W3": "MET", "W4": "NOT_MET", "W5": "UNKNOWN"}),
    ([_course(line=1, response="relapsed", route="oral")],
     {"W2": "MET", "W3": "NOT_MET", "W4": "NOT_MET", "W5": "NOT_MET"}),
    ([_course(line=1, route="oral")],
     {"W2": "UNKNOWN", "W3": "UNKNOWN", "W4": "UNKNOWN", "W5": "UNKNOWN"}),
    ([{"concept": "first_dose", "value": "2025-01-20"},
      _course(line=1, response="relapsed", route="sc")], {"W5": "MET"}),
    ([_course(line=3, route="iv")], {"W2": "UNKNOWN", "W3": "UNKNOWN", "W4": "MET"}),
])
def test_many_alternatives_decide(facts: list[dict[str, Any]], expected: dict[str, str]) -> None:
    """Filters of many alternatives: a record without items, and three groups of three (27
    alternatives an item may pass, tested on each item's own fact, as `at least N` is)."""
    network = _wide()
    result = decided(Screening(network), facts, path="wide.jsonl")
    for criterion, verdict in expected.items():
        assert result.verdicts[criterion].verdict == verdict, criterion
        assert judged(network, result, criterion)["status"] == STATUS[verdict], criterion


@functools.cache
def _wide():
    return network_from_text(WIDE, "wide.proto-rules")


def test_too_many_alternatives_are_refused_saying_why() -> None:
    """Eight groups of three: more alternatives than the engine's rules hold, refused before it
    is built, saying what multiplies them."""
    from protocol.errors import ProtocolError

    groups = ["(line is 1 or route is iv or response is relapsed)",
              "(response is refractory or route is iv or line is 1)",
              "(response is responsive or route is iv or line is 2)",
              "(route is iv or line is 1 or response is refractory)",
              "(line is 3 or route is oral or response is relapsed)",
              "(route is iv or line is 2 or response is responsive)",
              "(line is 3 or response is refractory or route is iv)",
              "(response is responsive or line is 3 or route is oral)"]
    text = WIDE.split("inclusion")[0] + f'inclusion I1 "x": therapy where ' \
        f'{" and ".join(groups)} ever\n'
    with pytest.raises(ProtocolError) as refused:
        network_from_text(text)
    assert "write fewer alternatives on a history's items (each value of 'is one of' and each " \
        "clause in a filter's parentheses is one" in str(refused.value)


def test_edge_cases_say_what_they_do_not_generate(tmp_path, capsys) -> None:
    """Cases whose expectations the generator cannot work out alone are listed, saying why: a
    group reading what `other than` reads; a count by an attribute a group reads; a count by an
    attribute with too few values that pass the filter. With no case at all, `cases: []`
    (`test` then says the file has none)."""
    text, _ = boundary_cases(capsys, tmp_path, WIDE.split("inclusion")[0] + """\
inclusion C1 "x": infection other than {skin} where (kind is viral or site is lung) ever
inclusion C2 "x": at least 2 lines of therapy where (line is 1 or response is refractory) ever
inclusion C3 "x": at least 2 routes of therapy where route is not oral ever
""", {"patient": "B", "screening_date": "2026-06-30", "facts": [_course(line=2, route="iv")]},
                             tested=False)
    for said in ("site is read inside '(kind is viral or site is lung)' and by another clause",
                 "a count by line, which a filter's parentheses read",
                 "fewer than 3 declared route values that pass the filter to count",
                 "cases: []"):
        assert said in text, said
