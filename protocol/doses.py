"""The conditions on a medication's doses and courses, as the parser builds them: a course's dose
and length, treated without a break, the dose on a day, a dose summed over days (its total,
average, highest, or the days taken), and a stable dose. Apart from the rest of the model
(`protocol/model.py`, which reads them under the same names: `m.CurrentDose`), as the windows
and the filters' clauses are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from protocol.errors import Span

if TYPE_CHECKING:
    from protocol.filters import Clause
    from protocol.model import Duration, Quantity, Ref
    from protocol.windows import Anchor, Window


@dataclass(frozen=True)
class Course:
    """`glucocorticoid dose >= 1 mg/kg/d for at least 3 months`: one course meets dose and length."""

    span: Span
    ref: Ref
    op: str
    dose: Quantity
    duration: Duration | None


@dataclass(frozen=True)
class Continuous:
    """`metformin for at least 12 weeks`: treated without a break for that long up to screening,
    across consecutive courses (a dose change or a switch between the list's drugs is a new
    course, not a break); `before` an anchor (`for at least 12 weeks before screening`), through
    the `duration` up to that day: one run covers every day from `anchor - duration` to it."""

    span: Span
    ref: Ref
    duration: Duration
    anchor: Anchor | None = None  # None: the screening date, where `before` is written
    before: bool = False


@dataclass(frozen=True)
class CurrentDose:
    """`glucocorticoid dose at screening <= 10 mg/d`: the daily dose on the anchor day, summed
    over the courses that cover it (in the unit the medication is dosed in)."""

    span: Span
    ref: Ref
    anchor: Anchor | None  # None: the screening date
    op: str
    dose: Quantity
    filters: tuple[Clause, ...] = ()  # those a filter keeps (`where route is oral`); (): all


@dataclass(frozen=True)
class CumulativeDose:
    """`glucocorticoid cumulative dose >= 420 mg`: each course's daily dose times the days it
    was taken, summed over the courses, up to the screening date; with a window (`within 12
    months before screening`), the days inside it only. In the daily dose's unit times a day
    (`mg/d` sums to `mg`, `mg/kg/d` to `mg/kg`).

    `reading` AVERAGE (`glucocorticoid average daily dose >= 7.5 mg/d within 28 days before
    screening`): the same sum over a window's days divided by their number, in the daily dose's
    unit; HIGHEST (`glucocorticoid highest daily dose > 10 mg/d within 14 days before
    first_dose`, "more than 10 mg a day of prednisone or equivalent within 14 days"): the most
    taken on any one day of the window, the courses of that day summed; DAYS (`tki total
    duration > 14 days`, "prior TKI for no more than 2 weeks"): the days any course covers, each
    counted once, its `dose` a number of days. One construct, since each is the courses summed
    and read over a span's days."""

    span: Span
    ref: Ref
    op: str
    dose: Quantity
    window: Window  # "ever", or `within D before A`
    reading: str = "total"  # TOTAL, AVERAGE, HIGHEST or DAYS
    filters: tuple[Clause, ...] = ()  # those a filter keeps (`where route is oral`); (): all

    @property
    def daily(self) -> bool:
        """Whether it reads a daily dose (an average or the highest), not a total over days."""
        return self.reading in (AVERAGE, HIGHEST)


#: How a `CumulativeDose` reads the daily doses of its span: their sum, its average per day, the
#: highest of a day; or the days taken, whatever the dose.
TOTAL, AVERAGE, HIGHEST, DAYS = "total", "average", "highest", "days"


@dataclass(frozen=True)
class StableDose:
    """`glucocorticoid dose stable for at least 30 days before screening`: a course covers every
    day from `anchor - duration` to the anchor, and no course starts or ends in between (a
    course is one daily dose, so a change of dose is a course ending and another starting)."""

    span: Span
    ref: Ref
    duration: Duration
    anchor: Anchor | None  # None: the screening date
