"""The grammar of dose escalation: the `escalation` section, escalation rules, imports and
dose numbers.

The contextual lexer is the trap here: `1x10^7` must not become the number 1 and the unit `x10^7`,
and the new keywords must not take words from conditions (`lowest` is a name in a rule). Bad input
lives in `data/escalation/syntax_errors.txt`, one snippet per line; each must fail with a positioned
message in an author's words.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from grammar.parser import parse, parse_file
from protocol import escalation_model as em
from protocol import model as m
from protocol.errors import ProtocolError

ROOT = Path(__file__).parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
MODULE = "protocol/designs/three-plus-three.proto-rules"
RULES_B = 'escalation rules b "B":\n    rule B1 "x": full -> stop\n'
SECTION = """escalation "Three dose groups.":
    level DL1 {dose} cells/kg
    start at DL1
    cohort size 3
    maximum 18 patients
    dlt within 28 days after infusion
    design boin target 0.3
"""


pytestmark = pytest.mark.usefixtures("at_root")


def test_seed_escalation_section():
    section = parse_file(SEED).escalation
    assert section is not None
    assert [(lv.id, lv.amount, lv.unit, lv.backup) for lv in section.levels] == [
        ("DL1", Decimal("1E+7"), "cells/kg", False),
        ("DL2", Decimal("3E+7"), "cells/kg", False),
        ("DL3", Decimal("6E+7"), "cells/kg", False),
    ]
    assert section.start is not None and section.start.name == "DL1"
    assert (section.cohort_size, section.maximum) == (3, 18)
    assert str(section.dlt_window) == "28 days" and str(section.stagger) == "14 days"
    assert (section.review, section.partial_dose) == (True, "not_evaluable")
    assert isinstance(section.design, m.Ref) and section.design.name == "three_plus_three"
    assert section.text is not None and section.text.startswith(
        "This trial was designed as an open"
    )


@pytest.mark.parametrize(
    "written, value",
    [
        ("1x10^7", "1E+7"),
        ("1 x 10^7", "1E+7"),
        ("1×10^7", "1E+7"),
        ("1 × 10^7", "1E+7"),
        ("2.5*10^6", "2.5E+6"),
        ("1e7", "1E+7"),
        ("1E+7", "1E+7"),
        ("2.5e6", "2.5E+6"),
        ("6", "6"),
        ("0.5", "0.5"),
        ("3x10^-2", "0.03"),
        ("175,000", "175000"),  # a thousands separator, as anywhere else
    ],
)
def test_dose_numbers(written, value):
    section = parse(SECTION.format(dose=written), "t.pr").escalation
    level = section.levels[0]
    assert (level.amount, level.unit) == (Decimal(value), "cells/kg")
    assert level.amount == Decimal(value)  # exact: no binary float on the way


def test_backup_and_boin_options():
    text = SECTION.replace(
        "    level DL1 {dose} cells/kg\n",
        "    level DL0 5x10^6 cells/kg backup\n    level DL1 1e7 cells/kg\n",
    )
    text = text.replace("design boin target 0.3", "design boin target 0.25 phi1 0.15 phi2 0.35")
    section = parse(text, "t.pr").escalation
    assert [(lv.id, lv.backup) for lv in section.levels] == [("DL0", True), ("DL1", False)]
    assert section.design == em.Boin(
        section.design.span, Decimal("0.25"), Decimal("0.15"), Decimal("0.35")
    )


def test_partial_dose_counted_at_dose_received():
    text = SECTION.format(dose="1e7") + "    partial dose counted at dose received\n"
    assert parse(text, "t.pr").escalation.partial_dose == "received"


def test_a_section_after_a_number_or_a_name_is_still_a_section():
    """After `x >= 8` a unit may follow and after `flag` a window: the keywords must still win."""
    for condition in ("score >= 8", "flag", "not flag", "x is positive"):
        text = f'inclusion I1 "x": {condition}\n' + SECTION.format(dose="1e7")
        protocol = parse(text, "t.pr")
        assert protocol.escalation is not None and protocol.criteria[0].id == "I1"


def test_rule_set_and_every_move():
    text = """escalation rules mine "Mine":
    rule A1 "a": dlt >= 2 and lowest -> stop, no MTD
    rule A2 "b": dlt >= 2 and lower_evaluable >= 6 -> stop, MTD is the lower level
    rule A3 "c": evaluable == 6 and higher_dlt >= 2 -> stop, MTD is this level
    rule A4 "d": highest -> stop, MTD not reached
    rule A5 "e": full -> stop, MTD not determined
    rule A6 "f": full -> stop, MTD by isotonic regression
    rule A7 "g": full -> stop
    rule A8 "h": dlt >= 2 -> de-escalate
    rule A9 "i": not cohort_complete -> stay
    rule A10 "j": evaluable == 3 and dlt == 1 -> expand
    rule A11 "k": dlt >= 3 -> eliminate
    rule A12 "l": evaluable == 3 and dlt == 0 or evaluable == 6 and dlt <= 1 -> escalate
"""
    (design,) = parse(text, "t.pr").designs
    assert (design.name, design.text, design.exclusive) == ("mine", "Mine", False)
    assert [str(rule.move) for rule in design.rules] == [
        "stop, no MTD",
        "stop, MTD is the lower level",
        "stop, MTD is this level",
        "stop, MTD not reached",
        "stop, MTD not determined",
        "stop, MTD by isotonic regression",
        "stop",
        "de-escalate",
        "stay",
        "expand",
        "eliminate",
        "escalate",
    ]
    first = design.rules[0].condition
    assert isinstance(first, m.And) and [a.ref.name for a in m.atoms(first)] == ["dlt", "lowest"]


def test_import_keeps_the_module_file_in_spans():
    protocol = parse_file(SEED)
    (design,) = protocol.designs
    assert design.name == "three_plus_three"
    assert [r.id for r in design.rules] == [f"R{i}" for i in range(1, 11)]
    assert str(design.rules[0].span) == f"{MODULE}:18:5"
    assert [module.path for module in protocol.modules] == [MODULE]
    assert protocol.source_of(MODULE) == Path(MODULE).read_text(encoding="utf-8")


def test_import_is_relative_to_the_importing_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.proto-rules").write_text('import "b.proto-rules"\n', encoding="utf-8")
    (tmp_path / "lib" / "b.proto-rules").write_text(RULES_B, encoding="utf-8")
    main = tmp_path / "main.proto-rules"
    main.write_text('import "lib/a.proto-rules"\n', encoding="utf-8")
    protocol = parse_file(main)
    assert [d.name for d in protocol.designs] == ["b"]
    assert protocol.designs[0].span.file == str(tmp_path / "lib" / "b.proto-rules")


def error_of(path: Path | str) -> str:
    with pytest.raises(ProtocolError) as raised:
        parse_file(path)
    return str(raised.value)


def test_import_of_a_missing_file(tmp_path):
    main = tmp_path / "main.proto-rules"
    main.write_text('protocol "t"\nimport "lib/nothing.proto-rules"\n', encoding="utf-8")
    head, line, caret = error_of(main).splitlines()
    assert head == (
        f"{main}:2:1: error: cannot import {tmp_path}/lib/nothing.proto-rules: "
        "No such file or directory"
    )
    assert line == '    import "lib/nothing.proto-rules"' and caret == "    " + "^" * 32


def test_a_shipped_design_is_imported_by_name_from_anywhere(tmp_path):
    """3+3 ships with proto-rules: a protocol in any folder imports it without a copy, and the
    trail names it by its place in the package, the same on every machine."""
    main = tmp_path / "main.proto-rules"
    main.write_text('import "three-plus-three"\n', encoding="utf-8")
    protocol = parse_file(main)
    assert [d.name for d in protocol.designs] == ["three_plus_three"]
    assert [module.path for module in protocol.modules] == [MODULE]
    assert str(protocol.designs[0].rules[0].span) == f"{MODULE}:18:5"
    assert protocol.source_of(MODULE) == (ROOT / MODULE).read_text(encoding="utf-8")


def test_a_file_next_to_the_protocol_comes_before_a_shipped_design(tmp_path):
    """An author amends 3+3 by copying it beside the protocol under the same name."""
    (tmp_path / "three-plus-three.proto-rules").write_text(RULES_B, encoding="utf-8")
    main = tmp_path / "main.proto-rules"
    main.write_text('import "three-plus-three.proto-rules"\n', encoding="utf-8")
    protocol = parse_file(main)
    assert [d.name for d in protocol.designs] == ["b"]
    assert [module.path for module in protocol.modules] == [
        str(tmp_path / "three-plus-three.proto-rules")]


def test_an_unreadable_file_next_to_the_protocol_is_an_error_not_a_fall_back(tmp_path):
    (tmp_path / "three-plus-three.proto-rules").write_bytes(b"\xff\n")
    main = tmp_path / "main.proto-rules"
    main.write_text('import "three-plus-three"\n', encoding="utf-8")
    head = error_of(main).splitlines()[0]
    assert head.startswith(
        f"{main}:1:1: error: cannot import {tmp_path}/three-plus-three.proto-rules: 'utf-8' codec")


def test_an_import_naming_a_control_character_is_an_error_not_a_traceback(tmp_path):
    """Found by `make fuzz`: a NUL in the name made the file call raise ValueError."""
    main = tmp_path / "main.proto-rules"
    main.write_text('protocol "t"\nimport "\x00three-plus-three"\n', encoding="utf-8")
    head = error_of(main).splitlines()[0]
    assert head == (f"{main}:2:1: error: cannot import '\\x00three-plus-three': "
                    "a file name has no control characters")


def test_import_of_a_missing_name_says_where_it_looked(tmp_path):
    main = tmp_path / "main.proto-rules"
    main.write_text('protocol "t"\n\nimport "three-plus-thre"\n', encoding="utf-8")
    head, line, caret = error_of(main).splitlines()
    designs = ROOT / "protocol" / "designs"
    assert head == (
        f"{main}:3:1: error: cannot import 'three-plus-thre': no file "
        f"{tmp_path}/three-plus-thre.proto-rules, nor among the designs proto-rules ships "
        f"({designs}/three-plus-thre.proto-rules; they are: accelerated-titration, i3plus3, "
        "mtpi2, three-plus-three)"
    )
    assert line == '    import "three-plus-thre"' and caret == "    " + "^" * 24


def test_import_cycle(tmp_path):
    (tmp_path / "a.proto-rules").write_text('import "b.proto-rules"\n', encoding="utf-8")
    (tmp_path / "b.proto-rules").write_text('\nimport "a.proto-rules"\n', encoding="utf-8")
    head = error_of(tmp_path / "a.proto-rules").splitlines()[0]
    assert head == (
        f"{tmp_path}/b.proto-rules:2:1: error: import cycle: {tmp_path}/a.proto-rules "
        f"-> {tmp_path}/b.proto-rules -> {tmp_path}/a.proto-rules"
    )


def test_a_module_declares_escalation_rules_only(tmp_path):
    (tmp_path / "m.proto-rules").write_text('\n\ninclusion I1 "x": flag\n', encoding="utf-8")
    (tmp_path / "main.proto-rules").write_text('import "m.proto-rules"\n', encoding="utf-8")
    head, line, _ = error_of(tmp_path / "main.proto-rules").splitlines()
    assert head == (
        f"{tmp_path}/m.proto-rules:3:1: error: an imported module may only declare escalation rules and value sets"
    )
    assert line == '    inclusion I1 "x": flag'


def test_a_syntax_error_in_a_module_points_into_the_module(tmp_path):
    (tmp_path / "m.proto-rules").write_text(
        'escalation rules m:\n    rule R1 "x": full ->\n', encoding="utf-8"
    )
    (tmp_path / "main.proto-rules").write_text('import "m.proto-rules"\n', encoding="utf-8")
    head, line, _ = error_of(tmp_path / "main.proto-rules").splitlines()
    assert head.startswith(f"{tmp_path}/m.proto-rules:2:") and "expected" in head
    assert line == '        rule R1 "x": full ->'


# Its syntax errors are in tests/data/escalation/syntax_errors.txt, run by test_grammar.py.
