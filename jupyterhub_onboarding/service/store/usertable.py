"""The per-user usage table: one row per counted user who has logged in, for the admin page
and its CSV (usernames go nowhere else).

A page of any month is read from the sessions, ordered, filtered and paged in SQL. The
current month's table is also kept in ``usage_user_months`` (written after each refresh, from
a ``usage.MonthTable``), so that a page of it, in any order, is an index scan of a few rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    FromClause,
    Row,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import OperationalError

from ...core import usage as usage_rules
from ...core.clock import as_utc
from ...core.usage import LAST_LOGIN_BUCKETS, SERVER_MINUTES_BUCKETS, UserMonth
from ...db import SQLITE_BUSY_TIMEOUT_MS
from ..schema import sessions, usage_user_months, users
from ._sql import BATCH, LISTED, execute_chunked, from_seconds, ran_in_month, to_seconds
from .usage import MonthTable, last_login_within

#: The per-user table's sortable columns.
USAGE_SORTS = ("name", "sessions", "server_hours", "last_login", "last_session_end")
#: The filters of the per-user table ("" shows every row).
USAGE_FILTERS = ("", "with_sessions", "without_sessions", "admins", "removed")
#: The kinds of bucket a page can be filtered by (the two usage histograms).
BUCKET_KINDS = ("last_login", "server_minutes")
#: Milliseconds the table's write waits for a lock before giving up (the refresh goes on).
WRITE_BUSY_TIMEOUT_MS = 200

#: The users columns of a row of the table.
USER_COLUMNS = (
    users.c.id,
    users.c.name,
    users.c.admin,
    users.c.deleted_at,
    users.c.last_login_at,
)


@dataclass(frozen=True)
class UsageRow:
    """One counted user's usage in a month (for the admin page and its CSV only)."""

    name: str
    admin: bool
    deleted_at: datetime | None
    sessions: int
    server_hours: float
    last_login_at: datetime | None
    last_session_end: datetime | None
    running: bool
    top_profile: str | None
    #: Over all the user's sessions (filled for a query with ``lifetime``): a list of users
    #: by last login shows when each last ran a server, not the month's zeros.
    ever_last_session_end: datetime | None = None
    ever_running: bool = False
    ever_top_profile: str | None = None


@dataclass(frozen=True)
class UsageQuery:
    """Which rows of the per-user table: a month, an order, a page, optionally one bucket.

    *bucket* is ``("last_login", key)`` (of LAST_LOGIN_BUCKETS, relative to *now*) or
    ``("server_minutes", key)`` (of SERVER_MINUTES_BUCKETS, in *month*). *search* keeps the
    names containing it (any case); *show* one of USAGE_FILTERS. *lifetime* adds each row's
    figures over all its sessions.
    """

    month: int
    now: datetime
    sort: str = "server_hours"
    descending: bool = True
    offset: int = 0
    limit: int | None = 50
    bucket: tuple[str, str] | None = None
    search: str = ""
    show: str = ""
    lifetime: bool = False

    @property
    def narrowed(self) -> bool:
        """A search or a filter: the rows are read from the sessions (no cached count)."""
        return bool(self.search or self.show)


#: (query, how many rows it gives): a run of the table's rows, paged one run after another.
Run = tuple[Select, int]


class UserTable:
    """The ``usage_user_months`` table, and pages of the per-user table of any month."""

    def __init__(
        self,
        engine: Engine,
        log: logging.Logger,
        listed: Callable[[Connection], int] | None = None,
    ) -> None:
        self.engine = engine
        self.log = log
        #: Counted users who have logged in, as the users' store keeps it between polls.
        self._count_listed = listed or (lambda conn: count_rows(conn, users, LISTED))
        #: The rows of usage_user_months as last written by this process, and their month
        #: (None: not written yet, or a write failed: pages read the sessions).
        #: The month usage_user_months holds whole (None: write it whole at the next write).
        self._month: int | None = None
        #: (rows of the month's table, rows with sessions) as of the last write.
        self._listed: tuple[int, int] = (0, 0)

    @property
    def month(self) -> int | None:
        """The month that usage_user_months holds, None while pages read the sessions."""
        return self._month

    # -- writing the current month --------------------------------------------------------------

    def write(self, table: MonthTable) -> bool:
        """Bring usage_user_months up to *table*: whole the first time, and after the month
        was read afresh, then the changed users' rows. Returns whether it was written.

        A locked or unavailable database is given up at once: the figures are still right,
        and pages read the month from the sessions until a later write succeeds.
        """
        try:
            self._write(table)
            done = True
        except OperationalError as error:
            self.log.warning("Could not write the per-user usage table (%s)", type(error).__name__)
            self._month = None
            done = False
        with self.engine.connect() as conn:
            self._listed = (self._count_listed(conn), count_with_sessions(conn, table.month))
        return done

    def _write(self, table: MonthTable) -> None:
        rows = table.rows
        whole = table.whole or self._month != table.month
        if whole:
            rewrite, gone = list(rows), []
        else:
            rewrite = [u for u in table.changed if u in rows]
            gone = [u for u in table.changed if u not in rows]
        if not whole and not rewrite and not gone:
            return
        with self.engine.connect() as conn, impatient(conn), conn.begin():
            if whole:
                conn.execute(delete(usage_user_months))
            else:
                execute_chunked(
                    conn,
                    rewrite + gone,
                    lambda chunk: delete(usage_user_months).where(
                        usage_user_months.c.month == table.month,
                        usage_user_months.c.user_id.in_(chunk),
                    ),
                )
            # the rows made a batch at a time: a whole month is one row per user
            for start in range(0, len(rewrite), BATCH):
                batch = rewrite[start : start + BATCH]
                values = [table_row(table.month, uid, rows[uid]) for uid in batch]
                conn.execute(insert(usage_user_months), values)
        self._month = table.month

    # -- reading pages --------------------------------------------------------------------------

    def rows(self, query: UsageQuery) -> tuple[list[UsageRow], int]:
        """One page of the per-user table and how many rows it has in all.

        The order, the bucket and the page are applied in SQL, so a page costs about the same
        on a hub of 100,000 users as on one of 100. Usernames: admin page and CSV only.
        """
        if query.sort not in USAGE_SORTS:
            raise ValueError(f"sort must be one of {', '.join(USAGE_SORTS)}")
        if query.bucket is not None and query.bucket[0] not in BUCKET_KINDS:
            raise ValueError(f"unknown bucket kind {query.bucket[0]!r}")
        if query.show not in USAGE_FILTERS:
            raise ValueError(f"show must be one of {', '.join(USAGE_FILTERS[1:])}")
        with self.engine.connect() as conn:
            if query.month == self.month and not query.narrowed:
                found, total = self._table_page(conn, query)
            else:
                found, total = session_page(conn, query)
            ids = [row.id for row in found]
            top = top_profiles(conn, query.month, ids)
            ever = lifetime_figures(conn, ids) if query.lifetime else {}
        return [usage_row(row, top, ever.get(row.id)) for row in found], total

    def _table_page(self, conn: Connection, query: UsageQuery) -> tuple[Sequence[Row], int]:
        """A page of the current month from usage_user_months, by index.

        Ordered by a usage column, the users with sessions (index order) and those without
        (by name) are paged as two runs one after the other; by name or last login it is
        one query over users with the month's row looked up by key.
        """
        table = usage_user_months
        on_month = and_(table.c.user_id == users.c.id, table.c.month == query.month)
        conditions, only_with_sessions = bucket_filter(query, table.c.seconds)
        columns = (*USER_COLUMNS, table.c.sessions, table.c.seconds, table.c.last_end, table.c.open)
        cached = query.bucket is None  # counted when the table was written
        listed, with_sessions = self._listed
        if query.sort in ("name", "last_login"):
            key = users.c.name if query.sort == "name" else users.c.last_login_at
            joined = users.join(table, on_month, isouter=not only_with_sessions)
            statement = (
                select(*columns)
                .select_from(joined)
                .where(*conditions)
                .order_by(ordered(key, query.descending), users.c.name)
                .offset(max(0, query.offset))
                .limit(query.limit)
            )
            total = listed if cached else count_rows(conn, joined, *conditions)
            return conn.execute(statement).all(), total
        by = {
            "sessions": [table.c.sessions],
            "server_hours": [table.c.seconds],
            "last_session_end": [table.c.open, table.c.last_end],
        }[query.sort]
        with_rows = users.join(table, on_month)
        runs: list[Run] = [
            (
                select(*columns)
                .select_from(with_rows)
                .where(*conditions)
                .order_by(*(ordered(c, query.descending) for c in [*by, table.c.user_id])),
                with_sessions if cached else count_rows(conn, with_rows, *conditions),
            )
        ]
        if not only_with_sessions:
            no_row = table.c.user_id.is_(None)
            without_rows = users.join(table, on_month, isouter=True)
            without = (
                select(*columns)
                .select_from(without_rows)
                .where(*conditions, no_row)
                .order_by(users.c.name)
            )
            runs.append(
                (
                    without,
                    listed - with_sessions
                    if cached
                    else count_rows(conn, without_rows, *conditions, no_row),
                )
            )
            # nothing is fewer than something: ascending starts with the users without
            if not query.descending:
                runs.reverse()
        return page_of_runs(conn, runs, max(0, query.offset), query.limit)


@contextmanager
def impatient(conn: Connection) -> Iterator[None]:
    """On SQLite, give up at once on a locked database instead of holding up the refresh."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={WRITE_BUSY_TIMEOUT_MS}")
        conn.commit()
    try:
        yield
    finally:
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            conn.commit()


def table_row(month: int, user_id: int, entry: UserMonth) -> dict[str, Any]:
    """The usage_user_months row of one user's month."""
    return {
        "user_id": user_id,
        "month": month,
        "sessions": entry.sessions,
        "seconds": entry.seconds,
        "last_end": None if entry.last_end is None else to_seconds(entry.last_end),
        # 1 while a session runs: the table lists running users first by last end
        "open": min(entry.open, 1),
    }


def count_with_sessions(conn: Connection, month: int) -> int:
    """How many rows of the month's table have sessions (no bucket)."""
    on_month = and_(usage_user_months.c.user_id == users.c.id, usage_user_months.c.month == month)
    return count_rows(conn, users.join(usage_user_months, on_month), LISTED)


def count_rows(conn: Connection, selectable: FromClause, *where: ColumnElement[bool]) -> int:
    return conn.execute(select(func.count()).select_from(selectable).where(*where)).scalar_one()


def ordered(column: ColumnElement[Any], descending: bool) -> ColumnElement[Any]:
    return column.desc() if descending else column.asc()


def bucket_filter(
    query: UsageQuery, seconds: ColumnElement[Any]
) -> tuple[list[ColumnElement[bool]], bool]:
    """The conditions on a row of *query*'s table, given its month's server-*seconds*
    column, and whether only users with sessions in the month can meet them."""
    conditions: list[ColumnElement[bool]] = [LISTED]
    if query.bucket is None:
        return conditions, False
    kind, key = query.bucket
    if kind == "last_login":
        lower, upper = usage_rules.bucket_bounds(key, LAST_LOGIN_BUCKETS)
        return conditions + last_login_within(as_utc(query.now), lower, upper), False
    if kind != "server_minutes":
        raise ValueError(f"unknown bucket kind {kind!r}")
    lower, upper = usage_rules.bucket_bounds(key, SERVER_MINUTES_BUCKETS)
    conditions.append(seconds >= lower * 60)
    if upper != float("inf"):
        conditions.append(seconds < upper * 60)
    return conditions, True


def page_of_runs(
    conn: Connection, runs: Sequence[Run], offset: int, limit: int | None
) -> tuple[Sequence[Row], int]:
    """Rows *offset* to *offset* + *limit* of *runs* one after the other, and their total."""
    found: list[Row] = []
    skip, wanted = offset, limit
    for statement, count in runs:
        if skip >= count:
            skip -= count
            continue
        if wanted is not None and wanted <= 0:
            break
        rows = conn.execute(statement.offset(skip).limit(wanted)).all()
        found.extend(rows)
        skip = 0
        if wanted is not None:
            wanted -= len(rows)
    return found, sum(count for _statement, count in runs)


def usage_aggregate(month: int, now: datetime) -> Select:
    """Per user id: sessions started, server-seconds, last end and open sessions in *month*."""
    start, end = usage_rules.month_bounds(month)
    start_ts, end_ts, now_ts = to_seconds(start), to_seconds(end), to_seconds(min(now, end))
    piece_start = case((sessions.c.started < start_ts, start_ts), else_=sessions.c.started)
    raw_end = func.coalesce(sessions.c.ended, max(now_ts, start_ts))
    piece_end = case((raw_end > end_ts, end_ts), else_=raw_end)
    started_in_month = and_(sessions.c.started >= start_ts, sessions.c.started < end_ts)
    return (
        select(
            sessions.c.user_id.label("user_id"),
            func.sum(case((started_in_month, 1), else_=0)).label("sessions"),
            func.sum(case((piece_end > piece_start, piece_end - piece_start), else_=0.0)).label(
                "seconds"
            ),
            func.max(sessions.c.ended).label("last_end"),
            func.sum(case((sessions.c.ended.is_(None), 1), else_=0)).label("open"),
        )
        .where(ran_in_month(month))
        .group_by(sessions.c.user_id)
    )


def session_page(conn: Connection, query: UsageQuery) -> tuple[Sequence[Row], int]:
    """A page of any month's table, from the sessions."""
    agg = usage_aggregate(query.month, as_utc(query.now)).subquery()
    conditions, inner = bucket_filter(query, agg.c.seconds)
    sessions_col = func.coalesce(agg.c.sessions, 0)
    seconds_col = func.coalesce(agg.c.seconds, 0.0)
    last_end_col = case((agg.c.open > 0, float("1e18")), else_=func.coalesce(agg.c.last_end, -1.0))
    order = {
        "name": users.c.name,
        "sessions": sessions_col,
        "server_hours": seconds_col,
        "last_login": func.coalesce(users.c.last_login_at, datetime(1970, 1, 1)),
        "last_session_end": last_end_col,
    }[query.sort]
    joined = users.join(agg, agg.c.user_id == users.c.id, isouter=not inner)
    conditions += narrowing(query, agg.c.user_id)
    statement = (
        select(
            *USER_COLUMNS,
            sessions_col.label("sessions"),
            seconds_col.label("seconds"),
            agg.c.last_end,
            func.coalesce(agg.c.open, 0).label("open"),
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(ordered(order, query.descending), users.c.name)
        .offset(max(0, query.offset))
        .limit(query.limit)
    )
    return conn.execute(statement).all(), count_rows(conn, joined, *conditions)


def narrowing(query: UsageQuery, month_user: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    """The conditions of *query*'s search and filter; *month_user* is the month's aggregate
    row's user id (null for a user without a session in the month)."""
    found: list[ColumnElement[bool]] = []
    if query.search:
        term = query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found.append(func.lower(users.c.name).like(f"%{term.lower()}%", escape="\\"))
    show = {
        "with_sessions": month_user.is_not(None),
        "without_sessions": month_user.is_(None),
        "admins": users.c.admin.is_(True),
        "removed": users.c.deleted_at.is_not(None),
    }
    if query.show:
        found.append(show[query.show])
    return found


@dataclass(frozen=True)
class Lifetime:
    """A user's figures over all their sessions."""

    last_end: datetime | None
    running: bool
    top_profile: str | None


def lifetime_figures(conn: Connection, user_ids: Sequence[int]) -> dict[int, Lifetime]:
    """Each of *user_ids*' last session end, whether one runs, and the most used profile,
    over all their sessions (a page of users: a few dozen ids)."""
    ends = execute_chunked(
        conn,
        user_ids,
        lambda chunk: (
            select(
                sessions.c.user_id,
                func.max(sessions.c.ended).label("last_end"),
                func.sum(case((sessions.c.ended.is_(None), 1), else_=0)).label("open"),
            )
            .where(sessions.c.user_id.in_(chunk))
            .group_by(sessions.c.user_id)
        ),
    )
    top = top_profiles(conn, None, user_ids)
    return {
        row.user_id: Lifetime(
            from_seconds(row.last_end), int(row.open or 0) > 0, top.get(row.user_id)
        )
        for row in ends
    }


def top_profiles(conn: Connection, month: int | None, user_ids: Sequence[int]) -> dict[int, str]:
    """The profile each of *user_ids* ran most sessions of in *month* (ties: by name), or
    over all their sessions when *month* is None."""
    in_month = [ran_in_month(month)] if month is not None else []
    rows = execute_chunked(
        conn,
        user_ids,
        lambda chunk: (
            select(sessions.c.user_id, sessions.c.profile, func.count().label("runs"))
            .where(sessions.c.user_id.in_(chunk), sessions.c.profile.is_not(None), *in_month)
            .group_by(sessions.c.user_id, sessions.c.profile)
        ),
    )
    found: dict[int, tuple[int, str]] = {}
    for row in rows:
        best = found.get(row.user_id)
        if best is None or (-row.runs, row.profile) < (-best[0], best[1]):
            found[row.user_id] = (row.runs, row.profile)
    return {user_id: profile for user_id, (_count, profile) in found.items()}


def usage_row(row: Row, top: Mapping[int, str], ever: Lifetime | None = None) -> UsageRow:
    """A row of the table from the columns a page reads (and its lifetime figures)."""
    return UsageRow(
        name=row.name,
        admin=row.admin,
        deleted_at=row.deleted_at,
        sessions=int(row.sessions or 0),
        server_hours=round(float(row.seconds or 0.0) / 3600.0, 4),
        last_login_at=row.last_login_at,
        last_session_end=from_seconds(row.last_end),
        running=int(row.open or 0) > 0,
        top_profile=top.get(row.id),
        ever_last_session_end=ever.last_end if ever else None,
        ever_running=ever.running if ever else False,
        ever_top_profile=ever.top_profile if ever else None,
    )
