"""TITE-BOIN: decisions with DLT outcomes pending, the rule network against the published table.

Where the reference numbers come from (CRAN is not reachable here; no R was run):
- the method: Yuan, Lin, Li, Nie and Warren, "Time-to-Event Bayesian Optimal Interval Design to
  Accelerate Phase I Trials", Clin Cancer Res 2018;24(20):4921-4930 (PMC6191365): the imputed
  DLT rate p_hat = (y + p~/(1 - p~) (c - STFT)) / n with p~ = (y + target/2) / (n - c + 1),
  compared with BOIN's lambda_e and lambda_d; accrual suspended when more than half of the
  current level's outcomes are pending;
- the published decision table: Table 1 of a TITE-BOIN trial design paper in Contemporary
  Clinical Trials Communications 2022 (PMC9260438), target DLT rate 0.2, cohorts of 3, STFT
  thresholds to 2 decimals, which it cites to Yuan et al. 2018 ("Suspend accrual ... when more
  than 50% of the patients' DLT outcomes are pending at the current dose"). `PUBLISHED` below is
  that table, row for row. Its rows show two rules the formula alone does not: DLTs at BOIN's
  de-escalation boundary de-escalate (or eliminate) whatever is pending, and the imputation is
  used toward escalation only when y/n < target (row 6, 1, <=3: stay), toward de-escalation only
  when y/n > target;
- suspending instead of staying at the lowest level when de-escalation is due with outcomes
  pending: the authors' code (github.com/ruitaolin/TITE-MAD, get.oc.tite.R: `if(d==1){d=d;
  if(n.pend>0){pending=1}}`; CRAN TITEgBOIN, next_TITE_QuasiBOIN.R, the same).
The reference decision in `expected` is worked from p_hat as an exact fraction against lambda
from logarithms at 60 digits, independently of engine/escalation/tite.py's thresholds in days.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import pytest

import cli
from engine.escalation import tite as T
from engine.escalation.cohort import state_of
from engine.escalation.network import END, Escalator, compile_escalation
from grammar.parser import parse, parse_file
from protocol import escalation_model as em

EXAMPLE = "examples/tite-boin.proto-rules"
BASE = """protocol "t"
version "1"
escalation "TITE-BOIN.":
    level DL1 1e7 cells/kg
    level DL2 3e7 cells/kg
    level DL3 6e7 cells/kg
    start at DL1
    cohort size 3
    maximum {maximum} patients
    dlt "DLT" within {window} after infusion
    design boin target {target} tite
"""

#: PMC9260438, Table 1 (target 0.2, cohorts of 3): n, DLTs, pending, escalate, stay, de-escalate.
PUBLISHED = """\
3  0     0-1      yes           no            no
3  0     2-3      suspend accrual
3  1     0-2      no            no            yes
3  2-3   0-1      no            no            yes, eliminate
6  0     0-3      yes           no            no
6  0     4-6      suspend accrual
6  1     0-3      no            yes           no
6  1     4-5      suspend accrual
6  2     0-4      no            no            yes
6  3-6   0-3      no            no            yes, eliminate
9  0     0-4      yes           no            no
9  0     5-9      suspend accrual
9  1     0-2      yes           no            no
9  1     3        STFT >= 0.77  STFT < 0.77   no
9  1     4        STFT >= 2.15  STFT < 2.15   no
9  1     5-8      suspend accrual
9  2     0        no            yes           no
9  2     1        no            STFT > 0.52   STFT <= 0.52
9  2     2        no            STFT > 1.59   STFT <= 1.59
9  2     3        no            STFT > 2.66   STFT <= 2.66
9  2     4        no            STFT > 3.73   STFT <= 3.73
9  2     5-7      suspend accrual
9  3     0-6      no            no            yes
9  4-9   0-5      no            no            yes, eliminate"""


def test_the_published_table():
    printed = T.table(em.Boin(None, Decimal("0.2")), 9, 3, 28).splitlines()
    assert printed[0].split() == ["n", "DLTs", "pending", "escalate", "stay", "de-escalate"]
    assert printed[1:] == PUBLISHED.splitlines()


def test_thresholds_worked_by_hand():
    # n 9, 1 DLT, 3 pending: p~ = (1 + 0.1) / 7; escalate iff p_hat <= lambda_e, i.e.
    # STFT >= 3 - (1 - p~)/p~ (9 lambda_e - 1) = 3 - (59/11)(1.41523...) = 0.7731
    found = T.cell(em.Boin(None, Decimal("0.2")), 9, 1, 3, 28)
    assert (found.move, found.days, f"{found.stft:.4f}") == ("ESCALATE", 22, "0.7731")
    assert T.p_tilde(Decimal("0.2"), 9, 1, 3) == Fraction(11, 70)
    # 22 days of 28 is STFT 0.7857 >= 0.7731; 21 days (0.75) is not
    assert T.imputed_rate(Decimal("0.2"), 9, 1, 3, Fraction(22, 28)) <= Fraction("0.1572")
    assert T.imputed_rate(Decimal("0.2"), 9, 1, 3, Fraction(21, 28)) > Fraction("0.1573")


def lambdas(target: str) -> tuple[Fraction, Fraction]:
    """lambda_e, lambda_d (Liu and Yuan 2015) from logarithms at 60 digits, as fractions."""
    with localcontext() as ctx:
        ctx.prec = 60
        phi = Decimal(target)
        p1, p2, one = phi * Decimal("0.6"), phi * Decimal("1.4"), Decimal(1)
        e = ((one - p1) / (one - phi)).ln() / (phi * (one - p1) / (p1 * (one - phi))).ln()
        d = ((one - phi) / (one - p2)).ln() / (p2 * (one - phi) / (phi * (one - p2))).ln()
    return Fraction(e), Fraction(d)


def posterior_above(y: int, n: int, target: Fraction) -> Fraction:
    from math import comb
    return sum((comb(n + 1, k) * target**k * (1 - target) ** (n + 1 - k) for k in range(y + 1)),
               Fraction(0))


def expected(target: str, n: int, y: int, c: int, days: int, window: int, lowest: bool,
             highest: bool) -> str:
    """The decision from the paper's rules, from p_hat itself (no thresholds)."""
    phi = Fraction(target)
    lam_e, lam_d = lambdas(target)
    if n >= 3 and posterior_above(y, n, phi) > Fraction(95, 100):
        return "STOP:none" if lowest else "ELIMINATE"
    if Fraction(y, n) >= lam_d:
        if lowest:
            return "SUSPEND" if c else "STAY"
        return "DE-ESCALATE"
    if 2 * c > n:
        return "SUSPEND"
    tilde = (y + phi / 2) / (n - c + 1)
    p_hat = (y + tilde / (1 - tilde) * (c - Fraction(days, window))) / n
    if Fraction(y, n) < phi and p_hat <= lam_e:
        return "STAY" if highest else "ESCALATE"
    if Fraction(y, n) > phi and p_hat >= lam_d:
        return "SUSPEND" if lowest else "DE-ESCALATE"
    return "STAY"


@pytest.mark.parametrize("target", ["0.2", "0.3"])
def test_the_network_decides_as_the_paper(tmp_path, target):
    """Every n to 12, DLTs, pending count and day of follow-up, at the lowest, a middle and the
    highest level: the network's decision equals the one worked from p_hat."""
    window = 7  # a week's window keeps the grid of follow-up days small; the rules are the same
    path = tmp_path / "t.proto-rules"
    path.write_text(BASE.format(maximum=18, window="7 days", target=target))
    protocol = parse_file(path)
    escalator = Escalator(compile_escalation(protocol))
    assert protocol.escalation is not None
    grid = em.Escalation(protocol.escalation.span, None, protocol.escalation.levels,
                        cohort_size=1, maximum=None, dlt_window=protocol.escalation.dlt_window,
                        design=protocol.escalation.design)
    asked = 0
    for n in range(1, 13):
        for y in range(n + 1):
            for c in range(n - y + 1):
                for days in sorted({0, 1, c * window // 2, c * window - 1, c * window} if c
                                   else {0}):
                    if days > c * window or days < 0:
                        continue
                    for current in (0, 1, 2):
                        counts = [(0, 0, 0, 0)] * 3
                        counts[current] = (n, n - c, y, c)
                        state = state_of(counts, current, grid, True, days)
                        got = escalator.ask(state).value
                        want = expected(target, n, y, c, days, window, current == 0, current == 2)
                        assert got == want, (n, y, c, days, current)
                        asked += 1
    assert asked > 2000


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_worked_example(capsys, tmp_path):
    """examples/tite-cohort.json: 9 patients at DL2, 1 DLT, 3 pending followed 13, 8 and 3 days
    of 28. By hand: STFT 24/28 = 6/7; p~ = 1.1/7 = 11/70; p_hat = (1 + 11/59 (3 - 6/7)) / 9 =
    578/3717 = 0.1555 <= lambda_e 0.1572: escalate (BOIN would wait 15 days for T12's window)."""
    trail = tmp_path / "t.jsonl"
    code, out, _ = run(["escalate", EXAMPLE, "examples/tite-cohort.json", "--trail", str(trail)],
                       capsys)
    assert code == 0
    assert "ESCALATE to DL3 (6e7 cells/kg): the next cohort receives DL3" in out
    assert "follow-up at DL2: T10 13/28, T11 8/28, T12 3/28; STFT 24/28 = 0.8571" in out
    assert "imputed DLT rate 0.1555 (p~ 11/70 from the completed patients)" in out
    assert "escalate if STFT >= 0.7731 (followup >= 22 days), stay otherwise" in out
    assert "pending: T12 at DL2, window ends 2026-12-15, followed 3 days" in out
    record = next(json.loads(line) for line in trail.read_text().splitlines()
                  if '"type":"escalation"' in line)
    assert record["tite"]["imputed_dlt_rate_exact"] == "578/3717"
    assert record["tite"]["followup"][0] == {"patient": "T10", "days": 13, "fraction": "13/28"}
    assert record["state"]["followup"] == 24 and record["state"]["counted"] == 9
    pending = [p for p in record["patients"] if p["status"] == "pending"]
    assert [p["followup_days"] for p in pending] == [13, 8, 3]
    assert run(["verify", str(trail), "--facts", "examples/tite-cohort.json"], capsys)[0] == 0
    again = tmp_path / "again.jsonl"
    run(["escalate", EXAMPLE, "examples/tite-cohort.json", "--trail", str(again)], capsys)
    assert again.read_bytes() == trail.read_bytes()


def cohort_file(tmp_path: Path, as_of: str, patients: list[tuple]) -> str:
    records = []
    for pid, level, infused, *dlt in patients:
        record = {"patient": pid, "level": level, "infused": infused}
        if dlt:
            record["dlt"] = {"date": dlt[0], "event": "DLT"}
        records.append(record)
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps({"protocol": "tite-boin-example", "as_of": as_of,
                                "patients": records}, indent=1))
    return str(path)


def test_more_than_half_pending_suspends_accrual(tmp_path, capsys):
    path = cohort_file(tmp_path, "2026-09-20", [("A", "DL1", "2026-08-01"),
                                                ("B", "DL1", "2026-09-05"),
                                                ("C", "DL1", "2026-09-10")])
    code, out, _ = run(["escalate", EXAMPLE, path], capsys)
    assert code == 0
    assert "SUSPEND accrual at DL1: no patient is infused until more DLT outcomes are known " \
        "(B, C pending)" in out
    assert "rule TITE.n3.suspend:" in out


def test_one_pending_of_three_escalates(tmp_path, capsys):
    path = cohort_file(tmp_path, "2026-09-20", [("A", "DL1", "2026-08-01"),
                                                ("B", "DL1", "2026-08-10"),
                                                ("C", "DL1", "2026-09-19")])
    code, out, _ = run(["escalate", EXAMPLE, path], capsys)
    assert code == 0 and "ESCALATE to DL2" in out
    assert "follow-up at DL1: C 1/28; STFT 1/28 = 0.0357" in out


def test_too_toxic_lowest_level_with_outcomes_pending_suspends(tmp_path, capsys):
    # 1 DLT of 3 at the lowest level (target 0.2: de-escalate from 1 of 3), 1 pending: waiting
    # for it may eliminate the level, so accrual is suspended rather than kept at the level
    path = cohort_file(tmp_path, "2026-09-20", [("A", "DL1", "2026-08-01", "2026-08-05"),
                                                ("B", "DL1", "2026-08-10"),
                                                ("C", "DL1", "2026-09-12")])
    code, out, _ = run(["escalate", EXAMPLE, path], capsys)
    assert code == 0 and "SUSPEND accrual at DL1" in out
    assert "rule TITE.n3.suspend-lowest:" in out


def test_the_mtd_waits_for_every_outcome(tmp_path, capsys):
    levels = ["DL1"] * 6 + ["DL2"] * 6 + ["DL3"] * 6
    patients = [(f"P{i:02}", level, f"2026-0{1 + i // 3}-0{1 + i % 3}")
                for i, level in enumerate(levels)]
    patients[-1] = ("P17", "DL3", "2026-09-15")
    code, out, _ = run(["escalate", EXAMPLE, cohort_file(tmp_path, "2026-09-20", patients)],
                       capsys)
    assert code == 0 and "PENDING: no decision while DLT windows are open (P17)" in out


def test_boundaries_print_the_table(capsys):
    code, out, _ = run(["boundaries", EXAMPLE], capsys)
    assert code == 0
    assert "TITE-BOIN: with outcomes pending (STFT: the pending patients' days of follow-up " \
        "over the 28-day window)" in out
    assert "9  1     3        STFT >= 0.77  STFT < 0.77   no" in out


def test_pending_patient_without_infusion_date(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text('{"as_of": "2026-09-20",\n "patients": [\n  {"patient": "A", '
                    '"level": "DL1"}]}')
    code, out, err = run(["escalate", EXAMPLE, str(path)], capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"{path}:3, patient A, field 'infused': error: a date "
                                        "(YYYY-MM-DD) is required"]


@pytest.mark.parametrize("window, message", [
    ("1 month", "TITE-BOIN counts follow-up in days: the DLT window (1 month) must be in days or "
                "weeks, as in 'within 28 days after infusion'"),
])
def test_a_window_of_months_is_refused(tmp_path, capsys, window, message):
    path = tmp_path / "t.proto-rules"
    path.write_text(BASE.format(maximum=18, window=window, target="0.2"))
    code, _, err = run(["check", str(path)], capsys)
    assert code == 2
    assert f"{path}:10:" in err and message in err


def test_a_missing_window_is_refused(tmp_path, capsys):
    path = tmp_path / "t.proto-rules"
    path.write_text(BASE.format(maximum=18, window="28 days", target="0.2").replace(
        '    dlt "DLT" within 28 days after infusion\n', ""))
    code, _, err = run(["escalate", str(path), "examples/tite-cohort.json"], capsys)
    assert code == 2 and "the escalation section needs the DLT window" in err


def test_a_design_too_large_to_compile_is_refused(tmp_path, capsys):
    path = tmp_path / "t.proto-rules"
    path.write_text(BASE.format(maximum=90, window="28 days", target="0.3"))
    code, _, err = run(["escalate", str(path), "examples/tite-cohort.json"], capsys)
    assert code == 2
    assert "'maximum 78 patients' at most" in err and "Traceback" not in err


@pytest.mark.parametrize("target, n", [("0.2", 60), ("0.3", 60), ("0.4", 60)])
def test_the_network_decides_as_the_paper_at_60_patients(tmp_path, target, n):
    """The largest designs the brief asks for (60 patients, targets 0.2 to 0.4) compile, in
    rulesets of at most 200 rules, and decide as p_hat says at n patients: every number of DLTs
    and pending count, on the follow-up days either side of the rules' threshold (found by
    engine/tite.cell, judged by `expected` from p_hat), at the middle level."""
    window = 28
    path = tmp_path / "t.proto-rules"
    path.write_text(BASE.format(maximum=60, window="28 days", target=target))
    protocol = parse_file(path)
    network = compile_escalation(protocol)
    on_end = [sum(END[0] in body["all"] for ruleset in network.ruleset(part).values()
                  for body in ruleset.values()) for part in range(network.parts)]
    assert max(on_end) < 256  # durable_rules links at most 256 rules to an alpha node (error 108)
    escalator = Escalator(network)
    assert protocol.escalation is not None and isinstance(protocol.escalation.design, em.Boin)
    grid = replace(protocol.escalation, cohort_size=1, maximum=None)
    asked = 0
    for y in range(n + 1):
        for c in range(n - y + 1):
            found = T.cell(protocol.escalation.design, n, y, c, window) if c else T.Cell("STAY")
            days = {0, c * window} | ({found.days - 1, found.days, found.days + 1}
                                      if found.days is not None else set())
            for day in sorted(d for d in days if 0 <= d <= c * window):
                counts = [(0, 0, 0, 0), (n, n - c, y, c), (0, 0, 0, 0)]
                state = state_of(counts, 1, grid, True, day)
                want = expected(target, n, y, c, day, window, False, False)
                assert escalator.ask(state).value == want, (n, y, c, day)
                asked += 1
    assert asked > 1000


def test_weeks_count_as_days():
    text = BASE.format(maximum=18, window="4 weeks", target="0.2")
    escalation = parse(text, "t.pr").escalation
    assert escalation is not None and T.window_days(escalation.dlt_window) == 28


def test_options_with_outcomes_pending(tmp_path):
    """n.earlystop 9: 2 DLTs of 9 at target 0.2 stays, so it stops and selects the MTD, once
    every outcome is known; with one pending followed 27 days it waits (SUSPEND), with one just
    infused the imputed rate de-escalates (p_hat = (2 + 21/59 (1 - 0)) / 9 >= 0.2385).
    extrasafe (cut-off 0.9): 2 DLTs of 3 at the lowest level stop the trial, n counting the
    pending patient (P(p > 0.2 | 2 of 3) = 0.9728 > 0.9)."""
    path = tmp_path / "t.proto-rules"
    path.write_text(BASE.format(maximum=18, window="28 days", target="0.2").replace(
        " tite", " n.earlystop 9 extrasafe tite"))
    protocol = parse_file(path)
    escalator = Escalator(compile_escalation(protocol))
    assert protocol.escalation is not None
    for c, days, want in [(0, 0, "STOP:select"), (1, 27, "SUSPEND"), (1, 0, "DE-ESCALATE")]:
        state = state_of([(3, 3, 0, 0), (9, 9 - c, 2, c), (0, 0, 0, 0)], 1, protocol.escalation,
                         True, days)
        assert escalator.ask(state).value == want, (c, days)
    state = state_of([(3, 2, 2, 1), (0, 0, 0, 0), (0, 0, 0, 0)], 0, protocol.escalation, True, 10)
    assert escalator.ask(state).value == "STOP:none"
