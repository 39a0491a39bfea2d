"""The poll loop's logic, against an in-memory list of hub users (no servers).

The real hub is exercised in test_service_hub.py and test_faults.py; here each rule of the
loop is checked alone: what a poll reads, when it stops reading, what it publishes and when.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from jupyterhub_onboarding.core.hubmodel import Page, ServerSeen, UserSeen
from jupyterhub_onboarding.service.hubclient import HubAPIError, RequestCount
from jupyterhub_onboarding.service.store.poll import PageWritten
from jupyterhub_onboarding.service.tracker import Tracker

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


class PagedUsers:
    """The hub's ``GET /users`` as the tracker sees it: sorted, paged, optionally failing."""

    def __init__(self, users: list[UserSeen], page_size: int = 2) -> None:
        self.users = users
        self.page_size = page_size
        self.counter = RequestCount()
        self.reads: list[dict] = []
        self.fail: Exception | None = None

    async def iter_user_pages(self, **params):
        self.reads.append(params)
        if self.fail is not None:
            raise self.fail
        users = list(self.users)
        if params.get("state") == "active":
            users = [u for u in users if u.server_running]
        sort = params.get("sort", "id")
        if sort == "-last_activity":
            # the hub's order: users with activity first, newest first; never-active last
            def order(u: UserSeen) -> tuple:
                return (u.last_activity is None, -(u.last_activity or T0).timestamp())

            users.sort(key=order)
        for start in range(0, len(users), self.page_size):
            self.counter.requests += 1
            yield Page(tuple(users[start : start + self.page_size]), (), None, len(users))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


def user(name: str, minutes_ago: float | None, *, running: bool = False, now=T0) -> UserSeen:
    activity = None if minutes_ago is None else now - timedelta(minutes=minutes_ago)
    servers = (ServerSeen("", True, activity or now, activity),) if running else ()
    return UserSeen(name=name, admin=False, last_activity=activity, servers=servers)


class Recorder:
    """Collects what the tracker hands to *record*, and when the figures were refreshed."""

    def __init__(self) -> None:
        self.polls: list[tuple[list[UserSeen], datetime, bool]] = []
        #: the names kept present with each poll
        self.present: list[frozenset[str]] = []
        self.refreshes = 0
        self.fail: Exception | None = None
        self.tracker: Tracker | None = None
        self.state_seen_at_refresh: list = []

    async def record(self, seen, now, full, present, written=None) -> None:
        if self.fail is not None:
            raise self.fail
        self.polls.append((list(seen), now, full))
        self.present.append(present)

    async def after_poll(self) -> None:
        self.refreshes += 1
        assert self.tracker is not None
        self.state_seen_at_refresh.append(self.tracker.state)


def make(users: list[UserSeen], *, page_size=2, overlap=60.0, full_sync=3600.0):
    hub = PagedUsers(users, page_size)
    clock = Clock(T0)
    recorder = Recorder()
    tracker = Tracker(
        hub,
        recorder.record,
        recorder.after_poll,
        clock=clock,
        poll_interval=1,
        full_sync_interval=full_sync,
        overlap=overlap,
        stale_after=900,
    )
    recorder.tracker = tracker
    return tracker, hub, clock, recorder


def names(seen) -> list[str]:
    return sorted({u.name for u in seen})


async def test_first_poll_is_a_full_read_by_id():
    tracker, hub, _, recorder = make([user("a", 5), user("b", None), user("c", 1)])
    assert await tracker.poll() is True
    seen, now, full = recorder.polls[0]
    assert full is True
    assert now == T0
    assert names(seen) == ["a", "b", "c"]
    assert hub.reads == [{"sort": "id"}]
    assert tracker.last_poll_requests == 2  # three users, pages of two


async def test_watermark_is_newest_activity_seen_or_now():
    tracker, _, _, _ = make([user("a", 5), user("c", 1)])
    await tracker.poll()
    assert tracker.watermark == T0 - timedelta(minutes=1)

    empty, _, _, _ = make([user("never", None)])
    await empty.poll()
    assert empty.watermark == T0


async def test_incremental_poll_stops_below_the_overlap_floor():
    # newest first: n0 (1 min ago) ... n9 (10 min ago); pages of two
    users = [user(f"n{i}", i + 1) for i in range(10)]
    tracker, hub, clock, recorder = make(users, overlap=150)  # floor: newest - 2.5 min
    await tracker.poll()
    clock.advance(seconds=30)
    hub.reads.clear()
    await tracker.poll()
    seen, _, full = recorder.polls[-1]
    assert full is False
    assert hub.reads[0] == {"sort": "-last_activity"}
    # page 1 (1, 2 min), page 2 (3, 4 min: 4 < 3.5 floor) then stop
    assert names(seen) == ["n0", "n1", "n2", "n3"]


async def test_incremental_poll_stops_at_never_active_users():
    users = [user("a", 1), user("b", None), user("c", None), user("d", None)]
    tracker, hub, clock, recorder = make(users, overlap=10_000)
    await tracker.poll()
    clock.advance(seconds=30)
    hub.counter.requests = 0
    await tracker.poll()
    seen, _, _ = recorder.polls[-1]
    assert names(seen) == ["a", "b"]
    assert tracker.last_poll_requests == 1  # one page of users; no server is running


async def test_incremental_poll_adds_users_with_running_servers():
    users = [user("new", 1), user("idle-but-running", 600, running=True), user("old", 700)]
    tracker, hub, clock, recorder = make(users, overlap=60, page_size=1)
    await tracker.poll()
    clock.advance(seconds=30)
    hub.reads.clear()
    await tracker.poll()
    seen, _, _ = recorder.polls[-1]
    assert hub.reads == [{"sort": "-last_activity"}, {"state": "active"}]
    assert "idle-but-running" in names(seen)
    assert "old" not in names(seen)


async def test_login_after_a_poll_is_seen_by_the_next_incremental_poll():
    users = [user("a", 30), user("b", None)]
    tracker, hub, clock, recorder = make(users)
    await tracker.poll()
    clock.advance(minutes=1)
    hub.users.append(user("late", 0, now=clock.now))
    await tracker.poll()
    assert "late" in names(recorder.polls[-1][0])


async def test_full_sync_repeats_after_its_interval():
    tracker, _, clock, recorder = make([user("a", 1)], full_sync=600)
    await tracker.poll()
    clock.advance(seconds=599)
    await tracker.poll()
    clock.advance(seconds=1)
    await tracker.poll()
    assert [full for _, _, full in recorder.polls] == [True, False, True]


async def test_success_is_published_only_after_the_figures_are_refreshed():
    tracker, _, clock, recorder = make([user("a", 1)])
    await tracker.poll()
    # while the figures of the first poll were being refreshed, no success was visible yet
    assert recorder.state_seen_at_refresh[0].last_success_at is None
    assert tracker.state.last_success_at == T0

    clock.advance(seconds=5)
    await tracker.poll()
    assert recorder.state_seen_at_refresh[1].last_success_at == T0
    assert tracker.state.last_success_at == T0 + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("failure", "where", "reason"),
    [
        (HubAPIError("GET /users failed: HTTP 503"), "hub", "hub API: GET /users failed: HTTP 503"),
        (
            OperationalError("UPDATE", {}, Exception("locked")),
            "record",
            "database: OperationalError",
        ),
        (RuntimeError("boom"), "record", "unexpected RuntimeError"),
    ],
)
async def test_a_failed_poll_keeps_the_last_success_and_says_why(failure, where, reason):
    tracker, hub, clock, recorder = make([user("a", 1)])
    await tracker.poll()
    watermark = tracker.watermark
    clock.advance(seconds=10)
    if where == "hub":
        hub.fail = failure
    else:
        recorder.fail = failure
    assert await tracker.poll() is False
    assert tracker.state.last_success_at == T0
    assert tracker.state.last_error_at == T0 + timedelta(seconds=10)
    assert tracker.state.last_error == reason
    assert tracker.watermark == watermark  # nothing skipped: the next poll reads from here
    assert recorder.refreshes == 2  # the figures are refreshed after a failure too

    hub.fail = recorder.fail = None
    clock.advance(seconds=10)
    assert await tracker.poll() is True
    assert tracker.state.last_success_at == T0 + timedelta(seconds=20)


async def test_a_failed_first_poll_leaves_a_full_sync_pending():
    tracker, hub, clock, recorder = make([user("a", 1)])
    hub.fail = HubAPIError("down")
    assert await tracker.poll() is False
    hub.fail = None
    clock.advance(seconds=10)
    await tracker.poll()
    assert recorder.polls[-1][2] is True


class Rejecting(PagedUsers):
    """Each page also carries malformed entries: *named* ones (their name readable) and
    *nameless* ones."""

    def __init__(self, users, *, named=(), nameless=0, page_size=2) -> None:
        super().__init__(users, page_size)
        self.named = tuple(named)
        self.nameless = nameless

    async def iter_user_pages(self, **params):
        async for page in super().iter_user_pages(**params):
            reasons = [f"item {i}: admin is not a boolean" for i in range(len(self.named))]
            reasons += ["item x: user model has no usable name"] * self.nameless
            yield Page(page.users, tuple(reasons), None, None, self.named)


def with_hub(hub: PagedUsers):
    tracker, _, clock, recorder = make(hub.users)
    tracker.hub = hub
    return tracker, clock, recorder


async def test_a_read_with_nameless_entries_marks_nobody_deleted():
    """An entry without a readable name could be any user: nobody is marked deleted."""
    tracker, _, recorder = with_hub(Rejecting([user("a", 1)], nameless=1))
    await tracker.poll()
    assert recorder.polls[-1][2] is False  # a full read, but not a clean one
    assert tracker.last_read_rejected == 1
    assert tracker.last_read_nameless == 1


async def test_a_malformed_entry_with_a_name_keeps_its_user_and_lets_the_others_go():
    users = [user("a", 1), user("b", 2), user("c", 3)]
    tracker, _, recorder = with_hub(Rejecting(users, named=("broken",)))
    await tracker.poll()
    seen, _, full = recorder.polls[-1]
    assert full is True  # deletions of users the hub no longer lists go ahead
    assert recorder.present[-1] == {"broken"}  # but the malformed entry's user is kept
    assert names(seen) == ["a", "b", "c"]
    assert tracker.last_read_rejected == 2  # one per page, two pages
    assert tracker.last_read_nameless == 0


async def test_named_and_nameless_entries_together_mark_nobody_deleted():
    tracker, _, recorder = with_hub(Rejecting([user("a", 1)], named=("broken",), nameless=1))
    await tracker.poll()
    assert recorder.polls[-1][2] is False
    assert recorder.present[-1] == {"broken"}


async def test_each_read_starts_its_count_of_malformed_entries_afresh():
    hub = Rejecting([user("a", 1)], named=("broken",), nameless=1)
    tracker, clock, recorder = with_hub(hub)
    await tracker.poll()
    hub.named, hub.nameless = (), 0
    clock.advance(hours=2)
    await tracker.poll(full=True)
    assert recorder.polls[-1][2] is True
    assert recorder.present[-1] == frozenset()
    assert (tracker.last_read_rejected, tracker.last_read_nameless) == (0, 0)


async def test_a_full_sync_and_its_refresh_run_with_full_collections_held_back():
    """The service holds full garbage collections back while a full sync's users are alive;
    an incremental poll does not."""
    tracker, _, clock, _recorder = make([user("a", 5), user("b", 1)])
    inside: list[str] = []
    held = 0

    @contextlib.contextmanager
    def hold():
        nonlocal held
        held += 1
        try:
            yield
        finally:
            held -= 1

    async def record(seen, now, full, present, written=None) -> None:
        inside.append(f"record held={held}")

    async def after_poll() -> None:
        inside.append(f"refresh held={held}")

    tracker.record, tracker.after_poll, tracker.hold_collections = record, after_poll, hold
    assert await tracker.poll(full=True)
    clock.now += timedelta(minutes=1)
    assert await tracker.poll(full=False)
    assert inside == ["record held=1", "refresh held=1", "record held=0", "refresh held=0"]
    assert held == 0


async def test_a_full_read_writes_each_chunk_while_it_reads_the_next():
    users = [user("a", 5), user("b", 1, running=True), user("c", 9), user("d", None)]
    tracker, hub, _, recorder = make(users)
    events: list = []
    reading = hub.iter_user_pages
    second_page_read = asyncio.Event()

    async def pages(**params):
        async for page in reading(**params):
            await asyncio.sleep(0)  # the network
            events.append(("read", [u.name for u in page.users]))
            if page.users[0].name == "c":
                second_page_read.set()
            yield page

    async def record_page(page_users, now):
        events.append(("write", [u.name for u in page_users]))
        assert now == T0
        if page_users[0].name == "a":
            # the first chunk's write ends only once the next page is read: it overlaps it
            await asyncio.wait_for(second_page_read.wait(), timeout=10)
            events.append(("written", ["a", "b"]))
        kept = [u for u in page_users if u.servers]
        return PageWritten([ord(u.name) for u in page_users], kept, frozenset())

    hub.iter_user_pages = pages
    tracker.record_page = record_page
    tracker.write_chunk = 2  # a page of two users is a chunk
    written = []
    record = recorder.record

    async def record_all(seen, now, full, present, pages_written=None):
        written.append(pages_written)
        await record(seen, now, full, present)

    tracker.record = record_all
    assert await tracker.poll() is True
    assert events == [
        ("read", ["a", "b"]),
        ("write", ["a", "b"]),
        ("read", ["c", "d"]),
        ("written", ["a", "b"]),
        ("write", ["c", "d"]),
    ]
    seen, _, full = recorder.polls[0]
    assert full is True and names(seen) == ["b"]  # only what the pages kept
    assert sorted(written[0].ids) == [ord(n) for n in "abcd"]
    # the watermark is the newest activity of every page, kept or not
    assert tracker.watermark == T0 - timedelta(minutes=1)

    events.clear()
    assert await tracker.poll(full=False) is True
    assert not any(kind == "write" for kind, _ in events)  # incremental: recorded whole
    assert written[-1] is None


async def test_a_read_that_fails_mid_way_lets_the_write_in_flight_end_and_records_nothing():
    tracker, hub, _, recorder = make([user(n, 5) for n in "abcd"])
    writes: list = []
    failing = hub.iter_user_pages

    async def pages(**params):
        async for page in failing(**params):
            if page.users[0].name == "c":
                raise HubAPIError("GET users failed: HTTP 502")
            yield page

    async def record_page(page_users, now):
        await asyncio.sleep(0.01)
        writes.append([u.name for u in page_users])
        return PageWritten([], [], frozenset())

    hub.iter_user_pages = pages
    tracker.record_page = record_page
    tracker.write_chunk = 2
    assert await tracker.poll() is False
    assert writes == [["a", "b"]]  # the chunk in flight was written before the poll ended
    assert recorder.polls == []  # no poll recorded: nobody is marked deleted
    assert "HTTP 502" in tracker.state.last_error


async def test_a_full_read_writes_chunks_of_at_least_its_chunk_size_and_the_rest_at_the_end():
    tracker, _, _, recorder = make([user(n, 5) for n in "abcde"])
    chunks: list = []

    async def record_page(page_users, now):
        chunks.append([u.name for u in page_users])
        return PageWritten([], [], frozenset())

    tracker.record_page = record_page
    tracker.write_chunk = 3  # pages of two: a chunk is written once it holds three or more
    assert await tracker.poll() is True
    assert chunks == [["a", "b", "c", "d"], ["e"]]
    assert recorder.polls[0][0] == []
