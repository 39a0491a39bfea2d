"""One MAU per community across its hubs: the hubs file's ``community:`` groups hubs; for the
report month the collector reads each hub's keyed pseudonyms (``api/v1/billing/YYYY-MM``),
counts distinct people per basis, and applies the graduated fee tiers once to the total.

Pseudonyms are used here, in memory, and never written, logged or stored. When a hub of the
community serves none (no key: 404), does not answer, or the hubs' keys differ, the community's
figures are the sum of its hubs', and the report says so.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from tornado.httpclient import AsyncHTTPClient

from ..core import fees
from ..core.billing import BillingError, HubPseudonyms, read_billing
from .hubsfile import HubEntry, TokenError, read_token
from .poll import PollSettings, fetch_status
from .rows import HubStatus, Row

STATUS_SUFFIX = "/api/v1/status"


@dataclass(frozen=True)
class CommunityHub:
    """One hub's own figures beside its community's."""

    hub: str
    mau_login: int | None
    mau_server: int | None
    estimated_usage_fee: float | None


@dataclass(frozen=True)
class Community:
    """A community's MAU across its hubs and its fee on the total (no usernames, no
    pseudonyms)."""

    community: str
    month: str
    mau_login: int
    mau_server: int
    estimated_usage_fee: float
    currency: str
    hubs: tuple[CommunityHub, ...]
    #: True when the people were counted once through the pseudonyms; False: summed.
    deduplicated: bool
    #: Why the figures are a sum ("" when deduplicated).
    note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def billing_url(hub: HubEntry, month: str) -> str | None:
    """The hub's billing endpoint for *month*, next to its status API (None: unknown)."""
    if not hub.status_url.endswith(STATUS_SUFFIX):
        return None
    return f"{hub.status_url[: -len(STATUS_SUFFIX)]}/api/v1/billing/{month}"


def report_month(statuses: Sequence[HubStatus], month: str | None) -> str | None:
    """The month communities are counted for: --month, else the hubs' current month."""
    if month:
        return month
    return next((hub.status.mau.month for hub in statuses if hub.status is not None), None)


async def fetch_pseudonyms(
    hubs: Sequence[HubEntry],
    month: str,
    settings: PollSettings,
    environ: Mapping[str, str] | None = None,
) -> dict[str, HubPseudonyms | str]:
    """Each community hub's pseudonyms for *month*, or why there are none (by hub name)."""
    environ = os.environ if environ is None else environ
    client = AsyncHTTPClient(force_instance=True, max_clients=settings.concurrency)
    semaphore = asyncio.Semaphore(settings.concurrency)

    async def one(hub: HubEntry) -> HubPseudonyms | str:
        url = billing_url(hub, month)
        if url is None:
            return "its status_url has no billing endpoint beside it"
        try:
            token = read_token(hub, environ)
        except TokenError as error:
            return str(error)
        answer = await fetch_status(
            client, replace(hub, status_url=url), token, settings, semaphore
        )
        if answer.error is not None:
            if answer.error.startswith("HTTP 404"):
                return "it serves no pseudonyms (no billing_pseudonym_key)"
            return answer.error
        try:
            return read_billing(answer.document)
        except BillingError as error:
            return f"wrong billing document: {error}"

    try:
        found = await asyncio.gather(*(one(hub) for hub in hubs))
    finally:
        client.close()
    return {hub.name: result for hub, result in zip(hubs, found, strict=True)}


def _basis(statuses: Sequence[HubStatus]) -> str:
    bases = {hub.status.billing.basis for hub in statuses if hub.status is not None}
    return bases.pop() if len(bases) == 1 else "login"


def community_figures(
    name: str,
    month: str,
    statuses: Sequence[HubStatus],
    pseudonyms: Mapping[str, HubPseudonyms | str],
    tiers: Sequence[tuple[int | None, float]],
) -> Community:
    """The community *name* of *statuses* (its hubs) for *month*."""
    rows = [hub.row for hub in statuses]
    own = tuple(
        CommunityHub(row.hub, row.mau_login, row.mau_server, row.estimated_usage_fee)
        for row in rows
    )
    basis = _basis(statuses)
    currency = next((row.currency for row in rows if row.currency), "USD")
    problems = [
        f"hub {hub}: {reason}" for hub, reason in pseudonyms.items() if isinstance(reason, str)
    ]
    read = [found for found in pseudonyms.values() if not isinstance(found, str)]
    if not problems and len({found.key_check for found in read}) > 1:
        problems.append("the hubs do not share one pseudonym key")
    if not problems and read:
        login = len(frozenset().union(*(found.login for found in read)))
        server = len(frozenset().union(*(found.server for found in read)))
        note = ""
    else:
        login = sum(row.mau_login or 0 for row in rows)
        server = sum(row.mau_server or 0 for row in rows)
        note = "summed, not de-duplicated: " + "; ".join(problems or ["no hub answered"])
    billable = server if basis == "server" else login
    return Community(
        community=name,
        month=month,
        mau_login=login,
        mau_server=server,
        estimated_usage_fee=fees.usage_fee(billable, tiers),
        currency=currency,
        hubs=own,
        deduplicated=not note,
        note=note,
    )


def communities_of(hubs: Sequence[HubEntry]) -> dict[str, list[HubEntry]]:
    """The hubs of each community named in the hubs file, in file order."""
    found: dict[str, list[HubEntry]] = {}
    for hub in hubs:
        if hub.community:
            found.setdefault(hub.community, []).append(hub)
    return found


def collect_communities(
    hubs: Sequence[HubEntry],
    statuses: Sequence[HubStatus],
    month: str | None,
    settings: PollSettings,
    tiers: Sequence[tuple[int | None, float]],
) -> list[Community]:
    """Every community's figures for the report month (none without ``community:``)."""
    groups = communities_of(hubs)
    wanted = report_month(statuses, month)
    if not groups or wanted is None:
        return []
    members = [hub for group in groups.values() for hub in group]
    pseudonyms = asyncio.run(fetch_pseudonyms(members, wanted, settings))
    by_name = {hub.row.hub: hub for hub in statuses}
    return [
        community_figures(
            name,
            wanted,
            [by_name[hub.name] for hub in group],
            {hub.name: pseudonyms[hub.name] for hub in group},
            tiers,
        )
        for name, group in groups.items()
    ]


def with_communities(rows: Sequence[Row], communities: Sequence[Community]) -> list[Row]:
    """*rows* with each hub's community and the community's figures beside its own."""
    of_hub = {entry.hub: found for found in communities for entry in found.hubs}
    return [
        replace(
            row,
            community=found.community,
            community_mau_login=found.mau_login,
            community_mau_server=found.mau_server,
            community_estimated_usage_fee=found.estimated_usage_fee,
            community_deduplicated=found.deduplicated,
        )
        if (found := of_hub.get(row.hub)) is not None
        else row
        for row in rows
    ]
