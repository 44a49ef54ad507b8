"""`proto-rules graph`: what each criterion reads, as DOT, SVG or PNG, the same bytes every time."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_cli as run

pytestmark = pytest.mark.usefixtures("at_root")

SEED = "examples/cd19-ucart-sle.proto-rules"
EMPA = "examples/empa-reg-outcome.proto-rules"


def dot(path) -> tuple[dict[str, dict[str, str]], set[tuple[str, str]]]:
    """The nodes (with their attributes) and edges of a DOT file as pydot writes it."""
    nodes, edges = {}, set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r'("[^"]+"|\w+) -> ("[^"]+"|\w+);', line):
            edges.add(tuple(name.strip('"') for name in match.groups()))
        elif match := re.fullmatch(r'("[^"]+"|\w+) \[(.*)\];', line):
            attributes = dict(re.findall(r'(\w+)=("[^"]*"|[^,]+)', match[2]))
            nodes[match[1].strip('"')] = {k: v.strip('"') for k, v in attributes.items()}
    return nodes, edges


def test_dot_has_every_name(tmp_path, capsys):
    out = tmp_path / "seed.dot"
    assert run(capsys, "graph", SEED, "-o", str(out)) == (0, f"graph: {out}\n", "")
    nodes, edges = dot(out)
    # I2 reads the definition refractory_sle, which reads the glucocorticoid courses
    assert {("glucocorticoid", "refractory_sle"), ("refractory_sle", "I2"),
            ("egfr", "I4.renal")} <= edges
    assert nodes["I2"]["shape"] == "box" and nodes["refractory_sle"]["kind"] == "definition"
    assert nodes["age"]["tooltip"] == "examples/cd19-ucart-sle.proto-rules:12"
    assert len(nodes) == 52 + 1 + 23  # concepts, definitions, leaf criteria


def test_derived_values_are_their_own_kind(tmp_path, capsys):
    out = tmp_path / "empa.dot"
    run(capsys, "graph", EMPA, "-o", str(out))
    nodes, edges = dot(out)
    kinds = {name: node["kind"] for name, node in nodes.items()}
    assert (kinds["bmi"], kinds["egfr"], kinds["weight"]) == ("derived", "derived", "concept")
    assert {("weight", "bmi"), ("height", "bmi"), ("bmi", "I5"), ("creatinine", "egfr")} <= edges


@pytest.mark.parametrize("form, magic", [("svg", b"<?xml"), ("png", b"\x89PNG")])
def test_drawings_are_byte_identical(tmp_path, capsys, form, magic):
    drawn = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.{form}"
        assert run(capsys, "graph", EMPA, "-o", str(out))[0] == 0
        drawn.append(out.read_bytes())
    assert drawn[0].startswith(magic) and drawn[0] == drawn[1]


def test_an_unknown_format_is_a_usage_error(tmp_path, capsys):
    code, out, err = run(capsys, "graph", SEED, "-o", str(tmp_path / "seed.pdf"))
    assert (code, out) == (2, "")
    assert err == (f"proto-rules: cannot draw {tmp_path / 'seed.pdf'}: the graph is written as "
                   ".dot, .svg, .png\n")


def test_an_unwritable_output_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "graph", SEED, "-o", str(blocker / "seed.svg"))
    assert code == 2 and err.startswith(f"proto-rules: cannot write graph {blocker / 'seed.svg'}: ")
    assert err.count("\n") == 1


def test_a_malformed_protocol_is_reported_not_drawn(tmp_path, capsys):
    bad = tmp_path / "bad.proto-rules"
    bad.write_text('protocol "b"\nconcepts:\n  a: flag\ninclusion I1 "x": b\n')
    code, _, err = run(capsys, "graph", str(bad), "-o", str(tmp_path / "b.svg"))
    assert code == 2 and "unknown name 'b'" in err and not (tmp_path / "b.svg").exists()
