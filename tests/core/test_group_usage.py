"""Usage per group (core/groups.py): members counted in each of their groups, figures of the
union for "other", nothing for groups without an active member."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyterhub_onboarding.core.groups import (
    GroupUsage,
    clean_group_name,
    group_lines,
    group_usage,
    names_left_out,
)
from jupyterhub_onboarding.core.hubmodel import parse_user
from jupyterhub_onboarding.core.monthtotals import user_parts
from jupyterhub_onboarding.core.usage import SessionRecord, month_usage

UTC = timezone.utc
NOV = 202611
T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def session(user_id, start, hours):
    return SessionRecord(user_id, start, None if hours is None else start + hours * H)


def groups_of(members, *, login, server, records, now=NOW, limit=20):
    """The usage per group of November from its sessions."""
    parts = user_parts(records, NOV, now)
    return group_usage(members, login=login, server=server, parts=parts, limit=limit)


def by_name(groups):
    return {g.name: g for g in groups}


def test_a_member_of_two_groups_counts_in_both():
    records = [session(1, T0, 1), session(1, T0 + 24 * H, 3), session(2, T0, 2)]
    groups = by_name(
        groups_of(
            {"physics": {1, 2}, "maths": {1}},
            login={1, 2},
            server={1, 2},
            records=records,
            now=NOW,
        )
    )
    assert (groups["physics"].mau_login, groups["physics"].sessions) == (2, 3)
    assert groups["physics"].server_hours == 6.0
    assert groups["physics"].median_session_minutes == 120.0
    assert (groups["maths"].mau_login, groups["maths"].sessions) == (1, 2)
    assert groups["maths"].server_hours == 4.0
    assert groups["maths"].median_session_minutes == 120.0  # of 60 and 180


def test_login_and_server_bases_are_apart_and_idle_groups_left_out():
    groups = groups_of(
        {"readers": {1, 2}, "idle": {3}},
        login={1, 2},
        server={2},
        records=[session(2, T0, 1)],
        now=NOW,
    )
    (readers,) = groups
    assert (readers.name, readers.mau_login, readers.mau_server) == ("readers", 2, 1)
    # a member who only logged in has no session: no median from them
    assert readers.median_session_minutes == 60.0


def test_an_open_session_runs_until_now_and_gives_no_length():
    (group,) = groups_of(
        {"g": {1}}, login={1}, server={1}, records=[session(1, NOW - 2 * H, None)], now=NOW
    )
    assert group.server_hours == 2.0 and group.median_session_minutes is None


def test_a_session_across_the_month_start_counts_only_its_part():
    start = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    (group,) = groups_of({"g": {1}}, login={1}, server={1}, records=[session(1, start, 3)], now=NOW)
    # started in October: no session started in November, two hours of it in November
    assert (group.sessions, group.server_hours) == (0, 2.0)


def test_groups_beyond_the_limit_are_one_other_of_their_union():
    members = {"a": {1, 2, 3}, "b": {2, 4}, "c": {4, 5}}
    records = [session(u, T0, 1) for u in (1, 2, 3, 4, 5)]
    groups = groups_of(
        members, login={1, 2, 3, 4, 5}, server=set(), records=records, now=NOW, limit=1
    )
    assert [g.name for g in groups] == ["a", "other"]
    other = groups[1]
    # users 2, 4 and 5: user 4 is in both b and c, and counted once in other
    assert (other.mau_login, other.sessions, other.server_hours) == (3, 3, 3.0)


def test_a_group_named_other_is_folded_into_other():
    groups = groups_of({"other": {1}, "x": {2}}, login={1, 2}, server=set(), records=[], now=NOW)
    assert [(g.name, g.mau_login) for g in groups] == [("x", 1), ("other", 1)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.integers(0, 600), st.one_of(st.none(), st.integers(1, 90))),
        max_size=25,
    )
)
def test_a_group_of_every_user_has_the_hubs_figures(raw):
    """One group holding every user gives the month's own sessions, hours and median."""
    records = [
        SessionRecord(
            u, T0 + timedelta(hours=h), None if m is None else T0 + timedelta(hours=h, minutes=m)
        )
        for u, h, m in raw
    ]
    users = {r.user_id for r in records}
    groups = groups_of({"all": users}, login=users, server=users, records=records, now=NOW)
    month = month_usage(records, NOV, NOW)
    if not users:
        assert groups == ()
        return
    (group,) = groups
    assert group.sessions == month.sessions
    assert group.server_hours == pytest.approx(month.server_hours, abs=0.002)
    assert group.median_session_minutes == month.median_session_minutes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("physics-101", "physics-101"),
        ("  two\nlines ", "two lines"),
        ("", None),
        (7, None),
        ("x" * 300, None),
    ],
)
def test_group_names_are_cleaned_and_bounded(value, expected):
    cleaned = clean_group_name(value)
    if value == "x" * 300:
        assert cleaned is not None and len(cleaned) <= 255
    else:
        assert cleaned == expected


def test_the_user_model_groups_are_read_and_a_malformed_list_refuses_nobody():
    base = {"name": "ana", "kind": "user", "admin": False, "last_activity": None}
    assert parse_user({**base, "groups": ["b", "a", "a", 3, ""]}).groups == {"a", "b"}
    assert parse_user({**base, "groups": "physics"}).groups == frozenset()
    assert parse_user(base).groups == frozenset()


def test_lines_are_named_numbered_without_names_and_other_is_labelled():
    named = (GroupUsage("physics-101", 2, 1, 3, 1.0, 30.0), GroupUsage("other", 1, 1, 1, 0.5, None))
    assert [(line.label, line.other) for line in group_lines(named)] == [
        ("physics-101", False),
        ("Other groups", True),
    ]
    assert not names_left_out(named)
    unnamed = tuple(GroupUsage(None, 1, 1, 1, 0.5, None) for _ in range(2)) + named[1:]
    assert [line.label for line in group_lines(unnamed)] == ["Group 1", "Group 2", "Other groups"]
    assert names_left_out(unnamed) and group_lines(()) == ()
