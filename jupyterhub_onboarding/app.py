"""The ``jupyterhub-onboarding`` application: configuration, wiring and start-up."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from traitlets import (
    Bool,
    Enum,
    Float,
    Integer,
    List,
    Set,
    TraitError,
    Unicode,
    default,
    validate,
)
from traitlets.config import Application, catch_config_error

from . import __version__
from .core.clock import parse_iso, utcnow
from .core.events import DEFAULT_SCALER_LINES, check_scaler_lines
from .core.rules import CountingRules
from .core.snapshot import check_in_date
from .core.usage import DEFAULT_IMAGE_KEYS, DEFAULT_PROFILE_KEYS, LabelKeys
from .logs import RepeatedXsrfNotice, ensure_redacted, with_redaction
from .settings import (
    COMMON_ALIASES,
    COMMON_FLAGS,
    FeeTierSettings,
    OnboardingEmail,
    ReportSettings,
    StandardLinks,
    above_zero,
    at_least,
)
from .sourcesettings import SourceSettings

#: Days an option counting days may have at most: ten years.
MAX_DAYS = 3650
#: Seconds between two looks at whether the hub that started the service is still there.
PARENT_CHECK_INTERVAL = 2.0


def _parse_live_since(value: str) -> datetime:
    """``2026-11-01`` or ``2026-11-01T09:00:00Z`` -> aware UTC datetime."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return parse_iso(value)


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


class Onboarding(FeeTierSettings, ReportSettings, SourceSettings, Application):
    """A JupyterHub service that tracks first value and monthly active users."""

    name = "jupyterhub-onboarding"
    version = __version__
    description = """Tracks who has logged in to a JupyterHub, progress to first value and
    monthly active users, and serves the admin landing page, a JSON status API and
    Prometheus metrics. Runs as a hub-managed service: python -m jupyterhub_onboarding"""
    examples = """
    python -m jupyterhub_onboarding                     # inside a hub, as a managed service
    jupyterhub-onboarding --generate-config             # write jupyterhub_onboarding_config.py
    jupyterhub-onboarding collect --hubs hubs.yaml      # report across many hubs
    """

    raise_config_file_errors = True

    @default("log_format")
    def _default_log_format(self):
        return "[%(levelname)1.1s %(asctime)s.%(msecs).03d %(name)s] %(message)s"

    @default("log_datefmt")
    def _default_log_datefmt(self):
        return "%Y-%m-%d %H:%M:%S"

    def get_default_logging_config(self):
        """The console handler redacts secrets and escapes control characters in every line,
        from the first one on (``route_library_logs`` adds the same to any other handler)."""
        return with_redaction(super().get_default_logging_config())

    aliases = {
        "config": "Onboarding.config_file",
        "db-url": "Onboarding.db_url",
        "poll-interval": "Onboarding.poll_interval",
        **COMMON_ALIASES,
    }
    flags = {
        **COMMON_FLAGS,
        "generate-config": (
            {"Onboarding": {"generate_config": True}},
            "Write a default config file (see --config) and exit.",
        ),
    }
    subcommands = {
        "collect": (
            "jupyterhub_onboarding.collector.app.CollectApp",
            "Poll the status API of many hubs and write one report.",
        ),
    }

    @property
    def classes(self):  # type: ignore[override]
        return [Onboarding, StandardLinks, OnboardingEmail]

    activity_overlap = Float(
        900,
        help="""Seconds below the last poll's newest activity that an incremental poll still
        re-reads. The hub can report activity late (proxy activity is polled every 5 minutes),
        so keep this above 300.""",
    ).tag(config=True)

    api_token = Unicode(
        help="""Token for the hub's REST API. Default: $JUPYTERHUB_API_TOKEN (set by the hub
        for a managed service). Needs scopes list:users, read:users, read:servers; read:hub
        adds the hub's authenticator and spawner to reports.""",
    ).tag(config=True)

    @default("api_token")
    def _default_api_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    authenticate_prometheus = Bool(
        True,
        help="""Require a hub token with access to this service for /metrics, as the hub does
        for its own metrics. Set False to let an in-cluster Prometheus scrape without a token.""",
    ).tag(config=True)

    authenticate_events_feed = Bool(
        True,
        help="""Require a hub token with access to this service for the calendar feed
        (events.ics), as for /metrics. Set False to let an in-cluster placeholder scaler read
        it without a token (the feed holds no notes, contacts or usernames).""",
    ).tag(config=True)

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
            if parts.scheme not in ("http", "https") or not parts.port:
                raise TraitError(
                    "Onboarding.bind_url must be an http URL with a port, e.g. "
                    f"'http://:10101', got {value!r}"
                )
        return value

    billing_basis = Enum(
        ["login", "server"],
        default_value="login",
        help="""Which MAU basis the usage-fee estimate uses: 'login' (had activity in the month)
        or 'server' (had a running server in the month).""",
    ).tag(config=True)

    check_in_days = Integer(
        14,
        help="""Days after live_since when the check-in is due if first value is not reached.""",
    ).tag(config=True)

    config_file = Unicode(
        "jupyterhub_onboarding_config.py",
        help="""The config file to load (in the working directory by default).""",
    ).tag(config=True)

    cookie_secret_file = Unicode(
        "jupyterhub_onboarding_cookie_secret",
        help="""File holding the secret that signs this service's cookies. Created (mode 0600)
        when missing, so logins survive restarts.""",
    ).tag(config=True)

    count_admins = Bool(
        True,
        help="""Count hub admins as users toward first value and MAU.""",
    ).tag(config=True)

    currency = Unicode(
        "USD",
        help="""Currency code of the fee tiers, shown beside the estimate.""",
    ).tag(config=True)

    data_files_path = Unicode(
        help="""Directory holding this package's shared data (templates). Found automatically
        from an installed wheel or a source checkout.""",
    ).tag(config=True)

    @default("data_files_path")
    def _default_data_files_path(self):
        from .datafiles import find_data_files_path

        return str(find_data_files_path())

    db_url = Unicode(
        "sqlite:///jupyterhub_onboarding.sqlite",
        help="""SQLAlchemy URL of the database. The default is an SQLite file in the working
        directory. PostgreSQL: 'postgresql+psycopg://user:password@host/dbname'.""",
    ).tag(config=True)

    @validate("db_url")
    def _check_db_url(self, proposal):
        from .db import safe_url, url_problem

        value = proposal["value"].strip()
        problem = url_problem(value)
        if problem is not None:
            raise TraitError(f"Onboarding.db_url {problem}, got {safe_url(value)!r}")
        return value

    exit_with_hub = Bool(
        help="""Exit when the hub that started this service is gone (the service's parent
        process exited, e.g. the hub was killed), so that no orphaned service keeps the port
        from the hub's next start. Default: True when the hub started the service (its
        environment has JUPYTERHUB_SERVICE_URL and JUPYTERHUB_API_TOKEN), else False.""",
    ).tag(config=True)

    @default("exit_with_hub")
    def _default_exit_with_hub(self):
        managed = ("JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_API_TOKEN")
        return all(os.environ.get(name) for name in managed)

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

    excluded_user_pattern = Unicode(
        r"deployment-service-check",
        help="""Regular expression; users whose whole name matches are not counted.
        Default excludes the health-check account. Example: r'(deployment-service-check|.*-staff)'.
        Empty excludes nobody by pattern.""",
    ).tag(config=True)

    @validate("excluded_user_pattern")
    def _check_pattern(self, proposal):
        try:
            re.compile(proposal["value"])
        except re.error as error:
            raise TraitError(
                f"Onboarding.excluded_user_pattern is not a valid regular expression: {error}"
            ) from None
        return proposal["value"]

    excluded_users = Set(
        Unicode(),
        help="""Usernames never counted, e.g. the provider's staff:
        {'alice-staff', 'bob-staff'}.""",
    ).tag(config=True)

    first_value_basis = Enum(
        ["login", "server"],
        default_value="login",
        help="""What counts toward first value: 'login' (the hub shows activity) or the stricter
        'server' (started a server).""",
    ).tag(config=True)

    first_value_threshold = Integer(
        5,
        help="""How many counted users must have logged in for the moment of first value.""",
    ).tag(config=True)

    full_sync_interval = Float(
        3600,
        help="""Seconds between full reads of the user list (finds deleted users and idle
        running servers). Incremental polls run in between.""",
    ).tag(config=True)

    generate_config = Bool(False, help="""Write a default config file and exit.""").tag(config=True)

    generating_value_days = Integer(
        14,
        help="""The window, in days, for 'generating value': at least first_value_threshold
        counted users active in it.""",
    ).tag(config=True)

    hub_api_url = Unicode(
        help="""The hub's REST API URL. Default: $JUPYTERHUB_API_URL.""",
    ).tag(config=True)

    @default("hub_api_url")
    def _default_hub_api_url(self):
        return os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")

    @validate("hub_api_url")
    def _check_hub_api_url(self, proposal):
        value = proposal["value"].strip()
        try:
            parts = urlsplit(value)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError for a port that is no number
        except ValueError:
            usable = False
        if not usable:
            raise TraitError(
                "Onboarding.hub_api_url must be an http(s) URL such as "
                f"'http://127.0.0.1:8081/hub/api', got {value!r}"
            )
        return value

    hub_concurrency = Integer(4, help="""At most this many hub API requests at once.""").tag(
        config=True
    )

    hub_page_size = Integer(
        200, help="""Users per page when listing users (the hub caps it at api_page_max_limit)."""
    ).tag(config=True)

    hub_request_timeout = Float(20, help="""Seconds before a hub API request is abandoned.""").tag(
        config=True
    )

    hub_retries = Integer(
        3,
        help="""Retries of a hub API request after a connection error or 5xx, with
        exponential backoff.""",
    ).tag(config=True)

    live_since = Unicode(
        "",
        help="""When the hub went live, e.g. '2026-11-02' or '2026-11-02T15:00:00Z' (UTC).
        Empty: the service's first start, remembered in the database.""",
    ).tag(config=True)

    @validate("live_since")
    def _check_live_since(self, proposal):
        value = proposal["value"].strip()
        if value:
            try:
                _parse_live_since(value)
            except (TypeError, ValueError, OverflowError):
                raise TraitError(
                    "Onboarding.live_since must be an ISO 8601 date or date-time "
                    f"such as '2026-11-02' or '2026-11-02T15:00:00Z', got {value!r}"
                ) from None
        return value

    max_usage_labels = Integer(
        20,
        help="""How many profiles and images the usage figures name (the most used ones, by
        sessions); sessions of every other value are reported as 'other'. Bounds the metrics'
        profile label.""",
    ).tag(config=True)

    poll_interval = Float(
        60, help="""Seconds between incremental polls of the hub's user list."""
    ).tag(config=True)

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

    stale_after = Float(
        help="""Seconds without a successful poll after which the status reports stale.
        Default: the larger of 900 and three poll intervals.""",
    ).tag(config=True)

    @default("stale_after")
    def _default_stale_after(self):
        return max(900.0, 3 * self.poll_interval)

    template_paths = List(
        Unicode(),
        help="""Directories searched for templates before the built-in ones, to override
        any of them, e.g. ['/etc/jupyterhub-onboarding/templates'].""",
    ).tag(config=True)

    usage_image_keys = List(
        Unicode(),
        default_value=list(DEFAULT_IMAGE_KEYS),
        help="""Keys of a server's user_options that name its image, the first present wins.
        The defaults cover KubeSpawner: an image typed in by the user (the unlisted choice of a
        profile option named 'image'), that profile option, and a plain 'image' key.""",
    ).tag(config=True)

    usage_profile_keys = List(
        Unicode(),
        default_value=list(DEFAULT_PROFILE_KEYS),
        help="""Keys of a server's user_options that name its profile, the first present
        wins (KubeSpawner puts the chosen profile's slug under 'profile').""",
    ).tag(config=True)

    @validate("usage_image_keys", "usage_profile_keys")
    def _check_usage_keys(self, proposal):
        keys = [key.strip() for key in proposal["value"]]
        if not keys or not all(keys):
            raise TraitError(
                f"Onboarding.{proposal['trait'].name} must be a list of non-empty "
                f"user_options keys, got {proposal['value']!r}"
            )
        return keys

    @validate(
        "activity_overlap",
        "full_sync_interval",
        "hub_request_timeout",
        "poll_interval",
        "stale_after",
    )
    def _check_positive_float(self, proposal):
        return above_zero(proposal)

    @validate("check_in_days", "generating_value_days")
    def _check_days(self, proposal):
        return at_least(proposal, 1, MAX_DAYS)

    @validate("first_value_threshold")
    def _check_threshold(self, proposal):
        return at_least(proposal, 1, 1_000_000_000)

    @validate("hub_concurrency", "hub_page_size", "max_usage_labels")
    def _check_positive_int(self, proposal):
        return at_least(proposal, 1)

    @validate("hub_retries")
    def _check_retries(self, proposal):
        # the backoff doubles with each retry: the tenth waits over four minutes
        return at_least(proposal, 0, 10)

    #: The clock every part of the service reads; tests replace it.
    clock = staticmethod(utcnow)

    #: The process that started this one (the hub, for a managed service), noted first
    #: thing in initialize().
    parent_pid: int | None = None

    def counting_rules(self) -> CountingRules:
        pattern = self.excluded_user_pattern
        return CountingRules(
            excluded_users=frozenset(self.excluded_users),
            excluded_pattern=re.compile(pattern) if pattern else None,
            count_admins=self.count_admins,
        )

    def label_keys(self) -> LabelKeys:
        """Which user_options keys name a session's profile and image."""
        return LabelKeys(tuple(self.usage_profile_keys), tuple(self.usage_image_keys))

    def parsed_live_since(self) -> datetime | None:
        return _parse_live_since(self.live_since) if self.live_since else None

    def read_cookie_secret(self) -> bytes:
        """The persisted cookie secret, created on first use."""
        path = Path(self.cookie_secret_file)
        if path.exists():
            return path.read_bytes().strip()
        secret = secrets.token_hex(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
        return secret

    @catch_config_error
    def initialize(self, argv=None):
        self.parent_pid = os.getppid()
        super().initialize(argv)
        if self.subapp is not None:
            return
        self.load_config_file(self.config_file)
        self.update_config(self.cli_config)
        # settings of the other configurables are checked now, not at first use
        StandardLinks(parent=self)
        OnboardingEmail(parent=self)
        self.check_settings()

    def check_settings(self) -> None:
        """Check what each option's own validator cannot: values from the environment and
        combinations of options. Raises TraitError naming the option and its value."""
        # defaults from $JUPYTERHUB_* are not validated until set: set them to themselves
        for name in ("hub_api_url", "public_url", "service_url", "service_prefix"):
            setattr(self, name, getattr(self, name))
        self.check_source_settings()
        live_since = self.parsed_live_since()
        if live_since is not None:
            try:
                check_in_date(live_since, self.check_in_days)
            except OverflowError:
                raise TraitError(
                    f"Onboarding.live_since is too late: {self.check_in_days} days after it "
                    f"(Onboarding.check_in_days) is past the year 9999, got {self.live_since!r}"
                ) from None

    def write_config_file(self) -> None:
        path = Path(self.config_file)
        if path.exists():
            self.log.error("Not overwriting %s; remove it first.", path)
            self.exit(1)
        path.write_text(self.generate_config_file())
        self.log.info("Wrote %s", path)

    def start(self):
        if self.subapp is not None:
            return self.subapp.start()
        if self.generate_config:
            self.write_config_file()
            return
        if not self.api_token:
            self.log.critical(
                "Onboarding.api_token is empty: set it, or let the hub start the service "
                "(the hub sets $JUPYTERHUB_API_TOKEN)"
            )
            raise SystemExit(1)
        asyncio.run(self._serve())

    #: Libraries whose log lines reach the service's log (warnings and errors only, unless
    #: at DEBUG: jupyterhub's OAuth callback logs each username at INFO).
    library_loggers = ("tornado", "jupyterhub")

    def route_library_logs(self) -> None:
        """Send every logger's lines through the service's own, redacting, log handlers.

        The libraries' warnings and errors (all their lines at DEBUG), the warnings of any
        other logger (through the root logger) and Python's warnings all go through the
        handlers of the service's log, each of which redacts secrets and escapes control
        characters (:mod:`jupyterhub_onboarding.logs`).
        """
        configured = self.log_level
        if isinstance(configured, str):
            configured = logging.getLevelName(configured)
        debug = isinstance(configured, int) and configured <= logging.DEBUG
        level = logging.DEBUG if debug else logging.WARNING
        handlers = list(self.log.handlers)
        for handler in handlers:
            ensure_redacted(handler)
        for name in self.library_loggers:
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = False
            for handler in handlers:
                if handler not in logger.handlers:
                    logger.addHandler(handler)
        root = logging.getLogger()
        root.setLevel(logging.WARNING)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        logging.captureWarnings(True)
        xsrf = logging.getLogger("tornado.application")
        if not any(isinstance(existing, RepeatedXsrfNotice) for existing in xsrf.filters):
            xsrf.addFilter(RepeatedXsrfNotice())

    def make_service(self):
        """The running service with every room of the package: status, metrics and the page."""
        from .page.checkin import routes as checkin_page_routes
        from .page.events import routes as event_page_routes
        from .page.handlers import routes as page_routes
        from .service.wiring import OnboardingService

        return OnboardingService(
            self, extra_routes=[page_routes, event_page_routes, checkin_page_routes]
        )

    def listen_sockets(self) -> list[socket.socket]:
        """The sockets to serve on; exits with one line when the address cannot be had."""
        address = self.bind_url or self.service_url
        listen = urlsplit(address)
        # an empty host in bind_url listens on every interface
        # (the port is there: service_url and bind_url are checked to have one at start)
        try:
            return bind_sockets(listen.port or 0, listen.hostname or "")
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                reason = f"port {listen.port} is in use: is another jupyterhub-onboarding running?"
            else:
                reason = error.strerror or type(error).__name__
            self.log.critical("Cannot listen on %s: %s", address, reason)
            raise SystemExit(1) from None

    async def _serve(self) -> None:
        self.route_library_logs()
        sockets = self.listen_sockets()
        service = self.make_service()
        await service.start()
        server = HTTPServer(service.web_app, xheaders=True)
        server.add_sockets(sockets)
        self.log.info(
            "jupyterhub-onboarding %s listening on %s with prefix %s",
            __version__,
            self.bind_url or self.service_url,
            self.service_prefix,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watch = None
        if self.exit_with_hub:
            parent = self.parent_pid or os.getppid()

            def hub_gone() -> None:
                self.log.warning(
                    "The hub that started this service (process %d) is gone; shutting down",
                    parent,
                )
                stop.set()

            watch = asyncio.ensure_future(watch_parent(parent, hub_gone))
        await stop.wait()
        self.log.info("Shutting down")
        if watch is not None:
            watch.cancel()
        server.stop()
        await service.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``jupyterhub-onboarding`` and ``python -m jupyterhub_onboarding``."""
    app = Onboarding.instance()
    app.initialize(argv if argv is not None else sys.argv[1:])
    app.start()
