"""BOIN's MTD estimates as `select.mtd` reports them: isotonic estimates, 95% credible intervals
and the probability of overdosing, per level; in `escalate`'s output and its trail.

Reference numbers. CRAN is not reachable from this machine, so R was not run. The numbers below
come from a line-by-line transcription of the package's R source (BOIN 2.7, `R/select.mtd.R`,
github.com/cran/BOIN: its `pava`, `phat.all`, `lowerCIs`, `upperCIs`, `poverdose`) into Python,
with SciPy 1.17.1's `scipy.stats.beta.sf` and `beta.ppf` in place of R's `1 - pbeta` and `qbeta`;
that script is not part of the project (SciPy is not one of its dependencies). Cases worked by
hand below check the pooling; the beta functions are checked against exact binomial sums.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

import cli
from engine.escalation import beta
from engine.escalation.boin import estimates, posterior_above
from tests.cohorts import cohort, patients

ROOT = Path(__file__).parents[1]
BOIN = str(ROOT / "examples" / "boin.proto-rules")

#: (target, patients, DLTs) -> per level (estimate, 2.5%, 97.5%, P(overdose)), 6 decimals, from
#: the transcription of R/select.mtd.R with SciPy (see the module's docstring); None: no patients.
REFERENCE = [
    # the package's own example (man/select.mtd.Rd): n = c(3, 3, 15, 9, 0), y = c(0, 0, 4, 4, 0)
    ((0.3, (3, 3, 15, 9, 0), (0, 0, 4, 4, 0)), [
        (0.016129, 0.000000, 0.196039, 0.012964),
        (0.016129, 0.000000, 0.196039, 0.012964),
        (0.268212, 0.085275, 0.508919, 0.360119),
        (0.445055, 0.158701, 0.754166, 0.808439),
        None]),
    # a violator pooled: 3/6 then 1/3
    ((0.3, (3, 6, 3), (0, 3, 1)), [
        (0.016129, 0.000000, 0.196039, 0.012964),
        (0.436786, 0.096280, 0.846833, 0.670146),
        (0.436786, 0.096280, 0.846833, 0.670146)]),
    # a backup level nobody received below the start (the reference prints the intervals of
    # this case shifted by one level: see boin.estimates)
    ((0.3, (0, 3, 6, 3, 0), (0, 0, 1, 2, 0)), [
        None,
        (0.016129, 0.000000, 0.196039, 0.012964),
        (0.172131, 0.006069, 0.526585, 0.176675),
        (0.661290, 0.159937, 0.985209, 0.909746),
        None]),
    ((0.25, (3, 6, 9), (0, 2, 1)), [
        (0.016129, 0.000000, 0.196039, 0.017736),
        (0.169083, 0.016321, 0.457951, 0.373642),
        (0.169083, 0.016321, 0.457951, 0.373642)]),
]


@pytest.mark.parametrize("case, expected", REFERENCE)
def test_estimates_as_the_reference_computes_them(case, expected):
    target, n, y = case
    found = estimates(list(zip(n, y)), Decimal(str(target)))
    for level, (got, want) in enumerate(zip(found, expected)):
        if want is None:
            assert got is None, level
            continue
        assert got is not None and (got.patients, got.dlt) == (n[level], y[level])
        values = (got.rate, got.low, got.high, got.overdose)
        assert values == pytest.approx(want, abs=1e-6), level


def test_the_pooling_worked_by_hand():
    """3 of 6 then 1 of 3: the posterior means (3 + 0.05)/(6 + 0.1) = 0.5 and (1 + 0.05)/(3 + 0.1)
    = 0.33871 decrease, so they are pooled, weighted by 1/variance: variance (y + 0.05)(n - y +
    0.05) / ((n + 0.1)^2 (n + 1.1)) = 9.3025 / 264.191 = 0.0352116 and 2.1525 / 39.401 = 0.0546306,
    weights 28.4997 and 18.3048, pooled (0.5 * 28.4997 + 0.338710 * 18.3048) / 46.8045 = 0.436786.
    The overdose probabilities are pooled unweighted: the mean of the two tails."""
    first, second, third = estimates([(3, 0), (6, 3), (3, 1)], Decimal("0.3"))
    assert second.rate == third.rate == pytest.approx(0.436786, abs=1e-6)
    tails = [beta.tail(0.3, 3.05, 3.05), beta.tail(0.3, 1.05, 2.05)]
    assert second.overdose == pytest.approx(sum(tails) / 2, abs=1e-15)
    assert first.rate == pytest.approx(0.05 / 3.1, abs=1e-15)  # alone, not pooled


def test_nobody_treated_has_no_estimates():
    assert estimates([(0, 0), (0, 0)], Decimal("0.3")) == [None, None]


@pytest.mark.parametrize("n", [1, 3, 6, 10, 30])
def test_the_tail_is_the_binomial_sum_for_whole_parameters(n):
    """Under a beta(1, 1) prior the posterior tail is P(Binomial(n + 1, t) <= y), exactly
    (`posterior_above`): the continued fraction agrees to 1e-13."""
    for y in range(n + 1):
        exact = float(posterior_above(y, n, Fraction(3, 10)))
        assert beta.tail(0.3, y + 1, n - y + 1) == pytest.approx(exact, abs=1e-13), y


@pytest.mark.parametrize("a, b", [(0.05, 3.05), (2.05, 1.05), (4.05, 11.05), (1, 1), (9, 2)])
def test_the_quantile_inverts_the_distribution(a, b):
    for p in (0.025, 0.5, 0.975):
        assert beta.cdf(beta.quantile(p, a, b), a, b) == pytest.approx(p, abs=1e-12)
    assert beta.quantile(0.3, 1, 1) == pytest.approx(0.3, abs=1e-15)  # the uniform
    assert beta.quantile(0.25, 2, 1) == pytest.approx(0.5, abs=1e-15)  # x^2 = 0.25


def test_escalate_prints_the_estimates_when_the_trial_stops(capsys, monkeypatch):
    """The BOIN example run to its 30 patients (level 2 of the outcome strings is DL1, the
    start): the MTD, and the table as select.mtd's summary prints it, two decimals."""
    monkeypatch.chdir(ROOT)
    outcomes = "2NNN 3NNN 4NTT 4NNN 3NNN 3NTN 3NNN 3NNT 3NNN 3TNN"
    assert cli.main(["escalate", BOIN, "--outcomes", outcomes]) == 0
    out = capsys.readouterr().out
    assert "STOP: the MTD is DL3 (6e7 cells/kg) (isotonic regression)" in out
    table = out[out.index("MTD selection"):].splitlines()
    assert table[0] == ("MTD selection (isotonic regression as BOIN's select.mtd, "
                        "beta(0.05, 0.05) prior):")
    assert table[1].split() == ["level", "evaluable", "DLT", "estimate", "95%", "credible",
                                "interval", "P(DLT", "rate", ">", "0.3", "|", "data)"]
    rows = [line.split(maxsplit=4) for line in table[2:]]
    # the reference numbers for n = (0, 3, 21, 6, 0), y = (0, 0, 3, 2, 0), from the
    # transcription of R/select.mtd.R with SciPy, rounded as its formatC(digits = 2) rounds
    assert rows == [
        ["DL0", "0", "0", "----", "----                   ----"],
        ["DL1", "3", "0", "0.02", "(0.00, 0.20)           0.01"],
        ["DL2", "21", "3", "0.14", "(0.03, 0.32)           0.04"],
        ["DL3", "6", "2", "0.34", "(0.06, 0.72)           0.54"],
        ["DL4", "0", "0", "----", "----                   ----"],
    ]


def test_no_estimates_while_the_trial_goes_on_or_without_a_target(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["escalate", BOIN, "--outcomes", "2NNN"]) == 0
    assert "MTD selection" not in capsys.readouterr().out
    seed = "examples/cd19-ucart-sle.proto-rules"  # 3+3 stops, but has no target DLT rate
    assert cli.main(["escalate", seed, "--outcomes", "1NNT 1NTT"]) == 0
    out = capsys.readouterr().out
    assert out.count("STOP") == 1 and "MTD selection" not in out


def test_the_trail_records_the_estimates(capsys, tmp_path):
    """Four-place decimal strings (no floats in a trail), a level nobody received as null."""
    records = patients(("DL1", "000"), ("DL2", "000"), ("DL3", "011"), ("DL3", "000"),
                       ("DL2", "000"), ("DL2", "010"), ("DL2", "000"), ("DL2", "001"),
                       ("DL2", "000"), ("DL2", "100"))
    trail = tmp_path / "trail.jsonl"
    assert cli.main(["escalate", BOIN, cohort(tmp_path, records), "--trail", str(trail)]) == 0
    capsys.readouterr()
    decision = json.loads(trail.read_text().splitlines()[1])
    assert decision["decision"] == "STOP" and decision["mtd"] == "DL3"
    assert decision["mtd_estimates"][0] == {"level": "DL0", "estimate": None}
    assert decision["mtd_estimates"][3] == {
        "level": "DL3", "estimate": "0.3361", "credible_interval_95": ["0.0552", "0.7162"],
        "p_overdose": "0.5354"}  # the reference transcription's numbers, to 4 places
