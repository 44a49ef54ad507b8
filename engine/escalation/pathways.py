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

from engine.escalation.cohort import outcomes_cohort, state_of
from engine.escalation.network import Escalator, step

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
    >>> from engine.escalation.network import compile_escalation
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


def from_outcomes(escalator: Escalator, outcomes: str, cohorts: int) -> tuple[Node, list[Node]]:
    """The pathways from the trial as `outcomes` leave it (a ValueError says what is wrong with
    them)."""
    cohort = outcomes_cohort(outcomes, escalator.network.escalation)
    counts = [(c.evaluable, c.dlt) for c in cohort.counts]
    return pathways(escalator, counts, cohort.current, " ".join(outcomes.split()), cohorts)


def plot(escalator: Escalator, root: Node, nodes: list[Node], path: str) -> None:
    """The pathways as a tree, left to right, a cohort per column: each node its outcome and the
    next level (PNG, matplotlib's Agg backend, no timestamp: the same pathways, the same bytes).
    matplotlib is imported here: it costs a third of a second every other command would pay."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    children: dict[int, list[int]] = {-1: []}
    stack = [-1]  # index into nodes; -1 is the root
    for index, node in enumerate(nodes):
        del stack[node.depth:]
        children.setdefault(stack[-1], []).append(index)
        children[index] = []
        stack.append(index)
    place: dict[int, tuple[float, float]] = {}
    leaves = 0

    def layout(index: int, depth: int) -> float:
        nonlocal leaves
        if not children[index]:
            y, leaves = float(leaves), leaves + 1
        else:
            ys = [layout(child, depth + 1) for child in children[index]]
            y = sum(ys) / len(ys)
        place[index] = (float(depth), y)
        return y

    layout(-1, 0)
    levels = escalator.network.levels
    depth = max((n.depth for n in nodes), default=0)
    figure, axis = plt.subplots(figsize=(3 + 2.6 * depth, 1 + 0.32 * max(leaves, 2)))
    for parent, kids in children.items():
        for kid in kids:
            (x0, y0), (x1, y1) = place[parent], place[kid]
            axis.plot([x0, x1], [y0, y1], color="#999999", linewidth=0.8, zorder=1)
    for index, (x, y) in place.items():
        node = root if index == -1 else nodes[index]
        group = node.outcomes.split()[-1] if node.depth else "now"
        shown = _row(levels, node)[2]
        color = "#c44e52" if node.move == "STOP" else "#4c72b0"
        axis.annotate(f"{group}  {node.move.lower()} \u2192 {shown}" if node.depth else
                      f"{group} \u2192 {shown}", (x, y), fontsize=7, va="center", ha="left",
                      color=color, bbox={"boxstyle": "round", "fc": "white", "ec": color,
                                         "lw": 0.6}, zorder=2)
    axis.set_xlim(-0.1, depth + 1.2)
    axis.set_ylim(leaves, -1)
    axis.axis("off")
    design = escalator.network.design
    axis.set_title(f"{design.text or design.name}: dose-transition pathways, {depth} cohorts",
                   fontsize=9)
    figure.savefig(path, dpi=100, format="png", metadata={"Software": None}, bbox_inches="tight")
    plt.close(figure)
