"""The protocol's names as one graph: concepts, definitions and leaf criteria, each edge from what
is used to what uses it, for reading a protocol's structure (which criteria a concept reaches).
The compiler's definition order and `check`'s cycle test work on the narrower graph of
definitions and derived values they need."""

from __future__ import annotations

import networkx as nx

from protocol import model as m
from protocol.errors import Span


def dependency_graph(protocol: m.Protocol) -> nx.DiGraph:
    """Concepts, definitions and leaf criteria, with an edge from what is used to what uses it.

    Nodes and edges are added in file order, so every traversal is the same from run to run.

    >>> from grammar.parser import parse
    >>> p = parse('concepts:\\n a: flag\\ndefine b: a\\ninclusion I1 "x": b')
    >>> list(dependency_graph(p).edges), dependency_graph(p).nodes["I1"]["kind"]
    ([('a', 'b'), ('b', 'I1')], 'criterion')
    """
    graph = nx.DiGraph()
    for concept in protocol.concepts:
        _add_node(graph, concept.name, "concept", concept.span)
    for definition in protocol.definitions:
        _add_node(graph, definition.name, "definition", definition.span)
    for leaf in protocol.leaves():
        _add_node(graph, leaf.id, "criterion", leaf.span)
    for concept in protocol.concepts:
        if concept.weight is not None and concept.weight.name in graph:
            graph.add_edge(concept.weight.name, concept.name)
        for name in m.formula_names(concept.formula) if concept.formula is not None else ():
            if name in graph and graph.nodes[name]["kind"] != "criterion":
                graph.add_edge(name, concept.name)
    for definition in protocol.definitions:
        _add_edges(graph, definition.condition, definition.name)
    for leaf in protocol.leaves():
        for condition in (leaf.applies, leaf.condition):
            _add_edges(graph, condition, leaf.id)
    return graph


def _add_node(graph: nx.DiGraph, name: str, kind: str, span: Span) -> None:
    if name not in graph:  # a duplicate declaration is reported by check; the first one counts
        graph.add_node(name, kind=kind, span=span)


def _add_edges(graph: nx.DiGraph, condition: m.Condition | None, user: str) -> None:
    for name in [] if condition is None else [ref.name for ref in m.refs(condition)]:
        if name in graph and graph.nodes[name]["kind"] != "criterion":
            graph.add_edge(name, user)


#: Columns of the drawing, left to right: what a criterion reads, then what reads it.
COLUMNS = {"concept": 0, "derived": 1, "definition": 2, "criterion": 3}
COLOURS = {"concept": "#dbe9f6", "derived": "#fde9c9", "definition": "#e3f1dc",
           "criterion": "#f6d8d8"}
FORMATS = ("dot", "svg", "png")


def write(protocol: m.Protocol, path: str) -> None:
    """Write the graph as DOT (pydot, through networkx), or drawn as SVG or PNG (matplotlib: no
    Graphviz needed) in columns: concepts, derived values, definitions, criteria; the format is
    the file's extension. The same protocol gives the same bytes (no date in the metadata, fixed
    SVG ids)."""
    graph = _labelled(protocol)
    form = path.rsplit(".", 1)[-1].lower()
    if form == "dot":
        nx.nx_pydot.write_dot(graph, path)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "proto-rules"
    positions = _columns(graph)
    rows = max(sum(1 for _, d in graph.nodes(data=True) if COLUMNS[d["kind"]] == c)
               for c in COLUMNS.values())
    figure, axes = plt.subplots(figsize=(16, max(4.0, rows * 0.32)))
    nx.draw_networkx_edges(graph, positions, ax=axes, edge_color="#8a8a8a", arrowsize=8,
                           width=0.7, node_size=0)
    for kind, colour in COLOURS.items():
        names = [n for n, d in graph.nodes(data=True) if d["kind"] == kind]
        nx.draw_networkx_labels(graph.subgraph(names), positions, ax=axes, font_size=7,
                                bbox={"boxstyle": "round,pad=0.25", "fc": colour,
                                      "ec": "#555555", "lw": 0.5})
    axes.set_title(f"{protocol.id or protocol.path}: concepts -> derived values -> definitions "
                   f"-> criteria (an arrow from what is read to what reads it)", fontsize=9)
    axes.axis("off")
    figure.tight_layout()
    figure.savefig(path, format=form, dpi=110,
                   metadata={"Date": None} if form == "svg" else {"Software": None})
    plt.close(figure)


def _labelled(protocol: m.Protocol) -> nx.DiGraph:
    """The dependency graph with what a reader sees: derived values apart from other concepts,
    each node's place in the file, and, for DOT, a shape and a colour per kind."""
    graph = dependency_graph(protocol)
    derived = {c.name for c in protocol.concepts if c.formula is not None}
    for name, data in graph.nodes(data=True):
        kind = "derived" if name in derived else data["kind"]
        span = data.pop("span")
        data.clear()
        data.update(kind=kind, tooltip=f"{span.file}:{span.line}", style="filled",
                    fillcolor=COLOURS[kind],
                    shape="box" if kind == "criterion" else "ellipse")
    return graph


def _columns(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Where each node is drawn: its kind's column, and in it the criteria in protocol order top
    to bottom, every other node at the height of the mean of the nodes that read it (then spread
    out evenly), so that most arrows run level instead of crossing the page."""
    height: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for column in sorted(COLUMNS.values(), reverse=True):
        names = [n for n, d in graph.nodes(data=True) if COLUMNS[d["kind"]] == column]
        for name in names:
            users = [height[u] for u in graph.successors(name) if u in height]
            height[name] = sum(users) / len(users) if users else float(len(height))
        names.sort(key=lambda n: height[n])  # stable: file order among equals
        for row, name in enumerate(names):
            spread = row * (len(graph) / max(len(names), 1))
            height[name] = spread
            positions[name] = (float(column), -spread)
    return positions
