"""Windows from any anchor, open-world histories and ranges, each at its boundary.

One small protocol, one inclusion criterion per condition, so each verdict shows the condition's
own value: MET true, NOT_MET false, UNKNOWN open. The run's as-of (screening) date is 2026-06-30
and the first dose 2026-06-15 unless a case says otherwise; facts dated after the screening date
are set aside, so windows after an anchor are tested with anchors before it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.audit.recorder import Recorder
from engine.run import Decision, Screening
from grammar.parser import parse
from protocol import model as m
from protocol.errors import ProtocolError
from tests.conftest import as_read, boundary_cases, network_from_text

PROTOCOL = """protocol "windows" version "1"
concepts:
  age: age
  weight: quantity in kg
  first_dose: date "planned date of the first dose"
  chemo: medication {cisplatin, carboplatin}
  adjuvant: medication {capecitabine}
  progression: event
  diabetes: event
  hepatitis: event
  infection: event graded
inclusion W1 "w": progression within 7 days before first_dose
inclusion W2 "l": progression less than 7 days before first_dose
inclusion W3 "a": diabetes at least 1 year before screening
inclusion W4 "m": diabetes more than 1 year before screening
inclusion W5 "a": progression within 6 months after the end of adjuvant
inclusion W6 "t": infection at first_dose
inclusion W7 "g": infection with grade >= 3 within 14 days before first_dose
inclusion W8 "c": chemo within 4 weeks before first_dose
inclusion W9 "s": progression at least 3 months after the start of adjuvant
inclusion W10 "o": progression at the end of adjuvant
inclusion N1 "n": no known history of hepatitis
inclusion N2 "n": no known chemo within 4 weeks before first_dose
exclusion K1 "k": known history of hepatitis
exclusion K2 "k": known chemo where drug is cisplatin within 4 weeks before first_dose
inclusion R1 "r": age 12 to 17 years
inclusion R2 "r": weight 40 to 150 kg
"""

SCREENING = "2026-06-30"
FIRST_DOSE = {"concept": "first_dose", "value": "2026-06-15"}


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "windows.proto-rules"))


def decide(screening: Screening, *facts: dict[str, Any], day: str = SCREENING,
           born: str | None = None) -> Decision:
    data: dict[str, Any] = {"patient": "p", "screening_date": day, "facts": list(facts)}
    if born:
        data["birth_date"] = born
    (outcome,) = screening.screen([(1, as_read(data))], "windows.jsonl")
    assert isinstance(outcome, Decision), outcome
    return outcome


def verdict(screening: Screening, criterion: str, *facts: dict[str, Any], **kw: Any) -> str:
    return decide(screening, *facts, **kw).verdicts[criterion].verdict


def event(concept: str, start: str, end: str | None = None, **more: Any) -> dict[str, Any]:
    return {"concept": concept, "date": start, **({"end": end} if end else {}), **more}


def none(concept: str) -> dict[str, Any]:
    return {"concept": concept, "present": False}


CASES = [
    # within 7 days before first_dose: the span 2026-06-08 .. 2026-06-15, both days counted
    ("first day inside", "W1", [FIRST_DOSE, event("progression", "2026-06-08")], "MET"),
    ("day before the window", "W1", [FIRST_DOSE, event("progression", "2026-06-07")], "NOT_MET"),
    ("on the anchor day", "W1", [FIRST_DOSE, event("progression", "2026-06-15")], "MET"),
    ("day after the anchor", "W1", [FIRST_DOSE, event("progression", "2026-06-16")], "NOT_MET"),
    ("a course overlapping the window", "W1",
     [FIRST_DOSE, event("progression", "2026-05-01", "2026-06-08")], "MET"),
    ("recorded as none", "W1", [FIRST_DOSE, none("progression")], "NOT_MET"),
    ("nothing recorded", "W1", [FIRST_DOSE], "UNKNOWN"),
    ("no anchor date", "W1", [event("progression", "2026-06-10")], "UNKNOWN"),
    ("no anchor, recorded as none", "W1", [none("progression")], "NOT_MET"),
    # less than 7 days before: the first day is not counted
    ("strict: on the bound", "W2", [FIRST_DOSE, event("progression", "2026-06-08")], "NOT_MET"),
    ("strict: a day later", "W2", [FIRST_DOSE, event("progression", "2026-06-09")], "MET"),
    # at least / more than 1 year before screening: by the start, bound 2025-06-30
    ("diagnosed on the bound", "W3", [event("diabetes", "2025-06-30")], "MET"),
    ("diagnosed a day too late", "W3", [event("diabetes", "2025-07-01")], "NOT_MET"),
    ("strict: on the bound", "W4", [event("diabetes", "2025-06-30")], "NOT_MET"),
    ("strict: a day earlier", "W4", [event("diabetes", "2025-06-29")], "MET"),
    ("leap day screening", "W3", [event("diabetes", "2027-02-28")], "MET"),
    ("leap day screening, a day late", "W3", [event("diabetes", "2027-03-01")], "NOT_MET"),
    # within 6 months after the end of adjuvant (2025-08-31): to 2026-02-28, the month's end
    ("last day of the clamped month", "W5",
     [event("adjuvant", "2025-01-01", "2025-08-31", drug="capecitabine"),
      event("progression", "2026-02-28")], "MET"),
    ("first day after it", "W5",
     [event("adjuvant", "2025-01-01", "2025-08-31", drug="capecitabine"),
      event("progression", "2026-03-01")], "NOT_MET"),
    ("on the last day of therapy", "W5",
     [event("adjuvant", "2025-01-01", "2025-08-31", drug="capecitabine"),
      event("progression", "2025-08-31")], "MET"),
    ("before therapy ended", "W5",
     [event("adjuvant", "2025-01-01", "2025-08-31", drug="capecitabine"),
      event("progression", "2025-08-30")], "NOT_MET"),
    ("the most recent course counts", "W5",
     [event("adjuvant", "2024-01-01", "2024-03-31", drug="capecitabine"),
      event("adjuvant", "2025-01-01", "2025-08-31", drug="capecitabine"),
      event("progression", "2024-05-01")], "NOT_MET"),
    # which course is the most recent: one known only to September may have started after the
    # 10th (then its end, 2025-12-20, anchors the window: MET), or before (2025-10-01: NOT_MET)
    ("the most recent is not settled", "W5",
     [event("adjuvant", "2025-09", "2025-12-20", drug="capecitabine"),
      event("adjuvant", "2025-09-10", "2025-10-01", drug="capecitabine"),
      event("progression", "2026-04-05")], "UNKNOWN"),
    ("a course known to the month that surely started earlier", "W5",
     [event("adjuvant", "2025-08", "2025-12-20", drug="capecitabine"),
      event("adjuvant", "2025-09-10", "2025-10-01", drug="capecitabine"),
      event("progression", "2026-04-05")], "NOT_MET"),
    ("two candidates that end on the same day", "W5",
     [event("adjuvant", "2025-09", "2025-10-01", drug="capecitabine"),
      event("adjuvant", "2025-09-10", "2025-10-01", drug="capecitabine"),
      event("progression", "2026-04-01")], "MET"),
    # which is the most recent is not settled, but a day both readings agree on is decided:
    # the window counts from 2025-10-01 or 2025-12-20, to 2026-04-01 or 2026-06-20
    ("not settled, inside both windows", "W5",
     [event("adjuvant", "2025-09", "2025-12-20", drug="capecitabine"),
      event("adjuvant", "2025-09-10", "2025-10-01", drug="capecitabine"),
      event("progression", "2026-03-05")], "MET"),
    ("not settled, before both windows", "W5",
     [event("adjuvant", "2025-09", "2025-12-20", drug="capecitabine"),
      event("adjuvant", "2025-09-10", "2025-10-01", drug="capecitabine"),
      event("progression", "2025-09-30")], "NOT_MET"),
    ("not settled, one may not have ended", "W5",
     [event("adjuvant", "2025-09", drug="capecitabine"),
      event("adjuvant", "2025-09-10", "2025-10-01", drug="capecitabine"),
      event("progression", "2026-03-05")], "UNKNOWN"),
    # the end known only to August 2025: the window from a day of August to the same day of
    # February (clamped to its end), decided where every day of August agrees
    ("end known to the month, inside every window", "W5",
     [event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
      event("progression", "2026-01-01")], "MET"),
    ("end known to the month, on its last day", "W5",
     [event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
      event("progression", "2025-08-31")], "MET"),
    ("end known to the month, inside some windows", "W5",
     [event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
      event("progression", "2026-02-20")], "UNKNOWN"),
    ("end known to the month, on its first day", "W5",
     [event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
      event("progression", "2025-08-01")], "UNKNOWN"),
    ("end known to the month, after every window", "W5",
     [event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
      event("progression", "2026-03-01")], "NOT_MET"),
    ("end known to the month, before it", "W5",
     [event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
      event("progression", "2025-07-31")], "NOT_MET"),
    ("end not recorded", "W5", [event("adjuvant", "2025-01-01", drug="capecitabine"),
                                event("progression", "2026-01-01")], "UNKNOWN"),
    # on an occurrence's start, from a start known only to the year 2025: 3 months after a day of
    # it, from 2025-04-01 to 2026-03-31
    ("start known to the year, after every bound", "W9",
     [event("adjuvant", "2025", "2025-12-31", drug="capecitabine"),
      event("progression", "2026-03-31")], "MET"),
    ("start known to the year, after some", "W9",
     [event("adjuvant", "2025", "2025-12-31", drug="capecitabine"),
      event("progression", "2026-03-30")], "UNKNOWN"),
    ("start known to the year, before every bound", "W9",
     [event("adjuvant", "2025", "2025-12-31", drug="capecitabine"),
      event("progression", "2025-03-31")], "NOT_MET"),
    ("at an end known to the month", "W10",
     [event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
      event("progression", "2025-07-01", "2025-09-30")], "MET"),
    ("at an end known to the month, on one day of it", "W10",
     [event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
      event("progression", "2025-08-10")], "UNKNOWN"),
    ("no adjuvant therapy at all", "W5", [none("adjuvant"), event("progression", "2026-01-01")],
     "NOT_MET"),
    ("therapy still going", "W5",
     [event("adjuvant", "2025-01-01", ongoing=True, drug="capecitabine"),
      event("progression", "2026-01-01")], "UNKNOWN"),
    ("therapy not recorded", "W5", [event("progression", "2026-01-01")], "UNKNOWN"),
    # at first_dose: overlapping its day
    ("going on that day", "W6", [FIRST_DOSE, event("infection", "2026-06-10", "2026-06-20",
                                                   grade=1)], "MET"),
    ("ended the day before", "W6", [FIRST_DOSE, event("infection", "2026-06-10", "2026-06-14",
                                                      grade=1)], "NOT_MET"),
    # graded and anchored: a node of its own
    ("grade 3 inside", "W7", [FIRST_DOSE, event("infection", "2026-06-05", grade=3)], "MET"),
    ("grade 2 inside", "W7", [FIRST_DOSE, event("infection", "2026-06-05", grade=2)], "NOT_MET"),
    ("grade 3 before", "W7", [FIRST_DOSE, event("infection", "2026-05-31", grade=3)], "NOT_MET"),
    ("grade 3, no anchor", "W7", [event("infection", "2026-06-05", grade=3)], "UNKNOWN"),
    # a grade not recorded may or may not pass: open inside the window, and beside a grade 2
    ("no grade inside", "W7", [FIRST_DOSE, event("infection", "2026-06-05")], "UNKNOWN"),
    ("no grade before", "W7", [FIRST_DOSE, event("infection", "2026-05-31")], "NOT_MET"),
    ("no grade and grade 3 inside", "W7", [FIRST_DOSE, event("infection", "2026-06-05"),
                                          event("infection", "2026-06-06", grade=3)], "MET"),
    ("no grade and grade 2 inside", "W7", [FIRST_DOSE, event("infection", "2026-06-05"),
                                          event("infection", "2026-06-06", grade=2)], "UNKNOWN"),
    # medications in windows
    ("ongoing course", "W8", [FIRST_DOSE, event("chemo", "2026-01-01", ongoing=True,
                                                drug="cisplatin")], "MET"),
    ("ended on the bound", "W8", [FIRST_DOSE, event("chemo", "2026-01-01", "2026-05-18",
                                                    drug="cisplatin")], "MET"),
    ("ended the day before", "W8", [FIRST_DOSE, event("chemo", "2026-01-01", "2026-05-17",
                                                      drug="carboplatin")], "NOT_MET"),
    # the open world, as the protocol says it
    ("nothing recorded", "N1", [], "MET"),
    ("recorded as none", "N1", [none("hepatitis")], "MET"),
    ("recorded", "N1", [event("hepatitis", "2001-01-01")], "NOT_MET"),
    ("no chemo recorded", "N2", [FIRST_DOSE], "MET"),
    ("chemo inside", "N2", [FIRST_DOSE, event("chemo", "2026-01-01", "2026-05-18",
                                              drug="cisplatin")], "NOT_MET"),
    ("chemo before", "N2", [FIRST_DOSE, event("chemo", "2026-01-01", "2026-05-17",
                                              drug="cisplatin")], "MET"),
    ("chemo, no anchor", "N2", [event("chemo", "2026-01-01", "2026-05-17", drug="cisplatin")],
     "UNKNOWN"),
    # its other side, "known history of X": nothing recorded is not known
    ("nothing recorded", "K1", [], "NOT_MET"),
    ("recorded as none", "K1", [none("hepatitis")], "NOT_MET"),
    ("recorded", "K1", [event("hepatitis", "2001-01-01")], "MET"),
    ("no chemo recorded", "K2", [FIRST_DOSE], "NOT_MET"),
    ("cisplatin inside", "K2", [FIRST_DOSE, event("chemo", "2026-01-01", "2026-05-18",
                                                  drug="cisplatin")], "MET"),
    ("carboplatin inside", "K2", [FIRST_DOSE, event("chemo", "2026-01-01", "2026-05-18",
                                                    drug="carboplatin")], "NOT_MET"),
    ("cisplatin before", "K2", [FIRST_DOSE, event("chemo", "2026-01-01", "2026-05-17",
                                                  drug="cisplatin")], "NOT_MET"),
    ("cisplatin, no anchor", "K2", [event("chemo", "2026-01-01", "2026-05-17",
                                          drug="cisplatin")], "UNKNOWN"),
    # ranges, both bounds counted, in the concept's unit after conversion
    ("weight at the top", "R2", [{"concept": "weight", "value": 150, "unit": "kg",
                                  "date": "2026-06-01"}], "MET"),
    ("a gram over", "R2", [{"concept": "weight", "value": 150001, "unit": "g",
                            "date": "2026-06-01"}], "NOT_MET"),
    ("at the bottom in grams", "R2", [{"concept": "weight", "value": 40000, "unit": "g",
                                       "date": "2026-06-01"}], "MET"),
    ("a gram under", "R2", [{"concept": "weight", "value": 39999, "unit": "g",
                             "date": "2026-06-01"}], "NOT_MET"),
    ("no weight", "R2", [], "UNKNOWN"),
]


@pytest.mark.parametrize("case, criterion, facts, expected", CASES,
                         ids=[f"{c[1]}: {c[0]}" for c in CASES])
def test_boundary(screening: Screening, case: str, criterion: str, facts: list, expected: str):
    day = "2028-02-29" if case.startswith("leap") else SCREENING
    assert verdict(screening, criterion, *facts, day=day) == expected


@pytest.mark.parametrize("born, expected", [
    ("2014-06-30", "MET"),  # 12 on the day
    ("2014-07-01", "NOT_MET"),  # 11 until tomorrow
    ("2008-07-01", "MET"),  # 17, a day before 18
    ("2008-06-30", "NOT_MET"),  # 18 on the day
])
def test_age_range(screening: Screening, born: str, expected: str):
    assert verdict(screening, "R1", born=born) == expected


def test_month_end_anchor(compile_text):
    """`within 1 month before` 2026-03-31 starts on 2026-02-28: the month is clamped."""
    text = ('protocol "t" version "1"\nconcepts:\n d: date\n e: event\n'
            'inclusion I1 "x": e within 1 month before d\n')
    screening = Screening(compile_text(text))

    def at(day: str) -> str:
        facts = [{"concept": "d", "value": "2026-03-31"}, event("e", day)]
        (outcome,) = screening.screen([(1, as_read({"patient": "p", "screening_date": "2026-04-30",
                                                    "facts": facts}))], "x")
        return outcome.verdicts["I1"].verdict

    assert (at("2026-02-28"), at("2026-02-27")) == ("MET", "NOT_MET")


def test_evidence_names_the_window_and_the_missing_anchor(screening: Screening, tmp_path):
    from engine.audit.evidence import Explainer, criterion_parts

    network = screening.network
    leaf = {c.id: c for c in network.leaves}

    def detail(criterion: str, *facts) -> str:
        decision = decide(screening, *facts)
        explainer = Explainer(network.protocol, decision.derived)
        return explainer.judge(criterion_parts(leaf[criterion])[0], decision.patient)["detail"]

    assert detail("W1", FIRST_DOSE, event("progression", "2026-06-08")).endswith(
        "(window from 2026-06-08 to 2026-06-15; first_dose 2026-06-15)")
    assert detail("W1", event("progression", "2026-06-08")).endswith(
        "; first_dose: no fact given")
    assert detail("W3", event("diabetes", "2025-06-30")).endswith(
        "(started on or before 2025-06-30; screening 2026-06-30)")
    assert detail("W5", event("adjuvant", "2025-01-01", ongoing=True, drug="capecitabine"),
                  event("progression", "2026-01-01")).endswith(
        "the end of adjuvant: the most recent adjuvant has not ended")
    assert detail("W5", event("adjuvant", "2025-01-01", drug="capecitabine"),
                  event("progression", "2026-01-01")).endswith(
        "the end of adjuvant: the end of the most recent adjuvant is not recorded")
    # an anchor known only within days: the windows from its first and its last day
    assert detail("W5", event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
                  event("progression", "2026-01-01")).endswith(
        "(window from 2025-08-01 to 2026-02-01 on the earliest anchor day, from 2025-08-31 to "
        "2026-02-28 on the latest; the end of adjuvant 2025-08 (2025-08-01 to 2025-08-31))")
    unsettled = detail("W5", event("adjuvant", "2025-09", "2025-12-20", drug="capecitabine"),
                       event("adjuvant", "2025-09-10", "2025-10-01", drug="capecitabine"),
                       event("progression", "2026-03-05"))
    assert unsettled.endswith("the end of adjuvant 2025-10-01 to 2025-12-20: which adjuvant is "
                              "the most recent is not settled (dates known only to the month or "
                              "year, or an end not recorded), and their ends differ)")
    assert detail("W9", event("adjuvant", "2025", "2025-12-31", drug="capecitabine"),
                  event("progression", "2026-03-30")).endswith(
        "(started on or after a day from 2025-04-01 to 2026-03-31; the start of adjuvant 2025 "
        "(2025-01-01 to 2025-12-31)) (its dates do not decide it)")
    assert detail("W10", event("adjuvant", "2025-01-01", "2025-08", drug="capecitabine"),
                  event("progression", "2025-08-10")).endswith(
        "(on the end of adjuvant 2025-08 (2025-08-01 to 2025-08-31)) (its dates do not decide it)")
    assert detail("N1") == "hepatitis: nothing recorded (no known history)"
    assert detail("K1") == "hepatitis: nothing recorded (no known history)"


# -- grammar ---------------------------------------------------------------------------------------

def condition(text: str) -> m.Condition:
    head = 'protocol "t"\nconcepts:\n d: date\n e: event\n m: medication {a}\n'
    criterion = parse(head + f'inclusion I1 "x": {text}', "t").criteria[0]
    assert criterion.condition is not None
    return criterion.condition


@pytest.mark.parametrize("text, kind, direction, anchor", [
    ("e within 7 days before d", "within", "before", "d"),
    ("e within 7 days prior to d", "within", "before", "d"),
    ("e less than 2 weeks after the end of m", "less_than", "after", "the end of m"),
    ("e at least 1 year before screening", "at_least", "before", "screening"),
    ("e more than 3 months after start of m", "more_than", "after", "the start of m"),
    ("e at d", "at", "before", "d"),
    ("e at screening", "at", "before", "screening"),
])
def test_window_forms(text: str, kind: str, direction: str, anchor: str):
    atom = condition(text)
    assert isinstance(atom, m.Occurred)
    assert (atom.window.kind, atom.window.direction, str(atom.window.anchor or "screening")) == (
        kind, direction, anchor)


def test_window_words_round_trip():
    assert str(condition("e less than 2 weeks after the end of m").window) == \
        "less than 2 weeks after the end of m"
    assert str(condition("e within 1 day before screening").window) == \
        "within 1 day before screening"


def test_no_known_and_ranges_parse():
    atom = condition("no known history of e")
    assert isinstance(atom, m.NoKnown) and atom.occurred.window.kind == "ever"
    atom = condition("no known e within 4 weeks before d")
    assert isinstance(atom, m.NoKnown) and atom.occurred.window.kind == "within"
    assert not atom.known
    for text in ("known history of e", "known e ever", "known e within 4 weeks before d"):
        atom = condition(text)
        assert isinstance(atom, m.NoKnown) and atom.known, text
    head = 'protocol "t"\nconcepts:\n a: age\n w: quantity in kg\n'
    rng = parse(head + 'inclusion I1 "x": a 12 to 17 years and w 40 kg to 150 kg', "t")
    low, high = rng.criteria[0].condition.items
    assert (str(low.low), str(low.high)) == ("12 years", "17 years")
    assert (str(high.low), str(high.high)) == ("40 kg", "150 kg")


def test_between_is_not_a_word_of_the_language():
    with pytest.raises(ProtocolError):
        condition("e between 1 and 2 days before d")


# -- sizes -----------------------------------------------------------------------------------------

def _many(n: int) -> str:
    lines = ['protocol "big" version "1"', "concepts:"]
    lines += [f"  x{i}: quantity in mg\n  e{i}: event\n  d{i}: date" for i in range(n)]
    lines += [f'inclusion I{i} "c{i}": x{i} >= 5 mg and not e{i} within 7 days before d{i}'
              for i in range(n)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("criteria", [80, 250])
def test_many_anchored_criteria_compile_and_decide(criteria):
    """150 criteria of a window each joined 450 rules to one end marker, more than the engine
    links to one node (error 108): beyond 240 a stratum's rules wait for markers of their own,
    asserted together."""
    network = network_from_text(_many(criteria))
    assert criteria < 100 or max(len(markers) for markers in network.ends) > 1
    screening = Screening(network)
    (outcome,) = screening.screen([(1, {"patient": "p", "screening_date": "2026-06-01",
                                        "facts": []})], "x")
    assert outcome.decision == "NEEDS_REVIEW" and len(outcome.verdicts) == criteria
    assert {verdict.verdict for verdict in outcome.verdicts.values()} == {"UNKNOWN"}


def test_rules_waiting_for_markers_of_their_own_decide_as_at_one_marker():
    """250 criteria, their open outcomes spread over several end markers: each decides as it
    would alone (the last ones wait for the last marker)."""
    facts = []
    for i in range(250):
        facts.append({"concept": f"x{i}", "value": 7 if i % 2 else 3, "unit": "mg",
                      "date": "2026-05-01"})
        facts.append({"concept": f"d{i}", "value": "2026-05-01"})
        if i % 3 == 0:
            facts.append({"concept": f"e{i}", "present": False})
        elif i % 3 == 1:
            facts.append({"concept": f"e{i}", "date": "2026-04-28"})
    (outcome,) = Screening(network_from_text(_many(250))).screen(
        [(1, {"patient": "p", "screening_date": "2026-06-01", "facts": facts})], "x")
    expected = {f"I{i}": "NOT_MET" if i % 2 == 0 else ("MET", "NOT_MET", "UNKNOWN")[i % 3]
                for i in range(250)}
    assert {c: v.verdict for c, v in outcome.verdicts.items()} == expected


def test_check_refuses_a_network_the_engine_cannot_look_up(tmp_path, capsys):
    """300 criteria of a window each need 600 nodes of their own, each a test below one node of
    the engine's alpha network, which looks them up in a table of 512 and, the table full, never
    stopped building the network. `check` refuses it at the criterion that goes past 500, also
    as JSON; `run` is refused the same way before anything is written."""
    from cli import main

    path = tmp_path / "big.proto-rules"
    path.write_text(_many(300))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    line = _many(300).splitlines().index(
        'inclusion I200 "c200": x200 >= 5 mg and not e200 within 7 days before d200') + 1
    assert err.startswith(f"{path}:{line}:1: error: from here on the protocol needs more nodes "
                          "of one kind than the engine's network can look up (at most 500")
    assert main(["check", "--format", "json", str(path)]) == 2
    found = json.loads(capsys.readouterr().out)
    assert not found["ok"] and found["diagnostics"][0]["code"] == "network-limit"
    facts = tmp_path / "facts.jsonl"
    facts.write_text('{"patient": "p", "screening_date": "2026-06-01", "facts": []}\n')
    trail = tmp_path / "trail.jsonl"
    assert main(["run", str(path), str(facts), "--trail", str(trail)]) == 2
    assert "from here on the protocol needs more nodes" in capsys.readouterr().err
    assert not trail.exists()


def test_boundary_cases_of_known_history(capsys, tmp_path):
    """`edge-cases` reads `known X` as the open world's other side: an occurrence that counts
    is true, one outside the window or failing the filter, and nothing recorded false; the
    network agrees with every case (`known history of X`, no window, has no edge of its own)."""
    text = """protocol "known" version "1"
concepts:
  first_dose: date
  hepatitis: event
  chemo: medication {cisplatin, carboplatin}
exclusion K1 "Known history of hepatitis":
    known history of hepatitis
exclusion K2 "Known cisplatin within 4 weeks before the first dose":
    known chemo where drug is cisplatin within 4 weeks before first_dose
"""
    written, said = boundary_cases(capsys, tmp_path, text, {
        "patient": "B", "screening_date": "2026-06-30", "facts": [
            FIRST_DOSE, event("hepatitis", "2001-01-01"),
            event("chemo", "2026-01-01", "2026-05-18", drug="cisplatin")]})
    assert "9 boundary cases" in said and "not generated" not in said, said
    cases = {block.split('"')[1]: block for block in written.split("  - name: ")[1:]}
    within = "chemo where drug is cisplatin within 4 weeks before first_dose"
    for case, verdict in ((f"chemo on 2026-05-18: the first day inside of {within}", "MET"),
                          (f"chemo on 2026-05-17: the day before the window of {within}",
                           "NOT_MET"),
                          (f"chemo on 2026-05-18, drug carboplatin: {within}", "NOT_MET"),
                          (f"no chemo: {within}", "NOT_MET"),
                          (f"no first_dose, chemo on 2026-06-15: {within}", "UNKNOWN")):
        assert f"K2: {verdict}" in cases[case], case


def test_an_occurrence_without_a_date_reads_not_recorded():
    """A history given without a date happened some day up to screening: the trail says its
    day is not recorded, never the calendar's first day (year 1) nor 24,000 months."""
    text = """protocol "undated" version "1"
concepts:
  relapse: event
  lenalidomide: medication {lenalidomide}
exclusion E1 "x": relapse within 30 days after the start of relapse
exclusion E2 "y": relapse at least 1 month after the start of lenalidomide
exclusion E3 "z": lenalidomide for at least 3 months
"""
    screening = Screening(network_from_text(text, "undated.proto-rules"))
    (outcome,) = screening.screen([(1, as_read({"patient": "p", "screening_date": "2026-03-01",
                                                 "facts": [{"concept": "relapse"},
                                                           {"concept": "lenalidomide",
                                                            "drug": "lenalidomide"}]}))], "u")
    assert {c: v.verdict for c, v in outcome.verdicts.items()} == \
        {"E1": "UNKNOWN", "E2": "UNKNOWN", "E3": "UNKNOWN"}
    line = "".join(Recorder(screening.network).lines(outcome)[0])
    assert "0001-" not in line and "24302" not in line
    assert "(window from the start of relapse not recorded (a day up to 2026-03-01))" in line
    assert "the longest run of consecutive courses: 0 or more completed months" in line


def test_the_open_world_beside_a_pending_judgment_awaits_the_judgment() -> None:
    """`known history of pll or richter_suspected` with nothing recorded of pll: the first is
    false (the open world decides it), so the criterion is open for the judgment alone:
    NEEDS_REVIEW, not UNKNOWN (data missing), as with pll recorded as none (a helper encoding
    ELEVATE-TN). A window from a day the record lacks is still read through a node of its own,
    left unknown (README, "What is not here yet")."""
    text = """protocol "j" version "1"
concepts:
  pll: event
  richter_suspected: judgment
exclusion E1 "x": known history of pll or richter_suspected
exclusion E2 "x": no known history of pll and richter_suspected
"""
    screening = Screening(network_from_text(text, "j.proto-rules"))
    judgment = {"concept": "richter_suspected", "value": False, "date": "2026-06-01"}
    verdicts = {}
    for name, facts in (("nothing", [judgment]),
                        ("none", [{"concept": "pll", "present": False}, judgment]),
                        ("one", [{"concept": "pll", "date": "2026-06-01"}, judgment])):
        data = as_read({"patient": name, "screening_date": SCREENING, "facts": facts})
        (result,) = screening.screen([(1, data)], "j.jsonl")
        assert isinstance(result, Decision)
        verdicts[name] = (result.verdicts["E1"].verdict, result.verdicts["E2"].verdict)
    assert verdicts == {"nothing": ("NEEDS_REVIEW", "NEEDS_REVIEW"),
                        "none": ("NEEDS_REVIEW", "NEEDS_REVIEW"),
                        "one": ("MET", "NOT_MET")}
