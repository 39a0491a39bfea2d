"""The collector's outputs of one run: a terminal table, CSV, JSON and a static HTML page,
all from the same rows (``rows.py``) and formatted through ``core.format``, so they agree.

Pure: text in, text out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jinja2

from ..core.clock import parse_iso
from ..core.format import (
    days_away,
    fee,
    format_utc,
    hours,
    long_datetime,
    month_title,
    number,
)
from ..core.rules import month_label, month_of
from ..datafiles import find_data_files_path, template_environment
from .community import Community
from .rows import COLUMNS, EVENT_WINDOW_DAYS, HubEvent, Row, totals

#: A spreadsheet treats a cell starting with one of these as a formula, also after spaces
#: (a tab or CR, the other formula starts, never reaches a cell: rows replace them).
_FORMULA_START = ("=", "+", "-", "@")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text.lstrip().startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(rows: Sequence[Row]) -> str:
    """One line per hub, the columns of ``COLUMNS``; empty cells for unknown figures.

    Booleans are ``true``/``false``. Text that a spreadsheet would run as a formula
    (starting with ``= + - @``, also after spaces of any kind) is prefixed with ``'``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row.as_dict().values()])
    return out.getvalue()


def to_json(
    rows: Sequence[Row],
    *,
    month: str | None,
    generated_at: str,
    events: Sequence[HubEvent] = (),
    communities: Sequence[Community] = (),
) -> str:
    """The report as one JSON document: the events ahead, the rows (each with its groups'
    figures), their totals, the communities across their hubs, the month and the time."""
    document = {
        "generated_at": generated_at,
        "month": month,
        "events": [event.as_dict() for event in events],
        "hubs": [row.as_json() for row in rows],
        "totals": asdict(totals(rows)),
        "communities": [community.as_dict() for community in communities],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


TABLE_HEADINGS = (
    "hub",
    "needs",
    "first value",
    "MAU login",
    "MAU server",
    "30d",
    "sessions",
    "server h",
    "fee",
    "next event",
)


def report_title(month: str | None, generated_at: str) -> str:
    """The one title form of a run: ``December 2026``, or ``December 2026, to date`` for
    the month the run is in (*month* None: the hubs' current month)."""
    try:
        current = month_label(month_of(parse_iso(generated_at)))
    except (TypeError, ValueError):
        return month_title(month) if month else "the current month"
    label = month or current
    return month_title(label, to_date=label == current)


def generated_text(generated_at: str) -> str:
    """``4 December 2026, 14:34 UTC`` (the text as it is when it is no ISO time)."""
    try:
        return long_datetime(parse_iso(generated_at))
    except (TypeError, ValueError):
        return generated_at


def when(instant: str | datetime | None) -> str:
    """``2026-12-03T09:00:00Z`` -> ``2026-12-03 09:00`` (the column says UTC)."""
    if not instant:
        return ""
    return format_utc(parse_iso(instant) if isinstance(instant, str) else instant, zone=False)


def checklist_text(done: int | None, total: int | None) -> str:
    return "" if done is None or total is None else f"{done}/{total}"


def next_event_text(row: Row) -> str:
    """``Midterm exam, in 6 days, checklist 1/4`` (empty without an event)."""
    if not row.next_event_title:
        return ""
    parts = [row.next_event_title, days_away(row.next_event_days_until)]
    checklist = checklist_text(row.next_event_checklist_done, row.next_event_checklist_total)
    if checklist:
        parts.append(f"checklist {checklist}")
    return ", ".join(part for part in parts if part)


def first_value_text(row: Row) -> str:
    if row.first_value_achieved:
        return row.first_value_date or "yes"
    return "" if row.first_value_achieved is None else "not yet"


def _table_cells(row: Row) -> list[str]:
    return [
        _shorten(row.hub, 32),
        _shorten(row.needs_text, 70),
        first_value_text(row),
        number(row.mau_login),
        number(row.mau_server),
        number(row.active_30d),
        number(row.sessions),
        hours(row.server_hours),
        fee(row.estimated_usage_fee, row.currency),
        _shorten(next_event_text(row), 48),
    ]


EVENT_HEADINGS = (
    "hub",
    "event",
    "kind",
    "starts (UTC)",
    "ends",
    "starts in",
    "expected",
    "checklist",
)


def _columns(headings: Sequence[str], body: Sequence[Sequence[str]], numeric: set[int]) -> Any:
    """The widths of a plain-text table and a function formatting one of its lines."""
    widths = [
        max(len(heading), *(len(cells[i]) for cells in body)) for i, heading in enumerate(headings)
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return widths, line


def _event_lines(events: Sequence[HubEvent]) -> list[str]:
    title = f"Events in the next {EVENT_WINDOW_DAYS} days"
    if not events:
        return [f"{title}: none", ""]
    body = [
        [
            _shorten(item.hub, 32),
            _shorten(item.event.title, 40),
            _shorten(item.event.kind, 12),
            when(item.event.start),
            when(item.event.end),
            days_away(item.event.days_until),
            number(item.event.expected_attendees),
            checklist_text(item.event.checklist_done, item.event.checklist_total)
            + ("" if item.event.ready else " (not ready)"),
        ]
        for item in events
    ]
    widths, line = _columns(EVENT_HEADINGS, body, {6})
    rule = "  ".join("-" * width for width in widths)
    return [f"{title}:", line(EVENT_HEADINGS), rule, *(line(cells) for cells in body), ""]


def to_table(
    rows: Sequence[Row],
    *,
    month: str | None,
    generated_at: str,
    events: Sequence[HubEvent] = (),
    communities: Sequence[Community] = (),
) -> str:
    """A plain-text table for a terminal: the events ahead, then the hubs and a totals line,
    then the communities across their hubs."""
    body = [_table_cells(row) for row in rows]
    summary = totals(rows)
    fee_text = ", ".join(
        fee(amount, currency) for currency, amount in summary.estimated_usage_fee.items()
    )
    body.append(
        [
            f"TOTAL ({summary.hubs} hubs)",
            f"{summary.failed} failed",
            f"{summary.first_value_achieved} achieved",
            number(summary.mau_login),
            number(summary.mau_server),
            number(summary.active_30d),
            number(summary.sessions),
            hours(summary.server_hours),
            fee_text,
            "",
        ]
    )
    widths, line = _columns(TABLE_HEADINGS, body, {3, 4, 5, 6, 7, 8})
    title = (
        f"Onboarding report: {report_title(month, generated_at)}, "
        f"generated {generated_text(generated_at)}"
    )
    rule = "  ".join("-" * width for width in widths)
    lines = [title, "", *_event_lines(events), line(TABLE_HEADINGS), rule]
    lines += [line(cells) for cells in body[:-1]]
    lines += [rule, line(body[-1]), *community_lines(communities)]
    return "\n".join(lines) + "\n"


def community_text(community: Community) -> str:
    """How a community's figures were counted, in one phrase."""
    if community.deduplicated:
        return "each person counted once across its hubs (keyed pseudonyms)"
    return community.note


def community_lines(communities: Sequence[Community]) -> list[str]:
    """The communities under the table: MAU and fee on the total, each hub's own beside."""
    if not communities:
        return []
    lines = ["", "Communities (one MAU and one fee across their hubs):"]
    for found in communities:
        lines.append(
            f"  {found.community} {found.month}: MAU {number(found.mau_login)} login, "
            f"{number(found.mau_server)} server; fee "
            f"{fee(found.estimated_usage_fee, found.currency)} ({community_text(found)})"
        )
        for hub in found.hubs:
            lines.append(
                f"    {hub.hub}: MAU {number(hub.mau_login)} login, {number(hub.mau_server)} "
                f"server; fee on its own {fee(hub.estimated_usage_fee, found.currency)}"
            )
    return lines


@cache
def _html_template() -> jinja2.Template:
    environment = template_environment(
        jinja2.FileSystemLoader(find_data_files_path() / "templates"),
        undefined=jinja2.StrictUndefined,
    )
    environment.globals.update(
        first_value=first_value_text,
        next_event=next_event_text,
        when=when,
        checklist=checklist_text,
        tracker=lambda row: {None: "", True: "stale", False: "ok"}[row.tracker_stale],
        link=lambda url: urlsplit(url).scheme in ("http", "https"),
    )
    return environment.get_template("collector-report.html")


def to_html(
    rows: Sequence[Row],
    *,
    month: str | None,
    generated_at: str,
    events: Sequence[HubEvent] = (),
    files: Sequence[str | None] | None = None,
    communities: Sequence[Community] = (),
) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external resources). With
    *files* (for each row, the file of its report beside the page, or None), hub names link
    to those; else to the hubs. A cloud cost column, passed through without markup, is there
    when a hub reads one ("not available" for the others)."""
    return _html_template().render(
        show_cost=any(row.cloud_cost is not None for row in rows),
        communities=communities,
        community_text=community_text,
        rows=rows,
        totals=totals(rows),
        title=report_title(month, generated_at),
        generated=generated_text(generated_at),
        events=events,
        event_window_days=EVENT_WINDOW_DAYS,
        files=files,
    )


WRITERS = {"table": to_table, "json": to_json, "html": to_html}


def render(
    fmt: str,
    rows: Sequence[Row],
    *,
    month: str | None,
    generated_at: str,
    events: Sequence[HubEvent] = (),
    communities: Sequence[Community] = (),
) -> str:
    """The report in format *fmt* (``table``, ``json``, ``csv`` or ``html``).

    *events* (``hub_events``) come first in the table, JSON and HTML; the CSV stays one
    line per hub, with the next event in its columns.
    """
    if fmt == "csv":
        return to_csv(rows)  # the community's figures are in each hub's line
    return WRITERS[fmt](
        rows, month=month, generated_at=generated_at, events=events, communities=communities
    )
