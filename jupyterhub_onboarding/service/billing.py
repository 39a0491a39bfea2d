"""``GET api/v1/billing/YYYY-MM``: a month's counts and the keyed pseudonyms of its counted
active users, so the collector can count each person once across a community's hubs.

Served only to a token with access to this service (the collector's): 401 without one, 403
for one without access. Without ``Onboarding.billing_pseudonym_key`` it answers 404: there is
nothing to match across hubs. Names never leave: each pseudonym is made in memory for the
answer (``core.billing.pseudonym``) and not stored.
"""

from __future__ import annotations

import re

from tornado import web

from ..core.billing import billing_document
from ..core.rules import month_of, parse_month
from .handlers import APIHandler


class BillingAPIHandler(APIHandler):
    """The month's counts and pseudonyms."""

    async def get(self, label: str) -> None:
        self.require_access()
        service = self.service
        key = service.app.billing_pseudonym_key
        if not key:
            raise web.HTTPError(
                404, "no pseudonym key: set Onboarding.billing_pseudonym_key on this hub"
            )
        try:
            month = parse_month(label)
        except ValueError as error:
            raise web.HTTPError(400, str(error)) from None
        if month > month_of(service.clock()):
            raise web.HTTPError(404, "no figures for a month that has not begun")
        if not service.database_ready:
            raise web.HTTPError(503, "the database is not ready")
        listed = await service.read(service.store.billing.month_list, month)
        self.write_json(billing_document(listed, key))


def routes(service) -> list:
    prefix = re.escape(service.app.service_prefix)
    return [
        (prefix + r"api/v1/billing/([0-9]{4}-[0-9]{2})", BillingAPIHandler, {"service": service})
    ]
