"""The onboarding summary email of the procedure (section 3.2), filled in for one hub: pure.

The email is meant to be sent as it is. What the service does not know is never written as
if it were: a link that is not set up is left out, a name that is not configured becomes a
bracketed placeholder, and each gap is listed (with the setting that fills it) as a
:class:`Missing` entry, which the page shows above the email.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

from .format import basis_verb, long_date
from .links import Link
from .snapshot import Snapshot

#: The subject line; ``{provider}`` is the provider's name (``Onboarding.provider_name``).
SUBJECT = "Your {provider} JupyterHub Onboarding Summary"
DEFAULT_PROVIDER = "2i2c"

#: The longest ``mailto:`` link offered. Some mail clients, and the systems that hand the
#: link to them, cut or refuse links beyond about 2,000 characters, so a longer email is
#: offered through the copy button only.
MAILTO_MAX_LENGTH = 2000

#: (link key, label in the email) in the procedure's order.
EMAIL_LINKS: tuple[tuple[str, str], ...] = (
    ("admin_dashboard_url", "Administrator Dashboard"),
    ("provider_docs_url", "{provider} Documentation"),
    ("advanced_guide_url", "Advanced tier guide"),
    ("premier_guide_url", "Premier tier guide"),
    ("community_docs_url", "Your Hub Documentation"),
    ("grafana_cost_url", "Cost Monitoring Dashboard"),
    ("grafana_usage_url", "Usage Dashboard"),
)

#: Placeholders written where a setting is empty.
PLACEHOLDERS = {
    "hub_url": "[hub URL]",
    "support_email": "[support email address]",
    "sender_name": "[AM Name]",
    "first_invoice": "[timeframe]",
}


@dataclass(frozen=True)
class Missing:
    """Something to configure before the email can be sent as it is."""

    what: str
    #: The setting that fills it, e.g. ``StandardLinks.grafana_usage_url``.
    setting: str
    #: How the email shows the gap: ``left out``, or the placeholder written in its place.
    shown_as: str


@dataclass(frozen=True)
class SummaryEmail:
    subject: str
    body: str
    #: What must be configured before sending, in the order the email mentions it.
    missing: tuple[Missing, ...] = ()

    @property
    def text(self) -> str:
        """Subject line and body, as served at ``summary.txt``."""
        return f"Subject: {self.subject}\n\n{self.body}"

    @property
    def ready(self) -> bool:
        """True when nothing in the email needs editing."""
        return not self.missing


def is_unset(value: str | None) -> bool:
    """Empty, blank, or still a bracketed placeholder such as ``[AM Name]``."""
    text = (value or "").strip()
    return not text or (text.startswith("[") and text.endswith("]"))


def _without_article(name: str) -> str:
    """``the Example Lab`` -> ``Example Lab`` (the greeting and sentences add their own)."""
    text = name.strip()
    return text[4:].lstrip() if text.lower().startswith("the ") else text


def greeting(contact_name: str = "", community_name: str = "") -> str:
    """The salutation line.

    A contact person is greeted by name; without one, the community's team; with neither,
    a plain ``Hello,`` (correct, but :func:`summary_email` lists the names as missing).
    """
    if not is_unset(contact_name):
        return f"Hi {contact_name.strip()},"
    if not is_unset(community_name):
        team = _without_article(community_name)
        if not team.lower().endswith("team"):
            team += " team"
        return f"Hi {team},"
    return "Hello,"


def progress_sentence(snapshot: Snapshot) -> str:
    """``3 of 5 users have logged in`` (or ``... have started a server``)."""
    threshold = snapshot.settings.first_value_threshold
    done = snapshot.users_toward_first_value
    verb = basis_verb(snapshot.settings.first_value_basis)
    return f"{done} of {threshold} users {'has' if done == 1 else 'have'} {verb}"


#: What each placeholder of the email stands for, and the setting that fills it.
FILLED_BY = {
    "hub_url": ("The hub's URL", "Onboarding.public_url"),
    "support_email": ("The support email address", "StandardLinks.support_email"),
    "first_invoice": ("When the first invoice arrives", "OnboardingEmail.first_invoice"),
    "sender_name": ("The account manager who signs the email", "OnboardingEmail.account_manager"),
}


def _addressee_missing(contact: str, community_name: str, customer_email: str) -> list[Missing]:
    """Who the email greets and who it goes to, when neither is configured."""
    missing = []
    if is_unset(contact) and is_unset(community_name):
        missing.append(
            Missing(
                "Who the email greets (the contact person, or the community)",
                "OnboardingEmail.contact_name or OnboardingEmail.community_name",
                "Hello,",
            )
        )
    if is_unset(customer_email):
        missing.append(
            Missing(
                "The customer's email address, for the mail app's To field",
                "OnboardingEmail.customer_email",
                "no recipient",
            )
        )
    return missing


def _link_lines(links: Sequence[Link], missing: list[Missing], provider: str) -> list[str]:
    """One line per standard link set up; the others are left out and listed in *missing*."""
    by_key = {link.key: link for link in links}
    lines = []
    for key, label in EMAIL_LINKS:
        link = by_key.get(key)
        if link is None:
            continue  # a tier guide for another tier
        label = label.format(provider=provider)
        if link.url:
            lines.append(f"- {label}: {link.url}")
        else:
            missing.append(Missing(f"The {label} link", f"StandardLinks.{key}", "left out"))
    return lines


def meeting_words(held_on: date | None, today: date | None) -> str:
    """When the session was, as the thank-you says it: ``today``, ``yesterday``, ``on
    4 December 2026``; empty when the meeting is not recorded."""
    if held_on is None:
        return ""
    if held_on == today:
        return " today"
    if today is not None and held_on == today - timedelta(days=1):
        return " yesterday"
    return f" on {long_date(held_on)}"


def dashboards_sentence(links: Sequence[Link]) -> list[str]:
    """The billing section's pointer to the dashboards that are set up (none: no line)."""
    ready = {link.key for link in links if link.url}
    usage, cost = "grafana_usage_url" in ready, "grafana_cost_url" in ready
    if usage and cost:
        return ["You can monitor both in the Usage and Cost Monitoring Dashboards linked above."]
    if usage:
        return ["You can follow your Monthly Active Users in the Usage Dashboard linked above."]
    if cost:
        return ["You can follow your cloud costs in the Cost Monitoring Dashboard linked above."]
    return []


def _next_steps(snapshot: Snapshot | None, threshold: int) -> list[str]:
    """First value reached, or what it takes and how far the hub is."""
    verb = basis_verb("login")
    if snapshot is not None:
        threshold = snapshot.settings.first_value_threshold
        verb = basis_verb(snapshot.settings.first_value_basis)
    if snapshot is not None and snapshot.achieved:
        return [
            f"Your hub reached its moment of first value on "
            f"{snapshot.achieved_at:%Y-%m-%d}: {threshold} users have {verb}. "
            "Keep inviting your community members to the hub!"
        ]
    lines = [
        "Start inviting your community members to the hub! We consider your hub "
        f'successful when {threshold} users have {verb} ("moment of first value").'
    ]
    if snapshot is not None:
        lines.append(f"So far, {progress_sentence(snapshot)}.")
    return lines


def summary_email(
    snapshot: Snapshot | None,
    links: Sequence[Link],
    *,
    hub_url: str,
    support_email: str,
    response_time: str,
    threshold: int,
    customer_name: str = "",
    contact_name: str = "",
    community_name: str = "",
    customer_email: str = "",
    sender_name: str = "",
    sender_title: str = "",
    first_invoice: str = "",
    provider_name: str = DEFAULT_PROVIDER,
    meeting_date: date | None = None,
    today: date | None = None,
) -> SummaryEmail:
    """The follow-up email, with this hub's URL, links, support address and progress.

    *customer_name* is the older name of *contact_name* (used when that is not set). The
    thank-you names the session's day from *meeting_date* (as recorded) against *today*;
    *sender_title* defaults to "Account Manager, *provider_name*".
    Items the service cannot know unless configured stay as bracketed placeholders, links
    not set up are left out, and both are listed in the result's ``missing``.
    """
    contact = contact_name if not is_unset(contact_name) else customer_name
    missing = _addressee_missing(contact, community_name, customer_email)

    def filled(key: str, value: str) -> str:
        if not is_unset(value):
            return value.strip()
        missing.append(Missing(*FILLED_BY[key], PLACEHOLDERS[key]))
        return PLACEHOLDERS[key]

    hub = filled("hub_url", hub_url.rstrip("/") + "/" if hub_url else "")
    community = "" if is_unset(community_name) else _without_article(community_name)
    session = f"the {community} onboarding session" if community else "the onboarding session"
    provider = provider_name.strip() or DEFAULT_PROVIDER
    when = meeting_words(meeting_date, today)
    lines = [
        greeting(contact, community_name),
        "",
        f"Thank you for joining us for {session}{when}! Here's a quick summary of what we covered:",
        "",
        "✅ Hub Access Confirmed",
        f"Your hub is live at: {hub}",
        "",
        "🔗 Important Links",
        *_link_lines(links, missing, provider),
        "",
        "💬 Support",
        "If you have any questions or need assistance, email us at: "
        + filled("support_email", support_email),
        "Please include your hub URL and a description of the issue.",
        *([f"Expected response time: {response_time}."] if response_time else []),
    ]
    invoice = filled("first_invoice", first_invoice)
    lines += [
        "",
        "📊 Billing",
        f"You'll receive your first invoice {invoice}. The invoice will include:",
        "- Usage fees based on Monthly Active Users (MAU)",
        "- Cloud costs (passed through with no markup)",
        *dashboards_sentence(links),
        "",
        "🎯 Next Steps",
        *_next_steps(snapshot, threshold),
        "",
        "We're here to support you every step of the way.",
        "",
        "Best regards,",
    ]
    title = sender_title.strip() or f"Account Manager, {provider}"
    lines += [filled("sender_name", sender_name), title, ""]
    subject = SUBJECT.format(provider=provider)
    subject = f"{subject}: {community}" if community else subject
    return SummaryEmail(subject, "\n".join(lines), tuple(missing))


def mailto_link(
    email: SummaryEmail, to: str = "", max_length: int = MAILTO_MAX_LENGTH
) -> str | None:
    """A ``mailto:`` link (RFC 6068) with *to*, the subject and the body; None when the link
    would be longer than *max_length* characters (mail clients would cut it)."""
    address = "" if is_unset(to) else quote(to.strip(), safe="@,")
    body = email.body.replace("\r\n", "\n").replace("\n", "\r\n")
    link = f"mailto:{address}?subject={quote(email.subject, safe='')}&body={quote(body, safe='')}"
    return link if len(link) <= max_length else None
