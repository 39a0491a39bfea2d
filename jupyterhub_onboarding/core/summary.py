"""The onboarding summary email of the procedure (section 3.2), filled in for one hub: pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .links import Link
from .snapshot import Snapshot
from .text import basis_verb

NOT_SET_UP = "not set up yet"

#: (link key, label in the email) in the procedure's order.
EMAIL_LINKS: tuple[tuple[str, str], ...] = (
    ("admin_dashboard_url", "Administrator Dashboard"),
    ("provider_docs_url", "2i2c Documentation"),
    ("advanced_guide_url", "Advanced tier guide"),
    ("premier_guide_url", "Premier tier guide"),
    ("community_docs_url", "Your Hub Documentation"),
    ("grafana_cost_url", "Cost Monitoring Dashboard"),
    ("grafana_usage_url", "Usage Dashboard"),
)


@dataclass(frozen=True)
class SummaryEmail:
    subject: str
    body: str

    @property
    def text(self) -> str:
        """Subject line and body, as served at ``summary.txt``."""
        return f"Subject: {self.subject}\n\n{self.body}"


def progress_sentence(snapshot: Snapshot) -> str:
    """``3 of 5 users have logged in`` (or ``... have started a server``)."""
    threshold = snapshot.settings.first_value_threshold
    done = snapshot.users_toward_first_value
    verb = basis_verb(snapshot.settings.first_value_basis)
    return f"{done} of {threshold} users {'has' if done == 1 else 'have'} {verb}"


def summary_email(
    snapshot: Snapshot | None,
    links: Sequence[Link],
    *,
    hub_url: str,
    support_email: str,
    response_time: str,
    threshold: int,
    customer_name: str = "[Customer Name]",
    sender_name: str = "[AM Name]",
    sender_title: str = "Account Manager, 2i2c",
    first_invoice: str = "[timeframe]",
) -> SummaryEmail:
    """The follow-up email, with this hub's URL, links, support address and progress.

    Items the service cannot know unless configured (the customer's and the account
    manager's names, the invoice timeframe) stay as bracketed placeholders.
    """
    by_key = {link.key: link for link in links}
    hub = hub_url.rstrip("/") + "/" if hub_url else NOT_SET_UP
    lines = [
        f"Hi {customer_name or '[Customer Name]'},",
        "",
        "Thank you for joining us for the onboarding session today! Here's a quick summary "
        "of what we covered:",
        "",
        "✅ Hub Access Confirmed",
        f"Your hub is live at: {hub}",
        "",
        "🔗 Important Links",
    ]
    for key, label in EMAIL_LINKS:
        link = by_key.get(key)
        if link is None:
            continue  # a tier guide for another tier
        lines.append(f"- {label}: {link.url or NOT_SET_UP}")
    lines += [
        "",
        "💬 Support",
        f"If you have any questions or need assistance, email us at: {support_email or NOT_SET_UP}",
        "Please include your hub URL and a description of the issue.",
    ]
    if response_time:
        lines.append(f"Expected response time: {response_time}.")
    lines += [
        "",
        "📊 Billing",
        f"You'll receive your first invoice {first_invoice or '[timeframe]'}. "
        "The invoice will include:",
        "- Usage fees based on Monthly Active Users (MAU)",
        "- Cloud costs (passed through with no markup)",
        "You can monitor both metrics in the dashboards we reviewed.",
        "",
        "🎯 Next Steps",
    ]
    verb = basis_verb("login")
    if snapshot is not None:
        threshold = snapshot.settings.first_value_threshold
        verb = basis_verb(snapshot.settings.first_value_basis)
    if snapshot is not None and snapshot.achieved:
        lines.append(
            f"Your hub reached its moment of first value on "
            f"{snapshot.achieved_at:%Y-%m-%d}: {threshold} users have {verb}. "
            "Keep inviting your community members to the hub!"
        )
    else:
        lines.append(
            "Start inviting your community members to the hub! We consider your hub "
            f'successful when {threshold} users have {verb} ("moment of first value").'
        )
        if snapshot is not None:
            lines.append(f"So far, {progress_sentence(snapshot)}.")
    lines += [
        "",
        "We're here to support you every step of the way.",
        "",
        "Best regards,",
        sender_name or "[AM Name]",
        *([sender_title] if sender_title else []),
        "",
    ]
    return SummaryEmail("Your 2i2c JupyterHub Onboarding Summary", "\n".join(lines))
