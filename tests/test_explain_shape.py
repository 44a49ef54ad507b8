"""How a criterion's parts join, drawn by `explain` where not all are needed: the trail's protocol
record keeps each criterion's and/or structure (`shape`) over its parts, and the explanation
heads each group with its connective and whether it holds (strong Kleene logic over its parts),
so an auditor reads why `(a and b) or c` is MET without the protocol file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.shape import SHAPE_DEPTH, shape_problem
from engine.shape import holds as kleene
from engine.audit.explain import Outlined, outline
from tests.conftest import run_cli

PROTOCOL = """protocol "s" version "1"
concepts:
    a: flag
    b: flag
    c: flag
    d: flag
inclusion I1 "A and B, or C": (a and b) or c
inclusion I2 "Two of A, B and C": at least 2 of [a, b, c]
exclusion E1 "Neither A nor B, when D" applies when d: not (a or b)
inclusion I3 "A and B": a and b
"""


def flags(**given_: bool) -> dict:
    return {"patient": "p", "screening_date": "2026-06-01",
            "facts": [{"concept": k, "value": v, "date": "2026-05-20"} for k, v in given_.items()]}


@pytest.fixture()
def trail(tmp_path: Path, capsys) -> Path:
    protocol, facts = tmp_path / "s.proto-rules", tmp_path / "p.jsonl"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    facts.write_text(json.dumps(flags(a=False, c=True, d=True)) + "\n", encoding="utf-8")
    out = tmp_path / "t.jsonl"
    assert run_cli(capsys, "run", str(protocol), str(facts), "--trail", str(out))[0] == 0
    return out


def test_the_explanation_draws_the_connectives(trail, capsys):
    code, out, _ = run_cli(capsys, "explain", str(trail))
    assert code == 0
    lines = out.splitlines()

    def under(head: str, count: int) -> list[str]:
        at = next(i for i, line in enumerate(lines) if line.startswith(head))
        return [line.split(" (line")[0] for line in lines[at + 2:at + 2 + count]]

    assert under("  I1 MET", 5) == ["      + any of:", "        - all of:", "          - a",
                                    "          ? b", "        + c"]
    assert under("  I2 UNKNOWN", 4) == ["      ? at least 2 of:", "        - a", "        ? b",
                                        "        + c"]
    assert under("  E1 UNKNOWN", 5) == ["      + applies when:", "        + d", "      ? not:",
                                        "        ? any of:", "          - a"]
    # parts all needed are listed one under another, as before
    assert under("  I3 NOT_MET", 2) == ["      - a", "      ? b"]


def test_a_trail_of_parts_all_needed_records_no_shape(trail):
    protocol = json.loads(trail.read_text(encoding="utf-8").splitlines()[1])
    shapes = {e["id"]: e.get("shape") for e in protocol["criteria"]}
    assert shapes == {"I1": ["any", ["all", 0, 1], 2], "I2": ["at least 2", 0, 1, 2],
                      "E1": ["when", 0, ["not", ["any", 1, 2]]], "I3": None}


@pytest.mark.parametrize("shape, why", [
    (["any", 0, 5], "names part 6 of 3"),
    (["any", 0, 1], "does not name each part once"),
    (["any", 0, 0, 1, 2], "does not name each part once"),
    (["or", 0, 1, 2], "has ['or', 0, 1, 2] where a part or a connective is"),
    (["when", 0, 1, 2], "where a part or a connective is"),
    (["any", True, 1, 2], "where a part or a connective is"),
    (["any"], "where a part or a connective is"),
    ("any", "the protocol record has no valid 'criteria[1].shape' (not integer or array)"),
])
def test_a_hostile_shape_is_refused_naming_the_entry(trail, capsys, shape, why):
    lines = trail.read_text(encoding="utf-8").splitlines()
    protocol = json.loads(lines[1])
    protocol["criteria"][0]["shape"] = shape
    lines[1] = json.dumps(protocol)
    trail.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "explain", str(trail))
    assert code == 2
    assert err.startswith(f"proto-rules: cannot read trail {trail}: line 2: ") and why in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_a_shape_nested_too_deep_is_refused_without_recursion():
    deep: list | int = 0
    for _ in range(5000):
        deep = ["not", deep]
    assert shape_problem(deep, 1) == f"nested deeper than {SHAPE_DEPTH}"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["all", "any", "at least 2", "not"]),
       st.lists(st.sampled_from(["true", "false", "unknown"]), min_size=1, max_size=5))
def test_a_group_holds_by_strong_kleene_logic(word, statuses):
    """Against every way the unknown parts could turn out: true or false where all agree."""
    if word == "not":
        statuses = statuses[:1]
    open_ = [i for i, s in enumerate(statuses) if s == "unknown"]
    outcomes = set()
    for bits in range(2 ** len(open_)):
        known = list(statuses)
        for k, i in enumerate(open_):
            known[i] = "true" if bits >> k & 1 else "false"
        held = known.count("true")
        outcomes.add({"all": held == len(known), "any": held >= 1, "at least 2": held >= 2,
                      "not": held == 0}[word])
    expected = "unknown" if len(outcomes) == 2 else str(outcomes.pop()).lower()
    assert kleene(word, statuses) == expected


def test_the_report_nests_the_parts_alike(trail, tmp_path, capsys):
    page = tmp_path / "r.html"
    assert run_cli(capsys, "report", str(trail), "-o", str(page))[0] == 0
    html = page.read_text(encoding="utf-8")
    group = '<li class="group {0}"><span class="mark {0}" title="{1}">{2}</span>{3}:<ul>'
    assert group.format("true", "holds", "+", "any of") + \
        group.format("false", "does not hold", "\u2212", "all of") in html  # I1
    assert group.format("unknown", "cannot be judged", "?", "at least 2 of") in html  # I2
    assert group.format("true", "holds", "+", "applies when") in html  # E1
    assert group.format("unknown", "cannot be judged", "?", "not") + \
        group.format("unknown", "cannot be judged", "?", "any of") in html


def test_explain_and_the_report_share_one_outline():
    """Both readers draw `outline`'s items: parts all needed one under another (an `all` group at
    the top, or under `applies when`, is its items), any other group headed. An `applies when`
    below the top, which a trail may say though no protocol compiles to it, lists its items in
    place."""
    statuses = ["true", "unknown", "false", "true", "unknown"]
    assert outline(["when", ["all", 0, 1], ["any", 2, ["all", 3, 4]]], statuses) == [
        Outlined("unknown", "applies when", (Outlined("true", part=0),
                                             Outlined("unknown", part=1))),
        Outlined("unknown", "any of", (Outlined("false", part=2), Outlined(
            "unknown", "all of", (Outlined("true", part=3), Outlined("unknown", part=4)))))]
    assert outline(["any", ["when", 0, 1], 2], statuses[:3]) == [Outlined("unknown", "any of", (
        Outlined("unknown", None, (Outlined("true", "applies when", (Outlined("true", part=0),)),
                                   Outlined("unknown", part=1))),
        Outlined("false", part=2)))]
