"""Derived values: formulas with units, from the grammar through the checks to the network's verdict.

Each stage has its section; protocols are inline and small, and the engine tests run the real
network (no mocks) through the pipeline.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from grammar.parser import parse
from protocol import model as m
from protocol.errors import ProtocolError

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
    if isinstance(expr, m.Power):
        return f"{shape(expr.base)}^{expr.exponent.value}"
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


@pytest.mark.parametrize("text", [
    "a x 0.85 if sex is female",
    "(0.85 if sex is female)",
    "a ^ 0.5",
    "sqrt(a, b)",
    "a b",
    "a +",
])
def test_formula_syntax_errors(text: str) -> None:
    with pytest.raises(ProtocolError):
        formula(text)


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
    from protocol.checks import check

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


def test_wrong_dimension_names_both_dimensions() -> None:
    assert problems("v: derived in mL/min = weight / height^2", uses="v > 1 mL/min") == [
        "9:26 formula-dimension: v is declared in mL/min (a volume per time); its formula "
        "gives a mass per area; for an empirical formula, read every input as 'name in UNIT'"]


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
        "9:52 formula-dimension: a conditional term needs values of one dimension, "
        "not a mass and a plain number"]


def test_unknown_and_non_numeric_names() -> None:
    assert problems("v: derived in kg = wieght x (sex in kg)") == [
        "9:22 undefined-name: unknown name 'wieght'; did you mean 'weight'?",
        "9:32 type-mismatch: 'sex' is a category: a formula computes with the numbers of "
        "quantities, labs, scores, ages and derived values"]


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


def test_comparison_needs_the_declared_dimension() -> None:
    assert problems("v: derived in kg = weight x 2", uses="v > 60 mL/min") == [
        "10:23 unit-dimension: v is measured in kg; 60 mL/min is a volume per time"]
