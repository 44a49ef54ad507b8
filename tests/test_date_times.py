"""Date-times in fact files: `2026-05-18T10:30:00`, as EHR exports and Parquet timestamps write them.

Facts are dated to the day. A date-time is read as the day written in it, its time and zone
dropped, not converted (a conversion could move a late-evening result to the next day), as the
FHIR reader does: in a fact's `date` and `end`, a date concept's value, the screening and birth
dates. A time that is not one (25:30) is refused as before. Each case runs the real normaliser
and network.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from engine.dates import day_written
from engine.run import Decision, Rejected, Screening
from tests.conftest import network_from_text, screen_one

PROTOCOL = """protocol "date-times" version "1"
concepts:
  age: age
  lvef: quantity in %
  first_dose: date
  infection: event
inclusion I1 "Adults": age >= 18 years
inclusion I2 "LVEF >= 55%": lvef >= 55 %
exclusion E1 "Infection within 14 days before the first dose":
    infection within 14 days before first_dose
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "date-times.proto-rules"))


def verdicts(screening: Screening, facts: list[dict], day: str = "2026-06-10",
             birth: str | None = "1990-06-10T00:00:00") -> dict[str, str]:
    outcome = screen_one(screening, facts, day=day, birth_date=birth)
    assert isinstance(outcome, Decision), outcome
    return {c: v.verdict for c, v in outcome.verdicts.items()}


def test_each_date_field_takes_a_date_time(screening):
    facts = [{"concept": "lvef", "value": 60, "unit": "%", "date": "2026-05-18T10:30:00"},
             {"concept": "first_dose", "value": "2026-06-15T08:00:00+02:00"},
             {"concept": "infection", "date": "2026-05-30T22:00", "end": "2026-06-01T06:00:00Z"}]
    assert verdicts(screening, facts, day="2026-06-10T09:00:00") == \
        {"I1": "MET", "I2": "MET", "E1": "MET"}
    outcome = screen_one(screening, facts, day="2026-06-10", birth_date="1990-06-10T00:00:00")
    used = {f.concept: f for fs in outcome.patient.used.values() for f in fs}
    assert used["lvef"].date == "2026-05-18"  # the trail shows the day


def test_the_day_as_written_not_converted(screening):
    """23:30 at UTC-5 is the next day in UTC; the day written is the one the result counts on."""
    fact = {"concept": "infection", "date": "2026-05-31T23:30:00-05:00"}
    dose = {"concept": "first_dose", "value": "2026-06-15"}  # the window from 2026-06-01
    assert verdicts(screening, [fact, dose])["E1"] == "NOT_MET"  # 2026-05-31: the day before
    assert day_written(fact["date"]) == "2026-05-31"


def test_results_at_two_times_of_one_day_bound_the_value(screening):
    facts = [{"concept": "lvef", "value": v, "unit": "%", "date": f"2026-05-18T{t}"}
             for v, t in ((60, "08:00"), (52, "16:00"))]
    assert verdicts(screening, facts)["I2"] == "UNKNOWN"


def test_equal_results_at_two_times_are_two_results_and_one_time_twice_a_duplicate(screening):
    """A triplicate ECG whose readings agree is three results, each at its time; the same time
    and value twice is the same fact given twice."""
    def lvef(time: str) -> dict:
        return {"concept": "lvef", "value": 60, "unit": "%", "date": f"2026-05-18T{time}"}
    assert verdicts(screening, [lvef("08:00"), lvef("08:05"), lvef("08:10")])["I2"] == "MET"
    outcome = screen_one(screening, [lvef("08:00"), lvef("08:00")], day="2026-06-10")
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == ["duplicate of fact #1"]


def test_a_monitors_readings_of_one_day_and_the_one_given_twice(screening):
    """Thousands of results of one day (a monitor's), each at its time, are each looked up once
    among the day's earlier ones: the one given twice is found, the rest are results."""
    facts = [{"concept": "lvef", "value": 50 + i % 20, "unit": "%",
              "date": f"2026-05-18T{i // 3600:02}:{i // 60 % 60:02}:{i % 60:02}"}
             for i in range(3000)]
    outcome = screen_one(screening, [*facts, facts[1234]], day="2026-06-10")
    assert isinstance(outcome, Rejected)
    assert [(p.fact, p.message) for p in outcome.problems] == [(3000, "duplicate of fact #1235")]
    assert verdicts(screening, facts)["I2"] == "UNKNOWN"  # 50 to 69 %: either side of 55


@pytest.mark.parametrize("written", ["2026-05-18T25:30:00", "2026-05-18T10:61", "2026-05-18T",
                                     "2026-05-18T10:30:00+25:00", "2026-05-18 noon"])
def test_a_time_that_is_not_one_is_refused(screening, written):
    outcome = screen_one(screening, [{"concept": "lvef", "value": 60, "unit": "%",
                                      "date": written}], day="2026-06-10")
    assert isinstance(outcome, Rejected)
    assert [p.message for p in outcome.problems] == [f"not a date (YYYY-MM-DD): {written!r}"]


def test_a_parquet_timestamp_column(tmp_path: Path, capsys):
    """pandas and DuckDB write a date-time column as a TIMESTAMP: read as its day."""
    path = tmp_path / "facts.parquet"
    duckdb.sql(f"COPY (SELECT 'P1' AS patient, DATE '2026-06-10' AS screening_date, "
               f"'lvef' AS concept, 60.0 AS value, '%' AS unit, "
               f"TIMESTAMP '2026-05-18 10:30:00' AS date) TO '{path}' (FORMAT PARQUET)")
    protocol = tmp_path / "p.proto-rules"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    assert cli.main(["run", str(protocol), str(path), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"I2": "MET"' in out or '"I2":"MET"' in out, out


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.datetimes(min_value=datetime(2026, 5, 20), max_value=datetime(2026, 6, 10)),
       st.sampled_from([None, timezone.utc, timezone(timedelta(hours=-5)),
                        timezone(timedelta(hours=9, minutes=30))]),
       st.sampled_from(["T", " "]))
def test_a_date_time_decides_as_its_day(screening, moment, zone, separator):
    written = moment.replace(tzinfo=zone).isoformat(sep=separator)
    dose = {"concept": "first_dose", "value": "2026-06-10"}
    at_time = verdicts(screening, [dose, {"concept": "infection", "date": written}])
    on_day = verdicts(screening, [dose, {"concept": "infection", "date": written[:10]}])
    assert at_time == on_day
