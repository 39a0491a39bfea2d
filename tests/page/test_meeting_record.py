"""The onboarding meeting, recorded on the page of a real hub: checklist ticks and the meeting
through forms with XSRF, in a real browser (Chromium) and over HTTP; the status API and the
collector's CSV carry them. The summary page's mail-app link and its list of missing
settings, in the browser too.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import yaml
from harness.browser import log_in
from harness.hub import VIEWER_HUB_CONFIG, running_hub
from harness.process import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# The usage dashboard and the invoice timeframe are left unset: the summary page lists them.
SERVICE_CONFIG = """
c.StandardLinks.grafana_cost_url = "https://grafana.example.org/d/cost"
c.OnboardingEmail.contact_name = "Ada"
c.OnboardingEmail.community_name = "Example Lab"
c.OnboardingEmail.customer_email = "ada@example.org"
c.OnboardingEmail.account_manager = "Jo Rivera"
"""
XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(
        tmp_path_factory.mktemp("meeting-hub"),
        hub_config=VIEWER_HUB_CONFIG,
        service_config=SERVICE_CONFIG,
    ) as hub:
        hub.login("admin").close()
        hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] >= 1)
        yield hub


def page_xsrf(client: httpx.Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text[:500]
    return XSRF.search(response.text).group(1)


def onboarding(hub) -> dict:
    return hub.status()["onboarding"]


def test_a_post_without_xsrf_is_refused_and_changes_nothing(hub):
    before = onboarding(hub)
    with closing(hub.login("admin")) as client:
        page_xsrf(client, hub.service_url)  # the xsrf cookie is set, but not sent in the form
        tick = client.post(
            hub.service_url + "checklist",
            data={"item": "compute", "action": "tick"},
            follow_redirects=False,
        )
        meeting = client.post(
            hub.service_url + "meeting",
            data={"held_on": "2026-01-05", "hub_access_confirmed": "yes"},
            follow_redirects=False,
        )
        wrong = client.post(
            hub.service_url + "checklist",
            data={"item": "compute", "action": "tick", "_xsrf": "forged"},
            follow_redirects=False,
        )
    assert tick.status_code == meeting.status_code == wrong.status_code == 403
    assert onboarding(hub) == before


def test_a_non_admin_cannot_tick_or_record(hub):
    before = onboarding(hub)
    with closing(hub.login("carol")) as client:
        # carol may open the service (the hub lets her through) but is not an admin
        refused = client.get(hub.service_url)
        assert refused.status_code == 403
        xsrf = client.cookies.get("_xsrf", path="/services/onboarding/") or ""
        tick = client.post(
            hub.service_url + "checklist",
            data={"item": "compute", "action": "tick", "_xsrf": xsrf},
            follow_redirects=False,
        )
        meeting = client.post(
            hub.service_url + "meeting",
            data={"held_on": "2026-01-05", "hub_access_confirmed": "yes", "_xsrf": xsrf},
            follow_redirects=False,
        )
    assert tick.status_code == 403 and meeting.status_code == 403
    assert "Ticked off" not in tick.text
    # Her XSRF token was valid: the page's own admin check refused her, naming no figures.
    assert xsrf
    for response in (tick, meeting):
        assert "is not one" in response.text, response.text[:300]
    assert onboarding(hub) == before


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("checklist", {"item": "first_value", "action": "tick"}, "no checklist item to tick"),
        ("checklist", {"item": "compute", "action": "maybe"}, "either ticked or unticked"),
        ("meeting", {"held_on": "05/11/2026", "hub_access_confirmed": "yes"}, "a date like"),
        ("meeting", {"held_on": "2999-01-01", "hub_access_confirmed": "yes"}, "in the future"),
        ("meeting", {"held_on": "2026-01-05", "hub_access_confirmed": ""}, "yes or no"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(hub, path, data, message):
    before = onboarding(hub)
    with closing(hub.login("admin")) as client:
        xsrf = page_xsrf(client, hub.service_url)
        response = client.post(hub.service_url + path, data={**data, "_xsrf": xsrf})
    assert response.status_code == 400
    assert message in response.text and "Nothing was changed" in response.text
    assert onboarding(hub) == before


def collect_csv(hub, tmp_path: Path) -> dict[str, str]:
    """The collector's CSV row of this hub, from the real CLI."""
    (tmp_path / "hubs.yaml").write_text(
        yaml.safe_dump({"hubs": [{"name": "meeting-hub", "hub_url": hub.url, "token_env": "T"}]})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    env.update(
        T=hub.status_token, PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    )
    run = subprocess.run(
        [sys.executable, "-m", "jupyterhub_onboarding", "collect", "--hubs", "hubs.yaml",
         "--format", "csv", "--output", "report.csv"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    (row,) = csv.DictReader(io.StringIO((tmp_path / "report.csv").read_text()))
    return row


def test_browser_ticks_unticks_and_records_the_meeting(hub, browser_context, tmp_path, artifacts):
    page = browser_context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, hub)

    # The viewing admin is the proof an administrator has logged in, with when.
    admin_item = page.locator("#item-admin_logged_in")
    assert admin_item.get_attribute("data-done") == "true"
    assert "Verified on " in admin_item.inner_text()
    progress = page.locator("#checklist-progress").inner_text()
    done_before = int(re.match(r"(\d+) of (\d+)", progress).group(1))

    item = page.locator("#item-authentication")
    assert item.get_attribute("data-done") == "false"
    item.locator("button", has_text="Tick off").click()
    page.wait_for_url(re.compile(r".*/services/onboarding/(#item-authentication)?$"))
    item = page.locator("#item-authentication")
    assert item.get_attribute("data-done") == "true"
    assert re.search(r"Ticked off by admin on \d{4}-\d\d-\d\d \d\d:\d\d UTC", item.inner_text())
    assert page.locator("#checklist-progress").inner_text().startswith(f"{done_before + 1} of ")
    status = hub.status()["onboarding"]
    assert status["checklist_done"] >= 1 and status["checklist_total"] == 14
    assert "admin" not in str(status)  # who ticked stays on the page

    # Undo the tick.
    item.locator("button", has_text="Undo").click()
    wait_until(
        lambda: page.locator("#item-authentication").get_attribute("data-done") == "false",
        15,
        "the tick to be undone",
    )
    assert "Ticked off by" not in page.locator("#item-authentication").inner_text()

    # Tick another and record the meeting.
    page.locator("#item-compute button", has_text="Tick off").click()
    wait_until(
        lambda: page.locator("#item-compute").get_attribute("data-done") == "true",
        15,
        "the compute item to be ticked",
    )
    held = (date.today() - timedelta(days=1)).isoformat()
    page.fill("#meeting-date", held)
    page.check("#access-yes")
    page.click("#meeting-submit")
    wait_until(
        lambda: f"Held on {held}" in page.locator("#meeting-recorded").inner_text(),
        15,
        "the meeting to be recorded",
    )
    recorded = page.locator("#meeting-recorded").inner_text()
    assert "hub access confirmed" in recorded and "Recorded by admin" in recorded
    page.screenshot(path=str(artifacts / "onboarding-meeting.png"), full_page=True)
    assert not problems, problems

    # The status API and the collector's CSV carry the meeting and the checklist.
    status = hub.status()["onboarding"]
    assert status["meeting_date"] == held and status["hub_access_confirmed"] is True
    row = collect_csv(hub, tmp_path)
    assert row["onboarding_date"] == held
    assert row["hub_access_confirmed"] == "true"
    assert row["checklist_done"] == str(status["checklist_done"])
    assert row["checklist_total"] == "14"
    assert row["first_value_date"] == ""  # not reached on this hub


def test_browser_summary_offers_the_mail_app_and_lists_what_is_missing(hub, browser_context):
    page = browser_context.new_page()
    page.goto(hub.service_url + "summary")
    if "/hub/login" in page.url:
        log_in(page, hub)
        page.goto(hub.service_url + "summary")
    missing = page.locator("#summary-missing")
    assert missing.is_visible()
    settings = missing.locator("li").evaluate_all("items => items.map(i => i.dataset.setting)")
    assert "StandardLinks.grafana_usage_url" in settings
    assert "OnboardingEmail.first_invoice" in settings
    assert "StandardLinks.grafana_cost_url" not in settings  # configured
    body = page.locator("#summary-body").input_value()
    assert body.startswith("Hi Ada,\n") and "Usage Dashboard" not in body
    assert "not set up" not in body

    href = page.locator("#summary-mailto").get_attribute("href")
    parts = urlsplit(href)
    assert parts.scheme == "mailto" and unquote(parts.path) == "ada@example.org"
    query = parse_qs(parts.query, keep_blank_values=True)
    assert query["subject"] == [page.locator("#summary-subject").input_value()]
    assert query["body"][0].replace("\r\n", "\n") == body
    assert len(href) <= 2000


def test_the_viewing_admin_counts_before_the_next_poll_sees_them(tmp_path):
    """Polls an hour apart: the first saw no admin activity, yet an admin is looking."""
    with running_hub(tmp_path, poll_interval=3600) as slow:
        assert slow.status()["tracker"]["last_success_at"] is not None
        with closing(slow.login("admin")) as client:
            html = client.get(slow.service_url).text
    item = re.search(r'<li[^>]*id="item-admin_logged_in".*?</li>', html, re.S).group(0)
    assert "No administrator has logged in yet" not in item
    assert "You are logged in as an administrator." in item
    assert 'data-done="true"' in item and "Verified on " in item
