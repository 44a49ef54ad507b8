"""Attrition, as cohort tools show it: the criteria in protocol order, how many patients each turns
away, how many are still in after it, how many it alone turns away, and how many it leaves open
(which missing data or pending judgment costs most).

Read from a screening trail's criterion and decision records: the same verdicts the patients
were decided by, never decided again. A rejected record (its facts unusable) is counted apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.summary import counted

#: The verdict by which a criterion turns a patient away, per role.
FAILS = {"inclusion": "NOT_MET", "exclusion": "MET"}
OPEN = ("UNKNOWN", "NEEDS_REVIEW")


@dataclass
class Row:
    """One criterion's line of the table."""

    criterion: str
    role: str
    fails: int = 0
    alone: int = 0
    remaining: int = 0
    open: int = 0


@dataclass
class Attrition:
    """The table, and the patients it counts."""

    rows: list[Row]
    patients: int
    rejected: int
    decisions: dict[str, int] = field(default_factory=dict)


def attrition(records: Iterable[dict[str, Any]]) -> Attrition:
    """The attrition of a trail's records (`engine.audit.trail.read`).

    >>> trail = [{"type": "protocol", "criteria": [{"id": "I1"}, {"id": "E1"}]},
    ...          {"type": "criterion", "patient": "a", "criterion": "I1", "role": "inclusion",
    ...           "verdict": "NOT_MET"},
    ...          {"type": "criterion", "patient": "a", "criterion": "E1", "role": "exclusion",
    ...           "verdict": "MET"},
    ...          {"type": "decision", "patient": "a", "decision": "INELIGIBLE"}]
    >>> [(r.criterion, r.fails, r.alone, r.remaining) for r in attrition(trail).rows]
    [('I1', 1, 0, 0), ('E1', 1, 0, 0)]
    """
    order: list[str] = []
    roles: dict[str, str] = {}
    # the criteria that turn a patient away, counted per set: a registry's patients fall into a
    # few hundred sets, so memory does not grow with them (the records are read as a stream)
    sets: Counter[frozenset[str]] = Counter()
    patient, failing = None, set()
    opened: dict[str, int] = {}
    decisions: dict[str, int] = {}
    rejected = 0
    for record in records:
        kind = record.get("type")
        if kind == "protocol":
            order = [entry["id"] for entry in record.get("criteria", ())]
        elif kind == "criterion":
            if record["patient"] != patient:
                if patient is not None:
                    sets[frozenset(failing)] += 1
                patient, failing = record["patient"], set()
            criterion, verdict = record["criterion"], record["verdict"]
            roles[criterion] = record["role"]
            if verdict == FAILS.get(record["role"]):
                failing.add(criterion)
            elif verdict in OPEN:
                opened[criterion] = opened.get(criterion, 0) + 1
        elif kind == "decision":
            decisions[record["decision"]] = decisions.get(record["decision"], 0) + 1
        elif kind == "rejected":
            rejected += 1
    if patient is not None:
        sets[frozenset(failing)] += 1
    leaves = [c for c in order if c in roles] + [c for c in roles if c not in order]
    out: set[frozenset[str]] = set()  # the sets turned away by a criterion so far
    decided = sum(sets.values())
    rows = []
    for criterion in leaves:
        turned = {f for f in sets if criterion in f}
        out |= turned
        rows.append(Row(criterion, roles[criterion], sum(sets[f] for f in turned),
                        sets[frozenset({criterion})], decided - sum(sets[f] for f in out),
                        opened.get(criterion, 0)))
    return Attrition(rows, decided, rejected, decisions)


def render(table: Attrition) -> str:
    """The table as text, its first column as wide as the longest criterion id (at least 12)."""
    wide = max([12, *(len(row.criterion) for row in table.rows)])
    lines = [f"attrition: {counted(table.patients, 'patient')} decided"
             + (f", {counted(table.rejected, 'record')} rejected (not counted)"
                if table.rejected else ""),
             f"{'criterion':<{wide}} {'role':<9} {'turns away':>10} {'alone':>6} "
             f"{'remaining':>9} {'open':>5}"]
    lines += [f"{row.criterion:<{wide}} {row.role:<9} {row.fails:>10} {row.alone:>6} "
              f"{row.remaining:>9} {row.open:>5}" for row in table.rows]
    counts = ", ".join(f"{n} {decision}" for decision, n in sorted(table.decisions.items()))
    lines.append(f"decisions: {counts}" if counts else "decisions: none")
    lines.append("turns away: inclusion NOT_MET or exclusion MET; alone: and no other criterion; "
                 "remaining: not turned away by it or any before it; open: UNKNOWN or "
                 "NEEDS_REVIEW")
    return "\n".join(lines) + "\n"


def plot(table: Attrition, path: str) -> None:
    """The attrition as a PNG: patients remaining after each criterion, in protocol order, and a
    thinner bar for those it leaves open, among all patients (matplotlib's Agg backend, no timestamp; imported here, as
    `engine.escalation.simulate.plot` does, so other commands do not pay for it)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = table.rows
    height = max(2.5, 0.32 * len(rows) + 1.2)
    figure, axis = plt.subplots(figsize=(8, height), constrained_layout=True)
    y = list(range(len(rows)))[::-1]  # the first criterion on top
    axis.barh(y, [row.remaining for row in rows], color="#4c72b0", label="remaining after it")
    axis.barh(y, [row.open for row in rows], height=0.3, color="#dd8452",
              label="left open by it (UNKNOWN, NEEDS_REVIEW)")
    axis.set_yticks(y, [f"{row.criterion} (-{row.fails})" for row in rows])
    axis.set_xlim(0, max(table.patients, 1))
    axis.set_xlabel(f"patients (of {table.patients} decided); (-n): turned away by the criterion")
    axis.legend(loc="lower right", fontsize="small")
    figure.savefig(path, dpi=100, format="png", metadata={"Software": None})
    plt.close(figure)
