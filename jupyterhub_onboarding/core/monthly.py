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
from datetime import date
from urllib.parse import urlsplit

from . import fees
from .checkin import CheckinReport, cost_line
from .format import (
    basis_colour,
    days,
    format_money,
    hours,
    link_target,
    long_date,
    long_datetime,
    month_name,
    month_title,
    number,
    percent_change,
)
from .groups import GroupLine, group_lines, names_left_out
from .rules import add_months, last_months, month_label, month_of, parse_month
from .safetext import safe_text, unsafe_characters
from .status.model import (
    MAX_TEXT,
    MAX_URL,
    MonthCount,
    MonthDetails,
    PreviousToDate,
    ReportLink,
    ReportSection,
    StatusDocument,
    UsageMonth,
)
from .usage import LAST_LOGIN_BUCKETS

#: Most links a report lists.
MAX_LINKS = 25
#: Months in the MAU chart, ending with the report's month.
CHART_MONTHS = 12
DASH = "\u2013"


class NoReport(ValueError):
    """There is no report of the month asked for: it has not begun at the hub, or the hub
    was not live yet. The message says which, in plain words."""


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
    #: The month's usage fee: as written when it closed for a closed month, else the sum of
    #: fee_lines.
    fee_total: float
    previous_fee: float
    stale: bool
    changes: tuple[Change, ...] = ()
    observations: tuple[str, ...] = field(default_factory=tuple)
    #: What the month is compared with: "November 2026", "1 to 4 November 2026" (the same
    #: days of the previous month, for a month to date), or "" (no comparison).
    compared_with: str = ""
    community_name: str = ""
    provider_name: str = ""
    #: The provider's logo: (format, bytes), format ``png``, ``jpg`` or ``svg``.
    provider_logo: tuple[str, bytes] | None = None
    #: True once the hub has closed the month (its figures and fee written once), None when
    #: the hub's release does not say.
    month_closed: bool | None = None
    #: The fee the hub wrote when the month closed (None: not closed).
    closed_fee: float | None = None
    #: What today's fee tiers (fee_lines) give for the month's MAU: differs from a closed
    #: month's fee only when the tiers changed after it closed.
    tiers_total: float | None = None
    #: cloud cost beside the fee, storage, hub configuration (checkin.py)
    checkin: CheckinReport | None = None

    @property
    def month_name(self) -> str:
        return month_name(self.month)

    @property
    def title(self) -> str:
        """The community's name when it is configured, else the hub's."""
        return self.community_name or self.hub_name

    @property
    def month_title(self) -> str:
        """``December 2026`` or ``December 2026, to date``."""
        return month_title(self.month, self.month_to_date)

    @property
    def to_date_comparison(self) -> bool:
        """The month to date is compared with the same days of the month before."""
        return self.month_to_date and bool(self.compared_with)

    def colour(self, basis: str) -> str:
        return basis_colour(basis)

    def link_text(self, url: str) -> str:
        return link_target(url)

    @property
    def groups(self) -> tuple[GroupLine, ...]:
        """The month's usage per group, labelled (none when the hub sent none)."""
        return group_lines(self.figures.details.groups or ())

    @property
    def group_names_left_out(self) -> bool:
        """The hub left the group names out (``Onboarding.report_group_names`` not set)."""
        return names_left_out(self.figures.details.groups or ())

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
    """The last CHART_MONTHS months up to *month*, from the month the hub went live."""
    known = {entry.month: entry for entry in document.mau.history}
    known[document.mau.month] = _mau(document, document.mau.month)
    live = month_label(month_of(document.first_value.live_since))
    return tuple(
        known.get(month_label(m), MonthCount(month_label(m), 0, 0))
        for m in last_months(parse_month(month), CHART_MONTHS)
        if month_label(m) >= live
    )


def _to_date(entry: PreviousToDate) -> ReportMonth:
    """The previous month up to the same point, as the report compares it."""
    return ReportMonth(
        mau=entry.mau,
        usage=entry.usage,
        details=MonthDetails(entry.mau.month, (), (), None),
        new_users=entry.new_users,
    )


def _same_days(entry: PreviousToDate) -> str:
    """``1\u20134 November 2026``: the days *until* reaches into, its own day included."""
    start = parse_month(entry.mau.month)
    first = date(start // 100, start % 100, 1)
    until = entry.until
    last = until.date() if until.date().month == first.month else None
    if last is None:  # the whole month (the current month is longer)
        return month_name(entry.mau.month)
    if last == first:
        return long_date(first)
    return f"{first.day}{DASH}{long_date(last)}"


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
            hours(now.usage.server_hours, none=DASH),
            hours(before.usage.server_hours, none=DASH),
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
        Change(figure, current_text, previous_text, percent_change(current, prev))
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
        reached = date.fromisoformat(report.first_value_date or "")
        return [f"First value reached on {long_date(reached)}{after}"]
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
    sessions = (
        _rise_or_fall("Sessions", now.usage.sessions, before.usage.sessions, previous_name)
        if previous_name
        else None
    )
    if sessions:
        found.append(sessions)
    peak = now.usage.peak_concurrent_servers
    if peak:
        day = now.details.peak_day
        found.append(
            f"Peak of {number(peak)} concurrent servers{f' on {long_date(day)}' if day else ''}"
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
    """Plain sentences for the check-in, derived from the figures alone. A month to date is
    compared with the same days of the month before, or not at all."""
    compared = report.compared_with
    found: list[str] = []
    if report.to_date_comparison:
        found.append(
            f"Month to date: the figures cover {report.month_name} so far and are compared "
            f"with the same days of the month before ({compared})"
        )
    elif report.month_to_date:
        found.append(
            f"Month to date: the figures cover {report.month_name} so far; no comparison "
            "with the month before"
        )
    mau = (
        _rise_or_fall(
            f"MAU ({report.billing_basis})",
            report.billing_mau,
            report.billed(report.previous),
            compared,
        )
        if compared
        else None
    )
    if mau:
        found.append(mau)
    elif report.billing_mau and compared:
        found.append(f"MAU {number(report.billing_mau)}, none in {compared}")
    elif report.billing_mau:
        found.append(f"MAU {number(report.billing_mau)}")
    else:
        found.append("No monthly active users")
    found += _first_value_sentences(report)
    found += _usage_sentences(report, compared)
    if report.stale:
        found.append("The service's figures are stale: it has not reached the hub lately")
    return tuple(found)


def check_month(document: StatusDocument, month: str) -> None:
    """NoReport, in plain words, for a month after the hub's current one or before the
    month it went live."""
    current = document.mau.month
    if month > current:
        raise NoReport(f"{month_name(month)} has not begun at this hub yet")
    live_since = document.first_value.live_since
    if month < month_label(month_of(live_since)):
        raise NoReport(
            f"The hub went live on {long_date(live_since)}: there is no report of "
            f"{month_name(month)}, a month before it was live"
        )


def _comparison(document: StatusDocument, month: str) -> tuple[ReportMonth | None, str]:
    """What *month* is compared with, and how the report names it: a closed month with the
    whole month before; the month to date with the same days of the month before, when the
    document has them (else no comparison)."""
    if month != document.mau.month:
        previous_month = month_label(add_months(parse_month(month), -1))
        return report_month(document, previous_month), month_name(previous_month)
    section = document.report
    if section is None or section.previous_to_date is None:
        return None, ""
    return _to_date(section.previous_to_date), _same_days(section.previous_to_date)


@dataclass(frozen=True)
class Branding:
    """Who the report is for and from: names and logo from the configuration."""

    community_name: str = ""
    provider_name: str = ""
    #: (format, bytes), format ``png``, ``jpg`` or ``svg``.
    provider_logo: tuple[str, bytes] | None = None


#: A report without community or provider names.
NO_BRANDING = Branding()


def _closed_fee(mau: MonthCount) -> float | None:
    """The fee a closed month was written with (None for a month still counted)."""
    return mau.estimated_usage_fee if mau.closed else None


def build_report(
    document: StatusDocument,
    month: str,
    *,
    hub_name: str,
    hub_url: str | None = None,
    fallback_tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
    branding: Branding = NO_BRANDING,
) -> Report:
    """The report of *month* (``YYYY-MM``) from one hub's status *document*.

    The hub's current month (``mau.month``) is marked month to date and compared with the
    same days of the month before; a later month, or one before the hub went live, raises
    NoReport. The fee tiers are the hub's own (``report.fee_tiers``), else *fallback_tiers*.
    """
    check_month(document, month)
    section = document.report
    tiers = section.fee_tiers if section is not None else tuple(fallback_tiers)
    figures = report_month(document, month)
    compared, compared_with = _comparison(document, month)
    previous = compared or report_month(document, month_label(add_months(parse_month(month), -1)))
    basis = document.billing.basis
    billing_mau = figures.mau.server if basis == "server" else figures.mau.login
    previous_mau = previous.mau.server if basis == "server" else previous.mau.login
    lines = fees.fee_breakdown(billing_mau, tiers)
    closed_fee = _closed_fee(figures.mau)
    fee_total = fees.total(lines) if closed_fee is None else closed_fee
    previous_fee = _closed_fee(previous.mau)
    if previous_fee is None:
        previous_fee = fees.usage_fee(previous_mau, tiers)
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
        month_to_date=month == document.mau.month,
        generated_at=long_datetime(document.generated_at),
        service_version=document.version,
        tier=section.tier if section else "",
        support_email=section.support_email if section else "",
        response_time=section.response_time if section else "",
        links=_links(section),
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
        fee_total=fee_total,
        previous_fee=previous_fee,
        tiers_total=fees.total(lines),
        stale=document.tracker.stale,
        compared_with=compared_with,
        community_name=safe_text(branding.community_name, MAX_TEXT),
        provider_name=safe_text(branding.provider_name, MAX_TEXT),
        provider_logo=branding.provider_logo,
        month_closed=figures.mau.closed,
        closed_fee=closed_fee,
        checkin=CheckinReport(
            cost_line(document.cost, month, fee_total, document.billing.currency or "USD"),
            storage=document.storage,
        ),
    )
    changes = report_changes(report) if compared_with else ()
    return replace(report, changes=changes, observations=observations(report))


def _links(section: ReportSection | None) -> tuple[ReportLink, ...]:
    return tuple(
        replace(link, label=link.label or link_target(link.url))
        for link in (section.links if section else ())
        if safe_url(link.url)
    )[:MAX_LINKS]
