"""The landing page in a real hub behind the real proxy, and in a real browser (Chromium)."""

from __future__ import annotations

import re
from contextlib import closing
from urllib.parse import urlsplit

import httpx
import pytest
from harness.browser import log_in
from harness.hub import PASSWORD, VIEWER_HUB_CONFIG, running_hub

pytestmark = pytest.mark.integration

HOSTILE = "<img src=x onerror=alert(1)>"

# carol may open the service (the hub lets her through, VIEWER_HUB_CONFIG) but is not an
# admin: the page itself must refuse her. bob has no access at all: the hub refuses him before
# the service is asked.
SERVICE_CONFIG = """
c.StandardLinks.grafana_cost_url = "https://grafana.example.org/d/cost"
c.StandardLinks.response_time = "one business day"
c.OnboardingEmail.customer_name = "the <b>Example</b> Lab team"
c.OnboardingEmail.account_manager = "Jo Rivera"
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(
        tmp_path_factory.mktemp("page-hub"),
        hub_config=VIEWER_HUB_CONFIG,
        service_config=SERVICE_CONFIG,
    ) as hub:
        # A community member with a hostile name logs in; wait until the service counted them.
        hub.login(HOSTILE).close()
        hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] >= 1)
        yield hub


def login_form(client: httpx.Client, response: httpx.Response, name: str) -> httpx.Response:
    """Submit the hub's login form shown in *response*, as a browser would."""
    assert urlsplit(str(response.url)).path == "/hub/login", response.url
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', response.text).group(1)
    return client.post(
        str(response.url), data={"username": name, "password": PASSWORD, "_xsrf": xsrf}
    )


def test_admin_sees_the_page(hub):
    with closing(hub.login("admin")) as client:
        response = client.get(hub.service_url)
    assert response.status_code == 200
    assert str(response.url) == hub.service_url
    html = response.text
    assert re.search(r"\d+ of 5 users ha(s|ve) logged in", html)
    assert 'id="mau-chart"' in html and 'id="fee-table"' in html
    assert f'href="{hub.url}/hub/admin"' in html  # derived from the request's Host
    assert 'href="https://grafana.example.org/d/cost"' in html  # configured
    assert "not set up yet" in html  # the usage dashboard is not configured
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and HOSTILE not in html
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert hub.status_token not in html and hub.admin_token not in html
    assert response.headers["cache-control"] == "no-store"


def test_summary_is_served_as_plain_text_at_a_stable_url(hub):
    with closing(hub.login("admin")) as client:
        page = client.get(hub.service_url + "summary")
        text = client.get(hub.service_url + "summary.txt")
        lookalike = client.get(hub.service_url + "summaryXtxt")
    assert lookalike.status_code == 404
    assert page.status_code == 200 and 'id="summary-body"' in page.text
    assert text.status_code == 200
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.text.startswith("Subject: Your 2i2c JupyterHub Onboarding Summary")
    assert f"Your hub is live at: {hub.url}/" in text.text
    assert "Cost Monitoring Dashboard: https://grafana.example.org/d/cost" in text.text
    # the configured names, as text on the page and verbatim in the plain-text email
    assert "Hi the <b>Example</b> Lab team," in text.text and "\nJo Rivera\n" in text.text
    assert "the &lt;b&gt;Example&lt;/b&gt; Lab team" in page.text and "<b>Example" not in page.text


def test_non_admin_with_access_gets_the_forbidden_page(hub):
    with closing(hub.login("carol")) as client:
        response = client.get(hub.service_url)
        text = client.get(hub.service_url + "summary.txt")
    assert response.status_code == 403
    assert str(response.url) == hub.service_url  # the service answered, not the hub
    assert "ask one of your hub's administrators" in response.text
    assert "support@2i2c.org" in response.text and "carol" in response.text
    assert "Moment of first value" not in response.text and "&lt;img" not in response.text
    assert "content-security-policy" in response.headers
    assert text.status_code == 403 and "Subject:" not in text.text


def test_non_admin_without_access_is_refused_by_the_hub(hub):
    with closing(hub.login("bob")) as client:
        response = client.get(hub.service_url)
    assert response.status_code == 403
    assert urlsplit(str(response.url)).path.startswith("/hub/")  # refused before the service
    assert "Moment of first value" not in response.text


def test_anonymous_is_sent_to_the_hub_login_and_back(hub):
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        first = client.get(hub.service_url, follow_redirects=False)
        assert first.status_code == 302
        assert "/hub/api/oauth2/authorize" in first.headers["location"]
        login_page = client.get(hub.service_url)
        landed = login_form(client, login_page, "admin")
    assert landed.status_code == 200
    assert str(landed.url) == hub.service_url
    assert "Moment of first value" in landed.text


def test_browser_renders_the_page_safely(hub, browser_context, artifacts):
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.url)
    page = browser_context.new_page()
    problems: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # Anonymous: the service sends the browser to the hub's login form, and back.
    log_in(page, hub)
    page.wait_for_load_state("load")

    assert page.locator("h1").first.inner_text() == "Onboarding"
    assert page.locator("#jupyterhub-logo").is_visible()  # the hub's own nav bar
    chart = page.locator("svg#mau-chart")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    assert page.locator("svg#mau-chart rect.bar").count() == 24

    # an SVG link's href is an SVGAnimatedString: resolve its value like an HTML link's
    hrefs = page.eval_on_selector_all(
        "a[href]",
        "links => links.map(a => typeof a.href === 'string' ? a.href"
        " : new URL(a.href.baseVal, document.baseURI).href)",
    )
    assert hrefs
    bad = [href for href in hrefs if not re.match(r"(https?:|mailto:)", href)]
    assert not bad, bad

    hostile = page.locator("#counted-users .username", has_text=HOSTILE)
    assert hostile.count() == 1 and hostile.inner_text() == HOSTILE
    assert page.locator("img[src='x']").count() == 0

    # the usage histograms are drawn, and a bar leads to the list of its users
    for chart_id in ("last-login-chart", "server-minutes-chart"):
        histogram = page.locator(f"svg#{chart_id}")
        assert histogram.is_visible()
        assert histogram.bounding_box()["height"] > 100
        assert page.locator(f"svg#{chart_id} a rect.bucket").count() == 5
    page.screenshot(path=str(artifacts / "onboarding-landing.png"), full_page=True)
    page.click("svg#last-login-chart a[data-bucket='under_1d'] rect")
    page.wait_for_url(re.compile(r".*/usage/users\?bucket=last_login%3Aunder_1d$"))
    assert "last login was under 1 day ago" in page.locator("#bucket-heading").inner_text()
    assert page.locator("#bucket-users .username", has_text=HOSTILE).count() == 1
    page.go_back()
    page.wait_for_url(hub.service_url)

    # The summary email page: the copy button appears (script allowed by nonce) and copies.
    page.click("text=Onboarding summary email")
    page.wait_for_url(hub.service_url + "summary")
    button = page.locator("#copy-summary")
    assert button.is_visible()
    button.click()
    page.wait_for_function("document.getElementById('copy-status').textContent === 'Copied.'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#summary-body").input_value()
    assert f"Your hub is live at: {hub.url}/" in copied
    page.screenshot(path=str(artifacts / "onboarding-summary.png"), full_page=True)

    assert not problems, problems
    assert not dialogs, dialogs
