"""A hub's database written by release 0.1 opens with the current store, figures unchanged."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jupyterhub_onboarding.core.hubmodel import UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.core.snapshot import MonthCount
from jupyterhub_onboarding.service.store import Store

UTC = timezone.utc
RELEASE_0_1 = Path(__file__).resolve().parent.parent / "data" / "service-0.1.sqlite"
#: The last poll recorded in RELEASE_0_1 (tests/data/make_release_0_1.py).
LAST_POLL = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
FIRST_VALUE = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
RULES = CountingRules(excluded_users=frozenset({"staff"}))


@pytest.fixture
def store(tmp_path):
    copy = tmp_path / "jupyterhub_onboarding.sqlite"
    shutil.copyfile(RELEASE_0_1, copy)
    s = Store(f"sqlite:///{copy}")
    assert s.schema_revision() == "0001"  # as release 0.1 left it
    s.upgrade()
    yield s
    s.close()


def test_the_figures_of_release_0_1_are_kept(store):
    assert store.schema_revision() == "0008"
    assert store.get_or_set_state("live_since", "not this") == "2026-10-20T09:00:00Z"
    store.record_milestones(5)  # the service's first refresh after the upgrade
    agg = store.aggregates(LAST_POLL, threshold=5)
    assert agg.users_logged_in == 7  # ada to gus; staff is excluded, gus deleted but counted
    assert agg.users_started_server == 3  # bob, dee, eve
    assert agg.users_known == 8
    assert agg.admin_logged_in
    assert agg.nth_seen_at["login"] == FIRST_VALUE
    assert agg.milestones == {"login": FIRST_VALUE}
    assert agg.months == (
        MonthCount("2026-10", 4, 2, closed=False),
        MonthCount("2026-11", 7, 1, closed=False),
    )
    known = {user.name: user for user in store.logged_in_users()}
    assert sorted(known) == ["ada", "bob", "cy", "dee", "eve", "fay", "gus"]
    assert known["gus"].deleted_at == LAST_POLL
    assert known["ada"].admin and known["ada"].first_login_at.tzinfo is not None


def test_polls_after_the_upgrade_add_to_the_figures(store):
    store.upgrade()  # harmless the second time
    later = LAST_POLL + timedelta(days=1)
    seen = [UserSeen("hal", False, later), UserSeen("staff", False, later)]
    result = store.record(seen, later, RULES)
    assert (result.users_added, result.users_updated) == (1, 1)
    store.record_milestones(5)
    agg = store.aggregates(later, threshold=5)
    assert agg.users_logged_in == 8 and agg.users_known == 9
    assert agg.milestones == {"login": FIRST_VALUE}  # never moved
    assert agg.months[-1] == MonthCount("2026-11", 8, 1, closed=False)


def test_the_upgrade_closes_the_past_months_once_with_the_figures_they_had(store):
    # the first refresh after the upgrade, long after both months ended
    later = datetime(2027, 2, 1, tzinfo=UTC)
    closed = store.close_months(later, 3, "login", ((10, 10.0), (None, 5.0)))
    assert [(m.month, m.login, m.server, m.fee) for m in closed] == [
        ("2026-10", 4, 2, 40.0),
        ("2026-11", 7, 1, 70.0),
    ]
    assert store.close_months(later, 3, "login", ((10, 10.0), (None, 5.0))) == []
    # bob (active in October with a server) is excluded afterwards: the months stay
    store.apply_rules(CountingRules(excluded_users=frozenset({"staff", "bob"})))
    agg = store.aggregates(later, threshold=5)
    assert agg.months == (
        MonthCount("2026-10", 4, 2, closed=True, estimated_usage_fee=40.0),
        MonthCount("2026-11", 7, 1, closed=True, estimated_usage_fee=70.0),
    )
    october = store.billing.month_list(202610)
    assert sorted(line.name for line in october.lines) == ["ada", "bob", "cy", "dee"]
    assert [line.name for line in october.lines if line.excluded_since] == ["bob"]
