"""Closed months: a month's MAU, the counted users behind it and its fee, written once when
the month closes and read from then on; a recount writes a new version beside the old one.
Also the list behind a month's MAU and the usernames behind the keyed pseudonyms."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, Row, and_, func, insert, select

from ...core import fees
from ...core.billing import BillingLine, BillingList, ClosedMonth, is_due
from ...core.clock import as_utc
from ...core.rules import month_label
from ..schema import activity, billing_month_users, billing_months, users
from ._sql import COUNTED
from .users import LOGIN

#: Who wrote a month's first version: the service, when the month closed.
CLOSED_BY_SERVICE = "service"

Tiers = Sequence[tuple[int | None, float]]


class BillingStore:
    """The ``billing_months`` and ``billing_month_users`` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close_due(
        self, now: datetime, close_days: int, basis: str, tiers: Tiers
    ) -> list[ClosedMonth]:
        """Close every month with activity that is due by *now* and not closed yet, from
        what the database holds; returns the months it closed."""
        closed = []
        with self.engine.begin() as conn:
            done: set[int] = set(conn.execute(select(billing_months.c.month).distinct()).scalars())
            for month in sorted(activity_months(conn) - done):
                if is_due(month, now, close_days):
                    closed.append(
                        write_version(conn, month, 1, now, CLOSED_BY_SERVICE, basis, tiers)
                    )
        return closed

    def recount(
        self, month: int, now: datetime, by: str, basis: str, tiers: Tiers
    ) -> tuple[ClosedMonth | None, ClosedMonth]:
        """Recompute *month* from the activity and who is counted now, as a new version
        written by *by* at *now*; returns the version it replaces (None: none) and the new."""
        with self.engine.begin() as conn:
            old = latest_versions(conn, month).get(month)
            revision = 1 if old is None else old.revision + 1
            return old, write_version(conn, month, revision, now, by, basis, tiers)

    def closed_months(self) -> dict[int, ClosedMonth]:
        """The latest version of every closed month."""
        with self.engine.connect() as conn:
            return latest_versions(conn)

    def versions(self, month: int) -> list[ClosedMonth]:
        """Every version of *month*, the first first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(billing_months)
                .where(billing_months.c.month == month)
                .order_by(billing_months.c.revision)
            )
            return [to_closed(row) for row in rows]

    def month_list(self, month: int) -> BillingList:
        """The counted users behind *month*'s MAU: as counted when closed, else as now."""
        with self.engine.connect() as conn:
            closed = latest_versions(conn, month).get(month)
            if closed is not None:
                rows = conn.execute(
                    select(
                        users.c.name,
                        users.c.counted,
                        users.c.deleted_at,
                        billing_month_users.c.login_days,
                        billing_month_users.c.server_days,
                    )
                    .select_from(billing_month_users.join(users))
                    .where(
                        billing_month_users.c.month == month,
                        billing_month_users.c.revision == closed.revision,
                    )
                    .order_by(users.c.name)
                )
                lines = [
                    BillingLine(r.name, r.login_days, r.server_days, not r.counted, r.deleted_at)
                    for r in rows
                ]
            else:
                names = {row.id: row for row in conn.execute(select(users))}
                lines = [
                    BillingLine(names[uid].name, login, server, False, names[uid].deleted_at)
                    for uid, (login, server) in counted_activity(conn, month).items()
                ]
                lines.sort(key=lambda line: line.name)
            return BillingList(month, tuple(lines), closed)

    def active_names(self, month: int) -> tuple[list[str], list[str]]:
        """The usernames behind *month*'s MAU on the login and on the server basis (for
        pseudonyms made in memory, never stored or sent)."""
        listed = self.month_list(month)
        return (
            [line.name for line in listed.lines if line.login],
            [line.name for line in listed.lines if line.server],
        )


def counted_activity(conn: Connection, month: int) -> dict[int, tuple[int, int]]:
    """The activity masks (login, server) of every counted user active in *month*."""
    found: dict[int, list[int]] = {}
    for row in conn.execute(
        select(activity.c.user_id, activity.c.basis, activity.c.days)
        .select_from(activity.join(users, users.c.id == activity.c.user_id))
        .where(COUNTED, activity.c.month == month, activity.c.days != 0)
    ):
        masks = found.setdefault(row.user_id, [0, 0])
        masks[0 if row.basis == LOGIN else 1] |= row.days
    return {uid: (masks[0], masks[1]) for uid, masks in found.items()}


def write_version(
    conn: Connection,
    month: int,
    revision: int,
    now: datetime,
    by: str,
    basis: str,
    tiers: Tiers,
) -> ClosedMonth:
    """Write *month*'s figures and users as counted now, as version *revision*."""
    masks = counted_activity(conn, month)
    login = sum(1 for mask in masks.values() if mask[0])
    server = sum(1 for mask in masks.values() if mask[1])
    fee = fees.usage_fee(server if basis == "server" else login, tiers)
    version = ClosedMonth(month_label(month), login, server, basis, fee, revision, as_utc(now), by)
    conn.execute(
        insert(billing_months).values(
            month=month,
            revision=revision,
            mau_login=login,
            mau_server=server,
            basis=basis,
            fee=fee,
            closed_at=version.closed_at,
            closed_by=by,
        )
    )
    if masks:
        conn.execute(
            insert(billing_month_users),
            [
                {
                    "month": month,
                    "revision": revision,
                    "user_id": uid,
                    "login_days": mask[0],
                    "server_days": mask[1],
                }
                for uid, mask in masks.items()
            ],
        )
    return version


def latest_versions(conn: Connection, month: int | None = None) -> dict[int, ClosedMonth]:
    """The latest version of each closed month (of *month* alone when given)."""
    newest = select(
        billing_months.c.month, func.max(billing_months.c.revision).label("revision")
    ).group_by(billing_months.c.month)
    if month is not None:
        newest = newest.where(billing_months.c.month == month)
    latest = newest.subquery()
    rows = conn.execute(
        select(billing_months).join(
            latest,
            and_(
                billing_months.c.month == latest.c.month,
                billing_months.c.revision == latest.c.revision,
            ),
        )
    )
    return {row.month: to_closed(row) for row in rows}


def to_closed(row: Row) -> ClosedMonth:
    return ClosedMonth(
        month_label(row.month),
        row.mau_login,
        row.mau_server,
        row.basis,
        row.fee,
        row.revision,
        as_utc(row.closed_at),
        row.closed_by,
    )


def activity_months(conn: Connection) -> set[int]:
    """The months with activity rows: one step of the (month, basis) index per month (a
    ``DISTINCT`` reads every row of the index: 4-5 ms a refresh at 100,000 users)."""
    found: set[int] = set()
    month = conn.execute(select(func.min(activity.c.month))).scalar_one_or_none()
    while month is not None:
        found.add(month)
        month = conn.execute(
            select(func.min(activity.c.month)).where(activity.c.month > month)
        ).scalar_one_or_none()
    return found
