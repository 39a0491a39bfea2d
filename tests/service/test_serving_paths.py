"""Serving never waits on a poll (#23): the status document is built once per change of what
it is made of, the pages read on a thread of their own beside an open write transaction, and
what start built is kept out of full garbage collections."""

from __future__ import annotations

import asyncio
import gc
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from jupyterhub_onboarding.core.hubmodel import UserSeen
from jupyterhub_onboarding.core.rules import month_of
from jupyterhub_onboarding.core.snapshot import Aggregates
from jupyterhub_onboarding.service.published import PublishedStatus
from jupyterhub_onboarding.service.schema import users
from jupyterhub_onboarding.service.store import UsageQuery

UTC = timezone.utc
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# -- the status document, built once ------------------------------------------------------------


def published(clock: Clock, parts: dict) -> tuple[PublishedStatus, list[str]]:
    builds: list[str] = []

    def build(hub_url: str):
        builds.append(hub_url)
        return {"hub": hub_url, "built": len(builds)}

    return PublishedStatus(build, lambda: tuple(parts.values()), clock), builds


def test_the_status_is_built_once_while_nothing_it_is_made_of_changes():
    clock = Clock(T0)
    parts = {"figures": object(), "record": object()}
    status, builds = published(clock, parts)
    first = status.get("https://hub.example.org")
    for _ in range(100):
        assert status.get("https://hub.example.org") is first
    assert builds == ["https://hub.example.org"]
    assert first.body == b'{"built": 1, "hub": "https://hub.example.org"}'


def test_a_part_replaced_builds_it_again_even_when_equal():
    clock = Clock(T0)
    parts = {"figures": Aggregates(), "record": object()}
    status, builds = published(clock, parts)
    status.get("u")
    parts["figures"] = replace(parts["figures"])  # equal, but a new refresh's
    assert status.get("u").document == {"hub": "u", "built": 2}
    assert len(builds) == 2


def test_a_status_older_than_its_age_is_built_again_by_the_service_clock():
    clock = Clock(T0)
    status, builds = published(clock, {"figures": object()})
    status.get("u")
    clock.now = T0 + status.max_age - timedelta(milliseconds=1)
    status.get("u")
    assert len(builds) == 1
    clock.now = T0 + status.max_age
    status.get("u")
    assert len(builds) == 2
    clock.now = T0  # a clock set back is no reason to serve a document from its future
    status.get("u")
    assert len(builds) == 3


def test_each_hub_url_has_its_document_and_only_a_few_are_kept():
    clock = Clock(T0)
    status, _builds = published(clock, {"figures": object()})
    assert status.get("a").document["hub"] == "a"
    assert status.get("b").document["hub"] == "b"
    assert status.get("a").document["built"] == 1
    for n in range(PublishedStatus.MAX_URLS + 3):
        status.get(f"host-{n}")
    assert len(status) == PublishedStatus.MAX_URLS


async def test_the_service_serves_the_same_body_until_a_refresh_replaces_the_figures(service):
    service.figures_read = True
    body = service.status_body("https://hub.example.org")
    assert service.status_body("https://hub.example.org") is body
    service.aggregates = replace(service.aggregates, users_logged_in=3)
    again = service.status_body("https://hub.example.org")
    assert again is not body
    assert b'"users_logged_in": 3' in again


# -- pages read beside a poll's write -----------------------------------------------------------


async def test_a_page_reads_while_a_write_transaction_is_open_on_the_database_thread(service):
    """A poll's write holds the database thread (and SQLite's write lock) for seconds at
    100,000 users; the page's read runs on its own thread and connection meanwhile."""
    now = datetime.now(UTC)
    store = service.store
    await service.db(store.record, [UserSeen("ada", False, now)], now, service.rules)
    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with store.engine.begin() as conn:
            conn.execute(insert(users).values(name="written-meanwhile"))
            holding.set()
            if not release.wait(30):
                raise TimeoutError("not released")

    write = asyncio.ensure_future(service.db(long_write))
    try:
        assert await asyncio.to_thread(holding.wait, 10)
        query = UsageQuery(month=month_of(now), now=now, sort="name", descending=False)
        rows, total = await asyncio.wait_for(service.read(store.usage_rows, query), 5)
        # what the open transaction wrote is not seen before it commits
        assert [row.name for row in rows] == ["ada"]
        assert total == 1
        assert not write.done()
    finally:
        release.set()
        await write


# -- garbage collection -------------------------------------------------------------------------


async def test_what_start_built_is_kept_out_of_full_collections(service):
    gc.unfreeze()
    try:
        await service.warm_up()
        assert service.figures_read
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
