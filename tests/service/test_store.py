"""The store on SQLite and on a real PostgreSQL: idempotent, transactional, never forgets."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, select

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service import schema
from jupyterhub_onboarding.service.schema import activity, users
from jupyterhub_onboarding.service.store import Store
from jupyterhub_onboarding.service.store import users as users_part

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))


def seen(name, when=NOW, admin=False, server=False, started=None):
    servers = ()
    if server:
        servers = (ServerSeen("", True, started or when, when),)
    return UserSeen(name, admin, when, servers)


def test_schema_is_versioned(store):
    assert store.schema_revision() == "0008"
    store.upgrade()  # idempotent
    assert store.schema_revision() == "0008"


def test_recording_twice_counts_nobody_twice(store):
    batch = [seen(f"user{i}", NOW - timedelta(hours=i)) for i in range(5)]
    first = store.record(batch, NOW, RULES)
    again = store.record(batch, NOW, RULES)
    assert first.users_added == 5
    assert (again.users_added, again.users_updated, again.activity_rows) == (0, 0, 0)
    agg = store.aggregates(NOW, threshold=5)
    assert agg.users_logged_in == 5
    assert agg.months[-1].login == 5
    assert agg.nth_seen_at["login"] == NOW  # the fifth to arrive is the latest of the five


def test_never_active_users_are_not_logged_in(store):
    store.record([UserSeen("listed-only", False, None)], NOW, RULES, full=True)
    agg = store.aggregates(NOW, threshold=5)
    assert agg.users_logged_in == 0 and agg.users_known == 1


def test_exclusions_and_admin_rule(store):
    store.record(
        [seen("deployment-service-check"), seen("boss", admin=True), seen("alice")], NOW, RULES
    )
    assert store.aggregates(NOW, 5).users_logged_in == 2
    no_admins = CountingRules(excluded_pattern=RULES.excluded_pattern, count_admins=False)
    assert store.apply_rules(no_admins) == 1
    agg = store.aggregates(NOW, 5)
    assert agg.users_logged_in == 1
    assert agg.admin_logged_in  # an admin logged in, even though admins are not counted


def test_deleted_users_stay_counted(store):
    store.record([seen("alice"), seen("bob")], NOW, RULES, full=True)
    result = store.record([seen("alice")], NOW + timedelta(hours=1), RULES, full=True)
    assert result.users_deleted == 1
    agg = store.aggregates(NOW + timedelta(hours=1), 5)
    assert agg.users_logged_in == 2
    names = {u.name: u.deleted_at for u in store.logged_in_users()}
    assert names["bob"] is not None and names["alice"] is None


def test_first_value_milestone_never_regresses(store):
    store.record([seen(f"u{i}", NOW - timedelta(minutes=i)) for i in range(5)], NOW, RULES)
    store.record_milestones(5)
    reached = store.aggregates(NOW, 5).milestones["login"]
    assert reached == NOW
    store.apply_rules(CountingRules(excluded_users=frozenset({"u0", "u1"})))
    store.record_milestones(5)
    agg = store.aggregates(NOW + timedelta(days=1), 5)
    assert agg.users_logged_in == 3
    assert agg.nth_seen_at["login"] is None
    assert agg.milestones["login"] == reached


def test_month_boundary_with_injected_times(store):
    end_of_nov = datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)
    start_of_dec = datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC)
    store.record([seen("alice", end_of_nov), seen("bob", end_of_nov)], end_of_nov, RULES)
    store.record([seen("alice", start_of_dec)], start_of_dec, RULES)
    agg = store.aggregates(start_of_dec, 5)
    by_month = {m.month: (m.login, m.server) for m in agg.months}
    assert by_month == {"2026-11": (2, 0), "2026-12": (1, 0)}


def test_daily_marks_and_server_basis(store):
    days = [NOW + timedelta(days=d) for d in (0, 1, 1, 3)]
    for when in days:
        store.record([seen("alice", when, server=True)], when, RULES)
    with store.engine.connect() as conn:
        rows = {(r.basis, r.days) for r in conn.execute(select(activity))}
    expected = (1 << 19) | (1 << 20) | (1 << 22)  # the 20th, 21st and 23rd
    assert rows == {(0, expected), (1, expected)}
    agg = store.aggregates(NOW + timedelta(days=3), 1)
    assert agg.users_started_server == 1
    assert agg.nth_seen_at["server"] == NOW
    assert agg.months[-1].server == 1


def test_rolling_windows(store):
    store.record(
        [
            seen("a", NOW - timedelta(hours=1)),
            seen("b", NOW - timedelta(days=3)),
            seen("c", NOW - timedelta(days=10)),
            seen("d", NOW - timedelta(days=20)),
            seen("e", NOW - timedelta(days=40)),
        ],
        NOW,
        RULES,
    )
    agg = store.aggregates(NOW, 5, generating_days=14)
    assert agg.rolling == {"24h": 1, "7d": 2, "14d": 3, "30d": 4}
    assert agg.generating_window_active == 3


def test_future_activity_is_clamped_to_now(store):
    store.record([seen("skewed", NOW + timedelta(hours=5))], NOW, RULES)
    assert store.logged_in_users()[0].last_login_at == NOW


def test_failed_transaction_loses_only_the_poll_in_flight(store, monkeypatch):
    store.record([seen("alice")], NOW, RULES)

    def explode(*args, **kwargs):
        raise RuntimeError("crash mid-poll")

    monkeypatch.setattr(users_part, "write_marks", explode)
    with pytest.raises(RuntimeError):
        store.record([seen("bob"), seen("carol")], NOW, RULES)
    monkeypatch.undo()
    with store.engine.connect() as conn:
        names = {row.name for row in conn.execute(select(users.c.name))}
    assert names == {"alice"}  # the failed poll left nothing half-written


def test_live_since_is_remembered(store):
    assert store.get_or_set_state("live_since", "2026-11-01T00:00:00Z") == "2026-11-01T00:00:00Z"
    assert store.get_or_set_state("live_since", "2027-01-01T00:00:00Z") == "2026-11-01T00:00:00Z"


def test_reopening_keeps_everything(tmp_path):
    url = f"sqlite:///{tmp_path / 'kept.sqlite'}"
    first = Store(url)
    first.upgrade()
    first.record([seen(f"u{i}") for i in range(5)], NOW, RULES)
    first.record_milestones(5)
    first.close()
    second = Store(url)
    second.upgrade()
    agg = second.aggregates(NOW, 5)
    assert agg.users_logged_in == 5 and agg.milestones["login"] == NOW


def test_logged_in_users_earliest_first_with_a_limit(store):
    store.record([seen(f"u{i}", NOW - timedelta(minutes=i)) for i in range(5)], NOW, RULES)
    assert [u.name for u in store.logged_in_users(limit=2)] == ["u4", "u3"]
    assert len(store.logged_in_users()) == 5


def test_usernames_longer_than_255_characters_are_stored(store):
    """The hub accepts far longer names; PostgreSQL refused them in a VARCHAR(255)."""
    long_name = "u" * 1000
    store.record([UserSeen(long_name, False, NOW)], NOW, RULES, full=True)
    assert [user.name for user in store.logged_in_users()] == [long_name]


def test_ticks_and_the_meeting_are_kept_with_who_and_when(store):
    from datetime import date

    from jupyterhub_onboarding.core.checklist import Meeting

    assert store.onboarding_record().ticks == {} and store.onboarding_record().meeting is None
    store.set_tick("authentication", True, "admin", NOW)
    store.set_tick("authentication", True, "other-admin", NOW + timedelta(hours=1))  # kept
    store.set_tick("compute", True, "ädmin-" + "x" * 300, NOW)
    record = store.onboarding_record()
    assert record.ticks["authentication"].by == "admin"
    assert record.ticks["authentication"].at == NOW
    assert record.ticks["compute"].by == "ädmin-" + "x" * 300
    store.set_tick("authentication", False, "admin", NOW)  # undone
    store.set_tick("never-ticked", False, "admin", NOW)  # undoing nothing is harmless
    assert set(store.onboarding_record().ticks) == {"compute"}

    store.record_meeting(Meeting(date(2026, 11, 19), False, "admin", NOW))
    store.record_meeting(Meeting(date(2026, 11, 20), True, "other", NOW + timedelta(hours=1)))
    held = store.onboarding_record().meeting
    assert held == Meeting(date(2026, 11, 20), True, "other", NOW + timedelta(hours=1))


def test_the_first_admin_login_is_when_an_admin_was_first_seen(store):
    store.record([seen("alice", NOW - timedelta(days=2))], NOW, RULES)
    assert store.aggregates(NOW, threshold=5).admin_first_login_at is None
    store.record(
        [seen("root", NOW - timedelta(days=1), admin=True), seen("boss", NOW, admin=True)],
        NOW,
        RULES,
    )
    agg = store.aggregates(NOW, threshold=5)
    assert agg.admin_logged_in and agg.admin_first_login_at == NOW - timedelta(days=1)


def test_a_poll_updates_only_the_columns_that_changed(store):
    """A running server's user is updated every poll (last_server_at): the update leaves the
    other columns, and so their indexes, alone."""
    store.record([seen("alice", server=True), seen("bob")], NOW, RULES)
    statements: list[str] = []

    def note(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE USERS"):
            statements.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        later = NOW + timedelta(minutes=1)
        store.record([seen("alice", NOW, server=True), seen("bob", later)], later, RULES)
    finally:
        event.remove(store.engine, "before_cursor_execute", note)
    # the columns each statement sets, whatever the dialect's placeholders
    assert sorted(re.findall(r"(\w+)=", s.split(" WHERE ")[0]) for s in statements) == [
        ["last_login_at"],
        ["last_server_at"],
    ]
    found = {u.name: u for u in store.logged_in_users()}
    assert found["alice"].last_login_at == NOW and found["bob"].last_login_at == later


def test_the_migrations_make_the_schema_the_service_defines(store):
    def ours(name, type_, _parent_names) -> bool:
        return type_ != "table" or name in schema.metadata.tables

    with store.engine.connect() as conn:
        # types left out: SQLite keeps the name column's VARCHAR(255) (it enforces no length,
        # so 0002 widens it on PostgreSQL only); the tables, columns and indexes compared
        opts = {"include_name": ours, "compare_type": False}
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, schema.metadata) == []
