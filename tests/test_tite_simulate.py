"""TITE-BOIN simulated in time (engine/escalation/tite_simulate.py): checks that do not lean on the
code.

- Patients arriving once in ten million days: no outcome is ever pending when a cohort is
  assigned, so the design is BOIN with n counting every patient, and its operating
  characteristics are those of `engine/escalation/simulate.py`'s chart (all outcomes known, binomial
  draws, a different code path) within Monte Carlo error.
- With no DLT and slow accrual every trial runs to the maximum, each gap between patients is one
  exponential draw and the last outcome is known a window after the last infusion: the mean
  duration is (N - 1) / rate + window, less the half day lost to whole days, within MC error.
- The Weibull of the reference software (TITEgBOIN `get_oc_TITE_QuasiBOIN`, `gen.tite`): the
  share `late_onset` of the DLTs falls in the second half of the window, so the conditional
  quantile 1 - late_onset is half the window.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import cli
from engine.escalation import simulate as S
from engine.escalation import tite_simulate as TS
from engine.escalation.network import Escalator, compile_escalation
from grammar.parser import parse_file

ROOT = Path(__file__).resolve().parent.parent
TITE = "examples/tite-boin.proto-rules"
pytestmark = pytest.mark.usefixtures("at_root")


@pytest.fixture(scope="module")
def tite() -> Escalator:
    return Escalator(compile_escalation(parse_file(str(ROOT / TITE))))


def test_accrual_so_slow_that_nothing_is_pending_is_boin(tite):
    trials, tox = 4000, [0.1, 0.25, 0.45]
    boin = S.simulate(tite, tox, trials, 3)
    slow = TS.simulate(tite, tox, trials, 3, TS.accrual("0.0000001/day"))
    assert slow.timing is not None and slow.timing.pending_decisions == 0
    for a, b in zip(boin.selected, slow.selected):
        se = math.sqrt(2 * max(a * (1 - a), 1e-4) / trials)
        assert abs(a - b) < 4 * se
    for a, b in zip(boin.patients, slow.patients):
        assert abs(a - b) < 0.3  # patients per level, sd below 6 over 4000 trials


def test_fast_accrual_decides_with_outcomes_pending(tite):
    fast = TS.simulate(tite, [0.1, 0.25, 0.45], 500, 3, TS.accrual("1/day"))
    assert fast.timing is not None and fast.timing.pending_decisions > 0.5
    assert fast.timing.suspended > 0


def test_mean_duration_without_dlts(tite):
    trials, per_day = 2000, 1e-4
    oc = TS.simulate(tite, [0.0, 0.0, 0.0], trials, 5, TS.accrual("0.0001/day"))
    assert oc.timing is not None and oc.sample == 18 and oc.timing.suspended == 0
    expected = 17 / per_day + 28 - 0.5
    se = math.sqrt(17) / per_day / math.sqrt(trials)
    assert abs(oc.timing.duration - expected) < 4 * se


def test_instant_accrual_waits_a_window_per_suspension(tite):
    """Worked in the docstring of `simulate`: 28 days each at DL1, DL2, DL3's first and fifth
    cohorts, and the last outcomes: 140 days in every trial."""
    oc = TS.simulate(tite, [0.0, 0.0, 0.0], 50, 9, TS.accrual("1000/day"))
    assert oc.timing is not None and oc.timing.duration == 140 and oc.timing.duration_sd == 0


def test_duration_falls_as_accrual_rises(tite):
    found = [TS.simulate(tite, [0.05, 0.2, 0.4], 400, 2, TS.accrual(rate)).timing.duration
             for rate in ("1/month", "4/month", "1/day")]
    assert found == sorted(found, reverse=True)


@pytest.mark.parametrize("share", ["0.3", "0.5", "0.7"])
@pytest.mark.parametrize("rate", [0.05, 0.3, 0.9, 1.0])
def test_late_onset_share_of_dlts_in_the_second_half(share, rate):
    half = TS.dlt_time(1 - float(share), rate, Decimal(share), 28)
    assert half == pytest.approx(14, abs=1e-6)
    assert TS.dlt_time(0.999999, rate, Decimal(share), 28) <= 28


def test_dlts_happen_at_the_true_rate(tite):
    oc = TS.simulate(tite, [0.3, 0.3, 0.3], 2000, 4, TS.accrual("2/month"))
    rate = oc.dlts.sum() / oc.patients.sum()
    assert abs(rate - 0.3) < 0.01


def test_the_same_seed_gives_the_same_bytes(tite):
    first = S.report(tite, TS.simulate(tite, [0.05, 0.2, 0.4], 300, 11, TS.accrual("2/month")))
    again = S.report(tite, TS.simulate(tite, [0.05, 0.2, 0.4], 300, 11, TS.accrual("2/month")))
    other = S.report(tite, TS.simulate(tite, [0.05, 0.2, 0.4], 300, 12, TS.accrual("2/month")))
    assert first == again != other
    assert "mean trial duration (days):" in first


def test_the_network_is_asked_once_per_bucket(tite):
    oc = TS.simulate(tite, [0.05, 0.2, 0.4], 1000, 1, TS.accrual("2/month"))
    assert oc.asked < oc.states


def test_cuts_are_where_the_tests_change(tite):
    network = tite.network
    assert network.cuts("pending_elsewhere") == [0, 1]
    days = network.cuts("followup", 9)
    assert 22 in days  # n 9, 1 DLT, 3 pending: escalate at followup >= 22 (README)
    assert np.all(np.diff(days) > 0)


def test_simulate_command(capsys):
    argv = ["simulate", TITE, "--true-tox", "0.05,0.2,0.4", "--trials", "200", "--seed", "3",
            "--accrual", "2/month", "--late-onset", "0.7", "--plot", "none"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "(accrual 2/month, exponential gaps; DLT window 28 days, 70% of DLTs" in out
    assert cli.main(argv) == 0 and capsys.readouterr().out == out


@pytest.mark.parametrize("protocol, argv, message", [
    (TITE, [], "TITE-BOIN is simulated in time: give the accrual rate, --accrual 2/month"),
    ("examples/boin.proto-rules", ["--accrual", "2/month"],
     "--accrual and --late-onset are for TITE-BOIN designs"),
    ("examples/boin.proto-rules", ["--late-onset", "0.6"],
     "--accrual and --late-onset are for TITE-BOIN designs"),
])
def test_simulate_refuses(capsys, protocol, argv, message):
    tox = "0.05,0.2,0.4" if protocol == TITE else "0.05,0.1,0.2,0.3,0.4"
    assert cli.main(["simulate", protocol, "--true-tox", tox, *argv, "--plot", "none"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("option, value, message", [
    ("--accrual", "2 per month", "not an accrual rate like 2/month"),
    ("--accrual", "0/day", "not an accrual rate like 2/month"),
    ("--accrual", "\uff12/month", "not an accrual rate like 2/month"),  # a full-width 2
    ("--late-onset", "1", "the late-onset share lies from 0.01 to 0.99"),
    ("--late-onset", "1e-30", "the late-onset share lies from 0.01 to 0.99"),
    ("--late-onset", "nan", "the late-onset share lies from 0.01 to 0.99"),
    ("--late-onset", "x", "not a share between 0 and 1"),
])
def test_simulate_refuses_bad_options(capsys, option, value, message):
    with pytest.raises(SystemExit) as raised:
        cli.main(["simulate", TITE, "--true-tox", "0.1,0.2,0.3", option, value])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def test_several_scenarios_are_refused(capsys):
    argv = ["simulate", TITE, "--scenario", "0.1,0.2,0.3", "--scenario", "0.2,0.3,0.4",
            "--accrual", "2/month", "--plot", "none"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "TITE-BOIN is simulated in time one scenario at a time" in err


def test_the_readme_shows_the_command_output(capsys):
    """The README's TITE-BOIN simulation is this command's output, not a copy that drifted."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("$ proto-rules simulate examples/tite-boin.proto-rules ")
    command, _, shown = readme[start:readme.index("```", start)].partition("\n")
    assert cli.main(command.split()[2:]) == 0
    assert capsys.readouterr().out == shown
