"""A conversion with an offset a protocol declares: HbA1c's master equation, `convert % = 0.09148
x mmol/mol + 2.152` (IFCC to NGSP). A result in mmol/mol is converted into the concept's % by
it, exactly, and a threshold in mmol/mol the same way; without it, mmol/mol stays an input error
(a ratio of substance is not a percentage). Each case runs the real parser, checks, normaliser
and network.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audit.recorder import Recorder
from engine.run import Decision, Rejected, Screening
from grammar.layout import format_text
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import boundary_cases, network_from_text, run_cli, screen_one

PROTOCOL = """protocol "hba1c" version "1"
concepts:
    hba1c: quantity in % convert % = 0.09148 x mmol/mol + 2.152 valid for 28 days
inclusion I3 "HbA1c of >= 7.0% and <= 10%":
    hba1c 7.0 to 10.0 %
exclusion E1 "HbA1c above 86 mmol/mol":
    hba1c > 86 mmol/mol
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "hba1c.proto-rules"))


def result(value: object, unit: str) -> dict:
    return {"concept": "hba1c", "date": "2026-02-20", "value": value, "unit": unit}


def verdicts(screening: Screening, fact: dict) -> dict[str, str]:
    outcome = screen_one(screening, [fact], day="2026-03-01")
    assert isinstance(outcome, Decision), outcome
    return {c: v.verdict for c, v in outcome.verdicts.items()}


@pytest.mark.parametrize("value, unit, expected", [
    (53, "mmol/mol", {"I3": "MET", "E1": "NOT_MET"}),  # 7.00044 %
    (52, "mmol/mol", {"I3": "NOT_MET", "E1": "NOT_MET"}),  # 6.90896 %
    (86, "mmol/mol", {"I3": "NOT_MET", "E1": "NOT_MET"}),  # 10.01928 %: at E1's threshold
    (87, "mmol/mol", {"I3": "NOT_MET", "E1": "MET"}),
    ("0.053", "mol/mol", {"I3": "MET", "E1": "NOT_MET"}),  # a factor to mmol/mol, then the offset
    ("7.0", "%", {"I3": "MET", "E1": "NOT_MET"}),
    ("10.01928", "%", {"I3": "NOT_MET", "E1": "NOT_MET"}),  # E1's threshold, in %
    ("< 60", "mmol/mol", {"I3": "UNKNOWN", "E1": "NOT_MET"}),  # < 7.6408 %
])
def test_a_result_in_mmol_per_mol_is_converted_by_the_equation(screening, value, unit, expected):
    given = float(value) if isinstance(value, str) and value[0].isdigit() else value
    assert verdicts(screening, result(given, unit)) == expected


def test_the_trail_shows_the_result_as_given_and_converted(screening):
    outcome = screen_one(screening, [result(53, "mmol/mol")], day="2026-03-01")
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "hba1c 53 mmol/mol = 7.00044 % (2026-02-20); needs 7 to 10 %" in line
    assert "needs > 10.01928 %" in line


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=2000))
def test_the_verdict_is_the_exact_equation(screening, tenths):
    """A result in tenths of a mmol/mol: 0.09148 x it + 2.152 in exact fractions against 7 to
    10 %, and against 86 mmol/mol directly."""
    ifcc = Fraction(tenths, 10)
    ngsp = Fraction("0.09148") * ifcc + Fraction("2.152")
    found = verdicts(screening, result(tenths / 10, "mmol/mol"))
    assert found["I3"] == ("MET" if 7 <= ngsp <= 10 else "NOT_MET")
    assert found["E1"] == ("MET" if ifcc > 86 else "NOT_MET")


def test_without_the_equation_mmol_per_mol_is_an_input_error():
    screening = Screening(network_from_text(
        PROTOCOL.replace(" convert % = 0.09148 x mmol/mol + 2.152", "").replace(
            'exclusion E1 "HbA1c above 86 mmol/mol":\n    hba1c > 86 mmol/mol\n', ""),
        "plain.proto-rules"))
    outcome = screen_one(screening, [result(53, "mmol/mol")], day="2026-03-01")
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == [
        "hba1c: cannot convert mmol/mol (a ratio of substance) to % (dimensionless)"]


def test_written_either_way_round_and_with_a_minus():
    """The equation solved for mmol/mol is read backwards: (mmol/mol + 23.5) / 10.93 %. Its
    constants are rounded, so 53 mmol/mol is just under 7 % here."""
    text = PROTOCOL.replace("% = 0.09148 x mmol/mol + 2.152", "mmol/mol = 10.93 x % - 23.5")
    screening = Screening(network_from_text(text, "inverse.proto-rules"))
    assert verdicts(screening, result(54, "mmol/mol"))["I3"] == "MET"  # 77.5 / 10.93 = 7.09 %
    assert verdicts(screening, result(53, "mmol/mol"))["I3"] == "NOT_MET"  # 6.999085 %
    (conversion,) = parse(text, "t.pr").concepts[0].conversions
    assert (str(conversion), conversion.offset) == ("mmol/mol = 10.93 x % - 23.5",
                                                    Decimal("-23.5"))


def problems(declared: str) -> list[str]:
    text = f'protocol "h" version "1"\nconcepts:\n    hba1c: {declared}\n' \
           f'inclusion I3 "x": hba1c >= 7 %\n'
    return [f"{d.span.column} {d.message}" for d in check(parse(text, "t.pr"))]


@pytest.mark.parametrize("declared, said", [
    ("quantity in % convert % = 0.09148 x mmol/mol + 2.152", []),
    ("lab in % convert % = 0.09148 x mmol/mol + 2.152",
     ["21 hba1c is a lab, read against its reference range as a ratio, which a conversion with "
      "an offset ('% = 0.09148 x mmol/mol + 2.152') does not keep: declare it a quantity"]),
    ("quantity in % convert % = 0 x mmol/mol + 2.152",
     ["26 '% = 0 x mmol/mol + 2.152' multiplies by 0: no result converts back"]),
    ("quantity in % convert mg = 2 x g - 1",
     ["26 'mg = 2 x g - 1' joins no unit of hba1c: one side must be %, or convert to it by a "
      "factor"]),
    ("quantity in % convert % = 0.09148 x mmol/mmm + 2.152", ["48 unknown unit 'mmol/mmm'"]),
    # a factor of 0 either way: no result converts (one way it divided by 0, an internal error)
    ("quantity in % convert 1 % = 0 mmol/mol", ["26 '1 % = 0 mmol/mol' makes an amount 0: each "
                                                "side of a conversion is an amount above 0 (1 "
                                                "mg/dL = 88.42 umol/L)"]),
    ("quantity in % convert 0 % = 1 mmol/mol", ["26 '0 % = 1 mmol/mol' makes an amount 0: each "
                                                "side of a conversion is an amount above 0 (1 "
                                                "mg/dL = 88.42 umol/L)"]),
])
def test_what_a_conversion_with_an_offset_may_say(declared, said):
    assert problems(declared) == said


def test_fmt_keeps_it_and_diff_sees_a_changed_offset(capsys, tmp_path):
    assert format_text(PROTOCOL, "h.proto-rules") == PROTOCOL
    old, new = tmp_path / "old.proto-rules", tmp_path / "new.proto-rules"
    old.write_text(PROTOCOL)
    new.write_text(PROTOCOL.replace("+ 2.152", "+ 2.15"))
    code, out, _ = run_cli(capsys, "diff", str(old), str(new))
    assert code == 1
    assert "    conversion: convert % = 0.09148 x mmol/mol + 2.152 -> convert % = 0.09148 x " \
           "mmol/mol + 2.15\n    affects: I3, E1\n" in out


def test_boundary_cases_restate_a_threshold_through_the_equation(capsys, tmp_path):
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-03-01", "facts": [
            {"concept": "hba1c", "date": "2026-02-20", "value": 53, "unit": "mmol/mol"}]})
    assert 'name: "hba1c 86 mmol/mol: at hba1c > 86 mmol/mol, in another unit"' in text


@pytest.mark.parametrize("text, said", [
    ('protocol "h" version "1"\nconcepts:\n    h: quantity in % convert % = 0.09 mmol/mol + 2\n'
     'inclusion I1 "x": h > 7 %\n', "3:39: error: unexpected 'mmol/mol'; expected 'x' (times)"),
    ('protocol "h" version "1"\nconcepts:\n    a: medication {x} with half_life in h\n'
     'inclusion I1 "x": a within 28 days or 5 half_life, whichever is short, before screening\n',
     "4:65: error: unexpected 'short'; expected 'shorter' or 'longer'"),
])
def test_a_syntax_error_in_either_says_what_was_expected(capsys, tmp_path, text, said):
    path = tmp_path / "bad.proto-rules"
    path.write_text(text)
    code, _, err = run_cli(capsys, "check", str(path))
    assert code == 2 and f"{path}:{said}" in err
