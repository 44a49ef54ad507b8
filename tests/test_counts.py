"""Counted histories (`at least N X where ... <window>`) at their boundaries: N - 1, N and N + 1
items, items outside the window or failing the filter, items that may count (a date known to the
month, an attribute not recorded), open world, a missing anchor; and the trail agrees.

Screening date 2026-06-30, first dose 2026-06-15.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from engine.audit.evidence import Explainer, criterion_parts
from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.checks import check
from protocol.limits import MAX_COUNT
from tests.conftest import assert_trail_agrees, judged, network_from_text, screen_one

PROTOCOL = """protocol "counts" version "1"
concepts:
  first_dose: date
  therapy: medication {cisplatin, carboplatin, imatinib, dasatinib}
      with kind {chemotherapy, tki} with setting {first_line, relapse}
  infection: event graded
  flag_a: flag
inclusion C1 "at least 2 prior lines of systemic therapy": at least 2 therapy ever
inclusion C2 "failed 2 lines of TKI": at least 2 therapy where kind is tki ever
inclusion C3 "3 severe infections in a year":
    at least 3 infection with grade >= 3 within 1 year before screening
inclusion C4 "two courses in the 4 weeks before the first dose":
    at least 2 therapy within 4 weeks before first_dose
inclusion C5 "not two TKIs, and a flag":
    not at least 2 therapy other than {cisplatin, carboplatin} ever and flag_a
"""


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "counts.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def outcome(screening: Screening, *facts: dict[str, Any]) -> Decision:
    result = screen_one(screening, facts, path="counts.jsonl")
    assert isinstance(result, Decision), result
    return result


def course(drug: str, day: str, **more: Any) -> dict[str, Any]:
    return {"concept": "therapy", "drug": drug, "date": day, "end": day, **more}


def tki(day: str, **more: Any) -> dict[str, Any]:
    return course("imatinib", day, kind="tki", **more)


def infection(day: str, grade: int = 3) -> dict[str, Any]:
    return {"concept": "infection", "date": day, "grade": grade}


FIRST_DOSE = {"concept": "first_dose", "value": "2026-06-15"}
FLAG = {"concept": "flag_a", "value": True}

CASES = [
    ("one course", "C1", [course("cisplatin", "2020-01-01")], "NOT_MET"),
    ("two courses", "C1", [course("cisplatin", "2020-01-01"), course("carboplatin", "2021-01-01")],
     "MET"),
    ("two courses of one drug count twice", "C1",
     [course("cisplatin", "2020-01-01"), course("cisplatin", "2021-01-01")], "MET"),
    ("three courses", "C1", [course("cisplatin", "2020-01-01"), course("cisplatin", "2021-01-01"),
                             course("imatinib", "2022-01-01")], "MET"),
    ("none recorded", "C1", [{"concept": "therapy", "present": False}], "NOT_MET"),
    ("nothing recorded", "C1", [], "UNKNOWN"),
    # filtered count
    ("two TKIs", "C2", [tki("2020-01-01"), tki("2021-01-01")], "MET"),
    ("one TKI and a chemotherapy", "C2",
     [tki("2020-01-01"), course("cisplatin", "2021-01-01", kind="chemotherapy")], "NOT_MET"),
    ("one TKI and one of unrecorded kind", "C2",
     [tki("2020-01-01"), course("dasatinib", "2021-01-01")], "UNKNOWN"),
    ("two TKIs beside one of unrecorded kind", "C2",
     [tki("2020-01-01"), tki("2021-01-01"), course("dasatinib", "2022-01-01")], "MET"),
    ("one chemotherapy and one of unrecorded kind", "C2",
     [course("cisplatin", "2020-01-01", kind="chemotherapy"), course("dasatinib", "2021-01-01")],
     "NOT_MET"),
    # graded events in a window: 2025-06-30 .. 2026-06-30
    ("three in the window", "C3",
     [infection("2025-06-30"), infection("2026-01-01"), infection("2026-06-30")], "MET"),
    ("one the day before the window", "C3",
     [infection("2025-06-29"), infection("2026-01-01"), infection("2026-06-30")], "NOT_MET"),
    ("one of grade 2", "C3",
     [infection("2025-07-01"), infection("2026-01-01", 2), infection("2026-06-30")], "NOT_MET"),
    ("one known only to the month across the edge", "C3",
     [infection("2025-06"), infection("2026-01-01"), infection("2026-06-30")], "UNKNOWN"),
    ("four, one across the edge", "C3",
     [infection("2025-06"), infection("2025-08-01"), infection("2026-01-01"),
      infection("2026-06-30")], "MET"),
    # from another anchor: 2026-05-18 .. 2026-06-15
    ("two in the window", "C4", [FIRST_DOSE, course("cisplatin", "2026-05-18"),
                                 course("cisplatin", "2026-06-01")], "MET"),
    ("one a day early", "C4", [FIRST_DOSE, course("cisplatin", "2026-05-17"),
                               course("cisplatin", "2026-06-01")], "NOT_MET"),
    ("no first dose", "C4", [course("cisplatin", "2026-06-01"), course("cisplatin", "2026-06-02")],
     "UNKNOWN"),
    ("no first dose, none recorded", "C4", [{"concept": "therapy", "present": False}], "NOT_MET"),
    # negated, with other than
    ("not: one TKI", "C5", [FLAG, tki("2020-01-01"), course("cisplatin", "2021-01-01")], "MET"),
    ("not: two TKIs", "C5", [FLAG, tki("2020-01-01"), course("dasatinib", "2021-01-01")],
     "NOT_MET"),
]


@pytest.mark.parametrize("name, criterion, facts, expected", CASES, ids=[c[0] for c in CASES])
def test_count_boundaries(network, screening: Screening, name: str, criterion: str,
                          facts: list[dict[str, Any]], expected: str) -> None:
    result = outcome(screening, *facts)
    assert result.verdicts[criterion].verdict == expected
    leaf = next(c for c in network.leaves if c.id == criterion)
    judged = Explainer(network.protocol, result.derived).judge(
        criterion_parts(leaf)[0], result.patient)
    held = {"MET": "true", "NOT_MET": "false", "UNKNOWN": "unknown"}[expected]
    assert judged["status"] == held, judged


def test_evidence_counts(network, screening: Screening) -> None:
    result = outcome(screening, tki("2020-01-01"), course("dasatinib", "2021-01-01"))
    leaf = next(c for c in network.leaves if c.id == "C2")
    judged = Explainer(network.protocol, result.derived).judge(
        criterion_parts(leaf)[0], result.patient)
    assert judged["status"] == "unknown"
    assert "; 1 count, 1 may; needs at least 2" in judged["detail"]
    assert "not every item records its kind" in judged["detail"]


def test_count_diagnostics() -> None:
    from grammar.parser import parse
    from protocol.checks import check

    src = PROTOCOL + 'inclusion C9 "x": at least 1 therapy where kind is tkl ever\n'
    found = [f"{d.span.line}:{d.span.column} {d.code}: {d.message}"
             for d in check(parse(src, "c.pr"))]
    assert found == [
        "16:19 count: 'at least 1 therapy ...' needs a count of 2 or more; for one, leave out "
        "'at least 1'",
        "16:52 unknown-value: 'tkl' is not a value of 'therapy kind'; did you mean 'tki'?"]


def test_amendment_diff_names_count_changes() -> None:
    from grammar.parser import parse
    from protocol.amend.diff import diff

    head = 'protocol "t"\nconcepts:\n  chemo: medication {a, b} dosed in mg/d\n'
    changes = [(old, new) for old, new in [
        ("at least 2 chemo ever", "at least 3 chemo where drug is a ever"),
        ("chemo dose at screening <= 10 mg/d", "chemo dose at screening <= 12 mg/d"),
        ("chemo dose stable for at least 30 days before screening",
         "chemo dose stable for at least 60 days before first_dose"),
    ]]
    kinds = []
    for old, new in changes:
        found = diff(parse(head + f'inclusion I1 "x": {old}', "a"),
                     parse(head + f'inclusion I1 "x": {new}', "b"))
        kinds.append([change.kind for entry in found.entries for change in entry.changes])
    assert kinds == [["count+filter"], ["threshold"], ["window"]]


def test_many_counts_on_one_list_fit_the_engine() -> None:
    """Thirty counting criteria on one list, filters large enough to be split: the item facts are
    grouped so none is read by more patterns than the engine's alpha stack holds (one fact read
    by all of them aborts the process), and the verdicts are the trail's."""
    text = ('protocol "many" version "1"\nconcepts:\n  first_dose: date\n'
            '  therapy: medication {a, b, c, d, e, f} with kind {x, y, z, w}'
            ' with route {oral, iv, sc}\n')
    for i in range(30):
        text += (f'inclusion C{i} "c": at least {2 + i % 3} therapy where kind is one of '
                 f'{{x, y, z}} and route is not oral and drug is one of {{a, b, c, d, e}} '
                 f'within {i + 1} months before first_dose\n')
    network = network_from_text(text, "many.proto-rules")
    facts = [{"concept": "first_dose", "value": "2026-06-15"}] + [
        {"concept": "therapy", "drug": "abcdef"[i % 6], "date": f"2026-0{1 + i % 6}-0{1 + i % 9}",
         "end": f"2026-0{1 + i % 6}-0{1 + i % 9}", "kind": "xyzw"[i % 4],
         "route": ["oral", "iv", "sc"][i % 3]} for i in range(12)]
    result = outcome(Screening(network), *facts)
    explainer = Explainer(network.protocol, result.derived)
    seen = set()
    for leaf in network.leaves:
        judged = explainer.judge(criterion_parts(leaf)[0], result.patient)
        verdict = result.verdicts[leaf.id].verdict
        assert {"true": "MET", "false": "NOT_MET", "unknown": "UNKNOWN"}[judged["status"]] == \
            verdict, (leaf.id, judged)
        seen.add(verdict)
    assert seen == {"MET", "NOT_MET"}
    assert len({group for group in network.items}) > 1


# --- counted by an attribute: `at least 2 lines of ...` ------------------------------------------

LINES = """protocol "lines" version "1"
concepts:
  tki: medication {imatinib, dasatinib, nilotinib} with outcome {failure, response}
      with line {1, 2, 3, 4}
inclusion L1 "failed 2 lines of TKI": at least 2 lines of tki where outcome is failure ever
inclusion L2 "3 lines of TKI": at least 3 line of tki ever
"""


def tki_line(drug: str, day: str, outcome: str | None = "failure", line: int | None = None) -> dict:
    fact = {"concept": "tki", "drug": drug, "date": day, "end": day}
    return {**fact, **({"outcome": outcome} if outcome else {}),
            **({"line": line} if line is not None else {})}


LINE_CASES = [
    ("two failed lines", [tki_line("imatinib", "2024-01-01", line=1),
                          tki_line("dasatinib", "2024-07-01", line=2)], ("MET", "NOT_MET")),
    ("a restart in the same line counts once", [tki_line("imatinib", "2024-01-01", line=1),
                                                tki_line("imatinib", "2024-07-01", line=1)],
     ("NOT_MET", "NOT_MET")),
    ("the second line not recorded", [tki_line("imatinib", "2024-01-01", line=1),
                                      tki_line("dasatinib", "2024-07-01")], ("UNKNOWN", "NOT_MET")),
    ("no line recorded", [tki_line("imatinib", "2024-01-01"), tki_line("dasatinib", "2024-07-01")],
     ("UNKNOWN", "NOT_MET")),
    ("the second line responded", [tki_line("imatinib", "2024-01-01", line=1),
                                   tki_line("nilotinib", "2024-07-01", "response", 2)],
     ("NOT_MET", "NOT_MET")),
    ("three lines, one restarted", [tki_line("imatinib", "2023-01-01", line=1),
                                    tki_line("imatinib", "2023-06-01", line=1),
                                    tki_line("dasatinib", "2024-01-01", line=2),
                                    tki_line("nilotinib", "2025-01-01", "response", 3)],
     ("MET", "MET")),
    ("two lines and one unrecorded", [tki_line("imatinib", "2023-01-01", line=1),
                                      tki_line("dasatinib", "2024-01-01", line=2),
                                      tki_line("nilotinib", "2025-01-01", "response")],
     ("MET", "UNKNOWN")),
    ("none recorded", [{"concept": "tki", "present": False}], ("NOT_MET", "NOT_MET")),
]


@pytest.fixture(scope="module")
def lines_network():
    return network_from_text(LINES, "lines.proto-rules")


@pytest.mark.parametrize("name, facts, expected", LINE_CASES, ids=[c[0] for c in LINE_CASES])
def test_counted_by_line(lines_network, name: str, facts: list[dict[str, Any]],
                         expected: tuple[str, str]) -> None:
    result = screen_one(Screening(lines_network), facts, path="lines.jsonl")
    assert isinstance(result, Decision), result
    assert_trail_agrees(lines_network, result, dict(zip(("L1", "L2"), expected)))


def test_counted_by_line_evidence(lines_network) -> None:
    result = screen_one(Screening(lines_network), [tki_line("imatinib", "2024-01-01", line=1),
                                                   tki_line("dasatinib", "2024-07-01")])
    detail = judged(lines_network, result, "L1")["detail"]
    assert detail.endswith("; 1 different line (1), 1 more may; needs at least 2 (not every item "
                           "records its line: the items do not decide it)")  # not its dates
    result = screen_one(Screening(lines_network), [tki_line("imatinib", "2024-01-01", None, 1),
                                                   tki_line("dasatinib", "2024-07-01")])
    assert judged(lines_network, result, "L1")["detail"].endswith(
        "(not every item records its line or outcome: the items do not decide it)")


def test_counted_by_an_attribute_not_declared() -> None:
    from grammar.parser import parse
    from protocol.checks import check

    found = [f"{d.span.line}:{d.span.column} {d.code}: {d.message}" for d in check(parse(
        LINES + 'inclusion L3 "x": at least 2 cycles of tki ever\n', "l.pr"))]
    assert found == ["7:30 undefined-attribute: 'tki' records no attribute 'cycles'; its "
                     "attributes are outcome, line"]


def test_counted_by_an_attribute_up_to_its_values_runs() -> None:
    """`at least 5 lines of ...` with five lines declared runs (it was one rule per way the items
    may differ, 2^(N-1), and 5 aborted the engine); six cannot be met, and `check` says so."""
    from grammar.parser import parse
    from protocol.checks import check

    text = LINES.replace("{1, 2, 3, 4}", "{1, 2, 3, 4, 5}") + (
        'inclusion L4 "5 lines": at least 5 lines of tki where outcome is one of {failure, '
        'response} ever\n')
    network = network_from_text(text, "lines5.proto-rules")
    five = [tki_line("imatinib", f"202{i}-01-01", line=i + 1) for i in range(5)]
    result = screen_one(Screening(network), five)
    assert isinstance(result, Decision) and result.verdicts["L4"].verdict == "MET"
    result = screen_one(Screening(network), five[:4] + [tki_line("dasatinib", "2025-01-01")])
    assert isinstance(result, Decision) and result.verdicts["L4"].verdict == "UNKNOWN"
    found = [f"{d.code}: {d.message}" for d in check(parse(
        text.replace("at least 5 lines", "at least 6 lines"), "l.pr")) if d.is_error]
    assert found == ["count-values: 'at least 6 lines of tki' asks for 6 different values of "
                     "'line', which declares 1, 2, 3, 4, 5: no patient has 6"]


def many(count: int, items: int, by: str = "") -> tuple[str, list[dict[str, Any]]]:
    """`at least <count> [lines of] mi ever` and a patient with `items` events (in five lines)."""
    text = ('protocol "many" version "1"\nconcepts:\n  mi: event graded with line {1, 2, 3, 4, 5}'
            f'\ninclusion I1 "t": at least {count} {by}mi ever\n')
    first = date(1930, 1, 1)
    return text, [{"concept": "mi", "date": (first + timedelta(days=i)).isoformat(), "grade": 1,
                   "line": 1 + i % 5, "k": i} for i in range(items)]


@pytest.mark.parametrize("count, items, expected", [
    (2, 30, "MET"), (8, 30, "MET"), (16, 30, "MET"), (30, 31, "MET"), (30, 29, "NOT_MET"),
    (MAX_COUNT, MAX_COUNT, "MET"), (MAX_COUNT, MAX_COUNT - 1, "NOT_MET")])
def test_many_items_are_counted_by_the_engine(count: int, items: int, expected: str) -> None:
    """A count was one rule joining N items, whose partial matches grew as C(items, N): 8 of 30
    matching items ran for minutes, 16 of 30 failed in the engine (error 304, at most 16 facts in
    a frame) and 30 of 31 aborted the process. The engine's own `count` now counts the items
    that meet, up to the largest count `check` accepts."""
    text, facts = many(count, items)
    result = screen_one(Screening(network_from_text(text, "many.proto-rules")),
                        [{k: v for k, v in f.items() if k != "k"} for f in facts])
    assert isinstance(result, Decision) and result.verdicts["I1"].verdict == expected


@pytest.mark.parametrize("lines, unrecorded, expected", [
    (5, 0, "MET"), (4, 0, "NOT_MET"), (4, 1, "UNKNOWN"), (3, 2, "UNKNOWN"), (3, 1, "NOT_MET")])
def test_many_items_in_few_lines_count_each_line_once(lines: int, unrecorded: int,
                                                     expected: str) -> None:
    """Two hundred courses in `lines` lines, beside `unrecorded` courses that record none (each
    may be a line of its own): `at least 5 lines` counts lines, not courses."""
    text, facts = many(5, 200, "lines of ")
    facts = [{**f, "line": 1 + f["k"] % lines} for f in facts] + [
        {"concept": "mi", "date": f"2000-01-0{1 + i}", "grade": 1} for i in range(unrecorded)]
    result = screen_one(Screening(network_from_text(text, "lines.proto-rules")),
                        [{k: v for k, v in f.items() if k != "k"} for f in facts])
    assert isinstance(result, Decision) and result.verdicts["I1"].verdict == expected


AT_MOST = """protocol "most" version "1"
concepts:
  cll_therapy: medication {fcr, bendamustine, ibrutinib} with line {l1, l2, l3, l4, l5}
  infection: event
inclusion I3 "Relapsed after one to three prior lines of therapy": 1 to 3 lines of cll_therapy ever
inclusion I4 "At most 2 prior lines": at most 2 lines of cll_therapy ever
exclusion E1 "Three or more infections in a year":
    not 0 to 2 infection within 1 year before screening
"""


def line_of(number: int | None, start: str = "2020-01-01") -> dict[str, Any]:
    return {"concept": "cll_therapy", "drug": "fcr", "date": start, "end": start,
            **({"line": f"l{number}"} if number else {})}


@pytest.mark.parametrize("facts, i3, i4", [
    ([{"concept": "cll_therapy", "present": False}], "NOT_MET", "MET"),
    ([line_of(1)], "MET", "MET"),
    ([line_of(1), line_of(2, "2021-01-01")], "MET", "MET"),
    ([line_of(1), line_of(2, "2021-01-01"), line_of(3, "2022-01-01")], "MET", "NOT_MET"),
    ([line_of(n, f"202{n}-01-01") for n in range(1, 5)], "NOT_MET", "NOT_MET"),
    # a line not recorded: 2 or 3 lines, within 1 to 3 either way, maybe over 2
    ([line_of(1), line_of(2, "2021-01-01"), line_of(None, "2022-01-01")], "MET", "UNKNOWN"),
    ([], "UNKNOWN", "UNKNOWN"),
])
def test_at_most_and_a_range_of_a_count(facts, i3, i4) -> None:
    """MURANO's "one to three prior therapies" and "at most 2" (a helper found neither said): at
    most N is not at least N + 1, a range both; decided as the counts are, in strong Kleene
    logic, and the sentence lint reads the numbers as written."""
    network = network_from_text(AT_MOST, "most.proto-rules")
    result = outcome(Screening(network), *facts)
    assert {c: result.verdicts[c].verdict for c in ("I3", "I4")} == {"I3": i3, "I4": i4}
    assert check_text(AT_MOST) == []


def check_text(text: str) -> list[str]:
    return [d.message for d in check(parse(text, "most.proto-rules"))]


BDMARD = """protocol "b" version "1"
concepts:
  bdmard: medication {adalimumab, etanercept, infliximab}
inclusion I1 "Exposure to at most one bDMARD":
  bdmard includes at most 1 of {adalimumab, etanercept, infliximab}
"""


def bdmard_course(drug: str, start: str) -> dict[str, Any]:
    return {"concept": "bdmard", "drug": drug, "date": start, "end": start[:8] + "28"}


@pytest.mark.parametrize("facts, verdict", [
    # one drug, renewed: one drug, however many courses (`at most 1 bdmard ever` counts courses)
    ([bdmard_course("adalimumab", "2025-01-01"), bdmard_course("adalimumab", "2025-03-01")],
     "MET"),
    ([bdmard_course("adalimumab", "2025-01-01"), bdmard_course("etanercept", "2025-03-01")],
     "NOT_MET"),
    ([{"concept": "bdmard", "present": False}], "MET"),
    ([], "UNKNOWN"),
])
def test_includes_at_most_counts_drugs(facts, verdict) -> None:
    """SELECT-COMPARE's helper: "at most one bDMARD" had to be `not ... at least 2 of`, which
    the sentence lint flagged (2 is not in the sentence)."""
    network = network_from_text(BDMARD, "b.proto-rules")
    outcome = screen_one(Screening(network), facts)
    assert_trail_agrees(network, outcome, {"I1": verdict})
    assert [d for d in check(parse(BDMARD, "b.proto-rules")) if d.code == "fidelity"] == []
    if verdict == "NOT_MET":
        assert judged(network, outcome, "I1")["detail"].startswith(
            "2 of the set (adalimumab, etanercept); needs at most 1")


def test_a_count_of_one_line_offers_what_parses() -> None:
    """`at least 1 lines of X` was told to leave out 'at least 1', which left no condition."""
    from grammar.parser import parse
    from protocol.checks import check

    src = ('protocol "l" version "1"\nconcepts:\n  mm_therapy: medication {lenalidomide} '
           'with line {1, 2, 3}\ninclusion I1 "x": at least 1 lines of mm_therapy ever\n')
    assert [d.message for d in check(parse(src, "l.pr")) if d.code == "count"] == [
        "'at least 1 lines of mm_therapy ...' needs a count of 2 or more; for one, write "
        "'mm_therapy ...' (any item of it)"]
