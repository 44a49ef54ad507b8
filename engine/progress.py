"""A run's progress line on a terminal (patients done, patients/s, the time left), and its
warnings shown up to a point and counted after: what `run` says on stderr as it goes.

Apart from `engine/console.py`, which every command uses for its output files: tqdm takes a
few hundredths of a second to import, which only a run needs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from engine.factfile import count_records
from engine.screened import Screened
from engine.summary import SHOWN, Tally


def tell(done: Screened, tally: Tally, args, warnings_out: TextIO | None,
          console: Console) -> None:
    """Count a patient, and say on stderr what the user must fix: every rejected record (each is
    theirs to fix), and the warnings one by one only up to `SHOWN` (beyond, a large run's warnings
    would bury everything else; the summary counts them by kind, `--warnings FILE` lists all)."""
    before = tally.warnings
    tally.add(done.decision, done.warnings, done.line, done.problems)
    for problem in done.problems:
        console.say(str(problem), sys.stderr)
    for number, warning in enumerate(done.warnings, start=before + 1):
        if warnings_out:
            print(warning, file=warnings_out)
        if args.quiet:
            continue
        if number <= SHOWN:
            console.say(str(warning), sys.stderr)
        elif number == SHOWN + 1:
            listed = f", and all are in {args.warnings}" if args.warnings else ""
            console.say(f"proto-rules: more than {SHOWN} warnings: the others are counted by kind "
                        f"at the end{listed}", sys.stderr)


class Console:
    """Where a run's lines go: printed, or on a terminal around a progress line on stderr
    (patients done, patients/s, and the time left when the number of records is known: not for
    stdin, read as it comes). No progress line when stderr is a file or a pipe: it would only add
    noise to a log. tqdm clears the line, prints, and draws it again."""

    def __init__(self, bar: tqdm | None) -> None:
        self.bar = bar
        self.on_terminal = {sys.stderr} | ({sys.stdout} if sys.stdout.isatty() else set())

    def say(self, text: str, stream: TextIO) -> None:
        if self.bar is None or stream not in self.on_terminal:
            print(text, file=stream)
        else:
            tqdm.write(text, file=stream)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update()


@contextmanager
def progress(facts: str) -> Iterator[Console]:
    if not sys.stderr.isatty():
        yield Console(None)
        return
    total = None if facts == "-" else _counted(facts)
    with _Bar(total=total, unit=" patients", file=sys.stderr, leave=False,
              dynamic_ncols=True) as bar:
        yield Console(bar)


class _Bar(tqdm):
    """tqdm without its monitor thread: the bar is advanced after every patient, so nothing needs
    watching, and a run with workers starts them by forking, which is safe only in a process with
    one thread (`engine.workers`)."""

    monitor_interval = 0


def _counted(facts: str) -> int | None:
    try:
        with open(facts, "rb") as lines:
            return count_records(lines)
    except OSError:
        return None  # the reading says why, with its line
