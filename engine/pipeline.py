"""The pipeline, written down once: parse and check (`load`), `compile`, `screen`.

The CLI, replay, rescreen, the benchmarks and the tests all go through these functions, so a stage
added or changed here is added or changed for every caller. This module sits above the parser and
the engine (it is the one place in `engine/` that reads protocol text); nothing below imports it.

>>> protocol, warnings = load_text('protocol "t"\\nversion "1"\\n'
...     'concepts: egfr: quantity in mL/min\\n'
...     'inclusion I1 "eGFR >= 30": egfr >= 30 mL/min', "t.proto-rules")
>>> [d.code for d in warnings]
[]
>>> network = compile(protocol)
>>> [o.decision for o in screen(network, [(1, {"patient": "p", "screening_date": "2026-01-01",
...     "facts": [{"concept": "egfr", "value": 45, "unit": "mL/min", "date": "2025-12-30"}]})],
...     "inline")]
['ELIGIBLE']
"""

from __future__ import annotations

import re
from datetime import date
from typing import Iterable, Iterator

from engine.compile import Network, compile_protocol
from engine.fhir import load_map
from engine.fitting import TooWide
from engine.host import Host
from engine.run import Decision, Rejected, Screening
from grammar.parser import parse, parse_file
from protocol.checks import check
from protocol.errors import Diagnostic, EngineError, ProtocolError, Span, templated
from protocol.errors import render as render_diagnostic
from protocol.messages import TEMPLATES, WARNINGS
from protocol.model import Protocol


def load(path: str) -> tuple[Protocol, list[Diagnostic]]:
    """Parse and check a protocol file: errors raise `ProtocolError` (every one of them, each
    rendered against the file it is in), warnings are returned."""
    return _checked(parse_file(path))


def load_text(text: str, filename: str = "<string>") -> tuple[Protocol, list[Diagnostic]]:
    """`load` for protocol text already in memory (tests, editors)."""
    return _checked(parse(text, filename))


def _checked(protocol: Protocol) -> tuple[Protocol, list[Diagnostic]]:
    """Checked, and the FHIR map it names read against it (a bad map is an error of `check`; a
    missing one only when a Bundle is read)."""
    diagnostics = check(protocol)
    if any(d.is_error for d in diagnostics):
        sources = {module.path: module.source for module in protocol.modules}
        raise ProtocolError(diagnostics, protocol.source, sources)
    load_map(protocol, missing_ok=True)
    return protocol, diagnostics


def rendered(protocol: Protocol, diagnostics: Iterable[Diagnostic]) -> list[str]:
    """Each diagnostic as `file:line:col: message` with its source line and caret, drawn from the
    file it points into (the protocol or an imported module)."""
    return [render_diagnostic(d, protocol.source_of(d.span.file)) for d in diagnostics]


def compile(protocol: Protocol, command: str = "run") -> Network:  # noqa: A001 - the stage's name
    """The rule network of a checked protocol (built once per process). A protocol of escalation
    only passes `check` (`escalate` runs it) but has nothing for a network of criteria to decide:
    refused here (`command` says who asked), before a trail is opened, where the engine crashed
    on a network without rules."""
    if not protocol.criteria:
        hint = "; its escalation is decided by 'proto-rules escalate'" \
            if protocol.escalation else ""
        span = Span(protocol.path, 1, 1, 1, 1)
        name = protocol.id or protocol.path
        diagnostic = templated(TEMPLATES, WARNINGS, "no-criteria/run", span, name=name, hint=hint,
                               command=command)
        raise ProtocolError([diagnostic], protocol.source)
    try:
        return compile_protocol(protocol)
    except TooWide as wide:
        raise ProtocolError([_too_wide(protocol, each) for each in wide.every],
                            protocol.source) from None


def _too_wide(protocol: Protocol, wide: TooWide) -> Diagnostic:
    """A node larger than the engine holds, said at the node (or at the line the network goes
    past what the engine builds)."""
    owner = next((c for c in (*protocol.leaves(), *protocol.definitions, *protocol.concepts)
                  if wide.node in (getattr(c, "id", None), getattr(c, "name", None))), None)
    span = owner.span if owner is not None else Span(protocol.path, wide.line, 1, wide.line, 1)
    kind, name = wide.kind, wide.node
    items = re.fullmatch(r"(\w+)@(\d+):(\d+)\W*", name)
    if items is not None:  # a node over a history's items (`Build.hidden`): at its atom
        name, line, column = items[1], int(items[2]), int(items[3])
        kind, span = f"{kind}-items", Span(protocol.path, line, column, line, column + 1)
    return templated(TEMPLATES, WARNINGS, kind, span, name=name, **wide.info)


def network_problems(protocol: Protocol) -> list[Diagnostic]:
    """What only the network shows, for `check` and the editor: a node larger than the engine
    holds (at the node, see `compile`) or a network the engine refuses to build (at the file's
    start). The network is built in the engine and let go again. None for a protocol of
    escalation only, which `escalate` runs."""
    if not protocol.criteria:
        return []
    try:
        Host(compile(protocol).ruleset()).close()
    except ProtocolError as error:
        return error.diagnostics
    except EngineError as error:
        span = Span(protocol.path, 1, 1, 1, 1)
        return [templated(TEMPLATES, WARNINGS, "network-limit/engine", span, refusal=str(error))]
    return []


def screen(network: Network | Screening, records: Iterable[tuple[int, object]], path: str,
           screening: date | None = None) -> Iterator[Decision | Rejected]:
    """Decide each record in turn (streaming); pass a `Screening` to reuse its loaded host."""
    screener = network if isinstance(network, Screening) else Screening(network)
    return screener.screen(records, path, screening)


__all__ = ["load", "load_text", "rendered", "compile", "screen"]
