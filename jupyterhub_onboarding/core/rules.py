"""Who counts, and the month and window arithmetic: pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock import as_utc

#: Rolling windows shown beside MAU (never called MAU).
ROLLING_WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "14d": timedelta(days=14),
    "30d": timedelta(days=30),
}

BASES = ("login", "server")


@dataclass(frozen=True)
class CountingRules:
    """Which hub users are counted users."""

    excluded_users: frozenset[str] = field(default_factory=frozenset)
    excluded_pattern: re.Pattern[str] | None = None
    count_admins: bool = True

    def is_counted(self, name: str, admin: bool) -> bool:
        """True when *name* counts toward first value and MAU."""
        if name in self.excluded_users:
            return False
        if self.excluded_pattern is not None and self.excluded_pattern.fullmatch(name):
            return False
        return self.count_admins or not admin


def month_of(value: datetime) -> int:
    """The UTC calendar month of *value* as an integer ``YYYYMM``."""
    value = as_utc(value)
    return value.year * 100 + value.month


def month_label(month: int) -> str:
    """``202611`` -> ``"2026-11"``."""
    return f"{month // 100:04d}-{month % 100:02d}"


#: The first and the last month whose bounds are dates (the last one ends on 9999-12-01).
FIRST_MONTH = 101
LAST_MONTH = 999911


def parse_month(label: str) -> int:
    """``"2026-11"`` -> ``202611``; ValueError for anything else, and for a month whose
    start or end a date cannot hold (before 0001-01, or 9999-12, which ends in the year
    10000)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", label or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"month must look like YYYY-MM, got {label!r}")
    month = int(match.group(1)) * 100 + int(match.group(2))
    if not FIRST_MONTH <= month <= LAST_MONTH:
        raise ValueError(f"month must be from 0001-01 to 9999-11, got {label!r}")
    return month


def add_months(month: int, delta: int) -> int:
    """Shift a ``YYYYMM`` month by *delta* months (negative goes back)."""
    index = (month // 100) * 12 + (month % 100 - 1) + delta
    return (index // 12) * 100 + index % 12 + 1


def last_months(current: int, count: int) -> list[int]:
    """The *count* months ending with *current*, oldest first."""
    return [add_months(current, -offset) for offset in range(count - 1, -1, -1)]


def day_bit(value: datetime) -> int:
    """The bit for the UTC day of month of *value* in a month's activity mask."""
    return 1 << (as_utc(value).day - 1)
