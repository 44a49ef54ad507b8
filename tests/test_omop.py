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
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from engine.factfile import read_records
from protocol.errors import UsageError

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
    drug_exposure_start_date DATE, drug_exposure_end_date DATE, quantity DOUBLE,
    days_supply INTEGER);
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
INSERT INTO drug_exposure VALUES (30, 3, 1506270, '2026-05-10', '2026-05-20', 30, 10),
    (31, 1, 1551099, '2025-01-01', '2025-02-01', 60, 31);
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
    # OMOP's year of birth alone (month and day NULL): any day of 1980, so 45 or 46 at screening
    {"patient": "4", "screening_date": "2026-06-01", "birth_date": "1980", "facts": [
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
                                         "person, screening_date, units)"),
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
    ("omop: omop.duckdb\nconcepts: {mi: {condition_occurrence: [1], descendants: 1}}\n",
     "concepts.mi.descendants: true or false, not 1"),
    ("omop: omop.duckdb\nunits: {mg: 8576}\n", "units: 'mg' is not a concept id"),
    ("omop: omop.duckdb\nconcepts: {mi: {condition_occurrence: [1], dose: drug_strength}}\n",
     "concepts.mi.dose: a drug_exposure concept's dose is read from drug_strength"),
    ("omop: omop.duckdb\nconcepts: {gc: {drug_exposure: [1], dose: sig}}\n",
     "(dose: drug_strength), not 'sig'"),
    ("omop: omop.duckdb\nconcepts: {gc: {drug_exposure: [1], dose: drug_strength}}\n",
     "has no drug_strength table (concepts.gc.dose reads it)"),
    ("omop: omop.duckdb\nunits: [8576]\n", "units: a mapping was expected, not [8576]"),
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


#: A piece of the vocabulary's hierarchy: pulmonary tuberculosis under tuberculosis, a prednisone
#: tablet under prednisone, a combination product under both glucocorticoids, and (so that a
#: listed id is read as listed) methylprednisolone under prednisone.
ANCESTORS = """
CREATE TABLE concept_ancestor (ancestor_concept_id INTEGER, descendant_concept_id INTEGER,
    min_levels_of_separation INTEGER, max_levels_of_separation INTEGER);
INSERT INTO concept_ancestor VALUES (434557, 434557, 0, 0), (434557, 253954, 1, 1),
    (1551099, 1551099, 0, 0), (1551099, 19078925, 2, 2), (1551099, 40000001, 2, 2),
    (1506270, 40000001, 2, 2), (1551099, 1506270, 1, 1);
INSERT INTO condition_occurrence VALUES (22, 1, 253954, '2026-01-10', NULL);
INSERT INTO drug_exposure VALUES (32, 2, 19078925, '2026-05-01', '2026-05-10', 10, 10),
    (33, 4, 40000001, '2026-04-01', '2026-04-05', 5, 5);
"""


def _histories(mapping: Path) -> list[tuple[str, list[tuple]]]:
    return [(r["patient"], [(f["concept"], f.get("drug"), f.get("date")) for f in r["facts"]
                            if f["concept"] in ("active_tuberculosis", "glucocorticoid")])
            for _, r in read_records(str(mapping))]


def test_descendants_are_read_as_their_ancestor_where_the_mapping_asks(omop, tmp_path):
    """OHDSI's concept sets read an id with its descendants: a condition under the one listed,
    a clinical drug under its ingredient (as that drug). Without `descendants` they are rows of
    concepts the mapping does not name."""
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute(ANCESTORS)
    connection.close()
    without = _histories(omop)
    assert without == [
        ("1", [("glucocorticoid", "prednisone", "2025-01-01"),
               ("active_tuberculosis", None, None)]),
        ("2", [("active_tuberculosis", None, None), ("glucocorticoid", None, None)]),
        ("3", [("active_tuberculosis", None, "2025-11-03"),
               ("glucocorticoid", "methylprednisolone", "2026-05-10")]),
        ("4", [("active_tuberculosis", None, None), ("glucocorticoid", None, None)])]
    omop.write_text(MAPPING.replace("complete: true}", "complete: true, descendants: true}"),
                    encoding="utf-8")
    assert _histories(omop) == [
        ("1", [("active_tuberculosis", None, "2026-01-10"),
               ("glucocorticoid", "prednisone", "2025-01-01")]),
        ("2", [("glucocorticoid", "prednisone", "2026-05-01"),
               ("active_tuberculosis", None, None)]),
        # listed as methylprednisolone, and not also read as a prednisone it descends from
        ("3", [("active_tuberculosis", None, "2025-11-03"),
               ("glucocorticoid", "methylprednisolone", "2026-05-10")]),
        # a combination product: a course of each drug it descends from, in one order
        ("4", [("glucocorticoid", "methylprednisolone", "2026-04-01"),
               ("glucocorticoid", "prednisone", "2026-04-01"),
               ("active_tuberculosis", None, None)])]


def test_descendants_need_the_vocabulary(capsys, omop, tmp_path):
    omop.write_text(MAPPING.replace("[434557], complete: true}",
                                    "[434557], complete: true, descendants: true}"),
                    encoding="utf-8")
    assert cli.main(["run", str(tmp_path / "omop-demo.proto-rules"), str(omop)]) == 2
    assert capsys.readouterr().err == (
        f"proto-rules: {omop}: the OMOP database {tmp_path / 'omop.duckdb'} has no "
        f"concept_ancestor table (concepts.active_tuberculosis.descendants reads it)\n")


def _units(mapping: Path) -> list[tuple[str, str, str]]:
    return [(r["patient"], f["concept"], f["unit"]) for _, r in read_records(str(mapping))
            for f in r["facts"] if "unit" in f]


def test_a_unit_concept_is_read_through_the_mapping_then_the_vocabulary(omop, tmp_path):
    """`unit_concept_id` is the CDM's unit: the mapping's `units` say what one is, else the
    vocabulary's UCUM code; only without either is `unit_source_value` read, then the
    concept's `unit`."""
    before = _units(omop)
    assert before == [("1", "egfr", "mL/min/1.73m2"), ("1", "alt", "U/L"),
                      ("2", "egfr", "mL/min/1.73m2"), ("3", "egfr", "mL/min/1.73m2"),
                      ("3", "alt", "U/L")]
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute("""
        CREATE TABLE concept (concept_id INTEGER, concept_name VARCHAR, vocabulary_id VARCHAR,
            concept_code VARCHAR);
        INSERT INTO concept VALUES (8645, 'unit per liter', 'UCUM', 'U/L'),
            (8795, 'milliliter per minute per 1.73 square meter', 'UCUM', 'mL/min/{1.73_m2}'),
            (8840, 'milligram per deciliter', 'UCUM', 'mg/dL'),
            (434557, 'Tuberculosis', 'SNOMED', '56717001');
        UPDATE measurement SET unit_concept_id = 8840, unit_source_value = 'mmol/L'
            WHERE measurement_id = 15;
        UPDATE measurement SET unit_concept_id = 434557 WHERE measurement_id = 11;
        """)
    connection.close()
    omop.write_text(MAPPING.replace("egfr: {measurement: [3049187], unit: mL/min/1.73m2}",
                                    "egfr: {measurement: [3049187]}")
                    + "units: {8795: mL/min/1.73m2}\n", encoding="utf-8")
    assert _units(omop) == [("1", "egfr", "mL/min/1.73m2"), ("1", "alt", "U/L"),
                            ("2", "egfr", "mL/min/1.73m2"), ("3", "egfr", "mL/min/1.73m2"),
                            ("3", "alt", "mg/dL")]


def test_each_person_is_screened_on_their_cohort_entry(capsys, omop, tmp_path):
    """`screening_date: {cohort: ID}`: the persons of an OHDSI cohort table's cohort, each on
    its own start date; a person with two entries has two screening dates (refused, naming
    both), and one outside the cohort is not screened."""
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute("""
        CREATE TABLE cohort (cohort_definition_id INTEGER, subject_id BIGINT,
            cohort_start_date DATE, cohort_end_date DATE);
        INSERT INTO cohort VALUES (7, 1, '2026-05-21', '2026-12-31'),
            (7, 3, '2026-05-25', '2026-12-31'), (7, 2, '2026-05-26', NULL),
            (7, 2, '2026-06-02', NULL), (8, 4, '2026-06-01', NULL);
        """)
    connection.close()
    omop.write_text(MAPPING.replace("screening_date: 2026-06-01", "screening_date: {cohort: 7}"),
                    encoding="utf-8")
    records = list(read_records(str(omop)))
    assert [line for line, _ in records] == [1, 2, 3]
    assert [(data["patient"], data["screening_date"]) for _, data in records
            if isinstance(data, dict)] == [("1", "2026-05-21"), ("3", "2026-05-25")]
    assert cli.main(["run", str(tmp_path / "omop-demo.proto-rules"), str(omop)]) == 2
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()[:2]] == ["1", "3"]
    assert "patient 2" in err and "2026-05-26" in err and "2026-06-02" in err, err
    assert "patient 4" not in out + err


@pytest.mark.parametrize("screening, message", [
    ("{cohort: seven}", "screening_date.cohort: 'seven' is not a concept id"),
    ("{cohorts: 7}", "screening_date.cohorts: not a key here (known: cohort)"),
    ("{cohort: 7}", "has no cohort table (screening_date.cohort reads it)"),
])
def test_a_cohort_that_cannot_be_read_is_one_line(capsys, omop, tmp_path, screening, message):
    omop.write_text(MAPPING.replace("2026-06-01", screening), encoding="utf-8")
    assert cli.main(["run", str(tmp_path / "omop-demo.proto-rules"), str(omop)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err


GLUCOCORTICOID = "1506270: methylprednisolone},\n                   complete: true}"


def test_a_course_reads_its_daily_dose_from_the_ingredients_strength(omop, tmp_path):
    """`dose: drug_strength`: OHDSI's daily dose of the ingredient, quantity x its amount per
    unit / days_supply, in the strength's unit per day, exact or rounded once to six places;
    none where the drug has no strength of that ingredient or the days are not given."""
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute(ANCESTORS)
    connection.execute("""
        CREATE TABLE drug_strength (drug_concept_id INTEGER, ingredient_concept_id INTEGER,
            amount_value DOUBLE, amount_unit_concept_id INTEGER);
        INSERT INTO drug_strength VALUES (19078925, 1551099, 5, 8576),
            (40000001, 1551099, 2.5, 8576), (40000001, 1506270, 4, 8576);
        INSERT INTO drug_exposure VALUES (34, 1, 19078925, '2026-05-20', NULL, 30, 7),
            (35, 3, 19078925, '2026-05-01', NULL, 30, NULL);
        """)
    connection.close()
    omop.write_text(MAPPING.replace(GLUCOCORTICOID, GLUCOCORTICOID[:-1] + ", descendants: "
                                    "true, dose: drug_strength}") + "units: {8576: mg}\n",
                    encoding="utf-8")
    courses = [(r["patient"], f["drug"], f["date"], f.get("dose"), f.get("unit"))
               for _, r in read_records(str(omop)) for f in r["facts"] if "drug" in f]
    assert courses == [
        ("1", "prednisone", "2025-01-01", None, None),  # the ingredient itself: no strength
        ("1", "prednisone", "2026-05-20", Decimal("21.428571"), "mg/d"),  # 30 x 5 mg / 7 d
        ("2", "prednisone", "2026-05-01", Decimal("5"), "mg/d"),  # 10 x 5 mg / 10 d
        ("3", "methylprednisolone", "2026-05-10", None, None),
        ("3", "prednisone", "2026-05-01", None, None),  # no days_supply
        ("4", "methylprednisolone", "2026-04-01", Decimal("4"), "mg/d"),  # 5 x 4 mg / 5 d
        ("4", "prednisone", "2026-04-01", Decimal("2.5"), "mg/d")]

    omop.write_text(omop.read_text(encoding="utf-8").replace("units: {8576: mg}", ""),
                    encoding="utf-8")
    with pytest.raises(UsageError, match=r"drug_strength gives the mapped drugs' amounts in "
                       r"unit concept 8576, which neither units nor a UCUM concept names: say "
                       r"it in units \(\{8576: mg\}\)"):
        list(read_records(str(omop)))


_KEYS = st.sampled_from(["omop", "screening_date", "person", "concepts", "units", "cohort",
                         "measurement", "drug_exposure", "values", "unit", "complete",
                         "descendants", "dose", "gender", "egfr", "gc", 3049187, "drug_strength"])
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2, 10**10), st.text(max_size=8),
                    st.dates().map(str), st.just("omop.duckdb"), st.just("drug_strength"))
_TREES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=12)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.dictionaries(_KEYS, _TREES, max_size=5))
def test_any_mapping_is_read_or_refused_in_one_line(tmp_path_factory, tree):
    """A mapping file of any shape (keys the format knows, values of any type) reads its persons,
    or is refused in one line (UsageError), never raised past it: the database is the same."""
    folder = tmp_path_factory.mktemp("any")
    connection = duckdb.connect(str(folder / "omop.duckdb"))
    connection.execute(SCHEMA)
    connection.close()
    mapping = folder / "any.omop.yaml"
    mapping.write_text(yaml.safe_dump({"omop": "omop.duckdb", **tree}), encoding="utf-8")
    try:
        records = list(read_records(str(mapping)))
    except UsageError as error:
        assert "\n" not in str(error) and str(error).startswith(f"{mapping}: "), error
        return
    assert all(line >= 1 for line, _ in records)


def test_the_trail_hashes_the_rows_read_and_verify_reads_them_again(capsys, omop, tmp_path):
    """The fact hash of an OMOP run is the mapping file's and every row it reads: `verify
    --facts` reads the database again, and a mapped row changed since is named as a changed
    fact source; a row the mapping does not read changes nothing."""
    protocol, trail = str(tmp_path / "omop-demo.proto-rules"), str(tmp_path / "trail.jsonl")
    assert cli.main(["run", protocol, str(omop), "--trail", trail]) == 0
    capsys.readouterr()
    assert cli.main(["verify", trail, "--facts", str(omop)]) == 0
    assert f"facts file {omop} matches the run header" in capsys.readouterr().out
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute("INSERT INTO measurement VALUES (18, 4, 9999999, '2026-05-21', NULL, 1, "
                       "NULL, NULL, NULL, NULL, 'x')")  # a concept the mapping does not read
    connection.close()
    assert cli.main(["verify", trail, "--facts", str(omop)]) == 0
    capsys.readouterr()
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute("UPDATE measurement SET value_as_number = 59 WHERE measurement_id = 10")
    connection.close()
    assert cli.main(["verify", trail, "--facts", str(omop)]) == 1
    assert f"the facts file {omop} is not the one the run read" in capsys.readouterr().out


def test_a_blank_unit_source_value_is_no_unit(omop, tmp_path):
    """A registry's extract leaves unit_source_value '' where it has none: that is no unit, so
    the concept's own (`unit:` in the map) stands, as for NULL (the data team's rows were refused
    as giving a blank unit)."""
    connection = duckdb.connect(str(tmp_path / "omop.duckdb"))
    connection.execute("UPDATE measurement SET unit_concept_id = NULL, unit_source_value = ' ' "
                       "WHERE measurement_id = 14")
    connection.close()
    records = {r["patient"]: r for _, r in read_records(str(omop))}
    (egfr,) = [f for f in records["3"]["facts"] if f["concept"] == "egfr"]
    assert egfr["unit"] == "mL/min/1.73m2"
