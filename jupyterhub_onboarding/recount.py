"""``python -m jupyterhub_onboarding recount --month YYYY-MM``: the explicit correction of a
closed month.

Run in the service's working directory, it reads the service's config file and database
only (no hub is needed), recomputes the month from the activity the database holds and who
is counted under today's exclusions, and writes the result as a new version of the month
beside the old one, with who ran it and when. The running service shows the new figures
after its next refresh.
"""

from __future__ import annotations

import getpass
import logging
from typing import Any

from traitlets import Unicode, default, validate
from traitlets.config import Application, catch_config_error

from .core.billing import ClosedMonth
from .core.clock import isoformat, utcnow
from .core.rules import parse_month
from .logs import with_redaction
from .settings import COMMON_ALIASES, COMMON_FLAGS


def describe(version: ClosedMonth) -> str:
    """One line of a version's figures (no usernames)."""
    return (
        f"MAU login {version.login}, server {version.server}; fee {version.fee:.2f} on the "
        f"{version.basis} basis (version {version.revision}, {version.closed_by}, "
        f"{isoformat(version.closed_at)})"
    )


class RecountApp(Application):
    """Recompute a closed month, keeping its old figures beside the new ones."""

    name = "jupyterhub-onboarding-recount"
    description = """Recompute a closed month from the service's database with today's
    exclusions and fee tiers; the old figures stay in the database beside the new ones,
    with who recounted and when. Run it in the service's working directory."""
    examples = """
    python -m jupyterhub_onboarding recount --month 2026-11
    python -m jupyterhub_onboarding recount --month 2026-11 --by "ana (ticket 4711)"
    """

    aliases = {
        "month": "RecountApp.month",
        "by": "RecountApp.by",
        "config": "RecountApp.config_file",
        **COMMON_ALIASES,
    }
    flags = dict(COMMON_FLAGS)

    #: The clock of the recount's time; tests replace it.
    clock = staticmethod(utcnow)

    month = Unicode(
        help="""The closed month to recount, YYYY-MM (UTC). Example: 2026-11.""",
    ).tag(config=True)

    @validate("month")
    def _check_month(self, proposal: dict[str, Any]) -> str:
        try:
            parse_month(proposal["value"])
        except ValueError as error:
            raise ValueError(f"RecountApp.month: {error}") from None
        return proposal["value"]

    by = Unicode(
        help="""Who recounts, kept with the new figures. Default: the operating system's
        user name. Example: "ana (ticket 4711)".""",
    ).tag(config=True)

    config_file = Unicode(
        "jupyterhub_onboarding_config.py",
        help="""The service's config file (its database, exclusions, fee tiers).""",
    ).tag(config=True)

    @default("log_level")
    def _default_log_level(self) -> int:
        # the old and new figures are logged at INFO: a recount is an event worth a record
        return logging.INFO

    def get_default_logging_config(self):
        """Secrets redacted and control characters escaped in every line, as the service's."""
        return with_redaction(super().get_default_logging_config())

    @catch_config_error
    def initialize(self, argv=None):
        self.parse_command_line(argv)
        if not self.month:
            self.log.error("recount needs --month YYYY-MM")
            self.exit(2)
        if self.extra_args:
            self.log.error("unexpected argument(s): %s", " ".join(self.extra_args))
            self.exit(2)

    def start(self) -> None:
        from .service.store import Store

        service: Any = self.parent
        if service is None:
            self.log.error("recount runs as a subcommand: python -m jupyterhub_onboarding recount")
            self.exit(2)
        service.load_config_file(self.config_file)
        month = parse_month(self.month)
        store = Store(service.db_url, self.log)
        try:
            store.upgrade()
            if month not in store.billing.closed_months():
                self.log.error("%s is not closed: only a closed month is recounted", self.month)
                self.exit(1)
            store.apply_rules(service.counting_rules())
            old, new = store.billing.recount(
                month,
                self.clock(),
                self.by or getpass.getuser(),
                service.billing_basis,
                tuple((bound, price) for bound, price in service.fee_tiers),
            )
        finally:
            store.close()
        for label, version in (("old", old), ("new", new)):
            if version is None:
                continue
            line = f"{self.month} {label}: {describe(version)}"
            print(line)
            self.log.info("Recounted %s", line)
