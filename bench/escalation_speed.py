"""How long a 10,000-trial simulation takes, per design, and where the time goes.

Why: `simulate` asks the rule network once per distinct state the design can reach (the decision
chart), then moves all trials through the chart with numpy. For 3+3 the chart is small; BOIN's
has about 20,000 trial states over 5 levels and 30 patients. The chart asks the network once per
distinct value of the fields the rules read (`EscalationNetwork.reads`), not once per trial state:
this measures what that costs against 3+3, in-process (no interpreter start, no plot), each step
the best of `--repeat` runs (the machine may be shared).

usage: python bench/escalation_speed.py [--trials 10000] [--repeat 3] [PROTOCOL ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.escalation.network import Escalator, compile_escalation  # noqa: E402
from engine.escalation.simulate import chart, simulate  # noqa: E402
from grammar.parser import parse_file  # noqa: E402

DEFAULT = ["examples/cd19-ucart-sle.proto-rules", "examples/boin.proto-rules",
           "examples/boin-options.proto-rules"]


def measure(path: str, trials: int, repeat: int) -> dict[str, float | int]:
    """Best-of-`repeat` seconds to compile, to build the chart, and for `simulate` (which builds
    its own chart again, then moves the trials through it: a few milliseconds)."""
    best: dict[str, float] = {}
    found = None
    for _ in range(repeat):
        started = time.perf_counter()
        escalator = Escalator(compile_escalation(parse_file(path)))
        compiled = time.perf_counter()
        found = chart(escalator)
        charted = time.perf_counter()
        levels = len(escalator.network.levels)
        simulate(escalator, [0.05 + 0.1 * i for i in range(levels)], trials, seed=1)
        done = time.perf_counter()
        for key, value in (("compile", compiled - started), ("chart", charted - compiled),
                           ("simulate", done - charted)):
            best[key] = min(best.get(key, value), value)
    assert found is not None
    return {**best, "states": len(found.level), "asked": found.asked}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocols", nargs="*", default=DEFAULT)
    parser.add_argument("--trials", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'protocol':<40}{'states':>8}{'asked':>7}{'compile s':>11}{'chart s':>9}"
          f"{'simulate s':>12}")
    for path in args.protocols:
        row = measure(path, args.trials, args.repeat)
        print(f"{Path(path).name:<40}{row['states']:>8}{row['asked']:>7}{row['compile']:>11.2f}"
              f"{row['chart']:>9.2f}{row['simulate']:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
