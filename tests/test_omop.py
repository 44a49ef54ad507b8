"""OMOP CDM in: a small synthetic OMOP database, built here in DuckDB (person, measurement,
condition_occurrence, drug_exposure, procedure_occurrence, observation), read through a mapping
file into exactly the records its JSON twin holds, and decided alike; a mapping file or database
that cannot be used is one line (exit 2).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

import cli
from engine.factfile import read_records

PROTOCOL = '''protocol "omop-demo"
version "1"
concepts:
    age: age
    sex: category {female, male}
    egfr: quantity in mL/min/1.73m2 valid for 28 days
    alt: lab in U/L valid for 28 days
    hiv_antibody: category {negative, positive} valid for 28 days
    informed_consent_signed: flag
    active_tuberculosis: event
    car_t_therapy: event
    glucocorticoid: medication {prednisone, methylprednisolone}
inclusion I1 "Aged 18 or more": age >= 18 years
inclusion I2 "eGFR at least 30": egfr >= 30 mL/min/1.73m2
inclusion I3 "ALT at most 3 x ULN": alt <= 3.0 x ULN
inclusion I4 "Signed consent": informed_consent_signed
exclusion E1 "HIV positive": hiv_antibody is positive
exclusion E2 "Tuberculosis in the past year": active_tuberculosis within 12 months before screening
exclusion E3 "Prior CAR-T": car_t_therapy ever
exclusion E4 "Glucocorticoids in the past 30 days": glucocorticoid within 30 days before screening
exclusion E5 "Men under 21": sex is male and age < 21 years
'''

MAPPING = '''omop: omop.duckdb
screening_date: 2026-06-01
person:
  sex: {gender: {8532: female, 8507: male}}
concepts:
  egfr: {measurement: [3049187], unit: mL/min/1.73m2}
  alt: {measurement: [3006923]}
  hiv_antibody: {measurement: [3013740], values: {9189: negative, 9191: positive}}
  informed_consent_signed: {observation: [4248745], values: {4188539: true, 4188540: false}}
  active_tuberculosis: {condition_occurrence: [434557], complete: true}
  car_t_therapy: {procedure_occurrence: [4324190, 42539502], complete: true}
  glucocorticoid: {drug_exposure: {1551099: prednisone, 1506270: methylprednisolone},
                   complete: true}
'''

#: Tables as the OMOP CDM 5.4 has them, with the columns the mapping reads and a few it does not.
SCHEMA = """
CREATE TABLE person (person_id BIGINT, gender_concept_id INTEGER, year_of_birth INTEGER,
    month_of_birth INTEGER, day_of_birth INTEGER, race_concept_id INTEGER,
    ethnicity_concept_id INTEGER);
CREATE TABLE measurement (measurement_id BIGINT, person_id BIGINT,
    measurement_concept_id INTEGER, measurement_date DATE, operator_concept_id INTEGER,
    value_as_number DOUBLE, value_as_concept_id INTEGER, unit_concept_id INTEGER,
    range_low DOUBLE, range_high DOUBLE, unit_source_value VARCHAR);
CREATE TABLE condition_occurrence (condition_occurrence_id BIGINT, person_id BIGINT,
    condition_concept_id INTEGER, condition_start_date DATE, condition_end_date DATE);
CREATE TABLE drug_exposure (drug_exposure_id BIGINT, person_id BIGINT, drug_concept_id INTEGER,
    drug_exposure_start_date DATE, drug_exposure_end_date DATE, quantity DOUBLE);
CREATE TABLE procedure_occurrence (procedure_occurrence_id BIGINT, person_id BIGINT,
    procedure_concept_id INTEGER, procedure_date DATE);
CREATE TABLE observation (observation_id BIGINT, person_id BIGINT, observation_concept_id INTEGER,
    observation_date DATE, value_as_number DOUBLE, value_as_string VARCHAR,
    value_as_concept_id INTEGER, unit_source_value VARCHAR);

INSERT INTO person VALUES (1, 8532, 1990, 4, 2, 0, 0), (2, 8507, 2010, 1, 1, 0, 0),
    (3, 8532, 1975, 12, 31, 0, 0), (4, 8507, 1980, NULL, NULL, 0, 0);
INSERT INTO measurement VALUES
    (10, 1, 3049187, '2026-05-20', NULL, 58, NULL, 8795, NULL, NULL, NULL),
    (11, 1, 3006923, '2026-05-20', NULL, 28.5, NULL, 8645, 7, 40, 'U/L'),
    (12, 1, 3013740, '2026-05-19', NULL, NULL, 9189, NULL, NULL, NULL, NULL),
    (13, 2, 3049187, '2026-05-25', 4171756, 30, NULL, 8795, NULL, NULL, 'mL/min/1.73m2'),
    (14, 3, 3049187, '2026-05-21', NULL, 75, NULL, 8795, NULL, NULL, NULL),
    (15, 3, 3006923, '2026-05-21', NULL, 150, NULL, 8645, NULL, 40, 'U/L'),
    (16, 3, 3013740, '2026-05-21', NULL, NULL, 9191, NULL, NULL, NULL, NULL),
    (17, 3, 9999999, '2026-05-21', NULL, 1, NULL, NULL, NULL, NULL, 'x');
INSERT INTO condition_occurrence VALUES (20, 3, 434557, '2025-11-03', '2026-02-01'),
    (21, 1, 201826, '2019-01-01', NULL);
INSERT INTO drug_exposure VALUES (30, 3, 1506270, '2026-05-10', '2026-05-20', 30),
    (31, 1, 1551099, '2025-01-01', '2025-02-01', 60);
INSERT INTO procedure_occurrence VALUES (40, 2, 4324190, '2024-03-01');
INSERT INTO observation VALUES (50, 1, 4248745, '2026-05-18', NULL, NULL, 4188539, NULL),
    (51, 2, 4248745, '2026-05-18', NULL, NULL, 4188539, NULL),
    (52, 3, 4248745, '2026-05-18', NULL, NULL, 4188540, NULL);
"""

#: The same persons as the fact format has them: what the mapping must read.
TWIN = [
    {"patient": "1", "screening_date": "2026-06-01", "birth_date": "1990-04-02", "facts": [
        {"concept": "sex", "value": "female"},
        {"concept": "egfr", "value": Decimal("58.0"), "unit": "mL/min/1.73m2",
         "date": "2026-05-20"},
        {"concept": "alt", "value": Decimal("28.5"), "unit": "U/L", "date": "2026-05-20",
         "reference_range": {"low": Decimal("7.0"), "high": Decimal("40.0")}},
        {"concept": "hiv_antibody", "value": "negative", "date": "2026-05-19"},
        {"concept": "glucocorticoid", "date": "2025-01-01", "end": "2025-02-01",
         "drug": "prednisone"},
        {"concept": "informed_consent_signed", "value": True, "date": "2026-05-18"},
        {"concept": "active_tuberculosis", "present": False},
        {"concept": "car_t_therapy", "present": False}]},
    {"patient": "2", "screening_date": "2026-06-01", "birth_date": "2010-01-01", "facts": [
        {"concept": "sex", "value": "male"},
        {"concept": "egfr", "value": Decimal("30.0"), "unit": "mL/min/1.73m2",
         "date": "2026-05-25", "comparator": "<"},
        {"concept": "car_t_therapy", "date": "2024-03-01"},
        {"concept": "informed_consent_signed", "value": True, "date": "2026-05-18"},
        {"concept": "active_tuberculosis", "present": False},
        {"concept": "glucocorticoid", "present": False}]},
    {"patient": "3", "screening_date": "2026-06-01", "birth_date": "1975-12-31", "facts": [
        {"concept": "sex", "value": "female"},
        {"concept": "egfr", "value": Decimal("75.0"), "unit": "mL/min/1.73m2",
         "date": "2026-05-21"},
        {"concept": "alt", "value": Decimal("150.0"), "unit": "U/L", "date": "2026-05-21",
         "reference_range": {"high": Decimal("40.0")}},
        {"concept": "hiv_antibody", "value": "positive", "date": "2026-05-21"},
        {"concept": "active_tuberculosis", "date": "2025-11-03", "end": "2026-02-01"},
        {"concept": "glucocorticoid", "date": "2026-05-10", "end": "2026-05-20",
         "drug": "methylprednisolone"},
        {"concept": "informed_consent_signed", "value": False, "date": "2026-05-18"},
        {"concept": "car_t_therapy", "present": False}]},
    {"patient": "4", "screening_date": "2026-06-01", "facts": [
        {"concept": "sex", "value": "male"},
        {"concept": "active_tuberculosis", "present": False},
        {"concept": "car_t_therapy", "present": False},
        {"concept": "glucocorticoid", "present": False}]},
]


@pytest.fixture()
def omop(tmp_path: Path) -> Path:
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute(SCHEMA)
    connection.close()
    (tmp_path / "omop-demo.proto-rules").write_text(PROTOCOL, encoding="utf-8")
    mapping = tmp_path / "cohort.omop.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return mapping


def test_the_omop_database_reads_as_its_json_twin(omop):
    assert [data for _, data in read_records(str(omop))] == TWIN
    assert [line for line, _ in read_records(str(omop))] == [1, 2, 3, 4]


def test_it_decides_as_its_json_twin(capsys, omop, tmp_path):
    twin = tmp_path / "twin.jsonl"
    twin.write_text("".join(json.dumps(r, default=float) + "\n" for r in TWIN), encoding="utf-8")
    protocol = str(tmp_path / "omop-demo.proto-rules")
    decided = {}
    for facts in (str(omop), str(twin)):
        assert cli.main(["run", protocol, facts, "--format", "json"]) == 0
        decided[facts] = [(d["patient"], d["decision"], d["verdicts"]) for d in map(
            json.loads, capsys.readouterr().out.splitlines()) if isinstance(d, dict)]
    assert decided[str(omop)] == decided[str(twin)]
    assert [(p, decision) for p, decision, _ in decided[str(twin)]] == [
        ("1", "ELIGIBLE"), ("2", "INELIGIBLE"), ("3", "INELIGIBLE"), ("4", "NEEDS_REVIEW")]


@pytest.mark.parametrize("mapping, message", [
    ("concepts: {}\n", "a mapping file names its database: omop: FILE.duckdb"),
    ("omop: omop.duckdb\nconcept: {}\n", "concept: not a key here (known: concepts, omop, "
                                         "person, screening_date)"),
    ("omop: omop.duckdb\nscreening_date: soon\n", "screening_date: 'soon' is not a date"),
    ("omop: omop.duckdb\nconcepts: {egfr: {measurements: [1]}}\n",
     "concepts.egfr.measurements: not a key here"),
    ("omop: omop.duckdb\nconcepts: {egfr: {unit: mL/min}}\n",
     "concepts.egfr: names no table to read it from"),
    ("omop: omop.duckdb\nconcepts: {egfr: {measurement: [egfr]}}\n",
     "concepts.egfr.measurement: 'egfr' is not a concept id (a whole number)"),
    ("omop: omop.duckdb\nperson: {sex: {sex: {8532: female}}}\n",
     "person.sex.sex: not a key here (known: ethnicity, gender, race)"),
    ("omop: omop.duckdb\nconcepts: {mi: {condition_occurrence: [1], complete: yes please}}\n",
     "concepts.mi.complete: true or false, not 'yes please'"),
    ("omop: omop.duckdb\nconcepts: [1\n", "not YAML: "),
    ("omop: elsewhere.duckdb\n", "cannot open the OMOP database "),
])
def test_a_mapping_that_cannot_be_used_is_one_line(capsys, omop, mapping, message):
    omop.write_text(mapping, encoding="utf-8")
    protocol = str(omop.parent / "omop-demo.proto-rules")
    assert cli.main(["run", protocol, str(omop)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(f"proto-rules: {omop}: "), err
    assert message in err


def test_a_database_without_a_mapped_table(capsys, omop, tmp_path):
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute("DROP TABLE observation")
    connection.close()
    assert cli.main(["run", str(tmp_path / "omop-demo.proto-rules"), str(omop)]) == 2
    assert capsys.readouterr().err == (f"proto-rules: {omop}: the OMOP database "
                                       f"{tmp_path / 'omop.duckdb'} has no observation table\n")


def test_a_mapping_of_one_table_is_read(omop):
    """The long table names every column whatever the mapping reads: a mapping of measurements
    only failed in DuckDB ('Referenced column "end" not found')."""
    omop.write_text("omop: omop.duckdb\nscreening_date: 2026-06-01\n"
                    "concepts:\n  egfr: {measurement: [3049187], unit: mL/min/1.73m2}\n",
                    encoding="utf-8")
    records = [data for _, data in read_records(str(omop))]
    assert [(r["patient"], [f["concept"] for f in r["facts"]]) for r in records] == [
        ("1", ["egfr"]), ("2", ["egfr"]), ("3", ["egfr"]), ("4", [])]
    omop.write_text("omop: omop.duckdb\nscreening_date: 2026-06-01\n", encoding="utf-8")
    assert [r["patient"] for _, r in read_records(str(omop))] == ["1", "2", "3", "4"]


def test_a_person_who_cannot_be_read_is_refused_alone(capsys, omop, tmp_path):
    """A birth date that is no day (30 February) stopped the whole query; a person without an
    id was decided as patient 'None'. Each is now that record's problem."""
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute("INSERT INTO person VALUES (5, 8532, 1990, 2, 30, 0, 0), "
                       "(NULL, 8532, 1990, 1, 1, 0, 0)")
    connection.close()
    assert cli.main(["run", str(tmp_path / "omop-demo.proto-rules"), str(omop)]) == 2
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()[:4]] == ["1", "2", "3", "4"]
    assert f"{omop}:5, patient 5, field 'birth_date': error: " in err
    assert f"{omop}:6, field 'patient': error: no patient id" in err
    assert "None" not in out + err
