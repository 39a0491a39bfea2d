"""The hub's standard links: configuration, and their derivation from the hub URL (pure)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from traitlets import Enum, TraitError, Unicode, validate
from traitlets.config import Configurable

ALLOWED_SCHEMES = ("http", "https", "mailto")

#: (trait name, group, label) in the order the onboarding procedure walks through them.
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


def check_url(value: str, trait: str) -> str:
    """Accept an empty string or an http(s)/mailto URL (``{hub_url}``/``{host}`` allowed)."""
    value = (value or "").strip()
    if not value:
        return ""
    probe = value.replace("{hub_url}", "https://hub.example.org").replace("{host}", "example.org")
    scheme = urlsplit(probe).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise TraitError(
            f"StandardLinks.{trait} must be an http, https or mailto URL "
            f"(or empty for 'not set up yet'), got {value!r}"
        )
    return value


class StandardLinks(Configurable):
    """The links every hub administrator needs, organised around the hub's URL.

    Each URL may use ``{hub_url}`` (the hub's public URL, no trailing slash) and ``{host}``
    (its host name). A link left empty is shown as "not set up yet".
    """

    admin_dashboard_url = Unicode(
        "{hub_url}/hub/admin",
        help="""The hub's administrator dashboard, e.g. ``{hub_url}/hub/admin``.""",
    ).tag(config=True)

    admin_guide_url = Unicode(
        "https://docs.2i2c.org/admin/",
        help="""Guide for hub administrators, e.g. ``https://docs.2i2c.org/admin/``.""",
    ).tag(config=True)

    advanced_guide_url = Unicode(
        "",
        help="""Guide for Advanced tier communities (shown when ``tier`` is ``advanced``).""",
    ).tag(config=True)

    community_docs_url = Unicode(
        "https://docs.{host}",
        help="""The community's own documentation site, next to the hub,
        e.g. ``https://docs.{host}``.""",
    ).tag(config=True)

    getting_started_url = Unicode(
        "https://docs.2i2c.org/user/",
        help="""Getting-started guide for new users, e.g. ``https://docs.2i2c.org/user/``.""",
    ).tag(config=True)

    grafana_cost_url = Unicode(
        "",
        help="""Grafana dashboard of cloud costs, e.g.
        ``https://grafana.example.org/d/cost``.""",
    ).tag(config=True)

    grafana_performance_url = Unicode(
        "",
        help="""Grafana dashboard of hub performance.""",
    ).tag(config=True)

    grafana_usage_url = Unicode(
        "",
        help="""Grafana dashboard of usage (active users), e.g.
        ``https://grafana.example.org/d/usage``.""",
    ).tag(config=True)

    premier_guide_url = Unicode(
        "",
        help="""Guide for Premier tier communities (shown when ``tier`` is ``premier``).""",
    ).tag(config=True)

    provider_docs_url = Unicode(
        "https://docs.2i2c.org/",
        help="""The provider's documentation, e.g. ``https://docs.2i2c.org/``.""",
    ).tag(config=True)

    response_time = Unicode(
        "one business day",
        help="""Expected first response time to a support email, as shown to administrators,
        e.g. ``"one business day"``.""",
    ).tag(config=True)

    support_email = Unicode(
        "support@2i2c.org",
        help="""Support email address; the page prefills a message with the hub URL.""",
    ).tag(config=True)

    tier = Enum(
        ["essential", "advanced", "premier"],
        default_value="essential",
        help="""The community's service tier; picks which tier guide is shown.""",
    ).tag(config=True)

    troubleshooting_url = Unicode(
        "https://docs.2i2c.org/troubleshooting/",
        help="""Troubleshooting guide, e.g. ``https://docs.2i2c.org/troubleshooting/``.""",
    ).tag(config=True)

    @validate(*(name for name, _, _ in LINK_FIELDS))
    def _check_link(self, proposal):
        return check_url(proposal["value"], proposal["trait"].name)

    @validate("support_email")
    def _check_email(self, proposal):
        value = proposal["value"].strip()
        if value and ("@" not in value or any(c in value for c in " <>\"'\n?&")):
            raise TraitError(f"StandardLinks.support_email must be an email address, got {value!r}")
        return value


@dataclass(frozen=True)
class Link:
    """One resolved link; ``url`` is None when not set up yet."""

    key: str
    group: str
    label: str
    url: str | None


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


def resolve_links(links: StandardLinks, hub_url: str) -> list[Link]:
    """Every standard link for *hub_url*, in display order, tier guides filtered by tier."""
    resolved = [Link("hub_url", "hub", "Hub", expand("{hub_url}/", hub_url))]
    for name, group, label in LINK_FIELDS:
        if name == "advanced_guide_url" and links.tier != "advanced":
            continue
        if name == "premier_guide_url" and links.tier != "premier":
            continue
        resolved.append(Link(name, group, label, expand(getattr(links, name), hub_url)))
    resolved.append(
        Link(
            "support_email",
            "support",
            "Email support",
            support_mailto(links.support_email, hub_url),
        )
    )
    return resolved
