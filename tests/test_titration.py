"""Accelerated titration (Simon et al., J Natl Cancer Inst 1997;89:1138), designs 2 and 3, as the
rules module protocol/designs/accelerated-titration.proto-rules: worked cohorts through
`proto-rules escalate`, the pathways table, and two simulations whose outcome is certain.

The reference is the paper's rule, worked by hand per cohort (no R package implements it): one
patient per dose level, escalating after each one's course 1 (the DLT window), until the first
DLT or the second toxicity of grade 2 or worse in course 1 in the trial; then the 3+3 design at
the level reached, whose patient counts among its first 3.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

import cli

PROTOCOL = "examples/titration.proto-rules"
MODULE = "protocol/designs/accelerated-titration.proto-rules"
AS_OF = date(2027, 6, 1)

pytestmark = pytest.mark.usefixtures("at_root")


def cohort(tmp_path: Path, *patients: tuple[str, str]) -> str:
    """A cohort file from (level, outcome) per patient, 35 days apart from 2026-01-05: outcome
    '0' no toxicity, '2' a grade 2 toxicity, 'T' a DLT (grade 3) on day 7, 'p' infused 10 days
    before as_of (its window open)."""
    records, day = [], date(2026, 1, 5)
    for number, (level, outcome) in enumerate(patients, 1):
        infused = AS_OF - timedelta(days=10) if outcome == "p" else day
        record: dict = {"patient": f"T{number:02}", "level": level, "infused": infused.isoformat()}
        if outcome == "2":
            record["grade"] = 2
        if outcome == "T":
            record |= {"grade": 3, "dlt": {"date": (infused + timedelta(days=7)).isoformat(),
                                           "event": "grade 3 neutropenia"}}
        records.append(record)
        day += timedelta(days=35)
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps({"as_of": AS_OF.isoformat(), "patients": records}, indent=1))
    return str(path)


def line_of(rule: str) -> int:
    lines = Path(MODULE).read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.strip().startswith(f"rule {rule} "))


CASES = [
    ("no patient yet: the first at the start level", [], "STAY at DL1", "R7"),
    ("one patient without toxicity: escalate", [("DL1", "0")], "ESCALATE to DL2", "A1"),
    ("the first grade 2 toxicity does not end the phase",
     [("DL1", "2"), ("DL2", "0")], "ESCALATE to DL3", "A1"),
    ("the second grade 2 toxicity ends it: 3 at this level",
     [("DL1", "2"), ("DL2", "0"), ("DL3", "2")], "STAY at DL3", "R7"),
    ("the first DLT ends it: 3 at this level", [("DL1", "0"), ("DL2", "T")], "STAY at DL2", "R7"),
    ("the course 1 of the one patient is not over: wait",
     [("DL1", "0"), ("DL2", "p")], "PENDING", "PENDING"),
    ("3+3 after the phase: 1 of 3, expand",
     [("DL1", "0"), ("DL2", "T"), ("DL2", "0"), ("DL2", "0")], "EXPAND DL2", "R8"),
    ("3+3 after the phase: 0 of 3, escalate",
     [("DL1", "2"), ("DL2", "2"), ("DL2", "0"), ("DL2", "0")], "ESCALATE to DL3", "R10"),
    ("the phase does not come back after a 3+3 escalation",
     [("DL1", "2"), ("DL2", "2"), ("DL2", "0"), ("DL2", "0"), ("DL3", "0")], "STAY at DL3", "R7"),
    ("2 of 2 after a DLT: de-escalate to the level below",
     [("DL1", "0"), ("DL2", "0"), ("DL3", "T"), ("DL3", "T")], "DE-ESCALATE to DL2", "R6"),
    ("2 DLTs at the lowest level: stop", [("DL1", "T"), ("DL1", "T")], "STOP: no MTD", "R1"),
    ("the highest level reached in the phase: 3 there",
     [(f"DL{n}", "0") for n in range(1, 7)], "STAY at DL6", "R7"),
    ("the highest level, 0 of 3: MTD not reached",
     [(f"DL{n}", "0") for n in range(1, 7)] + [("DL6", "0"), ("DL6", "0")],
     "STOP: MTD not reached; DL6", "R4"),
]


@pytest.mark.parametrize("case, patients, headline, rule", CASES, ids=[c[0] for c in CASES])
def test_worked_cohorts(capsys, tmp_path, case, patients, headline, rule):
    trail = tmp_path / "trail.jsonl"
    code = cli.main(["escalate", PROTOCOL, cohort(tmp_path, *patients), "--trail", str(trail)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert f"\n{headline}" in out, out
    record = json.loads(trail.read_text().splitlines()[1])
    assert record["rule"]["id"] == rule
    if rule != "PENDING":
        assert record["rule"]["at"] == f"{MODULE}:{line_of(rule)}"


def test_the_explanation_names_the_toxicities(capsys, tmp_path):
    code = cli.main(["escalate", PROTOCOL, cohort(tmp_path, ("DL1", "2"), ("DL2", "0"),
                                                  ("DL3", "2"))])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[-4:] == [
        f'  rule R7: "Fewer than 3 (or than 6, after an expansion) evaluable patients: treat the '
        f'next patient at this level." ({MODULE}:{line_of("R7")})',
        "  condition: evaluable < 3 or evaluable > 3 and evaluable < 6  [evaluable = 1]",
        "  grade 2 toxicity: T01 at DL1",
        "  grade 2 toxicity: T03 at DL3",
    ]


def test_the_example_cohort(capsys):
    assert cli.main(["escalate", PROTOCOL, "examples/cohort-titration.json"]) == 0
    out = capsys.readouterr().out
    assert "STAY at DL3 (4e6 cells/kg): the next patient receives DL3" in out
    assert out.endswith("  grade 2 toxicity: T01 at DL1\n  grade 2 toxicity: T03 at DL3\n")


def test_expand_by_one_patient(capsys, tmp_path):
    path = cohort(tmp_path, ("DL1", "0"), ("DL2", "T"), ("DL2", "0"), ("DL2", "0"))
    assert cli.main(["escalate", PROTOCOL, path]) == 0
    assert "EXPAND DL2 (2e6 cells/kg): treat 1 more patient at DL2" in capsys.readouterr().out


@pytest.mark.parametrize("grade, shown", [("3", "'3'"), (7, "7"), (-1, "-1"), (2.5, "Decimal"),
                                          (True, "True")])
def test_a_grade_that_is_not_one_is_one_line(capsys, tmp_path, grade, shown):
    path = Path(cohort(tmp_path, ("DL1", "0")))
    data = json.loads(path.read_text())
    data["patients"][0]["grade"] = grade
    path.write_text(json.dumps(data, indent=1))
    assert cli.main(["escalate", PROTOCOL, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "patient T01, field 'grade'" in err
    assert shown in err and "a whole number from 0 to 5" in err


def test_pathways(capsys):
    assert cli.main(["pathways", PROTOCOL, "--cohorts", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "cohort    decision     next     outcomes",
        "now       START        DL1 (1)",
        "  1N      ESCALATE     DL2 (2)  1N",
        "    2N    ESCALATE     DL3 (3)  1N 2N",
        "      3N  ESCALATE     DL4 (4)  1N 2N 3N",
        "      3T  STAY         DL3 (3)  1N 2N 3T",
        "    2T    STAY         DL2 (2)  1N 2T",
        "      2N  STAY         DL2 (2)  1N 2T 2N",
        "      2T  DE-ESCALATE  DL1 (1)  1N 2T 2T",
        "  1T      STAY         DL1 (1)  1T",
        "    1N    STAY         DL1 (1)  1T 1N",
        "      1N  EXPAND       DL1 (1)  1T 1N 1N",
        "      1T  STOP         no MTD   1T 1N 1T",
        "    1T    STOP         no MTD   1T 1T",
    ]


def test_simulations_with_a_certain_outcome(capsys):
    """No toxicity: one patient at each of the 6 levels, then 2 more at the highest, 0 of 3:
    MTD not reached after 8 patients, every trial. Certain DLT at the lowest: 2 patients, 2
    DLTs, stop with no MTD."""
    assert cli.main(["simulate", PROTOCOL, "--true-tox", "0,0,0,0,0,0", "--trials", "50",
                     "--plot", "none"]) == 0
    out = capsys.readouterr().out
    assert "MTD not reached (highest level tolerated):   100.0%" in out
    assert "mean sample size:                              8.00" in out
    assert cli.main(["simulate", PROTOCOL, "--true-tox", "1,0,0,0,0,0", "--trials", "50",
                     "--plot", "none"]) == 0
    out = capsys.readouterr().out
    assert "stopped for toxicity, no MTD:                100.0%" in out
    assert "mean sample size:                              2.00" in out


def test_a_withdrawn_patient_with_a_grade_2_toxicity(capsys, tmp_path):
    path = Path(cohort(tmp_path, ("DL1", "2")))
    data = json.loads(path.read_text())
    data["patients"][0] |= {"evaluable": False, "reason": "withdrew on day 10"}
    path.write_text(json.dumps(data, indent=1))
    assert cli.main(["escalate", PROTOCOL, str(path)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("  not evaluable: T01 at DL1, withdrew on day 10\n"
                        "  grade 2 toxicity: T01 at DL1\n")
