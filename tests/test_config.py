"""Configuration: errors name the trait at start, aliases are real, the reference is in sync."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness.process import free_port
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
def test_bad_value_fails_at_start_naming_the_trait(tmp_path, argument, trait):
    result = run(argument, cwd=tmp_path)
    assert result.returncode != 0
    assert trait in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "jupyterhub_onboarding.sqlite").exists()  # nothing started


@pytest.mark.integration  # starts a process
def test_bad_value_in_config_file_fails_naming_the_trait(tmp_path):
    (tmp_path / "jupyterhub_onboarding_config.py").write_text(
        "c.Onboarding.fee_tiers = [[10, 10.0], [5, 5.0], [None, 0]]\n"
    )
    result = run(cwd=tmp_path)
    assert result.returncode != 0
    assert "Onboarding.fee_tiers" in result.stderr


@pytest.mark.integration  # starts a process
@pytest.mark.parametrize("value", ["[]", "['profile', '  ']"])
def test_usage_keys_must_be_non_empty_naming_the_trait(tmp_path, value):
    (tmp_path / "jupyterhub_onboarding_config.py").write_text(
        f"c.Onboarding.usage_profile_keys = {value}\n"
    )
    result = run(cwd=tmp_path)
    assert result.returncode != 0
    assert "Onboarding.usage_profile_keys" in result.stderr
    assert value.strip("[]").split(",")[0] in result.stderr


@pytest.mark.integration  # starts a process
def test_broken_config_file_is_an_error_not_ignored(tmp_path):
    (tmp_path / "jupyterhub_onboarding_config.py").write_text("c.Onboarding.poll_interval = (\n")
    result = run(cwd=tmp_path)
    assert result.returncode != 0
    assert "jupyterhub_onboarding_config.py" in result.stderr


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
    """Start the service with *config* as its config file, listening on a free port.

    A bad value must stop it at once; one that is accepted starts it, and it keeps running
    until *timeout*, which fails the test.
    """
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


@pytest.mark.integration  # starts a process
@pytest.mark.parametrize(
    ("config", "option", "value"),
    [
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
    ],
)
def test_bad_value_stops_the_service_with_one_line(tmp_path, config, option, value):
    result = run_with_config(tmp_path, config)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert option in lines[0] and value in lines[0], lines[0]
    assert not (tmp_path / "jupyterhub_onboarding.sqlite").exists()  # nothing started


@pytest.mark.integration  # starts a process
def test_a_good_configuration_starts_the_service(tmp_path):
    """The check above is real: with good values the same command starts and keeps running."""
    with pytest.raises(pytest.fail.Exception, match="the service started"):
        run_with_config(tmp_path, 'c.Onboarding.live_since = "2026-11-02"', timeout=5)
    assert (tmp_path / "jupyterhub_onboarding.sqlite").exists()


@pytest.mark.integration  # starts a process
def test_an_empty_token_stops_the_service_with_one_line(tmp_path):
    (tmp_path / "jupyterhub_onboarding_config.py").write_text("c.Onboarding.api_token = ''\n")
    result = run(cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if "Onboarding.api_token is empty" in line
    ]


@pytest.mark.integration  # starts a process
def test_a_database_password_is_not_shown_in_the_error(tmp_path):
    result = run_with_config(
        tmp_path, 'c.Onboarding.db_url = "postgresql+nosuchdriver://onboarding:s3cr3t-pw@db/x"'
    )
    assert result.returncode != 0
    assert "Onboarding.db_url" in result.stderr
    assert "s3cr3t-pw" not in result.stderr
