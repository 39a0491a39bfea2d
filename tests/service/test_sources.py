"""The Prometheus reader, the storage poller and the cost reader against stand-in endpoints.

A small tornado app on a loopback port, in the test's own event loop, answers like
Prometheus's query API and like the documented cost endpoint, or misbehaves on purpose.
The real Prometheus and exporter are in test_sources_real.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from harness.process import free_port
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from jupyterhub_onboarding.core.homedirs import DirectoryNaming
from jupyterhub_onboarding.core.sources import (
    ERROR,
    GARBAGE,
    MISCONFIGURED,
    NO_DATA,
    REFUSED,
    UNREACHABLE,
)
from jupyterhub_onboarding.retry import RetryPolicy
from jupyterhub_onboarding.service.cost import CostReader
from jupyterhub_onboarding.service.homestorage import StoragePoller
from jupyterhub_onboarding.service.prometheus import PrometheusReader
from jupyterhub_onboarding.service.sourceclient import JsonSource, SourceUnavailable

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "s3cr3t-bearer-token"
NO_RETRY = RetryPolicy(retries=0)


def vector(*pairs: tuple[str, float], at: float = NOW.timestamp()) -> dict[str, Any]:
    result = [{"metric": {"directory": name}, "value": [at, str(value)]} for name, value in pairs]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


@dataclass
class StandIn:
    """What the stand-in answers next: *status* and *body* (JSON-encoded unless bytes), or
    nothing at all while *hang* is set; every request's path, arguments and headers."""

    port: int = 0
    status: int = 200
    body: Any = None
    hang: bool = False
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Answer(web.RequestHandler):
    def initialize(self, stand_in: StandIn) -> None:
        self.stand_in = stand_in

    async def get(self, _path: str) -> None:
        stand_in = self.stand_in
        arguments = {key: self.get_argument(key) for key in self.request.arguments}
        stand_in.requests.append((self.request.path, arguments, dict(self.request.headers)))
        while stand_in.hang:
            await asyncio.sleep(0.05)
        self.set_status(stand_in.status)
        body = stand_in.body
        self.finish(body if isinstance(body, bytes) else json.dumps(body))


@pytest.fixture
async def stand_in() -> AsyncIterator[StandIn]:
    stand_in = StandIn(body=vector(("ada", 10)))
    sockets = bind_sockets(0, "127.0.0.1")
    stand_in.port = sockets[0].getsockname()[1]
    server = HTTPServer(web.Application([(r"/(.*)", Answer, {"stand_in": stand_in})]))
    server.add_sockets(sockets)
    yield stand_in
    stand_in.hang = False
    server.stop()
    await server.close_all_connections()


def reader(stand_in: StandIn, **kwargs: Any) -> PrometheusReader:
    return PrometheusReader(stand_in.url, retry_policy=NO_RETRY, **kwargs)


# -- the Prometheus reader --------------------------------------------------------------


async def test_an_instant_query_now_and_at_a_time(stand_in):
    prometheus = reader(stand_in, timeout=7.5)
    result = await prometheus.query("dirsize_total_size_bytes")
    assert [(s.labels["directory"], s.value) for s in result.samples] == [("ada", 10.0)]
    at = datetime(2026, 11, 30, 23, 59, 59, 999000, tzinfo=UTC)
    await prometheus.query("up", at)
    (path, first, _), (_, second, _) = stand_in.requests
    assert path == "/api/v1/query"
    assert first == {"query": "dirsize_total_size_bytes", "timeout": "7.5"}
    assert second == {"query": "up", "timeout": "7.5", "time": f"{at.timestamp():.3f}"}
    prometheus.close()


async def test_the_bearer_token_is_read_at_each_request_and_never_logged(
    stand_in, tmp_path, caplog
):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    prometheus = reader(stand_in, bearer_token_file=str(token_file))
    await prometheus.query("up")
    token_file.write_text("rotated-token")
    await prometheus.query("up")
    assert [headers["Authorization"] for _, _, headers in stand_in.requests] == [
        f"Bearer {TOKEN}",
        "Bearer rotated-token",
    ]
    # an error answer that echoes the request's headers: its body is not repeated
    token_file.write_text(TOKEN)
    stand_in.status, stand_in.body = 500, f"Authorization: Bearer {TOKEN}".encode()
    prometheus = PrometheusReader(
        stand_in.url,
        bearer_token_file=str(token_file),
        retry_policy=RetryPolicy(retries=1, backoff=0.01),
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceUnavailable) as raised:
        await prometheus.query("up")
    assert (raised.value.kind, raised.value.detail) == (ERROR, "HTTP 500")
    assert "retry 1/1" in caplog.text
    assert TOKEN not in caplog.text + str(raised.value)


async def test_a_token_file_that_cannot_be_read_asks_nothing(stand_in, tmp_path):
    prometheus = reader(stand_in, bearer_token_file=str(tmp_path / "missing"))
    with pytest.raises(SourceUnavailable) as raised:
        await prometheus.query("up")
    assert raised.value.kind == MISCONFIGURED
    assert "Onboarding.prometheus_bearer_token_file" in raised.value.detail
    (tmp_path / "blank").write_text("\n")
    with pytest.raises(SourceUnavailable, match="holds no token"):
        await reader(stand_in, bearer_token_file=str(tmp_path / "blank")).query("up")
    assert stand_in.requests == []


async def test_nothing_listening_is_unreachable():
    prometheus = PrometheusReader(f"http://127.0.0.1:{free_port()}", retry_policy=NO_RETRY)
    with pytest.raises(SourceUnavailable) as raised:
        await prometheus.query("up")
    assert (raised.value.kind, raised.value.detail) == (UNREACHABLE, "connection refused")


async def test_no_answer_in_time_is_unreachable(stand_in):
    stand_in.hang = True
    with pytest.raises(SourceUnavailable) as raised:
        await reader(stand_in, timeout=0.3).query("up")
    assert (raised.value.kind, raised.value.detail) == (UNREACHABLE, "no answer within 0.3 s")


@pytest.mark.parametrize(
    ("status", "body", "kind", "detail"),
    [
        (403, {"status": "error"}, REFUSED, "HTTP 403"),
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": "parse error\nat char 3"},
            ERROR,
            "HTTP 400, bad_data: parse error at char 3",
        ),
        (200, {"status": "error", "errorType": "timeout", "error": "query timed out"}, ERROR, None),
        (200, b"<html>login</html>", GARBAGE, "answered no JSON"),
        (200, {"status": "success", "data": {"resultType": "matrix"}}, GARBAGE, "instant vector"),
        (502, b"bad gateway", ERROR, "HTTP 502"),
    ],
)
async def test_error_answers_and_garbage_are_told_apart(stand_in, status, body, kind, detail):
    stand_in.status, stand_in.body = status, body
    with pytest.raises(SourceUnavailable) as raised:
        await reader(stand_in).query("up")
    assert raised.value.kind == kind
    if detail is not None:
        assert detail in raised.value.detail


# -- the storage poller -----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_the_poller_keeps_the_last_figures_when_prometheus_fails(stand_in):
    clock = Clock()
    stand_in.body = vector(("ada", 100), ("grace", 300), ('"><script>', 5))
    poller = StoragePoller(reader(stand_in), query="q", clock=clock)
    state = await poller.read_once()
    assert state.current and state.figures is not None
    assert state.figures.summary.total_bytes == 405
    assert state.figures.by_user() == {"ada": 100, "grace": 300, '"><script>': 5}
    assert state.figures.measured_at == NOW
    clock.now = NOW + timedelta(hours=1)
    stand_in.status, stand_in.body = 503, b"down"
    state = await poller.read_once()
    assert not state.current
    assert state.figures is not None and state.figures.measured_at == NOW
    assert state.figures.summary.total_bytes == 405
    assert state.problem is not None and state.problem.at == clock.now
    assert state.checked_at == clock.now
    assert state.problem.message() == "Prometheus answered an error (HTTP 503)"
    # the next good read replaces both
    stand_in.status, stand_in.body = 200, vector(("ada", 1), at=clock.now.timestamp())
    state = await poller.read_once()
    assert state.current and state.figures is not None
    assert (state.figures.summary.total_bytes, state.figures.measured_at) == (1, clock.now)


async def test_no_series_with_the_label_is_no_data_not_zero(stand_in):
    stand_in.body = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "5"]}]},
    }
    poller = StoragePoller(reader(stand_in), query="q", clock=Clock())
    state = await poller.read_once()
    assert state.figures is None
    assert state.problem is not None and state.problem.kind == NO_DATA


async def test_owners_come_from_the_hubs_users_under_a_kubespawner_scheme(stand_in):
    stand_in.body = vector(("user-40example-2eorg", 7), ("_shared", 50), ("ada", 3))
    poller = StoragePoller(
        reader(stand_in),
        query="q",
        naming=DirectoryNaming("escape"),
        usernames=lambda: ["user@example.org", "ada"],
        clock=Clock(),
    )
    state = await poller.read_once()
    assert state.figures is not None
    assert state.figures.by_user() == {"user@example.org": 7, "ada": 3}
    assert state.figures.summary.directories == 3


async def test_the_poller_reads_every_interval_and_sooner_after_a_failure(stand_in):
    waits: list[float] = []
    done = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        stand_in.status = 503 if len(waits) == 1 else 200
        if len(waits) == 3:
            done.set()
            await asyncio.Event().wait()

    poller = StoragePoller(
        reader(stand_in), query="q", interval=3600, retry_interval=300, sleep=sleep
    )
    poller.start()
    await asyncio.wait_for(done.wait(), 10)
    await poller.stop()
    assert waits == [3600, 300, 3600]


# -- the cost reader --------------------------------------------------------------------


def endpoint(stand_in: StandIn, **kwargs: Any) -> JsonSource:
    return JsonSource(stand_in.url + "/monthly", retry_policy=NO_RETRY, **kwargs)


async def test_a_months_cost_from_the_endpoint(stand_in):
    stand_in.body = {
        "month": "2026-10",
        "amount": 1234.56,
        "currency": "EUR",
        "groups": [{"group": "physics", "amount": 34.56}],
    }
    costs = CostReader(endpoint=endpoint(stand_in), clock=Clock())
    figures = await costs.month_cost("2026-10")
    assert (figures.amount, figures.currency, figures.source) == (1234.56, "EUR", "url")
    assert [(g.group, g.amount) for g in figures.groups] == [("physics", 34.56)]
    assert stand_in.requests[0][:2] == ("/monthly", {"month": "2026-10"})
    # kept for a while: asked again, the endpoint is not
    assert await costs.month_cost("2026-10") == figures
    assert len(stand_in.requests) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, {"message": "no such month"}), (200, {"month": "2026-10", "amount": None})],
)
async def test_a_month_without_a_figure_is_not_available(stand_in, status, body):
    stand_in.status, stand_in.body = status, body
    figures = await CostReader(endpoint=endpoint(stand_in), clock=Clock()).month_cost("2026-10")
    assert figures.amount is None and figures.problem is None and figures.source == "url"


async def test_a_failing_endpoint_is_not_available_with_the_reason(stand_in):
    clock = Clock()
    stand_in.body = {"month": "2026-09", "amount": 5}
    costs = CostReader(endpoint=endpoint(stand_in), clock=clock)
    figures = await costs.month_cost("2026-10")
    assert figures.amount is None
    assert figures.problem == (
        "The cost endpoint answered something unexpected "
        "(asked for month 2026-10, the answer is for '2026-09')"
    )
    # a failure is asked again after a minute, not after the cache's quarter hour
    stand_in.body = {"month": "2026-10", "amount": 5}
    assert (await costs.month_cost("2026-10")).amount is None
    clock.now += timedelta(seconds=61)
    assert (await costs.month_cost("2026-10")).amount == 5


async def test_the_endpoint_gets_its_own_bearer_token(stand_in, tmp_path):
    (tmp_path / "token").write_text(TOKEN)
    stand_in.body = {"month": "2026-10", "amount": 1}
    source = endpoint(stand_in, token_file=str(tmp_path / "token"))
    await CostReader(endpoint=source, clock=Clock()).month_cost("2026-10")
    assert stand_in.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"


async def test_no_cost_source_is_not_available():
    costs = CostReader(currency="EUR")
    figures = await costs.month_cost("2026-10")
    assert (figures.amount, figures.source, figures.currency) == (None, "none", "EUR")
    with pytest.raises(ValueError, match="YYYY-MM"):
        await costs.month_cost("October")


async def test_a_cost_query_is_evaluated_at_the_months_end(stand_in):
    stand_in.body = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"team": "physics"}, "value": [1, "10.5"]},
                {"metric": {"team": "bio"}, "value": [1, "20"]},
                {"metric": {}, "value": [1, "1"]},
            ],
        },
    }
    costs = CostReader(
        prometheus=reader(stand_in),
        query="sum by (team) (sum_over_time(cost[$__range:1h]))",
        group_label="team",
        clock=Clock(),
    )
    figures = await costs.month_cost("2026-02")
    assert (figures.amount, figures.source) == (31.5, "prometheus")
    assert [(g.group, g.amount) for g in figures.groups] == [("bio", 20.0), ("physics", 10.5)]
    (_, arguments, _) = stand_in.requests[0]
    assert arguments["query"] == "sum by (team) (sum_over_time(cost[2419200s:1h]))"
    end = datetime(2026, 3, 1, tzinfo=UTC) - timedelta(milliseconds=1)
    assert arguments["time"] == f"{end.timestamp():.3f}"


async def test_sizes_stand_without_owners_when_the_usernames_cannot_be_read(stand_in, caplog):
    def broken() -> list[str]:
        raise OSError("database is locked")

    stand_in.body = vector(("ada", 3))
    poller = StoragePoller(
        reader(stand_in), query="q", naming=DirectoryNaming("safe"), usernames=broken
    )
    with caplog.at_level(logging.WARNING):
        state = await poller.read_once()
    assert state.current and state.figures is not None
    assert state.figures.summary.total_bytes == 3 and state.figures.by_user() == {}
    assert "usernames not read (OSError)" in caplog.text
