"""The monthly report through a real hub and the real proxy: an admin downloads this month's
and last month's PDF and HTML, a non-admin is refused, an anonymous visitor sent to log in."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import closing
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx
import pytest
from harness.hub import VIEWER_HUB_CONFIG, running_hub

from jupyterhub_onboarding.core.format import long_date
from jupyterhub_onboarding.core.rules import add_months, month_label, month_of

pytestmark = pytest.mark.integration

HOSTILE_TIER_TEXT = '#eval("1") <b>x</b>'
_THIS = month_of(datetime.now(timezone.utc))
#: Live since the first of last month: last month has a report, the month before none.
LIVE_SINCE = f"{month_label(add_months(_THIS, -1))}-01"
SERVICE_CONFIG = f"""
c.Onboarding.first_value_threshold = 2
c.Onboarding.report_page_size = "letter"
c.Onboarding.live_since = {LIVE_SINCE!r}
c.Onboarding.provider_name = "Acme Hosting"
c.OnboardingEmail.community_name = "Example Lab"
c.StandardLinks.grafana_cost_url = "https://grafana.example.org/d/cost"
c.StandardLinks.support_email = "support@example.org"
c.StandardLinks.response_time = {HOSTILE_TIER_TEXT!r}
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(
        tmp_path_factory.mktemp("report-hub"),
        hub_config=VIEWER_HUB_CONFIG,
        service_config=SERVICE_CONFIG,
    ) as hub:
        for name in ("ada", "ben"):
            hub.login(name).close()
        hub.wait_for_status(lambda s: s["first_value"]["achieved"] and s["mau"]["login"] >= 2)
        yield hub


def months() -> tuple[str, str]:
    current = month_of(datetime.now(timezone.utc))
    return month_label(current), month_label(add_months(current, -1))


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs Debian's poppler-utils")
def polled_since(status: dict, moment: datetime) -> bool:
    """True when a poll that began after *moment* has been recorded."""
    done = status["tracker"]["last_success_at"]
    return done is not None and datetime.fromisoformat(done.replace("Z", "+00:00")) > moment


def test_admin_downloads_this_and_last_months_report(hub, tmp_path):
    this, last = months()
    with closing(hub.login("admin")) as client:
        # the figures once the admin's own login is counted (the report shows it)
        status = hub.wait_for_status(lambda s: s["mau"]["login"] >= 3)
        # the Reports page links every month since going live
        landing = client.get(hub.service_url + "reports")
        # the report counts the admin's own login: compare it with a status polled after it
        logged_in = datetime.now(timezone.utc)
        status = hub.wait_for_status(lambda s: polled_since(s, logged_in))
        assert f'href="/services/onboarding/report/{this}"' in landing.text
        assert f'href="/services/onboarding/report/{last}"' in landing.text
        for month in (this, last):
            pdf = client.get(f"{hub.service_url}report/{month}.pdf")
            assert pdf.status_code == 200, pdf.text[:500]
            assert str(pdf.url) == f"{hub.service_url}report/{month}.pdf"
            assert pdf.headers["content-type"] == "application/pdf"
            assert pdf.headers["cache-control"] == "no-store"
            assert pdf.content.startswith(b"%PDF-")
            path = tmp_path / f"{month}.pdf"
            path.write_bytes(pdf.content)
            text = subprocess.run(
                ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
            ).stdout
            flat = " ".join(text.split())
            assert text.lstrip().startswith("Example Lab")  # the community's name: the title
            assert "by Acme Hosting" in flat and "mailto:" not in text
            info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
            assert "(letter)" in info
            assert HOSTILE_TIER_TEXT in flat  # configured text printed as text
            for name in ("ada", "ben", "admin"):
                assert f" {name} " not in f" {flat} "
            html = client.get(f"{hub.service_url}report/{month}")
            assert html.status_code == 200
            assert "content-security-policy" in html.headers
            assert f'href="/services/onboarding/report/{month}.pdf"' in html.text
            assert "&lt;b&gt;x&lt;/b&gt;" in html.text and "<b>x</b>" not in html.text
            if month == this:
                mau = status["mau"]["login"]
                assert "month to date" in flat
                reached = long_date(status["first_value"]["achieved_at"][:10])
                assert f"First value reached on {reached}" in flat
                assert f"<li><b>{mau}</b> MAU (logged in)</li>" in html.text
                fee = f"${status['billing']['estimated_usage_fee']:,.2f}"
                assert f"Estimated usage fee {fee}" in flat
            else:
                # last month ended with no activity on this new hub: there was nothing to
                # close, so the report says the month ended, not that it is closed
                assert "month ended" in flat and "closed month" not in flat
        future = month_label(add_months(month_of(datetime.now(timezone.utc)), 2))
        assert client.get(f"{hub.service_url}report/{future}.pdf").status_code == 404
        # a month before the hub went live: refused, in plain words, as HTML and PDF
        before = month_label(add_months(month_of(datetime.now(timezone.utc)), -2))
        for suffix in ("", ".pdf"):
            refused = client.get(f"{hub.service_url}report/{before}{suffix}")
            assert refused.status_code == 404
            assert "there is no report of" in refused.text and "before it was live" in refused.text
            assert f"The hub went live on {long_date(LIVE_SINCE)}" in refused.text
        assert client.get(f"{hub.service_url}report/2026-13").status_code == 400


def test_non_admin_is_refused_and_anonymous_is_sent_to_login(hub):
    this, _last = months()
    url = f"{hub.service_url}report/{this}.pdf"
    with closing(hub.login("carol")) as client:
        refused = client.get(url)
    assert refused.status_code == 403
    assert not refused.content.startswith(b"%PDF")
    anonymous = httpx.get(url, follow_redirects=True, timeout=30)
    assert urlsplit(str(anonymous.url)).path == "/hub/login"
    assert not anonymous.content.startswith(b"%PDF")


def test_the_status_document_carries_the_report_section(hub):
    section = hub.status()["report"]
    assert section["cost_dashboard_url"] == "https://grafana.example.org/d/cost"
    assert section["fee_tiers"][-1] == [None, 0.0]
    assert sum(entry["count"] for entry in section["new_users"]) >= 2
    assert "ada" not in str(section) and "ben" not in str(section)
