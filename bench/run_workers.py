"""Benchmark: `run --workers N`, trail on, against the durable_rules anchor of the same run.

Why: the worker pool is worth its processes only if patients/s grows with the cores. One process
run generates N patients (bench/generate.py), then times the whole `proto-rules run` command
in-process (reading and hashing the fact file, deciding, the trail written, the summary) with 1
worker and with each larger count asked for, each the best of `--repeat` runs, between anchor
runs (../shared/bench/durable_anchor.py, the figure machines are compared by). Each rate is printed
with its ratio to the anchor, and each count's speed-up over one worker with its share of linear
(speed-up / workers): the issue asks for at least 0.8.

usage: python bench/run_workers.py [--patients 10000] [--workers 1,2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import tempfile
from datetime import date
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cli  # noqa: E402 - after the path is set
from bench.generate import generate, to_json  # noqa: E402
from bench.run_bench import PROTOCOL, Timing, anchor, best, cpu_model, timed  # noqa: E402
from engine.workers import available  # noqa: E402


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
    timings: dict[int, Timing] = {}
    with tempfile.TemporaryDirectory(prefix="proto-rules-workers-") as tmp:
        facts = Path(tmp) / "patients.jsonl"
        with facts.open("w", encoding="utf-8") as out:
            for data in generate(args.patients, args.seed):
                out.write(to_json(data) + "\n")
        trails = {n: Path(tmp) / f"trail-{n}.jsonl" for n in counts}
        for _ in range(args.repeat):
            for n in counts:
                sample = timed(lambda n=n: run(facts, trails[n], n, args.patients))
                timings[n] = best([sample, timings[n]]) if n in timings else sample
            anchors.append(anchor(args.anchor_patients))
        same = len({trails[n].read_bytes() for n in counts}) == 1
        trail_bytes = trails[1].stat().st_size
    load.append(os.getloadavg()[0])
    measured = [a for a in anchors if a is not None]
    rate = max(measured) if measured else None

    print(f"patients: {args.patients} generated (seed {args.seed}), protocol "
          f"{PROTOCOL.relative_to(ROOT)}, trail on ({trail_bytes / args.patients / 1024:.1f} "
          f"KiB/patient), cores available {available()}, load {load[0]:.2f} -> {load[1]:.2f}")
    print("anchor: " + (f"{rate:,.0f} patients/s (runs: {', '.join(f'{a:,.0f}' for a in measured)})"
                        if rate else "n/a"))
    print(f"trails byte-identical across worker counts: {'yes' if same else 'NO'}")
    print()
    print(f"Measured {date.today().isoformat()} on {cpu_model()}, Python "
          f"{platform.python_version()}, durable_rules {version('durable_rules')}, "
          f"best of {args.repeat}:")
    print()
    print("| workers | patients/s | x anchor | speed-up | of linear |")
    print("|---:|---:|---:|---:|---:|")
    for n in counts:
        speedup = timings[n].rate / timings[1].rate
        ratio = f"{timings[n].rate / rate:.2f}" if rate else "n/a"
        print(f"| {n} | {timings[n].rate:,.0f} | {ratio} | {speedup:.2f} | {speedup / n:.2f} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
