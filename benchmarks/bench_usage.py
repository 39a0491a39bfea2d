"""Benchmark 5: the cost of recording server sessions and of the usage figures.

A. The steady-state poll of a hub of 10,000 users with 1,000 running servers (the loopback
   stand-in of hubstub.py: a fifth of the running servers report new activity at each
   request), through Tracker.poll into a Store on SQLite, wired as the service wires it.
   Two stores side by side, polled alternately from the same stand-in: one records sessions
   (this release), one with session recording switched off (the poll as before it). Compared:
   the requests of a poll and the database time of its write (``record``).

B. A year of sessions: 100,000 counted users and 1,000,000 session rows, eleven twelfths
   over the year before this month and one twelfth (83,000) in this month so far, written
   straight into a fresh SQLite database. Measured: the database size they add, the
   aggregate refresh after a poll (``Store.usage_figures`` and ``Store.write_usage_table``:
   cold, as at start, and after a poll that changed sessions of the current month), one page
   of the per-user table for each sort order (against the same on a database of 100 users),
   the landing page's usage section rendered with that page, and the CSV of the current month.

C. Serving that database: a real hub (tests/harness/hub.py) whose managed service uses it, the
   landing page requested by an admin (hub OAuth cookie) on the service's port, alone and
   back to back while 50 clients ask for the status JSON (then the metrics) at 500 requests
   a second: the page's latency and theirs.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from bench_poll import PollRig
from bench_serving import admin_cookie
from bench_storage import db_size
from common import (
    Timer,
    hub_ports,
    log,
    median,
    print_table,
    start_hub,
    user_name,
    utcnow,
    write_result,
)
from harness.process import free_port, wait_until
from loadgen import run_load
from sqlalchemy import insert

from jupyterhub_onboarding.core.hubmodel import UserSeen
from jupyterhub_onboarding.core.links import resolve_links
from jupyterhub_onboarding.core.rules import CountingRules, add_months, month_of
from jupyterhub_onboarding.core.snapshot import Aggregates, Settings, TrackerState, build_snapshot
from jupyterhub_onboarding.page.handlers import landing_namespace
from jupyterhub_onboarding.page.templating import build_environment, hub_page_namespace, render_page
from jupyterhub_onboarding.page.usage import TableArgs, usage_csv, usage_section
from jupyterhub_onboarding.service.hubclient import HubClient
from jupyterhub_onboarding.service.schema import sessions
from jupyterhub_onboarding.service.store import USAGE_SORTS, Store, UsageQuery
from jupyterhub_onboarding.service.store.sessions import OpenState, SessionsRecorded, SessionStore
from jupyterhub_onboarding.settings import StandardLinks

HERE = Path(__file__).resolve().parent
TARGET_DB_GROWTH = 0.25
TARGET_REFRESH_S = 0.5
TARGET_PAGE_MS = 50
RULES = CountingRules()


class NoSessions(SessionStore):
    """Session recording switched off: a poll records no session and changes nothing."""

    def record(self, conn, poll):  # type: ignore[override]
        return SessionsRecorded(0, 0, frozenset(), frozenset(), OpenState((), None))


class SessionlessStore(Store):
    """The store with session recording switched off: the poll's write as before sessions."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sessions = NoSessions()


class Rig(PollRig):
    def __init__(self, hub: HubClient, db_path: Path, store_class: type[Store]) -> None:
        super().__init__(hub, db_path)
        self.store.close()
        self.store = store_class(f"sqlite:///{db_path}")
        self.store.upgrade()


def stand_in(users: int, running: int, *extra: str) -> tuple[subprocess.Popen, int]:
    """``hubstub.py`` serving *users* (*running* with a server) on a free port, started and
    ready; *extra* are more of its options."""
    port = free_port()
    stub = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "hubstub.py"),
            "--users",
            str(users),
            "--running",
            str(running),
            "--port",
            str(port),
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout is not None
    if stub.stdout.readline().strip() != "ready":
        raise RuntimeError("hub stand-in did not start")
    return stub, port


async def poll_cost(scratch: Path, users: int, running: int, reps: int) -> dict[str, Any]:
    stub, port = stand_in(users, running)
    client = HubClient(f"http://127.0.0.1:{port}/hub/api", "no-token", timeout=300)
    try:
        rigs = {
            "sessions": Rig(client, scratch / "with-sessions.sqlite", Store),
            "before": Rig(client, scratch / "before.sqlite", SessionlessStore),
        }
        for rig in rigs.values():
            await rig.poll(full=True)  # the first full sync, and the sessions opened
            await rig.poll(full=False)  # warm-up of the incremental path
        runs: dict[str, list[dict]] = {name: [] for name in rigs}
        for rep in range(reps):
            order = ("sessions", "before") if rep % 2 == 0 else ("before", "sessions")
            for name in order:
                runs[name].append(await rigs[name].poll(full=False))
        with Timer() as refresh:
            now = utcnow()
            figures = rigs["sessions"].store.usage_figures(now)
            rigs["sessions"].store.write_usage_table(now)
        open_sessions = figures.month(figures.months[-1].month).sessions if figures.months else 0
        for rig in rigs.values():
            rig.close()
    finally:
        client.close()
        stub.terminate()
        stub.wait(timeout=30)
    with_s = median([r["record_seconds"] for r in runs["sessions"]])
    before_s = median([r["record_seconds"] for r in runs["before"]])
    requests = max(r["requests"] for r in runs["sessions"])
    running_pages = -(-running // 200)
    return {
        "users": users,
        "running_servers": running,
        "repetitions": reps,
        "requests": requests,
        "running_server_pages": running_pages,
        "db_write_seconds_with_sessions": with_s,
        "db_write_seconds_before": before_s,
        "db_write_growth": with_s / before_s - 1,
        "poll_seconds_with_sessions": median([r["seconds"] for r in runs["sessions"]]),
        "poll_seconds_before": median([r["seconds"] for r in runs["before"]]),
        "usage_refresh_seconds": refresh.seconds,
        "sessions_recorded": open_sessions,
        "runs": runs,
        "targets_met": {
            "requests_at_most_3_plus_running_pages": requests <= 3 + running_pages,
            "db_time_growth_under_25pct": with_s / before_s - 1 < TARGET_DB_GROWTH,
        },
    }


# -- a year of sessions ---------------------------------------------------------------------


def fill_year(db_path: Path, users: int, total_sessions: int, now: datetime) -> dict[str, Any]:
    """*users* counted users and *total_sessions* sessions over the 12 months before *now*."""
    store = Store(f"sqlite:///{db_path}")
    store.upgrade()
    seen = [UserSeen(user_name(i), False, now - timedelta(days=i % 120)) for i in range(users)]
    store.record(seen, now, RULES, full=True)
    store.close()
    before = db_size(db_path)
    store = Store(f"sqlite:///{db_path}")
    # eleven twelfths in the year before this month, one twelfth in this month so far (however
    # far it is): the current month holds as many sessions as any other
    year_start = (now - timedelta(days=365)).timestamp()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    earlier = total_sessions * 11 // 12
    chunk = 50_000
    with Timer() as timer:
        for first in range(0, total_sessions, chunk):
            rows = []
            for n in range(first, min(total_sessions, first + chunk)):
                if n < earlier:
                    began = year_start + (n / earlier) * (month_start - year_start)
                else:
                    share = (n - earlier) / (total_sessions - earlier)
                    began = month_start + share * (now.timestamp() - 60 - month_start)
                length = 600 + (n * 7919) % 7200  # 10 minutes to 2 hours 10 minutes
                rows.append(
                    {
                        "user_id": 1 + (n * 104729) % users,
                        "server": "",
                        "started": began,
                        "ended": min(began + length, now.timestamp() - 1),
                        "last_activity": began + length / 2,
                        "profile": f"profile-{n % 30}",
                        "image": f"image-{n % 5}",
                    }
                )
            with store.engine.begin() as conn:
                conn.execute(insert(sessions), rows)
    store.close()
    after = db_size(db_path)
    return {
        "users": users,
        "sessions": total_sessions,
        "write_seconds": timer.seconds,
        "db_bytes_before_sessions": before,
        "db_bytes": after,
        "session_bytes": after - before,
        "bytes_per_session": (after - before) / total_sessions,
    }


def time_it(fn, reps: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(reps):
        with Timer() as timer:
            value = fn()
        times.append(timer.seconds)
    return median(times), value


def year_figures(db_path: Path, users: int, now: datetime, reps: int) -> dict[str, Any]:
    store = Store(f"sqlite:///{db_path}")
    try:
        with Timer() as cold:
            figures = store.usage_figures(now)
            store.write_usage_table(now)
        # a poll that changes the current month: 1,000 servers running, their sessions open
        running = [
            UserSeen(user_name(i), False, now, (_server(now - timedelta(minutes=30)),))
            for i in range(min(1000, users))
        ]
        refresh_times = []
        for rep in range(reps):
            when = now + timedelta(seconds=60 * (rep + 1))
            store.record(running, when, RULES)
            with Timer() as warm:
                store.usage_figures(when)
                store.write_usage_table(when)
            refresh_times.append(warm.seconds)
        month = month_of(now)
        pages = {}
        for sort in USAGE_SORTS:
            query = UsageQuery(month, now, sort=sort, descending=sort != "name", limit=50)
            pages[sort], _ = time_it(lambda q=query: store.usage_rows(q), reps)
        bucket_query = UsageQuery(
            month, now, sort="last_login", bucket=("last_login", "7d_30d"), limit=50
        )
        bucket_s, _ = time_it(lambda: store.usage_rows(bucket_query), reps)
        rows, total = store.usage_rows(UsageQuery(month, now, limit=50))
        render_s = render_section(figures, rows, total, now, reps)
        csv_query = UsageQuery(add_months(month, 0), now, limit=None, sort="name", descending=False)
        csv_s, text = time_it(lambda: usage_csv(store.usage_rows(csv_query)[0]), max(1, reps // 2))
    finally:
        store.close()
    return {
        "users": users,
        "months": len(figures.months),
        "cold_refresh_seconds": cold.seconds,
        "refresh_after_poll_seconds": median(refresh_times),
        "page_query_seconds": pages,
        "bucket_query_seconds": bucket_s,
        "section_render_seconds": render_s,
        "csv_seconds": csv_s,
        "csv_bytes": len(text.encode()),
    }


def _server(started: datetime):
    from jupyterhub_onboarding.core.hubmodel import ServerSeen

    return ServerSeen("", True, started, started, user_options={"profile": "profile-1"})


def render_section(figures, rows, total, now: datetime, reps: int) -> float:
    env = build_environment()
    settings = Settings(hub_url="https://hub.example.org", live_since=now - timedelta(days=400))
    snapshot = build_snapshot(
        Aggregates(users_logged_in=total, usage=figures),
        settings,
        TrackerState(last_success_at=now),
        now,
    )
    args = TableArgs(lambda name, default: default, month_of(now))
    layout = hub_page_namespace({"name": "admin", "admin": True}, "/hub/", [])

    links = resolve_links(StandardLinks().link_settings(), "https://hub.example.org")

    def render():
        ns = {
            **layout,
            **landing_namespace(
                snapshot,
                links,
                hub_url="https://hub.example.org",
                support_email="",
                response_time="",
                service_prefix="/services/onboarding/",
                threshold=5,
            ),
            **usage_section(snapshot, "/services/onboarding/", args, rows, total),
        }
        return render_page(env, "onboarding-usage.html", ns, "nonce")

    seconds, _ = time_it(render, reps)
    return seconds


def mixed_load(port: int, path: str, headers: dict, page_headers: dict, duration: float):
    prefix = "/services/onboarding/"
    other = run_load(
        "127.0.0.1",
        port,
        prefix + path,
        headers,
        clients=50,
        duration=duration,
        rate_per_client=500 / 50,
    )
    page = run_load("127.0.0.1", port, prefix, page_headers, clients=1, duration=duration)
    return await_both(other, page)


async def await_both(first, second):
    a, b = await asyncio.gather(first, second)
    return {"other": a.summary(), "page": b.summary()}


def serving(scratch: Path, db_path: Path, duration: float) -> dict[str, Any]:
    workdir = scratch / "hub"
    workdir.mkdir()
    hub = start_hub(
        workdir,
        quiet_service=False,  # the service checks tokens with the hub
        service_config=f"c.Onboarding.db_url = 'sqlite:///{db_path}'\n",
    )
    try:
        # the service's start-up refresh reads the year once (the cold refresh), then its
        # first poll (a full sync of the hub) and the refresh after it
        wait_until(lambda: hub.status()["tracker"]["last_success_at"], 600, "the first poll", 0.5)
        port = hub_ports(hub)["service"]
        page_headers = {"Cookie": admin_cookie(hub)}
        token = {"Authorization": f"token {hub.status_token}"}
        first = httpx.get(
            f"http://127.0.0.1:{port}/services/onboarding/", headers=page_headers, timeout=60
        )
        # the per-user table is on the Usage page since the landing page is by stage
        usage = httpx.get(
            f"http://127.0.0.1:{port}/services/onboarding/usage", headers=page_headers, timeout=60
        )
        if first.status_code != 200 or "usage-users-table" not in usage.text:
            raise RuntimeError(
                f"landing page: HTTP {first.status_code}; Usage page: HTTP {usage.status_code}"
            )
        alone = asyncio.run(
            run_load(
                "127.0.0.1",
                port,
                "/services/onboarding/",
                page_headers,
                clients=1,
                duration=duration,
            )
        ).summary()
        with_status = asyncio.run(mixed_load(port, "api/v1/status", token, page_headers, duration))
        with_metrics = asyncio.run(mixed_load(port, "metrics", token, page_headers, duration))
    finally:
        hub.stop()
    return {
        "page_alone": alone,
        "status_while_page_reloads": with_status,
        "metrics_while_page_reloads": with_metrics,
        "page_bytes": len(first.content),
    }


def run(quick: bool) -> dict[str, Any]:
    logging.getLogger("jupyterhub_onboarding").setLevel(logging.WARNING)
    logging.getLogger("tornado").setLevel(logging.ERROR)
    started = time.perf_counter()
    now = utcnow()
    reps = 5 if quick else 9
    total_sessions = 200_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench-usage-") as tmp:
        scratch = Path(tmp)
        log("poll of 10,000 users with 1,000 running servers: with and without sessions")
        poll = asyncio.run(poll_cost(scratch, 10_000, 1_000, reps))
        log(f"a year of {total_sessions:,} sessions for 100,000 users")
        year = fill_year(scratch / "year.sqlite", 100_000, total_sessions, now)
        big = year_figures(scratch / "year.sqlite", 100_000, now, reps)
        log("the same on a hub of 100 users")
        fill_year(scratch / "small.sqlite", 100, 1_000, now)
        small = year_figures(scratch / "small.sqlite", 100, now, reps)
        log("serving the year's database from a real hub's service")
        served = serving(scratch, scratch / "year.sqlite", 2.0 if quick else 5.0)
    poll_table = print_table(
        "Steady-state poll, 10,000 users, 1,000 running servers (medians, side by side)",
        [
            "requests",
            "limit",
            "db write s (sessions)",
            "db write s (before)",
            "growth",
            "poll s (sessions)",
            "poll s (before)",
        ],
        [
            (
                poll["requests"],
                3 + poll["running_server_pages"],
                poll["db_write_seconds_with_sessions"],
                poll["db_write_seconds_before"],
                f"{100 * poll['db_write_growth']:.1f}%",
                poll["poll_seconds_with_sessions"],
                poll["poll_seconds_before"],
            )
        ],
    )
    year_table = print_table(
        f"A year of sessions ({total_sessions:,} rows): size, refresh, page and CSV (seconds)",
        ["users", "bytes/session", "cold refresh", "refresh after poll", "section render", "CSV"],
        [
            (
                r["users"],
                year["bytes_per_session"] if r is big else "",
                r["cold_refresh_seconds"],
                r["refresh_after_poll_seconds"],
                r["section_render_seconds"],
                r["csv_seconds"],
            )
            for r in (big, small)
        ],
    )
    page_table = print_table(
        "One page (50 rows) of the per-user table, by sort (ms)",
        ["users", *USAGE_SORTS, "bucket"],
        [
            (
                r["users"],
                *(1000 * r["page_query_seconds"][s] for s in USAGE_SORTS),
                1000 * r["bucket_query_seconds"],
            )
            for r in (big, small)
        ],
    )
    serving_table = print_table(
        "Serving the landing page at 100,000 users with a year of sessions (ms)",
        ["load", "page med", "page p99", "pages", "other med", "other p99", "other max"],
        [
            (
                "page alone",
                served["page_alone"]["median_ms"],
                served["page_alone"]["p99_ms"],
                served["page_alone"]["requests"],
                None,
                None,
                None,
            ),
            *(
                (
                    f"{name} at 500/s",
                    served[key]["page"]["median_ms"],
                    served[key]["page"]["p99_ms"],
                    served[key]["page"]["requests"],
                    served[key]["other"]["median_ms"],
                    served[key]["other"]["p99_ms"],
                    served[key]["other"]["max_ms"],
                )
                for name, key in (
                    ("status", "status_while_page_reloads"),
                    ("metrics", "metrics_while_page_reloads"),
                )
            ),
        ],
    )
    result = {
        "targets": {
            "poll_requests": "<= 3 + pages of running servers",
            "poll_db_time_growth": f"< {TARGET_DB_GROWTH:.0%}",
            "refresh_after_poll_seconds": f"< {TARGET_REFRESH_S}",
            "page_ms": f"< {TARGET_PAGE_MS}",
        },
        "quick": quick,
        "poll": poll,
        "year": year,
        "figures_100000": big,
        "figures_100": small,
        "serving": served,
        "tables": [poll_table, year_table, page_table, serving_table],
        "seconds": time.perf_counter() - started,
    }
    write_result("usage", result)
    return result


CACHE: Path | None = None
