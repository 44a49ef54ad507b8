"""Benchmark: how much of deciding a patient is the C engine's own work, in anchors.

Why: the issue's floor per core (trail on, 0.8x the anchor) can only be met if the engine itself
costs less than 1/0.8 = 1.25 anchors per patient on the seed network; whatever we do in Python
comes on top. So this times every call into durable_rules' C library (assert, the agenda loop,
delete) apart from the rest (normalising, reading the verdicts, building the trail records) on
generated patients, next to the anchor (`../shared/bench/durable_anchor.py`) run between rounds,
and prints the engine's time per patient in anchors and its share of the whole. The wrapper
around the library's functions costs a few microseconds a patient, counted to the engine.

usage: python bench/engine_share.py [--patients 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import generate, to_json  # noqa: E402
from bench.run_bench import PROTOCOL, anchor  # noqa: E402
from engine import host, pipeline  # noqa: E402
from engine.factfile import read_records  # noqa: E402
from engine.run import Screening  # noqa: E402
from engine.audit.recorder import Recorder  # noqa: E402


class Timed:
    """The C library as the host calls it, each call's time added to `seconds`."""

    def __init__(self, library: Any) -> None:
        self.library, self.seconds = library, 0.0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.library, name)
        if not callable(found):
            return found

        def timed(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return found(*args)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    engine = Timed(host._engine)
    host._engine = engine  # before the host is built: it keeps no other reference to the library
    screening = Screening(pipeline.compile(pipeline.load(str(PROTOCOL))[0]))
    recorder = Recorder(screening.network)
    text = "\n".join(to_json(data) for data in generate(args.patients, 1)).encode()
    records = list(read_records("generated", text))

    def decide(line: int, data: Any) -> None:
        recorder.lines(screening.decide(screening.normaliser.patient(data, "generated", line,
                                                                     None)))

    print(f"{args.patients} generated patients, protocol {PROTOCOL.relative_to(ROOT)}, trail "
          "lines built (not chained or written)")
    for _ in range(args.rounds):
        rate = anchor(args.patients)
        engine.seconds = 0.0
        start = time.perf_counter()
        for line, data in records:
            decide(line, data)
        whole = (time.perf_counter() - start) / len(records)
        inside = engine.seconds / len(records)
        said = f"{inside * rate:.2f} anchors, {1 / (whole * rate):.2f}x the anchor in all" \
            if rate else "no anchor"
        print(f"engine {inside * 1e3:.3f} ms a patient of {whole * 1e3:.3f} ms "
              f"({inside / whole:.0%}); anchor {rate or 0:,.0f}/s: {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
