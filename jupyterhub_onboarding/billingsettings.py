"""The service's billing settings: when a month closes, and the key of the pseudonyms that
let the hubs of one community count each person once."""

from __future__ import annotations

import os
from typing import Any

from traitlets import HasTraits, Integer, Unicode, default, validate

from .core.billing import DEFAULT_CLOSE_DAYS
from .settings import at_least

#: The environment variable the pseudonym key is read from by default.
PSEUDONYM_KEY_ENV = "ONBOARDING_BILLING_PSEUDONYM_KEY"


class BillingSettings(HasTraits):
    """Settings of the service's billing (mixed into the service's Application)."""

    billing_close_days = Integer(
        DEFAULT_CLOSE_DAYS,
        help="""Days after a month ends (UTC) when it closes: its MAU on both bases, the
        counted users behind it and its fee are then written once and read from then on,
        whatever later changes to exclusions, deletions or fee tiers. Only an explicit
        `python -m jupyterhub_onboarding recount --month YYYY-MM` changes a closed month.
        Example: 3 closes November on 4 December 00:00 UTC.""",
    ).tag(config=True)

    @validate("billing_close_days")
    def _check_close_days(self, proposal: dict[str, Any]) -> int:
        return int(at_least(proposal, 0, 366))

    billing_pseudonym_key = Unicode(
        help=f"""The secret the hubs of one community share, so that the collector counts
        each of its people once across them: with it, api/v1/billing/YYYY-MM serves the keyed
        pseudonyms (HMAC-SHA256 of the normalised username) of the month's counted users,
        never their names; without it that endpoint answers 404. Default: the environment
        variable {PSEUDONYM_KEY_ENV} (in the Helm values, from a Kubernetes secret).
        Example: a random string of 32 bytes or more, the same on every hub of the customer.""",
    ).tag(config=True)

    @default("billing_pseudonym_key")
    def _default_pseudonym_key(self) -> str:
        return os.environ.get(PSEUDONYM_KEY_ENV, "")
