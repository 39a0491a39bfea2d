"""The graduated usage fee on billing MAU: pure arithmetic, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

#: Default tiers: (upper bound of the tier in users, or None for "and above"; price per user).
DEFAULT_TIERS: tuple[tuple[int | None, float], ...] = (
    (10, 10.0),
    (100, 5.0),
    (1000, 2.5),
    (10000, 1.25),
    (None, 0.0),
)

#: The highest price per user a tier may have, in any currency: higher is surely a typo, and
#: every fee computed from such prices stays a finite number.
MAX_PRICE = 1_000_000_000


@dataclass(frozen=True)
class TierLine:
    """One line of a worked fee estimate."""

    first_user: int
    last_user: int | None
    price: float
    users: int
    subtotal: float

    @property
    def label(self) -> str:
        if self.last_user is None:
            return f"{self.first_user:,}+"
        return f"{self.first_user:,}-{self.last_user:,}"


def validate_tiers(tiers: Sequence[Sequence[object]]) -> tuple[tuple[int | None, float], ...]:
    """Check tiers are ascending (bound, price) pairs ending in an open tier; return them.

    Raises ValueError with a sentence that says what is wrong.
    """
    cleaned: list[tuple[int | None, float]] = []
    previous = 0
    if not tiers:
        raise ValueError("at least one tier is needed")
    for index, tier in enumerate(tiers):
        if not isinstance(tier, (list, tuple)) or len(tier) != 2:
            raise ValueError(f"tier {index} must be a pair (upper_bound, price), got {tier!r}")
        bound, price = tier
        if not _is_price(price):
            raise ValueError(
                f"tier {index}: price must be a finite number from 0 to {MAX_PRICE:,}, "
                f"got {price!r}"
            )
        last = index == len(tiers) - 1
        if bound is None:
            if not last:
                raise ValueError(f"tier {index}: only the last tier may be open (None)")
        elif isinstance(bound, bool) or not isinstance(bound, int) or bound <= previous:
            raise ValueError(
                f"tier {index}: upper bound must be an integer above {previous}, got {bound!r}"
            )
        else:
            previous = bound
        cleaned.append((bound, float(price)))
    if cleaned[-1][0] is not None:
        raise ValueError("the last tier must be open-ended (upper bound None)")
    return tuple(cleaned)


def _is_price(price: object) -> TypeGuard[int | float]:
    """Whether *price* is a usable price per user: a finite number from 0 to MAX_PRICE."""
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return False
    # compare before isfinite: an int too large for a float is simply above the maximum
    return 0 <= price <= MAX_PRICE and math.isfinite(price)


def fee_breakdown(
    users: int, tiers: Sequence[tuple[int | None, float]] = DEFAULT_TIERS
) -> tuple[TierLine, ...]:
    """Work the graduated fee through every tier for *users* billable users."""
    if users < 0:
        raise ValueError("users must be >= 0")
    lines = []
    lower = 0
    for bound, price in tiers:
        in_tier = max(0, (users if bound is None else min(users, bound)) - lower)
        lines.append(TierLine(lower + 1, bound, price, in_tier, round(in_tier * price, 2)))
        if bound is None:
            break
        lower = bound
    return tuple(lines)


def usage_fee(users: int, tiers: Sequence[tuple[int | None, float]] = DEFAULT_TIERS) -> float:
    """The graduated monthly usage fee for *users* billable users (280 -> 1000.0)."""
    return total(fee_breakdown(users, tiers))


def total(lines: Sequence[TierLine]) -> float:
    """The fee of worked-through tier *lines*, rounded to cents."""
    return round(sum(line.subtotal for line in lines), 2)
