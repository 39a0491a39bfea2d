"""Closed months on SQLite and a real PostgreSQL: written once, kept whatever changes later,
changed only by an explicit recount that keeps the old figures beside the new (#21)."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_onboarding.core import fees
from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.core.snapshot import MonthCount
from jupyterhub_onboarding.service.store import Store

UTC = timezone.utc
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))
NOV = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
#: November closes 3 days after it ends.
CLOSES = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
TIERS = fees.DEFAULT_TIERS
CHEAPER = ((5, 1.0), (None, 0.5))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'onboarding.sqlite'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    s = Store(url)
    s.upgrade()
    yield s
    s.close()


def seen(name, when, server=False):
    servers = (ServerSeen("", True, when, when),) if server else ()
    return UserSeen(name, False, when, servers)


def november(store, count=12, servers=3):
    """*count* users active in November, the first *servers* of them with a server."""
    batch = [seen(f"user{i:02d}", NOV + timedelta(days=i % 15), i < servers) for i in range(count)]
    for user in batch:
        store.record([user], user.last_activity, RULES)


def close(store, now, tiers=TIERS, basis="login"):
    return store.close_months(now, 3, basis, tiers)


def test_a_month_closes_once_its_close_days_have_passed(store):
    november(store)
    assert close(store, CLOSES - timedelta(seconds=1)) == []
    assert store.aggregates(CLOSES, 5).months == (MonthCount("2026-11", 12, 3, closed=False),)
    (closed,) = close(store, CLOSES)
    assert (closed.month, closed.login, closed.server, closed.fee) == ("2026-11", 12, 3, 110.0)
    assert (closed.revision, closed.closed_by, closed.closed_at) == (1, "service", CLOSES)
    assert close(store, CLOSES + timedelta(days=40)) == []  # once, ever
    assert store.aggregates(CLOSES, 5).months == (
        MonthCount("2026-11", 12, 3, closed=True, estimated_usage_fee=110.0),
    )


def test_a_closed_month_keeps_its_mau_and_fee_after_an_exclusion_and_new_tiers(store):
    november(store)
    close(store, CLOSES)
    # user00 had a server: excluded now, and a fee tier changed
    excluded = CountingRules(excluded_users=frozenset({"user00", "user05"}))
    assert store.apply_rules(excluded) == 2
    close(store, CLOSES + timedelta(days=1), tiers=CHEAPER)
    assert store.aggregates(CLOSES, 5).months == (
        MonthCount("2026-11", 12, 3, closed=True, estimated_usage_fee=110.0),
    )
    (version,) = store.billing.versions(202611)
    assert version.fee == 110.0
    listed = store.billing.month_list(202611)
    assert (listed.login, listed.server) == (12, 3)  # as counted when it closed
    flags = {line.name: line.excluded_since for line in listed.lines}
    assert flags["user00"] and flags["user05"] and not flags["user01"]


def test_activity_reported_late_does_not_move_a_closed_month(store):
    november(store)
    close(store, CLOSES)
    late = CLOSES + timedelta(hours=1)
    # the hub reports activity from November after the month closed (a late proxy report)
    store.record([seen("late-comer", NOV)], late, RULES)
    assert store.aggregates(late, 5).months[0] == MonthCount(
        "2026-11", 12, 3, closed=True, estimated_usage_fee=110.0
    )


def test_a_recount_changes_the_month_and_keeps_both_versions(store):
    november(store)
    close(store, CLOSES)
    excluded = CountingRules(excluded_users=frozenset({"user00", "user05"}))
    store.apply_rules(excluded)
    when = CLOSES + timedelta(days=30)
    old, new = store.billing.recount(202611, when, "ana", "login", CHEAPER)
    assert (old.login, old.server, old.fee, old.revision) == (12, 3, 110.0, 1)
    assert (new.login, new.server, new.revision, new.closed_by, new.closed_at) == (
        10,
        2,
        2,
        "ana",
        when,
    )
    assert new.fee == fees.usage_fee(10, CHEAPER) == 7.5
    assert [v.revision for v in store.billing.versions(202611)] == [1, 2]
    assert store.aggregates(when, 5).months == (
        MonthCount("2026-11", 10, 2, closed=True, estimated_usage_fee=7.5),
    )
    listed = store.billing.month_list(202611)
    assert "user00" not in {line.name for line in listed.lines}
    assert (listed.login, listed.server) == (10, 2)


def test_the_open_month_lists_its_counted_users_to_date(store):
    november(store, count=4, servers=1)
    store.record([seen("deployment-service-check", NOV)], NOV, RULES)
    listed = store.billing.month_list(202611)
    assert listed.closed is None
    assert [line.name for line in listed.lines] == ["user00", "user01", "user02", "user03"]
    assert (listed.login, listed.server) == (4, 1)
    first, last = listed.days(listed.lines[1])
    assert first == last == (NOV + timedelta(days=1)).date()
