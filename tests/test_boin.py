"""BOIN: the published boundaries, the elimination cut-offs, the MTD selection, and the network's
decision for every number of patients and DLTs, which must agree with the boundaries.

Reference values: Liu and Yuan (JRSS C 2015) and Yuan et al. (Clin Cancer Res 2016) give
lambda_e / lambda_d = 0.197 / 0.298 for a target of 0.25 and 0.236 / 0.358 for 0.3 (to 3 decimals;
the exact values are 0.19680, 0.29839, 0.23649, 0.35852); the table for target 0.3, cohorts of 3,
30 patients is the one the reference R package's `get.boundary` prints.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import cli
from engine.escalation import boin as B
from engine.escalation.cohort import state_of
from engine.escalation.network import PATIENTS_PER_RULESET, Escalator, compile_escalation
from grammar.parser import parse, parse_file
from protocol import escalation_model as em

ROOT = Path(__file__).parents[1]
PROTOCOL = ROOT / "examples" / "boin.proto-rules"


@pytest.mark.parametrize(
    "target, lambda_e, lambda_d", [("0.25", 0.197, 0.298), ("0.3", 0.236, 0.358)]
)
def test_published_boundaries(target, lambda_e, lambda_d):
    _, _, e, d = B.intervals(Decimal(target))
    assert abs(e - lambda_e) < 1e-3 and abs(d - lambda_d) < 1e-3


def test_published_three_decimals():
    """The tables print 0.25's boundaries rounded and 0.3's cut after the third decimal."""
    _, _, e, d = B.intervals(Decimal("0.25"))
    assert (round(e, 3), round(d, 3)) == (0.197, 0.298)
    _, _, e, d = B.intervals(Decimal("0.3"))
    assert (int(e * 1000), int(d * 1000)) == (236, 358)


def test_reference_table_for_target_03():
    bounds = B.boundaries(em.Boin(None, Decimal("0.3")), 30)
    at = [n - 1 for n in range(3, 31, 3)]
    assert [bounds.escalate[i] for i in at] == [0, 1, 2, 2, 3, 4, 4, 5, 6, 7]
    assert [bounds.deescalate[i] for i in at] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert [bounds.eliminate[i] for i in at] == [3, 4, 5, 7, 8, 9, 10, 11, 12, 14]


@pytest.mark.parametrize(
    "target, cutoffs",
    [
        ("0.25", [3, 3, 3, 4, 4, 4, 5, 5, 6, 6]),
        ("0.3", [3, 3, 4, 4, 5, 5, 5, 6, 6, 7]),
    ],
)
def test_elimination_cutoffs_for_3_to_12_patients(target, cutoffs):
    assert [B.elimination_boundary(n, Decimal(target)) for n in range(3, 13)] == cutoffs
    for n, cut in zip(range(3, 13), cutoffs):  # the cut-off is the first count over 0.95
        exact = B.Fraction(Decimal(target))
        assert B.posterior_above(cut, n, exact) > B.CUTOFF >= B.posterior_above(cut - 1, n, exact)
    assert B.elimination_boundary(2, Decimal(target)) is None


def test_default_and_given_phi():
    assert B.intervals(Decimal("0.3"))[:2] == (Decimal("0.18"), Decimal("0.42"))
    phi1, phi2, e, d = B.intervals(Decimal("0.3"), Decimal("0.2"), Decimal("0.4"))
    assert (phi1, phi2) == (Decimal("0.2"), Decimal("0.4")) and 0.236 < e < 0.3 < d < 0.358


def test_isotonic_regression_pools_violators():
    assert B.pava([0.5, 0.1, 0.2, 0.8], [1, 1, 2, 1]) == pytest.approx([0.25, 0.25, 0.25, 0.8])
    assert B.pava([0.1, 0.2], [1, 1]) == [0.1, 0.2]


@pytest.mark.parametrize(
    "counts, eliminated, mtd",
    [
        ([(3, 0), (3, 0), (15, 4), (9, 4), (0, 0)], set(), 2),  # the reference's example
        ([(3, 0), (6, 1), (9, 4), (3, 3)], {3}, 1),
        ([(3, 0), (6, 3), (3, 2)], set(), 1),  # pooled above the target: the lower of the pool
        ([(6, 0), (6, 0)], set(), 1),  # equal estimates below the target: the higher
        ([(3, 3), (0, 0)], {0}, None),  # the lowest level eliminated: no MTD
        ([(0, 0), (0, 0)], set(), None),
    ],
)
def test_mtd_selection(counts, eliminated, mtd):
    assert B.select_mtd(counts, eliminated, Decimal("0.3")) == mtd


@pytest.fixture(scope="module")
def escalator() -> Escalator:
    return Escalator(compile_escalation(parse_file(PROTOCOL)))


def decision(escalator, n: int, y: int, level: int = 2, higher: tuple[int, int] = (0, 0)) -> str:
    counts = [(0, 0, 0, 0)] * 5
    counts[level] = (n, n, y, 0)
    if level < 4:
        counts[level + 1] = (higher[0], higher[0], higher[1], 0)
    state = state_of(counts, level, escalator.network.escalation)
    state["cohort_complete"] = 1  # every n decides here, not only whole cohorts
    state["full"] = 0
    return escalator.ask(state, [(c[1], c[2]) for c in counts]).value


def test_the_network_decides_as_the_boundaries_say(escalator):
    """For every n and DLT count, at a middle level: the network's decision is the boundaries'."""
    bounds = escalator.network.boundaries
    for n in range(1, 31):
        for y in range(n + 1):
            assert decision(escalator, n, y) == expected(bounds, n, y), (n, y)


def expected(bounds: B.Boundaries, n: int, y: int) -> str:
    """What the boundary table says for `y` DLTs among `n` evaluable patients, at a middle level."""
    elim = bounds.eliminate[n - 1]
    if elim is not None and y >= elim:
        return "ELIMINATE"
    if y >= bounds.deescalate[n - 1]:
        return "DE-ESCALATE"
    return "ESCALATE" if y <= bounds.escalate[n - 1] else "STAY"


@pytest.mark.parametrize("maximum, target", [(33, "0.3"), (36, "0.2"), (60, "0.3"),
                                             (200, "0.25")])
def test_large_sample_sizes_build_and_decide_as_the_table(maximum, target):
    """From 33 patients (36 for a target of 0.2) one ruleset held more rules on the end marker
    than durable_rules links to one node (error 108): the network is split by patients treated."""
    text = PROTOCOL.read_text().replace("maximum 30 patients", f"maximum {maximum} patients")
    text = text.replace("design boin target 0.3", f"design boin target {target}")
    escalator = Escalator(compile_escalation(parse(text, str(PROTOCOL))))
    bounds = escalator.network.boundaries
    assert len(escalator.hosts) == 1 + (maximum - 1) // PATIENTS_PER_RULESET
    for n in range(1, maximum + 1):
        edges = {bounds.escalate[n - 1], bounds.deescalate[n - 1], bounds.eliminate[n - 1] or 0}
        for y in sorted({y + d for y in edges for d in (-1, 0, 1)} & set(range(n + 1))):
            assert decision(escalator, n, y) == expected(bounds, n, y), (n, y)
    assert decision(escalator, maximum, 0, level=4) == "STAY"
    assert decision(escalator, maximum, 0, higher=(maximum, maximum)) == "STAY"
    eliminated = escalator.ask(state_of([(0, 0, 0, 0)], 0, escalator.network.escalation),
                               [(3, 0), (maximum, maximum), (maximum, 0), (3, 0), (3, 0)])
    assert eliminated.eliminated == frozenset({1})


def test_at_the_edges(escalator):
    assert decision(escalator, 3, 2, level=0) == "STAY"  # cannot de-escalate below the lowest
    assert decision(escalator, 3, 3, level=0) == "STOP:none"  # the lowest eliminated: stop
    assert decision(escalator, 3, 0, level=4) == "STAY"  # cannot escalate above the highest
    assert decision(escalator, 3, 0, higher=(3, 3)) == "STAY"  # the next level is eliminated
    assert decision(escalator, 3, 0, higher=(3, 2)) == "ESCALATE"  # ... this one is not


def test_elimination_flags_come_from_the_network(escalator):
    answer = escalator.ask(
        state_of([(0, 0, 0, 0)], 0, escalator.network.escalation),
        [(3, 3), (3, 2), (6, 4), (6, 3), (12, 7)],
    )
    assert answer.eliminated == frozenset({0, 2, 4})


def test_boundaries_command(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["boundaries", str(PROTOCOL.relative_to(ROOT))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        "BOIN, target DLT rate 0.3 (phi1 0.18, phi2 0.42); cohorts of 3, at most 30 patients",
        "",
        "Escalate dose if the observed DLT rate at the current dose <= 0.2365",
        "Deescalate dose if the observed DLT rate at the current dose >= 0.3585",
    ]
    assert out[5:10] == [
        "This is equivalent to the following decision boundaries",
        "Number of patients treated     3   6   9  12  15  18  21  24  27  30",
        "Escalate if # of DLT <=        0   1   2   2   3   4   4   5   6   7",
        "Deescalate if # of DLT >=      2   3   4   5   6   7   8   9  10  11",
        "Eliminate if # of DLT >=       3   4   5   7   8   9  10  11  12  14",
    ]
    assert "Default stopping rule: stop the trial if the lowest dose is eliminated." in out
    start = out.index("E escalate, S stay, D de-escalate, X eliminate and de-escalate") + 2
    grid = {int(line.split()[0]): line.split()[1:] for line in out[start:]}
    assert grid[3] == ["E", "S", "D", "X"]
    assert grid[12] == ["E", "E", "E", "S", "S", "D", "D"] + ["X"] * 6
    assert len(grid) == 30


def test_boundaries_of_a_design_without_them(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["boundaries", "examples/cd19-ucart-sle.proto-rules"]) == 2
    assert "is written as rules, with no boundaries" in capsys.readouterr().err
