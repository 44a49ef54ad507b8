"""Outcome strings (`escalate --outcomes`) and dose-transition pathways (`pathways`).

The notation is the R packages' (`escalation`, `BOIN`): a dose level's number, 1 the lowest
declared level, then N (no DLT) or T (a DLT) per patient; `1NNN 2NTT` is three patients at level
1 without a DLT, then three at level 2 with two. The 3+3 pathways below are the traditional rules
(Storer 1989) as the `escalation` package's `get_three_plus_three()` with `get_dose_paths()`
walks them: 0 of 3 escalate, 1 of 3 stay for 3 more, 2 or more of 3 (or of 6) at the lowest level
stop with no dose recommended. The BOIN ones follow the published boundaries for target 0.3
(escalate 0 of 3, stay 1 of 3, de-escalate 2 of 3, eliminate 3 of 3).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import cli
from engine.escalation.cohort import outcomes_cohort, parse_outcomes
from engine.escalation.network import Escalator, compile_escalation
from engine.escalation.pathways import pathways
from grammar.parser import parse_file

ROOT = Path(__file__).parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
BOIN = "examples/boin.proto-rules"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_three_plus_three_pathways(capsys):
    code, out, _ = run(capsys, "pathways", SEED, "--cohorts", "2")
    assert code == 0
    assert out == (
        "cohort    decision     next     outcomes\n"
        "now       START        DL1 (1)\n"
        "  1NNN    ESCALATE     DL2 (2)  1NNN\n"
        "    2NNN  ESCALATE     DL3 (3)  1NNN 2NNN\n"
        "    2NNT  EXPAND       DL2 (2)  1NNN 2NNT\n"
        "    2NTT  DE-ESCALATE  DL1 (1)  1NNN 2NTT\n"
        "    2TTT  DE-ESCALATE  DL1 (1)  1NNN 2TTT\n"
        "  1NNT    EXPAND       DL1 (1)  1NNT\n"
        "    1NNN  ESCALATE     DL2 (2)  1NNT 1NNN\n"
        "    1NNT  STOP         no MTD   1NNT 1NNT\n"
        "    1NTT  STOP         no MTD   1NNT 1NTT\n"
        "    1TTT  STOP         no MTD   1NNT 1TTT\n"
        "  1NTT    STOP         no MTD   1NTT\n"
        "  1TTT    STOP         no MTD   1TTT\n"
    )


def test_boin_pathways_from_given_outcomes(capsys):
    """Level 2 is DL1 (DL0 is the backup below the start)."""
    code, out, _ = run(capsys, "pathways", BOIN, "--outcomes", "2NNN", "--cohorts", "1")
    assert code == 0
    assert out.splitlines()[1:] == [
        "now     ESCALATE     DL2 (3)  2NNN",
        "  3NNN  ESCALATE     DL3 (4)  2NNN 3NNN",
        "  3NNT  STAY         DL2 (3)  2NNN 3NNT",
        "  3NTT  DE-ESCALATE  DL1 (2)  2NNN 3NTT",
        "  3TTT  ELIMINATE    DL1 (2)  2NNN 3TTT",
    ]


def test_every_path_is_what_escalate_decides(capsys):
    """Each row's outcome string, given to `escalate --outcomes`, gets the row's decision."""
    escalator = Escalator(compile_escalation(parse_file(BOIN)))
    _, nodes = pathways(escalator, [(0, 0)] * 5, 1, "", 3)
    stops = [n.outcomes for n in nodes if n.move == "STOP"]
    assert "2TTT 1TTT" in stops and "2NTT 1NTT 1NTT" in stops  # 3 of 3, 4 of 6 at the lowest
    assert len(nodes) == 4 + 16 + 64 - 2 * 4  # two paths stop after 2 cohorts: no third
    for node in nodes[::7]:
        code, out, _ = run(capsys, "escalate", BOIN, "--outcomes", node.outcomes)
        headline = out.split("\n\n")[2].splitlines()[0]
        assert code == 0 and headline.startswith(node.move), (node, out)


def test_escalate_with_outcomes(capsys):
    code, out, err = run(capsys, "escalate", SEED, "--outcomes", "1NNN 2NNT 2NNN")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "cd19-ucart-sle v1.0: dose escalation what if (--outcomes 1NNN 2NNT 2NNN)"
    assert "ESCALATE to DL3" in out and "DLT: P6 at DL2" in out
    assert "staggered" not in out  # a what-if has no dates to stagger


def test_outcomes_counted():
    e = parse_file(BOIN).escalation
    cohort = outcomes_cohort(" 2NNT  2NTN 3T ", e)
    assert [(c.treated, c.evaluable, c.dlt) for c in cohort.counts][1:3] == [(6, 6, 2), (1, 1, 1)]
    assert cohort.current == 2 and cohort.as_of is None and len(cohort.patients) == 7
    assert parse_outcomes("", 3) == []


@pytest.mark.parametrize("outcomes, words", [
    ("1NNX", "'X' at column 4"),
    ("1NNN 2", "'2' at column 6 names no patient"),
    ("NNN", "'NNN' at column 1 does not start with a dose level's number"),
    ("\uff11NNN", "at column 1 does not start with a dose level's number"),  # a full-width 1
    ("0NNN", "dose level 0 at column 1; the protocol declares 3 (1 is the lowest)"),
    ("4NNN", "dose level 4 at column 1"),
    ("1NNN 1NNN 2NNN 2NNN 3NNN 3NNN 3N", "19 patients, more than the maximum sample size (18)"),
])
def test_bad_outcomes_one_line_each(capsys, outcomes, words):
    for command in ("escalate", "pathways"):
        code, out, err = run(capsys, command, SEED, "--outcomes", outcomes)
        assert (code, out) == (2, "") and err.count("\n") == 1 and words in err, err


@pytest.mark.parametrize("argv, words", [
    (["escalate", SEED], "a cohort file or --outcomes, one of them"),
    (["escalate", SEED, "examples/cohort.json", "--outcomes", "1NNN"], "one of them"),
    (["escalate", SEED, "--outcomes", "1NNN", "--trail", "x.jsonl"], "--outcomes is a what-if"),
])
def test_escalate_arguments(capsys, argv, words):
    code, _, err = run(capsys, *argv)
    assert code == 2 and words in err and err.count("\n") == 1


@pytest.mark.parametrize("cohorts", ["0", "7", "x"])
def test_pathways_cohorts_bounded(capsys, cohorts):
    with pytest.raises(SystemExit) as stop:
        cli.main(["pathways", SEED, "--cohorts", cohorts])
    assert stop.value.code == 2


def test_the_tree_plot_is_the_same_bytes_each_time(tmp_path, capsys):
    first, second = tmp_path / "a" / "tree.png", tmp_path / "tree.png"
    for path in (first, second):
        code, _, err = run(capsys, "pathways", SEED, "--cohorts", "2", "--plot", str(path))
        assert (code, err) == (0, "")
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()


def test_a_plot_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(capsys, "pathways", SEED, "--plot", str(blocker / "tree.png"))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
