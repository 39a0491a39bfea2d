"""The status document of ``api/v1/status`` as one typed model: frozen dataclasses, one per
object of the document, each field named and typed as the document has it.

The reader (``read.py``), the writer (``write.py``) and the JSON Schema (``schema.py``)
all follow these classes and the metadata of their fields (bounds, lengths, formats, the
schema version a field arrived in), so the three cannot drift apart. Adding a section is
adding a dataclass here, a field for it on :class:`StatusDocument` (with ``since`` set to
the schema version that brings it) and a line in the writer.

Text in the model is always safe to show: every string field is passed through the one
sanitizer (:func:`~jupyterhub_onboarding.core.safetext.safe_text`) and cut to its length
when an instance is made, whether by the writer or the reader.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from .. import fees
from ..buckets import LAST_LOGIN_BUCKETS, SERVER_MINUTES_BUCKETS, SIZE_BUCKETS
from ..events import MAX_TITLE
from ..rules import BASES, ROLLING_WINDOWS
from ..safetext import safe_text

#: The schema version of the documents this release writes.
SCHEMA_VERSION = 4
#: The version of documents without a ``schema_version`` (releases before it was added).
FIRST_VERSION = 1

#: The largest count a document may hold: far above any hub, far below what a float or a
#: Typst integer cannot represent.
MAX_COUNT = 10**12
#: The largest magnitude of any other number (hours, minutes, days, fees).
MAX_NUMBER = 10.0**15
#: Most entries of a document's maps (the rolling windows, distributions, a checklist).
MAX_KEYS = 64
#: Longest text kept of a label, a link's label, a contact line; longer text is cut.
MAX_TEXT = 200
MAX_URL = 2000
#: Longest profile or image label (the service cuts longer ones when it stores them).
MAX_LABEL = 64
#: Longest group name (JupyterHub's own limit for group names).
MAX_GROUP_NAME = 255

MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

#: An event whose preparation checklist is incomplete this many days or fewer before its
#: start needs attention: the collector's "Needs" names it, as the alert
#: OnboardingEventNotReady fires (docs/prometheus/onboarding-rules.yaml), and the page warns.
PREPARATION_DAYS = 7


class FieldProblem(ValueError):
    """A value the model refuses: *field* names it within its object."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name} {message}")
        self.field = field_name
        self.message = message


# -- how fields are declared ------------------------------------------------------------------


# Each field is ``field(metadata=...)`` with one of these: what the reader checks and the
# JSON Schema says beyond the field's type. ``since`` is the schema version from which a
# field is required: an older document may leave it out (it reads as None).
Meta = dict[str, Any]


def count(doc: str = "", *, minimum: int = 0) -> Meta:
    """A whole number from *minimum* to MAX_COUNT."""
    return {"doc": doc, "minimum": minimum, "maximum": MAX_COUNT}


def measure(doc: str = "", *, signed: bool = False, since: int = FIRST_VERSION) -> Meta:
    """A finite number within MAX_NUMBER (not negative unless *signed*)."""
    return {
        "doc": doc,
        "minimum": -MAX_NUMBER if signed else 0.0,
        "maximum": MAX_NUMBER,
        "since": since,
    }


def text(limit: int, doc: str = "", *, choices: tuple[str, ...] = ()) -> Meta:
    """Text, cut to *limit* characters; one of *choices* when they are given."""
    return {"doc": doc, "max_length": limit, "choices": choices}


def month(doc: str = "") -> Meta:
    """A UTC calendar month, ``YYYY-MM``."""
    return {"doc": doc, "pattern": MONTH_PATTERN, "max_length": 7}


def optional(meta: Meta) -> Meta:
    """*meta* of a field a document may leave out whatever its version (never null)."""
    return {**meta, "optional": True}


def about(doc: str = "", *, since: int = FIRST_VERSION) -> Meta:
    """A field whose type says all (a flag, a time, a date, an object, a list)."""
    return {"doc": doc, "since": since}


def counts(keys: tuple[str, ...], doc: str = "", *, required: bool = True) -> Meta:
    """An object of counts by *keys* (a key left out counts 0 unless *required*)."""
    return {"doc": doc, "keys": keys, "required": required, "minimum": 0, "maximum": MAX_COUNT}


def may_be_left_out(meta: Mapping[str, Any]) -> bool:
    """A field that arrived with a later schema version, or an optional one: None only when
    a document leaves it out, never null."""
    return bool(meta.get("optional")) or meta.get("since", FIRST_VERSION) != FIRST_VERSION


def present_type(hint: Any, meta: Mapping[str, Any]) -> Any:
    """The type a field has in a document that carries it: a field that may be left out
    (:func:`may_be_left_out`) is None only when the document leaves it out, never null."""
    if not may_be_left_out(meta):
        return hint
    (present,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
    return present


class Section:
    """What every object of the model does when it is made: its text made safe and cut to
    its length, then the checks that involve more than one field (:meth:`check`)."""

    def __post_init__(self) -> None:
        for item in fields(self):  # type: ignore[arg-type]
            limit = item.metadata.get("max_length")
            value = getattr(self, item.name)
            if limit is not None and isinstance(value, str):
                # the documented way to set a field of a frozen dataclass while it is made
                object.__setattr__(self, item.name, safe_text(value, limit))
        self.check()

    def check(self) -> None:
        """Raise FieldProblem when fields disagree with each other."""


# -- the sections -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hub(Section):
    url: str | None = field(
        metadata=text(
            MAX_URL, "The hub's public URL (configuration, environment, or the request's host)"
        )
    )


@dataclass(frozen=True)
class FirstValue(Section):
    threshold: int = field(metadata=count("Counted users needed for first value", minimum=1))
    basis: str = field(metadata=text(8, "What counts toward first value", choices=BASES))
    users_logged_in: int = field(
        metadata=count("Counted users that have ever logged in (deleted included)")
    )
    users_started_server: int = field(
        metadata=count("Counted users that have ever started a server")
    )
    achieved: bool = field(metadata=about())
    achieved_at: datetime | None = field(
        metadata=about("When the threshold-th counted user was first seen; never regresses")
    )
    live_since: datetime = field(metadata=about())
    days_to_first_value: float | None = field(metadata=measure())
    check_in_days: int = field(metadata=count())
    check_in_due_at: datetime = field(metadata=about())
    check_in_due: bool = field(
        metadata=about("check_in_days have passed since live_since and first value is not reached")
    )


@dataclass(frozen=True)
class MonthCount(Section):
    """Distinct counted users active in one UTC calendar month, on each basis."""

    month: str = field(metadata=month())
    login: int = field(metadata=count("Distinct counted users with activity in the month (UTC)"))
    server: int = field(
        metadata=count("Distinct counted users with a running server in the month (UTC)")
    )
    closed: bool | None = field(
        default=None,
        metadata=about(
            "True once the month has closed: its figures are then written once and only an "
            "explicit recount changes them; false for a month still counted (to date). "
            "Sent from schema version 3 on",
            since=3,
        ),
    )
    estimated_usage_fee: float | None = field(
        default=None,
        metadata=measure(
            "The month's usage fee on the billing basis: as written when it closed for a "
            "closed month, else from today's tiers. Sent from schema version 3 on",
            since=3,
        ),
    )


@dataclass(frozen=True)
class Mau(Section):
    month: str = field(metadata=month())
    login: int = field(metadata=count())
    server: int = field(metadata=count())
    history: tuple[MonthCount, ...] = field(
        metadata=about("Every month with activity, oldest first (the current month included)")
    )


@dataclass(frozen=True)
class Billing(Section):
    month: str = field(metadata=month())
    basis: str = field(metadata=text(8, choices=BASES))
    mau: int = field(metadata=count())
    estimated_usage_fee: float = field(
        metadata=measure("Graduated usage fee for the month so far; cloud costs not included")
    )
    currency: str = field(metadata=text(8))


@dataclass(frozen=True)
class LabelUsage(Section):
    """Sessions and server-hours of one profile or image."""

    name: str = field(
        metadata=text(
            MAX_LABEL,
            'The profile or image ("none" when none was named, "other" beyond the most used)',
        )
    )
    sessions: int = field(metadata=count())
    server_hours: float = field(metadata=measure())


@dataclass(frozen=True)
class GroupUsage(Section):
    """One JupyterHub group's use of the hub in a month: its members active in the month
    (a user in several groups counts in each)."""

    name: str | None = field(
        metadata=optional(
            text(
                MAX_GROUP_NAME,
                "The group's name, sent only with Onboarding.report_group_names; "
                '"other", sent either way, sums the groups beyond the most active',
            )
        )
    )
    mau_login: int = field(metadata=count("Members active in the month (UTC)"))
    mau_server: int = field(metadata=count("Members with a running server in the month"))
    sessions: int = field(metadata=count("Members' server sessions that started in the month"))
    server_hours: float = field(metadata=measure("Members' server time within the month"))
    median_session_minutes: float | None = field(
        metadata=measure("Median length of the members' ended sessions' parts of the month")
    )


@dataclass(frozen=True)
class UsageMonth(Section):
    """How the hub was used in one UTC month (aggregates only)."""

    month: str = field(metadata=month())
    sessions: int = field(
        metadata=count("Server sessions of counted users that started in the month (UTC)")
    )
    users_with_sessions: int = field(
        metadata=count("Counted users with a server running in the month")
    )
    server_hours: float = field(metadata=measure("Wall time of running servers within the month"))
    median_session_minutes: float | None = field(
        metadata=measure("Median length of the month's parts of ended sessions (null without any)")
    )
    p90_session_minutes: float | None = field(
        metadata=measure("90th percentile of the same lengths")
    )
    peak_concurrent_servers: int = field(
        metadata=count("The most servers running at one poll in the month")
    )


@dataclass(frozen=True)
class Usage(UsageMonth):
    """The current month's usage, its profiles and images, the distributions and history."""

    profiles: tuple[LabelUsage, ...] = field(metadata=about())
    images: tuple[LabelUsage, ...] = field(metadata=about())
    groups: tuple[GroupUsage, ...] | None = field(
        metadata=about(
            "Per JupyterHub group with a member active this month, most active first. Sent "
            "from schema version 4 on",
            since=4,
        )
    )
    last_login_distribution: Mapping[str, int] = field(
        metadata=counts(
            tuple(key for key, *_ in LAST_LOGIN_BUCKETS),
            "Counted users who have logged in, by time since their last login",
            required=False,
        )
    )
    server_minutes_distribution: Mapping[str, int] = field(
        metadata=counts(
            tuple(key for key, *_ in SERVER_MINUTES_BUCKETS),
            "Counted users with a session this month, by their server-minutes in it",
            required=False,
        )
    )
    history: tuple[UsageMonth, ...] = field(
        metadata=about(
            "Every month since the first session, oldest first (the current month included)"
        )
    )


@dataclass(frozen=True)
class Tracker(Section):
    last_success_at: datetime | None = field(metadata=about())
    last_error_at: datetime | None = field(metadata=about())
    last_error: str | None = field(
        metadata=text(MAX_TEXT, "A short reason, never a username or token")
    )
    stale: bool = field(metadata=about("No successful poll within stale_after seconds"))


@dataclass(frozen=True)
class Onboarding(Section):
    """The onboarding meeting and checklist as the hub's admins recorded them."""

    meeting_date: date | None = field(
        metadata=about("The day of the onboarding meeting (null until recorded)")
    )
    hub_access_confirmed: bool | None = field(metadata=about())
    first_value_date: date | None = field(metadata=about("UTC date of first_value.achieved_at"))
    checklist_done: int = field(
        metadata=count("Checklist items verified by the service or ticked off")
    )
    checklist_total: int = field(metadata=count())

    def check(self) -> None:
        if self.checklist_done > self.checklist_total:
            raise FieldProblem("checklist_done", "is more than checklist_total")


@dataclass(frozen=True)
class ReportLink(Section):
    group: str = field(metadata=text(32))
    label: str = field(metadata=text(MAX_TEXT))
    url: str = field(metadata=text(MAX_URL))


@dataclass(frozen=True)
class NewUsers(Section):
    """Counted users who first logged in in one month."""

    month: str = field(metadata=month())
    count: int = field(metadata=count())


@dataclass(frozen=True)
class MonthDetails(Section):
    """One month's profiles, images and groups, and the first day of its peak of servers."""

    month: str = field(metadata=month())
    profiles: tuple[LabelUsage, ...] = field(metadata=about())
    images: tuple[LabelUsage, ...] = field(metadata=about())
    peak_day: date | None = field(metadata=about())
    groups: tuple[GroupUsage, ...] | None = field(
        default=None,
        metadata=about(
            "Per JupyterHub group, as usage.groups. Sent from schema version 4 on", since=4
        ),
    )


@dataclass(frozen=True)
class PreviousToDate(Section):
    """The month before the current one counted only up to the same point of it (day and
    time of day): what a month-to-date report compares with."""

    until: datetime = field(
        metadata=about(
            "The end of the counted part: as far into the previous month as the document's "
            "time is into its own month (at most that month's end)"
        )
    )
    mau: MonthCount = field(
        metadata=about("Distinct counted users active in the previous month up to until's day")
    )
    new_users: int = field(metadata=count("Counted users who first logged in before until"))
    usage: UsageMonth = field(
        metadata=about("Sessions started before until, server time up to it, peaks of its days")
    )


@dataclass(frozen=True)
class ReportSection(Section):
    """What a monthly report needs beyond the other sections (configuration, aggregates)."""

    tier: str = field(metadata=text(40))
    support_email: str = field(metadata=text(MAX_TEXT))
    response_time: str = field(metadata=text(MAX_TEXT))
    cost_dashboard_url: str | None = field(metadata=text(MAX_URL))
    links: tuple[ReportLink, ...] = field(metadata=about())
    fee_tiers: tuple[tuple[int | None, float], ...] = field(
        metadata=about("[upper bound or null, price per user] pairs, ascending, the last open")
    )
    new_users: tuple[NewUsers, ...] = field(
        metadata=about("Months with counted users' first logins")
    )
    months: tuple[MonthDetails, ...] = field(metadata=about())
    previous_to_date: PreviousToDate | None = field(
        metadata=about(
            "The previous month up to the same point, for reports of a month to date", since=3
        )
    )

    def check(self) -> None:
        try:
            fees.validate_tiers(self.fee_tiers)
        except ValueError as error:
            raise FieldProblem("fee_tiers", f"are not fee tiers ({error})") from None


@dataclass(frozen=True)
class UpcomingEvent(Section):
    """A planned event that has not ended (no notes, no contact)."""

    id: int = field(metadata=count())
    title: str = field(metadata=text(MAX_TITLE))
    kind: str = field(metadata=text(64))
    start: datetime = field(metadata=about())
    end: datetime = field(metadata=about())
    expected_attendees: int = field(metadata=count())
    days_until: float = field(
        metadata=measure("Days from the answer to the start (negative once started)", signed=True)
    )
    checklist: Mapping[str, bool] = field(
        metadata=about("Each preparation item ticked or not, and complete: all of them")
    )

    @property
    def checklist_items(self) -> dict[str, bool]:
        """The preparation items (``complete`` is their sum, not an item)."""
        return {key: value for key, value in self.checklist.items() if key != "complete"}

    @property
    def checklist_done(self) -> int:
        return sum(self.checklist_items.values())

    @property
    def checklist_total(self) -> int:
        return len(self.checklist_items)

    @property
    def ready(self) -> bool:
        """Every item of the preparation checklist is ticked."""
        return self.checklist_done == self.checklist_total

    @property
    def unprepared(self) -> bool:
        """Not ready within its preparation lead time (PREPARATION_DAYS)."""
        return not self.ready and self.days_until <= PREPARATION_DAYS


@dataclass(frozen=True)
class Events(Section):
    upcoming: tuple[UpcomingEvent, ...] = field(
        metadata=about("Planned events not yet ended, earliest first")
    )


@dataclass(frozen=True)
class Storage(Section):
    """Home directory storage as last measured (no names): null figures until a first read
    succeeds; the figures stay, with their time, while the source fails."""

    configured: bool = field(
        metadata=about("Onboarding.prometheus_url and home_storage_query are set")
    )
    measured_at: datetime | None = field(
        metadata=about("When Prometheus evaluated the query of the figures (null: never read)")
    )
    total_bytes: int | None = field(metadata=count("Bytes in all home directories"))
    directories: int | None = field(metadata=count("Home directories measured"))
    median_bytes: float | None = field(metadata=measure("Median home directory size"))
    p90_bytes: float | None = field(metadata=measure("90th percentile of the sizes"))
    distribution: Mapping[str, int] = field(
        metadata=counts(
            tuple(key for key, *_ in SIZE_BUCKETS),
            "Home directories by size (decimal units, an edge in the upper bucket)",
            required=False,
        )
    )
    problem: str | None = field(
        metadata=text(MAX_TEXT, "Why the latest read failed (null when it succeeded)")
    )


@dataclass(frozen=True)
class Cost(Section):
    """The current month's cloud cost, passed through without markup (never folded into
    the usage fee)."""

    month: str = field(metadata=month())
    amount: float | None = field(
        metadata=measure("The month's cost so far; null when not available", signed=True)
    )
    currency: str = field(metadata=text(8))
    source: str = field(
        metadata=text(16, "Where the figure comes from", choices=("prometheus", "url", "none"))
    )
    problem: str | None = field(
        metadata=text(MAX_TEXT, "Why the source gave no figure (null when it answered)")
    )


@dataclass(frozen=True)
class StatusDocument(Section):
    """The whole status of one hub. No usernames."""

    schema_version: int = field(
        metadata=count(
            "The document's schema version; documents without it are version 1", minimum=1
        )
    )
    version: str = field(metadata=text(64, "Version of jupyterhub-onboarding"))
    generated_at: datetime = field(metadata=about())
    hub: Hub = field(metadata=about())
    first_value: FirstValue = field(metadata=about())
    generating_value: bool = field(
        metadata=about("At least threshold counted users active in the last 14 days")
    )
    mau: Mau = field(metadata=about())
    active_users: Mapping[str, int] = field(
        metadata=counts(
            tuple(ROLLING_WINDOWS), "Rolling windows of counted users by latest activity (not MAU)"
        )
    )
    billing: Billing = field(metadata=about())
    tracker: Tracker = field(metadata=about())
    usage: Usage | None = field(
        metadata=about("How the hub is used in the current month (UTC)", since=2)
    )
    onboarding: Onboarding | None = field(
        metadata=about(
            "The onboarding meeting and checklist as recorded on the landing page", since=2
        )
    )
    report: ReportSection | None = field(
        metadata=about("What the monthly usage report needs beyond the other sections", since=2)
    )
    events: Events | None = field(metadata=about("The hub's planned events", since=2))
    storage: Storage | None = field(
        metadata=about("Home directory storage, from Prometheus (no names)", since=3)
    )
    cost: Cost | None = field(metadata=about("The current month's cloud cost", since=3))
