"""The landing page's pure parts: chart, summary email, checklist, links, templates, policy."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets import TraitError

from jupyterhub_onboarding.core.checklist import OnboardingRecord, build_checklist
from jupyterhub_onboarding.core.links import resolve_links
from jupyterhub_onboarding.core.snapshot import (
    Aggregates,
    MonthCount,
    Settings,
    TrackerState,
    build_snapshot,
)
from jupyterhub_onboarding.core.status.write import build_status, report_section
from jupyterhub_onboarding.core.summary_email import summary_email
from jupyterhub_onboarding.datafiles import SENTINEL
from jupyterhub_onboarding.page.chart import axis_maximum, mau_chart_svg
from jupyterhub_onboarding.page.eventviews import events_namespace_for
from jupyterhub_onboarding.page.handlers import landing_namespace, summary_for
from jupyterhub_onboarding.page.landing import TEMPLATES, section_namespace
from jupyterhub_onboarding.page.templating import (
    NavService,
    build_environment,
    find_data_files_path,
    hub_page_namespace,
    hub_templates_path,
    inline_script_hashes,
    layout_source,
    render_page,
)
from jupyterhub_onboarding.settings import OnboardingEmail, StandardLinks

ROOT = Path(__file__).resolve().parents[2]
HUB = "https://hub.example.org"


def standard_links(hub_url: str = HUB, **settings):
    """The resolved standard links for *hub_url* with *settings* of StandardLinks."""
    return resolve_links(StandardLinks(**settings).link_settings(), hub_url)


HOSTILE = "<img src=x onerror=alert(1)>"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
SVG = "{http://www.w3.org/2000/svg}"


def make_snapshot(
    *,
    logged_in: int = 3,
    admin_logged_in: bool = True,
    users_known: int = 6,
    achieved_at: datetime | None = None,
    live_days_ago: int = 10,
    months: tuple[MonthCount, ...] = (MonthCount("2026-10", 40, 10), MonthCount("2026-11", 280, 7)),
):
    aggregates = Aggregates(
        users_logged_in=logged_in,
        users_started_server=2,
        nth_seen_at={"login": achieved_at} if achieved_at else {},
        months=months,
        rolling={"24h": 1, "7d": 2, "14d": 3, "30d": 3},
        admin_logged_in=admin_logged_in,
        users_known=users_known,
    )
    settings = Settings(hub_url=HUB, live_since=NOW - timedelta(days=live_days_ago))
    return build_snapshot(aggregates, settings, TrackerState(last_success_at=NOW), NOW)


def user_row(name: str, admin: bool = False):
    return SimpleNamespace(
        name=name,
        admin=admin,
        first_login_at=NOW - timedelta(days=3),
        first_server_at=None,
        last_login_at=NOW,
        deleted_at=None,
    )


def render_landing(env, snapshot, *, user_name="admin", links=None, section="overview", **extra):
    """The page of *section* as its handler renders it (the figures from the status model)."""
    links = links if links is not None else standard_links()
    document = None
    if snapshot is not None:
        report = report_section(
            snapshot, links, tier="Basic", support_email="support@2i2c.org", response_time="1 day"
        )
        document = build_status(
            snapshot, record=OnboardingRecord(), report=report, events=(), hub_url=HUB
        )
    ns = {
        **hub_page_namespace(
            {"name": user_name, "admin": True},
            "/hub/",
            [NavService("onboarding", "/services/onboarding/")],
        ),
        **landing_namespace(
            snapshot,
            links,
            hub_url=HUB,
            support_email="support@2i2c.org",
            response_time="one business day",
            service_prefix="/services/onboarding/",
            threshold=5,
            **extra,
        ),
        **section_namespace(section, document, NOW, "/services/onboarding/"),
        **events_namespace_for([], None, NOW, prefix="/services/onboarding/", xsrf="x"),
    }
    return render_page(env, TEMPLATES[section], ns, "testnonce")


@pytest.fixture(scope="module")
def env():
    return build_environment()


# -- chart ----------------------------------------------------------------------------------


def bars(svg: str):
    root = ET.fromstring(svg)  # noqa: S314 - the chart is our own output
    return root, [r for r in root.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]


def test_chart_is_well_formed_svg_with_accessible_title_and_description():
    months = make_snapshot().chart_months(12)
    root, found = bars(mau_chart_svg(months))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    ids = {element.get("id") for element in root.iter() if element.get("id")}
    labelled_by = root.get("aria-labelledby").split()
    assert labelled_by and all(ref in ids for ref in labelled_by)
    title = root.find(f"{SVG}title").text
    assert title == "Monthly active users, Dec 2025 to Nov 2026"
    assert "Nov 2026: 280 logged in, 7 started a server" in root.find(f"{SVG}desc").text
    assert len(found) == 24  # 12 months x 2 bases
    assert {bar.get("data-basis") for bar in found} == {"login", "server"}
    assert all(bar.find(f"{SVG}title").text for bar in found)
    assert "<script" not in mau_chart_svg(months)


def test_chart_bar_heights_are_proportional_to_counts():
    months = [
        MonthCount("2026-01", 10, 5),
        MonthCount("2026-02", 50, 0),
        MonthCount("2026-03", 7, 3),
    ]
    _, found = bars(mau_chart_svg(months))
    values = [int(bar.get("data-value")) for bar in found]
    heights = [float(bar.get("height")) for bar in found]
    assert values == [10, 5, 50, 0, 7, 3]
    per_user = heights[0] / values[0]
    for value, height in zip(values, heights, strict=True):
        assert height == pytest.approx(value * per_user, abs=0.01)
    # Bars stand on one baseline.
    bottoms = {round(float(bar.get("y")) + float(bar.get("height")), 2) for bar in found}
    assert len(bottoms) == 1
    # The tallest bar fills the axis exactly when the maximum is a round number.
    assert max(heights) == pytest.approx(280 - 36 - 44, abs=0.01)


def test_chart_of_nothing_draws_zero_height_bars():
    _, found = bars(mau_chart_svg([MonthCount("2026-01", 0, 0), MonthCount("2026-02", 0, 0)]))
    assert [float(bar.get("height")) for bar in found] == [0.0] * 4


@pytest.mark.parametrize(
    ("value", "top"), [(0, 5), (3, 5), (6, 10), (10, 10), (11, 20), (280, 500), (1000, 1000)]
)
def test_axis_maximum_is_round_and_not_below_the_data(value, top):
    assert axis_maximum(value) == top


# -- summary email --------------------------------------------------------------------------


def test_summary_email_is_filled_for_this_hub():
    links = standard_links(grafana_usage_url="https://grafana.example.org/d/usage")
    email = summary_email(
        make_snapshot(),
        links,
        hub_url=HUB,
        support_email="support@2i2c.org",
        response_time="one business day",
        threshold=5,
    )
    assert email.subject == "Your 2i2c JupyterHub Onboarding Summary"
    body = email.body
    assert f"Your hub is live at: {HUB}/" in body
    assert f"- Administrator Dashboard: {HUB}/hub/admin" in body
    assert "- 2i2c Documentation: https://docs.2i2c.org/" in body
    assert "- Your Hub Documentation: https://docs.hub.example.org" in body
    assert "- Usage Dashboard: https://grafana.example.org/d/usage" in body
    assert "Cost Monitoring Dashboard" not in body  # not set up: left out, listed as missing
    assert "not set up" not in body
    assert "email us at: support@2i2c.org" in body
    assert "Expected response time: one business day." in body
    assert "So far, 3 of 5 users have logged in." in body
    assert body.startswith("Hello,\n") and "[AM Name]" in body
    settings = {item.setting for item in email.missing}
    assert "StandardLinks.grafana_cost_url" in settings
    assert "OnboardingEmail.account_manager" in settings
    assert email.text.startswith("Subject: Your 2i2c JupyterHub Onboarding Summary\n\n")


def test_summary_email_uses_the_configured_names():
    email = OnboardingEmail(
        customer_name="the Example Lab team",
        account_manager="Jo Rivera",
        signature_title="Partnerships, Example Provider",
        first_invoice="at the start of next month",
    )
    body = summary_for(
        make_snapshot(),
        standard_links(),
        HUB,
        StandardLinks(),
        email,
        5,
    ).body
    assert body.startswith("Hi the Example Lab team,\n")
    assert "first invoice at the start of next month. The invoice" in body
    assert body.rstrip().endswith("Jo Rivera\nPartnerships, Example Provider")
    assert "[" not in body


@pytest.mark.parametrize("field", ["customer_name", "account_manager", "first_invoice"])
def test_summary_email_settings_are_one_line(field):
    with pytest.raises(TraitError, match=rf"OnboardingEmail\.{field} must be one line"):
        OnboardingEmail(**{field: "Example\nBcc: someone@example.org"})


def test_summary_email_after_first_value_says_when():
    achieved = NOW - timedelta(days=2)
    email = summary_email(
        make_snapshot(logged_in=5, achieved_at=achieved),
        standard_links(),
        hub_url=HUB,
        support_email="support@2i2c.org",
        response_time="",
        threshold=5,
    )
    assert f"moment of first value on {achieved:%Y-%m-%d}" in email.body
    assert "So far" not in email.body
    assert "Expected response time" not in email.body


# -- checklist ------------------------------------------------------------------------------


def items_by_key(sections):
    return {item.key: item for section in sections for item in section.items}


def test_checklist_marks_what_the_service_can_verify():
    links = standard_links()
    fresh = items_by_key(
        build_checklist(
            make_snapshot(admin_logged_in=False, users_known=0, logged_in=0), links, HUB
        )
    )
    assert fresh["admin_logged_in"].verified is False
    assert fresh["users_exist"].verified is False
    assert fresh["first_value"].verified is False

    going = items_by_key(build_checklist(make_snapshot(), links, HUB))
    assert going["admin_logged_in"].verified is True
    assert going["users_exist"].verified is True
    assert going["users_exist"].detail == "6 users on the hub, 3 counted users logged in."
    assert going["first_value"].verified is False
    assert "3 of 5 so far" in going["first_value"].detail

    done = items_by_key(
        build_checklist(make_snapshot(logged_in=5, achieved_at=NOW - timedelta(days=1)), links, HUB)
    )
    assert done["first_value"].verified is True
    assert done["first_value"].detail.startswith("Reached on ")


def test_checklist_items_the_admin_does_link_to_where_they_are_done():
    items = items_by_key(build_checklist(make_snapshot(), standard_links(), HUB))
    assert items["permissions"].verified is None
    assert items["permissions"].url == f"{HUB}/hub/admin"
    assert items["users_exist"].url == f"{HUB}/hub/admin"
    assert items["default_environment"].url == f"{HUB}/hub/spawn"
    assert items["support"].url.startswith("mailto:support@2i2c.org?")
    assert items["cost_dashboard"].url is None  # not configured: shown as "not set up yet"


def test_checklist_flags_an_overdue_check_in():
    items = items_by_key(
        build_checklist(
            make_snapshot(live_days_ago=30),
            standard_links(),
            HUB,
        )
    )
    assert "check-in was due" in items["first_value"].detail


def test_checklist_before_the_first_count():
    items = items_by_key(build_checklist(None, standard_links(), HUB))
    assert items["admin_logged_in"].verified is False
    assert "Waiting" in items["admin_logged_in"].detail


# -- links ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>", "vbscript:x"]
)
def test_links_refuse_anything_but_http_https_and_mailto(url):
    with pytest.raises(TraitError, match="grafana_usage_url"):
        StandardLinks(grafana_usage_url=url)


def test_unconfigured_links_render_as_not_set_up_yet_never_an_empty_href(env):
    html, _ = render_landing(env, make_snapshot())
    assert 'href=""' not in html
    usage = re.search(r'data-link="grafana_usage_url">(.*?)</li>', html, re.DOTALL).group(1)
    assert "not set up yet" in usage and "<a " not in usage
    community = re.search(r'data-link="community_docs_url">(.*?)</li>', html, re.DOTALL).group(1)
    assert 'href="https://docs.hub.example.org"' in community
    for href in re.findall(r'<a [^>]*href="([^"]*)"', html):
        assert re.match(r"(https?://|mailto:|/|#$)", href), href
    assert "mailto:support@2i2c.org?subject=Support%20request%20for%20https%3A//hub" in html


@pytest.mark.parametrize(
    ("hub_url", "expected"),
    [
        ("https://hub.example.org", "https://docs.hub.example.org"),
        ("http://127.0.0.1:8000", None),
        ("http://[::1]:8000", None),
        ("http://localhost:8000", None),
        ("", None),
    ],
)
def test_community_docs_are_derived_only_from_a_host_name(hub_url, expected):
    links = {link.key: link for link in standard_links(hub_url)}
    assert links["community_docs_url"].url == expected


def test_configured_links_appear_in_their_groups(env):
    links = standard_links(
        grafana_cost_url="https://grafana.example.org/d/cost",
        tier="premier",
        premier_guide_url="https://docs.2i2c.org/premier/",
    )
    html, _ = render_landing(env, make_snapshot(), links=links)
    dashboards = re.search(r'id="links-dashboards"(.*?)</ul>', html, re.DOTALL).group(1)
    assert 'href="https://grafana.example.org/d/cost"' in dashboards
    docs = re.search(r'id="links-documentation"(.*?)</ul>', html, re.DOTALL).group(1)
    assert "Premier tier guide" in docs and "Advanced tier guide" not in docs
    usage, _ = render_landing(env, make_snapshot(), links=links, section="usage")
    costs = re.search(r'id="cloud-costs">(.*?)</p>', usage, re.DOTALL).group(1)
    assert "without markup" in costs and 'href="https://grafana.example.org/d/cost"' in costs


# -- templates ------------------------------------------------------------------------------


def test_data_files_found_in_the_checkout_by_sentinel():
    path = find_data_files_path()
    assert path == ROOT / "share"
    assert (path / "templates" / SENTINEL).is_file()


def test_data_files_found_under_an_installed_prefix_and_missing_ones_fail_loudly(tmp_path):
    module_dir = tmp_path / "lib" / "python3" / "site-packages" / "jupyterhub_onboarding"
    module_dir.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="jupyterhub-onboarding templates not found"):
        find_data_files_path(module_dir, prefixes=[])
    # a share/templates without the sentinel is not ours
    (tmp_path / "share" / "templates").mkdir(parents=True)
    with pytest.raises(FileNotFoundError):
        find_data_files_path(module_dir, prefixes=[])
    installed = tmp_path / "share" / "jupyterhub-onboarding" / "templates"
    installed.mkdir(parents=True)
    (installed / SENTINEL).write_text("")
    assert find_data_files_path(module_dir, prefixes=[]) == installed.parent


def test_page_extends_the_hubs_own_layout(env):
    assert hub_templates_path() is not None, "jupyterhub's templates are installed in this venv"
    assert Path(layout_source(env)) == hub_templates_path() / "page.html"
    html, _ = render_landing(env, make_snapshot())
    assert 'href="/hub/static/css/style.min.css"' in html
    assert "/hub/static/components/bootstrap/dist/js/bootstrap.bundle.min.js" in html
    assert 'id="jupyterhub-logo"' in html
    assert 'href="/services/onboarding/">onboarding</a>' in html  # the Services menu
    assert 'href="/hub/admin"' in html  # the hub's Admin link, shown to admins
    assert 'id="first-value"' in html and "3 of 5 users have logged in" in html


def test_hostile_username_is_escaped_everywhere(env):
    html, _ = render_landing(env, make_snapshot(), user_name=HOSTILE)
    assert HOSTILE not in html
    assert "<img src=x" not in html
    # the nav bar: the first screen lists no user (the per-user table is on the Usage page)
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") == 1
    # Inside the layout's script the name cannot close the script element.
    assert 'user: "\\u003cimg src=x onerror=alert(1)\\u003e"' in html


def test_content_security_policy_allows_exactly_the_layouts_inline_script(env):
    html, policy = render_landing(env, make_snapshot(), user_name=HOSTILE)
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    scripts = directives["script-src"].split()
    # every inline script of the page is allowed by its hash or carries the nonce
    inline = [
        (attributes, body)
        for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.DOTALL)
        if "src=" not in attributes
    ]
    assert inline, "the hub's layout writes an inline script"
    for attributes, body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts or 'nonce="testnonce"' in attributes
    unnonced = re.sub(r'<script nonce="testnonce">.*?</script>', "", html, flags=re.DOTALL)
    assert set(inline_script_hashes(unnonced)) <= set(scripts)
    assert "'nonce-testnonce'" in scripts
    # the page body contributes no hash: only the layout's one script is allowed
    assert len([s for s in scripts if s.startswith("'sha256-")]) == 1


def test_standalone_layout_when_the_hubs_templates_are_absent():
    env = build_environment(hub_templates=None)
    assert Path(layout_source(env)) == ROOT / "share" / "templates" / "standalone" / "page.html"
    html, policy = render_landing(env, make_snapshot(), user_name=HOSTILE)
    assert 'href="/hub/static/css/style.min.css"' in html
    assert "3 of 5 users have logged in" in html
    usage, _ = render_landing(env, make_snapshot(), user_name=HOSTILE, section="usage")
    assert "<svg" in usage
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and HOSTILE not in html
    assert "sha256-" not in policy  # no inline script in the standalone layout
    assert 'href="/services/onboarding/">onboarding</a>' in html


def test_configured_template_paths_override_ours(tmp_path):
    (tmp_path / "onboarding.html").write_text(
        '{% extends "onboarding-base.html" %}{% block content %}Custom for {{ hub_url }}'
        "{% endblock %}"
    )
    env = build_environment([str(tmp_path)])
    html, _ = render_landing(env, make_snapshot())
    assert f"Custom for {HUB}" in html
    assert 'id="jupyterhub-logo"' in html  # still inside the hub's layout


def test_billing_section_works_the_fee_through_and_labels_rolling_windows(env):
    html, _ = render_landing(env, make_snapshot(), section="usage")
    fee = re.search(r'id="fee-table"(.*?)</table>', html, re.DOTALL).group(1)
    assert re.search(r'id="fee-total">\$1,000.00<', fee)  # 280 MAU -> $1,000
    for subtotal in ("$100.00", "$450.00", "$450.00", "$0.00"):
        assert subtotal in fee
    assert "Estimate for 280 MAU" in fee
    rolling = re.search(r'id="rolling"(.*?)</table>', html, re.DOTALL).group(1)
    labels = re.findall(r'<th scope="row"[^>]*>(.*?)</th>', rolling)
    assert len(labels) == 4 and all("(rolling)" in label and "MAU" not in label for label in labels)
    assert re.search(r'id="mau-login">280<', html) and re.search(r'id="mau-server">7<', html)
    assert "November 2026" in html


def test_first_value_block_shows_date_time_to_value_and_check_in(env):
    achieved = NOW - timedelta(days=2)
    html, _ = render_landing(
        env, make_snapshot(logged_in=6, achieved_at=achieved, live_days_ago=20)
    )
    # after first value the milestone is not the headline: the month's MAU and fee are
    assert "6 of 5 users" not in html and 'id="first-value"' not in html
    assert re.search(r'id="mau-billing">280<', html) and 'id="fee-estimate">$1,000.00<' in html
    assert "18 days after going live" in html  # live 20 days ago, reached 2 days ago
    details, _ = render_landing(
        env,
        make_snapshot(logged_in=6, achieved_at=achieved, live_days_ago=20),
        section="onboarding",
    )
    assert "6 of 5 users have logged in" in details
    assert f'id="first-value-date">{achieved:%Y-%m-%d %H:%M} UTC<' in details
    assert "18 days" in details
    overdue, _ = render_landing(env, make_snapshot(live_days_ago=30), section="onboarding")
    check_in = re.search(r'id="check-in">(.*?)</dd>', overdue, re.DOTALL).group(1)
    assert "due</span> since 2026-11-04" in check_in


def test_page_before_the_first_count(env):
    html, _ = render_landing(env, None)
    assert "counting the hub's users for the first time" in html
    assert "<svg" not in html and 'id="links-hub"' in html


def test_summary_page_copy_button_uses_the_nonce(env):
    email = summary_email(
        make_snapshot(),
        standard_links(),
        hub_url=HUB,
        support_email="support@2i2c.org",
        response_time="",
        threshold=5,
    )
    ns = {
        **hub_page_namespace({"name": "admin", "admin": True}, "/hub/"),
        "page_title": "Onboarding summary email",
        "hub_url": HUB,
        "email": email,
        "body_rows": 30,
        "landing_url": "/services/onboarding/",
        "summary_text_url": "/services/onboarding/summary.txt",
    }
    html, policy = render_page(env, "onboarding-summary.html", ns, "n0nce")
    assert '<script nonce="n0nce">' in html and "'nonce-n0nce'" in policy
    assert '<button type="button" class="btn btn-primary" id="copy-summary" hidden>' in html
    textarea = re.search(r'<textarea id="summary-body"[^>]*>(.*?)</textarea>', html, re.DOTALL)
    assert f"Your hub is live at: {HUB}/" in textarea.group(1)


def test_forbidden_page_says_who_to_ask(env):
    ns = {
        **hub_page_namespace({"name": HOSTILE, "admin": False}, "/hub/"),
        "page_title": "Forbidden",
        "status_code": 403,
        "status_message": "Forbidden",
        "support_email": "support@2i2c.org",
        "support_mailto": "mailto:support@2i2c.org?subject=x",
    }
    html, _ = render_page(env, "onboarding-error.html", ns, "n")
    assert "403: Forbidden" in html
    assert "ask one of your hub's administrators" in html
    assert 'href="mailto:support@2i2c.org?subject=x"' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and HOSTILE not in html
    assert 'href="/hub/admin"' not in html  # no Admin link for a non-admin


def test_ticks_and_the_meeting_render_escaped_with_the_forms_xsrf(env):
    from datetime import date

    from jupyterhub_onboarding.core.checklist import Meeting, OnboardingRecord, Tick

    record = OnboardingRecord(
        ticks={"compute": Tick(HOSTILE, NOW)},
        meeting=Meeting(date(2026, 11, 19), False, HOSTILE, NOW),
    )
    html, _ = render_landing(
        env,
        make_snapshot(),
        record=record,
        viewer_admin_at=NOW,
        xsrf_token='tok"en',
        section="onboarding",
    )
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'name="_xsrf" value="tok&#34;en"' in html
    assert html.count('name="_xsrf"') == html.count("<form ")
    assert "Held on <strong>2026-11-19</strong>" in html and "not confirmed" in html
    assert re.search(r'id="access-no" value="no"\s+checked', html)
    item = re.search(r'<li[^>]*id="item-compute".*?</li>', html, re.S).group(0)
    assert 'data-done="true"' in item and 'value="untick"' in item


def test_summary_page_lists_missing_settings_escaped_and_says_when_mailto_is_too_long(env):
    from jupyterhub_onboarding.core.summary_email import Missing, SummaryEmail

    email = SummaryEmail(
        "S", "body", (Missing(HOSTILE, "StandardLinks.grafana_usage_url", "left out"),)
    )
    ns = {
        **hub_page_namespace({"name": "admin", "admin": True}, "/hub/"),
        "page_title": "Onboarding summary email",
        "hub_url": HUB,
        "email": email,
        "mailto": None,
        "mailto_max_length": 2000,
        "body_rows": 5,
        "landing_url": "/services/onboarding/",
        "summary_text_url": "/services/onboarding/summary.txt",
    }
    html, _ = render_page(env, "onboarding-summary.html", ns, "n0nce")
    assert HOSTILE not in html and "&lt;img" in html
    assert 'data-setting="StandardLinks.grafana_usage_url"' in html
    assert 'id="summary-mailto"' not in html and 'id="summary-mailto-too-long"' in html
    ready = dict(ns, email=SummaryEmail("S", "body"), mailto="mailto:?subject=S&body=body")
    html, _ = render_page(env, "onboarding-summary.html", ready, "n0nce")
    assert 'id="summary-ready"' in html and 'href="mailto:?subject=S&amp;body=body"' in html


def test_the_usage_chart_starts_at_the_month_the_hub_went_live(env):
    # live since 2026-11-10: October's figures (counted before going live) are not drawn
    html, _ = render_landing(env, make_snapshot(live_days_ago=10), section="usage")
    assert set(re.findall(r'data-month="([0-9-]+)"', html)) == {"2026-11"}
    earlier, _ = render_landing(env, make_snapshot(live_days_ago=60), section="usage")
    assert {"2026-10", "2026-11"} <= set(re.findall(r'data-month="([0-9-]+)"', earlier))
    assert "2026-08" not in set(re.findall(r'data-month="([0-9-]+)"', earlier))


def test_the_first_screen_compares_this_month_with_the_same_days_of_the_last(env):
    from dataclasses import replace

    from jupyterhub_onboarding.core.monthtodate import MonthToDate, empty_month_to_date
    from jupyterhub_onboarding.core.snapshot import MonthCount as Count

    achieved = NOW - timedelta(days=2)
    snapshot = make_snapshot(logged_in=6, achieved_at=achieved, live_days_ago=60)
    empty = empty_month_to_date(NOW)
    to_date = MonthToDate(
        until=datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc),
        mau=Count("2026-10", 12, 3),
        new_users=0,
        usage=empty.usage,
    )
    html, _ = render_landing(env, replace(snapshot, previous_to_date=to_date))
    # 12 users (login basis) in October 1-20: $100 + 2 x $5
    assert re.search(r'id="mau-previous">12 in 1\u201320 October 2026<', html)
    assert re.search(r'id="fee-previous">\$110.00 in 1\u201320 October 2026<', html)
    assert "(the whole month)" not in html and "beside 1\u201320 October 2026" in html


def test_a_document_without_the_same_days_compares_with_the_whole_last_month():
    from dataclasses import replace

    from jupyterhub_onboarding.page.landing import previous_month_figures

    snapshot = make_snapshot(live_days_ago=60)
    report = report_section(
        snapshot, standard_links(), tier="Basic", support_email="s@x.org", response_time="1 day"
    )
    document = build_status(
        snapshot, record=OnboardingRecord(), report=report, events=(), hub_url=HUB
    )
    older = replace(document, report=replace(report, previous_to_date=None))
    found = previous_month_figures(older)
    assert (found.label, found.mau, found.fee) == ("October 2026 (the whole month)", 40, 250.0)
    assert previous_month_figures(replace(older, mau=replace(older.mau, history=()))) is None
