"""A derived value whose input is known only within bounds (creatinine "< 0.5 mg/dL", weight
"> 150 kg"): the formula is worked out over every value the input may have (interval arithmetic,
exact at each step), and a comparison is decided wherever all of them give the same verdict,
UNKNOWN (never NEEDS_REVIEW) only near the edge, as for a measured value itself.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.run import Decision, Screening
from protocol import formula as f
from tests.conftest import assert_trail_agrees, judged, network_from_text, run_cli, screen_one

PROTOCOL = """protocol "derived bounds" version "1"
concepts:
  age: age
  sex: category {female, male}
  weight: quantity in kg
  height: quantity in cm
  creatinine: lab in mg/dL convert 1 mg/dL = 88.4 umol/L
  crcl: derived in mL/min "Cockcroft-Gault" =
    (140 - age in years) x (weight in kg) / (72 x (creatinine in mg/dL))
    x (0.85 if sex is female else 1)
  bmi: derived in kg/m2 = weight / height^2
  twice: derived in kg/m2 = bmi x 2
  above: derived in mg/dL = (creatinine in mg/dL) - 1
  odd: derived in mg/dL = 1 / ((creatinine in mg/dL) - 1)
inclusion C1 "CrCl >= 60 mL/min": crcl >= 60 mL/min
inclusion C2 "CrCl 30 to 60 mL/min": crcl 30 to 60 mL/min
inclusion B1 "BMI < 30": bmi < 30 kg/m2
inclusion B2 "twice the BMI > 80": twice > 80 kg/m2
inclusion A1 "creatinine more than 1 mg/dL above 1 mg/dL": above > 1 mg/dL
inclusion O1 "odd": odd >= 0 mg/dL
"""


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "bounds.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def patient(screening: Screening, **values: Any) -> Decision:
    units = {"weight": "kg", "height": "cm", "creatinine": "mg/dL"}
    facts = [{"concept": "sex", "value": values.pop("sex", "male"), "date": "2026-06-01"}]
    facts += [{"concept": name, "value": value, "unit": units[name], "date": "2026-06-01"}
              for name, value in {"weight": 72, "height": 180, "creatinine": 1.5, **values}.items()
              if value is not None]
    result = screen_one(screening, facts, day="2026-06-01", birth_date="1976-05-01")  # 50 years
    assert isinstance(result, Decision), result
    return result


@pytest.mark.parametrize("values, verdicts", [
    # (140 - 50) x 72 / (72 x creatinine) = 90 / creatinine
    ({"creatinine": 1.5}, {"C1": "MET", "C2": "MET"}),  # exactly 60: both ranges count their ends
    ({"creatinine": "< 1.5"}, {"C1": "MET", "C2": "UNKNOWN"}),  # 60 or more, 0 unbounded
    ({"creatinine": "< 0.5"}, {"C1": "MET", "C2": "NOT_MET"}),  # more than 180
    ({"creatinine": "> 3"}, {"C1": "NOT_MET", "C2": "UNKNOWN"}),  # 0 to 30
    ({"creatinine": "> 4"}, {"C1": "NOT_MET", "C2": "NOT_MET"}),  # 0 to 22.5
    ({"creatinine": "< 2"}, {"C1": "UNKNOWN", "C2": "UNKNOWN"}),  # 45 or more
    ({"creatinine": "> 0.5"}, {"C1": "UNKNOWN", "C2": "UNKNOWN"}),  # 0 to 180
    ({"creatinine": "<= 1.5", "sex": "female"}, {"C1": "UNKNOWN", "C2": "UNKNOWN"}),  # >= 51
    ({"weight": "> 144"}, {"C1": "MET", "C2": "NOT_MET"}),  # 90 x 144 / 108 = 120 or more
    ({"weight": "< 60"}, {"C1": "NOT_MET", "C2": "UNKNOWN"}),  # 0 to 50
    ({"weight": None}, {"C1": "UNKNOWN", "C2": "UNKNOWN"}),  # missing, as before
])
def test_a_bounded_input_bounds_the_value(network, screening, values, verdicts):
    assert_trail_agrees(network, patient(screening, **values), verdicts)


@pytest.mark.parametrize("values, verdicts", [
    # bmi = weight / 3.24 at 180 cm; twice = 2 x bmi, a derived value of a derived value
    ({"weight": 72}, {"B1": "MET", "B2": "NOT_MET"}),
    ({"weight": "> 150"}, {"B1": "NOT_MET", "B2": "MET"}),  # bmi > 46.3, twice > 92.6
    ({"weight": "> 140"}, {"B1": "NOT_MET", "B2": "MET"}),  # twice >= 86.419754
    ({"weight": "< 97.2"}, {"B1": "UNKNOWN", "B2": "NOT_MET"}),  # bmi 0 to 30: 30 is an end
    ({"weight": "< 97", "height": "> 180"}, {"B1": "MET", "B2": "NOT_MET"}),  # 0 to 29.938272
    ({"height": "< 100"}, {"B1": "NOT_MET", "B2": "MET"}),  # 72 / 1 m2 or more
])
def test_through_a_derived_value_and_a_power(network, screening, values, verdicts):
    assert_trail_agrees(network, patient(screening, **values), verdicts)


def test_a_difference_and_a_divisor_that_may_be_zero(network, screening):
    # creatinine - 1 for "> 2.5": more than 1.5; for "< 1.5": -1 to 0.5
    assert patient(screening, creatinine="> 2.5").verdicts["A1"].verdict == "MET"
    assert patient(screening, creatinine="< 1.5").verdicts["A1"].verdict == "NOT_MET"
    assert patient(screening, creatinine="< 3").verdicts["A1"].verdict == "UNKNOWN"
    # 1 / (creatinine - 1): "> 2" is 0 to 1; "< 3" may divide by 0 between -1 and 2: unbounded
    # both ways, no value at all: UNKNOWN, saying it cannot be computed
    assert patient(screening, creatinine="> 2").verdicts["O1"].verdict == "MET"
    assert patient(screening, creatinine="<= 0.5").verdicts["O1"].verdict == "NOT_MET"
    result = patient(screening, creatinine="< 3")
    assert result.verdicts["O1"].verdict == "UNKNOWN"
    assert judged(screening.network, result, "O1")["detail"] == (
        "odd: unknown: cannot be computed from creatinine < 3 mg/dL")
    assert patient(screening, creatinine=1).verdicts["O1"].verdict == "UNKNOWN"  # 1 / 0


def test_the_trail_shows_the_bounds(network, screening):
    result = patient(screening, creatinine="< 0.5")
    assert judged(network, result, "C1")["detail"] == (
        "crcl = (140 - 50) x 72 / (72 x (< 0.5)) x 1 >= 180 mL/min (age 50 years, weight 72 kg, "
        "creatinine < 0.5 mg/dL, sex male); needs >= 60 mL/min")
    assert result.derived["crcl"][0] == ">= 180"
    result = patient(screening, creatinine="> 3")
    assert judged(network, result, "C2")["detail"] == (
        "crcl = (140 - 50) x 72 / (72 x (> 3)) x 1 = 0 to 30 mL/min (age 50 years, weight 72 kg, "
        "creatinine > 3 mg/dL, sex male); needs 30 to 60 mL/min")
    result = patient(screening, weight="> 140")
    assert judged(network, result, "B2")["detail"] == (
        "twice = (>= 43.209877) x 2 >= 86.419754 kg/m2 (bmi >= 43.209877 kg/m2); needs > 80 kg/m2")


def test_open_for_its_bounds_is_unknown_and_asks_for_an_exact_input(capsys, tmp_path):
    protocol = tmp_path / "crcl.proto-rules"
    protocol.write_text(PROTOCOL.split("inclusion")[0] + 'inclusion C1 "CrCl": crcl >= 60 mL/min\n')
    facts = [{"concept": "sex", "value": "male"}, {"concept": "weight", "value": 72, "unit": "kg"},
             {"concept": "creatinine", "value": "< 2", "unit": "mg/dL"}]
    patients = tmp_path / "p.jsonl"
    patients.write_text(json.dumps({"patient": "P1", "screening_date": "2026-06-01",
                                    "birth_date": "1976-05-01", "facts": [
                                        {**fact, "date": "2026-06-01"} for fact in facts]}) + "\n")
    trail = tmp_path / "trail.jsonl"
    assert run_cli(capsys, "run", str(protocol), str(patients), "--trail", str(trail))[0] == 0
    code, out, _ = run_cli(capsys, "explain", str(trail), "--patient", "P1")
    assert code == 0
    assert "decision: NEEDS_REVIEW: inclusion C1 UNKNOWN" in out
    assert "would be MET with: crcl >= 60 mL/min (crcl needs an exact creatinine)" in out
    assert "crcl = (140 - 50) x 72 / (72 x (< 2)) x 1 >= 45 mL/min" in out


# --- the interval arithmetic, against the exact value at points within the bounds ----------------

PLANS = network_from_text(PROTOCOL, "bounds.proto-rules").protocol


def _plan(name: str) -> f.Plan:
    concepts = {c.name: c for c in PLANS.concepts}
    plan, problems = f.analyse(concepts[name], concepts, {})
    assert plan is not None, problems
    return plan


ends = st.fractions(min_value=Fraction(1, 100), max_value=100, max_denominator=1000)


@given(st.lists(ends, min_size=6, max_size=6), st.lists(st.floats(0, 1), min_size=3, max_size=3),
       st.booleans())
def test_every_value_within_the_inputs_is_within_the_result(numbers, where, female):
    """Soundness: for inputs anywhere within their intervals, the exact value lies within the
    interval `evaluate_within` gives (Cockcroft-Gault: a product, a quotient, a difference)."""
    plan = _plan("crcl")
    names = ("age", "weight", "creatinine")
    intervals = {n: (min(a, b), max(a, b)) for n, a, b in zip(names, numbers[::2], numbers[1::2])}
    chosen = {0: female}
    low, high = f.evaluate_within(plan, intervals, chosen)
    inside = {n: lo + (hi - lo) * Fraction(w) for (n, (lo, hi)), w in zip(intervals.items(), where)}
    value = f.evaluate(plan, inside, chosen)
    assert low <= value <= high
    corners = [f.evaluate(plan, {"age": a, "weight": w, "creatinine": c}, chosen)
               for a in intervals["age"] for w in intervals["weight"]
               for c in intervals["creatinine"]]
    assert (low, high) == (min(corners), max(corners))  # each input once: the interval is tight


@pytest.mark.parametrize("formula, inputs, expected", [
    ("x^2", {"x": (-2, 3)}, (0, 9)),
    ("x^2", {"x": (-3, -2)}, (4, 9)),
    ("x^3", {"x": (-2, 3)}, (-8, 27)),
    ("x^-1", {"x": (2, 4)}, (Fraction(1, 4), Fraction(1, 2))),
    ("x^-1", {"x": (0, 4)}, (Fraction(1, 4), f.INF)),
    ("x^0.5", {"x": (0, 4)}, (0, 2)),
    ("x^-0.5", {"x": (0, 4)}, (Fraction(1, 2), f.INF)),
    ("x^0.5", {"x": (4, f.INF)}, (2, f.INF)),
    ("min(x, 1)", {"x": (0, 4)}, (0, 1)),
    ("max(x, 1) - x", {"x": (0, 4)}, (-3, 4)),  # x twice: wider than the truth (0 to 1), sound
    ("2^(x)", {"x": (1, 3)}, (2, 8)),
    ("0.5^(x)", {"x": (1, 3)}, (Fraction(1, 8), Fraction(1, 2))),
])
def test_interval_arithmetic(formula, inputs, expected):
    concepts = {"x": "score"}
    text = ("protocol \"i\" version \"1\"\nconcepts:\n  x: score\n"
            f"  v: derived in kg = {formula}\ninclusion I1 \"v\": v > 0 kg\n")
    protocol = network_from_text(text, "i.proto-rules").protocol
    known = {c.name: c for c in protocol.concepts}
    plan, _ = f.analyse(known["v"], known, {})
    assert plan is not None and concepts
    got = f.evaluate_within(plan, {n: tuple(map(_end, v)) for n, v in inputs.items()}, {})
    assert got == tuple(map(_end, expected))


def _end(value: Any) -> Any:
    return value if value == f.INF else Fraction(value)


def test_a_negative_base_of_a_fractional_power_or_no_bound_is_unknown():
    text = ("protocol \"i\" version \"1\"\nconcepts:\n  x: score\n  y: score\n"
            "  v: derived in kg = (x - 1)^0.5\n  w: derived in kg = x / (y - 1)\n"
            "inclusion I1 \"v\": v > 0 kg\ninclusion I2 \"w\": w > 0 kg\n")
    protocol = network_from_text(text, "i.proto-rules").protocol
    known = {c.name: c for c in protocol.concepts}
    for name, inputs in (("v", {"x": (Fraction(0), Fraction(4))}),
                         ("w", {"x": (Fraction(1), Fraction(2)), "y": (Fraction(0), f.INF)})):
        plan, _ = f.analyse(known[name], known, {})
        with pytest.raises(ValueError):
            f.evaluate_within(plan, inputs, {})


@given(st.sampled_from(["<", "<=", ">", ">="]),
       st.decimals(min_value=Decimal("0.1"), max_value=Decimal(20), places=2),
       st.sampled_from(["creatinine", "weight"]))
def test_the_network_decides_a_bound_as_every_value_within_it(screening, op, value, name):
    """Soundness through the network and the trail: where a bounded input decides C1, C2 or
    B1, every exact value within the bound (its ends and middle) gets that verdict."""
    number = value * (10 if name == "weight" else 1)
    result = patient(screening, **{name: f"{op} {number}"})
    step = Decimal("0.001")
    low = {"<": Decimal("0.001"), "<=": Decimal("0.001"), ">": number + step, ">=": number}[op]
    high = {"<": number - step, "<=": number, ">": number * 10, ">=": number * 10}[op]
    high = max(high, low)
    exact = [patient(screening, **{name: float(v)}) for v in (low, (low + high) / 2, high)]
    for criterion in ("C1", "C2", "B1"):
        verdict = result.verdicts[criterion].verdict
        if verdict != "UNKNOWN":
            assert {e.verdicts[criterion].verdict for e in exact} == {verdict}, criterion
        assert judged(screening.network, result, criterion)["status"] == \
            {"MET": "true", "NOT_MET": "false", "UNKNOWN": "unknown"}[verdict]
