"""What a command shows and writes around its work: output files opened with their folders (one
line naming a file that cannot be written, exit 2), a run's progress line on a terminal, its
warnings shown up to a point and counted after, Ctrl-C taken between two patients, and drawings
written. The commands (`cli.py`) call these; nothing here decides anything."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from engine.factfile import count_records
from engine.screened import Screened
from engine.summary import SHOWN, Tally
from protocol.errors import UsageError


def tell(done: Screened, tally: Tally, args, warnings_out: TextIO | None,
          console: Console) -> None:
    """Count a patient, and say on stderr what the user must fix: every rejected record (each is
    theirs to fix), and the warnings one by one only up to `SHOWN` (beyond, a large run's warnings
    would bury everything else; the summary counts them by kind, `--warnings FILE` lists all)."""
    before = tally.warnings
    tally.add(done.decision, done.warnings, done.line)
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


@contextmanager
def optional(path: str | None, what: str) -> Iterator[TextIO | None]:
    """An output the command line may ask for (`writing`), or None."""
    if path is None:
        yield None
        return
    with writing(path, what) as out:
        yield out


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


@contextmanager
def between_patients() -> Iterator[threading.Event]:
    """Ctrl-C during a run is taken between two patients: raised inside the engine's C code, it
    would leave a session with queued actions, and deleting one crashes the process. The event is
    set by the signal; the loop stops after the patient in hand."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # only the main thread can take signals: nothing to defer
        return
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def writing(path: str, what: str,
            create: Callable[[str], TextIO] = lambda p: open(p, "w", encoding="utf-8")
            ) -> Iterator[TextIO]:
    """An output file, its directories created (`create` opens it: a trail may be compressed,
    or taken back to be written on, `engine.audit.trailfile.reopened`): one that cannot be opened or
    closed (a directory, no permission, a full disk) is a one-line error naming it (exit 2);
    what was written before stays. Errors while writing are the writer's to name
    (`engine.audit.trail.Chain`)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        out = create(path)
    except OSError as error:
        raise UsageError(f"cannot write {what} {path}: {error.strerror or error}") from None
    try:
        yield out
    except BaseException:
        with suppress(OSError):
            out.close()
        raise
    try:
        out.close()
    except OSError as error:
        raise UsageError(f"cannot write {what} {path}: {error.strerror or error}") from None


def png(text: str) -> str:
    """An argparse type: the file a `--plot` writes, named `.png` (or `none`). The plots are
    PNG: `--plot x.svg` wrote PNG bytes under a name that promised SVG (`graph` writes what its
    name's suffix asks)."""
    if text != "none" and Path(text).suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"a plot is written as PNG: name it .png, not {text!r}")
    return text


def plotted(path: str, draw: Callable[[str], None], what: str = "plot") -> None:
    """A drawing written at `path`, its directories created; one that cannot be written is one
    line naming it (exit 2)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        draw(path)
    except OSError as error:
        raise UsageError(f"cannot write {what} {path}: {error.strerror or error}") from None
    print(f"{what}: {path}")
