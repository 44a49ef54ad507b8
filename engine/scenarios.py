"""Scenario tests: named patients and what a protocol must decide for them, run on the real network.

A scenario file (YAML or JSON, `engine/scenarios.schema.json`) lists cases; each is a patient
written out, or a base patient (from `patients`, or an earlier case) with facts removed, replaced
and added, and the decision and/or criterion verdicts expected. `read` turns a file into `Case`s,
with every problem of the file at once (`ScenarioError`: file:line:col in YAML, the case and field
in JSON), before anything runs; `Runner.run` decides each case through the same normaliser and
network as `proto-rules run`, and `render` says what passed and, for what failed, the trail lines
that explain the verdict the network gave.

YAML is read with its own positions kept (`_Positions`), numbers as exact decimals (no floats
reach the engine), and dates left as text (YAML would make them dates); a key given twice in one
mapping is an error, where YAML would quietly keep the last.

>>> text = '''
... cases:
...   - name: adult
...     screening_date: 2026-06-01
...     facts: [{concept: egfr, value: 45.5, unit: mL/min}]
...     expect: {decision: ELIGIBLE}
... '''
>>> data, where = parse_yaml(text, "s.yaml")
>>> data["cases"][0]["facts"][0]["value"], data["cases"][0]["screening_date"]
(Decimal('45.5'), '2026-06-01')
>>> where(("cases", 0, "expect"))
(6, 13)
"""

from __future__ import annotations

import copy
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterable

import jsonschema
import yaml

from engine.compile import Network
from engine.factfile import plain, read_records
from engine.run import Decision, Rejected, Screening
from engine.audit.explain import render as render_trail
from engine.audit.recorder import Trail
from engine.audit.trail import expand
from protocol import model as m
from protocol.errors import FactProblem, ScenarioError, hint

SCHEMA = json.loads(Path(__file__).with_name("scenarios.schema.json").read_text(encoding="utf-8"))
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

#: Where a value sits in the file, from its path of keys and indexes: (line, column), or None.
Where = Callable[[tuple], "tuple[int, int] | None"]


@dataclass(frozen=True)
class Case:
    """One scenario, its patient built: the record the fact loader reads, and what is expected."""

    name: str
    where: str  # file:line of the case
    line: int
    record: dict[str, Any]
    decision: str | None
    verdicts: dict[str, str]


@dataclass
class Result:
    """A case as the network decided it, and how that departs from what was expected."""

    case: Case
    outcome: Decision
    differences: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences


# -- reading ---------------------------------------------------------------------------------------

def read(path: str, protocol: m.Protocol) -> list[Case]:
    """The cases of a scenario file, checked against the schema and the protocol (criterion ids,
    concept names, base patients); every problem at once, as a `ScenarioError`."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark, as fact files
    except OSError as error:
        raise ScenarioError([f"{path}: cannot read scenario file: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        raise ScenarioError([f"{path}: not UTF-8 text ({error.reason})"]) from None
    data, where = (parse_json if path.endswith(".json") else parse_yaml)(text, path)
    problems = [_schema_problem(error, path, data, where)
                for error in sorted(_VALIDATOR.iter_errors(plain(data)),
                                    key=lambda e: [str(p) for p in e.absolute_path])]
    if problems:
        raise ScenarioError(problems)
    return _Builder(path, data, where, protocol).cases()


def parse_yaml(text: str, path: str) -> tuple[Any, Where]:
    """A YAML document as plain values (numbers exact, dates as text), and where each value is."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        place = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise ScenarioError([f"{place}: not YAML: {error.problem or error.context}"]) from None
    except yaml.YAMLError as error:
        raise ScenarioError([f"{path}: not YAML: {error}"]) from None
    if node is None:
        raise ScenarioError([f"{path}: the file is empty: a scenario file holds 'cases'"])
    positions = _Positions(path)
    try:
        return positions.value(node, ()), positions.where
    except RecursionError:  # an alias inside what it names (`&a [*a]`), or nesting as deep
        raise ScenarioError([f"{path}: nests too deep (does an alias refer to itself?)"]) \
            from None


def parse_json(text: str, path: str) -> tuple[Any, Where]:
    """A JSON document, numbers as exact decimals. Its positions are YAML's reading of the same
    text (JSON is YAML's flow style), when YAML can read it; else problems name the case and
    field only."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise ScenarioError([f"{path}:{error.lineno}:{error.colno}: not JSON: {error.msg}"]) \
            from None
    try:
        return data, parse_yaml(text, path)[1]
    except ScenarioError:
        return data, lambda _: None


class _Positions:
    """Builds plain values from YAML nodes, remembering where each one starts."""

    _CONSTRUCTOR = yaml.constructor.SafeConstructor()

    #: Values a file may hold: a generated file of 600 boundary patients holds about 200,000;
    #: aliases nested in aliases hold exponentially many (eight levels of ten: 10^8), which
    #: would take hours to build.
    MOST = 2_000_000
    #: What YAML reads as a number beside plain decimals: YAML 1.1's octal `035` (29, and 35
    #: in YAML 1.2), `0x1F`, `0b11`, `0o17`, `1_000`, base 60 `1:30`. None is read as a guess.
    _UNCLEAR = re.compile(r"[-+]?(0[0-9]|0[xob]|.*[_:])")

    def __init__(self, path: str) -> None:
        self.path = path
        self.marks: dict[tuple, tuple[int, int]] = {}
        self.left = self.MOST

    def where(self, at: tuple) -> tuple[int, int] | None:
        while at not in self.marks and at:
            at = at[:-1]  # a missing key is shown where its mapping starts
        return self.marks.get(at)

    def value(self, node: yaml.Node, at: tuple) -> Any:
        self.left -= 1
        if not self.left:
            raise ScenarioError([f"{self.path}: holds more than {self.MOST:,} values (aliases "
                                 "within aliases?)"])
        self.marks[at] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node, at)
                if not isinstance(key, str):
                    key = str(key)
                if key in mapping:
                    place = f"{self.path}:{key_node.start_mark.line + 1}:" \
                            f"{key_node.start_mark.column + 1}"
                    raise ScenarioError([f"{place}: '{key}' is given twice"])
                mapping[key] = self.value(value_node, (*at, key))
            return mapping
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*at, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, at)

    def _scalar(self, node: yaml.Node, at: tuple) -> Any:
        place = f"{self.path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
        if not isinstance(node, yaml.ScalarNode):
            raise ScenarioError([f"{place}: a key must be a plain word or text"])
        tag = node.tag.rsplit(":", 1)[-1]
        if tag in ("int", "float") and self._UNCLEAR.match(node.value):
            raise ScenarioError([f"{place}: {node.value} reads as a different number in each "
                                 "YAML version: write the number in plain decimals (quote it "
                                 "for text)"])
        if tag in ("bool", "null"):
            return getattr(self._CONSTRUCTOR, f"construct_yaml_{tag}")(node)
        if tag == "int":
            return int(node.value)
        if tag == "float":
            try:
                number = Decimal(node.value)
            except InvalidOperation:
                number = None
            if number is None or not number.is_finite():
                raise ScenarioError([f"{place}: {node.value} is not a finite number"])
            return number
        return node.value  # text, and dates kept as text (YAML would make them dates)


def _schema_problem(error: jsonschema.ValidationError, path: str, data: Any,
                    where: Where) -> str:
    at = tuple(error.absolute_path)
    return f"{_place(path, where, at)}: {_named(at, data)}{_why(error, at)}"


def _place(path: str, where: Where, at: tuple) -> str:
    found = where(at)
    return f"{path}:{found[0]}:{found[1]}" if found else path


def _named(at: tuple, data: Any) -> str:
    """`case 'adult': field 'expect.decision': ` for a path into the file."""
    if len(at) >= 2 and at[0] == "cases" and isinstance(at[1], int):
        case = data["cases"][at[1]]
        name = case.get("name") if isinstance(case, dict) else None
        label = f"case '{name}'" if isinstance(name, str) else f"case #{at[1] + 1}"
        rest = at[2:]
        return label + (f", field '{_dotted(rest)}': " if rest else ": ")
    return f"field '{_dotted(at)}': " if at else ""


def _dotted(at: tuple) -> str:
    return "".join(f"[{p + 1}]" if isinstance(p, int) else f".{p}" for p in at).lstrip(".")


def _why(error: jsonschema.ValidationError, at: tuple) -> str:
    """Why, in the words of a scenario file."""
    kind = error.validator
    if kind == "required":
        missing = next((k for k in error.validator_value if k not in error.instance), "?")
        return f"'{missing}' is missing"
    if kind == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = sorted(k for k in error.instance if k not in known)
        return f"unknown field '{extra[0]}'{hint(extra[0], known)}" if extra else "unknown field"
    if kind == "oneOf" and len(at) == 2:
        return "a case gives either 'facts' (the patient written out) or 'base' (a patient to " \
               "start from), not both nor neither"
    if kind == "oneOf":
        return "neither the path of a fact file nor a patient (an object with 'patient' and " \
               "'facts')"
    if kind == "enum":
        return f"{error.instance!r} is not one of " + ", ".join(map(str, error.validator_value))
    if kind == "type":
        kinds = error.validator_value
        return "not " + (" or ".join(kinds) if isinstance(kinds, list) else kinds)
    if kind == "pattern":
        return f"{error.instance!r} is not a date (YYYY-MM-DD)"
    if kind in ("minItems", "minProperties", "minLength"):
        return "is empty"
    return f"fails '{kind}'"


class _Builder:
    """Builds each case's patient from its base and changes, checking names against the protocol."""

    def __init__(self, path: str, data: dict, where: Where, protocol: m.Protocol) -> None:
        self.path, self.data, self.where = path, data, where
        self.protocol = protocol
        self.leaves = {leaf.id: leaf for leaf in protocol.leaves()}
        self.concepts = {c.name for c in protocol.concepts}
        self.problems: list[str] = []
        self.bases: dict[str, dict] = {}

    def cases(self) -> list[Case]:
        for index, entry in enumerate(self.data.get("patients", [])):
            if isinstance(entry, str):
                self._fact_file(entry, ("patients", index))
            else:
                self._base(entry, ("patients", index))
        cases: list[Case] = []
        for index, entry in enumerate(self.data["cases"]):
            case = self._case(entry, ("cases", index))
            if case is not None:
                cases.append(case)
                self.bases.setdefault(case.name, case.record)  # a patient keeps its name
        if self.problems:
            raise ScenarioError(self.problems)
        return cases

    def _problem(self, at: tuple, text: str) -> None:
        self.problems.append(f"{_place(self.path, self.where, at)}: {_named(at, self.data)}{text}")

    def _base(self, patient: dict, at: tuple) -> None:
        if patient["patient"] in self.bases:
            self._problem(at, f"patient '{patient['patient']}' is given twice")
        self.bases[patient["patient"]] = patient

    def _fact_file(self, name: str, at: tuple) -> None:
        """The patients of a fact file, named relative to the scenario file."""
        path = Path(self.path).parent / name
        if not path.is_file():
            self._problem(at, f"no fact file {path}")
            return
        for line, record in read_records(str(path)):
            if isinstance(record, FactProblem):
                self._problem(at, str(record))
            elif isinstance(record, dict) and isinstance(record.get("patient"), str):
                self._base(record, at)
            else:
                self._problem(at, f"{path}:{line}: not a patient with an id")

    def _case(self, entry: dict, at: tuple) -> Case | None:
        """A case, or None when it has problems (recorded); without positions (JSON that YAML
        cannot read) its line is its number in the list."""
        index = at[1]
        name = entry["name"]
        if any(n == name for n in self._names_before(at)):
            self._problem((*at, "name"), f"an earlier case is named '{name}' too")
            return None
        before = len(self.problems)
        record = self._patient(entry, at)
        verdicts = entry["expect"].get("verdicts", {})
        for criterion in verdicts:
            self._criterion(criterion, (*at, "expect", "verdicts", criterion))
        if record is None or len(self.problems) > before:
            return None
        line = (self.where(at) or (index + 1, 0))[0]
        return Case(name, f"{self.path}:{line}", line, record, entry["expect"].get("decision"),
                    dict(verdicts))

    def _names_before(self, at: tuple) -> Iterable[str]:
        return (c.get("name") for c in self.data["cases"][: at[1]] if isinstance(c, dict))

    def _criterion(self, criterion: str, at: tuple) -> None:
        if criterion in self.leaves:
            return
        whole = next((c for c in self.protocol.criteria if c.id == criterion), None)
        if whole is not None:
            ids = ", ".join(leaf.id for leaf in whole.leaves())
            self._problem(at, f"{criterion} has parts, each with its own verdict: name {ids}")
        else:
            self._problem(at, f"the protocol has no criterion {criterion}"
                          f"{hint(criterion, self.leaves)}")

    def _patient(self, entry: dict, at: tuple) -> dict | None:
        """The case's patient record: written out, or its base with the changes applied."""
        if "facts" in entry:
            record: dict[str, Any] = {"facts": copy.deepcopy(entry["facts"])}
            self._concepts(entry["facts"], (*at, "facts"))
        else:
            base = self.bases.get(entry["base"])
            if base is None:
                self._problem((*at, "base"), f"no patient or earlier case '{entry['base']}'"
                              f"{hint(entry['base'], self.bases)}")
                return None
            record = copy.deepcopy(base)
        record["patient"] = entry["name"]
        for key in ("birth_date", "screening_date"):
            if key in entry:
                record[key] = entry[key]
        if "screening_date" not in record and "screening_date" in self.data:
            record["screening_date"] = self.data["screening_date"]
        if "screening_date" not in record:
            self._problem(at, "no screening date: give one to the case, its base patient or "
                          "the whole file")
        if record.get("birth_date", "") is None:
            del record["birth_date"]
        record["facts"] = self._changed(record["facts"], entry, at)
        return record

    def _changed(self, facts: list[dict], entry: dict, at: tuple) -> list[dict]:
        """Remove, then replace, then add: a replaced concept keeps its place in the list."""
        for index, concept in enumerate(entry.get("remove", [])):
            if not any(f.get("concept") == concept for f in facts):
                given = dict.fromkeys(str(f.get("concept")) for f in facts)
                self._problem((*at, "remove", index), f"the base patient has no fact of "
                              f"'{concept}' to remove{hint(concept, given)}")
            facts = [f for f in facts if f.get("concept") != concept]
        replacing = entry.get("replace", [])
        self._concepts(replacing, (*at, "replace"))
        for concept in dict.fromkeys(f["concept"] for f in replacing):
            new = [copy.deepcopy(f) for f in replacing if f["concept"] == concept]
            place = next((i for i, f in enumerate(facts) if f.get("concept") == concept),
                         len(facts))
            facts = [f for f in facts[:place] if f.get("concept") != concept] + new + \
                [f for f in facts[place:] if f.get("concept") != concept]
        self._concepts(entry.get("add", []), (*at, "add"))
        return facts + copy.deepcopy(entry.get("add", []))

    def _concepts(self, facts: list[dict], at: tuple) -> None:
        for index, fact in enumerate(facts):
            if fact["concept"] not in self.concepts:
                self._problem((*at, index, "concept"), f"the protocol has no concept "
                              f"'{fact['concept']}'{hint(fact['concept'], self.concepts)}")


# -- running ---------------------------------------------------------------------------------------

class Runner:
    """Decides cases with one network (its host loaded once) and compares them with what was
    expected; a case whose facts cannot be used is bad input, with the fact loader's problems."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.screening = Screening(network)
        self.trail = Trail(io.StringIO(), network, network.protocol.path, "scenarios", None)

    def run(self, path: str, cases: list[Case]) -> list[Result]:
        results, problems = [], []
        records = [(case.line, case.record) for case in cases]
        for case, outcome in zip(cases, self.screening.screen(records, path)):
            if isinstance(outcome, Rejected):
                problems.extend(f"{p} (case '{case.name}')" for p in outcome.problems)
            else:
                results.append(Result(case, outcome, _differences(case, outcome)))
        if problems:
            raise ScenarioError(problems)
        return results

    def explained(self, result: Result) -> list[str]:
        """The trail lines that explain what the network decided: the decision with its reasons,
        each criterion that disqualified or whose verdict was not the one expected, and the
        definitions those read."""
        outcome = result.outcome
        shown = {v.criterion for v in outcome.reasons} | set(result.case.verdicts)
        conditions = [c for leaf in self.network.leaves if leaf.id in shown
                      for c in (leaf.applies, leaf.condition) if c is not None]
        read = {atom.ref.name for condition in conditions for atom in m.atoms(condition)}
        written = [r for record in self.trail.records(outcome)
                   for r in expand(record, self.trail.protocol_record)]
        records = [r for r in written
                   if r["type"] in ("patient", "decision")
                   or r["type"] == "criterion" and r["criterion"] in shown
                   or r["type"] == "definition" and r["definition"] in read]
        text = render_trail([self.trail.protocol_record, *records], outcome.patient.id)
        return [line for line in text.splitlines() if line.strip() and
                not line.startswith("patient ")]


def _differences(case: Case, outcome: Decision) -> list[str]:
    found = []
    if case.decision is not None and case.decision != outcome.decision:
        found.append(f"decision: expected {case.decision}, got {outcome.decision}")
    for criterion, verdict in case.verdicts.items():
        actual = outcome.verdicts[criterion].verdict
        if actual != verdict:
            found.append(f"{criterion}: expected {verdict}, got {actual}")
    return found


def render(runs: list[tuple[str, list[Result]]], runner: Runner) -> str:
    """Each case PASSED or FAILED, as pytest says it; then each failure, expected against actual
    and the trail lines that explain the actual; then the count."""
    lines = [f"{path}::{r.case.name} {'PASSED' if r.passed else 'FAILED'}"
             for path, results in runs for r in results]
    failed = [r for _, results in runs for r in results if not r.passed]
    if failed:
        lines.append("\n=== failures ===")
    for result in failed:
        lines.append(f"\n___ {result.case.name} ({result.case.where}) ___")
        lines.extend(f"  {difference}" for difference in result.differences)
        lines.append("  the trail says:")
        lines.extend(f"  {line}" for line in runner.explained(result))
    total = sum(len(results) for _, results in runs)
    files = f"{len(runs)} scenario file" + ("s" if len(runs) != 1 else "")
    counts = f"{len(failed)} failed, {total - len(failed)} passed" if failed else \
        f"{total} passed"
    lines.append(f"\n=== {counts} ({files}) ===")
    return "\n".join(lines) + "\n"


__all__ = ["Case", "Result", "Runner", "read", "parse_yaml", "parse_json", "render"]
