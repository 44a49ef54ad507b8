"""Histories filtered by what their items record (`where`, `other than`), at their boundaries:
an item that passes, one that does not, one that does not record the attribute (UNKNOWN unless
another item decides it), open world, windows and dates known only to the month.

One inclusion criterion per condition, so MET reads "true", NOT_MET "false", UNKNOWN "open". The
screening date is 2026-06-30 and the first dose 2026-06-15.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.audit.evidence import Explainer, criterion_parts
from engine.run import Decision, Rejected, Screening
from tests.conftest import network_from_text, screen_one

PROTOCOL = """protocol "filters" version "1"
concepts:
  first_dose: date
  weight: quantity in kg
  malignancy: event with type {basal_cell_carcinoma = "basal cell carcinoma",
                               squamous_cell_carcinoma, melanoma, other}
  infection: event graded with site {lung, skin}
  chemo: medication {cisplatin, carboplatin, capecitabine} with route {oral, intravenous}
                                                           with line {1, 2, 3}
  immunotherapy: medication {pembrolizumab, nivolumab, ipilimumab}
  glucocorticoid: medication {prednisone, methylprednisolone} dosed in mg/d
inclusion F1 "t": malignancy where type is not basal_cell_carcinoma within 5 years before screening
inclusion F2 "o": malignancy other than {basal_cell_carcinoma} ever
inclusion F3 "r": chemo where route is intravenous ever
inclusion F4 "d": immunotherapy where drug is one of {pembrolizumab, nivolumab}
    within 4 weeks before first_dose
inclusion F5 "g": glucocorticoid where dose > 10 mg/d at screening
inclusion F6 "n": no known malignancy where type is melanoma
inclusion F7 "c": chemo where route is intravenous and line is one of {2, 3} ever
inclusion F8 "s": infection where site is lung with grade >= 3 within 14 days before first_dose
inclusion F9 "x": immunotherapy other than {ipilimumab} ever
inclusion F10 "e": malignancy where type is melanoma within 1 year after the end of chemo
inclusion F11 "w": chemo other than {capecitabine} where route is oral ever
"""

SCREENING = "2026-06-30"
FIRST_DOSE = {"concept": "first_dose", "value": "2026-06-15"}


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "filters.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def outcome(screening: Screening, *facts: dict[str, Any]) -> Decision | Rejected:
    return screen_one(screening, facts, day=SCREENING, path="filters.jsonl")


def verdict(screening: Screening, criterion: str, *facts: dict[str, Any]) -> str:
    result = outcome(screening, *facts)
    assert isinstance(result, Decision), result
    return result.verdicts[criterion].verdict


def cancer(day: str, kind: str | None = None, **more: Any) -> dict[str, Any]:
    return {"concept": "malignancy", "date": day, **({"type": kind} if kind else {}), **more}


def chemo(drug: str, day: str, **more: Any) -> dict[str, Any]:
    return {"concept": "chemo", "drug": drug, "date": day, "end": day, **more}


def io(drug: str, day: str) -> dict[str, Any]:
    return {"concept": "immunotherapy", "drug": drug, "date": day, "end": day}


def steroid(dose: Any, day: str = "2026-01-01", **more: Any) -> dict[str, Any]:
    fact = {"concept": "glucocorticoid", "drug": "prednisone", "date": day, "ongoing": True}
    return {**fact, **({"dose": dose, "unit": "mg/d"} if dose is not None else {}), **more}


def none(concept: str) -> dict[str, Any]:
    return {"concept": concept, "present": False}


CASES = [
    # where type is not basal_cell_carcinoma within 5 years before screening (from 2021-06-30)
    ("melanoma in the window", "F1", [cancer("2024-01-01", "melanoma")], "MET"),
    ("only a basal cell carcinoma", "F1", [cancer("2024-01-01", "basal cell carcinoma")],
     "NOT_MET"),
    ("synonym, any case", "F1", [cancer("2024-01-01", "Basal Cell Carcinoma")], "NOT_MET"),
    ("melanoma on the window's first day", "F1", [cancer("2021-06-30", "melanoma")], "MET"),
    ("melanoma the day before", "F1", [cancer("2021-06-29", "melanoma")], "NOT_MET"),
    ("type not recorded", "F1", [cancer("2024-01-01")], "UNKNOWN"),
    ("type not recorded, outside the window", "F1", [cancer("2020-01-01")], "NOT_MET"),
    ("unrecorded, but another item decides", "F1",
     [cancer("2024-01-01"), cancer("2025-01-01", "melanoma")], "MET"),
    ("unrecorded beside a basal cell", "F1",
     [cancer("2024-01-01"), cancer("2025-01-01", "basal_cell_carcinoma")], "UNKNOWN"),
    ("recorded as none", "F1", [none("malignancy")], "NOT_MET"),
    ("nothing recorded", "F1", [], "UNKNOWN"),
    ("month-only date across the edge", "F1", [cancer("2021-06", "melanoma")], "UNKNOWN"),
    ("month-only date, basal cell", "F1", [cancer("2021-06", "basal_cell_carcinoma")],
     "NOT_MET"),
    # other than {basal_cell_carcinoma} ever
    ("other than: squamous", "F2", [cancer("2001-01-01", "squamous_cell_carcinoma")], "MET"),
    ("other than: basal", "F2", [cancer("2001-01-01", "basal_cell_carcinoma")], "NOT_MET"),
    ("other than: unrecorded", "F2", [cancer("2001-01-01")], "UNKNOWN"),
    # where route is intravenous ever
    ("intravenous", "F3", [chemo("cisplatin", "2020-01-01", route="intravenous")], "MET"),
    ("oral only", "F3", [chemo("capecitabine", "2020-01-01", route="oral")], "NOT_MET"),
    ("route not recorded", "F3", [chemo("cisplatin", "2020-01-01")], "UNKNOWN"),
    ("route not recorded beside an intravenous", "F3",
     [chemo("cisplatin", "2020-01-01"), chemo("carboplatin", "2021-01-01", route="Intravenous")],
     "MET"),
    ("no chemo", "F3", [none("chemo")], "NOT_MET"),
    # drug is one of {pembrolizumab, nivolumab} within 4 weeks before first_dose (2026-05-18)
    ("nivolumab on the first day", "F4", [FIRST_DOSE, io("nivolumab", "2026-05-18")], "MET"),
    ("nivolumab the day before", "F4", [FIRST_DOSE, io("nivolumab", "2026-05-17")], "NOT_MET"),
    ("ipilimumab in the window", "F4", [FIRST_DOSE, io("ipilimumab", "2026-06-01")], "NOT_MET"),
    ("no first dose", "F4", [io("nivolumab", "2026-06-01")], "UNKNOWN"),
    ("no first dose, none recorded", "F4", [none("immunotherapy")], "NOT_MET"),
    # no item may pass the filter: false whatever the first dose's day
    ("no first dose, only ipilimumab", "F4", [io("ipilimumab", "2026-06-01")], "NOT_MET"),
    ("no first dose, skin, grade 3", "F8",
     [{"concept": "infection", "date": "2026-06-01", "grade": 3, "site": "skin"}], "NOT_MET"),
    ("no first dose, lung, grade 2", "F8",
     [{"concept": "infection", "date": "2026-06-01", "grade": 2, "site": "lung"}], "NOT_MET"),
    ("no first dose, lung, no grade", "F8",
     [{"concept": "infection", "date": "2026-06-01", "site": "lung"}], "UNKNOWN"),
    # where dose > 10 mg/d at screening
    ("dose above", "F5", [steroid(15)], "MET"),
    ("dose at the threshold", "F5", [steroid(10)], "NOT_MET"),
    ("dose not recorded", "F5", [steroid(None)], "UNKNOWN"),
    ("high dose ended before screening", "F5",
     [steroid(20, end="2026-03-01") | {"ongoing": False}], "NOT_MET"),
    ("undosed beside a high dose", "F5", [steroid(None), steroid(30, "2026-02-01")], "MET"),
    # no known malignancy where type is melanoma: open world
    ("no known: nothing recorded", "F6", [], "MET"),
    ("no known: a melanoma", "F6", [cancer("2001-01-01", "melanoma")], "NOT_MET"),
    ("no known: another type", "F6", [cancer("2001-01-01", "other")], "MET"),
    ("no known: type unrecorded", "F6", [cancer("2001-01-01")], "UNKNOWN"),
    # two clauses: route is intravenous and line is one of {2, 3}
    ("both clauses", "F7", [chemo("cisplatin", "2020-01-01", route="intravenous", line=2)], "MET"),
    ("line 1", "F7", [chemo("cisplatin", "2020-01-01", route="intravenous", line=1)], "NOT_MET"),
    ("oral, line unrecorded", "F7", [chemo("cisplatin", "2020-01-01", route="oral")], "NOT_MET"),
    ("intravenous, line unrecorded", "F7",
     [chemo("cisplatin", "2020-01-01", route="intravenous")], "UNKNOWN"),
    ("each clause by a different item", "F7",
     [chemo("cisplatin", "2020-01-01", route="intravenous", line=1),
      chemo("cisplatin", "2021-01-01", route="oral", line=2)], "NOT_MET"),
    # a filter with a grade and a window from first_dose (2026-06-01 .. 2026-06-15)
    ("lung, grade 3, in the window", "F8",
     [FIRST_DOSE, {"concept": "infection", "date": "2026-06-01", "grade": 3, "site": "lung"}],
     "MET"),
    ("skin, grade 3", "F8",
     [FIRST_DOSE, {"concept": "infection", "date": "2026-06-01", "grade": 3, "site": "skin"}],
     "NOT_MET"),
    ("lung, grade 2", "F8",
     [FIRST_DOSE, {"concept": "infection", "date": "2026-06-01", "grade": 2, "site": "lung"}],
     "NOT_MET"),
    ("site unrecorded, grade 3", "F8",
     [FIRST_DOSE, {"concept": "infection", "date": "2026-06-01", "grade": 3}], "UNKNOWN"),
    # from the end of another history: none of it means the window can never exist
    ("after the end of chemo", "F10", [chemo("cisplatin", "2025-01-01"),
                                       cancer("2025-06-01", "melanoma")], "MET"),
    ("after the end of chemo, other type", "F10", [chemo("cisplatin", "2025-01-01"),
                                                   cancer("2025-06-01", "other")], "NOT_MET"),
    ("more than a year after", "F10", [chemo("cisplatin", "2024-01-01"),
                                       cancer("2025-06-01", "melanoma")], "NOT_MET"),
    ("chemo recorded as none", "F10", [none("chemo"), cancer("2025-06-01", "melanoma")],
     "NOT_MET"),
    ("chemo still going", "F10", [{"concept": "chemo", "drug": "cisplatin", "date": "2025-01-01",
                                   "ongoing": True}, cancer("2025-06-01", "melanoma")], "UNKNOWN"),
    # other than on a medication is its drug
    ("other than: nivolumab", "F9", [io("nivolumab", "2020-01-01")], "MET"),
    ("other than: ipilimumab only", "F9", [io("ipilimumab", "2020-01-01")], "NOT_MET"),
    # other than, then where: both
    ("oral cisplatin", "F11", [chemo("cisplatin", "2020-01-01", route="oral")], "MET"),
    ("oral capecitabine", "F11", [chemo("capecitabine", "2020-01-01", route="oral")], "NOT_MET"),
    ("intravenous cisplatin", "F11", [chemo("cisplatin", "2020-01-01", route="intravenous")],
     "NOT_MET"),
    ("cisplatin, route unrecorded", "F11", [chemo("cisplatin", "2020-01-01")], "UNKNOWN"),
]


@pytest.mark.parametrize("name, criterion, facts, expected", CASES, ids=[c[0] for c in CASES])
def test_filter_boundaries(screening: Screening, name: str, criterion: str,
                           facts: list[dict[str, Any]], expected: str) -> None:
    assert verdict(screening, criterion, *facts) == expected


@pytest.mark.parametrize("name, criterion, facts, expected", CASES, ids=[c[0] for c in CASES])
def test_trail_agrees_with_the_network(network, screening: Screening, name: str, criterion: str,
                                       facts: list[dict[str, Any]], expected: str) -> None:
    result = outcome(screening, *facts)
    assert isinstance(result, Decision)
    leaf = next(c for c in network.leaves if c.id == criterion)
    judged = Explainer(network.protocol, result.derived).judge(
        criterion_parts(leaf)[0], result.patient)
    held = {"MET": "true", "NOT_MET": "false", "UNKNOWN": "unknown"}[expected]
    assert judged["status"] == held, judged


def test_evidence_names_the_unrecorded_attribute(network, screening: Screening) -> None:
    result = outcome(screening, cancer("2024-01-01"))
    leaf = next(c for c in network.leaves if c.id == "F1")
    judged = Explainer(network.protocol, result.derived).judge(
        criterion_parts(leaf)[0], result.patient)
    assert judged == {"status": "unknown", "detail": (
        "malignancy: occurred, type not recorded (2024-01-01; single day) (window from "
        "2021-06-30 to 2026-06-30) (not every item records its type: the items do not decide "
        "it)")}


@pytest.mark.parametrize("fact, field, message", [
    (cancer("2024-01-01", "carcinoma in situ"), "type",
     "malignancy's type must be one of {basal_cell_carcinoma, squamous_cell_carcinoma, melanoma, "
     "other}, found \"carcinoma in situ\""),
    (chemo("cisplatin", "2020-01-01", line=4), "line", "chemo's line must be one of {1, 2, 3}"),
    (chemo("cisplatin", "2020-01-01", route=True), "route", "chemo's route must be one of"),
    (io("nivolumab", "2020-01-01") | {"route": "oral"}, "route",
     "unknown field ('route' was unexpected)"),
    (chemo("cisplatin", "2020-01-01", site="lung"), "site",
     "unknown field ('site' was unexpected)"),
])
def test_undeclared_attribute_values_are_input_errors(screening: Screening, fact: dict,
                                                      field: str, message: str) -> None:
    result = outcome(screening, fact)
    assert isinstance(result, Rejected), result
    (problem,) = result.problems
    assert problem.field == field and message in problem.message, problem


# --- checks ---------------------------------------------------------------------------------------

HEAD = """protocol "t" version "1"
concepts:
  malignancy: event with type {basal_cell_carcinoma, melanoma}
  chemo: medication {cisplatin, carboplatin} with route {oral, intravenous}
  steroid: medication {prednisone} dosed in mg/d
  mi: event
"""


def _check(src: str) -> list[str]:
    from grammar.parser import parse
    from protocol.checks import check

    found = check(parse(HEAD + src, "t.pr"))
    return [f"{d.span.line}:{d.span.column} {d.code}: {d.message}" for d in found
            if d.code != "unused-concept"]


@pytest.mark.parametrize("src, expected", [
    ('inclusion I1 "x": malignancy where typ is melanoma ever',
     "7:36 undefined-attribute: 'malignancy' records no attribute 'typ'; did you mean 'type'?"),
    ('inclusion I1 "x": mi where type is melanoma ever',
     "7:28 undefined-attribute: 'mi' records no attribute 'type'; declare it: "
     "'mi: event ... with type {...}'"),
    ('inclusion I1 "x": chemo where line is 2 ever',
     "7:31 undefined-attribute: 'chemo' records no attribute 'line'; its attributes are route, "
     "drug, dose, duration"),
    ('inclusion I1 "x": malignancy where type is not melanom ever',
     "7:48 unknown-value: 'melanom' is not a value of 'malignancy type'; did you mean "
     "'melanoma'?"),
    ('inclusion I1 "x": chemo where drug is one of {cisplatin, oxaliplatin} ever',
     "7:58 unknown-value: 'oxaliplatin' is not a value of 'chemo drug'; did you mean "
     "'cisplatin'?"),
    ('inclusion I1 "x": mi other than {stemi} ever',
     "7:22 undefined-attribute: 'other than' reads an attribute, and 'mi' declares none; "
     "declare one, like 'mi: event with type {...}'"),
    ('inclusion I1 "x": chemo where dose > 10 mg/d ever',
     "7:31 undefined-attribute: 'chemo' has no dose to filter on; declare it 'dosed in UNIT'"),
    ('inclusion I1 "x": steroid where dose > 10 mmol/L ever',
     "7:40 unit-dimension: steroid is dosed in mg/d; 10 mmol/L is a molar concentration"),
    ('inclusion I1 "x": malignancy other than {basal_cell_carcinoma, melanoma} ever',
     "7:30 filter-never: 'other than {basal_cell_carcinoma, melanoma}' names every type "
     "malignancy declares: an item that records one never passes it (one that records none "
     "may, UNKNOWN at best); name fewer values"),
    ('inclusion I1 "x": chemo where route is not one of {oral, intravenous} ever',
     "7:31 filter-never: 'route is not one of {oral, intravenous}' names every route chemo "
     "declares: an item that records one never passes it (one that records none may, UNKNOWN "
     "at best); name fewer values"),
    ('inclusion I1 "x": no known malignancy other than {melanoma, basal_cel_carcinoma}',
     "7:61 unknown-value: 'basal_cel_carcinoma' is not a value of 'malignancy type'; did you "
     "mean 'basal_cell_carcinoma'?"),
])
def test_filter_diagnostics(src: str, expected: str) -> None:
    assert _check(src) == [expected]


def test_attribute_declarations() -> None:
    src = ('concepts:\n  x: event with grade {1, 2} with site {a, a}\n'
           'inclusion I1 "x": x where site is a ever\n')
    assert _check(src) == [
        "8:12 reserved-attribute: 'grade' is a field every event fact may have; name the "
        "attribute otherwise",
        "8:44 duplicate-value: 'a' is already listed at line 8"]


def test_no_known_takes_other_than_and_one_where_clause(screening: Screening) -> None:
    """`no known x other than {...} where ...`: both, as a filter, one clause after it."""
    text = PROTOCOL + 'inclusion F12 "k": no known malignancy other than {other} where type is ' \
        'not melanoma\n'
    found = Screening(network_from_text(text, "k.proto-rules"))
    assert verdict(found, "F12", cancer("2020-01-01", "melanoma")) == "MET"
    assert verdict(found, "F12", cancer("2020-01-01", "squamous_cell_carcinoma")) == "NOT_MET"
    assert verdict(found, "F12") == "MET"


def test_filters_parse_only_where_they_belong() -> None:
    from grammar.parser import parse
    from protocol.errors import ProtocolError

    with pytest.raises(ProtocolError):  # no `between`, no filter on a measured value
        parse(HEAD + 'inclusion I1 "x": chemo where route between oral and intravenous ever')
    # after `no known`, `and` joins conditions, not filter clauses
    parsed = parse(HEAD + 'concepts:\n  f: flag\n'
                   'inclusion I1 "x": no known malignancy where type is melanoma and f')
    assert type(parsed.criteria[0].condition).__name__ == "And"


def test_amendment_diff_sees_filters_and_attributes() -> None:
    from grammar.parser import parse
    from protocol.amend.diff import diff

    old = parse(HEAD + 'inclusion I1 "x": chemo where route is oral ever\n', "old.pr")
    new = parse(HEAD.replace("{oral, intravenous}", "{oral, intravenous, subcutaneous}")
                + 'inclusion I1 "x": chemo where route is intravenous ever\n', "new.pr")
    kinds = {change.kind for entry in diff(old, new).entries for change in entry.changes}
    assert {"filter", "attributes"} <= kinds


def test_evidence_names_the_attribute_other_than_reads(network, screening: Screening) -> None:
    result = outcome(screening, cancer("2001-01-01"))
    leaf = next(c for c in network.leaves if c.id == "F2")
    judged = Explainer(network.protocol, result.derived).judge(
        criterion_parts(leaf)[0], result.patient)
    assert judged["detail"].endswith("(not every item records its type: the items do not "
                                     "decide it)")


def _evidence(network, screening: Screening, criterion: str, *facts: dict[str, Any]) -> dict:
    result = outcome(screening, *facts)
    leaf = next(c for c in network.leaves if c.id == criterion)
    return Explainer(network.protocol, result.derived).judge(criterion_parts(leaf)[0],
                                                             result.patient)


def test_evidence_says_which_items_count(network, screening: Screening) -> None:
    """Of several items, those that count apart from those that may and those that do not: the
    auditor sees which infection made the part hold, not every infection of the record."""
    lung, skin, old = ({"concept": "infection", "date": day, "grade": 3, "site": site}
                       for day, site in (("2026-06-05", "lung"), ("2026-06-06", "skin"),
                                         ("2026-01-10", "lung")))
    judged = _evidence(network, screening, "F8", FIRST_DOSE, skin, lung, old)
    assert judged == {"status": "true", "detail": (
        "infection: counted: grade 3, site lung (2026-06-05; single day); not counted: grade 3, "
        "site skin (2026-06-06; single day); grade 3, site lung (2026-01-10; single day) "
        "(window from 2026-06-01 to 2026-06-15; first_dose 2026-06-15)")}
    judged = _evidence(network, screening, "F8", FIRST_DOSE, skin, old)
    assert judged["status"] == "false" and "counted" not in judged["detail"]  # alike: the list
    month = {"concept": "infection", "date": "2026-06", "grade": 3, "site": "lung"}
    judged = _evidence(network, screening, "F8", FIRST_DOSE, skin, month)
    assert judged["status"] == "unknown"
    assert judged["detail"].startswith("infection: may count: grade 3, site lung (2026-06; "), \
        judged["detail"]
