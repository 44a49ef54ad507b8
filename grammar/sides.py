"""Values measured per side (`abi: quantity in 1 per ankle {left, right}`): one concept per side,
and the conditions that say which side's value counts, resolved once a file's concepts are all
read, as readings at a day are (`grammar.readings`).

Each side's value is a concept of its own, named `<name>_<side>` (`abi_left`, `abi_right`), of the
family's kind, unit, conversions and validity: its facts name it, as case report forms keep a
column per eye or ankle (OD and OS), and every construct reads it as any concept. A condition on
the family says which side's value counts, and is written out here in the conditions every
later stage knows, so that network, trail, `check`, `diff` and `edge-cases` read it unchanged:

- `abi < 0.9 in any ankle` (or `either`): `abi_left < 0.9 or abi_right < 0.9`;
- `iop <= 21 mmHg in each eye` (or `every`, `both`): `iop_left <= 21 mmHg and iop_right <= ...`;
- `bcva 24 to 78 in the study_eye`, where `study_eye` is a category whose values are the sides:
  the chosen side's value; with the side unknown, decided where every side agrees. In strong
  Kleene logic that is `(all sides hold) or (study_eye is left and left holds) or (...)`: all
  true, true; all false, false; else the side decides, UNKNOWN while it is not known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from protocol import model as m
from protocol.errors import ProtocolError, Span

@dataclass(frozen=True)
class PerSide:
    """`per ankle {left, right}` as written after a concept's kind."""

    span: Span
    word: str
    sides: tuple[m.Value, ...]


@dataclass(frozen=True)
class SideScope:
    """A measured condition and the side it is read at: `in any ankle` (scope "any"), `in each
    eye` ("each"), `in the study_eye` ("the", `name` the category that chooses the side)."""

    span: Span
    scope: str
    name: m.Ref
    measured: Any


def side_concepts(concept: m.Concept, per: PerSide,
                  fail: Callable[[Span, str], ProtocolError]) -> list[m.Concept]:
    """The family (taking no facts of its own) and one concept per side."""
    if concept.kind not in m.RESULTS:
        raise fail(per.span, f"'{concept.name}' is {concept.kind.said}: only a quantity, lab, "
                             "score, scale or titre is measured per side")
    sides = tuple(v.name for v in per.sides)
    odd = next((v for v in per.sides if not v.name.isidentifier() or v.synonyms), None)
    if odd is not None:
        raise fail(odd.span, f"a side is a plain name ({concept.name}_{{side}} names its "
                             f"concept): not '{odd.name}'" + (" with synonyms" if odd.synonyms
                                                               else ""))
    if len(set(sides)) != len(sides):
        raise fail(per.span, f"'{concept.name}' names a side twice")
    family = replace(concept, per=per.word, sides=sides)
    return [family] + [replace(concept, name=f"{concept.name}_{side}", side=(concept.name, side),
                               per=per.word,
                               label=f"{concept.label or concept.name}, {side} {per.word}")
                       for side in sides]


def expanded(items: list[Any], concepts: dict[str, m.Concept],
             fail: Callable[[Span, str], ProtocolError]) -> list[Any]:
    """The file's criteria and definitions with each condition on a side written out."""

    def condition(c: Any) -> Any:
        if isinstance(c, SideScope):
            return _scoped(c, concepts, fail)
        if isinstance(c, (m.And, m.Or, m.AtLeast)):
            return replace(c, items=tuple(condition(i) for i in c.items))
        if isinstance(c, m.Not):
            return replace(c, item=condition(c.item))
        return c

    def criterion(c: m.Criterion) -> m.Criterion:
        return replace(c, applies=condition(c.applies), condition=condition(c.condition),
                       parts=tuple(criterion(p) for p in c.parts))

    return [criterion(i) if isinstance(i, m.Criterion) else
            replace(i, condition=condition(i.condition)) if isinstance(i, m.Definition) else i
            for i in items]


def _scoped(s: SideScope, concepts: dict[str, m.Concept],
            fail: Callable[[Span, str], ProtocolError]) -> Any:
    measured = s.measured.measured if isinstance(s.measured, m.Confirmed) else s.measured
    name = measured.ref.name
    family = concepts.get(name)
    if family is None:
        return s.measured  # an unknown name: `check` says so, with the names it knows
    if not family.sides:
        word = "WORD" if s.scope == "the" else s.name.name
        word = word[:-1] if s.scope == "each" and word.endswith("s") else word
        raise fail(measured.ref.span, f"'{name}' is not measured per side: declare it "
                                      f"'{name}: ... per {word} {{left, right}}'")
    each = [_on(s.measured, f"{name}_{side}") for side in family.sides]
    if s.scope != "the":
        if s.name.name not in (family.per, f"{family.per}s", f"{family.per}es"):
            raise fail(s.name.span, f"'{name}' is measured per {family.per}, not per "
                                    f"{s.name.name}")
        return (m.Or if s.scope == "any" else m.And)(s.span, tuple(each))
    chooser = concepts.get(s.name.name)
    values = tuple(v.name for v in chooser.values) if chooser is not None else ()
    if chooser is None or chooser.kind is not m.Kind.CATEGORY or \
            sorted(values) != sorted(family.sides):
        said = "not declared" if chooser is None else f"{chooser.kind.said}" + (
            f" of {{{', '.join(values)}}}" if chooser.kind is m.Kind.CATEGORY else "")
        raise fail(s.name.span, f"'in the {s.name.name}' chooses a side of '{name}': it must be "
                                f"a category of its {family.per}s, {{{', '.join(family.sides)}}}; "
                                f"'{s.name.name}' is {said}")
    chosen = tuple(m.And(s.span, (m.Is(s.name.span, s.name, (m.Value(s.name.span, side),)), on))
                   for side, on in zip(family.sides, each))
    return m.Or(s.span, (m.And(s.span, tuple(each)), *chosen))


def _on(measured: Any, name: str) -> Any:
    """The condition read at one side: its concept's name replaced."""
    if isinstance(measured, m.Confirmed):
        return replace(measured, measured=_on(measured.measured, name))
    return replace(measured, ref=replace(measured.ref, name=name))
