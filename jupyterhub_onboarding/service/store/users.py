"""Users: who the service has seen, the UTC days each was active (activity marks), who is
counted, and first value once reached (milestones)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)

from ...core import usage as usage_rules
from ...core.clock import as_utc, latest
from ...core.hubmodel import UserSeen
from ...core.rules import ROLLING_WINDOWS, CountingRules, day_bit, month_label, month_of
from ...core.snapshot import Aggregates, MonthCount
from ..schema import BASIS_CODES, activity, milestones, users
from ._sql import BATCH, COUNTED, LISTED, execute_chunked
from .groups import memberships, write_memberships
from .poll import Poll

LOGIN, SERVER = BASIS_CODES["login"], BASIS_CODES["server"]
#: (user id, month YYYYMM, basis) -> the bit mask of the month's days.
Marks = dict[tuple[int, int, int], int]


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
class UsersRecorded:
    """What one poll changed in the users and their activity marks."""

    users_seen: int
    users_added: int
    users_updated: int
    activity_rows: int
    users_deleted: int


def user_ids(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """The ids of the users named *names* that are stored."""
    rows = execute_chunked(
        conn, names, lambda chunk: select(users.c.id, users.c.name).where(users.c.name.in_(chunk))
    )
    return {row.name: row.id for row in rows}


def count(conn: Connection, *conditions: ColumnElement[bool]) -> int:
    """How many users meet *conditions*."""
    return conn.execute(select(func.count()).select_from(users).where(*conditions)).scalar_one()


#: The key of the first-value window among ``active_within``'s windows.
GENERATING = "generating"


def active_within(
    conn: Connection, now: datetime, windows: Mapping[str, timedelta]
) -> dict[str, int]:
    """Counted users whose last login is within each window before *now*: one read of the
    widest window's users, not one per window."""
    counts = [
        func.coalesce(func.sum(case((users.c.last_login_at >= now - delta, 1), else_=0)), 0)
        for delta in windows.values()
    ]
    widest = now - max(windows.values(), default=timedelta(0))
    row = conn.execute(select(*counts).where(COUNTED, users.c.last_login_at >= widest)).one()
    return {key: int(row[at]) for at, key in enumerate(windows)}


class UserStore:
    """The ``users``, ``activity`` and ``milestones`` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Counts over every user that only a new user, a first login or server start, or a
        #: change of who is counted or admin moves (by query); read again after such a poll.
        self._kept: dict[tuple[Any, ...], Any] = {}
        #: Counted users with activity per month and basis, by month; a month is read again
        #: after a poll added a user's first activity row in it (``_stale_months``).
        self._months: dict[int, dict[int, int]] | None = None
        self._stale_months: set[int] = set()
        #: What the poll in flight moved, applied once its transaction commits (adopt).
        self._moved: Moved | None = None

    # -- the counts kept between polls ----------------------------------------------------------

    def adopt(self) -> None:
        """The poll's transaction committed: drop the counts its writes moved."""
        moved, self._moved = self._moved, None
        if moved is None:
            self.forget()
            return
        if moved.counts:
            self.forget()
        else:
            self._stale_months |= moved.months

    def forget(self) -> None:
        """Read every kept count from the database again (a write failed, or changed who is
        counted)."""
        self._kept.clear()
        self._months = None
        self._stale_months = set()
        self._moved = None

    def _count(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        if key not in self._kept:
            self._kept[key] = read()
        return self._kept[key]

    def _month_counts(self, conn: Connection) -> dict[int, dict[int, int]]:
        if self._months is None:
            self._months, self._stale_months = month_counts(conn), set()
        for month in sorted(self._stale_months):
            fresh = month_counts(conn, month)
            if month in fresh:
                self._months[month] = fresh[month]
            else:
                self._months.pop(month, None)
        self._stale_months = set()
        return self._months

    def _new_users(self, conn: Connection, months: Iterable[int]) -> dict[str, int]:
        found: dict[str, int] = {}
        for month in months:
            found.update(self._count(("new_users", month), partial(new_users, conn, [month])))
        return found

    # -- recording a poll ---------------------------------------------------------------------

    def record(self, conn: Connection, poll: Poll) -> UsersRecorded:
        """Insert or update the users of *poll* and their activity marks, in *conn*'s
        transaction. A full poll marks the users missing from it deleted (they stay
        counted), except those it names as present."""
        names = list(poll.seen)
        added = updated = activity_rows = 0
        moved = Moved()
        # In batches, so the rows and parameters built for the database stay small however
        # many users the hub has (a first sync of 100,000 users in one piece peaked at
        # about 220 MB resident; see benchmarks/README.md).
        for start in range(0, len(names), BATCH):
            batch = {name: poll.seen[name] for name in names[start : start + BATCH]}
            counts = record_batch(conn, batch, poll.now, poll.rules)
            added, updated = added + counts[0], updated + counts[1]
            activity_rows += counts[2]
            moved.update(counts[3])
        self._moved = moved
        deleted = 0
        if poll.full:
            kept = set(names).union(poll.present)
            deleted = mark_deleted(conn, kept, poll.written or (), poll.now)
        return UsersRecorded(len(poll.seen), added, updated, activity_rows, deleted)

    def record_page(
        self, conn: Connection, seen: Mapping[str, UserSeen], now: datetime, rules: CountingRules
    ) -> list[int]:
        """Insert or update the users of one page of a full read, in *conn*'s transaction
        (the read's own record marks the deleted ones); returns their ids."""
        ids: list[int] = []
        moved = Moved()
        names = list(seen)
        for start in range(0, len(names), BATCH):
            batch = {name: seen[name] for name in names[start : start + BATCH]}
            counts = record_batch(conn, batch, now, rules)
            moved.update(counts[3])
            ids.extend(counts[4].values())
        self._moved = moved
        return ids

    def apply_rules(self, rules: CountingRules) -> int:
        """Recompute who is counted after the exclusions changed; returns rows changed."""
        self.forget()
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

    # -- first value ----------------------------------------------------------------------------

    def record_milestones(self, threshold: int) -> dict[str, datetime]:
        """Store first value on each basis once *threshold* counted users have reached it.

        A stored milestone is never moved or removed, even when the exclusions later take
        users away from the count. Returns the stored milestones by basis.
        """
        with self.engine.begin() as conn:
            stored = stored_milestones(conn, threshold)
            reached_at = self._count(("nth_seen", threshold), lambda: nth_seen(conn, threshold))
            for basis, reached in reached_at.items():
                if reached is not None and basis not in stored:
                    conn.execute(
                        insert(milestones).values(
                            basis=basis, threshold=threshold, achieved_at=reached
                        )
                    )
                    stored[basis] = reached
        return stored

    # -- reads ----------------------------------------------------------------------------------

    def aggregates(self, now: datetime, threshold: int, generating_days: int = 14) -> Aggregates:
        """Every count the snapshot needs, with first value as stored (record_milestones)."""
        now = as_utc(now)
        kept = self._count
        with self.engine.connect() as conn:
            per_month = self._month_counts(conn)
            windows = {**ROLLING_WINDOWS, GENERATING: timedelta(days=generating_days)}
            active = active_within(conn, now, windows)

            admin_first_login_at = kept(
                ("admin_first_login",),
                lambda: conn.execute(
                    select(func.min(users.c.first_login_at)).where(users.c.admin.is_(True))
                ).scalar_one_or_none(),
            )
            login_months = [m for m in per_month if LOGIN in per_month[m]]
            return Aggregates(
                users_logged_in=self.listed(conn),
                users_started_server=kept(
                    ("started_server",),
                    lambda: count(conn, COUNTED, users.c.first_server_at.is_not(None)),
                ),
                nth_seen_at=kept(("nth_seen", threshold), lambda: nth_seen(conn, threshold)),
                milestones=stored_milestones(conn, threshold),
                months=tuple(
                    MonthCount(month_label(m), c.get(LOGIN, 0), c.get(SERVER, 0))
                    for m, c in sorted(per_month.items())
                ),
                rolling={period: active[period] for period in ROLLING_WINDOWS},
                generating_window_active=active[GENERATING],
                admin_logged_in=admin_first_login_at is not None,
                users_known=kept(("known",), lambda: count(conn)),
                admin_first_login_at=as_utc(admin_first_login_at) if admin_first_login_at else None,
                new_users=self._new_users(conn, login_months),
            )

    def listed(self, conn: Connection) -> int:
        """Counted users who have logged in (the rows of the per-user table), kept between
        polls that do not move it."""
        return self._count(("logged_in",), lambda: count(conn, LISTED))

    def last_login_known(self, conn: Connection) -> int:
        """Counted users with a last login (the total of the last-login buckets)."""
        return self._count(
            ("last_login_known",),
            lambda: count(conn, COUNTED, users.c.last_login_at.is_not(None)),
        )

    def logged_in_users(self, limit: int | None = None) -> list[KnownUser]:
        """Counted users who have logged in, earliest first, at most *limit* of them
        (usernames: admin page only)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(users)
                .where(LISTED)
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


# -- recording, row by row ------------------------------------------------------------------


#: The users columns whose change moves a count the store keeps (``UserStore._kept``).
COUNTED_COLUMNS = frozenset({"admin", "counted", "first_login_at", "first_server_at"})


@dataclass
class Moved:
    """What a poll's writes moved among the counts the store keeps between polls."""

    #: A user was added, or a change in COUNTED_COLUMNS, or a first last login.
    counts: bool = False
    #: The months in which a user got their first activity row on some basis.
    months: set[int] = field(default_factory=set)

    def update(self, other: Moved) -> None:
        self.counts = self.counts or other.counts
        self.months |= other.months


def record_batch(
    conn: Connection, merged: Mapping[str, UserSeen], now: datetime, rules: CountingRules
) -> tuple[int, int, int, Moved, dict[str, int]]:
    """Insert or update the users of one batch, their activity marks and the groups the poll
    saw them in.

    Returns (users added, users updated, activity rows written, what that moved, the users'
    ids by name).
    """
    names = list(merged)
    existing = {
        row.name: row
        for row in execute_chunked(
            conn, names, lambda chunk: select(users).where(users.c.name.in_(chunk))
        )
    }
    new_rows, changed_rows = [], []
    moved = Moved()
    for name, user in merged.items():
        values = user_values(existing.get(name), user, now, rules)
        if name not in existing:
            new_rows.append({"name": name, **values})
        elif changed := {k: v for k, v in values.items() if getattr(existing[name], k) != v}:
            changed_rows.append({"b_id": existing[name].id, **changed})
            if not COUNTED_COLUMNS.isdisjoint(changed) or (
                "last_login_at" in changed and existing[name].last_login_at is None
            ):
                moved.counts = True
    if new_rows:
        moved.counts = True
        conn.execute(insert(users), new_rows)
    # Each row sets only the columns that changed (most polls move only last_server_at of
    # the running servers' users), so the indexes on the other columns are left alone.
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in changed_rows:
        by_columns.setdefault(tuple(key for key in row if key != "b_id"), []).append(row)
    for columns, rows in by_columns.items():
        conn.execute(
            update(users)
            .where(users.c.id == bindparam("b_id"))
            .values({key: bindparam(key) for key in columns}),
            rows,
        )
    ids = {name: row.id for name, row in existing.items()}
    if new_rows:
        ids.update(user_ids(conn, [row["name"] for row in new_rows]))
    marks = activity_marks(merged, ids, now)
    active_months: dict[int, set[int]] = {}
    for user_id, month, _basis in marks:
        active_months.setdefault(user_id, set()).add(month)
    write_memberships(conn, memberships(merged, ids, now, active_months))
    written, first_in = write_marks(conn, marks)
    moved.months |= first_in
    return len(new_rows), len(changed_rows), written, moved, ids


def mark_deleted(
    conn: Connection, present: Collection[str], written: Collection[int], now: datetime
) -> int:
    """Mark the users neither named in *present* nor with their id in *written* deleted at
    *now*; returns how many."""
    alive = conn.execute(select(users.c.id, users.c.name).where(users.c.deleted_at.is_(None)))
    gone = [{"b_id": row.id} for row in alive if row.name not in present and row.id not in written]
    if gone:
        conn.execute(
            update(users).where(users.c.id == bindparam("b_id")).values(deleted_at=now), gone
        )
    return len(gone)


def user_values(
    row: Row | None, user: UserSeen, now: datetime, rules: CountingRules
) -> dict[str, Any]:
    """The users row for *user* as one poll saw it, given the stored *row* (None: new)."""
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


def activity_marks(merged: Mapping[str, UserSeen], ids: Mapping[str, int], now: datetime) -> Marks:
    """The days each user was active on each basis, as one poll saw them."""
    marks: Marks = {}

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


def write_marks(conn: Connection, marks: Marks) -> tuple[int, set[int]]:
    """Add *marks* to the stored ones; returns the rows written and the months of the rows
    added (a user's first activity of the month on a basis)."""
    if not marks:
        return 0, set()
    keys = list(marks)

    def stored(chunk: Sequence[tuple[int, int, int]]) -> Any:
        user_ids, months = {k[0] for k in chunk}, {k[1] for k in chunk}
        return select(activity).where(
            and_(activity.c.user_id.in_(user_ids), activity.c.month.in_(months))
        )

    current = {
        (row.user_id, row.month, row.basis): row.days for row in execute_chunked(conn, keys, stored)
    }
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
    return len(inserts) + len(updates), {row["month"] for row in inserts}


# -- counting -------------------------------------------------------------------------------


def nth_seen(conn: Connection, threshold: int) -> dict[str, datetime | None]:
    """When the *threshold*-th counted user was first seen, per basis (None: not yet)."""
    found: dict[str, datetime | None] = {}
    for basis, column in (("login", users.c.first_login_at), ("server", users.c.first_server_at)):
        found[basis] = conn.execute(
            select(column)
            .where(COUNTED, column.is_not(None))
            .order_by(column)
            .offset(threshold - 1)
            .limit(1)
        ).scalar_one_or_none()
    return found


def stored_milestones(conn: Connection, threshold: int) -> dict[str, datetime]:
    """First value per basis as stored for *threshold*."""
    return {
        row.basis: row.achieved_at
        for row in conn.execute(
            select(milestones.c.basis, milestones.c.achieved_at).where(
                milestones.c.threshold == threshold
            )
        )
    }


def month_counts(conn: Connection, month: int | None = None) -> dict[int, dict[int, int]]:
    """Counted users with activity, per month and basis (of *month* only, if given: an
    index range of its rows)."""
    per_month: dict[int, dict[int, int]] = {}
    statement = (
        select(activity.c.month, activity.c.basis, func.count())
        .select_from(activity.join(users, users.c.id == activity.c.user_id))
        .where(COUNTED)
        .group_by(activity.c.month, activity.c.basis)
    )
    if month is not None:
        statement = statement.where(activity.c.month == month)
    for row in conn.execute(statement):
        per_month.setdefault(row[0], {})[row[1]] = row[2]
    return per_month


def new_users(conn: Connection, months: Iterable[int]) -> dict[str, int]:
    """Counted users whose first login falls in each of *months* (an index range each)."""
    found: dict[str, int] = {}
    for month in months:
        start, end = usage_rules.month_bounds(month)
        number = count(conn, COUNTED, users.c.first_login_at >= start, users.c.first_login_at < end)
        if number:
            found[month_label(month)] = number
    return found
