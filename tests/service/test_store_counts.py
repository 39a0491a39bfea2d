"""The counts over every user that the refresh after each poll reads: kept by the store
between polls and read again only after a poll that moved them, so a poll that only moved
activity costs what it changed, and always exactly what the database holds (after failed
transactions, changed exclusions and restarts)."""

import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select

from jupyterhub_onboarding.core.buckets import LAST_LOGIN_BUCKETS
from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import ROLLING_WINDOWS, CountingRules, month_label
from jupyterhub_onboarding.core.usage import month_bounds
from jupyterhub_onboarding.service.schema import users
from jupyterhub_onboarding.service.store import Store
from jupyterhub_onboarding.service.store import users as users_part
from jupyterhub_onboarding.service.store._sql import COUNTED, LISTED
from jupyterhub_onboarding.service.store.usage import last_login_within
from jupyterhub_onboarding.service.store.users import month_counts

UTC = timezone.utc
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
RULES = CountingRules(excluded_pattern=re.compile("excluded"))


def seen(name, when, admin=False, server=False):
    servers = (ServerSeen("", True, when - timedelta(hours=1), when),) if server else ()
    return UserSeen(name, admin, when, servers)


def refresh(store: Store, now: datetime) -> None:
    """What the service reads and writes after every poll."""
    store.record_milestones(3)
    store.aggregates(now, 3)
    store.usage_figures(now)
    store.write_usage_table(now)


def test_a_poll_that_moved_only_activity_reads_no_kept_count_again(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'counts.sqlite'}")
    store.upgrade()
    try:
        population = [seen(f"u{i}", NOW - timedelta(days=i % 100)) for i in range(300)]
        population.append(seen("boss", NOW, admin=True, server=True))
        store.record(population, NOW, RULES, full=True)
        refresh(store, NOW)  # the first refresh reads the counts once, as at start
        later = NOW + timedelta(minutes=1)
        # activity of known users only: last logins and a running server move, nothing else
        store.record(
            [seen("u1", later), seen("boss", later, admin=True, server=True)], later, RULES
        )
        statements: list[str] = []

        def note(conn, cursor, statement, *args):
            statements.append(" ".join(statement.split()))

        event.listen(store.engine, "before_cursor_execute", note)
        refresh(store, later)
        event.remove(store.engine, "before_cursor_execute", note)
        assert statements, "the refresh ran no statement at all"
        kept_counts = re.compile(
            r"min\(users.first_login_at\)|users.first_server_at IS NOT NULL|ORDER BY users.first_"
            r"|GROUP BY activity.month"
            # the counted users who logged in: the figures' and the per-user table's rows
            r"|FROM users WHERE users.counted IS 1 AND users.first_login_at IS NOT NULL$"
        )
        assert [s for s in statements if kept_counts.search(s)] == []
        # the months with activity, a step of the index each: no pass over every activity row
        assert [s for s in statements if "DISTINCT activity.month" in s] == []
        # the rolling windows' active users in one read
        assert len([s for s in statements if "CASE WHEN (users.last_login_at >=" in s]) == 1
        # the new users per month are kept too: only the previous month to date's (up to a
        # point that moves with the clock) is counted
        assert len([s for s in statements if "users.first_login_at >=" in s]) == 1
        # a new user moves them: read again
        store.record([seen("newcomer", later)], later, RULES)
        statements.clear()
        event.listen(store.engine, "before_cursor_execute", note)
        refresh(store, later)
        event.remove(store.engine, "before_cursor_execute", note)
        assert [s for s in statements if kept_counts.search(s)] != []
    finally:
        store.close()


def last_login_buckets(conn, now: datetime) -> dict[str, int]:
    """Counted users who have logged in, per bucket, each counted on its own."""
    return {
        key: conn.execute(
            select(func.count()).where(
                COUNTED,
                users.c.last_login_at.is_not(None),
                *last_login_within(now, lower, upper),
            )
        ).scalar_one()
        for key, _label, lower, upper in LAST_LOGIN_BUCKETS
    }


def expected(store: Store, now: datetime, threshold: int) -> dict:
    """The figures the kept counts stand for, counted in the database."""
    with store.engine.connect() as conn:

        def count(*conditions):
            return conn.execute(select(func.count()).select_from(users).where(*conditions)).scalar()

        def nth(column):
            return conn.execute(
                select(column)
                .where(COUNTED, column.is_not(None))
                .order_by(column)
                .offset(threshold - 1)
                .limit(1)
            ).scalar_one_or_none()

        per_month = month_counts(conn)
        new_users = {}
        for month in per_month:
            start, end = month_bounds(month)
            number = count(COUNTED, users.c.first_login_at >= start, users.c.first_login_at < end)
            if number and 0 in per_month[month]:
                new_users[month_label(month)] = number
        return {
            "users_logged_in": count(LISTED),
            "users_started_server": count(COUNTED, users.c.first_server_at.is_not(None)),
            "users_known": count(),
            "nth_seen_at": {
                "login": nth(users.c.first_login_at),
                "server": nth(users.c.first_server_at),
            },
            "rolling": {
                period: count(COUNTED, users.c.last_login_at >= now - delta)
                for period, delta in ROLLING_WINDOWS.items()
            },
            "admin_first_login_at": conn.execute(
                select(func.min(users.c.first_login_at)).where(users.c.admin.is_(True))
            ).scalar_one_or_none(),
            "months": {
                month_label(m): (c.get(0, 0), c.get(1, 0)) for m, c in sorted(per_month.items())
            },
            "new_users": new_users,
            "last_login": last_login_buckets(conn, now),
        }


def kept(store: Store, now: datetime, threshold: int) -> dict:
    """The same figures as the store gives them."""
    agg = store.aggregates(now, threshold)
    return {
        "users_logged_in": agg.users_logged_in,
        "users_started_server": agg.users_started_server,
        "users_known": agg.users_known,
        "nth_seen_at": agg.nth_seen_at,
        "rolling": agg.rolling,
        "admin_first_login_at": agg.admin_first_login_at,
        "months": {m.month: (m.login, m.server) for m in agg.months if not m.closed},
        "new_users": agg.new_users,
        "last_login": store.usage_figures(now).last_login_distribution,
    }


def test_the_kept_counts_are_the_databases_through_every_kind_of_poll(store_url, monkeypatch):
    rng = random.Random(23)
    store = Store(store_url)
    store.upgrade()
    names = [f"user{i}" for i in range(40)] + ["excluded-bot"]
    admins: set[str] = {"user0"}
    now = NOW - timedelta(days=70)
    try:
        for step in range(40):
            now += timedelta(days=rng.choice([0.01, 0.5, 2, 9]))
            picked = rng.sample(names, rng.randrange(1, 12))
            if step % 7 == 3:  # an admin appointed or dismissed: counted or not (admin rule)
                admins ^= {rng.choice(names)}
            rules = (
                RULES
                if step < 25
                else CountingRules(excluded_pattern=RULES.excluded_pattern, count_admins=False)
            )
            if step == 25:
                store.apply_rules(rules)  # admins no longer counted
            polled = [
                seen(
                    name,
                    now - timedelta(days=rng.choice([0, 0, 1, 20, 45])),
                    admin=name in admins,
                    server=rng.random() < 0.3,
                )
                for name in picked
            ]
            if step % 9 == 5:  # a poll whose transaction fails half-way
                monkeypatch.setattr(
                    users_part, "write_marks", lambda *a: (_ for _ in ()).throw(OSError("disk"))
                )
                with pytest.raises(OSError):
                    store.record(polled, now, rules)
                monkeypatch.undo()
            else:
                store.record(polled, now, rules, full=step % 10 == 0)
            threshold = rng.choice([1, 3, 8])
            assert kept(store, now, threshold) == expected(store, now, threshold), step
            if step % 13 == 12:  # a restart reads them afresh
                store.close()
                store = Store(store_url)
                store.upgrade()
                assert kept(store, now, 3) == expected(store, now, 3)
    finally:
        store.close()
