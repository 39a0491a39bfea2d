"""How figures and dates read, in one place: the page, the summary email, the monthly report
and the collector's outputs all format through here.

Each function takes None for a figure that is unknown and gives *none* for it (an empty
string unless the output wants a mark such as a dash).
"""

from __future__ import annotations

from datetime import datetime

from .clock import as_utc

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


def basis_verb(basis: str) -> str:
    """``login`` -> ``logged in``; ``server`` -> ``started a server``."""
    return BASIS_VERBS.get(basis, BASIS_VERBS["login"])


def month_name(label: str, short: bool = False) -> str:
    """``2026-11`` -> ``November 2026`` (``Nov 2026`` when *short*)."""
    year, month = label.split("-")
    name = MONTH_NAMES[int(month) - 1]
    return f"{name[:3] if short else name} {year}"


def month_abbreviation(label: str) -> str:
    """``2026-11`` -> ``Nov``."""
    return MONTH_NAMES[int(label[5:]) - 1][:3]


def number(value: float | None, none: str = "") -> str:
    """A count with thousands separators: ``1234`` -> ``1,234``."""
    return none if value is None else f"{value:,}"


def decimal(value: float | None, digits: int = 1, none: str = "") -> str:
    """Hours, minutes and other measures: ``1234.56`` -> ``1,234.6`` (*digits* decimals)."""
    return none if value is None else f"{value:,.{digits}f}"


def days(value: float | None, none: str = "") -> str:
    """A number of days as short as it is exact: ``3.0`` -> ``3``, ``4.38`` -> ``4.38``."""
    return none if value is None else f"{value:g}"


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
