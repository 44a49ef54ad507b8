"""Derived values: formulas with units, from the grammar through the checks to the verdict.

Each stage has its section; protocols are inline and small, and the engine tests run the real
network (no mocks) through the pipeline.
"""

from __future__ import annotations

import io
import json
import random
from decimal import Decimal
from fractions import Fraction

import pytest

from engine import pipeline
from engine.audit.explain import render
from engine.audit.recorder import Trail
from engine.audit.trail import records
from grammar.parser import parse
from protocol import formula as f
from protocol import model as m
from protocol.checks import check
from protocol.amend.diff import diff
from protocol.errors import ProtocolError
from protocol.formula import rounded

HEAD = 'protocol "t"\nversion "1"\nconcepts:\n'


def formula(text: str, declared: str = "kg/m2") -> m.Expr:
    """The formula of `v: derived in <declared> = <text>`."""
    protocol = parse(HEAD + f"  v: derived in {declared} = {text}\n", "t.pr")
    concept = protocol.concept("v")
    assert concept is not None and concept.kind is m.Kind.DERIVED and concept.formula is not None
    return concept.formula


def shape(expr: m.Expr) -> str:
    """A formula as a fully parenthesised string, to read precedence off."""
    if isinstance(expr, m.Number):
        return str(expr.value)
    if isinstance(expr, m.Reading):
        return expr.ref.name + (f"[{expr.unit}]" if expr.unit else "")
    if isinstance(expr, m.Arithmetic):
        return f"({shape(expr.left)} {expr.op} {shape(expr.right)})"
    if isinstance(expr, m.Power) and isinstance(expr.exponent, m.Number):
        return f"{shape(expr.base)}^{expr.exponent.value}"
    if isinstance(expr, m.Power):
        return f"{shape(expr.base)}^({shape(expr.exponent)})"
    if isinstance(expr, m.Choice):
        return f"({shape(expr.then)} if {expr.condition.ref.name} else {shape(expr.otherwise)})"
    assert isinstance(expr, m.Call)
    return f"{expr.function}({', '.join(shape(a) for a in expr.args)})"


# --- grammar --------------------------------------------------------------------------------------

GRAMMAR = [
    ("a + b", "(a + b)"),
    ("a - b", "(a - b)"),
    ("a x b", "(a * b)"),
    ("a × b", "(a * b)"),
    ("a * b", "(a * b)"),
    ("a / b", "(a / b)"),
    ("a + b x c", "(a + (b * c))"),
    ("a - b - c", "((a - b) - c)"),
    ("a / b / c", "((a / b) / c)"),
    ("a / b x c", "((a / b) * c)"),
    ("(a + b) x c", "((a + b) * c)"),
    ("a / b^2", "(a / b^2)"),
    ("a / (b x b)", "(a / (b * b))"),
    ("75,000 x a", "(75000 * a)"),
    ("1,234,567.5 + 0.25", "(1234567.5 + 0.25)"),
    ("(140 - age in years) x (weight in kg)", "((140 - age[years]) * weight[kg])"),
    ("a x (0.85 if sex is female else 1)", "(a * (0.85 if sex else 1))"),
    ("min(a, b)", "min(a, b)"),
    ("max(a, b, 3)", "max(a, b, 3)"),
    ("sqrt((height in cm) x (weight in kg) / 3600)",
     "sqrt(((height[cm] * weight[kg]) / 3600))"),
    ("maximum x minimum", "(maximum * minimum)"),
    ("0.993^(age in years)", "0.993^(age[years])"),
    ("a^(b - 1) x c", "(a^((b - 1)) * c)"),
    ("min(a, 1)^(-0.329 if sex is female else -0.411)",
     "min(a, 1)^((-0.329 if sex else -0.411))"),
    ("a^(2)", "a^2"),  # a parenthesised number is a written exponent
    ("-0.5 + a", "(-0.5 + a)"),
    ("-0.5 x a", "(-0.5 * a)"),  # (-0.5) x a and -(0.5 x a) are one number
    ("a - -2", "(a - -2)"),
    ("a x (-2)", "(a * -2)"),
]


@pytest.mark.parametrize("text, expected", GRAMMAR)
def test_formula_grammar(text: str, expected: str) -> None:
    assert shape(formula(text)) == expected


def test_derived_concept_label_unit_and_spans() -> None:
    protocol = parse(HEAD + '  crcl: derived in mL/min "Cockcroft-Gault" = (140 - age in years)'
                     " x (weight in kg) / (72 x (creatinine in mg/dL))"
                     " x (0.85 if sex is female else 1)\n  next: flag\n", "t.pr")
    crcl = protocol.concept("crcl")
    assert crcl is not None and (crcl.unit, crcl.label) == ("mL/min", "Cockcroft-Gault")
    assert m.formula_names(crcl.formula) == ["age", "weight", "creatinine", "sex"]
    assert [c.name for c in protocol.concepts] == ["crcl", "next"]


def test_thousands_separator_in_thresholds_and_lists() -> None:
    protocol = parse(HEAD + "  p: quantity in cells/uL\ninclusion I1 \"x\": "
                     "any of [p >= 75,000 cells/uL, p < 1,000 cells/uL]\n", "t.pr")
    items = protocol.criteria[0].condition.items
    assert [i.threshold.value for i in items] == [Decimal(75000), Decimal(1000)]


def test_a_conditional_term_without_parentheses_or_else_says_how_to_write_it() -> None:
    for text in ("a x 0.85 if sex is female", "a x (0.85 if sex is female)"):
        with pytest.raises(ProtocolError) as raised:
            formula(text)
        assert "a conditional term is written (A if CONDITION else B)" \
            in str(raised.value)


@pytest.mark.parametrize("text", [
    "a x 0.85 if sex is female",
    "(0.85 if sex is female)",
    "a ^ x",
    "sqrt(a, b)",
    "a b",
    "a +",
    "a^(b",
    "a x -2",  # a negative number in a product is bracketed: a x (-2)
])
def test_formula_syntax_errors(text: str) -> None:
    with pytest.raises(ProtocolError):
        formula(text)


@pytest.mark.parametrize("text", ["-a", "-2^2", "-min(a, 1)"])
def test_a_minus_sign_goes_before_a_number_only(text: str) -> None:
    """-2^2 is 4 to some readers and -4 to others: the language takes no side."""
    with pytest.raises(ProtocolError) as raised:
        formula(text)
    assert "a minus sign goes before a number only; write '0 - ...' or '(-1) x ...'" in str(
        raised.value)


# --- checks ---------------------------------------------------------------------------------------

CONCEPTS = """\
  age: age
  weight: quantity in kg
  height: quantity in cm
  creatinine: lab in umol/L convert 1 mg/dL = 88.4 umol/L "serum creatinine"
  sex: category {male, female}
"""


def problems(*lines: str, uses: str = "v > 1 kg") -> list[str]:
    """`line:col code: message` of every report but unused-concept warnings, for concepts
    `CONCEPTS` (lines 4 to 8) followed by `lines` (line 9 on), used by one criterion."""
    text = HEAD + CONCEPTS + "".join(f"  {line}\n" for line in lines)
    text += f'inclusion I1 "x": {uses}\n'
    return [f"{d.span.line}:{d.span.column} {d.code}: {d.message}"
            for d in check(parse(text, "t.pr")) if d.code != "unused-concept"]


def test_cockcroft_gault_and_bmi_check_clean() -> None:
    assert problems(
        'crcl: derived in mL/min "Cockcroft-Gault" = (140 - age in years) x (weight in kg)'
        " / (72 x (creatinine in mg/dL)) x (0.85 if sex is female else 1)",
        "bmi: derived in kg/m2 = weight / height^2",
        "bsa: derived in m2 = sqrt((height in cm) x (weight in kg) / 3600)",
        uses="crcl >= 60 mL/min and bmi < 30 kg/m2 and bsa > 1 m2") == []


def test_mdrd_with_fractional_powers_checks_clean() -> None:
    assert problems(
        'egfr: derived in mL/min/1.73m2 "MDRD" = 175 x (creatinine in mg/dL)^-1.154'
        " x (age in years)^-0.203 x (0.742 if sex is female else 1)",
        uses="egfr < 30 mL/min/1.73m2") == []


CKD_EPI = ('egfr: derived in mL/min/1.73m2 "CKD-EPI 2009" = 141'
           " x min((creatinine in mg/dL) / (0.7 if sex is female else 0.9), 1)"
           "^(-0.329 if sex is female else -0.411)"
           " x max((creatinine in mg/dL) / (0.7 if sex is female else 0.9), 1)^-1.209"
           " x 0.993^(age in years) x (1.018 if sex is female else 1)")


def test_ckd_epi_with_worked_out_exponents_checks_clean() -> None:
    assert problems(CKD_EPI, uses="egfr >= 25 mL/min/1.73m2 and egfr <= 75 mL/min/1.73m2") == []


def test_a_worked_out_exponent_needs_a_plain_base() -> None:
    assert problems("v: derived in kg = weight^(age in years)") == [
        "9:22 formula-dimension: a power whose exponent is worked out, '^(...)', takes a plain "
        "number as its base, not a mass (a unit to a power that varies has no dimension): read "
        "its inputs as 'name in UNIT', like '(creatinine in mg/dL)^(...)'"]


def test_a_worked_out_exponent_is_a_plain_number() -> None:
    assert problems("v: derived in kg = 0.993^(age) x (weight in kg)") == [
        "9:29 formula-dimension: an exponent is a plain number, not a time: read its inputs as "
        "'name in UNIT', like '0.993^(age in years)'"]
    assert problems("v: derived in kg = 2^((weight in kg) / height) x (weight in kg)") == [
        "9:25 formula-dimension: an exponent is a plain number, not a quantity of 1 / length: read "
        "its inputs as 'name in UNIT', like '0.993^(age in years)'"]


def test_both_base_and_exponent_with_units_are_both_reported() -> None:
    assert [p.split(":")[:2] for p in problems("v: derived in kg = weight^(height)")] == [
        ["9", "22 formula-dimension"], ["9", "30 formula-dimension"]]


def test_a_worked_out_exponent_has_no_written_power_limit() -> None:
    """`^7` is refused (a unit holds at most the 6th power); `^(age in years)` reaches 130."""
    assert problems("v: derived in kg = 2^((weight in kg) + 100) x (weight in kg)") == []
    assert [p.split(" ")[1] for p in problems("v: derived in kg = 2^(7) x (weight in kg)")] == [
        "number-limit:"]


def test_a_fractional_power_of_a_quantity_is_refused() -> None:
    assert problems("v: derived in kg = weight^0.5", uses="v > 1 kg")[:1] == [
        "9:22 formula-dimension: ^0.5 takes a plain number, not a mass: read its inputs "
        "as 'name in UNIT'"]


def test_wrong_dimension_names_both_dimensions() -> None:
    assert problems("v: derived in mL/min = weight / height^2", uses="v > 1 mL/min") == [
        ("9:26 formula-dimension: v is declared in mL/min (a volume per time); its formula "
         "gives a mass per area; for an empirical formula, read every input as 'name in UNIT'")]


def test_empirical_dimensionless_formula_is_accepted() -> None:
    assert problems("v: derived in mL/min = (weight in kg) / 2", uses="v > 1 mL/min") == []


def test_adding_a_length_to_a_mass() -> None:
    assert problems("v: derived in kg = weight + height") == [
        "9:31 formula-dimension: '+' needs values of one dimension, not a mass and a length"]


def test_plain_number_added_to_a_quantity() -> None:
    assert problems("v: derived in kg = 140 - weight") == [
        "9:28 formula-dimension: '-' needs values of one dimension, not a plain number and a mass"]


def test_conditional_branches_need_one_dimension() -> None:
    assert problems("v: derived in kg = (weight if sex is female else 1)") == [
        ("9:52 formula-dimension: a conditional term needs values of one dimension, "
         "not a mass and a plain number")]


def test_unknown_and_non_numeric_names() -> None:
    assert problems("v: derived in kg = wieght x (sex in kg)") == [
        "9:22 undefined-name: unknown name 'wieght'; did you mean 'weight'?",
        ("9:32 type-mismatch: 'sex' is a category: a formula computes with the numbers of "
         "quantities, labs, scores, ages and derived values")]


def test_reading_in_a_unit_of_another_dimension() -> None:
    assert problems("v: derived in kg = (creatinine in kg)") == [
        "9:23 formula-unit: creatinine is measured in umol/L; it cannot be read in kg (a mass)"]


def test_unknown_name_in_a_condition_and_division_by_zero() -> None:
    assert problems("v: derived in kg = weight / 0 x (1 if sexx is female else 2)") == [
        "9:31 division-by-zero: division by zero",
        "9:41 undefined-name: unknown name 'sexx'; did you mean 'sex'?"]


def test_cycle_between_derived_values() -> None:
    assert problems("v: derived in kg = w", "w: derived in kg = v x 2") == [
        "9:3 cycle: derived values and definitions refer to each other in a cycle: v -> w -> v"]


def test_too_many_conditional_terms() -> None:
    """Each condition is true, false or open (3 ways); one asked in several terms is one case:
    nine terms on `sex` are 3 ways, six on six other conditions 729."""
    terms = " x ".join(f"(2 if sex is female else {i})" for i in range(1, 10))
    assert problems(f"v: derived in kg = (weight in kg) x {terms}") == []
    terms = " x ".join(f"(2 if weight > {i} kg else {i})" for i in range(1, 7))
    assert problems(f"v: derived in kg = (weight in kg) x {terms}") == [
        ("9:3 formula-too-large: v has 729 ways to decide its conditional terms, one rule each "
         "(limit 256): compute parts of it as derived values of their own")]


def test_too_many_derived_values_in_one_formula() -> None:
    parts = [f"w{i}: derived in kg = weight x {i + 1}" for i in range(16)]
    total = "v: derived in kg = max(" + ", ".join(f"w{i}" for i in range(16)) + ")"
    assert problems(*parts, total) == [
        ("25:3 formula-too-large: v reads 16 derived values and definitions; a rule of the engine "
         "joins at most 15: compute some of them in a derived value of their own")]


def test_comparison_needs_the_declared_dimension() -> None:
    assert problems("v: derived in kg = weight x 2", uses="v > 60 mL/min") == [
        "10:23 unit-dimension: v is measured in kg; 60 mL/min is a volume per time"]


# --- engine: decided in the rule network ----------------------------------------------------------

PROTOCOL = HEAD + """\
  age: age
  weight: quantity in kg valid for 28 days
  height: quantity in cm
  height_m: quantity in m
  creatinine: lab in mg/dL
  sex: category {male, female}
  wbc: lab in cells/uL
  neutrophils: quantity in %
  crcl: derived in mL/min "Cockcroft-Gault creatinine clearance" = (140 - age in years)
      x (weight in kg) / (72 x (creatinine in mg/dL)) x (0.85 if sex is female else 1)
  bmi: derived in kg/m2 = weight / height^2
  bmi_m: derived in kg/m2 = weight / (height_m x height_m)
  anc: derived in cells/uL = wbc x (neutrophils in %) / 100
  anc_bare: derived in cells/uL = wbc x neutrophils
  obese: derived in kg/m2 = max(bmi, bmi_m)
inclusion I1 "Creatinine clearance >= 60 mL/min": crcl >= 60 mL/min
inclusion I2 "Creatinine clearance above 60 mL/min": crcl > 60 mL/min
inclusion I3 "BMI under 30": bmi < 30 kg/m2
inclusion I4 "BMI under 30, height in m": bmi_m < 30 kg/m2
inclusion I5 "ANC >= 1,500/uL": anc >= 1,500 cells/uL and anc_bare >= 1,500 cells/uL
inclusion I6 "Not obese": obese < 30 kg/m2
"""


@pytest.fixture(scope="module")
def network():

    return pipeline.compile(pipeline.load_text(PROTOCOL, "t.pr")[0])


def patient(sex: str = "female", born: str = "1972-01-01", **values: str) -> dict:
    """A patient screened 2026-06-01, born 1972-01-01 (54 at screening), with these values
    (`"72 stale"`: measured before the 28 days weight is valid for)."""
    units = {"weight": "kg", "height": "cm", "height_m": "m", "creatinine": "mg/dL",
             "wbc": "cells/uL", "neutrophils": "%"}
    facts: list[dict] = [{"concept": "sex", "value": sex}]
    for name, value in values.items():
        when = "2026-01-20" if value.endswith(" stale") else "2026-05-20"
        facts.append({"concept": name, "value": Decimal(value.split()[0]), "unit": units[name],
                      "date": when})
    return {"patient": "p", "screening_date": "2026-06-01", "birth_date": born, "facts": facts}


def run(network, *patients: dict) -> tuple[list, str]:
    """The decisions and the trail's text of a run over `patients`."""


    out = io.StringIO()
    trail = Trail(out, network, "t.pr", "inline", None)
    decisions = list(pipeline.screen(network, list(enumerate(patients, 1)), "inline"))
    for decision in decisions:
        trail.write(decision)
    trail.close("0" * 64)
    return decisions, out.getvalue()


def read(trail: str) -> list[dict]:
    """The trail's records as its readers read them."""
    return list(records(enumerate(trail.encode().splitlines(keepends=True), 1), "trail"))


def evidence(trail: str, criterion: str) -> list[str]:
    return [e["detail"] for r in read(trail) if r["type"] == "criterion"
            and r["criterion"] == criterion for e in r["evidence"]]


WOMAN = {"weight": "72", "height": "170", "height_m": "1.7", "creatinine": "1.1", "wbc": "5000",
         "neutrophils": "60"}


def test_cockcroft_gault_for_a_woman(network) -> None:
    (decision,), trail = run(network, patient("female", **WOMAN))
    assert decision.derived["crcl"][0] == "66.454545"
    assert decision.verdicts["I1"].verdict == "MET"
    assert evidence(trail, "I1") == [
        ("crcl = (140 - 54) x 72 / (72 x 1.1) x 0.85 = 66.454545 mL/min (age 54 years, "
         "weight 72 kg, creatinine 1.1 mg/dL, sex female); needs >= 60 mL/min")]


def test_cockcroft_gault_for_a_man(network) -> None:
    (decision,), trail = run(network, patient("male", **{**WOMAN, "creatinine": "1.5"}))
    assert decision.derived["crcl"][0] == "57.333333"  # 86 x 72 / 108: no 0.85 for a man
    assert decision.verdicts["I1"].verdict == "NOT_MET"
    assert evidence(trail, "I1") == [
        ("crcl = (140 - 54) x 72 / (72 x 1.5) x 1 = 57.333333 mL/min (age 54 years, weight 72 kg,"
         " creatinine 1.5 mg/dL, sex male); needs >= 60 mL/min")]


def test_bmi_with_height_in_cm_and_in_m(network) -> None:
    (decision,), trail = run(network, patient(**WOMAN))
    assert decision.derived["bmi"][0] == decision.derived["bmi_m"][0] == "24.913495"
    assert evidence(trail, "I3") == [
        "bmi = 72 / 170^2 = 24.913495 kg/m2 (weight 72 kg, height 170 cm); needs < 30 kg/m2"]
    assert evidence(trail, "I4") == [
        ("bmi_m = 72 / (1.7 x 1.7) = 24.913495 kg/m2 (weight 72 kg, height_m 1.7 m); "
         "needs < 30 kg/m2")]
    assert decision.derived["obese"][0] == "24.913495"  # max of two derived values
    assert decision.verdicts["I6"].verdict == "MET"


def test_anc_from_wbc_and_percent(network) -> None:
    (decision,), trail = run(network, patient(**WOMAN))
    assert decision.derived["anc"][0] == decision.derived["anc_bare"][0] == "3000"
    assert decision.verdicts["I5"].verdict == "MET"
    assert evidence(trail, "I5")[0] == ("anc = 5000 x 60 / 100 = 3000 cells/uL (wbc 5000 "
                                        "cells/uL, neutrophils 60 %); needs >= 1500 cells/uL")


def test_body_surface_area_with_a_square_root() -> None:
    text = HEAD + ("  weight: quantity in kg\n  height: quantity in cm\n"
                   "  bsa: derived in m2 = sqrt((height in cm) x (weight in kg) / 3600)\n"
                   'inclusion I1 "BSA of at least 2 m2": bsa >= 2 m2\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    decisions, trail = run(net, patient(height="180", weight="80"), patient(height="170",
                                                                            weight="72"))
    assert [d.derived["bsa"][0] for d in decisions] == ["2", "1.843909"]
    assert [d.verdicts["I1"].verdict for d in decisions] == ["MET", "NOT_MET"]
    assert evidence(trail, "I1")[0] == ("bsa = sqrt(180 x 80 / 3600) = 2 m2 (height 180 cm, "
                                        "weight 80 kg); needs >= 2 m2")


def test_exactly_at_the_threshold_is_met_for_ge_and_not_met_for_gt(network) -> None:
    # A man of 50 with 72 kg and creatinine 1.5 mg/dL: (140 - 50) x 72 / (72 x 1.5) = 60 exactly.
    (decision,), trail = run(network, patient("male", born="1976-01-01",
                                              **{**WOMAN, "creatinine": "1.5"}))
    assert decision.derived["crcl"][0] == "60"
    assert decision.verdicts["I1"].verdict == "MET"
    assert decision.verdicts["I2"].verdict == "NOT_MET"
    assert evidence(trail, "I2") == [
        ("crcl = (140 - 50) x 72 / (72 x 1.5) x 1 = 60 mL/min (age 50 years, weight 72 kg,"
         " creatinine 1.5 mg/dL, sex male); needs > 60 mL/min")]


def test_a_missing_input_gives_unknown_naming_the_input(network) -> None:
    facts = {k: v for k, v in WOMAN.items() if k != "creatinine"}
    (decision,), trail = run(network, patient(**facts))
    assert decision.derived["crcl"][0] == "U"
    assert decision.verdicts["I1"].verdict == "UNKNOWN"
    assert evidence(trail, "I1") == ["crcl: unknown: creatinine: no fact given"]
    (record,) = [r for r in read(trail) if r.get("criterion") == "I1"]
    assert record["missing"] == [{"concept": "creatinine", "reason": "no fact given"}]
    assert [n["needs"] for n in record["to_pass"]] == ["crcl >= 60 mL/min (crcl needs creatinine)"]


def test_a_stale_input_gives_unknown_naming_the_input(network) -> None:
    (decision,), trail = run(network, patient(**{**WOMAN, "weight": "72 stale"}))
    assert decision.verdicts["I1"].verdict == decision.verdicts["I3"].verdict == "UNKNOWN"
    assert evidence(trail, "I3") == [
        ("bmi: unknown: weight: stale: latest weight is from 2026-01-20, before 2026-05-04 "
         "(valid for 28 days)")]


def test_a_missing_input_of_a_derived_input_is_named(network) -> None:
    facts = {k: v for k, v in WOMAN.items() if k != "height_m"}
    (decision,), trail = run(network, patient(**facts))
    assert decision.verdicts["I6"].verdict == "UNKNOWN"
    assert evidence(trail, "I6") == ["obese: unknown: height_m: no fact given"]


def test_an_unknown_condition_reads_both_branches(network) -> None:
    """Sex not recorded: Cockcroft-Gault is a woman's value or a man's, and decided where both
    agree (66.45 and 78.18 mL/min both meet >= 60); the trail shows both factors."""
    data = patient(**WOMAN)
    data["facts"] = [fact for fact in data["facts"] if fact["concept"] != "sex"]
    (decision,), trail = run(network, data)
    assert decision.verdicts["I1"].verdict == "MET"
    assert evidence(trail, "I1") == [
        "crcl = (140 - 54) x 72 / (72 x 1.1) x (0.85 or 1) = 66.454545 to 78.181818 mL/min "
        "(age 54 years, weight 72 kg, creatinine 1.1 mg/dL, sex not recorded); needs >= 60 mL/min"]
    data = patient(**{**WOMAN, "creatinine": "1.3"})  # 56.23 or 66.15: the branches disagree
    data["facts"] = [fact for fact in data["facts"] if fact["concept"] != "sex"]
    (decision,), _ = run(network, data)
    assert decision.verdicts["I1"].verdict == "UNKNOWN"


def test_division_by_zero_in_a_patient_is_unknown(network) -> None:
    (decision,), trail = run(network, patient(**{**WOMAN, "creatinine": "0"}))
    assert decision.verdicts["I1"].verdict == "UNKNOWN"
    assert evidence(trail, "I1") == [
        ("crcl: unknown: cannot be computed from age 54 years, weight 72 kg, creatinine 0 mg/dL, "
         "sex female")]


def test_a_fact_for_a_derived_value_is_set_aside(network) -> None:
    data = patient(**WOMAN)
    data["facts"].append({"concept": "crcl", "value": Decimal(10), "unit": "mL/min"})
    (decision,), _ = run(network, data)
    assert decision.derived["crcl"][0] == "66.454545"
    assert [w.message for w in decision.patient.warnings] == [
        "'crcl' is derived: the network computes it from its formula; this fact is set aside"]


def test_derived_values_in_definitions_applies_when_and_judged_conditions() -> None:
    text = HEAD + """\
  weight: quantity in kg
  frail: judgment
  dose_weight: derived in kg = (weight x 0.9 if frail else weight)
  heavy: flag
define renal_ok "CrCl-like": dose_weight >= 60 kg
inclusion I1 "Dosing weight": renal_ok
inclusion I2 "Heavy patients" applies when dose_weight > 100 kg: heavy
"""
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])

    def facts(weight: str, frail: bool | None) -> dict:
        found: list[dict] = [{"concept": "weight", "value": Decimal(weight), "unit": "kg",
                              "date": "2026-05-01"}, {"concept": "heavy", "value": True}]
        if frail is not None:
            found.append({"concept": "frail", "value": frail, "recorded_by": "Dr. A"})
        return {"patient": "p", "screening_date": "2026-06-01", "facts": found}

    decisions, trail = run(net, facts("66", True), facts("120", False), facts("66", None))
    assert [d.derived["dose_weight"][0] for d in decisions] == ["59.4", "120", "R"]
    assert [d.derived["renal_ok"][0] for d in decisions] == ["F", "T", "R"]
    # the third: whether I2 applies awaits a judgment, and being heavy passes it either way
    assert [d.verdicts["I2"].verdict for d in decisions] == ["NOT_APPLICABLE", "MET", "MET"]
    assert [d.decision for d in decisions] == ["INELIGIBLE", "ELIGIBLE", "NEEDS_REVIEW"]
    assert evidence(trail, "I2")[0] == ("dose_weight = 66 x 0.9 = 59.4 kg (weight 66 kg, frail "
                                        "yes); needs > 100 kg")
    assert evidence(trail, "I2")[4] == ("dose_weight: open: a condition awaits an "
                                         "investigator's judgment")


def test_an_input_of_the_branch_not_taken_may_be_missing() -> None:
    text = HEAD + ("  weight: quantity in kg\n  height: quantity in cm\n"
                   "  sex: category {male, female}\n  bmi: derived in kg/m2 = weight / height^2\n"
                   "  v: derived in kg/m2 = ((bmi in kg/m2) if sex is female else 20)\n"
                   'inclusion I1 "x": v < 25 kg/m2\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    (decision,), trail = run(net, patient("male", weight="72"))
    assert (decision.derived["bmi"][0], decision.derived["v"][0]) == ("U", "20")
    assert evidence(trail, "I1") == ["v = 20 = 20 kg/m2 (sex male); needs < 25 kg/m2"]


def test_the_protocol_record_shows_each_formula(network) -> None:

    _, trail = run(network, patient(**WOMAN))
    (static,) = [json.loads(line) for line in trail.splitlines() if '"type":"protocol"' in line]
    crcl = next(v for v in static["values"] if v["id"] == "crcl")
    assert crcl == {"id": "crcl", "unit": "mL/min", "text": "Cockcroft-Gault creatinine clearance",
                    "formula": "(140 - age in years) x (weight in kg) / (72 x (creatinine in "
                    "mg/dL)) x (0.85 if sex is female else 1)", "rule": "t.pr:12"}
    text = render(read(trail))
    assert "derived bmi in kg/m2 = weight / height^2  (t.pr:14)" in text


def test_the_trail_is_byte_identical_twice(network) -> None:
    patients = [patient(**WOMAN), patient("male", **{**WOMAN, "weight": "72 stale"})]
    assert run(network, *patients)[1] == run(network, *patients)[1]


def test_corrected_calcium_an_empirical_formula() -> None:
    text = HEAD + ("  calcium: lab in mmol/L convert 1 mmol/L = 4.008 mg/dL valid for 28 days\n"
                   "  albumin: lab in g/L\n"
                   "  corrected_calcium: derived in mg/dL \"corrected for albumin\" ="
                   " (calcium in mg/dL) + 0.8 x (4 - (albumin in g/dL))\n"
                   'inclusion I1 "Corrected calcium <= 10 mg/dL": corrected_calcium <= 10 mg/dL\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    data = {"patient": "p", "screening_date": "2026-06-01", "facts": [
        {"concept": "calcium", "value": Decimal("2.2"), "unit": "mmol/L", "date": "2026-05-20"},
        {"concept": "albumin", "value": Decimal(30), "unit": "g/L", "date": "2026-05-20"}]}
    (decision,), trail = run(net, data)
    assert decision.derived["corrected_calcium"][0] == "9.6176"  # 8.8176 + 0.8 x (4 - 3)
    assert evidence(trail, "I1") == [
        ("corrected_calcium = 8.8176 + 0.8 x (4 - 3) = 9.6176 mg/dL (calcium 2.2 mmol/L, "
         "albumin 30 g/L); needs <= 10 mg/dL")]



def test_a_ratio_of_two_like_quantities_is_dimensionless() -> None:
    """The serum kappa/lambda free light chain ratio: `check` advises `0.26 dimensionless`
    for a bare threshold, and that spelling is read (it once failed inside pint); the inputs
    convert before they divide, and a ratio exactly at the threshold is at it."""
    declared = HEAD + ("  kappa: lab in mg/dL\n  lambda_flc: lab in mg/dL\n"
                       "  flc_ratio: derived in dimensionless = kappa / lambda_flc\n"
                       'inclusion I1 "An abnormal kappa/lambda ratio (< 0.26)": flc_ratio < 0.26')
    assert [d.code for d in check(parse(declared, "t.pr"))] == ["unit-dimension"]
    net = pipeline.compile(pipeline.load_text(declared + " dimensionless\n", "t.pr")[0])

    def light_chains(kappa: str, unit: str) -> dict:
        return {"patient": f"{kappa} {unit}", "screening_date": "2026-06-01", "facts": [
            {"concept": "kappa", "value": Decimal(kappa), "unit": unit, "date": "2026-05-20"},
            {"concept": "lambda_flc", "value": Decimal(10), "unit": "mg/dL",
             "date": "2026-05-20"}]}
    decisions, trail = run(net, light_chains("2.6", "mg/dL"), light_chains("25", "mg/L"),
                           light_chains("2.5", "mg/dL"))
    assert [d.verdicts["I1"].verdict for d in decisions] == ["NOT_MET", "MET", "MET"]
    assert evidence(trail, "I1")[1] == (
        "flc_ratio = 2.5 / 10 = 0.25 dimensionless (kappa 2.5 mg/dL, lambda_flc "
        "10 mg/dL); needs < 0.26 dimensionless")

def test_exact_arithmetic_where_floats_drift() -> None:
    text = HEAD + ("  a: quantity in kg\n  b: quantity in kg\n  s: derived in kg = a + b\n"
                   'inclusion I1 "above": s > 0.3 kg\ninclusion I2 "at least": s >= 0.3 kg\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    data = {"patient": "p", "screening_date": "2026-06-01", "facts": [
        {"concept": "a", "value": Decimal("0.1"), "unit": "kg", "date": "2026-05-01"},
        {"concept": "b", "value": Decimal("0.2"), "unit": "kg", "date": "2026-05-01"}]}
    (decision,), _ = run(net, data)
    assert 0.1 + 0.2 > 0.3  # what binary floats would have said
    assert decision.derived["s"][0] == "0.3"
    assert (decision.verdicts["I1"].verdict, decision.verdicts["I2"].verdict) == ("NOT_MET", "MET")


# --- amendments -----------------------------------------------------------------------------------


def test_a_changed_formula_is_a_change_to_the_criteria_that_compare_it() -> None:
    text = HEAD + ("  w: quantity in kg\n  h: quantity in cm\n  bmi: derived in kg/m2 = w / h^2\n"
                   'inclusion I1 "BMI under 30": bmi < 30 kg/m2\n')
    changed = diff(parse(text, "a.pr"), parse(text.replace("w / h^2", "w / (h x h) x 1.1"), "b.pr"))
    (entry,) = changed.entries
    assert (entry.name, entry.affects) == ("bmi", ("I1",))
    assert [(c.kind, c.old, c.new) for c in entry.changes] == [
        ("formula", "w / h^2", "w / (h x h) x 1.1")]
    same = diff(parse(text, "a.pr"), parse(text.replace("w / h^2", "w / h^2 x 1,000 / 1000"),
                                           "b.pr"))
    assert same.entries[0].changes[0].kind == "formula"  # a rewritten formula is a change too


def test_unknown_because_a_derived_input_cannot_be_computed() -> None:
    text = HEAD + ("  a: quantity in kg\n  b: quantity in kg\n  event_x: event\n"
                   "  ratio: derived in kg = (a in kg) / (b in kg)\n"
                   "  twice: derived in kg = ratio x (2 if event_x ever else 1)\n"
                   'inclusion I1 "x": twice > 1 kg\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])

    def facts(b: str) -> dict:
        return {"patient": "p", "screening_date": "2026-06-01", "facts": [
            {"concept": "a", "value": Decimal(3), "unit": "kg", "date": "2026-05-01"},
            {"concept": "b", "value": Decimal(b), "unit": "kg", "date": "2026-05-01"},
            {"concept": "event_x", "present": False}]}

    decisions, trail = run(net, facts("0"), facts("2"))
    assert [d.verdicts["I1"].verdict for d in decisions] == ["UNKNOWN", "MET"]
    assert evidence(trail, "I1") == [
        "twice: unknown: ratio cannot be computed",
        "twice = 1.5 x 1 = 1.5 kg (ratio 1.5 kg, event_x recorded as none); needs > 1 kg"]


def test_generated_patients_against_plain_arithmetic(network) -> None:
    """Cockcroft-Gault in the network against the formula written out in Python, for seeded
    random patients, some without sex (both branches) or creatinine: value, branch and verdict."""


    generator = random.Random(7)
    patients, expected = [], []
    for index in range(60):
        sex = generator.choice(["female", "male", None])
        weight = Decimal(generator.randint(400, 1200)) / 10
        creatinine = Decimal(generator.randint(40, 250)) / 100 if index % 7 else None
        values = {"weight": str(weight), **({"creatinine": str(creatinine)} if creatinine else {})}
        data = patient(sex or "male", **values)
        if sex is None:
            data["facts"] = data["facts"][1:]
        patients.append(data)
        if creatinine is None:
            expected.append(("U", "UNKNOWN"))
            continue
        exact = Fraction(86) * Fraction(weight) / (72 * Fraction(creatinine))
        woman, man = (format(rounded(exact * factor).normalize(), "f")
                      for factor in (Fraction("0.85"), 1))
        if sex is None:  # either sex: a woman's value to a man's, decided where both agree
            verdicts = {Decimal(v) >= 60 for v in (woman, man)}
            expected.append((f"{woman} to {man}", "UNKNOWN" if len(verdicts) == 2 else
                             "MET" if verdicts == {True} else "NOT_MET"))
            continue
        value = woman if sex == "female" else man
        expected.append((value, "MET" if Decimal(value) >= 60 else "NOT_MET"))
    decisions, _ = run(network, *patients)
    assert [(d.derived["crcl"][0], d.verdicts["I1"].verdict) for d in decisions] == expected


def test_two_comparisons_on_one_derived_value_in_one_rule() -> None:
    """Tests on one derived value's number share its fact's pattern (a fact binds one pattern of a
    rule); in `or`, each comparison is a rule of its own."""

    text = HEAD + ("  weight: quantity in kg\n  double: derived in kg = weight x 2\n"
                   'inclusion I1 "between": double >= 60 kg and double <= 100 kg\n'
                   'inclusion I2 "outside": double < 60 kg or double > 100 kg\n'
                   'inclusion I3 "never": double < 60 kg and double > 100 kg\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    met = [rule for rule in net.rules if rule.startswith("v:I1:MET")]
    assert len(met) == 1 and len(net.rules[met[0]]["all"]) == 2  # the number's fact, the record
    assert not [rule for rule in net.rules if rule.startswith("v:I3:MET")]  # contradiction
    decisions, _ = run(net, *(patient(weight=w) for w in ("20", "30", "40", "50", "60")))
    assert [[d.verdicts[c].verdict for c in ("I1", "I2", "I3")] for d in decisions] == [
        ["NOT_MET", "MET", "NOT_MET"], ["MET", "NOT_MET", "NOT_MET"],
        ["MET", "NOT_MET", "NOT_MET"], ["MET", "NOT_MET", "NOT_MET"],
        ["NOT_MET", "MET", "NOT_MET"]]


def test_a_range_on_a_derived_value_counts_both_ends() -> None:
    """`bmi 18 to 30 kg/m2`: both ends counted after the one rounding; a bound in another unit
    is converted as a threshold is; a missing input is UNKNOWN naming it."""
    text = HEAD + ("  weight: quantity in kg\n  height: quantity in cm\n"
                   "  bmi: derived in kg/m2 = weight / height^2\n"
                   'inclusion I1 "BMI 18 to 30 kg/m2": bmi 18 to 30 kg/m2\n'
                   'inclusion I2 "BMI 180 to 300 g/m2, said oddly": bmi 18000 g/m2 to 30 kg/m2\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    heights = {"72": "200", "67.5": "150", "67.6": "150", "71.9": "200"}
    decisions, trail = run(net, *(patient(weight=w, height=h) for w, h in heights.items()),
                           patient(height="150"))
    assert [d.derived["bmi"][0] for d in decisions] == ["18", "30", "30.044444", "17.975", "U"]
    assert [d.verdicts["I1"].verdict for d in decisions] == \
        ["MET", "MET", "NOT_MET", "NOT_MET", "UNKNOWN"]
    assert [d.verdicts["I2"].verdict for d in decisions] == \
        [d.verdicts["I1"].verdict for d in decisions]
    assert evidence(trail, "I1")[2] == ("bmi = 67.6 / 150^2 = 30.044444 kg/m2 (weight 67.6 kg, "
                                        "height 150 cm); needs 18 to 30 kg/m2")
    assert evidence(trail, "I2")[0].endswith("; needs 18 to 30 kg/m2")
    assert evidence(trail, "I1")[4] == "bmi: unknown: weight: no fact given"
    unknown = [r for r in read(trail) if r.get("criterion") == "I1"][4]
    assert [n["needs"] for n in unknown["to_pass"]] == ["bmi 18 to 30 kg/m2 (bmi needs weight)"]


def test_a_range_on_a_derived_value_is_checked_as_two_thresholds() -> None:
    bmi = "v: derived in kg/m2 = weight / height^2"
    assert problems(bmi, uses="v 18 to 30 kg") == [
        "10:21 unit-dimension: v is measured in kg/m2; 18 kg is a mass",
        "10:27 unit-dimension: v is measured in kg/m2; 30 kg is a mass"]
    assert problems(bmi, uses="v 30 to 18 kg/m2") == [
        "10:21 range-order: '30 kg/m2 to 18 kg/m2' is empty: the low bound is above the high "
        "bound"]


def test_a_concept_may_follow_a_conversion() -> None:
    """`convert 1 mg/dL = 88.4 umol/L` then the next concept: its name once lexed as a drug name."""
    protocol = parse(HEAD + "  creatinine: lab in umol/L convert 1 mg/dL = 88.4 umol/L\n"
                     "  sex: category {male, female}\n", "t.pr")
    assert [c.name for c in protocol.concepts] == ["creatinine", "sex"]
    assert str(protocol.concepts[0].conversions[0].target) == "88.4 umol/L"


@pytest.mark.parametrize("text, declared, values, expected", [
    ("min(a, b)", "g", {"a": "1500", "b": "2"}, "1.5"),  # a in mg, b in g: into a's unit, then g
    ("a + b", "mg", {"a": "1", "b": "0.001"}, "2"),
    ("(a in mg) / (b in g)", "mg", {"a": "3", "b": "2"}, "1.5"),  # empirical: a number in mg
    ("b / a", "%", {"a": "500", "b": "1"}, "200"),  # 1 g / 500 mg is 2, which is 200 %
    ("sqrt((a in mg) x (b in mg))", "mg", {"a": "2", "b": "0.008"}, "4"),
    ("a^2 / a", "mg", {"a": "3"}, "3"),
    ("(a in mg)^0.5", "mg", {"a": "16"}, "4"),  # the same as sqrt
    ("1 / (a in mg)^-2", "mg", {"a": "3"}, "9"),  # a negative whole power is exact
    ("(a in mg)^-1.154", "mg", {"a": "1"}, "1"),
    ("(a in mg)^-1.154", "mg", {"a": "2"}, "0.449378"),  # 2^-1.154 = 0.44937756...
    ("(b / a)^0.25", "mg", {"a": "1", "b": "16"}, "11.246827"),  # 16 g / 1 mg is 16000
    ("(1 if 0 > 1 kg else 2)", "mg", {}, None),  # a condition needs a concept: parse error
])
def test_evaluate_with_units(text: str, declared: str, values: dict, expected: str | None) -> None:

    source = HEAD + "  a: quantity in mg\n  b: quantity in g\n"
    source += f"  v: derived in {declared} = {text}\n"
    if expected is None:
        with pytest.raises(ProtocolError):
            parse(source, "t.pr")
        return
    protocol = parse(source, "t.pr")
    plan, problems = f.analyse(protocol.concept("v"), {c.name: c for c in protocol.concepts}, {})
    assert problems == [] and plan is not None
    value = f.evaluate(plan, {k: Fraction(v) for k, v in values.items()}, {})
    assert format(f.rounded(value).normalize(), "f") == expected
