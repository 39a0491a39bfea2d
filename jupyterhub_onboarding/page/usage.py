"""The "How the hub is used" section of the landing page, its bucket lists and its CSV.

The month's figures come from the snapshot (memory). The per-user table is a page of rows
read on the database thread with the order, the bucket and the page in SQL, so it costs the
same on a hub of 100,000 users as on one of 100 and never blocks the event loop.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from tornado import web

from ..core.clock import isoformat
from ..core.cost import CostFigures
from ..core.format import duration, hours, month_name
from ..core.rules import add_months, month_label, month_of, parse_month
from ..core.snapshot import Snapshot
from ..core.usage import LAST_LOGIN_BUCKETS, SERVER_MINUTES_BUCKETS, MonthUsage
from ..service.store import USAGE_SORTS, UsageQuery, UsageRow
from ..service.store.usertable import USAGE_FILTERS
from .chart import HistogramBar, histogram_svg
from .groupviews import GroupOrder, group_namespace, month_cost, parse_group_order

#: Rows of the per-user table per page.
PAGE_SIZE = 50
#: Longest name search the per-user table takes.
MAX_SEARCH = 100

#: (filter, label) of the per-user table's filter menu.
FILTER_LABELS: tuple[tuple[str, str], ...] = (
    ("", "Everyone who has logged in"),
    ("with_sessions", "With a session in the month"),
    ("without_sessions", "Without a session in the month"),
    ("admins", "Admins"),
    ("removed", "Removed from the hub"),
)

#: (sort key, column heading) of the per-user table, in column order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("sessions", "Sessions"),
    ("server_hours", "Server-hours"),
    ("last_login", "Last login"),
    ("last_session_end", "Last session end"),
)

#: The kinds of bucket a list can be asked for, with their buckets.
BUCKET_KINDS = {"last_login": LAST_LOGIN_BUCKETS, "server_minutes": SERVER_MINUTES_BUCKETS}

#: Cells starting with these are formulas to a spreadsheet; they get a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "name",
    "admin",
    "removed_from_hub",
    "sessions",
    "server_hours",
    "last_login",
    "last_session_end",
    "most_used_profile",
)


def csv_cell(value: Any) -> str:
    """A cell's text, with a formula neutralised (``=1+1`` becomes ``'=1+1``)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


#: The columns a list of users with lifetime figures adds (a bucket's CSV).
LIFETIME_COLUMNS = ("last_session_end_ever", "most_used_profile_ever")


#: The column the home directory sizes add, when storage is read (docs/checkin.md).
HOME_COLUMN = "home_directory_bytes"


def home_sizes(service: Any) -> Mapping[str, int] | None:
    """Each user's home directory size as last measured (admin views only); empty before a
    first measurement, None when home directory storage is not read at all."""
    if service.storage is None:
        return None
    figures = service.storage.state.figures
    return figures.by_user() if figures is not None else {}


def usage_csv(
    rows: Sequence[UsageRow],
    lifetime: bool = False,
    home: Mapping[str, int] | None = None,
) -> str:
    """The per-user table as CSV, one row per counted user who has logged in; with
    *lifetime*, each user's last session end and most used profile over all sessions too;
    with *home* (username -> bytes), each user's home directory size (empty: not measured).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    extra = (HOME_COLUMN,) if home is not None else ()
    writer.writerow(CSV_COLUMNS + (LIFETIME_COLUMNS if lifetime else ()) + extra)
    for row in rows:
        cells = [
            csv_cell(row.name),
            "yes" if row.admin else "no",
            "yes" if row.deleted_at is not None else "no",
            row.sessions,
            f"{row.server_hours:.4f}",
            isoformat(row.last_login_at) or "",
            "running" if row.running else (isoformat(row.last_session_end) or ""),
            csv_cell(row.top_profile),
        ]
        if lifetime:
            ended = isoformat(row.ever_last_session_end) or ""
            cells += ["running" if row.ever_running else ended, csv_cell(row.ever_top_profile)]
        if home is not None:
            cells.append(home.get(row.name, ""))
        writer.writerow(cells)
    return out.getvalue()


def session_length(minutes: float | None) -> str:
    return duration(minutes, none="no ended session")


@dataclass(frozen=True)
class FigureRow:
    key: str
    label: str
    current: str
    previous: str


def figure_rows(current: MonthUsage, previous: MonthUsage) -> list[FigureRow]:
    """The month's figures beside the previous month's, formatted."""

    def each(key: str, label: str, fmt) -> FigureRow:
        return FigureRow(key, label, fmt(getattr(current, key)), fmt(getattr(previous, key)))

    return [
        each("sessions", "Sessions started", lambda v: f"{v:,}"),
        each("users_with_sessions", "Users with a session", lambda v: f"{v:,}"),
        each("server_hours", "Server-hours (wall time running)", hours),
        each("median_session_minutes", "Median session length", session_length),
        each("p90_session_minutes", "90th percentile session length", session_length),
        each(
            "peak_concurrent_servers",
            "Peak concurrent servers (the most running at one poll)",
            lambda v: f"{v:,}",
        ),
    ]


def parse_bucket(value: str) -> tuple[str, str]:
    """``last_login:1d_7d`` -> ("last_login", "1d_7d"); HTTP 400 for anything else."""
    kind, _, key = value.partition(":")
    buckets = BUCKET_KINDS.get(kind)
    if buckets is None or key not in {b[0] for b in buckets}:
        raise web.HTTPError(400, "bucket must be last_login:KEY or server_minutes:KEY")
    return kind, key


def bucket_label(kind: str, key: str) -> str:
    for name, label, *_ in BUCKET_KINDS[kind]:
        if name == key:
            return label
    return key


class TableArgs:
    """The per-user table's order and page from a request's query string (400 when bad)."""

    def __init__(
        self, get: Callable[[str, str], str], default_month: int, default_sort: str = "server_hours"
    ) -> None:
        """*get(name, default)* reads a query argument (``RequestHandler.get_argument``)."""
        self.sort = get("sort", default_sort)
        if self.sort not in USAGE_SORTS:
            raise web.HTTPError(400, f"sort must be one of {', '.join(USAGE_SORTS)}")
        order = get("order", "asc" if self.sort == "name" else "desc")
        if order not in ("asc", "desc"):
            raise web.HTTPError(400, "order must be asc or desc")
        self.descending = order == "desc"
        try:
            self.page = int(get("page", "1"))
        except ValueError:
            raise web.HTTPError(400, "page must be a whole number") from None
        if not 1 <= self.page <= 1_000_000:
            raise web.HTTPError(400, "page must be between 1 and 1000000")
        month = get("month", "")
        self.month_given = bool(month)
        try:
            self.month = parse_month(month) if month else default_month
        except ValueError:
            raise web.HTTPError(400, "month must look like YYYY-MM") from None
        self.search = get("q", "").strip()
        if len(self.search) > MAX_SEARCH:
            raise web.HTTPError(
                400, f"q (the name searched for) must be at most {MAX_SEARCH} characters"
            )
        self.show = get("show", "")
        if self.show not in USAGE_FILTERS:
            raise web.HTTPError(400, f"show must be one of {', '.join(USAGE_FILTERS[1:])}")
        #: The table's arguments as the request gave them, for other links to keep.
        self.given = {name: get(name, "") for name in ("month", "q", "show", "sort", "order")}
        if self.page > 1:
            self.given["page"] = str(self.page)

    @property
    def narrowing(self) -> dict[str, str]:
        """The query arguments of the search and filter, for the table's links."""
        given = {"month": month_label(self.month)} if self.month_given else {}
        return {**given, "q": self.search, "show": self.show}

    def query(
        self,
        snapshot: Snapshot,
        bucket: tuple[str, str] | None = None,
        *,
        lifetime: bool = False,
        limit: int | None = PAGE_SIZE,
    ) -> UsageQuery:
        return UsageQuery(
            month=self.month,
            now=snapshot.generated_at,
            sort=self.sort,
            descending=self.descending,
            offset=(self.page - 1) * PAGE_SIZE if limit else 0,
            limit=limit,
            bucket=bucket,
            search=self.search,
            show=self.show,
            lifetime=lifetime,
        )


def _link(base: str, fragment: str = "", **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return base + ("?" + query if query else "") + (f"#{fragment}" if fragment else "")


def table_namespace(
    args: TableArgs,
    rows: list[UsageRow] | None,
    total: int,
    base_url: str,
    fragment: str,
    **fixed: Any,
) -> dict[str, Any]:
    """The per-user table: rows, column sort links and pager links."""
    fixed = {**fixed, **args.narrowing}
    headings = []
    for key, label in COLUMNS:
        if key == args.sort:
            order = "asc" if args.descending else "desc"
            state = "descending" if args.descending else "ascending"
        else:
            order = "asc" if key == "name" else "desc"
            state = "none"
        href = _link(base_url, fragment, **fixed, sort=key, order=order)
        headings.append({"key": key, "label": label, "href": href, "aria_sort": state})
    pages = max(1, -(-total // PAGE_SIZE))
    current = {"sort": args.sort, "order": "desc" if args.descending else "asc"}

    def page_link(page: int) -> str | None:
        if not 1 <= page <= pages or page == args.page:
            return None
        return _link(base_url, fragment, **fixed, **current, page=page)

    return {
        "usage_rows": rows,
        "usage_total": total,
        "usage_headings": headings,
        "usage_page": args.page,
        "usage_pages": pages,
        "usage_prev_url": page_link(args.page - 1),
        "usage_next_url": page_link(args.page + 1),
        "usage_first_row": (args.page - 1) * PAGE_SIZE + 1,
        "usage_search": args.search,
        "usage_show": args.show,
        "usage_filters": FILTER_LABELS,
        "usage_month_value": month_label(args.month),
    }


async def load_rows(service, query: UsageQuery) -> tuple[list[UsageRow] | None, int]:
    """A page of the per-user table, or (None, 0) while the database is unavailable."""
    try:
        return await service.read(service.store.usage_rows, query)
    except web.HTTPError:
        raise
    except Exception as error:
        service.log.warning("Could not read the per-user usage table (%s)", type(error).__name__)
        return None, 0


async def usage_namespace(handler, snapshot: Snapshot | None) -> dict[str, Any]:
    """Everything the landing page's "How the hub is used" section shows."""
    if snapshot is None:
        return {}
    args = TableArgs(handler.get_argument, month_of(snapshot.generated_at))
    order = parse_group_order(handler.get_argument)
    service = handler.service
    rows, total = await load_rows(service, args.query(snapshot))
    month = month_label(args.month)
    # the cost per group is asked for only where there are groups to put it beside
    cost = await month_cost(service, month) if snapshot.usage.month(month).groups else None
    section = usage_section(
        snapshot, service.app.service_prefix, args, rows, total, group_order=order, cost=cost
    )
    return {**section, "usage_home_sizes": home_sizes(service)}


def usage_section(
    snapshot: Snapshot,
    prefix: str,
    args: TableArgs,
    rows: list[UsageRow] | None,
    total: int,
    *,
    group_order: GroupOrder | None = None,
    cost: CostFigures | None = None,
) -> dict[str, Any]:
    """The section's namespace from the snapshot, one page of the per-user table, the order
    of the usage per group and the cloud cost of the table's month."""
    current = month_of(snapshot.generated_at)
    usage = snapshot.usage
    lists = prefix + "usage/users"
    last_login_bars, minutes_bars = (
        [
            HistogramBar(key, label, counts.get(key, 0), _link(lists, bucket=f"{kind}:{key}"))
            for key, label, *_ in BUCKET_KINDS[kind]
        ]
        for kind, counts in (
            ("last_login", usage.last_login_distribution),
            ("server_minutes", usage.server_minutes_distribution),
        )
    )
    previous = add_months(current, -1)
    this_month = month_name(month_label(current))
    ns: dict[str, Any] = {
        "usage_current": snapshot.usage_month,
        "usage_previous": snapshot.usage_previous_month,
        "usage_month_name": this_month,
        "usage_previous_name": month_name(month_label(previous)),
        "usage_figures": figure_rows(snapshot.usage_month, snapshot.usage_previous_month),
        "usage_table_month_name": month_name(month_label(args.month)),
        "last_login_svg": Markup(  # noqa: S704 - built escaped
            histogram_svg(
                last_login_bars,
                chart_id="last-login-chart",
                title="Counted users by time since their last login",
            )
        ),
        "server_minutes_svg": Markup(  # noqa: S704 - built escaped
            histogram_svg(
                minutes_bars,
                chart_id="server-minutes-chart",
                title=f"Counted users by server time in {this_month}",
            )
        ),
        "usage_csv_url": _link(prefix + "usage.csv", month=month_label(current)),
        "usage_previous_csv_url": _link(prefix + "usage.csv", month=month_label(previous)),
    }
    order = group_order or GroupOrder()
    month = month_label(args.month)
    ns.update(
        group_namespace(
            usage.month(month).groups,
            month,
            order,
            cost,
            lambda **query: _link(prefix + "usage", "usage-groups", **args.given, **query),
        ),
        group_order_query=order.query,
    )
    ns.update(table_namespace(args, rows, total, prefix + "usage", "usage-users", **order.query))
    return ns
