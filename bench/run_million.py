"""Benchmark: a registry's run, 1,000,000 generated patients, trail on, with 2 local worker
processes (`run --workers 2`) and with a local Dask cluster of 2 workers (`run --scheduler local
--workers 2`); and one process (`--workers 1`), for the per-worker scaling.

Why: the issue asks that the whole command, as a data team types it, screens a million patients
on one machine, and that a second worker gives at least 0.8 of linear. Each run is the command in
a process of its own (`proto-rules run ... --trail T.jsonl.zst --quiet`), so that its peak memory
is its own: the resident memory of the run and of each of its worker processes is sampled every
half second from /proc (the largest worker is shown). The anchor (../shared/bench/durable_anchor.py,
the figure machines are compared by) runs before, between and after; each rate is given with its
ratio to the best anchor. The trails of the 2-worker and the Dask runs must be byte-identical
(their SHA-256 compared; each trail is deleted once hashed: a million patients' is 1.5 GB).

On a shared machine the wall clock says more about the neighbours than about the workers, so the
CPU time is measured too, as in bench/run_workers.py: the speed-up the CPU time allows is the one
process's CPU time over the larger of the run's own CPU time and the whole run's over 2 cores.

The patients (bench/generate.py, about 4 KiB each: 4 GB for a million) are generated on every
core, streamed to `--workdir`, and kept there for the next run with the same N and seed. One
process runs on the first `--one` of them (default 100,000; its rate does not depend on N).

usage: python bench/run_million.py [--patients 1000000] [--one 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import patient, to_json  # noqa: E402 - after the path is set
from bench.run_bench import PROTOCOL, anchor, cpu_model  # noqa: E402

EXE = Path(sys.executable).with_name("proto-rules")
CHUNK = 500  # patients generated per task
#: The runs, by name: the options of `proto-rules run`, and the workers they use.
RUNS = {"1 process": (["--workers", "1"], 1), "2 workers": (["--workers", "2"], 2),
        "Dask local, 2 workers": (["--scheduler", "local", "--workers", "2"], 2)}


def _chunk(job: tuple[int, int, int]) -> str:
    start, stop, seed = job
    return "".join(to_json(patient(index, seed)) + "\n" for index in range(start, stop))


def generated(path: Path, patients: int, seed: int) -> Path:
    """The patients file, made on every core unless it is there already (written aside first,
    so a file cut short is never taken for a whole one)."""
    if path.exists():
        return path
    part = path.with_suffix(".part")
    jobs = ((start, min(start + CHUNK, patients), seed) for start in range(0, patients, CHUNK))
    with multiprocessing.get_context("fork").Pool() as pool, part.open("w") as out:
        for text in pool.imap(_chunk, jobs, chunksize=4):
            out.write(text)
    part.rename(path)
    return path


def prefix(source: Path, path: Path, patients: int) -> Path:
    if not path.exists():
        with source.open("rb") as lines, path.open("wb") as out:
            out.writelines(islice(lines, patients))
    return path


@dataclass(frozen=True)
class Run:
    name: str
    patients: int
    seconds: float
    cpu: float  # the run and its workers
    own_cpu: float  # the run's process alone
    rss: int  # peak, KiB, the run's process
    worker_rss: int  # peak, KiB, its largest worker process (0: none)
    sha256: str
    trail_bytes: int

    @property
    def rate(self) -> float:
        return self.patients / self.seconds


class Sampler(threading.Thread):
    """Peak resident memory of a process and of each of its descendants, and its own CPU time,
    read from /proc every half second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peaks, self.own_cpu, self.done = pid, {}, 0.0, threading.Event()

    def run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self.done.wait(0.5):
            for pid in self.tree(self.pid):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    if b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        continue
                    if pid == self.pid:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                        self.own_cpu = (int(fields[11]) + int(fields[12])) / tick
                except OSError:
                    continue
                rss = next((int(line.split()[1]) for line in status.splitlines()
                            if line.startswith("VmRSS:")), 0)
                self.peaks[pid] = max(self.peaks.get(pid, 0), rss)

    def tree(self, pid: int) -> list[int]:
        found = [pid]
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                for child in (task / "children").read_text().split():
                    found.extend(self.tree(int(child)))
        except OSError:
            pass
        return found


def measured(name: str, facts: Path, patients: int, work: Path) -> Run:
    options, _ = RUNS[name]
    trail = work / "trail.jsonl.zst"
    trail.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen([str(EXE), "run", str(PROTOCOL), str(facts), "--trail", str(trail),
                                "--quiet", *options], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    sampler = Sampler(process.pid)
    sampler.start()
    _, said = process.communicate()
    seconds = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"{name} failed ({process.returncode}): {said[-600:]}")
    digest = hashlib.sha256()
    with trail.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    size = trail.stat().st_size
    trail.unlink()
    workers = [rss for pid, rss in sampler.peaks.items() if pid != process.pid]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Run(name, patients, seconds, cpu, sampler.own_cpu, sampler.peaks.get(process.pid, 0),
               max(workers, default=0), digest.hexdigest(), size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--one", type=int, default=100_000,
                        help="patients the one-process run decides (the first of the file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--anchor-patients", type=int, default=3000)
    parser.add_argument("--workdir", type=Path, help="where the patients are kept (default: a "
                        "temporary folder, removed after)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="proto-rules-million-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        load = [os.getloadavg()[0]]
        anchors = [anchor(args.anchor_patients)]
        facts = generated(work / f"patients-{args.patients}-{args.seed}.jsonl", args.patients,
                          args.seed)
        one_n = min(args.one, args.patients)
        runs = {}
        for name in RUNS:
            ran = facts if name != "1 process" or one_n == args.patients else prefix(
                facts, work / f"patients-{args.patients}-{args.seed}-first-{one_n}.jsonl", one_n)
            runs[name] = run = measured(name, ran, args.patients if ran == facts else one_n, work)
            anchors.append(anchor(args.anchor_patients))
            # Said as soon as measured: a bench stopped later keeps the runs it finished.
            print(f"{name}: {run.patients:,} patients in {run.seconds:,.0f} s, CPU "
                  f"{run.own_cpu * 1000 / run.patients:.2f} ms/patient in the run's process, "
                  f"{run.cpu * 1000 / run.patients:.2f} in all; anchor {anchors[-1] or 0:,.0f}/s; "
                  f"peak RSS {run.rss / 1024:,.0f} MiB, worker {run.worker_rss / 1024:,.0f} MiB",
                  file=sys.stderr, flush=True)
        load.append(os.getloadavg()[0])
    report(args, runs, [a for a in anchors if a is not None], load)
    two, dask = runs["2 workers"], runs["Dask local, 2 workers"]
    return 0 if two.sha256 == dask.sha256 else 1


def report(args, runs: dict[str, Run], anchors: list[float], load: list[float]) -> None:
    rate = max(anchors) if anchors else None
    two, dask, one = runs["2 workers"], runs["Dask local, 2 workers"], runs["1 process"]
    print(f"patients: {args.patients:,} generated (seed {args.seed}), protocol "
          f"{PROTOCOL.relative_to(ROOT)}, trail on (.jsonl.zst, "
          f"{two.trail_bytes / args.patients / 1024:.2f} KiB/patient), one process on the first "
          f"{one.patients:,}; cores {os.cpu_count()}, load {load[0]:.2f} -> {load[1]:.2f}")
    print("anchor: " + (f"{rate:,.0f} patients/s (runs: {', '.join(f'{a:,.0f}' for a in anchors)})"
                        if rate else "n/a"))
    print(f"trails of 2 workers and Dask byte-identical: "
          f"{'yes' if two.sha256 == dask.sha256 else 'NO'} (sha256 {two.sha256[:16]}...)")
    print()
    print(f"Measured {date.today().isoformat()} on {cpu_model()}, Python "
          f"{platform.python_version()}, durable_rules {version('durable_rules')}, "
          f"dask {version('distributed')}:")
    print()
    print("| run | patients | wall | patients/s | x anchor | of linear (wall) | CPU ms/patient: "
          "run, all | of linear (CPU time) | peak RSS: run, largest worker |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, run in runs.items():
        _, workers = RUNS[name]
        ratio = f"{run.rate / rate:.2f}" if rate else "n/a"
        wall = run.rate / one.rate / workers
        allowed = (one.cpu / one.patients) / max(run.own_cpu / run.patients,
                                                 run.cpu / run.patients / workers) / workers
        worker = f"{run.worker_rss / 1024:,.0f} MiB" if run.worker_rss else "-"
        print(f"| {name} | {run.patients:,} | {run.seconds:,.0f} s | {run.rate:,.0f} | {ratio} | "
              f"{wall:.2f} | {run.own_cpu * 1000 / run.patients:.2f}, "
              f"{run.cpu * 1000 / run.patients:.2f} | {allowed:.2f} | "
              f"{run.rss / 1024:,.0f} MiB, {worker} |")


if __name__ == "__main__":
    sys.exit(main())
