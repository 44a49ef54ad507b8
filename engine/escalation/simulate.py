"""Operating characteristics of an escalation design, by simulated trials run on the rule network.

The decision is a function of the state fact alone, so the network need not be asked once per
simulated cohort. `chart` walks every trial the design can produce from the start level, with all
patients evaluable: each state (current level, patients and DLTs per level) is turned into its state
fact, the network is asked once per distinct value of the fields its rules test
(`EscalationNetwork.reads`: BOIN reads neither `total` nor the lower level's counts, so most
trial states share an answer) and its answer read by the same
`escalation.step` as `proto-rules escalate` uses. That gives a finite chart: per state, the
level the next cohort goes to and the state each number of DLTs leads to, or the stop and its
MTD. The Monte Carlo then moves all trials through the chart at once with numpy: one binomial draw
per trial and cohort, from one seeded generator, so the same seed gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from decimal import Decimal

import numpy as np

from engine.escalation.cohort import state_of

if TYPE_CHECKING:
    from engine.escalation.tite_simulate import Timing
from engine.escalation.network import Answer, Escalator, step
from protocol.errors import EngineError

#: Levels of the elimination-table probe per session (the engine bounds a session's work).
CHUNK = 128


@dataclass(frozen=True)
class Chart:
    """Every reachable state, as arrays indexed by state number (state 0 is the start)."""

    level: np.ndarray  # where the next cohort goes (-1 when the trial has stopped)
    size: np.ndarray  # its size
    successor: np.ndarray  # [state, DLTs in the cohort] -> next state (-1: impossible)
    stopped: np.ndarray  # the trial has stopped here
    mtd: np.ndarray  # the level declared MTD (-1: none)
    outcome: np.ndarray  # for a stop: index into OUTCOMES
    patients: np.ndarray  # [state, level]
    dlts: np.ndarray  # [state, level]
    asked: int  # distinct state facts the network decided


OUTCOMES = ("this", "lower", "select", "not_reached", "none", "undetermined")


def chart(escalator: Escalator) -> Chart:
    """Walk every trial the design can produce (all patients evaluable, reviews signed)."""
    network = escalator.network
    escalation = network.escalation
    assert escalation.cohort_size and escalation.maximum and escalation.start
    cohort, maximum = escalation.cohort_size, escalation.maximum
    n_levels = len(network.levels)
    start = [lv.id for lv in network.levels].index(escalation.start.name)
    eliminating = _elimination_table(escalator, maximum) if network.boundaries else set()
    reads = network.reads  # the decision depends on these fields of the state fact only
    memo: dict[tuple, Answer] = {}
    index: dict[tuple, int] = {}
    order: list[tuple[int, tuple[tuple[int, int], ...]]] = []
    rows: list[tuple[int, int, list[int], bool, int, int]] = []

    def visit(current: int, counts: tuple[tuple[int, int], ...]) -> int:
        key = (current, counts)
        if key not in index:
            index[key] = len(order)
            order.append(key)
        return index[key]

    visit(start, ((0, 0),) * n_levels)
    position = 0
    while position < len(order):
        current, counts = order[position]
        position += 1
        state = state_of([(n, n, y, 0) for n, y in counts], current, escalation)
        fact = tuple(state[name] for name in reads)
        if fact not in memo:
            memo[fact] = escalator.ask(state)
        eliminated = frozenset(i for i, pair in enumerate(counts) if pair in eliminating)
        answer = replace(memo[fact], eliminated=eliminated)
        taken = step(network, answer, current, list(counts))
        if taken.move == "STOP":
            outcome = OUTCOMES.index(taken.mtd_kind or "undetermined")
            mtd = -1 if taken.mtd is None else taken.mtd
            rows.append((-1, 0, [], True, mtd, outcome))
            continue
        assert taken.next_level is not None
        size = min(cohort, maximum - sum(n for n, _ in counts))
        if size <= 0:
            rule = answer.action.source
            raise EngineError(
                f"rule {rule.id if rule else answer.action.rule} of "
                f"{network.design.name} treats more patients than the maximum "
                f"sample size ({maximum}): the design must stop there"
            )
        level = taken.next_level
        successors = []
        for k in range(size + 1):
            n, y = counts[level]
            following = counts[:level] + ((n + size, y + k),) + counts[level + 1 :]
            successors.append(visit(level, following))
        rows.append((level, size, successors, False, -1, -1))
    successor = np.full((len(rows), cohort + 1), -1, dtype=np.int64)
    for number, row in enumerate(rows):
        successor[number, : len(row[2])] = row[2]
    return Chart(
        level=np.array([r[0] for r in rows], dtype=np.int64),
        size=np.array([r[1] for r in rows], dtype=np.int64),
        successor=successor,
        stopped=np.array([r[3] for r in rows], dtype=bool),
        mtd=np.array([r[4] for r in rows], dtype=np.int64),
        outcome=np.array([r[5] for r in rows], dtype=np.int64),
        patients=np.array([[n for n, _ in key[1]] for key in order], dtype=np.int64),
        dlts=np.array([[y for _, y in key[1]] for key in order], dtype=np.int64),
        asked=len(memo),
    )


def _elimination_table(escalator: Escalator, maximum: int) -> set[tuple[int, int]]:
    """The (patients, DLTs) pairs the network's elimination rules flag, asked in a few sessions."""
    escalation = escalator.network.escalation
    probe = state_of([(0, 0, 0, 0)], 0, escalation)
    pairs = [(n, y) for n in range(1, maximum + 1) for y in range(n + 1)]
    flagged: set[tuple[int, int]] = set()
    for first in range(0, len(pairs), CHUNK):
        chunk = pairs[first : first + CHUNK]
        flagged |= {chunk[i] for i in escalator.ask(probe, chunk).eliminated}
    return flagged


@dataclass(frozen=True)
class Characteristics:
    """What the simulated trials did, per level and overall."""

    trials: int
    seed: int
    true_tox: tuple[float, ...]
    selected: np.ndarray  # P(level selected as MTD)
    patients: np.ndarray  # mean patients treated per level
    dlts: np.ndarray  # mean DLTs per level
    reached: np.ndarray  # P(the level treated anyone)
    outcomes: dict[str, float]  # P(each kind of stop)
    early: float  # P(stopped before the maximum sample size)
    sample: float  # mean sample size
    states: int
    asked: int
    timing: Timing | None = None  # TITE-BOIN's simulation in time (tite_simulate.py)
    risk: Risk | None = None  # when a target DLT rate is known


@dataclass(frozen=True)
class Risk:
    """The selection and the risk of overdosing, measured against the true MTD.

    The true MTD is the level whose true DLT rate is closest to the target (of two as close, the
    lower). BOIN's `get.oc` reports overdosing only when one level's true rate equals the target,
    and then counts the patients at levels whose true rate is above the target: the levels
    above that one, which is also the level closest to the target, so the two agree there.
    """

    target: Decimal
    mtd: int  # index of the true MTD
    correct: float  # P(the true MTD selected)
    above: float  # P(a level above the true MTD selected)
    treated_above: float  # share of all patients treated above the true MTD
    overdose60: float  # P(more than 60% of the maximum sample size treated above it), get.oc's
    overdose80: float  # the same, 80%


def true_mtd(true_tox: list[float] | tuple[float, ...], target: Decimal) -> int:
    """The level whose true DLT rate is closest to the target, the lower of two as close
    (rates compared as the decimals they were written as, so 0.25 and 0.35 tie at 0.3).

    >>> true_mtd([0.05, 0.25, 0.35], Decimal("0.3"))
    1
    """
    distance = [abs(Decimal(str(rate)) - target) for rate in true_tox]
    return distance.index(min(distance))


def simulate(
    escalator: Escalator, true_tox: list[float], trials: int, seed: int,
    target: Decimal | None = None,
) -> Characteristics:
    """Run `trials` simulated trials of the design, seeded, all at once through its chart.
    With a target DLT rate (the design's, unless given), also the risk of overdosing.

    >>> from grammar.parser import parse_file
    >>> from engine.escalation.network import compile_escalation
    >>> esc = Escalator(compile_escalation(parse_file("examples/cd19-ucart-sle.proto-rules")))
    >>> oc = simulate(esc, [0.0, 0.0, 0.0], 10, 1)
    >>> oc.outcomes["not_reached"], oc.patients.tolist()
    (1.0, [3.0, 3.0, 3.0])
    """
    if len(true_tox) != len(escalator.network.levels):
        raise ValueError(
            f"{len(true_tox)} true toxicity rates for {len(escalator.network.levels)} dose levels"
        )
    found = chart(escalator)
    tox = np.array(true_tox, dtype=float)
    rng = np.random.default_rng(seed)
    at = np.zeros(trials, dtype=np.int64)
    running = np.nonzero(~found.stopped[at])[0]
    while running.size:
        here = at[running]
        cohort_dlts = rng.binomial(found.size[here], tox[found.level[here]])
        at[running] = found.successor[here, cohort_dlts]
        running = running[~found.stopped[at[running]]]
    return characteristics(
        escalator, true_tox, seed, found.patients[at], found.dlts[at], found.mtd[at],
        found.outcome[at], target, states=len(found.level), asked=found.asked)


def characteristics(escalator: Escalator, true_tox: list[float], seed: int, patients: np.ndarray,
                    dlts: np.ndarray, mtd: np.ndarray, outcome: np.ndarray,
                    target: Decimal | None, states: int, asked: int,
                    timing: Timing | None = None) -> Characteristics:
    """The operating characteristics of simulated trials, from each trial's patients and DLTs per
    level, its MTD (-1 for none) and its kind of stop (an index of OUTCOMES): one reading for the
    chart's walk here and TITE-BOIN's simulation in time, so both report alike."""
    maximum = escalator.network.escalation.maximum
    assert maximum is not None
    sample = patients.sum(axis=1)
    return Characteristics(
        trials=len(mtd),
        seed=seed,
        true_tox=tuple(true_tox),
        selected=np.array([np.mean(mtd == j) for j in range(len(true_tox))]),
        patients=patients.mean(axis=0),
        dlts=dlts.mean(axis=0),
        reached=(patients > 0).mean(axis=0),
        outcomes={kind: float(np.mean(outcome == i)) for i, kind in enumerate(OUTCOMES)},
        early=float(np.mean(sample < maximum)),
        sample=float(sample.mean()),
        states=states,
        asked=asked,
        risk=_risk(true_tox, patients, mtd, target, maximum, escalator),
        timing=timing,
    )


def _risk(true_tox: list[float], patients: np.ndarray, mtd: np.ndarray, target: Decimal | None,
          maximum: int, escalator: Escalator) -> Risk | None:
    """The overdosing measures from each trial's patients per level and its MTD (-1: none)."""
    bounds = escalator.network.boundaries
    target = target if target is not None else (bounds.target if bounds is not None else None)
    if target is None:
        return None
    best = true_mtd(true_tox, target)
    above = patients[:, best + 1:].sum(axis=1)
    return Risk(
        target=target,
        mtd=best,
        correct=float(np.mean(mtd == best)),
        above=float(np.mean(mtd > best)),
        treated_above=float(above.sum() / patients.sum()),
        overdose60=float(np.mean(10 * above > 6 * maximum)),
        overdose80=float(np.mean(10 * above > 8 * maximum)),
    )


def report(escalator: Escalator, oc: Characteristics) -> str:
    """The operating characteristics as a table (fixed decimals: the same seed, the same bytes)."""
    network = escalator.network
    escalation = network.escalation
    design = network.design.text or network.design.name
    lines = [
        f"{design}: {len(network.levels)} dose levels, cohorts of {escalation.cohort_size}, "
        f"at most {escalation.maximum} patients",
        f"{oc.trials} simulated trials, seed {oc.seed}; {oc.states} trial states, "
        f"{oc.asked} decided by the rule network",
        "",
        f"{'level':<7}{'dose':<18}{'true DLT rate':>14}{'selected as MTD':>17}"
        f"{'patients':>10}{'DLTs':>8}",
    ]
    for j, level in enumerate(network.levels):
        lines.append(
            f"{level.id:<7}{level.written:<18}{oc.true_tox[j]:>14.2f}"
            f"{100 * oc.selected[j]:>16.1f}%{oc.patients[j]:>10.2f}{oc.dlts[j]:>8.2f}"
        )
    lines.append(
        f"{'total':<39}{100 * sum(oc.selected):>16.1f}%{sum(oc.patients):>10.2f}"
        f"{sum(oc.dlts):>8.2f}"
    )
    words = {
        "none": "stopped for toxicity, no MTD",
        "not_reached": "MTD not reached (highest level tolerated)",
        "undetermined": "stopped with the MTD not determined",
    }
    lines.append("")
    for kind, text in words.items():
        if oc.outcomes[kind] or kind == "none":
            lines.append(f"{text + ':':<44}{100 * oc.outcomes[kind]:>6.1f}%")
    lines.append(
        f"{'stopped before ' + str(escalation.maximum) + ' patients:':<44}{100 * oc.early:>6.1f}%"
    )
    lines.append(f"{'mean sample size:':<44}{oc.sample:>7.2f}")
    if oc.timing is not None:
        lines += _timing(oc.timing)
    risk = oc.risk
    if risk is not None:
        mtd = network.levels[risk.mtd]
        lines += [
            "",
            f"true MTD: {mtd.id}, true DLT rate {oc.true_tox[risk.mtd]:.2f}, the closest to the "
            f"target {risk.target}",
            f"{'correct selection (the true MTD):':<44}{100 * risk.correct:>6.1f}%",
            f"{'selected a level above the true MTD:':<44}{100 * risk.above:>6.1f}%",
            f"{'patients treated above the true MTD:':<44}{100 * risk.treated_above:>6.1f}%",
            f"{'more than 60% of ' + str(escalation.maximum) + ' patients above it:':<44}"
            f"{100 * risk.overdose60:>6.1f}%",
            f"{'more than 80% of ' + str(escalation.maximum) + ' patients above it:':<44}"
            f"{100 * risk.overdose80:>6.1f}%",
        ]
    return "\n".join(lines) + "\n"


def _timing(timing: Timing) -> list[str]:
    """TITE-BOIN's lines: how long the trials took and how often accrual waited."""
    return [
        f"{'mean trial duration (days):':<44}{timing.duration:>7.1f}"
        f"  (sd {timing.duration_sd:.1f})",
        f"{'accrual suspended (days per trial):':<44}{timing.suspended:>7.1f}",
        f"{'cohorts assigned with outcomes pending:':<44}{100 * timing.pending_decisions:>6.1f}%",
        f"(accrual {timing.accrual}, exponential gaps; DLT window {timing.window} days, "
        f"{100 * timing.late_onset:.0f}% of DLTs in its second half, Weibull)",
    ]


def plot(escalator: Escalator, oc: Characteristics, path: str) -> None:
    """Selection, patients and DLTs per level as a PNG (matplotlib's Agg backend, no timestamp).

    matplotlib is imported here, not at the top: it costs a third of a second that every other
    command would pay at start.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    network = escalator.network
    labels = [f"{lv.id}\n{lv.written}\np = {p:.2f}" for lv, p in zip(network.levels, oc.true_tox)]
    x = np.arange(len(labels))
    widths = [len(labels) + 2, len(labels), len(labels)]
    figure, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True,
                                gridspec_kw={"width_ratios": widths})
    panels = (
        (100 * oc.selected, "selected as MTD (%)"),
        (oc.patients, "mean patients treated"),
        (oc.dlts, "mean DLTs"),
    )
    for axis, (values, title) in zip(axes, panels):
        axis.bar(x, values, color="#4c72b0")
        ticks, names = list(x), list(labels)
        if axis is axes[0]:  # the trials that selected no level, beside those that did
            others = (("no MTD", oc.outcomes["none"]),
                      ("MTD not\nreached", oc.outcomes["not_reached"]))
            extra = np.arange(len(labels), len(labels) + len(others))
            axis.bar(extra, [100 * share for _, share in others], color="#999999")
            ticks, names = ticks + list(extra), names + [name for name, _ in others]
            values = np.concatenate([values, [100 * share for _, share in others]])
        axis.set_xticks(ticks, names, fontsize=8)
        axis.set_title(title)
        for xi, value in zip(ticks, values):
            axis.annotate(f"{value:.1f}", (xi, value), ha="center", va="bottom", fontsize=8)
    design = network.design.text or network.design.name
    figure.suptitle(f"{design}: {oc.trials} simulated trials (seed {oc.seed})")
    figure.savefig(path, dpi=100, format="png", metadata={"Software": None})  # path as given
    plt.close(figure)
