"""The landing page by stage and its sub-pages, in a real hub and a real browser (Chromium) at
1280 and 390 px, light and dark: a hub with three months of sessions, first value reached
and a planned exam whose preparation checklist is incomplete."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from harness.browser import chromium_context, log_in
from harness.hub import running_hub

from jupyterhub_onboarding.core.events import EventFields
from jupyterhub_onboarding.core.hubmodel import ServerSeen, UserSeen
from jupyterhub_onboarding.core.rules import CountingRules
from jupyterhub_onboarding.service.store import Store

pytestmark = pytest.mark.integration

USERS = [f"user{index:02d}" for index in range(60)]
#: The users of the oldest months only: in the 30-90 days bucket now.
DORMANT = USERS[40:]
LIVE_DAYS = 80
WIDTHS = (1280, 390)
#: A group name that would be markup if the page did not escape it.
HOSTILE_GROUP = "<img src=x onerror=alert(1)>"


def groups_of(name: str) -> frozenset[str]:
    """Every second user is in physics-101, every third in data-science too, every fifth in
    the hostile group; the others in none."""
    index = USERS.index(name)
    pairs = (("physics-101", 2), ("data-science", 3), (HOSTILE_GROUP, 5))
    return frozenset(group for group, every in pairs if index % every == 0)


def seed(service_dir: Path, now: datetime) -> None:
    """Three months of logins and server sessions, and an exam in five days with one of its
    preparation items ticked, written to the service's database before it starts."""
    store = Store(f"sqlite:///{service_dir / 'jupyterhub_onboarding.sqlite'}")
    store.upgrade()
    rules = CountingRules()
    for days_ago in range(LIVE_DAYS - 2, 0, -3):
        start = now - timedelta(days=days_ago, hours=2)
        active = [name for name in USERS if (days_ago > 35) or name not in DORMANT]
        active = active[days_ago % 7 :: 3]
        running = tuple(
            UserSeen(
                name,
                False,
                start,
                (ServerSeen("", True, start, start, {"profile": "small"}),),
                groups=groups_of(name),
            )
            for name in active
        )
        store.record(running, start, rules)
        end = start + timedelta(minutes=40 + days_ago)
        store.record(tuple(UserSeen(u.name, False, end) for u in running), end, rules)
    store.events.create(
        EventFields(
            title="Midterm exam",
            kind="exam",
            start=now + timedelta(days=5, hours=3),
            end=now + timedelta(days=5, hours=5),
            expected_attendees=120,
            checklist=frozenset({"resources"}),
        ),
        now - timedelta(days=1),
    )
    store.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("landing-hub")
    now = datetime.now(timezone.utc)
    (workdir / "service").mkdir(parents=True)
    seed(workdir / "service", now)
    live_since = (now - timedelta(days=LIVE_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = f'c.Onboarding.live_since = "{live_since}"\n'
    with running_hub(workdir, service_config=config) as hub:
        hub.wait_for_status(
            lambda s: s["first_value"]["achieved"] and s["events"]["upcoming"], timeout=90
        )
        yield hub


@pytest.fixture(scope="module")
def context(hub, tmp_path_factory):
    """The admin's browser, logged in on the service, in the Berlin time zone."""
    with chromium_context(
        tmp_path_factory.mktemp("chromium-landing"),
        viewport={"width": 1280, "height": 800},
        timezone_id="Europe/Berlin",
    ) as context:
        page = context.new_page()
        log_in(page, hub)
        page.close()
        yield context


def in_viewport(page, selector: str) -> bool:
    """The element is drawn within the viewport without scrolling."""
    return page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect();"
        " return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }",
    )


def smallest_chart_text(page) -> float:
    """The smallest rendered height in CSS pixels of any chart's text on the page."""
    return page.evaluate(
        "() => Math.min(...[...document.querySelectorAll('svg.chart text')]"
        ".filter(t => t.textContent.trim()).map(t => t.getBoundingClientRect().height))"
    )


def show(page, url: str, width: int, scheme: str) -> None:
    page.set_viewport_size({"width": width, "height": 800 if width > 500 else 844})
    page.emulate_media(color_scheme=scheme)
    page.goto(url)
    page.wait_for_load_state("load")


@pytest.mark.parametrize("width", WIDTHS)
def test_first_screen_shows_what_needs_doing(hub, context, artifacts, width):
    page = context.new_page()
    for scheme in ("light", "dark"):
        show(page, hub.service_url, width, scheme)
        page.screenshot(path=str(artifacts / f"landing-{width}-{scheme}.png"))
        page.screenshot(path=str(artifacts / f"landing-{width}-{scheme}-full.png"), full_page=True)
    for selector in ("#mau-billing", "#fee-estimate", "#next-event .event-title"):
        assert in_viewport(page, selector), selector
    assert in_viewport(page, "#next-event-warning")
    assert "Not ready" in page.locator("#next-event-warning").inner_text()
    assert page.locator("#next-event-lead").inner_text() == "In 5 days"
    # after first value the milestone is not the headline
    assert page.locator("#first-value").count() == 0
    assert "First value reached on" in page.locator("#first-value-reached").inner_text()
    # local time beside UTC, in the browser's zone
    assert "Europe/Berlin" in page.locator("#data-freshness .local-time").first.inner_text()
    if width == 1280:
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= 4500, height
    page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_chart_text_is_at_least_11_px(hub, context, artifacts, width):
    page = context.new_page()
    show(page, hub.service_url + "usage", width, "light")
    assert page.locator("svg.chart").count() == 3
    assert smallest_chart_text(page) >= 11
    page.screenshot(path=str(artifacts / f"usage-{width}.png"), full_page=True)
    for chart_id in ("mau-chart", "last-login-chart"):
        page.locator(f"svg#{chart_id}").screenshot(path=str(artifacts / f"{chart_id}-{width}.png"))
    page.close()


def test_failed_event_submit_focuses_the_first_error_and_shows_all(hub, context, artifacts):
    page = context.new_page()
    show(page, hub.service_url + "events", 1280, "light")
    page.fill("#event-title", "Workshop")
    page.fill("#event-start", "2030-01-01T10:00")
    page.fill("#event-end", "2030-01-01T09:00")
    page.fill("#event-time-zone", "Mars/Olympus")
    page.fill("#event-expected-attendees", "30")
    page.click("#event-save")
    page.wait_for_selector("#event-form-error")
    assert page.url == hub.service_url + "events"
    assert page.evaluate("document.activeElement.id") == "event-end"
    assert in_viewport(page, "#event-end") and in_viewport(page, "#event-form-error")
    assert page.locator("#event-end-error").inner_text() == "must be after the start"
    assert page.input_value("#event-title") == "Workshop"  # what was typed is kept
    assert "unknown time zone" in page.locator("#event-time_zone-error").inner_text()
    page.screenshot(path=str(artifacts / "events-error-1280.png"))
    page.close()


def test_sub_pages_have_their_own_urls_and_the_report_picker(hub, context):
    page = context.new_page()
    show(page, hub.service_url, 1280, "light")
    for key, path in (("usage", "usage"), ("events", "events"), ("onboarding", "onboarding")):
        page.click(f"#section-tabs a[data-section='{key}']")
        page.wait_for_url(hub.service_url + path)
        assert page.locator("#section-tabs a[aria-current='page']").inner_text().lower() == key
    page.click("#section-tabs a[data-section='reports']")
    page.wait_for_url(hub.service_url + "reports")
    months = page.locator("#report-list li").count()
    assert months >= 3  # live for 80 days: three or four months
    first_month = page.get_attribute("#report-month", "min")
    page.fill("#report-month", first_month)
    page.click("#report-picker button")
    page.wait_for_url(hub.service_url + f"report/{first_month}")
    page.close()


def test_a_bucket_lists_lifetime_figures_and_downloads_as_csv(hub, context, artifacts):
    page = context.new_page()
    show(page, hub.service_url + "usage", 1280, "light")
    page.click("svg#last-login-chart a[data-bucket='30d_90d'] rect")
    page.wait_for_url(re.compile(r".*/usage/users\?bucket=last_login%3A30d_90d$"))
    rows = page.locator("#bucket-users tbody tr")
    assert rows.count() == len(DORMANT)
    # dormant this month, but each ran a server before: the lifetime figures say when
    for index in range(rows.count()):
        row = rows.nth(index)
        assert row.locator(".usage-sessions").inner_text() == "0"
        ended = row.locator(".usage-last-end").inner_text()
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", ended), ended
        assert row.locator(".usage-profile").inner_text() == "small"
    page.screenshot(path=str(artifacts / "bucket-30-90-days.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#bucket-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].endswith("last_session_end_ever,most_used_profile_ever")
    assert sorted(line.split(",")[0] for line in lines[1:]) == DORMANT
    assert all(line.endswith(",small") for line in lines[1:])
    page.close()


def test_the_per_user_table_is_searched_and_filtered(hub, context):
    page = context.new_page()
    show(page, hub.service_url + "usage", 1280, "light")
    page.fill("#usage-search", "USER1")
    page.click("#usage-filter button")
    page.wait_for_url(re.compile(r".*/usage\?q=USER1.*"))
    names = page.locator("#usage-users-table .username").all_inner_texts()
    assert sorted(names) == [name for name in USERS if name.startswith("user1")]  # any case
    page.select_option("#usage-show", "with_sessions")
    page.click("#usage-filter button")
    page.wait_for_url(re.compile(r".*show=with_sessions.*"))
    narrowed = page.locator("#usage-users-table .username").all_inner_texts()
    sessions = page.locator("#usage-users-table .usage-sessions").all_inner_texts()
    assert narrowed and set(narrowed) < set(names)
    assert all(int(count) > 0 for count in sessions)
    # the search stays in the sort links
    href = page.get_attribute("#usage-users-table th[data-sort='name'] a", "href")
    assert "q=USER1" in href and "show=with_sessions" in href
    page.close()


def test_the_usage_per_group_sorts_by_a_heading_and_keeps_the_search(hub, context, artifacts):
    """An admin sorts last month's groups by sessions (last month is seeded throughout,
    whatever today's date); the month and the search stay in the links."""
    today = datetime.now(timezone.utc).date().replace(day=1)
    previous = (today - timedelta(days=1)).strftime("%Y-%m")
    page = context.new_page()
    show(page, hub.service_url + f"usage?month={previous}&q=user", 1280, "light")
    names = page.locator("#usage-groups-table .group-name").all_inner_texts()
    assert sorted(names) == sorted(["physics-101", "data-science", HOSTILE_GROUP])  # as text
    page.click("#usage-groups-table th[data-sort='sessions'] a")
    page.wait_for_url(re.compile(r".*group_sort=sessions&group_order=desc#usage-groups$"))
    assert f"month={previous}&q=user" in page.url  # the page's other arguments stay
    heading = page.locator("#usage-groups-table th[data-sort='sessions']")
    assert heading.get_attribute("aria-sort") == "descending"
    cells = page.locator("#usage-groups-table tbody td:nth-child(4)").all_inner_texts()
    sessions = [int(cell.replace(",", "")) for cell in cells]
    assert sessions == sorted(sessions, reverse=True) and sessions[0] > 0
    page.locator("#usage-groups").screenshot(path=str(artifacts / "usage-groups-1280.png"))
    page.close()
