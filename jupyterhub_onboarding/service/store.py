"""Persistence: what the tracker saw, kept transactionally; aggregates for the snapshot.

Every method is synchronous and short; the service runs them on one worker thread so the
event loop that serves requests never waits on the database.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import OperationalError

from ..core import usage as usage_rules
from ..core.checklist import Meeting, OnboardingRecord, Tick
from ..core.clock import as_utc, isoformat, latest, parse_iso
from ..core.hubmodel import UserSeen
from ..core.rules import (
    ROLLING_WINDOWS,
    CountingRules,
    add_months,
    day_bit,
    month_label,
    month_of,
)
from ..core.snapshot import Aggregates, MonthCount
from ..core.usage import (
    LAST_LOGIN_BUCKETS,
    SERVER_MINUTES_BUCKETS,
    LabelKeys,
    MonthUsage,
    OpenSession,
    RunningServer,
    SessionRecord,
    UsageFigures,
    UserMonth,
)
from ..db import SQLITE_BUSY_TIMEOUT_MS, Migrations, make_engine, schema_revision, upgrade_schema
from .schema import (
    BASIS_CODES,
    activity,
    checklist_ticks,
    meeting,
    milestones,
    service_state,
    sessions,
    usage_peaks,
    usage_user_months,
    users,
)

#: The service's revisions, recorded in Alembic's default ``alembic_version`` table.
MIGRATIONS = Migrations(Path(__file__).parent / "migrations")
LOGIN, SERVER = BASIS_CODES["login"], BASIS_CODES["server"]
CHUNK = 500
#: service_state key: when the last poll that recorded sessions ran (every session still open
#: was running then).
SESSIONS_SEEN_AT = "sessions_seen_at"
#: How far after a poll's own time a server's reported start is still taken as it is.
FUTURE_START_TOLERANCE = timedelta(minutes=10)
#: Users recorded per batch within one poll's transaction (bounds the memory of a poll).
BATCH = 5000


@dataclass(frozen=True)
class KnownUser:
    """A counted user who has logged in (for the admin page only)."""

    name: str
    admin: bool
    first_login_at: datetime | None
    first_server_at: datetime | None
    last_login_at: datetime | None
    deleted_at: datetime | None


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


#: The per-user table's sortable columns.
USAGE_SORTS = ("name", "sessions", "server_hours", "last_login", "last_session_end")


@dataclass(frozen=True)
class UsageQuery:
    """Which rows of the per-user table: a month, an order, a page, optionally one bucket.

    *bucket* is ``("last_login", key)`` (of LAST_LOGIN_BUCKETS, relative to *now*) or
    ``("server_minutes", key)`` (of SERVER_MINUTES_BUCKETS, in *month*).
    """

    month: int
    now: datetime
    sort: str = "server_hours"
    descending: bool = True
    offset: int = 0
    limit: int | None = 50
    bucket: tuple[str, str] | None = None


def _ts(value: datetime) -> float:
    return as_utc(value).timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


@dataclass(frozen=True)
class RecordResult:
    """What one recorded poll changed."""

    users_seen: int
    users_added: int
    users_updated: int
    activity_rows: int
    users_deleted: int
    sessions_opened: int = 0
    sessions_ended: int = 0


def _months_between(first: int, last: int) -> list[int]:
    """Every ``YYYYMM`` month from *first* to *last*, both included."""
    months = [first]
    while months[-1] < last:
        months.append(add_months(months[-1], 1))
    return months


def _month_overlap(month: int):
    """The condition that a session ran in *month* (sessions.started/ended are seconds)."""
    start, end = usage_rules.month_bounds(month)
    return and_(
        sessions.c.started < _ts(end),
        or_(sessions.c.ended.is_(None), sessions.c.ended >= _ts(start)),
    )


def _merge_seen(seen: Iterable[UserSeen]) -> dict[str, UserSeen]:
    """One observation per name (a poll can see a user twice)."""
    merged: dict[str, UserSeen] = {}
    for user in seen:
        earlier = merged.get(user.name)
        if earlier is None:
            merged[user.name] = user
            continue
        times = [t for t in (earlier.last_activity, user.last_activity) if t is not None]
        merged[user.name] = UserSeen(
            name=user.name,
            admin=user.admin,
            last_activity=max(times) if times else None,
            servers=earlier.servers + user.servers,
        )
    return merged


class Store:
    """The service's database."""

    def __init__(self, url: str, log: logging.Logger | None = None) -> None:
        self.url = url
        self.log = log or logging.getLogger(__name__)
        self.engine = make_engine(url)
        #: Usage figures of past months, kept until a poll changes a session in them.
        self._usage_cache: dict[int, MonthUsage] = {}
        self._usage_limit: int | None = None
        #: What the last committed poll left in the sessions tables, so a steady-state poll
        #: reads nothing back: the open sessions, when that poll ran, and today's peak.
        #: None until read once; dropped whenever a write fails (then read again).
        self._open_sessions: list[OpenSession] | None = None
        self._seen_at: str | None = None
        self._peak: tuple[str, int | None] | None = None
        #: The per-user table of the current month as last written (None: not written by
        #: this process yet, so the first refresh writes it whole).
        self._summary: dict[int, UserMonth] | None = None
        self._summary_month: int | None = None
        #: (rows of the month's table, rows with sessions) as of the last refresh.
        self._listed_counts: tuple[int, int] = (0, 0)
        #: Open sessions whose server activity moved since it was last written: it is kept
        #: here and written when the session ends and at each full sync, not at every poll.
        self._unwritten: set[int] = set()
        #: Sessions opened or ended since the last refresh, and the current month's sessions
        #: as that refresh read them (by id), so a refresh reads only what changed.
        self._changed: set[int] = set()
        self._month_acc: usage_rules.MonthAccumulator | None = None
        self._after_commit: tuple | None = None

    # -- schema ---------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The revision of the service's schema in the database, ``None`` before any."""
        return schema_revision(self.engine, MIGRATIONS)

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision."""
        upgrade_schema(self.engine, MIGRATIONS)

    def close(self) -> None:
        self.engine.dispose()

    def reconnect(self) -> None:
        """Close the pooled connections, so the next call connects afresh.

        A connection can stay broken after the database has recovered: SQLite opens a file
        it cannot write read-only, and such a connection never writes again.
        """
        self.engine.dispose()

    # -- small state ----------------------------------------------------------------------

    def get_or_set_state(self, key: str, value: str) -> str:
        """The stored value for *key*, storing *value* first when there is none."""
        with self.engine.begin() as conn:
            stored = conn.execute(
                select(service_state.c.value).where(service_state.c.key == key)
            ).scalar_one_or_none()
            if stored is not None:
                return stored
            conn.execute(insert(service_state).values(key=key, value=value))
            return value

    # -- the onboarding meeting, recorded by administrators ------------------------------

    def onboarding_record(self) -> OnboardingRecord:
        """The ticked checklist items and the meeting."""
        with self.engine.connect() as conn:
            ticks = {
                row.item: Tick(row.ticked_by, row.ticked_at)
                for row in conn.execute(select(checklist_ticks))
            }
            row = conn.execute(select(meeting).where(meeting.c.id == 1)).first()
        held = None
        if row is not None:
            held = Meeting(row.held_on, row.hub_access_confirmed, row.recorded_by, row.recorded_at)
        return OnboardingRecord(ticks, held)

    def set_tick(self, item: str, ticked: bool, by: str, at: datetime) -> None:
        """Tick *item* off as *by* at *at* (a tick already there is kept), or undo it."""
        with self.engine.begin() as conn:
            if not ticked:
                conn.execute(delete(checklist_ticks).where(checklist_ticks.c.item == item))
                return
            exists = conn.execute(
                select(checklist_ticks.c.item).where(checklist_ticks.c.item == item)
            ).first()
            if exists is None:
                conn.execute(
                    insert(checklist_ticks).values(item=item, ticked_by=by, ticked_at=as_utc(at))
                )

    def record_meeting(self, held: Meeting) -> None:
        """Store the onboarding meeting, replacing one recorded before."""
        values = {
            "held_on": held.held_on,
            "hub_access_confirmed": held.hub_access_confirmed,
            "recorded_by": held.recorded_by,
            "recorded_at": as_utc(held.recorded_at),
        }
        with self.engine.begin() as conn:
            done = conn.execute(update(meeting).where(meeting.c.id == 1).values(values))
            if done.rowcount == 0:
                conn.execute(insert(meeting).values(id=1, **values))

    # -- counting rules -------------------------------------------------------------------

    def apply_rules(self, rules: CountingRules) -> int:
        """Recompute who is counted after the exclusions changed; returns rows changed."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(users.c.id, users.c.name, users.c.admin, users.c.counted))
            changes = [
                {"b_id": row.id, "b_counted": rules.is_counted(row.name, row.admin)}
                for row in rows
                if rules.is_counted(row.name, row.admin) != row.counted
            ]
            if changes:
                conn.execute(
                    update(users)
                    .where(users.c.id == bindparam("b_id"))
                    .values(counted=bindparam("b_counted")),
                    changes,
                )
        if changes:
            self._usage_cache.clear()
            self._month_acc = None
        return len(changes)

    # -- recording a poll -----------------------------------------------------------------

    def record(
        self,
        seen: Sequence[UserSeen],
        now: datetime,
        rules: CountingRules,
        *,
        full: bool = False,
        present: Collection[str] = (),
        label_keys: LabelKeys | None = None,
    ) -> RecordResult:
        """Store one poll in a single transaction.

        Idempotent: recording the same observations twice changes nothing, so a poll that
        is retried after a crash counts nobody twice. With *full*, users missing from the
        hub are marked deleted (they stay counted), except those named in *present*: users
        the hub listed in entries that could not be parsed. *seen* holds every running
        server (each poll reads them all): sessions open, continue or end accordingly.
        """
        now = as_utc(now)
        merged = _merge_seen(seen)
        names = list(merged)
        self._after_commit = None
        try:
            result = self._record(merged, names, now, rules, full, label_keys, present)
        except BaseException:
            self._forget_sessions()
            raise
        if self._after_commit is not None:
            open_sessions, seen_at, peak, unwritten, changed = self._after_commit
            self._open_sessions, self._seen_at, self._peak = open_sessions, seen_at, peak
            self._unwritten = unwritten
            self._changed |= changed
        return result

    def _forget_sessions(self) -> None:
        """Read the sessions' state from the database again at the next poll."""
        self._open_sessions = None
        self._seen_at = None
        self._peak = None
        self._unwritten = set()
        # the month's figures follow committed changes only (``_changed``): they stay valid

    def _record(
        self,
        merged: dict[str, UserSeen],
        names: list[str],
        now: datetime,
        rules: CountingRules,
        full: bool,
        label_keys: LabelKeys | None,
        present: Collection[str],
    ) -> RecordResult:
        added = updated = activity_rows = 0
        with self.engine.begin() as conn:
            # In batches, so the rows and parameters built for the database stay small however
            # many users the hub has (a first sync of 100,000 users in one piece peaked at
            # about 220 MB resident; see benchmarks/README.md).
            for start in range(0, len(names), BATCH):
                batch = {name: merged[name] for name in names[start : start + BATCH]}
                counts = self._record_batch(conn, batch, now, rules)
                added, updated = added + counts[0], updated + counts[1]
                activity_rows += counts[2]

            deleted = 0
            if full:
                seen_names = set(names).union(present)
                alive = conn.execute(
                    select(users.c.id, users.c.name).where(users.c.deleted_at.is_(None))
                )
                gone = [{"b_id": row.id} for row in alive if row.name not in seen_names]
                if gone:
                    conn.execute(
                        update(users).where(users.c.id == bindparam("b_id")).values(deleted_at=now),
                        gone,
                    )
                deleted = len(gone)
            opened, ended = self._record_sessions(conn, merged, now, rules, label_keys, full)
        return RecordResult(len(merged), added, updated, activity_rows, deleted, opened, ended)

    def _record_sessions(
        self,
        conn,
        merged: dict[str, UserSeen],
        now: datetime,
        rules: CountingRules,
        label_keys: LabelKeys | None,
        full: bool = False,
    ) -> tuple[int, int]:
        """Open, touch and end sessions from the running servers of one poll; note its peak.

        Returns (sessions opened, sessions ended).
        """
        keys = label_keys or LabelKeys()
        if self._open_sessions is None:
            stored = conn.execute(
                select(
                    sessions.c.id,
                    users.c.name,
                    sessions.c.server,
                    sessions.c.started,
                    sessions.c.last_activity,
                )
                .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
                .where(sessions.c.ended.is_(None))
            ).all()
            self._open_sessions = [
                OpenSession(r.id, r.name, r.server, _dt(r.started), _dt(r.last_activity))  # type: ignore[arg-type]
                for r in stored
            ]
            self._seen_at = conn.execute(
                select(service_state.c.value).where(service_state.c.key == SESSIONS_SEEN_AT)
            ).scalar_one_or_none()
        open_sessions = self._open_sessions
        open_started = {(o.user, o.server): o.started for o in open_sessions}
        running: dict[tuple[str, str], RunningServer] = {}
        options: dict[tuple[str, str], Any] = {}
        counted_running = 0
        for name, user in merged.items():
            for server in user.servers:
                key = (name, server.name)
                if not server.in_session or key in running:
                    continue
                # The poll's clock is read before the hub is, so a server may have started a
                # moment after *now*: its start is kept as the hub reports it. A start that is
                # missing or far ahead keeps its open session's (or is taken to be now).
                started = server.started
                if started is None or as_utc(started) > now + FUTURE_START_TOLERANCE:
                    started = open_started.get(key) or now
                # labels are read for the sessions that open (below), not at every poll
                running[key] = RunningServer(name, server.name, started, server.last_activity)
                options[key] = server.user_options
                counted_running += rules.is_counted(name, user.admin)
        seen_row = self._seen_at
        last_seen = parse_iso(seen_row) if seen_row is not None else None
        changes = usage_rules.infer_sessions(
            open_sessions,
            running.values(),
            last_seen=last_seen,
            now=now,
            user_activity={name: user.last_activity for name, user in merged.items()},
        )
        current = month_of(now)
        started_of = {o.id: o.started for o in open_sessions}
        opened: list[RunningServer] = []
        for opening in changes.opened:
            profile, image = keys.labels(options[(opening.user, opening.server)])
            opened.append(replace(opening, profile=profile, image=image))
        changes = replace(changes, opened=tuple(opened))
        if changes.opened:
            names = sorted({server.user for server in changes.opened})
            ids: dict[str, int] = {}
            for start in range(0, len(names), CHUNK):
                chunk = names[start : start + CHUNK]
                for row in conn.execute(
                    select(users.c.id, users.c.name).where(users.c.name.in_(chunk))
                ):
                    ids[row.name] = row.id
            inserted = conn.execute(
                insert(sessions).returning(sessions.c.id, sort_by_parameter_order=True),
                [
                    {
                        "user_id": ids[server.user],
                        "server": server.server,
                        "started": _ts(server.started),
                        "ended": None,
                        "last_activity": None
                        if server.last_activity is None
                        else _ts(min(as_utc(server.last_activity), now)),
                        "profile": server.profile,
                        "image": server.image,
                    }
                    for server in changes.opened
                ],
            )
            new_ids = [row.id for row in inserted]
            self._invalidate(month_of(s.started) for s in changes.opened)
        touched = dict(changes.touched)
        activity = {o.id: touched.get(o.id, o.last_activity) for o in open_sessions}
        unwritten = (self._unwritten | set(touched)) & set(activity)
        if changes.ended:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == bindparam("b_id"))
                .values(ended=bindparam("b_end"), last_activity=bindparam("b_act")),
                [
                    {
                        "b_id": sid,
                        "b_end": _ts(end),
                        "b_act": None if activity.get(sid) is None else _ts(activity[sid]),  # type: ignore[arg-type]
                    }
                    for sid, end in changes.ended
                ],
            )
            for sid, _end in changes.ended:
                first = month_of(started_of[sid])
                self._invalidate(m for m in _months_between(first, current))
            unwritten -= {sid for sid, _end in changes.ended}
        if full and unwritten:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == bindparam("b_id"))
                .values(last_activity=bindparam("b_act")),
                [{"b_id": sid, "b_act": _ts(activity[sid])} for sid in unwritten],  # type: ignore[arg-type]
            )
            unwritten = set()
        ended_ids = {sid for sid, _end in changes.ended}
        if ended_ids or touched:
            still_open = [
                OpenSession(o.id, o.user, o.server, o.started, touched[o.id])
                if o.id in touched
                else o
                for o in open_sessions
                if o.id not in ended_ids
            ]
        else:  # the steady state: the same sessions, nothing to build again
            still_open = open_sessions
        if changes.opened:
            still_open = still_open + [
                OpenSession(
                    sid,
                    server.user,
                    server.server,
                    server.started,
                    None
                    if server.last_activity is None
                    else _dt(_ts(min(as_utc(server.last_activity), now))),
                )
                for sid, server in zip(new_ids, changes.opened, strict=True)
            ]
        when = isoformat(now)
        if seen_row is None:
            conn.execute(insert(service_state).values(key=SESSIONS_SEEN_AT, value=when))
        elif seen_row != when:
            conn.execute(
                update(service_state)
                .where(service_state.c.key == SESSIONS_SEEN_AT)
                .values(value=when)
            )
        day = usage_rules.day_label(now)
        if self._peak is None or self._peak[0] != day:
            self._peak = (
                day,
                conn.execute(
                    select(usage_peaks.c.servers).where(usage_peaks.c.day == day)
                ).scalar_one_or_none(),
            )
        peak = self._peak[1]
        if counted_running and peak is None:
            conn.execute(insert(usage_peaks).values(day=day, servers=counted_running, seen_at=now))
            peak = counted_running
        elif counted_running and peak is not None and counted_running > peak:
            conn.execute(
                update(usage_peaks)
                .where(usage_peaks.c.day == day)
                .values(servers=counted_running, seen_at=now)
            )
            peak = counted_running
        changed = ended_ids | (set(new_ids) if changes.opened else set())
        self._after_commit = (still_open, when, (day, peak), unwritten, changed)
        return len(changes.opened), len(changes.ended)

    def _invalidate(self, months: Iterable[int]) -> None:
        for month in months:
            self._usage_cache.pop(month, None)

    def _record_batch(
        self, conn, merged: dict[str, UserSeen], now: datetime, rules: CountingRules
    ) -> tuple[int, int, int]:
        """Insert or update the users of one batch and their activity marks.

        Returns (users added, users updated, activity rows written).
        """
        names = list(merged)
        existing = {}
        for start in range(0, len(names), CHUNK):
            chunk = names[start : start + CHUNK]
            for row in conn.execute(select(users).where(users.c.name.in_(chunk))):
                existing[row.name] = row

        new_rows, changed_rows = [], []
        for name, user in merged.items():
            values = self._user_values(existing.get(name), user, now, rules)
            if name not in existing:
                new_rows.append({"name": name, **values})
            elif any(getattr(existing[name], k) != v for k, v in values.items()):
                changed_rows.append({"b_id": existing[name].id, **values})
        if new_rows:
            conn.execute(insert(users), new_rows)
        if changed_rows:
            conn.execute(
                update(users)
                .where(users.c.id == bindparam("b_id"))
                .values({key: bindparam(key) for key in changed_rows[0] if key != "b_id"}),
                changed_rows,
            )

        ids = {name: row.id for name, row in existing.items()}
        if new_rows:
            new_names = [row["name"] for row in new_rows]
            for start in range(0, len(new_names), CHUNK):
                chunk = new_names[start : start + CHUNK]
                for row in conn.execute(
                    select(users.c.id, users.c.name).where(users.c.name.in_(chunk))
                ):
                    ids[row.name] = row.id

        marks = self._activity_marks(merged, ids, now)
        return len(new_rows), len(changed_rows), self._write_marks(conn, marks)

    @staticmethod
    def _user_values(row, user: UserSeen, now: datetime, rules: CountingRules) -> dict:
        last_activity = None
        if user.last_activity is not None:
            last_activity = min(as_utc(user.last_activity), now)
        first_login = row.first_login_at if row is not None else None
        first_server = row.first_server_at if row is not None else None
        last_server = row.last_server_at if row is not None else None
        if user.server_running:
            started = user.server_started_at
            first_server = first_server or (min(as_utc(started), now) if started else now)
            last_server = now
        return {
            "admin": user.admin,
            "counted": rules.is_counted(user.name, user.admin),
            "first_login_at": first_login or last_activity,
            "first_server_at": first_server,
            "last_login_at": latest(row.last_login_at if row is not None else None, last_activity),
            "last_server_at": last_server,
            "deleted_at": None,
        }

    @staticmethod
    def _activity_marks(
        merged: dict[str, UserSeen], ids: dict[str, int], now: datetime
    ) -> dict[tuple[int, int, int], int]:
        marks: dict[tuple[int, int, int], int] = {}

        def mark(user_id: int, basis: int, when: datetime) -> None:
            when = min(as_utc(when), now)
            key = (user_id, month_of(when), basis)
            marks[key] = marks.get(key, 0) | day_bit(when)

        for name, user in merged.items():
            user_id = ids[name]
            if user.last_activity is not None:
                mark(user_id, LOGIN, user.last_activity)
            for server in user.servers:
                if not server.running:
                    continue
                mark(user_id, SERVER, now)
                for when in (server.started, server.last_activity):
                    if when is not None:
                        mark(user_id, SERVER, when)
        return marks

    @staticmethod
    def _write_marks(conn, marks: dict[tuple[int, int, int], int]) -> int:
        if not marks:
            return 0
        current: dict[tuple[int, int, int], int] = {}
        keys = list(marks)
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            user_ids = {k[0] for k in chunk}
            months = {k[1] for k in chunk}
            for row in conn.execute(
                select(activity).where(
                    and_(activity.c.user_id.in_(user_ids), activity.c.month.in_(months))
                )
            ):
                current[(row.user_id, row.month, row.basis)] = row.days
        inserts, updates = [], []
        for key, bits in marks.items():
            if key not in current:
                inserts.append({"user_id": key[0], "month": key[1], "basis": key[2], "days": bits})
            elif current[key] | bits != current[key]:
                updates.append(
                    {"b_u": key[0], "b_m": key[1], "b_b": key[2], "b_days": current[key] | bits}
                )
        if inserts:
            conn.execute(insert(activity), inserts)
        if updates:
            conn.execute(
                update(activity)
                .where(
                    and_(
                        activity.c.user_id == bindparam("b_u"),
                        activity.c.month == bindparam("b_m"),
                        activity.c.basis == bindparam("b_b"),
                    )
                )
                .values(days=bindparam("b_days")),
                updates,
            )
        return len(inserts) + len(updates)

    # -- aggregates -----------------------------------------------------------------------

    def aggregates(self, now: datetime, threshold: int, generating_days: int = 14) -> Aggregates:
        """Every count the snapshot needs, and first value persisted once reached."""
        now = as_utc(now)
        counted = users.c.counted.is_(True)
        with self.engine.begin() as conn:
            logged_in = conn.execute(
                select(func.count()).where(counted, users.c.first_login_at.is_not(None))
            ).scalar_one()
            started_server = conn.execute(
                select(func.count()).where(counted, users.c.first_server_at.is_not(None))
            ).scalar_one()
            nth: dict[str, datetime | None] = {}
            for basis, column in (
                ("login", users.c.first_login_at),
                ("server", users.c.first_server_at),
            ):
                nth[basis] = conn.execute(
                    select(column)
                    .where(counted, column.is_not(None))
                    .order_by(column)
                    .offset(threshold - 1)
                    .limit(1)
                ).scalar_one_or_none()
            stored = {
                row.basis: row.achieved_at
                for row in conn.execute(
                    select(milestones.c.basis, milestones.c.achieved_at).where(
                        milestones.c.threshold == threshold
                    )
                )
            }
            for basis, reached in nth.items():
                if reached is not None and basis not in stored:
                    conn.execute(
                        insert(milestones).values(
                            basis=basis, threshold=threshold, achieved_at=reached
                        )
                    )
                    stored[basis] = reached

            per_month: dict[int, dict[int, int]] = {}
            for row in conn.execute(
                select(activity.c.month, activity.c.basis, func.count())
                .select_from(activity.join(users, users.c.id == activity.c.user_id))
                .where(counted)
                .group_by(activity.c.month, activity.c.basis)
            ):
                per_month.setdefault(row[0], {})[row[1]] = row[2]
            months = tuple(
                MonthCount(month_label(m), c.get(LOGIN, 0), c.get(SERVER, 0))
                for m, c in sorted(per_month.items())
            )

            def active_since(delta: timedelta) -> int:
                return conn.execute(
                    select(func.count()).where(counted, users.c.last_login_at >= now - delta)
                ).scalar_one()

            rolling = {period: active_since(delta) for period, delta in ROLLING_WINDOWS.items()}
            generating = active_since(timedelta(days=generating_days))
            admin_first_login_at = conn.execute(
                select(func.min(users.c.first_login_at)).where(users.c.admin.is_(True))
            ).scalar_one_or_none()
            admin_logged_in = admin_first_login_at is not None
            known = conn.execute(select(func.count()).select_from(users)).scalar_one()
            new_users = self._new_users(conn, [m for m in per_month if LOGIN in per_month[m]])
        return Aggregates(
            users_logged_in=logged_in,
            users_started_server=started_server,
            nth_seen_at=nth,
            milestones=stored,
            months=months,
            rolling=rolling,
            generating_window_active=generating,
            admin_logged_in=admin_logged_in,
            users_known=known,
            admin_first_login_at=as_utc(admin_first_login_at) if admin_first_login_at else None,
            new_users=new_users,
        )

    @staticmethod
    def _new_users(conn, months: Iterable[int]) -> dict[str, int]:
        """Counted users whose first login falls in each of *months* (an index range each)."""
        found: dict[str, int] = {}
        for month in months:
            start, end = usage_rules.month_bounds(month)
            count = conn.execute(
                select(func.count()).where(
                    users.c.counted.is_(True),
                    users.c.first_login_at >= start,
                    users.c.first_login_at < end,
                )
            ).scalar_one()
            if count:
                found[month_label(month)] = count
        return found

    def logged_in_users(self, limit: int | None = None) -> list[KnownUser]:
        """Counted users who have logged in, earliest first, at most *limit* of them
        (usernames: admin page only)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(users)
                .where(users.c.counted.is_(True), users.c.first_login_at.is_not(None))
                .order_by(users.c.first_login_at, users.c.name)
                .limit(limit)
            )
            return [
                KnownUser(
                    r.name,
                    r.admin,
                    r.first_login_at,
                    r.first_server_at,
                    r.last_login_at,
                    r.deleted_at,
                )
                for r in rows
            ]

    # -- usage ----------------------------------------------------------------------------

    def _month_records(
        self, conn, month: int, ids: Sequence[int] | None = None
    ) -> dict[int, SessionRecord]:
        """The sessions of counted users that ran in *month* (only those of *ids*, if given)."""
        statement = (
            select(
                sessions.c.id,
                sessions.c.user_id,
                sessions.c.started,
                sessions.c.ended,
                sessions.c.profile,
                sessions.c.image,
            )
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(users.c.counted.is_(True), _month_overlap(month))
        )
        chunks = [None] if ids is None else [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
        fromts = datetime.fromtimestamp
        found: dict[int, SessionRecord] = {}
        for chunk in chunks:
            query = statement if chunk is None else statement.where(sessions.c.id.in_(chunk))
            for r in conn.execute(query):
                found[r[0]] = SessionRecord(
                    r[1],
                    fromts(r[2], timezone.utc),
                    None if r[3] is None else fromts(r[3], timezone.utc),
                    r[4],
                    r[5],
                )
        return found

    def _current_month(self, conn, month: int) -> usage_rules.MonthAccumulator:
        """The current month's sessions: read whole once, then only those polls changed."""
        acc = self._month_acc
        if acc is not None and acc.month == month and self._changed:
            changed = sorted(self._changed)
            fresh = self._month_records(conn, month, changed)
            if not all([acc.put(sid, fresh.get(sid)) for sid in changed]):
                acc = None  # an ended session changed (who is counted): read the month again
        if acc is None or acc.month != month:
            self._summary = None  # the per-user table is written whole again
            acc = usage_rules.MonthAccumulator(month)
            for sid, record in self._month_records(conn, month).items():
                acc.put(sid, record)
        self._month_acc = acc
        self._changed = set()
        return acc

    def usage_figures(self, now: datetime, label_limit: int = 20) -> UsageFigures:
        """The usage figures of every month with sessions, up to *now*'s month.

        Past months are computed once and kept until a poll changes a session in them, so a
        refresh after a poll reads only the current month's sessions.
        """
        now = as_utc(now)
        if self._usage_limit != label_limit:
            self._usage_cache.clear()
            self._usage_limit = label_limit
        current = month_of(now)
        with self.engine.connect() as conn:
            first = conn.execute(select(func.min(sessions.c.started))).scalar_one_or_none()
            peaks = {row.day: row.servers for row in conn.execute(select(usage_peaks))}
            first_month = current
            if first is not None:
                first_month = min(current, month_of(_dt(first)))
            if peaks:
                first_peak = min(peaks)
                first_month = min(first_month, int(first_peak[:4]) * 100 + int(first_peak[5:7]))
            months = []
            acc = self._current_month(conn, current)
            for month in _months_between(first_month, current):
                cached = self._usage_cache.get(month)
                if month == current:
                    figures = acc.figures(now, daily_peaks=peaks, label_limit=label_limit)
                elif cached is not None:
                    figures = cached
                else:
                    records = self._month_records(conn, month).values()
                    figures = usage_rules.month_usage(
                        records, month, now, daily_peaks=peaks, label_limit=label_limit
                    )
                    self._usage_cache[month] = figures
                months.append(figures)
            last_login = self._last_login_counts(conn, now)
        per_user, changed = acc.users(now)
        try:
            self._write_summary(current, per_user, changed)
        except OperationalError as error:
            # The database is locked or away: the figures are still right; the page reads
            # the month from the sessions until a later refresh writes its table again.
            self.log.warning("Could not write the per-user usage table (%s)", type(error).__name__)
            self._summary, self._summary_month = None, None
        self._count_listed(current)
        minutes = [entry.seconds / 60.0 for entry in per_user.values()]
        return UsageFigures(
            months=tuple(months),
            last_login_distribution=last_login,
            server_minutes_distribution=usage_rules.distribution(minutes, SERVER_MINUTES_BUCKETS),
        )

    def _count_listed(self, month: int) -> None:
        """How many rows the month's table has, with and without sessions (no bucket)."""
        listed = and_(users.c.counted.is_(True), users.c.first_login_at.is_not(None))
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).where(listed)).scalar_one()
            with_rows = conn.execute(
                select(func.count())
                .select_from(
                    users.join(
                        usage_user_months,
                        and_(
                            usage_user_months.c.user_id == users.c.id,
                            usage_user_months.c.month == month,
                        ),
                    )
                )
                .where(listed)
            ).scalar_one()
        self._listed_counts = (total, with_rows)

    def _write_summary(self, month: int, per_user: dict[int, UserMonth], changed: set[int]) -> None:
        """Keep usage_user_months for *month*: whole the first time, then the *changed* users."""

        def row(user_id: int, entry: UserMonth) -> dict:
            return {
                "user_id": user_id,
                "month": month,
                "sessions": entry.sessions,
                "seconds": entry.seconds,
                "last_end": None if entry.last_end is None else _ts(entry.last_end),
                # 1 while a session runs: the table lists running users first by last end
                "open": min(entry.open, 1),
            }

        whole = self._summary is None or self._summary_month != month
        written: dict[int, UserMonth] = {} if whole or self._summary is None else self._summary
        if whole:
            rewrite = list(per_user)
            gone: list[int] = []
        else:
            rewrite = [u for u in changed if u in per_user and written.get(u) != per_user[u]]
            gone = [u for u in changed if u not in per_user and u in written]
        if not whole and not rewrite and not gone:
            return
        changed_rows = rewrite
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # give up at once on a locked database instead of holding up the refresh
                conn.exec_driver_sql("PRAGMA busy_timeout=200")
                conn.commit()
            try:
                with conn.begin():
                    if whole:
                        conn.execute(delete(usage_user_months))
                    else:
                        stale = changed_rows + gone
                        for start in range(0, len(stale), CHUNK):
                            conn.execute(
                                delete(usage_user_months).where(
                                    usage_user_months.c.month == month,
                                    usage_user_months.c.user_id.in_(stale[start : start + CHUNK]),
                                )
                            )
                    rows = [row(uid, per_user[uid]) for uid in changed_rows]
                    for start in range(0, len(rows), BATCH):
                        conn.execute(insert(usage_user_months), rows[start : start + BATCH])
            finally:
                if sqlite:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                    conn.commit()
        for uid in gone:
            written.pop(uid, None)
        written.update({uid: per_user[uid] for uid in changed_rows})
        self._summary, self._summary_month = written, month

    @staticmethod
    def _last_login_counts(conn, now: datetime) -> dict[str, int]:
        """Counted users who have logged in, per bucket of time since their last login."""
        counts = {}
        for key, _label, lower, upper in LAST_LOGIN_BUCKETS:
            condition: list[ColumnElement[bool]] = [
                users.c.counted.is_(True),
                users.c.last_login_at.is_not(None),
            ]
            condition.append(users.c.last_login_at <= now - timedelta(days=lower))
            if upper != float("inf"):
                condition.append(users.c.last_login_at > now - timedelta(days=upper))
            counts[key] = conn.execute(select(func.count()).where(*condition)).scalar_one()
        return counts

    def _usage_aggregate(self, month: int, now: datetime):
        """Per user id: sessions started, server-seconds, last end and open sessions in *month*."""
        start, end = usage_rules.month_bounds(month)
        start_ts, end_ts, now_ts = _ts(start), _ts(end), _ts(min(now, end))
        piece_start = case((sessions.c.started < start_ts, start_ts), else_=sessions.c.started)
        raw_end = func.coalesce(sessions.c.ended, max(now_ts, start_ts))
        piece_end = case((raw_end > end_ts, end_ts), else_=raw_end)
        return (
            select(
                sessions.c.user_id.label("user_id"),
                func.sum(
                    case(
                        (and_(sessions.c.started >= start_ts, sessions.c.started < end_ts), 1),
                        else_=0,
                    )
                ).label("sessions"),
                func.sum(case((piece_end > piece_start, piece_end - piece_start), else_=0.0)).label(
                    "seconds"
                ),
                func.max(sessions.c.ended).label("last_end"),
                func.sum(case((sessions.c.ended.is_(None), 1), else_=0)).label("open"),
            )
            .where(_month_overlap(month))
            .group_by(sessions.c.user_id)
        )

    def usage_rows(self, query: UsageQuery) -> tuple[list[UsageRow], int]:
        """One page of the per-user table and how many rows it has in all.

        The order, the bucket and the page are applied in SQL, so a page costs about the same
        on a hub of 100,000 users as on one of 100. Usernames: admin page and CSV only.
        """
        if query.sort not in USAGE_SORTS:
            raise ValueError(f"sort must be one of {', '.join(USAGE_SORTS)}")
        if query.bucket is not None and query.bucket[0] not in ("last_login", "server_minutes"):
            raise ValueError(f"unknown bucket kind {query.bucket[0]!r}")
        if query.month == self._summary_month and self._summary is not None:
            return self._summary_rows(query)
        now = as_utc(query.now)
        agg = self._usage_aggregate(query.month, now).subquery()
        conditions: list[ColumnElement[bool]] = [
            users.c.counted.is_(True),
            users.c.first_login_at.is_not(None),
        ]
        inner = False
        if query.bucket is not None:
            kind, key = query.bucket
            if kind == "last_login":
                lower, upper = usage_rules.bucket_bounds(key, LAST_LOGIN_BUCKETS)
                conditions.append(users.c.last_login_at <= now - timedelta(days=lower))
                if upper != float("inf"):
                    conditions.append(users.c.last_login_at > now - timedelta(days=upper))
            elif kind == "server_minutes":
                lower, upper = usage_rules.bucket_bounds(key, SERVER_MINUTES_BUCKETS)
                inner = True
                conditions.append(agg.c.seconds >= lower * 60)
                if upper != float("inf"):
                    conditions.append(agg.c.seconds < upper * 60)
            else:
                raise ValueError(f"unknown bucket kind {kind!r}")
        sessions_col = func.coalesce(agg.c.sessions, 0)
        seconds_col = func.coalesce(agg.c.seconds, 0.0)
        last_end_col = case(
            (agg.c.open > 0, float("1e18")), else_=func.coalesce(agg.c.last_end, -1.0)
        )
        order = {
            "name": users.c.name,
            "sessions": sessions_col,
            "server_hours": seconds_col,
            "last_login": func.coalesce(users.c.last_login_at, datetime(1970, 1, 1)),
            "last_session_end": last_end_col,
        }[query.sort]
        joined = users.join(agg, agg.c.user_id == users.c.id, isouter=not inner)
        statement = (
            select(
                users.c.id,
                users.c.name,
                users.c.admin,
                users.c.deleted_at,
                users.c.last_login_at,
                sessions_col.label("sessions"),
                seconds_col.label("seconds"),
                agg.c.last_end,
                func.coalesce(agg.c.open, 0).label("open"),
            )
            .select_from(joined)
            .where(*conditions)
            .order_by(order.desc() if query.descending else order.asc(), users.c.name)
            .offset(max(0, query.offset))
            .limit(query.limit)
        )
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(joined).where(*conditions)
            ).scalar_one()
            rows = conn.execute(statement).all()
            top = self._top_profiles(conn, query.month, [row.id for row in rows])
        return (
            [
                UsageRow(
                    name=row.name,
                    admin=row.admin,
                    deleted_at=row.deleted_at,
                    sessions=int(row.sessions),
                    server_hours=round(float(row.seconds) / 3600.0, 4),
                    last_login_at=row.last_login_at,
                    last_session_end=_dt(row.last_end),
                    running=int(row.open) > 0,
                    top_profile=top.get(row.id),
                )
                for row in rows
            ],
            total,
        )

    @staticmethod
    def _top_profiles(conn, month: int, user_ids: list[int]) -> dict[int, str]:
        """The profile each of *user_ids* ran most sessions of in *month* (ties: by name)."""
        found: dict[int, tuple[int, str]] = {}
        for start in range(0, len(user_ids), CHUNK):
            chunk = user_ids[start : start + CHUNK]
            for user_id, profile, count in conn.execute(
                select(sessions.c.user_id, sessions.c.profile, func.count())
                .where(
                    sessions.c.user_id.in_(chunk),
                    sessions.c.profile.is_not(None),
                    _month_overlap(month),
                )
                .group_by(sessions.c.user_id, sessions.c.profile)
            ):
                best = found.get(user_id)
                if best is None or (-count, profile) < (-best[0], best[1]):
                    found[user_id] = (count, profile)
        return {user_id: profile for user_id, (_count, profile) in found.items()}

    def _summary_rows(self, query: UsageQuery) -> tuple[list[UsageRow], int]:
        """A page of the current month's table from usage_user_months, by index.

        Ordered by a usage column, the users with sessions (index order) and those without
        (by name) are paged as two runs one after the other; by name or last login it is
        one query over users with the month's row looked up by key.
        """
        now = as_utc(query.now)
        summary = usage_user_months
        on_month = and_(summary.c.user_id == users.c.id, summary.c.month == query.month)
        conditions: list[ColumnElement[bool]] = [
            users.c.counted.is_(True),
            users.c.first_login_at.is_not(None),
        ]
        only_with_sessions = False
        if query.bucket is not None:
            kind, key = query.bucket
            if kind == "last_login":
                lower, upper = usage_rules.bucket_bounds(key, LAST_LOGIN_BUCKETS)
                conditions.append(users.c.last_login_at <= now - timedelta(days=lower))
                if upper != float("inf"):
                    conditions.append(users.c.last_login_at > now - timedelta(days=upper))
            else:
                lower, upper = usage_rules.bucket_bounds(key, SERVER_MINUTES_BUCKETS)
                only_with_sessions = True
                conditions.append(summary.c.seconds >= lower * 60)
                if upper != float("inf"):
                    conditions.append(summary.c.seconds < upper * 60)
        columns = (
            users.c.id,
            users.c.name,
            users.c.admin,
            users.c.deleted_at,
            users.c.last_login_at,
            summary.c.sessions,
            summary.c.seconds,
            summary.c.last_end,
            summary.c.open,
        )
        offset, limit = max(0, query.offset), query.limit
        with self.engine.connect() as conn:
            if query.sort in ("name", "last_login"):
                key_column = users.c.name if query.sort == "name" else users.c.last_login_at
                joined = users.join(summary, on_month, isouter=not only_with_sessions)
                statement = (
                    select(*columns)
                    .select_from(joined)
                    .where(*conditions)
                    .order_by(
                        key_column.desc() if query.descending else key_column.asc(),
                        users.c.name,
                    )
                    .offset(offset)
                    .limit(limit)
                )
                if query.bucket is None:  # counted at the refresh
                    total = self._listed_counts[0]
                else:
                    total = conn.execute(
                        select(func.count()).select_from(joined).where(*conditions)
                    ).scalar_one()
                rows = list(conn.execute(statement))
            else:
                by = {
                    "sessions": [summary.c.sessions],
                    "server_hours": [summary.c.seconds],
                    "last_session_end": [summary.c.open, summary.c.last_end],
                }[query.sort]
                ordering = [*by, summary.c.user_id]
                with_rows = users.join(summary, on_month)

                def counted(selectable, *where: ColumnElement[bool]) -> int:
                    return conn.execute(
                        select(func.count()).select_from(selectable).where(*where)
                    ).scalar_one()

                cached = query.bucket is None  # counted at the refresh
                runs: list = [
                    (
                        select(*columns)
                        .select_from(with_rows)
                        .where(*conditions)
                        .order_by(*(c.desc() if query.descending else c.asc() for c in ordering)),
                        self._listed_counts[1] if cached else counted(with_rows, *conditions),
                    )
                ]
                if not only_with_sessions:
                    no_row = summary.c.user_id.is_(None)
                    without_rows = users.join(summary, on_month, isouter=True)
                    without = (
                        select(*columns)
                        .select_from(without_rows)
                        .where(*conditions, no_row)
                        .order_by(users.c.name)
                    )
                    count = (
                        self._listed_counts[0] - self._listed_counts[1]
                        if cached
                        else counted(without_rows, *conditions, no_row)
                    )
                    # nothing is fewer than something: ascending starts with the users without
                    runs.append((without, count))
                    if not query.descending:
                        runs.reverse()
                total = sum(count for _statement, count in runs)
                rows = []
                skip, wanted = offset, limit
                for statement, count in runs:
                    if skip >= count:
                        skip -= count
                        continue
                    if wanted is not None and wanted <= 0:
                        break
                    page = list(conn.execute(statement.offset(skip).limit(wanted)))
                    rows.extend(page)
                    skip = 0
                    if wanted is not None:
                        wanted -= len(page)
            top = self._top_profiles(conn, query.month, [row.id for row in rows])
        return (
            [
                UsageRow(
                    name=row.name,
                    admin=row.admin,
                    deleted_at=row.deleted_at,
                    sessions=int(row.sessions or 0),
                    server_hours=round(float(row.seconds or 0.0) / 3600.0, 4),
                    last_login_at=row.last_login_at,
                    last_session_end=_dt(row.last_end),
                    running=int(row.open or 0) > 0,
                    top_profile=top.get(row.id),
                )
                for row in rows
            ],
            total,
        )
