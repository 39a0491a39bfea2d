"""The monthly usage report of one hub: pure, built from a status document, no usernames.

The service and the collector build the same report from the same input, the status
document of ``api/v1/status`` (with its ``report`` section), so the admin page's report and
the collector's are alike figure for figure. Building checks the document's shape: a hub
that sends something else gives a :class:`ReportDataError` naming the field, never a crash.

Every string in a report is plain text; the writers (Jinja HTML, Typst PDF) escape it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from . import fees
from .links import Link
from .rules import add_months, last_months, month_label, parse_month
from .snapshot import Snapshot
from .text import MONTH_NAMES, format_money, month_name
from .usage import LAST_LOGIN_BUCKETS, MonthUsage

#: Longest text kept from a status document (labels, links, contact); longer is cut.
MAX_TEXT = 200
#: Longest URL kept; a longer one is not linked.
MAX_URL = 2000
#: Most profiles, images and links a report lists.
MAX_ITEMS = 25
#: Months in the MAU chart, ending with the report's month.
CHART_MONTHS = 12
MINUS = "\u2212"

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_DAY = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


class ReportDataError(ValueError):
    """A status document that cannot make a report: names the field that is wrong."""


# -- the status document's ``report`` section (service side) -------------------------------


def _label_list(entries: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"name": e.name, "sessions": e.sessions, "server_hours": e.server_hours}
        for e in entries[:MAX_ITEMS]
    ]


def report_section(
    snapshot: Snapshot,
    links: Sequence[Link],
    *,
    tier: str,
    support_email: str,
    response_time: str,
) -> dict[str, Any]:
    """The ``report`` section of the status document: what a monthly report needs beyond
    the other sections. Aggregates and configuration only, no usernames."""
    by_key = {link.key: link for link in links}
    cost = by_key.get("grafana_cost_url")
    return {
        "tier": tier,
        "support_email": support_email,
        "response_time": response_time,
        "cost_dashboard_url": cost.url if cost is not None else None,
        "links": [
            {"group": link.group, "label": link.label, "url": link.url}
            for link in links
            if link.url
        ],
        "fee_tiers": [[bound, price] for bound, price in snapshot.settings.fee_tiers],
        "new_users": [
            {"month": month, "count": count} for month, count in sorted(snapshot.new_users.items())
        ],
        "months": [
            {
                "month": entry.month,
                "profiles": _label_list(entry.profiles),
                "images": _label_list(entry.images),
                "peak_day": _peak_day(entry),
            }
            for entry in snapshot.usage.months
        ],
    }


def _peak_day(entry: MonthUsage) -> str | None:
    """The first day of the month's peak of concurrent servers (None without servers)."""
    best = None
    for day, count in entry.daily_peaks:
        if count > 0 and (best is None or count > best[1]):
            best = (day, count)
    return None if best is None else best[0]


# -- reading a status document -------------------------------------------------------------


def _get(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise ReportDataError(f"missing {path}")
        value = value[part]
    return value


def _opt(document: Any, path: str) -> Any:
    try:
        return _get(document, path)
    except ReportDataError:
        return None


def _count(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportDataError(f"{path} is not a count")
    return int(value)


def _number(value: Any, path: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ReportDataError(f"{path} is not a number")
    return float(value)


def _month(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise ReportDataError(f"{path} is not a YYYY-MM month")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReportDataError(f"{path} is not a list")
    return value


def plain_text(value: Any, limit: int = MAX_TEXT) -> str:
    """One line of printable text: control, bidirectional and invisible characters become
    spaces, runs of space collapse, and text beyond *limit* ends with an ellipsis."""
    if value is None:
        return ""
    text = " ".join(_INVISIBLE.sub(" ", str(value)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


def safe_url(value: Any) -> str | None:
    """*value* when it is a short http(s) or mailto URL without spaces, else None."""
    if not isinstance(value, str) or len(value) > MAX_URL or _INVISIBLE.search(value):
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


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelLine:
    name: str
    sessions: int
    server_hours: float


@dataclass(frozen=True)
class ReportLink:
    group: str
    label: str
    url: str


@dataclass(frozen=True)
class ChartBar:
    month: str
    login: int
    server: int

    @property
    def short(self) -> str:
        """``2026-11`` -> ``Nov``."""
        return MONTH_NAMES[int(self.month[5:]) - 1][:3]


@dataclass(frozen=True)
class Change:
    """One figure this month and the month before."""

    figure: str
    current: str
    previous: str
    change: str


@dataclass(frozen=True)
class MonthFigures:
    """The figures of one month that the report compares."""

    month: str
    mau_login: int = 0
    mau_server: int = 0
    new_users: int = 0
    sessions: int = 0
    users_with_sessions: int = 0
    server_hours: float = 0.0
    median_session_minutes: float | None = None
    p90_session_minutes: float | None = None
    peak_concurrent_servers: int = 0
    peak_day: str | None = None
    profiles: tuple[LabelLine, ...] = ()
    images: tuple[LabelLine, ...] = ()


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
    figures: MonthFigures
    previous: MonthFigures
    chart: tuple[ChartBar, ...]
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

    @property
    def month_name(self) -> str:
        return month_name(self.month)

    @property
    def previous_month_name(self) -> str:
        return month_name(self.previous.month)

    def money(self, value: float) -> str:
        return format_money(value, self.currency)


def _tiers(
    document: Any, fallback: Sequence[tuple[int | None, float]]
) -> tuple[tuple[int | None, float], ...]:
    raw = _opt(document, "report.fee_tiers")
    if raw is None:
        return tuple(fallback)
    try:
        return fees.validate_tiers(raw)
    except ValueError as error:
        raise ReportDataError(f"report.fee_tiers: {error}") from None


def _labels(value: Any, path: str) -> tuple[LabelLine, ...]:
    found = []
    for index, entry in enumerate(_list(value, path)[:MAX_ITEMS]):
        where = f"{path}[{index}]"
        if not isinstance(entry, Mapping):
            raise ReportDataError(f"{where} is not an object")
        found.append(
            LabelLine(
                plain_text(entry.get("name"), 64) or "none",
                _count(entry.get("sessions"), where + ".sessions"),
                _number(entry.get("server_hours"), where + ".server_hours") or 0.0,
            )
        )
    return tuple(found)


def _month_figures(document: Any, month: str) -> MonthFigures:
    history: dict[str, Mapping[str, Any]] = {}
    for index, entry in enumerate(_list(_get(document, "mau.history"), "mau.history")):
        where = f"mau.history[{index}]"
        if not isinstance(entry, Mapping):
            raise ReportDataError(f"{where} is not an object")
        history[_month(entry.get("month"), where + ".month")] = entry
    mau: Mapping[str, Any]
    if _get(document, "mau.month") == month:
        mau = {"login": _get(document, "mau.login"), "server": _get(document, "mau.server")}
    else:
        mau = history.get(month, {"login": 0, "server": 0})
    values: dict[str, Any] = {
        "mau_login": _count(mau.get("login"), f"mau {month} login"),
        "mau_server": _count(mau.get("server"), f"mau {month} server"),
    }
    new_users = _list(_opt(document, "report.new_users"), "report.new_users")
    for index, entry in enumerate(new_users):
        if isinstance(entry, Mapping) and entry.get("month") == month:
            values["new_users"] = _count(entry.get("count"), f"report.new_users[{index}].count")
    usage = _opt(document, "usage")
    entries = []
    if isinstance(usage, Mapping):
        entries = [usage, *_list(usage.get("history"), "usage.history")]
    for index, entry in enumerate(entries):
        where = "usage" if index == 0 else f"usage.history[{index - 1}]"
        if not isinstance(entry, Mapping) or entry.get("month") != month:
            continue
        values.update(
            sessions=_count(entry.get("sessions"), where + ".sessions"),
            users_with_sessions=_count(entry.get("users_with_sessions", 0), where + ".users"),
            server_hours=_number(entry.get("server_hours"), where + ".server_hours"),
            median_session_minutes=_number(
                entry.get("median_session_minutes"), where + ".median_session_minutes", True
            ),
            p90_session_minutes=_number(
                entry.get("p90_session_minutes"), where + ".p90_session_minutes", True
            ),
            peak_concurrent_servers=_count(
                entry.get("peak_concurrent_servers"), where + ".peak_concurrent_servers"
            ),
        )
        break
    details = _list(_opt(document, "report.months"), "report.months")
    for index, entry in enumerate(details):
        where = f"report.months[{index}]"
        if not isinstance(entry, Mapping) or entry.get("month") != month:
            continue
        day = entry.get("peak_day")
        values.update(
            profiles=_labels(entry.get("profiles"), where + ".profiles"),
            images=_labels(entry.get("images"), where + ".images"),
            peak_day=day if isinstance(day, str) and _DAY.fullmatch(day) else None,
        )
    return MonthFigures(month=month, **values)


def _chart(document: Any, month: str) -> tuple[ChartBar, ...]:
    known: dict[str, tuple[int, int]] = {}
    for index, entry in enumerate(_list(_get(document, "mau.history"), "mau.history")):
        where = f"mau.history[{index}]"
        if isinstance(entry, Mapping):
            known[_month(entry.get("month"), where + ".month")] = (
                _count(entry.get("login"), where + ".login"),
                _count(entry.get("server"), where + ".server"),
            )
    current = _month(_get(document, "mau.month"), "mau.month")
    known[current] = (
        _count(_get(document, "mau.login"), "mau.login"),
        _count(_get(document, "mau.server"), "mau.server"),
    )
    return tuple(
        ChartBar(month_label(m), *known.get(month_label(m), (0, 0)))
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


def _number_text(value: float | None, digits: int = 1) -> str:
    return "\u2013" if value is None else f"{value:,.{digits}f}"


def report_changes(
    report_figures: MonthFigures,
    previous: MonthFigures,
    fees_pair: tuple[str, str, float, float],
) -> tuple[Change, ...]:
    """The month-over-month table: each figure this month, the month before, the change."""
    now, before = report_figures, previous

    def counts(figure: str, current: int, previous: int) -> tuple[str, float, float, str, str]:
        return (figure, current, previous, f"{current:,}", f"{previous:,}")

    rows: list[tuple[str, float, float, str, str]] = [
        counts("MAU (login)", now.mau_login, before.mau_login),
        counts("MAU (server)", now.mau_server, before.mau_server),
        counts("New users", now.new_users, before.new_users),
        counts("Sessions", now.sessions, before.sessions),
        (
            "Server-hours",
            now.server_hours,
            before.server_hours,
            _number_text(now.server_hours),
            _number_text(before.server_hours),
        ),
        counts(
            "Peak concurrent servers", now.peak_concurrent_servers, before.peak_concurrent_servers
        ),
        ("Estimated usage fee", fees_pair[2], fees_pair[3], fees_pair[0], fees_pair[1]),
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


def observations(report: Report) -> tuple[str, ...]:
    """Plain sentences for the check-in, derived from the figures alone."""
    now, before = report.figures, report.previous
    previous_name = MONTH_NAMES[int(before.month[5:]) - 1]
    found: list[str] = []
    if report.month_to_date:
        found.append("Month to date: the figures cover the month so far")
    mau = _rise_or_fall(
        f"MAU ({report.billing_basis})",
        report.billing_mau,
        before.mau_server if report.billing_basis == "server" else before.mau_login,
        previous_name,
    )
    if mau:
        found.append(mau)
    elif report.billing_mau:
        found.append(f"MAU {report.billing_mau:,}, none in {previous_name}")
    else:
        found.append("No monthly active users")
    if report.first_value_achieved:
        days = (
            f", {report.days_to_first_value:g} days after going live"
            if report.days_to_first_value is not None
            else ""
        )
        found.append(f"First value reached on {report.first_value_date}{days}")
    else:
        found.append(
            f"First value not reached, {report.users_toward_first_value} of "
            f"{report.first_value_threshold}"
        )
        if report.check_in_due:
            found.append("The 2-week check-in is due")
    if now.new_users:
        word = "user" if now.new_users == 1 else "users"
        found.append(f"{now.new_users:,} new {word} logged in for the first time")
    sessions = _rise_or_fall("Sessions", now.sessions, before.sessions, previous_name)
    if sessions:
        found.append(sessions)
    if now.peak_concurrent_servers:
        day = f" on {now.peak_day[5:]}" if now.peak_day else ""
        found.append(f"Peak of {now.peak_concurrent_servers:,} concurrent servers{day}")
    elif not now.sessions:
        found.append("No server sessions")
    dormant = sum(
        count
        for key, count in report.last_login_distribution
        if key in ("30-90 days", "over 90 days")
    )
    logged_in = sum(count for _key, count in report.last_login_distribution)
    if logged_in and dormant:
        found.append(f"{dormant:,} of {logged_in:,} users have not logged in for 30 days or more")
    if now.profiles and now.profiles[0].sessions:
        top = now.profiles[0]
        found.append(f"Most used profile: {top.name} ({top.sessions:,} sessions)")
    if report.stale:
        found.append("The service's figures are stale: it has not reached the hub lately")
    return tuple(found)


def build_report(
    document: Any,
    month: str,
    *,
    hub_name: str,
    hub_url: str | None = None,
    fallback_tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
) -> Report:
    """The report of *month* (``YYYY-MM``) from one hub's status *document*.

    The hub's current month (``mau.month``) is marked month to date; a later month is an
    error. Raises ReportDataError naming the first field that is wrong.
    """
    if not isinstance(document, Mapping):
        raise ReportDataError("not a JSON object")
    _month(month, "month")
    current = _month(_get(document, "mau.month"), "mau.month")
    if month > current:
        raise ReportDataError(f"month {month} is after the hub's current month {current}")
    previous_month = month_label(add_months(parse_month(month), -1))
    figures = _month_figures(document, month)
    previous = _month_figures(document, previous_month)
    basis = _get(document, "billing.basis")
    if basis not in ("login", "server"):
        raise ReportDataError("billing.basis is neither login nor server")
    tiers = _tiers(document, fallback_tiers)
    billing_mau = figures.mau_server if basis == "server" else figures.mau_login
    previous_mau = previous.mau_server if basis == "server" else previous.mau_login
    lines = fees.fee_breakdown(billing_mau, tiers)
    total = fees.total(lines)
    previous_fee = fees.usage_fee(previous_mau, tiers)
    currency = plain_text(_get(document, "billing.currency"), 8) or "USD"
    achieved_at = _opt(document, "first_value.achieved_at")
    achieved_date = (
        achieved_at[:10] if isinstance(achieved_at, str) and _DAY.match(achieved_at) else None
    )
    live = _opt(document, "first_value.live_since")
    basis_fv = _get(document, "first_value.basis")
    threshold = _count(_get(document, "first_value.threshold"), "first_value.threshold")
    toward_key = "users_started_server" if basis_fv == "server" else "users_logged_in"
    distribution = _opt(document, "usage.last_login_distribution")
    if not isinstance(distribution, Mapping):
        distribution = {}
    buckets = tuple(
        (label, _count(distribution.get(key, 0), f"usage.last_login_distribution.{key}"))
        for key, label, _low, _high in LAST_LOGIN_BUCKETS
    )
    links: list[ReportLink] = []
    for index, entry in enumerate(_list(_opt(document, "report.links"), "report.links")):
        if not isinstance(entry, Mapping):
            raise ReportDataError(f"report.links[{index}] is not an object")
        url = safe_url(entry.get("url"))
        if url is not None and len(links) < MAX_ITEMS:
            links.append(
                ReportLink(
                    plain_text(entry.get("group"), 32),
                    plain_text(entry.get("label")) or url,
                    url,
                )
            )
    report = Report(
        hub_name=plain_text(hub_name) or "hub",
        hub_url=safe_url(hub_url or _opt(document, "hub.url")) or "",
        month=month,
        month_to_date=month == current,
        generated_at=plain_text(_opt(document, "generated_at"), 40),
        service_version=plain_text(_opt(document, "version"), 40),
        tier=plain_text(_opt(document, "report.tier"), 40),
        support_email=plain_text(_opt(document, "report.support_email")),
        response_time=plain_text(_opt(document, "report.response_time")),
        links=tuple(links),
        cost_dashboard_url=safe_url(_opt(document, "report.cost_dashboard_url")),
        figures=figures,
        previous=previous,
        chart=_chart(document, month),
        first_value_achieved=achieved_date is not None,
        first_value_date=achieved_date,
        days_to_first_value=_number(
            _opt(document, "first_value.days_to_first_value"), "days_to_first_value", True
        ),
        first_value_threshold=threshold,
        first_value_basis="server" if basis_fv == "server" else "login",
        users_toward_first_value=_count(
            _get(document, f"first_value.{toward_key}"), f"first_value.{toward_key}"
        ),
        live_since=live[:10] if isinstance(live, str) and _DAY.match(live) else None,
        check_in_due=_opt(document, "first_value.check_in_due") is True,
        last_login_distribution=buckets,
        billing_basis=basis,
        billing_mau=billing_mau,
        currency=currency,
        fee_lines=lines,
        fee_total=total,
        previous_fee=previous_fee,
        stale=_opt(document, "tracker.stale") is True,
    )
    changes = report_changes(
        figures,
        previous,
        (format_money(total, currency), format_money(previous_fee, currency), total, previous_fee),
    )
    return replace(report, changes=changes, observations=observations(report))


def report_data(report: Report) -> dict[str, Any]:
    """The report as plain JSON data (what the Typst template reads)."""
    figures, previous = report.figures, report.previous

    def month(entry: MonthFigures) -> dict[str, Any]:
        return {
            "month": entry.month,
            "month_name": month_name(entry.month),
            "mau_login": entry.mau_login,
            "mau_server": entry.mau_server,
            "new_users": entry.new_users,
            "sessions": entry.sessions,
            "users_with_sessions": entry.users_with_sessions,
            "server_hours": _number_text(entry.server_hours),
            "median_session_minutes": _number_text(entry.median_session_minutes),
            "p90_session_minutes": _number_text(entry.p90_session_minutes),
            "peak_concurrent_servers": entry.peak_concurrent_servers,
            "peak_day": entry.peak_day,
            "profiles": [
                {"name": p.name, "sessions": p.sessions, "hours": _number_text(p.server_hours)}
                for p in entry.profiles
            ],
            "images": [
                {"name": p.name, "sessions": p.sessions, "hours": _number_text(p.server_hours)}
                for p in entry.images
            ],
        }

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
        "figures": month(figures),
        "previous": month(previous),
        "chart": [
            {"month": bar.month, "short": bar.short, "login": bar.login, "server": bar.server}
            for bar in report.chart
        ],
        "chart_max": max([1, *(max(bar.login, bar.server) for bar in report.chart)]),
        "first_value": {
            "achieved": report.first_value_achieved,
            "date": report.first_value_date,
            "days": (
                None if report.days_to_first_value is None else f"{report.days_to_first_value:g}"
            ),
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
    }
