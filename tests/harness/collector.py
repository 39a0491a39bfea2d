"""For the collector's tests: stand-in status endpoints, status documents, a CLI runner.

The fixtures on them (``stand_in``, ``tls_stand_in``, ``postgres_url``) are in
``tests/collector/conftest.py``. The stand-in is a small tornado app on a free loopback
port, in the test's own event loop.
Its valid answers are built by the service's own writer (``core.status.write``) from a
snapshot, so they follow the real contract.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import os
import re
import secrets
import socket
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, func, select
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from harness import ROOT
from jupyterhub_onboarding.collector.hubsfile import HubEntry
from jupyterhub_onboarding.collector.rows import COLUMNS
from jupyterhub_onboarding.collector.store import collect_hub_rows, collect_runs
from jupyterhub_onboarding.core.checklist import OnboardingRecord
from jupyterhub_onboarding.core.clock import utcnow
from jupyterhub_onboarding.core.events import Event
from jupyterhub_onboarding.core.rules import add_months, month_label, month_of
from jupyterhub_onboarding.core.snapshot import (
    Aggregates,
    MonthCount,
    Settings,
    TrackerState,
    build_snapshot,
)
from jupyterhub_onboarding.core.status.model import GroupUsage
from jupyterhub_onboarding.core.status.write import build_status, report_section, to_json
from jupyterhub_onboarding.core.usage import MonthUsage, UsageFigures

STATUS_PATH = "services/onboarding/api/v1/status"


def months_back(now: datetime, count: int) -> str:
    """The ``YYYY-MM`` label *count* months before the month of *now*."""
    return month_label(add_months(month_of(now), -count))


def make_status(
    *,
    now: datetime,
    live_days_ago: float,
    logged_in: int,
    started_server: int,
    months: dict[str, tuple[int, int]],
    rolling_30d: int,
    billing_basis: str = "login",
    polled_ago: float | None = 10,
    hub_url: str = "https://hub.example.org",
    usage: dict[str, tuple[int, float, float | None, int]] | None = None,
    events: Sequence[Event] | None = None,
    groups: dict[str, Sequence[GroupUsage]] | None = None,
    group_names: bool = False,
) -> dict[str, Any]:
    """A status document made by the service's own code from the given figures.

    *usage* maps a month to (sessions, server-hours, median minutes, peak servers), *groups*
    a month to its groups' figures (sent named only with *group_names*, as
    ``Onboarding.report_group_names`` does).
    *events* (None: a service that predates events, with no ``events`` section and no
    ``schema_version``) become ``events.upcoming`` as the status handler makes it.
    """
    live_since = now - timedelta(days=live_days_ago)
    settings = Settings(
        hub_url=hub_url,
        live_since=live_since,
        billing_basis=billing_basis,
        report_group_names=group_names,
    )
    usage_months = dict(usage or {})
    for m in groups or {}:
        usage_months.setdefault(m, (0, 0.0, None, 0))
    nth = live_since + timedelta(days=3) if logged_in >= settings.first_value_threshold else None
    aggregates = Aggregates(
        users_logged_in=logged_in,
        users_started_server=started_server,
        nth_seen_at={"login": nth, "server": None},
        months=tuple(MonthCount(m, login, server) for m, (login, server) in sorted(months.items())),
        rolling={"24h": 0, "7d": 0, "14d": 0, "30d": rolling_30d},
        generating_window_active=rolling_30d,
        users_known=logged_in,
        usage=UsageFigures(
            months=tuple(
                MonthUsage(
                    m,
                    sessions=sessions,
                    server_hours=hours,
                    median_session_minutes=median,
                    peak_concurrent_servers=peak,
                    groups=tuple((groups or {}).get(m, ())),
                )
                for m, (sessions, hours, median, peak) in sorted(usage_months.items())
            )
        ),
    )
    tracker = TrackerState(
        last_success_at=None if polled_ago is None else now - timedelta(seconds=polled_ago)
    )
    snapshot = build_snapshot(aggregates, settings, tracker, now)
    report = report_section(
        snapshot, (), tier="essential", support_email="support@example.org", response_time=""
    )
    model = build_status(snapshot, record=OnboardingRecord(), report=report, events=events or ())
    document = to_json(model)
    if events is None:  # as a release before events (and schema_version) sends it
        del document["events"], document["schema_version"]
    return document


def make_event(
    now: datetime,
    *,
    days_ahead: float,
    title: str = "Midterm exam",
    kind: str = "exam",
    hours: float = 2,
    expected_attendees: int = 120,
    checklist: Sequence[str] = (),
    event_id: int = 1,
    cancelled: bool = False,
) -> Event:
    """An event of the service's own model starting *days_ahead* days after *now*."""
    start = now + timedelta(days=days_ahead)
    return Event(
        id=event_id,
        title=title,
        kind=kind,
        start=start,
        end=start + timedelta(hours=hours),
        expected_attendees=expected_attendees,
        notes="room 101, secret",
        contact="ta@example.org",
        checklist=frozenset(checklist),
        cancelled=cancelled,
    )


#: Characters a hub-supplied string must not carry into any report: C0 controls, DEL, C1
#: controls, the bidirectional marks, embeddings, overrides and isolates, invisible format
#: characters, line and paragraph separators and a lone surrogate (``"\ud800"`` in JSON
#: parses to one).
UNSAFE_CHARACTERS = (
    "\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b",
    "\u061c", "\u200b", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
    "\u2028", "\u2029", "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\ud800",
)  # fmt: skip


def unsafe_in(text: str) -> list[str]:
    """The unsafe characters in *text*, apart from its line ends (LF or CRLF)."""
    text = text.replace("\r\n", "").replace("\n", "")
    return [character for character in UNSAFE_CHARACTERS if character in text]


# --- stand-in endpoints ---------------------------------------------------------------------


@dataclass
class StandIn:
    """Loopback endpoints that answer like a hub's status API, or misbehave on purpose.

    ``hub_url(kind, name)`` is a hub URL whose derived status URL reaches the behaviour
    *kind*: ``ok`` (the document in ``documents[name]``, when the token matches
    ``tokens[name]``, else 403), ``error500`` (echoes the request's Authorization header in
    its body), ``unauthorized``, ``garbage`` (malformed JSON), ``shape`` (JSON of the wrong
    shape), ``hang`` (never answers until the stand-in stops), ``flaky`` (503 for the first
    ``flaky_failures`` requests), ``redirect``, ``huge`` (256 KiB of JSON, streamed),
    ``gate`` (see ``GateHandler``), ``echo`` (the document in ``documents[name]`` with the
    request's Authorization value as its ``version`` and in fields of its own, whatever the
    token) and ``deep`` (valid JSON nested deeper than a parser's recursion limit).
    """

    port: int = 0
    scheme: str = "http"
    documents: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    flaky_failures: int = 2
    gate_size: int = 1
    gate_total: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    arrivals: int = 0
    gate: asyncio.Condition = field(default_factory=asyncio.Condition)

    def hub_url(self, kind: str, name: str = "hub") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{kind}/{name}"


class _Base(web.RequestHandler):
    def initialize(self, stand_in: StandIn) -> None:
        self.stand_in = stand_in

    def prepare(self) -> None:
        self.stand_in.requests[self.request.path.split("/")[1]] += 1


class OkHandler(_Base):
    def get(self, name: str) -> None:
        expected = self.stand_in.tokens.get(name)
        if self.request.headers.get("Authorization") != f"token {expected}":
            raise web.HTTPError(403)
        self.set_header("Content-Type", "application/json")
        self.finish(self.stand_in.documents[name])


class Error500Handler(_Base):
    def get(self, name: str) -> None:
        self.set_status(500)
        self.finish(f"internal error; you sent {self.request.headers.get('Authorization')}")


class EchoHandler(_Base):
    """A broken or hostile hub: repeats the request's token in the status document."""

    def get(self, name: str) -> None:
        sent = self.request.headers.get("Authorization", "")
        document = copy.deepcopy(self.stand_in.documents[name])
        document["version"] = sent
        document["echo"] = {"authorization": sent, sent: [sent, {"again": sent}]}
        self.finish(document)


class DeepHandler(_Base):
    def get(self, name: str) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish("[" * 100_000 + "]" * 100_000)


class UnauthorizedHandler(_Base):
    def get(self, name: str) -> None:
        self.set_status(401)
        self.finish({"status": 401, "message": "Unauthorized"})


class GarbageHandler(_Base):
    def get(self, name: str) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish('{"version": "0.1.0", "first_value": {')


class ShapeHandler(_Base):
    def get(self, name: str) -> None:
        self.finish({"version": "0.1.0", "first_value": {"achieved": "yes"}})


class HangHandler(_Base):
    async def get(self, name: str) -> None:
        await self.stand_in.release.wait()
        self.finish({})


class FlakyHandler(_Base):
    def get(self, name: str) -> None:
        if self.stand_in.requests["flaky"] <= self.stand_in.flaky_failures:
            self.set_status(503)
            self.finish("try later")
            return
        self.finish(self.stand_in.documents[name])


class HugeHandler(_Base):
    async def get(self, name: str) -> None:
        self.set_header("Content-Type", "application/json")
        self.write('{"padding": "')
        for _ in range(64):
            self.write("x" * 4096)
            await self.flush()
        self.finish('"}')


class RedirectHandler(_Base):
    def get(self, name: str) -> None:
        self.redirect("/hub/login")


class GateHandler(_Base):
    """Holds requests until ``gate_size`` have been in flight at once (or all have arrived).

    A collector that polls one hub at a time never opens the gate (its hubs time out); one
    that exceeds its concurrency shows up in ``max_in_flight``.
    """

    async def get(self, name: str) -> None:
        stand_in = self.stand_in
        async with stand_in.gate:
            stand_in.in_flight += 1
            stand_in.arrivals += 1
            stand_in.max_in_flight = max(stand_in.max_in_flight, stand_in.in_flight)
            stand_in.gate.notify_all()
            await stand_in.gate.wait_for(
                lambda: (
                    stand_in.max_in_flight >= stand_in.gate_size
                    or stand_in.arrivals >= stand_in.gate_total
                    or stand_in.release.is_set()
                )
            )
            stand_in.in_flight -= 1
        self.finish(stand_in.documents[name])


HANDLERS = {
    "ok": OkHandler,
    "error500": Error500Handler,
    "echo": EchoHandler,
    "deep": DeepHandler,
    "unauthorized": UnauthorizedHandler,
    "garbage": GarbageHandler,
    "shape": ShapeHandler,
    "hang": HangHandler,
    "flaky": FlakyHandler,
    "redirect": RedirectHandler,
    "huge": HugeHandler,
    "gate": GateHandler,
}


async def start_stand_in(ssl_options: Any = None) -> tuple[StandIn, HTTPServer]:
    stand_in = StandIn(scheme="https" if ssl_options else "http")
    app = web.Application(
        [
            (rf"/{kind}/([\w-]+)/{STATUS_PATH}", handler, {"stand_in": stand_in})
            for kind, handler in HANDLERS.items()
        ]
    )
    sockets = bind_sockets(0, "127.0.0.1")
    stand_in.port = sockets[0].getsockname()[1]
    server = HTTPServer(app, ssl_options=ssl_options)
    server.add_sockets(sockets)
    return stand_in, server


async def stop_stand_in(stand_in: StandIn, server: HTTPServer) -> None:
    stand_in.release.set()
    async with stand_in.gate:
        stand_in.gate.notify_all()
    server.stop()
    await server.close_all_connections()


# --- hubs files and the CLI -----------------------------------------------------------------


def new_token() -> str:
    return "tok-" + secrets.token_hex(12)


def write_hubs(path: Path, hubs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"hubs": hubs}, sort_keys=False))
    return path


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float


async def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> CliRun:
    """Run ``python -m jupyterhub_onboarding collect ARGS`` in a subprocess, without blocking
    the event loop (stand-in endpoints in this loop keep answering)."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("JUPYTERHUB_")
    }
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), environment.get("PYTHONPATH", "")])
    )
    environment.update(env or {})
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jupyterhub_onboarding",
        "collect",
        *args,
        cwd=cwd,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"collect {' '.join(args)} did not finish in 180 s") from None
    return CliRun(
        process.returncode or 0, stdout.decode(), stderr.decode(), time.monotonic() - started
    )


# --- what the collector's tests share ----------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)>"


SUMMARY = re.compile(r"(\d+) hubs, (\d+) answered, (\d+) failed, month (\S+), ([\d.]+) s")


SECRET = "s3cr3t-value-never-shown"


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


def entry(stand_in, kind: str, name: str, **extra) -> HubEntry:
    url = stand_in.hub_url(kind, name)
    return HubEntry(
        name=name, status_url=f"{url}/{STATUS_PATH}", url=url, token_env=f"TOKEN_{name}", **extra
    )


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


async def store_twice(tmp_path, stand_in, store: str) -> dict[str, dict[str, str]]:
    hubs_file, env = mixed_hubs(tmp_path, stand_in, with_hang=False)
    args = ("--hubs", str(hubs_file), "--timeout", "2", "--retries", "0", "--store", store)
    first = await run_cli(*args, "--format", "csv", "--output", "report.csv", cwd=tmp_path, env=env)
    second = await run_cli(*args, "--format", "json", cwd=tmp_path, env=env)
    assert first.returncode == second.returncode == 1, first.stderr + second.stderr
    return csv_rows((tmp_path / "report.csv").read_text())


def check_stored(url: str, report: dict[str, dict[str, str]]) -> None:
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
