"""The proto-rules command line: check a protocol, run it on patient facts, explain a trail.

Thin on purpose: each command strings the pipeline's stages together (parse, check, compile, screen,
trail) and turns our errors into messages and exit codes: 0 done, 1 warnings under --strict,
2 bad input (every problem printed, file:line:col with a caret, or record, fact and field).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from contextlib import nullcontext
from datetime import date
from typing import TextIO

from engine.compile import compile_protocol
from engine.facts import read_records
from engine.run import Decision, Rejected, Screening
from engine.trail import Trail, read, render
from grammar.parser import dump, parse_file
from protocol.checks import check
from protocol.errors import ProtocolError, ProtoRulesError, UsageError
from protocol.errors import render as render_diagnostic


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (tests call this in-process)."""
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except ProtoRulesError as error:
        print(f"proto-rules: {error}" if isinstance(error, UsageError) else str(error), file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proto-rules", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    check_cmd = commands.add_parser("check", help="parse and check a .proto-rules file")
    check_cmd.add_argument("protocol")
    check_cmd.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    check_cmd.add_argument("--dump-ast", action="store_true", help="print the parsed model")
    check_cmd.set_defaults(command=_check)

    run_cmd = commands.add_parser("run", help="decide every patient of a fact file")
    run_cmd.add_argument("protocol")
    run_cmd.add_argument("facts", help="JSON (one patient) or JSON Lines file; - for stdin")
    run_cmd.add_argument("--screening-date", type=_date, help="YYYY-MM-DD, for records without one")
    run_cmd.add_argument("--trail", help="write the decision trail (JSON Lines) here")
    run_cmd.add_argument("--format", choices=("text", "json"), default="text")
    run_cmd.set_defaults(command=_run)

    explain_cmd = commands.add_parser("explain", help="render a decision trail as text")
    explain_cmd.add_argument("trail")
    explain_cmd.add_argument("--patient")
    explain_cmd.add_argument("--criterion")
    explain_cmd.set_defaults(command=_explain)
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _load(path: str):
    """Parse and check a protocol; errors stop here, warnings go to stderr."""
    protocol = parse_file(path)
    diagnostics = check(protocol)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise ProtocolError(diagnostics, protocol.source)
    return protocol, diagnostics


def _check(args) -> int:
    protocol, diagnostics = _load(args.protocol)
    for diagnostic in diagnostics:
        print(render_diagnostic(diagnostic, protocol.source), file=sys.stderr)
    if args.dump_ast:
        print(dump(protocol))
    leaves = protocol.leaves()
    inclusion = sum(1 for c in protocol.criteria if c.role.value == "inclusion")
    print(f"{args.protocol}: ok: {inclusion} inclusion and {len(protocol.criteria) - inclusion} "
          f"exclusion criteria ({len(leaves)} with verdicts), {len(protocol.definitions)} definitions, "
          f"{len(protocol.concepts)} concepts; {len(diagnostics)} warnings")
    return 1 if diagnostics and args.strict else 0


def _run(args) -> int:
    protocol, diagnostics = _load(args.protocol)
    for diagnostic in diagnostics:
        print(render_diagnostic(diagnostic, protocol.source), file=sys.stderr)
    screening = Screening(compile_protocol(protocol))
    records = list(read_records(args.facts)) if args.facts == "-" else read_records(args.facts)
    digest = _sha256(args.facts)
    rejected = 0
    sink = open(args.trail, "w", encoding="utf-8") if args.trail else nullcontext()
    with sink as out:
        trail = Trail(out, screening.network, args.protocol, args.facts, digest,
                      args.screening_date) if out else None
        for outcome in screening.screen(records, args.facts, args.screening_date):
            if trail:
                trail.write(outcome)
            rejected += isinstance(outcome, Rejected)
            _show(outcome, args.format, sys.stdout)
        if trail:
            trail.close()
    return 2 if rejected else 0


def _sha256(path: str) -> str:
    if path == "-":
        return "stdin"
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError as error:
        raise UsageError(f"cannot read fact file {path}: {error.strerror}") from None


def _show(outcome: Decision | Rejected, form: str, out: TextIO) -> None:
    if isinstance(outcome, Rejected):
        for problem in outcome.problems:
            print(problem, file=sys.stderr)
        if form == "json":
            print(json.dumps({"patient": outcome.patient, "record": outcome.line, "decision": None,
                              "problems": [str(p) for p in outcome.problems]}, sort_keys=True), file=out)
        return
    for warning in outcome.patient.warnings:
        print(warning, file=sys.stderr)
    reasons = [{"criterion": v.criterion, "verdict": v.verdict} for v in outcome.reasons]
    if form == "json":
        print(json.dumps({"patient": outcome.patient.id, "record": outcome.patient.line,
                          "decision": outcome.decision, "reasons": reasons,
                          "verdicts": {k: v.verdict for k, v in outcome.verdicts.items()}},
                         sort_keys=True, ensure_ascii=False), file=out)
        return
    because = ", ".join(f"{r['criterion']} {r['verdict']}" for r in reasons)
    print(f"{outcome.patient.id:<28} {outcome.decision:<13} {because}".rstrip(), file=out)


def _explain(args) -> int:
    try:
        records = read(args.trail)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read trail {args.trail}: {error}") from None
    sys.stdout.write(render(records, args.patient, args.criterion))
    return 0


if __name__ == "__main__":
    sys.exit(main())
