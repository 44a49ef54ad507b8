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
