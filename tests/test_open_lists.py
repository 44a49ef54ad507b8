"""A history given only through narrower ones is an open list: a lenalidomide course, and no
`imid` fact of its own, is an IMiD, so "prior IMiD" is MET; whether there is any other IMiD is
not recorded, so "no IMiD in the last 4 weeks" is UNKNOWN, never NOT_MET for want of one. The
open world (`no known imid ...`) reads what is recorded, however it was given.

Every construct that reads a list is checked on such records, in the network and in the trail
alike, and a property checks that whatever an open list decides, every way of completing it
(the list exactly as given, or with another course) decides the same."""

from __future__ import annotations

import gc
import json
import weakref
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.evidence import Explainer
from engine.run import Decision, Screening
from tests.conftest import (assert_trail_agrees, judged, network_from_text, run_cli,
                            screen_one)

PROTOCOL = """protocol "open-lists" version "1"
concepts:
  progression: event
  imid: medication {lenalidomide, pomalidomide, thalidomide} dosed in mg/d
  lenalidomide: medication {lenalidomide} dosed in mg/d counts as imid
inclusion I1 "a": imid ever
inclusion I2 "b": imid includes pomalidomide
inclusion I3 "c": imid within 4 weeks before screening
inclusion I4 "d": at least 2 imid ever
inclusion I5 "e": imid for at least 12 weeks
inclusion I6 "f": imid dose at screening >= 10 mg/d
inclusion I7 "g": imid dose at screening < 10 mg/d
inclusion I8 "h": imid cumulative dose >= 1000 mg
inclusion I9 "i": imid dose stable for at least 4 weeks before screening
inclusion I10 "j": progression during any imid
inclusion I11 "k": progression within 6 months after the end of imid
inclusion I12 "l": no known imid within 4 weeks before screening
inclusion I13 "m": imid includes at least 2 of {lenalidomide, pomalidomide}
inclusion I14 "n": imid dose >= 5 mg/d for at least 2 weeks
inclusion I15 "o": imid where dose >= 20 mg/d ever
inclusion I16 "p": the latest imid more than 2 months before screening
inclusion I17 "q": known imid
inclusion I18 "r": progression during imid
"""
#: The criteria of the closed world: `no known` and `known` (I12, I17) read the record as it
#: is, so another course recorded may change them.
CRITERIA = [f"I{n}" for n in range(1, 19) if n not in (12, 17)]


def course(concept: str, drug: str, start: str, end: str | None, dose: int) -> dict:
    fact = {"concept": concept, "drug": drug, "date": start, "dose": dose, "unit": "mg/d"}
    fact.update({"end": end} if end else {"ongoing": True})
    return fact


ENDED = course("lenalidomide", "lenalidomide", "2026-03-01", "2026-04-01", 25)
GOING = course("lenalidomide", "lenalidomide", "2026-01-01", None, 5)
PROGRESSION = {"concept": "progression", "date": "2026-05-01"}
NO_PROGRESSION = {"concept": "progression", "present": False}


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "open.proto-rules")


@pytest.fixture(scope="module")
def screening(network):
    return Screening(network)


def decide(screening, facts) -> Decision:
    outcome = screen_one(screening, facts, day="2026-06-01")
    assert isinstance(outcome, Decision), outcome
    return outcome


@pytest.mark.parametrize("facts, verdicts", [
    # a course that ended two months ago: it proves what it can, and nothing else is known
    ([ENDED, NO_PROGRESSION], {
        "I1": "MET", "I2": "UNKNOWN", "I3": "UNKNOWN", "I4": "UNKNOWN", "I5": "UNKNOWN",
        "I6": "UNKNOWN", "I7": "UNKNOWN", "I8": "UNKNOWN", "I9": "UNKNOWN",
        "I10": "NOT_MET", "I11": "NOT_MET", "I12": "MET", "I13": "UNKNOWN", "I14": "MET",
        "I15": "MET", "I16": "UNKNOWN", "I17": "MET", "I18": "NOT_MET"}),
    # a course going on: within 4 weeks, long enough; the rest as open as before
    ([GOING, PROGRESSION], {
        "I1": "MET", "I2": "UNKNOWN", "I3": "MET", "I4": "UNKNOWN", "I5": "MET",
        "I6": "UNKNOWN", "I7": "UNKNOWN", "I8": "UNKNOWN", "I9": "UNKNOWN",
        "I10": "MET", "I11": "UNKNOWN", "I12": "NOT_MET", "I13": "UNKNOWN", "I14": "MET",
        "I15": "UNKNOWN", "I16": "UNKNOWN", "I17": "MET", "I18": "UNKNOWN"}),
    # two courses: at least 2, a change of dose within the 4 weeks, 1,100 mg in all
    ([course("lenalidomide", "lenalidomide", "2026-01-01", "2026-05-10", 5), GOING], {
        "I1": "MET", "I4": "MET", "I8": "MET", "I9": "NOT_MET", "I6": "UNKNOWN"}),
    # the broader history's own fact makes the list whole: decided as any list
    ([ENDED, course("imid", "pomalidomide", "2025-01-01", "2025-02-01", 4), NO_PROGRESSION], {
        "I1": "MET", "I2": "MET", "I3": "NOT_MET", "I4": "MET", "I6": "NOT_MET", "I7": "MET",
        "I9": "NOT_MET", "I12": "MET", "I13": "MET", "I16": "MET"}),
    # lenalidomide recorded as none says nothing of other IMiDs; nothing is known of any
    ([{"concept": "lenalidomide", "present": False}, PROGRESSION], {
        "I1": "UNKNOWN", "I3": "UNKNOWN", "I10": "UNKNOWN", "I12": "MET", "I17": "NOT_MET"}),
])
def test_an_open_list_decides_what_its_items_decide(network, screening, facts, verdicts):
    assert_trail_agrees(network, decide(screening, facts), verdicts)


def test_the_trail_says_which_list_is_open_and_why(network, screening):
    outcome = decide(screening, [ENDED, NO_PROGRESSION])
    why = ("only lenalidomide recorded, which counts as imid: whether there is any other imid "
           "is not")
    assert outcome.patient.unusable["imid"] == why
    evidence = judged(network, outcome, "I2")
    assert evidence["status"] == "unknown" and evidence["detail"].endswith(why)
    assert judged(network, outcome, "I6")["detail"].startswith(
        f"dose on screening 2026-06-01: at least 0 mg/d ({why})")


DAYS = st.sampled_from(["2025-06-01", "2026-01-01", "2026-03-01", "2026-05-10", "2026-05-20"])


@st.composite
def courses(draw, concept: str, drugs: list[str]) -> dict:
    start = draw(DAYS)
    end = draw(st.sampled_from([None, "2026-04-01", "2026-05-15", "2026-05-31"]))
    if end is not None and end < start:
        end = None
    return course(concept, draw(st.sampled_from(drugs)), start, end,
                  draw(st.sampled_from([4, 5, 10, 25])))


@settings(max_examples=40, deadline=None)
@given(narrower=st.lists(courses("lenalidomide", ["lenalidomide"]), min_size=1, max_size=2,
                         unique_by=lambda f: f["date"]),
       other=courses("imid", ["pomalidomide", "thalidomide", "lenalidomide"]),
       progression=st.sampled_from([[], [PROGRESSION], [NO_PROGRESSION]]))
def test_what_an_open_list_decides_every_completion_of_it_decides(screening, narrower, other,
                                                                   progression):
    """Sound: a verdict decided on the open list stands however the list is completed: as
    given (the courses as the broader history's own) or with another course. The trail reads
    each verdict as the network does."""
    outcome = decide(screening, [*narrower, *progression])
    opened = outcome.verdicts
    assert_trail_agrees(screening.network, outcome,
                        {c: opened[c].verdict for c in (*CRITERIA, "I12", "I17")})
    own = [{**fact, "concept": "imid"} for fact in narrower]
    completions = [decide(screening, [*own, *progression]).verdicts,
                   decide(screening, [*own, other, *progression]).verdicts]
    for criterion in CRITERIA:
        verdict = opened[criterion].verdict
        if verdict in ("MET", "NOT_MET"):
            assert all(c[criterion].verdict == verdict for c in completions), criterion


def test_explain_names_the_open_list_among_what_an_open_criterion_lacks(capsys, tmp_path):
    """The course is used, yet what an UNKNOWN criterion lacks is the rest of the list."""
    protocol, facts, trail = (tmp_path / "open.proto-rules", tmp_path / "p.jsonl",
                              tmp_path / "t.jsonl")
    protocol.write_text(PROTOCOL, encoding="utf-8")
    facts.write_text(json.dumps({"patient": "P1", "screening_date": "2026-06-01",
                                 "facts": [ENDED, NO_PROGRESSION]}) + "\n", encoding="utf-8")
    assert run_cli(capsys, "run", str(protocol), str(facts), "--trail", str(trail))[0] == 0
    code, out, _ = run_cli(capsys, "explain", str(trail), "--patient", "P1",
                           "--criterion", "I3")
    assert code == 0
    assert "      missing: imid (only lenalidomide recorded, which counts as imid: whether " \
        "there is any other imid is not)\n" in out


FOUND = """protocol "open-lists-found" version "1"
concepts:
  j: judgment
  progression: event
  imid: medication {lenalidomide, pomalidomide, thalidomide} dosed in mg/d
  lenalidomide: medication {lenalidomide} dosed in mg/d counts as imid
inclusion K1 "a": no known progression during any imid
inclusion K2 "b": known progression during or within 60 days after any imid
inclusion A1 "c": imid at least 1 month after the end of progression
inclusion A2 "d": imid during progression
inclusion A3 "e": imid within 6 months after the end of progression
inclusion A4 "f": the latest imid more than 1 month before the start of progression
inclusion A5 "g": at least 2 imid within 6 months after the end of progression
inclusion J1 "h": imid includes lenalidomide and j
inclusion J2 "i": imid within 4 weeks before screening and j
inclusion J3 "j": not imid ever or j
inclusion J4 "k": imid for at least 2 weeks and j
"""


@pytest.fixture(scope="module")
def found():
    network = network_from_text(FOUND, "found.proto-rules")
    return network, Screening(network)


@pytest.mark.parametrize("facts, verdicts", [
    # `no known progression` reads the progressions recorded, not the IMiDs as all there are:
    # another IMiD course may span this progression
    ([course("lenalidomide", "lenalidomide", "2025-01-01", "2025-02-01", 10),
      {"concept": "progression", "date": "2026-05-20"}],
     {"K1": "UNKNOWN", "K2": "UNKNOWN"}),
    # no progression ever: no day after its end, whatever the IMiDs (network and trail alike)
    ([course("lenalidomide", "lenalidomide", "2026-03-01", "2026-04-01", 10), NO_PROGRESSION],
     {"A1": "NOT_MET", "A2": "NOT_MET", "A3": "NOT_MET", "A4": "MET", "A5": "NOT_MET"}),
    ([{"concept": "lenalidomide", "present": False}, NO_PROGRESSION],
     {"A1": "NOT_MET", "A2": "NOT_MET", "A3": "NOT_MET", "A5": "NOT_MET"}),
    # an open list that decides its part leaves the judgment pending: NEEDS_REVIEW, not UNKNOWN
    ([course("lenalidomide", "lenalidomide", "2026-05-01", "2026-05-25", 10),
      course("lenalidomide", "lenalidomide", "2026-05-26", None, 10)],
     {"J1": "NEEDS_REVIEW", "J2": "NEEDS_REVIEW", "J3": "NEEDS_REVIEW", "J4": "NEEDS_REVIEW"}),
])
def test_what_a_review_of_open_lists_found(found, facts, verdicts):
    network, screening = found
    outcome = decide(screening, facts)
    assert {c: outcome.verdicts[c].verdict for c in verdicts} == verdicts
    decided = {c: v for c, v in verdicts.items() if v != "NEEDS_REVIEW"}
    assert_trail_agrees(network, outcome, decided)


def test_a_part_made_for_one_call_keeps_its_constants_to_itself(found):
    """The trail keeps what a part needs of the protocol by the part's identity. A part made for
    one call (`during any ... where` makes the spanned history's atom anew each time) is kept
    with its constants, so no later part made at its address reads them: under Python 3.13 the
    latest IMiD's second half once read a `during any` atom's two tests as its own four."""
    network, screening = found
    outcome = decide(screening, [ENDED, NO_PROGRESSION])
    explainer = Explainer(network.protocol, outcome.derived)
    made = replace(network.protocol.leaves()[0].condition.occurred)  # K1's atom, copied
    assert explainer.constant(made, lambda part, reader: ("first",)) == ("first",)
    kept = weakref.ref(made)
    del made
    gc.collect()
    assert kept() is not None
