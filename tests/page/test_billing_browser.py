"""The list behind a month's MAU as a hub admin sees it (#21): from the report to the
billing page, the table, its totals, the CSV link, in real Chromium against a real hub.
A username a spreadsheet would run as a formula stays text."""

from __future__ import annotations

import csv
import io

import pytest
from harness.browser import log_in
from harness.hub import running_hub

pytestmark = pytest.mark.integration

FORMULA = "=2+3"
USERS = ("ana-billing", "ben-billing", FORMULA)
SERVICE_CONFIG = "c.Onboarding.excluded_users = ['admin']\n"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(
        tmp_path_factory.mktemp("billing-page-hub"), service_config=SERVICE_CONFIG
    ) as hub:
        for name in USERS:
            hub.login(name).close()
        hub.wait_for_status(lambda s: s["mau"]["login"] == len(USERS), 90)
        yield hub


def test_an_admin_traces_the_mau_to_its_users(hub, browser_context, tmp_path):
    month = hub.status()["mau"]["month"]
    page = browser_context.new_page()
    log_in(page, hub)
    page.goto(f"{hub.service_url}report/{month}")
    page.click("#report-billing-link a")
    page.wait_for_url(f"{hub.service_url}billing/{month}")
    page.screenshot(path=str(tmp_path / "billing.png"), full_page=True)
    assert page.locator("#billing-state").inner_text().startswith("To date")
    rows = page.locator("#billing-table tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert sorted(names) == sorted(USERS)
    totals = page.locator("#billing-totals td").all_inner_texts()
    assert totals[:2] == [str(len(USERS)), "0"]

    with page.expect_download() as download:
        page.click("#billing-csv")
    text = download.value.path().read_text(encoding="utf-8")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert {line["name"] for line in lines[:-1]} == {
        "ana-billing",
        "ben-billing",
        "'" + FORMULA,
    }
    assert lines[-1]["active_login"] == str(len(USERS))
    page.close()
