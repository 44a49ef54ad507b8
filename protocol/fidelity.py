"""Does the rule still say what the sentence says? Numbers, comparators and windows, compared.

A criterion (or part, or definition) carries the protocol's verbatim sentence and the rule an
author wrote for it. The most common encoding slips are a number that is not the sentence's (`>=
45` for "eGFR≥30"), a comparator turned (`>` for "≥") and a window changed (`within 2 weeks` for
"within 4 weeks"); each is a warning pointing at the rule's number, quoting the sentence and its
line. The reading is deliberately literal, so that it stays quiet on faithful encodings (the
examples give no warning; `tests/test_fidelity.py` keeps it so and measures what it catches on
altered copies):

- a sentence with no number at all ("Adequate organ function", whose numbers are in a table
  elsewhere) says nothing to compare;
- a number of the rule (a threshold, a bound of a range, a multiple of the ULN other than 1, a
  grade, a count above 1 other than "all of", a dose, a duration) must appear in the sentence as a
  number, written with or without thousands separators, or as a word (`two`); a duration may
  appear in another unit of the same kind (4 weeks as 28 days, 1 year as 12 months);
- where the sentence puts a comparator right before that number (`≥`, `<=`, `at least`, `more
  than`, `up to`, ...) or right after it (`or more`, `or less`), it must be the rule's, read
  through any `not` around the comparison (not an `unless`, which the sentence says too); a
  sentence with the number but no comparator at it says nothing either way;
- a window's kind must not contradict the sentence's word at its number: "within", "≤" or "up
  to" for a rule `at least`/`more than` a duration, "at least", "≥" or "more than" for `within`;
  under a `not` either word may be the rule's, since a sentence puts its word on what is denied
  ("no live vaccine within 4 weeks") or on the denial ("not requiring steroids for at least 2
  weeks": `not steroid within 2 weeks before first_dose`); and in an exclusion whose sentence
  speaks of stopping, a washout's "at least 3 weeks prior" is what its `within 3 weeks` excludes.

A sentence that says its number another way (9 g/dL written as `90 g/L`) is worth writing as the
sentence does; the warning says what the sentence has.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from protocol import model as m
from protocol.errors import Span

#: Comparators a sentence writes before a number, longest first, and the rule's operator.
BEFORE = [
    ("no more than", "<="), ("not more than", "<="), ("no less than", ">="),
    ("not less than", ">="), ("greater than or equal to", ">="), ("less than or equal to", "<="),
    ("at least", ">="), ("a minimum of", ">="), ("minimum of", ">="), ("more than", ">"),
    ("greater than", ">"), ("less than", "<"), ("fewer than", "<"), ("up to", "<="),
    ("at most", "<="), ("above", ">"), ("exceeding", ">"), ("below", "<"), ("\\>/=", ">="), ("\\</=", "<="), (">/=", ">="), ("</=", "<="), ("≥", ">="),
    (">=", ">="), ("=>", ">="), ("≤", "<="), ("<=", "<="), ("=<", "<="), ("⩾", ">="),
    ("⩽", "<="), (">", ">"), ("<", "<"),
]
#: ... and after it.
AFTER = [("or more", ">="), ("or greater", ">="), ("or above", ">="), ("or higher", ">="),
         ("or less", "<="), ("or lower", "<="), ("or below", "<="), ("or fewer", "<=")]
NEGATED = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30,
         # a factor said in words: "twice the upper limit", "doubling of UPCR"
         "twice": 2, "doubling": 2, "doubled": 2, "tripling": 3, "tripled": 3}
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\d])")
_WORD = re.compile(r"\b(" + "|".join(WORDS) + r")\b", re.IGNORECASE)
#: A stage, grade or class in Roman numerals ("Ann Arbor stage III or IV", "NYHA class III"), and
#: those after it ("stage II, III or IV"), each read as its number.
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
_ROMAN_LEAD = re.compile(r"\b(?:stage|grade|class|type)s?\s+", re.IGNORECASE)
_ROMAN_RUN = re.compile(r"(?:\s*(?:,|/|-|\bor\b|\band\b|\bto\b)?\s*)(I{1,3}|IV|VI?)[A-C]?\b")
#: "the past year", "a month": one of the unit.
_ONE = re.compile(r"\b(?:a|an|the past|the last|past|last|the previous|previous)\s+"
                  r"(?=(?:year|month|week|day)\b)", re.IGNORECASE)
#: A unit of time right after a number: the number is a duration's ("4 weeks", "72-hour").
_TIME = re.compile(r"\s*-?\s*(?:calendar\s+)?(?:hour|day|week|month|year)s?\b", re.IGNORECASE)
#: How a sentence says "at least a day before" without a number.
_BEFORE = re.compile(r"\b(?:prior to|before)\b", re.IGNORECASE)
#: How far before a number a comparator may stand: the longest ("greater than or equal to"), and
#: spaces and a unit-free gap such as "×".
REACH = max(len(words) for words, _ in BEFORE) + 8
#: How far after a number a comparator may stand ("or more", past a unit: "18 years or older").
AFTER_REACH = 28
#: How far before a number a window's word is looked for ("within the 4 weeks", "in the past").
WINDOW_REACH = 24
#: A comparator written again in signs after its words: "greater than or equal to (>=) 1.0", as
#: ClinicalTrials.gov records of several sponsors write every threshold.
_RESTATED = re.compile(r"\s*\(\s*([<>≥≤⩾⩽=/]{1,3})\s*\)$")
#: How an exclusion says that its "at least N before" is a washout: the time a patient must have
#: stopped (CYP3A4 inducers "unable to stop ... (at least 3 weeks prior)"), which the rule writes
#: as the exclusion of a use within N.
_WASHOUT = re.compile(r"\b(?:stop|stopped|discontinu\w*|wash-?out|ceased?|elapsed?)\b",
                      re.IGNORECASE)


class Said(NamedTuple):
    """A number of the sentence, where it stands, and the comparator written at it (or None)."""

    value: Decimal
    start: int
    end: int
    op: str | None


class Slip(NamedTuple):
    """What the lint reports: the template key, where in the rule, and the details."""

    kind: str
    span: Span
    info: dict[str, Any]


def slips(protocol: m.Protocol) -> Iterator[Slip]:
    """Every disagreement between a sentence and its rule, in file order."""
    for definition in protocol.definitions:
        if definition.text:
            yield from _compare(definition.name, definition.text, definition.span,
                                [definition.condition])
    for criterion in protocol.criteria:
        yield from _parts(criterion)
        for node in _criteria(criterion):
            if node.text:
                washout = criterion.role is m.Role.EXCLUSION and bool(_WASHOUT.search(node.text))
                yield from _compare(node.id, node.text, node.span, [node.applies, node.condition],
                                    washout)


#: How a sentence says that one of its items is enough ("any of the following"), or that all are
#: needed together ("all of the following"), before the list its parts encode.
_ANY = re.compile(r"\b(?:any|either|one(?: or more)?|at least one)\s+of\s+the\s+following\b",
                  re.IGNORECASE)
_ALL = re.compile(r"\b(?:all|both|each)\s+of\s+the\s+following\b", re.IGNORECASE)


def _parts(criterion: m.Criterion) -> Iterator[Slip]:
    """Parts that combine otherwise than the sentence says: an inclusion's parts must each be
    met ("any of the following" is then one part enough, which they do not say), an exclusion's
    parts each exclude alone ("all of the following" together)."""
    if not criterion.parts or not criterion.text:
        return
    inclusion = criterion.role is m.Role.INCLUSION
    found = (_ANY if inclusion else _ALL).search(criterion.text)
    if found is None:
        return
    instead = ("write one condition with `or`, or `any of [...]` over definitions" if inclusion
               else "write one condition with `and`, or `all of [...]` over definitions")
    yield Slip("fidelity/parts", criterion.parts[0].span, {
        "id": criterion.id, "role": "an inclusion" if inclusion else "an exclusion",
        "each": "a patient must meet every one" if inclusion else "any one excludes alone",
        "line": criterion.span.line, "sentence": _excerpt(criterion.text),
        "words": f'"{found.group()}"', "instead": instead})


def _criteria(criterion: m.Criterion) -> Iterator[m.Criterion]:
    yield criterion
    for part in criterion.parts:
        yield from _criteria(part)


def said(text: str) -> list[Said]:
    """The numbers of a sentence, each with the comparator written at it.

    >>> [(str(s.value), s.op) for s in said("eGFR≥30ML/min; platelets ≥ 75,000/uL, two or more")]
    [('30', '>='), ('75000', '>='), ('2', '>=')]
    >>> [str(s.value) for s in said("Ann Arbor stage III or IV, NYHA class II")]
    ['3', '4', '2']
    """
    found = []
    for match in [*_NUMBER.finditer(text), *_WORD.finditer(text)]:
        word = match.group(1).lower()
        try:
            value = Decimal(WORDS[word]) if word in WORDS else Decimal(word.replace(",", ""))
        except InvalidOperation:
            continue
        found.append(Said(value, match.start(), match.end(), _comparator(text, match)))
    found += [Said(Decimal(1), match.start(), match.end(), None) for match in _ONE.finditer(text)]
    for lead in _ROMAN_LEAD.finditer(text):  # "stage II, III or IV": each numeral in the run
        at = lead.end()
        while (match := _ROMAN_RUN.match(text, at)) is not None:
            found.append(Said(Decimal(ROMAN[match.group(1)]), match.start(1), match.end(1),
                              _comparator(text, match)))
            at = match.end()
    return sorted(found, key=lambda s: s.start)


def _comparator(text: str, match: re.Match[str]) -> str | None:
    before = text[max(0, match.start() - REACH):match.start()].lower().rstrip()
    before = re.sub(r"\s*grade$", "", before)  # "≤ Grade 1"
    restated = _RESTATED.search(before)
    for written in (before[:restated.start()], restated.group(1)) if restated else (before,):
        for words, op in BEFORE:  # the words, else the signs alone ("Hemoglobin (>=) 8 g/dL")
            if written.endswith(words):
                return op
    after = text[match.end():match.end() + AFTER_REACH].lower()
    skipped = re.sub(r"^\s*[^\s\d]+", "", after, count=1)  # a unit between: "18 years or older"
    for words, op in AFTER:
        if after.lstrip().startswith(words) or skipped.lstrip().startswith(words):
            return op
    return None


def _compare(name: str, text: str, span: Span, conditions: list[Any],
             washout: bool = False) -> Iterator[Slip]:
    numbers = said(text)
    if not numbers:
        return  # "Adequate organ function": its numbers are elsewhere (a table, an appendix)
    line = span.line
    for value, op, where, what in _numbers(conditions):
        graded = isinstance(what, m.Occurred)
        if graded and "grade" not in text.lower():
            continue  # grades said in words ("moderate to massive"): nothing to compare
        accepted = _grade_equivalents(value, op) if graded else {value}
        matches = [s for s in numbers if s.value in accepted]
        if isinstance(what, m.AtLeast | m.Counted):  # "more than one episode": at least 2
            matches += [s for s in numbers if s.value == value - 1 and s.op == ">"]
        if isinstance(what, m.Counted | m.AtLeast) and not matches:  # "at most 3": not 4
            matches = [s for s in numbers if s.value == value - 1]
        if isinstance(what, m.Quantity) and not matches:  # "12 months" compared as 52 weeks
            matches = [s for s in numbers if _about_as_long(what, text, s)]
        if isinstance(what, m.Duration):
            matches = matches or [s for s in numbers if s.value in _same_time(what)]
            timed = [s for s in matches if _TIME.match(text, s.end)]
            matches = timed or matches  # "more than one episode in the past year": the year's
            if not matches and (what.amount, what.unit) == (1, "days") and _BEFORE.search(text):
                continue  # "prior to consent": at least a day before it
        info = {"id": name, "what": _what(what), "sentence": _excerpt(text), "line": line}
        written_in = _unit_slip(what, text, matches) if isinstance(what, m.Quantity) else None
        if written_in is not None:
            yield Slip("fidelity/unit", where, {**info, "unit": what.unit, "written": written_in})
            continue
        if not matches:
            others = ", ".join(dict.fromkeys(_plain(s.value) for s in numbers)) or "no number"
            yield Slip("fidelity/number", where, {**info, "numbers": others})
            continue
        turned = any(_turned_clause(text, s) for s in matches)
        if isinstance(what, m.Duration):
            kinds = {_window_word(text, s) for s in matches} - {None}
            if washout and kinds == {"at least"}:
                kinds.add("within")
            if turned:  # "except if the last dose was more than 5 years prior": within
                kinds |= {{"within": "at least", "at least": "within"}[k] for k in kinds}
            if op is not None and kinds and not _window_families(op) & kinds:
                yield Slip("fidelity/window", where, {**info, "words": " / ".join(sorted(kinds))})
                continue
            strict = {s.op for s in matches} & {"<", "<="}
            if op in _INCLUSIVE and len(strict) == 1 and _INCLUSIVE[op] != strict.pop():
                yield Slip("fidelity/window", where, {
                    **info, "words": "< (the day itself not counted)" if op == "within"
                    else "<= (the day itself counted)"})
            continue
        written = {s.op for s in matches}
        if turned:  # "may be enrolled if <= 3 x ULN", said of an exclusion's "> 3 x ULN"
            written |= {NEGATED.get(w, w) for w in written}
        if None in written:  # the number also written bare ("15 to 25 mg", "below 15 mg")
            continue
        if op is not None and written and op not in written and not graded:
            shown = " or ".join(sorted(written))
            yield Slip("fidelity/comparator", where, {**info, "op": op, "written": shown})


#: The unit a sentence writes after a number: "5 mg/L", "25 mg/week", "1.5 x ULN" (no unit).
_UNIT_AFTER = re.compile(r"\s*([A-Za-z%µμ][\w%µμ/.^*]*)")


def _unit_slip(quantity: m.Quantity, text: str, matches: list[Said]) -> str | None:
    """The unit the sentence writes at the rule's number where it is another than the rule's
    of the same kind ("hsCRP >= 5 mg/L" compared as 5 mg/dL, ten times over; "15 to 25
    mg/week" as mg/d); None where one of the numbers is in the rule's unit (or one that equals
    it), or none says a unit the rule's converts to."""
    from protocol import units  # a unit registry, loaded only for a rule with a quantity

    if not quantity.unit or not matches:
        return None
    try:
        if units.same_dimension(quantity.unit, "d"):
            return None  # a length of time: "3 months" as 13 weeks is the author's (`_about_as_long`)
    except units.UnitProblem:
        return None
    other = None
    for number in matches:
        found = _UNIT_AFTER.match(text, number.end)
        unit = found.group(1).rstrip(".") if found else None
        if unit and unit.casefold() == quantity.unit.casefold():
            return None  # the sentence's case slip ("eGFR≥30ML/min": ML is no megalitre there)
        try:
            if not unit or not units.same_dimension(unit, quantity.unit):
                continue
            by = units.factor(unit, quantity.unit)
        except units.UnitProblem:  # a word after the number that is no unit ("3 x ULN")
            continue
        if by == 1:
            return None
        other = other or unit
    return other


def _numbers(conditions: list[Any]) -> Iterator[tuple[Decimal, str | None, Span, Any]]:
    """(value, the rule's comparator at it or None, where, the node) for each number a rule
    writes, left to right, comparators read through the `not`s around them."""
    for condition in conditions:
        yield from _walk(condition, False, None)


def _walk(node: Any, negated: bool, window: str | None) -> Iterator[tuple]:
    if not dataclasses.is_dataclass(node) or isinstance(node, LEAVES):
        return
    if isinstance(node, m.Not):
        yield from _walk(node.item, negated != node.written, window)
        return
    if isinstance(node, m.Duration):
        yield Decimal(node.amount), window, node.span, node
        return
    if isinstance(node, m.Compare | m.Course | m.CurrentDose | m.CumulativeDose | m.Where):
        quantity = node.threshold if isinstance(node, m.Compare) else \
            node.amount if isinstance(node, m.Where) and node.amount is not None else node.dose
        if quantity is not None and node.op is not None:
            yield quantity.value, _turned(node.op, negated), quantity.span, quantity
    elif isinstance(node, m.CompareReference) and node.factor != 1:
        yield node.factor, _turned(node.op, negated), node.span, node
    elif isinstance(node, m.InRange):
        yield node.low.value, None, node.low.span, node.low
        yield node.high.value, None, node.high.span, node.high
    elif isinstance(node, m.AtLeast | m.Counted) and node.count > 1 and not (
            isinstance(node, m.AtLeast) and node.count == len(node.items)):
        yield Decimal(node.count), None, node.span, node
    elif isinstance(node, m.Occurred) and node.grade is not None:
        yield node.grade[1], _turned(node.grade[0], negated), node.span, node
    elif isinstance(node, m.Window):
        window = f"not {node.kind}" if negated else node.kind
    for item in dataclasses.fields(node):
        value = getattr(node, item.name)
        for child in value if isinstance(value, tuple) else (value,):
            yield from _walk(child, negated, window)


#: Nodes with no number of their own to compare (quantities are read through their comparison).
LEAVES = (m.Quantity, m.Ref, m.Value, m.Anchor, Span)


def _grade_equivalents(value: Decimal, op: str | None) -> set[Decimal]:
    """A grade as the sentence may write it: grades are whole, so `>= 2` is "> 1" (or, negated,
    "recovered to grade 1 or better") and `<= 1` is "< 2"."""
    step = {">=": -1, "<": -1, "<=": 1, ">": 1}.get(op or "", 0)
    return {value, value + step}


def _turned(op: str, negated: bool) -> str:
    return NEGATED.get(op, op) if negated else op


def _same_time(duration: m.Duration) -> set[Decimal]:
    """The amount in the other units of the same kind: 4 weeks is 28 days, 1 year 12 months,
    3 days 72 hours (facts are dated to the day)."""
    amount = Decimal(duration.amount)
    return {"days": {amount / 7, amount * 24}, "weeks": {amount * 7}, "months": {amount / 12},
            "years": {amount * 12}}[duration.unit]


#: Days in each unit of time a sentence may give a quantity in: a month and a year on average.
_DAYS = {"day": Decimal(1), "week": Decimal(7), "month": Decimal("30.4375"),
         "year": Decimal("365.25")}


def _about_as_long(quantity: m.Quantity, text: str, number: Said) -> bool:
    """Whether a time the rule writes in one unit is the sentence's in another, within 2%: a
    life expectancy of "12 months" as `>= 52 weeks`, "6 months" as `26 weeks` (a month is no
    fixed number of weeks, so the author picks; `check` says where an average month would)."""
    found = _TIME.match(text, number.end)
    unit = (quantity.unit or "").rstrip("s")
    if found is None or unit not in _DAYS:
        return False
    said = found.group().strip(" -").split()[-1].lower().rstrip("s")
    if said not in _DAYS or said == unit:
        return False
    ours, theirs = quantity.value * _DAYS[unit], number.value * _DAYS[said]
    return abs(ours - theirs) <= theirs / 50


#: Words that open a clause saying the contrary of the rule's: the exception to an exclusion
#: ("except if ... more than 5 years prior"), or who may still take part ("patients with
#: Gilbert's syndrome may be enrolled if total bilirubin <= 3 x ULN").
_TURNING = re.compile(r"\b(?:except(?:\s+(?:if|when|for|where))?|unless|(?:may|can)\s+be\s+"
                      r"(?:enrolled|included|eligible|allowed|permitted)|(?:are|is)\s+(?:allowed|"
                      r"permitted|eligible)|eligible\s+if|allowed\s+if|permitted\s+if)\b",
                      re.IGNORECASE)


def _turned_clause(text: str, number: Said) -> bool:
    """Whether `number` stands in a clause that says the contrary of the rule, opened by such
    words (`_TURNING`) since the clause began (a `;`, a `.` ending a sentence, or the start).

    >>> text = "Total bilirubin > 1.5 x ULN; with Gilbert's syndrome may be enrolled if <= 3 x ULN"
    >>> [_turned_clause(text, n) for n in said(text)]
    [False, True]
    """
    clause = re.split(r";|\.\s", text[:number.start])[-1]
    return _TURNING.search(clause) is not None


def _window_word(text: str, number: Said) -> str | None:
    before = text[max(0, number.start - WINDOW_REACH):number.start].lower()
    after = text[number.end:number.end + 24].lower()
    if any(before.rstrip().endswith(w) or f"{w} " in before for w in ("within", "in the past",
                                                                       "in the last")):
        return "within"
    if number.op in (">=", ">") or "or more" in after or "or longer" in after:
        return "at least"
    if number.op in ("<=", "<"):
        return "within"
    return None


#: A window kind and the sign a sentence writes for it at its number: "≤ 4 weeks" is `within`,
#: its last day counted; "< 2 weeks" is `less than`, not counted.
_INCLUSIVE = {"within": "<=", "less_than": "<"}


def _window_families(kind: str) -> set[str]:
    """The sentence's words a rule's window kind (`not within`, under a `not`) agrees with."""
    family = {"within": "within", "less_than": "within", "at_least": "at least",
              "more_than": "at least", "during": "within", "during_any": "within"}.get(
        kind.removeprefix("not "))
    if family is None:
        return set()
    return {"within", "at least"} if kind.startswith("not ") else {family}


def _what(node: Any) -> str:
    if isinstance(node, m.Duration | m.Quantity):
        return str(node)
    if isinstance(node, m.CompareReference):
        return f"{_plain(node.factor)} x ULN"
    if isinstance(node, m.Occurred) and node.grade is not None:
        return f"grade {_plain(node.grade[1])}"
    return f"count {node.count}"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _excerpt(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
