"""Deciding patients on every core: `run --workers N`.

The rule engine is a C library holding its state per process, and a patient takes milliseconds
in it, so one process uses one core. Here N worker processes each build the network's host once
(`Screening`: the durable_rules state cannot be sent, it is built where it runs) and decide
batches of records; the parent keeps what must stay in one place: it reads and hashes the fact
file (one stream, one duplicate check), hands out batches in order, and takes the results back in
the same order, so the trail's chain, the table and the stdout lines are the bytes one process
writes. What crosses between processes is small: the parsed records out, and per patient the
`Screened` the outputs need (the trail lines are serialised in the worker).

Ctrl-C belongs to the parent (`cli._between_patients`): the workers ignore SIGINT, because a
session deleted with actions queued crashes the engine's process, so a worker must never be
interrupted mid-patient. The parent stops handing out batches, writes what was handed out, in
order, and the trail is cut as in a one-process run. A worker that dies (killed, out of memory)
is reported as such (`WorkerLost`), never waited for.

>>> available() >= 1
True
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from itertools import chain, islice

from engine.run import Screening
from engine.screened import Outputs, Screened

#: Records sent to a worker at a time: large enough that sending costs little beside deciding
#: (a patient takes about 2 ms), small enough that two workers share even a small file.
BATCH = 16

#: Batches handed out per worker and not yet written: enough to keep every worker busy while the
#: parent writes, few enough that a Ctrl-C is answered within a few batches.
AHEAD = 2

#: A run left to its default number of workers decides a file of fewer records than this in one
#: process: starting the workers (each loads the engine) costs more than deciding them.
SMALL = 200


class WorkerLost(Exception):
    """A worker process died before it sent its patients back: killed, or out of memory."""


def available() -> int:
    """How many cores this process may use (its CPU affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def decided(outputs: Outputs, records: Iterable[tuple[int, object]], workers: int,
            stop: threading.Event, small: int = 0) -> Iterator[Screened]:
    """Every record decided and made ready for the outputs, in input order, in this process
    (`workers` 1) or in `workers` processes. Once `stop` is set no more records are handed out;
    those handed out are still yielded. With `small`, a stream that ends within its first `small`
    records is decided here."""
    records = iter(records)
    if workers > 1 and small:
        first = list(islice(records, small))
        if len(first) < small:
            workers = 1
        records = chain(first, records)
    if workers <= 1:
        yield from outputs.screened(_until(records, stop))
        return
    with _pool(outputs, workers) as pool:
        pending: deque[Future[list[Screened]]] = deque()
        for batch in _batches(records):
            if stop.is_set():
                break
            pending.append(pool.submit(_decide, batch))
            if len(pending) >= AHEAD * workers:
                yield from _results(pending.popleft())
        while pending:
            yield from _results(pending.popleft())


def _until(records: Iterable[tuple[int, object]], stop: threading.Event
           ) -> Iterator[tuple[int, object]]:
    for record in records:
        if stop.is_set():
            return
        yield record


def _batches(records: Iterator[tuple[int, object]]) -> Iterator[list[tuple[int, object]]]:
    while batch := list(islice(records, BATCH)):
        yield batch


def _results(future: Future[list[Screened]]) -> list[Screened]:
    try:
        return future.result()
    except BrokenProcessPool:
        raise WorkerLost("a worker process stopped before it sent its patients back "
                         "(killed, or out of memory)") from None


@contextmanager
def _pool(outputs: Outputs, workers: int) -> Iterator[ProcessPoolExecutor]:
    """Started workers, each with its own host. SIGINT is blocked while they are forked, so that
    none takes a Ctrl-C before it has set it aside; on the way out the pool is shut down after the
    batches that are running (a worker is never stopped mid-patient)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start,
                               initargs=(outputs,))
    try:
        for stream in (sys.stdout, sys.stderr):  # a forked worker flushes its copy as it ends
            stream.flush()
        with _sigint_blocked():
            pool.submit(int).result()  # with fork, every worker is started by the first task
        yield pool
    except BrokenProcessPool:
        raise WorkerLost("a worker process stopped as it started") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


#: In a worker process: what the run asks for, and the host built for it.
_worker: tuple[Outputs, Screening] | None = None


def _start(outputs: Outputs) -> None:
    """A worker's start: Ctrl-C is the parent's to take, then the host is built, once."""
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _worker = outputs, Screening(outputs.network)


def _decide(batch: list[tuple[int, object]]) -> list[Screened]:
    assert _worker is not None, "a worker decides only after _start"
    outputs, screening = _worker
    return list(outputs.screened(batch, screening))
