"""Several syntax errors per file (grammar/recovery.py), for the editor: the first is the one
`parse` reports, the others are found construct by construct, and nothing but our errors escapes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given

from grammar.parser import _parse_one
from grammar.recovery import recover, syntax_errors
from protocol.errors import ProtocolError
from tests.test_fuzz_protocols import byte_mutation, grammar_mutation

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "examples" / "cd19-ucart-sle.proto-rules").read_text(encoding="utf-8")


def first_error(text: str):
    try:
        _parse_one(text, "t.proto-rules")
    except ProtocolError as error:
        return error.diagnostics[0]
    return None


def test_a_clean_file_has_none():
    assert syntax_errors(SEED, "t.proto-rules") == []


def test_one_error_in_each_of_three_constructs():
    broken = (SEED.replace("sledai_2k: score valid for 3 months", "sledai_2k: score valid 3 months")
              .replace("    age >= 5 years", "    age => 5 years")
              .replace("live_vaccine within 4 weeks before screening", "live_vaccine within 4 weeks"
                       " before screening or"))
    found = syntax_errors(broken, "t.proto-rules")
    assert [(d.span.line, d.span.column) for d in found] == [(20, 28), (112, 9), (182, 11)]
    assert found[0] == first_error(broken)
    assert found[2].message.startswith("unexpected 'E10'")


def test_the_whole_constructs_still_parse():
    """The concepts of a file whose criteria are broken are read, at their places."""
    broken = SEED.replace("    age >= 5 years", "    age => 5 years")
    errors, kept = recover(broken, "t.proto-rules")
    protocol = _parse_one(kept, "t.proto-rules")
    assert len(errors) == 1 and protocol.concept("age").span.line == 12
    assert "I1" not in [c.id for c in protocol.criteria] and len(protocol.criteria) == 19


def test_a_broken_only_concept_takes_its_section_with_it():
    errors, kept = recover("concepts:\n    a: flag valid 3 days\ninclusion I1: b\n", "t")
    assert [(d.span.line, d.span.column) for d in errors] == [(2, 19)]
    assert kept.split("\n")[:2] == [" " * 9, " " * 24]


@given(grammar_mutation())
def test_the_first_error_is_parses_and_nothing_else_escapes(text):
    found = syntax_errors(text, "t.proto-rules")
    expected = first_error(text)
    assert (found[0] if found else None) == expected


@given(byte_mutation())
def test_byte_mutations_give_errors_not_exceptions(text):
    found = syntax_errors(text, "t.proto-rules")
    assert (found[0] if found else None) == first_error(text)
