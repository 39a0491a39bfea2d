"""The service against a database that turns read-only, long usernames and malformed entries,
a hub that is killed, and a port that is taken.

The real parts: a JupyterHub with the real proxy (``harness.hub``), the service's real SQLite
file made immutable with ``chattr +i`` (so root cannot write it either), and real processes
killed with SIGKILL. The rules behind each are unit-tested here too, without servers.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from harness.components import require_component
from harness.hub import HubProcess, running_hub
from harness.process import wait_until
from harness.servicelog import service_lines
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from jupyterhub_onboarding.app import Onboarding
from jupyterhub_onboarding.core.hubmodel import MAX_NAME_BYTES, ServerSeen, UserSeen, parse_user
from jupyterhub_onboarding.core.rules import CountingRules, month_of
from jupyterhub_onboarding.service.schema import milestones, usage_user_months
from jupyterhub_onboarding.service.store import Store
from jupyterhub_onboarding.serving import watch_parent

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
RULES = CountingRules()

#: The hub notices a dead managed service when its spawner polls the process, by default
#: every 30 s. Poll every second so a killed service is restarted quickly (test hub only).
FAST_SERVICE_RESTART = """
import jupyterhub.services.service as _service_module
from traitlets import Integer as _Integer


class _FastPollServiceSpawner(_service_module._ServiceSpawner):
    poll_interval = _Integer(1)


_service_module._ServiceSpawner = _FastPollServiceSpawner
"""


def now() -> datetime:
    return datetime.now(timezone.utc)


def parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def running(pid: int) -> bool:
    """Whether process *pid* runs (one that exited but was not reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# -- files made read-only -------------------------------------------------------------------


def require_chattr(directory: Path) -> None:
    """Skip (fail in CI) unless ``chattr +i`` works here: it needs root and ext4 or alike."""
    probe = directory / "chattr-probe"
    probe.write_text("probe")
    try:
        works = (
            shutil.which("chattr") is not None
            and (
                subprocess.run(["chattr", "+i", str(probe)], capture_output=True, check=False)
            ).returncode
            == 0
        )
    finally:
        subprocess.run(["chattr", "-i", str(probe)], capture_output=True, check=False)
        probe.unlink()
    require_component("chattr +i", works, "root and a file system with the immutable flag")


@contextlib.contextmanager
def immutable(paths: list[Path]) -> Iterator[None]:
    """Make *paths* immutable (nobody, root included, may write them) for the block."""
    done: list[Path] = []
    try:
        for path in paths:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)


def sqlite_files(db: Path) -> list[Path]:
    """The database file and those of its journal that exist now."""
    names = (db.name, f"{db.name}-wal", f"{db.name}-shm", f"{db.name}-journal")
    return [db.with_name(name) for name in names if db.with_name(name).exists()]


def test_sqlite_connections_use_a_rollback_journal_and_no_memory_map(tmp_path):
    """No WAL: its -shm file is memory-mapped, and a write to it once the file is read-only
    is a SIGBUS that kills the service."""
    store = Store(f"sqlite:///{tmp_path / 'onboarding.sqlite'}")
    try:
        store.upgrade()
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "delete"
            assert conn.execute(text("PRAGMA mmap_size")).scalar_one() == 0
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 10000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        store.close()


def test_a_wal_database_of_an_earlier_release_leaves_wal(tmp_path):
    path = tmp_path / "onboarding.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as earlier:
        assert earlier.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    store = Store(f"sqlite:///{path}")
    try:
        store.upgrade()
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "delete"
    finally:
        store.close()


def test_a_wal_database_held_open_by_another_process_still_works(tmp_path):
    """Leaving WAL needs the database to itself; until then the store works in WAL."""
    path = tmp_path / "onboarding.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("CREATE TABLE other (x)")
        store = Store(f"sqlite:///{path}")
        try:
            store.upgrade()
            store.record([UserSeen("alice", False, NOW)], NOW, RULES, full=True)
            assert [user.name for user in store.logged_in_users()] == ["alice"]
        finally:
            store.close()
    finally:
        holder.close()


#: A process holding the service's store open: it records, says "ready", waits for a line,
#: then reads and records again and says how that went.
STORE_USER = """
import sys
from datetime import datetime, timedelta, timezone
from sqlalchemy.exc import OperationalError
from jupyterhub_onboarding.core.hubmodel import UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service.store import Store

now = datetime.now(timezone.utc)
store = Store(sys.argv[1])
store.upgrade()
store.record([UserSeen(f"u{i}", False, now) for i in range(50)], now, CountingRules(), full=True)
store.aggregates(now, 5)
print("ready", flush=True)
sys.stdin.readline()
try:
    store.aggregates(now, 5)
    later = now + timedelta(minutes=1)
    store.record([UserSeen(f"v{i}", False, now) for i in range(50)], later, CountingRules())
except OperationalError as error:
    print("database error:", error.orig, flush=True)
else:
    print("written", flush=True)
"""


@pytest.mark.integration  # starts a process
def test_files_turning_read_only_under_an_open_store_are_an_error_not_sigbus(tmp_path):
    """The files become read-only while a process has the database open, as a file system
    remounted read-only does: the process gets an error, and is not killed by SIGBUS."""
    require_chattr(tmp_path)
    db = tmp_path / "onboarding.sqlite"
    user = subprocess.Popen(
        [sys.executable, "-c", STORE_USER, f"sqlite:///{db}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert user.stdout is not None and user.stdout.readline().strip() == "ready"
        with immutable(sqlite_files(db)):
            out, _ = user.communicate("go\n", timeout=60)
    finally:
        if user.poll() is None:
            user.kill()
            user.wait()
    assert user.returncode == 0, f"the process died with signal {-user.returncode}"
    assert out.startswith("database error:"), out


@pytest.mark.integration  # starts a process
async def test_a_failed_database_call_reconnects_before_its_retry(service, tmp_path):
    """A connection SQLite opened while the file was read-only stays read-only: the retry
    must use a new one, or the service fails until it is restarted by hand."""
    db = tmp_path / "onboarding.sqlite"
    require_chattr(tmp_path)
    await service.db(service.store.reconnect)  # no connection open: the next one is new
    attempts: list[int] = []

    def write_state() -> str:
        attempts.append(1)
        try:
            return service.store.get_or_set_state("probe", "written")
        finally:
            if len(attempts) == 1:
                # the first attempt ran on a read-only connection; writable from now on
                subprocess.run(["chattr", "-i", *map(str, sqlite_files(db))], check=True)

    with immutable(sqlite_files(db)):
        assert await service.db(write_state) == "written"
    assert len(attempts) == 2  # failed once on the read-only connection, then wrote
    assert await service.db(service.store.get_or_set_state, "probe", "other") == "written"


async def test_figures_are_refreshed_in_one_attempt(service):
    """A failing refresh keeps the last figures and is not retried (the next poll refreshes
    again), so a poll's outcome is not held back by a database that is down."""
    calls: list[int] = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))

    service.database_ready = True
    figures = service.aggregates
    service.store.aggregates = failing  # type: ignore[method-assign]
    await service.refresh()
    assert calls == [1]
    assert service.aggregates is figures


async def test_the_refresh_writes_first_value_and_the_per_user_table(service):
    """The figures' reads write nothing: the refresh after a poll stores first value and the
    month's per-user table by explicit calls."""
    now = service.clock()
    running = (ServerSeen("", True, now, now),)
    seen = [UserSeen(f"user{i}", False, now, running) for i in range(5)]
    await service.db(service.store.record, seen, now, service.rules)
    service.database_ready = True
    await service.refresh()
    with service.store.engine.connect() as conn:
        stored = set(conn.execute(select(milestones.c.basis, milestones.c.threshold)))
        rows = conn.execute(select(func.count()).select_from(usage_user_months)).scalar_one()
    assert stored == {("login", 5), ("server", 5)}
    assert rows == 5
    assert service.aggregates.milestones["login"] == now
    assert service.store.user_table.month == month_of(now)


@pytest.mark.integration
def test_a_read_only_database_is_survived_reported_and_recovered_from(tmp_path):
    require_chattr(tmp_path)
    config = 'c.Onboarding.stale_after = 3\nc.Onboarding.log_level = "INFO"\n'
    with running_hub(tmp_path, service_config=config, hub_config=FAST_SERVICE_RESTART) as hub:
        db = hub.service_dir / "jupyterhub_onboarding.sqlite"

        def failing_on_the_database_since(moment: datetime):
            def check(status: dict) -> bool:
                tracker = status["tracker"]
                return (
                    tracker["stale"]
                    and (parse(tracker["last_error_at"]) or moment) > moment
                    and tracker["last_error"].startswith("database")
                )

            return check

        hub.login("before-read-only").close()
        hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 1)
        pid = wait_until(hub.service_pid, 30, "the service process")
        files = sqlite_files(db)
        assert db in files
        with immutable(files):
            frozen_at = now()
            hub.login("during-read-only").close()
            status = hub.wait_for_status(failing_on_the_database_since(frozen_at), timeout=60)
            # still serving the last figures, alive: the same process, not killed by SIGBUS
            assert status["first_value"]["users_logged_in"] == 1
            assert httpx.get(f"{hub.service_url}health", timeout=5).status_code == 200
            assert running(pid) and hub.service_pid() == pid

            # a service that starts while the files are read-only answers at once, warming
            # up: it cannot prepare the database yet and says so (health 200, status 503)
            hub.kill_service()
            restarted = wait_until(
                lambda: (found := hub.service_pid()) not in (None, pid) and found,
                60,
                "the hub to restart the service",
            )

            def warming_up() -> bool:
                response = hub.status_response()
                return response.status_code == 503 and response.json()["message"].startswith(
                    "warming up: the database cannot be reached yet"
                )

            wait_until(warming_up, 60, "the restarted service to say it is warming up")
            health = httpx.get(f"{hub.service_url}health", timeout=5)
            assert health.status_code == 200 and health.json()["status"] == "warming up"

        # writable again: the service recovers by itself and counts the user it missed
        status = hub.wait_for_status(
            lambda s: not s["tracker"]["stale"] and s["first_value"]["users_logged_in"] == 2,
            timeout=60,
        )
        assert hub.service_pid() == restarted, "recovered without another restart"
        log = hub.log_path.read_text(errors="replace")
        assert "exited with status -7" not in log, "the service died of SIGBUS"
        assert "Database busy or unavailable" in "\n".join(service_lines(hub.log_path))


# -- long usernames and malformed entries ---------------------------------------------------


def deleted(store: Store) -> set[str]:
    return {user.name for user in store.logged_in_users() if user.deleted_at is not None}


def test_a_full_sync_keeps_the_users_of_malformed_entries(store):
    everyone = [UserSeen(name, False, NOW) for name in ("alice", "bob", "carol")]
    store.record(everyone, NOW, RULES, full=True)
    later = NOW + timedelta(hours=1)
    # bob's entry was malformed (his name could be read), carol was deleted from the hub
    result = store.record(everyone[:1], later, RULES, full=True, present={"bob"})
    assert result.users_deleted == 1
    assert deleted(store) == {"carol"}


def test_a_user_kept_present_comes_back_in_full_once_the_entry_parses(store):
    store.record([UserSeen("bob", False, NOW)], NOW, RULES, full=True)
    store.record([], NOW + timedelta(hours=1), RULES, full=True, present={"bob"})
    assert deleted(store) == set()
    store.record([], NOW + timedelta(hours=2), RULES, full=True)
    assert deleted(store) == {"bob"}  # no longer listed at all: deleted


def longest_name(alphabet: range, seed: int = 11) -> str:
    """A name of random characters from *alphabet*, as long as the parser accepts."""
    rng = random.Random(seed)
    name = ""
    while True:
        longer = name + chr(rng.choice(alphabet))
        if len(longer.encode()) > MAX_NAME_BYTES:
            return name
        name = longer


@pytest.mark.parametrize(
    "alphabet", [range(0x21, 0x7F), range(0x10000, 0x10FFF)], ids=["ascii", "4-byte-utf8"]
)
def test_the_longest_name_accepted_is_stored_on_every_backend(store, alphabet):
    """PostgreSQL keeps at most 2,704 bytes in the unique index on users.name; the parser's
    bound stays below it, even for a name that does not compress."""
    name = longest_name(alphabet)
    assert len(name.encode()) > MAX_NAME_BYTES - 4
    parsed = parse_user({"name": name, "admin": False, "last_activity": NOW.isoformat()})
    store.record([parsed], NOW, RULES, full=True)
    assert [user.name for user in store.logged_in_users()] == [name]


def deleted_in_file(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT name FROM users WHERE deleted_at IS NOT NULL").fetchall()
    return {row[0] for row in rows}


@pytest.mark.integration
def test_a_long_username_is_counted_and_deletions_are_still_noticed(tmp_path):
    long_name = "long-" + "n" * 315  # 320 characters; the hub on SQLite takes any length
    config = 'c.Onboarding.full_sync_interval = 2\nc.Onboarding.log_level = "INFO"\n'
    with running_hub(tmp_path, service_config=config) as hub:
        created = hub.api("POST", "users", json={"usernames": [long_name, "leaver"]})
        assert created.status_code == 201, created.text
        assert long_name in {user["name"] for user in hub.api("GET", "users").json()}
        hub.login(long_name).close()
        hub.login("leaver").close()
        hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 2)

        assert hub.api("DELETE", "users/leaver").status_code == 204
        db = hub.service_dir / "jupyterhub_onboarding.sqlite"
        wait_until(lambda: deleted_in_file(db) == {"leaver"}, 30, "the deletion to be noticed")
        status = hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 2)
        assert status["mau"]["login"] == 2  # deleted users stay counted
        lines = service_lines(hub.log_path)
        assert not [line for line in lines if "malformed" in line]
        assert not [line for line in lines if long_name in line]  # names stay out of the log


# -- the hub is killed; the port is taken ---------------------------------------------------


async def test_watch_parent_reports_once_the_parent_process_changes():
    parents = iter([4242, 4242, 4242, 1])
    waits: list[float] = []
    gone: list[bool] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    await watch_parent(
        4242, lambda: gone.append(True), interval=2.0, getppid=lambda: next(parents), sleep=sleep
    )
    assert gone == [True]
    assert waits == [2.0, 2.0, 2.0]  # one look per interval, no busy loop


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:10101", "JUPYTERHUB_API_TOKEN": "t"}, True),
        ({"JUPYTERHUB_API_TOKEN": "t"}, False),
        ({}, False),
    ],
)
def test_only_a_service_the_hub_started_exits_with_it_by_default(
    monkeypatch, environment, expected
):
    for name in ("JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Onboarding().exit_with_hub is expected
    assert Onboarding(exit_with_hub=not expected).exit_with_hub is not expected


def service_port(pid: int) -> int:
    """The port the hub told its service (process *pid*) to listen on."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    url = next(e for e in environ if e.startswith(b"JUPYTERHUB_SERVICE_URL=")).split(b"=", 1)[1]
    return int(url.rsplit(b":", 1)[1].decode())


@pytest.mark.integration  # starts a hub
def test_a_killed_hub_leaves_no_service_holding_the_port(tmp_path):
    hub = HubProcess(tmp_path)
    hub.start()
    service_pid = None
    try:
        service_pid = wait_until(hub.service_pid, 30, "the service process")
        port = service_port(service_pid)

        # (a second service on a taken port retries with one clear line: test_serving.py)
        assert hub.proc is not None
        killed = hub.proc.pid
        os.kill(killed, signal.SIGKILL)  # the hub only, not the service
        hub.proc.wait(timeout=10)
        hub.proc = None
        wait_until(lambda: not running(service_pid), 30, "the orphaned service to exit")
        lines = service_lines(hub.log_path)
        assert [line for line in lines if f"(process {killed}) is gone" in line], lines[-5:]

        # the hub's next start: its own new service gets the port and answers
        hub.start()
        restarted = wait_until(hub.service_pid, 30, "the new service process")
        assert restarted != service_pid
        assert service_port(restarted) == port
        hub.wait_for_status(lambda s: not s["tracker"]["stale"])
        lines = service_lines(hub.log_path)
        assert not [line for line in lines if "Address already in use" in line]
    finally:
        hub.stop()
        if service_pid is not None and running(service_pid):
            os.kill(service_pid, signal.SIGKILL)
        proxy_pid_file = tmp_path / "jupyterhub-proxy.pid"
        if proxy_pid_file.exists():  # the killed hub's proxy, when no later hub replaced it
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(proxy_pid_file.read_text().strip()), signal.SIGKILL)
