"""Group members: which JupyterHub groups each user belonged to in each month, written with
the poll that saw them, and read back for the usage per group (core/groups.py)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, insert, select

from ...core.clock import as_utc
from ...core.hubmodel import UserSeen
from ...core.rules import month_of
from ..schema import BASIS_CODES, activity, group_members, users
from ._sql import COUNTED, execute_chunked

#: (month YYYYMM, group name, user id)
Membership = tuple[int, str, int]


def memberships(
    merged: Mapping[str, UserSeen],
    ids: Mapping[str, int],
    now: datetime,
    active_months: Mapping[int, Collection[int]],
) -> set[Membership]:
    """The memberships one poll saw: each user's groups in the poll's month and in every
    month it marked them active in (*active_months*: user id -> months)."""
    current = month_of(as_utc(now))
    found: set[Membership] = set()
    for name, user in merged.items():
        if not user.groups:
            continue
        user_id = ids[name]
        for month in {current, *active_months.get(user_id, ())}:
            found.update((month, group, user_id) for group in user.groups)
    return found


def write_memberships(conn: Connection, seen: set[Membership]) -> int:
    """Add the memberships not stored yet; returns how many were added."""
    if not seen:
        return 0
    keys = sorted(seen)

    def stored(chunk: Sequence[Membership]):
        return select(group_members).where(
            and_(
                group_members.c.user_id.in_({key[2] for key in chunk}),
                group_members.c.month.in_({key[0] for key in chunk}),
            )
        )

    present = {
        (row.month, row.group_name, row.user_id) for row in execute_chunked(conn, keys, stored)
    }
    new = [
        {"month": month, "group_name": group, "user_id": user_id}
        for month, group, user_id in keys
        if (month, group, user_id) not in present
    ]
    if new:
        conn.execute(insert(group_members), new)
    return len(new)


def month_members(conn: Connection, month: int) -> dict[str, set[int]]:
    """The counted members of each group in *month* (group name -> user ids)."""
    rows = conn.execute(
        select(group_members.c.group_name, group_members.c.user_id)
        .select_from(group_members.join(users, users.c.id == group_members.c.user_id))
        .where(group_members.c.month == month, COUNTED)
    )
    found: dict[str, set[int]] = {}
    for row in rows:
        found.setdefault(row.group_name, set()).add(row.user_id)
    return found


def month_active(conn: Connection, month: int) -> tuple[set[int], set[int]]:
    """The counted users active in *month* on the login and the server basis."""
    rows = conn.execute(
        select(activity.c.user_id, activity.c.basis)
        .select_from(activity.join(users, users.c.id == activity.c.user_id))
        .where(activity.c.month == month, COUNTED)
    )
    login: set[int] = set()
    server: set[int] = set()
    for row in rows:
        (login if row.basis == BASIS_CODES["login"] else server).add(row.user_id)
    return login, server
