"""Events: validation, time zones, lead time, sizing hint, scaler lines, planned against actual."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_onboarding.core.eventfeed import check_scaler_lines, feed_description
from jupyterhub_onboarding.core.events import (
    Actual,
    Event,
    EventInvalid,
    days_until,
    event_document,
    form_values,
    lead_time_text,
    next_event,
    parse_form,
    parse_json,
    parse_local,
    to_local,
    zone,
)
from jupyterhub_onboarding.core.eventsizing import WindowSession, sizing_hint, window_actual
from jupyterhub_onboarding.core.status.write import events_section, to_json

NOW = datetime(2027, 2, 1, 12, 0, tzinfo=timezone.utc)
UTC = timezone.utc


def form(**changes):
    values = {
        "title": "Midterm exam",
        "kind": "exam",
        "start": "2027-03-03T09:00",
        "end": "2027-03-03T11:00",
        "time_zone": "Europe/Berlin",
        "expected_attendees": "120",
        "profile": "python-small",
        "notes": "room 1",
        "contact": "ta@example.org",
    }
    values.update(changes)
    return values


def event(**changes) -> Event:
    values = dict(
        id=1,
        title="Midterm exam",
        kind="exam",
        start=datetime(2027, 3, 3, 8, 0, tzinfo=UTC),
        end=datetime(2027, 3, 3, 10, 0, tzinfo=UTC),
        expected_attendees=120,
    )
    values.update(changes)
    return Event(**values)


def test_a_form_entry_in_a_picked_zone_is_stored_in_utc():
    fields = parse_form(form(), NOW)
    # Berlin is UTC+1 in March before the change of clocks
    assert fields.start == datetime(2027, 3, 3, 8, 0, tzinfo=UTC)
    assert fields.end == datetime(2027, 3, 3, 10, 0, tzinfo=UTC)
    assert fields.time_zone == "Europe/Berlin"
    assert fields.expected_attendees == 120


def test_summer_time_and_other_zones_convert_with_zoneinfo():
    july = parse_form(form(start="2027-07-01T09:00", end="2027-07-01T10:00"), NOW)
    assert july.start == datetime(2027, 7, 1, 7, 0, tzinfo=UTC)
    la = parse_form(form(time_zone="America/Los_Angeles"), NOW)
    assert la.start == datetime(2027, 3, 3, 17, 0, tzinfo=UTC)
    assert to_local(la.start, "America/Los_Angeles") == "2027-03-03T09:00"


def test_a_wall_time_skipped_by_the_clock_change_is_refused():
    with pytest.raises(ValueError, match="does not exist"):
        parse_local("2027-03-28T02:30", zone("Europe/Berlin"))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"end": "2027-03-03T08:00"}, "end", "after the start"),
        ({"start": "2027-01-01T09:00", "end": "2027-01-01T10:00"}, "start", "past"),
        ({"expected_attendees": "lots"}, "expected_attendees", "whole number"),
        ({"expected_attendees": "0"}, "expected_attendees", "between"),
        ({"expected_attendees": "1e3"}, "expected_attendees", "whole number"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone", "unknown time zone"),
        ({"title": "x" * 201}, "title", "at most 200"),
        ({"title": "  "}, "title", "required"),
        ({"title": "two\nlines"}, "title", "line breaks"),
        ({"notes": "n" * 4001}, "notes", "at most 4000"),
        ({"kind": "party"}, "kind", "one of"),
        ({"start": "tomorrow"}, "start", "date and time"),
        ({"end": "2027-03-20T09:00"}, "end", "14 days"),
    ],
)
def test_each_bad_entry_names_its_field(changes, field, message):
    with pytest.raises(EventInvalid) as raised:
        parse_form(form(**changes), NOW)
    assert field in raised.value.errors
    assert message in raised.value.errors[field]


def test_several_bad_fields_are_all_reported():
    with pytest.raises(EventInvalid) as raised:
        parse_form(form(title="", expected_attendees="-1", time_zone="Nowhere"), NOW)
    assert set(raised.value.errors) == {"title", "expected_attendees", "time_zone"}


def test_a_bad_time_zone_does_not_hide_an_end_before_the_start():
    with pytest.raises(EventInvalid) as raised:
        parse_form(form(time_zone="Nowhere", end="2027-03-03T08:00"), NOW)
    assert set(raised.value.errors) == {"time_zone", "end"}
    assert "after the start" in raised.value.errors["end"]


def test_a_start_in_the_past_does_not_hide_an_end_before_it():
    with pytest.raises(EventInvalid) as raised:
        parse_form(form(start="2027-01-01T09:00", end="2027-01-01T08:00"), NOW)
    assert set(raised.value.errors) == {"start", "end"}


def test_a_bad_time_zone_does_not_hide_an_unreadable_start():
    with pytest.raises(EventInvalid) as raised:
        parse_form(form(time_zone="Nowhere", start="tomorrow"), NOW)
    assert set(raised.value.errors) == {"time_zone", "start"}


def test_editing_an_event_that_has_started_keeps_its_start():
    running = event(start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1), time_zone="UTC")
    values = {**form_values(running), "title": "Renamed"}
    assert parse_form(values, NOW).title == "Renamed"
    moved = {**values, "start": to_local(NOW - timedelta(hours=2), "UTC")}
    with pytest.raises(EventInvalid, match="past"):
        parse_form(moved, NOW)


def test_json_create_needs_every_required_field_and_an_offset():
    with pytest.raises(EventInvalid) as raised:
        parse_json({"title": "Exam"}, NOW)
    assert {"kind", "start", "end", "expected_attendees"} <= set(raised.value.errors)
    body = {
        "title": "Exam",
        "kind": "exam",
        "start": "2027-03-03T08:00:00Z",
        "end": "2027-03-03T10:00:00+00:00",
        "expected_attendees": 120,
    }
    fields = parse_json(body, NOW)
    assert fields.start == datetime(2027, 3, 3, 8, tzinfo=UTC)
    with pytest.raises(EventInvalid) as raised:
        parse_json({**body, "start": "2027-03-03T08:00:00"}, NOW)
    assert "offset" in raised.value.errors["start"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"expected_attendees": True}, "expected_attendees"),
        ({"expected_attendees": 1.5}, "expected_attendees"),
        ({"expected_attendees": 10**9}, "expected_attendees"),
        ({"status": "done"}, "status"),
        ({"checklist": {"coffee": True}}, "checklist"),
        ({"checklist": {"image": "yes"}}, "checklist"),
        ({"checklist": []}, "checklist"),
        ({"title": 5}, "title"),
        ({"end": "2027-03-03T07:00:00Z"}, "end"),
        ({"owner": "x"}, "owner"),
        ({"start": "2027-13-03T08:00:00Z"}, "start"),
    ],
)
def test_json_changes_name_the_bad_field(body, field):
    with pytest.raises(EventInvalid) as raised:
        parse_json(body, NOW, event())
    assert field in raised.value.errors


def test_json_changes_merge_into_the_event():
    changed = parse_json(
        {"status": "cancelled", "checklist": {"image": True, "resources": True}}, NOW, event()
    )
    assert changed.cancelled and changed.checklist == {"image", "resources"}
    again = parse_json({"checklist": {"image": False}}, NOW, event(checklist=changed.checklist))
    assert again.checklist == {"resources"}


def test_status_lead_time_and_days_until_follow_the_clock():
    exam = event()
    assert exam.status(NOW) == "planned"
    assert lead_time_text(exam, NOW) == "in 29 days"
    assert lead_time_text(exam, exam.start - timedelta(hours=5)) == "in 5 hours"
    assert lead_time_text(exam, exam.start - timedelta(minutes=1)) == "in 1 minute"
    assert lead_time_text(exam, exam.start) == "running now"
    assert exam.status(exam.end) == "done" and lead_time_text(exam, exam.end) == "ended"
    assert event(cancelled=True).status(NOW) == "cancelled"
    assert days_until(exam.start, exam.start - timedelta(hours=36)) == 1.5


def test_next_event_skips_cancelled_and_ended_ones():
    first = event(id=1, start=NOW + timedelta(days=1), end=NOW + timedelta(days=1, hours=1))
    cancelled = event(
        id=2, start=NOW + timedelta(hours=1), end=NOW + timedelta(hours=2), cancelled=True
    )
    ended = event(id=3, start=NOW - timedelta(hours=3), end=NOW - timedelta(hours=1))
    assert next_event([ended, cancelled, first], NOW) == first
    assert next_event([ended, cancelled], NOW) is None


def test_status_document_of_upcoming_events_has_no_notes_or_contact():
    doc = to_json(
        events_section(
            [event(notes="secret", contact="phone", checklist=frozenset({"image"}))], NOW
        ).upcoming
    )
    assert doc[0]["checklist"] == {
        "resources": False,
        "image": True,
        "prewarm": False,
        "support": False,
        "complete": False,
    }
    assert "notes" not in doc[0] and "contact" not in doc[0]
    assert doc[0]["days_until"] == 29.8


def test_the_api_shows_notes_only_to_admins_and_actual_only_after_the_end():
    exam = event(notes="secret", actual=Actual(9, 12, 8))
    public = event_document(exam, NOW, private=False)
    assert "notes" not in public and public["actual"] is None
    after = event_document(exam, exam.end, private=True)
    assert after["notes"] == "secret" and after["status"] == "done"
    assert after["actual"] == {"peak_concurrent_servers": 9, "sessions": 12, "users": 8}


def test_sizing_hint_uses_the_peak_and_the_last_past_event_of_the_same_kind():
    old = event(
        id=5,
        start=NOW - timedelta(days=60),
        end=NOW - timedelta(days=60) + timedelta(hours=2),
        title="Old exam",
        expected_attendees=100,
        actual=Actual(70, 90, 80),
    )
    workshop = event(
        id=6,
        kind="workshop",
        start=NOW - timedelta(days=10),
        end=NOW - timedelta(days=10) + timedelta(hours=2),
        actual=Actual(5, 5, 5),
    )
    hint = sizing_hint(event(), 40, [old, workshop, event()], NOW)
    assert hint.similar_title == "Old exam" and hint.similar_actual == Actual(70, 90, 80)
    assert hint.lines == [
        "Peak concurrent servers in the last 90 days: 40.",
        "120 expected is 80 more than that peak.",
        f"Last event of this kind (Old exam, {old.start:%Y-%m-%d}): 100 expected, 80 came, "
        "peak 70 servers.",
    ]
    assert sizing_hint(event(), None, [], NOW).lines == ["No servers ran in the last 90 days."]


def test_scaler_lines_are_checked_and_filled_in():
    assert check_scaler_lines(["min_capacity: {expected_attendees}", "min_placeholders: 3"])
    for bad in (["{owner}"], ["a\nb"], ["{expected_attendees"]):
        with pytest.raises(ValueError):
            check_scaler_lines(bad)
    text = feed_description(
        event(profile="big"), ["min_capacity: {expected_attendees}", "kind: {kind}"], 30
    )
    assert text.splitlines()[-2:] == ["min_capacity: 120", "kind: exam"]
    assert 'profile_or_image: "big"' in text


START = datetime(2027, 3, 3, 8, 0, tzinfo=UTC)
END = START + timedelta(hours=2)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_window_actual_counts_overlapping_sessions_users_and_peak():
    records = [
        WindowSession(1, at(-30), at(30)),  # overlaps the start
        WindowSession(2, at(10), at(50)),
        WindowSession(2, at(60), at(90)),  # the same user again
        WindowSession(3, at(20), None),  # still running
        WindowSession(4, at(-90), at(-10)),  # before the window
        WindowSession(5, at(120), at(150)),  # starts at the end: outside
        WindowSession(6, at(50), at(70)),  # starts when user 2's first ends
    ]
    actual = window_actual(records, START, END, now=at(200))
    assert actual == Actual(peak_concurrent_servers=3, sessions=5, users=4)


def test_window_actual_with_nothing_in_the_window_is_zero():
    assert window_actual([], START, END, at(200)) == Actual(0, 0, 0)
    assert window_actual([WindowSession(1, at(-60), at(0))], START, END, at(200)) == Actual(0, 0, 0)
