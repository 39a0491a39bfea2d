"""The Events page and its forms: plan, edit, cancel an event and tick its checklist.

Each form posts with the XSRF token (a post without it is refused with 403 before anything
is read). A bad entry renders the Events page again with the form first, every message
beside its field, the first wrong field focused and what was typed kept; nothing is stored
then. A finished or cancelled event is read-only. Hub admins only.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from tornado import web

from ..core.clock import as_utc
from ..core.events import CHECKLIST_KEYS, Event, EventFields, EventInvalid, FormState, parse_form
from .eventviews import FORM_FIELDS, events_namespace
from .handlers import handler_kwargs
from .landing import SectionHandler


class EventFormHandler(SectionHandler):
    """A form post about events; answers with a redirect to the Events page, or that page
    with the errors."""

    def initialize(self, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**{**kwargs, "section": "events"})

    async def prepare(self) -> None:
        await super().prepare()
        if self.request.method == "GET":
            # the page: @web.authenticated first sends a visitor without the service's
            # cookie through the hub's login (a link to the Events page opened first)
            return
        self.require_admin()
        if not self.service.database_ready:
            raise web.HTTPError(503)

    def typed(self) -> dict[str, str]:
        return {name: self.get_body_argument(name, "") for name in (*FORM_FIELDS, "original_start")}

    async def existing(self, event_id: str) -> Event:
        if not re.fullmatch(r"\d{1,9}", event_id):
            raise web.HTTPError(404)
        service = self.service
        found = await service.db(service.event_store.get, int(event_id))
        if found is None:
            raise web.HTTPError(404)
        if found.status(service.clock()) != "planned":
            # the page shows it read-only; a stale form or a crafted post changes nothing
            raise web.HTTPError(400, "A finished or cancelled event can no longer be changed.")
        return found

    async def store(self, event_id: int | None, fields: EventFields) -> None:
        service = self.service
        now = as_utc(service.clock())
        if event_id is None:
            event = await service.db(service.event_store.create, fields, now)
            event_id = event.id
        else:
            await service.db(service.event_store.update, event_id, fields, now)
        await service.refresh_events()
        self.redirect(f"{service.app.service_prefix}events#event-{event_id}", status=303)

    async def show_errors(self, typed: dict[str, str], error: EventInvalid, event_id: Any) -> None:
        state = FormState(values=typed, errors=error.errors, event_id=event_id)
        await self.render_section("events", 400, **events_namespace(self, state))


class NewEventHandler(EventFormHandler):
    """``GET events``: the Events page; ``POST events``: plan a new event."""

    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        await self.render_section("events")

    @web.authenticated
    async def post(self) -> None:
        typed = self.typed()
        try:
            fields = parse_form(typed, self.service.clock())
        except EventInvalid as error:
            await self.show_errors(typed, error, None)
            return
        await self.store(None, fields)


class EditEventHandler(EventFormHandler):
    """``POST events/{id}``: change an event (its checklist and status stay as they are)."""

    @web.authenticated
    async def post(self, event_id: str) -> None:
        existing = await self.existing(event_id)
        typed = self.typed()
        try:
            fields = parse_form(typed, self.service.clock())
        except EventInvalid as error:
            await self.show_errors(typed, error, existing.id)
            return
        fields = replace(fields, checklist=existing.checklist, cancelled=existing.cancelled)
        await self.store(existing.id, fields)


class CancelEventHandler(EventFormHandler):
    """``POST events/{id}/cancel``: cancel an event (it leaves the feed; it stays listed)."""

    @web.authenticated
    async def post(self, event_id: str) -> None:
        existing = await self.existing(event_id)
        await self.store(existing.id, replace(existing.fields(), cancelled=True))


class ChecklistHandler(EventFormHandler):
    """``POST events/{id}/checklist``: the ticked preparation items (the others unticked)."""

    @web.authenticated
    async def post(self, event_id: str) -> None:
        existing = await self.existing(event_id)
        ticked = frozenset(key for key in self.get_body_arguments("done") if key in CHECKLIST_KEYS)
        await self.store(existing.id, replace(existing.fields(), checklist=ticked))


def routes(service) -> list:
    """The event form routes under the service prefix."""
    app = service.app
    prefix = re.escape(app.service_prefix)
    kwargs = handler_kwargs(service)
    return [
        web.url(prefix + "events", NewEventHandler, kwargs, name="onboarding-event-new"),
        web.url(prefix + r"events/(\d+)", EditEventHandler, kwargs, name="onboarding-event-edit"),
        web.url(
            prefix + r"events/(\d+)/cancel",
            CancelEventHandler,
            kwargs,
            name="onboarding-event-cancel",
        ),
        web.url(
            prefix + r"events/(\d+)/checklist",
            ChecklistHandler,
            kwargs,
            name="onboarding-event-checklist",
        ),
    ]
