"""TITE-BOIN's operating characteristics in time: patients arrive, DLTs happen inside the window,
accrual is suspended, and the trial lasts as long as its decisions make it.

The model is the one of the authors' software (R package TITEgBOIN, `get_oc_TITE_QuasiBOIN`,
after Yuan et al. 2018 and Lin and Yuan 2020), on the calendar of whole days the cohort file uses:

- patients arrive as a Poisson process (exponential gaps between arrivals) at `--accrual`; the
  cohort's first patient is infused when the decision is taken, the others as they arrive;
- the next decision is taken when the next patient arrives; if it is to suspend accrual, that
  patient is turned away and the decision is taken again at the next arrival (arrivals seeing
  the same state are skipped: by the exponential's lack of memory the first arrival after the
  state changes is that change plus an exponential gap, which draws the same trial);
- a patient has a DLT within the window with the level's true rate; its time follows the Weibull
  distribution with which the software makes toxicity late-onset: `late_onset` (the software's
  alpha1, default 0.5) of the DLTs fall in the second half of the window;
- an outcome is known on the day the DLT happens (the ceiling of its time, day 1 to the window's
  last) or the window ends; a pending patient's follow-up is the whole days since infusion, as
  `escalate` counts them from `as_of`;
- at the maximum sample size the trial waits for every outcome (PENDING), and then selects.

Every decision is the network's: the state fact is built by `cohort.state_of` as for `escalate`,
and the answer read by the same `escalation.step`. The answer depends on the fields the rules
read, and on the follow-up only through the thresholds the rules compare it with, so the network
is asked once per distinct state with each field reduced to its bucket between the thresholds
the rules compare it with (`EscalationNetwork.cuts`: the follow-up's, `pending_elsewhere` only
as 0 or more), and the answer cached.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

import numpy as np

from engine.escalation import tite as T
from engine.escalation.cohort import state_of
from engine.escalation.network import Answer, Escalator, step
from engine.escalation.simulate import (OUTCOMES, Characteristics, _elimination_table,
                                       characteristics)
from protocol.errors import EngineError

#: Days in an accrual rate's unit (a month is taken as 30 days).
UNITS = {"day": 1, "week": 7, "month": 30}
#: A true DLT rate of 1 has no Weibull shape (log 0); it is taken as 1 - 10^-9.
CERTAIN = 1 - 1e-9


@dataclass(frozen=True)
class Accrual:
    """Patients per day, exactly, and as the user wrote it."""

    per_day: Fraction
    text: str


def accrual(text: str) -> Accrual:
    """Read `2/month`, `0.5/week`, `1/day` (a month is 30 days).

    >>> accrual("2/month").per_day
    Fraction(1, 15)
    """
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*(day|week|month)s?\s*", text)
    if not found or Fraction(found[1]) == 0:
        raise ValueError(f"not an accrual rate like 2/month, 1/week or 0.5/day: {text!r}")
    return Accrual(Fraction(found[1]) / UNITS[found[2]], text.strip())


#: The late-onset shares a simulation takes: nearer 0 or 1, the Weibull of `dlt_time` has no
#: shape a float can hold (1e-30 divided by zero).
LATE_ONSET = (Decimal("0.01"), Decimal("0.99"))


def late_onset(text: str) -> Decimal:
    """The share of DLTs in the second half of the window, from 0.01 to 0.99."""
    try:
        share = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"not a share between 0 and 1: {text!r}") from None
    low, high = LATE_ONSET
    if not share.is_finite() or not low <= share <= high:
        raise ValueError(f"the late-onset share lies from {low} to {high}, not {text}")
    return share


@dataclass(frozen=True)
class Timing:
    """What time adds to the operating characteristics (days; means over the trials)."""

    accrual: str
    window: int
    late_onset: Decimal
    duration: float  # from the first infusion to the stop (or the last outcome known)
    duration_sd: float
    suspended: float  # days from a suspension to the next patient taken
    pending_decisions: float  # share of cohorts assigned with outcomes pending at the level


def dlt_time(u: float, rate: float, share: Decimal, window: int) -> float:
    """The time of a DLT within the window (given that there is one), by inverting the Weibull
    whose P(T <= window) is `rate` and P(T <= window/2) is (1 - share) * rate.

    >>> round(dlt_time(0.5, 0.3, Decimal("0.5"), 28), 3)
    14.0
    """
    rate = min(rate, CERTAIN)
    early = (1 - float(share)) * rate
    shape = math.log(math.log(1 - rate) / math.log(1 - early)) / math.log(2)
    return window * (math.log(1 - u * rate) / math.log(1 - rate)) ** (1 / shape)


class _Trial:
    """One simulated trial's patients: level, infusion day, the day the outcome is known, DLT."""

    def __init__(self, levels: int) -> None:
        self.patients: list[tuple[int, int, int, bool]] = []
        self.levels = levels

    def counts(self, day: int) -> tuple[list[tuple[int, int, int, int]], list[list[int]]]:
        """(treated, evaluable, DLTs, pending) per level on `day`, and the pending patients'
        infusion days per level."""
        counts = [[0, 0, 0, 0] for _ in range(self.levels)]
        infused: list[list[int]] = [[] for _ in range(self.levels)]
        for level, entry, known, dlt in self.patients:
            here = counts[level]
            here[0] += 1
            if known <= day:
                here[1] += 1
                here[2] += dlt
            else:
                here[3] += 1
                infused[level].append(entry)
        return [tuple(c) for c in counts], infused  # type: ignore[misc]

    def next_known(self, day: int) -> int | None:
        """The next day an outcome becomes known."""
        return min((known for _, _, known, _ in self.patients if known > day), default=None)


def simulate(escalator: Escalator, true_tox: list[float], trials: int, seed: int,
             rate: Accrual, share: Decimal = Decimal("0.5"),
             target: Decimal | None = None) -> Characteristics:
    """Run `trials` TITE-BOIN trials in time, seeded: the same seed, the same numbers.

    >>> from grammar.parser import parse_file
    >>> from engine.escalation.network import compile_escalation
    >>> esc = Escalator(compile_escalation(parse_file("examples/tite-boin.proto-rules")))
    >>> oc = simulate(esc, [0.0, 0.0, 0.0], 20, 1, accrual("1000/day"))
    >>> oc.selected.tolist(), oc.patients.tolist(), oc.timing.duration
    ([0.0, 0.0, 1.0], [3.0, 3.0, 12.0], 140.0)
    """
    network = escalator.network
    escalation = network.escalation
    assert escalation.cohort_size and escalation.maximum and escalation.start
    window = T.window_days(escalation.dlt_window)
    assert window is not None
    cohort, maximum, levels = escalation.cohort_size, escalation.maximum, len(network.levels)
    start = [lv.id for lv in network.levels].index(escalation.start.name)
    eliminating = _elimination_table(escalator, maximum)
    cuts = {name: network.cuts(name) for name in network.reads if name not in ("t", "followup")}
    followup_cuts = [network.cuts("followup", n) for n in range(maximum + 1)]
    memo: dict[tuple, Answer] = {}
    seen: set[tuple] = set()
    rng = np.random.default_rng(seed)
    gap_mean = float(1 / rate.per_day)
    patients = np.zeros((trials, levels), dtype=np.int64)
    dlts = np.zeros((trials, levels), dtype=np.int64)
    mtd = np.full(trials, -1, dtype=np.int64)
    outcome = np.zeros(trials, dtype=np.int64)
    duration = np.zeros(trials)
    suspended = np.zeros(trials)
    assigned = with_pending = 0  # cohorts assigned a level, and those with outcomes pending

    def ask(trial: _Trial, day: int, current: int) -> tuple[Answer, list[tuple[int, int]], int]:
        counts, infused = trial.counts(day)
        followup = sum(day - entry for entry in infused[current])
        state = state_of(counts, current, escalation, followup=followup)
        seen.add((*(state[name] for name in cuts), followup))
        band = followup_cuts[state["counted"]]
        key = (*(bisect_right(at, state[name]) for name, at in cuts.items()),
               bisect_right(band, followup))
        if key not in memo:
            memo[key] = escalator.ask(state)
        pairs = [(c[1] + c[3], c[2]) for c in counts]  # pending patients count in n
        out = frozenset(i for i, pair in enumerate(pairs) if pair in eliminating)
        return replace(memo[key], eliminated=out), pairs, counts[current][3]

    for number in range(trials):
        trial, t, current, total = _Trial(levels), 0.0, start, 0
        while True:
            size = min(cohort, maximum - total)
            for j in range(size):
                if j:
                    t += rng.exponential(gap_mean)
                u, v = rng.random(2)
                p = true_tox[current]
                dlt = bool(u < p)
                known = math.ceil(dlt_time(v, p, share, window)) if dlt else window
                trial.patients.append((current, int(t), int(t) + max(1, known), dlt))
            total += size
            if total < maximum:
                t += rng.exponential(gap_mean)  # the decision waits for the next patient
            while True:
                day = int(t)
                answer, pairs, pending = ask(trial, day, current)
                pending_n = pairs[current][0]
                taken = step(network, answer, current, pairs)
                if taken.move not in ("SUSPEND", "PENDING"):
                    assigned += taken.move != "STOP"
                    with_pending += taken.move != "STOP" and pending > 0
                    break
                changed = _next_change(trial, day, current, followup_cuts[pending_n])
                if changed is None:
                    raise EngineError(f"{network.design.name}: {taken.move} with no outcome "
                                      "pending; the design waits for nothing")
                later = float(changed) + (rng.exponential(gap_mean) if taken.move == "SUSPEND"
                                          else 0.0)
                if taken.move == "SUSPEND":
                    suspended[number] += later - t
                t = later
            if taken.move == "STOP":
                break
            assert taken.next_level is not None
            current = taken.next_level
        for level, _, _, dlt in trial.patients:
            patients[number, level] += 1
            dlts[number, level] += dlt
        mtd[number] = -1 if taken.mtd is None else taken.mtd
        outcome[number] = OUTCOMES.index(taken.mtd_kind or "undetermined")
        duration[number] = t
    timing = Timing(rate.text, window, share, float(duration.mean()),
                    float(duration.std()), float(suspended.mean()), with_pending / max(1, assigned))
    return characteristics(escalator, true_tox, seed, patients, dlts, mtd, outcome, target,
                           states=len(seen), asked=len(memo), timing=timing)


def _next_change(trial: _Trial, day: int, current: int, cuts: list[int]) -> int | None:
    """The first day after `day` whose state may be decided differently: an outcome becomes
    known, or the follow-up at the current level (growing by the pending count each day) crosses
    the next threshold the rules compare it with."""
    known = trial.next_known(day)
    _, infused = trial.counts(day)
    pending = infused[current]
    followup = sum(day - entry for entry in pending)
    above = bisect_right(cuts, followup)
    crossing = None
    if pending and above < len(cuts):
        crossing = day + -(-(cuts[above] - followup) // len(pending))
    found = [d for d in (known, crossing) if d is not None]
    return min(found) if found else None
