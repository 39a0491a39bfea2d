"""The service's settings of where it runs: its own address and prefix, the hub's API and
public URL, and the calendar feed's lines for placeholder scalers (``c.Onboarding.*``)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from traitlets import HasTraits, Integer, List, TraitError, Unicode, default, validate

from .core.eventfeed import DEFAULT_SCALER_LINES, check_scaler_lines
from .core.links import is_http_url


class AddressSettings(HasTraits):
    """Where the service listens and under which prefix, where the hub is, and what the
    calendar feed tells placeholder scalers."""

    bind_url = Unicode(
        "",
        help="""Where to listen, when it differs from service_url, e.g. 'http://:10101' to
        listen on every interface of a hub pod (an empty host means all interfaces, IPv4 and
        IPv6). Default: the host and port of service_url.""",
    ).tag(config=True)

    @validate("bind_url")
    def _check_bind_url(self, proposal):
        value = proposal["value"].strip()
        if value:
            parts = urlsplit(value)
            try:
                port = parts.port
            except ValueError:  # a port that is no number
                port = None
            if parts.scheme not in ("http", "https") or not port:
                raise TraitError(
                    "Onboarding.bind_url must be an http URL with a port, e.g. "
                    f"'http://:10101', got {value!r}"
                )
        return value

    event_prewarm_minutes = Integer(
        30,
        help="""Minutes before an event's start when its entry in the calendar feed begins, so
        a calendar-driven placeholder scaler has the capacity up when the event starts.""",
    ).tag(config=True)

    @validate("event_prewarm_minutes")
    def _check_prewarm(self, proposal):
        value = proposal["value"]
        if not 0 <= value <= 24 * 60:
            raise TraitError(
                f"Onboarding.event_prewarm_minutes must be between 0 and 1440, got {value!r}"
            )
        return value

    event_scaler_lines = List(
        Unicode(),
        default_value=list(DEFAULT_SCALER_LINES),
        help="""Lines that end each event's DESCRIPTION in the calendar feed, for placeholder
        scalers that read them (e.g. 'min_capacity: {expected_attendees}' or
        'min_placeholders: {expected_attendees}'). Fields: {expected_attendees}, {kind},
        {prewarm_minutes}.""",
    ).tag(config=True)

    @validate("event_scaler_lines")
    def _check_scaler_lines(self, proposal):
        try:
            return check_scaler_lines(proposal["value"])
        except ValueError as error:
            raise TraitError(f"Onboarding.event_scaler_lines: {error}") from None

    hub_api_url = Unicode(
        help="""The hub's REST API URL. Default: $JUPYTERHUB_API_URL.""",
    ).tag(config=True)

    @default("hub_api_url")
    def _default_hub_api_url(self):
        return os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")

    @validate("hub_api_url")
    def _check_hub_api_url(self, proposal):
        value = proposal["value"].strip()
        if not is_http_url(value):
            raise TraitError(
                "Onboarding.hub_api_url must be an http(s) URL such as "
                f"'http://127.0.0.1:8081/hub/api', got {value!r}"
            )
        return value

    public_url = Unicode(
        help="""The hub's public URL, the base of every standard link, e.g.
        'https://community.example.org'. Default: $JUPYTERHUB_PUBLIC_URL; when both are empty
        the URL is taken from each request's Host header.""",
    ).tag(config=True)

    @default("public_url")
    def _default_public_url(self):
        return os.environ.get("JUPYTERHUB_PUBLIC_URL", "")

    @validate("public_url")
    def _check_public_url(self, proposal):
        value = proposal["value"].strip().rstrip("/")
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise TraitError(f"Onboarding.public_url must be an http(s) URL, got {value!r}")
        return value

    service_name = Unicode(
        help="""This service's name in the hub. Default: $JUPYTERHUB_SERVICE_NAME or
        'onboarding'.""",
    ).tag(config=True)

    @default("service_name")
    def _default_service_name(self):
        return os.environ.get("JUPYTERHUB_SERVICE_NAME", "onboarding")

    service_prefix = Unicode(
        help="""URL prefix of every route. Default: $JUPYTERHUB_SERVICE_PREFIX or
        '/services/onboarding/'.""",
    ).tag(config=True)

    @default("service_prefix")
    def _default_service_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{self.service_name}/")

    @validate("service_prefix")
    def _check_prefix(self, proposal):
        value = proposal["value"]
        return "/" + value.strip("/") + "/" if value.strip("/") else "/"

    service_url = Unicode(
        help="""Where to listen, as a URL. Default: $JUPYTERHUB_SERVICE_URL or
        'http://127.0.0.1:10101'.""",
    ).tag(config=True)

    @default("service_url")
    def _default_service_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    @validate("service_url")
    def _check_service_url(self, proposal):
        parts = urlsplit(proposal["value"])
        if parts.scheme not in ("http", "https") or not parts.port:
            raise TraitError(
                "Onboarding.service_url must be an http URL with a port, e.g. "
                f"'http://127.0.0.1:10101', got {proposal['value']!r}"
            )
        return proposal["value"]
