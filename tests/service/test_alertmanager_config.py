"""The shipped Alertmanager configuration and templates, checked by Debian's amtool."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from harness.alertmanager import CONFIG_FILE, TEMPLATE_FILE, delivery_config, find_amtool
from harness.components import require_component
from harness.prometheus import load_rules

pytestmark = pytest.mark.integration

ACCOUNT = "account-management"
ENGINEERING = "engineering"
#: Who each shipped alert is for.
AUDIENCE = {
    "OnboardingCheckInDue": ACCOUNT,
    "OnboardingFirstValueReached": ACCOUNT,
    "OnboardingTrackerStale": ENGINEERING,
    "OnboardingMetricsAbsent": ENGINEERING,
}


@pytest.fixture(scope="module")
def amtool() -> str:
    path = find_amtool()
    # skips with a printed reason where it cannot be installed; fails in CI
    require_component("amtool", path is not None, "Debian package prometheus-alertmanager")
    return path


def run(amtool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [amtool, *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def test_amtool_check_config_passes(amtool):
    result = run(amtool, "check-config", str(CONFIG_FILE), cwd=CONFIG_FILE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "1 templates" in result.stdout


def test_check_config_fails_on_a_broken_template(amtool, tmp_path):
    """The check reads the templates: a broken one is caught before deployment."""
    (tmp_path / CONFIG_FILE.name).write_text(CONFIG_FILE.read_text())
    (tmp_path / TEMPLATE_FILE.name).write_text(
        TEMPLATE_FILE.read_text().replace("{{ end }}", "", 1)
    )
    result = run(amtool, "check-config", CONFIG_FILE.name, cwd=tmp_path)
    assert result.returncode != 0


def route(amtool: str, labels: dict[str, str], config: Path = CONFIG_FILE) -> str:
    args = [f"{key}={value}" for key, value in labels.items()]
    result = run(amtool, "config", "routes", "test", f"--config.file={config}", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("alert", sorted(AUDIENCE))
def test_each_shipped_alert_reaches_its_audience(amtool, alert):
    """Labels as the shipped rules set them go to the right receiver."""
    rules = [r for g in load_rules()["groups"] for r in g["rules"] if r["alert"] == alert]
    assert rules
    for rule in rules:
        labels = {"alertname": alert, "namespace": "hub-a", **rule["labels"]}
        assert route(amtool, labels) == AUDIENCE[alert], labels


def test_account_management_alerts_arrive_even_without_the_team_label(amtool):
    for alert in ("OnboardingCheckInDue", "OnboardingFirstValueReached", "OnboardingEventSoon"):
        assert route(amtool, {"alertname": alert, "namespace": "hub-a"}) == ACCOUNT
    assert route(amtool, {"alertname": "SomethingElse"}) == ENGINEERING


def test_grouping_is_by_hub_with_sensible_repeats():
    config = yaml.safe_load(CONFIG_FILE.read_text())
    root = config["route"]
    routes = [root, *root["routes"]]
    for node in routes:
        assert "namespace" in node.get("group_by", root["group_by"])
    seconds = {"m": 60, "h": 3600, "d": 86400}

    def duration(text: str) -> int:
        return int(text[:-1]) * seconds[text[-1]]

    for node in root["routes"]:
        repeat = duration(node.get("repeat_interval", root["repeat_interval"]))
        if node["receiver"] == ACCOUNT:
            assert repeat == 86400  # a daily reminder for account management
        else:
            assert 3600 <= repeat <= 6 * 3600
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers) == {ACCOUNT, ENGINEERING}
    for receiver in receivers.values():
        assert receiver["email_configs"] and receiver["webhook_configs"]


def test_the_test_configuration_keeps_the_shipped_routes(amtool, tmp_path):
    """The tests' copy (webhooks only, short delays) routes exactly as the shipped one."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(delivery_config("http://127.0.0.1:9/{receiver}")))
    result = run(amtool, "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    for alert in AUDIENCE:
        labels = {"alertname": alert, "team": AUDIENCE[alert], "namespace": "hub-a"}
        assert route(amtool, labels, path) == route(amtool, labels)


def notification(status: str = "firing", **annotations: str) -> dict:
    alert = {
        "status": status,
        "labels": {
            "alertname": "OnboardingFirstValueReached",
            "namespace": "hub-a",
            "severity": "info",
            "team": ACCOUNT,
        },
        "annotations": {
            "summary": "Hub hub-a: first value reached on 2026-11-05",
            "description": "The hub in hub-a reached its moment of first value.",
            "first_value_date": "2026-11-05",
            "hub_url": "https://hub-a.example.org/",
            "page_url": "https://hub-a.example.org/services/onboarding/",
            "summary_url": "https://hub-a.example.org/services/onboarding/summary",
            **annotations,
        },
        "startsAt": "2026-11-05T14:02:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": "0",
    }
    return {
        "receiver": ACCOUNT,
        "status": status,
        "alerts": [alert],
        "groupLabels": {"alertname": alert["labels"]["alertname"], "namespace": "hub-a"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.example.org",
    }


def render(amtool: str, tmp_path: Path, name: str, data: dict, html: bool = False) -> str:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    args = [
        "template",
        "render",
        f"--template.glob={TEMPLATE_FILE}",
        f"--template.text={{{{ template {json.dumps(name)} . }}}}",
        f"--template.data={path}",
    ]
    if html:
        args.append("--template.type=html")
    result = run(amtool, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_notification_text_names_the_hub_and_links_its_page(amtool, tmp_path):
    data = notification()
    subject = render(amtool, tmp_path, "onboarding.subject", data)
    assert subject.strip() == "[FIRING:1] OnboardingFirstValueReached: hub hub-a"
    text = render(amtool, tmp_path, "onboarding.text", data)
    assert "Hub hub-a: first value reached on 2026-11-05" in text
    assert "First value date: 2026-11-05" in text
    assert "Hub: https://hub-a.example.org/" in text
    assert "Onboarding page: https://hub-a.example.org/services/onboarding/" in text
    assert "Summary email: https://hub-a.example.org/services/onboarding/summary" in text
    resolved = render(amtool, tmp_path, "onboarding.text", notification("resolved"))
    assert resolved.startswith("RESOLVED: Hub hub-a")


def test_notification_without_links_still_names_the_hub(amtool, tmp_path):
    text = render(
        amtool, tmp_path, "onboarding.text", notification(hub_url="", page_url="", summary_url="")
    )
    assert "Hub: hub-a" in text and "Onboarding page" not in text


def test_html_notification_escapes_text_and_links_only_http(amtool, tmp_path):
    data = notification(description="<script>alert(1)</script>", summary_url="javascript:alert(1)")
    html = render(amtool, tmp_path, "onboarding.html", data, html=True)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html
    assert '<a href="https://hub-a.example.org/services/onboarding/">Onboarding page</a>' in html
    assert '<a href="https://hub-a.example.org/">https://hub-a.example.org/</a>' in html
