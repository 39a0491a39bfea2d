"""The Usage page's "Usage per group" card: each JupyterHub group's figures in the month the
page shows, named (the page is for admins only), in the order the admin chooses, with the
month's cloud cost of each group when the cost source gives costs per group (#22).

The order is in the query (``group_sort``, ``group_order``), as the storage page's, so a
sorted table has a URL and needs no JavaScript; the links keep the page's other arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tornado import web

from ..core.checkin import NOT_AVAILABLE, SOURCE_NAMES
from ..core.cost import SOURCE_NONE, CostFigures
from ..core.format import format_money, month_name
from ..core.groups import GroupLine, GroupUsage, group_lines

#: (sort key, column heading) of the table, in column order; the last only with costs.
GROUP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Group"),
    ("mau_login", "MAU (logged in)"),
    ("mau_server", "MAU (started a server)"),
    ("sessions", "Sessions"),
    ("server_hours", "Server-hours"),
    ("median_session", "Median session"),
    ("cost", "Cloud cost"),
)
GROUP_SORTS = tuple(key for key, _label in GROUP_COLUMNS)
#: The hub's own order: most active first.
DEFAULT_GROUP_SORT = "mau_login"


@dataclass(frozen=True)
class GroupOrder:
    """The order the admin chose (*given*: the request named it, so links keep it)."""

    sort: str = DEFAULT_GROUP_SORT
    descending: bool = True
    given: bool = False

    @property
    def query(self) -> dict[str, str]:
        """The query arguments that keep this order in other links (none for the default)."""
        if not self.given:
            return {}
        return {"group_sort": self.sort, "group_order": "desc" if self.descending else "asc"}


def parse_group_order(get: Callable[[str, str], str]) -> GroupOrder:
    """The table's order from the query (*get* as ``RequestHandler.get_argument``); HTTP 400
    naming the argument when it is not one the table knows."""
    sort = get("group_sort", "")
    order = get("group_order", "")
    given = bool(sort or order)
    sort = sort or DEFAULT_GROUP_SORT
    if sort not in GROUP_SORTS:
        raise web.HTTPError(400, f"group_sort must be one of {', '.join(GROUP_SORTS)}")
    order = order or ("asc" if sort == "name" else "desc")
    if order not in ("asc", "desc"):
        raise web.HTTPError(400, "group_order must be asc or desc")
    return GroupOrder(sort, order == "desc", given)


@dataclass(frozen=True)
class GroupRow:
    """One row: the group's figures, label and cloud cost (None: the source gave none)."""

    line: GroupLine
    cost: float | None = None
    cost_text: str = NOT_AVAILABLE

    def value(self, key: str) -> Any:
        """The row's value in column *key* (None: it has none)."""
        figures = self.line.figures
        if key == "name":
            return self.line.label.casefold()
        if key == "median_session":
            return figures.median_session_minutes
        if key == "cost":
            return self.cost
        return getattr(figures, key)


def sort_rows(rows: Sequence[GroupRow], sort: str, descending: bool) -> list[GroupRow]:
    """*rows* by column *sort*. "Other groups" stays last (it sums many groups), and so do
    rows without a value in the column (no ended session, no cost); ties keep the hub's
    order, most active first."""
    groups = [row for row in rows if not row.line.other]
    known = [row for row in groups if row.value(sort) is not None]
    unknown = [row for row in groups if row.value(sort) is None]
    ordered = sorted(known, key=lambda row: row.value(sort), reverse=descending)
    return [*ordered, *unknown, *(row for row in rows if row.line.other)]


def group_rows(groups: Sequence[GroupUsage], cost: CostFigures | None) -> list[GroupRow]:
    """The rows in the hub's order, each with its cost from *cost*'s costs per group,
    matched by name; "Other groups" has none (which groups it sums is not known here)."""
    amounts = {entry.group: entry.amount for entry in cost.groups} if cost else {}
    rows = []
    for line in group_lines(groups):
        name = line.figures.name
        amount = None if line.other or name is None else amounts.get(name)
        if amount is None or cost is None:
            rows.append(GroupRow(line))
        else:
            rows.append(GroupRow(line, amount, format_money(amount, cost.currency)))
    return rows


def group_namespace(
    groups: Sequence[GroupUsage],
    month: str,
    order: GroupOrder,
    cost: CostFigures | None,
    link: Callable[..., str],
) -> dict[str, Any]:
    """What the card shows of *month* (``YYYY-MM``): the rows in *order* and the column
    headings with their sort links, made by *link(**query)*. The cost column is there only
    when *cost* is of that month and has costs per group."""
    if cost is not None and (cost.month != month or not cost.groups):
        cost = None
    headings = []
    for key, label in GROUP_COLUMNS if cost is not None else GROUP_COLUMNS[:-1]:
        if key == order.sort:
            state = "descending" if order.descending else "ascending"
            then = "asc" if order.descending else "desc"
        else:
            state, then = "none", "asc" if key == "name" else "desc"
        href = link(group_sort=key, group_order=then)
        headings.append({"key": key, "label": label, "href": href, "aria_sort": state})
    rows = sort_rows(group_rows(groups, cost), order.sort, order.descending)
    return {
        "group_rows": rows,
        "group_headings": headings,
        "group_month_name": month_name(month),
        "group_costs": cost is not None,
        "group_cost_source": SOURCE_NAMES.get(cost.source, cost.source) if cost else "",
        "group_other": any(row.line.other for row in rows),
    }


async def month_cost(service: Any, month: str) -> CostFigures | None:
    """The cloud cost of *month* for the card: the figures the service keeps of the current
    month, else asked of the source (which keeps its answers 15 minutes). None without a
    cost source, or when reading it went wrong (the page is shown all the same)."""
    reader = service.cost
    if reader.source == SOURCE_NONE:
        return None
    held = service.month_cost
    if held is not None and held.month == month:
        return held
    try:
        figures: CostFigures = await reader.month_cost(month)
    except Exception as error:
        service.log.warning("Could not read the cloud cost of %s (%s)", month, type(error).__name__)
        return None
    return figures
