"""The lowest or highest result in a window (`psa_nadir: lowest psa on or after adt_start`,
`weight_before: highest weight within 6 months before screening`), and a change from it as a
derived value: "weight loss > 10% in the 6 months before screening", PCWG3's "PSA >= 25% and
>= 2 ng/mL above the nadir". Results known only within bounds bound the extreme; the window's
days are counted as the README's table of windows says.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.run import Decision, Rejected, Screening
from protocol.errors import ProtocolError
from tests.conftest import assert_trail_agrees, judged, network_from_text, run_cli, screen_one

PROTOCOL = """protocol "extremes" version "1"
concepts:
  weight: quantity in kg valid for 28 days
  psa: lab in ng/mL
  adt_start: date
  weight_before: highest weight within 6 months before screening "the highest weight in the 6 months before screening"
  psa_nadir: lowest psa on or after adt_start "PSA nadir on androgen deprivation"
  weight_loss: derived in % "weight loss" = 1 - weight / weight_before
  psa_rise: derived in % = psa / psa_nadir - 1
  psa_above_nadir: derived in ng/mL = psa - psa_nadir
exclusion E1 "weight loss > 10% in the 6 months before screening": weight_loss > 10 %
inclusion I1 "PSA progression: >= 25% and >= 2 ng/mL above the nadir":
  psa_rise >= 25 % and psa_above_nadir >= 2 ng/mL
inclusion I2 "PSA nadir below 0.5 ng/mL": psa_nadir < 0.5 ng/mL
"""


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "extremes.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def weight(value: Any, day: str) -> dict[str, Any]:
    return {"concept": "weight", "value": value, "unit": "kg", "date": day}


def psa(value: Any, day: str) -> dict[str, Any]:
    return {"concept": "psa", "value": value, "unit": "ng/mL", "date": day}


ADT = {"concept": "adt_start", "value": "2025-01-10"}


def decided(screening: Screening, *facts: dict[str, Any]) -> Decision:
    result = screen_one(screening, facts, day="2026-06-01")
    assert isinstance(result, Decision), result
    return result


@pytest.mark.parametrize("weights, verdict", [
    # screening 2026-06-01: 6 months before is 2025-12-01, counted
    ([(80, "2026-05-20"), (92, "2026-01-10")], "MET"),  # 13.04 %
    ([(80, "2026-05-20"), (95, "2025-11-30")], "NOT_MET"),  # the 95 is a day too old
    ([(80, "2026-05-20"), (95, "2025-12-01")], "MET"),  # ... and on the day itself it counts
    ([(90, "2026-05-20"), (100, "2026-01-10")], "NOT_MET"),  # exactly 10 %: not > 10 %
    ([(89.9, "2026-05-20"), (100, "2026-01-10")], "MET"),
    ([(80, "2026-05-20")], "NOT_MET"),  # the latest is the highest: 0 %
    ([(80, "2026-05-20"), ("> 90", "2026-01-10")], "MET"),  # more than 11.1 %
    ([(80, "2026-05-20"), ("> 88", "2026-01-10")], "UNKNOWN"),  # 9.090909 % or more
    ([(80, "2026-05-20"), ("< 100", "2026-01-10")], "UNKNOWN"),  # 80 to 100: 0 to 20 %
    ([(80, "2026-05-20"), ("< 100", "2026-01-10"), (92, "2026-02-10")], "MET"),  # at least 92
    ([(80, "2026-04-20")], "UNKNOWN"),  # the latest weight is stale (valid for 28 days)
    ([], "UNKNOWN"),
])
def test_weight_loss_from_the_highest_in_the_window(network, screening, weights, verdict):
    result = decided(screening, *(weight(v, d) for v, d in weights))
    assert_trail_agrees(network, result, {"E1": verdict})


@pytest.mark.parametrize("values, verdicts", [
    # adt_start 2025-01-10: the nadir of the results on or after it
    ([(4, "2024-12-20"), (0.8, "2025-06-01"), (3.1, "2026-05-20")], {"I1": "MET", "I2": "NOT_MET"}),
    ([(0.8, "2025-06-01"), (2.7, "2026-05-20")], {"I1": "NOT_MET", "I2": "NOT_MET"}),  # 1.9 above
    ([(2, "2025-06-01"), (4, "2026-05-20")], {"I1": "MET", "I2": "NOT_MET"}),  # 100 %, 2 ng/mL
    ([(8, "2025-06-01"), (9.9, "2026-05-20")], {"I1": "NOT_MET", "I2": "NOT_MET"}),  # 23.75 %
    ([(0.3, "2025-01-10"), (3, "2026-05-20")], {"I1": "MET", "I2": "MET"}),  # the day itself
    ([("< 0.1", "2025-09-20"), (3.1, "2026-05-20")], {"I1": "MET", "I2": "MET"}),
    ([("< 0.1", "2025-09-20"), (2.05, "2026-05-20")], {"I1": "UNKNOWN", "I2": "MET"}),  # 1.95 to 2.05
    ([("< 1", "2025-09-20"), (0.6, "2026-05-20")], {"I1": "NOT_MET", "I2": "UNKNOWN"}),
    ([(0.6, "2026-05-20")], {"I1": "NOT_MET", "I2": "NOT_MET"}),  # the latest is the nadir
    ([(4, "2024-12-20")], {"I1": "UNKNOWN", "I2": "UNKNOWN"}),  # none since adt_start
])
def test_psa_above_the_nadir(network, screening, values, verdicts):
    result = decided(screening, ADT, *(psa(v, d) for v, d in values))
    assert {c: result.verdicts[c].verdict for c in verdicts} == verdicts
    assert_trail_agrees(network, result, {"I2": verdicts["I2"]})


def test_the_trail_says_what_was_read(network, screening):
    result = decided(screening, ADT, psa(4, "2024-12-20"), psa("< 0.1", "2025-09-20"),
                     psa(0.4, "2025-12-01"), psa(3.1, "2026-05-20"))
    assert judged(network, result, "I2")["detail"] == (
        "psa_nadir < 0.1 ng/mL (2025-09-20; recorded as psa); 0.4 ng/mL (2025-12-01; recorded "
        "as psa); 3.1 ng/mL (2026-05-20; recorded as psa); needs < 0.5 ng/mL")
    assert judged(network, result, "I1")["detail"] == (
        "psa_rise = 3.1 / (< 0.1) - 1 >= 3000 % (psa 3.1 ng/mL, psa_nadir < 0.1 ng/mL); "
        "needs >= 25 %")
    result = decided(screening, psa(3.1, "2026-05-20"))
    assert judged(network, result, "I2")["detail"] == "psa_nadir: no usable adt_start to count " \
        "its window from (no fact given)"
    result = decided(screening, ADT, psa(4, "2024-12-20"))
    assert judged(network, result, "I2")["detail"] == \
        "psa_nadir: no psa on or after adt_start (2025-01-10)"
    result = decided(screening, weight(80, "2026-05-20"), weight(92, "2026-01-10"),
                     weight(95, "2025-11-10"))
    assert judged(network, result, "E1")["detail"] == (
        "weight_loss = 1 - 80 / 92 = 13.043478 % (weight 80 kg, weight_before 92 kg); "
        "needs > 10 %")


@pytest.mark.parametrize("window, inside", [
    # screening 2026-06-01, v 2026-03-15; results on each of the days below
    ("ever", "ABCDEF"),
    ("within 6 months before screening", "CDEF"),
    ("less than 6 months before screening", "DEF"),
    ("at least 6 months before screening", "ABC"),
    ("more than 6 months before screening", "AB"),
    ("within 1 month before v", "DE"),  # 2026-02-15 to 2026-03-15, both counted
    ("within 1 month after v", "EF"),
    ("before v", "ABCD"),
    ("on or before v", "ABCDE"),
    ("after v", "F"),
    ("on or after v", "EF"),
    ("at v", "E"),
    ("at screening", ""),
    ("at least 2 months after v", ""),  # from 2026-05-15: none by screening
])
def test_the_days_of_each_window(window, inside):
    days = {"A": "2025-01-01", "B": "2025-11-30", "C": "2025-12-01", "D": "2026-02-20",
            "E": "2026-03-15", "F": "2026-04-10"}
    values = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6}
    network = network_from_text(f"""protocol "w" version "1"
concepts:
  s: score
  v: date
  low: lowest s {window}
inclusion I1 "x": low >= 1
""", "w.proto-rules")
    facts = [{"concept": "v", "value": "2026-03-15"}] + [
        {"concept": "s", "value": values[k], "date": day} for k, day in days.items()]
    result = screen_one(Screening(network), facts, day="2026-06-01")
    assert isinstance(result, Decision)
    read = [f.date for f in result.patient.used.get("low", ())]
    assert read == [days[k] for k in inside]
    lowest = result.patient.record.get("low")
    assert lowest == (min(values[k] for k in inside) if inside else None)


@pytest.mark.parametrize("declared, message", [
    ("m: lowest nope ever", "'m' is the lowest 'nope', which is not declared"),
    ("m: highest d ever", "'d' is a derived value, one value: the highest of the results of a "
     "measured concept"),
    ("m: lowest e ever", "'e' is an event"),
    ("m: lowest abi ever", "which is measured per ankle: name a side's, 'abi_left'"),
    ("m: lowest r ever", "which is read from another concept's results: name that concept"),
    ("m: lowest w during e", "counted from screening, a date concept or the start or end of a "
     "history"),
    ("m: lowest w within 3 months before the date of w", "counted from screening, a date"),
    ("m: lowest w within 3 months before c", "its window counts from 'c', but 'c' is a "
     "category: count from a date concept, or from screening"),
    ("m: lowest w after the start of v", "'v' is a date: count from an event or medication"),
    ("m: lowest w after the start of nope", "'nope' is not declared"),
    ("m: lowest w within 28 days or 5 half_life, whichever is shorter, before screening",
     "a window of results is a span of days"),
    ("m: lowest w ever\n  n: m at v", "'m' is the lowest or highest of results in a window"),
])
def test_what_has_no_lowest_result_is_refused(declared, message):
    text = f"""protocol "x" version "1"
concepts:
  w: quantity in kg
  d: derived in kg = w x 2
  e: event
  c: category {{a, b}}
  v: date
  abi: score per ankle {{left, right}}
  r: w at v
  {declared}
inclusion I1 "x": m > 1 kg
"""
    with pytest.raises(ProtocolError) as error:
        network_from_text(text, "x.proto-rules")
    assert message in str(error.value)


@pytest.mark.parametrize("condition, message", [
    ("m > 1 x ULN", "'m' is the lowest psa ever, of several days' results: compare it with a "
     "number"),
    ("m > 1 ng/mL confirmed on another day", "confirm 'psa' itself on another day"),
])
def test_what_a_lowest_result_cannot_be_compared_with(capsys, tmp_path, condition, message):
    path = tmp_path / "x.proto-rules"
    path.write_text(f"""protocol "x" version "1"
concepts:
  psa: lab in ng/mL
  m: lowest psa ever
inclusion I1 "x": {condition}
""")
    code, out, err = run_cli(capsys, "check", str(path))
    assert code == 2 and message in out + err


def test_a_mean_of_the_lowest_is_refused(capsys, tmp_path):
    path = tmp_path / "x.proto-rules"
    path.write_text("""protocol "x" version "1"
concepts:
  psa: lab in ng/mL
  m: lowest psa ever
  a: derived in ng/mL = mean(m)
inclusion I1 "x": a > 1 ng/mL
""")
    code, out, err = run_cli(capsys, "check", str(path))
    assert code == 2 and "'m' is the lowest psa ever" in out + err


def test_a_fact_of_the_lowest_itself_is_set_aside(screening):
    result = screen_one(screening, [ADT, {"concept": "psa_nadir", "value": 0.2, "unit": "ng/mL",
                                          "date": "2026-05-01"}], day="2026-06-01")
    assert isinstance(result, Decision)
    assert any("'psa_nadir' is the lowest psa on or after adt_start: give psa's results"
               in w.message for w in result.patient.warnings)


def test_an_undated_result_is_an_input_error():
    network = network_from_text("""protocol "x" version "1"
concepts:
  psa: lab in ng/mL
  m: lowest psa ever
inclusion I1 "x": m < 1 ng/mL
""", "x.proto-rules")
    result = screen_one(Screening(network), [{"concept": "psa", "value": 2, "unit": "ng/mL"}])
    assert isinstance(result, Rejected)
    assert "'m' is the lowest psa ever: each psa fact needs a date" in str(result.problems)


# --- any series of results, some known only within bounds ---------------------------------------

RESULT = st.tuples(st.sampled_from(["=", "<", ">", "<=", ">="]),
                   st.decimals(min_value=Decimal("0.1"), max_value=Decimal(200), places=1),
                   st.integers(min_value=0, max_value=300))


@given(st.lists(RESULT, min_size=1, max_size=6, unique_by=lambda r: r[2]))
def test_any_series_is_decided_as_each_of_its_values_would_be(network, series):
    """Soundness: where the network decides the nadir's comparison on results known within
    bounds, every exact series those bounds allow gets that verdict (checked at the ends and the
    middle of each bound); where all those exact series agree at the ends, so does it, unless a
    bound's openness leaves its end out."""
    screening = Screening(network)
    facts = [ADT] + [psa(f"{op} {value}" if op != "=" else float(value), _day(days))
                     for op, value, days in series]
    result = decided(screening, *facts)
    verdict = result.verdicts["I2"].verdict
    exact = set()
    for pick in ("low", "high", "mid"):
        values = [_within(op, value, pick) for op, value, _ in series]
        facts = [ADT] + [psa(float(v), _day(days)) for v, (_, _, days) in zip(values, series)]
        exact.add(decided(screening, *facts).verdicts["I2"].verdict)
    if verdict != "UNKNOWN":
        assert exact == {verdict}


def _day(offset: int) -> str:
    from datetime import date, timedelta
    return (date(2025, 2, 1) + timedelta(days=offset)).isoformat()


def _within(op: str, value: Decimal, pick: str) -> Decimal:
    """A value the result may have: near its low or high end, or between."""
    step = Decimal("0.01")
    low = {"=": value, "<": Decimal(0), "<=": Decimal(0), ">": value + step, ">=": value}[op]
    high = {"=": value, "<": value - step, "<=": value, ">": value + 100, ">=": value + 100}[op]
    high = max(high, low)
    return {"low": low, "high": high, "mid": (low + high) / 2}[pick]



@pytest.mark.parametrize("formula", [
    "(weight_before - weight) / weight_before",
    "1 - weight / weight_before",
    "((weight_before in kg) - (weight in kg)) / (weight_before in kg) x 100",
    "100 - (weight in kg) / (weight_before in kg) x 100",
])
def test_a_change_in_percent_is_one_number_however_written(formula):
    """A ratio of like quantities is a fraction, which `%` shows as a percentage (0.130435 is
    13.043478 %); plain numbers (`in kg`) are taken as the percentage written."""
    network = network_from_text(PROTOCOL.replace(
        "1 - weight / weight_before", formula), "extremes.proto-rules")
    result = decided(Screening(network), weight(80, "2026-05-20"), weight(92, "2026-01-10"))
    assert result.derived["weight_loss"][0] == "13.043478"


@pytest.mark.parametrize("formula", [
    "(weight_before - weight) / weight_before x 100",
    "100 x (1 - weight / weight_before)",
])
def test_a_fraction_times_100_in_percent_is_refused(capsys, tmp_path, formula):
    path = tmp_path / "x.proto-rules"
    path.write_text(PROTOCOL.replace("1 - weight / weight_before", formula))
    code, out, err = run_cli(capsys, "check", str(path))
    assert code == 2
    assert "weight_loss is declared in %, which shows a fraction as a percentage (0.13 is 13 %): " \
        "this is a ratio of like quantities times 100" in out + err


EDGED = """protocol "edged" version "1"
concepts:
  psa: lab in ng/mL
  adt: medication {leuprolide, degarelix}
  psa_nadir: lowest psa on or after the start of adt "PSA nadir since starting ADT"
  psa_rise: derived in % = psa / psa_nadir - 1
inclusion I1 "PSA nadir < 1 ng/mL": psa_nadir < 1 ng/mL
inclusion I2 "PSA >= 25% above the nadir": psa_rise >= 25 %
"""


@pytest.mark.parametrize("start, verdicts, nadir", [
    # results 2025-01-20: 4, 2025-02-15: 0.5, 2026-05-20: 3
    ("2025-02-01", {"I1": "MET", "I2": "MET"}, 0.5),  # 0.5 and 3 count
    ("2025-01-20", {"I1": "MET", "I2": "MET"}, 0.5),  # the start day counts: 4, 0.5, 3
    ("2025-03-01", {"I1": "NOT_MET", "I2": "NOT_MET"}, 3),  # the latest alone: its own nadir
    ("2025-02", {"I1": "UNKNOWN", "I2": "UNKNOWN"}, None),  # 0.5 may or may not count: 0.5 to 3
    ("2025-01", {"I1": "MET", "I2": "MET"}, 0.5),  # 4 may count, 0.5 surely does: at most 0.5
])
def test_a_window_from_the_start_of_a_history(start, verdicts, nadir):
    """From the start of the most recent course: a start known only to the month counts the
    results that surely follow it, and bounds the nadir by those that may."""
    network = network_from_text(EDGED, "edged.proto-rules")
    facts = [{"concept": "adt", "drug": "leuprolide", "date": start, "ongoing": True},
             psa(4, "2025-01-20"), psa(0.5, "2025-02-15"), psa(3, "2026-05-20")]
    result = decided(Screening(network), *facts)
    assert {c: result.verdicts[c].verdict for c in verdicts} == verdicts
    assert_trail_agrees(network, result, {"I1": verdicts["I1"]})
    assert result.patient.record.get("psa_nadir") == nadir


def test_a_window_from_a_history_says_what_it_lacks():
    network = network_from_text(EDGED, "edged.proto-rules")
    result = decided(Screening(network), psa(3, "2026-05-20"))
    assert judged(network, result, "I1")["detail"] == (
        "psa_nadir: no usable start of adt to count its window from (no fact given)")
    result = decided(Screening(network), {"concept": "adt", "drug": "leuprolide",
                                          "date": "2025-02", "ongoing": True},
                     psa(0.5, "2025-02-15"))
    assert judged(network, result, "I1")["detail"] == (
        "psa_nadir: no psa on or after the start of adt (2025-02-01; 2025-02-28): those of days "
        "it may hold may not count")
    result = decided(Screening(network), {"concept": "adt", "drug": "leuprolide",
                                          "date": "2025-02", "ongoing": True},
                     psa(0.5, "2025-02-15"), psa(3, "2026-05-20"))
    assert judged(network, result, "I1")["detail"] == (
        "psa_nadir 0.5 ng/mL (2025-02-15; may lie outside on or after the start of adt; recorded "
        "as psa); 3 ng/mL (2026-05-20; recorded as psa); needs < 1 ng/mL (its bounds do not "
        "decide it)")


@given(st.lists(RESULT, min_size=1, max_size=5, unique_by=lambda r: r[2]),
       st.integers(min_value=0, max_value=11))
def test_a_start_known_to_the_month_is_decided_as_every_day_of_it(series, month):
    """Soundness: a nadir counted from a start known only to the month, its results known
    within bounds or not, is decided only where every start day of that month (first, 15th,
    last) and every value within the bounds (ends, middle) give that verdict."""
    screening = Screening(network_from_text(EDGED, "edged.proto-rules"))
    start = f"2025-{month + 1:02}"

    def verdict(day: str, values: list) -> str:
        facts = [{"concept": "adt", "drug": "leuprolide", "date": day, "ongoing": True}] + [
            psa(v, _day(days)) for v, (_, _, days) in zip(values, series)]
        return decided(screening, *facts).verdicts["I1"].verdict

    bounded = verdict(start, [f"{op} {value}" if op != "=" else float(value)
                              for op, value, _ in series])
    if bounded == "UNKNOWN":
        return
    last = 28 if month == 1 else 30 if month in (3, 5, 8, 10) else 31
    for day in (1, 15, last):
        for pick in ("low", "high", "mid"):
            values = [float(_within(op, value, pick)) for op, value, _ in series]
            assert verdict(f"{start}-{day:02}", values) == bounded


def test_an_editor_offers_lowest_and_highest_where_a_kind_goes():
    from grammar.layout import expected
    words, _ = expected('protocol "x"\nconcepts:\n  psa: lab in ng/mL\n  nadir: ')
    assert {"lowest", "highest", "lab", "derived"} <= set(words)
