"""Figures from aggregates at an injected time: first value, check-in, months, staleness."""

from datetime import datetime, timedelta, timezone

from jupyterhub_onboarding.core.checklist import OnboardingRecord
from jupyterhub_onboarding.core.snapshot import (
    Aggregates,
    MonthCount,
    Settings,
    TrackerState,
    build_snapshot,
)
from jupyterhub_onboarding.core.status.write import build_status, report_section, to_json

UTC = timezone.utc
LIVE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SETTINGS = Settings(hub_url="https://hub.example.org", live_since=LIVE)
HEALTHY = TrackerState(last_success_at=LIVE)


def snap(now, aggregates=None, settings=SETTINGS, tracker=None):
    aggregates = aggregates or Aggregates()
    tracker = tracker or TrackerState(last_success_at=now)
    return build_snapshot(aggregates, settings, tracker, now)


def test_first_value_from_data_and_time_to_it():
    reached = LIVE + timedelta(days=3, hours=12)
    s = snap(
        LIVE + timedelta(days=5), Aggregates(users_logged_in=5, nth_seen_at={"login": reached})
    )
    assert s.achieved and s.achieved_at == reached
    assert s.days_to_first_value == 3.5
    assert not s.check_in_due


def test_first_value_never_regresses_once_persisted():
    reached = LIVE + timedelta(days=1)
    # a user was excluded later: the data no longer reaches five, the milestone stays
    s = snap(
        LIVE + timedelta(days=20),
        Aggregates(users_logged_in=4, nth_seen_at={"login": None}, milestones={"login": reached}),
    )
    assert s.achieved_at == reached
    assert not s.check_in_due


def test_server_basis_uses_its_own_milestone():
    settings = Settings(hub_url="", live_since=LIVE, first_value_basis="server")
    s = snap(LIVE + timedelta(days=1), Aggregates(nth_seen_at={"login": LIVE}), settings)
    assert not s.achieved
    s = snap(LIVE + timedelta(days=1), Aggregates(nth_seen_at={"server": LIVE}), settings)
    assert s.achieved


def test_check_in_due_exactly_fourteen_days_after_live():
    before = snap(LIVE + timedelta(days=14) - timedelta(seconds=1))
    at = snap(LIVE + timedelta(days=14))
    assert not before.check_in_due
    assert at.check_in_due
    assert at.check_in_due_at == LIVE + timedelta(days=14)


def test_generating_value_needs_threshold_recent_users():
    assert not snap(LIVE, Aggregates(generating_window_active=4)).generating_value
    assert snap(LIVE, Aggregates(generating_window_active=5)).generating_value


def test_month_boundary_switches_current_mau():
    months = (MonthCount("2026-11", 7, 2), MonthCount("2026-12", 1, 0))
    nov = snap(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), Aggregates(months=months))
    dec = snap(datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC), Aggregates(months=months))
    assert (nov.month, nov.mau_login, nov.mau_server) == ("2026-11", 7, 2)
    assert (dec.month, dec.mau_login, dec.mau_server) == ("2026-12", 1, 0)
    assert nov.estimated_usage_fee == 70.0 and dec.estimated_usage_fee == 10.0


def test_new_month_without_activity_is_zero():
    s = snap(datetime(2027, 1, 5, tzinfo=UTC), Aggregates(months=(MonthCount("2026-12", 3, 0),)))
    assert s.mau_login == 0 and s.estimated_usage_fee == 0.0
    chart = s.chart_months(12)
    assert len(chart) == 12 and chart[-1].month == "2027-01" and chart[-2].login == 3


def test_billing_basis_server():
    settings = Settings(hub_url="", live_since=LIVE, billing_basis="server")
    s = snap(LIVE, Aggregates(months=(MonthCount("2026-11", 280, 12),)), settings)
    assert s.billing_mau == 12 and s.estimated_usage_fee == 110.0


def test_stale_after_no_success():
    now = LIVE + timedelta(hours=1)
    assert snap(now, tracker=TrackerState()).stale
    assert snap(now, tracker=TrackerState(last_success_at=now - timedelta(minutes=16))).stale
    assert not snap(now, tracker=TrackerState(last_success_at=now - timedelta(minutes=14))).stale


def status_document(snapshot, hub_url=None):
    """The JSON the status handler serves for *snapshot* (no links, no events)."""
    report = report_section(snapshot, (), tier="essential", support_email="", response_time="")
    model = build_status(
        snapshot, record=OnboardingRecord(), report=report, events=(), hub_url=hub_url
    )
    return to_json(model)


def test_status_document_fields_and_no_names():
    s = snap(
        LIVE + timedelta(days=2),
        Aggregates(
            users_logged_in=2,
            months=(
                MonthCount("2026-10", 1, 0, closed=True, estimated_usage_fee=12.5),
                MonthCount("2026-11", 2, 1),
            ),
            rolling={"24h": 1, "7d": 2},
        ),
    )
    doc = status_document(s)
    assert doc["hub"]["url"] == "https://hub.example.org"
    assert doc["first_value"]["users_logged_in"] == 2
    assert doc["first_value"]["live_since"] == "2026-11-02T09:00:00Z"
    assert doc["mau"] == {
        "month": "2026-11",
        "login": 2,
        "server": 1,
        "history": [
            {
                "month": "2026-10",
                "login": 1,
                "server": 0,
                "closed": True,
                "estimated_usage_fee": 12.5,
            },
            {
                "month": "2026-11",
                "login": 2,
                "server": 1,
                "closed": False,
                "estimated_usage_fee": 20.0,
            },
        ],
    }
    assert doc["active_users"] == {"24h": 1, "7d": 2, "14d": 0, "30d": 0}
    assert doc["billing"]["estimated_usage_fee"] == 20.0
    assert doc["tracker"]["stale"] is False
    assert (
        status_document(
            snap(LIVE, settings=Settings(hub_url="", live_since=LIVE)),
            hub_url="http://from-request",
        )["hub"]["url"]
        == "http://from-request"
    )


def test_status_document_usage_section_current_month_and_history():
    from jupyterhub_onboarding.core.usage import LabelUsage, MonthUsage, UsageFigures

    october = MonthUsage("2026-10", sessions=3, server_hours=1.5, peak_concurrent_servers=2)
    november = MonthUsage(
        "2026-11",
        sessions=4,
        users_with_sessions=2,
        server_hours=3.25,
        median_session_minutes=40.0,
        p90_session_minutes=70.5,
        peak_concurrent_servers=3,
        profiles=(LabelUsage("small", 3, 2.0), LabelUsage("none", 1, 1.25)),
    )
    usage = UsageFigures(
        months=(october, november),
        last_login_distribution={"under_1d": 2, "1d_7d": 0},
    )
    s = snap(LIVE + timedelta(days=2), Aggregates(usage=usage))
    doc = status_document(s)["usage"]
    assert doc["month"] == "2026-11"
    assert (doc["sessions"], doc["users_with_sessions"], doc["server_hours"]) == (4, 2, 3.25)
    assert (doc["median_session_minutes"], doc["p90_session_minutes"]) == (40.0, 70.5)
    assert doc["peak_concurrent_servers"] == 3
    assert doc["profiles"] == [
        {"name": "small", "sessions": 3, "server_hours": 2.0},
        {"name": "none", "sessions": 1, "server_hours": 1.25},
    ]
    assert doc["images"] == []
    assert doc["last_login_distribution"] == {
        "under_1d": 2,
        "1d_7d": 0,
        "7d_30d": 0,
        "30d_90d": 0,
        "over_90d": 0,
    }
    assert [entry["month"] for entry in doc["history"]] == ["2026-10", "2026-11"]
    assert doc["history"][0]["peak_concurrent_servers"] == 2
    assert s.usage_previous_month.sessions == 3


def test_usage_of_a_month_without_sessions_is_zero():
    doc = status_document(snap(LIVE))["usage"]
    assert (doc["month"], doc["sessions"], doc["server_hours"]) == ("2026-11", 0, 0.0)
    assert doc["median_session_minutes"] is None and doc["history"] == []
