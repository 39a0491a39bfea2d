"""Request handlers shared by every route: hub authentication, JSON errors, status, health."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web

from .. import __version__

_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")

#: What a request gets while the hub cannot be reached to check who sent it (503).
HUB_NOT_ANSWERING = "the hub is not answering; try again shortly"
#: ... and while the hub answers, but not with who sent it (503; the detail is logged).
HUB_CHECK_FAILED = "the hub could not check this login; try again shortly"


async def lookup_hub_user(
    handler: web.RequestHandler, hub_auth: HubOAuth, *, timeout: float, log: logging.Logger
) -> dict[str, Any] | None:
    """The hub's model of whoever sent *handler*'s request (token or login cookie), or None.

    The hub is asked through ``HubAuth.get_user`` (its own cache first) and given *timeout*
    seconds. When it does not answer in time, cannot be reached or fails, the request gets
    a 503 with a plain message; what went wrong, which may name the hub's internal address,
    goes to the log only.
    """
    try:
        return await asyncio.wait_for(hub_auth.get_user(handler, sync=False), timeout)
    except asyncio.TimeoutError:
        log.warning("The hub did not answer a login check within %gs", timeout)
        raise web.HTTPError(503, HUB_NOT_ANSWERING) from None
    except web.HTTPError as error:
        # the library reports a hub it cannot reach as an HTTPError raised while handling
        # the connection error
        unreachable = isinstance(error.__context__, (OSError, asyncio.TimeoutError))
        log.warning("Could not check a login with the hub: %s", error)
        raise web.HTTPError(503, HUB_NOT_ANSWERING if unreachable else HUB_CHECK_FAILED) from None
    except (OSError, ValueError) as error:
        log.warning("Could not check a login with the hub: %s", error)
        raise web.HTTPError(503, HUB_CHECK_FAILED) from None


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Every handler: the service passed in, the hub user resolved without blocking."""

    def initialize(self, service) -> None:
        self.service = service
        self.hub_auth = service.hub_auth
        self.forbidden = False
        #: The request carries a token (``Authorization`` header): it is judged by that
        #: token's scopes, not by its owner's, which a token may narrow.
        self.token_request = False

    async def prepare(self) -> None:
        """Identify the hub user without blocking the event loop, within a time limit.

        ``HubAuthenticated.get_current_user`` asks the hub synchronously; here the lookup is
        awaited (bounded by ``Onboarding.login_check_timeout``; a hub that does not answer
        means a 503) and the result set through tornado's public ``current_user``. The scope
        check is the library's own (``HubAuth.check_scopes``), called directly instead of
        through ``check_hub_user``, which logs "Not allowing Hub user <name>": usernames
        never reach this service's logs.
        """
        self.token_request = bool(self.hub_auth.get_token(self, in_cookie=False))
        model = await lookup_hub_user(
            self,
            self.hub_auth,
            timeout=self.service.app.login_check_timeout,
            log=self.service.log,
        )
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
            raise web.HTTPError(
                401, "send a hub API token in the Authorization header: token <token>"
            )

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
    """``GET api/v1/status``: the whole status document (``docs/status.schema.json``), no
    usernames."""

    def get(self) -> None:
        self.require_access()
        warming_up = self.service.warming_up
        if warming_up:
            # no figures yet: zeros would read as a hub nobody uses
            raise web.HTTPError(503, warming_up)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(self.service.status_body(self.hub_url))


class HealthHandler(APIHandler):
    """``GET health``: for probes; no authentication, no figures. 200 while warming up
    (``status`` says so), so that neither the hub nor a probe waits for the database."""

    async def prepare(self) -> None:
        return None

    def get(self) -> None:
        snapshot = self.service.current_snapshot()
        state = "warming up" if self.service.warming_up else "ok"
        self.write_json({"status": state, "version": __version__, "stale": snapshot.stale})


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """Completes hub login and returns the admin to the page they asked for.

    Every call to the hub is bounded by ``Onboarding.hub_request_timeout`` (a 503 after it),
    and none blocks the event loop: the library reads ``current_user`` (synchronously,
    through the hub) for a callback whose OAuth state cookie is gone (a login completed a
    second time), so for that callback it is resolved beforehand, and only for that one.
    """

    def initialize(self, service) -> None:
        self.service = service
        self.hub_auth = service.hub_auth

    @property
    def timeout(self) -> float:
        return self.service.app.hub_request_timeout

    async def prepare(self) -> None:
        self.current_user = None
        state = self.get_argument("state", None)
        if state is None or self.get_secure_cookie(self.hub_auth.get_state_cookie_name(state)):
            return
        model = await lookup_hub_user(
            self, self.hub_auth, timeout=self.timeout, log=self.service.log
        )
        required = self.hub_scopes
        if model and required and self.hub_auth.check_scopes(required, model):
            self.current_user = model

    async def get(self) -> None:
        try:
            await asyncio.wait_for(super().get(), self.timeout)
        except asyncio.TimeoutError:
            self.service.log.warning("The hub did not complete a login within %gs", self.timeout)
            raise web.HTTPError(503, HUB_NOT_ANSWERING) from None


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
