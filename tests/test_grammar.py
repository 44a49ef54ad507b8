"""The grammar stage: every construct of proto-rules becomes the right model node, with its span.

Nodes are compared with `ANY` in place of spans (spans are checked on their own, on a few nodes), so
each case reads like the model it should build. Bad input lives in `data/syntax_errors.txt`, one
protocol per line; each must fail with a positioned message in a protocol author's words.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from grammar.parser import parse, parse_file
from protocol import model as m
from protocol.errors import ProtocolError, Span

DATA = Path(__file__).parent / "data"
SEED = Path(__file__).parents[1] / "examples" / "cd19-ucart-sle.proto-rules"


class _Any:
    """Equal to everything: stands for a span in an expected node."""

    def __eq__(self, other: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()


def ref(name: str) -> m.Ref:
    return m.Ref(ANY, name)


def qty(value: str, unit: str | None = None) -> m.Quantity:
    return m.Quantity(ANY, Decimal(value), unit)


def dur(amount: int, unit: str) -> m.Duration:
    return m.Duration(ANY, amount, unit)


def val(name: str, *synonyms: str) -> m.Value:
    return m.Value(ANY, name, synonyms)


def truth(name: str) -> m.Truth:
    return m.Truth(ANY, ref(name))


def within(amount: int, unit: str) -> m.Window:
    return m.Window(ANY, "within", dur(amount, unit))


def condition(text: str) -> m.Condition:
    """The condition of a one-line definition: the shortest way to parse one condition."""
    return parse(f"define x: {text}").definitions[0].condition


def concept(text: str) -> m.Concept:
    return parse(f"concepts:\n    c: {text}").concepts[0]


# --- header ---------------------------------------------------------------------------------------


def test_header_fields_and_text_concatenation() -> None:
    p = parse('protocol "cd19"\ntitle "CAR-T " "in SLE"\nversion "1.0"\nsource "CT.gov"', "h.pr")
    assert (p.id, p.title, p.version, p.origin) == ("cd19", "CAR-T in SLE", "1.0", "CT.gov")
    assert (p.path, p.concepts, p.definitions, p.criteria) == ("h.pr", (), (), ())


def test_empty_file_is_an_empty_protocol() -> None:
    p = parse("# nothing but a comment\n")
    assert (p.id, p.version, p.criteria, p.concepts) == (None, None, (), ())


def test_escaped_quote_in_text() -> None:
    assert parse('title "the \\"best\\" trial"').title == 'the "best" trial'


# --- concepts -------------------------------------------------------------------------------------

CONCEPTS = [
    ("age", dict(kind=m.Kind.AGE, unit="years")),
    ("quantity in kg", dict(kind=m.Kind.QUANTITY, unit="kg")),
    ("quantity in % valid for 28 days", dict(unit="%", valid_for=dur(28, "days"))),
    ("quantity in mL/min/1.73m2", dict(unit="mL/min/1.73m2")),
    ("lab in U/L valid for 1 week", dict(kind=m.Kind.LAB, unit="U/L", valid_for=dur(1, "weeks"))),
    ("score", dict(kind=m.Kind.SCORE, unit=None, valid_for=None)),
    ("score valid for 3 months", dict(kind=m.Kind.SCORE, valid_for=dur(3, "months"))),
    ("flag", dict(kind=m.Kind.FLAG)),
    ("flag valid for 1 year", dict(kind=m.Kind.FLAG, valid_for=dur(1, "years"))),
    ("judgment", dict(kind=m.Kind.JUDGMENT)),
    ("event", dict(kind=m.Kind.EVENT, graded=False)),
    ("event graded", dict(kind=m.Kind.EVENT, graded=True)),
    (
        "category {negative, positive}",
        dict(kind=m.Kind.CATEGORY, values=(val("negative"), val("positive"))),
    ),
    (
        'category {"no obvious abnormality", abnormal,}',
        dict(values=(val("no obvious abnormality"), val("abnormal"))),
    ),
    ("category {a} valid for 2 days", dict(values=(val("a"),), valid_for=dur(2, "days"))),
    ("medication {a, b}", dict(kind=m.Kind.MEDICATION, dosed_in=None, equivalence=None)),
    ("medication {a} dosed in mg/d", dict(dosed_in="mg/d", equivalence=None)),
    ("medication {a} dosed in mg/kg/d as pred_eq", dict(dosed_in="mg/kg/d", equivalence="pred_eq")),
    ('flag "a label"', dict(label="a label")),
    ('event graded "graded" " 1-4"', dict(graded=True, label="graded 1-4")),
]


@pytest.mark.parametrize(("text", "fields"), CONCEPTS, ids=[c[0] for c in CONCEPTS])
def test_concept_kinds_and_options(text: str, fields: dict) -> None:
    declared = concept(text)
    assert declared.name == "c"
    assert {name: getattr(declared, name) for name in fields} == fields


def test_value_synonyms_quoted_and_bare() -> None:
    declared = concept('medication {MMF = "mycophenolate mofetil" = mycophenolate, AZA}')
    assert declared.values == (val("MMF", "mycophenolate mofetil", "mycophenolate"), val("AZA"))
    assert declared.canonical("Mycophenolate") == "MMF"
    assert declared.canonical("tacrolimus") is None


def test_conversions() -> None:
    declared = concept("lab in umol/L convert 1 mg/dL = 17.1 umol/L convert 1 g/L = 1710 umol/L")
    assert declared.conversions == (
        m.Conversion(ANY, qty("1", "mg/dL"), qty("17.1", "umol/L")),
        m.Conversion(ANY, qty("1", "g/L"), qty("1710", "umol/L")),
    )


def test_names_may_start_with_keywords() -> None:
    p = parse(
        "concepts:\n a: event\n graded_x: flag\n inclusion_body: flag\n upper_gi: flag\n"
        "define d: notable and not upper_gi"
    )
    assert [c.name for c in p.concepts] == ["a", "graded_x", "inclusion_body", "upper_gi"]
    assert p.concepts[0].graded is False
    assert p.definitions[0].condition == m.And(
        ANY, (truth("notable"), m.Not(ANY, truth("upper_gi")))
    )


def test_several_concepts_sections() -> None:
    p = parse("concepts:\n a: flag\ndefine d: a\nconcepts:\n b: flag")
    assert [c.name for c in p.concepts] == ["a", "b"]


# --- equivalence tables and definitions -----------------------------------------------------------


def test_equivalence_table() -> None:
    p = parse(
        'equivalence pred "equipotent doses":\n  prednisone 5 mg = 5 mg\n'
        '  "methyl-prednisolone" 4 mg = 5 mg\n  dexamethasone 0.75 mg = 5 mg'
    )
    table = p.equivalences[0]
    assert (table.name, table.source) == ("pred", "equipotent doses")
    assert table.entries == (
        m.EquivalenceEntry(ANY, "prednisone", qty("5", "mg"), qty("5", "mg")),
        m.EquivalenceEntry(ANY, "methyl-prednisolone", qty("4", "mg"), qty("5", "mg")),
        m.EquivalenceEntry(ANY, "dexamethasone", qty("0.75", "mg"), qty("5", "mg")),
    )
    assert p.equivalence("pred") is table


def test_equivalence_without_source() -> None:
    assert parse("equivalence e:\n a 1 mg = 2 mg").equivalences[0].source is None


def test_definition_with_and_without_text() -> None:
    p = parse('define a "the protocol says" " so": b\ndefine c: d')
    assert [(d.name, d.text, d.condition) for d in p.definitions] == [
        ("a", "the protocol says so", truth("b")),
        ("c", None, truth("d")),
    ]


# --- criteria -------------------------------------------------------------------------------------


def test_criterion_text_concatenation_and_applies_when() -> None:
    p = parse(
        'exclusion E10 "Tested positive " "in blood test;"\n'
        "    applies when sex is female and childbearing:\n    test is positive"
    )
    criterion = p.criteria[0]
    assert (criterion.role, criterion.id, criterion.text) == (
        m.Role.EXCLUSION,
        "E10",
        "Tested positive in blood test;",
    )
    assert criterion.applies == m.And(
        ANY, (m.Is(ANY, ref("sex"), (val("female"),)), truth("childbearing"))
    )
    assert criterion.condition == m.Is(ANY, ref("test"), (val("positive"),))
    assert criterion.parts == () and criterion.leaves() == [criterion]


def test_criterion_without_text() -> None:
    criterion = parse("inclusion I9: a").criteria[0]
    assert (criterion.role, criterion.id, criterion.text, criterion.applies) == (
        m.Role.INCLUSION,
        "I9",
        None,
        None,
    )


def test_parts_inherit_role_id_prefix_and_applies() -> None:
    p = parse(
        'exclusion E4 "organs" applies when adult:\n'
        '    part heart "Heart": a\n'
        "    part liver applies when b: c\n"
    )
    criterion = p.criteria[0]
    assert criterion.condition is None
    heart, liver = criterion.parts
    assert (heart.role, heart.id, heart.text, heart.applies, heart.condition) == (
        m.Role.EXCLUSION,
        "E4.heart",
        "Heart",
        truth("adult"),
        truth("a"),
    )
    assert (liver.role, liver.id, liver.text, liver.condition) == (
        m.Role.EXCLUSION,
        "E4.liver",
        None,
        truth("c"),
    )
    assert liver.applies == m.And(ANY, (truth("adult"), truth("b")))
    assert [leaf.id for leaf in p.leaves()] == ["E4.heart", "E4.liver"]


def test_part_applies_without_parent_applies() -> None:
    part = parse("inclusion I4:\n part p applies when b: c").criteria[0].parts[0]
    assert (part.id, part.role, part.applies) == ("I4.p", m.Role.INCLUSION, truth("b"))


# --- and / or / not -------------------------------------------------------------------------------

PRECEDENCE = [
    ("a or b and c", m.Or(ANY, (truth("a"), m.And(ANY, (truth("b"), truth("c")))))),
    ("a and b or c", m.Or(ANY, (m.And(ANY, (truth("a"), truth("b"))), truth("c")))),
    ("not a and b", m.And(ANY, (m.Not(ANY, truth("a")), truth("b")))),
    ("not not a", m.Not(ANY, m.Not(ANY, truth("a")))),
    ("not (a or b)", m.Not(ANY, m.Or(ANY, (truth("a"), truth("b"))))),
    ("(a or b) and c", m.And(ANY, (m.Or(ANY, (truth("a"), truth("b"))), truth("c")))),
    ("a and b and c", m.And(ANY, (truth("a"), truth("b"), truth("c")))),
    ("a or b or c", m.Or(ANY, (truth("a"), truth("b"), truth("c")))),
]


@pytest.mark.parametrize(("text", "expected"), PRECEDENCE, ids=[p[0] for p in PRECEDENCE])
def test_and_or_not_precedence(text: str, expected: m.Condition) -> None:
    assert condition(text) == expected


# --- atoms ----------------------------------------------------------------------------------------

ATOMS = [
    ("flag_a", truth("flag_a")),
    ("egfr >= 30 mL/min/1.73m2", m.Compare(ANY, ref("egfr"), ">=", qty("30", "mL/min/1.73m2"))),
    ("sledai_2k >= 8", m.Compare(ANY, ref("sledai_2k"), ">=", qty("8"))),
    ("lvef >= 55 %", m.Compare(ANY, ref("lvef"), ">=", qty("55", "%"))),
    ("age ≥ 18 years", m.Compare(ANY, ref("age"), ">=", qty("18", "years"))),
    ("x ≤ 2.5 mg/dL", m.Compare(ANY, ref("x"), "<=", qty("2.5", "mg/dL"))),
    ("x < 1 g", m.Compare(ANY, ref("x"), "<", qty("1", "g"))),
    ("x > 1 g", m.Compare(ANY, ref("x"), ">", qty("1", "g"))),
    ("x == 1", m.Compare(ANY, ref("x"), "==", qty("1"))),
    ("x != 1", m.Compare(ANY, ref("x"), "!=", qty("1"))),
    ("ast <= 3.0 x ULN", m.CompareReference(ANY, ref("ast"), "<=", Decimal("3.0"), "upper")),
    ("tbil <= 2.0×ULN", m.CompareReference(ANY, ref("tbil"), "<=", Decimal("2.0"), "upper")),
    ("tbil ≤ 2 × ULN", m.CompareReference(ANY, ref("tbil"), "<=", Decimal("2"), "upper")),
    (
        "hbv_dna > upper reference",
        m.CompareReference(ANY, ref("hbv_dna"), ">", Decimal(1), "upper"),
    ),
    ("plt < lower reference", m.CompareReference(ANY, ref("plt"), "<", Decimal(1), "lower")),
    ("sex is female", m.Is(ANY, ref("sex"), (val("female"),))),
    ('ecg is "no obvious abnormality"', m.Is(ANY, ref("ecg"), (val("no obvious abnormality"),))),
    ("sex is not male", m.Is(ANY, ref("sex"), (val("male"),), negated=True)),
    ("act is one of {moderate, severe}", m.Is(ANY, ref("act"), (val("moderate"), val("severe")))),
    (
        'act is not one of {mild, "very mild"}',
        m.Is(ANY, ref("act"), (val("mild"), val("very mild")), True),
    ),
    ("car_t ever", m.Occurred(ANY, ref("car_t"), m.Window(ANY, "ever"))),
    ("tb at screening", m.Occurred(ANY, ref("tb"), m.Window(ANY, "at"))),
    ("x within 60 days before screening", m.Occurred(ANY, ref("x"), within(60, "days"))),
    ("x within 1 day before screening", m.Occurred(ANY, ref("x"), within(1, "days"))),
    ("x within 2 weeks prior to screening", m.Occurred(ANY, ref("x"), within(2, "weeks"))),
    ("x within 6 months before screening", m.Occurred(ANY, ref("x"), within(6, "months"))),
    ("x within 1 year prior to screening", m.Occurred(ANY, ref("x"), within(1, "years"))),
    ("x within 2 years before screening", m.Occurred(ANY, ref("x"), within(2, "years"))),
    (
        "gvhd with grade >= 2 at screening",
        m.Occurred(ANY, ref("gvhd"), m.Window(ANY, "at"), (">=", Decimal(2))),
    ),
    (
        "gvhd with grade ≥ 3 within 2 weeks before screening",
        m.Occurred(ANY, ref("gvhd"), within(2, "weeks"), (">=", Decimal(3))),
    ),
    ("am includes hydroxychloroquine", m.Includes(ANY, ref("am"), val("hydroxychloroquine"))),
    (
        'im includes "mycophenolate mofetil"',
        m.Includes(ANY, ref("im"), val("mycophenolate mofetil")),
    ),
    (
        "im includes at least 2 of {a, b, c}",
        m.AtLeast(ANY, 2, tuple(m.Includes(ANY, ref("im"), val(d)) for d in "abc")),
    ),
    (
        "im includes any of {a, b}",
        m.AtLeast(ANY, 1, tuple(m.Includes(ANY, ref("im"), val(d)) for d in "ab")),
    ),
    (
        "im includes all of {a, b,}",
        m.AtLeast(ANY, 2, tuple(m.Includes(ANY, ref("im"), val(d)) for d in "ab")),
    ),
    ("any of [a, b]", m.AtLeast(ANY, 1, (truth("a"), truth("b")))),
    ("all of [a, b, c]", m.AtLeast(ANY, 3, (truth("a"), truth("b"), truth("c")))),
    (
        "at least 2 of [a, b and c, not d,]",
        m.AtLeast(
            ANY, 2, (truth("a"), m.And(ANY, (truth("b"), truth("c"))), m.Not(ANY, truth("d")))
        ),
    ),
    (
        "gc dose >= 1 mg/kg/d for at least 3 months",
        m.Course(ANY, ref("gc"), ">=", qty("1", "mg/kg/d"), dur(3, "months")),
    ),
    ("gc dose > 20 mg/d", m.Course(ANY, ref("gc"), ">", qty("20", "mg/d"), None)),
    (
        "gc dose ≥ 20 for at least 1 week",
        m.Course(ANY, ref("gc"), ">=", qty("20"), dur(1, "weeks")),
    ),
]


@pytest.mark.parametrize(("text", "expected"), ATOMS, ids=[a[0] for a in ATOMS])
def test_atom(text: str, expected: m.Condition) -> None:
    assert condition(text) == expected


def test_atoms_followed_by_and() -> None:
    parsed = condition("x >= 5 and y >= 5 mg and z <= 1 x ULN and w ever")
    assert isinstance(parsed, m.And) and [type(i) for i in parsed.items] == [
        m.Compare,
        m.Compare,
        m.CompareReference,
        m.Occurred,
    ]


def test_comments_and_layout() -> None:
    p = parse("# header\ndefine a: # why\n    b\n    # more\n    or c  # end\n")
    assert p.definitions[0].condition == m.Or(ANY, (truth("b"), truth("c")))


# --- spans ----------------------------------------------------------------------------------------


def test_spans_point_at_the_source() -> None:
    text = 'inclusion I1 "t":\n    egfr >= 30 mL/min and\n    x within 60 days before screening'
    criterion = parse(text, "s.pr").criteria[0]
    compare, occurred = criterion.condition.items
    assert criterion.span == Span("s.pr", 1, 1, 3, 38)
    assert compare.span == Span("s.pr", 2, 5, 2, 22)
    assert compare.ref.span == Span("s.pr", 2, 5, 2, 9)
    assert compare.threshold.span == Span("s.pr", 2, 13, 2, 22)
    assert occurred.window.span == Span("s.pr", 3, 7, 3, 38)
    assert occurred.window.duration.span == Span("s.pr", 3, 14, 3, 21)


def test_seed_spans() -> None:
    p = parse_file(SEED)
    i4 = p.criteria[3]
    assert (i4.span.line, i4.span.column) == (121, 1)
    assert (i4.parts[0].span.line, i4.parts[0].span.column) == (122, 5)
    ecg = i4.parts[0].condition.items[1]
    assert (ecg.values[0].span.line, ecg.values[0].span.column) == (123, 33)
    course = p.definitions[0].condition.items[1]
    assert str(course.span) == f"{SEED}:102:9"
    assert (course.dose.span.column, course.duration.span.column) == (32, 55)
    assert (
        p.concept("tbil").conversions[0].span.line,
        p.concept("tbil").conversions[0].span.column,
    ) == (45, 25)


# --- the seed protocol ----------------------------------------------------------------------------


def test_seed_parses() -> None:
    p = parse_file(SEED)
    assert (p.id, p.version) == ("cd19-ucart-sle", "1.0")
    assert len(p.criteria) == 20
    roles = [c.role for c in p.criteria]
    assert roles == [m.Role.INCLUSION] * 7 + [m.Role.EXCLUSION] * 13
    assert [c.id for c in p.criteria] == [f"I{i}" for i in range(1, 8)] + [
        f"E{i}" for i in range(1, 14)
    ]
    leaves = [leaf.id for leaf in p.leaves()]
    assert len(leaves) == 23
    assert leaves[:8] == ["I1", "I2", "I3", "I4.cardiac", "I4.renal", "I4.liver", "I4.lung", "I5"]
    assert [d.name for d in p.definitions] == ["refractory_sle"]
    assert [e.name for e in p.equivalences] == ["prednisone_equivalent"]
    assert p.concept("glucocorticoid").equivalence == "prednisone_equivalent"
    assert p.concept("methylprednisolone") is None
    assert p.concept("glucocorticoid").canonical("Medrol") == "methylprednisolone"


# --- syntax errors --------------------------------------------------------------------------------


def _bad_snippets() -> list[str]:
    """Bad snippets, one per line: the language's, and the escalation section's."""
    lines = [line for path in (DATA / "syntax_errors.txt", DATA / "escalation" / "syntax_errors.txt")
             for line in path.read_text(encoding="utf-8").splitlines()]
    return [
        line.replace("\\n", "\n") for line in lines if line.strip() and not line.startswith("#")
    ]


#: Raw lark terminal names: none may reach an author (quoted words like 'x ULN' are the author's).
RAW_NAME = re.compile(r"\$END|__ANON|\b[A-Z][A-Z_]{2,}\b")


@pytest.mark.parametrize("text", _bad_snippets())
def test_syntax_error(text: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        parse(text, "bad.pr")
    head, source_line, caret = str(raised.value).split("\n")
    # what was expected, or what the language offers instead of a word it does not have; or a
    # quoted text the line leaves open, at its quote
    match = re.match(r"bad\.pr:(\d+):(\d+): error: (?:unexpected (.+?)|the file ends too early|"
                     r"a quoted text is not closed on its line)[;:] (?:expected )?(.+)$", head)
    assert match, head
    line, column = int(match[1]), int(match[2])
    assert source_line == "    " + text.splitlines()[line - 1]
    assert caret.strip() == "^" and caret.index("^") - 4 == column - 1
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", match[4].replace("MTD", ""))
    assert not RAW_NAME.search(unquoted), head


def test_syntax_error_is_structured() -> None:
    with pytest.raises(ProtocolError) as raised:
        parse("define a: x >= 5 mg or", "bad.pr")
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("syntax", 1, 23)
    assert diagnostic.message.startswith("the file ends too early; expected ")
    assert "a name (lower case, like egfr)" in diagnostic.message


def test_unexpected_token_names_it() -> None:
    with pytest.raises(ProtocolError, match=r"1:22: error: unexpected 'fortnights'; expected days"):
        parse("define a: x within 3 fortnights before screening", "bad.pr")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "define a: x within 1.5 days before screening",
            "1:20: error: expected a whole number, found 1.5",
        ),
        ("define a: at least 2.5 of [b, c]", "1:20: error: expected a whole number, found 2.5"),
    ],
)
def test_whole_numbers(text: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        parse(text, "bad.pr")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.proto-rules"
    with pytest.raises(ProtocolError) as raised:
        parse_file(missing)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "unreadable"
    assert str(raised.value) == \
        f"{missing}: error: cannot read the protocol file: No such file or directory"


# --- what the language offers instead -------------------------------------------------------------

@pytest.mark.parametrize("condition, offer", [
    ("x between 1 and 2", "the language has no 'between': write 'age 12 to 17 years'"),
    ("x =< 5", "write '<=' (at most)"),
    ("x => 5", "write '>=' (at least)"),
    ("x = 5 mg", "write '==' to compare, or 'is' for a category"),
    ("x except y", "write 'unless ...' for an exception"),
    ("w since 4 weeks", "write 'at least 4 weeks before screening'"),
    ("w during 4 weeks", "'during' spans a history ('during line_of_therapy', 'during or within "
     "60 days after line_of_therapy'); for a span of time write 'within N days before ANCHOR'"),
    ("w prior 4 weeks", "write 'within N days before ANCHOR' (or after)"),
    ("w within 72 hours before screening", "write the span in days ('72 hours' as '3 days'"),
    ("no history of w", "write 'no known history of X' (true when nothing is recorded)"),
    ("x is greater than 5 mg", "write '>' or '<'"),
    ("x >= 5 mg if y", "says 'applies when ...' before its ':'"),
    ("w within 5 half_life before screening", "a washout in half-lives goes beside a length: "
     "'within 28 days or 5 half_life, whichever is shorter, before first_dose'"),
    ("mean(x) > 5 mg", "a formula is a derived value's: declare it ('qtc_mean: derived in ms = "
     "mean(qtc)') and compare it by name"),
    ("applies when y: x >= 5 mg", "'applies when ...' comes before the criterion's ':' "
     "(inclusion I6 \"...\" applies when sex is female: ...)"),
    ("x dose >= 5 mg/d at screening", "the day of a dose comes before its comparison: "
     "'glucocorticoid dose at screening >= 5 mg/d'"),
    # DESTINY-Breast03's helper: a category value with a sign, and a filter taking an `and`
    ("y is 3+", "a value written with a sign is quoted, where it is declared and where it is "
     "compared ('her2_ihc is \"3+\"')"),
    ("w where a is b and w where c is d ever", "after 'where', 'and' joins the filter's "
     "clauses: put the filtered condition in parentheses ('(X where A) and Y where B')"),
])
def test_syntax_error_offers_what_the_language_has(condition: str, offer: str) -> None:
    head = 'protocol "t"\nconcepts:\n x: quantity in mg\n y: flag\n w: event\n'
    text = head + f'inclusion I1 "t": {condition}\n'
    with pytest.raises(ProtocolError) as raised:
        parse(text, "t.pr")
    (diagnostic,) = raised.value.diagnostics
    assert offer in diagnostic.message


def test_a_label_after_counts_as_is_offered_its_place() -> None:
    text = 'protocol "t"\nconcepts:\n csdmard: medication {methotrexate, leflunomide}\n' \
           ' mtx: medication {methotrexate} counts as csdmard "Methotrexate"\n'
    with pytest.raises(ProtocolError) as raised:
        parse(text, "t.pr")
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.span.line, diagnostic.span.column) == (4, 51)
    assert diagnostic.message == "unexpected '\"Methotrexate\"'; a concept's label comes before " \
        "'counts as': write 'methotrexate: medication {...} \"Methotrexate\" counts as csdmard'"


def test_unless_is_and_not() -> None:
    head = 'protocol "t"\nconcepts:\n y: flag\n z: flag\n w: event\n'
    text = head + 'inclusion I1 "t": y or w ever unless z\n'
    condition = parse(text, "t.pr").criteria[0].condition
    assert isinstance(condition, m.And)
    rule, exception = condition.items
    assert isinstance(rule, m.Or) and isinstance(exception, m.Not)
    assert isinstance(exception.item, m.Truth) and exception.item.ref.name == "z"


def test_an_unclosed_quoted_text_is_said_so_at_its_quote() -> None:
    """Two helpers read "unexpected '\"'" at a sentence that ran on without its closing quote."""
    with pytest.raises(ProtocolError) as raised:
        parse('protocol "e" version "1"\nconcepts:\n    ecog: scale 0 to 5\n'
              'inclusion I1 "ECOG: ecog <= 1\n', "u.pr")
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.span.line, diagnostic.span.column) == (4, 14)
    assert diagnostic.message == ("a quoted text is not closed on its line: add its closing '\"' "
                                  "(a sentence is one line, however long)")


def test_an_event_lasting_and_graded_in_either_order() -> None:
    for words in ("graded lasting", "lasting graded"):
        concept = parse(f'concepts:\n  infection: event {words}\n', "e.pr").concept("infection")
        assert concept.graded and concept.lasting, words
