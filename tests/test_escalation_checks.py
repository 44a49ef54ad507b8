"""The escalation checks: one test per diagnostic, each a small protocol and where the problem is.

Like tests/test_checks.py, `assert_diagnostics` requires the exact list of reports, so a check that
also fires where it should not fails the test. Every source starts with a valid header and section
that the cases edit, so line numbers read as in the text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import cli
from grammar.parser import parse, parse_file
from protocol.checks import check
from protocol.errors import Diagnostic

ROOT = Path(__file__).parents[1]
BASE = """protocol "t" version "1"
escalation "Dose finding.":
    level DL1 1x10^7 cells/kg
    level DL2 3x10^7 cells/kg
    start at DL1
    cohort size 3
    maximum 12 patients
    dlt within 28 days after infusion
    design boin target 0.3
"""
RULES = """escalation rules mine "Mine":
    rule A1 "Stop when full.": full -> stop
"""


def diagnostics(src: str) -> list[Diagnostic]:
    return check(parse(src, "t.pr"))


def assert_diagnostics(src: str, code: str, at: str, message: str = "") -> None:
    """Assert that `src` gets one report only, `code` at `at` ("line:col"), saying `message`."""
    found = diagnostics(src)
    actual = "\n".join(f"  {d.span.line}:{d.span.column} {d.code}: {d.message}" for d in found)
    shown = f"input:\n{src}\nexpected:\n  {at} {code}: ...{message}...\nactual:\n{actual or '  -'}"
    assert [f"{d.span.line}:{d.span.column} {d.code}" for d in found] == [f"{at} {code}"], shown
    assert message in found[0].message, shown


def test_the_base_and_the_seed_are_clean():
    assert diagnostics(BASE) == []
    assert check(parse_file(ROOT / "examples" / "cd19-ucart-sle.proto-rules")) == []


def test_repeated_setting():
    assert_diagnostics(
        BASE + "    cohort size 4\n",
        "escalation-repeated",
        "10:5",
        "'cohort size' is already given at line 6",
    )


def test_second_section():
    second = BASE[BASE.index("escalation") :]
    assert_diagnostics(
        BASE + second,
        "escalation-repeated",
        "10:1",
        "a protocol has one escalation section; the first is at line 2",
    )


@pytest.mark.parametrize(
    "line, what",
    [
        ("    start at DL1\n", "the starting level"),
        ("    cohort size 3\n", "a cohort size"),
        ("    maximum 12 patients\n", "a maximum sample size"),
        ("    dlt within 28 days after infusion\n", "the DLT window"),
        ("    design boin target 0.3\n", "a design"),
    ],
)
def test_missing_setting(line, what):
    assert_diagnostics(
        BASE.replace(line, ""), "escalation-missing", "2:1", f"the escalation section needs {what}"
    )


def test_duplicate_level():
    src = BASE.replace("    level DL2 3x10^7", "    level DL1 3x10^7")
    assert_diagnostics(
        src, "duplicate-level", "4:5", "dose level 'DL1' is already declared at line 3"
    )


def test_undeclared_start_level():
    assert_diagnostics(
        BASE.replace("start at DL1", "start at DL3"),
        "undefined-name",
        "5:14",
        "unknown dose level 'DL3'; did you mean 'DL2'?",
    )


def test_levels_out_of_order():
    src = BASE.replace("level DL2 3x10^7", "level DL2 1e7")
    assert_diagnostics(
        src, "level-order", "4:5", "DL2 (1e7 cells/kg) is not above DL1 (1x10^7 cells/kg)"
    )


def test_levels_in_units_that_do_not_compare():
    assert_diagnostics(
        BASE.replace("3x10^7 cells/kg", "3 mg"),
        "level-unit",
        "4:5",
        "DL2 is dosed in mg, DL1 in cells/kg",
    )


def test_unknown_dose_unit():
    assert_diagnostics(
        BASE.replace("3x10^7 cells/kg", "3x10^7 cellz"),
        "unit-unknown",
        "4:5",
        "unknown unit 'cellz'",
    )


def test_a_level_below_the_start_is_a_backup():
    assert_diagnostics(
        BASE.replace("start at DL1", "start at DL2"),
        "backup-level",
        "3:5",
        "DL1 is below the start level DL2: declare a level below the start 'backup'",
    )


def test_a_backup_lies_below_the_start():
    src = BASE.replace("3x10^7 cells/kg", "3x10^7 cells/kg backup")
    assert_diagnostics(src, "backup-level", "4:5", "DL2 is above the start level DL1")


def test_the_start_is_not_a_backup():
    src = BASE.replace("level DL1 1x10^7 cells/kg", "level DL1 1x10^7 cells/kg backup")
    assert_diagnostics(src, "backup-level", "3:5", "the start level cannot be a backup")


def test_cohort_size_and_maximum():
    assert_diagnostics(
        BASE.replace("cohort size 3", "cohort size 0"),
        "escalation-count",
        "2:1",
        "cohort size must be a whole number of at least 1, not 0",
    )
    assert_diagnostics(
        BASE.replace("maximum 12", "maximum 2"),
        "escalation-count",
        "2:1",
        "the maximum sample size must be a whole number of at least 3, not 2",
    )


def test_unknown_design():
    src = BASE.replace("design boin target 0.3", "design three_plus_thee") + RULES.replace(
        "mine", "three_plus_three"
    )
    assert_diagnostics(
        src,
        "undefined-name",
        "9:12",
        "unknown escalation rules 'three_plus_thee'; did you mean 'three_plus_three'?",
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ("target 0.7", "the target DLT rate 0.7 must lie between 0.05 and 0.6"),
        ("target 0.3 phi1 0.35", "phi1 (0.35) < target (0.3) < phi2 (0.42) must hold"),
        ("target 0.3 phi2 0.31", "phi1 and phi2 must differ from the target by at least a tenth"),
    ],
)
def test_boin_options(options, message):
    assert_diagnostics(BASE.replace("target 0.3", options), "boin-target", "9:5", message)


def test_duplicate_rules_and_designs():
    src = BASE + RULES + '    rule A1 "Again.": full -> stop\n'
    assert_diagnostics(src, "duplicate-rule", "12:5", "rule id 'A1' is already used at line 11")
    assert_diagnostics(
        BASE + RULES + RULES,
        "duplicate-design",
        "12:1",
        "escalation rules 'mine' are already declared at t.pr:10",
    )


def test_unknown_name_in_a_rule():
    src = BASE + RULES.replace("full -> stop", "dlts >= 2 -> stop")
    assert_diagnostics(
        src,
        "undefined-name",
        "11:32",
        "'dlts' is not something the engine counts; did you mean 'dlt'?",
    )


@pytest.mark.parametrize(
    "condition, at, message",
    [
        ("dlt", "11:32", "'dlt' is a count: compare it, like 'dlt >= 2'"),
        ("lowest >= 1", "11:32", "'lowest' is yes or no: write 'lowest' or 'not lowest'"),
        ("dlt ever", "11:32", "'dlt' cannot be used like this here"),
    ],
)
def test_wrong_use_of_a_name(condition, at, message):
    src = BASE + RULES.replace("full -> stop", f"{condition} -> stop")
    assert_diagnostics(src, "escalation-atom", at, message)


@pytest.mark.parametrize("threshold", ["1.5", "2 patients"])
def test_counts_compare_with_whole_numbers(threshold):
    src = BASE + RULES.replace("full -> stop", f"dlt >= {threshold} -> stop")
    assert_diagnostics(src, "escalation-count", "11:39", "a count of dlt must be a whole number")


def test_rule_without_text_is_a_warning():
    src = BASE + RULES.replace(' "Stop when full."', "")
    (found,) = diagnostics(src)
    assert (found.code, found.severity.value, str(found.span)) == (
        "missing-text",
        "warning",
        "t.pr:11:5",
    )


def test_zero_dlt_window():
    assert_diagnostics(BASE.replace("within 28 days", "within 0 days"), "zero-duration", "8:16")


def test_cli_renders_a_module_diagnostic_with_the_module_line(tmp_path, capsys, monkeypatch):
    """A problem in an imported module is shown with the module's own line and caret."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "rules.proto-rules").write_text(
        '# my rules\nescalation rules mine "Mine":\n    rule A1 "x": dlts >= 2 -> stop\n',
        encoding="utf-8",
    )
    main = tmp_path / "main.proto-rules"
    main.write_text(
        BASE.replace("design boin target 0.3", "design mine") + 'import "lib/rules.proto-rules"\n',
        encoding="utf-8",
    )
    code = cli.main(["check", str(main)])
    err = capsys.readouterr().err
    assert code == 2
    head, line, caret = err.splitlines()
    assert head == (
        f"{tmp_path}/lib/rules.proto-rules:3:18: error: 'dlts' is not something the "
        "engine counts; did you mean 'dlt'?"
    )
    assert line == '        rule A1 "x": dlts >= 2 -> stop'
    assert caret == " " * 21 + "^^^^"
