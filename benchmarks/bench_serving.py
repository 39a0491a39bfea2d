"""Benchmark 2: serving the status JSON, /metrics and the landing page under 50 clients.

Two services run side by side, each inside its own real hub (tests/harness/hub.py): one whose
database holds 10,000 counted users and 24 months of history, one with the same users and
1 month. Their databases are filled directly with Store.record at injected times before the
hubs start. Requests go straight to each service's port on loopback, authenticated as the
hub does it: the status and metrics endpoints with a hub token holding only
``access:services!service=onboarding`` (the service caches the hub's answer for 60 s), the
landing page with an admin's service cookie obtained through the hub's OAuth login.

For each endpoint and history length:

- one client, one request at a time: the service time of one request;
- 50 clients in a closed loop (each sends again as soon as it is answered): saturation, the
  server always holds 50 requests; latency there is 50 / throughput by Little's law;
- 50 clients in an open loop at half the measured capacity: latency under a heavy but
  sustainable load;
- and, mixed: the status endpoint at 500 requests a second while an admin reloads the
  landing page back to back (the page is rendered on the same event loop).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import Timer, hub_ports, log, print_table, start_hub, user_name, utcnow, write_result
from loadgen import run_load

from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules, add_months, month_of
from jupyterhub_onboarding.service.store import Store

USERS = 10_000
CLIENTS = 50
TARGET_MEDIAN_MS = 20
TARGET_P99_MS = 100
#: Status requests a second in the mixed run (about half of what the service can answer).
MIXED_RATE = 500
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))


def month_start(month: int) -> datetime:
    return datetime(month // 100, month % 100, 1, tzinfo=utcnow().tzinfo)


def fill_history(db_path: Path, months: int, now: datetime, users: int = USERS) -> dict:
    """*users* counted users with *months* months of activity up to now, via Store.record.

    Every user is active in the oldest and the current month; in between about two in three
    are, so the history is not flat. Each active user also had a running server.
    """
    store = Store(f"sqlite:///{db_path}")
    store.upgrade()
    current = month_of(now)
    seconds = 0.0
    for back in range(months - 1, -1, -1):
        month = add_months(current, -back)
        start = month_start(month)
        when = min(start + timedelta(days=10, hours=12), now - timedelta(minutes=5))
        when = max(when, start + timedelta(minutes=1))
        seen = [
            UserSeen(
                name=user_name(i),
                admin=False,
                last_activity=when - timedelta(seconds=i % 3600),
                servers=(ServerSeen("", True, when - timedelta(hours=1), when),),
            )
            for i in range(users)
            if back in (0, months - 1) or (i + back) % 3 != 0
        ]
        with Timer() as timer:
            store.record(seen, when, RULES, full=False)
        seconds += timer.seconds
    store.close()
    return {"months": months, "users": users, "fill_seconds": seconds}


def admin_cookie(hub) -> str:
    """An admin's cookie for the service, through the hub's login form and OAuth."""
    client = hub.login("admin")
    try:
        response = client.get(hub.service_url)
        if response.status_code != 200:
            raise RuntimeError(f"landing page through the proxy: HTTP {response.status_code}")
        prefix = "/services/onboarding/"
        pairs = [
            f"{c.name}={c.value}"
            for c in client.cookies.jar
            if prefix.startswith(c.path) or c.path.startswith(prefix.rstrip("/"))
        ]
    finally:
        client.close()
    return "; ".join(pairs)


ENDPOINTS = {
    "status": "api/v1/status",
    "metrics": "metrics",
    "page": "",
}


async def measure_endpoint(
    port: int, path: str, headers: dict[str, str], duration: float
) -> dict[str, Any]:
    single = await run_load("127.0.0.1", port, path, headers, clients=1, duration=duration)
    single_s = single.summary()
    service_ms = single_s["median_ms"]
    closed = await run_load("127.0.0.1", port, path, headers, clients=CLIENTS, duration=duration)
    closed_s = closed.summary()
    capacity = closed_s["throughput_per_s"]
    per_client = 0.5 * capacity / CLIENTS
    opened = await run_load(
        "127.0.0.1",
        port,
        path,
        headers,
        clients=CLIENTS,
        duration=max(duration, min(3 / per_client, 2 * duration)),
        rate_per_client=per_client,
    )
    return {
        "single_client": single_s,
        "closed_loop_50": closed_s,
        "open_loop_50_at_half_capacity": {"offered_per_s": 0.5 * capacity, **opened.summary()},
        "service_time_ms": service_ms,
    }


async def measure_mixed(
    port: int, headers: dict[str, dict[str, str]], duration: float, rate: float
) -> dict[str, Any]:
    """JSON status at *rate* a second from 50 clients while one admin reloads the page."""
    prefix = "/services/onboarding/"
    status_load = run_load(
        "127.0.0.1",
        port,
        prefix + ENDPOINTS["status"],
        headers["status"],
        clients=CLIENTS,
        duration=duration,
        rate_per_client=rate / CLIENTS,
    )
    page_load = run_load(
        "127.0.0.1", port, prefix + ENDPOINTS["page"], headers["page"], clients=1, duration=duration
    )
    status, page = await asyncio.gather(status_load, page_load)
    return {"status_offered_per_s": rate, "status": status.summary(), "page": page.summary()}


def run(quick: bool) -> dict[str, Any]:
    duration = 2.0 if quick else 5.0
    rounds = 1 if quick else 2
    now = utcnow()
    started = time.perf_counter()
    measurements: list[dict[str, Any]] = []
    mixed: list[dict[str, Any]] = []
    fills = []
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        hubs = {}
        try:
            for months in (24, 1):
                workdir = Path(tmp) / f"hub-{months}"
                workdir.mkdir()
                db = workdir / "onboarding.sqlite"
                log(f"filling a service database: {USERS:,} users, {months} month(s)")
                fills.append(fill_history(db, months, now))
                hub = start_hub(
                    workdir,
                    quiet_service=False,
                    service_config=f"c.Onboarding.db_url = 'sqlite:///{db}'\n",
                )
                hubs[months] = hub
                hub.wait_for_status(lambda s: s["tracker"]["last_success_at"], timeout=120)
                status = hub.status()
                assert status["first_value"]["users_logged_in"] == USERS, status["first_value"]
                assert len(status["mau"]["history"]) == months, len(status["mau"]["history"])
            headers = {
                months: {
                    "status": {"Authorization": f"token {hub.status_token}"},
                    "metrics": {"Authorization": f"token {hub.status_token}"},
                    "page": {"Cookie": admin_cookie(hub)},
                }
                for months, hub in hubs.items()
            }
            for months, hub in hubs.items():  # a first request fills each auth cache
                for name, path in ENDPOINTS.items():
                    response = httpx.get(
                        f"http://127.0.0.1:{hub_ports(hub)['service']}/services/onboarding/{path}",
                        headers=headers[months][name],
                        timeout=60,
                    )
                    if response.status_code != 200:
                        raise RuntimeError(f"{name}: HTTP {response.status_code}")
            for rnd in range(rounds):
                for name, path in ENDPOINTS.items():
                    for months in (1, 24) if rnd % 2 == 0 else (24, 1):
                        hub = hubs[months]
                        port = hub_ports(hub)["service"]
                        full_path = f"/services/onboarding/{path}"
                        log(f"  round {rnd + 1}: {name} with {months} month(s) of history")
                        found = asyncio.run(
                            measure_endpoint(port, full_path, headers[months][name], duration)
                        )
                        measurements.append(
                            {"round": rnd + 1, "endpoint": name, "months": months, **found}
                        )
            for months, hub in hubs.items():
                log(f"  mixed: status at {MIXED_RATE}/s with page reloads, {months} month(s)")
                found = asyncio.run(
                    measure_mixed(hub_ports(hub)["service"], headers[months], duration, MIXED_RATE)
                )
                mixed.append({"months": months, **found})
        finally:
            for hub in hubs.values():
                hub.stop()

    rows = []
    for m in measurements:
        closed, opened = m["closed_loop_50"], m["open_loop_50_at_half_capacity"]
        target = m["endpoint"] in ("status", "metrics")
        rows.append(
            (
                m["endpoint"],
                m["months"],
                m["round"],
                m["single_client"]["median_ms"],
                closed["throughput_per_s"],
                closed["median_ms"],
                closed["p99_ms"],
                opened["offered_per_s"],
                opened["median_ms"],
                opened["p99_ms"],
                (closed["median_ms"] < TARGET_MEDIAN_MS and closed["p99_ms"] < TARGET_P99_MS)
                if target
                else "n/a",
                (opened["median_ms"] < TARGET_MEDIAN_MS and opened["p99_ms"] < TARGET_P99_MS)
                if target
                else "n/a",
                closed["errors"] + opened["errors"],
            )
        )
    table = print_table(
        f"Serving with {USERS:,} counted users, {CLIENTS} clients on loopback (latency in ms)",
        [
            "endpoint",
            "months",
            "round",
            "1 client med",
            "closed req/s",
            "closed med",
            "closed p99",
            "open req/s",
            "open med",
            "open p99",
            "target closed",
            "target open",
            "errors",
        ],
        rows,
    )
    growth = []
    for name in ENDPOINTS:
        by_months = {
            months: [
                m["single_client"]["median_ms"]
                for m in measurements
                if m["endpoint"] == name and m["months"] == months
            ]
            for months in (1, 24)
        }
        one, many = min(by_months[1]), min(by_months[24])
        growth.append((name, one, many, many / one))
    growth_table = print_table(
        "History length: one-client service time, 1 vs 24 months (best of rounds, ms)",
        ["endpoint", "1 month", "24 months", "ratio"],
        growth,
    )
    mixed_table = print_table(
        f"Status at {MIXED_RATE}/s from {CLIENTS} clients while an admin reloads the landing "
        "page back to back (ms)",
        ["months", "status med", "status p99", "status max", "pages served", "page med"],
        [
            (
                m["months"],
                m["status"]["median_ms"],
                m["status"]["p99_ms"],
                m["status"]["max_ms"],
                m["page"]["requests"],
                m["page"]["median_ms"],
            )
            for m in mixed
        ],
    )
    result = {
        "targets": {"median_ms": f"< {TARGET_MEDIAN_MS}", "p99_ms": f"< {TARGET_P99_MS}"},
        "quick": quick,
        "users": USERS,
        "clients": CLIENTS,
        "duration_seconds": duration,
        "fills": fills,
        "measurements": measurements,
        "table": table,
        "history_table": growth_table,
        "mixed": mixed,
        "mixed_table": mixed_table,
        "seconds": time.perf_counter() - started,
    }
    write_result("serving", result)
    return result


CACHE: Path | None = None
