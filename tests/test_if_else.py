"""A rule that depends on a condition: `alt > 5 x ULN if liver_metastases else alt > 2.5 x ULN`.
Where the condition is known, the rule it picks decides; where it is not, what both rules say
when they agree, else UNKNOWN. Every combination of three flags (true, false, not recorded) is
compared with that reading by cases, and the trail's reading of the parts with the network's.
"""

from __future__ import annotations

import itertools

import pytest

from engine.run import Screening
from tests.conftest import (STATUS, checked, decided, load_errors, network_from_text,
                            trail_status)

PROTOCOL = """protocol "if-else" version "1"
concepts:
  a: flag
  b: flag
  c: flag
  d: flag
  e: flag
  alt: lab in U/L valid for 28 days
  liver_metastases: flag
inclusion I1 "A if C, else B": a if c else b
exclusion E1 "ALT > 2.5 x ULN, or > 5 x ULN with liver metastases":
  alt > 5 x ULN if liver_metastases else alt > 2.5 x ULN
inclusion I2 "A if C, else B if D, else E": a if c else b if d else e
inclusion I3 "(A if C, else B), and D": (a if c else b) and d
"""
SCREENING = "2026-06-01"
WORDS = {True: "MET", False: "NOT_MET", None: "UNKNOWN"}


def by_cases(choice: bool | None, then: bool | None, otherwise: bool | None) -> bool | None:
    """The oracle: the rule the condition picks; unknown, what both rules say if they agree."""
    if choice is None:
        return then if then == otherwise else None
    return then if choice else otherwise


def flags(**given: bool | None) -> list[dict]:
    return [{"concept": name, "value": value} for name, value in given.items()
            if value is not None]


@pytest.fixture(scope="module")
def network():
    return network_from_text(PROTOCOL, "if-else.proto-rules")


@pytest.fixture(scope="module")
def screening(network) -> Screening:
    return Screening(network)


VALUES = (True, False, None)


@pytest.mark.parametrize("a, b, c", list(itertools.product(VALUES, repeat=3)))
def test_every_combination_reads_by_cases(network, screening, a, b, c) -> None:
    result = decided(screening, flags(a=a, b=b, c=c, d=False, e=True), day=SCREENING)
    expected = WORDS[by_cases(c, a, b)]
    assert result.verdicts["I1"].verdict == expected
    assert trail_status(network, result, "I1") == STATUS[expected]


@pytest.mark.parametrize("a, b, c, d, e", list(itertools.product(VALUES, repeat=5)))
def test_nested_to_the_right_and_inside_parentheses(screening, a, b, c, d, e) -> None:
    result = decided(screening, flags(a=a, b=b, c=c, d=d, e=e), day=SCREENING)
    assert result.verdicts["I2"].verdict == WORDS[by_cases(c, a, by_cases(d, b, e))]
    inner = by_cases(c, a, b)
    both = False if False in (inner, d) else None if None in (inner, d) else True
    assert result.verdicts["I3"].verdict == WORDS[both]


@pytest.mark.parametrize("alt, metastases, verdict", [
    (240, None, "MET"), (240, True, "MET"), (240, False, "MET"),
    (120, None, "UNKNOWN"), (120, True, "NOT_MET"), (120, False, "MET"),
    (200, None, "UNKNOWN"), (201, None, "MET"), (101, None, "UNKNOWN"), (100, None, "NOT_MET"),
    (80, None, "NOT_MET"), (80, True, "NOT_MET")])
def test_alt_by_liver_metastases(network, screening, alt, metastases, verdict) -> None:
    """ULN 40: 6 x ULN excludes with or without liver metastases, so with their status not
    recorded too; 3 x ULN is over 2.5 but not 5; at 5 x ULN exactly (200) it is not over 5,
    at 2.5 x ULN (100) not over 2.5."""
    facts = [{"concept": "alt", "value": alt, "unit": "U/L", "date": "2026-05-30",
              "reference_range": {"high": 40}}, *flags(liver_metastases=metastases)]
    result = decided(screening, facts, day=SCREENING)
    assert result.verdicts["E1"].verdict == verdict
    assert trail_status(network, result, "E1") == STATUS[verdict]


CONCEPTS = "  alt: lab in U/L\n  ast: lab in U/L\n  liver_metastases: flag\n  gilbert: flag\n"


def test_check_warns_of_a_split_that_cannot_reason_by_cases() -> None:
    said = checked(CONCEPTS, "(liver_metastases and alt <= 5 x ULN) or (not liver_metastases "
                             "and alt <= 2.5 x ULN)")
    assert said == [
        "7:19 where liver_metastases is not recorded this is UNKNOWN, even where both sides "
        "agree (strong Kleene logic does not reason by cases); write 'alt <= 5 x ULN if "
        "liver_metastases else alt <= 2.5 x ULN', which decides what both agree on"]


@pytest.mark.parametrize("condition", [
    "alt <= 5 x ULN if liver_metastases else alt <= 2.5 x ULN",
    "(liver_metastases and alt <= 5 x ULN) or (not liver_metastases and alt <= 2.5 x ULN) or "
    "(alt <= 5 x ULN and alt <= 2.5 x ULN)",
    "liver_metastases or alt <= 2.5 x ULN",
    # a compound rule on either side: its `not` is the `if`'s, no `unless` in an inclusion
    "(alt <= 5 x ULN and ast <= 5 x ULN) if liver_metastases else (alt <= 2.5 x ULN and ast "
    "<= 2.5 x ULN)",
    "alt <= 5 x ULN and ast <= 5 x ULN if liver_metastases else alt <= 2.5 x ULN and ast <= "
    "2.5 x ULN",
    # another term beside an `if` is no branch of it ("Gilbert's syndrome: total bilirubin <=
    # 3.0 x ULN or direct bilirubin <= 1.5 x ULN"): offering `D if G else B` would drop A
    "(alt <= 3 x ULN if gilbert else alt < 3 x ULN) or (gilbert and ast <= 1.5 x ULN)",
    "liver_metastases or not liver_metastases",  # no rule on either side to choose
])
def test_no_warning_where_the_rule_reasons_by_cases_or_does_not_split(condition) -> None:
    """The `if` form, the same written out with its consensus term, and an `or` that does not
    split on a condition; nor is the `not` of `if` an `unless` in an inclusion."""
    assert checked(CONCEPTS, condition) == []


def test_without_else_says_how_to_write_it() -> None:
    errors = load_errors('protocol "t" version "1"\nconcepts:\n' + CONCEPTS +
                         'inclusion I1 "x": alt <= 5 x ULN if liver_metastases\n')
    assert len(errors) == 1 and "expected 'else'" in errors[0] and \
        "'A if CONDITION else B'" in errors[0], errors


def test_an_exception_after_an_or_is_said_to_waive_every_side() -> None:
    """CheckMate 067's helper: "leptomeningeal or brain metastases unless treated and stable"
    read as `(A or B) unless C` let active leptomeningeal disease pass; `check` says how it reads
    and how to write either meaning, and is quiet where parentheses say which."""
    concepts = "  lepto: flag\n  brain_mets: flag\n  treated_stable: flag\n"

    def read_as(condition: str) -> list[str]:  # beside the `unless` of an inclusion's warning
        return [said for said in checked(concepts, condition) if " reads '(" in said]
    assert read_as("lepto or brain_mets unless treated_stable") == [
        "6:46 'lepto or brain_mets unless treated_stable' reads '(lepto or brain_mets) unless "
        "treated_stable': the exception waives every side of the 'or'; if it belongs to the last "
        "alone, write '... or (brain_mets unless treated_stable)', else put the 'or' in "
        "parentheses"]
    assert read_as("(lepto or brain_mets) unless treated_stable") == []
    assert read_as("lepto or (brain_mets unless treated_stable)") == []


def test_an_or_after_an_exception_is_said_to_waive_the_rule() -> None:
    """KEYNOTE-189's helper: "brain metastases unless treated, or carcinomatous meningitis" read
    as `A unless (B or C)` let meningitis alone waive the exclusion; `check` says so, and is
    quiet where parentheses say which."""
    concepts = "  brain_mets: flag\n  treated: flag\n  meningitis: flag\n"

    def read_as(condition: str) -> list[str]:
        return [said for said in checked(concepts, condition) if "waives the rule" in said]
    assert read_as("brain_mets unless treated or meningitis") == [
        "6:37 'brain_mets unless treated or meningitis' reads 'brain_mets unless (treated or "
        "meningitis)': 'meningitis' waives the rule as 'treated' does; if it is a condition of "
        "its own, write '(brain_mets unless treated) or meningitis', else put the 'or' in "
        "parentheses"]
    assert read_as("brain_mets unless (treated or meningitis)") == []
    assert read_as("(brain_mets unless treated) or meningitis") == []


def test_a_sentence_holding_a_direction_override_is_warned_of() -> None:
    """A right-to-left override shows a sentence in another order than the file holds (a
    helper's hostile protocol was accepted silently)."""
    said = checked("  ecog: scale 0 to 5\n", "ecog <= 1", sentence="ECOG \u202e1 ro 0")
    assert said == ["4:1 I1's sentence holds U+202E, which turn the order it is shown in: an "
                    "auditor may read another sentence than the one stored; delete them"]
