"""The one writer of the status document: the service's figures into the model, and the
model into the JSON value ``api/v1/status`` sends. Pure, no usernames.

The status handler builds the whole document here, every section included; the admin
page builds its monthly report from the same model (``build_status``), so the page and the
collector, which reads the JSON back (``read.py``), see the same figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from ... import __version__
from .. import fees
from ..buckets import LAST_LOGIN_BUCKETS, SERVER_MINUTES_BUCKETS, SIZE_BUCKETS
from ..checklist import OnboardingRecord, build_checklist, progress
from ..clock import as_utc, isoformat
from ..cost import SOURCE_NONE, CostFigures
from ..events import Event, days_until, upcoming
from ..links import Link
from ..monthtodate import empty_month_to_date
from ..snapshot import Snapshot
from ..storage import StorageState
from ..usage import OTHER, MonthUsage
from .model import (
    SCHEMA_VERSION,
    Billing,
    Cost,
    Events,
    FirstValue,
    GroupUsage,
    Hub,
    Mau,
    MonthCount,
    MonthDetails,
    NewUsers,
    Onboarding,
    PreviousToDate,
    ReportLink,
    ReportSection,
    StatusDocument,
    Storage,
    Tracker,
    UpcomingEvent,
    Usage,
    UsageMonth,
    may_be_left_out,
)

#: Most profiles and images the ``report`` section lists per month.
MAX_REPORT_LABELS = 25


def build_status(
    snapshot: Snapshot,
    *,
    record: OnboardingRecord,
    report: ReportSection,
    events: Sequence[Event],
    hub_url: str | None = None,
    storage: Storage | None = None,
    cost: Cost | None = None,
) -> StatusDocument:
    """The whole status of one hub at the snapshot's time, as documented in
    ``docs/status.schema.json``.

    *hub_url* fills in the hub's URL when the configuration does not give one; *record* is
    what administrators recorded of the onboarding meeting; *report* is the section built by
    :func:`report_section`; *events* are every stored event (the planned ones are listed);
    *storage* and *cost* are built by :func:`storage_section` and :func:`cost_section`
    (without them: storage not configured, cost not available).
    """
    return StatusDocument(
        schema_version=SCHEMA_VERSION,
        version=__version__,
        generated_at=snapshot.generated_at,
        hub=Hub(url=snapshot.settings.hub_url or hub_url or None),
        first_value=first_value_section(snapshot),
        generating_value=snapshot.generating_value,
        mau=mau_section(snapshot),
        active_users=dict(snapshot.rolling),
        billing=billing_section(snapshot),
        tracker=Tracker(
            last_success_at=snapshot.tracker.last_success_at,
            last_error_at=snapshot.tracker.last_error_at,
            last_error=snapshot.tracker.last_error,
            stale=snapshot.stale,
        ),
        usage=usage_section(snapshot),
        onboarding=onboarding_section(snapshot, record),
        report=report,
        events=events_section(events, snapshot.generated_at),
        storage=storage or storage_section(None, configured=False),
        cost=cost or cost_section(None, month=snapshot.month, currency=snapshot.settings.currency),
    )


def first_value_section(snapshot: Snapshot) -> FirstValue:
    """Progress to first value, when it was reached and the check-in."""
    settings = snapshot.settings
    return FirstValue(
        threshold=settings.first_value_threshold,
        basis=settings.first_value_basis,
        users_logged_in=snapshot.users_logged_in,
        users_started_server=snapshot.users_started_server,
        achieved=snapshot.achieved,
        achieved_at=snapshot.achieved_at,
        live_since=as_utc(settings.live_since),
        days_to_first_value=snapshot.days_to_first_value,
        check_in_days=settings.check_in_days,
        check_in_due_at=snapshot.check_in_due_at,
        check_in_due=snapshot.check_in_due,
    )


def mau_section(snapshot: Snapshot) -> Mau:
    """This month's MAU on both bases and every month's."""
    return Mau(
        month=snapshot.month,
        login=snapshot.mau_login,
        server=snapshot.mau_server,
        history=tuple(_history_entry(entry, snapshot) for entry in snapshot.history),
    )


def _history_entry(entry: MonthCount, snapshot: Snapshot) -> MonthCount:
    """A month of the MAU history: a closed month as written when it closed, any other
    counted to date with its fee from today's tiers."""
    if entry.closed and entry.estimated_usage_fee is not None:
        return entry
    settings = snapshot.settings
    billable = entry.server if settings.billing_basis == "server" else entry.login
    fee = fees.usage_fee(billable, settings.fee_tiers)
    return dataclasses.replace(entry, closed=False, estimated_usage_fee=fee)


def billing_section(snapshot: Snapshot) -> Billing:
    """This month's billing MAU and usage-fee estimate."""
    settings = snapshot.settings
    return Billing(
        month=snapshot.month,
        basis=settings.billing_basis,
        mau=snapshot.billing_mau,
        estimated_usage_fee=snapshot.estimated_usage_fee,
        currency=settings.currency,
    )


def _usage_month(entry: MonthUsage) -> UsageMonth:
    return UsageMonth(
        month=entry.month,
        sessions=entry.sessions,
        users_with_sessions=entry.users_with_sessions,
        server_hours=entry.server_hours,
        median_session_minutes=entry.median_session_minutes,
        p90_session_minutes=entry.p90_session_minutes,
        peak_concurrent_servers=entry.peak_concurrent_servers,
    )


def usage_section(snapshot: Snapshot) -> Usage:
    """The current month's usage, its profiles and images, the distributions, the history."""
    current = _usage_month(snapshot.usage_month)
    return Usage(
        **{item.name: getattr(current, item.name) for item in dataclasses.fields(UsageMonth)},
        profiles=snapshot.usage_month.profiles,
        images=snapshot.usage_month.images,
        groups=shown_groups(snapshot.usage_month.groups, snapshot.settings.report_group_names),
        last_login_distribution=_every_bucket(
            snapshot.usage.last_login_distribution, LAST_LOGIN_BUCKETS
        ),
        server_minutes_distribution=_every_bucket(
            snapshot.usage.server_minutes_distribution, SERVER_MINUTES_BUCKETS
        ),
        history=tuple(_usage_month(entry) for entry in snapshot.usage.months),
    )


def shown_groups(groups: Sequence[GroupUsage], names: bool) -> tuple[GroupUsage, ...]:
    """The groups as they leave the admin views: their names only when *names* is set
    (``Onboarding.report_group_names``), else the figures of each, unnamed. The "other"
    entry keeps its label either way: it names no group (it sums those beyond the most
    active), and without it a report could not tell it from a group."""
    if names:
        return tuple(groups)
    return tuple(
        dataclasses.replace(group, name=OTHER if group.name == OTHER else None) for group in groups
    )


def _every_bucket(
    counts: Mapping[str, int], buckets: Sequence[tuple[str, str, float, float]]
) -> dict[str, int]:
    """*counts* with every bucket's key (0 before the figures are first read)."""
    return {key: counts.get(key, 0) for key, *_ in buckets}


def onboarding_section(snapshot: Snapshot, record: OnboardingRecord | None) -> Onboarding:
    """The meeting and checklist as recorded by administrators (no usernames), with the
    dates a customer's CRM record takes: onboarding (meeting) date and first-value date."""
    record = record or OnboardingRecord()
    done, total = progress(build_checklist(snapshot, (), snapshot.settings.hub_url, record=record))
    held = record.meeting
    return Onboarding(
        meeting_date=held.held_on if held else None,
        hub_access_confirmed=held.hub_access_confirmed if held else None,
        first_value_date=snapshot.achieved_at.date() if snapshot.achieved_at else None,
        checklist_done=done,
        checklist_total=total,
    )


def report_section(
    snapshot: Snapshot,
    links: Sequence[Link],
    *,
    tier: str,
    support_email: str,
    response_time: str,
) -> ReportSection:
    """What a monthly report needs beyond the other sections: the configured links, tier and
    support, the fee tiers, new users per month and each month's profiles, images and peak
    day. Aggregates and configuration only, no usernames."""
    by_key = {link.key: link for link in links}
    cost = by_key.get("grafana_cost_url")
    return ReportSection(
        tier=tier,
        support_email=support_email,
        response_time=response_time,
        cost_dashboard_url=cost.url if cost is not None else None,
        links=tuple(ReportLink(link.group, link.label, link.url) for link in links if link.url),
        fee_tiers=tuple(snapshot.settings.fee_tiers),
        new_users=tuple(
            NewUsers(month, count) for month, count in sorted(snapshot.new_users.items())
        ),
        months=tuple(
            MonthDetails(
                month=entry.month,
                profiles=entry.profiles[:MAX_REPORT_LABELS],
                images=entry.images[:MAX_REPORT_LABELS],
                peak_day=_peak_day(entry),
                groups=shown_groups(entry.groups, snapshot.settings.report_group_names),
            )
            for entry in snapshot.usage.months
        ),
        previous_to_date=previous_to_date_section(snapshot),
    )


def previous_to_date_section(snapshot: Snapshot) -> PreviousToDate:
    """The previous month up to the same point as the snapshot's time (nothing counted
    before the store first counted it)."""
    found = snapshot.previous_to_date or empty_month_to_date(snapshot.generated_at)
    return PreviousToDate(
        until=found.until,
        mau=_history_entry(found.mau, snapshot),  # counted to date: never closed
        new_users=found.new_users,
        usage=_usage_month(found.usage),
    )


def _peak_day(entry: MonthUsage) -> date | None:
    """The first day of the month's peak of concurrent servers (None without servers)."""
    best = None
    for day, count in entry.daily_peaks:
        if count > 0 and (best is None or count > best[1]):
            best = (day, count)
    return None if best is None else date.fromisoformat(best[0])


def events_section(events: Sequence[Event], now: datetime) -> Events:
    """The planned events not yet ended, earliest first: no notes, no contacts."""
    return Events(
        upcoming=tuple(
            UpcomingEvent(
                id=event.id,
                title=event.title,
                kind=event.kind,
                start=event.start,
                end=event.end,
                expected_attendees=event.expected_attendees,
                days_until=days_until(event.start, now),
                checklist={**event.checklist_state(), "complete": event.checklist_complete},
            )
            for event in upcoming(events, now)
        )
    )


def storage_section(state: StorageState | None, *, configured: bool) -> Storage:
    """The last home directory figures without names, and the latest read's problem."""
    figures = state.figures if state is not None else None
    problem = state.problem.message() if state is not None and state.problem else None
    if figures is None:
        return Storage(configured, None, None, None, None, None, {}, problem)
    summary = figures.summary
    return Storage(
        configured=configured,
        measured_at=summary.measured_at,
        total_bytes=summary.total_bytes,
        directories=summary.directories,
        median_bytes=summary.median_bytes,
        p90_bytes=summary.p90_bytes,
        distribution=_every_bucket(summary.distribution, SIZE_BUCKETS),
        problem=problem,
    )


def cost_section(
    figures: CostFigures | None, *, month: str, currency: str, source: str = SOURCE_NONE
) -> Cost:
    """The month's cloud cost as the cost reader gave it (*figures*), or "not available"
    from *source* while none was read."""
    if figures is None:
        problem = None if source == SOURCE_NONE else "not read yet"
        return Cost(month=month, amount=None, currency=currency, source=source, problem=problem)
    return Cost(
        month=figures.month,
        amount=figures.amount,
        currency=figures.currency,
        source=figures.source,
        problem=figures.problem,
    )


def to_json(value: Any) -> Any:
    """The model (or any part of it) as the JSON value the API sends: times as ISO 8601 UTC
    with ``Z``, dates as ``YYYY-MM-DD``. A section an older document did not have (None in
    a field that arrived with a later schema version) is left out, as that document did, and
    so is an optional field without a value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: to_json(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if getattr(value, item.name) is not None or not may_be_left_out(item.metadata)
        }
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [to_json(entry) for entry in value]
    if isinstance(value, Mapping):
        return {key: to_json(entry) for key, entry in value.items()}
    return value
