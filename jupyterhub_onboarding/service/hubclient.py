"""An async client for the hub's REST API: pagination, timeouts, retries, bounded concurrency."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

from ..core.hubmodel import InvalidPage, Page, parse_page
from ..retry import RetryPolicy

PAGINATION_ACCEPT = "application/jupyterhub-pagination+json"


class HubAPIError(Exception):
    """A hub API request failed; the message is safe to log (no token, no usernames).
    *code* is the hub's HTTP status when it answered with an error (403: no scope)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class _Failed(Exception):
    """One attempt failed for *reason*; *retry* when another attempt may succeed."""

    def __init__(self, reason: str, retry: bool, code: int | None = None) -> None:
        super().__init__(reason)
        self.retry = retry
        self.code = code


@dataclass
class RequestCount:
    """How many requests a client made (for poll accounting and benchmarks)."""

    requests: int = 0


class HubClient:
    """Reads the hub's REST API with the service's token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 20.0,
        retries: int = 3,
        concurrency: int = 4,
        page_size: int = 200,
        backoff: float = 0.5,
        log: logging.Logger | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/") + "/"
        self._token = token
        self.timeout = timeout
        self.retries = retries
        self.page_size = page_size
        self.retry_policy = RetryPolicy(retries=retries, backoff=backoff)
        self.log = log or logging.getLogger(__name__)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._client = AsyncHTTPClient(force_instance=True)
        self.counter = RequestCount()

    def close(self) -> None:
        self._client.close()

    def _url(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = urljoin(self.api_url, path.lstrip("/"))
        if params:
            url += "?" + urlencode(params)
        return url

    def _same_origin(self, url: str) -> str:
        """Resolve a pagination ``next.url`` and keep it on the API's own host."""
        resolved = urljoin(self.api_url, url)
        api, nxt = urlsplit(self.api_url), urlsplit(resolved)
        if (nxt.scheme, nxt.netloc) != (api.scheme, api.netloc):
            # behind a proxy the hub may report its public address; ask our own address
            resolved = api._replace(path=nxt.path, query=nxt.query).geturl()
        return resolved

    async def get_json(
        self, url: str, *, accept: str = "application/json", log_url: str | None = None
    ) -> Any:
        """GET *url* and decode JSON, retrying connection errors and 5xx with backoff.

        Logs and errors name *log_url* instead of the URL when given (one naming a user).
        """
        headers = {"Authorization": f"token {self._token}", "Accept": accept}
        safe_url = log_url or url.split("?", 1)[0]

        async def attempt() -> HTTPResponse:
            request = HTTPRequest(
                url,
                headers=headers,
                connect_timeout=self.timeout,
                request_timeout=self.timeout,
            )
            try:
                async with self._semaphore:
                    self.counter.requests += 1
                    return await self._client.fetch(request)
            except HTTPClientError as error:
                reason = f"HTTP {error.code}"
                if error.code == 599:
                    # tornado's own reason: a timeout, or the hub closing the connection
                    reason = (error.message or "timeout").lower()
                code = None if error.code == 599 else error.code
                raise _Failed(reason, retry=error.code >= 500, code=code) from None
            except (OSError, asyncio.TimeoutError) as error:
                raise _Failed(type(error).__name__, retry=True) from None

        def log_retry(retry: int, delay: float, error: BaseException) -> None:
            self.log.warning(
                "Hub API GET %s failed (%s); retry %d/%d in %.1fs",
                safe_url,
                error,
                retry,
                self.retries,
                delay,
            )

        try:
            response = await self.retry_policy.call(
                attempt,
                retry_on=lambda error: isinstance(error, _Failed) and error.retry,
                before_retry=log_retry,
            )
        except _Failed as error:
            raise HubAPIError(f"GET {safe_url} failed: {error}", error.code) from None
        try:
            return json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            raise HubAPIError(f"GET {safe_url} answered something that is not JSON") from None

    async def get_user(self, name: str) -> Any:
        """The hub's model of the user called *name* (``GET /users/{name}``)."""
        url = self._url("users/" + quote(name, safe=""))
        return await self.get_json(url, log_url=self._url("users/{name}"))

    async def iter_user_pages(self, **params: Any) -> AsyncIterator[Page]:
        """Pages of ``GET /users`` with the pagination header, following ``next.url``."""
        query = {"limit": self.page_size, **params}
        url: str | None = self._url("users", query)
        while url is not None:
            body = await self.get_json(url, accept=PAGINATION_ACCEPT)
            try:
                page = parse_page(body)
            except InvalidPage as error:
                raise HubAPIError(f"hub answered an unexpected users page: {error}") from None
            if page.rejected:
                self.log.warning(
                    "Skipped %d malformed user entries from the hub: %s",
                    len(page.rejected),
                    "; ".join(page.rejected[:3]),
                )
            yield page
            url = self._same_origin(page.next_url) if page.next_url else None
