"""The procedure's onboarding checklists for one hub: pure.

Items the service can check from its own figures (an administrator has logged in, users
exist, first value reached) carry a verified state; the others link to where the
administrator does them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .links import Link
from .snapshot import Snapshot
from .text import basis_verb, format_count, format_utc


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    #: True/False when the service checks this item itself; None when the admin does.
    verified: bool | None = None
    detail: str = ""
    url: str | None = None
    link_text: str = ""

    @property
    def checkable(self) -> bool:
        return self.verified is not None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    items: tuple[Item, ...]


def _hub_page(hub_url: str, path: str) -> str | None:
    return f"{hub_url.rstrip('/')}/hub/{path}" if hub_url else None


def build_checklist(
    snapshot: Snapshot | None, links: Sequence[Link], hub_url: str
) -> list[Section]:
    """The hub-access, administrator, support, dashboard and follow-up checklists."""
    url = {link.key: link.url for link in links}
    known = snapshot is not None
    admin_in = bool(snapshot and snapshot.admin_logged_in)
    users_known = snapshot.users_known if snapshot else 0
    logged_in = snapshot.users_logged_in if snapshot else 0

    access = (
        Item(
            "admin_logged_in",
            "An administrator logs in to the hub",
            verified=admin_in,
            detail=(
                "An administrator has logged in."
                if admin_in
                else "No administrator has logged in yet."
                if known
                else "Waiting for the first count of the hub's users."
            ),
            url=url.get("hub_url"),
            link_text="Open the hub",
        ),
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
    admin = (
        Item(
            "users_exist",
            "Add and remove hub users",
            verified=users_known > 0,
            detail=(
                f"{format_count(users_known, 'user')} on the hub, "
                f"{format_count(logged_in, 'counted user')} logged in."
                if known
                else "Waiting for the first count of the hub's users."
            ),
            url=url.get("admin_dashboard_url"),
            link_text="Administrator dashboard",
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
    support = (
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
    dashboards = (
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
    follow_up = (_first_value_item(snapshot),)
    return [
        Section("hub_access", "Hub access", access),
        Section("admin_functions", "Administrator functions", admin),
        Section("support", "Support and documentation", support),
        Section("dashboards", "Monitoring and billing", dashboards),
        Section("follow_up", "Follow-up", follow_up),
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
    )
