"""``jupyterhub-onboarding collect``: poll the status API of many hubs, write one report.

The command is here; polling is in ``poll.py``, the hubs file in ``hubsfile.py``, the rows in
``rows.py``, the table, CSV, JSON and HTML in ``writers.py``, the per-hub report files in
``files.py``, the optional history in ``store.py`` (its schema changes in ``migrations/``)
and the check for the ``collector`` extra in ``extras.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from traitlets import Bool, Enum, Float, Integer, TraitError, Unicode, validate
from traitlets.config import Application

from .. import __version__
from ..core import fees
from ..core.clock import isoformat, utcnow
from ..core.rules import month_label, month_of, parse_month
from ..logs import with_redaction
from ..settings import (
    COMMON_ALIASES,
    COMMON_FLAGS,
    FeeTierSettings,
    ProviderSettings,
    ReportSettings,
    above_zero,
    at_least,
)
from .community import Community, collect_communities, with_communities
from .extras import require_extras
from .hubsfile import HubEntry, HubsFileError, hubs_warnings, load_hubs
from .poll import Answer, PollSettings, poll_hubs
from .rows import HubStatus, Row, hub_events, order_rows, read_answer
from .writers import render


class CollectApp(FeeTierSettings, ReportSettings, ProviderSettings, Application):
    """Poll the onboarding status API of many hubs and write one report."""

    name = "jupyterhub-onboarding-collect"
    version = __version__
    raise_config_file_errors = True
    description = """Polls GET {hub}/services/onboarding/api/v1/status on every hub of a hubs
    file, concurrently, and writes one report: a terminal table, JSON, CSV or static HTML.
    A hub that cannot be polled, or sends a document that is not a status document, is a
    row with its error; every other hub is reported all the same. Exit status: 0 when every
    hub answered with a status document (and, with --output-dir, every report and the
    summary were written), 1 when any hub failed or the run could not be stored (the run
    is still stored and every other file written), 2 for usage or configuration errors.
    See docs/collector.md."""
    # flush left: --help indents the whole block
    examples = """
jupyterhub-onboarding collect --hubs hubs.yaml
jupyterhub-onboarding collect --hubs hubs.yaml --format csv --output report.csv
jupyterhub-onboarding collect --hubs hubs.yaml --month 2026-10 --format html --output oct.html
jupyterhub-onboarding collect --hubs hubs.yaml --store history.sqlite
jupyterhub-onboarding collect --hubs hubs.yaml --month 2026-10 --format pdf --output-dir reports
"""

    aliases = {
        "backoff": "CollectApp.backoff",
        "concurrency": "CollectApp.concurrency",
        "config": "CollectApp.config_file",
        "format": "CollectApp.report_format",
        "hubs": "CollectApp.hubs_file",
        "month": "CollectApp.month",
        "output": "CollectApp.output",
        "output-dir": "CollectApp.output_dir",
        "page-size": "CollectApp.report_page_size",
        "retries": "CollectApp.retries",
        "service-name": "CollectApp.service_name",
        "store": "CollectApp.store",
        "timeout": "CollectApp.timeout",
        **COMMON_ALIASES,
    }
    flags = {
        **COMMON_FLAGS,
        "no-progress": (
            {"CollectApp": {"progress": False}},
            "Never show the progress bar (it only shows on a terminal anyway).",
        ),
    }

    backoff = Float(
        0.5,
        help="""Seconds before the first retry of a hub; each further retry waits twice as
        long. Example: --backoff 1.""",
    ).tag(config=True)

    concurrency = Integer(
        8,
        help="""At most this many hubs are polled at once. Example: --concurrency 16.""",
    ).tag(config=True)

    config_file = Unicode(
        "",
        help="""A Python config file to load (c.CollectApp.timeout = 5, ...). Empty: none.""",
    ).tag(config=True)

    hubs_file = Unicode(
        "",
        help="""The hubs file (YAML) listing every hub to poll. Required. Example:
        --hubs hubs.yaml. Format: docs/collector.md.""",
    ).tag(config=True)

    max_response_bytes = Integer(
        1_000_000,
        help="""Largest status answer accepted from a hub, in bytes.""",
    ).tag(config=True)

    month = Unicode(
        "",
        help="""Report this UTC calendar month (YYYY-MM) from each hub's MAU history, with the
        fee recomputed from fee_tiers. Empty: the hubs' current month. Example: --month 2026-10.""",
    ).tag(config=True)

    @validate("month")
    def _check_month(self, proposal):
        value = proposal["value"].strip()
        if value:
            try:
                parse_month(value)
            except ValueError:
                raise TraitError(
                    f"CollectApp.month must look like YYYY-MM (e.g. 2026-10), got {value!r}"
                ) from None
        return value

    output = Unicode(
        "",
        help="""Write the report to this file. Empty or '-': standard output.
        Example: --output report.csv.""",
    ).tag(config=True)

    output_dir = Unicode(
        "",
        help="""Write each hub's monthly report and a summary of all hubs into this
        directory (created when missing), as --format pdf or html: {hub}-{month}.pdf and
        summary-{month}.pdf. The summary lists every hub's events of the next 14 days; in
        HTML its hub names link to the hubs' own reports beside it. A hub that did not
        answer is a row of the summary and has no file. Required for --format pdf.
        Example: --output-dir reports.""",
    ).tag(config=True)

    progress = Bool(
        True,
        help="""Show a progress bar while polling, when standard error is a terminal.""",
    ).tag(config=True)

    report_format = Enum(
        ["table", "json", "csv", "html", "pdf"],
        default_value="table",
        help="""Report format: 'table' (terminal), 'json', 'csv' (one row per hub), 'html'
        (a self-contained page; with --output-dir one page per hub and the summary) or 'pdf'
        (with --output-dir: one PDF per hub and a summary PDF). Example: --format csv.""",
    ).tag(config=True)

    retries = Integer(
        2,
        help="""Retries of a hub after a connection error or an HTTP 5xx, with exponential
        backoff. A timeout is not retried: a hanging hub costs one timeout.""",
    ).tag(config=True)

    service_name = Unicode(
        "onboarding",
        help="""The service's name in the hubs, used to derive a status URL from hub_url
        ({hub_url}/services/{service_name}/api/v1/status). A hub entry may override it.""",
    ).tag(config=True)

    store = Unicode(
        "",
        help="""Append each run to this database: a path (an SQLite file) or an SQLAlchemy
        URL (sqlite:///runs.sqlite, postgresql+psycopg://user:password@host/dbname).
        Empty: runs are not stored.""",
    ).tag(config=True)

    timeout = Float(
        10.0,
        help="""Seconds before one request to a hub is abandoned (connecting included).""",
    ).tag(config=True)

    @validate("backoff")
    def _check_backoff(self, proposal):
        return at_least(proposal, 0)

    @validate("timeout")
    def _check_timeout(self, proposal):
        return above_zero(proposal)

    @validate("concurrency", "max_response_bytes")
    def _check_positive(self, proposal):
        return at_least(proposal, 1)

    @validate("retries")
    def _check_retries(self, proposal):
        return at_least(proposal, 0)

    def get_default_logging_config(self):
        """Secrets redacted and control characters escaped in every line, as the service's."""
        return with_redaction(super().get_default_logging_config())

    #: The clock for run times and the month check; tests replace it.
    clock = staticmethod(utcnow)

    def usage_error(self, message: str) -> None:
        """Log *message* and exit with status 2."""
        self.log.error("%s", message)
        self.exit(2)

    def initialize(self, argv=None):
        # without the collector extra, one line naming it and exit status 2
        require_extras()
        # A bad value on the command line or in the config file stops with exit status 2, the
        # collector's contract for usage and configuration errors. traitlets reports such an
        # error itself (naming the option) and exits with status 1; that exit becomes 2 here.
        with self._usage_exit_status():
            self.parse_command_line(argv)
        if self.config_file:
            path = Path(self.config_file)
            if not path.is_file():
                self.usage_error(f"config file {path} does not exist")
            try:
                with self._usage_exit_status():
                    # Command-line values keep priority over the file's.
                    self.load_config_file(path.name, path=str(path.parent))
            except Exception as error:
                self.usage_error(f"config file {path}: {type(error).__name__}: {error}")
        if self.extra_args:
            self.usage_error(f"unexpected argument(s): {' '.join(self.extra_args)}")
        known = {cls.__name__ for cls in type(self).__mro__}
        unknown = sorted(key for key in self.cli_config if key not in known)
        if unknown:
            self.usage_error(f"unknown option(s): {', '.join('--' + key for key in unknown)}")

    @contextlib.contextmanager
    def _usage_exit_status(self) -> Iterator[None]:
        """Turn traitlets' exit status 1 for a bad option into the collector's 2."""
        try:
            yield
        except SystemExit as stop:
            if stop.code == 1:
                self.exit(2)
            raise

    def poll_settings(self) -> PollSettings:
        return PollSettings(
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
            concurrency=self.concurrency,
            max_response_bytes=self.max_response_bytes,
        )

    def _check_usage(self) -> list[HubEntry]:
        if not self.hubs_file:
            self.usage_error("--hubs is required: the YAML file listing the hubs to poll")
        if self.month and parse_month(self.month) > month_of(self.clock()):
            self.usage_error(f"--month {self.month} is in the future")
        if self.output not in ("", "-") and not Path(self.output).parent.is_dir():
            self.usage_error(f"the directory of --output {self.output} does not exist")
        if self.report_format == "pdf" and not self.output_dir:
            self.usage_error("--format pdf needs --output-dir: the directory for the PDFs")
        if self.output_dir and self.report_format not in ("pdf", "html"):
            self.usage_error("--output-dir needs --format pdf or --format html")
        if self.output_dir:
            try:
                Path(self.output_dir).mkdir(parents=True, exist_ok=True)
            except OSError as error:
                self.usage_error(f"cannot create --output-dir {self.output_dir}: {error.strerror}")
        try:
            return load_hubs(Path(self.hubs_file), self.service_name)
        except HubsFileError as error:
            self.usage_error(str(error))
            raise  # not reached: usage_error exits

    def _open_store(self):
        from alembic.util import CommandError
        from sqlalchemy.exc import SQLAlchemyError

        from ..db import SchemaError
        from .store import RunStore, display_url, store_url

        try:
            url = store_url(self.store)
        except ValueError as error:
            self.usage_error(f"--store: {error}")
        store = RunStore(url)
        try:
            store.upgrade()
        except (SQLAlchemyError, SchemaError, CommandError) as error:
            store.close()
            self.usage_error(f"cannot open the store {display_url(url)}: {_db_reason(error)}")
        return store

    async def _poll(self, hubs: Sequence[HubEntry]) -> list[Answer]:
        from tqdm import tqdm

        show = self.progress and sys.stderr.isatty()
        with tqdm(
            total=len(hubs),
            desc="hubs",
            unit="hub",
            file=sys.stderr,
            disable=not show,
            leave=False,
        ) as bar:
            return await poll_hubs(hubs, self.poll_settings(), on_answer=lambda _: bar.update())

    def write(self, text: str) -> None:
        if self.output in ("", "-"):
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        newline = "" if self.report_format == "csv" else None
        with open(self.output, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(text)

    def start(self):
        hubs = self._check_usage()
        for warning in hubs_warnings(hubs):
            self.log.warning("%s", warning)
        store = self._open_store() if self.store else None

        started_at = self.clock()
        answers = asyncio.run(self._poll(hubs))
        finished_at = self.clock()

        month = self.month or None
        tiers = fees.validate_tiers(self.fee_tiers)
        # each hub's document is read once; rows, events and reports all come from that
        statuses = [
            read_answer(
                answer.hub.name,
                answer.hub.url,
                answer.document,
                reachable=answer.reachable,
                error=answer.error,
                month=month,
                tiers=tiers,
            )
            for answer in answers
        ]
        communities = self._communities(hubs, statuses, month, tiers)
        rows = order_rows(with_communities([hub.row for hub in statuses], communities))
        generated_at = isoformat(finished_at) or ""
        summary_written = True
        if self.output_dir:
            rows, summary_written = self._write_files(
                statuses, tiers, generated_at, finished_at, communities
            )
        else:
            try:
                self.write(
                    render(
                        self.report_format,
                        rows,
                        month=month,
                        generated_at=generated_at,
                        events=hub_events(statuses),
                        communities=communities,
                    )
                )
            except OSError as error:
                self.usage_error(f"cannot write --output {self.output}: {error.strerror}")

        failed = [row for row in rows if not row.answered]
        for row in failed:
            self.log.warning("hub %r: %s", row.hub, row.error)
        self.log.info(
            "%d hubs, %d answered, %d failed, month %s, %.2f s",
            len(rows),
            len(rows) - len(failed),
            len(failed),
            month or month_label(month_of(finished_at)),
            (finished_at - started_at).total_seconds(),
        )
        stored = self._store_run(store, rows, started_at, finished_at, month)
        if failed or not stored or not summary_written:
            self.exit(1)

    def _communities(self, hubs, statuses, month, tiers) -> list[Community]:
        """Each community's MAU and fee across its hubs; says when one is only a sum."""
        communities = collect_communities(hubs, statuses, month, self.poll_settings(), tiers)
        for found in communities:
            if not found.deduplicated:
                self.log.warning("community %r: %s", found.community, found.note)
        return communities

    def _write_files(
        self,
        hubs: list[HubStatus],
        tiers,
        generated_at: str,
        finished_at: datetime,
        communities: Sequence[Community],
    ) -> tuple[list[Row], bool]:
        """Each hub's report and the summary into --output-dir. Returns the rows, with the
        error of each report that could not be made, and whether the summary was written."""
        from ..pdf import PDFError
        from .files import write_hub_files, write_summary

        current = month_label(month_of(finished_at))
        month = self.month or current
        directory = Path(self.output_dir)
        try:
            rows, files = write_hub_files(
                directory,
                self.report_format,
                hubs,
                month=month,
                page_size=self.report_page_size,
                tiers=tiers,
                branding=self.report_branding(),
            )
            written = list(files.values())
            summary = True
            try:
                written.append(
                    write_summary(
                        directory,
                        self.report_format,
                        rows,
                        month=month,
                        month_to_date=month == current,
                        generated_at=generated_at,
                        events=hub_events(hubs),
                        files=files,
                        page_size=self.report_page_size,
                        communities=communities,
                    )
                )
            except PDFError as error:
                self.log.error("no summary: %s", error)
                summary = False
        except OSError as error:
            self.usage_error(f"cannot write into --output-dir {self.output_dir}: {error.strerror}")
        self.log.info("wrote %d files into %s", len(written), self.output_dir)
        # each hub's row carries its community's figures, as without --output-dir
        return order_rows(with_communities(rows, communities)), summary

    def _store_run(self, store, rows, started_at: datetime, finished_at: datetime, month):
        if store is None:
            return True
        from sqlalchemy.exc import SQLAlchemyError

        from .store import display_url

        try:
            run_id = store.append(rows, started_at=started_at, finished_at=finished_at, month=month)
        except SQLAlchemyError as error:
            self.log.error(
                "could not store the run in %s: %s", display_url(store.url), _db_reason(error)
            )
            return False
        finally:
            store.close()
        self.log.info("stored run %d in %s", run_id, display_url(store.url))
        return True


def _db_reason(error: Exception) -> str:
    """The first line of a database error, without the statement or its parameters."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__
