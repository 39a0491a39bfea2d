"""``jupyterhub-onboarding collect``: poll the status API of many hubs, write one report.

The network part is here (hubs file, tokens, concurrent polling with retries); the rows and
output formats are in ``report.py`` and the optional history in ``collectstore.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.simple_httpclient import HTTPTimeoutError
from traitlets import Bool, Enum, Float, Integer, List, TraitError, Unicode, validate
from traitlets.config import Application
from traitlets.config.loader import ArgumentError

from . import __version__, checks, fees
from .clock import isoformat, utcnow
from .hubsfile import HubEntry, HubsFileError, TokenError, hubs_warnings, load_hubs, read_token
from .report import build_row, order_rows, render
from .rules import month_label, month_of, parse_month

# --- polling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollSettings:
    """How hubs are polled."""

    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.5
    concurrency: int = 8
    max_response_bytes: int = 1_000_000

    def backoff_before(self, attempt: int) -> float:
        """Seconds to wait before *attempt* (1 = the first retry)."""
        return self.backoff * 2 ** (attempt - 1)

    def worst_case_seconds(self) -> float:
        """The longest one hub can take: every attempt timing out, plus the waits between."""
        waits = sum(self.backoff_before(attempt) for attempt in range(1, self.retries + 1))
        return self.timeout * (self.retries + 1) + waits


@dataclass(frozen=True)
class Answer:
    """What one hub gave: a parsed JSON document, or an error."""

    hub: HubEntry
    document: Any = None
    reachable: bool = False
    error: str | None = None
    attempts: int = 0


@dataclass(frozen=True)
class _Attempt:
    document: Any = None
    reachable: bool = False
    error: str | None = None
    retry: bool = False


class _LimitedBody:
    """Collects a response body up to *limit* bytes and notes when there was more.

    Past the limit, chunks are dropped rather than the connection aborted (tornado logs an
    exception raised in a streaming callback); the request timeout still bounds the time.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.data = bytearray()
        self.exceeded = False

    def append(self, chunk: bytes) -> None:
        if self.exceeded or len(self.data) + len(chunk) > self.limit:
            self.exceeded = True
            self.data.clear()
            return
        self.data.extend(chunk)


def _from_response(code: int, body: bytes) -> _Attempt:
    if code == 200:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _Attempt(reachable=True, error="malformed JSON")
        return _Attempt(document=document, reachable=True)
    if code in (401, 403):
        return _Attempt(
            reachable=True,
            error=f"HTTP {code}: token refused (it needs access:services!service=onboarding)",
        )
    if code == 404:
        return _Attempt(reachable=True, error="HTTP 404: no status API at this URL")
    if 300 <= code < 400:
        return _Attempt(reachable=True, error=f"HTTP {code}: redirected; check the status URL")
    return _Attempt(reachable=True, error=f"HTTP {code}", retry=code >= 500)


def _from_exception(error: BaseException, timeout: float) -> _Attempt:
    if isinstance(error, HTTPTimeoutError):
        # not retried: a hub that hangs costs one timeout, not one per attempt
        return _Attempt(error=f"timed out after {timeout:g} s")
    if isinstance(error, HTTPClientError):
        # 599 without a response: the connection closed, or the answer was too large.
        return _Attempt(error="connection closed before a complete answer", retry=True)
    if isinstance(error, ssl.SSLCertVerificationError):
        return _Attempt(error="TLS certificate verification failed")
    if isinstance(error, ssl.SSLError):
        return _Attempt(error="TLS handshake failed")
    if isinstance(error, ConnectionRefusedError):
        return _Attempt(error="connection refused", retry=True)
    if isinstance(error, socket.gaierror):
        return _Attempt(error="host name not found", retry=True)
    if isinstance(error, OSError):
        return _Attempt(
            error=f"connection error ({error.strerror or type(error).__name__})", retry=True
        )
    return _Attempt(error=f"request failed ({type(error).__name__})")


def _redact(message: str, token: str) -> str:
    return message.replace(token, "[token]") if token else message


async def fetch_status(
    client: AsyncHTTPClient,
    hub: HubEntry,
    token: str,
    settings: PollSettings,
    semaphore: asyncio.Semaphore,
) -> Answer:
    """GET the hub's status with retries and backoff; never raises for network trouble."""
    headers = {
        "Authorization": f"token {token}",
        "Accept": "application/json",
        "User-Agent": f"jupyterhub-onboarding-collect/{__version__}",
    }
    attempt = _Attempt()
    attempts = 0
    for attempts in range(1, settings.retries + 2):
        if attempts > 1:
            await asyncio.sleep(settings.backoff_before(attempts - 1))
        body = _LimitedBody(settings.max_response_bytes)
        request = HTTPRequest(
            hub.status_url,
            method="GET",
            headers=headers,
            connect_timeout=settings.timeout,
            request_timeout=settings.timeout,
            follow_redirects=False,
            validate_cert=hub.verify_tls,
            ca_certs=str(hub.ca_file) if hub.ca_file else None,
            streaming_callback=body.append,
        )
        async with semaphore:
            try:
                response = await client.fetch(request, raise_error=False)
            except Exception as error:
                attempt = _from_exception(error, settings.timeout)
            else:
                attempt = _from_response(response.code, bytes(body.data))
        if body.exceeded:
            attempt = _Attempt(
                reachable=True, error=f"answer larger than {settings.max_response_bytes} bytes"
            )
        if not attempt.retry:
            break
    error = attempt.error
    if error is not None:
        if attempts > 1:
            error = f"{error} ({attempts} attempts)"
        error = _redact(error, token)
    return Answer(
        hub=hub,
        document=attempt.document,
        reachable=attempt.reachable,
        error=error,
        attempts=attempts,
    )


async def poll_hubs(
    hubs: Sequence[HubEntry],
    settings: PollSettings,
    environ: Mapping[str, str] | None = None,
    on_answer: Callable[[Answer], None] | None = None,
) -> list[Answer]:
    """Poll every hub, at most ``settings.concurrency`` at once; answers in *hubs* order."""
    environ = os.environ if environ is None else environ
    client = AsyncHTTPClient(force_instance=True, max_clients=settings.concurrency)
    semaphore = asyncio.Semaphore(settings.concurrency)

    async def poll(hub: HubEntry) -> Answer:
        try:
            token = read_token(hub, environ)
        except TokenError as error:
            answer = Answer(hub=hub, error=str(error))
        else:
            answer = await fetch_status(client, hub, token, settings, semaphore)
        if on_answer is not None:
            on_answer(answer)
        return answer

    try:
        return list(await asyncio.gather(*(poll(hub) for hub in hubs)))
    finally:
        client.close()


# --- the application ------------------------------------------------------------------------


class CollectApp(Application):
    """Poll the onboarding status API of many hubs and write one report."""

    name = "jupyterhub-onboarding-collect"
    version = __version__
    raise_config_file_errors = True
    description = """Polls GET {hub}/services/onboarding/api/v1/status on every hub of a hubs
    file, concurrently, and writes one report: a terminal table, JSON, CSV or static HTML.
    A hub that cannot be polled is a row with its error. Exit status: 0 when every hub
    answered, 1 when any did not (or the run could not be stored), 2 for usage or
    configuration errors. See docs/collector.md."""
    examples = """
    jupyterhub-onboarding collect --hubs hubs.yaml
    jupyterhub-onboarding collect --hubs hubs.yaml --format csv --output report.csv
    jupyterhub-onboarding collect --hubs hubs.yaml --month 2026-10 --format html --output oct.html
    jupyterhub-onboarding collect --hubs hubs.yaml --store history.sqlite
    """

    aliases = {
        "backoff": "CollectApp.backoff",
        "concurrency": "CollectApp.concurrency",
        "config": "CollectApp.config_file",
        "format": "CollectApp.report_format",
        "hubs": "CollectApp.hubs_file",
        "log-level": "Application.log_level",
        "month": "CollectApp.month",
        "output": "CollectApp.output",
        "retries": "CollectApp.retries",
        "service-name": "CollectApp.service_name",
        "store": "CollectApp.store",
        "timeout": "CollectApp.timeout",
    }
    flags = {
        "debug": ({"Application": {"log_level": 10}}, "Log at DEBUG level."),
        "no-progress": (
            {"CollectApp": {"progress": False}},
            "Never show the progress bar (it only shows on a terminal anyway).",
        ),
    }

    backoff = Float(
        0.5,
        help="""Seconds before the first retry of a hub; each further retry waits twice as
        long. Example: --backoff 1.""",
    ).tag(config=True)

    concurrency = Integer(
        8,
        help="""At most this many hubs are polled at once. Example: --concurrency 16.""",
    ).tag(config=True)

    config_file = Unicode(
        "",
        help="""A Python config file to load (c.CollectApp.timeout = 5, ...). Empty: none.""",
    ).tag(config=True)

    fee_tiers = List(
        default_value=[list(tier) for tier in fees.DEFAULT_TIERS],
        help="""Graduated usage-fee tiers used to recompute a past month's fee (--month) as
        [upper_bound, price_per_user] pairs, the last with upper_bound None. The current
        month uses each hub's own estimate. Default:
        [[10, 10.0], [100, 5.0], [1000, 2.5], [10000, 1.25], [None, 0.0]].""",
    ).tag(config=True)

    @validate("fee_tiers")
    def _check_tiers(self, proposal):
        return checks.fee_tiers(proposal)

    hubs_file = Unicode(
        "",
        help="""The hubs file (YAML) listing every hub to poll. Required. Example:
        --hubs hubs.yaml. Format: docs/collector.md.""",
    ).tag(config=True)

    max_response_bytes = Integer(
        1_000_000,
        help="""Largest status answer accepted from a hub, in bytes.""",
    ).tag(config=True)

    month = Unicode(
        "",
        help="""Report this UTC calendar month (YYYY-MM) from each hub's MAU history, with the
        fee recomputed from fee_tiers. Empty: the hubs' current month. Example: --month 2026-10.""",
    ).tag(config=True)

    @validate("month")
    def _check_month(self, proposal):
        value = proposal["value"].strip()
        if value:
            try:
                parse_month(value)
            except ValueError:
                raise TraitError(
                    f"CollectApp.month must look like YYYY-MM (e.g. 2026-10), got {value!r}"
                ) from None
        return value

    output = Unicode(
        "",
        help="""Write the report to this file. Empty or '-': standard output.
        Example: --output report.csv.""",
    ).tag(config=True)

    progress = Bool(
        True,
        help="""Show a progress bar while polling, when standard error is a terminal.""",
    ).tag(config=True)

    report_format = Enum(
        ["table", "json", "csv", "html"],
        default_value="table",
        help="""Report format: 'table' (terminal), 'json', 'csv' (one row per hub) or 'html'
        (a self-contained page). Example: --format csv.""",
    ).tag(config=True)

    retries = Integer(
        2,
        help="""Retries of a hub after a connection error or an HTTP 5xx, with exponential
        backoff. A timeout is not retried: a hanging hub costs one timeout.""",
    ).tag(config=True)

    service_name = Unicode(
        "onboarding",
        help="""The service's name in the hubs, used to derive a status URL from hub_url
        ({hub_url}/services/{service_name}/api/v1/status). A hub entry may override it.""",
    ).tag(config=True)

    store = Unicode(
        "",
        help="""Append each run to this database: a path (an SQLite file) or an SQLAlchemy
        URL (sqlite:///runs.sqlite, postgresql+psycopg://user:password@host/dbname).
        Empty: runs are not stored.""",
    ).tag(config=True)

    timeout = Float(
        10.0,
        help="""Seconds before one request to a hub is abandoned (connecting included).""",
    ).tag(config=True)

    @validate("backoff")
    def _check_backoff(self, proposal):
        return checks.at_least(proposal, 0)

    @validate("timeout")
    def _check_timeout(self, proposal):
        return checks.above_zero(proposal)

    @validate("concurrency", "max_response_bytes")
    def _check_positive(self, proposal):
        return checks.at_least(proposal, 1)

    @validate("retries")
    def _check_retries(self, proposal):
        return checks.at_least(proposal, 0)

    #: The clock for run times and the month check; tests replace it.
    clock = staticmethod(utcnow)

    def usage_error(self, message: str) -> None:
        """Log *message* and exit with status 2."""
        self.log.error("%s", message)
        self.exit(2)

    def initialize(self, argv=None):
        # Application's parse_command_line and load_config_file exit 1 on a bad value (their
        # catch_config_error decorator); the collector's contract is 2 for every usage or
        # configuration error, so call them undecorated and handle the errors here.
        parse = _undecorated(Application.parse_command_line)
        load = _undecorated(Application.load_config_file)
        try:
            parse(self, argv)
        except (TraitError, ArgumentError) as error:
            self.usage_error(str(error))
        if self.config_file:
            path = Path(self.config_file)
            if not path.is_file():
                self.usage_error(f"config file {path} does not exist")
            try:
                # Command-line values keep priority over the file's.
                load(self, path.name, path=str(path.parent))
            except Exception as error:
                self.usage_error(f"config file {path}: {type(error).__name__}: {error}")
        if self.extra_args:
            self.usage_error(f"unexpected argument(s): {' '.join(self.extra_args)}")
        known = {cls.__name__ for cls in type(self).__mro__}
        unknown = sorted(key for key in self.cli_config if key not in known)
        if unknown:
            self.usage_error(f"unknown option(s): {', '.join('--' + key for key in unknown)}")

    def poll_settings(self) -> PollSettings:
        return PollSettings(
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
            concurrency=self.concurrency,
            max_response_bytes=self.max_response_bytes,
        )

    def _check_usage(self) -> list[HubEntry]:
        if not self.hubs_file:
            self.usage_error("--hubs is required: the YAML file listing the hubs to poll")
        if self.month and parse_month(self.month) > month_of(self.clock()):
            self.usage_error(f"--month {self.month} is in the future")
        if self.output not in ("", "-") and not Path(self.output).parent.is_dir():
            self.usage_error(f"the directory of --output {self.output} does not exist")
        try:
            return load_hubs(Path(self.hubs_file), self.service_name)
        except HubsFileError as error:
            self.usage_error(str(error))
            raise  # not reached: usage_error exits

    def _open_store(self):
        from sqlalchemy.exc import SQLAlchemyError

        from .collectstore import RunStore, display_url, store_url

        try:
            url = store_url(self.store)
        except ValueError as error:
            self.usage_error(f"--store: {error}")
        store = RunStore(url)
        try:
            store.create_tables()
        except SQLAlchemyError as error:
            store.close()
            self.usage_error(f"cannot open the store {display_url(url)}: {_db_reason(error)}")
        return store

    async def _poll(self, hubs: Sequence[HubEntry]) -> list[Answer]:
        from tqdm import tqdm

        show = self.progress and sys.stderr.isatty()
        with tqdm(
            total=len(hubs),
            desc="hubs",
            unit="hub",
            file=sys.stderr,
            disable=not show,
            leave=False,
        ) as bar:
            return await poll_hubs(hubs, self.poll_settings(), on_answer=lambda _: bar.update())

    def write(self, text: str) -> None:
        if self.output in ("", "-"):
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        newline = "" if self.report_format == "csv" else None
        with open(self.output, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(text)

    def start(self):
        hubs = self._check_usage()
        for warning in hubs_warnings(hubs):
            self.log.warning("%s", warning)
        store = self._open_store() if self.store else None

        started_at = self.clock()
        answers = asyncio.run(self._poll(hubs))
        finished_at = self.clock()

        month = self.month or None
        tiers = fees.validate_tiers(self.fee_tiers)
        rows = order_rows(
            build_row(
                answer.hub.name,
                answer.hub.url,
                answer.document,
                reachable=answer.reachable,
                error=answer.error,
                month=month,
                tiers=tiers,
            )
            for answer in answers
        )
        generated_at = isoformat(finished_at) or ""
        try:
            self.write(render(self.report_format, rows, month=month, generated_at=generated_at))
        except OSError as error:
            self.usage_error(f"cannot write --output {self.output}: {error.strerror}")

        failed = [row for row in rows if not row.answered]
        for row in failed:
            self.log.warning("hub %r: %s", row.hub, row.error)
        self.log.info(
            "%d hubs, %d answered, %d failed, month %s, %.2f s",
            len(rows),
            len(rows) - len(failed),
            len(failed),
            month or month_label(month_of(finished_at)),
            (finished_at - started_at).total_seconds(),
        )
        stored = self._store_run(store, rows, started_at, finished_at, month)
        if failed or not stored:
            self.exit(1)

    def _store_run(self, store, rows, started_at: datetime, finished_at: datetime, month):
        if store is None:
            return True
        from sqlalchemy.exc import SQLAlchemyError

        from .collectstore import display_url

        try:
            run_id = store.append(rows, started_at=started_at, finished_at=finished_at, month=month)
        except SQLAlchemyError as error:
            self.log.error(
                "could not store the run in %s: %s", display_url(store.url), _db_reason(error)
            )
            return False
        finally:
            store.close()
        self.log.info("stored run %d in %s", run_id, display_url(store.url))
        return True


def _undecorated(method: Callable[..., Any]) -> Callable[..., Any]:
    """*method* without the decorators that ``functools.wraps`` recorded."""
    return getattr(method, "__wrapped__", method)


def _db_reason(error: Exception) -> str:
    """The first line of a database error, without the statement or its parameters."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__
