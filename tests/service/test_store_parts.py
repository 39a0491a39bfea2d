"""The seams between the store's parts, on SQLite and a real PostgreSQL: chunked IN queries at
their chunk boundaries, what a poll changed as a typed value, and reads that write nothing."""

import dataclasses
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.core.usage import LAST_LOGIN_BUCKETS, SERVER_MINUTES_BUCKETS
from jupyterhub_onboarding.service.schema import metadata, sessions
from jupyterhub_onboarding.service.store import USAGE_SORTS, RecordResult, Store, UsageQuery
from jupyterhub_onboarding.service.store._sql import CHUNK, execute_chunked

UTC = timezone.utc
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'onboarding.sqlite'}"
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture
def store(url):
    s = Store(url)
    s.upgrade()
    yield s
    s.close()


def user(name, activity, *servers):
    return UserSeen(name, False, activity, tuple(servers))


def server(started, **options):
    return ServerSeen("", True, started, started, user_options=options)


# -- one helper for chunked IN queries -------------------------------------------------------

numbers = Table("numbers", MetaData(), Column("n", Integer, primary_key=True))


@pytest.fixture
def numbers_db():
    """A table of the numbers 0 to 2 * CHUNK + 1, and the parameters of every statement."""
    engine = create_engine("sqlite://")
    numbers.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(numbers), [{"n": n} for n in range(2 * CHUNK + 2)])
    executed: list = []

    def note(conn, cursor, statement, parameters, context, executemany):
        executed.append(parameters)

    event.listen(engine, "before_cursor_execute", note)
    yield engine, executed
    engine.dispose()


@pytest.mark.parametrize("size", [3, CHUNK])
@pytest.mark.parametrize("extra", [0, 1, -1, "size", "size+1", "2size", "2size+1"])
def test_chunked_in_reads_every_value_once_in_order_and_within_the_chunk_size(
    numbers_db, size, extra
):
    engine, executed = numbers_db
    count = {"size": size, "size+1": size + 1, "2size": 2 * size, "2size+1": 2 * size + 1}.get(
        extra, size - 1 if extra == -1 else extra
    )
    values = list(range(count))[::-1]  # descending: the chunks' order is kept
    with engine.connect() as conn:
        rows = execute_chunked(
            conn,
            values,
            lambda chunk: (
                select(numbers.c.n).where(numbers.c.n.in_(chunk)).order_by(numbers.c.n.desc())
            ),
            size=size,
        )
    assert [row.n for row in rows] == values
    assert len(executed) == -(-count // size)  # one statement per chunk, none for no values
    assert all(0 < len(parameters) <= size for parameters in executed)


def test_chunked_in_runs_statements_that_return_no_rows(numbers_db):
    engine, executed = numbers_db
    doomed = list(range(0, 2 * CHUNK + 2, 2))  # CHUNK + 1 values: two statements
    with engine.begin() as conn:
        rows = execute_chunked(conn, doomed, lambda c: delete(numbers).where(numbers.c.n.in_(c)))
        assert rows == [] and len(executed) == 2
        left = conn.execute(select(numbers.c.n).order_by(numbers.c.n)).scalars().all()
    assert left == list(range(1, 2 * CHUNK + 2, 2))


def test_chunked_in_refuses_an_empty_chunk_size(numbers_db):
    engine, _executed = numbers_db
    with engine.connect() as conn, pytest.raises(ValueError, match="size"):
        execute_chunked(conn, [1], lambda c: select(numbers.c.n).where(numbers.c.n.in_(c)), 0)


# -- what a poll changed, typed --------------------------------------------------------------


def test_what_a_poll_changed_comes_back_as_a_typed_value(store):
    october = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    first = store.record(
        [user("ana", october, server(october)), user("ben", T0, server(T0))], T0 + MIN, RULES
    )
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(sessions.c.started, sessions.c.id)).all())
    ana, ben = ids[october.timestamp()], ids[T0.timestamp()]
    assert isinstance(first, RecordResult)
    assert (first.users_added, first.sessions_opened, first.sessions_ended) == (2, 2, 0)
    assert first.months_changed == {202610, 202611}  # the months the sessions started in
    assert first.sessions_changed == {ana, ben}

    again = store.record(
        [user("ana", october, server(october)), user("ben", T0, server(T0))], T0 + MIN, RULES
    )
    assert (again.months_changed, again.sessions_changed) == (frozenset(), frozenset())

    # ana's server stops: her session ran in October and November, both change
    ended = store.record(
        [user("ana", T0 + 2 * MIN), user("ben", T0, server(T0))], T0 + 3 * MIN, RULES
    )
    assert (ended.sessions_opened, ended.sessions_ended) == (0, 1)
    assert ended.months_changed == {202610, 202611}
    assert ended.sessions_changed == {ana}
    with pytest.raises(dataclasses.FrozenInstanceError):
        ended.sessions_ended = 0  # type: ignore[misc]
    assert "ana" not in repr(ended) and "ben" not in repr(ended)  # no usernames in its logs


# -- reads write nothing ---------------------------------------------------------------------


def table_dump(store: Store) -> dict[str, list]:
    with store.engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }


def seed(store: Store) -> datetime:
    """Five users with sessions in November (first value reached, nothing written after the
    polls): returns a time after them."""
    store.record(
        [user(f"u{i}", T0, server(T0, profile=f"p{i % 2}")) for i in range(5)], T0 + MIN, RULES
    )
    store.record(
        [user("u0", T0 + 5 * MIN)] + [user(f"u{i}", T0, server(T0)) for i in range(1, 5)],
        T0 + 6 * MIN,
        RULES,
    )
    return T0 + 2 * timedelta(hours=1)


def read_everything(store: Store, now: datetime) -> None:
    """Every read the service, its pages and its APIs make."""
    store.aggregates(now, 5)
    store.logged_in_users(100)
    store.usage_figures(now)
    store.onboarding_record()
    buckets = [("last_login", key) for key, *_ in LAST_LOGIN_BUCKETS]
    buckets += [("server_minutes", key) for key, *_ in SERVER_MINUTES_BUCKETS]
    for month in (202610, 202611):
        for sort in USAGE_SORTS:
            for bucket in (None, *buckets):
                store.usage_rows(UsageQuery(month, now, sort=sort, bucket=bucket))
    store.events.all()
    store.events.get(1)
    store.events.peak_since(now - timedelta(days=90))
    store.events.window_sessions(T0, now)


def test_reads_write_nothing_and_the_writes_after_a_poll_are_explicit(store):
    now = seed(store)
    before = table_dump(store)
    read_everything(store, now)  # cold: the month read whole, no table written yet
    assert table_dump(store) == before
    assert store.aggregates(now, 5).milestones == {}
    assert store.user_table.month is None

    store.record_milestones(5)
    assert store.write_usage_table(now)
    written = table_dump(store)
    assert [row[0] for row in written["milestones"]] == ["login", "server"]
    assert len(written["usage_user_months"]) == 5
    read_everything(store, now + MIN)  # warm: pages of November from usage_user_months
    assert store.user_table.month == 202611
    assert table_dump(store) == written


def read_only(url: str) -> str:
    """The same database, opened so that every write fails."""
    if url.startswith("sqlite:///"):
        return f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    return f"{url}?options=-c%20default_transaction_read_only%3Don"


def test_the_figures_are_read_from_a_read_only_database(url):
    writer = Store(url)
    writer.upgrade()
    now = seed(writer)
    writer.record_milestones(5)
    writer.close()
    reader = Store(read_only(url))
    try:
        read_everything(reader, now)
        agg = reader.aggregates(now, 5)
        assert (agg.users_logged_in, agg.milestones["login"]) == (5, T0)
        assert reader.usage_figures(now).month("2026-11").sessions == 5
        rows, total = reader.usage_rows(UsageQuery(202611, now, sort="name", descending=False))
        assert total == 5 and [row.name for row in rows] == [f"u{i}" for i in range(5)]
        with pytest.raises(DBAPIError):  # read-only indeed: a poll cannot be recorded
            reader.record([user("late", now)], now, RULES)
    finally:
        reader.close()
