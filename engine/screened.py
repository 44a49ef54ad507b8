"""A decided (or rejected) record as a run's outputs need it: what is printed, tabled, counted
and chained into the trail, built where the patient was decided.

Why a record of its own: with `run --workers N` a patient is decided in a worker process and
written by the parent, in input order. A `Decision` holds the normalised record and every fact
used (large, slow to send between processes); the parent needs only the text that goes out. So
the work that depends on the patient (the trail records, serialised up to their `prev`; the stdout
line; the table rows) is done here, in the worker, and the parent only chains, writes and counts.
A one-process run goes through the same function, so its outputs are the same bytes by
construction.

>>> from engine import pipeline
>>> network = pipeline.compile(pipeline.load_text('protocol "t"\\nversion "1"\\n'
...     'concepts: egfr: quantity in mL/min\\n'
...     'inclusion I1 "eGFR >= 30": egfr >= 30 mL/min', "t.proto-rules")[0])
>>> outputs = Outputs(network, "inline", None, form="text", trail=False, table=False)
>>> [s.shown for s in outputs.screened([(1, {"patient": "p", "screening_date": "2026-01-01",
...     "facts": [{"concept": "egfr", "value": 45, "unit": "mL/min", "date": "2025-12-30"}]})])]
['p: ELIGIBLE']
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Iterator, TextIO

from engine.compile import Network
from engine.run import Decision, Rejected, Screening
from engine.summary import REJECTED
from engine.audit.recorder import Recorder
from protocol.errors import FactProblem


@dataclass(frozen=True)
class Screened:
    """One fact-file record, decided or rejected, as the outputs take it: small and picklable."""

    patient: str | None  # its id (None: a record without one, rejected)
    decision: str  # ELIGIBLE, INELIGIBLE, NEEDS_REVIEW, or REJECTED
    line: int  # the fact-file line of its record
    warnings: tuple[FactProblem, ...]  # the facts set aside or read with a caveat
    problems: tuple[FactProblem, ...]  # why a rejected record could not be used
    shown: str | None  # its stdout line (None: nothing to print)
    rows: tuple[Row, ...]  # its decisions-table rows (none unless asked for)
    records: tuple[tuple[str, str], ...]  # its trail lines, unchained (none unless asked for)


class Outputs:
    """What a run asks for (trail, table, the stdout format), and the network that decides: the
    same in every process, so that each builds the same `Screened` for the same record."""

    def __init__(self, network: Network, path: str, screening: date | None, *, form: str | None,
                 trail: bool, table: bool) -> None:
        self.network = network
        self.path = path  # the fact file's name, as problems and warnings name it
        self.screening = screening
        self.form = form  # `text` or `json`; None prints nothing (--quiet)
        self.recorder = Recorder(network) if trail else None
        self.table = table

    def __getstate__(self) -> dict[str, object]:
        """Pickled for a worker started afresh (`engine.workers`) without the trail's recorder,
        whose evidence is compiled into closures: the worker compiles it again from the network."""
        return {**self.__dict__, "recorder": self.recorder is not None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.recorder = Recorder(self.network) if state["recorder"] else None

    def screened(self, records: Iterable[tuple[int, object]],
                 screening: Screening | None = None) -> Iterator[Screened]:
        """Decide each record in turn with `screening` (a new one when not given: it builds the
        durable_rules host, once per process) and make it ready for the outputs."""
        screening = screening or Screening(self.network)
        for outcome in screening.screen(records, self.path, self.screening):
            yield self._made(outcome)

    def _made(self, outcome: Decision | Rejected) -> Screened:
        records = tuple(self.recorder.lines(outcome)) if self.recorder else ()
        rows = tuple(Table.rows(outcome)) if self.table else ()
        text = shown(outcome, self.form) if self.form else None
        if isinstance(outcome, Rejected):
            return Screened(outcome.patient, REJECTED, outcome.line, (), tuple(outcome.problems),
                            text, rows, records)
        return Screened(outcome.patient.id, outcome.decision, outcome.patient.line,
                        tuple(outcome.patient.warnings), (), text, rows, records)


#: The decisions table's columns.
COLUMNS = ("patient", "criterion", "role", "verdict", "reason")

#: One row of the decisions table.
Row = tuple[str, str, str, str, str]


class Table:
    """The decisions table for analysis: one CSV row per patient and criterion, then one for the
    patient's decision (its criterion empty), patients in input order; a rejected record is one
    row whose verdict is REJECTED and whose reason is its problems. The same inputs give the same
    bytes (`\\n` line ends on every platform)."""

    def __init__(self, out: TextIO) -> None:
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(COLUMNS)

    def write(self, outcome: Decision | Rejected) -> None:
        self.add(self.rows(outcome))

    def add(self, rows: Iterable[Row]) -> None:
        """Write rows built by `rows` (here, or in the worker process that decided the patient)."""
        self.writer.writerows(rows)

    @staticmethod
    def rows(outcome: Decision | Rejected) -> list[Row]:
        """One patient's rows: a pure function of the outcome."""
        if isinstance(outcome, Rejected):
            return [(outcome.patient or "", "", "", REJECTED,
                     "; ".join(str(p) for p in outcome.problems))]
        pid = outcome.patient.id
        deciding = {v.criterion for v in outcome.reasons}
        rows: list[Row] = [(pid, v.criterion, v.role, v.verdict,
                            f"decides {outcome.decision}" if v.criterion in deciding else "")
                           for v in outcome.verdicts.values()]
        rows.append((pid, "", "", outcome.decision,
                     "; ".join(f"{v.role} {v.criterion} {v.verdict}" for v in outcome.reasons)))
        return rows

    @staticmethod
    def recorded(criteria: list[dict], last: dict) -> list[Row]:
        """A patient's rows as `rows` makes them, from its trail records (the `criterion` records
        and its `decision`, or its `rejected` record): a resumed run writes the table again for
        the patients decided before it stopped."""
        if last["type"] == "rejected":
            return [(last["patient"] or "", "", "", REJECTED, "; ".join(last["problems"]))]
        pid, decision = last["patient"], last["decision"]
        deciding = {r["criterion"] for r in last["reasons"]}
        rows: list[Row] = [(pid, c["criterion"], c["role"], c["verdict"],
                            f"decides {decision}" if c["criterion"] in deciding else "")
                           for c in criteria]
        rows.append((pid, "", "", decision,
                     "; ".join(f"{r['role']} {r['criterion']} {r['verdict']}"
                               for r in last["reasons"])))
        return rows


def shown(outcome: Decision | Rejected, form: str) -> str | None:
    """A patient's line on stdout, `text` or `json` (a rejected record has none in text: its
    problems go to stderr)."""
    if isinstance(outcome, Rejected):
        if form != "json":
            return None
        return json.dumps({"patient": outcome.patient, "record": outcome.line, "decision": None,
                           "problems": [str(p) for p in outcome.problems]}, sort_keys=True)
    if form == "json":
        reasons = [{"criterion": v.criterion, "verdict": v.verdict} for v in outcome.reasons]
        return json.dumps({"patient": outcome.patient.id, "record": outcome.patient.line,
                           "decision": outcome.decision, "reasons": reasons,
                           "verdicts": {k: v.verdict for k, v in outcome.verdicts.items()}},
                          sort_keys=True, ensure_ascii=False)
    because = "; ".join(f"{v.role} {v.criterion} {v.verdict}" for v in outcome.reasons)
    return f"{outcome.patient.id}: {outcome.decision}" + (f" ({because})" if because else "")
