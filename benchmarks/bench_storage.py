"""Benchmark 3: database size and write time over a year; resident memory of the service.

A. A year of daily activity for 10,000 users, recorded with Store.record on SQLite with an
   injected time per day (18:00 UTC): one record a day holding that day's active users
   (what a day of incremental polls writes, merged). Half of the active users also had a
   running server (the server basis). Two activity patterns: every user once a week (1/7
   of them each day; the --quick pattern) and every user every day (the worst case; full
   run only). Both leave one row per user, month and basis, so the database size is the
   same; the write time differs.

B. Resident memory (VmRSS, and the peak VmHWM) of a real service process after its full
   sync: with a real hub of 10,000 users (the service managed by the hub), and with the
   loopback stand-in of hubstub.py serving 10,000 and 100,000 users in the hub's
   pagination format (a hub with 100,000 users takes too long to create: about 6.5 ms a
   user). The 10,000-user pair shows the stand-in gives the same figure as the real hub.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from common import (
    Timer,
    hub_with_users,
    log,
    median,
    percentile,
    print_table,
    proc_memory,
    user_name,
    write_result,
)
from harness.process import free_port, wait_until

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service.store import Store

USERS = 10_000
TARGET_RSS_MIB = 150
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))
YEAR_START = datetime(2025, 1, 1, 18, tzinfo=timezone.utc)
HERE = Path(__file__).resolve().parent


def db_size(path: Path) -> int:
    """Bytes of the SQLite file after a WAL checkpoint (the WAL file then is empty)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def day_users(day: int, pattern: str) -> range | list[int]:
    if pattern == "daily":
        return range(USERS)
    return [i for i in range(USERS) if i % 7 == day % 7]


def simulate_year(db_path: Path, pattern: str) -> dict[str, Any]:
    store = Store(f"sqlite:///{db_path}")
    store.upgrade()
    times = []
    for day in range(365):
        when = YEAR_START + timedelta(days=day)
        seen = [
            UserSeen(
                name=user_name(i),
                admin=False,
                last_activity=when - timedelta(seconds=i % 3600),
                servers=(ServerSeen("", True, when - timedelta(hours=2), when),)
                if i % 2 == 0
                else (),
            )
            for i in day_users(day, pattern)
        ]
        with Timer() as timer:
            store.record(seen, when, RULES, full=False)
        times.append(timer.seconds)
        if day % 73 == 72:
            log(f"  {pattern}: day {day + 1}/365, last write {timer.seconds:.3f}s")
    end = YEAR_START + timedelta(days=365)
    with Timer() as agg:
        store.record_milestones(5)
        aggregates = store.aggregates(end, 5)
    with store.engine.connect() as conn:
        activity_rows = conn.exec_driver_sql("SELECT count(*) FROM activity").scalar_one()
        user_rows = conn.exec_driver_sql("SELECT count(*) FROM users").scalar_one()
    store.close()
    size = db_size(db_path)
    return {
        "pattern": pattern,
        "users_per_day": len(day_users(0, pattern)),
        "days": 365,
        "total_write_seconds": sum(times),
        "median_day_write_seconds": median(times),
        "p95_day_write_seconds": percentile(times, 95),
        "max_day_write_seconds": max(times),
        "aggregates_seconds_after_a_year": agg.seconds,
        "months_in_history": len(aggregates.months),
        "user_rows": user_rows,
        "activity_rows": activity_rows,
        "db_bytes": size,
        "db_mib": size / 2**20,
        "bytes_per_user": size / USERS,
    }


# -- resident memory ------------------------------------------------------------------------------


def sample_memory(pid: int, seconds: float = 2.0) -> dict[str, float]:
    """The highest VmRSS over a few samples, and the peak (VmHWM) since the process started."""
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(proc_memory(pid))
        time.sleep(0.2)
    return {
        "rss_mib": max(s["rss_mib"] for s in samples),
        "peak_rss_mib": max(s["peak_rss_mib"] for s in samples),
    }


def rss_real_hub(scratch: Path) -> dict[str, Any]:
    """The hub-managed service after its full sync of a real hub with USERS users."""
    workdir = scratch / "hub"
    hub = hub_with_users(workdir, USERS, cache=CACHE, quiet_service=False)
    try:
        with Timer() as timer:
            status = hub.wait_for_status(
                lambda s: (
                    s["tracker"]["last_success_at"] and s["first_value"]["users_logged_in"] >= USERS
                ),
                timeout=300,
            )
        pid = hub.service_pid()
        memory = sample_memory(pid)
    finally:
        hub.stop()
    return {
        "source": "real hub",
        "users": USERS,
        "users_counted": status["first_value"]["users_logged_in"],
        "sync_wait_seconds": timer.seconds,
        **memory,
    }


class ServiceProcess:
    """``python -m jupyterhub_onboarding`` outside a hub, reading the hub stand-in."""

    def __init__(self, workdir: Path, hub_api_url: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "jupyterhub_onboarding_config.py").write_text(
            "c = get_config()  # noqa\n"
            f"c.Onboarding.db_url = 'sqlite:///{workdir / 'onboarding.sqlite'}'\n"
            "c.Onboarding.poll_interval = 3600\n"
            "c.Onboarding.hub_request_timeout = 120\n"
            "c.Onboarding.log_level = 'INFO'\n"
        )
        port = free_port()
        env = dict(os.environ)
        env.update(
            JUPYTERHUB_API_TOKEN=secrets.token_hex(16),
            JUPYTERHUB_API_URL=hub_api_url,
            JUPYTERHUB_SERVICE_URL=f"http://127.0.0.1:{port}",
            JUPYTERHUB_SERVICE_PREFIX="/services/onboarding/",
            JUPYTERHUB_SERVICE_NAME="onboarding",
            PYTHONUNBUFFERED="1",
        )
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub_onboarding"],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())

    def full_sync_line(self) -> str | None:
        if self.proc.poll() is not None:
            raise RuntimeError("service exited:\n" + "\n".join(self.lines[-20:]))
        return next((x for x in self.lines if "Full poll recorded" in x), None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def rss_stand_in(scratch: Path, users: int) -> dict[str, Any]:
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, str(HERE / "hubstub.py"), "--users", str(users), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stub.stdout is not None
        if stub.stdout.readline().strip() != "ready":
            raise RuntimeError("hub stand-in did not start")
        service = ServiceProcess(scratch / f"service-{users}", f"http://127.0.0.1:{port}/hub/api")
        try:
            with Timer() as timer:
                line = wait_until(service.full_sync_line, 600, "the service's full sync", 0.2)
            time.sleep(1.0)  # the aggregate refresh that follows the poll
            memory = sample_memory(service.proc.pid)
        finally:
            service.stop()
    finally:
        stub.terminate()
        stub.wait(timeout=30)
    recorded = int(re.search(r"recorded (\d+) users", line).group(1))
    return {
        "source": "stand-in",
        "users": users,
        "users_counted": recorded,
        "sync_wait_seconds": timer.seconds,
        **memory,
    }


def run(quick: bool) -> dict[str, Any]:
    started = time.perf_counter()
    patterns = ["weekly"] if quick else ["weekly", "daily"]
    years, memory = [], []
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        scratch = Path(tmp)
        for pattern in patterns:
            log(f"a year of activity for {USERS:,} users, pattern {pattern}")
            years.append(simulate_year(scratch / f"year-{pattern}.sqlite", pattern))
        log("resident memory: stand-in 0 / 10,000 / 100,000 users")
        for users in (0, USERS, 100_000):
            memory.append(rss_stand_in(scratch, users))
            log(f"  stand-in {users:,}: {memory[-1]['rss_mib']:.0f} MiB")
        log("resident memory: real hub with 10,000 users")
        memory.append(rss_real_hub(scratch))
    year_table = print_table(
        f"A year (365 days) of activity for {USERS:,} users on SQLite",
        [
            "pattern",
            "users/day",
            "total write s",
            "median day s",
            "p95 day s",
            "activity rows",
            "DB MiB",
            "bytes/user",
            "aggregates s",
        ],
        [
            (
                y["pattern"],
                y["users_per_day"],
                y["total_write_seconds"],
                y["median_day_write_seconds"],
                y["p95_day_write_seconds"],
                y["activity_rows"],
                y["db_mib"],
                y["bytes_per_user"],
                y["aggregates_seconds_after_a_year"],
            )
            for y in years
        ],
    )
    memory_table = print_table(
        "Resident memory of the service process after its full sync (MiB)",
        ["source", "users", "counted", "sync s", "VmRSS", "peak VmHWM", "target <150 at 100k"],
        [
            (
                m["source"],
                m["users"],
                m["users_counted"],
                m["sync_wait_seconds"],
                m["rss_mib"],
                m["peak_rss_mib"],
                (m["rss_mib"] < TARGET_RSS_MIB and m["peak_rss_mib"] < TARGET_RSS_MIB)
                if m["users"] == 100_000
                else "n/a",
            )
            for m in memory
        ],
    )
    result = {
        "targets": {"rss_mib_at_100000_users": f"< {TARGET_RSS_MIB}"},
        "quick": quick,
        "year": years,
        "memory": memory,
        "tables": [year_table, memory_table],
        "seconds": time.perf_counter() - started,
    }
    write_result("storage", result)
    return result


CACHE: Path | None = None
