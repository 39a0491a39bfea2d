"""The ``jupyterhub-onboarding`` application: configuration, wiring and start-up."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import sys
from datetime import datetime, timezone
from pathlib import Path

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
from .addresssettings import AddressSettings
from .billingsettings import BillingSettings
from .core.clock import parse_iso, utcnow
from .core.rules import CountingRules
from .core.snapshot import check_in_date
from .core.usage import DEFAULT_IMAGE_KEYS, DEFAULT_PROFILE_KEYS, LabelKeys
from .logs import RepeatedXsrfNotice, ensure_redacted, with_redaction
from .settings import (
    COMMON_ALIASES,
    COMMON_FLAGS,
    FeeTierSettings,
    OnboardingEmail,
    ProviderSettings,
    ReportSettings,
    StandardLinks,
    above_zero,
    at_least,
)
from .sourcesettings import SourceSettings

#: Days an option counting days may have at most: ten years.
MAX_DAYS = 3650


def _parse_live_since(value: str) -> datetime:
    """``2026-11-01`` or ``2026-11-01T09:00:00Z`` -> aware UTC datetime."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return parse_iso(value)


class Onboarding(
    AddressSettings,
    BillingSettings,
    FeeTierSettings,
    ReportSettings,
    ProviderSettings,
    SourceSettings,
    Application,
):
    """A JupyterHub service that tracks first value and monthly active users."""

    name = "jupyterhub-onboarding"
    version = __version__
    description = """Tracks who has logged in to a JupyterHub, progress to first value and
    monthly active users, and serves the admin landing page, a JSON status API and
    Prometheus metrics. Runs as a hub-managed service: python -m jupyterhub_onboarding"""
    # flush left: --help indents the whole block
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
        "recount": (
            "jupyterhub_onboarding.recount.RecountApp",
            "Recompute a closed month from the database, keeping the old figures beside it.",
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

    login_check_timeout = Float(
        5,
        help="""Seconds the hub is given to say who sent a request (a token or login cookie
        not in the hub login cache) before the request gets a 503. Shorter than
        hub_request_timeout, so a frozen hub reads as the service's 503 within a caller's
        own timeout (the collector's is 10 s).""",
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
        "login_check_timeout",
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

    #: The one line saying which setting was refused (empty when none was): the service
    #: then serves only that line (see :mod:`jupyterhub_onboarding.service.unconfigured`).
    config_error: str = ""

    #: While initialize() reads the settings: a refused one is noted, not raised.
    reading_settings = False

    @catch_config_error
    def initialize(self, argv=None):
        self.parent_pid = os.getppid()
        self.reading_settings = True
        try:
            self._read_settings(argv)
        finally:
            self.reading_settings = False

    def _read_settings(self, argv) -> None:
        super().initialize(argv)
        if self.subapp is not None:
            return
        try:
            self.load_config_file(self.config_file)
            self.update_config(self.cli_config)
            # settings of the other configurables are checked now, not at first use
            StandardLinks(parent=self)
            OnboardingEmail(parent=self)
            if not self.config_error:
                self.check_settings()
        except TraitError as error:
            self.refuse(str(error))
        except Exception as error:
            # a config file that does not run: name it and what went wrong in it
            self.refuse(f"{self.config_file}: {type(error).__name__}: {error}")

    def update_config(self, config) -> None:
        """Apply *config*; while the settings are read at start, a refused value is noted
        (the first one is served, see :meth:`refuse`) instead of stopping the service."""
        try:
            super().update_config(config)
        except TraitError as error:
            if not self.reading_settings:
                raise
            self.refuse(str(error))

    def refuse(self, line: str) -> None:
        """Note the refused setting *line*, logged once: the service will serve only it (the
        first one, when several are refused)."""
        if self.config_error:
            return
        self.config_error = " ".join(line.split())
        self.log.critical("%s", self.config_error)

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
        if not self.config_error and not self.api_token:
            self.refuse(
                "Onboarding.api_token is empty: set it, or let the hub start the service "
                "(the hub sets $JUPYTERHUB_API_TOKEN)"
            )
        asyncio.run(self.serve())

    async def serve(self) -> None:
        """Serve the service, or only the refused setting's line: never exit on either."""
        from .serving import Running, serve

        if self.config_error:
            from .service.unconfigured import NOT_CONFIGURED, make_app

            line = self.config_error
            await serve(
                self,
                lambda: Running(make_app(self.service_prefix, line)),
                state=f" ({NOT_CONFIGURED})",
            )
            return

        def running() -> Running:
            service = self.make_service()
            return Running(service.web_app, service.start, service.stop)

        await serve(self, running)

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
        from .page.billing import routes as billing_page_routes
        from .page.checkin import routes as checkin_page_routes
        from .page.events import routes as event_page_routes
        from .page.handlers import routes as page_routes
        from .service.wiring import OnboardingService

        return OnboardingService(
            self,
            extra_routes=[page_routes, event_page_routes, billing_page_routes, checkin_page_routes],
        )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``jupyterhub-onboarding`` and ``python -m jupyterhub_onboarding``."""
    app = Onboarding.instance()
    app.initialize(argv if argv is not None else sys.argv[1:])
    app.start()
