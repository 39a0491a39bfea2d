"""Parse the hub's user models into plain observations: pure, no I/O.

Anything the hub might send is either parsed or rejected with a reason; a rejected entry
never stops the rest of the page from being read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import as_utc, parse_iso
from .groups import clean_group_name

#: The longest username accepted, in bytes of UTF-8. The hub itself has no limit on SQLite
#: (it stored, and logged in, a user named with 200,000 characters) and 255 characters on
#: PostgreSQL and MySQL (its users.name column). 2,048 bytes takes every name a hub on those
#: databases can hold, and names up to 2,048 characters (512 of any script) on SQLite,
#: while staying below the largest value PostgreSQL keeps in the service's unique index on
#: users.name (2,704 bytes); a longer "name" is treated as garbage.
MAX_NAME_BYTES = 2048


class InvalidPage(ValueError):
    """The hub answered something that is not a page of users."""


@dataclass(frozen=True, slots=True)
class ServerSeen:
    """A server the hub reported for a user."""

    name: str
    running: bool
    started: datetime | None
    last_activity: datetime | None
    #: What the spawn request asked for (``user_options``); empty when the hub sends none.
    user_options: Mapping[str, Any] = field(default_factory=dict, compare=False)
    #: The hub's pending action (``spawn``, ``stop``, ...), None when there is none.
    pending: str | None = None

    @property
    def in_session(self) -> bool:
        """True while the server is a session: running, or still stopping (the session ends
        when the stop completes, which the hub records as the user's last_activity)."""
        return self.running or (self.pending == "stop" and self.started is not None)


#: The groups of a user in none: one shared set (an empty set is 216 bytes, and a full sync
#: holds every user of the hub at once).
NO_GROUPS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class UserSeen:
    """What one poll learned of one hub user."""

    name: str
    admin: bool
    last_activity: datetime | None
    servers: tuple[ServerSeen, ...] = ()
    #: The user's JupyterHub groups (names cleaned as core/groups.py keeps them).
    groups: frozenset[str] = NO_GROUPS

    @property
    def server_running(self) -> bool:
        return any(server.running for server in self.servers)

    @property
    def server_started_at(self) -> datetime | None:
        times = [s.started for s in self.servers if s.running and s.started is not None]
        return min(times) if times else None


def _optional_time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{field} is not an ISO 8601 time") from error


def parse_server(name: str, model: Any) -> ServerSeen:
    """One entry of a user model's ``servers`` dict."""
    if not isinstance(model, dict):
        raise ValueError("server model is not an object")
    ready = model.get("ready") is True
    started = _optional_time(model.get("started"), "server started")
    pending = model.get("pending")
    options = model.get("user_options")
    running = ready or (started is not None and pending != "stop")
    return ServerSeen(
        name=str(name),
        running=running,
        started=started,
        last_activity=_optional_time(model.get("last_activity"), "server last_activity"),
        user_options=options if isinstance(options, dict) else {},
        pending=pending if isinstance(pending, str) else None,
    )


def readable_name(model: Any) -> str | None:
    """The username of a user model, however malformed the rest of it is; ``None`` when
    the entry has no name that can be read (not an object, no non-empty string ``name``)."""
    if not isinstance(model, dict):
        return None
    name = model.get("name")
    return name if isinstance(name, str) and name else None


def parse_user(model: Any) -> UserSeen:
    """One user model; ValueError with a reason (never the username) when unusable."""
    if not isinstance(model, dict):
        raise ValueError("user model is not an object")
    name = readable_name(model)
    if name is None:
        raise ValueError("user model has no usable name")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate: no hub stores such a name, and no database would store it here
        raise ValueError("user name is not valid Unicode") from None
    if len(encoded) > MAX_NAME_BYTES:
        raise ValueError(f"user name is longer than {MAX_NAME_BYTES} bytes")
    if model.get("kind", "user") != "user":
        raise ValueError("model is not a user")
    admin = model.get("admin", False)
    if not isinstance(admin, bool):
        raise ValueError("admin is not a boolean")
    servers_model = model.get("servers") or {}
    if not isinstance(servers_model, dict):
        raise ValueError("servers is not an object")
    servers = tuple(parse_server(key, value) for key, value in servers_model.items())
    return UserSeen(
        name=name,
        admin=admin,
        last_activity=_optional_time(model.get("last_activity"), "last_activity"),
        servers=servers,
        groups=parse_groups(model.get("groups")),
    )


def parse_groups(value: Any) -> frozenset[str]:
    """The group names of a user model's ``groups`` (listed with ``read:users:groups``).
    Anything else than a list of names is read as no groups: a user is never refused for
    their groups, and a name that cannot be used is left out."""
    if not isinstance(value, list) or not value:
        return NO_GROUPS
    return frozenset(name for name in map(clean_group_name, value) if name is not None) or NO_GROUPS


@dataclass(frozen=True)
class Page:
    """One page of the users list.

    *rejected* gives a reason for each entry that could not be parsed; *rejected_names* the
    names of those among them whose name could still be read: users the hub has, though
    their entry is malformed. The other rejected entries name nobody.
    """

    users: tuple[UserSeen, ...]
    rejected: tuple[str, ...]
    next_url: str | None
    total: int | None
    rejected_names: tuple[str, ...] = ()

    @property
    def nameless(self) -> int:
        """How many rejected entries had no name that could be read."""
        return len(self.rejected) - len(self.rejected_names)


def parse_page(body: Any) -> Page:
    """A paginated (or, from an old hub, plain list) users response."""
    if isinstance(body, list):
        items: Iterable[Any] = body
        next_url = None
        total = None
    elif isinstance(body, dict) and isinstance(body.get("items"), list):
        items = body["items"]
        pagination = body.get("_pagination") or {}
        if not isinstance(pagination, dict):
            raise InvalidPage("_pagination is not an object")
        next_info = pagination.get("next")
        next_url = None
        if isinstance(next_info, dict) and isinstance(next_info.get("url"), str):
            next_url = next_info["url"]
        elif next_info is not None:
            raise InvalidPage("_pagination.next is not an object with a url")
        total = pagination.get("total") if isinstance(pagination.get("total"), int) else None
    else:
        raise InvalidPage("response is neither a list of users nor a page of users")
    users: list[UserSeen] = []
    rejected: list[str] = []
    rejected_names: list[str] = []
    for index, item in enumerate(items):
        try:
            users.append(parse_user(item))
        except ValueError as error:
            rejected.append(f"item {index}: {error}")
            name = readable_name(item)
            if name is not None:
                rejected_names.append(name)
    return Page(tuple(users), tuple(rejected), next_url, total, tuple(rejected_names))


def oldest_activity(users: Iterable[UserSeen]) -> datetime | None:
    """The oldest non-null last_activity on a page (None when none has one)."""
    times = [as_utc(u.last_activity) for u in users if u.last_activity is not None]
    return min(times) if times else None
