"""Benchmark 1: the service's poll cost against the hub's own API, on a real hub.

For each population (1,000, 10,000 and, outside --quick, 50,000 users) and page size (the
hub's default api_page_max_limit of 200, and 1,000 with the hub and the service set alike),
measured side by side in one run against one real hub:

a. a bare paginated listing of every user (HubClient, ``sort=id``), as any API client would;
b. the service's initial full sync: Tracker.poll(full=True) into a fresh Store on SQLite,
   in process, including the database write (the aggregate refresh that follows every poll
   is timed separately);
c. a steady-state incremental poll after 1% of the users became active since the last poll.

Also timed, for diagnosis: the same bare listing sorted by ``-last_activity`` (what the full
sync used to request before it switched to ``sort=id``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from common import (
    Timer,
    hub_api_url,
    hub_with_users,
    log,
    mark_active,
    median,
    print_table,
    start_hub,
    utcnow,
    write_result,
)

from jupyterhub_onboarding.core.clock import utcnow as product_utcnow
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service.hubclient import HubClient
from jupyterhub_onboarding.service.store import Store
from jupyterhub_onboarding.service.tracker import Tracker

TARGET_FULL_RATIO = 1.3
TARGET_INCREMENTAL_REQUESTS = 3
TARGET_INCREMENTAL_SHARE = 0.05
RULES = CountingRules(excluded_pattern=re.compile("deployment-service-check"))


class PollRig:
    """A Tracker and a Store wired as the service wires them (database on one worker thread)."""

    def __init__(self, hub: HubClient, db_path: Path) -> None:
        self.store = Store(f"sqlite:///{db_path}")
        self.store.upgrade()
        self.executor = ThreadPoolExecutor(1)
        self.record_seconds = 0.0
        self.tracker = Tracker(
            hub,
            self._record,
            self._after_poll,
            clock=product_utcnow,
            poll_interval=3600,
            full_sync_interval=3600,
            overlap=900,
            stale_after=3600,
            record_page=self._record_page,
        )

    async def _db(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(fn, *args, **kwargs))

    async def _record_page(self, users, now):
        with Timer() as timer:
            done = await self._db(self.store.record_page, users, now, RULES)
        self.record_seconds += timer.seconds
        return done

    async def _record(self, seen, now, full, present=frozenset(), written=None) -> None:
        ids = written.ids if written is not None else None
        with Timer() as timer:
            await self._db(
                self.store.record, seen, now, RULES, full=full, present=present, written=ids
            )
        self.record_seconds += timer.seconds

    async def _after_poll(self) -> None:
        return None

    async def poll(self, full: bool) -> dict[str, Any]:
        self.record_seconds = 0.0  # the write: a full read's chunks (beside its reads) and its end
        with Timer() as timer:
            ok = await self.tracker.poll(full=full)
        if not ok:
            raise RuntimeError(f"poll failed: {self.tracker.state.last_error}")
        with Timer() as refresh:
            await self._db(self.store.record_milestones, 5)
            await self._db(self.store.aggregates, product_utcnow(), 5)
        return {
            "requests": self.tracker.last_poll_requests,
            "seconds": timer.seconds,
            "record_seconds": self.record_seconds,
            "refresh_seconds": refresh.seconds,
        }

    def close(self) -> None:
        self.executor.shutdown()
        self.store.close()


class ActivationClock:
    """Times for the batches of "recently active" users, 20 minutes apart and in the past.

    Each batch is newer than every earlier one in the run by more than the poll's overlap
    window (15 minutes), so a measured incremental poll never re-reads an earlier batch.
    """

    def __init__(self) -> None:
        self.next = utcnow() - timedelta(hours=12)

    def take(self) -> datetime:
        when, self.next = self.next, self.next + timedelta(minutes=20)
        return when


async def bare_listing(client: HubClient, sort: str = "id") -> dict[str, Any]:
    before = client.counter.requests
    users = 0
    with Timer() as timer:
        async for page in client.iter_user_pages(sort=sort):
            users += len(page.users)
    return {"requests": client.counter.requests - before, "seconds": timer.seconds, "users": users}


async def measure(
    hub, n_users: int, page_size: int, reps: int, scratch: Path, clock: ActivationClock
) -> dict[str, Any]:
    client = HubClient(hub_api_url(hub), hub.admin_token, page_size=page_size, timeout=300)
    try:
        warm = await bare_listing(client)  # the hub builds its in-memory user objects once
        log(f"  {n_users:,} users, page {page_size}: warm-up listing {warm['seconds']:.2f}s")
        global _warmed
        if not _warmed:  # first use of the database code in this process, not measured
            rig = PollRig(client, scratch / "warm-up.sqlite")
            await rig.poll(full=True)
            rig.close()
            _warmed = True
        listings, by_activity, syncs, rig = [], [], [], None
        for rep in range(reps):
            order = ("bare", "full", "activity") if rep % 2 == 0 else ("activity", "full", "bare")
            for kind in order:
                if kind == "bare":
                    listings.append(await bare_listing(client))
                    continue
                if kind == "activity":
                    by_activity.append(await bare_listing(client, sort="-last_activity"))
                    continue
                if rig is not None:
                    rig.close()
                rig = PollRig(client, scratch / f"service-{n_users}-{page_size}-{rep}.sqlite")
                syncs.append(await rig.poll(full=True))
            log(
                f"  rep {rep + 1}/{reps}: listing {listings[-1]['seconds']:.2f}s, "
                f"full sync {syncs[-1]['seconds']:.2f}s"
            )
        assert rig is not None
        # steady state: 1% of the users became active since the last poll, which ran a minute
        # before them; each repetition activates other users, later than every earlier batch
        # by more than the overlap window, as in a real poll cycle
        active = max(1, n_users // 100)
        incrementals = []
        for rep in range(reps + 1):
            when = clock.take()
            # the first batch is a warm-up (the first update statements of this database and
            # the hub's first filtered queries), not measured
            first = ((rep - 1) % (reps + 1)) * active
            await mark_active(hub, range(first, first + active), when)
            rig.tracker.watermark = when - timedelta(seconds=60)
            incremental = await rig.poll(full=False)
            incremental["active_users"] = active
            if rep > 0:
                incrementals.append(incremental)
        rig.close()
    finally:
        client.close()

    listing_s = median([x["seconds"] for x in listings])
    full_s = median([x["seconds"] for x in syncs])
    inc_s = median([x["seconds"] for x in incrementals])
    inc_requests = max(x["requests"] for x in incrementals)
    return {
        "users": n_users,
        "page_size": page_size,
        "repetitions": reps,
        "listing": {
            "requests": listings[0]["requests"],
            "median_seconds": listing_s,
            "runs": listings,
        },
        "listing_sorted_by_activity": {
            "requests": by_activity[0]["requests"],
            "median_seconds": median([x["seconds"] for x in by_activity]),
            "runs": by_activity,
        },
        "full_sync": {
            "requests": syncs[0]["requests"],
            "median_seconds": full_s,
            "median_record_seconds": median([x["record_seconds"] for x in syncs]),
            "median_refresh_seconds": median([x["refresh_seconds"] for x in syncs]),
            "runs": syncs,
        },
        "incremental": {
            "requests": inc_requests,
            "median_seconds": inc_s,
            "median_record_seconds": median([x["record_seconds"] for x in incrementals]),
            "runs": incrementals,
        },
        "full_vs_listing": full_s / listing_s,
        "activity_sorted_listing_vs_listing": median([x["seconds"] for x in by_activity])
        / listing_s,
        "incremental_vs_listing": inc_s / listing_s,
        "targets_met": {
            "full_sync_within_1.3x": full_s / listing_s <= TARGET_FULL_RATIO,
            "incremental_at_most_3_requests": inc_requests <= TARGET_INCREMENTAL_REQUESTS,
            "incremental_under_5pct": inc_s / listing_s < TARGET_INCREMENTAL_SHARE,
        },
    }


def run(quick: bool) -> dict[str, Any]:
    logging.getLogger("jupyterhub_onboarding").setLevel(logging.WARNING)
    logging.getLogger("tornado").setLevel(logging.ERROR)
    if quick:
        plan = [(1_000, (200,), 3), (10_000, (200, 1000), 2)]
    else:
        plan = [(1_000, (200, 1000), 3), (10_000, (200, 1000), 3), (50_000, (200, 1000), 2)]
    rows = []
    clock = ActivationClock()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        scratch = Path(tmp)
        workdir = scratch / "hub"
        for n_users, page_sizes, reps in plan:
            with Timer() as setup:
                hub = hub_with_users(workdir, n_users, cache=CACHE)
            log(f"hub with {n_users:,} users ready in {setup.seconds:.0f}s")
            try:
                for page_size in page_sizes:
                    if page_size != 200:
                        hub.stop()
                        hub = start_hub(
                            workdir, hub_config=f"c.JupyterHub.api_page_max_limit = {page_size}"
                        )
                    rows.append(asyncio.run(measure(hub, n_users, page_size, reps, scratch, clock)))
            finally:
                hub.stop()
    table = print_table(
        "Poll cost vs the hub's own API (medians; ratios measured side by side)",
        [
            "users",
            "page",
            "listing req",
            "listing s",
            "by-activity s",
            "full req",
            "full s",
            "(db write s)",
            "full/listing",
            "incr req",
            "incr s",
            "incr/listing",
            "refresh s",
        ],
        [
            (
                r["users"],
                r["page_size"],
                r["listing"]["requests"],
                r["listing"]["median_seconds"],
                r["listing_sorted_by_activity"]["median_seconds"],
                r["full_sync"]["requests"],
                r["full_sync"]["median_seconds"],
                r["full_sync"]["median_record_seconds"],
                r["full_vs_listing"],
                r["incremental"]["requests"],
                r["incremental"]["median_seconds"],
                f"{100 * r['incremental_vs_listing']:.1f}%",
                r["full_sync"]["median_refresh_seconds"],
            )
            for r in rows
        ],
    )
    result = {
        "targets": {
            "full_sync_vs_listing": f"<= {TARGET_FULL_RATIO}x",
            "incremental_requests": f"<= {TARGET_INCREMENTAL_REQUESTS}",
            "incremental_vs_listing": f"< {TARGET_INCREMENTAL_SHARE:.0%}",
        },
        "quick": quick,
        "rows": rows,
        "table": table,
        "seconds": time.perf_counter() - started,
    }
    write_result("poll", result)
    return result


#: Whether this process has run the database code once (the first run pays for imports and
#: caches that a running service has long paid for).
_warmed = False

#: Hub databases created in this run, shared between benchmarks (set by run.py).
CACHE: Path | None = None
