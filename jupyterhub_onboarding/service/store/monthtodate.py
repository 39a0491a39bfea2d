"""The previous month up to the same point as now is into the current one: what a
month-to-date report compares with (``core.monthtodate``). Reads only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from ...core.clock import as_utc
from ...core.monthtodate import MonthToDate, days_mask, same_point_previous_month, usage_until
from ...core.rules import add_months, month_label, month_of
from ...core.snapshot import MonthCount
from ...core.usage import month_bounds
from ..schema import BASIS_CODES, activity, usage_peaks, users
from ._sql import COUNTED
from .usage import month_sessions
from .users import count


def previous_to_date(conn: Connection, now: datetime) -> MonthToDate:
    """The month before *now*'s, counted up to the same day and time of day: MAU from the
    days of the activity masks up to that day, first logins, sessions and their server time
    up to that moment, and the daily peaks of its days."""
    now = as_utc(now)
    month = add_months(month_of(now), -1)
    until = same_point_previous_month(now)
    mask = days_mask(month, until)
    mau = {
        basis: conn.execute(
            select(func.count())
            .select_from(activity.join(users, users.c.id == activity.c.user_id))
            .where(
                COUNTED,
                activity.c.month == month,
                activity.c.basis == code,
                activity.c.days.op("&")(mask) != 0,
            )
        ).scalar_one()
        for basis, code in BASIS_CODES.items()
    }
    start, _end = month_bounds(month)
    first_logins = count(
        conn, COUNTED, users.c.first_login_at >= start, users.c.first_login_at < until
    )
    peaks = {row.day: row.servers for row in conn.execute(select(usage_peaks))}
    # only the sessions started before that point count: the rest are not read
    records = (record for _sid, record in month_sessions(conn, month, before=until))
    usage = usage_until(records, month, until, daily_peaks=peaks)
    return MonthToDate(
        until=until,
        mau=MonthCount(month_label(month), mau["login"], mau["server"]),
        new_users=first_logins,
        usage=usage,
    )
