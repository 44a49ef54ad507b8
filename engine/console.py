"""What a command shows and writes around its work: output files opened with their folders (one
line naming a file that cannot be written, exit 2), Ctrl-C taken between two patients, and
drawings written (a run's progress line and its warnings are `engine/progress.py`). The commands
(`cli.py`) call these; nothing here decides anything."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

from protocol.errors import UsageError


@contextmanager
def optional(path: str | None, what: str) -> Iterator[TextIO | None]:
    """An output the command line may ask for (`writing`), or None."""
    if path is None:
        yield None
        return
    with writing(path, what) as out:
        yield out


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
