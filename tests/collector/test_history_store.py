"""The collector's history (``collect --store``): migrations, and release 0.1's history kept.

On SQLite and on a real PostgreSQL: a fresh history, upgrading twice, a history written by
release 0.1 (tables but no revision) taken over in place, and a database shared with a
service's store.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from harness.collector import run_cli, write_hubs
from sqlalchemy import MetaData, create_engine, insert, inspect, select, text

from jupyterhub_onboarding.collector.rows import Row
from jupyterhub_onboarding.collector.store import (
    VERSION_TABLE,
    RunStore,
    collect_hub_rows,
    collect_runs,
    metadata,
)
from jupyterhub_onboarding.core.status.model import GroupUsage
from jupyterhub_onboarding.db import SchemaError
from jupyterhub_onboarding.service.store import MIGRATIONS as SERVICE_MIGRATIONS
from jupyterhub_onboarding.service.store import Store

UTC = timezone.utc
DATA = Path(__file__).resolve().parent.parent / "data"
RELEASE_0_1 = DATA / "collector-0.1.sqlite"
#: The run in RELEASE_0_1 (tests/data/README.md).
RUN_0_1_STARTED = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def fresh_url(backend, request, tmp_path) -> str:
    """The URL of an empty database on the backend under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite'}"
    return request.getfixturevalue("postgres").create_database()


#: Columns of collect_hub_rows added after release 0.1 (by revisions 0002 to 0005).
ADDED_SINCE_0_1 = (
    "sessions", "server_hours", "median_session_minutes", "peak_concurrent_servers",
    "next_event_title", "next_event_kind", "next_event_start", "next_event_days_until",
    "next_event_expected_attendees", "next_event_checklist_done", "next_event_checklist_total",
    "community", "community_mau_login", "community_mau_server", "community_estimated_usage_fee",
    "community_deduplicated", "groups",
)  # fmt: skip


@pytest.fixture
def release_0_1_url(backend, fresh_url, tmp_path) -> str:
    """A history written by release 0.1: its SQLite file, or the same on PostgreSQL.

    Release 0.1 created the tables with ``metadata.create_all`` and kept no revision; on
    PostgreSQL the same is done here and the file's run copied in.
    """
    if backend == "sqlite":
        copy = tmp_path / "history.sqlite"
        shutil.copyfile(RELEASE_0_1, copy)
        return f"sqlite:///{copy}"
    source = create_engine(f"sqlite:///{RELEASE_0_1}")
    target = create_engine(fresh_url)
    try:
        # the tables as release 0.1 had them: today's without the columns added since
        metadata.create_all(target)
        with target.begin() as writing:
            for column in ADDED_SINCE_0_1:
                writing.execute(text(f"ALTER TABLE collect_hub_rows DROP COLUMN {column}"))
        old = MetaData()
        old.reflect(source, only=["collect_runs", "collect_hub_rows"])
        old_runs, old_rows = old.tables["collect_runs"], old.tables["collect_hub_rows"]
        with source.connect() as reading, target.begin() as writing:
            for run in reading.execute(select(old_runs)).mappings():
                run_id = writing.execute(
                    insert(collect_runs).returning(collect_runs.c.id),
                    {key: value for key, value in run.items() if key != "id"},
                ).scalar_one()
                rows = reading.execute(
                    select(old_rows).where(old_rows.c.run_id == run["id"])
                ).mappings()
                writing.execute(
                    insert(collect_hub_rows),
                    [
                        {key: value for key, value in row.items() if key != "id"}
                        | {"run_id": run_id}
                        for row in rows
                    ],
                )
    finally:
        source.dispose()
        target.dispose()
    return fresh_url


def history(url: str) -> tuple[list, dict[int, list]]:
    """Every stored run, oldest first, and each run's rows by hub."""
    store = RunStore(url)
    try:
        with store.engine.connect() as connection:
            runs = connection.execute(select(collect_runs).order_by(collect_runs.c.id)).all()
            rows: dict[int, list] = {}
            for row in connection.execute(
                select(collect_hub_rows).order_by(collect_hub_rows.c.hub)
            ):
                rows.setdefault(row.run_id, []).append(row)
    finally:
        store.close()
    return runs, rows


def schema_differences(url: str) -> list:
    """What Alembic's autogenerate would change to make the history's tables in the database
    match their definitions (other tables, such as a service's, are left out)."""

    def ours(name, type_, _parent_names) -> bool:
        return type_ != "table" or name in metadata.tables

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"version_table": VERSION_TABLE, "compare_type": True, "include_name": ours},
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def new_rows() -> list[Row]:
    return [
        Row(
            hub="alpha",
            url="https://alpha.example.org",
            reachable=True,
            mau_login=3,
            groups=1,
            group_usage=(GroupUsage("physics-101", 3, 2, 5, 4.5, 30.0),),
            next_event_title="Midterm exam",
            next_event_kind="exam",
            next_event_start="2026-12-03T08:00:00Z",
            next_event_days_until=2.0,
            next_event_expected_attendees=120,
            next_event_checklist_done=1,
            next_event_checklist_total=4,
        ),
        Row(hub="gamma", url="https://gamma.example.org", reachable=False, error="timed out"),
    ]


def append_new_run(store: RunStore) -> int:
    return store.append(
        new_rows(), started_at=NOW, finished_at=NOW + timedelta(seconds=3), month="2026-11"
    )


def check_release_0_1_run(runs: list, rows: dict[int, list]) -> None:
    """The run of release 0.1 as tests/data/README.md describes it."""
    first = runs[0]
    assert (first.hubs, first.failed, first.month, first.collector_version) == (
        2,
        1,
        None,
        "0.1.0",
    )
    assert first.started_at == RUN_0_1_STARTED
    assert first.finished_at == RUN_0_1_STARTED + timedelta(seconds=2)
    alpha, beta = rows[first.id]
    assert (alpha.hub, alpha.reachable, alpha.error, alpha.mau_login) == (
        "alpha",
        False,
        "connection refused",
        None,
    )
    assert (beta.hub, beta.reachable, beta.error) == ("beta", True, None)
    assert (beta.mau_login, beta.mau_server, beta.estimated_usage_fee, beta.currency) == (
        6,
        1,
        60.0,
        "USD",
    )
    assert beta.url == "https://beta.example.org"


def test_a_fresh_history_gets_the_schema_of_its_tables(fresh_url):
    store = RunStore(fresh_url)
    try:
        assert store.schema_revision() is None
        store.upgrade()
        assert store.schema_revision() == "0005"
        store.upgrade()  # harmless
        assert store.schema_revision() == "0005"
        run_id = append_new_run(store)
    finally:
        store.close()
    assert schema_differences(fresh_url) == []
    runs, rows = history(fresh_url)
    assert [run.id for run in runs] == [run_id]
    assert runs[0].started_at == NOW and runs[0].started_at.tzinfo is not None
    assert (runs[0].hubs, runs[0].failed, runs[0].month) == (2, 1, "2026-11")
    assert [(row.hub, row.mau_login, row.error) for row in rows[run_id]] == [
        ("alpha", 3, None),
        ("gamma", None, "timed out"),
    ]
    alpha, gamma = rows[run_id]
    assert (alpha.next_event_title, alpha.next_event_kind, alpha.next_event_start) == (
        "Midterm exam",
        "exam",
        "2026-12-03T08:00:00Z",
    )
    assert (
        alpha.next_event_days_until,
        alpha.next_event_expected_attendees,
        alpha.next_event_checklist_done,
        alpha.next_event_checklist_total,
    ) == (2.0, 120, 1, 4)
    assert gamma.next_event_title is None and gamma.next_event_checklist_total is None
    # the number of groups is kept, never their names
    assert (alpha.groups, gamma.groups) == (1, None)
    assert "physics-101" not in {str(value) for value in alpha._mapping.values()}


def test_a_release_0_1_history_is_taken_over_in_place(release_0_1_url):
    store = RunStore(release_0_1_url)
    try:
        assert store.schema_revision() is None
        store.upgrade()
        assert store.schema_revision() == "0005"
        store.upgrade()  # harmless
        assert store.schema_revision() == "0005"
        run_id = append_new_run(store)
    finally:
        store.close()
    runs, rows = history(release_0_1_url)
    assert len(runs) == 2 and runs[1].id == run_id > runs[0].id
    check_release_0_1_run(runs, rows)
    assert [row.hub for row in rows[run_id]] == ["alpha", "gamma"]
    assert runs[1].started_at == NOW
    assert schema_differences(release_0_1_url) == []


def hubs_file(tmp_path: Path) -> Path:
    """A hubs file with one hub that does not answer (nothing listens on its port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return write_hubs(
        tmp_path / "hubs.yaml",
        [{"name": "alpha", "hub_url": f"http://127.0.0.1:{port}", "token_env": "ALPHA_TOKEN"}],
    )


async def collect_into(tmp_path: Path, history_file: Path):
    return await run_cli(
        "--hubs", str(hubs_file(tmp_path)), "--retries", "0", "--timeout", "2",
        "--store", str(history_file), "--format", "json",
        cwd=tmp_path, env={"ALPHA_TOKEN": "x"},
    )  # fmt: skip


@pytest.mark.integration  # starts a process
async def test_the_command_appends_to_a_release_0_1_history(tmp_path):
    history_file = tmp_path / "history.sqlite"
    shutil.copyfile(RELEASE_0_1, history_file)
    run = await collect_into(tmp_path, history_file)
    assert run.returncode == 1, run.stderr  # the hub did not answer; the run is stored
    assert "Traceback" not in run.stderr
    runs, rows = history(f"sqlite:///{history_file}")
    assert len(runs) == 2
    check_release_0_1_run(runs, rows)
    assert [(row.hub, row.reachable) for row in rows[runs[1].id]] == [("alpha", False)]


def test_a_history_can_share_the_database_of_a_service(fresh_url):
    service = Store(fresh_url)
    collector = RunStore(fresh_url)
    try:
        service.upgrade()
        collector.upgrade()
        service.upgrade()
        collector.upgrade()
        service_head = ScriptDirectory(str(SERVICE_MIGRATIONS.directory)).get_current_head()
        assert (service.schema_revision(), collector.schema_revision()) == (service_head, "0005")
        tables = set(inspect(collector.engine).get_table_names())
        assert {"alembic_version", VERSION_TABLE, "users", "collect_runs"} <= tables
        append_new_run(collector)
        assert service.aggregates(NOW, 5).users_known == 0
    finally:
        service.close()
        collector.close()
    assert schema_differences(fresh_url) == []


def test_a_half_made_history_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'half.sqlite'}"
    engine = create_engine(url)
    collect_runs.create(engine)
    engine.dispose()
    store = RunStore(url)
    try:
        with pytest.raises(SchemaError, match="collect_runs but not collect_hub_rows"):
            store.upgrade()
        assert store.schema_revision() is None
    finally:
        store.close()


@pytest.mark.integration  # starts a process
async def test_a_history_from_a_newer_release_is_not_touched(tmp_path):
    history_file = tmp_path / "newer.sqlite"
    shutil.copyfile(RELEASE_0_1, history_file)
    store = RunStore(f"sqlite:///{history_file}")
    try:
        store.upgrade()
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE collector_alembic_version SET version_num = '9999'"))
        with pytest.raises(CommandError, match="9999"):
            store.upgrade()
    finally:
        store.close()
    run = await collect_into(tmp_path, history_file)
    assert run.returncode == 2, run.stderr
    assert f"cannot open the store sqlite:///{history_file}" in run.stderr
    assert "Traceback" not in run.stderr
    with sqlite3.connect(history_file) as connection:
        assert connection.execute("SELECT count(*) FROM collect_runs").fetchone() == (1,)
