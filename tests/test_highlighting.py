"""The VS Code extension (editors/vscode/): its TextMate grammar tokenises every example as the
parser reads it, and the extension's files hang together.

A TextMate grammar is a list of regexes; `Highlighter` below interprets the part of the format the
grammar uses (`match` with `name` and `captures`, `begin`/`end` with their captures and inner
`patterns`, `include` of the repository), line by line as editors do: at each position the pattern
that matches first wins, the earlier listed on a tie, a rule's `end` before its inner patterns. The
grammar's regexes are written in the syntax Oniguruma (the editor's engine) and Python's `re`
share. The parser's own tokens are the reference: every keyword, name, number, unit, string and
comment of every example must get the scope it should.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grammar.layout import lexemes
from tests import (test_average_dose, test_confirmed, test_cumulative_dose, test_date_order,
                   test_extremes, test_planned)

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "proto-rules.tmLanguage.json"
PROTOCOLS = sorted([*ROOT.glob("examples/*.proto-rules"),
                    *ROOT.glob("protocol/designs/*.proto-rules")])


class Highlighter:
    """A small interpreter of a TextMate grammar: each character's scopes, line by line."""

    def __init__(self, grammar: dict) -> None:
        self.grammar = grammar
        self.compiled: dict[str, re.Pattern] = {}

    def regex(self, source: str) -> re.Pattern:
        if source not in self.compiled:
            self.compiled[source] = re.compile(source)
        return self.compiled[source]

    def patterns(self, rule: dict) -> list[dict]:
        """A rule's patterns with every `include` replaced by what it names."""
        found = []
        for pattern in rule.get("patterns", []):
            if "include" in pattern:
                name = pattern["include"]
                target = self.grammar if name == "$self" else self.grammar["repository"][name[1:]]
                found += self.patterns(target) if "match" not in target and "begin" not in target \
                    else [target]
            else:
                found.append(pattern)
        return found

    def scopes(self, text: str) -> list[list[tuple[str, ...]]]:
        """For each line, for each character, its scopes (outermost first)."""
        stack: list[tuple[dict, re.Pattern, tuple[str, ...]]] = []
        result = []
        for line in text.split("\n"):
            line += "\n"
            scopes: list[tuple[str, ...]] = [()] * len(line)
            position = 0
            while position < len(line):
                rule, end, outer = stack[-1] if stack else (self.grammar, None, ())
                best = None
                candidates = ([(None, end)] if end else []) + \
                    [(p, self.regex(p.get("match") or p["begin"])) for p in self.patterns(rule)]
                for pattern, regex in candidates:
                    found = regex.search(line, position)
                    if found and (best is None or found.start() < best[1].start()):
                        best = (pattern, found)
                if best is None:
                    self.paint(scopes, position, len(line), outer)
                    break
                pattern, found = best
                self.paint(scopes, position, found.start(), outer)
                if pattern is None:  # the rule's end
                    self.paint(scopes, found.start(), found.end(), outer)
                    self.captures(scopes, found, rule.get("endCaptures", {}), outer)
                    stack.pop()
                else:
                    inner = outer + ((pattern["name"],) if "name" in pattern else ())
                    self.paint(scopes, found.start(), found.end(), inner)
                    captures = pattern.get("captures") or pattern.get("beginCaptures") or {}
                    self.captures(scopes, found, captures, inner)
                    if "begin" in pattern:
                        stack.append((pattern, self.regex(pattern["end"]), inner))
                position = max(found.end(), position + (found.end() == found.start()))
            result.append(scopes[:-1])
        return result

    @staticmethod
    def paint(scopes, start: int, end: int, names: tuple[str, ...]) -> None:
        for index in range(start, end):
            scopes[index] = names

    @staticmethod
    def captures(scopes, found: re.Match, captures: dict, outer: tuple[str, ...]) -> None:
        for group, capture in captures.items():
            if found.group(int(group)) is not None and "name" in capture:
                start, end = found.span(int(group))
                for index in range(start, end):
                    scopes[index] = outer + (capture["name"],)


#: The scope each kind of token must get: the parser's terminal -> a scope prefix (any of them).
EXPECTED = {
    "STRING": ("string.quoted.double",),
    "NUMBER": ("constant.numeric",), "SCI": ("constant.numeric",),
    "EXPONENT": ("constant.numeric",),
    "UNIT": ("keyword.other.unit",), "TIME_UNIT": ("keyword.other.unit",),
    "ULN": ("keyword.other.unit",),
    "COMPARATOR": ("keyword.operator.comparison",),
    "CRITERION_ID": ("entity.name.function",), "LEVEL_ID": ("entity.name.constant",),
    "NAME": ("variable.other", "entity.name"),
    "WORD": ("constant.other.value", "variable.other"),
    "FUNCTION": ("support.function",),
}
KEYWORD = ("keyword.", "storage.type.")


def expected_scopes(kind: str, text: str) -> tuple[str, ...] | None:
    if kind in EXPECTED:
        return EXPECTED[kind]
    if text[:1].isalpha():  # a keyword of the language
        return KEYWORD
    return None  # punctuation: not checked


@pytest.fixture(scope="module")
def highlighter() -> Highlighter:
    return Highlighter(json.loads(GRAMMAR.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", PROTOCOLS, ids=lambda p: p.name)
def test_every_token_of_the_examples_gets_its_scope(highlighter, path):
    assert _unscoped(highlighter, path.read_text(encoding="utf-8"), str(path)) == []


#: Constructs no example writes yet, as their tests write them.
WRITTEN = {"a date against another day": test_date_order.PROTOCOL,
           "a cumulative dose": test_cumulative_dose.PROTOCOL,
           "an average daily dose": test_average_dose.PROTOCOL,
           "a planned event": test_planned.PROTOCOL,
           "confirmed on another day": test_confirmed.PROTOCOL,
           "the lowest or highest result in a window": test_extremes.PROTOCOL}


@pytest.mark.parametrize("text", WRITTEN.values(), ids=WRITTEN.keys())
def test_every_token_of_constructs_no_example_writes(highlighter, text):
    assert _unscoped(highlighter, text, "t.proto-rules") == []


def _unscoped(highlighter, text: str, path: str) -> list[str]:
    """The tokens the grammar paints otherwise than the parser reads them."""
    painted = highlighter.scopes(text)
    wrong = []
    for token in lexemes(text, path):
        wanted = expected_scopes(token.kind, token.text)
        if wanted is None:
            continue
        for column in range(token.column - 1, token.end_column - 1):
            got = painted[token.line - 1][column]
            if not got or not got[-1].startswith(wanted):
                wrong.append(f"{token.line}:{token.column} {token.kind} {token.text!r} got {got}")
                break
    return wrong


@pytest.mark.parametrize("path", PROTOCOLS, ids=lambda p: p.name)
def test_every_comment_is_a_comment(highlighter, path):
    text = path.read_text(encoding="utf-8")
    painted = highlighter.scopes(text)
    tokens = lexemes(text, str(path))
    code = {(t.line, c) for t in tokens for c in range(t.column, t.end_column)}
    for number, line in enumerate(text.split("\n"), 1):
        start = next((i for i, char in enumerate(line)
                      if char == "#" and (number, i + 1) not in code), None)
        if start is not None:
            assert all(s[-1].startswith("comment.line") for s in painted[number - 1][start:]), \
                f"{path.name}:{number}"


def test_the_highlighter_reads_begin_end_across_lines(highlighter):
    (first, second) = highlighter.scopes('s: category {a,\n  "b c"}')
    assert first[13][-1] == "constant.other.value.proto-rules"
    assert second[3][-1] == "string.quoted.double.proto-rules"
    assert second[7][-1] == "punctuation.definition.set.end.proto-rules"


def test_the_extension_names_its_files():
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (language,) = package["contributes"]["languages"]
    (grammar,) = package["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "proto-rules"
    assert language["extensions"] == [".proto-rules"]
    assert (VSCODE / language["configuration"]).is_file()
    assert (VSCODE / grammar["path"]).resolve() == GRAMMAR
    assert grammar["scopeName"] == json.loads(GRAMMAR.read_text(encoding="utf-8"))["scopeName"]
    assert (VSCODE / package["main"]).is_file()
    assert "onLanguage:proto-rules" in package["activationEvents"]
    configuration = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"]["lineComment"] == "#"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_client_is_valid_javascript():
    done = subprocess.run(["node", "--check", str(VSCODE / "extension.js")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
