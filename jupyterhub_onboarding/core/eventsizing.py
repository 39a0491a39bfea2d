"""Planned against actual: the sizing hint shown when an event is planned (the hub's recent
peak and the last past event of its kind) and the actual figures of an event's window."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from .clock import as_utc
from .events import Actual, Event

#: How many days of history the sizing hint's peak looks back.
SIZING_DAYS = 90


@dataclass(frozen=True)
class SizingHint:
    """History to size an event by: the hub's recent peak and a past event of its kind."""

    expected_attendees: int
    peak_concurrent_servers: int | None
    days: int = SIZING_DAYS
    similar_title: str | None = None
    similar_start: datetime | None = None
    similar_expected: int | None = None
    similar_actual: Actual | None = None

    @property
    def lines(self) -> list[str]:
        found = []
        if self.peak_concurrent_servers is None:
            found.append(f"No servers ran in the last {self.days} days.")
        else:
            found.append(
                f"Peak concurrent servers in the last {self.days} days: "
                f"{self.peak_concurrent_servers}."
            )
            if self.expected_attendees > self.peak_concurrent_servers:
                found.append(
                    f"{self.expected_attendees} expected is "
                    f"{self.expected_attendees - self.peak_concurrent_servers} more than that peak."
                )
        if self.similar_actual is not None and self.similar_start is not None:
            found.append(
                f"Last event of this kind ({self.similar_title}, "
                f"{self.similar_start.strftime('%Y-%m-%d')}): {self.similar_expected} expected, "
                f"{self.similar_actual.users} came, peak "
                f"{self.similar_actual.peak_concurrent_servers} servers."
            )
        return found


def sizing_hint(
    event: Event, peak: int | None, events: Sequence[Event], now: datetime
) -> SizingHint:
    """The hint for *event*: *peak* of the last SIZING_DAYS, the latest past event of its kind."""
    similar = [
        other
        for other in events
        if other.id != event.id
        and other.kind == event.kind
        and other.status(now) == "done"
        and other.actual is not None
    ]
    similar.sort(key=lambda other: other.start)
    hint = SizingHint(event.expected_attendees, peak)
    if similar:
        last = similar[-1]
        hint = replace(
            hint,
            similar_title=last.title,
            similar_start=last.start,
            similar_expected=last.expected_attendees,
            similar_actual=last.actual,
        )
    return hint


@dataclass(frozen=True)
class WindowSession:
    """A session as the window's measure needs it: whose, and from when to when."""

    user_id: int
    started: datetime
    ended: datetime | None


def window_actual(
    records: Iterable[WindowSession], start: datetime, end: datetime, now: datetime
) -> Actual:
    """Sessions that ran in [start, end), their distinct users, and the most at one time.

    Open sessions run until *now*; each session is clipped to the window before the peak is
    counted (a session ending exactly when another starts does not overlap it).
    """
    start, end, now = as_utc(start), as_utc(end), as_utc(now)
    changes: list[tuple[datetime, int]] = []
    users: set[int] = set()
    count = 0
    for record in records:
        began = as_utc(record.started)
        stopped = as_utc(record.ended) if record.ended is not None else max(now, began)
        lo, hi = max(began, start), min(stopped, end)
        if lo >= hi:
            continue
        count += 1
        users.add(record.user_id)
        changes.append((lo, 1))
        changes.append((hi, -1))
    peak = running = 0
    # ends before starts at the same instant
    for _when, delta in sorted(changes, key=lambda change: (change[0], change[1])):
        running += delta
        peak = max(peak, running)
    return Actual(peak_concurrent_servers=peak, sessions=count, users=len(users))
