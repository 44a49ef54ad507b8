"""The check stage: one test per diagnostic code, each a small protocol and where the problem is.

Every source starts with a one-line header, so line numbers read as in the text.
`assert_diagnostics` requires the exact list of reports, so a check that also fires where it
should not fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grammar.parser import parse, parse_file
from protocol.checks import check
from protocol.messages import TEMPLATES, WARNINGS
from protocol.dependencies import dependency_graph
from protocol.errors import Diagnostic, Severity, Span, render

SEED = Path(__file__).parents[1] / "examples" / "cd19-ucart-sle.proto-rules"
HEAD = 'protocol "t" version "1"\n'


def diagnostics(src: str) -> list[Diagnostic]:
    return check(parse(src, "t.pr"))


def assert_diagnostics(src: str, code: str, at: str, message: str = "") -> list[Diagnostic]:
    """Assert that `src` gets one report only, `code` at `at` ("line:col"), saying `message`."""
    found = diagnostics(src)
    actual = "\n".join(f"  {d.span.line}:{d.span.column} {d.code}: {d.message}" for d in found)
    expected = f"{at} {code}: ...{message}..."
    shown = f"input:\n{src}\nexpected:\n  {expected}\nactual:\n{actual or '  nothing'}"
    assert [f"{d.span.line}:{d.span.column} {d.code}" for d in found] == [f"{at} {code}"], shown
    assert message in found[0].message, shown
    return found


def test_helper_reports_input_expected_and_actual() -> None:
    with pytest.raises(AssertionError) as raised:
        assert_diagnostics(HEAD + "concepts:\n a: flag\n", "undefined-name", at="9:9")
    shown = str(raised.value)
    assert "input:" in shown and "expected:" in shown and "9:9 undefined-name" in shown
    assert "actual:" in shown and "3:2 unused-concept: concept 'a' is never used" in shown


# --- the seed and the shape of the result ---------------------------------------------------------


def test_seed_has_no_errors_and_no_warnings() -> None:
    protocol = parse_file(SEED)
    assert [render(d, protocol.source) for d in check(protocol)] == []


def test_every_code_has_a_template_and_warnings_are_warnings() -> None:
    codes = {kind.split("/")[0] for kind in TEMPLATES}
    assert WARNINGS <= codes
    src = "concepts:\n a: flag\ninclusion I1: b\n"
    found = diagnostics(src)
    assert {d.code: d.severity for d in found} == {
        "missing-header": Severity.WARNING,
        "unused-concept": Severity.WARNING,
        "missing-text": Severity.WARNING,
        "undefined-name": Severity.ERROR,
    }


def test_all_problems_at_once_sorted_by_position() -> None:
    src = HEAD + (
        "concepts:\n"
        " egfr: quantity in mL/min\n"
        " sex: category {female, male}\n"
        'inclusion I1 "t": egfr >= 30 mg and sex is femail\n'
        'inclusion I1 "u": egrf >= 30 mL/min\n'
    )
    found = diagnostics(src)
    assert [(d.span.line, d.span.column, d.code) for d in found] == [
        (5, 27, "unit-dimension"),
        (5, 44, "unknown-value"),
        (6, 1, "duplicate-criterion"),
        (6, 19, "undefined-name"),
    ]


def test_render_points_a_caret_at_the_span() -> None:
    src = HEAD + 'concepts:\n egfr: quantity in mL/min/1.73m2\ninclusion I1 "t": egfr >= 30 mg\n'
    (diagnostic,) = diagnostics(src)
    assert render(diagnostic, src) == (
        "t.pr:4:27: error: egfr is measured in mL/min/1.73m2; 30 mg is a mass\n"
        '    inclusion I1 "t": egfr >= 30 mg\n'
        "                              ^^^^^"
    )


# --- names ----------------------------------------------------------------------------------------


def test_undefined_name_suggests_the_nearest() -> None:
    src = HEAD + 'concepts:\n egfr: flag\ninclusion I1 "t": egfr and egrf\n'
    assert_diagnostics(
        src, "undefined-name", at="4:28", message="unknown name 'egrf'; did you mean 'egfr'?"
    )


def test_undefined_name_without_a_near_name() -> None:
    found = assert_diagnostics(HEAD + 'inclusion I1 "t": zzz ever\n', "undefined-name", at="2:19")
    assert found[0].message == "unknown name 'zzz'"


def test_undefined_name_in_applies_when_and_in_a_definition() -> None:
    src = HEAD + 'concepts:\n a: flag\ndefine d: a or b\ninclusion I1 "t" applies when d: a\n'
    assert_diagnostics(src, "undefined-name", at="4:16", message="unknown name 'b'")
    src = HEAD + 'concepts:\n a: flag\ninclusion I1 "t" applies when c:\n part p "p": a\n'
    assert_diagnostics(src, "undefined-name", at="4:31")


def test_undefined_name_reported_once_for_includes_at_least() -> None:
    src = HEAD + 'inclusion I1 "t": meds includes at least 1 of {a, b, c}\n'
    assert_diagnostics(src, "undefined-name", at="2:19")


def test_undefined_equivalence_table() -> None:
    src = HEAD + (
        "concepts:\n gc: medication {prednisone} dosed in mg/d as pred_eq\n"
        "equivalence pred_equiv:\n prednisone 5 mg = 5 mg\n"
        'inclusion I1 "t": gc dose >= 5 mg/d\n'
    )
    assert_diagnostics(
        src,
        "undefined-name",
        at="3:2",
        message="unknown equivalence table 'pred_eq'; did you mean 'pred_equiv'?",
    )


def test_duplicate_criterion() -> None:
    src = HEAD + 'concepts:\n a: flag\ninclusion I3 "t": a\n\nexclusion I3 "u": a\n'
    assert_diagnostics(
        src, "duplicate-criterion", at="6:1", message="criterion id 'I3' is already used at line 4"
    )


def test_duplicate_part() -> None:
    src = (
        HEAD
        + 'concepts:\n a: flag\ninclusion I4 "t":\n part cardiac "c": a\n part cardiac "d": a\n'
    )
    assert_diagnostics(
        src, "duplicate-criterion", at="6:2", message="'I4.cardiac' is already used at line 5"
    )


def test_duplicate_criterion_with_parts_is_reported_once() -> None:
    part = ' part p "p": a\n'
    src = HEAD + 'concepts:\n a: flag\ninclusion I4 "t":\n' + part + 'inclusion I4 "u":\n' + part
    assert_diagnostics(src, "duplicate-criterion", at="6:1")


def test_duplicate_concept() -> None:
    src = HEAD + 'concepts:\n a: flag\n a: event\ninclusion I1 "t": a\n'
    assert_diagnostics(
        src, "duplicate-concept", at="4:2", message="concept 'a' is already declared at line 3"
    )


def test_duplicate_definition() -> None:
    src = HEAD + 'concepts:\n a: flag\ndefine d: a\ndefine d: not a\ninclusion I1 "t": d\n'
    assert_diagnostics(
        src,
        "duplicate-definition",
        at="5:1",
        message="definition 'd' is already declared at line 4",
    )


def test_duplicate_equivalence_table() -> None:
    src = HEAD + (
        "concepts:\n gc: medication {p} dosed in mg/d as e\n"
        "equivalence e:\n p 5 mg = 5 mg\nequivalence e:\n p 1 mg = 1 mg\n"
        'inclusion I1 "t": gc dose >= 5 mg/d\n'
    )
    assert_diagnostics(src, "duplicate-equivalence", at="6:1")


def test_name_clash() -> None:
    src = HEAD + 'concepts:\n a: flag\ndefine a: not a\ninclusion I1 "t": a\n'
    assert_diagnostics(
        src,
        "name-clash",
        at="4:1",
        message="definition 'a' has the name of the concept declared at line 3",
    )


def test_duplicate_value_via_synonym() -> None:
    src = (
        HEAD
        + "concepts:\n m: medication {MMF = mycophenolate, Mycophenolate}\n"
        + 'inclusion I1 "t": m includes MMF\n'
    )
    assert_diagnostics(
        src, "duplicate-value", at="3:38", message="'Mycophenolate' is 'mycophenolate' "
        "(line 3) as facts are matched, whatever their case: leave it out"
    )
    src = src.replace("Mycophenolate}", "mycophenolate}")
    assert_diagnostics(
        src, "duplicate-value", at="3:38", message="'mycophenolate' is already listed at line 3"
    )


def test_duplicate_drug_in_equivalence_table() -> None:
    src = HEAD + (
        "concepts:\n gc: medication {p} dosed in mg/d as e\n"
        "equivalence e:\n p 5 mg = 5 mg\n P 5 mg = 5 mg\n"
        'inclusion I1 "t": gc dose >= 5 mg/d\n'
    )
    assert_diagnostics(src, "duplicate-value", at="6:2")


# --- units ----------------------------------------------------------------------------------------


def test_unknown_threshold_unit() -> None:
    src = HEAD + 'concepts:\n x: quantity in mg/dL\ninclusion I1 "t": x >= 3 mg/dLL\n'
    assert_diagnostics(src, "unit-unknown", at="4:24", message="unknown unit 'mg/dLL'")


def test_unknown_concept_unit() -> None:
    src = HEAD + 'concepts:\n x: lab in furlongs/fortnightz\ninclusion I1 "t": x <= 2 x ULN\n'
    assert_diagnostics(src, "unit-unknown", at="3:2")


def test_unknown_conversion_unit() -> None:
    src = (
        HEAD
        + "concepts:\n x: lab in umol/L convert 1 mg/dx = 17.1 umol/L\n"
        + 'inclusion I1 "t": x <= 2 x ULN\n'
    )
    assert_diagnostics(src, "unit-unknown", at="3:27", message="unknown unit 'mg/dx'")


def test_conversion_without_unit() -> None:
    src = (
        HEAD
        + 'concepts:\n x: lab in umol/L convert 1 = 17.1 umol/L\ninclusion I1 "t": x <= 2 x ULN\n'
    )
    assert_diagnostics(src, "unit-unknown", at="3:27", message="'1' needs a unit")


def test_unknown_dose_unit() -> None:
    src = (
        HEAD
        + 'concepts:\n gc: medication {p} dosed in mg/d\ninclusion I1 "t": gc dose >= 5 mgg/d\n'
    )
    assert_diagnostics(src, "unit-unknown", at="4:30")


def test_unit_dimension_names_both_sides() -> None:
    src = HEAD + 'concepts:\n egfr: quantity in mL/min/1.73m2\ninclusion I1 "t": egfr >= 30 mg\n'
    assert_diagnostics(
        src,
        "unit-dimension",
        at="4:27",
        message="egfr is measured in mL/min/1.73m2; 30 mg is a mass",
    )


def test_converts_within_a_dimension_and_by_declared_factor() -> None:
    src = HEAD + (
        "concepts:\n egfr: quantity in mL/min/1.73m2\n"
        " tbil: lab in umol/L convert 1 mg/dL = 17.1 umol/L\n"
        'inclusion I1 "t": egfr >= 0.5 mL/s/1.73m2 and tbil <= 1.2 mg/dL\n'
    )
    assert diagnostics(src) == []


def test_unit_dimension_without_declared_factor() -> None:
    src = HEAD + 'concepts:\n tbil: lab in umol/L\ninclusion I1 "t": tbil <= 1.2 mg/dL\n'
    assert_diagnostics(
        src, "unit-dimension", at="4:27", message="1.2 mg/dL is a mass concentration"
    )


def test_age_threshold_must_be_a_time() -> None:
    src = HEAD + 'concepts:\n age: age\ninclusion I1 "t": age >= 18 kg\n'
    assert_diagnostics(
        src, "unit-dimension", at="4:26", message="age is measured in years; 18 kg is a mass"
    )
    assert diagnostics(src.replace("18 kg", "216 months")) == []


@pytest.mark.parametrize(
    ("kind", "example"),
    [("age", "18 years"), ("lab in U/L", "18 U/L"), ("quantity in kg", "18 kg")],
)
def test_measured_compare_needs_a_unit(kind: str, example: str) -> None:
    src = HEAD + f'concepts:\n x: {kind}\ninclusion I1 "t": x >= 18\n'
    assert_diagnostics(src, "unit-dimension", at="4:24", message=f"x needs a unit, e.g. {example}")


def test_score_takes_no_unit_but_points() -> None:
    src = HEAD + 'concepts:\n s: score\ninclusion I1 "t": s >= 8 mg\n'
    assert_diagnostics(src, "unit-dimension", at="4:24", message="s is a score")
    assert diagnostics(src.replace("8 mg", "8 points")) == []
    assert diagnostics(src.replace("8 mg", "8")) == []


def test_dose_unit_must_convert_to_dosed_in() -> None:
    src = (
        HEAD
        + 'concepts:\n gc: medication {p} dosed in mg/kg/d\ninclusion I1 "t": gc dose >= 60 mg\n'
    )
    assert_diagnostics(
        src, "unit-dimension", at="4:30", message="gc is dosed in mg/kg/d; 60 mg is a mass"
    )
    assert diagnostics(src.replace("60 mg", "1000 ug/kg/d")) == []


def test_dose_needs_a_unit() -> None:
    src = HEAD + 'concepts:\n gc: medication {p} dosed in mg/d\ninclusion I1 "t": gc dose >= 60\n'
    assert_diagnostics(src, "unit-dimension", at="4:30", message="e.g. 60 mg/d")


# --- type mismatches ------------------------------------------------------------------------------

DECLARED = (
    "concepts:\n"
    " q: quantity in kg\n"
    " c: category {yes, no}\n"
    " f: flag\n"
    " e: event\n"
    " m: medication {a}\n"
    " j: judgment\n"
    "define d: f and j\n"
    'inclusion I0 "uses": q >= 1 kg and c is yes and f and e ever and m includes a and d\n'
)
MISMATCHES = [
    ("c >= 3", "'c' is a category: only a quantity, lab, score, scale, titre, age or derived "
     "value compares with a number"),
    ("d >= 3", "'d' is a definition: only a quantity, lab, score, scale, titre, age or derived "
     "value compares with a number"),
    ("q <= 2 x ULN", "'q' is a quantity: only a lab, or a derived value declared with one, has "
     "a reference range"),
    ("f > upper reference", "'f' is a flag: only a lab, or a derived value declared with one, "
     "has a reference range"),
    ("f is yes", "'f' is a flag: only a category takes 'is'"),
    ("q is one of {yes}", "'q' is a quantity: only a category takes 'is'"),
    ("f ever", "'f' is a flag: only an event or medication happens 'ever'"),
    ("c within 3 days before screening", "'c' is a category: only an event or medication happens"),
    (
        "e with grade >= 2 ever",
        "'e' is an event without grades: declare it 'event graded' to use 'with grade'",
    ),
    ("e includes a", "'e' is an event: only a medication 'includes' a drug"),
    ("c includes at least 1 of {yes}", "'c' is a category: only a medication 'includes' a drug"),
    ("m dose >= 5 mg", "'m' is a medication without a dose unit: declare it 'dosed in UNIT'"),
    (
        "q dose >= 5 mg",
        "'q' is a quantity: only a medication declared 'dosed in' a unit has a dose",
    ),
    ("q", "'q' is a quantity: only a flag, judgment or definition stands alone"),
    ("m", "'m' is a medication: only a flag, judgment or definition stands alone"),
    ("e", "'e' is an event: say when: 'ever', 'at screening', 'within N days before screening' or 'at least N months before first_dose'"),
]


@pytest.mark.parametrize(("condition", "message"), MISMATCHES, ids=[c for c, _ in MISMATCHES])
def test_type_mismatch(condition: str, message: str) -> None:
    src = HEAD + DECLARED + f'inclusion I1 "t": {condition}\n'
    assert_diagnostics(src, "type-mismatch", at="11:19", message=message)


def test_type_mismatch_for_car_t_message() -> None:
    src = HEAD + 'concepts:\n car_t_therapy: event\nexclusion E1 "t": car_t_therapy\n'
    found = assert_diagnostics(src, "type-mismatch", at="4:19")
    assert found[0].message == (
        "'car_t_therapy' is an event: "
        "say when: 'ever', 'at screening', 'within N days before screening' or "
        "'at least N months before first_dose'"
    )


def test_well_typed_atoms_pass() -> None:
    src = HEAD + (
        "concepts:\n l: lab in U/L\n s: score\n g: event graded\n"
        " m: medication {a = alpha} dosed in mg/d\n"
        'inclusion I1 "t": l <= 3 x ULN and l > lower reference and s >= 8\n'
        "    and g with grade >= 2 ever\n"
        "    and m includes Alpha and m dose >= 5 mg/d for at least 2 weeks\n"
    )
    assert diagnostics(src) == []


def test_unknown_value_suggests_the_nearest() -> None:
    src = HEAD + 'concepts:\n sex: category {female, male}\ninclusion I1 "t": sex is femail\n'
    assert_diagnostics(
        src,
        "unknown-value",
        at="4:26",
        message="'femail' is not a value of 'sex'; did you mean 'female'?",
    )


def test_unknown_value_lists_the_values() -> None:
    src = (
        HEAD + 'concepts:\n sex: category {female, male}\ninclusion I1 "t": sex is not one of {x}\n'
    )
    assert_diagnostics(src, "unknown-value", at="4:38", message="; its values are female, male")


def test_values_accept_synonyms_case_insensitively() -> None:
    src = (
        HEAD
        + 'concepts:\n r: category {"no obvious abnormality" = normal, abnormal}\n'
        + 'inclusion I1 "t": r is NORMAL\n'
    )
    assert diagnostics(src) == []


def test_unknown_drug() -> None:
    src = (
        HEAD
        + "concepts:\n am: medication {hydroxychloroquine = HCQ}\n"
        + 'inclusion I1 "t": am includes HQC\n'
    )
    assert_diagnostics(src, "unknown-value", at="4:31", message="did you mean 'HCQ'?")


def test_unknown_drug_in_includes_at_least() -> None:
    src = (
        HEAD
        + "concepts:\n im: medication {azathioprine, methotrexate}\n"
        + 'inclusion I1 "t": im includes any of {azathioprin, mtx}\n'
    )
    found = diagnostics(src)
    assert [(d.span.column, d.code) for d in found] == [
        (39, "unknown-value"),
        (52, "unknown-value"),
    ]


# --- at least -------------------------------------------------------------------------------------

FLAGS = "concepts:\n a: flag\n b: flag\n c: flag\n"


@pytest.mark.parametrize("count", [0, 4])
def test_at_least_count_out_of_range(count: int) -> None:
    src = HEAD + FLAGS + f'inclusion I1 "t": at least {count} of [a, b, c]\n'
    assert_diagnostics(
        src, "at-least", at="6:19", message=f"'at least {count} of' needs a count from 1 to 3"
    )


def test_at_least_within_range() -> None:
    src = (
        HEAD
        + FLAGS
        + 'inclusion I1 "t": at least 3 of [a, b, c] or any of [a, b] or all of [a, c]\n'
    )
    assert diagnostics(src) == []


def _flags(n: int) -> str:
    return "".join(f" f{i}: flag\n" for i in range(n))


def _items(n: int) -> str:
    return ", ".join(f"f{i}" for i in range(n))


def test_at_least_of_many_is_counted_not_refused() -> None:
    """6 of 13 was refused as 20,592 conjunctions to expand; it is counted in the network now."""
    src = HEAD + "concepts:\n" + _flags(13) + f'inclusion I1 "t": at least 6 of [{_items(13)}]\n'
    assert [d for d in diagnostics(src) if d.is_error] == []


def test_at_least_of_more_than_the_limit() -> None:
    src = HEAD + "concepts:\n" + _flags(1001) + \
        f'inclusion I1 "t": at least 2 of [{_items(1001)}]\n'
    assert_diagnostics(src, "at-least-limit", at=f"{3 + 1001}:19",
                       message="'at least 2 of' lists 1001 conditions; lists of at most 1000 are "
                       "tested")


def test_counted_drug_list_has_no_expansion_limit() -> None:
    # `m includes at least k of {...}` compares a count on the record: no expansion at all.
    drugs = ", ".join(f"d{i}" for i in range(13))
    src = (
        HEAD
        + f"concepts:\n m: medication {{{drugs}}}\n"
        + f'inclusion I1 "t": m includes at least 6 of {{{drugs}}}\n'
    )
    assert diagnostics(src) == []


# --- equivalence tables ---------------------------------------------------------------------------

DOSED = (
    "concepts:\n"
    " gc: medication {prednisone, methylprednisolone = Medrol} dosed in mg/kg/d as pred per weight\n"
    " weight: quantity in kg\n"
    'inclusion I1 "t": gc dose >= 1 mg/kg/d for at least 3 months\n'
    "equivalence pred:\n prednisone 5 mg = 5 mg\n"
)


def test_dosed_medication_with_complete_table_passes() -> None:
    assert diagnostics(HEAD + DOSED + " Medrol 4 mg = 5 mg\n") == []


def test_missing_equivalence_is_a_warning() -> None:
    found = assert_diagnostics(
        HEAD + DOSED,
        "missing-equivalence",
        at="3:30",
        message="'methylprednisolone' of gc has no entry in 'pred'",
    )
    assert found[0].severity is Severity.WARNING


@pytest.mark.parametrize(
    "entry",
    [
        "methylprednisolone 4 mL = 5 mg",
        "methylprednisolone 4 = 5 mg",
        "methylprednisolone 0 mg = 5 mg",
        "methylprednisolone 4 mg = 5 mg/kg",
    ],
)
def test_equivalence_entries_must_be_masses(entry: str) -> None:
    assert_diagnostics(
        HEAD + DOSED + f" {entry}\n", "equivalence", at="8:2", message="must be two masses"
    )


def test_equivalence_entry_unknown_unit() -> None:
    assert_diagnostics(HEAD + DOSED + " Medrol 4 mgg = 5 mg\n", "unit-unknown", at="8:9")


# --- cycles and durations -------------------------------------------------------------------------


def test_cycle_reported_once_at_its_first_definition() -> None:
    src = HEAD + 'concepts:\n f: flag\ndefine b: a and f\ndefine a: b or f\ninclusion I1 "t": a\n'
    assert_diagnostics(
        src, "cycle", at="4:1", message="definitions refer to each other in a cycle: b -> a -> b"
    )


def test_self_reference_is_a_cycle() -> None:
    src = HEAD + 'concepts:\n f: flag\ndefine a: f or not a\ninclusion I1 "t": a\n'
    assert_diagnostics(src, "cycle", at="4:1", message="a -> a")


def test_two_cycles() -> None:
    src = HEAD + 'define a: b\ndefine b: a or c\ndefine c: b\ninclusion I1 "t": a\n'
    messages = sorted(d.message.split(": ")[1] for d in diagnostics(src))
    assert messages == ["a -> b -> a", "b -> c -> b"]


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ('concepts:\n e: event\ninclusion I1 "t": e within 0 days before screening\n', "4:28"),
        (
            "concepts:\n m: medication {a} dosed in mg/d\n"
            'inclusion I1 "t": m dose >= 5 mg/d for at least 0 months\n',
            "4:49",
        ),
        ('concepts:\n f: flag valid for 0 days\ninclusion I1 "t": f\n', "3:20"),
    ],
)
def test_zero_duration(text: str, at: str) -> None:
    assert_diagnostics(HEAD + text, "zero-duration", at=at, message="'0 ")


# --- warnings -------------------------------------------------------------------------------------


def test_unused_definition() -> None:
    src = HEAD + 'concepts:\n f: flag\ndefine x: f\ninclusion I1 "t": f\n'
    assert_diagnostics(src, "unused-definition", at="4:1", message="definition 'x' is never used")


def test_unused_concept() -> None:
    src = HEAD + 'concepts:\n f: flag\n g: event\ninclusion I1 "t": f\n'
    found = assert_diagnostics(src, "unused-concept", at="4:2", message="concept 'g' is never used")
    assert found[0].severity is Severity.WARNING


def test_concept_used_only_in_applies_when_is_used() -> None:
    src = HEAD + 'concepts:\n f: flag\n g: flag\ninclusion I1 "t" applies when g: f\n'
    assert diagnostics(src) == []


def test_weight_is_used_by_a_dose_per_kg() -> None:
    src = HEAD + DOSED + " Medrol 4 mg = 5 mg\n"
    assert diagnostics(src) == []
    per_day = src.replace(" per weight", "")
    assert_diagnostics(
        per_day, "unused-concept", at="4:2", message="concept 'weight' is never used"
    )


def test_weight_must_be_a_declared_body_mass() -> None:
    src = HEAD + DOSED + " Medrol 4 mg = 5 mg\n"
    errors = [d for d in diagnostics(src.replace("per weight", "per wieght")) if d.is_error]
    assert [(d.span.line, d.span.column, d.code) for d in errors] == [(3, 88, "undefined-name")]
    assert errors[0].message == "unknown name 'wieght'; did you mean 'weight'?"
    assert_diagnostics(src.replace("weight: quantity in kg", "weight: quantity in cm"),
                       "type-mismatch", at="3:88", message="divided by a quantity measured in kg")


def test_missing_text_on_criterion() -> None:
    src = HEAD + "concepts:\n f: flag\ninclusion I9: f\n"
    assert_diagnostics(
        src,
        "missing-text",
        at="4:1",
        message="criterion I9 has no protocol text; auditors need the protocol's own sentence",
    )


def test_missing_text_on_part() -> None:
    src = HEAD + 'concepts:\n f: flag\ninclusion I4 "t":\n part a "a": f\n part b: f\n'
    assert_diagnostics(src, "missing-text", at="6:2", message="criterion I4.b has no protocol text")


@pytest.mark.parametrize(
    ("header", "field"), [('version "1"\n', "protocol"), ('protocol "t"\n', "version")]
)
def test_missing_header(header: str, field: str) -> None:
    src = header + 'concepts:\n f: flag\ninclusion I1 "t": f\n'
    found = assert_diagnostics(src, "missing-header", at="1:1", message=f"no '{field}' line")
    assert found[0].span == Span("t.pr", 1, 1, 1, 1)


# --- the dependency graph -------------------------------------------------------------------------


def test_dependency_graph_from_used_to_user_in_file_order() -> None:
    protocol = parse(
        HEAD + DOSED + " Medrol 4 mg = 5 mg\n"
        "define steroid: gc dose >= 2 mg/kg/d\n"
        'exclusion E1 "e":\n part a "a": steroid\n'
        ' part b "b" applies when steroid: gc includes Medrol\n'
    )
    graph = dependency_graph(protocol)
    assert [(n, graph.nodes[n]["kind"]) for n in graph.nodes] == [
        ("gc", "concept"),
        ("weight", "concept"),
        ("steroid", "definition"),
        ("I1", "criterion"),
        ("E1.a", "criterion"),
        ("E1.b", "criterion"),
    ]
    assert list(graph.edges) == [
        ("gc", "steroid"),
        ("gc", "I1"),
        ("gc", "E1.b"),
        ("weight", "gc"),
        ("steroid", "E1.a"),
        ("steroid", "E1.b"),
    ]
    assert graph.nodes["steroid"]["span"].line == 9


def test_dependency_graph_of_the_seed() -> None:
    graph = dependency_graph(parse_file(SEED))
    kinds = [graph.nodes[n]["kind"] for n in graph.nodes]
    assert (kinds.count("concept"), kinds.count("definition"), kinds.count("criterion")) == (
        52,
        1,
        23,
    )
    assert list(graph.predecessors("I2")) == [
        "sle_classification_2019",
        "refractory_sle",
        "intolerant_to_standard_treatment",
    ]
    assert set(graph.predecessors("refractory_sle")) == {
        "disease_activity",
        "glucocorticoid",
        "antimalarial",
        "immunosuppressant",
    }
    assert list(graph.predecessors("I6")) == [
        "sex",
        "childbearing_potential",
        "pregnancy_test",
        "agrees_to_contraception",
    ]
    assert dependency_graph(parse_file(SEED)).edges == graph.edges


# --- windows, open world and ranges ---------------------------------------------------------------

ANCHORS = HEAD + "concepts:\n d: date\n w: quantity in kg\n e: event\n m: medication {a}\n"


@pytest.mark.parametrize("condition, at, message", [
    ("e within 7 days before w", "7:42",
     "a window counts from the screening date or a date concept (declare it 'NAME: date'); "
     "'w' is a quantity; or write 'the date of w', the day of its result that counts"),
    ("e within 7 days before m", "7:42", "'m' is a medication; or write 'the start of m' or "
     "'the end of m'"),
    ("e within 7 days after the end of d", "7:52",
     "a window counts from the end of an event or medication; 'd' is a date; write 'd': a date "
     "concept is its own day"),
])
def test_anchor_must_be_a_day(condition: str, at: str, message: str) -> None:
    src = ANCHORS + f'inclusion I1 "t": {condition}\n'
    found = diagnostics(src)
    assert [(f"{d.span.line}:{d.span.column}", d.code) for d in found if d.is_error] == [
        (at, "anchor")], found
    assert message in next(d.message for d in found if d.is_error)


def test_undefined_anchor() -> None:
    src = ANCHORS + 'inclusion I1 "t": e within 7 days before first_dos\n'
    found = [d for d in diagnostics(src) if d.is_error]
    assert [(d.code, d.span.column) for d in found] == [("undefined-name", 42)]


def test_anchor_counts_as_a_use() -> None:
    src = HEAD + 'concepts:\n d: date\n e: event\ninclusion I1 "t": e within 7 days before d\n'
    assert diagnostics(src) == []


def test_empty_range() -> None:
    src = HEAD + 'concepts:\n a: age\ninclusion I1 "t": a 17 to 12 years\n'
    assert_diagnostics(src, "range-order", at="4:21", message="'17 years to 12 years' is empty")


def test_range_bounds_are_thresholds() -> None:
    src = HEAD + 'concepts:\n w: quantity in kg\ninclusion I1 "t": w 40 to 150 mL\n'
    found = diagnostics(src)
    assert [d.code for d in found] == ["unit-dimension", "unit-dimension"]


def test_no_known_needs_a_history() -> None:
    src = HEAD + 'concepts:\n f: flag\ninclusion I1 "t": no known history of f\n'
    found = diagnostics(src)
    assert [d.code for d in found] == ["type-mismatch"]
    assert "only an event or medication has a history to be unknown" in found[0].message


def test_unless_in_an_inclusion_is_a_warning_with_the_or_it_likely_means() -> None:
    """`X unless Y` fails an inclusion for every patient with Y: protocols mostly mean a waiver
    there (`X or Y`). An exclusion's and a definition's `unless` narrow as meant: no warning."""
    found = diagnostics(
        'protocol "w" version "1"\nconcepts:\n  bilirubin: lab in mg/dL\n'
        '  gilbert_syndrome: flag\n  malignancy: event\n  cured: flag\n'
        'define active "x": malignancy ever unless cured\n'
        'inclusion I1 "x": bilirubin <= 1.5 mg/dL unless gilbert_syndrome\n'
        'exclusion E1 "x": malignancy ever unless (cured or active)\n')
    assert [(d.code, d.span.line, d.span.column, d.severity.value) for d in found] == [
        ("unless-in-inclusion", 8, 49, "warning")]
    assert found[0].message == (
        "in an inclusion, 'unless gilbert_syndrome' fails I1 for every patient with it; if the "
        "protocol waives the requirement for them, write 'or gilbert_syndrome'")


@pytest.mark.parametrize("condition, warned", [
    # VIALE-A's helper: born 1951 (74 or 75) with a comorbidity stayed open
    ("age >= 75 years or (age 18 to 74 years and comorbidity)", True),
    ("age >= 65 years or (age > 18 years and age < 65 years and comorbidity)", True),
    # one range inside the other decides a value across the inner one's edge: nothing to say
    ("age >= 20 years or (age >= 18 years and not comorbidity)", False),
    # as the warning offers; and `A if C else B`, decided by cases of C
    ("age >= 18 years and (age >= 75 years or comorbidity)", False),
    ("age >= 75 years if comorbidity else age >= 18 years", False),
])
def test_one_value_compared_on_two_sides_of_an_or_is_warned_of(condition, warned) -> None:
    found = diagnostics('protocol "v" version "1"\nconcepts:\n  age: age\n  comorbidity: flag\n'
                        f'inclusion I2 "x": {condition}\n')
    assert [d.code for d in found if d.code == "compared-apart"] == (
        ["compared-apart"] if warned else [])


@pytest.mark.parametrize("name", ["screening", "or", "and", "any"])
def test_a_concept_named_as_a_word_of_conditions_is_refused(name) -> None:
    """A concept `screening` was accepted, then warned never used: `before screening` reads the
    screening date. `or` and `and` were accepted as names."""
    found = diagnostics(f'protocol "k" version "1"\nconcepts:\n  {name}: flag\n  mi: event\n'
                        'inclusion I1 "x": not mi within 6 months before screening\n')
    assert [(d.code, d.span.line, d.severity.value) for d in found if d.code == "name-keyword"] \
        == [("name-keyword", 3, "error")]
