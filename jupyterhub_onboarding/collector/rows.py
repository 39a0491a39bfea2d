"""The collector's rows: one per hub, from its status document read once into the model.

Pure: no network, no files, no clock. The command (``app.py``) polls the hubs
(``poll.py``), reads each answer here once (:func:`read_answers`) and builds every output
from the result: the rows and the events ahead for the table, JSON, CSV and HTML
(``writers.py``), and the monthly reports (``files.py``) from the same models, so they
always agree. A hub whose document is not a status document is a row with its error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from ..core import fees
from ..core.checkin import cost_line
from ..core.clock import isoformat
from ..core.format import days_away
from ..core.safetext import safe_text
from ..core.status.model import GroupUsage, StatusDocument, UpcomingEvent, UsageMonth
from ..core.status.read import StatusError, read_status
from ..core.status.write import to_json

#: CSV columns, in order, with what each holds (``docs/collector.md`` lists the same).
COLUMNS: dict[str, str] = {
    "hub": "The hub's name from the hubs file.",
    "url": "The hub's URL (from the hubs file).",
    "reachable": "true when the hub sent an HTTP response at all (even an error status).",
    "first_value_achieved": "true once the first-value threshold was reached.",
    "first_value_date": "UTC date (YYYY-MM-DD) of the moment of first value; empty if not yet.",
    "days_to_first_value": "Days from live_since to the moment of first value.",
    "check_in_due": "true when the 2-week check-in is due (first value not reached in time).",
    "mau_login": "Monthly active users, login basis, for the report month.",
    "mau_server": "Monthly active users, server basis, for the report month.",
    "active_30d": "Rolling 30-day active users (not MAU).",
    "sessions": "Server sessions of counted users started in the report month.",
    "server_hours": "Wall time of counted users' running servers in the report month, in hours.",
    "median_session_minutes": "Median length of the report month's ended sessions, in minutes.",
    "peak_concurrent_servers": "The most servers running at one poll in the report month.",
    "groups": "JupyterHub groups with a member active in the report month, as the hub lists "
    "them (the most active, the rest as one 'other'); empty for a hub whose service predates "
    "usage per group.",
    "estimated_usage_fee": "Usage-fee estimate for the report month on the hub's billing basis.",
    "currency": "Currency of the fee estimate.",
    "cloud_cost": "The report month's cloud cost as the hub reads it (passed through without "
    "markup, not in the fee); empty when not available (only the hub's current month).",
    "cloud_cost_currency": "Currency of the cloud cost.",
    "estimated_total": "Usage-fee estimate plus cloud cost, when both are known in one currency.",
    "home_storage_bytes": "Bytes in the hub's home directories as last measured; empty when "
    "not set up or never measured.",
    "home_storage_measured_at": "When those sizes were measured, ISO 8601 UTC.",
    "next_event_title": "Title of the hub's next planned event (exam, workshop, demo).",
    "next_event_kind": "Kind of the next event: exam, workshop, demo or other.",
    "next_event_start": "Start of the next event, ISO 8601 UTC.",
    "next_event_days_until": "Days from the hub's answer to the next event's start.",
    "next_event_expected_attendees": "Attendees the hub's admins expect at the next event.",
    "next_event_checklist_done": "Items of the next event's preparation checklist ticked.",
    "next_event_checklist_total": "Items of the next event's preparation checklist.",
    "tracker_stale": "true when the hub's tracker has not polled successfully lately.",
    "service_version": "Version of the onboarding service on the hub.",
    "onboarding_date": "Date (YYYY-MM-DD) the onboarding meeting was held, as recorded on "
    "the hub's page; empty if not recorded.",
    "hub_access_confirmed": "true/false as recorded with the onboarding meeting; empty if not "
    "recorded.",
    "checklist_done": "Onboarding checklist items done (verified by the service or ticked off).",
    "checklist_total": "Onboarding checklist items in total.",
    "community": "The community (customer) the hub belongs to, from the hubs file.",
    "community_mau_login": "The community's MAU on the login basis across its hubs, each "
    "person counted once when the hubs share a pseudonym key (else the sum).",
    "community_mau_server": "The community's MAU on the server basis, counted the same way.",
    "community_estimated_usage_fee": "The community's usage fee: the graduated tiers applied "
    "once to its total MAU on the billing basis.",
    "community_deduplicated": "true when the community's people were counted once through "
    "keyed pseudonyms; false when its figures are the sum of its hubs'.",
    "error": "Why the hub has no figures (empty when it answered).",
    "unprepared_event": "The first event starting within 7 days whose preparation checklist "
    "is incomplete: title, lead time and checklist; empty when there is none.",
    "needs": "What the hub needs, most urgent first (error, event not ready, check-in due, "
    "tracker stale), separated by '; '; empty when nothing.",
}

#: Row fields the JSON report alone has: per hub, its groups' figures as the hub sent them
#: (the CSV and the history keep their number, ``groups``).
JSON_ONLY = ("group_usage",)

#: The CSV columns a customer's CRM record takes from the onboarding procedure, in its order.
CRM_COLUMNS = ("hub", "url", "onboarding_date", "first_value_date", "hub_access_confirmed")

#: Why a row needs attention, most urgent first; the report lists rows in this order.
ACTION_ERROR = "error"
ACTION_EVENT = "event not ready"
ACTION_CHECK_IN = "check-in due"
ACTION_STALE = "tracker stale"
ACTION_ORDER = (ACTION_ERROR, ACTION_EVENT, ACTION_CHECK_IN, ACTION_STALE, "")

#: The report lists every hub's events starting within this many days before the hubs.
EVENT_WINDOW_DAYS = 14


@dataclass(frozen=True)
class Row:
    """One hub in the report. Figures are None when the hub did not answer.

    Its text is made safe when it is made (``core.safetext``), so every writer shows the
    same: the hub's name and URL from the hubs file and the error as much as the figures.
    """

    hub: str
    url: str
    reachable: bool
    first_value_achieved: bool | None = None
    first_value_date: str | None = None
    days_to_first_value: float | None = None
    check_in_due: bool | None = None
    mau_login: int | None = None
    mau_server: int | None = None
    active_30d: int | None = None
    sessions: int | None = None
    server_hours: float | None = None
    median_session_minutes: float | None = None
    peak_concurrent_servers: int | None = None
    groups: int | None = None
    #: The report month's groups as the hub sent them (named only when it names them).
    group_usage: tuple[GroupUsage, ...] | None = None
    estimated_usage_fee: float | None = None
    currency: str | None = None
    cloud_cost: float | None = None
    cloud_cost_currency: str | None = None
    estimated_total: float | None = None
    home_storage_bytes: int | None = None
    home_storage_measured_at: str | None = None
    next_event_title: str | None = None
    next_event_kind: str | None = None
    next_event_start: str | None = None
    next_event_days_until: float | None = None
    next_event_expected_attendees: int | None = None
    next_event_checklist_done: int | None = None
    next_event_checklist_total: int | None = None
    tracker_stale: bool | None = None
    service_version: str | None = None
    onboarding_date: str | None = None
    hub_access_confirmed: bool | None = None
    checklist_done: int | None = None
    checklist_total: int | None = None
    community: str | None = None
    community_mau_login: int | None = None
    community_mau_server: int | None = None
    community_estimated_usage_fee: float | None = None
    community_deduplicated: bool | None = None
    error: str | None = None
    unprepared_event: str | None = None
    #: Made from the other fields (any value given is replaced).
    needs: str | None = None

    def __post_init__(self) -> None:
        # the documented way to set a field of a frozen dataclass while it is made
        object.__setattr__(self, "needs", "; ".join(self._needs()) or None)
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, str):
                object.__setattr__(self, item.name, safe_text(value))

    @property
    def needs_text(self) -> str:
        """What "Needs" shows: ``error: `` and the error, else what the hub needs, else
        ``ok``."""
        return f"{ACTION_ERROR}: {self.error}" if self.error is not None else (self.needs or "ok")

    def _needs(self) -> list[str]:
        if self.error is not None:
            return [ACTION_ERROR]
        found = []
        if self.unprepared_event:
            found.append(f"{ACTION_EVENT}: {self.unprepared_event}")
        if self.check_in_due:
            found.append(ACTION_CHECK_IN)
        if self.tracker_stale:
            found.append(ACTION_STALE)
        return found

    @property
    def answered(self) -> bool:
        return self.error is None

    @property
    def action(self) -> str:
        """Why this hub needs attention ('' when it does not)."""
        if self.error is not None:
            return ACTION_ERROR
        if self.unprepared_event:
            return ACTION_EVENT
        if self.check_in_due:
            return ACTION_CHECK_IN
        if self.tracker_stale:
            return ACTION_STALE
        return ""

    def as_dict(self) -> dict[str, Any]:
        """The row's columns (``COLUMNS``), in order: a line of the CSV and of the history."""
        return {name: getattr(self, name) for name in COLUMNS}

    def as_json(self) -> dict[str, Any]:
        """The row as the JSON report lists it: every field, the groups' figures as the hub
        sent them (``name`` only when it sent one; null for a hub that sends none)."""
        found = {item.name: getattr(self, item.name) for item in fields(self)}
        groups = self.group_usage
        found["group_usage"] = None if groups is None else [to_json(group) for group in groups]
        return found


def month_figures(
    status: StatusDocument,
    month: str | None,
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
) -> tuple[int, int, float]:
    """(MAU login, MAU server, fee) for *month* (``YYYY-MM``; None: the hub's current month).

    The current billing month keeps the hub's own estimate (its own tiers). Any other month
    comes from the hub's history, with the fee recomputed from *tiers* on the hub's billing
    basis; a month missing from the history had no counted activity.
    """
    mau, billing = status.mau, status.billing
    if month is None or month == mau.month:
        login, server = mau.login, mau.server
    else:
        found = [entry for entry in mau.history if entry.month == month]
        login, server = (found[-1].login, found[-1].server) if found else (0, 0)
        if found and found[-1].closed and found[-1].estimated_usage_fee is not None:
            # a closed month's fee is the one the hub wrote when it closed
            return login, server, found[-1].estimated_usage_fee
    if month is None or month == billing.month:
        return login, server, billing.estimated_usage_fee
    billable = server if billing.basis == "server" else login
    return login, server, fees.usage_fee(billable, tiers)


def usage_figures(status: StatusDocument, month: str | None) -> UsageMonth | None:
    """The usage of *month* (None: the hub's current month); zeros for a month without
    sessions, None when the hub reports no usage at all."""
    usage = status.usage
    if usage is None:
        return None
    wanted = month or status.mau.month
    found = next((entry for entry in (usage, *usage.history) if entry.month == wanted), None)
    return found or UsageMonth(wanted, 0, 0, 0.0, None, None, 0)


def group_figures(status: StatusDocument, month: str | None) -> tuple[GroupUsage, ...] | None:
    """The groups' figures of *month* (None: the hub's current month) as the hub sent them:
    ``usage.groups`` for its current month, its report's month otherwise (none listed: a
    month without activity). None when its document predates usage per group (version 4).
    """
    usage = status.usage
    if usage is None or usage.groups is None:
        return None
    if month is None or month == usage.month:
        return usage.groups
    months = status.report.months if status.report is not None else ()
    found = next((entry.groups for entry in months if entry.month == month), None)
    return found if found is not None else ()


def _event_columns(event: UpcomingEvent | None) -> dict[str, Any]:
    if event is None:
        return {}
    return {
        "next_event_title": event.title,
        "next_event_kind": event.kind,
        "next_event_start": isoformat(event.start),
        "next_event_days_until": event.days_until,
        "next_event_expected_attendees": event.expected_attendees,
        "next_event_checklist_done": event.checklist_done,
        "next_event_checklist_total": event.checklist_total,
    }


def _onboarding_columns(status: StatusDocument) -> dict[str, Any]:
    onboarding = status.onboarding
    if onboarding is None:
        return {}
    return {
        "onboarding_date": onboarding.meeting_date.isoformat() if onboarding.meeting_date else None,
        "hub_access_confirmed": onboarding.hub_access_confirmed,
        "checklist_done": onboarding.checklist_done,
        "checklist_total": onboarding.checklist_total,
    }


def event_line(event: UpcomingEvent) -> str:
    """``Midterm exam (in 6 days, checklist 1/4)``: an event as "Needs" names it."""
    lead = days_away(event.days_until)
    return f"{event.title} ({lead}, checklist {event.checklist_done}/{event.checklist_total})"


def unprepared_event(upcoming: Sequence[UpcomingEvent]) -> str | None:
    """The first of *upcoming* that is not ready within its lead time, as a line."""
    found = next((event for event in upcoming if event.unprepared), None)
    return None if found is None else event_line(found)


def _checkin_columns(status: StatusDocument, month: str, fee: float | None) -> dict[str, Any]:
    """Cloud cost, estimated total and home storage (the hub's current figures)."""
    line = cost_line(status.cost, month, fee or 0.0, status.billing.currency)
    storage = status.storage
    measured = storage.measured_at if storage is not None else None
    return {
        "cloud_cost": line.amount,
        "cloud_cost_currency": line.currency if line.available else None,
        "estimated_total": line.estimated_total if fee is not None else None,
        "home_storage_bytes": storage.total_bytes if storage is not None else None,
        "home_storage_measured_at": isoformat(measured),
    }


def upcoming_events(status: StatusDocument) -> tuple[UpcomingEvent, ...]:
    """The hub's planned events, earliest first (none when its service predates events)."""
    if status.events is None:
        return ()
    return tuple(sorted(status.events.upcoming, key=lambda event: (event.start, event.id)))


def status_row(
    hub: str,
    url: str,
    status: StatusDocument,
    *,
    month: str | None = None,
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
) -> Row:
    """The row of a hub that answered with *status*, for *month* (None: its current one)."""
    login, server, fee = month_figures(status, month, tiers)
    usage = usage_figures(status, month)
    groups = group_figures(status, month)
    upcoming = upcoming_events(status)
    first_value = status.first_value
    return Row(
        hub=hub,
        url=url,
        reachable=True,
        first_value_achieved=first_value.achieved,
        first_value_date=(
            first_value.achieved_at.date().isoformat() if first_value.achieved_at else None
        ),
        days_to_first_value=first_value.days_to_first_value,
        check_in_due=first_value.check_in_due,
        mau_login=login,
        mau_server=server,
        active_30d=status.active_users.get("30d", 0),
        sessions=None if usage is None else usage.sessions,
        server_hours=None if usage is None else usage.server_hours,
        median_session_minutes=None if usage is None else usage.median_session_minutes,
        peak_concurrent_servers=None if usage is None else usage.peak_concurrent_servers,
        groups=None if groups is None else len(groups),
        group_usage=groups,
        estimated_usage_fee=fee,
        currency=status.billing.currency,
        **_checkin_columns(status, month or status.mau.month, fee),
        tracker_stale=status.tracker.stale,
        service_version=status.version,
        unprepared_event=unprepared_event(upcoming),
        **_event_columns(upcoming[0] if upcoming else None),
        **_onboarding_columns(status),
    )


@dataclass(frozen=True)
class HubStatus:
    """One hub's answer, read once: the model of its document (None when it sent none, or
    one that is not a status document) and its row (with the error then)."""

    row: Row
    status: StatusDocument | None = None


def read_answer(
    hub: str,
    url: str,
    document: Any = None,
    *,
    reachable: bool = True,
    error: str | None = None,
    month: str | None = None,
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
) -> HubStatus:
    """Read one hub's *document* (or take its *error*) into its row and model; never raises.

    *hub* and *url* are the hub's entry in the hubs file.
    """
    if error is not None:
        return HubStatus(Row(hub=hub, url=url, reachable=reachable, error=error))
    try:
        status = read_status(document)
    except StatusError as wrong:
        return HubStatus(
            Row(hub=hub, url=url, reachable=reachable, error=f"wrong JSON shape: {wrong}")
        )
    return HubStatus(status_row(hub, url, status, month=month, tiers=tiers), status)


def build_row(hub: str, url: str, document: Any = None, **options: Any) -> Row:
    """The report row of one hub: :func:`read_answer`'s row (from its status *document*, or
    the error in *options*; a document of the wrong shape gives an error row)."""
    return read_answer(hub, url, document, **options).row


@dataclass(frozen=True)
class HubEvent:
    """One event of one hub in the report's list of events ahead."""

    hub: str
    event: UpcomingEvent

    def as_dict(self) -> dict[str, Any]:
        """The event as the collector's JSON lists it (the hub's name first)."""
        event = self.event
        return {
            "hub": self.hub,
            "id": event.id,
            "title": event.title,
            "kind": event.kind,
            "start": isoformat(event.start),
            "end": isoformat(event.end),
            "expected_attendees": event.expected_attendees,
            "days_until": event.days_until,
            "checklist_done": event.checklist_done,
            "checklist_total": event.checklist_total,
        }


def hub_events(hubs: Iterable[HubStatus], days: float = EVENT_WINDOW_DAYS) -> list[HubEvent]:
    """Every hub's events starting within *days* of its answer (or running), earliest first.

    A hub without a readable document (its row says why) or without events adds nothing.
    """
    found = [
        HubEvent(hub.row.hub, event)
        for hub in hubs
        if hub.status is not None
        for event in upcoming_events(hub.status)
        if event.days_until <= days
    ]
    return sorted(found, key=lambda item: (item.event.start, item.hub.casefold(), item.event.id))


def order_rows(rows: Iterable[Row]) -> list[Row]:
    """Hubs needing action first (error, check-in due, stale), then the rest; by name within."""
    return sorted(rows, key=lambda row: (ACTION_ORDER.index(row.action), row.hub.casefold()))


@dataclass(frozen=True)
class Totals:
    hubs: int
    answered: int
    failed: int
    first_value_achieved: int
    check_in_due: int
    tracker_stale: int
    mau_login: int
    mau_server: int
    active_30d: int
    sessions: int
    server_hours: float
    #: Fee estimates summed per currency, e.g. {"USD": 1250.0}.
    estimated_usage_fee: dict[str, float]


def totals(rows: Sequence[Row]) -> Totals:
    """Sums over the hubs that answered, and counts of those needing action."""
    answered = [row for row in rows if row.answered]
    fee_sums: dict[str, float] = {}
    for row in answered:
        currency = row.currency or ""
        fee_sums[currency] = round(fee_sums.get(currency, 0.0) + (row.estimated_usage_fee or 0), 2)
    return Totals(
        hubs=len(rows),
        answered=len(answered),
        failed=len(rows) - len(answered),
        first_value_achieved=sum(1 for row in answered if row.first_value_achieved),
        check_in_due=sum(1 for row in answered if row.check_in_due),
        tracker_stale=sum(1 for row in answered if row.tracker_stale),
        mau_login=sum(row.mau_login or 0 for row in answered),
        mau_server=sum(row.mau_server or 0 for row in answered),
        active_30d=sum(row.active_30d or 0 for row in answered),
        sessions=sum(row.sessions or 0 for row in answered),
        server_hours=round(sum(row.server_hours or 0.0 for row in answered), 3),
        estimated_usage_fee=dict(sorted(fee_sums.items())),
    )
