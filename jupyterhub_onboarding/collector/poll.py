"""Polling every hub's status API: concurrent, bounded, retried, never raising for the network."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.simple_httpclient import HTTPTimeoutError

from .. import __version__
from ..retry import RetryPolicy
from .hubsfile import HubEntry, TokenError, read_token


@dataclass(frozen=True)
class PollSettings:
    """How hubs are polled."""

    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.5
    concurrency: int = 8
    max_response_bytes: int = 1_000_000

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.retries, backoff=self.backoff)

    def worst_case_seconds(self) -> float:
        """The longest one hub can take: every attempt timing out, plus the waits between."""
        return self.timeout * (self.retries + 1) + self.retry_policy.total_delay()


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


class _WorthRetrying(Exception):
    """An attempt that failed in a way another attempt may not (a 5xx, a refused connection)."""

    def __init__(self, attempt: _Attempt) -> None:
        super().__init__(attempt.error)
        self.attempt = attempt


def _redact(message: str, token: str) -> str:
    return message.replace(token, "[token]") if token else message


def redact_document(value: Any, token: str) -> Any:
    """*value* (parsed JSON) with *token* replaced by ``[token]`` in every string and key.

    A broken or hostile hub may echo the request's token anywhere in its answer; nothing of
    the answer reaches a report before this.
    """
    if isinstance(value, str):
        return _redact(value, token)
    if isinstance(value, list):
        return [redact_document(item, token) for item in value]
    if isinstance(value, dict):
        return {_redact(key, token): redact_document(item, token) for key, item in value.items()}
    return value


def _from_response(code: int, body: bytes, token: str) -> _Attempt:
    if code == 200:
        try:
            document = redact_document(json.loads(body), token)
        except RecursionError:
            return _Attempt(reachable=True, error="malformed JSON (nested too deeply)")
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
    attempts = 0

    async def once() -> _Attempt:
        nonlocal attempts
        attempts += 1
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
                attempt = _from_response(response.code, bytes(body.data), token)
        if body.exceeded:
            attempt = _Attempt(
                reachable=True, error=f"answer larger than {settings.max_response_bytes} bytes"
            )
        if attempt.retry:
            raise _WorthRetrying(attempt)
        return attempt

    try:
        attempt = await settings.retry_policy.call(
            once, retry_on=lambda error: isinstance(error, _WorthRetrying)
        )
    except _WorthRetrying as last:
        attempt = last.attempt
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
