"""Shared fixtures: the seed protocol compiled once, and helpers that decide one patient dict.

Everything here runs the real pipeline (parse, check, compile, durable_rules, fact loader) on
the real files in examples/; nothing is mocked. A patient dict is turned into JSON text and read
back the way the fact loader reads a file (numbers as exact decimals), so what a test builds is
exactly what a fact file holding it would give.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import os

import pytest
from hypothesis import HealthCheck, settings

from engine import pipeline
from engine.compile import Network
from engine.audit.evidence import Explainer, criterion_parts
from engine.run import Decision, Rejected, Screening
from engine.audit.recorder import Trail

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "cd19-ucart-sle.proto-rules"
PATIENTS = ROOT / "examples" / "patients.jsonl"

# Property and fuzz tests take their budget from a profile: "suite" (the default) keeps `make test`
# short and the same on every run; `make fuzz` sets PROTO_RULES_FUZZ=long for a longer search.
settings.register_profile("suite", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("PROTO_RULES_FUZZ", "suite"))


def checked(concepts: str, condition: str, sentence: str = "x") -> list[str]:
    """`line:col message` of what `check` says of one inclusion criterion over `concepts` (the
    lines of a `concepts:` section), but that a concept is unused."""
    from grammar.parser import parse  # noqa: PLC0415 -- what a few test modules need
    from protocol.checks import check  # noqa: PLC0415

    protocol = parse(f'protocol "t" version "1"\nconcepts:\n{concepts}'
                     f'inclusion I1 "{sentence}": {condition}\n', "t.proto-rules")
    return [f"{d.span.line}:{d.span.column} {d.message}" for d in check(protocol)
            if d.code != "unused-concept"]


def network_from_text(text: str, filename: str = "modified.proto-rules") -> Network:
    """Protocol text through the pipeline as the CLI runs it: parsed, checked, compiled."""
    return pipeline.compile(pipeline.load_text(text, filename)[0])


def screen_one(screening: Screening, facts: Any, *, day: str = "2026-06-30",
               birth_date: str | None = None, path: str = "patient.jsonl") -> Decision | Rejected:
    """One patient with `facts`, screened on `day` through the real normaliser and network: what
    `Screening.screen` yields for it (a `Decision`, or a `Rejected` with its problems)."""
    data: dict[str, Any] = {"patient": "p", "screening_date": day, "facts": list(facts)}
    if birth_date is not None:
        data["birth_date"] = birth_date
    (result,) = screening.screen([(1, as_read(data))], path)
    return result


def occurrence(concept: str, start: str, end: str | None = None, **fields: Any) -> dict[str, Any]:
    """A fact of a history from `start` to `end` ("ongoing": still going on; None: its end not
    recorded), with `fields` (a course's drug and dose, an attribute)."""
    fact: dict[str, Any] = {"concept": concept, "date": start, **fields}
    if end == "ongoing":
        fact["ongoing"] = True
    elif end is not None:
        fact["end"] = end
    return fact


def decided(screening: Screening, facts: Any, **how: Any) -> Decision:
    """`screen_one` for a patient the network decides, never one set aside."""
    result = screen_one(screening, facts, **how)
    assert isinstance(result, Decision), result
    return result


def load_errors(text: str) -> list[str]:
    """`line:col message` of each error loading protocol text gives (its syntax, then `check`),
    as `proto-rules check` reports them."""
    from protocol.errors import ProtocolError  # noqa: PLC0415 -- what a few test modules need

    try:
        pipeline.load_text(text, "t.proto-rules")
    except ProtocolError as error:
        return [f"{d.span.line}:{d.span.column} {d.message}" for d in error.diagnostics
                if d.is_error]
    return []


def as_read(data: Any) -> Any:
    """A patient dict as the fact loader reads it from a file: floats become exact decimals."""
    return json.loads(json.dumps(data), parse_float=Decimal)


def example_patients() -> dict[str, dict]:
    """examples/patients.jsonl by patient id, in file order."""
    lines = PATIENTS.read_text(encoding="utf-8").splitlines()
    return {record["patient"]: record for record in map(json.loads, lines)}


class Facts:
    """An immutable patient dict with one-line edits: each method returns a changed copy.

    >>> p = Facts({"patient": "x", "facts": [{"concept": "egfr", "value": 80}]})
    >>> p.fact("egfr", value=29.9).data["facts"]
    [{'concept': 'egfr', 'value': 29.9}]
    >>> p.drop("egfr").data["facts"]
    []
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = copy.deepcopy(data)

    def _with(self, facts: list[dict], **top: Any) -> Facts:
        data = copy.deepcopy(self.data)
        data["facts"] = facts
        data.update(top)
        return Facts(data)

    def facts(self, concept: str) -> list[dict]:
        return [f for f in self.data["facts"] if f["concept"] == concept]

    def fact(self, concept: str, **fields: Any) -> Facts:
        """Replace every fact about `concept` by one fact with `fields`; when the concept had
        facts, unspecified fields (date, unit, reference range) are kept from its first one."""
        old = self.facts(concept)
        new = {**(old[0] if old else {"concept": concept}), **fields}
        new = {k: v for k, v in new.items() if v is not None}
        return self.only(concept, new)

    def only(self, concept: str, *facts: dict) -> Facts:
        """Replace every fact about `concept` by these (concept filled in), at the same place."""
        kept = self.data["facts"]
        at = next((i for i, f in enumerate(kept) if f["concept"] == concept), len(kept))
        rest = [f for f in kept if f["concept"] != concept]
        placed = [{"concept": concept, **f} for f in facts]
        at = min(at, len(rest))
        return self._with(rest[:at] + placed + rest[at:])

    def event(self, concept: str, **fields: Any) -> Facts:
        """One occurrence of an event (replacing its `present: false`)."""
        return self.only(concept, fields)

    def drop(self, *concepts: str) -> Facts:
        return self._with([f for f in self.data["facts"] if f["concept"] not in concepts])

    def add(self, concept: str, **fields: Any) -> Facts:
        return self._with([*self.data["facts"], {"concept": concept, **fields}])

    def top(self, **fields: Any) -> Facts:
        """Change top-level fields (patient, screening_date, birth_date); None removes one."""
        data = copy.deepcopy(self.data)
        for key, value in fields.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        return Facts(data)

    def screened_on(self, day: date) -> Facts:
        """The same patient screened on `day`: every fact date moves by the same number of days,
        so each fact stays as old relative to screening (the birth date stays)."""
        delta = day - date.fromisoformat(self.data["screening_date"])

        def moved(text: str) -> str:
            return (date.fromisoformat(text) + delta).isoformat()

        facts = [{k: moved(v) if k in ("date", "end") else v for k, v in f.items()}
                 for f in self.data["facts"]]
        return self._with(facts, screening_date=day.isoformat())


@pytest.fixture(scope="session")
def seed_network() -> Network:
    return pipeline.compile(pipeline.load(str(SEED))[0])


@pytest.fixture(scope="session")
def compile_text() -> Callable[..., Network]:
    """Compile protocol text (checked first): `compile_text(text, filename)`."""
    return network_from_text


@pytest.fixture(scope="session")
def loaded() -> Callable[[Any], Any]:
    """`loaded(patient_dict)`: the dict as the fact loader reads it from a file."""
    return as_read


@pytest.fixture(scope="module")
def screening(seed_network: Network) -> Screening:
    """One Screening (one engine host) per test module, shared by every test in it."""
    return Screening(seed_network)


@pytest.fixture
def baseline() -> Facts:
    """P01-eligible from examples/patients.jsonl: every criterion decided, ELIGIBLE."""
    return Facts(example_patients()["P01-eligible"])


@pytest.fixture(scope="module")
def outcome(screening: Screening) -> Callable[..., Decision | Rejected]:
    """Decide one patient (a dict or `Facts`) with the module's Screening; returns what
    `Screening.screen` yields, a `Decision` or a `Rejected`."""

    def run(patient: Facts | dict, screening_date: date | None = None,
            line: int = 1) -> Decision | Rejected:
        data = patient.data if isinstance(patient, Facts) else patient
        (result,) = screening.screen([(line, as_read(data))], "test.jsonl", screening_date)
        return result

    return run


@pytest.fixture(scope="module")
def decide(outcome) -> Callable[..., Decision]:
    """Like `outcome`, but the patient must be decided (a rejection fails with its problems)."""

    def run(patient: Facts | dict, screening_date: date | None = None) -> Decision:
        result = outcome(patient, screening_date)
        if isinstance(result, Rejected):
            pytest.fail("rejected:\n" + "\n".join(str(p) for p in result.problems))
        return result

    return run


@pytest.fixture(scope="module")
def verdicts(decide) -> Callable[..., dict[str, str]]:
    """{criterion id: verdict} for one patient."""

    def run(patient: Facts | dict, screening_date: date | None = None) -> dict[str, str]:
        return {k: v.verdict for k, v in decide(patient, screening_date).verdicts.items()}

    return run


#: A verdict as the trail's reading of a part says it.
STATUS = {"MET": "true", "NOT_MET": "false", "UNKNOWN": "unknown"}


def judged(network: Network, result: Decision, criterion: str) -> dict[str, Any]:
    """The trail's evidence for the first part of `criterion`: its status and detail."""
    leaf = next(c for c in network.leaves if c.id == criterion)
    return Explainer(network.protocol, result.derived).judge(criterion_parts(leaf)[0],
                                                             result.patient)


def trail_status(network: Network, result: Decision, criterion: str) -> str:
    """The criterion's status as `explain` reads it from the trail: its parts' statuses joined
    by the shape the trail records."""
    from engine.atoms import shape  # noqa: PLC0415 -- what a few test modules need
    from engine.shape import folded, holds  # noqa: PLC0415

    leaf = next(c for c in network.leaves if c.id == criterion)
    explainer = Explainer(network.protocol, result.derived)
    statuses = [explainer.judge(part, result.patient)["status"] for part in criterion_parts(leaf)]
    return folded(shape(leaf.condition), lambda n: statuses[n],
                  lambda word, items: holds(word, items))


def assert_trail_agrees(network: Network, result: Decision, verdicts: dict[str, str]) -> None:
    """The network's verdict of each criterion is `verdicts`', and the trail reads it alike."""
    assert {c: result.verdicts[c].verdict for c in verdicts} == verdicts
    for criterion, verdict in verdicts.items():
        evidence = judged(network, result, criterion)
        assert evidence["status"] == STATUS[verdict], (criterion, evidence)


@pytest.fixture
def at_root(monkeypatch):
    """Relative paths as the README writes them (`examples/...`), and as trails record them: the
    test runs in the repository's root. A module asks for it with `pytestmark`."""
    monkeypatch.chdir(ROOT)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """`proto-rules ARGV` in-process: its exit code, stdout and stderr."""
    import cli

    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def boundary_cases(capsys, tmp_path: Path, protocol: str, base: dict[str, Any] | str,
                   tested: bool = True) -> tuple[str, str]:
    """`proto-rules edge-cases` on the protocol text from the `base` patient (a record, or its
    line as written), then, unless `tested` is False, `proto-rules test` on the cases, which
    the network must all pass: the scenario file's text and what edge-cases said."""
    path, facts, out = tmp_path / "p.proto-rules", tmp_path / "base.jsonl", tmp_path / "e.yaml"
    path.write_text(protocol, encoding="utf-8")
    facts.write_text((base if isinstance(base, str) else json.dumps(base)) + "\n",
                     encoding="utf-8")
    code, said, err = run_cli(capsys, "edge-cases", str(path), "--base", str(facts), "-o",
                              str(out))
    assert code == 0, err
    if tested:
        code, passed, _ = run_cli(capsys, "test", str(path), str(out))
        assert code == 0 and " passed (1 scenario file)" in passed and "failed" not in passed, \
            passed
    return out.read_text(encoding="utf-8"), said


def cut_trail(network: Network, path: Path, torn: str = "") -> Path:
    """The trail of the seed's first two example patients, cut as Ctrl-C cuts it (`torn`: what a
    write stopped midway left of a third patient's line, dropped by the cut)."""
    records = [(n, json.loads(text, parse_float=Decimal)) for n, text in
               enumerate(PATIENTS.read_text(encoding="utf-8").splitlines()[:2], start=1)]
    with open(path, "w", encoding="utf-8") as out:
        trail = Trail(out, network, "examples/cd19-ucart-sle.proto-rules",
                      "examples/patients.jsonl", None)
        for outcome in Screening(network).screen(records, "examples/patients.jsonl"):
            trail.write(outcome)
        out.write(torn)
        trail.cut("interrupted", "0" * 64)
    return path
