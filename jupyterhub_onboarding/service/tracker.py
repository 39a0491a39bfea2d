"""The poll loop: read the hub's users newest-activity-first, record what changed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from ..core.clock import Clock, as_utc
from ..core.hubmodel import UserSeen, oldest_activity
from ..core.snapshot import TrackerState
from .hubclient import HubAPIError, HubClient
from .store.poll import PageWritten, WrittenPages


class PollObserver(Protocol):
    def observe(self, duration: float, ok: bool, now: datetime) -> None: ...


#: Stores one poll: (users seen, when, whether users not seen are marked deleted, names
#: of the hub's malformed entries, who are never marked deleted, the pages of a full read
#: written as they came, whose users are not marked deleted either).
Record = Callable[
    [list[UserSeen], datetime, bool, frozenset[str], WrittenPages | None], Awaitable[Any]
]
#: Stores one page of a full read as it comes; what it returns goes to ``WrittenPages.add``.
RecordPage = Callable[[Sequence[UserSeen], datetime], Awaitable[PageWritten]]


class Tracker:
    """Polls the hub and hands observations to *record*.

    *record(seen, now, full, present, written)* stores one poll (it runs off the event
    loop). With *record_page*, a full read stores its pages as they come, *write_chunk*
    users at a time, and hands *record* only the users it returns as kept, with the pages
    it wrote (*written*), so 100,000 parsed users are never alive at once; without,
    *record* gets every user.
    *after_poll()* is awaited after every poll, successful or not, to refresh the snapshot.
    The poll's outcome (``state``) is published only after *after_poll()*, so a reader who
    sees a poll's time also sees the figures it recorded.

    A full read marks the users it did not see as deleted, with two guards against a hub
    that sends malformed entries: a malformed entry whose name can be read keeps that user
    (``present``), and an entry with no readable name, which could be any user, means the
    read marks nobody deleted.
    """

    def __init__(
        self,
        hub: HubClient,
        record: Record,
        after_poll: Callable[[], Awaitable[None]],
        *,
        clock: Clock,
        poll_interval: float,
        full_sync_interval: float,
        overlap: float,
        stale_after: float,
        stats: PollObserver | None = None,
        log: logging.Logger | None = None,
        hold_collections: Callable[[], AbstractContextManager[None]] | None = None,
        record_page: RecordPage | None = None,
        write_chunk: int = 2000,
    ) -> None:
        self.hub = hub
        self.record_page = record_page
        #: Users a full read writes at once, in a transaction each (written a page of 200 at
        #: a time, the full sync took longer; benchmarks/README.md, change 17).
        self.write_chunk = write_chunk
        #: Entered around a full sync and the refresh after it (the service holds full
        #: garbage collections back while its many short-lived objects come and go).
        self.hold_collections = hold_collections or nullcontext
        self.record = record
        self.after_poll = after_poll
        self.clock = clock
        self.poll_interval = poll_interval
        self.full_sync_interval = timedelta(seconds=full_sync_interval)
        self.overlap = timedelta(seconds=overlap)
        self.stats = stats
        self.log = log or logging.getLogger(__name__)
        self.state = TrackerState(stale_after=timedelta(seconds=stale_after))
        self.watermark: datetime | None = None
        self.last_full_sync: datetime | None = None
        self.last_poll_requests = 0
        #: Malformed user entries the hub sent during the last read (skipped, not users).
        self.last_read_rejected = 0
        #: Names of those entries, where they could be read, and how many had none.
        self.last_read_rejected_names: set[str] = set()
        self.last_read_nameless = 0
        #: The newest activity the last read saw (of every user, kept or not).
        self.last_read_newest: datetime | None = None
        self._task: asyncio.Task | None = None

    def needs_full_sync(self, now: datetime) -> bool:
        return (
            self.watermark is None
            or self.last_full_sync is None
            or now - self.last_full_sync >= self.full_sync_interval
        )

    async def read_users(
        self, full: bool, now: datetime, written: WrittenPages | None = None
    ) -> list[UserSeen]:
        """One poll's observations: every user (full), or the recently active ones. A full
        read with *written* stores its pages as they come (``record_page``) and returns the
        users they kept."""
        seen: list[UserSeen] = []
        self.last_read_rejected = 0
        self.last_read_rejected_names = set()
        self.last_read_nameless = 0
        self.last_read_newest = None
        if full:
            return await self._read_all(now, written)
        assert self.watermark is not None
        floor = self.watermark - self.overlap
        async for page in self.hub.iter_user_pages(sort="-last_activity"):
            self._note_newest(page.users)
            seen.extend(page.users)
            oldest = oldest_activity(page.users)
            never_active = any(user.last_activity is None for user in page.users)
            if never_active or oldest is None or oldest < floor:
                break
        # users with a running server, whether or not their activity moved
        async for page in self.hub.iter_user_pages(state="active"):
            self._note_newest(page.users)
            seen.extend(page.users)
        return seen

    async def _read_all(self, now: datetime, written: WrittenPages | None) -> list[UserSeen]:
        """Every user, in the hub's primary-key order: the hub has no index on last_activity,
        so sorting on it re-sorts the whole table for each page (a full read of 50,000 users
        took 1.5x a plain listing; see benchmarks/README.md), and offset paging by id does
        not shift when users become active mid-read. With *written*, each chunk of
        ``write_chunk`` users is written while the next pages are read."""
        seen: list[UserSeen] = []
        chunk: list[UserSeen] = []
        write = self.record_page if written is not None else None
        writing: asyncio.Future[PageWritten] | None = None
        try:
            async for page in self.hub.iter_user_pages(sort="id"):
                self._note_newest(page.users)
                self.last_read_rejected += len(page.rejected)
                self.last_read_rejected_names.update(page.rejected_names)
                self.last_read_nameless += page.nameless
                if write is None or written is None:
                    seen.extend(page.users)
                    continue
                chunk.extend(page.users)
                if len(chunk) >= self.write_chunk:
                    if writing is not None:
                        seen.extend(written.add(await writing))
                    writing = asyncio.ensure_future(write(chunk, now))
                    chunk = []
            if write is not None and written is not None:
                if writing is not None:
                    seen.extend(written.add(await writing))
                    writing = None
                if chunk:
                    seen.extend(written.add(await write(chunk, now)))
        finally:
            if writing is not None and not writing.done():
                # the read failed: the write in flight ends before the poll does
                await asyncio.wait([writing])
            if writing is not None and writing.done() and not writing.cancelled():
                writing.exception()  # retrieved: the read's own error is the poll's
        return seen

    def _note_newest(self, users: Sequence[UserSeen]) -> None:
        times = [as_utc(u.last_activity) for u in users if u.last_activity is not None]
        if self.last_read_newest is not None:
            times.append(self.last_read_newest)
        self.last_read_newest = max(times, default=None)

    async def poll(self, full: bool | None = None) -> bool:
        """Poll once; True on success. Never raises for hub or database trouble."""
        now = as_utc(self.clock())
        full = self.needs_full_sync(now) if full is None else full
        with self.hold_collections() if full else nullcontext():
            return await self._poll(now, full)

    async def _poll(self, now: datetime, full: bool) -> bool:
        started = time.perf_counter()
        requests_before = self.hub.counter.requests
        ok = False
        outcome = self.state
        written = WrittenPages() if full and self.record_page is not None else None
        try:
            seen = await self.read_users(full, now, written)
            # a user whose entry could not be parsed is not gone: the malformed entries' names
            # are kept present, and an entry without a readable name could be anyone's
            nameless = self.last_read_nameless
            if full and nameless:
                self.log.warning(
                    "%d user entries from the hub had no readable name; "
                    "this full poll marks no user deleted",
                    nameless,
                )
            present = frozenset(self.last_read_rejected_names)
            await self.record(seen, now, full and not nameless, present, written)
        except HubAPIError as error:
            outcome = self._failed(now, f"hub API: {error}")
        except SQLAlchemyError as error:
            outcome = self._failed(now, f"database: {type(error).__name__}")
            self.log.debug("Database error detail", exc_info=True)
        except Exception as error:
            outcome = self._failed(now, f"unexpected {type(error).__name__}")
            self.log.exception("Unexpected error during poll")
        else:
            ok = True
            known = [t for t in (self.watermark, self.last_read_newest) if t is not None]
            self.watermark = max(known) if known else now
            if full:
                self.last_full_sync = now
            outcome = replace(self.state, last_success_at=now)
            self.log.info(
                "%s poll recorded %d users in %.2fs",
                "Full" if full else "Incremental",
                len(written.ids) if written is not None else len({u.name for u in seen}),
                time.perf_counter() - started,
            )
        finally:
            self.last_poll_requests = self.hub.counter.requests - requests_before
            duration = time.perf_counter() - started
        try:
            await self.after_poll()
        finally:
            self.state = outcome
            if self.stats is not None:
                self.stats.observe(duration, ok, now)
        return ok

    def _failed(self, now: datetime, reason: str) -> TrackerState:
        self.log.warning("Poll failed (%s); the next poll retries", reason)
        return replace(self.state, last_error_at=now, last_error=reason)

    async def run(self) -> None:
        """Poll forever, every poll_interval seconds."""
        while True:
            await self.poll()
            await asyncio.sleep(self.poll_interval)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
