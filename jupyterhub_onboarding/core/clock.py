"""Time, behind an injectable clock so month boundaries and check-ins test without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import overload

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the default clock)."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """Return *value* as an aware UTC datetime; naive values are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 timestamp as the hub writes it (``Z`` suffix allowed) into UTC."""
    if not isinstance(text, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(text).__name__}")
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    return as_utc(datetime.fromisoformat(cleaned))


@overload
def isoformat(value: datetime) -> str: ...
@overload
def isoformat(value: None) -> None: ...
@overload
def isoformat(value: datetime | None) -> str | None: ...
def isoformat(value: datetime | None) -> str | None:
    """Format an aware datetime as ISO 8601 UTC with a ``Z`` suffix, or ``None``."""
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


def latest(*times: datetime | None) -> datetime | None:
    """The latest of *times* that are known (as UTC), or None when none is."""
    known = [as_utc(t) for t in times if t is not None]
    return max(known) if known else None
