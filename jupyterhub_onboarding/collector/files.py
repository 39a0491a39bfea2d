"""The collector's per-hub report files (``--output-dir``): one PDF or HTML per hub that
answered, and one summary of all hubs.

Each hub's report is built from the model of its status document, read once for the run
(``rows.read_answer``), exactly as the hub's own admin page builds it (``core.monthly``);
the summary is the collector's rows. A hub whose report cannot be made (a month it has not
begun, a PDF that does not compile) gets that as its row's error and no file; the other
hubs' files and the summary are written all the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ..core import fees
from ..core.format import days_away, fee, hours, month_title, number
from ..core.monthly import NO_BRANDING, Branding, NoReport, Report, build_report
from ..core.reportdata import report_data
from ..core.safetext import safe_text
from ..core.status.model import MAX_TEXT
from ..datafiles import find_data_files_path, template_environment
from ..pdf import PDFError, PDFRenderer
from .community import Community
from .rows import EVENT_WINDOW_DAYS, HubEvent, HubStatus, Row, order_rows, totals
from .writers import (
    checklist_text,
    community_text,
    first_value_text,
    generated_text,
    next_event_text,
    to_html,
    when,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(name: str, used: set[str]) -> str:
    """A file name for hub *name*: letters, digits, ``._-`` only, at most 64, unique in *used*."""
    stem = _UNSAFE.sub("-", name).strip(".-")[:64].strip(".-") or "hub"
    candidate, number_ = stem, 2
    while candidate.casefold() in used:
        candidate, number_ = f"{stem}-{number_}", number_ + 1
    used.add(candidate.casefold())
    return candidate


@dataclass(frozen=True)
class HubReport:
    row: Row
    report: Report | None


def hub_reports(
    hubs: Sequence[HubStatus],
    month: str,
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
    branding: Branding = NO_BRANDING,
) -> list[HubReport]:
    """The report of each hub that answered, from its own model (never looked up by its
    name, which the row shows cleaned); a hub whose report cannot be made gets its error."""
    found = []
    for hub in hubs:
        row = hub.row
        if hub.status is None or not row.answered:
            found.append(HubReport(row, None))
            continue
        try:
            report = build_report(
                hub.status,
                month,
                hub_name=row.hub,
                hub_url=row.url,
                fallback_tiers=tiers,
                branding=branding,
            )
        except NoReport as error:
            found.append(HubReport(replace(row, error=f"no report: {error}"), None))
            continue
        found.append(HubReport(row, report))
    return found


def summary_data(
    rows: Sequence[Row],
    month: str,
    month_to_date: bool,
    generated_at: str,
    events: Sequence[HubEvent] = (),
    communities: Sequence[Community] = (),
) -> dict:
    """The summary PDF's data: totals, the events ahead, each community's MAU and fee across
    its hubs and one line per hub, all plain text formatted as the HTML summary has it."""
    summary = totals(rows)
    fee_text = ", ".join(
        fee(amount, currency) for currency, amount in summary.estimated_usage_fee.items()
    )
    return {
        "month": month,
        "title": month_title(month, month_to_date),
        "generated_at": generated_text(generated_at),
        "hubs": summary.hubs,
        "event_window_days": EVENT_WINDOW_DAYS,
        "totals": {
            "hubs": number(summary.hubs),
            "failed": number(summary.failed),
            "check_in_due": number(summary.check_in_due),
            "first_value_achieved": number(summary.first_value_achieved),
            "mau_login": number(summary.mau_login),
            "mau_server": number(summary.mau_server),
            "sessions": number(summary.sessions),
            "server_hours": hours(summary.server_hours),
            "fees": fee_text or "-",
        },
        "events": [
            {
                "hub": item.hub,
                "title": item.event.title,
                "kind": item.event.kind,
                "start": when(item.event.start),
                "starts_in": days_away(item.event.days_until),
                "expected": number(item.event.expected_attendees),
                "checklist": checklist_text(item.event.checklist_done, item.event.checklist_total),
                "ready": item.event.ready,
            }
            for item in events
        ],
        "communities": [
            {
                "community": safe_text(found.community, MAX_TEXT),
                "mau_login": number(found.mau_login),
                "mau_server": number(found.mau_server),
                "fee": fee(found.estimated_usage_fee, found.currency),
                "counted": community_text(found),
                "hubs": ", ".join(safe_text(hub.hub, MAX_TEXT) for hub in found.hubs),
            }
            for found in communities
        ],
        "rows": [
            {
                "hub": safe_text(row.hub, MAX_TEXT),
                "action": row.action or "ok",
                "needs": safe_text(row.needs_text, MAX_TEXT),
                "first_value": first_value_text(row),
                "mau_login": number(row.mau_login),
                "mau_server": number(row.mau_server),
                "sessions": number(row.sessions),
                "server_hours": hours(row.server_hours),
                "fee": fee(row.estimated_usage_fee, row.currency),
                "next_event": next_event_text(row),
            }
            for row in rows
        ],
    }


@cache
def _hub_template() -> jinja2.Template:
    environment = template_environment(
        jinja2.FileSystemLoader(find_data_files_path() / "templates"),
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("collector-hub-report.html")


def hub_html(report: Report) -> str:
    """One hub's report as a self-contained HTML page (inline CSS, no scripts)."""
    return _hub_template().render(report=report, pdf_url=None)


def write_hub_files(
    directory: Path,
    fmt: str,
    hubs: Sequence[HubStatus],
    *,
    month: str,
    page_size: str = "a4",
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
    renderer: PDFRenderer | None = None,
    branding: Branding = NO_BRANDING,
) -> tuple[list[Row], dict[Row, Path]]:
    """Write each answered hub's report into *directory* as *fmt* (``pdf`` or ``html``);
    return every hub's row, in report order (with the error of a report that could not be
    made, such as a PDF Typst cannot compile), and the file written for each row that has
    one. OSError when a file cannot be written."""
    pdf = renderer or PDFRenderer()

    def render(report: Report) -> bytes:
        if fmt == "pdf":
            return pdf.render("report.typ", report_data(report), page_size=page_size)
        return hub_html(report).encode("utf-8")

    used: set[str] = {"summary"}
    rows: list[Row] = []
    written: dict[Row, Path] = {}
    reports = hub_reports(hubs, month, tiers, branding)
    for entry in sorted(reports, key=lambda e: e.row.hub.casefold()):
        row, report = entry.row, entry.report
        if report is not None:
            try:
                body = render(report)
            except PDFError as error:
                row = replace(row, error=f"no report: {error}")
            else:
                path = directory / f"{file_stem(row.hub, used)}-{month}.{fmt}"
                path.write_bytes(body)
                written[row] = path
        rows.append(row)
    return order_rows(rows), written


def write_summary(
    directory: Path,
    fmt: str,
    rows: Sequence[Row],
    *,
    month: str,
    month_to_date: bool,
    generated_at: str,
    events: Sequence[HubEvent] = (),
    files: Mapping[Row, Path] | None = None,
    page_size: str = "a4",
    renderer: PDFRenderer | None = None,
    communities: Sequence[Community] = (),
) -> Path:
    """Write the summary of all hubs into *directory*: the events ahead (*events*, from the
    same answers as the rows), the *communities* across their hubs and the hubs, their names
    linking to their *files* (HTML). PDFError or OSError if it cannot be written."""
    path = directory / f"summary-{month}.{fmt}"
    if fmt == "pdf":
        data: Any = summary_data(rows, month, month_to_date, generated_at, events, communities)
        renderer = renderer or PDFRenderer()
        path.write_bytes(renderer.render("report-summary.typ", data, page_size=page_size))
    else:
        names = [file.name if (file := (files or {}).get(row)) else None for row in rows]
        path.write_text(
            to_html(
                rows,
                month=month,
                generated_at=generated_at,
                events=events,
                files=names,
                communities=communities,
            ),
            encoding="utf-8",
        )
    return path
