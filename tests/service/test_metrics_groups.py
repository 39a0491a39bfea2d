"""The per-group series: only with Onboarding.report_group_names, the current month's
figures of the groups the status document lists (bounded, "other" last), hostile names one
escaped label value each. No I/O."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client.parser import text_string_to_metric_families
from test_metrics_unit import USAGE, P, names, samples, scrape, snapshot, value

from jupyterhub_onboarding.core.groups import group_usage
from jupyterhub_onboarding.core.status.model import GroupUsage
from jupyterhub_onboarding.core.usage import UsageFigures

GROUP_SERIES = {
    P + "monthly_group_active_users",
    P + "monthly_group_sessions",
    P + "monthly_group_server_hours",
}


def with_groups(groups: tuple[GroupUsage, ...], *, names_on: bool = True):
    """The test snapshot whose current month has *groups*."""
    month = replace(USAGE.months[0], groups=groups)
    return replace(snapshot(group_names=names_on), usage=UsageFigures(months=(month,)))


def group_labels(text: str, series: str) -> list[str]:
    return sorted(dict(labels)["group"] for name, labels in samples(text) if name == P + series)


def test_no_group_series_at_all_without_report_group_names():
    text = scrape(snapshot(group_names=False))
    assert not names(text) & GROUP_SERIES
    assert "monthly_group" not in text  # neither a sample nor a HELP or TYPE line
    assert "physics-101" not in text


def test_each_group_of_the_current_month_with_its_figures_when_names_are_on():
    text = scrape(snapshot(group_names=True))
    assert value(text, "monthly_group_active_users", group="physics-101", basis="login") == 5
    assert value(text, "monthly_group_active_users", group="physics-101", basis="server") == 2
    assert value(text, "monthly_group_sessions", group="physics-101") == 7
    assert value(text, "monthly_group_server_hours", group="physics-101") == 9.5
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("monthly_group_active_users", "monthly_group_sessions"):
        assert families[P + name].type == "gauge"
        assert "Onboarding.report_group_names" in families[P + name].documentation
    # the hub's own figures stay as they were: groups are an extra view, not a split
    assert value(text, "monthly_sessions") == 9


def test_group_labels_are_bounded_by_max_usage_labels_with_other_last():
    members = {f"course-{n:02}": {n} for n in range(30)}
    groups = group_usage(members, login=set(range(30)), server=(), parts={}, limit=5)
    text = scrape(with_groups(groups))
    labels = group_labels(text, "monthly_group_sessions")
    assert len(labels) == 6 and "other" in labels
    assert value(text, "monthly_group_active_users", group="other", basis="login") == 25
    assert set(group_labels(text, "monthly_group_active_users")) == set(labels)
    bases = {
        dict(labels)["basis"]
        for name, labels in samples(text)
        if name == P + "monthly_group_active_users"
    }
    assert bases == {"login", "server"}


def test_hostile_group_names_stay_one_escaped_label_value():
    hostile = 'x"} 1\nevil{a="\\'
    text = scrape(with_groups((GroupUsage(hostile, 2, 1, 3, 1.5, None),)))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (sample,) = families[P + "monthly_group_sessions"].samples
    # the line break became a visible mark when the group was read; quotes, braces and the
    # backslash are escaped by the exposition and parse back to the same text
    assert sample.labels == {"group": 'x"} 1\ufffdevil{a="\\'}
    assert sample.value == 3
    assert "evil" not in {f.name for f in families.values()}
    assert '\\"' in text and "\\\\" in text


def test_a_month_without_active_groups_has_the_families_but_no_samples():
    text = scrape(with_groups(()))
    assert not names(text) & GROUP_SERIES
    assert f"# TYPE {P}monthly_group_sessions gauge" in text
