"""Planning events through the landing page's forms, in a real hub and a real browser."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from harness.browser import log_in
from harness.hub import VIEWER_HUB_CONFIG, running_hub

pytestmark = pytest.mark.integration

HOSTILE = '<img src=x onerror=alert("e")>'
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(
        tmp_path_factory.mktemp("events-page-hub"), hub_config=VIEWER_HUB_CONFIG
    ) as hub:
        yield hub


@pytest.fixture(scope="module")
def page(hub, browser_context):
    """A page of the admin, logged in on the service."""
    page = browser_context.new_page()
    log_in(page, hub)
    return page


def local(value: datetime) -> str:
    return value.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")


def fill(page, **values: str) -> None:
    for name, value in values.items():
        selector = f"#event-form [name={name}]"
        if name == "kind":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)


def events(hub) -> list[dict]:
    body = httpx.get(
        f"{hub.service_url}api/v1/events",
        headers={"Authorization": f"token {hub.status_token}"},
        timeout=10,
    ).json()
    return body["upcoming"] + body["past"]


def test_admin_plans_edits_and_cancels_an_event(hub, page, artifacts):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    start = (datetime.now(timezone.utc) + timedelta(days=12)).replace(second=0, microsecond=0)

    # a bad entry: end before start; the message is beside the field and what was typed stays
    fill(
        page,
        title=HOSTILE,
        kind="exam",
        start=local(start),
        end=local(start - timedelta(hours=1)),
        time_zone="Europe/Berlin",
        expected_attendees="120",
        notes="room 101",
    )
    page.click("#event-save")
    page.wait_for_selector("#event-end-error")
    assert "after the start" in page.inner_text("#event-end-error")
    assert page.input_value("#event-title") == HOSTILE
    assert page.input_value("#event-notes") == "room 101"
    assert events(hub) == []

    # a garbage number and an unknown zone, then a good entry
    fill(page, end=local(start + timedelta(hours=2)), expected_attendees="lots", time_zone="Mars/X")
    page.click("#event-save")
    page.wait_for_selector("#event-time_zone-error")
    assert "whole number" in page.inner_text("#event-expected_attendees-error")
    assert events(hub) == []
    fill(page, time_zone="Europe/Berlin", expected_attendees="120")
    page.click("#event-save")
    card = page.locator(".event-card").first
    card.wait_for()
    (stored,) = events(hub)
    assert stored["start"] == start.isoformat().replace("+00:00", "Z")
    assert stored["expected_attendees"] == 120 and stored["title"] == HOSTILE
    assert card.locator(".event-title").inner_text() == HOSTILE
    assert page.locator("img[src='x']").count() == 0
    assert "in 1" in card.locator(".event-lead-time").inner_text()  # in 11 or 12 days

    # tick two checklist items
    card.locator("input[value=resources]").check()
    card.locator("input[value=image]").check()
    card.locator("button", has_text="Save checklist").click()
    page.wait_for_load_state("load")
    (stored,) = events(hub)
    assert stored["checklist"]["resources"] and stored["checklist"]["image"]
    assert not stored["checklist"]["prewarm"]

    # edit: 150 attendees
    page.locator(".event-card .event-edit").first.click()
    page.wait_for_selector("text=Edit event")
    assert page.input_value("#event-start") == local(start)
    fill(page, expected_attendees="150")
    page.click("#event-save")
    page.wait_for_selector(".event-card .event-expected >> text=150 attendees")
    (stored,) = events(hub)
    assert stored["expected_attendees"] == 150 and stored["checklist"]["image"]
    page.screenshot(path=str(artifacts / "onboarding-events.png"), full_page=True)

    # cancel
    page.locator(".event-card .event-cancel button").first.click()
    page.wait_for_selector(".event-card[data-status=cancelled]")
    (stored,) = events(hub)
    assert stored["status"] == "cancelled"
    assert not dialogs


def test_a_post_without_the_xsrf_token_is_refused(hub, page):
    before = events(hub)
    response = page.request.post(
        hub.service_url + "events",
        form={
            "title": "No token",
            "kind": "demo",
            "start": "2030-01-01T10:00",
            "end": "2030-01-01T11:00",
            "time_zone": "UTC",
            "expected_attendees": "5",
        },
    )
    assert response.status == 403
    assert events(hub) == before


def test_a_non_admin_cannot_post(hub):
    with closing(hub.login("carol")) as client:
        landing = client.get(hub.service_url)
        assert landing.status_code == 403
        xsrf = next((c.value for c in client.cookies.jar if c.name == "_xsrf"), "")
        response = client.post(
            hub.service_url + "events",
            data={
                "_xsrf": xsrf,
                "title": "x",
                "kind": "demo",
                "start": "2030-01-01T10:00",
                "end": "2030-01-01T11:00",
                "time_zone": "UTC",
                "expected_attendees": "5",
            },
        )
    assert response.status_code == 403
    assert all(event["title"] != "x" for event in events(hub))
