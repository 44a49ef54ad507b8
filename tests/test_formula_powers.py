"""Powers whose exponent is worked out per patient (`0.993^(age in years)`, CKD-EPI): exact when
whole, to 50 digits when fractional, UNKNOWN where a patient's values make it uncomputable; from
the evaluation of a plan to the network and the trail. The rest of formulas: test_formula.py."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import pytest

from engine import pipeline
from grammar.parser import parse
from protocol import formula as f
from protocol.formula import rounded
from tests.test_formula import CKD_EPI, HEAD, evidence, patient, run


def worked_out(text: str, declared: str = "mg", **values: str) -> Fraction:
    """`v: derived in <declared> = <text>` evaluated for `a` in mg, `b` in g and `p` in %."""
    protocol = parse(HEAD + "  a: quantity in mg\n  b: quantity in g\n  p: quantity in %\n"
                     f"  v: derived in {declared} = {text}\n", "t.pr")
    plan, problems = f.analyse(protocol.concept("v"), {c.name: c for c in protocol.concepts}, {})
    assert problems == [] and plan is not None
    return f.evaluate(plan, {k: Fraction(v) for k, v in values.items()}, {})


POWER = "(b in g)^((a in mg))"


@pytest.mark.parametrize("values, expected", [
    ({"b": "0.993", "a": "67"}, Fraction(993, 1000) ** 67),  # whole: exact, every digit
    ({"b": "0.993", "a": "-3"}, Fraction(1000, 993) ** 3),
    ({"b": "0.993", "a": "0"}, Fraction(1)),
    ({"b": "16", "a": "0.5"}, Fraction(4)),  # fractional: to 50 digits, here exact
    ({"b": "0", "a": "2"}, Fraction(0)),
    ({"b": "1", "a": "1000"}, Fraction(1)),  # the largest exponent worked out
    ({"b": "1", "a": "-1000"}, Fraction(1)),
])
def test_a_worked_out_exponent(values: dict, expected: Fraction) -> None:
    assert worked_out(POWER, **values) == expected


def test_a_worked_out_whole_exponent_on_a_negative_base_is_exact() -> None:
    assert worked_out("(0 - (b in g))^((a in mg))", b="2", a="3") == -8
    assert worked_out("(-2)^((a in mg))", a="2") == 4


def test_a_worked_out_fractional_exponent_to_50_digits() -> None:
    """1.5^-0.411 against the decimal module's exp and ln at 80 digits."""
    value = worked_out(POWER, b="1.5", a="-0.411")
    with localcontext() as context:
        context.prec = 80
        reference = (Decimal("-0.411") * Decimal("1.5").ln()).exp()
        assert abs(Decimal(value.numerator) / Decimal(value.denominator) - reference) < Decimal(
            "1e-49")
    assert str(rounded(value)) == "0.846499"


@pytest.mark.parametrize("text, values, error", [
    (POWER, {"b": "0", "a": "-1"}, ZeroDivisionError),  # a negative whole power of 0
    (POWER, {"b": "0", "a": "0.5"}, ValueError),  # a fractional power of 0
    ("(0 - (b in g))^((a in mg))", {"b": "2", "a": "0.5"}, ValueError),  # of a negative number
    (POWER, {"b": "1", "a": "1000.000001"}, ValueError),  # beyond the largest exponent
    (POWER, {"b": "1", "a": "-1001"}, ValueError),
    ("10^((a in mg))", {"a": "15"}, ValueError),  # 10^15: beyond what the engine compares
    ("(10^((a in mg)))^((a in mg) + 0.5)", {"a": "1000"}, ValueError),  # beyond a decimal
])
def test_a_worked_out_power_that_cannot_be_computed(text: str, values: dict, error: type) -> None:
    with pytest.raises(error):
        worked_out(text, **values)


def test_a_worked_out_exponent_just_below_the_engine_limit() -> None:
    assert worked_out("10^((a in mg))", a="14") == 10 ** 14
    assert worked_out("2^(p)", p="50") == worked_out("sqrt(2)")  # 50 % is 0.5


def ckd_epi(creatinine: str, sex: str, age: int, black: bool) -> str:
    """CKD-EPI 2009 in the decimal module at 60 digits (exp and ln), rounded half to even to 6
    places: a second reading, independent of `formula`."""
    with localcontext() as context:
        context.prec = 60
        scr, female = Decimal(creatinine), sex == "female"
        k, a = (Decimal("0.7"), Decimal("-0.329")) if female else (Decimal("0.9"),
                                                                  Decimal("-0.411"))

        def power(base: Decimal, exponent: Decimal) -> Decimal:
            return (exponent * base.ln()).exp()

        value = (141 * power(min(scr / k, Decimal(1)), a)
                 * power(max(scr / k, Decimal(1)), Decimal("-1.209"))
                 * Decimal("0.993") ** age * (Decimal("1.018") if female else 1)
                 * (Decimal("1.159") if black else 1))
        return format(value.quantize(Decimal("0.000001")).normalize(), "f")


def test_ckd_epi_in_the_network_with_worked_out_exponents() -> None:
    text = HEAD + ("  age: age\n  creatinine: lab in mg/dL\n  sex: category {female, male}\n"
                   "  black_race: flag\n  " + CKD_EPI + " x (1.159 if black_race else 1)\n"
                   'inclusion I1 "eGFR 25 to 75": egfr >= 25 mL/min/1.73m2 '
                   "and egfr <= 75 mL/min/1.73m2\n")
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    cases = [("1.0", "male", False), ("0.6", "female", True), ("2.5", "female", False),
             ("0.7", "female", False), ("3.1", "male", True)]
    patients = []
    for creatinine, sex, black in cases:
        data = patient(sex, born="1966-01-01", creatinine=creatinine)  # 60 at screening
        data["facts"].append({"concept": "black_race", "value": black})
        patients.append(data)
    decisions, trail = run(net, *patients)
    assert [d.derived["egfr"][0] for d in decisions] == [ckd_epi(c, s, 60, b)
                                                          for c, s, b in cases]
    assert evidence(trail, "I1")[1] == (
        "egfr = 141 x min(1 / 0.9, 1)^-0.411 x max(1 / 0.9, 1)^-1.209 x 0.993^60 x 1 x 1 = "
        "81.442898 mL/min/1.73m2 (creatinine 1 mg/dL, age 60 years, sex male, black_race no); "
        "needs <= 75 mL/min/1.73m2")


def test_a_power_that_cannot_be_computed_for_a_patient_is_unknown() -> None:
    text = HEAD + ("  age: age\n  creatinine: lab in mg/dL\n"
                   "  v: derived in mg/dL = (creatinine in mg/dL - 1)^(age in years / 7)\n"
                   'inclusion I1 "x": v > 1 mg/dL\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    decisions, trail = run(net, patient(born="1966-01-01", creatinine="0.5"),
                           patient(born="1966-01-01", creatinine="3"))
    assert [d.verdicts["I1"].verdict for d in decisions] == ["UNKNOWN", "MET"]
    assert evidence(trail, "I1") == [
        "v: unknown: cannot be computed from creatinine 0.5 mg/dL, age 60 years",
        "v = (3 - 1)^(60 / 7) = 380.414538 mg/dL (creatinine 3 mg/dL, age 60 years); "
        "needs > 1 mg/dL"]


def test_a_negative_base_is_shown_in_brackets() -> None:
    text = HEAD + ("  age: age\n  v: derived in mg/dL = (-2)^(age in years / 20)\n"
                   'inclusion I1 "x": v < 0 mg/dL\n')
    net = pipeline.compile(pipeline.load_text(text, "t.pr")[0])
    (decision,), trail = run(net, patient(born="1966-01-01"))
    assert decision.verdicts["I1"].verdict == "MET"
    assert evidence(trail, "I1") == [
        "v = (-2)^(60 / 20) = -8 mg/dL (age 60 years); needs < 0 mg/dL"]
