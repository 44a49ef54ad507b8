"""The text fidelity lint (`protocol/fidelity.py`, warnings of `check`): quiet on every faithful
encoding in examples/, and loud on altered copies of them: every threshold and window of every
rule changed by one step, and every comparator turned (inclusive to strict and back) where the
sentence writes one at that number. The counts are in the README ("Writing a protocol")."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from grammar.parser import parse, parse_file
from protocol import fidelity
from protocol import model as m
from protocol.checks import check

ROOT = Path(__file__).resolve().parents[1]
FAITHFUL = sorted(p for p in (ROOT / "examples").glob("*.proto-rules")
                  if p.name != "cd19-ucart-sle-v1.1.proto-rules")
TWIN = {">=": ">", ">": ">=", "<=": "<", "<": "<="}


def lint(text: str, name: str = "t.proto-rules") -> list[str]:
    return [f"{d.span.line}:{d.code}" for d in check(parse(text, name)) if d.code == "fidelity"]


@pytest.mark.parametrize("path", FAITHFUL, ids=[p.stem for p in FAITHFUL])
def test_no_warning_on_a_faithful_example(path):
    assert [d for d in check(parse_file(str(path))) if d.code == "fidelity"] == []


def test_the_amendment_whose_rule_left_its_sentence_is_flagged():
    """Amendment 1.1 narrowed E9's window to 2 weeks; its sentence still says 4 weeks."""
    found = [d for d in check(parse_file(str(ROOT / "examples/cd19-ucart-sle-v1.1.proto-rules")))
             if d.code == "fidelity"]
    assert [(d.span.line, d.message) for d in found] == [(185, (
        'E9: the rule\'s 2 weeks is not in its sentence (line 184: "Received live vaccine within '
        '4 weeks before screening;"), which has 4: write the rule as the sentence does'))]


HEADER = 'protocol "t"\nversion "1"\nconcepts:\n  egfr: quantity in mL/min\n  vaccine: event\n'
#: The same, with a few more concepts (its criteria stand on line 9).
MORE = HEADER + '  stage: scale 1 to 4\n  gilbert: flag\n  mtx: medication {mtx} dosed in mg/wk\n' \
    '  lesion: event lasting with diameter in mm\n'


@pytest.mark.parametrize("criterion, found", [
    ('inclusion I1 "eGFR≥30ML/min": egfr >= 30 mL/min', []),
    ('inclusion I1 "eGFR≥30ML/min": egfr >= 45 mL/min', ["6:fidelity"]),
    ('inclusion I1 "eGFR≥30ML/min": egfr > 30 mL/min', ["6:fidelity"]),
    ('exclusion E1 "eGFR < 30 mL/min": not egfr >= 30 mL/min', []),  # read through the `not`
    ('exclusion E1 "eGFR < 30 mL/min": not egfr > 30 mL/min', ["6:fidelity"]),
    ('inclusion I1 "eGFR 30 mL/min or more": egfr >= 30 mL/min', []),
    ('inclusion I1 "eGFR of at least 30": egfr > 30 mL/min', ["6:fidelity"]),
    ('inclusion I1 "eGFR 30": egfr > 30 mL/min', []),  # no comparator written: nothing to say
    ('exclusion E1 "vaccine within 4 weeks": vaccine within 28 days before screening', []),
    ('exclusion E1 "vaccine in the past year": vaccine within 12 months before screening', []),
    ('exclusion E1 "vaccine within two weeks": vaccine within 2 weeks before screening', []),
    ('exclusion E1 "vaccine within 72 hours": vaccine within 3 days before screening', []),
    ('exclusion E1 "vaccine within 4 weeks": vaccine within 2 weeks before screening',
     ["6:fidelity"]),
    ('exclusion E1 "vaccine at least 4 weeks before": vaccine within 4 weeks before screening',
     ["6:fidelity"]),
    # under a `not`, the sentence's word may be on the denial or on what is denied
    ('inclusion I1 "no vaccine for at least 4 weeks": not vaccine within 4 weeks before screening',
     []),
    ('inclusion I1 "no vaccine within 4 weeks": not vaccine within 4 weeks before screening', []),
    ('inclusion I1 "vaccinated at least 4 weeks before": vaccine within 4 weeks before screening',
     ["6:fidelity"]),
    # `unless` is a `not` the sentence says too
    ('exclusion E1 "vaccine ever, unless eGFR >= 30 mL/min": vaccine ever unless '
     'egfr >= 30 mL/min', []),
    ('exclusion E1 "vaccine ever, unless eGFR >= 30 mL/min": vaccine ever unless '
     'egfr > 30 mL/min', ["6:fidelity"]),
    # an exclusion's washout: "at least 3 weeks" stopped is a use within 3 weeks excluded
    ('exclusion E1 "vaccine (or unable to stop it at least 3 weeks prior)": vaccine within 3 '
     'weeks before screening', []),
    ('exclusion E1 "vaccine stopped within 3 weeks": vaccine at least 3 weeks before screening',
     ["6:fidelity"]),
    ('exclusion E1 "A minimum of 2 weeks must have elapsed between the end of the vaccine and '
     'enrolment": vaccine less than 2 weeks before screening', []),
    # the comparator in words, then again in signs, as several sponsors' registry records write it
    ('inclusion I1 "eGFR greater than or equal to (>=) 30 mL/min": egfr >= 30 mL/min', []),
    ('inclusion I1 "eGFR greater than or equal to (>=) 30 mL/min": egfr > 30 mL/min',
     ["6:fidelity"]),
    ('inclusion I1 "eGFR greater than or equal to 30 mL/min": egfr > 30 mL/min', ["6:fidelity"]),
    ('inclusion I1 "eGFR less than or equal to (<=) 30 mL/min": egfr < 30 mL/min',
     ["6:fidelity"]),
    ('inclusion I1 "eGFR (>=) 30 mL/min": egfr > 30 mL/min', ["6:fidelity"]),
    # a window's last day: "<" is not counted (`less than`), "<=" or "within" is
    ('exclusion E1 "vaccine < 2 weeks before": vaccine less than 2 weeks before screening', []),
    ('exclusion E1 "vaccine < 2 weeks before": vaccine within 2 weeks before screening',
     ["6:fidelity"]),
    ('exclusion E1 "vaccine <= 2 weeks before": vaccine less than 2 weeks before screening',
     ["6:fidelity"]),
    # a count said as "more than one"; the window of "the past year" is the year's number
    ('exclusion E1 "More than one vaccine in the past year": at least 2 vaccine within 1 year '
     'before screening', []),
    ('exclusion E1 "More than one vaccine in the past year": at least 3 vaccine within 1 year '
     'before screening', ["6:fidelity"]),
    # a factor in words: "twice", "a doubling"
    ('exclusion E1 "eGFR twice 30": egfr > 60 mL/min', ["6:fidelity"]),
    ('inclusion I1 "A doubling of eGFR": egfr >= 2 mL/min', []),
    ('inclusion I1 "A tripling of eGFR": egfr >= 2 mL/min', ["6:fidelity"]),
])
def test_the_readings(criterion, found):
    assert lint(HEADER + criterion) == found


@pytest.mark.parametrize("criterion, found", [
    # a clause that says the contrary (who may still take part; an exclusion's exception)
    ('exclusion E1 "eGFR < 30 mL/min; with Gilbert\'s syndrome may be enrolled if eGFR >= 20 '
     'mL/min": (egfr < 20 mL/min if gilbert else egfr < 30 mL/min)', []),
    ('exclusion E1 "eGFR < 30 mL/min; with Gilbert\'s syndrome eGFR >= 20 mL/min": (egfr < 20 '
     'mL/min if gilbert else egfr < 30 mL/min)', ["10:fidelity"]),
    ('exclusion E1 "Any vaccine, except if the last dose was more than 5 years prior": vaccine '
     'within 5 years before screening', []),
    # a number written bare beside a comparator elsewhere: the bare one may be the rule's
    ('inclusion I1 "A weekly dose of 15 to 25 mg (below 15 mg if intolerant)": mtx dose at '
     'screening 15 to 25 mg/wk', []),
    # a stage in Roman numerals
    ('inclusion I1 "Ann Arbor stage III or IV": stage >= 3', []),
    ('inclusion I1 "Ann Arbor stage II or IV": stage >= 3', ["10:fidelity"]),
    # a number a filter compares an item's attribute with (CheckMate 067's helper: unread)
    ('inclusion I1 "A lesion of 20 mm or more": lesion where diameter >= 20 mm at screening', []),
    ('inclusion I1 "A lesion of 20 mm or more": lesion where diameter >= 10 mm at screening',
     ["10:fidelity"]),
    # a unit slipped: the sentence's number in another unit of the same kind (SELECT-COMPARE's
    # helper: "hsCRP >= 5 mg/L" as 5 mg/dL, ten times over), but not a case slip of the
    # sentence's ("ML/min"), nor the number restated in the rule's unit
    ('inclusion I1 "eGFR >= 30 mL/h": egfr >= 30 mL/min', ["10:fidelity"]),
    ('inclusion I1 "eGFR >= 30 ML/min": egfr >= 30 mL/min', []),
    ('inclusion I1 "eGFR >= 30 mL/min (0.5 mL/s)": egfr >= 30 mL/min', []),
    ('inclusion I1 "MTX 15 to 25 mg/week": mtx dose at screening 15 to 25 mg/d', ["10:fidelity"]),
    ('inclusion I1 "MTX 15 to 25 mg/week": mtx dose at screening 15 to 25 mg/wk', []),
])
def test_sentences_that_read_another_way(criterion, found):
    """Three helpers' false warnings: POLARIX's Gilbert clause, PROfound's exception, ORAL
    Surveillance's dose range beside a lower dose, POLARIX's "stage III or IV"."""
    assert lint(MORE + criterion) == found


PARTS = (HEADER + '{role} X1 "{said} of the following:":\n'
         '    part a "eGFR >= 30 mL/min": egfr >= 30 mL/min\n'
         '    part b "Vaccine ever": vaccine ever\n')


@pytest.mark.parametrize("role, said, found", [
    ("inclusion", "All", []), ("inclusion", "Any", ["7:fidelity"]),
    ("inclusion", "At least one", ["7:fidelity"]), ("inclusion", "Either", ["7:fidelity"]),
    ("exclusion", "Any", []), ("exclusion", "All", ["7:fidelity"]),
    ("exclusion", "Both", ["7:fidelity"]),
])
def test_parts_combine_as_the_sentence_says(role, said, found):
    """An inclusion's parts are each met (all of them), an exclusion's each exclude alone (any
    of them): a sentence that says the other is a rule to write as one condition."""
    assert lint(PARTS.format(role=role, said=said)) == found


def _rule_numbers(protocol: m.Protocol):
    """(span, node) of every threshold and window duration a criterion or definition writes."""
    conditions = [d.condition for d in protocol.definitions]
    conditions += [c for leaf in protocol.leaves() for c in (leaf.applies, leaf.condition)]
    for value, op, span, node in fidelity._numbers([c for c in conditions if c is not None]):
        if isinstance(node, m.Quantity | m.Duration):
            yield span, node, op


def _altered(source: str, span, replace) -> str:
    lines = source.split("\n")
    line = lines[span.line - 1]
    start = span.column - 1
    end = span.end_column - 1 if span.end_line == span.line else len(line)
    lines[span.line - 1] = line[:start] + replace(line[start:end]) + line[end:]
    return "\n".join(lines)


def _step(text: str) -> str:
    """The first number of `text` moved by one step of its last digit ("30" -> "31", "1.5" -> "1.6")."""
    match = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    assert match is not None, text
    number = match.group().replace(",", "")
    step = Decimal(1).scaleb(Decimal(number).as_tuple().exponent)
    return text[:match.start()] + str(Decimal(number) + step) + text[match.end():]


def _alterations():
    """Every altered copy: (example, line, kind, the altered text)."""
    for path in FAITHFUL:
        source = path.read_text(encoding="utf-8")
        protocol = parse(source, path.name)
        for span, node, op in _rule_numbers(protocol):
            yield path.stem, span.line, "number", _altered(source, span, _step)
            if isinstance(node, m.Quantity) and op in TWIN:
                yield path.stem, span.line, "comparator", _turn(source, span, op)


def _turn(source: str, span, op: str) -> str:
    """The comparator just before the threshold at `span`, turned to its strict/inclusive twin."""
    lines = source.split("\n")
    line = lines[span.line - 1]
    at = line.rfind(op, 0, span.column - 1)
    lines[span.line - 1] = line[:at] + TWIN[op] + line[at + len(op):]
    return "\n".join(lines)


ALTERED = list(_alterations())


def caught(kind: str) -> tuple[int, int, int]:
    """Of the altered copies of this kind: how many there are, how many the sentence can tell
    (a changed number the sentence does not have; a turned comparator where the sentence writes
    one at that number), and how many of those the lint flags on the altered line."""
    total = telling = hits = 0
    for name, line, what, text in ALTERED:
        if what != kind:
            continue
        total += 1
        if not _tells(text, line, kind):
            continue
        telling += 1
        hits += f"{line}:fidelity" in lint(text, f"{name}.proto-rules")
    return total, telling, hits


def _tells(text: str, line: int, kind: str) -> bool:
    protocol = parse(text, "t.proto-rules")
    for node in [*protocol.definitions, *protocol.leaves()]:
        sentence = node.text or ""
        conditions = [node.condition] if isinstance(node, m.Definition) else [node.applies,
                                                                             node.condition]
        for value, op, span, _ in fidelity._numbers([c for c in conditions if c is not None]):
            if span.line != line:
                continue
            said = [s for s in fidelity.said(sentence) if s.value == value]
            if kind == "number" and not said:
                return True
            if kind == "comparator" and any(s.op is not None for s in said):
                return True
    return False


def test_every_changed_number_the_sentence_does_not_have_is_caught():
    total, telling, hits = caught("number")
    assert hits == telling and telling >= 0.9 * total and total >= 70, (total, telling, hits)


def test_every_turned_comparator_the_sentence_writes_is_caught():
    total, telling, hits = caught("comparator")
    assert hits == telling and telling >= 0.8 * total and total >= 30, (total, telling, hits)
