"""The collector's report: one row per hub from its status document, and the writers.

Pure: no network, no files, no clock. The collector (``app.py``, ``poll.py``) fetches the status
documents and hands them here; every output format is built from the same rows, so the
terminal table, JSON, CSV and HTML always agree.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jinja2

from ..core import fees
from ..core.clock import isoformat, parse_iso
from ..core.events import MAX_TITLE
from ..core.text import format_money
from ..datafiles import find_data_files_path, template_environment

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
    "estimated_usage_fee": "Usage-fee estimate for the report month on the hub's billing basis.",
    "currency": "Currency of the fee estimate.",
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
    "error": "Why the hub has no figures (empty when it answered).",
}

#: The CSV columns a customer's CRM record takes from the onboarding procedure, in its order.
CRM_COLUMNS = ("hub", "url", "onboarding_date", "first_value_date", "hub_access_confirmed")

#: Why a row needs attention, most urgent first; the report lists rows in this order.
ACTION_ERROR = "error"
ACTION_CHECK_IN = "check-in due"
ACTION_STALE = "tracker stale"
ACTION_ORDER = (ACTION_ERROR, ACTION_CHECK_IN, ACTION_STALE, "")

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
#: The report lists every hub's events starting within this many days before the hubs.
EVENT_WINDOW_DAYS = 14
#: A spreadsheet treats a cell starting with one of these as a formula, also after spaces
#: (a tab or CR, the other formula starts, never reaches a cell: rows replace them).
_FORMULA_START = ("=", "+", "-", "@")

#: Unicode categories no text in a row may hold: controls (Cc: C0, DEL and C1, so terminal
#: escape sequences and line breaks), format characters (Cf: the bidirectional marks,
#: embeddings, overrides and isolates, zero-width characters), lone surrogates (Cs: they
#: cannot be written as UTF-8) and line and paragraph separators (Zl, Zp).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: What each such character becomes: visible, so a reader sees that something was there.
REPLACEMENT = "\ufffd"


def safe_text(text: str) -> str:
    """*text* with every control, format, surrogate or line-separator character replaced.

    Hub names, URLs, versions, currencies and errors all pass through here when a row is
    made, so no report format (terminal, CSV, JSON, HTML) can carry an escape sequence, a
    forged line or text reordered by bidirectional controls.
    """
    if text.isprintable():  # the usual case; every unsafe character is non-printable
        return text
    return "".join(
        REPLACEMENT if unicodedata.category(character) in _UNSAFE_CATEGORIES else character
        for character in text
    )


def _make_safe(instance: Any, names: Iterable[str]) -> None:
    """Pass the text fields *names* of the frozen dataclass *instance* through safe_text."""
    for name in names:
        value = getattr(instance, name)
        if isinstance(value, str):
            # the documented way to set a field of a frozen dataclass while it is made
            object.__setattr__(instance, name, safe_text(value))


class StatusShapeError(ValueError):
    """A status document that does not have the documented fields and types."""


@dataclass(frozen=True)
class Row:
    """One hub in the report. Figures are None when the hub did not answer.

    Its text is made safe when it is made (``safe_text``), so every writer shows the same.
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
    estimated_usage_fee: float | None = None
    currency: str | None = None
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
    error: str | None = None

    def __post_init__(self) -> None:
        _make_safe(
            self,
            (
                "hub",
                "url",
                "currency",
                "service_version",
                "error",
                "next_event_title",
                "next_event_kind",
            ),
        )

    @property
    def answered(self) -> bool:
        return self.error is None

    @property
    def action(self) -> str:
        """Why this hub needs attention ('' when it does not)."""
        if self.error is not None:
            return ACTION_ERROR
        if self.check_in_due:
            return ACTION_CHECK_IN
        if self.tracker_stale:
            return ACTION_STALE
        return ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- reading a status document ------------------------------------------------------------


def _get(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise StatusShapeError(f"missing {path}")
        value = value[part]
    return value


def _count(document: Mapping[str, Any], path: str) -> int:
    value = _get(document, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StatusShapeError(f"{path} is not a count")
    return value


def _number(document: Mapping[str, Any], path: str, optional: bool = False) -> float | None:
    value = _get(document, path)
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise StatusShapeError(f"{path} is not a number")
    return float(value)


def _flag(document: Mapping[str, Any], path: str) -> bool:
    value = _get(document, path)
    if not isinstance(value, bool):
        raise StatusShapeError(f"{path} is not true/false")
    return value


def _text(document: Mapping[str, Any], path: str, limit: int = 64) -> str:
    value = _get(document, path)
    if not isinstance(value, str) or len(value) > limit:
        raise StatusShapeError(f"{path} is not a short string")
    return value


def _month(document: Mapping[str, Any], path: str) -> str:
    value = _get(document, path)
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise StatusShapeError(f"{path} is not a YYYY-MM month")
    return value


def _history(document: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    entries = _get(document, "mau.history")
    if not isinstance(entries, list):
        raise StatusShapeError("mau.history is not a list")
    history = {}
    for index, entry in enumerate(entries):
        path = f"mau.history[{index}]"
        if not isinstance(entry, Mapping):
            raise StatusShapeError(f"{path} is not an object")
        try:
            history[_month(entry, "month")] = (_count(entry, "login"), _count(entry, "server"))
        except StatusShapeError as error:
            raise StatusShapeError(f"{path}.{str(error).removeprefix('missing ')}") from None
    return history


@dataclass(frozen=True)
class UsageMonthFigures:
    """A hub's usage figures of one month (from ``usage`` or ``usage.history``)."""

    sessions: int
    server_hours: float
    median_session_minutes: float | None
    peak_concurrent_servers: int


def _usage_month(entry: Any, path: str) -> tuple[str, UsageMonthFigures]:
    if not isinstance(entry, Mapping):
        raise StatusShapeError(f"{path} is not an object")
    try:
        return _month(entry, "month"), UsageMonthFigures(
            sessions=_count(entry, "sessions"),
            server_hours=_number(entry, "server_hours") or 0.0,
            median_session_minutes=_number(entry, "median_session_minutes", optional=True),
            peak_concurrent_servers=_count(entry, "peak_concurrent_servers"),
        )
    except StatusShapeError as error:
        raise StatusShapeError(f"{path}.{str(error).removeprefix('missing ')}") from None


def _usage(document: Mapping[str, Any]) -> dict[str, UsageMonthFigures] | None:
    """Usage per month; None for a hub whose service predates the usage figures."""
    if "usage" not in document:
        return None
    usage = document["usage"]
    if not isinstance(usage, Mapping):
        raise StatusShapeError("usage is not an object")
    history = usage.get("history", [])
    if not isinstance(history, list):
        raise StatusShapeError("usage.history is not a list")
    months = dict(_usage_month(entry, f"usage.history[{i}]") for i, entry in enumerate(history))
    month, current = _usage_month(usage, "usage")
    months[month] = current
    return months


@dataclass(frozen=True)
class EventFigures:
    """One of a hub's upcoming events (from ``events.upcoming``), checked."""

    id: int
    title: str
    kind: str
    #: ISO 8601 UTC, as the report shows it.
    start: str
    end: str
    expected_attendees: int
    #: Days from the hub's answer to the start (negative while it runs).
    days_until: float
    checklist_done: int
    checklist_total: int

    def __post_init__(self) -> None:
        _make_safe(self, ("title", "kind"))


def _instant(document: Mapping[str, Any], path: str) -> str:
    value = _get(document, path)
    try:
        return isoformat(parse_iso(value)) or ""
    except (TypeError, ValueError):
        raise StatusShapeError(f"{path} is not a timestamp") from None


def _signed(document: Mapping[str, Any], path: str) -> float:
    value = _get(document, path)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StatusShapeError(f"{path} is not a number")
    return float(value)


def _checklist(document: Mapping[str, Any]) -> tuple[int, int]:
    """(ticked, items) of an event's checklist; ``complete`` is a summary, not an item."""
    checklist = _get(document, "checklist")
    if not isinstance(checklist, Mapping) or len(checklist) > 64:
        raise StatusShapeError("checklist is not an object")
    items = {key: value for key, value in checklist.items() if key != "complete"}
    if not all(isinstance(value, bool) for value in items.values()):
        raise StatusShapeError("checklist is not true/false per item")
    return sum(items.values()), len(items)


def _event(entry: Any, path: str) -> EventFigures:
    if not isinstance(entry, Mapping):
        raise StatusShapeError(f"{path} is not an object")
    try:
        done, total = _checklist(entry)
        return EventFigures(
            id=_count(entry, "id"),
            title=_text(entry, "title", limit=MAX_TITLE),
            kind=_text(entry, "kind"),
            start=_instant(entry, "start"),
            end=_instant(entry, "end"),
            expected_attendees=_count(entry, "expected_attendees"),
            days_until=_signed(entry, "days_until"),
            checklist_done=done,
            checklist_total=total,
        )
    except StatusShapeError as error:
        raise StatusShapeError(f"{path}.{str(error).removeprefix('missing ')}") from None


def _events(document: Mapping[str, Any]) -> tuple[EventFigures, ...] | None:
    """Upcoming events, earliest first; None for a hub whose service predates events."""
    if "events" not in document:
        return None
    entries = _get(document, "events.upcoming")
    if not isinstance(entries, list):
        raise StatusShapeError("events.upcoming is not a list")
    found = [_event(entry, f"events.upcoming[{i}]") for i, entry in enumerate(entries)]
    return tuple(sorted(found, key=lambda event: (event.start, event.id)))


@dataclass(frozen=True)
class StatusFigures:
    """The figures the report takes from one status document, checked."""

    version: str
    achieved: bool
    achieved_date: str | None
    days_to_first_value: float | None
    check_in_due: bool
    month: str
    mau_login: int
    mau_server: int
    history: dict[str, tuple[int, int]]
    active_30d: int
    billing_month: str
    billing_basis: str
    estimated_usage_fee: float
    currency: str
    stale: bool
    #: The ``onboarding`` section (hubs running an older service have none: all None).
    meeting_date: str | None = None
    hub_access_confirmed: bool | None = None
    checklist_done: int | None = None
    checklist_total: int | None = None
    #: Usage per month (None: the hub's service has no usage figures).
    usage: dict[str, UsageMonthFigures] | None = None
    #: Upcoming events, earliest first (None: the hub's service has no events).
    events: tuple[EventFigures, ...] | None = None


_DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")


def _onboarding(document: Mapping[str, Any]) -> dict[str, Any]:
    """The ``onboarding`` section's figures, checked; all None when the section is absent."""
    if "onboarding" not in document:
        return {}
    section = _get(document, "onboarding")
    if not isinstance(section, Mapping):
        raise StatusShapeError("onboarding is not an object")
    held = _get(document, "onboarding.meeting_date")
    if held is not None and (not isinstance(held, str) or not _DATE.fullmatch(held)):
        raise StatusShapeError("onboarding.meeting_date is not a YYYY-MM-DD date")
    confirmed = _get(document, "onboarding.hub_access_confirmed")
    if confirmed is not None and not isinstance(confirmed, bool):
        raise StatusShapeError("onboarding.hub_access_confirmed is not true/false")
    done = _count(document, "onboarding.checklist_done")
    total = _count(document, "onboarding.checklist_total")
    if done > total:
        raise StatusShapeError("onboarding.checklist_done is more than checklist_total")
    return {
        "meeting_date": held,
        "hub_access_confirmed": confirmed,
        "checklist_done": done,
        "checklist_total": total,
    }


def read_status(document: Any) -> StatusFigures:
    """Check *document* against the status API's shape and take the report's figures.

    Raises StatusShapeError naming the first field that is missing or of the wrong type.
    """
    if not isinstance(document, Mapping):
        raise StatusShapeError("not a JSON object")
    achieved_at = _get(document, "first_value.achieved_at")
    achieved_date = None
    if achieved_at is not None:
        try:
            achieved_date = parse_iso(achieved_at).date().isoformat()
        except (TypeError, ValueError):
            raise StatusShapeError("first_value.achieved_at is not a timestamp") from None
    basis = _text(document, "billing.basis")
    if basis not in ("login", "server"):
        raise StatusShapeError("billing.basis is neither login nor server")
    return StatusFigures(
        version=_text(document, "version"),
        achieved=_flag(document, "first_value.achieved"),
        achieved_date=achieved_date,
        days_to_first_value=_number(document, "first_value.days_to_first_value", optional=True),
        check_in_due=_flag(document, "first_value.check_in_due"),
        month=_month(document, "mau.month"),
        mau_login=_count(document, "mau.login"),
        mau_server=_count(document, "mau.server"),
        history=_history(document),
        active_30d=_count(document, "active_users.30d"),
        billing_month=_month(document, "billing.month"),
        billing_basis=basis,
        estimated_usage_fee=_number(document, "billing.estimated_usage_fee") or 0.0,
        currency=_text(document, "billing.currency", limit=8),
        stale=_flag(document, "tracker.stale"),
        **_onboarding(document),
        usage=_usage(document),
        events=_events(document),
    )


def usage_figures(figures: StatusFigures, month: str | None) -> UsageMonthFigures | None:
    """The usage of *month* (None: the hub's current month); zeros for a month without
    sessions, None when the hub reports no usage at all."""
    if figures.usage is None:
        return None
    wanted = month or figures.month
    return figures.usage.get(wanted, UsageMonthFigures(0, 0.0, None, 0))


def month_figures(
    figures: StatusFigures,
    month: str | None,
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
) -> tuple[int, int, float]:
    """(MAU login, MAU server, fee) for *month* (``YYYY-MM``; None: the hub's current month).

    The current billing month keeps the hub's own estimate (its own tiers). Any other month
    comes from the hub's history, with the fee recomputed from *tiers* on the hub's billing
    basis; a month missing from the history had no counted activity.
    """
    if month is None or month == figures.month:
        login, server = figures.mau_login, figures.mau_server
    else:
        login, server = figures.history.get(month, (0, 0))
    if month is None or month == figures.billing_month:
        return login, server, figures.estimated_usage_fee
    billable = server if figures.billing_basis == "server" else login
    return login, server, fees.usage_fee(billable, tiers)


def build_row(
    hub: str,
    url: str,
    document: Any = None,
    *,
    reachable: bool = True,
    error: str | None = None,
    month: str | None = None,
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
) -> Row:
    """The report row of one hub: from its status *document*, or its *error*.

    A document of the wrong shape gives an error row; a row never raises.
    """
    if error is not None:
        return Row(hub=hub, url=url, reachable=reachable, error=error)
    try:
        figures = read_status(document)
    except StatusShapeError as shape_error:
        return Row(hub=hub, url=url, reachable=reachable, error=f"wrong JSON shape: {shape_error}")
    login, server, fee = month_figures(figures, month, tiers)
    usage = usage_figures(figures, month)
    upcoming = figures.events[0] if figures.events else None
    return Row(
        hub=hub,
        url=url,
        reachable=reachable,
        first_value_achieved=figures.achieved,
        first_value_date=figures.achieved_date,
        days_to_first_value=figures.days_to_first_value,
        check_in_due=figures.check_in_due,
        mau_login=login,
        mau_server=server,
        active_30d=figures.active_30d,
        sessions=None if usage is None else usage.sessions,
        server_hours=None if usage is None else usage.server_hours,
        median_session_minutes=None if usage is None else usage.median_session_minutes,
        peak_concurrent_servers=None if usage is None else usage.peak_concurrent_servers,
        estimated_usage_fee=fee,
        currency=figures.currency,
        next_event_title=None if upcoming is None else upcoming.title,
        next_event_kind=None if upcoming is None else upcoming.kind,
        next_event_start=None if upcoming is None else upcoming.start,
        next_event_days_until=None if upcoming is None else upcoming.days_until,
        next_event_expected_attendees=None if upcoming is None else upcoming.expected_attendees,
        next_event_checklist_done=None if upcoming is None else upcoming.checklist_done,
        next_event_checklist_total=None if upcoming is None else upcoming.checklist_total,
        tracker_stale=figures.stale,
        service_version=figures.version,
        onboarding_date=figures.meeting_date,
        hub_access_confirmed=figures.hub_access_confirmed,
        checklist_done=figures.checklist_done,
        checklist_total=figures.checklist_total,
    )


@dataclass(frozen=True)
class HubEvent:
    """One event of one hub in the report's list of events ahead."""

    hub: str
    id: int
    title: str
    kind: str
    start: str
    end: str
    expected_attendees: int
    days_until: float
    checklist_done: int
    checklist_total: int

    def __post_init__(self) -> None:
        _make_safe(self, ("hub", "title", "kind"))

    @property
    def ready(self) -> bool:
        """Every item of the preparation checklist is ticked."""
        return self.checklist_done == self.checklist_total

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def hub_events(
    documents: Iterable[tuple[str, Any]], days: float = EVENT_WINDOW_DAYS
) -> list[HubEvent]:
    """Every hub's events starting within *days* of its answer (or running), earliest first.

    *documents* are (hub name, status document or None). A hub without a document, with
    a document of the wrong shape (its row says so) or without events adds nothing.
    """
    found = []
    for hub, document in documents:
        if document is None:
            continue
        try:
            events = read_status(document).events or ()
        except StatusShapeError:
            continue
        for event in events:
            if event.days_until <= days:
                values = {field.name: getattr(event, field.name) for field in fields(event)}
                found.append(HubEvent(hub=hub, **values))
    return sorted(found, key=lambda event: (event.start, event.hub.casefold(), event.id))


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


# --- writers --------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text.lstrip().startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(rows: Sequence[Row]) -> str:
    """One line per hub, the columns of ``COLUMNS``; empty cells for unknown figures.

    Booleans are ``true``/``false``. Text that a spreadsheet would run as a formula
    (starting with ``= + - @``, also after spaces of any kind) is prefixed with ``'``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row.as_dict().values()])
    return out.getvalue()


def to_json(
    rows: Sequence[Row],
    *,
    month: str | None,
    generated_at: str,
    events: Sequence[HubEvent] = (),
) -> str:
    """The report as one JSON document: the events ahead, the rows, their totals, the month
    and the time."""
    document = {
        "generated_at": generated_at,
        "month": month,
        "events": [event.as_dict() for event in events],
        "hubs": [row.as_dict() for row in rows],
        "totals": asdict(totals(rows)),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_fee(fee: float | None, currency: str | None) -> str:
    """``1000, "USD"`` -> ``1,000.00 USD`` (the code, not a symbol: a report mixes currencies)."""
    if fee is None:
        return ""
    return format_money(fee, currency or "", symbol=False)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _count_text(value: int | None) -> str:
    return "" if value is None else str(value)


def _hours_text(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _minutes_text(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


TABLE_HEADINGS = (
    "hub",
    "action",
    "first value",
    "days",
    "check-in due",
    "MAU login",
    "MAU server",
    "30d",
    "sessions",
    "server h",
    "median min",
    "peak",
    "fee",
    "next event",
    "starts (UTC)",
    "in days",
    "expected",
    "checklist",
    "stale",
    "version",
    "error",
)


def _when(instant: str | None) -> str:
    """``2026-12-03T09:00:00Z`` -> ``2026-12-03 09:00``."""
    return "" if not instant else instant[:16].replace("T", " ")


def _days_until_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _checklist_text(done: int | None, total: int | None) -> str:
    return "" if done is None or total is None else f"{done}/{total}"


def _first_value_text(row: Row) -> str:
    if row.first_value_achieved:
        return row.first_value_date or "yes"
    return "" if row.first_value_achieved is None else "not yet"


def _table_cells(row: Row) -> list[str]:
    days = "" if row.days_to_first_value is None else f"{row.days_to_first_value:g}"
    return [
        _shorten(row.hub, 32),
        row.action or "ok",
        _first_value_text(row),
        days,
        _yes_no(row.check_in_due),
        _count_text(row.mau_login),
        _count_text(row.mau_server),
        _count_text(row.active_30d),
        _count_text(row.sessions),
        _hours_text(row.server_hours),
        _minutes_text(row.median_session_minutes),
        _count_text(row.peak_concurrent_servers),
        format_fee(row.estimated_usage_fee, row.currency),
        _shorten(row.next_event_title or "", 24),
        _when(row.next_event_start),
        _days_until_text(row.next_event_days_until),
        _count_text(row.next_event_expected_attendees),
        _checklist_text(row.next_event_checklist_done, row.next_event_checklist_total),
        _yes_no(row.tracker_stale),
        _shorten(row.service_version or "", 12),
        _shorten(row.error or "", 60),
    ]


EVENT_HEADINGS = (
    "hub",
    "event",
    "kind",
    "starts (UTC)",
    "ends",
    "in days",
    "expected",
    "checklist",
)


def _columns(headings: Sequence[str], body: Sequence[Sequence[str]], numeric: set[int]) -> Any:
    """The widths of a plain-text table and a function formatting one of its lines."""
    widths = [
        max(len(heading), *(len(cells[i]) for cells in body)) for i, heading in enumerate(headings)
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return widths, line


def _event_lines(events: Sequence[HubEvent]) -> list[str]:
    title = f"Events in the next {EVENT_WINDOW_DAYS} days"
    if not events:
        return [f"{title}: none", ""]
    body = [
        [
            _shorten(event.hub, 32),
            _shorten(event.title, 40),
            _shorten(event.kind, 12),
            _when(event.start),
            _when(event.end),
            _days_until_text(event.days_until),
            str(event.expected_attendees),
            _checklist_text(event.checklist_done, event.checklist_total)
            + ("" if event.ready else " (not ready)"),
        ]
        for event in events
    ]
    widths, line = _columns(EVENT_HEADINGS, body, {5, 6})
    rule = "  ".join("-" * width for width in widths)
    return [f"{title}:", line(EVENT_HEADINGS), rule, *(line(cells) for cells in body), ""]


def to_table(
    rows: Sequence[Row],
    *,
    month: str | None,
    generated_at: str,
    events: Sequence[HubEvent] = (),
) -> str:
    """A plain-text table for a terminal: the events ahead, then the hubs and a totals line."""
    body = [_table_cells(row) for row in rows]
    summary = totals(rows)
    fee_text = ", ".join(
        format_fee(fee, currency) for currency, fee in summary.estimated_usage_fee.items()
    )
    body.append(
        [
            f"TOTAL ({summary.hubs} hubs)",
            f"{summary.failed} failed",
            f"{summary.first_value_achieved} achieved",
            "",
            str(summary.check_in_due),
            str(summary.mau_login),
            str(summary.mau_server),
            str(summary.active_30d),
            str(summary.sessions),
            _hours_text(summary.server_hours),
            "",
            "",
            fee_text,
            "",
            "",
            "",
            "",
            "",
            str(summary.tracker_stale),
            "",
            "",
        ]
    )
    widths, line = _columns(TABLE_HEADINGS, body, {3, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17})
    title = f"Onboarding report, month {month or 'current'}, generated {generated_at}"
    rule = "  ".join("-" * width for width in widths)
    lines = [title, "", *_event_lines(events), line(TABLE_HEADINGS), rule]
    lines += [line(cells) for cells in body[:-1]]
    lines += [rule, line(body[-1])]
    return "\n".join(lines) + "\n"


@cache
def _html_template() -> jinja2.Template:
    environment = template_environment(
        jinja2.FileSystemLoader(find_data_files_path() / "templates"),
        undefined=jinja2.StrictUndefined,
    )
    environment.globals.update(
        format_fee=format_fee,
        yes_no=_yes_no,
        count=_count_text,
        hours=_hours_text,
        minutes=_minutes_text,
        days=lambda value: "" if value is None else f"{value:g}",
        first_value=_first_value_text,
        when=_when,
        days_until=_days_until_text,
        checklist=_checklist_text,
        tracker=lambda row: {None: "", True: "stale", False: "ok"}[row.tracker_stale],
        link=lambda url: urlsplit(url).scheme in ("http", "https"),
    )
    return environment.get_template("collector-report.html")


def to_html(
    rows: Sequence[Row],
    *,
    month: str | None,
    generated_at: str,
    events: Sequence[HubEvent] = (),
) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external resources)."""
    return _html_template().render(
        rows=rows,
        totals=totals(rows),
        month=month,
        generated_at=generated_at,
        events=events,
        event_window_days=EVENT_WINDOW_DAYS,
    )


WRITERS = {"table": to_table, "json": to_json, "html": to_html}


def render(
    fmt: str,
    rows: Sequence[Row],
    *,
    month: str | None,
    generated_at: str,
    events: Sequence[HubEvent] = (),
) -> str:
    """The report in format *fmt* (``table``, ``json``, ``csv`` or ``html``).

    *events* (``hub_events``) come first in the table, JSON and HTML; the CSV stays one
    line per hub, with the next event in its columns.
    """
    if fmt == "csv":
        return to_csv(rows)
    return WRITERS[fmt](rows, month=month, generated_at=generated_at, events=events)
