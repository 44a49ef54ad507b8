"""Calendar arithmetic for windows, ages and course lengths: dates in, day numbers out.

One documented meaning, used by the normaliser for every window bound, staleness check, age and
course length: months and years keep the day of month and clamp to the month's end; a date may be
known to the day (YYYY-MM-DD), the month (YYYY-MM) or the year (YYYY), and then spans its days.

The calendar this tool reads runs from `FIRST_DAY` to `LAST_DAY`: a date outside it is refused
(`date_problem` says so), never read, so that no window, age or course length computed from it
reaches the ends of Python's calendar (year 1, year 9999) where arithmetic overflows.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from protocol import model as m
from protocol.messages import FACT_MESSAGES

#: The first and last day a fact file may name: well before any living patient's birth, well
#: after any trial now planned.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2200, 12, 31)
#: The day number of an occurrence's first day when its fact gives no date (any day up to
#: screening): no day the calendar reads is earlier, so a day counted from it is before
#: `FIRST_DAY` too, and the trail says "not recorded" for it rather than its year 1 date.
UNDATED = date.min.toordinal()
#: The first day number the calendar reads.
FIRST_DAY_NUMBER = FIRST_DAY.toordinal()


def shift(day: date, duration: m.Duration, sign: int = -1) -> date:
    """`day` minus (`sign` -1) or plus (+1) a calendar duration; months and years clamp to the
    month's end (Aug 31 - 6 months is Feb 28 or 29; Jan 31 + 1 month is Feb 28 or 29), so a window
    always has a first and a last day. This is what `day -/+ relativedelta(...)` gives, in plain
    date arithmetic: it runs for every window and every dated measurement of every patient, where
    relativedelta costs several microseconds a call. Beyond the calendar (year 1 or 9999) it stops
    at the calendar's first or last day."""
    try:
        if duration.unit in ("days", "weeks"):
            days = duration.amount * (7 if duration.unit == "weeks" else 1)
            return day + timedelta(days=sign * days)
        return add_months(day, sign * duration.amount * (12 if duration.unit == "years" else 1))
    except (OverflowError, ValueError):
        return date.min if sign < 0 else date.max


def completed_months(start: date, end: date) -> int:
    """Whole calendar months from start to end: the largest k with start + k months <= end, the day
    clamped to the month's end as in windows. 2026-01-15 to 2026-04-15 is 3, to 2026-04-14 is 2;
    2026-01-31 to 2026-04-30 is 3 (Jan 31 + 3 months is Apr 30). Divided by 12, the completed years
    (`relativedelta(end, start).years`: born 2004-02-29, 1 year old on 2005-02-28)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    # start + months falls in end's month, on start's day clamped to that month's length
    if months > 0 and (start.day if start.day <= 28 else
                       min(start.day, monthrange(end.year, end.month)[1])) > end.day:
        months -= 1
    return max(months, 0)


def add_months(day: date, months: int) -> date:
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    if day.day <= 28:  # a day every month has
        return date(year, month + 1, day.day)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def ages(born: tuple[date, date], on: tuple[date, date]) -> tuple[int, int]:
    """The youngest and oldest age in completed years of someone born on a day from `born[0]` to
    `born[1]`, counted on a day from `on[0]` to `on[1]` (0 on a day before the birth).

    >>> ages((date(1950, 1, 1), date(1950, 12, 31)), (date(2026, 6, 15),) * 2)
    (75, 76)
    >>> ages((date(2026, 6, 1), date(2026, 6, 30)), (date(2026, 6, 15),) * 2)
    (0, 0)
    """
    return (completed_months(min(born[1], on[0]), on[0]) // 12,
            completed_months(min(born[0], on[1]), on[1]) // 12)


def born_between(day: date, youngest: int, oldest: int | None, *, months: int = 0,
                 days: int = 0) -> tuple[date, date]:
    """The first and last birth date of someone `youngest` to `oldest` completed steps old on
    `day` (no oldest: the calendar's first day), a step being `months` calendar months (12: a
    year) or `days` days (7: a week). Months count as `completed_months` does, a birthday on 29
    February too: 1 year old on 2005-02-28 is born from 2003-03-01 to 2004-02-29. Raises
    OverflowError beyond the calendar.

    >>> [str(d) for d in born_between(date(2005, 2, 28), 1, 1, months=12)]
    ['2003-03-01', '2004-02-29']
    >>> [str(d) for d in born_between(date(2025, 1, 1), 74, 74, months=12)]
    ['1950-01-02', '1951-01-01']
    >>> [str(d) for d in born_between(date(2026, 6, 1), 6574, 6574, days=1)]
    ['2008-06-01', '2008-06-01']
    """
    one = timedelta(days=1)
    if days:
        last = day - timedelta(days=youngest * days)
        first = date.min if oldest is None else day - timedelta(days=(oldest + 1) * days - 1)
        return first, last

    def steps(born: date) -> int:
        return completed_months(born, day) // months

    try:
        last = add_months(day, -months * youngest)
        first = date.min if oldest is None else add_months(day, -months * (oldest + 1))
    except ValueError:
        raise OverflowError(f"{youngest} steps of {months} months before {day}") from None
    while steps(last + one) >= youngest:
        last += one
    while oldest is not None and steps(first) > oldest:
        first += one
    return first, last


def length(first: int, last: int) -> tuple[int, int]:
    """Completed calendar months and days from day `first` to day `last` (0 if before it)."""
    if last < first:
        return 0, 0
    return completed_months(date.fromordinal(first), date.fromordinal(last)), last - first


def runs(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """For each span of days (first, last), the first and last day of the run of consecutive
    spans it belongs to: spans join when the next one starts on or before the day after the run's
    last day. An empty span (last < first) is a run of its own.

    >>> runs([(1, 10), (11, 20), (30, 40), (5, 4)])
    [(1, 20), (1, 20), (30, 40), (5, 4)]
    >>> runs([(10, 20), (1, 12)])  # in any order
    [(1, 20), (1, 20)]
    """
    found = list(spans)
    order = sorted((i for i, (first, last) in enumerate(spans) if first <= last),
                   key=lambda i: spans[i])
    group: list[int] = []
    end = None
    for i in order + [None]:
        if i is None or (end is not None and spans[i][0] > end + 1):
            for j in group:
                found[j] = (spans[group[0]][0], end)
            group, end = [], None
        if i is not None:
            group.append(i)
            end = spans[i][1] if end is None else max(end, spans[i][1])
    return found


def days_of(text: Any) -> tuple[date, date] | None:
    """The first and last day a date may be: YYYY-MM-DD is one day, YYYY-MM its month's days,
    YYYY its year's; None for anything else, or for a date outside the calendar."""
    return days_of_text(text) if isinstance(text, str) else None


def month_days(day: date) -> list[date]:
    """Every day of `day`'s month, as a date known only to the month may be.

    >>> [str(d) for d in month_days(date(2024, 2, 10))][::14]
    ['2024-02-01', '2024-02-15', '2024-02-29']
    """
    return [day.replace(day=n) for n in range(1, monthrange(day.year, day.month)[1] + 1)]


def known_only(text: Any) -> str | None:
    """How a date that is not one day is known, for what needs its day (a dose on it, an age at
    it); None for a day, or what is no date.

    >>> known_only("2024-02"), known_only("2024"), known_only("2024-02-03"), known_only("x")
    ('known only to the month (2024-02)', 'known only to the year (2024)', None, None)
    """
    if days_of(text) is None or len(text) == 10:
        return None
    return f"known only to the {'month' if len(text) == 7 else 'year'} ({text})"


def day_of(text: Any) -> date | None:
    """The day a YYYY-MM-DD date names; None for anything else, or outside the calendar (a
    date-time is made its day where the field is read: `day_written`)."""
    if not isinstance(text, str) or len(text) != 10:
        return None
    days = days_of_text(text)
    return days[0] if days else None


#: An ISO 8601 date-time, as exports and Parquet timestamps write them: `2026-05-18T10:30:00`,
#: `2026-05-18 10:30`, with seconds, their fraction and a zone, or not.
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](?:[01]\d|2[0-3]):[0-5]\d"
                        r"(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?")


def day_written(given: Any) -> Any:
    """A date-time as the day written in it; anything else as it is, to be read as a date or
    refused. Facts are dated to the day, and the day as written is the clinical day where it
    was recorded: the time and its zone are dropped, not converted (a conversion to another
    zone could move the day), as the FHIR reader does.

    >>> day_written("2026-05-18T23:30:00-05:00"), day_written("2026-05-18 08:15")
    ('2026-05-18', '2026-05-18')
    >>> day_written("2026-05-18T25:00"), day_written("2026-05")
    ('2026-05-18T25:00', '2026-05')
    """
    if isinstance(given, str) and len(given) > 10:
        found = _DATE_TIME.fullmatch(given)
        if found is not None:
            return found[1]
    return given


def day_numbers(text: Any) -> tuple[int, int] | None:
    """`days_of` as day numbers (`date.toordinal()`), as occurrences and the network count days.

    >>> day_numbers("2026-02")
    (739648, 739675)
    """
    return day_numbers_of_text(text) if isinstance(text, str) else None


@lru_cache(maxsize=65536)
def day_numbers_of_text(text: str) -> tuple[int, int] | None:
    """`day_numbers` for what is known to be text (an occurrence's dates, checked when its facts
    were grouped): read once per distinct text."""
    days = days_of_text(text)
    return (days[0].toordinal(), days[1].toordinal()) if days else None


@lru_cache(maxsize=65536)
def days_of_text(text: str) -> tuple[date, date] | None:
    """`days_of` for what is known to be text: the normaliser's per-fact path calls it without
    the check; read once per distinct text."""
    span = _span(text)
    return span if span and FIRST_DAY <= span[0] and span[1] <= LAST_DAY else None


def _span(text: str) -> tuple[date, date] | None:
    """The days `text` names in Python's own calendar (years 1 to 9999), limits aside."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return day, day
        if len(text) == 7 and text[4] == "-":
            year, month = int(text[:4]), int(text[5:])
            return date(year, month, 1), date(year, month, monthrange(year, month)[1])
        if len(text) == 4:
            return date(int(text), 1, 1), date(int(text), 12, 31)
    except ValueError:
        return None
    return None


#: What a JSON value that is not text is, for messages.
_JSON_KINDS = ((bool, "true or false"), (dict, "an object"), (list, "an array"),
               ((int, float, Decimal), "a number"))


def date_problem(given: Any, form: str = "YYYY-MM-DD") -> str:
    """Why `given` is not a date `day_of` or `days_of` reads, in the reader's words: a date
    outside the calendar says so, rather than "not a date"; anything else shows the form.

    >>> date_problem("1800-01-01")
    "'1800-01-01' lies outside the calendar this tool reads (1900-01-01 to 2200-12-31)"
    >>> date_problem("18/05/2026")
    "not a date (YYYY-MM-DD): '18/05/2026'"
    """
    if not isinstance(given, str):
        kind = next((word for kinds, word in _JSON_KINDS if isinstance(given, kinds)), "null")
        return f"not a date ({form}): found {kind}"
    if outside_calendar(given):
        return calendar_problem(given)
    return f"not a date ({form}): {given!r}"


def outside_calendar(given: Any) -> bool:
    """Whether `given` is a date Python reads (to the day, month or year) that lies outside the
    calendar of this tool."""
    return isinstance(given, str) and _span(given) is not None and days_of_text(given) is None


def calendar_problem(shown: str) -> str:
    """The calendar's limits, as a date outside them is refused."""
    return FACT_MESSAGES["calendar"].format(date=shown, first=FIRST_DAY, last=LAST_DAY)
