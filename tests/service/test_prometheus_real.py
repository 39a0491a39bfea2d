"""A real Prometheus scrapes the metrics; every dashboard and rule expression is evaluated.

Two scenarios:

- three hubs served by the real collector over hand-built snapshots (healthy, check-in due
  and stale, never polled), so every alert can be driven into its expected state;
- the service running inside a real JupyterHub behind the real proxy, scraped with a hub
  token after real logins.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness.components import require_component
from harness.hub import running_hub
from harness.process import wait_until
from harness.prometheus import (
    PrometheusServer,
    ScrapeTarget,
    dashboard_queries,
    find_binary,
    load_dashboard,
    load_rules,
    metric_names,
    rule_expressions,
    running_prometheus,
    substitute,
    value_of,
)
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from jupyterhub_onboarding import __version__
from jupyterhub_onboarding.core.clock import utcnow
from jupyterhub_onboarding.core.events import CHECKLIST_KEYS, Event
from jupyterhub_onboarding.core.pollstats import PollStats
from jupyterhub_onboarding.core.snapshot import (
    Aggregates,
    MonthCount,
    Settings,
    TrackerState,
    build_snapshot,
)
from jupyterhub_onboarding.core.usage import LabelUsage, MonthUsage, UsageFigures
from jupyterhub_onboarding.service.metrics import OnboardingCollector

pytestmark = pytest.mark.integration
P = "jupyterhub_onboarding_"


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    path = find_binary("prometheus")
    # skips with a printed reason where it cannot be installed; fails in CI
    require_component("prometheus", path is not None, "Debian package prometheus")
    return path


def alert_states(prom: PrometheusServer, name: str) -> set[tuple[str, ...]]:
    """``(namespace, reason, state)`` of each active alert called *name*."""
    return {
        (a["labels"].get("namespace", ""), a["labels"].get("reason", ""), a["state"])
        for a in prom.alerts(name)
    }


def wait_for_alerts(
    prom: PrometheusServer, name: str, expected: set[tuple[str, ...]], timeout: float = 30
) -> None:
    wait_until(
        lambda: alert_states(prom, name) == expected,
        timeout,
        f"alerts {name} to be {expected} (now {alert_states(prom, name)})",
        interval=0.25,
    )


def assert_every_dashboard_query_returns_data(prom: PrometheusServer, hub: str) -> dict:
    """Evaluate each dashboard query for *hub*; return ``where -> result``."""
    results = {}
    for where, expr in dashboard_queries(load_dashboard()):
        query = substitute(expr, {"hub": hub})
        results[where] = prom.wait_for_query(query, timeout=30)
        assert {r["metric"].get("namespace") for r in results[where]} <= {hub, None}, where
    variable = prom.api("label/namespace/values", **{"match[]": "jupyterhub_onboarding_info"})
    assert hub in variable
    return results


def assert_rules_loaded_and_healthy(prom: PrometheusServer) -> None:
    """Every shipped rule is loaded and, once evaluated, healthy."""
    assert len(prom.rules()) == len(rule_expressions(load_rules())) == 7
    wait_until(
        lambda: {rule["health"] for rule in prom.rules()} == {"ok"},
        30,
        f"every rule to evaluate without error: {prom.rules()}",
    )


# -- three hubs over the real collector -------------------------------------------------------


def _settings(live_since: datetime) -> Settings:
    return Settings(hub_url="https://hub.example.org", live_since=live_since)


def _served(snapshot_of, stats: PollStats, events: tuple[Event, ...] = ()) -> tuple[Any, Any]:
    """The real collector behind prometheus-client's own HTTP server on a free port."""
    registry = CollectorRegistry()
    registry.register(
        OnboardingCollector(snapshot_of, lambda: stats, utcnow, events=lambda: events)
    )
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    return server, thread


def test_dashboard_queries_and_alert_states_over_three_hubs(prometheus_binary, tmp_path):
    now = utcnow()
    month = now.strftime("%Y-%m")
    # hub-a: live 20 days, first value after 3 days, polled a few seconds ago
    healthy = build_snapshot(
        Aggregates(
            users_logged_in=12,
            users_started_server=8,
            nth_seen_at={"login": now - timedelta(days=17)},
            months=(MonthCount(month, 11, 6),),
            rolling={"24h": 4, "7d": 9, "14d": 10, "30d": 11},
            usage=UsageFigures(
                months=(
                    MonthUsage(
                        month,
                        sessions=14,
                        server_hours=20.5,
                        peak_concurrent_servers=5,
                        profiles=(LabelUsage("small", 10, 15.0), LabelUsage("none", 4, 5.5)),
                    ),
                )
            ),
        ),
        _settings(now - timedelta(days=20)),
        TrackerState(last_success_at=now - timedelta(seconds=5)),
        now,
    )
    healthy_stats = PollStats()
    for duration in (0.04, 0.06, 0.3, 2.0):
        healthy_stats.observe(duration, True, now)
    # hub-b: live 30 days, 2 users, last successful poll 20 minutes ago, polls failing since
    late = build_snapshot(
        Aggregates(users_logged_in=2, months=(MonthCount(month, 2, 0),)),
        _settings(now - timedelta(days=30)),
        TrackerState(last_success_at=now - timedelta(minutes=20)),
        now,
    )
    late_stats = PollStats()
    late_stats.observe(20.0, False, now)
    assert late.check_in_due and not healthy.check_in_due

    # hub-a: an exam in 3 days with its checklist half done; hub-b: a demo in 2 days, ready
    exam_start = (now + timedelta(days=3)).replace(microsecond=0)
    exam = Event(
        id=1,
        title="Midterm exam",
        kind="exam",
        start=exam_start,
        end=exam_start + timedelta(hours=2),
        expected_attendees=80,
        checklist=frozenset(CHECKLIST_KEYS[:2]),
    )
    demo_start = now + timedelta(days=2)
    demo = Event(
        id=1,
        title="Demo",
        kind="demo",
        start=demo_start,
        end=demo_start + timedelta(hours=1),
        expected_attendees=10,
        checklist=frozenset(CHECKLIST_KEYS),
    )
    servers = {
        "hub-a": _served(lambda: healthy, healthy_stats, (exam,)),
        "hub-b": _served(lambda: late, late_stats, (demo,)),
        # hub-c: started, never polled successfully
        "hub-c": _served(lambda: None, PollStats()),
    }
    targets = [
        ScrapeTarget(
            f"onboarding-{hub}",
            f"127.0.0.1:{server.server_address[1]}",
            labels={"namespace": hub},
        )
        for hub, (server, _) in servers.items()
    ]
    try:
        with running_prometheus(tmp_path, targets, binary=prometheus_binary) as prom:
            prom.wait_for_query("count(up == 1) == 3", timeout=30, predicate=lambda r: len(r) == 1)
            assert_rules_loaded_and_healthy(prom)

            results = assert_every_dashboard_query_returns_data(prom, "hub-a")
            assert value_of(results["Users logged in / needed / A"]) == 12
            assert value_of(results["Progress to first value / A"]) == 1
            assert value_of(results["Estimated usage fee (current month) / A"]) == 10 * 10 + 5
            days = value_of(results["Days to first value / A"])
            assert math.isclose(days, 3.0, abs_tol=0.01)
            mau = {
                r["metric"]["basis"]: float(r["value"][1])
                for r in prom.query(f'{P}monthly_active_users{{namespace="hub-a"}}')
            }
            assert mau == {"login": 11.0, "server": 6.0}
            assert value_of(results["Sessions (current month) / A"]) == 14
            assert value_of(results["Server-hours (current month) / A"]) == 20.5
            assert value_of(results["Peak concurrent servers (current month) / A"]) == 5
            profiles = {
                r["metric"]["profile"]: float(r["value"][1])
                for r in results["Sessions per profile (current UTC month) / A"]
            }
            assert profiles == {"small": 10.0, "none": 4.0}
            next_event = "Next event: start, expected attendees, checklist"
            assert value_of(results[f"{next_event} / A"]) == exam_start.timestamp() * 1000
            assert 2.9 < value_of(results[f"{next_event} / B"]) <= 3.0
            assert value_of(results[f"{next_event} / C"]) == 80
            assert value_of(results[f"{next_event} / D"]) == 0

            # every rule's expression finds its hub, and each alert is in the expected state
            for name, expr in rule_expressions(load_rules()):
                # no hub is absent; hub-a reached first value more than 7 days ago; every
                # hub is configured (its series config_error is 0)
                if name not in (
                    "OnboardingMetricsAbsent",
                    "OnboardingFirstValueReached",
                    "OnboardingNotConfigured",
                ):
                    assert prom.wait_for_query(expr), name
            wait_for_alerts(prom, "OnboardingCheckInDue", {("hub-b", "", "pending")})
            wait_for_alerts(
                prom,
                "OnboardingTrackerStale",
                {("hub-b", "polls-failing", "firing"), ("hub-c", "never-polled", "pending")},
            )
            assert alert_states(prom, "OnboardingMetricsAbsent") == set()
            assert alert_states(prom, "OnboardingFirstValueReached") == set()
            assert alert_states(prom, "OnboardingNotConfigured") == set()
            # hub-a's exam is not prepared; hub-b's demo is
            wait_for_alerts(prom, "OnboardingEventNotReady", {("hub-a", "", "pending")})

            # hub-c's service goes away: its series vanish and the absence alert starts
            server, thread = servers.pop("hub-c")
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            prom.wait_for_query('up{namespace="hub-c"} == 0')
            absent_expr = dict(rule_expressions(load_rules()))["OnboardingMetricsAbsent"]
            result = prom.wait_for_query(absent_expr)
            assert [r["metric"] for r in result] == [{"namespace": "hub-c"}]
            wait_for_alerts(prom, "OnboardingMetricsAbsent", {("hub-c", "", "pending")})
            wait_for_alerts(prom, "OnboardingTrackerStale", {("hub-b", "polls-failing", "firing")})
    finally:
        for server, thread in servers.values():
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


# -- the service in a real hub ---------------------------------------------------------------


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def get_metrics(url: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.get(f"{url}metrics", headers=headers, timeout=10, follow_redirects=False)


def test_service_in_a_real_hub_is_scraped_by_prometheus(prometheus_binary, tmp_path: Path):
    live_since = utcnow().replace(microsecond=0) - timedelta(days=20)
    service_config = f"""
c.Onboarding.first_value_threshold = 2
c.Onboarding.live_since = {live_since.strftime("%Y-%m-%dT%H:%M:%SZ")!r}
c.Onboarding.excluded_users = {{"outsider", "staff"}}
"""
    # "staff", a hub admin the service does not count, plans an event later on
    with running_hub(
        tmp_path / "hub", service_config=service_config, admin_users=("admin", "staff")
    ) as hub:
        # without credentials: a JSON 401, not a redirect to the login page
        response = get_metrics(hub.service_url)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["status"] == 401

        # with a token of a user that has no access to the service: a JSON 403
        assert hub.api("POST", "users/outsider").status_code == 201
        created = hub.api("POST", "users/outsider/tokens", json={"expires_in": 600})
        assert created.status_code == 201, created.text
        response = get_metrics(hub.service_url, created.json()["token"])
        assert response.status_code == 403
        assert response.json()["status"] == 403

        def scrape() -> dict:
            response = get_metrics(hub.service_url, hub.status_token)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/plain")
            return parse(response.text)

        def one(figures: dict, name: str, **labels: str) -> float:
            return figures[(P + name, frozenset(labels.items()))]

        def polled(figures: dict) -> bool:
            return (P + "last_successful_poll_timestamp_seconds", frozenset()) in figures

        figures = wait_until(lambda: (lambda f: f if polled(f) else None)(scrape()), 60, "a poll")
        assert one(figures, "users_logged_in") == 0
        assert one(figures, "first_value_achieved") == 0
        assert one(figures, "check_in_due") == 1
        assert one(figures, "live_since_timestamp_seconds") == live_since.timestamp()
        assert one(figures, "info", version=__version__) == 1
        assert one(figures, "tracker_stale") == 0

        target = ScrapeTarget(
            "onboarding",
            hub.url.removeprefix("http://"),
            metrics_path=f"/services/{hub.service_name}/metrics",
            labels={"namespace": "test-hub"},
            token=hub.status_token,
        )
        with running_prometheus(
            tmp_path / "prometheus", [target], binary=prometheus_binary
        ) as prom:
            prom.wait_for_query('up{job="onboarding"} == 1')
            assert_rules_loaded_and_healthy(prom)
            # the check-in is due before anyone logs in
            wait_for_alerts(prom, "OnboardingCheckInDue", {("test-hub", "", "pending")})

            before_logins = datetime.now(timezone.utc)
            clients = [hub.login("alice"), hub.login("bob")]
            for client in clients:
                client.close()
            figures = wait_until(
                lambda: (lambda f: f if one(f, "first_value_achieved") == 1 else None)(scrape()),
                60,
                "first value after two logins",
            )
            assert one(figures, "users_logged_in") == 2
            assert one(figures, "first_value_threshold") == 2
            achieved_at = one(figures, "first_value_timestamp_seconds")
            assert before_logins.timestamp() - 60 <= achieved_at <= utcnow().timestamp() + 1
            assert one(figures, "check_in_due") == 0
            assert one(figures, "monthly_active_users", basis="login") == 2
            assert one(figures, "monthly_active_users", basis="server") == 0
            assert one(figures, "active_users", period="24h") == 2
            assert one(figures, "active_users", period="30d") == 2
            assert one(figures, "estimated_usage_fee_dollars") == 20.0
            assert one(figures, "poll_duration_seconds_count") >= 1
            assert one(figures, "poll_errors_total") == 0
            text = get_metrics(hub.service_url, hub.status_token).text
            for name in ("alice", "bob", "outsider", "admin"):
                assert name not in text

            # a real server with a profile: the sessions panels have data to show
            started = hub.api("POST", "users/alice/server", json={"profile": "small"})
            assert started.status_code in (201, 202), started.text
            usage = wait_until(
                lambda: (
                    lambda f: (
                        f
                        if (P + "monthly_sessions", frozenset()) in f
                        and one(f, "monthly_sessions") == 1
                        else None
                    )
                )(scrape()),
                90,
                "the session in the metrics",
            )
            assert one(usage, "monthly_profile_sessions", profile="small") == 1
            assert one(usage, "monthly_peak_concurrent_servers") == 1
            prom.wait_for_query(f'{P}first_value_achieved{{namespace="test-hub"}} == 1')
            prom.wait_for_query(f'{P}monthly_profile_sessions{{namespace="test-hub"}} == 1')

            # an admin plans a workshop with its checklist done: the events panel has data,
            # and the event alert stays quiet
            token = hub.api("POST", "users/staff/tokens", json={"expires_in": 600})
            assert token.status_code == 201, token.text
            begin = utcnow().replace(microsecond=0) + timedelta(days=4)
            planned = httpx.post(
                f"{hub.service_url}api/v1/events",
                headers={"Authorization": f"token {token.json()['token']}"},
                json={
                    "title": "Workshop",
                    "kind": "workshop",
                    "start": begin.isoformat(),
                    "end": (begin + timedelta(hours=3)).isoformat(),
                    "expected_attendees": 40,
                    "checklist": dict.fromkeys(CHECKLIST_KEYS, True),
                },
                timeout=30,
            )
            assert planned.status_code == 201, planned.text
            prom.wait_for_query(f'{P}next_event_expected_attendees{{namespace="test-hub"}} == 40')
            results = assert_every_dashboard_query_returns_data(prom, "test-hub")
            assert value_of(results["Users logged in / needed / A"]) == 2
            assert value_of(results["Progress to first value / A"]) == 1
            # real polls every half second: the poll-duration quantiles are real numbers
            p95 = prom.wait_for_query(
                substitute(
                    dict(dashboard_queries(load_dashboard()))["Poll duration / B"],
                    {"hub": "test-hub"},
                ),
                predicate=lambda r: r and math.isfinite(float(r[0]["value"][1])),
            )
            assert 0 < float(p95[0]["value"][1]) < 120

            # a healthy hub: no alert, and each rule's series exist (quiet for the right reason)
            for alert in (
                "OnboardingCheckInDue",
                "OnboardingTrackerStale",
                "OnboardingMetricsAbsent",
                "OnboardingEventNotReady",
            ):
                wait_for_alerts(prom, alert, set())
            # first value was reached minutes ago: time to update the customer's record
            wait_for_alerts(prom, "OnboardingFirstValueReached", {("test-hub", "", "firing")})
            for name, expr in rule_expressions(load_rules()):
                if name != "OnboardingFirstValueReached":
                    assert prom.query(expr) == [], f"{name} matches a healthy hub"
                for series in metric_names(expr):
                    found = prom.query(f'{series}{{namespace="test-hub"}}')
                    assert found, f"{name} reads {series}, which Prometheus does not have"

        # the scrape token never reaches the logs
        assert hub.status_token not in hub.log_tail(100_000)


def test_metrics_are_open_when_authenticate_prometheus_is_false(tmp_path: Path):
    config = "c.Onboarding.authenticate_prometheus = False\n"
    with running_hub(tmp_path / "hub", service_config=config) as hub:
        response = get_metrics(hub.service_url)
        assert response.status_code == 200, response.text
        figures = parse(response.text)
        assert figures[(P + "info", frozenset({("version", __version__)}))] == 1
        # the status API is still protected: only the metrics are opened
        status = httpx.get(f"{hub.service_url}api/v1/status", timeout=10)
        assert status.status_code == 401
        assert json.loads(status.text)["status"] == 401
