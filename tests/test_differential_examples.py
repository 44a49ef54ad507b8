"""Differential test of a new protocol: the rule network against a hand-written baseline.

Why: tests/test_differential.py checks the seed protocol, which uses none of the newer constructs.
EMPA-REG OUTCOME (examples/empa-reg-outcome.proto-rules) uses the most of them: a range on both
ends (`hba1c 7.0 to 10.0 %`), windows counted from a date concept (`more than 2 months before
informed_consent`, `at least 1 day before`, `within 12 months before`, `at informed_consent`),
calendar months from month ends, units as laboratories print them (mmol/L, ukat/L and umol/L by
declared factors, lb, m), a filter with `other than` (E7), a stable regimen before the
randomisation date (I2), derived values (BMI from weight and height, MDRD eGFR with fractional
powers and conditional terms for sex and race), results known only as bounds, dates known to the month or year, occurrences
with no date, courses with no end, stale results and unattested judgments. bench/baseline_empa.py
decides it again in plain Python from the README; bench/generate_empa.py makes patients on and
beside every edge. Both must agree on every verdict and decision.

Where they disagree the baseline is not bent to match: the two defects this test found (a start
known to the month not bounded by its end; an undated course stopping the screening) were fixed in
the engine, and their minimal patients are kept below.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from engine import pipeline
from engine.run import Decision

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import baseline_empa as baseline
from bench.generate import to_json
from bench.generate_empa import WINDOWS, generate

PROTOCOL = ROOT / "examples" / "empa-reg-outcome.proto-rules"
EXAMPLES = ROOT / "examples" / "empa-reg-outcome.patients.jsonl"
#: A seed whose patients reach every designed edge (`test_generator_reaches_the_edges`; a BMI at
#: or a step beside 45 is the rarest): the stream moves when the generator makes more or less.
N, SEED = 2000, 20260601
JUDGMENTS = ("E8", "E12", "E14")

@dataclass
class Run:
    """The generated patients with both implementations' verdicts and decisions."""

    records: list[dict[str, Any]]
    network: list[tuple[dict[str, str], str]] = field(default_factory=list)
    baseline: list[tuple[dict[str, str], str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def network() -> Any:
    protocol, _ = pipeline.load(str(PROTOCOL))
    return pipeline.compile(protocol)


def _parsed(record: dict[str, Any]) -> dict[str, Any]:
    """As the fact file would give it: numbers as exact decimals."""
    return json.loads(to_json(record), parse_float=Decimal)


@pytest.fixture(scope="module")
def run(network: Any) -> Run:
    result = Run([_parsed(p) for p in generate(N, SEED)])
    lines = list(enumerate(result.records, start=1))
    for (line, data), outcome in zip(lines, pipeline.screen(network, lines, "generated")):
        assert isinstance(outcome, Decision), f"line {line} rejected: {outcome}"
        result.network.append(({c: v.verdict for c, v in outcome.verdicts.items()},
                               outcome.decision))
        result.baseline.append(baseline.evaluate(data))
    return result


# -- comparisons ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Disagreement:
    index: int
    criterion: str  # or "decision"
    expected: str  # baseline
    actual: str  # network


def disagreements(result: Run, indices: list[int]) -> Iterator[Disagreement]:
    for index in indices:
        (net_v, net_d), (base_v, base_d) = result.network[index], result.baseline[index]
        assert net_v.keys() == base_v.keys()
        for criterion, expected in base_v.items():
            if net_v[criterion] != expected:
                yield Disagreement(index, criterion, expected, net_v[criterion])
        if net_d != base_d:
            yield Disagreement(index, "decision", base_d, net_d)


def report(result: Run, found: list[Disagreement]) -> str:
    lines = [f"{len(found)} disagreements between the network and bench/baseline_empa.py; "
             "the first 5:"]
    for d in found[:5]:
        lines.append(f"- patient #{d.index + 1}, {d.criterion}: baseline {d.expected}, "
                     f"network {d.actual}")
        lines.append("  " + to_json(result.records[d.index]))
    return "\n".join(lines)


def test_network_agrees_with_baseline(run: Run) -> None:
    """Every verdict and decision of every generated patient."""
    found = list(disagreements(run, list(range(len(run.records)))))
    assert not found, report(run, found)


def test_example_patients_agree(network: Any) -> None:
    """The protocol's own boundary patients, those the network accepts (E32's HbA1c in mmol/mol
    is now refused as an input error)."""
    records = [json.loads(line, parse_float=Decimal)
               for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = list(enumerate(records, start=1))
    checked, problems = 0, []
    for (line, data), outcome in zip(lines, pipeline.screen(network, lines, EXAMPLES.name)):
        if not isinstance(outcome, Decision):
            continue
        checked += 1
        verdicts, decision = baseline.evaluate(data)
        network_verdicts = {c: v.verdict for c, v in outcome.verdicts.items()}
        if (verdicts, decision) != (network_verdicts, outcome.decision):
            problems.append(f"{data['patient']}: baseline {decision} {verdicts}, network "
                            f"{outcome.decision} {network_verdicts}")
    assert checked >= 30
    assert not problems, "\n".join(problems)


# -- the defects this test found (now fixed), each in a minimal patient -----------------------
def _minimal(criterion: str) -> dict[str, Any]:
    """The fewest facts that decide `criterion` MET by the README, which the network left open
    before an occurrence's latest possible start was bounded by its end (a start known to the
    month, an end before the month's last day). Screening and consent 2026-03-31 unless said."""
    sd, consent = "2026-03-31", "2026-03-31"
    facts: list[dict[str, Any]]
    if criterion == "I1":  # diagnosed in March 2026, the episode ended 2026-03-30: before consent
        facts = [{"concept": "t2dm_diagnosis", "date": "2026-03", "end": "2026-03-30"}]
    elif criterion == "E9":  # orlistat in March, stopped 2026-03-17 = the consent day
        consent = "2026-03-17"
        facts = [{"concept": "anti_obesity_drug", "drug": "Xenical", "date": "2026-03",
                  "end": "2026-03-17"},
                 {"concept": "weight_destabilizing_treatment", "present": False}]
    elif criterion == "E10":  # a thyroid dose change in 2026 lasting until the consent day
        consent = "2026-03-30"
        facts = [{"concept": "thyroid_hormone_dose_change", "date": "2026", "end": "2026-03-30"},
                 {"concept": "systemic_steroid", "present": False},
                 {"concept": "uncontrolled_endocrine_disorder", "value": False,
                  "date": "2026-03-30"}]
    elif criterion == "E15":  # a stroke sometime in 2026, over by 2026-03-01, within 2 months
        consent = "2026-03-02"
        facts = [{"concept": "stroke", "date": "2026", "end": "2026-03-01"},
                 {"concept": "acute_coronary_syndrome", "present": False},
                 {"concept": "tia", "present": False}]
    else:  # I7: an MI in December 2023 that ended 2023-12-20, more than 2 months before consent
        sd, consent = "2024-02-29", "2024-02-22"
        facts = [{"concept": "myocardial_infarction", "date": "2023-12", "end": "2023-12-20"}]
    facts.append({"concept": "informed_consent", "value": consent})
    return {"patient": f"minimal-{criterion}", "screening_date": sd, "facts": facts}


@pytest.mark.parametrize("criterion", ["I1", "E9", "E10", "E15", "I7"])
def test_start_bounded_by_end_minimal_case(network: Any, criterion: str) -> None:
    data = _parsed(_minimal(criterion))
    expected = baseline.evaluate(data)[0][criterion]
    assert expected == "MET", expected  # the baseline's reading, checked by hand above
    (outcome,) = pipeline.screen(network, [(1, data)], "minimal.jsonl")
    assert isinstance(outcome, Decision)
    assert outcome.verdicts[criterion].verdict == expected, (
        f"{criterion}: baseline {expected}, network {outcome.verdicts[criterion].verdict}\n"
        f"  {to_json(data)}")


def test_undated_course_is_decided(network: Any) -> None:
    """A medication course with no date is decided (it raised a KeyError that stopped the whole
    screening before)."""
    data = _parsed({"patient": "undated-course", "screening_date": "2026-06-01", "facts": [
        {"concept": "informed_consent", "value": "2026-05-25"},
        {"concept": "anti_obesity_drug", "drug": "orlistat"},
        {"concept": "weight_destabilizing_treatment", "present": False}]})
    expected = baseline.evaluate(data)[0]["E9"]
    assert expected == "UNKNOWN"
    (outcome,) = pipeline.screen(network, [(1, data)], "undated.jsonl")
    assert isinstance(outcome, Decision)
    assert outcome.verdicts["E9"].verdict == expected


# -- the generator ---------------------------------------------------------------------------
def _possible(criterion: str) -> set[str]:
    """Verdicts a criterion can have: no applies-when here; a judgment is never missing data."""
    return {"MET", "NOT_MET", "NEEDS_REVIEW" if criterion in JUDGMENTS else "UNKNOWN"}


def test_generator_covers_every_verdict(run: Run) -> None:
    by_baseline: dict[str, set[str]] = defaultdict(set)
    by_network: dict[str, set[str]] = defaultdict(set)
    for (base_v, _), (net_v, _) in zip(run.baseline, run.network):
        for criterion, verdict in base_v.items():
            by_baseline[criterion].add(verdict)
            by_network[criterion].add(net_v[criterion])
    for criterion in run.baseline[0][0]:
        assert by_baseline[criterion] == _possible(criterion), criterion
        assert _possible(criterion) <= by_network[criterion], criterion
    assert {d for _, d in run.baseline} == {"ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"}


def _window_edges(data: dict[str, Any], consent: date | None) -> set[str]:
    """`<history> <kind> edge-1|edge|edge+1`: an exactly dated occurrence whose deciding day (its
    end for an overlap, its start for `more than` / `at least`) lies on a window's edge or a day
    beside it."""
    found, sd = set(), date.fromisoformat(data["screening_date"])
    for fact in data["facts"]:
        windows = WINDOWS.get(fact["concept"], ())
        when = fact.get("date")
        if not windows or when is None or len(when) != 10 or fact.get("ongoing"):
            continue
        start = date.fromisoformat(when)
        end = date.fromisoformat(fact["end"]) if fact.get("end") and len(fact["end"]) == 10 \
            else start if "drug" not in fact else None
        for anchor, kind, amount, unit in windows:
            a = sd if anchor == "screening" else consent
            if a is None:
                continue
            span = {"days": relativedelta(days=amount), "weeks": relativedelta(weeks=amount),
                    "months": relativedelta(months=amount),
                    "years": relativedelta(years=amount)}[unit]
            if kind == "at":
                edge, day = a, end
            elif kind == "within_after":  # a plan's window forward: its start against the end
                edge, day = a + span, start
            else:
                edge = a - span
                day = end if kind == "within" else start
            if day is not None and abs((day - edge).days) <= 1:
                found.add(f"{fact['concept']} {kind} edge{(day - edge).days:+d}")
    return found


def _edges(data: dict[str, Any]) -> set[str]:
    """Which of the designed edges this patient carries."""
    found, sd = set(), data["screening_date"]
    if sd[5:] in ("02-29", "03-31", "05-31", "08-31", "12-31"):
        found.add("month-end screening")
    facts = baseline.Facts(data)
    consent = facts.consent
    if facts.randomisation is None:
        found.add("randomisation missing")
    if consent is None:
        found.add("consent missing")
    elif (consent + timedelta(days=1)).day == 1:
        found.add("month-end consent")
    born = data.get("birth_date")
    if born and born[5:] == "02-29":
        found.add("born 29 February")
        if sd[5:] == "02-28" and facts.measured["age"].low == int(sd[:4]) - int(born[:4]):
            found.add("29 February birthday on 28 February")
    if born and born[5:] == sd[5:] and int(sd[:4]) - int(born[:4]) == 18:
        found.add("18th birthday")
    for name, edges in {"hba1c": ("6.9", "7.0", "9.0", "9.1", "10.0", "10.1"),
                        "bmi": ("45",), "abi_left": ("0.9", "0.89"),
                        "abi_right": ("0.9", "0.89"),
                        "fasting_glucose": ("240", "239.4", "241.2"), "age": ("17", "18")}.items():
        value = facts.measured[name]
        if value is not None and value.low == value.high and value.low in {
                Decimal(e) for e in edges}:
            found.add(f"{name}={format(value.low.normalize(), 'f')}")
    for name, edge, label in (("bmi", Decimal(45), "bmi just over 45"),
                              ("egfr", Decimal(30), "egfr just over 30")):
        value = facts.measured[name]
        if value is not None and edge < value.low < edge + Decimal("0.2"):
            found.add(label)
        if value is not None and edge - Decimal("0.2") < value.low < edge:
            found.add(label.replace("over", "under"))
    if facts.earlier is not None:  # E1's second measurement, read
        found.add("fasting_glucose confirmed" if facts.earlier.low > 240 else
                  "fasting_glucose not confirmed")
    elif len({f["date"] for f in data["facts"] if f["concept"] == "fasting_glucose"}) > 1:
        found.add("fasting_glucose earlier day stale or after screening")
    for name in ("alt", "ast", "alp"):
        ratio = facts.uln[name]
        if ratio is not None and ratio.low == ratio.high == 3:
            found.add("x ULN = 3")
        if ratio is not None and ratio.low == ratio.high and 3 < ratio.low < Decimal("3.02"):
            found.add("x ULN just over 3")
    for fact in data["facts"]:
        name, value = fact["concept"], fact.get("value")
        if fact.get("unit") in ("mmol/L", "ukat/L", "umol/L", "lb", "m", "months"):
            found.add(f"{name} in {fact['unit']}")
        if isinstance(value, str) and value[:1] in "<>":
            found.add(f"bound {value.split()[0]}")
        if fact.get("comparator"):
            found.add("comparator")
        if value == "not detected":
            found.add("not detected" + (" with limit" if "limit" in fact else ""))
        if fact.get("present") is False:
            found.add("present false")
        elif name == "cancer":
            found.add(f"cancer type {fact.get('type', 'not recorded')}")
        elif name == "antidiabetic" and facts.randomisation is not None:
            first = facts.randomisation - relativedelta(weeks=12)  # the 12 weeks' first day
            for key in ("date", "end"):
                day = fact.get(key)
                if day and len(day) == 10 and abs((date.fromisoformat(day) - first).days) <= 1:
                    found.add(f"antidiabetic {key} edge{(date.fromisoformat(day) - first).days:+d}")
        if fact.get("recorded_by") is None and name in baseline.JUDGMENTS:
            found.add("judgment not attested")
        if fact.get("date") and name in baseline.VALID_28:
            age = (date.fromisoformat(sd) - date.fromisoformat(fact["date"])).days
            if age in (28, 29):
                found.add(f"{age} days old")
        if name in WINDOWS:
            when = fact.get("date")
            if when is None and fact.get("present") is not False:
                found.add("undated occurrence")
            elif when is not None:
                found.add({4: "year date", 7: "month date", 10: "day date"}[len(when)])
            if fact.get("ongoing"):
                found.add("ongoing")
            if "drug" in fact and not fact.get("end") and not fact.get("ongoing"):
                found.add("course end unknown")
    return found | _window_edges(data, consent)


def _wanted_window_edges() -> set[str]:
    return {f"{name} {kind} edge{delta:+d}" for name, windows in WINDOWS.items()
            for _, kind, _, _ in windows for delta in (-1, 0, 1)}


def test_generator_reaches_the_edges(run: Run) -> None:
    seen = set().union(*(_edges(data) for data in run.records))
    wanted = {
        "month-end screening", "month-end consent", "consent missing", "born 29 February",
        "29 February birthday on 28 February",
        "18th birthday", "hba1c=6.9", "hba1c=7", "hba1c=9", "hba1c=9.1", "hba1c=10", "hba1c=10.1",
        "bmi=45", "bmi just over 45", "bmi just under 45", "abi_left=0.9", "abi_left=0.89",
        "abi_right=0.9", "abi_right=0.89",
        "fasting_glucose=240", "fasting_glucose=239.4", "fasting_glucose=241.2",
        "egfr just over 30", "egfr just under 30",
        "age=17", "age=18", "x ULN = 3", "x ULN just over 3",
        "fasting_glucose in mmol/L", "alt in ukat/L", "ast in ukat/L", "alp in ukat/L",
        "creatinine in umol/L", "weight in lb", "height in m", "age in months",
        "bound <", "bound <=", "bound >", "bound >=", "comparator", "not detected",
        "not detected with limit", "present false", "judgment not attested", "28 days old",
        "29 days old", "undated occurrence", "year date", "month date", "day date", "ongoing",
        "course end unknown", "cancer type other", "cancer type basal_cell_carcinoma",
        "cancer type basal cell carcinoma", "cancer type not recorded", "randomisation missing",
        "fasting_glucose confirmed", "fasting_glucose not confirmed",
        "fasting_glucose earlier day stale or after screening",
        *(f"antidiabetic {key} edge{delta:+d}" for key in ("date", "end") for delta in (-1, 0, 1)),
        *_wanted_window_edges(),
    }
    assert wanted <= seen, sorted(wanted - seen)


def test_generator_is_deterministic_and_round_trips() -> None:
    first = [to_json(p) for p in generate(40, 7)]
    assert first == [to_json(p) for p in generate(40, 7)]
    assert first[:10] == [to_json(p) for p in generate(10, 7)]
    assert first != [to_json(p) for p in generate(40, 8)]
    for text, data in zip(first, generate(40, 7)):
        assert baseline.evaluate(json.loads(text, parse_float=Decimal)) == baseline.evaluate(data)
