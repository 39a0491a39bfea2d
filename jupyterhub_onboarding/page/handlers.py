"""The admin landing page, the onboarding summary email and the 403 page.

Rendering reads only what the service keeps in memory after each poll (the figures and the
listed names): a page never waits on the hub or the database. Every page carries a
Content-Security-Policy; the templates are autoescaped.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import responses
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from tornado import web
from tornado.log import app_log

from ..core.checklist import build_checklist
from ..core.links import Link, resolve_links
from ..core.rules import month_label, month_of, parse_month
from ..core.snapshot import Snapshot
from ..core.summary import SummaryEmail, progress_sentence, summary_email
from ..core.text import basis_verb, month_name
from ..service.handlers import BaseHandler
from ..service.store import UsageQuery
from .chart import mau_chart_svg
from .eventviews import events_namespace
from .settings import OnboardingEmail, StandardLinks
from .templating import NavService, build_environment, hub_page_namespace, render_page
from .usage import (
    TableArgs,
    bucket_label,
    load_rows,
    parse_bucket,
    table_namespace,
    usage_csv,
    usage_namespace,
)

#: (group, heading) as the onboarding procedure walks through them.
LINK_GROUPS: tuple[tuple[str, str], ...] = (
    ("hub", "Your hub"),
    ("documentation", "Documentation"),
    ("dashboards", "Dashboards"),
    ("support", "Support"),
)

ROLLING_LABELS = {
    "24h": "Active in the last 24 hours (rolling)",
    "7d": "Active in the last 7 days (rolling)",
    "14d": "Active in the last 14 days (rolling)",
    "30d": "Active in the last 30 days (rolling)",
}


@dataclass(frozen=True)
class LinkView:
    key: str
    label: str
    url: str | None

    @property
    def display(self) -> str:
        """What the link shows: the address for email, the URL otherwise."""
        if self.url and self.url.startswith("mailto:"):
            return self.url[len("mailto:") :].split("?", 1)[0]
        return self.url or ""


@dataclass(frozen=True)
class LinkGroup:
    key: str
    title: str
    links: tuple[LinkView, ...]


def group_links(links: Sequence[Link]) -> list[LinkGroup]:
    """Links in the procedure's groups, in order; empty groups are kept (they say so)."""
    return [
        LinkGroup(
            key,
            title,
            tuple(LinkView(link.key, link.label, link.url) for link in links if link.group == key),
        )
        for key, title in LINK_GROUPS
    ]


def landing_namespace(
    snapshot: Snapshot | None,
    links: Sequence[Link],
    *,
    hub_url: str,
    support_email: str,
    response_time: str,
    service_prefix: str,
    users: Sequence[Any] | None,
    threshold: int,
) -> dict[str, Any]:
    """Everything ``onboarding.html`` shows, from the snapshot and the resolved links."""
    by_key = {link.key: link for link in links}
    ns: dict[str, Any] = {
        "page_title": "Onboarding",
        "hub_url": hub_url.rstrip("/"),
        "snapshot": snapshot,
        "threshold": threshold,
        "link_groups": group_links(links),
        "support_email": support_email,
        "response_time": response_time,
        "cost_url": by_key["grafana_cost_url"].url if "grafana_cost_url" in by_key else None,
        "checklist": build_checklist(snapshot, links, hub_url),
        "users": users,
        "landing_url": service_prefix,
        "summary_url": service_prefix + "summary",
        "summary_text_url": service_prefix + "summary.txt",
    }
    if snapshot is not None:
        settings = snapshot.settings
        ns.update(
            threshold=settings.first_value_threshold,
            progress=progress_sentence(snapshot),
            month_name=month_name(snapshot.month),
            billing_basis_label=basis_verb(settings.billing_basis),
            currency=settings.currency,
            rolling=[
                (ROLLING_LABELS.get(period, f"Active in the last {period} (rolling)"), count)
                for period, count in snapshot.rolling.items()
            ],
            chart_months=snapshot.chart_months(12),
            chart_svg=Markup(mau_chart_svg(snapshot.chart_months(12))),  # noqa: S704 - built escaped
        )
    return ns


def summary_for(
    snapshot: Snapshot | None,
    links: Sequence[Link],
    hub_url: str,
    standard: StandardLinks,
    email: OnboardingEmail,
    threshold: int,
) -> SummaryEmail:
    return summary_email(
        snapshot,
        links,
        hub_url=hub_url,
        threshold=threshold,
        support_email=standard.support_email,
        response_time=standard.response_time,
        customer_name=email.customer_name,
        sender_name=email.account_manager,
        sender_title=email.signature_title,
        first_invoice=email.first_invoice,
    )


class PageHandler(BaseHandler):
    """A page of the service: admins only, rendered through the one Jinja environment."""

    # tornado passes each route's own arguments to initialize, so routes differ in them
    def initialize(  # type: ignore[override]
        self, service, env: Environment, links: StandardLinks, email: OnboardingEmail
    ) -> None:
        super().initialize(service)
        self.env = env
        self.links = links
        self.email = email

    # -- what every page needs ------------------------------------------------------------

    @property
    def prefix(self) -> str:
        return self.service.app.service_prefix

    def resolved_links(self) -> list[Link]:
        return resolve_links(self.links.link_settings(), self.hub_url)

    def layout_namespace(self) -> dict[str, Any]:
        app = self.service.app
        return hub_page_namespace(
            self.current_user,
            self.hub_auth.hub_prefix,
            services=[NavService(app.service_name, app.service_prefix)],
        )

    def render_html(self, name: str, **ns: Any) -> None:
        nonce = secrets.token_urlsafe(18)
        html, policy = render_page(self.env, name, {**self.layout_namespace(), **ns}, nonce)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_security_headers(policy)
        self.finish(html)

    def set_security_headers(self, policy: str) -> None:
        self.set_header("Content-Security-Policy", policy)
        # The pages show usernames: never keep them in a shared cache.
        self.set_header("Cache-Control", "no-store")

    async def prepare(self) -> None:
        await super().prepare()
        if self.forbidden:
            # Identified, but the hub does not let this user use the service: sending them to
            # the login page again would loop.
            raise web.HTTPError(403)

    def require_admin(self) -> None:
        """Only hub admins may see these pages (the hub's scopes already restrict access)."""
        if not self.is_admin:
            raise web.HTTPError(403)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        support = self.links.support_email
        try:
            links = {link.key: link for link in self.resolved_links()}
            nonce = secrets.token_urlsafe(18)
            html, policy = render_page(
                self.env,
                "onboarding-error.html",
                {
                    **self.layout_namespace(),
                    "page_title": responses.get(status_code, "Error"),
                    "status_code": status_code,
                    "status_message": responses.get(status_code, "Error"),
                    "support_email": support,
                    "support_mailto": links["support_email"].url,
                },
                nonce,
            )
        except Exception:
            app_log.exception("Could not render the error page")
            super().write_error(status_code, **kwargs)
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_security_headers(policy)
        self.finish(html)


class LandingHandler(PageHandler):
    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        await self.render_landing()

    async def render_landing(self, status: int = 200, **extra: Any) -> None:
        """The landing page; *extra* replaces parts of its namespace (an event form's state)."""
        service = self.service
        snapshot = service.current_snapshot() if service.database_ready else None
        users = service.users_listed  # kept with the figures: no database wait here
        links = self.resolved_links()
        # the per-user usage table is one page read on the database thread
        usage = await usage_namespace(self, snapshot)
        self.set_status(status)
        self.render_html(
            "onboarding.html",
            **landing_namespace(
                snapshot,
                links,
                hub_url=self.hub_url,
                support_email=self.links.support_email,
                response_time=self.links.response_time,
                service_prefix=self.prefix,
                users=users,
                threshold=service.app.first_value_threshold,
            ),
            **usage,
            **{**events_namespace(self), **extra},
        )


class UsageUsersHandler(PageHandler):
    """``usage/users?bucket=KIND:KEY``: the counted users of one histogram bucket, paged."""

    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        service = self.service
        if not service.database_ready:
            raise web.HTTPError(503)
        snapshot = service.current_snapshot()
        kind, key = parse_bucket(self.get_argument("bucket", ""))
        args = TableArgs(self.get_argument, month_of(snapshot.generated_at))
        rows, total = await load_rows(service, args.query(snapshot, bucket=(kind, key)))
        label = bucket_label(kind, key)
        month = month_name(month_label(args.month))
        if kind == "last_login":
            heading = f"Counted users whose last login was {label} ago"
        else:
            heading = f"Counted users with {label} of server time in {month}"
        self.render_html(
            "onboarding-usage-users.html",
            page_title="Usage: " + label,
            heading=heading,
            landing_url=self.prefix,
            usage_table_month_name=month,
            **table_namespace(
                args, rows, total, self.prefix + "usage/users", "", bucket=f"{kind}:{key}"
            ),
        )


class UsageCSVHandler(PageHandler):
    """``usage.csv?month=YYYY-MM``: the per-user table of a month as CSV (admins only)."""

    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        service = self.service
        try:
            month = parse_month(self.get_argument("month", ""))
        except ValueError:
            raise web.HTTPError(400, "month must look like YYYY-MM") from None
        if not service.database_ready:
            raise web.HTTPError(503)
        query = UsageQuery(
            month=month, now=service.clock(), limit=None, sort="name", descending=False
        )
        store = service.store
        text = await service.db(lambda: usage_csv(store.usage_rows(query)[0]))
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header(
            "Content-Disposition", f'attachment; filename="usage-{month_label(month)}.csv"'
        )
        self.set_security_headers("default-src 'none'; frame-ancestors 'none'")
        self.finish(text)


class SummaryHandler(PageHandler):
    @web.authenticated
    def get(self) -> None:
        self.require_admin()
        email = self.summary()
        self.render_html(
            "onboarding-summary.html",
            page_title="Onboarding summary email",
            hub_url=self.hub_url.rstrip("/"),
            email=email,
            body_rows=min(40, email.body.count("\n") + 2),
            landing_url=self.prefix,
            summary_text_url=self.prefix + "summary.txt",
        )

    def summary(self) -> SummaryEmail:
        service = self.service
        snapshot = service.current_snapshot() if service.database_ready else None
        return summary_for(
            snapshot,
            self.resolved_links(),
            self.hub_url,
            self.links,
            self.email,
            service.app.first_value_threshold,
        )


class SummaryTextHandler(SummaryHandler):
    @web.authenticated
    def get(self) -> None:
        self.require_admin()
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_security_headers("default-src 'none'; frame-ancestors 'none'")
        self.finish(self.summary().text)


def routes(service) -> list:
    """The page routes under the service prefix, with the one template environment."""
    app = service.app
    env = build_environment(app.template_paths, app.data_files_path)
    prefix = app.service_prefix
    kwargs = {
        "service": service,
        "env": env,
        "links": StandardLinks(parent=app),
        "email": OnboardingEmail(parent=app),
    }
    found = [
        web.url(prefix, LandingHandler, kwargs, name="onboarding-landing"),
        web.url(prefix + "summary", SummaryHandler, kwargs, name="onboarding-summary"),
        web.url(
            prefix + r"summary\.txt", SummaryTextHandler, kwargs, name="onboarding-summary-txt"
        ),
        web.url(prefix + r"usage\.csv", UsageCSVHandler, kwargs, name="onboarding-usage-csv"),
        web.url(prefix + "usage/users", UsageUsersHandler, kwargs, name="onboarding-usage-users"),
    ]
    if prefix != "/":
        found.append(web.url(prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}))
    return found
