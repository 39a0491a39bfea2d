"""GET JSON from an outside source (Prometheus, a cost endpoint), failing as a value.

Every failure becomes :class:`SourceUnavailable` with a kind (unreachable, refused, error,
garbage, misconfigured) and a detail that is safe to log and show: it never holds the
token, the URL's credentials or its query. The bearer token is read from its file at each
request, so a rotated token (a Kubernetes service account token) is picked up, and it is
never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

from ..core.sources import (
    ERROR,
    GARBAGE,
    MISCONFIGURED,
    REFUSED,
    UNREACHABLE,
    SourceProblem,
    clean_detail,
)
from ..retry import RetryPolicy

#: The largest answer read (a month of cost or ten thousand directories is far less).
MAX_BODY_BYTES = 64 * 1024 * 1024


class SourceUnavailable(Exception):
    """A read of an outside source failed; *kind* is one of :mod:`..core.sources`' kinds."""

    def __init__(
        self, kind: str, detail: str, *, retry: bool = False, code: int | None = None
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = clean_detail(detail)
        self.retry = retry
        #: the HTTP status of the answer, when there was one
        self.code = code

    def problem(self, source: str, at: datetime) -> SourceProblem:
        return SourceProblem(source, self.kind, self.detail, at)


def safe_url(url: str) -> str:
    """*url* without credentials, query or fragment: fit for a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def read_token(path: str, option: str) -> str:
    """The bearer token in the file at *path*; SourceUnavailable (naming *option*, never
    the token) when it cannot be read or is no token."""
    try:
        token = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SourceUnavailable(
            MISCONFIGURED, f"cannot read {option} ({type(error).__name__})"
        ) from None
    if not token or any(char.isspace() or not char.isprintable() for char in token):
        raise SourceUnavailable(MISCONFIGURED, f"{option} holds no token") from None
    return token


def _error_detail(error: HTTPClientError) -> str:
    """The words of an HTTP error: Prometheus's own error document when it sent one."""
    response = error.response
    if response is not None and response.body:
        try:
            body = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and body.get("status") == "error":
            kind = clean_detail(body.get("errorType", ""), 40)
            return f"HTTP {error.code}, {kind}: {clean_detail(body.get('error', ''))}"
    return f"HTTP {error.code}"


def _classify(error: BaseException, timeout: float) -> SourceUnavailable:
    if isinstance(error, HTTPClientError):
        if error.code == 599:
            reason = (error.message or "").lower()
            if "timeout" in reason:
                return SourceUnavailable(UNREACHABLE, f"no answer within {timeout:g} s", retry=True)
            return SourceUnavailable(UNREACHABLE, reason or "connection closed", retry=True)
        if error.code in (401, 403):
            return SourceUnavailable(REFUSED, f"HTTP {error.code}", code=error.code)
        return SourceUnavailable(
            ERROR, _error_detail(error), retry=error.code >= 500, code=error.code
        )
    if isinstance(error, ConnectionRefusedError):
        return SourceUnavailable(UNREACHABLE, "connection refused", retry=True)
    if isinstance(error, asyncio.TimeoutError):
        return SourceUnavailable(UNREACHABLE, f"no answer within {timeout:g} s", retry=True)
    return SourceUnavailable(UNREACHABLE, type(error).__name__, retry=True)


class JsonSource:
    """GETs JSON documents under *base_url*, with an optional bearer token file."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        token_file: str = "",
        file_option: str = "bearer token file",
        retry_policy: RetryPolicy | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token_file = token_file
        self.file_option = file_option
        self.retry_policy = retry_policy or RetryPolicy(retries=2, backoff=1.0)
        self.log = log or logging.getLogger(__name__)
        self._client = AsyncHTTPClient(force_instance=True, max_body_size=MAX_BODY_BYTES)

    def close(self) -> None:
        self._client.close()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token_file:
            token = read_token(self.token_file, self.file_option)
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def get_json(self, path: str = "", params: dict[str, str] | None = None) -> Any:
        """GET ``{base_url}{path}?{params}`` and decode JSON; SourceUnavailable otherwise.

        Connection errors and 5xx answers are retried with backoff; an answer that is no
        JSON is garbage.
        """
        url = self.base_url + path + ("?" + urlencode(params) if params else "")
        shown = safe_url(url)

        async def attempt() -> HTTPResponse:
            request = HTTPRequest(
                url,
                headers=self._headers(),
                connect_timeout=self.timeout,
                request_timeout=self.timeout,
            )
            try:
                return await self._client.fetch(request)
            except SourceUnavailable:
                raise
            except (HTTPClientError, OSError, asyncio.TimeoutError) as error:
                raise _classify(error, self.timeout) from None

        def log_retry(retry: int, delay: float, error: BaseException) -> None:
            self.log.warning(
                "GET %s failed (%s); retry %d/%d in %.1fs",
                shown,
                error,
                retry,
                self.retry_policy.retries,
                delay,
            )

        response = await self.retry_policy.call(
            attempt,
            retry_on=lambda error: isinstance(error, SourceUnavailable) and error.retry,
            before_retry=log_retry,
        )
        try:
            return json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            raise SourceUnavailable(GARBAGE, f"GET {shown} answered no JSON") from None
