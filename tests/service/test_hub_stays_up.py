"""A real hub keeps running whatever its onboarding service meets at start (#20).

JupyterHub stops itself when a managed service exits at start. One real hub with the real
proxy runs the onboarding service as usual and, beside it, one managed service of the same
program for each refused setting of the configuration tests: the hub must answer, and each
of those services must serve the page, health, status API and metrics naming its setting.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

import httpx
import pytest
from harness.hub import HubProcess
from harness.process import free_port, wait_until
from harness.servicelog import service_lines
from test_config import REFUSED_CONFIGS

pytestmark = pytest.mark.integration

#: The refused values of the other configuration tests, as config files: the option named and
#: a part of the value (the command-line ones of test_config.py written as config lines).
MORE_REFUSED = [
    ("c.Onboarding.fee_tiers = [[10, 10.0], [5, 5.0], [None, 0]]", "Onboarding.fee_tiers", ""),
    ("c.Onboarding.usage_profile_keys = []", "Onboarding.usage_profile_keys", "[]"),
    ("c.Onboarding.usage_profile_keys = ['profile', '  ']", "usage_profile_keys", "'profile'"),
    ("c.Onboarding.poll_interval = (", "jupyterhub_onboarding_config.py", "SyntaxError"),
    ("c.Onboarding.api_token = ''", "Onboarding.api_token is empty", ""),
    ("c.Onboarding.first_value_threshold = 0", "Onboarding.first_value_threshold", "0"),
    ("c.Onboarding.first_value_basis = 'visits'", "first_value_basis", "visits"),
    ("c.Onboarding.excluded_user_pattern = '(unclosed'", "excluded_user_pattern", ""),
    ("c.Onboarding.db_url = 'mysql://db/x'", "Onboarding.db_url", "mysql"),
    (
        "c.StandardLinks.grafana_usage_url = 'javascript:alert(1)'",
        "grafana_usage_url",
        "javascript",
    ),
    ("c.StandardLinks.support_email = 'not an email'", "StandardLinks.support_email", ""),
    ("c.OnboardingEmail.customer_name = 'x' * 201", "OnboardingEmail.customer_name", ""),
    ("c.Onboarding.max_usage_labels = 0", "Onboarding.max_usage_labels", "0"),
]
REFUSED = [*REFUSED_CONFIGS, *MORE_REFUSED]


def refused_services(workdir: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """The hub configuration adding one managed service per refused setting, each in a
    directory of *workdir*; and their names, options and values."""
    entries, expected = [], []
    for number, (config, option, value) in enumerate(REFUSED):
        name = f"refused-{number}"
        service_dir = workdir / name
        service_dir.mkdir(parents=True, exist_ok=True)
        (service_dir / "jupyterhub_onboarding_config.py").write_text(config + "\n")
        entries.append(
            {
                "name": name,
                "url": f"http://127.0.0.1:{free_port()}",
                "command": [sys.executable, "-m", "jupyterhub_onboarding"],
                "cwd": str(service_dir),
                "environment": {"PYTHONUNBUFFERED": "1"},
            }
        )
        expected.append((name, option, value))
    return f"c.JupyterHub.services.extend({entries!r})\n", expected


@pytest.fixture(scope="module")
def refused_hub(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("refused")
    hub_config, expected = refused_services(workdir)
    hub = HubProcess(workdir, hub_config=hub_config)
    hub.start(timeout=300)
    try:
        # the hub answers before it has routed every one of its services through the proxy
        # (a busy machine showed a 404 for one of them): wait until each is routed
        for name, _option, _value in expected:
            wait_until(
                lambda name=name: (
                    httpx.get(f"{hub.url}/services/{name}/health", timeout=10).status_code != 404
                ),
                120,
                f"the proxy to route /services/{name}/",
                0.2,
            )
        yield hub, expected
    finally:
        hub.stop()


def test_the_hub_answers_beside_services_with_refused_settings(refused_hub):
    hub, expected = refused_hub
    assert httpx.get(f"{hub.url}/hub/api/", timeout=10).status_code == 200
    # the hub still serves its users, and the well-configured service its figures
    hub.login("ana")
    hub.wait_for_status(lambda s: s["first_value"]["users_logged_in"] >= 1)
    log = hub.log_path.read_text(errors="replace")
    for name, _, _ in expected:
        assert f"Starting managed service {name} " in log
    assert "exited with status" not in log
    assert "Traceback" not in "\n".join(service_lines(hub.log_path))


@pytest.mark.parametrize("index", range(len(REFUSED)))
def test_each_refused_setting_is_named_on_the_page_health_api_and_metrics(refused_hub, index):
    hub, expected = refused_hub
    name, option, value = expected[index]
    base = f"{hub.url}/services/{name}/"
    page = httpx.get(base, timeout=10)
    assert page.status_code == 200
    assert option in page.text and html.escape(value) in page.text, page.text
    health = httpx.get(f"{base}health", timeout=10)
    assert health.status_code == 503
    error = health.json()["error"]
    assert health.json()["status"] == "not configured"
    assert option in error and value in error
    status = httpx.get(f"{base}api/v1/status", timeout=10)
    assert status.status_code == 503
    assert status.json() == {"status": 503, "message": f"not configured: {error}"}
    metrics = httpx.get(f"{base}metrics", timeout=10)
    assert "jupyterhub_onboarding_config_error 1.0" in metrics.text
    # the line is in the hub's log once, as the service logged it
    assert hub.log_path.read_text(errors="replace").count(error) == 1


def test_the_service_running_as_configured_reports_no_config_error(refused_hub):
    hub, _ = refused_hub
    metrics = httpx.get(
        f"{hub.service_url}metrics",
        headers={"Authorization": f"token {hub.status_token}"},
        timeout=10,
    )
    assert metrics.status_code == 200
    assert "jupyterhub_onboarding_config_error 0.0" in metrics.text
