"""A month's cloud cost: the figure, the PromQL month window, and the cost endpoint's document.

Cloud cost passes through without markup. A month without a figure has the amount None
("not available"), never 0.

**The month window in PromQL.** ``Onboarding.cost_query`` holds ``$__range``, which becomes
the month's length in seconds (``2678400s`` for a 31-day month), and is evaluated as an
instant query at the month's last millisecond (UTC). A range selector ``[$__range]`` then
covers exactly the samples from the month's first instant to its end, with Prometheus 2's
closed ranges as with Prometheus 3's left-open ones; an hourly subquery ``[$__range:1h]``
steps through the month's hours from 00:00 of its first day to 23:00 of its last.

**The cost endpoint's document** (``Onboarding.cost_url``, ``GET {cost_url}?month=YYYY-MM``)::

    {"month": "2026-11", "amount": 1234.56, "currency": "USD",
     "groups": [{"group": "physics-101", "amount": 200.0}]}

``amount`` may be null (no figure yet); ``currency`` and ``groups`` may be left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .rules import month_label, parse_month
from .status.model import MAX_GROUP_NAME
from .usage import month_bounds

#: Where the month's length goes in a cost query (the name Grafana gives its time range).
RANGE_PLACEHOLDER = "$__range"

SOURCE_PROMETHEUS = "prometheus"
SOURCE_URL = "url"
#: No cost source is configured.
SOURCE_NONE = "none"

#: The longest group name kept (JupyterHub's own limit for group names).
MAX_GROUP_CHARS = MAX_GROUP_NAME
#: Amounts are kept to a millionth of the currency unit: sums of many hourly costs carry
#: floating point noise far below that.
AMOUNT_DIGITS = 6

_CURRENCY = re.compile(r"[A-Z]{3}")


class InvalidCostDocument(ValueError):
    """The cost endpoint's answer does not have the documented shape; safe to log."""


@dataclass(frozen=True)
class GroupCost:
    """The cost of one group (a JupyterHub group, or a cost allocation label's value)."""

    group: str
    amount: float


@dataclass(frozen=True)
class CostFigures:
    """The cloud cost of one UTC month.

    *amount* is None when no figure is available (nothing recorded for the month, or the
    source failing: then *problem* says why), never 0 for a missing figure. *source* is
    ``prometheus``, ``url`` or ``none``.
    """

    month: str
    amount: float | None
    currency: str
    source: str
    groups: tuple[GroupCost, ...] = ()
    problem: str | None = None

    @property
    def available(self) -> bool:
        return self.amount is not None


def not_available(
    month: str, currency: str, source: str, problem: str | None = None
) -> CostFigures:
    """A month without a figure (*problem*: why, when the source failed)."""
    return CostFigures(month, None, currency, source, (), problem)


def month_length(month: str) -> timedelta:
    """The length of a ``YYYY-MM`` month."""
    start, end = month_bounds(parse_month(month))
    return end - start


def evaluation_time(month: str) -> datetime:
    """The instant a cost query of *month* is evaluated at: its last millisecond (UTC)."""
    _start, end = month_bounds(parse_month(month))
    return end - timedelta(milliseconds=1)


def cost_promql(template: str, month: str) -> str:
    """*template* with ``$__range`` replaced by the length of *month* (``2678400s``)."""
    seconds = int(month_length(month).total_seconds())
    return template.replace(RANGE_PLACEHOLDER, f"{seconds}s")


def check_cost_query(text: str) -> str:
    """The stripped query, or ValueError when it is not empty yet lacks ``$__range``."""
    query = text.strip()
    if query and RANGE_PLACEHOLDER not in query:
        raise ValueError(
            f"must hold {RANGE_PLACEHOLDER}, the month's length, e.g. "
            f"'sum(sum_over_time(sum(node_total_hourly_cost)[{RANGE_PLACEHOLDER}:1h]))'"
        )
    return query


def _amount(value: float) -> float:
    return round(value, AMOUNT_DIGITS) + 0.0


def cost_from_series(
    month: str, series: Iterable[tuple[str | None, float]], currency: str
) -> CostFigures:
    """The month's cost from the query's series as ``(group or None, value)`` pairs.

    The amount is the sum of every series (None when the query gave none); with group
    labels, each group's amount is the sum of its series (a series without the label counts
    toward the amount only). ValueError for a value that is no amount (NaN, infinite).
    """
    groups: dict[str, float] = {}
    total, seen = 0.0, False
    for group, value in series:
        if not math.isfinite(value):
            raise ValueError(f"the query gave {value!r}, which is no amount")
        total, seen = total + value, True
        if group is not None:
            groups[group] = groups.get(group, 0.0) + value
    if not seen:
        return not_available(month, currency, SOURCE_PROMETHEUS)
    ranked = sorted(groups.items(), key=lambda item: (-item[1], item[0]))
    return CostFigures(
        month,
        _amount(total),
        currency,
        SOURCE_PROMETHEUS,
        tuple(GroupCost(name[:MAX_GROUP_CHARS], _amount(value)) for name, value in ranked),
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidCostDocument(f"{where} must be a finite number")
    return float(value)


def _groups(value: Any) -> tuple[GroupCost, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidCostDocument("groups must be a list")
    groups: dict[str, float] = {}
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise InvalidCostDocument(f"groups[{index}] must be an object")
        name = entry.get("group")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_GROUP_CHARS:
            raise InvalidCostDocument(
                f"groups[{index}].group must be a name of 1 to {MAX_GROUP_CHARS} characters"
            )
        groups[name] = groups.get(name, 0.0) + _number(
            entry.get("amount"), f"groups[{index}].amount"
        )
    ranked = sorted(groups.items(), key=lambda item: (-item[1], item[0]))
    return tuple(GroupCost(name, _amount(amount)) for name, amount in ranked)


def parse_cost_document(body: Any, month: str, currency: str) -> CostFigures:
    """The figures of the cost endpoint's answer for *month* (its documented shape, see the
    module's doc); *currency* when the document names none. InvalidCostDocument otherwise."""
    if not isinstance(body, dict):
        raise InvalidCostDocument(f"expected a JSON object, got {type(body).__name__}")
    answered = body.get("month")
    if answered != month:
        shown = answered if isinstance(answered, str) and len(answered) <= 20 else "?"
        raise InvalidCostDocument(f"asked for month {month}, the answer is for {shown!r}")
    named = body.get("currency", currency)
    if not isinstance(named, str) or not _CURRENCY.fullmatch(named):
        raise InvalidCostDocument("currency must be a three-letter code such as USD")
    raw_amount = body.get("amount")
    groups = _groups(body.get("groups"))
    if raw_amount is None:
        # no total, no parts: a month is available as a whole or not at all
        return not_available(month, named, SOURCE_URL)
    return CostFigures(month, _amount(_number(raw_amount, "amount")), named, SOURCE_URL, groups)


def month_of_label(label: str) -> str:
    """*label* as a canonical ``YYYY-MM``, or ValueError."""
    return month_label(parse_month(label))
