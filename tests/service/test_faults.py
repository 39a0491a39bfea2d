"""Faults: the hub API failing, the service killed mid-poll, the database locked or restarted.

One real hub (with the real proxy) runs for the module, its onboarding service reading the
hub API through a :class:`FaultProxy`. Each test breaks one thing, checks that the service
keeps serving and reports it, then that it recovers by itself and has counted every user
exactly once.
"""

from __future__ import annotations

import itertools
import signal
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from harness.faultproxy import FaultProxy
from harness.hub import HubProcess, running_hub
from harness.process import wait_until
from harness.servicelog import leaks, service_lines
from sqlalchemy import text

from jupyterhub_onboarding.service.store import Store

pytestmark = pytest.mark.integration

THRESHOLD = 3

SERVICE_CONFIG = f"""
c.Onboarding.stale_after = 3
c.Onboarding.hub_request_timeout = 1
c.Onboarding.hub_retries = 1
c.Onboarding.first_value_threshold = {THRESHOLD}
c.Onboarding.log_level = "INFO"
"""

#: The hub notices a dead managed service when its spawner polls the process, by default
#: every 30 s. Poll every second so repeated kills restart quickly (test hub only).
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


class FaultyHub:
    """The module's hub, its fault proxy and the users logged in so far."""

    def __init__(self, hub: HubProcess, proxy: FaultProxy) -> None:
        self.hub = hub
        self.proxy = proxy
        self.logged_in: list[str] = []

    @property
    def db_path(self) -> Path:
        return self.hub.service_dir / "jupyterhub_onboarding.sqlite"

    def login(self, name: str) -> None:
        self.hub.login(name).close()
        self.logged_in.append(name)

    def polled_after(self, moment: datetime, timeout: float = 60) -> dict:
        """The status once a poll that started after *moment* has succeeded."""

        def fresh(status: dict) -> bool:
            done = parse(status["tracker"]["last_success_at"])
            return done is not None and done > moment

        return self.hub.wait_for_status(fresh, timeout=timeout)

    def all_counted(self, timeout: float = 60) -> dict:
        """Wait for a fresh, non-stale status counting exactly the users logged in so far."""
        expected = len(set(self.logged_in))
        self.hub.wait_for_status(
            lambda s: not s["tracker"]["stale"] and s["first_value"]["users_logged_in"] == expected,
            timeout=timeout,
        )
        # one more complete poll: a second look must not count anyone again
        status = self.polled_after(now(), timeout=timeout)
        assert status["first_value"]["users_logged_in"] == expected
        assert status["mau"]["login"] == expected
        return status

    def health(self) -> httpx.Response:
        return httpx.get(f"{self.hub.service_url}health", timeout=5)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    proxy = FaultProxy().start()
    hub = HubProcess(
        tmp_path_factory.mktemp("faults"),
        service_config=SERVICE_CONFIG + f"c.Onboarding.hub_api_url = {proxy.api_url!r}\n",
        hub_config=FAST_SERVICE_RESTART,
    )
    proxy.upstream = hub.url
    try:
        hub.start()
        yield FaultyHub(hub, proxy)
    finally:
        hub.stop()
        proxy.stop()


def assert_database_consistent(db_path: Path, expected_logged_in: set[str]) -> None:
    """Open the service's SQLite file the way the service does and check it thoroughly."""
    store = Store(f"sqlite:///{db_path}")
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
            duplicates = conn.execute(
                text("SELECT name FROM users GROUP BY name HAVING count(*) > 1")
            ).fetchall()
            assert duplicates == []
            orphans = conn.execute(
                text(
                    "SELECT count(*) FROM activity a LEFT JOIN users u ON u.id = a.user_id "
                    "WHERE u.id IS NULL"
                )
            ).scalar_one()
            assert orphans == 0
            logged_in = {
                row[0]
                for row in conn.execute(
                    text("SELECT name FROM users WHERE first_login_at IS NOT NULL")
                )
            }
            assert logged_in == expected_logged_in
            # every logged-in user has exactly one login row for each month they were active
            rows = conn.execute(
                text(
                    "SELECT u.name, count(*) FROM activity a JOIN users u ON u.id = a.user_id "
                    "WHERE a.basis = 0 GROUP BY u.name, a.month HAVING count(*) > 1"
                )
            ).fetchall()
            assert rows == []
    finally:
        store.close()


# -- the hub API misbehaves ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("down", "stream closed"),
        ("500", "HTTP 500"),
        ("hang", "timeout"),
        ("truncated", "not JSON"),
        ("garbage", "unexpected users page"),
    ],
)
def test_hub_api_fault_is_reported_then_recovered(faulty, mode, reason):
    hub, proxy = faulty.hub, faulty.proxy
    faulty.login(f"before-{mode}")
    faulty.all_counted()

    broken_at = now()
    proxy.set_mode(mode)
    try:
        status = hub.wait_for_status(
            lambda s: (
                s["tracker"]["stale"]
                and (parse(s["tracker"]["last_error_at"]) or broken_at) > broken_at
            ),
            timeout=30,
        )
        assert reason in status["tracker"]["last_error"]
        assert "?" not in status["tracker"]["last_error"], "no query strings in errors"
        # still serving: health answers and says stale, the figures are the last good ones
        health = faulty.health()
        assert health.status_code == 200 and health.json()["stale"] is True
        assert status["first_value"]["users_logged_in"] == len(set(faulty.logged_in))

        # a user logs in during the outage
        faulty.login(f"during-{mode}")
        requests_before = proxy.listing_requests
        wait_until(
            lambda: proxy.listing_requests >= requests_before + 2,
            30,
            "the service to keep polling during the outage",
        )
        assert hub.status()["tracker"]["stale"] is True
    finally:
        proxy.set_mode("ok")

    status = faulty.all_counted()
    assert status["tracker"]["stale"] is False
    assert parse(status["tracker"]["last_success_at"]) > parse(status["tracker"]["last_error_at"])


def test_junk_entries_are_skipped_and_lose_nobody(faulty):
    """A page of malformed user models is read as 'no users', and forgets nobody."""
    faulty.login("before-junk")
    faulty.all_counted()
    faulty.proxy.set_mode("junk-items")
    try:
        moment = now()
        status = faulty.polled_after(moment)
        assert status["first_value"]["users_logged_in"] == len(set(faulty.logged_in))
    finally:
        faulty.proxy.set_mode("ok")
    faulty.all_counted()


def test_full_sync_of_junk_page_marks_nobody_deleted(faulty):
    """A restart (full sync) while the hub sends malformed entries must not 'delete' users.

    Users the hub still has, but whose entries could not be parsed, are not gone.
    """
    hub = faulty.hub
    faulty.all_counted()
    faulty.proxy.set_mode("junk-items")
    try:
        hub.kill_service()
        wait_until(lambda: faulty.health().status_code == 200, 60, "the service to restart")
        faulty.polled_after(now())
    finally:
        faulty.proxy.set_mode("ok")
    with sqlite3.connect(f"file:{faulty.db_path}?mode=ro", uri=True) as conn:
        deleted = conn.execute("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL")
        assert deleted.fetchone()[0] == 0
    faulty.all_counted()


# -- the service is killed -----------------------------------------------------------------


def interrupted_full_syncs(log_path: Path) -> int:
    """How many kills of the service hit it before its first (full) poll had finished."""
    interrupted, synced = 0, True
    for line in log_path.read_text(errors="replace").splitlines():
        if "Onboarding]" in line and "listening on" in line:
            synced = False
        elif "Onboarding]" in line and "Full poll recorded" in line:
            synced = True
        elif "Service onboarding exited with status -9" in line and not synced:
            interrupted += 1
    return interrupted


def test_sigkill_during_polls_loses_nothing(faulty):
    hub = faulty.hub
    # never-active users make each restart's full sync long enough (about 0.4 s) to be hit
    extra = [f"listed-{i:04d}" for i in range(1500)]
    for start in range(0, len(extra), 250):  # in parts: one request each stays short
        created = hub.api("POST", "users", json={"usernames": extra[start : start + 250]})
        assert created.status_code == 201, created.text
    history = [faulty.all_counted()]

    def status_when_up() -> dict | None:
        """The status if the service answers (every answer is kept for the checks)."""
        response = hub.status_response(timeout=5)
        if response.status_code != 200:
            return None
        history.append(response.json())
        return history[-1]

    pids = set()
    # delays after the (re)started service answers: its first, full poll is then running
    for round_, delay in enumerate((0.0, 0.05, 0.1, 0.15, 0.25, 0.5)):
        faulty.login(f"killed-{round_}")
        wait_until(status_when_up, 60, "the service to answer", interval=0.02)
        deadline = time.monotonic() + delay
        wait_until(lambda d=deadline: time.monotonic() >= d, 5, "the moment to kill", 0.01)
        pids.add(hub.kill_service(signal.SIGKILL))
    assert len(pids) == 6, "each round killed a new process"

    history.append(faulty.all_counted())
    for earlier, later in itertools.pairwise(history):
        for section, key in (("first_value", "users_logged_in"), ("mau", "login")):
            assert later[section][key] >= earlier[section][key], (
                f"{section}.{key} went down across a restart"
            )
    achieved = [s["first_value"]["achieved_at"] for s in history]
    reached = achieved.index(next(a for a in achieved if a is not None))
    assert set(achieved[reached:]) == {achieved[reached]}, f"first value moved: {achieved}"
    assert_database_consistent(faulty.db_path, set(faulty.logged_in))
    with sqlite3.connect(f"file:{faulty.db_path}?mode=ro", uri=True) as conn:
        known = conn.execute("SELECT count(*) FROM users").fetchone()[0]
    assert known >= len(extra) + len(set(faulty.logged_in))
    assert interrupted_full_syncs(hub.log_path) >= 1, "no kill landed during a poll"


# -- the database is locked ----------------------------------------------------------------


def hold_write_lock(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=5, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def test_briefly_locked_database_makes_the_poll_wait(faulty):
    hub, proxy = faulty.hub, faulty.proxy
    before = faulty.all_counted()
    lock = hold_write_lock(faulty.db_path)
    locked_at = time.monotonic()
    try:
        faulty.login("during-short-lock")
        requests = proxy.listing_requests
        # a poll that started after the login has read the user and now waits to write
        wait_until(lambda: proxy.listing_requests >= requests + 2, 10, "a poll to start")
        with pytest.raises(TimeoutError):
            wait_until(
                lambda: hub.status()["first_value"]["users_logged_in"] > len(faulty.logged_in) - 1,
                1.5,
                "the blocked poll to record (it must not)",
            )
        # the blocked poll holds the poll loop: no new polls pile up
        assert proxy.listing_requests <= requests + 3
        assert faulty.health().status_code == 200
    finally:
        lock.rollback()
        lock.close()
    assert time.monotonic() - locked_at < 10, "held longer than the store's busy timeout"
    status = faulty.all_counted()
    assert status["tracker"]["last_error_at"] == before["tracker"]["last_error_at"]


def test_long_locked_database_fails_the_poll_then_recovers(faulty):
    hub = faulty.hub
    faulty.all_counted()
    lock = hold_write_lock(faulty.db_path)
    locked_at = now()
    try:
        faulty.login("during-long-lock")
        slowest, unhealthy = 0.0, 0

        def database_error_reported() -> bool:
            nonlocal slowest, unhealthy
            started = time.monotonic()
            unhealthy += faulty.health().status_code != 200
            status = hub.status()
            slowest = max(slowest, time.monotonic() - started)
            tracker = status["tracker"]
            return (
                tracker["stale"]
                and (parse(tracker["last_error_at"]) or locked_at) > locked_at
                and tracker["last_error"].startswith("database")
            )

        # busy timeout 10 s, three attempts: the poll gives up after about 32 s
        wait_until(database_error_reported, 60, "the poll to fail on the locked database")
        assert unhealthy == 0 and slowest < 2, "the service must keep answering meanwhile"
    finally:
        lock.rollback()
        lock.close()
    status = faulty.all_counted()
    assert status["tracker"]["last_error"].startswith("database")
    lines = "\n".join(service_lines(hub.log_path))
    assert "Database busy or unavailable; retry 2/2" in lines


# -- what the service logged -----------------------------------------------------------------


def test_service_log_has_no_tokens_or_usernames(faulty):
    hub = faulty.hub
    lines = service_lines(hub.log_path)
    assert any("poll" in line for line in lines), "found none of the service's log lines"
    assert any("Poll failed" in line for line in lines)
    assert faulty.proxy.seen_tokens, "the proxy saw the service's token"
    secrets = [*faulty.proxy.seen_tokens, hub.status_token, hub.admin_token]
    assert leaks(lines, secrets) == []
    names = [name for name in faulty.logged_in if len(name) > 6]
    assert leaks(lines, names) == []


# -- PostgreSQL restarted under the running service ---------------------------------------


def test_postgresql_restart_under_running_service(tmp_path, postgres):
    url = postgres.create_database()
    config = SERVICE_CONFIG + f"c.Onboarding.db_url = {url!r}\n"
    with running_hub(tmp_path, service_config=config) as hub:
        admin = hub.login("admin")
        hub.login("pg-before-1")
        hub.login("pg-before-2")
        hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] == 3)
        pid = hub.service_pid()

        stopped_at = now()
        postgres.stop()
        try:
            hub.login("pg-during")
            status = hub.wait_for_status(
                lambda s: (parse(s["tracker"]["last_error_at"]) or stopped_at) > stopped_at,
                timeout=30,
            )
            assert status["tracker"]["last_error"].startswith("database")
            assert httpx.get(f"{hub.service_url}health", timeout=5).status_code == 200
            # the admin page keeps its last figures while the database is away (first value
            # is reached: the first screen shows this month's MAU, read before the stop)
            page = admin.get(hub.service_url)
            admin.close()
            assert page.status_code == 200, page.text[:500]
            assert f'id="mau-billing">{THRESHOLD}<' in page.text, page.text[:2000]
        finally:
            postgres.start()

        status = hub.wait_for_status(
            lambda s: s["first_value"]["users_logged_in"] == 4 and not s["tracker"]["stale"],
            timeout=60,
        )
        assert status["mau"]["login"] == 4
        assert hub.service_pid() == pid, "the service crashed and was restarted"
        lines = "\n".join(service_lines(hub.log_path))
        assert "Database busy or unavailable; retry 1/2" in lines
        assert "Traceback" not in lines
