"""The Usage page's "Usage per group" card: rows, sorting by each column, cost per group and
the links that keep the page's arguments; pure rendering, no servers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from types import SimpleNamespace

import pytest
from test_usage_page import PREFIX, render_usage, row, usage_snapshot
from tornado import web

from jupyterhub_onboarding.core.cost import CostFigures, GroupCost, not_available
from jupyterhub_onboarding.core.status.model import GroupUsage
from jupyterhub_onboarding.page.groupviews import (
    GroupOrder,
    group_namespace,
    month_cost,
    parse_group_order,
)
from jupyterhub_onboarding.page.templating import build_environment

NOVEMBER = (
    GroupUsage("physics-101", 12, 9, 40, 31.5, 47.0),
    GroupUsage("<script>x</script>", 7, 7, 22, 18.5, None),
    GroupUsage("biology-lab", 7, 3, 60, 2.0, 95.5),
    GroupUsage("other", 20, 15, 80, 50.0, 30.0),
)
COSTS = CostFigures(
    "2026-11",
    500.0,
    "USD",
    "url",
    (GroupCost("biology-lab", 200.0), GroupCost("physics-101", 34.5), GroupCost("other", 1.0)),
)


@pytest.fixture(scope="module")
def env():
    return build_environment()


def snapshot_with_groups(groups=NOVEMBER):
    snapshot = usage_snapshot("small")
    october, november = snapshot.usage.months
    usage = replace(snapshot.usage, months=(october, replace(november, groups=groups)))
    return replace(snapshot, usage=usage)


def order(**given) -> GroupOrder:
    return parse_group_order(lambda name, default: given.get(name, default))


def labels(ns) -> list[str]:
    return [r.line.label for r in ns["group_rows"]]


def namespace(groups=NOVEMBER, cost=None, **given):
    return group_namespace(groups, "2026-11", order(**given), cost, lambda **q: repr(q))


def test_rows_start_in_the_hubs_order_with_other_groups_last():
    ns = namespace()
    assert labels(ns) == ["physics-101", "<script>x</script>", "biology-lab", "Other groups"]
    headings = {h["key"]: h for h in ns["group_headings"]}
    assert list(headings) == [
        "name",
        "mau_login",
        "mau_server",
        "sessions",
        "server_hours",
        "median_session",
    ]
    assert headings["mau_login"]["aria_sort"] == "descending"
    assert {h["aria_sort"] for k, h in headings.items() if k != "mau_login"} == {"none"}


@pytest.mark.parametrize(
    "sort, group_order, expected",
    [
        ("name", "asc", ["<script>x</script>", "biology-lab", "physics-101"]),
        ("name", "desc", ["physics-101", "biology-lab", "<script>x</script>"]),
        ("mau_server", "asc", ["biology-lab", "<script>x</script>", "physics-101"]),
        ("sessions", "desc", ["biology-lab", "physics-101", "<script>x</script>"]),
        ("server_hours", "asc", ["biology-lab", "<script>x</script>", "physics-101"]),
        # a group without an ended session has no median: last in either order
        ("median_session", "asc", ["physics-101", "biology-lab", "<script>x</script>"]),
        ("median_session", "desc", ["biology-lab", "physics-101", "<script>x</script>"]),
        # ties keep the hub's order (7 and 7 logged in)
        ("mau_login", "asc", ["<script>x</script>", "biology-lab", "physics-101"]),
    ],
)
def test_each_column_sorts_and_other_groups_stays_last(sort, group_order, expected):
    ns = namespace(group_sort=sort, group_order=group_order)
    assert labels(ns) == [*expected, "Other groups"]
    sorted_by = [h for h in ns["group_headings"] if h["aria_sort"] != "none"]
    assert [h["key"] for h in sorted_by] == [sort]
    assert sorted_by[0]["aria_sort"] == ("ascending" if group_order == "asc" else "descending")
    # choosing the sorted column again flips the order
    flipped = "desc" if group_order == "asc" else "asc"
    assert sorted_by[0]["href"] == repr({"group_sort": sort, "group_order": flipped})


def test_cost_column_only_with_costs_per_group_of_that_month():
    ns = namespace(cost=COSTS)
    assert ns["group_costs"] and ns["group_headings"][-1]["label"] == "Cloud cost"
    texts = {r.line.label: r.cost_text for r in ns["group_rows"]}
    # "other" in the costs is not the folded groups: no cost is made up for them
    assert texts == {
        "physics-101": "$34.50",
        "<script>x</script>": "not available",
        "biology-lab": "$200.00",
        "Other groups": "not available",
    }
    by_cost = namespace(cost=COSTS, group_sort="cost", group_order="desc")
    assert labels(by_cost) == ["biology-lab", "physics-101", "<script>x</script>", "Other groups"]
    for cost in (
        None,
        replace(COSTS, groups=()),  # the month's total only
        replace(COSTS, month="2026-10"),
        not_available("2026-11", "USD", "url", "The cost endpoint does not answer"),
    ):
        ns = namespace(cost=cost)
        assert not ns["group_costs"]
        assert "Cloud cost" not in [h["label"] for h in ns["group_headings"]]


@pytest.mark.parametrize("given", [{"group_sort": "password"}, {"group_order": "up"}])
def test_bad_sort_arguments_are_a_clear_400(given):
    with pytest.raises(web.HTTPError) as error:
        order(**given)
    assert error.value.status_code == 400
    assert error.value.log_message.startswith(next(iter(given)))


def test_a_column_without_an_order_starts_as_its_kind_reads_best():
    assert order() == GroupOrder("mau_login", True, False)  # the hub's order, not in links
    assert order(group_sort="name") == GroupOrder("name", False, True)
    assert order(group_sort="sessions", group_order="") == GroupOrder("sessions", True, True)


def render(env, snapshot, cost=None, table=None, **group_args):
    return render_usage(
        env,
        snapshot,
        [row("ana")],
        group_order=order(**group_args),
        cost=cost,
        **(table or {}),
    )


def card(html: str) -> str:
    start = html.index('id="usage-groups"')
    return html[start : html.index('id="usage-users"', start)]


def test_the_card_shows_named_escaped_rows_and_says_they_overlap(env):
    html = card(render(env, snapshot_with_groups(), COSTS))
    assert "Usage per group, November 2026" in html
    assert "<script>x</script>" not in html
    assert '<td class="group-name">&lt;script&gt;x&lt;/script&gt;</td>' in html
    assert "counts in each, so the rows do not add up to the hub's MAU" in html
    cell = '<td class="text-end text-nowrap">{}</td>'.format
    assert cell("31.5") in html and cell("47 min") in html
    assert "no ended session" in html and "1 h 36 min" in html
    assert '<td class="text-end text-nowrap group-cost">$200.00</td>' in html
    assert "matched by group name" in html
    assert 'class="usage-groups-other"' in html and "Onboarding.max_usage_labels" in html


def test_sort_links_keep_the_pages_other_arguments(env):
    table = {"month": "2026-11", "q": "an", "show": "admins", "sort": "sessions", "page": "2"}
    html = render(env, snapshot_with_groups(), table=table, group_sort="sessions")
    groups = card(html)
    assert 'aria-sort="descending" data-sort="sessions"' in groups
    assert (
        'href="/services/onboarding/usage?month=2026-11&amp;q=an&amp;show=admins'
        "&amp;sort=sessions&amp;page=2&amp;group_sort=sessions&amp;group_order=asc"
        '#usage-groups"'
    ) in groups
    # the per-user table's links and its form keep the group order
    users = html[html.index('id="usage-users"') :]
    assert "usage?group_sort=sessions&amp;group_order=desc&amp;month=2026-11&amp;q=an" in users
    assert '<input type="hidden" name="group_sort" value="sessions">' in users


def test_a_month_without_groups_says_so_in_one_line(env):
    html = card(render(env, usage_snapshot("small")))
    assert 'id="usage-groups-none"' in html
    assert "No JupyterHub groups had an active member in November 2026." in html
    assert "<table" not in html
    # the month the page shows: October had none either
    october = card(render(env, snapshot_with_groups(), table={"month": "2026-10"}))
    assert "No JupyterHub groups had an active member in October 2026." in october


def test_the_default_order_adds_nothing_to_the_other_links(env):
    html = render(env, snapshot_with_groups())
    assert "group_sort" not in html[html.index('id="usage-users"') :]
    assert f'href="{PREFIX}usage?group_sort=name&amp;group_order=asc#usage-groups"' in html


class FakeReader:
    def __init__(self, source="url", figures=None, error=None):
        self.source, self.figures, self.error, self.asked = source, figures, error, []

    async def month_cost(self, month):
        self.asked.append(month)
        if self.error:
            raise self.error
        return self.figures


def service(reader, held=None):
    return SimpleNamespace(cost=reader, month_cost=held, log=logging.getLogger("test"))


def test_the_months_cost_is_the_services_own_of_this_month_else_the_sources():
    reader = FakeReader(figures=replace(COSTS, month="2026-10"))
    assert asyncio.run(month_cost(service(reader, COSTS), "2026-11")) is COSTS
    assert reader.asked == []  # the service's figures of the current month, not asked again
    assert asyncio.run(month_cost(service(reader, COSTS), "2026-10")).month == "2026-10"
    assert reader.asked == ["2026-10"]
    assert asyncio.run(month_cost(service(FakeReader("none"), COSTS), "2026-11")) is None
    broken = FakeReader(error=RuntimeError("boom"))
    assert asyncio.run(month_cost(service(broken), "2026-11")) is None
