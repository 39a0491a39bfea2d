"""What the service serves while a setting is refused: the one line saying which, nothing else.

A refused setting must not stop the hub (JupyterHub stops itself when a managed service exits
at start), so the service keeps its address and says what is wrong on every route under its
prefix: ``health`` and the JSON APIs answer 503 with the line, the admin page shows it (with 200:
the hub reads a 5xx there as a service that is not up, and stops), and
``metrics`` exposes ``jupyterhub_onboarding_config_error 1`` for the alert rule
``OnboardingNotConfigured``. Nothing is polled, read or written: no database, no hub calls,
so no login either (the line names an option and a value, as the log does; a database
password is never part of it).
"""

from __future__ import annotations

import html
import json

from tornado import web

from .. import __version__
from .metrics import config_error_exposition

#: The state the line is reported under, in ``health`` and the page.
NOT_CONFIGURED = "not configured"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Onboarding: not configured</title></head>
<body><main><h1>Onboarding is not configured</h1>
<p>The service refused a setting and serves nothing else until it is fixed and the service
restarted:</p>
<p role="alert"><code>{line}</code></p></main></body></html>
"""


class _Base(web.RequestHandler):
    def initialize(self, line: str) -> None:
        self.line = line

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def check_xsrf_cookie(self) -> None:  # nothing here changes anything
        return None

    def _json(self, body: dict) -> None:
        self.set_status(503)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(body, sort_keys=True))


class HealthHandler(_Base):
    def get(self) -> None:
        self._json({"status": NOT_CONFIGURED, "version": __version__, "error": self.line})


class APIHandler(_Base):
    """Every JSON route (``api/...``, ``events.ics``): a 503 JSON error naming the setting."""

    def get(self, *args: str) -> None:
        self._json({"status": 503, "message": f"{NOT_CONFIGURED}: {self.line}"})

    post = patch = delete = put = get


class MetricsHandler(_Base):
    def get(self) -> None:
        content_type, text = config_error_exposition()
        self.set_header("Content-Type", content_type)
        self.finish(text)


class PageHandler(_Base):
    """The admin page and every other page: the line, with 200. JupyterHub checks that a
    service it starts is up by requesting its prefix, and takes a 5xx there for "not up":
    the hub would stop itself (6.x after ``Service.timeout``)."""

    def get(self, *args: str) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", "default-src 'none'")
        self.finish(PAGE.format(line=html.escape(self.line)))

    post = get


def make_app(prefix: str, line: str) -> web.Application:
    """The web application of the "not configured" state under *prefix*."""
    args = {"line": line}
    return web.Application(
        [
            (prefix + "health", HealthHandler, args),
            (prefix + "metrics", MetricsHandler, args),
            (prefix + r"(api/.*|events\.ics)", APIHandler, args),
            (prefix + "(.*)", PageHandler, args),
        ],
        log_function=lambda handler: None,
    )
