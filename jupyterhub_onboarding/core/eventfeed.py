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


def quoted(text: str) -> str:
    """*text* as one YAML double-quoted scalar: quotes and backslashes escaped, and ``<``,
    ``>``, ``&`` and any character that is not printable written as a ``\\u`` (or
    ``\\U``) escape, so a reader that strips HTML first finds no tag or entity to strip,
    and ``: ``, ``#`` or quotes in a title stay inside the string."""
    parts = ['"']
    for ch in text:
        if ch in '"\\':
            parts.append("\\" + ch)
        elif ch in "<>&" or not ch.isprintable():
            code = ord(ch)
            parts.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            parts.append(ch)
    parts.append('"')
    return "".join(parts)


def feed_description(event: Event, lines: Sequence[str], prewarm_minutes: int) -> str:
    """The feed's DESCRIPTION: what the event is, then the scaler lines last.

    Two kinds of placeholder scalers read it. Some read lines such as ``min_capacity: 120``
    one by one (and take only the keys they know); others load the whole DESCRIPTION as
    YAML into ``{pool: count}`` (keeping the integer values). So the whole text is one YAML
    mapping: the human part as quoted strings, never integers, under keys no scaler uses,
    and the configured scaler lines (``key: number``) last.
    """
    head = {
        "event": f"{event.kind.capitalize()}: {event.title}",
        "starts": isoformat(event.start),
        "ends": isoformat(event.end),
        "prewarm": f"from {prewarm_minutes} minutes before the start",
        "expected_attendees": str(event.expected_attendees),
    }
    if event.profile:
        head["profile_or_image"] = event.profile
    text = [f"{key}: {quoted(value)}" for key, value in head.items()]
    return "\n".join(text + scaler_lines(event, lines, prewarm_minutes))


def prewarm_start(event: Event, prewarm_minutes: int) -> datetime:
    return event.start - timedelta(minutes=prewarm_minutes)
