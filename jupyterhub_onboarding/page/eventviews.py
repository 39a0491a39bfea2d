"""What the Events page shows: each event, its hint, and the form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from ..core.clock import as_utc
from ..core.events import (
    CHECKLIST,
    KINDS,
    Event,
    FormState,
    form_values,
    lead_time_text,
    to_local,
    upcoming,
)
from ..core.eventsizing import SizingHint, sizing_hint

#: The labels of the event form's fields, as its error summary names them.
FIELD_LABELS = {
    "title": "Title",
    "kind": "Kind",
    "start": "Start",
    "end": "End",
    "time_zone": "Time zone",
    "expected_attendees": "Expected attendees",
    "profile": "Profile or image",
    "notes": "Notes",
    "contact": "Contact",
}

#: The fields of the event form, in order.
FORM_FIELDS = (
    "title",
    "kind",
    "start",
    "end",
    "time_zone",
    "expected_attendees",
    "profile",
    "notes",
    "contact",
)


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """IANA time zone names offered by the form (it accepts any the system knows)."""
    return tuple(sorted(available_timezones()))


@dataclass(frozen=True)
class EventView:
    event: Event
    status: str
    lead_time: str
    local_start: str
    local_end: str
    hint: SizingHint
    checklist: tuple[tuple[str, str, bool], ...]

    @property
    def checklist_done(self) -> int:
        return sum(done for _key, _label, done in self.checklist)


def event_views(events: list[Event], peak: int | None, now: datetime) -> list[EventView]:
    """Upcoming events earliest first, then past and cancelled ones latest first."""
    ahead = upcoming(events, now)
    ids = {event.id for event in ahead}
    past = sorted((e for e in events if e.id not in ids), key=lambda e: e.start, reverse=True)
    return [
        EventView(
            event=event,
            status=event.status(now),
            lead_time=lead_time_text(event, now),
            local_start=to_local(event.start, event.time_zone).replace("T", " "),
            local_end=to_local(event.end, event.time_zone).replace("T", " "),
            hint=sizing_hint(event, peak, events, now),
            checklist=tuple((key, label, key in event.checklist) for key, label in CHECKLIST),
        )
        for event in ahead + past
    ]


def form_namespace(state: FormState | None, events: list[Event], edit: str) -> dict[str, Any]:
    """The form's values and errors: as typed after a bad entry, an event to edit, or empty."""
    if state is None:
        state = FormState(values={"kind": "exam", "time_zone": "UTC"})
        if re.fullmatch(r"\d{1,9}", edit or ""):
            for event in events:
                if event.id == int(edit) and not event.cancelled:
                    state = FormState(values=form_values(event), event_id=event.id)
    values = {name: state.values.get(name, "") for name in (*FORM_FIELDS, "original_start")}
    # in the form's order: the summary above the form lists them so, the first is focused
    ordered = [name for name in FORM_FIELDS if name in state.errors]
    ordered += [name for name in state.errors if name not in FORM_FIELDS]
    first_error = ordered[0] if ordered else None
    return {
        "event_form": values,
        "event_errors": {name: state.errors[name] for name in ordered},
        "event_first_error": first_error,
        "event_form_id": state.event_id,
    }


def events_namespace_for(
    events: list[Event],
    peak: int | None,
    now: datetime,
    *,
    prefix: str,
    xsrf: str,
    state: FormState | None = None,
    edit: str = "",
) -> dict[str, Any]:
    return {
        "events": event_views(events, peak, now),
        "event_kinds": KINDS,
        "time_zones": time_zones(),
        "events_xsrf": xsrf,
        "events_url": prefix + "events",
        "field_labels": FIELD_LABELS,
        "events_now": as_utc(now),
        **form_namespace(state, events, edit),
    }


def events_namespace(handler: Any, state: FormState | None = None) -> dict[str, Any]:
    """The events section of the landing page, for *handler* (a page handler)."""
    service = handler.service
    return events_namespace_for(
        service.events,
        service.events_peak,
        service.clock(),
        prefix=service.app.service_prefix,
        xsrf=handler.xsrf_token.decode("ascii"),
        state=state,
        edit=handler.get_argument("edit", ""),
    )
