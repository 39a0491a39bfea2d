"""Configuration: errors name the trait at start, aliases are real, the reference is in sync."""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from harness.process import ProcessExited, free_port, wait_until
from traitlets import TraitError
from traitlets.config import Application, Config

from jupyterhub_onboarding.app import Onboarding
from jupyterhub_onboarding.collector.app import CollectApp
from jupyterhub_onboarding.configdoc import reference
from jupyterhub_onboarding.settings import OnboardingEmail, StandardLinks

ROOT = Path(__file__).parent.parent


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyterhub_onboarding", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Refused:
    """What a service started with a refused setting serves: the one line, everywhere."""

    def __init__(self, health: httpx.Response, base: str, log: str) -> None:
        self.health = health
        self.status = httpx.get(f"{base}api/v1/status", timeout=10)
        self.page = httpx.get(base, timeout=10)
        self.metrics = httpx.get(f"{base}metrics", timeout=10)
        self.log = log

    @property
    def log_lines(self) -> list[str]:
        return [line for line in self.log.splitlines() if line.strip()]


def serve_refused(tmp_path: Path, *args: str, config: str | None = None) -> Refused:
    """Start the service (*args* on its command line, *config* as its config file) where the
    hub would, and read what it serves once it answers; then stop it.

    Fails when the service exits instead (which stops a hub) or starts as configured.
    """
    port = free_port()
    if config is not None:
        (tmp_path / "jupyterhub_onboarding_config.py").write_text(config + "\n")
    env = {
        **os.environ,
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_API_TOKEN": "test-token",
    }
    base = f"http://127.0.0.1:{port}/services/onboarding/"
    log_path = tmp_path / "service.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub_onboarding", *args],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def answered() -> httpx.Response | None:
        if proc.poll() is not None:
            raise ProcessExited(f"the service exited: {log_path.read_text()}")
        return httpx.get(f"{base}health", timeout=2)

    try:
        health = wait_until(answered, 60, "the service to answer")
        refused = Refused(health, base, "")
        assert proc.poll() is None, "the service must keep running"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    refused.log = log_path.read_text()
    assert health.status_code == 503, f"started as configured: {health.text}\n{refused.log}"
    return refused


def assert_serves_the_line(refused: Refused, option: str, value: str = "") -> str:
    """One log line naming *option* and *value*; health, status API, page and metrics say it."""
    lines = [line for line in refused.log_lines if "Shutting down" not in line]
    lines = [line for line in lines if "listening on" not in line]
    assert len(lines) == 1, refused.log
    line = lines[0]
    assert option in line and value in line, line
    assert "Traceback" not in refused.log
    assert refused.health.json()["status"] == "not configured"
    error = refused.health.json()["error"]
    assert option in error and value in error and error in line
    assert refused.status.status_code == 503
    assert refused.status.headers["content-type"].startswith("application/json")
    assert refused.status.json()["message"] == f"not configured: {error}"
    # 200: the hub checks a service it starts at its prefix, and stops on a 5xx there
    assert refused.page.status_code == 200
    assert html.escape(error) in refused.page.text
    assert "jupyterhub_onboarding_config_error 1.0" in refused.metrics.text
    return error


@pytest.mark.integration  # starts a process
@pytest.mark.parametrize(
    ("argument", "trait"),
    [
        ("--Onboarding.first_value_threshold=0", "Onboarding.first_value_threshold"),
        ("--Onboarding.first_value_basis=visits", "first_value_basis"),
        ("--Onboarding.poll_interval=-5", "Onboarding.poll_interval"),
        ("--Onboarding.excluded_user_pattern=(unclosed", "Onboarding.excluded_user_pattern"),
        ("--Onboarding.live_since=next tuesday", "Onboarding.live_since"),
        ("--Onboarding.db_url=mysql://db/x", "Onboarding.db_url"),
        ("--StandardLinks.grafana_usage_url=javascript:alert(1)", "grafana_usage_url"),
        ("--StandardLinks.support_email=not an email", "StandardLinks.support_email"),
        ("--OnboardingEmail.customer_name=" + "x" * 201, "OnboardingEmail.customer_name"),
        ("--Onboarding.max_usage_labels=0", "Onboarding.max_usage_labels"),
    ],
)
def test_bad_value_is_served_as_not_configured_naming_the_trait(tmp_path, argument, trait):
    refused = serve_refused(tmp_path, argument)
    assert_serves_the_line(refused, trait)
    assert not (tmp_path / "jupyterhub_onboarding.sqlite").exists()  # nothing started


@pytest.mark.integration  # starts a process
def test_bad_value_in_config_file_is_served_naming_the_trait(tmp_path):
    refused = serve_refused(
        tmp_path, config="c.Onboarding.fee_tiers = [[10, 10.0], [5, 5.0], [None, 0]]"
    )
    assert_serves_the_line(refused, "Onboarding.fee_tiers")


@pytest.mark.integration  # starts a process
@pytest.mark.parametrize("value", ["[]", "['profile', '  ']"])
def test_usage_keys_must_be_non_empty_naming_the_trait(tmp_path, value):
    refused = serve_refused(tmp_path, config=f"c.Onboarding.usage_profile_keys = {value}")
    assert_serves_the_line(
        refused, "Onboarding.usage_profile_keys", value.strip("[]").split(",")[0]
    )


@pytest.mark.integration  # starts a process
def test_broken_config_file_is_an_error_not_ignored(tmp_path):
    refused = serve_refused(tmp_path, config="c.Onboarding.poll_interval = (")
    assert_serves_the_line(refused, "jupyterhub_onboarding_config.py", "SyntaxError")


@pytest.mark.integration  # starts a process
def test_the_collect_command_still_exits_on_a_bad_value(tmp_path):
    """Only the service keeps serving: a command run by hand fails and says why."""
    result = run("collect", "--CollectApp.timeout=-1", cwd=tmp_path)
    assert result.returncode != 0
    assert "CollectApp.timeout" in result.stderr


@pytest.mark.integration  # starts a process
def test_generate_config_writes_every_option(tmp_path):
    result = run("--generate-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "jupyterhub_onboarding_config.py").read_text()
    for name in ("db_url", "first_value_threshold", "excluded_user_pattern", "live_since"):
        assert f"c.Onboarding.{name}" in text
    assert "c.StandardLinks.support_email" in text
    again = run("--generate-config", cwd=tmp_path)
    assert again.returncode != 0  # never overwrites


@pytest.mark.integration  # starts a process
def test_help_all_lists_options(tmp_path):
    result = run("--help-all", cwd=tmp_path)
    assert result.returncode == 0
    assert "--Onboarding.first_value_threshold" in result.stdout
    assert "--StandardLinks.tier" in result.stdout


@pytest.mark.parametrize("app_class", [Onboarding, CollectApp])
def test_every_alias_points_at_a_real_trait(app_class):
    for alias, target in app_class.aliases.items():
        target = target[0] if isinstance(target, tuple) else target
        class_name, _, trait = target.rpartition(".")
        owners = {cls.__name__: cls for cls in app_class().classes}
        owners.update({"Application": Application})
        assert class_name in owners, f"--{alias} names unknown class {class_name}"
        assert trait in owners[class_name].class_trait_names(config=True), f"--{alias}"


@pytest.mark.parametrize("app_class", [Onboarding, StandardLinks, OnboardingEmail, CollectApp])
def test_every_option_has_help(app_class):
    for name, trait in app_class.class_traits(config=True).items():
        assert (trait.help or "").strip(), f"{app_class.__name__}.{name} has no help text"


def test_environment_of_a_managed_service(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "t0k3n")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/custom-name/")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:12345")
    monkeypatch.delenv("JUPYTERHUB_PUBLIC_URL", raising=False)
    app = Onboarding()
    assert app.api_token == "t0k3n"
    assert app.service_prefix == "/services/custom-name/"
    assert app.service_url == "http://127.0.0.1:12345"
    assert app.public_url == ""


def test_defaults_match_the_definitions():
    app = Onboarding()
    assert app.first_value_threshold == 5
    assert app.first_value_basis == "login"
    assert app.count_admins is True
    assert app.check_in_days == 14
    assert app.db_url == "sqlite:///jupyterhub_onboarding.sqlite"
    rules = app.counting_rules()
    assert not rules.is_counted("deployment-service-check", False)


def test_invalid_assignment_names_trait():
    with pytest.raises(TraitError, match=r"Onboarding\.check_in_days"):
        Onboarding(check_in_days=0)


def test_configuration_reference_is_in_sync():
    expected = reference([Onboarding, StandardLinks, OnboardingEmail, CollectApp])
    current = (ROOT / "docs" / "configuration.md").read_text()
    assert current == expected, (
        "docs/configuration.md is out of date: "
        "python -m jupyterhub_onboarding.configdoc > docs/configuration.md"
    )


@pytest.mark.integration  # starts a process
@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_library_warnings_reach_the_service_log_but_not_their_info_lines(tmp_path, level, shown):
    script = f"""
import logging
from jupyterhub_onboarding.app import Onboarding
app = Onboarding(log_level={level!r})
app.route_library_logs()
logging.getLogger("tornado.application").info("Logged-in user someone-private")
logging.getLogger("jupyterhub.services.auth").warning("Token rejected by the hub")
logging.getLogger("tornado.general").error("Malformed HTTP message")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stderr.splitlines()
    assert any(
        line.startswith("[W ") and "jupyterhub.services.auth] Token rejected" in line
        for line in lines
    ), lines
    assert any(line.startswith("[E ") and "Malformed HTTP message" in line for line in lines)
    assert ("someone-private" in result.stderr) is shown


def test_hub_oauth_settings_from_the_config_file_apply(tmp_path):
    """HubOAuth is built with the application as its parent, so c.HubOAuth.* takes effect;
    the login cache keeps its one-minute default otherwise."""
    from jupyterhub_onboarding.service.wiring import OnboardingService

    configured = Onboarding(api_token="test-token")
    configured.update_config(Config({"HubOAuth": {"cache_max_age": 5}}))
    assert OnboardingService._hub_auth(configured).cache_max_age == 5
    assert OnboardingService._hub_auth(Onboarding(api_token="test-token")).cache_max_age == 60


def run_with_config(
    tmp_path: Path, config: str, timeout: float = 30
) -> subprocess.CompletedProcess:
    """Start the service with *config* as its config file, listening on a free port; a good
    configuration keeps it running until *timeout*, which fails the test."""
    port = free_port()
    (tmp_path / "jupyterhub_onboarding_config.py").write_text(
        f"c.Onboarding.service_url = 'http://127.0.0.1:{port}'\n"
        "c.Onboarding.api_token = 'test-token'\n"
        f"{config}\n"
    )
    try:
        return subprocess.run(
            [sys.executable, "-m", "jupyterhub_onboarding"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        log = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else ""
        pytest.fail(f"the service started with this configuration:\n{config}\n{log}")


#: Every refused value of a config file: the option it names and the value, as the line says.
#: (tests/service/test_hub_stays_up.py starts a real hub with each of them.)
REFUSED_CONFIGS = [
    ('c.Onboarding.live_since = "9999-12-31"', "Onboarding.live_since", "9999-12-31"),
    (
        'c.Onboarding.live_since = "9999-12-25"\nc.Onboarding.check_in_days = 14',
        "Onboarding.live_since",
        "9999-12-25",
    ),
    ("c.Onboarding.check_in_days = 10**9", "Onboarding.check_in_days", "1000000000"),
    (
        "c.Onboarding.generating_value_days = 10**9",
        "Onboarding.generating_value_days",
        "1000000000",
    ),
    (
        "c.Onboarding.first_value_threshold = 10**30",
        "Onboarding.first_value_threshold",
        "1" + "0" * 30,
    ),
    (
        "c.Onboarding.fee_tiers = [[10, float('nan')], [None, 0.0]]",
        "Onboarding.fee_tiers",
        "nan",
    ),
    (
        "c.Onboarding.fee_tiers = [[10, 10.0], [None, float('inf')]]",
        "Onboarding.fee_tiers",
        "inf",
    ),
    ("c.Onboarding.poll_interval = float('inf')", "Onboarding.poll_interval", "inf"),
    ("c.Onboarding.stale_after = float('nan')", "Onboarding.stale_after", "nan"),
    ("c.Onboarding.hub_request_timeout = 1e300", "Onboarding.hub_request_timeout", "1e+300"),
    ("c.Onboarding.activity_overlap = float('inf')", "Onboarding.activity_overlap", "inf"),
    ('c.Onboarding.db_url = "sqlite://garbage:host"', "Onboarding.db_url", "garbage:host"),
    (
        'c.Onboarding.db_url = "sqlite:///no-such-directory/onboarding.sqlite"',
        "Onboarding.db_url",
        "no-such-directory",
    ),
    (
        'c.Onboarding.db_url = "postgresql+nosuchdriver://onboarding@db/onboarding"',
        "Onboarding.db_url",
        "nosuchdriver",
    ),
    (
        'c.Onboarding.db_url = "postgresql+pg8000://onboarding@db/onboarding"',
        "Onboarding.db_url",
        "pg8000",
    ),
    (
        'c.Onboarding.hub_api_url = "javascript:alert(1)"',
        "Onboarding.hub_api_url",
        "javascript",
    ),
    (
        'c.Onboarding.hub_api_url = "http:///hub/api"',
        "Onboarding.hub_api_url",
        "http:///hub/api",
    ),
]


@pytest.mark.integration  # starts a process
@pytest.mark.parametrize(("config", "option", "value"), REFUSED_CONFIGS)
def test_bad_value_is_served_as_one_line_not_an_exit(tmp_path, config, option, value):
    """A refused setting never stops the service (which would stop the hub): it logs one
    line naming the option and the value and serves only that line; nothing is written."""
    refused = serve_refused(tmp_path, config=config)
    assert_serves_the_line(refused, option, value)
    assert not (tmp_path / "jupyterhub_onboarding.sqlite").exists()  # nothing started


@pytest.mark.integration  # starts a process
def test_a_good_configuration_starts_the_service(tmp_path):
    """The check above is real: with good values the same command starts and keeps running."""
    with pytest.raises(pytest.fail.Exception, match="the service started"):
        run_with_config(tmp_path, 'c.Onboarding.live_since = "2026-11-02"', timeout=5)
    assert (tmp_path / "jupyterhub_onboarding.sqlite").exists()


@pytest.mark.integration  # starts a process
def test_an_empty_token_is_served_as_not_configured(tmp_path):
    refused = serve_refused(tmp_path, config="c.Onboarding.api_token = ''")
    assert_serves_the_line(refused, "Onboarding.api_token is empty")


@pytest.mark.integration  # starts a process
def test_a_database_password_is_not_shown_in_the_error(tmp_path):
    refused = serve_refused(
        tmp_path,
        config='c.Onboarding.db_url = "postgresql+nosuchdriver://onboarding:s3cr3t-pw@db/x"',
    )
    assert_serves_the_line(refused, "Onboarding.db_url")
    for text in (refused.log, refused.health.text, refused.status.text, refused.page.text):
        assert "s3cr3t-pw" not in text


@pytest.mark.parametrize("app_class", [Onboarding, CollectApp])
def test_help_examples_are_indented_alike(app_class, capsys):
    """``--help`` prints the examples as one block: every line at the same indentation."""
    app_class().print_examples()
    lines = [line for line in capsys.readouterr().out.splitlines() if "jupyterhub" in line]
    assert len(lines) >= 3
    assert {len(line) - len(line.lstrip()) for line in lines} == {4}, lines


@pytest.mark.parametrize("value", ["http://:abc", "http://127.0.0.1:99999999999", "ftp://:10101"])
def test_a_bind_url_without_a_usable_port_is_refused_naming_the_trait(value):
    with pytest.raises(TraitError, match=r"Onboarding\.bind_url"):
        Onboarding(bind_url=value)
