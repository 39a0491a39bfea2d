"""The outside sources of the community check-in's figures: Prometheus for home directory
storage and cloud cost, or a cost endpoint. A mixin of the ``Onboarding`` application, so
the options are set as ``c.Onboarding.<option>``; docs/checkin.md tells how they are read.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from traitlets import Bool, Enum, Float, HasTraits, TraitError, Unicode, validate

from .core.cost import SOURCE_NONE, SOURCE_PROMETHEUS, SOURCE_URL, check_cost_query
from .core.homedirs import SCHEMES, DirectoryNaming, check_pattern
from .core.links import is_http_url
from .settings import above_zero, option_name

#: A Prometheus label name.
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: The longest wait for one Prometheus or cost endpoint request: an hour.
MAX_TIMEOUT = 3600


def _http_url(proposal: dict[str, Any], example: str) -> str:
    """The proposed URL without a trailing slash (empty stays empty), or a TraitError."""
    value = proposal["value"].strip().rstrip("/")
    if not value:
        return value
    usable = is_http_url(value)
    parts = urlsplit(value) if usable else None
    if parts is None or parts.query or parts.fragment:
        # the value may hold credentials: name the option, show only its shape
        shown = f"{parts.scheme}://..." if parts is not None else repr(value[:40])
        raise TraitError(
            f"{option_name(proposal)} must be an http(s) URL without query such as "
            f"{example!r}, got {shown}"
        )
    return value


class SourceSettings(HasTraits):
    """Where home directory sizes and cloud cost are read, and how usage per group is
    shown (docs/checkin.md)."""

    report_group_names = Bool(
        False,
        help="""Name the hub's JupyterHub groups outside the admin page: in the status API's
        usage.groups, the monthly reports, the collector and the per-group metrics series.
        Group names are the community's own words (courses, projects); when False (the
        default) the status API and reports give each group's figures unnamed (the groups
        beyond the most active summed as "other"), and the metrics have no per-group series.
        Usernames are never sent either way.""",
    ).tag(config=True)

    cost_bearer_token_file = Unicode(
        "",
        help="""File holding a bearer token sent to cost_url (Authorization: Bearer ...),
        read at each request so a rotated token is picked up. Empty: no token.
        Example: '/var/run/secrets/cost/token'.""",
    ).tag(config=True)

    cost_currency = Unicode(
        "USD",
        help="""Currency code of cost_query's figures (and of cost_url's when its answer names
        none), e.g. 'EUR'.""",
    ).tag(config=True)

    cost_group_label = Unicode(
        "",
        help="""A label of cost_query's series that names the group a cost belongs to, for
        costs per group, e.g. 'namespace' when each group's servers run in a namespace of
        their own, or a label a recording rule puts on the costs. The month's amount is
        the sum of every series, with or without the label. Empty: the total only.""",
    ).tag(config=True)

    cost_query = Unicode(
        "",
        help="""PromQL giving the hub's cloud cost of a month, with $__range where the
        month's length goes; evaluated at the month's last millisecond (UTC). For OpenCost's
        hourly cost gauges: 'sum(sum_over_time(sum(node_total_hourly_cost)[$__range:1h]))';
        for a counter of spent money: 'sum(increase(cloud_cost_total[$__range]))'. Needs
        prometheus_url. Empty: no cost from Prometheus (set this or cost_url, not both).""",
    ).tag(config=True)

    cost_url = Unicode(
        "",
        help="""A JSON endpoint answering a month's cloud cost: GET {cost_url}?month=YYYY-MM
        answers {"month": "YYYY-MM", "amount": 123.45, "currency": "USD", "groups":
        [{"group": "...", "amount": 12.5}]} (amount null: no figure yet), e.g.
        'http://cost-adapter.support:8080/monthly'. Empty: none (set this or cost_query, not
        both).""",
    ).tag(config=True)

    home_directory_label = Unicode(
        "directory",
        help="""The label of home_storage_query's series that names the directory (the
        dirsize exporter's 'directory').""",
    ).tag(config=True)

    home_directory_names = Enum(
        list(SCHEMES),
        default_value="username",
        help="""How home directory names are made from usernames: 'username' (the directory
        is the username, KubeSpawner's {unescaped_username}, and {username} for usernames
        that are lowercase letters, digits and single hyphens), 'safe' (KubeSpawner 7's
        {username} or {safe_username}: z2jh 4's default subPath) or 'escape' (KubeSpawner 6's
        {username}, or {escaped_username}).""",
    ).tag(config=True)

    home_directory_pattern = Unicode(
        "",
        help="""Regular expression that a home directory's whole name matches, with a group
        named 'username' holding the part made from the username, e.g.
        r'home-(?P<username>.+)', or r'(?!_)(?P<username>.+)' to leave out the '_shared'
        directories beside the homes. Directories it does not match are left out of the
        storage figures. Empty: every directory is a home, its whole name made from the
        username.""",
    ).tag(config=True)

    home_storage_query = Unicode(
        "dirsize_total_size_bytes",
        help="""PromQL giving one series per home directory, in bytes, with
        home_directory_label naming the directory. The default reads
        prometheus-dirsize-exporter; to read only this hub's exporter, e.g.
        'dirsize_total_size_bytes{namespace="community-hub"}'. Empty: no storage figures.""",
    ).tag(config=True)

    prometheus_bearer_token_file = Unicode(
        "",
        help="""File holding a bearer token for prometheus_url (Authorization: Bearer ...),
        read at each request so a rotated token is picked up. Empty: no token.
        Example: '/var/run/secrets/kubernetes.io/serviceaccount/token'.""",
    ).tag(config=True)

    prometheus_timeout = Float(
        30,
        help="""Seconds before a request to Prometheus (or to cost_url) is abandoned.""",
    ).tag(config=True)

    prometheus_url = Unicode(
        "",
        help="""The Prometheus server to read home directory sizes and cost from, e.g.
        'http://support-prometheus-server.support.svc' (its HTTP API is under /api/v1/).
        Empty: no storage figures and no cost from Prometheus.""",
    ).tag(config=True)

    storage_interval = Float(
        3600,
        help="""Seconds between two reads of the home directory sizes (the dirsize exporter
        itself measures only every few hours).""",
    ).tag(config=True)

    @validate("cost_currency")
    def _check_currency(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise TraitError(
                f"{option_name(proposal)} must be a three-letter currency code such as 'USD', "
                f"got {proposal['value']!r}"
            )
        return value

    @validate("cost_group_label", "home_directory_label")
    def _check_label(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"].strip()
        required = proposal["trait"].name == "home_directory_label"
        if (value or required) and not _LABEL_NAME.fullmatch(value):
            raise TraitError(
                f"{option_name(proposal)} must be a Prometheus label name such as "
                f"'directory', got {proposal['value']!r}"
            )
        return value

    @validate("cost_query")
    def _check_cost_query(self, proposal: dict[str, Any]) -> str:
        try:
            return check_cost_query(proposal["value"])
        except ValueError as error:
            raise TraitError(
                f"{option_name(proposal)} {error}, got {proposal['value']!r}"
            ) from None

    @validate("cost_url")
    def _check_cost_url(self, proposal: dict[str, Any]) -> str:
        return _http_url(proposal, "http://cost-adapter:8080/monthly")

    @validate("home_directory_pattern")
    def _check_directory_pattern(self, proposal: dict[str, Any]) -> str:
        try:
            check_pattern(proposal["value"])
        except ValueError as error:
            raise TraitError(
                f"{option_name(proposal)} {error}, got {proposal['value']!r}"
            ) from None
        return proposal["value"]

    @validate("home_storage_query")
    def _check_storage_query(self, proposal: dict[str, Any]) -> str:
        return proposal["value"].strip()

    @validate("prometheus_url")
    def _check_prometheus_url(self, proposal: dict[str, Any]) -> str:
        return _http_url(proposal, "http://prometheus-server.support.svc")

    @validate("prometheus_timeout")
    def _check_timeout(self, proposal: dict[str, Any]) -> float:
        return above_zero(proposal, MAX_TIMEOUT)

    @validate("storage_interval")
    def _check_storage_interval(self, proposal: dict[str, Any]) -> float:
        return above_zero(proposal)

    @validate("cost_bearer_token_file", "prometheus_bearer_token_file")
    def _check_token_file(self, proposal: dict[str, Any]) -> str:
        return proposal["value"].strip()

    # -- combinations and derived values -------------------------------------------------

    def check_source_settings(self) -> None:
        """Check the combinations of these options; TraitError naming them otherwise."""
        name = type(self).__name__
        if self.cost_query and self.cost_url:
            raise TraitError(
                f"{name}.cost_query and {name}.cost_url are both set: set one of them "
                "(the month's cost comes from Prometheus or from the cost endpoint)"
            )
        if self.cost_query and not self.prometheus_url:
            raise TraitError(
                f"{name}.cost_query needs {name}.prometheus_url, the Prometheus to ask"
            )
        if self.cost_group_label and not self.cost_query:
            raise TraitError(
                f"{name}.cost_group_label is a label of {name}.cost_query's series: set "
                f"{name}.cost_query too, or leave the label empty"
            )
        if self.cost_bearer_token_file and not self.cost_url:
            raise TraitError(
                f"{name}.cost_bearer_token_file is sent to {name}.cost_url: set "
                f"{name}.cost_url too, or leave the file empty"
            )

    @property
    def storage_enabled(self) -> bool:
        """Whether home directory sizes are read: a Prometheus and a query are set."""
        return bool(self.prometheus_url and self.home_storage_query)

    @property
    def cost_source(self) -> str:
        """Where the month's cost comes from: ``prometheus``, ``url`` or ``none``."""
        if self.cost_query:
            return SOURCE_PROMETHEUS
        if self.cost_url:
            return SOURCE_URL
        return SOURCE_NONE

    def directory_naming(self) -> DirectoryNaming:
        """How home directory names relate to usernames, as configured."""
        return DirectoryNaming(
            self.home_directory_names, check_pattern(self.home_directory_pattern)
        )
