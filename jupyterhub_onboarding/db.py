"""The database conventions shared by the service's store and the collector's history.

Both keep their tables with SQLAlchemy Core on SQLite or PostgreSQL, store times in UTC and
change their schema only through Alembic migrations that run programmatically on the
connection handed over here. Each has its own migrations directory and version table, so a
collector history may even live in the database of a hub's service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

from .core.clock import as_utc

#: Alembic's own default name for the table holding a database's revision.
DEFAULT_VERSION_TABLE = "alembic_version"


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL).

    ``UTCDateTime(timezone=True)`` keeps a zone-aware column instead (``TIMESTAMP WITH TIME
    ZONE`` on PostgreSQL) and binds aware UTC values to it; reading gives aware UTC either way.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = False) -> None:
        super().__init__(timezone=timezone)
        self.timezone = timezone

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value if self.timezone else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


#: How long an SQLite statement waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs (WAL and busy timeout for SQLite)."""
    if url.startswith("sqlite"):
        kwargs: dict[str, Any] = {}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            kwargs = {"connect_args": {"check_same_thread": False, "timeout": 10}}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)


class SchemaError(Exception):
    """A database whose tables cannot be brought to the schema this release expects."""


@dataclass(frozen=True)
class Migrations:
    """One store's migrations: where its revisions live and which table records them.

    *baseline_revision* and *baseline_tables* name the first revision and the tables it
    creates, for a store whose tables were once created without migrations: a database
    holding all of them and no revision is stamped with that revision instead of having them
    created again.
    """

    directory: Path
    version_table: str = DEFAULT_VERSION_TABLE
    baseline_revision: str | None = None
    baseline_tables: Sequence[str] = ()

    def config(self, connection: Connection) -> Config:
        """The Alembic configuration running these migrations on *connection*."""
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        config.attributes["connection"] = connection
        return config

    def current_revision(self, connection: Connection) -> str | None:
        """The revision recorded in the database, ``None`` before any."""
        context = MigrationContext.configure(connection, opts={"version_table": self.version_table})
        return context.get_current_revision()


def schema_revision(engine: Engine, migrations: Migrations) -> str | None:
    """The revision of the schema in the database of *engine*, ``None`` before any."""
    with engine.connect() as connection:
        return migrations.current_revision(connection)


def upgrade_schema(engine: Engine, migrations: Migrations) -> None:
    """Create or migrate the schema to the newest revision, in one transaction.

    A database made before the store had migrations (its baseline tables there, no revision
    recorded) is stamped with the baseline revision first, keeping its rows. Raises
    SchemaError when only some of the baseline tables exist.
    """
    with engine.begin() as connection:
        config = migrations.config(connection)
        if migrations.baseline_revision is not None and _predates_migrations(
            connection, migrations
        ):
            command.stamp(config, migrations.baseline_revision)
        command.upgrade(config, "head")


def _predates_migrations(connection: Connection, migrations: Migrations) -> bool:
    """Whether the database holds the baseline tables but no recorded revision."""
    if migrations.current_revision(connection) is not None:
        return False
    wanted = set(migrations.baseline_tables)
    present = wanted & set(inspect(connection).get_table_names())
    if present and present != wanted:
        raise SchemaError(
            f"the database holds {', '.join(sorted(present))} but not "
            f"{', '.join(sorted(wanted - present))}; it was not made by jupyterhub-onboarding"
        )
    return bool(wanted) and present == wanted
