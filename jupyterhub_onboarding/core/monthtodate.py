"""A month to date against the same days of the month before: the moment to cut the
previous month at, and its figures up to that moment. Pure.

On 4 December at 14:34 the report compares December so far with 1 November 00:00 to
4 November 14:34, not with the whole of November: four days against thirty would read as
a collapse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from .clock import as_utc
from .rules import add_months, month_label, month_of
from .status.model import MonthCount
from .usage import MonthUsage, SessionRecord, day_label, month_bounds, month_usage


def same_point_previous_month(now: datetime) -> datetime:
    """The moment as far into the previous month as *now* is into its own, at most the
    previous month's end: 4 December 14:34 -> 4 November 14:34; 31 March 12:00 -> 1 March
    00:00 (the end of February)."""
    now = as_utc(now)
    start, _end = month_bounds(month_of(now))
    previous_start, previous_end = month_bounds(add_months(month_of(now), -1))
    return min(previous_start + (now - start), previous_end)


def days_mask(month: int, until: datetime) -> int:
    """The bits of *month*'s activity mask for its days up to *until*'s day (that day
    included, as the month to date includes today); every day once *until* is past the
    month."""
    if as_utc(until) >= month_bounds(month)[1]:
        return (1 << 31) - 1
    return (1 << as_utc(until).day) - 1


def usage_until(
    records: Iterable[SessionRecord],
    month: int,
    until: datetime,
    *,
    daily_peaks: Mapping[str, int] | None = None,
) -> MonthUsage:
    """The figures of *month* counted only up to *until*: the sessions started before it,
    each running at most until it, and the daily peaks of the days up to its day."""
    until = as_utc(until)
    cut = (
        record
        if record.ended is None or as_utc(record.ended) <= until
        else replace(record, ended=None)
        for record in records
        if as_utc(record.started) < until
    )
    last_day = day_label(until)
    peaks = {day: count for day, count in (daily_peaks or {}).items() if day <= last_day}
    return month_usage(cut, month, until, daily_peaks=peaks)


@dataclass(frozen=True)
class MonthToDate:
    """A month counted up to *until* (no usernames)."""

    until: datetime
    mau: MonthCount
    new_users: int
    usage: MonthUsage


def empty_month_to_date(now: datetime) -> MonthToDate:
    """The month before *now*'s with nothing counted up to the same point (no data yet)."""
    until = same_point_previous_month(now)
    label = month_label(add_months(month_of(now), -1))
    return MonthToDate(until, MonthCount(label, 0, 0), 0, MonthUsage(label))
