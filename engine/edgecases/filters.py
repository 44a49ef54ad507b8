"""Boundary cases of a history's filter: `cancer other than {basal_cell_carcinoma} within 5 years
before screening`, `cyclophosphamide where route is intravenous within 90 days before day_0`,
`first_line_therapy where drug is one of {rituximab, obinutuzumab} ever`.

The window's cases (`windows`) use an item that passes every clause; here, on a day inside the
window, each filtered attribute is given a value that fails its clauses (false: the one item
surely fails), and is left unrecorded (unknown: it may or may not pass). The values are read from
the concept's declaration and the clause as the README says: `is` passes the values named, `is
not` and `other than` every other declared value. A dose clause (`where dose > 10 mg/d`) goes
through the equivalence table and the weight: not generated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.edgecases.base import Skip
from protocol import model as m

if TYPE_CHECKING:
    from engine.edgecases import EdgeCases


def _attribute(clause: m.Where, concept: m.Concept) -> m.Attribute:
    attribute = concept.attribute(clause.attribute.name if clause.attribute else None)
    if attribute is None:  # pragma: no cover - the checker refuses it
        raise Skip(f"a filter on an attribute {concept.name} does not declare")
    return attribute


def _passes(clause: m.Where, attribute: m.Attribute, value: str) -> bool:
    named = {attribute.canonical(v.name) or v.name for v in clause.values}
    negated = clause.negated or clause.attribute is None  # `other than {...}` is `is not`
    return (value in named) != negated


def item_values(gen: EdgeCases, occurred: m.Occurred) -> tuple[dict, list[tuple[str, str]]]:
    """The fields of an item that passes every clause, and for each filtered attribute a
    declared value that fails one of its clauses (when there is one)."""
    concept = gen.concept(occurred)
    if any(clause.dose is not None for clause in occurred.filters):
        raise Skip("a dose filter (`where dose ...`: through the equivalence table)")
    clauses: dict[str, list[m.Where]] = {}
    attributes: dict[str, m.Attribute] = {}
    for clause in occurred.filters:
        attribute = _attribute(clause, concept)
        attributes[attribute.name] = attribute
        clauses.setdefault(attribute.name, []).append(clause)
    passing, failing = {}, []
    for name, attribute in attributes.items():
        values = [v.name for v in attribute.values]
        good = [v for v in values if all(_passes(c, attribute, v) for c in clauses[name])]
        bad = [v for v in values if not all(_passes(c, attribute, v) for c in clauses[name])]
        if not good:
            raise Skip(f"no declared {name} passes the filter")
        passing[name] = good[0]
        if bad:
            failing.append((name, bad[0]))
    return passing, failing


def written_filters(occurred: m.Occurred) -> str:
    """The filter as the protocol writes it: ` other than {a}`, ` where x is y and z is w`."""
    named = [str(c) for c in occurred.filters if c.attribute is not None]
    other = "".join(f" {c}" for c in occurred.filters if c.attribute is None)
    return other + (f" where {' and '.join(named)}" if named else "")
