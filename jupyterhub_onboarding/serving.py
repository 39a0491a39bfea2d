"""Serving the service's sockets: the life cycle around the web application.

The service must never be the reason a hub does not run: JupyterHub stops itself when a
managed service exits at start. So nothing here exits on its own account: a port that is
taken is retried with backoff (one clear line each time), and a refused setting serves the
"not configured" application (:mod:`jupyterhub_onboarding.unconfigured`) instead of the
service, until the hub stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from . import __version__

#: Seconds between two looks at whether the hub that started the service is still there.
PARENT_CHECK_INTERVAL = 2.0
#: Seconds before the first new try to listen on a port that is taken, and at most between two.
LISTEN_RETRY_FIRST = 1.0
LISTEN_RETRY_MAX = 30.0
#: Seconds a thread holds the interpreter lock before handing it over to one waiting for it
#: (Python's default is 0.005).
SWITCH_INTERVAL = 0.001


async def watch_parent(
    parent: int,
    on_gone: Callable[[], None],
    *,
    interval: float = PARENT_CHECK_INTERVAL,
    getppid: Callable[[], int] = os.getppid,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Call *on_gone* once process *parent* has exited, looking every *interval* seconds.

    A process whose parent exits is handed to another one (init or a subreaper), so its
    parent process id changes: that is the sign the parent is gone for good.
    """
    while getppid() == parent:
        await sleep(interval)
    on_gone()


def listen_problem(address: str, error: OSError) -> str:
    """One line saying why *address* cannot be listened on."""
    port = urlsplit(address).port
    if error.errno == errno.EADDRINUSE:
        return f"port {port} is in use: is another jupyterhub-onboarding running?"
    return error.strerror or type(error).__name__


async def listen(app, stop: asyncio.Event) -> list[socket.socket] | None:
    """The sockets to serve on (``bind_url``, else ``service_url``); while the address
    cannot be had, tried again with growing waits, one log line each time. None when
    *stop* is set first."""
    address = app.bind_url or app.service_url
    parts = urlsplit(address)
    delay = LISTEN_RETRY_FIRST
    while not stop.is_set():
        try:
            # an empty host in bind_url listens on every interface
            return bind_sockets(parts.port or 0, parts.hostname or "")
        except OSError as error:
            app.log.error(
                "Cannot listen on %s: %s; trying again in %gs",
                address,
                listen_problem(address, error),
                delay,
            )
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(2 * delay, LISTEN_RETRY_MAX)
    return None


class Running:
    """What :func:`serve` runs: the web application and its start and stop."""

    def __init__(
        self,
        web_app: Application,
        start: Callable[[], Awaitable[None]] | None = None,
        stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.web_app = web_app
        self.start = start
        self.stop = stop


def _stop_on_signals_and_hub_exit(app, stop: asyncio.Event) -> asyncio.Future | None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if not app.exit_with_hub:
        return None
    parent = app.parent_pid or os.getppid()

    def hub_gone() -> None:
        app.log.warning(
            "The hub that started this service (process %d) is gone; shutting down", parent
        )
        stop.set()

    return asyncio.ensure_future(watch_parent(parent, hub_gone))


async def serve(app, make: Callable[[], Running], state: str = "") -> None:
    """Serve what *make* builds on the configured address until a signal or the hub's exit.

    The sockets answer at once: the start of what is served (the database's schema check
    and the first figures) runs in the background.
    """
    app.route_library_logs()
    # requests are answered on the event loop while a poll's write and a page's rendering
    # run on threads: a shorter hand-over of the interpreter lock keeps the loop's wait for
    # it short while those threads compute
    sys.setswitchinterval(SWITCH_INTERVAL)
    stop = asyncio.Event()
    watch = _stop_on_signals_and_hub_exit(app, stop)
    sockets = await listen(app, stop)
    running = None
    server = None
    if sockets is not None:
        running = make()
        server = HTTPServer(running.web_app, xheaders=True)
        server.add_sockets(sockets)
        if running.start is not None:
            await running.start()
        app.log.info(
            "jupyterhub-onboarding %s listening on %s with prefix %s%s",
            __version__,
            app.bind_url or app.service_url,
            app.service_prefix,
            state,
        )
        await stop.wait()
    app.log.info("Shutting down")
    if watch is not None:
        watch.cancel()
    if server is not None:
        server.stop()
    if running is not None and running.stop is not None:
        await running.stop()
