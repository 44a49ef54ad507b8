"""Operating characteristics by simulation, on the seed protocol's 3+3 and the BOIN example.

The 3+3 check is against a closed form: a trial gets past level 1 when its first cohort has no DLT,
or one DLT and then none in the 3 more: (1-p)^3 + 3p(1-p)^2 (1-p)^3. The simulated proportion must
lie within Monte Carlo error (4 standard errors) of it for p = 0.1 .. 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import cli
from engine.escalation.cohort import state_of
from engine.escalation.network import Escalator, compile_escalation
from engine.escalation.simulate import chart, report, simulate
from grammar.parser import parse_file

ROOT = Path(__file__).parents[1]
SEED = ROOT / "examples" / "cd19-ucart-sle.proto-rules"
BOIN = ROOT / "examples" / "boin.proto-rules"
TRIALS = 10000


@pytest.fixture(scope="module")
def three_plus_three() -> Escalator:
    return Escalator(compile_escalation(parse_file(SEED)))


@pytest.fixture(scope="module")
def boin() -> Escalator:
    return Escalator(compile_escalation(parse_file(BOIN)))


@pytest.mark.parametrize("p", [0.1, 0.2, 0.3, 0.4, 0.5])
def test_three_plus_three_gets_past_level_1_as_the_closed_form_says(three_plus_three, p):
    closed = (1 - p) ** 3 + 3 * p * (1 - p) ** 2 * (1 - p) ** 3
    oc = simulate(three_plus_three, [p, p, p], TRIALS, seed=1)
    error = math.sqrt(closed * (1 - closed) / TRIALS)
    assert abs(oc.reached[1] - closed) < 4 * error, (oc.reached[1], closed)


def test_three_plus_three_chart(three_plus_three):
    """Every trial path ends in a stop; no state asks for more than 18 patients."""
    found = chart(three_plus_three)
    assert found.patients.sum(axis=1).max() <= 18
    ends = found.stopped
    assert ends.any() and (found.level[~ends] >= 0).all()
    assert found.asked <= len(found.level)
    stops = set(found.outcome[ends].tolist())
    assert stops == {0, 1, 3, 4}  # this, lower, not reached, none (3 levels never fill 18 first)


def test_nothing_toxic_reaches_the_top(three_plus_three):
    oc = simulate(three_plus_three, [0.0, 0.0, 0.0], 100, seed=3)
    assert oc.outcomes["not_reached"] == 1.0 and list(oc.patients) == [3.0, 3.0, 3.0]
    assert oc.sample == 9.0 and oc.early == 1.0


def test_everything_toxic_stops_at_the_start(three_plus_three):
    oc = simulate(three_plus_three, [1.0, 1.0, 1.0], 100, seed=3)
    assert oc.outcomes["none"] == 1.0 and list(oc.patients) == [3.0, 0.0, 0.0]
    assert list(oc.dlts) == [3.0, 0.0, 0.0]


def test_the_same_seed_gives_the_same_bytes(three_plus_three, tmp_path):
    first = report(three_plus_three, simulate(three_plus_three, [0.05, 0.15, 0.35], 2000, seed=7))
    again = report(three_plus_three, simulate(three_plus_three, [0.05, 0.15, 0.35], 2000, seed=7))
    other = report(three_plus_three, simulate(three_plus_three, [0.05, 0.15, 0.35], 2000, seed=8))
    assert first == again != other


def test_boin_operating_characteristics(boin):
    oc = simulate(boin, [0.02, 0.05, 0.15, 0.3, 0.45], 4000, seed=1)
    assert oc.selected.sum() + oc.outcomes["none"] == pytest.approx(1.0)
    assert int(np.argmax(oc.selected)) == 3  # the level at the target is chosen most often
    assert oc.selected[3] > 0.45
    assert oc.sample == pytest.approx(30.0)  # BOIN runs to its sample size when doses are safe
    assert oc.patients[0] < 0.1  # the backup level below the start is rarely used


def test_boin_stops_when_the_lowest_level_is_too_toxic(boin):
    oc = simulate(boin, [0.6, 0.7, 0.8, 0.9, 0.95], 2000, seed=2)
    assert oc.outcomes["none"] > 0.9
    assert oc.early > 0.9


def test_simulate_command_writes_the_table_and_the_plot(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    png = tmp_path / "oc.png"
    argv = [
        "simulate",
        "examples/cd19-ucart-sle.proto-rules",
        "--true-tox",
        "0.05,0.15,0.35",
        "--trials",
        "10000",
        "--seed",
        "1",
        "--plot",
        str(png),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert (
        lines[0] == "The traditional 3+3 design: 3 dose levels, cohorts of 3, at most 18 patients"
    )
    assert lines[1].startswith("10000 simulated trials, seed 1; ")
    assert lines[3].split() == [
        "level",
        "dose",
        "true",
        "DLT",
        "rate",
        "selected",
        "as",
        "MTD",
        "patients",
        "DLTs",
    ]
    assert [line.split()[0] for line in lines[4:8]] == ["DL1", "DL2", "DL3", "total"]
    assert lines[-1] == f"plot: {png}"
    first = png.read_bytes()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli.main(argv) == 0 and capsys.readouterr().out == out
    assert png.read_bytes() == first  # no timestamp in the PNG: the same run, the same bytes


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--true-tox", "0.1,0.2"], "--true-tox gives 2 rates for 3 dose levels"),
    ],
)
def test_simulate_refuses(capsys, monkeypatch, argv, message):
    monkeypatch.chdir(ROOT)
    assert (
        cli.main(["simulate", "examples/cd19-ucart-sle.proto-rules", *argv, "--plot", "none"]) == 2
    )
    assert message in capsys.readouterr().err


def test_simulate_refuses_rates_that_are_not_rates(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as raised:
        cli.main(["simulate", "examples/cd19-ucart-sle.proto-rules", "--true-tox", "0.1,x,0.3"])
    assert raised.value.code == 2
    assert "not a list of rates like 0.05,0.15,0.35" in capsys.readouterr().err


def test_asking_by_the_fields_the_rules_read_changes_no_decision(tmp_path, monkeypatch):
    """The chart asks once per value of `network.reads`; asked per whole state fact instead, it
    is the same chart (a small BOIN, so the whole-fact chart stays quick)."""
    text = BOIN.read_text().replace("maximum 30 patients", "maximum 15 patients")
    path = tmp_path / "small.proto-rules"
    path.write_text(text)
    escalator = Escalator(compile_escalation(parse_file(path)))
    by_reads = chart(escalator)
    fields = tuple(state_of([(0, 0, 0, 0)], 0, escalator.network.escalation))
    monkeypatch.setattr(type(escalator.network), "reads", property(lambda self: fields))
    whole = chart(escalator)
    assert whole.asked > by_reads.asked
    for name in ("level", "size", "successor", "stopped", "mtd", "outcome", "patients", "dlts"):
        assert np.array_equal(getattr(whole, name), getattr(by_reads, name)), name
