"""A report fit to send: a month to date compared like with like, months before the hub went
live refused, readable links and times, the community's name as the title, the provider's
name and logo (#19)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jupyterhub_onboarding.core.checklist import OnboardingRecord
from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.links import Link
from jupyterhub_onboarding.core.monthly import Branding, NoReport, build_report
from jupyterhub_onboarding.core.reportdata import report_data
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.core.snapshot import Settings, TrackerState, build_snapshot
from jupyterhub_onboarding.core.status.read import read_status
from jupyterhub_onboarding.core.status.write import build_status, report_section, to_json
from jupyterhub_onboarding.pdf import PDFRenderer
from jupyterhub_onboarding.service.store import Store

UTC = timezone.utc
RULES = CountingRules()
LIVE = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
#: Day 4 of December, 14:34.
NOW = datetime(2026, 12, 4, 14, 34, 34, 457929, tzinfo=UTC)
LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
    b'<rect width="120" height="40" fill="#0b5cad"/></svg>'
)
needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils")


def user(name: str, at: datetime, *servers: ServerSeen) -> UserSeen:
    return UserSeen(name, False, at, tuple(servers))


def server(started: datetime) -> ServerSeen:
    return ServerSeen("", True, started, started)


def seeded(tmp_path: Path) -> dict:
    """November: ana (2nd) and dan (3rd) log in, ana runs a server 4 November 14:00 to 16:00
    (34.6 minutes of it before 14:34:34); bob, cyd and eve log in on the 20th with a session each.
    December: ana logs in on the 2nd. Status at 4 December 14:34."""
    store = Store(f"sqlite:///{tmp_path / 'onboarding.sqlite'}")
    store.upgrade()
    try:
        record = lambda seen, at: store.record(seen, at, RULES)  # noqa: E731
        record(
            [user("ana", datetime(2026, 11, 2, 10, tzinfo=UTC))],
            datetime(2026, 11, 2, 10, tzinfo=UTC),
        )
        record(
            [user("dan", datetime(2026, 11, 3, 10, tzinfo=UTC))],
            datetime(2026, 11, 3, 10, tzinfo=UTC),
        )
        nov4 = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
        record([user("ana", nov4, server(nov4))], nov4)
        record([user("ana", nov4 + timedelta(hours=2))], nov4 + timedelta(hours=2))
        nov20 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        record([user(n, nov20, server(nov20)) for n in ("bob", "cyd", "eve")], nov20)
        later = nov20 + timedelta(hours=3)
        record([user(n, later) for n in ("bob", "cyd", "eve")], later)
        dec2 = datetime(2026, 12, 2, 10, tzinfo=UTC)
        record([user("ana", dec2)], dec2)
        aggregates = replace(store.aggregates(NOW, threshold=3), usage=store.usage_figures(NOW))
    finally:
        store.close()
    settings = Settings(hub_url="http://127.0.0.1:8000", live_since=LIVE, first_value_threshold=3)
    snapshot = build_snapshot(aggregates, settings, TrackerState(last_success_at=NOW), NOW)
    links = [
        Link(
            "support_email",
            "support",
            "Email support",
            "mailto:support@example.org?subject=Help%20with%20http%3A%2F%2F127.0.0.1%3A8000",
        ),
        Link("admin_guide_url", "documentation", "Admin guide", "https://docs.example.org/admin/"),
    ]
    section = report_section(
        snapshot, links, tier="basic", support_email="support@example.org", response_time=""
    )
    return to_json(build_status(snapshot, record=OnboardingRecord(), report=section, events=()))


def test_day_4_is_compared_with_days_1_to_4_of_the_previous_month(tmp_path):
    report = build_report(read_status(seeded(tmp_path)), "2026-12", hub_name="127.0.0.1")
    assert report.month_to_date and report.compared_with == "1\u20134 November 2026"
    before = report.previous
    # ana and dan by 4 November (not bob, cyd, eve of the 20th): 2, not November's 5
    assert (before.mau.login, before.new_users) == (2, 2)
    # the session of 4 November 14:00-16:00 counts up to 14:34 only; the 20th's not at all
    assert (before.usage.sessions, before.usage.server_hours) == (1, round(2074.457929 / 3600, 3))
    changes = {change.figure: change for change in report.changes}
    assert (changes["MAU (login)"].current, changes["MAU (login)"].previous) == ("1", "2")
    assert changes["MAU (login)"].change == "\u221250%"  # not -80% against all of November
    assert "MAU (login) fell 50% from 1\u20134 November 2026" in report.observations
    assert any("same days of the month before" in line for line in report.observations)


def test_a_month_to_date_without_the_same_days_makes_no_comparison(tmp_path):
    document = seeded(tmp_path)
    document["schema_version"] = 2  # a hub of the release before sends no previous_to_date
    del document["report"]["previous_to_date"]
    report = build_report(read_status(document), "2026-12", hub_name="h")
    assert report.changes == () and report.compared_with == ""
    assert not any("fell" in line or "rose" in line for line in report.observations)
    closed = build_report(read_status(document), "2026-11", hub_name="h")
    assert closed.compared_with == "October 2026" and closed.changes


@pytest.mark.parametrize("month", ["2026-08", "2025-12"])
def test_a_month_before_the_hub_went_live_is_refused(tmp_path, month):
    with pytest.raises(NoReport, match="went live on 7 September 2026"):
        build_report(read_status(seeded(tmp_path)), month, hub_name="h")


def test_the_chart_starts_at_the_first_live_month(tmp_path):
    report = build_report(read_status(seeded(tmp_path)), "2026-12", hub_name="h")
    assert [bar.month for bar in report.chart] == ["2026-09", "2026-10", "2026-11", "2026-12"]


@pytest.mark.integration  # pdftotext
@needs_poppler
def test_the_pdf_reads_as_a_document_to_send(tmp_path):
    branding = Branding("Example Lab", "Acme Hosting", ("svg", LOGO))
    report = build_report(
        read_status(seeded(tmp_path)), "2026-11", hub_name="127.0.0.1", branding=branding
    )
    path = tmp_path / "report.pdf"
    path.write_bytes(PDFRenderer().render("report.typ", report_data(report)))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert text.lstrip().startswith("Example Lab")  # the community's name is the title
    flat = " ".join(text.split())
    assert "Usage report, November 2026" in flat and "by Acme Hosting" in flat
    assert "mailto:" not in text and "%40" not in text and "%20" not in text
    assert "Email support support@example.org" in flat
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text)  # no raw ISO timestamp
    assert "generated 4 December 2026, 14:34 UTC" in flat
