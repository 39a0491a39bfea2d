"""Sessions in the store, on SQLite and a real PostgreSQL: recorded from polls, kept, counted;
what a poll changed comes back typed, and the figures' reads write nothing."""

import dataclasses
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.core.usage import LAST_LOGIN_BUCKETS, SERVER_MINUTES_BUCKETS, LabelKeys
from jupyterhub_onboarding.service.schema import metadata, sessions, users
from jupyterhub_onboarding.service.store import USAGE_SORTS, RecordResult, Store, UsageQuery

UTC = timezone.utc
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))


def user(name, activity, *servers, admin=False):
    return UserSeen(name, admin, activity, tuple(servers))


def server(started, name="", activity=None, **options):
    return ServerSeen(name, True, started, activity or started, user_options=options)


def stored(store):
    with store.engine.connect() as conn:
        return conn.execute(select(sessions).order_by(sessions.c.id)).all()


def ts(value):
    return value.timestamp()


def test_a_session_opens_continues_and_ends_at_the_users_stop_activity(store):
    store.record([user("ana", T0, server(T0))], T0 + MIN, RULES)
    store.record([user("ana", T0, server(T0, activity=T0 + 2 * MIN))], T0 + 2 * MIN, RULES)
    (row,) = stored(store)
    # the server's newer activity is kept in memory between polls ...
    assert (row.started, row.ended, row.last_activity) == (ts(T0), None, ts(T0))
    # ... written at a full sync ...
    store.record(
        [user("ana", T0, server(T0, activity=T0 + 3 * MIN))], T0 + 3 * MIN, RULES, full=True
    )
    assert stored(store)[0].last_activity == ts(T0 + 3 * MIN)
    store.record([user("ana", T0, server(T0, activity=T0 + 4 * MIN))], T0 + 4 * MIN, RULES)
    stop = T0 + 4 * MIN + timedelta(seconds=30)
    result = store.record([user("ana", stop)], T0 + 5 * MIN, RULES)
    assert (result.sessions_opened, result.sessions_ended) == (0, 1)
    (row,) = stored(store)
    # ... and when the session ends
    assert (row.ended, row.last_activity) == (ts(stop), ts(T0 + 4 * MIN))


def test_recording_a_poll_twice_changes_no_session(store):
    poll = [user("ana", T0, server(T0))]
    store.record(poll, T0 + MIN, RULES)
    again = store.record(poll, T0 + MIN, RULES)
    assert (again.sessions_opened, again.sessions_ended) == (0, 0)
    assert len(stored(store)) == 1


def test_a_restart_is_a_new_session_and_named_servers_are_their_own(store):
    store.record([user("ana", T0, server(T0), server(T0, "gpu"))], T0 + MIN, RULES)
    restart = T0 + 5 * MIN
    store.record([user("ana", restart, server(restart), server(T0, "gpu"))], T0 + 6 * MIN, RULES)
    rows = stored(store)
    assert [(r.server, r.started, r.ended) for r in rows] == [
        ("", ts(T0), ts(restart)),
        ("gpu", ts(T0), None),
        ("", ts(restart), None),
    ]


def test_an_open_session_is_closed_correctly_after_the_service_restarts(store_url):
    first = Store(store_url)
    first.upgrade()
    first.record([user("ana", T0, server(T0))], T0 + MIN, RULES)
    first.close()  # the service dies with the server running
    again = Store(store_url)
    # still running at the first poll after the restart: the same session
    again.record([user("ana", T0, server(T0))], T0 + 30 * MIN, RULES, full=True)
    assert [(r.started, r.ended) for r in stored(again)] == [(ts(T0), None)]
    again.close()
    # stopped while the service was down: ended at the stop, not at the restart
    last = Store(store_url)
    stop = T0 + 40 * MIN
    last.record([user("ana", stop)], T0 + 90 * MIN, RULES, full=True)
    assert [(r.started, r.ended) for r in stored(last)] == [(ts(T0), ts(stop))]
    last.close()


def test_without_newer_activity_a_session_ends_at_the_last_poll_that_saw_it(store):
    store.record([user("ana", T0, server(T0))], T0 + MIN, RULES)
    store.record([user("ana", T0, server(T0))], T0 + 2 * MIN, RULES)
    store.record([], T0 + 3 * MIN, RULES)  # an incremental poll that no longer sees her
    assert stored(store)[0].ended == ts(T0 + 2 * MIN)


def test_deleted_users_keep_their_sessions(store):
    store.record([user("ana", T0, server(T0))], T0 + MIN, RULES, full=True)
    store.record([user("ben", T0)], T0 + 10 * MIN, RULES, full=True)  # ana deleted
    (row,) = stored(store)
    assert row.ended == ts(T0 + MIN)
    figures = store.usage_figures(T0 + timedelta(hours=1))
    assert figures.month("2026-11").sessions == 1


def test_profile_and_image_come_from_user_options_bounded(store):
    keys = LabelKeys(profile=("profile",), image=("profile-option-image", "image"))
    options = {"profile": "small", "profile-option-image": "x" * 300, "image": "ignored"}
    store.record([user("ana", T0, server(T0, **options))], T0 + MIN, RULES, label_keys=keys)
    (row,) = stored(store)
    assert row.profile == "small"
    assert len(row.image) == 64 and row.image.startswith("xxx")


def test_daily_peak_counts_counted_users_servers_at_one_poll(store):
    poll = [
        user("ana", T0, server(T0), server(T0, "gpu")),
        user("deployment-service-check", T0, server(T0)),  # not counted
    ]
    store.record(poll, T0 + MIN, RULES)
    store.record([user("ana", T0, server(T0))], T0 + 2 * MIN, RULES)
    usage = store.usage_figures(T0 + 3 * MIN).month("2026-11")
    assert usage.peak_concurrent_servers == 2
    assert usage.daily_peaks == (("2026-11-20", 2),)
    assert usage.sessions == 2  # the health check's session is not counted


def test_figures_of_a_past_month_follow_a_session_that_ends_later(store):
    start = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    store.record([user("ana", start, server(start))], start + MIN, RULES)
    first = store.usage_figures(datetime(2026, 11, 1, 0, 30, tzinfo=UTC))
    assert first.month("2026-10").server_hours == 1.0
    assert first.month("2026-10").median_session_minutes == 60.0  # ended by the boundary
    assert first.month("2026-11").server_hours == 0.5
    stop = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    store.record([user("ana", start, server(start))], stop - MIN, RULES)
    store.record([user("ana", stop)], stop + MIN, RULES)
    later = store.usage_figures(datetime(2026, 11, 2, tzinfo=UTC))
    assert later.month("2026-10").sessions == 1
    november = later.month("2026-11")
    assert (november.sessions, november.server_hours, november.median_session_minutes) == (
        0,
        2.0,
        120.0,
    )
    assert later.server_minutes_distribution["2h_10h"] == 1


def test_last_login_distribution_over_counted_users(store):
    now = T0
    store.record(
        [
            user("a", now - timedelta(hours=2)),
            user("b", now - timedelta(days=1)),
            user("c", now - timedelta(days=100)),
            user("never", None),
        ],
        now,
        RULES,
    )
    figures = store.usage_figures(now)
    assert figures.last_login_distribution == {
        "under_1d": 1,
        "1d_7d": 1,
        "7d_30d": 0,
        "30d_90d": 0,
        "over_90d": 1,
    }


def test_usage_rows_are_sorted_paged_and_filtered_in_sql(store):
    polls = []
    for i in range(5):
        polls.append(user(f"u{i}", T0, *(server(T0, f"s{j}", profile="p") for j in range(i))))
    store.record(polls, T0 + MIN, RULES)
    # every server stops at T0 + 10 minutes (the users' activity says so)
    store.record([user(f"u{i}", T0 + 10 * MIN) for i in range(5)], T0 + 11 * MIN, RULES)
    now = T0 + timedelta(hours=3)
    rows, total = store.usage_rows(UsageQuery(202611, now, sort="sessions", limit=2))
    assert total == 5
    assert [(r.name, r.sessions, r.top_profile) for r in rows] == [("u4", 4, "p"), ("u3", 3, "p")]
    rows, _ = store.usage_rows(UsageQuery(202611, now, sort="name", descending=False, offset=4))
    assert [(r.name, r.sessions, r.server_hours, r.top_profile) for r in rows] == [
        ("u4", 4, round(4 * 10 / 60, 4), "p")
    ]
    rows, total = store.usage_rows(
        UsageQuery(202611, now, bucket=("server_minutes", "30m_2h"), limit=None)
    )
    assert (total, {r.name for r in rows}) == (2, {"u3", "u4"})
    rows, total = store.usage_rows(UsageQuery(202611, now, bucket=("last_login", "1d_7d")))
    assert (total, rows) == (0, [])
    with pytest.raises(ValueError):
        store.usage_rows(UsageQuery(202611, now, sort="password"))


def test_a_stopping_server_stays_in_session_until_the_stop_completes(store):
    store.record([user("ana", T0, server(T0))], T0 + MIN, RULES)
    stopping = ServerSeen("", False, T0, T0, pending="stop")
    store.record([user("ana", T0, stopping)], T0 + 2 * MIN, RULES)
    assert stored(store)[0].ended is None
    done = T0 + 2 * MIN + timedelta(seconds=40)  # the hub's stop time, the user's activity
    store.record([user("ana", done)], T0 + 3 * MIN, RULES)
    assert stored(store)[0].ended == ts(done)


def test_a_server_started_during_the_read_of_a_poll_is_one_session(store):
    # the poll's time is taken before the hub is read: the server started just after it
    just_after = T0 + timedelta(seconds=2)
    store.record([user("ana", just_after, server(just_after))], T0, RULES)
    store.record([user("ana", just_after, server(just_after))], T0 + MIN, RULES)
    assert [(r.started, r.ended) for r in stored(store)] == [(ts(just_after), None)]


def test_a_start_far_in_the_future_is_taken_as_now_and_stays_one_session(store):
    future = T0 + timedelta(days=400)
    store.record([user("ana", T0, server(future))], T0, RULES)
    store.record([user("ana", T0, server(future))], T0 + MIN, RULES)
    assert [(r.started, r.ended) for r in stored(store)] == [(ts(T0), None)]


def test_a_failed_commit_leaves_no_trace_and_the_next_poll_reads_sessions_again(store):
    store.record([user("ana", T0, server(T0))], T0 + MIN, RULES)

    def fail(conn):
        raise RuntimeError("the database went away at commit")

    event.listen(store.engine, "commit", fail)
    with pytest.raises(RuntimeError):  # would open ben's session and end ana's: rolled back
        store.record([user("ben", T0, server(T0))], T0 + 2 * MIN, RULES)
    event.remove(store.engine, "commit", fail)
    assert [(r.server, r.ended) for r in stored(store)] == [("", None)]
    # the same two servers still running: ana's session continues, ben's opens once
    store.record([user("ana", T0, server(T0)), user("ben", T0, server(T0))], T0 + 3 * MIN, RULES)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(users.c.name, sessions.c.ended)
            .join(users, users.c.id == sessions.c.user_id)
            .order_by(sessions.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [("ana", None), ("ben", None)]


def test_the_current_months_table_from_its_summary_matches_the_sessions(store_url):
    """After a refresh the page of the current month reads usage_user_months; every order,
    bucket and page gives what the sessions themselves give."""
    now = T0 + timedelta(hours=5)
    polls = []
    for i in range(12):
        servers = tuple(server(T0 + i * MIN, f"s{j}", profile=f"p{j % 2}") for j in range(i % 4))
        polls.append(user(f"u{i:02d}", T0 - timedelta(days=i * 9), *servers))
    polls.append(user("idle", T0 - timedelta(days=40)))
    plain = Store(store_url)
    plain.upgrade()
    plain.record(polls, T0 + 20 * MIN, RULES)
    # u01, u05, u09 stop; the others keep running
    running = [
        p if int(p.name[1:] if p.name != "idle" else 0) % 4 != 1 else user(p.name, T0 + 30 * MIN)
        for p in polls
    ]
    plain.record(running, T0 + 31 * MIN, RULES)
    queries = [
        UsageQuery(202611, now, sort=sort, descending=desc, offset=offset, limit=limit, bucket=b)
        for sort in ("name", "sessions", "server_hours", "last_login", "last_session_end")
        for desc in (True, False)
        for offset, limit in ((0, 5), (5, 5), (10, 5), (0, None))
        for b in (None, ("last_login", "7d_30d"), ("server_minutes", "2h_10h"))
    ]

    def full(rows):
        return sorted(
            (r.name, r.sessions, r.server_hours, r.running, r.last_session_end, r.top_profile)
            for r in rows
        )

    def order_key(q, r):
        return {
            "name": r.name,
            "last_login": r.last_login_at,
            "sessions": r.sessions,
            "server_hours": r.server_hours,
            "last_session_end": (r.running, None if r.running else r.last_session_end),
        }[q.sort]

    expected = [plain.usage_rows(q) for q in queries]  # from the sessions
    plain.usage_figures(now)
    plain.write_usage_table(now)  # the refresh writes the summary of the month
    assert plain.user_table.month == 202611
    for q, (rows, total) in zip(queries, expected, strict=True):
        fast_rows, fast_total = plain.usage_rows(q)
        assert fast_total == total, q
        # the same order of the sorted column (ties may come in another order) ...
        assert [order_key(q, r) for r in fast_rows] == [order_key(q, r) for r in rows], q
        if q.limit is None:  # ... and the same rows in all
            assert full(fast_rows) == full(rows), q
    plain.close()


def test_a_refresh_reads_only_the_sessions_polls_changed_and_agrees_with_a_full_read(store_url):
    store = Store(store_url)
    store.upgrade()
    store.record([user("ana", T0, server(T0)), user("ben", T0, server(T0, "x"))], T0 + MIN, RULES)
    first = store.usage_figures(T0 + 2 * MIN).month("2026-11")
    store.record([user("ana", T0, server(T0))], T0 + 10 * MIN, RULES)  # ben's ends
    store.record([user("cleo", T0, server(T0 + 11 * MIN))], T0 + 12 * MIN, RULES)  # ana's ends
    cached = store.usage_figures(T0 + 20 * MIN).month("2026-11")
    store.close()
    fresh_store = Store(store_url)  # a new process reads everything
    fresh = fresh_store.usage_figures(T0 + 20 * MIN).month("2026-11")
    fresh_store.close()
    assert first.sessions == 2 and cached.sessions == 3
    assert cached == fresh


def test_a_refresh_on_a_locked_database_keeps_its_figures_and_does_not_wait(tmp_path):
    import sqlite3
    import time

    path = tmp_path / "locked.sqlite"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.record([user("ana", T0, server(T0))], T0 + MIN, RULES)
    store.usage_figures(T0 + 2 * MIN)
    store.write_usage_table(T0 + 2 * MIN)  # the month's table written
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        started = time.monotonic()
        figures = store.usage_figures(T0 + 60 * MIN)
        assert not store.write_usage_table(T0 + 60 * MIN)  # ana's time grew: a write is due
        assert time.monotonic() - started < 5  # not the 10 s busy timeout (or three of them)
        assert figures.month("2026-11").server_hours == 1.0
        rows, total = store.usage_rows(UsageQuery(202611, T0 + 60 * MIN))
        assert (total, rows[0].name, rows[0].server_hours) == (1, "ana", 1.0)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    store.usage_figures(T0 + 63 * MIN)
    store.write_usage_table(T0 + 63 * MIN)  # written again once the lock is gone
    assert store.user_table.month == 202611
    store.close()


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


def test_the_figures_are_read_from_a_read_only_database(store_url):
    writer = Store(store_url)
    writer.upgrade()
    now = seed(writer)
    writer.record_milestones(5)
    writer.close()
    reader = Store(read_only(store_url))
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
