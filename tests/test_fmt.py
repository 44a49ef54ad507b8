"""`proto-rules fmt`: the canonical layout, idempotent, comments kept, the parsed model unchanged.

Every model comparison parses the text before and after formatting and compares the two models
field by field, leaving out only where things are (spans) and the text itself.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from pathlib import Path

import pytest
from hypothesis import given

from grammar.layout import format_text, lexemes
from grammar.parser import _parse_one
from protocol.errors import ProtocolError, Span
from tests.conftest import run_cli as run
from tests.test_fuzz_protocols import byte_mutation, grammar_mutation

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = sorted([*ROOT.glob("examples/*.proto-rules"), *ROOT.glob("examples/bad/*.proto-rules"),
                    *ROOT.glob("protocol/designs/*.proto-rules")])
PARSING = [p for p in PROTOCOLS if p.name != "syntax-error.proto-rules"]
DATA = ROOT / "tests" / "data" / "fmt"


def shape(node):
    """A model without its positions and text: what formatting must not change."""
    if isinstance(node, Span):
        return None
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, tuple(
            (f.name, shape(getattr(node, f.name))) for f in dataclasses.fields(node)
            if f.name not in ("span", "path", "source", "modules")))
    if isinstance(node, (tuple, list)):
        return tuple(shape(item) for item in node)
    if isinstance(node, Enum):
        return node.value
    return node


def assert_formats_faithfully(text: str) -> str:
    """fmt(text) parses to the same model as text, and is its own format."""
    formatted = format_text(text, "t.proto-rules")
    assert shape(_parse_one(formatted, "t.proto-rules")) == shape(_parse_one(text, "t.proto-rules"))
    assert format_text(formatted, "t.proto-rules") == formatted
    return formatted


@pytest.mark.parametrize("path", PARSING, ids=lambda p: p.name)
def test_examples_are_in_the_canonical_layout(path):
    """The examples are written by hand in the layout fmt writes: fmt leaves them as they are."""
    text = path.read_text(encoding="utf-8")
    assert assert_formats_faithfully(text) == text


def test_a_messy_file_is_laid_out():
    formatted = assert_formats_faithfully((DATA / "messy.proto-rules").read_text(encoding="utf-8"))
    assert formatted == (DATA / "messy.formatted.proto-rules").read_text(encoding="utf-8")


@pytest.mark.parametrize("source, expected", [
    ('protocol   "t"   # why\n', 'protocol "t"  # why\n'),
    ("concepts :\nage : age\n", "concepts:\n    age: age\n"),
    ("concepts:\n  s: category{ f ,m }\n", "concepts:\n    s: category {f, m}\n"),
    ("concepts:\n  s: category {a,\n     b\n  }\n",
     "concepts:\n    s: category {a,\n        b\n    }\n"),
    ("concepts:\n a: flag\n\n\n\n b: flag\n\n\n", "concepts:\n    a: flag\n\n    b: flag\n"),
    ("concepts:\n# the weight\n a: flag\n", "concepts:\n    # the weight\n    a: flag\n"),
    ('inclusion I1 "A" :\nadult\nor child', 'inclusion I1 "A":\n    adult\n    or child\n'),
    ('inclusion I1 "A"\n"B" applies when a:\nb',
     'inclusion I1 "A"\n    "B" applies when a:\n    b\n'),
    ("inclusion I1:\npart a: x\npart b:\ny",
     "inclusion I1:\n    part a: x\n    part b:\n        y\n"),
    ("concepts:\n e: derived in mL = - 2 x min( a , 1 )^ -1 - ( 3 ) ^ ( b in kg )\n",
     "concepts:\n    e: derived in mL = -2 x min(a, 1)^-1 - (3)^(b in kg)\n"),
    ("\ufeffversion  \"1\"\r\n", "\ufeffversion \"1\"\n"),
    ("# only a comment\n\n\n   # and another", "# only a comment\n\n# and another\n"),
    ("", ""),
    ('version "1"\n   # at the end\n', 'version "1"\n# at the end\n'),
])
def test_layout_rules(source, expected):
    assert assert_formats_faithfully(source) == expected


@given(grammar_mutation() | byte_mutation())
def test_mutated_examples_format_faithfully(text):
    """Examples with tokens and lines replaced, or bytes inserted, deleted or flipped
    (tests/test_fuzz_protocols.py): each one that parses formats to the same model, and
    formatting it again changes nothing."""
    try:
        _parse_one(text, "t.proto-rules")
    except ProtocolError:
        return
    assert_formats_faithfully(text)


def test_lexemes_carry_positions():
    first, *_, last = lexemes('concepts:\n    age: age\ninclusion I1: age >= 18 years')
    assert (first.kind, first.line, first.column) == ("CONCEPTS", 1, 1)
    assert (last.kind, last.text, last.line, last.column, last.end_column) == \
        ("UNIT", "years", 3, 25, 30)


def test_check_names_the_files_that_would_change(tmp_path, capsys):
    messy = tmp_path / "messy.proto-rules"
    messy.write_bytes((DATA / "messy.proto-rules").read_bytes())
    seed = str(ROOT / "examples" / "cd19-ucart-sle.proto-rules")
    assert run(capsys, "fmt", "--check", seed, str(messy)) == \
        (1, "", f"{messy}: would be reformatted\n")
    assert messy.read_bytes() == (DATA / "messy.proto-rules").read_bytes()
    assert run(capsys, "fmt", "--check", seed) == (0, "", "")


def test_fmt_rewrites_in_place(tmp_path, capsys):
    messy = tmp_path / "messy.proto-rules"
    messy.write_bytes((DATA / "messy.proto-rules").read_bytes())
    assert run(capsys, "fmt", str(messy)) == (0, "", f"{messy}: reformatted\n")
    assert messy.read_bytes() == (DATA / "messy.formatted.proto-rules").read_bytes()
    assert run(capsys, "fmt", str(messy)) == (0, "", "")


def test_fmt_reads_stdin(capsys, monkeypatch):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("inclusion I1:a"))
    assert run(capsys, "fmt", "-") == (0, "inclusion I1: a\n", "")


def test_a_file_that_does_not_parse_is_exit_2_and_the_others_are_done(tmp_path, capsys):
    broken = ROOT / "examples" / "bad" / "syntax-error.proto-rules"
    messy = tmp_path / "messy.proto-rules"
    messy.write_bytes((DATA / "messy.proto-rules").read_bytes())
    code, out, err = run(capsys, "fmt", "--check", str(broken), str(messy))
    assert code == 2 and out == ""
    assert err.splitlines()[0].startswith(f"{broken}:8:33: error: the file ends too early")
    assert err.splitlines()[-1] == f"{messy}: would be reformatted"


def test_an_unreadable_file_is_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.proto-rules"
    assert run(capsys, "fmt", str(missing)) == \
        (2, "", f"{missing}: error: cannot read the protocol file: No such file or directory\n")
