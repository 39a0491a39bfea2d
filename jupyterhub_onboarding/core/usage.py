"""How the hub is used: server sessions inferred from successive polls, and their figures.

Pure: no I/O, no clock of its own. A *session* is one run of one server (default or named)
of one user, from the server's ``started`` to the first poll that no longer sees it (or
sees it with another ``started``: a restart is a new session).

The end of a session is pinned as closely as the hub's data allows, and always lies between
the last poll that saw the server and the poll that no longer sees it:

- a restart ends the old session at the new ``started`` (exact);
- the hub sets the user's ``last_activity`` to the stop time when a server stops, so a user
  seen with a ``last_activity`` after the last sighting ends the session at that time (exact,
  unless the user did something else on the hub after the stop, which can only move it
  later, by at most one poll interval);
- otherwise the session ends at the last poll that saw it running (at most one poll
  interval early).

Figures are per UTC calendar month; a session that crosses a month boundary is split at it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# the buckets and the label type are the status document's; usage figures are made of them
from .buckets import LAST_LOGIN_BUCKETS as LAST_LOGIN_BUCKETS
from .buckets import SERVER_MINUTES_BUCKETS as SERVER_MINUTES_BUCKETS
from .clock import as_utc
from .rules import add_months, month_label
from .safetext import safe_text
from .status.model import MAX_LABEL, GroupUsage
from .status.model import LabelUsage as LabelUsage

#: Longest stored profile or image label; longer values are cut and end with an ellipsis.
MAX_LABEL_LENGTH = MAX_LABEL
#: The label of every value beyond the most used ``max_usage_labels`` ones.
OTHER = "other"
#: The label of sessions whose user_options name no profile (or no image).
NONE_LABEL = "none"

#: user_options keys read for the profile, first present wins (KubeSpawner's slug).
DEFAULT_PROFILE_KEYS: tuple[str, ...] = ("profile",)
#: user_options keys read for the image, first present wins: an image typed in by the user
#: (KubeSpawner's unlisted choice), a profile option named ``image``, a plain ``image`` key.
DEFAULT_IMAGE_KEYS: tuple[str, ...] = (
    "profile-option-image--unlisted-choice",
    "profile-option-image",
    "image",
)

# -- labels ---------------------------------------------------------------------------------


def clean_label(value: Any) -> str | None:
    """A short, printable, bounded label from a user_options value (None when unusable)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())  # one label for "small", " small" and "small\n"
    return safe_text(text, MAX_LABEL_LENGTH) or None


def first_label(options: Mapping[str, Any] | None, keys: Sequence[str]) -> str | None:
    """The cleaned value of the first of *keys* present in *options* with a usable value."""
    if not isinstance(options, Mapping):
        return None
    for key in keys:
        label = clean_label(options.get(key))
        if label is not None:
            return label
    return None


def cap_labels(
    usage: Mapping[str, tuple[int, float]], limit: int, other: str = OTHER
) -> tuple[LabelUsage, ...]:
    """The *limit* most used labels (by sessions, then hours, then name) and "other".

    *usage* maps a label to (sessions, server-hours). Labels beyond the first *limit* are
    summed into one *other* entry (also when a label is itself called "other").
    """
    ranked = sorted(usage.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    kept = [LabelUsage(name, s, round(h, 3)) for name, (s, h) in ranked[:limit] if name != other]
    rest = [(s, h) for name, (s, h) in ranked if name == other] + [
        (s, h) for name, (s, h) in ranked[limit:] if name != other
    ]
    if rest:
        kept.append(LabelUsage(other, sum(s for s, _ in rest), round(sum(h for _, h in rest), 3)))
    return tuple(kept)


# -- statistics -----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The *q*-th percentile (0-100) with linear interpolation between closest ranks.

    The same definition as ``statistics.quantiles(method="inclusive")``: one value is every
    percentile of itself; of two values 10 and 20 the median is 15 and the p90 19. None for
    no values. Values already in order (the figures keep them so) are sorted in linear time.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bucket_index(value: float, buckets: Sequence[tuple[str, str, float, float]]) -> int:
    """Which bucket *value* falls in: lower bound included, upper bound excluded."""
    lowers = [lower for _key, _label, lower, _upper in buckets]
    return max(0, bisect.bisect_right(lowers, value) - 1)


def distribution(
    values: Iterable[float], buckets: Sequence[tuple[str, str, float, float]]
) -> dict[str, int]:
    """Counts of *values* per bucket key, every bucket present."""
    counts = {key: 0 for key, *_ in buckets}
    for value in values:
        counts[buckets[bucket_index(value, buckets)][0]] += 1
    return counts


def bucket_bounds(
    key: str, buckets: Sequence[tuple[str, str, float, float]]
) -> tuple[float, float]:
    """The (lower, upper) bounds of bucket *key*; KeyError for an unknown key."""
    for name, _label, lower, upper in buckets:
        if name == key:
            return lower, upper
    raise KeyError(key)


# -- months ---------------------------------------------------------------------------------


def month_bounds(month: int) -> tuple[datetime, datetime]:
    """The first instant of a ``YYYYMM`` month and of the next one, in UTC."""
    start = datetime(month // 100, month % 100, 1, tzinfo=timezone.utc)
    following = add_months(month, 1)
    return start, datetime(following // 100, following % 100, 1, tzinfo=timezone.utc)


# -- session inference ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunningServer:
    """A running server one poll saw, with what its session records."""

    user: str
    server: str
    started: datetime
    last_activity: datetime | None = None
    profile: str | None = None
    image: str | None = None


@dataclass(frozen=True)
class OpenSession:
    """A stored session without an end yet."""

    id: int
    user: str
    server: str
    started: datetime
    last_activity: datetime | None = None


@dataclass(frozen=True)
class SessionChanges:
    """What one poll changes: sessions to open, to touch and to end."""

    opened: tuple[RunningServer, ...] = ()
    #: (session id, the server's newer last_activity)
    touched: tuple[tuple[int, datetime], ...] = ()
    #: (session id, end)
    ended: tuple[tuple[int, datetime], ...] = ()


def session_end(
    last_seen: datetime,
    now: datetime,
    *,
    server_activity: datetime | None = None,
    user_activity: datetime | None = None,
    restarted_at: datetime | None = None,
) -> datetime:
    """The best estimate of when a session that *last_seen* saw running and *now* did not ended.

    Always within [max(last_seen, server_activity), now]. See the module docstring.
    """
    now = as_utc(now)
    floor = min(max(as_utc(last_seen), as_utc(server_activity or last_seen)), now)
    for pinned in (restarted_at, user_activity):
        if pinned is not None and floor <= as_utc(pinned) <= now:
            return as_utc(pinned)
    return floor


def infer_sessions(
    open_sessions: Iterable[OpenSession],
    running: Iterable[RunningServer],
    *,
    last_seen: datetime | None,
    now: datetime,
    user_activity: Mapping[str, datetime | None] | None = None,
) -> SessionChanges:
    """Compare the stored open sessions with the servers one poll saw running.

    *running* must be every server running at *now* (each poll reads them all); *last_seen*
    is when the previous recorded poll ran (every open session was running then); None when
    no poll was recorded (open sessions then end at their last known activity or start).
    *user_activity* holds the users' ``last_activity`` from this poll. Times are aware.
    """
    now = as_utc(now)
    user_activity = user_activity or {}
    by_key: dict[tuple[str, str], RunningServer] = {}
    for server in running:
        by_key[(server.user, server.server)] = server
    opened: list[RunningServer] = []
    touched: list[tuple[int, datetime]] = []
    ended: list[tuple[int, datetime]] = []
    matched: set[tuple[str, str]] = set()
    for session in open_sessions:
        key = (session.user, session.server)
        current = by_key.get(key)
        # aware datetimes compare as instants, whatever their zone
        if current is not None and current.started == session.started:
            matched.add(key)
            newer = current.last_activity
            if newer is not None and (
                session.last_activity is None or newer > session.last_activity
            ):
                touched.append((session.id, min(as_utc(newer), now)))
            continue
        seen = last_seen if last_seen is not None else session.last_activity or session.started
        end = session_end(
            max(as_utc(seen), as_utc(session.started)),
            now,
            server_activity=session.last_activity,
            user_activity=user_activity.get(session.user),
            restarted_at=current.started if current is not None else None,
        )
        ended.append((session.id, end))
    for key, server in by_key.items():
        if key not in matched:
            opened.append(server)
    return SessionChanges(tuple(opened), tuple(touched), tuple(ended))


# -- monthly figures ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A stored session, as the figures need it (no username)."""

    user_id: int
    started: datetime
    ended: datetime | None
    profile: str | None = None
    image: str | None = None


@dataclass(frozen=True)
class MonthUsage:
    """The usage figures of one UTC month. Contains no usernames."""

    month: str
    #: Sessions that started in the month.
    sessions: int = 0
    #: Counted users with a server running at some time in the month.
    users_with_sessions: int = 0
    #: Wall time of running servers within the month, in hours.
    server_hours: float = 0.0
    #: Of the parts of ended sessions within the month, in minutes (None without any).
    median_session_minutes: float | None = None
    p90_session_minutes: float | None = None
    #: The most servers running at one poll in the month.
    peak_concurrent_servers: int = 0
    #: (YYYY-MM-DD, the most servers running at one poll that day), days with a server only.
    daily_peaks: tuple[tuple[str, int], ...] = ()
    profiles: tuple[LabelUsage, ...] = ()
    images: tuple[LabelUsage, ...] = ()
    #: Per JupyterHub group with a member active in the month (core/groups.py), named.
    groups: tuple[GroupUsage, ...] = ()


#: (sessions started in the month, server-hours) per profile or image label.
LabelTally = dict[str, list[float]]


def month_part(
    record: SessionRecord, start: datetime, end: datetime, now: datetime
) -> tuple[bool, float, datetime] | None:
    """The part of *record* within [start, end): (started in it, seconds, part end), or None
    when it does not overlap. An open session runs until *now*."""
    began = as_utc(record.started)
    finish = max(as_utc(record.ended) if record.ended is not None else as_utc(now), began)
    if began >= end or (began < start and finish <= start):
        return None
    part_end = min(finish, end)
    return start <= began < end, (part_end - max(began, start)).total_seconds(), part_end


def tally_labels(
    tables: tuple[LabelTally, LabelTally], record: SessionRecord, started: bool, seconds: float
) -> None:
    """Add one session's part of a month to the (profiles, images) tallies."""
    for table, label in zip(tables, (record.profile, record.image), strict=True):
        entry = table.setdefault(label or NONE_LABEL, [0, 0.0])
        entry[0] += started
        entry[1] += seconds / 3600.0


def usage_of_month(
    month: int,
    *,
    sessions: int,
    users: int,
    seconds: float,
    lengths: Sequence[float],
    labels: tuple[LabelTally, LabelTally],
    daily_peaks: Mapping[str, int] | None,
    label_limit: int,
) -> MonthUsage:
    """The figures of *month* from its totals; *lengths* are the ended sessions' (minutes)."""
    median, p90 = percentile(lengths, 50), percentile(lengths, 90)
    peaks = {
        day: count
        for day, count in (daily_peaks or {}).items()
        if day.startswith(month_label(month)) and count > 0
    }
    profiles, images = labels
    return MonthUsage(
        month=month_label(month),
        sessions=sessions,
        users_with_sessions=users,
        server_hours=round(seconds / 3600.0, 3),
        median_session_minutes=None if median is None else round(median, 2),
        p90_session_minutes=None if p90 is None else round(p90, 2),
        peak_concurrent_servers=max(peaks.values(), default=0),
        daily_peaks=tuple(sorted(peaks.items())),
        profiles=cap_labels({k: (int(v[0]), v[1]) for k, v in profiles.items()}, label_limit),
        images=cap_labels({k: (int(v[0]), v[1]) for k, v in images.items()}, label_limit),
    )


def month_usage(
    records: Iterable[SessionRecord],
    month: int,
    now: datetime,
    *,
    daily_peaks: Mapping[str, int] | None = None,
    label_limit: int = 20,
) -> MonthUsage:
    """The figures of *month* from the sessions that overlap it; open ones run until *now*."""
    start, end = month_bounds(month)
    sessions = 0
    users: set[int] = set()
    seconds = 0.0
    lengths: list[float] = []
    labels: tuple[LabelTally, LabelTally] = ({}, {})
    for record in records:
        part = month_part(record, start, end, now)
        if part is None:
            continue
        started_here, part_seconds, part_end = part
        sessions += started_here
        users.add(record.user_id)
        seconds += part_seconds
        if record.ended is not None or part_end == end:
            lengths.append(part_seconds / 60.0)
        tally_labels(labels, record, started_here, part_seconds)
    return usage_of_month(
        month,
        sessions=sessions,
        users=len(users),
        seconds=seconds,
        lengths=lengths,
        labels=labels,
        daily_peaks=daily_peaks,
        label_limit=label_limit,
    )


def day_label(value: datetime) -> str:
    """The UTC day of *value* as ``YYYY-MM-DD``."""
    return as_utc(value).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class UsageFigures:
    """Everything the snapshot shows about usage: the months, newest last, and now's values."""

    months: tuple[MonthUsage, ...] = ()
    #: Counted users who have logged in, per LAST_LOGIN_BUCKETS key.
    last_login_distribution: dict[str, int] = field(default_factory=dict)
    #: Counted users with a session in the current month, per SERVER_MINUTES_BUCKETS key.
    server_minutes_distribution: dict[str, int] = field(default_factory=dict)
    #: Servers of counted users running at the last poll.
    running_servers: int = 0

    def month(self, label: str) -> MonthUsage:
        """The figures of month *label* (zeros when nothing ran in it)."""
        for entry in self.months:
            if entry.month == label:
                return entry
        return MonthUsage(label)


@dataclass(frozen=True)
class LabelKeys:
    """Which user_options keys give a session's profile and image."""

    profile: tuple[str, ...] = DEFAULT_PROFILE_KEYS
    image: tuple[str, ...] = DEFAULT_IMAGE_KEYS

    def labels(self, options: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        """(profile, image) of a server's user_options."""
        return first_label(options, self.profile), first_label(options, self.image)


@dataclass(frozen=True, slots=True)
class UserMonth:
    """One user's sessions in a month: started in it, seconds in it, the last end, still open."""

    sessions: int
    seconds: float
    last_end: datetime | None
    open: int


def user_months(
    records: Iterable[SessionRecord], month: int, now: datetime
) -> dict[int, UserMonth]:
    """Per user id, what the per-user table shows for *month* (open sessions run to *now*)."""
    start, end = month_bounds(month)
    found: dict[int, list[Any]] = {}
    for record in records:
        part = month_part(record, start, end, now)
        if part is None:
            continue
        entry = found.setdefault(record.user_id, [0, 0.0, None, 0])
        entry[0] += part[0]
        entry[1] += part[1]
        if record.ended is None:
            entry[3] += 1
        elif entry[2] is None or as_utc(record.ended) > entry[2]:
            entry[2] = as_utc(record.ended)
    return {
        user_id: UserMonth(int(s), round(seconds, 3), last, int(running))
        for user_id, (s, seconds, last, running) in found.items()
    }
