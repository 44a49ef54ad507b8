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
