"""The metrics collector over hand-built snapshots: values, contract, poll stats. No I/O."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from jupyterhub_onboarding import __version__
from jupyterhub_onboarding.core.events import Event
from jupyterhub_onboarding.core.pollstats import DEFAULT_POLL_BUCKETS, PollStats
from jupyterhub_onboarding.core.snapshot import (
    Aggregates,
    MonthCount,
    Settings,
    Snapshot,
    TrackerState,
    build_snapshot,
)
from jupyterhub_onboarding.core.status.model import GroupUsage, Storage
from jupyterhub_onboarding.core.status.write import storage_section
from jupyterhub_onboarding.core.storage import DirectorySize, StorageState, storage_figures
from jupyterhub_onboarding.core.usage import LabelUsage, MonthUsage, UsageFigures
from jupyterhub_onboarding.service.metrics import (
    METRIC_NAMES,
    Exposition,
    MetricsHandler,
    OnboardingCollector,
    metrics_registry,
    public_links,
    routes,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
LIVE_SINCE = datetime(2026, 10, 20, 9, 0, tzinfo=timezone.utc)
ACHIEVED_AT = datetime(2026, 10, 27, 15, 30, tzinfo=timezone.utc)
P = "jupyterhub_onboarding_"

#: The only labels any series may carry, with their only possible values.
ALLOWED_LABELS = {
    "basis": {"login", "server"},
    "period": {"24h", "7d", "14d", "30d"},
    "version": {__version__},
    # bounded by Onboarding.max_usage_labels: the most used profiles, then "other"
    "profile": {"small", "none", "other"},
}
USAGE = UsageFigures(
    months=(
        MonthUsage(
            "2026-11",
            sessions=9,
            server_hours=12.5,
            peak_concurrent_servers=4,
            profiles=(LabelUsage("small", 6, 10.0), LabelUsage("other", 3, 2.5)),
            groups=(GroupUsage("physics-101", 5, 2, 7, 9.5, 40.0),),
        ),
    )
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


STORAGE_AT = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
MEASURED_STORAGE = storage_section(
    StorageState(
        storage_figures(
            (DirectorySize("ada", 1_234_000, "ada"), DirectorySize("b", 567)), STORAGE_AT
        )
    ),
    configured=True,
)


def snapshot(
    *,
    logged_in: int = 7,
    started_server: int = 3,
    achieved_at: datetime | None = ACHIEVED_AT,
    months: tuple[MonthCount, ...] = (MonthCount("2026-10", 4, 1), MonthCount("2026-11", 6, 2)),
    rolling: dict[str, int] | None = None,
    last_success_at: datetime | None = NOW - timedelta(seconds=30),
    billing_basis: str = "login",
    now: datetime = NOW,
    group_names: bool = False,
) -> Snapshot:
    aggregates = Aggregates(
        users_logged_in=logged_in,
        users_started_server=started_server,
        nth_seen_at={"login": achieved_at},
        months=months,
        rolling=rolling if rolling is not None else {"24h": 1, "7d": 3, "14d": 5, "30d": 6},
        users_known=logged_in + 2,
        usage=USAGE,
    )
    settings = Settings(
        hub_url="https://hub.example.org",
        live_since=LIVE_SINCE,
        first_value_threshold=5,
        billing_basis=billing_basis,
        report_group_names=group_names,
    )
    tracker = TrackerState(last_success_at=last_success_at, stale_after=timedelta(minutes=15))
    return build_snapshot(aggregates, settings, tracker, now)


EXAM = Event(
    id=1,
    title="Exam",
    kind="exam",
    start=NOW + timedelta(days=3),
    end=NOW + timedelta(days=3, hours=2),
    expected_attendees=120,
    checklist=frozenset({"resources"}),
)


def scrape(
    snap: Snapshot | None,
    stats: PollStats | None = None,
    clock: Clock | None = None,
    links: dict[str, str] | None = None,
    events: tuple[Event, ...] = (),
    storage: Storage | None = None,
) -> str:
    registry = CollectorRegistry()
    registry.register(
        OnboardingCollector(
            lambda: snap,
            lambda: stats,
            clock or Clock(NOW),
            links=lambda: links,
            events=lambda: events,
            storage=lambda: storage,
        )
    )
    return generate_latest(registry).decode()


def test_next_event_series_show_the_earliest_planned_event_and_its_readiness():
    later = Event(
        id=2,
        title="Workshop",
        kind="workshop",
        start=NOW + timedelta(days=9),
        end=NOW + timedelta(days=9, hours=3),
        expected_attendees=40,
        checklist=frozenset({"resources", "image", "prewarm", "support"}),
    )
    cancelled = Event(
        **{
            **EXAM.__dict__,
            "id": 3,
            "start": NOW + timedelta(days=1),
            "end": NOW + timedelta(days=1, hours=1),
            "cancelled": True,
        }
    )
    found = samples(scrape(snapshot(), events=(later, cancelled, EXAM)))
    assert found[(P + "next_event_start_timestamp_seconds", frozenset())] == EXAM.start.timestamp()
    assert found[(P + "next_event_expected_attendees", frozenset())] == 120
    assert found[(P + "next_event_checklist_complete", frozenset())] == 0
    # once the exam has ended, the workshop is next, and it is ready
    after = samples(scrape(snapshot(), clock=Clock(EXAM.end), events=(later, EXAM)))
    assert after[(P + "next_event_expected_attendees", frozenset())] == 40
    assert after[(P + "next_event_checklist_complete", frozenset())] == 1
    # no planned event: no series at all
    none = scrape(snapshot(), events=(cancelled,))
    assert not any(name.startswith(P + "next_event") for name, _labels in samples(none))


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """``(sample name, labels) -> value`` parsed with prometheus-client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in found, f"duplicate sample {key}"
            found[key] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(P + name, frozenset(labels.items()))]


def names(text: str) -> set[str]:
    return {name for name, _ in samples(text)}


def test_every_figure_of_a_snapshot_is_exposed_with_its_value():
    text = scrape(snapshot())

    assert value(text, "users_logged_in") == 7
    assert value(text, "first_value_threshold") == 5
    assert value(text, "first_value_achieved") == 1
    assert value(text, "first_value_timestamp_seconds") == ACHIEVED_AT.timestamp()
    assert value(text, "live_since_timestamp_seconds") == LIVE_SINCE.timestamp()
    # the current UTC month (November), not October's history
    assert value(text, "monthly_active_users", basis="login") == 6
    assert value(text, "monthly_active_users", basis="server") == 2
    assert value(text, "active_users", period="24h") == 1
    assert value(text, "active_users", period="7d") == 3
    assert value(text, "active_users", period="14d") == 5
    assert value(text, "active_users", period="30d") == 6
    assert value(text, "estimated_usage_fee_dollars") == 60.0
    assert value(text, "check_in_due") == 0
    assert value(text, "tracker_stale") == 0
    assert (
        value(text, "last_successful_poll_timestamp_seconds")
        == (NOW - timedelta(seconds=30)).timestamp()
    )
    assert value(text, "info", version=__version__) == 1


def test_before_first_value_the_timestamp_is_absent_and_the_check_in_is_due():
    text = scrape(snapshot(logged_in=3, achieved_at=None))

    assert value(text, "first_value_achieved") == 0
    assert P + "first_value_timestamp_seconds" not in names(text)
    # live for 31 days, more than the default 14 days
    assert value(text, "check_in_due") == 1
    assert value(text, "users_logged_in") == 3


def test_check_in_is_not_due_in_the_first_two_weeks():
    text = scrape(snapshot(achieved_at=None, now=LIVE_SINCE + timedelta(days=13, hours=23)))
    assert value(text, "check_in_due") == 0


def test_fee_follows_the_graduated_tiers_and_the_billing_basis():
    november = (MonthCount("2026-11", 280, 40),)
    assert value(scrape(snapshot(months=november)), "estimated_usage_fee_dollars") == 1000.0
    by_server = scrape(snapshot(months=november, billing_basis="server"))
    assert value(by_server, "estimated_usage_fee_dollars") == 10 * 10 + 30 * 5
    assert value(by_server, "monthly_active_users", basis="login") == 280


def test_a_new_month_starts_from_zero():
    text = scrape(snapshot(months=(MonthCount("2026-10", 9, 4),)))
    assert value(text, "monthly_active_users", basis="login") == 0
    assert value(text, "monthly_active_users", basis="server") == 0
    assert value(text, "estimated_usage_fee_dollars") == 0


def test_before_the_first_snapshot_only_health_series_are_exposed():
    text = scrape(None, None)

    assert names(text) == {
        P + "info",
        P + "config_error",
        P + "tracker_stale",
        P + "poll_duration_seconds_bucket",
        P + "poll_duration_seconds_count",
        P + "poll_duration_seconds_sum",
        P + "poll_errors_total",
    }
    assert value(text, "tracker_stale") == 1
    assert value(text, "poll_duration_seconds_count") == 0
    assert value(text, "poll_errors_total") == 0


def test_staleness_is_decided_at_scrape_time_not_when_the_snapshot_was_built():
    last = NOW - timedelta(seconds=30)
    snap = snapshot(last_success_at=last)
    clock = Clock(last + timedelta(minutes=14, seconds=59))
    assert value(scrape(snap, clock=clock), "tracker_stale") == 0
    clock.now = last + timedelta(minutes=15, seconds=1)
    text = scrape(snap, clock=clock)
    assert value(text, "tracker_stale") == 1
    # the timestamp stays, so Prometheus can compute the age itself
    assert value(text, "last_successful_poll_timestamp_seconds") == last.timestamp()


def test_a_snapshot_without_any_successful_poll_is_stale():
    text = scrape(snapshot(last_success_at=None))
    assert value(text, "tracker_stale") == 1
    assert P + "last_successful_poll_timestamp_seconds" not in names(text)


def test_the_latest_success_of_snapshot_and_poll_stats_wins():
    stats = PollStats()
    newer = NOW - timedelta(seconds=5)
    stats.observe(0.2, True, newer)
    text = scrape(snapshot(last_success_at=NOW - timedelta(minutes=20)), stats)
    assert value(text, "last_successful_poll_timestamp_seconds") == newer.timestamp()
    assert value(text, "tracker_stale") == 0


def test_poll_histogram_is_cumulative_and_counts_every_poll():
    stats = PollStats()
    stats.observe(0.01, True, NOW)
    stats.observe(0.05, True, NOW)  # on a bound: in that bucket (le is inclusive)
    stats.observe(0.3, False, NOW + timedelta(seconds=1))
    stats.observe(200.0, True, NOW + timedelta(seconds=2))  # above the largest bound
    text = scrape(snapshot(), stats)

    bucket = P + "poll_duration_seconds_bucket"
    assert value(text, "poll_duration_seconds_bucket", le="0.05") == 2
    assert value(text, "poll_duration_seconds_bucket", le="0.25") == 2
    assert value(text, "poll_duration_seconds_bucket", le="0.5") == 3
    assert value(text, "poll_duration_seconds_bucket", le="120.0") == 3
    assert value(text, "poll_duration_seconds_bucket", le="+Inf") == 4
    assert value(text, "poll_duration_seconds_count") == 4
    assert math.isclose(value(text, "poll_duration_seconds_sum"), 200.36)
    assert value(text, "poll_errors_total") == 1
    les = [dict(labels)["le"] for name, labels in samples(text) if name == bucket]
    assert len(les) == len(DEFAULT_POLL_BUCKETS) + 1
    counts = [value(text, "poll_duration_seconds_bucket", le=le) for le in les]
    assert counts == sorted(counts)
    assert stats.last_error_at == NOW + timedelta(seconds=1)
    assert stats.last_success_at == NOW + timedelta(seconds=2)


def test_poll_stats_keep_counts_per_bucket_and_clamp_negative_durations():
    stats = PollStats(buckets=(1.0, 2.0))
    stats.observe(-3.0, True, NOW)
    stats.observe(1.5, True, NOW)
    stats.observe(9.0, False, NOW)
    assert stats.bucket_counts == [1, 1, 1]
    assert stats.cumulative_buckets() == [("1.0", 1), ("2.0", 2), ("+Inf", 3)]
    assert stats.duration_sum == 10.5
    assert (stats.count, stats.errors_total) == (3, 1)


@pytest.mark.parametrize(
    ("buckets", "message"),
    [
        ((), "at least one"),
        ((1.0, 0.5), "strictly ascending"),
        ((0.5, 0.5), "strictly ascending"),
        ((0.0, 1.0), "> 0"),
        ((1.0, math.inf), "finite"),
    ],
)
def test_poll_stats_reject_bad_buckets(buckets, message):
    with pytest.raises(ValueError, match=message):
        PollStats(buckets=buckets)


def test_poll_stats_reject_counts_of_the_wrong_length():
    with pytest.raises(ValueError, match="one entry per bound"):
        PollStats(buckets=(1.0, 2.0), bucket_counts=[0, 0])


def test_series_names_are_exactly_the_documented_contract():
    closed = (MonthCount("2026-10", 4, 1, closed=True, estimated_usage_fee=40.0),)
    full = scrape(
        snapshot(months=closed, group_names=True),
        PollStats(),
        links=public_links("https://hub.example.org", "/s/"),
        events=(EXAM,),
        storage=MEASURED_STORAGE,
    )
    assert names(full) == set(METRIC_NAMES)
    assert all(name.startswith(P) for name in METRIC_NAMES)


def test_home_storage_total_and_its_time_once_measured_and_kept_while_the_source_fails():
    assert P + "home_storage_bytes" not in names(scrape(snapshot()))
    never = storage_section(StorageState(), configured=True)
    assert P + "home_storage_bytes" not in names(scrape(snapshot(), storage=never))
    text = scrape(snapshot(), storage=MEASURED_STORAGE)
    assert value(text, "home_storage_bytes") == 1_234_567
    assert value(text, "home_storage_measured_timestamp_seconds") == STORAGE_AT.timestamp()
    failed = replace(MEASURED_STORAGE, problem="Prometheus is unreachable (connection refused)")
    assert value(scrape(snapshot(), storage=failed), "home_storage_bytes") == 1_234_567


def test_links_info_names_the_hub_page_and_summary_once_the_public_url_is_known():
    assert public_links("", "/services/onboarding/") is None
    assert P + "links_info" not in names(scrape(snapshot()))
    links = public_links("https://hub.example.org/", "/services/onboarding/")
    assert links == {
        "hub_url": "https://hub.example.org/",
        "page_url": "https://hub.example.org/services/onboarding/",
        "summary_url": "https://hub.example.org/services/onboarding/summary",
    }
    found = samples(scrape(None, links=links))
    assert found[(P + "links_info", frozenset(links.items()))] == 1.0


def test_labels_are_bounded_and_carry_no_user_data():
    stats = PollStats()
    stats.observe(1.0, False, NOW)
    for text in (scrape(snapshot()), scrape(snapshot(achieved_at=None), stats), scrape(None)):
        for name, labels in samples(text):
            for label, label_value in labels:
                if label == "le":
                    assert name.endswith("_bucket")
                    continue
                assert label in ALLOWED_LABELS, f"{name} has an unexpected label {label}"
                assert label_value in ALLOWED_LABELS[label]


def test_metric_types_and_help_as_documented():
    families = {f.name: f for f in text_string_to_metric_families(scrape(snapshot()))}
    assert families[P + "poll_duration_seconds"].type == "histogram"
    assert families[P + "poll_errors"].type == "counter"
    for name, family in families.items():
        assert family.documentation, f"{name} has no HELP"
        if family.type not in ("histogram", "counter"):
            assert family.type == "gauge", name


def test_describe_names_every_family_that_collect_can_produce():
    links = public_links("https://hub.example.org", "/services/onboarding/")
    closed = (MonthCount("2026-10", 4, 1, closed=True, estimated_usage_fee=40.0),)
    collector = OnboardingCollector(
        lambda: snapshot(months=closed, group_names=True),
        lambda: PollStats(),
        Clock(NOW),
        links=lambda: links,
        events=lambda: (EXAM,),
        storage=lambda: MEASURED_STORAGE,
    )
    described = {family.name for family in collector.describe()}
    collected = {family.name for family in collector.collect()}
    assert described == collected
    assert all(not family.samples for family in collector.describe())


def test_collector_reads_the_service_it_is_given_on_every_scrape():
    service = SimpleNamespace(
        current_snapshot=lambda: snapshot(logged_in=2, achieved_at=None),
        warming_up="",
        tracker=SimpleNamespace(stats=PollStats()),
        clock=Clock(NOW),
        events=(),
        app=SimpleNamespace(service_prefix="/services/onboarding/", public_url=""),
        status_storage=lambda: MEASURED_STORAGE,
    )
    registry = metrics_registry(service)
    assert registry is not REGISTRY
    assert value(generate_latest(registry).decode(), "users_logged_in") == 2
    service.current_snapshot = lambda: snapshot(logged_in=5)
    service.tracker.stats.observe(0.1, False, NOW)
    text = generate_latest(registry).decode()
    assert value(text, "users_logged_in") == 5
    assert value(text, "poll_errors_total") == 1
    assert value(text, "home_storage_bytes") == 1_234_567
    # nothing leaks into the process-wide registry
    assert REGISTRY.get_sample_value(P + "users_logged_in") is None


def test_routes_serve_metrics_under_the_service_prefix():
    service = SimpleNamespace(
        current_snapshot=lambda: None,
        tracker=SimpleNamespace(stats=None),
        clock=Clock(NOW),
        events=(),
        app=SimpleNamespace(service_prefix="/services/my-onboarding/"),
    )
    (spec,) = routes(service)
    assert spec.handler_class is MetricsHandler
    assert spec.matcher.match(SimpleNamespace(path="/services/my-onboarding/metrics")) is not None
    assert spec.matcher.match(SimpleNamespace(path="/services/my-onboarding/metricsx")) is None
    assert spec.kwargs["service"] is service
    assert isinstance(spec.kwargs["exposition"].registry, CollectorRegistry)
    assert spec.reverse() == "/services/my-onboarding/metrics"


def test_exposition_is_reused_within_its_max_age_then_rebuilt():
    class CountingCollector(Collector):
        def __init__(self):
            self.calls = 0

        def collect(self):
            self.calls += 1
            yield GaugeMetricFamily("jupyterhub_onboarding_probe", "probe", value=self.calls)

    registry = CollectorRegistry(auto_describe=False)
    collector = CountingCollector()
    registry.register(collector)
    fresh = Exposition(registry, max_age=3600)
    first = fresh.render()
    assert fresh.render() is first and collector.calls == 1
    always = Exposition(registry, max_age=0)
    assert b"jupyterhub_onboarding_probe 2.0" in always.render()
    assert b"jupyterhub_onboarding_probe 3.0" in always.render()


def test_docs_list_every_series_in_the_table_and_the_allowlist():
    doc = (ROOT / "docs" / "metrics.md").read_text()
    allowlist = re.search(r"```text\n(.*?)```", doc, re.S)
    assert allowlist, "docs/metrics.md needs the allowlist in a ```text block"
    assert allowlist.group(1).split() == sorted(METRIC_NAMES)
    for name in METRIC_NAMES:
        family = re.sub(r"_(bucket|count|sum)$", "", name)
        assert f"| `{family}" in doc, f"{family} missing from the metric table"
    selector = re.search(r"__name__=~\"(.*?)\"", doc)
    assert selector, "docs/metrics.md needs the federation match[] selector"
    pattern = re.compile(selector.group(1))
    assert all(pattern.fullmatch(name) for name in METRIC_NAMES)
    assert not pattern.fullmatch(P + "poll_duration_seconds")
    assert not pattern.fullmatch(P + "users")


def test_usage_series_of_the_current_month_with_the_profile_label_only():
    text = scrape(snapshot())
    assert value(text, "monthly_sessions") == 9
    assert value(text, "monthly_server_hours") == 12.5
    assert value(text, "monthly_peak_concurrent_servers") == 4
    assert value(text, "monthly_profile_sessions", profile="small") == 6
    assert value(text, "monthly_profile_sessions", profile="other") == 3
    assert value(text, "monthly_profile_server_hours", profile="small") == 10.0
    profiles = {
        dict(labels)["profile"]
        for name, labels in samples(text)
        if name == P + "monthly_profile_sessions"
    }
    assert profiles == {"small", "other"}


def test_hostile_profile_names_stay_one_escaped_label_value():
    from dataclasses import replace

    hostile = 'x"} 1\nevil{a="'
    month = replace(USAGE.months[0], profiles=(LabelUsage(hostile, 1, 1.0),))
    base = snapshot()
    text = scrape(replace(base, usage=UsageFigures(months=(month,))))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (sample,) = families[P + "monthly_profile_sessions"].samples
    # the line break became a visible mark when the label was made; the quotes and braces
    # are escaped by the exposition
    assert sample.labels == {"profile": 'x"} 1\ufffdevil{a="'}
    assert "evil" not in {f.name for f in families.values()}


def test_the_latest_closed_month_is_shown_as_written_when_it_closed():
    months = (
        MonthCount("2026-09", 40, 4, closed=True, estimated_usage_fee=300.0),
        MonthCount("2026-10", 12, 3, closed=True, estimated_usage_fee=110.0),
        MonthCount("2026-11", 6, 2, closed=False),
    )
    text = scrape(snapshot(months=months))
    assert value(text, "closed_month_active_users", basis="login") == 12
    assert value(text, "closed_month_active_users", basis="server") == 3
    assert value(text, "closed_month_usage_fee_dollars") == 110.0
    october = datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp()
    assert value(text, "closed_month_start_timestamp_seconds") == october
    # the open month stays "to date" in monthly_active_users; nothing closed, no series
    assert "closed_month" not in scrape(snapshot(months=months[2:])).replace("# HELP", "")
