"""Group members in the store, on SQLite and a real PostgreSQL: written with the poll that
saw them, kept per month, and read back as the usage per group of each month."""

import dataclasses
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service.schema import group_members

UTC = timezone.utc
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
RULES = CountingRules(excluded_pattern=re.compile("staff-.*"))


def seen(name, activity, *groups, running_since=None):
    servers = ()
    if running_since is not None:
        servers = (ServerSeen("", True, running_since, running_since),)
    return UserSeen(name, False, activity, servers, frozenset(groups))


def groups_of(store, now, month=None):
    figures = store.usage_figures(now)
    entry = figures.month(month or now.strftime("%Y-%m"))
    return {g.name: g for g in entry.groups}


def test_members_of_each_group_in_the_month_counted_in_each(store):
    store.record(
        [
            seen("ana", T0, "physics", "maths", running_since=T0),
            seen("ben", T0, "physics"),
            seen("staff-1", T0, "physics", running_since=T0),  # not counted
            seen("cai", None, "maths"),  # never logged in, no server
        ],
        T0,
        RULES,
        full=True,
    )
    store.record([seen("ana", T0 + 2 * H, "physics", "maths")], T0 + 3 * H, RULES)
    groups = groups_of(store, T0 + 4 * H)
    assert set(groups) == {"physics", "maths"}
    physics, maths = groups["physics"], groups["maths"]
    assert (physics.mau_login, physics.mau_server, physics.sessions) == (2, 1, 1)
    assert (maths.mau_login, maths.mau_server, maths.sessions) == (1, 1, 1)
    # ana's session ran from T0 until her last activity, T0 + 2h
    assert physics.server_hours == maths.server_hours == 2.0
    assert physics.median_session_minutes == 120.0


def test_a_membership_is_written_once_per_month_and_kept_after_leaving(store):
    store.record([seen("ana", T0, "physics", running_since=T0)], T0, RULES)
    store.record([seen("ana", T0 + H, "physics", running_since=T0)], T0 + H, RULES)
    # ana left the group later in the month: she still counts in it for November
    store.record([seen("ana", T0 + 2 * H)], T0 + 2 * H, RULES)
    with store.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(group_members)).scalar_one()
    assert rows == 1
    assert groups_of(store, T0 + 3 * H)["physics"].mau_login == 1
    # in December she is in no group
    december = datetime(2026, 12, 2, tzinfo=UTC)
    store.record([seen("ana", december)], december, RULES)
    assert groups_of(store, december) == {}
    november = groups_of(store, december, "2026-11")["physics"]
    assert (november.mau_login, november.sessions, november.server_hours) == (1, 1, 2.0)


def test_excluding_a_user_later_takes_them_out_of_their_groups(store):
    store.record([seen("ana", T0, "g"), seen("ben", T0, "g")], T0, RULES)
    assert groups_of(store, T0 + H)["g"].mau_login == 2
    store.apply_rules(dataclasses.replace(RULES, excluded_users=frozenset({"ben"})))
    assert groups_of(store, T0 + H)["g"].mau_login == 1


def test_a_hub_without_groups_has_no_group_figures(store):
    store.record([seen("ana", T0, running_since=T0)], T0, RULES)
    assert groups_of(store, T0 + H) == {}
