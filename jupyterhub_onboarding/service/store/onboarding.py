"""The onboarding record: small persisted state, the checklist ticks and the meeting that the
hub's administrators record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update

from ...core.checklist import Meeting, OnboardingRecord, Tick
from ...core.clock import as_utc
from ..schema import checklist_ticks, meeting
from ._sql import read_state, write_state


class OnboardingStore:
    """The ``service_state``, ``checklist_ticks`` and ``meeting`` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_or_set_state(self, key: str, value: str) -> str:
        """The stored value for *key*, storing *value* first when there is none."""
        with self.engine.begin() as conn:
            stored = read_state(conn, key)
            if stored is not None:
                return stored
            write_state(conn, key, value, stored)
            return value

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
