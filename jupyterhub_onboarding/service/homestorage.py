"""The storage poller: home directory sizes read from Prometheus every ``storage_interval``.

It keeps the last figures with their time. When a read fails the figures stay as they
were (with their own, older time) and the state's problem says why, e.g. "Prometheus is
unreachable (connection refused)"; the next read is tried sooner (``retry_interval``), and
the first read that succeeds replaces both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..core.clock import Clock, utcnow
from ..core.homedirs import DirectoryNaming
from ..core.sources import NO_DATA, SourceProblem
from ..core.storage import StorageState, assign_owners, storage_figures
from ..sourcesettings import SourceSettings
from .prometheus import SOURCE_NAME, PrometheusReader
from .sourceclient import SourceUnavailable

#: Seconds before a failed read is tried again (or storage_interval, if shorter).
RETRY_INTERVAL = 300.0

#: The hub's usernames, asked at each read to find each directory's owner.
Usernames = Callable[[], Iterable[str]]


class StoragePoller:
    """Reads *query* (one series per home directory, *directory_label* naming it) every
    *interval* seconds into a :class:`~..core.storage.StorageState`.

    *usernames*, when given, names the hub's users so each directory gets its owner (see
    :func:`~..core.storage.assign_owners`). Call :meth:`start` once the event loop runs and
    :meth:`stop` at shutdown; :meth:`read_once` reads now.
    """

    def __init__(
        self,
        reader: PrometheusReader,
        *,
        query: str,
        directory_label: str = "directory",
        naming: DirectoryNaming | None = None,
        interval: float = 3600.0,
        retry_interval: float = RETRY_INTERVAL,
        usernames: Usernames | None = None,
        clock: Clock = utcnow,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        log: logging.Logger | None = None,
    ) -> None:
        self.reader = reader
        self.query = query
        self.directory_label = directory_label
        self.naming = naming or DirectoryNaming()
        self.interval = interval
        self.retry_interval = min(retry_interval, interval)
        self.usernames = usernames
        self.clock = clock
        self.sleep = sleep
        self.log = log or logging.getLogger(__name__)
        self._state = StorageState()
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> StorageState:
        """The last figures, the latest read's problem (None when it succeeded) and when."""
        return self._state

    async def read_once(self) -> StorageState:
        """Read the sizes now; the new state (the old figures stay when the read fails)."""
        now = self.clock()
        try:
            result = await self.reader.query(self.query)
        except SourceUnavailable as error:
            return self._failed(error.problem(SOURCE_NAME, now))
        label = self.directory_label
        measured = [
            (sample.labels[label], sample.value)
            for sample in result.samples
            if sample.labels.get(label)
        ]
        unnamed = len(result.samples) - len(measured)
        if not measured:
            detail = f"the query gave no series with a {label!r} label"
            return self._failed(SourceProblem(SOURCE_NAME, NO_DATA, detail, now))
        sizes, rejected = assign_owners(measured, self.naming, self._known_users())
        measured_at = max(sample.at for sample in result.samples)
        figures = storage_figures(sizes, measured_at, rejected + unnamed + result.rejected)
        self._state = StorageState(figures, None, now)
        self.log.info(
            "Read the sizes of %d home directories from Prometheus (%d series left out)",
            figures.summary.directories,
            figures.rejected,
        )
        return self._state

    def _known_users(self) -> list[str] | None:
        """The hub's usernames, or None (owners unknown) when there are none to ask or
        asking fails (the sizes are still worth keeping)."""
        if self.usernames is None:
            return None
        try:
            return list(self.usernames())
        except Exception as error:  # the store's own errors: the sizes stand without owners
            self.log.warning(
                "Home directory owners unknown this time: usernames not read (%s)",
                type(error).__name__,
            )
            return None

    def _failed(self, problem: SourceProblem) -> StorageState:
        self._state = StorageState(self._state.figures, problem, problem.at)
        self.log.warning("Home directory sizes not read: %s", problem.message())
        return self._state

    async def run(self) -> None:
        """Read every *interval* seconds (every *retry_interval* after a failed read)."""
        while True:
            try:
                state = await self.read_once()
            except Exception:  # a bug must not end the reads for good
                self.log.exception("Home directory sizes not read")
                await self.sleep(self.retry_interval)
                continue
            await self.sleep(self.interval if state.problem is None else self.retry_interval)

    def start(self) -> None:
        """Start reading in the background (the first read at once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        """Stop reading and close the connection to Prometheus."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.reader.close()


def storage_poller(
    settings: SourceSettings,
    *,
    usernames: Usernames | None = None,
    clock: Clock = utcnow,
    log: logging.Logger | None = None,
) -> StoragePoller | None:
    """The poller *settings* (the ``Onboarding`` application) ask for, or None when storage
    is not configured (no ``prometheus_url`` or no query)."""
    if not settings.storage_enabled:
        return None
    reader = PrometheusReader(
        settings.prometheus_url,
        timeout=settings.prometheus_timeout,
        bearer_token_file=settings.prometheus_bearer_token_file,
        log=log,
    )
    return StoragePoller(
        reader,
        query=settings.home_storage_query,
        directory_label=settings.home_directory_label,
        naming=settings.directory_naming(),
        interval=settings.storage_interval,
        usernames=usernames,
        clock=clock,
        log=log,
    )
