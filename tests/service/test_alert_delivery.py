"""A check-in that falls due reaches a person, and so does first value: the shipped rules in
a real Prometheus, over the service in a real hub, through a real Alertmanager (Debian's,
with the shipped routes and templates) to a webhook receiver served by this test.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta

import pytest
import yaml
from harness.alertmanager import WebhookReceiver, find_alertmanager, running_alertmanager
from harness.components import require_component
from harness.hub import HubProcess
from harness.prometheus import RULES_FILE, ScrapeTarget, find_binary, running_prometheus

from jupyterhub_onboarding.core.clock import isoformat, parse_iso, utcnow

pytestmark = pytest.mark.integration

NAMESPACE = "delivery-hub"


def fast_rules(workdir) -> object:
    """The shipped rules with the check-in's 10-minute ``for`` shortened to a second."""
    rules = yaml.safe_load(RULES_FILE.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "OnboardingCheckInDue":
                assert rule["for"] == "10m"
                rule["for"] = "1s"
    path = workdir / "onboarding-rules.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


def alerts_in(notification: dict, name: str, status: str) -> list[dict]:
    return [
        alert
        for alert in notification["alerts"]
        if alert["labels"]["alertname"] == name and alert["status"] == status
    ]


def test_check_in_and_first_value_reach_account_management(tmp_path):
    prometheus = find_binary("prometheus")
    require_component("prometheus", prometheus is not None, "Debian package prometheus")
    alertmanager = find_alertmanager()
    require_component(
        "alertmanager", alertmanager is not None, "Debian package prometheus-alertmanager"
    )
    live_since = utcnow() - timedelta(days=30)
    hub = HubProcess(
        tmp_path / "hub",
        service_config=f'c.Onboarding.live_since = "{isoformat(live_since)}"\n',
    )
    # the public URL names the hub's proxy, known once the hub's ports are chosen
    with open(hub.service_dir / "jupyterhub_onboarding_config.py", "a") as config:
        config.write(f"c.Onboarding.public_url = {hub.url!r}\n")

    with ExitStack() as stack:
        hub.start()
        stack.callback(hub.stop)
        hub.wait_for_status(lambda s: s["first_value"]["check_in_due"])
        hooks = stack.enter_context(WebhookReceiver())
        manager = stack.enter_context(
            running_alertmanager(tmp_path / "alertmanager", hooks.url, alertmanager)
        )
        target = ScrapeTarget(
            "onboarding",
            f"127.0.0.1:{hub.port}",
            "/services/onboarding/metrics",
            labels={"namespace": NAMESPACE},
            token=hub.status_token,
        )
        prom = stack.enter_context(
            running_prometheus(
                tmp_path / "prometheus",
                [target],
                rule_files=[fast_rules(tmp_path)],
                binary=prometheus,
                alertmanagers=[manager.address],
            )
        )

        # The check-in is due: account management hears of it, with the hub's links.
        due = hooks.wait_for(
            lambda n: bool(alerts_in(n, "OnboardingCheckInDue", "firing")),
            timeout=90,
            what="about the due check-in",
        )
        assert due["receiver"] == "account-management" and due["path"] == "/account-management"
        assert due["groupLabels"] == {"alertname": "OnboardingCheckInDue", "namespace": NAMESPACE}
        (alert,) = alerts_in(due, "OnboardingCheckInDue", "firing")
        assert alert["labels"] == {
            "alertname": "OnboardingCheckInDue",
            "namespace": NAMESPACE,
            "severity": "info",
            "team": "account-management",
            "job": "onboarding",
            "instance": f"127.0.0.1:{hub.port}",
        }
        annotations = alert["annotations"]
        assert annotations["summary"] == f"Hub {NAMESPACE}: check-in due, first value not reached"
        assert annotations["hub_url"] == hub.url + "/"
        assert annotations["page_url"] == hub.service_url
        assert annotations["summary_url"] == hub.service_url + "summary"

        # Five community members log in: first value is reached.
        for index in range(5):
            hub.login(f"member-{index}").close()
        status = hub.wait_for_status(lambda s: s["first_value"]["achieved"], timeout=60)
        reached_on = parse_iso(status["first_value"]["achieved_at"]).date().isoformat()

        reached = hooks.wait_for(
            lambda n: bool(alerts_in(n, "OnboardingFirstValueReached", "firing")),
            timeout=90,
            what="about first value",
        )
        assert reached["receiver"] == "account-management"
        (alert,) = alerts_in(reached, "OnboardingFirstValueReached", "firing")
        assert alert["labels"]["team"] == "account-management"
        assert alert["labels"]["namespace"] == NAMESPACE
        assert alert["annotations"]["first_value_date"] == reached_on
        assert alert["annotations"]["summary"] == (
            f"Hub {NAMESPACE}: first value reached on {reached_on}"
        )
        assert alert["annotations"]["page_url"] == hub.service_url

        # ... and the check-in alert resolves, to the same receiver.
        resolved = hooks.wait_for(
            lambda n: bool(alerts_in(n, "OnboardingCheckInDue", "resolved")),
            timeout=120,
            what="resolving the check-in",
        )
        assert resolved["receiver"] == "account-management"
        assert not prom.alerts("OnboardingCheckInDue")

        # Nothing of account management's went to engineering.
        for note in hooks.received():
            names = {a["labels"]["alertname"] for a in note["alerts"]}
            if note["receiver"] == "engineering":
                assert names <= {"OnboardingTrackerStale", "OnboardingMetricsAbsent"}, names
