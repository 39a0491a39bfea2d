"""What a check-in needs beside usage: cloud cost next to the usage fee, home directory
storage, and the hub's configuration, for the page, the monthly report and the collector.

Pure, no names: the storage figures are the status document's (no directory, no owner)
and the hub configuration is classes and versions. A month without a cost figure is "not
available", never 0, and then there is no estimated total either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .buckets import SIZE_BUCKETS
from .format import format_money, format_utc, number, size
from .hubinfo import HubConfiguration
from .status.model import Cost, Storage

NOT_AVAILABLE = "not available"
#: How each cost source is named where a figure is shown.
SOURCE_NAMES = {"prometheus": "Prometheus", "url": "the cost endpoint", "none": "no source"}


@dataclass(frozen=True)
class CostLine:
    """A month's cloud cost beside its usage fee, and their sum when both are known in one
    currency."""

    month: str
    amount: float | None
    currency: str
    source: str
    problem: str | None
    usage_fee: float
    fee_currency: str

    @property
    def available(self) -> bool:
        return self.amount is not None

    @property
    def estimated_total(self) -> float | None:
        """Usage fee plus cloud cost; None without a cost, or with costs in another
        currency than the fee (no exchange rate is guessed)."""
        if self.amount is None or self.currency.upper() != self.fee_currency.upper():
            return None
        return self.usage_fee + self.amount

    @property
    def why_no_total(self) -> str | None:
        """Why there is no estimated total (None when there is one)."""
        if self.amount is None:
            return "the cloud cost is not available"
        if self.estimated_total is None:
            return f"the cloud cost is in {self.currency}, the usage fee in {self.fee_currency}"
        return None

    def data(self) -> dict[str, Any]:
        """The line as text, for the HTML and Typst reports and the page."""
        total = self.estimated_total
        return {
            "month": self.month,
            "amount": NOT_AVAILABLE
            if self.amount is None
            else format_money(self.amount, self.currency),
            "available": self.available,
            "source": SOURCE_NAMES.get(self.source, self.source),
            "configured": self.source != "none",
            "problem": self.problem,
            "usage_fee": format_money(self.usage_fee, self.fee_currency),
            "estimated_total": NOT_AVAILABLE
            if total is None
            else format_money(total, self.fee_currency),
            "why_no_total": self.why_no_total,
        }


def cost_line(cost: Cost | None, month: str, usage_fee: float, fee_currency: str) -> CostLine:
    """*month*'s cost line from the status document's *cost* section (not available when
    the section is of another month or missing)."""
    if cost is None or cost.month != month:
        return CostLine(month, None, fee_currency, "none", None, usage_fee, fee_currency)
    return CostLine(
        month, cost.amount, cost.currency, cost.source, cost.problem, usage_fee, fee_currency
    )


def storage_data(storage: Storage | None) -> dict[str, Any] | None:
    """The storage figures as text (None when storage is not configured)."""
    if storage is None or not storage.configured:
        return None
    measured = storage.measured_at is not None
    return {
        "measured": measured,
        "measured_at": format_utc(storage.measured_at) if measured else None,
        "total": size(storage.total_bytes, NOT_AVAILABLE),
        "directories": number(storage.directories, NOT_AVAILABLE),
        "median": size(storage.median_bytes, NOT_AVAILABLE),
        "p90": size(storage.p90_bytes, NOT_AVAILABLE),
        "distribution": [
            {"label": label, "count": storage.distribution.get(key, 0)}
            for key, label, _low, _high in SIZE_BUCKETS
        ]
        if measured
        else [],
        "problem": storage.problem,
    }


def hub_data(hub: HubConfiguration | None) -> dict[str, Any] | None:
    """The hub's configuration as (setting, value) rows (None when the hub did not tell
    even its version); what the service may not read is left out, with the reason."""
    if hub is None:
        return None
    rows = [("JupyterHub version", hub.version or NOT_AVAILABLE)]
    info = hub.info
    if info is not None:
        if info.python:
            rows.append(("Python version", info.python))
        for what, found in (("Authenticator", info.authenticator), ("Spawner", info.spawner)):
            if found is not None:
                version = f" {found.version}" if found.version else ""
                rows.append((what, f"{found.short_name}{version} ({found.name})"))
    if hub.profiles_seen:
        rows.append(("Profiles used", ", ".join(hub.profiles_seen)))
    return {
        "rows": [{"setting": setting, "value": value} for setting, value in rows],
        "left_out": hub.info_problem,
    }


@dataclass(frozen=True)
class CheckinReport:
    """The report's check-in section: cost beside the fee, storage, hub configuration."""

    cost: CostLine
    storage: Storage | None = None
    hub: HubConfiguration | None = None

    def data(self) -> dict[str, Any]:
        return {
            "cost": self.cost.data(),
            "storage": storage_data(self.storage),
            "hub": hub_data(self.hub),
        }
