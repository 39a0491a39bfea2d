"""The settings of the check-in sources (Prometheus, storage, cost): values and combinations."""

from __future__ import annotations

import re

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jupyterhub_onboarding.app import Onboarding
from jupyterhub_onboarding.core.homedirs import DirectoryNaming


def app(**options) -> Onboarding:
    return Onboarding(config=Config({"Onboarding": options}))


def test_defaults_read_nothing():
    onboarding = Onboarding()
    assert onboarding.prometheus_url == ""
    assert not onboarding.storage_enabled
    assert onboarding.cost_source == "none"
    assert onboarding.home_storage_query == "dirsize_total_size_bytes"
    assert onboarding.home_directory_label == "directory"
    assert onboarding.storage_interval == 3600
    assert onboarding.directory_naming() == DirectoryNaming("username", None)
    onboarding.check_source_settings()


def test_a_prometheus_url_turns_storage_on():
    onboarding = app(prometheus_url="http://prometheus.support.svc:9090/")
    assert onboarding.prometheus_url == "http://prometheus.support.svc:9090"
    assert onboarding.storage_enabled
    assert not app(prometheus_url="http://p", home_storage_query=" ").storage_enabled


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("prometheus_url", "prometheus:9090", "must be an http(s) URL"),
        ("prometheus_url", "http://p/?token=secret", "must be an http(s) URL"),
        ("cost_url", "ftp://cost", "must be an http(s) URL"),
        ("prometheus_timeout", 0.0, "must be a number of seconds > 0"),
        ("prometheus_timeout", 7200.0, "at most 3,600"),
        ("storage_interval", float("nan"), "must be a number of seconds"),
        ("cost_currency", "dollars", "three-letter currency code"),
        ("cost_group_label", "group-name", "Prometheus label name"),
        ("home_directory_label", "", "Prometheus label name"),
        ("home_directory_names", "slug", "home_directory_names"),
        ("home_directory_pattern", "home-(.+)", "group named 'username'"),
        ("home_directory_pattern", "(", "not a valid regular expression"),
        ("cost_query", "sum(node_total_hourly_cost)", r"must hold $__range"),
    ],
)
def test_bad_values_are_refused_naming_the_option(option, value, message):
    onboarding = Onboarding()
    with pytest.raises(TraitError) as raised:
        setattr(onboarding, option, value)
    assert f"Onboarding.{option}" in str(raised.value) or option in str(raised.value)
    assert message in str(raised.value)


def test_a_refused_url_does_not_show_its_credentials():
    with pytest.raises(TraitError) as raised:
        Onboarding().prometheus_url = "http://user:hunter2@p/?x=1"
    assert "hunter2" not in str(raised.value)


def test_the_currency_is_upper_cased():
    assert app(cost_currency=" eur ").cost_currency == "EUR"


@pytest.mark.parametrize(
    ("options", "names"),
    [
        (
            {"prometheus_url": "http://p", "cost_query": "x[$__range]", "cost_url": "http://c"},
            ("Onboarding.cost_query", "Onboarding.cost_url"),
        ),
        (
            {"cost_query": "sum(x[$__range])"},
            ("Onboarding.cost_query", "Onboarding.prometheus_url"),
        ),
        (
            {"cost_url": "http://c", "cost_group_label": "namespace"},
            ("Onboarding.cost_group_label", "Onboarding.cost_query"),
        ),
        (
            {"cost_bearer_token_file": "/run/token"},
            ("Onboarding.cost_bearer_token_file", "Onboarding.cost_url"),
        ),
    ],
)
def test_combinations_that_cannot_work_are_refused_naming_both(options, names):
    onboarding = app(**options)
    with pytest.raises(TraitError) as raised:
        onboarding.check_source_settings()
    for name in names:
        assert name in str(raised.value)


def test_initialize_checks_the_combinations(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jupyterhub_onboarding_config.py").write_text(
        "c.Onboarding.cost_query = 'sum(x[$__range])'\n"
        "c.Onboarding.cost_url = 'http://cost.example.org/monthly'\n"
    )
    onboarding = Onboarding()
    # the refusal is one log line, and the line the service then serves (never an exit)
    onboarding.initialize([])
    logged = capsys.readouterr().err
    assert "Onboarding.cost_query and Onboarding.cost_url are both set" in logged
    assert "Onboarding.cost_query and Onboarding.cost_url" in onboarding.config_error


def test_the_cost_source_and_the_naming_follow_the_settings():
    onboarding = app(prometheus_url="http://p", cost_query="sum(x[$__range])")
    assert onboarding.cost_source == "prometheus"
    assert app(cost_url="http://c").cost_source == "url"
    naming = app(home_directory_names="safe", home_directory_pattern=r"(?!_)(?P<username>.+)")
    assert naming.directory_naming() == DirectoryNaming(
        "safe", re.compile(r"(?!_)(?P<username>.+)")
    )
