"""Named value sets: `set egfr_tki: {gefitinib, erlotinib, afatinib}`, used by name wherever a set
is compared with (`is one of`, `includes any of`, `other than`, `where ... is one of`).

Oncology protocols repeat one list in several criteria ("prior EGFR-TKI" in an inclusion, an
exclusion and a washout); written once, the uses cannot drift apart. The parser puts the values in
place of each use, so the network, the checks of each value against its concept, the trail and the
amendment diff see what a literal set gives. Each case runs the real parser, checker and network.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cli
from engine.run import Screening
from grammar.layout import format_text
from engine.audit.recorder import _modules
from grammar.parser import parse, parse_file
from lsp import features
from protocol.amend.diff import diff
from protocol.checks import check
from protocol.errors import ProtocolError
from tests.conftest import network_from_text, screen_one

PROTOCOL = """protocol "sets" version "1"
concepts:
    prior_therapy: medication {gefitinib, erlotinib, afatinib, osimertinib, pemetrexed, cisplatin}
    histology: category {adenocarcinoma, squamous, large_cell}
    malignancy: event with kind {lung, basal_cell, melanoma}
inclusion I1 "Non-squamous NSCLC": histology is one of non_squamous
exclusion E1 "Prior EGFR-TKI": prior_therapy includes any of egfr_tki
exclusion E2 "Another malignancy, other than skin cancer":
    malignancy where kind is not one of skin_or_lung within 3 years before screening
exclusion E3 "Another malignancy": malignancy other than skin_or_lung ever
set egfr_tki: {gefitinib, erlotinib, afatinib, osimertinib} "EGFR tyrosine kinase inhibitors"
set non_squamous: {adenocarcinoma, large_cell}
set skin_or_lung: {basal_cell, lung}
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "sets.proto-rules"))


def verdicts(screening: Screening, *facts: dict) -> dict[str, str]:
    outcome = screen_one(screening, facts, day="2026-06-01")
    return {c: v.verdict for c, v in outcome.verdicts.items()}


def test_a_set_used_by_name_decides_as_its_values_written_out(screening):
    literal = Screening(network_from_text(
        PROTOCOL.replace("is one of non_squamous", "is one of {adenocarcinoma, large_cell}")
        .replace("includes any of egfr_tki",
                 "includes any of {gefitinib, erlotinib, afatinib, osimertinib}")
        .replace("is not one of skin_or_lung", "is not one of {basal_cell, lung}")
        .replace("other than skin_or_lung", "other than {basal_cell, lung}"), "literal.proto-rules"))
    patients = [
        [{"concept": "histology", "value": "large_cell", "date": "2026-05-01"},
         {"concept": "prior_therapy", "drug": "cisplatin", "date": "2025-01-01", "end": "2025-03-01"},
         {"concept": "malignancy", "kind": "basal_cell", "date": "2025-01-01"}],
        [{"concept": "histology", "value": "squamous", "date": "2026-05-01"},
         {"concept": "prior_therapy", "drug": "osimertinib", "date": "2025-01-01",
          "end": "2025-03-01"},
         {"concept": "malignancy", "kind": "melanoma", "date": "2024-01-01"}],
    ]
    first, second = (verdicts(screening, *facts) for facts in patients)
    assert first == {"I1": "MET", "E1": "NOT_MET", "E2": "NOT_MET", "E3": "NOT_MET"}
    assert second == {"I1": "NOT_MET", "E1": "MET", "E2": "MET", "E3": "MET"}
    assert [verdicts(literal, *facts) for facts in patients] == [first, second]


def test_the_model_keeps_each_set_and_its_uses():
    protocol = parse(PROTOCOL, "sets.proto-rules")
    assert [s.name for s in protocol.sets] == ["egfr_tki", "non_squamous", "skin_or_lung"]
    assert protocol.named_values("egfr_tki").text == "EGFR tyrosine kinase inhibitors"
    assert [(r.name, r.span.line) for r in protocol.set_uses] == [
        ("non_squamous", 6), ("egfr_tki", 7), ("skin_or_lung", 9), ("skin_or_lung", 10)]
    assert check(protocol) == []


def run_check(capsys, text: str, tmp_path) -> tuple[int, str]:
    path = tmp_path / "p.proto-rules"
    path.write_text(text, encoding="utf-8")
    code = cli.main(["check", str(path)])
    return code, capsys.readouterr().err.replace(str(path), "p.proto-rules")


def test_an_unknown_set_is_an_error_at_its_use_with_a_caret(capsys, tmp_path):
    code, err = run_check(capsys, PROTOCOL.replace("any of egfr_tki", "any of egfr_tkis"),
                          tmp_path)
    assert code == 2
    assert err.splitlines()[:3] == [
        "p.proto-rules:7:62: error: unknown value set 'egfr_tkis'; did you mean 'egfr_tki'?",
        '    exclusion E1 "Prior EGFR-TKI": prior_therapy includes any of egfr_tkis',
        "                                                                 ^^^^^^^^^"]
    code, err = run_check(capsys, PROTOCOL.replace("any of egfr_tki", "any of tki"), tmp_path)
    assert "unknown value set 'tki': write {tki} for one value, or declare the set: " \
           "`set tki: {...}`" in err


@pytest.mark.parametrize("added, expected", [
    ("set egfr_tki: {gefitinib}\n", "error: the set 'egfr_tki' is declared twice (first on line 11)"),
    ("set histology: {squamous}\n", "error: set 'histology' has the name of the concept or "
                                    "definition declared at line 4"),
    ("set unused: {lung}\n", "warning: set 'unused' is never used"),
    ("set twice: {lung, Lung}\n", "error: 'Lung' is 'lung' (line 14) as facts are matched, "
                                  "whatever their case: leave it out"),
])
def test_what_the_checker_says_of_a_set(capsys, tmp_path, added, expected):
    _, err = run_check(capsys, PROTOCOL + added, tmp_path)
    assert expected in err


def test_each_value_is_checked_against_the_concept_it_is_used_with(capsys, tmp_path):
    code, err = run_check(capsys, PROTOCOL.replace("is one of non_squamous",
                                                   "is one of egfr_tki"), tmp_path)
    assert code == 2
    assert "p.proto-rules:11:16: error: 'gefitinib' is not a value of 'histology'" in err


def test_fmt_lays_a_set_out_as_a_section():
    text = PROTOCOL.replace("set non_squamous:", "  set   non_squamous :")
    assert format_text(text) == PROTOCOL


def test_an_amendment_to_a_set_changes_the_criteria_that_use_it():
    old = parse(PROTOCOL, "old.proto-rules")
    new = parse(PROTOCOL.replace("afatinib, osimertinib}", "afatinib}"), "new.proto-rules")
    changed = diff(old, new)
    assert [e.name for e in changed.entries if e.semantic] == ["E1"]
    assert "prior_therapy: removed osimertinib" in str(changed.entry("E1"))


def test_the_editor_knows_a_set():
    analysis = features.analyse(PROTOCOL, "sets.proto-rules")
    line, column = 6, PROTOCOL.splitlines()[6].index("egfr_tki") + 1  # the use in E1
    hover = features.hover(analysis, line, column)
    assert hover.contents.value == ("**egfr_tki**: set {gefitinib, erlotinib, afatinib, "
                                    "osimertinib}\n\n> EGFR tyrosine kinase inhibitors")
    assert features.definition(analysis, line, column)[1].start.line == 10
    assert [r.start.line for r in features.references(analysis, line, column, True)] == [6, 10]
    assert "egfr_tki" in [s.name for s in features.symbols(analysis)]


@given(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True))
def test_any_undeclared_name_is_an_error_at_its_use(name):
    """Whatever name a use gives that no set declares: one positioned error, never a traceback
    (a keyword there is a syntax error, equally positioned)."""
    text = PROTOCOL.replace("any of egfr_tki", f"any of {name}")
    if name in {"egfr_tki", "non_squamous", "skin_or_lung"}:
        return
    with pytest.raises(ProtocolError) as raised:
        parse(text, "sets.proto-rules")
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.span.line, diagnostic.span.column) == (7, 62), diagnostic


# --- sets from an imported module ------------------------------------------------------------------

CLASSES = """# EGFR and platinum classes, shared by the sponsor's lung protocols.
set egfr_tki: {gefitinib, erlotinib, afatinib, osimertinib} "EGFR tyrosine kinase inhibitors"
set platinum: {cisplatin, carboplatin}
"""

TRIAL = """protocol "lung" version "1"
import "drug-classes"
concepts:
    prior_therapy: medication {gefitinib, erlotinib, afatinib, osimertinib, cisplatin, carboplatin}
exclusion E1 "Prior EGFR-TKI": prior_therapy includes any of egfr_tki
"""


def written(tmp_path, trial: str = TRIAL, classes: str = CLASSES):
    (tmp_path / "drug-classes.proto-rules").write_text(classes, encoding="utf-8")
    path = tmp_path / "lung.proto-rules"
    path.write_text(trial, encoding="utf-8")
    return path


def test_a_set_of_an_imported_module_is_used_by_name(capsys, tmp_path):
    """A module of value sets, imported as escalation designs are: its sets are read before the
    importing file's conditions; the trail's run record names the module with its hash."""
    path = written(tmp_path)
    facts = tmp_path / "p.jsonl"
    facts.write_text('{"patient": "P1", "screening_date": "2026-06-01", "facts": [{"concept": '
                     '"prior_therapy", "drug": "erlotinib", "date": "2025-01-06"}]}\n',
                     encoding="utf-8")
    trail = tmp_path / "t.jsonl"
    assert cli.main(["run", str(path), str(facts), "--trail", str(trail)]) == 0
    assert capsys.readouterr().out == "P1: INELIGIBLE (exclusion E1 MET)\n"
    modules = json.loads(trail.read_text(encoding="utf-8").splitlines()[0])["protocol"]["modules"]
    assert modules == [{"file": str(tmp_path / "drug-classes.proto-rules"),
                        "sha256": hashlib.sha256(CLASSES.encode()).hexdigest()}]
    protocol = json.loads(trail.read_text(encoding="utf-8").splitlines()[1])
    assert protocol["sets"] == [{"id": "egfr_tki", "values": ["gefitinib", "erlotinib", "afatinib",
                                                              "osimertinib"],
                                 "rule": f"{tmp_path / 'drug-classes.proto-rules'}:2"}]
    assert cli.main(["explain", str(trail)]) == 0
    said = capsys.readouterr().out
    assert f"  with module {tmp_path / 'drug-classes.proto-rules'} (sha256 " in said
    # an auditor reads what `includes any of egfr_tki` compares with, and where it is written
    assert "set egfr_tki = {gefitinib, erlotinib, afatinib, osimertinib}  (" in said
    written(tmp_path, classes=CLASSES.replace("erlotinib, ", ""))  # the module amended
    assert cli.main(["replay", str(trail), "--protocol", str(path), "--facts", str(facts)]) == 1
    assert "E1 MET -> NOT_MET" in capsys.readouterr().out


def test_a_module_of_sets_checks_clean_and_a_protocol_without_them_records_no_module(tmp_path):
    module = tmp_path / "drug-classes.proto-rules"
    module.write_text(CLASSES, encoding="utf-8")
    said = [d.code for d in check(parse(CLASSES, str(module)))]
    assert "unused-set" not in said and "no-criteria" not in said
    # sets of its own (or a module of escalation rules alone, as the seed's): no module to name
    assert _modules(parse(PROTOCOL, "sets.proto-rules")) == {}
    assert _modules(parse_file("examples/cd19-ucart-sle.proto-rules")) == {}


@pytest.mark.parametrize("trial, classes, message", [
    (TRIAL.replace("any of egfr_tki", "any of egfr_tk"), CLASSES,
     "lung.proto-rules:5:62: error: unknown value set 'egfr_tk'; did you mean 'egfr_tki'?"),
    (TRIAL + "set egfr_tki: {gefitinib}\n", CLASSES,
     "lung.proto-rules:6:1: error: the set 'egfr_tki' is declared twice (first in "),
    (TRIAL, CLASSES + 'inclusion I9 "x": age >= 18 years\n',
     "drug-classes.proto-rules:4:1: error: an imported module may only declare escalation rules "
     "and value sets"),
])
def test_what_is_said_of_imported_sets(tmp_path, trial, classes, message):
    path = written(tmp_path, trial, classes)
    with pytest.raises(ProtocolError) as error:
        parse(path.read_text(encoding="utf-8"), str(path))
    assert message in str(error.value)


def test_two_modules_declaring_one_set(tmp_path):
    path = written(tmp_path, TRIAL.replace('import "drug-classes"',
                                           'import "drug-classes"\nimport "more-classes"'))
    (tmp_path / "more-classes.proto-rules").write_text("set egfr_tki: {osimertinib}\n",
                                                        encoding="utf-8")
    with pytest.raises(ProtocolError) as error:
        parse(path.read_text(encoding="utf-8"), str(path))
    assert f"more-classes.proto-rules:1:1: error: the set 'egfr_tki' is declared by " \
           f"{tmp_path / 'drug-classes.proto-rules'}:2 too" in str(error.value)


def test_sets_a_module_imports_reach_the_file_and_the_editor_shows_them(tmp_path):
    """A module's sets are passed on through the modules importing it; one module reached by two
    imports is one declaration, not a clash. The editor's hover, completion and go-to know
    them."""
    (tmp_path / "base-classes.proto-rules").write_text("set platinum: {cisplatin, carboplatin}\n",
                                                       encoding="utf-8")
    written(tmp_path, TRIAL.replace('import "drug-classes"', 'import "drug-classes"\n'
                                    'import "base-classes"').replace(
        "includes any of egfr_tki", "includes any of platinum"),
        'import "base-classes"\n' + CLASSES.replace("set platinum: {cisplatin, carboplatin}\n",
                                                    ""))
    path = tmp_path / "lung.proto-rules"
    protocol = parse(path.read_text(encoding="utf-8"), str(path))
    assert protocol.named_values("platinum").values[1].name == "carboplatin"
    assert sorted(s.name for s in protocol.imported_sets) == ["egfr_tki", "platinum"]
    text = path.read_text(encoding="utf-8")
    analysis = features.analyse(text, str(path))
    line = text.splitlines().index(next(x for x in text.splitlines() if "any of platinum" in x))
    column = text.splitlines()[line].index("platinum") + 1
    hover = features.hover(analysis, line, column)
    assert hover.contents.value == "**platinum**: set {cisplatin, carboplatin}"
    module, where = features.definition(analysis, line, column)  # go to it, in its module
    assert (module, where.start.line, where.start.character, where.end.character) == \
        (str(tmp_path / "base-classes.proto-rules"), 0, 4, 12)
