"""Formulas of derived values, as the parser builds them: numbers, readings of concepts, the four
operations, powers, conditional terms and calls (`min`, `max`, `sqrt`). Apart from the rest of the
model (`protocol/model.py`, which reads them under the same names: `m.Number`), so that neither
grows past what one reads at once; a conditional term's condition is a model `Condition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Union

from protocol.errors import Span

if TYPE_CHECKING:
    from protocol.model import Condition, Ref


@dataclass(frozen=True)
class Number:
    """A numeric literal in a formula, as written (`75,000` keeps its comma in `text`)."""

    span: Span
    value: Decimal
    text: str


@dataclass(frozen=True)
class Reading:
    """A concept's value in a formula: bare, the quantity in its declared unit; `in UNIT`, the plain
    number of that quantity in UNIT (for empirical formulas written in fixed units)."""

    span: Span
    ref: Ref
    unit: str | None = None


@dataclass(frozen=True)
class Arithmetic:
    """`left op right` with op one of `+ - * /`."""

    span: Span
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Power:
    """`height^2`, `(creatinine in mg/dL)^-1.154`: a power of a written number; a fractional one
    needs a plain base. `0.993^(age in years)`: an exponent worked out per patient, so both base
    and exponent are plain numbers (a unit to a power that varies has no dimension)."""

    span: Span
    base: Expr
    exponent: Expr


@dataclass(frozen=True)
class Choice:
    """`(0.85 if sex is female else 1)`: a conditional term, decided in the network."""

    span: Span
    condition: Condition
    then: Expr
    otherwise: Expr


@dataclass(frozen=True)
class Call:
    """`min(a, b, ...)`, `max(a, b, ...)`, `sqrt(a)`, `mean(qtcf)`; `least`, of `mean(qtcf, at
    least 3)` ("mean QTcF from 3 ECGs"): the fewest results of the day it averages."""

    span: Span
    function: str
    args: tuple[Expr, ...]
    least: int = 1


Expr = Union[Number, Reading, Arithmetic, Power, Choice, Call]


def subexpressions(expr: Expr) -> list[Expr]:
    """`expr` and every expression under it, depth first, left to right (conditions not entered)."""
    if isinstance(expr, Arithmetic):
        inner = [expr.left, expr.right]
    elif isinstance(expr, Power):
        inner = [expr.base, expr.exponent]
    elif isinstance(expr, Choice):
        inner = [expr.then, expr.otherwise]
    elif isinstance(expr, Call):
        inner = list(expr.args)
    else:
        inner = []
    return [expr, *(e for i in inner for e in subexpressions(i))]


def formula_names(expr: Expr) -> list[str]:
    """The names a formula reads, values and conditions alike, in first-use order."""
    from protocol.model import atoms  # the model reads this module: imported when called

    names: list[str] = []
    for node in subexpressions(expr):
        if isinstance(node, Reading):
            found = [node.ref.name]
        elif isinstance(node, Choice):
            found = [a.ref.name for a in atoms(node.condition)]
        else:
            found = []
        for name in found:
            if name not in names:
                names.append(name)
    return names
