"""The semantic diff (`protocol/amend/diff.py`) and `proto-rules diff`: every kind of change with
its message, the two drift warnings, the example amendment against the seed, and bad inputs.

Each case edits a small protocol (`BASE`) in place and diffs the two parsed texts; the helper prints
the edits, the expected and the actual lines on failure. The CLI tests run on real files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grammar.parser import parse, parse_file
from protocol.amend.diff import RULE_ONLY, TEXT_ONLY, Diff, diff
from protocol.amend.wording import render, word_diff
from tests.conftest import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
AMENDED = "examples/cd19-ucart-sle-v1.1.proto-rules"

BASE = """\
protocol "t"
version "1"

concepts:
    age: age
    sex: category {female, male}
    childbearing_potential: flag
    weight: quantity in kg valid for 3 months
    egfr: quantity in mL/min/1.73m2 valid for 28 days "estimated glomerular filtration rate"
    ast: lab in U/L valid for 28 days
    disease_activity: category {mild, moderate, severe}
    pregnancy_test: category {negative, positive}
    live_vaccine: event
    gvhd: event graded
    immunosuppressant: medication {cyclophosphamide = CTX, MMF, azathioprine, rituximab}
    glucocorticoid: medication {prednisone, methylprednisolone} dosed in mg/kg/d as pred per weight

equivalence pred "equipotent doses":
    prednisone 5 mg = 5 mg
    methylprednisolone 4 mg = 5 mg

define refractory "Moderate or severe despite two immunosuppressants":
    disease_activity is one of {moderate, severe}
    and immunosuppressant includes at least 2 of {cyclophosphamide, MMF, azathioprine}

inclusion I1 "Age 18 or over;": age >= 18 years
inclusion I2 "Refractory lupus;": refractory
inclusion I4 "Organ function:":
    part renal "eGFR>=30;": egfr >= 30 mL/min/1.73m2
    part liver "AST<=3.0 ULN;": ast <= 3.0 x ULN
inclusion I6 "Negative pregnancy test;"
    applies when sex is female and childbearing_potential:
    pregnancy_test is negative
exclusion E1 "Live vaccine within 4 weeks;": live_vaccine within 4 weeks before screening
exclusion E2 "GVHD grade 2 or more;": gvhd with grade >= 2 within 2 weeks before screening
exclusion E3 "High-dose steroids;": glucocorticoid dose >= 1 mg/kg/d for at least 3 months
"""


pytestmark = pytest.mark.usefixtures("at_root")


def amended(*edits: tuple[str, str]) -> str:
    text = BASE
    for old, new in edits:
        assert text.count(old) == 1, f"edit must match exactly once: {old!r}"
        text = text.replace(old, new)
    return text


def lines(result: Diff) -> list[str]:
    """The diff as `render` shows it, without file names and line numbers (edits move lines)."""
    out = []
    for entry in result.entries:
        out.append(f"{entry.label}: {entry.summary()}")
        out += [f"  {change}" for change in entry.changes]
        out += [f"  warning: {warning}" for warning in entry.warnings]
        out += [f"  affects: {', '.join(entry.affects)}"] * bool(entry.affects)
    return out


def assert_diff(edits: list[tuple[str, str]], *expected: str) -> None:
    """Diff BASE against BASE with `edits`; the lines must be `expected`."""
    actual = lines(diff(parse(BASE, "old.proto-rules"), parse(amended(*edits), "new.proto-rules")))
    assert actual == list(expected), (
        "edits:\n" + "\n".join(f"  {old!r} -> {new!r}" for old, new in edits)
        + "\nexpected:\n" + "\n".join(f"  {x}" for x in expected)
        + "\nactual:\n" + "\n".join(f"  {x}" for x in actual))


# -- no change -------------------------------------------------------------------------------------

def test_identical_protocols_have_no_changes():
    assert diff(parse(BASE, "a.proto-rules"), parse(BASE, "b.proto-rules")).entries == ()


def test_layout_comments_clause_order_and_equal_durations_are_no_change():
    assert_diff([
        ('inclusion I1 "Age 18 or over;": age >= 18 years',
         '# adults only\ninclusion I1 "Age 18 or over;":\n    age >=   18 years  # the law'),
        ("disease_activity is one of {moderate, severe}\n"
         "    and immunosuppressant includes at least 2 of {cyclophosphamide, MMF, azathioprine}",
         "immunosuppressant includes at least 2 of {azathioprine, cyclophosphamide, mmf}\n"
         "    and disease_activity is one of {severe, moderate}"),
        ("within 4 weeks before", "within 28 days before"),
        ("egfr >= 30 mL", "egfr >= 30.0 mL"),
    ])


# -- rules -----------------------------------------------------------------------------------------

def test_threshold_changed_with_its_text():
    assert_diff([("egfr >= 30", "egfr >= 45"), ('"eGFR>=30;"', '"eGFR>=45;"')],
                "I4.renal: rule and text changed",
                "  threshold: egfr >= 30 mL/min/1.73m2 -> egfr >= 45 mL/min/1.73m2",
                '  text: "eGFR>=[-30-]{+45+};"')


def test_comparator():
    assert_diff([("egfr >= 30", "egfr > 30")],
                "I4.renal: rule changed",
                "  comparator: egfr >= 30 mL/min/1.73m2 -> egfr > 30 mL/min/1.73m2",
                f"  warning: {RULE_ONLY}")


def test_comparator_and_threshold_at_once():
    assert_diff([("egfr >= 30", "egfr > 45")],
                "I4.renal: rule changed",
                "  comparator and threshold: egfr >= 30 mL/min/1.73m2 -> egfr > 45 mL/min/1.73m2",
                f"  warning: {RULE_ONLY}")


def test_threshold_against_the_reference_range():
    assert_diff([("ast <= 3.0 x ULN", "ast <= 2.5 x ULN")],
                "I4.liver: rule changed",
                "  threshold: ast <= 3.0 x ULN -> ast <= 2.5 x ULN",
                f"  warning: {RULE_ONLY}")


def test_window():
    assert_diff([("within 4 weeks before", "within 6 weeks before"),
                 ('"Live vaccine within 4 weeks;"', '"Live vaccine within 6 weeks;"')],
                "E1: rule and text changed",
                "  window: live_vaccine within 4 weeks before screening -> "
                "live_vaccine within 6 weeks before screening",
                '  text: "Live vaccine within [-4-]{+6+} weeks;"')


def test_grade():
    assert_diff([("grade >= 2", "grade >= 3")],
                "E2: rule changed",
                "  grade: gvhd with grade >= 2 within 2 weeks before screening -> "
                "gvhd with grade >= 3 within 2 weeks before screening",
                f"  warning: {RULE_ONLY}")


def test_course_dose_and_duration():
    assert_diff([("dose >= 1 mg/kg/d for at least 3 months",
                  "dose >= 0.5 mg/kg/d for at least 6 months")],
                "E3: rule changed",
                "  threshold and window: glucocorticoid dose >= 1 mg/kg/d for at least 3 months -> "
                "glucocorticoid dose >= 0.5 mg/kg/d for at least 6 months",
                f"  warning: {RULE_ONLY}")


def test_value_set_in_a_definition_affects_its_criteria():
    assert_diff([("is one of {moderate, severe}", "is one of {mild, moderate, severe}")],
                "definition refractory: rule changed",
                "  value set: disease_activity: added mild",
                f"  warning: {RULE_ONLY}",
                "  affects: I2")


def test_is_becomes_is_not():
    assert_diff([("pregnancy_test is negative", "pregnancy_test is not positive")],
                "I6: rule changed",
                "  comparator and value set: pregnancy_test is negative -> pregnancy_test is not "
                "positive (pregnancy_test: added positive; removed negative)",
                f"  warning: {RULE_ONLY}")


def test_counted_drug_list():
    assert_diff([("{cyclophosphamide, MMF, azathioprine}", "{cyclophosphamide, MMF, rituximab}")],
                "definition refractory: rule changed",
                "  value set: immunosuppressant: added rituximab; removed azathioprine",
                f"  warning: {RULE_ONLY}",
                "  affects: I2")
    assert_diff([("at least 2 of", "at least 3 of")],
                "definition refractory: rule changed",
                "  threshold: at least 2 of -> at least 3 of",
                f"  warning: {RULE_ONLY}",
                "  affects: I2")


def test_applies_when():
    assert_diff([("applies when sex is female and childbearing_potential",
                  "applies when childbearing_potential")],
                "I6: rule changed",
                "  applies when: sex is female and childbearing_potential -> "
                "childbearing_potential",
                f"  warning: {RULE_ONLY}")


def test_condition_added_and_removed():
    assert_diff([("age >= 18 years", "age >= 18 years and not childbearing_potential")],
                "I1: rule changed",
                "  condition added: and not childbearing_potential",
                f"  warning: {RULE_ONLY}")
    assert_diff([("disease_activity is one of {moderate, severe}\n    and ", "")],
                "definition refractory: rule changed",
                "  condition removed: and disease_activity is one of {moderate, severe}",
                f"  warning: {RULE_ONLY}",
                "  affects: I2")


def test_condition_rewritten_when_the_structure_differs():
    assert_diff([("egfr >= 30 mL/min/1.73m2", "not (egfr < 30 mL/min/1.73m2)")],
                "I4.renal: rule changed",
                "  condition rewritten: egfr >= 30 mL/min/1.73m2 -> not (egfr < 30 mL/min/1.73m2)",
                f"  warning: {RULE_ONLY}")


def test_role():
    assert_diff([('inclusion I2 "Refractory lupus;"', 'exclusion I2 "Refractory lupus;"')],
                "I2: rule changed",
                "  role: inclusion -> exclusion",
                f"  warning: {RULE_ONLY}")


# -- added, removed, order -------------------------------------------------------------------------

def test_criterion_added_and_removed_new_order_then_removed():
    assert_diff([('exclusion E1 "Live vaccine within 4 weeks;": '
                  'live_vaccine within 4 weeks before screening\n', ''),
                 ('exclusion E3',
                  'exclusion E4 "Pregnant;": pregnancy_test is positive\nexclusion E3'),
                 ("age >= 18 years", "age >= 16 years")],
                "I1: rule changed",
                "  threshold: age >= 18 years -> age >= 16 years",
                f"  warning: {RULE_ONLY}",
                "E4: added",
                "  rule: pregnancy_test is positive",
                '  text: "Pregnant;"',
                "E1: removed",
                "  rule: live_vaccine within 4 weeks before screening",
                '  text: "Live vaccine within 4 weeks;"')


def test_part_added_with_its_parents_applies_when():
    assert_diff([("    part liver", '    part lung "No lesions;": not childbearing_potential\n'
                                    "    part liver")],
                "I4.lung: added",
                "  rule: not childbearing_potential",
                '  text: "No lesions;"')


# -- text and the two warnings ---------------------------------------------------------------------

def test_text_changed_but_rule_did_not():
    assert_diff([('"Age 18 or over;"', '"Aged 18 years or over;"')],
                "I1: text changed",
                '  text: "[-Age-]{+Aged+} 18 {+years+} or over;"',
                f"  warning: {TEXT_ONLY}")


def test_rule_changed_but_text_did_not_is_a_diagnostic_at_the_criterion():
    new = parse(amended(("age >= 18 years", "age >= 16 years")), "new.proto-rules")
    (diagnostic,) = diff(parse(BASE, "old.proto-rules"), new).diagnostics()
    line = BASE.splitlines().index('inclusion I1 "Age 18 or over;": age >= 18 years') + 1
    assert str(diagnostic.span) == f"new.proto-rules:{line}:1"
    assert diagnostic.message == f"I1: {RULE_ONLY}"


def test_parent_text_alone_is_a_warning_and_not_when_a_part_changed():
    parent = ('"Organ function:"', '"Organ function, basically normal:"')
    assert_diff([parent],
                "I4: text changed",
                '  text: "Organ function{+, basically normal+}:"',
                f"  warning: {TEXT_ONLY}")
    assert_diff([parent, ("ast <= 3.0", "ast <= 2.0"), ('"AST<=3.0 ULN;"', '"AST<=2.0 ULN;"')],
                "I4: text changed",
                '  text: "Organ function{+, basically normal+}:"',
                "I4.liver: rule and text changed",
                "  threshold: ast <= 3.0 x ULN -> ast <= 2.0 x ULN",
                '  text: "AST<=[-3-]{+2+}.0 ULN;"')


def test_long_sentences_are_cut_around_the_change():
    old = ("Central nervous system (CNS) disease: CNS neurolupus requires intervention within "
           "60 days);")
    assert word_diff(old, old.replace("60", "90")) == (
        "...neurolupus requires intervention within [-60-]{+90+} days);")


# -- concepts, tables, header ----------------------------------------------------------------------

def test_concept_unit_validity_values_and_label():
    assert_diff([('egfr: quantity in mL/min/1.73m2 valid for 28 days "estimated glomerular '
                  'filtration rate"', 'egfr: quantity in mL/s/1.73m2 valid for 14 days "eGFR"'),
                 ("{cyclophosphamide = CTX, MMF,",
                  "{cyclophosphamide = CTX = CYC, MMF, belimumab,")],
                "concept egfr: meaning and text changed",
                "  unit: mL/min/1.73m2 -> mL/s/1.73m2",
                "  validity: valid for 28 days -> valid for 14 days",
                '  label: "estimated glomerular filtration rate" -> "eGFR"',
                "  affects: I4.renal",
                "concept immunosuppressant: meaning changed",
                "  value set: immunosuppressant: added belimumab; synonyms of cyclophosphamide: "
                "{cyclophosphamide = CTX} -> {cyclophosphamide = CTX = CYC}",
                "  affects: I2")


def test_concept_kind_and_dosing():
    assert_diff([("ast: lab in U/L", "ast: quantity in U/L"), ("as pred per weight", "per weight")],
                "concept ast: meaning changed",
                "  kind: lab -> quantity",
                "  affects: I4.liver",
                "concept glucocorticoid: meaning changed",
                "  dosing: dosed in mg/kg/d as pred per weight -> dosed in mg/kg/d per weight",
                "  affects: E3")


def test_equivalence_table_entry():
    assert_diff([("methylprednisolone 4 mg = 5 mg", "methylprednisolone 4 mg = 6 mg")],
                "equivalence pred: meaning changed",
                "  equivalence: methylprednisolone 4 mg = 5 mg -> methylprednisolone 4 mg = 6 mg",
                "  affects: E3")


def test_header():
    assert_diff([('version "1"', 'version "2"')], "header: changed", '  version: "1" -> "2"')


# -- the example amendment -------------------------------------------------------------------------

def test_example_amendment_against_the_seed():
    result = diff(parse_file(SEED), parse_file(AMENDED))
    eligibility = [e for e in result.entries if e.subject not in ("escalation", "rule")]
    assert lines(Diff("", "", None, None, tuple(eligibility))) == [
        "header: changed",
        '  version: "1.0" -> "1.1"',
        "I4.renal: rule and text changed",
        "  threshold: egfr >= 30 mL/min/1.73m2 -> egfr >= 45 mL/min/1.73m2",
        '  text: "Renal function: eGFR≥[-30ML-]{+45ML+}/min/1.73m2;"',
        "E2: rule and text changed",
        "  window: cns_lupus_intervention within 60 days before screening -> "
        "cns_lupus_intervention within 90 days before screening",
        '  text: "...neurolupus requires intervention within [-60-]{+90+} days);"',
        "E3: text changed",
        '  text: "Active tuberculosis {+(TB)+} at the time of screening;"',
        f"  warning: {TEXT_ONLY}",
        "E9: rule changed",
        "  window: live_vaccine within 4 weeks before screening -> "
        "live_vaccine within 2 weeks before screening",
        f"  warning: {RULE_ONLY}",
        "E14: added",
        "  rule: immunosuppressant includes rituximab",
        '  text: "Previous B-cell depleting treatment with rituximab;"',
    ]
    assert [e.label for e in result.explaining("E9")] == ["E9"]
    assert "concept glucocorticoid" in result.uses["I2"]


def test_render_names_files_roles_and_lines():
    text = render(diff(parse_file(SEED), parse_file(AMENDED)))
    assert text.startswith(f"--- {SEED} (version 1.0)\n+++ {AMENDED} (version 1.1)\n")
    line = next(n for n, s in enumerate(Path(AMENDED).read_text(encoding="utf-8").splitlines(), 1)
                if s.startswith("exclusion E14"))
    assert f"E14 (exclusion, line {line}): added\n" in text
    assert text.endswith("; 2 warnings\n")


# -- the command -----------------------------------------------------------------------------------



def test_cli_diff_of_the_example_exits_1_with_warnings_on_stderr(capsys):
    code, out, err = run(capsys, "diff", SEED, AMENDED)
    assert code == 1
    assert "I4.renal (inclusion, line " in out
    assert "    threshold: egfr >= 30 mL/min/1.73m2 -> egfr >= 45 mL/min/1.73m2\n" in out
    warnings = [line for line in err.splitlines() if ": warning: " in line]
    # the amended file's own check says it too: E9's rule is not its sentence (fidelity)
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "warning: E9: the rule's 2 weeks is not in its sentence (line 184: \"Received live vaccine "
        "within 4 weeks before screening;\"), which has 4: write the rule as the sentence does",
        f"warning: E3: {TEXT_ONLY}", f"warning: E9: {RULE_ONLY}"]
    assert all(w.startswith(f"{AMENDED}:") for w in warnings)


def test_cli_diff_identical_exits_0(capsys):
    code, out, err = run(capsys, "diff", SEED, SEED)
    assert (code, err) == (0, "")
    assert out.endswith("no changes\n")


def test_cli_diff_layout_only_exits_0(capsys, tmp_path):
    reflowed = tmp_path / "reflowed.proto-rules"
    text = Path(SEED).read_text(encoding="utf-8")
    reflowed.write_text("# reflowed\n" + text.replace("\n    or ", "  # or\n    or   "),
                        encoding="utf-8")
    assert run(capsys, "diff", SEED, str(reflowed))[0] == 0


def test_cli_diff_json(capsys):
    code, out, _ = run(capsys, "diff", SEED, AMENDED, "--format", "json")
    assert code == 1
    data = json.loads(out)
    renal = next(e for e in data["entries"] if e["name"] == "I4.renal")
    assert renal["role"] == "inclusion" and renal["status"] == "changed"
    assert renal["changes"][0] == {
        "kind": "threshold", "old": "egfr >= 30 mL/min/1.73m2", "new": "egfr >= 45 mL/min/1.73m2",
        "note": None, "message": "threshold: egfr >= 30 mL/min/1.73m2 -> egfr >= 45 mL/min/1.73m2"}
    assert next(e for e in data["entries"] if e["name"] == "E9")["warnings"] == [RULE_ONLY]
    assert data["summary"].endswith("; 2 warnings")


def test_cli_diff_missing_file_exits_2(capsys):
    code, out, err = run(capsys, "diff", SEED, "examples/no-such.proto-rules")
    assert (code, out) == (2, "")
    assert err.startswith("examples/no-such.proto-rules: error: cannot read the protocol file: ")
    assert "No such file" in err


def test_cli_diff_syntax_error_exits_2_with_a_caret(capsys):
    code, out, err = run(capsys, "diff", "examples/bad/syntax-error.proto-rules", SEED)
    assert (code, out) == (2, "")
    head, source, caret = err.splitlines()
    assert head.startswith("examples/bad/syntax-error.proto-rules:8:33: error: the file ends ")
    assert caret == " " * (4 + 32) + "^"


def test_cli_diff_check_error_exits_2(capsys):
    code, _, err = run(capsys, "diff", SEED, "examples/bad/undefined-name.proto-rules")
    assert code == 2
    assert "examples/bad/undefined-name.proto-rules:8:5: error: unknown name 'egrf'" in err


# -- dose escalation -------------------------------------------------------------------------------

def test_escalation_settings_designs_and_rules():
    text = (ROOT / SEED).read_text(encoding="utf-8")
    design = ('escalation rules mine "Mine":\n'
              '    rule R1 "Two DLTs: stop.": dlt >= 2 -> stop, no MTD\n\n')
    before = text.replace('escalation "This trial', design + 'escalation "This trial')
    after = (before.replace("cohort size 3", "cohort size 6")
             .replace('"Mine"', '"Mine, amended"')
             .replace("dlt >= 2 -> stop", "dlt >= 3 -> stop"))
    seed = str(ROOT / SEED)  # imports resolve relative to the file name
    result = diff(parse(before, seed), parse(after, seed))
    assert lines(result) == [
        "design mine: text changed",
        '  text: "Mine{+, amended+}"',
        "rule mine R1: rule changed",
        "  threshold: dlt >= 2 -> dlt >= 3",
        f"  warning: {RULE_ONLY}",
        "escalation section: meaning changed",
        "  cohort size: 3 -> 6",
    ]
    assert [e.label for e in diff(parse(after, seed), parse(text, seed)).entries] == [
        "escalation section", "design mine", "rule mine R1"]
