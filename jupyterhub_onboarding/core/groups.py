"""Usage per JupyterHub group in one UTC month.

A user counts in every group they belonged to at some poll of the month (a user in two
groups counts in both; the groups' figures do not add up to the hub's). Per group: the MAU
on both bases among its members, their sessions that started in the month, their
server-hours within it and the median of their ended sessions' parts of it. Only groups
with a member active in the month are listed; beyond the most active ``limit`` groups the
rest are one "other" entry, its figures those of the union of their members.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from .monthtotals import UserPart
from .safetext import safe_text
from .status.model import MAX_GROUP_NAME
from .status.model import GroupUsage as GroupUsage
from .usage import OTHER, percentile

__all__ = ["GroupLine", "GroupUsage", "clean_group_name", "group_lines", "group_usage"]

#: How the "other" entry (the groups beyond the most active, summed) is shown.
OTHER_GROUPS = "Other groups"


def clean_group_name(value: object) -> str | None:
    """A group's name as stored and shown: printable, at most MAX_GROUP_NAME characters
    (None when the hub sent something that is not a usable name)."""
    if not isinstance(value, str):
        return None
    return safe_text(" ".join(value.split()), MAX_GROUP_NAME) or None


def _figures(
    name: str,
    members: Collection[int],
    login: Collection[int],
    server: Collection[int],
    parts: Mapping[int, UserPart],
) -> GroupUsage:
    sessions, seconds, lengths = 0, 0.0, []
    for user_id in members:
        part = parts.get(user_id)
        if part is not None:
            sessions += part.sessions
            seconds += part.seconds
            lengths.extend(part.lengths)
    median = percentile(lengths, 50)
    return GroupUsage(
        name=name,
        mau_login=sum(1 for user_id in members if user_id in login),
        mau_server=sum(1 for user_id in members if user_id in server),
        sessions=sessions,
        server_hours=round(seconds / 3600.0, 3),
        median_session_minutes=None if median is None else round(median, 2),
    )


def group_usage(
    members: Mapping[str, Collection[int]],
    *,
    login: Collection[int],
    server: Collection[int],
    parts: Mapping[int, UserPart],
    limit: int = 20,
) -> tuple[GroupUsage, ...]:
    """The figures of each group of *members* (group name -> user ids) in a month.

    *login* and *server* are the counted users active in the month on each basis, *parts*
    the month's sessions of counted users per user (``core.usage.user_parts``). Ordered by
    MAU on the login basis, then sessions, server-hours and name; "other" last.
    """
    login, server = set(login), set(server)
    active = login | server | set(parts)
    figures = {
        name: _figures(name, ids, login, server, parts)
        for name, ids in members.items()
        if name != OTHER and any(user_id in active for user_id in ids)
    }
    ranked = sorted(
        figures.values(),
        key=lambda g: (-g.mau_login, -g.mau_server, -g.sessions, -g.server_hours, g.name or ""),
    )
    kept = ranked[:limit]
    rest = [entry.name for entry in ranked[limit:] if entry.name is not None]
    if OTHER in members:
        rest.append(OTHER)
    if not rest:
        return tuple(kept)
    union = {user_id for name in rest for user_id in members.get(name, ())}
    if not any(user_id in active for user_id in union):
        return tuple(kept)
    return (*kept, _figures(OTHER, union, login, server, parts))


@dataclass(frozen=True)
class GroupLine:
    """One entry of the usage per group with what a page or report calls it."""

    label: str
    figures: GroupUsage

    @property
    def other(self) -> bool:
        """The entry sums the groups beyond the most active (it is no one group)."""
        return self.figures.name == OTHER


def group_lines(groups: Sequence[GroupUsage]) -> tuple[GroupLine, ...]:
    """Each entry, in order, with its label: its name; "Other groups" for "other"; and
    "Group 1", "Group 2", ... by position for one whose name was left out (a document
    written without ``Onboarding.report_group_names``)."""
    return tuple(
        GroupLine(
            OTHER_GROUPS
            if group.name == OTHER
            else (group.name if group.name is not None else f"Group {index}"),
            group,
        )
        for index, group in enumerate(groups, start=1)
    )


def names_left_out(groups: Sequence[GroupUsage]) -> bool:
    """Some entry's name was left out (the document was written without names)."""
    return any(group.name is None for group in groups)
