"""Fuzzing protocols: mutated example protocols through parse, check, compile and one patient.

The property (issue 14): only the project's own errors (`ProtoRulesError` and its subclasses)
escape, and nothing that passes `check` crashes `compile` or `run`. Mutations are of two kinds:
grammar-aware (a number, a span of time, a unit, a word or a whole line replaced by one of the
language's own tokens or an extreme of it) and byte-level (bytes inserted, deleted or flipped,
decoded as the CLI decodes a file). The budget is the hypothesis profile's (tests/conftest.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from engine import pipeline
from engine.run import Screening
from grammar.parser import parse
from protocol.checks import check
from protocol.errors import ProtoRulesError
from tests.conftest import screen_one

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.proto-rules"))
#: Eligibility protocols only: a run decides criteria (an escalation-only protocol is refused).
TEXTS = {path.name: path.read_text(encoding="utf-8") for path in EXAMPLES}

NUMBERS = ["0", "1", "0.0000001", "0.000001", "999999999999999", "1000000000000000",
           "123456789012345678901234567890", "4294967296", "99999999999", "1x10^4496729",
           "1e-10", "75,000", "36525", "36526", "1.5", "-1", "30", "33"]
UNITS = ["U/0", "U/", "mg", "mg/dL", "10^400/L", "x10^9/L", "kg/m2", "mL/min/1.73m2", "%",
         "G/L", "K/uL", "days", "log10", "mg^99"]
WORDS = ["and", "or", "not", "ever", "within", "days", "before", "after", "screening", "at least",
         "with grade >= 2", "unless", "x ULN", "is", "one of", "(", ")", "{", "}", ":", ",",
         "\ufeff", "", "\n", "#", '"', "include", "exclusion E99 \"x\": ", "define z: ",
         "maximum 36 patients", "design boin target 0.2", "cohort size 0", "during",
         "during or within 2 weeks after", "the date of", "the start of", "72 hours",
         "cumulative dose >", "confirmed on another day", "on or before", "prior to", "to",
         "average daily dose >=", "planned event", "planned", "titre", "1:80", "1:0",
         "per eye {left, right}", "in any eye", "in each ankle", "in the study_eye", "per",
         "lowest", "highest", "  nadir: lowest creatinine on or after screening",
         "  peak: highest weight within 6 months before screening", "nadir", "peak"]
TOKEN = re.compile(r"[0-9][0-9.,]*(?:x10\^[0-9]+)?|[A-Za-z_/^%0-9.]+|\S")


def exercise(text: str) -> None:
    """Parse, check, compile, run one patient: anything but our own errors fails the test."""
    try:
        protocol = parse(text, "fuzz.proto-rules")
        if any(d.is_error for d in check(protocol)):
            return
        if not protocol.criteria:
            return
        network = pipeline.compile(protocol)
        screen_one(Screening(network), [], day="2026-01-01")
    except ProtoRulesError:
        return


@st.composite
def grammar_mutation(draw) -> str:
    """An example with a few tokens or lines replaced by the language's own, or extreme ones."""
    text = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
    for _ in range(draw(st.integers(1, 3))):
        tokens = list(TOKEN.finditer(text))
        token = tokens[draw(st.integers(0, len(tokens) - 1))]
        kind = draw(st.sampled_from(["number", "unit", "word", "line"]))
        replacement = draw(st.sampled_from(
            {"number": NUMBERS, "unit": UNITS, "word": WORDS, "line": ["", *WORDS]}[kind]))
        if kind == "line":
            start = text.rfind("\n", 0, token.start()) + 1
            end = text.find("\n", token.end())
            text = text[:start] + replacement + (text[end:] if end >= 0 else "")
        else:
            text = text[:token.start()] + replacement + text[token.end():]
    return text


@st.composite
def byte_mutation(draw) -> str:
    """An example with bytes inserted, deleted or flipped, read as the CLI reads a file."""
    data = bytearray(TEXTS[draw(st.sampled_from(sorted(TEXTS)))].encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["insert", "delete", "flip"]))
        if action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        else:
            data[at] ^= 1 << draw(st.integers(0, 7))
    return data.decode("utf-8", errors="replace")


@given(grammar_mutation())
def test_grammar_mutations_raise_only_our_errors(text: str) -> None:
    exercise(text)


@given(byte_mutation())
def test_byte_mutations_raise_only_our_errors(text: str) -> None:
    exercise(text)
