"""`run --scheduler`: the same bytes as one process on a Dask cluster, with rejected records and
warnings; a worker killed (Dask decides its batch again); Ctrl-C and `--resume`; a scheduler
that cannot be reached, has no worker, or is lost mid-run: one line, never a wait without end.

Every cluster here is real (worker processes, TCP on loopback). A cluster's start costs seconds,
so the examples share one, started here and reached by its address, as a user reaches theirs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import zstandard
from dask import config as dask_config

from tests.conftest import run_cli
from tests.test_workers import (EXAMPLES, EXE, ROOT, SEED, interrupted, many, needs_exe,
                                outputs_of, running, wait_for_patients, with_bad_records)
from engine.audit.verify import verify

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.usefixtures("at_root")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of one thread each, on loopback, for the module's tests."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as local:
        yield local


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """The example patients 20 times over (460 records), and the trail one process writes."""
    folder = tmp_path_factory.mktemp("registry")
    facts = many(folder, 20)
    trail = folder / "one.jsonl"
    import cli  # noqa: PLC0415 -- the command as a user types it, in-process

    assert cli.main(["run", SEED, str(facts), "--quiet", "--trail", str(trail),
                     "--workers", "1"]) == 0
    return facts, trail.read_bytes()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("protocol,patients", EXAMPLES, ids=[Path(p).stem for p, _ in EXAMPLES])
def test_every_output_is_the_bytes_of_one_process(capsys, tmp_path, cluster, protocol,
                                                  patients):
    facts = with_bad_records(patients, tmp_path)
    form = "json" if "empa" in protocol or "zuma" in protocol else "text"
    one = outputs_of(capsys, tmp_path, protocol, facts, form, "--workers", "1")
    assert one["code"] == 2 and b"2099-01-01" in one["warnings.txt"]
    on_cluster = outputs_of(capsys, tmp_path, protocol, facts, form,
                            "--scheduler", cluster.scheduler_address)
    assert on_cluster == one


def test_a_local_cluster_started_for_the_run(capsys, tmp_path):
    facts = with_bad_records("examples/patients.jsonl", tmp_path)
    one = outputs_of(capsys, tmp_path, SEED, facts, "text", "--workers", "1")
    assert outputs_of(capsys, tmp_path, SEED, facts, "text", "--scheduler", "local",
                      "--workers", "2") == one


def test_a_local_clusters_workers_run_lean(monkeypatch):
    """A local cluster's workers keep glibc's own heap trimming (Dask's 64 KiB threshold costs
    1.6 times the CPU time of deciding) and tick once a second, not every 20 ms (`LEAN`, see
    the README's "Speed"). Dask's nannies write their variables into the run's own environment,
    which every worker inherits: an earlier cluster's are taken out first."""
    from engine.cluster import connected  # noqa: PLC0415 -- as `run --scheduler` imports it

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with connected("local", 1) as cluster:
        trim = cluster.client.run(os.getenv, "MALLOC_TRIM_THRESHOLD_")
        tick = cluster.client.run(dask_config.get, "distributed.admin.tick.interval")
    assert (list(trim.values()), list(tick.values())) == ([None], ["1s"])


def test_a_worker_killed_midway_changes_nothing(capsys, tmp_path, cluster, registry):
    """Dask decides a lost worker's batches again elsewhere (the nanny starts a new worker,
    which gets the run's network from the scheduler): deciding is pure, the bytes are the same."""
    facts, one = registry
    trail = tmp_path / "trail.jsonl"
    victim = next(iter(cluster.workers.values())).process.pid

    def kill_after_some() -> None:
        while not trail.exists() or trail.read_bytes().count(b'"type":"decided"') < 16:
            threading.Event().wait(0.05)
        os.kill(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill_after_some, daemon=True)
    killer.start()
    code, _, err = run_cli(capsys, "run", SEED, str(facts), "--quiet", "--trail", str(trail),
                           "--scheduler", cluster.scheduler_address)
    assert code == 0, err
    assert not running(victim)
    assert trail.read_bytes() == one


@pytest.mark.parametrize("scheduler", ["tls://127.0.0.1:1", "tcp://[::1"])
def test_a_client_that_cannot_connect_lets_the_process_end(tmp_path, scheduler):
    """Half made, Dask's client kept its event loop: the process printed its one line, then
    waited a minute at exit and printed a traceback. The guard is four times what it takes."""
    done = subprocess.run([sys.executable, "cli.py", "run", SEED, "examples/patients.jsonl",
                           "--scheduler", scheduler], cwd=ROOT, capture_output=True, text=True,
                          timeout=40)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.parametrize("scheduler,options,said", [
    ("tcp://127.0.0.1:{port}", [], "cannot reach the Dask scheduler tcp://127.0.0.1:{port}: "
     "Timed out trying to connect to tcp://127.0.0.1:{port} after 1 s"),
    ("udp://127.0.0.1:8786", [], "--scheduler takes `local` or a scheduler's address, "
     "tcp://HOST:PORT (or tls://), not 'udp://127.0.0.1:8786'"),
    ("tcp://127.0.0.1:8786", ["--workers", "2"], "--workers sets the size of --scheduler "
     "local; the scheduler tcp://127.0.0.1:8786 has the workers started for it"),
    ("tls://127.0.0.1:{port}", [], "cannot reach the Dask scheduler tls://127.0.0.1:{port}: "
     "tls:// needs Dask's TLS settings (distributed.comm.tls: ca-file, client.cert, "
     "client.key)"),
    ("tcp://[::1:{port}", [], "cannot reach the Dask scheduler tcp://[::1:{port}: invalid "
     "address '[::1:{port}'; maybe: ipv6 needs brackets like [::1]"),
])
def test_a_scheduler_that_cannot_be_used_is_one_line(capsys, tmp_path, scheduler, options,
                                                     said):
    """Nothing listens there (refused within the connect timeout, shortened here), or the
    address or options are not a cluster's: one line, exit 2, and no output written."""
    port = free_port()
    trail = tmp_path / "trail.jsonl"
    with dask_config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, out, err = run_cli(capsys, "run", SEED, "examples/patients.jsonl", "--trail",
                                 str(trail), "--scheduler", scheduler.format(port=port),
                                 *options)
    assert (code, out, err) == (2, "", f"proto-rules: {said.format(port=port)}\n")
    assert not trail.exists()


def dask(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dask", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@needs_exe
def test_a_scheduler_without_workers_or_lost_midway_is_one_line(capsys, tmp_path, registry):
    """A running scheduler (`dask scheduler`, `dask worker` as the README starts them): first
    with no worker (exit 2, nothing written), then killed mid-run: exit 70 within the connect
    timeout, and the trail, compressed, cut; `--resume` (on local workers) finishes it into the
    lines one process writes."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}
    facts, one = registry
    trail = tmp_path / "trail.jsonl.zst"
    command = [str(EXE), "run", SEED, str(facts), "--quiet", "--trail", str(trail)]
    scheduler = dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
    worker = None
    try:
        alone = subprocess.run(command + ["--scheduler", address], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
        assert (alone.returncode, alone.stderr) == (2, f"proto-rules: the Dask scheduler "
                                                    f"{address} has no workers (start them with "
                                                    f"`dask worker {address}`)\n")
        assert not trail.exists()
        worker = dask("worker", address, "--nthreads", "1", "--no-dashboard")
        run = subprocess.Popen(command + ["--scheduler", address], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while run.poll() is None and (not trail.exists() or not trail.stat().st_size):
            threading.Event().wait(0.05)  # the first frame: about 100 patients of 460
        scheduler.kill()
        _, err = run.communicate(timeout=120)
    finally:
        for process in (scheduler, worker):
            if process is not None:
                process.kill()
                process.wait()
    assert run.returncode == 70, err
    (line,) = [line for line in err.splitlines() if ": warning: " not in line]
    assert line.startswith(f"proto-rules: lost the Dask scheduler {address}")
    assert line.endswith("run again with --resume to finish")
    assert verify(str(trail), facts=str(facts)).cut
    code, _, err = run_cli(capsys, *command[1:], "--resume")
    assert code == 0, err
    with open(trail, "rb") as handle:
        assert zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)\
            .read() == one
    assert verify(str(trail), facts=str(facts)).ok


@needs_exe
def test_ctrl_c_to_the_process_group_of_a_local_cluster(capsys, tmp_path, cluster, registry):
    """A terminal's Ctrl-C reaches the local cluster's workers too: they ignore it, the run
    writes the patients handed out, in order, cuts the trail, exit 130 in one line; `--resume`
    (here on another cluster) finishes the trail as one process writes it."""
    facts, one = registry
    trail = tmp_path / "trail.jsonl"
    process = subprocess.Popen([str(EXE), "run", SEED, str(facts), "--trail", str(trail),
                                "--scheduler", "local", "--workers", "2"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    wait_for_patients(trail, process, 16)
    interrupted(process, trail, facts, 16)
    code, _, err = run_cli(capsys, "run", SEED, str(facts), "--quiet", "--trail", str(trail),
                           "--scheduler", cluster.scheduler_address, "--resume")
    assert code == 0, err
    assert trail.read_bytes() == one
