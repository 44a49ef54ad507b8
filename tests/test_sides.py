"""Values measured per side (`abi: score per ankle {left, right}`): a concept per side, and the
conditions that say whose value counts, `in any ankle`, `in each eye`, `in the study_eye`,
written out as `or`, `and` and a side chosen by a category; decided in strong Kleene logic
(UNKNOWN only where the sides or the chosen side leave it open), what `check` refuses, the
trail's words, and the boundary cases `edge-cases` writes."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.audit.evidence import Explainer, criterion_parts, describe
from engine.run import Decision, Screening
from protocol import model as m
from tests.conftest import boundary_cases, checked, network_from_text, screen_one

PROTOCOL = """protocol "sides" version "1"
concepts:
  abi: score valid for 90 days per ankle {left, right} "ankle-brachial index"
  iop: quantity in mmHg per eye {left, right} "intraocular pressure"
  bcva: score per eye {left, right} "BCVA, ETDRS letters"
  study_eye: category {left, right}
inclusion I1 "ABI < 0.9 in >= 1 ankle": abi < 0.9 in any ankle
inclusion I2 "IOP <= 21 mmHg in both eyes": iop <= 21 mmHg in both eyes
inclusion I3 "BCVA 24 to 78 letters in the study eye": bcva 24 to 78 in the study_eye
exclusion E1 "ABI of the left ankle 1.4 or more": abi_left >= 1.4
"""


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "sides.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


def fact(concept: str, value: Any, **fields: Any) -> dict[str, Any]:
    unit = {"unit": "mmHg"} if concept.startswith("iop") else {}
    return {"concept": concept, "value": value, "date": "2026-05-20", **unit, **fields}


def decide(screening: Screening, *facts: dict[str, Any]) -> Decision:
    outcome = screen_one(screening, facts, day="2026-06-01", path="sides.jsonl")
    assert isinstance(outcome, Decision), outcome
    return outcome


def trail_says(network, outcome: Decision, criterion: str) -> str:
    """The criterion's verdict as the trail's evidence reads it: each part as the trail judges
    it, joined as the condition joins them (strong Kleene)."""
    leaf = next(c for c in network.leaves if c.id == criterion)
    explainer = Explainer(network.protocol, outcome.derived)
    judged = iter(explainer.judge(part, outcome.patient)["status"]
                  for part in criterion_parts(leaf))

    def fold(condition) -> str:
        if isinstance(condition, (m.And, m.Or)):
            found = [fold(item) for item in condition.items]
            first, last = ("false", "true") if isinstance(condition, m.And) else ("true", "false")
            return first if first in found else "unknown" if "unknown" in found else last
        if isinstance(condition, m.Not):
            return {"true": "false", "false": "true"}.get(fold(condition.item), "unknown")
        return next(judged)

    return {"true": "MET", "false": "NOT_MET", "unknown": "UNKNOWN"}[fold(leaf.condition)]


def agree(network, outcome: Decision, verdicts: dict[str, str]) -> None:
    """The network decides each criterion as `verdicts` says, and the trail reads it alike."""
    assert {c: outcome.verdicts[c].verdict for c in verdicts} == verdicts
    assert {c: trail_says(network, outcome, c) for c in verdicts} == verdicts


#: A side's value against a threshold: holds, fails, or not given (None).
HOLDS = {"abi": (0.85, 1.1), "iop": (18, 24), "bcva": (50, 80)}
KLEENE = {True: "MET", False: "NOT_MET", None: "UNKNOWN"}


def _or(*values: bool | None) -> bool | None:
    return True if True in values else None if None in values else False


def _and(*values: bool | None) -> bool | None:
    return False if False in values else None if None in values else True


@pytest.mark.parametrize("left, right", list(product((True, False, None), repeat=2)))
def test_any_and_each_side(network, screening, left, right):
    facts = [fact(f"{name}_{side}", HOLDS[name][0 if held else 1])
             for name in ("abi", "iop") for side, held in (("left", left), ("right", right))
             if held is not None]
    outcome = decide(screening, *facts)
    agree(network, outcome, {"I1": KLEENE[_or(left, right)],
                                           "I2": KLEENE[_and(left, right)]})


@pytest.mark.parametrize("chosen, left, right", list(product(
    ("left", "right", None), (True, False, None), (True, False, None))))
def test_the_side_a_category_chooses(network, screening, chosen, left, right):
    """The chosen side's value decides; with no side chosen, the sides decide where they agree
    (both within: MET; both outside: NOT_MET), and it is UNKNOWN where they do not."""
    facts = [fact(f"bcva_{side}", HOLDS["bcva"][0 if held else 1])
             for side, held in (("left", left), ("right", right)) if held is not None]
    if chosen is not None:
        facts.append({"concept": "study_eye", "value": chosen})
    outcome = decide(screening, *facts)
    wanted = {"left": left, "right": right}[chosen] if chosen else \
        left if left == right else None
    agree(network, outcome, {"I3": KLEENE[wanted]})


def test_the_trail_names_each_side(network, screening):
    outcome = decide(screening, fact("abi_left", 1.0), fact("iop_left", 18),
                     fact("iop_right", 20))
    leaf = next(c for c in network.leaves if c.id == "I1")
    explainer = Explainer(network.protocol, outcome.derived)
    assert [explainer.judge(part, outcome.patient)["detail"] for part in criterion_parts(leaf)] \
        == ["abi_left 1 (2026-05-20); needs < 0.9", "abi_right: no fact given"]


def test_each_sides_part_reads_as_that_side(network):
    """A part written out per side reads as the side's, not as the family's sentence twice:
    `abi_right < 0.9`, and the category that chooses the side with its side, `study_eye is
    left`; what why-not asks for, too."""
    described = {leaf.id: [describe(network.protocol, part).text for part in criterion_parts(leaf)]
                 for leaf in network.leaves}
    assert described["I1"] == ["abi_left < 0.9", "abi_right < 0.9"]
    assert described["I2"] == ["iop_left <= 21 mmHg", "iop_right <= 21 mmHg"]
    assert described["I3"] == ["bcva_left 24 to 78", "bcva_right 24 to 78", "study_eye is left",
                               "bcva_left 24 to 78", "study_eye is right", "bcva_right 24 to 78"]
    assert described["E1"] == ["abi_left >= 1.4"]


def test_a_fact_of_the_family_is_its_sides(network, screening):
    """The family's fact with its side (`"ankle": "left"`, as SDTM's --LAT and FHIR's laterality
    give it) is that side's; without one it is set aside, saying what to give; a side not
    declared, or not a name, is an input error."""
    outcome = decide(screening, fact("abi", 0.85, ankle="left"), fact("abi", 1.1, ankle="right"),
                     fact("iop", 22, eye="left"), fact("iop_right", 20))
    agree(network, outcome, {"I1": "MET", "I2": "NOT_MET"})
    leaf = next(c for c in network.leaves if c.id == "I1")
    explainer = Explainer(network.protocol, outcome.derived)
    assert explainer.judge(criterion_parts(leaf)[0], outcome.patient)["detail"] == \
        "abi_left 0.85 (2026-05-20; recorded as abi); needs < 0.9"
    outcome = decide(screening, fact("abi", 0.8))
    assert [(w.field, w.message) for w in outcome.patient.warnings] == [
        ("concept", "'abi' is measured per ankle: give its ankle (\"ankle\": \"left\"), or name "
                    "abi_left or abi_right; this fact is set aside")]
    assert outcome.verdicts["I1"].verdict == "UNKNOWN"
    for side, shown in (("middle", '"middle"'), (["left"], '["left"]'), (3, "3")):
        rejected = screen_one(screening, [fact("abi", 0.8, ankle=side)], day="2026-06-01")
        assert [(p.field, p.message) for p in rejected.problems] == [
            ("ankle", f"abi is measured per ankle: its ankle is one of {{left, right}}, not "
                      f"{shown}")]


def test_a_base_that_gives_the_family_leaves_its_sides_cases_to_say_why(capsys, tmp_path):
    base = {"patient": "b", "screening_date": "2026-06-01", "facts": [
        fact("abi", 1.0, ankle="left"), fact("abi", 1.1, ankle="right")]}
    text, said = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    assert ("# not generated: line 7, abi_left: the base patient gives abi as abi's facts with "
            "their ankle: a case changes abi_left's facts, so give the base's left ankle as "
            "abi_left") in text


CONCEPTS = ("  abi: score per ankle {left, right}\n  bcva: score per eye {left, right}\n"
            "  crp: quantity in mg/L\n  sex: category {female, male}\n")


@pytest.mark.parametrize("condition, said", [
    ("abi < 0.9 in any ankle", []),
    ("abi < 0.9 in either ankle", []),
    ("bcva >= 20 in each eye", []),
    ("bcva >= 20 in every eye", []),
    ("bcva >= 20 confirmed on another day in both eyes", []),
    ("abi_left < 0.9", []),
    ("abi < 0.9", ["7:19 'abi' is measured per ankle: say whose value counts, 'in any ankle', "
                   "'in each ankle' or 'in the NAME' (a category of its ankles), or name one: "
                   "abi_left or abi_right"]),
])
def test_what_check_says(condition, said):
    assert checked(CONCEPTS, condition) == said


@pytest.mark.parametrize("text, message", [
    ("abi < 0.9 in any eye", "7:36: error: 'abi' is measured per ankle, not per eye"),
    ("crp < 3 mg/L in any eye", "7:19: error: 'crp' is not measured per side: declare it "
                                "'crp: ... per eye {left, right}'"),
    ("bcva 24 to 78 in the sex", "7:40: error: 'in the sex' chooses a side of 'bcva': it must "
                                 "be a category of its eyes, {left, right}; 'sex' is a category "
                                 "of {female, male}"),
    ("bcva 24 to 78 in the nope", "'nope' is not declared"),
])
def test_what_the_parser_refuses_at_its_place(tmp_path, capsys, text, message):
    import cli

    path = tmp_path / "t.proto-rules"
    path.write_text(f'protocol "t" version "1"\nconcepts:\n{CONCEPTS}inclusion I1 "t": {text}\n',
                    encoding="utf-8")
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err, err


@pytest.mark.parametrize("declared, message", [
    ("abi: flag per ankle {left, right}", "3:13: error: 'abi' is a flag: only a quantity, lab, "
                                          "score, scale or titre is measured per side"),
    ("abi: score per ankle {left, left}", "3:14: error: 'abi' names a side twice"),
    ('abi: score per ankle {left, "right side"}', "error: a side is a plain name "
                                                  "(abi_{side} names its concept): not 'right "
                                                  "side'"),
    ("abi: score per ankle {left, right}\n  abi_left: score",
     "4:3: error: concept 'abi_left' is already declared at line 3"),
])
def test_what_a_declaration_may_not_say(tmp_path, capsys, declared, message):
    import cli

    path = tmp_path / "t.proto-rules"
    path.write_text(f'protocol "t" version "1"\nconcepts:\n  {declared}\n'
                    'inclusion I1 "t": abi_right < 1\n', encoding="utf-8")
    assert cli.main(["check", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_the_boundary_cases(capsys, tmp_path):
    """Each side's threshold moved by a step, on the side's own concept; the network passes
    every case."""
    base = {"patient": "b", "screening_date": "2026-06-01", "facts": [
        fact("abi_left", 1.0), fact("abi_right", 1.1), fact("iop_left", 18),
        fact("iop_right", 20), fact("bcva_left", 50), fact("bcva_right", 60),
        {"concept": "study_eye", "value": "left"}]}
    text, _ = boundary_cases(capsys, tmp_path, PROTOCOL, base)
    for written in ('name: "abi_right 0.899999: one step under abi_right < 0.9"',
                    'name: "iop_left 21.000001 mmHg: one step over iop_left <= 21 mmHg"',
                    'name: "bcva_right 78.000001: one step over high end of bcva_right 24 to 78"'):
        assert written in text, written


@given(sides=st.lists(st.sampled_from([None, 0.5, 0.9, 1.2]), min_size=2, max_size=2),
       chosen=st.sampled_from([None, "left", "right"]))
def test_the_network_decides_as_the_sides_do(network, screening, sides, chosen):
    """For any values of the two ankles and eyes and any chosen eye: any is the Kleene `or`, each
    the `and`, and the chosen eye's value, or both where none is chosen and they agree."""
    facts = []
    for side, value in zip(("left", "right"), sides):
        if value is not None:
            facts += [fact(f"abi_{side}", value), fact(f"iop_{side}", value * 20),
                      fact(f"bcva_{side}", value * 60)]
    if chosen is not None:
        facts.append({"concept": "study_eye", "value": chosen})
    outcome = decide(screening, *facts)
    abi = [None if v is None else v < 0.9 for v in sides]
    iop = [None if v is None else v * 20 <= 21 for v in sides]
    bcva = dict(zip(("left", "right"), (None if v is None else 24 <= v * 60 <= 78
                                        for v in sides)))
    chose = bcva[chosen] if chosen else (bcva["left"] if bcva["left"] == bcva["right"] else None)
    agree(network, outcome, {"I1": KLEENE[_or(*abi)], "I2": KLEENE[_and(*iop)],
                                           "I3": KLEENE[chose]})


@pytest.mark.parametrize("count", [3, 28, 120])
def test_a_family_of_many_sides(count):
    """A joint count's 28 joints, or more: `in any`, `in each` and `in the` compile and decide at
    every size a protocol may write (each is an `or`, an `and`, or one per side)."""
    sides = [f"j{i}" for i in range(1, count + 1)]
    network = network_from_text(
        f'protocol "joints" version "1"\nconcepts:\n'
        f'  swelling: score per joint {{{", ".join(sides)}}}\n'
        f'  target: category {{{", ".join(sides)}}}\n'
        'inclusion I1 "any": swelling >= 2 in any joint\n'
        'inclusion I2 "each": swelling <= 3 in each joint\n'
        'inclusion I3 "target": swelling 1 to 3 in the target\n')
    facts = [{"concept": f"swelling_{side}", "value": i % 4} for i, side in enumerate(sides)]
    outcome = decide(Screening(network), *facts, {"concept": "target", "value": sides[1]})
    assert {c: v.verdict for c, v in outcome.verdicts.items()} == {
        "I1": "MET", "I2": "MET", "I3": "MET"}
    outcome = decide(Screening(network), *facts[1:])  # the first joint and the target unknown
    assert {c: v.verdict for c, v in outcome.verdicts.items()} == {
        "I1": "MET", "I2": "UNKNOWN", "I3": "UNKNOWN"}


def test_a_side_is_read_at_a_day_and_a_family_is_not(tmp_path, capsys):
    import cli

    text = ('protocol "t" version "1"\nconcepts:\n  visit_1: date\n'
            '  abi: score valid for 28 days per ankle {left, right}\n'
            '  abi_left_v1: abi_left at visit_1\n'
            'inclusion I1 "t": abi_left_v1 < 0.9\n')
    network = network_from_text(text)
    outcome = decide(Screening(network), {"concept": "visit_1", "value": "2026-05-20"},
                     fact("abi_left", 0.85), fact("abi_left", 1.2, date="2026-05-25"))
    assert outcome.verdicts["I1"].verdict == "MET"  # the visit's value, not the later one
    path = tmp_path / "t.proto-rules"
    path.write_text(text.replace("abi_left at visit_1", "abi at visit_1"), encoding="utf-8")
    assert cli.main(["check", str(path)]) == 2
    assert ("5:16: error: 'abi_left_v1' reads 'abi', which is measured per ankle: read a side's "
            "value, 'abi_left at visit_1'") in capsys.readouterr().err


@given(side=st.one_of(st.none(), st.text(max_size=8), st.integers(), st.booleans(),
                      st.lists(st.text(max_size=3), max_size=2),
                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_any_side_a_fact_gives_is_read_or_refused_never_raised(screening, side):
    outcome = screen_one(screening, [fact("abi", 0.8, ankle=side)], day="2026-06-01")
    if isinstance(outcome, Decision):
        assert side in (None, "left", "right")
    else:
        assert {p.field for p in outcome.problems} <= {"ankle"} or \
            all(p.field.startswith("ankle") for p in outcome.problems), outcome.problems
