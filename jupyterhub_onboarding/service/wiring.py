"""The running service: store, hub client, tracker, snapshot and web application together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from jupyterhub.services.auth import HubOAuth
from sqlalchemy.exc import OperationalError
from tornado import web

from ..core.checklist import Meeting, OnboardingRecord
from ..core.clock import as_utc, isoformat, parse_iso
from ..core.cost import SOURCE_NONE, CostFigures
from ..core.events import Event
from ..core.eventsizing import SIZING_DAYS, window_actual
from ..core.hubinfo import HubConfiguration
from ..core.hubmodel import UserSeen
from ..core.links import resolve_links
from ..core.pollstats import PollStats
from ..core.rules import month_label, month_of
from ..core.snapshot import Aggregates, Settings, Snapshot, build_snapshot
from ..core.status.model import StatusDocument, Storage
from ..core.status.write import build_status, cost_section, report_section, storage_section
from ..retry import RetryPolicy
from ..settings import StandardLinks
from .billing import routes as billing_routes
from .collection import Collections
from .cost import cost_reader
from .events import routes as event_routes
from .handlers import NotFoundHandler, core_routes
from .homestorage import storage_poller
from .hubclient import HubAPIError, HubClient
from .hubinfo import read_hub_configuration
from .metrics import routes as metrics_routes
from .published import PublishedStatus
from .store import Store
from .store.poll import PageWritten, WrittenPages
from .tracker import Tracker

#: Seconds before the database is tried again at start, at first and at most.
WARM_UP_RETRY_FIRST = 1.0
WARM_UP_RETRY_MAX = 60.0
#: Builds more routes for the web application from the running service (the page's).
RouteFactory = Callable[["OnboardingService"], list]


def _log_request(handler: web.RequestHandler) -> None:
    """Access log without query strings (OAuth codes) and without usernames."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING
    if handler.request.path.endswith(("/health", "/metrics")) and status < 400:
        level = logging.DEBUG
    handler.settings["service"].log.log(
        level,
        "%d %s %s %.1fms",
        status,
        handler.request.method,
        handler.request.path,
        1000 * handler.request.request_time(),
    )


class OnboardingService:
    """Everything the service runs, built from the ``Onboarding`` configuration."""

    def __init__(self, app, extra_routes: Sequence[RouteFactory] = ()) -> None:
        self.app = app
        self.extra_routes = tuple(extra_routes)
        self.log: logging.Logger = app.log
        self.clock = app.clock
        self.rules = app.counting_rules()
        self.label_keys = app.label_keys()
        self.store = Store(app.db_url, log=self.log)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="onboarding-db")
        #: The pages' reads (a page of the per-user table, a CSV): a thread, and so a pooled
        #: connection, of their own, so that no page waits behind a poll's write.
        self.read_executor = ThreadPoolExecutor(1, thread_name_prefix="onboarding-read")
        #: Database calls that fail as busy or unavailable are retried this way.
        self.db_retry = RetryPolicy(retries=2, backoff=0.5)
        #: Refreshing the figures is not retried: the last figures stay served, and the next
        #: poll refreshes again (retrying only delays publishing the poll's outcome).
        self.refresh_retry = RetryPolicy(retries=0)
        self.hub = HubClient(
            app.hub_api_url,
            app.api_token,
            timeout=app.hub_request_timeout,
            retries=app.hub_retries,
            concurrency=app.hub_concurrency,
            page_size=app.hub_page_size,
            log=self.log,
        )
        self.stats = PollStats()
        #: Full garbage collections held back while large short-lived structures are alive.
        self.collections = Collections()
        self.tracker = Tracker(
            self.hub,
            self._record,
            self.refresh,
            clock=self.clock,
            poll_interval=app.poll_interval,
            full_sync_interval=app.full_sync_interval,
            overlap=app.activity_overlap,
            stale_after=app.stale_after,
            stats=self.stats,
            log=self.log,
            hold_collections=self.collections.held,
            record_page=self._record_page,
        )
        self.hub_auth = self._hub_auth(app)
        self.database_ready = False
        #: Held while the schema is checked and upgraded (the start and a poll may both ask).
        self.database_lock = asyncio.Lock()
        #: Whether the figures were read from the database once: until then the service is
        #: warming up (the status API answers 503, the page says so, /health says so).
        self.figures_read = False
        #: Why the database could not be made ready at start yet (empty when it was).
        self.database_problem = ""
        self.warm_up_task: asyncio.Future | None = None
        self.aggregates = Aggregates()
        #: The checklist ticks and the meeting, as administrators recorded them.
        self.onboarding_record = OnboardingRecord()
        self.event_store = self.store.events
        #: Every planned event with its actual, and the hub's peak concurrent servers of the
        #: last SIZING_DAYS days: refreshed with the figures and after each change of an event.
        self.events: list[Event] = []
        self.events_peak: int | None = None
        self.settings = self._settings(as_utc(self.clock()))
        #: The hub's standard links, tier and support, for the status API and the pages.
        self.links = StandardLinks(parent=app)
        #: The hub's usernames as the polls saw them: the owners of home directories (kept
        #: only when home directory storage is configured).
        self.hub_usernames: frozenset[str] = frozenset()
        #: Home directory sizes from Prometheus (None when not configured).
        self.storage = storage_poller(
            app, usernames=self._usernames, clock=self.clock, log=self.log
        )
        #: The cloud cost of a month; the current month's is read after each refresh, in
        #: the background, and kept here (None until read).
        self.cost = cost_reader(app, clock=self.clock, log=self.log)
        self.month_cost: CostFigures | None = None
        self._cost_task: asyncio.Task[None] | None = None
        #: The status document and its JSON, built once per change of what they are made of.
        self.published = PublishedStatus(
            self.build_status_document, self._status_inputs, self.clock
        )
        self.web_app = self.make_web_app()

    # -- configuration derived at start ---------------------------------------------------

    @staticmethod
    def _hub_auth(app) -> HubOAuth:
        """Hub login for the handlers; ``c.HubOAuth.*`` in the config file applies.

        The token, API URL and prefix are the service's own. Logins are cached for a minute
        unless ``c.HubOAuth.cache_max_age`` says otherwise, so a user removed from the hub
        loses access quickly.
        """
        settings: dict[str, Any] = {
            "api_token": app.api_token,
            "api_url": app.hub_api_url,
            "base_url": app.service_prefix,
        }
        if "cache_max_age" not in app.config.get("HubOAuth", {}):
            settings["cache_max_age"] = 60
        return HubOAuth(parent=app, **settings)

    def _settings(self, live_since: datetime) -> Settings:
        app = self.app
        return Settings(
            hub_url=app.public_url,
            live_since=live_since,
            first_value_threshold=app.first_value_threshold,
            first_value_basis=app.first_value_basis,
            billing_basis=app.billing_basis,
            check_in_days=app.check_in_days,
            generating_value_days=app.generating_value_days,
            fee_tiers=tuple((bound, price) for bound, price in app.fee_tiers),
            currency=app.currency,
            report_group_names=app.report_group_names,
        )

    # -- database, off the event loop -----------------------------------------------------

    async def db(self, fn, *args: Any, **kwargs: Any) -> Any:
        """Run *fn* on the database thread; retry briefly when the database is busy."""
        return await self._run_db(self.db_retry, partial(fn, *args, **kwargs))

    async def read(self, fn, *args: Any, **kwargs: Any) -> Any:
        """Run the read *fn* for a page on the read thread, beside the database thread.

        SQLite lets readers in while a write transaction builds; a read that finds the
        database locked for longer than its busy timeout fails, and the page says the
        table cannot be read now. Nothing here reconnects: that is the database thread's.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.read_executor, partial(fn, *args, **kwargs))

    async def _run_db(self, policy: RetryPolicy, call: Callable[[], Any]) -> Any:
        """Run *call* on the database thread, retrying by *policy* when the database is busy
        or unavailable; after each such failure the connections are rebuilt first."""
        loop = asyncio.get_running_loop()

        async def attempt() -> Any:
            try:
                return await loop.run_in_executor(self.executor, call)
            except OperationalError:
                # a connection that failed may stay broken (opened read-only while the file
                # was, cut by a database restart): the retry, and the next poll, reconnect
                await loop.run_in_executor(self.executor, self.store.reconnect)
                raise

        def log_retry(retry: int, delay: float, error: BaseException) -> None:
            self.log.warning("Database busy or unavailable; retry %d/%d", retry, policy.retries)

        return await policy.call(
            attempt,
            retry_on=lambda error: isinstance(error, OperationalError),
            before_retry=log_retry,
        )

    async def ensure_database(self) -> None:
        """Create or migrate the schema and load persisted settings (once it succeeds)."""
        async with self.database_lock:
            if not self.database_ready:
                await self._prepare_database()

    async def _prepare_database(self) -> None:
        await self.db(self.store.upgrade)
        configured = self.app.parsed_live_since()
        if configured is not None:
            live_since = configured
        else:
            stored = await self.db(
                self.store.get_or_set_state, "live_since", isoformat(self.clock())
            )
            live_since = parse_iso(stored)
        changed = await self.db(self.store.apply_rules, self.rules)
        if changed:
            self.log.info("Exclusions changed: %d users re-evaluated", changed)
        self.settings = self._settings(live_since)
        self.database_ready = True

    async def _record_page(self, users: Sequence[UserSeen], now: datetime) -> PageWritten:
        await self.ensure_database()
        # only the home directories need every name: no copy of 100,000 names without them
        names = self.storage is not None
        return await self.db(self.store.record_page, users, now, self.rules, names=names)

    async def _record(
        self,
        seen: list[UserSeen],
        now: datetime,
        full: bool,
        present: frozenset[str],
        written: WrittenPages | None = None,
    ) -> None:
        await self.ensure_database()
        result = await self.db(
            self.store.record,
            seen,
            now,
            self.rules,
            full=full,
            present=present,
            label_keys=self.label_keys,
            written=written.ids if written is not None else None,
        )
        self.log.debug("Recorded poll: %s", result)
        if self.storage is None:
            return
        names = frozenset(user.name for user in seen)
        if written is not None:
            names |= written.names
        if full or not names <= self.hub_usernames:  # no copy of every name when none is new
            self.hub_usernames = names if full else self.hub_usernames | names

    def _usernames(self) -> frozenset[str]:
        """The hub's usernames for the storage poller; LookupError before a full poll (the
        directories' owners stay unknown, or are their names under the default naming)."""
        if not self.hub_usernames:
            raise LookupError("the hub's users are not read yet")
        return self.hub_usernames

    async def refresh(self) -> None:
        """Recompute the figures and the listed users from the database (after every poll).

        Requests are served from what this keeps, so pages and APIs never wait on the
        database, and keep answering with the last figures while it is unavailable.
        """
        if not self.database_ready:
            return
        store = self.store
        try:
            # months that closed are written before the figures are read, once
            await self._close_months()
            # first value is written before it is read: the figures' reads write nothing
            await self._run_db(
                self.refresh_retry, partial(store.record_milestones, self.app.first_value_threshold)
            )
            aggregates = await self._run_db(
                self.refresh_retry,
                partial(
                    store.aggregates,
                    self.clock(),
                    self.app.first_value_threshold,
                    self.app.generating_value_days,
                ),
            )
            record = await self._run_db(self.refresh_retry, store.onboarding_record)
            now = self.clock()
            usage = await self._run_db(
                self.refresh_retry, partial(store.usage_figures, now, self.app.max_usage_labels)
            )
            # the page's per-user table; on a locked database it gives up at once and the
            # page reads the month from the sessions until a later refresh writes it
            await self._run_db(self.refresh_retry, partial(store.write_usage_table, now))
        except Exception as error:
            self.log.warning("Could not refresh figures (%s); serving the last ones", error)
        else:
            self.aggregates = replace(aggregates, usage=usage)
            self.figures_read = True
            self.onboarding_record = record
            self.refresh_cost()
            # the events only when the database answered: a locked one would hold the poll's
            # outcome back by another busy timeout
            await self.refresh_events()

    async def _close_months(self) -> None:
        """Write the months that closed since the last refresh (each once, ever)."""
        settings = self.settings
        closed = await self._run_db(
            self.refresh_retry,
            partial(
                self.store.close_months,
                self.clock(),
                self.app.billing_close_days,
                settings.billing_basis,
                settings.fee_tiers,
            ),
        )
        for month in closed:
            self.log.info(
                "Closed %s: MAU login %d, server %d; fee %.2f on the %s basis",
                month.month,
                month.login,
                month.server,
                month.fee,
                month.basis,
            )

    async def refresh_events(self) -> None:
        """Read the events again; measure the actual of those that ended recently."""
        if not self.database_ready:
            return
        now = self.clock()
        try:
            found = await self._run_db(
                self.refresh_retry,
                partial(
                    self.event_store.settle_actuals,
                    now,
                    lambda records, event: window_actual(records, event.start, event.end, now),
                ),
            )
            peak = await self._run_db(
                self.refresh_retry,
                partial(self.event_store.peak_since, as_utc(now) - timedelta(days=SIZING_DAYS)),
            )
        except Exception as error:
            self.log.warning("Could not refresh events (%s); serving the last ones", error)
        else:
            self.events = found
            self.events_peak = peak

    # -- the check-in sources: cost, storage, hub configuration --------------------------

    def refresh_cost(self) -> None:
        """Read the current month's cloud cost in the background (the reader keeps answers
        15 minutes), so nothing waits on its source."""
        if self.cost.source == SOURCE_NONE or (self._cost_task and not self._cost_task.done()):
            return
        self._cost_task = asyncio.ensure_future(self._read_month_cost())

    async def _read_month_cost(self) -> None:
        try:
            self.month_cost = await self.cost.month_cost(month_label(month_of(self.clock())))
        except Exception:  # a bug must not end the service; the cost stays as it was
            self.log.exception("Cloud cost not read")

    def status_storage(self) -> Storage:
        """The home directory figures without names, as the status API and metrics give them."""
        state = self.storage.state if self.storage is not None else None
        return storage_section(state, configured=self.storage is not None)

    async def hub_configuration(self, profiles: Sequence[str] = ()) -> HubConfiguration | None:
        """The hub's version, authenticator and spawner for a report; None when the hub does
        not answer (the report leaves the configuration out)."""
        try:
            return await read_hub_configuration(self.hub, profiles)
        except HubAPIError as error:
            self.log.warning("Hub configuration not read (%s)", error)
            return None

    # -- the onboarding meeting -----------------------------------------------------------

    async def set_tick(self, item: str, ticked: bool, by: str) -> None:
        """Tick a checklist item off as admin *by* (or undo it); the page shows it at once."""
        await self.ensure_database()
        await self.db(self.store.set_tick, item, ticked, by, as_utc(self.clock()))
        self.onboarding_record = await self.db(self.store.onboarding_record)

    async def record_meeting(self, held: Meeting) -> None:
        """Store the onboarding meeting; the page and the status API show it at once."""
        await self.ensure_database()
        await self.db(self.store.record_meeting, held)
        self.onboarding_record = await self.db(self.store.onboarding_record)

    def current_snapshot(self) -> Snapshot:
        """The figures now: cheap, from the last aggregates; never touches hub or database."""
        return build_snapshot(self.aggregates, self.settings, self.tracker.state, self.clock())

    def status_document(self, hub_url: str) -> StatusDocument:
        """The whole status document now (*hub_url* is the hub's URL as the request shows
        it, for when the configuration gives none): as last built, unless it is due again."""
        return self.published.get(hub_url).document

    def status_body(self, hub_url: str) -> bytes:
        """The status document as the API sends it, encoded once per build."""
        return self.published.get(hub_url).body

    def _status_inputs(self) -> tuple[Any, ...]:
        """What the status document is made of: each is replaced when it changes."""
        storage = self.storage.state if self.storage is not None else None
        return (
            self.aggregates,
            self.settings,
            self.tracker.state,
            self.onboarding_record,
            self.events,
            self.month_cost,
            storage,
        )

    def build_status_document(self, hub_url: str) -> StatusDocument:
        """The whole status document now, every section built here."""
        snapshot = self.current_snapshot()
        links = self.links
        report = report_section(
            snapshot,
            resolve_links(links.link_settings(), hub_url),
            tier=links.tier,
            support_email=links.support_email,
            response_time=links.response_time,
        )
        cost = self.month_cost
        if cost is not None and cost.month != snapshot.month:
            cost = None  # last month's, until this month's is read
        return build_status(
            snapshot,
            record=self.onboarding_record,
            report=report,
            events=self.events,
            hub_url=hub_url,
            storage=self.status_storage(),
            cost=cost_section(
                cost, month=snapshot.month, currency=self.cost.currency, source=self.cost.source
            ),
        )

    # -- web ------------------------------------------------------------------------------

    def routes(self) -> list:
        routes = core_routes(self) + metrics_routes(self) + event_routes(self)
        routes += billing_routes(self)
        for factory in self.extra_routes:
            routes.extend(factory(self))
        routes.append((self.app.service_prefix + ".*", NotFoundHandler, {"service": self}))
        return routes

    def make_web_app(self) -> web.Application:
        return web.Application(
            self.routes(),
            cookie_secret=self.app.read_cookie_secret(),
            xsrf_cookies=True,
            login_url=self.hub_auth.login_url,
            log_function=_log_request,
            service=self,
        )

    # -- life cycle -----------------------------------------------------------------------

    @property
    def warming_up(self) -> str:
        """Why there are no figures to serve yet, as one line; empty once they were read."""
        if self.figures_read:
            return ""
        if self.database_problem:
            # the detail (which may name the database's address) is in the log only
            return "warming up: the database cannot be reached yet; retrying"
        return "warming up: reading the figures from the database"

    async def start(self) -> None:
        """Start in the background, so the service answers at once whatever its database
        holds: the schema check and upgrade (retried with backoff while the database cannot
        be reached), the first figures, and the polls."""
        self.warm_up_task = asyncio.ensure_future(self.warm_up())
        self.tracker.start()
        if self.storage is not None:
            self.storage.start()

    async def warm_up(self) -> None:
        await self._ready_database()
        # serve the stored figures from the first request, not zeros until the first poll;
        # the first reading of the year holds full collections back while it runs
        with self.collections.held():
            await self.refresh()
            # what start built stays for the process's life (modules, the figures' caches):
            # kept out of full collections before they resume, so none walks it
            self.collections.keep_what_start_built()
        self.log.info("Warmed up: the figures are read")

    async def _ready_database(self) -> None:
        delay = WARM_UP_RETRY_FIRST
        while True:
            try:
                await self.ensure_database()
            except Exception as error:
                self.database_problem = type(error).__name__
                self.log.error("Database not ready (%s); trying again in %gs", error, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, WARM_UP_RETRY_MAX)
            else:
                break
        self.database_problem = ""

    async def stop(self) -> None:
        if self.warm_up_task is not None:
            self.warm_up_task.cancel()
        await self.tracker.stop()
        if self.storage is not None:
            await self.storage.stop()
        if self._cost_task is not None:
            self._cost_task.cancel()
        self.cost.close()
        self.hub.close()
        self.executor.shutdown(wait=True)
        self.read_executor.shutdown(wait=True)
        self.store.close()
