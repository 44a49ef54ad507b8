"""A derived value's reference range, fixed by the protocol: "an abnormal serum free light chain
ratio" is `flc_ratio < lower reference or flc_ratio > upper reference` beside `flc_ratio: derived
in dimensionless reference 0.26 to 1.65 = kappa / lambda_flc`. The comparison is the one with
factor x the limit (`> 2 x ULN` is `> 3.3`), decided on the network's exact value as every
derived comparison is; each case runs the real parser, checks, normaliser and network.
"""

from __future__ import annotations

import pytest

from engine.audit.recorder import Recorder
from engine.run import Decision, Screening
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import boundary_cases, network_from_text, screen_one

PROTOCOL = """protocol "flc" version "1"
concepts:
  kappa: lab in mg/L
  lambda_flc: lab in mg/L
  flc_ratio: derived in dimensionless reference 0.26 to 1.65 "serum free light chain ratio"
      = kappa / lambda_flc
inclusion I1 "An abnormal serum free light chain ratio":
    flc_ratio < lower reference or flc_ratio > upper reference
inclusion I2 "A free light chain ratio above twice its upper limit":
    flc_ratio > 2 x ULN
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "flc.proto-rules"))


def chains(kappa: str | None, lambda_: str | None = "100") -> list[dict]:
    return [{"concept": name, "value": int(value), "unit": "mg/L", "date": "2026-05-20"}
            for name, value in (("kappa", kappa), ("lambda_flc", lambda_)) if value is not None]


@pytest.mark.parametrize("kappa, lambda_, expected", [
    ("165", "100", {"I1": "NOT_MET", "I2": "NOT_MET"}),  # 1.65: at the upper limit, not above
    ("166", "100", {"I1": "MET", "I2": "NOT_MET"}),
    ("26", "100", {"I1": "NOT_MET"}),  # 0.26: at the lower limit, not below
    ("25", "100", {"I1": "MET"}),
    ("330", "100", {"I2": "NOT_MET"}),  # 3.3: at twice the upper limit
    ("331", "100", {"I2": "MET"}),
    ("25", None, {"I1": "UNKNOWN", "I2": "UNKNOWN"}),
])
def test_against_the_declared_range(screening, kappa, lambda_, expected):
    outcome = screen_one(screening, chains(kappa, lambda_), day="2026-06-01")
    assert isinstance(outcome, Decision), outcome
    found = {c: v.verdict for c, v in outcome.verdicts.items()}
    assert {c: found[c] for c in expected} == expected


def test_the_trail_names_the_limit(screening):
    outcome = screen_one(screening, chains("166"), day="2026-06-01")
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "flc_ratio = 166 / 100 = 1.66 dimensionless (kappa 166 mg/L, lambda_flc 100 mg/L); " \
           "needs > 1.65 dimensionless (its upper reference)" in line
    assert "needs > 3.3 dimensionless (2 x its upper reference)" in line


@pytest.mark.parametrize("declared, said", [
    ("flc_ratio: derived in dimensionless = kappa / lambda_flc",
     "'flc_ratio' is a derived value declared without a reference range: declare one: "
     "'flc_ratio: derived in dimensionless reference LOW to HIGH = ...'"),
    ("flc_ratio: derived in dimensionless reference 1.65 to 0.26 = kappa / lambda_flc",
     "'1.65 to 0.26' is empty: the low bound is above the high bound"),
])
def test_what_the_checks_say(declared, said):
    text = PROTOCOL.replace('flc_ratio: derived in dimensionless reference 0.26 to 1.65 "serum '
                            'free light chain ratio"\n      = kappa / lambda_flc', declared)
    assert said in [d.message for d in check(parse(text, "t.pr"))]


def test_boundary_cases(capsys, tmp_path):
    """`edge-cases` gives the comparison's cases with the limit as its threshold; the network
    agrees with every one."""
    written, said = boundary_cases(capsys, tmp_path, PROTOCOL, {
        "patient": "B", "screening_date": "2026-06-01", "facts": chains("300")})
    assert "not generated" not in said and "left out" not in said, said
    assert "kappa 165 mg/L: flc_ratio 1.65 dimensionless, exactly at flc_ratio > 1.65 " \
           "dimensionless" in written
