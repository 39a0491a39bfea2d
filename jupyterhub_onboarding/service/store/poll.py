"""One poll to record, as the parts of the store that a poll writes take it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ...core.clock import as_utc
from ...core.hubmodel import UserSeen
from ...core.rules import CountingRules
from ...core.usage import LabelKeys


@dataclass(frozen=True)
class Poll:
    """What one poll saw, when, and the rules it is recorded by."""

    #: One observation per username (see merge_seen).
    seen: Mapping[str, UserSeen]
    #: When the poll ran (aware UTC).
    now: datetime
    rules: CountingRules
    #: A full read: users missing from it are marked deleted.
    full: bool = False
    #: Users the hub listed in entries that could not be parsed (not deleted by a full read).
    present: Collection[str] = ()
    label_keys: LabelKeys = field(default_factory=LabelKeys)

    @classmethod
    def of(
        cls,
        seen: Iterable[UserSeen],
        now: datetime,
        rules: CountingRules,
        *,
        full: bool = False,
        present: Collection[str] = (),
        label_keys: LabelKeys | None = None,
    ) -> Poll:
        """The poll of *seen*, a user seen twice merged into one observation."""
        return cls(merge_seen(seen), as_utc(now), rules, full, present, label_keys or LabelKeys())


def merge_seen(seen: Iterable[UserSeen]) -> dict[str, UserSeen]:
    """One observation per name (a poll can see a user twice)."""
    merged: dict[str, UserSeen] = {}
    for user in seen:
        earlier = merged.get(user.name)
        if earlier is None:
            merged[user.name] = user
            continue
        times = [t for t in (earlier.last_activity, user.last_activity) if t is not None]
        merged[user.name] = UserSeen(
            name=user.name,
            admin=user.admin,
            last_activity=max(times) if times else None,
            servers=earlier.servers + user.servers,
            groups=earlier.groups | user.groups,
        )
    return merged
