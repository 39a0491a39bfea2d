"""The landing page's first screen and its sub-pages (Usage, Events, Onboarding, Reports).

The first screen shows what matters at the hub's stage: before first value, the progress
toward it and the check-in date; after it, this month's MAU and fee estimate beside last
month's, the next event with its readiness, open onboarding items and whether the figures
are fresh. Its figures come from the status document the status API serves
(:meth:`~jupyterhub_onboarding.service.wiring.OnboardingService.status_document`), so the
page and the API cannot disagree. The details are on sub-pages with their own URLs, each
list shown once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tornado import web

from ..core.clock import as_utc
from ..core.fees import usage_fee
from ..core.format import basis_verb, days, days_away, month_name
from ..core.links import Link
from ..core.rules import add_months, month_label, month_of, parse_month
from ..core.status.model import PREPARATION_DAYS, StatusDocument, UpcomingEvent
from .checkinviews import landing_checkin
from .eventviews import events_namespace
from .handlers import PageHandler, landing_namespace
from .usage import usage_namespace

#: (key, tab label, path under the service prefix, template) of the page and its
#: sub-pages, in order.
SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("overview", "Overview", "", "onboarding.html"),
    ("usage", "Usage", "usage", "onboarding-usage.html"),
    ("events", "Events", "events", "onboarding-events-page.html"),
    ("onboarding", "Onboarding", "onboarding", "onboarding-onboarding.html"),
    ("reports", "Reports", "reports", "onboarding-reports.html"),
)
TEMPLATES = {key: template for key, _label, _path, template in SECTIONS}


@dataclass(frozen=True)
class NextEvent:
    """The next planned event as the first screen shows it."""

    event: UpcomingEvent
    lead_time: str
    warning: bool


def next_event(document: StatusDocument) -> NextEvent | None:
    """The earliest planned event not yet ended, with a warning when it needs preparing."""
    if document.events is None or not document.events.upcoming:
        return None
    event = document.events.upcoming[0]
    return NextEvent(
        event=event,
        lead_time=days_away(event.days_until),
        warning=event.unprepared,
    )


@dataclass(frozen=True)
class Comparison:
    """Last month's billing MAU and fee estimate beside this month's, and what part of it."""

    label: str
    mau: int
    fee: float


def previous_month_figures(document: StatusDocument) -> Comparison | None:
    """Last month up to the same day and time as now into this month (what a month to date
    compares with), or the whole of last month when the document lacks that, or None
    without figures of last month."""
    previous = month_label(add_months(parse_month(document.billing.month), -1))
    basis = document.billing.basis
    report = document.report
    tiers = report.fee_tiers if report else None
    counted = None
    if report is not None and report.previous_to_date is not None:
        until = report.previous_to_date.until
        counted = report.previous_to_date.mau
        label = f"1\u2013{until.day} {month_name(previous)}"
    else:
        counted = next((entry for entry in document.mau.history if entry.month == previous), None)
        label = f"{month_name(previous)} (the whole month)"
    if counted is None:
        return None
    mau = int(getattr(counted, basis))
    return Comparison(label, mau, usage_fee(mau, tiers) if tiers else usage_fee(mau))


def first_screen(document: StatusDocument | None, now: datetime) -> dict[str, Any]:
    """What the first screen shows, from the status document (nothing before the first count)."""
    if document is None:
        return {"status": None}
    first = document.first_value
    done = first.users_started_server if first.basis == "server" else first.users_logged_in
    onboarding = document.onboarding
    return {
        "status": document,
        "stage": "value" if first.achieved else "toward",
        "toward_value": min(done, first.threshold),
        "toward_sentence": (
            f"{done} of {first.threshold} users {'has' if done == 1 else 'have'} "
            f"{basis_verb(first.basis)}"
        ),
        "days_to_first_value": days(first.days_to_first_value),
        "billing_month_name": month_name(document.billing.month),
        "previous": previous_month_figures(document),
        "next_event": next_event(document),
        "preparation_days": PREPARATION_DAYS,
        "open_items": (
            onboarding.checklist_total - onboarding.checklist_done if onboarding else None
        ),
        "viewed_at": as_utc(now),
    }


def section_links(prefix: str, current: str) -> list[dict[str, Any]]:
    """The tabs of the page: label, URL and whether it is the one shown."""
    return [
        {"key": key, "label": label, "url": prefix + path, "current": key == current}
        for key, label, path, _template in SECTIONS
    ]


def report_months(document: StatusDocument | None, prefix: str) -> list[tuple[str, str]]:
    """(month name, report URL) of every month since the hub went live, newest first."""
    if document is None:
        return []
    current = month_of(document.generated_at)
    first = month_of(document.first_value.live_since)
    months: list[tuple[str, str]] = []
    month = current
    while month >= first and len(months) < 120:
        months.append((month_name(month_label(month)), f"{prefix}report/{month_label(month)}"))
        month = add_months(month, -1)
    return months


def section_namespace(
    section: str, document: StatusDocument | None, now: datetime, prefix: str
) -> dict[str, Any]:
    """What every page of the section set shows beyond the shared namespace: the first
    screen's figures, the tabs and the report months."""
    return {
        **first_screen(document, now),
        "sections": section_links(prefix, section),
        "report_months": report_months(document, prefix),
    }


class SectionHandler(PageHandler):
    """The first screen (``section="overview"``) or one of its sub-pages."""

    # tornado passes each route's own arguments to initialize
    def initialize(self, section: str = "overview", **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.section = section

    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        if self.section == "reports" and self.get_argument("month", ""):
            self.redirect_to_report(self.get_argument("month"))
            return
        await self.render_section(self.section)

    def redirect_to_report(self, value: str) -> None:
        """The month picker's answer: the month's report, or 400 naming the field."""
        try:
            month = parse_month(value)
        except ValueError:
            raise web.HTTPError(400, "month must look like YYYY-MM") from None
        self.redirect(f"{self.prefix}report/{month_label(month)}", status=303)

    async def render_section(self, section: str, status: int = 200, **extra: Any) -> None:
        """The page of *section*; *extra* replaces parts of its namespace (a form's state)."""
        service = self.service
        ready = not service.warming_up
        snapshot = service.current_snapshot() if ready else None
        document = service.status_document(self.hub_url) if ready else None
        links: Sequence[Link] = self.resolved_links()
        usage = await usage_namespace(self, snapshot) if section == "usage" else {}
        now = service.clock()
        self.set_status(status)
        namespace = landing_namespace(
            snapshot,
            links,
            hub_url=self.hub_url,
            support_email=self.links.support_email,
            response_time=self.links.response_time,
            service_prefix=self.prefix,
            threshold=service.app.first_value_threshold,
            record=service.onboarding_record,
            viewer_admin_at=as_utc(now),
            xsrf_token=self.xsrf_token.decode("ascii"),
        )
        namespace.update(section_namespace(section, document, now, self.prefix))
        namespace.update(usage)
        namespace.update(events_namespace(self))
        namespace.update(extra)
        namespace["warming_up"] = service.warming_up
        namespace.update(landing_checkin(service, snapshot))
        await self.render_html(TEMPLATES[section], **namespace)


def routes(prefix: str, kwargs: dict[str, Any]) -> list:
    """The first screen and the sub-pages that only show (the events page also takes posts)."""
    return [
        web.url(
            prefix + path,
            SectionHandler,
            {**kwargs, "section": key},
            name=f"onboarding-{key}",
        )
        for key, _label, path, _template in SECTIONS
        if key != "events"
    ]
