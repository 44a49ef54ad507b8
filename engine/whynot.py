"""What would change a verdict: for an open criterion, the fewest missing facts that could settle it.

The network has decided; this only explains, for a coordinator who must chase data. For a criterion
left UNKNOWN or NEEDS_REVIEW it asks, in the same strong Kleene logic the network compiles, which
smallest sets of open parts, given a value, would let the criterion pass (MET for an inclusion,
NOT_MET for an exclusion), and says what each part would need: "lvef >= 55 %" or "not
hbv_dna > upper reference". Definitions are opened up, so a missing weight under `refractory_sle`
is found from I2.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product
from typing import Callable

from engine.atoms.derived import missing_inputs
from engine.evidence import Explainer, Part, describe, parts
from engine.record import Patient
from protocol import model as m

#: Larger searches are cut short: a coordinator needs the first few facts, not every combination.
MOST_OPEN_PARTS = 12


@dataclass(frozen=True)
class Need:
    """One open part and the value that would let its criterion pass."""

    line: int
    condition: str
    needs: str


def needs(protocol: m.Protocol, criterion: m.Criterion, patient: Patient,
          explainer: Explainer) -> list[Need]:
    """The fewest open parts that, with the right values, would let `criterion` pass."""
    wanted = "true" if criterion.role is m.Role.INCLUSION else "false"

    def judged(part: Part) -> str:
        return explainer.judged(part, patient)[0]

    tree = _Tree(protocol, judged, explainer.shapes)
    applies = tree.evaluate(criterion.applies, {}) if criterion.applies else "true"
    if applies == "false":
        return []
    open_parts = [p for c in (criterion.applies, criterion.condition) for p in tree.open_parts(c)]
    open_parts = list(dict.fromkeys(open_parts))[:MOST_OPEN_PARTS]
    for size in range(1, len(open_parts) + 1):
        for chosen in combinations(open_parts, size):
            for values in product(("true", "false"), repeat=size):
                given = {id(p): v for p, v in zip(chosen, values)}
                if tree.passes(criterion, given, wanted):
                    return [_need(protocol, p, v, explainer, patient)
                            for p, v in zip(chosen, values)]
    return []


def _need(protocol: m.Protocol, part: Part, value: str, explainer: Explainer,
          patient: Patient) -> Need:
    text = describe(protocol, part)
    needs = text.text if value == "true" else f"not ({text.text})"
    concept = protocol.concept(part.ref.name) if isinstance(part, m.Compare) else None
    if concept is not None and concept.formula is not None:  # a derived value: name its inputs
        inputs = missing_inputs(concept, explainer, patient)
        if inputs:
            needs += f" ({concept.name} needs {', '.join(inputs)})"
    return Need(text.line, text.text, needs)


class _Tree:
    """Strong Kleene evaluation of a condition over judged parts, definitions opened up.

    The search evaluates a criterion's condition once per candidate set of values, so how each
    node is taken apart (`_shape`) is worked out once per protocol, not per evaluation."""

    def __init__(self, protocol: m.Protocol, judged: Callable[[Part], str],
                 shapes: dict[int, tuple]) -> None:
        self.protocol = protocol
        self.judged = judged
        self.shapes = shapes

    def passes(self, criterion: m.Criterion, given: dict[int, str], wanted: str) -> bool:
        applies = self.evaluate(criterion.applies, given) if criterion.applies else "true"
        if applies == "false":
            return True
        return applies == "true" and self.evaluate(criterion.condition, given) == wanted

    def open_parts(self, condition: m.Condition | None) -> list[Part]:
        found: list[Part] = []
        for part in parts(condition):
            definition = self._definition(part)
            if definition is not None:
                found.extend(self.open_parts(definition.condition))
            elif self.judged(part) == "unknown":
                found.append(part)
        return found

    def _definition(self, part: Part) -> m.Definition | None:
        return self.protocol.definition(part.ref.name) if isinstance(part, m.Truth) else None

    def _shape(self, condition: m.Condition) -> tuple:
        """A judged part (`_PART`), `not` of a condition, a connective with its items and how many
        must hold, or a definition's condition."""
        if isinstance(condition, m.Not) and condition in parts(condition):
            return (_PART,)
        if isinstance(condition, m.Not):
            return _NOT, condition.item
        if isinstance(condition, m.AtLeast) and parts(condition) == [condition]:
            return (_PART,)
        if isinstance(condition, (m.And, m.Or, m.AtLeast)):
            items = condition.items
            need = {m.And: len(items), m.Or: 1}.get(type(condition), getattr(condition, "count", 0))
            return _SOME, items, need
        definition = self._definition(condition)
        if definition is not None:
            return _DEFINED, definition.condition
        return (_PART,)

    def evaluate(self, condition: m.Condition | None, given: dict[int, str]) -> str:
        if condition is None:
            return "true"
        shape = self.shapes.get(id(condition))
        if shape is None:
            shape = self.shapes[id(condition)] = self._shape(condition)
        kind = shape[0]
        if kind is _PART:
            return given.get(id(condition)) or self.judged(condition)
        if kind is _NOT:
            return _NEGATED.get(self.evaluate(shape[1], given), "unknown")
        if kind is _DEFINED:
            return self.evaluate(shape[1], given)
        _, items, need = shape
        values = [self.evaluate(item, given) for item in items]
        if values.count("true") >= need:
            return "true"
        return "false" if values.count("false") > len(values) - need else "unknown"


_PART, _NOT, _SOME, _DEFINED = "part", "not", "some", "defined"
_NEGATED = {"true": "false", "false": "true"}
