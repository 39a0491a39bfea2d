"""The service's database: one part per thing it stores, and a thin facade over them.

- ``users``: users, their activity marks, who is counted, first value;
- ``sessions``: server sessions, recorded from each poll's running servers, and daily peaks;
- ``usage``: usage figures per month; ``groups``: the groups each user was in, per month;
  ``usertable``: the per-user table and its pages;
- ``onboarding``: small persisted state, the checklist ticks and the meeting;
- ``events``: planned events;
- ``billing``: closed months, their versions and the users behind them.

Each part keeps its own cache. Recording a poll is one transaction over users and sessions
(a full read writes its users first, a chunk of pages at a time, each chunk in a
transaction of its own);
what it changed comes back as a ``RecordResult``, and the usage figures follow it. Reads do
not write: first value and the per-user table are written by explicit calls after a poll
(``record_milestones``, ``write_usage_table``). Every method is synchronous and short; the
service runs them on one worker thread so the event loop that serves requests never waits on
the database. The schema is ``service/schema.py``, changed through ``service/migrations``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from ...core.billing import ClosedMonth
from ...core.checklist import Meeting, OnboardingRecord
from ...core.hubmodel import UserSeen
from ...core.rules import CountingRules, month_label
from ...core.snapshot import Aggregates, MonthCount
from ...core.usage import LabelKeys, UsageFigures
from ...db import Migrations, make_engine, schema_revision, upgrade_schema
from .billing import BillingStore
from .events import EventStore
from .monthtodate import previous_to_date
from .onboarding import OnboardingStore
from .poll import PageWritten, Poll, WrittenIds, merge_seen
from .sessions import SessionStore
from .usage import UsageStore
from .users import KnownUser, UsersRecorded, UserStore
from .usertable import USAGE_SORTS, UsageQuery, UsageRow, UserTable

__all__ = [
    "MIGRATIONS",
    "USAGE_SORTS",
    "BillingStore",
    "EventStore",
    "KnownUser",
    "Poll",
    "RecordResult",
    "Store",
    "UsageQuery",
    "UsageRow",
]

#: The service's revisions, recorded in Alembic's default ``alembic_version`` table.
MIGRATIONS = Migrations(Path(__file__).parent.parent / "migrations")


@dataclass(frozen=True)
class RecordResult(UsersRecorded):
    """What one recorded poll changed: in the users (UsersRecorded) and in the sessions."""

    sessions_opened: int = 0
    sessions_ended: int = 0
    #: The months (``YYYYMM``) whose usage figures the poll moved.
    months_changed: frozenset[int] = frozenset()
    #: The sessions it opened or ended, by id.
    sessions_changed: frozenset[int] = frozenset()


class Store:
    """The service's database."""

    def __init__(self, url: str, log: logging.Logger | None = None) -> None:
        self.url = url
        self.log = log or logging.getLogger(__name__)
        self.engine = make_engine(url)
        self.users = UserStore(self.engine)
        self.sessions = SessionStore()
        self.usage = UsageStore(self.engine, self.users.last_login_known)
        self.user_table = UserTable(self.engine, self.log, self.users.listed)
        self.onboarding = OnboardingStore(self.engine)
        self.events = EventStore(self.engine)
        self.billing = BillingStore(self.engine)

    # -- schema ---------------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The revision of the service's schema in the database, ``None`` before any."""
        return schema_revision(self.engine, MIGRATIONS)

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision."""
        upgrade_schema(self.engine, MIGRATIONS)

    def close(self) -> None:
        self.engine.dispose()

    def reconnect(self) -> None:
        """Close the pooled connections, so the next call connects afresh.

        A connection can stay broken after the database has recovered: SQLite opens a file
        it cannot write read-only, and such a connection never writes again.
        """
        self.engine.dispose()

    # -- recording a poll -----------------------------------------------------------------------

    def record(
        self,
        seen: Sequence[UserSeen],
        now: datetime,
        rules: CountingRules,
        *,
        full: bool = False,
        present: Collection[str] = (),
        label_keys: LabelKeys | None = None,
        written: WrittenIds | None = None,
    ) -> RecordResult:
        """Store one poll in a single transaction.

        Idempotent: recording the same observations twice changes nothing, so a poll that
        is retried after a crash counts nobody twice. With *full*, users missing from the
        hub are marked deleted (they stay counted), except those named in *present*: users
        the hub listed in entries that could not be parsed, and those in *written*: the
        users of a full read written page by page (``record_page``). *seen* holds every
        running server (each poll reads them all): sessions open, continue or end
        accordingly.
        """
        poll = Poll.of(
            seen,
            now,
            rules,
            full=full,
            present=present,
            label_keys=label_keys,
            written=written,
        )
        try:
            with self.engine.begin() as conn:
                users = self.users.record(conn, poll)
                sessions = self.sessions.record(conn, poll)
        except BaseException:
            self.sessions.forget()
            self.users.forget()
            raise
        self.sessions.adopt(sessions.state)
        self.users.adopt()
        self.usage.poll_recorded(sessions.months, sessions.changed)
        return RecordResult(
            **asdict(users),
            sessions_opened=sessions.opened,
            sessions_ended=sessions.ended,
            months_changed=sessions.months,
            sessions_changed=sessions.changed,
        )

    def record_page(
        self, seen: Sequence[UserSeen], now: datetime, rules: CountingRules, *, names: bool = False
    ) -> PageWritten:
        """Store the users of one page of a full read in a transaction of its own, so that a
        read of 100,000 users never holds them all at once; the read's ``record`` then takes
        the users this returns as kept (their servers and sessions) and the ids it wrote.
        With *names*, the page's usernames come back too."""
        merged = merge_seen(seen)
        try:
            with self.engine.begin() as conn:
                ids = self.users.record_page(conn, merged, now, rules)
                kept = self.sessions.needed(conn, merged.values())
        except BaseException:
            self.sessions.forget()
            self.users.forget()
            raise
        self.users.adopt()
        return PageWritten(ids, kept, frozenset(merged) if names else frozenset())

    def apply_rules(self, rules: CountingRules) -> int:
        """Recompute who is counted after the exclusions changed; returns rows changed."""
        changed = self.users.apply_rules(rules)
        if changed:
            self.usage.counting_changed()
        return changed

    # -- written after a poll -------------------------------------------------------------------

    def close_months(
        self,
        now: datetime,
        close_days: int,
        basis: str,
        tiers: Sequence[tuple[int | None, float]],
    ) -> list[ClosedMonth]:
        """Close the months due by *now* and not closed yet (written once, never again)."""
        return self.billing.close_due(now, close_days, basis, tiers)

    def record_milestones(self, threshold: int) -> dict[str, datetime]:
        """Store first value once reached, per basis (never moved); the stored milestones."""
        return self.users.record_milestones(threshold)

    def write_usage_table(self, now: datetime) -> bool:
        """Write the per-user table of *now*'s month; False when the database refused."""
        return self.user_table.write(self.usage.month_table(now))

    # -- reads ----------------------------------------------------------------------------------

    def aggregates(self, now: datetime, threshold: int, generating_days: int = 14) -> Aggregates:
        """Every count the snapshot needs, with first value as stored, each closed month's
        figures as written when it closed (or last recounted), and the previous month up to
        the same point as *now*."""
        found = self.users.aggregates(now, threshold, generating_days)
        closed = {month_label(m): c for m, c in self.billing.closed_months().items()}
        months = {m.month: replace(m, closed=False) for m in found.months}
        for label, version in closed.items():
            months[label] = MonthCount(
                label, version.login, version.server, closed=True, estimated_usage_fee=version.fee
            )
        with self.engine.connect() as conn:
            before = previous_to_date(conn, now)
        return replace(
            found,
            months=tuple(months[label] for label in sorted(months)),
            previous_to_date=before,
        )

    def logged_in_users(self, limit: int | None = None) -> list[KnownUser]:
        """Counted users who have logged in, earliest first (usernames: admin page only)."""
        return self.users.logged_in_users(limit)

    def usage_figures(self, now: datetime, label_limit: int = 20) -> UsageFigures:
        """The usage figures of every month with sessions, up to *now*'s month."""
        return self.usage.figures(now, label_limit)

    def usage_rows(self, query: UsageQuery) -> tuple[list[UsageRow], int]:
        """One page of the per-user table and how many rows it has in all."""
        return self.user_table.rows(query)

    def onboarding_record(self) -> OnboardingRecord:
        """The ticked checklist items and the meeting."""
        return self.onboarding.onboarding_record()

    # -- the onboarding record, written by administrators ---------------------------------------

    def get_or_set_state(self, key: str, value: str) -> str:
        """The stored value for *key*, storing *value* first when there is none."""
        return self.onboarding.get_or_set_state(key, value)

    def set_tick(self, item: str, ticked: bool, by: str, at: datetime) -> None:
        """Tick *item* off as *by* at *at* (a tick already there is kept), or undo it."""
        self.onboarding.set_tick(item, ticked, by, at)

    def record_meeting(self, held: Meeting) -> None:
        """Store the onboarding meeting, replacing one recorded before."""
        self.onboarding.record_meeting(held)
