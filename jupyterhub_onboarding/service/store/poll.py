"""One poll to record, as the parts of the store that a poll writes take it."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
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
    #: The users a full read wrote page by page (``Store.record_page``): not deleted either.
    written: WrittenIds | None = None

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
        written: WrittenIds | None = None,
    ) -> Poll:
        """The poll of *seen*, a user seen twice merged into one observation."""
        return cls(
            merge_seen(seen),
            as_utc(now),
            rules,
            full,
            present,
            label_keys or LabelKeys(),
            written,
        )


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


class WrittenIds:
    """The store's ids of the users a full read wrote, 8 bytes each (sorted once read)."""

    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._ids = array("q", ids)
        self._sorted = False

    def extend(self, ids: Iterable[int]) -> None:
        self._ids.extend(ids)
        self._sorted = False

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __contains__(self, user_id: object) -> bool:
        if not self._sorted:
            self._ids = array("q", sorted(self._ids))
            self._sorted = True
        at = bisect_left(self._ids, user_id)  # type: ignore[call-overload]
        return at < len(self._ids) and self._ids[at] == user_id


@dataclass(frozen=True)
class PageWritten:
    """What writing one page of a full read (``Store.record_page``) leaves for the poll."""

    #: The store's ids of the page's users.
    ids: Sequence[int]
    #: The page's users the poll's own record reads again: those with a server, and those
    #: with a session open (the sessions are recorded from the whole read, at its end).
    kept: list[UserSeen]
    #: The page's usernames, when a part of the service needs every name (else empty).
    names: frozenset[str] = frozenset()


@dataclass
class WrittenPages:
    """The pages of one full read written so far: what the poll's record needs of them."""

    ids: WrittenIds = field(default_factory=WrittenIds)
    names: set[str] = field(default_factory=set)

    def add(self, page: PageWritten) -> list[UserSeen]:
        """Note *page*; returns its users the poll's record needs."""
        self.ids.extend(page.ids)
        self.names.update(page.names)
        return page.kept
