"""The monthly usage report of one hub: pure, built from the status model, no usernames.

The admin page builds it from the model the status handler writes; the collector from the
model it reads from the hub's ``api/v1/status`` (``core.status``): the same input, so the
page's report and the collector's are alike figure for figure. Every check of the data is
the reader's; the only report of its own that can be refused is one of a month after the
hub's current month.

Text in a report is plain text, made safe by the model; the writers (Jinja HTML, Typst PDF)
escape it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from . import fees
from .checkin import CheckinReport, cost_line
from .clock import isoformat
from .format import (
    MONTH_NAMES,
    days,
    decimal,
    format_money,
    month_abbreviation,
    month_name,
    number,
)
from .rules import add_months, last_months, month_label, parse_month
from .safetext import safe_text, unsafe_characters
from .status.model import (
    MAX_TEXT,
    MAX_URL,
    LabelUsage,
    MonthCount,
    MonthDetails,
    ReportLink,
    StatusDocument,
    UsageMonth,
)
from .usage import LAST_LOGIN_BUCKETS

#: Most links a report lists.
MAX_LINKS = 25
#: Months in the MAU chart, ending with the report's month.
CHART_MONTHS = 12
MINUS = "\u2212"
DASH = "\u2013"


class NoReport(ValueError):
    """There is no report of the month asked for (it has not begun at the hub)."""


def safe_url(value: str | None) -> str | None:
    """*value* when it is a short http(s) or mailto URL without spaces, else None."""
    if not value or len(value) > MAX_URL or unsafe_characters(value):
        return None
    if any(ch.isspace() for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme == "mailto" and parts.path:
        return value
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    return None


@dataclass(frozen=True)
class Change:
    """One figure this month and the month before."""

    figure: str
    current: str
    previous: str
    change: str


@dataclass(frozen=True)
class ReportMonth:
    """One month as the report compares it: the document's figures of that month (zeros
    for a month the document has none of)."""

    mau: MonthCount
    usage: UsageMonth
    details: MonthDetails
    new_users: int = 0

    @property
    def month(self) -> str:
        return self.mau.month


@dataclass(frozen=True)
class Report:
    """Everything one hub's monthly report shows. Plain text throughout, no usernames."""

    hub_name: str
    hub_url: str
    month: str
    month_to_date: bool
    generated_at: str
    service_version: str
    tier: str
    support_email: str
    response_time: str
    links: tuple[ReportLink, ...]
    cost_dashboard_url: str | None
    figures: ReportMonth
    previous: ReportMonth
    chart: tuple[MonthCount, ...]
    first_value_achieved: bool
    first_value_date: str | None
    days_to_first_value: float | None
    first_value_threshold: int
    first_value_basis: str
    users_toward_first_value: int
    live_since: str | None
    check_in_due: bool
    last_login_distribution: tuple[tuple[str, int], ...]
    billing_basis: str
    billing_mau: int
    currency: str
    fee_lines: tuple[fees.TierLine, ...]
    fee_total: float
    previous_fee: float
    stale: bool
    changes: tuple[Change, ...] = ()
    observations: tuple[str, ...] = field(default_factory=tuple)
    #: cloud cost beside the fee, storage, hub configuration (checkin.py)
    checkin: CheckinReport | None = None

    @property
    def month_name(self) -> str:
        return month_name(self.month)

    @property
    def previous_month_name(self) -> str:
        return month_name(self.previous.month)

    def money(self, value: float) -> str:
        return format_money(value, self.currency)

    def billed(self, entry: ReportMonth) -> int:
        """*entry*'s MAU on the billing basis."""
        return entry.mau.server if self.billing_basis == "server" else entry.mau.login


def _mau(document: StatusDocument, month: str) -> MonthCount:
    mau = document.mau
    if mau.month == month:
        return MonthCount(month, mau.login, mau.server)
    found = [entry for entry in mau.history if entry.month == month]
    return found[-1] if found else MonthCount(month, 0, 0)


def report_month(document: StatusDocument, month: str) -> ReportMonth:
    """The figures of *month* in *document*: its MAU, new users, usage and details."""
    usage, report = document.usage, document.report
    months: list[UsageMonth] = [] if usage is None else [usage, *usage.history]
    found = next((entry for entry in months if entry.month == month), None)
    details = next(
        (entry for entry in (report.months if report else ()) if entry.month == month), None
    )
    new_users = next(
        (entry.count for entry in (report.new_users if report else ()) if entry.month == month),
        0,
    )
    return ReportMonth(
        mau=_mau(document, month),
        usage=found or UsageMonth(month, 0, 0, 0.0, None, None, 0),
        details=details or MonthDetails(month, (), (), None),
        new_users=new_users,
    )


def _chart(document: StatusDocument, month: str) -> tuple[MonthCount, ...]:
    known = {entry.month: entry for entry in document.mau.history}
    known[document.mau.month] = _mau(document, document.mau.month)
    return tuple(
        known.get(month_label(m), MonthCount(month_label(m), 0, 0))
        for m in last_months(parse_month(month), CHART_MONTHS)
    )


def _percent_change(current: float, previous: float) -> str:
    if previous == 0:
        return "new" if current else "no change"
    change = (current - previous) / previous * 100
    if abs(change) < 0.5:
        return "no change"
    sign = "+" if change > 0 else MINUS
    return f"{sign}{abs(change):.0f}%"


def report_changes(report: Report) -> tuple[Change, ...]:
    """The month-over-month table: each figure this month, the month before, the change."""
    now, before = report.figures, report.previous

    def counts(figure: str, current: int, previous: int) -> tuple[str, float, float, str, str]:
        return (figure, current, previous, number(current), number(previous))

    rows: list[tuple[str, float, float, str, str]] = [
        counts("MAU (login)", now.mau.login, before.mau.login),
        counts("MAU (server)", now.mau.server, before.mau.server),
        counts("New users", now.new_users, before.new_users),
        counts("Sessions", now.usage.sessions, before.usage.sessions),
        (
            "Server-hours",
            now.usage.server_hours,
            before.usage.server_hours,
            decimal(now.usage.server_hours, none=DASH),
            decimal(before.usage.server_hours, none=DASH),
        ),
        counts(
            "Peak concurrent servers",
            now.usage.peak_concurrent_servers,
            before.usage.peak_concurrent_servers,
        ),
        (
            "Estimated usage fee",
            report.fee_total,
            report.previous_fee,
            report.money(report.fee_total),
            report.money(report.previous_fee),
        ),
    ]
    return tuple(
        Change(figure, current_text, previous_text, _percent_change(current, prev))
        for figure, current, prev, current_text, previous_text in rows
    )


def _rise_or_fall(what: str, current: float, previous: float, previous_name: str) -> str | None:
    if previous == 0:
        return None
    change = (current - previous) / previous * 100
    if abs(change) < 0.5:
        return f"{what} unchanged from {previous_name}"
    verb = "rose" if change > 0 else "fell"
    return f"{what} {verb} {abs(change):.0f}% from {previous_name}"


def _first_value_sentences(report: Report) -> list[str]:
    if report.first_value_achieved:
        after = (
            f", {days(report.days_to_first_value)} days after going live"
            if report.days_to_first_value is not None
            else ""
        )
        return [f"First value reached on {report.first_value_date}{after}"]
    found = [
        f"First value not reached, {report.users_toward_first_value} of "
        f"{report.first_value_threshold}"
    ]
    if report.check_in_due:
        found.append("The 2-week check-in is due")
    return found


def _usage_sentences(report: Report, previous_name: str) -> list[str]:
    now, before = report.figures, report.previous
    found = []
    if now.new_users:
        word = "user" if now.new_users == 1 else "users"
        found.append(f"{number(now.new_users)} new {word} logged in for the first time")
    sessions = _rise_or_fall("Sessions", now.usage.sessions, before.usage.sessions, previous_name)
    if sessions:
        found.append(sessions)
    peak = now.usage.peak_concurrent_servers
    if peak:
        day = now.details.peak_day
        found.append(
            f"Peak of {number(peak)} concurrent servers{f' on {day:%m-%d}' if day else ''}"
        )
    elif not now.usage.sessions:
        found.append("No server sessions")
    dormant = sum(
        count
        for key, count in report.last_login_distribution
        if key in ("30-90 days", "over 90 days")
    )
    logged_in = sum(count for _key, count in report.last_login_distribution)
    if logged_in and dormant:
        found.append(
            f"{number(dormant)} of {number(logged_in)} users have not logged in for 30 days or more"
        )
    profiles = now.details.profiles
    if profiles and profiles[0].sessions:
        top = profiles[0]
        found.append(f"Most used profile: {top.name} ({number(top.sessions)} sessions)")
    return found


def observations(report: Report) -> tuple[str, ...]:
    """Plain sentences for the check-in, derived from the figures alone."""
    previous_name = MONTH_NAMES[int(report.previous.month[5:]) - 1]
    found: list[str] = []
    if report.month_to_date:
        found.append("Month to date: the figures cover the month so far")
    mau = _rise_or_fall(
        f"MAU ({report.billing_basis})",
        report.billing_mau,
        report.billed(report.previous),
        previous_name,
    )
    if mau:
        found.append(mau)
    elif report.billing_mau:
        found.append(f"MAU {number(report.billing_mau)}, none in {previous_name}")
    else:
        found.append("No monthly active users")
    found += _first_value_sentences(report)
    found += _usage_sentences(report, previous_name)
    if report.stale:
        found.append("The service's figures are stale: it has not reached the hub lately")
    return tuple(found)


def build_report(
    document: StatusDocument,
    month: str,
    *,
    hub_name: str,
    hub_url: str | None = None,
    fallback_tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
) -> Report:
    """The report of *month* (``YYYY-MM``) from one hub's status *document*.

    The hub's current month (``mau.month``) is marked month to date; a later month raises
    NoReport. The fee tiers are the hub's own (``report.fee_tiers``), else *fallback_tiers*.
    """
    current = document.mau.month
    if month > current:
        raise NoReport(f"month {month} is after the hub's current month {current}")
    section = document.report
    tiers = section.fee_tiers if section is not None else tuple(fallback_tiers)
    previous_month = month_label(add_months(parse_month(month), -1))
    figures = report_month(document, month)
    previous = report_month(document, previous_month)
    basis = document.billing.basis
    billing_mau = figures.mau.server if basis == "server" else figures.mau.login
    previous_mau = previous.mau.server if basis == "server" else previous.mau.login
    lines = fees.fee_breakdown(billing_mau, tiers)
    first_value = document.first_value
    toward = (
        first_value.users_started_server
        if first_value.basis == "server"
        else first_value.users_logged_in
    )
    distribution = document.usage.last_login_distribution if document.usage else {}
    report = Report(
        hub_name=safe_text(hub_name, MAX_TEXT) or "hub",
        hub_url=safe_url(hub_url or document.hub.url) or "",
        month=month,
        month_to_date=month == current,
        generated_at=isoformat(document.generated_at) or "",
        service_version=document.version,
        tier=section.tier if section else "",
        support_email=section.support_email if section else "",
        response_time=section.response_time if section else "",
        links=tuple(
            replace(link, label=link.label or link.url)
            for link in (section.links if section else ())
            if safe_url(link.url)
        )[:MAX_LINKS],
        cost_dashboard_url=safe_url(section.cost_dashboard_url) if section else None,
        figures=figures,
        previous=previous,
        chart=_chart(document, month),
        first_value_achieved=first_value.achieved_at is not None,
        first_value_date=(
            first_value.achieved_at.date().isoformat() if first_value.achieved_at else None
        ),
        days_to_first_value=first_value.days_to_first_value,
        first_value_threshold=first_value.threshold,
        first_value_basis=first_value.basis,
        users_toward_first_value=toward,
        live_since=first_value.live_since.date().isoformat(),
        check_in_due=first_value.check_in_due,
        last_login_distribution=tuple(
            (label, distribution.get(key, 0)) for key, label, _low, _high in LAST_LOGIN_BUCKETS
        ),
        billing_basis=basis,
        billing_mau=billing_mau,
        currency=document.billing.currency or "USD",
        fee_lines=lines,
        fee_total=fees.total(lines),
        previous_fee=fees.usage_fee(previous_mau, tiers),
        stale=document.tracker.stale,
        checkin=CheckinReport(
            cost_line(document.cost, month, fees.total(lines), document.billing.currency or "USD"),
            storage=document.storage,
        ),
    )
    return replace(report, changes=report_changes(report), observations=observations(report))


def _labels(entries: Sequence[LabelUsage]) -> list[dict[str, Any]]:
    return [
        {"name": entry.name, "sessions": entry.sessions, "hours": decimal(entry.server_hours)}
        for entry in entries
    ]


def _month_data(entry: ReportMonth) -> dict[str, Any]:
    usage = entry.usage
    return {
        "month": entry.month,
        "month_name": month_name(entry.month),
        "mau_login": entry.mau.login,
        "mau_server": entry.mau.server,
        "new_users": entry.new_users,
        "sessions": usage.sessions,
        "users_with_sessions": usage.users_with_sessions,
        "server_hours": decimal(usage.server_hours, none=DASH),
        "median_session_minutes": decimal(usage.median_session_minutes, none=DASH),
        "p90_session_minutes": decimal(usage.p90_session_minutes, none=DASH),
        "peak_concurrent_servers": usage.peak_concurrent_servers,
        "peak_day": entry.details.peak_day.isoformat() if entry.details.peak_day else None,
        "profiles": _labels(entry.details.profiles),
        "images": _labels(entry.details.images),
    }


def report_data(report: Report) -> dict[str, Any]:
    """The report as plain JSON data (what the Typst template reads)."""
    return {
        "hub_name": report.hub_name,
        "hub_url": report.hub_url,
        "month": report.month,
        "month_name": report.month_name,
        "month_to_date": report.month_to_date,
        "generated_at": report.generated_at,
        "service_version": report.service_version,
        "tier": report.tier,
        "support_email": report.support_email,
        "response_time": report.response_time,
        "links": [{"group": x.group, "label": x.label, "url": x.url} for x in report.links],
        "cost_dashboard_url": report.cost_dashboard_url,
        "figures": _month_data(report.figures),
        "previous": _month_data(report.previous),
        "chart": [
            {
                "month": bar.month,
                "short": month_abbreviation(bar.month),
                "login": bar.login,
                "server": bar.server,
            }
            for bar in report.chart
        ],
        "chart_max": max([1, *(max(bar.login, bar.server) for bar in report.chart)]),
        "first_value": {
            "achieved": report.first_value_achieved,
            "date": report.first_value_date,
            "days": None
            if report.days_to_first_value is None
            else days(report.days_to_first_value),
            "threshold": report.first_value_threshold,
            "basis": report.first_value_basis,
            "toward": report.users_toward_first_value,
            "live_since": report.live_since,
            "check_in_due": report.check_in_due,
        },
        "last_login": [
            {"label": label, "count": count} for label, count in report.last_login_distribution
        ],
        "billing": {
            "basis": report.billing_basis,
            "mau": report.billing_mau,
            "currency": report.currency,
            "lines": [
                {
                    "label": line.label,
                    "users": line.users,
                    "price": report.money(line.price),
                    "subtotal": report.money(line.subtotal),
                }
                for line in report.fee_lines
            ],
            "total": report.money(report.fee_total),
        },
        "changes": [
            {"figure": c.figure, "current": c.current, "previous": c.previous, "change": c.change}
            for c in report.changes
        ],
        "observations": list(report.observations),
        "stale": report.stale,
        "checkin": report.checkin.data() if report.checkin else None,
    }
