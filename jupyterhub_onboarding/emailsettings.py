"""What the onboarding summary email needs beyond the figures: names and the invoice timing."""

from __future__ import annotations

from traitlets import TraitError, Unicode, validate
from traitlets.config import Configurable


class OnboardingEmail(Configurable):
    """The follow-up email of the onboarding meeting (shown at ``summary`` and
    ``summary.txt``). Left at their defaults, these stay as bracketed placeholders for the
    account manager to fill in before sending."""

    customer_name = Unicode(
        "[Customer Name]",
        help="""Who the email greets, e.g. ``"the Example Lab team"``.""",
    ).tag(config=True)

    account_manager = Unicode(
        "[AM Name]",
        help="""The account manager who signs the email, e.g. ``"Jo Rivera"``.""",
    ).tag(config=True)

    signature_title = Unicode(
        "Account Manager, 2i2c",
        help="""The line under the signature.""",
    ).tag(config=True)

    first_invoice = Unicode(
        "[timeframe]",
        help="""When the first invoice arrives, completing "You'll receive your first invoice
        ...", e.g. ``"at the start of next month"``.""",
    ).tag(config=True)

    @validate("customer_name", "account_manager", "signature_title", "first_invoice")
    def _one_line(self, proposal):
        value = proposal["value"].strip()
        if "\n" in value or "\r" in value or len(value) > 200:
            raise TraitError(
                f"OnboardingEmail.{proposal['trait'].name} must be one line of at most 200 "
                f"characters, got {value[:60]!r}"
            )
        return value
