"""The monthly report of the hub from the page: ``report/YYYY-MM`` and its PDF, built from
the status document the service serves, as the collector builds it."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from tornado import web

from ..core.monthly import NoReport, Report, build_report
from ..core.reportdata import report_data
from ..core.rules import month_label
from ..pdf import PDFRenderer
from .checkinviews import checkin_report
from .handlers import PageHandler


def hub_name(hub_url: str) -> str:
    """What a report calls the hub: its host name (the URL when it has none)."""
    return urlsplit(hub_url).hostname or hub_url


def hub_report(service: Any, hub_url: str, month: str, community_name: str = "") -> Report:
    """The report of *month* from the status document the service serves now, built as the
    collector builds it from the same document; NoReport for a month before the hub went
    live."""
    document = service.status_document(hub_url)
    branding = service.app.report_branding(community_name)
    return build_report(
        document, month, hub_name=hub_name(hub_url), hub_url=hub_url, branding=branding
    )


class ReportHandler(PageHandler):
    """``report/YYYY-MM`` (HTML, printable) and ``report/YYYY-MM.pdf``: admins only."""

    # tornado passes each route's own arguments to initialize
    def initialize(self, renderer: PDFRenderer, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.renderer = renderer

    @web.authenticated
    async def get(self, label: str, pdf: str | None = None) -> None:
        self.require_admin()
        service = self.service
        month = self.begun_month(label, "report")
        snapshot = service.current_snapshot()
        try:
            report = hub_report(
                service, self.hub_url, month_label(month), self.email.community_name
            )
            # its own month's cloud cost and the hub's configuration, asked of their sources
            report = await checkin_report(service, report)
        except NoReport as error:
            raise web.HTTPError(404, "%s.", error) from None
        if pdf:
            data = report_data(report)
            body = await asyncio.to_thread(
                self.renderer.render,
                "report.typ",
                data,
                page_size=service.app.report_page_size,
                timestamp=snapshot.generated_at,
            )
            self.set_header("Content-Type", "application/pdf")
            self.set_header(
                "Content-Disposition", f'inline; filename="usage-report-{report.month}.pdf"'
            )
            self.set_security_headers("default-src 'none'; frame-ancestors 'none'")
            self.finish(body)
            return
        await self.render_html(
            "onboarding-report.html",
            page_title=f"Usage report, {report.month_title}",
            report=report,
            pdf_url=f"{self.prefix}report/{report.month}.pdf",
            billing_url=f"{self.prefix}billing/{report.month}",
            landing_url=self.prefix,
        )
