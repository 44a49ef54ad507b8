"""The clauses of a history's filter, as the parser builds them: `where route is intravenous`,
`other than {...}`, `dose > 10 mg/d`, `diameter >= 10 mm`, and clauses in parentheses, `(line is 1
or response is refractory)`. Apart from the rest of the model (`protocol/model.py`, which reads
them under the same names: `m.Where`), as windows are (`protocol/windows.py`), so that neither
grows past what one reads at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from protocol.errors import Span

if TYPE_CHECKING:
    from protocol.model import Quantity, Ref, Value


@dataclass(frozen=True)
class Where:
    """One clause of a filter on a history's items: `type is not basal_cell_carcinoma`, `drug is
    one of {pembrolizumab, nivolumab}`, `dose > 10 mg/d`. `attribute` None is `other than {...}`
    (the drug of a medication, an event's first declared attribute, negated)."""

    span: Span
    attribute: Ref | None
    values: tuple[Value, ...] = ()
    negated: bool = False
    op: str | None = None  # a dose clause: its comparison and dose
    dose: Quantity | None = None
    amount: Quantity | None = None  # a number's clause (`diameter >= 10 mm`), with `op`

    def __str__(self) -> str:
        if self.dose is not None:
            return f"dose {self.op} {self.dose}"
        if self.amount is not None:
            assert self.attribute is not None
            return f"{self.attribute.name} {self.op} {self.amount}"
        names = ", ".join(v.name for v in self.values)
        if self.attribute is None:
            return f"other than {{{names}}}"
        word = "is not" if self.negated else "is"
        if len(self.values) == 1:
            return f"{self.attribute.name} {word} {names}"
        return f"{self.attribute.name} {word} one of {{{names}}}"


@dataclass(frozen=True)
class Either:
    """`(line is 1 or response is refractory)`: one clause of a filter that an item passes when
    it passes any of the clauses in the parentheses (Kleene's `or`: it surely passes one, or it
    surely fails each). Written in parentheses, so an `or` after a filter still joins
    conditions."""

    span: Span
    clauses: tuple[Where, ...]

    def __str__(self) -> str:
        return "(" + " or ".join(str(clause) for clause in self.clauses) + ")"


#: One clause of a filter, as the `and`s between them write them.
Clause = Union[Where, Either]


def clauses(filters: tuple[Clause, ...]) -> list[Where]:
    """Every clause a filter writes, each inside parentheses too, left to right."""
    return [c for clause in filters
            for c in (clause.clauses if isinstance(clause, Either) else (clause,))]
