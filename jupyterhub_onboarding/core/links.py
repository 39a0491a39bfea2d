"""The hub's standard links, derived from the hub URL: pure, no I/O."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

ALLOWED_SCHEMES = ("http", "https", "mailto")

#: (setting name, group, label) in the order the onboarding procedure walks through them.
LINK_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("admin_dashboard_url", "hub", "Administrator dashboard"),
    ("community_docs_url", "hub", "Your community's documentation"),
    ("provider_docs_url", "documentation", "Provider documentation"),
    ("advanced_guide_url", "documentation", "Advanced tier guide"),
    ("premier_guide_url", "documentation", "Premier tier guide"),
    ("getting_started_url", "documentation", "Getting started guide"),
    ("admin_guide_url", "documentation", "Hub administrator guide"),
    ("troubleshooting_url", "documentation", "Troubleshooting guide"),
    ("grafana_usage_url", "dashboards", "Usage dashboard (Grafana)"),
    ("grafana_performance_url", "dashboards", "Performance dashboard (Grafana)"),
    ("grafana_cost_url", "dashboards", "Cloud cost dashboard (Grafana)"),
)

#: Tier guides, shown only to communities of that tier.
TIER_GUIDES = {"advanced_guide_url": "advanced", "premier_guide_url": "premier"}


@dataclass(frozen=True)
class LinkSettings:
    """The configured link templates (``{hub_url}`` and ``{host}`` allowed), plain data."""

    templates: tuple[tuple[str, str], ...]
    tier: str = "essential"
    support_email: str = ""
    response_time: str = ""

    def template(self, name: str) -> str:
        return dict(self.templates).get(name, "")


@dataclass(frozen=True)
class Link:
    """One resolved link; ``url`` is None when not set up yet."""

    key: str
    group: str
    label: str
    url: str | None


def is_http_url(value: str) -> bool:
    """*value* is an http(s) URL with a host and, if any, a numeric port."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def link_template_problem(value: str) -> str | None:
    """Why *value* is not a usable link template (None when it is, or is empty)."""
    if not value:
        return None
    probe = value.replace("{hub_url}", "https://hub.example.org").replace("{host}", "example.org")
    if urlsplit(probe).scheme.lower() not in ALLOWED_SCHEMES:
        return "must be an http, https or mailto URL (or empty for 'not set up yet')"
    return None


def _named(host: str) -> bool:
    """True for a DNS name a sibling site can hang off (not empty, localhost or an IP)."""
    if not host or host == "localhost" or "." not in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def expand(template: str, hub_url: str) -> str | None:
    """Fill ``{hub_url}``/``{host}`` into *template*; None when empty or underivable."""
    if not template:
        return None
    hub_url = (hub_url or "").rstrip("/")
    host = urlsplit(hub_url).hostname or ""
    if ("{hub_url}" in template and not hub_url) or ("{host}" in template and not _named(host)):
        return None
    url = template.replace("{hub_url}", hub_url).replace("{host}", host)
    if urlsplit(url).scheme.lower() not in ALLOWED_SCHEMES:
        return None
    return url


def support_mailto(email: str, hub_url: str) -> str | None:
    """A ``mailto:`` link with the hub URL and a description prompt prefilled."""
    if not email:
        return None
    subject = f"Support request for {hub_url or 'our hub'}"
    body = (
        f"Hub URL: {hub_url or '(please add your hub URL)'}\n\n"
        "Please describe the issue: what you tried, what you expected, and what happened "
        "instead (include any error messages).\n"
    )
    return f"mailto:{email}?subject={quote(subject)}&body={quote(body)}"


def resolve_links(settings: LinkSettings, hub_url: str) -> list[Link]:
    """Every standard link for *hub_url*, in display order, tier guides filtered by tier."""
    resolved = [Link("hub_url", "hub", "Hub", expand("{hub_url}/", hub_url))]
    for name, group, label in LINK_FIELDS:
        if TIER_GUIDES.get(name, settings.tier) != settings.tier:
            continue
        resolved.append(Link(name, group, label, expand(settings.template(name), hub_url)))
    resolved.append(
        Link(
            "support_email",
            "support",
            "Email support",
            support_mailto(settings.support_email, hub_url),
        )
    )
    return resolved
