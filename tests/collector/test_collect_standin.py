"""The collector's polling in process, against stand-in status endpoints on loopback (the
documented shape of the service's status API): timeouts, retries, sizes, concurrency, TLS."""

from __future__ import annotations

import time

from harness.collector import (
    STATUS_PATH,
    behind_status,
    closed_port,
    entry,
    good_status,
    new_token,
)

from jupyterhub_onboarding.collector.app import PollSettings, poll_hubs
from jupyterhub_onboarding.collector.hubsfile import (
    HubEntry,
)
from jupyterhub_onboarding.collector.rows import build_row
from jupyterhub_onboarding.core import fees


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


async def test_a_document_nested_too_deeply_is_an_error_row(stand_in):
    hub = entry(stand_in, "deep", "deep")
    (answer,) = await poll_hubs(
        [hub], PollSettings(timeout=5, retries=0), environ={"TOKEN_deep": new_token()}
    )
    assert answer.reachable and answer.document is None
    assert answer.error == "malformed JSON (nested too deeply)"
