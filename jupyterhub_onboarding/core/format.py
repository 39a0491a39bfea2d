"""How figures and dates read, in one place: the page, the summary email, the monthly report
and the collector's outputs all format through here.

Each function takes None for a figure that is unknown and gives *none* for it (an empty
string unless the output wants a mark such as a dash).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from urllib.parse import unquote, urlsplit

from .clock import as_utc
from .safetext import safe_text

MINUS = "\u2212"

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

#: What each basis means, as the end of "N users have ...".
BASIS_VERBS = {"login": "logged in", "server": "started a server"}


#: One colour per basis in every chart (page, report HTML and PDF): readable as a bar on a
#: white and on a dark background.
BASIS_COLOURS = {"login": "#0d6efd", "server": "#20c997"}


def basis_colour(basis: str) -> str:
    """The chart colour of *basis* (``login`` or ``server``), e.g. ``#0d6efd``."""
    return BASIS_COLOURS.get(basis, BASIS_COLOURS["login"])


def basis_verb(basis: str) -> str:
    """``login`` -> ``logged in``; ``server`` -> ``started a server``."""
    return BASIS_VERBS.get(basis, BASIS_VERBS["login"])


def month_name(label: str, short: bool = False) -> str:
    """``2026-11`` -> ``November 2026`` (``Nov 2026`` when *short*)."""
    year, month = label.split("-")
    name = MONTH_NAMES[int(month) - 1]
    return f"{name[:3] if short else name} {year}"


def month_title(label: str, to_date: bool = False) -> str:
    """The one title form of a month's figures: ``December 2026``, or
    ``December 2026, to date`` while the month is not over."""
    return f"{month_name(label)}, to date" if to_date else month_name(label)


def month_abbreviation(label: str) -> str:
    """``2026-11`` -> ``Nov``."""
    return MONTH_NAMES[int(label[5:]) - 1][:3]


def number(value: float | None, none: str = "") -> str:
    """A count with thousands separators: ``1234`` -> ``1,234``."""
    return none if value is None else f"{value:,}"


def decimal(value: float | None, digits: int = 1, none: str = "") -> str:
    """Hours, minutes and other measures: ``1234.56`` -> ``1,234.6`` (*digits* decimals)."""
    return none if value is None else f"{value:,.{digits}f}"


def hours(value: float | None, none: str = "") -> str:
    """Server-hours and other hour totals, one decimal everywhere: ``1234.56`` -> ``1,234.6``."""
    return decimal(value, 1, none)


def days(value: float | None, none: str = "") -> str:
    """The one rule for a number of days: rounded to one decimal, a whole number without
    its ``.0``: ``3.0`` -> ``3``, ``0.96`` -> ``1``, ``4.38`` -> ``4.4``."""
    if value is None:
        return none
    rounded = round(value, 1)
    return f"{rounded:,.0f}" if rounded == int(rounded) else f"{rounded:,.1f}"


def whole_days(value: float) -> int:
    """Whole days of a lead time (the days that have fully to pass): ``5.9`` -> ``5``."""
    return math.floor(value)


def days_away(value: float | None, none: str = "") -> str:
    """A lead time given in days as the page, the collector and the email say it:
    ``6.2`` -> ``in 6 days``, ``1.5`` -> ``in 36 h``, ``0.01`` -> ``in 14 min``,
    ``-0.5`` -> ``started``."""
    if value is None:
        return none
    if value <= 0:
        return "started"
    if value >= 2:
        return f"in {whole_days(value):,} days"
    return f"in {duration(value * 24 * 60)}"


def duration(minutes: float | None, none: str = "") -> str:
    """A length of time as a person reads it: ``159.3`` -> ``2 h 39 min``, ``45`` ->
    ``45 min``, ``120`` -> ``2 h``, ``0.4`` -> ``under 1 min``."""
    if minutes is None:
        return none
    if minutes < 1:
        return "under 1 min" if minutes > 0 else "0 min"
    whole = round(minutes)
    hours_part, minutes_part = divmod(whole, 60)
    if not hours_part:
        return f"{minutes_part} min"
    if not minutes_part:
        return f"{hours_part:,} h"
    return f"{hours_part:,} h {minutes_part} min"


def percent_change(current: float, previous: float) -> str:
    """``110, 100`` -> ``+10%``; ``90, 100`` -> ``\u221210%``; ``new`` from nothing;
    ``no change`` within half a percent."""
    if previous == 0:
        return "new" if current else "no change"
    change = (current - previous) / previous * 100
    if abs(change) < 0.5:
        return "no change"
    return f"{'+' if change > 0 else MINUS}{abs(change):,.0f}%"


def format_money(value: float, currency: str = "USD", symbol: bool = True) -> str:
    """``1000`` -> ``$1,000.00`` for USD with *symbol*, else ``1,000.00 EUR``."""
    amount = f"{value:,.2f}"
    if symbol and currency.upper() == "USD":
        return f"${amount}"
    return f"{amount} {currency}".strip()


def fee(value: float | None, currency: str | None) -> str:
    """``1000, "USD"`` -> ``1,000.00 USD``: the code, not a symbol (for lists that mix
    currencies); empty for an unknown fee."""
    return "" if value is None else format_money(value, currency or "", symbol=False)


def format_utc(value: datetime | None, with_time: bool = True, zone: bool = True) -> str:
    """An aware datetime as ``2026-11-05 14:03 UTC`` (without ``UTC`` unless *zone*; only
    the date unless *with_time*)."""
    if value is None:
        return ""
    text = as_utc(value).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
    return f"{text} UTC" if with_time and zone else text


def long_date(value: date | str | None) -> str:
    """``4 December 2026`` (a datetime is taken in UTC, text is read as ``YYYY-MM-DD``);
    empty when unknown."""
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime):
        value = as_utc(value).date()
    return f"{value.day} {MONTH_NAMES[value.month - 1]} {value.year}"


def long_datetime(value: datetime | None) -> str:
    """A moment as a reader sees it: ``4 December 2026, 14:34 UTC``; empty when unknown."""
    if value is None:
        return ""
    moment = as_utc(value)
    return f"{long_date(moment)}, {moment:%H:%M} UTC"


def link_target(url: str) -> str:
    """A link printed as its readable target: a ``mailto:`` URL as its address(es), decoded
    and without its subject or body; a web address without its scheme and trailing slash
    (``https://docs.example.org/guide/`` -> ``docs.example.org/guide``). Decoded characters
    that are unsafe to show come out as U+FFFD."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return safe_text(url)
    if parts.scheme == "mailto":
        return safe_text(unquote(parts.path))
    if parts.scheme in ("http", "https") and parts.netloc:
        tail = unquote(parts.path).rstrip("/")
        query = f"?{unquote(parts.query)}" if parts.query else ""
        return safe_text(f"{parts.netloc}{tail}{query}")
    return safe_text(url)


def format_count(value: int, singular: str, plural: str | None = None) -> str:
    """``1, "user"`` -> ``1 user``; ``3, "user"`` -> ``3 users``."""
    word = singular if value == 1 else (plural or singular + "s")
    return f"{value:,} {word}"


def yes_no(value: bool | None) -> str:
    """``yes``, ``no``, or empty when unknown."""
    return "" if value is None else ("yes" if value else "no")


#: Units of a size in bytes, decimal as disks and quotas are sold (1 GB is 10**9 bytes).
SIZE_UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB")


def size(value: float | None, none: str = "") -> str:
    """Bytes in decimal units, three significant figures: ``1234`` -> ``1.23 kB``,
    ``52_100_000`` -> ``52.1 MB``, ``999`` -> ``999 bytes``."""
    if value is None:
        return none
    amount, unit = float(value), 0
    while abs(amount) >= 999.5 and unit < len(SIZE_UNITS) - 1:
        amount /= 1000
        unit += 1
    if unit == 0:
        return f"{round(amount):,} bytes"
    digits = 0 if abs(amount) >= 99.95 else (1 if abs(amount) >= 9.995 else 2)
    return f"{amount:.{digits}f} {SIZE_UNITS[unit]}"
