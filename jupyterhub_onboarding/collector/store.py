"""History of collector runs (``collect --store``): one row per run, one row per hub in it.

Tables of their own, apart from the service's store, so a provider-side database holds only
the collector's history. SQLite by default (a plain path is an SQLite file); PostgreSQL with
``postgresql+psycopg://user:password@host/dbname``. Changes go through a migration in
``migrations/``, whose revision is kept in a version table of its own
(``collector_alembic_version``), so the history may share a database with a service.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from .. import __version__
from ..core.clock import as_utc
from ..db import Migrations, UTCDateTime, make_engine, schema_revision, upgrade_schema
from .rows import Row

#: The table recording the history's revision (the service's is ``alembic_version``).
VERSION_TABLE = "collector_alembic_version"

metadata = MetaData()

collect_runs = Table(
    "collect_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime(timezone=True), nullable=False),
    Column("finished_at", UTCDateTime(timezone=True), nullable=False),
    Column("month", String(7), nullable=True, comment="YYYY-MM from --month; NULL: current"),
    Column("hubs", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("collector_version", String(32), nullable=False),
)

collect_hub_rows = Table(
    "collect_hub_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "run_id",
        Integer,
        ForeignKey("collect_runs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("hub", String(255), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("reachable", Boolean, nullable=False),
    Column("first_value_achieved", Boolean),
    Column("first_value_date", String(10)),
    Column("days_to_first_value", Float),
    Column("check_in_due", Boolean),
    Column("mau_login", Integer),
    Column("mau_server", Integer),
    Column("active_30d", Integer),
    Column("sessions", Integer),
    Column("server_hours", Float),
    Column("median_session_minutes", Float),
    Column("peak_concurrent_servers", Integer),
    Column("groups", Integer),
    Column("estimated_usage_fee", Float),
    Column("currency", String(8)),
    Column("next_event_title", Text),
    Column("next_event_kind", String(64)),
    Column("next_event_start", String(32)),
    Column("next_event_days_until", Float),
    Column("next_event_expected_attendees", Integer),
    Column("next_event_checklist_done", Integer),
    Column("next_event_checklist_total", Integer),
    Column("tracker_stale", Boolean),
    Column("service_version", String(64)),
    Column("community", String(255)),
    Column("community_mau_login", Integer),
    Column("community_mau_server", Integer),
    Column("community_estimated_usage_fee", Float),
    Column("community_deduplicated", Boolean),
    Column("error", Text),
)

#: The history's revisions. Release 0.1 created the tables without migrations; such a
#: database is stamped with the first revision, which creates exactly those tables.
MIGRATIONS = Migrations(
    Path(__file__).parent / "migrations",
    version_table=VERSION_TABLE,
    baseline_revision="0001",
    baseline_tables=("collect_runs", "collect_hub_rows"),
)


def store_url(value: str) -> str:
    """An SQLAlchemy URL from ``--store``: a URL as given, or a path taken as an SQLite file.

    ``postgresql://`` selects the psycopg (3) driver. Raises ValueError for anything else.
    """
    value = value.strip()
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("not a database URL") from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r} (sqlite, postgresql)")
    return url.render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """*url* with its password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _stored(row: Row) -> dict:
    """The row's values the history keeps (its table's columns; newer report columns such as
    the onboarding meeting's are in the report files, not in the history)."""
    return {key: value for key, value in row.as_dict().items() if key in collect_hub_rows.c}


class RunStore:
    """Appends collector runs to a database whose schema :meth:`upgrade` creates or migrates."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine if engine is not None else make_engine(url)

    def schema_revision(self) -> str | None:
        """The revision of the history's schema in the database, ``None`` before any."""
        return schema_revision(self.engine, MIGRATIONS)

    def upgrade(self) -> None:
        """Create or migrate the history's tables to the newest revision.

        A history written before the collector had migrations is taken over in place.
        """
        upgrade_schema(self.engine, MIGRATIONS)

    def append(
        self,
        rows: Sequence[Row],
        *,
        started_at: datetime,
        finished_at: datetime,
        month: str | None,
    ) -> int:
        """Store one run and its rows in one transaction; return the run's id."""
        with self.engine.begin() as connection:
            run_id: int = connection.execute(
                insert(collect_runs).returning(collect_runs.c.id),
                {
                    "started_at": as_utc(started_at),
                    "finished_at": as_utc(finished_at),
                    "month": month,
                    "hubs": len(rows),
                    "failed": sum(1 for row in rows if not row.answered),
                    "collector_version": __version__,
                },
            ).scalar_one()
            if rows:
                connection.execute(
                    insert(collect_hub_rows),
                    [{"run_id": run_id, **_stored(row)} for row in rows],
                )
        return run_id

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
