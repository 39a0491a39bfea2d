"""The procedure's onboarding checklists for one hub: pure.

Items the service can check from its own figures (an administrator has logged in, users
exist, first value reached) carry a verified state and when it was verified; the others link
to where the administrator does them, and an administrator ticks them off during the
onboarding meeting (who ticked and when are kept in an :class:`OnboardingRecord`, with the
meeting itself).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from .format import basis_verb, format_count, format_utc
from .links import Link
from .snapshot import Snapshot


@dataclass(frozen=True)
class Tick:
    """An administrator ticked an item off: who (a hub username) and when."""

    by: str
    at: datetime


@dataclass(frozen=True)
class Meeting:
    """The onboarding meeting as recorded by an administrator."""

    held_on: date
    hub_access_confirmed: bool
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class OnboardingRecord:
    """What administrators recorded: ticked items (by key) and the meeting."""

    ticks: Mapping[str, Tick] = field(default_factory=dict)
    meeting: Meeting | None = None


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    #: True/False when the service checks this item itself; None when the admin does.
    verified: bool | None = None
    detail: str = ""
    url: str | None = None
    link_text: str = ""
    #: When the service verified the item (verified items only).
    verified_at: datetime | None = None
    #: Who ticked the item off and when (items the admin does only).
    tick: Tick | None = None

    @property
    def checkable(self) -> bool:
        return self.verified is not None

    @property
    def manual(self) -> bool:
        """An item the administrator does and ticks off (the service cannot check it)."""
        return self.verified is None

    @property
    def done(self) -> bool:
        return bool(self.verified) if self.checkable else self.tick is not None

    @property
    def verified_note(self) -> str:
        """``Verified on 2026-11-05 14:03 UTC.`` for a verified item, else empty."""
        if self.verified and self.verified_at is not None:
            return f"Verified on {format_utc(self.verified_at)}."
        return ""


def manual_keys() -> frozenset[str]:
    """The keys of every item the service cannot verify (the ones a tick may name)."""
    return frozenset(
        item.key
        for section in build_checklist(None, (), "")
        for item in section.items
        if item.manual
    )


def progress(sections: Sequence[Section]) -> tuple[int, int]:
    """(items done, items in total) of a checklist."""
    items = [item for section in sections for item in section.items]
    return sum(item.done for item in items), len(items)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    items: tuple[Item, ...]


def _hub_page(hub_url: str, path: str) -> str | None:
    return f"{hub_url.rstrip('/')}/hub/{path}" if hub_url else None


def _admin_item(
    snapshot: Snapshot | None, url: str | None, viewer_admin_at: datetime | None
) -> Item:
    """Whether an administrator has logged in: the figures say so, or the viewer proves it."""
    seen = bool(snapshot and snapshot.admin_logged_in)
    if seen:
        at = snapshot.admin_first_login_at if snapshot else None
        detail = "An administrator has logged in."
        if at is None:
            at = viewer_admin_at or (snapshot.tracker.last_success_at if snapshot else None)
    elif viewer_admin_at is not None:
        at = viewer_admin_at
        detail = "You are logged in as an administrator."
    else:
        at = None
        detail = (
            "No administrator has logged in yet."
            if snapshot is not None
            else "Waiting for the first count of the hub's users."
        )
    return Item(
        "admin_logged_in",
        "An administrator logs in to the hub",
        verified=seen or viewer_admin_at is not None,
        detail=detail,
        url=url,
        link_text="Open the hub",
        verified_at=at,
    )


def _access_items(
    snapshot: Snapshot | None,
    url: Mapping[str, str | None],
    hub_url: str,
    viewer_admin_at: datetime | None,
) -> tuple[Item, ...]:
    return (
        _admin_item(snapshot, url.get("hub_url"), viewer_admin_at),
        Item(
            "authentication",
            "The authentication method works as expected",
            url=_hub_page(hub_url, "login"),
            link_text="Hub login page",
        ),
        Item(
            "default_environment",
            "Users land in the correct default environment",
            url=_hub_page(hub_url, "spawn"),
            link_text="Start a server",
        ),
        Item(
            "compute",
            "The required compute resources are available",
            url=_hub_page(hub_url, "spawn"),
            link_text="Server options",
        ),
        Item(
            "data_access",
            "Data access works (if applicable)",
            url=_hub_page(hub_url, "home"),
            link_text="Your server",
        ),
    )


def _admin_items(snapshot: Snapshot | None, url: Mapping[str, str | None]) -> tuple[Item, ...]:
    users_known = snapshot.users_known if snapshot else 0
    logged_in = snapshot.users_logged_in if snapshot else 0
    return (
        Item(
            "users_exist",
            "Add and remove hub users",
            verified=users_known > 0,
            detail=(
                f"{format_count(users_known, 'user')} on the hub, "
                f"{format_count(logged_in, 'counted user')} logged in."
                if snapshot is not None
                else "Waiting for the first count of the hub's users."
            ),
            url=url.get("admin_dashboard_url"),
            link_text="Administrator dashboard",
            verified_at=snapshot.tracker.last_success_at if snapshot and users_known else None,
        ),
        Item(
            "permissions",
            "Manage user permissions (who is an administrator)",
            url=url.get("admin_dashboard_url"),
            link_text="Administrator dashboard",
        ),
        Item(
            "logs",
            "Find the hub's logs (if applicable)",
            url=url.get("admin_guide_url"),
            link_text="Hub administrator guide",
        ),
        Item(
            "community_access",
            "Configure community access settings",
            url=url.get("admin_guide_url"),
            link_text="Hub administrator guide",
        ),
    )


def _support_items(url: Mapping[str, str | None]) -> tuple[Item, ...]:
    return (
        Item(
            "support",
            "Know how to reach support (include the hub URL and a description)",
            url=url.get("support_email"),
            link_text="Email support",
        ),
        Item(
            "documentation",
            "Know where the documentation is",
            url=url.get("provider_docs_url"),
            link_text="Provider documentation",
        ),
    )


def _dashboard_items(url: Mapping[str, str | None]) -> tuple[Item, ...]:
    return (
        Item(
            "cost_dashboard",
            "Open the cloud cost dashboard (costs pass through with no markup)",
            url=url.get("grafana_cost_url"),
            link_text="Cloud cost dashboard",
        ),
        Item(
            "usage_dashboard",
            "Open the usage dashboard and find the current MAU",
            url=url.get("grafana_usage_url"),
            link_text="Usage dashboard",
        ),
    )


def build_checklist(
    snapshot: Snapshot | None,
    links: Sequence[Link],
    hub_url: str,
    *,
    record: OnboardingRecord | None = None,
    viewer_admin_at: datetime | None = None,
) -> list[Section]:
    """The hub-access, administrator, support, dashboard and follow-up checklists.

    *viewer_admin_at* is the time of the request when a hub administrator is looking at the
    checklist: their request proves that an administrator has logged in, whatever the last
    count of the hub's users says. *record* holds the items administrators ticked off.
    """
    url = {link.key: link.url for link in links}
    sections = [
        Section("hub_access", "Hub access", _access_items(snapshot, url, hub_url, viewer_admin_at)),
        Section("admin_functions", "Administrator functions", _admin_items(snapshot, url)),
        Section("support", "Support and documentation", _support_items(url)),
        Section("dashboards", "Monitoring and billing", _dashboard_items(url)),
        Section("follow_up", "Follow-up", (_first_value_item(snapshot),)),
    ]
    ticks = record.ticks if record is not None else {}
    if not ticks:
        return sections
    return [
        Section(
            section.key,
            section.title,
            tuple(
                replace(item, tick=ticks[item.key]) if item.manual and item.key in ticks else item
                for item in section.items
            ),
        )
        for section in sections
    ]


def _first_value_item(snapshot: Snapshot | None) -> Item:
    if snapshot is None:
        return Item(
            "first_value",
            "Moment of first value",
            verified=False,
            detail="Waiting for the first count of the hub's users.",
        )
    threshold = snapshot.settings.first_value_threshold
    verb = basis_verb(snapshot.settings.first_value_basis)
    if snapshot.achieved:
        detail = f"Reached on {format_utc(snapshot.achieved_at)}."
    elif snapshot.check_in_due:
        detail = (
            f"Not reached; the check-in was due on {format_utc(snapshot.check_in_due_at)}: "
            "reach out to understand blockers."
        )
    else:
        detail = (
            f"{snapshot.users_toward_first_value} of {threshold} so far; check-in due on "
            f"{format_utc(snapshot.check_in_due_at, with_time=False)} if not reached."
        )
    return Item(
        "first_value",
        f"Moment of first value: {threshold} users have {verb}",
        verified=snapshot.achieved,
        detail=detail,
        verified_at=snapshot.achieved_at,
    )
