"""A full read written page by page (``Store.record_page``, then ``Store.record`` with the
users the pages kept and the ids they wrote) stores what the same read recorded whole
stores: the same users, marks, deletions and sessions."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service.schema import activity, sessions, users
from jupyterhub_onboarding.service.store import Store
from jupyterhub_onboarding.service.store.poll import PageWritten, WrittenPages

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
RULES = CountingRules()


def seen(name, when=NOW, *, server=None):
    servers = () if server is None else (ServerSeen("", True, server, when),)
    return UserSeen(name, False, when, servers)


def write_by_pages(store, pages, now, *, present=frozenset()):
    """One full read, page by page, as the tracker writes it; returns the poll's result."""
    written = WrittenPages()
    kept = []
    for page in pages:
        kept.extend(written.add(store.record_page(page, now, RULES)))
    return store.record(kept, now, RULES, full=True, present=present, written=written.ids), kept


def tables(store):
    with store.engine.connect() as conn:
        people = conn.execute(
            select(users.c.name, users.c.first_login_at, users.c.last_login_at)
            .add_columns(users.c.first_server_at, users.c.last_server_at, users.c.deleted_at)
            .order_by(users.c.name)
        ).all()
        marks = conn.execute(
            select(users.c.name, activity.c.month, activity.c.basis, activity.c.days)
            .join(users, users.c.id == activity.c.user_id)
            .order_by(users.c.name, activity.c.month, activity.c.basis)
        ).all()
        kept_sessions = conn.execute(
            select(users.c.name, sessions.c.started, sessions.c.ended, sessions.c.last_activity)
            .join(users, users.c.id == sessions.c.user_id)
            .order_by(users.c.name, sessions.c.started)
        ).all()
    return people, marks, kept_sessions


@pytest.fixture
def twin(tmp_path):
    """A second store on SQLite: the same polls recorded whole."""
    whole = Store(f"sqlite:///{tmp_path / 'whole.sqlite'}")
    whole.upgrade()
    yield whole
    whole.close()


def test_a_read_written_by_pages_stores_what_the_read_recorded_whole_stores(store, twin):
    first = [seen("ann"), seen("bo", server=NOW - timedelta(hours=1)), seen("cy"), seen("dee")]
    later = NOW + timedelta(hours=2)
    # bo's server stopped (his session ends at his last activity), cy is gone, eve is new
    # with a server, dee's server started
    second = [
        [seen("ann", later), seen("bo", NOW + timedelta(minutes=30))],
        [seen("dee", later, server=later - timedelta(minutes=5)), seen("eve", later, server=later)],
    ]
    twin.record(first, NOW, RULES, full=True)
    whole = twin.record([u for page in second for u in page], later, RULES, full=True)
    write_by_pages(store, [first[:2], first[2:]], NOW)
    paged, kept = write_by_pages(store, second, later)

    assert tables(store) == tables(twin)
    assert (paged.users_deleted, paged.sessions_ended, paged.sessions_opened) == (1, 1, 2)
    assert (whole.users_deleted, whole.sessions_ended, whole.sessions_opened) == (1, 1, 2)
    # the pages kept only the users the sessions read: bo (a session open), dee and eve
    assert sorted(u.name for u in kept) == ["bo", "dee", "eve"]
    people = {row.name: row.deleted_at for row in tables(store)[0]}
    assert people["cy"] is not None and people["ann"] is None


def test_a_user_on_two_pages_is_written_once_and_kept_once(store):
    bo = seen("bo", server=NOW - timedelta(hours=1))
    result, kept = write_by_pages(store, [[seen("ann"), bo], [bo, seen("cy")]], NOW)
    assert result.users_deleted == 0 and result.sessions_opened == 1
    assert [row.name for row in tables(store)[0]] == ["ann", "bo", "cy"]
    assert [u.name for u in kept] == ["bo", "bo"]  # the poll's record merges them


def test_a_read_that_stops_after_some_pages_marks_nobody_deleted(store):
    store.record([seen("ann"), seen("bo"), seen("cy")], NOW, RULES, full=True)
    later = NOW + timedelta(hours=1)
    written = WrittenPages()
    written.add(store.record_page([seen("ann", later)], later, RULES))
    # the hub failed before the next page: the poll's record is never called
    people = {row.name: (row.deleted_at, row.last_login_at) for row in tables(store)[0]}
    assert all(deleted is None for deleted, _ in people.values())
    assert people["ann"][1].replace(tzinfo=timezone.utc) == later  # the page was kept
    assert store.aggregates(later, 5).users_logged_in == 3


def test_the_names_of_entries_that_could_not_be_parsed_are_not_deleted(store):
    store.record([seen("ann"), seen("bo"), seen("cy")], NOW, RULES, full=True)
    result, _ = write_by_pages(store, [[seen("ann")]], NOW, present=frozenset({"bo"}))
    assert result.users_deleted == 1  # cy only


def test_a_page_returns_its_names_only_when_asked(store):
    assert store.record_page([seen("ann")], NOW, RULES).names == frozenset()
    assert store.record_page([seen("ann")], NOW, RULES, names=True).names == {"ann"}


def test_the_pages_written_gather_their_ids_and_names():
    written = WrittenPages()
    assert written.add(PageWritten([3, 1], [], frozenset({"ann"}))) == []
    written.add(PageWritten([2], [seen("bo")], frozenset({"bo"})))
    assert written.names == {"ann", "bo"}
    assert [i in written.ids for i in (1, 2, 3, 4)] == [True, True, True, False]
    assert len(written.ids) == 3
