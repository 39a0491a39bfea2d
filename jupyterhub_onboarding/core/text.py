"""Wording and number formatting shared by the page, the summary email and the collector."""

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


def format_money(value: float, currency: str = "USD", symbol: bool = True) -> str:
    """``1000`` -> ``$1,000.00`` for USD with *symbol*, else ``1,000.00 EUR``."""
    amount = f"{value:,.2f}"
    if symbol and currency.upper() == "USD":
        return f"${amount}"
    return f"{amount} {currency}".strip()


def format_utc(value: datetime | None, with_time: bool = True) -> str:
    """An aware datetime as ``2026-11-05 14:03 UTC`` (or only the date)."""
    if value is None:
        return ""
    value = as_utc(value)
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def format_count(value: int, singular: str, plural: str | None = None) -> str:
    """``1, "user"`` -> ``1 user``; ``3, "user"`` -> ``3 users``."""
    word = singular if value == 1 else (plural or singular + "s")
    return f"{value:,} {word}"
