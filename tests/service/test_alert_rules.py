"""The shipped alert rules (checked and unit-tested by promtool) and the Grafana dashboard."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from harness.components import require_component
from harness.prometheus import (
    DASHBOARD_FILE,
    RULES_FILE,
    RULES_TEST_FILE,
    dashboard_queries,
    find_binary,
    iter_panels,
    load_dashboard,
    load_rules,
    metric_names,
    rule_expressions,
    substitute,
)

from jupyterhub_onboarding.service.metrics import METRIC_NAMES

ALERTS = {
    "OnboardingCheckInDue",
    "OnboardingFirstValueReached",
    "OnboardingTrackerStale",
    "OnboardingMetricsAbsent",
    "OnboardingEventNotReady",
}
#: Who acts on each alert (docs/alertmanager/alertmanager.yml routes on the team label).
TEAMS = {
    "OnboardingCheckInDue": "account-management",
    "OnboardingFirstValueReached": "account-management",
    "OnboardingTrackerStale": "engineering",
    "OnboardingMetricsAbsent": "engineering",
    "OnboardingEventNotReady": "account-management",
}
#: Family names a query may use: the documented samples and the histogram's family name.
KNOWN_NAMES = set(METRIC_NAMES) | {"jupyterhub_onboarding_poll_duration_seconds"}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = find_binary("promtool")
    # skips with a printed reason where it cannot be installed; fails in CI
    require_component("promtool", path is not None, "Debian package prometheus")
    return path


def run(promtool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


# -- alert rules ----------------------------------------------------------------------------


def test_promtool_check_rules_passes(promtool):
    result = run(promtool, "check", "rules", str(RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout  # the stale alert has two rules


def test_promtool_unit_tests_of_every_alert_pass(promtool):
    result = run(promtool, "test", "rules", str(RULES_TEST_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("original", "mutant"),
    [
        ("> 900", "> 1800"),  # stale after 30 minutes instead of 15
        ("for: 10m", "for: 1m"),  # check-in and absence alerts without their delay
        ("jupyterhub_onboarding_check_in_due == 1", "jupyterhub_onboarding_check_in_due >= 0"),
        ("\n          unless jupyterhub_onboarding_last_successful_poll_timestamp_seconds", ""),
        ("max_over_time(jupyterhub_onboarding_info[1d])", "jupyterhub_onboarding_info"),
        ("absent(jupyterhub_onboarding_info)", "absent(up)"),
        ("> time() - 7 * 86400", "> time() - 8 * 86400"),  # first value announced too long
        ("> time() - 7 * 86400", "> time() - 6 * 86400"),  # ... or not long enough
        ("(toTime $value).Format", "(toTime 0.0).Format"),  # the date not the reached one
        ('label "page_url"', 'label "hub_url"'),  # the page link pointing at the hub
        ("[1d])", "[1m])"),  # an absent hub's links forgotten
        ("< 7 * 86400", "< 30 * 86400"),  # event alert a month ahead instead of a week
        (
            "(jupyterhub_onboarding_next_event_checklist_complete == 0)",
            "(jupyterhub_onboarding_next_event_checklist_complete >= 0)",
        ),
    ],
)
def test_promtool_unit_tests_catch_a_broken_rule(promtool, tmp_path, original, mutant):
    """The unit tests are strict enough to fail when a rule is subtly wrong."""
    rules = RULES_FILE.read_text()
    assert original in rules
    (tmp_path / RULES_FILE.name).write_text(rules.replace(original, mutant))
    (tmp_path / RULES_TEST_FILE.name).write_text(RULES_TEST_FILE.read_text())
    result = run(promtool, "test", "rules", RULES_TEST_FILE.name, cwd=tmp_path)
    assert result.returncode != 0, f"tests still pass with {original!r} -> {mutant!r}"


def test_every_alert_is_tested_firing_and_quiet():
    tests = yaml.safe_load(RULES_TEST_FILE.read_text())
    assert tests["rule_files"] == [RULES_FILE.name]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == ALERTS
    assert quiet == ALERTS


def test_rules_are_labelled_documented_and_use_only_published_series():
    rules = [rule for group in load_rules()["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        used = metric_names(rule["expr"])
        assert used, f"{rule['alert']} reads no onboarding series"
        assert used <= KNOWN_NAMES, f"{rule['alert']} reads unknown series {used - KNOWN_NAMES}"
        assert rule["labels"]["team"] == TEAMS[rule["alert"]], rule["alert"]
        for link in ("hub_url", "page_url", "summary_url"):
            assert "jupyterhub_onboarding_links_info" in rule["annotations"][link], rule["alert"]
    stale = [rule for rule in rules if rule["alert"] == "OnboardingTrackerStale"]
    assert {rule["labels"]["reason"] for rule in stale} == {"polls-failing", "never-polled"}


# -- dashboard ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return load_dashboard()


def test_dashboard_is_an_importable_model(dashboard):
    assert dashboard["uid"] == "jupyterhub-onboarding"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard["uid"])
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    # an exported-for-sharing model: no database id, no hard-wired data source
    assert dashboard.get("id") is None
    assert "__inputs" not in dashboard
    assert isinstance(dashboard["panels"], list) and dashboard["panels"]
    assert DASHBOARD_FILE.read_text().endswith("}\n")


def test_dashboard_data_source_and_hub_are_variables(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    hub = variables["hub"]
    assert hub["type"] == "query"
    assert hub["datasource"]["uid"] == "${datasource}"
    assert hub["definition"] == "label_values(jupyterhub_onboarding_info, namespace)"
    for panel in iter_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"


def test_dashboard_has_the_panels_the_issue_asks_for(dashboard):
    titles = [p["title"].lower() for p in iter_panels(dashboard["panels"])]
    for wanted in (
        "progress to first value",
        "first-value date",
        "monthly active users by basis",
        "rolling active users",
        "estimated usage fee",
        "poll duration",
        "poll errors",
        "since last successful poll",
        "next event",
    ):
        assert any(wanted in title for title in titles), f"no panel about {wanted!r}"
    mau = next(
        p for p in iter_panels(dashboard["panels"]) if "monthly active" in p["title"].lower()
    )
    assert mau["type"] == "timeseries"
    assert "basis" in mau["targets"][0]["expr"] and mau["targets"][0]["legendFormat"] == "{{basis}}"


def test_dashboard_shows_the_next_events_start_attendees_and_checklist(dashboard):
    (panel,) = [
        p for p in iter_panels(dashboard["panels"]) if p["title"].lower().startswith("next event")
    ]
    by_ref = {target["refId"]: target for target in panel["targets"]}
    prefix = "jupyterhub_onboarding_next_event_"
    assert metric_names(by_ref["A"]["expr"]) == {prefix + "start_timestamp_seconds"}
    assert metric_names(by_ref["C"]["expr"]) == {prefix + "expected_attendees"}
    assert metric_names(by_ref["D"]["expr"]) == {prefix + "checklist_complete"}
    used = set().union(*(metric_names(target["expr"]) for target in panel["targets"]))
    assert used == {name for name in METRIC_NAMES if name.startswith(prefix)}
    overrides = {
        o["matcher"]["options"]: o["properties"] for o in panel["fieldConfig"]["overrides"]
    }
    assert {"id": "unit", "value": "dateTimeAsIso"} in overrides["A"]
    (mappings,) = [prop["value"] for prop in overrides["D"] if prop["id"] == "mappings"]
    assert mappings[0]["options"]["0"]["text"] == "not complete"
    assert mappings[0]["options"]["1"]["text"] == "complete"
    assert panel["fieldConfig"]["defaults"]["noValue"] == "none planned"


def test_dashboard_layout_has_unique_ids_and_no_overlapping_panels(dashboard):
    panels = list(iter_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_dashboard_query_filters_by_hub_and_reads_published_series(dashboard):
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 10
    for where, expr in queries:
        assert 'namespace=~"$hub"' in expr, f"{where} does not filter by the hub"
        used = metric_names(expr)
        assert used and used <= KNOWN_NAMES, f"{where} reads {used - KNOWN_NAMES}"
        assert "$" not in substitute(expr, {"hub": "example"})
    with pytest.raises(KeyError):
        substitute("up{namespace=~'$unknown'}", {"hub": "example"})


def test_every_shipped_promql_expression_parses(promtool, dashboard, tmp_path):
    """promtool parses each dashboard query (variables substituted) as a recording rule."""
    exprs = [substitute(expr, {"hub": "example-hub"}) for _, expr in dashboard_queries(dashboard)]
    exprs += [expr for _, expr in rule_expressions(load_rules())]
    rules = {
        "groups": [
            {
                "name": "parse-only",
                "rules": [
                    {"record": f"onboarding_query_{index}", "expr": expr}
                    for index, expr in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = run(promtool, "check", "rules", "--lint=none", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout
