"""Settings shared by the service and the collector, defined once, and the checks of values.

Errors name the option (``Class.trait``) and the value, so a bad configuration stops the
program at start with one line that says what to fix.
"""

from __future__ import annotations

import math
from typing import Any

from traitlets import Enum, HasTraits, List, TraitError, validate

from .core import fees

#: Command-line aliases and flags every command of the package has.
COMMON_ALIASES = {"log-level": "Application.log_level"}
COMMON_FLAGS = {"debug": ({"Application": {"log_level": 10}}, "Log at DEBUG level.")}

#: The longest duration any option in seconds may have: ten years. Longer is surely a typo,
#: and every time computed from it stays far inside the dates Python can represent.
MAX_SECONDS = 10 * 365 * 86400


def option_name(proposal: dict[str, Any]) -> str:
    return f"{type(proposal['owner']).__name__}.{proposal['trait'].name}"


def _number_problem(value: Any) -> str | None:
    """Why *value* is no number an option can hold (infinite, NaN), or ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    return None


def at_least(proposal: dict[str, Any], minimum: float, maximum: float | None = None) -> Any:
    """The proposed value, or a TraitError when it is below *minimum*, above *maximum* or
    not a finite number."""
    value = proposal["value"]
    problem = _number_problem(value)
    if problem is None and maximum is None and not value >= minimum:
        problem = f"must be at least {minimum}"
    elif problem is None and maximum is not None and not minimum <= value <= maximum:
        problem = f"must be between {minimum} and {maximum:,}"
    if problem is not None:
        raise TraitError(f"{option_name(proposal)} {problem}, got {value!r}")
    return value


def above_zero(proposal: dict[str, Any], maximum: float = MAX_SECONDS) -> Any:
    """The proposed number of seconds, or a TraitError unless it is > 0 and at most
    *maximum* (ten years by default)."""
    value = proposal["value"]
    if _number_problem(value) is not None or not 0 < value <= maximum:
        raise TraitError(
            f"{option_name(proposal)} must be a number of seconds > 0 and at most "
            f"{maximum:,}, got {value!r}"
        )
    return value


class FeeTierSettings(HasTraits):
    """The usage-fee tiers, a setting of both the service and the collector."""

    fee_tiers = List(
        default_value=[list(tier) for tier in fees.DEFAULT_TIERS],
        help="""Graduated usage-fee tiers as [upper_bound, price_per_user] pairs, ascending,
        the last with upper_bound None. The service estimates each month's fee with them; the
        collector recomputes a past month's fee (--month) with them, while the current month
        keeps each hub's own estimate. Default:
        [[10, 10.0], [100, 5.0], [1000, 2.5], [10000, 1.25], [None, 0.0]].""",
    ).tag(config=True)

    @validate("fee_tiers")
    def _check_tiers(self, proposal: dict[str, Any]) -> list[list[Any]]:
        try:
            return [list(tier) for tier in fees.validate_tiers(proposal["value"])]
        except ValueError as error:
            raise TraitError(f"{option_name(proposal)}: {error}") from None


class ReportSettings(HasTraits):
    """How monthly reports are printed, a setting of both the service and the collector."""

    report_page_size = Enum(
        ["a4", "letter"],
        default_value="a4",
        help="""Page size of the monthly report PDFs: 'a4' (210 x 297 mm) or 'letter'
        (US Letter, 8.5 x 11 in). The HTML report prints on the browser's page size.""",
    ).tag(config=True)
