"""The service's tables (SQLAlchemy Core). Changes go through a migration in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

from ..db import UTCDateTime

metadata = MetaData()

#: Every hub user the service has seen. Usernames live here and nowhere else.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("admin", Boolean, nullable=False, default=False),
    Column("counted", Boolean, nullable=False, default=True),
    Column("first_login_at", UTCDateTime, nullable=True),
    Column("first_server_at", UTCDateTime, nullable=True),
    Column("last_login_at", UTCDateTime, nullable=True),
    Column("last_server_at", UTCDateTime, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
    Index("ix_users_first_login_at", "first_login_at"),
    # the rolling windows and the last-login buckets count from the index alone (0008)
    Index("ix_users_last_login_at_counted", "last_login_at", "counted"),
)

#: One row per user, month (YYYYMM) and basis (0 login, 1 server); ``days`` is a bit mask
#: of the UTC days of that month the user was active.
activity = Table(
    "activity",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("month", Integer, primary_key=True),
    Column("basis", SmallInteger, primary_key=True),
    Column("days", Integer, nullable=False, default=0),
    Index("ix_activity_month_basis", "month", "basis"),
)

#: First value, once reached, per basis and threshold: never removed, never moved later.
milestones = Table(
    "milestones",
    metadata,
    Column("basis", String(16), primary_key=True),
    Column("threshold", Integer, primary_key=True),
    Column("achieved_at", UTCDateTime, nullable=False),
)

#: Small persisted settings, such as live_since when it comes from the first start.
service_state = Table(
    "service_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

#: Checklist items an administrator ticked off: who (a username, admin page only) and when.
checklist_ticks = Table(
    "checklist_ticks",
    metadata,
    Column("item", String(64), primary_key=True),
    Column("ticked_by", Text, nullable=False),
    Column("ticked_at", UTCDateTime, nullable=False),
)

#: The hub's onboarding meeting: one row (``id`` 1), replaced when recorded again.
meeting = Table(
    "meeting",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("held_on", Date, nullable=False),
    Column("hub_access_confirmed", Boolean, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

#: One row per server session: one run of one server (``server`` is "" for the default one)
#: of one user. Times are Unix seconds (UTC) so that durations add up in SQL on every
#: database; ``ended`` is NULL while the server runs. ``profile`` and ``image`` are the
#: bounded labels taken from the server's user_options (NULL when it names none).
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("server", Text, nullable=False, default=""),
    Column("started", Float, nullable=False),
    Column("ended", Float, nullable=True),
    Column("last_activity", Float, nullable=True),
    Column("profile", String(64), nullable=True),
    Column("image", String(64), nullable=True),
    Index("ix_sessions_ended", "ended"),
    Index("ix_sessions_started", "started"),
    Index("ix_sessions_user_started", "user_id", "started"),
)

#: The most servers of counted users running at one poll, per UTC day (``YYYY-MM-DD``).
usage_peaks = Table(
    "usage_peaks",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("servers", Integer, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
)

#: The per-user table of the current month, kept after each poll's refresh (from the
#: sessions) so that a page of it, in any order, is an index scan of a few rows. Times are
#: Unix seconds; ``open`` is 1 while one of the user's sessions still runs.
usage_user_months = Table(
    "usage_user_months",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("month", Integer, primary_key=True),
    Column("sessions", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("last_end", Float, nullable=True),
    Column("open", Integer, nullable=False),
    Index("ix_usage_user_months_sessions", "month", "sessions", "user_id"),
    Index("ix_usage_user_months_seconds", "month", "seconds", "user_id"),
    Index("ix_usage_user_months_last_end", "month", "open", "last_end", "user_id"),
)

#: The JupyterHub groups each user belonged to at some poll of each month (YYYYMM), as the
#: hub's user model lists them: the usage per group counts a user in each of their groups.
group_members = Table(
    "group_members",
    metadata,
    Column("month", Integer, primary_key=True),
    Column("group_name", String(255), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Index("ix_group_members_user_month", "user_id", "month"),
)

BASIS_CODES = {"login": 0, "server": 1}

#: Events the hub's admins plan (exams, workshops, demos). Times are UTC; ``checklist`` is
#: the ticked preparation items, comma-separated; the ``actual_*`` columns hold what the
#: sessions in the event's window showed, kept once the event has ended.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("start", UTCDateTime, nullable=False),
    Column("end", UTCDateTime, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("expected_attendees", Integer, nullable=False),
    Column("profile", String(200), nullable=False),
    Column("notes", Text, nullable=False),
    Column("contact", String(200), nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("checklist", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("actual_peak", Integer, nullable=True),
    Column("actual_sessions", Integer, nullable=True),
    Column("actual_users", Integer, nullable=True),
    Index("ix_events_start", "start"),
)

#: Closed months: each version of a month's figures as written, revision 1 when the month
#: closed, one more for each recount (``recount --month``), never changed afterwards. The
#: latest revision is the month's figures; ``closed_by`` is "service" for the closing itself,
#: else who ran the recount.
billing_months = Table(
    "billing_months",
    metadata,
    Column("month", Integer, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("mau_login", Integer, nullable=False),
    Column("mau_server", Integer, nullable=False),
    Column("basis", String(8), nullable=False),
    Column("fee", Float, nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("closed_by", Text, nullable=False),
)

#: The counted users behind each version of a closed month, with their activity masks as
#: they were counted (usernames stay in ``users``; admin page only).
billing_month_users = Table(
    "billing_month_users",
    metadata,
    Column("month", Integer, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("login_days", Integer, nullable=False),
    Column("server_days", Integer, nullable=False),
)
