"""The collector's per-hub report files (``--output-dir``): one PDF or HTML per hub that
answered, and one summary of all hubs.

Each hub's report is built from its status document exactly as the hub's own admin page
builds it (``core.report``); the summary is the collector's rows. A hub whose document
cannot make a report gets an error row and no file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ..core import fees
from ..core.report import Report, ReportDataError, build_report, plain_text, report_data
from ..core.text import month_name
from ..datafiles import find_data_files_path, template_environment
from ..pdf import PDFRenderer
from .report import (
    Row,
    _count_text,
    _first_value_text,
    _hours_text,
    format_fee,
    order_rows,
    to_html,
    totals,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(name: str, used: set[str]) -> str:
    """A file name for hub *name*: letters, digits, ``._-`` only, at most 64, unique in *used*."""
    stem = _UNSAFE.sub("-", name).strip(".-")[:64].strip(".-") or "hub"
    candidate, number = stem, 2
    while candidate.casefold() in used:
        candidate, number = f"{stem}-{number}", number + 1
    used.add(candidate.casefold())
    return candidate


@dataclass(frozen=True)
class HubReport:
    row: Row
    report: Report | None


def hub_reports(
    rows: Sequence[Row],
    documents: dict[str, Any],
    month: str,
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
) -> list[HubReport]:
    """The report of each answered hub; a hub whose document cannot make one gets its error."""
    found = []
    for row in rows:
        if not row.answered:
            found.append(HubReport(row, None))
            continue
        try:
            report = build_report(
                documents.get(row.hub),
                month,
                hub_name=row.hub,
                hub_url=row.url,
                fallback_tiers=tiers,
            )
        except ReportDataError as error:
            found.append(HubReport(replace(row, error=f"no report: {error}"), None))
            continue
        found.append(HubReport(row, report))
    return found


def summary_data(rows: Sequence[Row], month: str, month_to_date: bool, generated_at: str) -> dict:
    """The summary PDF's data: totals and one line per hub, all plain text."""
    summary = totals(rows)
    fee_text = ", ".join(
        format_fee(fee, currency) for currency, fee in summary.estimated_usage_fee.items()
    )
    return {
        "month": month,
        "month_name": month_name(month),
        "month_to_date": month_to_date,
        "generated_at": generated_at,
        "hubs": summary.hubs,
        "totals": {
            "hubs": summary.hubs,
            "failed": summary.failed,
            "check_in_due": summary.check_in_due,
            "first_value_achieved": summary.first_value_achieved,
            "mau_login": summary.mau_login,
            "mau_server": summary.mau_server,
            "sessions": summary.sessions,
            "server_hours": _hours_text(summary.server_hours),
            "fees": fee_text or "-",
        },
        "rows": [
            {
                "hub": plain_text(row.hub),
                "action": row.action or "ok",
                "first_value": _first_value_text(row),
                "mau_login": _count_text(row.mau_login),
                "mau_server": _count_text(row.mau_server),
                "sessions": _count_text(row.sessions),
                "server_hours": _hours_text(row.server_hours),
                "peak": _count_text(row.peak_concurrent_servers),
                "fee": format_fee(row.estimated_usage_fee, plain_text(row.currency or "", 8)),
                "error": plain_text(row.error or ""),
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


def write_report_files(
    directory: Path,
    fmt: str,
    rows: Sequence[Row],
    documents: dict[str, Any],
    *,
    month: str,
    month_to_date: bool,
    generated_at: str,
    page_size: str = "a4",
    tiers: Sequence[tuple[int | None, float]] = fees.DEFAULT_TIERS,
    renderer: PDFRenderer | None = None,
) -> tuple[list[Row], list[Path]]:
    """Write each answered hub's report and the summary into *directory* as *fmt*
    (``pdf`` or ``html``); return the rows (with report errors) and the files written."""
    renderer = renderer or PDFRenderer()
    reports = hub_reports(rows, documents, month, tiers)
    final_rows = order_rows(entry.row for entry in reports)
    used: set[str] = {"summary"}
    written = []
    for entry in sorted(reports, key=lambda e: e.row.hub.casefold()):
        if entry.report is None:
            continue
        path = directory / f"{file_stem(entry.row.hub, used)}-{month}.{fmt}"
        if fmt == "pdf":
            path.write_bytes(
                renderer.render("report.typ", report_data(entry.report), page_size=page_size)
            )
        else:
            path.write_text(hub_html(entry.report), encoding="utf-8")
        written.append(path)
    summary = directory / f"summary-{month}.{fmt}"
    if fmt == "pdf":
        data = summary_data(final_rows, month, month_to_date, generated_at)
        summary.write_bytes(renderer.render("report-summary.typ", data, page_size=page_size))
    else:
        summary.write_text(
            to_html(final_rows, month=month, generated_at=generated_at), encoding="utf-8"
        )
    written.append(summary)
    return final_rows, written
