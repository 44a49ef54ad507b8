"""Cohort fact files that must be refused: each problem named by line, patient and field, exit 2.

Each case edits a valid cohort (3 patients at DL1 without a DLT, one at DL2) and runs
`proto-rules escalate` on the file; every problem of a file is reported at once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from tests.cohorts import cohort, patients

ROOT = Path(__file__).parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"


pytestmark = pytest.mark.usefixtures("at_root")


def refused(capsys, path: str, protocol: str = SEED) -> list[str]:
    code = cli.main(["escalate", protocol, path])
    out, err = capsys.readouterr()
    assert code == 2, out
    assert out == "" and "Traceback" not in err
    return err.splitlines()


def line_of(path: str, patient: str) -> int:
    """The line of the patient's (last) entry."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return max(i for i, text in enumerate(lines, 1) if f'"patient": "{patient}"' in text)


def base() -> list[dict]:
    return patients(("DL1", "000"), ("DL2", "0"))


def edited(index: int, **fields) -> list[dict]:
    records = base()
    records[index].update(fields)
    return records


PATIENT_CASES = [
    (
        "DLT before the infusion",
        edited(0, dlt={"date": "2026-01-01"}),
        "S01",
        "dlt.date",
        "DLT dated 2026-01-01, before the infusion on 2026-01-05",
    ),
    (
        "undeclared level",
        edited(3, level="DL4"),
        "S04",
        "level",
        "'DL4' is not a declared dose level; did you mean 'DL3'?",
    ),
    (
        "level of no likeness",
        edited(3, level="high"),
        "S04",
        "level",
        "'high' is not a declared dose level; the levels are DL1, DL2, DL3",
    ),
    (
        "DLT after the window",
        edited(0, dlt={"date": "2026-02-20"}),
        "S01",
        "dlt.date",
        "DLT dated 2026-02-20, after the DLT window ended on 2026-02-02: record it as an adverse "
        "event, not a DLT",
    ),
    (
        "DLT after as_of",
        edited(3, infused="2027-05-20", dlt={"date": "2027-06-02"}),
        "S04",
        "dlt.date",
        "DLT dated 2027-06-02, after as_of 2027-06-01",
    ),
    (
        "infused after as_of",
        edited(3, infused="2027-07-01"),
        "S04",
        "infused",
        "infused on 2027-07-01, after as_of 2027-06-01",
    ),
    (
        "not a date",
        edited(1, infused="2026-02-30"),
        "S02",
        "infused",
        "not a date (YYYY-MM-DD): '2026-02-30'",
    ),
    (
        "no infusion date",
        edited(1, infused=None),
        "S02",
        "infused",
        "a date (YYYY-MM-DD) is required",
    ),
    (
        "duplicate patient",
        edited(3, patient="S01"),
        "S01",
        "patient",
        "patient S01 is already listed on line",
    ),
    (
        "window complete too early",
        edited(3, infused="2027-05-20", window_complete=True),
        "S04",
        "window_complete",
        "the DLT window ends 2027-06-17, after as_of 2027-06-01: it cannot be complete",
    ),
    (
        "not evaluable with a DLT",
        edited(0, evaluable=False, dlt={"date": "2026-01-09"}),
        "S01",
        "evaluable",
        "a patient with a DLT is evaluable",
    ),
    (
        "dose above the level",
        edited(0, dose_received={"value": 2e7, "unit": "cells/kg"}),
        "S01",
        "dose_received",
        "20000000.0 cells/kg is more than the dose of DL1 (1x10^7 cells/kg)",
    ),
    (
        "dose in a unit of another dimension",
        edited(0, dose_received={"value": 5, "unit": "mg"}),
        "S01",
        "dose_received.unit",
        "cannot convert",
    ),
    (
        "a DLT that is not an object",
        edited(0, dlt="yes"),
        "S01",
        "dlt",
        'an object like {"date": "2026-05-06", "event": "..."}',
    ),
    ("unknown field", edited(0, severity=3), "S01", "severity", "unknown field"),
    (
        "a negative dose",
        edited(0, dose_received={"value": -1, "unit": "cells/kg"}),
        "S01",
        "dose_received.value",
        "-1 cells/kg: a dose received is more than 0",
    ),
    (
        "no dose at all",
        edited(0, dose_received={"value": 0, "unit": "cells/kg"}),
        "S01",
        "dose_received.value",
        "0 cells/kg: a dose received is more than 0",
    ),
    (
        "a dose of 400 digits",
        edited(0, dose_received={"value": 10**400 - 1, "unit": "cells/kg"}),
        "S01",
        "dose_received.value",
        "not a dose that can be compared with DL1's exactly (too large, or too many digits)",
    ),
    (
        "an infusion at the end of the calendar",
        edited(3, infused="9999-12-30"),
        "S04",
        "infused",
        "9999-12-30: no date of the calendar lies 28 days after it",
    ),
]


@pytest.mark.parametrize(
    "case, records, patient, field, message", PATIENT_CASES, ids=[c[0] for c in PATIENT_CASES]
)
def test_patient_problem(capsys, tmp_path, case, records, patient, field, message):
    records = [{k: v for k, v in r.items() if v is not None} for r in records]
    path = cohort(tmp_path, records, reviews=[])
    errors = refused(capsys, path)
    expected = f"{path}:{line_of(path, patient)}, patient {patient}, field '{field}': error: "
    assert any(e.startswith(expected) and message in e for e in errors), "\n".join(errors)


def test_more_patients_than_the_maximum(capsys, tmp_path):
    path = cohort(tmp_path, patients(("DL1", "000"), ("DL2", "000000"), ("DL3", "0000000000")))
    assert refused(capsys, path) == [
        f"{path}:1, field 'patients': error: 19 patients, more than the maximum sample size of 18"
    ]


def test_every_problem_at_once(capsys, tmp_path):
    records = base()
    records[0]["dlt"] = {"date": "2026-01-01"}
    records[2]["level"] = "DL9"
    records[3]["infusd"] = "2026-03-01"
    path = cohort(tmp_path, records, reviews=[])
    errors = refused(capsys, path)
    assert [e.split(": error: ")[0].rsplit(", ", 1)[-1] for e in errors] == [
        "field 'dlt.date'",
        "field 'level'",
        "field 'infusd'",
    ]
    assert "unknown field; did you mean 'infused'?" in errors[2]


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            "{not json",
            "1: error: not valid JSON: Expecting property name enclosed in double quotes",
        ),
        ("[]", "1: error: a cohort file is one JSON object with 'as_of' and 'patients'"),
        ('{"patients": []}', "1, field 'as_of': error: a date (YYYY-MM-DD) is required"),
        (
            '{"as_of": "2026-01-01"}',
            "1, field 'patients': error: a list of the patients infused is required",
        ),
        (
            '{"as_of": "2026-01-01", "patients": [], "protocol": "other"}',
            "1, field 'protocol': error: the file is for protocol 'other', not 'cd19-ucart-sle'",
        ),
        (
            '{"as_of": "2026-01-01", "patients": [{"patient": "S1", "level": "DL1", '
            '"level": "DL2", "infused": "2025-12-01"}]}',
            "1: error: 'level' is given twice in one object: which one counts is unclear",
        ),
        (
            '{"as_of": "2026-01-01", "patients": [], "asof": 1}',
            "1, field 'asof': error: unknown field; did you mean 'as_of'?",
        ),
        (
            '{"as_of": "2026-01-01", "patients": [], "reviews": [{"level": "DL7", '
            '"date": "2026-01-01", "signed_by": "SRC"}]}',
            "1, field 'reviews[0].level': error: 'DL7' is not a declared dose level",
        ),
    ],
)
def test_file_problem(capsys, tmp_path, text, problem):
    path = tmp_path / "cohort.json"
    path.write_text(text, encoding="utf-8")
    assert refused(capsys, str(path)) == [f"{path}:{problem}"]


def test_unreadable_file(capsys, tmp_path):
    errors = refused(capsys, str(tmp_path / "missing.json"))
    assert errors == [f"{tmp_path}/missing.json:1: error: cannot read: No such file or directory"]


def test_a_partial_dose_needs_a_declared_policy(capsys, tmp_path):
    text = (ROOT / SEED).read_text(encoding="utf-8").replace("    partial dose not evaluable\n", "")
    protocol = tmp_path / "no-policy.proto-rules"
    protocol.write_text(text, encoding="utf-8")
    path = cohort(tmp_path, edited(0, dose_received={"value": 0.5e7, "unit": "cells/kg"}))
    errors = refused(capsys, path, str(protocol))
    assert errors == [
        f"{path}:{line_of(path, 'S01')}, patient S01, field 'dose_received': error: "
        "a partial dose, but the protocol declares no partial-dose policy ('partial "
        "dose not evaluable' or 'partial dose counted at dose received')"
    ]


def test_the_sample_file_is_json(tmp_path):
    """The helper writes what a site would: plain JSON with one key per line."""
    path = cohort(tmp_path, base())
    assert json.loads(Path(path).read_text(encoding="utf-8"))["patients"][0]["patient"] == "S01"


def test_a_dose_beyond_any_float_is_refused(capsys, tmp_path):
    """1e999 reads as an exact decimal (never a float's infinity) and is refused where it is."""
    path = cohort(tmp_path, edited(0, dose_received={"value": 1, "unit": "cells/kg"}))
    text = Path(path).read_text(encoding="utf-8").replace('"value": 1,', '"value": 1e999,')
    Path(path).write_text(text, encoding="utf-8")
    assert refused(capsys, path) == [
        f"{path}:{line_of(path, 'S01')}, patient S01, field 'dose_received.value': error: not a "
        "dose that can be compared with DL1's exactly (too large, or too many digits)"
    ]


def test_a_decision_date_at_the_end_of_the_calendar_is_refused(capsys, tmp_path):
    """as_of 9999-12-31 leaves no room for the DLT window counted from it."""
    path = cohort(tmp_path, base())
    text = Path(path).read_text(encoding="utf-8").replace('"as_of": "2027-06-01"',
                                                          '"as_of": "9999-12-31"')
    Path(path).write_text(text, encoding="utf-8")
    assert refused(capsys, path) == [
        f"{path}:1, field 'as_of': error: 9999-12-31: no date of the calendar lies 28 days after "
        "it (the DLT window and stagger count from it)"
    ]


def test_a_date_time_is_read_as_its_day(capsys, tmp_path):
    """As in fact files: a site's export writes `2026-01-05T14:30:00`; the decision is the one
    its days give, time and zone dropped."""
    records = patients(("DL1", "001"), ("DL2", "0"))
    assert cli.main(["escalate", SEED, cohort(tmp_path, records)]) == 0
    by_day = capsys.readouterr().out
    for record in records:
        record["infused"] += "T14:30:00+08:00"
        if "dlt" in record:
            record["dlt"]["date"] += " 23:59"
    assert cli.main(["escalate", SEED, cohort(tmp_path, records)]) == 0
    assert capsys.readouterr().out == by_day
