"""The JSON status document (``api/v1/status``) from a snapshot: pure, no usernames."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .checklist import OnboardingRecord, build_checklist, progress
from .clock import isoformat
from .snapshot import Snapshot
from .usage import LabelUsage, MonthUsage


def _labels(entries: tuple[LabelUsage, ...]) -> list[dict[str, Any]]:
    return [
        {"name": e.name, "sessions": e.sessions, "server_hours": e.server_hours} for e in entries
    ]


def _usage_scalars(usage: MonthUsage) -> dict[str, Any]:
    return {
        "month": usage.month,
        "sessions": usage.sessions,
        "users_with_sessions": usage.users_with_sessions,
        "server_hours": usage.server_hours,
        "median_session_minutes": usage.median_session_minutes,
        "p90_session_minutes": usage.p90_session_minutes,
        "peak_concurrent_servers": usage.peak_concurrent_servers,
    }


def usage_document(snapshot: Snapshot) -> dict[str, Any]:
    """The ``usage`` section: the current month, its profiles and images, the history."""
    current = snapshot.usage_month
    return {
        **_usage_scalars(current),
        "profiles": _labels(current.profiles),
        "images": _labels(current.images),
        "last_login_distribution": dict(snapshot.usage.last_login_distribution),
        "server_minutes_distribution": dict(snapshot.usage.server_minutes_distribution),
        "history": [_usage_scalars(entry) for entry in snapshot.usage.months],
    }


def onboarding_section(snapshot: Snapshot, record: OnboardingRecord | None) -> dict[str, Any]:
    """The meeting and checklist as recorded by administrators (no usernames), with the
    dates a customer's CRM record takes: onboarding (meeting) date and first-value date."""
    record = record or OnboardingRecord()
    done, total = progress(build_checklist(snapshot, (), snapshot.settings.hub_url, record=record))
    held = record.meeting
    return {
        "meeting_date": held.held_on.isoformat() if held else None,
        "hub_access_confirmed": held.hub_access_confirmed if held else None,
        "first_value_date": snapshot.achieved_at.date().isoformat()
        if snapshot.achieved_at
        else None,
        "checklist_done": done,
        "checklist_total": total,
    }


def status_document(
    snapshot: Snapshot, hub_url: str | None = None, record: OnboardingRecord | None = None
) -> dict[str, Any]:
    """The public status of one hub, as documented in ``docs/openapi.yaml``.

    *hub_url* fills in the hub's URL when the configuration does not give one; *record*
    is what administrators recorded of the onboarding meeting.
    """
    settings = snapshot.settings
    return {
        "onboarding": onboarding_section(snapshot, record),
        "version": __version__,
        "generated_at": isoformat(snapshot.generated_at),
        "hub": {"url": settings.hub_url or hub_url or None},
        "first_value": {
            "threshold": settings.first_value_threshold,
            "basis": settings.first_value_basis,
            "users_logged_in": snapshot.users_logged_in,
            "users_started_server": snapshot.users_started_server,
            "achieved": snapshot.achieved,
            "achieved_at": isoformat(snapshot.achieved_at),
            "live_since": isoformat(settings.live_since),
            "days_to_first_value": snapshot.days_to_first_value,
            "check_in_days": settings.check_in_days,
            "check_in_due_at": isoformat(snapshot.check_in_due_at),
            "check_in_due": snapshot.check_in_due,
        },
        "generating_value": snapshot.generating_value,
        "mau": {
            "month": snapshot.month,
            "login": snapshot.mau_login,
            "server": snapshot.mau_server,
            "history": [
                {"month": entry.month, "login": entry.login, "server": entry.server}
                for entry in snapshot.history
            ],
        },
        "active_users": dict(snapshot.rolling),
        "billing": {
            "month": snapshot.month,
            "basis": settings.billing_basis,
            "mau": snapshot.billing_mau,
            "estimated_usage_fee": snapshot.estimated_usage_fee,
            "currency": settings.currency,
        },
        "usage": usage_document(snapshot),
        "tracker": {
            "last_success_at": isoformat(snapshot.tracker.last_success_at),
            "last_error_at": isoformat(snapshot.tracker.last_error_at),
            "last_error": snapshot.tracker.last_error,
            "stale": snapshot.stale,
        },
    }
