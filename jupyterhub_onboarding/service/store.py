"""Persistence: what the tracker saw, kept transactionally; aggregates for the snapshot.

Every method is synchronous and short; the service runs them on one worker thread so the
event loop that serves requests never waits on the database.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, bindparam, delete, func, insert, select, update

from ..core.checklist import Meeting, OnboardingRecord, Tick
from ..core.clock import as_utc, latest
from ..core.hubmodel import UserSeen
from ..core.rules import ROLLING_WINDOWS, CountingRules, day_bit, month_label, month_of
from ..core.snapshot import Aggregates, MonthCount
from ..db import Migrations, make_engine, schema_revision, upgrade_schema
from .schema import (
    BASIS_CODES,
    activity,
    checklist_ticks,
    meeting,
    milestones,
    service_state,
    users,
)

#: The service's revisions, recorded in Alembic's default ``alembic_version`` table.
MIGRATIONS = Migrations(Path(__file__).parent / "migrations")
LOGIN, SERVER = BASIS_CODES["login"], BASIS_CODES["server"]
CHUNK = 500
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
class RecordResult:
    """What one recorded poll changed."""

    users_seen: int
    users_added: int
    users_updated: int
    activity_rows: int
    users_deleted: int


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
    ) -> RecordResult:
        """Store one poll in a single transaction.

        Idempotent: recording the same observations twice changes nothing, so a poll that
        is retried after a crash counts nobody twice. With *full*, users missing from the
        hub are marked deleted (they stay counted), except those named in *present*: users
        the hub listed in entries that could not be parsed.
        """
        now = as_utc(now)
        merged = _merge_seen(seen)
        names = list(merged)
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
        return RecordResult(len(merged), added, updated, activity_rows, deleted)

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
        )

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
