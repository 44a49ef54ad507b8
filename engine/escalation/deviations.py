"""Deviations from the design: where the trial, as its cohort file records it, did not do what
the design said.

The design decides the next cohort from the trial's state; a site may still infuse otherwise.
This module reads the cohort file's history in the order of the infusions (the later in the
file on the same day) and, for each infusion, writes down what the trial looked like that day
as one *infusion* fact of numbers: dates as day numbers (`date.toordinal()`), levels as
indexes. The rule network decides which facts are deviations (`escalation.DEVIATIONS`, one
rule per kind); this module only counts, and names the patients a deviation is about.

The kinds, each a `deviation` record of the trail, and exit code 1 of `escalate`:

- `eliminated`: infused at a level an earlier decision eliminated (BOIN and the decision
  tables). The history is decided again, one question to the network before each infusion:
  a level a decision eliminated stays out, even when patients infused there since make its
  counts look better, and the decision on `as_of` never sends the next cohort to it.
- `skipped`: infused above the start level while the next lower level had no patient yet.
- `window`: an escalation (a level above the previous infusion's) while a patient of a lower
  level was in the DLT window that day (no DLT by then, the window not over); not for
  TITE-BOIN, which decides with windows open.
- `review`: with `safety review before escalation`, an escalation with no review of the level
  it leaves signed on or after that level's last DLT assessment, or one signed after the
  infusion.
- `under-dosed`: a dose received below the level's; the declared partial-dose policy says how
  the patient counts (`partial dose not evaluable`: replaced; `... counted at dose received`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.escalation import tite as T
from engine.escalation.cohort import Cohort, Treated, state_of
from engine.escalation.network import DEVIATIONS, Escalator
from engine.escalation.network import step as step_of

#: The network's deviation rules in the order a patient's deviations are listed.
RULES = [rule for rule, _, _ in DEVIATIONS]


@dataclass(frozen=True)
class Deviation:
    """One deviation: its kind, the network's rule that found it, the patient, in words."""

    kind: str
    rule: str
    patient: Treated
    text: str

    def record(self) -> dict[str, object]:
        """The trail's `deviation` record (the chain adds its hash)."""
        p = self.patient
        return {"type": "deviation", "kind": self.kind, "rule": self.rule, "patient": p.id,
                "record": p.line, "level": p.level,
                "infused": p.infused.isoformat() if p.infused else None, "text": self.text}


@dataclass(frozen=True)
class History:
    """The levels a decision before the last infusion eliminated (index -> the day), and the
    deviations in the order of the infusions."""

    out: dict[int, date]
    deviations: tuple[Deviation, ...]


def history(escalator: Escalator, cohort: Cohort) -> History:
    """Read a cohort file's history infusion by infusion; the network says which infusions
    deviated. A what-if (outcome strings, no dates) has no history.

    >>> from grammar.parser import parse_file
    >>> from engine.escalation.cohort import read_cohort
    >>> from engine.escalation.network import compile_escalation
    >>> protocol = parse_file("examples/cd19-ucart-sle.proto-rules")
    >>> found = history(Escalator(compile_escalation(protocol)),
    ...                 read_cohort("examples/cohort.json", protocol))
    >>> found.out, found.deviations
    ({}, ())
    """
    if cohort.as_of is None:
        return History({}, ())
    return _Reading(escalator, cohort).read()


class _Reading:
    def __init__(self, escalator: Escalator, cohort: Cohort) -> None:
        self.escalator, self.cohort = escalator, cohort
        self.network = escalator.network
        escalation = self.network.escalation
        self.levels = [level.id for level in self.network.levels]
        start = escalation.start
        self.start = self.levels.index(start.name) if start is not None else 0
        self.as_of: date = cohort.as_of  # type: ignore[assignment]
        self.out: dict[int, date] = {}
        self.previous: dict[int, int] = {}  # patient -> the level of the infusion before
        self.out_then: dict[int, int] = {}  # patient -> the lowest level out on the day

    def read(self) -> History:
        cohort = self.cohort
        order = sorted(range(len(cohort.patients)), key=lambda i: (cohort.patients[i].infused, i))
        facts, before = [], []
        for index in order:
            patient = cohort.patients[index]
            assert patient.infused is not None
            current = self.levels.index(before[-1].level) if before else self.start
            self._decide(before, patient.infused, current)
            self.previous[index] = current if before else self.levels.index(patient.level)
            self.out_then[index] = min(self.out, default=len(self.levels))
            facts.append(self._fact(index, before))
            before.append(patient)
        found = sorted(self.escalator.deviations(facts),
                       key=lambda f: (order.index(f[0]), RULES.index(f[2])))
        return History(self.out, tuple(
            Deviation(kind, rule, cohort.patients[p], self._text(rule, p, order))
            for p, kind, rule in found
        ))

    def _assessed(self, patient: Treated) -> date | None:
        """The day a patient's DLT assessment was complete: the DLT, the window's end; after
        `as_of` for a window still open (None: not evaluable, nothing awaited)."""
        if patient.status == "not evaluable":
            return None
        if patient.dlt is not None:
            return patient.dlt
        assert patient.window_end is not None
        if patient.status == "evaluable":
            return patient.window_end
        return max(patient.window_end, date.fromordinal(self.as_of.toordinal() + 1))

    def _decide(self, before: list[Treated], day: date, current: int) -> None:
        """What the design decided on `day`, for the levels it eliminates (BOIN, the decision
        tables); a decision waiting for DLT windows eliminates nothing."""
        if self.network.boundaries is None or not before:
            return
        counts = [[0, 0, 0, 0] for _ in self.levels]
        for p in before:
            count = counts[self.levels.index(p.counted_at)]
            count[0] += 1
            done = self._assessed(p)
            if done is not None and done <= day:
                count[1] += 1
                count[2] += p.dlt is not None
            elif done is not None:
                count[3] += 1
        gone = frozenset(self.out)
        escalation = self.network.escalation
        window = T.window_days(escalation.dlt_window)
        tite = self.network.band_by == "counted"  # TITE-BOIN: pending patients count in n
        followup = sum(T.followup(p.infused, day, window) for p in before
                       if tite and window and p.infused and p.counted_at == self.levels[current]
                       and (self._assessed(p) or date.min) > day)
        state = state_of([tuple(c) for c in counts], current, escalation, True, followup,
                         eliminated=current >= min(gone, default=len(counts)))
        pairs = [(c[1] + c[3] * tite, c[2]) for c in counts]
        answer = self.escalator.ask(state, pairs, gone, current)
        if answer.value not in ("PENDING", "SUSPEND"):
            for level in step_of(self.network, answer, current, pairs).eliminated:
                self.out.setdefault(level, day)

    def _fact(self, index: int, before: list[Treated]) -> dict[str, int]:
        """The infusion fact: numbers only; dates as day numbers."""
        patient = self.cohort.patients[index]
        assert patient.infused is not None
        level, previous = self.levels.index(patient.level), self.previous[index]
        assessed = [self._assessed(p) for p in self._below(before, level)]
        return {
            "t": "i",
            "p": index,
            "level": level,
            "start": self.start,
            "escalates": int(level > previous),
            "waits": int(self.network.band_by != "counted"),  # TITE-BOIN decides with windows open
            "tried_below": sum(self.levels.index(p.level) == level - 1 for p in before),
            "out_from": self.out_then[index],
            "infused": patient.infused.toordinal(),
            "assessed_below": max((d for d in assessed if d), default=date.min).toordinal(),
            "review_required": int(self.network.escalation.review),
            "review": self._review(before, previous, patient.infused)[0],
            "partial": int(patient.partial is not None),
        }

    def _below(self, before: list[Treated], level: int) -> list[Treated]:
        return [p for p in before if self.levels.index(p.counted_at) < level]

    def _review(self, before: list[Treated], level: int, day: date) -> tuple[int, date | None]:
        """The first review of `level` signed on or after its last DLT assessment known on
        `day` (its day number, 0 if none), and that assessment."""
        known = [d for d in (self._assessed(p) for p in before
                             if p.counted_at == self.levels[level]) if d and d <= day]
        last = max(known, default=None)
        signed = sorted(when for at, when in self.cohort.reviews
                        if at == self.levels[level] and (last is None or when >= last))
        return (signed[0].toordinal() if signed else 0), last

    def _text(self, rule: str, index: int, order: list[int]) -> str:
        """A deviation in words: who, where, when, and what the design asked for."""
        cohort = self.cohort
        patient = cohort.patients[index]
        here = f"{patient.id} infused at {patient.level} on {patient.infused}"
        before = [cohort.patients[i] for i in order[: order.index(index)]]
        level, previous = self.levels.index(patient.level), self.previous[index]
        left = self.levels[previous]
        if rule == "dev:eliminated":
            out = self.out_then[index]
            return (f"{here}; {self.levels[out]} and the levels above were eliminated on "
                    f"{self.out[out]}, and an eliminated level stays out")
        if rule == "dev:skipped":
            return (f"{here}; {self.levels[level - 1]}, the level below, had no patient yet "
                    "(the design escalates one level at a time)")
        if rule == "dev:window":
            assert patient.infused is not None
            open_ = [f"{p.id} at {p.counted_at} until {self._assessed(p)}"
                     for p in self._below(before, level)
                     if (self._assessed(p) or date.min) > patient.infused]
            return (f"{here}, an escalation from {left}, while DLT windows were open: "
                    + ", ".join(open_))
        if rule in ("dev:review-missing", "dev:review-late"):
            assert patient.infused is not None
            signed, last = self._review(before, previous, patient.infused)
            if rule == "dev:review-late":
                return (f"{here}, an escalation from {left}, before the safety review of {left} "
                        f"was signed on {date.fromordinal(signed)}")
            after = f" on or after its last DLT assessment ({last})" if last else ""
            return (f"{here}, an escalation from {left}, with no safety review of {left} "
                    f"signed{after}")
        assert rule == "dev:under-dosed"
        declared = self.network.levels[level]
        if self.network.escalation.partial_dose == "not_evaluable":
            policy = "not evaluable under 'partial dose not evaluable': to be replaced"
        elif patient.counted_at != patient.level:
            policy = (f"counted at {patient.counted_at} under 'partial dose counted at dose "
                      "received'")
        else:
            policy = "below the lowest level: not evaluable, to be replaced"
        return f"{here} received {patient.partial} of {declared.written}; {policy}"
