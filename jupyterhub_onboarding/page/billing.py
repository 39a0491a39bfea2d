"""The list behind each month's MAU, for the hub's admins: ``billing/YYYY-MM`` (a page) and
``billing/YYYY-MM.csv``: every counted user active in the month, whether active on the login
basis and on the server basis, the first and last active day, and whether excluded or
deleted since. A closed month lists its users as they were counted when it closed; the last
row of the CSV holds the totals, which equal the month's MAU."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from tornado import web

from ..core.billing import BillingList, closes_at
from ..core.format import format_money, format_utc, month_name, yes_no
from ..core.rules import add_months, month_label, month_of
from .handlers import PageHandler, handler_kwargs
from .usage import csv_cell

CSV_COLUMNS = (
    "name",
    "active_login",
    "active_server",
    "first_active_day",
    "last_active_day",
    "excluded_since",
    "deleted_since",
)


def billing_csv(listed: BillingList) -> str:
    """The month's list as CSV; its last row holds the totals (MAU login, MAU server)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in listed.lines:
        days = listed.days(line)
        writer.writerow(
            [
                csv_cell(line.name),
                yes_no(line.login),
                yes_no(line.server),
                days[0].isoformat() if days else "",
                days[1].isoformat() if days else "",
                yes_no(line.excluded_since),
                yes_no(line.deleted_at is not None),
            ]
        )
    state = "closed" if listed.closed is not None else "to date"
    writer.writerow(
        [
            f"total ({listed.label}, {state})",
            listed.login,
            listed.server,
            "",
            "",
            sum(1 for line in listed.lines if line.excluded_since),
            sum(1 for line in listed.lines if line.deleted_at is not None),
        ]
    )
    return out.getvalue()


class BillingHandler(PageHandler):
    """``billing/YYYY-MM`` and ``billing/YYYY-MM.csv``: admins only."""

    @web.authenticated
    async def get(self, label: str, as_csv: str | None = None) -> None:
        self.require_admin()
        service = self.service
        month = self.begun_month(label, "list")
        now = service.clock()
        listed = await service.read(service.store.billing.month_list, month)
        if as_csv:
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header(
                "Content-Disposition", f'attachment; filename="billing-{listed.label}.csv"'
            )
            self.set_security_headers("default-src 'none'; frame-ancestors 'none'")
            self.finish(billing_csv(listed))
            return
        await self.render_html(
            "onboarding-billing.html",
            page_title=f"Billing {listed.label}",
            landing_url=self.prefix,
            **billing_namespace(listed, service.app, self.prefix, month_of(now)),
        )


def billing_namespace(listed: BillingList, app: Any, prefix: str, current: int) -> dict[str, Any]:
    """What the billing page shows of *listed* (*current*: the month of now)."""
    closed = listed.closed
    following = add_months(listed.month, 1)
    return {
        "billing": listed,
        "billing_month_name": month_name(listed.label),
        "billing_closed": closed,
        "billing_closed_at": format_utc(closed.closed_at) if closed else "",
        "billing_fee": format_money(closed.fee, app.currency) if closed else "",
        "billing_closes_at": format_utc(closes_at(listed.month, app.billing_close_days)),
        "billing_rows": [(line, listed.days(line)) for line in listed.lines],
        "billing_csv_url": f"{prefix}billing/{listed.label}.csv",
        "billing_previous_url": f"{prefix}billing/{month_label(add_months(listed.month, -1))}",
        "billing_next_url": (
            f"{prefix}billing/{month_label(following)}" if following <= current else None
        ),
    }


def routes(service) -> list:
    """The billing page routes under the service prefix."""
    app = service.app
    prefix = re.escape(app.service_prefix)
    kwargs = handler_kwargs(service)
    return [
        web.url(
            prefix + r"billing/([0-9]{4}-[0-9]{2})(\.csv)?",
            BillingHandler,
            kwargs,
            name="onboarding-billing",
        ),
    ]
