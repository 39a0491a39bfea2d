"""The "How the hub is used" section, its histograms and its CSV: pure rendering, no servers."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from test_page_unit import HOSTILE, NOW, SVG, make_snapshot, standard_links
from tornado import web

from jupyterhub_onboarding.core.snapshot import Aggregates, Settings, TrackerState, build_snapshot
from jupyterhub_onboarding.core.usage import LabelUsage, MonthUsage, UsageFigures
from jupyterhub_onboarding.page.chart import HistogramBar, histogram_svg
from jupyterhub_onboarding.page.handlers import landing_namespace
from jupyterhub_onboarding.page.templating import (
    NavService,
    build_environment,
    hub_page_namespace,
    render_page,
)
from jupyterhub_onboarding.page.usage import (
    TableArgs,
    csv_cell,
    parse_bucket,
    usage_csv,
    usage_section,
)
from jupyterhub_onboarding.service.store import UsageRow

PREFIX = "/services/onboarding/"


@pytest.fixture(scope="module")
def env():
    return build_environment()


def args(**given):
    return TableArgs(lambda name, default: given.get(name, default), 202611)


def row(name, **kw):
    values = dict(
        admin=False,
        deleted_at=None,
        sessions=2,
        server_hours=1.5,
        last_login_at=NOW - timedelta(hours=1),
        last_session_end=NOW - timedelta(minutes=5),
        running=False,
        top_profile="small",
    )
    values.update(kw)
    return UsageRow(name=name, **values)


def usage_snapshot(profile=HOSTILE):
    november = MonthUsage(
        "2026-11",
        sessions=3,
        users_with_sessions=2,
        server_hours=2.5,
        median_session_minutes=20.0,
        p90_session_minutes=44.0,
        peak_concurrent_servers=2,
        daily_peaks=(("2026-11-20", 2),),
        profiles=(LabelUsage(profile, 2, 2.0), LabelUsage("none", 1, 0.5)),
    )
    october = MonthUsage("2026-10", sessions=7, server_hours=9.0, peak_concurrent_servers=4)
    usage = UsageFigures(
        months=(october, november),
        last_login_distribution={"under_1d": 2, "1d_7d": 1, "over_90d": 5},
        server_minutes_distribution={"under_30m": 1, "30m_2h": 1},
    )
    settings = Settings(hub_url="https://hub.example.org", live_since=NOW - timedelta(days=30))
    return build_snapshot(
        Aggregates(users_logged_in=3, usage=usage), settings, TrackerState(last_success_at=NOW), NOW
    )


def render_usage(
    env, snapshot, rows, total=None, group_order=None, cost=None, home=None, **table_args
):
    ns = {
        "usage_home_sizes": home,
        **hub_page_namespace({"name": "admin", "admin": True}, "/hub/", [NavService("o", PREFIX)]),
        **usage_section(
            snapshot,
            PREFIX,
            args(**table_args),
            rows,
            len(rows or []) if total is None else total,
            group_order=group_order,
            cost=cost,
        ),
    }
    ns.update(
        landing_namespace(
            snapshot,
            standard_links(),
            hub_url="https://hub.example.org",
            support_email="",
            response_time="",
            service_prefix=PREFIX,
            threshold=5,
        )
    )
    return render_page(env, "onboarding-usage.html", ns, "nonce")[0]


def test_section_shows_the_month_beside_the_previous_one(env):
    html = render_usage(env, usage_snapshot("small"), [row("ana")])
    assert 'id="usage-section"' in html
    assert "November 2026 beside October 2026" in html
    figures = html[
        html.index('id="usage-figures"') : html.index("</table>", html.index('id="usage-figures"'))
    ]
    assert 'data-figure="sessions"' in figures
    assert '<td class="text-end current">3</td><td class="text-end previous">7</td>' in figures
    assert "20 min" in figures and "44 min" in figures  # durations as a person reads them
    assert "the most running at one poll" in figures
    assert "2026-11-20" in html  # the daily peaks
    assert 'href="/services/onboarding/usage.csv?month=2026-11"' in html
    assert 'href="/services/onboarding/usage.csv?month=2026-10"' in html


def test_histogram_bars_link_to_the_users_of_their_bucket(env):
    html = render_usage(env, usage_snapshot("small"), [row("ana")])
    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" id="last-login-chart"')
    svg = html[start : html.index("</svg>", start) + len("</svg>")]
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    links = {a.get("data-bucket"): a.get("href") for a in root.iter(f"{SVG}a")}
    assert links["1d_7d"] == "/services/onboarding/usage/users?bucket=last_login%3A1d_7d"
    values = {r.get("data-bucket"): r.get("data-value") for r in root.iter(f"{SVG}rect")}
    assert values == {"under_1d": "2", "1d_7d": "1", "7d_30d": "0", "30d_90d": "0", "over_90d": "5"}
    assert "server_minutes%3A30m_2h" in html
    assert "<script" not in svg


def test_histogram_bar_lengths_are_proportional_and_labels_escaped():
    bars = [HistogramBar("a", HOSTILE, 5, "/x?a=1&b=<2>"), HistogramBar("b", "b", 0, "/y")]
    svg = histogram_svg(bars, chart_id="h", title=HOSTILE)
    assert "<img" not in svg and "&lt;img" in svg
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    rects = {r.get("data-bucket"): float(r.get("width")) for r in root.iter(f"{SVG}rect")}
    assert rects["a"] == pytest.approx(460 - 170 - 48)  # the longest bar fills the axis of 5
    assert rects["b"] == 1.5  # an empty bucket keeps a sliver to click on
    assert [a.get("href") for a in root.iter(f"{SVG}a")] == ["/x?a=1&b=<2>", "/y"]


def test_hostile_usernames_and_profiles_are_escaped_in_the_page(env):
    html = render_usage(env, usage_snapshot(HOSTILE), [row(HOSTILE, top_profile=HOSTILE)])
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_table_sorts_by_the_chosen_column_and_pages(env):
    rows = [row(f"user-{i}") for i in range(50)]
    html = render_usage(env, usage_snapshot("small"), rows, total=120, sort="sessions", page="2")
    assert 'aria-sort="descending" data-sort="sessions"' in html
    # choosing the sorted column again flips the order; other columns start descending
    assert "?sort=sessions&amp;order=asc#usage-users" in html
    assert "?sort=server_hours&amp;order=desc#usage-users" in html
    assert "?sort=name&amp;order=asc#usage-users" in html
    assert "Page 2 of 3" in html
    assert "?sort=sessions&amp;order=desc&amp;page=1#usage-users" in html
    assert "?sort=sessions&amp;order=desc&amp;page=3#usage-users" in html
    assert "rows 51-100 of 120" in html


def test_table_says_so_while_the_database_is_unavailable(env):
    html = render_usage(env, usage_snapshot("small"), None)
    assert 'id="usage-users-table-unavailable"' in html


@pytest.mark.parametrize(
    "given",
    [{"sort": "password"}, {"order": "up"}, {"page": "x"}, {"page": "0"}, {"month": "2026-13"}],
)
def test_bad_table_arguments_are_a_clear_400(given):
    with pytest.raises(web.HTTPError) as error:
        args(**given)
    assert error.value.status_code == 400
    assert error.value.log_message


def test_bucket_argument_must_name_a_known_bucket():
    assert parse_bucket("last_login:over_90d") == ("last_login", "over_90d")
    assert parse_bucket("server_minutes:under_30m") == ("server_minutes", "under_30m")
    for bad in ("", "last_login", "last_login:1y", "x:under_30m"):
        with pytest.raises(web.HTTPError):
            parse_bucket(bad)


def test_csv_neutralises_formulas_and_keeps_every_column():
    assert csv_cell("=1+1") == "'=1+1"
    for start in "=+-@":
        assert csv_cell(start + "cmd") == "'" + start + "cmd"
    assert csv_cell("ana") == "ana" and csv_cell(None) == ""
    text = usage_csv(
        [
            row('=HYPERLINK("http://evil")', top_profile="@SUM(A1)"),
            row("ben", running=True, admin=True, deleted_at=NOW),
            row(HOSTILE, last_session_end=None, top_profile=None, sessions=0, server_hours=0.0),
        ]
    )
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == [
        "name",
        "admin",
        "removed_from_hub",
        "sessions",
        "server_hours",
        "last_login",
        "last_session_end",
        "most_used_profile",
    ]
    assert parsed[1][0] == '\'=HYPERLINK("http://evil")' and parsed[1][7] == "'@SUM(A1)"
    assert parsed[1][3:7] == ["2", "1.5000", "2026-11-20T11:00:00Z", "2026-11-20T11:55:00Z"]
    assert parsed[2][1:3] == ["yes", "yes"] and parsed[2][6] == "running"
    assert parsed[3][0] == HOSTILE and parsed[3][6] == "" and parsed[3][7] == ""


def test_home_directory_sizes_join_the_per_user_table_and_its_csv(env):
    rows = [row("ana"), row(HOSTILE), row("cai")]
    home = {"ana": 1_500_000_000, HOSTILE: 2_000}
    html = render_usage(env, usage_snapshot("small"), rows, home=home)
    table = html[html.index('id="usage-users-table"') :]
    table = table[: table.index("</table>")]
    assert ">Home directory</th>" in table
    cells = re.findall(r'<td class="text-end usage-home">(.*?)</td>', table)
    assert cells[0] == "1.50 GB" and cells[1] == "2.00 kB"
    assert "not measured" in cells[2]
    assert "<img src=x" not in html  # the hostile name is text
    # storage not read: no column at all
    plain = render_usage(env, usage_snapshot("small"), rows)
    assert "Home directory</th>" not in plain and "usage-home" not in plain
    parsed = list(csv.reader(io.StringIO(usage_csv(rows, home=home))))
    assert parsed[0][-1] == "home_directory_bytes"
    assert [line[-1] for line in parsed[1:]] == ["1500000000", "2000", ""]
    assert "home_directory_bytes" not in usage_csv(rows)


def test_snapshot_without_usage_has_an_empty_section(env):
    html = render_usage(env, make_snapshot(), [])
    assert "No session this month." in html
    assert 'id="usage-users-table-empty"' in html
