"""The admin pages' base handler and namespace, the checklist and meeting forms, the usage
lists and CSV, the onboarding summary email, the monthly report and the 403 page.

Rendering reads only what the service keeps in memory after each poll (the figures and the
listed names): a page never waits on the hub or the database. Every page carries a
Content-Security-Policy; the templates are autoescaped.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http.client import responses
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from tornado import web
from tornado.httputil import url_concat
from tornado.log import app_log

from ..core.checklist import Meeting, OnboardingRecord, build_checklist, manual_keys, progress
from ..core.clock import as_utc
from ..core.format import basis_verb, month_name
from ..core.links import Link, resolve_links
from ..core.rules import month_label, month_of, parse_month
from ..core.snapshot import Snapshot
from ..core.summary_email import (
    MAILTO_MAX_LENGTH,
    SummaryEmail,
    mailto_link,
    progress_sentence,
    summary_email,
)
from ..pdf import PDFRenderer
from ..service.handlers import BaseHandler
from ..service.store import UsageQuery
from ..settings import OnboardingEmail, StandardLinks
from .chart import mau_chart_svg
from .templating import NavService, build_environment, hub_page_namespace, render_page
from .usage import (
    TableArgs,
    bucket_label,
    home_sizes,
    load_rows,
    parse_bucket,
    table_namespace,
    usage_csv,
)

#: (group, heading) as the onboarding procedure walks through them.
LINK_GROUPS: tuple[tuple[str, str], ...] = (
    ("hub", "Your hub"),
    ("documentation", "Documentation"),
    ("dashboards", "Dashboards"),
    ("support", "Support"),
)

#: The hub scope a token needs for the pages, which list the hub's users by name.
READ_USERS_SCOPE = "read:users"

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
    threshold: int,
    record: OnboardingRecord | None = None,
    viewer_admin_at: datetime | None = None,
    xsrf_token: str = "",
) -> dict[str, Any]:
    """Everything ``onboarding.html`` shows, from the snapshot and the resolved links.

    *viewer_admin_at* is the request's time when an administrator views the page (which
    proves an administrator has logged in); *xsrf_token* goes into the page's forms.
    """
    by_key = {link.key: link for link in links}
    record = record or OnboardingRecord()
    checklist = build_checklist(
        snapshot, links, hub_url, record=record, viewer_admin_at=viewer_admin_at
    )
    done, total = progress(checklist)
    today = as_utc(viewer_admin_at).date() if viewer_admin_at else None
    ns: dict[str, Any] = {
        "page_title": "Onboarding",
        "hub_url": hub_url.rstrip("/"),
        "snapshot": snapshot,
        "threshold": threshold,
        "link_groups": group_links(links),
        "support_email": support_email,
        "response_time": response_time,
        "cost_url": by_key["grafana_cost_url"].url if "grafana_cost_url" in by_key else None,
        "checklist": checklist,
        "checklist_done": done,
        "checklist_total": total,
        "meeting": record.meeting,
        "meeting_default_date": (record.meeting.held_on if record.meeting else today),
        "xsrf_token": xsrf_token,
        "checklist_url": service_prefix + "checklist",
        "onboarding_url": service_prefix + "onboarding",
        "usage_url": service_prefix + "usage",
        "reports_url": service_prefix + "reports",
        "billing_url": service_prefix + "billing/",
        "meeting_url": service_prefix + "meeting",
        "landing_url": service_prefix,
        "summary_url": service_prefix + "summary",
        "summary_text_url": service_prefix + "summary.txt",
    }
    if snapshot is not None:
        settings = snapshot.settings
        # the chart starts at the month the hub went live: no row of zeros before it
        live = month_label(month_of(settings.live_since))
        chart = [m for m in snapshot.chart_months(12) if m.month >= live] or snapshot.chart_months(
            1
        )
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
            chart_months=chart,
            chart_svg=Markup(mau_chart_svg(chart)),  # noqa: S704 - built escaped
        )
    return ns


def summary_for(
    snapshot: Snapshot | None,
    links: Sequence[Link],
    hub_url: str,
    standard: StandardLinks,
    email: OnboardingEmail,
    threshold: int,
    *,
    provider_name: str = "2i2c",
    meeting_date: date | None = None,
    today: date | None = None,
) -> SummaryEmail:
    return summary_email(
        snapshot,
        links,
        hub_url=hub_url,
        threshold=threshold,
        support_email=standard.support_email,
        response_time=standard.response_time,
        customer_name=email.customer_name,
        contact_name=email.contact_name,
        community_name=email.community_name,
        customer_email=email.customer_email,
        sender_name=email.account_manager,
        sender_title=email.signature_title,
        first_invoice=email.first_invoice,
        provider_name=provider_name,
        meeting_date=meeting_date,
        today=today,
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

    async def render_html(self, name: str, **ns: Any) -> None:
        """Render template *name* off the event loop (a page with a long table takes
        milliseconds of CPU: the loop keeps answering status, metrics and health meanwhile)."""
        nonce = secrets.token_urlsafe(18)
        html, policy = await asyncio.to_thread(
            render_page, self.env, name, {**self.layout_namespace(), **ns}, nonce
        )
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_security_headers(policy)
        self.finish(html)

    def send_csv(self, text: str, filename: str) -> None:
        """*text* as a CSV file to download (names in it: never cached, see below)."""
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.set_security_headers("default-src 'none'; frame-ancestors 'none'")
        self.finish(text)

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

    def begun_month(self, label: str, what: str) -> int:
        """The month index of *label* (``YYYY-MM``) for a page about that month: 400 when it
        is no month, 503 before the database answers, 404 naming *what* for a month that has
        not begun."""
        try:
            month = parse_month(label)
        except ValueError:
            raise web.HTTPError(400, "month must look like YYYY-MM") from None
        if not self.service.database_ready:
            raise web.HTTPError(503)
        if month > month_of(self.service.clock()):
            raise web.HTTPError(404, "There is no %s of a month that has not begun.", what)
        return month

    def require_admin(self) -> None:
        """Only hub admins may see these pages (the hub's scopes already restrict access).

        They name the hub's users, so a request with a token needs a token that may read
        them (``read:users``, which an admin's unrestricted token holds), resolved by the
        hub's own scope rules (``HubAuth.check_scopes``). An admin's browser login (OAuth
        cookie) is enough: the hub gave it to an admin for this service's pages.
        """
        if not self.is_admin:
            raise web.HTTPError(403)
        if self.token_request and not self.token_may_read_users:
            raise web.HTTPError(403, "this token may not read the hub's users")

    @property
    def token_may_read_users(self) -> bool:
        user = self.current_user
        return bool(user) and bool(self.hub_auth.check_scopes(READ_USERS_SCOPE, user))

    @staticmethod
    def error_message(status_code: int, exc_info: Any) -> str | None:
        """The sentence an error page shows: the service's own message for a 503 (the hub
        not answering) or a 400 (what was wrong with a form), never an exception's text."""
        error = exc_info[1] if exc_info else None
        if status_code not in (400, 404, 503) or not isinstance(error, web.HTTPError):
            return None
        message = error.log_message
        if not message:
            return None
        if error.args:  # tornado's log_message is a format string for its args
            message = message % error.args
        if status_code == 503:
            return message[0].upper() + message[1:] + "."
        return message

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
                    "narrowed_token": status_code == 403 and self.token_request and self.is_admin,
                    "message": self.error_message(status_code, kwargs.get("exc_info")),
                    "back_url": self.prefix,
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


class ChecklistHandler(PageHandler):
    """``POST checklist``: an admin ticks off (or undoes) an item the service cannot verify.

    The form carries the page's ``_xsrf`` token; a post without it is refused (403) before
    this runs. Who ticked and when are kept; the page shows them.
    """

    @web.authenticated
    async def post(self) -> None:
        self.require_admin()
        item = self.get_body_argument("item", "")
        action = self.get_body_argument("action", "")
        if item not in manual_keys():
            raise web.HTTPError(400, "There is no checklist item to tick with that name.")
        if action not in ("tick", "untick"):
            raise web.HTTPError(400, "A checklist item is either ticked or unticked.")
        await self.service.set_tick(item, action == "tick", str(self.current_user["name"]))
        self.service.log.info("Checklist item %s %sed", item, action)
        self.redirect(f"{self.prefix}onboarding#item-{item}", status=303)


#: How far ahead of today a meeting date may be (time zones: the meeting's day may already
#: be tomorrow in UTC).
MEETING_DATE_SLACK = timedelta(days=1)


def parse_meeting_form(held_on: str, confirmed: str, today: date) -> tuple[date, bool]:
    """The meeting's date and hub-access answer from the form; ValueError says what is wrong."""
    try:
        held = date.fromisoformat(held_on.strip())
    except ValueError:
        raise ValueError(
            f"The meeting date must be a date like 2026-11-05, got {held_on[:40]!r}."
        ) from None
    if held > today + MEETING_DATE_SLACK:
        raise ValueError(f"The meeting date {held.isoformat()} is in the future.")
    if confirmed not in ("yes", "no"):
        raise ValueError("Say whether hub access was confirmed in the meeting: yes or no.")
    return held, confirmed == "yes"


class MeetingHandler(PageHandler):
    """``POST meeting``: an admin records the onboarding meeting (date, hub access confirmed)."""

    @web.authenticated
    async def post(self) -> None:
        self.require_admin()
        now = as_utc(self.service.clock())
        try:
            held, confirmed = parse_meeting_form(
                self.get_body_argument("held_on", ""),
                self.get_body_argument("hub_access_confirmed", ""),
                now.date(),
            )
        except ValueError as error:
            raise web.HTTPError(400, str(error)) from None
        await self.service.record_meeting(
            Meeting(held, confirmed, str(self.current_user["name"]), now)
        )
        self.service.log.info("Onboarding meeting recorded")
        self.redirect(f"{self.prefix}onboarding#meeting", status=303)


class UsageUsersHandler(PageHandler):
    """``usage/users?bucket=KIND:KEY``: the counted users of one histogram bucket, paged;
    ``usage/users.csv?bucket=KIND:KEY``: all of them as CSV. A last-login bucket lists each
    user's last session end and most used profile over all their sessions."""

    @web.authenticated
    async def get(self, as_csv: str | None = None) -> None:
        self.require_admin()
        service = self.service
        if not service.database_ready:
            raise web.HTTPError(503)
        snapshot = service.current_snapshot()
        bucket = self.get_argument("bucket", "")
        kind, key = parse_bucket(bucket)
        lifetime = kind == "last_login"
        # a last-login bucket lists the most recent logins first (an index range scan)
        default_sort = "last_login" if lifetime else "server_hours"
        args = TableArgs(self.get_argument, month_of(snapshot.generated_at), default_sort)
        if as_csv:
            query = args.query(snapshot, bucket=(kind, key), lifetime=lifetime, limit=None)
            store = service.store
            home = home_sizes(service)
            text = await service.read(lambda: usage_csv(store.usage_rows(query)[0], lifetime, home))
            self.send_csv(text, f"users-{kind}-{key}.csv")
            return
        query = args.query(snapshot, bucket=(kind, key), lifetime=lifetime)
        rows, total = await load_rows(service, query)
        label = bucket_label(kind, key)
        month = month_name(month_label(args.month))
        if lifetime:
            heading = f"Counted users whose last login was {label} ago"
        else:
            heading = f"Counted users with {label} of server time in {month}"
        await self.render_html(
            "onboarding-usage-users.html",
            page_title="Usage: " + label,
            heading=heading,
            landing_url=self.prefix,
            usage_url=self.prefix + "usage",
            usage_table_month_name=month,
            lifetime=lifetime,
            usage_home_sizes=home_sizes(service),
            bucket_csv_url=url_concat(self.prefix + "usage/users.csv", {"bucket": bucket}),
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
        home = home_sizes(service)
        text = await service.read(lambda: usage_csv(store.usage_rows(query)[0], home=home))
        self.send_csv(text, f"usage-{month_label(month)}.csv")


class SummaryHandler(PageHandler):
    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        email = self.summary()
        await self.render_html(
            "onboarding-summary.html",
            page_title="Onboarding summary email",
            hub_url=self.hub_url.rstrip("/"),
            email=email,
            mailto=mailto_link(email, self.email.customer_email),
            mailto_max_length=MAILTO_MAX_LENGTH,
            body_rows=min(40, email.body.count("\n") + 2),
            landing_url=self.prefix,
            summary_text_url=self.prefix + "summary.txt",
        )

    def summary(self) -> SummaryEmail:
        service = self.service
        snapshot = None if service.warming_up else service.current_snapshot()
        meeting = service.onboarding_record.meeting
        return summary_for(
            snapshot,
            self.resolved_links(),
            self.hub_url,
            self.links,
            self.email,
            service.app.first_value_threshold,
            provider_name=service.app.provider_name,
            meeting_date=meeting.held_on if meeting else None,
            today=as_utc(service.clock()).date(),
        )


class SummaryTextHandler(SummaryHandler):
    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_security_headers("default-src 'none'; frame-ancestors 'none'")
        self.finish(self.summary().text)


def handler_kwargs(service: Any) -> dict[str, Any]:
    """What every page handler is given: the service, the template environment, the links
    and the email settings."""
    app = service.app
    return {
        "service": service,
        "env": build_environment(app.template_paths, app.data_files_path),
        "links": service.links,
        "email": OnboardingEmail(parent=app),
    }


def routes(service) -> list:
    """The page routes under the service prefix, with the one template environment."""
    prefix = service.app.service_prefix
    kwargs = handler_kwargs(service)
    report_kwargs = {**kwargs, "renderer": PDFRenderer()}
    # the first screen, the sub-pages and the reports build on the handlers here
    from .landing import routes as section_routes
    from .reports import ReportHandler

    found = [
        *section_routes(prefix, kwargs),
        web.url(prefix + "summary", SummaryHandler, kwargs, name="onboarding-summary"),
        web.url(
            prefix + r"summary\.txt", SummaryTextHandler, kwargs, name="onboarding-summary-txt"
        ),
        web.url(prefix + "checklist", ChecklistHandler, kwargs, name="onboarding-checklist"),
        web.url(prefix + "meeting", MeetingHandler, kwargs, name="onboarding-meeting"),
        web.url(prefix + r"usage\.csv", UsageCSVHandler, kwargs, name="onboarding-usage-csv"),
        web.url(
            prefix + r"usage/users(\.csv)?",
            UsageUsersHandler,
            kwargs,
            name="onboarding-usage-users",
        ),
        web.url(
            prefix + r"report/([0-9]{4}-[0-9]{2})(\.pdf)?",
            ReportHandler,
            report_kwargs,
            name="onboarding-report",
        ),
    ]
    if prefix != "/":
        found.append(web.url(prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}))
    return found
