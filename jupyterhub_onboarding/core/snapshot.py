"""The snapshot: every figure the status API, metrics and page show, built from stored aggregates.

Building it is pure; serving reads the last one built, so a request never touches the hub
or waits on the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import fees
from .clock import as_utc
from .monthtodate import MonthToDate
from .rules import ROLLING_WINDOWS, add_months, last_months, month_label, month_of
from .status.model import MonthCount as MonthCount  # the document's type, used here too
from .usage import MonthUsage, UsageFigures


@dataclass(frozen=True)
class Aggregates:
    """What the store knows, already counted (no usernames)."""

    users_logged_in: int = 0
    users_started_server: int = 0
    #: When the threshold-th counted user was first seen, on each basis (None: not yet).
    nth_seen_at: dict[str, datetime | None] = field(default_factory=dict)
    #: Persisted first-value times per basis for the configured threshold (never regress).
    milestones: dict[str, datetime] = field(default_factory=dict)
    #: Counted users per month with activity, ascending by month.
    months: tuple[MonthCount, ...] = ()
    #: Counted users whose latest login activity falls in each rolling window.
    rolling: dict[str, int] = field(default_factory=dict)
    #: Counted users with login activity in the generating-value window.
    generating_window_active: int = 0
    #: True once any hub admin has been seen active (counted or not).
    admin_logged_in: bool = False
    #: Hub users known to the service (counted or not, deleted included).
    users_known: int = 0
    #: When a hub admin was first seen active (None: never).
    admin_first_login_at: datetime | None = None
    #: Server sessions per month and the distributions of now (no usernames).
    usage: UsageFigures = field(default_factory=UsageFigures)
    #: Counted users who first logged in in each month (``YYYY-MM``), months with any only.
    new_users: dict[str, int] = field(default_factory=dict)
    #: The previous month up to the same point as now (None until the store counted it).
    previous_to_date: MonthToDate | None = None


@dataclass(frozen=True)
class TrackerState:
    """How the poll loop is doing."""

    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    stale_after: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Settings:
    """The configured definitions a snapshot is computed with."""

    hub_url: str
    live_since: datetime
    first_value_threshold: int = 5
    first_value_basis: str = "login"
    billing_basis: str = "login"
    check_in_days: int = 14
    generating_value_days: int = 14
    fee_tiers: tuple[tuple[int | None, float], ...] = fees.DEFAULT_TIERS
    currency: str = "USD"
    #: Group names leave the admin views (status API, reports, collector, metrics).
    report_group_names: bool = False


@dataclass(frozen=True)
class Snapshot:
    """All figures at one moment. Contains no usernames."""

    generated_at: datetime
    settings: Settings
    users_logged_in: int
    users_started_server: int
    users_known: int
    admin_logged_in: bool
    achieved_at: datetime | None
    days_to_first_value: float | None
    check_in_due: bool
    check_in_due_at: datetime
    generating_value: bool
    month: str
    mau_login: int
    mau_server: int
    history: tuple[MonthCount, ...]
    rolling: dict[str, int]
    billing_mau: int
    fee_lines: tuple[fees.TierLine, ...]
    estimated_usage_fee: float
    tracker: TrackerState
    stale: bool
    admin_first_login_at: datetime | None = None
    usage: UsageFigures = field(default_factory=UsageFigures)
    #: Counted users who first logged in in each month (``YYYY-MM``).
    new_users: dict[str, int] = field(default_factory=dict)
    #: The previous month up to the same point as now (None until the store counted it).
    previous_to_date: MonthToDate | None = None

    @property
    def usage_month(self) -> MonthUsage:
        """The usage figures of the current month."""
        return self.usage.month(self.month)

    @property
    def usage_previous_month(self) -> MonthUsage:
        """The usage figures of the month before the current one."""
        return self.usage.month(month_label(add_months(month_of(self.generated_at), -1)))

    @property
    def achieved(self) -> bool:
        return self.achieved_at is not None

    @property
    def users_toward_first_value(self) -> int:
        if self.settings.first_value_basis == "server":
            return self.users_started_server
        return self.users_logged_in

    def chart_months(self, count: int = 12) -> list[MonthCount]:
        """The last *count* months up to now, zero-filled, oldest first."""
        current = month_of(self.generated_at)
        known = {entry.month: entry for entry in self.history}
        return [
            known.get(month_label(m), MonthCount(month_label(m), 0, 0))
            for m in last_months(current, count)
        ]


def first_value_time(aggregates: Aggregates, basis: str) -> datetime | None:
    """When first value was reached on *basis*: the persisted milestone wins, else the data."""
    persisted = aggregates.milestones.get(basis)
    computed = aggregates.nth_seen_at.get(basis)
    candidates = [as_utc(t) for t in (persisted, computed) if t is not None]
    return min(candidates) if candidates else None


def check_in_date(live_since: datetime, check_in_days: int) -> datetime:
    """When the check-in is due unless first value is reached: *check_in_days* after going
    live. OverflowError when that is past the last date Python represents (year 9999)."""
    return as_utc(live_since) + timedelta(days=check_in_days)


def build_snapshot(
    aggregates: Aggregates, settings: Settings, tracker: TrackerState, now: datetime
) -> Snapshot:
    """Compute every figure from *aggregates* at time *now*."""
    now = as_utc(now)
    live_since = as_utc(settings.live_since)
    achieved_at = first_value_time(aggregates, settings.first_value_basis)
    days_to_first_value = None
    if achieved_at is not None:
        days_to_first_value = round(max(0.0, (achieved_at - live_since).total_seconds()) / 86400, 2)
    check_in_due_at = check_in_date(live_since, settings.check_in_days)
    check_in_due = achieved_at is None and now >= check_in_due_at

    rolling = {period: int(aggregates.rolling.get(period, 0)) for period in ROLLING_WINDOWS}
    generating_value = aggregates.generating_window_active >= settings.first_value_threshold

    month = month_label(month_of(now))
    current = next((m for m in aggregates.months if m.month == month), MonthCount(month, 0, 0))
    billing_mau = current.server if settings.billing_basis == "server" else current.login
    lines = fees.fee_breakdown(billing_mau, settings.fee_tiers)

    stale = tracker.last_success_at is None or (
        now - as_utc(tracker.last_success_at) > tracker.stale_after
    )
    return Snapshot(
        generated_at=now,
        settings=settings,
        users_logged_in=aggregates.users_logged_in,
        users_started_server=aggregates.users_started_server,
        users_known=aggregates.users_known,
        admin_logged_in=aggregates.admin_logged_in,
        achieved_at=achieved_at,
        days_to_first_value=days_to_first_value,
        check_in_due=check_in_due,
        check_in_due_at=check_in_due_at,
        generating_value=generating_value,
        month=month,
        mau_login=current.login,
        mau_server=current.server,
        history=tuple(aggregates.months),
        rolling=rolling,
        billing_mau=billing_mau,
        fee_lines=lines,
        estimated_usage_fee=fees.total(lines),
        tracker=tracker,
        stale=stale,
        admin_first_login_at=aggregates.admin_first_login_at,
        usage=aggregates.usage,
        new_users=dict(aggregates.new_users),
        previous_to_date=aggregates.previous_to_date,
    )
