"""The monthly report as the plain JSON data the Typst template reads (``report.typ``):
every figure already formatted as text through ``core.format``, as the HTML report shows it.
Pure; no Typst markup is ever built from data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from .format import (
    basis_colour,
    days,
    duration,
    hours,
    link_target,
    long_date,
    month_abbreviation,
    month_name,
    number,
)
from .groups import GroupLine
from .monthly import DASH, Report, ReportMonth
from .status.model import LabelUsage


def _labels(entries: Sequence[LabelUsage]) -> list[dict[str, Any]]:
    return [
        {"name": entry.name, "sessions": number(entry.sessions), "hours": hours(entry.server_hours)}
        for entry in entries
    ]


def _groups(lines: Sequence[GroupLine]) -> list[dict[str, Any]]:
    return [
        {
            "label": line.label,
            "mau_login": number(line.figures.mau_login),
            "mau_server": number(line.figures.mau_server),
            "sessions": number(line.figures.sessions),
            "hours": hours(line.figures.server_hours),
            "median_session": duration(line.figures.median_session_minutes, none=DASH),
        }
        for line in lines
    ]


def _month_data(entry: ReportMonth) -> dict[str, Any]:
    usage = entry.usage
    return {
        "month": entry.month,
        "month_name": month_name(entry.month),
        "mau_login": number(entry.mau.login),
        "mau_server": number(entry.mau.server),
        "new_users": number(entry.new_users),
        "sessions": number(usage.sessions),
        "users_with_sessions": number(usage.users_with_sessions),
        "server_hours": hours(usage.server_hours, none=DASH),
        "median_session": duration(usage.median_session_minutes, none=DASH),
        "p90_session": duration(usage.p90_session_minutes, none=DASH),
        "peak_concurrent_servers": number(usage.peak_concurrent_servers),
        "peak_day": long_date(entry.details.peak_day) or None,
        "profiles": _labels(entry.details.profiles),
        "images": _labels(entry.details.images),
    }


def _logo(report: Report) -> dict[str, Any] | None:
    if report.provider_logo is None:
        return None
    kind, body = report.provider_logo
    return {"format": kind, "bytes": list(body)}


def report_data(report: Report) -> dict[str, Any]:
    """The report as plain JSON data (what the Typst template reads): every figure already
    formatted as text, as the HTML report shows it."""
    return {
        "title": report.title,
        "hub_name": report.hub_name,
        "hub_url": report.hub_url,
        "hub_url_text": link_target(report.hub_url) if report.hub_url else "",
        "month": report.month,
        "month_name": report.month_name,
        "month_title": report.month_title,
        "month_to_date": report.month_to_date,
        "month_closed": bool(report.month_closed),
        "closed_fee": None if report.closed_fee is None else report.money(report.closed_fee),
        "compared_with": report.compared_with,
        "generated_at": report.generated_at,
        "service_version": report.service_version,
        "provider_name": report.provider_name,
        "logo": _logo(report),
        "colours": {"login": basis_colour("login"), "server": basis_colour("server")},
        "tier": report.tier,
        "support_email": report.support_email,
        "response_time": report.response_time,
        "links": [
            {"group": x.group, "label": x.label, "url": x.url, "text": link_target(x.url)}
            for x in report.links
        ],
        "cost_dashboard_url": report.cost_dashboard_url,
        "cost_dashboard_text": link_target(report.cost_dashboard_url or ""),
        "figures": _month_data(report.figures),
        "groups": _groups(report.groups),
        "group_names_left_out": report.group_names_left_out,
        "chart": _chart(report),
        "chart_max": max([1, *(max(bar.login, bar.server) for bar in report.chart)]),
        "first_value": {
            "achieved": report.first_value_achieved,
            "date": long_date(_day(report.first_value_date)) or None,
            "days": None
            if report.days_to_first_value is None
            else days(report.days_to_first_value),
            "threshold": number(report.first_value_threshold),
            "basis": report.first_value_basis,
            "toward": number(report.users_toward_first_value),
            "live_since": long_date(_day(report.live_since)) or None,
            "check_in_due": report.check_in_due,
        },
        "last_login": [
            {"label": label, "count": number(count)}
            for label, count in report.last_login_distribution
        ],
        "billing": _billing(report),
        "changes": [
            {"figure": c.figure, "current": c.current, "previous": c.previous, "change": c.change}
            for c in report.changes
        ],
        "observations": list(report.observations),
        "stale": report.stale,
        "checkin": report.checkin.data() if report.checkin else None,
    }


def _chart(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "month": bar.month,
            "short": month_abbreviation(bar.month),
            "login": bar.login,
            "server": bar.server,
            "login_text": number(bar.login),
            "server_text": number(bar.server),
        }
        for bar in report.chart
    ]


def _billing(report: Report) -> dict[str, Any]:
    return {
        "basis": report.billing_basis,
        "mau": number(report.billing_mau),
        "currency": report.currency,
        "lines": [
            {
                "label": line.label,
                "users": number(line.users),
                "price": report.money(line.price),
                "subtotal": report.money(line.subtotal),
            }
            for line in report.fee_lines
        ],
        "total": report.money(report.fee_total),
        # the sum of the tier lines: today's tiers (a closed month's fee stays as written)
        "tiers_total": report.money(_tiers_total(report)),
        "tiers_changed": report.money(_tiers_total(report)) != report.money(report.fee_total),
    }


def _tiers_total(report: Report) -> float:
    return report.fee_total if report.tiers_total is None else report.tiers_total


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
