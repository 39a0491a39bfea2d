"""Usage figures per month, from the stored sessions.

Past months are computed once, their sessions read as a stream and added up one by one, and
kept until a poll changes a session in them; the current month is kept as running totals
(the month's, each user's, and its running sessions), so the refresh after a poll reads only
the sessions that poll opened or ended. Memory follows the users and the running servers,
not the sessions. Nothing here writes: the per-user table of the current month is handed
over as a ``MonthTable`` for ``usertable.UserTable`` to write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, Select, func, select

from ...core import usage as usage_rules
from ...core.clock import as_utc
from ...core.groups import group_usage
from ...core.monthtotals import MonthAccumulator, MonthRows, UserPart
from ...core.rules import month_of
from ...core.usage import (
    LAST_LOGIN_BUCKETS,
    SERVER_MINUTES_BUCKETS,
    MonthUsage,
    SessionRecord,
    UsageFigures,
    UserMonth,
)
from ..schema import sessions, usage_peaks, users
from ._sql import (
    COUNTED,
    execute_chunked,
    from_seconds,
    months_between,
    ran_in_month,
    to_seconds,
)
from .groups import month_active, month_members


@dataclass(frozen=True)
class MonthTable:
    """The current month's figures per user, as the per-user table lists them."""

    month: int
    #: Per user id with sessions in the month, made on demand. A view that the next refresh
    #: updates in place: write it before then.
    rows: Mapping[int, UserMonth]
    #: Users whose row may differ from the one handed over before.
    changed: frozenset[int]
    #: The month was read afresh since: every row is to be written again.
    whole: bool


def last_login_within(now: datetime, lower: float, upper: float) -> list[ColumnElement[bool]]:
    """Users whose last login is *lower* to *upper* days before *now* (an edge belongs to the
    upper bucket)."""
    conditions = [users.c.last_login_at <= now - timedelta(days=lower)]
    if upper != float("inf"):
        conditions.append(users.c.last_login_at > now - timedelta(days=upper))
    return conditions


class UsageStore:
    """The usage figures of every month with sessions, read from ``sessions`` and
    ``usage_peaks``, with the usage per group (``group_members``, ``activity``)."""

    def __init__(
        self, engine: Engine, logged_in: Callable[[Connection], int] | None = None
    ) -> None:
        self.engine = engine
        #: Counted users with a last login (the buckets' total), as the users' store keeps it.
        self._logged_in = logged_in or count_logged_in
        #: Usage figures of past months, kept until a poll changes a session in them.
        self._past: dict[int, MonthUsage] = {}
        self._label_limit: int | None = None
        #: The current month's sessions as the last refresh read them (None: read it whole).
        self._month: MonthAccumulator | None = None
        #: Sessions that polls opened or ended since (by id): the next refresh reads them.
        self._changed_sessions: set[int] = set()
        #: Users whose figures changed since the last month_table, and whether the month was
        #: read afresh since.
        self._changed_users: set[int] = set()
        self._read_afresh = False

    def poll_recorded(self, months: Iterable[int], session_ids: Iterable[int]) -> None:
        """Note what a committed poll changed: the *months* whose figures moved and the
        sessions it opened or ended."""
        for month in months:
            self._past.pop(month, None)
        self._changed_sessions.update(session_ids)

    def counting_changed(self) -> None:
        """Who is counted changed: compute every month again."""
        self._past.clear()
        self._month = None

    def figures(self, now: datetime, label_limit: int = 20) -> UsageFigures:
        """The usage figures of every month with sessions, up to *now*'s month."""
        now = as_utc(now)
        if self._label_limit != label_limit:
            self._past.clear()
            self._label_limit = label_limit
        current = month_of(now)
        with self.engine.connect() as conn:
            peaks = {row.day: row.servers for row in conn.execute(select(usage_peaks))}
            month = self._current(conn, current)
            months = []
            for each in months_between(first_month(conn, current, peaks), current):
                if each == current:
                    figures = month.figures(now, daily_peaks=peaks, label_limit=label_limit)
                    figures = with_groups(conn, figures, each, month, now, label_limit)
                else:
                    figures = self._past_month(conn, each, now, peaks, label_limit)
                months.append(figures)
            last_login = last_login_counts(conn, now, self._logged_in(conn))
        minutes = [seconds / 60.0 for seconds in self._per_user(month, now).seconds()]
        return UsageFigures(
            months=tuple(months),
            last_login_distribution=last_login,
            server_minutes_distribution=usage_rules.distribution(minutes, SERVER_MINUTES_BUCKETS),
        )

    def month_table(self, now: datetime) -> MonthTable:
        """The per-user figures of *now*'s month, and which changed since the last call."""
        now = as_utc(now)
        with self.engine.connect() as conn:
            month = self._current(conn, month_of(now))
        rows = self._per_user(month, now)
        table = MonthTable(month.month, rows, frozenset(self._changed_users), self._read_afresh)
        self._changed_users, self._read_afresh = set(), False
        return table

    def _per_user(self, month: MonthAccumulator, now: datetime) -> MonthRows:
        rows, changed = month.users(now)
        self._changed_users |= changed
        return rows

    def _past_month(
        self,
        conn: Connection,
        month: int,
        now: datetime,
        peaks: Mapping[str, int],
        label_limit: int,
    ) -> MonthUsage:
        """A past month's figures, computed once."""
        cached = self._past.get(month)
        if cached is None:
            acc = MonthAccumulator(month)
            acc.load(month_sessions(conn, month))
            cached = acc.figures(now, daily_peaks=peaks, label_limit=label_limit)
            cached = with_groups(conn, cached, month, acc, now, label_limit)
            self._past[month] = cached
        return cached

    def _current(self, conn: Connection, month: int) -> MonthAccumulator:
        """The current month's sessions: read whole once, then only those polls changed."""
        acc = self._month
        if acc is not None and acc.month == month and self._changed_sessions:
            changed = sorted(self._changed_sessions)
            fresh = month_records(conn, month, changed)
            if not all([acc.put(sid, fresh.get(sid)) for sid in changed]):
                acc = None  # an ended session changed (who is counted): read the month again
        if acc is None or acc.month != month:
            acc = MonthAccumulator(month)
            acc.load(month_sessions(conn, month))
            self._changed_users, self._read_afresh = set(), True
        self._month = acc
        self._changed_sessions = set()
        return acc


def with_groups(
    conn: Connection,
    figures: MonthUsage,
    month: int,
    acc: MonthAccumulator,
    now: datetime,
    label_limit: int,
) -> MonthUsage:
    """*figures* with the month's usage per group (none when no member was seen in it)."""
    members = month_members(conn, month)
    if not members:
        return figures
    login, server = month_active(conn, month)
    parts: Mapping[int, UserPart] = acc.parts(now)
    groups = group_usage(members, login=login, server=server, parts=parts, limit=label_limit)
    return replace(figures, groups=groups)


#: Rows fetched at a time when a month's sessions are read as a stream.
STREAM_ROWS = 2000


def month_sessions(
    conn: Connection, month: int, before: datetime | None = None
) -> Iterator[tuple[int, SessionRecord]]:
    """The sessions of counted users that ran in *month* (only those started *before*, if
    given), by id, read as a stream (a few thousand rows in memory at a time, whatever the
    month holds)."""
    statement = sessions_in_month(month)
    if before is not None:
        statement = statement.where(sessions.c.started < to_seconds(before))
    rows = conn.execution_options(yield_per=STREAM_ROWS).execute(statement)
    for r in rows:
        yield r[0], SessionRecord(r[1], from_seconds(r[2]), from_seconds(r[3]), r[4], r[5])


def sessions_in_month(month: int) -> Select:
    """The query of the sessions of counted users that ran in *month*."""
    return (
        select(
            sessions.c.id,
            sessions.c.user_id,
            sessions.c.started,
            sessions.c.ended,
            sessions.c.profile,
            sessions.c.image,
        )
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(COUNTED, ran_in_month(month))
    )


def month_records(conn: Connection, month: int, ids: Sequence[int]) -> dict[int, SessionRecord]:
    """The sessions of *ids* among those of counted users that ran in *month*."""
    statement = sessions_in_month(month)
    rows = execute_chunked(conn, ids, lambda chunk: statement.where(sessions.c.id.in_(chunk)))
    return {
        r[0]: SessionRecord(r[1], from_seconds(r[2]), from_seconds(r[3]), r[4], r[5]) for r in rows
    }


def first_month(conn: Connection, current: int, peaks: Mapping[str, int]) -> int:
    """The first month with a session or a peak (*current* when there is none before)."""
    first = conn.execute(select(func.min(sessions.c.started))).scalar_one_or_none()
    found = current
    if first is not None:
        found = min(found, month_of(from_seconds(first)))
    if peaks:
        first_peak = min(peaks)
        found = min(found, int(first_peak[:4]) * 100 + int(first_peak[5:7]))
    return found


def count_logged_in(conn: Connection) -> int:
    """Counted users with a last login."""
    statement = select(func.count()).where(COUNTED, users.c.last_login_at.is_not(None))
    return conn.execute(statement).scalar_one()


def last_login_counts(conn: Connection, now: datetime, total: int) -> dict[str, int]:
    """Counted users who have logged in, per bucket of time since their last login, of
    *total* such users: the recent buckets counted (index ranges of the recently active),
    the last one, which holds most users of a large hub, what the others leave."""
    found = {
        key: conn.execute(
            select(func.count()).where(
                COUNTED,
                users.c.last_login_at.is_not(None),
                *last_login_within(now, lower, upper),
            )
        ).scalar_one()
        for key, _label, lower, upper in LAST_LOGIN_BUCKETS[:-1]
    }
    # a last login after *now* (a clock set back) is in no bucket, as when each is counted
    ahead = conn.execute(
        select(func.count()).where(COUNTED, users.c.last_login_at > now)
    ).scalar_one()
    found[LAST_LOGIN_BUCKETS[-1][0]] = max(total - sum(found.values()) - ahead, 0)
    return found
