"""Long fact tables in: every example's patients written as a long CSV (one row per fact, as a
data team exports them) and as a Parquet file with its rows shuffled read back into exactly the
records of the JSON Lines file, and decide alike; bad tables refuse the patient they hold, with
its line, or the file in one line (exit 2).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cli
from engine.factfile import read_records
from engine.run import Screening
from protocol.errors import FactProblem
from tests.conftest import network_from_text

ROOT = Path(__file__).resolve().parents[1]
SEED = "examples/cd19-ucart-sle.proto-rules"
FACT_FILES = ["examples/patients.jsonl",
              *sorted(f"examples/{p.name}" for p in (ROOT / "examples").glob("*.patients.jsonl"))]

pytestmark = pytest.mark.usefixtures("at_root")


def json_records(path: str) -> list[dict[str, Any]]:
    return [json.loads(line, parse_float=Decimal)
            for line in (ROOT / path).read_text(encoding="utf-8").splitlines() if line.strip()]


def long_table(records: list[dict[str, Any]]) -> str:
    """The records as a long CSV: a row per fact, the patient's fields on every row, a row with
    no concept for a patient without facts; `reference_range` in two columns."""
    fields: list[str] = []
    for record in records:
        for fact in record["facts"]:
            for name in fact:
                names = ["reference_low", "reference_high"] if name == "reference_range" \
                    else [name]
                fields.extend(n for n in names if n not in fields and n != "concept")
    columns = ["patient", "screening_date", "birth_date", "concept", *fields]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        base = {k: record[k] for k in ("patient", "screening_date", "birth_date") if k in record}
        for fact in record["facts"] or [{}]:
            row = {**base, **{k: v for k, v in fact.items() if k != "reference_range"}}
            for bound, column in (("low", "reference_low"), ("high", "reference_high")):
                if bound in fact.get("reference_range", {}):
                    row[column] = fact["reference_range"][bound]
            writer.writerow([_cell(row[c]) if c in row else "" for c in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def written(tmp_path: Path, text: str, name: str = "facts.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("facts", FACT_FILES)
def test_a_long_csv_reads_as_the_json_lines_it_was_made_from(tmp_path, facts):
    records = json_records(facts)
    table = written(tmp_path, long_table(records))
    read = [data for _, data in read_records(table)]
    assert read == records


@pytest.mark.parametrize("facts", FACT_FILES[:3])
def test_a_shuffled_parquet_file_reads_as_the_json_lines_sorted_by_patient(tmp_path, facts):
    records = json_records(facts)
    table = written(tmp_path, long_table(records))
    parquet = tmp_path / "facts.parquet"
    duckdb.execute(f"COPY (SELECT * FROM read_csv('{table}', all_varchar = true) "
                   f"ORDER BY hash(concat(patient, concept, \"date\"))) TO '{parquet}' "
                   "(FORMAT parquet)")
    read = [data for _, data in read_records(str(parquet))]
    assert [_in_any_order(r) for r in read] == sorted(map(_in_any_order, records),
                                                      key=lambda r: r["patient"])


def _in_any_order(record: dict[str, Any]) -> dict[str, Any]:
    """A record with its facts sorted: a shuffled table keeps a patient's facts, not their order."""
    return {**record, "facts": sorted(record["facts"], key=lambda f: json.dumps(f, default=str,
                                                                                sort_keys=True))}


def test_typed_parquet_columns_read_as_exact_values(tmp_path):
    parquet = tmp_path / "typed.parquet"
    duckdb.execute(f"""COPY (SELECT * FROM (VALUES
        ('p1', DATE '2026-06-01', 'egfr', 45.1::DOUBLE, 'mL/min', DATE '2026-05-30', NULL),
        ('p1', DATE '2026-06-01', 'prior_chemo', NULL, NULL, DATE '2025-01-02', true))
        t(patient, screening_date, concept, value, unit, "date", ongoing)) TO '{parquet}'
        (FORMAT parquet)""")
    (record,) = [data for _, data in read_records(str(parquet))]
    assert record == {"patient": "p1", "screening_date": "2026-06-01", "facts": [
        {"concept": "egfr", "value": Decimal("45.1"), "unit": "mL/min", "date": "2026-05-30"},
        {"concept": "prior_chemo", "date": "2025-01-02", "ongoing": True}]}


def test_the_seed_patients_decide_alike_from_csv(capsys, tmp_path):
    table = written(tmp_path, long_table(json_records("examples/patients.jsonl")))
    decided = {}
    for facts in ("examples/patients.jsonl", table):
        assert cli.main(["run", SEED, facts, "--format", "json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
                 if line.startswith("{")]
        decided[facts] = [(d["patient"], d["decision"], d["verdicts"]) for d in lines]
    assert decided[table] == decided["examples/patients.jsonl"] and len(decided[table]) == 23


def test_a_trail_from_a_table_verifies_against_it(capsys, tmp_path):
    table = written(tmp_path, long_table(json_records("examples/patients.jsonl")))
    trail = str(tmp_path / "trail.jsonl")
    assert cli.main(["run", SEED, table, "--trail", trail, "--quiet"]) == 0
    assert cli.main(["verify", trail, "--facts", table]) == 0
    assert "intact" in capsys.readouterr().out
    assert cli.main(["replay", trail, "--protocol", SEED, "--facts", table]) == 0


# -- bad tables: the patient refused with its line, or the file in one line ------------------------ 

HEADER = "patient,screening_date,concept,value,unit,date,dose\n"


@pytest.mark.parametrize("rows, line, message", [
    ("p1,2026-06-01,egfr,45,mL/min,2026-05-30\n", 2,
     "the row has 6 cells where the header has 7"),
    (",2026-06-01,egfr,45,mL/min,2026-05-30,\n", 2, "field 'patient': error: no patient id"),
    ("p1,2026-06-01,egfr,45,mL/min,2026-05-30,\np1,2026-06-02,,,,,\n", 3,
     "patient p1, field 'screening_date': error: 2026-06-02 here, 2026-06-01 on an earlier row "
     "of the patient (line 2 on)"),
    ("p1,2026-06-01,,45,,,\n", 2, "patient p1, field 'value': error: a row without a concept "
                                  "has no fact to give this to"),
])
def test_a_bad_row_refuses_its_patient(tmp_path, rows, line, message):
    table = written(tmp_path, HEADER + rows + "p2,2026-06-01,egfr,50,mL/min,2026-05-30,\n")
    (first, problem), (_, second) = read_records(table)
    assert isinstance(problem, FactProblem) and problem.record == line
    assert message in str(problem) and str(problem).startswith(f"{table}:{line}")
    assert second["patient"] == "p2"


def test_rows_of_a_patient_apart_are_gathered_at_its_first_row(tmp_path):
    """A file sorted by date, or tables appended one after another: each patient's rows are
    gathered (sorted on disk), the patient at its first row, its facts in file order."""
    table = written(tmp_path, HEADER + "p1,2026-06-01,egfr,45,mL/min,2026-05-30,\n"
                    "p2,2026-06-01,egfr,50,mL/min,2026-05-30,\n"
                    "p1,2026-06-01,alt,20,U/L,2026-05-30,\n"
                    "p3,,,,,,\n"
                    "p2,,alt,x,U/L,2026-05-30,\n")
    records = list(read_records(table))
    assert [line for line, _ in records] == [2, 3, 5]
    assert [f["concept"] for f in records[0][1]["facts"]] == ["egfr", "alt"]
    assert not isinstance(records[1][1], FactProblem)
    assert [f["value"] for f in records[1][1]["facts"]] == [50, "x"]
    assert records[2][1] == {"patient": "p3", "facts": []}


@settings(max_examples=40, deadline=None)
@given(st.permutations([(p, n) for p in ("p1", "p2", "p3") for n in range(3)]))
def test_any_order_of_rows_reads_as_the_patients_grouped(tmp_path_factory, order):
    """Rows in any order give each patient once, at its first row, with its facts in the order
    of their rows."""
    lines = "".join(f"{p},2026-06-01,egfr,{n},mL/min,2026-05-{10 + n},\n" for p, n in order)
    table = written(tmp_path_factory.mktemp("t"), HEADER + lines)
    records = list(read_records(table))
    firsts = {}
    for line, (p, _) in enumerate(order, start=2):
        firsts.setdefault(p, line)
    assert [(line, data["patient"]) for line, data in records] == \
        sorted((line, p) for p, line in firsts.items())
    for _, data in records:
        assert [f["value"] for f in data["facts"]] == \
            [n for p, n in order if p == data["patient"]]


def test_a_file_the_csv_reader_cannot_read_is_refused_before_any_patient(tmp_path, capsys):
    table = written(tmp_path, HEADER + "p1,2026-06-01,egfr,45,mL/min,2026-05-30,\n"
                    f'p2,2026-06-01,egfr,"{"9" * (1 << 24 + 1)}",mL/min,2026-05-30,\n')
    assert cli.main(["run", "examples/cd19-ucart-sle.proto-rules", table, "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (f"proto-rules: cannot read fact file {table}: line 3: field "
                                 "larger than field limit (16777216)\n")


def test_a_long_value_is_quoted_cut(tmp_path):
    table = written(tmp_path, HEADER + f"p1,2026-06-01,egfr,{'x' * 500},mL/min,2026-05-30,\n")
    (_, record), = read_records(table)
    screening = Screening(network_from_text(
        'protocol "q" version "1"\nconcepts:\n  egfr: quantity in mL/min\n'
        'inclusion I1 "eGFR >= 30": egfr >= 30 mL/min\n'))
    (outcome,) = screening.screen([(2, record)], table)
    (problem,) = outcome.problems
    assert problem.message == ("egfr is measured: expected a number or a bound like '< 20', "
                               f'found "{"x" * 79}... (502 characters)')


def test_cells_the_schema_refuses_name_their_field(capsys, tmp_path):
    table = written(tmp_path, "patient,screening_date,concept,drug,unit,date,dose\n"
                    "p1,2026-06-01,glucocorticoid,prednisone,mg/d,2026-05-30,a lot\n")
    assert cli.main(["run", SEED, table]) == 2
    err = capsys.readouterr().err
    assert f'{table}:2, patient p1, fact #1, field \'dose\': error: expected a number, found ' \
        '"a lot"' in err
    assert "Traceback" not in err


def test_a_byte_that_is_not_utf8_costs_its_patient(capsys, tmp_path):
    path = tmp_path / "facts.csv"
    path.write_bytes(HEADER.encode() + b"p1,2026-06-01,sex,f\xe9male,,,\n"
                     b"p2,2026-06-01,sex,female,,,\n")
    assert cli.main(["run", SEED, str(path)]) == 2
    out, err = capsys.readouterr()
    assert f"{path}:2, patient p1, fact #1, field 'value': error: " in err
    assert "p2: " in out and "Traceback" not in err


@pytest.mark.parametrize("text, message", [
    ("patient,value\np1,3\n", "the header has no 'concept' column (it has 'patient', 'value')"),
    ("patient,concept,concept\n", "the header has 'concept' twice"),
    ("patient,concept,\n", "the header has a column without a name"),
])
def test_a_header_that_cannot_be_read_is_one_line(capsys, tmp_path, text, message):
    table = written(tmp_path, text)
    assert cli.main(["run", SEED, table]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"proto-rules: cannot read fact file {table}: {message}"


def test_parquet_that_cannot_be_read_is_one_line(capsys, tmp_path):
    fake = written(tmp_path, "not parquet", "facts.parquet")
    assert cli.main(["run", SEED, fake]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"proto-rules: cannot read fact file {fake}: ") and "\n" not in err
    nameless = tmp_path / "nameless.parquet"
    duckdb.execute(f"COPY (SELECT 'x' AS who, 'sex' AS concept) TO '{nameless}' (FORMAT parquet)")
    assert cli.main(["run", SEED, str(nameless)]) == 2
    assert capsys.readouterr().err.strip() == (f"proto-rules: cannot read fact file {nameless}: "
                                               "the table has no 'patient' column")


def test_an_empty_table(capsys, tmp_path):
    assert [(line, str(p)) for line, p in read_records(written(tmp_path, ""))] == [
        (0, f"{tmp_path / 'facts.csv'}:0: error: the fact file is empty")]
    assert list(read_records(written(tmp_path, HEADER))) == []
