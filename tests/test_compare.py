"""The risk of overdosing in `simulate`, several scenarios in one run, and `compare-designs`.

Reference numbers. BOIN's operating characteristics are checked against an exact enumeration
written here from the package's R source (BOIN 2.7, github.com/cran/BOIN, `R/get.oc.R` and
`R/select.mtd.R`; CRAN is not reachable from this machine, so R was not run): every sequence of
cohort outcomes of a small trial (6 cohorts of 3, so 4^6 paths), each with its binomial
probability, decided by get.oc's loop (elimination, escalation, de-escalation boundaries) and
ended by select.mtd's isotonic selection. Its overdosing measures are get.oc's: with a level whose
true rate equals the target, the patients at levels whose true rate is above it, and
`overdose60` = P(more than 0.6 x the maximum sample size of them). The boundaries are the
published ones for target 0.3 (Liu and Yuan 2015, Table 1: lambda_e 0.236, lambda_d 0.359;
elimination when P(p > 0.3 | y, n) > 0.95 under beta(1, 1), n >= 3). The simulation must lie
within 4 Monte Carlo standard errors of the exact numbers.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from pathlib import Path

import pytest

import cli
from engine.escalation.network import Escalator, compile_escalation
from engine.escalation.simulate import simulate, true_mtd
from grammar.parser import parse_file

ROOT = Path(__file__).parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
DESIGNS = ["examples/designs/seed-boin.proto-rules", "examples/designs/seed-i3plus3.proto-rules",
           "examples/designs/seed-mtpi2.proto-rules"]
TRUE = (0.1, 0.3, 0.45, 0.6)  # the second level at the target: get.oc reports overdosing
COHORTS, SIZE = 6, 3


def small_boin(tmp_path: Path) -> Escalator:
    levels = "\n".join(f"    level DL{i} {i}x10^7 cells/kg" for i in range(1, 5))
    path = tmp_path / "boin.proto-rules"
    path.write_text(f"""protocol "t" version "1"
escalation "Dose finding.":
{levels}
    start at DL1
    cohort size {SIZE}
    maximum {COHORTS * SIZE} patients
    dlt within 28 days after infusion
    design boin target 0.3
""")
    return Escalator(compile_escalation(parse_file(path)))


def _posterior_above(y: int, n: int, t: float = 0.3) -> float:
    """P(p > t | y of n) under beta(1, 1): P(Binomial(n + 1, t) <= y)."""
    return sum(math.comb(n + 1, k) * t**k * (1 - t) ** (n + 1 - k) for k in range(y + 1))


def _eliminate(n: int) -> int | None:
    return next((y for y in range(n + 1) if _posterior_above(y, n) > 0.95), None) if n >= 3 \
        else None


def _pava(x: list[float], w: list[float]) -> list[float]:
    """R's pava of select.mtd, as written there: pool the first violating pair's level sets."""
    x, sets = list(x), list(range(len(x)))
    while True:
        viol = [i for i in range(len(x) - 1) if x[i + 1] - x[i] < 0]
        if not viol:
            return x
        a, b = sets[viol[0]], sets[viol[0] + 1]
        members = [j for j in range(len(x)) if sets[j] in (a, b)]
        pooled = sum(x[j] * w[j] for j in members) / sum(w[j] for j in members)
        for j in members:
            x[j], sets[j] = pooled, a


def _select(n: list[int], y: list[int]) -> int | None:
    """select.mtd's MTD (0-based), None for its 99."""
    out = len(n)
    for i in range(len(n)):
        if n[i] >= 3 and _posterior_above(y[i], n[i]) > 0.95:
            out = i
            break
    if out == 0 or sum(n[:out]) == 0:
        return None
    adm = [i for i in range(out) if n[i] > 0]
    phat = [(y[i] + 0.05) / (n[i] + 0.1) for i in adm]
    var = [(y[i] + 0.05) * (n[i] - y[i] + 0.05) / ((n[i] + 0.1) ** 2 * (n[i] + 1.1)) for i in adm]
    phat = [p + (k + 1) * 1e-10 for k, p in enumerate(_pava(phat, [1 / v for v in var]))]
    distance = [abs(p - 0.3) for p in phat]
    return adm[distance.index(min(distance))]


def exact_get_oc(p: tuple[float, ...]) -> dict[str, float]:
    """get.oc's measures, exactly, over every sequence of cohort outcomes."""
    lam_e, lam_d = 0.236, 0.359
    b_e = {n: math.floor(lam_e * n) for n in range(1, 19)}
    b_elim = {n: _eliminate(n) for n in range(1, 19)}
    b_d = {n: min(math.ceil(lam_d * n), b_elim[n] or 99) for n in range(1, 19)}
    levels, mtd = len(p), p.index(0.3)
    found = {"correct": 0.0, "above": 0.0, "patients": 0.0, "above_patients": 0.0,
             "overdose60": 0.0, "stop": 0.0}
    for outcomes in itertools.product(range(SIZE + 1), repeat=COHORTS):
        n, y, d, elimi, prob, stopped = [0] * levels, [0] * levels, 0, [0] * levels, 1.0, False
        for cohort, k in enumerate(outcomes):
            prob *= math.comb(SIZE, k) * p[d] ** k * (1 - p[d]) ** (SIZE - k)
            n[d], y[d] = n[d] + SIZE, y[d] + k
            if cohort == COHORTS - 1:
                break  # the last cohort fills the sample: no decision after it
            if b_elim[n[d]] is not None and y[d] >= b_elim[n[d]]:
                elimi[d:] = [1] * (levels - d)
                if d == 0:
                    stopped = True
                    break
            if y[d] <= b_e[n[d]] and d != levels - 1:
                d += 0 if elimi[d + 1] else 1
            elif y[d] >= b_d[n[d]] and d != 0:
                d -= 1
        if stopped:
            # outcomes after the stop were never drawn: count each stopped path once
            if any(outcomes[cohort] for cohort in range(sum(n) // SIZE, COHORTS)):
                continue
            found["stop"] += prob
            selected = None
        else:
            selected = _select(n, y)
        above = sum(n[mtd + 1:])
        found["correct"] += prob * (selected == mtd)
        found["above"] += prob * (selected is not None and selected > mtd)
        found["patients"] += prob * sum(n)
        found["above_patients"] += prob * above
        found["overdose60"] += prob * (above > 0.6 * COHORTS * SIZE)
    return found


def test_the_risk_of_overdosing_is_get_oc_s(tmp_path):
    exact = exact_get_oc(TRUE)
    total = exact["patients"]
    assert 0.3 < exact["correct"] < 0.9 and exact["overdose60"] > 0.001  # a case that says much
    trials = 40000
    oc = simulate(small_boin(tmp_path), list(TRUE), trials, seed=5)
    risk = oc.risk
    assert risk is not None and risk.mtd == 1 and risk.target == Decimal("0.3")
    for name, got in (("correct", risk.correct), ("above", risk.above),
                      ("overdose60", risk.overdose60), ("stop", oc.outcomes["none"])):
        want = exact[name]
        error = math.sqrt(want * (1 - want) / trials)
        assert abs(got - want) < 4 * error + 1e-12, (name, got, want)
    assert oc.sample == pytest.approx(total, abs=0.05)
    assert risk.treated_above == pytest.approx(exact["above_patients"] / total, abs=0.006)


def test_the_true_mtd_is_the_closest_level_the_lower_of_two():
    assert true_mtd([0.05, 0.15, 0.35], Decimal("0.3")) == 2
    assert true_mtd([0.05, 0.25, 0.35], Decimal("0.3")) == 1  # a tie, written as decimals
    assert true_mtd([0.4, 0.5], Decimal("0.3")) == 0


def test_no_risk_without_a_target_and_with_one_given(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["simulate", SEED, "--true-tox", "0.05,0.15,0.3", "--plot", "none"]) == 0
    assert "true MTD" not in capsys.readouterr().out  # 3+3 has no target
    argv = ["simulate", SEED, "--true-tox", "0.05,0.15,0.3", "--target", "0.3", "--plot", "none"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "true MTD: DL3, true DLT rate 0.30, the closest to the target 0.3" in out
    assert "more than 60% of 18 patients above it:" in out


def test_several_scenarios_one_table_and_one_plot(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    scenarios = tmp_path / "scenarios.txt"
    scenarios.write_text("# true DLT rates, lowest level first\nlate=0.02,0.05,0.1\n\n")
    png = tmp_path / "oc.png"
    argv = ["simulate", DESIGNS[0], "--scenario", "0.05,0.15,0.3", "--scenario",
            "high=0.3,0.45,0.6", "--scenarios", str(scenarios), "--trials", "2000",
            "--plot", str(png)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("2000 simulated trials per scenario and design, seed 1; the true "
                               "MTD is the level whose true DLT rate is closest to the target 0.3")
    assert [line.split()[0] for line in lines[3:6]] == ["S1", "high", "late"]
    assert [line.split()[-1] for line in lines[3:6]] == ["3", "1", "3"]
    rows = [line.split() for line in lines if line.split()[:2] in (["S1", "boin"],
                                                                   ["high", "boin"])]
    assert len(rows) == 2 and all(len(row) == 12 for row in rows)
    first = png.read_bytes()
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and lines[-1] == f"plot: {png}"
    assert cli.main(argv) == 0 and capsys.readouterr().out == out
    assert png.read_bytes() == first  # the same seed, the same bytes


def test_compare_designs(capsys, monkeypatch, tmp_path):
    """With cohorts of 3 and 18 patients BOIN, i3+3 and mTPI-2 decide alike at n = 3, 6, ..., 18
    (their tables agree there), so with the same seed their numbers are the same; the seed's 3+3
    has no target, the others' 0.3 is used."""
    monkeypatch.chdir(ROOT)
    png = tmp_path / "compare.png"
    argv = ["compare-designs", SEED, *DESIGNS, "--scenario", "0.15,0.3,0.45", "--trials", "3000",
            "--seed", "4", "--plot", str(png)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("designs:\n  three_plus_three: The traditional 3+3 design")
    rows = {line.split()[1]: line.split()[2:] for line in out.splitlines()
            if line.startswith("S1 ") and not line.split()[1][0].isdigit()}
    assert set(rows) == {"three_plus_three", "boin", "i3plus3", "mtpi2"}
    assert rows["i3plus3"] == rows["mtpi2"] == rows["boin"][1:]  # "boin 0.3" is two words
    assert rows["three_plus_three"] != rows["i3plus3"]
    first = png.read_bytes()
    assert cli.main(argv) == 0 and capsys.readouterr().out == out and png.read_bytes() == first


@pytest.mark.parametrize("argv, message", [
    (["simulate", SEED, "--scenario", "0.1,0.2,0.3", "--scenario", "0.2,0.3,0.4"],
     "no design here has a target DLT rate (3+3 has none): give --target"),
    (["simulate", SEED], "give the true DLT rates: --true-tox RATES"),
    (["simulate", SEED, "--scenario", "a=0.1,0.2", "--scenario", "0.2,0.3,0.4", "--target", "0.3"],
     "--scenario: scenario a gives 2 rates for the 3 dose levels of three_plus_three"),
    (["simulate", SEED, "--scenario", "0.1,0.2"], "--scenario gives 2 rates for 3 dose levels"),
    (["compare-designs", DESIGNS[0], "examples/boin.proto-rules", "--true-tox", "0.1,0.2,0.3"],
     "--true-tox: scenario S1 gives 3 rates for the 5 dose levels of boin 0.3 (boin)"),
    (["simulate", SEED, "--scenarios", "missing.txt"], "cannot read scenarios missing.txt"),
    (["compare-designs", DESIGNS[0], "examples/empa-reg-outcome.proto-rules", "--true-tox",
      "0.1,0.2,0.3"], "examples/empa-reg-outcome.proto-rules has no escalation section"),
])
def test_refused(capsys, monkeypatch, argv, message):
    monkeypatch.chdir(ROOT)
    assert cli.main([*argv, "--plot", "none", "--trials", "10"]) == 2
    out, err = capsys.readouterr()
    assert message in err and len(err.splitlines()) == 1 and out == "", err


def test_the_designs_targets_must_agree(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    other = tmp_path / "boin-025.proto-rules"
    other.write_text((ROOT / DESIGNS[0]).read_text().replace("target 0.3", "target 0.25"))
    argv = ["compare-designs", DESIGNS[0], str(other), "--true-tox", "0.1,0.2,0.3",
            "--plot", "none", "--trials", "10"]
    assert cli.main(argv) == 2
    assert "the designs' target DLT rates differ (0.25, 0.3): give --target" in \
        capsys.readouterr().err
    assert cli.main([*argv, "--target", "0.25"]) == 0


def test_a_scenarios_file_line_that_does_not_read(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    scenarios = tmp_path / "s.txt"
    scenarios.write_text("0.1,0.2,0.3\n\nbad=0.1,x,0.3\n")
    assert cli.main(["simulate", DESIGNS[0], "--scenarios", str(scenarios), "--plot", "none"]) == 2
    assert capsys.readouterr().err == (f"proto-rules: {scenarios}:3: not a list of DLT rates "
                                       "from 0 to 1 like 0.05,0.15,0.35: '0.1,x,0.3'\n")
    scenarios.write_bytes(b"0.1,0.2,0.3 \xff\n")
    assert cli.main(["simulate", DESIGNS[0], "--scenarios", str(scenarios), "--plot", "none"]) == 2
    assert capsys.readouterr().err == f"proto-rules: cannot read scenarios {scenarios}: not " \
        "UTF-8 text\n"
    scenarios.write_text("# nothing\n")
    assert cli.main(["simulate", DESIGNS[0], "--scenarios", str(scenarios), "--plot", "none"]) == 2
    assert "no scenario in the file" in capsys.readouterr().err


@pytest.mark.parametrize("option, value", [("--scenario", "a=0.1,1.5,0.3"), ("--target", "1"),
                                           ("--target", "x"), ("--true-tox", "0.1,,0.3")])
def test_options_that_do_not_read(capsys, monkeypatch, option, value):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as raised:
        cli.main(["simulate", DESIGNS[0], option, value])
    assert raised.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_the_readme_shows_what_compare_designs_prints(capsys, monkeypatch):
    """The README's comparison is this command's output, not a copy that drifted."""
    monkeypatch.chdir(ROOT)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("$ proto-rules compare-designs ")
    block = readme[start:readme.index("```", start)]
    command, _, shown = block.partition("--plot docs/comparison.png\n")
    argv = command.replace("\\\n", " ").split()[2:] + ["--plot", "none"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert shown == out + "plot: docs/comparison.png\n"
