"""An age told in a unit of the calendar, on a day, as the ages in completed years it allows on
another day: every birth date the told age allows (`engine.dates.born_between`), counted there
(`engine.dates.ages`). 6,574 days is born 6,574 days before, never an average year's days; 74
years on 2025-01-01 is born from 1950-01-02 to 1951-01-01, so 75 or 76 on 2026-06-01. The
normaliser (`engine.values.Values._ages`) writes what this works out into the record."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache

from engine.dates import ages, born_between
from protocol.units import UnitProblem, factor


@lru_cache(maxsize=256)
def calendar_steps(unit: str | None, aliases) -> tuple[int, int] | None:
    """An age's unit as calendar steps: (months, 0) for a whole number of months (a year is
    12), (0, days) for a whole number of days (a week is 7); None for no unit or another (the
    unit's problem is said where it is converted).

    >>> calendar_steps("years", ()), calendar_steps("wk", ()), calendar_steps("h", ())
    ((12, 0), (0, 7), None)
    """
    if not unit:
        return None
    for target, step in (("day", lambda n: (0, n)), ("month", lambda n: (n, 0))):
        try:
            found = factor(unit, target, aliases=aliases)
        except UnitProblem:
            return None
        if found == found.to_integral_value() and found >= 1:
            return step(int(found))
    return None


def ages_told(told: tuple[date, date], on: tuple[date, date], steps: tuple[int, int],
              low: Decimal, high: Decimal | None, high_open: bool) -> tuple[int, int | None]:
    """The youngest and oldest completed years on a day of `on` of someone told, on a day of
    `told`, to be `low` to `high` (None: no bound; `high_open`: below it) completed `steps`
    old; no oldest without a bound. Raises OverflowError beyond the calendar.

    >>> d = date(2025, 1, 1), date(2025, 1, 1)
    >>> ages_told(d, (date(2026, 6, 1),) * 2, (12, 0), Decimal(74), Decimal(74), False)
    (75, 76)
    """
    whole = None if high is None else int(high.to_integral_value(rounding=ROUND_CEILING)) - 1 \
        if high_open else int(high.to_integral_value(rounding=ROUND_FLOOR))
    least = int(low.to_integral_value(rounding=ROUND_FLOOR))
    months, days = steps
    first = born_between(told[0], least, whole, months=months, days=days)
    last = first if told[1] == told[0] else \
        born_between(told[1], least, whole, months=months, days=days)
    youngest, oldest = ages((first[0], last[1]), on)
    return youngest, None if high is None else oldest
