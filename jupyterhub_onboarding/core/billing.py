"""Billing that can be audited: when a month closes, the list behind its MAU, the keyed
pseudonyms that let a community's hubs count each person once. Pure, no I/O.

A month closes ``close_days`` after it ends (UTC); from then on its figures, the counted
users behind them and its fee are read as they were written, whatever changes later. The
pseudonym of a user is the HMAC-SHA256, under a key the hubs of one community share, of the
normalised username: equal names give equal pseudonyms on every hub with the same key, and
nothing about the name can be read back without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .clock import as_utc
from .rules import month_label
from .usage import month_bounds

#: Default days after a month's end when it closes.
DEFAULT_CLOSE_DAYS = 3


def closes_at(month: int, close_days: int) -> datetime:
    """When the ``YYYYMM`` *month* closes: *close_days* after its last instant (UTC)."""
    return month_bounds(month)[1] + timedelta(days=close_days)


def is_due(month: int, now: datetime, close_days: int) -> bool:
    """Whether *month* has closed by *now*."""
    return as_utc(now) >= closes_at(month, close_days)


def normalise_username(name: str) -> str:
    """The form of a username that pseudonyms are made of: Unicode NFKC, surrounding
    whitespace removed, case folded (``" Ada "`` and ``"ADA"`` are the same person)."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def pseudonym(key: str, name: str) -> str:
    """The keyed pseudonym of *name*: HMAC-SHA256 under *key*, as 64 hex digits."""
    if not key:
        raise ValueError("a pseudonym needs a key")
    digest = hmac.new(key.encode("utf-8"), normalise_username(name).encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()


def day_range(days: int, month: int) -> tuple[date, date] | None:
    """The first and last day set in a month's activity mask *days* (None: no day)."""
    if days <= 0:
        return None
    start = month_bounds(month)[0].date()
    first = (days & -days).bit_length() - 1
    last = days.bit_length() - 1
    return start + timedelta(days=first), start + timedelta(days=last)


@dataclass(frozen=True)
class MonthFigures:
    """A month's MAU on both bases and the fee on the billing basis."""

    month: str
    login: int
    server: int
    basis: str
    fee: float


@dataclass(frozen=True)
class ClosedMonth(MonthFigures):
    """One written version of a closed month: who wrote it and when (revision 1 is the
    closing itself, each recount adds one)."""

    revision: int
    closed_at: datetime
    closed_by: str


@dataclass(frozen=True)
class BillingLine:
    """One counted user active in a month: the list behind the MAU (hub admins only)."""

    name: str
    login_days: int
    server_days: int
    #: Not counted any more (the exclusions changed since).
    excluded_since: bool
    deleted_at: datetime | None

    @property
    def login(self) -> bool:
        return self.login_days != 0

    @property
    def server(self) -> bool:
        return self.server_days != 0


@dataclass(frozen=True)
class BillingList:
    """The list behind one month's MAU, and whether it is the closed one."""

    month: int
    lines: tuple[BillingLine, ...]
    closed: ClosedMonth | None

    @property
    def label(self) -> str:
        return month_label(self.month)

    @property
    def login(self) -> int:
        return sum(1 for line in self.lines if line.login)

    @property
    def server(self) -> int:
        return sum(1 for line in self.lines if line.server)

    def days(self, line: BillingLine) -> tuple[date, date] | None:
        """The first and last day *line*'s user was active in the month, on either basis."""
        return day_range(line.login_days | line.server_days, self.month)


#: What the key check is made of: an HMAC of this text tells hubs sharing a key from hubs
#: with different keys, without telling anything of the key or of any username.
KEY_CHECK_TEXT = "jupyterhub-onboarding billing key check"


def key_check(key: str) -> str:
    """A value equal on every hub with the same key (the first 16 hex digits of an HMAC)."""
    return pseudonym(key, KEY_CHECK_TEXT)[:16]


def billing_document(listed: BillingList, key: str) -> dict[str, object]:
    """The body of ``api/v1/billing/YYYY-MM``: the month's counts and, per basis, the sorted
    keyed pseudonyms of its counted active users, never their names."""
    made = {line.name: pseudonym(key, line.name) for line in listed.lines}
    return {
        "month": listed.label,
        "closed": listed.closed is not None,
        "mau_login": listed.login,
        "mau_server": listed.server,
        "key_check": key_check(key),
        "pseudonyms": {
            "login": sorted(made[line.name] for line in listed.lines if line.login),
            "server": sorted(made[line.name] for line in listed.lines if line.server),
        },
    }


class BillingError(ValueError):
    """A billing document that cannot be read; the message names the field."""


@dataclass(frozen=True)
class HubPseudonyms:
    """One hub's billing document as read: counts, key check and pseudonyms per basis."""

    month: str
    closed: bool
    mau_login: int
    mau_server: int
    key_check: str
    login: frozenset[str]
    server: frozenset[str]


def read_billing(value: object) -> HubPseudonyms:
    """The one reader of ``api/v1/billing/YYYY-MM``; BillingError names what is wrong."""
    if not isinstance(value, dict):
        raise BillingError("the billing document is not an object")

    def field(name: str, kind: type) -> Any:
        found = value.get(name)
        if not isinstance(found, kind) or (kind is int and isinstance(found, bool)):
            raise BillingError(f"{name} is not {'a count' if kind is int else kind.__name__}")
        return found

    pseudonyms = field("pseudonyms", dict)
    sets = {}
    for basis in ("login", "server"):
        names = pseudonyms.get(basis)
        if not isinstance(names, list) or not all(
            isinstance(item, str) and len(item) == 64 for item in names
        ):
            raise BillingError(f"pseudonyms.{basis} is not a list of pseudonyms")
        sets[basis] = frozenset(names)
    document = HubPseudonyms(
        month=field("month", str),
        closed=field("closed", bool),
        mau_login=field("mau_login", int),
        mau_server=field("mau_server", int),
        key_check=field("key_check", str),
        login=sets["login"],
        server=sets["server"],
    )
    if (len(document.login), len(document.server)) != (document.mau_login, document.mau_server):
        raise BillingError("the pseudonyms do not add up to mau_login and mau_server")
    return document
