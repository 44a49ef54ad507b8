"""Benchmark: `run --workers N`, trail on, against the durable_rules anchor of the same run.

Why: the worker pool is worth its processes only if patients/s grows with the cores. One process
run generates N patients (bench/generate.py), then times the whole `proto-rules run` command
in-process (reading and hashing the fact file, deciding, the trail written, the summary) with 1
worker and with each larger count asked for, each the best of `--repeat` runs, between anchor
runs (../shared/bench/durable_anchor.py, the figure machines are compared by). Each rate is printed
with its ratio to the anchor, and each count's speed-up over one worker with its share of linear
(speed-up / workers): the issue asks for at least 0.8.

On a shared machine the wall clock says more about the neighbours than about the pool (two workers
on two cores that other processes also use are no faster than one). So the CPU time is measured
too, the run's own process apart from its workers: the speed-up the CPU time allows is what N
workers would give on N cores of their own (one process's CPU time over the larger of the run's
own CPU time and the whole run's shared over N cores), and it moves little with the load.

usage: python bench/run_workers.py [--patients 10000] [--workers 1,2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import resource
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cli  # noqa: E402 - after the path is set
from bench.generate import generate, to_json  # noqa: E402
from bench.run_bench import PROTOCOL, Timing, anchor, cpu_model, timed  # noqa: E402
from engine.workers import available  # noqa: E402


@dataclass(frozen=True)
class Measured:
    """One run: its wall-clock timing, and the CPU seconds of this process and of its workers."""

    timing: Timing
    parent: float
    workers: float


def cpu() -> tuple[float, float]:
    """CPU seconds so far of this process, and of its children that have ended (the workers)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def measured(facts: Path, trail: Path, workers: int, patients: int) -> Measured:
    (own, children) = cpu()
    timing = timed(lambda: run(facts, trail, workers, patients))
    (own_after, children_after) = cpu()
    return Measured(timing, own_after - own, children_after - children)


def run(facts: Path, trail: Path, workers: int, patients: int) -> int:
    """The command as a user types it, its output kept out of the figures' way."""
    argv = ["run", str(PROTOCOL), str(facts), "--trail", str(trail), "--quiet",
            "--workers", str(workers)]
    with contextlib.redirect_stderr(io.StringIO()) as said:
        code = cli.main(argv)
    if code != 0:
        raise SystemExit(f"run --workers {workers} failed ({code}): {said.getvalue()[-400:]}")
    return patients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each count (best kept)")
    parser.add_argument("--anchor-patients", type=int, default=3000)
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.workers.split(",")} | {1})

    load = [os.getloadavg()[0]]
    anchors = [anchor(args.anchor_patients)]
    runs: dict[int, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="proto-rules-workers-") as tmp:
        facts = Path(tmp) / "patients.jsonl"
        with facts.open("w", encoding="utf-8") as out:
            for data in generate(args.patients, args.seed):
                out.write(to_json(data) + "\n")
        trails = {n: Path(tmp) / f"trail-{n}.jsonl" for n in counts}
        for _ in range(args.repeat):
            for n in counts:
                sample = measured(facts, trails[n], n, args.patients)
                if n not in runs or sample.timing.seconds < runs[n].timing.seconds:
                    runs[n] = sample
            anchors.append(anchor(args.anchor_patients))
        same = len({trails[n].read_bytes() for n in counts}) == 1
        trail_bytes = trails[1].stat().st_size
    load.append(os.getloadavg()[0])
    anchored = [a for a in anchors if a is not None]
    rate = max(anchored) if anchored else None

    print(f"patients: {args.patients} generated (seed {args.seed}), protocol "
          f"{PROTOCOL.relative_to(ROOT)}, trail on ({trail_bytes / args.patients / 1024:.1f} "
          f"KiB/patient), cores available {available()}, load {load[0]:.2f} -> {load[1]:.2f}")
    print("anchor: " + (f"{rate:,.0f} patients/s (runs: {', '.join(f'{a:,.0f}' for a in anchored)})"
                        if rate else "n/a"))
    print(f"trails byte-identical across worker counts: {'yes' if same else 'NO'}")
    print()
    print(f"Measured {date.today().isoformat()} on {cpu_model()}, Python "
          f"{platform.python_version()}, durable_rules {version('durable_rules')}, "
          f"best of {args.repeat}:")
    print()
    print("| workers | patients/s | x anchor | speed-up | of linear | CPU ms/patient: run, "
          "workers | speed-up the CPU time allows | of linear |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    one = runs[1]
    for n in counts:
        timing = runs[n].timing
        speedup = timing.rate / one.timing.rate
        ratio = f"{timing.rate / rate:.2f}" if rate else "n/a"
        per = 1000 / args.patients
        allowed = (one.parent + one.workers) / max(runs[n].parent,
                                                   (runs[n].parent + runs[n].workers) / n)
        print(f"| {n} | {timing.rate:,.0f} | {ratio} | {speedup:.2f} | {speedup / n:.2f} | "
              f"{runs[n].parent * per:.2f}, {runs[n].workers * per:.2f} | {allowed:.2f} | "
              f"{allowed / n:.2f} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
