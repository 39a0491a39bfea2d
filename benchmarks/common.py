"""Shared helpers of the benchmarks: tables, JSON results, timing, real hubs and process memory.

Nothing here is imported by the product. Every address is 127.0.0.1; every username is
synthetic (``bench-NNNNNN``).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT / "tests"))

from harness.hub import HubProcess  # noqa: E402

#: Users the benchmarks create are named ``bench-NNNNNN`` (synthetic, never real people).
NAME_FORMAT = "bench-{:06d}"

#: A hub API URL on which nothing listens: the hub-managed service's own poller is pointed
#: here in benchmarks that must not see the hub busy with anything but the measurement.
DEAD_HUB_API = "http://127.0.0.1:9/hub/api"


def user_name(index: int) -> str:
    return NAME_FORMAT.format(index)


# -- numbers ----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The *q*-th percentile (0-100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- output -------------------------------------------------------------------------------------


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Print (and return) a plain-text table; floats shown with 3 significant decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != value:  # NaN
                return "-"
            if abs(value) >= 100:
                return f"{value:,.0f}"
            if abs(value) >= 10:
                return f"{value:.1f}"
            return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
        if isinstance(value, bool):
            return "yes" if value else "NO"
        if isinstance(value, int):
            return f"{value:,}"
        return "-" if value is None else str(value)

    body = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(columns)
    ]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in body]
    text = "\n".join(lines)
    print(text + "\n", flush=True)
    return text


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in load],
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "written_at": utcnow().isoformat(), "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(f"wrote {path.relative_to(ROOT)}\n", flush=True)
    return path


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- process memory -----------------------------------------------------------------------------


def proc_memory(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of *pid*, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss_mib": fields["VmRSS"], "peak_rss_mib": fields["VmHWM"]}


# -- real hubs ----------------------------------------------------------------------------------


def hub_ports(hub: HubProcess) -> dict[str, int]:
    """The hub's own API port and the service's port, from the generated configuration."""
    text = (hub.workdir / "jupyterhub_config.py").read_text()
    hub_port = int(re.search(r"c\.JupyterHub\.hub_port = (\d+)", text).group(1))
    service_port = int(re.search(r'"url": "http://127\.0\.0\.1:(\d+)"', text).group(1))
    return {"hub": hub_port, "service": service_port}


def hub_api_url(hub: HubProcess) -> str:
    """The hub's REST API as a managed service reaches it (directly, not through the proxy)."""
    return f"http://127.0.0.1:{hub_ports(hub)['hub']}/hub/api"


def start_hub(
    workdir: Path,
    *,
    hub_config: str = "",
    service_config: str = "",
    quiet_service: bool = True,
    poll_interval: float = 3600,
    service_log_level: str = "WARN",
) -> HubProcess:
    """A real hub and proxy (tests/harness/hub.py) in *workdir*, reusing its database if present.

    With *quiet_service* the hub-managed onboarding service polls a dead address, so the
    only load on the hub is the benchmark's own. The service logs at *service_log_level*
    (WARN is the product's default; tests/harness/hub.py would set DEBUG).
    """
    if quiet_service:
        service_config = f"c.Onboarding.hub_api_url = {DEAD_HUB_API!r}\n" + service_config
    service_config += f"\nc.Onboarding.log_level = {service_log_level!r}\n"
    hub = HubProcess(
        workdir,
        hub_config=hub_config + "\nc.JupyterHub.log_level = 'WARN'\n",
        service_config=service_config,
        poll_interval=poll_interval,
    )
    return hub.start(timeout=180)


def admin_headers(hub: HubProcess) -> dict[str, str]:
    return {"Authorization": f"token {hub.admin_token}"}


def count_bench_users(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM users WHERE name LIKE 'bench-%'").fetchone()[0]


def create_users(hub: HubProcess, start: int, stop: int, batch: int = 2000) -> float:
    """Create users ``start..stop-1`` with the hub's bulk ``POST /users``; returns seconds."""
    with Timer() as timer, httpx.Client(timeout=900, headers=admin_headers(hub)) as client:
        for first in range(start, stop, batch):
            names = [user_name(i) for i in range(first, min(stop, first + batch))]
            response = client.post(f"{hub_api_url(hub)}/users", json={"usernames": names})
            if response.status_code != 201:
                raise RuntimeError(f"bulk create failed: HTTP {response.status_code}")
            log(f"  created users up to {first + len(names):,}")
    return timer.seconds


def old_activity(index: int, now: datetime) -> datetime:
    """A deterministic past activity for user *index*: spread between 3 and 400 days ago."""
    spread = (index * 7919) % (397 * 86400)
    return now - timedelta(days=3, seconds=spread)


def backfill_old_activity(db_path: Path, now: datetime) -> int:
    """Give every benchmark user without activity an old ``last_activity`` (hub stopped).

    A hub's users have mostly been active at some point; the hub API can set activity only
    one user per request (about 30 ms each), so a benchmark sets the historical values in
    the stopped hub's database directly. Recent activity goes through the API.
    """
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT id, name FROM users WHERE name LIKE 'bench-%' AND last_activity IS NULL"
        ).fetchall()
        updates = []
        for user_id, name in rows:
            when = old_activity(int(name.split("-")[1]), now).replace(tzinfo=None)
            updates.append((when.strftime("%Y-%m-%d %H:%M:%S.%f"), user_id))
        conn.executemany("UPDATE users SET last_activity = ? WHERE id = ?", updates)
        conn.commit()
    return len(rows)


def hub_with_users(
    workdir: Path,
    n_users: int,
    *,
    hub_config: str = "",
    cache: Path | None = None,
    quiet_service: bool = True,
) -> HubProcess:
    """A started hub in *workdir* with *n_users* benchmark users, all with old activity.

    Users already in the workdir's database are kept; a database with exactly *n_users* in
    *cache* is copied in first, so benchmarks in one run create each population once.
    """
    db_path = workdir / "jupyterhub.sqlite"
    workdir.mkdir(parents=True, exist_ok=True)
    if cache is not None and count_bench_users(db_path) < n_users:
        for candidate in sorted(cache.glob("hub-*.sqlite")):
            have = int(candidate.stem.split("-")[1])
            if have == n_users:
                log(f"  reusing a hub database with {have:,} users from this run")
                shutil.copy(candidate, db_path)
                break
    have = count_bench_users(db_path)
    if have >= n_users:
        return start_hub(workdir, hub_config=hub_config, quiet_service=quiet_service)
    hub = start_hub(workdir, hub_config=hub_config)
    log(f"creating {n_users - have:,} users with bulk POST /hub/api/users")
    create_users(hub, have, n_users)
    hub.stop()
    backfill_old_activity(db_path, utcnow())
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copy(db_path, cache / f"hub-{n_users}.sqlite")
    return start_hub(workdir, hub_config=hub_config, quiet_service=quiet_service)


async def mark_active(
    hub: HubProcess, indexes: Sequence[int], when: datetime, concurrency: int = 8
) -> float:
    """Report activity at *when* for the given users (``POST /users/{name}/activity``)."""
    stamp = when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    semaphore = asyncio.Semaphore(concurrency)
    url = hub_api_url(hub)

    async with httpx.AsyncClient(timeout=60, headers=admin_headers(hub)) as client:

        async def one(index: int) -> None:
            async with semaphore:
                response = await client.post(
                    f"{url}/users/{user_name(index)}/activity", json={"last_activity": stamp}
                )
                if response.status_code != 200:
                    raise RuntimeError(f"activity update failed: HTTP {response.status_code}")

        with Timer() as timer:
            await asyncio.gather(*(one(i) for i in indexes))
    return timer.seconds
