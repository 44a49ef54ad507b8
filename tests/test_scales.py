"""Scales with whole steps between declared bounds (ECOG 0 to 5), and categories whose values are
numbers or codes (NYHA class 1 to 4): what the checker refuses, what a fact file may say."""

from __future__ import annotations

from typing import Any

import pytest

from engine.run import Decision, Rejected, Screening
from grammar.parser import parse
from protocol.checks import check
from tests.conftest import network_from_text, screen_one

PROTOCOL = """protocol "scales" version "1"
concepts:
  ecog: scale 0 to 5 "ECOG performance status"
  nyha: category {1, 2, 3, 4} "NYHA class"
inclusion I1 "ECOG 0-1": ecog <= 1
inclusion I2 "NYHA II-III": nyha is one of {2, 3}
inclusion I3 "ECOG 0 to 2": ecog 0 to 2
"""


@pytest.fixture(scope="module")
def screening() -> Screening:
    return Screening(network_from_text(PROTOCOL, "scales.proto-rules"))


def decide(screening: Screening, *facts: dict[str, Any]) -> Decision | Rejected:
    return screen_one(screening, facts, day="2026-06-01", path="scales.jsonl")


@pytest.mark.parametrize("ecog, nyha, verdicts", [
    (1, 2, ("MET", "MET", "MET")),
    (2, "3", ("NOT_MET", "MET", "MET")),
    (0, 4, ("MET", "NOT_MET", "MET")),
    (5, 1, ("NOT_MET", "NOT_MET", "NOT_MET")),
])
def test_scale_and_numeric_categories(screening, ecog, nyha, verdicts):
    outcome = decide(screening, {"concept": "ecog", "value": ecog, "date": "2026-05-20"},
                     {"concept": "nyha", "value": nyha})
    assert isinstance(outcome, Decision)
    assert tuple(outcome.verdicts[c].verdict for c in ("I1", "I2", "I3")) == verdicts


@pytest.mark.parametrize("fact, message", [
    ({"concept": "ecog", "value": 1.5}, "ecog is a scale of whole steps from 0 to 5: 1.5 is not "
                                        "one of them"),
    ({"concept": "ecog", "value": 6}, "6 is not one of them"),
    ({"concept": "nyha", "value": 5}, 'nyha must be one of {1, 2, 3, 4}, found "5"'),
])
def test_values_off_the_scale_are_input_errors(screening, fact, message):
    outcome = decide(screening, {"date": "2026-05-20", **fact})
    assert isinstance(outcome, Rejected)
    assert any(message in str(p) for p in outcome.problems), outcome.problems


@pytest.mark.parametrize("condition, code, at, words", [
    ("ecog <= 1.5", "scale-step", "5:27",
     "'ecog' is a scale of whole steps from 0 to 5: 1.5 is not one of them; write 1 or 2"),
    ("ecog >= 7", "scale-step", "5:27", "'ecog' is a scale from 0 to 5: 7 lies outside it"),
    ("ecog <= 2 points", None, None, None),
])
def test_thresholds_on_a_scale(condition, code, at, words):
    text = ('protocol "t" version "1"\nconcepts:\n  ecog: scale 0 to 5\n  x: flag\n'
            f'inclusion I1 "t": {condition}\n')
    found = [d for d in check(parse(text, "t")) if d.is_error]
    if code is None:
        assert found == []
        return
    assert [(d.code, f"{d.span.line}:{d.span.column}") for d in found] == [(code, at)]
    assert found[0].message == words


@pytest.mark.parametrize("value, verdicts", [
    ("< 2", ("MET", "MET")),  # 0 or 1
    ("<= 2", ("UNKNOWN", "MET")),  # 0, 1 or 2
    ("> 4", ("NOT_MET", "NOT_MET")),  # 5 itself
    (">= 1", ("UNKNOWN", "UNKNOWN")),  # 1 to 5
    ("< 1", ("MET", "MET")),  # 0 itself
])
def test_a_bound_on_a_scale_allows_whole_steps(screening, value, verdicts):
    outcome = decide(screening, {"concept": "ecog", "value": value, "date": "2026-05-20"},
                     {"concept": "nyha", "value": 2})
    assert isinstance(outcome, Decision)
    assert (outcome.verdicts["I1"].verdict, outcome.verdicts["I3"].verdict) == verdicts


@pytest.mark.parametrize("value", ["> 5", "< 0", "> 7"])
def test_a_bound_no_step_meets_is_an_input_error(screening, value):
    outcome = decide(screening, {"concept": "ecog", "value": value, "date": "2026-05-20"})
    assert isinstance(outcome, Rejected)
