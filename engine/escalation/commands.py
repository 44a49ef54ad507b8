"""The commands that simulate escalation designs: `simulate` (one design, one or more true-toxicity
scenarios) and `compare-designs` (the same scenarios through several designs).

Part of the command line (`cli.py` adds these commands to its parser and nothing else imports
this module): thin like it, each command strings together loading, `engine.escalation.simulate` or
`engine.escalation.compare`, and the output, and turns bad input into one line and exit 2. As in
`cli.py`, a command imports what it runs (numpy, the escalation network) when it runs: the parser
is built for every command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from engine.console import plotted, png
from protocol.errors import UsageError

if TYPE_CHECKING:
    from engine.escalation import compare
    from engine.escalation.network import EscalationNetwork, Escalator

    Loader = Callable[[str], EscalationNetwork]

#: At most this many trials in one run: the trials move through the chart together, a few
#: machine words per trial and level at once (a million take about 100 MB over 5 levels).
MAX_TRIALS = 1_000_000
#: numpy's generator takes any non-negative whole number; past 64 bits a seed adds nothing.
MAX_SEED = 2**64 - 1


def add_commands(commands, bounded: Callable, network: Loader) -> None:
    """`simulate` and `compare-designs` on the command line's subparsers; `bounded` reads a
    whole number in a range, `network` loads a protocol's escalation (both from cli.py)."""
    simulate_cmd = commands.add_parser("simulate", help="operating characteristics by simulation")
    simulate_cmd.add_argument("protocol")
    _scenario_options(simulate_cmd, bounded, "out/simulation.png")
    simulate_cmd.add_argument("--accrual", type=_read("accrual"),
                              help="TITE-BOIN: patients per day, week or month (30 days): 2/month")
    simulate_cmd.add_argument("--late-onset", type=_read("late_onset"),
                              help="TITE-BOIN: share of DLTs in the window's second half (0.5)")
    simulate_cmd.set_defaults(command=partial(_simulate, network=network))

    compare_cmd = commands.add_parser(
        "compare-designs", help="the same true-toxicity scenarios through several designs")
    compare_cmd.add_argument("protocols", nargs="+", metavar="protocol",
                             help="protocols whose escalation designs to compare")
    _scenario_options(compare_cmd, bounded, "out/comparison.png")
    compare_cmd.set_defaults(command=partial(_compare, network=network))


def _scenario_options(command: argparse.ArgumentParser, bounded: Callable, plot_path: str) -> None:
    command.add_argument("--true-tox", dest="scenarios", action="append", type=_rates,
                         help="true DLT rate of each dose level, lowest first: 0.05,0.15,0.35")
    command.add_argument("--scenario", dest="scenarios", action="append", type=_named,
                         help="a scenario, [NAME=]RATES (may be given again): "
                              "--scenario low=0.05,0.1,0.2")
    command.add_argument("--scenarios", dest="scenarios_file",
                         help="a file of scenarios, one [NAME=]RATES a line")
    command.add_argument("--target", type=_target,
                         help="target DLT rate for the true MTD (default: the design's)")
    command.add_argument("--trials", type=bounded(1, MAX_TRIALS), default=10000,
                         help=f"how many trials to simulate, 1 to {MAX_TRIALS:,}")
    command.add_argument("--seed", type=bounded(0, MAX_SEED), default=1,
                         help="the random generator's seed, a whole number from 0")
    command.add_argument("--plot", default=plot_path, type=png,
                         help=f"PNG to write (default {plot_path}); 'none' for no plot")


def _simulate(args, network: Loader) -> int:
    from engine.escalation import compare, tite_simulate
    from engine.escalation.network import Escalator
    from engine.escalation.simulate import plot, report, simulate

    escalator = Escalator(network(args.protocol))
    scenarios = _scenarios(args)
    levels = len(escalator.network.levels)
    tite = _tite(escalator, args, len(scenarios))
    if len(scenarios) == 1:
        (only,) = scenarios
        if len(only.rates) != levels:
            raise UsageError(f"{only.where} gives {len(only.rates)} rates for {levels} dose levels")
        characteristics = tite_simulate.simulate(
            escalator, list(only.rates), args.trials, args.seed, args.accrual,
            args.late_onset or Decimal("0.5"), args.target) if tite else simulate(
            escalator, list(only.rates), args.trials, args.seed, args.target)
        sys.stdout.write(report(escalator, characteristics))
        if args.plot != "none":
            plotted(args.plot, lambda path: plot(escalator, characteristics, path))
        return 0
    design = compare.Design(_name(escalator), escalator)
    return _compared([design], scenarios, args)


def _tite(escalator: Escalator, args, scenarios: int) -> bool:
    """Whether the design is TITE-BOIN, simulated in time: it needs `--accrual`, one scenario at
    a time; the others take neither option."""
    tite = escalator.network.band_by == "counted"
    if tite and args.accrual is None:
        raise UsageError(f"{args.protocol}: TITE-BOIN is simulated in time: give the accrual "
                         "rate, --accrual 2/month")
    if not tite and (args.accrual is not None or args.late_onset is not None):
        raise UsageError(f"{args.protocol}: --accrual and --late-onset are for TITE-BOIN "
                         "designs (design boin ... tite)")
    if tite and scenarios > 1:
        raise UsageError(f"{args.protocol}: TITE-BOIN is simulated in time one scenario at a "
                         "time: give one --true-tox")
    return tite


def _read(reader: str):
    """An argparse type from a reader of `engine.escalation.tite_simulate` whose ValueError says
    what is wrong; the module is imported when its option is given."""
    def read(text: str):
        from engine.escalation import tite_simulate

        try:
            return getattr(tite_simulate, reader)(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return read


def _compare(args, network: Loader) -> int:
    from engine.escalation import compare
    from engine.escalation.network import Escalator

    escalators = [Escalator(network(path)) for path in args.protocols]
    names = [_name(e) for e in escalators]
    labels = [name if names.count(name) == 1 else f"{name} ({Path(path).stem})"
              for name, path in zip(names, args.protocols)]
    designs = [compare.Design(label, e) for label, e in zip(labels, escalators)]
    lines = ["designs:"]
    for path, design in zip(args.protocols, designs):
        net = design.escalator.network
        lines.append(f"  {design.label}: {net.design.text or net.design.name} ({path}; "
                     f"{len(net.levels)} levels, cohorts of {net.escalation.cohort_size}, at most "
                     f"{net.escalation.maximum} patients)")
    return _compared(designs, _scenarios(args), args, "\n".join(lines) + "\n")


def _compared(designs: list[compare.Design], scenarios: list[compare.Scenario], args,
              header: str = "") -> int:
    """Run and show the comparison; nothing is printed before every input has been accepted."""
    from engine.escalation import compare

    target = compare.target_of(designs, args.target)
    runs = compare.run(designs, scenarios, target, args.trials, args.seed)
    sys.stdout.write(header + compare.table(runs, args.trials, args.seed))
    if args.plot != "none":
        plotted(args.plot, lambda path: compare.plot(runs, args.trials, args.seed, path))
    return 0


def _name(escalator: Escalator) -> str:
    """A design's short name for the table: its rules' name, BOIN with its target."""
    network = escalator.network
    if network.design.name == "boin" and network.boundaries is not None:
        return f"boin {network.boundaries.target}"
    return network.design.name


def _scenarios(args) -> list[compare.Scenario]:
    """The scenarios in the order given (`--true-tox` and `--scenario` as written, numbered
    S1, S2, ... when unnamed), then the file's."""
    from engine.escalation import compare

    given = [compare.Scenario(s.name or f"S{i}", s.rates, s.where)
             for i, s in enumerate(args.scenarios or [], start=1)]
    if args.scenarios_file:
        given += compare.read_scenarios(args.scenarios_file, len(given) + 1)
    if not given:
        raise UsageError("give the true DLT rates: --true-tox RATES, --scenario [NAME=]RATES "
                         "(again for more), or --scenarios FILE")
    return given


def _rates(text: str) -> compare.Scenario:
    """`--true-tox`: rates only (an argparse type, so a bad list is argparse's exit 2)."""
    from engine.escalation import compare

    try:
        return compare.scenario(text, "", "--true-tox")
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"not a list of rates like 0.05,0.15,0.35: {text!r}") from None


def _named(text: str) -> compare.Scenario:
    from engine.escalation import compare

    try:
        return compare.scenario(text, "", "--scenario")
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"not a scenario like low=0.05,0.15,0.35 (rates from 0 to 1): {text!r}") from None


def _target(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"a target DLT rate between 0 and 1, not {text!r}")
    return value
