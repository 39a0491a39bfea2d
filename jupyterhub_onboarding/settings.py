"""Settings shared by the parts of the package, defined once, and the checks of values:
the fee tiers and report page size (service and collector), the hub's standard links and
the onboarding summary email (the status API, the pages and the email).

Errors name the option (``Class.trait``) and the value, so a bad configuration stops the
program at start with one line that says what to fix.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from traitlets import Enum, HasTraits, List, TraitError, Unicode, validate
from traitlets.config import Configurable

from .core import fees
from .core.links import LINK_FIELDS, LinkSettings, link_template_problem
from .core.monthly import Branding

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


#: Logo files a report can show, by file name ending, and how each file starts.
LOGO_FORMATS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".svg": "svg"}
LOGO_MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",), "svg": (b"<svg", b"<?xml")}
#: The largest logo file accepted (a logo is a small image; a PDF embeds it whole).
MAX_LOGO_BYTES = 512 * 1024


def read_logo(path: str, trait: str) -> tuple[str, bytes]:
    """(format, bytes) of the logo file at *path*; TraitError naming *trait* when it cannot
    be read, is too large, or is not a PNG, JPEG or SVG image."""
    kind = LOGO_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise TraitError(f"{trait} must be a .png, .jpg or .svg file, got {path!r}")
    try:
        body = Path(path).read_bytes()
    except OSError as error:
        raise TraitError(f"{trait} cannot be read ({error.strerror}): {path!r}") from None
    if len(body) > MAX_LOGO_BYTES:
        raise TraitError(f"{trait} must be at most {MAX_LOGO_BYTES:,} bytes, got {len(body):,}")
    if not body.lstrip().startswith(LOGO_MAGIC[kind]):
        raise TraitError(f"{trait} is not a {kind.upper()} image: {path!r}")
    return kind, body


class ProviderSettings(HasTraits):
    """Who provides the hub, as the monthly report and the summary email name it: a setting
    of both the service and the collector."""

    provider_name = Unicode(
        "2i2c",
        help="""The provider's name, as the monthly report, the summary email and its subject
        line say it, e.g. ``"2i2c"`` ("Your 2i2c JupyterHub Onboarding Summary"). One line of
        at most 100 characters.""",
    ).tag(config=True)

    provider_logo = Unicode(
        "",
        help="""Path to the provider's logo, a PNG, JPEG or SVG file of at most 512 KB, shown
        at the top of the monthly report (HTML and PDF), e.g.
        ``"/etc/jupyterhub/provider-logo.svg"``. Empty: no logo (the report names the
        provider in text).""",
    ).tag(config=True)

    @validate("provider_name")
    def _check_provider_name(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"].strip()
        if "\n" in value or "\r" in value or len(value) > 100:
            raise TraitError(
                f"{option_name(proposal)} must be one line of at most 100 characters, "
                f"got {value[:60]!r}"
            )
        return value

    @validate("provider_logo")
    def _check_provider_logo(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"].strip()
        if value:
            read_logo(value, option_name(proposal))
        return value

    def report_branding(self, community_name: str = "") -> Branding:
        """The names and logo a report shows (the logo read now: a file replaced since the
        start is shown as it is; one that became unreadable is left out)."""
        logo = None
        if self.provider_logo:
            try:
                logo = read_logo(self.provider_logo, "provider_logo")
            except TraitError:
                logo = None
        return Branding(
            community_name=community_name, provider_name=self.provider_name, provider_logo=logo
        )


def check_url(value: str, trait: str) -> str:
    """Accept an empty string or an http(s)/mailto URL (``{hub_url}``/``{host}`` allowed)."""
    value = (value or "").strip()
    problem = link_template_problem(value)
    if problem:
        raise TraitError(f"StandardLinks.{trait} {problem}, got {value!r}")
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

    def link_settings(self) -> LinkSettings:
        """The configured links as plain data for the pure core."""
        return LinkSettings(
            templates=tuple((name, getattr(self, name)) for name, _, _ in LINK_FIELDS),
            tier=self.tier,
            support_email=self.support_email,
            response_time=self.response_time,
        )


class OnboardingEmail(Configurable):
    """The follow-up email of the onboarding meeting (shown at ``summary`` and
    ``summary.txt``). A setting left empty becomes a bracketed placeholder in the email (a
    link that is not set up is left out), and the summary page lists each one with the
    setting that fills it, so the email can be sent as it is once they are all set."""

    contact_name = Unicode(
        "",
        help="""The contact person the email greets by name, e.g. ``"Ada"``
        ("Hi Ada,"). Without it the email greets the community's team.""",
    ).tag(config=True)

    community_name = Unicode(
        "",
        help="""The community's name, e.g. ``"Example Lab"``: the greeting without a contact
        name ("Hi Example Lab team,"), the session it thanks for and the subject line.""",
    ).tag(config=True)

    customer_email = Unicode(
        "",
        help="""The customer's email address, the recipient of the "Open in your mail app"
        link, e.g. ``"ada@example.org"``; several addresses separated by commas.""",
    ).tag(config=True)

    customer_name = Unicode(
        "",
        help="""The older name of ``contact_name``, used when that is empty.""",
    ).tag(config=True)

    account_manager = Unicode(
        "",
        help="""The account manager who signs the email, e.g. ``"Jo Rivera"``.""",
    ).tag(config=True)

    signature_title = Unicode(
        "",
        help="""The line under the signature, e.g. ``"Partnerships, Example Provider"``.
        Empty: "Account Manager, " and the provider's name (``Onboarding.provider_name``).""",
    ).tag(config=True)

    first_invoice = Unicode(
        "",
        help="""When the first invoice arrives, completing "You'll receive your first invoice
        ...", e.g. ``"at the start of next month"``.""",
    ).tag(config=True)

    @validate(
        "contact_name",
        "community_name",
        "customer_name",
        "account_manager",
        "signature_title",
        "first_invoice",
    )
    def _one_line(self, proposal):
        value = proposal["value"].strip()
        if "\n" in value or "\r" in value or len(value) > 200:
            raise TraitError(
                f"OnboardingEmail.{proposal['trait'].name} must be one line of at most 200 "
                f"characters, got {value[:60]!r}"
            )
        return value

    @validate("customer_email")
    def _check_customer_email(self, proposal):
        value = proposal["value"].strip()
        addresses = [part.strip() for part in value.split(",")] if value else []
        for address in addresses:
            if (
                address.count("@") != 1
                or len(address) > 254
                or any(c in address for c in " <>\"'\n\r?&%;:/\\")
            ):
                raise TraitError(
                    "OnboardingEmail.customer_email must be email addresses separated by "
                    f"commas, got {value[:80]!r}"
                )
        return ",".join(addresses)
