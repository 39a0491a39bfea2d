"""Parsing the hub's user list: every shape is parsed or rejected with a reason."""

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyterhub_onboarding.core.hubmodel import (
    MAX_NAME_BYTES,
    InvalidPage,
    parse_page,
    parse_user,
    readable_name,
)

UTC = timezone.utc


def user(name="alice", **fields):
    return {"kind": "user", "name": name, "admin": False, "last_activity": None, **fields}


def test_parse_user_with_running_server():
    parsed = parse_user(
        user(
            last_activity="2026-11-02T10:00:00.123Z",
            servers={"": {"ready": True, "started": "2026-11-02T09:00:00Z", "pending": None}},
        )
    )
    assert parsed.last_activity == datetime(2026, 11, 2, 10, 0, 0, 123000, tzinfo=UTC)
    assert parsed.server_running
    assert parsed.server_started_at == datetime(2026, 11, 2, 9, tzinfo=UTC)


def test_stopping_server_is_not_running():
    parsed = parse_user(
        user(servers={"": {"ready": False, "started": "2026-11-02T09:00:00Z", "pending": "stop"}})
    )
    assert not parsed.server_running


def test_never_active_user():
    assert parse_user(user()).last_activity is None


def test_users_in_no_group_share_one_empty_set():
    """A full sync holds every user at once: no empty set is made per user."""
    found = [
        parse_user(user("a")),
        parse_user(user("b", groups=[])),
        parse_user(user("c", groups=["", None])),
        parse_user(user("d", groups="x")),
    ]
    assert all(u.groups == frozenset() for u in found)
    assert len({id(u.groups) for u in found}) == 1
    assert parse_user(user("e", groups=["x"])).groups == frozenset({"x"})


@pytest.mark.parametrize(
    "model",
    [
        None,
        [],
        {"name": ""},
        {"name": 5},
        {"name": "x" * 2049},
        {"name": "é" * 1025},  # 2,050 bytes of UTF-8
        {"name": "alice\ud800"},  # a lone surrogate: valid JSON, not a storable name
        user(admin="yes"),
        user(last_activity="yesterday"),
        user(last_activity=12),
        user(servers=["x"]),
        user(servers={"": "running"}),
        {"kind": "service", "name": "svc"},
    ],
)
def test_bad_user_models_are_rejected_with_a_reason(model):
    with pytest.raises(ValueError) as info:
        parse_user(model)
    assert "alice" not in str(info.value)  # reasons never carry the username


@pytest.mark.parametrize("name", ["x" * 256, "x" * 300, "x" * 1000, "x" * 2048, "é" * 1024])
def test_long_names_the_hub_accepts_are_parsed(name):
    """The hub on SQLite takes names of any length; up to 2,048 bytes of UTF-8 are users."""
    assert parse_user(user(name)).name == name


def test_the_name_bound_is_in_bytes_of_utf8():
    assert MAX_NAME_BYTES == 2048
    assert parse_user(user("€" * 682)).name  # 2,046 bytes
    with pytest.raises(ValueError, match="longer than 2048 bytes"):
        parse_user(user("€" * 683))  # 2,049 bytes


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (user("bob", admin="yes"), "bob"),
        (user("bob", last_activity="yesterday"), "bob"),
        (user("bob", servers=["x"]), "bob"),
        ({"kind": "service", "name": "bob"}, "bob"),
        (user("x" * 3000), "x" * 3000),
        (None, None),
        ("bob", None),
        ({"name": ""}, None),
        ({"name": 5}, None),
        ({"admin": False}, None),
    ],
)
def test_a_malformed_entry_still_names_its_user_when_it_can(model, name):
    assert readable_name(model) == name


def test_a_page_lists_the_names_of_its_malformed_entries():
    page = parse_page(
        {
            "items": [user("a"), user("broken", admin="yes"), {"name": None}, "junk"],
            "_pagination": {},
        }
    )
    assert [u.name for u in page.users] == ["a"]
    assert len(page.rejected) == 3
    assert page.rejected_names == ("broken",)
    assert page.nameless == 2
    assert all("broken" not in reason for reason in page.rejected)  # reasons name nobody


def test_paginated_page_and_next_url():
    page = parse_page(
        {
            "items": [user("a"), user("b"), "garbage"],
            "_pagination": {
                "offset": 0,
                "limit": 2,
                "total": 3,
                "next": {"offset": 2, "limit": 2, "url": "/hub/api/users?offset=2"},
            },
        }
    )
    assert [u.name for u in page.users] == ["a", "b"]
    assert page.rejected == ("item 2: user model is not an object",)
    assert page.next_url == "/hub/api/users?offset=2"
    assert page.total == 3


def test_plain_list_from_an_old_hub():
    page = parse_page([user("a")])
    assert page.next_url is None and len(page.users) == 1


@pytest.mark.parametrize(
    "body",
    [None, "text", 3, {"items": "x"}, {"users": []}, {"items": [], "_pagination": {"next": "url"}}],
)
def test_not_a_page(body):
    with pytest.raises(InvalidPage):
        parse_page(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
user_like = st.fixed_dictionaries(
    {"name": st.text(max_size=10)},
    optional={
        "admin": json_values,
        "kind": st.sampled_from(["user", "service"]) | json_values,
        "last_activity": st.none()
        | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
        | json_values,
        "servers": st.dictionaries(st.text(max_size=3), json_values) | json_values,
    },
)


@given(
    st.one_of(
        json_values,
        st.lists(user_like),
        st.fixed_dictionaries(
            {"items": st.lists(user_like | json_values)}, optional={"_pagination": json_values}
        ),
    )
)
def test_any_json_is_parsed_or_rejected(body):
    json.dumps(body)  # the body is something the hub could send
    try:
        page = parse_page(body)
    except InvalidPage:
        return
    assert len(page.users) + len(page.rejected) == len(
        body if isinstance(body, list) else body["items"]
    )
    assert 0 <= page.nameless <= len(page.rejected)
