"""Parse `.proto-rules` text into the typed model, once, with our own spans.

The grammar lives in `proto_rules.lark`; one Transformer turns lark's tree into frozen dataclasses, so
lark is imported in grammar/ and nowhere else. Lark's exceptions become a `ProtocolError` at this
boundary, with what was expected said in a protocol author's words (`grammar/syntax.py`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from difflib import get_close_matches
from decimal import Decimal
from functools import cache
from pathlib import Path

from lark import Lark, Token, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError

from grammar import sides
from grammar.counts import Counts
from grammar.doses import Doses
from grammar.escalation import Escalation
from grammar.imports import imported, joined, sets
from grammar.readings import ExtremeOf, ReadAt, resolved
from grammar.syntax import syntax_diagnostic
from grammar.tokens import comparator
from grammar.tokens import number as _number
from grammar.tokens import text as _text
from protocol.cache import grammar_tables
from protocol import escalation_model as em
from protocol import model as m
from protocol.errors import Diagnostic, ProtocolError, Severity, Span

GRAMMAR = Path(__file__).with_name("proto_rules.lark")


@cache
def _lark() -> Lark:
    return Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=grammar_tables(),
    )


def parse(text: str, filename: str = "<string>") -> m.Protocol:
    """Parse protocol text into a `Protocol`; raise `ProtocolError` with a positioned message.

    Imported modules are read relative to `filename` (or are designs proto-rules ships) and their
    escalation rules joined in.

    >>> p = parse('protocol "t"\\ninclusion I1 "Adults": age >= 18 years', "t.proto-rules")
    >>> p.criteria[0].id, str(p.criteria[0].condition.threshold)
    ('I1', '18 years')
    """
    return _parse_one(text, filename)


def _parse_one(text: str, filename: str, chain: tuple[str, ...] = ()) -> m.Protocol:
    """One file's text into its model, with the modules it imports (`chain`: the files that
    import it, itself last, a cycle's proof): their value sets are read first, since its
    conditions use them by name, and their escalation rules joined in after."""
    chain = chain or (os.path.normpath(filename),)
    try:
        tree = _lark().parse(_without_bom(text))
    except UnexpectedInput as error:
        raise ProtocolError([syntax_diagnostic(error, text, filename, _lark())], text) from None
    try:
        build = _Build(filename, text)
        imports = [build.transform(node) for node in tree.find_data("import_")]
        found = imported(filename, text, imports, chain, _parse_one) if imports else []
        shared = sets(found)
        build.sets = build.named(tree, shared)
        protocol = build.transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, ProtocolError):
            raise ProtocolError(error.orig_exc.diagnostics, text) from None
        raise
    return joined(protocol, found, shared) if found else protocol


def _without_bom(text: str) -> str:
    """Editors on Windows start a UTF-8 file with a byte order mark: it is read as a space, so
    columns stay those of the file and the protocol's text (and its hash) keeps its bytes."""
    return " " + text[1:] if text.startswith("\ufeff") else text


def parse_file(path: str | Path) -> m.Protocol:
    """Read and parse a protocol file; a file that cannot be read is a `ProtocolError` too."""
    return parse(read_text(path), str(path))


def read_text(path: str | Path) -> str:
    """A protocol file's text, as its bytes say it (no newline translation: the hash is the
    file's); a `ProtocolError` said of the file when it cannot be read, or at the first byte
    that is not UTF-8, with its line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:  # said of the file: no line of it to point at
        reason = "a folder, not a file" if path.is_dir() else error.strerror or str(error)
        span = Span(str(path), 0, 0, 0, 0)
        raise ProtocolError([Diagnostic(span, Severity.ERROR, "unreadable",
                                        f"cannot read the protocol file: {reason}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[:error.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        span = Span(str(path), line, column, line, column + 1)
        message = (f"not UTF-8 text: byte 0x{data[error.start]:02x} ({error.reason}); save the "
                   "file as UTF-8")
        raise ProtocolError([Diagnostic(span, Severity.ERROR, "unreadable", message)],
                            data.decode("utf-8", "replace")) from None
    return text


#: What the `confirmation` rule gives the comparison it ends (`confirmed on another day`).
CONFIRMED = "confirmed on another day"


@v_args(meta=True, inline=True)
class _Build(Escalation, Doses, Counts):
    """One method per grammar rule; each returns a model node carrying its `Span` (those of the
    dose-escalation sections in `grammar/escalation.py`, those of a medication's doses in
    `grammar/doses.py`)."""

    def __init__(self, filename: str, source: str) -> None:
        super().__init__()
        self.filename = filename
        self.source = source
        self.sets: dict[str, m.NamedValues] = {}  # the file's named value sets (`named`)
        self.set_uses: list[m.Ref] = []

    def named(self, tree: Tree, imported: dict[str, m.NamedValues]) -> dict[str, m.NamedValues]:
        """The value sets the file's conditions may name: those of the modules it imports, and its
        own, built before the conditions that use them (a set may be declared after its first
        use, as a definition may)."""
        found = dict(imported)
        for node in tree.find_data("named_values"):
            declared = self.transform(node)
            if declared.name in found:
                first = found[declared.name].span
                where = f"on line {first.line}" if first.file == self.filename else \
                    f"in {first.file}:{first.line}"
                raise self._fail(declared.span, f"the set '{declared.name}' is declared twice "
                                 f"(first {where})")
            found[declared.name] = declared
        return found

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.filename, 1, 1, 1, 1)
        return Span(self.filename, meta.line, meta.column, meta.end_line, meta.end_column)

    def _token_span(self, token: Token) -> Span:
        return Span(self.filename, token.line, token.column, token.end_line, token.end_column)

    def _fail(self, span: Span, message: str) -> ProtocolError:
        return ProtocolError([Diagnostic(span, Severity.ERROR, "syntax", message)], self.source)

    def _integer(self, token: Token) -> int:
        value = _number(token)
        if value != value.to_integral_value():
            raise self._fail(self._token_span(token), f"expected a whole number, found {token}")
        return int(value)

    # -- protocol and header --------------------------------------------------------------------
    def start(self, meta, *items):
        header = dict(item for item in items if isinstance(item, tuple))
        sections = [item for item in items if not isinstance(item, tuple)]
        concepts = resolved([c for item in sections if isinstance(item, list) for c in item],
                            self._fail)
        sections = sides.expanded(sections, {c.name: c for c in concepts}, self._fail)
        return m.Protocol(
            span=self._span(meta),
            path=self.filename,
            source=self.source,
            id=header.get("id"),
            title=header.get("title"),
            version=header.get("version"),
            origin=header.get("origin"),
            concepts=concepts,
            equivalences=tuple(s for s in sections if isinstance(s, m.Equivalence)),
            definitions=tuple(s for s in sections if isinstance(s, m.Definition)),
            criteria=tuple(s for s in sections if isinstance(s, m.Criterion)),
            imports=tuple(s for s in sections if isinstance(s, m.Import)),
            designs=tuple(s for s in sections if isinstance(s, em.Design)),
            escalations=tuple(s for s in sections if isinstance(s, em.Escalation)),
            unit_aliases=tuple(s for s in sections if isinstance(s, m.UnitAlias)),
            maps=tuple(s for s in sections if isinstance(s, m.FhirMap)),
            sets=tuple(s for s in sections if isinstance(s, m.NamedValues)),
            set_uses=tuple(self.set_uses),
        )

    def unit_alias(self, meta, spelling, meaning):
        return m.UnitAlias(self._span(meta), _text(spelling), str(meaning))

    def fhir_map(self, meta, path):
        return m.FhirMap(self._span(meta), _text(path))

    def counts_as(self, meta, name):
        return self._ref(name)

    def text(self, meta, *strings):
        return "".join(_text(s) for s in strings)

    def protocol_id(self, meta, text):
        return ("id", text)

    def title(self, meta, text):
        return ("title", text)

    def version(self, meta, text):
        return ("version", text)

    def origin(self, meta, text):
        return ("origin", text)

    # -- concepts ---------------------------------------------------------------------------------
    def concepts(self, meta, *concepts):
        return [c for concept in concepts for c in (concept if isinstance(concept, list)
                                                    else [concept])]

    def concept(self, meta, name, spec, *rest):
        kind, options = spec
        label = next((r for r in rest if isinstance(r, str)), None)
        broader = next((r for r in rest if isinstance(r, m.Ref)), None)
        concept = m.Concept(span=self._span(meta), name=str(name), kind=kind, label=label,
                            counts_as=broader, **options)
        per = next((r for r in rest if isinstance(r, sides.PerSide)), None)
        return concept if per is None else sides.side_concepts(concept, per, self._fail)

    def per_side(self, meta, word, values):
        return sides.PerSide(self._span(meta), str(word), values)

    def sided(self, meta, measured, scope):
        scope_name, name = scope
        return sides.SideScope(self._span(meta), scope_name, name, measured)

    def any_side(self, meta, name):
        return "any", self._ref(name)

    def each_side(self, meta, name):
        return "each", self._ref(name)

    def chosen_side(self, meta, name):
        return "the", self._ref(name)

    def reading_concept(self, meta, name, base, at, *rest):
        validity = next((r for r in rest if isinstance(r, m.Duration)), None)
        label = next((r for r in rest if isinstance(r, str)), None)
        return ReadAt(self._span(meta), str(name), self._ref(base), self._ref(at), validity,
                      label)

    def extreme_concept(self, meta, name, which, base, window, *label):
        return ExtremeOf(self._span(meta), str(name), str(which), self._ref(base), window,
                       label[0] if label else None)

    def derived_concept(self, meta, name, unit, *rest):
        reference = rest[0] if rest and isinstance(rest[0], tuple) else None
        label = next((r for r in rest[:-1] if isinstance(r, str)), None)
        return m.Concept(span=self._span(meta), name=str(name), kind=m.Kind.DERIVED,
                         unit=str(unit), label=label, formula=rest[-1], reference=reference)

    def reference_range(self, meta, low, high):
        return _number(low), _number(high)

    # -- formulas ---------------------------------------------------------------------------------
    def _arithmetic(self, meta, op, left, right):
        return m.Arithmetic(self._span(meta), op, left, right)

    def add(self, meta, left, right):
        return self._arithmetic(meta, "+", left, right)

    def sub(self, meta, left, right):
        return self._arithmetic(meta, "-", left, right)

    def mul(self, meta, left, right):
        return self._arithmetic(meta, "*", left, right)

    def div(self, meta, left, right):
        return self._arithmetic(meta, "/", left, right)

    def negative(self, meta, operand):
        """`-0.329`: a negative number. Only a number: `-2^2` would read as 4 to some authors
        and -4 to others, so a minus before anything else is refused, with what to write."""
        if not isinstance(operand, m.Number):
            raise self._fail(self._span(meta), "a minus sign goes before a number only; "
                             "write '0 - ...' or '(-1) x ...'")
        return m.Number(self._span(meta), -operand.value, f"-{operand.text}")

    def power(self, meta, base, exponent):
        if isinstance(exponent, Token):  # `^2`, `^-1.154`
            exponent = self.number(None, exponent)
        return m.Power(self._span(meta), base, exponent)

    def number(self, meta, token):
        return m.Number(self._token_span(token), _number(token), str(token))

    def reading(self, meta, name, unit=None):
        return m.Reading(self._span(meta), self._ref(name), str(unit) if unit else None)

    def choice(self, meta, then, condition, otherwise):
        return m.Choice(self._span(meta), condition, then, otherwise)

    def call(self, meta, function, *args):
        name = str(function)
        if name == "sqrt" and len(args) != 1:
            raise self._fail(self._span(meta), "sqrt(...) takes one value")
        if name == "mean" and len(args) != 1:
            raise self._fail(self._span(meta), "mean(...) takes one concept, whose results of "
                             "one day it averages")
        return m.Call(self._span(meta), name, tuple(args))

    def call_at_least(self, meta, function, arg, number):
        """`mean(qtcf, at least 3)`: the mean of the day's results, when there are that many."""
        if str(function) != "mean":
            raise self._fail(self._span(meta), f"{function}(...) takes no 'at least': only "
                             "mean(...) counts the results it averages")
        least = self._integer(number)
        if least < 1:
            raise self._fail(self._token_span(number), "a mean averages at least 1 result")
        return m.Call(self._span(meta), "mean", (arg,), least)

    def _measured(self, kind, unit, rest):
        conversions = tuple(r for r in rest if isinstance(r, m.Conversion))
        validity = next((r for r in rest if isinstance(r, m.Duration)), None)
        return kind, {"unit": str(unit), "conversions": conversions, "valid_for": validity}

    def quantity_kind(self, meta, unit, *rest):
        return self._measured(m.Kind.QUANTITY, unit, rest)

    def lab_kind(self, meta, unit, *rest):
        return self._measured(m.Kind.LAB, unit, rest)

    def score_kind(self, meta, validity=None):
        return m.Kind.SCORE, {"valid_for": validity}

    def titre_kind(self, meta, validity=None):
        return m.Kind.TITRE, {"valid_for": validity}

    def scale_kind(self, meta, low, high, validity=None):
        return m.Kind.SCALE, {"valid_for": validity, "steps": (_number(low), _number(high))}

    def age_kind(self, meta, at=None):
        return m.Kind.AGE, {"unit": "years", "at": self._ref(at) if at is not None else None}

    def flag_kind(self, meta, validity=None):
        return m.Kind.FLAG, {"valid_for": validity}

    def judgment_kind(self, meta):
        return m.Kind.JUDGMENT, {}

    def category_kind(self, meta, values, validity=None):
        return m.Kind.CATEGORY, {"values": values, "valid_for": validity}

    def date_kind(self, meta):
        return m.Kind.DATE, {}

    def event_kind(self, meta, *rest):
        words = {r.type for r in rest if isinstance(r, Token)}
        attributes = tuple(r for r in rest if isinstance(r, m.Attribute))
        return m.Kind.EVENT, {"graded": "GRADED" in words, "planned": "PLANNED" in words,
                              "lasting": "LASTING" in words,
                              "attributes": attributes}

    def medication_kind(self, meta, values, *rest):
        dosing = next((r for r in rest if isinstance(r, dict)), {})
        attributes = tuple(r for r in rest if isinstance(r, m.Attribute))
        return m.Kind.MEDICATION, {"values": values, "attributes": attributes, **dosing}

    def attribute(self, meta, name, values):
        return m.Attribute(self._span(meta), str(name), values)

    def measured_attribute(self, meta, name, unit):
        return m.Attribute(self._span(meta), str(name), (), numeric=True, unit=str(unit))

    def number_attribute(self, meta, name):
        return m.Attribute(self._span(meta), str(name), (), numeric=True)

    def conversion(self, meta, source, target):
        return m.Conversion(self._span(meta), source, target)

    def affine_conversion(self, meta, target, times, _, source, offset):
        """`convert % = 0.09148 x mmol/mol + 2.152`: 1 of `source` is `times` of `target`, then
        the offset is added."""
        span = self._span(meta)
        return m.Conversion(span, m.Quantity(self._token_span(source), Decimal(1), str(source)),
                            m.Quantity(self._token_span(target), _number(times), str(target)),
                            offset)

    def plus(self, meta, number):
        return _number(number)

    def minus(self, meta, number):
        return -_number(number)

    def validity(self, meta, duration):
        return duration

    def dosing(self, meta, unit, *options):
        return {"dosed_in": str(unit), **dict(options)}

    def dose_as(self, meta, name):
        return ("equivalence", str(name))

    def dose_per(self, meta, name):
        return ("weight", m.Ref(self._token_span(name), str(name)))

    def value_set(self, meta, *values):
        return tuple(values)

    def named_values(self, meta, name, values, text=None):
        return m.NamedValues(self._span(meta), str(name), values, text)

    def set_ref(self, meta, name):
        """A set used by its name: its values, in place (`named`)."""
        found = self.sets.get(str(name))
        if found is None:
            close = get_close_matches(str(name), self.sets, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else \
                f": write {{{name}}} for one value, or declare the set: `set {name}: {{...}}`"
            raise self._fail(self._token_span(name), f"unknown value set '{name}'{hint}")
        self.set_uses.append(self._ref(name))
        return found.values

    def value(self, meta, name, *synonyms):
        name_value = self._value_name(name)
        return m.Value(self._span(meta), name_value, tuple(self._value_name(s) for s in synonyms))

    def _value_name(self, token: Token) -> str:
        return _text(token) if token.type == "STRING" else str(token)

    def _single_value(self, token: Token) -> m.Value:
        return m.Value(self._token_span(token), self._value_name(token))

    # -- equivalence ------------------------------------------------------------------------------
    def equivalence(self, meta, name, *rest):
        source = rest[0] if rest and isinstance(rest[0], str) else None
        entries = tuple(r for r in rest if isinstance(r, m.EquivalenceEntry))
        return m.Equivalence(self._span(meta), str(name), source, entries)

    def equivalence_entry(self, meta, drug, amount, equals):
        return m.EquivalenceEntry(self._span(meta), self._value_name(drug), amount, equals)

    # -- definitions and criteria -----------------------------------------------------------------
    def definition(self, meta, name, *rest):
        text = rest[0] if len(rest) == 2 else None
        return m.Definition(self._span(meta), str(name), text, rest[-1])

    def applies(self, meta, condition):
        return ("applies", condition)

    def criterion(self, meta, role, ident, *rest):
        text, applies, body = self._header(rest)
        criterion_id = str(ident)
        role_value = m.Role(str(role))
        parts = tuple(b for b in body if isinstance(b, m.Criterion))
        if parts:
            parts = tuple(self._as_part(p, role_value, criterion_id, applies) for p in parts)
            return m.Criterion(self._span(meta), role_value, criterion_id, text, applies, None, parts)
        return m.Criterion(self._span(meta), role_value, criterion_id, text, applies, body[0])

    def part(self, meta, name, *rest):
        text, applies, body = self._header(rest)
        return m.Criterion(self._span(meta), m.Role.INCLUSION, str(name), text, applies, body[0])

    @staticmethod
    def _header(rest):
        text = rest[0] if rest and isinstance(rest[0], str) else None
        rest = rest[1:] if text is not None else rest
        applies = None
        if rest and isinstance(rest[0], tuple) and rest[0][0] == "applies":
            applies, rest = rest[0][1], rest[1:]
        return text, applies, rest

    @staticmethod
    def _as_part(part: m.Criterion, role: m.Role, parent: str, applies) -> m.Criterion:
        """A part takes its parent's role and id prefix; the parent's applies-when holds for it too."""
        if applies is not None and part.applies is not None:
            combined = m.And(part.applies.span, (applies, part.applies))
        else:
            combined = part.applies if part.applies is not None else applies
        return m.Criterion(
            part.span, role, f"{parent}.{part.id}", part.text, combined, part.condition
        )

    # -- dose escalation ---------------------------------------------------------------------------
    def import_(self, meta, path):
        return m.Import(self._span(meta), _text(path))

    # -- conditions ---------------------------------------------------------------------------------
    def unless(self, meta, condition, exception):
        """`X unless Y` is `X and not Y`: an exception the protocol states after its rule."""
        return m.And(self._span(meta), (condition, m.Not(exception.span, exception)))

    def if_else(self, meta, then, choice, otherwise):
        """`A if C else B`: A where C holds, B where it does not, and where C is unknown what
        A and B both say. Strong Kleene's `(C and A) or (not C and B)` leaves "ALT > 5 x ULN
        with liver metastases, else > 2.5 x ULN" UNKNOWN at 6 x ULN with the metastases not
        recorded, though either reading excludes; the consensus term `A and B` (true where both
        are, false with the rest where both are false) decides it, and changes nothing where C
        is known. The `not` is the rule's, not written (see `m.Not.written`)."""
        span = self._span(meta)
        return m.Or(span, (m.And(span, (choice, then)),
                           m.And(span, (m.Not(choice.span, choice), otherwise)),
                           m.And(span, (then, otherwise))))

    def or_cond(self, meta, *items):
        return m.Or(self._span(meta), tuple(items))

    def and_cond(self, meta, *items):
        return m.And(self._span(meta), tuple(items))

    def negation(self, meta, item):
        return m.Not(self._span(meta), item)

    def _ref(self, token: Token) -> m.Ref:
        return m.Ref(self._token_span(token), str(token))

    def truth(self, meta, name):
        return m.Truth(self._span(meta), self._ref(name))

    def compare(self, meta, name, op, threshold, confirmation=None):
        return self._confirmed(meta, confirmation, m.Compare(self._span(meta), self._ref(name),
                                                             comparator(op), threshold))

    def confirmation(self, meta):
        return CONFIRMED

    def _confirmed(self, meta, confirmation, measured):
        """`... confirmed on another day` around a comparison of a measured value."""
        return measured if confirmation is None else m.Confirmed(self._span(meta), measured)

    def compare_uln(self, meta, name, op, factor, _uln, confirmation=None):
        return self._confirmed(meta, confirmation, m.CompareReference(
            self._span(meta), self._ref(name), comparator(op), _number(factor), "upper"))

    def compare_reference(self, meta, name, op, bound, confirmation=None):
        return self._confirmed(meta, confirmation, m.CompareReference(
            self._span(meta), self._ref(name), comparator(op), Decimal(1), str(bound)))

    def is_value(self, meta, name, *rest):
        negated = len(rest) == 2
        value = self._single_value(rest[-1])
        return m.Is(self._span(meta), self._ref(name), (value,), negated)

    def recorded(self, meta, name, *negated):
        return m.Recorded(self._span(meta), self._ref(name), bool(negated))

    def is_one_of(self, meta, name, *rest):
        negated = len(rest) == 2
        return m.Is(self._span(meta), self._ref(name), rest[-1], negated)

    def occurred(self, meta, name, *rest):
        grade = next((r for r in rest if isinstance(r, tuple) and not isinstance(
            r[0], m.Where | m.Either)), None)
        filters = next((r for r in rest if isinstance(r, tuple) and r and
                        isinstance(r[0], m.Where | m.Either)), ())
        return m.Occurred(self._span(meta), self._ref(name), rest[-1], grade, filters)

    def latest(self, meta, name, *rest):
        """`the latest allo_sct more than 6 months before first_dose`."""
        return m.Latest(self._span(meta), self.occurred(meta, name, *rest))

    def of_latest_is(self, meta, attribute, name, *rest):
        """`response of the latest mm_therapy is refractory`: the clause the most recent item
        passes, as a filter's (`m.OfLatest`)."""
        return self._of_latest(meta, name, self.clause_is(meta, attribute, *rest))

    def of_latest_one_of(self, meta, attribute, name, *rest):
        return self._of_latest(meta, name, self.clause_one_of(meta, attribute, *rest))

    def of_latest_compare(self, meta, attribute, name, op, amount):
        return self._of_latest(meta, name, self.clause_compare(meta, attribute, op, amount))

    def of_latest_dose(self, meta, name, op, dose):
        return self._of_latest(meta, name, self.clause_dose(meta, op, dose))

    def _of_latest(self, meta, name, clause: m.Where) -> m.OfLatest:
        span = self._span(meta)
        return m.OfLatest(span, m.Occurred(span, self._ref(name), m.Window(span, "ever"),
                                           filters=(clause,)))

    def filter(self, meta, *clauses):
        """The clauses an item passes every one of: `(a and b)` is its clauses."""
        return tuple(c for clause in clauses
                     for c in (clause if isinstance(clause, tuple) else (clause,)))

    def each(self, meta, *clauses):
        """`(a and (b or c))`: its clauses, each as the filter's own."""
        return self.filter(meta, *clauses)

    lone_filter = filter

    def either(self, meta, *clauses):
        """`(line is 1 or response is refractory)`: one clause of a filter, passed by passing any
        of these."""
        return m.Either(self._span(meta), tuple(clauses))

    def other_than(self, meta, values):
        return m.Where(self._span(meta), None, values, negated=True)

    def clause_is(self, meta, name, *rest):
        value = self._single_value(rest[-1])
        return m.Where(self._span(meta), self._ref(name), (value,), len(rest) == 2)

    def clause_one_of(self, meta, name, *rest):
        return m.Where(self._span(meta), self._ref(name), rest[-1], len(rest) == 2)

    def clause_dose(self, meta, op, dose):
        return m.Where(self._span(meta), m.Ref(self._span(meta), m.DOSE), op=comparator(op),
                       dose=dose)

    def clause_compare(self, meta, name, op, amount):
        return m.Where(self._span(meta), self._ref(name), op=comparator(op), amount=amount)

    def grade(self, meta, op, value):
        return (comparator(op), _number(value))

    def ever(self, meta):
        return m.Window(self._span(meta), "ever")

    def at_anchor(self, meta, anchor):
        return m.Window(self._span(meta), "at", anchor=anchor)

    def _window(self, meta, kind, duration, *rest) -> m.Window:
        """A window of a duration; `less than D or N half_life, ...` is strict in both lengths."""
        *reach, direction, anchor = rest
        reach = [replace(r, strict=kind == "less_than") for r in reach]
        return m.Window(self._span(meta), kind, duration, direction, anchor, *reach)

    def reach(self, meta, times, attribute, length):
        """`or 5 half_life, whichever is shorter`: each item's own length beside the duration;
        "whichever is less" and "greater" are the same lengths."""
        return m.Reach(self._span(meta), _number(times), self._ref(attribute),
                       str(length) in ("longer", "greater"), written=str(length))

    def within(self, meta, *rest):
        return self._window(meta, "within", *rest)

    def less_than(self, meta, *rest):
        return self._window(meta, "less_than", *rest)

    def at_least_window(self, meta, *rest):
        return self._window(meta, "at_least", *rest)

    def more_than(self, meta, *rest):
        return self._window(meta, "more_than", *rest)

    def ordered(self, meta, direction, anchor):
        return m.Window(self._span(meta), "order", None, direction, anchor)

    def ordered_or_on(self, meta, direction, anchor):
        return m.Window(self._span(meta), "order_or_on", None, direction, anchor)

    def during(self, meta, *given):
        """`during X`, `during or within D after X`: from the start of the most recent X to its
        end (plus D), or to now while it goes on."""
        *duration, name = given
        anchor = m.Anchor(self._token_span(name), self._ref(name), "start")
        return m.Window(self._span(meta), "during", *duration or [None], "after", anchor)

    def during_any(self, meta, *given):
        """`during any X`, `during or within D after any X`: from the start of each X to its
        end (plus D), or to now while it goes on; of the Xs a filter keeps (`during any nha
        where setting is mcrpc`)."""
        kept = given[-1] if isinstance(given[-1], tuple) else ()
        *duration, name = given[:-1] if kept else given
        anchor = m.Anchor(self._token_span(name), self._ref(name), "start")
        return m.Window(self._span(meta), "during_any", *duration or [None], "after", anchor,
                        kept=kept)

    def before(self, meta):
        return "before"

    def after(self, meta):
        return "after"

    def screening(self, meta):
        """The screening date: no anchor of its own (`Window.anchor` None)."""
        return None

    def date_anchor(self, meta, name):
        return m.Anchor(self._span(meta), self._ref(name))

    def edge_anchor(self, meta, edge, name):
        return m.Anchor(self._span(meta), self._ref(name), str(edge))

    def no_known(self, meta, name, *rest):
        grade = next((r for r in rest if isinstance(r, tuple) and not isinstance(
            r[0], m.Where | m.Either)), None)
        filters = next((r for r in rest if isinstance(r, tuple) and r and
                        isinstance(r[0], m.Where | m.Either)), ())
        window = next((r for r in rest if isinstance(r, m.Window)), None)
        occurred = m.Occurred(self._span(meta), self._ref(name),
                              window or m.Window(self._span(meta), "ever"), grade, filters)
        return m.NoKnown(self._span(meta), occurred)

    def known(self, meta, name, *rest):
        """`known history of X`: the open world's other side (`m.NoKnown.known`)."""
        no_known = self.no_known(meta, name, *rest)
        return m.NoKnown(no_known.span, no_known.occurred, known=True)

    def in_range(self, meta, name, low, *rest):
        """`age 12 to 17 years`: a low bound without a unit takes the high bound's."""
        confirmation = rest[-1] if rest[-1] is CONFIRMED else None
        rest = rest[:-1] if confirmation is not None else rest
        high = rest[-1]
        unit = str(rest[0]) if len(rest) == 2 else high.unit
        start, end = self._token_span(low), rest[0] if len(rest) == 2 else low
        span = Span(start.file, start.line, start.column, end.end_line, end.end_column)
        low_q = m.Quantity(span, _number(low), unit)
        return self._confirmed(meta, confirmation,
                               m.InRange(self._span(meta), self._ref(name), low_q, high))

    def dilution_range(self, meta, name, low, high, confirmation=None):
        """`ana 1:80 to 1:640`: a titre between two dilutions."""
        return self._confirmed(meta, confirmation,
                               m.InRange(self._span(meta), self._ref(name), low, high))

    def includes(self, meta, name, drug):
        return m.Includes(self._span(meta), self._ref(name), self._single_value(drug))

    def includes_count(self, meta, name, count, values):
        ref = self._ref(name)
        items = tuple(m.Includes(v.span, ref, m.Value(v.span, v.name)) for v in values)
        return m.AtLeast(self._span(meta), len(items) if count is None else count, items)

    def continuous(self, meta, name, duration, *through):
        return m.Continuous(self._span(meta), self._ref(name), duration,
                            through[0][0] if through else None, bool(through))

    def through(self, meta, anchor):
        """The day a run of courses reaches (`before screening`: None), in a tuple, so that
        the screening date is told apart from no day at all."""
        return (anchor,)

    def for_at_least(self, meta, duration):
        return duration

    def count_of(self, meta, count, *items):
        return m.AtLeast(self._span(meta), len(items) if count is None else count, tuple(items))

    def at_least(self, meta, number):
        return self._integer(number)

    def any(self, meta):
        return 1

    def all(self, meta):
        return None

    def quantity(self, meta, number, unit=None):
        return m.Quantity(self._span(meta), _number(number), str(unit) if unit else None)

    def dilution(self, meta, token):
        """`1:80` as the number a titre is read as, 80."""
        return m.Quantity(self._span(meta), Decimal(str(token)[2:]), m.DILUTION)

    def duration(self, meta, number, unit):
        plural = str(unit) if str(unit).endswith("s") else f"{unit}s"
        return m.Duration(self._span(meta), self._integer(number), plural)


def dump(node, indent: int = 0) -> str:
    """The model as an indented outline, for `proto-rules check --dump-ast`."""
    pad = "  " * indent
    if isinstance(node, (list, tuple)):
        return "\n".join(dump(item, indent) for item in node)
    if not hasattr(node, "__dataclass_fields__"):
        return f"{pad}{node!r}"
    fields = [f for f in node.__dataclass_fields__ if f not in ("span", "source", "modules")]
    simple = {f: getattr(node, f) for f in fields if not _is_node(getattr(node, f))}
    head = f"{pad}{type(node).__name__} @{node.span.line}:{node.span.column}"
    head += "".join(f" {k}={v!r}" for k, v in simple.items() if v not in (None, (), ""))
    children = [
        f"{pad}  {f}:\n{dump(getattr(node, f), indent + 2)}" for f in fields if _is_node(getattr(node, f))
    ]
    return "\n".join([head, *children])


def _is_node(value) -> bool:
    if isinstance(value, (list, tuple)):
        return bool(value) and all(hasattr(v, "__dataclass_fields__") for v in value)
    return hasattr(value, "__dataclass_fields__")


__all__ = ["parse", "parse_file", "dump", "Tree"]
