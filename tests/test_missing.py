"""What an open criterion lacks (the trail's `missing` and `pending`): only the facts whose value
could change its verdict (`WhyNot.deciding`, engine/audit/whynot.py), so that a coordinator chases
HIV, not the HCV RNA of a patient whose HCV antibody is negative.

Checked on small protocols through the real network and trail, and by a property whose oracle is
the network itself: a missing flag is listed exactly when, for some values of the criterion's
other missing flags, giving it true or false decides the criterion differently.
"""

from __future__ import annotations

import json
from itertools import product
from typing import Any

import pytest

from engine.audit.recorder import Recorder
from engine.audit import whynot
from engine.run import Decision, Screening
from tests.conftest import network_from_text, run_cli, screen_one

HEPATITIS = """protocol "t" version "1"
concepts:
 hcv_antibody: category {negative, positive}
 hcv_rna: quantity in IU/mL
 hiv_antibody: category {negative, positive}
 fertile: flag
 test_negative: flag
 consents: judgment
exclusion E1 "HCV antibody positive and HCV RNA above 15 IU/mL; or HIV antibody positive":
    hcv_antibody is positive and hcv_rna > 15 IU/mL
    or hiv_antibody is positive
inclusion I1 "A negative pregnancy test for women who may become pregnant, and consent"
    applies when fertile:
    test_negative or consents
"""

DAY = {"date": "2026-06-20"}


@pytest.fixture(scope="module")
def hepatitis() -> tuple[Screening, Recorder]:
    network = network_from_text(HEPATITIS)
    return Screening(network), Recorder(network)


def lacking(hepatitis, facts: list[dict[str, Any]], criterion: str) -> dict[str, Any]:
    """The trail's record of `criterion` for a patient with `facts`: verdict, missing, pending."""
    screening, recorder = hepatitis
    decided = screen_one(screening, facts)
    assert isinstance(decided, Decision)
    (record,) = recorder.records(decided)
    leaf = [leaf.id for leaf in screening.network.leaves].index(criterion)
    found = record["criteria"][leaf]
    return {"verdict": found["verdict"],
            "missing": [m["concept"] for m in found.get("missing", [])],
            "pending": found.get("pending", [])}


@pytest.mark.parametrize("facts, verdict, missing", [
    # the HCV antibody negative: no HCV RNA can make the first branch hold
    ([{"concept": "hcv_antibody", "value": "negative", **DAY}], "UNKNOWN", ["hiv_antibody"]),
    # nothing known: each of the three may decide
    ([], "UNKNOWN", ["hcv_antibody", "hcv_rna", "hiv_antibody"]),
    # HIV negative and the antibody positive: the RNA decides, alone
    ([{"concept": "hcv_antibody", "value": "positive", **DAY},
      {"concept": "hiv_antibody", "value": "negative", **DAY}], "UNKNOWN", ["hcv_rna"]),
    # HCV RNA below the limit: the antibody no longer matters, HIV does
    ([{"concept": "hcv_rna", "value": 5, "unit": "IU/mL", **DAY}], "UNKNOWN", ["hiv_antibody"]),
    # decided: nothing is listed
    ([{"concept": "hiv_antibody", "value": "positive", **DAY}], "MET", []),
])
def test_only_the_facts_that_could_change_the_verdict_are_missing(hepatitis, facts, verdict,
                                                                   missing):
    assert lacking(hepatitis, facts, "E1") == {"verdict": verdict, "missing": missing,
                                               "pending": []}


@pytest.mark.parametrize("facts, verdict, missing, pending", [
    # whether it applies is open, and its condition holds: met either way (applies -> holds)
    ([{"concept": "test_negative", "value": True, **DAY}], "MET", [], []),
    # whether it applies is open, and its condition does not hold: it turns on the applies-when
    # and on the judgment
    ([{"concept": "test_negative", "value": False, **DAY}], "UNKNOWN", ["fertile"], ["consents"]),
    # it applies and the test is not negative: the investigator's judgment decides
    ([{"concept": "fertile", "value": True, **DAY},
      {"concept": "test_negative", "value": False, **DAY}], "NEEDS_REVIEW", [], ["consents"]),
    # it does not apply: nothing is lacking
    ([{"concept": "fertile", "value": False, **DAY}], "NOT_APPLICABLE", [], []),
    # it applies and the test is negative: the judgment cannot change MET
    ([{"concept": "fertile", "value": True, **DAY},
      {"concept": "test_negative", "value": True, **DAY}], "MET", [], []),
])
def test_applies_when_and_judgments(hepatitis, facts, verdict, missing, pending):
    assert lacking(hepatitis, facts, "I1") == {"verdict": verdict, "missing": missing,
                                               "pending": pending}


def test_beyond_the_parts_tried_every_missing_fact_is_listed(hepatitis, monkeypatch):
    """More open parts than `MOST_DECIDING` are not tried 2^n ways: each may matter."""
    monkeypatch.setattr(whynot, "MOST_DECIDING", 0)
    network = hepatitis[0].network
    fresh = Screening(network), Recorder(network)  # nothing remembered from the other tests
    facts = [{"concept": "hcv_antibody", "value": "negative", **DAY}]
    assert lacking(fresh, facts, "E1")["missing"] == ["hcv_rna", "hiv_antibody"]


FLAGS = ("a", "b", "c", "d", "e")
#: Shapes a criterion takes: and, or, not, at least, applies-when, a definition read twice.
SHAPES = f"""protocol "t" version "1"
concepts:
{chr(10).join(f" {flag}: flag" for flag in FLAGS)}
define de "d or e":
    d or e
inclusion I1 "x":
    a and b or c
inclusion I2 "x"
    applies when a:
    b or not c
exclusion E1 "x":
    at least 2 of [a, b, c]
exclusion E2 "x":
    d and (e or not a)
exclusion E3 "x":
    de and not (a and de)
inclusion I3 "x"
    applies when not e:
    at least 2 of [a and b, c or d, not e]
"""
#: Each patient: every flag true, false or not given (3^5 of them).
PATIENTS = [dict(zip(FLAGS, values)) for values in product((True, False, None), repeat=len(FLAGS))]


def test_a_flag_is_missing_exactly_when_giving_it_could_change_the_verdict():
    """The network is the oracle: for each patient and each flag it lacks, the patients who
    have it (true or false) and agree on the other flags given, the rest lacked as before or
    given too. In strong Kleene logic giving a flag can settle a verdict that no true-or-false
    value of it decides (E3 with `a` true and `d` false: `e and not e`, open until `e` is
    given), so the patients with some of the other flags still lacking count too. A verdict
    that passes (MET, or NOT_APPLICABLE) is not changed by giving a flag that makes it the
    other: I3, met whether or not it applies, needs no `e`."""
    passing = {"MET": "passes", "NOT_APPLICABLE": "passes"}
    network = network_from_text(SHAPES)
    screening, recorder = Screening(network), Recorder(network)
    decided = {}
    for known in PATIENTS:
        result = screen_one(screening, [{"concept": flag, "value": value, **DAY}
                                        for flag, value in known.items() if value is not None])
        assert isinstance(result, Decision)
        decided[tuple(known.values())] = result
    criteria = [leaf.id for leaf in network.leaves]
    for known, result in decided.items():
        (record,) = recorder.records(result)
        for criterion, found in zip(criteria, record["criteria"]):
            listed = [m["concept"] for m in found.get("missing", [])]
            lacking = [place for place, value in enumerate(known) if value is None]
            changes = []
            for place in lacking:
                for other, then in decided.items():
                    agrees = all(other[i] == known[i] for i in range(len(FLAGS))
                                 if known[i] is not None)
                    before = decided[(*other[:place], None, *other[place + 1:])]
                    if agrees and other[place] is not None and passing.get(
                            then.verdicts[criterion].verdict, then.verdicts[criterion].verdict) \
                            != passing.get(before.verdicts[criterion].verdict,
                                           before.verdicts[criterion].verdict):
                        changes.append(FLAGS[place])
                        break
            assert sorted(listed) == sorted(changes), (criterion, known, listed)


# -- what a need asks for: the least a coordinator must find ------------------------------------

COMPARED = """protocol "t" version "1"
concepts:
 erosions: score
 rf_positive: flag
 platelets: quantity in x10^9/L
 bm_plasma_cells: quantity in %
inclusion I1 ">= 3 bone erosions OR >= 1 bone erosion and a positive rheumatoid factor":
    erosions >= 3 or erosions >= 1 and rf_positive
inclusion I2 "Platelets >= 50 if < 50% plasma cells in the marrow; otherwise >= 30":
    bm_plasma_cells < 50 % and platelets >= 50 x10^9/L
    or bm_plasma_cells >= 50 % and platelets >= 30 x10^9/L
"""


@pytest.mark.parametrize("facts, criterion, needs", [
    # one erosion is enough beside a positive RF: not "needs erosions >= 3"
    ([{"concept": "rf_positive", "value": True}], "I1", ["erosions >= 1"]),
    ([{"concept": "rf_positive", "value": False}], "I1", ["erosions >= 3"]),
    # 60 x10^9/L passes whatever the marrow says: its value is to be found, not a side of it
    ([{"concept": "platelets", "value": 60, "unit": "x10^9/L", **DAY}], "I2",
     ["bm_plasma_cells recorded, whatever its value"]),
    ([{"concept": "platelets", "value": 40, "unit": "x10^9/L", **DAY}], "I2",
     ["bm_plasma_cells >= 50 %"]),
])
def test_a_need_is_the_least_to_find(facts, criterion, needs):
    network = network_from_text(COMPARED)
    decided = screen_one(Screening(network), facts)
    assert isinstance(decided, Decision)
    (record,) = Recorder(network).records(decided)
    leaf = [leaf.id for leaf in network.leaves].index(criterion)
    assert [n["needs"] for n in record["criteria"][leaf]["to_pass"]] == needs


def test_a_need_to_deny_a_denial_says_what_is_denied():
    """`steroid_use and not <stable>` passes as an exclusion with the dose stable: the need
    says so, not "not (not steroid dose stable ...)"."""
    network = network_from_text("""protocol "t" version "1"
concepts:
 first_dose: date
 steroid: medication {prednisone} dosed in mg/d
 steroid_use: flag
exclusion E1 "Steroid use unless stable for 1 week":
    steroid_use and not steroid dose stable for at least 1 week before first_dose
""")
    decided = screen_one(Screening(network), [
        {"concept": "steroid_use", "value": True},
        {"concept": "first_dose", "value": "2026-06-25"}])
    (record,) = Recorder(network).records(decided)
    assert [n["needs"] for n in record["criteria"][0]["to_pass"]] == [
        "steroid dose stable for at least 1 week before first_dose"]


UNLESS = """protocol "t" version "1"
concepts:
 anc: lab in 10^9/L
 splenectomy: judgment
 fertile: flag
 test_negative: flag
inclusion I1 "ANC >= 1.0 x 10^9/L, unless splenectomised"
    applies when not splenectomy:
    anc >= 1.0 10^9/L
inclusion I2 "A negative pregnancy test for women who may become pregnant"
    applies when fertile:
    test_negative
"""


@pytest.mark.parametrize("facts, criterion, needs, passes_as", [
    # a low ANC: only the splenectomy would let it pass, by not applying
    ([{"concept": "anc", "value": 0.5, "unit": "10^9/L", **DAY}], "I1", ["splenectomy"],
     "NOT_APPLICABLE"),
    # fertile, and no test: the test would pass it
    ([{"concept": "fertile", "value": True}], "I2", ["test_negative"], None),
    # a positive test: only not being fertile passes it, by not applying
    ([{"concept": "test_negative", "value": False}], "I2", ["not (fertile)"], "NOT_APPLICABLE"),
])
def test_a_need_that_passes_by_not_applying_says_so(capsys, tmp_path, facts, criterion, needs,
                                                    passes_as):
    """Attested splenectomy does not make "ANC >= 1.0 unless splenectomised" MET: it makes it
    not apply. The record says so (`passes_as`), and explain reads "would not apply"."""
    network = network_from_text(UNLESS)
    decided = screen_one(Screening(network), facts)
    (record,) = Recorder(network).records(decided)
    entry = record["criteria"][[leaf.id for leaf in network.leaves].index(criterion)]
    assert [n["needs"] for n in entry["to_pass"]] == needs
    assert entry.get("passes_as") == passes_as
    protocol, data, trail = (tmp_path / "t.proto-rules", tmp_path / "p.jsonl",
                             tmp_path / "t.jsonl")
    protocol.write_text(UNLESS, encoding="utf-8")
    data.write_text(json.dumps({"patient": "p", "screening_date": "2026-06-30",
                                "facts": facts}) + "\n", encoding="utf-8")
    assert run_cli(capsys, "run", str(protocol), str(data), "--trail", str(trail))[0] == 0
    out = run_cli(capsys, "explain", str(trail), "--criterion", criterion)[1]
    said = "would not apply (NOT_APPLICABLE)" if passes_as else "would be MET"
    assert f"      {said} with: {needs[0]} (line " in out


def test_what_a_decided_definition_reads_is_not_missing():
    """VIALE-A's helper: "age >= 75, or 18 to 74 with a comorbidity", the comorbidity true by
    one of six items and the age open (born 1951: 74 or 75). The other five items cannot change
    it, so none is missing; before, seven open parts were more than the search tries, and all
    were listed."""
    network = network_from_text(
        'protocol "v" version "1"\nconcepts:\n  age: age\n' +
        "".join(f"  {flag}: flag\n" for flag in "abcdef") +
        'define comorbidity "one of them": any of [a, b, c, d, e, f]\n'
        'inclusion I2 "x": age >= 75 years or (age 18 to 74 years and comorbidity)\n')
    facts = [{"concept": "f", "value": True}]
    screening, recorder = Screening(network), Recorder(network)
    decided = screen_one(screening, facts, birth_date="1951", day="2026-06-01")
    assert isinstance(decided, Decision)
    (record,) = recorder.records(decided)
    (found,) = record["criteria"]
    assert (found["verdict"], found["missing"]) == ("UNKNOWN", [])
