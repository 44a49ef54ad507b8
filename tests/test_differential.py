"""Differential test: the rule network against the hand-written baseline, on generated patients.

Why: the network decides through compiled patterns (Kleene logic spelt out as durable_rules
conditions); bench/baseline.py decides the same seed protocol in plain Python from the documented
semantics. Two independent implementations agreeing on every verdict of a few thousand patients
built to sit on every threshold and window edge (bench/generate.py) is the strongest check that the
compiler, the fact normaliser and the engine do what the README says.

The minimal cases pin the durable_rules defect this test found: an `$or` over two fields of a list
item inside `$iall`/`$iany` tests only the item's last field. The compiler now never builds one
(engine/compile.py, `_hidden`); these patients would come out NEEDS_REVIEW instead of NOT_MET if it did.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine import pipeline
from engine.run import Decision, Screening

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import baseline
from bench.generate import generate, to_json

N, SEED = 2000, 20260601
VERDICTS = ("MET", "NOT_MET", "UNKNOWN", "NOT_APPLICABLE", "NEEDS_REVIEW")

@dataclass
class Run:
    """The generated patients with both implementations' verdicts and decisions."""

    records: list[dict[str, Any]]
    network: list[tuple[dict[str, str], str]] = field(default_factory=list)
    baseline: list[tuple[dict[str, str], str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(pipeline.compile(pipeline.load(str(ROOT / "examples" / "cd19-ucart-sle.proto-rules"))[0]))


@pytest.fixture(scope="module")
def run(screening: Screening) -> Run:
    result = Run(list(generate(N, SEED)))
    lines = list(enumerate(result.records, start=1))
    for (line, data), outcome in zip(lines, screening.screen(lines, "generated.jsonl")):
        assert isinstance(outcome, Decision), f"line {line} rejected: {outcome}"
        verdicts = {c: v.verdict for c, v in outcome.verdicts.items()}
        result.network.append((verdicts, outcome.decision))
        result.baseline.append(baseline.evaluate(data))
    return result


# -- comparisons ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Disagreement:
    index: int
    criterion: str  # or "decision"
    expected: str  # baseline
    actual: str  # network


def disagreements(result: Run) -> Iterator[Disagreement]:
    pairs = zip(result.network, result.baseline)
    for index, ((net_v, net_d), (base_v, base_d)) in enumerate(pairs):
        for criterion, expected in base_v.items():
            if net_v[criterion] != expected:
                yield Disagreement(index, criterion, expected, net_v[criterion])
        if net_d != base_d:
            yield Disagreement(index, "decision", base_d, net_d)


def report(result: Run, found: list[Disagreement]) -> str:
    lines = [f"{len(found)} disagreements between the network and bench/baseline.py; the first 5:"]
    for d in found[:5]:
        lines.append(f"- patient #{d.index + 1}, {d.criterion}: baseline {d.expected}, "
                     f"network {d.actual}")
        lines.append("  " + to_json(result.records[d.index]))
    return "\n".join(lines)


def test_network_agrees_with_baseline(run: Run) -> None:
    """Every verdict and decision of every generated patient."""
    found = list(disagreements(run))
    assert not found, report(run, found)


def _minimal(criterion: str) -> dict[str, Any]:
    """One patient per criterion the item-`$or` defect would reach, with only the facts it reads."""
    facts: list[dict[str, Any]] = []
    if criterion == "E4":
        facts = [{"concept": c, "present": False} for c in (
            "congenital_heart_disease", "acute_myocardial_infarction", "severe_arrhythmia",
            "serious_myocarditis", "unstable_vital_signs_needing_pressors")]
        facts.append({"concept": "pericardial_effusion", "date": "2026-05-01", "end": "2026-05-31",
                      "grade": 2})  # moderate, but ended the day before screening
    elif criterion == "E7":
        facts = [{"concept": "organ_transplant", "present": False},
                 {"concept": "hsct", "present": False},
                 {"concept": "gvhd", "date": "2026-05-17", "grade": 3}]  # window opens 2026-05-18
    else:  # I2: 1 mg/kg/d prednisone for 2 completed months only, so refractory_sle is false
        facts = [
            {"concept": "sle_classification_2019", "value": True},
            {"concept": "intolerant_to_standard_treatment", "value": False},
            {"concept": "disease_activity", "value": "severe", "date": "2026-05-20"},
            {"concept": "weight", "value": 60, "unit": "kg", "date": "2026-05-20"},
            {"concept": "glucocorticoid", "drug": "prednisone", "dose": 1, "unit": "mg/kg/d",
             "date": "2026-03-02", "ongoing": True},
            {"concept": "antimalarial", "drug": "HCQ", "date": "2025-01-01", "ongoing": True},
            {"concept": "immunosuppressant", "drug": "MMF", "date": "2025-01-01", "ongoing": True},
            {"concept": "immunosuppressant", "drug": "CTX", "date": "2025-02-01",
             "end": "2025-08-01"},
        ]
    return {"patient": f"minimal-{criterion}", "screening_date": "2026-06-01", "facts": facts}


@pytest.mark.parametrize("criterion", ["E4", "E7", "I2"])
def test_item_or_defect_minimal_case(screening: Screening, criterion: str) -> None:
    data = json.loads(to_json(_minimal(criterion)), parse_float=Decimal)
    expected = baseline.evaluate(data)[0][criterion]
    assert expected == "NOT_MET"
    (outcome,) = screening.screen([(1, data)], "minimal.jsonl")
    assert isinstance(outcome, Decision)
    assert outcome.verdicts[criterion].verdict == expected, (
        f"{criterion}: baseline {expected}, network {outcome.verdicts[criterion].verdict}")


# -- the generator ---------------------------------------------------------------------------
def _possible(criterion: str) -> set[str]:
    """Verdicts a criterion of the seed protocol can have (a judgment is never missing data)."""
    if criterion == "E13":
        return {"MET", "NOT_MET", "NEEDS_REVIEW"}
    applies_when = {"NOT_APPLICABLE"} if criterion in ("I6", "E10") else set()
    return {"MET", "NOT_MET", "UNKNOWN"} | applies_when


def test_generator_covers_every_verdict(run: Run) -> None:
    """Each criterion reaches exactly its possible verdicts (baseline); the network reaches them."""
    by_baseline: dict[str, set[str]] = defaultdict(set)
    by_network: dict[str, set[str]] = defaultdict(set)
    for (base_v, _), (net_v, _) in zip(run.baseline, run.network):
        for criterion, verdict in base_v.items():
            by_baseline[criterion].add(verdict)
            by_network[criterion].add(net_v[criterion])
    for criterion in run.baseline[0][0]:
        assert by_baseline[criterion] == _possible(criterion), criterion
        assert _possible(criterion) <= by_network[criterion], criterion
    decisions = {d for _, d in run.baseline}
    assert decisions == {"ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"}


def _edges(data: dict[str, Any]) -> set[str]:
    """Which of the edge cases the brief names this patient carries."""
    found, sd = set(), data["screening_date"]
    if sd[5:] in ("08-31", "05-31", "03-31", "12-31"):
        found.add("month-end screening")
    facts = baseline.Facts(data)
    if data.get("birth_date") and facts.v["age"] == 5 and data["birth_date"][4:] == sd[4:]:
        found.add("5th birthday")
    values = {"egfr": {30, Decimal("29.9")}, "spo2": {92}, "lvef": {55}, "ast__uln": {3},
              "tbil__uln": {2}}
    for name, edges in values.items():
        found |= {f"{name}={edge}" for edge in edges if facts.v[name] == edge}
    for fact in data["facts"]:
        if fact["concept"] == "tbil" and fact.get("reference_range"):
            found.add(f"tbil in {fact['unit']}")
        if fact["concept"] == "glucocorticoid" and fact.get("dose") is not None:
            found.add(f"glucocorticoid in {fact['unit'].replace('day', 'd')}")
        if fact.get("present") is False:
            found.add("present false")
        if fact.get("ongoing"):
            found.add("ongoing")
    if isinstance(facts.v["glucocorticoid"], list):
        found |= {"1 mg/kg/d exactly" for *_, dose in facts.v["glucocorticoid"] if dose == 1}
    if isinstance(facts.v["immunosuppressant"], list):
        found.add(f"{len({c[0] for c in facts.v['immunosuppressant']})} immunosuppressants")
    return found


def test_generator_reaches_the_edges(run: Run) -> None:
    seen = set().union(*(_edges(data) for data in run.records))
    wanted = {"month-end screening", "5th birthday", "egfr=30", "egfr=29.9", "spo2=92", "lvef=55",
              "ast__uln=3", "tbil__uln=2", "tbil in mg/dL", "tbil in umol/L",
              "glucocorticoid in mg/d", "glucocorticoid in mg/kg/d", "1 mg/kg/d exactly",
              "present false", "ongoing", *(f"{n} immunosuppressants" for n in range(1, 5))}
    assert wanted <= seen, sorted(wanted - seen)


def test_generator_is_deterministic_and_round_trips() -> None:
    first = [to_json(p) for p in generate(40, 7)]
    assert first == [to_json(p) for p in generate(40, 7)]
    assert first[:10] == [to_json(p) for p in generate(10, 7)]
    assert first != [to_json(p) for p in generate(40, 8)]
    for text, data in zip(first, generate(40, 7)):
        assert baseline.evaluate(json.loads(text, parse_float=Decimal)) == baseline.evaluate(data)
