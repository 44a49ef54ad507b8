"""Calendar arithmetic for windows, ages and course lengths: dates in, day numbers out.

One documented meaning, used by the normaliser for every window bound, staleness check, age and
course length: months and years keep the day of month and clamp to the month's end; a date may be
known to the day (YYYY-MM-DD), the month (YYYY-MM) or the year (YYYY), and then spans its days.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from protocol import model as m


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
    if months > 0 and add_months(start, months) > end:
        months -= 1
    return max(months, 0)


def add_months(day: date, months: int) -> date:
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    if day.day <= 28:  # a day every month has
        return date(year, month + 1, day.day)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


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


@lru_cache(maxsize=65536)
def days_of(text: Any) -> tuple[date, date] | None:
    """The first and last day a date may be: YYYY-MM-DD is one day, YYYY-MM its month's days,
    YYYY its year's."""
    if not isinstance(text, str):
        return None
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


def day_of(text: Any) -> date | None:
    if not isinstance(text, str):
        return None
    return _parse_day(text)


@lru_cache(maxsize=65536)
def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None
