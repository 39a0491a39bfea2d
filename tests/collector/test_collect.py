"""The collector against stand-in endpoints on loopback, real hubs, a browser and databases."""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import CHROMIUM, CHROMIUM_ARGS, require_binary
from sqlalchemy import create_engine, func, select

from jupyterhub_onboarding.collector.app import CollectApp, PollSettings, poll_hubs
from jupyterhub_onboarding.collector.hubsfile import (
    HubEntry,
    HubsFileError,
    TokenError,
    hubs_warnings,
    load_hubs,
    read_token,
)
from jupyterhub_onboarding.collector.rows import COLUMNS, build_row
from jupyterhub_onboarding.collector.store import (
    collect_hub_rows,
    collect_runs,
    display_url,
    store_url,
)
from jupyterhub_onboarding.core import fees
from jupyterhub_onboarding.core.clock import utcnow
from tests.collect_fixtures import (
    REPO,
    STATUS_PATH,
    make_event,
    make_status,
    months_back,
    new_token,
    postgres_url_fixture,  # noqa: F401 - the postgres_url fixture
    run_cli,
    stand_in_fixture,  # noqa: F401 - the stand_in fixture
    tls_files_fixture,  # noqa: F401 - the tls_files fixture
    tls_stand_in_fixture,  # noqa: F401 - the tls_stand_in fixture
    unsafe_in,
    write_hubs,
)

HOSTILE = "<img src=x onerror=alert(1)>"
SUMMARY = re.compile(r"(\d+) hubs, (\d+) answered, (\d+) failed, month (\S+), ([\d.]+) s")


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def good_status(now=None, **overrides):
    now = now or utcnow()
    figures = dict(
        now=now,
        live_days_ago=60,
        logged_in=12,
        started_server=8,
        months={months_back(now, 1): (280, 120), months_back(now, 0): (15, 9)},
        rolling_30d=20,
    )
    figures.update(overrides)
    return make_status(**figures)


def behind_status(now=None):
    now = now or utcnow()
    return make_status(
        now=now,
        live_days_ago=20,
        logged_in=2,
        started_server=0,
        months={months_back(now, 0): (2, 0)},
        rolling_30d=2,
    )


def csv_rows(text: str) -> dict[str, dict[str, str]]:
    records = list(csv.DictReader(io.StringIO(text)))
    assert records and list(records[0]) == list(COLUMNS)
    by_hub = {record["hub"]: record for record in records}
    assert len(by_hub) == len(records), "one row per hub"
    return by_hub


# --- configuration --------------------------------------------------------------------------


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


SECRET = "s3cr3t-value-never-shown"


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


# --- polling in process ---------------------------------------------------------------------


def entry(stand_in, kind: str, name: str, **extra) -> HubEntry:
    url = stand_in.hub_url(kind, name)
    return HubEntry(
        name=name, status_url=f"{url}/{STATUS_PATH}", url=url, token_env=f"TOKEN_{name}", **extra
    )


async def test_every_hub_gets_a_row_within_the_timeout_budget(stand_in):
    settings = PollSettings(timeout=0.5, retries=1, backoff=0.2, concurrency=4)
    environ = {}
    for name in ("alpha", "beta"):
        environ[f"TOKEN_{name}"] = stand_in.tokens[name] = new_token()
    stand_in.documents["alpha"] = good_status()
    stand_in.documents["beta"] = behind_status()
    port = closed_port()
    hubs = [
        entry(stand_in, "ok", "alpha"),
        entry(stand_in, "ok", "beta"),
        entry(stand_in, "error500", "e500"),
        entry(stand_in, "unauthorized", "e401"),
        entry(stand_in, "garbage", "garbage"),
        entry(stand_in, "shape", "shape"),
        entry(stand_in, "hang", "hang"),
        entry(stand_in, "redirect", "redirect"),
        HubEntry(
            name="down",
            status_url=f"http://127.0.0.1:{port}/{STATUS_PATH}",
            url=f"http://127.0.0.1:{port}",
            token_env="TOKEN_down",
        ),
        HubEntry(name="notoken", status_url="http://127.0.0.1:9/x", url="u", token_env="UNSET"),
    ]
    for hub in hubs[2:9]:
        environ[hub.token_env] = new_token()
    done = []
    started = time.monotonic()
    answers = await poll_hubs(hubs, settings, environ=environ, on_answer=done.append)
    elapsed = time.monotonic() - started

    assert [answer.hub.name for answer in answers] == [hub.name for hub in hubs]
    assert sorted(answer.hub.name for answer in done) == sorted(hub.name for hub in hubs)
    rows = {
        a.hub.name: build_row(
            a.hub.name, a.hub.url, a.document, reachable=a.reachable, error=a.error
        )
        for a in answers
    }
    assert rows["alpha"].error is None and rows["alpha"].mau_login == 15
    assert rows["alpha"].estimated_usage_fee == fees.usage_fee(15)
    assert rows["beta"].error is None and rows["beta"].check_in_due is True
    assert rows["e500"].error == "HTTP 500 (2 attempts)"
    assert rows["e401"].error.startswith("HTTP 401: token refused")
    assert rows["garbage"].error == "malformed JSON"
    assert rows["shape"].error == "wrong JSON shape: missing generated_at"
    assert rows["hang"].error == "timed out after 0.5 s"
    assert rows["redirect"].error == "HTTP 302: redirected; check the status URL"
    assert rows["down"].error == "connection refused (2 attempts)"
    assert rows["notoken"].error == "token variable UNSET is not set"
    reachable = {name for name, row in rows.items() if row.reachable}
    assert reachable == {"alpha", "beta", "e500", "e401", "garbage", "shape", "redirect"}
    # Retries only where they can help.
    assert stand_in.requests["error500"] == 2
    assert stand_in.requests["hang"] == 1  # a hang costs one timeout, never one per retry
    assert stand_in.requests["unauthorized"] == 1
    assert stand_in.requests["garbage"] == 1
    # The hanging hub was waited for once, and no run takes longer than the budget allows.
    assert elapsed >= settings.timeout
    assert elapsed <= settings.worst_case_seconds() + 0.5, elapsed
    for name, row in rows.items():
        if row.error and name != "notoken":
            assert environ[f"TOKEN_{name}"] not in row.error


async def test_retries_recover_from_a_flaky_hub(stand_in):
    stand_in.documents["flaky"] = good_status()
    hub = entry(stand_in, "flaky", "flaky")
    environ = {"TOKEN_flaky": new_token()}
    settings = PollSettings(timeout=2, retries=2, backoff=0.05)
    (answer,) = await poll_hubs([hub], settings, environ=environ)
    assert answer.error is None and answer.attempts == 3
    assert stand_in.requests["flaky"] == 3
    stand_in.requests.clear()
    (answer,) = await poll_hubs([hub], PollSettings(timeout=2, retries=1, backoff=0.05), environ)
    assert answer.error == "HTTP 503 (2 attempts)"


async def test_an_oversized_answer_is_refused_without_retrying(stand_in):
    hub = entry(stand_in, "huge", "huge")
    settings = PollSettings(timeout=5, retries=2, max_response_bytes=64 * 1024)
    (answer,) = await poll_hubs([hub], settings, environ={"TOKEN_huge": new_token()})
    assert answer.error == "answer larger than 65536 bytes"
    assert answer.reachable and answer.document is None
    assert stand_in.requests["huge"] == 1
    # The same answer under a higher limit is read (and then found to be the wrong shape).
    settings = PollSettings(timeout=5, retries=0, max_response_bytes=1024 * 1024)
    (answer,) = await poll_hubs([hub], settings, environ={"TOKEN_huge": new_token()})
    assert answer.error is None and len(answer.document["padding"]) == 64 * 4096


async def test_concurrency_is_bounded(stand_in):
    names = [f"g{i}" for i in range(7)]
    for name in names:
        stand_in.documents[name] = good_status()
    stand_in.gate_size, stand_in.gate_total = 3, len(names)
    hubs = [entry(stand_in, "gate", name) for name in names]
    environ = {hub.token_env: new_token() for hub in hubs}
    answers = await poll_hubs(hubs, PollSettings(timeout=10, concurrency=3), environ=environ)
    assert [answer.error for answer in answers] == [None] * len(names)
    assert stand_in.max_in_flight == 3


async def test_tls_is_verified_unless_turned_off(tls_stand_in, tls_files):
    cert, _ = tls_files
    for name in ("strict", "private-ca", "unverified"):
        tls_stand_in.documents[name] = good_status()
        tls_stand_in.tokens[name] = new_token()
    hubs = [
        entry(tls_stand_in, "ok", "strict"),
        entry(tls_stand_in, "ok", "private-ca", ca_file=cert),
        entry(tls_stand_in, "ok", "unverified", verify_tls=False),
    ]
    environ = {hub.token_env: tls_stand_in.tokens[hub.name] for hub in hubs}
    strict, private_ca, unverified = await poll_hubs(
        hubs, PollSettings(timeout=5, retries=0), environ=environ
    )
    assert strict.error == "TLS certificate verification failed"
    assert tls_stand_in.requests["ok"] == 2  # the strict hub never got a request through
    assert private_ca.error is None and private_ca.document["version"]
    assert unverified.error is None


# --- the command line -----------------------------------------------------------------------


def mixed_hubs(tmp_path: Path, stand_in, *, with_hang: bool) -> tuple[Path, dict[str, str]]:
    """A hubs file of two good hubs and broken ones; returns it and the token environment."""
    tokens = {name: new_token() for name in ("alpha", "beta", "e500", "e401", "garbage", "hang")}
    stand_in.tokens.update(alpha=tokens["alpha"], beta=tokens["beta"])
    stand_in.documents.update(alpha=good_status(), beta=behind_status())
    (tmp_path / "beta.token").write_text(tokens["beta"] + "\n")
    (tmp_path / "beta.token").chmod(0o600)
    hubs = [
        {"name": "alpha", "hub_url": stand_in.hub_url("ok", "alpha"), "token_env": "T_ALPHA"},
        {
            "name": "beta",
            "status_url": f"{stand_in.hub_url('ok', 'beta')}/{STATUS_PATH}",
            "token_file": "beta.token",
        },
        {"name": "e500", "hub_url": stand_in.hub_url("error500"), "token_env": "T_E500"},
        {"name": "e401", "hub_url": stand_in.hub_url("unauthorized"), "token_env": "T_E401"},
        {"name": "garbage", "hub_url": stand_in.hub_url("garbage"), "token_env": "T_GARBAGE"},
        {"name": "down", "hub_url": f"http://127.0.0.1:{closed_port()}", "token_env": "T_ALPHA"},
    ]
    if with_hang:
        hubs.append({"name": "hang", "hub_url": stand_in.hub_url("hang"), "token_env": "T_HANG"})
    env = {f"T_{name.upper()}": token for name, token in tokens.items() if name != "beta"}
    return write_hubs(tmp_path / "hubs.yaml", hubs), env


async def test_cli_writes_a_row_per_hub_and_exits_1_within_the_budget(tmp_path, stand_in):
    hubs_file, env = mixed_hubs(tmp_path, stand_in, with_hang=True)
    timeout, retries, backoff = 1.0, 1, 0.25
    budget = PollSettings(timeout=timeout, retries=retries, backoff=backoff).worst_case_seconds()
    run = await run_cli(
        "--hubs", str(hubs_file), "--format", "csv", "--output", "report.csv",
        "--timeout", str(timeout), "--retries", str(retries), "--backoff", str(backoff),
        "--log-level", "INFO",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stdout == ""
    rows = csv_rows((tmp_path / "report.csv").read_text())
    assert set(rows) == {"alpha", "beta", "e500", "e401", "garbage", "down", "hang"}
    alpha, beta = rows["alpha"], rows["beta"]
    expected = good_status()
    assert alpha["error"] == "" and alpha["reachable"] == "true"
    assert alpha["first_value_achieved"] == "true"
    assert alpha["first_value_date"] == expected["first_value"]["achieved_at"][:10]
    assert (alpha["mau_login"], alpha["mau_server"], alpha["active_30d"]) == ("15", "9", "20")
    assert float(alpha["estimated_usage_fee"]) == expected["billing"]["estimated_usage_fee"]
    assert alpha["url"] == stand_in.hub_url("ok", "alpha")
    assert beta["check_in_due"] == "true" and beta["first_value_achieved"] == "false"
    assert beta["url"] == stand_in.hub_url("ok", "beta")
    assert rows["e500"]["error"] == "HTTP 500 (2 attempts)"
    assert rows["e401"]["error"].startswith("HTTP 401: token refused")
    assert rows["garbage"]["error"] == "malformed JSON"
    assert rows["down"]["error"] == "connection refused (2 attempts)"
    assert rows["down"]["reachable"] == "false"
    assert rows["hang"]["error"] == "timed out after 1 s"
    order = list(csv.DictReader(io.StringIO((tmp_path / "report.csv").read_text())))
    assert [r["hub"] for r in order][-2:] == ["beta", "alpha"]  # action needed comes first

    # The process's own measure of the polling, and the whole run from outside.
    (summary,) = SUMMARY.findall(run.stderr)
    assert summary[:3] == ("7", "2", "5")
    assert timeout <= float(summary[4]) <= budget + 0.5  # the hang cost one timeout
    assert run.elapsed <= budget + 15, "process start-up and report far beyond the budget"
    # Not a terminal: no progress bar; failures are logged one per line.
    assert "\r" not in run.stderr and "hubs:" not in run.stderr
    assert "hub 'hang': timed out" in run.stderr
    assert "Traceback" not in run.stderr


async def test_cli_formats_agree_and_never_show_a_token(tmp_path, stand_in):
    hubs_file, env = mixed_hubs(tmp_path, stand_in, with_hang=False)
    secrets_ = [*env.values(), stand_in.tokens["beta"]]
    common = ("--hubs", str(hubs_file), "--timeout", "2", "--retries", "1", "--backoff", "0")
    outputs = {}
    for fmt in ("table", "json", "csv", "html"):
        run = await run_cli(*common, "--format", fmt, "--debug", cwd=tmp_path, env=env)
        assert run.returncode == 1, run.stderr
        for token in secrets_:
            assert token not in run.stdout, fmt
            assert token not in run.stderr, fmt
        outputs[fmt] = run.stdout
    # The hub echoing its Authorization header in a 500 page (asked twice per run, with the
    # retry) does not leak it either.
    assert stand_in.requests["error500"] == 2 * len(outputs)
    assert "HTTP 500 (2 attempts)" in outputs["table"]

    document = json.loads(outputs["json"])
    by_csv = csv_rows(outputs["csv"])
    assert [hub["hub"] for hub in document["hubs"]] == list(by_csv)
    for hub in document["hubs"]:
        record = by_csv[hub["hub"]]
        for column in ("mau_login", "mau_server", "active_30d"):
            assert (str(hub[column]) if hub[column] is not None else "") == record[column]
        fee = hub["estimated_usage_fee"]
        assert (
            float(record["estimated_usage_fee"]) if record["estimated_usage_fee"] else None
        ) == fee
        assert (hub["error"] or "") == record["error"]
    assert document["totals"]["failed"] == 4 and document["totals"]["hubs"] == 6
    assert document["totals"]["mau_login"] == 15 + 2
    assert "alpha" in outputs["table"] and "TOTAL (6 hubs)" in outputs["table"]
    assert outputs["html"].startswith("<!DOCTYPE html>")


FORMATS = ("table", "json", "csv", "html")


async def test_cli_redacts_a_token_the_hub_echoes_back_in_every_format(tmp_path, stand_in):
    stand_in.documents["echo"] = good_status()
    token = new_token()
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [{"name": "echo", "hub_url": stand_in.hub_url("echo", "echo"), "token_env": "T_ECHO"}],
    )
    secret = token.removeprefix("tok-")
    # The table shortens the version: no 8 characters of the secret may show either.
    pieces = [secret[i : i + 8] for i in range(len(secret) - 7)]
    outputs, leaks = {}, {}
    for fmt in FORMATS:
        run = await run_cli(
            "--hubs", str(hubs_file), "--format", fmt, "--retries", "0", "--debug",
            cwd=tmp_path, env={"T_ECHO": token},
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        leaks[fmt] = [piece for piece in pieces if piece in run.stdout + run.stderr]
        outputs[fmt] = run.stdout
    assert stand_in.requests["echo"] == len(FORMATS)
    shown = {
        "json": json.loads(outputs["json"])["hubs"][0]["service_version"],
        "csv": csv_rows(outputs["csv"])["echo"]["service_version"],
        # the table and the HTML leave the version to each hub's own report
        "html": re.findall(r"token \[[^<]*", outputs["html"]),
        "table": re.findall(r"token \[\S*", outputs["table"]),
    }
    assert {fmt: (shown[fmt], leaks[fmt]) for fmt in FORMATS} == {
        "table": ([], []),
        "json": ("token [token]", []),
        "csv": ("token [token]", []),
        "html": ([], []),
    }


async def test_cli_keeps_control_and_bidi_characters_out_of_every_format(tmp_path, stand_in):
    document = good_status()
    document["version"] = "\u00a0=1+1\x1b]0;owned\x07\u202e\ud800"
    document["billing"]["currency"] = "\x1b[31m"
    stand_in.documents["evil"] = document
    stand_in.tokens["evil"] = new_token()
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {
                "name": "evil\u202egnp.exe\u2066\x1b[5m",
                "hub_url": stand_in.hub_url("ok", "evil"),
                "token_env": "T_EVIL",
            },
            {
                "name": '=HYPERLINK("x")\u2067\x1b[0m',
                "hub_url": stand_in.hub_url("error500"),
                "token_env": "T_EVIL",
            },
        ],
    )
    env = {"T_EVIL": stand_in.tokens["evil"]}
    outputs = {}
    for fmt in FORMATS:
        run = await run_cli(
            "--hubs", str(hubs_file), "--format", fmt, "--retries", "0", "--log-level", "INFO",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr
        assert unsafe_in(run.stdout) == [], fmt
        assert unsafe_in(run.stderr) == [], fmt
        outputs[fmt] = run.stdout
    mark = "\ufffd"
    rows = {hub["hub"]: hub for hub in json.loads(outputs["json"])["hubs"]}
    evil = rows[f"evil{mark}gnp.exe{mark}{mark}[5m"]
    assert evil["currency"] == f"{mark}[31m"
    assert evil["service_version"] == f"\u00a0=1+1{mark}]0;owned{mark}{mark}{mark}"
    by_csv = csv_rows(outputs["csv"])
    assert by_csv[f'\'=HYPERLINK("x"){mark}{mark}[0m']["error"] == "HTTP 500"
    record = by_csv[f"evil{mark}gnp.exe{mark}{mark}[5m"]
    assert record["currency"] == f"{mark}[31m"
    assert record["service_version"] == "'" + evil["service_version"]  # a formula after a space
    # the totals line: the fee in the hub's (made safe) currency, then the stale count
    assert re.search(rf"125\.00 {mark}\[31m$", outputs["table"].splitlines()[-1])
    assert f"{mark}[31m" in outputs["html"]


async def test_a_document_nested_too_deeply_is_an_error_row(stand_in):
    hub = entry(stand_in, "deep", "deep")
    (answer,) = await poll_hubs(
        [hub], PollSettings(timeout=5, retries=0), environ={"TOKEN_deep": new_token()}
    )
    assert answer.reachable and answer.document is None
    assert answer.error == "malformed JSON (nested too deeply)"


async def test_cli_exits_0_when_every_hub_answered_and_reports_a_past_month(tmp_path, stand_in):
    now = utcnow()
    for name in ("alpha", "omega"):
        stand_in.tokens[name] = new_token()
        stand_in.documents[name] = good_status(now)
    stand_in.documents["omega"] = good_status(now, billing_basis="server")
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": name, "hub_url": stand_in.hub_url("ok", name), "token_env": f"T_{name}"}
            for name in ("alpha", "omega")
        ],
    )
    env = {f"T_{name}": stand_in.tokens[name] for name in ("alpha", "omega")}
    last_month = months_back(now, 1)
    run = await run_cli(
        "--hubs", str(hubs_file), "--format", "json", "--month", last_month,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["month"] == last_month
    alpha, omega = document["hubs"]
    assert (alpha["mau_login"], alpha["mau_server"]) == (280, 120)
    assert alpha["estimated_usage_fee"] == 1000.0  # login basis: 280 MAU
    assert omega["estimated_usage_fee"] == 600.0  # server basis: 120 MAU
    assert document["totals"]["estimated_usage_fee"] == {"USD": 1600.0}


async def test_cli_lists_the_events_ahead_first_and_the_next_event_of_each_hub(tmp_path, stand_in):
    now = utcnow().replace(microsecond=0)
    exam = make_event(now, days_ahead=2, checklist=("resources",), title="<b>Exam</b>\x1b[2J")
    stand_in.documents.update(
        exams=good_status(
            now,
            events=[
                make_event(now, days_ahead=40, title="Summer school", kind="workshop", event_id=2),
                exam,
            ],
        ),
        later=good_status(
            now, events=[make_event(now, days_ahead=30, title="Open day", kind="demo")]
        ),
        old=good_status(now),  # a hub whose service predates events
    )
    names = ("exams", "later", "old")
    stand_in.tokens.update({name: new_token() for name in names})
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": name, "hub_url": stand_in.hub_url("ok", name), "token_env": f"T_{name}"}
            for name in names
        ],
    )
    env = {f"T_{name}": stand_in.tokens[name] for name in names}
    outputs = {}
    for fmt in ("table", "json", "csv", "html"):
        run = await run_cli(
            "--hubs", str(hubs_file), "--format", fmt, "--store", str(tmp_path / "h.sqlite"),
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "\x1b" not in run.stdout
        outputs[fmt] = run.stdout
    start = exam.start.strftime("%Y-%m-%dT%H:%M:%SZ")

    document = json.loads(outputs["json"])
    (event,) = document["events"]  # the events 30 and 40 days ahead are not in the next 14
    assert (event["hub"], event["kind"], event["start"]) == ("exams", "exam", start)
    assert event["title"] == "<b>Exam</b>\ufffd[2J"
    assert (event["expected_attendees"], event["days_until"]) == (120, 2.0)
    assert (event["checklist_done"], event["checklist_total"]) == (1, 4)
    hubs = {hub["hub"]: hub for hub in document["hubs"]}
    assert all(hub["error"] is None for hub in hubs.values())
    assert hubs["exams"]["next_event_start"] == start
    assert hubs["later"]["next_event_title"] == "Open day"
    assert hubs["later"]["next_event_days_until"] == 30.0
    assert all(hubs["old"][column] is None for column in COLUMNS if "next_event" in column)

    lines = outputs["table"].splitlines()
    assert lines[2] == "Events in the next 14 days:"
    assert lines[5].split()[:2] == ["exams", "<b>Exam</b>\ufffd[2J"]
    assert "1/4 (not ready)" in lines[5]
    assert lines[7].startswith("hub ") and "next event" in lines[7]

    records = csv_rows(outputs["csv"])
    assert set(records) == set(names)
    assert records["exams"]["next_event_start"] == start
    assert records["exams"]["next_event_checklist_done"] == "1"
    assert records["old"]["next_event_title"] == ""

    page = outputs["html"]
    section = page[page.index('id="events"') : page.index('id="hubs"')]
    assert "&lt;b&gt;Exam&lt;/b&gt;" in section and "<b>Exam" not in page
    assert "Open day" not in section and "Open day" in page

    # the history keeps the next event of each run's rows
    engine = create_engine(f"sqlite:///{tmp_path / 'h.sqlite'}")
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                select(collect_hub_rows.c.hub, collect_hub_rows.c.next_event_start)
            ).all()
    finally:
        engine.dispose()
    assert len(stored) == 4 * len(names)
    assert {tuple(row) for row in stored} == {
        ("exams", start),
        ("later", hubs["later"]["next_event_start"]),
        ("old", None),
    }


@pytest.mark.parametrize(
    ("args", "hubs_text", "expected"),
    [
        ((), None, "--hubs is required"),
        (("--month", "2026-13"), "", "CollectApp.month must look like YYYY-MM"),
        (("--month", "2999-01"), "", "is in the future"),
        (("--timeout", "0"), "", "CollectApp.timeout must be a number of seconds > 0"),
        (("--format", "docx"), "", "report_format"),
        (("--retires", "3"), "", "unknown option(s): --retires"),
        (("--output", "no/such/dir/r.csv"), "", "directory of --output"),
        (
            (),
            f"- name: leaky\n  hub_url: https://a.example.org\n  token: {SECRET}\n",
            "hub 'leaky': an inline 'token' is refused",
        ),
        ((), "- name: [unclosed\n", "not valid YAML"),
        (("--store", "mysql://db/x"), "", "unsupported database"),
    ],
)
async def test_cli_usage_and_config_errors_exit_2(tmp_path, args, hubs_text, expected):
    argv = list(args)
    if hubs_text is not None:
        hubs_file = tmp_path / "hubs.yaml"
        hubs_file.write_text(
            hubs_text or "- {name: a, hub_url: 'http://127.0.0.1:9', token_env: T}\n"
        )
        argv += ["--hubs", str(hubs_file)]
    run = await run_cli(*argv, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert expected in run.stderr
    assert SECRET not in run.stderr and "Traceback" not in run.stderr
    assert run.stdout == ""


async def test_progress_bar_shows_on_a_terminal_only(tmp_path, stand_in):
    stand_in.tokens["alpha"] = new_token()
    stand_in.documents["alpha"] = good_status()
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [{"name": "alpha", "hub_url": stand_in.hub_url("ok", "alpha"), "token_env": "T"}],
    )
    env = dict(os.environ, T=stand_in.tokens["alpha"], PYTHONPATH=str(REPO))
    controller, terminal = os.openpty()
    # A terminal 100 columns wide (a new pseudo-terminal has no size, so no room for a bar).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jupyterhub_onboarding", "collect", "--hubs", str(hubs_file),
            "--format", "csv",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=terminal,
        )  # fmt: skip
        os.close(terminal)
        stdout, _ = await asyncio.wait_for(process.communicate(), 60)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    assert process.returncode == 0
    assert csv_rows(stdout.decode())["alpha"]["error"] == ""
    assert b"hubs:" in seen and b"/1 [" in seen


# --- history --------------------------------------------------------------------------------


def stored(url: str):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            runs = connection.execute(select(collect_runs).order_by(collect_runs.c.id)).all()
            rows = connection.execute(
                select(collect_hub_rows).order_by(collect_hub_rows.c.run_id, collect_hub_rows.c.hub)
            ).all()
            count = connection.execute(select(func.count()).select_from(collect_hub_rows)).scalar()
    finally:
        engine.dispose()
    return runs, rows, count


async def _store_twice(tmp_path, stand_in, store: str) -> dict[str, dict[str, str]]:
    hubs_file, env = mixed_hubs(tmp_path, stand_in, with_hang=False)
    args = ("--hubs", str(hubs_file), "--timeout", "2", "--retries", "0", "--store", store)
    first = await run_cli(*args, "--format", "csv", "--output", "report.csv", cwd=tmp_path, env=env)
    second = await run_cli(*args, "--format", "json", cwd=tmp_path, env=env)
    assert first.returncode == second.returncode == 1, first.stderr + second.stderr
    return csv_rows((tmp_path / "report.csv").read_text())


def _check_stored(url: str, report: dict[str, dict[str, str]]) -> None:
    runs, rows, count = stored(url)
    assert len(runs) == 2 and count == 2 * len(report)
    assert [(run.hubs, run.failed) for run in runs] == [(6, 4), (6, 4)]
    assert runs[0].started_at <= runs[0].finished_at <= runs[1].started_at
    for row in rows[: len(report)]:
        record = report[row.hub]
        assert row.url == record["url"]
        assert row.reachable == (record["reachable"] == "true")
        assert (row.error or "") == record["error"]
        for column in ("mau_login", "mau_server", "active_30d"):
            assert ("" if row._mapping[column] is None else str(row._mapping[column])) == record[
                column
            ]
        fee = record["estimated_usage_fee"]
        assert row.estimated_usage_fee == (float(fee) if fee else None)


async def test_store_appends_each_run_to_sqlite(tmp_path, stand_in):
    report = await _store_twice(tmp_path, stand_in, "runs.sqlite")  # a path: an SQLite file
    _check_stored(f"sqlite:///{tmp_path / 'runs.sqlite'}", report)


@pytest.mark.integration
async def test_store_appends_each_run_to_postgresql(tmp_path, stand_in, postgres_url):
    report = await _store_twice(tmp_path, stand_in, postgres_url)
    _check_stored(postgres_url, report)


async def test_store_errors_hide_the_password(tmp_path):
    hubs_file = tmp_path / "hubs.yaml"
    hubs_file.write_text("- {name: a, hub_url: 'http://127.0.0.1:9', token_env: T}\n")
    run = await run_cli(
        "--hubs", str(hubs_file), "--store",
        f"postgresql+psycopg://collector:{SECRET}@127.0.0.1:{closed_port()}/runs",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2
    assert "cannot open the store postgresql+psycopg://collector:***@127.0.0.1" in run.stderr
    assert SECRET not in run.stderr


# --- the HTML report in a browser -----------------------------------------------------------


@pytest.mark.integration
async def test_html_report_opens_in_chromium_without_console_errors(tmp_path, stand_in):
    require_binary(CHROMIUM, "chromium")  # skips with a printed reason (fails in CI)
    from playwright.async_api import async_playwright

    hubs_file, env = mixed_hubs(tmp_path, stand_in, with_hang=False)
    hubs = yaml.safe_load(hubs_file.read_text())["hubs"]
    stand_in.tokens["hostile"] = new_token()
    stand_in.documents["hostile"] = good_status()
    hubs.append(
        {"name": HOSTILE, "hub_url": stand_in.hub_url("ok", "hostile"), "token_env": "T_HOSTILE"}
    )
    write_hubs(hubs_file, hubs)
    env["T_HOSTILE"] = stand_in.tokens["hostile"]
    run = await run_cli(
        "--hubs", str(hubs_file), "--format", "html", "--output", "report.html",
        "--timeout", "2", "--retries", "0",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    report = tmp_path / "report.html"

    problems: list[str] = []
    requested: list[str] = []
    with tempfile.TemporaryDirectory(prefix="collect-chromium-") as profile:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
            )
            try:
                page = await context.new_page()
                page.on(
                    "console",
                    lambda message: (
                        problems.append(f"{message.type}: {message.text}")
                        if message.type in ("error", "warning")
                        else None
                    ),
                )
                page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
                page.on("request", lambda request: requested.append(request.url))
                await page.goto(report.as_uri(), wait_until="load")
                assert await page.locator("img").count() == 0
                assert await page.locator("script").count() == 0
                names = await page.locator("table.hubs tbody tr td:first-child").all_inner_texts()
                dialogs = await page.evaluate("() => typeof window.alert")
            finally:
                await context.close()
    assert problems == []
    assert requested == [report.as_uri()], "the report loads nothing else"
    assert dialogs == "function"
    # Shown as text; failures first, then the check-in due, then the rest, by name.
    assert names == ["down", "e401", "e500", "garbage", "beta", HOSTILE, "alpha"]


# --- real hubs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_hubs(tmp_path_factory):
    """Two real hubs with this service behind the real proxy, started together."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.hubproc import HubProcess

    hubs = [
        HubProcess(
            tmp_path_factory.mktemp("hub-a"),
            service_config="c.Onboarding.first_value_threshold = 2\n",
        ),
        HubProcess(tmp_path_factory.mktemp("hub-b")),
    ]
    with ThreadPoolExecutor(len(hubs)) as pool:
        futures = [pool.submit(hub.start) for hub in hubs]
        errors = [future.exception() for future in futures]
    try:
        if any(errors):
            raise RuntimeError(f"a hub did not start: {[e for e in errors if e]}")
        yield hubs
    finally:
        for hub in hubs:
            hub.stop()


@pytest.mark.integration
async def test_collect_from_real_hubs_and_broken_ones(tmp_path, stand_in, real_hubs):
    hub_a, hub_b = real_hubs
    for name in ("ada", "bob", "cyd"):
        hub_a.login(name).close()
    status_a = await asyncio.to_thread(
        hub_a.wait_for_status,
        lambda s: s["first_value"]["users_logged_in"] >= 3 and s["mau"]["login"] >= 3,
        90,
    )
    status_b = await asyncio.to_thread(hub_b.status)
    (tmp_path / "b.token").write_text(hub_b.status_token)
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": "hub-a", "hub_url": hub_a.url, "token_env": "HUB_A_TOKEN"},
            {
                "name": "hub-b",
                "status_url": f"{hub_b.url}/services/onboarding/api/v1/status",
                "token_file": "b.token",
            },
            {"name": "hub-a-wrong-token", "hub_url": hub_a.url, "token_env": "WRONG_TOKEN"},
            {"name": "hang", "hub_url": stand_in.hub_url("hang"), "token_env": "WRONG_TOKEN"},
        ],
    )
    env = {"HUB_A_TOKEN": hub_a.status_token, "WRONG_TOKEN": new_token()}
    args = ("--hubs", str(hubs_file), "--timeout", "3", "--retries", "0", "--log-level", "INFO")
    run = await run_cli(*args, "--format", "json", cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stderr
    for token in (hub_a.status_token, hub_b.status_token, hub_a.admin_token):
        assert token not in run.stdout and token not in run.stderr
    rows = {hub["hub"]: hub for hub in json.loads(run.stdout)["hubs"]}
    a, b = rows["hub-a"], rows["hub-b"]
    assert a["error"] is None and b["error"] is None, run.stdout
    assert a["url"] == hub_a.url and b["url"] == hub_b.url
    assert a["first_value_achieved"] is True
    assert a["first_value_date"] == status_a["first_value"]["achieved_at"][:10]
    assert a["mau_login"] == status_a["mau"]["login"] >= 3
    assert a["active_30d"] == status_a["active_users"]["30d"] >= 3
    assert a["estimated_usage_fee"] == fees.usage_fee(a["mau_login"])
    assert a["service_version"] == status_a["version"]
    assert b["first_value_achieved"] is False and b["mau_login"] == status_b["mau"]["login"]
    assert b["check_in_due"] is status_b["first_value"]["check_in_due"]
    assert b["tracker_stale"] is status_b["tracker"]["stale"]
    assert rows["hub-a-wrong-token"]["reachable"] is True
    assert re.match(r"HTTP 40[13]: token refused", rows["hub-a-wrong-token"]["error"])
    assert rows["hang"]["error"] == "timed out after 3 s"
    (summary,) = SUMMARY.findall(run.stderr)
    assert summary[:3] == ("4", "2", "2")
    assert float(summary[4]) <= PollSettings(timeout=3, retries=0).worst_case_seconds() + 0.5

    # The terminal table of the same hubs: failures first, then the two real hubs.
    run = await run_cli(*args, cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[2] == "Events in the next 14 days: none"
    body = lines[6:10]
    assert [line.split()[0] for line in body] == ["hang", "hub-a-wrong-token", "hub-a", "hub-b"]
    hub_a_line = body[2].split()
    assert hub_a_line[1] == "ok" and hub_a_line[2] == a["first_value_date"]
    assert str(a["mau_login"]) in hub_a_line and f"{a['estimated_usage_fee']:,.2f}" in hub_a_line
    assert " ".join(lines[-1].split()[:7]) == "TOTAL (4 hubs) 2 failed 1 achieved"

    # An admin of hub A plans an exam through the events API: the report lists it first
    # and in hub A's row.
    token = await asyncio.to_thread(admin_user_token, hub_a)
    start = (utcnow() + timedelta(days=5)).replace(microsecond=0)
    planned = await asyncio.to_thread(
        httpx.post,
        f"{hub_a.service_url}api/v1/events",
        headers={"Authorization": f"token {token}"},
        json={
            "title": "Midterm exam",
            "kind": "exam",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "expected_attendees": 120,
            "checklist": {"resources": True},
        },
        timeout=30,
    )
    assert planned.status_code == 201, planned.text
    run = await run_cli(*args, "--format", "json", cwd=tmp_path, env=env)
    document = json.loads(run.stdout)
    (event,) = document["events"]
    assert (event["hub"], event["title"], event["kind"]) == ("hub-a", "Midterm exam", "exam")
    assert event["start"] == planned.json()["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 4.9 < event["days_until"] <= 5.0
    assert (event["expected_attendees"], event["checklist_done"], event["checklist_total"]) == (
        120,
        1,
        4,
    )
    rows = {hub["hub"]: hub for hub in document["hubs"]}
    assert rows["hub-a"]["next_event_title"] == "Midterm exam"
    assert rows["hub-a"]["next_event_start"] == event["start"]
    assert rows["hub-b"]["next_event_title"] is None and rows["hub-b"]["error"] is None
    run = await run_cli(*args, cwd=tmp_path, env=env)
    lines = run.stdout.splitlines()
    assert lines[2] == "Events in the next 14 days:"
    assert lines[5].split()[:3] == ["hub-a", "Midterm", "exam"]
    assert [line.split()[0] for line in lines[9:13]] == [
        "hang",
        "hub-a-wrong-token",
        "hub-a",
        "hub-b",
    ]


def admin_user_token(hub) -> str:
    """A token of the hub's admin user (made through the hub's REST API)."""
    hub.api("POST", "users/admin")  # exists already or is created
    response = hub.api("POST", "users/admin/tokens", json={"note": "collector test"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.mark.integration
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs Debian's poppler-utils")
async def test_collect_monthly_pdfs_from_real_hubs_and_a_broken_one(tmp_path, stand_in, real_hubs):
    """Two real hubs and one that answers garbage: a PDF per real hub, and a summary whose
    rows and totals are right; exit status 1 as for every format when a hub fails."""
    hub_a, hub_b = real_hubs
    hub_a.login("ada").close()
    status_a = await asyncio.to_thread(hub_a.wait_for_status, lambda s: s["mau"]["login"] >= 1, 90)
    status_b = await asyncio.to_thread(hub_b.status)
    month = status_a["mau"]["month"]
    hubs_file = write_hubs(
        tmp_path / "hubs.yaml",
        [
            {"name": "Hub A #eval(1) <b>", "hub_url": hub_a.url, "token_env": "HUB_A_TOKEN"},
            {"name": "hub-b", "hub_url": hub_b.url, "token_env": "HUB_B_TOKEN"},
            {"name": "broken", "hub_url": stand_in.hub_url("garbage"), "token_env": "HUB_A_TOKEN"},
        ],
    )
    env = {"HUB_A_TOKEN": hub_a.status_token, "HUB_B_TOKEN": hub_b.status_token}
    out = tmp_path / "reports"
    out.mkdir()
    args = ("--hubs", str(hubs_file), "--timeout", "5", "--retries", "0", "--month", month)
    run = await run_cli(*args, "--format", "pdf", "--output-dir", str(out), cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        f"Hub-A-eval-1-b-{month}.pdf",
        f"hub-b-{month}.pdf",
        f"summary-{month}.pdf",
    ]

    def text(name: str) -> str:
        done = subprocess.run(
            ["pdftotext", "-layout", str(out / name), "-"], capture_output=True, check=True
        )
        return " ".join(done.stdout.decode().split())

    a = text(f"Hub-A-eval-1-b-{month}.pdf")
    assert "Hub A #eval(1) <b>" in a and f"MAU (login) {status_a['mau']['login']} " in a
    assert f"Estimated usage fee ${status_a['billing']['estimated_usage_fee']:,.2f}" in a
    assert "ada" not in a.split()
    b = text(f"hub-b-{month}.pdf")
    assert f"MAU (login) {status_b['mau']['login']} " in b and "First value not reached" in b
    summary = text(f"summary-{month}.pdf")
    # the broken hub first (it needs action), with its error; then the others by name
    assert summary.index("broken") < summary.index("Hub A #eval(1) <b>") < summary.index("hub-b")
    assert "broken error: malformed JSON" in summary
    total_login = status_a["mau"]["login"] + status_b["mau"]["login"]
    assert re.search(rf"Total 1 failed \d reached {total_login} ", summary), summary
    for token in (hub_a.status_token, hub_b.status_token):
        assert token not in run.stdout + run.stderr

    # --format html with --output-dir: the same files as HTML, into a directory it creates
    html_dir = tmp_path / "html" / "december"
    run = await run_cli(
        *args, "--format", "html", "--output-dir", str(html_dir), cwd=tmp_path, env=env
    )
    assert run.returncode == 1, run.stderr
    page = (html_dir / f"Hub-A-eval-1-b-{month}.html").read_text()
    assert "Hub A #eval(1) &lt;b&gt;" in page and "Estimated usage fee" in page
    summary_page = (html_dir / f"summary-{month}.html").read_text()
    assert "broken" in summary_page
    assert not (html_dir / f"broken-{month}.html").exists()
    # hub names open the hubs' own reports beside the summary, not the hubs
    assert f'href="hub-b-{month}.html">hub-b</a>' in summary_page
    assert f'href="{hub_b.url}' not in summary_page


async def test_pdf_format_needs_an_output_directory(tmp_path):
    hubs_file = write_hubs(tmp_path / "hubs.yaml", [{"name": "a", "hub_url": "http://x"}])
    run = await run_cli("--hubs", str(hubs_file), "--format", "pdf", cwd=tmp_path)
    assert run.returncode == 2 and "--format pdf needs --output-dir" in run.stderr
    (tmp_path / "a-file").write_text("")
    run = await run_cli(
        "--hubs", str(hubs_file), "--format", "pdf", "--output-dir", "a-file/reports",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2 and "cannot create --output-dir a-file/reports" in run.stderr


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
