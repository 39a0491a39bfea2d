"""The collector's configuration: its traits and aliases, the hubs file, tokens, the config
file and store URLs, read in process (no subprocess, no server)."""

from __future__ import annotations

import pytest
import yaml
from harness.collector import (
    SECRET,
    STATUS_PATH,
)

from jupyterhub_onboarding.collector.app import CollectApp, PollSettings
from jupyterhub_onboarding.collector.hubsfile import (
    HubEntry,
    HubsFileError,
    TokenError,
    hubs_warnings,
    load_hubs,
    read_token,
)
from jupyterhub_onboarding.collector.store import (
    display_url,
    store_url,
)


def test_every_alias_points_at_a_configurable_trait():
    classes = {cls.__name__: cls for cls in CollectApp.__mro__}
    for alias, target in CollectApp.aliases.items():
        class_name, trait_name = target.split(".")
        assert class_name in classes, alias
        trait = classes[class_name].class_traits(config=True).get(trait_name)
        assert trait is not None, f"--{alias} -> {target} is not a configurable trait"
        assert trait.help, f"{target} has no help"
    assert {"hubs", "format", "output", "month", "concurrency", "timeout", "retries"} <= set(
        CollectApp.aliases
    )
    assert "store" in CollectApp.aliases


def test_every_trait_is_configurable_with_help():
    for name, trait in CollectApp.class_own_traits().items():
        if name.startswith("_"):
            continue
        assert trait.metadata.get("config"), name
        assert trait.help.strip(), name


def test_hubs_file_forms(tmp_path):
    (tmp_path / "tokens").mkdir()
    hubs_file = tmp_path / "hubs.yaml"
    hubs_file.write_text(
        """
- name: alpha
  hub_url: https://alpha.example.org/
  token_env: ALPHA_TOKEN
- name: beta
  status_url: https://beta.example.org/services/onboarding/api/v1/status
  token_file: tokens/beta
  verify_tls: false
- name: gamma
  hub_url: https://gamma.example.org/prefix
  service_name: onboard
  token_env: GAMMA_TOKEN
- name: delta
  status_url: https://delta.example.org/custom/status
  token_env: DELTA_TOKEN
"""
    )
    alpha, beta, gamma, delta = load_hubs(hubs_file)
    assert alpha == HubEntry(
        name="alpha",
        status_url=f"https://alpha.example.org/{STATUS_PATH}",
        url="https://alpha.example.org",
        token_env="ALPHA_TOKEN",
    )
    assert beta.url == "https://beta.example.org"
    assert beta.token_file == tmp_path / "tokens" / "beta"
    assert beta.verify_tls is False and alpha.verify_tls is True
    assert gamma.status_url == "https://gamma.example.org/prefix/services/onboard/api/v1/status"
    assert delta.url == delta.status_url == "https://delta.example.org/custom/status"
    # A mapping with a "hubs" list is the same.
    wrapped = tmp_path / "wrapped.yaml"
    wrapped.write_text(yaml.safe_dump({"hubs": yaml.safe_load(hubs_file.read_text())}))
    assert load_hubs(wrapped) == [alpha, beta, gamma, delta]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"- name: alpha\n  hub_url: https://a.example.org\n  token: {SECRET}\n",
            "hub 'alpha': an inline 'token' is refused",
        ),
        (
            "- name: alpha\n  hub_url: https://a.example.org\n  token_env: T\n  tokn: x\n",
            "hub 'alpha': unknown key(s) tokn",
        ),
        ("- hub_url: https://a.example.org\n  token_env: T\n", "hub #1: 'name' is required"),
        (
            "- name: a\n  hub_url: https://a.example.org\n  status_url: https://a.example.org/s\n"
            "  token_env: T\n",
            "exactly one of 'hub_url' and 'status_url'",
        ),
        ("- name: a\n  hub_url: https://a.example.org\n", "exactly one of 'token_env'"),
        ("- name: a\n  hub_url: ftp://a.example.org\n  token_env: T\n", "http(s) URL"),
        (
            f"- name: a\n  hub_url: https://me:{SECRET}@a.example.org\n  token_env: T\n",
            "must not carry credentials",
        ),
        (
            "- name: a\n  hub_url: https://a.example.org\n  token_env: T\n  verify_tls: maybe\n",
            "verify_tls must be true or false",
        ),
        (
            "- {name: a, hub_url: 'https://a.example.org', token_env: T}\n"
            "- {name: a, hub_url: 'https://b.example.org', token_env: U}\n",
            "hub 'a' appears twice",
        ),
        ("[]\n", "non-empty list of hubs"),
        ("hubs: 3\nextra: 1\n", "unknown top-level key(s) extra"),
        (f"- name: a\n  token: [{SECRET}\n", "hubs.yaml:3:1: not valid YAML"),
    ],
)
def test_hubs_file_errors_are_clear_and_never_quote_a_token(tmp_path, text, expected):
    hubs_file = tmp_path / "hubs.yaml"
    hubs_file.write_text(text)
    with pytest.raises(HubsFileError) as raised:
        load_hubs(hubs_file)
    message = str(raised.value)
    assert expected in message
    assert message.startswith(str(hubs_file))
    assert SECRET not in message


def test_risky_settings_are_warned_about(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("abc")
    token_file.chmod(0o644)
    hubs = [
        HubEntry(name="plain", status_url="http://hub.example.org/s", url="u", token_env="T"),
        HubEntry(name="local", status_url="http://127.0.0.1:8000/s", url="u", token_env="T"),
        HubEntry(
            name="lax", status_url="https://h.example.org/s", url="u", token_env="T",
            verify_tls=False,
        ),
        HubEntry(
            name="shared", status_url="https://h.example.org/s", url="u", token_file=token_file
        ),
    ]  # fmt: skip
    warnings = hubs_warnings(hubs)
    assert warnings == [
        "hub 'plain': plain http, its token travels unencrypted",
        "hub 'lax': TLS verification is off (verify_tls: false)",
        f"hub 'shared': token file {token_file} is readable by others (chmod 600 it)",
    ]
    token_file.chmod(0o600)
    assert hubs_warnings(hubs[3:]) == []


def test_tokens_come_from_the_environment_or_a_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("abc123\n")
    from_file = HubEntry(name="f", status_url="u", url="u", token_file=token_file)
    from_env = HubEntry(name="e", status_url="u", url="u", token_env="HUB_TOKEN")
    assert read_token(from_file, {}) == "abc123"
    assert read_token(from_env, {"HUB_TOKEN": "xyz"}) == "xyz"
    with pytest.raises(TokenError, match="token variable HUB_TOKEN is not set"):
        read_token(from_env, {})
    token_file.write_text("")
    with pytest.raises(TokenError, match="does not hold one token"):
        read_token(from_file, {})
    missing = HubEntry(name="m", status_url="u", url="u", token_file=tmp_path / "nope")
    with pytest.raises(TokenError, match="cannot read token file"):
        read_token(missing, {})


def test_config_file_sets_traits_and_the_command_line_wins(tmp_path):
    config = tmp_path / "collect_config.py"
    config.write_text(
        "c.CollectApp.timeout = 3.5\nc.CollectApp.report_format = 'json'\n"
        "c.CollectApp.fee_tiers = [[None, 1.0]]\n"
    )
    app = CollectApp()
    app.initialize(["--config", str(config), "--format", "csv"])
    assert app.timeout == 3.5
    assert app.report_format == "csv"
    assert app.fee_tiers == [[None, 1.0]]
    assert app.poll_settings() == PollSettings(timeout=3.5, retries=2, backoff=0.5, concurrency=8)


def test_a_broken_config_file_is_a_usage_error(tmp_path):
    config = tmp_path / "collect_config.py"
    config.write_text("c.CollectApp.fee_tiers = [[10, 1.0]]\n")
    with pytest.raises(SystemExit) as raised:
        CollectApp().initialize(["--config", str(config)])
    assert raised.value.code == 2


def test_store_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store_url("runs.sqlite") == f"sqlite:///{tmp_path / 'runs.sqlite'}"
    assert store_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"
    assert store_url("postgresql://u:p@db/h") == "postgresql+psycopg://u:p@db/h"
    assert display_url("postgresql+psycopg://u:p@db/h") == "postgresql+psycopg://u:***@db/h"
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        store_url("mysql://db/x")
