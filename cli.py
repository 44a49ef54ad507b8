"""The proto-rules command line: check a protocol, run it on patient facts, explain a trail, decide
a dose escalation, print BOIN's boundaries, simulate a design's operating characteristics, diff
an amendment and rescreen patients under it, and test it on scenarios with rule coverage.

Thin on purpose: each command strings the pipeline's stages together (parse, check, compile, screen,
trail) and turns our errors into messages and exit codes: 0 done, 1 warnings under --strict (or a
tampered trail), 2 bad input (every problem printed, file:line:col with a caret, or record, fact
and field) or an output that cannot be written, 130 interrupted (Ctrl-C), 70 a bug of ours (or a
worker process of `run --workers` lost: killed, out of memory; or a Dask scheduler lost).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import platform
import stat
import sys
import time
from contextlib import closing, nullcontext, suppress
from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

# numpy (pint imports it) starts a BLAS thread pool as it is imported, which nothing here uses (the
# simulations' arrays are element-wise), and a process with a thread of its own does not fork its
# `run --workers` workers (`engine.workers._context`: a thread may hold a lock as it forks; Python
# 3.12+ warns). So one BLAS thread, unless the user asked for more.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Imported here: what the parser needs (its options' readers, and the defaults its help names).
# Each command imports what it runs when it runs (the compiler and the engine, numpy, lark): every
# command builds the whole parser, and `verify` or `explain` would otherwise wait most of a second
# for modules they never use (`tests/test_startup.py`).
from engine.audit import report_pages
from engine.console import png
from engine.escalation import interval_designs
from engine.escalation.commands import add_commands as add_simulation_commands
from protocol.errors import (Diagnostic, ProtocolError, ProtoRulesError, UsageError, WorkerLost,
                             hint)

if TYPE_CHECKING:
    from engine.audit.verify import Verification
    from engine.escalation.network import EscalationNetwork
    from engine.sdtm.export import Export
    from protocol.model import Protocol

#: Exit codes beyond 0, 1 and 2: a bug of ours (sysexits' EX_SOFTWARE), and Ctrl-C (128 + SIGINT).
INTERNAL_ERROR, INTERRUPTED = 70, 130
#: How writing an output fails for want of room or leave (or the disk fails), not by a bug: exit 2,
#: as for any output that cannot be written (most commands say so where they write; this catches
#: the rest).
UNWRITABLE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})
#: A run left to its default number of workers decides a file of fewer records than this in one
#: process: starting the workers (each loads the engine) costs more than deciding them.
SMALL = 200
#: The most cohorts `pathways` enumerates: (size + 1)^K paths grow fast (4^6 = 4,096 for cohorts
#: of 3, each asked of the network once).
MAX_COHORTS = 6


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (tests call this in-process)."""
    _safe_streams()
    try:
        args = _parser().parse_args(argv)  # an option's reader that fails is a bug, not a trace
        _apart(args)
        return args.command(args)
    except ProtoRulesError as error:
        print(f"proto-rules: {error}" if isinstance(error, UsageError) else str(error), file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader closed the pipe: no more output, and no error about it
        with suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        if error.errno not in UNWRITABLE:
            return internal_error(error)
        where = f" {error.filename}" if error.filename else ""
        verb = "cannot read or write" if error.errno == errno.EIO else "cannot write"
        print(f"proto-rules: {verb}{where}: {error.strerror}", file=sys.stderr)
        return 2
    except WorkerLost as lost:  # neither the user's input nor (likely) a bug of ours
        print(f"proto-rules: {lost}", file=sys.stderr)
        return INTERNAL_ERROR
    except KeyboardInterrupt as stop:
        print("proto-rules: interrupted" + (f": {stop}" if str(stop) else ""), file=sys.stderr)
        return INTERRUPTED
    except Exception as error:  # noqa: BLE001 -- the last line of defence, see internal_error
        return internal_error(error)


def _apart(args: argparse.Namespace) -> None:
    """Refuse, before anything is written, an output that is one of the command's inputs or
    another of its outputs (`run P F --trail F` wrote the trail over the fact file it was
    reading; `--trail X --table X` left a table where the trail was said to be sealed). The
    names of the files a command reads and writes are its parser's `reads` and `writes`."""
    seen: dict[object, str] = {}
    named = [(name, False) for name in getattr(args, "reads", ())] + [
        (name, True) for name in getattr(args, "writes", ())]
    for name, written in named:
        given = getattr(args, name, None)
        for path in given if isinstance(given, list) else [given]:
            if not path or path in ("-", "none"):
                continue
            key = _file(path)
            if key is None:
                continue
            what = f"--{name.replace('_', '-')}" if written or name == "base" else \
                _ARGUMENTS.get(name, f"the {name} file")
            if key in seen and written:
                raise UsageError(f"{what} {path} is also {seen[key]}: write it to a file of "
                                 "its own")
            seen.setdefault(key, f"{what} {path}" if written else what)


#: How the files a command reads read in a message, where not `the X file`. Those it writes are
#: options (`-o` is `--output`), as is `--base`.
_ARGUMENTS = {"facts": "the fact file", "scenarios": "a scenario file"}


def _file(path: str) -> object | None:
    """What tells one file from another: an existing regular file's device and inode (however
    it is named: a link, `./F`), another path's resolved name; None for a device or a pipe
    (`/dev/null` may take two outputs)."""
    try:
        found = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (found.st_dev, found.st_ino) if stat.S_ISREG(found.st_mode) else None


def internal_error(error: Exception) -> int:
    """Any exception no command expected is a bug of ours, not the user's input: one line that
    says so and how to report it, instead of a traceback (exit 70)."""
    where = error.__traceback__
    while where is not None and where.tb_next is not None:
        where = where.tb_next
    place = f" at {Path(where.tb_frame.f_code.co_filename).name}:{where.tb_lineno}" if where else ""
    print(f"proto-rules: internal error ({type(error).__name__}{place}: {error}); this is a bug "
          "of proto-rules: please report it with the command and its input files",
          file=sys.stderr)
    return INTERNAL_ERROR


def _safe_streams() -> None:
    """Protocol sentences and facts are Unicode (`≥`, `×`); under a C or ASCII locale the
    standard streams cannot encode them, so characters they cannot take are written as
    backslash escapes instead of stopping the command."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _version() -> str:
    """What ran, as a trail's header says it, and on which Python (the engine is a C extension)."""
    from engine.audit.trail import versions

    ran = versions()
    return f"{ran['tool']} ({ran['engine']}, Python {platform.python_version()})"


class _Version(argparse._VersionAction):
    """`--version`, printed as argparse prints it, but worked out only when asked: reading the
    installed packages' versions (some 30 ms) is for `--version` alone, not for every command."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        self.version = _version()
        super().__call__(parser, namespace, values, option_string)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proto-rules", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    check_cmd = commands.add_parser("check", help="parse and check a .proto-rules file")
    check_cmd.add_argument("protocol")
    check_cmd.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    check_cmd.add_argument("--dump-ast", action="store_true", help="print the parsed model")
    check_cmd.add_argument("--format", choices=("text", "json"), default="text",
                           help="json: every diagnostic with its range, one document on stdout")
    check_cmd.set_defaults(command=_check)

    run_cmd = commands.add_parser("run", help="decide every patient of a fact file")
    run_cmd.add_argument("protocol")
    run_cmd.add_argument("facts", help="JSON (one patient) or JSON Lines file; - for stdin")
    run_cmd.add_argument("--screening-date", type=_date, help="YYYY-MM-DD, for records without one")
    run_cmd.add_argument("--trail", help="write the decision trail (JSON Lines) here")
    run_cmd.add_argument("--format", choices=("text", "json"), default="text")
    run_cmd.add_argument("--quiet", action="store_true", help="no line per patient: only "
                         "rejected records and the summary")
    run_cmd.add_argument("--warnings", metavar="FILE", help="write every fact warning here, "
                         "one a line (stderr shows the first 20 and counts them by kind)")
    run_cmd.add_argument("--table", metavar="OUT.csv", help="write the decisions table (CSV): "
                         "one row per patient and criterion, and one per decision")
    run_cmd.add_argument("--workers", type=_bounded(1, 1024), metavar="N",
                         help="decide patients in N processes (default: every core this process "
                         f"may use, one for a file of fewer than {SMALL} records)")
    run_cmd.add_argument("--scheduler", metavar="local|tcp://HOST:PORT", help="decide patients "
                         "on a Dask cluster: one started here (--workers processes), or a "
                         "running scheduler's")
    run_cmd.add_argument("--resume", action="store_true", help="finish the stopped run that "
                         "wrote --trail: the patients it decided are not decided again")
    run_cmd.set_defaults(command=_run, reads=("protocol", "facts"),
                         writes=("trail", "table", "warnings"))

    test_cmd = commands.add_parser("test", help="run scenario tests on a protocol, with rule "
                                   "coverage")
    test_cmd.add_argument("protocol")
    test_cmd.add_argument("scenarios", nargs="+", help="scenario files (YAML or JSON)")
    test_cmd.add_argument("--min-coverage", metavar="P", type=_percentage,
                          help="exit 1 when under P percent of the rules' outcomes were seen")
    test_cmd.add_argument("--coverage-html", metavar="OUT.html",
                          help="write the protocol source coloured by coverage")
    test_cmd.set_defaults(command=_test, reads=("protocol", "scenarios"), writes=("coverage_html",))

    edge_cmd = commands.add_parser("edge-cases", help="write the boundary patients of every "
                                   "threshold and window as scenarios to review")
    edge_cmd.add_argument("protocol")
    edge_cmd.add_argument("--base", required=True, metavar="FACTS",
                          help="the fact file holding the patient each case changes")
    edge_cmd.add_argument("--patient", help="its id (default: the file's first patient)")
    edge_cmd.add_argument("-o", "--output", required=True, metavar="SCENARIOS.yaml")
    edge_cmd.set_defaults(command=_edge_cases, reads=("protocol", "base"), writes=("output",))

    explain_cmd = commands.add_parser("explain", help="render a decision trail as text")
    explain_cmd.add_argument("trail")
    explain_cmd.add_argument("--patient")
    explain_cmd.add_argument("--criterion")
    explain_cmd.set_defaults(command=_explain)

    attrition_cmd = commands.add_parser("attrition", help="per criterion, in protocol order: "
                                        "patients turned away, remaining, and left open")
    attrition_cmd.add_argument("trail")
    attrition_cmd.add_argument("--format", choices=("text", "json"), default="text")
    attrition_cmd.add_argument("--plot", metavar="OUT.png", type=png, help="draw it as a PNG too")
    attrition_cmd.set_defaults(command=_attrition, reads=("trail",), writes=("plot",))

    graph_cmd = commands.add_parser("graph", help="draw what each criterion reads: concepts -> "
                                    "derived values -> definitions -> criteria")
    graph_cmd.add_argument("protocol")
    graph_cmd.add_argument("-o", "--output", required=True, metavar="OUT.svg|.png|.dot")
    graph_cmd.set_defaults(command=_graph, reads=("protocol",), writes=("output",))

    sdtm_cmd = commands.add_parser("sdtm", help="the protocol's criteria as the SDTM TI "
                                   "dataset (XPT, CSV and a define-style JSON)")
    sdtm_cmd.add_argument("protocol")
    sdtm_ie_cmd = commands.add_parser("sdtm-ie", help="a run's criteria not met, per subject, as "
                                      "the SDTM IE dataset (XPT, CSV and a define-style JSON)")
    sdtm_ie_cmd.add_argument("trail")
    for cmd, command in ((sdtm_cmd, _sdtm), (sdtm_ie_cmd, _sdtm_ie)):
        cmd.add_argument("-o", "--output", required=True, metavar="DIR")
        cmd.add_argument("--study-id", help="STUDYID (default: the protocol's id)")
        cmd.set_defaults(command=command)

    fmt_cmd = commands.add_parser("fmt", help="rewrite .proto-rules files in the canonical layout")
    fmt_cmd.add_argument("files", nargs="+", metavar="FILE", help="- reads stdin, writes stdout")
    fmt_cmd.add_argument("--check", action="store_true", help="change nothing; exit 1 naming the "
                         "files that would change")
    fmt_cmd.set_defaults(command=_fmt)

    lsp_cmd = commands.add_parser("lsp", help="a language server for editors, over stdin/stdout")
    lsp_cmd.set_defaults(command=_lsp)

    report_cmd = commands.add_parser("report", help="render a decision trail as one "
                                     "self-contained HTML page, or as a summary page and pages "
                                     "of patients")
    report_cmd.add_argument("trail")
    report_cmd.add_argument("-o", "--output", required=True, metavar="OUT.html|DIR/",
                            help="the HTML file to write (at most "
                            f"{report_pages.ONE_PAGE} patients), or a directory: index.html, "
                            "the summary, and patients/page-0001.html, ...")
    report_cmd.add_argument("--page-size", type=_bounded(1, 100_000), metavar="K",
                            help="patients a page of a directory holds "
                            f"(default {report_pages.PAGE_SIZE})")
    report_cmd.set_defaults(command=_report, reads=("trail",), writes=("output",))

    fhir_cmd = commands.add_parser("fhir", help="write a decision trail as FHIR: the criteria as "
                                   "an EvidenceVariable, each decision as a ResearchSubject and "
                                   "an Observation")
    fhir_cmd.add_argument("trail")
    fhir_cmd.add_argument("-o", "--output", required=True, metavar="DIR",
                          help="the folder to write EvidenceVariable.json and decisions.ndjson in")
    fhir_cmd.set_defaults(command=_fhir)

    verify_cmd = commands.add_parser("verify", help="check a trail's hash chain and seal")
    verify_cmd.add_argument("trail")
    verify_cmd.add_argument("--protocol", help="check it is the protocol file the run read")
    verify_cmd.add_argument("--facts", help="check it is the fact file the run read")
    verify_cmd.set_defaults(command=_verify)

    replay_cmd = commands.add_parser("replay", help="re-run a recorded run and compare")
    replay_cmd.add_argument("trail")
    replay_cmd.add_argument("--protocol", required=True)
    replay_cmd.add_argument("--facts", required=True)
    replay_cmd.set_defaults(command=_replay)

    diff_cmd = commands.add_parser("diff", help="what an amendment changes, criterion by criterion")
    diff_cmd.add_argument("old")
    diff_cmd.add_argument("new")
    diff_cmd.add_argument("--format", choices=("text", "json"), default="text")
    diff_cmd.set_defaults(command=_diff)

    rescreen_cmd = commands.add_parser("rescreen", help="which patients an amendment decides "
                                       "differently, and why")
    rescreen_cmd.add_argument("old")
    rescreen_cmd.add_argument("new")
    rescreen_cmd.add_argument("facts", help="JSON (one patient) or JSON Lines file; - for stdin")
    rescreen_cmd.add_argument("--screening-date", type=_date,
                              help="YYYY-MM-DD, for records without one")
    rescreen_cmd.add_argument("--format", choices=("text", "json"), default="text")
    rescreen_cmd.set_defaults(command=_rescreen)

    escalate_cmd = commands.add_parser("escalate", help="decide the next dose-escalation step")
    escalate_cmd.add_argument("protocol")
    escalate_cmd.add_argument("cohort", nargs="?", help="cohort fact file (JSON)")
    escalate_cmd.add_argument("--outcomes", help='what if: outcome strings, "1NNN 2NTT"')
    escalate_cmd.add_argument("--trail", help="write the decision trail (JSON Lines) here")
    escalate_cmd.set_defaults(command=_escalate, reads=("protocol", "cohort"), writes=("trail",))

    pathways_cmd = commands.add_parser("pathways", help="dose-transition pathways, as a table")
    pathways_cmd.add_argument("protocol")
    pathways_cmd.add_argument("--cohorts", type=_bounded(1, MAX_COHORTS), default=2,
                              help=f"how many cohorts ahead, 1 to {MAX_COHORTS} (default 2)")
    pathways_cmd.add_argument("--outcomes", default="",
                              help='from the trial as these outcomes leave it: "1NNN 2NTT"')
    pathways_cmd.add_argument("--plot", default="none", type=png,
                              help="PNG of the tree to write")
    pathways_cmd.set_defaults(command=_pathways, reads=("protocol",), writes=("plot",))

    boundaries_cmd = commands.add_parser("boundaries",
                                         help="print a BOIN or decision-table design's boundaries")
    boundaries_cmd.add_argument("protocol")
    boundaries_cmd.set_defaults(command=_boundaries)

    table_cmd = commands.add_parser(
        "design-table", help="write an i3+3 or mTPI-2 rules module for a target DLT rate")
    table_cmd.add_argument("design", choices=sorted(interval_designs.DESIGNS))
    table_cmd.add_argument("--target", type=interval_designs.rate, default=Decimal("0.3"),
                           help="target DLT rate (default 0.3)")
    table_cmd.add_argument("--interval", type=interval_designs.interval, default=None,
                           help="equivalence interval LOW,HIGH (default target -/+ 0.05)")
    table_cmd.add_argument("--patients", type=_bounded(1, 200), default=30,
                           help="rows of the table: the most patients one level can have")
    table_cmd.set_defaults(command=_design_table)

    add_simulation_commands(commands, _bounded, _escalation)
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _percentage(text: str) -> Decimal:
    try:
        number = Decimal(text.rstrip("%"))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not 0 <= number <= 100:
        raise argparse.ArgumentTypeError(f"a percentage from 0 to 100, not {text!r}")
    return number


def _bounded(low: int, high: int):
    """An argparse type: a whole number from `low` to `high` (a typo such as 10000000000 trials
    would otherwise ask for tens of gigabytes)."""

    def read(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"a whole number from {low:,} to {high:,}, not "
                                             f"{text}")
        return number

    return read


def _design_table(args) -> int:
    try:
        text = interval_designs.module_text(args.design, args.target, args.interval,
                                            args.patients)
    except ValueError as error:
        raise UsageError(str(error)) from None
    sys.stdout.write(text)
    return 0


def _load(path: str) -> Protocol:
    """Parse and check a protocol; errors stop here (exit 2), warnings go to stderr."""
    from engine import pipeline

    protocol, diagnostics = pipeline.load(path)
    for text in pipeline.rendered(protocol, diagnostics):
        print(text, file=sys.stderr)
    return protocol


def _escalation(path: str) -> EscalationNetwork:
    """A protocol's escalation network; a protocol without escalation is a usage error."""
    from engine.escalation.network import compile_escalation

    protocol = _load(path)
    if protocol.escalation is None:
        raise UsageError(f"{path} has no escalation section")
    return compile_escalation(protocol)


def _check(args) -> int:
    from engine import pipeline
    from grammar.parser import dump

    try:
        protocol, diagnostics = pipeline.load(args.protocol)
        refused = pipeline.network_problems(protocol)
        if refused:
            raise ProtocolError(refused, protocol.source)
    except ProtocolError as error:
        if args.format != "json":
            raise
        print(_checked_json(args.protocol, error.diagnostics))
        return 2
    leaves = protocol.leaves()
    inclusion = sum(1 for c in protocol.criteria if c.role.value == "inclusion")
    if args.format == "json":
        print(_checked_json(args.protocol, diagnostics, inclusion=inclusion,
                            exclusion=len(protocol.criteria) - inclusion, verdicts=len(leaves),
                            definitions=len(protocol.definitions),
                            concepts=len(protocol.concepts)))
        return 1 if diagnostics and args.strict else 0
    for text in pipeline.rendered(protocol, diagnostics):
        print(text, file=sys.stderr)
    if args.dump_ast:
        print(dump(protocol))
    from engine.summary import counted
    print(f"{args.protocol}: ok: {inclusion} inclusion and {len(protocol.criteria) - inclusion} "
          f"exclusion criteria ({len(leaves)} with verdicts), "
          f"{counted(len(protocol.definitions), 'definition')}, "
          f"{counted(len(protocol.concepts), 'concept')}; "
          f"{counted(len(diagnostics), 'warning')}")
    return 1 if diagnostics and args.strict else 0


def _checked_json(path: str, diagnostics: list[Diagnostic], **counts: int) -> str:
    """`check --format json`, for CI and editors: every diagnostic with its range (lines and
    columns from 1, the end exclusive, as the caret shows it), and the protocol's counts when it
    passed; one JSON document, keys sorted, the same bytes for the same file."""
    found = [{"file": d.span.file, "line": d.span.line, "column": d.span.column,
              "end_line": d.span.end_line, "end_column": d.span.end_column,
              "severity": d.severity.value, "code": d.code, "message": d.message}
             for d in diagnostics]
    errors = sum(1 for d in diagnostics if d.is_error)
    return json.dumps({"file": path, "ok": not errors, "errors": errors,
                       "warnings": len(diagnostics) - errors, "diagnostics": found, **counts},
                      sort_keys=True, ensure_ascii=False)


def _run(args) -> int:
    from engine import pipeline
    from engine.audit.recorder import Recorder, Trail
    from engine.audit.trailfile import created, reopened
    from engine.console import between_patients, optional, writing
    from engine.factfile import opened
    from engine.progress import progress, tell
    from engine.resume import resume_point, resumed
    from engine.screened import Outputs, Table
    from engine.summary import REJECTED, Tally
    from engine.workers import available, decided, on_cluster

    network = pipeline.compile(_load(args.protocol))
    outputs = Outputs(network, args.facts, args.screening_date, trail=bool(args.trail),
                      form=None if args.quiet else args.format, table=bool(args.table))
    point = resume_point(args.trail, args.facts, Recorder(network).header(
        args.protocol, args.facts, args.screening_date)) if args.resume else None
    if point is not None and point.finished:
        print(f"proto-rules: the trail {args.trail} is finished (summed up and sealed after "
              f"{point.patients:,} patients): nothing to do", file=sys.stderr)
        return 0
    workers = args.workers or available()
    # Read as a stream, hashed as it is read (stdin too): the trail's summary records the hash;
    # with workers, each reads the lines it decides.
    facts = opened(args.facts, network.protocol,
                   deferred=workers > 1 or args.scheduler is not None)
    tally, started = Tally(facts=args.facts), time.perf_counter()  # the time only printed
    create = partial(reopened, keep=point.end) if point and point.state else created
    sink = writing(args.trail, "trail", create) if args.trail else nullcontext()
    with facts, on_cluster(args.scheduler, args.workers) as cluster, sink as out, \
            optional(args.warnings, "warnings") as warnings_out, \
            optional(args.table, "table") as table_out, progress(args.facts) as console:
        trail = Trail(out, network, args.protocol, args.facts, args.screening_date,
                      point.state if point else None) if out else None
        table = Table(table_out) if table_out else None
        records = facts.records()
        if point is not None and point.state is not None:
            records = resumed(args.trail, args.facts, point, records, table, warnings_out)
        try:
            with between_patients() as interrupted, closing(decided(
                    outputs, records, workers, interrupted, small=0 if args.workers else SMALL,
                    cluster=cluster)) as screened:
                for done in screened:
                    if trail:
                        trail.written(done.patient, done.decision, done.line, done.records)
                    if table:
                        table.add(done.rows)
                    tell(done, tally, args, warnings_out, console)
                    if done.shown is not None:
                        console.say(done.shown, sys.stdout)
                    console.advance()
                if interrupted.is_set():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if trail is None:
                raise
            sealed = trail.cut("interrupted", facts.sha256())
            raise KeyboardInterrupt(f"the trail {args.trail} holds the patients decided so far, "
                                    f"marked as cut and sealed, final sha256 {sealed}") from None
        except BrokenPipeError:  # `run ... | head`: the reader has seen enough
            if trail is not None:
                trail.cut("output closed", facts.sha256())
            raise
        except WorkerLost as lost:
            if trail is not None:
                sealed = trail.cut("a worker process stopped", facts.sha256())
                raise WorkerLost(f"{lost}; the trail {args.trail} holds the patients decided "
                                 f"before it, marked as cut and sealed, final sha256 {sealed}: "
                                 "run again with --resume to finish") from None
            raise
        sealed = trail.close(facts.sha256()) if trail else None
    if sealed:  # said once the file is closed: a compressed trail's last frame is written then
        print(f"trail {args.trail} sealed, final sha256 {sealed}", file=sys.stderr)
    sys.stderr.write(tally.render(time.perf_counter() - started))
    for path, what in ((args.warnings, "every warning"), (args.table, "decisions table")):
        if path:
            print(f"{what}: {path}", file=sys.stderr)
    return 2 if tally.rejected or tally.unread or (
        point and point.state and point.state.counts.get(REJECTED)) else 0


def _escalate(args) -> int:
    from engine.audit.trail import Chain
    from engine.audit.trailfile import created
    from engine.console import writing
    from engine.escalation.cohort import outcomes_cohort, read_cohort
    from engine.escalation.network import Escalator
    from engine.escalation.report import decide, explain, trail_records

    network = _escalation(args.protocol)
    if (args.cohort is None) == (args.outcomes is None):
        raise UsageError("escalate takes a cohort file or --outcomes, one of them")
    if args.outcomes is not None and args.trail:
        raise UsageError("--trail records a cohort file; --outcomes is a what-if")
    try:
        cohort = (read_cohort(args.cohort, network.protocol) if args.outcomes is None
                  else outcomes_cohort(args.outcomes, network.escalation))
    except ValueError as error:
        raise UsageError(str(error)) from None
    decision = decide(Escalator(network), cohort)
    for warning in decision.cohort.warnings:
        print(warning, file=sys.stderr)
    sys.stdout.write(explain(decision))
    if args.trail:
        with writing(args.trail, "trail", created) as out:
            chain = Chain(out)
            chain.write(*trail_records(decision, args.protocol))
            sealed = chain.seal()
        print(f"trail {args.trail} sealed, final sha256 {sealed}", file=sys.stderr)
    return 1 if decision.deviations else 0  # the trial did not follow its design


def _pathways(args) -> int:
    from engine.console import plotted
    from engine.escalation.network import Escalator
    from engine.escalation.pathways import from_outcomes as paths_from
    from engine.escalation.pathways import plot as plot_pathways
    from engine.escalation.pathways import table as pathways_table

    escalator = Escalator(_escalation(args.protocol))
    try:
        root, nodes = paths_from(escalator, args.outcomes, args.cohorts)
    except ValueError as error:
        raise UsageError(str(error)) from None
    sys.stdout.write(pathways_table(escalator, root, nodes))
    if args.plot != "none":
        plotted(args.plot, lambda path: plot_pathways(escalator, root, nodes, path))
    return 0


def _boundaries(args) -> int:
    from engine.escalation.network import Escalator
    from engine.escalation.report import boundaries_report

    network = _escalation(args.protocol)
    if network.boundaries is None:
        raise UsageError(f"{args.protocol}: the design '{network.design.name}' is written as "
                         "rules, with no boundaries; BOIN and decision-table designs have them")
    sys.stdout.write(boundaries_report(Escalator(network)))
    return 0


def _test(args) -> int:
    """Exit 0 every case passed (and the coverage reached --min-coverage), 1 a case failed or
    the coverage fell short, 2 a scenario file or its patients could not be used."""
    from engine import coverage as rule_coverage
    from engine import pipeline, scenarios
    from engine.console import writing

    network = pipeline.compile(_load(args.protocol))
    files = [(path, scenarios.read(path, network.protocol)) for path in args.scenarios]
    runner = scenarios.Runner(network)
    runs = [(path, runner.run(path, cases)) for path, cases in files]
    sys.stdout.write(scenarios.render(runs, runner))
    coverage = rule_coverage.Coverage(network)
    for _, results in runs:
        for result in results:
            coverage.add(result.outcome)
    sys.stdout.write("\n" + rule_coverage.render(coverage))
    if args.coverage_html:
        with writing(args.coverage_html, "coverage page") as out:
            out.write(rule_coverage.page(coverage))
        print(f"coverage page: {args.coverage_html}")
    passed = all(r.passed for _, results in runs for r in results)
    short = args.min_coverage is not None and not coverage.reaches(args.min_coverage)
    if short:
        print(f"coverage under --min-coverage {args.min_coverage}%")
    return 0 if passed and not short else 1


def _edge_cases(args) -> int:
    """Exit 0 with the scenario file written, 2 if the base patient cannot be used."""
    from engine import edgecases, pipeline
    from engine.console import writing
    from engine.factfile import read_records

    network = pipeline.compile(_load(args.protocol))
    # the base is the patient named (or the first record): another record's problem is not its
    patients: dict[str, dict] = {}
    lines: dict[str, int] = {}  # each patient's line, where a problem of its record is said
    unreadable = []
    for line, data in read_records(args.base):
        if not isinstance(data, dict):
            if args.patient is None and not patients:
                raise UsageError(f"cannot read the base patient: {data}")
            unreadable.append(data)
            continue
        if "resourceType" in data:  # its cases change facts as the fact format writes them
            raise UsageError(f"{args.base}:{line}: edge-cases takes its base patient in the fact "
                             "format (JSON or JSON Lines), not as a FHIR resource")
        patients.setdefault(data.get("patient"), data)
        lines.setdefault(data.get("patient"), line)
    if not patients:
        raise UsageError(f"no patient in {args.base}" + (
            f": cannot read the base patient: {unreadable[0]}" if unreadable else ""))
    chosen = args.patient or next(iter(patients))
    if chosen not in patients:
        raise UsageError(f"no patient {chosen!r} in {args.base}{hint(chosen, map(str, patients))}"
                         + (f" ({len(unreadable)} record(s) could not be read, the first: "
                            f"{unreadable[0]})" if unreadable else ""))
    generator = edgecases.EdgeCases(network, patients[chosen], args.base, lines[chosen])
    cases = generator.cases()
    base_file = os.path.relpath(Path(args.base).resolve(), Path(args.output).resolve().parent)
    with writing(args.output, "scenarios") as out:
        out.write(edgecases.render(cases, args.protocol, base_file, generator.skipped,
                                   generator.not_generated, generator.notes))
    print(f"{args.output}: {len(cases)} boundary cases from {chosen}"
          + (f"; {len(generator.skipped)} left out (no verdict could be worked out; listed "
             "in its header)"
             if generator.skipped else "")
          + (f"; {len(generator.not_generated)} not generated (listed in its header)"
             if generator.not_generated else ""))
    if not cases:  # the file is no scenario file without a case: say what stood in the way
        for reason in generator.not_generated:
            print(f"  not generated: {reason}", file=sys.stderr)
    return 0


def _explain(args) -> int:
    """Exit 0, 1 for a tampered trail (rendered after the line that says so), 2 unreadable.
    The trail is read as a stream, a patient at a time; one patient of a compressed trail is read
    through its seek table (`located`)."""
    from engine.audit.explain import render, rendered
    from engine.audit.trail import opening, patients, records, scan, stream
    from engine.audit.verify import located, verify

    found = located(args.trail, args.patient) if args.patient is not None else None
    if found is not None:
        _criterion_held(args, next(r for r in records(found.lines, args.trail, args.patient)
                                   if r["type"] == "protocol"))
        _say(found.checked)
        print("checked: the frames read, against the trail's seek table and seal; "
              f"`proto-rules verify {args.trail}` checks every record", file=sys.stderr)
        shown = records(found.lines, args.trail, args.patient)
        sys.stdout.write(render(shown, args.patient, args.criterion))
        return 0 if found.checked.ok else 1
    _criterion_held(args, opening(args.trail))
    digest, held = scan(args.trail, args.patient)
    checked = verify(args.trail)
    if not held:
        if not checked.ok:  # the patient may be in what was cut off or altered: say so
            _say(checked)
            print(f"proto-rules: no patient {args.patient!r} in what can be read of the trail "
                  f"{args.trail}", file=sys.stderr)
            return 1
        everyone = patients(stream(args.trail))
        raise UsageError(f"no patient {args.patient!r} in the trail {args.trail}"
                         f"{hint(args.patient, everyone)}")
    _say(checked)
    sys.stdout.writelines(rendered(stream(args.trail, args.patient), args.patient,
                                   args.criterion, digest))
    return 0 if checked.ok else 1


def _criterion_held(args, protocol: dict) -> None:
    """`--criterion` names one of the trail's protocol record."""
    ids = [entry["id"] for entry in protocol["criteria"]]
    ids += sorted({i.split(".")[0] for i in ids} - set(ids))  # a criterion of parts, by its id
    if args.criterion is not None and args.criterion not in ids:
        raise UsageError(f"no criterion {args.criterion!r} in the trail {args.trail}"
                         f"{hint(args.criterion, ids)}")


def _attrition(args) -> int:
    """Exit 0, 1 for a tampered trail (counted after the line that says so), 2 unreadable."""
    from engine.attrition import attrition
    from engine.attrition import plot as plot_attrition
    from engine.attrition import render as render_attrition
    from engine.audit.trail import opening, stream
    from engine.audit.verify import verify
    from engine.console import plotted

    opening(args.trail)
    checked = verify(args.trail)
    _say(checked)
    table = attrition(stream(args.trail))
    if args.format == "json":
        print(json.dumps(asdict(table), sort_keys=True))
    else:
        sys.stdout.write(render_attrition(table))
    if args.plot:
        plotted(args.plot, lambda path: plot_attrition(table, path))
    return 0 if checked.ok else 1


def _graph(args) -> int:
    from engine.console import plotted
    from protocol import dependencies  # networkx's drawing, only for this command

    form = args.output.rsplit(".", 1)[-1].lower() if "." in Path(args.output).name else ""
    if form not in dependencies.FORMATS:
        raise UsageError(f"cannot draw {args.output}: the graph is written as "
                         f"{', '.join('.' + f for f in dependencies.FORMATS)}")
    protocol = _load(args.protocol)
    plotted(args.output, lambda path: dependencies.write(protocol, path), "graph")
    return 0


def _fmt(args) -> int:
    from grammar import layout

    return layout.format_files(args.files, args.check)


def _lsp(args) -> int:
    from lsp.server import serve  # pygls loads only for the editor

    return serve()


def _sdtm(args) -> int:
    from engine.sdtm import export as sdtm

    return _exported(sdtm.trial(_load(args.protocol), args.study_id, args.output))


def _sdtm_ie(args) -> int:
    from engine.sdtm import export as sdtm

    return _exported(sdtm.subjects(args.trail, args.study_id, args.output))


def _exported(export: Export) -> int:
    for warning in export.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(export.summary)
    return 0


def _say(checked: Verification) -> None:
    """The line every reader of a trail prints first (after refusing a file that is not a trail:
    `opening`) when it is tampered or incomplete: a tampered trail is still shown (an auditor
    wants to see what the file claims), under a first line that says it is tampered, where, and
    that it cannot be relied on; a cut one under the line that says how far the run got."""
    if not checked.ok:
        print(f"{checked}; what follows is what the file says now, and cannot be relied on")
    elif checked.cut:
        print(f"incomplete: {checked.cut}")


def _report(args) -> int:
    """Exit 0 with the page (or the directory of pages) written, 1 if the trail is tampered (the
    pages and this command say so first), 2 if the trail cannot be read as a decision trail or the
    report cannot be written (nothing is left then: `engine/audit/report_pages.py`). A directory
    gets a summary page and pages of patients; one page takes at most `ONE_PAGE` patients."""
    paged = report_pages.directory_wanted(args.output)
    if args.page_size is not None and not paged:
        raise UsageError(f"--page-size is for a directory of pages (-o DIR/); {args.output} is "
                         "one page")
    size = args.page_size or report_pages.PAGE_SIZE
    try:
        written = (report_pages.write(args.trail, Path(args.output), size) if paged
                   else report_pages.one_page(args.trail, Path(args.output)))
    except OSError as error:
        raise UsageError(f"cannot write report {args.output}: {error.strerror}") from None
    tampered = written.status.state == "tampered"
    if tampered:
        print(f"trail {written.status.text}; the {'pages show' if paged else 'page shows'} "
              "what the file says now")
    where = (f"{Path(args.output) / 'index.html'}: {written.patients} patients on "
             f"{written.pages} pages of {size}" if paged
             else f"{args.output}: {written.patients} patients")
    print(f"report: {where}; trail {written.status.text}")
    return 1 if tampered else 0


def _fhir(args) -> int:
    """Exit 0 with both files written, 1 if the trail is tampered (said first; the files say
    what it says now), 2 if it cannot be read as a decision trail or a file cannot be written."""
    from engine.audit.trail import opening, read, sha256_file
    from engine.audit.verify import verify
    from engine.fhir import out as fhir_out  # the FHIR library, only for this command

    opening(args.trail)  # refuses a file that is not a decision trail
    checked = verify(args.trail)
    _say(checked)
    print(fhir_out.write(read(args.trail), sha256_file(args.trail), Path(args.output)))
    return 0 if checked.ok else 1


def _verify(args) -> int:
    from engine.audit.verify import verify

    result = verify(args.trail, args.protocol, args.facts)
    print(result)
    return 0 if result.ok else 1


def _replay(args) -> int:
    """Exit 0 identical, 1 different or the trail tampered (said first), 2 unreadable."""
    from engine import pipeline
    from engine.audit.replay import replay
    from engine.audit.trail import opening, stream
    from engine.audit.verify import verify

    opening(args.trail)
    checked = verify(args.trail)
    _say(checked)
    result = replay(stream(args.trail), pipeline.compile(_load(args.protocol)), args.facts)
    print(result)
    return 0 if result.identical and checked.ok else 1


def _diff(args) -> int:
    """Exit 0 when both files mean and say the same (layout and comments aside), 1 when they
    differ, as diff(1) does; text and rule drifting apart is also a warning on stderr."""
    from protocol.amend.diff import diff
    from protocol.amend.wording import as_json as diff_json
    from protocol.amend.wording import render as render_diff
    from protocol.errors import render as render_diagnostic

    old, new = _load(args.old), _load(args.new)
    result = diff(old, new)
    for diagnostic in result.diagnostics():
        source = new.source_of(diagnostic.span.file) or old.source_of(diagnostic.span.file)
        print(render_diagnostic(diagnostic, source), file=sys.stderr)
    if args.format == "json":
        print(json.dumps(diff_json(result), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(render_diff(result))
    return 1 if result.entries else 0


def _rescreen(args) -> int:
    """Exit 0, or 2 if a record was rejected under either protocol (as `run` does)."""
    from engine.factfile import read_records
    from engine.rescreen import Rescreening, Summary, render_summary, summary_json
    from engine.rescreen import as_json as comparison_json
    from engine.rescreen import render as render_comparison
    from engine.summary import REJECTED
    from protocol.amend.wording import totals

    old, new = _load(args.old), _load(args.new)
    if args.facts != "-":
        try:
            open(args.facts, "rb").close()
        except OSError as error:
            raise UsageError(f"cannot read fact file {args.facts}: {error.strerror}") from None
    rescreening = Rescreening(old, new)
    summary, rejected = Summary(), 0
    if args.format == "text":
        print(f"--- {args.old} (version {old.version or '?'})\n"
              f"+++ {args.new} (version {new.version or '?'})\n"
              f"amendment: {totals(rescreening.diff)}\n"
              f"patients of {args.facts} whose verdicts change:")
    records = read_records(args.facts, protocol=new)
    for comparison in rescreening.compare(records, args.facts, args.screening_date):
        summary.add(comparison)
        rejected += REJECTED in (comparison.old, comparison.new)
        for problem in comparison.problems:
            print(problem, file=sys.stderr)
        if not (comparison.changed or comparison.problems):
            continue
        if args.format == "json":
            print(json.dumps(comparison_json(comparison), sort_keys=True, ensure_ascii=False))
        else:
            sys.stdout.write(render_comparison(comparison))
    if args.format == "json":
        print(json.dumps(summary_json(summary), sort_keys=True))
    else:
        sys.stdout.write(render_summary(summary))
    return 2 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
