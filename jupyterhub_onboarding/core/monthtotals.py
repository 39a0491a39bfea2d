"""One month's usage kept as running totals, session by session: for the refresh after a poll
(the current month) and for reading a past month as a stream. Pure, like ``usage``.

An ended session's part of the month is added to the month's totals and its user's, and let
go; running sessions are kept and counted afresh at each reading. Memory follows the month's
users and running servers, not its sessions.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import pairwise

from .clock import as_utc
from .usage import (
    LabelTally,
    MonthUsage,
    SessionRecord,
    UserMonth,
    month_bounds,
    month_part,
    tally_labels,
    usage_of_month,
)


@dataclass(slots=True)
class UserPart:
    """One user's sessions in a month: how many started in it, their seconds in it and the
    minutes of each ended part (as the medians take them)."""

    sessions: int = 0
    seconds: float = 0.0
    lengths: list[float] = field(default_factory=list)


def user_parts(records: Iterable[SessionRecord], month: int, now: datetime) -> dict[int, UserPart]:
    """Per user id, their part of *month* (open sessions run until *now*)."""
    acc = MonthAccumulator(month)
    for number, record in enumerate(records):
        acc.put(number, record)
    return acc.parts(now)


#: One user's ended sessions in a month: (started in it, seconds in it, latest end as a Unix
#: time).
ClosedUser = tuple[int, float, float]

#: Grow the per-user columns to at least this many ids at a time.
_GROWTH = 1024


class ClosedTotals(Mapping[int, ClosedUser]):
    """Per user id, the totals of their ended sessions in a month (:data:`ClosedUser`), kept in
    three columns of numbers indexed by the id: a few dozen bytes per user id, no object per
    user, whatever the month holds. User ids are the store's row ids (small, non-negative)."""

    def __init__(self) -> None:
        self._started = array("q")
        self._seconds = array("d")
        #: The latest end; NaN where the user has no ended session in the month.
        self._end = array("d")
        self._count = 0

    def add(self, user_id: int, started: int, seconds: float, end: float) -> None:
        """Add one ended session's part to *user_id*'s totals."""
        if user_id < 0:
            raise ValueError(f"user ids are not negative: {user_id}")
        size = len(self._end)
        if user_id >= size:
            grow = max(user_id + 1 - size, size, _GROWTH)
            self._started.extend(array("q", [0]) * grow)
            self._seconds.extend(array("d", [0.0]) * grow)
            self._end.extend(array("d", [math.nan]) * grow)
        if math.isnan(self._end[user_id]):
            self._count += 1
            self._end[user_id] = end
        else:
            self._end[user_id] = max(self._end[user_id], end)
        self._started[user_id] += started
        self._seconds[user_id] += seconds

    def __getitem__(self, user_id: object) -> ClosedUser:
        if not isinstance(user_id, int) or not 0 <= user_id < len(self._end):
            raise KeyError(user_id)
        end = self._end[user_id]
        if math.isnan(end):
            raise KeyError(user_id)
        return self._started[user_id], self._seconds[user_id], end

    def __contains__(self, user_id: object) -> bool:
        return (
            isinstance(user_id, int)
            and 0 <= user_id < len(self._end)
            and not math.isnan(self._end[user_id])
        )

    def __iter__(self) -> Iterator[int]:
        for user_id, end in enumerate(self._end):
            if end == end:  # not NaN
                yield user_id

    def __len__(self) -> int:
        return self._count


class MonthRows(Mapping[int, UserMonth]):
    """The per-user figures of a month as :func:`user_months` gives them, made on demand from
    a :class:`MonthAccumulator`'s totals (no object kept per user). A view: the running
    sessions are those of the accumulator's last :meth:`~MonthAccumulator.users` call."""

    def __init__(
        self, closed: Mapping[int, ClosedUser], running: Mapping[int, tuple[int, float, int]]
    ) -> None:
        self._closed = closed
        self._running = running

    def __getitem__(self, user_id: int) -> UserMonth:
        closed = self._closed.get(user_id)
        running = self._running.get(user_id)
        if closed is None and running is None:
            raise KeyError(user_id)
        started = (closed[0] if closed else 0) + (running[0] if running else 0)
        seconds = (closed[1] if closed else 0.0) + (running[1] if running else 0.0)
        last_end = None if closed is None else datetime.fromtimestamp(closed[2], timezone.utc)
        return UserMonth(int(started), round(seconds, 3), last_end, running[2] if running else 0)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._closed or user_id in self._running

    def seconds(self) -> Iterator[float]:
        """Each user's seconds in the month, as their row gives them (no row made)."""
        running = self._running
        for user_id, closed in self._closed.items():
            extra = running.get(user_id)
            yield round(closed[1] + (extra[1] if extra else 0.0), 3)
        for user_id, (_started, seconds, _count) in running.items():
            if user_id not in self._closed:
                yield round(seconds, 3)

    def __iter__(self) -> Iterator[int]:
        yield from self._closed
        yield from (user_id for user_id in self._running if user_id not in self._closed)

    def __len__(self) -> int:
        return len(self._closed) + sum(1 for u in self._running if u not in self._closed)


class MonthAccumulator:
    """One month's figures kept up to date session by session, for the refresh after a poll.

    An ended session's part of the month never changes again, so it is added once to running
    totals (the month's, its user's, and two arrays of numbers for the medians) and not kept;
    the running sessions are kept and counted afresh each time. Memory follows the month's
    users and running servers, a few bytes per ended session. :meth:`figures` equals
    :func:`month_usage` and :meth:`users` equals :func:`user_months` over the same sessions,
    at a cost in proportion to the running sessions and those that changed. A past month is
    computed by putting its sessions one by one as they are read.
    """

    def __init__(self, month: int) -> None:
        self.month = month
        self.start, self.end = month_bounds(month)
        #: The running sessions, by id.
        self.open: dict[int, SessionRecord] = {}
        #: The ids of the ended sessions added: those :meth:`load` read (one sorted column)
        #: and those :meth:`put` added (a set).
        self._loaded_ids = array("q")
        self._closed_ids: set[int] = set()
        self._sessions = 0
        self._seconds = 0.0
        #: Per ended part: its user and its minutes (side by side, no object per session).
        self._ended_users = array("q")
        self._ended_minutes = array("d")
        self._sorted_minutes: list[float] | None = []
        self._labels: tuple[LabelTally, LabelTally] = ({}, {})
        self._closed_users = ClosedTotals()
        self._running: dict[int, tuple[int, float, int]] = {}
        self._dirty: set[int] = set()

    def _part(self, record: SessionRecord, now: datetime) -> tuple[bool, float, datetime] | None:
        return month_part(record, self.start, self.end, now)

    def put(self, session_id: int, record: SessionRecord | None) -> bool:
        """Take the current state of one session (None: it no longer counts in the month).

        Returns False when an ended session would leave the month, which only a change of
        who is counted can cause: the caller then builds the month again. An ended session
        given again is already counted (its end never moves).
        """
        if self._is_closed(session_id):
            return record is not None and record.ended is not None
        old = self.open.pop(session_id, None)
        if old is not None:
            self._dirty.add(old.user_id)
        if record is None:
            return True
        self._dirty.add(record.user_id)
        if record.ended is None:
            self.open[session_id] = record
            return True
        if self._add_ended(record):
            self._closed_ids.add(session_id)
        return True

    def load(self, sessions: Iterable[tuple[int, SessionRecord]]) -> None:
        """Take the month's sessions as one reading gives them, by id (each id once, none
        given before): as :meth:`put` for each, keeping a few bytes per ended session, except
        that the users of ended sessions are not marked changed (a month read afresh is
        written whole; the users of running sessions always count as changed)."""
        loaded = self._loaded_ids
        for session_id, record in sessions:
            if record.ended is None:
                self.open[session_id] = record
            elif self._add_ended(record):
                loaded.append(session_id)
        if any(a > b for a, b in pairwise(loaded)):
            self._loaded_ids = array("q", sorted(loaded))

    def _is_closed(self, session_id: int) -> bool:
        if session_id in self._closed_ids:
            return True
        loaded = self._loaded_ids
        at = bisect.bisect_left(loaded, session_id)
        return at < len(loaded) and loaded[at] == session_id

    def _add_ended(self, record: SessionRecord) -> bool:
        """Add an ended session's part to the totals; False when it is not in the month."""
        assert record.ended is not None
        part = self._part(record, record.ended)
        if part is None:
            return False
        started_here, seconds, _part_end = part
        self._sessions += started_here
        self._seconds += seconds
        minutes = seconds / 60.0
        self._ended_users.append(record.user_id)
        self._ended_minutes.append(minutes)
        self._sorted_minutes = None
        tally_labels(self._labels, record, started_here, seconds)
        end = as_utc(record.ended).timestamp()
        self._closed_users.add(record.user_id, int(started_here), seconds, end)
        return True

    def figures(
        self,
        now: datetime,
        *,
        daily_peaks: Mapping[str, int] | None = None,
        label_limit: int = 20,
    ) -> MonthUsage:
        sessions, seconds = self._sessions, self._seconds
        closed_users = self._closed_users
        extra_users: set[int] = set()
        profiles, images = ({k: list(v) for k, v in table.items()} for table in self._labels)
        labels = (profiles, images)
        extra_lengths = []
        for record in self.open.values():
            part = self._part(record, now)
            if part is None:
                continue
            started_here, part_seconds, part_end = part
            sessions += started_here
            seconds += part_seconds
            if record.user_id not in closed_users:
                extra_users.add(record.user_id)
            if part_end == self.end:
                extra_lengths.append(part_seconds / 60.0)
            tally_labels(labels, record, started_here, part_seconds)
        if self._sorted_minutes is None:
            self._sorted_minutes = sorted(self._ended_minutes)
        lengths = self._sorted_minutes
        return usage_of_month(
            self.month,
            sessions=sessions,
            users=len(closed_users) + len(extra_users),
            seconds=seconds,
            lengths=lengths + sorted(extra_lengths) if extra_lengths else lengths,
            labels=labels,
            daily_peaks=daily_peaks,
            label_limit=label_limit,
        )

    def parts(self, now: datetime) -> dict[int, UserPart]:
        """Per user id, their part of the month now (what the usage per group is made of),
        made on demand."""
        found = {
            user_id: UserPart(started, seconds)
            for user_id, (started, seconds, _end) in self._closed_users.items()
        }
        for user_id, minutes in zip(self._ended_users, self._ended_minutes, strict=True):
            found[user_id].lengths.append(minutes)
        for record in self.open.values():
            part = self._part(record, now)
            if part is None:
                continue
            started_here, seconds, part_end = part
            entry = found.setdefault(record.user_id, UserPart())
            entry.sessions += started_here
            entry.seconds += seconds
            if part_end == self.end:
                entry.lengths.append(seconds / 60.0)
        return found

    def users(self, now: datetime) -> tuple[MonthRows, set[int]]:
        """Per user id what :func:`user_months` gives, and the user ids changed since the last
        call (those with running sessions always count as changed: their time grows)."""
        now = as_utc(now)
        running: dict[int, tuple[int, float, int]] = {}
        for record in self.open.values():
            part = self._part(record, now)
            if part is None:
                continue
            started, seconds, count = running.get(record.user_id, (0, 0.0, 0))
            running[record.user_id] = (started + part[0], seconds + part[1], count + 1)
        changed = self._dirty | set(self._running) | set(running)
        self._dirty = set()
        self._running = running
        return MonthRows(self._closed_users, running), changed
