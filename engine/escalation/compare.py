"""Several true-toxicity scenarios, several designs: their operating characteristics side by side.

`simulate` with more than one scenario, and `compare-designs` (the same scenarios through several
designs), both end here: each (scenario, design) pair is simulated by `engine.escalation.simulate`
with the same seed, so a pair's numbers do not depend on which others are run beside it, and the
pairs are laid out as one table and one plot. The measures that need the MTD (correct selection,
overdosing) are taken against the true MTD of each scenario for one target DLT rate
(`simulate.Risk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from engine.escalation.network import Escalator
from engine.escalation.simulate import Characteristics, simulate, true_mtd
from protocol.errors import UsageError


@dataclass(frozen=True)
class Scenario:
    """True DLT rates, one per dose level, lowest first, under a name for the table."""

    name: str
    rates: tuple[float, ...]
    where: str  # where it was written, for a message: `--scenario 2`, `FILE:3`


def scenario(text: str, name: str, where: str) -> Scenario:
    """`[NAME=]RATE,RATE,...`, as `--scenario` and each line of a scenarios file take it.

    >>> scenario("safe=0.05, 0.1", "S1", "--scenario 1")
    Scenario(name='safe', rates=(0.05, 0.1), where='--scenario 1')
    """
    named, _, rates = text.rpartition("=")
    try:
        values = tuple(Decimal(part.strip()) for part in rates.split(","))
    except InvalidOperation:
        values = ()
    if not values or not all(value.is_finite() and 0 <= value <= 1 for value in values):
        raise UsageError(f"{where}: not a list of DLT rates from 0 to 1 like 0.05,0.15,0.35: "
                         f"{rates.strip()!r}")
    return Scenario(named.strip() or name, tuple(float(value) for value in values), where)


def read_scenarios(path: str, first: int = 1) -> list[Scenario]:
    """A scenarios file: one scenario a line, `[NAME=]RATE,RATE,...`; blank lines and lines
    starting with `#` are skipped; an unnamed one is S<first>, S<first + 1>, ... A line that does
    not read is named `FILE:LINE` (exit 2)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UsageError(f"cannot read scenarios {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read scenarios {path}: not UTF-8 text") from None
    found = []
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            found.append(scenario(line, f"S{first + len(found)}", f"{path}:{number}"))
    if not found:
        raise UsageError(f"{path}: no scenario in the file")
    return found


@dataclass(frozen=True)
class Design:
    """A design to compare, under its label (its name, or its file's when two share a name)."""

    label: str
    escalator: Escalator


@dataclass(frozen=True)
class Run:
    """One scenario through one design."""

    scenario: Scenario
    design: Design
    oc: Characteristics


def target_of(designs: list[Design], given: Decimal | None) -> Decimal:
    """The target DLT rate the MTD is measured against: `--target`, or the one the designs that
    have one agree on (3+3 has none)."""
    if given is not None:
        return given
    targets = sorted({d.escalator.network.boundaries.target for d in designs
                      if d.escalator.network.boundaries is not None})
    if len(targets) == 1:
        return targets[0]
    if not targets:
        raise UsageError("no design here has a target DLT rate (3+3 has none): give --target, "
                         "to find each scenario's true MTD")
    raise UsageError(f"the designs' target DLT rates differ ({', '.join(map(str, targets))}): "
                     "give --target, to find each scenario's true MTD")


def run(designs: list[Design], scenarios: list[Scenario], target: Decimal, trials: int,
        seed: int) -> list[Run]:
    """Every scenario through every design, each with the same seed; rates that do not match a
    design's levels are a usage error naming the scenario."""
    for design in designs:
        levels = len(design.escalator.network.levels)
        for each in scenarios:
            if len(each.rates) != levels:
                raise UsageError(f"{each.where}: scenario {each.name} gives {len(each.rates)} "
                                 f"rates for the {levels} dose levels of {design.label}")
    return [Run(each, design, simulate(design.escalator, list(each.rates), trials, seed, target))
            for each in scenarios for design in designs]


def table(runs: list[Run], trials: int, seed: int) -> str:
    """The scenarios with their true MTDs, then one row per scenario and design (fixed decimals:
    the same seed, the same bytes)."""
    first = runs[0].oc.risk
    assert first is not None
    target = first.target
    scenarios = list(dict.fromkeys(r.scenario for r in runs))
    lines = [f"{trials} simulated trials per scenario and design, seed {seed}; the true MTD is "
             f"the level whose true DLT rate is closest to the target {target}", "",
             f"{'scenario':<10}{'true DLT rate per level, lowest first':<40}true MTD"]
    for each in scenarios:
        rates = " ".join(f"{rate:.2f}" for rate in each.rates)
        lines.append(f"{each.name:<10}{rates:<40}level {true_mtd(each.rates, target) + 1}")
    width = max(len(r.design.label) for r in runs) + 2
    lines += ["", f"{'scenario':<10}{'design':<{width}}{'correct':>8}{'above':>7}{'treated':>9}"
              f"{'no MTD':>8}{'patients':>9}{'DLTs':>6}   selected per level (%)",
              f"{'':<10}{'':<{width}}{'MTD %':>8}{'MTD %':>7}{'above %':>9}{'%':>8}"]
    for r in runs:
        risk = r.oc.risk
        assert risk is not None
        chosen = " ".join(f"{100 * share:.1f}" for share in r.oc.selected)
        lines.append(
            f"{r.scenario.name:<10}{r.design.label:<{width}}{100 * risk.correct:>8.1f}"
            f"{100 * risk.above:>7.1f}{100 * risk.treated_above:>9.1f}"
            f"{100 * _no_mtd(r.oc):>8.1f}{r.oc.sample:>9.2f}{float(sum(r.oc.dlts)):>6.2f}"
            f"   {chosen}"
        )
    lines += ["", "correct MTD %: the true MTD selected; above MTD %: a level above it selected;",
              "treated above %: the share of all patients treated above it; no MTD %: no level",
              "selected (stopped for toxicity, or the MTD not reached or not determined)"]
    return "\n".join(lines) + "\n"


def _no_mtd(oc: Characteristics) -> float:
    return 1.0 - float(sum(oc.selected))


#: The panels of the comparison plot: a measure, its title.
PANELS = (
    (lambda r: 100 * r.oc.risk.correct, "correct selection of the MTD (%)"),
    (lambda r: 100 * r.oc.risk.above, "selected above the MTD (%)"),
    (lambda r: 100 * r.oc.risk.treated_above, "patients treated above the MTD (%)"),
    (lambda r: r.oc.sample, "mean sample size"),
)
COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def plot(runs: list[Run], trials: int, seed: int, path: str) -> None:
    """The table's main measures as grouped bars, a group per scenario, a bar per design (Agg
    backend, no timestamp: the same runs, the same bytes; matplotlib imported only here)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    scenarios = list(dict.fromkeys(r.scenario for r in runs))
    designs = list(dict.fromkeys(r.design.label for r in runs))
    width = 0.8 / len(designs)
    x = np.arange(len(scenarios))
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 4.2),
                                constrained_layout=True)
    for axis, (measure, title) in zip(axes, PANELS):
        for k, label in enumerate(designs):
            values = [measure(r) for s in scenarios for r in runs
                      if r.scenario == s and r.design.label == label]
            bars = axis.bar(x + (k - (len(designs) - 1) / 2) * width, values, width,
                            label=label, color=COLOURS[k % len(COLOURS)])
            axis.bar_label(bars, fmt="%.0f", fontsize=6)
        axis.set_xticks(x, [s.name for s in scenarios], fontsize=8)
        axis.set_title(title, fontsize=10)
        if "%" in title:
            axis.set_ylim(0, 105)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(designs), fontsize=8)
    figure.suptitle(f"{len(scenarios)} true-toxicity scenarios, {trials} simulated trials each "
                    f"(seed {seed})")
    figure.savefig(path, dpi=100, format="png", metadata={"Software": None})
    plt.close(figure)
