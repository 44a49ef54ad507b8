"""Escalation decisions by the rule network, through `proto-rules escalate` on real cohort files.

Every branch of the 3+3 rule set (protocol/designs/three-plus-three.proto-rules, which the seed
protocol imports) is one case: a cohort written to a file, the command's text checked for the
decision and the rule that fired with its sentence and `file:line`, the trail record for the same.
Then BOIN's moves (elimination, stop, the boundary used), the engine's own PENDING and HOLD,
staggering, the partial-dose policies, and a design with a gap or an impossible move.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import cli
from tests.cohorts import cohort, patients

ROOT = Path(__file__).parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
MODULE = "protocol/designs/three-plus-three.proto-rules"
BOIN = "examples/boin.proto-rules"


pytestmark = pytest.mark.usefixtures("at_root")


def escalate(capsys, protocol: str, path: str, tmp_path: Path) -> tuple[int, str, str, dict]:
    trail = tmp_path / "trail.jsonl"
    code = cli.main(["escalate", protocol, path, "--trail", str(trail)])
    out, err = capsys.readouterr()
    records = ([json.loads(line) for line in trail.read_text().splitlines()]
               if code in (0, 1) else [])
    if records:
        assert err.endswith(f"trail {trail} sealed, final sha256 "
                            f"{hashlib.sha256(trail.read_bytes().splitlines()[-1]).hexdigest()}\n")
        err = err[: err.rindex(f"trail {trail} sealed")]
    return code, out, err, records[1] if records else {}


def line_of(rule: str, path: str = MODULE) -> int:
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.strip().startswith(f"rule {rule} "))


THREE_PLUS_THREE = [
    ("no patient yet: treat the first cohort", [], "STAY at DL1", "R7"),
    ("0 of 3: escalate", [("DL1", "000")], "ESCALATE to DL2", "R10"),
    ("1 of 3: expand to 6", [("DL1", "010")], "EXPAND DL1", "R8"),
    ("cohort of 6 incomplete: stay", [("DL1", "0100")], "STAY at DL1", "R7"),
    ("1 of 6: escalate", [("DL1", "010000")], "ESCALATE to DL2", "R10"),
    ("2 of 3 at the lowest level: stop", [("DL1", "110")], "STOP: no MTD", "R1"),
    ("2 of 6 at the lowest level: stop", [("DL1", "100100")], "STOP: no MTD", "R1"),
    ("2 of 2, cohort incomplete: stop already", [("DL1", "11")], "STOP: no MTD", "R1"),
    ("2 of 3, 3 below: de-escalate", [("DL1", "000"), ("DL2", "011")], "DE-ESCALATE to DL1", "R6"),
    (
        "2 of 6, 3 below: de-escalate",
        [("DL1", "000"), ("DL2", "100010")],
        "DE-ESCALATE to DL1",
        "R6",
    ),
    (
        "2 of 3, 6 below with 1 DLT: MTD is the lower level",
        [("DL1", "010000"), ("DL2", "110")],
        "STOP: the MTD is DL1",
        "R2",
    ),
    (
        "3 of 6 at DL3, DL2 had 1 of 6: MTD DL2",
        [("DL1", "000"), ("DL2", "000100"), ("DL3", "010101")],
        "STOP: the MTD is DL2",
        "R2",
    ),
    (
        "expanded to 6 after a de-escalation: MTD is this level",
        [("DL1", "000"), ("DL2", "110"), ("DL1", "001")],
        "STOP: the MTD is DL1",
        "R3",
    ),
    (
        "expansion below a toxic level, 2 of 6: go lower",
        [("DL1", "000"), ("DL2", "000"), ("DL3", "11"), ("DL2", "011")],
        "DE-ESCALATE to DL1",
        "R6",
    ),
    (
        "0 of 3 just below a toxic level: expand",
        [("DL1", "00n"), ("DL2", "11"), ("DL1", "0")],
        "EXPAND DL1",
        "R9",
    ),
    (
        "highest level 0 of 3: MTD not reached",
        [("DL1", "000"), ("DL2", "000"), ("DL3", "000")],
        "STOP: MTD not reached; DL3",
        "R4",
    ),
    (
        "highest level 1 of 6: MTD not reached",
        [("DL1", "000"), ("DL2", "000"), ("DL3", "000001")],
        "STOP: MTD not reached; DL3",
        "R4",
    ),
    (
        "the maximum sample size reached first: MTD not determined",
        [("DL1", "00" + "n" * 16)],
        "STOP: MTD not determined",
        "R5",
    ),
]


@pytest.mark.parametrize(
    "case, groups, headline, rule", THREE_PLUS_THREE, ids=[c[0] for c in THREE_PLUS_THREE]
)
def test_three_plus_three(capsys, tmp_path, case, groups, headline, rule):
    code, out, err, record = escalate(capsys, SEED, cohort(tmp_path, patients(*groups)), tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    decision = next(line for line in lines if line.startswith(headline.split()[0]))
    assert decision.startswith(headline), out
    at = f"{MODULE}:{line_of(rule)}"
    said = next(line for line in lines if line.startswith(f"  rule {rule}:"))
    assert said.endswith(f"({at})")
    text = record["rule"]["text"]
    assert said == f'  rule {rule}: "{text}" ({at})'
    assert (record["rule"]["id"], record["rule"]["at"]) == (rule, at)
    assert record["headline"] == decision
    assert record["rule"]["fired"][0].startswith(f"r:{rule}#")


def test_the_explanation_in_full(capsys, tmp_path):
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL2", "010")))
    code, out, err, record = escalate(capsys, SEED, path, tmp_path)
    assert code == 0 and err == ""
    assert out.splitlines()[1:] == [
        "design: The traditional 3+3 design; cohorts of 3, at most 18 patients, DLT window 28 days",
        "",
        "level   dose                 treated evaluable  DLT pending",
        "DL1     1x10^7 cells/kg            3         3    0       0",
        "DL2     3x10^7 cells/kg            3         3    1       0 <-",
        "DL3     6x10^7 cells/kg            0         0    0       0",
        "",
        "EXPAND DL2 (3x10^7 cells/kg): treat 3 more patients at DL2",
        '  rule R8: "1 of 3 patients with a DLT: expand to 6, treating 3 more patients at the '
        f'same level." ({MODULE}:{line_of("R8")})',
        "  condition: evaluable == 3 and dlt == 1  [evaluable = 3, dlt = 1]",
        "  DLT: S05 at DL2, 2026-03-28 (grade 3 CRS)",
    ]
    assert record["levels"][1] == {
        "level": "DL2",
        "dose": "3x10^7 cells/kg",
        "treated": 3,
        "evaluable": 3,
        "dlt": 1,
        "pending": 0,
    }
    assert record["rule"]["condition"] == "evaluable == 3 and dlt == 1"
    assert (record["current_level"], record["next_level"], record["mtd"]) == ("DL2", "DL2", None)


def test_the_bundled_cohort(capsys):
    code = cli.main(["escalate", SEED, "examples/cohort.json"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ESCALATE to DL3 (6x10^7 cells/kg): the next cohort receives DL3" in out
    assert "staggered: infuse one patient at DL3, then observe 14 days before the next" in out


def test_trail_is_canonical_and_repeatable(capsys, tmp_path):
    path = cohort(tmp_path, patients(("DL1", "010")))
    first = tmp_path / "a.jsonl"
    second = tmp_path / "b.jsonl"
    for trail in (first, second):
        assert cli.main(["escalate", SEED, path, "--trail", str(trail)]) == 0
    assert first.read_bytes() == second.read_bytes()
    run, decision, seal = [json.loads(line) for line in first.read_text().splitlines()]
    assert run["type"] == "escalation-run" and decision["type"] == "escalation"
    assert seal["type"] == "seal"
    assert run["modules"][0]["file"] == MODULE
    assert run["network"]["name"].startswith("cd19-ucart-sle@1.0/escalation#")
    for line in first.read_text().splitlines():
        assert line == json.dumps(
            json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


# --- the engine's own rules: pending, hold, stagger -----------------------------------------------


def test_pending_names_the_patients(capsys, tmp_path):
    code, out, _, record = escalate(
        capsys, SEED, cohort(tmp_path, patients(("DL1", "0pp"))), tmp_path
    )
    assert code == 0
    assert "PENDING: no decision while DLT windows are open (S02, S03)" in out
    assert "  pending: S02 at DL1, window ends 2027-06-11" in out
    assert (record["decision"], record["rule"]["id"]) == ("PENDING", "PENDING")


def test_an_incomplete_cohort_continues_while_windows_are_open(capsys, tmp_path):
    records = patients(("DL1", "p"))
    records[0]["infused"] = "2027-05-25"
    code, out, _, _ = escalate(capsys, SEED, cohort(tmp_path, records), tmp_path)
    assert code == 0
    assert "STAY at DL1 (1x10^7 cells/kg): the next patient receives DL1" in out
    assert (
        "staggered: the next infusion at DL1 not before 2027-06-08 (14 days after the first)" in out
    )


def test_escalation_waits_for_the_safety_review(capsys, tmp_path):
    code, out, _, record = escalate(
        capsys, SEED, cohort(tmp_path, patients(("DL1", "000")), reviews=[]), tmp_path
    )
    assert code == 0
    assert "ESCALATE to DL2" in out
    assert (
        "  ON HOLD: escalating needs a safety review of DL1 signed on or after its last DLT "
        "assessment; none is recorded" in out
    )
    assert "esc:HOLD" in record["rule"]["fired"]


def test_a_review_before_the_last_result_does_not_count(capsys, tmp_path):
    early = [{"level": "DL1", "date": "2026-02-01", "signed_by": "SRC"}]
    code, out, err, _ = escalate(
        capsys, SEED, cohort(tmp_path, patients(("DL1", "000")), reviews=early), tmp_path
    )
    assert code == 0 and "ON HOLD" in out
    assert (
        "field 'reviews[0].date': warning: the review of DL1 on 2026-02-01 predates its last "
        "DLT assessment (2026-03-04); it does not count" in err
    )


def test_a_stagger_not_kept_is_a_warning(capsys, tmp_path):
    records = patients(("DL1", "000"))
    records[1]["infused"] = "2026-01-10"
    code, out, err, _ = escalate(capsys, SEED, cohort(tmp_path, records), tmp_path)
    assert code == 0
    assert (
        "patient S02, field 'infused': warning: infused 5 days after the first patient of DL1 "
        "(S01); the protocol staggers by 14 days" in err
    )


def test_partial_dose_not_evaluable(capsys, tmp_path):
    records = patients(("DL1", "000"))
    records[2]["dose_received"] = {"value": 0.6e7, "unit": "cells/kg"}
    code, out, _, record = escalate(capsys, SEED, cohort(tmp_path, records), tmp_path)
    assert code == 1  # an under-dosed patient is a deviation
    assert "STAY at DL1" in out
    assert (
        "  not evaluable: S03 at DL1, partial dose (6000000.0 cells/kg of 1x10^7 cells/kg)" in out
    )
    assert record["levels"][0]["evaluable"] == 2


# --- BOIN -----------------------------------------------------------------------------------------


BOIN_CASES = [
    ("start", [], "STAY at DL1", "BOIN.cohort", None),
    (
        "0 of 3: escalate",
        [("DL1", "000")],
        "ESCALATE to DL2",
        "BOIN.n3.escalate",
        "  boundary: 3 evaluable: escalate if DLT <= 0, de-escalate if >= 2, eliminate if >= 3 "
        "(lambda_e 0.2365, lambda_d 0.3585)",
    ),
    ("1 of 3: stay", [("DL1", "010")], "STAY at DL1", "BOIN.n3.stay", None),
    (
        "2 of 3: de-escalate to the backup",
        [("DL1", "011")],
        "DE-ESCALATE to DL0",
        "BOIN.n3.de-escalate",
        None,
    ),
    (
        "3 of 3: eliminate",
        [("DL1", "111")],
        "ELIMINATE DL1, DL2, DL3, DL4; DE-ESCALATE to DL0",
        "BOIN.n3.eliminate",
        None,
    ),
    (
        "3 of 3 at the lowest: stop",
        [("DL1", "000"), ("DL0", "111")],
        "STOP: no MTD",
        "BOIN.n3.stop",
        None,
    ),
    (
        "2 of 3 at the lowest: stay",
        [("DL1", "000"), ("DL0", "011")],
        "STAY at DL0",
        "BOIN.n3.stay-lowest",
        None,
    ),
    (
        "0 of 3 below an eliminated level: stay",
        [("DL1", "000"), ("DL2", "111"), ("DL1", "000")],
        "STAY at DL1",
        "BOIN.n6.stay-below-eliminated",
        None,
    ),
    (
        "0 of 3 at the highest: stay",
        [("DL1", "000"), ("DL2", "000"), ("DL3", "000"), ("DL4", "000")],
        "STAY at DL4",
        "BOIN.n3.stay-top",
        None,
    ),
    (
        "30 patients: select the MTD",
        [
            ("DL1", "000"),
            ("DL2", "000"),
            ("DL3", "010"),
            ("DL4", "110"),
            ("DL3", "001000100010000000"),
        ],
        "STOP: the MTD is DL3 (6e7 cells/kg) (isotonic regression)",
        "BOIN.full",
        None,
    ),
]


@pytest.mark.parametrize(
    "case, groups, headline, rule, boundary", BOIN_CASES, ids=[c[0] for c in BOIN_CASES]
)
def test_boin(capsys, tmp_path, case, groups, headline, rule, boundary):
    code, out, err, record = escalate(capsys, BOIN, cohort(tmp_path, patients(*groups)), tmp_path)
    assert code == 0, err
    assert f"\n{headline}" in out, out
    assert f"  rule {rule}: " in out and f"({BOIN}:17)" in out
    if boundary:
        assert boundary in out.splitlines()
        assert record["rule"]["boundary"]["n"] == 3


def test_partial_dose_counted_at_the_dose_received(capsys, tmp_path):
    records = patients(("DL1", "000"), ("DL2", "000"))
    records[5]["dose_received"] = {"value": 1.5e7, "unit": "cells/kg"}
    code, out, _, record = escalate(capsys, BOIN, cohort(tmp_path, records), tmp_path)
    assert code == 1  # an under-dosed patient is a deviation
    assert [lv["treated"] for lv in record["levels"]] == [0, 4, 2, 0, 0]
    assert record["patients"][5]["counted_at"] == "DL1"
    assert "STAY at DL2" in out  # 2 of the cohort of 3 at DL2 count there: complete it


# --- designs with a gap or an impossible move ----------------------------------------------------


GAPPY = """protocol "gappy"
version "1"
escalation "x":
    level DL1 1 mg
    level DL2 2 mg
    start at DL1
    cohort size 3
    maximum 12 patients
    dlt within 28 days after infusion
    design mine
escalation rules mine "Mine":
    rule A1 "Escalate after a clean cohort.": evaluable == 3 and dlt == 0 -> escalate
    rule A2 "Otherwise treat more.": evaluable < 3 -> stay
"""


def test_a_state_no_rule_decides_is_the_designs_error(capsys, tmp_path):
    protocol = tmp_path / "gappy.proto-rules"
    protocol.write_text(GAPPY, encoding="utf-8")
    code, out, err, _ = escalate(
        capsys, str(protocol), cohort(tmp_path, patients(("DL1", "010"))), tmp_path
    )
    assert code == 2 and out == ""
    head, line, caret = err.splitlines()
    assert head.startswith(
        f"{protocol}:11:1: error: no rule of 'mine' decides this state: "
        "treated = 3, evaluable = 3, dlt = 1, pending = 0,"
    )
    assert line == '    escalation rules mine "Mine":'


def test_escalating_from_the_highest_level_is_the_designs_error(capsys, tmp_path):
    protocol = tmp_path / "gappy.proto-rules"
    protocol.write_text(GAPPY, encoding="utf-8")
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL2", "000")))
    code, out, err, _ = escalate(capsys, str(protocol), path, tmp_path)
    assert code == 2
    assert err.splitlines()[0] == (
        f"{protocol}:12:5: error: rule A1 escalates from DL2, the highest level"
    )


def test_a_protocol_without_escalation(capsys, tmp_path):
    path = cohort(tmp_path, [])
    code = cli.main(["escalate", "examples/bad/unused-concept.proto-rules", path])
    assert code == 2
    assert capsys.readouterr().err.endswith("has no escalation section\n")
