"""Prometheus metrics: a collector over the latest snapshot and poll stats, and its handler.

Each scrape builds fresh metric families from figures already in memory: no hub call and
no database read. Series carry no usernames and no per-user labels; the names are a public
contract documented in ``docs/metrics.md`` (``METRIC_NAMES`` is the federation allowlist).
The per-group series exist only with ``Onboarding.report_group_names``: group names are the
community's own words, and leave the hub only when the configuration says so.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from tornado.web import URLSpec

from .. import __version__
from ..core.clock import Clock, as_utc, latest
from ..core.events import Event
from ..core.pollstats import PollStats
from ..core.rules import BASES, ROLLING_WINDOWS, parse_month
from ..core.snapshot import Snapshot
from ..core.status.model import MonthCount, Storage, Usage
from ..core.status.write import (
    billing_section,
    events_section,
    first_value_section,
    mau_section,
    usage_section,
)
from ..core.usage import month_bounds
from .handlers import APIHandler

PREFIX = "jupyterhub_onboarding_"
#: 1 while a setting is refused (the "not configured" state serves it alone), else 0.
CONFIG_ERROR = f"{PREFIX}config_error"

#: Every series name this service exposes, as written in the exposition (the names to put in
#: a federation allowlist). Histogram series are listed by their sample names.
METRIC_NAMES: tuple[str, ...] = (
    f"{PREFIX}active_users",
    f"{PREFIX}check_in_due",
    f"{PREFIX}closed_month_active_users",
    f"{PREFIX}closed_month_start_timestamp_seconds",
    f"{PREFIX}closed_month_usage_fee_dollars",
    CONFIG_ERROR,
    f"{PREFIX}estimated_usage_fee_dollars",
    f"{PREFIX}first_value_achieved",
    f"{PREFIX}first_value_threshold",
    f"{PREFIX}first_value_timestamp_seconds",
    f"{PREFIX}home_storage_bytes",
    f"{PREFIX}home_storage_measured_timestamp_seconds",
    f"{PREFIX}info",
    f"{PREFIX}last_successful_poll_timestamp_seconds",
    f"{PREFIX}links_info",
    f"{PREFIX}live_since_timestamp_seconds",
    f"{PREFIX}monthly_active_users",
    f"{PREFIX}monthly_group_active_users",
    f"{PREFIX}monthly_group_server_hours",
    f"{PREFIX}monthly_group_sessions",
    f"{PREFIX}monthly_peak_concurrent_servers",
    f"{PREFIX}monthly_profile_server_hours",
    f"{PREFIX}monthly_profile_sessions",
    f"{PREFIX}monthly_server_hours",
    f"{PREFIX}monthly_sessions",
    f"{PREFIX}next_event_checklist_complete",
    f"{PREFIX}next_event_expected_attendees",
    f"{PREFIX}next_event_start_timestamp_seconds",
    f"{PREFIX}poll_duration_seconds_bucket",
    f"{PREFIX}poll_duration_seconds_count",
    f"{PREFIX}poll_duration_seconds_sum",
    f"{PREFIX}poll_errors_total",
    f"{PREFIX}tracker_stale",
    f"{PREFIX}users_logged_in",
)

#: Seconds without a successful poll after which the tracker is stale, used until a snapshot
#: carries the configured value.
DEFAULT_STALE_AFTER = timedelta(minutes=15)

_HELP = {
    "active_users": "Counted users with activity in a rolling window (not MAU).",
    "closed_month_active_users": "MAU of the latest closed UTC month, per basis, as written "
    "when it closed (or last recounted); present once a month has closed.",
    "closed_month_start_timestamp_seconds": "The first instant of the latest closed UTC month, "
    "as a Unix timestamp (present once a month has closed).",
    "closed_month_usage_fee_dollars": "The usage fee of the latest closed UTC month as written "
    "when it closed, in the configured currency (present once a month has closed).",
    "config_error": "1 while a setting is refused (the service serves nothing else), 0 otherwise.",
    "check_in_due": "1 when the check-in is due: first value not reached check_in_days "
    "after going live.",
    "estimated_usage_fee_dollars": "Estimated usage fee for the current UTC month on billing "
    "MAU, in the configured currency (US dollars by default).",
    "first_value_achieved": "1 once the moment of first value has been reached.",
    "first_value_threshold": "Counted users needed for the moment of first value.",
    "first_value_timestamp_seconds": "When first value was reached, as a Unix timestamp "
    "(present only once reached).",
    "home_storage_bytes": "Bytes in all home directories as last measured (present only "
    "once Prometheus has answered the home storage query).",
    "home_storage_measured_timestamp_seconds": "When the home directory sizes were last "
    "measured, as a Unix timestamp (present only once measured).",
    "info": "Build information of the onboarding service.",
    "links": "The hub's public URL, the onboarding page and the summary email, for alert "
    "annotations (present only when the hub's public URL is configured).",
    "last_successful_poll_timestamp_seconds": "When the hub was last polled successfully, "
    "as a Unix timestamp (present only after a successful poll).",
    "live_since_timestamp_seconds": "When the hub went live, as a Unix timestamp.",
    "monthly_active_users": "Distinct counted users active in the current UTC calendar "
    "month, per basis (login or server).",
    "monthly_sessions": "Server sessions of counted users started in the current UTC month.",
    "monthly_server_hours": "Wall time of counted users' running servers in the current UTC "
    "month, in hours.",
    "monthly_peak_concurrent_servers": "The most servers of counted users running at one poll "
    "in the current UTC month.",
    "monthly_group_active_users": "Members of a JupyterHub group active in the current UTC "
    "month, per basis (login or server); a user in several groups counts in each. Only with "
    "Onboarding.report_group_names (the max_usage_labels most active groups, the rest as "
    "'other').",
    "monthly_group_sessions": "Sessions of a group's members started in the current UTC "
    "month (only with Onboarding.report_group_names; bounded as the group's active users).",
    "monthly_group_server_hours": "Server-hours of a group's members in the current UTC month "
    "(only with Onboarding.report_group_names; bounded as the group's active users).",
    "monthly_profile_sessions": "Sessions started in the current UTC month per profile (the "
    "max_usage_labels most used, the rest as 'other').",
    "monthly_profile_server_hours": "Server-hours in the current UTC month per profile (the "
    "max_usage_labels most used, the rest as 'other').",
    "next_event_start_timestamp_seconds": "When the next planned event starts, as a Unix "
    "timestamp (present only while one is planned; a running event counts until its end).",
    "next_event_expected_attendees": "Attendees expected at the next planned event (present "
    "only while one is planned).",
    "next_event_checklist_complete": "1 when every preparation item of the next planned event "
    "is ticked (present only while one is planned).",
    "poll_duration_seconds": "Duration of polls of the hub's user list, successful or not.",
    "poll_errors_total": "Polls of the hub that failed since the service started.",
    "tracker_stale": "1 when no poll has succeeded within the stale_after interval.",
    "users_logged_in": "Counted users that have ever logged in.",
}


def _family(kind: str, name: str, **kwargs: Any) -> Any:
    """A fresh metric family of *kind* named with the prefix, its help from ``_HELP``."""
    families = {
        "counter": CounterMetricFamily,
        "gauge": GaugeMetricFamily,
        "histogram": HistogramMetricFamily,
        "info": InfoMetricFamily,
    }
    # An info family's samples get "_info" appended to its name.
    full_name = PREFIX.rstrip("_") if kind == "info" else PREFIX + name
    return families[kind](full_name, _HELP[name], **kwargs)


class OnboardingCollector(Collector):
    """Builds every series from the latest snapshot and poll stats at each scrape.

    *snapshot* and *stats* are called on each scrape and may return None (before the first
    poll); *clock* gives the time used to decide whether the tracker is stale; *links* the
    hub's public links (None when its URL is not configured) and *events* the planned events.
    """

    def __init__(
        self,
        snapshot: Callable[[], Snapshot | None],
        stats: Callable[[], PollStats | None],
        clock: Clock,
        *,
        links: Callable[[], Mapping[str, str] | None] = lambda: None,
        events: Callable[[], Sequence[Event]] = tuple,
        storage: Callable[[], Storage | None] = lambda: None,
    ) -> None:
        self._snapshot = snapshot
        self._stats = stats
        self._clock = clock
        self._links = links
        self._events = events
        self._storage = storage

    @classmethod
    def for_service(cls, service: Any) -> OnboardingCollector:
        """A collector over *service*'s current snapshot, its tracker's stats and its clock.

        ``service.current_snapshot()`` is built from the aggregates already in memory, so a
        scrape never reaches the hub or the database.
        """
        return cls(
            # no figures while warming up: zeros would read as a hub nobody uses
            snapshot=lambda: None if service.warming_up else service.current_snapshot(),
            stats=lambda: service.tracker.stats,
            clock=service.clock,
            links=lambda: public_links(service.app.public_url, service.app.service_prefix),
            events=lambda: service.events,
            storage=lambda: service.status_storage(),
        )

    def describe(self) -> list[Metric]:
        return [
            _family("info", "info"),
            _family("gauge", "config_error"),
            _family("gauge", "tracker_stale"),
            _family("gauge", "last_successful_poll_timestamp_seconds"),
            _family("histogram", "poll_duration_seconds"),
            _family("counter", "poll_errors_total"),
            _family("gauge", "users_logged_in"),
            _family("gauge", "first_value_threshold"),
            _family("gauge", "first_value_achieved"),
            _family("gauge", "first_value_timestamp_seconds"),
            _family("gauge", "live_since_timestamp_seconds"),
            _family("gauge", "monthly_active_users", labels=["basis"]),
            _family("gauge", "active_users", labels=["period"]),
            _family("gauge", "estimated_usage_fee_dollars"),
            _family("gauge", "check_in_due"),
            _family("gauge", "closed_month_active_users", labels=["basis"]),
            _family("gauge", "closed_month_start_timestamp_seconds"),
            _family("gauge", "closed_month_usage_fee_dollars"),
            InfoMetricFamily(PREFIX + "links", _HELP["links"]),
            _family("gauge", "monthly_sessions"),
            _family("gauge", "monthly_server_hours"),
            _family("gauge", "monthly_peak_concurrent_servers"),
            _family("gauge", "monthly_profile_sessions", labels=["profile"]),
            _family("gauge", "monthly_profile_server_hours", labels=["profile"]),
            *_group_families(),
            _family("gauge", "next_event_start_timestamp_seconds"),
            _family("gauge", "next_event_expected_attendees"),
            _family("gauge", "next_event_checklist_complete"),
            _family("gauge", "home_storage_bytes"),
            _family("gauge", "home_storage_measured_timestamp_seconds"),
        ]

    def collect(self) -> Iterator[Metric]:
        now = as_utc(self._clock())
        snapshot = self._snapshot()
        stats = self._stats() or PollStats()

        yield _family("info", "info", value={"version": __version__})
        yield _family("gauge", "config_error", value=0)
        links = self._links()
        if links:
            yield InfoMetricFamily(PREFIX + "links", _HELP["links"], value=dict(links))
        yield from self._tracker_families(snapshot, stats, now)
        if snapshot is not None:
            yield from self._snapshot_families(snapshot)
        yield from self._event_families(now)
        storage = self._storage()
        if storage is not None and storage.measured_at is not None:
            yield _family("gauge", "home_storage_bytes", value=storage.total_bytes)
            yield _family(
                "gauge",
                "home_storage_measured_timestamp_seconds",
                value=storage.measured_at.timestamp(),
            )

    def _event_families(self, now: datetime) -> Iterator[Metric]:
        """The next planned event's start, size and readiness (nothing while none is planned):
        the first of the status document's ``events.upcoming``."""
        upcoming = events_section(self._events(), now).upcoming
        if not upcoming:
            return
        event = upcoming[0]
        yield _family("gauge", "next_event_start_timestamp_seconds", value=event.start.timestamp())
        yield _family("gauge", "next_event_expected_attendees", value=event.expected_attendees)
        yield _family("gauge", "next_event_checklist_complete", value=int(event.ready))

    def _tracker_families(
        self, snapshot: Snapshot | None, stats: PollStats, now: datetime
    ) -> Iterator[Metric]:
        stale_after = DEFAULT_STALE_AFTER
        snapshot_success = None
        if snapshot is not None:
            stale_after = snapshot.tracker.stale_after
            snapshot_success = snapshot.tracker.last_success_at
        last_success = latest(snapshot_success, stats.last_success_at)
        # Decided at scrape time, so a poll loop that has stopped is seen as stale even though
        # no new snapshot is built.
        stale = last_success is None or now - last_success > stale_after
        yield _family("gauge", "tracker_stale", value=int(stale))
        if last_success is not None:
            yield _family(
                "gauge", "last_successful_poll_timestamp_seconds", value=last_success.timestamp()
            )
        yield _family(
            "histogram",
            "poll_duration_seconds",
            buckets=stats.cumulative_buckets(),
            sum_value=stats.duration_sum,
        )
        yield _family("counter", "poll_errors_total", value=stats.errors_total)

    def _snapshot_families(self, snapshot: Snapshot) -> Iterator[Metric]:
        """The figures the status document also has, read from its sections."""
        first_value = first_value_section(snapshot)
        yield _family("gauge", "users_logged_in", value=first_value.users_logged_in)
        yield _family("gauge", "first_value_threshold", value=first_value.threshold)
        yield _family("gauge", "first_value_achieved", value=int(first_value.achieved))
        if first_value.achieved_at is not None:
            yield _family(
                "gauge", "first_value_timestamp_seconds", value=first_value.achieved_at.timestamp()
            )
        yield _family(
            "gauge", "live_since_timestamp_seconds", value=first_value.live_since.timestamp()
        )

        mau = mau_section(snapshot)
        family = _family("gauge", "monthly_active_users", labels=["basis"])
        counts = {"login": mau.login, "server": mau.server}
        for basis in BASES:
            family.add_metric([basis], counts[basis])
        yield family

        active = _family("gauge", "active_users", labels=["period"])
        for period in ROLLING_WINDOWS:
            active.add_metric([period], snapshot.rolling.get(period, 0))
        yield active

        billing = billing_section(snapshot)
        yield _family("gauge", "estimated_usage_fee_dollars", value=billing.estimated_usage_fee)
        yield _family("gauge", "check_in_due", value=int(first_value.check_in_due))
        yield from self._closed_month_families(mau.history)
        usage = usage_section(snapshot)
        yield from self._usage_families(usage)
        if snapshot.settings.report_group_names:
            yield from _group_series(usage)

    def _closed_month_families(self, history: Sequence[MonthCount]) -> Iterator[Metric]:
        """The latest closed month's figures, as written when it closed."""
        closed = [entry for entry in history if entry.closed]
        if not closed:
            return
        latest = closed[-1]
        family = _family("gauge", "closed_month_active_users", labels=["basis"])
        family.add_metric(["login"], latest.login)
        family.add_metric(["server"], latest.server)
        yield family
        start = month_bounds(parse_month(latest.month))[0]
        yield _family("gauge", "closed_month_start_timestamp_seconds", value=start.timestamp())
        yield _family(
            "gauge", "closed_month_usage_fee_dollars", value=latest.estimated_usage_fee or 0.0
        )

    def _usage_families(self, usage: Usage) -> Iterator[Metric]:
        yield _family("gauge", "monthly_sessions", value=usage.sessions)
        yield _family("gauge", "monthly_server_hours", value=usage.server_hours)
        yield _family(
            "gauge", "monthly_peak_concurrent_servers", value=usage.peak_concurrent_servers
        )
        # profile values are bounded: the max_usage_labels most used, then "other"
        sessions = _family("gauge", "monthly_profile_sessions", labels=["profile"])
        hours = _family("gauge", "monthly_profile_server_hours", labels=["profile"])
        for entry in usage.profiles:
            sessions.add_metric([entry.name], entry.sessions)
            hours.add_metric([entry.name], entry.server_hours)
        yield sessions
        yield hours


def _group_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    """The per-group families, empty: active users, sessions and server-hours."""
    return (
        _family("gauge", "monthly_group_active_users", labels=["group", "basis"]),
        _family("gauge", "monthly_group_sessions", labels=["group"]),
        _family("gauge", "monthly_group_server_hours", labels=["group"]),
    )


def _group_series(usage: Usage) -> tuple[Metric, ...]:
    """The current month's figures per JupyterHub group, labelled with the group's name.

    Only called with ``Onboarding.report_group_names``. The values are bounded as the
    profiles are: the status document's ``usage.groups``, the max_usage_labels most active
    groups and then "other"; the exposition escapes quotes, backslashes and line ends.
    """
    families = active, sessions, hours = _group_families()
    for group in usage.groups or ():
        if group.name is None:  # never with names on; an unnamed group has no label to show
            continue
        active.add_metric([group.name, "login"], group.mau_login)
        active.add_metric([group.name, "server"], group.mau_server)
        sessions.add_metric([group.name], group.sessions)
        hours.add_metric([group.name], group.server_hours)
    return families


def public_links(public_url: str, service_prefix: str) -> dict[str, str] | None:
    """The labels of ``links_info``: the hub, its onboarding page and the summary email.

    None without a configured public URL: the address a scrape arrives on (often an
    in-cluster one) is not where a person opens the hub.
    """
    if not public_url:
        return None
    hub = public_url.rstrip("/")
    page = hub + "/" + service_prefix.strip("/") + "/"
    return {"hub_url": hub + "/", "page_url": page, "summary_url": page + "summary"}


class MetricsHandler(APIHandler):
    """``GET {prefix}metrics``: the Prometheus text exposition.

    With ``Onboarding.authenticate_prometheus`` (the default) the request needs a hub token
    (or login) with access to this service: without credentials the answer is a JSON 401,
    with credentials lacking that access a JSON 403, never a redirect to the login page.
    """

    # tornado passes each route's own arguments to initialize, so routes differ in them
    def initialize(self, service: Any, exposition: Exposition) -> None:  # type: ignore[override]
        super().initialize(service)
        self.exposition = exposition

    def get(self) -> None:
        if self.service.app.authenticate_prometheus:
            self.require_access()
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(self.exposition.render())


class Exposition:
    """The rendered text of a registry, reused for *max_age* seconds.

    Figures change once per poll, so scrapes that arrive together (several Prometheus
    replicas, a federation) share one rendering instead of each building every family.
    """

    def __init__(self, registry: CollectorRegistry, max_age: float = 1.0) -> None:
        self.registry = registry
        self.max_age = max_age
        self._rendered_at = -math.inf
        self._text = b""

    def render(self) -> bytes:
        now = time.monotonic()
        if now - self._rendered_at >= self.max_age:
            self._text = generate_latest(self.registry)
            self._rendered_at = now
        return self._text


def metrics_registry(service: Any) -> CollectorRegistry:
    """A registry of its own (never the global one) holding *service*'s collector."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(OnboardingCollector.for_service(service))
    return registry


def routes(service: Any) -> list[URLSpec]:
    """The metrics route under the service prefix, for the service's tornado application."""
    return [
        URLSpec(
            re.escape(service.app.service_prefix) + "metrics",
            MetricsHandler,
            {"service": service, "exposition": Exposition(metrics_registry(service))},
            name="metrics",
        )
    ]


def config_error_exposition() -> tuple[str, bytes]:
    """The content type and text of the "not configured" state's metrics: the version and
    ``jupyterhub_onboarding_config_error 1``, nothing else."""

    class _NotConfigured(Collector):
        def collect(self) -> Iterator[Metric]:
            yield _family("info", "info", value={"version": __version__})
            yield _family("gauge", "config_error", value=1)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_NotConfigured())
    return CONTENT_TYPE_LATEST, generate_latest(registry)
