"""Deciding patients on a Dask cluster: `run --scheduler local | tcp://HOST:PORT`.

The same pipeline as `run --workers N` (`engine.workers.decided`: batches handed out in input
order, a bounded number in flight, the results written in order into one trail by this process),
with Dask handing the batches out instead of our pipes. So a patient is decided on a worker by the
same `Outputs.screened` as in one process, and the trail, table, warnings and stdout are the same
bytes.

What crosses the wire: once per worker, the compiled network and the run's options (an
`Outputs`, about 100 KiB pickled) in a worker plugin, which the scheduler also gives to workers
that join or are restarted later; per batch, the fact records out (a JSON Lines record as its
line; pickled once, by the run: see `_Pool.send`) and their `Screened` back (per patient its
stdout line, table rows, warnings and trail lines, serialised there). Each worker process builds
the durable_rules host once, on its first batch, and decides one batch at a time whatever its
number of threads: the engine's C state belongs to the process.

A worker that dies (killed, out of memory) costs Dask a retry of its batches elsewhere: deciding
is a pure function of the record, so the outputs do not change. A batch whose workers die on
every try, a scheduler lost, or a cluster left without workers, ends the run in one line (exit
70; the trail is cut, `--resume` finishes it), never a wait without end.
"""

from __future__ import annotations

import logging
import pickle
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager, suppress
from typing import Any

import dask
from dask.utils import parse_timedelta
from distributed import Client, Future, LocalCluster, WorkerPlugin, get_worker
from distributed.scheduler import KilledWorker

from engine.run import Screening
from engine.screened import Outputs, Screened
from engine.workers import AHEAD, available, sigint_blocked
from protocol.errors import UsageError, WorkerLost

#: Records in a batch: a task costs about 4 ms of CPU beside its records (measured on a loaded
#: machine: 2.5 ms in the run's process, which hosts a local cluster's scheduler, 2 ms in the
#: worker), so a batch is larger than a local worker's: 0.07 ms a patient, against about 3 ms of
#: deciding. Larger saves little (256: 0.05 ms) and keeps a Ctrl-C waiting four times as long;
#: at 64 (about 0.2 s of deciding) it is answered within a few batches.
BATCH = 64

#: Seconds between two looks at the cluster while a batch's results are awaited.
POLL = 2.0

#: Dask's settings for a run, in this process and a local cluster's. Each cuts CPU time that is
#: Dask's, not deciding's (measured, see the README's "Speed"): no log of the last thousand
#: messages of each connection (each holds a batch: hundreds of MiB, growing with the run until
#: full); no sampling profiler in the workers (a thread that takes the GIL every 10 ms); glibc's
#: own trimming of the heap in the workers (Dask's `MALLOC_TRIM_THRESHOLD_` of 64 KiB gives the
#: engine's freed memory back to the system and takes it again on every patient: 1.6 times the
#: CPU time of deciding, a third of it in the kernel; the memory stays flat without it); and the
#: periodic work a run does not use, 0.1 s of CPU a second on an idle cluster (0.014 after): the
#: event loops' tick (every 20 ms in the scheduler, each nanny and each worker), the system
#: monitor (every 0.5 s), work stealing (one thread per worker and two batches each: nothing to
#: steal) and the memory monitor (every 0.1 s; a worker is still stopped near its limit). A
#: running scheduler and its workers have their own settings: see the README.
LEAN = {"distributed.admin.low-level-log-length": 0, "distributed.worker.profile.enabled": False,
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "10s",
        "distributed.scheduler.work-stealing": False,
        "distributed.worker.memory.monitor-interval": "1s"}

#: One batch at a time in a worker process, whatever its threads: the engine's state is the
#: process's.
_DECIDING = threading.Lock()


@contextmanager
def connected(scheduler: str, workers: int | None) -> Iterator[Cluster]:
    """The cluster `scheduler` names: `local` starts a `LocalCluster` of `workers` processes
    (every core by default) with one thread each, on loopback (its HTTP server on any free port:
    several runs may start one), and stops it after; an address is a running
    scheduler, reached within Dask's connect timeout (`distributed.comm.timeouts.connect`, e.g.
    `DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s`), that must have a worker within it too.
    A scheduler that cannot be reached is one line (exit 2), before any output is written."""
    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    with _quiet(), dask.config.set(LEAN):
        if scheduler == "local":
            with sigint_blocked():  # the workers start with Ctrl-C held back: see _Network
                local = LocalCluster(n_workers=workers or available(), threads_per_worker=1,
                                     processes=True, host="127.0.0.1", dashboard_address=None,
                                     scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                     silence_logs=logging.CRITICAL)
            # results straight from the workers, not through the scheduler: a batch's trail
            # records are hundreds of KiB
            with local, Client(local, set_as_default=False, direct_to_workers=True) as client:
                yield Cluster(client, "a local Dask cluster", timeout, local=True)
            return
        if not re.fullmatch(r"(tcp|tls)://[^\s/]+:\d+", scheduler):
            raise UsageError(f"--scheduler takes `local` or a scheduler's address, "
                             f"tcp://HOST:PORT (or tls://), not {scheduler!r}")
        if workers is not None:
            raise UsageError(f"--workers sets the size of --scheduler local; the scheduler "
                             f"{scheduler} has the workers started for it")
        try:
            client = _Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise UsageError(f"cannot reach the Dask scheduler {scheduler}: "
                             f"{_first_line(error)}") from None
        except TypeError:  # distributed's word for a TLS address without TLS settings
            raise UsageError(f"cannot reach the Dask scheduler {scheduler}: tls:// needs Dask's "
                             "TLS settings (distributed.comm.tls: ca-file, client.cert, "
                             "client.key)") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except TimeoutError:
                raise UsageError(f"the Dask scheduler {scheduler} has no workers (start them "
                                 f"with `dask worker {scheduler}`)") from None
            yield Cluster(client, f"the Dask scheduler {scheduler}", timeout, local=False)


class _Client(Client):
    """A client that closes itself when it cannot connect: left half made (an address Dask
    cannot parse, `tls://` without TLS settings), its event loop held the process for a minute
    after the run's one-line error, then printed a traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            with suppress(Exception):
                self.close(timeout=1)
            raise


@contextmanager
def _quiet() -> Iterator[None]:
    """Dask's own log lines (a worker restarted, a connection closed) kept off the run's stderr:
    what the user must know is said once, by the run."""
    names = ["distributed", *(name for name in logging.root.manager.loggerDict
                              if name.startswith("distributed."))]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class Cluster:
    """A connected cluster, as `engine.workers.decided` uses it: `pool(outputs)`."""

    def __init__(self, client: Client, named: str, timeout: float, local: bool) -> None:
        self.client, self.named, self.timeout, self.local = client, named, timeout, local

    @contextmanager
    def pool(self, outputs: Outputs) -> Iterator[_Pool]:
        """The run's network on every worker (a plugin, under a name of its own: several runs
        may share a cluster), taken off the workers of a running scheduler after the run."""
        name = f"proto-rules-{outputs.network.digest[:12]}-{uuid.uuid4().hex[:8]}"
        self.client.register_plugin(_Network(outputs, self.local), name=name)
        try:
            yield _Pool(self, name)
        finally:
            if not self.local:
                with suppress(Exception):  # a scheduler lost is said by the run already
                    self.client.unregister_worker_plugin(name)

    def check(self, since: float) -> None:
        """Raise `WorkerLost` when the scheduler is gone, or the cluster has had no worker for
        longer than the connect timeout since `since` (the last batch came back then)."""
        if self.client.status in ("closed", "closing", "failed"):
            raise WorkerLost(f"lost {self.named} (the connection closed)")
        if not self.client.scheduler_info().get("workers") and \
                time.monotonic() - since > self.timeout:
            raise WorkerLost(f"{self.named} has had no worker for {self.timeout:g} s")


class _Pool:
    """Batches submitted to the cluster; `engine.workers._in_order` hands them out and reads
    their results back in order."""

    batch = BATCH

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster, self.name = cluster, name
        self.ahead = AHEAD * max(1, sum(cluster.client.nthreads().values()))
        self.last = time.monotonic()

    def send(self, batch: list[tuple[int, object]]) -> _Batch:
        """The batch goes out pickled by us, as one `bytes`: Dask walks a task's arguments down
        to every value looking for futures (6 ms a batch of 64 records), and its scheduler
        unpickles and pickles them again on the way to a worker; bytes it passes through."""
        records = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        return _Batch(self, self.cluster.client.submit(_decide, self.name, records, pure=False))


class _Batch:
    """A batch handed out. Its end is awaited on an event set by the future's callback, not with
    `Future.result(timeout)`, whose timeouts race with the result under load (seen: a
    cancellation that surfaced as an error inside Dask)."""

    def __init__(self, pool: _Pool, future: Future) -> None:
        self.pool, self.future, self.back = pool, future, threading.Event()
        future.add_done_callback(lambda _: self.back.set())

    def results(self) -> list[Screened]:
        """The batch's results, once they are back; an error raised deciding it is raised here."""
        pool = self.pool
        try:
            while not self.back.wait(POLL):
                pool.cluster.check(pool.last)
            pool.last = time.monotonic()
            return self.future.result()
        except KilledWorker:
            raise WorkerLost(f"the workers of {pool.cluster.named} died deciding the same batch "
                             "of patients on every try (killed, or out of memory: see their "
                             "logs)") from None
        except CancelledError:
            raise WorkerLost(f"lost {pool.cluster.named} (its batches were cancelled)") from None
        finally:
            self.future.release()


class _Network(WorkerPlugin):
    """The run's network and options on a worker; the host is built on the first batch.

    On a local cluster the workers are this run's processes in its process group, so a terminal's
    Ctrl-C reaches them too: they ignore it (it is the run's to take, between two batches), as
    `run --workers` does. Workers of a running scheduler are the user's, and keep theirs."""

    def __init__(self, outputs: Outputs, local: bool) -> None:
        self.outputs, self.local = outputs, local
        self.screening: Screening | None = None

    def setup(self, worker: Any) -> None:
        if self.local and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def decided(self, batch: list[tuple[int, object]]) -> list[Screened]:
        with _DECIDING:
            if self.screening is None:
                self.screening = Screening(self.outputs.network)
            return list(self.outputs.screened(batch, self.screening))


def _decide(name: str, records: bytes) -> list[Screened]:
    """A task: one batch (pickled, see `_Pool.send`) decided by the worker's copy of the run's
    network."""
    return get_worker().plugins[name].decided(pickle.loads(records))
