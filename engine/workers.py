"""Deciding patients on every core: `run --workers N`.

The rule engine is a C library holding its state per process, and a patient takes milliseconds
in it, so one process uses one core. Here N worker processes each build the network's host once
(`Screening`: the durable_rules state cannot be sent, it is built where it runs) and decide
batches of records; the parent keeps what must stay in one place: it reads and hashes the fact
file (one stream, one duplicate check), hands out batches in order, and takes the results back in
the same order, so the trail's chain, the table and the stdout lines are the bytes one process
writes. What crosses between processes is small: the records out (a JSON Lines record as its
line, read by the worker: `engine.factfile.Unparsed`), and per patient the `Screened` the
outputs need (the trail lines are serialised in the worker).

Each worker has a pipe of its own each way, and batches go round: batch i to worker i mod N, so
the results are read back in order from one worker after the other. The loop that hands batches
out and reads them back (`_in_order`) is the same for a Dask cluster (`run --scheduler`,
`engine/cluster.py`): only the pool differs. Not `concurrent.futures`:
its workers share one result pipe, and a worker killed halfway through sending its results (a
batch's trail is hundreds of KiB) leaves the reader waiting for the rest forever, and workers
whose parent was killed wait for work forever. Here a worker's death is the end of its pipe
(`WorkerLost`, said in one line), and a parent's death the end of its workers' (they finish the
batch in hand and leave).

Ctrl-C belongs to the parent (`cli._between_patients`): the workers ignore SIGINT, because a
session deleted with actions queued crashes the engine's process, so a worker must never be
interrupted mid-patient. The parent stops handing out batches, writes what was handed out, in
order, and the trail is cut as in a one-process run.

>>> available() >= 1
True
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from itertools import chain, islice
from multiprocessing.connection import Connection
from typing import Any, ContextManager

from engine.factfile import MAX_DEPTH
from engine.run import Screening
from engine.screened import Outputs, Screened
from protocol.errors import WorkerLost

#: Records sent to a worker at a time: large enough that sending costs little beside deciding
#: (a patient takes about 2 ms), small enough that two workers share even a small file.
BATCH = 16

#: Batches handed out per worker and not yet written: enough to keep every worker busy while the
#: parent writes, few enough that a Ctrl-C is answered within a few batches.
AHEAD = 2

#: A run left to its default number of workers decides a file of fewer records than this in one
#: process: starting the workers (each loads the engine) costs more than deciding them.
SMALL = 200


def available() -> int:
    """How many cores this process may use (its CPU affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def decided(outputs: Outputs, records: Iterable[tuple[int, object]], workers: int,
            stop: threading.Event, small: int = 0, cluster: Any = None) -> Iterator[Screened]:
    """Every record decided and made ready for the outputs, in input order, in this process
    (`workers` 1), in `workers` processes, or on a Dask `cluster` (`engine.cluster.Cluster`, from
    `on_cluster`). Once `stop` is set no more records are handed out; those handed out are still
    yielded. With `small`, a stream that ends within its first `small` records is decided here."""
    records = iter(records)
    if cluster is not None:
        with cluster.pool(outputs) as pool:
            yield from _in_order(pool, records, stop)
        return
    if workers > 1 and small:
        first = list(islice(records, small))
        if len(first) < small:
            workers = 1
        records = chain(first, records)
    if workers <= 1:
        yield from outputs.screened(_until(records, stop))
        return
    with _started(outputs, workers) as pool:
        yield from _in_order(_RoundRobin(pool), records, stop)


def on_cluster(scheduler: str | None, workers: int) -> ContextManager[Any]:
    """The Dask cluster `run --scheduler` names (`engine.cluster.connected`), or None. Dask is
    imported only then: it takes half a second to import, every other command would pay it."""
    if scheduler is None:
        return nullcontext()
    from engine.cluster import connected  # noqa: PLC0415 -- see above
    return connected(scheduler, workers)


def _in_order(pool: Any, records: Iterator[tuple[int, object]], stop: threading.Event
              ) -> Iterator[Screened]:
    """The one loop of every pool: batches handed out in input order, at most `pool.ahead` of
    them not yet written (memory flat whatever the input's size), their results taken back in
    the same order. `pool.send(batch)` hands one out and returns what `.results()` it later."""
    pending: deque[Any] = deque()
    for batch in _batches(records, pool.batch):
        if stop.is_set():
            break
        pending.append(pool.send(batch))
        if len(pending) >= pool.ahead:
            yield from pending.popleft().results()
    while pending:
        yield from pending.popleft().results()


class _RoundRobin:
    """Local workers as a pool: batch i to worker i mod N, read back from each in turn."""

    batch = BATCH

    def __init__(self, workers: list[_Worker]) -> None:
        self.workers, self.ahead, self.turn = workers, AHEAD * len(workers), 0

    def send(self, batch: list[tuple[int, object]]) -> _Worker:
        worker = self.workers[self.turn]
        worker.send(batch)
        self.turn = (self.turn + 1) % len(self.workers)
        return worker


def _until(records: Iterable[tuple[int, object]], stop: threading.Event
           ) -> Iterator[tuple[int, object]]:
    for record in records:
        if stop.is_set():
            return
        yield record


def handed(record: Any) -> Any:
    """A record read by this process, as it is handed to another that decides it (`run
    --workers`, a Dask worker): every list or object deeper than `MAX_DEPTH` levels kept empty,
    as handing it on (pickle) recurses once a level and runs out of stack where a record is
    nested some hundreds deep. The checks refuse such a record at that level, naming it, without
    looking inside (`factfile.schema_problems`): it is refused as the whole record would be.

    >>> import json
    >>> from engine.factfile import schema_problems
    >>> deep = {"patient": "p", "facts": [{"concept": "x", "v": json.loads("[" * 40 + "]" * 40)}]}
    >>> schema_problems(handed(deep), "f", 1, "p") == schema_problems(deep, "f", 1, "p") != []
    True
    """
    return _pruned(record, 0) if type(record) is dict else record


def _pruned(value: Any, depth: int) -> Any:
    """`value` (at `depth`, the record at 0) with every list or object deeper than `MAX_DEPTH`
    emptied; the very object where nothing is (nearly every record: walked, not copied)."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return value
    if depth > MAX_DEPTH:
        return kind()
    copy = None
    for key, item in value.items() if kind is dict else enumerate(value):
        if type(item) is not dict and type(item) is not list:
            continue  # a value, as nearly every one is: no call
        kept = _pruned(item, depth + 1)
        if kept is not item:
            if copy is None:
                copy = kind(value)
            copy[key] = kept
    return value if copy is None else copy


def _batches(records: Iterator[tuple[int, object]], size: int
             ) -> Iterator[list[tuple[int, object]]]:
    """The records in batches of `size`, each as it is handed to a worker (`factfile.handed`)."""
    while batch := [(number, handed(record)) for number, record in islice(records, size)]:
        yield batch


class _Worker:
    """A worker process as its parent sees it: the pipe that takes its batches, the one that
    brings its results back (it is their only writer: its death is their end)."""

    def __init__(self, process: Any, tasks: Connection, results: Connection) -> None:
        self.process, self.tasks, self.results_in = process, tasks, results

    def send(self, batch: list[tuple[int, object]]) -> None:
        try:
            self.tasks.send(batch)
        except OSError:
            raise self._lost() from None

    def results(self) -> list[Screened]:
        """The next batch's results; an error raised deciding it is raised here."""
        try:
            done = self.results_in.recv()
        except (EOFError, OSError):
            raise self._lost() from None
        if isinstance(done, Exception):
            raise done
        return done

    def _lost(self) -> WorkerLost:
        self.process.join(timeout=5)
        code = self.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else \
            f"exit status {code}" if code is not None else "its pipe closed"
        return WorkerLost(f"a worker process stopped before it sent its patients back ({how})")

    def close(self) -> None:
        """No more batches, and no results wanted: the worker ends after the batch in hand."""
        for end in (self.tasks, self.results_in):
            end.close()


@contextmanager
def _started(outputs: Outputs, workers: int) -> Iterator[list[_Worker]]:
    """Started workers, each with its own host. SIGINT is blocked while they are forked, so that
    none takes a Ctrl-C before it has set it aside. On the way out every pipe is closed and every
    worker waited for: each ends after the batch in hand (never mid-patient)."""
    context = _context()
    for stream in (sys.stdout, sys.stderr):  # a forked worker flushes its copy as it ends
        stream.flush()
    pool: list[_Worker] = []
    try:
        with sigint_blocked(), _frozen():
            for _ in range(workers):
                task_reader, task_writer = context.Pipe(duplex=False)
                result_reader, result_writer = context.Pipe(duplex=False)
                # the parent's ends, of this worker's pipes and the earlier workers', are closed
                # in this one: its pipes end when the parent's ends are closed
                inherited = [task_writer, result_reader,
                             *(end for w in pool for end in (w.tasks, w.results_in))]
                process = context.Process(target=_serve, daemon=True,
                                          args=(outputs, task_reader, result_writer, inherited))
                process.start()
                task_reader.close()  # the worker's ends: the parent keeps none of them
                result_writer.close()
                pool.append(_Worker(process, task_writer, result_reader))
        yield pool
    finally:
        for worker in pool:
            worker.close()
        for worker in pool:
            worker.process.join()


@contextmanager
def _frozen() -> Iterator[None]:
    """The parent's objects kept out of the garbage collector's reach while workers are forked
    (`gc.freeze`). A forked worker shares its parent's memory until it writes to it; a collection
    in the worker writes to the header of every object it looks at, so each page of the inherited
    heap would be copied, once per worker: measured, about 33,000 page faults a worker, some 5% of
    the CPU time of a worker deciding 4,000 patients. Frozen objects are never collected, so the
    parent unfreezes them once its workers are started."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _context() -> Any:
    """How workers are started: forked, the quickest (the network and its host are the parent's,
    built once), where that is safe: on a system that forks, from a process with no other thread.
    A thread may hold a lock at the moment of the fork (a Dask client's event loop in the same
    process, say), and the worker would wait on it for ever: then each worker starts from a fresh
    interpreter (a fork of a server started once, or spawn where there is none) and builds its
    own host."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and _threads() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # imported once, by the server workers fork from
    return context


def _threads() -> int:
    """How many threads this process runs, as the system counts them where it says (Linux's
    /proc): a library's own threads, such as a BLAS thread pool, hold locks too, and `threading`
    does not see them."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """SIGINT held back while worker processes are started: a process inherits the mask, so
    none takes a Ctrl-C before it has set it aside (a pending one is dropped when ignored)."""
    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _serve(outputs: Outputs, tasks: Connection, results: Connection,
           inherited: list[Connection]) -> None:
    """A worker: Ctrl-C is the parent's to take; the host is built once; then each batch that
    comes is decided and sent back, until the parent closes the pipe (or is gone). Batches are
    taken off the pipe as they come, by a thread, so that the parent never waits to hand one out
    while this worker waits to send its results."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    for end in inherited:
        end.close()
    screening = Screening(outputs.network)
    inbox: queue.SimpleQueue[list[tuple[int, object]] | None] = queue.SimpleQueue()

    def take() -> None:
        try:
            while True:
                inbox.put(tasks.recv())
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=take, daemon=True).start()
    try:
        while (batch := inbox.get()) is not None:
            try:
                done: list[Screened] | Exception = list(outputs.screened(batch, screening))
            except Exception as error:  # noqa: BLE001 -- the parent raises it, as one process would
                done = error
            try:
                results.send(done)
            except (TypeError, ValueError, AttributeError, pickle.PicklingError):
                results.send(RuntimeError(f"{type(done).__name__}: {done}"))  # not picklable
    except OSError:  # the parent is gone, or wants no more: leave between two batches
        pass
