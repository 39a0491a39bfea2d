"""The calendar feed's text for an event: its DESCRIPTION and the lines placeholder scalers
read at its end, and when its entry starts (the pre-warm).

Pure: no web, no calendar library (the service builds the feed from these).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from datetime import datetime, timedelta

from .clock import isoformat
from .events import Event

#: Placeholders a scaler line may use.
SCALER_FIELDS: tuple[str, ...] = ("expected_attendees", "kind", "prewarm_minutes")
DEFAULT_SCALER_LINES: tuple[str, ...] = ("min_capacity: {expected_attendees}",)


def check_scaler_lines(lines: Sequence[str]) -> list[str]:
    """The configured scaler lines, each a format string of SCALER_FIELDS; ValueError if not."""
    checked = []
    for line in lines:
        if not isinstance(line, str) or "\n" in line or "\r" in line:
            raise ValueError(f"a scaler line must be one line of text, got {line!r}")
        try:
            names = [name for _text, name, _spec, _conv in string.Formatter().parse(line)]
        except ValueError as error:
            raise ValueError(f"{line!r} is not a valid format string: {error}") from None
        for name in names:
            if name is not None and name not in SCALER_FIELDS:
                raise ValueError(
                    f"{line!r} uses {{{name}}}; the fields are "
                    + ", ".join("{" + f + "}" for f in SCALER_FIELDS)
                )
        checked.append(line)
    return checked


def scaler_lines(event: Event, lines: Sequence[str], prewarm_minutes: int) -> list[str]:
    values = {
        "expected_attendees": event.expected_attendees,
        "kind": event.kind,
        "prewarm_minutes": prewarm_minutes,
    }
    return [line.format_map(values) for line in lines]


def feed_description(event: Event, lines: Sequence[str], prewarm_minutes: int) -> str:
    """The feed's DESCRIPTION: what the event is, then the scaler lines last."""
    head = [
        f"{event.kind.capitalize()}: {event.title}",
        f"Starts {isoformat(event.start)}, ends {isoformat(event.end)} "
        f"(pre-warm from {prewarm_minutes} minutes before).",
        f"Expected attendees: {event.expected_attendees}",
    ]
    if event.profile:
        head.append(f"Profile or image: {event.profile}")
    return "\n".join(head + scaler_lines(event, lines, prewarm_minutes))


def prewarm_start(event: Event, prewarm_minutes: int) -> datetime:
    return event.start - timedelta(minutes=prewarm_minutes)
