"""Syntax errors in a protocol author's words, from lark's exceptions.

What was expected is said in words (`a unit (like mg/dL)`, not `UNIT`); a word the language does
not have (`between`, `except`, `since`) gets what to write instead; every error points at its
`file:line:col`, and the renderer in `protocol/errors.py` draws the line and a caret.
"""

from __future__ import annotations

import re

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from protocol.errors import Diagnostic, Fix, Severity, Span

#: What each terminal means to a protocol author, for "expected ..." in syntax errors.
EXPECTED_WORDS = {
    "NAME": "a name (lower case, like egfr)",
    "WORD": "a value (like positive)",
    "NUMBER": "a number",
    "STRING": 'a quoted text ("...")',
    "UNIT": "a unit (like mg/dL)",
    "TIME_UNIT": "days, weeks, months or years",
    "COMPARATOR": "a comparison (>=, <=, >, <, ==, !=)",
    "CRITERION_ID": "a criterion id (like I1 or E8)",
    "ROLE": "'inclusion' or 'exclusion'",
    "ULN": "'x ULN'",
    "BOUND": "'upper' or 'lower'",
    "NOT": "'not'",
    "GRADED": "'graded'",
    "PLANNED": "'planned'",
    "LASTING": "'lasting'",
    "TIMES": "'x' (times)",
    "LENGTH": "'shorter' or 'longer' ('less' or 'greater')",
    "SCI": "a number like 1x10^7 or 1e7",
    "LEVEL_ID": "a dose level id (like DL1)",
    "FUNCTION": "min(...), max(...), sqrt(...) or mean(...)",
    "COLON": "':'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "EQUAL": "'='",
    "$END": "the end of the file",
}


#: Said with a syntax error at a conditional term written without its parentheses or `else`.
CONDITIONAL_TERM = "a conditional term is written (A if CONDITION else B), with its parentheses"
#: Said with a syntax error at a condition's `if` without its `else`.
CONDITIONAL_RULE = ("a criterion that applies only sometimes says 'applies when ...' before its "
                    "':'; a rule that depends on a condition is 'A if CONDITION else B'")


#: Characters that look like others, as pasted from a word processor or a PDF.
LOOKALIKES = {"\u00a0": "a no-break space: write a plain space", "\u2009": "a thin space",
              "\u200b": "a zero-width space", "\u2013": "an en dash: write '-' or 'to'",
              "\u2014": "an em dash", "\u2212": "a minus sign: write '-'",
              "\u201c": "a curly quote: write '\"'", "\u201d": "a curly quote: write '\"'",
              "\u2018": "a curly quote", "\u2019": "a curly quote", "\t": "a tab"}


def _character(char: str) -> str:
    """An unexpected character as a message shows it: itself, and what it is where it looks
    like another or like nothing (a no-break space shows as a space).

    >>> print(_character("\u00a0"), _character("@"))
    '\xa0' (U+00A0, a no-break space: write a plain space) '@'
    """
    said = LOOKALIKES.get(char)
    if said is None and char.isprintable() and not char.isspace() and char.isascii():
        return f"'{char}'"
    if said is None and char.isprintable() and not char.isspace():  # a Cyrillic е for an e
        said = "not an ASCII character: names and keywords are written in ASCII"
    return f"'{char}' (U+{ord(char):04X}" + (f", {said})" if said else ")")


def syntax_diagnostic(error: UnexpectedInput, text: str, filename: str, lark: Lark) -> Diagnostic:
    """A lark error as a diagnostic at its position, in a protocol author's words: what was
    expected, or what the language offers instead of a word it does not have."""
    line, column = getattr(error, "line", 0) or 0, getattr(error, "column", 0) or 0
    if isinstance(error, UnexpectedEOF) or line <= 0:
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        found = "the end of the file"
    elif isinstance(error, UnexpectedCharacters):
        found = _character(text[error.pos_in_stream])
        rest = text[error.pos_in_stream + 1:].split("\n", 1)[0]
        if text[error.pos_in_stream] == '"' and '"' not in rest:  # a text the line leaves open
            return Diagnostic(Span(filename, line, column, line, column + 1), Severity.ERROR,
                              "syntax", "a quoted text is not closed on its line: add its "
                              "closing '\"' (a sentence is one line, however long)")
    elif error.token.type == "$END":  # type: ignore[attr-defined]
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        found = "the end of the file"
    else:
        found = f"'{error.token}'"  # type: ignore[attr-defined]
    # the kinds of token first ("a name"), then the keywords: a long list is cut after nine
    expected = sorted({_words(name, lark) for name in _expected(error)},
                      key=lambda words: (words.startswith("'"), words))
    at_end = found == "the end of the file"
    message = "the file ends too early" if at_end else f"unexpected {found}"
    offered, fix = (None, None) if at_end else _offered(text, getattr(error, "pos_in_stream",
                                                                        None))
    if offered:
        message += f"; {offered}"
    elif expected:
        shown = expected if len(expected) <= 10 else expected[:9] + [f"{len(expected) - 9} more"]
        message += "; expected " + ", ".join(shown)
    if (found == "'if'" or expected == ["'else'"]) and not offered:
        written = (text.splitlines() or [""])[min(line, len(text.splitlines())) - 1]
        in_formula = re.search(r"\bderived\b.*=", written) is not None
        message += f" ({CONDITIONAL_TERM if in_formula else CONDITIONAL_RULE})"
    span = Span(filename, line, column, line, column + 1)
    if fix is not None:  # what was written, read at the error, and what to write
        fix = Fix(Span(filename, line, column, line, column + len(fix[0])), *fix)
    return Diagnostic(span, Severity.ERROR, "syntax", message, fix)


#: Words and signs authors reach for that the language does not have, and what it offers instead:
#: (pattern at the error, pattern just before it, what to write, and the text that replaces the
#: match when the offer is one exact fix, for an editor to make).
OFFERS = (
    (r"between\b", "", "the language has no 'between': write 'age 12 to 17 years' (both ends "
     "counted)"),
    (r"=<", "", "write '<=' (at most)", "<="),
    (r"=>", "", "write '>=' (at least)", ">="),
    (r"=(?!=)", "", "write '==' to compare, or 'is' for a category"),
    (r"(except|excluding)\b", "", "write 'unless ...' for an exception"),
    (r"since\b", "", "write 'at least 4 weeks before screening' or 'within 4 weeks before "
     "first_dose'"),
    (r"prior\b(?! to)", "", "write 'within N days before ANCHOR' (or after)"),
    (r"(?!to\b)\S", r"\bprior\s+$", "'prior to ANCHOR' orders a date concept's day; for a span "
     "of time, write 'within N days before ANCHOR' (or after)"),
    (r"\d", r"\bduring\s+$", "'during' spans a history ('during line_of_therapy', 'during or "
     "within 60 days after line_of_therapy'); for a span of time write 'within N days before "
     "ANCHOR' (or after)"),
    (r"(hours?|hrs?)\b", r"\d\s*$", "facts are dated to the day, not the hour: write the span "
     "in days ('72 hours' as '3 days', counted in calendar days)"),
    (r"history\b", r"\bno\s+$", "write 'no known history of X' (true when nothing is "
     "recorded) or 'not X ever' (needs a recorded negative)"),
    (r"than\b", r"\bis\s+(greater|more|less|fewer)\s+$", "write '>' or '<' (and '>=' or "
     "'<=' for 'or equal')"),
    (r"if\b", r"(?:^|\n)(?![^\n]*\bderived\b[^\n]*=)[^\n]*$", CONDITIONAL_RULE),  # not in a formula
    (r"half", r"\b(within|less\s+than)\s+\d+\s+$", "a washout in half-lives goes beside a "
     "length: 'within 28 days or 5 half_life, whichever is shorter, before first_dose' (or "
     "'longer'), the half-life an attribute each course records"),
    (r"\(", r"\b(mean|min|max|sqrt|lowest|highest)\s*$", "a formula is a derived value's: "
     "declare it ('qtc_mean: derived in ms = mean(qtc)') and compare it by name "
     "('qtc_mean > 470 ms')"),
    (r"when\b", r":\s*applies\s+$", "'applies when ...' comes before the criterion's ':' "
     "(inclusion I6 \"...\" applies when sex is female: ...)"),
    (r'"', r"\bcounts\s+as\s+[a-z_][a-z0-9_]*\s+$", "a concept's label comes before 'counts as': "
     "write 'methotrexate: medication {...} \"Methotrexate\" counts as csdmard'"),
    (r"or\b", r"\bwhere\s(?:[^()\n]|\([^()\n]*\))*$", "clauses of a filter joined by 'or' go in parentheses: "
     "'where (line is 1 or response is refractory)'"),
    (r"(and|or)\b", r"\bwhere\s*\([^)\n]*\b(and|or)\s[^)\n]*$", "inside a filter's "
     "parentheses the clauses are joined by 'or' or by 'and', not both: '(a or b) and c'"),
    (r"\)", r"\bwhere\s*\([^)\n]*$", "a filter's parentheses hold two clauses or more, joined "
     "by 'or' (or by 'and')"),
    (r"(day|week|month|year)s?\b", r"\bduration\s+is\s+\d+\s*$", "a course's duration is "
     "compared with a bound: 'duration >= 3 months' (at least) or 'duration < 3 months' (less "
     "than)"),
    (r"where\b", r"\bwhere\b[^()\n]*\band\s+[a-z_][a-z0-9_]*\s+$", "after 'where', 'and' "
     "joins the filter's clauses: put the filtered condition in parentheses ('(X where A) and Y "
     "where B')"),
    (r"[+-]", r"\b(is|of|one of|\{|,)\s*\d+$", "a value written with a sign is quoted, where it "
     "is declared and where it is compared ('her2_ihc is \"3+\"')"),
    (r"at\b", r"\bdose\s*(>=|<=|==|!=|>|<)\s*[^\s:]+(\s+[^\s:]+)?\s+$", "the day of a dose "
     "comes before its comparison: 'glucocorticoid dose at screening >= 5 mg/d'"),
    (r"for\s+at\s+least\b", r"\b(where|than)\s.*$", "a course's length after a filter is a "
     "clause of it: 'where (duration >= 3 months and ...) ever' (one course); 'X for at least "
     "3 months' joins courses into runs and takes no filter"),
)


def _offered(text: str, position: int | None) -> tuple[str | None, tuple[str, str] | None]:
    """What the language offers instead of the word at `position`, if it is a known one, and
    its fix (the text matched and its replacement) when the offer is one exact fix."""
    if position is None:
        return None, None
    ahead, behind = text[position:position + 40], text[max(0, position - 80):position]
    for pattern, before, offer, *fix in OFFERS:
        found = re.match(pattern, ahead, re.IGNORECASE)
        if found and (not before or re.search(before, behind, re.IGNORECASE)):
            return offer, (found.group(), fix[0]) if fix else None
    return None, None


def _expected(error: UnexpectedInput) -> set[str]:
    """Every terminal the parser could take here.

    Lark's `expected` (and the lexer's `allowed`) omit keywords the lexer folds into NAME or UNIT
    ('and', 'or', 'define'), so ask the interactive parser, which tries each terminal in turn.
    """
    interactive = getattr(error, "interactive_parser", None)
    if interactive is not None:
        return set(interactive.accepts())
    return set(getattr(error, "expected", None) or getattr(error, "allowed", None) or ())


def _words(terminal: str, lark: Lark) -> str:
    if terminal in EXPECTED_WORDS:
        return EXPECTED_WORDS[terminal]
    names = frozenset(t.name for t in lark.terminals)
    pattern = lark.get_terminal(terminal).pattern if terminal in names else None
    if pattern is not None and pattern.type == "str":
        return f"'{pattern.value}'"
    return terminal.lower()
