"""The two commands' work: `trial` (`proto-rules sdtm`, TI from a protocol) and `subjects`
(`proto-rules sdtm-ie`, IE from a decision trail). Each builds its dataset, checks it against the
IG (a dataset that would not conform is refused, naming the first problem), and writes it.

An IE is made only from a trail that verifies and is whole: a submission dataset from a tampered
trail, or from a run cut before its last patient, would silently leave subjects out.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from engine.sdtm.domains import NotMet, not_met, study_id, trial_criteria
from engine.sdtm.files import write
from engine.sdtm.ig import VERSION, Dataset, conformance
from engine.audit.trail import read, sha256_file
from engine.audit.verify import verify
from protocol.errors import UsageError
from protocol.model import Protocol

#: The side file of `sdtm-ie`: the verdicts IE does not record, one a line.
OPEN_FILE = "ie-open.csv"


@dataclass(frozen=True)
class Export:
    """What a command wrote, what it warns of, and its one-line summary."""

    paths: list[Path]
    warnings: list[str]
    summary: str


def trial(protocol: Protocol, given_study: str | None, directory: str) -> Export:
    """TI of a checked protocol into `directory`."""
    dataset = trial_criteria(protocol, study_id(given_study, protocol.id, protocol.path))
    _conforming(dataset, protocol.path)
    digest = hashlib.sha256(protocol.source.encode()).hexdigest()
    paths = write(dataset, directory, {"protocol": protocol.path, "sha256": digest})
    roles = [row["IECAT"] for row in dataset.rows]
    summary = (f"TI: {len(roles)} criteria ({roles.count('INCLUSION')} inclusion, "
               f"{roles.count('EXCLUSION')} exclusion): {', '.join(map(str, paths))}")
    return Export(paths, dataset.warnings, summary)


def subjects(trail: str, given_study: str | None, directory: str) -> Export:
    """IE of a whole, intact decision trail into `directory`, with the verdicts it leaves out
    in `ie-open.csv` beside it."""
    records = read(trail)
    checked = verify(trail)
    if not checked.ok:
        raise UsageError(f"cannot make IE from {trail}: the trail is {checked}")
    if checked.cut:
        raise UsageError(f"cannot make IE from {trail}: {checked.cut}; IE would leave them out: "
                         "run the protocol over all the patients")
    result = not_met(records, given_study, trail)
    _conforming(result.dataset, trail)
    paths = write(result.dataset, directory, {"trail": trail, "sha256": sha256_file(trail)})
    side = Path(directory) / OPEN_FILE
    try:
        side.write_text(_open_csv(result), encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {side}: {error.strerror or error}") from None
    rows = result.dataset.rows
    kept_out = len({row["USUBJID"] for row in rows})
    summary = (f"IE: {len(rows)} criteria not met by {kept_out} of {result.subjects} subjects: "
               f"{', '.join(map(str, paths))}; {len(result.open)} verdicts left open or records "
               f"rejected are not in IE: {side}")
    return Export([*paths, side], result.dataset.warnings, summary)


def _conforming(dataset: Dataset, where: str) -> None:
    problems = conformance(dataset)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"{where}: the {dataset.domain.name} dataset would not conform to "
                         f"{VERSION}: {problems[0]}{more}")


def _open_csv(result: NotMet) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("USUBJID", "IETESTCD", "CRITERION", "VERDICT", "REASON"))
    writer.writerows((o.usubjid, o.testcd, o.criterion, o.verdict, o.reason)
                     for o in result.open)
    return text.getvalue()
