"""Validation of configuration values, with errors that name the option (``Class.trait``)."""

from __future__ import annotations

from typing import Any

from traitlets import TraitError

from . import fees


def option_name(proposal: dict[str, Any]) -> str:
    return f"{type(proposal['owner']).__name__}.{proposal['trait'].name}"


def at_least(proposal: dict[str, Any], minimum: float) -> Any:
    """The proposed value, or a TraitError when it is below *minimum*."""
    value = proposal["value"]
    if not value >= minimum:
        raise TraitError(f"{option_name(proposal)} must be at least {minimum}, got {value!r}")
    return value


def above_zero(proposal: dict[str, Any]) -> Any:
    """The proposed number of seconds, or a TraitError unless it is > 0."""
    value = proposal["value"]
    if not value > 0:
        raise TraitError(f"{option_name(proposal)} must be a number of seconds > 0, got {value!r}")
    return value


def fee_tiers(proposal: dict[str, Any]) -> list[list[Any]]:
    """Checked fee tiers as lists of [upper_bound, price]."""
    try:
        return [list(tier) for tier in fees.validate_tiers(proposal["value"])]
    except ValueError as error:
        raise TraitError(f"{option_name(proposal)}: {error}") from None
