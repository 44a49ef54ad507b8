"""A titre (`ana: titre`, "ANA titre >= 1:80"): a dilution as laboratories write it, read as its
reciprocal and compared in the network as any measured value, bounds included ("< 1:40");
what `check` refuses, what a fact file may say, the trail's words, FHIR's valueRatio, and the
boundary cases `edge-cases` writes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.fhir_bundles import Writer
from engine import pipeline
from engine.fhir import load_map
from engine.factfile import read_records
from engine.run import Decision, Rejected, Screening
from tests.conftest import (assert_trail_agrees, boundary_cases, checked, judged,
                            network_from_text, screen_one)

PROTOCOL = """protocol "titres" version "1"
concepts:
  ana: titre valid for 28 days "ANA by indirect immunofluorescence"
  dsdna: titer "anti-dsDNA by Crithidia luciliae"
inclusion I1 "ANA titre >= 1:80": ana >= 1:80
inclusion I2 "anti-dsDNA 1:10 to 1:320": dsdna 1:10 to 1:320
exclusion E1 "ANA at 1:1280 or above on two occasions": ana >= 1:1280 confirmed on another day
"""


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "titres.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def decide(screening: Screening, *facts: dict[str, Any]) -> Decision | Rejected:
    return screen_one(screening, facts, day="2026-06-01", path="titres.jsonl")


def ana(value: Any, **fields: Any) -> dict[str, Any]:
    return {"concept": "ana", "value": value, "date": "2026-05-20", **fields}


@pytest.mark.parametrize("fact, verdict", [
    (ana("1:160"), "MET"),
    (ana("1:80"), "MET"),  # at the threshold
    (ana("1 : 80"), "MET"),
    (ana("1/80"), "MET"),
    (ana(80), "MET"),  # its reciprocal, as registries store it
    (ana("1:40"), "NOT_MET"),
    (ana("< 1:40"), "NOT_MET"),  # negative at the screening dilution: surely below 1:80
    (ana("<1:80"), "NOT_MET"),
    (ana("<= 1:80"), "UNKNOWN"),  # 1:80 itself, or below
    (ana("> 1:40"), "UNKNOWN"),
    (ana("1:40", comparator=">="), "UNKNOWN"),
    (ana(">= 1:80"), "MET"),
    (ana("> 40"), "UNKNOWN"),  # a reciprocal's bound
    (ana("not detected", limit=40), "NOT_MET"),
    (ana("1:160", date="2026-05-03"), "UNKNOWN"),  # stale: older than 28 days
])
def test_a_dilution_against_a_threshold(network, screening, fact, verdict):
    outcome = decide(screening, fact, {"concept": "dsdna", "value": "1:20"})
    assert isinstance(outcome, Decision), outcome
    assert_trail_agrees(network, outcome, {"I1": verdict, "I2": "MET"})


@pytest.mark.parametrize("dsdna, verdict", [
    ("1:10", "MET"), ("1:320", "MET"), ("1:5", "NOT_MET"), ("1:640", "NOT_MET"),
    (">= 1:320", "UNKNOWN"), ("> 1:320", "NOT_MET"), ("< 1:10", "NOT_MET"), ("< 1:20", "UNKNOWN"),
])
def test_a_dilution_in_a_range(network, screening, dsdna, verdict):
    outcome = decide(screening, ana("1:160"), {"concept": "dsdna", "value": dsdna})
    assert isinstance(outcome, Decision), outcome
    assert_trail_agrees(network, outcome, {"I2": verdict})


def test_confirmed_on_another_day(network, screening):
    both = decide(screening, ana("1:2560"), ana("1:1280", date="2026-05-10"),
                  {"concept": "dsdna", "value": 20})
    once = decide(screening, ana("1:2560"), ana("1:640", date="2026-05-10"),
                  {"concept": "dsdna", "value": 20})
    assert_trail_agrees(network, both, {"E1": "MET"})
    assert_trail_agrees(network, once, {"E1": "NOT_MET"})


def test_the_trail_says_the_dilution(network, screening):
    outcome = decide(screening, ana(160), {"concept": "dsdna", "value": "< 1:20"})
    assert judged(network, outcome, "I1")["detail"] == \
        "ana 160 = 1:160 (2026-05-20); needs >= 1:80"
    assert judged(network, outcome, "I2")["detail"] == \
        "dsdna < 1:20; needs 1:10 to 1:320 (its bounds do not decide it)"


@pytest.mark.parametrize("value, extra", [
    ("1:0", {}), ("2:80", {}), ("1:80.5", {}), (80.5, {}), (0, {}), ("positive", {}),
    (True, {}), ("1:", {}), ("< 1:1", {"no dilution is below 1:1"}),
])
def test_what_is_no_dilution_is_an_input_error(screening, value, extra):
    outcome = decide(screening, ana(value), {"concept": "dsdna", "value": 20})
    assert isinstance(outcome, Rejected)
    (problem,) = outcome.problems
    assert problem.field == "value"
    expected = next(iter(extra), "ana is a titre: expected a dilution like '1:160' (or its "
                                 "reciprocal, 160), or a bound like '< 1:40', found ")
    assert expected in problem.message, problem.message


@pytest.mark.parametrize("condition, said", [
    ("ana >= 1:80", []),
    ("ana >= 80", ["6:26 'ana' is a titre: write its threshold as the dilution, 1:80, not 80"]),
    ("ana >= 0.5", ["6:26 'ana' is a titre: write its threshold as the dilution, 1:1, not 0.5"]),
    ("ana >= 1:0", ["6:26 'ana' is a titre: 1:0 is no dilution (1:1 is the undiluted sample)"]),
    ("ecog <= 1:80", ["6:27 1:80 is a titre's dilution; 'ecog' is a scale"]),
    ("crp > 1:80", ["6:25 1:80 is a titre's dilution; 'crp' is a quantity"]),
    ("ana 1:640 to 1:80", ["6:23 '1:640 to 1:80' is empty: the low bound is above the high "
                           "bound"]),
    ("ana > 2 x ULN", ["6:19 'ana' is a titre: only a lab, or a derived value declared with "
                       "one, has a reference range (x ULN, upper/lower)"]),
    ("ana within 28 days before screening", [
        "6:19 'ana' is a titre: only an event or medication happens 'ever', 'at screening' or "
        "'within ...'"]),
    ("ecog <= 1 or ana >= 1:160 confirmed on another day", []),
])
def test_what_check_says(condition, said):
    concepts = "  ana: titre\n  ecog: scale 0 to 5\n  crp: quantity in mg/L\n"
    assert checked(concepts, condition) == said


def test_a_formula_reads_no_titre():
    assert checked("  ana: titre\n  x: derived in mg = ana * 2\n", "x > 1 mg") == [
        "4:22 'ana' is a titre: a formula computes with the numbers of quantities, labs, scores, "
        "ages and derived values"]


def test_a_colon_after_a_number_still_ends_a_condition():
    """`1:` followed by a line break is a number and the criterion's colon, not a dilution."""
    network = network_from_text('protocol "t" version "1"\nconcepts:\n  ecog: scale 0 to 5\n'
                                '  ana: titre\ninclusion I1 "t" applies when ecog >= 1:\n'
                                '    ana >= 1:40\n')
    assert [c.id for c in network.leaves] == ["I1"]


def test_fhir_gives_a_titre_as_a_ratio(tmp_path):
    """Observation.valueRatio 1:160 (numerator 1), valueString "< 1:40", or valueQuantity with
    the reciprocal in {titer}; a ratio without its denominator gives no value."""
    (tmp_path / "p.proto-rules").write_text(
        PROTOCOL + 'map "p.fhir-map.yaml"\n', encoding="utf-8")
    (tmp_path / "p.fhir-map.yaml").write_text(
        "systems:\n  loinc: http://loinc.org\nconcepts:\n  ana: loinc 5048-4\n"
        "  dsdna: loinc 5130-0\n", encoding="utf-8")
    protocol, _ = pipeline.load(str(tmp_path / "p.proto-rules"))

    def observation(ident: str, code: str, **value: Any) -> dict:
        return {"fullUrl": f"urn:uuid:{ident}", "resource": {
            "resourceType": "Observation", "id": ident, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": "2026-05-20", **value}}

    def bundle(patient: str, *observations: dict) -> dict:
        for entry in observations:
            entry["resource"]["subject"] = {"reference": f"Patient/{patient}"}
        return {"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": f"urn:uuid:{patient}",
             "resource": {"resourceType": "Patient", "id": patient}},
            {"fullUrl": "urn:uuid:rs", "resource": {
                "resourceType": "ResearchSubject", "id": "rs", "status": "candidate",
                "period": {"start": "2026-06-01"}, "study": {"reference": "ResearchStudy/s"},
                "individual": {"reference": f"Patient/{patient}"}}}, *observations]}

    ratio = {"numerator": {"value": 1}, "denominator": {"value": 160}}
    bundles = [
        bundle("x", observation("a", "5048-4", valueRatio=ratio),
               observation("d", "5130-0", valueString="< 1:40")),
        bundle("y", observation("a", "5048-4", valueQuantity={
            "value": 160, "system": "http://unitsofmeasure.org", "code": "{titer}"})),
        bundle("z", observation("a", "5048-4", valueRatio={"numerator": {"value": 1}})),
    ]
    path = tmp_path / "b.ndjson"
    path.write_text("".join(json.dumps(b) + "\n" for b in bundles), encoding="utf-8")
    read = [data for _, data in read_records(str(path), protocol=protocol)]
    assert [[(f["concept"], f.get("value")) for f in r["facts"]] for r in read][:2] == [
        [("ana", "1:160"), ("dsdna", "< 1:40")], [("ana", Decimal(160))]]
    assert "a valueRatio without its numerator or denominator" in str(read[2])
    writer = Writer(protocol, load_map(protocol))  # and the Bundle writer writes a ratio
    assert writer.value(protocol.concept("ana"), {"value": "1:160"}) == {"valueRatio": ratio}


def test_the_boundary_cases(capsys, tmp_path):
    """At each threshold, the next dilution either side (1:79, 1:81), written as dilutions; the
    network passes every case."""
    base = {"patient": "b", "screening_date": "2026-06-01", "facts": [
        ana("1:160"), {"concept": "dsdna", "value": "1:20", "date": "2026-05-20"}]}
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    for written in ('name: "ana 1:79: one step under ana >= 1:80"',
                    '{"concept": "ana", "value": "1:81", "date": "2026-05-20"}',
                    'name: "dsdna 1:321: one step over high end of dsdna 1:10 to 1:320"',
                    'name: "1:1280 on 2026-05-31, 1:1279 on 2026-05-30: ana >= 1:1280 '
                    'confirmed on another day"'):
        assert written in text, written


@given(reciprocal=st.integers(1, 5000), op=st.sampled_from(["=", "<", "<=", ">", ">="]),
       threshold=st.integers(1, 5000))
def test_the_network_decides_as_the_dilutions_do(reciprocal, op, threshold):
    """For any result (a dilution or a bound on one) and any threshold: MET where every
    dilution the result allows reaches the threshold, NOT_MET where none does, else UNKNOWN."""
    network = _any_threshold(threshold)
    value = f"1:{reciprocal}" if op == "=" else f"{op} 1:{reciprocal}"
    if op == "<" and reciprocal == 1:
        return  # no dilution: an input error, above
    outcome = decide(Screening(network), ana(value))
    allowed = {"=": lambda n: n == reciprocal, "<": lambda n: n < reciprocal,
               "<=": lambda n: n <= reciprocal, ">": lambda n: n > reciprocal,
               ">=": lambda n: n >= reciprocal}[op]
    possible = {n >= threshold for n in range(1, 12000) if allowed(n)}
    wanted = "MET" if possible == {True} else "NOT_MET" if possible == {False} else "UNKNOWN"
    assert_trail_agrees(network, outcome, {"I1": wanted})


_NETWORKS: dict[int, Any] = {}


def _any_threshold(threshold: int):
    if threshold not in _NETWORKS:
        _NETWORKS[threshold] = network_from_text(
            f'protocol "t" version "1"\nconcepts:\n  ana: titre\n'
            f'inclusion I1 "t": ana >= 1:{threshold}\n')
    return _NETWORKS[threshold]


_TITRE_TEXT = st.text(alphabet="1234567890:/<>=≤≥ .,-e", max_size=12)


@given(value=st.one_of(_TITRE_TEXT, st.integers(-5, 10**6),
                       st.floats(-1e6, 1e6, allow_nan=False), st.booleans(), st.none(),
                       st.lists(st.integers(), max_size=2)),
       comparator=st.sampled_from([None, "<", ">=", "≤", "x"]))
def test_any_value_of_a_titre_is_read_or_refused_never_raised(screening, value, comparator):
    """Whatever a record gives as a titre (text near a dilution, any number, another type, a
    comparator or a wrong one), the patient is decided or refused with a problem of the fact's
    value or comparator, and a dilution it reads is a whole number from 1."""
    fact = ana(value) if comparator is None else ana(value, comparator=comparator)
    outcome = decide(screening, fact, {"concept": "dsdna", "value": 20})
    if isinstance(outcome, Rejected):
        assert {p.field.split(".")[0] for p in outcome.problems} <= \
            {"value", "comparator", "limit"}, outcome.problems
        return
    assert isinstance(outcome, Decision)
    record = outcome.patient.record
    if "ana" in record:
        assert record["ana"] >= 1 and record["ana"] == int(record["ana"])
