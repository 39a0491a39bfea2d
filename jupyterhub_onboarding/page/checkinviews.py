"""What the landing page and the monthly report show of the check-in sources: cloud cost
beside the usage fee and the estimated total, storage, and the report's own month's cost
and the hub's configuration (#22)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..core.checkin import CheckinReport, cost_line, storage_data
from ..core.cost import SOURCE_NONE
from ..core.monthly import Report
from ..core.snapshot import Snapshot
from ..core.status.write import cost_section


def landing_checkin(service: Any, snapshot: Snapshot | None) -> dict[str, Any]:
    """What the landing page shows of cost and storage beside the usage fee."""
    if snapshot is None:
        return {}
    figures = service.month_cost
    if figures is not None and figures.month != snapshot.month:
        figures = None  # last month's, until this month's is read
    cost = cost_section(
        figures,
        month=snapshot.month,
        currency=service.cost.currency,
        source=service.cost.source,
    )
    line = cost_line(cost, snapshot.month, snapshot.estimated_usage_fee, snapshot.settings.currency)
    return {
        "checkin_cost": line.data(),
        "checkin_storage": storage_data(service.status_storage()),
        "storage_url": service.app.service_prefix + "storage",
    }


async def checkin_report(service: Any, report: Report) -> Report:
    """*report* with its own month's cloud cost (asked of the source, which keeps answers
    15 minutes) and the hub's configuration (profiles: those used in the month)."""
    reader = service.cost
    cost = None
    if reader.source != SOURCE_NONE:
        figures = await reader.month_cost(report.month)
        cost = cost_section(figures, month=report.month, currency=reader.currency)
    line = cost_line(cost, report.month, report.fee_total, report.currency)
    profiles = [entry.name for entry in report.figures.details.profiles]
    hub = await service.hub_configuration(profiles)
    checkin = report.checkin or CheckinReport(line)
    return replace(report, checkin=replace(checkin, cost=line, hub=hub))
