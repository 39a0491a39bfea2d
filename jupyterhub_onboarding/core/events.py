"""Planned events (exams, workshops, demos): validation, time zones, lead time, sizing, actuals.

Pure: no database, no web. Times are aware UTC datetimes; what an admin types is read in the
time zone they pick (``zoneinfo``) and stored in UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .clock import as_utc, isoformat, parse_iso
from .safetext import unsafe_characters

KINDS: tuple[str, ...] = ("exam", "workshop", "demo", "other")
#: Stored statuses; ``done`` is derived: a planned event whose end has passed.
STORED_STATUSES: tuple[str, ...] = ("planned", "cancelled")
STATUSES: tuple[str, ...] = ("planned", "cancelled", "done")

#: The preparation checklist, in the order the provider works through it.
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("resources", "Resource needs confirmed"),
    ("image", "Image updated"),
    ("prewarm", "Pre-warm scheduled"),
    ("support", "Support contact on call"),
)
CHECKLIST_KEYS: tuple[str, ...] = tuple(key for key, _label in CHECKLIST)

MAX_TITLE = 200
MAX_PROFILE = 200
MAX_CONTACT = 200
MAX_NOTES = 4000
MAX_ATTENDEES = 100_000
#: How far ahead an event may be planned.
MAX_AHEAD = timedelta(days=3 * 366)
#: The longest event.
MAX_LENGTH = timedelta(days=14)

#: Why a date-time that a date cannot hold in UTC is refused.
OUT_OF_RANGE = "is out of range: its UTC time is before the year 1 or after the year 9999"
#: What a multi-line field (the notes) may hold of the characters text may not (safetext).
NOTES_ALLOWED = "\n\t"
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


class EventInvalid(ValueError):
    """Input that is not a valid event; *errors* maps each bad field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{key}: {message}" for key, message in self.errors.items()))


@dataclass(frozen=True)
class Actual:
    """What happened in an event's window, from the server sessions of counted users."""

    peak_concurrent_servers: int
    sessions: int
    users: int

    def as_dict(self) -> dict[str, int]:
        return {
            "peak_concurrent_servers": self.peak_concurrent_servers,
            "sessions": self.sessions,
            "users": self.users,
        }


@dataclass(frozen=True)
class EventFields:
    """An event as entered: everything but its id and bookkeeping."""

    title: str
    kind: str
    start: datetime
    end: datetime
    expected_attendees: int
    profile: str = ""
    notes: str = ""
    contact: str = ""
    time_zone: str = "UTC"
    cancelled: bool = False
    checklist: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Event(EventFields):
    id: int = 0
    created_at: datetime | None = None
    actual: Actual | None = None

    def status(self, now: datetime) -> str:
        if self.cancelled:
            return "cancelled"
        return "done" if as_utc(now) >= self.end else "planned"

    @property
    def checklist_complete(self) -> bool:
        return all(key in self.checklist for key in CHECKLIST_KEYS)

    def checklist_state(self) -> dict[str, bool]:
        return {key: key in self.checklist for key in CHECKLIST_KEYS}

    def fields(self) -> EventFields:
        return EventFields(
            **{name: getattr(self, name) for name in EventFields.__dataclass_fields__}
        )


# -- parsing and validation ---------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The time zone called *name* (an IANA name such as ``Europe/Berlin``); ValueError if none."""
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", cleaned):
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """``2027-03-03T09:00`` (as a browser's datetime-local input sends it) in *tz*, as UTC.

    A wall time that does not exist (skipped by a daylight-saving change) is refused; an
    ambiguous one (repeated) is taken at its first occurrence.
    """
    cleaned = (text or "").strip()
    for fmt in _LOCAL_FORMATS:
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        local = naive.replace(tzinfo=tz, fold=0)
        try:
            back = local.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(OUT_OF_RANGE) from None
        if back != naive:
            raise ValueError("that time does not exist in this time zone (clocks change)")
        return local.astimezone(timezone.utc)
    raise ValueError("enter a date and time such as 2027-03-03T09:00")


def to_local(value: datetime, tz_name: str) -> str:
    """*value* as the ``YYYY-MM-DDTHH:MM`` wall time of the zone *tz_name* (UTC if unknown)."""
    try:
        tz: Any = zone(tz_name)
    except ValueError:
        tz = timezone.utc
    return as_utc(value).astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def _text(value: Any, name: str, limit: int, errors: dict[str, str], required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = "must be text"
        return ""
    cleaned = value.strip().replace("\r\n", "\n")
    if required and not cleaned:
        errors[name] = "is required"
    elif len(cleaned) > limit:
        errors[name] = f"must be at most {limit} characters (got {len(cleaned)})"
    elif unsafe_characters(cleaned, allowed=NOTES_ALLOWED if name == "notes" else ""):
        errors[name] = "must not contain control characters or line breaks"
    return cleaned


def _attendees(value: Any, errors: dict[str, str], *, typed: bool = True) -> int:
    """The expected attendees: typed into the form (*typed*, text), or a JSON integer."""
    if isinstance(value, bool):
        errors["expected_attendees"] = "must be a whole number"
        return 0
    if isinstance(value, str) and typed:
        cleaned = value.strip()
        if not re.fullmatch(r"\d{1,7}", cleaned):
            errors["expected_attendees"] = "must be a whole number, such as 120"
            return 0
        value = int(cleaned)
    if not isinstance(value, int):
        errors["expected_attendees"] = "must be a whole number, such as 120"
        return 0
    if not 1 <= value <= MAX_ATTENDEES:
        errors["expected_attendees"] = f"must be between 1 and {MAX_ATTENDEES}"
    return value


def _kind(value: Any, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or value.strip() not in KINDS:
        errors["kind"] = "must be one of " + ", ".join(KINDS)
        return "other"
    return value.strip()


def _checklist(value: Any, errors: dict[str, str], current: frozenset[str]) -> frozenset[str]:
    """A mapping of checklist keys to booleans, applied to *current*."""
    if not isinstance(value, Mapping):
        errors["checklist"] = "must be an object of " + ", ".join(CHECKLIST_KEYS) + " to booleans"
        return current
    ticked = set(current)
    for key, flag in value.items():
        if key not in CHECKLIST_KEYS or not isinstance(flag, bool):
            errors["checklist"] = (
                "must be an object of " + ", ".join(CHECKLIST_KEYS) + " to true or false"
            )
            return current
        if flag:
            ticked.add(key)
        else:
            ticked.discard(key)
    return frozenset(ticked)


def check_times(
    start: datetime,
    end: datetime,
    now: datetime,
    errors: dict[str, str],
    *,
    start_changed: bool = True,
    zone_known: bool = True,
) -> None:
    """End after start, start not in the past (when it is set now), within bounds.

    Every problem is reported at once: a start in the past does not hide an end before it.
    Without a known time zone (*zone_known* false, the times read as UTC) only the order and
    length are checked, which a zone does not change.
    """
    now = as_utc(now)
    start_unreadable = "start" in errors
    if zone_known and not start_unreadable:
        if start_changed and start < now:
            errors["start"] = "must not be in the past"
        elif start > now + MAX_AHEAD:
            errors["start"] = "must be within three years"
    if "end" in errors or start_unreadable:
        return
    if end <= start:
        errors["end"] = "must be after the start"
    elif end - start > MAX_LENGTH:
        errors["end"] = "an event may last at most 14 days"


def parse_form(values: Mapping[str, str], now: datetime) -> EventFields:
    """The landing page's event form (wall times in the picked zone); EventInvalid if bad."""
    errors: dict[str, str] = {}
    title = _text(values.get("title"), "title", MAX_TITLE, errors, required=True)
    kind = _kind(values.get("kind"), errors)
    tz_name = (values.get("time_zone") or "").strip() or "UTC"
    tz: Any = timezone.utc
    try:
        tz = zone(tz_name)
    except ValueError as error:
        errors["time_zone"] = str(error)
    start = end = as_utc(now)
    # with an unknown zone the wall times are still read (as UTC) so that a bad format or an
    # end before the start is reported together with the zone
    for name in ("start", "end"):
        try:
            parsed = parse_local(values.get(name, ""), tz)
        except ValueError as error:
            errors[name] = str(error)
        else:
            if name == "start":
                start = parsed
            else:
                end = parsed
    attendees = _attendees(values.get("expected_attendees", ""), errors)
    profile = _text(values.get("profile"), "profile", MAX_PROFILE, errors, required=False)
    notes = _text(values.get("notes"), "notes", MAX_NOTES, errors, required=False)
    contact = _text(values.get("contact"), "contact", MAX_CONTACT, errors, required=False)
    original = values.get("original_start")
    start_changed = True
    if original and "start" not in errors:
        try:
            start_changed = parse_iso(original) != start
        except (TypeError, ValueError):
            start_changed = True
    check_times(
        start, end, now, errors, start_changed=start_changed, zone_known="time_zone" not in errors
    )
    if errors:
        raise EventInvalid(errors)
    return EventFields(
        title=title,
        kind=kind,
        start=start,
        end=end,
        expected_attendees=attendees,
        profile=profile,
        notes=notes,
        contact=contact,
        time_zone=getattr(tz, "key", "UTC"),
    )


#: Fields of the JSON API an event may be created or changed with.
JSON_FIELDS = frozenset(
    {
        "title",
        "kind",
        "start",
        "end",
        "expected_attendees",
        "profile",
        "notes",
        "contact",
        "time_zone",
        "status",
        "checklist",
    }
)
REQUIRED_JSON = ("title", "kind", "start", "end", "expected_attendees")


def _instant(value: Any, name: str, errors: dict[str, str]) -> datetime | None:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9T:.\-+Zz ]{10,40}", value):
        errors[name] = "must be an ISO 8601 date-time with a UTC offset, e.g. 2027-03-03T08:00:00Z"
        return None
    if not re.search(r"(Z|z|[+\-]\d{2}:?\d{2})$", value.strip()):
        errors[name] = "must carry a UTC offset, e.g. 2027-03-03T08:00:00Z"
        return None
    try:
        return parse_iso(value)
    except OverflowError:
        # e.g. 9999-12-31T23:00:00-14:00, which is in the year 10000 in UTC
        errors[name] = OUT_OF_RANGE
        return None
    except (TypeError, ValueError):
        errors[name] = "must be an ISO 8601 date-time with a UTC offset, e.g. 2027-03-03T08:00:00Z"
        return None


def parse_json(body: Any, now: datetime, existing: Event | None = None) -> EventFields:
    """A JSON object creating an event (every required field) or changing *existing*."""
    if not isinstance(body, Mapping):
        raise EventInvalid({"body": "must be a JSON object"})
    unknown = sorted(str(key) for key in body if key not in JSON_FIELDS)
    if unknown:
        raise EventInvalid({unknown[0][:64]: "is not a field of an event"})
    errors: dict[str, str] = {}
    if existing is None:
        for name in REQUIRED_JSON:
            if name not in body:
                errors[name] = "is required"
    base: EventFields = (
        existing.fields()
        if existing is not None
        else EventFields(
            title="", kind="other", start=as_utc(now), end=as_utc(now), expected_attendees=1
        )
    )
    changes: dict[str, Any] = {}
    if "title" in body:
        changes["title"] = _text(body["title"], "title", MAX_TITLE, errors, required=True)
    if "kind" in body:
        changes["kind"] = _kind(body["kind"], errors)
    for name in ("profile", "contact"):
        if name in body:
            changes[name] = _text(body[name], name, MAX_PROFILE, errors, required=False)
    if "notes" in body:
        changes["notes"] = _text(body["notes"], "notes", MAX_NOTES, errors, required=False)
    if "time_zone" in body:
        try:
            changes["time_zone"] = zone(
                body["time_zone"] if isinstance(body["time_zone"], str) else ""
            ).key
        except ValueError as error:
            errors["time_zone"] = str(error)
    if "expected_attendees" in body:
        # an integer, as the OpenAPI document says: "50" is refused, not converted
        changes["expected_attendees"] = _attendees(body["expected_attendees"], errors, typed=False)
    for name in ("start", "end"):
        if name in body:
            parsed = _instant(body[name], name, errors)
            if parsed is not None:
                changes[name] = parsed
    if "status" in body:
        status = body["status"]
        if status not in STORED_STATUSES:
            errors["status"] = "must be planned or cancelled (done follows from the end)"
        else:
            changes["cancelled"] = status == "cancelled"
    if "checklist" in body:
        changes["checklist"] = _checklist(body["checklist"], errors, base.checklist)
    merged = replace(base, **changes)
    if existing is None or "start" in changes or "end" in changes:
        start_changed = existing is None or merged.start != existing.start
        check_times(merged.start, merged.end, now, errors, start_changed=start_changed)
    if errors:
        raise EventInvalid(errors)
    return merged


# -- what the page, the API and the feed show ---------------------------------------------


def lead_time(start: datetime, now: datetime) -> timedelta:
    return as_utc(start) - as_utc(now)


def days_until(start: datetime, now: datetime) -> float:
    """Days from *now* to *start* (negative once started), to one decimal."""
    return round(lead_time(start, now).total_seconds() / 86400, 1)


def lead_time_text(event: Event, now: datetime) -> str:
    status = event.status(now)
    if status == "cancelled":
        return "cancelled"
    if status == "done":
        return "ended"
    delta = lead_time(event.start, now)
    if delta <= timedelta(0):
        return "running now"
    days = delta.days
    if days >= 2:
        return f"in {days} days"
    hours = math.floor(delta.total_seconds() / 3600)
    if hours >= 1:
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, math.floor(delta.total_seconds() / 60))
    return f"in {minutes} minute{'s' if minutes != 1 else ''}"


def upcoming(events: Iterable[Event], now: datetime, days: float | None = None) -> list[Event]:
    """Planned events not yet ended (within *days* from now if given), earliest first."""
    now = as_utc(now)
    found = [
        event
        for event in events
        if event.status(now) == "planned"
        and (days is None or event.start <= now + timedelta(days=days))
    ]
    return sorted(found, key=lambda event: (event.start, event.id))


def next_event(events: Iterable[Event], now: datetime) -> Event | None:
    """The planned event that starts next (one running now counts until its end)."""
    found = upcoming(events, now)
    return found[0] if found else None


def event_document(event: Event, now: datetime, *, private: bool) -> dict[str, Any]:
    """One event as the JSON API shows it; notes and contact only when *private*."""
    body: dict[str, Any] = {
        "id": event.id,
        "title": event.title,
        "kind": event.kind,
        "start": isoformat(event.start),
        "end": isoformat(event.end),
        "time_zone": event.time_zone,
        "expected_attendees": event.expected_attendees,
        "profile": event.profile,
        "status": event.status(now),
        "days_until": days_until(event.start, now),
        "checklist": {**event.checklist_state(), "complete": event.checklist_complete},
        "actual": None,
    }
    if event.status(now) == "done" and event.actual is not None:
        body["actual"] = event.actual.as_dict()
    if private:
        body["notes"] = event.notes
        body["contact"] = event.contact
    return body


# -- planned against actual ----------------------------------------------------------------


@dataclass(frozen=True)
class FormState:
    """What the page's event form shows: the values typed and the message of each field."""

    values: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    event_id: int | None = None


def form_values(event: Event) -> dict[str, str]:
    """An event as its edit form shows it, in its own time zone."""
    return {
        "title": event.title,
        "kind": event.kind,
        "start": to_local(event.start, event.time_zone),
        "end": to_local(event.end, event.time_zone),
        "time_zone": event.time_zone,
        "expected_attendees": str(event.expected_attendees),
        "profile": event.profile,
        "notes": event.notes,
        "contact": event.contact,
        "original_start": isoformat(event.start) or "",
    }
