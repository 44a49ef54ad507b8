"""OMOP CDM in: the persons of a DuckDB database with their rows in measurement,
condition_occurrence, drug_exposure, procedure_occurrence and observation, read as patient records
through a mapping file (`NAME.omop.yaml`) that says which concept ids are which protocol concept.

The mapping is the only source of meaning: a row whose concept id the file does not name is not
read (or, where the mapping asks for descendants, descends from none it names in the database's
own `concept_ancestor`), and a value concept it does not map is no value. DuckDB turns the tables
into one long table sorted by person (`SELECT ... UNION ALL ... ORDER BY person_id`), read in
batches into the records a long fact table gives (`engine.tables.patients_of`): one person at a
time in memory.

>>> sorted(TABLES)
['condition_occurrence', 'drug_exposure', 'measurement', 'observation', 'procedure_occurrence']
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator

import yaml

from engine.factfile import one_record_per_patient
from engine.tables import DuckFacts, cell_text, patients_of
from protocol.errors import FactProblem, UsageError
from protocol.units import quantize

#: Per table: its row id, concept id and date columns, the end date's, and what else it gives.
TABLES = {
    "measurement": ("measurement_id", "measurement_concept_id", "measurement_date", None),
    "condition_occurrence": ("condition_occurrence_id", "condition_concept_id",
                             "condition_start_date", "condition_end_date"),
    "drug_exposure": ("drug_exposure_id", "drug_concept_id", "drug_exposure_start_date",
                      "drug_exposure_end_date"),
    "procedure_occurrence": ("procedure_occurrence_id", "procedure_concept_id", "procedure_date",
                             None),
    "observation": ("observation_id", "observation_concept_id", "observation_date", None),
}
#: The person table's coded fields a category or flag concept may be read from.
PERSON_FIELDS = {"gender": "gender_concept_id", "race": "race_concept_id",
                 "ethnicity": "ethnicity_concept_id"}
#: operator_concept_id (the Meas Value Operator concepts) as the fact format's comparator.
COMPARATORS = {4171756: "<", 4171754: "<=", 4172704: ">", 4171755: ">="}
#: The records' columns, as a long fact table's (`engine.tables`).
COLUMNS = ["patient", "screening_date", "birth_date", "concept", "value", "unit", "date", "end",
           "drug", "dose", "reference_low", "reference_high", "comparator"]


class OmopFacts(DuckFacts):
    """An OMOP database read through its mapping file, as a stream of patient records. The
    trail's fact hash is the mapping file's and the rows read (`sha256`), not the database
    file's, which DuckDB may rewrite as it opens it."""

    def __init__(self, path: str) -> None:
        import duckdb  # only for OMOP and Parquet sources

        self.path = path
        data = Path(path).read_bytes()
        self._digest = hashlib.sha256(data)  # the mapping's bytes, then every row fetched
        self.mapping = Mapping.read(path, data)
        try:
            self._connection = duckdb.connect(str(self.mapping.database), read_only=True)
        except duckdb.Error as error:
            raise UsageError(f"{path}: cannot open the OMOP database {self.mapping.database}: "
                             f"{str(error).splitlines()[0]}") from None
        try:
            self._cursor = self.mapping.query(self._connection)
        except duckdb.Error as error:
            self._connection.close()
            raise UsageError(f"{path}: cannot read the OMOP database {self.mapping.database}: "
                             f"{str(error).splitlines()[0]}") from None

    def records(self) -> Iterator[tuple[int, Any | FactProblem]]:
        people = patients_of(self._rows(), COLUMNS, self.path)
        yield from one_record_per_patient(self._completed(people), self.path)

    def _completed(self, people: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        """Each person's record with `present: false` for every concept the mapping calls
        complete (`complete: true`) of which the person has no row."""
        for number, record in people:
            if isinstance(record, dict):
                seen = {fact["concept"] for fact in record["facts"]}
                record["facts"].extend({"concept": concept, "present": False}
                                       for concept in self.mapping.complete if concept not in seen)
            yield number, record

    def sha256(self) -> str:
        """The SHA-256 of the mapping file and of every row the query gives, as fetched (the
        rest, when a run was cut short, is fetched for it and not decided): a database whose
        rows the mapping reads differently since the run is not the one the run read."""
        while self._fetched():
            pass
        return self._digest.hexdigest()

    def _fetched(self) -> list[tuple]:
        """The next batch of rows, hashed as it is fetched: each row's cells as text."""
        batch = self._cursor.fetchmany(self.BATCH)
        self._digest.update("".join("\x1f".join(map(cell_text, row)) + "\n"
                                    for row in batch).encode("utf-8", "surrogatepass"))
        return batch

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        """Each row as a long table's cells, numbered by its person's place (from 1)."""
        person, number = _NO_ONE, 0
        while batch := self._fetched():
            for (key, screening, birth, concept, number_value, text_value, unit, day, end, drug,
                 low, high, comparator, quantity, days_supply, amount) in batch:
                if key != person:
                    person, number = key, number + 1
                value = cell_text(number_value) if number_value is not None else text_value
                dose = unit = cell_text(unit)
                if amount is not None:  # a course with its ingredient's strength: a dose per day
                    dose = _daily_dose(quantity, amount, days_supply)
                    unit = f"{unit}/d" if dose else ""
                yield number, ["" if key is None else str(key), cell_text(screening),
                               cell_text(birth), cell_text(concept), value or "", unit,
                               cell_text(day), cell_text(end), cell_text(drug),
                               dose if amount is not None else "", cell_text(low),
                               cell_text(high), cell_text(comparator)]


#: No person yet: a person's id may be NULL, which makes a record without an id (refused).
_NO_ONE = object()


def _daily_dose(quantity: Any, amount: Any, days_supply: Any) -> str:
    """OHDSI's daily dose of an ingredient in a solid form: the quantity dispensed times the
    ingredient's amount per unit (`drug_strength.amount_value`), over `days_supply`; exact, or
    rounded once to six places as a converted value is (150 mg over 7 days: 21.428571 mg/d).
    No dose ("") where one of the three is missing or not above zero.

    >>> _daily_dose(30.0, 5.0, 20), _daily_dose(150, 1.0, 7), _daily_dose(30.0, None, 30)
    ('7.5', '21.428571', '')
    """
    try:
        quantity, amount, days = (Decimal(cell_text(v)) for v in (quantity, amount, days_supply))
    except InvalidOperation:  # a NULL (""), or a double that is no number
        return ""
    if min(quantity, amount, days) <= 0 or not days.is_finite():
        return ""
    return format(quantize(quantity * amount / days).normalize(), "f")


class Mapping:
    """What a mapping file says: the database, the screening date, and per protocol concept the
    concept ids it is read from (per table), its value concepts, and its unit."""

    def __init__(self, path: str, database: Path, screening: str | int | None) -> None:
        # the screening date, or the cohort whose start dates are the persons' screening dates
        self.path, self.database, self.screening = path, database, screening
        # table, id, concept, drug, and whether the id's descendants are read too
        self.ids: list[tuple[str, int, str, str | None, bool]] = []
        self.doses: set[str] = set()  # concepts whose courses' daily doses are read
        self.values: list[tuple[str, int, str]] = []  # concept, value concept id, value
        self.units: dict[str, str] = {}  # per concept, the unit of a row that gives none
        self.unit_concepts: dict[int, str] = {}  # unit_concept_id -> the unit as written
        self.person: list[tuple[str, str]] = []  # concept, person field
        self.complete: list[str] = []  # concepts of which no row is no occurrence

    @classmethod
    def read(cls, path: str, data: bytes) -> Mapping:
        try:
            spec = yaml.safe_load(data)
        except yaml.YAMLError as error:
            raise UsageError(f"{path}: not YAML: {str(error).splitlines()[0]}") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("omop"), str):
            raise UsageError(f"{path}: a mapping file names its database: omop: FILE.duckdb")
        _known(path, "", spec, {"omop", "screening_date", "person", "concepts", "units"})
        screening = spec.get("screening_date")
        if isinstance(screening, dict):
            _known(path, "screening_date.", screening, {"cohort"})
            screening = _id(path, "screening_date.cohort", screening.get("cohort"))
        elif screening is not None and not isinstance(screening, date):
            raise UsageError(f"{path}: screening_date: {screening!r} is not a date (YYYY-MM-DD), "
                             f"nor a cohort ({{cohort: ID}})")
        mapping = cls(path, Path(path).parent / spec["omop"],
                      screening.isoformat() if isinstance(screening, date) else screening)
        for concept, field in _mapping(path, "person", spec.get("person", {})).items():
            field = _mapping(path, f"person.{concept}", field)
            _known(path, f"person.{concept}.", field, set(PERSON_FIELDS))
            for name, values in field.items():
                mapping.person.append((concept, name))
                mapping._values(f"person.{concept}.{name}", concept, values)
        for concept, entry in _mapping(path, "concepts", spec.get("concepts", {})).items():
            mapping._concept(str(concept), _mapping(path, f"concepts.{concept}", entry))
        for key, unit in _mapping(path, "units", spec.get("units", {})).items():
            mapping.unit_concepts[_id(path, "units", key)] = str(unit)
        return mapping

    def _concept(self, concept: str, entry: dict) -> None:
        where = f"concepts.{concept}"
        _known(self.path, f"{where}.", entry, {*TABLES, "values", "unit", "complete",
                                               "descendants", "dose"})
        if not set(entry) & set(TABLES):
            raise UsageError(f"{self.path}: {where}: names no table to read it from "
                             f"({', '.join(TABLES)})")
        descendants = self._switch(f"{where}.descendants", entry.get("descendants", False))
        for table in TABLES:
            if table in entry:
                ids = entry[table]
                named = ids if isinstance(ids, dict) else {i: None for i in _listed(ids)}
                for key, drug in named.items():
                    self.ids.append((table, _id(self.path, f"{where}.{table}", key), concept,
                                     None if drug is None else str(drug), descendants))
        if "values" in entry:
            self._values(f"{where}.values", concept, entry["values"])
        if "unit" in entry:
            self.units[concept] = str(entry["unit"])
        if self._switch(f"{where}.complete", entry.get("complete", False)):
            self.complete.append(concept)
        if "dose" in entry:
            if entry["dose"] != "drug_strength" or "drug_exposure" not in entry:
                raise UsageError(f"{self.path}: {where}.dose: a drug_exposure concept's dose is "
                                 f"read from drug_strength (dose: drug_strength), not "
                                 f"{entry['dose']!r}")
            self.doses.add(concept)

    def _switch(self, where: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise UsageError(f"{self.path}: {where}: true or false, not {value!r}")
        return value

    def _values(self, where: str, concept: str, values: Any) -> None:
        for key, value in _mapping(self.path, where, values).items():
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            self.values.append((concept, _id(self.path, where, key), text))

    def query(self, connection: Any) -> Any:
        """The long table, sorted by person: its maps loaded as temporary tables."""
        tables = {row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        used = ["person", *(t for t in TABLES if t in {entry[0] for entry in self.ids})]
        self._present(tables, used)
        self._maps(connection, tables)
        coded = {table for (table,) in connection.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = "
            "'unit_concept_id'").fetchall()}
        return connection.execute(self._long_table(used, coded))

    @property
    def _cohort(self) -> int | None:
        return self.screening if isinstance(self.screening, int) else None

    def _present(self, tables: set[str], used: list[str]) -> None:
        """Refuse a database without a table the mapping reads, naming what reads it."""
        descending = next((c for _, _, c, _, d in self.ids if d), None)
        dosed = next(iter(sorted(self.doses)), None)
        readers = {"concept_ancestor": f"concepts.{descending}.descendants",
                   "cohort": "screening_date.cohort", "drug_strength": f"concepts.{dosed}.dose"}
        needed = (used + ["concept_ancestor"] * (descending is not None)
                  + ["cohort"] * (self._cohort is not None)
                  + ["drug_strength"] * (dosed is not None))
        missing = [t for t in needed if t not in tables]
        if missing:
            why = f" ({readers[missing[0]]} reads it)" if missing[0] in readers else ""
            raise UsageError(f"{self.path}: the OMOP database {self.database} has no "
                             f"{missing[0]} table{why}")

    def _maps(self, connection: Any, tables: set[str]) -> None:
        """The mapping as temporary tables: the ids read (with their descendants where asked),
        value concepts, unit concepts and comparators."""
        connection.execute("CREATE TEMP TABLE proto_listed(tab VARCHAR, id BIGINT, "
                           "concept VARCHAR, drug VARCHAR, unit VARCHAR, descendants BOOLEAN, "
                           "dose BOOLEAN)")
        connection.execute("CREATE TEMP TABLE proto_values(concept VARCHAR, id BIGINT, "
                           "value VARCHAR)")
        connection.execute("CREATE TEMP TABLE proto_operators(id BIGINT, comparator VARCHAR)")
        if self.ids:
            connection.executemany("INSERT INTO proto_listed VALUES (?, ?, ?, ?, ?, ?, ?)", [
                (t, i, c, d, self.units.get(c), a, c in self.doses)
                for t, i, c, d, a in self.ids])
        descending = any(entry[4] for entry in self.ids)
        connection.execute(f"CREATE TEMP TABLE proto_ids AS {_LISTED}"
                           + (f" UNION {_DESCENDANTS}" if descending else ""))
        connection.execute("CREATE TEMP TABLE proto_units(id BIGINT, unit VARCHAR)")
        if self.unit_concepts:
            connection.executemany("INSERT INTO proto_units VALUES (?, ?)",
                                   sorted(self.unit_concepts.items()))
        if "concept" in tables:  # a unit concept of UCUM is its code, read as any unit
            connection.execute("INSERT INTO proto_units SELECT concept_id, concept_code FROM "
                               "concept WHERE vocabulary_id = 'UCUM' AND concept_id NOT IN "
                               "(SELECT id FROM proto_units)")
        if self.doses:
            self._strength_units(connection)
        if self.values:
            connection.executemany("INSERT INTO proto_values VALUES (?, ?, ?)", self.values)
        connection.executemany("INSERT INTO proto_operators VALUES (?, ?)",
                               sorted(COMPARATORS.items()))

    def _long_table(self, used: list[str], coded: set[str]) -> str:
        """The query of the long table: the person's row, the person fields mapped, and each
        table's mapped rows (`_select`), of the cohort's persons where the screening date is
        a cohort entry's."""
        # Every column of the long table, so that any one table mapped (or none) is read; the
        # birth date as text, which the reader checks like any date (a 30 February refuses
        # that person, not the whole query, as make_date did).
        # A person in the cohort has a row of it per entry: two entries are two screening dates
        # on the person's rows, which refuse that person (the long table's rule).
        cohort = self._cohort
        screening, entries = (("c.cohort_start_date", " JOIN cohort c ON c.subject_id = "
                               f"person_id AND c.cohort_definition_id = {cohort}")
                              if cohort is not None else (f"'{self.screening or ''}'", ""))
        parts = [f"SELECT person_id AS key, 0 AS part, 0 AS row, {screening} AS screening, "
                 "CASE WHEN year_of_birth IS NULL THEN NULL "
                 "WHEN month_of_birth IS NULL THEN printf('%04d', year_of_birth) "
                 "WHEN day_of_birth IS NULL THEN printf('%04d-%02d', year_of_birth, "
                 "month_of_birth) ELSE "
                 "printf('%04d-%02d-%02d', year_of_birth, month_of_birth, day_of_birth) END AS "
                 "birth_date, NULL AS concept, NULL AS number_value, NULL AS text_value, NULL AS "
                 "unit, NULL AS day, NULL AS \"end\", NULL AS drug, NULL AS low, NULL AS high, "
                 "NULL AS comparator, NULL AS quantity, NULL AS days_supply, NULL AS amount "
                 f"FROM person{entries}"]
        for number, (concept, field) in enumerate(self.person, start=1):
            parts.append(
                f"SELECT p.person_id AS key, 1 AS part, {number} AS row, v.concept, "
                f"v.value AS text_value FROM person p JOIN proto_values v ON v.concept = "
                f"'{_quoted(concept)}' AND v.id = p.{PERSON_FIELDS[field]}")
        for number, table in enumerate(used[1:], start=2):
            parts.append(_select(table, number, table in coded, bool(self.doses)))
        # A row read as two concepts, or as two drugs of one (a combination product descending
        # from both), gives a fact of each, in one order.
        screened = "" if cohort is None else (
            f" WHERE key IN (SELECT subject_id FROM cohort WHERE cohort_definition_id = {cohort})")
        return ("SELECT key, screening, birth_date, concept, number_value, text_value, unit, day, "
                "\"end\", drug, low, high, comparator, quantity, days_supply, amount FROM ("
                + " UNION ALL BY NAME ".join(parts)
                + f"){screened} ORDER BY key, part, row, concept, drug, screening")

    def _strength_units(self, connection: Any) -> None:
        """Refuse, before any person is read, strengths of the mapped drugs in a unit concept
        that neither `units` nor the vocabulary's UCUM codes name: their doses have no unit."""
        unnamed = [str(unit) for (unit,) in connection.execute(
            "SELECT DISTINCT s.amount_unit_concept_id FROM proto_ids m JOIN drug_strength s ON "
            "m.dose AND s.drug_concept_id = m.id AND s.ingredient_concept_id = m.ingredient "
            "WHERE s.amount_value IS NOT NULL AND (s.amount_unit_concept_id IS NULL OR "
            "s.amount_unit_concept_id NOT IN (SELECT id FROM proto_units)) ORDER BY 1"
            ).fetchall()]
        if unnamed:
            raise UsageError(f"{self.path}: drug_strength gives the mapped drugs' amounts in "
                             f"unit concept {', '.join(unnamed)}, which neither units nor a UCUM "
                             f"concept names: say it in units ({{{unnamed[0]}: mg}})")


#: The ids read: those the mapping lists, and the descendants of those it reads with theirs
#: (`_DESCENDANTS`), as the same concept (and drug), each with the id listed (a drug's
#: ingredient, whose strength gives a dose). An id the mapping lists for a concept is read as it
#: lists it, not also as a descendant of another of that concept's ids.
_LISTED = "SELECT tab, id, concept, drug, unit, dose, id AS ingredient FROM proto_listed"
_DESCENDANTS = """SELECT m.tab, a.descendant_concept_id, m.concept, m.drug, m.unit, m.dose, m.id
FROM proto_listed m
JOIN concept_ancestor a ON a.ancestor_concept_id = m.id
WHERE m.descendants AND NOT EXISTS (SELECT 1 FROM proto_listed l WHERE l.tab = m.tab
    AND l.id = a.descendant_concept_id AND l.concept = m.concept)"""


def _select(table: str, part: int, coded: bool, dosed: bool) -> str:
    """One table's mapped rows in the long table's columns; `coded`: the table has a
    `unit_concept_id`, whose unit (the mapping's `units`, else its UCUM code) comes first;
    `dosed`: a drug_exposure concept reads its doses (the ingredient's strength, the quantity
    and the days it is supplied for; its unit is the strength's)."""
    row_id, concept_id, day, end = TABLES[table]
    columns = ["x.person_id AS key", f"{part} AS part", f"x.{row_id} AS row", "m.concept",
               f"x.{day} AS day", "m.drug"]
    joins = ""
    if end:
        columns.append(f'x.{end} AS "end"')
    if table in ("measurement", "observation"):
        coded_unit = "u.unit, " if coded else ""
        # a blank unit_source_value, as extracts often leave it, is none: the concept's unit
        columns += ["x.value_as_number AS number_value", f"COALESCE({coded_unit}"
                    "NULLIF(TRIM(x.unit_source_value), ''), m.unit) AS unit",
                    "v.value AS text_value"
                    if table == "measurement" else
                    "COALESCE(v.value, x.value_as_string) AS text_value"]
        joins = (" LEFT JOIN proto_values v ON v.concept = m.concept"
                 " AND v.id = x.value_as_concept_id")
        if coded:
            joins += " LEFT JOIN proto_units u ON u.id = x.unit_concept_id"
    if table == "drug_exposure" and dosed:
        columns += ["x.quantity", "x.days_supply", "CASE WHEN m.dose THEN s.amount_value END "
                    "AS amount", "CASE WHEN m.dose THEN u.unit END AS unit"]
        joins = (" LEFT JOIN drug_strength s ON m.dose AND s.drug_concept_id = x.drug_concept_id"
                 " AND s.ingredient_concept_id = m.ingredient"
                 " LEFT JOIN proto_units u ON u.id = s.amount_unit_concept_id")
    if table == "measurement":
        columns += ["x.range_low AS low", "x.range_high AS high", "o.comparator"]
        joins += " LEFT JOIN proto_operators o ON o.id = x.operator_concept_id"
    return (f"SELECT {', '.join(columns)} FROM {table} x JOIN proto_ids m ON m.tab = '{table}' "
            f"AND m.id = x.{concept_id}{joins}")


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _known(path: str, where: str, entry: dict, keys: set[str]) -> None:
    unknown = sorted(str(k) for k in entry if k not in keys)
    if unknown:
        raise UsageError(f"{path}: {where}{unknown[0]}: not a key here (known: "
                         f"{', '.join(sorted(keys))})")


def _mapping(path: str, where: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise UsageError(f"{path}: {where}: a mapping was expected, not {value!r}")
    return value


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _id(path: str, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{path}: {where}: {value!r} is not a concept id (a whole number)")
    return value
