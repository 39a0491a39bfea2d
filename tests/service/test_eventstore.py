"""The events table on SQLite and on a real PostgreSQL: every field kept exactly (hostile and
very long text, UTC times, the checklist), changes replace the whole state, and the actual
of an ended event is measured from the stored sessions."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_onboarding.core.events import (
    CHECKLIST_KEYS,
    MAX_CONTACT,
    MAX_NOTES,
    MAX_PROFILE,
    MAX_TITLE,
    Actual,
    EventFields,
)
from jupyterhub_onboarding.core.eventsizing import window_actual
from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service.store import EventStore

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))
#: Markup, iCalendar line breaks, commas and semicolons, quotes, non-Latin text and an emoji.
HOSTILE = 'Exam <script>alert("x")</script>, part;1\\nBEGIN:VEVENT\r\nX: ü 试 🎓 \'"'


@pytest.fixture
def events(store) -> EventStore:
    return EventStore(store.engine)


def fields(start: datetime, **changes) -> EventFields:
    values = dict(
        title="Midterm exam",
        kind="exam",
        start=start,
        end=start + timedelta(hours=2),
        expected_attendees=120,
        profile="python-small",
        notes="room 101",
        contact="ta@example.org",
        time_zone="Europe/Berlin",
    )
    values.update(changes)
    return EventFields(**values)


def test_every_field_comes_back_exactly(events):
    hostile = fields(
        NOW + timedelta(days=3, microseconds=123),
        title=(HOSTILE * 10)[:MAX_TITLE],
        profile=(HOSTILE * 10)[:MAX_PROFILE],
        contact=(HOSTILE * 10)[:MAX_CONTACT],
        notes=(HOSTILE * 200)[:MAX_NOTES],
        checklist=frozenset({"image", "support"}),
    )
    created = events.create(hostile, NOW)
    assert created.id > 0 and created.created_at == NOW
    again = events.get(created.id)
    assert again == created
    assert again.fields() == hostile
    assert len(again.title) == MAX_TITLE and len(again.notes) == MAX_NOTES
    assert again.start == hostile.start and again.start.tzinfo is not None
    assert again.start.utcoffset() == timedelta(0)
    assert again.checklist == {"image", "support"} and not again.checklist_complete
    assert again.actual is None and again.status(NOW) == "planned"


def test_all_lists_events_by_start(events):
    later = events.create(fields(NOW + timedelta(days=9), title="Later"), NOW)
    sooner = events.create(fields(NOW + timedelta(days=2), title="Sooner"), NOW)
    same = events.create(fields(NOW + timedelta(days=9), title="Same start"), NOW)
    assert [event.id for event in events.all()] == [sooner.id, later.id, same.id]
    assert events.get(10_000) is None


def test_an_update_replaces_the_whole_state_and_forgets_the_actual(events, store):
    event = events.create(fields(NOW - timedelta(hours=3)), NOW - timedelta(days=1))
    events.settle_actuals(NOW, lambda sessions, e: Actual(4, 5, 3))
    assert events.get(event.id).actual == Actual(4, 5, 3)

    changed = replace(
        event.fields(),
        title="Final exam",
        expected_attendees=150,
        cancelled=True,
        checklist=frozenset(CHECKLIST_KEYS),
    )
    updated = events.update(event.id, changed, NOW)
    assert updated is not None and updated.fields() == changed
    assert updated.actual is None and updated.status(NOW) == "cancelled"
    assert updated.checklist_complete
    assert events.update(10_000, changed, NOW) is None

    assert events.delete(event.id) is True
    assert events.delete(event.id) is False
    assert events.all() == []


def running(name: str, started: datetime, when: datetime) -> UserSeen:
    return UserSeen(name, False, when, (ServerSeen("", True, started, when),))


def test_the_actual_of_an_ended_event_comes_from_the_stored_sessions(events, store):
    # alice runs a server from 30 minutes before the event to 60 minutes in; bob for the
    # first 30 minutes; carol only after the event
    store.record(
        [running("alice", NOW - timedelta(minutes=30), NOW), running("bob", NOW, NOW)],
        NOW,
        RULES,
        full=True,
    )
    half = NOW + timedelta(minutes=30)
    store.record(
        [running("alice", NOW - timedelta(minutes=30), half), UserSeen("bob", False, half)],
        half,
        RULES,
        full=True,
    )
    hour = NOW + timedelta(hours=1)
    store.record(
        [UserSeen("alice", False, hour), UserSeen("bob", False, half)], hour, RULES, full=True
    )
    after = NOW + timedelta(hours=3)
    store.record(
        [
            UserSeen("alice", False, hour),
            UserSeen("bob", False, half),
            running("carol", after, after),
        ],
        after,
        RULES,
        full=True,
    )

    exam = events.create(fields(NOW, expected_attendees=2), NOW - timedelta(days=1))
    planned = events.create(fields(NOW + timedelta(days=5), title="Later"), NOW)
    cancelled = events.create(fields(NOW, title="Off", cancelled=True), NOW)
    measured = []

    def measure(sessions, event):
        measured.append(event.id)
        return window_actual(sessions, event.start, event.end, after)

    settled = {event.id: event for event in events.settle_actuals(after, measure)}
    assert measured == [exam.id]  # not the planned nor the cancelled event
    assert settled[exam.id].actual == Actual(peak_concurrent_servers=2, sessions=2, users=2)
    assert settled[planned.id].actual is None and settled[cancelled.id].actual is None
    assert events.get(exam.id).actual == Actual(2, 2, 2)
    assert len(events.window_sessions(NOW, NOW + timedelta(hours=2))) == 2
    assert events.peak_since(NOW - timedelta(days=1)) == 2

    # settled for good: long after the end, a stored actual is not measured again
    measured.clear()
    events.settle_actuals(after + timedelta(days=1), measure)
    assert measured == []
