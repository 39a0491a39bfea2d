"""Server sessions: one run of one server of a user, opened, continued and ended from the
running servers each poll sees; and the most servers running at one poll, per day."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from ...core import usage as usage_rules
from ...core.clock import as_utc, isoformat, parse_iso
from ...core.hubmodel import UserSeen
from ...core.rules import CountingRules, month_of
from ...core.usage import LabelKeys, OpenSession, RunningServer, SessionChanges
from ..schema import sessions, usage_peaks, users
from ._sql import from_seconds, months_between, read_state, to_seconds, write_state
from .poll import Poll
from .users import user_ids

#: service_state key: when the last poll that recorded sessions ran (every session still open
#: was running then).
SESSIONS_SEEN_AT = "sessions_seen_at"
#: How far after a poll's own time a server's reported start is still taken as it is.
FUTURE_START_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class OpenState:
    """What the sessions tables hold after a committed poll, so that a steady-state poll
    reads nothing back."""

    #: The sessions still open.
    sessions: tuple[OpenSession, ...]
    #: When that poll ran (service_state's SESSIONS_SEEN_AT), None before any.
    seen_at: str | None
    #: (UTC day, its stored peak or None) once read; None: read it at the next poll.
    peak: tuple[str, int | None] | None = None
    #: Open sessions whose newer server activity is kept here, not yet written: it is
    #: written when the session ends and at each full sync, not at every poll.
    unwritten: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SessionsRecorded:
    """What one poll changed in the sessions."""

    opened: int
    ended: int
    #: The sessions opened or ended, by id.
    changed: frozenset[int]
    #: The months (``YYYYMM``) whose usage figures those changes move.
    months: frozenset[int]
    #: The sessions' state once the poll's transaction has committed (SessionStore.adopt).
    state: OpenState = field(repr=False)


@dataclass(frozen=True)
class Running:
    """The servers one poll saw running, by (user, server)."""

    servers: dict[tuple[str, str], RunningServer]
    options: dict[tuple[str, str], Any]
    #: How many of them belong to counted users.
    counted: int


class SessionStore:
    """The ``sessions`` and ``usage_peaks`` tables, written within a poll's transaction."""

    def __init__(self) -> None:
        #: The state the last committed poll left; None until read (again, after a failure).
        self._state: OpenState | None = None

    def adopt(self, state: OpenState) -> None:
        """Keep *state*, which a poll's committed transaction wrote."""
        self._state = state

    def forget(self) -> None:
        """Read the sessions' state from the database again at the next poll (the poll in
        flight failed, so what it wrote is not there)."""
        self._state = None

    def needed(self, conn: Connection, seen: Iterable[UserSeen]) -> list[UserSeen]:
        """The users of *seen* that recording sessions reads: those with a server, and those
        with a session open (its end is pinned to their activity)."""
        if self._state is None:
            self._state = load_state(conn)
        open_users = {o.user for o in self._state.sessions}
        return [user for user in seen if user.servers or user.name in open_users]

    def record(self, conn: Connection, poll: Poll) -> SessionsRecorded:
        """Open, touch and end sessions from the running servers of *poll*, in *conn*'s
        transaction; note the day's peak. The state to adopt once it commits comes back
        with what changed."""
        now = poll.now
        state = self._state if self._state is not None else load_state(conn)
        running = running_servers(poll.seen, state.sessions, now, poll.rules)
        changes = usage_rules.infer_sessions(
            state.sessions,
            running.servers.values(),
            last_seen=parse_iso(state.seen_at) if state.seen_at is not None else None,
            now=now,
            user_activity={name: user.last_activity for name, user in poll.seen.items()},
        )
        opened = open_sessions(conn, changes, running.options, poll.label_keys, now)
        touched = dict(changes.touched)
        activity = {o.id: touched.get(o.id, o.last_activity) for o in state.sessions}
        ended = dict(changes.ended)
        end_sessions(conn, ended, activity)
        unwritten = state.unwritten.union(touched).intersection(activity).difference(ended)
        if poll.full and unwritten:
            write_activity(conn, unwritten, activity)
            unwritten = frozenset()
        still_open = state.sessions  # the steady state: the same sessions, nothing built again
        if ended or touched:
            still_open = tuple(
                replace(o, last_activity=touched[o.id]) if o.id in touched else o
                for o in state.sessions
                if o.id not in ended
            )
        when = isoformat(now)
        write_state(conn, SESSIONS_SEEN_AT, when, state.seen_at)
        peak = note_peak(conn, now, running.counted, state.peak)
        current = month_of(now)
        started = {o.id: o.started for o in state.sessions}
        months = {month_of(o.started) for o in opened}
        for sid in ended:
            months.update(months_between(month_of(started[sid]), current))
        return SessionsRecorded(
            opened=len(opened),
            ended=len(ended),
            changed=frozenset(ended.keys() | {o.id for o in opened}),
            months=frozenset(months),
            state=OpenState(still_open + opened, when, peak, unwritten),
        )


def load_state(conn: Connection) -> OpenState:
    """The open sessions and when the last poll ran, as stored."""
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
    return OpenState(
        tuple(
            OpenSession(
                r.id, r.name, r.server, from_seconds(r.started), from_seconds(r.last_activity)
            )
            for r in stored
        ),
        read_state(conn, SESSIONS_SEEN_AT),
    )


def running_servers(
    merged: Mapping[str, UserSeen],
    open_now: Sequence[OpenSession],
    now: datetime,
    rules: CountingRules,
) -> Running:
    """The servers in session that one poll saw, each once, with their start."""
    open_started = {(o.user, o.server): o.started for o in open_now}
    servers: dict[tuple[str, str], RunningServer] = {}
    options: dict[tuple[str, str], Any] = {}
    counted = 0
    for name, user in merged.items():
        for server in user.servers:
            key = (name, server.name)
            if not server.in_session or key in servers:
                continue
            # The poll's clock is read before the hub is, so a server may have started a
            # moment after *now*: its start is kept as the hub reports it. A start that is
            # missing or far ahead keeps its open session's (or is taken to be now).
            started = server.started
            if started is None or as_utc(started) > now + FUTURE_START_TOLERANCE:
                started = open_started.get(key) or now
            # labels are read for the sessions that open (open_sessions), not at every poll
            servers[key] = RunningServer(name, server.name, started, server.last_activity)
            options[key] = server.user_options
            counted += rules.is_counted(name, user.admin)
    return Running(servers, options, counted)


def open_sessions(
    conn: Connection,
    changes: SessionChanges,
    options: Mapping[tuple[str, str], Any],
    keys: LabelKeys,
    now: datetime,
) -> tuple[OpenSession, ...]:
    """Insert the sessions that *changes* opens, labelled from their servers' options."""
    if not changes.opened:
        return ()
    opening = []
    for server in changes.opened:
        profile, image = keys.labels(options[(server.user, server.server)])
        last_activity = None
        if server.last_activity is not None:
            last_activity = to_seconds(min(as_utc(server.last_activity), now))
        opening.append((replace(server, profile=profile, image=image), last_activity))
    ids = user_ids(conn, sorted({server.user for server, _activity in opening}))
    inserted = conn.execute(
        insert(sessions).returning(sessions.c.id, sort_by_parameter_order=True),
        [
            {
                "user_id": ids[server.user],
                "server": server.server,
                "started": to_seconds(server.started),
                "ended": None,
                "last_activity": last_activity,
                "profile": server.profile,
                "image": server.image,
            }
            for server, last_activity in opening
        ],
    )
    return tuple(
        OpenSession(row.id, server.user, server.server, server.started, from_seconds(activity))
        for row, (server, activity) in zip(inserted, opening, strict=True)
    )


def end_sessions(
    conn: Connection, ended: Mapping[int, datetime], activity: Mapping[int, datetime | None]
) -> None:
    """Store the end of each of *ended* (by session id), with its last server activity."""
    if not ended:
        return
    conn.execute(
        update(sessions)
        .where(sessions.c.id == bindparam("b_id"))
        .values(ended=bindparam("b_end"), last_activity=bindparam("b_act")),
        [
            {
                "b_id": sid,
                "b_end": to_seconds(end),
                "b_act": None if (act := activity.get(sid)) is None else to_seconds(act),
            }
            for sid, end in ended.items()
        ],
    )


def write_activity(
    conn: Connection, session_ids: frozenset[int], activity: Mapping[int, datetime | None]
) -> None:
    """Store the server activity kept in memory for the open *session_ids*."""
    conn.execute(
        update(sessions)
        .where(sessions.c.id == bindparam("b_id"))
        .values(last_activity=bindparam("b_act")),
        [
            {"b_id": sid, "b_act": None if (act := activity[sid]) is None else to_seconds(act)}
            for sid in session_ids
        ],
    )


def note_peak(
    conn: Connection, now: datetime, running: int, known: tuple[str, int | None] | None
) -> tuple[str, int | None]:
    """Raise *now*'s day's peak to *running* servers if that is more; returns (day, peak).

    *known* is the day and peak as last read or written (None: read it).
    """
    day = usage_rules.day_label(now)
    if known is None or known[0] != day:
        known = (
            day,
            conn.execute(
                select(usage_peaks.c.servers).where(usage_peaks.c.day == day)
            ).scalar_one_or_none(),
        )
    peak = known[1]
    if running and peak is None:
        conn.execute(insert(usage_peaks).values(day=day, servers=running, seen_at=now))
        return day, running
    if running and peak is not None and running > peak:
        conn.execute(
            update(usage_peaks).where(usage_peaks.c.day == day).values(servers=running, seen_at=now)
        )
        return day, running
    return known
