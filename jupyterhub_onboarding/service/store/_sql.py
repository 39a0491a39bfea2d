"""What the parts of the store share: chunked ``IN`` queries, times as Unix seconds, the small
key/value state, and the conditions that say who is counted and which sessions ran when."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TypeVar, overload

from sqlalchemy import ColumnElement, Connection, Executable, Row, and_, insert, or_, select, update

from ...core.clock import as_utc
from ...core.rules import add_months
from ...core.usage import month_bounds
from ..schema import service_state, sessions, users

#: Values in one ``IN (...)`` list: within every database's limit on bound parameters.
CHUNK = 500
#: Rows written by one statement, and users recorded per batch within one poll's transaction
#: (bounds the memory of a poll).
BATCH = 5000

T = TypeVar("T")

#: Users the figures count (the exclusions and the admin rule applied).
COUNTED = users.c.counted.is_(True)
#: Counted users who have logged in: those the figures and the admin pages list.
LISTED = and_(COUNTED, users.c.first_login_at.is_not(None))


def execute_chunked(
    conn: Connection,
    values: Sequence[T],
    statement: Callable[[Sequence[T]], Executable],
    size: int = CHUNK,
) -> list[Row]:
    """Run ``statement(chunk)`` for each run of at most *size* of *values*, in order, and
    return the rows of all of them (none for a statement that returns no rows).

    *statement* puts its chunk into an ``IN (...)`` list, so no statement binds more values
    than every database accepts, however many there are.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    found: list[Row] = []
    for start in range(0, len(values), size):
        result = conn.execute(statement(values[start : start + size]))
        if result.returns_rows:
            found.extend(result)
    return found


# -- times ------------------------------------------------------------------------------------


def to_seconds(value: datetime) -> float:
    """*value* as Unix seconds (the sessions tables keep times so, to add them up in SQL)."""
    return as_utc(value).timestamp()


@overload
def from_seconds(value: float) -> datetime: ...
@overload
def from_seconds(value: None) -> None: ...
@overload
def from_seconds(value: float | None) -> datetime | None: ...
def from_seconds(value: float | None) -> datetime | None:
    """Unix seconds as an aware UTC datetime (None stays None)."""
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def months_between(first: int, last: int) -> list[int]:
    """Every ``YYYYMM`` month from *first* to *last*, both included."""
    months = [first]
    while months[-1] < last:
        months.append(add_months(months[-1], 1))
    return months


def ran_in_month(month: int) -> ColumnElement[bool]:
    """The condition that a session ran in *month* (one that ended at its start included)."""
    start, end = month_bounds(month)
    return and_(
        sessions.c.started < to_seconds(end),
        or_(sessions.c.ended.is_(None), sessions.c.ended >= to_seconds(start)),
    )


# -- the key/value state ----------------------------------------------------------------------


def read_state(conn: Connection, key: str) -> str | None:
    """The stored value for *key*, None when there is none."""
    return conn.execute(
        select(service_state.c.value).where(service_state.c.key == key)
    ).scalar_one_or_none()


def write_state(conn: Connection, key: str, value: str, stored: str | None) -> None:
    """Store *value* for *key*, whose value is *stored* now (as read_state gave it)."""
    if stored is None:
        conn.execute(insert(service_state).values(key=key, value=value))
    elif stored != value:
        conn.execute(update(service_state).where(service_state.c.key == key).values(value=value))
