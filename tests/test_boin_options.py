"""BOIN's options: n.earlystop, cutoff.eli, extrasafe with offset, and the boundaries as printed.

Where the reference numbers and rules come from:
- the rules are those of the R package `BOIN` (Yuan, Liu; CRAN), function documentation of
  `get.boundary` and `get.oc`: "stop the trial if (i) the number of patients treated at the lowest
  dose >= 3, and (ii) Pr(toxicity rate of the lowest dose > target | data) > cutoff.eli - offset"
  (extrasafe; offset 0.05 by default); "stop the trial and select the MTD if the number of
  patients treated at the current dose reaches n.earlystop" (n.earlystop; the package's get.oc
  stops there when the decision is to stay: inside the interval, de-escalate at the lowest dose,
  or escalate at the highest dose or below an eliminated one); the elimination cut-off
  `cutoff.eli` (0.95 by default);
- the default table for target 0.3 and cohorts of 3 up to 30 patients is the one the package's
  documentation and Liu and Yuan (JRSS C 2015) print (also in tests/test_boin.py);
- the other numbers are worked by hand here from the beta(1, 1) posterior, whose tail is a
  binomial sum: P(p > 0.3 | y of n) = P(Binomial(n + 1, 0.3) <= y). No R was run for them.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest

import cli
from engine.escalation import boin as B
from engine.escalation.cohort import state_of
from engine.escalation.network import Escalator, compile_escalation, step
from engine.escalation.simulate import chart, simulate
from grammar.parser import parse, parse_file
from protocol import escalation_checks
from protocol import escalation_model as em

BASE = """protocol "t"
version "1"
escalation "BOIN with options.":
    level DL1 1e7 cells/kg
    level DL2 3e7 cells/kg
    level DL3 6e7 cells/kg
    start at DL1
    cohort size 3
    maximum 30 patients
    dlt "DLT" within 28 days after infusion
    design boin target 0.3{options}
"""
ALL = " n.earlystop 12 cutoff.eli 0.95 extrasafe offset 0.05"


def tail(y: int, n: int, target: float = 0.3) -> float:
    """P(p > target | y DLTs of n), beta(1, 1) prior, as a float binomial sum (independent of
    engine/escalation/boin.py's exact fractions)."""
    return sum(math.comb(n + 1, k) * target**k * (1 - target) ** (n + 1 - k) for k in range(y + 1))


def escalator(tmp_path: Path, options: str) -> Escalator:
    path = tmp_path / "boin.proto-rules"
    path.write_text(BASE.format(options=options))
    return Escalator(compile_escalation(parse_file(path)))


def test_worked_posteriors():
    assert tail(2, 3) == pytest.approx(0.9163)  # 0.2401 + 0.4116 + 0.2646
    assert tail(1, 3) == pytest.approx(0.6517)
    assert tail(3, 6) == pytest.approx(0.8740, abs=1e-4)
    assert tail(4, 6) == pytest.approx(0.9712, abs=1e-4)


def test_extrasafe_stopping_boundary():
    """cutoff.eli 0.95 - offset 0.05 = 0.9: 2 of 3 (0.9163 > 0.9, 1 of 3 only 0.6517), 4 of 6
    (3 of 6 is 0.8740): the first count whose posterior tail passes 0.9, n = 3..30."""
    bounds = B.boundaries(em.Boin(None, Decimal("0.3"), extrasafe=True), 30)
    assert bounds.stop_cutoff == Decimal("0.9") and str(bounds.stop_cutoff) == "0.9"
    assert bounds.stop is not None and bounds.stop[:2] == (None, None)
    assert (bounds.stop[2], bounds.stop[5]) == (2, 4)
    for n in range(3, 31):
        first = next(y for y in range(1, n + 1) if tail(y, n) > 0.9)
        assert bounds.stop[n - 1] == first, n
    offset = B.boundaries(em.Boin(None, Decimal("0.3"), extrasafe=True, offset=Decimal("0.2")), 3)
    assert offset.stop_cutoff == Decimal("0.75") and offset.stop[2] == 2  # 0.6517 < 0.75


def test_cutoff_eli():
    """cutoff.eli 0.9 eliminates at 2 of 3 and 4 of 6, as the extrasafe numbers above; 0.99 at
    3 of 3 (tail 0.9919) but 5 of 6 (4 of 6 is 0.9712)."""
    loose = B.boundaries(em.Boin(None, Decimal("0.3"), cutoff_eli=Decimal("0.9")), 6)
    assert (loose.eliminate[2], loose.eliminate[5]) == (2, 4)
    assert (loose.deescalate[2], loose.deescalate[5]) == (2, 3)  # never above the elimination
    strict = B.boundaries(em.Boin(None, Decimal("0.3"), cutoff_eli=Decimal("0.99")), 6)
    assert tail(3, 3) == pytest.approx(0.9919) and tail(5, 6) > 0.99 > tail(4, 6)
    assert (strict.eliminate[2], strict.eliminate[5]) == (3, 5)


def decide(esc: Escalator, counts: list[tuple[int, int]], current: int) -> str:
    e = esc.network.escalation
    answer = esc.ask(state_of([(n, n, y, 0) for n, y in counts], current, e), counts)
    taken = step(esc.network, answer, current, counts)
    return f"{answer.value}->{taken.mtd}" if taken.move == "STOP" else answer.value


def test_the_network_applies_every_option(tmp_path):
    esc = escalator(tmp_path, ALL)
    assert decide(esc, [(3, 2), (0, 0), (0, 0)], 0) == "STOP:none->None"  # extrasafe
    assert decide(esc, [(3, 1), (0, 0), (0, 0)], 0) == "STAY"
    assert decide(esc, [(3, 0), (3, 2), (0, 0)], 1) == "DE-ESCALATE"  # not the lowest
    assert decide(esc, [(3, 0), (12, 3), (0, 0)], 1) == "STOP:select->1"  # n.earlystop, stay
    assert decide(esc, [(3, 0), (12, 2), (0, 0)], 1) == "ESCALATE"  # not a stay: go on
    assert decide(esc, [(3, 0), (9, 3), (0, 0)], 1) == "STAY"  # 9 < 12
    assert decide(esc, [(12, 6), (3, 3), (0, 0)], 0) == "STOP:none->None"  # extrasafe: 6 of 12
    assert decide(esc, [(12, 5), (3, 3), (0, 0)], 0) == "STOP:select->0"  # D at the lowest: stay
    assert decide(esc, [(3, 0), (3, 0), (12, 1)], 2) == "STOP:select->2"  # E at the top: stay


def test_mtd_selection_leaves_out_an_unsafe_lowest_level(tmp_path):
    """As the reference's select.mtd with extrasafe: 6 of 12 at the lowest level is under the
    elimination (7 of 12) but passes cutoff.eli - offset, so no level is selected."""
    esc = escalator(tmp_path, " extrasafe")
    assert tail(6, 12) > 0.9 > tail(5, 12) and tail(6, 12) < 0.95
    full = [(12, 6), (18, 5), (0, 0)]
    assert decide(esc, full, 1).startswith("STOP:select")
    assert decide(esc, full, 1).endswith("->None")
    plain = escalator(tmp_path, "")
    assert decide(plain, full, 1) in ("STOP:select->0", "STOP:select->1")


def test_defaults_change_nothing(tmp_path):
    written = escalator(tmp_path, " cutoff.eli 0.95")
    default = escalator(tmp_path, "")
    assert written.network.digest == default.network.digest


def test_simulation_stops_early(tmp_path):
    """Every trial that stops before 30 patients without a toxicity stop has a level with at
    least n.earlystop patients; with extrasafe, a toxic lowest level stops most trials."""
    esc = escalator(tmp_path, ALL)
    found = chart(esc)
    totals = found.patients.sum(axis=1)
    early = found.stopped & (totals < 30) & (found.outcome == 2)  # "select"
    assert early.any()
    assert (found.patients[early].max(axis=1) >= 12).all()
    toxic = simulate(escalator(tmp_path, " extrasafe"), [0.5, 0.6, 0.7], 2000, seed=1)
    plain = simulate(escalator(tmp_path, ""), [0.5, 0.6, 0.7], 2000, seed=1)
    assert toxic.outcomes["none"] > plain.outcomes["none"] > 0.5


def test_boundaries_printed_as_the_reference(tmp_path, capsys):
    path = tmp_path / "boin.proto-rules"
    path.write_text(BASE.format(options=ALL))
    assert cli.main(["boundaries", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "This is equivalent to the following decision boundaries\n"
        "Number of patients treated     3   6   9  12\n"
        "Escalate if # of DLT <=        0   1   2   2\n"
        "Deescalate if # of DLT >=      2   3   4   5\n"
        "Eliminate if # of DLT >=       3   4   5   7\n"
    ) in out
    assert "Eliminate if # of DLT >=      NA  NA   3   3   4   4   5   5   5   6   6   7\n" in out
    assert (
        " (2) Pr(the DLT rate of the lowest dose > 0.3 | data) > 0.9,\n"
        " which corresponds to the following stopping boundaries:\n"
        "The number of patients treated at the lowest dose   3   6   9  12\n"
        "Stop the trial if # of DLT >=                       2   4   5   6\n"
    ) in out
    assert "when 12 patients (n.earlystop) are treated at the current dose" in out
    assert "\n 12   E  E  E  M  M  D  D  X" in out


@pytest.mark.parametrize("options, code, words", [
    (" cutoff.eli 1.5", "boin-option", "cutoff.eli (1.5) is a probability between 0 and 1"),
    (" extrasafe offset 0.6", "boin-option", "offset (0.6) must lie between 0 and 0.5"),
    (" n.earlystop 0", "boin-option", "n.earlystop (0) must be at least 1"),
    (" n.earlystop 6", "boin-earlystop", "recommends 9 to 18"),
])
def test_options_out_of_range(options, code, words):
    found = list(escalation_checks.check(parse(BASE.format(options=options), "t.pr")))
    assert [(d.code, d.span.line) for d in found] == [(code, 11)] and words in found[0].message


@pytest.mark.parametrize("options, words", [
    (" n.earlystop 12.5", "expected a whole number, found 12.5"),
    (" extrasafe n.earlystop 12", "t.pr:11:"),
])
def test_options_that_do_not_parse(tmp_path, capsys, options, words):
    path = tmp_path / "t.pr"
    path.write_text(BASE.format(options=options))
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_escalate_explains_the_options_used(tmp_path, capsys):
    path = tmp_path / "boin.proto-rules"
    path.write_text(BASE.format(options=ALL))
    cohort = tmp_path / "cohort.json"
    cohort.write_text(
        '{"protocol": "t", "as_of": "2026-09-28", "patients": [\n'
        '  {"patient": "P1", "level": "DL1", "infused": "2026-05-01"},\n'
        '  {"patient": "P2", "level": "DL1", "infused": "2026-05-02",\n'
        '   "dlt": {"date": "2026-05-10", "event": "grade 3 CRS"}},\n'
        '  {"patient": "P3", "level": "DL1", "infused": "2026-05-03",\n'
        '   "dlt": {"date": "2026-05-12", "event": "grade 4 neutropenia"}}]}\n'
    )
    assert cli.main(["escalate", str(path), str(cohort)]) == 0
    out = capsys.readouterr().out
    assert "STOP: no MTD: the lowest dose level is too toxic" in out
    assert "rule BOIN.n3.extrasafe:" in out and "> 0.9 (extrasafe)" in out
    assert "; extrasafe: stop at the lowest level if >= 2; n.earlystop 12" in out
