"""Dose-transition pathways: every decision the design can take over the next K cohorts.

As the R package `escalation` (`get_dose_paths`): from the trial as it stands (the start, or the
outcomes given), each cohort can end with 0, 1, ..., size DLTs; for each, the rule network
decides where the next cohort goes (or that the trial stops), and so on, K cohorts deep. The
decisions are the network's, read by `escalation.step` exactly as `escalate` and `simulate` read
them, with every patient evaluable. Each path is written in the R packages' outcome notation
(`1NNN 2NNT`: level number, then N or T per patient, DLTs last in a cohort), so any row can be
given back to `proto-rules escalate --outcomes` to see the decision explained.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.cohort import outcomes_cohort, state_of
from engine.escalation import Escalator, step

#: The most cohorts a table enumerates: (size + 1)^K paths grow fast (4^6 = 4,096 for cohorts
#: of 3, each asked of the network once).
MAX_COHORTS = 6


@dataclass(frozen=True)
class Node:
    """One cohort's outcome and what the design does next."""

    depth: int  # 1 for the first cohort to come
    outcomes: str  # the whole path so far, in outcome notation
    move: str  # ESCALATE, STAY, ..., STOP
    next_level: int | None  # where the next cohort goes; None when the trial stops
    mtd: int | None  # for STOP, the level declared MTD
    mtd_kind: str | None


def pathways(escalator: Escalator, counts: list[tuple[int, int]], current: int, given: str,
             cohorts: int) -> tuple[Node, list[Node]]:
    """The decision where the trial stands (the root) and every node of the next `cohorts`
    cohorts, depth first, fewer DLTs first.

    >>> from grammar.parser import parse_file
    >>> from engine.escalation import compile_escalation
    >>> esc = Escalator(compile_escalation(parse_file("examples/cd19-ucart-sle.proto-rules")))
    >>> root, nodes = pathways(esc, [(0, 0)] * 3, 0, "", 1)
    >>> [(n.outcomes, n.move) for n in nodes]
    [('1NNN', 'ESCALATE'), ('1NNT', 'EXPAND'), ('1NTT', 'STOP'), ('1TTT', 'STOP')]
    """
    network = escalator.network
    escalation = network.escalation
    assert escalation.cohort_size and escalation.maximum
    nodes: list[Node] = []

    def decide(counts: list[tuple[int, int]], current: int, path: str, depth: int) -> Node:
        state = state_of([(n, n, y, 0) for n, y in counts], current, escalation)
        answer = escalator.ask(state, counts)
        taken = step(network, answer, current, counts)
        return Node(depth, path, taken.move, taken.next_level, taken.mtd, taken.mtd_kind)

    def walk(counts: list[tuple[int, int]], node: Node) -> None:
        if node.depth == cohorts or node.next_level is None:
            return
        level = node.next_level
        cohort = escalation.cohort_size
        size = min(cohort - counts[level][0] % cohort,  # completes a cohort begun there
                   escalation.maximum - sum(n for n, _ in counts))
        for dlts in range(size + 1):
            after = list(counts)
            after[level] = (counts[level][0] + size, counts[level][1] + dlts)
            group = f"{level + 1}{'N' * (size - dlts)}{'T' * dlts}"
            path = f"{node.outcomes} {group}".strip()
            child = decide(after, level, path, node.depth + 1)
            nodes.append(child)
            walk(after, child)

    root = decide(counts, current, given, 0)
    if sum(n for n, _ in counts) == 0:  # nobody treated yet: the first cohort goes to the start
        start = [lv.id for lv in network.levels].index(escalation.start.name)
        root = Node(0, given, "START", start, None, None)
    walk(counts, root)
    return root, nodes


def table(escalator: Escalator, root: Node, nodes: list[Node]) -> str:
    """The pathways as a table: one row per node, indented by cohort, with the decision and the
    level of the next cohort (or what the trial found)."""
    levels = escalator.network.levels
    rows = [_row(levels, node) for node in (root, *nodes)]
    width = max(len(row[0]) for row in rows) + 2
    after = max(len(row[2]) for row in rows) + 2
    lines = [f"{'cohort':<{width}}{'decision':<13}{'next':<{after}}outcomes"]
    lines += [f"{shown:<{width}}{move:<13}{nxt:<{after}}{path}".rstrip()
              for shown, move, nxt, path in rows]
    return "\n".join(lines) + "\n"


def _row(levels, node: Node) -> tuple[str, str, str, str]:
    """(the cohort's outcome, indented by depth; the decision; the next level or what the
    trial found; the whole path)."""
    shown = "  " * node.depth + (node.outcomes.split()[-1] if node.depth else "now")
    if node.next_level is not None:
        nxt = f"{levels[node.next_level].id} ({node.next_level + 1})"
    elif node.mtd is not None:
        nxt = f"MTD {levels[node.mtd].id}"
    else:
        nxt = {"not_reached": "MTD not reached", "none": "no MTD"}.get(node.mtd_kind or "",
                                                                        "MTD not determined")
    return shown, node.move, nxt, node.outcomes


def report(escalator: Escalator, outcomes: str, cohorts: int) -> str:
    """`proto-rules pathways`: the table from the trial as `outcomes` leave it (a ValueError
    says what is wrong with them)."""
    cohort = outcomes_cohort(outcomes, escalator.network.escalation)
    counts = [(c.evaluable, c.dlt) for c in cohort.counts]
    root, nodes = pathways(escalator, counts, cohort.current, " ".join(outcomes.split()), cohorts)
    return table(escalator, root, nodes)
