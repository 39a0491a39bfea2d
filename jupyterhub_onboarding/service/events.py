"""The events JSON API (``api/v1/events``) and the calendar feed (``events.ics``).

Reads come from the events the service keeps in memory; each change is written to the
database and then read back. Changes are for hub admins only: through the page's login (with
the XSRF token) or with a hub admin's token that carries ``admin:users`` unfiltered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from tornado import web

from ..core.clock import as_utc
from ..core.eventfeed import feed_description, prewarm_start
from ..core.events import (
    Event,
    EventFields,
    EventInvalid,
    event_document,
    parse_json,
    upcoming,
)
from .handlers import APIHandler

#: The scope a token must carry, unfiltered, to change events or read their private fields.
ADMIN_USERS_SCOPE = "admin:users"
#: The largest request body the API reads.
MAX_BODY = 64 * 1024


def events_listing(events: Sequence[Event], now: datetime, *, private: bool) -> dict[str, Any]:
    """``GET api/v1/events``: upcoming events earliest first, then past and cancelled ones."""
    ahead = upcoming(events, now)
    ahead_ids = {event.id for event in ahead}
    past = sorted(
        (event for event in events if event.id not in ahead_ids),
        key=lambda event: (event.start, event.id),
        reverse=True,
    )
    return {
        "upcoming": [event_document(event, now, private=private) for event in ahead],
        "past": [event_document(event, now, private=private) for event in past],
    }


def feed_uid(event: Event, host: str) -> str:
    """A UID that stays the same for the event's whole life (RFC 5545 section 3.8.4.7)."""
    created = int(as_utc(event.created_at).timestamp()) if event.created_at else 0
    return f"onboarding-event-{event.id}-{created}@{host}"


def calendar_feed(
    events: Sequence[Event],
    now: datetime,
    *,
    prewarm_minutes: int,
    scaler_lines: Sequence[str],
    host: str,
    name: str = "Hub events",
) -> bytes:
    """The RFC 5545 calendar of planned events, each from its pre-warm start to its end.

    Titles, kinds, times and expected attendees only: no notes, contacts or usernames.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//jupyterhub-onboarding//events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for event in upcoming(events, now):
        entry = CalendarEvent()
        entry.add("uid", feed_uid(event, host))
        entry.add("dtstamp", as_utc(event.created_at or now))
        entry.add("dtstart", prewarm_start(event, prewarm_minutes))
        entry.add("dtend", event.end)
        entry.add("summary", f"{event.kind.capitalize()}: {event.title}")
        entry.add("description", feed_description(event, scaler_lines, prewarm_minutes))
        entry.add("categories", [event.kind])
        entry.add("status", "CONFIRMED")
        calendar.add_component(entry)
    return calendar.to_ical()


class EventsAPIBase(APIHandler):
    """Identification that lets a token-authenticated change through without an XSRF token."""

    def initialize(self, service) -> None:
        super().initialize(service)
        self.identifying = False

    def check_xsrf_cookie(self) -> None:
        """Cookie logins need the XSRF token; a request with a token header is identified first.

        Tornado checks before ``prepare``; the hub login then checks again whenever it falls
        back to the cookie (a token header that is not valid), so a cookie is never accepted
        for a change without the XSRF token.
        """
        if not self.identifying and self.request.headers.get("Authorization"):
            return
        super().check_xsrf_cookie()

    async def prepare(self) -> None:
        self.identifying = True
        await super().prepare()

    async def owner_is_admin(self) -> bool:
        """Whether the request itself carries a hub admin's right over users.

        Judged only from the hub's answer for this request's own credentials (never by
        asking the hub about the owner with the service's token, which would ignore how a
        token was narrowed): a user with the ``admin`` flag, and for a token, ``admin:users``
        unfiltered among the token's scopes as the hub resolves them
        (``HubAuth.check_scopes``). An admin's browser login (the hub's OAuth, to this
        service) is enough, as for the page.
        """
        user = self.current_user
        if not user or user.get("kind", "user") != "user" or user.get("admin") is not True:
            return False
        if not self.token_request:
            return True
        return ADMIN_USERS_SCOPE in self.hub_auth.check_scopes(ADMIN_USERS_SCOPE, user)

    async def require_event_admin(self) -> None:
        self.require_access()
        if not await self.owner_is_admin():
            raise web.HTTPError(403, "only a hub admin may change events")

    def require_database(self) -> None:
        if not self.service.database_ready:
            raise web.HTTPError(503, "the database is not ready yet; try again")

    def read_body(self) -> Any:
        if len(self.request.body) > MAX_BODY:
            raise EventInvalid({"body": f"must be at most {MAX_BODY} bytes"})
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise EventInvalid({"body": "must be a JSON object"}) from None

    def fields(self, existing: Event | None = None) -> EventFields | None:
        """The request's event, or None after answering 400 with the field named."""
        try:
            return parse_json(self.read_body(), self.service.clock(), existing)
        except EventInvalid as error:
            field = next(iter(error.errors))
            self.write_json(
                {
                    "status": 400,
                    "message": f"{field} {error.errors[field]}",
                    "field": field,
                    "errors": error.errors,
                },
                status=400,
            )
            return None

    def event_id(self, text: str) -> int:
        if not re.fullmatch(r"\d{1,9}", text):
            raise web.HTTPError(404, "no such event")
        return int(text)

    def document(self, event: Event) -> dict[str, Any]:
        return event_document(event, self.service.clock(), private=True)


class EventsHandler(EventsAPIBase):
    """``GET`` (everyone with access) and ``POST`` (admins) on ``api/v1/events``."""

    async def get(self) -> None:
        self.require_access()
        private = await self.owner_is_admin()
        self.write_json(events_listing(self.service.events, self.service.clock(), private=private))

    async def post(self) -> None:
        await self.require_event_admin()
        self.require_database()
        service = self.service
        fields = self.fields()
        if fields is None:
            return
        created = await service.db(service.event_store.create, fields, as_utc(service.clock()))
        await service.refresh_events()
        self.set_header("Location", f"{service.app.service_prefix}api/v1/events/{created.id}")
        self.write_json(self.document(created), status=201)


class EventHandler(EventsAPIBase):
    """``GET``, ``PATCH`` and ``DELETE`` on ``api/v1/events/{id}``."""

    def known(self, event_id: int) -> Event:
        for event in self.service.events:
            if event.id == event_id:
                return event
        raise web.HTTPError(404, "no such event")

    async def get(self, event_id: str) -> None:
        self.require_access()
        event = self.known(self.event_id(event_id))
        private = await self.owner_is_admin()
        self.write_json(event_document(event, self.service.clock(), private=private))

    async def patch(self, event_id: str) -> None:
        await self.require_event_admin()
        self.require_database()
        service = self.service
        number = self.event_id(event_id)
        existing = await service.db(service.event_store.get, number)
        if existing is None:
            raise web.HTTPError(404, "no such event")
        fields = self.fields(existing)
        if fields is None:
            return
        changed = await service.db(
            service.event_store.update, number, fields, as_utc(service.clock())
        )
        if changed is None:
            raise web.HTTPError(404, "no such event")
        await service.refresh_events()
        self.write_json(self.document(self.known(number)))

    async def delete(self, event_id: str) -> None:
        await self.require_event_admin()
        self.require_database()
        service = self.service
        if not await service.db(service.event_store.delete, self.event_id(event_id)):
            raise web.HTTPError(404, "no such event")
        await service.refresh_events()
        self.set_status(204)
        self.finish()


class FeedHandler(APIHandler):
    """``GET events.ics``: the calendar of planned events for placeholder scalers."""

    def get(self) -> None:
        app = self.service.app
        if app.authenticate_events_feed:
            self.require_access()
        host = urlsplit(app.public_url).hostname or app.service_name + ".jupyterhub-onboarding"
        body = calendar_feed(
            self.service.events,
            self.service.clock(),
            prewarm_minutes=app.event_prewarm_minutes,
            scaler_lines=app.event_scaler_lines,
            host=host,
        )
        self.set_header("Content-Type", "text/calendar; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


def routes(service) -> list:
    prefix = re.escape(service.app.service_prefix)
    args = {"service": service}
    return [
        (prefix + "api/v1/events", EventsHandler, args),
        (prefix + r"api/v1/events/([^/]+)", EventHandler, args),
        (prefix + r"events\.ics", FeedHandler, args),
    ]
