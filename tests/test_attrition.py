"""`proto-rules attrition`: per criterion in protocol order, the patients it turns away, those it
alone turns away, those still in after it, and those it leaves open, read from a real trail and
checked against the decisions' own reasons (what `run` prints), a second path to the same counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [("examples/cd19-ucart-sle.proto-rules", "examples/patients.jsonl")] + [
    (f"examples/{name}.proto-rules", f"examples/{name}.patients.jsonl")
    for name in ("keynote-001-pembrolizumab", "ensign-ctl019-pediatric-all",
                 "bliss-sc-belimumab-sle", "empa-reg-outcome", "zuma-7-axicabtagene-lbcl",
                 "dapa-ckd-dapagliflozin")]


def screened(tmp_path: Path, capsys, protocol: str, facts: str) -> tuple[Path, str]:
    trail = tmp_path / "trail.jsonl"
    cli.main(["run", str(ROOT / protocol), str(ROOT / facts), "--trail", str(trail)])
    return trail, capsys.readouterr().out


def table(trail: Path, capsys) -> dict:
    assert cli.main(["attrition", str(trail), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("protocol, facts", EXAMPLES, ids=[p.split("/")[1] for p, _ in EXAMPLES])
def test_counts_agree_with_the_decisions_reasons(tmp_path, capsys, protocol, facts) -> None:
    trail, out = screened(tmp_path, capsys, protocol, facts)
    turned_away: dict[str, set[str]] = {}
    for line in out.splitlines():
        patient, _, said = line.partition(": ")
        reasons = re.findall(r"(?:inclusion (\S+) NOT_MET|exclusion (\S+) MET)", said)
        if said.startswith(("ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW")):
            turned_away[patient] = {a or b for a, b in reasons}
    found = table(trail, capsys)
    assert found["patients"] == len(turned_away)
    out_so_far: set[str] = set()
    for row in found["rows"]:
        turned = {p for p, criteria in turned_away.items() if row["criterion"] in criteria}
        out_so_far |= turned
        assert (row["fails"], row["alone"], row["remaining"]) == (
            len(turned), sum(1 for p in turned if turned_away[p] == {row["criterion"]}),
            len(turned_away) - len(out_so_far)), row
    decisions = found["decisions"]
    assert found["rows"][-1]["remaining"] == decisions.get("ELIGIBLE", 0) + decisions.get(
        "NEEDS_REVIEW", 0)


def test_the_seed_by_hand(tmp_path, capsys) -> None:
    """P03 (age 4) is turned away by I1 alone; P13's missing HIV result leaves E8 open, P09's
    and P22's pending and positive judgments E13; 8 remain (4 eligible, 4 to review)."""
    trail, _ = screened(tmp_path, capsys, *EXAMPLES[0])
    rows = {row["criterion"]: row for row in table(trail, capsys)["rows"]}
    assert (rows["I1"]["fails"], rows["I1"]["alone"], rows["I1"]["remaining"]) == (1, 1, 22)
    assert rows["E8"]["open"] == 1 and rows["E13"]["remaining"] == 8
    assert cli.main(["attrition", str(trail)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "attrition: 23 patients decided"
    assert "I1           inclusion          1      1        22     0" in text


def test_a_tampered_trail_says_so_first(tmp_path, capsys) -> None:
    trail, _ = screened(tmp_path, capsys, *EXAMPLES[0])
    lines = trail.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5] = lines[5].replace('"MET"', '"NOT_MET"', 1)
    trail.write_text("".join(lines), encoding="utf-8")
    assert cli.main(["attrition", str(trail)]) == 1
    assert capsys.readouterr().out.startswith("TAMPERED")


def test_the_plot_is_a_png_and_the_same_bytes_twice(tmp_path, capsys) -> None:
    trail, _ = screened(tmp_path, capsys, *EXAMPLES[0])
    first, second = tmp_path / "a" / "one.png", tmp_path / "two.png"
    for path in (first, second):
        assert cli.main(["attrition", str(trail), "--plot", str(path)]) == 0
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()
    (tmp_path / "folder.png").mkdir()
    assert cli.main(["attrition", str(trail), "--plot", str(tmp_path / "folder.png")]) == 2
    assert "cannot write plot" in capsys.readouterr().err


def test_a_long_criterion_id_keeps_the_columns_in_line():
    from engine.attrition import Attrition, Row, render

    table = Attrition([Row("I1", "inclusion", 1, 1, 9, 0),
                       Row("E8.coagulation", "exclusion", 2, 1, 7, 1)], 10, 0)
    header, *rows = render(table).splitlines()[1:4]
    assert [line.index("clusion") for line in rows] == [header.index("role") + 2] * 2
    assert rows[1].startswith("E8.coagulation exclusion")
