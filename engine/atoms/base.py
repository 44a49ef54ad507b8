"""What every kind of condition provides, and the two services it is given.

An atom kind (`Compare`, `Occurred`, ...) is the one home of a construct's meaning at run time:
how it compiles into network patterns (`compile`) and how it reads as evidence in the trail
(`judge`).
The compiler hands `compile` a `Build` (the concepts, the record layout to ask fields of, and hidden
nodes); the trail hands `judge` a `Reader` (how one patient's facts read, and per-part constants).
Its static checks live with the other checks in `protocol/checks.py`, which must not import the
engine; its why-not needs nothing of its own, since `engine/audit/whynot.py` works on judged parts.
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

from engine import record as R
from engine.kleene import Kleene
from protocol import model as m
from protocol.units import convert, quantize

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from engine import patterns as P
    from engine.record import Layout, Patient

#: The comparisons as functions (`operator`'s, in C: the trail makes them by the thousand).
OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
    "!=": operator.ne,
}

#: What `judge` returns: "true", "false" or "unknown", and the detail an auditor reads.
Judged = tuple[str, str]


class Build(Protocol):
    """What the compiler offers an atom while it compiles."""

    protocol: m.Protocol
    concepts: dict[str, m.Concept]
    layout: Layout
    wholes: frozenset[str]

    def known_only(self, name: str) -> AbstractContextManager[None]: ...

    def hidden(self, atom: Any, yes: P.Pattern, undecided: P.Pattern,
               decided: P.Pattern, needs: P.Pattern = ..., possible: P.Pattern | None = ...,
               void: P.Pattern = ..., suffix: str = ...) -> Kleene: ...
    def agreed(self, atom: Any, fails: P.Pattern, passes: P.Pattern, undecided: P.Pattern,
               decided: P.Pattern, needs: P.Pattern) -> Kleene: ...
    def counted(self, atom: Any, yes: P.Pattern, undecided: P.Pattern, decided: P.Pattern,
                needs: P.Pattern, possible: P.Pattern, void: P.Pattern = ...,
                suffix: str = ...) -> Kleene: ...
    def counted_drugs(self, node: m.AtLeast, name: str, drugs: tuple[str, ...]) -> Kleene: ...
    def paired(self, atom: m.Occurred, other: str, yes: P.Pattern, possible: P.Pattern
               ) -> Kleene: ...
    def kleene(self, condition: m.Condition) -> Kleene: ...


class Reader(Protocol):
    """What the trail offers an atom while it judges one patient."""

    protocol: m.Protocol
    concepts: dict[str, m.Concept]
    derived: dict[str, tuple[str, tuple[str, ...]]]
    #: The whole field of each list others count as (`R.whole_field`), by list.
    wholes: dict[str, str]

    def constant(self, part: Any, compute: Callable[[Any, Reader], tuple]) -> tuple: ...
    def missing(self, patient: Patient, name: str) -> Judged: ...
    def shown(self, patient: Patient, name: str) -> str: ...
    def items(self, name: str, patient: Patient) -> tuple[list[dict] | None, str]: ...
    def each(self, name: str, patient: Patient) -> list[str]: ...
    def window(self, patient: Patient, first: int) -> str: ...


class Atom:
    """One kind of condition. Subclasses name the model class they handle in `handles`."""

    handles: ClassVar[type]

    def compile(self, atom: Any, build: Build) -> Kleene:
        raise NotImplementedError

    def judge(self, atom: Any, reader: Reader, patient: Patient) -> Judged:
        raise NotImplementedError

    def outcomes(self, atom: Any) -> tuple[str, ...]:
        """What `judge` can say of `atom`: rule coverage asks scenarios to show each of them."""
        return ("true", "false", "unknown")

    def listed(self, atom: Any) -> tuple[str, ...]:
        """The lists whose items can make `atom` true but whose want of an item makes it false:
        while one is open (given only through narrower lists, `R.whole_field`), its false is
        unsure (`judge_listed`), as the network's is (`kleene.listed`'s `whole`)."""
        return ()


def judge_listed(kind: Atom, atom: Any, reader: Reader, patient: Patient,
                 names: tuple[str, ...] | None = None) -> Judged:
    """`kind.judge`, with a false that rests on an open list read as UNKNOWN (`Atom.listed`, or
    `names` of them), saying which list and why; unless another list it reads, or the one its
    window counts from, is recorded as none (no progression at all: none during any
    lenalidomide course either, nor after its end)."""
    held, text = kind.judge(atom, reader, patient)
    if held == "false":
        record, listed = patient.record, kind.listed(atom)
        opened = [name for name in (listed if names is None else names)
                  if R.open_list(record, reader.wholes, name)]
        if opened and not any(R.none_field(name) in record
                              for name in (*listed, *_anchored(atom))):
            return "unknown", f"{text}; {patient.unusable[opened[0]]}"
    return held, text


def _anchored(atom: Any) -> tuple[str, ...]:
    """The history a list atom's window counts from (`the end of progression`), if any."""
    window = getattr(atom, "window", None) or getattr(getattr(atom, "occurred", None),
                                                       "window", None)
    anchor = getattr(window, "anchor", None)
    return (anchor.ref.name,) if anchor is not None and anchor.ref is not None and \
        anchor.occurrence else ()


def against(op: str, threshold: Any) -> Callable[[Any], bool]:
    """The test `value <op> threshold` as a one-argument function."""
    compare = OPS[op]
    return lambda value: compare(value, threshold)


def status(held: bool) -> str:
    return "true" if held else "false"


def threshold_of(concept: m.Concept, quantity: m.Quantity) -> Decimal:
    """A threshold in the concept's unit, rounded by the same rule as the facts."""
    if concept.kind in m.UNITLESS or quantity.unit is None or quantity.unit == "points":
        return quantize(quantity.value)
    return convert(quantity.value, quantity.unit, concept.unit or quantity.unit, concept.factors)


def exact(number: float) -> str:
    """A record number as the network compared it (its shortest repr is the quantized decimal)."""
    return R.plain_number(Decimal(repr(number)))


def compared(record: dict[str, Any], field: str, op: str, value: float) -> str | None:
    """`field op value` on a patient's record: "true", "false" or "unknown", or None when the
    record has no value at all. The twin of `kleene.compared`, for the trail: a value known only
    within bounds is decided when every possible value gives the same answer."""
    exact_value = record.get(field)
    if exact_value is not None:
        return status(OPS[op](exact_value, value))
    low, high, low_open, high_open = R.bounds(field)
    if low not in record:
        return None
    lo, hi = record[low], record.get(high)
    above = lo >= value
    over = lo > value or (above and record.get(low_open) == 1)
    below = hi is not None and hi <= value
    under = hi is not None and (hi < value or (below and record.get(high_open) == 1))
    t, f = {">=": (above, under), ">": (over, below), "<=": (below, over), "<": (under, above),
            "==": (False, under or over), "!=": (under or over, False)}[op]
    return "true" if t else "false" if f else "unknown"


#: Said of a value known only within bounds that they do not decide.
WITHIN_BOUNDS = "its bounds do not decide it"
