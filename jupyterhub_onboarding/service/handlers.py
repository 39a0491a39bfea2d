"""Request handlers shared by every route: hub authentication, JSON errors, status, health."""

from __future__ import annotations

import json
import re
from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web

from .. import __version__
from ..core.events import upcoming_document
from ..core.status import status_document

_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Every handler: the service passed in, the hub user resolved without blocking."""

    def initialize(self, service) -> None:
        self.service = service
        self.hub_auth = service.hub_auth
        self.forbidden = False

    async def prepare(self) -> None:
        """Identify the hub user without blocking the event loop.

        ``HubAuthenticated.get_current_user`` asks the hub synchronously; here the lookup is
        awaited and the result set through tornado's public ``current_user``. The scope
        check is the library's own (``HubAuth.check_scopes``), called directly instead of
        through ``check_hub_user``, which logs "Not allowing Hub user <name>": usernames
        never reach this service's logs.
        """
        model = await self.hub_auth.get_user(self, sync=False)
        user = None
        if model:
            required = self.hub_scopes
            if required and self.hub_auth.check_scopes(required, model):
                user = model
            else:
                self.forbidden = True
        self.current_user = user

    def get_current_user(self):
        """Nobody, unless ``prepare`` identified them (it never blocks on the hub)."""
        return None

    @property
    def is_admin(self) -> bool:
        user = self.current_user
        return bool(user) and user.get("kind", "user") == "user" and user.get("admin") is True

    @property
    def hub_url(self) -> str:
        """The hub's public URL: configuration, environment, then this request's Host."""
        configured = self.service.app.public_url
        if configured:
            return configured
        host = self.request.host or ""
        if not _HOST.match(host):
            return ""
        scheme = "https" if self.request.protocol == "https" else "http"
        return f"{scheme}://{host}"

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")


class APIHandler(BaseHandler):
    """JSON endpoints: never redirect to a login page, errors are JSON."""

    def require_access(self) -> None:
        """401 without credentials, 403 with credentials that lack access to this service."""
        if self.current_user is None:
            if self.forbidden:
                raise web.HTTPError(403, "this token or user may not access this service")
            raise web.HTTPError(401, "send a hub API token: Authorization: token <token>")

    def write_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        # compact: an indent switches json to its much slower pure-Python encoder
        self.finish(json.dumps(body, sort_keys=True))

    def write_error(self, status_code: int, **kwargs) -> None:
        message = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], web.HTTPError) and exc_info[1].log_message:
            message = exc_info[1].log_message
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"status": status_code, "message": message}))


class StatusHandler(APIHandler):
    """``GET api/v1/status``: first value, MAU, billing and tracker health, no usernames."""

    def get(self) -> None:
        self.require_access()
        service = self.service
        document = status_document(service.current_snapshot(), hub_url=self.hub_url)
        document["events"] = {"upcoming": upcoming_document(service.events, service.clock())}
        self.write_json(document)


class HealthHandler(APIHandler):
    """``GET health``: for probes; no authentication, no figures."""

    async def prepare(self) -> None:
        return None

    def get(self) -> None:
        snapshot = self.service.current_snapshot()
        self.write_json({"status": "ok", "version": __version__, "stale": snapshot.stale})


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """Completes hub login and returns the admin to the page they asked for."""

    def initialize(self, service) -> None:
        self.hub_auth = service.hub_auth


class NotFoundHandler(APIHandler):
    """Anything else under the prefix: a JSON 404."""

    async def prepare(self) -> None:
        raise web.HTTPError(404, "no such route")


def core_routes(service) -> list:
    prefix = service.app.service_prefix
    args = {"service": service}
    return [
        (prefix + "api/v1/status", StatusHandler, args),
        (prefix + "health", HealthHandler, args),
        (prefix + "oauth_callback", OAuthCallbackHandler, args),
    ]
