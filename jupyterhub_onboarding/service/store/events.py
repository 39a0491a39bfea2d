"""Planned events, and the session figures their sizing and actuals need."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, and_, delete, func, insert, or_, select, update

from ...core.clock import as_utc
from ...core.events import CHECKLIST_KEYS, Actual, Event, EventFields
from ...core.eventsizing import WindowSession
from ...core.usage import day_label
from ..schema import events, sessions, usage_peaks, users
from ._sql import COUNTED, from_seconds, to_seconds

#: After its end, an event's actual is measured again at each refresh for this long (sessions
#: that ran in its window are recorded up to a poll interval late), then kept as stored.
ACTUAL_SETTLES = timedelta(hours=1)


def _checklist_text(ticked: frozenset[str]) -> str:
    return ",".join(key for key in CHECKLIST_KEYS if key in ticked)


def _values(fields: EventFields) -> dict[str, Any]:
    return {
        "title": fields.title,
        "kind": fields.kind,
        "start": fields.start,
        "end": fields.end,
        "time_zone": fields.time_zone,
        "expected_attendees": fields.expected_attendees,
        "profile": fields.profile,
        "notes": fields.notes,
        "contact": fields.contact,
        "cancelled": fields.cancelled,
        "checklist": _checklist_text(fields.checklist),
    }


def _event(row: Row) -> Event:
    actual = None
    if row.actual_peak is not None:
        actual = Actual(row.actual_peak, row.actual_sessions or 0, row.actual_users or 0)
    return Event(
        id=row.id,
        title=row.title,
        kind=row.kind,
        start=row.start,
        end=row.end,
        time_zone=row.time_zone,
        expected_attendees=row.expected_attendees,
        profile=row.profile,
        notes=row.notes,
        contact=row.contact,
        cancelled=bool(row.cancelled),
        checklist=frozenset(key for key in row.checklist.split(",") if key in CHECKLIST_KEYS),
        created_at=row.created_at,
        actual=actual,
    )


class EventStore:
    """The ``events`` table, over the service store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def all(self) -> list[Event]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(events).order_by(events.c.start, events.c.id)).all()
        return [_event(row) for row in rows]

    def get(self, event_id: int) -> Event | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(events).where(events.c.id == event_id)).one_or_none()
        return None if row is None else _event(row)

    def create(self, fields: EventFields, now: datetime) -> Event:
        with self.engine.begin() as conn:
            new_id: int = conn.execute(
                insert(events)
                .values(**_values(fields), created_at=now, updated_at=now)
                .returning(events.c.id)
            ).scalar_one()
        created = self.get(new_id)
        assert created is not None
        return created

    def update(self, event_id: int, fields: EventFields, now: datetime) -> Event | None:
        """Store *fields* as the event's whole new state; None when there is no such event."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(events)
                .where(events.c.id == event_id)
                .values(
                    **_values(fields),
                    updated_at=now,
                    actual_peak=None,
                    actual_sessions=None,
                    actual_users=None,
                )
            ).rowcount
        return self.get(event_id) if changed else None

    def delete(self, event_id: int) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(events).where(events.c.id == event_id)).rowcount)

    # -- figures from the sessions ----------------------------------------------------------

    def peak_since(self, since: datetime) -> int | None:
        """The most servers of counted users running at one poll on a UTC day from *since*."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.max(usage_peaks.c.servers)).where(usage_peaks.c.day >= day_label(since))
            ).scalar_one_or_none()

    def window_sessions(self, start: datetime, end: datetime) -> list[WindowSession]:
        """The sessions of counted users that ran in [start, end)."""
        lo, hi = to_seconds(start), to_seconds(end)
        query = (
            select(sessions.c.user_id, sessions.c.started, sessions.c.ended)
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(
                COUNTED,
                sessions.c.started < hi,
                or_(sessions.c.ended.is_(None), sessions.c.ended > lo),
            )
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            WindowSession(row.user_id, from_seconds(row.started), from_seconds(row.ended))
            for row in rows
        ]

    def settle_actuals(
        self, now: datetime, measure: Callable[[list[WindowSession], Event], Actual]
    ) -> list[Event]:
        """Measure the actual of every event that ended up to ACTUAL_SETTLES ago or has none.

        *measure* maps (sessions, event) to an ``Actual``. Returns every event afterwards.
        """
        now = as_utc(now)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events).where(
                    events.c.cancelled.is_(False),
                    events.c.end <= now,
                    or_(events.c.actual_peak.is_(None), events.c.end > now - ACTUAL_SETTLES),
                )
            ).all()
        for row in rows:
            event = _event(row)
            actual = measure(self.window_sessions(event.start, event.end), event)
            if actual == event.actual:
                continue
            with self.engine.begin() as conn:
                conn.execute(
                    update(events)
                    .where(and_(events.c.id == event.id, events.c.end == row.end))
                    .values(
                        actual_peak=actual.peak_concurrent_servers,
                        actual_sessions=actual.sessions,
                        actual_users=actual.users,
                    )
                )
        return self.all()
