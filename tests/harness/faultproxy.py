"""A loopback HTTP proxy in front of the hub API that can break the users listing on demand.

The service is pointed at it with ``c.Onboarding.hub_api_url = proxy.api_url``. Every request
is forwarded to the real hub, except ``GET /hub/api/users`` (the listing the tracker polls),
which follows the current :attr:`FaultProxy.mode`:

- ``"ok"``: forwarded unchanged
- ``"down"``: the connection is closed without an answer
- ``"500"``: ``500 Internal Server Error`` with a JSON body
- ``"hang"``: no answer until the mode changes (or ``max_hang`` seconds pass)
- ``"truncated"``: the hub's real answer cut in half (status 200, invalid JSON)
- ``"garbage"``: valid JSON in a shape that is not a page of users
- ``"junk-items"``: a page whose every entry is a malformed user model

Token checks (``/hub/api/user``), the OAuth token exchange and everything else keep working,
so the service's status can still be read while its polls fail. The proxy runs a tornado
loop on a background thread; switch modes from the test thread with :meth:`set_mode`.

    proxy = FaultProxy()
    proxy.start()                    # listens on proxy.port at once
    proxy.upstream = hub.url         # where to forward (can be set after start)
    proxy.set_mode("500")
    ...
    proxy.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

MODES = ("ok", "down", "500", "hang", "truncated", "garbage", "junk-items")
LISTING_PATH = "/hub/api/users"
#: Headers never copied between the two connections.
HOP_HEADERS = {
    "connection",
    "content-length",
    "keep-alive",
    "transfer-encoding",
    "content-encoding",
    "host",
}


class _Handler(web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

    def initialize(self, proxy: FaultProxy) -> None:
        self.proxy = proxy

    def check_xsrf_cookie(self) -> None:  # a proxy, not an application
        return None

    async def _handle(self) -> None:
        proxy = self.proxy
        is_listing = self.request.method == "GET" and self.request.path == LISTING_PATH
        if is_listing:
            proxy.listing_requests += 1
            auth = self.request.headers.get("Authorization", "")
            if auth.startswith("token "):
                proxy.seen_tokens.add(auth[len("token ") :])
            mode = proxy.mode
            if mode == "down":
                self.request.connection.detach().close()
                return
            if mode == "500":
                self.set_status(500)
                self.finish(json.dumps({"status": 500, "message": "injected failure"}))
                return
            if mode == "hang":
                await proxy.wait_for_release()
                # the client has long given up; answer something anyway
                self.set_status(503)
                self.finish("")
                return
            if mode == "garbage":
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps({"users": "nope", "_pagination": 7}))
                return
            if mode == "junk-items":
                self.set_header("Content-Type", "application/json")
                junk = [None, 3, {"name": ""}, {"name": "x", "admin": "yes"}, ["a"]]
                self.finish(json.dumps({"items": junk, "_pagination": {"total": len(junk)}}))
                return
        code, headers, body = await self._forward()
        if is_listing and proxy.mode == "truncated" and code == 200:
            body = body[: max(1, len(body) // 2)]
        self.set_status(code)
        for name, value in headers:
            if name.lower() not in HOP_HEADERS:
                self.add_header(name, value)
        if body or self.request.method != "HEAD":
            self.finish(body)
        else:
            self.finish()

    async def _forward(self) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = self.proxy.upstream
        if upstream is None:
            return 502, [], b"no upstream configured"
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in HOP_HEADERS}
        request = HTTPRequest(
            upstream.rstrip("/") + self.request.uri,
            method=self.request.method,
            headers=headers,
            body=self.request.body if self.request.method in ("POST", "PUT", "PATCH") else None,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            request_timeout=60,
            decompress_response=False,
        )
        try:
            response = await self.proxy.client.fetch(request)
        except HTTPClientError as error:
            response = error.response
            if response is None:
                return 502, [], str(error).encode()
        return response.code, list(response.headers.get_all()), response.body or b""

    get = post = put = patch = delete = head = options = _handle  # type: ignore[assignment]


class FaultProxy:
    """A proxy to the hub whose users listing can be made to fail in several ways."""

    def __init__(self, upstream: str | None = None, max_hang: float = 60.0) -> None:
        self.upstream = upstream
        self.max_hang = max_hang
        self.mode = "ok"
        self.listing_requests = 0
        #: Every token the service sent with a listing request (to check logs for leaks).
        self.seen_tokens: set[str] = set()
        self.port = 0
        self.client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/hub/api"

    def set_mode(self, mode: str) -> None:
        """Switch the users listing to *mode*; leaving ``hang`` releases waiting requests."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        self.mode = mode
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._reset_release)

    def _reset_release(self) -> None:
        assert self._release is not None
        self._release.set()
        self._release = asyncio.Event()

    async def wait_for_release(self) -> None:
        assert self._release is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._release.wait(), self.max_hang)

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._thread = threading.Thread(
            target=self._run, args=(sockets,), name="faultproxy", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def _run(self, sockets) -> None:
        asyncio.run(self._serve(sockets))

    async def _serve(self, sockets) -> None:
        self._loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        self._stop = asyncio.Event()
        self.client = AsyncHTTPClient(force_instance=True)
        app = web.Application(
            [(r".*", _Handler, {"proxy": self})], log_function=lambda _handler: None
        )
        self._server = HTTPServer(app)
        self._server.add_sockets(sockets)
        self._ready.set()
        await self._stop.wait()
        self._server.stop()
        self._release.set()
        self.client.close()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)  # type: ignore[union-attr]
        self._thread.join(timeout=10)
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
